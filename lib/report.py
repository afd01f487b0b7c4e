"""A run's report, from the database alone: gather (`collect`), then render
as Markdown (`render_markdown`) or JSON (`to_json`). benchmark.py prints it
after a run; `show_results.py --run ID` prints the very same thing later."""
from __future__ import annotations

import json

from lib import compare, stats
from lib.environment import differences

RESULT_FIELDS = (
    # JSON name <- column name
    ("category", "category"), ("endpoint", "endpoint"), ("method", "method"), ("path", "path"),
    ("server", "server"), ("requests", "requests"), ("concurrency", "concurrency"),
    ("complete_requests", "complete_requests"), ("failed_requests", "failed_requests"),
    ("non_2xx", "non_2xx"), ("requests_per_sec", "requests_per_sec"),
    ("time_per_request_ms", "time_per_request"), ("time_per_request_all_ms", "time_per_request_all"),
    ("time_taken_s", "time_taken"), ("transfer_rate_kbps", "transfer_rate"),
    ("p50_ms", "p50_ms"), ("p90_ms", "p90_ms"), ("p95_ms", "p95_ms"), ("p99_ms", "p99_ms"),
    ("max_ms", "max_ms"), ("status", "status"), ("error", "error"), ("caveat", "caveat"),
    ("failed_connect", "failed_connect"), ("failed_receive", "failed_receive"),
    ("failed_length", "failed_length"), ("failed_exceptions", "failed_exceptions"),
    ("engine", "engine"), ("engine_version", "engine_version"), ("warmup_requests", "warmup_requests"),
    ("rps_min", "rps_min"), ("rps_max", "rps_max"),
    ("server_cpu_us_per_req", "server_cpu_us_per_req"), ("server_rss_kb_before", "server_rss_kb_before"),
    ("server_rss_kb_after", "server_rss_kb_after"), ("server_rss_kb_peak", "server_rss_kb_peak"),
    ("server_rss_kb_growth", "server_rss_kb_growth"), ("client_cpu_pct", "client_cpu_pct"),
    ("server_log_lines", "server_log_lines"), ("crash_signal", "crash_signal"),
    ("server_log_tail", "server_log_tail"), ("backtrace", "backtrace"), ("result_id", "result_id"),
)
SAMPLE_FIELDS = ("requests_per_sec", "time_per_request", "p50_ms", "p90_ms", "p95_ms", "p99_ms",
                 "max_ms", "complete_requests", "failed_requests", "non_2xx", "time_taken",
                 "server_cpu_us_per_req", "server_rss_kb_after", "server_rss_kb_peak",
                 "client_cpu_pct")


def collect(db, run_id: int, *, baseline_id: int | None = None, threshold_pct: float = 5.0,
            allow_engine_mix: bool = False) -> dict:
    """Everything a report shows, as plain data: the run, its results and,
    when a comparable earlier run exists, the comparison with it."""
    run = db.run(run_id)
    rows = db.results(run_id)
    report = {"run": run, "rows": rows, "baseline": None, "comparison": None, "summary": None,
              "notes": []}
    if baseline_id is None:
        # A side-by-side candidate is compared with its own baseline.
        baseline_id = (run.get("paired_with") if run.get("side") == "candidate"
                       else db.baseline_run(run))
    if baseline_id is None or baseline_id == run_id:
        return report
    interleaved = run.get("side") == "candidate" and run.get("paired_with") == baseline_id
    baseline = db.run(baseline_id)
    if (baseline.get("engine") or "ab") != (run.get("engine") or "ab") and not allow_engine_mix:
        report["notes"].append(f"run {baseline_id} was measured with {baseline.get('engine') or 'ab'}, "
                               f"this one with {run.get('engine') or 'ab'}: not compared "
                               "(engines measure differently; --force compares anyway)")
        return report
    base_rows = db.results(baseline_id)
    several = compare.sweeps(rows)
    histories = {}
    for row in rows:
        # Every endpoint gets its run-to-run history: single samples are judged
        # against it, and repeated samples must also clear its noise.
        if (row.get("status") or "ok") == "ok":
            history = db.endpoint_history(run, row["endpoint"], row["concurrency"],
                                          before_run_id=baseline_id)
            histories[compare.result_key(row, several)] = [
                h["requests_per_sec"] for h in history if h["requests_per_sec"] is not None]
    comparison, summary = compare.compare_runs(base_rows, rows, threshold_pct=threshold_pct,
                                               histories=histories, interleaved=interleaved)
    report.update(baseline=baseline, comparison=comparison, summary=summary)
    if interleaved:
        report["notes"].append(f"side by side: run {baseline_id} ({baseline.get('target')}) and this "
                               "run alternated their samples, so machine drift weighs on both alike")
    for field in ("requests", "concurrency", "repeat", "pod", "build_mode", "keepalive", "rate"):
        if baseline.get(field) != run.get(field):
            report["notes"].append(f"{field} differs: run {baseline_id} {baseline.get(field)} vs "
                                   f"run {run_id} {run.get(field)}")
    env_diff = differences(_env(baseline), _env(run))
    if env_diff:
        report["notes"].append("measured in different environments: " + "; ".join(env_diff))
    return report


