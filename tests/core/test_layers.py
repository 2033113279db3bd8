"""The package stays layered: import-linter's contracts (pyproject ``[tool.importlinter]``) hold,
every top-level module has its layer, there is no import cycle anywhere in ``kalashi_cli``, and no
class reaches 400 lines nor any function 100 (on the ``ruff format``ted code).

Cycles are measured with grimp (import-linter's graph): every import counts, including ones inside
functions and under ``if TYPE_CHECKING`` — a lazy import is still a dependency a reader must follow.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _layers() -> list[list[str]]:
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    [layered] = [c for c in cfg["contracts"] if c["type"] == "layers"]
    return [[m.strip() for m in layer.replace("|", ":").split(":")] for layer in layered["layers"]]


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle in ``graph`` (as a path that ends where it starts), or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(n: str) -> list[str] | None:
        state[n] = 1
        stack.append(n)
        for m in sorted(graph.get(n, ())):
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


def _graphs() -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """(module graph, top-level graph) of kalashi_cli's imports of itself."""
    g = grimp.build_graph("kalashi_cli", cache_dir=None)
    modules: dict[str, set[str]] = {}
    tops: dict[str, set[str]] = {}
    for m in g.modules:
        for i in g.find_modules_directly_imported_by(m):
            if i.startswith("kalashi_cli"):
                modules.setdefault(m, set()).add(i)
                a, b = m.split(".")[:2], i.split(".")[:2]
                if len(a) == 2 and len(b) == 2 and a != b:
                    tops.setdefault(a[1], set()).add(b[1])
    return modules, tops


def test_the_contracts_hold() -> None:
    res = subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-2000:]
    assert "0 broken" in res.stdout


def test_a_broken_contract_fails_lint_imports(tmp_path: Path) -> None:
    """The check can fail: a lower layer importing a higher one is reported and exits non-zero."""
    pkg = tmp_path / "layered"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "high.py").write_text("")
    (pkg / "low.py").write_text("from . import high\n")
    (tmp_path / ".importlinter").write_text(
        "[importlinter]\nroot_package = layered\n\n[importlinter:contract:1]\nname = layers\ntype = layers\n"
        "containers = layered\nlayers =\n    high\n    low\n"
    )
    res = subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"},
    )
    assert res.returncode == 1, res.stdout + res.stderr
    assert "layered.low -> layered.high" in res.stdout


def test_every_top_level_module_has_a_layer() -> None:
    listed = {m for layer in _layers() for m in layer}
    package = ROOT / "kalashi_cli"
    found = {p.stem for p in package.glob("*.py") if p.stem != "__init__"}
    found |= {p.parent.name for p in package.glob("*/__init__.py")}
    found -= {"schemas"}  # data (the committed JSON Schemas), no code that imports anything of ours
    assert found - listed == set(), "give each new module its layer in pyproject's [tool.importlinter]"
    assert listed - found == set()


def test_there_is_no_import_cycle() -> None:
    modules, tops = _graphs()
    assert "kalashi_cli.records" in modules["kalashi_cli.loop"]  # the graph sees real edges
    assert _cycle(tops) is None, f"import cycle between packages: {' -> '.join(_cycle(tops) or [])}"
    assert _cycle(modules) is None, f"import cycle between modules: {' -> '.join(_cycle(modules) or [])}"


def test_the_cycle_check_finds_a_cycle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_one_import_style_inside_the_package() -> None:
    """Inside kalashi_cli every import of the package itself is relative (``from ..money import``)."""
    import ast

    found = []
    for p in sorted((ROOT / "kalashi_cli").rglob("*.py")):
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.ImportFrom)
                and node.level == 0
                and (node.module or "").split(".")[0] == "kalashi_cli"
            ):
                found.append(f"{p.relative_to(ROOT)}:{node.lineno}: from {node.module} import …")
            elif isinstance(node, ast.Import) and any(a.name.split(".")[0] == "kalashi_cli" for a in node.names):
                found.append(f"{p.relative_to(ROOT)}:{node.lineno}: import kalashi_cli…")
    assert found == [], "\n".join(found)


MAX_CLASS_LINES = 400
MAX_FUNCTION_LINES = 100


def _too_big(source: str) -> list[str]:
    """Classes of 400 lines or more and functions of 100 or more in ``source`` (def line to last line)."""
    import ast

    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            limit = MAX_CLASS_LINES if isinstance(node, ast.ClassDef) else MAX_FUNCTION_LINES
            if (n := (node.end_lineno or node.lineno) - node.lineno + 1) >= limit:
                out.append(f"{node.lineno}: {node.name} is {n} lines (the limit is under {limit})")
    return out


def test_no_class_of_400_lines_and_no_function_of_100() -> None:
    """Every class in the library is under 400 lines and every function under 100: split along the seams."""
    found = [
        f"{p.relative_to(ROOT)}:{line}"
        for p in sorted((ROOT / "kalashi_cli").rglob("*.py"))
        for line in _too_big(p.read_text(encoding="utf-8"))
    ]
    assert found == [], "\n".join(found)


def test_the_size_check_finds_a_long_function() -> None:
    body = "".join(f"    x{i} = {i}\n" for i in range(99))
    assert _too_big(f"def f():\n{body}") == ["1: f is 100 lines (the limit is under 100)"]
    assert _too_big(f"def f():\n{body[: -len('    x98 = 98') - 1]}") == []
