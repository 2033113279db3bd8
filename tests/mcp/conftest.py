"""MCP test fixtures: a paper service on a small sim, a demo service on sim-exchange, a local feed server.

This directory has no ``__init__.py`` on purpose: as a package under ``tests/`` it would be
importable as ``mcp`` and shadow the SDK.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from mcp_helpers import SIM, WAIT, FeedServer, routes_for, send, simx_env

from kalashi_cli.service import TradingService
from kalashi_cli.sim.server import (
    TIERS,
    DemoKey,
    ExchangeConfig,
    KeyRing,
    SimExchange,
    SimExchangeServer,
    generate_demo_key,
)


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    fs: FeedServer | None = None

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            assert fs is not None
            fs.hosts.append(self.headers.get("Host", ""))
            path = urlsplit(self.path).path
            route = routes.get(path) or next((r for p, r in routes.items() if path.startswith(p + "/")), None)
            if route is None:
                send(self, b"not found", status=404, ctype="text/plain")
            else:
                route(self, fs)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet test output
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    port = httpd.server_address[1]
    fs = FeedServer(base=f"http://127.0.0.1:{port}", port=port)
    routes = routes_for(fs)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.02,), name="feed-server", daemon=True)
    thread.start()
    try:
        yield fs
    finally:
        fs.release.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join(WAIT)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def service(tmp_path: Path) -> Iterator[TradingService]:
    svc = TradingService("default", mode="paper", source=SIM, journal_path=tmp_path / "journal.sqlite")
    try:
        yield svc
    finally:
        svc.close()


# -- sim-exchange: a demo account over loopback ---------------------------------------------------


@pytest.fixture(scope="session")
def simx_key(tmp_path_factory: pytest.TempPathFactory) -> DemoKey:
    return generate_demo_key(tmp_path_factory.mktemp("mcp-simx") / "ed", key_type="ed25519")


@pytest.fixture
def simx(simx_key: DemoKey, monkeypatch: pytest.MonkeyPatch) -> Iterator[SimExchangeServer]:
    """`kalashi sim-exchange` in-process on a free port (markets move only when stepped), the demo env pointing at it."""
    ring = KeyRing()
    ring.add_pem_file(simx_key.key_id, simx_key.public_key_path)
    server = SimExchangeServer(
        SimExchange(ExchangeConfig(seed=1, markets=120, speed=0, tier=TIERS["prestige"]), ring), port=0
    ).start()
    for k, v in simx_env(server, simx_key).items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("KALSHI_KEY_ENV", raising=False)
    monkeypatch.delenv("KALASHI_WS_URL", raising=False)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def demo_service(simx: SimExchangeServer, tmp_path: Path) -> Iterator[TradingService]:
    """A demo account on the simulator that the agent may trade (--demo --allow-trading)."""
    svc = TradingService("default", mode="demo", journal_path=tmp_path / "demo.sqlite", allow_trading=True)
    try:
        yield svc
    finally:
        svc.close()
