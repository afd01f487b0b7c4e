"""--backtrace: a crashed endpoint re-run under gdb gives the crashing thread's frames."""
import json
import os
import shutil
import unittest

from tests.cli import demo_args, run_benchmark
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


if __name__ == "__main__":
    unittest.main()
