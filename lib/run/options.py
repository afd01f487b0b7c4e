"""benchmark.py's command line: the flags, and every check that can refuse a
run before anything starts (exit 2, one line naming the problem and the fix)."""
from __future__ import annotations

import argparse
import ipaddress
import os
from pathlib import Path
from urllib.parse import urlsplit

from lib.core.cliargs import OneLineParser, whole_number
from lib.core.errors import BenchError
from lib.builds.workspace import BUILD_MODES, POD_NAME

DEFAULT_REQUESTS = 1000
DEFAULT_CONCURRENCY = 10
MAX_CONCURRENCY = 20000  # ab's own limit
MAX_NOTES = 10_000
# Whether runs are pinned unless --pin/--no-pin says. Off: on this project's
# busy 2-core VM bench/verdicts.py found pinning did not lower the A/A spread
# side by side (7.4 vs 7.9 points) and raised it from run to run (27.4 vs
# 20.2); docs/verdicts.md, "Pinning and a noisy machine". Never for --url.
PIN_BY_DEFAULT = False


class UsageError(BenchError):
    """Bad input: exit 2 with this one line."""


positive_int = whole_number(1)
non_negative_int = whole_number(0)


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0 or value != value or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text} must be a positive number")
    return value


def non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text} must be 0 or a positive number")
    return value


def port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port {value} is out of range 1-65535")
    return value


