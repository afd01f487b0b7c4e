#!/usr/bin/env python3
"""How fast does show_results.py answer on a big history?

Builds a database of 10,000 runs x 7 endpoints (through lib/db.py's own
create_run/add_result, one sample per result like a real --repeat 1 run,
with level shifts, failures, crashes and hostile notes), then times each view
as a user runs it (a fresh `python3 show_results.py ...` process) against the
bare start of the interpreter (`python3 -c pass`), alternating: each round
runs every command once, each right after a bare start. It prints the medians
and the median of the paired differences (the cost beyond the interpreter):

    python3 bench/history_speed.py                 # build in a temp dir, 21 rounds
    python3 bench/history_speed.py --db /tmp/h.db  # keep (and reuse) the database
    python3 bench/history_speed.py --rounds 31

Budgets (issue #5): list, compare, trend of one endpoint and their --json at
most 50 ms beyond the bare interpreter; the HTML page of the last 200 runs at
most 300 ms beyond it. Exit 1 when a budget is missed.

Two settings are measured, each against its own bare interpreter:
- "bytecode cache" (judged): Python's default, lib/ compiled once and loaded
  from .pyc files (kept in a temp dir via PYTHONPYCACHEPREFIX, so the
  checkout is not touched);
- "no bytecode cache" (for information; judged too with --judge-uncached):
  PYTHONDONTWRITEBYTECODE=1, as set on some CI machines and in the sandbox this
  was written in: every lib module is compiled from source on every start,
  ~10 ms per 500 lines on a slow machine.
"""
from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))

from lib.db import open_db  # noqa: E402

SHOW = REPO / "show_results.py"
ENDPOINTS = (
    # category, endpoint, method, path, server, req/s, p99 ms
    ("static", "/static/style.css", "GET", "/static/style.css", "normal", 5200.0, 4.1),
    ("static", "/static/favicon.ico", "GET", "/static/favicon.ico", "normal", 5600.0, 3.8),
    ("runtime", "/hello", "GET", "/hello", "normal", 2100.0, 9.5),
    ("runtime", "/user/42", "GET", "/user/42", "normal", 1950.0, 10.2),
    ("runtime", "/echo", "GET", "/echo", "normal", 2050.0, 9.9),
    ("fs_read", "GET /__dev/api/files", "GET", "/__dev/api/files", "dev", 22.0, 610.0),
    ("fs_write", "PUT /__dev/api/file?name=static/bench.txt", "PUT", "/__dev/api/file?name=static/bench.txt",
     "dev", 480.0, 40.0),
)
NOTES = ("", "", "", "nightly", "after the cache fix", "try -O3", "'; DROP TABLE benchmark_runs; --",
         "line one\nline two", "<script>alert(1)</script> & \"quotes\"", "ünïcödé ✓ 速度")
BUDGET_MS = {"html": 300.0}
DEFAULT_BUDGET_MS = 50.0


