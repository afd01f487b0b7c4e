"""A failed endpoint says what answered: lib/explain/probe.py against a real
stand-in, and a run whose endpoints answer 404 and 500 (issue 14 §5)."""
import json
import unittest

from lib.explain import probe
from lib.run.suite import Endpoint
from tests.cli import demo_args, run_benchmark, run_show
from tests.support import StandinServer, TempDirTestCase, free_port, requires_ab

FAILING_SUITE = """
name = "failing"
[[endpoints]]
category = "static"
path = "/static/nope.css"
[[endpoints]]
category = "runtime"
path = "/hello"
[[endpoints]]
category = "runtime"
path = "/user/42"
"""


class Ask(unittest.TestCase):
    def test_a_404_and_a_403_read_plainly(self):
        with StandinServer() as server:
            missing = Endpoint(name="x", category="static", path="/static/nope.css")
            self.assertEqual(probe.ask(server.url + missing.path, missing), "404 Not Found: Not Found")
            dev = Endpoint(name="y", category="fs_read", path="/__dev/api/files")
            self.assertTrue(probe.ask(server.url + dev.path, dev).startswith("403 "))
            put = Endpoint(name="z", category="fs_write", method="PUT", server="dev",
                           path="/__dev/api/file?name=static/p.txt", body=b"x" * 10, content_type="text/plain")
            self.assertTrue(probe.ask(server.url + put.path, put).startswith("403 "))

    def test_nothing_listening(self):
        endpoint = Endpoint(name="x", category="runtime", path="/hello")
        self.assertTrue(probe.ask(f"http://127.0.0.1:{free_port()}/hello", endpoint).startswith("no answer: "))

    def test_a_long_body_is_cut(self):
        with StandinServer(dev=True) as server:
            put = Endpoint(name="z", category="fs_write", method="PUT", server="dev",
                           path="/__dev/api/file?name=static/big.txt", body=b"y" * 1000, content_type="text/plain")
            self.assertEqual(probe.ask(server.url + put.path, put), "200 OK: OK")
            get = Endpoint(name="g", category="fs_read", path="/__dev/api/file?name=static/big.txt")
            self.assertEqual(probe.ask(server.url + get.path, get), "200 OK: " + "y" * probe.BODY_BYTES)


class Explain(unittest.TestCase):
    def test_wording(self):
        self.assertEqual(probe.explain("404 Not Found: Not Found"), "asked once more alone, it answered 404 Not Found")
        self.assertIn("the failures came with load", probe.explain("200 OK: OK"))
        self.assertNotIn("load", probe.explain("500 Internal Server Error: boom"))
        self.assertIn("did not answer (timed out)", probe.explain("no answer: timed out"))
        self.assertIsNone(probe.explain(None))
        self.assertEqual(probe.status_line("500 Internal Server Error: a: b"), "500 Internal Server Error")


@requires_ab
class FailedEndpointsSayWhatAnswered(TempDirTestCase):
    def test_a_404_and_a_500_read_plainly_in_every_view(self):
        suite = self.tmp / "failing.toml"
        suite.write_text(FAILING_SUITE)
        done = run_benchmark(*demo_args(self.db, "--suite", suite, "--json", "--warmup", "0",
                                        "--server-arg=--fail-on", "--server-arg=/hello", requests=40))
        self.assertEqual(done.returncode, 1, done.stderr[-2000:])
        results = {r["endpoint"]: r for r in json.loads(done.stdout)["results"]}
        self.assertEqual(len(results), 3)
        self.assertEqual(results["/static/nope.css"]["status"], "failed")
        self.assertEqual(results["/static/nope.css"]["probe"], "404 Not Found: Not Found")
        self.assertEqual(results["/hello"]["status"], "failed")
        self.assertEqual(results["/hello"]["probe"], "500 Internal Server Error: Internal Server Error")
        self.assertEqual((results["/user/42"]["status"], results["/user/42"]["probe"]), ("ok", None))

        report = run_show("--run", "latest", "--db", self.db)
        self.assertEqual(report.returncode, 0, report.stderr)
        self.assertIn("/static/nope.css** failed: 40 non-2xx answers; asked once more alone, it answered "
                      "404 Not Found", report.stdout)
        self.assertIn("asked once more alone, it answered 500 Internal Server Error; its answer: "
                      "`500 Internal Server Error: Internal Server Error`", report.stdout)
        listing = run_show("--trend", "/hello", "--db", self.db)
        self.assertIn("failed (500 Internal Server Error)", listing.stdout)


if __name__ == "__main__":
    unittest.main()
