"""HBF server lifecycle: start, wait until ready, watch, stop. Never leave one running.

A server is any command that takes HBF's flags (`--port N --log-level L
--inmem [--dev]`): the real binary, or the stand-in (lib/standin.py) started
the very same way. Each runs in its own process group with stdout and stderr
in a log file, is ready when GET /health answers 200, and is stopped with
SIGTERM, then a connection to its port, then SIGKILL if it is still there
after a grace period. HBF exits after SIGTERM only when CivetWeb's master
thread next wakes from its 2-second poll of the listening socket; a
connection made after the signal wakes it at once (exit in ~13 ms instead of
0-2 s; /work/shared/hbf.md, "Stopping"). Several servers are stopped
together: all signalled, then all poked, then waited for in parallel. Only
processes this module started are ever signalled, by process group id, and
the pokes go to 127.0.0.1 only.
"""
from __future__ import annotations

import errno
import os
import signal
import socket
import struct
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from lib.machine.cpus import child_on, cpu_list
from lib.core.errors import BenchError
from lib.core.interrupts import deferred

HOST = "127.0.0.1"
READY_POLL_S = 0.02
# What a server that will not stop gets before SIGKILL. A poked HBF exits in
# milliseconds; even if the signal reached a thread other than its main one,
# whose loop sleeps 1 s at a time, it would be done in a little over 1 s.
STOP_GRACE_S = 2.0
# A signal to a process goes to whichever of its threads first returns to
# user space: one woken by an early poke may take it, and HBF's main thread
# (and the stand-in's) then sleeps on for up to 1 s before it acts. So the
# first poke waits until the signal has been taken (at most this long).
SIGNAL_TAKEN_WAIT_S = 0.25
# A poke can also come after the signal was taken but before HBF's main thread
# has asked CivetWeb to stop: the master thread accepts it and polls again.
# So poke again, more and more rarely, until the server is gone or the
# grace is over.
POKE_FIRST_S = 0.02
POKE_MAX_S = 0.25
POKE_TIMEOUT_S = 0.1


class ServerError(BenchError):
    """A server that would not start or answer; the message carries its log's tail."""


def signal_name(returncode: int | None) -> str | None:
    """Popen's returncode -11 -> 'SIGSEGV'; None for a normal exit."""
    if returncode is None or returncode >= 0:
        return None
    try:
        return signal.Signals(-returncode).name
    except ValueError:
        return f"signal {-returncode}"


def describe_exit(returncode: int | None) -> str:
    name = signal_name(returncode)
    if name:
        return f"killed by {name}"
    return f"exited with status {returncode}"


def port_is_free(port: int) -> bool:
    """True when nothing listens on the port. HBF binds every interface, so
    check the wildcard address and loopback both."""
    for address in ("", HOST):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            # TIME_WAIT leftovers of our own earlier servers do not make a port busy.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((address, port))
            except OSError as exc:
                if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                    return False
                raise
    return True


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def choose_port(wanted: int, taken: set[int] = frozenset()) -> tuple[int, str | None]:
    """The wanted port when free, else a free one and a sentence saying why.
    Whatever already answers on a busy port is never benchmarked."""
    if wanted not in taken and port_is_free(wanted):
        return wanted, None
    port = free_port()
    while port in taken:
        port = free_port()
    return port, (f"port {wanted} is in use by a process this tool did not start; "
                  f"using free port {port} instead")


