"""lib/load/pyload.py against real servers on 127.0.0.1: servers written here (counting
connections, chunked and unframed answers, hanging, resetting) and the HBF
stand-in (lib/standin.py). No mocks, no sleeps in the tests themselves."""
from __future__ import annotations

import socket
import threading
import time
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from lib.load.pyload import LoadError, MAX_CONSECUTIVE_FAILURES, nearest_rank_percentiles, run_load
from tests.support import StandinServer, free_port

HELLO = b'{"message":"Hello, World!"}'


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    wbufsize = 65536  # one write per answer (no Nagle/delayed-ACK stalls)

    def log_message(self, *args):
        pass

    def _send(self, status: int, body: bytes, extra=()):
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_HEAD(self):
        self._send(200, HELLO)

    def do_GET(self):
        srv = self.server
        with srv.lock:
            srv.requests += 1
            n = srv.requests
        if self.path == "/hello":
            self._send(200, HELLO)
        elif self.path == "/chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for part in (b"abc", b"defgh", b"x" * 1000):
                self.wfile.write(b"%x;ext=1\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\nX-Trailer: yes\r\n\r\n")
        elif self.path == "/unframed":
            # No Content-Length, no chunking: the body ends when the server closes.
            self.send_response(200)
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(b"y" * 5000)
            self.close_connection = True
        elif self.path == "/drop-every-3":
            # Keeps the connection open as far as the client can tell, then
            # closes it after every third answer (as servers with an idle or
            # max-requests limit do).
            self._send(200, HELLO)
            srv.per_conn[self.connection] = srv.per_conn.get(self.connection, 0) + 1
            if srv.per_conn[self.connection] % 3 == 0:
                self.close_connection = True
        elif self.path == "/missing":
            self._send(404, b"Not Found")
        else:
            self._send(200, str(n).encode())  # variable length

    def do_PUT(self):
        length = int(self.headers.get("Content-Length", "0"))
        data = self.rfile.read(length)
        srv = self.server
        with srv.lock:
            srv.bodies.append((self.headers.get("Content-Type"), data))
        self._send(200, b"OK")

    do_POST = do_PUT


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.lock = threading.Lock()
        self.connections = 0
        self.requests = 0
        self.bodies = []
        self.per_conn = {}

    def process_request(self, request, client_address):
        with self.lock:
            self.connections += 1
        super().process_request(request, client_address)


