"""A stand-in for the HBF binary, for tests of hbf-bench (standard library only).

It is started, watched and stopped exactly like a real HBF build:

    python3 lib/standin.py --port N --log-level error --inmem [--dev]

stdout and stderr go to a log file, it is ready when ``GET /health`` answers 200,
and SIGTERM or SIGINT shut it down cleanly (exit status 0) the way HBF's do: only
when its "master thread", which polls the listening socket 2 seconds at a time
(CivetWeb's), next wakes up. That is at the end of the current 2-second poll,
counted from the last connection it accepted, or at once when a connection
arrives after the signal (connect and close is enough). A tool that stops
servers quickly must make that connection, as it must with HBF.

It behaves like HBF (see /work/shared/hbf.md): the same flags, exit status 1 on a
bad command line or a port already in use ("Failed to start HTTP server"), the same
routes and answers, ``X-Powered-By: HBF`` on every answer of the "JS" routes, 403
``Dev mode not enabled`` on ``/__dev/*`` without ``--dev``, and HBF's versioned file
system in an in-memory SQLite database (tables ``file_ids`` and ``file_versions``,
view ``latest_files``). Differences from HBF of that time, on purpose:
``/static/favicon.ico`` answers the empty 200 it was meant to (HBF answered 404),
and PUTs of the same path never race (each runs in one transaction under a lock).

Every non-2xx answer it serves is logged as one ``[ERROR] <status> <method>
<target>: <why>`` line, so a benchmark tool can tell users why an endpoint failed.

Test-only knobs (HBF has none of them):
  --crash-on PATH --crash-after N  the Nth request to PATH (query string ignored,
                                   any method) dies by a real, native SIGSEGV
  --fail-on PATH                   every request to PATH answers 500 with HBF's
                                   JavaScript-error log line (what racing PUTs
                                   get from real HBF, here for every request)
  --hang-on PATH --hang-after N    from the Nth request to PATH on, the request
                                   is never answered (the connection is held)
  --delay-ms MS                    every request waits MS ms before it is answered
  --work-us US                     every request burns US microseconds of CPU
                                   first (a slower code path: what a regression
                                   in HBF's C or JavaScript looks like)
  --slow-every N --slow-ms MS      every Nth request (counted over all paths)
                                   waits MS ms first: a latency tail (a lock,
                                   a GC pause) that barely moves req/s
  --startup-delay-ms MS            wait MS ms before listening
  --dump-on-exit DIR               on SIGTERM/SIGINT write DIR/standin-<port>.json:
                                   {"port", "dev", "requests_served",
                                    "files": {path: {"versions", "latest_size"}}}
  --no-stop-poll                   exit at once on SIGTERM/SIGINT, without waiting
                                   for the poll's next tick or a connection
  --ignore-sigterm                 ignore SIGTERM (SIGINT still stops it): a server
                                   that only SIGKILL ends
"""
from __future__ import annotations

import argparse
import os
import selectors
import signal
import sys
import threading
import time

# The stand-in never speaks TLS. Importing http.server pulls in http.client,
# which imports ssl (about 13 ms of start-up) only to set a flag: skip it.
if "ssl" not in sys.modules:
    sys.modules["ssl"] = None  # type: ignore[assignment]
    import http.server
    del sys.modules["ssl"]
else:  # pragma: no cover
    import http.server
import json
import socketserver
import sqlite3
from urllib.parse import parse_qs, unquote

PROG = "hbf"
HOST = "127.0.0.1"
LEVELS = {"debug": 10, "info": 20, "warn": 30, "error": 40}
STOP_POLL_S = 2.0  # CivetWeb's master thread polls its listening sockets this long at a time

# ---------------------------------------------------------------- logging
_log_level = LEVELS["info"]
_log_lock = threading.Lock()