@dataclass
class HbfServer:
    """One server process: `role` is "normal" or "dev"."""
    role: str
    command: list[str]  # the binary and any extra leading words (e.g. python3 standin.py)
    port: int
    log_path: Path
    extra_args: list[str] = field(default_factory=list)  # --server-arg values, appended last
    side: str = ""  # "baseline" or "candidate" in a side-by-side run, else ""
    wrapper: list[str] = field(default_factory=list)  # e.g. gdb -batch ... --args
    cpus: frozenset[int] | None = None  # --pin: the CPUs it runs on (every thread), else any
    proc: subprocess.Popen | None = None
    started_at: float = 0.0
    ready_after_s: float | None = None
    # The process whose group was already cleaned up after it exited: its pid
    # may belong to someone else by now, so its group is never signalled again.
    group_cleaned: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def argv(self) -> list[str]:
        flags = ["--port", str(self.port), "--inmem", "--log-level", "error"]
        if self.role == "dev":
            flags.append("--dev")
        return [*self.wrapper, *self.command, *flags, *self.extra_args]

    @property
    def name(self) -> str:
        """How messages call it: "normal", or "baseline dev" side by side."""
        return f"{self.side} {self.role}".strip()

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    # ---- starting -----------------------------------------------------------

    def spawn(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            pinned = f" on CPU {cpu_list(self.cpus)}" if self.cpus else ""
            log.write(f"--- hbf-bench: starting {' '.join(self.argv)}{pinned}\n".encode())
            log.flush()
            try:
                with deferred():  # a Ctrl-C now waits until self.proc holds the pid
                    self.proc = subprocess.Popen(
                        self.argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                        start_new_session=True,  # its own group: our Ctrl-C handling stops it
                        # Pinned in the child before exec, so every thread it starts inherits it.
                        preexec_fn=child_on(self.cpus) if self.cpus else None)
            except (OSError, subprocess.SubprocessError) as exc:
                raise ServerError(f"cannot start {self.command[0]}: "
                                  f"{getattr(exc, 'strerror', None) or exc}") from None
        self.started_at = time.monotonic()
        self.ready_after_s = None

    def check_ready(self) -> bool:
        """One poll: True when /health answers 200. Raises ServerError when the
        process has exited."""
        if self.proc.poll() is not None:
            raise ServerError(f"the {self.name} server {describe_exit(self.proc.returncode)} "
                              f"while starting on port {self.port}; log {self.log_path}:\n"
                              + self.log_tail())
        # Whatever answers must be our process: a server that lost its port
        # to another one is still alive for a moment while the other answers.
        if health_ok(self.port) and listens_in_group(self.port, self.proc.pid):
            self.ready_after_s = time.monotonic() - self.started_at
            return True
        return False

    # ---- watching -----------------------------------------------------------

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def wait_exit(self, timeout: float) -> int | None:
        """Returncode if the process exits within timeout, else None."""
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def log_size(self) -> int:
        try:
            return self.log_path.stat().st_size
        except OSError:
            return 0

    def log_between(self, start: int, end: int | None = None) -> str:
        try:
            with open(self.log_path, "rb") as log:
                log.seek(start)
                data = log.read() if end is None else log.read(max(0, end - start))
        except OSError:
            return ""
        return data.decode("utf-8", "replace")

    def log_tail(self, lines: int = 15) -> str:
        size = self.log_size()
        text = self.log_between(max(0, size - 16384))
        return "\n".join(text.splitlines()[-lines:])

    # ---- stopping -----------------------------------------------------------

    def send(self, sig: int) -> bool:
        """Signal the server's process group; False when it was not running."""
        if self.proc is None or self.proc.poll() is not None:
            return False
        try:
            os.killpg(self.proc.pid, sig)  # our own group (start_new_session)
        except ProcessLookupError:
            return False
        return True

    def signal_taken(self, sig: int) -> bool:
        """False while `sig` still waits, process-wide, for a thread of the
        server to take it (Linux /proc; elsewhere, and once it has exited: True)."""
        try:
            with open(f"/proc/{self.proc.pid}/status") as status:
                for line in status:
                    if line.startswith("ShdPnd:"):
                        return not int(line.split()[1], 16) >> (sig - 1) & 1
        except (OSError, ValueError, IndexError):
            pass
        return True

    def poke(self) -> None:
        """Connect to the server's port and close at once: wakes HBF's
        master thread, so a server told to stop exits now rather than at
        the end of its 2-second poll."""
        try:
            with socket.create_connection((HOST, self.port), timeout=POKE_TIMEOUT_S):
                pass
        except OSError:
            pass

    def reap(self) -> None:
        """SIGKILL the server if it is still running, and whatever it left in its group."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.send(signal.SIGKILL)
            self.proc.wait()
            return
        # The leader is gone; take any child it left in its group with it,
        # once: later, its pid may be another process group's.
        if self.group_cleaned is self.proc:
            return
        self.group_cleaned = self.proc
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def _health_status(host: str, port: int, timeout: float) -> list[bytes] | None:
    """The words of the status line GET /health gets back, or None when
    nothing answers HTTP there. A raw socket rather than http.client: it is
    polled every 20 ms during start-up, and http.client drags in ssl."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as conn:
            conn.sendall(b"GET /health HTTP/1.0\r\nHost: " + host.encode() + b"\r\n\r\n")
            parts = conn.makefile("rb").readline(200).split()
    except OSError:
        return None
    return parts if parts and parts[0].startswith(b"HTTP/") else None


def health_ok(port: int, timeout: float = 1.0, host: str = HOST) -> bool:
    """GET /health answers 200."""
    parts = _health_status(host, port, timeout)
    return parts is not None and len(parts) >= 2 and parts[1] == b"200"


def listening_inodes(port: int) -> set[int] | None:
    """Socket inodes listening on `port` (any address, IPv4 and IPv6), asked
    of the kernel through sock_diag netlink: it returns only listeners, where
    /proc/net/tcp lists every TIME_WAIT left by earlier load (tens of
    thousands of lines, slow to read). None when netlink is unavailable."""
    inodes: set[int] = set()
    try:
        with socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, 4) as nl:  # NETLINK_SOCK_DIAG
            nl.settimeout(1.0)
            for family in (socket.AF_INET, socket.AF_INET6):
                # inet_diag_req_v2: family, protocol, ext, pad, states (1 << TCP_LISTEN), sockid.
                request = struct.pack("=BBBBI", family, socket.IPPROTO_TCP, 0, 0, 1 << 10)
                request += struct.pack(">HH", port, 0) + bytes(32) + struct.pack("=I", 0) + bytes(8)
                # nlmsghdr: length, SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST | NLM_F_DUMP, seq, pid.
                nl.send(struct.pack("=IHHII", 16 + len(request), 20, 0x301, 1, 0) + request)
                done = False
                while not done:
                    data = nl.recv(65536)
                    offset = 0
                    while offset + 16 <= len(data):
                        length, kind = struct.unpack_from("=IH", data, offset)
                        if kind == 3:  # NLMSG_DONE
                            done = True
                            break
                        if kind == 2 or length < 16:  # NLMSG_ERROR
                            return None
                        body = offset + 16
                        local_port = struct.unpack_from(">H", data, body + 4)[0]
                        inode = struct.unpack_from("=I", data, body + 68)[0]
                        if local_port == port:
                            inodes.add(inode)
                        offset += (length + 3) & ~3
    except (OSError, AttributeError, struct.error):
        return None
    return inodes


