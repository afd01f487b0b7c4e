"""benchmark.py end to end, run as a user runs it: a subprocess, the stand-in
server, real ab, a throwaway database."""
import json
import socket
import sqlite3
import tempfile
import unittest
from pathlib import Path

from tests.cli import demo_args, run_benchmark
from tests.support import free_port, requires_ab
from tests.test_zz_leftovers import tagged_processes

HOSTILE = "it's \"quoted\"; DROP TABLE benchmark_runs; --\nline two `uname` $(id) ünïcødé ✓"


@requires_ab
class DemoRun(unittest.TestCase):
    """The first done-when of issue 2: seven ok results, a real PUT."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.db = Path(cls.tmp.name) / "results.db"
        cls.dumps = Path(cls.tmp.name) / "dumps"
        cls.dumps.mkdir()
        cls.done = run_benchmark(*demo_args(cls.db, "--json", "--notes", HOSTILE,
                                            "--server-arg=--dump-on-exit", f"--server-arg={cls.dumps}"))
        cls.report = json.loads(cls.done.stdout) if cls.done.stdout.strip().startswith("{") else None

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_exit_zero_with_seven_ok_results(self):
        self.assertEqual(self.done.returncode, 0, self.done.stderr[-2000:])
        self.assertEqual(self.report["status"], "complete")
        self.assertEqual([r["status"] for r in self.report["results"]], ["ok"] * 7)

    def test_result_objects_carry_the_contract_fields(self):
        fields = {"category", "endpoint", "method", "requests", "concurrency", "complete_requests",
                  "failed_requests", "non_2xx", "requests_per_sec", "time_per_request_ms", "p50_ms",
                  "p95_ms", "p99_ms", "status", "error"}
        self.assertEqual(len(self.report["results"]), 7)
        for result in self.report["results"]:
            self.assertLessEqual(fields, set(result))
            self.assertEqual(result["requests"], 300)
            self.assertEqual(result["concurrency"], 4)
            self.assertEqual(result["complete_requests"], 300)
            self.assertGreater(result["requests_per_sec"], 0)
            self.assertLessEqual(result["p50_ms"], result["p95_ms"])
            self.assertLessEqual(result["p95_ms"], result["p99_ms"])
        self.assertIn("comparison", self.report)
        self.assertIsNone(self.report["comparison"])  # first run in this database

    def test_endpoint_names_match_the_bash_tool(self):
        self.assertEqual([(r["category"], r["endpoint"]) for r in self.report["results"]], [
            ("static", "/static/style.css"), ("static", "/static/favicon.ico"),
            ("runtime", "/hello"), ("runtime", "/user/42"), ("runtime", "/echo"),
            ("fs_read", "GET /__dev/api/files"),
            ("fs_write", "PUT /__dev/api/file?name=static/bench.txt")])

    def test_put_is_a_real_put_that_stores_versions(self):
        put = self.report["results"][-1]
        self.assertEqual(put["method"], "PUT")
        self.assertEqual(put["non_2xx"], 0)
        dumps = [json.loads(p.read_text()) for p in self.dumps.glob("standin-*.json")]
        dev = [d for d in dumps if d["dev"]]
        self.assertEqual(len(dev), 1, dumps)
        versions = dev[0]["files"]["static/bench.txt"]["versions"]
        # 300 measured PUTs plus the warmup ones, each a new version.
        self.assertGreaterEqual(versions, 300)

    def test_notes_come_back_unchanged(self):
        self.assertEqual(self.report["notes"], HOSTILE)
        with sqlite3.connect(self.db) as conn:
            self.assertEqual(conn.execute("SELECT notes FROM benchmark_runs").fetchone()[0], HOSTILE)
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        self.assertLessEqual({"benchmark_runs", "benchmark_results", "benchmark_samples"}, tables)

    def test_rows_are_stored_with_new_columns(self):
        with sqlite3.connect(self.db) as conn:
            conn.row_factory = sqlite3.Row
            run = conn.execute("SELECT * FROM benchmark_runs").fetchone()
            rows = conn.execute("SELECT * FROM benchmark_results ORDER BY result_id").fetchall()
            version = conn.execute("PRAGMA user_version").fetchone()[0]
        self.assertGreaterEqual(version, 1)
        self.assertEqual((run["status"], run["pod"]), ("complete", "demo"))
        self.assertEqual(len(rows), 7)
        for row in rows:
            self.assertEqual(row["status"], "ok")
            self.assertEqual(row["complete_requests"], 300)
            self.assertIsNotNone(row["p99_ms"])
            self.assertAlmostEqual(row["time_per_request"], 4 * 1000 * row["time_taken"] / 300, delta=0.01)

    def test_progress_goes_to_stderr(self):
        self.assertIn("[7/7]", self.done.stderr)
        self.assertIn("Completed", self.done.stderr)


@requires_ab
class SecondRunCompares(unittest.TestCase):
    def test_markdown_report_compares_with_the_comparable_run(self):
        with tempfile.TemporaryDirectory() as tmp:
            db = Path(tmp) / "r.db"
            first = run_benchmark(*demo_args(db, "--only", "runtime", requests=200))
            self.assertEqual(first.returncode, 0, first.stderr[-2000:])
            # A run with other parameters is not the baseline.
            other = run_benchmark(*demo_args(db, "--only", "runtime", requests=250))
            self.assertEqual(other.returncode, 0, other.stderr[-2000:])
            second = run_benchmark(*demo_args(db, "--only", "runtime", requests=200))
            self.assertEqual(second.returncode, 0, second.stderr[-2000:])
            out = second.stdout
            self.assertIn("# HBF benchmark run 3", out)
            self.assertIn("Compared with run 1", out)
            self.assertIn("| runtime | /hello |", out)
            self.assertIn("**Verdict:**", out.strip().splitlines()[-1])


@requires_ab
class CrashRun(unittest.TestCase):
    """The second done-when of issue 2: a SIGSEGV mid-endpoint. What the
    status and error of such a run are is tests/test_results.py's; here the
    crash happens for real."""

    def test_crash_is_stored_reported_first_and_the_run_goes_on(self):
        with tempfile.TemporaryDirectory() as tmp:
            db = Path(tmp) / "r.db"
            done = run_benchmark(*demo_args(db, "--server-arg=--crash-on",
                                            "--server-arg=/__dev/api/files",
                                            "--server-arg=--crash-after", "--server-arg=50"))
            self.assertEqual(done.returncode, 1, done.stderr[-3000:])
            with sqlite3.connect(db) as conn:
                conn.row_factory = sqlite3.Row
                by_name = {r["endpoint"]: r for r in conn.execute("SELECT * FROM benchmark_results")}
                run_status = conn.execute("SELECT status FROM benchmark_runs").fetchone()[0]
        self.assertEqual(run_status, "partial")
        files = by_name["GET /__dev/api/files"]
        self.assertEqual((files["status"], files["crash_signal"]), ("crashed", "SIGSEGV"))
        self.assertIn("SIGSEGV", files["error"])
        # The 50th request to it died (the warmup's 10 among them): fewer than 50 completed, not none.
        self.assertGreater(files["complete_requests"], 20)
        self.assertLess(files["complete_requests"], 50)
        self.assertTrue(files["server_log_tail"].strip())
        # The dev server was restarted for the endpoint after it.
        put = by_name["PUT /__dev/api/file?name=static/bench.txt"]
        self.assertEqual((put["status"], put["complete_requests"]), ("ok", 300))
        # The report puts the crash at the top, and the verdict names it.
        head = "\n".join(done.stdout.splitlines()[:6])
        self.assertIn("PARTIAL", head)
        self.assertIn("GET /__dev/api/files", head)
        self.assertIn("SIGSEGV", head)
        self.assertIn("SIGSEGV", done.stdout.strip().splitlines()[-1])
        self.assertEqual(tagged_processes(), [])


@requires_ab
class BusyPort(unittest.TestCase):
    def test_a_taken_port_is_never_benchmarked(self):
        with socket.socket() as squatter, tempfile.TemporaryDirectory() as tmp:
            squatter.bind(("127.0.0.1", 0))
            squatter.listen()
            port = squatter.getsockname()[1]
            done = run_benchmark("--demo", "--requests", 50, "--concurrency", 2, "--only", "/hello",
                                 "--db", Path(tmp) / "r.db", "--port", port, "--dev-port", free_port(),
                                 "--json")
        self.assertEqual(done.returncode, 0, done.stderr[-2000:])
        self.assertIn(f"port {port} is in use", done.stderr)
        self.assertEqual(json.loads(done.stdout)["results"][0]["status"], "ok")


class BadInput(unittest.TestCase):
    """One line, exit 2, before anything starts, nothing written."""

    CASES = [
        (["--requests", "0"], "--requests"),
        (["--requests", "-5"], "--requests"),
        (["--requests", "lots"], "--requests"),
        (["--concurrency", "0"], "--concurrency"),
        (["--requests", "10", "--concurrency", "20"], "greater than --requests"),
        (["--concurrency", "1,x"], "--concurrency"),
        (["--build-mode", "fast"], "--build-mode"),
        (["--pod", "Bad;Pod"], "pod name"),
        (["--pod", "../x"], "pod name"),
        (["--port", "0"], "--port"),
        (["--port", "70000"], "--port"),
        (["--dev-port", "-1"], "--dev-port"),
        (["--notes", "x" * 10_001], "--notes"),
        (["--workspace", "/"], "--workspace"),
        (["--repeat", "0"], "--repeat"),
        (["--request-timeout", "0"], "--request-timeout"),
        (["--url", "http://192.0.2.1:80"], "loopback"),
        (["--baseline", "nope"], "--baseline"),
        (["--suite", "/nonexistent/suite.toml"], "does not exist"),
        (["--only", "nothing-matches-this"], "matches no endpoint"),
    ]

    def test_each_bad_input_is_refused_in_one_line(self):
        with tempfile.TemporaryDirectory() as tmp:
            db = Path(tmp) / "sub" / "r.db"
            for args, words in self.CASES:
                with self.subTest(args=args[:2]):
                    target = [] if "--url" in args else ["--demo"]
                    done = run_benchmark(*target, "--db", db, *args, timeout=30)
                    self.assertEqual(done.returncode, 2, done.stderr)
                    lines = done.stderr.strip().splitlines()
                    self.assertEqual(len(lines), 1, done.stderr)
                    self.assertIn(words, lines[0])
                    self.assertEqual(done.stdout, "")
            # Nothing was written: not even the database file or its folder.
            self.assertFalse(db.parent.exists())

    def test_help_exits_zero(self):
        done = run_benchmark("--help")
        self.assertEqual(done.returncode, 0)
        self.assertIn("--requests", done.stdout)


if __name__ == "__main__":
    unittest.main()
