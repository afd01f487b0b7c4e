"""Build any git revision of the HBF checkout without touching the checkout:
one reusable worktree (`<checkout>/.benchmark/worktree`, `git worktree`),
moved to each revision, so Bazel's cache for that folder stays warm between
builds. Used by `--against REV` and `--bisect OLD..NEW`.

The worktree is ours: it is created detached, and moving it discards
whatever a build left in it. The user's checkout, its branches and its
working files are never changed (git records the worktree in the checkout's
`.git/worktrees/`, which `git worktree list` shows).
"""
from __future__ import annotations

import fcntl
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from lib.core.console import say
from lib.builds.workspace import WorkspaceError, bazel_build

WORKTREE = Path(".benchmark") / "worktree"
GIT_TIMEOUT_S = 120


@dataclass(frozen=True)
class Revision:
    ref: str  # as the user gave it
    commit: str  # full hash
    subject: str
    abbrev: str = ""  # git's short hash, as runs store a checkout's commit

    @property
    def short(self) -> str:
        return self.abbrev or self.commit[:10]


def git(checkout: Path, *args: str, timeout: float = GIT_TIMEOUT_S) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "-C", str(checkout), *args], capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def resolve(checkout: Path, ref: str) -> Revision | None:
    """The commit `ref` names in the checkout, or None when it names none."""
    if shutil.which("git") is None:
        raise WorkspaceError("git is not installed: install git to measure a revision")
    if ref.startswith("-"):
        return None  # never an option to git
    done = git(checkout, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}")
    if done.returncode != 0 or not done.stdout.strip():
        return None
    commit = done.stdout.strip()
    described = git(checkout, "log", "-1", "--format=%h%x00%s", commit).stdout.strip()
    abbrev, _, subject = described.partition("\0")
    return Revision(ref, commit, subject, abbrev)


def first_parent_commits(checkout: Path, old: Revision, new: Revision) -> list[Revision]:
    """The commits after `old` up to and including `new`, oldest first,
    following first parents (a merge counts as one step, as it landed)."""
    done = git(checkout, "log", "--first-parent", "--reverse", "--format=%H%x00%s",
               f"{old.commit}..{new.commit}")
    if done.returncode != 0:
        raise WorkspaceError(f"git log {old.ref}..{new.ref} failed: {_first_line(done.stderr)}")
    out = []
    for line in done.stdout.splitlines():
        commit, _, subject = line.partition("\0")
        out.append(Revision(commit[:10], commit, subject, commit[:7]))
    return out


def is_ancestor(checkout: Path, old: Revision, new: Revision) -> bool:
    return git(checkout, "merge-base", "--is-ancestor", old.commit, new.commit).returncode == 0


def build_and_keep(checkout: Path, revision: Revision, pod: str, mode: str, store: Path) -> Path:
    """Move the worktree to `revision`, build the pod there and keep the
    binary (lib/builds/binaries.py: the worktree moves on with the next build);
    returns the kept copy. Another run of this checkout waits for the lock
    rather than move the worktree under this build."""
    from lib.builds import binaries
    worktree = checkout / WORKTREE
    worktree.parent.mkdir(parents=True, exist_ok=True)
    with open(worktree.parent / "worktree.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        _move_worktree(checkout, worktree, revision)
        say(f"building {revision.short} ({revision.subject[:60]}) in {worktree}")
        binary = bazel_build(worktree, pod, mode)
        return binaries.keep(binaries.identify([str(binary)], [], None), store)


def _move_worktree(checkout: Path, worktree: Path, revision: Revision) -> None:
    if _is_our_worktree(checkout, worktree):
        steps = [("checkout", "--detach", "--force", revision.commit), ("clean", "-fd", "--quiet")]
        for step in steps:
            done = git(worktree, *step)
            if done.returncode != 0:
                raise WorkspaceError(f"cannot move {worktree} to {revision.short}: "
                                     f"{_first_line(done.stderr)}; remove that folder and run again")
        return
    if worktree.exists():
        raise WorkspaceError(f"{worktree} exists but is not a git worktree of {checkout}; "
                             "move it away (hbf-bench builds other revisions there)")
    git(checkout, "worktree", "prune")  # forget a worktree folder someone deleted
    worktree.parent.mkdir(parents=True, exist_ok=True)
    done = git(checkout, "worktree", "add", "--detach", "--force", str(worktree), revision.commit)
    if done.returncode != 0:
        raise WorkspaceError(f"cannot create the worktree {worktree}: {_first_line(done.stderr)}")


def _is_our_worktree(checkout: Path, worktree: Path) -> bool:
    if not (worktree / ".git").is_file():
        return False
    listed = git(checkout, "worktree", "list", "--porcelain").stdout
    wanted = str(worktree.resolve())
    return any(line == f"worktree {wanted}" for line in listed.splitlines())


def _first_line(text: str) -> str:
    """git's complaint in one line (error messages here are one line)."""
    return next((line.strip() for line in text.splitlines() if line.strip()), "no reason given")[:200]
