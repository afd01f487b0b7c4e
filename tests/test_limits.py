"""Limits (issue 21 §3): absolute bounds from a suite file or --limit, checked
on every stored result; a crossed one exits 1, a bad one is refused before
anything starts."""
import json
import sqlite3
import textwrap
import unittest

from lib.judge import limits
from tests.cli import demo_args, run_benchmark, run_show
from tests.support import REPO, TempDirTestCase, requires_ab
from tests.test_json_reference import documented

ROW = {"endpoint": "/hello", "category": "runtime", "requests_per_sec": 2400.0, "p50_ms": 1.5,
       "p99_ms": 57.2, "server_cpu_us_per_req": 300.0, "complete_requests": 1000,
       "failed_requests": 0, "non_2xx": 2}


class Parsing(unittest.TestCase):
    def test_the_flag_spelling(self):
        limit = limits.parse_flag("/hello:p99<50")
        self.assertEqual((limit.endpoints, limit.metric, limit.op, limit.bound),
                         ("/hello", "p99_ms", "<", 50.0))
        self.assertEqual(limits.parse_flag("*:req/s>=500").op, ">=")
        self.assertEqual(limits.parse_flag("fs_*:failed<=0").metric, "failed")
        self.assertEqual(limits.parse_flag("PUT /__dev/api/file?name=a:cpu < 2500").endpoints,
                         "PUT /__dev/api/file?name=a")

    def test_bad_flags_say_what_is_wrong(self):
        for text, words in (("/hello:p99", "is not ENDPOINT-GLOB:METRIC"),
                            ("/hello:p42<5", "'p42' is not a metric"),
                            ("/hello:p99<fast", "'fast' is not a number"),
                            ("/hello:p99<-3", "0 or more"),
                            ("/hello:p99<nan", "0 or more")):
            with self.subTest(text=text), self.assertRaisesRegex(limits.LimitError, words):
                limits.parse_flag(text)

    def test_the_suite_spelling_points_each_bound_the_way_it_is_good(self):
        found = limits.parse_table({"p99_ms": 50, "requests_per_sec": 500, "failed": 0,
                                    "server_cpu_us_per_req": 2500}, "suite s.toml")
        self.assertEqual([(l.metric, l.op, l.bound) for l in found],
                         [("p99_ms", "<=", 50), ("requests_per_sec", ">=", 500), ("failed", "<=", 0),
                          ("server_cpu_us_per_req", "<=", 2500)])
        for table, words in (({"p42": 1}, "'p42' is not a metric"), ({"p99_ms": "50"}, "must be a number"),
                             ({"p99_ms": True}, "must be a number"), ({}, "must be a table"),
                             (5, "must be a table")):
            with self.subTest(table=table), self.assertRaisesRegex(limits.LimitError, words):
                limits.parse_table(table, "suite s.toml")


class Checking(unittest.TestCase):
    def test_each_applying_limit_is_checked_on_the_stored_figure(self):
        wanted = [limits.parse_flag("/hello:p99<50"), limits.parse_flag("runtime:req/s>2000"),
                  limits.parse_flag("/echo:p99<1"), limits.parse_flag("*:failed<=0")]
        checks = [c.to_json() for c in limits.check(wanted, ROW)]
        self.assertEqual(checks, [
            {"metric": "p99_ms", "op": "<", "bound": 50.0, "value": 57.2, "passed": False},
            {"metric": "requests_per_sec", "op": ">", "bound": 2000.0, "value": 2400.0, "passed": True},
            {"metric": "failed", "op": "<=", "bound": 0.0, "value": 2.0, "passed": False}])  # non-2xx count

    def test_bounds_are_exact_at_the_edge_and_a_missing_figure_never_keeps_one(self):
        self.assertTrue(limits.parse_flag("/hello:p99<=57.2").holds(57.2))
        self.assertFalse(limits.parse_flag("/hello:p99<57.2").holds(57.2))
        crashed = {"endpoint": "/hello", "category": "runtime"}
        self.assertEqual([c.passed for c in limits.check([limits.parse_flag("*:p99<50")], crashed)], [False])

    def test_a_limit_must_bound_an_endpoint_the_run_measures(self):
        from lib.run.suite import Endpoint
        endpoints = [Endpoint("/hello", "runtime", "/hello")]
        limits.check_applicable([limits.parse_flag("run*:p99<5")], endpoints, own_servers=True)
        with self.assertRaisesRegex(limits.LimitError, "matches no endpoint"):
            limits.check_applicable([limits.parse_flag("/echo:p99<5")], endpoints, own_servers=True)
        with self.assertRaisesRegex(limits.LimitError, "--url"):
            limits.check_applicable([limits.parse_flag("*:cpu<5")], endpoints, own_servers=False)


