"""A client that never reads must not slow the trading loop, nor the other clients, nor grow memory."""

from __future__ import annotations

import base64
import os
import socket
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from urllib.parse import urlsplit

import pytest

from kalashi_cli.bridge.backends import ServiceBackend
from kalashi_cli.service import TradingService

from .conftest import WAIT, Client, RunningBridge

AFTER_STALL = 15  # iterations to watch once the stalled client's socket and queue are full


@pytest.fixture
def stalled_socket() -> Iterator[Callable[[str], socket.socket]]:
    """Open WebSocket connections that complete the handshake and then never read a byte."""
    opened: list[socket.socket] = []

    def open_stalled(ws_url: str) -> socket.socket:
        u = urlsplit(ws_url)
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # a small window: the server's writes back up soon
        s.settimeout(WAIT)
        s.connect((u.hostname, u.port))
        key = base64.b64encode(os.urandom(16)).decode()
        s.sendall(
            f"GET / HTTP/1.1\r\nHost: {u.hostname}:{u.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = s.recv(1)  # byte by byte: not one byte of the WebSocket stream is read
            assert chunk, "the bridge closed the connection during the handshake"
            head += chunk
        assert head.startswith(b"HTTP/1.1 101"), head
        opened.append(s)
        return s

    yield open_stalled
    for s in opened:
        s.close()


def test_a_stalled_client_does_not_hold_up_the_loop(
    service: TradingService,
    stalled_socket: Callable[[str], socket.socket],
    start_bridge: Callable[..., RunningBridge],
    connect: Callable[..., Client],
) -> None:
    bridge = start_bridge(ServiceBackend(service, autostart=False))
    slow = stalled_socket(bridge.ws_url)
    good = connect(bridge.ws_url, check=False)  # a quick reader: no schema checks on this one
    good.welcome()
    service.interval = 0.05  # ~200 kB of messages per iteration: the stalled socket fills in seconds
    service.start()

    def slow_stats() -> dict:
        stats = bridge.call(bridge.server.stats)
        # the stalled client is the one that has stopped taking messages
        return min(stats, key=lambda s: s["sent"])

    # run until the stalled client is caught up with a fresh state instead of its backlog, then on
    stalled_at = None
    while True:
        msg = good.until(lambda m: m["type"] == "record" and m["record"]["kind"] == "iteration")
        st = slow_stats()
        assert st["queued"] < 1000, st  # bounded: about one iteration's messages
        if st["resyncs"] >= 1 and stalled_at is None:
            stalled_at = msg["record"]["n"]
        if stalled_at is not None and msg["record"]["n"] >= stalled_at + AFTER_STALL:
            break
    st = slow_stats()
    # caught up again and again instead of queueing a backlog (how often depends on how fast the machine
    # fills the socket: the bound on the queue, checked every iteration above, is the behaviour)
    assert st["resyncs"] >= 2 and st["dropped"] > 0, st
    service.pause(wait=True)
    slow.close()

    # the loop never waited on the stalled socket: iterations kept coming, none far apart
    rows = [r for r in service.journal.iterations() if r["n"] >= stalled_at]
    assert len(rows) >= AFTER_STALL
    starts = [datetime.fromisoformat(r["started"].replace("Z", "+00:00")) for r in rows]
    gaps = [(b - a).total_seconds() for a, b in zip(starts, starts[1:], strict=False)]
    # (a loop that waited on the stalled socket would wait forever; the bound only catches a hang)
    assert max(gaps) < WAIT, f"the loop stalled for {max(gaps):.1f} s"
    # and the good client saw every iteration, in order
    seen = [m["record"]["n"] for m in good.seen if m["type"] == "record" and m["record"]["kind"] == "iteration"]
    assert seen == list(range(seen[0], seen[-1] + 1))


def test_a_late_joiner_catches_up_exactly(
    service: TradingService, start_bridge: Callable[..., RunningBridge], connect: Callable[..., Client]
) -> None:
    """While the loop runs flat out, a new client's first state and records join without gap or repeat."""
    bridge = start_bridge(ServiceBackend(service, autostart=True))
    first = connect(bridge.ws_url)
    first.welcome()
    first.until(lambda m: m["type"] == "record" and m["record"]["kind"] == "iteration" and m["record"]["n"] >= 2)
    first.close()
    for _ in range(3):
        late = connect(bridge.ws_url)
        state = late.welcome()
        n0 = state["loop"]["iteration"]
        deadline = time.monotonic() + WAIT
        its: list[int] = []
        while len(its) < 3 and time.monotonic() < deadline:
            m = late.recv()
            if m["type"] == "record" and m["record"]["kind"] == "iteration":
                its.append(m["record"]["n"])
        late.close()
        assert its[:3] == [n0 + 1, n0 + 2, n0 + 3], (n0, its)
    service.pause(wait=True)