def _proc_net_inodes(port: int) -> set[int]:
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as rows:
                next(rows, None)
                for row in rows:
                    fields = row.split()
                    if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                        inodes.add(int(fields[9]))
        except OSError:
            continue
    return inodes


def listens_in_group(port: int, pid: int) -> bool:
    """True when process `pid` or one of its descendants (HBF under gdb)
    holds the listening socket of `port`. Without Linux's /proc: True."""
    if not os.path.isdir(f"/proc/{pid}"):
        return True
    inodes = listening_inodes(port)
    if inodes is None:
        inodes = _proc_net_inodes(port)
    if not inodes:
        return False
    wanted = {f"socket:[{inode}]" for inode in inodes}
    family = [pid]
    for member in family:  # grows as children are found
        try:
            with os.scandir(f"/proc/{member}/fd") as fds:  # closed also when we return early
                for fd in fds:
                    try:
                        if os.readlink(fd.path) in wanted:
                            return True
                    except OSError:
                        continue
            for task in os.scandir(f"/proc/{member}/task"):
                with open(f"{task.path}/children") as children:
                    family.extend(int(c) for c in children.read().split())
        except OSError:
            continue
    return False


def start_servers(servers: list[HbfServer], timeout: float) -> None:
    """Spawn every server, then wait for all to be ready, polling them together.
    On any failure every server here is stopped before the error is raised."""
    try:
        for server in servers:
            server.spawn()
        deadline = time.monotonic() + timeout
        waiting = list(servers)
        while waiting:
            waiting = [s for s in waiting if not s.check_ready()]
            if not waiting:
                break
            if time.monotonic() > deadline:
                names = ", ".join(f"{s.name} (port {s.port})" for s in waiting)
                raise ServerError(f"{names} did not answer GET /health with 200 within {timeout:g} s "
                                  "(raise --startup-timeout if the build is slow to start); log tail:\n"
                                  + "\n".join(s.log_tail() for s in waiting))
            time.sleep(READY_POLL_S)
    except BaseException:
        stop_servers(servers, grace=1.0)
        raise


def stop_servers(servers: list[HbfServer], grace: float = STOP_GRACE_S) -> list[tuple[HbfServer, str]]:
    """Stop every server at once: SIGTERM to all, then a connection to each
    one's port (see the module's docstring), then wait for all together,
    poking again now and then; SIGKILL whatever is left after `grace`.
    Returns a sentence for each server that was running and did not exit
    cleanly: killed after the grace, or ended otherwise than with status 0
    (or by the SIGTERM itself, for a program without a handler)."""
    asked = [server for server in servers if server.send(signal.SIGTERM)]
    deadline = time.monotonic() + grace
    taken_by = min(deadline, time.monotonic() + SIGNAL_TAKEN_WAIT_S)
    while not all(server.signal_taken(signal.SIGTERM) for server in asked) and time.monotonic() < taken_by:
        time.sleep(0.001)
    waiting, interval = list(asked), POKE_FIRST_S
    while waiting:
        for server in waiting:
            server.poke()
        until = min(deadline, time.monotonic() + interval)
        waiting = [server for server in waiting
                   if server.wait_exit(max(0.0, until - time.monotonic())) is None]
        if time.monotonic() >= deadline:
            break
        interval = min(2 * interval, POKE_MAX_S)
    unclean = []
    for server in asked:
        if server.proc.poll() is None:  # reap() below kills it
            unclean.append((server, f"the {server.name} server did not exit within {grace:g} s "
                                    "of SIGTERM and was killed (SIGKILL)"))
        elif server.proc.returncode not in (0, -signal.SIGTERM):
            unclean.append((server, f"the {server.name} server {describe_exit(server.proc.returncode)} "
                                    "when asked to stop (SIGTERM)"))
    for server in servers:
        server.reap()
    return unclean


def answers_http(host: str, port: int, timeout: float = 2.0) -> bool:
    """Something at host:port answers an HTTP request (any status): a --url
    is checked with this before anything is stored."""
    return _health_status(host, port, timeout) is not None
