"""`show_results.py --html FILE`: one self-contained page (inline SVG and CSS,
a few lines of inline JavaScript for hover, nothing fetched from anywhere).

- a trend chart per endpoint: req/s (top) and p99 latency (bottom) over the
  runs of the window, for the configurations the newest run was measured in
  (pod, build mode, requests; one colour per concurrency level of a sweep),
  level shifts (lib/stats.detect_steps) drawn as labelled dashed lines, the
  latest run's regressions/improvements ringed, failed or crashed results as
  red crosses; hovering a run shows its commit and figures (SVG <title>, so
  it works without JavaScript too);
- the latest run's results with the verdicts against its baseline;
- the run list.

Every text from the database is escaped (html.escape), so notes holding
markup or quotes show as typed.
"""
from __future__ import annotations

import math
from html import escape

from lib.explain import flamegraph
from lib.judge import stats
from lib.core.errors import BenchError
from lib.judge.series import configuration, level_shifts, usable
from lib.core.text import build_text, commit_text, now_text, result_key, status_text, sweeps, timestamp_text

PALETTE = ("#2563eb", "#d97706", "#059669", "#7c3aed", "#db2777", "#0891b2", "#65a30d", "#6b7280")
RED, GREEN = "#dc2626", "#16a34a"
# Chart geometry (SVG user units; the SVG scales to its card's width).
W, H = 640, 290
LEFT, RIGHT = 64, 14
TOP_Y0, TOP_Y1 = 26, 166  # req/s panel
BOT_Y0, BOT_Y1 = 196, 256  # p99 panel
X_LABEL_Y = 274


class NothingToDraw(BenchError):
    """No run matches: nothing to draw (exit 2 with this line)."""


def e(value) -> str:
    """Escaped text for element content and attribute values."""
    return escape("" if value is None else str(value), quote=True)


def fmt(value, digits: int | None = None) -> str:
    if value is None:
        return "–"
    if not isinstance(value, (int, float)):
        return e(value)  # text where a number belongs (a hand-edited database): shown, inert
    if value == 0:
        return "0"
    if digits is not None:
        return f"{value:,.{digits}f}"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:,.1f}"
    return f"{value:,.2f}"


def nice_ticks(lo: float, hi: float, count: int = 4) -> list[float]:
    """Round tick values covering lo..hi (about `count` of them)."""
    if hi <= lo:
        hi = lo + (abs(lo) or 1.0)
    raw = (hi - lo) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    start = math.floor(lo / step) * step
    ticks = []
    value = start
    while value <= hi + step * 1e-9:
        ticks.append(round(value, 10))
        value += step
    if ticks[-1] < hi:
        ticks.append(round(value, 10))
    return ticks


def _config(run: dict, row: dict) -> str:
    """The series a result belongs to: the same key as the text trends."""
    return configuration({**run, **row})


