#!/usr/bin/env python3
"""How long does the tool make a user wait beyond ab's own measuring?

overhead = wall time of `benchmark.py --demo` (interpreter start to exit)
           minus the sum of ab's "Time taken for tests" over the stored samples.

Runs alternate between the default warmup and --warmup 0 (warmup requests are
load, but not measurement: the second row shows the tool's own cost alone).
Prints medians of N runs each. Usage: python3 bench/overhead.py [N]
"""
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from lib.server import free_port  # noqa: E402


def one_run(db: Path, extra: list[str]) -> tuple[float, float, dict]:
    command = [sys.executable, str(REPO / "benchmark.py"), "--demo", "--requests", "300",
               "--concurrency", "4", "--json", "--db", str(db), "--port", str(free_port()),
               "--dev-port", str(free_port()), *extra]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"run failed ({done.returncode}):\n{done.stderr[-2000:]}")
    report = json.loads(done.stdout)
    measured = sum(s["time_taken"] or 0 for r in report["results"] for s in r["samples"])
    return wall, measured, report


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    variants = {"default warmup": [], "--warmup 0": ["--warmup", "0"]}
    walls = {name: [] for name in variants}
    overheads = {name: [] for name in variants}
    with tempfile.TemporaryDirectory() as tmp:
        for index in range(count):
            for name, extra in variants.items():
                wall, measured, _ = one_run(Path(tmp) / f"r{index}.db", extra)
                walls[name].append(wall)
                overheads[name].append(wall - measured)
    print(f"benchmark.py --demo, 7 endpoints x 300 requests, c=4; medians of {count} alternating runs")
    print(f"{'variant':<16} {'wall s':>8} {'overhead s':>11} {'min..max overhead':>20}")
    for name in variants:
        o = overheads[name]
        print(f"{name:<16} {statistics.median(walls[name]):>8.3f} {statistics.median(o):>11.3f} "
              f"{min(o):>9.3f}..{max(o):.3f}")


if __name__ == "__main__":
    main()
