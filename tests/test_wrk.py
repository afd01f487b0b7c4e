"""lib/load/wrk.py: the parser on real wrk captures (tests/fixtures/wrk, each with a
.cmd file saying how it was made), the command and script builders, and run_wrk
against real servers on 127.0.0.1 (skipped when wrk is not installed)."""
from __future__ import annotations

import socket
import threading
import time
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from lib.load import wrk as W
from tests.support import StandinServer, free_port

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "wrk"
requires_wrk = unittest.skipUnless(W.wrk_path(), "wrk is not installed (apt-get install wrk)")


def fixture(name: str) -> str:
    return (FIXTURES / f"{name}.txt").read_text()


class ParseCapturedOutputTest(unittest.TestCase):
    def test_get_plain(self):
        r = W.parse_wrk_output(fixture("get_plain"))
        self.assertEqual(r.engine, "wrk")
        self.assertTrue(r.finished)
        self.assertIsNone(r.error)
        self.assertEqual(r.complete_requests, 7423)
        self.assertAlmostEqual(r.time_taken_s, 1.10)
        self.assertEqual(r.requests_per_sec, 6750.33)
        self.assertEqual(r.total_transferred, round(1.00 * 1024 ** 2))
        self.assertEqual(r.transfer_rate_kbps, round(0.91 * 1024, 2))
        self.assertEqual(r.percentiles_source, "table")
        self.assertEqual(r.percentiles, {50.0: 1.33, 75.0: 1.95, 90.0: 3.30, 99.0: 7.36, 100.0: 18.96})
        self.assertEqual(r.connection_times["total"], {"mean": 1.68, "sd": 1.49, "max": 18.96, "median": 1.33})
        self.assertEqual((r.failed_requests, r.non_2xx), (0, 0))
        self.assertAlmostEqual(r.time_per_request_ms, 10 * 1.10 * 1000 / 7423, places=3)
        self.assertIsNone(r.html_transferred)

    def test_not_found_plain_counts_non_2xx_and_kilobytes(self):
        r = W.parse_wrk_output(fixture("notfound_plain"))
        self.assertEqual((r.complete_requests, r.non_2xx), (6245, 6245))
        self.assertEqual(r.total_transferred, round(841.61 * 1024))
        self.assertEqual(r.transfer_rate_kbps, 764.79)
        self.assertEqual(r.percentiles[50.0], 1.74)
        self.assertEqual(r.connection_times["total"]["sd"], 0.768)  # 767.93us

    def test_crash_socket_errors(self):
        r = W.parse_wrk_output(fixture("crash_errors"))
        self.assertEqual(r.complete_requests, 299)
        self.assertEqual((r.failed_connect, r.failed_receive, r.write_errors), (0, 15, 78002))
        self.assertEqual(r.failed_exceptions, 78002)  # write + timeout
        self.assertEqual(r.failed_requests, 15 + 78002)
        self.assertEqual(r.percentiles[99.0], 21.99)
        self.assertEqual(r.requests_per_sec, 147.96)

    def test_dead_port(self):
        r = W.parse_wrk_output(fixture("dead_port"))
        self.assertFalse(r.finished)
        self.assertEqual(r.error, "unable to connect to 127.0.0.1:9 Connection refused")
        self.assertEqual(r.complete_requests, 0)
        self.assertEqual(r.percentiles, {})

    def test_seconds_and_bytes_units(self):
        r = W.parse_wrk_output(fixture("slow_seconds"))
        self.assertEqual(r.complete_requests, 4)
        self.assertAlmostEqual(r.time_taken_s, 3.06)
        self.assertEqual(r.total_transferred, 460)
        self.assertEqual(r.percentiles[50.0], 1140.0)
        self.assertEqual(r.percentiles[99.0], 1150.0)
        self.assertEqual(r.connection_times["total"], {"mean": 1120.0, "sd": 24.61, "max": 1150.0, "median": 1140.0})
        self.assertEqual(r.transfer_rate_kbps, round(150.33 / 1024, 2))

    def test_all_answers_late_gives_timeouts_and_no_percentiles(self):
        r = W.parse_wrk_output(fixture("slow_timeout"))
        self.assertEqual(r.complete_requests, 8)
        self.assertEqual(r.failed_exceptions, 8)
        self.assertEqual(r.percentiles, {})
        self.assertEqual(r.connection_times, {})

    def test_lua_lines_give_exact_figures(self):
        r = W.parse_wrk_output(fixture("get_lua"))
        self.assertTrue(r.finished)
        self.assertEqual(r.complete_requests, 2000)
        self.assertEqual(r.time_taken_s, 0.302661)
        self.assertEqual(r.total_transferred, 282000)
        self.assertEqual(r.html_transferred, 54000)
        self.assertEqual(r.non_2xx, 0)
        self.assertEqual(r.percentiles_source, "wrk")
        self.assertEqual(len(r.percentiles), 101)
        values = [r.percentiles[float(p)] for p in range(101)]
        self.assertEqual(values, sorted(values))
        self.assertEqual((r.percentiles[0.0], r.percentiles[50.0], r.percentiles[100.0]), (0.113, 1.363, 17.294))
        self.assertEqual(r.connection_times["total"],
                         {"min": 0.113, "mean": 1.63, "sd": 1.34, "median": 1.363, "max": 17.294})
        self.assertEqual(r.requests_per_sec, round(2000 / 0.302661, 2))

    def test_lua_put_and_exact_non_2xx(self):
        r = W.parse_wrk_output(fixture("put_lua"))
        self.assertEqual((r.complete_requests, r.non_2xx, r.html_transferred), (600, 0, 600 * 2))
        r = W.parse_wrk_output(fixture("bad_request_lua"))
        self.assertEqual((r.complete_requests, r.non_2xx), (400, 400))


