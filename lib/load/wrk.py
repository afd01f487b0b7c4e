"""Drive wrk (https://github.com/wg/wrk, Debian package `wrk`) and read what it prints.

    wrk_version()                      -> "debian/4.1.0-3+b2" or None when not installed
    build_lua_script(...)              -> the Lua text run_wrk hands to wrk (-s)
    build_wrk_command(url, ...)        -> the argv list
    run_wrk(url, requests=..., concurrency=...) -> LoadResult (engine="wrk")
    parse_wrk_output(text)             -> LoadResult, a pure function

wrk is duration based, keeps its connections alive and measures with several
threads (default: min(concurrency, CPUs), rounded down so that it divides the
concurrency, because wrk gives each thread concurrency // threads connections).

How run_wrk counts requests
---------------------------
run_wrk always passes a small Lua script (written to a temporary file):
* `wrk.method`, `wrk.body`, `wrk.headers[...]` for the method, the body (PUT,
  POST), Content-Type and extra headers; `Connection: close` when
  keepalive=False (wrk then reconnects after every answer, like ab without -k).
* a `response` hook that counts answers by status and body bytes, per thread
  (every wrk thread has its own Lua state; `done` adds the threads up through
  `thread:get`). That gives the EXACT non-2xx count: wrk's own "Non-2xx or 3xx
  responses" line counts only statuses > 399, despite its wording.
* requests=N: each thread gets its share of N and stops itself
  (`wrk.thread:stop()`) when its share is answered; it prints a marker line and
  run_wrk sends wrk SIGINT when every thread has finished. wrk then prints its
  summary with the real elapsed time, so -d is only a ceiling (duration_s, or
  one hour). A thread may answer a few more than its share in its last event
  loop round: complete_requests can exceed N by less than the concurrency.
* `done` prints the exact figures: duration (µs), requests, bytes, errors,
  statuses, body bytes, and the latency percentiles p = 0..100 from wrk's
  histogram (1 µs buckets; percentiles_source="wrk"). Its lines start with
  "HBF-WRK " and parse_wrk_output reads them when present.
The response hook costs wrk some speed (it must parse headers and keep bodies);
exact counts are worth more here than wrk's top speed.

Stopping early (like ab's crash and timeout paths)
--------------------------------------------------
The Lua hook also prints a progress line for each thread at least once per
second while answers come in. When a thread that is not finished stays silent:
* for 1.5 s and a TCP connect to the URL's host and port is refused, the server
  is gone: run_wrk stops wrk (SIGINT), finished=False, error "connection refused
  (server stopped answering...)";
* for timeout_s + 1 s (the Lua clock has whole seconds), run_wrk stops wrk,
  finished=False, error mentions the timeout (wrk itself counts a timeout only
  when a late answer finally arrives).
complete_requests keeps what wrk counted. wrk's `--timeout` gets timeout_s
rounded up to whole seconds (wrk takes whole seconds).

wrk's timeouts are late answers: they are in complete_requests AND in
failed_exceptions (as wrk counts them), and their latencies are not in the
histogram; when every answer was late there are no percentiles at all.

Errors: wrk's "Socket errors: connect C, read R, write W, timeout T" become
failed_connect=C, failed_receive=R, write_errors=W, failed_exceptions=W+T, and
failed_requests=C+R+W+T. wrk counts every failed connect attempt of its
reconnect loop, so against a dead server C counts attempts, not requests.
There are no "connect"/"waiting" connection-time rows (wrk does not measure
them); "total" comes from wrk's latency statistics.

HEAD is refused (WrkError): wrk's parser would wait for the body a HEAD answer
never has. `unsupported(method)` holds that rule; lib/load/engines.py asks it before
a run starts, so such an endpoint is refused before any server is. wrk only
ever connects where the URL points; callers restrict URLs to loopback.
"""
from __future__ import annotations

import math
import os
import re
import selectors
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from typing import NamedTuple
from urllib.parse import urlsplit

from lib.core.errors import BenchError
from lib.core.interrupts import deferred
from lib.core.loadresult import LoadResult

