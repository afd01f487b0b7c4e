"""Install the skill into an HBF checkout at .claude/skills/<its name>/.

A copy, not links: the checkout then works on its own, and Claude Code opened
there finds SKILL.md. Run from there, the scripts find the checkout by walking
up from their own folder.

The folder is named after SKILL.md's `name`, as the Agent Skills format wants.
Nothing of the user's is deleted: a skill in the way (HBF's old bash skill at
.claude/skills/benchmark, or an earlier or edited copy of this one) is moved
to .claude/skills-replaced/<folder>-<time>/, where Claude Code does not look
for skills, so exactly one skill answers "benchmark HBF performance". A copy
that is byte for byte what would be installed stays where it is.
"""
from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from pathlib import Path

from lib.core.errors import BenchError
from lib.builds.workspace import is_hbf_checkout

# What the skill needs at run time; tests, benches and CI files stay behind.
SKILL_FILES = ("SKILL.md", "benchmark.py", "show_results.py", "README.md")
SKILL_DIRS = ("lib", "suites", "docs")
# Folders an earlier skill for the same job may sit in: HBF's bash skill (and
# this tool's installs before the folder took the skill's name), and the
# staging folder those installs left behind when a copy failed.
LEGACY_FOLDERS = ("benchmark", "benchmark.installing")
REPLACED = "skills-replaced"  # .claude/skills-replaced: outside .claude/skills
_IGNORED_DIRS = {"__pycache__"}
_IGNORED_SUFFIXES = (".pyc",)
_NAME = re.compile(r"^[a-z0-9-]{1,64}$")


class InstallError(BenchError):
    """The skill cannot be installed there; the message names the fix."""


def skill_name(source: Path) -> str:
    """The `name` in SKILL.md's front matter."""
    text = (source / "SKILL.md").read_text(encoding="utf-8")
    match = re.match(r"^---\n(.*?)\n---\n", text, re.S)
    names = [line.partition(":")[2].strip() for line in (match.group(1).splitlines() if match else ())
             if line.partition(":")[0].strip() == "name"]
    if len(names) != 1 or not _NAME.match(names[0]):
        raise InstallError(f"{source / 'SKILL.md'} has no valid `name` in its front matter "
                           "(lower-case letters, digits and hyphens, at most 64)")
    return names[0]


def skill_files(source: Path) -> list[str]:
    """Every file the skill consists of, relative to its folder; SKILL.md last,
    so a folder holding SKILL.md always holds the rest too."""
    files = [name for name in SKILL_FILES if name != "SKILL.md"]
    for top in SKILL_DIRS:
        for folder, dirs, names in os.walk(source / top):
            dirs[:] = sorted(d for d in dirs if d not in _IGNORED_DIRS)
            relative = Path(folder).relative_to(source)
            files += [str(relative / name) for name in sorted(names)
                      if not name.endswith(_IGNORED_SUFFIXES)]
    return files + ["SKILL.md"]


def is_same_skill(folder: Path, source: Path, files: list[str]) -> bool:
    """True when `folder` is a real folder holding exactly `files`, byte for
    byte as in `source` (Python's bytecode caches aside)."""
    if folder.is_symlink() or not folder.is_dir():
        return False
    found = []
    for current, dirs, names in os.walk(folder):
        dirs[:] = [d for d in dirs if d not in _IGNORED_DIRS]
        if any((Path(current) / d).is_symlink() for d in dirs):
            return False
        relative = Path(current).relative_to(folder)
        found += [str(relative / name) for name in names if not name.endswith(_IGNORED_SUFFIXES)]
    if sorted(os.path.normpath(f) for f in found) != sorted(os.path.normpath(f) for f in files):
        return False
    try:
        return all(not (folder / f).is_symlink()
                   and (folder / f).read_bytes() == (source / f).read_bytes() for f in files)
    except OSError:
        return False


def _is_skill(folder: Path) -> bool:
    return (folder / "SKILL.md").is_file()