def log(level: str, message: str) -> None:
    """Write one HBF-style line ("[ERROR] ...") to stderr if the level passes."""
    if LEVELS[level] < _log_level:
        return
    line = f"[{level.upper()}] {message}\n"
    with _log_lock:
        try:
            sys.stderr.write(line)
            sys.stderr.flush()
        except (OSError, ValueError):
            pass


# ---------------------------------------------------------------- command line
class _Parser(argparse.ArgumentParser):
    """HBF exits 1 (not argparse's 2) on a bad command line, with one line."""

    def error(self, message: str):  # type: ignore[override]
        sys.stderr.write(f"{self.prog}: error: {message} (see --help)\n")
        sys.stderr.flush()
        sys.exit(1)


def _non_negative_float(text: str) -> float:
    value = float(text)
    if not value >= 0 or value == float("inf"):
        raise ValueError(text)
    return value


_non_negative_float.__name__ = "non-negative number"


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError(text)
    return value


_positive_int.__name__ = "positive integer"


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = _Parser(
        prog=PROG,
        allow_abbrev=False,
        description="HBF stand-in: a Python imitation of the HBF web runtime "
        "for testing hbf-bench.",
    )
    p.add_argument("--port", type=int, default=5309, help="HTTP port (1..65535, default 5309)")
    p.add_argument("--log-level", choices=list(LEVELS), default="info",
                   help="debug, info, warn or error (default info)")
    p.add_argument("--dev", action="store_true", help="enable the /__dev/* API")
    p.add_argument("--inmem", action="store_true",
                   help="in-memory database (accepted; the stand-in is always in memory)")
    t = p.add_argument_group("test-only knobs (not in HBF)")
    t.add_argument("--crash-on", metavar="PATH",
                   help="die by SIGSEGV on the Nth request to PATH (query ignored)")
    t.add_argument("--crash-after", metavar="N", type=_positive_int, default=1,
                   help="N for --crash-on (default 1)")
    t.add_argument("--fail-on", metavar="PATH",
                   help="answer every request to PATH with 500, as HBF does for a JavaScript error")
    t.add_argument("--hang-on", metavar="PATH",
                   help="never answer requests to PATH from the Nth on")
    t.add_argument("--hang-after", metavar="N", type=_positive_int, default=1,
                   help="N for --hang-on (default 1)")
    t.add_argument("--delay-ms", metavar="MS", type=_non_negative_float, default=0.0,
                   help="wait MS milliseconds before answering each request")
    t.add_argument("--work-us", metavar="US", type=_non_negative_float, default=0.0,
                   help="burn US microseconds of CPU before answering each request")
    t.add_argument("--slow-every", metavar="N", type=_positive_int, default=None,
                   help="every Nth request waits --slow-ms first (a latency tail)")
    t.add_argument("--slow-ms", metavar="MS", type=_non_negative_float, default=50.0,
                   help="the wait of --slow-every (default 50)")
    t.add_argument("--startup-delay-ms", metavar="MS", type=_non_negative_float, default=0.0,
                   help="wait MS milliseconds before listening")
    t.add_argument("--dump-on-exit", metavar="DIR",
                   help="on SIGTERM/SIGINT write DIR/standin-<port>.json")
    t.add_argument("--crash-at-start-if-exists", metavar="FILE",
                   help="the first start creates FILE; a start that finds FILE dies by SIGSEGV "
                        "before listening (a server that crashes again after a restart)")
    t.add_argument("--no-stop-poll", action="store_true",
                   help="exit at once on SIGTERM/SIGINT (without it, like HBF, only at the "
                        "next tick of the 2-second poll or the next connection)")
    t.add_argument("--ignore-sigterm", action="store_true",
                   help="ignore SIGTERM (SIGINT still stops it): a server only SIGKILL ends")
    args = p.parse_args(argv)
    if not 1 <= args.port <= 65535:
        p.error(f"invalid port {args.port}: must be 1..65535")
    return args