class LocalServerTest(unittest.TestCase):
    def setUp(self):
        self.srv = _Server()
        self.thread = threading.Thread(target=self.srv.serve_forever, daemon=True)
        self.thread.start()
        self.base = f"http://127.0.0.1:{self.srv.server_address[1]}"

    def tearDown(self):
        self.srv.shutdown()
        self.srv.server_close()
        self.thread.join(5)

    def test_counts_bytes_and_new_connection_per_request(self):
        r = run_load(self.base + "/hello", requests=200, concurrency=5)
        self.assertEqual(r.engine, "python")
        self.assertTrue(r.finished, r.error)
        self.assertEqual(r.complete_requests, 200)
        self.assertEqual(r.failed_requests, 0)
        self.assertEqual(r.non_2xx, 0)
        self.assertEqual(r.document_length, len(HELLO))
        self.assertEqual(r.html_transferred, 200 * len(HELLO))
        self.assertGreater(r.total_transferred, r.html_transferred)
        self.assertIsNone(r.keepalive_requests)
        self.assertEqual(self.srv.connections, 200)  # no keep-alive: one connection each

    def test_keepalive_reuses_connections(self):
        r = run_load(self.base + "/hello", requests=300, concurrency=4, keepalive=True)
        self.assertTrue(r.finished, r.error)
        self.assertEqual(r.complete_requests, 300)
        self.assertEqual(r.keepalive_requests, 300)
        self.assertLessEqual(self.srv.connections, 4)
        self.assertEqual(r.connection_times["connect"]["median"], 0.0)  # reused: no connect

    def test_keepalive_connection_closed_by_server_is_reopened_not_failed(self):
        r = run_load(self.base + "/drop-every-3", requests=90, concurrency=3, keepalive=True)
        self.assertTrue(r.finished, r.error)
        self.assertEqual((r.complete_requests, r.failed_requests), (90, 0))
        self.assertGreaterEqual(self.srv.connections, 30)

    def test_chunked_unframed_and_head_answers(self):
        r = run_load(self.base + "/chunked", requests=20, concurrency=2, keepalive=True)
        self.assertEqual((r.complete_requests, r.failed_requests), (20, 0))
        self.assertEqual(r.html_transferred, 20 * 1008)  # de-chunked body bytes
        self.assertEqual(r.keepalive_requests, 20)
        r = run_load(self.base + "/unframed", requests=20, concurrency=2, keepalive=True)
        self.assertEqual((r.complete_requests, r.failed_requests), (20, 0))
        self.assertEqual(r.html_transferred, 20 * 5000)
        self.assertEqual(r.keepalive_requests, 0)  # body ran to the close
        r = run_load(self.base + "/hello", requests=20, concurrency=2, method="HEAD", keepalive=True)
        self.assertEqual((r.complete_requests, r.failed_requests), (20, 0))
        self.assertEqual(r.html_transferred, 0)

    def test_variable_length_is_not_a_failure(self):
        r = run_load(self.base + "/count", requests=150, concurrency=3)
        self.assertEqual((r.complete_requests, r.failed_requests), (150, 0))
        self.assertIsNone(r.document_length)  # lengths differ (1, 2 and 3 digits)

    def test_put_and_post_send_body_with_type_and_length(self):
        r = run_load(self.base + "/upload", requests=10, concurrency=2, method="PUT",
                     body=b"payload \x00\xff", content_type="application/octet-stream")
        self.assertEqual((r.complete_requests, r.non_2xx), (10, 0))
        r = run_load(self.base + "/upload", requests=5, concurrency=1, method="POST",
                     body="text body", content_type="text/plain")
        self.assertEqual(r.complete_requests, 5)
        self.assertEqual(self.srv.bodies.count(("application/octet-stream", b"payload \x00\xff")), 10)
        self.assertEqual(self.srv.bodies.count(("text/plain", b"text body")), 5)

    def test_non_2xx_counted_not_failed(self):
        r = run_load(self.base + "/missing", requests=50, concurrency=5)
        self.assertEqual((r.complete_requests, r.non_2xx, r.failed_requests), (50, 50, 0))

    def test_progress_every_tenth_and_at_the_end(self):
        calls = []
        r = run_load(self.base + "/hello", requests=1000, concurrency=10,
                     progress=lambda done, total: calls.append((done, total)), keepalive=True)
        self.assertEqual(r.complete_requests, 1000)
        self.assertEqual(calls, [(k, 1000) for k in range(100, 1001, 100)])
        calls.clear()
        run_load(self.base + "/hello", requests=150, concurrency=10, keepalive=True,
                 progress=lambda done, total: calls.append((done, total)))
        self.assertEqual(calls, [(100, 150), (150, 150)])

    def test_rate_mode_keeps_the_schedule(self):
        r = run_load(self.base + "/hello", requests=100, concurrency=10, rate=200)
        self.assertTrue(r.finished, r.error)
        self.assertEqual(r.complete_requests, 100)
        # The last request is due at 99/200 s = 0.495 s.
        self.assertGreaterEqual(r.time_taken_s, 0.49)
        self.assertLess(r.time_taken_s, 0.75)
        self.assertGreater(r.requests_per_sec, 200 * 0.8)
        self.assertLess(r.requests_per_sec, 200 * 1.05)
        # Open loop: time per request is the mean measured latency.
        self.assertEqual(r.time_per_request_ms, r.connection_times["total"]["mean"])


class HostileServerTest(unittest.TestCase):
    def test_refused_stops_after_consecutive_failures(self):
        port = free_port()  # nothing listens there
        r = run_load(f"http://127.0.0.1:{port}/", requests=100, concurrency=5)
        self.assertFalse(r.finished)
        self.assertEqual(r.complete_requests, 0)
        self.assertEqual(r.failed_connect, MAX_CONSECUTIVE_FAILURES)
        self.assertIn("connection refused", r.error)
        self.assertEqual(r.percentiles, {})
        self.assertIsNone(r.requests_per_sec)

    def test_timeout_ends_the_run(self):
        with socket.socket() as listener:
            listener.bind(("127.0.0.1", 0))
            listener.listen(64)  # never accepts, never answers
            port = listener.getsockname()[1]
            t0 = time.monotonic()
            r = run_load(f"http://127.0.0.1:{port}/", requests=20, concurrency=2, timeout_s=0.5)
            elapsed = time.monotonic() - t0
        self.assertFalse(r.finished)
        self.assertIn("timeout", r.error)
        self.assertGreaterEqual(r.failed_exceptions, 1)
        self.assertEqual(r.complete_requests, 0)
        self.assertGreaterEqual(elapsed, 0.5)
        self.assertLess(elapsed, 2.0)

    def test_resets_are_receive_failures(self):
        with socket.socket() as listener:
            listener.bind(("127.0.0.1", 0))
            listener.listen(64)
            port = listener.getsockname()[1]
            stop = threading.Event()

            def reset_everything():
                listener.settimeout(0.05)
                while not stop.is_set():
                    try:
                        conn, _ = listener.accept()
                    except OSError:
                        continue
                    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                    conn.recv(1024)
                    conn.close()  # linger 0: RST

            t = threading.Thread(target=reset_everything, daemon=True)
            t.start()
            try:
                r = run_load(f"http://127.0.0.1:{port}/", requests=50, concurrency=2, timeout_s=5)
            finally:
                stop.set()
                t.join(5)
        self.assertFalse(r.finished)
        self.assertEqual(r.failed_receive, MAX_CONSECUTIVE_FAILURES)
        self.assertIn("reset", r.error)

    def test_bad_arguments(self):
        with self.assertRaises(LoadError):
            run_load("http://127.0.0.1:1/", requests=5, concurrency=10)  # c > n, as ab
        with self.assertRaises(LoadError):
            run_load("https://127.0.0.1:1/", requests=5, concurrency=1)
        with self.assertRaises(LoadError):
            run_load("http://127.0.0.1:1/", requests=0, concurrency=1)
        with self.assertRaises(LoadError):
            run_load("http://127.0.0.1:1/", requests=5, concurrency=1, rate=0)


