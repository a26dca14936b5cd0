"""The code stays in parts a newcomer can read: no class in the studio over ~400 lines, no function over ~60, and
no import cycle anywhere in the package (a cycle hides which part is built on which)."""

import ast
import pathlib

import networkx as nx

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "tea_studio"
STUDIO = PACKAGE / "studio"
MAX_CLASS_LINES = 400
MAX_FUNCTION_LINES = 60


def _modules() -> dict[str, pathlib.Path]:
    """Dotted module name -> file, for every module of the package (a package is its ``__init__``)."""
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = ("tea_studio", *path.relative_to(PACKAGE).with_suffix("").parts)
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _under_type_checking(tree: ast.Module) -> set[ast.AST]:
    """Imports inside ``if TYPE_CHECKING:``: they never run, so they make no cycle."""
    skipped = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for inner in node.body:
                skipped.update(ast.walk(inner))
    return skipped


def _imported(module: str, path: pathlib.Path, modules: dict[str, pathlib.Path]) -> set[str]:
    """The package's modules that ``module`` imports anywhere in its file (at the top or inside a function),
    absolute or relative."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = _under_type_checking(tree)
    targets = set()
    for node in ast.walk(tree):
        if node in skipped:
            continue
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, *([node.module] if node.module else [])])
            for alias in node.names:  # `from package import module` imports the module
                targets.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base)
    return {target for target in targets if target in modules and target != module}


def test_no_class_or_function_in_the_studio_is_too_long_to_read():
    too_long = []
    for path in sorted(STUDIO.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                limit = MAX_CLASS_LINES if isinstance(node, ast.ClassDef) else MAX_FUNCTION_LINES
                lines = node.end_lineno - node.lineno + 1
                if lines > limit:
                    too_long.append(f"{path.relative_to(STUDIO)}:{node.name} ({lines} lines)")
    assert too_long == []


def test_the_package_imports_without_cycles():
    modules = _modules()
    graph = nx.DiGraph()
    for module, path in modules.items():
        graph.add_node(module)
        graph.add_edges_from((module, target) for target in _imported(module, path, modules))
    assert [sorted(cycle) for cycle in nx.simple_cycles(graph)] == []


def test_the_cycle_check_sees_relative_and_function_level_imports(tmp_path):
    modules = {"tea_studio.a": tmp_path / "a.py", "tea_studio.b": tmp_path / "b.py"}
    modules["tea_studio.a"].write_text("def f():\n    from . import b\n", encoding="utf-8")
    modules["tea_studio.b"].write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                                       "    from tea_studio import a\n", encoding="utf-8")
    assert _imported("tea_studio.a", modules["tea_studio.a"], modules) == {"tea_studio.b"}
    assert _imported("tea_studio.b", modules["tea_studio.b"], modules) == set()
