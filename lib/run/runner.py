"""One benchmark run, top to bottom: the orchestration.

    create the run row (status running)
    build HBF if asked            -> lib/builds/workspace.py
    start the servers             -> lib/server.py
    for each endpoint (and concurrency level):
        measure it on its server  -> lib/run/measure.py (warmup, samples, engines)
        (--side-by-side: a baseline's servers too, samples alternating)
        restart a server that died or hung; a crash's backtrace -> lib/explain/backtrace.py
        commit the endpoint's row and samples    -> lib/db.py
    stop the servers (always), set the run's final status

What a load run means (ok / failed / crashed / timeout, medians) is
lib/run/results.py's; what is printed on the way, lib/core/console.py's.

Ctrl-C and SIGTERM become an `Interrupted` exception (lib/core/interrupts.py), so
the same `finally` that stops the servers runs on every path out. Later
signals are only reported, so a second Ctrl-C cannot cut the cleanup short;
while a process is being spawned or the run's row written, the exception
waits until that is done. A refusal (lib/core/errors.py BenchError) of the
server, the build, the database or an engine ends the run as `failed` with
its one line.

benchmark.py uses RunPlan, BaselineSide, execute and default_warmup.
"""
from __future__ import annotations

import json
import signal
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Callable

from lib.builds import binaries
from lib.explain.backtrace import NOT_REQUESTED, capture_for
from lib.core.console import one_line, say
from lib.machine.cpus import Pinning, running_on
from lib.db import Database, DbError, dumps
from lib.judge import limits as limit_rules
from lib.core.errors import BenchError
from lib.core.interrupts import Interrupted, deferred, signals_as_exceptions
from lib.run.measure import EndpointMeasurement, base_row, default_warmup
from lib.server import (STOP_GRACE_S, HbfServer, ServerError, choose_port, describe_exit,
                        port_is_free, start_servers, stop_servers)
from lib.run.suite import Endpoint, Suite
from lib.core.text import now_text

__all__ = ["BaselineSide", "RunPlan", "Outcome", "execute", "default_warmup"]

MAX_RESTARTS_PER_SERVER = 3


@dataclass
class BaselineSide:
    """--side-by-side: a second set of servers measured in the same run, its
    samples interleaved with the candidate's, stored as a run of its own."""
    server_command: list[str] | None  # None: the candidate's own command
    server_args: list[str]
    run_row: dict
    build: Callable[[], list[str]] | None = None  # --against REV: build it, then run this command


@dataclass
class RunPlan:
    suite: Suite
    requests: int
    concurrency_levels: list[int]
    repeat: int
    warmup: int | None  # None: default_warmup()
    request_timeout: float
    keepalive: bool
    engine: str
    engine_version: str | None
    rate: float | None
    # How servers come about: a command to start (binary, stand-in, or one a
    # build step produces), or URLs of servers already running.
    server_command: list[str] | None
    build: Callable[[], list[str]] | None
    urls: dict[str, str | None] | None
    ports: dict[str, int]
    server_args: list[str]
    startup_timeout: float
    backtrace: bool
    log_dir: Path
    run_row: dict  # metadata for benchmark_runs
    baseline_side: BaselineSide | None = None
    # The kept-binary store (lib/builds/binaries.py): where, how many runs' binaries
    # to keep, and the stand-in's script (whose identity is script + flags).
    binary_store: Path | None = None
    keep_binaries: int = binaries.DEFAULT_KEEP
    standin: Path | None = None
    # --profile: perf's sampling frequency (None: no profiles) and version.
    profile_freq: int | None = None
    perf_version: str | None = None
    # --pin: the servers start on pin.server; this process (which runs ab and
    # wrk, and is the built-in Python engine) runs on pin.load during the run.
    pin: Pinning | None = None
    # Absolute bounds checked on each result as it is stored (lib/judge/limits.py).
    limits: list = field(default_factory=list)

    def steps(self) -> list[tuple[Endpoint, int, int]]:
        """(endpoint, requests, concurrency) in run order."""
        steps = []
        for endpoint in self.suite.endpoints:
            levels = [endpoint.concurrency] if endpoint.concurrency else self.concurrency_levels
            for level in levels:
                steps.append((endpoint, endpoint.requests or self.requests, level))
        return steps


