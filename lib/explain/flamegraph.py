"""Folded stacks to an SVG flame graph, inline in an HTML page or a file of
its own. Pure functions, standard library only, no I/O, no network: nothing
in the SVG refers to anything outside it.

``svg(folded, title)`` draws a flame graph: the root (``all``) at the bottom,
each caller below its callees, a frame's width its samples, siblings sorted
by name (as flamegraph.pl does). Each frame's full name, samples and share
are in its ``<title>`` (shown on hover); its label is cut to fit the box.
Colours are warm and follow a hash of the name, so a function has the same
colour in every graph; given ``kinds`` (``Profile.kinds`` of lib/stacks.py)
the kernel's frames are blue, libraries' yellow, unknown ones grey and the
server's own stay warm.

``diff_svg(base, candidate, title)`` draws the candidate's shape coloured by
each frame's change from the base (the same call path): red grew, blue
shrank, grey unchanged, the deepest colour for the largest change. Change is
in samples per request when both request counts are given, else in share of
all samples. Paths found only in the base are not drawn (the note says how
many samples they had).

Frames narrower than ``MIN_WIDTH`` of the graph's width (0.1%) are not
drawn, nor anything above them (the note says how many samples that left
out): it keeps the SVG small and every drawn frame wide enough to see.

Clicking a frame zooms into it (its callees fill the width, its callers stay
below), clicking ``all`` zooms out: a small script, in the SVG when
``script=True``; a page inlining several graphs passes ``script=False`` and
adds ``ZOOM_SCRIPT`` once, which serves every ``svg.hbf-flame`` in it.
"""
from __future__ import annotations

import html
import zlib
from dataclasses import dataclass, field
from typing import Callable, Mapping

FRAME_HEIGHT = 16
FONT_SIZE = 11
CHAR_WIDTH = 0.59 * FONT_SIZE  # an average character of the font, for cutting labels
PAD = 10
TOP = 34  # room for the title
BOTTOM = 26  # room for the note
MIN_WIDTH = 0.001
ROOT = "all"
KIND_COLOURS = {"kernel": "blue", "library": "yellow", "unknown": "grey"}

ZOOM_SCRIPT = r"""(function () {
  function num(el, name) { return parseFloat(el.getAttribute(name)); }
  function label(g, width) {
    var text = g.querySelector('text'), name = g.querySelector('title').textContent.split('\n')[0];
    var fit = Math.floor((width - 6) / 6.49);
    text.textContent = fit < 3 ? '' : (name.length <= fit ? name : name.slice(0, fit - 2) + '..');
  }
  function setup(svg) {
    if (svg.getAttribute('data-zoom') === 'on') { return; }
    svg.setAttribute('data-zoom', 'on');
    var pad = num(svg, 'data-pad'), inner = num(svg, 'data-inner');
    var frames = Array.prototype.slice.call(svg.querySelectorAll('g.f'));
    function zoom(target) {
      var tx = num(target, 'data-x'), tw = num(target, 'data-w'), td = num(target, 'data-d');
      frames.forEach(function (g) {
        var x = num(g, 'data-x'), w = num(g, 'data-w'), d = num(g, 'data-d');
        var rect = g.querySelector('rect'), text = g.querySelector('text'), nx, nw;
        if (d < td && x <= tx && x + w >= tx + tw) { nx = pad; nw = inner; }
        else if (d >= td && x >= tx && x + w <= tx + tw) { nx = pad + (x - tx) / tw * inner; nw = w / tw * inner; }
        else { g.style.display = 'none'; return; }
        g.style.display = '';
        rect.setAttribute('x', nx.toFixed(2)); rect.setAttribute('width', nw.toFixed(2));
        text.setAttribute('x', (nx + 3).toFixed(2)); label(g, nw);
      });
    }
    frames.forEach(function (g) {
      g.style.cursor = 'pointer';
      g.addEventListener('click', function () { zoom(g); });
    });
  }
  Array.prototype.forEach.call(document.querySelectorAll('svg.hbf-flame'), setup);
})();
"""


@dataclass
class _Node:
    name: str
    value: int = 0
    children: dict[str, "_Node"] = field(default_factory=dict)


@dataclass(frozen=True)
class _Box:
    """A frame to draw: its call path, depth (0 = all), first sample and
    samples."""
    path: tuple[str, ...]
    depth: int
    start: int
    node: _Node


