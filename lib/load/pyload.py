"""The built-in load engine: ab's closed loop (or a fixed-rate open loop) in pure Python.

`run_load(url, requests=..., concurrency=...)` returns a LoadResult (engine="python")
with exact latency percentiles (nearest rank over every request, p = 0..100).
It needs nothing but the standard library, so it works where ab is missing and
it measures what ab cannot (exact percentiles, open-loop latency).

How it works
------------
* One event loop in the calling thread over non-blocking sockets and
  `select.epoll` (`select.poll` where epoll is missing), like ab itself: up to
  `concurrency` requests in flight, `requests` in all (ab's closed loop).
* A NEW connection per request by default, like ab without -k: the request is
  HTTP/1.1 with `Connection: close`. `keepalive=True` keeps each connection and
  reuses it while the server allows (HTTP/1.1 keep-alive; an answer without
  Content-Length or chunked framing, or with `Connection: close`, ends the
  connection). A kept-alive connection that the server closed while idle is
  reopened and the request sent again, not counted as failed (ab does the same).
* Responses are read with a small HTTP/1.1 reader: status line, headers, then a
  Content-Length body, a chunked body, or everything up to the close. Interim
  1xx answers are skipped; HEAD, 204 and 304 answers have no body.
* Latency of one request = from the start of connect (or of the send, on a reused
  connection) to the last body byte, by time.perf_counter.

Threads, asyncio or one epoll loop: measured
--------------------------------------------
The same closed loop was written four ways and measured against nginx (one
worker), no keep-alive, runs alternated with ab, in req/s and in the client's
CPU time per request (user + system, which does not depend on what else the
machine runs). From slowest to fastest: asyncio streams (open_connection),
asyncio's loop.sock_connect/sock_recv, threads with blocking sockets, then one
epoll loop (this module), the closest to ab in both figures, also with
keep-alive. The figures belong with the machine they were measured on:
docs/load-engines.md.

Threads beat asyncio: a blocking call is one system call with the GIL released,
while asyncio adds an epoll round and several Python callbacks per step. But
ten threads fight over the GIL: every connect/send/recv/close hands it over
(about 10 context switches per request in the first, threaded version of this
module, which fell well short of ab). One thread driving epoll directly has
no GIL hand-offs and few Python steps per request, and keeps stopping,
timeouts and the open-loop schedule simple (everything happens in one thread).
Against a slow server every engine measures the server: against Python's
ThreadingHTTPServer this engine and ab are level without keep-alive and close
with it. A one-thread client is more sensitive than ab to other busy
processes on the same cores; compare runs made on a quiet machine.

Counting, like ab -l
--------------------
* complete_requests: requests that got a whole response (any status). Every
  request slot ends either complete or failed, so after a finished run
  complete_requests + failed_requests == requests.
* failed_requests = failed_connect + failed_receive + failed_exceptions (there is
  no Length check: every length is accepted, as with ab -l).
  - connect: the connection could not be opened (refused, unreachable, ...).
  - receive: reset or closed by the server before a whole response arrived.
  - exceptions: timeouts, malformed answers, and sends that failed (a failed
    send is also counted in write_errors).
* non_2xx: complete answers whose status is not 2xx (ab does not count them as
  failed either; LoadResult.failures does).
* total_transferred: bytes received, headers included; html_transferred: body
  bytes after de-chunking. document_length: the body length when every answer
  had the same length, else None. keepalive_requests (keepalive=True only):
  answers after which the connection stayed open for the next request.
* connection_times rows (ms): connect (0 on a reused connection), processing
  (total - connect), waiting (end of send to first response byte), total.

Stopping early, like ab
-----------------------
* 10 failed requests in a row (connect or receive errors with no success between
  them) end the run: finished=False and error says what failed, e.g. "connection
  refused (errno 111): test aborted after 10 consecutive failures", or, when the
  failures differed, each kind with its count, most frequent first ("connection
  refused (errno 111) x7, connection closed before any response x3: ..."). ab aborts after
  10 connect failures and at the first receive error; counting consecutive
  failures stops as quickly when a server dies, yet lets a run ride out a single
  dropped connection. complete_requests then holds what finished, the
  equivalent of ab's "Total of N requests completed".
* timeout_s bounds each wait of a request (connect, send, and the silence between
  two reads), like ab's -s. A request that times out counts under Exceptions and
  ends the run (ab: "apr_pollset_poll: The timeout specified has expired
  (70007)"): finished=False, error mentions the timeout. Timeouts are checked
  every min(timeout_s / 4, 0.25) s, so one is noticed up to 25% late.
* Ctrl-C (KeyboardInterrupt) stops the run and returns what was measured,
  finished=False, error="interrupted" (ab prints its results so far on SIGINT).
Requests still in flight when a run stops early are dropped, not counted.

Open loop: rate=R
-----------------
Request i is due at start + i/R seconds, whatever the server does. Its latency is
measured from that INTENDED time, so a server that stalls is charged for the
whole queue it caused (no coordinated omission, as wrk2 and vegeta do).
`concurrency` is then the most requests in flight at once: when that many are
outstanding a due request waits, and the wait is part of its latency. Give
enough concurrency (>= R x expected latency in seconds) to keep the schedule.
requests_per_sec is the rate achieved (complete / time taken);
time_per_request_ms is the mean measured latency (ab's concurrency x time /
done has no meaning for an open loop). One Python thread sends a few thousand
requests per second at most; above that the schedule slips and latencies grow
accordingly (they stay honest).

progress(done, total) is called in the calling thread every max(total // 10, 100)
finished requests (answered or failed), and once more at the end if the last
call was not for the final count.

Only the host and port in the URL are ever connected to; callers restrict URLs
to loopback.
"""
from __future__ import annotations

