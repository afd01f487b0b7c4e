"""A run's profiles (--profile) as every view shows them: per endpoint the
top functions by self time and by time including callees (share of samples
and CPU µs per request), where the time went (kernel, the server's own code,
libraries), what perf cost the profiled sample, and for a side-by-side run
the functions whose CPU per request grew or shrank most against the other
side. Reads the stored profiles, computes with lib/explain/stacks.py; the report,
show_results.py --profile and the HTML page render from here.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from lib.core.text import cell, num, result_key, safe, table

# lib.explain.stacks (the folding and its figures) is imported where a
# profile is read or computed: most runs have none, and every report of one
# imports this module.

TOP = 10
CHANGES = 5


@dataclass
class EndpointProfile:
    key: str
    endpoint: str
    samples: int
    frequency: int
    requests: int
    perf_version: str | None
    folded: dict[str, int]
    top_self: list[stacks.FunctionShare]
    top_total: list[stacks.FunctionShare]
    shares: dict[str, float]  # kernel / server / library / unknown, by the innermost frame
    kernel_callers: dict[str, int]
    frame_kinds: dict[str, str]
    has_symbols: bool
    profiled_rps: float | None
    measured_rps: float | None
    changes: stacks.Differential | None = None  # side by side: against the other side's profile
    against_run: int | None = None
    against_folded: dict[str, int] | None = None  # the other side's stacks (the differential graph)
    against_requests: int = 0

    def us(self, samples: int) -> float:
        """CPU µs per request of so many samples."""
        from lib.explain import stacks
        return stacks.us_per_request(samples, self.frequency, self.requests) if self.requests else 0.0

    @property
    def perf_cost_pct(self) -> float | None:
        """How much slower the profiled sample was than the measured ones."""
        if not self.profiled_rps or not self.measured_rps:
            return None
        return (self.profiled_rps / self.measured_rps - 1) * 100


def gather(db, rows: list[dict], other_run_id: int | None, several: bool) -> dict[str, EndpointProfile]:
    """The run's profiles (`rows`, as db.profiles returns them) by result key
    (text.result_key with `several`, as the run's results and comparison are
    keyed); with `other_run_id` (the other side of a side-by-side run) each
    also holds what changed against it."""
    out = {result_key(row, several): _profile(row, result_key(row, several)) for row in rows}
    if other_run_id is not None and out:
        from lib.explain import stacks
        others = {result_key(row, several): row for row in db.profiles(other_run_id)}
        for key, prof in out.items():
            base = others.get(key)
            if base and base["samples"] and prof.samples and base["requests"]:
                prof.against_folded = dict(stacks.parse_folded(base["folded"]))
                prof.against_requests = base["requests"]
                prof.changes = stacks.diff(prof.against_folded, base["requests"], prof.folded,
                                           prof.requests, base["frequency"], n=CHANGES,
                                           cand_freq_hz=prof.frequency)
                prof.against_run = other_run_id
    return out


def _profile(row: dict, key: str) -> EndpointProfile:
    from lib.explain import stacks
    folded = dict(stacks.parse_folded(row["folded"])) if row["folded"] else {}
    kinds = json.loads(row["kinds"]) if row.get("kinds") else {}
    return EndpointProfile(
        key=key, endpoint=row["endpoint"], samples=row["samples"], frequency=row["frequency"],
        requests=row["requests"] or 0, perf_version=row.get("perf_version"), folded=folded,
        top_self=stacks.top(folded, TOP, by="self"), top_total=stacks.top(folded, TOP, by="total"),
        shares=kinds.get("shares", {}), kernel_callers=kinds.get("kernel_callers", {}),
        frame_kinds=kinds.get("frame_kinds", {}), has_symbols=bool(row.get("has_symbols")),
        profiled_rps=row.get("requests_per_sec"), measured_rps=row.get("measured_rps"))


# ---- JSON ---------------------------------------------------------------------

def to_json(profiles: dict[str, EndpointProfile]) -> dict:
    return {key: _json(prof) for key, prof in profiles.items()}


def _json(prof: EndpointProfile) -> dict:
    def shares(items):
        return [{"function": f.name, "samples": f.samples, "share": round(f.share, 4),
                 "us_per_request": round(prof.us(f.samples), 1)} for f in items]
    out = {
        "endpoint": prof.endpoint, "samples": prof.samples, "frequency": prof.frequency,
        "requests": prof.requests, "perf_version": prof.perf_version,
        "cpu_us_per_request": round(prof.us(prof.samples), 1),
        "profiled_requests_per_sec": prof.profiled_rps, "measured_requests_per_sec": prof.measured_rps,
        "perf_cost_pct": None if prof.perf_cost_pct is None else round(prof.perf_cost_pct, 1),
        "shares": prof.shares, "kernel_entered_from": prof.kernel_callers, "has_symbols": prof.has_symbols,
        "top_self": shares(prof.top_self), "top_total": shares(prof.top_total), "changes": None,
    }
    if prof.changes is not None:
        out["changes"] = {
            "against_run_id": prof.against_run,
            "cpu_us_per_request": [round(prof.changes.base_us_per_request, 1),
                                   round(prof.changes.cand_us_per_request, 1)],
            "by_total": [_change_json(c) for c in prof.changes.by_total],
            "by_self": [_change_json(c) for c in prof.changes.by_self]}
    return out


def _change_json(change: stacks.FunctionChange) -> dict:
    return {"function": change.name, "baseline_us": round(change.base_us, 1),
            "candidate_us": round(change.cand_us, 1), "change_us": round(change.change_us, 1),
            "significant": change.significant}


# ---- Markdown -------------------------------------------------------------------

def markdown(profiles: dict[str, EndpointProfile], verdicts: dict | None = None) -> list[str]:
    """The report's "Profiles" section; `verdicts` (key -> req/s verdict text)
    puts what changed beside the verdict it explains."""
    if not profiles:
        return []
    out = ["## Profiles (perf, one extra sample per endpoint)", ""]
    for key, prof in profiles.items():
        out += _endpoint_lines(prof, (verdicts or {}).get(key))
    return out


def _endpoint_lines(prof: EndpointProfile, verdict: str | None) -> list[str]:
    shares = ", ".join(f"{kind} {share * 100:.0f}%" for kind, share in prof.shares.items() if share)
    cost = prof.perf_cost_pct
    out = [f"### {safe(prof.key)}: {prof.samples} samples at {prof.frequency} Hz over {prof.requests} "
           f"requests, {num(prof.us(prof.samples), 0)} µs CPU per request", "",
           f"Where the time went (innermost frame): {shares or 'no samples'}."
           + (f" The profiled sample ran at {num(prof.profiled_rps)} req/s, {abs(cost):.0f}% "
              + ("slower than the measured median (perf's own cost)." if cost < 0 else
                 "faster than the measured median: perf's own cost was below the samples' spread.")
              if cost is not None else "")]
    if prof.kernel_callers:
        out.append("The kernel was entered from: " + ", ".join(
            f"`{_code(name)}` {count}" for name, count in list(prof.kernel_callers.items())[:5]) + ".")
    if not prof.has_symbols:
        out.append("The server's own frames have no names (a stripped binary?): to see its functions, "
                   "profile an unstripped build of the same commit, or `--build-mode dbg` (which "
                   "measures a slower build).")
    if prof.samples == 0:
        return out + ["", "No samples: the sample was too short for perf; raise --requests.", ""]
    out.append("")
    rows = []
    for rank in range(max(len(prof.top_self), len(prof.top_total))):
        row = [str(rank + 1)]
        for items in (prof.top_self, prof.top_total):
            item = items[rank] if rank < len(items) else None
            row += (["", "", ""] if item is None else
                    [f"`{_code(item.name, 60)}`", f"{item.share * 100:.1f}%", num(prof.us(item.samples), 1)])
        rows.append(row)
    out += table(["#", "self: function", "share", "µs/req", "with callees: function", "share", "µs/req"],
                 rows, right={0, 2, 3, 5, 6})
    out.append("")
    if prof.changes is not None:
        out += _change_lines(prof, verdict)
    return out


def _change_lines(prof: EndpointProfile, verdict: str | None) -> list[str]:
    changes = prof.changes
    head = (f"Against run {prof.against_run}: CPU per request {num(changes.base_us_per_request, 0)} → "
            f"{num(changes.cand_us_per_request, 0)} µs" + (f"; req/s {safe(verdict)}" if verdict else ""))
    lines = [head + ". Grew or shrank most (with callees, µs per request, baseline → this run):"]
    for change in changes.by_total:
        mark = "" if change.significant else " (within sampling noise)"
        lines.append(f"- `{_code(change.name, 80)}` {change.change_us:+.1f} µs/request "
                     f"({change.base_us:.1f} → {change.cand_us:.1f}){mark}")
    return lines + [""]


def headline_changes(prof: EndpointProfile, count: int = 2) -> str:
    """"`sqlite3VdbeExec` +80 µs/request" for a verdict line: the largest
    significant changes by self time (where the time is really spent)."""
    if prof.changes is None:
        return ""
    picked = [c for c in prof.changes.by_self if c.significant][:count]
    return ", ".join(f"`{_code(c.name, 60)}` {c.change_us:+.0f} µs/request" for c in picked)


def _code(text: str, width: int | None = None) -> str:
    """A frame name inside a code span: escaped, shortened, unable to close it."""
    shown = cell(text, width) if width else safe(text)
    return shown.replace("`", "'")


def folded_text(profiles: dict[str, EndpointProfile]) -> str:
    """The folded stacks (flamegraph.pl, inferno, speedscope) of one profile."""
    (prof,) = profiles.values()
    from lib.explain import stacks
    return stacks.folded_text(prof.folded)
