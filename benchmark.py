#!/usr/bin/env python3
"""Benchmark HBF: build, start servers, measure a suite with ab, store, compare.

    python3 benchmark.py --demo --requests 300       # the built-in stand-in
    python3 benchmark.py --notes "after the cache"   # build and measure HBF

Everything below is wiring: flags in lib/run/options.py, the run in
lib/run/runner.py, storage in lib/db.py, the report in lib/show/report.py.
"""
from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # `lib` imports from wherever the script is called

# Only what every start needs: --help and --list-endpoints answer with these
# alone. A run imports the rest where it starts (in main, below the quick
# answers), so a question about the flags does not compile the measuring code.
from lib.builds.workspace import WorkspaceError, locate  # noqa: E402
from lib.core.errors import BenchError  # noqa: E402
from lib.run import options  # noqa: E402

STANDIN = HERE / "lib" / "standin.py"


def main(argv: list[str] | None = None) -> int:
    args = options.build_parser().parse_args(argv)
    try:
        options.validate(args)
        if args.install_ci or args.install_skill:
            return install(args)
        from lib.run.suite import find_suite, load_suite
        workspace, db_path = locate(args.workspace, args.db, HERE)
        suite = load_suite(find_suite(args.suite, args.pod, workspace)).select(args.only)
        if args.list_endpoints:
            print(list_endpoints(suite, args.json))
            return 0
        from lib.builds.binaries import store_dir
        from lib.builds.workspace import git_info
        from lib.core.console import say
        from lib.db import DbError, open_db
        from lib.explain import profiler
        from lib.load import engines
        from lib.machine import cpus
        from lib.run import runner
        from lib.run.baselines import baseline_side
        from lib.run.plans import run_plan
        from lib.show import report
        # Open-loop load (--rate) is the built-in engine's alone.
        engine = engines.resolve("python" if args.rate and args.engine == "auto" else args.engine)
        check_limits(suite, args)
        if args.bisect:  # many run pairs, one report of its own (its errors are one line too)
            from lib.run import bisection
            check_steps(suite, args, engine)
            return bisection.run(args, workspace, db_path, suite, engine)
        server_command, build, target = choose_target(args, workspace)
        check_steps(suite, args, engine)
        check_urls_answer(args)
        perf_version = profiler.check() if args.profile else None
        baseline_id = resolve_baseline(args.baseline, db_path) if args.baseline else None
        against = check_against(args.against, db_path, workspace) if args.against else None
        db = open_db(db_path)
    except BenchError as exc:  # a refusal: one line, nothing started or written
        print(f"benchmark.py: error: {exc}", file=sys.stderr)
        return exc.exit_code

    # Only a build of the checkout (or its --no-build binary) measures the
    # checkout's commit; the stand-in and a --url server measure something else.
    commit, branch = git_info(workspace) if not (args.demo or args.url) else (None, None)
    pin = None
    if args.pin:  # where each side runs, or why it cannot be pinned: one line
        pin, where = cpus.for_run()
        say(where)
    plan = run_plan(args, suite, engine, db_path, (server_command, build, target), commit, branch,
                    pin=pin, perf_version=perf_version)
    if args.side_by_side:
        plan.baseline_side = baseline_side(args, plan.run_row, against, workspace, store_dir(db_path))
    for named in filter(None, (baseline_id, against and against.run and against.run["run_id"])):
        db.mark_named_as_baseline(named)  # its kept binary outlives the newest-N retention
    try:
        outcome = runner.execute(plan, db)
    except BenchError as exc:  # before its run row existed (the database went away): nothing stored
        print(f"benchmark.py: error: {exc}", file=sys.stderr)
        return exc.exit_code
    if outcome.error and outcome.exit_code == 2:
        print(f"benchmark.py: error: {outcome.error}", file=sys.stderr)
    try:
        gathered = judge_and_confirm(args, plan, db, outcome, baseline_id, store_dir(db_path))
    except DbError as exc:
        print(f"benchmark.py: error: cannot read the run back for its report: {exc}", file=sys.stderr)
        return outcome.exit_code or 2
    if args.json:
        import json
        print(json.dumps(report.to_json(gathered), indent=2, ensure_ascii=False))
    else:
        print(report.render_markdown(gathered))
    if args.summary:
        from lib.core.console import append_to
        from lib.show import summary
        append_to(args.summary, summary.render(gathered, rerun_command(argv)), "--summary")
    if outcome.crash is not None:
        raise outcome.crash
    return exit_code(outcome, gathered, args)


