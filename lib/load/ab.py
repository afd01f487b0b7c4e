"""Drive ApacheBench: build its command line, run it without a shell, hand
back its text, exit status and CPU time. Parsing is lib/parser.py's job."""
from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from lib.core.interrupts import deferred
from lib.core.loadresult import LoadResult
from lib.parser import AbParseError, parse_ab, with_csv_percentiles
from lib.server import signal_name

_PROGRESS = re.compile(r"^(Completed|Finished) (\d+) requests")
# "Finished N" repeats the last "Completed N": only the latter drives progress.


@dataclass
class EngineRun:
    """What one load run gave: the parsed result plus what it cost the client."""
    result: LoadResult
    command: list[str]
    wall_s: float
    client_cpu_s: float | None  # user + system CPU of the load generator
    exit_code: int | None = None


def ab_path() -> str | None:
    return shutil.which("ab")


def ab_version() -> str | None:
    path = ab_path()
    if path is None:
        return None
    try:
        out = subprocess.run([path, "-V"], capture_output=True, text=True, timeout=5).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"Version (\S+)", out)
    return match.group(1) if match else None


def build_command(url: str, *, method: str, requests: int, concurrency: int, timeout_s: float,
                  csv_path: Path, body_path: Path | None = None, content_type: str | None = None,
                  headers=(), variable_length: bool = False, keepalive: bool = False) -> list[str]:
    """ab's argv. PUT uses -u (a real PUT), POST -p; other methods go through -m."""
    command = [ab_path() or "ab", "-n", str(requests), "-c", str(concurrency),
               "-s", str(max(1, round(timeout_s))), "-e", str(csv_path)]
    if variable_length:
        command.append("-l")
    if keepalive:
        command.append("-k")
    if body_path is not None:
        command += ["-u" if method == "PUT" else "-p", str(body_path),
                    "-T", content_type or "text/plain"]
        if method not in ("PUT", "POST"):
            command += ["-m", method]
    elif method == "HEAD":
        command.append("-i")
    elif method != "GET":
        command += ["-m", method]
    for name, value in headers:
        command += ["-H", f"{name}: {value}"]
    command.append(url)
    return command


def run_ab(url: str, *, method: str = "GET", requests: int, concurrency: int,
           timeout_s: float = 30, body: bytes | None = None, content_type: str | None = None,
           headers=(), variable_length: bool = False, keepalive: bool = False,
           progress=None) -> EngineRun:
    """Run ab once. `progress(done, total)` gets ab's live "Completed N requests"."""
    with tempfile.TemporaryDirectory(prefix="hbf-bench-ab-") as scratch:
        scratch_dir = Path(scratch)
        csv_path = scratch_dir / "percentiles.csv"
        body_path = None
        if body is not None:
            body_path = scratch_dir / "body"
            body_path.write_bytes(body)
        command = build_command(url, method=method, requests=requests, concurrency=concurrency,
                                timeout_s=timeout_s, csv_path=csv_path, body_path=body_path,
                                content_type=content_type, headers=headers,
                                variable_length=variable_length, keepalive=keepalive)
        stdout_path = scratch_dir / "stdout"
        started = time.monotonic()
        with open(stdout_path, "wb") as stdout_file:
            proc = None
            stderr_lines = []
            try:
                # A Ctrl-C during Popen waits until `proc` holds ab's pid, and
                # is raised inside this try, whose handler stops ab.
                with deferred():
                    proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=stdout_file,
                                            stderr=subprocess.PIPE, start_new_session=True)
                for raw in proc.stderr:
                    line = raw.decode("utf-8", "replace")
                    match = _PROGRESS.match(line)
                    if match:
                        if progress and match.group(1) == "Completed":
                            progress(int(match.group(2)), requests)
                    else:
                        stderr_lines.append(line)
                # wait4 gives the child's own rusage: ab's CPU time, to tell
                # when the load generator rather than the server was the limit.
                _, status, usage = os.wait4(proc.pid, 0)
                proc.returncode = os.waitstatus_to_exitcode(status)
            except BaseException:
                if proc is not None:
                    _kill(proc)
                raise
            finally:
                if proc is not None:
                    proc.stderr.close()
        wall = time.monotonic() - started
        stdout = stdout_path.read_text(encoding="utf-8", errors="replace")
        stderr = "".join(stderr_lines)
        killer = signal_name(proc.returncode)
        try:
            result = parse_ab(stdout, stderr)
        except AbParseError as exc:
            # Output we cannot read fails this endpoint, not the whole run.
            result = LoadResult(finished=False, error=f"ab output not understood: {exc}")
        if killer:
            # ab itself was killed (OOM killer, kill -9): whatever it printed is partial.
            result.finished = False
            result.error = f"ab was killed by {killer}"
        csv_text = csv_path.read_text() if csv_path.exists() else None
        if result.finished:
            result = with_csv_percentiles(result, csv_text)
        if result.error is None and proc.returncode != 0:
            # ab failed for a reason of its own (usage, bad URL): keep its words.
            words = [l.strip() for l in stderr.splitlines() if l.strip()]
            result.error = f"ab exited with status {proc.returncode}: " + (words[0] if words else "no message")
            if not result.complete_requests:
                result.finished = False
        result.engine = "ab"
        return EngineRun(result=result, command=command, wall_s=wall,
                         client_cpu_s=usage.ru_utime + usage.ru_stime,
                         exit_code=proc.returncode)


def _kill(proc: subprocess.Popen) -> None:
    """Stop ab (interrupt or error on our side) and reap it: no orphans."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    try:
        proc.wait(timeout=5)
    except (subprocess.TimeoutExpired, ChildProcessError):
        pass