@dataclass
class Slot:
    """Where one role's endpoints go: a server we started, or a URL we were given."""
    role: str
    url: str | None
    server: HbfServer | None = None
    restarts: int = 0
    needs_restart: bool = False  # crashed or hung during an endpoint; stopped already
    down: str | None = None  # why this role can no longer be measured
    stop_notes: list[str] = field(default_factory=list)  # its server did not exit cleanly when stopped

    @property
    def name(self) -> str:
        return self.server.name if self.server else self.role


@dataclass
class Outcome:
    run_id: int
    status: str
    exit_code: int
    error: str | None = None
    events: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # said in `error`, but the run is not partial for them
    crash: Exception | None = None  # an internal error to re-raise after cleanup
    baseline: "Outcome | None" = None  # side by side: the baseline run's outcome


@dataclass
class Arm:
    """One set of servers and the run its results go to. A plain run has one;
    --side-by-side has a baseline arm and a candidate arm."""
    side: str | None  # None, "baseline" or "candidate"
    outcome: Outcome
    slots: dict[str, Slot] = field(default_factory=dict)


# Where a side-by-side baseline's servers go: beside --port and --dev-port.
BASELINE_PORT_OFFSET = 2
# Side by side, servers are renewed between samples: HBF runs --inmem, so
# there is nothing to lose by not waiting long for a clean exit (a poked HBF
# is gone in milliseconds; lib/server.py).
RENEW_GRACE_S = 1.0


def execute(plan: RunPlan, db: Database) -> Outcome:
    """Run the plan, storing as it goes. Never raises for faults of the
    server, the build, the database or the engine: they end up in the Outcome
    (the candidate's, with the baseline's attached in a side-by-side run)."""
    started = time.monotonic()
    arms: list[Arm] = []
    with signals_as_exceptions(), running_on(plan.pin.load if plan.pin else None):
        try:
            with deferred():  # a Ctrl-C now waits until the run rows exist, then lands below
                arms.extend(_create_runs(plan, db))
            try:
                _prepare_slots(plan, db, arms)  # the finally below stops whatever started
                _measure_all(plan, db, arms)
            finally:
                _stop_and_note([slot for arm in arms for slot in arm.slots.values()])
        except Interrupted as stop:
            if not arms:
                raise
            _end_all(arms, "interrupted", 128 + stop.signum,
                     f"interrupted by {signal.Signals(stop.signum).name}")
            stop_servers(_servers(arms), grace=2.5)
        except BenchError as exc:  # a refusal of the server, build, database or engine
            if not arms:
                raise  # no run row to record it in
            _end_all(arms, "failed", exc.exit_code, str(exc))
        except Exception as exc:  # a bug of ours: record it, then let it surface
            if not arms:
                raise
            _end_all(arms, "failed", 1, f"internal error: {exc!r}")
            arms[-1].outcome.crash = exc
        # Recording the outcome must not be cut short by a late Ctrl-C (it may
        # wait for a busy database): a signal now is held until it is written.
        with deferred():
            for arm in arms:
                arm.outcome.notes = _counted([n for slot in arm.slots.values() for n in slot.stop_notes])
                _record_outcome(db, arm.outcome, started)
    _prune_binaries(plan, db)
    outcome = arms[-1].outcome
    if len(arms) > 1:
        outcome.baseline = arms[0].outcome
    return outcome


def _keep_binaries(plan: RunPlan, db: Database, arms: list[Arm]) -> None:
    """Store each arm's binary identity on its run and keep the binary, so a
    later run can be measured against this one side by side."""
    for arm in arms:
        server = next((slot.server for slot in arm.slots.values() if slot.server), None)
        if server is None:
            continue
        identity = binaries.identify(server.command, server.extra_args, plan.standin)
        db.update_run(arm.outcome.run_id, binary_sha256=identity.sha256,
                      server_args=json.dumps(binaries.effective_args(server.command, server.extra_args)))
        if plan.binary_store is not None and plan.keep_binaries > 0:
            try:
                binaries.keep(identity, plan.binary_store)
            except binaries.StoreError as exc:  # the run measures on; it only cannot be re-run later
                say(f"{exc}; this run's binary is not kept (free some space, or --keep-binaries 0 "
                    "to keep none: that also removes the binaries kept so far)")


def _prune_binaries(plan: RunPlan, db: Database) -> None:
    if plan.binary_store is None:
        return
    try:
        binaries.prune(plan.binary_store, db.binaries_to_keep(plan.keep_binaries), db.binary_hashes())
    except (OSError, DbError) as exc:  # the run is stored; the store is only tidied next time
        say(f"could not tidy the kept binaries in {plan.binary_store}: {exc}")


