"""The HBF stand-in (lib/standin.py) behaves like HBF, and its test knobs work.

Real processes on 127.0.0.1, no mocks, no sleeps.
"""
from __future__ import annotations

import http.client
import json
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from pathlib import Path

from tests.support import HOST, STANDIN, StandinServer, poke, requires_ab, wait_idle, wait_until


def run_standin(*args, timeout: float = 10.0) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(STANDIN), *map(str, args)],
                          capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


class OneServer(unittest.TestCase):
    """One stand-in shared by a class's tests; DEV says whether it has --dev."""
    DEV = False

    @classmethod
    def setUpClass(cls):
        cls.server = StandinServer(dev=cls.DEV)
        cls.server.start()

    @classmethod
    def tearDownClass(cls):
        cls.server.__exit__(None, None, None)

    def req(self, method, path, **kw):
        return self.server.request(method, path, **kw)


class NormalModeTest(OneServer):
    """One server without --dev for all route checks."""

    def test_health_is_a_c_route(self):
        status, headers, body = self.req("GET", "/health")
        self.assertEqual((status, body), (200, b'{"status":"ok"}'))
        self.assertNotIn("x-powered-by", headers)
        self.assertEqual(headers["content-length"], "15")

    def test_style_css(self):
        status, headers, body = self.req("GET", "/static/style.css")
        self.assertEqual(status, 200)
        self.assertEqual(len(body), 130)
        self.assertIn(b"{", body)
        self.assertEqual(headers["content-type"], "text/css")
        self.assertNotIn("x-powered-by", headers)

    def test_favicon_is_an_empty_200(self):
        status, headers, body = self.req("GET", "/static/favicon.ico")
        self.assertEqual((status, body), (200, b""))
        self.assertEqual(headers["content-length"], "0")
        self.assertEqual(headers["content-type"], "image/x-icon")

    def test_static_js_and_missing_static(self):
        status, headers, body = self.req("GET", "/static/nope.css")
        self.assertEqual(status, 404)
        self.assertNotIn("x-powered-by", headers)
        self.assertIn("[ERROR] 404 GET /static/nope.css", self.server.log_text())

    def test_index(self):
        status, headers, body = self.req("GET", "/")
        self.assertEqual(status, 200)
        self.assertTrue(headers["content-type"].startswith("text/html"))
        self.assertIn(b"<html>", body)
        self.assertEqual(headers["x-powered-by"], "HBF")

    def test_hello(self):
        status, headers, body = self.req("GET", "/hello")
        self.assertEqual((status, body), (200, b'{"message":"Hello, World!"}'))
        self.assertEqual(headers["x-powered-by"], "HBF")
        self.assertEqual(headers["content-type"], "application/json")

    def test_user_id_length_depends_on_id(self):
        self.assertEqual(self.req("GET", "/user/42")[2], b'{"userId":"42"}')
        status, headers, body = self.req("GET", "/user/abcdef")
        self.assertEqual((status, json.loads(body)), (200, {"userId": "abcdef"}))
        self.assertEqual(headers["x-powered-by"], "HBF")
        self.assertEqual(self.req("GET", "/user/")[0], 404)

    def test_echo(self):
        self.assertEqual(self.req("GET", "/echo")[2], b'{"method":"GET","url":"/echo"}')
        status, _, body = self.req("PUT", "/echo?a=1", body=b"x")
        self.assertEqual((status, json.loads(body)), (200, {"method": "PUT", "url": "/echo?a=1"}))

    def test_head_has_length_but_no_body(self):
        status, headers, body = self.req("HEAD", "/hello")
        self.assertEqual((status, body), (200, b""))
        self.assertEqual(headers["content-length"], "27")

    def test_unknown_route_and_method(self):
        for method, path in (("GET", "/nope"), ("POST", "/hello"),
                             ("POST", "/static/style.css"), ("PATCH", "/")):
            with self.subTest(method=method, path=path):
                status, headers, body = self.req(method, path, body=b"data")
                self.assertEqual((status, body), (404, b"Not Found"))
                self.assertEqual(headers["x-powered-by"], "HBF")
        self.assertIn("[ERROR] 404 GET /nope: no route", self.server.log_text())
        self.assertIn("[ERROR] 404 POST /hello: no route", self.server.log_text())

    def test_dev_routes_forbidden_without_dev(self):
        for method, path in (("GET", "/__dev/api/files"),
                             ("GET", "/__dev/api/file?name=static/style.css"),
                             ("PUT", "/__dev/api/file?name=static/x.txt"),
                             ("DELETE", "/__dev/api/file?name=static/style.css"),
                             ("GET", "/__dev/whatever")):
            with self.subTest(method=method, path=path):
                status, headers, body = self.req(method, path, body=b"x" if method == "PUT" else None)
                self.assertEqual((status, body), (403, b"Dev mode not enabled"))
                self.assertEqual(headers["x-powered-by"], "HBF")
        self.assertIn("[ERROR] 403 GET /__dev/api/files: Dev mode not enabled",
                      self.server.log_text())
        # and the PUT stored nothing
        self.assertEqual(self.req("GET", "/static/x.txt")[0], 404)

    def test_keep_alive_http10_and_http11(self):
        for request_line, extra in ((b"GET /hello HTTP/1.0", b"Connection: keep-alive\r\n"),
                                    (b"GET /hello HTTP/1.1", b"Host: x\r\n")):
            with self.subTest(request=request_line), \
                    socket.create_connection((HOST, self.server.port), timeout=5) as s:
                f = s.makefile("rb")
                for _ in range(3):  # three answers on one connection
                    s.sendall(request_line + b"\r\n" + extra + b"\r\n")
                    head = []
                    while (line := f.readline()) not in (b"\r\n", b""):
                        head.append(line)
                    self.assertTrue(head[0].startswith(b"HTTP/1.1 200"))
                    headers = b"".join(head).lower()
                    self.assertIn(b"connection: keep-alive", headers)  # ab -k needs this
                    self.assertIn(b"content-length: 27", headers)
                    self.assertEqual(f.read(27), b'{"message":"Hello, World!"}')

    def test_plain_http10_closes(self):
        with socket.create_connection((HOST, self.server.port), timeout=5) as s:
            s.sendall(b"GET /hello HTTP/1.0\r\n\r\n")
            data = b""
            while chunk := s.recv(4096):
                data += chunk
        self.assertIn(b"Connection: close", data)
        self.assertTrue(data.endswith(b'{"message":"Hello, World!"}'))

    def test_binds_loopback_only(self):
        try:
            tables = [Path("/proc/net/tcp").read_text()]
        except OSError:
            self.skipTest("/proc/net/tcp not readable")
        try:
            tables.append(Path("/proc/net/tcp6").read_text())
        except OSError:
            pass
        listeners = []
        for table in tables:
            for line in table.splitlines()[1:]:
                fields = line.split()
                addr, port = fields[1].rsplit(":", 1)
                if int(port, 16) == self.server.port and fields[3] == "0A":  # LISTEN
                    listeners.append(addr)
        self.assertEqual(listeners, ["0100007F"])  # 127.0.0.1, nothing else

    def test_no_info_lines_at_error_level(self):
        self.req("GET", "/hello")
        self.assertNotIn("[INFO]", self.server.log_text())
        self.assertNotIn("Traceback", self.server.log_text())