def install(args) -> int:
    """--install-ci / --install-skill into an HBF checkout, then exit."""
    from lib.builds.install import install_ci, install_skill
    if args.install_ci:
        said, status = install_ci(Path(args.install_ci), HERE)
        print(("benchmark.py: error: " if status else "") + said, file=sys.stderr)
        return status
    print(install_skill(Path(args.install_skill), HERE), file=sys.stderr)
    return 0


def rerun_command(argv: list[str] | None) -> list[str]:
    """The command that measures this again, as typed, less where its answers went."""
    words, skip = [], False
    for word in sys.argv[1:] if argv is None else argv:
        if skip:
            skip = False
        elif word in ("--summary", "--db"):
            skip = True
        elif not word.startswith(("--summary=", "--db=")) and word != "--json":
            words.append(word)
    return ["python3", "benchmark.py", *words]


def judge_and_confirm(args, plan, db, outcome, baseline_id: int | None, store: Path) -> report.RunReport:
    """The run against its baseline; endpoints that moved are confirmed side
    by side (lib/run/confirm.py), and the report is gathered again to show it."""
    from lib.run import confirm
    from lib.show import report

    def gather() -> report.RunReport:
        return report.collect(db, outcome.run_id, baseline_id=baseline_id,
                              threshold_pct=args.threshold, allow_engine_mix=args.force)
    gathered = gather()
    if not confirm.applies(gathered.comparison, outcome.status):
        return gathered
    record = confirm.confirm(plan, db, gathered.comparison, mode=args.confirm, threshold_pct=args.threshold,
                             repeat=args.confirm_repeat, store=store)
    if record["status"] == confirm.INTERRUPTED:
        outcome.exit_code = 130
    return gather()


def check_against(ref: str, db_path: Path, workspace: Path | None):
    """--against: a run with a kept binary, or a revision bazel can build."""
    import shutil

    from lib.builds.binaries import store_dir
    from lib.run.baselines import resolve_against
    against = resolve_against(ref, db_path, workspace, store_dir(db_path))
    if against.revision and not (shutil.which("bazel") or shutil.which("bazelisk")):
        raise WorkspaceError(f"--against {ref} builds that revision, but bazel is not "
                             "installed (or not on PATH); install bazel or bazelisk")
    return against


def check_urls_answer(args) -> None:
    """A --url where nothing answers would store a run of "crashed" endpoints
    (and become `latest`): refuse it before anything is stored."""
    from urllib.parse import urlsplit

    from lib.run.plans import loopback
    from lib.server import answers_http
    for flag, url in (("--url", args.url), ("--dev-url", args.dev_url)):
        if url:
            parts = urlsplit(loopback(url))
            if not answers_http(parts.hostname, parts.port or 80):
                raise options.UsageError(f"{flag} {url}: nothing answers there; start the server "
                                         "first (or check the port)")


def check_steps(suite, args, engine: str) -> None:
    """The engine must be able to measure every endpoint, and an endpoint's
    own request count must cover every concurrency level."""
    from lib.load import engines
    for endpoint in suite.endpoints:
        engines.check_endpoint(engine, endpoint)
        requests = endpoint.requests or args.requests
        for level in ([endpoint.concurrency] if endpoint.concurrency else args.concurrency):
            if level > requests:
                raise options.UsageError(
                    f"endpoint {endpoint.name!r}: concurrency {level} is greater than its "
                    f"{requests} requests; raise its requests or lower the concurrency")


def check_limits(suite, args) -> None:
    """Every limit (the suite's and --limit's) bounds an endpoint this run
    measures, with a figure it measures."""
    from lib.judge.limits import LimitError, check_applicable
    try:
        check_applicable(suite.all_limits() + args.limit, suite.endpoints, own_servers=not args.url)
    except LimitError as exc:
        raise options.UsageError(str(exc)) from None