__all__ = ["WrkError", "wrk_path", "wrk_version", "unsupported", "build_lua_script",
           "build_wrk_command", "pick_threads", "run_wrk", "parse_wrk_output"]

MARK = "HBF-WRK"
DEFAULT_CEILING_S = 3600
STALL_PROBE_S = 1.5


class WrkError(BenchError, ValueError):
    """wrk cannot run this (not installed, bad arguments)."""


def wrk_path() -> str | None:
    return shutil.which("wrk")


def wrk_version() -> str | None:
    """The version token wrk prints for -v, e.g. "debian/4.1.0-3+b2"; None if absent."""
    path = wrk_path()
    if path is None:
        return None
    try:
        out = subprocess.run([path, "-v"], stdin=subprocess.DEVNULL, capture_output=True,
                             text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    m = re.search(r"^wrk\s+(\S+)", out.stdout + out.stderr, re.M)
    return m.group(1) if m else None


def unsupported(method: str) -> str | None:
    """Why wrk cannot measure requests of this method, or None when it can."""
    if method.upper() == "HEAD":
        return ("wrk cannot measure HEAD (it waits for a body that never comes); "
                "use the ab or python engine")
    return None


def pick_threads(concurrency: int, cpus: int | None = None) -> int:
    """At most one thread per CPU and per connection, and a divisor of concurrency
    (wrk gives every thread concurrency // threads connections)."""
    t = max(1, min(concurrency, cpus or len(os.sched_getaffinity(0)) or 1))
    while concurrency % t:
        t -= 1
    return t


# ---- the Lua script ---------------------------------------------------------

def _lua_str(value: bytes | str) -> str:
    """A Lua string literal for any bytes (decimal escapes for everything unusual)."""
    data = value.encode("utf-8") if isinstance(value, str) else bytes(value)
    out = []
    for b in data:
        if 32 <= b < 127 and b not in (34, 92):
            out.append(chr(b))
        else:
            out.append(f"\\{b:03d}")
    return '"' + "".join(out) + '"'


# `done` runs once, after every thread stopped; each thread counted in its own
# Lua state, so it adds them up through thread:get before printing.
_LUA_DONE_HOOK = f"""
function done(summary, latency, requests)
  local st, body = {{}}, 0
  for _, t in ipairs(threads) do
    for code, n in pairs(t:get("statuses") or {{}}) do st[code] = (st[code] or 0) + n end
    body = body + (t:get("body_bytes") or 0)
  end
  local e = summary.errors
  io.write(string.format("{MARK} summary duration_us=%d requests=%d bytes=%d body_bytes=%d " ..
    "connect=%d read=%d write=%d status=%d timeout=%d\\n", summary.duration, summary.requests,
    summary.bytes, body, e.connect, e.read, e.write, e.status, e.timeout))
  local codes = {{}}
  for code, n in pairs(st) do table.insert(codes, string.format("%d=%d", code, n)) end
  table.sort(codes)
  io.write("{MARK} status " .. table.concat(codes, " ") .. "\\n")
  if summary.requests > 0 then
    io.write(string.format("{MARK} latency_us min=%d mean=%.2f stdev=%.2f max=%d\\n",
      latency.min, latency.mean, latency.stdev, latency.max))
    local p = {{}}
    for i = 0, 99 do table.insert(p, string.format("%d=%d", i, latency:percentile(i))) end
    table.insert(p, string.format("100=%d", latency.max))
    io.write("{MARK} percentiles_us " .. table.concat(p, " ") .. "\\n")
  end
  io.flush()
end
"""


def build_lua_script(*, method: str = "GET", body: bytes | str | None = None,
                     content_type: str | None = None, headers: dict[str, str] | None = None,
                     keepalive: bool = True, quotas: list[int] | None = None,
                     progress_step: int = 1000) -> str:
    """The script run_wrk gives wrk. quotas: requests per thread (None: no quota)."""
    lines = ["-- written by hbf-bench (lib/load/wrk.py)", f"wrk.method = {_lua_str(method)}"]
    if body is not None:
        lines.append(f"wrk.body = {_lua_str(body)}")
    if content_type:
        lines.append(f'wrk.headers["Content-Type"] = {_lua_str(content_type)}')
    for k, v in (headers or {}).items():
        lines.append(f"wrk.headers[{_lua_str(k)}] = {_lua_str(v)}")
    if not keepalive:
        lines.append('wrk.headers["Connection"] = "close"')
    lines.append(_lua_counting_hooks(quotas, progress_step) + _LUA_DONE_HOOK)
    return "\n".join(lines)


def _lua_counting_hooks(quotas: list[int] | None, progress_step: int) -> str:
    """The hooks every wrk thread runs: count answers by status and body bytes,
    stop at the thread's quota, and say how far it got (run_wrk watches that)."""
    quota_list = ", ".join(str(q) for q in (quotas or []))
    return f"""
local quotas = {{{quota_list}}}
local threads = {{}}
local made = 0

function setup(thread)
  made = made + 1
  thread:set("tid", made)
  thread:set("quota", quotas[made] or 0)
  table.insert(threads, thread)
end

function init(args)
  statuses = {{}}
  responses = 0
  body_bytes = 0
  last_tick = os.time()
end

function response(status, headers, body)
  responses = responses + 1
  statuses[status] = (statuses[status] or 0) + 1
  if body then body_bytes = body_bytes + #body end
  if quota > 0 and responses == quota then
    io.write(string.format("{MARK} done %d %d\\n", tid, responses))
    io.flush()
    wrk.thread:stop()
    return
  end
  local now = os.time()
  if now ~= last_tick or responses % {max(1, int(progress_step))} == 0 then
    last_tick = now
    io.write(string.format("{MARK} progress %d %d\\n", tid, responses))
    io.flush()
  end
end
"""


def build_wrk_command(url: str, *, duration_s: float, concurrency: int, threads: int,
                      timeout_s: float = 30, script_path: str | None = None,
                      latency: bool = True, wrk: str = "wrk") -> list[str]:
    """argv for wrk. Durations and the timeout are whole seconds for wrk (rounded up)."""
    if concurrency < threads:
        raise WrkError(f"wrk needs at least one connection per thread ({concurrency} < {threads})")
    cmd = [wrk, "-t", str(threads), "-c", str(concurrency),
           "-d", f"{max(1, math.ceil(duration_s))}s",
           "--timeout", f"{max(1, math.ceil(timeout_s))}s"]
    if latency:
        cmd.append("--latency")
    if script_path:
        cmd += ["-s", script_path]
    cmd.append(url)
    return cmd


# ---- parsing ----------------------------------------------------------------

_TIME_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}
_SIZE_UNITS = {"": 1, "K": 1024, "M": 1024 ** 2, "G": 1024 ** 3, "T": 1024 ** 4, "P": 1024 ** 5}
_NUM = r"([0-9]+(?:\.[0-9]+)?)"