def _create_runs(plan: RunPlan, db: Database) -> list[Arm]:
    """The run row (status running); side by side, the baseline's first, so
    the candidate is the latest run and each names the other."""
    if plan.baseline_side is None:
        return [Arm(None, Outcome(db.create_run({**plan.run_row, "status": "running"}), "running", 0))]
    baseline_id, candidate_id = db.create_run_pair(
        {**plan.baseline_side.run_row, "status": "running"}, {**plan.run_row, "status": "running"})
    return [Arm("baseline", Outcome(baseline_id, "running", 0)),
            Arm("candidate", Outcome(candidate_id, "running", 0))]


def _servers(arms: list[Arm]) -> list[HbfServer]:
    return [slot.server for arm in arms for slot in arm.slots.values() if slot.server]


def _stop_and_note(slots: list[Slot], grace: float = STOP_GRACE_S) -> None:
    """Stop the slots' servers together. One that does not exit cleanly
    (killed after the grace, or a bad exit status) is said on stderr and noted
    on its slot: the run's `error` says so, but the measurements stand."""
    by_server = {id(slot.server): slot for slot in slots if slot.server is not None}
    for server, sentence in stop_servers([slot.server for slot in slots if slot.server is not None], grace):
        say(sentence)
        by_server[id(server)].stop_notes.append(sentence)


def _counted(sentences: list[str]) -> list[str]:
    """Each distinct sentence once, with how often it was said (side by side, a
    server that will not stop does so at every sample)."""
    counts: dict[str, int] = {}
    for sentence in sentences:
        counts[sentence] = counts.get(sentence, 0) + 1
    return [sentence + (f" ({n} times)" if n > 1 else "") for sentence, n in counts.items()]


def _end_all(arms: list[Arm], status: str, exit_code: int, error: str) -> None:
    for arm in arms:
        arm.outcome.status, arm.outcome.exit_code, arm.outcome.error = status, exit_code, error


def _record_outcome(db: Database, outcome: Outcome, started: float) -> None:
    if outcome.status == "running":
        problems = [r for r in db.results(outcome.run_id, with_samples=False) if r["status"] != "ok"]
        # A server that died between endpoints is a crash too, even if every
        # endpoint was measured after its restart.
        outcome.status = "partial" if problems or outcome.events else "complete"
        outcome.exit_code = 1 if problems or outcome.events else 0
    try:
        db.update_run(outcome.run_id, status=outcome.status, exit_code=outcome.exit_code,
                      error="; ".join(filter(None, [outcome.error, *outcome.events, *outcome.notes])) or None,
                      finished_at=now_text(), duration_s=round(time.monotonic() - started, 3))
    except DbError as exc:
        say(f"could not record the run's final status: {exc}")
        outcome.error = outcome.error or str(exc)
        outcome.exit_code = outcome.exit_code or 2
    return outcome


def _prepare_slots(plan: RunPlan, db: Database, arms: list[Arm]) -> None:
    """Fill each arm's slots with a server (started) or a given URL per role."""
    roles = plan.suite.servers
    if plan.urls is not None:  # one arm: --side-by-side starts its own servers
        slots = arms[0].slots
        for role in roles:
            url = plan.urls.get(role)
            slots[role] = Slot(role, url, down=None if url else
                               f"no --{'dev-' if role == 'dev' else ''}url given for {role} endpoints")
            if not url:
                say(f"skipping {role} endpoints: {slots[role].down}")
        return
    command = plan.build() if plan.build else plan.server_command
    if plan.baseline_side is not None and plan.baseline_side.build is not None:
        plan.baseline_side.server_command = plan.baseline_side.build()
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    taken: set[int] = set()
    # The candidate's servers choose first: they get --port and --dev-port.
    for arm in sorted(arms, key=lambda arm: arm.side == "baseline"):
        baseline = plan.baseline_side if arm.side == "baseline" else None
        for role in roles:
            wanted = plan.ports[role] + (BASELINE_PORT_OFFSET if baseline else 0)
            port, note = choose_port(wanted, taken)
            if note and wanted not in taken:  # (a port of our own other server: no news)
                say(f"{f'{arm.side} ' if baseline else ''}{role} server: {note}")
            taken.add(port)
            server = HbfServer(role, (baseline.server_command or command) if baseline else command, port,
                               plan.log_dir / f"run{arm.outcome.run_id}-{stamp}-{role}.log",
                               extra_args=list(baseline.server_args if baseline else plan.server_args),
                               side=arm.side or "", cpus=plan.pin.server if plan.pin else None)
            arm.slots[role] = Slot(role, server.url, server)
    # What each run measures is stored as soon as it is known, before the
    # servers start: a binary kept by a build is then a running run's, which
    # no other run's pruning removes (db.binaries_to_keep).
    _keep_binaries(plan, db, arms)
    servers = _servers(arms)
    say("starting " + ", ".join(f"{s.name} server on port {s.port}" for s in servers))
    _start_on_free_ports(plan, servers, taken)
    for arm in arms:
        for slot in arm.slots.values():
            slot.url = slot.server.url
    say("ready: " + ", ".join(f"{s.name} in {s.ready_after_s:.2f} s" for s in servers))


