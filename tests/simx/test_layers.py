"""The simulator's package stays layered: no import cycle inside sim/server, no god object.

An import-linter-style check written with ``ast`` (no extra dependency): every import between
modules of ``kalashi_cli/sim/server`` — including ones under ``if TYPE_CHECKING`` and inside
functions — is an edge; the graph must be acyclic. ``from . import serialize`` counts as
importing ``serialize``; importing the package itself counts as importing ``__init__``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[2] / "kalashi_cli" / "sim" / "server"
PACKAGE = "kalashi_cli.sim.server"
MAX_CLASS_LINES = 400
MAX_FUNCTION_LINES = 100


def _modules() -> dict[str, ast.Module]:
    return {p.stem: ast.parse(p.read_text(), str(p)) for p in sorted(PKG.glob("*.py"))}


def _edges(name: str, tree: ast.Module, names: set[str]) -> set[str]:
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level == 1:  # from .x import …  /  from . import x
                if node.module:
                    out.add(node.module.split(".")[0])
                else:
                    out.update(a.name for a in node.names if a.name in names)
            elif node.level == 0 and node.module and node.module.startswith(PACKAGE):
                rest = node.module[len(PACKAGE) :].lstrip(".")
                out.add(rest.split(".")[0] if rest else "__init__")
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith(PACKAGE):
                    rest = a.name[len(PACKAGE) :].lstrip(".")
                    out.add(rest.split(".")[0] if rest else "__init__")
    out.discard(name)
    return out & names


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(n: str) -> list[str] | None:
        state[n] = 1
        stack.append(n)
        for m in sorted(graph[n]):
            if state.get(m) == 1:
                return stack[stack.index(m) :] + [m]
            if m not in state and (found := visit(m)) is not None:
                return found
        stack.pop()
        state[n] = 2
        return None

    for n in sorted(graph):
        if n not in state and (found := visit(n)) is not None:
            return found
    return None


def test_there_is_no_import_cycle_inside_sim_server() -> None:
    mods = _modules()
    graph = {n: _edges(n, t, set(mods)) for n, t in mods.items()}
    assert "exchange" in graph["app"]  # the check sees real edges
    assert _cycle(graph) is None, f"import cycle: {' -> '.join(_cycle(graph) or [])}"


def test_the_cycle_check_finds_a_cycle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def _spans(tree: ast.Module) -> list[tuple[str, str, int]]:
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            kind = "class" if isinstance(node, ast.ClassDef) else "function"
            out.append((kind, node.name, (node.end_lineno or node.lineno) - node.lineno + 1))
    return out


@pytest.mark.parametrize("module", sorted(p.stem for p in PKG.glob("*.py")))
def test_no_class_over_400_lines_and_no_function_over_100(module: str) -> None:
    tree = ast.parse((PKG / f"{module}.py").read_text())
    too_big = [
        (kind, name, n)
        for kind, name, n in _spans(tree)
        if n > (MAX_CLASS_LINES if kind == "class" else MAX_FUNCTION_LINES)
    ]
    assert not too_big, f"{module}: {too_big}"
