"""`show_results.py --html`: the page's content, its escaping, and (when
Chromium is installed) what a real browser draws of it."""
from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
import tempfile
import unittest
from html.parser import HTMLParser
from pathlib import Path

from lib.show import html_report
from lib.db import open_db
from tests.support import REPO
from tests.test_views import HOSTILE, SUITE, make_history

VOID = {"meta", "br", "img", "input", "link", "hr", "circle", "line", "rect", "path", "polyline"}


def load_screenshot_module():
    spec = importlib.util.spec_from_file_location("html_screenshot", REPO / "bench" / "html_screenshot.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Structure(HTMLParser):
    """Tags, balance (every non-void element closed in order) and text."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack, self.errors, self.tags, self.text = [], [], [], []
        self.attrs = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs.append((tag, dict(attrs)))
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs.append((tag, dict(attrs)))

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:]}")
            return
        self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)


class Page(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = Path(tempfile.mkdtemp(prefix="html-test-"))
        notes = {i: n for i, n in enumerate(HOSTILE, start=20)}
        notes[25] = 'a "quoted" <b>note</b> with </title></svg> in it'
        cls.ids = make_history(cls.dir / "r.db", runs=30, step_at=12, dbg=(8,),
                               fail={15: {"/hello": "crashed"}, 26: {"/user/42": "failed"}},
                               bump={29: {"/user/42": 0.7}}, notes=notes)
        cls.db = open_db(cls.dir / "r.db", readonly=True)
        cls.page = html_report.build(cls.db, limit=200, filters={})
        cls.parsed = Structure()
        cls.parsed.feed(cls.page)

    @classmethod
    def tearDownClass(cls):
        cls.db.close()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def svgs(self):
        return re.findall(r"<svg\b.*?</svg>", self.page, flags=re.S)

    def test_well_formed_and_self_contained(self):
        self.assertEqual(self.parsed.errors, [])
        self.assertEqual(self.parsed.stack, [])
        self.assertEqual(self.parsed.tags.count("script"), 1)  # ours, inline
        for tag, attrs in self.parsed.attrs:
            self.assertFalse({"src", "href"} & set(attrs), f"<{tag}> loads something: {attrs}")
        self.assertIn("Content-Security-Policy", self.page)
        self.assertNotRegex(self.page, r"https?://")

    def test_one_chart_per_endpoint_with_points(self):
        svgs = self.svgs()
        self.assertEqual(len(svgs), len(SUITE))
        hello = next(s for s in svgs if 'aria-label="/hello:' in s)
        # 30 runs, 1 dbg (not drawn), 1 crashed: 28 req/s points and 28 p99 points.
        self.assertEqual(hello.count('<circle class="pt"'), 2 * 28)
        self.assertEqual(hello.count('class="bad"'), 1)
        self.assertEqual(hello.count('<rect class="hit"'), 29)  # every drawn run can be hovered
        self.assertIn(f"level shift at run {self.ids[12]}: +", hello)
        self.assertIn("▲+", hello)
        self.assertIn(f"run {self.ids[15]}", hello)
        self.assertIn("crashed (SIGSEGV): crashed on purpose", hello)
        self.assertIn("c00000c on master", hello)  # hover names the commit

    def test_regression_of_the_latest_run_is_ringed(self):
        user = next(s for s in self.svgs() if 'aria-label="/user/42:' in s)
        self.assertIn('class="ring"', user)
        self.assertIn("req/s regressed: req/s fell", user)
        self.assertIn("p99 regressed: p99 rose", user)  # every metric is judged; p99 ringed on its panel
        self.assertIn('<span class="badge bad"', self.page)
        others = [s for s in self.svgs() if 'aria-label="/user/42:' not in s]
        self.assertFalse(any('class="ring"' in s for s in others))

    def test_other_configurations_are_named_not_drawn(self):
        self.assertIn("Not drawn: pod test, dbg, 1000 requests x c10, ab (1 run(s))", self.page)

    def test_tables(self):
        text = "".join(self.parsed.text)
        self.assertIn(f"Latest run {self.ids[-1]}", text)
        self.assertIn(f"Runs ({len(self.ids)}, newest first)", text)
        rows = re.findall(r'<tr data-run="(\d+)"', self.page)
        self.assertEqual([int(r) for r in rows], self.ids[::-1])

    def test_database_text_is_escaped(self):
        self.assertNotIn("<script>alert", self.page)
        self.assertIn("&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; &quot;q&quot;", self.page)
        self.assertNotIn("</title></svg> in it", self.page)
        self.assertNotIn("<b>note</b>", self.page)
        text = "".join(self.parsed.text)
        for note in HOSTILE[:3]:
            self.assertIn(note, text)  # shown exactly as typed
        self.assertIn('a "quoted" <b>note</b> with </title></svg> in it', text)
        self.assertIn("ünïcödé ✓ 速度", text)

    def test_empty_database_refused(self):
        db = open_db(self.dir / "empty.db")
        db.close()
        db = open_db(self.dir / "empty.db", readonly=True)
        self.addCleanup(db.close)
        with self.assertRaises(html_report.NothingToDraw):
            html_report.build(db, limit=10, filters={})


class Helpers(unittest.TestCase):
    def test_nice_ticks(self):
        self.assertEqual(html_report.nice_ticks(0, 100), [0, 25, 50, 75, 100])
        ticks = html_report.nice_ticks(1913.1, 2155.3)
        self.assertLessEqual(ticks[0], 1913.1)
        self.assertGreaterEqual(ticks[-1], 2155.3)
        self.assertLessEqual(len(ticks), 7)
        self.assertEqual(len(html_report.nice_ticks(5, 5)) >= 2, True)

    def test_escape(self):
        self.assertEqual(html_report.e('<a href="x">\'&'), "&lt;a href=&quot;x&quot;&gt;&#x27;&amp;")
        self.assertEqual(html_report.e(None), "")


CHROMIUM = load_screenshot_module().find_chromium()


@unittest.skipUnless(CHROMIUM, "Chromium is not installed (apt-get install -y chromium)")
class InABrowser(unittest.TestCase):
    def test_chromium_draws_the_charts(self):
        shot = load_screenshot_module()
        temp = Path(tempfile.mkdtemp(prefix="html-shot-"))
        self.addCleanup(shutil.rmtree, temp, True)
        make_history(temp / "r.db", runs=40, step_at=20, notes={3: HOSTILE[2]})
        page = temp / "page.html"
        done = subprocess.run([sys.executable, str(REPO / "show_results.py"), "--db", str(temp / "r.db"),
                               "--html", str(page)], capture_output=True, text=True, timeout=60)
        self.assertEqual(done.returncode, 0, done.stderr)
        html_stats = shot.check_html(page.read_text(encoding="utf-8"))
        self.assertEqual(html_stats["charts"], len(SUITE))
        png = temp / "page.png"
        shot.screenshot(page, png, chromium=CHROMIUM, size=(1400, 900))
        stats = shot.check_png(png)  # raises when blank or without a chart line
        self.assertEqual((stats["width"], stats["height"]), (1400, 900))


if __name__ == "__main__":
    unittest.main()
