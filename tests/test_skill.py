"""The skill as Claude Code sees it, and as an HBF checkout gets it."""
import json
import os
import re
import shutil
import stat
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
        for name in ("SKILL.md", "benchmark.py", "show_results.py", "lib/run/runner.py",
                     "suites/hbf-test-pod.toml", "docs/json.md"):
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
    def test_installed_demo_run_stores_its_database_in_the_checkout_but_not_its_git(self):
        subprocess.run([sys.executable, str(REPO / "benchmark.py"), "--install-skill", str(self.hbf)],
                       capture_output=True, check=True, timeout=30)
        skill = self.hbf / ".claude" / "skills" / NAME
        done = subprocess.run([sys.executable, str(skill / "benchmark.py"), "--demo", "--json",
                               "--requests", "20", "--concurrency", "2", "--only", "/hello",
                               "--port", str(free_port()), "--dev-port", str(free_port())],
                              capture_output=True, text=True, timeout=60, cwd=self.hbf)
        self.assertEqual(done.returncode, 0, done.stderr[-2000:])
        report = json.loads(done.stdout)
        # The stand-in is not the checkout's build: its commit is not what was measured.
        self.assertEqual((report["git_commit"], report["git_branch"]), (None, None))
        self.assertTrue((self.hbf / ".benchmark" / "results.db").is_file())

    def test_the_folder_is_named_after_the_skill(self):
        self.assertEqual(frontmatter(REPO / "SKILL.md")["name"], NAME)
        done = install(self.hbf)
        self.assertEqual(done.returncode, 0, done.stderr)
        folders = [p.name for p in (self.hbf / ".claude" / "skills").iterdir()]
        self.assertEqual(folders, [NAME])
        self.assertEqual(frontmatter(self.hbf / ".claude" / "skills" / NAME / "SKILL.md")["name"], NAME)
        self.assertFalse((self.hbf / ".claude" / "skills-replaced").exists())
        self.assertEqual(done.stderr.splitlines(), [
            f"installed the skill {NAME} in {self.hbf.resolve() / '.claude' / 'skills' / NAME}",
            f"try: python3 .claude/skills/{NAME}/benchmark.py --help (from {self.hbf.resolve()})"])

    def test_install_refuses_a_folder_that_is_not_hbf(self):
        done = subprocess.run([sys.executable, str(REPO / "benchmark.py"), "--install-skill",
                               self._tmp.name], capture_output=True, text=True, timeout=30)
        self.assertEqual(done.returncode, 2)
        self.assertIn("not an HBF checkout", done.stderr)


def install(hbf: Path, source: Path = REPO) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(source / "benchmark.py"), "--install-skill", str(hbf)],
                          capture_output=True, text=True, timeout=30)


def snapshot(folder: Path) -> dict:
    """Every file and link under folder: (bytes or link target, mode)."""
    found = {}
    for path in sorted(folder.rglob("*")):
        if path.is_symlink():
            found[str(path.relative_to(folder))] = ("link", os.readlink(path))
        elif path.is_file():
            found[str(path.relative_to(folder))] = (path.read_bytes(), stat.S_IMODE(path.stat().st_mode))
    return found


def answering(hbf: Path, request: str = "benchmark HBF performance") -> list[str]:
    """The skill folders under .claude/skills whose description answers request."""
    skills = hbf / ".claude" / "skills"
    return sorted(folder.name for folder in skills.iterdir()
                  if (folder / "SKILL.md").is_file()
                  and request.lower() in frontmatter(folder / "SKILL.md").get("description", "").lower())


def moved_to(output: str, folder: Path) -> Path:
    """Where the install said it moved `folder`."""
    match = re.search(rf"^moved the skill that was in {re.escape(str(folder))} to (\S+) ", output, re.M)
    assert match, f"no move of {folder} in:\n{output}"
    return Path(match.group(1))


