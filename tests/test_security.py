"""Hostile text through every text input: stored and shown exactly, inert
everywhere, and the schema survives. No shell anywhere."""
import ast
import json
import sqlite3
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

from tests.cli import run_benchmark, run_show
from tests.support import REPO, STANDIN, free_port, requires_ab

DROP = "'; DROP TABLE benchmark_runs; --"
HOSTILE = f"{DROP} \"$(touch /tmp/pwned)\" `id` ; <script>alert(1)</script> ünï ✓"
TABLES = {"benchmark_runs", "benchmark_results", "benchmark_samples", "benchmark_profiles"}


def tables(db: Path) -> set[str]:
    with sqlite3.connect(db) as conn:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


@requires_ab
class HostileText(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls._tmp = tempfile.TemporaryDirectory()
        tmp = Path(cls._tmp.name)
        cls.db = tmp / "r.db"
        # An HBF checkout whose branch name, suite name, endpoint name and
        # notes all carry SQL and shell metacharacters.
        cls.checkout = tmp / "hbf"
        cls.checkout.mkdir()
        (cls.checkout / "MODULE.bazel").write_text('module(name = "hbf")\n')
        cls.branch = "x';DROP-TABLE-benchmark_runs;--$(id)"
        git = ["git", "-C", str(cls.checkout), "-c", "user.email=t@t", "-c", "user.name=t"]
        subprocess.run(["git", "init", "-q", "-b", cls.branch, str(cls.checkout)], check=True)
        subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "x"], check=True)
        cls.endpoint = f"hello {DROP}"
        suite = cls.checkout / "pods" / "test" / "benchmark.toml"
        suite.parent.mkdir(parents=True)
        suite.write_text(f'name = {json.dumps(HOSTILE)}\n[[endpoints]]\nname = {json.dumps(cls.endpoint)}\n'
                         'category = "runtime"\npath = "/hello"\n')
        binary = cls.checkout / "bazel-bin" / "bin" / "hbf_test"
        binary.parent.mkdir(parents=True)
        binary.write_text(f"#!/bin/sh\nexec {sys.executable} -S {STANDIN} \"$@\"\n")
        binary.chmod(0o755)
        cls.done = run_benchmark("--workspace", cls.checkout, "--no-build", "--notes", HOSTILE, "--json",
                                 "--db", cls.db, "--requests", 30, "--concurrency", 2,
                                 "--port", free_port(), "--dev-port", free_port())
        cls.report = json.loads(cls.done.stdout)

    @classmethod
    def tearDownClass(cls):
        cls._tmp.cleanup()

    def test_stored_and_returned_exactly(self):
        self.assertEqual(self.done.returncode, 0, self.done.stderr[-2000:])
        self.assertEqual(self.report["notes"], HOSTILE)
        self.assertEqual(self.report["suite"], HOSTILE)
        self.assertEqual(self.report["git_branch"], self.branch)
        self.assertEqual(self.report["results"][0]["endpoint"], self.endpoint)
        with sqlite3.connect(self.db) as conn:
            self.assertEqual(conn.execute("SELECT notes, git_branch FROM benchmark_runs").fetchone(),
                             (HOSTILE, self.branch))
        self.assertEqual(tables(self.db), TABLES | {"sqlite_sequence"})
        self.assertFalse(Path("/tmp/pwned").exists())

    def test_every_show_results_input(self):
        attempts = [  # (arguments, the exit each must give; DROP is part of the endpoint name)
            (["--trend", DROP], 0), (["--trend", self.endpoint], 0), (["--branch", DROP], 0),
            (["--branch", self.branch], 0), (["--pod", DROP], 0), (["--since", DROP], 2),
            (["--build-mode", DROP], 0), (["--compare", DROP, "latest"], 2), (["--run", DROP], 2),
            (["--run", "latest"], 0), (["--export", "csv"], 0), (["--export", "json"], 0),
            (["--html", str(Path(self._tmp.name) / "page.html")], 0),
        ]
        for args, expected in attempts:
            with self.subTest(args=args):
                done = run_show("--db", self.db, *args)
                self.assertEqual(done.returncode, expected, done.stderr)
                self.assertNotIn("Traceback", done.stderr)
                if done.returncode == 2:
                    self.assertEqual(len(done.stderr.strip().splitlines()), 1, done.stderr)
        self.assertEqual(tables(self.db), TABLES | {"sqlite_sequence"})
        shown = run_show("--db", self.db, "--run", "latest", "--json")
        self.assertEqual(json.loads(shown.stdout)["notes"], HOSTILE)
        page = (Path(self._tmp.name) / "page.html").read_text()
        self.assertNotIn("<script>alert(1)</script>", page)

    def test_benchmark_text_inputs(self):
        for args in (["--only", DROP], ["--baseline", DROP], ["--pod", DROP], ["--suite", DROP]):
            with self.subTest(args=args):
                done = run_benchmark("--demo", "--db", self.db, *args)
                self.assertEqual(done.returncode, 2, done.stderr)
        self.assertEqual(tables(self.db), TABLES | {"sqlite_sequence"})


