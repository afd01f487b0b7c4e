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
- one run after the other, --repeat 1, confirmed (`sequential1c`): the same,
  with confirmation on (benchmark.py's default): the endpoints that moved by
  the threshold are measured again side by side against the baseline run's
  kept binary, 5 pairs, and that verdict counts. (The other sequential rows
  pass --confirm off: they measure the first look.)

A/A pairs compare two identities that behave alike: the candidate runs with
--work-us=0 (no extra work), the baseline without it. Two runs of the very
same binary and flags are never called (the report says the difference is
the machine's), which would make A/A trivially right.

- the pull-request workflow's way (`workflow`): side by side, --repeat 10,
  --fail-on req/s,p99, as .github/workflows/hbf-benchmark.yml measures
  (docs/ci.md); a pair counts as the job's answer: wrong when an A/A pair
  would fail the build (exit 1), caught when an A/B pair does.

--busy runs a CPU hog of this script's own beside every measurement: one
process per core, busy for --busy-duty of every 100 ms (default 0.5), as a
shared CI runner's neighbours are; it is stopped (by its process group) at the end.

--pin-modes off,on takes every row twice, without and with --pin (servers on
one set of CPUs, the load generator on the others), the two modes' pairs
alternating (off then on, then on then off, ...) so a machine getting busier
weighs on both alike. Each mode's A/A spread (the standard deviation of the
req/s changes of pairs that compare a build with itself: the noise a verdict
must see through) is printed at the end, with its A/B catch rate and median
cost (pinning must not hide a slowdown) and the median of the samples'
other load and stolen time (lib/cpus.py).

Usage: python3 bench/verdicts.py [--pairs 10] [--requests 1000] [--concurrency 10] [--only PATTERN ...]
                                 [--ways side,sequential5,sequential1,workflow] [--pin-modes off,on]
                                 [--busy [--busy-duty 0.5]]
e.g. the workflow's rows, quiet then busy:
    python3 bench/verdicts.py --ways workflow --only /hello
    python3 bench/verdicts.py --ways workflow --only /hello --busy
(about 20 minutes with the defaults on a 2-core machine; twice that with two pin modes)
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
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
SAME = ["--server-arg=--work-us=0"]  # A/A: another identity, the same work
SEQUENTIAL = {"sequential5": None, "sequential1": 1, "sequential1c": 1}  # None: --repeat
WORKFLOW = ["--repeat", "10", "--fail-on", "req/s,p99"]  # as the workflow's pull-request step
HOG = """
import sys, time
duty = float(sys.argv[1])
while True:
    end = time.monotonic() + 0.1 * duty
    while time.monotonic() < end:
        pass
    time.sleep(0.1 * (1 - duty))
"""
# --pin-modes: what each mode passes to benchmark.py ("default": neither flag).
PIN_FLAGS = {"default": [], "off": ["--no-pin"], "on": ["--pin"]}


def bench(db: Path, *extra: str) -> dict:
    command = [sys.executable, str(REPO / "benchmark.py"), "--demo", "--json", "--db", str(db),
               "--port", str(free_port()), "--dev-port", str(free_port()), *extra]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode not in (0, 1):
        sys.exit(f"benchmark.py failed ({done.returncode}):\n{done.stderr[-2000:]}")
    report = json.loads(done.stdout)
    report["_exit_status"] = done.returncode  # the workflow's answer: 1 fails the build
    return report


def start_hogs(duty: float) -> list[subprocess.Popen]:
    """One busy process per core, each in a process group of its own."""
    return [subprocess.Popen([sys.executable, "-c", HOG, str(duty)], start_new_session=True)
            for _ in range(os.cpu_count() or 1)]


def stop_hogs(hogs: list[subprocess.Popen]) -> None:
    for hog in hogs:
        try:
            os.killpg(hog.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        hog.wait()


def verdicts(report: dict) -> list[str]:
    """Each endpoint's req/s verdict."""
    return [c["verdict"] for c in (report["comparison"] or {}).values()]


def any_call(report: dict) -> bool:
    """Any endpoint and metric (req/s, p50, p99, CPU) called regressed or improved."""
    return bool((report["comparison_summary"] or {}).get("calls"))


def machine(report: dict) -> tuple[list[float], list[float]]:
    """Every sample's other load and stolen share (both runs of a side-by-side
    pair are in the candidate's comparison only as worst figures, so the
    candidate's own samples speak for the pair)."""
    samples = [s for r in report["results"] for s in r.get("samples") or []]
    return ([s["other_busy_pct"] for s in samples if s.get("other_busy_pct") is not None],
            [s["steal_pct"] for s in samples if s.get("steal_pct") is not None])


def slowdown_pct(report: dict) -> float:
    """Median throughput loss over the endpoints of a side-by-side run."""
    return -statistics.median(c["change_pct"] for c in report["comparison"].values())


def calibrate(tmp: Path, load: list[str], slowdown: float, pin: list[str]) -> float:
    """The CPU per request that costs about `slowdown` percent of req/s side by
    side. The cost is close to linear in the work but each measurement is
    noisy (±5%), so five points are pooled."""
    plain = bench(tmp / "calibrate.db", *load, "--repeat", "3", *pin)
    cpu_us = statistics.median(r["server_cpu_us_per_req"] for r in plain["results"])
    work_us = cpu_us * (1 / (1 - slowdown / 100) - 1)
    points = []
    for _ in range(5):
        cost = slowdown_pct(bench(tmp / "calibrate.db", *load, "--repeat", "3", *PLAIN, *pin,
                                  f"--server-arg=--work-us={work_us:.0f}"))
        points.append((work_us, cost))
        print(f"calibration: +{work_us:.0f} µs CPU/request costs {cost:.1f}% of req/s "
              f"(server CPU {cpu_us:.0f} µs/request)", flush=True)
        per_us = sum(c for _, c in points) / sum(w for w, _ in points)
        work_us = slowdown / max(per_us, 1e-3)
    return work_us


def alternating(modes: list[str], index: int) -> list[str]:
    """The modes in the order of pair `index`: as given, then reversed, ..."""
    return modes if index % 2 == 0 else modes[::-1]


def take_pairs(tmp: Path, args, load: list[str], ways: list[str], modes: list[str],
               slow: list[str]) -> dict:
    """{(way, mode, kind): [the candidate's report of each pair]}."""
    # History: 8 baseline runs per sample count and mode, never a slowed one;
    # each sequential pair starts from a copy, as a developer's database would.
    histories = {}
    for way, repeat in ((w, r or args.repeat) for w, r in SEQUENTIAL.items()):
        if way in ways:
            for run in range(8):
                for mode in alternating(modes, run):
                    histories[way, mode] = tmp / f"history-{way}-{mode}.db"
                    bench(histories[way, mode], *load, "--repeat", str(repeat), *PIN_FLAGS[mode])
    taken: dict = {}
    for way in ways:
        repeat = args.repeat if way in ("side", "workflow") else SEQUENTIAL[way] or args.repeat
        confirm = [] if way == "sequential1c" else ["--confirm", "off"]
        for kind in ("A/A", "A/B"):
            change = slow if kind == "A/B" else SAME
            for pair in range(args.pairs):
                for mode in alternating(modes, pair):
                    pin = PIN_FLAGS[mode]
                    db = tmp / f"pair-{way}-{mode}-{kind.replace('/', '')}-{pair}.db"
                    if way == "side":
                        candidate = bench(db, *load, "--repeat", str(repeat), "--side-by-side", *pin,
                                          *change, *PLAIN)
                    elif way == "workflow":
                        candidate = bench(db, *load, *WORKFLOW, "--side-by-side", *pin, *change, *PLAIN)
                    else:
                        shutil.copy(histories[way, mode], db)
                        base = bench(db, *load, "--repeat", str(repeat), *pin, "--confirm", "off")
                        candidate = bench(db, *load, "--repeat", str(repeat), *pin, *confirm, "--baseline",
                                          str(base["run_id"]), *change)
                    taken.setdefault((way, mode, kind), []).append(candidate)
            print(f"  done: {way} {kind}", flush=True)
    return taken


def row_of(kind: str, reports: list[dict], pairs: int, way: str = "") -> dict:
    """One table row's figures from its pairs' candidate reports."""
    # A/A counts any call on any metric as wrong; A/B counts only req/s
    # `regressed` on every endpoint as caught.
    calls = ("regressed", "improved") if kind == "A/A" else ("regressed",)
    wrong = caught = undecided = 0
    by_endpoint: dict = {}  # endpoint -> its comparison entries, one per pair
    other, steal = [], []
    for candidate in reports:
        found = verdicts(candidate)
        for endpoint, c in (candidate["comparison"] or {}).items():
            by_endpoint.setdefault(endpoint, []).append(c)
        if way == "workflow":  # the job's answer: did the build fail?
            failed = candidate["_exit_status"] == 1
            wrong += kind == "A/A" and failed
            caught += kind == "A/B" and failed
        else:
            wrong += kind == "A/A" and any_call(candidate)
            caught += bool(kind == "A/B" and found and all(v in calls for v in found))
        undecided += "insufficient data" in found
        busy, stolen = machine(candidate)
        other += busy
        steal += stolen
    changes = [c["change_pct"] for entries in by_endpoint.values() for c in entries]
    endpoints = ", ".join(
        f"{endpoint} {sum(c['verdict'] in calls for c in entries)}/{pairs} "
        f"({statistics.median(c['change_pct'] for c in entries):+.0f}%)"
        for endpoint, entries in by_endpoint.items())
    return {"wrong": wrong, "caught": caught, "undecided": undecided,
            "spread": (min(changes), statistics.median(changes), max(changes)),
            "stdev": statistics.stdev(changes) if len(changes) > 1 else 0.0,
            "other": statistics.median(other) if other else None,
            "steal": statistics.median(steal) if steal else None, "endpoints": endpoints}


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
                        help="which rows to take (comma-separated: side, sequential5, sequential1, "
                             "sequential1c)")
    parser.add_argument("--busy", action="store_true",
                        help="a CPU hog of this script's own beside every measurement, one process per core")
    parser.add_argument("--busy-duty", type=float, default=0.5,
                        help="with --busy: the share of every 100 ms each hog process is busy (default: 0.5)")
    parser.add_argument("--pin-modes", default="default",
                        help="take every row in each of these modes, alternating (comma-separated: "
                             "off = --no-pin, on = --pin, default = neither flag; default: default)")
    args = parser.parse_args()
    only = args.only or ["/hello", "/static/style.css", "PUT*"]
    ways, modes = args.ways.split(","), args.pin_modes.split(",")
    if set(modes) - set(PIN_FLAGS):
        parser.error(f"--pin-modes: use {', '.join(PIN_FLAGS)}")
    load = ["--requests", str(args.requests), "--concurrency", str(args.concurrency),
            *[x for pattern in only for x in ("--only", pattern)]]
    started = time.time()
    hogs = start_hogs(args.busy_duty) if args.busy else []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            # Calibrated quiet (without the hog), so busy and quiet rows judge the same slowdown.
            stop_hogs(hogs)
            work_us = calibrate(Path(tmp), load, args.slowdown, PIN_FLAGS[modes[0]])
            hogs = start_hogs(args.busy_duty) if args.busy else []
            taken = take_pairs(Path(tmp), args, load, ways, modes, [f"--server-arg=--work-us={work_us:.0f}"])
    finally:
        stop_hogs(hogs)
    rows = {key: row_of(key[2], reports, args.pairs, key[0]) for key, reports in taken.items()}
    print_table(args, only, ways, modes, work_us, rows)
    print(f"\n({time.time() - started:.0f} s)")


def print_table(args, only: list[str], ways: list[str], modes: list[str], work_us: float,
                rows: dict) -> None:
    labels = {
        "side": f"side by side, --repeat {args.repeat} (alternating pairs, fresh servers; paired t-test "
                "+ 5% + BH over every endpoint and metric)",
        "sequential5": f"one run after the other, --repeat {args.repeat} "
                       "(Mann-Whitney + 5% + 3x run-to-run noise + BH)",
        "sequential1": "one run after the other, --repeat 1 (history z-score, 8 runs, + 5%)",
        "sequential1c": "one run after the other, --repeat 1, confirmed side by side when req/s moved "
                        "5%+ (5 pairs, paired t-test)",
        "workflow": "the pull-request workflow: side by side, --repeat 10, --fail-on req/s,p99 "
                    "(wrong/caught: the build fails)",
    }
    costs = [-r["spread"][1] for (way, _, kind), r in rows.items() if way == "side" and kind == "A/B"]
    print()
    print(f"{time.strftime('%Y-%m-%d')}, {args.pairs} pairs each, {args.requests} requests x "
          f"c={args.concurrency}, endpoints {', '.join(only)}; A/B = +{work_us:.0f} µs CPU/request "
          f"(calibrated to {args.slowdown:g}% with pin mode {modes[0]}"
          + (f"; its median cost side by side: {statistics.median(costs):.0f}% of req/s)" if costs else ")")
          + (f"; --busy: {os.cpu_count()} hog processes at {args.busy_duty:g} duty" if args.busy else "; quiet"))
    print("| how | pin | pairs | wrongly called, any metric (A/A) | caught as regressed (A/B) | insufficient data "
          "| req/s change min / median / max | stdev | other load / steal % (median sample) "
          "| per endpoint: pairs called (median change) |")
    print("|---|---|---|---:|---:|---:|---|---:|---|---|")
    for (way, mode, kind), r in rows.items():
        low, mid, high = r["spread"]
        machine_text = (f"{r['other']:.0f} / {r['steal']:.1f}" if r["other"] is not None
                        and r["steal"] is not None else "–")
        wrong = f"{r['wrong']}/{args.pairs}" if kind == "A/A" else "–"
        caught = f"{r['caught']}/{args.pairs}" if kind == "A/B" else "–"
        print(f"| {labels[way]} | {mode} | {kind} | {wrong} | {caught} | {r['undecided']}/{args.pairs} "
              f"| {low:+.1f}% / {mid:+.1f}% / {high:+.1f}% | {r['stdev']:.1f} | {machine_text} "
              f"| {r['endpoints']} |")
    if len(modes) > 1:
        print("\nPinning, per way (A/A spread = stdev of the req/s changes of the A/A pairs; "
              "A/B = pairs caught, median cost):")
        for way in ways:
            print(f"- {way}: " + "; ".join(
                f"{mode}: A/A spread {rows[way, mode, 'A/A']['stdev']:.1f} points, "
                f"A/A wrong {rows[way, mode, 'A/A']['wrong']}/{args.pairs}, "
                f"A/B caught {rows[way, mode, 'A/B']['caught']}/{args.pairs}, "
                f"median cost {-rows[way, mode, 'A/B']['spread'][1]:.1f}%" for mode in modes))


if __name__ == "__main__":
    main()
