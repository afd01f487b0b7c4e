"""Install the skill into an HBF checkout at .claude/skills/benchmark/.

A copy, not links: the checkout then works on its own, and Claude Code opened
there finds SKILL.md. Run from there, the scripts find the checkout by walking
up from their own folder.
"""
from __future__ import annotations

import shutil
from pathlib import Path

from lib.workspace import WorkspaceError, is_hbf_checkout

# What the skill needs at run time; tests, benches and CI files stay behind.
SKILL_FILES = ("SKILL.md", "benchmark.py", "show_results.py", "README.md")
SKILL_DIRS = ("lib", "suites", "reference")


def install_skill(hbf: Path, source: Path) -> str:
    hbf = hbf.resolve()
    if not is_hbf_checkout(hbf):
        raise WorkspaceError(f"{hbf} is not an HBF checkout (no MODULE.bazel declaring "
                             "module(name = \"hbf\")): pass the checkout's root")
    target = hbf / ".claude" / "skills" / "benchmark"
    staging = target.with_name("benchmark.installing")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for name in SKILL_FILES:
        shutil.copy2(source / name, staging / name)
    for name in SKILL_DIRS:
        shutil.copytree(source / name, staging / name,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    # Swap in one step, so a failed copy never leaves half a skill behind.
    if target.exists():
        shutil.rmtree(target)
    staging.rename(target)
    return (f"installed the skill in {target}; try: "
            f"python3 {target.relative_to(hbf)}/benchmark.py --help (from {hbf})")
