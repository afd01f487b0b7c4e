#!/usr/bin/env python3
"""Show what benchmark.py stored: the run list, one run's report, a comparison
of two runs, trends, exports for other tools, and an HTML page with charts.

    python3 show_results.py                          # the last 10 runs
    python3 show_results.py --run latest             # one run's report again
    python3 show_results.py --compare previous latest
    python3 show_results.py --trend /hello           # or --trend all
    python3 show_results.py --export csv --output results.csv
    python3 show_results.py --html report.html

It only reads: the database is opened read-only (an old bash-tool database is
upgraded in memory, never on disk). This file is the command line; lib/views.py
runs the chosen view (and holds the text/JSON views), lib/export.py the
exports, lib/html_report.py the page.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # `lib` imports from wherever the script is called

from lib.cliargs import OneLineParser, whole_number  # noqa: E402

STATUSES = ("running", "complete", "partial", "failed", "interrupted")
MAX_LIMIT = 1_000_000


limit_type = whole_number(1, MAX_LIMIT)


def threshold_type(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number; give a percentage like 5") from None
    if not 0 <= value < 1000:
        raise argparse.ArgumentTypeError(f"{text} must be a percentage from 0 to 1000")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="show_results.py",
        description="Show hbf-bench results from the SQLite database (read-only). Default view: "
                    "the newest runs. Results on stdout, warnings on stderr; --json for every view.",
        epilog="Run references: an id, latest, previous, or ~N (N runs before the latest). "
               "Exit status: 0 shown; 2 bad input or environment (the message names the fix).")
    views = parser.add_argument_group("views (pick one; default: the run list)")
    views.add_argument("--run", metavar="RUN",
                       help="one run's full report, as benchmark.py printed it (with --export: the run "
                            "to export)")
    views.add_argument("--compare", nargs=2, metavar=("A", "B"),
                       help="run A (baseline) against run B: req/s, p50, p99, server CPU per request, "
                            "change and verdict per endpoint")
    views.add_argument("--trend", metavar="ENDPOINT",
                       help="one endpoint over the runs (exact name or a unique part of it), "
                            "or 'all' for one sparkline row per endpoint")
    views.add_argument("--export", choices=("csv", "json", "github-action-benchmark", "bmf"),
                       help="csv/json: every result joined with its run (all runs, or the filtered "
                            "ones); github-action-benchmark (customBiggerIsBetter) and bmf (Bencher): "
                            "one run, --run or the latest")
    views.add_argument("--html", metavar="FILE",
                       help="write a self-contained HTML page: trend charts, the latest run, the run list")

    scope = parser.add_argument_group("which runs")
    scope.add_argument("--limit", type=limit_type, metavar="N",
                       help="runs (results for --trend) to show: default 10 for the list, 20 for "
                            "--trend, 200 for --html, all for --export csv/json")
    scope.add_argument("--branch", help="only runs of this git branch")
    scope.add_argument("--build-mode", help="only runs of this build mode (opt, dbg, fastbuild)")
    scope.add_argument("--pod", help="only runs of this pod (test, base, demo...)")
    scope.add_argument("--since", metavar="DATE",
                       help="only runs from DATE on: YYYY-MM-DD, 'YYYY-MM-DD HH:MM', today, yesterday, or an age "
                            "like 12h, 7d, 2w")
    scope.add_argument("--status", choices=STATUSES, help="only runs with this status")
    scope.add_argument("--concurrency", type=limit_type, metavar="C",
                       help="with --trend: only results measured at this concurrency (one level of a sweep)")

    out = parser.add_argument_group("output")
    out.add_argument("--json", action="store_true", help="JSON instead of text (every view)")
    out.add_argument("--output", metavar="FILE", help="with --export: write to FILE instead of stdout")
    out.add_argument("--threshold", type=threshold_type, default=5.0, metavar="PCT",
                     help="smallest change in percent called a regression or improvement (default: 5)")
    out.add_argument("--db", metavar="PATH",
                     help="results database (default: <workspace>/.benchmark/results.db)")
    out.add_argument("--workspace", metavar="DIR",
                     help="HBF checkout whose .benchmark/results.db to read (default: walk up from "
                          "here, then from this script, to a MODULE.bazel declaring module(name = \"hbf\"))")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from lib import views
    return views.run(args, HERE)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
    except BrokenPipeError:  # `| head`: the reader left; say nothing more
        import os
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(0)
