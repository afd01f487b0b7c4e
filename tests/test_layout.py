"""The code's shape, checked. lib/ is layered (lib/__init__.py lists the
layers, lowest first) and each package's __init__ says what it may import
("May import: lib.core, ..."): the imports the code really makes, lazy ones
inside functions too, must stay within that, and the declared imports must
point down the list. No import circles among lib/ modules; no function over
80 lines of code (its docstring aside) except the declarative argument
parsers; a docstring that says each module's and each package's job."""
import ast
import re
import unittest
from pathlib import Path

from tests.support import REPO

MAX_FUNCTION_LINES = 80
PARSERS = {"build_parser"}  # declarative: one add_argument after another
LIB = REPO / "lib"
PROGRAMS = {"standin"}  # programs of their own, outside the layers: they import nothing from lib


def lib_modules(root: Path = LIB) -> dict[str, ast.Module]:
    """Every module under lib/ by dotted name below lib ("run.runner", "db")."""
    return {".".join(path.relative_to(root).with_suffix("").parts): ast.parse(path.read_text(), str(path))
            for path in sorted(root.rglob("*.py")) if path.stem != "__init__"}


def imports_of(tree: ast.Module, known: set[str]) -> set[str]:
    """The lib modules (dotted names below lib) a module imports anywhere in
    it: `from lib.pkg import mod`, `from lib import db`, `from lib.pkg.mod
    import name`, `import lib.pkg.mod`."""
    found = set()

    def add(dotted: str) -> None:
        if dotted in known:
            found.add(dotted)

    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and (node.module == "lib" or node.module.startswith("lib.")):
            below = node.module.removeprefix("lib").lstrip(".")
            if below in known:
                found.add(below)
            for alias in node.names:
                add(f"{below}.{alias.name}" if below else alias.name)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("lib."):
                    add(alias.name.removeprefix("lib."))
    return found


def unit_of(module: str) -> str:
    """The layer a module belongs to: its package, or itself at lib/'s top."""
    return module.split(".")[0]


def declared_layers(root: Path = LIB) -> list[str]:
    """The layer names lib/__init__.py lists, lowest first ("parser.py" -> "parser")."""
    doc = ast.get_docstring(ast.parse((root / "__init__.py").read_text())) or ""
    block = doc.split("Layers, lowest first:", 1)[1].split("\n\n", 1)[0]
    return [line.split()[0].removesuffix(".py") for line in block.strip().splitlines()]


def declared_imports(package: Path) -> set[str]:
    """The layers a package's __init__ says it may import ("May import: lib.core, lib.db.")."""
    doc = ast.get_docstring(ast.parse((package / "__init__.py").read_text())) or ""
    match = re.search(r"May import:\s*(.*?)(?:\n\n|$)", doc, re.S)
    if match is None:
        return set()
    return {name.removeprefix("lib.") for name in re.findall(r"lib\.\w+", match.group(1))}


def layer_graph(root: Path = LIB) -> dict[str, set[str]]:
    """Layer -> the other layers its modules import."""
    modules = lib_modules(root)
    graph: dict[str, set[str]] = {}
    for name, tree in modules.items():
        uses = {unit_of(dep) for dep in imports_of(tree, set(modules))} - {unit_of(name)}
        graph.setdefault(unit_of(name), set()).update(uses)
    return graph


def layering_faults(root: Path = LIB) -> list[str]:
    """Every import that breaks the declared layering, as a sentence."""
    order = declared_layers(root)
    faults = []
    for unit, uses in sorted(layer_graph(root).items()):
        if unit in PROGRAMS:
            continue
        if unit not in order:
            faults.append(f"lib/{unit}: not in lib/__init__.py's list of layers")
            continue
        package = root / unit
        allowed = declared_imports(package) if package.is_dir() else set(order[:order.index(unit)])
        for dep in sorted(uses - allowed):
            faults.append(f"lib/{unit} imports lib.{dep}, which its __init__ does not allow")
        for dep in sorted(allowed):
            if dep not in order or order.index(dep) >= order.index(unit):
                faults.append(f"lib/{unit} may import lib.{dep}, which is not below it in lib/__init__.py")
    return faults


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
    def test_imports_flow_down_the_declared_layers(self):
        self.assertEqual(layering_faults(), [])

    def test_every_layer_is_declared_and_every_package_says_what_it_may_import(self):
        order = declared_layers()
        units = {unit_of(name) for name in lib_modules()} - PROGRAMS
        self.assertEqual(sorted(units - set(order)), [])
        for package in sorted(p for p in LIB.iterdir() if (p / "__init__.py").exists()):
            with self.subTest(package=package.name):
                doc = ast.get_docstring(ast.parse((package / "__init__.py").read_text()))
                self.assertTrue(doc and "May import:" in doc, f"lib/{package.name}/__init__.py: no 'May import:'")

    def test_an_upward_import_is_caught(self):
        # The checker on a copy of lib/ where a low layer reaches up: it must say so.
        import shutil
        import tempfile
        with tempfile.TemporaryDirectory() as tmp:
            copy = Path(tmp) / "lib"
            shutil.copytree(LIB, copy, ignore=shutil.ignore_patterns("__pycache__"))
            text = copy / "core" / "text.py"
            text.write_text(text.read_text() + "\n\ndef _up():\n    from lib.show import views\n")
            self.assertEqual(layering_faults(copy), ["lib/core imports lib.show, which its __init__ does not allow"])

    def test_the_programs_import_nothing_from_lib(self):
        # The stand-in runs as a program of its own (a kept binary's launcher holds its path).
        modules = lib_modules()
        for name in PROGRAMS:
            self.assertEqual(imports_of(modules[name], set(modules)), set(), name)

    def test_no_import_circles_among_lib_modules(self):
        modules = lib_modules()
        graph = {name: imports_of(tree, set(modules)) - {name} for name, tree in modules.items()}
        self.assertIsNone(find_cycle(graph), "import circle")

    def test_the_cycle_finder_finds_one(self):
        self.assertEqual(find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}), ["a", "b", "c", "a"])
        self.assertIsNone(find_cycle({"a": {"b"}, "b": set()}))

    def test_no_function_over_80_lines(self):
        long = []
        for path in [*sorted(LIB.rglob("*.py")), REPO / "benchmark.py", REPO / "show_results.py"]:
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name not in PARSERS:
                    body = node.body[1:] if ast.get_docstring(node) and len(node.body) > 1 else node.body
                    lines = node.end_lineno - body[0].lineno + 2  # the def line and the code (no docstring)
                    if lines > MAX_FUNCTION_LINES:
                        long.append(f"{path.relative_to(REPO)}:{node.lineno} {node.name} ({lines} lines)")
        self.assertEqual(long, [])

    def test_every_module_says_its_job(self):
        for name, tree in lib_modules().items():
            with self.subTest(module=name):
                self.assertTrue(ast.get_docstring(tree), f"lib/{name.replace('.', '/')}.py has no module docstring")


if __name__ == "__main__":
    unittest.main()
