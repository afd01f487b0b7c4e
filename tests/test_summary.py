"""--summary FILE (issue 21 §2): the pull request's answer in GitHub-flavoured
Markdown: the verdict first, one table, failures, limits; text from outside
inert; under 60,000 characters; a same-binary pair never "unclear"."""
import json
import re
import unittest

from lib.judge.comparison import Comparison
from lib.show import summary
from lib.show.report import RunReport
from tests.cli import demo_args, run_benchmark
from tests.support import TempDirTestCase, requires_ab

HOSTILE = "x|y <img src=x onerror=alert(1)> @octocat `tick` [a](http://evil) ![i](https://e/p.png) \x1b[2J &#64;z"


def report_of(rows: list[dict]) -> RunReport:
    run = {"run_id": 3, "git_commit": HOSTILE, "status": "partial"}
    return RunReport(run, rows, Comparison(run, notes=[HOSTILE]))


def row(endpoint: str, **fields) -> dict:
    out = {"endpoint": endpoint, "category": "runtime", "concurrency": 10, "status": "ok",
           "requests_per_sec": 1000.0, "p50_ms": 1.0, "p99_ms": 3.0, "server_cpu_us_per_req": 200.0}
    out.update(fields)
    return out


class Inert(unittest.TestCase):
    def test_hostile_text_cannot_break_link_notify_or_inject(self):
        failed = row(HOSTILE, status="failed", error=HOSTILE, probe="500 Internal: " + HOSTILE,
                     server_errors=json.dumps([{"line": HOSTILE, "count": 1}]),
                     limits=json.dumps([{"metric": "p99_ms", "op": "<", "bound": 1, "value": 3.0, "passed": False}]))
        text = summary.render(report_of([failed, row("/hello")]), ["python3", "benchmark.py", "--notes", HOSTILE])
        self.assertNotIn("\x1b", text)
        for line in text.splitlines():
            if line.startswith("```") or line.startswith("python3 benchmark.py"):
                continue  # the command is in a code block, where nothing renders
            self.assertIsNone(re.search(r"(?<!\\)<", line), line)  # no raw HTML
            self.assertIsNone(re.search(r"(?<!\\)\]\(", line), line)  # no [text](link) or image
            self.assertIsNone(re.search(r"(?<!\\)`", line), line)  # no code span opened
            self.assertIsNone(re.search(r"@\w", line), line)  # no @mention
            self.assertIsNone(re.search(r"https?://", line), line)  # no bare autolink
            self.assertIsNone(re.search(r"(?<!\\)&#", line), line)  # no entity
        table = [l for l in text.splitlines() if l.startswith("|")]
        self.assertEqual({len(re.findall(r"(?<!\\)\|", l)) for l in table}, {7}, table)  # columns kept
        self.assertIn("server's first log line", text)
        self.assertIn("asked alone it answered: 500 Internal", text)
        self.assertIn("**Limits crossed**", text)

    def test_any_suite_stays_under_60000_characters(self):
        rows = [row(f"/endpoint-{i}-" + "w" * 300, status="failed", error="e" * 500) for i in range(2000)]
        text = summary.render(report_of(rows))
        self.assertLessEqual(len(text), summary.MAX_CHARS)
        self.assertIn("summary cut here", text)
        self.assertTrue(text.startswith("**HBF benchmark:** "))


@requires_ab
class Answers(TempDirTestCase):
    def test_a_slower_hello_is_named_first_and_fails_the_run(self):
        out = self.tmp / "summary.md"
        out.write_text("earlier step\n")  # appended to, as $GITHUB_STEP_SUMMARY is
        done = run_benchmark(*demo_args(self.db, "--only", "/hello", "--side-by-side", "--repeat", "5",
                                        "--baseline-server-arg=", "--server-arg=--work-us=1500",
                                        "--fail-on", "req/s,p99", "--summary", out, requests=300))
        self.assertEqual(done.returncode, 1, done.stderr[-2000:])
        earlier, first = out.read_text().splitlines()[:2]
        self.assertEqual(earlier, "earlier step")
        self.assertRegex(first, r"^\*\*HBF benchmark:\*\* /hello (req/s|p99) regressed -?\+?\d+\.\d% "
                                r"\(side by side, p(=|\\<)")
        self.assertIn("python3 benchmark.py --demo", out.read_text())

    def test_the_same_binary_twice_is_never_unclear(self):
        out = self.tmp / "summary.md"
        for _ in range(2):
            done = run_benchmark(*demo_args(self.db, "--only", "/echo", "--summary", out, requests=200))
            self.assertEqual(done.returncode, 0, done.stderr[-2000:])
        last = out.read_text().split("**HBF benchmark:** ")[-1].splitlines()[0]
        self.assertIn("no significant change (same binary as run 1", last)
        self.assertNotIn("unclear", last)
        self.assertNotIn("unclear", done.stdout)  # the report says the same
        self.assertIn("no significant change (same binary as run 1", done.stdout)

    def test_an_unwritable_summary_is_refused_before_anything_starts(self):
        done = run_benchmark(*demo_args(self.db, "--summary", self.tmp / "no" / "such" / "s.md"))
        self.assertEqual(done.returncode, 2)
        self.assertIn("--summary", done.stderr)
        self.assertFalse(self.db.exists())


if __name__ == "__main__":
    unittest.main()
