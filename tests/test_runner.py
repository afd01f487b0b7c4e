"""`python3 -m tests` (tests/__main__.py), the README's test command: it runs
the chosen modules side by side, reports each, and fails when one fails."""
import subprocess
import sys
import unittest

from tests.__main__ import LAST, ModuleResult, modules
from tests.support import REPO


def run_tests(*args):
    return subprocess.run([sys.executable, "-m", "tests", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=120)


class Runner(unittest.TestCase):
    def test_runs_the_modules_named_and_sums_their_tests(self):
        done = run_tests("-j", "2", "test_parser", "test_series")
        self.assertEqual(done.returncode, 0, done.stdout + done.stderr)
        self.assertRegex(done.stdout, r"==== tests\.test_parser: \d+ tests, OK")
        parsed = {line.split(":")[0]: int(line.split(": ")[1].split()[0])
                  for line in done.stdout.splitlines() if line.startswith("==== ")}
        self.assertIn(f"Ran {sum(parsed.values())} tests in 2 modules", done.stdout)

    def test_an_unknown_module_is_refused_in_one_line(self):
        done = run_tests("test_no_such_thing")
        self.assertEqual(done.returncode, 2)
        self.assertIn("no test module 'test_no_such_thing'", done.stderr)
        self.assertEqual(done.stdout, "")

    def test_every_module_once_and_the_leftover_check_last(self):
        every = modules([])
        self.assertEqual(sorted(every), sorted(p.stem for p in (REPO / "tests").glob("test_*.py")))
        self.assertIn(LAST, every)

    def test_a_failed_module_shows_its_closing_line(self):
        output = "test_x ... FAIL\n\n----\nRan 3 tests in 0.1s\n\nFAILED (failures=1)\n"
        result = ModuleResult("test_x", 1, output, 0.2)
        self.assertEqual((result.tests_run, result.outcome), (3, "FAILED (failures=1)"))
        self.assertEqual(ModuleResult("test_y", -9, "", 1.0).outcome, "no result (exit status -9)")


if __name__ == "__main__":
    unittest.main()