# ---------------------------------------------------------------- database
SCHEMA = """
CREATE TABLE file_ids (
    file_id INTEGER PRIMARY KEY AUTOINCREMENT,
    path TEXT UNIQUE
);
CREATE TABLE file_versions (
    file_id INTEGER,
    path TEXT,
    version_number INTEGER,
    mtime INTEGER,
    data BLOB,
    PRIMARY KEY (file_id, version_number)
) WITHOUT ROWID;
CREATE VIEW latest_files AS
    SELECT fv.file_id, fv.path, fv.version_number, fv.mtime, fv.data
    FROM file_versions AS fv
    WHERE fv.version_number =
        (SELECT MAX(v.version_number) FROM file_versions AS v WHERE v.file_id = fv.file_id);
"""

STYLE_CSS = (  # exactly 130 bytes, like the test pod's style.css
    "body{font-family:sans-serif;margin:2em auto;color:#222;background:#fff}\n"
    "h1{font-size:1.6em}\n"
    "a{color:#0366d6;text-decoration:none}\n"
)

SEED_JS = {
    "hbf/server.js": """\
// HBF pod entry point: every request runs app.handle in a fresh context.
import { Router } from "hbf/router.js";
import { json, text } from "hbf/response.js";
const app = new Router();
app.get("/", (req, res) => res.html(INDEX));
app.get("/hello", (req, res) => json(res, { message: "Hello, World!" }));
app.get("/user/:id", (req, res) => json(res, { userId: req.params.id }));
app.get("/echo", (req, res) => json(res, { method: req.method, url: req.url }));
export default app;
""",
    "hbf/router.js": """\
// A minimal Express-like router.
export class Router {
  constructor() { this.routes = []; }
  get(pattern, fn) { this.add("GET", pattern, fn); }
  put(pattern, fn) { this.add("PUT", pattern, fn); }
  add(method, pattern, fn) {
    const keys = [];
    const re = new RegExp("^" + pattern.replace(/:(\\w+)/g, (_, k) => {
      keys.push(k); return "([^/]+)"; }) + "$");
    this.routes.push({ method, re, keys, fn });
  }
  handle(req, res) {
    for (const r of this.routes) {
      const m = req.method === r.method && r.re.exec(req.path);
      if (m) { req.params = {}; r.keys.forEach((k, i) => req.params[k] = m[i + 1]);
               return r.fn(req, res); }
    }
    res.status(404).send("Not Found");
  }
}
""",
    "hbf/response.js": """\
// Response helpers shared by the pod's handlers.
export function json(res, value) {
  res.set("Content-Type", "application/json");
  res.send(JSON.stringify(value));
}
export function text(res, value, status = 200) {
  res.status(status);
  res.set("Content-Type", "text/plain; charset=utf-8");
  res.send(String(value));
}
""",
    "hbf/dev.js": """\
// The /__dev API: list, read, write (new version) and delete pod files.
import { db } from "hbf/db.js";
export function files(req, res) {
  res.json(db.query("SELECT path AS name, mtime, length(data) AS sz " +
                    "FROM latest_files ORDER BY path"));
}
export function allowed(name) {
  return name.startsWith("static/") || name.startsWith("hbf/");
}
""",
    "hbf/db.js": """\
// Thin wrapper over the host's SQLite binding.
export const db = {
  query(sql, ...args) { return globalThis.__db.query(sql, args); },
  execute(sql, ...args) { return globalThis.__db.execute(sql, args); },
};
""",
}

SEED = {
    "static/style.css": STYLE_CSS.encode(),
    "static/favicon.ico": b"",
    **{k: v.encode() for k, v in SEED_JS.items()},
}