# A port can be grabbed by another run between our check and the server's
# bind (two runs started at once on the default ports): each try moves the
# servers that lost theirs to ports the kernel hands out.
START_TRIES = 4


def _start_on_free_ports(plan: RunPlan, servers: list[HbfServer], taken: set[int]) -> None:
    for attempt in range(1, START_TRIES + 1):
        try:
            start_servers(servers, plan.startup_timeout)
            return
        except ServerError:
            # Lost its port: the port is still held, or (the other run's server
            # may be gone again by now) its log has the bind error, EADDRINUSE.
            busy = [s for s in servers if not s.alive()
                    and (not port_is_free(s.port) or "in use" in s.log_tail().lower())]
            if not busy or attempt == START_TRIES:
                raise
            for server in busy:
                server.port, _ = choose_port(server.port, taken | {server.port})
                taken.add(server.port)
                say(f"{server.name} server: its port was taken while starting; retrying on {server.port}")


def _measure_all(plan: RunPlan, db: Database, arms: list[Arm]) -> None:
    steps = plan.steps()
    for number, (endpoint, requests, concurrency) in enumerate(steps, 1):
        label = f"[{number}/{len(steps)}] {endpoint.category} {endpoint.name}"
        if len(plan.concurrency_levels) > 1 or endpoint.concurrency:
            label += f" c={concurrency}"
        measurements: list[tuple[Arm, EndpointMeasurement]] = []
        for arm in arms:
            slot = arm.slots[endpoint.server]
            side = f" ({arm.side})" if arm.side else ""
            if slot.down is None and slot.server is not None:
                if slot.needs_restart:
                    _restart(plan, slot, arm.outcome)
                else:
                    _revive_if_dead(plan, slot, arm.outcome)
            if slot.down is not None:
                if plan.urls is not None and slot.url is None:
                    continue  # skipped dev endpoints of a --url run: said once already
                say(f"{label}{side}: not measured: {slot.down}")
                row = base_row(endpoint, requests, concurrency, plan)
                row.update(status="failed", error=f"not measured: {slot.down}")
                db.add_result(arm.outcome.run_id, _with_limits(plan, row))
                continue
            measurements.append((arm, EndpointMeasurement(plan, slot, endpoint, requests, concurrency)))
        if not measurements:
            continue
        say(f"{label} ({requests} requests, concurrency {concurrency}"
            + (", baseline and candidate samples alternating, fresh servers for each sample)"
               if len(measurements) > 1 else ")"))
        interleave(plan, [measurement for _, measurement in measurements])
        for arm, measurement in measurements:
            row, samples = measurement.finish()
            result_id = db.add_result(arm.outcome.run_id, _with_limits(plan, row), samples)  # stored before anything slow
            if measurement.profile is not None:
                db.add_profile(result_id, measurement.profile)
            elif measurement.profile_note and plan.profile_freq:
                say(f"{label}: {measurement.profile_note}")
            say(f"{label}{f' ({arm.side})' if arm.side else ''}: {one_line(row)}")
            if row["status"] in ("crashed", "timeout"):
                _after_crash_or_hang(plan, db, measurement, row, result_id, arm.outcome)


def _with_limits(plan: RunPlan, row: dict) -> dict:
    """The row with its checked limits, stored with it (NULL when none apply)."""
    checks = limit_rules.check(plan.limits, row)
    row["limits"] = dumps([c.to_json() for c in checks]) if checks else None
    return row


