"""What a load run means: pure functions from the figures of one load run
(and what is known of its server) to a status, a sample row, a result row
and a summary of the server's log.

No I/O and no processes here: lib/run/measure.py reads /proc, waits for the
server, asks a --url server whether it still answers and reads the log, then
passes what it found to these functions.
"""
from __future__ import annotations

import statistics

from lib.load.ab import EngineRun
from lib.db import dumps
from lib.core.loadresult import LoadResult
from lib.machine.procstats import ProcSnapshot, cpu_us_per_request
from lib.server import describe_exit, signal_name

# ab is single-threaded: above this share of one core, ab itself was the limit.
CLIENT_BOUND_CPU_PCT = 80.0
DISTINCT_LOG_LINES = 5
# An endpoint's status is its worst sample's, in this order.
SEVERITY = {"ok": 0, "failed": 1, "timeout": 2, "crashed": 3}


def connection_lost(result: LoadResult) -> bool:
    """The run stopped because the connection went away (reset, refused,
    broken pipe): a server that did so may still be being reaped."""
    return not result.finished and any(word in (result.error or "").lower()
                                       for word in ("reset", "refused", "broken"))


def url_check_needed(result: LoadResult) -> bool:
    """Whether a server we did not start (--url) must be asked if it still
    answers: only when the run stopped early, and not for a timeout."""
    return not result.finished and "timeout" not in (result.error or "").lower()


def classify(result: LoadResult, requests: int, *, server_name: str, expect_status=(),
             server_exit_code: int | None = None, url: str | None = None,
             url_answers: bool | None = None) -> tuple[str, str | None, str | None]:
    """(status, error, crash signal) of one load run of `requests` requests.

    server_exit_code: the exit status of a server we started that died
    during the run (None: it is still running). url_answers: whether a
    server we did not start still answered after the run stopped early
    (None: not asked). expect_status: the endpoint's expected statuses
    (empty: any 2xx)."""
    done = f"after {result.complete_requests} of {requests} requests" + (
        f" ({result.error})" if result.error else "")
    if server_exit_code is not None:
        return ("crashed", f"{server_name} server {describe_exit(server_exit_code)} {done}",
                signal_name(server_exit_code))
    if url_answers is False and url_check_needed(result):
        return "crashed", f"server at {url} stopped answering {done}", None
    if not result.finished:
        error = result.error or "the load generator stopped early"
        if "timeout" in error.lower() or "70007" in error:  # ab's APR_TIMEUP
            return "timeout", (f"no answer within the request timeout after {result.complete_requests}"
                               f" of {requests} requests ({error})"), None
        return "failed", error, None
    problems = answer_problems(result, requests, expect_status)
    if problems:
        return "failed", "; ".join(problems), None
    return "ok", None, None


def answer_problems(result: LoadResult, requests: int, expect_status=()) -> list[str]:
    """What is wrong with the answers of a run that finished: unexpected
    statuses, failed requests (with ab's breakdown), missing completions."""
    problems = []
    expect_non_2xx = bool(expect_status) and all(not 200 <= s < 300 for s in expect_status)
    if expect_non_2xx:
        if result.non_2xx != result.complete_requests:
            problems.append(f"{result.complete_requests - result.non_2xx} answers were 2xx, "
                            f"expected {'/'.join(map(str, expect_status))}")
    elif result.non_2xx:
        problems.append(f"{result.non_2xx} non-2xx answers")
    # With non-2xx answers, ab's length failures are those answers' other
    # lengths: already counted, as non-2xx.
    other_failures = result.failed_requests - (result.failed_length if result.non_2xx else 0)
    if other_failures > 0:
        kinds = ", ".join(f"{n} {k}" for k, n in (
            ("connect", result.failed_connect), ("receive", result.failed_receive),
            ("length", result.failed_length), ("exception", result.failed_exceptions)) if n)
        problems.append(f"{result.failed_requests} failed requests ({kinds or 'no breakdown'})")
    if result.complete_requests < requests:
        problems.append(f"only {result.complete_requests} of {requests} requests completed")
    return problems


def ends_endpoint(status: str, result: LoadResult) -> bool:
    """No more samples after this one: the server is gone or hung, or the
    load generator gave up."""
    return status in ("crashed", "timeout") or (status == "failed" and not result.finished)


