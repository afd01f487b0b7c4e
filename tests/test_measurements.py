"""Numbers you can trust: repeats, warmup, sweeps, server resources,
environment, verdicts (issue 4). End-to-end runs against the stand-in; the
comparison logic on fixed rows is tests/test_compare.py."""
import json
import sqlite3
import statistics
import tempfile
import unittest
from pathlib import Path

from tests.cli import demo_args, run_benchmark
from tests.support import requires_ab


def rows(db, sql, params=()):
    with sqlite3.connect(db) as conn:
        return conn.execute(sql, params).fetchall()


@requires_ab
class RepeatsWarmupResources(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.db = Path(cls.tmp.name) / "r.db"
        cls.dumps = Path(cls.tmp.name) / "dumps"
        done = run_benchmark(*demo_args(cls.db, "--json", "--repeat", 3, "--warmup", 7,
                                        "--only", "/hello", "--only", "PUT*",
                                        "--server-arg=--dump-on-exit", f"--server-arg={cls.dumps}",
                                        requests=120, concurrency=3))
        assert done.returncode == 0, done.stderr[-2000:]
        cls.report = json.loads(done.stdout)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def results(self) -> list[dict]:
        """Both results, each with its 3 samples: a loop over them checks both."""
        results = self.report["results"]
        self.assertEqual([(r["endpoint"], len(r["samples"])) for r in results],
                         [("/hello", 3), ("PUT /__dev/api/file?name=static/bench.txt", 3)])
        return results

    def test_every_sample_is_stored_and_the_row_holds_the_median(self):
        for result in self.results():
            samples = result["samples"]
            self.assertEqual(len(samples), 3)
            rates = [s["requests_per_sec"] for s in samples]
            self.assertAlmostEqual(result["requests_per_sec"], statistics.median(rates))
            self.assertEqual((result["rps_min"], result["rps_max"]), (min(rates), max(rates)))
        stored = rows(self.db, "SELECT r.endpoint, count(s.sample_id) FROM benchmark_results r"
                               " JOIN benchmark_samples s USING (result_id) GROUP BY r.result_id")
        self.assertEqual([n for _, n in stored], [3, 3])

    def test_warmup_requests_are_sent_but_never_stored(self):
        for result in self.results():
            self.assertEqual(result["warmup_requests"], 7)
            self.assertEqual(result["complete_requests"], 120)
        served = sum(json.loads(p.read_text())["requests_served"] for p in self.dumps.glob("*.json"))
        # /hello and PUT: 7 warmup + 3 x 120 measured each, plus the readiness checks.
        self.assertGreaterEqual(served, 2 * (7 + 360))
        self.assertLess(served, 2 * (7 + 360) + 50)

    def test_server_resources_and_client_load(self):
        for result in self.results():
            self.assertGreater(result["server_cpu_us_per_req"], 0)
            self.assertGreater(result["server_rss_kb_peak"], 1000)
            self.assertIsInstance(result["server_rss_kb_growth"], int)
            self.assertIn(result["client_bound"], (True, False))
            self.assertIsInstance(result["possible_leak"], bool)
            for sample in result["samples"]:
                self.assertIsNotNone(sample["server_cpu_us_per_req"])
                self.assertIsNotNone(sample["client_cpu_pct"])

    def test_percentiles_come_from_the_csv(self):
        for result in self.results():
            for field in ("p50_ms", "p90_ms", "p95_ms", "p99_ms", "max_ms"):
                self.assertIsNotNone(result[field])
            self.assertLessEqual(result["p50_ms"], result["p90_ms"])
            self.assertLessEqual(result["p99_ms"], result["max_ms"])
        sources = rows(self.db, "SELECT DISTINCT percentiles_source FROM benchmark_results")
        self.assertEqual(sources, [("csv",)])

    def test_environment_is_recorded(self):
        env = self.report["environment"]
        for key in ("hostname", "cpu_model", "cpu_count", "load_average", "python", "engine_version"):
            self.assertIn(key, env)
        self.assertEqual(env["engine"], "ab")


@requires_ab
class ConcurrencySweep(unittest.TestCase):
    def test_a_row_per_level_and_a_scaling_table(self):
        with tempfile.TemporaryDirectory() as tmp:
            db = Path(tmp) / "r.db"
            done = run_benchmark(*demo_args(db, "--concurrency", "1,4", "--only", "runtime",
                                            requests=80))
            self.assertEqual(done.returncode, 0, done.stderr[-2000:])
            self.assertIn("## Scaling", done.stdout)
            self.assertIn("| /hello | ", done.stdout.split("## Scaling")[1])
            stored = rows(db, "SELECT endpoint, concurrency FROM benchmark_results ORDER BY result_id")
            self.assertEqual(stored, [("/hello", 1), ("/hello", 4), ("/user/42", 1), ("/user/42", 4),
                                      ("/echo", 1), ("/echo", 4)])
            self.assertEqual(rows(db, "SELECT concurrency FROM benchmark_runs"), [("1,4",)])
            again = run_benchmark(*demo_args(db, "--concurrency", "1,4", "--only", "runtime",
                                             "--json", requests=80))
            comparison = json.loads(again.stdout)["comparison"]
            self.assertIn("/hello @c=4", comparison)
            self.assertEqual(len(comparison), 6)


@requires_ab
class Verdicts(unittest.TestCase):
    def test_a_large_slowdown_is_called_and_fails_the_run_on_request(self):
        with tempfile.TemporaryDirectory() as tmp:
            db = Path(tmp) / "r.db"
            # 5 v 5 samples: Mann-Whitney can then reach p < 0.05 even when one
            # baseline sample is slowed by a busy machine (3 v 3 falls back to
            # Welch, which one outlier can push over 0.05).
            base = run_benchmark(*demo_args(db, "--repeat", 5, "--only", "/hello", requests=60,
                                            concurrency=1))
            self.assertEqual(base.returncode, 0, base.stderr[-2000:])
            slow = run_benchmark(*demo_args(db, "--repeat", 5, "--only", "/hello", "--json",
                                            "--fail-on-regression", "--server-arg=--delay-ms",
                                            "--server-arg=8", requests=60, concurrency=1))
            self.assertEqual(slow.returncode, 1, slow.stderr[-2000:])
            self.assertIn("regression beyond 5%", slow.stderr)
            entry = json.loads(slow.stdout)["comparison"]["/hello"]
            self.assertEqual(entry["verdict"], "regressed")
            self.assertLess(entry["change_pct"], -50)
            self.assertIn(entry["method"], ("mann-whitney", "welch t-test"))
            # --baseline names the run to compare with, here one of the very same
            # binary and flags: whatever moved, nothing is called.
            same = run_benchmark(*demo_args(db, "--only", "/hello", "--json", "--baseline", "1",
                                            requests=60, concurrency=1))
            self.assertEqual(json.loads(same.stdout)["baseline_run_id"], 1)
            entry = json.loads(same.stdout)["comparison"]["/hello"]
            self.assertEqual(entry["verdict"], "no significant change")
            self.assertTrue(entry["explanation"].startswith("same binary as run 1: any difference is "
                                                            "the machine's noise"), entry["explanation"])


if __name__ == "__main__":
    unittest.main()
