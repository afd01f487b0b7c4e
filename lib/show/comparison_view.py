"""A comparison of two runs in words and JSON, the same wherever it appears:
a run's report (lib/show/report.py) and `show_results.py --compare` (text and
--json). Its JSON fields (`comparison_json`,
`compare_json`), its one-line verdict (`comparison_verdict`) and its table
(`comparison_lines`). Apart from the run report so that --compare does not
import what only a report of one run shows (profiles, probes, resources).
"""
from __future__ import annotations

from lib.judge import stats
from lib.judge.compare import METRIC_BY_NAME, METRICS, RPS, EndpointVerdict, MetricVerdict
from lib.judge.comparison import Comparison, confirmation_applies
from lib.core.text import cell, md, num, pct, safe, table
from lib.show.history import run_json


# ---- JSON -----------------------------------------------------------------

def metric_json(verdict: MetricVerdict) -> dict:
    return {"previous": verdict.previous, "current": verdict.current, "change_pct": verdict.change_pct,
            "paired": verdict.paired, "verdict": verdict.verdict, "method": verdict.method,
            "p_value": _p(verdict.p_value), "p_adjusted": _p(verdict.p_adjusted), "z": verdict.z,
            "explanation": verdict.explanation}


def _p(value: float | None) -> float | None:
    """p-values to four significant digits in output: what a reader can use."""
    return None if value is None else float(f"{value:.4g}")


def endpoint_json(entry: EndpointVerdict) -> dict:
    """One endpoint of a comparison. The top-level verdict fields are req/s's
    (as before every metric was judged); `metrics` holds all four."""
    rps, p50, p99, cpu = (entry.metrics[m.name] for m in METRICS)
    return {
        "key": entry.key, "endpoint": entry.endpoint, "category": entry.category,
        "concurrency": entry.concurrency, "compared": entry.compared,
        "not_compared_reason": entry.not_compared_reason,
        "previous": rps.previous, "current": rps.current, "change_pct": rps.change_pct,
        "paired": rps.paired, "verdict": rps.verdict, "method": rps.method, "p_value": _p(rps.p_value),
        "p_adjusted": _p(rps.p_adjusted), "z": rps.z, "explanation": rps.explanation,
        "previous_p50_ms": p50.previous, "current_p50_ms": p50.current,
        "previous_p99_ms": p99.previous, "current_p99_ms": p99.current, "p99_change_pct": p99.change_pct,
        "previous_cpu_us_per_req": cpu.previous, "current_cpu_us_per_req": cpu.current,
        "cpu_change_pct": cpu.change_pct, "cpu_verdict": cpu.verdict, "cpu_explanation": cpu.explanation,
        "metrics": {name: metric_json(verdict) for name, verdict in entry.metrics.items()},
        "confirmed_by": entry.confirmed_by,
        "first_look": None if entry.first_look is None else {
            name: metric_json(verdict) for name, verdict in entry.first_look.metrics.items()},
        "steal_pct": entry.steal_pct, "other_busy_pct": entry.other_busy_pct,
        "machine_note": entry.machine_note,
    }


def comparison_json(comparison: Comparison) -> dict:
    """The comparison fields, the same wherever a comparison appears (a run's
    JSON, `show_results.py --compare --json`)."""
    summary = comparison.summary
    return {
        "baseline_run_id": comparison.baseline["run_id"] if comparison.baseline else None,
        "comparison": ({key: endpoint_json(e) for key, e in comparison.endpoints.items()}
                       if summary else None),
        "comparison_summary": None if summary is None else {
            "regressed": summary.regressed, "improved": summary.improved,
            "only_in_baseline": summary.only_in_baseline, "only_in_current": summary.only_in_current,
            "geometric_mean_ratio": summary.geometric_mean_ratio,
            "geometric_mean_endpoints": summary.geometric_mean_endpoints,
            "calls": [{"endpoint": c.endpoint, "metric": c.metric, "verdict": c.verdict,
                       "change_pct": c.change_pct} for c in summary.calls],
            "not_judged": summary.undecided,
        },
        "comparison_notes": comparison.notes,
    }