def _ms(value: str, unit: str) -> float:
    return float(value) * _TIME_UNITS[unit]


def _bytes(value: str, unit: str) -> int:
    return int(round(float(value) * _SIZE_UNITS[unit]))


def _kv(line: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in line.split() if "=" in part)


class _SocketErrors(NamedTuple):
    """wrk's "Socket errors" counts (all zero when it printed none)."""
    connect: int = 0
    read: int = 0
    write: int = 0
    timeout: int = 0


def parse_wrk_output(text: str) -> LoadResult:
    """What wrk printed (stdout, optionally followed by stderr) -> LoadResult.

    Reads wrk's own lines (Latency, Latency Distribution, "N requests in T, S read",
    Socket errors, Non-2xx or 3xx responses, Requests/sec, Transfer/sec) and, when
    present, the exact "HBF-WRK" lines printed by run_wrk's Lua script, which win.
    Without a summary line the run failed: finished=False and error holds wrk's
    complaint (e.g. "unable to connect to 127.0.0.1:1 Connection refused").
    """
    res = LoadResult(engine="wrk")
    m_conc = re.search(r"^\s*(\d+) threads and (\d+) connections", text, re.M)
    concurrency = int(m_conc.group(2)) if m_conc else None
    _read_wrk_totals(res, text)
    errors = _wrk_socket_errors(text)
    total_row = _read_wrk_latency(res, text)
    # Read last so that the Lua script's exact figures replace wrk's rounded ones.
    body_bytes, errors, total_row = _read_lua_lines(res, text, errors, total_row)
    _keep_measured_latency(res, total_row, errors.timeout)
    _count_failures(res, errors)
    res.html_transferred = body_bytes
    _derive_rates(res, concurrency)
    return res


