"""Compare two runs endpoint by endpoint: pure functions over result rows.

Rows are benchmark_results rows (dicts) with their `samples`. With several
samples on both sides the verdict comes from a rank test plus a minimum
effect; with one sample it is judged against the noise of the endpoint's
recent history (lib/stats.py has the rules and the wording).
"""
from __future__ import annotations

from lib import stats


def result_key(row: dict, several_levels: bool) -> str:
    """An endpoint's name, plus its concurrency when a run swept several levels."""
    return f"{row['endpoint']} @c={row['concurrency']}" if several_levels else row["endpoint"]


def sweeps(rows: list[dict]) -> bool:
    return len({row["concurrency"] for row in rows}) > 1


def keyed(rows: list[dict]) -> dict[str, dict]:
    several = sweeps(rows)
    return {result_key(row, several): row for row in rows}


def _values(row: dict, field: str) -> list[float]:
    samples = [s[field] for s in row.get("samples") or [] if s.get(field) is not None]
    if samples:
        return samples
    return [row[field]] if row.get(field) is not None else []


def _group_values(baseline: dict, current: dict, field: str) -> tuple[list[float], list[float]]:
    return _values(baseline, field), _values(current, field)


def _paired_values(baseline: dict, current: dict, field: str) -> tuple[list[float], list[float]]:
    """Side by side: the two runs' values of `field`, sample i beside sample i
    (taken next to each other), leaving out a pair with a side missing."""
    base = {s["sample_number"]: s.get(field) for s in baseline.get("samples") or []}
    cur = {s["sample_number"]: s.get(field) for s in current.get("samples") or []}
    numbers = sorted(n for n in base if n in cur and base[n] is not None and cur[n] is not None)
    return [base[n] for n in numbers], [cur[n] for n in numbers]


def compare_rows(baseline: dict, current: dict, *, threshold_pct: float,
                 history: list[float] | None = None, interleaved: bool = False) -> dict:
    """One endpoint's comparison: previous/current req/s, change_pct, verdict, and why."""
    entry = {
        "endpoint": current["endpoint"], "category": current["category"],
        "concurrency": current["concurrency"],
        "previous": baseline.get("requests_per_sec"), "current": current.get("requests_per_sec"),
        "change_pct": None, "verdict": stats.INSUFFICIENT, "method": stats.METHOD_NONE,
        "p_value": None, "p_adjusted": None, "z": None, "explanation": "",
        "previous_p50_ms": baseline.get("p50_ms"), "current_p50_ms": current.get("p50_ms"),
        "previous_p99_ms": baseline.get("p99_ms"), "current_p99_ms": current.get("p99_ms"),
        "previous_cpu_us_per_req": baseline.get("server_cpu_us_per_req"),
        "current_cpu_us_per_req": current.get("server_cpu_us_per_req"),
        "p99_change_pct": _pct(baseline.get("p99_ms"), current.get("p99_ms")),
        "cpu_change_pct": _pct(baseline.get("server_cpu_us_per_req"), current.get("server_cpu_us_per_req")),
        "cpu_verdict": None,
    }
    problems = [f"{side} {row['status']}" for side, row in (("baseline", baseline), ("current", current))
                if (row.get("status") or "ok") != "ok"]
    if baseline.get("caveat"):
        problems.append("baseline not trusted: " + baseline["caveat"])
    if problems:
        entry["change_pct"] = _pct(entry["previous"], entry["current"])
        entry["explanation"] = "not compared: " + "; ".join(problems)
        return entry
    # Side by side, sample i of each run was taken next to the other's: judge
    # the pairs. Otherwise the two runs' samples are two separate groups.
    judge, values = ((stats.paired_compare, _paired_values) if interleaved
                     else (stats.compare, _group_values))
    verdict = judge(*values(baseline, current, "requests_per_sec"),
                    threshold_pct=threshold_pct, history=history, metric="req/s")
    entry.update(change_pct=_round(verdict.change_pct), verdict=verdict.verdict, method=verdict.method,
                 p_value=verdict.p_value, z=verdict.z, explanation=verdict.explanation)
    noise = None if interleaved else run_to_run_noise_pct(history)
    if (verdict.verdict in (stats.REGRESSED, stats.IMPROVED) and verdict.method != stats.METHOD_HISTORY
            and noise is not None and abs(verdict.change_pct) < 3 * noise):
        # Samples of one run share that run's conditions (server process,
        # machine load), so a rank test sees only within-run noise. Earlier
        # runs show how far whole runs wander: a change inside 3x that is
        # not called, however tight each run's samples are. (Side by side,
        # the samples alternated under the same conditions and the paired
        # test sees what drifts: this guard does not apply.)
        entry.update(verdict=stats.NO_CHANGE,
                     explanation=f"{verdict.explanation}, but within 3x the run-to-run noise "
                                 f"(±{noise:.1f}% over {len(history)} earlier runs)")
    base_cpu, cur_cpu = values(baseline, current, "server_cpu_us_per_req")
    if len(base_cpu) >= 3 and len(cur_cpu) >= 3:
        # Server CPU per request barely moves with machine noise: a second
        # opinion that tells "HBF does more work" from "the machine was busy".
        cpu = judge(base_cpu, cur_cpu, threshold_pct=threshold_pct, higher_is_better=False,
                    metric="server CPU/request")
        entry["cpu_verdict"] = cpu.verdict
        entry["cpu_explanation"] = cpu.explanation
    return entry