def interleave(plan: RunPlan, measurements: list[EndpointMeasurement]) -> None:
    """Warm up, then take `repeat` samples. Side by side, the samples go in
    ABBA order (baseline, candidate, candidate, baseline, ...) so a machine
    that slowly gets busier or quieter weighs on both sides alike, and every
    sample gets fresh server processes (as pyperf spreads a benchmark over
    many worker processes): two processes of one binary can differ by
    several percent for as long as they live, a bias alternation alone
    cannot cancel (docs/verdicts.md gives the figure measured for two stand-ins)."""
    fresh = len(measurements) > 1
    for measurement in measurements:
        measurement.fresh_servers = fresh
    for number in range(1, plan.repeat + 1):
        order = measurements if number % 2 else measurements[::-1]
        if fresh and number > 1:
            _renew_servers(plan, [m for m in order if not m.stopped])
        if number == 1 or fresh:
            for measurement in order:
                measurement.warm_up()
        for measurement in order:
            measurement.take_sample(number)
            if measurement.stopped and measurement.slot.server and len(measurements) > 1:
                # A crashed or hung server, or one the load generator gave up on, must
                # not weigh on the other side's samples.
                _stop_until_needed(measurement.slot)
    if plan.profile_freq:
        for measurement in measurements:
            measurement.take_profiled_sample()


def _stop_until_needed(slot: Slot) -> None:
    """Stop the slot's server now (a hung one is killed) and have the next
    endpoint that needs it restart it, rather than report that it died."""
    stop_servers([slot.server], grace=1.0)
    slot.needs_restart = True


def _renew_servers(plan: RunPlan, measurements: list[EndpointMeasurement]) -> None:
    """New processes for these measurements' servers, on the same ports when free."""
    servers = [m.slot.server for m in measurements if m.slot.server is not None]
    _stop_and_note([m.slot for m in measurements], grace=RENEW_GRACE_S)
    taken: set[int] = set()
    for server in servers:
        server.port, _ = choose_port(server.port, taken)
        taken.add(server.port)
    try:
        start_servers(servers, plan.startup_timeout)
    except ServerError as exc:
        for measurement in measurements:
            measurement.server_lost(f"its server did not start again for the next sample "
                                    f"({str(exc).splitlines()[0]})")
        return
    for measurement in measurements:
        measurement.slot.url = measurement.slot.server.url


def _after_crash_or_hang(plan: RunPlan, db: Database, measurement: EndpointMeasurement,
                         row: dict, result_id: int, outcome: Outcome) -> None:
    slot = measurement.slot
    if slot.server is None:
        # A server we did not start is not ours to restart.
        slot.down = f"the server at {slot.url} {row['status']} during {measurement.endpoint.name}"
        outcome.events.append(slot.down)
        return
    _stop_until_needed(slot)
    if row["status"] != "crashed":
        return
    if not plan.backtrace:
        db.set_backtrace(result_id, NOT_REQUESTED)
        return
    capture = capture_for(plan, slot, measurement.endpoint, measurement.requests,
                          measurement.concurrency, outcome.run_id)
    db.set_backtrace(result_id, capture.status, capture.backtrace, capture.port)


def _revive_if_dead(plan: RunPlan, slot: Slot, outcome: Outcome) -> None:
    if slot.server is None or slot.server.alive():
        return
    event = f"{slot.name} server {describe_exit(slot.server.proc.returncode)} between endpoints"
    say(event)
    outcome.events.append(event)
    _restart(plan, slot, outcome)


def _restart(plan: RunPlan, slot: Slot, outcome: Outcome) -> None:
    """Start the role's server afresh. A server that will not come back, or
    keeps dying, is given up on: its remaining endpoints are marked failed."""
    server = slot.server
    slot.needs_restart = False
    stop_servers([server], grace=1.0)  # a hung server is killed; a dead one reaped
    if slot.restarts >= MAX_RESTARTS_PER_SERVER:
        slot.down = f"the {slot.name} server died {slot.restarts + 1} times; not restarting it again"
        say(slot.down)
        outcome.events.append(slot.down)
        return
    slot.restarts += 1
    server.port, note = choose_port(server.port)
    if note:
        say(f"{slot.name} server: {note}")
    say(f"restarting the {slot.name} server (restart {slot.restarts})")
    try:
        start_servers([server], plan.startup_timeout)
    except ServerError as exc:
        first_line = str(exc).splitlines()[0]
        slot.down = f"the {slot.name} server did not come back after a restart ({first_line})"
        say(slot.down)
        outcome.events.append(slot.down)
        return
    slot.url = server.url