class BuildTest(unittest.TestCase):
    def test_command(self):
        cmd = W.build_wrk_command("http://127.0.0.1:8080/x", duration_s=2.5, concurrency=10,
                                  threads=2, timeout_s=0.5, script_path="/tmp/s.lua")
        self.assertEqual(cmd, ["wrk", "-t", "2", "-c", "10", "-d", "3s", "--timeout", "1s",
                               "--latency", "-s", "/tmp/s.lua", "http://127.0.0.1:8080/x"])
        with self.assertRaises(W.WrkError):
            W.build_wrk_command("http://127.0.0.1:1/", duration_s=1, concurrency=1, threads=2)

    def test_threads_divide_concurrency(self):
        self.assertEqual(W.pick_threads(10, cpus=2), 2)
        self.assertEqual(W.pick_threads(9, cpus=2), 1)
        self.assertEqual(W.pick_threads(12, cpus=8), 6)
        self.assertEqual(W.pick_threads(1, cpus=8), 1)

    def test_lua_script(self):
        text = W.build_lua_script(method="PUT", body=b'a"b\\c\n\x00\xff', content_type="text/plain",
                                  headers={"X-Test": "1"}, keepalive=False, quotas=[3, 2])
        self.assertIn('wrk.method = "PUT"', text)
        self.assertIn(r'wrk.body = "a\034b\092c\010\000\255"', text)
        self.assertIn('wrk.headers["Content-Type"] = "text/plain"', text)
        self.assertIn('wrk.headers["X-Test"] = "1"', text)
        self.assertIn('wrk.headers["Connection"] = "close"', text)
        self.assertIn("local quotas = {3, 2}", text)
        self.assertIn("wrk.thread:stop()", text)


class _Counting(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self):
        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            wbufsize = 65536

            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *a):
                pass

        super().__init__(("127.0.0.1", 0), H)
        self.lock = threading.Lock()
        self.connections = 0

    def process_request(self, request, client_address):
        with self.lock:
            self.connections += 1
        super().process_request(request, client_address)


