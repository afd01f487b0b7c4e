"""What the baseline side of a side-by-side run runs: the same binary (an A/A
check), `--baseline-binary PATH`, a stored run's kept binary (`--against RUN`)
or a git revision built in the reusable worktree (`--against REV`).

`resolve_against` checks the reference before anything starts (exit 2 with
one line when it names nothing usable); `baseline_side` turns the choice into
the runner's BaselineSide.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lib.builds import binaries, revisions
from lib.db import open_db
from lib.core.errors import BenchError
from lib.run.runner import BaselineSide

RUN_REFS = ("latest", "previous")


class AgainstError(BenchError):
    """--against names nothing that can be measured; the message says what can."""


@dataclass
class Against:
    """A resolved --against: a stored run (its kept binary) or a revision."""
    ref: str
    run: dict | None = None
    kept: Path | None = None
    revision: revisions.Revision | None = None


def looks_like_run(ref: str) -> bool:
    return ref in RUN_REFS or ref.startswith("~") or ref.isdigit()


def resolve_against(ref: str, db_path: Path, workspace: Path | None, store: Path) -> Against:
    """A run reference (latest, previous, ~N, an id that exists) or else a
    revision of the checkout. Read-only: nothing is created or built here."""
    if looks_like_run(ref) and db_path.exists():
        db = open_db(db_path, readonly=True)
        try:
            run_id = db.resolve_run(ref)
            run = db.run(run_id) if run_id is not None else None
            if run is not None:
                return Against(ref, run=run, kept=_kept_binary_of(db, run, store))
            kept_runs = db.runs_with_binaries(binaries.stored_hashes(store))
        finally:
            db.close()
        if not ref.isdigit():
            raise AgainstError(f"--against {ref}: no such run; runs with a kept binary: "
                               f"{_listed(kept_runs)}")
    if workspace is None:
        raise AgainstError(f"--against {ref}: no such run, and no HBF checkout to find a revision in; "
                           "pass a run id (show_results.py lists them) or run from the checkout")
    revision = revisions.resolve(workspace, ref)
    if revision is None:
        raise AgainstError(f"--against {ref}: neither a run nor a revision of {workspace}; "
                           "give a run id, latest, previous, ~N, a branch, a tag or a commit")
    return Against(ref, revision=revision)


def _kept_binary_of(db, run: dict, store: Path) -> Path:
    if not run.get("binary_sha256"):
        raise AgainstError(f"--against {run['run_id']}: that run did not start servers from a binary "
                           "(a --url run, or one from before binaries were kept); "
                           f"runs with a kept binary: {_listed(db.runs_with_binaries(binaries.stored_hashes(store)))}")
    try:
        return binaries.verified(store, run["binary_sha256"])
    except binaries.StoreError as exc:
        raise AgainstError(f"--against {run['run_id']}: {exc}; runs with a kept binary: "
                           f"{_listed(db.runs_with_binaries(binaries.stored_hashes(store)))}") from None


def _listed(run_ids: list[int]) -> str:
    return ", ".join(map(str, run_ids)) if run_ids else "none (--keep-binaries 0, or none measured yet)"


def baseline_side(args, run_row: dict, against: Against | None, workspace: Path | None,
                  store: Path) -> BaselineSide:
    """The baseline's servers and run row. A --baseline-binary's commit is
    unknown here, so none is stored for it; a run's or a revision's is."""
    server_args = (args.server_arg if args.baseline_server_arg is None
                   else [arg for arg in args.baseline_server_arg if arg])
    row = dict(run_row)
    command, build = None, None
    if args.baseline_binary:
        binary = str(Path(args.baseline_binary).resolve())
        command = [binary]
        row.update(target=binary, git_commit=None, git_branch=None)
    elif against is not None and against.run is not None:
        command = binaries.command_for(against.kept)
        if binaries.baked_args(against.kept) is not None:
            server_args = []  # a kept stand-in carries its own flags
        row.update(target=f"kept binary of run {against.run['run_id']} ({against.kept})",
                   git_commit=against.run.get("git_commit"), git_branch=against.run.get("git_branch"))
    elif against is not None:
        revision = against.revision
        build = _revision_build(workspace, revision, args.pod, args.build_mode, store)
        row.update(target=f"{revision.ref} ({revision.short}), built in {workspace / revisions.WORKTREE}",
                   git_commit=revision.short, git_branch=None)
    if server_args != args.server_arg:
        # Same binary, other flags: the flags are what tells the two runs apart.
        row["target"] = " ".join([row["target"], *server_args])
        run_row["target"] = " ".join([run_row["target"], *args.server_arg])
    return BaselineSide(command, server_args, row, build=build)


def _revision_build(workspace: Path, revision: revisions.Revision, pod: str, mode: str, store: Path):
    """A build step for the runner: build the revision, keep the binary (the
    worktree moves on with the next build), and run the kept copy."""
    def build() -> list[str]:
        return [str(revisions.build_and_keep(workspace, revision, pod, mode, store))]
    return build