class PercentileTest(unittest.TestCase):
    def test_nearest_rank(self):
        values = [float(v) for v in range(1, 11)]  # 1..10
        p = nearest_rank_percentiles(values)
        self.assertEqual(len(p), 101)
        self.assertEqual(p[0.0], 1.0)
        self.assertEqual(p[10.0], 1.0)
        self.assertEqual(p[11.0], 2.0)
        self.assertEqual(p[50.0], 5.0)
        self.assertEqual(p[51.0], 6.0)
        self.assertEqual(p[90.0], 9.0)
        self.assertEqual(p[99.0], 10.0)
        self.assertEqual(p[100.0], 10.0)
        self.assertEqual(nearest_rank_percentiles([3.25]), {float(i): 3.25 for i in range(101)})
        self.assertEqual(nearest_rank_percentiles([]), {})


class StandinTest(unittest.TestCase):
    def test_hello_counts_and_percentiles(self):
        with StandinServer() as s:
            r = run_load(s.url + "/hello", requests=400, concurrency=10)
        self.assertTrue(r.finished, r.error)
        self.assertEqual(r.complete_requests, 400)
        self.assertEqual((r.failed_requests, r.non_2xx), (0, 0))
        self.assertEqual(r.percentiles_source, "exact")
        values = [r.percentiles[float(p)] for p in range(101)]
        self.assertEqual(values, sorted(values))
        self.assertLessEqual(r.p50_ms, r.p99_ms)
        self.assertLessEqual(r.p99_ms, r.max_ms)
        total = r.connection_times["total"]
        self.assertEqual(total["max"], r.max_ms)
        self.assertEqual(total["min"], r.percentiles[0.0])
        self.assertLessEqual(r.connection_times["connect"]["max"], total["max"])
        self.assertTrue({"connect", "processing", "waiting", "total"} <= set(r.connection_times))
        self.assertAlmostEqual(r.requests_per_sec, 400 / r.time_taken_s, delta=1)
        self.assertAlmostEqual(r.time_per_request_ms, 10 * r.time_per_request_all_ms, delta=0.01)
        self.assertAlmostEqual(r.transfer_rate_kbps, r.total_transferred / 1024 / r.time_taken_s, delta=0.1)

    def test_not_found_counted_as_non_2xx(self):
        with StandinServer() as s:
            r = run_load(s.url + "/no/such/page", requests=100, concurrency=5)
        self.assertEqual((r.complete_requests, r.non_2xx, r.failed_requests), (100, 100, 0))

    def test_put_bodies_arrive(self):
        with StandinServer(dev=True) as s:
            r = run_load(s.url + "/__dev/api/file?name=static/x.txt", requests=60, concurrency=3,
                         method="PUT", body=b"body from pyload\n", content_type="text/plain")
            status, _, content = s.request("GET", "/__dev/api/file?name=static/x.txt")
        self.assertEqual((r.complete_requests, r.non_2xx, r.failed_requests), (60, 0, 0))
        self.assertEqual((status, content), (200, b"body from pyload\n"))

    def test_server_crash_ends_the_run_like_ab(self):
        with StandinServer("--crash-on", "/hello", "--crash-after", "50") as s:
            r = run_load(s.url + "/hello", requests=500, concurrency=10)
        self.assertFalse(r.finished)
        self.assertGreater(r.complete_requests, 40)
        self.assertLess(r.complete_requests, 500)
        # Mostly refused; connections caught by the crash itself are reset or closed.
        self.assertRegex(r.error, "connection (refused|reset|closed)")
        self.assertIn("consecutive failures", r.error)
        self.assertGreater(r.failed_connect + r.failed_receive, 0)

    def test_open_loop_charges_queueing_to_latency(self):
        # One request in flight at a time, 20 ms each, but due every 5 ms: the
        # queue grows, and latency measured from the intended send time shows it.
        with StandinServer("--delay-ms", "20") as s:
            r = run_load(s.url + "/hello", requests=40, concurrency=1, rate=200)
        self.assertEqual(r.complete_requests, 40)
        self.assertGreaterEqual(r.percentiles[0.0], 20.0)
        self.assertGreater(r.max_ms, 300.0)
        self.assertLess(r.requests_per_sec, 60)


if __name__ == "__main__":
    unittest.main()
