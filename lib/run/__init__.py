"""One benchmark run, top to bottom: benchmark.py's flags (options) as a
plan (plans) over a suite (suite); each endpoint measured (measure) and
judged ok/failed/crashed (results) by the orchestration (runner); the
baseline side of a side-by-side run (baselines), confirmation of a moved
endpoint (confirm), and --bisect (bisection).

May import: lib.core, lib.machine, lib.db, lib.server, lib.load, lib.builds,
lib.judge, lib.explain.
"""
