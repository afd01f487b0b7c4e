"""lib/explain/flamegraph.py: flame graphs of real captures are well-formed SVG that
refers to nothing outside it, names from binaries are escaped, narrow frames
are left out and said so, and the differential colours say grew or shrank."""
import re
import shutil
import subprocess
import tempfile
import unittest
import xml.etree.ElementTree as ET
from functools import lru_cache
from pathlib import Path

from lib.explain import flamegraph, stacks
from tests.support import REPO

PERF = REPO / "tests" / "fixtures" / "perf"
SVG = "{http://www.w3.org/2000/svg}"
HOSTILE = "</title><script>alert(1)</script> & \"q\" 'a' ]]> operator<(std::pair<int, &x>)"


@lru_cache(maxsize=None)
def profile(name: str, server: str = "hbf_test") -> stacks.Profile:
    return stacks.profile(stacks.parse_script((PERF / f"{name}.txt").read_text()), server)


def frames(svg: str) -> dict[str, list[dict]]:
    """Each drawn frame's name -> [{fill, width, title}], from the parsed SVG."""
    found: dict[str, list[dict]] = {}
    for g in ET.fromstring(svg).iter(f"{SVG}g"):
        title = g.find(f"{SVG}title").text
        rect = g.find(f"{SVG}rect")
        name = title.split("\n")[0]
        found.setdefault(name, []).append({"fill": rect.get("fill"), "width": float(rect.get("width")),
                                           "title": title, "label": g.find(f"{SVG}text").text or ""})
    return found


def rgb(fill: str) -> tuple[int, int, int]:
    return tuple(int(v) for v in re.fullmatch(r"rgb\((\d+),(\d+),(\d+)\)", fill).groups())


class FlameGraph(unittest.TestCase):
    def test_a_real_profile(self):
        prof = profile("hello-de7dd3b")
        svg = flamegraph.svg(prof.folded, "GET /hello (de7dd3b)", kinds=prof.kinds)
        root = ET.fromstring(svg)
        self.assertEqual(root.get("class"), "hbf-flame")
        drawn = frames(svg)
        self.assertEqual(drawn["all"][0]["width"], 1200 - 2 * flamegraph.PAD)
        handler = drawn["hbf_qjs_request_handler"][0]
        self.assertEqual(handler["title"], "hbf_qjs_request_handler\n255 samples, 45.54%")
        self.assertAlmostEqual(handler["width"], 255 / 560 * 1180, delta=0.01)
        self.assertEqual(handler["label"], "hbf_qjs_request_handler")
        self.assertLess(len(svg), 400_000)
        self.assertEqual(svg, flamegraph.svg(prof.folded, "GET /hello (de7dd3b)", kinds=prof.kinds))

    def test_root_at_the_bottom(self):
        svg = flamegraph.svg({"main;work;leaf": 3, "main;idle": 1}, "t")
        ys = {g.find(f"{SVG}title").text.split("\n")[0]: float(g.find(f"{SVG}rect").get("y"))
              for g in ET.fromstring(svg).iter(f"{SVG}g")}
        self.assertGreater(ys["all"], ys["main"])
        self.assertGreater(ys["main"], ys["work"])
        self.assertGreater(ys["work"], ys["leaf"])

    def test_nothing_from_outside(self):
        svg = flamegraph.svg(profile("standin-hello").folded, "stand-in")
        self.assertEqual(svg.count("<script"), 1)
        self.assertNotIn("href", svg)
        self.assertEqual(re.findall(r"https?://[^\s\"']+", svg), ["http://www.w3.org/2000/svg"])
        inline = flamegraph.svg(profile("standin-hello").folded, "stand-in", script=False)
        self.assertNotIn("<script", inline)
        ET.fromstring(inline)

    def test_hostile_names_are_escaped(self):
        folded = {f"main;{HOSTILE}": 5, "main;ok": 5}
        svg = flamegraph.svg(folded, f"title {HOSTILE}", kinds={HOSTILE: "library"})
        ET.fromstring(svg)  # still well-formed
        self.assertNotIn("<script>alert", svg)
        self.assertIn("&lt;/title&gt;&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;q&quot; &#x27;a&#x27;", svg)
        self.assertEqual(frames(svg)[HOSTILE][0]["title"], f"{HOSTILE}\n5 samples, 50.00%")
        diff = flamegraph.diff_svg({HOSTILE: 1}, folded, HOSTILE)
        ET.fromstring(diff)
        self.assertNotIn("<script>alert", diff)

    def test_labels_are_cut_to_their_box(self):
        name = "a_function_with_a_rather_long_name_that_cannot_fit"
        drawn = frames(flamegraph.svg({f"main;{name}": 1, "main;other": 9}, "t", width=400))
        label = drawn[name][0]["label"]
        self.assertTrue(label.endswith(".."), label)
        self.assertLessEqual(len(label) * flamegraph.CHAR_WIDTH, drawn[name][0]["width"])
        self.assertEqual(drawn[name][0]["title"].split("\n")[0], name)  # the full name on hover

    def test_narrow_frames_are_left_out_and_said_so(self):
        folded = {"main;big": 100_000, **{f"main;tiny{i}": 1 for i in range(500)}}
        svg = flamegraph.svg(folded, "t")
        drawn = frames(svg)
        self.assertNotIn("tiny7", drawn)
        self.assertIn("big", drawn)
        self.assertIn("(500 samples, 0.5%)", svg)
        self.assertLess(len(svg), 20_000)
        self.assertNotIn("not drawn", flamegraph.svg({"main;big": 10}, "t"))

    def test_colours(self):
        warm = [rgb(flamegraph.colour(name)) for name in ("memcpy", "sqlite3_step", "JS_Eval", "x")]
        self.assertTrue(all(r >= 205 and b <= 55 for r, g, b in warm), warm)
        self.assertEqual(flamegraph.colour("memcpy"), flamegraph.colour("memcpy"))
        self.assertNotEqual(flamegraph.colour("memcpy"), flamegraph.colour("sqlite3_step"))
        r, g, b = rgb(flamegraph.colour("do_syscall_64", "kernel"))
        self.assertGreater(b, r)
        prof = profile("hello-de7dd3b")
        drawn = frames(flamegraph.svg(prof.folded, "t", kinds=prof.kinds))
        self.assertEqual(drawn["do_syscall_64"][0]["fill"], flamegraph.colour("do_syscall_64", "kernel"))
        self.assertEqual(drawn["memcpy"][0]["fill"], flamegraph.colour("memcpy", "server"))

    def test_no_samples(self):
        svg = flamegraph.svg({}, "empty")
        ET.fromstring(svg)
        self.assertIn("No samples", svg)

    @unittest.skipUnless(shutil.which("node"), "node is not installed")
    def test_the_zoom_script_is_javascript(self):
        with tempfile.TemporaryDirectory() as tmp:
            script = Path(tmp) / "zoom.js"
            script.write_text(flamegraph.ZOOM_SCRIPT)
            done = subprocess.run(["node", "--check", str(script)], capture_output=True, text=True, timeout=30)
        self.assertEqual(done.returncode, 0, done.stderr)