import errno
import math
import os
import select
import socket
import statistics
import time
from _socket import socket as _new_socket  # the C type: no Python-level __init__/close
from urllib.parse import urlsplit

from lib.core.errors import BenchError
from lib.core.loadresult import LoadResult

__all__ = ["run_load", "LoadError", "nearest_rank_percentiles", "MAX_CONSECUTIVE_FAILURES"]

# Failed requests in a row (no success between them) that end a run.
MAX_CONSECUTIVE_FAILURES = 10

_RECV_SIZE = 65536
_MAX_HEAD = 1 << 20  # a header block larger than this is malformed

_CONNECTING, _SENDING, _READING, _IDLE = range(4)


class LoadError(BenchError, ValueError):
    """Bad arguments (URL, counts); raised before anything is sent."""


class _Fail(Exception):
    """One request failed; kind is 'connect', 'receive' or 'exception'."""

    def __init__(self, kind: str, message: str, *, timeout: bool = False, write: bool = False):
        super().__init__(message)
        self.kind = kind
        self.timeout = timeout
        self.write = write


def _describe(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.errno is not None:
        return f"{(exc.strerror or str(exc)).lower()} (errno {exc.errno})"
    return str(exc) or type(exc).__name__


def _oserror(code: int) -> OSError:
    return OSError(code, os.strerror(code))


# ---- the HTTP/1.1 response reader (incremental) -----------------------------

def _header_value(lower_head: bytes, name: bytes) -> bytes | None:
    """Value of the LAST header `name` (given lower-case with the leading CRLF and
    the colon, e.g. b"\\r\\ncontent-length:") in a lower-cased header block."""
    i = lower_head.rfind(name)
    if i < 0:
        return None
    start = i + len(name)
    end = lower_head.find(b"\r\n", start)
    if end < 0:
        end = len(lower_head)
    return lower_head[start:end].strip()


class _Conn:
    __slots__ = ("sock", "fd", "state", "registered", "sent", "t0", "t_c", "conn_ms", "t_sent",
                 "t_first", "reused", "deadline", "buf", "skipped", "body_start", "status",
                 "mode", "end", "cpos", "body_len", "reusable")

    def __init__(self, sock, fd):
        self.sock = sock
        self.fd = fd
        self.registered = 0  # event mask registered with the poller, 0 = not registered
        self.reused = False

    def reset_response(self):
        self.buf = None
        self.skipped = 0      # bytes of skipped 1xx answers (still counted as received)
        self.body_start = -1  # -1: header block not complete yet
        self.status = 0
        self.mode = 0         # 1: Content-Length/no body (end known), 2: chunked, 3: to close
        self.end = 0
        self.cpos = 0
        self.body_len = 0
        self.reusable = False


def _parse_head(c: _Conn, head_only: bool, want_reuse: bool) -> bool:
    """Find and read the header block in c.buf. Returns False when more is needed."""
    buf = c.buf
    while True:
        hend = buf.find(b"\r\n\r\n")
        if hend < 0:
            if len(buf) > _MAX_HEAD:
                raise _Fail("exception", "response header block too large")
            return False
        line_end = buf.find(b"\r\n")
        parts = bytes(buf[:line_end]).split(None, 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/") or not parts[1].isdigit():
            raise _Fail("exception", f"malformed status line {bytes(buf[:min(line_end, 60)])!r}")
        status = int(parts[1])
        if 100 <= status < 200 and status != 101:
            c.skipped += hend + 4
            buf = c.buf = buf[hend + 4:]
            continue
        break
    head = bytes(buf[line_end:hend + 2]).lower()  # starts and ends with CRLF
    c.status = status
    c.body_start = body_start = hend + 4
    conn = _header_value(head, b"\r\nconnection:")
    if parts[0] == b"HTTP/1.0":
        reusable = conn is not None and b"keep-alive" in conn
    else:
        reusable = conn is None or b"close" not in conn
    c.reusable = reusable and want_reuse
    if head_only or status in (204, 304) or status < 200:
        c.mode, c.end = 1, body_start
        return True
    te = _header_value(head, b"\r\ntransfer-encoding:")
    if te is not None and te.rsplit(b",", 1)[-1].strip() == b"chunked":
        c.mode, c.cpos = 2, body_start
        return True
    cl = _header_value(head, b"\r\ncontent-length:")
    if cl is not None:
        if not cl.isdigit():
            raise _Fail("exception", f"bad Content-Length {cl[:40]!r}")
        c.mode, c.end = 1, body_start + int(cl)
        c.body_len = int(cl)
        return True
    c.mode = 3  # no framing: the body runs to the close, the connection is spent
    c.reusable = False
    return True


def _chunked_done(c: _Conn) -> bool:
    """Walk the chunks from c.cpos; True when the last chunk and trailers are in."""
    buf = c.buf
    pos = c.cpos
    n = len(buf)
    while True:
        line_end = buf.find(b"\r\n", pos)
        if line_end < 0:
            c.cpos = pos
            return False
        size_field = bytes(buf[pos:line_end]).split(b";", 1)[0].strip()
        try:
            size = int(size_field, 16)
        except ValueError:
            raise _Fail("exception", f"bad chunk size {size_field[:40]!r}") from None
        if size == 0:
            # Trailers, then an empty line.
            p = line_end + 2
            while True:
                e = buf.find(b"\r\n", p)
                if e < 0:
                    c.cpos = pos
                    return False
                if e == p:
                    c.end = p + 2
                    return True
                p = e + 2
        need = line_end + 2 + size + 2
        if n < need:
            c.cpos = pos
            return False
        c.body_len += size
        pos = need


def _response_done(c: _Conn, head_only: bool, want_reuse: bool) -> bool:
    if c.body_start < 0 and not _parse_head(c, head_only, want_reuse):
        return False
    mode = c.mode
    if mode == 1:
        return len(c.buf) >= c.end
    if mode == 2:
        return _chunked_done(c)
    return False  # mode 3 ends at EOF


# ---- arguments --------------------------------------------------------------

def _target(url: str):
    parts = urlsplit(url)
    if parts.scheme != "http":
        raise LoadError(f"only http:// URLs are supported, not {url!r}")
    host = parts.hostname
    if not host:
        raise LoadError(f"no host in {url!r}")
    try:
        port = parts.port or 80
    except ValueError:
        raise LoadError(f"bad port in {url!r}") from None
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    host_header = f"[{host}]" if ":" in host else host
    if parts.port:
        host_header += f":{port}"
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        raise LoadError(f"cannot resolve {host!r}: {exc}") from None
    family, _, _, _, sockaddr = infos[0]
    return family, sockaddr, path, host_header


def _request_bytes(method, path, host_header, body, content_type, headers, keepalive) -> bytes:
    lines = [f"{method} {path} HTTP/1.1"]
    headers = dict(headers or {})
    given = {k.lower() for k in headers}
    if "host" not in given:
        lines.append(f"Host: {host_header}")
    if "user-agent" not in given:
        lines.append("User-Agent: hbf-bench-pyload/1")
    if "accept" not in given:
        lines.append("Accept: */*")
    if "connection" not in given:
        lines.append("Connection: keep-alive" if keepalive else "Connection: close")
    for k, v in headers.items():
        if any(ch in f"{k}{v}" for ch in "\r\n") or not k or ":" in k:
            raise LoadError(f"bad header {k!r}")
        lines.append(f"{k}: {v}")
    payload = b""
    if body is not None:
        payload = body.encode("utf-8") if isinstance(body, str) else bytes(body)
    if content_type and "content-type" not in given and (body is not None or method in ("POST", "PUT", "PATCH")):
        lines.append(f"Content-Type: {content_type}")
    if (body is not None or method in ("POST", "PUT", "PATCH")) and "content-length" not in given:
        lines.append(f"Content-Length: {len(payload)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + payload


def nearest_rank_percentiles(sorted_ms: list[float]) -> dict[float, float]:
    """p (0..100, every integer) -> value by nearest rank on a sorted list
    (p=0 is the minimum, p=100 the maximum), rounded to the microsecond."""
    n = len(sorted_ms)
    if n == 0:
        return {}
    out = {}
    for p in range(101):
        rank = -(-p * n // 100)  # ceil(p * n / 100) in integers
        out[float(p)] = round(sorted_ms[max(rank, 1) - 1], 3)
    return out


def _row(values_ms: list[float]) -> dict[str, float]:
    if not values_ms:
        return {}
    return {
        "min": round(min(values_ms), 3),
        "mean": round(statistics.fmean(values_ms), 3),
        "sd": round(statistics.stdev(values_ms), 3) if len(values_ms) > 1 else 0.0,
        "median": round(statistics.median(values_ms), 3),
        "max": round(max(values_ms), 3),
    }


# ---- the poller ---------------------------------------------------------------

class _Poller:
    """epoll where there is one, else poll; timeouts in seconds."""

    def __init__(self):
        if hasattr(select, "epoll"):
            self._p = select.epoll()
            self.IN, self.OUT = select.EPOLLIN, select.EPOLLOUT
            self._ms = False
        else:  # pragma: no cover - not Linux
            self._p = select.poll()
            self.IN, self.OUT = select.POLLIN, select.POLLOUT
            self._ms = True
        self.register = self._p.register
        self.modify = self._p.modify
        self.unregister = self._p.unregister

    def poll(self, timeout_s: float):
        if self._ms:  # pragma: no cover
            return self._p.poll(max(0, math.ceil(timeout_s * 1000)))
        return self._p.poll(max(timeout_s, 0.0))

    def close(self):
        if hasattr(self._p, "close"):
            self._p.close()


# ---- one run ----------------------------------------------------------------

class _Run:
    def __init__(self, *, n, concurrency, family, sockaddr, request, head_only, keepalive,
                 timeout_s, rate, progress):
        self.n = n
        self.concurrency = concurrency
        self.family = family
        self.sockaddr = sockaddr
        self.request = request
        self.head_only = head_only
        self.keepalive = keepalive
        self.timeout_s = timeout_s
        self.rate = rate
        self.progress = progress
        self.step = max(n // 10, 100)
        self.last_reported = 0
        self.poller = _Poller()
        self.conns: dict[int, _Conn] = {}   # fd -> connection busy with a request
        self.idle: list[_Conn] = []          # kept-alive connections waiting (open loop)
        self.next_i = 0
        self.inflight = 0
        self.finished = 0
        self.consecutive = 0
        self.streak: dict[str, int] = {}  # failure message -> count, in the current streak
        self.aborted = False
        self.error: str | None = None
        # measurements
        self.total: list[float] = []
        self.connect: list[float] = []
        self.waiting: list[float] = []
        self.complete = self.non_2xx = self.wire = self.body = self.ka = 0
        self.body_min: int | None = None
        self.body_max: int | None = None
        self.f_connect = self.f_receive = self.f_exception = self.write_errors = 0
        self.start = 0.0
        self.t_last = 0.0

    # -- connections
    def _close(self, c: _Conn) -> None:
        self.conns.pop(c.fd, None)
        try:
            c.sock.close()  # closing also removes it from the epoll set
        except OSError:
            pass

    def _set_events(self, c: _Conn, mask: int) -> None:
        if c.registered == mask:
            return
        if c.registered:
            self.poller.modify(c.fd, mask)
        else:
            self.poller.register(c.fd, mask)
        c.registered = mask

    def _begin(self, t0: float, now: float) -> None:
        """Start one request: reuse an idle connection or open one, and send."""
        self.inflight += 1
        c = None
        while self.idle:
            c = self.idle.pop()
            break
        if c is not None:
            c.reused = True
            c.conn_ms = 0.0
        else:
            try:
                s = _new_socket(self.family, socket.SOCK_STREAM | socket.SOCK_NONBLOCK)
            except OSError as exc:  # e.g. EMFILE: more connections than the fd limit
                self.inflight -= 1
                self._count_failure(_Fail("connect", _describe(exc)))
                return
            if self.keepalive or len(self.request) > 16384:
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            c = _Conn(s, s.fileno())
            c.t_c = now
            rc = s.connect_ex(self.sockaddr)
            if rc not in (0, errno.EINPROGRESS, errno.EWOULDBLOCK, errno.EALREADY):
                c.t0 = t0
                self._fail(c, _Fail("connect", _describe(_oserror(rc))))
                return
            c.conn_ms = -1.0  # not known yet
        c.t0 = t0
        c.sent = 0
        c.reset_response()
        c.deadline = now + self.timeout_s
        self.conns[c.fd] = c
        c.state = _CONNECTING if not c.reused else _SENDING
        self._send(c)

    def _send(self, c: _Conn) -> None:
        req = self.request
        try:
            if c.sent:
                k = c.sock.send(memoryview(req)[c.sent:])
            else:
                k = c.sock.send(req)
        except BlockingIOError:
            self._set_events(c, self.poller.OUT)
            return
        except OSError as exc:
            if c.reused:
                self._retry(c)
                return
            if c.state == _CONNECTING:
                self._fail(c, _Fail("connect", _describe(exc)))
            else:
                self._fail(c, _Fail("exception", f"send failed: {_describe(exc)}", write=True))
            return
        now = time.perf_counter()
        if c.state == _CONNECTING:
            c.conn_ms = (now - c.t_c) * 1000.0
            c.state = _SENDING
        c.sent += k
        c.deadline = now + self.timeout_s
        if c.sent < len(req):
            self._set_events(c, self.poller.OUT)
            return
        c.t_sent = now
        c.state = _READING
        self._set_events(c, self.poller.IN)

    def _retry(self, c: _Conn) -> None:
        """The server closed a kept-alive connection while it was idle: reopen, resend."""
        self._close(c)
        self.inflight -= 1
        self._begin(c.t0, time.perf_counter())

    def _readable(self, c: _Conn) -> None:
        try:
            data = c.sock.recv(_RECV_SIZE)
        except BlockingIOError:
            return
        except OSError as exc:
            if c.reused and c.buf is None:
                self._retry(c)
            else:
                self._fail(c, _Fail("receive", _describe(exc)))
            return
        now = time.perf_counter()
        if not data:
            if c.buf is None:
                if c.reused:
                    self._retry(c)
                else:
                    self._fail(c, _Fail("receive", "connection closed before any response"))
            elif c.body_start >= 0 and c.mode == 3:
                c.end = len(c.buf)
                c.body_len = c.end - c.body_start
                self._done(c, now)
            else:
                self._fail(c, _Fail("receive", "connection closed before the whole response"))
            return
        c.deadline = now + self.timeout_s
        if c.buf is None:
            c.t_first = now
            c.buf = data
            # Fast path: the usual small answer, whole in the first read, framed by
            # Content-Length, status line "HTTP/1.1 NNN ...".
            hend = data.find(b"\r\n\r\n")
            if (hend > 0 and data[:9] == b"HTTP/1.1 " and not self.head_only
                    and data[12:13] in (b" ", b"\r") and data[9:10] in b"2345"):
                head = data[:hend + 2].lower()
                ci = head.find(b"\r\ncontent-length:")
                if ci > 0 and head.find(b"\r\ntransfer-encoding:") < 0:
                    cl = head[ci + 17:head.find(b"\r\n", ci + 17)].strip()
                    status = int(data[9:12])
                    if cl.isdigit() and status != 204 and status != 304:
                        end = hend + 4 + int(cl)
                        if len(data) == end:
                            c.status = status
                            c.body_start = hend + 4
                            c.end = end
                            c.body_len = end - hend - 4
                            reusable = self.keepalive
                            if reusable and head.find(b"\r\nconnection:") >= 0:
                                reusable = b"close" not in _header_value(head, b"\r\nconnection:")
                            c.reusable = reusable
                            self._done(c, now)
                            return
        else:
            if type(c.buf) is bytes:
                c.buf = bytearray(c.buf)
            c.buf += data
        try:
            if _response_done(c, self.head_only, self.keepalive):
                self._done(c, now)
        except _Fail as fail:
            self._fail(c, fail)

    # -- outcomes
    def _done(self, c: _Conn, now: float) -> None:
        self.inflight -= 1
        self.complete += 1
        self.total.append((now - c.t0) * 1000.0)
        self.connect.append(c.conn_ms)
        self.waiting.append((c.t_first - c.t_sent) * 1000.0)
        self.t_last = now
        status = c.status
        if status < 200 or status > 299:
            self.non_2xx += 1
        self.wire += c.skipped + c.end
        b = c.body_len
        self.body += b
        if b != self.body_min or b != self.body_max:
            if self.body_min is None or b < self.body_min:
                self.body_min = b
            if self.body_max is None or b > self.body_max:
                self.body_max = b
        if self.consecutive:
            self.consecutive = 0
            self.streak.clear()
        if c.reusable and len(c.buf) == c.end:
            self.ka += 1
            c.state = _IDLE
            c.buf = None
            self.conns.pop(c.fd, None)
            self.idle.append(c)
            # An idle connection stays registered for input: a close by the
            # server shows up as an event and drops it.
            self._set_events(c, self.poller.IN)
        else:
            self._close(c)
        self._finished()

    def _fail(self, c: _Conn, fail: _Fail) -> None:
        self.inflight -= 1
        self._close(c)
        self._count_failure(fail)

    def _count_failure(self, fail: _Fail) -> None:
        if self.aborted:
            return
        if fail.kind == "connect":
            self.f_connect += 1
        elif fail.kind == "receive":
            self.f_receive += 1
        else:
            self.f_exception += 1
        if fail.write:
            self.write_errors += 1
        if fail.timeout:
            self._abort(f"timeout: no answer within {self.timeout_s:g} s "
                        "(as ab's apr_pollset_poll: The timeout specified has expired)")
        else:
            self.consecutive += 1
            message = str(fail)
            self.streak[message] = self.streak.get(message, 0) + 1
            if self.consecutive >= MAX_CONSECUTIVE_FAILURES:
                kinds = sorted(self.streak.items(), key=lambda kv: -kv[1])
                what = ", ".join(f"{m} x{k}" if len(kinds) > 1 else m for m, k in kinds)
                self._abort(f"{what}: test aborted after {self.consecutive} consecutive failures")
        self._finished()

    def _finished(self) -> None:
        self.finished += 1
        if self.progress is not None and self.finished % self.step == 0:
            self.last_reported = self.finished
            self.progress(self.finished, self.n)

    def _abort(self, message: str) -> None:
        if not self.aborted:
            self.aborted = True
            self.error = message

    def _close_all(self) -> None:
        for c in list(self.conns.values()) + self.idle:
            self._close(c)
        self.conns.clear()
        self.idle.clear()
        self.poller.close()

    # -- the loop
    def loop(self) -> None:
        perf = time.perf_counter
        n = self.n
        conc = self.concurrency
        rate = self.rate
        poll = self.poller.poll
        conns = self.conns
        scan_every = min(self.timeout_s / 4, 0.25)
        self.start = start = perf()
        next_scan = start + scan_every
        OUT = self.poller.OUT
        while True:
            now = perf()
            # Start what may start.
            if not self.aborted:
                if rate:
                    while self.next_i < n and self.inflight < conc:
                        due = start + self.next_i / rate
                        if due > now:
                            break
                        self.next_i += 1
                        self._begin(due, now)
                else:
                    while self.next_i < n and self.inflight < conc and not self.aborted:
                        self.next_i += 1
                        self._begin(now, now)
                        now = perf()
            if self.aborted or (self.inflight == 0 and self.next_i >= n):
                break
            if self.inflight == 0 and rate:
                wait = start + self.next_i / rate - now
            else:
                wait = next_scan - now
                if rate and self.next_i < n and self.inflight < conc:
                    wait = min(wait, start + self.next_i / rate - now)
            events = poll(wait if wait > 0 else 0)
            for fd, ev in events:
                c = conns.get(fd)
                if c is None:
                    # An idle kept-alive connection: the server closed it (or
                    # sent something unasked); drop it.
                    for j, ic in enumerate(self.idle):
                        if ic.fd == fd:
                            del self.idle[j]
                            self._close(ic)
                            break
                    continue
                if c.state == _READING:
                    self._readable(c)
                elif ev & OUT or c.state != _READING:
                    self._send(c)
                if self.aborted:
                    break
            now = perf()
            if now >= next_scan:
                next_scan = now + scan_every
                for c in [c for c in conns.values() if c.deadline <= now]:
                    if c.fd in conns:
                        self._fail(c, _Fail("exception", "timeout", timeout=True))


def run_load(url: str, *, requests: int, concurrency: int, method: str = "GET",
             body: bytes | str | None = None, content_type: str | None = None,
             headers: dict[str, str] | None = None, keepalive: bool = False,
             timeout_s: float = 30.0, rate: float | None = None,
             progress=None) -> LoadResult:
    """Send `requests` requests to `url`, at most `concurrency` at a time (or at
    `rate` per second); see the module doc. Socket errors are counted, not raised."""
    if not isinstance(requests, int) or requests < 1:
        raise LoadError(f"requests must be a positive integer, not {requests!r}")
    if not isinstance(concurrency, int) or concurrency < 1:
        raise LoadError(f"concurrency must be a positive integer, not {concurrency!r}")
    if concurrency > 20000:
        raise LoadError("concurrency above 20000 (ab's limit)")
    if rate is None and concurrency > requests:
        raise LoadError(f"concurrency {concurrency} is greater than requests {requests} (ab refuses it too)")
    if rate is not None and not rate > 0:
        raise LoadError(f"rate must be positive, not {rate!r}")
    if not timeout_s > 0:
        raise LoadError(f"timeout_s must be positive, not {timeout_s!r}")
    method = method.upper()
    if not method.isalpha():
        raise LoadError(f"bad method {method!r}")
    family, sockaddr, path, host_header = _target(url)
    request = _request_bytes(method, path, host_header, body, content_type, headers, keepalive)

    run = _Run(n=requests, concurrency=min(concurrency, requests), family=family,
               sockaddr=sockaddr, request=request, head_only=method == "HEAD",
               keepalive=keepalive, timeout_s=timeout_s, rate=rate, progress=progress)
    try:
        run.loop()
    except KeyboardInterrupt:
        run._abort("interrupted")
    finally:
        run._close_all()
    result = _summarise(run)
    if progress is not None:
        done = result.complete_requests + result.failed_requests
        if done != run.last_reported:
            progress(done, requests)
    return result


def _summarise(run: _Run) -> LoadResult:
    done = run.complete
    total = sorted(run.total)
    elapsed = max((run.t_last if done else time.perf_counter()) - run.start, 0.0)
    res = LoadResult(engine="python")
    res.finished = not run.aborted
    res.error = run.error
    res.time_taken_s = round(elapsed, 6)
    res.complete_requests = done
    res.failed_connect = run.f_connect
    res.failed_receive = run.f_receive
    res.failed_exceptions = run.f_exception
    res.failed_requests = run.f_connect + run.f_receive + run.f_exception
    res.write_errors = run.write_errors
    res.non_2xx = run.non_2xx
    res.keepalive_requests = run.ka if run.keepalive else None
    res.document_length = run.body_min if done and run.body_min == run.body_max else None
    res.total_transferred = run.wire
    res.html_transferred = run.body
    if done and elapsed > 0:
        res.requests_per_sec = round(done / elapsed, 2)
        if run.rate:
            res.time_per_request_ms = round(statistics.fmean(total), 3)
        else:
            res.time_per_request_ms = round(run.concurrency * elapsed * 1000.0 / done, 3)
        res.time_per_request_all_ms = round(elapsed * 1000.0 / done, 3)
        res.transfer_rate_kbps = round(run.wire / 1024.0 / elapsed, 2)
    if done:
        processing = [t - c for t, c in zip(run.total, run.connect)]
        res.connection_times = {
            "connect": _row(run.connect),
            "processing": _row(processing),
            "waiting": _row(run.waiting),
            "total": _row(total),
        }
        res.percentiles = nearest_rank_percentiles(total)
        res.percentiles_source = "exact"
    return res
