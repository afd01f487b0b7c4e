"""Suites as data and the four targets (issue 6): --suite, a pod's own suite,
--url against a server the test started, and broken suite files."""
import json
import sys
import textwrap
import unittest
from pathlib import Path

from lib.run.suite import DEFAULT_SUITE, SuiteError, load_suite
from tests.cli import demo_args, run_benchmark
from tests.support import STANDIN, StandinServer, TempDirTestCase, free_port, requires_ab

TWO_ENDPOINTS = textwrap.dedent("""
    name = "two"
    description = "a custom suite"

    [[endpoints]]
    category = "api"
    path = "/user/7"
    variable_length = true

    [[endpoints]]
    category = "write"
    method = "PUT"
    path = "/__dev/api/file?name=static/two.txt"
    server = "dev"
    body_file = "payload.txt"
    content_type = "text/plain"
    headers = { X-Bench = "yes" }
""")


def write_suite(folder: Path, text: str = TWO_ENDPOINTS, name: str = "suite.toml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "payload.txt").write_text("payload from a file\n")
    path = folder / name
    path.write_text(text)
    return path


class SuiteFiles(TempDirTestCase):
    def test_default_suite_is_the_seven_endpoints(self):
        suite = load_suite(DEFAULT_SUITE)
        self.assertEqual(len(suite.endpoints), 7)
        self.assertEqual(suite.servers, ["normal", "dev"])
        put = suite.endpoints[-1]
        self.assertEqual((put.method, put.name, put.server), ("PUT", "PUT /__dev/api/file?name=static/bench.txt", "dev"))

    def test_custom_suite_fields(self):
        suite = load_suite(write_suite(self.tmp))
        user, put = suite.endpoints
        self.assertEqual((suite.name, user.name, user.variable_length), ("two", "/user/7", True))
        self.assertEqual(put.name, "PUT /__dev/api/file?name=static/two.txt")
        self.assertEqual(put.body, b"payload from a file\n")
        self.assertEqual(put.headers, (("X-Bench", "yes"),))
        self.assertEqual([e.name for e in suite.select(["write"]).endpoints], [put.name])
        self.assertEqual([e.name for e in suite.select(["/user/*"]).endpoints], ["/user/7"])

    BROKEN = [
        ("bad TOML", "[[endpoints]\ncategory = 'x'\n", "not valid TOML"),
        ("unknown key", "[[endpoints]]\ncategory = 'a'\npath = '/x'\nspeed = 3\n", "unknown key 'speed'"),
        ("missing field", "[[endpoints]]\ncategory = 'a'\n", "missing required key 'path'"),
        ("bad method", "[[endpoints]]\ncategory = 'a'\npath = '/x'\nmethod = 'FETCH'\n", "method 'FETCH'"),
        ("body file missing", "[[endpoints]]\ncategory = 'a'\npath = '/x'\nmethod = 'PUT'\nbody_file = 'nope.bin'\n",
         "body_file 'nope.bin'"),
        ("bad server", "[[endpoints]]\ncategory = 'a'\npath = '/x'\nserver = 'prod'\n", "server 'prod'"),
        ("no endpoints", "name = 'empty'\n", "at least one [[endpoints]]"),
        ("duplicate names", "[[endpoints]]\ncategory='a'\npath='/x'\n[[endpoints]]\ncategory='b'\npath='/x'\n",
         "two endpoints are named"),
        ("body on GET", "[[endpoints]]\ncategory = 'a'\npath = '/x'\nbody = 'hi'\n", "cannot carry a body"),
        ("c above n", "[[endpoints]]\ncategory = 'a'\npath = '/x'\nrequests = 5\nconcurrency = 9\n",
         "'concurrency' cannot exceed"),
    ]

    def test_broken_suites_name_file_entry_and_problem(self):
        for label, text, words in self.BROKEN:
            with self.subTest(label):
                path = write_suite(self.tmp / label.replace(" ", "-"), text)
                with self.assertRaises(SuiteError) as caught:
                    load_suite(path)
                message = str(caught.exception)
                self.assertIn(str(path), message)
                self.assertIn(words, message)
                if label not in ("bad TOML", "no endpoints", "duplicate names"):
                    self.assertIn("endpoint #1", message)

    def test_broken_suite_is_refused_before_anything_starts(self):
        path = write_suite(self.tmp, "[[endpoints]]\ncategory = 'a'\npath = '/x'\nspeed = 3\n")
        db = self.tmp / "r.db"
        done = run_benchmark("--demo", "--suite", path, "--db", db)
        self.assertEqual(done.returncode, 2)
        self.assertEqual(len(done.stderr.strip().splitlines()), 1)
        self.assertIn("endpoint #1", done.stderr)
        self.assertFalse(db.exists())

    def test_list_endpoints(self):
        done = run_benchmark("--suite", write_suite(self.tmp), "--list-endpoints", "--json")
        self.assertEqual(done.returncode, 0, done.stderr)
        listed = json.loads(done.stdout)
        self.assertEqual(listed["suite"], "two")
        self.assertEqual([e["name"] for e in listed["endpoints"]],
                         ["/user/7", "PUT /__dev/api/file?name=static/two.txt"])


@requires_ab
class Targets(TempDirTestCase):
    def check_two(self, report, pod):
        self.assertEqual(report["pod"], pod)
        self.assertEqual(report["suite"], "two")
        self.assertEqual([(r["endpoint"], r["status"]) for r in report["results"]],
                         [("/user/7", "ok"), ("PUT /__dev/api/file?name=static/two.txt", "ok")])

    def test_by_suite_flag(self):
        done = run_benchmark(*demo_args(self.db, "--suite", write_suite(self.tmp), "--json",
                                        requests=50, concurrency=2))
        self.assertEqual(done.returncode, 0, done.stderr[-2000:])
        self.check_two(json.loads(done.stdout), "demo")

    def test_by_pod_from_a_checkout(self):
        checkout = self.tmp / "hbf"
        checkout.mkdir()
        (checkout / "MODULE.bazel").write_text('module(name = "hbf", version = "0.1.0")\n')
        write_suite(checkout / "pods" / "myapp", name="benchmark.toml")
        # The pod's binary where bazel would put it: here a wrapper around the stand-in.
        binary = checkout / "bazel-bin" / "bin" / "hbf_myapp"
        binary.parent.mkdir(parents=True)
        binary.write_text(f"#!/bin/sh\nexec {sys.executable} -S {STANDIN} \"$@\"\n")
        binary.chmod(0o755)
        done = run_benchmark("--workspace", checkout, "--pod", "myapp", "--no-build", "--json",
                             "--requests", 50, "--concurrency", 2, "--port", free_port(),
                             "--dev-port", free_port())
        self.assertEqual(done.returncode, 0, done.stderr[-2000:])
        report = json.loads(done.stdout)
        self.check_two(report, "myapp")
        self.assertEqual(report["target"], str(binary))
        self.assertTrue((checkout / ".benchmark" / "results.db").exists())

    def test_by_url_against_servers_we_did_not_start(self):
        suite = write_suite(self.tmp)
        with StandinServer() as normal, StandinServer(dev=True) as dev:
            done = run_benchmark("--url", normal.url, "--dev-url", dev.url + "/", "--suite", suite,
                                 "--db", self.db, "--json", "--requests", 50, "--concurrency", 2)
            self.assertEqual(done.returncode, 0, done.stderr[-2000:])
            report = json.loads(done.stdout)
            self.check_two(report, "url")
            self.assertIn(normal.url, report["target"])
            # The servers are the test's: still running, and they saw the load.
            self.assertIsNone(normal.proc.poll())
            self.assertIsNone(dev.proc.poll())
            status, _, body = dev.request("GET", "/__dev/api/file?name=static/two.txt")
            self.assertEqual((status, body), (200, b"payload from a file\n"))
            # Without --dev-url the dev endpoints are skipped, with a note.
            skipped = run_benchmark("--url", normal.url, "--suite", suite, "--db", self.db, "--json",
                                    "--requests", 30, "--concurrency", 2)
        self.assertEqual(skipped.returncode, 0, skipped.stderr[-2000:])
        self.assertEqual([r["endpoint"] for r in json.loads(skipped.stdout)["results"]], ["/user/7"])
        self.assertIn("skipping dev endpoints", skipped.stderr)

    def test_a_url_server_that_crashes_is_not_restarted(self):
        suite = self.tmp / "suite.toml"
        suite.write_text('[[endpoints]]\ncategory = "runtime"\npath = "/hello"\n'
                         '[[endpoints]]\ncategory = "runtime"\npath = "/echo"\n')
        with StandinServer("--crash-on", "/hello", "--crash-after", "30") as server:
            done = run_benchmark("--url", server.url, "--suite", suite, "--db", self.db, "--json",
                                 "--requests", 100, "--concurrency", 2, "--warmup", 0)
        self.assertEqual(done.returncode, 1, done.stderr[-2000:])
        self.assertNotIn("Traceback", done.stderr)
        hello, echo = json.loads(done.stdout)["results"]
        self.assertEqual(hello["status"], "crashed")
        self.assertIn("stopped answering", hello["error"])
        self.assertEqual(echo["status"], "failed")
        self.assertIn("not measured", echo["error"])

    def test_a_url_where_nothing_answers_is_refused_before_anything_is_stored(self):
        with StandinServer() as normal:
            for args in (["--url", f"http://127.0.0.1:{free_port()}"],
                         ["--url", normal.url, "--dev-url", f"http://127.0.0.1:{free_port()}"]):
                with self.subTest(args=args):
                    done = run_benchmark(*args, "--db", self.db)
                    self.assertEqual(done.returncode, 2, done.stderr)
                    self.assertEqual(len(done.stderr.strip().splitlines()), 1, done.stderr)
                    self.assertIn("nothing answers there", done.stderr)
                    self.assertFalse(self.db.exists())

    def test_remote_url_needs_allow_remote(self):
        done = run_benchmark("--url", "http://example.com:80", "--db", self.db)
        self.assertEqual(done.returncode, 2)
        self.assertIn("--allow-remote", done.stderr)


if __name__ == "__main__":
    unittest.main()
