"""Load engines through benchmark.py: the built-in Python engine, wrk, and
the rule that runs of different engines are never compared silently."""
import json
import os
import shutil
import tempfile
import unittest
from pathlib import Path

from tests.cli import demo_args, run_benchmark
from tests.support import TempDirTestCase, requires_ab


class PythonEngine(TempDirTestCase):
    def test_full_suite_with_the_python_engine(self):
        done = run_benchmark(*demo_args(self.db, "--engine", "python", "--json", requests=200))
        self.assertEqual(done.returncode, 0, done.stderr[-2000:])
        report = json.loads(done.stdout)
        self.assertEqual(report["engine"], "python")
        self.assertTrue(report["engine_version"])
        self.assertEqual(len(report["results"]), 7)  # the whole default suite, each checked below
        for result in report["results"]:
            self.assertEqual(result["status"], "ok", result)
            self.assertEqual(result["engine"], "python")
            self.assertEqual(result["complete_requests"], 200)
            self.assertLessEqual(result["p50_ms"], result["p99_ms"])
            self.assertLessEqual(result["p99_ms"], result["max_ms"])

    def test_auto_without_ab_says_so_and_uses_python(self):
        empty = self.tmp / "bin"
        empty.mkdir()
        done = run_benchmark(*demo_args(self.db, "--only", "/hello", "--json", requests=50,
                                        concurrency=2), env=dict(os.environ, PATH=str(empty)))
        self.assertEqual(done.returncode, 0, done.stderr[-2000:])
        self.assertEqual(done.stderr.count("built-in Python load engine"), 1)
        self.assertIn("apt-get install apache2-utils", done.stderr)
        self.assertEqual(json.loads(done.stdout)["engine"], "python")

    def test_crash_path_and_non_2xx_with_the_python_engine(self):
        suite = self.tmp / "suite.toml"
        suite.write_text('[[endpoints]]\ncategory = "runtime"\npath = "/hello"\n'
                         '[[endpoints]]\ncategory = "static"\npath = "/static/nope.css"\n')
        done = run_benchmark(*demo_args(self.db, "--engine", "python", "--suite", suite, "--json",
                                        "--warmup", 0, "--server-arg=--crash-on", "--server-arg=/hello",
                                        "--server-arg=--crash-after", "--server-arg=60",
                                        requests=200, concurrency=2))
        self.assertEqual(done.returncode, 1, done.stderr[-2000:])
        hello, nope = json.loads(done.stdout)["results"]
        self.assertEqual((hello["status"], hello["crash_signal"]), ("crashed", "SIGSEGV"))
        self.assertGreater(hello["complete_requests"], 40)
        self.assertLess(hello["complete_requests"], 200)
        self.assertEqual(nope["status"], "failed")
        self.assertEqual(nope["non_2xx"], 200)
        # The restarted server's own words about this endpoint, and only them.
        self.assertEqual(nope["server_log_lines"], 200)
        self.assertIn("404", nope["server_errors"][0]["line"])

    def test_open_loop_rate(self):
        done = run_benchmark(*demo_args(self.db, "--rate", 200, "--only", "/hello", "--json",
                                        requests=200, concurrency=4))
        self.assertEqual(done.returncode, 0, done.stderr[-2000:])
        result = json.loads(done.stdout)["results"][0]
        self.assertEqual(result["engine"], "python")
        self.assertAlmostEqual(result["requests_per_sec"], 200, delta=40)


@requires_ab
class EnginesAreNotMixed(unittest.TestCase):
    def test_a_run_is_not_compared_with_another_engines_run(self):
        with tempfile.TemporaryDirectory() as tmp:
            db = Path(tmp) / "r.db"
            first = run_benchmark(*demo_args(db, "--only", "/hello", "--engine", "ab", requests=60, concurrency=2))
            self.assertEqual(first.returncode, 0, first.stderr[-2000:])
            # The automatic baseline is never a run of another engine.
            auto = run_benchmark(*demo_args(db, "--only", "/hello", "--engine", "python", "--json",
                                            requests=60, concurrency=2))
            self.assertIsNone(json.loads(auto.stdout)["comparison"])
            # Asking for it: refused with a note, unless --force.
            asked = run_benchmark(*demo_args(db, "--only", "/hello", "--engine", "python", "--json",
                                             "--baseline", 1, requests=60, concurrency=2))
            report = json.loads(asked.stdout)
            self.assertIsNone(report["comparison"])
            self.assertTrue(any("measured with ab" in n for n in report["comparison_notes"]))
            forced = run_benchmark(*demo_args(db, "--only", "/hello", "--engine", "python", "--json",
                                              "--baseline", 1, "--force", requests=60, concurrency=2))
            self.assertIn("/hello", json.loads(forced.stdout)["comparison"])


@unittest.skipUnless(shutil.which("wrk"), "wrk is not installed")
class WrkEngine(unittest.TestCase):
    def test_wrk_measures_get_and_put(self):
        with tempfile.TemporaryDirectory() as tmp:
            done = run_benchmark(*demo_args(Path(tmp) / "r.db", "--engine", "wrk", "--json",
                                            "--only", "/hello", "--only", "PUT*", requests=300))
        self.assertEqual(done.returncode, 0, done.stderr[-2000:])
        report = json.loads(done.stdout)
        self.assertEqual(report["engine"], "wrk")
        self.assertEqual(len(report["results"]), 2)
        for result in report["results"]:
            self.assertEqual(result["status"], "ok", result)
            self.assertGreater(result["requests_per_sec"], 0)
            self.assertIsNotNone(result["p99_ms"])

    def test_a_head_endpoint_is_refused_before_anything_starts(self):
        with tempfile.TemporaryDirectory() as tmp:
            suite = Path(tmp) / "suite.toml"
            # A GET first: the refusal must come before any endpoint is measured.
            suite.write_text('[[endpoints]]\ncategory = "runtime"\npath = "/hello"\n'
                             '[[endpoints]]\ncategory = "runtime"\nmethod = "HEAD"\npath = "/hello"\n')
            db = Path(tmp) / "r.db"
            done = run_benchmark(*demo_args(db, "--engine", "wrk", "--suite", suite,
                                            requests=20, concurrency=2))
            self.assertEqual(done.returncode, 2, done.stderr)
            lines = done.stderr.strip().splitlines()
            self.assertEqual(len(lines), 1, done.stderr)
            self.assertIn("'HEAD /hello'", lines[0])
            self.assertIn("wrk cannot measure HEAD", lines[0])
            self.assertEqual(done.stdout, "")
            self.assertFalse(db.exists())  # no run written
            self.assertFalse((Path(tmp) / "logs").exists())  # no server started


if __name__ == "__main__":
    unittest.main()
