"""Crash triage: re-run a crashed endpoint against a fresh server under gdb
and keep the backtrace of the crashing thread (plus every thread's, which is
cheap once gdb has stopped the process)."""
from __future__ import annotations

import shutil
from dataclasses import dataclass, replace

from lib.load import engines
from lib.core.console import say
from lib.server import HbfServer, ServerError, choose_port, health_ok, start_servers, stop_servers
from lib.core.text import slug

GDB_STARTUP_TIMEOUT_S = 60.0  # gdb loads symbols before the server starts
GDB_EXIT_TIMEOUT_S = 30.0  # after the crash: print backtraces, then exit

# Why a crashed endpoint has, or lacks, a backtrace (the backtrace_status
# column): an agent told "run again with --backtrace if it is empty" must be
# able to tell "not asked" from "asked, and the crash did not recur".
CAPTURED = "captured"
NOT_REQUESTED = "not requested"  # the run had no --backtrace
NOT_REPRODUCED = "not reproduced"  # the re-run under gdb did not crash
GDB_MISSING = "gdb missing"
GDB_FAILED = "gdb failed"  # the server would not start under gdb


@dataclass
class Capture:
    status: str  # one of the statuses above
    backtrace: str | None = None
    port: int | None = None  # where the server under gdb listened


def status_text(status: str | None, port: int | None) -> str | None:
    """Why a crashed endpoint has no backtrace, and what to do, in one line."""
    where = f" (gdb's server listened on port {port})" if port else ""
    return {
        NOT_REQUESTED: "no backtrace: the run had no --backtrace; run it again with --backtrace",
        NOT_REPRODUCED: f"no backtrace: the crash did not happen again under gdb{where}; it may depend "
                        "on timing: run again, or with more --requests",
        GDB_MISSING: "no backtrace: gdb is not installed (apt-get install gdb), then run again with --backtrace",
        GDB_FAILED: f"no backtrace: the server would not start under gdb{where}; see its -gdb.log",
    }.get(status)


def gdb_wrapper(gdb: str) -> list[str]:
    return [gdb, "-batch", "-nx",
            "-ex", "set pagination off",
            "-ex", "set confirm off",
            # HBF answers many clients that hang up: SIGPIPE is normal there.
            "-ex", "handle SIGPIPE nostop noprint pass",
            "-ex", "run",
            "-ex", "echo \\n--- hbf-bench: backtrace of the crashing thread\\n",
            "-ex", "bt",
            "-ex", "echo \\n--- hbf-bench: all threads\\n",
            "-ex", "thread apply all bt",
            "-ex", "kill",
            "--args"]


def capture_for(plan, slot, endpoint, requests: int, concurrency: int, run_id: int) -> Capture:
    """gdb's backtrace text (also written next to the logs) when the crash
    recurs under gdb; otherwise why not, also said on stderr."""
    gdb = shutil.which("gdb")
    if gdb is None:
        say("--backtrace: gdb is not installed (apt-get install gdb); keeping going without a backtrace")
        return Capture(GDB_MISSING)
    template = slot.server
    name = slug(endpoint.name)
    port, _ = choose_port(template.port + 1000 if template.port < 64000 else template.port)
    server = replace(template, port=port, proc=None, wrapper=gdb_wrapper(gdb),
                     log_path=plan.log_dir / f"run{run_id}-{name}-gdb.log")
    say(f"--backtrace: re-running {endpoint.name} against a {slot.name} server under gdb "
        f"on port {port} (log {server.log_path})")
    try:
        start_servers([server], GDB_STARTUP_TIMEOUT_S)
    except ServerError as exc:
        say(f"--backtrace: the server would not start under gdb: {str(exc).splitlines()[0]}")
        return Capture(GDB_FAILED, port=port)
    try:
        warmup = plan.warmup if plan.warmup is not None else 0
        for load in filter(None, (warmup, requests)):
            engines.run(plan.engine, server.url + endpoint.path, endpoint, requests=load,
                        concurrency=min(concurrency, load), timeout_s=plan.request_timeout,
                        keepalive=plan.keepalive)
            if server.wait_exit(0.5) is not None or not _inferior_alive(server):
                break
        if not _inferior_alive(server):
            # gdb prints the backtraces once the inferior stops, then exits on its own.
            server.wait_exit(GDB_EXIT_TIMEOUT_S)
    finally:
        stop_servers([server], grace=2.0)
    text = server.log_between(0)
    marker = text.find("--- hbf-bench: backtrace of the crashing thread")
    if marker < 0 or "received signal" not in text:
        say(f"--backtrace: the crash did not happen again under gdb on port {port} "
            f"(timing-dependent?); see {server.log_path}")
        return Capture(NOT_REPRODUCED, port=port)
    start = text.rfind("\n", 0, text.find("received signal")) + 1
    backtrace = text[start:].strip()
    out_file = plan.log_dir / f"run{run_id}-{name}-backtrace.txt"
    out_file.write_text(backtrace + "\n", encoding="utf-8")
    say(f"--backtrace: stored; full text in {out_file}")
    return Capture(CAPTURED, backtrace, port)


def _inferior_alive(server: HbfServer) -> bool:
    """gdb stays alive after the inferior crashes; /health tells if HBF still answers."""
    return health_ok(server.port, timeout=0.5)
