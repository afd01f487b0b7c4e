"""Why it is slow: `perf script` text to folded stacks, and the figures drawn
from them. Pure functions, standard library only, no I/O.

The way in is ``parse_script`` (the text of ``perf script``, in its default
format or with ``-F comm,tid,time,event,ip,sym,dso``) giving ``Sample``s, each
a header's fields and its ``Frame``s innermost first, with each frame's object
(dso) kept. From there:

* ``fold`` gives folded stacks, ``{"root;...;leaf": samples}``: frames root
  first, only names (the format flamegraph.pl, inferno and speedscope read;
  ``folded_text`` writes it, ``parse_folded`` reads it back);
* ``top`` gives the functions with the most self samples (the innermost frame)
  or total samples (anywhere in the stack, once per sample even when
  recursive), ``us_per_request`` turns samples into CPU microseconds per
  request, ``diff`` compares two profiles per request;
* ``profile`` gives a ``Profile``: the folded stacks plus where the time went
  by the kind of code the innermost frame ran (``kernel``, the ``server``'s own
  binary, a ``library``, ``unknown``), which user-space functions entered the
  kernel, and how well the server's frames were symbolised (``has_symbols``).

Frame names: the symbol without its ``+0x..`` offset; a frame perf could not
name is called after its object's basename in brackets (``[libc.so.6]``), or
``[unknown]`` when the object is unknown too. ``;`` inside a name (never seen
in C or C++ symbols) becomes ``:`` so the folded format stays readable.

A sample is 1/freq seconds of one thread's CPU when perf samples the
cpu-clock event at a fixed frequency (``perf record -F``); ``us_per_request``
rests on that. Threads that live for less than one sampling period (a server
that starts a thread per connection) are under-sampled: each new thread's
clock starts a whole period from firing.
"""
from __future__ import annotations

import json
import math
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable, Mapping, Sequence

UNKNOWN = "[unknown]"
KINDS = ("server", "library", "kernel", "unknown")
KERNEL_OBJECTS = frozenset({"[kernel.kallsyms]", "[vdso]", "[vsyscall]", "[kernel]"})
KERNEL_ONLY = "[kernel only]"  # kernel_callers' key for stacks that never left the kernel
_KERNEL_START = 0xFFFF800000000000  # x86-64 and arm64 kernel addresses are above this

# `comm  tid/pid [cpu] time: [period] event: [rest]`; comm may hold spaces.
_HEADER = re.compile(
    r"^(?P<comm>\S.*?)\s+(?P<pid>-?\d+)(?:/(?P<tid>-?\d+))?\s+(?:\[(?P<cpu>\d+)\]\s+)?"
    r"(?P<time>\d+\.\d+):\s+(?:(?P<period>\d+)\s+)?(?P<event>\S+?):(?:\s+(?P<rest>.*))?$")
_FRAME = re.compile(r"^\s*(?P<address>[0-9a-fA-F]+)\s+(?P<rest>.+?)\s*$")
_OFFSET = re.compile(r"\+0x[0-9a-fA-F]+$")
_HEX = re.compile(r"^(?:0x[0-9a-fA-F]+|(?=[a-fA-F]*[0-9])[0-9a-fA-F]{6,})$")  # an address, not `facade`


@dataclass(frozen=True)
class Frame:
    """One frame of a call stack: its address, symbol (offset stripped;
    ``[unknown]`` when perf had none) and object (dso, ``[kernel.kallsyms]``,
    ``[unknown]``...)."""
    address: str
    symbol: str
    dso: str

    @property
    def resolved(self) -> bool:
        return self.symbol != UNKNOWN and not _HEX.match(self.symbol)

    @property
    def name(self) -> str:
        """The name folded stacks and tables show (see the module's docstring)."""
        if self.resolved:
            return self.symbol.replace(";", ":")
        if not self.dso or self.dso == UNKNOWN:
            return UNKNOWN
        if self.dso.startswith("["):
            return self.dso
        return f"[{os.path.basename(self.dso.split(' (')[0]) or self.dso}]"

    @property
    def in_kernel(self) -> bool:
        if self.dso in KERNEL_OBJECTS or self.dso.startswith("[kernel"):
            return True
        try:
            return int(self.address, 16) >= _KERNEL_START
        except ValueError:
            return False