class FileStore:
    """HBF's versioned file system in one in-memory SQLite database."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.db = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
        self.db.executescript(SCHEMA)
        for path, data in SEED.items():
            self.put(path, data)

    def put(self, path: str, data: bytes) -> int:
        """Write a new version of path in one transaction; return its number."""
        with self.lock:
            db = self.db
            db.execute("BEGIN IMMEDIATE")
            try:
                db.execute("INSERT OR IGNORE INTO file_ids(path) VALUES (?)", (path,))
                (file_id,) = db.execute(
                    "SELECT file_id FROM file_ids WHERE path = ?", (path,)).fetchone()
                (version,) = db.execute(
                    "SELECT COALESCE(MAX(version_number), 0) + 1 FROM file_versions"
                    " WHERE file_id = ?", (file_id,)).fetchone()
                db.execute(
                    "INSERT INTO file_versions(file_id, path, version_number, mtime, data)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (file_id, path, version, int(time.time()), sqlite3.Binary(data)))
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            return version

    def get(self, path: str) -> bytes | None:
        with self.lock:
            row = self.db.execute(
                "SELECT data FROM latest_files WHERE file_id ="
                " (SELECT file_id FROM file_ids WHERE path = ?)", (path,)).fetchone()
        return None if row is None else bytes(row[0])

    def delete(self, path: str) -> bool:
        with self.lock:
            db = self.db
            db.execute("BEGIN IMMEDIATE")
            try:
                row = db.execute("SELECT file_id FROM file_ids WHERE path = ?", (path,)).fetchone()
                if row is not None:
                    db.execute("DELETE FROM file_versions WHERE file_id = ?", row)
                    db.execute("DELETE FROM file_ids WHERE file_id = ?", row)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        return row is not None

    def listing(self) -> list[dict]:
        with self.lock:
            rows = self.db.execute(
                "SELECT path, mtime, length(data) FROM latest_files ORDER BY path").fetchall()
        return [{"name": p, "mtime": m, "sz": s} for p, m, s in rows]

    def summary(self) -> dict:
        with self.lock:
            rows = self.db.execute(
                "SELECT l.path, (SELECT COUNT(*) FROM file_versions v"
                " WHERE v.file_id = l.file_id), length(l.data)"
                " FROM latest_files AS l ORDER BY l.path").fetchall()
        return {p: {"versions": n, "latest_size": s} for p, n, s in rows}


# ---------------------------------------------------------------- HTTP
CONTENT_TYPES = {
    ".css": "text/css",
    ".ico": "image/x-icon",
    ".js": "application/javascript",
    ".mjs": "application/javascript",
    ".html": "text/html; charset=utf-8",
    ".htm": "text/html; charset=utf-8",
    ".json": "application/json",
    ".txt": "text/plain; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".gif": "image/gif",
    ".wasm": "application/wasm",
}
JSON = "application/json"
TEXT = "text/plain; charset=utf-8"
HTML = "text/html; charset=utf-8"
REASONS = {200: "OK", 400: "Bad Request", 403: "Forbidden", 404: "Not Found",
           405: "Method Not Allowed", 500: "Internal Server Error"}

HEALTH_BODY = b'{"status":"ok"}'
HELLO_BODY = b'{"message":"Hello, World!"}'
INDEX_BODY = b"""<!DOCTYPE html>
<html>
<head><meta charset="utf-8"><title>HBF</title>
<link rel="stylesheet" href="/static/style.css"></head>
<body>
<h1>HBF</h1>
<p>A web runtime in one binary: CivetWeb, QuickJS and SQLite.</p>
<ul>
<li><a href="/hello">/hello</a></li>
<li><a href="/user/42">/user/42</a></li>
<li><a href="/echo">/echo</a></li>
<li><a href="/health">/health</a></li>
</ul>
</body>
</html>
"""

_FOREVER = threading.Event()  # never set: what a hung request waits on


def _content_type(path: str) -> str:
    dot = path.rfind(".")
    if dot > path.rfind("/"):
        return CONTENT_TYPES.get(path[dot:].lower(), "application/octet-stream")
    return "application/octet-stream"


def _burn_cpu(seconds: float) -> None:
    """Spin on this thread's own CPU clock, holding the GIL as C code would
    hold a core: the cost shows in the server's CPU time, not only in latency."""
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass


def _crash() -> None:
    """Die by a real SIGSEGV in native code, so gdb sees C frames."""
    import ctypes
    import faulthandler
    faulthandler.disable()  # its SIGSEGV handler (if any) would get in the way
    sys.stderr.flush()
    ctypes.string_at(0)
    os.kill(os.getpid(), signal.SIGSEGV)  # not reached, unless the read did not fault
    os._exit(139)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "HBF-standin"
    disable_nagle_algorithm = True
    server: "Server"

    # --- quiet: no default request logging, no tracebacks for dropped clients
    def log_message(self, format: str, *args) -> None:  # noqa: A002
        pass

    def handle(self) -> None:
        try:
            super().handle()
        except (ConnectionError, TimeoutError, OSError):
            self.close_connection = True

    def send_error(self, code, message=None, explain=None):
        # Malformed requests and methods we have no do_X for (parse stage).
        method = getattr(self, "command", None) or "-"
        target = getattr(self, "path", None) or "-"
        log("error", f"{code} {method} {target}: {message or REASONS.get(code, 'error')}")
        body = (message or REASONS.get(code, "Error")).encode("utf-8", "replace")
        self.close_connection = True
        try:
            self.wfile.write(
                b"HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
                b"Content-Length: %d\r\nConnection: close\r\n\r\n%s"
                % (code, REASONS.get(code, "Error").encode(), len(body),
                   b"" if getattr(self, "command", None) == "HEAD" else body))
        except OSError:
            pass

    # --- answering
    def _answer(self, status: int, body: bytes, ctype: str, js: bool, why: str = "") -> None:
        srv = self.server
        if status >= 300 or status < 200:
            log("error", f"{status} {self.command} {self.path}: {why or REASONS.get(status, '')}")
        elif srv.debug:
            log("debug", f"{status} {self.command} {self.path} ({len(body)} bytes)")
        head = (
            f"HTTP/1.1 {status} {REASONS.get(status, 'Unknown')}\r\n"
            f"Content-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
            + ("X-Powered-By: HBF\r\n" if js else "")
            + ("Connection: close\r\n\r\n" if self.close_connection
               else "Connection: keep-alive\r\n\r\n")
        ).encode("latin-1")
        with srv.counter_lock:
            srv.requests_served += 1
        self.wfile.write(head if self.command == "HEAD" else head + body)

    def _read_body(self) -> bytes | None:
        """The request body (Content-Length or chunked); None if malformed."""
        headers = self.headers
        if "chunked" in headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                line = self.rfile.readline(65537)
                try:
                    size = int(line.split(b";", 1)[0].strip(), 16)
                except ValueError:
                    return None
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline(65537)
        length = headers.get("Content-Length")
        if not length:
            return b""
        try:
            n = int(length)
        except ValueError:
            return None
        if n < 0:
            return None
        return self.rfile.read(n) if n else b""

    # --- dispatch
    def _handle(self) -> None:
        srv = self.server
        target = self.path
        path, _, query = target.partition("?")
        if srv.crash_on is not None and path == srv.crash_on:
            n = srv.count("crash")
            if n >= srv.crash_after:
                log("error", f"crashing on purpose: request {n} to {path} (--crash-on)")
                _crash()
        if srv.hang_on is not None and path == srv.hang_on:
            n = srv.count("hang")
            if n >= srv.hang_after:
                log("warn", f"hanging on purpose: request {n} to {path} (--hang-on)")
                self.close_connection = True
                _FOREVER.wait()
        body = self._read_body()
        if body is None:
            self.close_connection = True
            self._answer(400, b"Bad Request", TEXT, False, "malformed request body")
            return
        if srv.fail_on is not None and path == srv.fail_on:
            self._answer(500, b"Internal Server Error", TEXT, True,
                         "JavaScript error in request handler: InternalError: db.execute: step failed: "
                         "UNIQUE constraint failed (--fail-on)")
            return
        if srv.delay:
            time.sleep(srv.delay)
        if srv.slow_every and srv.count("slow") % srv.slow_every == 0:
            time.sleep(srv.slow)
        if srv.work:
            _burn_cpu(srv.work)
        method = self.command
        get = method in ("GET", "HEAD")

        # C routes: /health and /static/** (no X-Powered-By)
        if get and path == "/health":
            self._answer(200, HEALTH_BODY, JSON, False)
            return
        if get and path.startswith("/static/"):
            name = unquote(path[1:])
            data = srv.store.get(name)
            if data is None:
                self._answer(404, b"Not Found", TEXT, False, f"no such static file {name}")
            else:
                self._answer(200, data, _content_type(name), False)
            return

        # "JS" routes
        if path == "/__dev" or path.startswith("/__dev/"):
            if not srv.dev:
                self._answer(403, b"Dev mode not enabled", TEXT, True, "Dev mode not enabled")
            else:
                self._dev(method, path, query, body)
            return
        if get:
            if path == "/hello":
                self._answer(200, HELLO_BODY, JSON, True)
                return
            if path == "/":
                self._answer(200, INDEX_BODY, HTML, True)
                return
            if path.startswith("/user/"):
                uid = path[6:]
                if uid and "/" not in uid:
                    self._answer(200, json.dumps({"userId": uid}, separators=(",", ":"))
                                 .encode(), JSON, True)
                    return
        if path == "/echo":
            self._answer(200, json.dumps({"method": method, "url": target},
                                         separators=(",", ":")).encode(), JSON, True)
            return
        self._answer(404, b"Not Found", TEXT, True, "no route")

    def _dev(self, method: str, path: str, query: str, body: bytes) -> None:
        store = self.server.store
        if path == "/__dev/api/files" and method in ("GET", "HEAD"):
            data = json.dumps(store.listing(), separators=(",", ":")).encode()
            self._answer(200, data, JSON, True)
            return
        if path != "/__dev/api/file" or method not in ("GET", "HEAD", "PUT", "DELETE"):
            self._answer(404, b"Not Found", TEXT, True, "no route")
            return
        names = parse_qs(query).get("name")
        if not names or not names[0]:
            self._answer(400, b"Bad Request: missing name", TEXT, True, "missing name parameter")
            return
        name = names[0]
        if not (name.startswith("static/") or name.startswith("hbf/")):
            self._answer(400, b"Bad Request: name must start with static/ or hbf/", TEXT, True,
                         f"name {name!r} must start with static/ or hbf/")
            return
        if method == "PUT":
            store.put(name, body)
            self._answer(200, b"OK", TEXT, True)
        elif method == "DELETE":
            if store.delete(name):
                self._answer(200, b"OK", TEXT, True)
            else:
                self._answer(404, b"Not Found", TEXT, True, f"no such file {name}")
        else:
            data = store.get(name)
            if data is None:
                self._answer(404, b"Not Found", TEXT, True, f"no such file {name}")
            else:
                self._answer(200, data, _content_type(name), True)

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _handle


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024

    def __init__(self, port: int, args: argparse.Namespace, store: FileStore) -> None:
        self.store = store
        self.dev = args.dev
        self.debug = LEVELS[args.log_level] <= LEVELS["debug"]
        self.delay = args.delay_ms / 1000.0
        self.work = args.work_us / 1e6
        self.crash_on, self.crash_after = args.crash_on, args.crash_after
        self.hang_on, self.hang_after = args.hang_on, args.hang_after
        self.fail_on = args.fail_on
        self.slow_every, self.slow = args.slow_every, args.slow_ms / 1000.0
        self.knob_counts = {"crash": 0, "hang": 0, "slow": 0}  # requests seen by each knob's path
        self.counter_lock = threading.Lock()
        self.requests_served = 0
        super().__init__((HOST, port), Handler)

    def count(self, knob: str) -> int:
        """One more request to the knob's path; returns its number (1, 2, ...)."""
        with self.counter_lock:
            self.knob_counts[knob] += 1
            return self.knob_counts[knob]

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls socket.getfqdn(), a DNS look-up: skip it.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def handle_error(self, request, client_address) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError)):
            return
        log("error", f"internal error serving {client_address[0]}:{client_address[1]}: "
                     f"{type(exc).__name__}: {exc}")