def run_to_run_noise_pct(history: list[float] | None, min_runs: int = 5) -> float | None:
    """How far earlier comparable runs' medians wander, in percent: robust
    (MAD-based) here, because repeated samples already brought their own
    evidence and one odd earlier run should not veto every later verdict.
    (Single samples have no such evidence: stats.compare judges them against
    the plain, more cautious stdev.)"""
    values = [v for v in history or [] if v]
    if len(values) < min_runs:
        return None
    return stats.robust_noise_pct(values)


def compare_runs(baseline_rows: list[dict], current_rows: list[dict], *, threshold_pct: float,
                 histories: dict[str, list[float]] | None = None,
                 interleaved: bool = False) -> tuple[dict, dict]:
    """(per-endpoint comparisons keyed like result_key, summary with the
    endpoints found on one side only and the geometric mean of req/s ratios)."""
    base, cur = keyed(baseline_rows), keyed(current_rows)
    histories = histories or {}
    comparison = {key: compare_rows(base[key], row, threshold_pct=threshold_pct,
                                    history=histories.get(key), interleaved=interleaved)
                  for key, row in cur.items() if key in base}
    judge_together(comparison)
    ratios = [c["current"] / c["previous"] for c in comparison.values()
              if c["previous"] and c["current"] and not c["explanation"].startswith("not compared")]
    geomean = stats.geometric_mean(ratios)
    summary = {
        "only_in_baseline": [k for k in base if k not in cur],
        "only_in_current": [k for k in cur if k not in base],
        "geometric_mean_ratio": round(geomean, 4) if geomean else None,
        "regressed": [k for k, c in comparison.items() if c["verdict"] == stats.REGRESSED],
        "improved": [k for k, c in comparison.items() if c["verdict"] == stats.IMPROVED],
    }
    return comparison, summary


def judge_together(comparison: dict[str, dict], alpha: float = stats.ALPHA) -> None:
    """A run's endpoints are tested at once, so a call must survive the
    Benjamini-Hochberg correction over every endpoint judged by a test:
    sets each one's `p_adjusted` and takes back a regressed/improved call
    whose adjusted p is not below alpha. (History z-scores have no p and
    already ask for 3 standard deviations.)"""
    tested = [c for c in comparison.values() if c["p_value"] is not None]
    adjusted = stats.benjamini_hochberg([c["p_value"] for c in tested])
    for entry, p_adjusted in zip(tested, adjusted):
        entry["p_adjusted"] = p_adjusted
        if entry["verdict"] in (stats.REGRESSED, stats.IMPROVED) and p_adjusted >= alpha:
            entry["verdict"] = stats.NO_CHANGE
            entry["explanation"] += (f", but not once {len(tested)} endpoints are judged together "
                                     f"(Benjamini-Hochberg adjusted {stats.format_p(p_adjusted)}); "
                                     "more samples (--repeat) or --side-by-side can show it")


def _pct(before, after) -> float | None:
    if before in (None, 0) or after is None:
        return None
    return _round((after - before) / abs(before) * 100.0)


def _round(value):
    return None if value is None else round(value, 2)