class InstallOverAnExistingSkill(unittest.TestCase):
    """Installing never deletes a user's files: a skill in the way is moved
    out of .claude/skills, and the output says where."""

    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory()
        self.hbf = Path(self._tmp.name, "hbf").resolve()
        self.hbf.mkdir()
        (self.hbf / "MODULE.bazel").write_text('module(name = "hbf", version = "0.1.0")\n')
        self.skills = self.hbf / ".claude" / "skills"
        self.target = self.skills / NAME

    def tearDown(self):
        self._tmp.cleanup()

    def bash_skill(self) -> Path:
        """HBF's old bash skill, as the checkout has it (with a user's run log)."""
        old = self.skills / "benchmark"
        (old / "lib").mkdir(parents=True)
        (old / "SKILL.md").write_text(
            "---\nname: benchmark\ndescription: Benchmark HBF performance using Apache Bench (ab). "
            "Maintains historical data for performance tracking over time.\n---\n\n# HBF Benchmark Skill\n")
        for name in ("benchmark.sh", "show_results.sh"):
            (old / name).write_text(f"#!/bin/bash\n# {name}\necho run\n")
            (old / name).chmod(0o755)
        for name in ("db.sh", "server.sh", "parser.sh"):
            (old / "lib" / name).write_text(f"# lib/{name}\n")
        (old / "README.md").write_text("Quick reference\n")
        (old / "my-notes.txt").write_text("tuned on Tuesday\n")
        return old

    def assert_one_skill_answers(self):
        self.assertEqual(answering(self.hbf), [NAME])
        self.assertEqual(answering(self.hbf, "show me performance trends"), [NAME])
        self.assertEqual((self.target / "SKILL.md").read_bytes(), (REPO / "SKILL.md").read_bytes())
        leftovers = [p.name for p in self.skills.iterdir() if p.name != NAME]
        self.assertEqual(leftovers, [], "staging folders or old skills left in .claude/skills")

    def test_fresh_install(self):
        done = install(self.hbf)
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertNotIn("moved", done.stderr)
        self.assertIn(f"installed the skill {NAME} in {self.target}", done.stderr)
        self.assert_one_skill_answers()

    def test_over_the_old_bash_skill_it_is_moved_aside_intact(self):
        old = self.bash_skill()
        before = snapshot(old)
        done = install(self.hbf)
        self.assertEqual(done.returncode, 0, done.stderr)
        place = moved_to(done.stderr, old)
        self.assertFalse(old.exists())
        self.assertEqual(place.parent, self.hbf / ".claude" / "skills-replaced")
        self.assertEqual(snapshot(place), before)
        self.assertIn(f"installed the skill {NAME} in {self.target}", done.stderr)
        self.assert_one_skill_answers()

    def test_over_an_edited_copy_of_ours_the_edits_are_moved_aside_intact(self):
        self.assertEqual(install(self.hbf).returncode, 0)
        with open(self.target / "SKILL.md", "a", encoding="utf-8") as skill:
            skill.write("\nAlways use --repeat 3 on this laptop.\n")
        (self.target / "suites" / "mine.toml").write_text("# my own suite\n")
        (self.target / "lib" / "run" / "runner.py").unlink()
        before = snapshot(self.target)
        done = install(self.hbf)
        self.assertEqual(done.returncode, 0, done.stderr)
        place = moved_to(done.stderr, self.target)
        self.assertEqual(place.parent, self.hbf / ".claude" / "skills-replaced")
        self.assertEqual(snapshot(place), before)
        self.assertIn("--repeat 3 on this laptop", (place / "SKILL.md").read_text())
        self.assertTrue((self.target / "lib" / "run" / "runner.py").is_file())
        self.assertFalse((self.target / "suites" / "mine.toml").exists())
        self.assert_one_skill_answers()

    def test_over_an_earlier_install_in_the_old_folder(self):
        # This tool's installs before the folder took the skill's name.
        old = self.skills / "benchmark"
        shutil.copytree(REPO, old, ignore=lambda folder, names: [
            n for n in names if Path(folder) == REPO and n not in ("SKILL.md", "lib", "suites",
                                                                   "docs", "benchmark.py",
                                                                   "show_results.py", "README.md")
        ] + [n for n in names if n == "__pycache__"])
        before = snapshot(old)
        done = install(self.hbf)
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertEqual(snapshot(moved_to(done.stderr, old)), before)
        self.assert_one_skill_answers()

    def test_install_twice_the_second_time_moves_nothing(self):
        first = install(self.hbf)
        self.assertEqual(first.returncode, 0, first.stderr)
        # Running the installed scripts may leave Python's bytecode caches.
        (self.target / "lib" / "__pycache__").mkdir(exist_ok=True)
        (self.target / "lib" / "__pycache__" / "db.cpython-311.pyc").write_bytes(b"\0")
        before = snapshot(self.target)
        second = install(self.hbf)
        self.assertEqual(second.returncode, 0, second.stderr)
        self.assertRegex(second.stderr, r"^already installed: ")
        self.assertIn("nothing changed", second.stderr)
        self.assertNotIn("moved", second.stderr)
        self.assertEqual(snapshot(self.target), before)
        self.assertFalse((self.hbf / ".claude" / "skills-replaced").exists())
        self.assert_one_skill_answers()

    def test_already_installed_but_the_old_bash_skill_came_back(self):
        self.assertEqual(install(self.hbf).returncode, 0)
        old = self.bash_skill()
        before = snapshot(old)
        done = install(self.hbf)
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertEqual(snapshot(moved_to(done.stderr, old)), before)
        self.assertIn("already installed", done.stderr)
        self.assert_one_skill_answers()

    def test_two_edited_copies_in_one_second_get_two_places(self):
        self.assertEqual(install(self.hbf).returncode, 0)
        places = []
        for edit in ("first edit", "second edit"):
            (self.target / "SKILL.md").write_text(edit)
            done = install(self.hbf)
            self.assertEqual(done.returncode, 0, done.stderr)
            places.append(moved_to(done.stderr, self.target))
        self.assertNotEqual(places[0], places[1])
        self.assertEqual([(p / "SKILL.md").read_text() for p in places], ["first edit", "second edit"])

    def test_a_failed_copy_leaves_no_half_skill_and_moves_nothing(self):
        # A source whose last-but-one file cannot be read: the copy fails midway.
        source = Path(self._tmp.name, "source")
        source.mkdir()
        for name in ("SKILL.md", "benchmark.py", "show_results.py", "README.md"):
            shutil.copy2(REPO / name, source / name)
        for name in ("lib", "suites", "docs"):
            shutil.copytree(REPO / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        (source / "docs" / "zz-gone.md").symlink_to(source / "nowhere.md")
        old = self.bash_skill()
        before = snapshot(self.hbf)
        done = install(self.hbf, source)
        self.assertEqual(done.returncode, 2, done.stderr)
        self.assertEqual(len(done.stderr.splitlines()), 1, done.stderr)
        self.assertIn("nothing was changed", done.stderr)
        self.assertEqual(snapshot(self.hbf), before)
        self.assertEqual(sorted(p.name for p in self.skills.iterdir()), [old.name])

    def test_refuses_a_place_it_cannot_write(self):
        (self.hbf / ".claude").write_text("not a folder\n")
        done = install(self.hbf)
        self.assertEqual(done.returncode, 2, done.stderr)
        self.assertEqual(len(done.stderr.splitlines()), 1, done.stderr)
        self.assertIn("cannot write in", done.stderr)
        self.assertEqual((self.hbf / ".claude").read_text(), "not a folder\n")

    @unittest.skipIf(os.geteuid() == 0, "root writes anywhere")
    def test_refuses_a_read_only_skills_folder(self):
        old = self.bash_skill()
        before = snapshot(self.hbf)
        self.skills.chmod(0o555)
        try:
            done = install(self.hbf)
        finally:
            self.skills.chmod(0o755)
        self.assertEqual(done.returncode, 2, done.stderr)
        self.assertEqual(len(done.stderr.splitlines()), 1, done.stderr)
        self.assertIn("cannot write in", done.stderr)
        self.assertEqual(snapshot(self.hbf), before)
        self.assertTrue((old / "SKILL.md").is_file())


if __name__ == "__main__":
    unittest.main()
