"""Whether what else the machine did during a sample (its `steal_pct` and
`other_busy_pct`, measured by lib/machine/cpus.py) may have spoiled a result:
`worst` picks the highest figures over some results' samples, and
`disturbance_note` is the one wording of "this may have spoiled the
figures" that every view shows. Apart from cpus.py because every view needs
it and none needs the pinning and /proc/stat reading there.
"""
from __future__ import annotations

# When a figure is worth a note beside the verdicts it may have spoiled.
# Steal: a verdict needs a change of --threshold (5%) by default; a sample that
# lost that much of its CPU time to the hypervisor can make one by itself.
STEAL_NOTE_PCT = 5.0
# Other load: on a 2-core machine the server and the load generator each need
# about a core; something else keeping a quarter of the CPUs busy takes half
# a core from one of them, far more than the 5% a verdict calls.
OTHER_BUSY_NOTE_PCT = 25.0


def worst(rows) -> tuple[float | None, float | None]:
    """The highest steal_pct and other_busy_pct over the samples of these
    result rows (a row without samples counts with its own figures)."""
    steal, other = [], []
    for row in rows:
        for sample in row.get("samples") or [row]:
            if sample.get("steal_pct") is not None:
                steal.append(sample["steal_pct"])
            if sample.get("other_busy_pct") is not None:
                other.append(sample["other_busy_pct"])
    return (max(steal) if steal else None), (max(other) if other else None)


def disturbance_note(steal_pct: float | None, other_busy_pct: float | None) -> str | None:
    """The one sentence every view shows when a sample's machine was disturbed
    enough to spoil its figures (the thresholds above); None otherwise."""
    parts = []
    if steal_pct is not None and steal_pct >= STEAL_NOTE_PCT:
        parts.append(f"the hypervisor stole {steal_pct:.0f}% of the CPU time")
    if other_busy_pct is not None and other_busy_pct >= OTHER_BUSY_NOTE_PCT:
        parts.append(f"other processes kept {other_busy_pct:.0f}% of the CPUs busy")
    if not parts:
        return None
    return ("machine disturbed: during a sample " + " and ".join(parts)
            + "; these figures may be spoiled: measure again on a quieter machine")
