#!/usr/bin/env python3
"""How long does the tool make a user wait beyond the load generator's own measuring?

run overhead = wall time of one `benchmark.py` run (interpreter start to exit)
               minus the load generator's own time: ab's "Time taken for tests"
               of every stored sample and of each endpoint's warmup (`warmup_s`).

The runs measure the stand-in (`--demo`) or, with `--binary PATH`, a real HBF
build (`benchmark.py --binary PATH`). They alternate between the default
warmup and `--warmup 0` (the warmup's load is subtracted too; what remains of
the difference is the cost of starting ab once more per endpoint), with and
without a bytecode cache.

Side by side, every sample but an endpoint's first gets fresh servers on both
sides. Between the runs the script also times that restart as lib/run/runner.py
does it: stop a baseline's and a candidate's server together
(lib/server.stop_servers, the side-by-side grace), then start both again
(lib/server.start_servers).

Everything is measured in one invocation, the kinds taking turns, and medians
of N rounds are printed, with the goals: a full run's overhead <= 0.3 s on the
stand-in, <= 0.6 s on a real HBF binary (judged for both warmup rows); a
sample's restart <= 0.35 s on HBF.

Usage: python3 bench/overhead.py [N] [--binary PATH]
"""
import argparse
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
from lib.run.runner import RENEW_GRACE_S  # noqa: E402
from lib.server import HbfServer, choose_port, free_port, start_servers, stop_servers  # noqa: E402

STANDIN = [sys.executable, "-S", str(REPO / "lib" / "standin.py")]  # as benchmark.py --demo starts it
GOALS = {  # (run overhead, sample restart) in seconds; None: no goal set
    "stand-in": (0.3, None),
    "HBF binary": (0.6, 0.35),
}


def one_run(target: list[str], db: Path, extra: list[str], env: dict) -> tuple[float, float]:
    """(wall s, ab's own s) of one benchmark.py run."""
    command = [sys.executable, str(REPO / "benchmark.py"), *target, "--requests", "300",
               "--concurrency", "4", "--json", "--db", str(db), "--port", str(free_port()),
               "--dev-port", str(free_port()), *extra]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"run failed ({done.returncode}):\n{done.stderr[-2000:]}")
    report = json.loads(done.stdout)
    # The load generator's time: every sample's, and the warmup's (load, but not measured).
    measured = sum(s["time_taken"] or 0 for r in report["results"] for s in r["samples"])
    measured += sum(r["warmup_s"] or 0 for r in report["results"])
    return wall, measured


class RestartTimer:
    """A baseline's and a candidate's normal server, as --side-by-side runs
    them; restart() renews both as lib/run/runner.py does between samples."""

    def __init__(self, command: list[str], log_dir: Path, startup_timeout: float = 30.0):
        taken: set[int] = set()
        self.servers = []
        for side in ("baseline", "candidate"):
            port, _ = choose_port(free_port(), taken)
            taken.add(port)
            self.servers.append(HbfServer("normal", command, port, log_dir / f"{side}.log", side=side))
        self.startup_timeout = startup_timeout
        start_servers(self.servers, startup_timeout)

    def restart(self) -> tuple[float, float]:
        """(stop s, start s) of one renewal."""
        started = time.perf_counter()
        unclean = stop_servers(self.servers, grace=RENEW_GRACE_S)
        stopped = time.perf_counter()
        if unclean:
            print("note: " + "; ".join(sentence for _, sentence in unclean), file=sys.stderr)
        taken: set[int] = set()
        for server in self.servers:
            server.port, _ = choose_port(server.port, taken)
            taken.add(server.port)
        start_servers(self.servers, self.startup_timeout)
        return stopped - started, time.perf_counter() - stopped

    def close(self) -> None:
        stop_servers(self.servers)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="The tool's own cost per run, and per side-by-side "
                                                 "sample restart.")
    parser.add_argument("rounds", nargs="?", type=int, default=5, help="rounds (default 5)")
    parser.add_argument("--binary", metavar="PATH",
                        help="a real HBF binary (e.g. bazel-bin/bin/hbf_test): runs benchmark.py "
                             "--binary PATH instead of --demo")
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error("rounds must be at least 1")
    if args.binary and not (os.path.isfile(args.binary) and os.access(args.binary, os.X_OK)):
        parser.error(f"--binary {args.binary}: not an executable file")
    return args


def main() -> None:
    args = parse_args()
    count = args.rounds
    if args.binary:
        binary = str(Path(args.binary).resolve())
        kind, target, server_command = "HBF binary", ["--binary", binary], [binary]
    else:
        kind, target, server_command = "stand-in", ["--demo"], STANDIN
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
    stops, starts = [], []
    with tempfile.TemporaryDirectory() as tmp:
        cached["PYTHONPYCACHEPREFIX"] = str(Path(tmp) / "pycache")
        one_run(target, Path(tmp) / "prime.db", ["--warmup", "0"], cached)  # fill the bytecode cache
        timer = RestartTimer(server_command, Path(tmp) / "logs")
        try:
            for index in range(count):
                for name, (extra, env) in variants.items():
                    wall, measured = one_run(target, Path(tmp) / f"r{index}.db", extra, env)
                    walls[name].append(wall)
                    overheads[name].append(wall - measured)
                for _ in range(count):
                    stop, start = timer.restart()
                    stops.append(stop)
                    starts.append(start)
        finally:
            timer.close()
    report(kind, " ".join(target), count, variants, walls, overheads, stops, starts)


def report(kind, target, count, variants, walls, overheads, stops, starts) -> None:
    print(f"benchmark.py {target}, 7 endpoints x 300 requests, c=4; medians of {count} alternating runs")
    print(f"{'variant':<22} {'wall s':>8} {'overhead s':>11} {'min..max overhead':>20}")
    for name in variants:
        o = overheads[name]
        print(f"{name:<22} {statistics.median(walls[name]):>8.3f} {statistics.median(o):>11.3f} "
              f"{min(o):>9.3f}..{max(o):.3f}")
    restarts = [stop + start for stop, start in zip(stops, starts)]
    print(f"side-by-side sample restart (two servers stopped, then started; median of {len(restarts)}): "
          f"{statistics.median(restarts):.3f} s (stop {statistics.median(stops):.3f} s, "
          f"start {statistics.median(starts):.3f} s; max {max(restarts):.3f} s)")
    print(f"bare interpreter start (python3 -c pass): {bare_start():.3f} s")
    run_goal, restart_goal = GOALS[kind]
    checks = [(f"a full run's overhead, {name}", run_goal, statistics.median(overheads[name]))
              for name in ("default warmup", "--warmup 0")]
    checks.append(("a side-by-side sample's restart", restart_goal, statistics.median(restarts)))
    for what, goal, value in checks:
        if goal is not None:
            print(f"goal on the {kind}: {what} <= {goal:g} s: "
                  f"{'met' if value <= goal else 'NOT met'} ({value:.3f} s)")
    print("(overhead = wall time minus the load generator's time for the samples and the warmup)")


def bare_start() -> float:
    times = []
    for _ in range(5):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"])
        times.append(time.perf_counter() - started)
    return statistics.median(times)


if __name__ == "__main__":
    main()
