"""show_results.py's terminal views: the run list, one run, a comparison of
two runs, and trends. Each view is two steps: gather plain data from the
database (what `--json` prints) and render it as text (padded Markdown tables
that read well in a terminal and render on GitHub).

Imports are lazy on purpose: the list view must not pay for the statistics,
the comparison or the report modules (see bench/history_speed.py).
"""
from __future__ import annotations

import json
import re

from lib.cliargs import EXIT_USAGE  # show_results.py has loaded it already

DEFAULT_LIMIT = 10
DEFAULT_TREND_LIMIT = 20
NOTES_WIDTH = 40
ALIASES = ("latest", "previous")


class ViewError(Exception):
    """Bad input (unknown run, endpoint, date...): exit 2 with this one line."""


# ---------------------------------------------------------------- input

_DATE_FORMATS = ("%Y-%m-%d", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M",
                 "%Y-%m-%dT%H:%M:%S")


def parse_since(text: str) -> str:
    """--since DATE -> the 'YYYY-MM-DD HH:MM:SS' text run timestamps are compared
    with (local time, like the stored timestamps). Accepts a date, a date and
    time, or a relative age: 12h, 7d, 2w, and 'today'."""
    from datetime import datetime, timedelta
    value = text.strip()
    now = datetime.now()
    if value in ("today", "yesterday"):
        moment = now.replace(hour=0, minute=0, second=0, microsecond=0)
        if value == "yesterday":
            moment -= timedelta(days=1)
    elif (match := re.match(r"^(\d{1,5})\s*([hdw])$", value)):
        amount, unit = int(match.group(1)), match.group(2)
        moment = now - timedelta(hours=amount * {"h": 1, "d": 24, "w": 24 * 7}[unit])
    else:
        for fmt in _DATE_FORMATS:
            try:
                moment = datetime.strptime(value, fmt)
                break
            except ValueError:
                continue
        else:
            raise ViewError(f"--since {text!r} is not a date: use YYYY-MM-DD, 'YYYY-MM-DD HH:MM', "
                            "today, yesterday, or an age like 12h, 7d, 2w")
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def resolve_run(db, ref: str, flag: str = "--run") -> int:
    """A run id or alias (latest, previous, ~N) -> run id, or ViewError naming what exists."""
    run_id = db.resolve_run(ref)
    if run_id is not None:
        return run_id
    latest = db.latest_run_ids(1)
    if not latest:
        raise ViewError(f"{flag} {ref!r}: the database {db.path} holds no runs yet; "
                        "run benchmark.py first")
    count = db.run_count()
    text = ref.strip()
    if text.startswith("~") and text[1:].isdigit():
        why = f"there are only {count} run(s), so ~{count - 1} is the oldest"
    elif text.isdigit():
        why = f"no run {text} (the latest is run {latest[0]}; list them with show_results.py)"
    else:
        import difflib
        near = difflib.get_close_matches(text.lower(), ALIASES, n=1, cutoff=0.5)
        why = (f"did you mean {near[0]!r}? " if near else "") + \
            "use a run id, latest, previous or ~N (N runs before the latest)"
    raise ViewError(f"{flag} {ref!r} matches no run: {why}")


def resolve_endpoint(db, name: str) -> str:
    """Exact endpoint name, else a unique part of one (case-insensitive when no
    case-sensitive match), else the one endpoint of a category (fs_write);
    ambiguous or unknown -> ViewError listing the names."""
    if db.has_endpoint(name):
        return name
    categories = db.endpoint_categories()
    known = list(categories)
    if not known:
        raise ViewError(f"--trend {name!r}: the database {db.path} holds no results yet; "
                        "run benchmark.py first")
    matches = ([e for e in known if name in e] or [e for e in known if name.lower() in e.lower()]
               or [e for e, c in categories.items() if c == name])
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise ViewError(f"--trend {name!r} is ambiguous, it matches {len(matches)} endpoints: "
                        + ", ".join(repr(m) for m in matches) + "; give one of them exactly")
    import difflib
    near = difflib.get_close_matches(name, known, n=3, cutoff=0.4)
    hint = f"did you mean {' or '.join(repr(n) for n in near)}? " if near else ""
    raise ViewError(f"--trend {name!r} matches no endpoint: {hint}known endpoints: "
                    + ", ".join(repr(k) for k in known) + " (or --trend all)")


