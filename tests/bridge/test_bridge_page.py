"""The dashboard page server: static files from the package, config.json, headers, refusals."""

from __future__ import annotations

import http.client
import json
from collections.abc import Callable
from pathlib import Path

from kalashi_cli.bridge.backends import ServiceBackend
from kalashi_cli.bridge.page import static_root
from kalashi_cli.service import TradingService

from .conftest import TOKEN, RunningBridge


def get(
    bridge: RunningBridge, path: str, *, method: str = "GET", headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    port = bridge.server.http_port
    assert port is not None
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)  # the raw path, unnormalised
        for k, v in {"Host": f"127.0.0.1:{port}", **(headers or {})}.items():
            conn.putheader(k, v)
        conn.endheaders()
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


def test_index_assets_and_config(idle_bridge: RunningBridge) -> None:
    status, headers, body = get(idle_bridge, "/")
    assert status == 200 and headers["content-type"] == "text/html; charset=utf-8"
    assert headers["cache-control"] == "no-cache"
    assert body == (static_root() / "index.html").read_bytes()
    assert headers["x-frame-options"] == "DENY" and headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    ws = f"ws://127.0.0.1:{idle_bridge.server.ws_port}"
    assert f"connect-src 'self' {ws};" in headers["content-security-policy"]
    assert "frame-ancestors 'none'" in headers["content-security-policy"]

    assets = [p for p in (static_root() / "assets").iterdir() if p.is_file()]
    assert assets
    for a in assets:
        status, headers, body = get(idle_bridge, f"/assets/{a.name}")
        assert status == 200 and body == a.read_bytes()
        assert "immutable" in headers["cache-control"]
        assert headers["content-type"].startswith("text/javascript" if a.name.endswith(".js") else "text/css")
    status, headers, _ = get(idle_bridge, "/favicon.svg")
    assert status == 200 and headers["content-type"].startswith("image/svg+xml")

    status, headers, body = get(idle_bridge, "/config.json")
    assert status == 200 and headers["cache-control"] == "no-store"
    assert json.loads(body) == {"ws_url": f"{ws}/", "read_only": False}
    status, headers, body = get(
        idle_bridge, "/config.json", headers={"Host": f"localhost:{idle_bridge.server.http_port}"}
    )
    assert json.loads(body)["ws_url"] == f"ws://localhost:{idle_bridge.server.ws_port}/"

    status, headers, body = get(idle_bridge, "/", method="HEAD")
    assert status == 200 and body == b"" and int(headers["content-length"]) > 0


def test_nothing_outside_the_static_folder(idle_bridge: RunningBridge) -> None:
    for path in (
        "/../pyproject.toml",
        "/%2e%2e/protocol/hello.json",
        "/assets/../../service.py",
        "/..%2fserver.py",
        "/.hidden",
        "/nope.js",
        "/assets/",
        "/static/index.html",
        "/assets%5c..%5cindex.html",
        "//etc/passwd",
        "/%00index.html",
    ):
        status, _, body = get(idle_bridge, path)
        assert status == 404, (path, body[:80])


def test_only_loopback_host_names_on_loopback(idle_bridge: RunningBridge) -> None:
    # a DNS-rebinding page would arrive with its own host name
    status, _, _ = get(idle_bridge, "/config.json", headers={"Host": "attacker.example:3002"})
    assert status == 403


def test_only_get_and_head(idle_bridge: RunningBridge) -> None:
    status, _, _ = get(idle_bridge, "/", method="POST")
    assert status == 501


def test_beyond_loopback_the_page_needs_the_token_once(
    service: TradingService, start_bridge: Callable[..., RunningBridge]
) -> None:
    bridge = start_bridge(ServiceBackend(service, autostart=False), view_needs_token=True)
    status, _, body = get(bridge, "/")
    assert status == 401 and b"token" in body
    status, _, _ = get(bridge, "/?token=wrong-token-abc")
    assert status == 401
    status, headers, _ = get(bridge, f"/?token={TOKEN}")
    assert status == 200
    cookie = headers["set-cookie"]
    assert cookie.startswith(f"kalashi_bridge_token={TOKEN};") and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    status, _, _ = get(bridge, "/", headers={"Cookie": f"kalashi_bridge_token={TOKEN}"})
    assert status == 200


def test_the_package_ships_the_page() -> None:
    # the page server reads through importlib.resources, the way an installed wheel has it
    root = static_root()
    assert (root / "index.html").is_file()
    assert Path(str(root)).name == "static"