class NoShell(unittest.TestCase):
    def test_no_subprocess_goes_through_a_shell(self):
        sources = [REPO / "benchmark.py", REPO / "show_results.py", *sorted((REPO / "lib").glob("*.py"))]
        for source in sources:
            text = source.read_text()
            self.assertNotRegex(text, r"shell\s*=\s*True", source.name)
            self.assertNotRegex(text, r"os\.system\(|os\.popen\(", source.name)

    # What an f-string may put into SQL: layout built from constants in
    # lib/db.py (column lists, placeholders, WHERE clauses with ? marks).
    SQL_LAYOUT_NAMES = {"columns", "marks", "assignments", "clause", "where", "select", "sample_row",
                        "chunk", "_", "_COULD_BE_BASELINE", "_FOLLOWED_RUN"}

    SQL_LAYOUT_ATTRIBUTES = {"_endpoint_is"}  # self._endpoint_is: a WHERE term with a ? mark

    def sql_layout_problems(self, expression: ast.expr) -> list[str]:
        """What in an f-string's {expression} could carry a value into SQL text."""
        node = expression
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "self"
                and node.attr in self.SQL_LAYOUT_ATTRIBUTES):
            return []
        if isinstance(node, ast.Name):
            return [] if node.id in self.SQL_LAYOUT_NAMES else [f"name {node.id!r}"]
        if isinstance(node, (ast.Subscript, ast.FormattedValue, ast.Attribute)):
            return [ast.unparse(node)]
        if isinstance(node, ast.Call) and not (
                isinstance(node.func, ast.Attribute) and node.func.attr == "join"
                and isinstance(node.func.value, ast.Constant)):
            return [ast.unparse(node)]
        children = node.args if isinstance(node, ast.Call) else list(ast.iter_child_nodes(node))
        return [problem for child in children if isinstance(child, ast.expr)
                for problem in self.sql_layout_problems(child)]

    SQL_CALLS = ("execute", "executemany", "_write")

    def text_names(self, sql: ast.expr) -> list[str]:
        """Names whose text becomes the SQL as it is (`sql`, `sql + " ..."`);
        not those inside an f-string's {...}, which sql_layout_problems judges."""
        if isinstance(sql, ast.Name):
            return [sql.id]
        if isinstance(sql, ast.JoinedStr):
            return []
        return [name for child in ast.iter_child_nodes(sql) if isinstance(child, ast.expr)
                for name in self.text_names(child)]

    def sql_problems(self, tree: ast.AST, where: str = "") -> list[str]:
        """Every execute() in `tree` given f-string SQL: without parameters, or
        with a value in the f-string (parameters or not). An f-string counts
        whether it is the argument itself or was assigned to a name the
        argument uses, in the same function (`sql = f"..."; sql += f"..."`)."""
        problems = []
        scopes = [node for node in ast.walk(tree) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))]
        in_functions = {id(node) for scope in scopes for node in ast.walk(scope)}
        for scope in [tree, *scopes]:
            assigned: dict[str, list[ast.JoinedStr]] = {}
            for node in ast.walk(scope):
                targets = (node.targets if isinstance(node, ast.Assign)
                           else [node.target] if isinstance(node, (ast.AugAssign, ast.AnnAssign)) else [])
                for target in targets:
                    if isinstance(target, ast.Name) and getattr(node, "value", None) is not None:
                        assigned.setdefault(target.id, []).extend(
                            n for n in ast.walk(node.value) if isinstance(n, ast.JoinedStr))
            calls = [n for n in ast.walk(scope) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
                     and n.func.attr in self.SQL_CALLS and n.args]
            for call in calls:
                if scope is tree and id(call) in in_functions:
                    continue  # judged with its function's assignments
                sql = call.args[0]
                strings = [n for n in ast.walk(sql) if isinstance(n, ast.JoinedStr)]
                strings += [string for name in self.text_names(sql) for string in assigned.get(name, [])]
                if strings and len(call.args) < 2:
                    problems.append(f"{where}:{call.lineno}: f-string SQL without parameters")
                for string in strings:
                    for part in string.values:
                        if isinstance(part, ast.FormattedValue) and self.sql_layout_problems(part.value):
                            problems.append(f"{where}:{call.lineno}: a value in SQL text: "
                                            f"{self.sql_layout_problems(part.value)}")
        return problems

    def test_sql_values_are_parameters(self):
        # An f-string may lay out SQL (placeholders, column names from
        # constants); values always travel as parameters: every execute()
        # given an f-string must also be given a parameter sequence, and what
        # the f-string inserts must be layout, never a value.
        sources = sorted((REPO / "lib").glob("*.py"))
        self.assertIn("db.py", [s.name for s in sources])
        for source in sources:
            self.assertEqual(self.sql_problems(ast.parse(source.read_text()), source.name), [])

    def test_the_sql_check_catches_a_value_with_parameters(self):
        call = ast.parse('db.execute(f"SELECT * FROM t WHERE a = {run[\'a\']} AND b = ?", (b,))').body[0].value
        value = call.args[0].values[1].value
        self.assertIn("run['a']", self.sql_layout_problems(value))
        self.assertEqual(self.sql_layout_problems(ast.parse("', '.join('?' for _ in chunk)").body[0].value), [])
        # The whole check, on code: a value in an f-string is caught with
        # parameters given too, and when the f-string travels in a variable.
        caught = {
            "value with parameters": 'def f(db, run, b):\n    db.execute(f"SELECT 1 WHERE a = {run[\'a\']} AND b = ?", (b,))\n',
            "no parameters": 'def f(db):\n    db.execute(f"SELECT {columns} FROM t")\n',
            "value in a variable": 'def f(db, name, b):\n    sql = "SELECT 1 FROM t"\n'
                                   '    sql += f" WHERE a = \'{name}\' AND b = ?"\n    db.conn.execute(sql, (b,))\n',
            "value at module level": 'sql = f"SELECT {name}"\ndb._write(sql + " WHERE b = ?", (1,))\n',
        }
        for case, code in caught.items():
            with self.subTest(case):
                self.assertEqual(len(self.sql_problems(ast.parse(code))), 1, code)
        fine = ('def f(db, chunk):\n    marks = ", ".join("?" for _ in chunk)\n'
                '    sql = f"SELECT * FROM t WHERE id IN ({marks})"\n    db.execute(sql, chunk)\n')
        self.assertEqual(self.sql_problems(ast.parse(fine)), [])


if __name__ == "__main__":
    unittest.main()
