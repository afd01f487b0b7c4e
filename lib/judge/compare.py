"""Judge two runs' results, endpoint by endpoint and metric by metric.

Pure functions over result rows (benchmark_results rows as dicts, with their
`samples`): no database, no wording beyond each verdict's explanation. The
one caller is lib/judge/comparison.py, which gathers the rows and the history.

Each of req/s, p50, p99 and server CPU per request is judged with the test
that fits how the samples were taken (lib/judge/stats.py has the tests):
- side by side (`paired`): sample i of each run was taken next to the
  other's, so the pairs' ratios are tested;
- 3+ samples a side: the two runs' samples as independent groups, and a
  call must also clear 3x the run-to-run noise of earlier runs;
- fewer: against the spread of earlier comparable runs (history).
Then every (endpoint, metric) judged by a test goes through one
Benjamini-Hochberg correction, so judging 28 figures at once does not make a
false call likely.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from lib.machine import disturbance
from lib.judge import stats
from lib.core.text import result_key, sweeps


@dataclass(frozen=True)
class Metric:
    name: str  # the column and JSON key
    label: str  # in words
    higher_is_better: bool
    digits: int  # decimals when shown


METRICS = (
    Metric("requests_per_sec", "req/s", True, 1),
    Metric("p50_ms", "p50", False, 2),
    Metric("p99_ms", "p99", False, 2),
    Metric("server_cpu_us_per_req", "server CPU/request", False, 0),
)
METRIC_BY_NAME = {m.name: m for m in METRICS}
_SHORT_NAMES = {"req/s": "requests_per_sec", "rps": "requests_per_sec", "p50": "p50_ms", "p99": "p99_ms",
                "cpu": "server_cpu_us_per_req"}


def metric_named(text: str) -> str | None:
    """A metric's JSON name from what a user types (its name or a short one)."""
    name = text.strip().lower()
    name = _SHORT_NAMES.get(name, name)
    return name if name in METRIC_BY_NAME else None
RPS = METRICS[0].name
# A call on repeated samples must be at least this many standard deviations
# of the difference between two whole runs (sqrt(2) x the run-to-run noise).
RUN_TO_RUN_FACTOR = 3.0 * math.sqrt(2.0)
# Server CPU comes from /proc in clock ticks (10 ms): below this many ticks a
# sample, one tick more or less moves the figure by over 5%, and samples that
# agree to the tick would look like perfect evidence.
MIN_CPU_TICKS = 20
TICK_US = 10_000


@dataclass
class MetricVerdict:
    """One metric of one endpoint. `previous`/`current` are the two runs'
    figures (medians of their samples); `change_pct` is what the verdict
    judged: their change, or side by side (`paired`) the geometric mean of
    the sample pairs' ratios, which can differ from the medians' ratio."""
    metric: str
    previous: float | None
    current: float | None
    change_pct: float | None
    paired: bool
    verdict: str
    method: str
    p_value: float | None
    p_adjusted: float | None
    z: float | None
    explanation: str

    @property
    def called(self) -> bool:
        return self.verdict in (stats.REGRESSED, stats.IMPROVED)

    @property
    def label(self) -> str:
        return METRIC_BY_NAME[self.metric].label


@dataclass
class EndpointVerdict:
    """Every metric of one endpoint present in both runs. `compared` is False
    when either side did not measure it properly (then `not_compared_reason`
    says why and every metric is `insufficient data`)."""
    key: str
    endpoint: str
    category: str
    concurrency: int
    compared: bool
    not_compared_reason: str | None
    metrics: dict[str, MetricVerdict]
    # Confirmed side by side (lib/run/confirm.py): this verdict is the paired one,
    # `first_look` the one-after-the-other verdict it replaced.
    first_look: "EndpointVerdict | None" = None
    confirmed_by: int | None = None  # the confirming pair's candidate run
    # The most CPU time stolen, and the most other load, during any sample of
    # either run's result (lib/machine/disturbance.py): what may have spoiled these verdicts.
    steal_pct: float | None = None
    other_busy_pct: float | None = None

    @property
    def machine_note(self) -> str | None:
        return disturbance.disturbance_note(self.steal_pct, self.other_busy_pct)

    @property
    def rps(self) -> MetricVerdict:
        return self.metrics[RPS]

    @property
    def calls(self) -> list[MetricVerdict]:
        return [m for m in self.metrics.values() if m.called]


@dataclass
class Call:
    """One (endpoint, metric) called regressed or improved."""
    endpoint: str  # the endpoint's key
    metric: str
    verdict: str
    change_pct: float | None


@dataclass
class Summary:
    only_in_baseline: list[str]
    only_in_current: list[str]
    geometric_mean_ratio: float | None  # of req/s, current over baseline
    geometric_mean_endpoints: int
    regressed: list[str]  # endpoints whose req/s regressed
    improved: list[str]
    calls: list[Call] = field(default_factory=list)  # every metric called, in table order
    undecided: int = 0  # compared endpoints whose req/s could not be judged


