"""The measurement of one endpoint on one server: warm up, take the samples
(the server's CPU and memory from /proc around each, and from /proc/stat the
CPU time the hypervisor stole and the machine's other load: lib/machine/cpus.py),
find out whether the server survived each one, and hand back the result row
and the samples.

What the figures mean (status, medians, log summary) is lib/run/results.py's;
which servers run and when they restart is lib/run/runner.py's.
"""
from __future__ import annotations

import os
import subprocess
import sys
from urllib.parse import urlsplit

from lib.machine import cpus, procstats
from lib.load import engines
from lib.explain import probe, profiler, stacks
from lib.run import results
from lib.core.console import end_progress, progress_printer, say
from lib.core.loadresult import LoadResult
from lib.server import HbfServer, health_ok
from lib.run.suite import Endpoint
from lib.core.text import now_text, slug, status_line


def default_warmup(requests: int, concurrency: int) -> int:
    """One request per connection slot, at least 10: enough to take HBF's
    lazy set-up, SQLite's page cache and the TCP paths once. HBF builds a fresh
    QuickJS runtime per request, so there is no JIT to warm and more warmup only
    costs time (a lot of it on slow endpoints such as the file listing)."""
    return min(requests, max(10, concurrency))


def base_row(endpoint: Endpoint, requests: int, concurrency: int, plan) -> dict:
    """The columns every result row has, measured or not."""
    return {
        "category": endpoint.category, "endpoint": endpoint.name,
        "requests": requests, "concurrency": concurrency,
        "method": endpoint.method, "path": endpoint.path, "server": endpoint.server,
        "engine": plan.engine, "engine_version": plan.engine_version,
        "keepalive": int(plan.keepalive), "started_at": now_text(),
        "setup_fingerprint": endpoint.setup_fingerprint,
    }


