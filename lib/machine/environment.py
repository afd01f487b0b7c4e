"""Where a run was measured: machine, load and tool versions, so comparisons
across different environments can say so."""
from __future__ import annotations

import os

# platform and socket are imported where used: show_results imports this
# module for differences() alone, on every --compare.

# Keys whose difference makes two runs not directly comparable.
COMPARABLE_KEYS = ("hostname", "cpu_model", "cpu_count", "engine", "engine_version")


def cpu_model() -> str:
    import platform
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def describe(engine: str, engine_version: str | None) -> dict:
    import platform
    import socket
    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = None
    return {
        "hostname": socket.gethostname(),
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "load_average": load,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "engine": engine,
        "engine_version": engine_version,
    }


def differences(a: dict | None, b: dict | None) -> list[str]:
    """Human lines naming what differs between two environments."""
    if not a or not b:
        return []
    return [f"{key}: {a.get(key)} vs {b.get(key)}" for key in COMPARABLE_KEYS
            if a.get(key) != b.get(key)]


def of_run(run: dict) -> dict | None:
    """A run row's stored environment, parsed (None when absent or not JSON)."""
    import json
    try:
        return json.loads(run["environment"]) if run.get("environment") else None
    except ValueError:
        return None
