"""`python3 -m tests`: the whole suite, several test modules at once.

Most of the suite's time is spent waiting: on a server to answer /health, on
ab to finish its requests, on a stopped HBF's 2-second poll. So independent
modules run side by side, each in its own `python3 -m unittest -v MODULE`
process (nothing is shared between them but the machine: every test already
takes free loopback ports and its own temporary directories). Each module's
output is printed whole when it ends, then one summary line.

test_zz_leftovers runs alone after all the others, as it does under
`python3 -m unittest`: it checks that no process the suite started is still
running, which only means something once every other module has ended.

`python3 -m unittest` still runs the same tests one module after the other
(and pytest finds them too); this is only the faster way to run them all.
  python3 -m tests                 # all modules, --jobs at once
  python3 -m tests -j 1            # one at a time
  python3 -m tests test_parser ... # some modules
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path


TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
LAST = "test_zz_leftovers"
# Started first, so that the longest modules do not start last and leave the
# other workers idle at the end (measured with per-class timings, 2026-12-04);
# the rest follow largest file first, a fair proxy for their length.
LONGEST_FIRST = ("test_docs", "test_faults", "test_against", "test_profile", "test_confirm",
                 "test_bisect", "test_side_by_side", "test_benchmark_e2e", "test_engines_e2e")


@dataclass
class ModuleResult:
    module: str
    returncode: int
    output: str
    seconds: float

    @property
    def tests_run(self) -> int:
        found = re.findall(r"^Ran (\d+) tests? in", self.output, re.M)
        return int(found[-1]) if found else 0

    @property
    def outcome(self) -> str:
        """unittest's closing line: "OK", "OK (skipped=2)", "FAILED (failures=1)"."""
        found = re.findall(r"^(OK.*|FAILED.*)$", self.output, re.M)
        return found[-1] if found else f"no result (exit status {self.returncode})"


def modules(names: list[str]) -> list[str]:
    every = sorted(p.stem for p in TESTS.glob("test_*.py"))
    if names:
        unknown = [n for n in names if n.removeprefix("tests.") not in every]
        if unknown:
            raise ValueError(f"no test module {unknown[0]!r} (they are: {', '.join(every)})")
        return [n.removeprefix("tests.") for n in names]
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    size = {name: (TESTS / f"{name}.py").stat().st_size for name in every}
    return sorted(every, key=lambda n: (rank.get(n, len(rank)), -size[n]))


SUITE_TAG = uuid.uuid4().hex


def run_module(module: str) -> ModuleResult:
    # Its own tag: a module that checks "nothing I started is left" must not
    # see the servers of the modules running beside it (see tests/__init__.py).
    env = {**os.environ, "HBF_BENCH_SUITE_TAG": SUITE_TAG, "HBF_BENCH_TEST_TAG": f"{SUITE_TAG}-{module}"}
    start = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "unittest", "-v", f"tests.{module}"], cwd=REPO, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace")
    return ModuleResult(module, done.returncode, done.stdout, time.monotonic() - start)


def report(result: ModuleResult) -> None:
    print(f"==== tests.{result.module}: {result.tests_run} tests, {result.outcome}, "
          f"{result.seconds:.1f} s", flush=True)
    if result.returncode != 0 or os.environ.get("HBF_BENCH_TEST_VERBOSE"):
        print(result.output, flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python3 -m tests", description=__doc__.split("\n\n")[0])
    parser.add_argument("-j", "--jobs", type=int, default=max(2, min(4, (os.cpu_count() or 1) + 1)),
                        help="modules at once (default: CPUs + 1, from 2 to 4: the modules mostly wait)")
    parser.add_argument("module", nargs="*", help="test modules to run (default: all)")
    args = parser.parse_args()
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")
    try:
        chosen = modules(args.module)
    except ValueError as error:
        parser.error(str(error))
    start = time.monotonic()
    results = []
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        running = [pool.submit(run_module, m) for m in chosen if m != LAST]
        for finished in as_completed(running):
            result = finished.result()
            results.append(result)
            report(result)
    if LAST in chosen:
        results.append(run_module(LAST))
        report(results[-1])
    failed = [r.module for r in results if r.returncode != 0]
    total = sum(r.tests_run for r in results)
    print(f"\nRan {total} tests in {len(results)} modules in {time.monotonic() - start:.1f} s, "
          f"{args.jobs} at once: " + (f"FAILED: {', '.join(failed)}" if failed else "OK"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
