"""--profile (issue 16): perf samples the stand-in's stacks during one extra
sample per endpoint; the report, show_results --profile/--folded and the page
show where the time went and, side by side, what grew."""
import functools
import json
import os
import shutil
import signal
import unittest

from lib.explain import profiler, stacks
from tests.cli import LiveBenchmark, demo_args, run_benchmark, run_show
from tests.support import TempDirTestCase, requires_ab, wait_until
from tests.test_zz_leftovers import tagged_processes

# Keep-alive: the stand-in starts a thread per connection, and perf rarely
# samples a thread that lives less than one sampling period (real HBF keeps a
# pool of worker threads).
LOAD = ["--only", "/hello", "--keepalive", "--warmup", "0", "--profile"]


@functools.lru_cache(maxsize=1)
def perf_usable() -> str | None:
    """Why perf cannot be used here, or None."""
    try:
        profiler.check()
    except profiler.ProfilerError as exc:
        return str(exc)
    return None


requires_perf = unittest.skipIf(perf_usable() is not None, f"perf: {perf_usable()}")


@requires_ab
@requires_perf
class Profiles(TempDirTestCase):
    def test_top_functions_every_view_and_nothing_left_behind(self):
        done = run_benchmark(*demo_args(self.db, *LOAD, requests=1500, concurrency=4))
        self.assertEqual(done.returncode, 0, done.stderr[-3000:])
        self.assertIn("profiling /hello on the normal server", done.stderr)
        self.assertIn("## Profiles (perf, one extra sample per endpoint)", done.stdout)
        self.assertIn("| # | self: function", done.stdout.replace("|  # |", "| # |"))
        self.assertIn("perf's own cost", done.stdout)
        data = json.loads(run_show("--db", self.db, "--profile", "latest", "--json").stdout)
        prof = data["profiles"]["/hello"]
        self.assertGreater(prof["samples"], 20)
        self.assertEqual((prof["frequency"], prof["requests"]), (999, 1500))
        names = [f["function"] for f in prof["top_self"]] + [f["function"] for f in prof["top_total"]]
        self.assertTrue(any("PyEval" in name or name.startswith("_Py") for name in names), names)
        self.assertAlmostEqual(sum(prof["shares"].values()), 1.0, places=2)
        self.assertAlmostEqual(prof["cpu_us_per_request"], prof["samples"] / 999 / 1500 * 1e6, delta=0.1)
        text = run_show("--db", self.db, "--profile", "latest")
        self.assertEqual(text.returncode, 0, text.stderr)
        self.assertIn("### /hello:", text.stdout)
        self.assertIn("| self: function", text.stdout)
        folded = run_show("--db", self.db, "--profile", "latest", "--folded")
        self.assertEqual(folded.returncode, 0, folded.stderr)
        self.assertEqual(sum(stacks.parse_folded(folded.stdout).values()), prof["samples"])
        # The run's own report carries the same profile.
        report = json.loads(run_show("--db", self.db, "--run", "latest", "--json").stdout)
        self.assertEqual(report["profiles"]["/hello"], prof)
        # perf's data file is read and removed; nothing of perf is left anywhere.
        self.assertEqual([p.name for p in self.tmp.rglob("*perf*")], [])

    def test_side_by_side_shows_the_functions_that_grew(self):
        done = run_benchmark(*demo_args(self.db, *LOAD, "--json", "--repeat", "3", "--server-arg=--work-us=500",
                                        "--baseline-server-arg=", requests=600, concurrency=4), timeout=180)
        self.assertEqual(done.returncode, 0, done.stderr[-3000:])
        report = json.loads(done.stdout)
        changes = report["profiles"]["/hello"]["changes"]
        self.assertEqual(changes["against_run_id"], report["baseline_run_id"])
        before, after = changes["cpu_us_per_request"]
        self.assertGreater(after - before, 250)  # 500 µs of work per request, sampled
        grown = [c for c in changes["by_total"] if c["significant"] and c["change_us"] > 100]
        self.assertTrue(any("clock_gettime" in c["function"] for c in grown), changes["by_total"])
        self.assertIn("perf: /hello", report["verdict"])
        page = self.tmp / "page.html"
        shown = run_show("--db", self.db, "--html", page)
        self.assertEqual(shown.returncode, 0, shown.stderr)
        html = page.read_text()
        self.assertEqual(html.count('class="hbf-flame'), 2, "a flame graph and a differential one")
        self.assertEqual(html.count("<script"), 1)

    def test_a_crash_during_the_profiled_sample_discards_the_profile(self):
        done = run_benchmark(*demo_args(self.db, *LOAD, "--json", "--server-arg=--crash-on",
                                        "--server-arg=/hello", "--server-arg=--crash-after",
                                        "--server-arg=150", requests=100, concurrency=2))
        self.assertEqual(done.returncode, 1, done.stderr[-3000:])
        result = json.loads(done.stdout)["results"][0]
        self.assertEqual((result["status"], result["crash_signal"]), ("crashed", "SIGSEGV"))
        self.assertIn("during the profiled sample", result["error"])
        self.assertEqual(json.loads(done.stdout)["profiles"], {})
        self.assertEqual([p.name for p in self.tmp.rglob("*perf*")], [])

    def test_ctrl_c_while_profiling_stops_perf_too(self):
        bench = LiveBenchmark(*demo_args(self.db, *LOAD, "--server-arg=--delay-ms=20", requests=400,
                                         concurrency=2))
        bench.wait_for("profiling /hello")
        wait_until(lambda: any(" record " in p for p in tagged_processes()), timeout=20,
                   message="perf never started")
        bench.signal(signal.SIGINT)
        self.assertEqual(bench.finish(), 130, bench.stderr[-3000:])
        wait_until(lambda: not tagged_processes(), timeout=10, message=lambda: f"left: {tagged_processes()}")
        self.assertEqual([p.name for p in self.tmp.rglob("*.perf.data")], [])


@requires_ab
class Refusals(TempDirTestCase):
    def only_ab_on_path(self, extra: dict | None = None):
        bindir = self.tmp / "bin"
        bindir.mkdir(exist_ok=True)
        os.symlink(shutil.which("ab"), bindir / "ab")
        for name, text in (extra or {}).items():
            (bindir / name).write_text(text)
            (bindir / name).chmod(0o755)
        return dict(os.environ, PATH=str(bindir))

    def refused(self, *args, env=None) -> str:
        done = run_benchmark(*(args or demo_args(self.db)), "--profile", "--only", "/hello", env=env)
        self.assertEqual(done.returncode, 2, done.stderr)
        self.assertEqual(len(done.stderr.strip().splitlines()), 1, done.stderr)
        self.assertFalse(self.db.exists(), "nothing may be stored")
        return done.stderr

    def test_perf_missing(self):
        self.assertIn("apt-get install linux-perf", self.refused(env=self.only_ab_on_path()))

    def test_perf_not_permitted(self):
        fake = ("#!/bin/sh\nif [ \"$1\" = --version ]; then echo 'perf version 6.1'; exit 0; fi\n"
                "echo 'Error: Access to performance monitoring and observability operations is limited.' >&2\n"
                "exit 255\n")
        said = self.refused(env=self.only_ab_on_path({"perf": fake}))
        self.assertIn("kernel.perf_event_paranoid", said)
        self.assertIn("Access to performance monitoring", said)

    def test_not_with_url(self):
        self.assertIn("not ours to attach perf to", self.refused("--url", "http://127.0.0.1:9", "--db", self.db))


if __name__ == "__main__":
    unittest.main()
