"""Docs never rot: every command shown in README.md, SKILL.md and docs/*.md
runs, and every link between them leads somewhere.

Commands are taken from the ```bash blocks and from the backticked commands
(SKILL.md's decision table, the flags' `--help`). Each runs as written, with
only what a test machine needs swapped in: --demo for a real HBF build, a
throwaway --db, a handful of requests, free ports, and live stand-ins for
--url. A trailing `# exit N` comment documents an expected non-zero exit.
README's and docs/'s commands run from this repository's root; SKILL.md's
from the root of an HBF checkout the skill was installed in
(`--install-skill`), script paths as written. A command shown in several
files runs once.
"""
import functools
import re
import subprocess
import shlex
import shutil
import sys
import tempfile
import unittest
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.cli import run_benchmark
from tests.fakehbf import fake_bazel_env, git, have_git, make_repo
from tests.support import REPO, StandinServer, free_port, requires_ab
from tests.test_profile import perf_usable

README = REPO / "README.md"
SKILL = REPO / "SKILL.md"
DOCS = (README, SKILL, *sorted((REPO / "docs").glob("*.md")))  # new docs are covered as they come
SKIP = ("python3 -m unittest", "python3 -m tests")  # the suite itself: not run from inside it
README_MAX_LINES = 250


def run_script(script: str, cwd: Path, *args, timeout=120, env=None):
    """A documented command as written: its script path relative to where it runs."""
    return subprocess.run([sys.executable, script, *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, cwd=cwd, env=env)


def documented_commands(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8")
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", text, re.S):
        commands += [line.strip() for line in block.splitlines() if line.strip().startswith("python3 ")]
    for inline in re.findall(r"`(python3 [^`]+)`", text):
        commands.append(inline.strip())
    return [c for c in commands if not c.startswith(SKIP)]


def distinct_commands(docs) -> list[tuple[Path, str]]:
    """(the first file showing it, the command) for every command the files
    show, each once: the same words (comments aside) run from the same place
    are one check however many files show them."""
    seen, out = set(), []
    for doc in docs:
        for command in documented_commands(doc):
            words, expected = split(command)
            key = (doc.name == "SKILL.md", tuple(words), expected)  # SKILL.md's run elsewhere
            if key not in seen:
                seen.add(key)
                out.append((doc, command))
    return out


def split(command: str) -> tuple[list[str], int]:
    expected = 0
    match = re.search(r"\s+#\s*exit (\d+)\s*$", command)
    if match:
        expected = int(match.group(1))
    command = re.sub(r"\s+#.*$", "", command)
    return shlex.split(command), expected


def builds_a_revision(command: str) -> bool:
    """--bisect, or --against a git revision (not a stored run's id or name)."""
    words = command.split()
    if "--bisect" in words:
        return True
    if "--against" not in words or words.index("--against") + 1 >= len(words):
        return False
    ref = words[words.index("--against") + 1]
    return not (ref in ("latest", "previous") or ref.startswith("~") or ref.isdigit())


def drop_flag(words: list[str], flag: str, takes_value: bool) -> list[str]:
    out, skip = [], False
    for word in words:
        if skip:
            skip = False
            continue
        if word == flag:
            skip = takes_value
            continue
        if word.startswith(flag + "="):
            continue
        out.append(word)
    return out


def set_flag(words: list[str], flag: str, value: str) -> list[str]:
    return drop_flag(words, flag, True) + [flag, value]


class DocumentedCommands(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.dir = Path(cls.tmp.name)
        cls.db = cls.dir / "docs.db"
        cls.against_db = cls.dir / "against" / "runs.db"
        # An HBF checkout with the skill installed, where SKILL.md says to run its commands.
        cls.checkout = cls.dir / "hbf-with-skill"
        cls.checkout.mkdir()
        (cls.checkout / "MODULE.bazel").write_text('module(name = "hbf", version = "0.0.1")\n')
        installed = run_benchmark("--install-skill", cls.checkout)
        assert installed.returncode == 0, installed.stderr

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_there_are_commands_to_check(self):
        for doc in (README, SKILL):
            self.assertGreater(len(documented_commands(doc)), 3, doc)

    @requires_ab
    def test_every_documented_command_runs(self):
        # History for show_results first, made by the documented main command.
        # The second run is profiled when perf works here, for show_results --profile.
        profile = ["--profile", "--keepalive", "--only", "/hello"] if perf_usable() is None else []
        for db, extra in ((self.db, []), (self.db, profile), (self.against_db, [])):
            done = run_benchmark("--demo", "--requests", 300 if extra else 20, "--concurrency", 2, "--db", db,
                                 "--port", free_port(), "--dev-port", free_port(), "--warmup", 0, *extra)
            self.assertEqual(done.returncode, 0, done.stderr[-2000:])
        with StandinServer() as normal, StandinServer(dev=True) as dev:
            checks = [(doc, command, *self._prepare(doc, command, normal.url, dev.url))
                      for doc, command in distinct_commands(DOCS)
                      if (have_git() or not builds_a_revision(command))  # they need a git checkout
                      and (perf_usable() is None or "--profile" not in command)]
            # Four at a time: most of each command's time is a Python start and
            # servers starting and stopping, and runs may share a database.
            with ThreadPoolExecutor(max_workers=4) as pool:
                outcomes = list(pool.map(lambda check: check[2](*check[3]), checks))
        for (doc, command, _, args, expected), done in zip(checks, outcomes):
            with self.subTest(doc=doc.name, command=command):
                self.assertEqual(done.returncode, expected,
                                 f"{command}\n-> {args}\nstderr: {done.stderr[-2000:]}")
                if "--help" not in args:
                    self.assertTrue(done.stdout.strip() or "--install-skill" in args or "--install-ci" in args
                                    or "--output" in args
                                    or "--html" in args, f"{command} printed nothing")

    def _prepare(self, doc: Path, command: str, normal_url: str, dev_url: str):
        """(the script runner, its arguments as the test machine needs them, the expected exit)."""
        words, expected = split(command)
        self.assertEqual(words[0], "python3", command)
        script = Path(words[1]).name
        env = None
        if script == "benchmark.py":
            args = self._benchmark_args(words[2:], normal_url, dev_url)
            if "--workspace" in args:  # a revision to build: bazel is the fake one of tests/fakehbf.py
                env = fake_bazel_env(self.dir)
        elif script == "show_results.py":
            args = self._show_args(words[2:])
        else:
            self.fail(f"unknown script in docs: {command}")
        cwd = self.checkout if doc.name == "SKILL.md" else REPO
        self.assertTrue((cwd / words[1]).is_file(), f"{command}: no {words[1]} in {cwd.name}")
        return functools.partial(run_script, words[1], cwd, env=env), args, expected

    def _benchmark_args(self, args, normal_url, dev_url):
        if "--help" in args:
            return args
        for flag in ("--install-skill", "--install-ci"):
            if flag in args:  # a fresh HBF checkout of its own for each
                checkout = Path(tempfile.mkdtemp(dir=self.dir, prefix="hbf-checkout-"))
                (checkout / "MODULE.bazel").write_text('module(name = "hbf", version = "0.0.1")\n')
                return set_flag(args, flag, str(checkout))
        if "--summary" in args:  # appended to a file here, never in the repository
            args = set_flag(args, "--summary", str(self.dir / Path(args[args.index("--summary") + 1]).name))
        if "--bisect" in args:  # a git checkout of its own for each, with the revisions named
            args = set_flag(args, "--workspace", str(self._bisect_checkout()))
            args += ["--port", str(free_port()), "--dev-port", str(free_port()), "--repeat", "3"]
        elif builds_a_revision(" ".join(args)):  # --against REV: built in a checkout of its own
            args = set_flag(args, "--workspace", str(self._bisect_checkout(broken=False)))
            args += ["--port", str(free_port()), "--dev-port", str(free_port())]
        elif "--url" in args:
            args = set_flag(args, "--url", normal_url)
            if "--dev-url" in args:
                args = set_flag(args, "--dev-url", dev_url)
        else:
            for flag, takes_value in (("--binary", True), ("--no-build", False), ("--workspace", True)):
                args = drop_flag(args, flag, takes_value)
            if "--baseline-binary" in args:  # main's build: here, the stand-in behind a script
                args = set_flag(args, "--baseline-binary", str(self._standin_binary()))
            if "--against" in args:  # a stored run: the one prepared with a kept binary
                args = set_flag(set_flag(args, "--against", "1"), "--db", str(self.against_db))
            if "--demo" not in args:
                args = ["--demo", *args]
            args += ["--port", str(free_port()), "--dev-port", str(free_port())]
        if "--list-endpoints" not in args:
            levels = next((args[i + 1] for i, a in enumerate(args[:-1]) if a == "--concurrency"), "2")
            args = set_flag(args, "--concurrency", "1,2" if "," in levels else "2")
            args = set_flag(args, "--requests", "20")
            if "--repeat" in args:
                args = set_flag(args, "--repeat", "3")  # side by side needs 3 pairs
        return args if "--db" in args else set_flag(args, "--db", str(self.dir / "runs.db"))

    def _bisect_checkout(self, broken: bool = True) -> Path:
        """An HBF-shaped repository: v1.2 fine, /hello broken two commits later
        (or, not `broken`, only slower)."""
        root = Path(tempfile.mkdtemp(dir=self.dir, prefix="bisect-"))
        change = "--fail-on /hello" if broken else "--work-us 50"
        repo, hashes = make_repo(root, [("v1.2", ""), ("docs", ""), ("change /hello", change),
                                        ("more", change)])
        git(repo, "tag", "v1.2", hashes[0])
        return repo

    def _standin_binary(self) -> Path:
        binary = self.dir / "hbf_test-main"
        binary.write_text(f'#!/bin/sh\nexec "{sys.executable}" -S "{REPO / "lib" / "standin.py"}" "$@"\n')
        binary.chmod(0o755)
        return binary

    def _show_args(self, args):
        if "--help" in args:
            return args
        for flag in ("--output", "--html"):
            if flag in args:
                args = set_flag(args, flag, str(self.dir / Path(args[args.index(flag) + 1]).name))
        return set_flag(args, "--db", str(self.db))


def prose(text: str) -> str:
    """Markdown without its fenced code blocks (a `# ...` line there is no heading)."""
    return re.sub(r"^```.*?^```[^\n]*$", "", text, flags=re.S | re.M)


def anchors(path: Path) -> set[str]:
    """The anchors GitHub gives a file's headings: lower case, punctuation
    but hyphens and underscores dropped, spaces made hyphens, repeats -1, -2..."""
    found = set()
    for heading in re.findall(r"^#{1,6}\s+(.+?)\s*#*\s*$", prose(path.read_text(encoding="utf-8")), re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        candidate, number = slug, 1
        while candidate in found:
            candidate, number = f"{slug}-{number}", number + 1
        found.add(candidate)
    return found


def relative_links(path: Path) -> list[str]:
    """The targets of the file's Markdown links that stay in this repository."""
    targets = re.findall(r"\]\(([^)\s]+)\)", prose(path.read_text(encoding="utf-8")))
    return [t for t in targets if not re.match(r"^[a-z][a-z0-9+.-]*:", t)]


class DocumentedLinks(unittest.TestCase):
    def assert_links_resolve(self, doc: Path, base: Path):
        for link in relative_links(doc):
            with self.subTest(doc=doc.name, link=link):
                target, _, anchor = link.partition("#")
                where = (base / target) if target else doc
                self.assertTrue(where.exists(), f"{doc.name}: {link}: no {where}")
                if anchor:
                    self.assertIn(anchor, anchors(where), f"{doc.name}: {link}: no such heading")

    def test_every_relative_link_resolves(self):
        for doc in DOCS:
            self.assert_links_resolve(doc, doc.parent)

    def test_skill_links_resolve_where_claude_code_reads_it(self):
        # .claude/skills/<name>/SKILL.md is a symlink: its links are read from that folder.
        for skill in (REPO / ".claude" / "skills").glob("*/SKILL.md"):
            self.assert_links_resolve(skill, skill.parent)

    def test_readme_links_every_docs_file(self):
        linked = {(README.parent / link.partition("#")[0]).resolve() for link in relative_links(README)}
        for doc in sorted((REPO / "docs").glob("*.md")):
            self.assertIn(doc.resolve(), linked, f"README.md does not link docs/{doc.name}")

    def test_readme_is_short(self):
        lines = len(README.read_text(encoding="utf-8").splitlines())
        self.assertLessEqual(lines, README_MAX_LINES, "README.md: move the detail to a docs/ file")


class TheTestCommand(unittest.TestCase):
    def test_ci_runs_exactly_the_readme_test_command(self):
        blocks = "".join(re.findall(r"```bash\n(.*?)```", README.read_text(encoding="utf-8"), re.S))
        shown = [line.strip() for line in blocks.splitlines() if line.strip().startswith(SKIP)]
        ci = [line.strip() for line in (REPO / ".ci" / "run").read_text().splitlines()
              if line.strip().startswith(SKIP)]
        self.assertEqual(len(shown), 1, shown)
        self.assertEqual(ci, shown)


if __name__ == "__main__":
    unittest.main()