class DiffFlameGraph(unittest.TestCase):
    def test_grew_red_shrank_blue_same_grey(self):
        base = {"main;a": 50, "main;b": 50, "main;c": 10}
        cand = {"main;a": 100, "main;b": 10, "main;c": 10}
        drawn = frames(flamegraph.diff_svg(base, cand, "t", base_requests=100, cand_requests=100))
        r, g, b = rgb(drawn["a"][0]["fill"])
        self.assertGreater(r, g)
        self.assertEqual(g, b)
        r, g, b = rgb(drawn["b"][0]["fill"])
        self.assertGreater(b, r)
        self.assertEqual(drawn["c"][0]["fill"], "rgb(235,235,235)")
        self.assertIn("0.5000 → 1.0000 samples/request (+100.0%)", drawn["a"][0]["title"])

    def test_per_request_or_share(self):
        base, cand = {"main;a": 10, "main;b": 10}, {"main;a": 20, "main;b": 20}
        by_share = frames(flamegraph.diff_svg(base, cand, "t"))
        self.assertEqual(by_share["a"][0]["fill"], "rgb(235,235,235)")  # same share
        self.assertIn("50.00% → 50.00% of samples", by_share["a"][0]["title"])
        per_request = frames(flamegraph.diff_svg(base, cand, "t", base_requests=10, cand_requests=10, freq_hz=1000))
        r, g, b = rgb(per_request["a"][0]["fill"])
        self.assertGreater(r, g)  # twice the CPU per request
        self.assertEqual(per_request["main"][0]["fill"], "rgb(255,40,40)")  # the largest change: deepest
        self.assertIn("1,000.0 → 2,000.0 µs/request (+100.0%)", per_request["a"][0]["title"])

    def test_the_stand_in_with_work(self):
        base = profile("standin-hello-keepalive", "python3.11").folded
        cand = profile("standin-work500-keepalive", "python3.11").folded
        svg = flamegraph.diff_svg(base, cand, "stand-in: --work-us 500", base_requests=2000,
                                  cand_requests=300, freq_hz=999)
        drawn = frames(svg)
        grown = drawn["clock_gettime@@GLIBC_2.17"][0]
        r, g, b = rgb(grown["fill"])
        self.assertGreater(r, 245)
        self.assertLess(g, 100)  # 0.5 -> 457 µs/request: close to the largest change (the root's)
        self.assertEqual(drawn["all"][0]["fill"], "rgb(255,40,40)")
        self.assertIn("µs/request", grown["title"])
        self.assertIn("Red grew, blue shrank", svg)

    def test_hbf_across_the_mutex_commit(self):
        base, cand = profile("hello-b4b3e45").folded, profile("hello-8b3da16").folded
        svg = flamegraph.diff_svg(base, cand, "b4b3e45 → 8b3da16", base_requests=500, cand_requests=500,
                                  freq_hz=499)
        drawn = frames(svg)
        self.assertIn("(new)", drawn["overlay_fs_read_file"][0]["title"])
        self.assertEqual(rgb(drawn["overlay_fs_read_file"][0]["fill"]), (255, 40, 40))  # the largest growth
        self.assertNotIn("hbf_db_read_file", drawn)  # only in the base: not drawn
        self.assertRegex(svg, r"Call paths only in the base \([\d,]+ of its 482 samples\) are not drawn")
        self.assertLess(len(svg), 400_000)


if __name__ == "__main__":
    unittest.main()
