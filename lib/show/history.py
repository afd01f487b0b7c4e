"""What show_results.py shows, read from the database: run references and
endpoint names resolved, the run list, a comparison of two runs (through the
one comparison path, lib/judge/comparison.py) and trends, as plain data that
`--json` prints and lib/show/views.py renders.

Imports of the statistics and comparison modules are lazy on purpose: the
list view must not pay for them (bench/history_speed.py).
"""
from __future__ import annotations

import json
import re

from lib.builds import binaries
from lib.core.errors import BenchError
from lib.core.text import TIMESTAMP_FORMAT, levels, sweeps, timestamp_text

DEFAULT_LIMIT = 10
DEFAULT_TREND_LIMIT = 20
ALIASES = ("latest", "previous")


class ViewError(BenchError):
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
    return moment.strftime(TIMESTAMP_FORMAT)


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


# ----------------------------------------------------------------- runs

def run_json(run: dict) -> dict:
    """A run row for JSON: every column under its own name, concurrency as a
    list, the environment parsed, timestamps in the one format; the list's
    result counts as results_total / results_ok."""
    from lib.machine.environment import of_run
    out = dict(run)
    out["concurrency"] = levels(run.get("concurrency"))
    out["environment"] = of_run(run)
    for name in ("server_args", "confirmation"):  # JSON text in the database
        out[name] = json.loads(run[name]) if run.get(name) else None
    for name in ("timestamp", "finished_at"):
        out[name] = timestamp_text(run.get(name))
    for name in ("result_count", "problem_count"):
        out.pop(name, None)
    if "result_count" in run:
        out["results_total"] = run["result_count"]
        out["results_ok"] = run["result_count"] - (run["problem_count"] or 0)
    return out


def list_data(db, *, limit: int, branch=None, build_mode=None, pod=None, since=None,
              status=None) -> dict:
    runs = db.list_runs(limit=limit, branch=branch, build_mode=build_mode, pod=pod,
                        since=since, status=status)
    filters = {k: v for k, v in (("branch", branch), ("build_mode", build_mode), ("pod", pod),
                                 ("since", since), ("status", status)) if v is not None}
    store = binaries.store_dir(db.path)
    files, size = binaries.store_size(store)
    listed = []
    for run in runs:
        out = run_json(run)
        out["binary_kept"] = binaries.kept_path(store, run.get("binary_sha256")) is not None
        listed.append(out)
    return {"database": str(db.path), "limit": limit, "filters": filters,
            "total_runs": db.run_count(), "runs": listed,
            "binary_store": {"path": str(store), "files": files, "bytes": size}}



# -------------------------------------------------------------- profiles

def profile_data(db, ref: str, endpoint: str | None, *, one: bool) -> dict:
    """A run's profiles (lib/explain/profiles.py), one endpoint's with `endpoint`;
    `one`: exactly one must remain (--folded prints one flame graph's input)."""
    from lib.explain import profiles
    run_id = resolve_run(db, ref, "--profile")
    run = db.run(run_id)
    other = run.get("paired_with") if run.get("side") == "candidate" else None
    found = profiles.gather(db, db.profiles(run_id), other, sweeps(db.results(run_id, with_samples=False)))
    if not found:
        raise ViewError(f"run {run_id} has no profiles: measure with benchmark.py --profile")
    if endpoint is not None:
        matches = {k: p for k, p in found.items() if p.endpoint == endpoint} or \
                  {k: p for k, p in found.items() if endpoint in k}
        if not matches:
            raise ViewError(f"--endpoint {endpoint!r} matches no profile of run {run_id}; it has: "
                            + ", ".join(found))
        found = matches
    if one and len(found) > 1:
        raise ViewError(f"--folded prints one endpoint's stacks; run {run_id} has {len(found)} "
                        f"profiles: pick one with --endpoint ({', '.join(found)})")
    return {"run_id": run_id, "profiles": found}


# -------------------------------------------------------------- compare

def compare_runs(db, ref_a: str, ref_b: str, *, threshold_pct: float, allow_engine_mix: bool = False):
    """Run A (the baseline, "before") against run B: the one comparison path."""
    from lib.judge.comparison import compare_with_baseline
    a_id = resolve_run(db, ref_a, "--compare")
    b_id = resolve_run(db, ref_b, "--compare")
    if a_id == b_id:
        raise ViewError(f"--compare {ref_a} {ref_b}: both name run {a_id}; "
                        "give two different runs (e.g. --compare previous latest)")
    comparison = compare_with_baseline(db, b_id, a_id, threshold_pct=threshold_pct,
                                       allow_engine_mix=allow_engine_mix)
    if comparison.baseline is None:  # refused (engines differ): still show which run it was
        comparison.baseline = db.run(a_id)
    return comparison


# ---------------------------------------------------------------- trend

