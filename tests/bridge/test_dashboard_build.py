"""The shipped dashboard is current with its sources, complete, packaged, and speaks the protocol.

The dashboard is built from ``dashboard/`` (``npm ci && npm run build``) into
``kalashi_cli/bridge/static/`` and committed, so ``pip install`` alone gives a working page.
``dashboard/scripts/build-info.mjs`` records a digest of the sources it was built from; this test
recomputes that digest with the same recipe, so a source change without a rebuild fails here.
The bridge protocol's JSON Schemas (``kalashi_cli/bridge/protocol/``) are checked against the
dashboard's fixtures, which the mock bridge serves and the page is tested with.
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "dashboard"
BRIDGE = ROOT / "kalashi_cli" / "bridge"
STATIC = BRIDGE / "static"
PROTOCOL = BRIDGE / "protocol"
RECORD_SCHEMAS = ROOT / "kalashi_cli" / "schemas" / "records"
FIXTURES = DASHBOARD / "fixtures"
REBUILD = "run `npm ci && npm run build` in dashboard/ and commit kalashi_cli/bridge/static/"

# The recipe of dashboard/scripts/build-info.mjs — keep the two in step.
SOURCE_DIRS = ("src", "public")
ROOT_FILES = ("index.html", "package.json", "package-lock.json", "vite.config.ts")
ROOT_PATTERN = re.compile(r"tsconfig.*\.json")
MESSAGE_TYPES = ("hello", "state", "record", "ack", "error", "progress", "command")
ERROR_CODES = ("bad_message", "unknown_command", "unauthorized", "invalid_args", "refused")


def file_hash(path: Path) -> str:
    """Hash a file's content with CRLF normalised to LF, as build-info.mjs does."""
    return hashlib.sha256(path.read_bytes().replace(b"\r\n", b"\n")).hexdigest()


def hashed(root: Path, rel_paths: list[str]) -> list[dict[str, str]]:
    return [{"path": p, "sha256": file_hash(root / p)} for p in sorted(rel_paths, key=lambda s: s.encode())]


def source_files() -> list[dict[str, str]]:
    """The dashboard sources the build is made from, in digest order."""
    paths: set[str] = set()
    for d in SOURCE_DIRS:
        base = DASHBOARD / d
        if base.is_dir():
            paths.update(p.relative_to(DASHBOARD).as_posix() for p in base.rglob("*") if p.is_file())
    paths.update(name for name in ROOT_FILES if (DASHBOARD / name).is_file())
    paths.update(p.name for p in DASHBOARD.iterdir() if p.is_file() and ROOT_PATTERN.fullmatch(p.name))
    return hashed(DASHBOARD, list(paths))


def output_files() -> list[dict[str, str]]:
    """The shipped files under static/, without build-info.json."""
    rel = [p.relative_to(STATIC).as_posix() for p in STATIC.rglob("*") if p.is_file()]
    return hashed(STATIC, [p for p in rel if p != "build-info.json"])


def digest_of(files: list[dict[str, str]]) -> str:
    h = hashlib.sha256()
    for f in files:
        h.update(f"{f['path']}\0{f['sha256']}\n".encode())
    return h.hexdigest()


@pytest.fixture(scope="module")
def build_info() -> dict[str, Any]:
    path = STATIC / "build-info.json"
    assert path.is_file(), f"{path} is missing — {REBUILD}"
    info: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return info


# --------------------------------------------------------------------------- the build is current


def test_shipped_build_was_made_from_the_current_sources(build_info: dict[str, Any]) -> None:
    sources = source_files()
    if build_info["source_digest"] != digest_of(sources):
        before = {f["path"]: f["sha256"] for f in build_info.get("sources", [])}
        now = {f["path"]: f["sha256"] for f in sources}
        changed = sorted(p for p in before.keys() | now.keys() if before.get(p) != now.get(p))
        pytest.fail(f"dashboard sources changed since the shipped build ({', '.join(changed) or 'recipe'}) — {REBUILD}")
    assert build_info["sources"] == sources