def sample_row(run: EngineRun, before: ProcSnapshot | None, after: ProcSnapshot | None) -> dict:
    """One stored sample: the load run's figures, the server's CPU and memory
    from the /proc snapshots around it, and the client's share of a core."""
    result = run.result
    cpu_pct = (100.0 * run.client_cpu_s / run.wall_s) if run.client_cpu_s is not None and run.wall_s > 0 else None
    return {
        "time_taken": result.time_taken_s, "requests_per_sec": result.requests_per_sec,
        "time_per_request": result.time_per_request_ms, "transfer_rate": result.transfer_rate_kbps,
        "complete_requests": result.complete_requests, "failed_requests": result.failed_requests,
        "non_2xx": result.non_2xx, "p50_ms": result.p50_ms, "p90_ms": result.p90_ms,
        "p95_ms": result.p95_ms, "p99_ms": result.p99_ms, "max_ms": result.max_ms,
        "server_cpu_us_per_req": cpu_us_per_request(before, after, result.complete_requests),
        "server_rss_kb_before": before.rss_kb if before else None,
        "server_rss_kb_after": after.rss_kb if after else None,
        "server_rss_kb_peak": after.hwm_kb if after else None,
        "client_cpu_pct": round(cpu_pct, 1) if cpu_pct is not None else None,
        "client_bound": int(cpu_pct >= CLIENT_BOUND_CPU_PCT) if cpu_pct is not None else None,
    }


_MEDIAN_FIELDS = ("time_taken", "requests_per_sec", "time_per_request", "transfer_rate",
                  "p50_ms", "p90_ms", "p95_ms", "p99_ms", "max_ms", "server_cpu_us_per_req",
                  "client_cpu_pct", "steal_pct", "other_busy_pct")


def aggregate(samples: list[dict], same_process: bool = True) -> dict:
    """The result row holds the median of each figure over its samples, so a
    single-row reader (and the bash tool's SQL) sees a robust value. RSS
    growth spans all samples of one server process; with a fresh process
    per sample it is the largest growth within one sample."""
    def median_of(name):
        values = [s[name] for s in samples if s.get(name) is not None]
        return statistics.median(values) if values else None

    row = {name: median_of(name) for name in _MEDIAN_FIELDS}
    rates = [s["requests_per_sec"] for s in samples if s.get("requests_per_sec") is not None]
    row["rps_min"] = min(rates) if rates else None
    row["rps_max"] = max(rates) if rates else None
    # Counts: a typical sample's completions, but the worst sample's failures,
    # so a failure in any sample shows in the row.
    row["complete_requests"] = int(statistics.median_low(
        [s["complete_requests"] or 0 for s in samples])) if samples else 0
    row["failed_requests"] = max((s["failed_requests"] or 0 for s in samples), default=0)
    row["non_2xx"] = max((s["non_2xx"] or 0 for s in samples), default=0)
    befores = [s["server_rss_kb_before"] for s in samples if s.get("server_rss_kb_before") is not None]
    afters = [s["server_rss_kb_after"] for s in samples if s.get("server_rss_kb_after") is not None]
    peaks = [s["server_rss_kb_peak"] for s in samples if s.get("server_rss_kb_peak") is not None]
    row["server_rss_kb_before"] = befores[0] if befores else None
    row["server_rss_kb_after"] = afters[-1] if afters else None
    row["server_rss_kb_peak"] = max(peaks) if peaks else None
    if same_process:
        row["server_rss_kb_growth"] = (afters[-1] - befores[0]) if befores and afters else None
    else:
        growths = [s["server_rss_kb_after"] - s["server_rss_kb_before"] for s in samples
                   if s.get("server_rss_kb_before") is not None and s.get("server_rss_kb_after") is not None]
        row["server_rss_kb_growth"] = max(growths) if growths else None
    bound = [s["client_bound"] for s in samples if s.get("client_bound") is not None]
    row["client_bound"] = int(sum(bound) * 2 > len(bound)) if bound else None
    return row


def detail(result: LoadResult) -> dict:
    """Figures of the last sample that have no median (breakdowns, tables)."""
    return {
        "time_per_request_all": result.time_per_request_all_ms,
        "failed_connect": result.failed_connect, "failed_receive": result.failed_receive,
        "failed_length": result.failed_length, "failed_exceptions": result.failed_exceptions,
        "write_errors": result.write_errors,
        "connection_times": dumps(result.connection_times),
        "percentiles_source": result.percentiles_source,
    }


def log_summary(text: str) -> dict:
    """What the server wrote while an endpoint ran: how many lines, and the
    first few distinct ones with their counts, so a failure comes with the
    server's own words. hbf-bench's own marker lines do not count."""
    lines = [l.rstrip() for l in text.splitlines() if l.strip() and not l.startswith("--- hbf-bench")]
    counts: dict[str, int] = {}
    for line in lines:
        key = line[:400]
        if key in counts or len(counts) < DISTINCT_LOG_LINES:
            counts[key] = counts.get(key, 0) + 1
    return {"server_log_lines": len(lines),
            "server_errors": dumps([{"line": k, "count": n} for k, n in counts.items()])}
