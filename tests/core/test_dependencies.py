"""What the code imports is what pyproject.toml declares, and nothing is imported from a private module.

* Every third-party module that ``kalashi_cli/`` imports (at the top, in a function or under
  ``TYPE_CHECKING``) belongs to a distribution in ``[project].dependencies`` (or, for optional
  features such as matplotlib's plots, in a non-test extra): nothing arrives only as another
  package's dependency (starlette, uvicorn, pydantic and anyio came through mcp).
* Every declared runtime dependency is imported by the package (none is dead weight).
* What ``tests/`` and ``bench/`` import is declared too (runtime or the ``test`` extra), and every
  ``test`` extra entry is imported or is a tool CI runs.
* No module path with a private part (``typer._click``): private modules change without notice.
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
#: test-extra entries that are tools CI runs, not imports
TOOLS = {"ruff", "mypy", "types-pyyaml", "types-cachetools", "import-linter"}
#: scripts that run in a venv of their own, not ours: the official SDK's Python 3.13 venv
#: (tests/simx/test_official_sdk.py) and NautilusTrader's (bench/bench_exchange.py --nautilus)
OTHER_VENV = {ROOT / "tests" / "simx" / "sdk_session.py", ROOT / "bench" / "nautilus_book.py"}


def norm(name: str) -> str:
    """A distribution name as PEP 503 compares them."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_names(reqs: list[str]) -> set[str]:
    return {norm(m.group(0)) for r in reqs if (m := re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", r))}


def imports(path: Path) -> Iterator[tuple[int, str]]:
    """(line, dotted module) of every absolute import in a file, wherever it stands."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module


def local_modules(root: Path) -> set[str]:
    """Names a folder's scripts import from itself (``import needs``, ``from .conftest``, ``import flow_real``)."""
    return {p.stem for p in root.rglob("*.py")} | {p.name for p in root.iterdir() if p.is_dir()}


def third_party(paths: list[Path], local: set[str] = frozenset()) -> dict[str, list[str]]:  # type: ignore[assignment]
    """Top-level third-party module → where it is imported."""
    out: dict[str, list[str]] = {}
    for path in paths:
        if path in OTHER_VENV:
            continue
        for line, module in imports(path):
            top = module.split(".")[0]
            if top in sys.stdlib_module_names or top == "kalashi_cli" or top in local:
                continue
            out.setdefault(top, []).append(f"{path.relative_to(ROOT)}:{line}")
    return out


def undeclared(used: dict[str, list[str]], declared: set[str]) -> list[str]:
    """The modules of ``used`` that no declared distribution provides."""
    dists = importlib.metadata.packages_distributions()
    out = []
    for module, where in sorted(used.items()):
        provided_by = {norm(d) for d in dists.get(module, [])}
        if not provided_by:
            out.append(f"{module} (imported at {where[0]}) is not installed: declare it and reinstall")
        elif not provided_by & declared:
            out.append(
                f"{module} (imported at {where[0]}) comes from {sorted(provided_by)}, not declared in pyproject.toml"
            )
    return out


def provided_modules(dist: str) -> set[str]:
    dists = importlib.metadata.packages_distributions()
    return {m for m, ds in dists.items() if dist in {norm(d) for d in ds}}


RUNTIME = requirement_names(PYPROJECT["project"]["dependencies"])
EXTRAS = {name: requirement_names(reqs) for name, reqs in PYPROJECT["project"]["optional-dependencies"].items()}
OPTIONAL = set().union(*(reqs for name, reqs in EXTRAS.items() if name != "test"))
PACKAGE_FILES = sorted((ROOT / "kalashi_cli").rglob("*.py"))
TEST_FILES = sorted((ROOT / "tests").rglob("*.py")) + sorted((ROOT / "bench").rglob("*.py"))


def test_the_package_imports_only_declared_distributions() -> None:
    assert undeclared(third_party(PACKAGE_FILES), RUNTIME | OPTIONAL) == []


def test_every_runtime_dependency_is_imported_by_the_package() -> None:
    used = set(third_party(PACKAGE_FILES))
    unused = sorted(d for d in RUNTIME if not provided_modules(d) & used)
    assert unused == [], f"declared in [project].dependencies but never imported: {unused}"


def test_tests_and_benchmarks_import_only_declared_distributions() -> None:
    local = local_modules(ROOT / "tests") | local_modules(ROOT / "bench")  # bench scripts import each other
    assert undeclared(third_party(TEST_FILES, local), RUNTIME | OPTIONAL | EXTRAS["test"]) == []


def test_every_test_extra_entry_is_used() -> None:
    used = set(third_party(TEST_FILES, local_modules(ROOT / "tests"))) | set(third_party(PACKAGE_FILES))
    unused = sorted(d for d in EXTRAS["test"] - TOOLS if not provided_modules(d) & used)
    assert unused == [], f"in the test extra but imported nowhere (and not a tool CI runs): {unused}"


def private_imports(paths: list[Path], root: Path = ROOT) -> list[str]:
    """Imports whose module path has a private part (``typer._click.exceptions``)."""
    return [
        f"{p.relative_to(root)}:{line}: {module}"
        for p in paths
        for line, module in imports(p)
        if any(part.startswith("_") and not part.startswith("__") for part in module.split("."))
    ]


def test_nothing_is_imported_from_a_private_module() -> None:
    assert private_imports(PACKAGE_FILES + TEST_FILES) == []


@pytest.mark.parametrize(
    ("source", "found"),
    [
        ("from typer._click.exceptions import UsageError\n", ["typer._click.exceptions"]),
        ("def f():\n    import a._b\n", ["a._b"]),
        ("from __future__ import annotations\nimport typer\nfrom .x import y\n", []),
    ],
)
def test_the_private_import_check_sees_them(tmp_path: Path, source: str, found: list[str]) -> None:
    path = tmp_path / "probe.py"
    path.write_text(source)
    assert [s.rsplit(": ", 1)[1] for s in private_imports([path], tmp_path)] == found


def test_the_declaration_check_sees_an_undeclared_module() -> None:
    # anyio is installed (mcp needs it); were it undeclared, a kalashi import of it would be reported
    assert undeclared({"anyio": ["x.py:1"]}, RUNTIME - {"anyio"}) == [
        "anyio (imported at x.py:1) comes from ['anyio'], not declared in pyproject.toml"
    ]
    assert undeclared({"anyio": ["x.py:1"]}, {"anyio"}) == []


#: where the package may use the stdlib json module, and why (everywhere else: orjson)
STDLIB_JSON = {
    "kalashi_cli/record_schema.py": "writes the committed record schemas: json.dumps's sorted keys and ASCII "
    "escapes are their byte format (drift-tested)",
    "kalashi_cli/cli/profile_cmd.py": "prints the profile schema in the same committed format",
}


def test_one_json_codec() -> None:
    """orjson encodes and decodes JSON; msgspec types and validates (never a second codec); stdlib json
    only where the output format is fixed and speed does not matter (STDLIB_JSON)."""
    stdlib, msgspec_codec = [], []
    for path in PACKAGE_FILES:
        rel = str(path.relative_to(ROOT))
        for line, module in imports(path):
            if module == "json" and rel not in STDLIB_JSON:
                stdlib.append(f"{rel}:{line}")
        source = path.read_text(encoding="utf-8")
        if re.search(
            r"msgspec\.json\.(encode|decode|Encoder|Decoder)\b|from msgspec\.json import|"
            r"from msgspec import json",
            source,
        ):
            msgspec_codec.append(rel)
    assert stdlib == [], "stdlib json outside STDLIB_JSON: use orjson"
    assert msgspec_codec == [], "msgspec as a JSON codec: use orjson"
    assert all((ROOT / rel).exists() for rel in STDLIB_JSON)


CONSTRAINTS = ROOT / ".ci" / "constraints.txt"


def pins() -> dict[str, str]:
    """Distribution → pinned version in .ci/constraints.txt."""
    out = {}
    for line in CONSTRAINTS.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, sep, version = line.partition("==")
            assert sep and version, f".ci/constraints.txt: {line!r} is not NAME==VERSION (regenerate with .ci/lock.sh)"
            out[norm(name)] = version.split(";")[0].strip()
    return out


def test_the_lock_pins_every_declared_distribution_within_its_range() -> None:
    from packaging.requirements import Requirement
    from packaging.version import Version

    pinned = pins()
    project = PYPROJECT["project"]
    problems = []
    for req in [*project["dependencies"], *(r for reqs in project["optional-dependencies"].values() for r in reqs)]:
        r = Requirement(req)
        if r.marker is not None and not r.marker.evaluate({"extra": ""}):
            continue
        version = pinned.get(norm(r.name))
        if version is None:
            problems.append(f"{r.name} is not pinned")
        elif not r.specifier.contains(Version(version), prereleases=True):
            problems.append(f"{r.name}=={version} is outside pyproject's {r.specifier}")
    assert "kalashi" not in pinned, "the lock pins the project itself"
    assert problems == [], f".ci/constraints.txt is stale ({'; '.join(problems)}): run .ci/lock.sh and commit it"


def test_ci_runs_the_readme_test_command_verbatim_with_the_lock() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = [line for line in readme.splitlines() if "pip install" in line and ".venv/bin/pytest" in line]
    assert len(commands) == 1, commands
    command = commands[0]
    assert "-c .ci/constraints.txt" in command, "the README's test command installs what CI pins"
    run = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    marker = next(i for i, line in enumerate(run) if line.startswith("# The README's test command, verbatim"))
    assert run[marker + 1] == command