def _env(run: dict) -> dict | None:
    try:
        return json.loads(run["environment"]) if run.get("environment") else None
    except ValueError:
        return None


def _levels(run: dict) -> list[int]:
    text = str(run.get("concurrency") or "")
    return [int(x) for x in text.split(",") if x.strip().isdigit()]


# ---- JSON -----------------------------------------------------------------

def result_json(row: dict) -> dict:
    out = {name: row.get(column) for name, column in RESULT_FIELDS}
    for name in ("server_errors", "connection_times"):
        out[name] = json.loads(row[name]) if row.get(name) else ([] if name == "server_errors" else None)
    out["client_bound"] = None if row.get("client_bound") is None else bool(row["client_bound"])
    out["samples"] = [{k: s.get(k) for k in SAMPLE_FIELDS} | {"sample": s["sample_number"]}
                      for s in row.get("samples") or []]
    for sample in out["samples"]:
        sample["time_per_request_ms"] = sample.pop("time_per_request")
    rss = [s["server_rss_kb_after"] for s in out["samples"] if s.get("server_rss_kb_after") is not None]
    out["possible_leak"] = stats.looks_like_leak(rss) if len(rss) >= 3 else False
    return out


def to_json(report: dict) -> dict:
    run = report["run"]
    baseline = report["baseline"]
    return {
        "run_id": run["run_id"],
        "status": run.get("status"),
        "exit_code": run.get("exit_code"),
        "timestamp": run["timestamp"],
        "finished_at": run.get("finished_at"),
        "duration_s": run.get("duration_s"),
        "git_commit": run.get("git_commit"),
        "git_branch": run.get("git_branch"),
        "build_mode": run.get("build_mode"),
        "pod": run.get("pod"),
        "suite": run.get("suite"),
        "target": run.get("target"),
        "engine": run.get("engine"),
        "engine_version": run.get("engine_version"),
        "requests": run.get("requests"),
        "concurrency": _levels(run),
        "repeat": run.get("repeat"),
        "warmup": run.get("warmup"),
        "notes": run.get("notes"),
        "side": run.get("side"),
        "paired_with": run.get("paired_with"),
        "error": run.get("error"),
        "environment": _env(run),
        "results": [result_json(row) for row in report["rows"]],
        "baseline_run_id": baseline["run_id"] if baseline else None,
        "comparison": report["comparison"],
        "comparison_summary": report["summary"],
        "comparison_notes": report["notes"],
        "verdict": verdict_line(report),
    }


# ---- Markdown -------------------------------------------------------------

def _num(value, digits: int = 1) -> str:
    if value is None:
        return "–"
    return f"{value:,.{digits}f}"


