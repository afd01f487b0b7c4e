"""--pin end to end: the servers' every thread on the server CPUs, benchmark.py
(which runs the load generator) on the others, `pinned` stored; one CPU
falls back to unpinned with one line; steal and other load recorded per
sample and noted beside the verdicts they may have spoiled."""
import json
import os
import sqlite3
import subprocess
import sys
import unittest
from pathlib import Path

from lib.machine import cpus, disturbance
from lib.show import report
from lib.db import open_db
from tests.cli import BENCHMARK, LiveBenchmark, demo_args, run_benchmark
from tests.support import REPO, TempDirTestCase, wait_until

ALLOWED = os.sched_getaffinity(0)


def allowed_list(pid: int | str, tid: int | str | None = None) -> frozenset[int] | None:
    """Cpus_allowed_list of a process (or one of its threads), None once it is gone."""
    path = f"/proc/{pid}/task/{tid}/status" if tid else f"/proc/{pid}/status"
    try:
        with open(path) as status:
            for line in status:
                if line.startswith("Cpus_allowed_list:"):
                    return cpus.parse_cpu_list(line.split(":", 1)[1])
    except OSError:
        return None
    return None


def standin_pid(port: int) -> int | None:
    """The stand-in listening on `port` (found by its command line)."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if any(a.endswith(b"standin.py") for a in argv) and b"--port" in argv \
                and argv[argv.index(b"--port") + 1] == str(port).encode():
            return int(entry)
    return None


@unittest.skipUnless(len(ALLOWED) >= 2, "only one CPU is available to the tests: nothing to pin")
class Pinned(TempDirTestCase):
    def test_server_threads_and_load_generator_on_their_own_cpus(self):
        pin = cpus.split(ALLOWED, cpus.core_groups(ALLOWED))
        args = demo_args(self.db, "--pin", "--only", "/hello", "--repeat", 3, "--json",
                         requests=3000, concurrency=4)
        port = args[args.index("--port") + 1]
        live = LiveBenchmark(*args)
        try:
            pid = wait_until(lambda: standin_pid(port), 30, message="the normal stand-in never started")
            seen: dict[str, frozenset[int]] = {}

            def threads_seen() -> bool:
                # The stand-in answers each connection on a thread of its own:
                # wait until load is on and handler threads have come and gone.
                for tid in os.listdir(f"/proc/{pid}/task") if os.path.isdir(f"/proc/{pid}/task") else []:
                    allowed = allowed_list(pid, tid)
                    if allowed is not None:
                        seen[tid] = allowed
                return len(seen) >= 4
            wait_until(threads_seen, 60, interval=0.005,
                       message=lambda: f"saw only threads {seen} of the stand-in")
            ours = allowed_list(live.proc.pid)
        finally:
            code = live.finish(timeout=120)
        self.assertEqual(code, 0, live.stderr[-2000:])
        self.assertEqual(set(seen.values()), {pin.server}, seen)
        self.assertEqual(ours, pin.load)
        self.assertIn(f"pinned: the servers on CPU {cpus.cpu_list(pin.server)}", live.stderr)
        out = json.loads(live.stdout)
        self.assertEqual(out["pinned"], pin.describe())
        with sqlite3.connect(self.db) as conn:
            self.assertEqual(conn.execute("SELECT pinned FROM benchmark_runs").fetchone()[0], pin.describe())
        logs = "".join(p.read_text() for p in (self.tmp / "logs").glob("*-normal.log"))
        self.assertIn(f" on CPU {cpus.cpu_list(pin.server)}\n", logs)
        samples = out["results"][0]["samples"]
        self.assertEqual(len(samples), 3)
        # 3000 requests take long enough for /proc/stat's ticks to tell.
        self.assertTrue(any(s["steal_pct"] is not None for s in samples), samples)
        self.assertTrue(any(s["other_busy_pct"] is not None for s in samples), samples)
        for sample in samples:
            for name in ("steal_pct", "other_busy_pct"):
                if sample[name] is not None:
                    self.assertGreaterEqual(sample[name], 0.0)
                    self.assertLessEqual(sample[name], 100.0)


class Unpinned(TempDirTestCase):
    def test_one_cpu_says_so_and_measures_unpinned(self):
        only = min(ALLOWED)
        done = subprocess.run([sys.executable, str(BENCHMARK), *map(str, demo_args(
            self.db, "--pin", "--only", "/hello", "--json", requests=200, concurrency=2))],
            capture_output=True, text=True, timeout=120, cwd=REPO,
            preexec_fn=cpus.child_on({only}))
        self.assertEqual(done.returncode, 0, done.stderr[-2000:])
        said = [line for line in done.stderr.splitlines() if "--pin" in line]
        self.assertEqual(len(said), 1, done.stderr)
        self.assertIn(f"only one CPU ({only})", said[0])
        out = json.loads(done.stdout)
        self.assertIsNone(out["pinned"])
        sample = out["results"][0]["samples"][0]
        self.assertIn("steal_pct", sample)
        self.assertIn("other_busy_pct", sample)

    def test_a_url_server_cannot_be_pinned(self):
        done = run_benchmark("--url", "http://127.0.0.1:9", "--pin", "--db", self.db)
        self.assertEqual(done.returncode, 2)
        self.assertIn("drop --pin", done.stderr)
        self.assertFalse(Path(self.db).exists())


def store(db, other_busy: float, steal: float = 0.0, pinned: str | None = None) -> int:
    run_id = db.create_run({"timestamp": "2026-11-30 10:00:00", "status": "complete", "pod": "demo",
                            "requests": 1000, "concurrency": "10", "repeat": 3, "engine": "ab",
                            "pinned": pinned})
    samples = [{"requests_per_sec": r, "p50_ms": 1.0, "p99_ms": 2.0, "complete_requests": 1000,
                "failed_requests": 0, "non_2xx": 0, "steal_pct": steal, "other_busy_pct": other_busy}
               for r in (2000.0, 2010.0, 1990.0)]
    db.add_result(run_id, {"category": "runtime", "endpoint": "/hello", "requests": 1000,
                           "concurrency": 10, "status": "ok", "requests_per_sec": 2000.0,
                           "sample_count": 3, "steal_pct": steal, "other_busy_pct": other_busy}, samples)
    return run_id


class Notes(TempDirTestCase):
    def test_a_busy_machine_is_noted_beside_the_verdicts(self):
        db = open_db(self.db)
        store(db, other_busy=3.0)
        busy = store(db, other_busy=41.0, steal=6.0)
        gathered = report.collect(db, busy)
        entry = report.to_json(gathered)["comparison"]["/hello"]
        self.assertEqual((entry["other_busy_pct"], entry["steal_pct"]), (41.0, 6.0))
        self.assertEqual(entry["machine_note"], disturbance.disturbance_note(6.0, 41.0))
        text = report.render_markdown(gathered)
        self.assertIn(f"- /hello: {entry['machine_note']}", text)
        self.assertIn("other processes kept 41% of the CPUs busy", text)
        db.close()

    def test_a_quiet_machine_has_no_note(self):
        db = open_db(self.db)
        store(db, other_busy=3.0)
        quiet = store(db, other_busy=4.0)
        gathered = report.collect(db, quiet)
        self.assertIsNone(report.to_json(gathered)["comparison"]["/hello"]["machine_note"])
        self.assertNotIn("machine disturbed", report.render_markdown(gathered))
        db.close()

    def test_pinned_and_unpinned_runs_are_not_compared_automatically(self):
        db = open_db(self.db)
        store(db, other_busy=3.0)
        pinned = store(db, other_busy=3.0, pinned="server 0 / load 1")
        gathered = report.collect(db, pinned)
        self.assertFalse(gathered.comparison.compared)
        self.assertIn("pinned (not pinned vs server 0 / load 1)", gathered.comparison.notes[0])
        db.close()


if __name__ == "__main__":
    unittest.main()
