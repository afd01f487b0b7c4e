"""`--bisect OLD..NEW`: which commit changed these endpoints?

    build OLD and NEW in the reusable worktree (lib/builds/revisions.py), keep both
    measure NEW side by side against OLD     -> the direction: regressed,
        improved or broken (ok at OLD, failed/crashed/timed out at NEW);
        nothing changed beyond --threshold: say so and stop
    binary search over the first-parent commits between them: each
        midpoint built, kept and measured side by side against OLD's binary;
        changed when every endpoint that changed at NEW shows the same kind
        of change; a commit that does not build is skipped (git bisect skip)
    the tested commits and the first changed one (or every candidate that
        skipped commits leave)

Each measurement is an ordinary side-by-side run pair (lib/run/runner.py),
judged by lib/judge/comparison.py like any other, its notes saying it was a
bisect step. The number of builds grows as log2 of the commits in the range.
"""
from __future__ import annotations

import json
import math
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from lib.builds import binaries, revisions
from lib.run import plans
from lib.judge.comparison import compare_with_baseline
from lib.core.console import append_to, say
from lib.db import DbError, open_db
from lib.core.errors import BenchError
from lib.run.runner import BaselineSide, execute
from lib.judge.stats import IMPROVED, REGRESSED
from lib.core.text import cell, pct, result_key, safe, status_text, sweeps, table
from lib.builds.workspace import BuildError

BROKEN = "broken"
DIRECTIONS = (BROKEN, REGRESSED, IMPROVED)  # NEW's direction: the first kind found, in this order
UNCHANGED = "unchanged"
SKIPPED = "skipped"
FAILING = "failing"  # not ok at OLD either: nothing to call
NOT_COMPARED = "not compared"
INTERRUPTED = "interrupted"  # the step's run was cut short by Ctrl-C or SIGTERM


class BisectError(BenchError):
    """--bisect cannot start or go on; the message says why and what to do."""


@dataclass
class Span:
    """A checked OLD..NEW: the commits after OLD up to NEW, oldest first."""
    text: str  # as the user gave it
    old: revisions.Revision
    new: revisions.Revision
    commits: list[revisions.Revision]


@dataclass
class Kind:
    """One endpoint at one tested commit, against OLD."""
    kind: str  # broken, regressed, improved, failing, not compared, or req/s's verdict
    ok: bool  # the tested commit's result is ok
    change_pct: float | None  # req/s, paired
    detail: str  # in words: "-31.2% regressed", "failed (500 Internal Server Error)"


@dataclass
class Step:
    revision: revisions.Revision
    number: int
    verdict: str = UNCHANGED  # the direction when changed, unchanged, or skipped
    run_id: int | None = None
    baseline_run_id: int | None = None
    endpoints: dict[str, Kind] = field(default_factory=dict)
    note: str | None = None  # why skipped
    change_pct: float | None = None


class Stopped(Exception):
    """A step's run was interrupted (Ctrl-C, SIGTERM): the bisection ends there."""

    def __init__(self, exit_code: int):
        super().__init__(exit_code)
        self.exit_code = exit_code


def prepare(args, workspace: Path | None) -> Span:
    """Everything that can refuse, before anything is built or written."""
    if workspace is None:
        raise BisectError("--bisect builds revisions of the HBF checkout, and none was found here "
                          "or above: run from inside one or pass --workspace DIR")
    if not (shutil.which("bazel") or shutil.which("bazelisk")):
        raise BisectError("--bisect builds every commit it tests, but bazel is not installed "
                          "(or not on PATH): install bazel or bazelisk")
    old_ref, new_ref = args.bisect
    text = f"{old_ref}..{new_ref}"
    old, new = (_resolved(workspace, ref, text) for ref in (old_ref, new_ref))
    if old.commit == new.commit:
        raise BisectError(f"--bisect {text}: both name commit {old.short}; nothing lies between them")
    if not revisions.is_ancestor(workspace, old, new):
        raise BisectError(f"--bisect {text}: {old_ref} ({old.short}) is not an ancestor of {new_ref} "
                          f"({new.short}); give the older revision first, OLD..NEW")
    commits = revisions.first_parent_commits(workspace, old, new)
    if not commits or commits[-1].commit != new.commit:
        raise BisectError(f"--bisect {text}: no first-parent commits lead from {old_ref} to {new_ref}")
    return Span(text, old, new, commits[:-1] + [new])