# --------------------------------------------------------------- output

def cell(value, width: int | None = None) -> str:
    """Text for one table cell: newlines and control characters made visible
    (a note must not move the cursor or break the table), pipes escaped,
    optionally cut to `width` characters with an ellipsis."""
    if value is None:
        return "–"
    text = str(value).replace("\r\n", "\n")
    out = []
    for ch in text:
        code = ord(ch)
        if ch == "\n":
            out.append("⏎")
        elif ch == "\t":
            out.append(" ")
        elif code < 0x20 or 0x7f <= code < 0xa0:
            out.append(f"\\x{code:02x}")
        elif 0x202a <= code <= 0x202e or 0x2066 <= code <= 0x2069:
            out.append(f"\\u{code:04x}")  # bidi overrides would reorder the rest of the line
        else:
            out.append(ch)
    text = "".join(out)
    if width is not None and len(text) > width:
        text = text[: width - 1] + "…"
    return text.replace("|", "\\|")


def num(value, digits: int = 1) -> str:
    if value is None:
        return "–"
    if not isinstance(value, (int, float)):
        return cell(value)  # text where a number belongs (a hand-edited database)
    return f"{value:,.{digits}f}"


def pct(value) -> str:
    if value is None:
        return "–"
    return f"{value:+.1f}%" if isinstance(value, (int, float)) else cell(value)


def _width(text: str) -> int:
    import unicodedata
    if text.isascii():
        return len(text)
    width = 0
    for ch in text:
        if unicodedata.combining(ch):
            continue
        width += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return width


def table(headers: list[str], rows: list[list[str]], right: set[int] = frozenset()) -> list[str]:
    """A Markdown table padded into columns (readable raw in a terminal)."""
    widths = [max([_width(h)] + [_width(r[i]) for r in rows]) for i, h in enumerate(headers)]

    def line(values):
        parts = []
        for i, value in enumerate(values):
            pad = " " * (widths[i] - _width(value))
            parts.append(pad + value if i in right else value + pad)
        return "| " + " | ".join(parts) + " |"

    rule = "|" + "|".join(("-" * (w + 1) + ":") if i in right else "-" * (w + 2)
                          for i, w in enumerate(widths)) + "|"
    return [line(headers), rule] + [line(r) for r in rows]


def _levels(text) -> list[int]:
    return [int(x) for x in str(text or "").split(",") if x.strip().isdigit()]


def _env(run: dict):
    try:
        return json.loads(run["environment"]) if run.get("environment") else None
    except ValueError:
        return None


def run_json(run: dict) -> dict:
    """A run row for --json: every column, concurrency as a list, environment parsed."""
    out = dict(run)
    out["concurrency"] = _levels(run.get("concurrency"))
    out["environment"] = _env(run)
    for name in ("result_count", "problem_count"):
        out.pop(name, None)
    if "result_count" in run:
        out["results_total"] = run["result_count"]
        out["results_ok"] = run["result_count"] - (run["problem_count"] or 0)
    return out


# ----------------------------------------------------------------- list

def list_data(db, *, limit: int, branch=None, build_mode=None, pod=None, since=None,
              status=None) -> dict:
    runs = db.list_runs(limit=limit, branch=branch, build_mode=build_mode, pod=pod,
                        since=since, status=status)
    filters = {k: v for k, v in (("branch", branch), ("build_mode", build_mode), ("pod", pod),
                                 ("since", since), ("status", status)) if v is not None}
    return {"database": str(db.path), "limit": limit, "filters": filters,
            "total_runs": db.run_count(), "runs": [run_json(r) for r in runs]}


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
                     cell(side_label(run) + (run.get("notes") or ""), NOTES_WIDTH)])
    out = table(["run", "time", "commit", "branch", "build", "pod", "status", "ok", "notes"], rows,
                right={0, 7})
    scope = f"the newest {len(runs)}" if len(runs) == data["limit"] else f"{len(runs)}"
    where = " matching " + ", ".join(f"{k}={v}" for k, v in data["filters"].items()) \
        if data["filters"] else ""
    out += ["", f"{scope} of {data['total_runs']} run(s){where}, newest first. "
                "More: --limit N; one run: --run ID; notes in full: --json."]
    return "\n".join(out)


