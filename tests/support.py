"""Helpers shared by the test modules: free ports, polling, and the HBF stand-in.

``StandinServer`` starts lib/standin.py the way hbf-bench starts a real HBF binary
(a command line, stdout+stderr to a log file, ready when ``GET /health`` answers
200, stopped with SIGTERM and a connection that wakes it, as HBF needs) and
always stops it again, also when a test fails.
Everything here talks to 127.0.0.1 only and kills processes only by their id.
"""
from __future__ import annotations

import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
STANDIN = REPO / "lib" / "standin.py"
HOST = "127.0.0.1"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout: float, interval: float = 0.02,
               message: str = "condition not met"):
    """Poll predicate() until it returns something truthy; return that value.

    Raises AssertionError(message) when timeout seconds pass first. ``message``
    may be a callable, called only then (to include e.g. a log file).
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            text = message() if callable(message) else message
            raise AssertionError(f"{text} (after {timeout:g} s)")
        time.sleep(interval)


def poke(port: int) -> None:
    """Connect to 127.0.0.1:port and close at once. After SIGTERM, the stand-in
    (like HBF) exits only when its 2-second poll of the listening socket ends
    or a connection arrives: this is the connection."""
    try:
        with socket.create_connection((HOST, port), timeout=0.1):
            pass
    except OSError:
        pass


def signal_pending(pid: int, sig: int) -> bool:
    """True while `sig` waits for one of the process's threads to take it
    (Linux /proc; elsewhere False). A connection made before that may wake
    another thread than the main one, which takes the signal instead: the
    stand-in's main thread (like HBF's) then notices only a second later."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("ShdPnd:"):
                    return bool(int(line.split()[1], 16) >> (sig - 1) & 1)
    except (OSError, ValueError, IndexError):
        pass
    return False


def wait_idle(pid: int, timeout: float = 5.0) -> None:
    """Wait until the stand-in `pid` runs only its main and master threads: no
    connection is being handled, so a signal now is taken by the main thread
    (a handler thread on its way out could take it instead, and the main
    thread would notice only a second later). Linux /proc; elsewhere no wait."""
    if not os.path.isdir(f"/proc/{pid}/task"):
        return
    wait_until(lambda: len(os.listdir(f"/proc/{pid}/task")) <= 2, timeout,
               message=f"process {pid} still handles a connection")


def have_ab() -> bool:
    return shutil.which("ab") is not None


requires_ab = unittest.skipUnless(have_ab(), "ab (apache2-utils) is not installed")


def http_request(port: int, method: str, path: str, body: bytes | None = None,
                 headers: dict | None = None, timeout: float = 5.0):
    """One request on a fresh connection: (status, headers as dict, body bytes).

    Header names in the returned dict are lower case.
    """
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        data = resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
    finally:
        conn.close()


class StandinServer:
    """Context manager running lib/standin.py on 127.0.0.1.

    ``StandinServer(*extra_args, dev=False, port=None)``; attributes ``port``,
    ``url``, ``proc``, ``log_path``, ``startup_seconds`` (Popen to /health 200);
    methods ``log_text()``, ``request()``, ``stop()``. The log file lives in a
    temporary directory (also the process's cwd) removed on exit; ``log_text()``
    keeps working afterwards.
    """

    READY_TIMEOUT = 10.0
    STOP_GRACE = 5.0

    def __init__(self, *extra_args, dev: bool = False, port: int | None = None):
        self.port = port if port is not None else free_port()
        self.url = f"http://{HOST}:{self.port}"
        self.args = [sys.executable, str(STANDIN), "--port", str(self.port),
                     "--log-level", "error", "--inmem"]
        if dev:
            self.args.append("--dev")
        self.args += [str(a) for a in extra_args]
        self.proc: subprocess.Popen | None = None
        self.workdir: str | None = None
        self.log_path: Path | None = None
        self.startup_seconds: float | None = None
        self._final_log: str | None = None

    # --- life cycle
    def start(self) -> "StandinServer":
        self.workdir = tempfile.mkdtemp(prefix="standin-test-")
        self.log_path = Path(self.workdir) / "standin.log"
        with open(self.log_path, "wb") as log:
            t0 = time.monotonic()
            self.proc = subprocess.Popen(
                self.args, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                cwd=self.workdir, start_new_session=True)
        try:
            wait_until(self._ready, self.READY_TIMEOUT, interval=0.005,
                       message=lambda: f"stand-in not ready on {self.url}; log:\n"
                                       + self.log_text())
        except BaseException:
            self.stop()
            self._cleanup()
            raise
        self.startup_seconds = time.monotonic() - t0
        return self

    def _ready(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(
                f"stand-in exited with status {self.proc.returncode} before it was "
                f"ready; command {self.args}; log:\n{self.log_text()}")
        try:
            status, _, _ = http_request(self.port, "GET", "/health", timeout=1.0)
        except OSError:
            return False
        return status == 200

    def stop(self, timeout: float | None = None) -> int | None:
        """SIGTERM the process group and, once the signal is taken, poke its
        port until it exits (a poke can still arrive before the signal is acted
        on: then another is needed); SIGKILL it after the grace time. Return
        its status."""
        proc = self.proc
        if proc is None:
            return None
        if proc.poll() is None:
            self._signal_group(signal.SIGTERM)
            deadline = time.monotonic() + (self.STOP_GRACE if timeout is None else timeout)
            while signal_pending(proc.pid, signal.SIGTERM) and time.monotonic() < deadline:
                time.sleep(0.001)
            while proc.poll() is None and time.monotonic() < deadline:
                poke(self.port)
                try:
                    proc.wait(min(0.05, max(0.0, deadline - time.monotonic())))
                except subprocess.TimeoutExpired:
                    pass
            if proc.poll() is None:
                self._signal_group(signal.SIGKILL)
                proc.wait()
        return proc.returncode

    def _signal_group(self, sig: int) -> None:
        try:
            os.killpg(self.proc.pid, sig)  # start_new_session: pgid == pid
        except ProcessLookupError:
            pass

    def send_signal(self, sig: int) -> None:
        """Send sig to the stand-in alone (not its group)."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)

    def _cleanup(self) -> None:
        if self.workdir is not None:
            self._final_log = self.log_text()
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None

    def __enter__(self) -> "StandinServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        try:
            self.stop()
        finally:
            self._cleanup()

    # --- conveniences
    def log_text(self) -> str:
        if self._final_log is not None:
            return self._final_log
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except (OSError, AttributeError):
            return ""

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict | None = None, timeout: float = 5.0):
        """(status, headers with lower-case names, body) of one request."""
        return http_request(self.port, method, path, body=body, headers=headers,
                            timeout=timeout)


class TempDirTestCase(unittest.TestCase):
    """A fresh folder per test: ``self.tmp`` (a Path) and ``self.db`` in it."""

    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory()
        self.tmp = Path(self._tmp.name)
        self.db = self.tmp / "r.db"

    def tearDown(self):
        self._tmp.cleanup()
