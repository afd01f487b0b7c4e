"""Which cores each side gets, and what else the machine did during a sample.

--pin puts the servers on one set of the CPUs this process may use and the
load generator on the others (on a 2-core machine the two otherwise fight
for the same cores). `split` chooses the sets (pure), `for_run` asks the
system, `child_on` is the hook that pins a child before it execs (so every
thread it starts inherits the set: sched_setaffinity on a running pid moves
its main thread only), `running_on` pins this process's own thread, which
starts ab and wrk and runs the built-in Python engine itself.

Each sample also records, from /proc/stat over the CPUs the run uses, the
share of CPU time the hypervisor stole (`steal_pct`) and the share the
servers and the load generator did not use but something else did
(`other_busy_pct`): `parse_stat` and `sample_figures` are pure,
`snapshot` reads. Whether those figures spoiled a result is
lib/machine/disturbance.py's to say.
"""
from __future__ import annotations

import os
import resource
from contextlib import contextmanager
from dataclasses import dataclass

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

# /proc/stat counts in clock ticks (10 ms), and the server's and the load
# generator's CPU times are cut to ticks too: a few ticks either way. Below
# this many ticks of the CPUs' time (0.25 s on 2 CPUs) a sample is too short
# for its shares to mean anything at the 5% these notes care about.
MIN_TICKS = 50


@dataclass(frozen=True)
class Pinning:
    """The CPUs of the servers and of the load generator (disjoint)."""
    server: frozenset[int]
    load: frozenset[int]

    @property
    def cpus(self) -> frozenset[int]:
        return self.server | self.load

    def describe(self) -> str:
        """What the run stores in `pinned`: "server 0 / load 1"."""
        return f"server {cpu_list(self.server)} / load {cpu_list(self.load)}"


def cpu_list(cpus) -> str:
    """{0, 1, 2, 5} -> "0-2,5", the kernel's list format (Cpus_allowed_list)."""
    ordered, parts = sorted(cpus), []
    start = previous = None
    for cpu in ordered + [None]:
        if previous is not None and cpu == previous + 1:
            previous = cpu
            continue
        if start is not None:
            parts.append(str(start) if start == previous else f"{start}-{previous}")
        start = previous = cpu
    return ",".join(parts)


def parse_cpu_list(text: str) -> frozenset[int]:
    """"0-2,5" -> {0, 1, 2, 5}."""
    cpus: set[int] = set()
    for part in text.strip().split(","):
        if not part:
            continue
        low, _, high = part.partition("-")
        cpus.update(range(int(low), int(high or low) + 1))
    return frozenset(cpus)


def split(allowed, cores=None) -> Pinning | None:
    """Servers on the first half of the allowed CPUs (the larger half when
    odd: the server is what is measured), the load generator on the rest.
    `cores` groups CPUs that share a physical core (SMT siblings): when there
    are two cores or more, each side gets whole cores, so the two never share
    one core's pipelines. None with fewer than two CPUs: nothing to split."""
    allowed = sorted(set(allowed))
    if len(allowed) < 2:
        return None
    groups = [sorted(set(group) & set(allowed)) for group in cores or []]
    groups = sorted({tuple(group) for group in groups if group})
    covered = {cpu for group in groups for cpu in group}
    groups += [(cpu,) for cpu in allowed if cpu not in covered]
    groups.sort()
    if len(groups) < 2:  # one core with several threads: split its threads
        groups = [(cpu,) for cpu in allowed]
    half = (len(groups) + 1) // 2
    return Pinning(frozenset(cpu for group in groups[:half] for cpu in group),
                   frozenset(cpu for group in groups[half:] for cpu in group))


def core_groups(allowed) -> list[frozenset[int]]:
    """The allowed CPUs grouped by physical core, from sysfs (Linux); a CPU
    whose topology cannot be read is a core of its own."""
    groups = []
    for cpu in sorted(allowed):
        try:
            with open(f"/sys/devices/system/cpu/cpu{cpu}/topology/thread_siblings_list") as f:
                groups.append(parse_cpu_list(f.read()))
        except (OSError, ValueError):
            groups.append(frozenset({cpu}))
    return groups


