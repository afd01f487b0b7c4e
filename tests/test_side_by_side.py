"""--side-by-side: a baseline's servers and the candidate's in one run, their
samples alternating (ABBA), stored as two runs that name each other and
compared with each other. End-to-end against the stand-in (the paired rules on
fixed rows are in tests/test_compare.py)."""
import json
import os
import re
import signal
import sqlite3
import unittest

from tests.cli import LiveBenchmark, demo_args, run_benchmark, run_show
from tests.support import TempDirTestCase, requires_ab

# A candidate that burns 2 ms of CPU more per request than the baseline: a
# slowdown of about 3x on the stand-in, far outside any noise.
SLOWER = ["--baseline-server-arg=", "--server-arg=--work-us=2000"]


def runs(db):
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT run_id, side, paired_with, status, target FROM benchmark_runs"
                            " ORDER BY run_id").fetchall()


@requires_ab
class SlowerCandidate(TempDirTestCase):
    def test_a_slower_candidate_is_called_regressed_against_its_interleaved_baseline(self):
        done = run_benchmark(*demo_args(self.db, "--json", "--repeat", 5, "--only", "/hello",
                                        "--warmup", 5, *SLOWER, requests=200, concurrency=2))
        self.assertEqual(done.returncode, 0, done.stderr[-2000:])
        report = json.loads(done.stdout)
        self.assertEqual((report["run_id"], report["side"], report["paired_with"]), (2, "candidate", 1))
        self.assertEqual(report["baseline_run_id"], 1)
        verdict = report["comparison"]["/hello"]
        self.assertEqual(verdict["verdict"], "regressed", verdict)
        self.assertLess(verdict["change_pct"], -30)
        self.assertEqual(len(report["results"][0]["samples"]), 5)
        self.assertTrue(any("alternated their samples" in n for n in report["comparison_notes"]))
        self.assertEqual(runs(self.db), [
            (1, "baseline", 2, "complete", "stand-in: lib/standin.py"),
            (2, "candidate", 1, "complete", "stand-in: lib/standin.py --work-us=2000")])
        with sqlite3.connect(self.db) as conn:
            counts = conn.execute("SELECT r.run_id, count(*) FROM benchmark_samples s JOIN"
                                  " benchmark_results r USING (result_id) GROUP BY r.run_id").fetchall()
        self.assertEqual(counts, [(1, 5), (2, 5)])

        # Samples alternate baseline, candidate, candidate, baseline, ...
        # (ab reports progress past 150 requests: those lines show the order)
        order = []
        for line in done.stderr.splitlines():
            found = re.match(r"\s+(baseline|candidate) sample (\d)/5", line)
            if found and (found[1][0] + found[2]) not in order:
                order.append(found[1][0] + found[2])
        self.assertEqual(order, ["b1", "c1", "c2", "b2", "b3", "c3", "c4", "b4", "b5", "c5"])
        # ... each from a server process of its own (the log notes every start).
        for run_id in (1, 2):
            log, = (self.tmp / "logs").glob(f"run{run_id}-*-normal.log")
            self.assertEqual(log.read_text().count("--- hbf-bench: starting"), 5)

        # The same comparison later, and --fail-on-regression acts on it.
        shown = run_show("--db", self.db, "--run", "2", "--json")
        self.assertEqual(shown.returncode, 0, shown.stderr)
        self.assertEqual(json.loads(shown.stdout)["comparison"]["/hello"]["verdict"], "regressed")
        compared = run_show("--db", self.db, "--compare", "1", "2", "--json")
        self.assertEqual(compared.returncode, 0, compared.stderr)
        endpoint, = json.loads(compared.stdout)["endpoints"]
        self.assertEqual((endpoint["verdict"], endpoint["method"]), ("regressed", "paired t-test"))
        listed = run_show("--db", self.db)
        self.assertIn("\\[baseline of 2\\]", listed.stdout)
        self.assertIn("\\[side by side with 1\\]", listed.stdout)

        # An ordinary run afterwards never takes the baseline side (another
        # binary, perhaps) as its automatic baseline: it takes the candidate.
        later = run_benchmark(*demo_args(self.db, "--json", "--repeat", 5, "--only", "/hello",
                                         "--warmup", 5, requests=200, concurrency=2))
        self.assertEqual(later.returncode, 0, later.stderr[-2000:])
        self.assertEqual(json.loads(later.stdout)["baseline_run_id"], 2)

    def test_fail_on_regression_exits_1(self):
        done = run_benchmark(*demo_args(self.db, "--repeat", 5, "--only", "/hello", "--warmup", 5,
                                        "--fail-on-regression", *SLOWER, requests=100, concurrency=2))
        self.assertEqual(done.returncode, 1, done.stderr[-2000:])
        self.assertIn("regression beyond 5%: /hello", done.stderr)
        self.assertIn("| Side by side | candidate; samples alternated with run 1 (baseline) |", done.stdout)