class EndpointMeasurement:
    """One endpoint on one server: warm up, take samples, classify, and hand
    back the result row (medians of the samples) and the samples.

    `plan` is the run's RunPlan and `slot` the role's Slot (lib/run/runner.py).
    The runner may give the slot a new URL between samples (a renewed server);
    a server that cannot be renewed marks the slot for a restart."""

    def __init__(self, plan, slot, endpoint: Endpoint, requests: int, concurrency: int) -> None:
        self.plan, self.slot, self.endpoint = plan, slot, endpoint
        self.requests, self.concurrency = requests, concurrency
        self.row = base_row(endpoint, requests, concurrency, plan)
        self.log_start = slot.server.log_size() if slot.server else 0
        self.samples: list[dict] = []
        self.last_result = None
        self.status, self.error, self.crash = "ok", None, None
        self.stopped = False  # crashed, hung, or the load generator gave up: no more samples
        self.profile: dict | None = None  # --profile: the stored profile's columns (db.PROFILE_COLUMNS)
        self.profile_note: str | None = None  # why there is none
        self.fresh_servers = False  # a new server process for every sample (side by side)
        # The CPUs whose stolen and other busy time each sample records: the
        # pinned ones, else all this process may use.
        pin = getattr(plan, "pin", None)
        self.watched = pin.cpus if pin else os.sched_getaffinity(0)

    @property
    def url(self) -> str:
        return self.slot.url + self.endpoint.path  # a renewed server may have a new port

    def server_lost(self, error: str) -> None:
        """The server could not be renewed: no more samples, and the slot is restarted later."""
        if results.SEVERITY["failed"] > results.SEVERITY[self.status]:
            self.status, self.error = "failed", error
        self.stopped = True
        self.slot.needs_restart = True

    def set_up(self) -> None:
        """The endpoint's `setup` requests, before its warmup, not measured: the
        state users have (200 files in the folder a listing lists). Sent again
        to every fresh server. A non-2xx answer fails the endpoint, with it as the probe."""
        for request in self.endpoint.setup:
            for i in range(1, request.count + 1):
                numbered = request.numbered(i)
                answer = probe.ask(self.slot.url + numbered.path, numbered, timeout=self.plan.request_timeout)
                if not probe.answered_2xx(answer):
                    self.status, self.stopped = "failed", True
                    self.error = (f"setup failed: {status_line(answer) or answer} for {numbered.method} {numbered.path} "
                                  f"(setup request {i} of {request.count})")
                    self.row["probe"] = answer
                    return

    def warm_up(self) -> None:
        if self.stopped:
            return
        self.set_up()
        if self.stopped:
            return
        plan = self.plan
        warmup = (default_warmup(self.requests, self.concurrency) if plan.warmup is None
                  else min(plan.warmup, self.requests))
        self.row["warmup_requests"] = warmup
        if not warmup:
            return
        run = engines.run(plan.engine, self.url, self.endpoint, requests=warmup,
                          concurrency=min(self.concurrency, warmup), timeout_s=plan.request_timeout,
                          keepalive=plan.keepalive)
        self.row["warmup_s"] = run.result.time_taken_s
        status, error, crash = self._classify(run.result, warmup)
        if status in ("crashed", "timeout"):  # nothing left to measure
            self.status, self.error, self.crash = status, f"during warmup: {error}", crash
            self.stopped = True
        # Failed answers during warmup show up in the samples too: judged there.

    def take_sample(self, number: int) -> None:
        if self.stopped:
            return
        plan, server = self.plan, self.slot.server
        side = f"{server.side} " if server and server.side else ""
        machine_before = cpus.snapshot(self.watched)
        before = procstats.snapshot(server.pid) if server else None
        run = engines.run(plan.engine, self.url, self.endpoint, requests=self.requests,
                          concurrency=self.concurrency, timeout_s=plan.request_timeout,
                          keepalive=plan.keepalive, rate=plan.rate,
                          progress=progress_printer(side, number, plan.repeat))
        after = procstats.snapshot(server.pid) if server else None
        machine_after = cpus.snapshot(self.watched)
        end_progress()
        status, error, crash = self._classify(run.result, self.requests)
        self.last_result = run.result
        sample = results.sample_row(run, before, after)
        sample.update(cpus.sample_figures(machine_before, machine_after,
                                          after.cpu_s - before.cpu_s if before and after else None))
        self.samples.append(sample)
        # The endpoint's status is its worst sample's: a later good sample
        # does not hide a failed one.
        if results.SEVERITY[status] > results.SEVERITY[self.status]:
            self.status, self.error, self.crash = status, error, crash
        if results.ends_endpoint(status, run.result):
            self.stopped = True  # the server is gone, or the load generator gave up

    def take_profiled_sample(self) -> None:
        """--profile: one more sample with perf recording the server's stacks
        (lib/explain/profiler.py), after the measured ones so they stay unprofiled.
        Its req/s shows perf's cost; a crash during it is handled like any
        sample's, and its profile is discarded."""
        server = self.slot.server
        if self.stopped or server is None or not server.alive():
            return
        plan = self.plan
        side = f"{server.side}-" if server.side else ""
        path = plan.log_dir / f"{slug(self.endpoint.name)}-{side}c{self.concurrency}-{server.pid}.perf.data"
        recording = profiler.Recording(server.pid, path, plan.profile_freq)
        say(f"profiling {self.endpoint.name} on the {server.name} server: one more sample under "
            f"perf record -g -F {plan.profile_freq}")
        # Whatever happens (a crash, Ctrl-C at any point), perf is stopped and
        # its data file removed before this returns or raises.
        try:
            recording.start()
            run = engines.run(plan.engine, self.url, self.endpoint, requests=self.requests,
                              concurrency=self.concurrency, timeout_s=plan.request_timeout,
                              keepalive=plan.keepalive, rate=plan.rate)
            wrote = recording.stop()
            status, error, crash = self._classify(run.result, self.requests)
            if status != "ok" and results.SEVERITY[status] > results.SEVERITY[self.status]:
                self.status, self.error, self.crash = status, f"during the profiled sample: {error}", crash
            if results.ends_endpoint(status, run.result) or not wrote:
                self.profile_note = recording.error or f"no profile: the profiled sample was {status}"
                self.stopped = self.stopped or results.ends_endpoint(status, run.result)
                return
            text = profiler.script(path)
        except (profiler.ProfilerError, OSError, subprocess.SubprocessError) as exc:
            # perf's trouble costs the profile, never the endpoint's measured samples.
            self.profile_note = f"no profile: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
            return
        finally:
            recording.stop()
            recording.discard()
        self.profile = stacks.stored_profile(text, server=_server_objects(server.command[0]),
                                             frequency=plan.profile_freq,
                                             requests=run.result.complete_requests,
                                             requests_per_sec=run.result.requests_per_sec)
        self.profile["perf_version"] = plan.perf_version

    def finish(self) -> tuple[dict, list[dict]]:
        row = self.row
        row.update(results.aggregate(self.samples, same_process=not self.fresh_servers))
        if self.last_result is not None:
            row.update(results.detail(self.last_result))  # breakdowns and tables: the last sample's
        row["sample_count"] = len(self.samples)
        row.update(status=self.status, error=self.error, crash_signal=self.crash, finished_at=now_text())
        server = self.slot.server
        if server:
            # What the server wrote while this endpoint ran, in its own words.
            row.update(results.log_summary(server.log_between(self.log_start)))
            if self.status == "crashed":
                row["server_log_tail"] = server.log_tail(20)
        if row.get("non_2xx") and self.status == "failed" and (server is None or server.alive()):
            # "300 non-2xx answers" does not say 404 or 500: ask once more,
            # alone (after the log was read: its line is not the load's).
            row["probe"] = probe.ask(self.url, self.endpoint)
        return row, self.samples

    def _classify(self, result: LoadResult, requests: int) -> tuple[str, str | None, str | None]:
        """Find out what became of the server, then let lib/run/results.py judge the run."""
        server = self.slot.server
        url_answers = None
        if server is None and results.url_check_needed(result):
            url_answers = _url_healthy(self.slot.url)
        return results.classify(
            result, requests, server_name=self.slot.name, expect_status=self.endpoint.expect_status,
            server_exit_code=_exit_code_after(server, result) if server is not None else None,
            url=self.slot.url, url_answers=url_answers)


def _exit_code_after(server: HbfServer, result: LoadResult) -> int | None:
    """The server's exit status if it died during this load run, else None.
    A server that dies may take a moment to be reaped (a core dump being
    written): when the connection itself went away, give it a few seconds."""
    if server.alive():
        if result.finished or server.wait_exit(5.0 if results.connection_lost(result) else 0.5) is None:
            return None
    return server.proc.returncode


def _server_objects(program: str) -> list[str]:
    """The objects whose frames are the server's own code: its binary (a
    Python interpreter for the stand-in, with its libpython beside it)."""
    real = os.path.realpath(program)
    names = [real, os.path.basename(real)]
    if os.path.basename(real).startswith("python"):
        names.append(f"libpython{sys.version_info.major}.{sys.version_info.minor}.so.1.0")
    return names


def _url_healthy(url: str) -> bool:
    parts = urlsplit(url)
    return health_ok(parts.port or 80, host=parts.hostname or "127.0.0.1")
