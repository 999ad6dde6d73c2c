"""The layering of voxpop/ is one-way: no module imports, directly or through others, itself.

Every voxpop-internal import counts, the ones inside functions too: a late import that
dodges a circle at run time still ties the two modules together in the design.
Imports under ``if TYPE_CHECKING:`` are left out, since they never run and only name types.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import pytest

pytestmark = pytest.mark.python_only

PACKAGE_ROOT = Path(__file__).resolve().parent.parent / "voxpop"


def module_name(path: Path) -> str:
    """The dotted module name of a file under voxpop/."""
    parts = list(path.relative_to(PACKAGE_ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST, this: str, is_package: bool, known: set[str]) -> set[str]:
    """The voxpop modules that a module's code imports, anywhere in its body."""
    found: set[str] = set()
    package = this if is_package else this.rpartition(".")[0]

    def resolve(name: str) -> str | None:
        # "voxpop.a.b.c" may name a module or an attribute of one: take the longest module.
        while name:
            if name in known:
                return name
            name = name.rpartition(".")[0]
        return None

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("voxpop"):
                    target = resolve(alias.name)
                    if target:
                        found.add(target)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".")
                base_parts = base_parts[: len(base_parts) - (node.level - 1)]
                base = ".".join(base_parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            if base.startswith("voxpop"):
                for alias in node.names:
                    target = resolve(f"{base}.{alias.name}") or resolve(base)
                    if target:
                        found.add(target)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    found.discard(this)
    return found


@functools.cache  # walked once for the tests below (seconds under coverage); never changed
def import_graph() -> dict[str, set[str]]:
    """Each voxpop module mapped to the voxpop modules it imports."""
    files = {module_name(p): p for p in PACKAGE_ROOT.rglob("*.py")}
    known = set(files)
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        targets = _imports(tree, name, path.name == "__init__.py", known)
        # Importing a.b.c runs a/__init__ and a/b/__init__ too, but those edges say nothing
        # about layering: a package's __init__ is its front door, so only the named module counts.
        graph[name] = targets
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle in the graph as a list of modules (first repeated at the end), or None."""
    white, grey, black = 0, 1, 2
    colour = dict.fromkeys(graph, white)
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        colour[node] = grey
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if colour.get(target, black) == grey:
                return stack[stack.index(target) :] + [target]
            if colour.get(target) == white:
                cycle = visit(target)
                if cycle:
                    return cycle
        stack.pop()
        colour[node] = black
        return None

    for node in sorted(graph):
        if colour[node] == white:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def test_the_graph_sees_imports_of_every_kind():
    graph = import_graph()
    assert "voxpop.db" in graph["voxpop.models"]
    assert len(graph) > 50


def test_find_cycle_reports_a_circle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_voxpop_has_no_import_circle():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import circle: " + " -> ".join(cycle or [])
