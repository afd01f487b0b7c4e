"""Series tools: a result's series key (how it was measured), which results
of a window count, level shifts (step detection), sparklines and the leak
check. Pure functions; the trend views and the HTML charts both use them, so
a series means the same thing in every view.
"""
from __future__ import annotations

import math

from lib.judge.stats import _clean, _median, median
from lib.core.text import build_text

SPARK_BARS = "▁▂▃▄▅▆▇█"

# detect_steps is quadratic in the number of points: level shifts are looked
# for in the newest STEP_MAX_POINTS values only (bench/history_speed.py).
STEP_MAX_POINTS = 1000


def configuration(row: dict) -> str:
    """How a result was measured; only results measured alike make one series
    (the text trends and the HTML charts split on the same fields, those that
    make runs comparable: lib/db.py COMPARABLE_FIELDS)."""
    return (f"pod {row.get('pod')}, {build_text(row)}, {row.get('requests')} requests x "
            f"c{row.get('concurrency')}, {row.get('engine') or 'ab'}"
            + (", keep-alive" if row.get("keepalive") else "")
            + (f", open loop {row['rate']}/s" if row.get("rate") else ""))


def counted(rows: list[dict]) -> tuple[str | None, list[bool]]:
    """(the series drawn: the newest result's configuration; per row, does it
    count in the sparkline, level shifts and statistics?) Counted: usable,
    and measured like the series."""
    if not rows:
        return None, []
    main = configuration(rows[-1])
    return main, [usable(r) and configuration(r) == main for r in rows]


def usable(row: dict) -> bool:
    """A result a series can draw: ok, with a req/s figure, not a known-wrong legacy row."""
    return ((row.get("status") or "ok") == "ok" and row.get("requests_per_sec") is not None
            and not row.get("caveat"))


def level_shifts(values: list[float]) -> list[dict]:
    """[{index, direction, change_pct, before, after}] where the level of
    `values` shifted (indexes into `values`; before/after: the medians of the
    neighbouring segments)."""
    offset = max(0, len(values) - STEP_MAX_POINTS)
    window = values[offset:]
    cuts = detect_steps(window)
    bounds = [0, *cuts, len(window)]
    found = []
    for k, cut in enumerate(cuts, 1):
        before = median(window[bounds[k - 1]:cut])
        after = median(window[cut:bounds[k + 1]])
        change = (after - before) / before * 100 if before else None
        found.append({"index": offset + cut, "direction": "up" if after > before else "down",
                      "change_pct": None if change is None else round(change, 2),
                      "before": round(before, 2), "after": round(after, 2)})
    return found


def steps_of(rows: list[dict], counted_rows: list[bool]) -> dict[int, dict]:
    """{row index: {direction, change_pct, before, after}} where the req/s level
    of the counted rows shifted."""
    index = [i for i, c in enumerate(counted_rows) if c]
    values = [rows[i]["requests_per_sec"] for i in index]
    return {index[shift.pop("index")]: shift for shift in level_shifts(values)}


def _present(values) -> list[tuple[int, float]]:
    """(original index, value) for the measured points of a series."""
    out = []
    for i, v in enumerate(values or ()):
        if v is None:
            continue
        v = float(v)
        if not math.isnan(v):
            out.append((i, v))
    return out


def _sad(xs: list[float]) -> tuple[float, float]:
    """(median, sum of absolute deviations from it)."""
    m = _median(xs)
    return m, math.fsum(abs(x - m) for x in xs)


def _shift(left: list[float], right: list[float]) -> float:
    """Hodges-Lehmann shift: median of all pairwise differences right - left.

    Robust like a median difference, but it does not jump by a whole quantum
    on integer-ms data the way the two segment medians do.
    """
    return _median([y - x for x in left for y in right])