def _aside(replaced: Path, folder: Path, stamp: str) -> Path:
    """A name under `replaced` nothing holds yet."""
    candidate = replaced / f"{folder.name}-{stamp}"
    number = 2
    while os.path.lexists(candidate):
        candidate = replaced / f"{folder.name}-{stamp}-{number}"
        number += 1
    return candidate


def _reason(exc: OSError) -> str:
    return " ".join(f"{exc.strerror or exc}{f' ({exc.filename})' if exc.filename else ''}".split())


def install_skill(hbf: Path, source: Path) -> str:
    """Install the skill from `source` into the checkout `hbf`; return what
    was done, one line per step. Raises InstallError, with nothing changed."""
    hbf = hbf.resolve()
    if not is_hbf_checkout(hbf):
        raise InstallError(f"{hbf} is not an HBF checkout (no MODULE.bazel declaring "
                           "module(name = \"hbf\")): pass the checkout's root")
    name = skill_name(source)
    files = skill_files(source)
    skills = hbf / ".claude" / "skills"
    replaced = hbf / ".claude" / REPLACED
    target = skills / name
    hint = f"try: python3 {target.relative_to(hbf)}/benchmark.py --help (from {hbf})"

    in_the_way = [skills / legacy for legacy in LEGACY_FOLDERS
                  if legacy != name and _is_skill(skills / legacy)]
    current = os.path.lexists(target) and is_same_skill(target, source, files)
    if os.path.lexists(target) and not current:
        in_the_way.append(target)
    if current and not in_the_way:
        return (f"already installed: {target} holds exactly this version of {name}; "
                f"nothing changed\n{hint}")

    # Folders made here are removed again (when still empty) if the install
    # fails, so a refusal leaves the checkout as it was.
    created: list[Path] = []
    try:
        moved = _swap(skills, replaced, target, source, files, in_the_way, current, created)
    except BaseException:
        for folder in reversed(created):
            try:
                folder.rmdir()
            except OSError:
                pass
        raise

    lines = [f"moved the skill that was in {folder} to {place} (Claude Code does not load "
             f"skills from {replaced.name}; its files are unchanged)" for folder, place in moved]
    if current:
        lines.append(f"already installed: {target} holds exactly this version of {name}; "
                     "left as it is")
    else:
        lines.append(f"installed the skill {name} in {target}")
    return "\n".join(lines + [hint])


def _make(folder: Path, created: list[Path]) -> None:
    """Make folder and its missing parents, noting each one made in created;
    refuse when it cannot be written in."""
    try:
        for missing in [f for f in (*reversed(folder.parents), folder) if not os.path.lexists(f)]:
            missing.mkdir()
            created.append(missing)
        if not folder.is_dir():
            raise NotADirectoryError(20, "Not a directory", str(folder))
        if not os.access(folder, os.W_OK | os.X_OK):
            raise PermissionError(13, "Permission denied", str(folder))
    except OSError as exc:
        reason = exc.strerror if exc.filename == str(folder) else _reason(exc)
        raise InstallError(f"cannot write in {folder}: {reason}; "
                           "make it writable and install again") from None