@requires_wrk
class RunWrkTest(unittest.TestCase):
    def test_version(self):
        self.assertRegex(W.wrk_version(), r"\d+\.\d+")

    def test_requests_against_standin(self):
        calls = []
        with StandinServer() as s:
            r = W.run_wrk(s.url + "/hello", requests=400, concurrency=10,
                          progress=lambda d, t: calls.append((d, t)))
        self.assertTrue(r.finished, r.error)
        self.assertGreaterEqual(r.complete_requests, 400)
        self.assertLess(r.complete_requests, 410)
        self.assertEqual((r.non_2xx, r.failed_requests), (0, 0))
        self.assertEqual(r.percentiles_source, "wrk")
        values = [r.percentiles[float(p)] for p in range(101)]
        self.assertEqual(values, sorted(values))
        self.assertLessEqual(r.p50_ms, r.p99_ms)
        self.assertLessEqual(r.p99_ms, r.max_ms)
        self.assertLess(r.time_taken_s, 5)  # stopped when done, not at the -d ceiling
        self.assertEqual(calls[-1], (400, 400))  # capped at the total even when wrk overshoots
        self.assertEqual([d for d, _ in calls], sorted(d for d, _ in calls))

    def test_non_2xx_and_put(self):
        with StandinServer(dev=True) as s:
            r = W.run_wrk(s.url + "/nothing/here", requests=100, concurrency=4)
            self.assertTrue(r.finished, r.error)
            self.assertGreaterEqual(r.complete_requests, 100)  # equal counts of nothing prove nothing
            self.assertEqual(r.non_2xx, r.complete_requests)
            r = W.run_wrk(s.url + "/__dev/api/file?name=static/x.txt", requests=50, concurrency=2,
                          method="PUT", body=b"put by wrk\n", content_type="text/plain")
            status, _, content = s.request("GET", "/__dev/api/file?name=static/x.txt")
        self.assertTrue(r.finished, r.error)
        self.assertGreaterEqual(r.complete_requests, 50)
        self.assertEqual(r.non_2xx, 0)
        self.assertEqual((status, content), (200, b"put by wrk\n"))

    def test_keepalive_and_connection_close(self):
        srv = _Counting()
        t = threading.Thread(target=srv.serve_forever, daemon=True)
        t.start()
        try:
            url = f"http://127.0.0.1:{srv.server_address[1]}/"
            r = W.run_wrk(url, requests=200, concurrency=2)
            self.assertEqual(r.complete_requests, 200)
            # The 2 load connections plus the one wrk opens first to check the
            # address (the check behind "unable to connect to ...").
            self.assertLessEqual(srv.connections, 3)
            before = srv.connections
            r = W.run_wrk(url, requests=200, concurrency=2, keepalive=False)
            self.assertEqual(r.complete_requests, 200)
            self.assertGreaterEqual(srv.connections - before, 200)
        finally:
            srv.shutdown()
            srv.server_close()
            t.join(5)

    def test_duration_mode(self):
        with StandinServer() as s:
            r = W.run_wrk(s.url + "/hello", duration_s=1, concurrency=4)
        self.assertTrue(r.finished, r.error)
        self.assertGreater(r.complete_requests, 0)
        self.assertAlmostEqual(r.time_taken_s, 1.0, delta=0.3)

    def test_server_crash_stops_the_run(self):
        with StandinServer("--crash-on", "/hello", "--crash-after", "50") as s:
            t0 = time.monotonic()
            r = W.run_wrk(s.url + "/hello", requests=500, concurrency=10)
            elapsed = time.monotonic() - t0
        self.assertFalse(r.finished)
        self.assertIn("connection refused", r.error)
        self.assertGreater(r.complete_requests, 40)
        self.assertLess(r.complete_requests, 500)
        self.assertGreater(r.failed_requests, 0)
        self.assertLess(elapsed, 6)

    def test_hung_server_times_out(self):
        with socket.socket() as listener:
            listener.bind(("127.0.0.1", 0))
            listener.listen(64)  # never answers
            t0 = time.monotonic()
            r = W.run_wrk(f"http://127.0.0.1:{listener.getsockname()[1]}/", requests=20,
                          concurrency=2, timeout_s=1)
            elapsed = time.monotonic() - t0
        self.assertFalse(r.finished)
        self.assertIn("timeout", r.error)
        self.assertEqual(r.complete_requests, 0)
        self.assertGreaterEqual(r.failed_exceptions, 1)
        self.assertLess(elapsed, 5)

    def test_dead_port(self):
        r = W.run_wrk(f"http://127.0.0.1:{free_port()}/", requests=10, concurrency=2)
        self.assertFalse(r.finished)
        self.assertIn("Connection refused", r.error)

    def test_bad_arguments(self):
        with self.assertRaises(W.WrkError):
            W.run_wrk("http://127.0.0.1:1/", requests=5, concurrency=10)
        with self.assertRaises(W.WrkError):
            W.run_wrk("http://127.0.0.1:1/", concurrency=1)
        with self.assertRaises(W.WrkError):
            W.run_wrk("http://127.0.0.1:1/", requests=5, concurrency=1, method="HEAD")


if __name__ == "__main__":
    unittest.main()