def side_label(run: dict) -> str:
    """'[baseline of 12] ' for the runs of a side-by-side measurement, else ''."""
    if run.get("side") == "baseline":
        return f"[baseline of {run.get('paired_with')}] "
    if run.get("side") == "candidate":
        return f"[side by side with {run.get('paired_with')}] "
    return ""


# ------------------------------------------------------------------ run

def run_report(db, run_id: int, *, threshold_pct: float):
    from lib import report
    return report.collect(db, run_id, threshold_pct=threshold_pct)


# -------------------------------------------------------------- compare

COMPARED_FIELDS = ("requests", "concurrency", "repeat", "warmup", "pod", "build_mode", "suite",
                   "engine", "engine_version")


def compare_data(db, ref_a: str, ref_b: str, *, threshold_pct: float) -> dict:
    """Run A (the baseline, "before") against run B, endpoint by endpoint."""
    from lib import compare
    a_id = resolve_run(db, ref_a, "--compare")
    b_id = resolve_run(db, ref_b, "--compare")
    if a_id == b_id:
        raise ViewError(f"--compare {ref_a} {ref_b}: both name run {a_id}; "
                        "give two different runs (e.g. --compare previous latest)")
    run_a, run_b = db.run(a_id), db.run(b_id)
    rows_a, rows_b = db.results(a_id), db.results(b_id)
    several = compare.sweeps(rows_b)
    histories = {}
    for row in rows_b:
        if len(row.get("samples") or []) < 3:
            # Noise of this endpoint from comparable runs older than both sides.
            history = db.endpoint_history(run_b, row["endpoint"], row["concurrency"],
                                          before_run_id=min(a_id, b_id))
            histories[compare.result_key(row, several)] = [
                h["requests_per_sec"] for h in history if h["requests_per_sec"] is not None]
    # The two runs of one side-by-side measurement (either way round): their samples pair up.
    interleaved = run_b.get("side") is not None and run_b.get("paired_with") == a_id
    comparison, summary = compare.compare_runs(rows_a, rows_b, threshold_pct=threshold_pct,
                                               histories=histories, interleaved=interleaved)
    notes = []
    if interleaved:
        notes.append(f"side by side: runs {a_id} and {b_id} alternated their samples (paired test)")
    for field in COMPARED_FIELDS:
        if run_a.get(field) != run_b.get(field):
            notes.append(f"{field} differs: run {a_id} {run_a.get(field)} vs run {b_id} {run_b.get(field)}")
    from lib.environment import differences
    env = differences(_env(run_a), _env(run_b))
    if env:
        notes.append("measured in different environments: " + "; ".join(env))
    for run in (run_a, run_b):
        if run.get("status") not in ("complete", None):
            notes.append(f"run {run['run_id']} is {run.get('status')}"
                         + (f": {run['error'].splitlines()[0]}" if run.get("error") else ""))
    shared = [k for k, c in comparison.items() if c["previous"] and c["current"]
              and not c["explanation"].startswith("not compared")]
    return {
        "baseline": run_json(run_a), "current": run_json(run_b),
        "threshold_pct": threshold_pct,
        "differences": notes,
        "endpoints": [{"key": key, **entry} for key, entry in comparison.items()],
        "only_in_baseline": summary["only_in_baseline"],
        "only_in_current": summary["only_in_current"],
        "geometric_mean_ratio": summary["geometric_mean_ratio"],
        "geometric_mean_endpoints": len(shared),
        "regressed": summary["regressed"], "improved": summary["improved"],
    }


def _pair(before, after, digits: int) -> str:
    """'2.50 → 2.90': one cell for both runs' figure."""
    if before is None and after is None:
        return "–"
    return f"{num(before, digits)} → {num(after, digits)}"