def _cell(text) -> str:
    """Table cells: keep the text, but pipes and newlines would break the table."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def headline(report: dict) -> str:
    run = report["run"]
    rows = report["rows"]
    counts = {}
    for row in rows:
        counts[row.get("status") or "ok"] = counts.get(row.get("status") or "ok", 0) + 1
    status = (run.get("status") or "complete").upper()
    bad = ", ".join(f"{n} {s}" for s, n in counts.items() if s != "ok")
    return f"{status}" + (f": {bad}" if bad else "")


def verdict_line(report: dict) -> str:
    run = report["run"]
    rows = report["rows"]
    ok = sum(1 for r in rows if (r.get("status") or "ok") == "ok")
    parts = [f"{ok} of {len(rows)} endpoints ok"]
    problems = [r for r in rows if (r.get("status") or "ok") != "ok"]
    for row in problems[:4]:
        what = row["status"] + (f" ({row['crash_signal']})" if row.get("crash_signal") else "")
        parts.append(f"{row['endpoint']} {what}")
    if run.get("status") == "interrupted":
        parts.append("run interrupted")
    elif run.get("status") == "failed" and run.get("error"):
        parts.append("run failed: " + run["error"].splitlines()[0])
    summary = report.get("summary")
    if report.get("comparison") and summary is not None:
        base = report["baseline"]["run_id"]
        if summary["regressed"] or summary["improved"]:
            bits = [f"{k} regressed {report['comparison'][k]['change_pct']:+.1f}%" for k in summary["regressed"]]
            bits += [f"{k} improved {report['comparison'][k]['change_pct']:+.1f}%" for k in summary["improved"]]
            parts.append(f"against run {base}: " + ", ".join(bits))
        else:
            undecided = sum(1 for c in report["comparison"].values() if c["verdict"] == stats.INSUFFICIENT)
            if undecided == len(report["comparison"]):
                parts.append(f"against run {base}: not judged (insufficient data: use --repeat 5, "
                             "or build up history)")
            else:
                parts.append(f"against run {base}: no significant change"
                             + (f" ({undecided} not judged: insufficient data)" if undecided else ""))
    elif rows and report.get("comparison") is None:
        parts.append("no earlier comparable run to compare with")
    return "; ".join(parts)


def render_markdown(report: dict) -> str:
    run = report["run"]
    rows = report["rows"]
    several = compare.sweeps(rows)
    out = [f"# HBF benchmark run {run['run_id']}: {headline(report)}", ""]

    # Problems first: a crash is the headline, not a footnote.
    problems = [r for r in rows if (r.get("status") or "ok") != "ok"]
    if run.get("status") in ("partial", "failed", "interrupted") or problems:
        out.append("> **Attention:** " + verdict_line(report))
        for row in problems:
            out.append(f"> - **{_cell(row['endpoint'])}** {row['status']}"
                       + (f" by **{row['crash_signal']}**" if row.get("crash_signal") else "")
                       + (f": {_cell(row['error'])}" if row.get("error") else ""))
        if run.get("error"):
            out.append(f"> - run: {_cell(run['error'])}")
        out.append("")

    env = _env(run) or {}
    levels = _levels(run)
    out += [
        "| | |", "|---|---|",
        f"| Run | {run['run_id']} ({run.get('status')}) |",
        f"| Time | {run['timestamp']} |",
        f"| Commit | {_cell(run.get('git_commit'))} on {_cell(run.get('git_branch'))} |",
        f"| Build | {run.get('build_mode')}, pod {run.get('pod')} |",
        f"| Load | {run.get('requests')} requests x concurrency {','.join(map(str, levels)) or '?'}, "
        f"{run.get('repeat') or 1} sample(s), warmup {run.get('warmup') if run.get('warmup') is not None else '–'}, "
        f"engine {run.get('engine') or 'ab'} {run.get('engine_version') or ''} |",
    ]
    if env:
        out.append(f"| Machine | {_cell(env.get('hostname'))}, {env.get('cpu_count')} x "
                   f"{_cell(env.get('cpu_model'))}, load {env.get('load_average')} |")
    if run.get("target"):
        out.append(f"| Target | {_cell(run['target'])} |")
    if run.get("side"):
        other = "baseline" if run["side"] == "candidate" else "candidate"
        out.append(f"| Side by side | {run['side']}; samples alternated with run "
                   f"{run.get('paired_with')} ({other}) |")
    out += [f"| Notes | {_cell(run.get('notes') or '')} |", ""]

    out += ["## Results", "",
            "| Category | Endpoint | req/s | mean ms | p50 ms | p95 ms | p99 ms | failed | status |",
            "|---|---|---:|---:|---:|---:|---:|---:|---|"]
    for row in rows:
        name = compare.result_key(row, several)
        failed = (row.get("failed_requests") or 0)
        non_2xx = row.get("non_2xx") or 0
        failed_text = f"{failed}" + (f" (+{non_2xx} non-2xx)" if non_2xx else "")
        spread = ""
        if (row.get("sample_count") or 1) > 1 and row.get("rps_min") is not None:
            spread = f" ({_num(row['rps_min'])}..{_num(row['rps_max'])})"
        status = row.get("status") or "ok"
        if row.get("caveat"):
            status += " (untrusted)"
        out.append(f"| {_cell(row['category'])} | {_cell(name)} | {_num(row.get('requests_per_sec'))}{spread} | "
                   f"{_num(row.get('time_per_request'), 2)} | {_num(row.get('p50_ms'), 2)} | "
                   f"{_num(row.get('p95_ms'), 2)} | {_num(row.get('p99_ms'), 2)} | {failed_text} | {status} |")
    out.append("")

    out += _resources_section(rows, several)
    if several:
        out += _scaling_section(rows)
    out += _problem_details(rows, several)
    out += _comparison_section(report, several)
    out += [f"**Verdict:** {verdict_line(report)}", ""]
    return "\n".join(out)


def _resources_section(rows: list[dict], several: bool) -> list[str]:
    measured = [r for r in rows if r.get("server_cpu_us_per_req") is not None or r.get("client_cpu_pct") is not None]
    if not measured:
        return []
    out = ["## Server and client", "",
           "| Endpoint | server CPU µs/req | RSS peak KB | RSS growth KB | ab CPU % | note |",
           "|---|---:|---:|---:|---:|---|"]
    for row in measured:
        notes = []
        if row.get("client_bound"):
            notes.append("client-bound: the load generator, not the server, was the limit")
        rss = [s["server_rss_kb_after"] for s in row.get("samples") or [] if s.get("server_rss_kb_after")]
        if len(rss) >= 3 and stats.looks_like_leak(rss):
            notes.append("RSS grew every sample: possible leak")
        out.append(f"| {_cell(compare.result_key(row, several))} | {_num(row.get('server_cpu_us_per_req'), 0)} | "
                   f"{_num(row.get('server_rss_kb_peak'), 0)} | {_num(row.get('server_rss_kb_growth'), 0)} | "
                   f"{_num(row.get('client_cpu_pct'), 0)} | {'; '.join(notes)} |")
    return out + [""]


def _scaling_section(rows: list[dict]) -> list[str]:
    levels = sorted({row["concurrency"] for row in rows})
    out = ["## Scaling (req/s / p99 ms per concurrency)", "",
           "| Endpoint | " + " | ".join(f"c={c}" for c in levels) + " |",
           "|---|" + "---:|" * len(levels)]
    by_endpoint: dict[str, dict[int, dict]] = {}
    for row in rows:
        by_endpoint.setdefault(row["endpoint"], {})[row["concurrency"]] = row
    for endpoint, per_level in by_endpoint.items():
        cells = []
        for level in levels:
            row = per_level.get(level)
            cells.append("–" if row is None else f"{_num(row.get('requests_per_sec'))} / {_num(row.get('p99_ms'), 1)}")
        out.append(f"| {_cell(endpoint)} | " + " | ".join(cells) + " |")
    return out + [""]


def _problem_details(rows: list[dict], several: bool) -> list[str]:
    out = []
    for row in rows:
        errors = json.loads(row["server_errors"]) if row.get("server_errors") else []
        interesting = (row.get("status") or "ok") != "ok" or row.get("non_2xx") or row.get("failed_requests")
        if not interesting and not row.get("caveat"):
            continue
        name = compare.result_key(row, several)
        out += [f"### {name}: {row.get('status') or 'ok'}", ""]
        if row.get("caveat"):
            out += [f"Untrusted: {row['caveat']}.", ""]
        if row.get("error"):
            out += [f"- {row['error']}"]
        if row.get("server_log_lines") is not None and interesting:
            out.append(f"- the server wrote {row['server_log_lines']} log line(s) during this endpoint"
                       + (", first distinct ones:" if errors else ""))
            for item in errors:
                out.append(f"  - `{item['line']}`" + (f" (x{item['count']})" if item["count"] > 1 else ""))
        if row.get("backtrace"):
            frames = [l for l in row["backtrace"].splitlines() if l.lstrip().startswith("#")][:8]
            out += ["", "Backtrace (top frames, from gdb):", "", "```", *frames, "```"]
        elif row.get("server_log_tail") and row.get("status") == "crashed":
            out += ["", "Server log tail:", "", "```", *row["server_log_tail"].splitlines()[-10:], "```"]
        out.append("")
    return (["## Problems", ""] + out) if out else []


def _comparison_section(report: dict, several: bool) -> list[str]:
    out = []
    for note in report["notes"]:
        out.append(f"> Note: {note}")
    if out:
        out.append("")
    comparison = report["comparison"]
    if comparison is None:
        return out
    base = report["baseline"]
    summary = report["summary"]
    out += [f"## Compared with run {base['run_id']} ({base['timestamp']}, {base.get('git_commit')})", "",
            f"| Endpoint | run {base['run_id']} req/s | run {report['run']['run_id']} req/s | change | p99 change | verdict |",
            "|---|---:|---:|---:|---:|---|"]
    for key, entry in comparison.items():
        change = "–" if entry["change_pct"] is None else f"{entry['change_pct']:+.1f}%"
        p99 = "–" if entry.get("p99_change_pct") is None else f"{entry['p99_change_pct']:+.1f}%"
        verdict = entry["verdict"]
        marker = {"regressed": "**regressed**", "improved": "**improved**"}.get(verdict, verdict)
        out.append(f"| {_cell(key)} | {_num(entry['previous'])} | {_num(entry['current'])} | {change} | {p99} | "
                   f"{marker}: {_cell(entry['explanation'])} |")
    if summary["geometric_mean_ratio"]:
        out.append("")
        out.append(f"Geometric mean of req/s ratios: {summary['geometric_mean_ratio']:.3f} "
                   f"({(summary['geometric_mean_ratio'] - 1) * 100:+.1f}%)")
    for side, keys in (("only in the baseline", summary["only_in_baseline"]),
                       ("only in this run", summary["only_in_current"])):
        if keys:
            out.append(f"- Endpoints {side}: {', '.join(keys)}")
    return out + [""]
