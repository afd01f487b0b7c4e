"""--backtrace: a crashed endpoint re-run under gdb gives the crashing thread's frames."""
import json
import os
import re
import shutil
import unittest

from tests.cli import demo_args, run_benchmark, run_show
from tests.support import TempDirTestCase, requires_ab

CRASH = ["--only", "/hello", "--warmup", "0", "--server-arg=--crash-on", "--server-arg=/hello",
         "--server-arg=--crash-after", "--server-arg=30"]


@requires_ab
class Backtrace(TempDirTestCase):
    @unittest.skipUnless(shutil.which("gdb"), "gdb is not installed")
    def test_crash_comes_with_gdb_frames(self):
        done = run_benchmark(*demo_args(self.db, "--backtrace", "--json", *CRASH, requests=100,
                                        concurrency=2), timeout=180)
        self.assertEqual(done.returncode, 1, done.stderr[-3000:])
        result = json.loads(done.stdout)["results"][0]
        self.assertEqual((result["status"], result["crash_signal"]), ("crashed", "SIGSEGV"))
        backtrace = result["backtrace"]
        self.assertIsNotNone(backtrace, done.stderr[-3000:])
        self.assertIn("received signal SIGSEGV", backtrace)
        self.assertRegex(backtrace, r"(?m)^#0 ")
        # ctypes.string_at(0) in the stand-in: a real native frame to show.
        self.assertRegex(backtrace, r"string_at|strlen|PyBytes")
        files = list((self.tmp / "logs").glob("run1-*-backtrace.txt"))
        self.assertEqual(len(files), 1)
        self.assertEqual(files[0].read_text().strip(), backtrace.strip())
        self.assertEqual(result["backtrace_status"], "captured")
        said = re.search(r"under gdb on port (\d+)", done.stderr)
        self.assertIsNotNone(said, done.stderr[-3000:])
        self.assertEqual(result["backtrace_port"], int(said.group(1)))

    @unittest.skipUnless(shutil.which("gdb"), "gdb is not installed")
    def test_a_crash_that_does_not_recur_says_so(self):
        # The 150th request crashes: in the second sample. The re-run under gdb
        # sends one sample's 100 requests, so it does not crash.
        crash_late = CRASH[:-1] + ["--server-arg=150"]
        done = run_benchmark(*demo_args(self.db, "--backtrace", "--json", "--repeat", "2", *crash_late,
                                        requests=100, concurrency=2), timeout=180)
        self.assertEqual(done.returncode, 1, done.stderr[-3000:])
        result = json.loads(done.stdout)["results"][0]
        self.assertEqual((result["status"], result["backtrace"]), ("crashed", None))
        self.assertEqual(result["backtrace_status"], "not reproduced")
        self.assertIsInstance(result["backtrace_port"], int)
        shown = run_show("--run", "latest", "--db", self.db)
        self.assertIn("no backtrace: the crash did not happen again under gdb (gdb's server listened on "
                      f"port {result['backtrace_port']})", shown.stdout)

    def test_without_backtrace_flag_the_report_says_how_to_get_one(self):
        done = run_benchmark(*demo_args(self.db, "--json", *CRASH, requests=100, concurrency=2))
        self.assertEqual(done.returncode, 1, done.stderr[-3000:])
        result = json.loads(done.stdout)["results"][0]
        self.assertEqual((result["status"], result["backtrace_status"]), ("crashed", "not requested"))
        shown = run_show("--run", "latest", "--db", self.db)
        self.assertIn("no backtrace: the run had no --backtrace; run it again with --backtrace", shown.stdout)

    def test_without_gdb_it_says_so_and_goes_on(self):
        bindir = self.tmp / "bin"
        bindir.mkdir()
        os.symlink(shutil.which("ab"), bindir / "ab")
        env = dict(os.environ, PATH=str(bindir))
        done = run_benchmark(*demo_args(self.db, "--backtrace", *CRASH, requests=100, concurrency=2),
                             env=env)
        self.assertEqual(done.returncode, 1, done.stderr[-3000:])
        self.assertIn("gdb is not installed", done.stderr)
        self.assertIn("crashed", done.stdout)
        self.assertIn("no backtrace: gdb is not installed (apt-get install gdb)", done.stdout)


if __name__ == "__main__":
    unittest.main()