def _read_wrk_totals(res: LoadResult, text: str) -> None:
    """wrk's "N requests in T, S read" line and the lines that follow it."""
    m = re.search(rf"^\s*(\d+) requests in {_NUM}(us|ms|s|m|h), {_NUM}([KMGTP]?)B read", text, re.M)
    if m:
        res.complete_requests = int(m.group(1))
        res.time_taken_s = _ms(m.group(2), m.group(3)) / 1000.0
        res.total_transferred = _bytes(m.group(4), m.group(5))
    else:
        res.finished = False
        res.error = _wrk_complaint(text)
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    if m:
        res.non_2xx = int(m.group(1))
    m = re.search(rf"^Requests/sec:\s*{_NUM}", text, re.M)
    if m:
        res.requests_per_sec = float(m.group(1))
    m = re.search(rf"^Transfer/sec:\s*{_NUM}([KMGTP]?)B", text, re.M)
    if m:
        res.transfer_rate_kbps = round(_bytes(m.group(1), m.group(2)) / 1024.0, 2)


def _wrk_complaint(text: str) -> str:
    """Why wrk printed no summary: its last line that is neither its banner nor ours."""
    complaint = [ln.strip() for ln in text.splitlines()
                 if ln.strip() and not ln.startswith(MARK)
                 and not re.match(r"\s*(Running|\d+ threads and)", ln)]
    return complaint[-1] if complaint else "wrk printed no summary"


def _wrk_socket_errors(text: str) -> _SocketErrors:
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    return _SocketErrors(*map(int, m.groups())) if m else _SocketErrors()


def _read_wrk_latency(res: LoadResult, text: str) -> dict[str, float]:
    """wrk's Latency line (returned as the "total" row) and its Latency
    Distribution table (into res.percentiles)."""
    total_row: dict[str, float] = {}
    m = re.search(rf"^\s*Latency\s+{_NUM}(us|ms|s|m|h)\s+{_NUM}(us|ms|s|m|h)\s+{_NUM}(us|ms|s|m|h)",
                  text, re.M)
    if m:
        total_row = {"mean": round(_ms(m.group(1), m.group(2)), 3),
                     "sd": round(_ms(m.group(3), m.group(4)), 3),
                     "max": round(_ms(m.group(5), m.group(6)), 3)}
    dist = {}
    block = re.search(r"Latency Distribution\n((?:\s+\d+%\s+\S+\n?)+)", text)
    if block:
        for p, v, u in re.findall(rf"(\d+)%\s+{_NUM}(us|ms|s|m|h)", block.group(1)):
            dist[float(p)] = round(_ms(v, u), 3)
    if dist:
        res.percentiles = dict(dist)
        if "max" in total_row:
            res.percentiles[100.0] = total_row["max"]
        res.percentiles_source = "table"
        if 50.0 in dist:
            total_row["median"] = dist[50.0]
    return total_row


