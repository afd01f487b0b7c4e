#!/usr/bin/env python3
"""Look at `show_results.py --html` in a real browser.

Writes the page for a database (by default a generated history of 120 runs
with level shifts, a crash and hostile notes), opens it in headless Chromium,
saves a PNG, and fails (exit 1) when the page has no chart: the HTML must
hold an <svg> per endpoint with plotted points, and the screenshot must not
be blank (a PNG decoded here with zlib: enough distinct colours, and the
chart's colours present).

    python3 bench/html_screenshot.py                       # -> /tmp/hbf-bench-history.png
    python3 bench/html_screenshot.py --db .benchmark/results.db --png page.png

Chromium: /usr/bin/chromium (Debian: apt-get install -y chromium). No network:
the page is self-contained and the browser runs with a fresh profile and
background networking off. Exit 2 when Chromium is missing.
"""
from __future__ import annotations

import argparse
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO))

SHOW = REPO / "show_results.py"
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CHART_BLUE = (0x25, 0x63, 0xEB)  # html_report.PALETTE[0]


def find_chromium() -> str | None:
    if Path("/usr/bin/chromium").exists():
        return "/usr/bin/chromium"
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def screenshot(html: Path, png: Path, *, chromium: str, size=(1400, 1800), timeout: float = 90) -> None:
    profile = tempfile.mkdtemp(prefix="hbf-bench-chromium-")
    try:
        command = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                   "--no-first-run", "--disable-background-networking", "--disable-component-update",
                   "--disable-sync", "--hide-scrollbars", f"--user-data-dir={profile}",
                   f"--screenshot={png}", f"--window-size={size[0]},{size[1]}", html.resolve().as_uri()]
        done = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=timeout)
        if done.returncode != 0 or not png.exists():
            raise RuntimeError(f"chromium exited {done.returncode} without a screenshot: {done.stderr[-800:]}")
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def read_png(path: Path) -> tuple[int, int, list[bytes]]:
    """(width, height, rows of RGB(A) bytes) of an 8-bit RGB/RGBA PNG, unfiltered."""
    data = path.read_bytes()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError(f"{path} is not a PNG")
    pos, idat, header = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", chunk)
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = header
    if depth != 8 or colour not in (2, 6) or interlace:
        raise ValueError(f"unsupported PNG (depth {depth}, colour type {colour}, interlace {interlace})")
    bpp = 4 if colour == 6 else 3
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows, prev = [], bytearray(stride)
    for y in range(height):
        kind = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + a) & 255
            elif kind == 2:
                line[i] = (line[i] + b) & 255
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    return width, height, [r if bpp == 3 else bytes(v for i, v in enumerate(r) if i % 4 != 3) for r in rows]


def check_png(path: Path) -> dict:
    """Colour statistics of the screenshot; raises AssertionError when it is blank."""
    width, height, rows = read_png(path)
    colours: dict[tuple, int] = {}
    for row in rows[::3]:
        for x in range(0, width * 3, 9):
            key = (row[x], row[x + 1], row[x + 2])
            colours[key] = colours.get(key, 0) + 1
    near_blue = sum(n for (r, g, b), n in colours.items()
                    if abs(r - CHART_BLUE[0]) < 40 and abs(g - CHART_BLUE[1]) < 40 and abs(b - CHART_BLUE[2]) < 40)
    stats = {"width": width, "height": height, "distinct_colours": len(colours),
             "chart_blue_pixels": near_blue}
    if len(colours) < 20:
        raise AssertionError(f"the screenshot looks blank: {len(colours)} distinct colours ({stats})")
    if near_blue < 20:
        raise AssertionError(f"no chart line in the screenshot (blue pixels {near_blue}; {stats})")
    return stats


def check_html(text: str) -> dict:
    """The page has charts with data: <svg> elements holding plotted points."""
    svgs = re.findall(r"<svg\b.*?</svg>", text, flags=re.S)
    points = [len(re.findall(r'<circle class="pt"', svg)) for svg in svgs]
    lines = sum(svg.count("<polyline") for svg in svgs)
    if not svgs or not any(points):
        raise AssertionError(f"the page has no chart with data ({len(svgs)} <svg>, points {points})")
    if re.search(r"<(script|link|img|iframe)[^>]*\b(src|href)=", text, flags=re.I):
        raise AssertionError("the page loads something from elsewhere; it must be self-contained")
    return {"charts": len(svgs), "points": sum(points), "lines": lines}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", help="database to draw (default: a generated 120-run history)")
    parser.add_argument("--png", default="/tmp/hbf-bench-history.png", help="screenshot file")
    parser.add_argument("--html", help="keep the page here too")
    parser.add_argument("--limit", type=int, default=200)
    args = parser.parse_args()

    chromium = find_chromium()
    if chromium is None:
        print("html_screenshot.py: error: Chromium is not installed: apt-get install -y chromium",
              file=sys.stderr)
        return 2
    temp = Path(tempfile.mkdtemp(prefix="hbf-bench-shot-"))
    try:
        db = Path(args.db) if args.db else None
        if db is None:
            from history_speed import generate
            db = generate(temp / "results.db", 120, seed=11, failure_rate=0.01,
                          shifts={"/hello": [(0.55, 1.2)], "/user/42": [(0.55, 1.15)],
                                  "GET /__dev/api/files": [(0.7, 0.8)], "/static/style.css": [(0.3, 0.88)],
                                  "/echo": [(1.0, 0.8)]})
        page = Path(args.html) if args.html else temp / "history.html"
        done = subprocess.run([sys.executable, str(SHOW), "--db", str(db), "--html", str(page),
                               "--limit", str(args.limit)], capture_output=True, text=True)
        if done.returncode != 0:
            print(f"html_screenshot.py: show_results.py --html failed: {done.stderr}", file=sys.stderr)
            return 1
        html_stats = check_html(page.read_text(encoding="utf-8"))
        png = Path(args.png)
        screenshot(page, png, chromium=chromium)
        png_stats = check_png(png)
    except AssertionError as exc:
        print(f"html_screenshot.py: FAIL: {exc}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(temp, ignore_errors=True)
    print(f"{png}: {png_stats['width']}x{png_stats['height']}, {png_stats['distinct_colours']} colours, "
          f"{png_stats['chart_blue_pixels']} chart-blue pixels sampled; page: {html_stats['charts']} charts, "
          f"{html_stats['points']} points, {html_stats['lines']} lines")
    return 0


if __name__ == "__main__":
    sys.exit(main())
