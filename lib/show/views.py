"""show_results.py's terminal views, rendered from the data lib/show/history.py
gathers: the run list, one comparison of two runs, trends. Padded Markdown
tables that read well in a terminal and render on GitHub; every text from
the database goes through lib/text.cell. (One run's report is lib/show/report.py.)
"""
from __future__ import annotations

from lib.core.text import build_text, cell, commit_text, md, num, pct, status_text, table, timestamp_text

NOTES_WIDTH = 40


# ----------------------------------------------------------------- list

def render_list(data: dict) -> str:
    runs = data["runs"]
    if not runs:
        if data["filters"]:
            shown = ", ".join(f"--{k.replace('_', '-')} {v}" for k, v in data["filters"].items())
            return f"No runs match {shown} ({data['total_runs']} run(s) in {data['database']})."
        return f"No runs in {data['database']} yet: run benchmark.py first."
    rows = []
    for run in runs:
        rows.append([str(run["run_id"]), cell(run["timestamp"]), cell(run.get("git_commit")),
                     cell(run.get("git_branch"), 24), cell(run.get("build_mode")), cell(run.get("pod")),
                     cell(run.get("status")), f"{run['results_ok']}/{run['results_total']}",
                     "kept" if run.get("binary_kept") else "–",
                     cell(side_label(run) + (run.get("notes") or ""), NOTES_WIDTH)])
    out = table(["run", "time", "commit", "branch", "build", "pod", "status", "ok", "binary", "notes"],
                rows, right={0, 7})
    scope = f"the newest {len(runs)}" if len(runs) == data["limit"] else f"{len(runs)}"
    where = " matching " + ", ".join(f"{k}={v}" for k, v in data["filters"].items()) \
        if data["filters"] else ""
    out += ["", f"{scope} of {data['total_runs']} run(s){where}, newest first. "
                "More: --limit N; one run: --run ID; notes in full: --json."]
    store = data.get("binary_store")
    if store and store["files"]:
        out.append(f"kept binaries: {store['files']} ({store['bytes'] / 1e6:.1f} MB in {cell(store['path'])}); "
                   "a run marked kept can be measured again: benchmark.py --against RUN")
    return "\n".join(out)


def side_label(run: dict) -> str:
    """'[baseline of 12] ' for the runs of a side-by-side measurement, else ''."""
    if run.get("side") == "baseline":
        return f"[baseline of {run.get('paired_with')}] "
    if run.get("side") == "candidate":
        return f"[side by side with {run.get('paired_with')}] "
    return ""


# -------------------------------------------------------------- compare

def render_compare(comparison) -> str:
    """Both runs' metadata, then the comparison as a run's report shows it."""
    from lib.show.comparison_view import comparison_lines, comparison_verdict
    a, b = comparison.baseline, comparison.run
    out = [f"# Run {a['run_id']} → run {b['run_id']}", ""]
    out += table(["", f"run {a['run_id']} (baseline)", f"run {b['run_id']}"],
                 [[name, cell(value(a)), cell(value(b))] for name, value in _META])
    out.append("")
    out += [f"> Note: {cell(note)}" for note in comparison.notes]
    if comparison.notes:
        out.append("")
    if comparison.summary is None:
        out.append("**Verdict:** not compared")
        return "\n".join(out) + "\n"
    out += comparison_lines(comparison)
    out.append(f"**Verdict:** {md(comparison_verdict(comparison))}")
    return "\n".join(out) + "\n"


def _load(run: dict) -> str:
    return (f"{run.get('requests')} x c{run.get('concurrency') or '?'}, {run.get('repeat') or 1} sample(s), "
            f"{run.get('engine') or 'ab'} {run.get('engine_version') or ''}").strip()


_META = (
    ("time", lambda r: timestamp_text(r["timestamp"])),
    ("commit", commit_text),
    ("build, pod", lambda r: f"{build_text(r)}, {r.get('pod')}"),
    ("load", _load),
    ("status", lambda r: r.get("status")),
    ("side by side", lambda r: side_label(r).strip() or "–"),
    ("notes", lambda r: (r.get("notes") or "")[:60]),
)


