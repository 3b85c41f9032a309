"""The package imports one way, without cycles (read from the source with ``ast``).

Layers, top to bottom (a module may import its own part and the layers below)::

    5  cli                    the entry point and one module per command
    4  app, demo              the explorer; the --demo engine (neither imports the other)
    3  client, engine,        (none of them imports another; query is the filter
       recording, query       language)
    2  protocol               what client and engine share, no I/O
    1  leaves                 errors, settings, config, safetext, crashlog, batching (and the
                              package's own __init__): they may import each other

Every import counts, also one inside a function. An import under
``if TYPE_CHECKING:`` never runs, so it is left out of the cycle check, but it
must still point down: a type from above is a dependency on what is above.
Outside app/ nothing imports Textual (or Rich, which comes with it).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "ensync_tui"

LAYERS = {
    "cli": 5,
    "__main__": 5,  # part of cli (see PARTS)
    "app": 4,
    "demo": 4,
    "client": 3,
    "engine": 3,
    "recording": 3,
    "query": 3,
    "protocol": 2,
    "errors": 1,
    "settings": 1,
    "config": 1,
    "safetext": 1,
    "crashlog": 1,
    "batching": 1,
    "": 1,  # ensync_tui/__init__.py
}
PARTS = {"__main__": "cli"}  # modules that belong to another's part
LEAVES = 1
UI_ONLY = ("textual", "rich")
MAX_LINES = 500

# Edges that the redesign has not removed yet, each (importer, imported) and
# whose move removes it. The list only shrinks: an edge fixed must leave it.
KNOWN_VIOLATIONS: set[tuple[str, str]] = set()
KNOWN_LONG: set[str] = set()  # modules over MAX_LINES, split by their owners


@dataclass(frozen=True, slots=True)
class Edge:
    source: str
    target: str
    line: int
    typing_only: bool  # under `if TYPE_CHECKING:`


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}
PACKAGES = {module_name(p) for p in PACKAGE.rglob("__init__.py")}


def part_of(module: str) -> str:
    """The top-level part a module belongs to: ``client`` for ensync_tui.client.api."""
    rest = module.split(".")[1:]
    name = rest[0] if rest else ""
    return PARTS.get(name, name)


def layer_of(module: str) -> int:
    part = part_of(module)
    assert part in LAYERS, f"{module}: not in a layer: add its part to LAYERS (and SHAPE.md)"
    return LAYERS[part]


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _resolve(source: str, module: str | None, level: int) -> str:
    if not level:
        return module or ""
    base = source.split(".")
    if source not in PACKAGES:
        base = base[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join([*base, module] if module else base)


def imports_of(source: str, path: Path) -> tuple[list[Edge], list[tuple[str, int]]]:
    """(edges to our modules, third-party top-level names with line numbers)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    edges: list[Edge] = []
    outside: list[tuple[str, int]] = []

    def add(target: str, line: int, typing_only: bool) -> None:
        if target == "ensync_tui" or target.startswith("ensync_tui."):
            edges.append(Edge(source, target, line, typing_only))
        else:
            outside.append((target.split(".")[0], line))

    def visit(node: ast.AST, typing_only: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child.test):
                for stmt in child.body:
                    visit_stmt(stmt, True)
                for stmt in child.orelse:
                    visit_stmt(stmt, typing_only)
            else:
                visit_stmt(child, typing_only)

    def visit_stmt(node: ast.AST, typing_only: bool) -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name, node.lineno, typing_only)
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(source, node.module, node.level)
            for alias in node.names:
                full = f"{base}.{alias.name}"
                add(full if full in MODULES else base, node.lineno, typing_only)
        else:
            visit(node, typing_only)

    visit(tree, False)
    return edges, outside


GRAPH = {name: imports_of(name, path) for name, path in MODULES.items()}
EDGES = [edge for edges, _ in GRAPH.values() for edge in edges]


def where(edge: Edge) -> str:
    return f"{MODULES[edge.source].relative_to(ROOT)}:{edge.line}: {edge.source} -> {edge.target}"


def wrong_direction(edge: Edge) -> str:
    """Why this import goes the wrong way ("" when it does not)."""
    source, target = part_of(edge.source), part_of(edge.target)
    if source == target:
        return ""
    low, high = layer_of(edge.target), layer_of(edge.source)
    if low > high:
        return "imports a layer above"
    if low == high and low != LEAVES:
        return f"{source} and {target} are side by side: neither imports the other"
    return ""