def generate(path: Path, runs: int, *, seed: int = 5, shifts=None, failure_rate: float = 0.004,
             start: float | None = None) -> Path:
    """A results database with `runs` runs of the seven endpoints. `shifts`:
    {endpoint: [(fraction of the history, factor)]} level shifts of req/s."""
    rng = random.Random(seed)
    shifts = shifts if shifts is not None else {
        "/hello": [(0.35, 1.18)], "/user/42": [(0.35, 1.15)],
        "GET /__dev/api/files": [(0.6, 0.82)], "/static/style.css": [(0.8, 0.9), (0.9, 1.12)],
    }
    db = open_db(path)
    db.conn.execute("PRAGMA synchronous=OFF")  # a generator, not a benchmark run
    t0 = start if start is not None else time.time() - runs * 3600
    commits = [f"{rng.getrandbits(28):07x}" for _ in range(max(1, runs // 3))]
    for i in range(runs):
        frac = i / max(1, runs - 1)
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t0 + i * 3600))
        mode = "dbg" if rng.random() < 0.03 else "opt"
        run_id = db.create_run({
            "timestamp": stamp, "git_commit": commits[i * len(commits) // runs],
            "git_branch": "master" if rng.random() < 0.9 else "feature/cache",
            "build_mode": mode, "notes": rng.choice(NOTES), "status": "running", "pod": "test",
            "suite": "hbf-test-pod", "requests": 1000, "concurrency": "10", "repeat": 1,
            "warmup": 10, "engine": "ab", "engine_version": "2.3", "target": "bazel-bin/bin/hbf_test",
            "environment": '{"hostname": "bench", "cpu_model": "synthetic", "cpu_count": 8}'})
        problems = 0
        for category, endpoint, method, upath, server, rps0, p99_0 in ENDPOINTS:
            factor = 1.0
            for at, mult in shifts.get(endpoint, ()):
                if frac >= at:
                    factor *= mult
            if mode == "dbg":
                factor *= 0.4
            rps = rps0 * factor * rng.gauss(1.0, 0.02)
            p99 = p99_0 / factor * rng.gauss(1.0, 0.05)
            row = {"category": category, "endpoint": endpoint, "requests": 1000, "concurrency": 10,
                   "method": method, "path": upath, "server": server, "engine": "ab",
                   "engine_version": "2.3", "warmup_requests": 10, "sample_count": 1}
            if rng.random() < failure_rate:
                problems += 1
                crashed = rng.random() < 0.5
                row.update(status="crashed" if crashed else "failed", complete_requests=rng.randint(1, 900),
                           error="server died during the run" if crashed else "412 non-2xx answers",
                           crash_signal="SIGSEGV" if crashed else None, failed_requests=0,
                           non_2xx=0 if crashed else 412)
                db.add_result(run_id, row)
                continue
            sample = {"time_taken": 1000 / rps, "requests_per_sec": round(rps, 2),
                      "time_per_request": round(10_000 / rps, 3), "transfer_rate": round(rps * 0.3, 2),
                      "complete_requests": 1000, "failed_requests": 0, "non_2xx": 0,
                      "p50_ms": round(p99 * 0.45, 3), "p90_ms": round(p99 * 0.7, 3),
                      "p95_ms": round(p99 * 0.8, 3), "p99_ms": round(p99, 3), "max_ms": round(p99 * 1.3, 3),
                      "server_cpu_us_per_req": round(480 / factor * rng.gauss(1, 0.02), 1),
                      "client_cpu_pct": 35.0, "client_bound": 0}
            row.update(status="ok", complete_requests=1000, non_2xx=0, failed_requests=0,
                       time_taken=round(sample["time_taken"], 3), requests_per_sec=sample["requests_per_sec"],
                       time_per_request=sample["time_per_request"], transfer_rate=sample["transfer_rate"],
                       p50_ms=sample["p50_ms"], p90_ms=sample["p90_ms"], p95_ms=sample["p95_ms"],
                       p99_ms=sample["p99_ms"], max_ms=sample["max_ms"], rps_min=sample["requests_per_sec"],
                       rps_max=sample["requests_per_sec"],
                       server_cpu_us_per_req=sample["server_cpu_us_per_req"], client_cpu_pct=35.0,
                       client_bound=0, percentiles_source="csv")
            db.add_result(run_id, row, [sample])
        db.update_run(run_id, status="partial" if problems else "complete", exit_code=1 if problems else 0,
                      duration_s=60.0)
    db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    return path


def timed(command: list[str], env: dict, cwd: Path) -> float:
    t = time.perf_counter()
    done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=cwd)
    elapsed = (time.perf_counter() - t) * 1000
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} exited {done.returncode}: {done.stderr.decode()[-500:]}")
    return elapsed


def cases(db: Path, workspace: Path, out: Path) -> list[tuple[str, list[str], Path]]:
    py = sys.executable
    show = [py, str(SHOW)]
    return [
        ("bare: python3 -c pass", [py, "-c", "pass"], REPO),
        ("list", show + ["--db", str(db)], REPO),
        ("list --json", show + ["--db", str(db), "--json"], REPO),
        ("list (default db, workspace walk)", show, workspace),
        ("compare previous latest", show + ["--db", str(db), "--compare", "previous", "latest"], REPO),
        ("compare --json", show + ["--db", str(db), "--compare", "previous", "latest", "--json"], REPO),
        ("trend /hello", show + ["--db", str(db), "--trend", "/hello"], REPO),
        ("trend /hello --json", show + ["--db", str(db), "--trend", "/hello", "--json"], REPO),
        ("trend hello (substring)", show + ["--db", str(db), "--trend", "hello"], REPO),
        ("trend all", show + ["--db", str(db), "--trend", "all"], REPO),
        ("run latest", show + ["--db", str(db), "--run", "latest"], REPO),
        ("html (last 200 runs)", show + ["--db", str(db), "--html", str(out)], REPO),
    ]