@dataclass(frozen=True)
class Sample:
    """One sample: the header's fields (``None`` when the format had none)
    and the call stack, innermost frame first."""
    comm: str
    tid: int | None
    time: float | None
    event: str
    frames: tuple[Frame, ...]
    period: int | None = None
    pid: int | None = None


@dataclass(frozen=True)
class FunctionShare:
    """A function's samples and their share (0..1) of all samples."""
    name: str
    samples: int
    share: float


@dataclass(frozen=True)
class FunctionChange:
    """A function's CPU µs per request in the base and the candidate, the
    change (candidate - base), the change in percent (``None`` when the base
    had none) and ``noise_us``: about two standard deviations of the change
    if samples are counted like Poisson events (a change smaller than that is
    probably sampling noise)."""
    name: str
    base_us: float
    cand_us: float
    change_us: float
    change_pct: float | None
    noise_us: float

    @property
    def significant(self) -> bool:
        return abs(self.change_us) > self.noise_us


@dataclass(frozen=True)
class Differential:
    """What ``diff`` finds: the functions whose CPU µs per request changed
    most, by total and by self samples (largest change first, either sign),
    and the whole profile's µs per request on both sides."""
    by_total: list[FunctionChange]
    by_self: list[FunctionChange]
    base_us_per_request: float
    cand_us_per_request: float


@dataclass
class Profile:
    """Folded stacks and where their time went.

    ``self_by_kind``: samples by the kind of the innermost frame's code
    (``KINDS``). ``kinds``: each frame name's kind (the one most seen).
    ``kernel_callers``: for samples in the kernel, the innermost user-space
    frame (what made the system call or took the fault), ``KERNEL_ONLY`` when
    there was none. ``server_frames``/``unresolved_server_frames``: frames in
    the server's objects, and how many of them perf could not name.
    ``threads``: samples per thread name (comm)."""
    folded: dict[str, int]
    samples: int
    self_by_kind: dict[str, int] = field(default_factory=dict)
    kinds: dict[str, str] = field(default_factory=dict)
    kernel_callers: dict[str, int] = field(default_factory=dict)
    server_frames: int = 0
    unresolved_server_frames: int = 0
    threads: dict[str, int] = field(default_factory=dict)

    def kind_share(self, kind: str) -> float:
        """The share (0..1) of samples whose innermost frame is of ``kind``."""
        return self.self_by_kind.get(kind, 0) / self.samples if self.samples else 0.0


# ---------------------------------------------------------------- parsing
def _split_object(rest: str) -> tuple[str, str]:
    """``symbol (object)`` -> (symbol, object): the object is the last
    parenthesised group, its parentheses balanced (``/x.so (deleted)``), so a
    C++ signature's own parentheses stay in the symbol."""
    if not rest.endswith(")"):
        return rest, ""
    depth = 0
    for i in range(len(rest) - 1, -1, -1):
        if rest[i] == ")":
            depth += 1
        elif rest[i] == "(":
            depth -= 1
            if depth == 0:
                if i == 0 or rest[i - 1] == " ":
                    return rest[:i].rstrip(), rest[i + 1:-1]
                return rest, ""
    return rest, ""


def parse_frame(line: str) -> Frame | None:
    """One frame line (``address symbol[+0xoff] (object)``), or None when the
    line is not one."""
    match = _FRAME.match(line)
    if not match:
        return None
    symbol, dso = _split_object(match["rest"])
    symbol = _OFFSET.sub("", symbol).strip() or UNKNOWN
    return Frame(match["address"].lower(), symbol, dso.strip())


