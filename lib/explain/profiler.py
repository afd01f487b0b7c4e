"""Drive Linux perf (Debian package `linux-perf`): check that it may record
here, record a server's stacks while one extra sample's load runs, and read
the samples back as `perf script` text. The text becomes folded stacks and
figures in lib/explain/stacks.py; this module only runs perf.

    check()                         -> perf's version, or ProfilerError (exit 2) naming the fix
    Recording(pid, path, freq)      -> start(); stop() (SIGINT, then SIGKILL) on every path out
    script(path)                    -> the samples as text (comm, tid, time, event, ip, sym, dso)

perf writes its data file into the run's log folder and nowhere else; the
file is removed once its text is read.
"""
from __future__ import annotations

import os
import select
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from lib.core.errors import BenchError
from lib.core.interrupts import deferred

DEFAULT_FREQ = 999
STOP_TIMEOUT_S = 15.0  # perf writes its buffers out after SIGINT
START_TIMEOUT_S = 15.0  # perf attaches to every thread of the server
SCRIPT_FIELDS = "comm,tid,time,event,ip,sym,dso"
PARANOID = Path("/proc/sys/kernel/perf_event_paranoid")


class ProfilerError(BenchError):
    """perf is missing or may not record here; the message names the fix."""


def check() -> str:
    """perf's version once a one-second-or-less recording of a harmless
    process worked; else ProfilerError saying what to install or change."""
    perf = shutil.which("perf")
    if perf is None:
        raise ProfilerError("--profile needs perf, which is not installed: apt-get install linux-perf "
                            "(Debian; linux-tools-generic on Ubuntu)")
    version = subprocess.run([perf, "--version"], capture_output=True, text=True, timeout=30)
    with tempfile.TemporaryDirectory(prefix="hbf-bench-perf-") as tmp:
        # The options Recording uses (started disabled, a control FIFO: perf
        # 5.10 or newer), on a harmless process.
        control, ack = Path(tmp) / "control", Path(tmp) / "ack"
        os.mkfifo(control)
        os.mkfifo(ack)
        done = subprocess.run([perf, "record", "-q", "-g", "-F", str(DEFAULT_FREQ), "-D", "-1",
                               "--control", f"fifo:{control},{ack}",
                               "-o", str(Path(tmp) / "check.data"), "--", "sleep", "0.2"],
                              capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    if done.returncode != 0 and "Usage: perf record" in done.stderr:
        raise ProfilerError(f"perf {_version_of(version.stdout)} is too old for --profile (it needs "
                            "perf record --control, perf 5.10 or newer): install a newer linux-perf")
    if done.returncode != 0:
        why = next((line.strip() for line in done.stderr.splitlines() if line.strip()), "no reason given")
        raise ProfilerError(f"perf may not record here ({why[:160]}); allow it with "
                            f"`sysctl kernel.perf_event_paranoid=1` (now {paranoid_level()}), or in a "
                            "container grant CAP_PERFMON (or CAP_SYS_ADMIN); or drop --profile")
    return _version_of(version.stdout)


def _version_of(text: str) -> str:
    return (text.strip() or "perf").removeprefix("perf version ")


def paranoid_level() -> str:
    try:
        return PARANOID.read_text().strip()
    except OSError:
        return "unknown"


class Recording:
    """`perf record -g -p PID -F FREQ -o PATH` for as long as it runs."""

    def __init__(self, pid: int, path: Path, freq: int) -> None:
        self.pid, self.path, self.freq = pid, Path(path), freq
        self.proc: subprocess.Popen | None = None
        self.error: str | None = None
        self.fifos: Path | None = None

    def start(self) -> None:
        """Start perf and return once it records. perf takes a moment to
        attach, longer than a fast sample lasts: it starts disabled (-D -1)
        and is enabled through its control FIFO, whose ack says it is on."""
        self.fifos = Path(tempfile.mkdtemp(prefix=".perf-control-", dir=self.path.parent))
        control, ack = self.fifos / "control", self.fifos / "ack"
        os.mkfifo(control)
        os.mkfifo(ack)
        command = [shutil.which("perf") or "perf", "record", "-q", "-g", "-F", str(self.freq),
                   "-p", str(self.pid), "-o", str(self.path), "-D", "-1",
                   "--control", f"fifo:{control},{ack}"]
        # A Ctrl-C during Popen waits until `proc` holds perf's pid, so the
        # caller's finally can always stop it.
        with deferred():
            self.proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.PIPE, text=True, start_new_session=True)
        # O_RDWR: opening a FIFO so never blocks, whether or not perf has it open yet.
        control_fd, ack_fd = os.open(control, os.O_RDWR), os.open(ack, os.O_RDWR | os.O_NONBLOCK)
        try:
            os.write(control_fd, b"enable\n")
            deadline = time.monotonic() + START_TIMEOUT_S
            while self.proc.poll() is None and time.monotonic() < deadline:
                if select.select([ack_fd], [], [], 0.1)[0] and b"ack" in os.read(ack_fd, 64):
                    return
            self.error = "perf did not start recording" + (
                f" (exit {self.proc.returncode})" if self.proc.poll() is not None else
                f" within {START_TIMEOUT_S:g} s")
        finally:
            os.close(control_fd)
            os.close(ack_fd)

    def stop(self) -> bool:
        """Stop perf (SIGINT lets it write its data); True when it wrote a file."""
        proc = self.proc
        if proc is None:  # perf never started (Popen failed)
            if self.fifos is not None:
                shutil.rmtree(self.fifos, ignore_errors=True)
            return False
        if proc.returncode is not None and (proc.stderr is None or proc.stderr.closed):
            return self.error is None and self.path.is_file() and self.path.stat().st_size > 0  # stopped before
        if proc.poll() is None:
            _signal(proc, signal.SIGINT)
            try:
                proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                _signal(proc, signal.SIGKILL)
                proc.wait()
        stderr = proc.stderr.read() if proc.stderr else ""
        if proc.stderr:
            proc.stderr.close()
        if self.fifos is not None:
            shutil.rmtree(self.fifos, ignore_errors=True)
        if proc.returncode not in (0, -signal.SIGINT, 128 + signal.SIGINT):
            self.error = (stderr.strip().splitlines() or [f"perf exited {proc.returncode}"])[0][:200]
        return self.error is None and self.path.is_file() and self.path.stat().st_size > 0

    def discard(self) -> None:
        self.path.unlink(missing_ok=True)


def _signal(proc: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)  # perf's own group: it started none of ours
    except ProcessLookupError:
        pass


def script(path: Path) -> str:
    """The recorded samples as `perf script` text; the data file is removed after."""
    try:
        done = subprocess.run([shutil.which("perf") or "perf", "script", "-F", SCRIPT_FIELDS, "-i", str(path)],
                              capture_output=True, text=True, errors="replace", timeout=300,
                              stdin=subprocess.DEVNULL)
    finally:
        Path(path).unlink(missing_ok=True)
    if done.returncode != 0:
        raise ProfilerError("perf script failed: " + next(
            (line.strip() for line in done.stderr.splitlines() if line.strip()), f"exit {done.returncode}")[:200])
    return done.stdout