def concurrency_list(text: str) -> list[int]:
    """"10" or a sweep "1,10,50"."""
    levels = []
    for part in text.split(","):
        try:
            level = int(part.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not a whole number or a comma-separated list like 1,10,50") from None
        if not 1 <= level <= MAX_CONCURRENCY:
            raise argparse.ArgumentTypeError(f"concurrency {level} must be between 1 and {MAX_CONCURRENCY}")
        if level not in levels:
            levels.append(level)
    return levels


def metric_list(text: str) -> list[str]:
    """--fail-on "p99,req/s" -> ["p99_ms", "requests_per_sec"]."""
    from lib.judge.compare import METRICS, metric_named
    names = []
    for part in text.split(","):
        name = metric_named(part)
        if name is None:
            raise argparse.ArgumentTypeError(
                f"{part.strip()!r} is not a judged metric; use "
                f"{', '.join(m.name for m in METRICS)} (or req/s, p50, p99, cpu), comma-separated")
        if name not in names:
            names.append(name)
    return names


def limit_flag(text: str):
    """--limit "/hello:p99<50" -> a lib/judge/limits.py Limit."""
    from lib.judge.limits import LimitError, parse_flag
    try:
        return parse_flag(text)
    except LimitError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def revision_range(text: str) -> tuple[str, str]:
    """--bisect "v1.2..HEAD" -> ("v1.2", "HEAD")."""
    parts = text.split("..")
    if len(parts) != 2 or not all(part.strip() for part in parts) or "..." in text:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a range OLD..NEW (two revisions joined by two dots, e.g. v1.2..HEAD)")
    return parts[0].strip(), parts[1].strip()


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="benchmark.py",
        description="Benchmark HBF with ApacheBench: build, start a normal and a dev server, "
                    "measure each endpoint of a suite, store every result in SQLite, and compare "
                    "with the last comparable run. Markdown on stdout (JSON with --json); "
                    "progress on stderr.",
        epilog="Exit status: 0 every endpoint ok; 1 an endpoint failed, crashed or timed out, "
               "crossed a limit (or regressed, with --fail-on-regression); 2 bad input or environment; "
               "130/143 interrupted by Ctrl-C/SIGTERM.")
    target = parser.add_argument_group("what to measure")
    target.add_argument("--demo", action="store_true",
                        help="measure the built-in HBF stand-in (no HBF checkout or bazel needed); "
                             "stored with pod 'demo'")
    target.add_argument("--workspace", metavar="DIR",
                        help="HBF checkout (default: walk up from here, then from this script, "
                             "to a MODULE.bazel declaring module(name = \"hbf\"))")
    target.add_argument("--pod", default="test",
                        help="pod to build and measure: test -> //:hbf_test, base -> //:hbf, "
                             "NAME -> //:hbf_NAME (default: test)")
    target.add_argument("--build-mode", default="opt", choices=BUILD_MODES,
                        help="bazel --compilation_mode (default: opt)")
    target.add_argument("--binary", metavar="PATH", help="run this HBF binary; skip the build")
    target.add_argument("--no-build", action="store_true", help="use the already built binary")
    target.add_argument("--url", metavar="URL",
                        help="measure a server that is already running (no build, start or stop)")
    target.add_argument("--dev-url", metavar="URL", help="with --url: the dev-mode server for dev endpoints")
    target.add_argument("--allow-remote", action="store_true",
                        help="let --url/--dev-url point at a non-loopback host")

    suite = parser.add_argument_group("suite")
    suite.add_argument("--suite", metavar="FILE",
                       help="suite TOML file (default: pods/<pod>/benchmark.toml in the checkout, "
                            "else suites/hbf-test-pod.toml)")
    suite.add_argument("--only", action="append", default=[], metavar="PATTERN",
                       help="keep endpoints whose category or name matches this glob (repeatable)")
    suite.add_argument("--list-endpoints", action="store_true", help="print the suite and exit")

    load = parser.add_argument_group("load")
    load.add_argument("--requests", "-n", type=positive_int, default=DEFAULT_REQUESTS,
                      help=f"requests per endpoint and sample (default: {DEFAULT_REQUESTS})")
    load.add_argument("--concurrency", "-c", type=concurrency_list, default=[DEFAULT_CONCURRENCY],
                      help=f"concurrent connections, or a sweep like 1,10,50 (default: {DEFAULT_CONCURRENCY})")
    load.add_argument("--repeat", type=positive_int, default=None,
                      help="samples per endpoint; the stored row holds the median "
                           "(default: 1, or 5 side by side)")
    load.add_argument("--warmup", type=non_negative_int, default=None,
                      help="unmeasured requests per endpoint first (default: max(10, concurrency)); 0 = none")
    load.add_argument("--request-timeout", type=positive_float, default=30.0, metavar="S",
                      help="seconds to wait for each answer before the endpoint is a timeout (default: 30)")
    load.add_argument("--engine", default="auto", choices=("auto", "ab", "python", "wrk"),
                      help="load generator: ab, the built-in python engine, or wrk "
                           "(default auto: ab when installed, else python)")
    load.add_argument("--keepalive", action="store_true", help="reuse connections (ab -k)")
    load.add_argument("--rate", type=positive_float, default=None, metavar="R",
                      help="open loop: R requests per second on schedule (python engine)")

    servers = parser.add_argument_group("servers")
    servers.add_argument("--port", type=port, default=5309, help="normal server port (default: 5309)")
    servers.add_argument("--dev-port", type=port, default=5310, help="dev server port (default: 5310)")
    servers.add_argument("--startup-timeout", type=positive_float, default=30.0, metavar="S",
                         help="seconds for a server to answer GET /health (default: 30)")
    servers.add_argument("--server-arg", action="append", default=[], metavar="ARG",
                         help="extra argument for both servers (repeatable; use --server-arg=--flag)")
    servers.add_argument("--profile", action="store_true",
                         help="per endpoint, one extra sample under perf record -g: the server's "
                              "top functions (self and with callees), CPU time per request, and "
                              "side by side what grew or shrank (needs linux-perf)")
    servers.add_argument("--profile-freq", type=positive_int, default=999, metavar="HZ",
                         help="perf's sampling frequency for --profile (default: 999)")
    servers.add_argument("--pin", dest="pin", action="store_true", default=None,
                         help="keep the servers on one set of CPUs and the load generator on the "
                              "others, so they do not fight for the same cores (stored in the run's "
                              f"`pinned`; default: {'on' if PIN_BY_DEFAULT else 'off'})")
    servers.add_argument("--no-pin", dest="pin", action="store_false",
                         help="let the servers and the load generator run on any CPU")
    servers.add_argument("--backtrace", action="store_true",
                         help="when a server crashes, re-run that endpoint under gdb and store the backtrace")

    verdicts = parser.add_argument_group("comparison")
    verdicts.add_argument("--baseline", metavar="RUN",
                          help="compare with this run (id, latest, previous, ~N) instead of the "
                               "latest comparable one")
    verdicts.add_argument("--side-by-side", action="store_true",
                          help="also start a baseline's servers and alternate their samples with "
                               "this build's (ABBA), so a machine getting busier weighs on both; "
                               "stored as two runs, compared with each other. The baseline is the "
                               "same binary and server args unless given below (an A/A noise check)")
    verdicts.add_argument("--baseline-binary", metavar="PATH",
                          help="side by side: the baseline's HBF binary, e.g. a build of main "
                               "(implies --side-by-side)")
    verdicts.add_argument("--baseline-server-arg", action="append", default=None, metavar="ARG",
                          help="side by side: the baseline's server arguments instead of "
                               "--server-arg (repeatable; --baseline-server-arg= for none; "
                               "implies --side-by-side)")
    verdicts.add_argument("--against", metavar="REF",
                          help="side by side against a stored run's kept binary (latest, previous, "
                               "~N, a run id) or a git revision of the checkout (main, a tag, a "
                               "commit), built in .benchmark/worktree; implies --side-by-side")
    verdicts.add_argument("--bisect", type=revision_range, metavar="OLD..NEW",
                          help="find the commit that changed the endpoints (--only): measure NEW "
                               "side by side against OLD, then bisect the first-parent commits "
                               "between them, each built in .benchmark/worktree and measured "
                               "against OLD's binary (--repeat 5 unless given)")
    verdicts.add_argument("--confirm", choices=("auto", "off"), default="auto",
                          help="auto (default): after an ordinary run, measure the endpoints whose "
                               "req/s moved by --threshold or more again, side by side against the "
                               "baseline run's kept binary, and report that paired verdict")
    verdicts.add_argument("--confirm-repeat", type=positive_int, default=5, metavar="N",
                          help="sample pairs of a confirmation (default: 5)")
    verdicts.add_argument("--threshold", type=non_negative_float, default=5.0, metavar="PCT",
                          help="smallest change in percent called a regression or improvement (default: 5)")
    verdicts.add_argument("--fail-on-regression", nargs="?", const=-1.0, type=non_negative_float,
                          default=None, metavar="PCT",
                          help="exit 1 when an endpoint regressed (by more than PCT, default --threshold)")
    verdicts.add_argument("--fail-on", type=metric_list, default=None, metavar="METRIC[,METRIC]",
                          help="the metrics whose regression fails the run (implies "
                               "--fail-on-regression): req/s, p50, p99, cpu, or their JSON names "
                               "(default: req/s)")
    verdicts.add_argument("--limit", type=limit_flag, action="append", default=[],
                          metavar="ENDPOINT-GLOB:METRIC<VALUE",
                          help="an absolute bound the endpoints matching the glob must keep, e.g. "
                               "'/hello:p99<50' or '*:req/s>=500' (<, <=, >, >=; metrics as --fail-on "
                               "takes them, and failed); checked on the stored figure (the median "
                               "of the samples); a crossed limit exits 1 (repeatable; suite files "
                               "carry limits too)")
    verdicts.add_argument("--force", action="store_true",
                          help="compare even with a baseline measured by another engine")

    output = parser.add_argument_group("output")
    output.add_argument("--db", metavar="PATH",
                        help="results database (default: <workspace>/.benchmark/results.db)")
    output.add_argument("--notes", default="", help="free text stored with the run")
    output.add_argument("--json", action="store_true", help="print one JSON object instead of Markdown")
    output.add_argument("--summary", metavar="FILE",
                        help="also append the run's answer as GitHub-flavoured Markdown to FILE (a pull "
                             "request's job summary: --summary \"$GITHUB_STEP_SUMMARY\"): the verdict "
                             "first, one table of every metric's change and p, failures, crossed "
                             "limits, and the command that measures it again")
    output.add_argument("--keep-binaries", type=non_negative_int, default=20, metavar="N",
                        help="keep the binaries of the newest N runs (and of runs named as a "
                             "baseline) in .benchmark/binaries for --against and confirmation "
                             "(default: 20; 0 keeps none)")
    output.add_argument("--install-ci", metavar="HBF_DIR",
                        help="set up benchmarking on every pull request of an HBF checkout: write "
                             ".github/workflows/hbf-benchmark.yml (and install the skill it runs) and "
                             "exit; a different file at that path is left as it is (exit 2) and the "
                             "proposed one is written to .benchmark/ to compare")
    output.add_argument("--install-skill", metavar="HBF_DIR",
                        help="install this skill into an HBF checkout's .claude/skills/hbf-benchmark and "
                             "exit; an older skill there or at .claude/skills/benchmark is moved to "
                             ".claude/skills-replaced/, not deleted")
    return parser


