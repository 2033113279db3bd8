"""Heal test helpers: real paper journals (made once, copied per test), fake clocks, small servers.

Nothing here sleeps to wait: servers run in threads and tests wait on their events with bounds.
"""

from __future__ import annotations

import http.server
import json
import shutil
import socket
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kalashi_cli.journal import Journal

SIM = "sim:seed=1,markets=200"
WAIT = 20.0  # the bound on any single wait
#: a fixed instant: Wednesday 2026-11-25 17:00:00 UTC (noon in New York)
NOW_MS = 1_795_626_000_000


class FakeClock:
    """A settable clock for both monotonic seconds and wall milliseconds."""

    def __init__(self, wall_ms: int = NOW_MS) -> None:
        self.t = 1000.0
        self.wall = wall_ms

    def __call__(self) -> float:
        return self.t

    def ms(self) -> int:
        return self.wall

    def advance(self, seconds: float) -> None:
        self.t += seconds
        self.wall += int(seconds * 1000)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(scope="session")
def paper_journal_master(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A journal with three real paper iterations on the sim (made once per session)."""
    from kalashi_cli.context import open_broker, open_source
    from kalashi_cli.loop import TradingLoop
    from kalashi_cli.profile import load_profile

    path = tmp_path_factory.mktemp("heal-master") / "journal-paper.sqlite"
    prof = load_profile("default")
    jr = Journal(path, mode="paper")
    src = open_source(SIM)
    broker = open_broker("paper", src, jr, prof)
    try:
        TradingLoop(prof, src, broker, jr).run(iterations=3, interval=0)
    finally:
        broker.close()
        src.close()
        jr.close()
    return path


@pytest.fixture
def paper_journal(paper_journal_master: Path, tmp_path: Path) -> Path:
    """A private copy of the master paper journal (with its paper exchange) in this test's data dir."""
    dest = tmp_path / "data" / "journal-paper.sqlite"
    dest.parent.mkdir(parents=True)
    for f in paper_journal_master.parent.iterdir():
        if f.name.startswith("journal-paper.sqlite"):
            shutil.copy2(f, dest.parent / f.name)
    return dest


def add_iteration(
    path: Path,
    n: int,
    started: str,
    *,
    state: str = "ACTIVE",
    duration_ms: float = 100.0,
    api_calls: int = 0,
    markets: int = 10,
    source: str = SIM,
) -> None:
    """Write one iterations row (what the loop's heartbeat looks like)."""
    jr = Journal(path, mode="paper")
    try:
        jr.add_iteration(
            {
                "n": n,
                "started": started,
                "ts_ms": 0,
                "duration_ms": duration_ms,
                "markets": markets,
                "opportunities": 0,
                "candidates": 0,
                "orders": 0,
                "state": state,
                "equity": 0,
                "cash": 0,
                "api_calls": api_calls,
                "source": source,
            }
        )
    finally:
        jr.close()


def python_child(code: str) -> tuple[str, ...]:
    """A short-lived ``python -c`` command for the supervisor to run."""
    return (sys.executable, "-c", code)


# -- small loopback servers ------------------------------------------------------------------


class Receiver:
    """A local HTTP server that records every POSTed JSON body (a webhook endpoint)."""

    def __init__(self, status: int = 200) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.got = threading.Condition()
        recv = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()
                with recv.got:
                    recv.bodies.append(json.loads(body))
                    recv.got.notify_all()

            def do_GET(self) -> None:  # noqa: N802
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"

    def wait_for(self, n: int, timeout: float = WAIT) -> list[dict[str, Any]]:
        with self.got:
            assert self.got.wait_for(lambda: len(self.bodies) >= n, timeout), f"only {len(self.bodies)} bodies"
            return list(self.bodies)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


class SilentServer:
    """Accepts connections and never answers (a hung server)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]

    def close(self) -> None:
        self.sock.close()


def free_port() -> int:
    """A port nothing listens on (bound and released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
