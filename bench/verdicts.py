#!/usr/bin/env python3
"""Do the verdicts tell noise from a real slowdown? A/A and A/B on the stand-in.

- A/A: the same stand-in measured as baseline and candidate. Any endpoint
  called `regressed` or `improved` makes that pair wrong. Target: 0 of 10.
- A/B: the candidate stand-in answers every request after an extra delay
  chosen to cost about 20% of its throughput. A pair counts as caught when
  every endpoint is called `regressed`. Target: at least 9 of 10.
- The same two rows with --repeat 1, judged against the noise of the
  endpoint's recent history. Every pair starts from a database holding 8
  earlier baseline runs, as a developer's would.

Each pair: baseline run, then candidate run with --baseline <that run>.
Usage: python3 bench/verdicts.py [--pairs 10] [--requests 300] [--only PATTERN ...]
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


def bench(db: Path, *extra: str) -> dict:
    command = [sys.executable, str(REPO / "benchmark.py"), "--demo", "--json", "--db", str(db),
               "--port", str(free_port()), "--dev-port", str(free_port()), *extra]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode not in (0, 1):
        sys.exit(f"benchmark.py failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return json.loads(done.stdout)


def verdicts(report: dict) -> list[str]:
    return [c["verdict"] for c in (report["comparison"] or {}).values()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=10)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--only", action="append", default=None)
    parser.add_argument("--slowdown", type=float, default=20.0, help="target throughput loss, percent")
    args = parser.parse_args()
    only = args.only or ["/hello", "/static/style.css", "PUT*"]
    load = ["--requests", str(args.requests), "--concurrency", str(args.concurrency),
            *[x for pattern in only for x in ("--only", pattern)]]
    started = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        # Calibrate: the delay that costs about --slowdown percent of req/s.
        # The stand-in overlaps a sleeping request with others' work, so the
        # cost is not linear in the delay: adjust a few times.
        plain = bench(tmp / "calibrate.db", *load, "--repeat", "3")
        rps = statistics.median(r["requests_per_sec"] for r in plain["results"])
        delay_ms = args.concurrency * 1000.0 / rps * (1 / (1 - args.slowdown / 100) - 1)
        for _ in range(5):
            slow = ["--server-arg=--delay-ms", f"--server-arg={delay_ms:.3f}"]
            measured = bench(tmp / "calibrate.db", *load, "--repeat", "3", *slow)
            cost = 100 * (1 - statistics.median(r["requests_per_sec"] for r in measured["results"]) / rps)
            print(f"calibration: +{delay_ms:.3f} ms/request costs {cost:.1f}% of {rps:,.0f} req/s", flush=True)
            if abs(cost - args.slowdown) < 4:
                break
            delay_ms *= min(4.0, max(0.5, args.slowdown / max(cost, 1.0)))

        # History: 8 baseline runs per sample count, never a slowed one; each
        # pair starts from a copy, as a developer's database would hold them.
        histories = {}
        for repeat in (5, 1):
            histories[repeat] = tmp / f"history-{repeat}.db"
            for _ in range(8):
                bench(histories[repeat], *load, "--repeat", str(repeat))

        rows = []
        for repeat in (5, 1):
            for kind in ("A/A", "A/B"):
                wrong = caught = undecided = 0
                for pair in range(args.pairs):
                    db = tmp / f"pair-{repeat}-{kind.replace('/', '')}-{pair}.db"
                    shutil.copy(histories[repeat], db)
                    base = bench(db, *load, "--repeat", str(repeat))
                    candidate = bench(db, *load, "--repeat", str(repeat), "--baseline",
                                      str(base["run_id"]), *(slow if kind == "A/B" else []))
                    found = verdicts(candidate)
                    if kind == "A/A" and any(v in ("regressed", "improved") for v in found):
                        wrong += 1
                    if kind == "A/B" and found and all(v == "regressed" for v in found):
                        caught += 1
                    if "insufficient data" in found:
                        undecided += 1
                rows.append((repeat, kind, wrong, caught, undecided))
                print(f"  done: repeat {repeat} {kind}", flush=True)

    print()
    print(f"{time.strftime('%Y-%m-%d')}, {args.pairs} pairs each, {args.requests} requests x c={args.concurrency}, "
          f"endpoints {', '.join(only)}; A/B = +{delay_ms:.3f} ms/request (~{cost:.0f}% slower)")
    print("| samples | pairs | wrongly called (A/A) | caught as regressed (A/B) | insufficient data |")
    print("|---|---|---:|---:|---:|")
    for repeat, kind, wrong, caught, undecided in rows:
        method = ("Mann-Whitney + 5% + 3x run-to-run noise" if repeat > 1
                  else "history z-score (8 runs) + 5%")
        print(f"| --repeat {repeat} ({method}) | {kind} | "
              f"{f'{wrong}/{args.pairs}' if kind == 'A/A' else '–'} | "
              f"{f'{caught}/{args.pairs}' if kind == 'A/B' else '–'} | {undecided}/{args.pairs} |")
    print(f"\n({time.time() - started:.0f} s)")


if __name__ == "__main__":
    main()