def _header(line: str) -> tuple[dict, Frame | None] | None:
    """A header line's fields, and the frame written on it when perf was run
    without call chains; None when the line is no header (a warning)."""
    match = _HEADER.match(line.rstrip())
    if not match:
        return None
    pid, tid = int(match["pid"]), match["tid"]
    fields = {"comm": match["comm"], "pid": pid if tid else None,
              "tid": int(tid) if tid else pid, "time": float(match["time"]),
              "event": match["event"], "period": int(match["period"]) if match["period"] else None}
    rest = (match["rest"] or "").strip()
    return fields, (parse_frame("\t" + rest) if rest else None)


def parse_script(text: str) -> list[Sample]:
    """The samples of ``perf script`` output. Each sample is a header line,
    then its frames one a line (indented, innermost first), then a blank line.
    A header needs its time field (there in the default format and in
    ``-F comm,tid,time,...``). Lines that are neither (perf's warnings,
    srcline lines) are skipped. A header without frames (perf records some
    with an empty call chain) is a sample with no frames: CPU time all the
    same, folded as ``[unknown]``."""
    samples: list[Sample] = []
    current: dict | None = None
    frames: list[Frame] = []
    inline: Frame | None = None

    def close() -> None:
        if current is not None:
            samples.append(Sample(frames=tuple(frames or ([inline] if inline else [])), **current))

    for line in text.splitlines():
        if not line.strip():
            close()
            current, frames, inline = None, [], None
        elif line[0] in " \t":
            if current is not None and (frame := parse_frame(line)):
                frames.append(frame)
        elif (found := _header(line)) is not None:
            close()
            (current, inline), frames = found, []
    close()
    return samples


# ---------------------------------------------------------------- folding
def stack_names(sample: Sample, collapse_unknown: bool = True) -> list[str]:
    """The sample's frame names root first; with ``collapse_unknown`` a run of
    unnamed frames of unknown objects (what a broken frame-pointer walk
    leaves) is one ``[unknown]`` frame."""
    names: list[str] = []
    for frame in reversed(sample.frames):
        name = frame.name
        if collapse_unknown and name == UNKNOWN and names and names[-1] == UNKNOWN:
            continue
        names.append(name)
    return names or [UNKNOWN]


def fold(samples: Iterable[Sample], comm: bool = False,
         collapse_unknown: bool = True) -> Counter:
    """Folded stacks: ``Counter({"root;...;leaf": samples})``. ``comm`` puts
    the thread's name first, as the root frame (what stackcollapse-perf.pl
    does; the flame graph then splits by thread, but the name counts as a
    function in ``top``)."""
    folded: Counter = Counter()
    for sample in samples:
        names = stack_names(sample, collapse_unknown)
        if comm:
            names.insert(0, sample.comm.replace(";", ":") or UNKNOWN)
        folded[";".join(names)] += 1
    return folded


def folded_text(folded: Mapping[str, int]) -> str:
    """The folded format: one ``stack count`` line per stack, sorted."""
    return "".join(f"{stack} {count}\n" for stack, count in sorted(folded.items()) if count > 0)


def parse_folded(text: str) -> Counter:
    """Folded text back to ``Counter({stack: count})`` (a stack seen twice is
    summed). Raises ValueError naming the first line that is not
    ``stack count``."""
    folded: Counter = Counter()
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        stack, _, count = line.rstrip().rpartition(" ")
        if not stack or not count.isdigit():
            raise ValueError(f"folded stacks, line {number}: not 'stack count': {line[:200]!r}")
        folded[stack] += int(count)
    return folded


# ---------------------------------------------------------------- figures
def function_samples(folded: Mapping[str, int]) -> tuple[Counter, Counter]:
    """(self, total) samples per function name: self counts the innermost
    frame, total every function in the stack once per sample."""
    self_: Counter = Counter()
    total: Counter = Counter()
    for stack, count in folded.items():
        names = stack.split(";")
        self_[names[-1]] += count
        for name in set(names):
            total[name] += count
    return self_, total