def for_run() -> tuple[Pinning | None, str]:
    """The pinning for this run and the sentence saying what went where (or
    why nothing was pinned)."""
    try:
        allowed = os.sched_getaffinity(0)
    except (AttributeError, OSError):
        return None, "--pin: this system does not let a process choose its CPUs; measuring unpinned"
    pin = split(allowed, core_groups(allowed))
    if pin is None:
        return None, (f"--pin: only one CPU ({cpu_list(allowed)}) is available to this process, "
                      "so the servers and the load generator cannot be kept apart; measuring unpinned")
    return pin, (f"pinned: the servers on CPU {cpu_list(pin.server)}, the load generator (and this "
                 f"process, which starts it) on CPU {cpu_list(pin.load)}")


def child_on(cpus):
    """A Popen preexec_fn that moves the child to `cpus` before it execs:
    every thread the program starts inherits the set."""
    wanted = frozenset(cpus)

    def pin() -> None:
        os.sched_setaffinity(0, wanted)
    return pin


@contextmanager
def running_on(cpus):
    """This thread on `cpus` (None: unchanged) for the block, then back. ab and
    wrk started meanwhile inherit the set; the built-in Python engine runs
    in this thread."""
    if not cpus:
        yield
        return
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, cpus)
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


# ---- /proc/stat --------------------------------------------------------------

@dataclass(frozen=True)
class CpuTimes:
    """Clock ticks summed over some CPUs since boot."""
    total: int  # user nice system idle iowait irq softirq steal (guest is inside user)
    idle: int  # idle + iowait
    steal: int

    @property
    def busy(self) -> int:
        return self.total - self.idle - self.steal


def parse_stat(text: str, cpus=None) -> CpuTimes | None:
    """Sum the `cpuN` lines of /proc/stat for N in `cpus` (None: the machine's
    `cpu` line). None when none of them is there."""
    total = idle = steal = 0
    found = False
    for line in text.splitlines():
        if not line.startswith("cpu"):
            continue
        name, *fields = line.split()
        if cpus is None:
            wanted = name == "cpu"
        else:
            wanted = name[3:].isdigit() and int(name[3:]) in cpus
        if not wanted:
            continue
        values = [int(v) for v in fields[:8]] + [0] * (8 - len(fields[:8]))
        total += sum(values)
        idle += values[3] + values[4]
        steal += values[7]
        found = True
    return CpuTimes(total, idle, steal) if found else None


@dataclass(frozen=True)
class MachineSnapshot:
    times: CpuTimes | None  # None: no /proc/stat
    own_cpu_s: float  # this process and its reaped children (ab, wrk), user + system


def own_cpu_s() -> float:
    """CPU time of this process (the Python engine runs in it) and of its
    children that have been waited for (each ab or wrk run)."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


def snapshot(cpus) -> MachineSnapshot:
    try:
        with open("/proc/stat") as f:
            times = parse_stat(f.read(), cpus)
    except OSError:
        times = None
    return MachineSnapshot(times, own_cpu_s())


def sample_figures(before: MachineSnapshot, after: MachineSnapshot,
                   server_cpu_s: float | None) -> dict:
    """steal_pct: the share of the CPUs' time during the sample that the
    hypervisor stole. other_busy_pct: the share that was busy but not with
    the server (`server_cpu_s`, its CPU time during the sample) nor with this
    process and its load generator; None when the server's CPU time is
    unknown (a --url server, or one that died). Both None for a sample
    shorter than MIN_TICKS."""
    out = {"steal_pct": None, "other_busy_pct": None}
    if before.times is None or after.times is None:
        return out
    total = after.times.total - before.times.total
    if total < MIN_TICKS:
        return out
    out["steal_pct"] = round(100.0 * (after.times.steal - before.times.steal) / total, 1)
    if server_cpu_s is not None:
        busy_s = (after.times.busy - before.times.busy) / _TICKS
        ours = server_cpu_s + (after.own_cpu_s - before.own_cpu_s)
        out["other_busy_pct"] = round(max(0.0, 100.0 * (busy_s - ours) / (total / _TICKS)), 1)
    return out
