#!/usr/bin/env python3
"""How long does the tool make a user wait beyond ab's own measuring?

overhead = wall time of `benchmark.py --demo` (interpreter start to exit)
           minus the sum of ab's "Time taken for tests" over the stored samples.

Runs alternate between the default warmup and --warmup 0 (warmup requests are
load, but not measurement: the second row shows the tool's own cost alone).
Prints medians of N runs each. Usage: python3 bench/overhead.py [N]
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from lib.server import free_port  # noqa: E402


def one_run(db: Path, extra: list[str], env: dict | None = None) -> tuple[float, float, dict]:
    command = [sys.executable, str(REPO / "benchmark.py"), "--demo", "--requests", "300",
               "--concurrency", "4", "--json", "--db", str(db), "--port", str(free_port()),
               "--dev-port", str(free_port()), *extra]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"run failed ({done.returncode}):\n{done.stderr[-2000:]}")
    report = json.loads(done.stdout)
    measured = sum(s["time_taken"] or 0 for r in report["results"] for s in r["samples"])
    return wall, measured, report


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    # PYTHONDONTWRITEBYTECODE (set in some sandboxes) makes every start
    # recompile each module; a normal install keeps a bytecode cache.
    cached = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    variants = {
        "default warmup": ([], cached),
        "--warmup 0": (["--warmup", "0"], cached),
        "--warmup 0, no .pyc": (["--warmup", "0"], dict(os.environ, PYTHONDONTWRITEBYTECODE="1")),
    }
    walls = {name: [] for name in variants}
    overheads = {name: [] for name in variants}
    with tempfile.TemporaryDirectory() as tmp:
        cached["PYTHONPYCACHEPREFIX"] = str(Path(tmp) / "pycache")
        one_run(Path(tmp) / "prime.db", ["--warmup", "0"], cached)  # fill the bytecode cache
        for index in range(count):
            for name, (extra, env) in variants.items():
                wall, measured, _ = one_run(Path(tmp) / f"r{index}.db", extra, env)
                walls[name].append(wall)
                overheads[name].append(wall - measured)
    print(f"benchmark.py --demo, 7 endpoints x 300 requests, c=4; medians of {count} alternating runs")
    print(f"{'variant':<22} {'wall s':>8} {'overhead s':>11} {'min..max overhead':>20}")
    for name in variants:
        o = overheads[name]
        print(f"{name:<22} {statistics.median(walls[name]):>8.3f} {statistics.median(o):>11.3f} "
              f"{min(o):>9.3f}..{max(o):.3f}")
    print(f"bare interpreter start (python3 -c pass): {bare_start():.3f} s")


def bare_start() -> float:
    times = []
    for _ in range(5):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"])
        times.append(time.perf_counter() - started)
    return statistics.median(times)

if __name__ == "__main__":
    main()