def validate(args: argparse.Namespace) -> None:
    """Checks that need more than one flag. Raises UsageError."""
    if args.bisect:
        check_bisect(args)
    targets = [name for name, on in (("--demo", args.demo), ("--binary", args.binary),
                                     ("--url", args.url)) if on]
    if len(targets) > 1:
        raise UsageError(f"{' and '.join(targets)} pick different servers; give only one")
    if args.dev_url and not args.url:
        raise UsageError("--dev-url goes with --url (the normal server's URL)")
    if not POD_NAME.match(args.pod):
        raise UsageError(f"pod name {args.pod!r} must be lowercase letters, digits and '_', "
                         "starting with a letter (e.g. test, base, myapp)")
    for level in args.concurrency:
        if level > args.requests:
            raise UsageError(f"concurrency {level} is greater than --requests {args.requests}; "
                             "lower --concurrency or raise --requests")
    if args.port == args.dev_port and not args.url:
        raise UsageError(f"--port and --dev-port are both {args.port}; give them different ports")
    if len(args.notes) > MAX_NOTES:
        raise UsageError(f"--notes is {len(args.notes):,} characters; at most {MAX_NOTES:,} "
                         "(put long text in a file and reference it)")
    if args.rate is not None and args.engine not in ("python", "auto"):
        raise UsageError("--rate (open loop) needs the python engine: add --engine python")
    for flag, url in (("--url", args.url), ("--dev-url", args.dev_url)):
        if url:
            check_url(flag, url, args.allow_remote)
    if args.binary:
        path = Path(args.binary)
        if not path.is_file() or not os.access(path, os.X_OK):
            raise UsageError(f"--binary {args.binary}: not an executable file; pass the built HBF "
                             "binary (bazel-bin/bin/hbf_test)")
    if args.against:
        clashing = [flag for flag, on in (("--baseline-binary", args.baseline_binary),
                                          ("--baseline", args.baseline)) if on]
        if clashing:
            raise UsageError(f"--against picks the baseline; drop {' and '.join(clashing)}")
    if args.baseline_binary or args.baseline_server_arg is not None or args.against:
        args.side_by_side = True
    if args.repeat is None:
        args.repeat = 5 if args.side_by_side else 1
    if args.side_by_side:
        if args.repeat < 3:
            raise UsageError(f"--side-by-side compares pairs of samples and needs --repeat 3 or "
                             f"more (5 recommended), not {args.repeat}")
        if args.url:
            raise UsageError("--side-by-side starts both sides' servers itself, so it cannot "
                             "measure --url; give --binary, --demo or build from the checkout")
        if args.baseline:
            raise UsageError("--side-by-side measures its own baseline; drop --baseline RUN "
                             "(or drop --side-by-side to compare with a stored run)")
    if args.baseline_binary:
        path = Path(args.baseline_binary)
        if not path.is_file() or not os.access(path, os.X_OK):
            raise UsageError(f"--baseline-binary {args.baseline_binary}: not an executable file; "
                             "pass an HBF binary built from the baseline commit")
    if args.fail_on is None:
        args.fail_on = ["requests_per_sec"]
    elif args.fail_on_regression is None:
        args.fail_on_regression = -1.0  # --fail-on alone: fail beyond --threshold
    if args.profile and args.url:
        raise UsageError("--profile samples the stacks of a server this tool started; a --url "
                         "server is not ours to attach perf to: drop --profile or --url")
    if args.pin and args.url:
        raise UsageError("--pin keeps the servers this tool starts apart from the load generator; "
                         "a --url server was not started here: drop --pin")
    if args.pin is None:
        args.pin = PIN_BY_DEFAULT and not args.url
    if args.summary is not None:
        check_writable("--summary", Path(args.summary))
    if args.no_build and (args.demo or args.url):
        raise UsageError("--no-build only applies to a build from the HBF checkout")