def budget(name: str) -> float | None:
    if name.startswith("bare"):
        return None
    if name.startswith("html"):
        return BUDGET_MS["html"]
    if name.startswith(("trend all", "run latest")):
        return None  # not in the budget; shown for information
    return DEFAULT_BUDGET_MS


def measure(commands, env: dict, rounds: int) -> tuple[dict[str, float], dict[str, float]]:
    """(median ms, median paired delta ms) per command. Each round runs every
    command once, each right after a bare interpreter start, and the delta is
    taken within that pair, so drift in the machine's load cancels out."""
    bare_name, bare, _ = commands[0]
    times: dict[str, list[float]] = {name: [] for name, _, _ in commands}
    deltas: dict[str, list[float]] = {name: [] for name, _, _ in commands}
    for name, command, cwd in commands:  # warm the page cache (and the bytecode cache) once
        timed(command, env, cwd)
    for _ in range(rounds):
        for name, command, cwd in commands[1:]:
            base = timed(bare, env, REPO)
            value = timed(command, env, cwd)
            times[bare_name].append(base)
            times[name].append(value)
            deltas[name].append(value - base)
    return ({name: statistics.median(v) for name, v in times.items()},
            {name: statistics.median(v) for name, v in deltas.items() if v})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", help="database to use; generated there when missing")
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=21)
    parser.add_argument("--judge-uncached", action="store_true",
                        help="fail on the budgets without a bytecode cache too")
    args = parser.parse_args()

    temp = Path(tempfile.mkdtemp(prefix="history-speed-"))
    try:
        db = Path(args.db) if args.db else temp / "results.db"
        if not db.exists():
            t = time.perf_counter()
            generate(db, args.runs)
            print(f"generated {db}: {args.runs:,} runs x {len(ENDPOINTS)} endpoints in "
                  f"{time.perf_counter() - t:.1f} s", file=sys.stderr)
        workspace = temp / "hbf"
        (workspace / ".benchmark").mkdir(parents=True)
        (workspace / "MODULE.bazel").write_text('module(name = "hbf", version = "0.1")\n')
        os.symlink(db.resolve(), workspace / ".benchmark" / "results.db")
        commands = cases(db, workspace, temp / "page.html")

        cached = dict(os.environ)
        cached.pop("PYTHONDONTWRITEBYTECODE", None)
        cached["PYTHONPYCACHEPREFIX"] = str(temp / "pycache")
        uncached = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
        settings = [("bytecode cache", cached, True), ("no bytecode cache", uncached, args.judge_uncached)]

        failed = False
        medians, deltas = {}, {}
        for label, env, _ in settings:
            medians[label], deltas[label] = measure(commands, env, args.rounds)
        bare_name = commands[0][0]
        print(f"show_results.py on {db} ({args.runs:,} runs x {len(ENDPOINTS)} endpoints), medians of "
              f"{args.rounds} rounds; Δ = median of (command - the bare start run just before it)\n")
        print("| command | " + " | ".join(f"{label} ms | Δ ms" for label, _, _ in settings) + " | budget Δ |")
        print("|---|" + "---:|---:|" * len(settings) + "---:|")
        for name, _, _ in commands:
            cells = []
            limit = budget(name)
            for label, _, judged in settings:
                value = medians[label][name]
                delta = deltas[label].get(name, 0.0)
                mark = ""
                if limit is not None and delta > limit:
                    mark = " ✗" if judged else " (over)"
                    failed = failed or judged
                cells.append(f"{value:.1f} | {'–' if name == bare_name else f'{delta:+.1f}{mark}'}")
            print(f"| {name} | " + " | ".join(cells) + f" | {'–' if limit is None else f'{limit:.0f}'} |")
        print("\n" + ("FAIL: a budget was missed (✗)" if failed else
                      "all budgets met" + ("" if args.judge_uncached else " (judged with a bytecode cache)")))
        return 1 if failed else 0
    finally:
        shutil.rmtree(temp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