def _step_noise(seg: list[float]) -> float:
    """Noise (as a standard deviation) of a segment that may hold steps.

    Root mean square of the successive differences after dropping the
    largest 10% (at least one once there are 4): a step moves only one
    difference, so it is trimmed away, while integer-ms jitter (10, 11, 10,
    10, 11...) still counts fully (a median of the differences would be 0
    there and let any 1 ms wobble pass as a step). Dividing by 2 * 0.623
    makes it equal sigma**2 for Gaussian noise.
    """
    diffs = sorted(abs(seg[k + 1] - seg[k]) for k in range(len(seg) - 1))
    drop = max(1 if len(diffs) >= 4 else 0, len(diffs) // 10)
    keep = diffs[: len(diffs) - drop]
    if not keep:
        return 0.0
    return math.sqrt(math.fsum(d * d for d in keep) / len(keep) / (2 * 0.623))


def detect_steps(values, *, min_size: int = 3, threshold_pct: float = 5.0) -> list[int]:
    """Indices i where the level of ``values`` shifts between [:i] and [i:].

    Recursive binary segmentation (like asv's step detection, much simpler):
    in each segment pick the split minimizing the summed absolute deviations
    from the two sides' medians; keep it, and recurse into both sides, when
    both sides have >= min_size points and the shift between them (the
    Hodges-Lehmann estimate: median of all pairwise differences) is
    >= threshold_pct of the left median AND > 3x the segment's noise. Noise
    comes from successive differences (see _step_noise), not from the
    residuals of the fit, so a second step not split off yet does not hide
    the first one.

    A step fewer than min_size points from either end is reported at min_size
    points from that end (or not at all): each side needs min_size points.
    A single odd run is never a step. A steady drift is reported as several
    steps; use linear_slope for trends.
    None/NaN points are skipped; returned indices refer to ``values``.
    Quadratic in the segment length: fine for hundreds of runs.
    """
    pts = _present(values)
    xs = [v for _, v in pts]
    min_size = max(1, int(min_size))
    found: list[int] = []

    def split(lo: int, hi: int) -> None:
        if hi - lo < 2 * min_size:
            return
        seg = xs[lo:hi]
        noise = _step_noise(seg)
        best = None
        for i in range(lo + min_size, hi - min_size + 1):
            ml, cl = _sad(xs[lo:i])
            mr, cr = _sad(xs[i:hi])
            if best is None or cl + cr < best[0]:
                best = (cl + cr, i, ml, mr)
        _, i, ml, _mr = best
        jump = abs(_shift(xs[lo:i], xs[i:hi]))
        pct_ok = jump >= threshold_pct / 100.0 * abs(ml) if ml != 0 else jump > 0
        if pct_ok and jump > 3.0 * noise and jump > 0:
            found.append(i)
            split(lo, i)
            split(i, hi)

    split(0, len(xs))
    return sorted(pts[i][0] for i in found)


def sparkline(values, width: int | None = None) -> str:
    """One-line chart of ``values`` with "▁▂▃▄▅▆▇█", scaled min..max.

    None is drawn as " ", a constant series as all "▄" (middle). With ``width``
    and more values than that, consecutive buckets are averaged (ignoring
    None; an all-None bucket is " ") so the result is exactly ``width`` long.
    """
    vals: list[float | None] = []
    for v in values or ():
        vals.append(None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v))
    if width is not None and width >= 0 and len(vals) > width:
        n = len(vals)
        buckets: list[float | None] = []
        for w in range(width):
            chunk = [v for v in vals[w * n // width:(w + 1) * n // width] if v is not None]
            buckets.append(math.fsum(chunk) / len(chunk) if chunk else None)
        vals = buckets
    nums = [v for v in vals if v is not None]
    if not nums:
        return " " * len(vals)
    lo, hi = min(nums), max(nums)
    top = len(SPARK_BARS) - 1
    out = []
    for v in vals:
        if v is None:
            out.append(" ")
        elif hi == lo:
            out.append(SPARK_BARS[top // 2])
        else:
            out.append(SPARK_BARS[int(round((v - lo) / (hi - lo) * top))])
    return "".join(out)


def looks_like_leak(rss_values_kb, *, min_points: int = 3, min_growth_kb: float = 1024) -> bool:
    """True when memory only ever grows, and by at least ``min_growth_kb``.

    Rule: at least ``min_points`` measured values (None skipped), each >= the
    previous one (never released), and last - first >= min_growth_kb. A
    server that frees memory even once, or grows by less, is not flagged:
    warm-up caches grow a little and then stop.
    """
    xs = _clean(rss_values_kb)
    if len(xs) < max(2, min_points):
        return False
    if any(b < a for a, b in zip(xs, xs[1:])):
        return False
    return xs[-1] - xs[0] >= min_growth_kb