def _tree(folded: Mapping[str, int]) -> _Node:
    root = _Node(ROOT)
    for stack, count in folded.items():
        if count <= 0:
            continue
        root.value += count
        node = root
        for name in stack.split(";"):
            node = node.children.setdefault(name, _Node(name))
            node.value += count
    return root


def _boxes(root: _Node, min_samples: float) -> tuple[list[_Box], int]:
    """The frames wide enough to draw, and the samples of those left out."""
    boxes: list[_Box] = []
    dropped = 0
    todo = [((), 0, 0, root)]
    while todo:
        path, depth, start, node = todo.pop()
        boxes.append(_Box(path, depth, start, node))
        offset = start
        for name in sorted(node.children):
            child = node.children[name]
            if child.value < min_samples:
                dropped += child.value
            else:
                todo.append((path + (name,), depth + 1, offset, child))
            offset += child.value
    return boxes, dropped


def _hash(name: str, salt: bytes = b"") -> float:
    """A number in [0, 1) from the name, the same on every run and machine."""
    return (zlib.crc32(salt + name.encode("utf-8", "replace")) & 0xFFFF) / 0x10000


def colour(name: str, kind: str | None = None) -> str:
    """A frame's fill: warm (red to yellow) by a hash of its name, or the
    palette of its kind (``KIND_COLOURS``)."""
    v1, v2, v3 = _hash(name, b"1"), _hash(name, b"2"), _hash(name, b"3")
    palette = KIND_COLOURS.get(kind or "")
    if palette == "blue":
        r, g, b = 100 + 50 * v1, 150 + 45 * v1, 215 + 40 * v2
    elif palette == "yellow":
        r, g, b = 190 + 40 * v1, 190 + 40 * v1, 50 + 30 * v2
    elif palette == "grey":
        r = g = b = 170 + 40 * v1
    else:
        r, g, b = 205 + 50 * v3, 230 * v1, 55 * v2
    return f"rgb({int(r)},{int(g)},{int(b)})"


def diff_colour(change: float, largest: float) -> str:
    """Red for growth, blue for shrinkage, light grey for none; the deepest
    shade for a change as large as ``largest``."""
    strength = min(abs(change) / largest, 1.0) if largest > 0 else 0.0
    deep, light = int(round(235 - 195 * strength)), int(round(235 + 20 * strength))
    if change > 0:
        return f"rgb({light},{deep},{deep})"
    if change < 0:
        return f"rgb({deep},{deep},{light})"
    return "rgb(235,235,235)"


def _label(name: str, width: float) -> str:
    fit = int((width - 6) // CHAR_WIDTH)
    if fit < 3:
        return ""
    return name if len(name) <= fit else name[:fit - 2] + ".."


def _render(boxes: list[_Box], total: int, title: str, note: str, width: int,
            fill: Callable[[_Box], str], hover: Callable[[_Box], str], script: bool) -> str:
    inner = width - 2 * PAD
    depth = max(box.depth for box in boxes)
    height = TOP + (depth + 1) * FRAME_HEIGHT + BOTTOM
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="hbf-flame" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" data-pad="{PAD}" data-inner="{inner}" '
           f'font-family="Verdana, sans-serif" font-size="{FONT_SIZE}">',
           f'<rect x="0" y="0" width="{width}" height="{height}" fill="#fdfaf5"/>',
           f'<text x="{width / 2:.1f}" y="22" text-anchor="middle" font-size="16">{html.escape(title)}</text>']
    for box in sorted(boxes, key=lambda b: (b.depth, b.start)):
        x = PAD + box.start / total * inner
        w = box.node.value / total * inner
        y = TOP + (depth - box.depth) * FRAME_HEIGHT
        name = box.node.name
        out.append(f'<g class="f" data-x="{box.start / total * inner:.2f}" data-w="{w:.2f}" '
                   f'data-d="{box.depth}"><title>{html.escape(name)}\n{html.escape(hover(box))}</title>'
                   f'<rect x="{x:.2f}" y="{y}" width="{w:.2f}" height="{FRAME_HEIGHT - 1}" rx="2" '
                   f'fill="{fill(box)}"/><text x="{x + 3:.2f}" y="{y + FRAME_HEIGHT - 4}">'
                   f'{html.escape(_label(name, w))}</text></g>')
    out.append(f'<text x="{PAD}" y="{height - 8}" font-size="10" fill="#555">{html.escape(note)}</text>')
    if script:
        out.append(f'<script type="text/javascript"><![CDATA[\n{ZOOM_SCRIPT}]]></script>')
    out.append("</svg>")
    return "\n".join(out)