def render_compare(data: dict) -> str:
    a, b = data["baseline"], data["current"]
    ia, ib = a["run_id"], b["run_id"]
    out = [f"# Run {ia} → run {ib}", ""]

    def load(run):
        levels = ",".join(map(str, run["concurrency"])) or "?"
        return (f"{run.get('requests')} x c{levels}, {run.get('repeat') or 1} sample(s), "
                f"{run.get('engine') or 'ab'} {run.get('engine_version') or ''}").strip()

    meta = [
        ["time", cell(a["timestamp"]), cell(b["timestamp"])],
        ["commit", cell(f"{a.get('git_commit')} on {a.get('git_branch')}"),
         cell(f"{b.get('git_commit')} on {b.get('git_branch')}")],
        ["build, pod", cell(f"{a.get('build_mode')}, {a.get('pod')}"),
         cell(f"{b.get('build_mode')}, {b.get('pod')}")],
        ["load", cell(load(a)), cell(load(b))],
        ["status", cell(a.get("status")), cell(b.get("status"))],
        ["notes", cell(a.get("notes") or "", 60), cell(b.get("notes") or "", 60)],
    ]
    out += table(["", f"run {ia} (baseline)", f"run {ib}"], meta)
    out.append("")
    for note in data["differences"]:
        out.append(f"> Note: {cell(note)}")
    if data["differences"]:
        out.append("")
    rows, why_not = [], []
    for e in data["endpoints"]:
        verdict = e["verdict"]
        if e["explanation"].startswith("not compared"):
            verdict = "not compared"
            why_not.append(f"- {cell(e['key'])} {cell(e['explanation'])}")
        rows.append([cell(e["key"]), num(e["previous"]), num(e["current"]), pct(e["change_pct"]),
                     _pair(e["previous_p50_ms"], e["current_p50_ms"], 2),
                     _pair(e["previous_p99_ms"], e["current_p99_ms"], 2),
                     _pair(e["previous_cpu_us_per_req"], e["current_cpu_us_per_req"], 0),
                     cell(verdict)])
    if rows:
        out += table(["endpoint", f"req/s {ia}", f"req/s {ib}", "change", "p50 ms", "p99 ms",
                      "CPU µs/req", "verdict"], rows, right={1, 2, 3, 4, 5, 6})
    else:
        out.append("No endpoint was measured in both runs.")
    out.append("")
    if why_not:
        out += why_not + [""]
    if data["geometric_mean_ratio"]:
        ratio = data["geometric_mean_ratio"]
        out.append(f"Geometric mean of req/s ratios (run {ib} / run {ia}) over "
                   f"{data['geometric_mean_endpoints']} shared endpoint(s): {ratio:.3f} "
                   f"({(ratio - 1) * 100:+.1f}%)")
    for side, keys in ((f"only in run {ia}", data["only_in_baseline"]),
                       (f"only in run {ib}", data["only_in_current"])):
        if keys:
            out.append(f"Endpoints {side}: " + ", ".join(cell(k) for k in keys))
    bits = [f"{cell(k)} regressed" for k in data["regressed"]] + \
           [f"{cell(k)} improved" for k in data["improved"]]
    undecided = sum(1 for e in data["endpoints"] if e["verdict"] == "insufficient data"
                    and not e["explanation"].startswith("not compared"))
    verdict = ", ".join(bits) if bits else "no significant change"
    if not data["endpoints"]:
        verdict = "nothing to compare: no endpoint was measured in both runs"
    if undecided:
        verdict += (f" ({undecided} endpoint(s) not judged: one sample and too little history; "
                    "measure with --repeat 5)")
    out.append(f"**Verdict:** {verdict}")
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------- trend

def configuration(row: dict) -> str:
    """How a result was measured; only results measured alike make one series."""
    return (f"pod {row.get('pod')}, {row.get('build_mode')}, {row.get('requests')} requests x "
            f"c{row.get('concurrency')}, {row.get('engine') or 'ab'}")


def _series(rows: list[dict]) -> tuple[str | None, list[bool]]:
    """(the newest result's configuration, per row: does it count in the
    sparkline, steps and statistics?) Counted: ok, with a req/s figure, not a
    known-wrong legacy row, measured like the newest result."""
    if not rows:
        return None, []
    main = configuration(rows[-1])
    return main, [(r.get("status") or "ok") == "ok" and r.get("requests_per_sec") is not None
                  and not r.get("caveat") and configuration(r) == main for r in rows]


# lib/stats.detect_steps is quadratic (~0.1 s for 500 points, ~2 s for 2,000):
# level shifts are looked for in the newest STEP_MAX_POINTS values only.
STEP_MAX_POINTS = 1000


