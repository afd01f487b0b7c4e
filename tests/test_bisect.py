"""--bisect OLD..NEW (issue 15 §4): the commit that made /hello slower, the one
that made it fast, the one that broke it; commits that do not build are
skipped; bad ranges are refused before anything is built. Each test builds
an eight-commit HBF-shaped repository of its own (tests/fakehbf.py) whose
fake bazel "builds" the stand-in with the flags a commit's file names."""
import json
import math
import os
import shutil
import signal
import sqlite3
import unittest

from lib.run.bisection import next_midpoint
from tests.cli import LiveBenchmark, run_benchmark, run_show
from tests.fakehbf import fake_bazel_env, git, have_git, make_repo
from tests.support import TempDirTestCase, free_port, requires_ab
from tests.test_json_reference import documented

SLOW = "--work-us 1500"  # well above the noise even while other test modules run beside it
BROKEN = "--fail-on /hello"  # the stand-in answers 500 to every request for /hello
LOAD = ["--only", "/hello", "--requests", "150", "--concurrency", "2", "--repeat", "5", "--warmup", "0"]
# A broken endpoint needs no statistics: a light load tells.
LIGHT = ["--only", "/hello", "--requests", "50", "--concurrency", "2", "--repeat", "3", "--warmup", "0"]


def ports() -> list[str]:
    return ["--port", str(free_port()), "--dev-port", str(free_port())]


def eight(first_changed: int, flags: str, before: str = "", unbuildable: int | None = None):
    """Eight commits: `before`'s flags up to `first_changed`, `flags` from there."""
    return [(f"commit {i}", None if i == unbuildable else flags if i >= first_changed else before)
            for i in range(8)]