def _note(total: int, dropped: int, extra: str = "") -> str:
    note = (f"{total:,} samples. Flame graph: root at the bottom, width = samples; click a frame "
            f"to zoom, '{ROOT}' to zoom out.")
    if dropped:
        note += (f" Frames narrower than {MIN_WIDTH:.1%} of the width are not drawn "
                 f"({dropped:,} samples, {dropped / total:.1%}).")
    return note + extra


def _empty(title: str, width: int) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="hbf-flame" width="{width}" height="60" '
            f'viewBox="0 0 {width} 60" font-family="Verdana, sans-serif" font-size="{FONT_SIZE}">'
            f'<text x="{width / 2:.1f}" y="22" text-anchor="middle" font-size="16">{html.escape(title)}</text>'
            f'<text x="{PAD}" y="48">No samples.</text></svg>')


def svg(folded: Mapping[str, int], title: str, width: int = 1200,
        kinds: Mapping[str, str] | None = None, script: bool = True) -> str:
    """A flame graph of ``folded`` (``{"root;...;leaf": samples}``) as SVG
    text; ``kinds`` maps frame names to ``kernel``/``library``/``unknown``/
    ``server`` for their colours (see the module's docstring)."""
    root = _tree(folded)
    if not root.value:
        return _empty(title, width)
    boxes, dropped = _boxes(root, root.value * MIN_WIDTH)
    total = root.value

    def hover(box: _Box) -> str:
        return f"{box.node.value:,} samples, {box.node.value / total:.2%}"

    def fill(box: _Box) -> str:
        return colour(box.node.name, (kinds or {}).get(box.node.name)) if box.depth else "rgb(220,200,180)"

    return _render(boxes, total, title, _note(total, dropped), width, fill, hover, script)


def _find(root: _Node, path: tuple[str, ...]) -> _Node | None:
    node: _Node | None = root
    for name in path:
        node = node.children.get(name) if node else None
    return node


def _gone(base: _Node, cand: _Node) -> int:
    """Samples of the base on call paths the candidate never took."""
    gone = 0
    todo = [(base, cand)]
    while todo:
        b, c = todo.pop()
        for name, child in b.children.items():
            if name in c.children:
                todo.append((child, c.children[name]))
            else:
                gone += child.value
    return gone


def diff_svg(base_folded: Mapping[str, int], cand_folded: Mapping[str, int], title: str,
             width: int = 1200, base_requests: int | None = None, cand_requests: int | None = None,
             freq_hz: float | None = None, script: bool = True) -> str:
    """A differential flame graph: the candidate's shape, each frame red
    (grew) or blue (shrank) by its change from the base on the same call
    path, per request when both request counts are given (µs per request in
    the hover when ``freq_hz`` is too), else as a share of all samples."""
    base, cand = _tree(base_folded), _tree(cand_folded)
    if not cand.value:
        return _empty(title, width)
    per_request = bool(base_requests and cand_requests)

    def measure(value: int, total: int, requests: int | None) -> float:
        if per_request:
            return value / requests * (1e6 / freq_hz if freq_hz else 1.0)
        return value / total if total else 0.0

    boxes, dropped = _boxes(cand, cand.value * MIN_WIDTH)
    figures = {}
    for box in boxes:
        found = _find(base, box.path)
        figures[box.path] = (measure(found.value if found else 0, base.value, base_requests),
                             measure(box.node.value, cand.value, cand_requests))
    largest = max((abs(c - b) for path, (b, c) in figures.items() if path), default=0.0)

    def fill(box: _Box) -> str:
        b, c = figures[box.path]
        return diff_colour(c - b, largest)

    def hover(box: _Box) -> str:
        b, c = figures[box.path]
        pct = f" ({(c - b) / b:+.1%})" if b else " (new)"
        if not per_request:
            change = f"{b:.2%} → {c:.2%} of samples{pct}"
        elif freq_hz:
            change = f"{b:,.1f} → {c:,.1f} µs/request{pct}"
        else:
            change = f"{b:.4f} → {c:.4f} samples/request{pct}"
        return f"{box.node.value:,} samples, {box.node.value / cand.value:.2%}; {change}"

    unit = "CPU per request" if per_request else "share of samples"
    extra = f" Red grew, blue shrank ({unit}, base → candidate, same call path)."
    if gone := _gone(base, cand):
        extra += f" Call paths only in the base ({gone:,} of its {base.value:,} samples) are not drawn."
    return _render(boxes, cand.value, title, _note(cand.value, dropped, extra), width, fill, hover, script)
