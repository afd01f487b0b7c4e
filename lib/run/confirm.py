"""Confirmation: two runs taken one after the other on a shared machine cannot
tell a 10% slowdown from the machine's mood (docs/verdicts.md, "Side by side:
baseline and candidate in one run"); side by side can. So after an ordinary
run, the endpoints whose req/s moved by --threshold or more against the
baseline run, called or not, are measured again side by side: this run's binary
against the baseline run's kept binary (lib/builds/binaries.py),
--confirm-repeat pairs. The paired verdict is the one reported;
lib/judge/comparison.py lays it over the first look in every view, from the
record this module stores on the run.

The record (run column and JSON `confirmation`): status (`confirmed`,
`skipped`, `not needed`, `interrupted`, `failed`), reason, endpoints, against_run_id
(the baseline run), run_id and baseline_run_id (the confirmation's own pair),
repeat.
"""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from lib.builds import binaries
from lib.judge.compare import EndpointVerdict
from lib.core.console import say
from lib.run.runner import BaselineSide, RunPlan, execute
from lib.run.suite import Suite
from lib.core.text import now_text

CONFIRMED = "confirmed"
SKIPPED = "skipped"
NOT_NEEDED = "not needed"
INTERRUPTED = "interrupted"
FAILED = "failed"  # the confirming pair did not measure: nothing is laid over the first look


def moved(comparison, threshold_pct: float) -> list[EndpointVerdict]:
    """Compared endpoints whose req/s moved by the threshold or more, whatever the call."""
    return [entry for entry in comparison.endpoints.values()
            if entry.compared and entry.rps.change_pct is not None
            and abs(entry.rps.change_pct) >= threshold_pct]


def record(status: str, reason: str | None = None, **fields) -> dict:
    return {"status": status, "reason": reason, **fields}


def applies(comparison, run_status: str) -> bool:
    """Only an ordinary run compared one after the other has a first look to
    confirm (side by side is already paired)."""
    return comparison.compared and not comparison.paired and run_status in ("complete", "partial")


def confirm(plan: RunPlan, db, comparison, *, mode: str, threshold_pct: float, repeat: int,
            store: Path) -> dict:
    """Measure the moved endpoints again side by side (when that can tell
    more) and store the record on the run; returns it."""
    entries = moved(comparison, threshold_pct)
    result = _why_not(comparison, entries, store, threshold_pct, mode)
    if result is None:
        result = _measure(plan, db, comparison, entries, repeat, store)
    result.setdefault("against_run_id", comparison.baseline["run_id"])  # whose comparison it belongs to
    db.update_run(comparison.run["run_id"], confirmation=json.dumps(result))
    return result


def _why_not(comparison, entries, store: Path, threshold_pct: float, mode: str) -> dict | None:
    run, baseline = comparison.run, comparison.baseline
    if not entries:
        return record(NOT_NEEDED, f"no endpoint's req/s moved by {threshold_pct:g}% or more")
    keys = [entry.key for entry in entries]
    if mode == "off":
        return record(SKIPPED, "--confirm off", endpoints=keys)
    if binaries.same_build(baseline, run):
        return record(SKIPPED, f"run {baseline['run_id']} measured the very same binary", endpoints=keys)
    for which, row in (("the baseline run", baseline), ("this run", run)):
        if binaries.kept_path(store, row.get("binary_sha256")) is None:
            return record(SKIPPED, f"{which} ({row['run_id']}) has no kept binary (--keep-binaries 0, "
                                   "a --url run, or one from before binaries were kept)", endpoints=keys)
    return None


def _measure(plan: RunPlan, db, comparison, entries, repeat: int, store: Path) -> dict:
    run, baseline = comparison.run, comparison.baseline
    keys = [entry.key for entry in entries]
    try:
        base_binary = binaries.verified(store, baseline["binary_sha256"])
        own_binary = binaries.verified(store, run["binary_sha256"])
    except binaries.StoreError as exc:
        return record(SKIPPED, str(exc), endpoints=keys)
    say(f"confirming {', '.join(keys)} (req/s moved "
        + ", ".join(f"{e.rps.change_pct:+.1f}%" for e in entries)
        + f" against run {baseline['run_id']}): measuring again side by side against its kept "
          f"binary, {repeat} pairs")
    note = f"confirmation of run {run['run_id']} against run {baseline['run_id']}"
    row = {**plan.run_row, "timestamp": now_text(), "repeat": repeat, "notes": note, "confirms": run["run_id"],
           "concurrency": ",".join(map(str, sorted({e.concurrency for e in entries})))}
    own_command, own_args = _command(own_binary, run)
    base_command, base_args = _command(base_binary, baseline)
    confirm_plan = replace(
        plan, suite=_moved_suite(plan.suite, entries), repeat=repeat, build=None, urls=None,
        profile_freq=None,  # the first look was profiled already, if asked
        server_command=own_command, server_args=own_args,
        run_row={**row, "target": f"kept binary of run {run['run_id']}"},
        baseline_side=BaselineSide(base_command, base_args, {
            **row, "git_commit": baseline.get("git_commit"), "git_branch": baseline.get("git_branch"),
            "target": f"kept binary of run {baseline['run_id']}"}))
    outcome = execute(confirm_plan, db)
    fields = dict(endpoints=keys, against_run_id=baseline["run_id"], run_id=outcome.run_id,
                  baseline_run_id=outcome.baseline.run_id if outcome.baseline else None, repeat=repeat)
    if outcome.status == "interrupted":
        return record(INTERRUPTED, outcome.error, **fields)
    if outcome.status not in ("complete", "partial") or (outcome.baseline and outcome.baseline.status
                                                         not in ("complete", "partial")):
        return record(FAILED, outcome.error or "the confirming pair measured nothing", **fields)
    return record(CONFIRMED, None, **fields)


def _command(kept: Path, run: dict) -> tuple[list[str], list[str]]:
    """How to start a run's kept binary as that run did: its own stored flags
    (a kept stand-in carries them inside)."""
    if binaries.baked_args(kept) is not None:
        return binaries.command_for(kept), []
    return binaries.command_for(kept), json.loads(run.get("server_args") or "[]")


def _moved_suite(suite: Suite, entries) -> Suite:
    """Exactly the (endpoint, concurrency) pairs that moved: each endpoint
    pinned to its level, once per level that moved."""
    wanted = [(entry.endpoint, entry.concurrency) for entry in entries]
    by_name = {endpoint.name: endpoint for endpoint in suite.endpoints}
    return Suite(suite.name, suite.description, suite.path,
                 tuple(replace(by_name[name], concurrency=level) for name, level in wanted if name in by_name))