def _resolved(workspace: Path, ref: str, text: str) -> revisions.Revision:
    revision = revisions.resolve(workspace, ref)
    if revision is None:
        raise BisectError(f"--bisect {text}: {ref!r} is not a revision of {workspace}; "
                          "give a branch, a tag or a commit")
    return revision


def run(args, workspace: Path | None, db_path: Path, suite, engine: str) -> int:
    """The whole bisection; prints its report on stdout. A BenchError raised
    here (a refusal, OLD or NEW not building, the database) is the caller's
    one line."""
    span = prepare(args, workspace)
    db = open_db(db_path)
    bisection = Bisection(args, workspace, db_path, suite, engine, span, db)
    try:
        return bisection.search()
    finally:
        bisection.tidy()
        db.close()


def next_midpoint(lo: int, hi: int, skipped: set[int]) -> int | None:
    """The next commit to test between `lo` (unchanged; -1 is OLD) and `hi`
    (changed): the middle one, or the nearest to it that was not skipped
    (the older on a tie); None when only skipped commits are left."""
    inside = [i for i in range(lo + 1, hi) if i not in skipped]
    middle = (lo + hi) // 2
    return min(inside, key=lambda i: (abs(i - middle), i)) if inside else None


class Bisection:
    """One --bisect: its context, its steps so far, and what it found."""

    def __init__(self, args, workspace: Path, db_path: Path, suite, engine: str, span: Span, db):
        self.args, self.workspace, self.db_path = args, workspace, db_path
        self.suite, self.engine, self.span, self.db = suite, engine, span, db
        self.store = binaries.store_dir(db_path)
        self.old_binary: Path | None = None
        self.steps: list[Step] = []
        self.direction: str | None = None
        self.keys: list[str] = []  # the endpoints that changed at NEW, in NEW's direction

    def search(self) -> int:
        span = self.span
        say(f"bisect {span.text}: {len(span.commits)} commit(s) after {span.old.short} up to "
            f"{span.new.short} (first-parent); building OLD and NEW")
        self.old_binary = self._build(span.old, "OLD")
        new_binary = self._build(span.new, "NEW")
        say(f"bisect step 1: NEW {span.new.short} {span.new.subject[:60]}, against OLD {span.old.short}")
        try:
            first = self._measure(span.new, new_binary)
            if first.verdict == SKIPPED:
                raise BisectError(f"--bisect {span.text}: NEW ({span.new.short}) could not be "
                                  f"measured: {first.note}")
            self._take_direction(first)
            say(f"bisect: NEW {first.verdict}: {_change_text(first, self.keys)}")
            if self.direction is None:
                self._print(None)
                return 0
            lo, hi, skipped = -1, len(span.commits) - 1, set()
            while (middle := next_midpoint(lo, hi, skipped)) is not None:
                step = self._test(span.commits[middle], lo, hi)
                if step.verdict == SKIPPED:
                    skipped.add(middle)
                elif step.verdict == self.direction:
                    hi = middle
                else:
                    lo = middle
        except Stopped as stop:
            say(f"bisect {span.text}: interrupted after {len(self.steps)} measured step(s); "
                "their runs are stored (the last one marked interrupted)")
            self._print(None, interrupted=True)
            return stop.exit_code
        self._print(span.commits[lo + 1:hi + 1])
        return 0

    def _build(self, revision: revisions.Revision, which: str | None = None) -> Path:
        """Build the revision in the worktree and keep its binary (the worktree
        moves on with the next build)."""
        try:
            return revisions.build_and_keep(self.workspace, revision, self.args.pod, self.args.build_mode,
                                            self.store)
        except BuildError:
            if which is None:
                raise
            raise BisectError(f"--bisect {self.span.text}: {which} ({revision.short} "
                              f"{revision.subject[:60]}) does not build (bazel's output is above); "
                              f"pick a{'n' if which == 'OLD' else ''} {which} that builds") from None

    def _test(self, revision: revisions.Revision, lo: int, hi: int) -> Step:
        left = hi - lo - 1
        say(f"bisect step {len(self.steps) + 1}: {revision.short} {revision.subject[:60]} "
            f"({left} commit(s) left to search, about {math.ceil(math.log2(left + 1))} more build(s))")
        try:
            binary = self._build(revision)
        except BuildError:
            say(f"bisect: {revision.short} does not build: skipped (as git bisect skip does)")
            step = Step(revision, len(self.steps) + 1, SKIPPED, note="does not build")
            self.steps.append(step)
            return step
        step = self._measure(revision, binary)
        if step.verdict != SKIPPED:
            changed = all(key in step.endpoints and (not step.endpoints[key].ok if self.direction == BROKEN
                                                     else step.endpoints[key].kind == self.direction)
                          for key in self.keys)
            step.verdict = self.direction if changed else UNCHANGED
            step.change_pct = _change_of(step, self.keys)
        say(f"bisect: {revision.short} {step.verdict}" + (f" ({step.note})" if step.note else ""))
        return step

    def _measure(self, revision: revisions.Revision, binary: Path) -> Step:
        """One run pair: the revision's kept binary against OLD's, side by side."""
        args, span = self.args, self.span
        label = f"commit {revision.short}, bisect {span.text}, kept binary {binary}"
        plan = plans.run_plan(args, self.suite, self.engine, self.db_path,
                              (binaries.command_for(binary), None, label), revision.short, None)
        plan.binary_store = None  # kept here, pruned once at the end: OLD's must outlive every step
        note = f"bisect step: {revision.short} against {span.old.short} ({span.text})"
        plan.run_row["notes"] = f"{note}; {args.notes}" if args.notes else note
        plan.baseline_side = BaselineSide(
            binaries.command_for(self.old_binary), list(args.server_arg),
            {**plan.run_row, "git_commit": span.old.short, "git_branch": None,
             "target": f"commit {span.old.short} (OLD), bisect {span.text}, kept binary {self.old_binary}"})
        step = Step(revision, len(self.steps) + 1,
                    note="the very binary OLD built" if binary == self.old_binary else None)
        self.steps.append(step)
        outcome = execute(plan, self.db)
        if outcome.crash is not None:
            raise outcome.crash
        step.run_id = outcome.run_id
        step.baseline_run_id = outcome.baseline.run_id if outcome.baseline else None
        if outcome.status == "interrupted":
            step.verdict = INTERRUPTED
            raise Stopped(outcome.exit_code)
        if outcome.status == "failed":  # the run itself failed: nothing measured
            step.verdict, step.note = SKIPPED, f"not measured: {(outcome.error or 'failed').splitlines()[0]}"
            return step
        comparison = compare_with_baseline(self.db, outcome.run_id, threshold_pct=args.threshold)
        step.endpoints = kinds(self.db.results(step.baseline_run_id, with_samples=False),
                               self.db.results(outcome.run_id, with_samples=False), comparison)
        return step

    def _take_direction(self, step: Step) -> None:
        """NEW's kind of change, and the endpoints that show it."""
        for kind in DIRECTIONS:
            keys = [key for key, entry in step.endpoints.items() if entry.kind == kind]
            if keys:
                self.direction, self.keys = kind, keys
                break
        step.verdict = self.direction or UNCHANGED
        step.change_pct = _change_of(step, self.keys)
        others = [f"{key} {entry.kind}" for key, entry in step.endpoints.items()
                  if entry.kind in DIRECTIONS and key not in self.keys]
        if others:
            say(f"bisect: at NEW also {', '.join(others)}; searching where {', '.join(self.keys)} "
                f"{self.direction}")

    def _print(self, first: list[revisions.Revision] | None, interrupted: bool = False) -> None:
        status = "interrupted" if interrupted else "nothing changed" if self.direction is None else "found"
        if self.args.json:
            print(json.dumps(to_json(self, first or [], status), indent=2, ensure_ascii=False))
        else:
            print(render_markdown(self, first or [], status))
        if self.args.summary:  # a bisection's answer is its report
            append_to(self.args.summary, render_markdown(self, first or [], status) + "\n", "--summary")

    def tidy(self) -> None:
        """The kept binaries' usual retention, once, now that no step needs OLD's."""
        try:
            binaries.prune(self.store, self.db.binaries_to_keep(self.args.keep_binaries), self.db.binary_hashes())
        except (OSError, DbError) as exc:
            say(f"could not tidy the kept binaries in {self.store}: {exc}")


