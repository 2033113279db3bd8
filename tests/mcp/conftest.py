"""MCP test fixtures: a paper service on a small sim and a local feed server.

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
from mcp_helpers import SIM, WAIT, FeedServer, routes_for, send

from kalashi_cli.service import TradingService


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


