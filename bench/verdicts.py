#!/usr/bin/env python3
"""Do the verdicts tell noise from a real slowdown? A/A and A/B on the stand-in.

- A/A: the same stand-in measured as baseline and candidate. Any endpoint
  called `regressed` or `improved` makes that pair wrong. Target: 0 of 10.
- A/B: the candidate stand-in spends extra CPU on every request
  (`--work-us`, what a slower code path in HBF looks like), chosen to cost
  about 20% of its throughput. A pair counts as caught when every endpoint
  is called `regressed`. Target: at least 9 of 10.

Three ways to take a pair, each its own pair of rows:
- side by side, --repeat 5: one benchmark.py --side-by-side run; baseline
  and candidate samples alternate on fresh servers, a paired t-test on the
  pairs' ratios + the 5% threshold.
- one run after the other, --repeat 5: a baseline run, then a candidate run
  with --baseline <it>; Mann-Whitney + 5% + 3x the run-to-run noise of 8
  earlier runs in the database (as a developer's history would hold).
- one run after the other, --repeat 1: judged against the same history.

Usage: python3 bench/verdicts.py [--pairs 10] [--requests 1000] [--concurrency 10] [--only PATTERN ...]
(about 20 minutes with the defaults on a 2-core machine)
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from lib.server import free_port  # noqa: E402

PLAIN = ["--baseline-server-arg="]  # side by side: the baseline without --work-us


def bench(db: Path, *extra: str) -> dict:
    command = [sys.executable, str(REPO / "benchmark.py"), "--demo", "--json", "--db", str(db),
               "--port", str(free_port()), "--dev-port", str(free_port()), *extra]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode not in (0, 1):
        sys.exit(f"benchmark.py failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return json.loads(done.stdout)


def verdicts(report: dict) -> list[str]:
    """Each endpoint's req/s verdict."""
    return [c["verdict"] for c in (report["comparison"] or {}).values()]


def any_call(report: dict) -> bool:
    """Any endpoint and metric (req/s, p50, p99, CPU) called regressed or improved."""
    return bool((report["comparison_summary"] or {}).get("calls"))


