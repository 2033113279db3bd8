"""kalashi_cli/httpserve.py: the one small HTTP server behind the dashboard page and heal's status.

The page server and heal's status server share it (no second ``ThreadingHTTPServer`` anywhere in
the package), and heal does not reach into the bridge for it.
"""

from __future__ import annotations

import ast
import http.client
from collections.abc import Iterator
from pathlib import Path

import pytest

from kalashi_cli.httpserve import HttpServer, Request, Response, host_name, json_response, loopback_host, text

PACKAGE = Path(__file__).resolve().parents[2] / "kalashi_cli"


def modules_imported(path: Path) -> set[str]:
    """Absolute names of what a module imports (relative imports resolved against its package)."""
    package = path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = list(package[: len(package) - node.level + 1]) if node.level else []
            mod = ".".join([*base, *([node.module] if node.module else [])])
            out.add(mod)
            out.update(f"{mod}.{a.name}" for a in node.names)
    return out


def test_only_httpserve_runs_an_http_server() -> None:
    users = sorted(
        str(p.relative_to(PACKAGE))
        for p in PACKAGE.rglob("*.py")
        if any(m == "http.server" or m.startswith("http.server.") for m in modules_imported(p))
    )
    assert users == ["httpserve.py"]


def test_heal_does_not_import_the_bridge() -> None:
    found = sorted(
        f"{p.relative_to(PACKAGE)}: {m}"
        for p in (PACKAGE / "heal").rglob("*.py")
        for m in modules_imported(p)
        if m.startswith("kalashi_cli.bridge")
    )
    assert found == []


def test_the_layering_check_resolves_relative_imports(tmp_path: Path) -> None:
    probe = PACKAGE / "heal" / "status_server.py"
    assert "kalashi_cli.httpserve" in modules_imported(probe)
    assert "kalashi_cli.health" in modules_imported(probe)


@pytest.fixture
def served() -> Iterator[tuple[HttpServer, list[Request]]]:
    seen: list[Request] = []

    def handle(req: Request) -> Response:
        seen.append(req)
        if req.path == "/boom":
            raise RuntimeError("a handler bug")
        if req.path == "/json":
            return json_response(200, {"n": 1, 2: "two"})
        return text(200, f"{req.method} {req.path} q={req.query('q')} host={req.host}\n", **{"X-Test": "yes"})

    server = HttpServer("127.0.0.1", 0, handle, name="kalashi-test", server_version="kalashi-test/1")
    server.start()
    try:
        yield server, seen
    finally:
        server.close()


def request(server: HttpServer, method: str, target: str) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.request(method, target)
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


def test_get_and_head(served: tuple[HttpServer, list[Request]]) -> None:
    server, seen = served
    status, headers, body = request(server, "GET", "/a%20b?q=1")
    assert (status, body) == (200, f"GET /a b q=1 host=127.0.0.1:{server.port}\n".encode())
    assert headers["content-type"] == "text/plain; charset=utf-8" and headers["x-test"] == "yes"
    assert headers["content-length"] == str(len(body)) and headers["server"] == "kalashi-test/1"
    status, headers, body = request(server, "HEAD", "/x")
    assert status == 200 and body == b"" and int(headers["content-length"]) > 0
    assert [r.method for r in seen] == ["GET", "HEAD"] and seen[0].target == "/a%20b?q=1"


def test_json_and_what_json_cannot_carry(served: tuple[HttpServer, list[Request]]) -> None:
    server, _ = served
    status, headers, body = request(server, "GET", "/json")
    assert (status, headers["content-type"], body) == (200, "application/json", b'{"n":1,"2":"two"}')


def test_a_handler_bug_answers_500_and_the_server_goes_on(served: tuple[HttpServer, list[Request]]) -> None:
    server, _ = served
    status, _, body = request(server, "GET", "/boom")
    assert (status, body) == (500, b"internal error\n")
    assert request(server, "GET", "/after")[0] == 200


def test_only_get_and_head(served: tuple[HttpServer, list[Request]]) -> None:
    server, seen = served
    assert request(server, "POST", "/x")[0] == 501
    assert seen == []


def test_close_releases_the_port_and_is_idempotent() -> None:
    server = HttpServer("127.0.0.1", 0, lambda r: text(200, "ok"), name="t", server_version="t")
    port = server.start()
    server.close()
    server.close()
    again = HttpServer("127.0.0.1", port, lambda r: text(200, "ok"), name="t", server_version="t")
    again.start()
    again.close()


@pytest.mark.parametrize(
    ("header", "name", "loopback"),
    [
        ("127.0.0.1:3002", "127.0.0.1", True),
        ("localhost", "localhost", True),
        ("[::1]:80", "[::1]", True),
        ("evil.example:3002", "evil.example", False),
        ("", "", False),
        ("127.0.0.2", "127.0.0.2", False),
    ],
)
def test_host_names(header: str, name: str, loopback: bool) -> None:
    assert host_name(header) == name and loopback_host(header) is loopback
