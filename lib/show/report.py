"""A run's report: gather it (`collect`, through the one comparison path in
lib/judge/comparison.py), then render it as Markdown (`render_markdown`) or JSON
(`to_json`). benchmark.py prints it after a run; `show_results.py --run ID`
prints the very same thing later. Its comparison with the baseline is
worded by lib/show/comparison_view.py, as `--compare` words it.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

from lib.core.text import (cell, commit_text, levels, md, num, pct, result_key, safe, status_text, sweeps,
                           timestamp_text)
from lib.judge import limits as limit_rules
from lib.judge.comparison import Comparison, compare_with_baseline
from lib.machine import disturbance
from lib.machine.environment import of_run as environment_of
from lib.show.comparison_view import comparison_json, comparison_lines, comparison_verdict
from lib.show.history import run_json

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
    ("warmup_s", "warmup_s"),
    ("rps_min", "rps_min"), ("rps_max", "rps_max"),
    ("server_cpu_us_per_req", "server_cpu_us_per_req"), ("server_rss_kb_before", "server_rss_kb_before"),
    ("server_rss_kb_after", "server_rss_kb_after"), ("server_rss_kb_peak", "server_rss_kb_peak"),
    ("server_rss_kb_growth", "server_rss_kb_growth"), ("client_cpu_pct", "client_cpu_pct"),
    ("server_log_lines", "server_log_lines"), ("crash_signal", "crash_signal"),
    ("server_log_tail", "server_log_tail"), ("backtrace", "backtrace"),
    ("backtrace_status", "backtrace_status"), ("backtrace_port", "backtrace_port"), ("probe", "probe"),
    ("result_id", "result_id"), ("steal_pct", "steal_pct"), ("other_busy_pct", "other_busy_pct"),
    ("setup_fingerprint", "setup_fingerprint"),
)
SAMPLE_FIELDS = ("requests_per_sec", "time_per_request", "p50_ms", "p90_ms", "p95_ms", "p99_ms",
                 "max_ms", "complete_requests", "failed_requests", "non_2xx", "time_taken",
                 "server_cpu_us_per_req", "server_rss_kb_after", "server_rss_kb_peak",
                 "client_cpu_pct", "steal_pct", "other_busy_pct")


@dataclass
class RunReport:
    """Everything a run's report shows: the run, its results, and its
    comparison with a baseline (which may have found none)."""
    run: dict
    results: list[dict]
    comparison: Comparison
    profiles: dict = field(default_factory=dict)  # key -> profiles.EndpointProfile (--profile)


def collect(db, run_id: int, *, baseline_id: int | None = None, threshold_pct: float = 5.0,
            allow_engine_mix: bool = False) -> RunReport:
    comparison = compare_with_baseline(db, run_id, baseline_id, threshold_pct=threshold_pct,
                                       allow_engine_mix=allow_engine_mix)
    run = comparison.run
    # Side by side, the candidate's profiles are told against the baseline's.
    other = run.get("paired_with") if run.get("side") == "candidate" else None
    results = db.results(run_id)
    several = sweeps(results) or comparison.several
    rows = db.profiles(run_id)
    found = _profiles().gather(db, rows, other, several) if rows else {}  # most runs have none
    return RunReport(run, results, comparison, found)


# ---- JSON -----------------------------------------------------------------

# What only some runs need (a profile, three samples, a probe) is imported when
# one is shown, so the report of a plain run starts fast.

def _profiles():
    from lib.explain import profiles
    return profiles


def _looks_like_leak(rss: list) -> bool:
    if len(rss) < 3:
        return False
    from lib.judge.series import looks_like_leak
    return looks_like_leak(rss)


def _probe_explain(answer: str) -> str:
    from lib.explain import probe
    return probe.explain(answer)


def result_json(row: dict) -> dict:
    out = {name: row.get(column) for name, column in RESULT_FIELDS}
    for name in ("server_errors", "connection_times"):
        out[name] = json.loads(row[name]) if row.get(name) else ([] if name == "server_errors" else None)
    out["client_bound"] = None if row.get("client_bound") is None else bool(row["client_bound"])
    out["limits"] = limit_rules.stored(row)
    out["samples"] = [{k: s.get(k) for k in SAMPLE_FIELDS} | {"sample": s["sample_number"]}
                      for s in row.get("samples") or []]
    for sample in out["samples"]:
        sample["time_per_request_ms"] = sample.pop("time_per_request")
    rss = [s["server_rss_kb_after"] for s in out["samples"] if s.get("server_rss_kb_after") is not None]
    out["possible_leak"] = _looks_like_leak(rss)
    return out


def to_json(report: RunReport) -> dict:
    out = run_json(report.run)
    out["results"] = [result_json(row) for row in report.results]
    out.update(comparison_json(report.comparison))
    out["verdict"] = verdict_line(report)
    out["profiles"] = _profiles().to_json(report.profiles) if report.profiles else {}
    return out


# ---- wording --------------------------------------------------------------

def headline(report: RunReport) -> str:
    counts: dict[str, int] = {}
    for row in report.results:
        counts[row.get("status") or "ok"] = counts.get(row.get("status") or "ok", 0) + 1
    status = (report.run.get("status") or "complete").upper()
    bad = ", ".join(f"{n} {s}" for s, n in counts.items() if s != "ok")
    return safe(f"{status}" + (f": {bad}" if bad else ""))


def verdict_line(report: RunReport) -> str:
    run, rows = report.run, report.results
    ok = sum(1 for r in rows if (r.get("status") or "ok") == "ok")
    parts = [f"{ok} of {len(rows)} endpoints ok"]
    problems = [r for r in rows if (r.get("status") or "ok") != "ok"]
    for row in problems[:4]:
        parts.append(f"{safe(row['endpoint'])} {safe(status_text(row))}")
    crossed = limit_rules.crossed(rows)
    if crossed:
        parts.append("limits crossed: " + "; ".join(safe(limit_rules.crossed_text(row["endpoint"], entry))
                                                    for row, entry in crossed[:4])
                     + (f" and {len(crossed) - 4} more" if len(crossed) > 4 else ""))
    if run.get("status") == "interrupted":
        parts.append("run interrupted")
    elif run.get("status") == "failed" and run.get("error"):
        parts.append("run failed: " + safe(run["error"].splitlines()[0]))
    if report.comparison.compared:
        parts.append(f"against run {report.comparison.baseline['run_id']}: "
                     + comparison_verdict(report.comparison))
        endpoints = report.comparison.endpoints
        changes = {key: _profiles().headline_changes(prof) for key, prof in report.profiles.items()
                   if key in endpoints and endpoints[key].rps.called}
        why = [f"{safe(key)} {text}" for key, text in changes.items() if text]
        if why:
            parts.append("perf: " + "; ".join(why))
    elif rows:  # why not: no comparable run (which field kept it out), or engines differ
        parts.append(safe(report.comparison.notes[0]) if report.comparison.notes
                     else "no earlier comparable run to compare with")
    return "; ".join(parts)


# ---- Markdown -------------------------------------------------------------

def render_markdown(report: RunReport) -> str:
    run, rows = report.run, report.results
    several = sweeps(rows)
    out = [f"# HBF benchmark run {run['run_id']}: {md(headline(report))}", ""]
    out += _attention(report)
    out += _run_table(run)
    out += ["## Results", "",
            "| Category | Endpoint | req/s | mean ms | p50 ms | p95 ms | p99 ms | failed | status |",
            "|---|---|---:|---:|---:|---:|---:|---:|---|"]
    out += [_result_line(row, several) for row in rows]
    out.append("")
    out += _limits_section(rows, several)
    out += _resources_section(rows, several)
    if several:
        out += _scaling_section(rows)
    out += _problem_details(rows, several)
    verdicts = {key: f"{entry.rps.verdict} {pct(entry.rps.change_pct)}"
                for key, entry in report.comparison.endpoints.items() if entry.compared}
    out += _profiles().markdown(report.profiles, verdicts) if report.profiles else []
    comparison = report.comparison
    out += [f"> Note: {md(note)}" for note in comparison.notes] + ([""] if comparison.notes else [])
    if comparison.compared:
        base = comparison.baseline
        out += [f"## Compared with run {base['run_id']} ({timestamp_text(base['timestamp'])}, "
                f"{md(commit_text(base))})", ""]
        out += comparison_lines(comparison)
    out += [f"**Verdict:** {md(verdict_line(report))}", ""]
    return "\n".join(out)


def _limits_section(rows: list[dict], several: bool) -> list[str]:
    checked = [(row, entry) for row in rows for entry in limit_rules.stored(row)]
    if not checked:
        return []
    out = ["## Limits", "", "| Endpoint | metric | limit | value | kept |", "|---|---|---|---:|---|"]
    out += [f"| {cell(result_key(row, several))} | {cell(entry['metric'])} | {entry['op']} {entry['bound']:g} | "
            f"{num(entry['value'], 2)} | "
            f"{'yes' if entry['passed'] else '**no: crossed**'} |" for row, entry in checked]
    return out + [""]


def _attention(report: RunReport) -> list[str]:
    """Problems first: a crash is the headline, not a footnote."""
    run = report.run
    problems = [r for r in report.results if (r.get("status") or "ok") != "ok"]
    # (A complete run may still carry an `error`: a server that had to be killed.)
    if (run.get("status") not in ("partial", "failed", "interrupted") and not problems
            and not run.get("error") and not limit_rules.crossed(report.results)):
        return []
    out = ["> **Attention:** " + md(verdict_line(report))]
    for row in problems:
        out.append(f"> - **{cell(row['endpoint'])}** {cell(row['status'])}"
                   + (f" by **{cell(row['crash_signal'])}**" if row.get("crash_signal") else "")
                   + (f": {cell(row['error'])}" if row.get("error") else "")
                   + (f"; {cell(_probe_explain(row['probe']))}" if row.get("probe") else ""))
    if run.get("error"):
        out.append(f"> - run: {cell(run['error'])}")
    return out + [""]


def _run_table(run: dict) -> list[str]:
    env = environment_of(run) or {}
    warmup = run.get("warmup") if run.get("warmup") is not None else "–"
    out = [
        "| | |", "|---|---|",
        f"| Run | {run['run_id']} ({cell(run.get('status'))}) |",
        f"| Time | {cell(timestamp_text(run['timestamp']))} |",
        f"| Commit | {cell(commit_text(run))} |",
        f"| Build | {cell(run.get('build_mode'))}, pod {cell(run.get('pod'))} |",
        f"| Load | {run.get('requests')} requests x concurrency "
        f"{','.join(map(str, levels(run.get('concurrency')))) or '?'}, {run.get('repeat') or 1} sample(s), "
        f"warmup {warmup}, engine {cell(run.get('engine') or 'ab')} {cell(run.get('engine_version') or '')} |",
    ]
    if env:
        out.append(f"| Machine | {cell(env.get('hostname'))}, {cell(env.get('cpu_count'))} x "
                   f"{cell(env.get('cpu_model'))}, load {cell(env.get('load_average'))} |")
    if run.get("target"):
        out.append(f"| Target | {cell(run['target'])} |")
    if run.get("pinned"):
        out.append(f"| Pinned (CPUs) | {cell(run['pinned'])} |")
    if run.get("side"):
        other = "baseline" if run["side"] == "candidate" else "candidate"
        out.append(f"| Side by side | {cell(run['side'])}; samples alternated with run "
                   f"{run.get('paired_with')} ({other}) |")
    return out + [f"| Notes | {cell(run.get('notes') or '')} |", ""]


def _result_line(row: dict, several: bool) -> str:
    failed = row.get("failed_requests") or 0
    non_2xx = row.get("non_2xx") or 0
    failed_text = f"{failed}" + (f" (+{non_2xx} non-2xx)" if non_2xx else "")
    spread = ""
    if (row.get("sample_count") or 1) > 1 and row.get("rps_min") is not None:
        spread = f" ({num(row['rps_min'])}..{num(row['rps_max'])})"
    status = row.get("status") or "ok"
    if row.get("caveat"):
        status += " (untrusted)"
    return (f"| {cell(row['category'])} | {cell(result_key(row, several))} | "
            f"{num(row.get('requests_per_sec'))}{spread} | {num(row.get('time_per_request'), 2)} | "
            f"{num(row.get('p50_ms'), 2)} | {num(row.get('p95_ms'), 2)} | {num(row.get('p99_ms'), 2)} | "
            f"{failed_text} | {cell(status)} |")


def _code(text: str) -> str:
    """A line of outside text inside a code span or block: inert, and unable to close it."""
    return safe(text).replace("`", "'")


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
        if _looks_like_leak(rss):
            notes.append("RSS grew every sample: possible leak")
        disturbed = disturbance.disturbance_note(*disturbance.worst([row]))
        if disturbed:
            notes.append(disturbed)
        out.append(f"| {cell(result_key(row, several))} | {num(row.get('server_cpu_us_per_req'), 0)} | "
                   f"{num(row.get('server_rss_kb_peak'), 0)} | {num(row.get('server_rss_kb_growth'), 0)} | "
                   f"{num(row.get('client_cpu_pct'), 0)} | {'; '.join(notes)} |")
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
            cells.append("–" if row is None else f"{num(row.get('requests_per_sec'))} / {num(row.get('p99_ms'), 1)}")
        out.append(f"| {cell(endpoint)} | " + " | ".join(cells) + " |")
    return out + [""]


def _problem_details(rows: list[dict], several: bool) -> list[str]:
    out = []
    for row in rows:
        errors = json.loads(row["server_errors"]) if row.get("server_errors") else []
        interesting = (row.get("status") or "ok") != "ok" or row.get("non_2xx") or row.get("failed_requests")
        if not interesting and not row.get("caveat"):
            continue
        name = result_key(row, several)
        out += [f"### {md(name)}: {md(row.get('status') or 'ok')}", ""]
        if row.get("caveat"):
            out += [f"Untrusted: {md(row['caveat'])}.", ""]
        if row.get("error"):
            out += [f"- {md(row['error'])}"]
        if row.get("server_log_lines") is not None and interesting:
            out.append(f"- the server wrote {row['server_log_lines']} log line(s) during this endpoint"
                       + (", first distinct ones:" if errors else ""))
            for item in errors:
                out.append(f"  - `{_code(item['line'])}`" + (f" (x{item['count']})" if item["count"] > 1 else ""))
        if row.get("probe"):
            out.append(f"- {md(_probe_explain(row['probe']))}; its answer: `{_code(row['probe'])}`")
        if row.get("backtrace"):
            frames = [l for l in row["backtrace"].splitlines() if l.lstrip().startswith("#")][:8]
            port = f" on port {row['backtrace_port']}" if row.get("backtrace_port") else ""
            out += ["", f"Backtrace (top frames, from gdb{port}):", "", "```", *map(_code, frames), "```"]
        elif row.get("status") == "crashed":
            from lib.explain.backtrace import status_text as backtrace_status_text  # (it drives gdb: heavy)
            why = backtrace_status_text(row.get("backtrace_status"), row.get("backtrace_port"))
            out += [f"- {md(why)}"] if why else []
            if row.get("server_log_tail"):
                out += ["", "Server log tail:", "", "```",
                        *map(_code, row["server_log_tail"].splitlines()[-10:]), "```"]
        out.append("")
    return (["## Problems", ""] + out) if out else []