def kinds(old_rows: list[dict], new_rows: list[dict], comparison) -> dict[str, Kind]:
    """Each endpoint OLD measured, at the tested commit: broken (ok at OLD,
    not at the commit), else req/s's paired verdict."""
    several = sweeps(old_rows) or sweeps(new_rows)
    tested = {result_key(row, several): row for row in new_rows}
    out = {}
    for row in old_rows:
        key = result_key(row, several)
        new = tested.get(key)
        if new is None or new["status"] != "ok":
            failure = status_text(new) if new is not None else "not measured"
            out[key] = Kind(BROKEN if row["status"] == "ok" else FAILING, False, None,
                            failure + ("" if row["status"] == "ok" else f", {status_text(row)} at OLD too"))
            continue
        entry = comparison.endpoints.get(key)
        if entry is None or not entry.compared:
            why = entry.not_compared_reason if entry is not None else f"{status_text(row)} at OLD"
            out[key] = Kind(NOT_COMPARED, True, None, f"not compared: {why}")
            continue
        rps = entry.rps
        out[key] = Kind(rps.verdict, True, rps.change_pct,
                        f"{pct(rps.change_pct)} {rps.verdict}" if rps.change_pct is not None else rps.verdict)
    return out


def _change_of(step: Step, keys: list[str]) -> float | None:
    """The step's req/s change: of the first endpoint that changed at NEW."""
    entry = step.endpoints.get(keys[0]) if keys else None
    return round(entry.change_pct, 2) if entry is not None and entry.change_pct is not None else None