def build(db, *, limit: int, filters: dict, threshold_pct: float = 5.0) -> str:
    """The whole page as text. `filters` are list_runs' (branch, build_mode, pod,
    since, status). Raises NothingToDraw when no run matches."""
    started = now_text()
    runs_desc = db.list_runs(limit=limit, **filters)
    if not runs_desc:
        raise NothingToDraw("--html: no runs to draw" + (" match the filters" if any(filters.values()) else
                                              ": run benchmark.py first"))
    runs = list(reversed(runs_desc))  # oldest first, left to right
    by_id = {r["run_id"]: r for r in runs}
    position = {r["run_id"]: i for i, r in enumerate(runs)}
    rows = db.chart_rows([r["run_id"] for r in runs])

    from lib.show import report
    # The latest run a user started: a confirmation's pair is part of the run it confirms.
    latest = next((r for r in reversed(runs) if r.get("confirms") is None), runs[-1])
    gathered = report.collect(db, latest["run_id"], threshold_pct=threshold_pct)
    several = sweeps(gathered.results)

    # The charts draw the configurations the newest run was measured in (pod,
    # build mode, requests, each concurrency level): a dbg build or another
    # load in between would otherwise stretch the scale and fake level shifts.
    newest = next((r["run_id"] for r in reversed(runs) if any(x["run_id"] == r["run_id"] for x in rows)),
                  None)
    configs = list(dict.fromkeys(_config(by_id[r["run_id"]], r) for r in rows if r["run_id"] == newest))
    drawn = [r for r in rows if _config(by_id[r["run_id"]], r) in configs]
    left_out: dict[str, set] = {}
    for row in rows:
        key = _config(by_id[row["run_id"]], row)
        if key not in configs:
            left_out.setdefault(key, set()).add(row["run_id"])
    colour = {c: PALETTE[i % len(PALETTE)] for i, c in enumerate(configs)}
    verdicts = {(entry.endpoint, entry.concurrency): entry
                for entry in gathered.comparison.endpoints.values()}

    # Endpoints in the latest run's order first, then any others.
    order = list(dict.fromkeys([r["endpoint"] for r in gathered.results] + [r["endpoint"] for r in drawn]))
    charts = []
    for endpoint in order:
        mine = [r for r in drawn if r["endpoint"] == endpoint]
        if mine:
            charts.append(_chart(endpoint, mine, runs, by_id, position, colour, verdicts, latest))

    body = [
        _header(db, runs, filters, started),
        _legend(configs, colour, left_out),
        '<section class="charts">', *charts, "</section>",
        _latest_table(gathered, several),
        _flame_graphs(gathered),
        _run_list(runs_desc),
    ]
    title = e(f"HBF benchmark history: runs {runs[0]['run_id']}..{latest['run_id']}")
    # Plain replacement, not str.format: the CSS and the script are full of braces.
    script = _SCRIPT + (flamegraph.ZOOM_SCRIPT if gathered.profiles else "")
    return (_PAGE.replace("@TITLE@", title).replace("@CSS@", _CSS).replace("@SCRIPT@", script)
            .replace("@BODY@", "\n".join(body)))


# ----------------------------------------------------------------- parts

def _header(db, runs: list[dict], filters: dict, started: str) -> str:
    shown = ", ".join(f"{k.replace('_', '-')} {v}" for k, v in filters.items() if v is not None)
    return (f'<header><h1>HBF benchmark history</h1>'
            f'<p class="meta">{len(runs)} run(s), {e(timestamp_text(runs[0]["timestamp"]))} to {e(timestamp_text(runs[-1]["timestamp"]))}'
            f' (runs {runs[0]["run_id"]}..{runs[-1]["run_id"]})'
            + (f'; filtered by {e(shown)}' if shown else "")
            + f'. Database <code>{e(db.path)}</code>, generated {e(started)}.</p></header>')


def _legend(configs: list[str], colour: dict, left_out: dict) -> str:
    items = "".join(f'<span class="key"><i style="background:{colour[c]}"></i>{e(c)}</span>'
                    for c in configs)
    note = ""
    if left_out:
        note = ('<p class="note">Charts show the newest run&#39;s configuration. Not drawn: '
                + "; ".join(f"{e(k)} ({len(v)} run(s))" for k, v in left_out.items())
                + ". Draw those with --pod / --build-mode; they are in the run list below.</p>")
    marks = (f'<span class="key"><b style="color:{RED}">×</b> failed / crashed</span>'
             f'<span class="key"><b style="color:{GREEN}">┆▲</b> / <b style="color:{RED}">┆▼</b> '
             f'req/s level shift</span>'
             f'<span class="key"><b style="color:{RED}">◯</b> latest run regressed</span>')
    return f'<p class="legend">{items}{marks}</p>{note}'


def _scale(lo: float, hi: float, y0: float, y1: float):
    ticks = nice_ticks(lo, hi, 4 if y1 - y0 > 100 else 2)
    t0, t1 = ticks[0], ticks[-1]
    span = (t1 - t0) or 1.0
    return ticks, (lambda v: y1 - (v - t0) / span * (y1 - y0))


