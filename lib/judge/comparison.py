"""The comparison of a run with its baseline: the one path every view takes.

benchmark.py's report and --json, show_results.py --run and --compare (either
order), the HTML page and --fail-on-regression all call `compare_with_baseline`
and nothing else, so one pair of runs gets one verdict everywhere. It reads
what the verdicts need from the database (the baseline, both runs' results,
each endpoint's history behind the noise guard), hands them to the pure
judging in lib/judge/compare.py, and adds the notes a reader needs (side by side,
differing parameters and environments, why no baseline was found).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

from lib.builds.binaries import same_build
from lib.judge.compare import METRICS, EndpointVerdict, Summary, judge_runs, summarize
from lib.db import comparable_differences, comparable_value
from lib.core.text import sweeps
from lib.machine.environment import differences as environment_differences
from lib.machine.environment import of_run as environment_of

# Parameters whose difference a reader should know about (the comparable
# ones never differ for an automatic baseline, but may for --baseline RUN).
NOTED_FIELDS = ("requests", "concurrency", "repeat", "warmup", "pod", "build_mode", "suite",
                "engine", "engine_version", "keepalive", "rate", "pinned")


@dataclass
class Comparison:
    """A run against its baseline. Without a baseline, `baseline` is None,
    `endpoints` empty, `summary` None and `notes` say why."""
    run: dict
    baseline: dict | None = None
    paired: bool = False  # side by side: the two runs' samples alternated
    endpoints: dict[str, EndpointVerdict] = field(default_factory=dict)
    summary: Summary | None = None
    notes: list[str] = field(default_factory=list)
    threshold_pct: float = 5.0
    confirmation: dict | None = None  # lib/run/confirm.py's record on the run, if any
    several: bool = False  # results keyed with their concurrency (a sweep)
    # Both runs measured the very same binary and flags: why nothing is called.
    same_binary: str | None = None

    @property
    def compared(self) -> bool:
        return self.summary is not None


def compare_with_baseline(db, run_id: int, baseline_id: int | None = None, *,
                          threshold_pct: float, allow_engine_mix: bool = False) -> Comparison:
    """Run `run_id` against `baseline_id`, or when None against its automatic
    baseline: its side-by-side partner, else the latest comparable earlier run."""
    run = db.run(run_id)
    if baseline_id is None:
        baseline_id = run.get("paired_with") if run.get("side") == "candidate" else db.baseline_run(run)
    if baseline_id is None or baseline_id == run_id:
        return Comparison(run, notes=[why_no_baseline(db, run)])
    baseline = db.run(baseline_id)
    out = Comparison(run, baseline, paired=_paired(run, baseline), threshold_pct=threshold_pct,
                     confirmation=json.loads(run["confirmation"]) if run.get("confirmation") else None)
    engines = (baseline.get("engine") or "ab", run.get("engine") or "ab")
    if engines[0] != engines[1] and not allow_engine_mix:
        out.notes.append(f"run {baseline_id} was measured with {engines[0]}, run {run_id} with "
                         f"{engines[1]}: not compared (engines measure differently; --force "
                         "compares anyway)")
        out.baseline = None
        return out
    # The same binary and flags, measured the same way: nothing changed but the machine.
    same = (f"same binary as run {baseline_id}: any difference is the machine's noise"
            if same_build(baseline, run) and not comparable_differences(baseline, run) else None)
    base_rows, rows = db.results(baseline_id), db.results(run_id)
    out.several = sweeps(base_rows) or sweeps(rows)
    out.endpoints, out.summary = judge_runs(
        base_rows, rows, threshold_pct=threshold_pct, paired=out.paired, several=out.several,
        history_for=lambda row: _history(db, run, row, before_run_id=min(run_id, baseline_id)),
        same_binary=same)
    out.same_binary = same
    out.notes += ([same + "; nothing is called"] if same else []) + _notes(run, baseline, out.paired)
    _lay_confirmation_over(db, out)
    return out


def confirmation_applies(out: "Comparison") -> bool:
    """Whether the run's confirmation was measured against this very baseline."""
    record = out.confirmation
    return bool(record and out.baseline and record.get("against_run_id") == out.baseline["run_id"])