def trend_data(db, name: str, *, limit: int, pod=None, build_mode=None, branch=None,
               since=None, concurrency=None) -> dict:
    from lib.judge import series, stats
    endpoint = resolve_endpoint(db, name)
    rows = db.endpoint_trend(endpoint, limit=limit, pod=pod, build_mode=build_mode, branch=branch,
                             since=since, concurrency=concurrency)
    main, counted = series.counted(rows)
    steps = series.steps_of(rows, counted)
    points = [_point(r, main, used, steps.get(i)) for i, (r, used) in enumerate(zip(rows, counted))]
    summary = stats.summarize([r["requests_per_sec"] for r, c in zip(rows, counted) if c])
    warnings = []
    if summary["count"] > series.STEP_MAX_POINTS:
        warnings.append(f"level shifts were looked for in the newest {series.STEP_MAX_POINTS} results only")
    others = sorted({series.configuration(r) for r in rows} - {main})
    if others:
        left_out = sum(1 for p in points if not p["same_configuration"])
        warnings.append(f"{left_out} of these {len(rows)} results were measured otherwise than the "
                        f"newest ({main}): {'; '.join(others)}. {PICK_SERIES}")
    return {
        "endpoint": endpoint, "query": name, "limit": limit,
        "filters": _trend_filters(pod, build_mode, branch, since, concurrency),
        "configuration": main,
        "points": points,
        "sparkline": series.sparkline([r["requests_per_sec"] if c else None for r, c in zip(rows, counted)]),
        "steps": [{"run_id": points[i]["run_id"], **s} for i, s in sorted(steps.items())],
        "statistics": {k: v if k == "count" or v is None else round(v, 2) for k, v in summary.items()},
        "warnings": warnings,
    }


PICK_SERIES = ("They are listed but left out of the sparkline, level shifts and statistics; "
               "pick a series with --pod, --build-mode or --concurrency")


def _point(r: dict, main: str, used: bool, step: dict | None) -> dict:
    from lib.judge.series import configuration
    return {
        "run_id": r["run_id"], "result_id": r["result_id"], "timestamp": timestamp_text(r["timestamp"]),
        "git_commit": r["git_commit"], "git_branch": r["git_branch"],
        "build_mode": r["build_mode"], "pod": r["pod"], "engine": r["engine"] or "ab",
        "requests": r["requests"], "concurrency": r["concurrency"],
        "requests_per_sec": r["requests_per_sec"], "time_per_request_ms": r["time_per_request"],
        "p50_ms": r["p50_ms"], "p99_ms": r["p99_ms"],
        "server_cpu_us_per_req": r["server_cpu_us_per_req"], "status": r["status"] or "ok",
        "error": r["error"], "crash_signal": r["crash_signal"], "probe": r["probe"], "caveat": r["caveat"],
        "same_configuration": configuration(r) == main, "used_in_statistics": used, "step": step}


def trend_all_data(db, *, limit: int, pod=None, build_mode=None, branch=None, since=None,
                   concurrency=None) -> dict:
    """One row per endpoint, each following its newest result's configuration;
    `configurations` says which were drawn and `warnings` what was left out."""
    from lib.judge import series, stats
    endpoints, left_out = [], {}
    for endpoint in db.distinct_endpoints():
        rows = db.endpoint_trend(endpoint, limit=limit, pod=pod, build_mode=build_mode,
                                 branch=branch, since=since, concurrency=concurrency)
        if not rows:
            continue
        main, counted = series.counted(rows)
        for row in rows:
            if series.configuration(row) != main:
                left_out[series.configuration(row)] = left_out.get(series.configuration(row), 0) + 1
        steps = series.steps_of(rows, counted)
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
            "sparkline": series.sparkline([r["requests_per_sec"] if c else None
                                           for r, c in zip(rows, counted)], width=60),
            "steps": [{"run_id": rows[i]["run_id"], **s} for i, s in sorted(steps.items())],
        })
    # The suite's order (as the newest run measured them), not the alphabet's.
    endpoints.sort(key=lambda e: (-e["latest_run_id"], e["latest_result_id"]))
    drawn = list(dict.fromkeys(e["configuration"] for e in endpoints))
    warnings = []
    if left_out:
        others = "; ".join(f"{k} ({n} result(s))" for k, n in left_out.items())
        warnings.append(f"{sum(left_out.values())} result(s) were measured otherwise than their "
                        f"endpoint's newest result ({'; '.join(drawn)}): {others}. {PICK_SERIES}")
    return {"limit": limit, "filters": _trend_filters(pod, build_mode, branch, since, concurrency),
            "configurations": drawn, "left_out": left_out, "endpoints": endpoints, "warnings": warnings}


def _trend_filters(pod, build_mode, branch, since, concurrency) -> dict:
    return {k: v for k, v in (("pod", pod), ("build_mode", build_mode), ("branch", branch),
                              ("since", since), ("concurrency", concurrency)) if v is not None}
