"""A process's CPU time and memory, read from /proc (Linux; None elsewhere)."""
from __future__ import annotations

import os
from dataclasses import dataclass

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@dataclass(frozen=True)
class ProcSnapshot:
    cpu_s: float  # user + system time so far
    rss_kb: int  # resident set size now
    hwm_kb: int  # peak resident set size so far (VmHWM)


def snapshot(pid: int | None) -> ProcSnapshot | None:
    if pid is None:
        return None
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read().decode()
        with open(f"/proc/{pid}/status", "rb") as f:
            status = f.read().decode()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after its last ')'.
    fields = stat[stat.rindex(")") + 2:].split()
    utime, stime = int(fields[11]), int(fields[12])
    memory = {}
    for line in status.splitlines():
        if line.startswith(("VmRSS:", "VmHWM:")):
            key, value = line.split(":", 1)
            memory[key] = int(value.split()[0])
    if "VmRSS" not in memory:
        return None  # a zombie: it died and has not been reaped yet
    return ProcSnapshot((utime + stime) / _TICKS, memory["VmRSS"], memory.get("VmHWM", 0))


def cpu_us_per_request(before: ProcSnapshot | None, after: ProcSnapshot | None,
                       requests: int) -> float | None:
    if before is None or after is None or requests <= 0:
        return None
    # Rounded here, where it is made: CPU time comes in clock ticks, so more
    # digits than a tenth of a microsecond are float noise (149.99999999999986).
    return round((after.cpu_s - before.cpu_s) * 1e6 / requests, 1)