def resolve_baseline(ref: str, db_path: Path) -> int:
    """--baseline is checked read-only, before the database is created or upgraded."""
    from lib.db import open_db as open_database
    if not db_path.exists():
        raise options.UsageError(f"--baseline {ref!r}: there is no database at {db_path} yet")
    db = open_database(db_path, readonly=True)
    try:
        baseline_id = db.resolve_run(ref)
    finally:
        db.close()
    if baseline_id is None:
        raise options.UsageError(f"--baseline {ref!r} matches no run in {db_path}; "
                                 "use a run id from show_results.py, latest, previous or ~N")
    return baseline_id


def choose_target(args, workspace: Path | None):
    """(server command, build step, label) for --demo, --binary, --url or a build."""
    import shutil

    from lib.builds.workspace import bazel_build, check_binary, pod_binary
    if args.demo:
        # -S: the stand-in needs no site-packages, and skipping them halves its start.
        return [sys.executable, "-S", str(STANDIN)], None, "stand-in: lib/standin.py"
    if args.url:
        return None, None, " ".join(filter(None, [args.url, args.dev_url]))
    if args.binary:
        binary = Path(args.binary).resolve()
        return [str(binary)], None, str(binary)
    if workspace is None:
        raise WorkspaceError("no HBF checkout found here or above: run from inside one, pass "
                             "--workspace DIR, --binary PATH, --url URL, or try --demo")
    if args.no_build:
        binary = check_binary(pod_binary(workspace, args.pod))
        return [str(binary)], None, str(binary)
    if not (shutil.which("bazel") or shutil.which("bazelisk")):
        raise WorkspaceError("bazel is not installed (or not on PATH): install bazel or bazelisk, "
                             "or pass --binary PATH / --no-build to use an existing binary")
    return None, lambda: [str(bazel_build(workspace, args.pod, args.build_mode))], \
        str(pod_binary(workspace, args.pod))


def list_endpoints(suite, as_json: bool) -> str:
    if as_json:
        import json
        return json.dumps({"suite": suite.name, "file": str(suite.path), "endpoints": [
            {"name": e.name, "category": e.category, "method": e.method, "path": e.path,
             "server": e.server, "variable_length": e.variable_length, "requests": e.requests,
             "concurrency": e.concurrency} for e in suite.endpoints]}, indent=2)
    from lib.core.text import cell, safe
    lines = [f"Suite {safe(suite.name)} ({safe(suite.path)})", "",
             "| Category | Endpoint | Method | Path | Server |", "|---|---|---|---|---|"]
    lines += [f"| {cell(e.category)} | {cell(e.name)} | {e.method} | {cell(e.path)} | {e.server} |"
              for e in suite.endpoints]
    return "\n".join(lines)


def exit_code(outcome, gathered: report.RunReport, args) -> int:
    if outcome.exit_code:
        return outcome.exit_code
    if outcome.baseline is not None and outcome.baseline.exit_code:
        return outcome.baseline.exit_code  # side by side: a crashed baseline spoils the comparison
    from lib.judge.limits import crossed, crossed_text
    from lib.core.text import safe
    broken = crossed(gathered.results)
    if broken:
        print("benchmark.py: limit crossed: " + "; ".join(safe(crossed_text(row["endpoint"], entry))
                                                         for row, entry in broken), file=sys.stderr)
        return 1
    if args.fail_on_regression is not None:
        from lib.judge.compare import regressions
        limit = args.threshold if args.fail_on_regression < 0 else args.fail_on_regression
        worst = regressions(gathered.comparison.endpoints, args.fail_on, limit)
        if worst:
            print("benchmark.py: regression beyond " f"{limit:g}%: "
                  + ", ".join(f"{safe(key)} {v.label} {v.change_pct:+.1f}%" for key, v in worst),
                  file=sys.stderr)
            return 1
    return 0


def _exit_on_sigterm(signum, frame):
    # Outside the run itself (which handles it) SIGTERM still exits as 143.
    raise SystemExit(128 + signum)


if __name__ == "__main__":
    import signal

    from lib.core.interrupts import Interrupted
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        sys.exit(main())
    except (KeyboardInterrupt, Interrupted) as stop:
        # Outside lib/runner.execute (which stops its servers itself) no
        # process of ours is running: say so and exit like a shell would.
        print("benchmark.py: interrupted", file=sys.stderr)
        sys.exit(128 + getattr(stop, "signum", signal.SIGINT))
