"""Text from outside (notes, git, suite names, endpoint names, errors, the
server's log lines, a hand-edited database) is never printed raw: every
terminal and Markdown view makes it inert (lib/text.safe and cell), and the
HTML page escapes it. Run as a user runs the views, as subprocesses."""
import json
import re
import tempfile
import unittest
from pathlib import Path

from lib.db import open_db
from tests.cli import run_show

# Clears the screen, reverses the rest of the line, breaks a table and a line, and is markup.
EVIL = "evil\x1b[2J\u202egnp.\u202c|pipe|\nsecond line\r\t<script>alert(1)</script> `tick` \x07"
RAW = ("\x1b", "\u202e", "\u202c", "\x07", "\r")


def build(path: Path) -> None:
    db = open_db(path)
    for index in range(2):
        run_id = db.create_run({
            "timestamp": f"2026-11-0{index + 1} 10:00:00", "git_commit": EVIL, "git_branch": EVIL,
            "build_mode": "opt", "notes": EVIL, "status": "running", "pod": "test", "suite": EVIL,
            "requests": 100, "concurrency": "4", "repeat": 1, "engine": "ab", "engine_version": EVIL,
            "target": EVIL, "environment": json.dumps({"hostname": EVIL, "cpu_model": EVIL, "cpu_count": 2})})
        for endpoint, status in ((EVIL, "ok"), (f"/b {EVIL}", "failed" if index else "ok")):
            row = {"category": EVIL, "endpoint": endpoint, "requests": 100, "concurrency": 4,
                   "method": "GET", "engine": "ab", "status": status, "complete_requests": 100,
                   "failed_requests": 0, "non_2xx": 100 if status == "failed" else 0,
                   "requests_per_sec": 1000.0 + index, "p50_ms": 1.0, "p99_ms": 2.0}
            if status == "failed":
                row.update(error=EVIL, server_log_lines=2, caveat=None, backtrace=f"#0 {EVIL}\n#1 main",
                           server_errors=json.dumps([{"line": EVIL, "count": 2}]),
                           probe=f"500 {EVIL}: {EVIL}")
            db.add_result(run_id, row)
        db.update_run(run_id, status="complete" if not index else "partial", exit_code=index, error=EVIL)
    db.close()


class EveryView(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.dir = Path(cls.tmp.name)
        cls.db = cls.dir / "r.db"
        build(cls.db)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def view(self, *args) -> str:
        done = run_show("--db", self.db, *args)
        self.assertEqual(done.returncode, 0, done.stderr)
        return done.stdout + done.stderr

    def assert_inert(self, text: str, what: str):
        for raw in RAW:
            self.assertNotIn(raw, text, f"{what}: raw {raw!r}")
        # Shown, spelled out (in Markdown, with its bracket escaped: lib/core/text.py md).
        self.assertRegex(text, r"evil\\x1b\\?\[2J\\u202e", what)
        for line in text.splitlines():
            self.assertFalse(line.startswith("second line"), f"{what}: a newline from outside broke a line")

    def assert_tables_keep_columns(self, text: str, what: str):
        table = []
        for line in text.splitlines() + [""]:
            if line.startswith("|"):
                table.append(len(re.findall(r"(?<!\\)\|", line)))
            elif table:
                self.assertEqual(len(set(table)), 1, f"{what}: a table lost its columns")
                table = []

    def test_terminal_views(self):
        for args in ([], ["--run", "latest"], ["--run", "1"], ["--compare", "1", "2"], ["--compare", "2", "1"],
                     ["--trend", "/b"], ["--trend", "all"]):
            with self.subTest(view=args):
                text = self.view(*args)
                self.assert_inert(text, " ".join(args) or "list")
                self.assert_tables_keep_columns(text, " ".join(args) or "list")

    def test_the_problems_section_quotes_the_server_inertly(self):
        report = self.view("--run", "latest")
        self.assertIn("## Problems", report)
        self.assertIn("`evil\\x1b[2J\\u202egnp.\\u202c|pipe|⏎second line", report)  # a log line
        self.assertIn("#0 evil\\x1b[2J", report)  # the backtrace
        self.assertIn("it answered 500 evil\\x1b\\[2J", report)  # what it answered, asked alone (Markdown-escaped)

    def test_html_page(self):
        page = self.dir / "page.html"
        self.view("--html", page)
        html = page.read_text()
        self.assertNotIn("<script>alert(1)</script>", html)
        self.assertIn("&lt;script&gt;alert(1)&lt;/script&gt;", html)


if __name__ == "__main__":
    unittest.main()