def check_writable(flag: str, path: Path) -> None:
    """A file the run appends to at its end: its folder must exist and take writes now."""
    folder = path.parent if str(path.parent) else Path(".")
    if path.is_dir() or not folder.is_dir() or not os.access(folder if not path.exists() else path, os.W_OK):
        raise UsageError(f"{flag} {path}: cannot append there (a folder, or a folder that does not exist "
                         "or is not writable); give a file in a writable folder")


def check_bisect(args: argparse.Namespace) -> None:
    """--bisect builds and measures revisions of the checkout side by side
    against OLD: the flags that pick another server or baseline do not fit."""
    clashing = [flag for flag, on in (
        ("--demo", args.demo), ("--url", args.url), ("--binary", args.binary),
        ("--no-build", args.no_build), ("--side-by-side", args.side_by_side),
        ("--against", args.against), ("--baseline-binary", args.baseline_binary),
        ("--baseline-server-arg", args.baseline_server_arg is not None),
        ("--baseline", args.baseline), ("--profile", args.profile), ("--pin", args.pin)) if on]
    if clashing:
        raise UsageError(f"--bisect builds OLD and NEW and measures each commit against OLD; "
                         f"drop {' and '.join(clashing)}")
    if args.repeat is None:
        args.repeat = 5
    if args.repeat < 3:
        raise UsageError(f"--bisect measures side by side, which compares pairs of samples: it needs "
                         f"--repeat 3 or more (5 recommended), not {args.repeat}")


def check_url(flag: str, url: str, allow_remote: bool) -> None:
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise UsageError(f"{flag} {url!r} must look like http://127.0.0.1:5309")
    if parts.path not in ("", "/") or parts.query:
        raise UsageError(f"{flag} {url!r} must be the server's root (endpoints add their own paths)")
    if not allow_remote and not is_loopback(parts.hostname):
        raise UsageError(f"{flag} {url!r} is not on this machine (loopback); "
                         "add --allow-remote if you really mean to load another host")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