def slowdown_pct(report: dict) -> float:
    """Median throughput loss over the endpoints of a side-by-side run."""
    return -statistics.median(c["change_pct"] for c in report["comparison"].values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=10)
    # benchmark.py's own defaults: what a developer's verdicts rest on.
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--only", action="append", default=None)
    parser.add_argument("--slowdown", type=float, default=20.0, help="target throughput loss, percent")
    parser.add_argument("--repeat", type=int, default=5,
                        help="samples per run in the side and sequential5 rows (default: 5)")
    parser.add_argument("--ways", default="side,sequential5,sequential1",
                        help="which rows to take (comma-separated: side, sequential5, sequential1)")
    args = parser.parse_args()
    only = args.only or ["/hello", "/static/style.css", "PUT*"]
    ways = args.ways.split(",")
    load = ["--requests", str(args.requests), "--concurrency", str(args.concurrency),
            *[x for pattern in only for x in ("--only", pattern)]]
    started = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        # Calibrate side by side: the CPU per request that costs about
        # --slowdown percent of req/s. The cost is close to linear in the
        # work but each measurement is noisy (±5%), so five points are pooled.
        plain = bench(tmp / "calibrate.db", *load, "--repeat", "3")
        cpu_us = statistics.median(r["server_cpu_us_per_req"] for r in plain["results"])
        work_us = cpu_us * (1 / (1 - args.slowdown / 100) - 1)
        points = []
        for _ in range(5):
            cost = slowdown_pct(bench(tmp / "calibrate.db", *load, "--repeat", "3", *PLAIN,
                                      f"--server-arg=--work-us={work_us:.0f}"))
            points.append((work_us, cost))
            print(f"calibration: +{work_us:.0f} µs CPU/request costs {cost:.1f}% of req/s "
                  f"(server CPU {cpu_us:.0f} µs/request)", flush=True)
            per_us = sum(c for _, c in points) / sum(w for w, _ in points)
            work_us = args.slowdown / max(per_us, 1e-3)
        slow = [f"--server-arg=--work-us={work_us:.0f}"]

        # History: 8 baseline runs per sample count, never a slowed one; each
        # sequential pair starts from a copy, as a developer's database would.
        histories = {}
        for way, repeat in (("sequential5", args.repeat), ("sequential1", 1)):
            if way in ways:
                histories[way] = tmp / f"history-{way}.db"
                for _ in range(8):
                    bench(histories[way], *load, "--repeat", str(repeat))

        rows = []
        for way in ways:
            repeat = args.repeat if way in ("side", "sequential5") else 1
            for kind in ("A/A", "A/B"):
                # A/A counts any call on any metric as wrong; A/B counts only
                # req/s `regressed` on every endpoint as caught.
                calls = ("regressed", "improved") if kind == "A/A" else ("regressed",)
                wrong = caught = undecided = 0
                by_endpoint = {}  # endpoint -> its comparison entries, one per pair
                for pair in range(args.pairs):
                    db = tmp / f"pair-{way}-{kind.replace('/', '')}-{pair}.db"
                    if way == "side":
                        candidate = bench(db, *load, "--repeat", str(repeat), "--side-by-side",
                                          *(slow + PLAIN if kind == "A/B" else []))
                    else:
                        shutil.copy(histories[way], db)
                        base = bench(db, *load, "--repeat", str(repeat))
                        candidate = bench(db, *load, "--repeat", str(repeat), "--baseline",
                                          str(base["run_id"]), *(slow if kind == "A/B" else []))
                    found = verdicts(candidate)
                    for endpoint, c in (candidate["comparison"] or {}).items():
                        by_endpoint.setdefault(endpoint, []).append(c)
                    if kind == "A/A" and any_call(candidate):
                        wrong += 1
                    if kind == "A/B" and found and all(v in calls for v in found):
                        caught += 1
                    if "insufficient data" in found:
                        undecided += 1
                changes = [c["change_pct"] for entries in by_endpoint.values() for c in entries]
                spread = (min(changes), statistics.median(changes), max(changes))
                if way == "side" and kind == "A/B":
                    cost = -spread[1]
                endpoints = ", ".join(
                    f"{endpoint} {sum(c['verdict'] in calls for c in entries)}/{args.pairs} "
                    f"({statistics.median(c['change_pct'] for c in entries):+.0f}%)"
                    for endpoint, entries in by_endpoint.items())
                rows.append((way, kind, wrong, caught, undecided, spread, endpoints))
                print(f"  done: {way} {kind}", flush=True)

    labels = {
        "side": f"side by side, --repeat {args.repeat} (alternating pairs, fresh servers; paired t-test "
                "+ 5% + BH over every endpoint and metric)",
        "sequential5": f"one run after the other, --repeat {args.repeat} "
                       "(Mann-Whitney + 5% + 3x run-to-run noise + BH)",
        "sequential1": "one run after the other, --repeat 1 (history z-score, 8 runs, + 5%)",
    }
    print()
    print(f"{time.strftime('%Y-%m-%d')}, {args.pairs} pairs each, {args.requests} requests x "
          f"c={args.concurrency}, endpoints {', '.join(only)}; A/B = +{work_us:.0f} µs CPU/request "
          f"(calibrated to {args.slowdown:g}%; {'its median cost side by side' if 'side' in ways else 'last calibration'}:"
          f" {cost:.0f}% of req/s)")
    print("| how | pairs | wrongly called, any metric (A/A) | caught as regressed (A/B) | insufficient data "
          "| req/s change min / median / max | per endpoint: pairs called (median change) |")
    print("|---|---|---:|---:|---:|---|---|")
    for way, kind, wrong, caught, undecided, (low, mid, high), endpoints in rows:
        print(f"| {labels[way]} | {kind} | "
              f"{f'{wrong}/{args.pairs}' if kind == 'A/A' else '–'} | "
              f"{f'{caught}/{args.pairs}' if kind == 'A/B' else '–'} | {undecided}/{args.pairs} "
              f"| {low:+.1f}% / {mid:+.1f}% / {high:+.1f}% | {endpoints} |")
    print(f"\n({time.time() - started:.0f} s)")


if __name__ == "__main__":
    main()