class DevModeTest(OneServer):
    DEV = True

    def listing(self):
        status, headers, body = self.req("GET", "/__dev/api/files")
        self.assertEqual(status, 200)
        self.assertEqual(headers["x-powered-by"], "HBF")
        return json.loads(body)

    def test_listing(self):
        files = self.listing()
        names = [f["name"] for f in files]
        self.assertEqual(names, sorted(names))
        self.assertIn("static/style.css", names)
        self.assertIn("hbf/server.js", names)
        self.assertGreaterEqual(len([n for n in names if n.startswith("hbf/")]), 3)
        by_name = {f["name"]: f for f in files}
        self.assertEqual(by_name["static/style.css"]["sz"], 130)
        self.assertEqual(by_name["static/favicon.ico"]["sz"], 0)
        self.assertEqual(set(by_name["hbf/server.js"]), {"name", "mtime", "sz"})
        self.assertGreater(by_name["hbf/server.js"]["sz"], 100)

    def test_get_file(self):
        status, headers, body = self.req("GET", "/__dev/api/file?name=static/style.css")
        self.assertEqual((status, len(body)), (200, 130))
        self.assertEqual(headers["x-powered-by"], "HBF")

    def test_put_makes_new_versions(self):
        path = "/__dev/api/file?name=static/put-test.txt"
        self.assertEqual(self.req("GET", path)[0], 404)
        self.assertEqual(self.req("PUT", path, body=b"one")[:3:2], (200, b"OK"))
        self.assertEqual(self.req("PUT", path, body=b"second")[:3:2], (200, b"OK"))
        self.assertEqual(self.req("GET", path)[2], b"second")
        status, headers, body = self.req("GET", "/static/put-test.txt")
        self.assertEqual((status, body), (200, b"second"))
        self.assertTrue(headers["content-type"].startswith("text/plain"))
        entry = [f for f in self.listing() if f["name"] == "static/put-test.txt"]
        self.assertEqual([e["sz"] for e in entry], [6])
        # DELETE removes every version
        self.assertEqual(self.req("DELETE", path)[:3:2], (200, b"OK"))
        self.assertEqual(self.req("GET", path)[0], 404)
        self.assertEqual(self.req("GET", "/static/put-test.txt")[0], 404)
        self.assertEqual(self.req("DELETE", path)[0], 404)
        self.assertNotIn("static/put-test.txt", [f["name"] for f in self.listing()])

    def test_file_api_errors(self):
        cases = [("GET", "/__dev/api/file?name=etc/passwd", 400),
                 ("PUT", "/__dev/api/file?name=../x", 400),
                 ("DELETE", "/__dev/api/file?name=other/x", 400),
                 ("GET", "/__dev/api/file", 400),
                 ("GET", "/__dev/api/file?name=static/absent.txt", 404),
                 ("DELETE", "/__dev/api/file?name=hbf/absent.js", 404),
                 ("POST", "/__dev/api/file?name=static/x.txt", 404),
                 ("GET", "/__dev/api/other", 404),
                 ("PUT", "/__dev/api/files", 404)]
        for method, path, expected in cases:
            with self.subTest(method=method, path=path):
                status, headers, _ = self.req(method, path, body=b"b" if method in ("PUT", "POST") else None)
                self.assertEqual(status, expected)
                self.assertEqual(headers["x-powered-by"], "HBF")
        log = self.server.log_text()
        self.assertIn("[ERROR] 400 GET /__dev/api/file?name=etc/passwd:", log)
        self.assertIn("[ERROR] 404 GET /__dev/api/file?name=static/absent.txt:", log)