def serve(server: Server, stop: threading.Event, tick: float, wake_fd: int) -> None:
    """CivetWeb's master thread: poll the listening socket `tick` seconds at a
    time and accept what arrives; look at the stop flag only when the poll
    returns (a connection, the end of a tick, or a byte on wake_fd)."""
    with selectors.DefaultSelector() as selector:
        selector.register(server, selectors.EVENT_READ)
        selector.register(wake_fd, selectors.EVENT_READ)
        while True:
            ready = selector.select(tick)
            if stop.is_set():
                return
            if any(key.fileobj is server for key, _ in ready):
                server._handle_request_noblock()  # accept, and a thread answers


# ---------------------------------------------------------------- main
def dump(directory: str, server: Server) -> None:
    os.makedirs(directory, exist_ok=True)
    final = os.path.join(directory, f"standin-{server.server_port}.json")
    with server.counter_lock:
        served = server.requests_served
    data = {"port": server.server_port, "dev": server.dev, "requests_served": served,
            "files": server.store.summary()}
    tmp = final + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=1, sort_keys=True)
        f.write("\n")
    os.replace(tmp, final)


def main(argv: list[str] | None = None) -> int:
    global _log_level
    args = parse_args(sys.argv[1:] if argv is None else argv)
    _log_level = LEVELS[args.log_level]

    stop = threading.Event()
    signals = {}

    def on_signal(signum, frame):
        signals["name"] = signal.Signals(signum).name
        stop.set()

    def ignore(signum, frame):
        log("warn", "SIGTERM ignored (--ignore-sigterm)")

    signal.signal(signal.SIGTERM, ignore if args.ignore_sigterm else on_signal)
    signal.signal(signal.SIGINT, on_signal)

    if args.crash_at_start_if_exists:
        marker = args.crash_at_start_if_exists
        if os.path.exists(marker):
            log("error", f"crashing on purpose at start: {marker} exists (--crash-at-start-if-exists)")
            _crash()
        open(marker, "w").close()

    store = FileStore()
    if args.startup_delay_ms and stop.wait(args.startup_delay_ms / 1000.0):
        return 0
    try:
        server = Server(args.port, args, store)
    except OSError as e:
        log("error", f"Failed to start HTTP server on {HOST}:{args.port}: {e.strerror or e}")
        return 1
    # Said before the first answer, so whoever saw /health answer finds it in the log.
    log("info", f"HBF stand-in listening on {HOST}:{server.server_port} "
                f"(dev={'on' if args.dev else 'off'})")
    wake_r, wake_w = os.pipe()
    master = threading.Thread(target=serve, args=(server, stop, STOP_POLL_S, wake_r),
                              name="master", daemon=True)
    master.start()
    while not stop.wait(1.0):
        pass
    log("info", f"{signals.get('name', 'signal')} received, shutting down")
    if args.no_stop_poll:
        os.write(wake_w, b"x")
    master.join()  # HBF's mg_stop waits for its master thread the same way
    server.server_close()
    status = 0
    if args.dump_on_exit:
        try:
            dump(args.dump_on_exit, server)
        except OSError as e:
            log("error", f"cannot write dump to {args.dump_on_exit}: {e}")
            status = 1
    log("info", f"stopped after {server.requests_served} requests")
    return status


if __name__ == "__main__":
    code = main()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        # Handler threads may be asleep (--hang-on, --delay-ms) or holding idle
        # keep-alive connections: leave at once instead of waiting for them.
        os._exit(code)
