"""benchmark.py's flags as a RunPlan: the one place that says how a run is
measured (suite, load, engine, servers, the run row), so an ordinary run and
every step of `--bisect` (lib/run/bisection.py) are measured the same way."""
from __future__ import annotations

import json
from pathlib import Path

from lib.load import engines
from lib.run import runner
from lib.builds.binaries import store_dir
from lib.machine.environment import describe
from lib.core.text import now_text


def run_plan(args, suite, engine: str, db_path: Path, target: tuple, commit: str | None,
             branch: str | None, *, pin=None, perf_version: str | None = None) -> runner.RunPlan:
    """The plan of one run. `target` is (server command, build step, label)
    as benchmark.py's choose_target gives it; `commit` and `branch` what the
    run row stores as measured; `pin` lib/machine/cpus.py's Pinning (--pin) and
    `perf_version` lib/profiler.check()'s answer (--profile)."""
    server_command, build, label = target
    engine_version = engines.version(engine)
    pod = "demo" if args.demo else "url" if args.url else args.pod
    return runner.RunPlan(
        suite=suite, requests=args.requests, concurrency_levels=args.concurrency,
        repeat=args.repeat, warmup=args.warmup, request_timeout=args.request_timeout,
        keepalive=args.keepalive, engine=engine, engine_version=engine_version, rate=args.rate,
        server_command=server_command, build=build,
        urls={"normal": loopback(args.url), "dev": loopback(args.dev_url)} if args.url else None,
        ports={"normal": args.port, "dev": args.dev_port}, server_args=args.server_arg,
        startup_timeout=args.startup_timeout, backtrace=args.backtrace,
        log_dir=db_path.parent / "logs",
        binary_store=store_dir(db_path), keep_binaries=args.keep_binaries,
        # The stand-in's script is the last word of its command (benchmark.py's STANDIN).
        standin=Path(server_command[-1]) if args.demo else None,
        profile_freq=args.profile_freq if args.profile else None, perf_version=perf_version, pin=pin,
        limits=suite.all_limits() + args.limit,
        run_row={
            "timestamp": now_text(), "git_commit": commit,
            "git_branch": branch, "build_mode": None if args.url else args.build_mode,  # unknown there
            "notes": args.notes, "pod": pod,
            "suite": suite.name, "requests": args.requests,
            "concurrency": ",".join(map(str, args.concurrency)), "repeat": args.repeat,
            # The warmup actually sent: --warmup, or the default for the first level.
            "warmup": args.warmup if args.warmup is not None
            else runner.default_warmup(args.requests, args.concurrency[0]),
            "engine": engine, "engine_version": engine_version,
            "keepalive": int(args.keepalive), "rate": args.rate,
            "target": label, "environment": json.dumps(describe(engine, engine_version)),
            "pinned": pin.describe() if pin else None,
            "setup": suite.setup_fingerprint,
        })


def loopback(url: str | None) -> str | None:
    """Point 'localhost' at 127.0.0.1: ab may resolve it to ::1, where HBF may not listen."""
    if url is None:
        return None
    return url.rstrip("/").replace("://localhost", "://127.0.0.1")