def judge_runs(baseline_rows: list[dict], current_rows: list[dict], *, threshold_pct: float,
               history_for=None, paired: bool = False, same_binary: str | None = None,
               several: bool | None = None) -> tuple[dict[str, EndpointVerdict], Summary]:
    """Every endpoint found in both runs, keyed like text.result_key, and the summary.
    `history_for(row)`: per metric, earlier comparable runs' figures of a
    current result that is ok (lib/judge/comparison.py reads them from the database).
    `same_binary`: both runs measured the very same binary (and flags): the
    sentence that says so replaces every call (see `_no_calls`). `several`:
    key results with their concurrency (text.result_key), as another
    comparison did; by default when either run swept levels."""
    if several is None:
        several = sweeps(baseline_rows) or sweeps(current_rows)
    base = {result_key(row, several): row for row in baseline_rows}
    cur = {result_key(row, several): row for row in current_rows}
    endpoints = {}
    for key, row in cur.items():
        if key in base:
            ok = (row.get("status") or "ok") == "ok"
            history = history_for(row) if history_for and ok else {}
            endpoints[key] = judge_endpoint(key, base[key], row, threshold_pct=threshold_pct,
                                            history=history, paired=paired)
    judge_together(list(endpoints.values()))
    if same_binary:
        _no_calls(endpoints.values(), same_binary)
    return endpoints, summarize(endpoints, only_in_baseline=[k for k in base if k not in cur],
                                only_in_current=[k for k in cur if k not in base])


def judge_endpoint(key: str, baseline: dict, current: dict, *, threshold_pct: float,
                   history: dict[str, list[float]], paired: bool) -> EndpointVerdict:
    problems = [f"{side} {row['status']}" for side, row in (("baseline", baseline), ("current", current))
                if (row.get("status") or "ok") != "ok"]
    if baseline.get("caveat"):
        problems.append("baseline not trusted: " + baseline["caveat"])
    reason = "; ".join(problems) or None
    metrics = {}
    for metric in METRICS:
        if reason:
            metrics[metric.name] = _not_compared(metric, baseline, current, reason)
        else:
            metrics[metric.name] = judge_metric(metric, baseline, current, threshold_pct=threshold_pct,
                                                history=history.get(metric.name), paired=paired)
    steal, other = disturbance.worst([baseline, current])
    return EndpointVerdict(key=key, endpoint=current["endpoint"], category=current["category"],
                           concurrency=current["concurrency"], compared=reason is None,
                           not_compared_reason=reason, metrics=metrics, steal_pct=steal,
                           other_busy_pct=other)


def judge_metric(metric: Metric, baseline: dict, current: dict, *, threshold_pct: float,
                 history: list[float] | None, paired: bool) -> MetricVerdict:
    before, after = _values(baseline, current, metric.name, paired)
    shown = (_round(baseline.get(metric.name)), _round(current.get(metric.name)))
    if not before and not after:
        return MetricVerdict(metric.name, *shown, None, paired, stats.INSUFFICIENT, stats.METHOD_NONE,
                             None, None, None, f"{metric.label} not measured")
    ticks = _cpu_ticks(baseline, current) if metric.name == "server_cpu_us_per_req" else None
    if ticks is not None and ticks < MIN_CPU_TICKS:
        return MetricVerdict(metric.name, *shown, _pct(*shown), paired, stats.INSUFFICIENT,
                             stats.METHOD_NONE, None, None, None,
                             f"{metric.label}: only {ticks:.0f} clock ticks (10 ms) of server CPU per "
                             f"sample, too coarse to judge; {MIN_CPU_TICKS}+ need more --requests")
    judge = stats.paired_compare if paired else stats.compare
    verdict = judge(before, after, threshold_pct=threshold_pct, higher_is_better=metric.higher_is_better,
                    history=history, metric=metric.label)
    # paired_compare falls back to compare when pairs are missing: say so only when it paired.
    really_paired = verdict.method == stats.METHOD_PAIRED
    result = MetricVerdict(metric.name, *shown, _round(verdict.change_pct), really_paired,
                           verdict.verdict, verdict.method, verdict.p_value, None,
                           _round(verdict.z), verdict.explanation)
    if not really_paired and verdict.method in (stats.METHOD_MANN_WHITNEY, stats.METHOD_WELCH):
        _guard(result, history)
    return result


def _guard(result: MetricVerdict, history: list[float] | None) -> None:
    """Samples of one run share that run's conditions (server process,
    machine load), so a test on them sees only within-run noise. Earlier runs
    show how far whole runs wander: a change inside 3 standard deviations of
    the difference of two runs is not called, however tight each run's
    samples are. (Side by side the samples alternated, so the paired test
    sees what drifts, and needs no guard.)"""
    noise = run_to_run_noise_pct(history)
    if noise is None:
        if result.called:
            result.explanation += ("; fewer than 5 earlier comparable runs, so whole runs' wander "
                                   "is unknown: confirm side by side (--side-by-side)")
    elif result.called and abs(result.change_pct) < RUN_TO_RUN_FACTOR * noise:
        result.verdict = stats.NO_CHANGE
        result.explanation += (f", but within 3 standard deviations of the run-to-run noise "
                               f"(±{noise:.1f}% a run over {len(history)} earlier runs)")