def _x(i: int, n: int) -> float:
    width = W - LEFT - RIGHT
    return LEFT + (width / 2 if n == 1 else i * width / (n - 1))


def _chart(endpoint: str, rows: list[dict], runs: list[dict], by_id: dict, position: dict,
           colour: dict, verdicts: dict, latest: dict) -> str:
    """One endpoint's card: its heading, then req/s (top) and p99 (bottom) over the runs."""
    n = len(runs)
    ok = [r for r in rows if usable(r)]
    rps = [r["requests_per_sec"] for r in ok]
    p99 = [r["p99_ms"] for r in ok if r.get("p99_ms") is not None]
    y_rps = _scale(min(rps), max(rps), TOP_Y0, TOP_Y1)[1] if rps else None
    y_p99 = _scale(min(p99), max(p99), BOT_Y0, BOT_Y1)[1] if p99 else None
    x_of = {run_id: _x(i, n) for run_id, i in position.items()}
    svg = [f'<svg viewBox="0 0 {W} {H}" role="img" aria-label="{e(endpoint)}: req/s and p99 over runs">',
           *_axes(runs, rps, p99)]
    if not ok:
        svg.append(f'<text class="empty" x="{W / 2}" y="{(TOP_Y0 + TOP_Y1) / 2}" text-anchor="middle">'
                   'no ok result in this window</text>')
    series: dict[str, list[dict]] = {}
    for row in ok:  # one line per configuration
        series.setdefault(_config(by_id[row["run_id"]], row), []).append(row)
    for key, members in series.items():
        svg += _lines(members, colour[key], x_of, y_rps, y_p99)
    for key, members in series.items():
        svg += _level_shifts(members, position, n)
    svg += _failures(rows, x_of)
    svg += _rings([r for r in rows if r["run_id"] == latest["run_id"] and usable(r)], verdicts, x_of,
                  y_rps, y_p99)
    svg += _hover_columns(rows, by_id, x_of, n)
    svg.append("</svg>")
    return '<article class="card">' + _chart_head(endpoint, rows, rps, verdicts, latest) + "".join(svg) + "</article>"