SUITE = """
name = "limited"
limits = { failed = 0 }

[[endpoints]]
category = "runtime"
path = "/hello"
limits = { p99_ms = %s, requests_per_sec = 1 }
"""


@requires_ab
class LimitsInARun(TempDirTestCase):
    def suite(self, p99_bound) -> str:
        path = self.tmp / "limited.toml"
        path.write_text(textwrap.dedent(SUITE % p99_bound))
        return str(path)

    def run_json(self, *args):
        done = run_benchmark(*demo_args(self.db, *args, "--json", requests=200))
        return done, json.loads(done.stdout)

    def test_a_crossed_limit_exits_1_and_is_named_in_the_verdict(self):
        done, run = self.run_json("--suite", self.suite(1000), "--limit", "/hello:p50<0.0001")
        self.assertEqual(done.returncode, 1, done.stderr[-2000:])
        self.assertIn("limit crossed: /hello p50_ms", done.stderr)
        checks = run["results"][0]["limits"]
        self.assertEqual([(c["metric"], c["passed"]) for c in checks],
                         [("failed", True), ("p99_ms", True), ("requests_per_sec", True), ("p50_ms", False)])
        self.assertEqual(sorted(set(checks[0]) - documented()), [], "not in docs/json.md")
        self.assertIn("limits crossed: /hello p50_ms", run["verdict"])
        # Stored with the result: show_results shows the same later.
        shown = run_show("--db", self.db, "--run", "latest")
        self.assertIn("## Limits", shown.stdout)
        self.assertIn("**no: crossed**", shown.stdout)
        again = json.loads(run_show("--db", self.db, "--run", "latest", "--json").stdout)
        self.assertEqual(again["results"][0]["limits"], checks)

    def test_limits_met_exit_0(self):
        done, run = self.run_json("--suite", self.suite(1000), "--limit", "*:req/s>1")
        self.assertEqual(done.returncode, 0, done.stderr[-2000:])
        self.assertTrue(all(c["passed"] for c in run["results"][0]["limits"]))
        self.assertNotIn("limits crossed", run["verdict"])

    def test_every_bad_limit_is_refused_in_one_line_before_anything_is_stored(self):
        for args, words in ((["--limit", "/hello:p99"], "is not ENDPOINT-GLOB"),
                            (["--limit", "/hello:speed<5"], "'speed' is not a metric"),
                            (["--limit", "/hello:p99<soon"], "is not a number"),
                            (["--limit", "/nowhere:p99<5", "--only", "/hello"], "matches no endpoint"),
                            (["--suite", self.suite("'fast'")], "must be a number")):
            with self.subTest(args=args):
                done = run_benchmark(*demo_args(self.db, *args))
                self.assertEqual(done.returncode, 2, done.stderr)
                self.assertIn(words, done.stderr)
                self.assertEqual(len(done.stderr.strip().splitlines()), 1, done.stderr)
                self.assertFalse(self.db.exists())

    def test_cpu_limits_need_a_server_this_tool_started(self):
        done = run_benchmark("--url", "http://127.0.0.1:1", "--db", self.db, "--limit", "*:cpu<100")
        self.assertEqual(done.returncode, 2, done.stderr)
        self.assertIn("server CPU is measured only on servers this tool starts", done.stderr)


class ExampleSuite(unittest.TestCase):
    def test_the_example_suite_carries_limits(self):
        from lib.run.suite import load_suite
        suite = load_suite(REPO / "suites" / "pull-request.toml")
        self.assertTrue(suite.all_limits())


if __name__ == "__main__":
    unittest.main()
