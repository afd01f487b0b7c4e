"""Setup (issue 21 §4): requests sent before an endpoint's warmup, not
measured, so it is measured over the state users have; its fingerprint keeps
results over another setup out of every comparison."""
import json
import textwrap
import unittest
from pathlib import Path

from lib.run.suite import SuiteError, load_suite, parse_suite
from tests.cli import run_benchmark
from tests.support import REPO, StandinServer, TempDirTestCase, requires_ab

SEED = '{ method = "PUT", path = "/__dev/api/file?name=static/seed-{i}.txt", body = "x", count = 200 }'
LISTING = """
name = "listing"

[[endpoints]]
name = "GET /__dev/api/files"
category = "fs_read"
path = "/__dev/api/files"
server = "dev"
variable_length = true
%s

[[endpoints]]
category = "runtime"
path = "/hello"
"""


def listing(setup: str = "") -> dict:
    import tomllib
    return tomllib.loads(textwrap.dedent(LISTING % setup))


class Parsing(unittest.TestCase):
    def test_requests_are_numbered_from_one(self):
        suite = parse_suite(listing(f"setup = [{SEED}]"), Path("s.toml"))
        request = suite.endpoints[0].setup[0]
        self.assertEqual((request.method, request.count), ("PUT", 200))
        first = request.numbered(1)
        self.assertEqual((first.path, first.body), ("/__dev/api/file?name=static/seed-1.txt", b"x"))

    def test_the_fingerprint_tells_setups_apart_and_none_is_none(self):
        plain = parse_suite(listing(), Path("s.toml"))
        seeded = parse_suite(listing(f"setup = [{SEED}]"), Path("s.toml"))
        fewer = parse_suite(listing(f"setup = [{SEED.replace('200', '20')}]"), Path("s.toml"))
        self.assertIsNone(plain.setup_fingerprint)
        self.assertIsNone(plain.endpoints[0].setup_fingerprint)
        self.assertNotEqual(seeded.setup_fingerprint, fewer.setup_fingerprint)
        self.assertIsNone(seeded.endpoints[1].setup_fingerprint)  # /hello has none of its own
        # --only /hello: no endpoint of the run has a setup, so it stays comparable with plain runs.
        self.assertIsNone(seeded.select(["/hello"]).setup_fingerprint)

    def test_bad_setups_name_the_entry(self):
        for setup, words in (('setup = "PUT /x"', "must be a list"),
                             ('setup = [{ method = "PUT" }]', "needs a 'path'"),
                             ('setup = [{ path = "/x", count = 0 }]', "'count' must be"),
                             ('setup = [{ path = "/x", method = "FETCH" }]', "method 'FETCH'"),
                             ('setup = [{ path = "/x", repeat = 3 }]', "unknown key 'repeat'")):
            with self.subTest(setup=setup), self.assertRaisesRegex(SuiteError, f"endpoint #1.*{words}"):
                parse_suite(listing(setup), Path("s.toml"))

    def test_the_default_suite_has_none_and_the_example_has_one(self):
        self.assertIsNone(load_suite(REPO / "suites" / "hbf-test-pod.toml").setup_fingerprint)
        self.assertIsNotNone(load_suite(REPO / "suites" / "pull-request.toml").setup_fingerprint)


@requires_ab
class SetupInARun(TempDirTestCase):
    def run_against(self, normal, dev, setup: str, *extra):
        suite = self.tmp / "listing.toml"
        suite.write_text(textwrap.dedent(LISTING % setup))
        done = run_benchmark("--url", normal.url, "--dev-url", dev.url, "--suite", suite, "--db", self.db,
                             "--requests", 100, "--concurrency", 2, "--confirm", "off", "--json", *extra)
        return done, json.loads(done.stdout) if done.stdout else None

    def test_a_listing_over_200_seeded_files_is_not_compared_with_one_over_none(self):
        with StandinServer() as normal, StandinServer(dev=True) as dev:
            done, plain = self.run_against(normal, dev, "")
            self.assertEqual(done.returncode, 0, done.stderr[-2000:])
            done, seeded = self.run_against(normal, dev, f"setup = [{SEED}]")
            self.assertEqual(done.returncode, 0, done.stderr[-2000:])
            status, _, body = dev.request("GET", "/__dev/api/files")
        self.assertEqual(status, 200)
        self.assertGreaterEqual(len(json.loads(body)), 200)  # the listing that was measured
        listing_result = seeded["results"][0]
        self.assertEqual(listing_result["status"], "ok")
        self.assertEqual(listing_result["warmup_requests"] is not None, True)
        self.assertRegex(listing_result["setup_fingerprint"], r"^[0-9a-f]{16}$")
        self.assertIsNone(plain["results"][0]["setup_fingerprint"])
        self.assertIsNone(seeded["comparison"])  # the one earlier run has another setup
        self.assertTrue(any("setup" in note for note in seeded["comparison_notes"]), seeded["comparison_notes"])

    def test_a_setup_request_that_fails_fails_its_endpoint_and_the_run_goes_on(self):
        with StandinServer() as normal, StandinServer(dev=True) as dev:
            done, run = self.run_against(normal, dev, 'setup = [{ path = "/no/such/route", count = 3 }]')
        self.assertEqual(done.returncode, 1, done.stderr[-2000:])
        failed, hello = run["results"]
        self.assertEqual(failed["status"], "failed")
        self.assertRegex(failed["error"], r"^setup failed: 404 Not Found for GET /no/such/route")
        self.assertTrue(failed["probe"].startswith("404"), failed["probe"])
        self.assertEqual(failed["complete_requests"], 0)
        self.assertEqual(hello["status"], "ok")


if __name__ == "__main__":
    unittest.main()