def level_shifts(values: list[float], stats) -> list[dict]:
    """[{index, direction, change_pct, before, after}] where the level of
    `values` shifted (indexes into `values`; before/after: the medians of the
    neighbouring segments)."""
    offset = max(0, len(values) - STEP_MAX_POINTS)
    window = values[offset:]
    cuts = stats.detect_steps(window)
    bounds = [0, *cuts, len(window)]
    found = []
    for k, cut in enumerate(cuts, 1):
        before = stats.median(window[bounds[k - 1]:cut])
        after = stats.median(window[cut:bounds[k + 1]])
        change = (after - before) / before * 100 if before else None
        found.append({"index": offset + cut, "direction": "up" if after > before else "down",
                      "change_pct": None if change is None else round(change, 2),
                      "before": round(before, 2), "after": round(after, 2)})
    return found


def _steps(rows: list[dict], counted: list[bool], stats) -> dict[int, dict]:
    """{row index: {direction, change_pct, before, after}} where the req/s level shifted."""
    index = [i for i, c in enumerate(counted) if c]
    values = [rows[i]["requests_per_sec"] for i in index]
    return {index[shift.pop("index")]: shift for shift in level_shifts(values, stats)}


def _trend_filters(pod, build_mode, branch, since, concurrency) -> dict:
    return {k: v for k, v in (("pod", pod), ("build_mode", build_mode), ("branch", branch),
                              ("since", since), ("concurrency", concurrency)) if v is not None}


def trend_data(db, name: str, *, limit: int, pod=None, build_mode=None, branch=None,
               since=None, concurrency=None) -> dict:
    from lib import stats
    endpoint = resolve_endpoint(db, name)
    rows = db.endpoint_trend(endpoint, limit=limit, pod=pod, build_mode=build_mode, branch=branch,
                             since=since, concurrency=concurrency)
    main, counted = _series(rows)
    steps = _steps(rows, counted, stats)
    points = []
    for i, r in enumerate(rows):
        points.append({
            "run_id": r["run_id"], "result_id": r["result_id"], "timestamp": r["timestamp"],
            "git_commit": r["git_commit"], "git_branch": r["git_branch"],
            "build_mode": r["build_mode"], "pod": r["pod"], "engine": r["engine"] or "ab",
            "requests": r["requests"], "concurrency": r["concurrency"],
            "requests_per_sec": r["requests_per_sec"], "time_per_request_ms": r["time_per_request"],
            "p50_ms": r["p50_ms"], "p99_ms": r["p99_ms"],
            "server_cpu_us_per_req": r["server_cpu_us_per_req"], "status": r["status"] or "ok",
            "error": r["error"], "crash_signal": r["crash_signal"], "caveat": r["caveat"],
            "same_configuration": configuration(r) == main, "used_in_statistics": counted[i],
            "step": steps.get(i)})
    summary = stats.summarize([r["requests_per_sec"] for r, c in zip(rows, counted) if c])
    others = sum(1 for p in points if not p["same_configuration"])
    warnings = []
    if summary["count"] > STEP_MAX_POINTS:
        warnings.append(f"level shifts were looked for in the newest {STEP_MAX_POINTS} results only")
    if others:
        kinds = sorted({configuration(r) for r in rows} - {main})
        warnings.append(f"{others} of these {len(rows)} results were measured otherwise than the "
                        f"newest ({main}): {'; '.join(kinds)}. They are listed but left out of the "
                        "sparkline, level shifts and statistics; pick a series with --pod, --build-mode "
                        "or --concurrency")
    return {
        "endpoint": endpoint, "query": name, "limit": limit,
        "filters": _trend_filters(pod, build_mode, branch, since, concurrency),
        "configuration": main,
        "points": points,
        "sparkline": stats.sparkline([r["requests_per_sec"] if c else None for r, c in zip(rows, counted)]),
        "steps": [{"run_id": points[i]["run_id"], **s} for i, s in sorted(steps.items())],
        "statistics": {k: v if k == "count" or v is None else round(v, 2) for k, v in summary.items()},
        "warnings": warnings,
    }


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
        status = p["status"]
        if p.get("crash_signal"):
            status += f" ({p['crash_signal']})"
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