def compare_json(comparison, threshold_pct: float) -> dict:
    """`--compare --json`: both runs, then the comparison in the shape a run's
    JSON has it (baseline_run_id, comparison, comparison_summary,
    comparison_notes, verdict). The older fields (endpoints, regressed, ...)
    stay for readers of earlier versions."""
    out = {"baseline": run_json(comparison.baseline), "current": run_json(comparison.run),
           "run_id": comparison.run["run_id"], "threshold_pct": threshold_pct}
    out.update(comparison_json(comparison))
    out["baseline_run_id"] = comparison.baseline["run_id"]
    summary = comparison.summary
    out["verdict"] = comparison_verdict(comparison) if summary else "not compared"
    out.update({
        "differences": comparison.notes,
        "endpoints": [endpoint_json(e) for e in comparison.endpoints.values()],
        "only_in_baseline": summary.only_in_baseline if summary else [],
        "only_in_current": summary.only_in_current if summary else [],
        "geometric_mean_ratio": summary.geometric_mean_ratio if summary else None,
        "geometric_mean_endpoints": summary.geometric_mean_endpoints if summary else 0,
        "regressed": summary.regressed if summary else [], "improved": summary.improved if summary else [],
    })
    return out


# ---- the verdict in one line ------------------------------------------------

def comparison_verdict(comparison: Comparison) -> str:
    """The comparison in one line: every endpoint and metric called, in table order."""
    summary = comparison.summary
    if not comparison.endpoints:
        return "nothing to compare: no endpoint was measured in both runs"
    per_endpoint: dict[str, list[str]] = {}
    for call in summary.calls:
        label = METRIC_BY_NAME[call.metric].label
        per_endpoint.setdefault(call.endpoint, []).append(f"{label} {call.verdict} {pct(call.change_pct)}")
    text = "; ".join(f"{safe(key)} " + ", ".join(bits) for key, bits in per_endpoint.items())
    if comparison.same_binary:  # one thing to say: nothing can be called (and nothing is "unclear")
        return f"no significant change ({safe(comparison.same_binary)})"
    compared = sum(1 for e in comparison.endpoints.values() if e.compared)
    unclear = unclear_moves(comparison)
    if summary.undecided and summary.undecided == compared and not text and not unclear:
        return "not judged (insufficient data: use --repeat 5, or build up history)"
    text = text or ("no other significant change" if unclear else "no significant change")
    if summary.undecided:
        text += f" ({summary.undecided} endpoint(s) not judged: insufficient data; measure with --repeat 5)"
    return "; ".join(unclear + [text])


def unclear_entries(comparison: Comparison) -> list[EndpointVerdict]:
    """The endpoints whose req/s moved beyond the threshold but no test could call."""
    return [entry for entry in comparison.endpoints.values()
            if entry.compared and not entry.rps.called and entry.rps.change_pct is not None
            and abs(entry.rps.change_pct) >= comparison.threshold_pct]


def unclear_moves(comparison: Comparison) -> list[str]:
    """A move beyond the threshold that no test could call is never hidden in
    "no significant change": it is unclear, and one command settles it."""
    out = []
    for entry in unclear_entries(comparison):
        again = " --repeat 10" if entry.first_look or comparison.paired else ""
        out.append(f"{safe(entry.key)} unclear: req/s moved {pct(entry.rps.change_pct)} but no test could call it "
                   f"(settle it: benchmark.py --against {comparison.baseline['run_id']} "
                   f"--only '{safe(entry.endpoint)}'{again})")
    return out


def confirmation_line(comparison: Comparison) -> str | None:
    """What became of the confirmation of this comparison, in one sentence."""
    record = comparison.confirmation
    if not confirmation_applies(comparison):
        return None
    status, reason = record.get("status"), record.get("reason")
    if status == "confirmed":
        return (f"Confirmed side by side: {', '.join(safe(k) for k in record['endpoints'])} measured again "
                f"against run {record['against_run_id']}'s kept binary, {record['repeat']} alternating "
                f"pairs (runs {record['baseline_run_id']} and {record['run_id']}); the verdicts shown "
                "for them are the paired ones, the first look beside them.")
    return f"Confirmation {safe(status)}: {safe(reason or 'no reason recorded')}."


