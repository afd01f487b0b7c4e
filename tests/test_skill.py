"""The skill as Claude Code sees it, and as an HBF checkout gets it."""
import json
import os
import re
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

from tests.support import REPO, free_port, requires_ab

NAME = "hbf-benchmark"
PHRASES = ("benchmark HBF performance", "run the benchmark skill", "show me performance trends",
           "compare the last two runs", "did this change make HBF slower")


def frontmatter(path: Path) -> dict:
    text = path.read_text(encoding="utf-8")
    match = re.match(r"^---\n(.*?)\n---\n", text, re.S)
    assert match, f"{path} has no YAML frontmatter"
    fields = {}
    for line in match.group(1).splitlines():
        key, _, value = line.partition(":")
        fields[key.strip()] = value.strip()
    return fields


class Frontmatter(unittest.TestCase):
    def test_name_and_description_follow_the_rules(self):
        fields = frontmatter(REPO / "SKILL.md")
        self.assertEqual(set(fields), {"name", "description"})
        self.assertRegex(fields["name"], r"^[a-z0-9-]{1,64}$")
        self.assertLessEqual(len(fields["description"]), 1024)
        self.assertNotRegex(fields["description"], r"[<>]")
        for phrase in PHRASES:
            self.assertIn(phrase, fields["description"])

    def test_skill_body_is_short_and_links_its_references(self):
        text = (REPO / "SKILL.md").read_text(encoding="utf-8")
        self.assertLess(len(text.splitlines()), 120)
        for link in re.findall(r"\]\(([^)]+\.md)\)", text):
            self.assertTrue((REPO / link).is_file(), link)

    def test_claude_code_finds_it_in_this_repository(self):
        name = frontmatter(REPO / "SKILL.md")["name"]
        skill = REPO / ".claude" / "skills" / name
        self.assertEqual((skill / "SKILL.md").read_text(), (REPO / "SKILL.md").read_text())
        for script in ("benchmark.py", "show_results.py"):
            done = subprocess.run([sys.executable, str(skill / script), "--help"],
                                  capture_output=True, text=True, timeout=30)
            self.assertEqual(done.returncode, 0, done.stderr)


class InstallIntoACheckout(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory()
        self.hbf = Path(self._tmp.name) / "hbf"
        self.hbf.mkdir()
        (self.hbf / "MODULE.bazel").write_text('module(\n    name = "hbf",\n    version = "0.1.0",\n)\n')
        subprocess.run(["git", "init", "-q", "-b", "feature-x", str(self.hbf)], check=True)
        subprocess.run(["git", "-C", str(self.hbf), "-c", "user.email=t@t", "-c", "user.name=t",
                        "commit", "-q", "--allow-empty", "-m", "init"], check=True)

    def tearDown(self):
        self._tmp.cleanup()

    def test_install_then_run_from_there_finds_the_workspace(self):
        done = subprocess.run([sys.executable, str(REPO / "benchmark.py"), "--install-skill", str(self.hbf)],
                              capture_output=True, text=True, timeout=30)
        self.assertEqual(done.returncode, 0, done.stderr)
        skill = self.hbf / ".claude" / "skills" / NAME
        for name in ("SKILL.md", "benchmark.py", "show_results.py", "lib/runner.py",
                     "suites/hbf-test-pod.toml", "reference/json.md"):
            self.assertTrue((skill / name).is_file(), name)
        self.assertFalse((skill / "tests").exists())
        # From a sub-folder of the checkout: the workspace, its git data and
        # its database are found without flags.
        sub = self.hbf / "src"
        sub.mkdir()
        listing = subprocess.run([sys.executable, str(skill / "benchmark.py"), "--list-endpoints", "--json"],
                                 capture_output=True, text=True, timeout=30, cwd=sub)
        self.assertEqual(listing.returncode, 0, listing.stderr)
        self.assertEqual(len(json.loads(listing.stdout)["endpoints"]), 7)
        # Without bazel the build is refused with the fix named, before anything starts.
        env = dict(os.environ, PATH="/nonexistent")
        build = subprocess.run([sys.executable, str(skill / "benchmark.py")], capture_output=True,
                               text=True, timeout=30, cwd=sub, env=env)
        self.assertEqual(build.returncode, 2)
        self.assertIn("bazel is not installed", build.stderr)

    @requires_ab
    def test_installed_demo_run_records_the_checkouts_git(self):
        subprocess.run([sys.executable, str(REPO / "benchmark.py"), "--install-skill", str(self.hbf)],
                       capture_output=True, check=True, timeout=30)
        skill = self.hbf / ".claude" / "skills" / NAME
        done = subprocess.run([sys.executable, str(skill / "benchmark.py"), "--demo", "--json",
                               "--requests", "20", "--concurrency", "2", "--only", "/hello",
                               "--port", str(free_port()), "--dev-port", str(free_port())],
                              capture_output=True, text=True, timeout=60, cwd=self.hbf)
        self.assertEqual(done.returncode, 0, done.stderr[-2000:])
        report = json.loads(done.stdout)
        self.assertEqual(report["git_branch"], "feature-x")
        self.assertRegex(report["git_commit"], r"^[0-9a-f]{7,}$")
        self.assertTrue((self.hbf / ".benchmark" / "results.db").is_file())

    def test_install_refuses_a_folder_that_is_not_hbf(self):
        done = subprocess.run([sys.executable, str(REPO / "benchmark.py"), "--install-skill",
                               self._tmp.name], capture_output=True, text=True, timeout=30)
        self.assertEqual(done.returncode, 2)
        self.assertIn("not an HBF checkout", done.stderr)


if __name__ == "__main__":
    unittest.main()