def trend_all_data(db, *, limit: int, pod=None, build_mode=None, branch=None, since=None,
                   concurrency=None) -> dict:
    from lib import stats
    endpoints = []
    for endpoint in db.distinct_endpoints():
        rows = db.endpoint_trend(endpoint, limit=limit, pod=pod, build_mode=build_mode,
                                 branch=branch, since=since, concurrency=concurrency)
        if not rows:
            continue
        main, counted = _series(rows)
        steps = _steps(rows, counted, stats)
        summary = stats.summarize([r["requests_per_sec"] for r, c in zip(rows, counted) if c])
        last = rows[-1]
        endpoints.append({
            "endpoint": endpoint, "category": last["category"], "configuration": main,
            "latest_result_id": last["result_id"],
            "results": len(rows), "counted_results": sum(counted),
            "first_run_id": rows[0]["run_id"], "latest_run_id": last["run_id"],
            "latest_status": last["status"] or "ok", "latest_requests_per_sec": last["requests_per_sec"],
            "min": summary["min"], "max": summary["max"],
            "median": None if summary["median"] is None else round(summary["median"], 2),
            "sparkline": stats.sparkline([r["requests_per_sec"] if c else None
                                          for r, c in zip(rows, counted)], width=60),
            "steps": [{"run_id": rows[i]["run_id"], **s} for i, s in sorted(steps.items())],
        })
    # The suite's order (as the newest run measured them), not the alphabet's.
    endpoints.sort(key=lambda e: (-e["latest_run_id"], e["latest_result_id"]))
    return {"limit": limit, "filters": _trend_filters(pod, build_mode, branch, since, concurrency),
            "endpoints": endpoints}


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
    out = [f"# Trends: the last {data['limit']} result(s) of each endpoint", ""]
    out += table(["endpoint", "counted", "latest req/s", "min", "max", "req/s, oldest → newest",
                  "level shifts"], rows, right={1, 2, 3, 4})
    out += ["", "counted: results in the newest result's configuration with status ok (they make "
                "the sparkline, min, max and level shifts). Details: --trend ENDPOINT."]
    return "\n".join(out) + "\n"


# -------------------------------------------------------------- command

HTML_DEFAULT_LIMIT = 200


def run(args, here) -> int:
    """show_results.py after parsing: open the database read-only, run the
    chosen view, print it. Bad input -> one line on stderr, exit 2."""
    import sys
    from lib.db import DbError, open_db
    try:
        check_combinations(args)
        since = parse_since(args.since) if args.since else None
        filters = {"branch": args.branch, "build_mode": args.build_mode, "pod": args.pod,
                   "since": since, "status": args.status}
        db = open_db(database_path(args, here), readonly=True)
        if args.export:
            return _export(db, args, filters)
        if args.html:
            return _html(db, args, filters)
        if args.run is not None:
            from lib import report
            gathered = run_report(db, resolve_run(db, args.run), threshold_pct=args.threshold)
            if args.json:
                _emit(report.to_json(gathered), None, True)
            else:
                _emit(gathered, report.render_markdown, False)
        elif args.compare:
            _emit(compare_data(db, *args.compare, threshold_pct=args.threshold), render_compare, args.json)
        elif args.trend is not None:
            trend_filters = {k: v for k, v in filters.items() if k != "status"}
            trend_filters["concurrency"] = args.concurrency
            limit = args.limit or DEFAULT_TREND_LIMIT
            if args.trend.strip().lower() == "all":
                _emit(trend_all_data(db, limit=limit, **trend_filters), render_trend_all, args.json)
            else:
                data = trend_data(db, args.trend, limit=limit, **trend_filters)
                if data["endpoint"] != args.trend:
                    print(f"show_results.py: {args.trend!r} matched the endpoint {data['endpoint']!r}",
                          file=sys.stderr)
                for warning in data["warnings"]:
                    print(f"show_results.py: warning: {warning}", file=sys.stderr)
                _emit(data, render_trend, args.json)
        else:
            _emit(list_data(db, limit=args.limit or DEFAULT_LIMIT, **filters), render_list, args.json)
        return 0
    except (ViewError, DbError) as exc:
        print(f"show_results.py: error: {exc}", file=sys.stderr)
        return EXIT_USAGE


def _emit(data, renderer, as_json: bool) -> None:
    import sys
    if as_json:
        sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(renderer(data) + "\n")