def _read_lua_lines(res: LoadResult, text: str, errors: _SocketErrors,
                    total_row: dict) -> tuple[int | None, _SocketErrors, dict]:
    """The HBF-WRK lines of the Lua `done` hook, over what wrk's own lines gave:
    -> (body bytes or None, socket errors, the "total" row)."""
    body_bytes = None
    for line in text.splitlines():
        if not line.startswith(MARK + " "):
            continue
        kind, _, rest = line[len(MARK) + 1:].partition(" ")
        if kind == "summary":
            kv = _kv(rest)
            res.time_taken_s = int(kv["duration_us"]) / 1e6
            res.complete_requests = int(kv["requests"])
            res.total_transferred = int(kv["bytes"])
            body_bytes = int(kv["body_bytes"])
            errors = _SocketErrors(*(int(kv[k]) for k in ("connect", "read", "write", "timeout")))
        elif kind == "status":
            codes = {int(k): int(v) for k, v in _kv(rest).items()}
            res.non_2xx = sum(n for code, n in codes.items() if not 200 <= code <= 299)
        elif kind == "latency_us":
            kv = _kv(rest)
            total_row = {"min": round(float(kv["min"]) / 1000.0, 3),
                         "mean": round(float(kv["mean"]) / 1000.0, 3),
                         "sd": round(float(kv["stdev"]) / 1000.0, 3),
                         "median": total_row.get("median"),
                         "max": round(float(kv["max"]) / 1000.0, 3)}
        elif kind == "percentiles_us":
            pct = {float(k): round(int(v) / 1000.0, 3) for k, v in _kv(rest).items()}
            if pct:
                res.percentiles = pct
                res.percentiles_source = "wrk"
                if "min" in total_row:
                    total_row["median"] = pct.get(50.0)
    return body_bytes, errors, total_row


def _keep_measured_latency(res: LoadResult, total_row: dict, timeout: int) -> None:
    """Store the "total" row, and drop latency figures that measured nothing."""
    total_row = {k: v for k, v in total_row.items() if v is not None}
    if res.complete_requests and timeout >= res.complete_requests:
        # Every answer came after --timeout: wrk recorded no latency at all and
        # prints zeros, which are not measurements.
        total_row = {}
        res.percentiles = {}
        res.percentiles_source = None
    if res.complete_requests and total_row:
        res.connection_times = {"total": total_row}
    elif not res.complete_requests:
        res.percentiles = {}
        res.percentiles_source = None


def _count_failures(res: LoadResult, errors: _SocketErrors) -> None:
    """wrk's socket errors as ab's failure counts (see the module doc)."""
    res.failed_connect = errors.connect
    res.failed_receive = errors.read
    res.write_errors = errors.write
    res.failed_exceptions = errors.write + errors.timeout
    res.failed_requests = errors.connect + errors.read + errors.write + errors.timeout


def _derive_rates(res: LoadResult, concurrency: int | None) -> None:
    """The rates and per-request times, from the counts and the elapsed time."""
    done = res.complete_requests
    t = res.time_taken_s
    if done and t:
        exact = res.percentiles_source == "wrk"
        if res.requests_per_sec is None or exact:
            res.requests_per_sec = round(done / t, 2)
        if res.total_transferred is not None and (res.transfer_rate_kbps is None or exact):
            res.transfer_rate_kbps = round(res.total_transferred / 1024.0 / t, 2)
        if concurrency:
            res.time_per_request_ms = round(concurrency * t * 1000.0 / done, 3)
        res.time_per_request_all_ms = round(t * 1000.0 / done, 3)


# ---- running ----------------------------------------------------------------

def _refused(host: str, port: int) -> bool:
    """True when a TCP connect to host:port is refused right now."""
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return False
    except ConnectionRefusedError:
        return True
    except OSError:
        return False