def top(folded: Mapping[str, int], n: int = 10, by: str = "self") -> list[FunctionShare]:
    """The ``n`` functions with the most ``self`` or ``total`` samples, most
    first (ties by name), each with its share of all samples."""
    if by not in ("self", "total"):
        raise ValueError(f"top: by must be 'self' or 'total', not {by!r}")
    self_, total = function_samples(folded)
    counts = self_ if by == "self" else total
    whole = sum(folded.values())
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:max(n, 0)]
    return [FunctionShare(name, count, count / whole if whole else 0.0) for name, count in ranked]


def function_share(folded: Mapping[str, int], name: str, by: str = "total") -> float:
    """The share (0..1) of samples with ``name`` anywhere in the stack
    (``total``) or as the innermost frame (``self``)."""
    whole = sum(folded.values())
    if not whole:
        return 0.0
    self_, total = function_samples(folded)
    return (total if by == "total" else self_)[name] / whole


def us_per_request(samples: float, freq_hz: float, requests: int) -> float:
    """CPU microseconds per request: samples / freq / requests * 1e6."""
    if freq_hz <= 0 or requests <= 0:
        raise ValueError(f"us_per_request: freq_hz ({freq_hz}) and requests ({requests}) must be > 0")
    return samples / freq_hz / requests * 1e6


def _changes(base: Counter, base_requests: int, cand: Counter, cand_requests: int,
             base_hz: float, cand_hz: float, n: int) -> list[FunctionChange]:
    changes = []
    for name in set(base) | set(cand):
        b = us_per_request(base[name], base_hz, base_requests)
        c = us_per_request(cand[name], cand_hz, cand_requests)
        if b == c:
            continue
        noise = 2e6 * math.sqrt(base[name] / (base_hz * base_requests) ** 2
                                + cand[name] / (cand_hz * cand_requests) ** 2)
        changes.append(FunctionChange(name, b, c, c - b, (c - b) / b * 100 if b else None, noise))
    changes.sort(key=lambda change: (-abs(change.change_us), change.name))
    return changes[:max(n, 0)]


def diff(base_folded: Mapping[str, int], base_requests: int, cand_folded: Mapping[str, int],
         cand_requests: int, freq_hz: float, n: int = 10,
         cand_freq_hz: float | None = None) -> Differential:
    """The functions whose CPU µs per request grew or shrank most from the
    base to the candidate, by total and by self samples (``n`` of each,
    largest change first, either sign). ``cand_freq_hz`` when the candidate
    was sampled at another frequency."""
    cand_hz = cand_freq_hz or freq_hz
    base_self, base_total = function_samples(base_folded)
    cand_self, cand_total = function_samples(cand_folded)
    return Differential(
        by_total=_changes(base_total, base_requests, cand_total, cand_requests, freq_hz, cand_hz, n),
        by_self=_changes(base_self, base_requests, cand_self, cand_requests, freq_hz, cand_hz, n),
        base_us_per_request=us_per_request(sum(base_folded.values()), freq_hz, base_requests),
        cand_us_per_request=us_per_request(sum(cand_folded.values()), cand_hz, cand_requests))


# ---------------------------------------------------------------- where the time went
def _is_server(dso: str, server: Sequence[str]) -> bool:
    base = os.path.basename(dso)
    return any(dso == s or base == os.path.basename(s) for s in server)


def frame_kind(frame: Frame, server: str | Sequence[str]) -> str:
    """``kernel`` (the kernel and its vdso), ``server`` (one of the server's
    own objects: a path or basename, or several, e.g. the python binary and
    libpython for the stand-in), ``library`` (any other object), ``unknown``
    (perf knew no object)."""
    servers = (server,) if isinstance(server, str) else tuple(server)
    if frame.in_kernel:
        return "kernel"
    if not frame.dso or frame.dso == UNKNOWN:
        return "unknown"
    return "server" if _is_server(frame.dso, servers) else "library"