def check_combinations(args) -> None:
    """Flags that make no sense together: refuse rather than guess."""
    chosen = [flag for flag, value in (("--compare", args.compare), ("--trend", args.trend),
                                       ("--export", args.export), ("--html", args.html)) if value]
    if len(chosen) > 1:
        raise ViewError(f"{' and '.join(chosen)} are different views; give one at a time")
    if args.run is not None and chosen and chosen != ["--export"]:
        raise ViewError(f"--run and {chosen[0]} are different views; give one at a time")
    if args.output and not args.export:
        raise ViewError("--output goes with --export (the page is written with --html FILE)")
    filters = [f for f, v in (("--branch", args.branch), ("--build-mode", args.build_mode),
                              ("--pod", args.pod), ("--since", args.since), ("--status", args.status),
                              ("--limit", args.limit)) if v]
    if args.export in ("github-action-benchmark", "bmf") and filters:
        raise ViewError(f"--export {args.export} exports one run: pick it with --run (default: "
                        f"latest), not with {', '.join(filters)}")
    if args.export in ("csv", "json") and args.run is not None and filters:
        raise ViewError(f"--run picks one run; {', '.join(filters)} would pick others: give one or the other")
    if (args.run is not None or args.compare) and not args.export and filters:
        raise ViewError(f"{', '.join(filters)} filter the list, trends, --html and exports; "
                        "--run and --compare take run ids")
    if args.concurrency is not None and args.trend is None:
        raise ViewError("--concurrency picks one level of a sweep for --trend; the other views show "
                        "every level")
    if args.trend is not None and args.status:
        raise ViewError("--status filters runs for the list, --html and exports; a trend shows "
                        "every status and marks the failed ones")


def database_path(args, here):
    """--db, else <workspace>/.benchmark/results.db, the same rule as benchmark.py."""
    from pathlib import Path
    if args.workspace:
        from lib.workspace import is_hbf_checkout
        workspace = Path(args.workspace).resolve()
        if not is_hbf_checkout(workspace):
            raise ViewError(f"--workspace {args.workspace}: no MODULE.bazel declaring "
                            "module(name = \"hbf\") there; pass the HBF checkout's root")
    elif args.db:
        workspace = None
    else:
        from lib.workspace import find_workspace
        workspace = find_workspace(Path.cwd(), here)
    return Path(args.db) if args.db else (workspace or here) / ".benchmark" / "results.db"


def _export(db, args, filters: dict) -> int:
    import sys
    from lib import export as exporter
    warnings: list[str] = []
    if args.export in ("csv", "json"):
        if args.run is not None:
            run_ids = [resolve_run(db, args.run)]
        elif args.limit or any(filters.values()):
            run_ids = db.select_run_ids(limit=args.limit, **filters)
        else:
            run_ids = None  # everything
        columns, rows = exporter.rows_for(db, run_ids)
        count = [0]

        def counted():
            for row in rows:
                count[0] += 1
                yield row

        make = exporter.to_csv if args.export == "csv" else exporter.to_json_rows
        text = make(columns, counted())
        what = lambda: f"{count[0]} result row(s)"  # noqa: E731 (known once written)
    else:
        run_id = resolve_run(db, args.run or "latest")
        make = exporter.bmf if args.export == "bmf" else exporter.github_action_benchmark
        text, warnings = make(db, run_id)
        what = lambda: f"run {run_id}"  # noqa: E731
    for warning in warnings:
        print(f"show_results.py: warning: {warning}", file=sys.stderr)
    try:
        exporter.write_output(text, args.output)
    except exporter.ExportError as exc:
        raise ViewError(str(exc)) from None
    if args.output and args.output != "-":
        print(f"show_results.py: wrote {what()} to {args.output} ({args.export})", file=sys.stderr)
    return 0


def _html(db, args, filters: dict) -> int:
    import sys
    from lib import export as exporter
    from lib import html_report
    try:
        page = html_report.build(db, limit=args.limit or HTML_DEFAULT_LIMIT, filters=filters,
                                 threshold_pct=args.threshold)
    except html_report.NothingToDraw as exc:
        raise ViewError(f"--html: {exc}") from None
    try:
        exporter.write_output(page, args.html, flag="--html")
    except exporter.ExportError as exc:
        raise ViewError(str(exc)) from None
    size = len(page.encode())
    print(f"show_results.py: wrote {args.html} ({size:,} bytes)", file=sys.stderr)
    if args.json:
        _emit({"html": str(args.html), "bytes": size}, None, True)
    return 0