def _lay_confirmation_over(db, out: Comparison) -> None:
    """The endpoints a confirmation measured again side by side against this
    very baseline take its paired verdict; the first look stays beside it."""
    record = out.confirmation
    if not confirmation_applies(out) or record.get("status") != "confirmed" or not record.get("baseline_run_id"):
        return
    confirmed, _ = judge_runs(db.results(record["baseline_run_id"]), db.results(record["run_id"]),
                              threshold_pct=out.threshold_pct, paired=True, several=out.several)
    for key, entry in confirmed.items():
        if key in out.endpoints:
            entry.first_look, entry.confirmed_by = out.endpoints[key], record["run_id"]
            out.endpoints[key] = entry
    out.summary = summarize(out.endpoints, only_in_baseline=out.summary.only_in_baseline,
                            only_in_current=out.summary.only_in_current)


def _paired(run: dict, baseline: dict) -> bool:
    """The two runs of one side-by-side measurement, either way round."""
    return (run.get("side") is not None and baseline.get("side") is not None
            and run.get("paired_with") == baseline["run_id"]
            and baseline.get("paired_with") == run["run_id"])


def _history(db, run: dict, row: dict, *, before_run_id: int) -> dict[str, list[float]]:
    """Per metric, this endpoint's figures in earlier comparable runs: single
    samples are judged against them, and repeated samples must also clear
    their run-to-run noise."""
    earlier = db.endpoint_history(run, row["endpoint"], row["concurrency"], row["requests"],
                                  before_run_id=before_run_id)
    return {m.name: [h[m.name] for h in earlier if h[m.name] is not None] for m in METRICS}


def _notes(run: dict, baseline: dict, paired: bool) -> list[str]:
    a, b = baseline["run_id"], run["run_id"]
    notes = []
    if paired:
        notes.append(f"side by side: runs {a} ({baseline.get('target')}) and {b} alternated their "
                     "samples, so machine drift weighs on both alike; changes are the geometric "
                     "mean of the sample pairs' ratios (paired t-test)")
    for name in NOTED_FIELDS:
        if baseline.get(name) != run.get(name):
            notes.append(f"{name} differs: run {a} {_shown(baseline.get(name))} vs run {b} {_shown(run.get(name))}")
    env = environment_differences(environment_of(baseline), environment_of(run))
    if env:
        notes.append("measured in different environments: " + "; ".join(env))
    if baseline.get("status") not in ("complete", None):
        notes.append(f"run {a} is {baseline.get('status')}"
                     + (f": {baseline['error'].splitlines()[0]}" if baseline.get("error") else ""))
    return notes


def why_no_baseline(db, run: dict) -> str:
    """Which field kept the nearest earlier runs out of being a baseline."""
    earlier = db.runs_before(run["run_id"])
    if not earlier:
        return "no earlier run with an ok result in this database to compare with"
    fewest = min(earlier, key=lambda r: (len(comparable_differences(r, run)), -r["run_id"]))
    fields = comparable_differences(fewest, run)
    if not fields:  # cannot happen unless the row changed meanwhile
        return f"no baseline chosen (run {fewest['run_id']} would match)"
    differ = ", ".join(f"{name} ({_shown(comparable_value(fewest, name))} vs "
                       f"{_shown(comparable_value(run, name))})" for name in fields)
    return (f"no earlier comparable run: the nearest, run {fewest['run_id']}, differs in {differ}; "
            f"compare with it anyway: show_results.py --compare {fewest['run_id']} {run['run_id']} "
            f"(or benchmark.py --baseline {fewest['run_id']} for a new run)")


def _shown(value) -> str:
    return "unknown" if value is None else str(value)

