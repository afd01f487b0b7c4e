#!/usr/bin/env python3
"""Show what benchmark.py stored: the run list, one run's report, a comparison
of two runs, trends, exports for other tools, and an HTML page with charts.

    python3 show_results.py                          # the last 10 runs
    python3 show_results.py --run latest             # one run's report again
    python3 show_results.py --compare previous latest
    python3 show_results.py --trend /hello           # or --trend all
    python3 show_results.py --profile latest         # why: top functions (benchmark.py --profile)
    python3 show_results.py --export csv --output results.csv
    python3 show_results.py --html report.html

It only reads: the database is opened read-only (an old bash-tool database is
read through views that show it as the upgrade would, never upgraded on disk). This file is the command line: flags,
which view, where the database is. lib/show/history.py gathers a view's data (what
--json prints), lib/show/views.py renders it, lib/show/report.py renders one run
(lib/show/comparison_view.py a comparison),
lib/show/export.py writes exports, lib/show/html_report.py the page.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # `lib` imports from wherever the script is called

from lib.core.cliargs import OneLineParser, whole_number  # noqa: E402

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
    views.add_argument("--profile", metavar="RUN",
                       help="a run's profiles (benchmark.py --profile): per endpoint the top "
                            "functions by self time and with callees, CPU µs per request, and side "
                            "by side what grew or shrank; --endpoint E for one, --folded for the "
                            "folded stacks (flamegraph.pl, inferno, speedscope)")
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
    scope.add_argument("--endpoint", metavar="E",
                       help="with --profile: only this endpoint (exact name or a unique part of it)")
    scope.add_argument("--concurrency", type=limit_type, metavar="C",
                       help="with --trend: only results measured at this concurrency (one level of a sweep)")

    out = parser.add_argument_group("output")
    out.add_argument("--json", action="store_true", help="JSON instead of text (every view)")
    out.add_argument("--folded", action="store_true",
                     help="with --profile: print one endpoint's folded stacks ('frame;frame count' lines)")
    out.add_argument("--output", metavar="FILE", help="with --export: write to FILE instead of stdout")
    out.add_argument("--threshold", type=threshold_type, default=5.0, metavar="PCT",
                     help="smallest change in percent called a regression or improvement (default: 5)")
    out.add_argument("--force", action="store_true",
                     help="with --compare/--run: compare even runs measured by different engines")
    out.add_argument("--db", metavar="PATH",
                     help="results database (default: <workspace>/.benchmark/results.db)")
    out.add_argument("--workspace", metavar="DIR",
                     help="HBF checkout whose .benchmark/results.db to read (default: walk up from "
                          "here, then from this script, to a MODULE.bazel declaring module(name = \"hbf\"))")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Open the database read-only, run the chosen view, print it. Bad input:
    one line on stderr, exit 2."""
    args = build_parser().parse_args(argv)
    from lib.core.errors import BenchError
    try:
        check_combinations(args)
        from lib.show import history
        from lib.db import open_db
        from lib.builds.workspace import locate
        since = history.parse_since(args.since) if args.since else None
        filters = {"branch": args.branch, "build_mode": args.build_mode, "pod": args.pod,
                   "since": since, "status": args.status}
        db = open_db(locate(args.workspace, args.db, HERE)[1], readonly=True)
        if args.export:
            return export(db, args, filters)
        if args.html:
            return html(db, args, filters)
        if args.run is not None:
            show_run(db, args)
        elif args.compare:
            show_compare(db, args)
        elif args.profile is not None:
            show_profile(db, args)
        elif args.trend is not None:
            show_trend(db, args, {k: v for k, v in filters.items() if k != "status"})
        else:
            from lib.show import views
            data = history.list_data(db, limit=args.limit or history.DEFAULT_LIMIT, **filters)
            emit(data, views.render_list, args.json)
        return 0
    except BenchError as exc:
        print(f"show_results.py: error: {exc}", file=sys.stderr)
        return exc.exit_code


def emit(data, renderer, as_json: bool) -> None:
    import json
    if as_json:
        sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(renderer(data) + "\n")


def show_run(db, args) -> None:
    from lib.show import history, report
    gathered = report.collect(db, history.resolve_run(db, args.run), threshold_pct=args.threshold,
                              allow_engine_mix=args.force)
    if args.json:
        emit(report.to_json(gathered), None, True)
    else:
        emit(gathered, report.render_markdown, False)


def show_compare(db, args) -> None:
    from lib.show import comparison_view, history, views
    comparison = history.compare_runs(db, *args.compare, threshold_pct=args.threshold,
                                      allow_engine_mix=args.force)
    if args.json:
        emit(comparison_view.compare_json(comparison, args.threshold), None, True)
    else:
        emit(comparison, views.render_compare, False)


def show_profile(db, args) -> None:
    from lib.show import history
    from lib.explain import profiles
    data = history.profile_data(db, args.profile, args.endpoint, one=args.folded)
    if args.folded:
        sys.stdout.write(profiles.folded_text(data["profiles"]))
        return
    if args.json:
        emit({"run_id": data["run_id"], "profiles": profiles.to_json(data["profiles"])}, None, True)
    else:
        emit(data["profiles"], lambda found: "\n".join(profiles.markdown(found)), False)