def _swap(skills: Path, replaced: Path, target: Path, source: Path, files: list[str],
          in_the_way: list[Path], current: bool, created: list[Path]) -> list[tuple[Path, Path]]:
    """Copy the skill next to target, move in_the_way into replaced, rename
    the copy into place; return [(folder, where it went)]. On failure nothing
    of the user's has moved."""
    _make(skills, created)
    if in_the_way:
        _make(replaced, created)

    # Copy into a fresh folder next to the target, then swap it in with one
    # rename: a failed copy never leaves half a skill behind.
    staging = None
    if not current:
        try:
            staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.installing-", dir=skills))
            umask = os.umask(0)
            os.umask(umask)
            staging.chmod(0o777 & ~umask)
            for relative in files:
                (staging / relative).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source / relative, staging / relative)
        except BaseException as exc:
            if staging is not None:
                shutil.rmtree(staging, ignore_errors=True)
            if isinstance(exc, OSError):
                raise InstallError(f"cannot copy the skill into {skills}: {_reason(exc)}; "
                                   "nothing was changed") from None
            raise

    stamp = time.strftime("%Y%m%d-%H%M%S")
    moved: list[tuple[Path, Path]] = []
    try:
        for folder in in_the_way:
            place = _aside(replaced, folder, stamp)
            os.rename(folder, place)
            moved.append((folder, place))
        if staging is not None:
            os.rename(staging, target)
    except BaseException as exc:
        # Put back what was moved: the checkout is as it was.
        stuck = []
        for folder, place in reversed(moved):
            try:
                os.rename(place, folder)
            except OSError:
                stuck.append(f"{folder} is now {place}")
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        if isinstance(exc, OSError):
            outcome = (f"could not move it back: {'; '.join(stuck)}" if stuck
                       else "nothing was changed")
            raise InstallError(f"cannot move {exc.filename} to {exc.filename2}: "
                               f"{exc.strerror or exc}; {outcome}") from None
        raise
    return moved


# ---- the pull-request workflow (--install-ci) ------------------------------

WORKFLOW = Path(".github") / "workflows" / "hbf-benchmark.yml"
WORKFLOW_TEMPLATE = Path(__file__).resolve().parent / "templates" / "hbf-benchmark.yml"


def workflow_text(skill_dir: str) -> str:
    """The workflow, for the skill installed at `skill_dir` (relative to the checkout)."""
    return WORKFLOW_TEMPLATE.read_text(encoding="utf-8").replace("@SKILL_DIR@", skill_dir)


def install_ci(hbf: Path, source: Path) -> tuple[str, int]:
    """The workflow at .github/workflows/hbf-benchmark.yml, and the skill it
    runs (as --install-skill installs it): (what was done, exit status). A
    different file already at that path is never changed, and nothing is
    installed: the proposed workflow is written to .benchmark/ for the user
    to compare, and the status is 2."""
    hbf = hbf.resolve()
    if not is_hbf_checkout(hbf):
        raise InstallError(f"{hbf} is not an HBF checkout (no MODULE.bazel declaring "
                           "module(name = \"hbf\")): pass the checkout's root")
    text = workflow_text(f".claude/skills/{skill_name(source)}")
    target = hbf / WORKFLOW
    same = target.is_file() and not target.is_symlink() and target.read_bytes() == text.encode("utf-8")
    if os.path.lexists(target) and not same:
        proposed = hbf / ".benchmark" / "hbf-benchmark.proposed.yml"
        try:
            proposed.parent.mkdir(exist_ok=True)
            proposed.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise InstallError(f"{target} exists and differs, and the proposed workflow cannot be "
                               f"written to {proposed}: {_reason(exc)}") from None
        return (f"{target} exists and differs from this tool's workflow: left as it is, nothing "
                f"installed; the proposed one is {proposed} (compare: diff {target} {proposed})"), 2
    lines = install_skill(hbf, source).splitlines()[:-1]  # (its hint is for --install-skill)
    if same:
        return "\n".join(lines + [f"already set up: {target} holds exactly this workflow; nothing changed"]), 0
    created: list[Path] = []
    try:
        _make(target.parent, created)
        staging = target.with_name(f".{target.name}.installing")
        staging.write_text(text, encoding="utf-8")
        os.replace(staging, target)
    except BaseException as exc:
        for folder in reversed(created):
            try:
                folder.rmdir()
            except OSError:
                pass
        if isinstance(exc, OSError):
            raise InstallError(f"cannot write {target}: {_reason(exc)}") from None
        raise
    return "\n".join(lines + [f"wrote {target}: every pull request into main is benchmarked against "
                              "its merge base; commit it to turn it on (docs/ci.md)"]), 0