def profile(samples: Sequence[Sample], server: str | Sequence[str], comm: bool = False,
            collapse_unknown: bool = True) -> Profile:
    """The folded stacks of ``samples`` and where their time went (see
    ``Profile``); ``server`` as for ``frame_kind``."""
    servers = (server,) if isinstance(server, str) else tuple(server)
    by_kind: Counter = Counter({kind: 0 for kind in KINDS})
    kinds_seen: dict[str, Counter] = {}
    callers: Counter = Counter()
    threads: Counter = Counter()
    server_frames = unresolved = 0
    for sample in samples:
        threads[sample.comm] += 1
        kinds = [frame_kind(frame, servers) for frame in sample.frames]
        by_kind[kinds[0] if kinds else "unknown"] += 1
        for frame, kind in zip(sample.frames, kinds):
            kinds_seen.setdefault(frame.name, Counter())[kind] += 1
            if kind == "server":
                server_frames += 1
                unresolved += not frame.resolved
        if kinds and kinds[0] == "kernel":
            user = next((f for f, k in zip(sample.frames, kinds) if k != "kernel"), None)
            callers[user.name if user else KERNEL_ONLY] += 1
    return Profile(
        folded=dict(fold(samples, comm, collapse_unknown)), samples=len(samples),
        self_by_kind=dict(by_kind),
        kinds={name: seen.most_common(1)[0][0] for name, seen in kinds_seen.items()},
        kernel_callers=dict(callers), server_frames=server_frames,
        unresolved_server_frames=unresolved, threads=dict(threads))


def kind_shares(prof: Profile) -> dict[str, float]:
    """Each kind's share (0..1) of the samples, by the innermost frame."""
    return {kind: prof.kind_share(kind) for kind in KINDS}


def has_symbols(prof: Profile, threshold: float = 0.5) -> bool:
    """False when the server's own code cannot be read: no frame in its
    objects, or more than ``threshold`` of them unnamed (a stripped binary:
    suggest ``--build-mode dbg`` or an unstripped build)."""
    if not prof.server_frames:
        return False
    return prof.unresolved_server_frames / prof.server_frames <= threshold


def guess_server(samples: Iterable[Sample]) -> str | None:
    """The object most of the user-space frames ran in that is not a shared
    library (no ``.so`` in its name, not ``[...]``): the program's own binary,
    when the caller does not know its path. None when there is none."""
    objects: Counter = Counter()
    for sample in samples:
        for frame in sample.frames:
            dso = frame.dso
            if dso and not dso.startswith("[") and not frame.in_kernel \
                    and ".so" not in os.path.basename(dso):
                objects[dso] += 1
    return objects.most_common(1)[0][0] if objects else None


# ---------------------------------------------------------------- stored form
def stored_profile(script_text: str, *, server: str | Sequence[str], frequency: int, requests: int,
                   requests_per_sec: float | None) -> dict:
    """What the database keeps of one profiled sample (db.PROFILE_COLUMNS but
    the result and perf's version): the folded text, and the figures a report
    shows without unfolding it (samples, where the time went, symbols)."""
    prof = profile(parse_script(script_text), server)
    callers = sorted(prof.kernel_callers.items(), key=lambda item: (-item[1], item[0]))[:5]
    return {"samples": prof.samples, "frequency": frequency, "requests": requests,
            "requests_per_sec": requests_per_sec, "has_symbols": int(has_symbols(prof)),
            "kinds": json.dumps({"shares": {k: round(v, 4) for k, v in kind_shares(prof).items()},
                                 "kernel_callers": dict(callers), "frame_kinds": prof.kinds}),
            "folded": folded_text(prof.folded)}