def _change_text(step: Step, keys: list[str]) -> str:
    if step.verdict in (SKIPPED, INTERRUPTED):
        return step.note or step.verdict
    shown = keys or list(step.endpoints)
    text = "; ".join(f"{key} {step.endpoints[key].detail}" for key in shown if key in step.endpoints)
    return f"{text} ({step.note})" if step.note else text


def to_json(bisection: Bisection, first: list[revisions.Revision], status: str) -> dict:
    span = bisection.span
    return {
        "range": span.text, "status": status,
        "old": {"commit": span.old.commit, "subject": span.old.subject},
        "new": {"commit": span.new.commit, "subject": span.new.subject},
        "commits": len(span.commits), "threshold_pct": bisection.args.threshold,
        "direction": bisection.direction, "endpoints": bisection.keys,
        "steps": [{"commit": step.revision.commit, "subject": step.revision.subject,
                   "verdict": step.verdict, "change_pct": step.change_pct, "run_id": step.run_id,
                   "baseline_run_id": step.baseline_run_id, "note": step.note,
                   "endpoints": {key: {"verdict": entry.kind, "change_pct": entry.change_pct,
                                       "detail": entry.detail} for key, entry in step.endpoints.items()}}
                  for step in bisection.steps],
        "first_changed": [revision.commit for revision in first],
    }


def render_markdown(bisection: Bisection, first: list[revisions.Revision], status: str) -> str:
    span, keys = bisection.span, bisection.keys
    what = (f"{', '.join(keys)} {bisection.direction}" if bisection.direction
            else "nothing changed" if status != "interrupted" else "interrupted")
    lines = [f"# Bisect {safe(span.text)} ({span.old.short}..{span.new.short}): {safe(what)}", ""]
    position = {revision.commit: i for i, revision in enumerate(span.commits)}
    rows = [[str(step.number), step.revision.short, cell(step.revision.subject, 60),
             cell(_change_text(step, keys)), step.verdict]
            for step in sorted(bisection.steps, key=lambda s: position[s.revision.commit])]
    lines += table(["step", "commit", "subject", f"change against OLD {span.old.short}", "verdict"],
                   rows, right={0})
    lines.append("")
    if status == "nothing changed":
        lines.append(f"Nothing changed beyond --threshold {bisection.args.threshold:g}% between OLD "
                     f"({span.old.short}) and NEW ({span.new.short}): nothing to bisect.")
    elif status == "interrupted":
        lines.append("Interrupted before the first changed commit was found.")
    elif len(first) == 1:
        lines.append(f"First changed commit: {first[0].commit} {safe(first[0].subject)}")
    else:
        lines.append(f"First changed commit: one of these {len(first)}, as commits that do not "
                     "build sit between the last unchanged commit and the first changed one:")
        lines += [f"- {revision.commit} {safe(revision.subject)}" for revision in first]
    return "\n".join(lines)