@unittest.skipUnless(have_git(), "git is not installed")
class Bisect(TempDirTestCase):
    def make(self, commits):
        self.repo, self.hashes = make_repo(self.tmp, commits)
        self.env = fake_bazel_env(self.tmp)

    def bisect(self, span, *args, load=LOAD, env=None):
        return run_benchmark("--workspace", self.repo, "--db", self.db, "--bisect", span, *ports(),
                             *load, *args, env=env or self.env, timeout=300)

    def found(self, done) -> dict:
        self.assertEqual(done.returncode, 0, done.stderr[-3000:])
        return json.loads(done.stdout)

    def assert_steps_are_stored_runs(self, result):
        steps = result["steps"]
        self.assertGreater(len(steps), 1, steps)
        commits = len(self.hashes) - 1
        self.assertLessEqual(len(steps), math.log2(commits) + 2, steps)
        for step in steps:
            if step["verdict"] == "skipped":
                self.assertIsNone(step["run_id"])
                continue
            run = json.loads(run_show("--db", self.db, "--run", str(step["run_id"]), "--json").stdout)
            self.assertIn("bisect step", run["notes"])
            self.assertEqual(run["side"], "candidate")
            self.assertEqual(run["git_commit"], step["commit"][:7])
            baseline = json.loads(run_show("--db", self.db, "--run", str(run["paired_with"]),
                                           "--json").stdout)
            self.assertEqual(baseline["git_commit"], self.hashes[0][:7])  # always against OLD

    @requires_ab
    def test_finds_the_commit_that_made_hello_slower_skipping_one_that_does_not_build(self):
        self.make(eight(4, SLOW, unbuildable=5))
        result = self.found(self.bisect(f"{self.hashes[0][:8]}..main", "--json"))
        self.assertEqual(result["direction"], "regressed", result)
        self.assertEqual(result["first_changed"], [self.hashes[4]], result)
        verdicts = {step["commit"]: step["verdict"] for step in result["steps"]}
        self.assertEqual(verdicts[self.hashes[7]], "regressed")  # NEW, measured first
        self.assertEqual(verdicts[self.hashes[5]], "skipped", result)  # the middle one, unbuildable
        self.assertEqual(verdicts[self.hashes[4]], "regressed")
        self.assertEqual(result["steps"][0]["commit"], self.hashes[7])
        self.assertLess(result["steps"][0]["change_pct"], -5)
        self.assert_steps_are_stored_runs(result)
        # The user's checkout is left as it was; the worktree was reused.
        self.assertEqual(git(self.repo, "rev-parse", "HEAD"), self.hashes[7])
        self.assertEqual(len(git(self.repo, "worktree", "list").splitlines()), 2)

    @requires_ab
    def test_finds_the_commit_that_made_it_fast(self):
        # Right after OLD: the search's lower edge (and no slow-against-slow step to wait for).
        self.make(eight(1, "", before=SLOW))
        result = self.found(self.bisect(f"{self.hashes[0]}..HEAD", "--json"))
        self.assertEqual(result["direction"], "improved", result)
        self.assertEqual(result["first_changed"], [self.hashes[1]], result)
        self.assertEqual([step["verdict"] for step in result["steps"]], ["improved"] * 3)
        self.assertGreater(result["steps"][0]["change_pct"], 5)
        self.assert_steps_are_stored_runs(result)

    @requires_ab
    def test_finds_the_commit_that_broke_an_endpoint_and_names_every_candidate_a_skip_leaves(self):
        self.make(eight(3, BROKEN, unbuildable=2))
        result = self.found(self.bisect(f"{self.hashes[0]}..main", "--json", load=LIGHT))
        self.assertEqual(result["direction"], "broken", result)
        # commit 2 does not build and commit 1 is fine: the break is in 2 or 3.
        self.assertEqual(result["first_changed"], self.hashes[2:4], result)
        self.assertEqual(result["endpoints"], ["/hello"])
        new = result["steps"][0]
        self.assertIn("500", new["endpoints"]["/hello"]["detail"])
        for fields in (result, result["old"], new, new["endpoints"]["/hello"]):
            self.assertEqual(sorted(set(fields) - documented()), [], "not in docs/json.md")
        self.assert_steps_are_stored_runs(result)
        # In Markdown, over the last two commits: the table and both candidates named.
        text = self.bisect(f"{self.hashes[1]}..{self.hashes[3]}", load=LIGHT)
        self.assertEqual(text.returncode, 0, text.stderr[-3000:])
        self.assertIn("/hello broken", text.stdout)
        self.assertIn("does not build", text.stdout)
        self.assertIn("First changed commit: one of these 2", text.stdout)
        for commit in self.hashes[2:4]:
            self.assertIn(commit, text.stdout)

    @requires_ab
    def test_nothing_changed_says_so_and_stops(self):
        self.make(eight(8, ""))
        result = self.found(self.bisect(f"{self.hashes[0]}..main", "--json", load=LIGHT))
        self.assertIsNone(result["direction"])
        self.assertEqual(result["status"], "nothing changed")
        self.assertEqual(result["first_changed"], [])
        self.assertEqual(len(result["steps"]), 1)  # NEW against OLD, nothing more built

    @requires_ab
    def test_ctrl_c_stops_the_bisection_and_marks_the_runs(self):
        self.make(eight(4, SLOW))
        live = LiveBenchmark("--workspace", self.repo, "--db", self.db, "--bisect",
                             f"{self.hashes[0]}..main", "--json", *ports(), *LOAD, env=self.env)
        try:
            live.wait_for("fresh servers for each sample")  # NEW against OLD has begun
            live.signal(signal.SIGINT)
            self.assertEqual(live.finish(), 130, live.stderr[-2000:])
        finally:
            live.kill()
        self.assertEqual(json.loads(live.stdout)["status"], "interrupted")
        with sqlite3.connect(self.db) as conn:
            statuses = conn.execute("SELECT side, status FROM benchmark_runs ORDER BY run_id").fetchall()
        self.assertEqual(statuses, [("baseline", "interrupted"), ("candidate", "interrupted")])

    def test_bad_ranges_are_refused_before_anything_is_built(self):
        self.make(eight(4, SLOW))
        old, new = self.hashes[0][:10], self.hashes[7][:10]
        no_bazel = dict(self.env, PATH=os.pathsep.join(
            os.path.dirname(shutil.which(tool)) for tool in ("git", "ab") if shutil.which(tool)))
        cases = [((f"{new}..{old}",), self.env, "is not an ancestor of"),
                 (("no-such-tag..main",), self.env, "'no-such-tag' is not a revision"),
                 (("main..main",), self.env, "nothing lies between them"),
                 ((f"{old}..main",), no_bazel, "bazel is not installed"),
                 (("v1...main",), self.env, "is not a range OLD..NEW"),
                 ((f"{old}..main", "--demo"), self.env, "drop --demo"),
                 ((f"{old}..main", "--against", "main"), self.env, "drop --against"),
                 ((f"{old}..main", "--repeat", "2"), self.env, "--repeat 3 or more")]
        for args, env, words in cases:
            with self.subTest(args=args):
                done = self.bisect(*args, env=env)
                self.assertEqual(done.returncode, 2, done.stderr)
                self.assertIn(words, done.stderr)
                self.assertEqual(len(done.stderr.strip().splitlines()), 1, done.stderr)
        self.assertFalse((self.repo / ".benchmark").exists())  # no worktree, nothing built
        self.assertFalse(self.db.exists())


class Midpoints(unittest.TestCase):
    def test_the_middle_then_the_nearest_not_skipped(self):
        self.assertEqual(next_midpoint(-1, 6, set()), 2)
        self.assertEqual(next_midpoint(2, 6, {4}), 3)  # a tie goes to the older
        self.assertEqual(next_midpoint(2, 6, {3, 4}), 5)
        self.assertIsNone(next_midpoint(2, 4, {3}))
        self.assertIsNone(next_midpoint(2, 3, set()))


if __name__ == "__main__":
    unittest.main()