def upward_imports() -> list[str]:
    found = []
    for edge in EDGES:
        why = wrong_direction(edge)
        if why and (edge.source, edge.target) not in KNOWN_VIOLATIONS:
            found.append(f"{where(edge)}: {why}")
    return found


def cycles(edges: list[Edge]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), run-time imports only."""
    graph: dict[str, set[str]] = {name: set() for e in edges for name in (e.source, e.target)}
    for edge in edges:
        if not edge.typing_only and edge.target != edge.source:
            graph[edge.source].add(edge.target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                connect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for name in sorted(graph):
        if name not in index:
            connect(name)
    return found


def test_every_module_has_a_layer():
    for name in MODULES:
        layer_of(name)


def test_no_import_goes_up_or_sideways():
    assert upward_imports() == []


def test_no_import_cycle():
    found = cycles(EDGES)
    assert found == [], "\n".join(" <-> ".join(c) for c in found)


def test_known_violations_still_exist():
    """An edge fixed leaves the allow-list, so that it cannot come back unseen."""
    edges = {(e.source, e.target) for e in EDGES if wrong_direction(e)}
    assert sorted(KNOWN_VIOLATIONS - edges) == []
    long = {name for name, path in MODULES.items() if _lines(path) > MAX_LINES}
    assert sorted(KNOWN_LONG - long) == []


def _lines(path: Path) -> int:
    return len(path.read_text(encoding="utf-8").splitlines())


def test_no_module_over_500_lines():
    long = [
        f"{path.relative_to(ROOT)}: {_lines(path)} lines"
        for name, path in MODULES.items()
        if _lines(path) > MAX_LINES and name not in KNOWN_LONG
    ]
    assert long == []


def test_only_the_app_imports_textual():
    found = [
        f"{MODULES[name].relative_to(ROOT)}:{line}: imports {top}"
        for name, (_, outside) in GRAPH.items()
        for top, line in outside
        if top in UI_ONLY and part_of(name) != "app"
    ]
    assert found == []


def test_the_checker_sees_what_it_must():
    """The reader finds imports inside functions and under TYPE_CHECKING, and
    resolves relative ones; the rules catch an upward and a sideways import."""
    import tempfile

    code = (
        "from __future__ import annotations\n"
        "from typing import TYPE_CHECKING\n"
        "from . import crypto\n"
        "if TYPE_CHECKING:\n"
        "    from ensync_tui.app import screens\n"
        "def late():\n"
        "    from ensync_tui.engine import store\n"
        "    import textual.app\n"
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "probe.py"
        path.write_text(code)
        edges, outside = imports_of("ensync_tui.client.probe", path)
    got = {(e.target, e.typing_only) for e in edges}
    assert got == {
        ("ensync_tui.client.crypto", False),
        ("ensync_tui.app.screens", True),
        ("ensync_tui.engine.store", False),
    }
    assert ("textual", 8) in outside
    reasons = {e.target: wrong_direction(e) for e in edges}
    assert reasons["ensync_tui.app.screens"] == "imports a layer above"
    assert "side by side" in reasons["ensync_tui.engine.store"]
    assert reasons["ensync_tui.client.crypto"] == ""
    loop = [Edge("a", "b", 1, False), Edge("b", "c", 1, False), Edge("c", "a", 1, False)]
    assert cycles(loop) == [["a", "b", "c"]]
    assert cycles([*loop[:2], Edge("c", "a", 1, True)]) == []  # TYPE_CHECKING: never runs


@pytest.mark.parametrize(
    "module",
    ["ensync_tui.protocol", "ensync_tui.client", "ensync_tui.engine", "ensync_tui.cli.main"],
)
def test_no_textual_loaded_by(module):
    """What the rules promise, checked where it counts: importing these loads no Textual."""
    code = (
        "import importlib, importlib.util, sys\n"
        f"if importlib.util.find_spec({module!r}) is None: sys.exit(0)\n"
        f"importlib.import_module({module!r})\n"
        "bad = [m for m in sys.modules if m.startswith(('textual', 'rich', 'ensync_tui.app'))]\n"
        "print(bad); sys.exit(1 if bad else 0)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