# ---------------------------------------------------------------- trend

def _step_text(step: dict | None) -> str:
    if not step:
        return ""
    arrow = "▲" if step["direction"] == "up" else "▼"
    return f"{arrow} step {pct(step['change_pct'])}"


def render_trend(data: dict) -> str:
    points = data["points"]
    name = data["endpoint"]
    if not points:
        shown = ", ".join(f"{k}={v}" for k, v in data["filters"].items())
        return f"No results for {cell(name)}" + (f" matching {shown}" if shown else "") + "."
    first, last = points[0]["run_id"], points[-1]["run_id"]
    out = [f"# Trend of {cell(name)}: {len(points)} result(s), runs {first}..{last}", "",
           f"Series: {cell(data['configuration'])}", ""]
    rows = []
    for p in points:
        status = cell(status_text(p))
        if p.get("caveat"):
            status += " (untrusted)"
        if status != "ok":
            status = f"**{status}**"
        level = _step_text(p["step"]) if p["same_configuration"] else "other configuration"
        rows.append([str(p["run_id"]), cell(p["timestamp"]), cell(p["git_commit"]), cell(p["pod"]),
                     cell(p["build_mode"]), str(p["concurrency"]), num(p["requests_per_sec"]),
                     num(p["time_per_request_ms"], 2), num(p["p99_ms"], 2), status, level])
    out += table(["run", "time", "commit", "pod", "build", "c", "req/s", "mean ms", "p99 ms", "status",
                  "level"], rows, right={0, 5, 6, 7, 8})
    out += ["", f"req/s, oldest → newest: {data['sparkline']}"]
    if data["steps"]:
        out.append("Level shifts: " + "; ".join(
            f"run {s['run_id']} {_step_text(s)} ({num(s['before'])} → {num(s['after'])} req/s)"
            for s in data["steps"]))
    else:
        out.append("Level shifts: none beyond the noise.")
    st = data["statistics"]
    if st["count"]:
        out.append(f"Statistics over {st['count']} ok result(s), req/s: min {num(st['min'])}, "
                   f"max {num(st['max'])}, mean {num(st['mean'])}, median {num(st['median'])}"
                   + (f", stdev {num(st['stdev'])}" if st["stdev"] is not None else ""))
    else:
        out.append("Statistics: no ok result of this series in the window.")
    return "\n".join(out) + "\n"


def render_trend_all(data: dict) -> str:
    if not data["endpoints"]:
        return "No results" + (" match the filters." if data["filters"] else " yet: run benchmark.py first.")
    rows = []
    for e in data["endpoints"]:
        latest = num(e["latest_requests_per_sec"])
        if e["latest_status"] != "ok":
            latest = f"**{e['latest_status']}**"
        steps = ", ".join(f"run {s['run_id']} {_step_text(s)}" for s in e["steps"]) or "–"
        rows.append([cell(e["endpoint"]), f"{e['counted_results']}/{e['results']}", latest,
                     num(e["min"]), num(e["max"]), e["sparkline"], steps])
    out = [f"# Trends: the last {data['limit']} result(s) of each endpoint", "",
           "Series: " + "; ".join(cell(c) for c in data["configurations"])
           + " (each endpoint's newest result's configuration; pick another with --pod, --build-mode "
           "or --concurrency)", ""]
    out += table(["endpoint", "counted", "latest req/s", "min", "max", "req/s, oldest → newest",
                  "level shifts"], rows, right={1, 2, 3, 4})
    out += ["", "counted: results in the endpoint's newest configuration with status ok (they make "
                "the sparkline, min, max and level shifts). Details: --trend ENDPOINT."]
    out += [f"Note: {cell(w)}" for w in data["warnings"]]
    return "\n".join(out) + "\n"