def test_the_digest_covers_the_files_the_build_depends_on(build_info: dict[str, Any]) -> None:
    paths = {f["path"] for f in build_info["sources"]}
    assert {
        "index.html",
        "package.json",
        "package-lock.json",
        "vite.config.ts",
        "tsconfig.json",
        "src/main.tsx",
    } <= paths
    assert all(p.startswith(("src/", "public/")) or "/" not in p for p in paths)


def test_file_hash_ignores_line_endings(tmp_path: Path) -> None:
    unix, dos = tmp_path / "a", tmp_path / "b"
    unix.write_bytes(b"line one\nline two\n")
    dos.write_bytes(b"line one\r\nline two\r\n")
    assert file_hash(unix) == file_hash(dos)


def test_shipped_files_are_exactly_what_the_build_wrote(build_info: dict[str, Any]) -> None:
    assert build_info["outputs"] == output_files(), (
        f"files under static/ were added, removed or edited by hand — {REBUILD}"
    )


# --------------------------------------------------------------------------- the page is complete


class _Refs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.refs: list[tuple[str, str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        for key in ("src", "href"):
            value = a.get(key)
            if value:
                self.refs.append((tag, value, a))


def test_index_html_names_only_files_that_ship() -> None:
    parser = _Refs()
    parser.feed((STATIC / "index.html").read_text(encoding="utf-8"))
    scripts = [v for tag, v, a in parser.refs if tag == "script" and a.get("type") == "module"]
    styles = [v for tag, v, a in parser.refs if tag == "link" and a.get("rel") == "stylesheet"]
    assert len(scripts) == 1 and len(styles) == 1, parser.refs
    for _, ref, _ in parser.refs:
        assert not re.match(r"^[a-z]+:|^//", ref), f"index.html loads {ref} from outside the package"
        assert not ref.startswith("/"), f"{ref} is absolute; the page must work wherever it is mounted (vite base './')"
        assert (STATIC / ref).resolve().is_file(), f"index.html names {ref}, which does not ship — {REBUILD}"


def test_the_page_needs_no_node_and_no_network_at_run_time() -> None:
    for path in STATIC.rglob("*"):
        if path.suffix in {".js", ".css", ".html"}:
            text = path.read_text(encoding="utf-8")
            assert "node_modules" not in text, path
            assert not re.search(r"""(?:src|href)\s*=\s*["']https?://""", text), (
                f"{path} loads something from the network"
            )


def test_the_package_ships_the_dashboard_and_the_protocol_schemas() -> None:
    """Every file under static/ and protocol/ is matched by a package-data glob in pyproject.toml."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    globs = config["tool"]["setuptools"].get("package-data", {}).get("kalashi_cli.bridge", [])
    shipped = {p for g in globs for p in BRIDGE.glob(g) if p.is_file()}
    needed = {p for p in STATIC.rglob("*") if p.is_file()} | set(PROTOCOL.glob("*.json"))
    missing = sorted(p.relative_to(BRIDGE).as_posix() for p in needed - shipped)
    assert not missing, (
        f"pyproject.toml [tool.setuptools.package-data] 'kalashi_cli.bridge' does not ship {missing[:5]}; "
        'it needs ["static/*", "static/assets/*", "protocol/*.json"]'
    )


# --------------------------------------------------------------------------- the protocol


def _registry() -> Registry:
    resources = []
    for path in [*PROTOCOL.glob("*.json"), *RECORD_SCHEMAS.glob("*.json")]:
        schema = json.loads(path.read_text(encoding="utf-8"))
        resources.append((schema["$id"], Resource.from_contents(schema)))
    return Registry().with_resources(resources)


@pytest.fixture(scope="module")
def validators() -> dict[str, Draft202012Validator]:
    registry = _registry()
    out = {}
    for name in MESSAGE_TYPES:
        schema = json.loads((PROTOCOL / f"{name}.json").read_text(encoding="utf-8"))
        Draft202012Validator.check_schema(schema)
        out[name] = Draft202012Validator(schema, registry=registry)
    return out


def _errors(v: Draft202012Validator, doc: Any) -> list[str]:
    return [f"{list(e.absolute_path)}: {e.message}" for e in v.iter_errors(doc)]


def test_there_is_one_schema_per_message_type() -> None:
    assert sorted(p.stem for p in PROTOCOL.glob("*.json")) == sorted(MESSAGE_TYPES)


def test_the_fixture_state_is_a_valid_state_message(validators: dict[str, Draft202012Validator]) -> None:
    state = json.loads((FIXTURES / "state-paper.json").read_text(encoding="utf-8"))
    assert _errors(validators["state"], {"type": "state", "state": state}) == []
    bad = dict(state, trading_state="PANIC")
    assert _errors(validators["state"], {"type": "state", "state": bad})
    assert _errors(validators["state"], {"type": "state", "state": dict(state, journal=state["journal"] * 30)})


def test_every_fixture_record_is_a_valid_record_message(validators: dict[str, Draft202012Validator]) -> None:
    iterations = json.loads((FIXTURES / "records.json").read_text(encoding="utf-8"))["iterations"]
    kinds = set()
    for records in iterations:
        for record in records:
            kinds.add(record["kind"])
            assert _errors(validators["record"], {"type": "record", "record": record}) == [], record
    assert {
        "opportunity",
        "candidate",
        "rejected",
        "denied",
        "order",
        "fill",
        "health",
        "metrics",
        "iteration",
    } <= kinds
    assert _errors(validators["record"], {"type": "record", "record": {"kind": "something-new", "v": 1}}) == []
    assert _errors(validators["record"], {"type": "record", "record": {"kind": "order", "v": 1}})


def test_hello_ack_and_error_messages(validators: dict[str, Draft202012Validator]) -> None:
    ok = {"type": "hello", "protocol": 1, "server": "kalashi 0.1.0", "read_only": False, "token_required": True}
    assert _errors(validators["hello"], ok) == []
    assert _errors(validators["hello"], dict(ok, protocol=2))
    assert _errors(validators["ack"], {"type": "ack", "id": 3, "ok": True, "result": {"status": "paused"}}) == []
    assert _errors(validators["ack"], {"type": "ack", "id": 3, "ok": False, "result": {}})
    for code in ERROR_CODES:
        assert _errors(validators["error"], {"type": "error", "id": None, "code": code, "message": "m"}) == []
    assert _errors(validators["error"], {"type": "error", "id": 1, "code": "oops", "message": "m"})


@pytest.mark.parametrize(
    ("command", "valid"),
    [
        ({"id": 1, "cmd": "pause", "token": "t", "args": {}}, True),
        ({"id": 2, "cmd": "get_state"}, True),
        ({"id": 3, "cmd": "halt", "token": "t", "args": {"reason": "news"}}, True),
        ({"id": 4, "cmd": "halt", "token": "t", "args": {}}, False),
        ({"id": 5, "cmd": "halt", "token": "t"}, False),
        ({"id": 6, "cmd": "set_profile", "token": "t", "args": {"name": "aggressive"}}, True),
        ({"id": 7, "cmd": "set_profile", "token": "t", "args": {"name": ""}}, False),
        ({"id": 8, "cmd": "start", "token": "t", "args": {"clear_halt": True}}, True),
        ({"id": 9, "cmd": "start", "token": "t", "args": {"clear_halt": "yes"}}, False),
        ({"id": 10, "cmd": "launch"}, False),
        ({"cmd": "pause"}, False),
        ({"id": -1, "cmd": "pause"}, False),
    ],
)
def test_command_messages(validators: dict[str, Draft202012Validator], command: dict[str, Any], valid: bool) -> None:
    assert (not _errors(validators["command"], command)) is valid


def test_the_protocol_document_names_every_schema_and_error_code() -> None:
    doc = (ROOT / "docs" / "bridge-protocol.md").read_text(encoding="utf-8")
    for name in MESSAGE_TYPES:
        assert f"kalashi_cli/bridge/protocol/{name}.json" in doc
    for code in ERROR_CODES:
        assert f"`{code}`" in doc