def show_trend(db, args, filters: dict) -> None:
    from lib.show import history, views
    filters["concurrency"] = args.concurrency
    limit = args.limit or history.DEFAULT_TREND_LIMIT
    if args.trend.strip().lower() == "all":
        data = history.trend_all_data(db, limit=limit, **filters)
        renderer = views.render_trend_all
    else:
        data = history.trend_data(db, args.trend, limit=limit, **filters)
        renderer = views.render_trend
        if data["endpoint"] != args.trend:
            from lib.core.text import safe
            print(f"show_results.py: {safe(args.trend)!r} matched the endpoint {safe(data['endpoint'])!r}",
                  file=sys.stderr)
    from lib.core.text import safe
    for warning in data["warnings"]:  # they name pods, build modes, endpoints: text from the database
        print(f"show_results.py: warning: {safe(warning)}", file=sys.stderr)
    emit(data, renderer, args.json)


def check_combinations(args) -> None:
    """Flags that make no sense together: refuse rather than guess."""
    from lib.show.history import ViewError
    chosen = [flag for flag, value in (("--compare", args.compare), ("--trend", args.trend),
                                       ("--export", args.export), ("--html", args.html),
                                       ("--profile", args.profile)) if value]
    if (args.endpoint or args.folded) and not args.profile:
        raise ViewError(f"{'--endpoint' if args.endpoint else '--folded'} goes with --profile RUN")
    if len(chosen) > 1:
        raise ViewError(f"{' and '.join(chosen)} are different views; give one at a time")
    if args.run is not None and chosen and chosen != ["--export"]:
        raise ViewError(f"--run and {chosen[0]} are different views; give one at a time")
    if args.output and not args.export:
        raise ViewError("--output goes with --export (the page is written with --html FILE)")
    filters = [f for f, v in (("--branch", args.branch), ("--build-mode", args.build_mode),
                              ("--pod", args.pod), ("--since", args.since), ("--status", args.status),
                              ("--limit", args.limit)) if v]
    if args.export in ("github-action-benchmark", "bmf") and filters:
        raise ViewError(f"--export {args.export} exports one run: pick it with --run (default: "
                        f"latest), not with {', '.join(filters)}")
    if args.export in ("csv", "json") and args.run is not None and filters:
        raise ViewError(f"--run picks one run; {', '.join(filters)} would pick others: give one or the other")
    if (args.run is not None or args.compare or args.profile) and not args.export and filters:
        raise ViewError(f"{', '.join(filters)} filter the list, trends, --html and exports; "
                        "--run and --compare take run ids")
    if args.concurrency is not None and args.trend is None:
        raise ViewError("--concurrency picks one level of a sweep for --trend; the other views show "
                        "every level")
    if args.trend is not None and args.status:
        raise ViewError("--status filters runs for the list, --html and exports; a trend shows "
                        "every status and marks the failed ones")


def export(db, args, filters: dict) -> int:
    from lib.show import export as exporter
    from lib.show.history import resolve_run
    warnings: list[str] = []
    if args.export in ("csv", "json"):
        if args.run is not None:
            run_ids = [resolve_run(db, args.run)]
        elif args.limit or any(filters.values()):
            run_ids = db.select_run_ids(limit=args.limit, **filters)
        else:
            run_ids = None  # everything
        columns, rows = exporter.rows_for(db, run_ids)
        count = [0]

        def counted():
            for row in rows:
                count[0] += 1
                yield row

        make = exporter.to_csv if args.export == "csv" else exporter.to_json_rows
        text = make(columns, counted())
        what = lambda: f"{count[0]} result row(s)"  # noqa: E731 (known once written)
    else:
        run_id = resolve_run(db, args.run or "latest")
        make = exporter.bmf if args.export == "bmf" else exporter.github_action_benchmark
        text, warnings = make(db, run_id)
        what = lambda: f"run {run_id}"  # noqa: E731
    from lib.core.text import safe
    for warning in warnings:
        print(f"show_results.py: warning: {safe(warning)}", file=sys.stderr)
    exporter.write_output(text, args.output)
    if args.output and args.output != "-":
        print(f"show_results.py: wrote {what()} to {args.output} ({args.export})", file=sys.stderr)
    return 0


HTML_DEFAULT_LIMIT = 200


def html(db, args, filters: dict) -> int:
    from lib.show import export as exporter
    from lib.show import html_report
    page = html_report.build(db, limit=args.limit or HTML_DEFAULT_LIMIT, filters=filters,
                             threshold_pct=args.threshold)
    exporter.write_output(page, args.html, flag="--html")
    size = len(page.encode())
    print(f"show_results.py: wrote {args.html} ({size:,} bytes)", file=sys.stderr)
    if args.json:
        emit({"html": str(args.html), "bytes": size}, None, True)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
    except BrokenPipeError:  # `| head`: the reader left; say nothing more
        import os
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(0)
