"""The HBF checkout: find it, read its git commit and branch, build a pod with bazel."""
from __future__ import annotations

import os
import re
import shutil
import sys
from pathlib import Path

from lib.core.errors import BenchError

# subprocess, signal and lib.core.interrupts are imported by the functions
# that run git and bazel: every view finds the checkout through this module,
# and a view that only reads the database should not pay for them.

_MODULE_HBF = re.compile(r"""module\s*\(\s*name\s*=\s*["']hbf["']""")
POD_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
BUILD_MODES = ("opt", "dbg", "fastbuild")


class WorkspaceError(BenchError):
    """The checkout or its build is not usable; the message names the fix."""


class BuildError(WorkspaceError):
    """bazel ran and failed: this commit does not build (--bisect skips it)."""


def is_hbf_checkout(path: Path) -> bool:
    module = path / "MODULE.bazel"
    try:
        return module.is_file() and bool(_MODULE_HBF.search(module.read_text(errors="replace")))
    except OSError:
        return False


def find_workspace(*starts: Path) -> Path | None:
    """Walk up from each start folder to the first HBF checkout."""
    for start in starts:
        for folder in (start, *start.parents):
            if is_hbf_checkout(folder):
                return folder
    return None


def locate(workspace_flag: str | None, db_flag: str | None, here: Path) -> tuple[Path | None, Path]:
    """(the HBF checkout or None, the results database), the same for both
    scripts: --workspace must be a checkout, else walk up from the current
    folder and then from the scripts' folder `here`; the database is --db,
    else <checkout>/.benchmark/results.db, else <here>/.benchmark/results.db."""
    if workspace_flag:
        workspace = Path(workspace_flag).resolve()
        if not is_hbf_checkout(workspace):
            raise WorkspaceError(f"--workspace {workspace_flag}: no MODULE.bazel declaring "
                                 "module(name = \"hbf\") there; pass the HBF checkout's root")
    else:
        workspace = find_workspace(Path.cwd(), here)
    database = Path(db_flag) if db_flag else (workspace or here) / ".benchmark" / "results.db"
    return workspace, database


def git_info(path: Path | None) -> tuple[str, str]:
    """(short commit, branch) of the checkout; "unknown" outside git."""
    if path is None or shutil.which("git") is None:
        return "unknown", "unknown"
    import subprocess

    def ask(*args: str) -> str:
        try:
            done = subprocess.run(["git", "-C", str(path), *args], capture_output=True,
                                  text=True, timeout=10)
        except (OSError, subprocess.SubprocessError):
            return "unknown"
        return done.stdout.strip() if done.returncode == 0 and done.stdout.strip() else "unknown"

    commit = ask("rev-parse", "--short", "HEAD")
    branch = ask("rev-parse", "--abbrev-ref", "HEAD")
    if branch == "HEAD":
        branch = "detached"
    return commit, branch


def pod_target(pod: str) -> str:
    """Bazel target name of a pod: test -> hbf_test, base -> hbf, NAME -> hbf_NAME."""
    return {"test": "hbf_test", "base": "hbf"}.get(pod, f"hbf_{pod}")


def pod_binary(workspace: Path, pod: str) -> Path:
    return workspace / "bazel-bin" / "bin" / pod_target(pod)


def bazel_build(workspace: Path, pod: str, mode: str) -> Path:
    """`bazel build //:<target> --compilation_mode=MODE`, its output streamed to
    stderr. Returns the binary. Ctrl-C stops bazel's client before it goes on."""
    bazel = shutil.which("bazel") or shutil.which("bazelisk")
    if bazel is None:
        raise WorkspaceError("bazel is not installed (or not on PATH): install bazel or bazelisk, "
                             "or pass --binary PATH / --no-build to use an existing binary")
    import subprocess

    from lib.core.interrupts import deferred
    command = [bazel, "build", f"//:{pod_target(pod)}", f"--compilation_mode={mode}"]
    print(f"hbf-bench: building: {' '.join(command)}", file=sys.stderr, flush=True)
    proc = None
    try:
        # A Ctrl-C during Popen waits until `proc` holds bazel's pid, and is
        # raised inside this try, whose handler stops bazel.
        with deferred():
            proc = subprocess.Popen(command, cwd=workspace, stdin=subprocess.DEVNULL,
                                    stdout=sys.stderr.fileno(), stderr=sys.stderr.fileno(),
                                    start_new_session=True)
        code = proc.wait()
    except BaseException:
        if proc is not None:
            _stop_group(proc)
        raise
    if code != 0:
        raise BuildError(f"bazel build //:{pod_target(pod)} failed (exit {code}); "
                             "fix the build errors above, or pass --binary PATH")
    return check_binary(pod_binary(workspace, pod))


def check_binary(path: Path) -> Path:
    if not path.exists():
        raise WorkspaceError(f"HBF binary {path} does not exist: build it first, drop --no-build, "
                             "or pass --binary PATH")
    if not path.is_file() or not os.access(path, os.X_OK):
        raise WorkspaceError(f"HBF binary {path} is not an executable file: "
                             "pass --binary with the built hbf binary")
    return path


def _stop_group(proc: subprocess.Popen) -> None:
    import signal
    import subprocess
    for sig, wait in ((signal.SIGINT, 5), (signal.SIGKILL, 5)):
        if proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