class ConcurrentPutTest(unittest.TestCase):
    def test_50_concurrent_puts_give_50_versions(self):
        with tempfile.TemporaryDirectory() as dump_dir:
            server = StandinServer("--dump-on-exit", dump_dir, dev=True)
            with server:
                start = threading.Barrier(50)
                results = []

                def put(i):
                    start.wait()
                    status = server.request("PUT", "/__dev/api/file?name=static/bench.txt",
                                            body=b"x" * (i + 1))[0]
                    results.append(status)

                threads = [threading.Thread(target=put, args=(i,)) for i in range(50)]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join(30)
                self.assertEqual(results, [200] * 50)
                self.assertEqual(server.stop(), 0)
            dump = json.loads((Path(dump_dir) / f"standin-{server.port}.json").read_text())
        self.assertEqual(dump["port"], server.port)
        self.assertIs(dump["dev"], True)
        self.assertGreaterEqual(dump["requests_served"], 51)  # 50 PUTs + /health
        self.assertEqual(dump["files"]["static/bench.txt"]["versions"], 50)
        self.assertEqual(dump["files"]["static/style.css"],
                         {"versions": 1, "latest_size": 130})


class KnobsTest(unittest.TestCase):
    def test_crash_on_third_request_is_a_real_sigsegv(self):
        with StandinServer("--crash-on", "/hello", "--crash-after", "3") as server:
            self.assertEqual(server.request("GET", "/hello?a=1")[0], 200)
            self.assertEqual(server.request("GET", "/echo")[0], 200)  # other paths don't count
            self.assertEqual(server.request("GET", "/hello")[0], 200)
            with self.assertRaises((ConnectionError, http.client.HTTPException)):
                server.request("GET", "/hello?b=2")
            server.proc.wait(5)
            self.assertEqual(server.proc.returncode, -signal.SIGSEGV)
            self.assertIn("crashing on purpose", server.log_text())
            self.assertNotIn("Fatal Python error", server.log_text())  # no faulthandler

    def test_delay_ms(self):
        with StandinServer("--delay-ms", "100") as server:
            t0 = time.monotonic()
            self.assertEqual(server.request("GET", "/hello")[0], 200)
            self.assertGreaterEqual(time.monotonic() - t0, 0.1)
        with StandinServer() as server:  # without the knob: fast (best of 3, load-proof)
            times = []
            for _ in range(3):
                t0 = time.monotonic()
                self.assertEqual(server.request("GET", "/hello")[0], 200)
                times.append(time.monotonic() - t0)
            self.assertLess(min(times), 0.09)

    def test_startup_delay_ms(self):
        with StandinServer("--startup-delay-ms", "400") as server:
            self.assertGreaterEqual(server.startup_seconds, 0.4)

    def test_hang_on(self):
        with StandinServer("--hang-on", "/hello", "--hang-after", "2") as server:
            self.assertEqual(server.request("GET", "/hello")[0], 200)
            t0 = time.monotonic()
            with self.assertRaises(TimeoutError):
                server.request("GET", "/hello?x", timeout=1.0)
            self.assertGreaterEqual(time.monotonic() - t0, 0.95)
            # the rest of the server keeps working, and it still stops quickly
            self.assertEqual(server.request("GET", "/echo")[0], 200)
            t0 = time.monotonic()
            self.assertEqual(server.stop(), 0)
            self.assertLess(time.monotonic() - t0, 1.0)

    def test_log_level_info_announces_listening(self):
        with StandinServer("--log-level", "info", dev=True) as server:
            self.assertIn(f"[INFO] HBF stand-in listening on 127.0.0.1:{server.port} (dev=on)",
                          server.log_text())
        with StandinServer("--log-level", "info") as server:
            self.assertIn("(dev=off)", server.log_text())


