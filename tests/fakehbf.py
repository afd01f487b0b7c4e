"""An HBF-shaped git repository of a test's own, and a fake `bazel` that
"builds" it: `bazel build //:hbf_test` writes bazel-bin/bin/hbf_test, a
launcher of the stand-in with the flags in the commit's `standin-flags`
file (how a commit makes "HBF" slower or breaks an endpoint). A commit with
a `build-fails` file fails to build, as a broken commit does."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.support import REPO

FAKE_BAZEL = f"""#!{sys.executable}
import os, sys
from pathlib import Path
args = sys.argv[1:]
if not args or args[0] != "build":
    sys.exit("fake bazel: only 'build' is known")
here = Path.cwd()
if (here / "build-fails").exists():
    print("ERROR: fake build failure in", here, file=sys.stderr)
    sys.exit(1)
target = args[1].removeprefix("//:")
flags = (here / "standin-flags").read_text().split() if (here / "standin-flags").exists() else []
out = here / "bazel-bin" / "bin"
out.mkdir(parents=True, exist_ok=True)
binary = out / target
text = "#!/bin/sh\\nexec {sys.executable} -S {REPO / 'lib' / 'standin.py'} " + " ".join(flags) + ' "$@"\\n'
tmp = binary.with_suffix(".tmp")
tmp.write_text(text)
tmp.chmod(0o755)
os.replace(tmp, binary)  # as bazel does: a new file, never the old one changed
print("fake bazel: built", binary, "with", flags, file=sys.stderr)
"""


def git(repo: Path, *args: str) -> str:
    env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.com",
               GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@example.com")
    done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, env=env,
                          check=True)
    return done.stdout.strip()


def make_repo(root: Path, commits: list[tuple[str, str | None]]) -> tuple[Path, list[str]]:
    """A repository at root/hbf with one commit per (subject, flags): flags
    is the stand-in's flags from that commit on ("" for none), or None for
    a commit that does not build. Returns (repo, full hashes oldest first)."""
    repo = root / "hbf"
    repo.mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    (repo / "MODULE.bazel").write_text('module(name = "hbf", version = "0.0.1")\n')
    (repo / ".gitignore").write_text("bazel-*\n")
    hashes = []
    for subject, flags in commits:
        broken = repo / "build-fails"
        if flags is None:
            broken.write_text("this commit does not build\n")
        else:
            broken.unlink(missing_ok=True)
            (repo / "standin-flags").write_text(flags + "\n")
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "--allow-empty", "-m", subject)
        hashes.append(git(repo, "rev-parse", "HEAD"))
    return repo, hashes


def fake_bazel_env(root: Path) -> dict:
    """The environment with a fake bazel first on PATH."""
    bindir = root / "fakebin"
    bindir.mkdir(exist_ok=True)
    bazel = bindir / "bazel"
    bazel.write_text(FAKE_BAZEL)
    bazel.chmod(0o755)
    return dict(os.environ, PATH=f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}")


def have_git() -> bool:
    return shutil.which("git") is not None
