#!/usr/bin/env python3
"""How fast do show_results.py's views (and benchmark.py's --help) answer on a big history?

Two shapes of a history of 10,000 runs x 7 endpoints:
- current: written through lib/db.py's own create_run/add_result, one sample
  per result like a real --repeat 1 run, with level shifts, failures, crashes
  and hostile notes;
- legacy: as the old bash tool wrote it (schema version 0: its two tables and
  three indexes, read from tests/fixtures/legacy-results.db, plain INSERTs),
  with timestamps not in id order and dates that repeat (clocks are set
  back, files are merged), which show_results.py reads as it is: the file is
  made read-only while the views run and must come out byte for byte the
  same. benchmark.py upgrades it on disk; that upgrade is timed too.

Each command is timed as a user runs it (a fresh process) against the bare
start of the interpreter (`python3 -c pass`), alternating: each round runs
every command once, each right after a bare start. It prints the medians and
the median of the paired differences (Δ: the cost beyond the interpreter):

    python3 bench/history_speed.py                 # both shapes, built in a temp dir, 11 rounds
    python3 bench/history_speed.py --shapes legacy
    python3 bench/history_speed.py --db /tmp/h.db --legacy-db /tmp/l.db  # keep (and reuse) them
    python3 bench/history_speed.py --repo /tmp/old-clone   # time another checkout's scripts

Two settings, each against its own bare interpreter, both judged:
- "bytecode cache": Python's default, lib/ compiled once and loaded from .pyc
  files (kept in a temp dir via PYTHONPYCACHEPREFIX: the checkout is not
  touched);
- "no bytecode cache": PYTHONDONTWRITEBYTECODE=1 with an empty cache folder,
  as in a fresh clone on a CI machine or a container: every lib module a
  command imports is compiled from source on every start.

Budgets (issue #20), on both shapes and both settings: every view (list,
compare, trend of one endpoint and of all, one run's report, with and
without --json) and benchmark.py --help and --list-endpoints at most 50 ms
beyond the bare interpreter; the HTML page of the last 200 runs at most
200 ms beyond it; the legacy file unchanged and its on-disk upgrade at most
2 s. Exit 1 when a budget is missed.

A third shape, legacy-noindex (`--shapes legacy-noindex`, for information):
a bash-tool file whose indexes were dropped, which is read from an in-memory
copy given them.
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
BUDGET_MS = {"html": 200.0}
DEFAULT_BUDGET_MS = 50.0
UPGRADE_BUDGET_S = 2.0
LEGACY_FIXTURE = REPO / "tests" / "fixtures" / "legacy-results.db"
SHAPES = ("current", "legacy", "legacy-noindex")
# Level shifts of req/s: {endpoint: [(fraction of the history, factor)]}.
SHIFTS = {"/hello": [(0.35, 1.18)], "/user/42": [(0.35, 1.15)],
          "GET /__dev/api/files": [(0.6, 0.82)], "/static/style.css": [(0.8, 0.9), (0.9, 1.12)]}


def generate(path: Path, runs: int, *, seed: int = 5, shifts=None, failure_rate: float = 0.004,
             start: float | None = None) -> Path:
    """A results database with `runs` runs of the seven endpoints. `shifts`:
    {endpoint: [(fraction of the history, factor)]} level shifts of req/s."""
    rng = random.Random(seed)
    shifts = shifts if shifts is not None else SHIFTS
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


def generate_legacy(path: Path, runs: int, *, seed: int = 5, indexes: bool = True) -> Path:
    """A database as the bash tool wrote it: its tables and indexes (the
    fixture's own CREATE statements), `runs` runs of the seven endpoints,
    1000 requests at c=10, with the same level shifts and build modes as
    generate(); no failures (the bash tool stored none)."""
    import sqlite3
    rng = random.Random(seed)
    source = sqlite3.connect(LEGACY_FIXTURE.resolve().as_uri() + "?mode=ro", uri=True)
    schema = source.execute("SELECT type, sql FROM sqlite_master WHERE sql IS NOT NULL"
                            " AND name NOT LIKE 'sqlite_%' ORDER BY type = 'index'").fetchall()
    source.close()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA synchronous=OFF")  # a generator, not a benchmark run
    for kind, sql in schema:
        if kind == "table" or indexes:
            conn.execute(sql)
    commits = [f"{rng.getrandbits(28):07x}" for _ in range(max(1, runs // 3))]
    stamps = legacy_timestamps(runs, rng)
    for i in range(runs):
        frac = i / max(1, runs - 1)
        mode = "dbg" if rng.random() < 0.03 else "opt"
        run_id = conn.execute(
            "INSERT INTO benchmark_runs (timestamp, git_commit, git_branch, build_mode, notes) VALUES (?, ?, ?, ?, ?)",
            (stamps[i], commits[i * len(commits) // runs],
             "master" if rng.random() < 0.9 else "feature/cache", mode, rng.choice(NOTES))).lastrowid
        rows = []
        for category, endpoint, _, _, _, rps0, _ in ENDPOINTS:
            factor = 0.4 if mode == "dbg" else 1.0
            for at, mult in SHIFTS.get(endpoint, ()):
                factor *= mult if frac >= at else 1.0
            rps = rps0 * factor * rng.gauss(1.0, 0.02)
            rows.append((run_id, category, endpoint, 1000, 10, round(1000 / rps, 3), round(rps, 2),
                         round(10_000 / rps, 3), round(rps * 0.3, 2), 0))
        conn.executemany(
            "INSERT INTO benchmark_results (run_id, category, endpoint, requests, concurrency, time_taken,"
            " requests_per_sec, time_per_request, transfer_rate, failed_requests) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows)
    conn.commit()
    conn.close()
    return path


def legacy_timestamps(runs: int, rng: random.Random) -> list[str]:
    """One timestamp per run, hourly, but as real bash-tool files have them:
    one in ten set back up to three days (a clock put back, two files
    merged), so they are not in id order, and one in twenty the same second
    as the run before (two runs in one second, or a copied row)."""
    t0 = time.time() - runs * 3600
    stamps: list[str] = []
    for i in range(runs):
        when = t0 + i * 3600 - (rng.randint(1, 72) * 3600 if rng.random() < 0.1 else 0)
        text = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(when))
        stamps.append(stamps[-1] if stamps and rng.random() < 0.05 else text)
    return stamps


def upgrade_seconds(legacy: Path, temp: Path, tries: int = 3) -> float:
    """Median time of benchmark.py's on-disk upgrade of a copy of `legacy`
    (open_db for writing: the byte-for-byte backup, then the upgrade)."""
    times = []
    for number in range(tries):
        folder = temp / f"upgrade-{number}"
        folder.mkdir()
        copy = folder / "results.db"
        shutil.copy2(legacy, copy)
        t = time.perf_counter()
        open_db(copy).close()
        times.append(time.perf_counter() - t)
        shutil.rmtree(folder)
    return statistics.median(times)


def fingerprint(path: Path) -> tuple:
    stat = path.stat()
    return path.read_bytes(), stat.st_mtime_ns, stat.st_size


def timed(command: list[str], env: dict, cwd: Path) -> float:
    t = time.perf_counter()
    done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=cwd)
    elapsed = (time.perf_counter() - t) * 1000
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} exited {done.returncode}: {done.stderr.decode()[-500:]}")
    return elapsed


def cases(db: Path, workspace: Path, out: Path, repo: Path) -> list[tuple[str, list[str], Path]]:
    py = sys.executable
    show = [py, str(repo / "show_results.py")]
    benchmark = [py, str(repo / "benchmark.py")]
    return [
        ("bare: python3 -c pass", [py, "-c", "pass"], REPO),
        ("benchmark.py --help", benchmark + ["--help"], REPO),
        ("benchmark.py --list-endpoints", benchmark + ["--list-endpoints"], REPO),
        ("list", show + ["--db", str(db)], REPO),
        ("list --json", show + ["--db", str(db), "--json"], REPO),
        ("list (default db, workspace walk)", show, workspace),
        ("compare previous latest", show + ["--db", str(db), "--compare", "previous", "latest"], REPO),
        ("compare --json", show + ["--db", str(db), "--compare", "previous", "latest", "--json"], REPO),
        ("trend /hello", show + ["--db", str(db), "--trend", "/hello"], REPO),
        ("trend /hello --json", show + ["--db", str(db), "--trend", "/hello", "--json"], REPO),
        ("trend hello (substring)", show + ["--db", str(db), "--trend", "hello"], REPO),
        ("trend all", show + ["--db", str(db), "--trend", "all"], REPO),
        ("trend all --json", show + ["--db", str(db), "--trend", "all", "--json"], REPO),
        ("run latest", show + ["--db", str(db), "--run", "latest"], REPO),
        ("run latest --json", show + ["--db", str(db), "--run", "latest", "--json"], REPO),
        ("html (last 200 runs)", show + ["--db", str(db), "--html", str(out)], REPO),
    ]


def budget(name: str) -> float | None:
    if name.startswith("bare"):
        return None
    if name.startswith("html"):
        return BUDGET_MS["html"]
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
    parser.add_argument("--db", help="current-shape database to use; generated there when missing")
    parser.add_argument("--legacy-db", help="legacy-shape database to use; generated there when missing")
    parser.add_argument("--shapes", default="current,legacy",
                        help=f"comma-separated, of {', '.join(SHAPES)} (default: current,legacy)")
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=11)
    parser.add_argument("--repo", type=Path, default=REPO,
                        help="the checkout whose show_results.py and benchmark.py are timed (default: this one)")
    args = parser.parse_args()
    shapes = [name.strip() for name in args.shapes.split(",") if name.strip()]
    if not shapes or set(shapes) - set(SHAPES):
        parser.error(f"--shapes takes {', '.join(SHAPES)}")

    temp = Path(tempfile.mkdtemp(prefix="history-speed-"))
    try:
        cached = dict(os.environ)
        cached.pop("PYTHONDONTWRITEBYTECODE", None)
        cached.pop("PYTHONPYCACHEPREFIX", None)
        uncached = dict(cached, PYTHONDONTWRITEBYTECODE="1")
        # Each setting times its own fresh copy of the scripts: a __pycache__
        # in the checkout (left by the tests) would hide the compile cost, and
        # the cached setting's would leak into the other. The standard
        # library keeps its own .pyc files either way, as on any machine.
        settings = [("bytecode cache", cached, fresh_copy(args.repo, temp / "scripts-cached")),
                    ("no bytecode cache", uncached, fresh_copy(args.repo, temp / "scripts-uncached"))]
        failed = False
        for shape in shapes:
            db = prepare(shape, args, temp)
            failed |= report_shape(shape, db, args, settings, temp)
        print("\n" + ("FAIL: a budget was missed (✗)" if failed else "all budgets met"))
        return 1 if failed else 0
    finally:
        shutil.rmtree(temp, ignore_errors=True)


def fresh_copy(repo: Path, where: Path) -> Path:
    """The scripts, lib/ and suites/ of a checkout, as a fresh clone has them: no __pycache__."""
    where.mkdir(parents=True)
    for name in ("benchmark.py", "show_results.py"):
        shutil.copy2(repo / name, where / name)
    for name in ("lib", "suites"):
        shutil.copytree(repo / name, where / name, ignore=shutil.ignore_patterns("__pycache__"))
    return where


def prepare(shape: str, args, temp: Path) -> Path:
    """The database of a shape: the one given (generated there when missing) or a new one in temp."""
    given = args.db if shape == "current" else args.legacy_db if shape == "legacy" else None
    db = Path(given) if given else temp / shape / "results.db"
    if not db.exists():
        db.parent.mkdir(parents=True, exist_ok=True)
        t = time.perf_counter()
        if shape == "current":
            generate(db, args.runs)
        else:
            generate_legacy(db, args.runs, indexes=shape == "legacy")
        print(f"generated {db} ({shape}): {args.runs:,} runs x {len(ENDPOINTS)} endpoints in "
              f"{time.perf_counter() - t:.1f} s", file=sys.stderr)
    return db


def report_shape(shape: str, db: Path, args, settings, temp: Path) -> bool:
    """Time every view on one shape and print its table; True when a judged budget was missed."""
    workspace = temp / f"hbf-{shape}"
    (workspace / ".benchmark").mkdir(parents=True)
    (workspace / "MODULE.bazel").write_text('module(name = "hbf", version = "0.1")\n')
    os.symlink(db.resolve(), workspace / ".benchmark" / "results.db")
    before = fingerprint(db) if shape != "current" else None
    medians, deltas = {}, {}
    mode = db.stat().st_mode
    if before is not None:
        db.chmod(0o444)  # a bash-tool file is read as it is: the views must not need to write it
    try:
        for label, env, scripts in settings:
            commands = cases(db, workspace, temp / "page.html", scripts)
            medians[label], deltas[label] = measure(commands, env, args.rounds)
    finally:
        db.chmod(mode)
    failed = False
    bare_name = commands[0][0]
    print(f"\n## {shape}: show_results.py on {db} ({args.runs:,} runs x {len(ENDPOINTS)} endpoints), "
          f"medians of {args.rounds} rounds; Δ = median of (command - the bare start run just before it)\n")
    print(f"scripts timed: {args.repo.resolve()}\n")
    print("| command | " + " | ".join(f"{label} ms | Δ ms" for label, _, _ in settings) + " | budget Δ |")
    print("|---|" + "---:|---:|" * len(settings) + "---:|")
    for name, _, _ in commands:
        cells = []
        limit = budget(name)
        for label, _, _ in settings:
            judged = shape != "legacy-noindex"  # for information
            value = medians[label][name]
            delta = deltas[label].get(name, 0.0)
            mark = ""
            if limit is not None and delta > limit:
                mark = " ✗" if judged else " (over)"
                failed = failed or judged
            cells.append(f"{value:.1f} | {'–' if name == bare_name else f'{delta:+.1f}{mark}'}")
        print(f"| {name} | " + " | ".join(cells) + f" | {'–' if limit is None else f'{limit:.0f}'} |")
    if before is not None:
        unchanged = fingerprint(db) == before
        print(f"\nthe {shape} file after every view: {'unchanged' if unchanged else 'CHANGED ✗'}")
        failed = failed or not unchanged
    if shape == "legacy":
        seconds = upgrade_seconds(db, temp)
        over = seconds > UPGRADE_BUDGET_S
        print(f"on-disk upgrade by benchmark.py (open_db for writing: backup copy + upgrade), median of 3: "
              f"{seconds:.2f} s (budget {UPGRADE_BUDGET_S:.0f} s){' ✗' if over else ''}")
        failed = failed or over
    return failed


if __name__ == "__main__":
    sys.exit(main())