# ---- the comparison table --------------------------------------------------

MARK = {stats.REGRESSED: "**regressed**", stats.IMPROVED: "**improved**",
        stats.NO_CHANGE: "–", stats.INSUFFICIENT: "?"}


def comparison_lines(comparison: Comparison) -> list[str]:
    """Per endpoint: req/s of both runs, its change and verdict, then p50, p99
    and server CPU per request with their change and call; the reasons below."""
    a, b = comparison.baseline["run_id"], comparison.run["run_id"]
    rows, reasons = [], []
    for key, entry in comparison.endpoints.items():
        rps = entry.rps
        verdict = rps.verdict if entry.compared else "not compared"
        if entry.first_look is not None:
            verdict += " (confirmed)"
        rows.append([cell(key), num(rps.previous), num(rps.current), _change(rps), cell(verdict)]
                    + [_metric_cell(entry.metrics[m.name]) for m in METRICS[1:]])
        if not entry.compared:
            reasons.append(f"- {cell(key)}: not compared: {cell(entry.not_compared_reason)}")
            continue
        reasons.append(f"- {cell(key)} req/s: {rps.verdict}: {cell(rps.explanation)}")
        if entry.first_look is not None:
            first = entry.first_look.rps
            reasons.append(f"- {cell(key)}: first look (one run after the other): {first.verdict}, "
                           f"{pct(first.change_pct)}; confirmed side by side by run {entry.confirmed_by}")
        reasons += [f"- {cell(key)} {m.label}: {m.verdict}: {cell(m.explanation)}"
                    for m in entry.calls if m.metric != RPS]
        if entry.machine_note:
            reasons.append(f"- {cell(key)}: {cell(entry.machine_note)}")
    if not rows:
        return ["No endpoint was measured in both runs.", ""]
    confirmed = confirmation_line(comparison)
    out = table(["endpoint", f"req/s {a}", f"req/s {b}", "change", "verdict (req/s)", "p50 ms",
                 "p99 ms", "CPU µs/req"], rows, right={1, 2, 3, 5, 6, 7})
    out += ["", "p50, p99 and CPU: run " + f"{a} → run {b}, change, call (**regressed**/**improved**; "
            "– no significant change; ? insufficient data)."]
    if comparison.paired:
        out.append("Side by side, a change is the geometric mean of the sample pairs' ratios "
                   "(marked \"pairs\"), not the ratio of the two medians shown.")
    out += ["", *reasons, ""] + ([md(confirmed), ""] if confirmed else [])
    summary = comparison.summary
    if summary.geometric_mean_ratio:
        ratio = summary.geometric_mean_ratio
        out.append(f"Geometric mean of req/s ratios (run {b} / run {a}) over "
                   f"{summary.geometric_mean_endpoints} shared endpoint(s): {ratio:.3f} "
                   f"({(ratio - 1) * 100:+.1f}%)")
    for side, keys in ((f"only in run {a}", summary.only_in_baseline),
                       (f"only in run {b}", summary.only_in_current)):
        if keys:
            out.append(f"Endpoints {side}: " + ", ".join(cell(k) for k in keys))
    return out + [""]


def _change(verdict: MetricVerdict) -> str:
    return pct(verdict.change_pct) + (" pairs" if verdict.paired and verdict.change_pct is not None else "")


def _metric_cell(verdict: MetricVerdict) -> str:
    digits = METRIC_BY_NAME[verdict.metric].digits
    if verdict.previous is None and verdict.current is None:
        return "–"
    text = f"{num(verdict.previous, digits)} → {num(verdict.current, digits)}"
    if verdict.change_pct is not None:
        text += f" {_change(verdict)}"
    return f"{text} {MARK[verdict.verdict]}"