def _no_calls(entries, sentence: str) -> None:
    """The same binary measured twice: whatever moved, the machine moved it.
    The figures and tests stay for the reader; no metric is called."""
    for entry in entries:
        if not entry.compared:
            continue
        for verdict in entry.metrics.values():
            if verdict.verdict != stats.INSUFFICIENT or verdict.change_pct is not None:
                verdict.verdict = stats.NO_CHANGE
            verdict.explanation = f"{sentence} (the test alone: {verdict.explanation})"


def _cpu_ticks(baseline: dict, current: dict) -> float | None:
    """Clock ticks of server CPU in a typical sample, the smaller side's."""
    ticks = [row["server_cpu_us_per_req"] * row["complete_requests"] / TICK_US
             for row in (baseline, current)
             if row.get("server_cpu_us_per_req") is not None and row.get("complete_requests")]
    return min(ticks) if len(ticks) == 2 else None


def _not_compared(metric: Metric, baseline: dict, current: dict, reason: str) -> MetricVerdict:
    before, after = baseline.get(metric.name), current.get(metric.name)
    return MetricVerdict(metric.name, _round(before), _round(after), _pct(before, after), False,
                         stats.INSUFFICIENT, stats.METHOD_NONE, None, None, None,
                         "not compared: " + reason)


def _values(baseline: dict, current: dict, name: str, paired: bool) -> tuple[list, list]:
    if paired:
        # Sample i of one run beside sample i of the other; a pair with a side
        # missing is left out whole.
        base = {s["sample_number"]: s.get(name) for s in baseline.get("samples") or []}
        cur = {s["sample_number"]: s.get(name) for s in current.get("samples") or []}
        numbers = sorted(n for n in base if n in cur and base[n] is not None and cur[n] is not None)
        if numbers:
            return [base[n] for n in numbers], [cur[n] for n in numbers]
    return _samples(baseline, name), _samples(current, name)


def _samples(row: dict, name: str) -> list[float]:
    values = [s[name] for s in row.get("samples") or [] if s.get(name) is not None]
    if values:
        return values
    return [row[name]] if row.get(name) is not None else []


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


def judge_together(endpoints: list[EndpointVerdict], alpha: float = stats.ALPHA) -> None:
    """A run's figures are tested at once, so a call must survive the
    Benjamini-Hochberg correction over every (endpoint, metric) judged by a
    test: sets each one's `p_adjusted` and takes back a call whose adjusted p
    is not below alpha. History calls have a p too (stats.history_test), so
    they count here. p-values are rounded for output only (lib/show/report.py)."""
    tested = [m for e in endpoints for m in e.metrics.values() if m.p_value is not None]
    adjusted = stats.benjamini_hochberg([m.p_value for m in tested])
    judged = len({id(e) for e in endpoints for m in e.metrics.values() if m.p_value is not None})
    for verdict, p_adjusted in zip(tested, adjusted):
        verdict.p_adjusted = p_adjusted
        if verdict.called and p_adjusted >= alpha:
            verdict.verdict = stats.NO_CHANGE
            verdict.explanation += (
                f", but not once {len(tested)} figures of {judged} endpoint(s) are judged together "
                f"(Benjamini-Hochberg adjusted {stats.format_p(p_adjusted)}); "
                "more samples (--repeat) or --side-by-side can show it")


def summarize(endpoints: dict[str, EndpointVerdict], *, only_in_baseline: list[str],
              only_in_current: list[str]) -> Summary:
    ratios = [e.rps.current / e.rps.previous for e in endpoints.values()
              if e.compared and e.rps.previous and e.rps.current]
    geomean = stats.geometric_mean(ratios)
    return Summary(
        only_in_baseline=only_in_baseline, only_in_current=only_in_current,
        geometric_mean_ratio=round(geomean, 4) if geomean else None,
        geometric_mean_endpoints=len(ratios),
        regressed=[k for k, e in endpoints.items() if e.rps.verdict == stats.REGRESSED],
        improved=[k for k, e in endpoints.items() if e.rps.verdict == stats.IMPROVED],
        calls=[Call(k, m.metric, m.verdict, m.change_pct) for k, e in endpoints.items() for m in e.calls],
        undecided=sum(1 for e in endpoints.values() if e.compared and e.rps.verdict == stats.INSUFFICIENT))


def regressions(endpoints: dict[str, EndpointVerdict], metrics: list[str],
                limit_pct: float) -> list[tuple[str, MetricVerdict]]:
    """(endpoint key, verdict) of every listed metric called regressed by more
    than limit_pct: what --fail-on-regression exits 1 for."""
    return [(key, e.metrics[name]) for key, e in endpoints.items() for name in metrics
            if e.metrics[name].verdict == stats.REGRESSED and abs(e.metrics[name].change_pct or 0) > limit_pct]


def _pct(before, after) -> float | None:
    if before in (None, 0) or after is None:
        return None
    return _round((after - before) / abs(before) * 100.0)


def _round(value, digits: int = 2):
    return None if value is None else round(value, digits)