def _axes(runs: list[dict], rps: list[float], p99: list[float]) -> list[str]:
    """Both panels with their grid lines and ticks, and the run ids below."""
    svg = []
    for label, (y0, y1), values in (("req/s", (TOP_Y0, TOP_Y1), rps), ("p99 ms", (BOT_Y0, BOT_Y1), p99)):
        svg.append(f'<rect class="panel" x="{LEFT}" y="{y0}" width="{W - LEFT - RIGHT}" height="{y1 - y0}"/>')
        svg.append(f'<text class="axis-title" x="{LEFT - 58}" y="{y0 - 8}">{label}</text>')
        if values:
            ticks, y_of = _scale(min(values), max(values), y0, y1)
            for tick in ticks:
                y = y_of(tick)
                svg.append(f'<line class="grid" x1="{LEFT}" x2="{W - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>')
                svg.append(f'<text class="tick" x="{LEFT - 6}" y="{y + 3:.1f}" text-anchor="end">'
                           f'{fmt(tick)}</text>')
    n = len(runs)
    for i in sorted({0, n - 1, *range(0, n, max(1, math.ceil(n / 6)))}):
        if i < n and (i == n - 1 or n - 1 - i >= max(1, n // 12)):
            svg.append(f'<text class="tick" x="{_x(i, n):.1f}" y="{X_LABEL_Y}" text-anchor="middle">'
                       f'{runs[i]["run_id"]}</text>')
    svg.append(f'<text class="tick" x="{W - RIGHT}" y="{H - 2}" text-anchor="end">run</text>')
    return svg


def _lines(members: list[dict], c: str, x_of: dict, y_rps, y_p99) -> list[str]:
    """One configuration's req/s and p99 as lines with points."""
    svg = []
    for points, width, radius in (
            ([(x_of[r["run_id"]], y_rps(r["requests_per_sec"])) for r in members], "line", 2.6),
            ([(x_of[r["run_id"]], y_p99(r["p99_ms"])) for r in members if r.get("p99_ms") is not None],
             "line thin", 2)):
        if len(points) > 1:
            svg.append(f'<polyline class="{width}" stroke="{c}" points="'
                       + " ".join(f"{x:.1f},{y:.1f}" for x, y in points) + '"/>')
        svg += [f'<circle class="pt" cx="{x:.1f}" cy="{y:.1f}" r="{radius}" fill="{c}"/>' for x, y in points]
    return svg


def _level_shifts(members: list[dict], position: dict, n: int) -> list[str]:
    """A labelled dashed line where one configuration's req/s level shifted."""
    svg = []
    for shift in level_shifts([r["requests_per_sec"] for r in members]):
        row = members[shift["index"]]
        i, change = position[row["run_id"]], shift["change_pct"] or 0.0
        x = (_x(i, n) + _x(max(i - 1, 0), n)) / 2
        c = GREEN if change > 0 else RED
        arrow = "▲" if change > 0 else "▼"
        label = f"level shift at run {row['run_id']}: {change:+.1f}% req/s"
        svg.append(f'<line class="step" x1="{x:.1f}" x2="{x:.1f}" y1="{TOP_Y0}" y2="{BOT_Y1}" stroke="{c}">'
                   f'<title>{e(label)}</title></line>')
        anchor = "end" if x > W - 80 else "start"
        svg.append(f'<text class="step-label" x="{x + (-3 if anchor == "end" else 3):.1f}" y="{TOP_Y0 + 11}" '
                   f'fill="{c}" text-anchor="{anchor}">{arrow}{change:+.1f}%</text>')
    return svg


def _failures(rows: list[dict], x_of: dict) -> list[str]:
    """Failed, crashed, timed-out results: a red cross at the bottom of the req/s panel."""
    svg = []
    y = TOP_Y1 - 6
    for row in rows:
        if (row.get("status") or "ok") != "ok":
            x = x_of[row["run_id"]]
            svg.append(f'<path class="bad" d="M{x - 4:.1f},{y - 4:.1f}L{x + 4:.1f},{y + 4:.1f}'
                       f'M{x - 4:.1f},{y + 4:.1f}L{x + 4:.1f},{y - 4:.1f}"/>')
    return svg


def _rings(latest_rows: list[dict], verdicts: dict, x_of: dict, y_rps, y_p99) -> list[str]:
    """The latest run's req/s and p99 regressions and improvements, ringed on their panels."""
    svg = []
    for row in latest_rows:
        entry = verdicts.get((row["endpoint"], row["concurrency"]))
        if not entry:
            continue
        for verdict, y_of, figure in ((entry.rps, y_rps, row["requests_per_sec"]),
                                      (entry.metrics["p99_ms"], y_p99, row.get("p99_ms"))):
            if verdict.called and y_of is not None and figure is not None:
                c = RED if verdict.verdict == stats.REGRESSED else GREEN
                svg.append(f'<circle class="ring" cx="{x_of[row["run_id"]]:.1f}" cy="{y_of(figure):.1f}" '
                           f'r="7" stroke="{c}"><title>{e(verdict.label + " " + verdict.verdict + ": " + verdict.explanation)}'
                           '</title></circle>')
    return svg


def _hover_columns(rows: list[dict], by_id: dict, x_of: dict, n: int) -> list[str]:
    """One column per run; its <title> names the commit and the figures."""
    per_run: dict[int, list[dict]] = {}
    for row in rows:
        per_run.setdefault(row["run_id"], []).append(row)
    width = (W - LEFT - RIGHT) / max(n - 1, 1)
    svg = []
    for run_id, members in per_run.items():
        run = by_id[run_id]
        lines = [f"run {run_id} · {timestamp_text(run['timestamp'])}",
                 f"{commit_text(run)} · {build_text(run)}, "
                 f"pod {run.get('pod')}"]
        for row in members:
            status = row.get("status") or "ok"
            figures = f"{fmt(row['requests_per_sec'])} req/s, p99 {fmt(row.get('p99_ms'))} ms"
            if status != "ok":
                figures = status_text(row) + (f": {row['error']}" if row.get("error") else "")
            elif row.get("caveat"):
                figures += " (untrusted)"
            lines.append(f"c={row['concurrency']}: {figures}")
        if run.get("notes"):
            lines.append(f"notes: {run['notes']}")
        svg.append(f'<rect class="hit" data-run="{run_id}" x="{x_of[run_id] - width / 2:.1f}" y="{TOP_Y0}" '
                   f'width="{max(width, 2):.1f}" height="{BOT_Y1 - TOP_Y0}">'
                   f'<title>{e(chr(10).join(lines))}</title></rect>')
    return svg


def _chart_head(endpoint: str, rows: list[dict], rps: list[float], verdicts: dict, latest: dict) -> str:
    category = rows[0]["category"] if rows else ""
    head = [f'<h2><span class="cat">{e(category)}</span> {e(endpoint)}</h2>']
    latest_rows = [r for r in rows if r["run_id"] == latest["run_id"]]
    if latest_rows:
        r = latest_rows[0]
        summary = e(f"latest {fmt(r['requests_per_sec'])} req/s, p99 {fmt(r.get('p99_ms'))} ms"
                    if usable(r) else f"latest: {r.get('status')}")
        entry = verdicts.get((r["endpoint"], r["concurrency"]))
        if entry:
            summary += " · " + _badges(entry, with_change=True)
        head.append(f'<p class="sub">{summary}</p>')
    if rps:
        head.append(f'<p class="sub">min {fmt(min(rps))} · median {fmt(stats.median(rps))} · '
                    f'max {fmt(max(rps))} req/s over {len(rps)} ok result(s)</p>')
    return "".join(head)


def _badge(verdict, with_change: bool = False) -> str:
    """One metric's call as a coloured badge; its explanation on hover."""
    kind = {stats.REGRESSED: "bad", stats.IMPROVED: "good"}.get(verdict.verdict, "neutral")
    label = verdict.verdict if verdict.metric == "requests_per_sec" else f"{verdict.label} {verdict.verdict}"
    change = f" {verdict.change_pct:+.1f}%" if with_change and verdict.change_pct is not None else ""
    return f'<span class="badge {kind}" title="{e(verdict.explanation)}">{e(label)}{e(change)}</span>'


def _badges(entry, with_change: bool = False) -> str:
    """req/s's verdict, then a badge for every other metric called."""
    return " ".join(_badge(v, with_change) for v in [entry.rps] + [m for m in entry.calls if m is not entry.rps])


def _latest_table(gathered, several: bool) -> str:
    from lib.show.report import verdict_line
    run = gathered.run
    comparison = gathered.comparison
    base = comparison.baseline if comparison.compared else None
    out = [f'<section><h2>Latest run {run["run_id"]}: {e(run.get("status"))}</h2>',
           f'<p class="meta">{e(timestamp_text(run["timestamp"]))} · <code>{e(commit_text(run))}</code> · '
           f'{e(build_text(run))}, pod {e(run.get("pod"))} · '
           f'{e(run.get("requests"))} requests x c{e(run.get("concurrency"))}'
           + (f' · compared with run {base["run_id"]} ({e(commit_text(base))})' if base else "")
           + "</p>"]
    if run.get("notes"):
        out.append(f'<p class="notes">{e(run["notes"])}</p>')
    out.append(f'<p class="verdict">{e(verdict_line(gathered))}</p>')
    for note in comparison.notes:
        out.append(f'<p class="note">Note: {e(note)}</p>')
    out.append('<table><thead><tr><th>category</th><th>endpoint</th><th>req/s</th><th>p50 ms</th>'
               '<th>p99 ms</th><th>CPU µs/req</th><th>status</th><th>change</th><th>verdict</th></tr></thead><tbody>')
    # By endpoint and concurrency, not by key: a sweep on one side only keys them differently.
    verdicts = {(e.endpoint, e.concurrency): e for e in comparison.endpoints.values()}
    for row in gathered.results:
        out.append(_latest_row(row, result_key(row, several), verdicts.get((row["endpoint"], row["concurrency"]))))
    if not gathered.results:
        out.append('<tr><td colspan="9">no results stored for this run</td></tr>')
    out.append("</tbody></table></section>")
    return "\n".join(out)


def _latest_row(row: dict, key: str, entry) -> str:
    status = row.get("status") or "ok"
    status_html = e(status_text(row))
    if row.get("error"):
        status_html = f'<span title="{e(row["error"])}">{status_html}</span>'
    cls = "" if status == "ok" else ' class="problem"'
    change = "–" if not entry or entry.rps.change_pct is None else f"{entry.rps.change_pct:+.1f}%"
    if entry and entry.rps.paired and entry.rps.change_pct is not None:
        change += " <small>pairs</small>"
    verdict = "–"
    if entry:
        verdict = _badges(entry) + f' <small>{e(entry.rps.explanation)}</small>'
    return (f'<tr{cls}><td>{e(row["category"])}</td><td>{e(key)}</td>'
            f'<td class="n">{fmt(row.get("requests_per_sec"), 1)}</td>'
            f'<td class="n">{fmt(row.get("p50_ms"), 2)}</td><td class="n">{fmt(row.get("p99_ms"), 2)}</td>'
            f'<td class="n">{fmt(row.get("server_cpu_us_per_req"), 0)}</td><td>{status_html}</td>'
            f'<td class="n">{change}</td><td>{verdict}</td></tr>')


def _flame_graphs(gathered) -> str:
    """The latest run's profiles (--profile): a flame graph per endpoint, and
    side by side a differential one (red grew, blue shrank per request)."""
    if not gathered.profiles:
        return ""
    run_id = gathered.run["run_id"]
    out = [f'<section class="flames"><h2>Where run {run_id} spent its CPU (perf; hover a frame for its '
           "name and samples, click to zoom)</h2>"]
    for key, prof in gathered.profiles.items():
        out.append(flamegraph.svg(prof.folded, f"{key}: run {run_id}, {prof.samples} samples",
                                  kinds=prof.frame_kinds, script=False))
        if prof.against_folded is not None:
            out.append(flamegraph.diff_svg(
                prof.against_folded, prof.folded, f"{key}: run {prof.against_run} → run {run_id}",
                base_requests=prof.against_requests, cand_requests=prof.requests,
                freq_hz=prof.frequency, script=False))
    return "\n".join(out + ["</section>"])


def _run_list(runs_desc: list[dict]) -> str:
    out = [f'<section><h2>Runs ({len(runs_desc)}, newest first)</h2><table class="runs"><thead><tr>'
           '<th>run</th><th>time</th><th>commit</th><th>branch</th><th>build</th><th>pod</th>'
           '<th>status</th><th>ok</th><th>notes</th></tr></thead><tbody>']
    for run in runs_desc:
        ok = run["result_count"] - (run["problem_count"] or 0)
        cls = "" if run.get("status") in ("complete", None) else ' class="problem"'
        out.append(f'<tr data-run="{run["run_id"]}"{cls}><td class="n">{run["run_id"]}</td>'
                   f'<td>{e(timestamp_text(run["timestamp"]))}</td><td><code>{e(run.get("git_commit"))}</code></td>'
                   f'<td>{e(run.get("git_branch"))}</td><td>{e(run.get("build_mode"))}</td>'
                   f'<td>{e(run.get("pod"))}</td><td>{e(run.get("status"))}</td>'
                   f'<td class="n">{ok}/{run["result_count"]}</td>'
                   f'<td class="notes">{e(run.get("notes") or "")}</td></tr>')
    out.append("</tbody></table></section>")
    return "\n".join(out)


_CSS = """
:root { --fg: #111827; --muted: #6b7280; --bg: #f9fafb; --card: #fff; --line: #e5e7eb; }
* { box-sizing: border-box; }
body { margin: 0; padding: 20px 28px; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif;
       color: var(--fg); background: var(--bg); }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 16px; margin: 0 0 4px; }
.meta, .sub { color: var(--muted); margin: 2px 0; } code { font-size: 12px; }
.legend { display: flex; flex-wrap: wrap; gap: 6px 18px; margin: 10px 0 14px; color: var(--muted); }
.key i { display: inline-block; width: 14px; height: 4px; margin-right: 6px; vertical-align: middle; }
.key b { margin-right: 4px; }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(600px, 1fr)); gap: 16px; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px 6px; }
.cat { font-weight: 400; color: var(--muted); font-size: 13px; margin-right: 4px; }
svg { width: 100%; height: auto; display: block; margin-top: 6px; font-family: inherit; }
.panel { fill: #fcfcfd; stroke: var(--line); }
.grid { stroke: #eef0f3; } .tick { fill: var(--muted); font-size: 10px; }
.axis-title { fill: var(--fg); font-size: 11px; font-weight: 600; }
.line { fill: none; stroke-width: 1.6; stroke-linejoin: round; } .line.thin { stroke-width: 1.1; opacity: .8; }
.step { stroke-dasharray: 4 3; stroke-width: 1.3; } .step-label { font-size: 11px; font-weight: 700; }
.bad { stroke: #dc2626; stroke-width: 2; } .ring { fill: none; stroke-width: 2.2; }
.empty { fill: var(--muted); font-size: 12px; }
.hit { fill: transparent; } .hit:hover, .hit.hl { fill: rgba(37, 99, 235, .10); }
section { margin-top: 26px; }
table { border-collapse: collapse; background: var(--card); border: 1px solid var(--line); width: 100%; }
th, td { padding: 5px 9px; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
th { background: #f3f4f6; font-weight: 600; font-size: 12px; } td.n { text-align: right; font-variant-numeric: tabular-nums; }
tr.problem td { background: #fef2f2; } tr.hl td { background: #eff6ff; }
td.notes, p.notes { white-space: pre-wrap; overflow-wrap: anywhere; max-width: 520px; unicode-bidi: isolate; }
.badge { display: inline-block; padding: 0 7px; border-radius: 9px; font-size: 12px; font-weight: 600; }
.badge.bad { background: #fee2e2; color: #991b1b; } .badge.good { background: #dcfce7; color: #166534; }
.badge.neutral { background: #f3f4f6; color: #374151; }
.verdict { font-weight: 600; } .note { color: #92400e; }
small { color: var(--muted); }
#tip { position: fixed; pointer-events: none; background: #111827; color: #fff; padding: 6px 9px;
       border-radius: 6px; font-size: 12px; white-space: pre; display: none; z-index: 9; max-width: 60ch; }
"""

# Hover: highlight the run in every chart and the run list, and show the
# column's <title> at once (the browser's own tooltip waits a second).
_SCRIPT = """
(function () {
  var tip = document.getElementById('tip');
  function mark(run, on) {
    document.querySelectorAll('[data-run="' + run + '"]').forEach(function (el) {
      el.classList.toggle('hl', on);
    });
  }
  document.querySelectorAll('rect.hit').forEach(function (rect) {
    var title = rect.querySelector('title');
    var text = title ? title.textContent : '';
    rect.addEventListener('mouseenter', function () {
      mark(rect.getAttribute('data-run'), true);
      tip.textContent = text; tip.style.display = 'block';
    });
    rect.addEventListener('mousemove', function (ev) {
      tip.style.left = Math.min(ev.clientX + 14, window.innerWidth - tip.offsetWidth - 8) + 'px';
      tip.style.top = (ev.clientY + 14) + 'px';
    });
    rect.addEventListener('mouseleave', function () {
      mark(rect.getAttribute('data-run'), false); tip.style.display = 'none';
    });
  });
})();
"""

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<title>@TITLE@</title>
<style>@CSS@</style>
</head>
<body>
@BODY@
<div id="tip"></div>
<script>@SCRIPT@</script>
</body>
</html>
"""
