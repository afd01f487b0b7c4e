"""The code's shape, checked: no import circles among lib/ modules (lazy
imports inside functions count too), no function over 80 lines of code (its
docstring aside) except the declarative argument parsers, and a docstring that says each module's job."""
import ast
import unittest

from tests.support import REPO

MAX_FUNCTION_LINES = 80
PARSERS = {"build_parser"}  # declarative: one add_argument after another


def lib_modules() -> dict[str, ast.Module]:
    return {path.stem: ast.parse(path.read_text(), str(path))
            for path in sorted((REPO / "lib").glob("*.py")) if path.stem != "__init__"}


def imports_of(tree: ast.Module, known: set[str]) -> set[str]:
    """The lib modules a module imports anywhere in it (`from lib import x`,
    `from lib.x import y`, `import lib.x`)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "lib":
                found |= {alias.name for alias in node.names if alias.name in known}
            elif node.module.startswith("lib."):
                found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            found |= {alias.name.split(".")[1] for alias in node.names
                      if alias.name.startswith("lib.") and alias.name.split(".")[1] in known}
    return found


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle as a path (a -> b -> a), or None."""
    state: dict[str, int] = {}  # 1 visiting, 2 done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


class Layout(unittest.TestCase):
    def test_no_import_circles_among_lib_modules(self):
        modules = lib_modules()
        graph = {name: imports_of(tree, set(modules)) - {name} for name, tree in modules.items()}
        self.assertIsNone(find_cycle(graph), "import circle")

    def test_the_cycle_finder_finds_one(self):
        self.assertEqual(find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}), ["a", "b", "c", "a"])
        self.assertIsNone(find_cycle({"a": {"b"}, "b": set()}))

    def test_no_function_over_80_lines(self):
        long = []
        for path in [*sorted((REPO / "lib").glob("*.py")), REPO / "benchmark.py", REPO / "show_results.py"]:
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name not in PARSERS:
                    body = node.body[1:] if ast.get_docstring(node) and len(node.body) > 1 else node.body
                    lines = node.end_lineno - body[0].lineno + 2  # the def line and the code (no docstring)
                    if lines > MAX_FUNCTION_LINES:
                        long.append(f"{path.name}:{node.lineno} {node.name} ({lines} lines)")
        self.assertEqual(long, [])

    def test_every_module_says_its_job(self):
        for name, tree in lib_modules().items():
            with self.subTest(module=name):
                self.assertTrue(ast.get_docstring(tree), f"lib/{name}.py has no module docstring")


if __name__ == "__main__":
    unittest.main()