@requires_ab
class LatencyTail(TempDirTestCase):
    def test_a_longer_tail_is_called_on_p99_while_req_s_holds(self):
        # One request in 80 waits 60 ms: the slowest 1% become the slow ones
        # (p99 several times longer) while the other nine connections keep the
        # server busy, so req/s barely moves (a few percent on a quiet machine;
        # on a loaded one the run's last slow request can stretch it by 10-20%,
        # hence the threshold). --fail-on p99 makes it fail the run.
        done = run_benchmark(*demo_args(self.db, "--json", "--repeat", 5, "--only", "/hello",
                                        "--threshold", 25, "--fail-on", "p99",
                                        "--baseline-server-arg=", "--server-arg=--slow-every=80",
                                        "--server-arg=--slow-ms=60", requests=1000, concurrency=10))
        self.assertEqual(done.returncode, 1, done.stderr[-2000:])
        self.assertIn("regression beyond 25%: /hello p99 +", done.stderr)
        entry = json.loads(done.stdout)["comparison"]["/hello"]
        p99 = entry["metrics"]["p99_ms"]
        self.assertEqual((p99["verdict"], p99["method"]), ("regressed", "paired t-test"), p99)
        self.assertGreater(p99["change_pct"], 30)
        self.assertNotEqual(entry["verdict"], "regressed", entry["explanation"])  # req/s
        self.assertEqual(entry["verdict"], entry["metrics"]["requests_per_sec"]["verdict"])
        self.assertIn("p99 regressed", json.loads(done.stdout)["verdict"])


@requires_ab
class Faults(TempDirTestCase):
    def test_a_crash_on_one_side_marks_that_run_and_keeps_the_other(self):
        done = run_benchmark(*demo_args(self.db, "--json", "--repeat", 3, "--only", "/hello",
                                        "--only", "/static/style.css", "--baseline-server-arg=",
                                        "--server-arg=--crash-on=/hello", "--server-arg=--crash-after=50",
                                        requests=40, concurrency=2))
        self.assertEqual(done.returncode, 1, done.stderr[-2000:])
        report = json.loads(done.stdout)
        self.assertEqual({r["endpoint"]: r["status"] for r in report["results"]},
                         {"/hello": "crashed", "/static/style.css": "ok"})
        self.assertIn("not compared", report["comparison"]["/hello"]["explanation"])
        self.assertEqual([(side, status) for _, side, _, status, _ in runs(self.db)],
                         [("baseline", "complete"), ("candidate", "partial")])
        self.assertIn("(candidate): crashed", done.stderr)
        self.assertIn("candidate normal server killed by SIGSEGV", done.stderr)

    def test_ctrl_c_marks_both_runs_interrupted_and_stops_all_four_servers(self):
        live = LiveBenchmark(*demo_args(self.db, "--repeat", 3, "--side-by-side",
                                        "--server-arg=--delay-ms=5", requests=300, concurrency=2))
        try:
            live.wait_for("candidate sample 1/3")
            live.signal(signal.SIGINT)
            self.assertEqual(live.finish(), 130, live.stderr[-2000:])
        finally:
            live.kill()
        self.assertEqual([(side, status) for _, side, _, status, _ in runs(self.db)],
                         [("baseline", "interrupted"), ("candidate", "interrupted")])
        ports = re.search(r"starting (.*)", live.stderr)[1]
        started = re.findall(r"server on port (\d+)", ports)
        self.assertEqual(len(started), 4, ports)
        # All four are gone once benchmark.py has exited: the baseline side's too.
        from tests.test_zz_leftovers import tagged_processes
        left = [p for p in tagged_processes() if "standin.py" in p
                and any(f"--port {port} " in p + " " for port in started)]
        for line in left:  # one left running fails here, not in every later test
            os.kill(int(line.split()[1].rstrip(":")), signal.SIGKILL)
        self.assertEqual(left, [])


class Refusals(TempDirTestCase):
    def refused(self, *extra):
        done = run_benchmark(*demo_args(self.db, *extra))
        self.assertEqual(done.returncode, 2, done.stderr)
        self.assertEqual(len(done.stderr.strip().splitlines()), 1, done.stderr)
        self.assertFalse(self.db.exists())
        return done.stderr

    def test_no_url(self):
        done = run_benchmark("--url", "http://127.0.0.1:9", "--side-by-side", "--db", self.db)
        self.assertEqual(done.returncode, 2)
        self.assertIn("cannot measure --url", done.stderr)
        self.assertFalse(self.db.exists())

    def test_too_few_pairs(self):
        self.assertIn("needs --repeat 3 or more", self.refused("--side-by-side", "--repeat", "2"))

    def test_no_stored_baseline_as_well(self):
        self.assertIn("drop --baseline RUN", self.refused("--side-by-side", "--baseline", "1"))

    def test_baseline_binary_must_be_executable(self):
        self.assertIn("--baseline-binary /nonexistent/hbf: not an executable file",
                      self.refused("--baseline-binary", "/nonexistent/hbf"))


if __name__ == "__main__":
    unittest.main()
