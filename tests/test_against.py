"""Every binary kept, and side by side against any run or revision (issue 15
§1-2), on an HBF-shaped repository of the test's own with a fake bazel."""
import json
import os
import unittest

from tests.cli import demo_args, run_benchmark, run_show
from tests.fakehbf import fake_bazel_env, git, have_git, make_repo
from tests.support import TempDirTestCase, free_port, requires_ab

SLOW = "--work-us 1000"
LOAD = ["--only", "/hello", "--requests", "500", "--concurrency", "4", "--repeat", "5", "--warmup", "0"]


def ports() -> list[str]:
    return ["--port", str(free_port()), "--dev-port", str(free_port())]


@requires_ab
@unittest.skipUnless(have_git(), "git is not installed")
class AgainstRevision(TempDirTestCase):
    def setUp(self):
        super().setUp()
        self.repo, self.hashes = make_repo(self.tmp, [("fast start", ""), ("readme", ""),
                                                      ("slow handler", SLOW)])
        self.env = fake_bazel_env(self.tmp)

    def bench(self, *args, env=None):
        return run_benchmark("--workspace", self.repo, "--db", self.db, "--json", *ports(), *LOAD, *args,
                             env=env or self.env, timeout=180)

    def test_against_a_branch_and_a_commit_leaves_the_checkout_alone(self):
        git(self.repo, "branch", "old-main", self.hashes[0])
        (self.repo / "notes.txt").write_text("the user's own uncommitted work\n")
        done = self.bench("--against", "old-main")
        self.assertEqual(done.returncode, 0, done.stderr[-3000:])
        report = json.loads(done.stdout)
        self.assertEqual(report["comparison"]["/hello"]["verdict"], "regressed", report["comparison"])
        baseline = json.loads(run_show("--db", self.db, "--run", str(report["baseline_run_id"]),
                                       "--json").stdout)
        self.assertEqual(baseline["git_commit"], self.hashes[0][:7])
        self.assertEqual(report["git_commit"], self.hashes[2][:7])
        # The user's checkout: same HEAD, same branch, their file untouched.
        self.assertEqual(git(self.repo, "rev-parse", "HEAD"), self.hashes[2])
        self.assertEqual(git(self.repo, "rev-parse", "--abbrev-ref", "HEAD"), "main")
        self.assertEqual((self.repo / "notes.txt").read_text(), "the user's own uncommitted work\n")
        worktree = self.repo / ".benchmark" / "worktree"
        self.assertEqual(git(worktree, "rev-parse", "HEAD"), self.hashes[0])
        # Reused, moved to the next revision: a commit this time.
        again = self.bench("--against", self.hashes[1][:10])
        self.assertEqual(again.returncode, 0, again.stderr[-3000:])
        self.assertEqual(json.loads(again.stdout)["comparison"]["/hello"]["verdict"], "regressed")
        self.assertEqual(git(worktree, "rev-parse", "HEAD"), self.hashes[1])
        listed = [line for line in git(self.repo, "worktree", "list").splitlines()]
        self.assertEqual(len(listed), 2, listed)  # the checkout and the one reusable worktree

    def test_bad_references_are_refused_before_anything_starts(self):
        for ref, words in (("no-such-branch", "neither a run nor a revision"),
                           ("--help", "neither a run nor a revision")):
            with self.subTest(ref=ref):
                done = self.bench(f"--against={ref}")
                self.assertEqual(done.returncode, 2, done.stderr)
                self.assertIn(words, done.stderr)
                self.assertEqual(len(done.stderr.strip().splitlines()), 1, done.stderr)
        self.assertFalse(self.db.exists())
        no_bazel = dict(self.env, PATH=os.path.dirname(os.path.realpath(__import__("shutil").which("ab"))))
        done = self.bench("--against", "main", env=no_bazel)
        self.assertEqual(done.returncode, 2, done.stderr)
        self.assertIn("bazel is not installed", done.stderr)


@requires_ab
class KeptBinaries(TempDirTestCase):
    def demo(self, *args):
        return run_benchmark(*demo_args(self.db, "--json", "--only", "/hello", "--warmup", "0", *args,
                                        requests=500, concurrency=4), timeout=120)

    def test_against_a_run_uses_its_kept_binary(self):
        slow = self.demo("--server-arg=--work-us=1000")
        self.assertEqual(slow.returncode, 0, slow.stderr[-2000:])
        first = json.loads(slow.stdout)
        sha = first["binary_sha256"]
        self.assertRegex(sha, r"^[0-9a-f]{64}$")
        self.assertTrue((self.tmp / "binaries" / sha).is_file())
        fast = self.demo("--against", "latest", "--repeat", "5")
        self.assertEqual(fast.returncode, 0, fast.stderr[-2000:])
        report = json.loads(fast.stdout)
        self.assertEqual(report["comparison"]["/hello"]["verdict"], "improved", report["comparison"])
        baseline = json.loads(run_show("--db", self.db, "--run", str(report["baseline_run_id"]),
                                       "--json").stdout)
        self.assertEqual(baseline["binary_sha256"], sha)  # the kept copy is the very binary
        self.assertEqual(baseline["server_args"], first["server_args"])
        self.assertEqual(json.loads(run_show("--db", self.db, "--run", "1", "--json").stdout)
                         ["named_as_baseline"], 1)

    def test_same_binary_calls_nothing(self):
        self.assertEqual(self.demo("--repeat", "3").returncode, 0)
        again = self.demo("--repeat", "5", "--server-arg=--work-us=1000", "--baseline-server-arg=")
        # side by side with other flags: another identity, called
        self.assertEqual(json.loads(again.stdout)["comparison"]["/hello"]["verdict"], "regressed")
        same = self.demo("--baseline", "1")
        entry = json.loads(same.stdout)["comparison"]["/hello"]
        self.assertEqual(entry["verdict"], "no significant change")
        self.assertIn("same binary as run 1: any difference is the machine's noise", entry["explanation"])

    def test_retention_and_a_missing_binary(self):
        for work in (100, 200, 300):
            self.assertEqual(self.demo(f"--server-arg=--work-us={work}", "--keep-binaries", "2").returncode, 0)
        store = self.tmp / "binaries"
        self.assertEqual(len(list(store.iterdir())), 2)  # runs 2 and 3
        done = self.demo("--against", "1")
        self.assertEqual(done.returncode, 2, done.stderr)
        self.assertIn("no longer kept", done.stderr)
        self.assertIn("runs with a kept binary: 3, 2", done.stderr)
        self.assertEqual(len(done.stderr.strip().splitlines()), 1, done.stderr)
        # A run named as a baseline outlives the newest-N rule.
        self.assertEqual(self.demo("--against", "2", "--repeat", "3", "--keep-binaries", "1").returncode, 0)
        listing = run_show("--db", self.db)
        self.assertIn("kept binaries: 2 (", listing.stdout)
        data = json.loads(run_show("--db", self.db, "--json").stdout)
        kept = {run["run_id"]: run["binary_kept"] for run in data["runs"]}
        self.assertEqual(kept[1], False)
        self.assertEqual(kept[2], True)  # named as a baseline
        self.assertEqual(kept[5], True)  # the newest


if __name__ == "__main__":
    unittest.main()