class CommandLineTest(unittest.TestCase):
    def test_bad_command_lines_exit_1_with_one_line(self):
        for args in (["--bogus"], ["--port", "0"], ["--port", "65536"], ["--port", "abc"],
                     ["--log-level", "loud"], ["--port"], ["--crash-after", "0"],
                     ["--delay-ms", "-5"], ["extra"]):
            with self.subTest(args=args):
                result = run_standin(*args)
                self.assertEqual(result.returncode, 1, result.stderr)
                self.assertEqual(len(result.stderr.strip().splitlines()), 1, result.stderr)
                self.assertEqual(result.stdout, "")

    def test_help(self):
        for flag in ("--help", "-h"):
            result = run_standin(flag)
            self.assertEqual(result.returncode, 0)
            for word in ("--port", "--log-level", "--dev", "--inmem", "--crash-on",
                         "--hang-on", "--delay-ms", "--startup-delay-ms", "--dump-on-exit",
                         "--no-stop-poll", "--ignore-sigterm"):
                self.assertIn(word, result.stdout)

    def test_port_taken(self):
        with StandinServer() as server:
            result = run_standin("--port", server.port, "--log-level", "error", "--inmem")
            self.assertEqual(result.returncode, 1)
            self.assertIn("Failed to start HTTP server", result.stderr)
            self.assertEqual(server.request("GET", "/health")[0], 200)

    def test_sigterm_and_sigint_exit_0_fast_when_a_connection_follows(self):
        for sig in (signal.SIGTERM, signal.SIGINT):
            with self.subTest(signal=sig.name), tempfile.TemporaryDirectory() as dump_dir, \
                    StandinServer("--dump-on-exit", dump_dir, "--log-level", "info") as server:
                # an idle keep-alive connection must not hold the exit up
                conn = http.client.HTTPConnection(HOST, server.port, timeout=5)
                conn.request("GET", "/hello")
                conn.getresponse().read()
                server.send_signal(sig)
                wait_until(lambda: f"{sig.name} received" in server.log_text(), 5)
                t0 = time.monotonic()
                poke(server.port)
                server.proc.wait(5)
                elapsed = time.monotonic() - t0
                conn.close()
                self.assertEqual(server.proc.returncode, 0, server.log_text())
                self.assertLess(elapsed, 0.5)
                self.assertTrue((Path(dump_dir) / f"standin-{server.port}.json").is_file())
                # the connection that woke it was not a request
                self.assertIn("stopped after 2 requests", server.log_text())  # /health, /hello

    def test_after_sigterm_it_waits_for_its_poll_like_hbf(self):
        with StandinServer("--log-level", "info") as server:
            t0 = time.monotonic()
            server.request("GET", "/hello")  # the master thread's 2-second poll starts again now
            wait_idle(server.proc.pid)
            server.send_signal(signal.SIGTERM)
            wait_until(lambda: "SIGTERM received" in server.log_text(), 5)
            if time.monotonic() - t0 > 1.4:  # the poll may end within the next 0.5 s
                self.skipTest("this machine is too slow now to tell the 2-second poll from a hang")
            with self.assertRaises(subprocess.TimeoutExpired):
                server.proc.wait(0.5)  # the signal was seen, yet it is still running
            t1 = time.monotonic()
            poke(server.port)  # a connection wakes it: it exits at once
            server.proc.wait(5)
            self.assertLess(time.monotonic() - t1, 0.5)
            self.assertEqual(server.proc.returncode, 0)

    def test_without_a_connection_it_exits_at_the_polls_next_tick(self):
        with StandinServer() as server:
            t0 = time.monotonic()
            server.request("GET", "/hello")  # accepted after t0: the tick ends 2 s after that
            server.send_signal(signal.SIGINT)
            server.proc.wait(10)
            elapsed = time.monotonic() - t0
            self.assertEqual(server.proc.returncode, 0)
            self.assertGreaterEqual(elapsed, 1.95)
            self.assertLess(elapsed, 4.0)

    def test_no_stop_poll_exits_without_a_connection(self):
        with StandinServer("--no-stop-poll") as server:
            wait_idle(server.proc.pid)
            t0 = time.monotonic()
            server.send_signal(signal.SIGTERM)
            server.proc.wait(5)
            self.assertLess(time.monotonic() - t0, 0.5)
            self.assertEqual(server.proc.returncode, 0)

    def test_ignore_sigterm_leaves_it_to_sigkill(self):
        with StandinServer("--ignore-sigterm", "--log-level", "warn") as server:
            server.send_signal(signal.SIGTERM)
            wait_until(lambda: "SIGTERM ignored" in server.log_text(), 5)
            poke(server.port)
            with self.assertRaises(subprocess.TimeoutExpired):
                server.proc.wait(0.5)
            self.assertEqual(server.request("GET", "/hello")[0], 200)  # still serving
            t0 = time.monotonic()
            self.assertEqual(server.stop(timeout=0.3), -signal.SIGKILL)
            self.assertLess(time.monotonic() - t0, 2.0)

    def test_support_fails_fast_when_the_process_exits(self):
        t0 = time.monotonic()
        with self.assertRaises(AssertionError) as ctx:
            StandinServer("--bogus").start()
        self.assertLess(time.monotonic() - t0, 5)
        self.assertIn("--bogus", str(ctx.exception))


@requires_ab
class AbTest(unittest.TestCase):
    def run_ab(self, *args):
        return subprocess.run(["ab", *args], capture_output=True, text=True, timeout=60,
                              stdin=subprocess.DEVNULL)

    def test_ab_500_requests_c10(self):
        with StandinServer() as server:
            for keep_alive in ([], ["-k"]):
                with self.subTest(keep_alive=bool(keep_alive)):
                    result = self.run_ab("-q", *keep_alive, "-n", "500", "-c", "10",
                                         f"{server.url}/hello")
                    self.assertEqual(result.returncode, 0, result.stderr)
                    self.assertRegex(result.stdout, r"Complete requests:\s+500\n")
                    self.assertRegex(result.stdout, r"Failed requests:\s+0\n")
                    self.assertNotIn("Non-2xx", result.stdout)
                    if keep_alive:
                        self.assertRegex(result.stdout, r"Keep-Alive requests:\s+500\n")
            self.assertEqual(server.log_text(), "")


if __name__ == "__main__":
    unittest.main()
