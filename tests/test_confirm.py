"""Confirmation (issue 15 §3): after an ordinary run, endpoints that moved are
measured again side by side against the baseline run's kept binary, and that
paired verdict is the one every view reports."""
import json
import sys
import unittest

from tests.cli import demo_args, run_benchmark, run_show
from tests.support import REPO, TempDirTestCase, free_port, requires_ab


@requires_ab
class Confirmation(TempDirTestCase):
    def demo(self, *args):
        done = run_benchmark(*demo_args(self.db, "--json", "--only", "/hello", "--warmup", "0", *args,
                                        requests=500, concurrency=4, confirm=True), timeout=180)
        self.assertIn(done.returncode, (0, 1), done.stderr[-2000:])
        return json.loads(done.stdout), done.stderr

    def test_a_slowdown_is_confirmed_side_by_side_and_every_view_agrees(self):
        self.demo()
        report, stderr = self.demo("--server-arg=--work-us=1000")
        self.assertIn("measuring again side by side against its kept binary, 5 pairs", stderr)
        record = report["confirmation"]
        self.assertEqual(record["status"], "confirmed", record)
        self.assertEqual((record["against_run_id"], record["endpoints"], record["repeat"]), (1, ["/hello"], 5))
        entry = report["comparison"]["/hello"]
        self.assertEqual(entry["verdict"], "regressed", entry)
        self.assertTrue(entry["paired"])
        self.assertEqual(entry["confirmed_by"], record["run_id"])
        self.assertIsNotNone(entry["first_look"])
        self.assertFalse(entry["first_look"]["requests_per_sec"]["paired"])
        # The run is still `latest`; its confirmation pair is stored and says what it is.
        shown = json.loads(run_show("--db", self.db, "--run", "latest", "--json").stdout)
        self.assertEqual(shown["run_id"], report["run_id"])
        self.assertEqual(shown["comparison"], report["comparison"])  # one truth in every view
        pair = json.loads(run_show("--db", self.db, "--run", str(record["run_id"]), "--json").stdout)
        self.assertEqual((pair["confirms"], pair["side"]), (report["run_id"], "candidate"))
        self.assertIn(f"confirmation of run {report['run_id']} against run 1", pair["notes"])
        text = run_show("--db", self.db, "--run", "latest").stdout
        self.assertIn("regressed (confirmed)", text)
        self.assertIn("first look (one run after the other)", text)
        # The next ordinary run follows run 2, not the confirmation's pair.
        after, _ = self.demo("--server-arg=--work-us=1000", "--confirm", "off")
        self.assertEqual(after["baseline_run_id"], report["run_id"])

    def test_each_side_runs_with_its_own_run_s_flags(self):
        # One binary (a script, as a build would leave it: read-only), run 2
        # with a flag that slows it: confirmation must start the baseline's
        # kept binary with run 1's flags (none), not run 2's.
        binary = self.tmp / "hbf_test"
        binary.write_text(f'#!/bin/sh\nexec "{sys.executable}" -S "{REPO / "lib" / "standin.py"}" "$@"\n')
        binary.chmod(0o555)

        def run(*args):
            done = run_benchmark("--binary", binary, "--db", self.db, "--json", "--only", "/hello",
                                 "--warmup", "0", "--requests", "500", "--concurrency", "4",
                                 "--port", free_port(), "--dev-port", free_port(), *args, timeout=180)
            self.assertEqual(done.returncode, 0, done.stderr[-2000:])
            return json.loads(done.stdout)
        first = run()
        slow = run("--server-arg=--work-us=1000")
        self.assertEqual(slow["binary_sha256"], first["binary_sha256"])
        self.assertEqual(slow["confirmation"]["status"], "confirmed", slow["confirmation"])
        self.assertEqual(slow["comparison"]["/hello"]["verdict"], "regressed", slow["comparison"])
        base = json.loads(run_show("--db", self.db, "--run", str(slow["confirmation"]["baseline_run_id"]),
                                   "--json").stdout)
        self.assertEqual(base["server_args"], [])

    def test_skipped_when_it_cannot_tell_more_and_said_why(self):
        self.demo()
        same, _ = self.demo("--threshold", "0")
        self.assertEqual(same["confirmation"]["status"], "skipped")
        self.assertIn("measured the very same binary", same["confirmation"]["reason"])
        off, _ = self.demo("--threshold", "0", "--server-arg=--work-us=1", "--confirm", "off")
        self.assertEqual(off["confirmation"], {"status": "skipped", "reason": "--confirm off",
                                               "endpoints": ["/hello"], "against_run_id": 2})
        none, _ = self.demo("--threshold", "0", "--server-arg=--work-us=2", "--keep-binaries", "0")
        self.assertEqual(none["confirmation"]["status"], "skipped")
        self.assertIn("has no kept binary", none["confirmation"]["reason"])
        quiet, _ = self.demo("--threshold", "99", "--server-arg=--work-us=3")
        self.assertEqual(quiet["confirmation"]["status"], "not needed")
        text = run_show("--db", self.db, "--run", str(off["run_id"])).stdout
        self.assertIn("Confirmation skipped: --confirm off.", text)


if __name__ == "__main__":
    unittest.main()