def run_wrk(url: str, *, requests: int | None = None, duration_s: float | None = None,
            concurrency: int, method: str = "GET", body: bytes | str | None = None,
            content_type: str | None = None, headers: dict[str, str] | None = None,
            timeout_s: float = 30, keepalive: bool = True, threads: int | None = None,
            progress=None) -> LoadResult:
    """Run wrk against url: `requests` requests (see the module doc), or for
    `duration_s` seconds, or both (whichever ends first)."""
    path = wrk_path()
    if path is None:
        raise WrkError("wrk is not installed (apt-get install wrk)")
    if requests is None and duration_s is None:
        raise WrkError("give requests or duration_s")
    if not isinstance(concurrency, int) or concurrency < 1:
        raise WrkError(f"concurrency must be a positive integer, not {concurrency!r}")
    if requests is not None and (not isinstance(requests, int) or requests < 1):
        raise WrkError(f"requests must be a positive integer, not {requests!r}")
    if requests is not None and concurrency > requests:
        raise WrkError(f"concurrency {concurrency} is greater than requests {requests}")
    if duration_s is not None and not duration_s > 0:
        raise WrkError(f"duration_s must be positive, not {duration_s!r}")
    method = method.upper()
    reason = unsupported(method)
    if reason:
        raise WrkError(reason)
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise WrkError(f"only http:// URLs are supported, not {url!r}")
    host, port = parts.hostname, parts.port or 80
    if not parts.path:
        url = url + "/" if not parts.query else url.replace("?", "/?", 1)

    nthreads = threads or pick_threads(concurrency)
    if concurrency % nthreads:
        raise WrkError(f"threads ({nthreads}) must divide concurrency ({concurrency})")
    quotas = None
    step_total = 1000
    if requests is not None:
        base, extra = divmod(requests, nthreads)
        quotas = [base + (1 if i < extra else 0) for i in range(nthreads)]
        step_total = max(requests // 10, 100)
    script = build_lua_script(method=method, body=body, content_type=content_type,
                              headers=headers, keepalive=keepalive, quotas=quotas,
                              progress_step=max(1, step_total // nthreads))
    ceiling = duration_s if duration_s is not None else DEFAULT_CEILING_S

    fd, script_path = tempfile.mkstemp(prefix="hbf-wrk-", suffix=".lua")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(script)
        cmd = build_wrk_command(url, duration_s=ceiling, concurrency=concurrency,
                                threads=nthreads, timeout_s=timeout_s, script_path=script_path,
                                wrk=path)
        return _drive(cmd, host=host, port=port, nthreads=nthreads, requests=requests,
                      ceiling=ceiling, timeout_s=timeout_s, progress=progress, step=step_total)
    finally:
        try:
            os.unlink(script_path)
        except OSError:
            pass


def _drive(cmd, *, host, port, nthreads, requests, ceiling, timeout_s, progress, step) -> LoadResult:
    """Run wrk (cmd) to its end, following it with a _WrkWatch, and read what it printed."""
    watch = _WrkWatch(host=host, port=port, nthreads=nthreads, requests=requests,
                      ceiling=ceiling, timeout_s=timeout_s, progress=progress, step=step)
    proc = None
    sel = selectors.DefaultSelector()
    try:
        # A Ctrl-C during Popen waits until `proc` holds wrk's pid, and is
        # raised inside this try, whose handler stops wrk.
        with deferred():
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE)
        watch.follow(proc, sel)
        proc.wait()
    except BaseException:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        raise
    finally:
        sel.close()
        if proc is not None:
            proc.stdout.close()
            proc.stderr.close()
    return watch.result(proc.returncode)


class _WrkWatch:
    """One wrk run as _drive follows it: what wrk printed, how far each Lua
    thread got, and why (if at all) hbf-bench stopped wrk."""

    def __init__(self, *, host, port, nthreads, requests, ceiling, timeout_s, progress, step):
        self.host, self.port = host, port
        self.nthreads = nthreads
        self.requests = requests
        self.timeout_s = timeout_s
        self.progress = progress
        self.step = step
        self.proc = None
        self.out, self.err = bytearray(), bytearray()
        self.partial = b""
        started = time.monotonic()
        self.last_seen = [started] * (nthreads + 1)   # index = Lua thread id (1-based)
        self.counts = [0] * (nthreads + 1)
        self.finished_threads: set[int] = set()
        self.stopped_by: str | None = None
        self.interrupted = False
        self.last_reported = 0
        self.hard_deadline = started + ceiling + timeout_s + 30
        self.next_probe = started + STALL_PROBE_S
        self.signalled_at: float | None = None

    def follow(self, proc, sel) -> None:
        """Read wrk's stdout and stderr until it closes both, watching it meanwhile."""
        self.proc = proc
        sel.register(proc.stdout, selectors.EVENT_READ, self.out)
        sel.register(proc.stderr, selectors.EVENT_READ, self.err)
        open_streams = 2
        while open_streams:
            try:
                ready = sel.select(timeout=0.1)
            except KeyboardInterrupt:
                self.interrupted = True
                self._stop("interrupted")
                continue
            for key, _ in ready:
                chunk = os.read(key.fd, 65536)
                if not chunk:
                    sel.unregister(key.fileobj)
                    open_streams -= 1
                    continue
                key.data.extend(chunk)
                if key.data is self.out:
                    self._read_marks(chunk)
            now = time.monotonic()
            self._report_progress()
            self._watch(now)

    def _read_marks(self, chunk: bytes) -> None:
        """Note the progress and done lines of the Lua hook in a piece of stdout."""
        self.partial += chunk
        *lines, self.partial = self.partial.split(b"\n")
        now = time.monotonic()
        for line in lines:
            if not line.startswith(MARK.encode() + b" "):
                continue
            f = line.split()
            if len(f) == 4 and f[1] in (b"progress", b"done"):
                tid, n = int(f[2]), int(f[3])
                if 1 <= tid <= self.nthreads:
                    self.last_seen[tid] = now
                    self.counts[tid] = n
                    if f[1] == b"done":
                        self.finished_threads.add(tid)

    def _report_progress(self) -> None:
        done = sum(self.counts)
        if (self.progress is not None and self.requests
                and done // self.step > self.last_reported // self.step):
            self.last_reported = done
            try:
                self.progress(min(done, self.requests), self.requests)
            except KeyboardInterrupt:
                self.interrupted = True
                self._stop("interrupted")

    def _watch(self, now: float) -> None:
        """Stop wrk when its work is done or the server is gone; kill it when it
        ignores that, or overruns everything it was given."""
        if self.signalled_at is None:
            self._watch_threads(now)
        elif now - self.signalled_at > 10 and self.proc.poll() is None:
            self.proc.kill()
        if now > self.hard_deadline and self.proc.poll() is None:
            self.stopped_by = self.stopped_by or "wrk did not finish in time"
            self.proc.kill()

    def _watch_threads(self, now: float) -> None:
        """The stall watch: a thread silent too long means a refused connection
        or a timeout (see the module doc)."""
        if self.requests is not None and len(self.finished_threads) == self.nthreads:
            self._stop(None)  # every thread answered its share
            return
        silent = [now - self.last_seen[t] for t in range(1, self.nthreads + 1)
                  if t not in self.finished_threads]
        worst = max(silent, default=0.0)
        if worst >= self.timeout_s + 1.0:
            self._stop(f"timeout: no answer within {self.timeout_s:g} s (wrk stopped by hbf-bench)")
        elif worst >= STALL_PROBE_S and now >= self.next_probe and self.proc.poll() is None:
            # A probe is a connect that may hold this loop for 0.5 s: once per
            # STALL_PROBE_S is often enough.
            self.next_probe = now + STALL_PROBE_S
            if _refused(self.host, self.port):
                self._stop("connection refused (the server stopped answering during "
                          "the run; wrk stopped by hbf-bench)")

    def _stop(self, reason: str | None) -> None:
        """SIGINT wrk once (it then prints its summary); the first reason wins."""
        if self.signalled_at is None:
            self.stopped_by = reason
            self.signalled_at = time.monotonic()
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGINT)

    def result(self, returncode: int | None) -> LoadResult:
        """What wrk printed, as a LoadResult that also says why the run ended early."""
        text = self.out.decode("utf-8", "replace")
        err_text = self.err.decode("utf-8", "replace")
        res = parse_wrk_output(text + ("\n" + err_text if err_text.strip() else ""))
        if returncode not in (0, None) and res.finished:
            res.finished = False
            res.error = err_text.strip() or f"wrk exited with status {returncode}"
        if self.stopped_by:
            res.finished = False
            res.error = self.stopped_by
            if self.stopped_by.startswith("timeout"):
                res.failed_exceptions += 1
                res.failed_requests += 1
        if self.interrupted:
            res.finished = False
            res.error = "interrupted"
        if self.progress is not None and self.requests:
            # a thread may answer a few more than its share
            done = min(res.complete_requests, self.requests)
            if done != min(self.last_reported, self.requests):
                self.progress(done, self.requests)
        return res
