"""The exchange's clock: local wall time + the offset the server's HTTP ``Date`` headers show.

Against ``kalashi sim-exchange`` the market clock runs faster than wall time, against Kalshi
the local clock may be skewed; either way quote expiries are set on the exchange's clock.
Signing timestamps stay on the local wall clock (Kalshi checks them against real time).
"""

from __future__ import annotations

import asyncio
from email.utils import formatdate
from typing import Any

import httpx
import pytest

from kalashi_cli.errors import NotFound
from kalashi_cli.kalshi.auth import Credentials, KalshiAuth
from kalashi_cli.kalshi.env import custom_env
from kalashi_cli.kalshi.rest import ExchangeClock, KalshiClient
from kalashi_cli.kalshi.source import KalshiSource

REST = "https://fake.kalshi.test/trade-api/v2"
T0_MS = 1_790_000_000_000  # a whole second: the arithmetic below stays exact


def date_of(ms: int) -> str:
    return formatdate(ms // 1000, usegmt=True)


class Wall:
    """A local wall clock in ms that moves only when told."""

    def __init__(self, ms: int = T0_MS) -> None:
        self.ms = ms

    def __call__(self) -> int:
        return self.ms


class Server:
    """A MockTransport handler whose ``Date`` runs ``ahead_ms`` in front of ``wall`` (None: no header)."""

    def __init__(self, wall: Wall, ahead_ms: int | None) -> None:
        self.wall = wall
        self.ahead_ms = ahead_ms
        self.calls: list[str] = []
        self.timestamps: list[int] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(request.url.path)
        if "kalshi-access-timestamp" in request.headers:
            self.timestamps.append(int(request.headers["kalshi-access-timestamp"]))
        headers = {} if self.ahead_ms is None else {"Date": date_of(self.wall.ms + self.ahead_ms)}
        if request.url.path.endswith("/missing"):
            return httpx.Response(404, json={"error": {"code": "not_found"}}, headers=headers)
        if request.url.path.endswith("/markets"):
            return httpx.Response(200, json={"markets": [], "cursor": ""}, headers=headers)
        return httpx.Response(200, json={"exchange_active": True, "trading_active": True}, headers=headers)


# ---------------------------------------------------------------------------- ExchangeClock


def test_no_date_header_leaves_the_local_clock() -> None:
    wall = Wall()
    clock = ExchangeClock(wall)
    for bad in (None, "", "not a date", "Thu, 99 Foo 2026 25:61:61 GMT"):
        clock.observe(bad, sent_ms=wall.ms, received_ms=wall.ms)
    assert clock.offset_ms == 0 and clock.read_at_ms is None and clock.age_ms() is None
    assert clock.now_ms() == T0_MS


def test_the_offset_is_the_date_against_the_middle_of_the_round_trip() -> None:
    wall = Wall()
    clock = ExchangeClock(wall)
    # the server stamped 15:00:00 (true time 15:00:00.0–.999, on average .5) while we waited 100 ms
    clock.observe(date_of(T0_MS + 900_000), sent_ms=T0_MS - 100, received_ms=T0_MS)
    assert clock.offset_ms == 900_000 + 500 + 50
    assert clock.read_at_ms == T0_MS
    wall.ms += 2_000
    assert clock.now_ms() == T0_MS + 2_000 + 900_550
    assert clock.age_ms() == 2_000


def test_a_local_clock_ahead_of_the_exchange_gives_a_negative_offset() -> None:
    wall = Wall()
    clock = ExchangeClock(wall)
    clock.observe(date_of(T0_MS - 30_000), sent_ms=T0_MS, received_ms=T0_MS)
    assert clock.offset_ms == -30_000 + 500


def test_readings_of_a_steady_clock_do_not_jitter_the_offset() -> None:
    wall = Wall()
    clock = ExchangeClock(wall)
    clock.observe(date_of(T0_MS), sent_ms=T0_MS, received_ms=T0_MS)
    first = clock.offset_ms
    # the same true offset read at every phase of the second: the truncated header moves ±0.5 s
    for phase in range(0, 2000, 125):
        wall.ms = T0_MS + 10_000 + phase
        clock.observe(date_of(wall.ms), sent_ms=wall.ms, received_ms=wall.ms)
        assert clock.offset_ms == first
        assert clock.read_at_ms == wall.ms  # the reading is fresh even when the offset stays


def test_a_clock_running_ahead_is_followed_within_a_second() -> None:
    wall = Wall()
    clock = ExchangeClock(wall)
    server_ms = T0_MS
    for _ in range(50):  # the simulator's market clock: 10 s per wall second
        wall.ms += 1_000
        server_ms += 10_000
        clock.observe(date_of(server_ms), sent_ms=wall.ms, received_ms=wall.ms)
        assert abs(clock.now_ms() - server_ms) <= ExchangeClock.RESOLUTION_MS + 500


# ---------------------------------------------------------------------------- KalshiClient


def test_the_client_reads_every_answers_date_errors_included() -> None:
    wall = Wall()
    server = Server(wall, ahead_ms=600_000)

    async def go() -> ExchangeClock:
        async with KalshiClient(REST, transport=httpx.MockTransport(server), clock=ExchangeClock(wall)) as c:
            await c.get_exchange_status()
            assert c.clock.offset_ms == 600_500
            server.ahead_ms = 1_200_000
            with pytest.raises(NotFound):
                await c.get("/missing")
            return c.clock

    clock = asyncio.run(go())
    assert clock.offset_ms == 1_200_500 and clock.now_ms() == T0_MS + 1_200_500


def test_answers_without_a_date_keep_the_last_offset() -> None:
    wall = Wall()
    server = Server(wall, ahead_ms=5_000)

    async def go() -> int:
        async with KalshiClient(REST, transport=httpx.MockTransport(server), clock=ExchangeClock(wall)) as c:
            await c.get_exchange_status()
            server.ahead_ms = None
            wall.ms += 3_000
            await c.get_exchange_status()
            assert c.clock.read_at_ms == T0_MS  # the header-less answer is not a reading
            return c.clock.offset_ms

    assert asyncio.run(go()) == 5_500


def test_the_default_client_clock_is_the_real_wall_clock() -> None:
    import time

    c = KalshiClient(REST, transport=httpx.MockTransport(Server(Wall(), None)))
    try:
        assert abs(c.clock.now_ms() - time.time_ns() // 1_000_000) < 5_000
    finally:
        asyncio.run(c.aclose())


def test_signing_timestamps_stay_on_the_local_wall_clock(rsa_creds: Credentials) -> None:
    wall = Wall()
    server = Server(wall, ahead_ms=3_600_000)  # an exchange clock an hour ahead

    async def go() -> None:
        auth = KalshiAuth(rsa_creds, clock_ms=wall)
        async with KalshiClient(REST, auth=auth, transport=httpx.MockTransport(server), clock=ExchangeClock(wall)) as c:
            await c.get_exchange_status()
            await c.get_exchange_status()
            assert c.clock.offset_ms == 3_600_500

    asyncio.run(go())
    assert server.timestamps == [T0_MS, T0_MS]


# ---------------------------------------------------------------------------- KalshiSource


def source(server: Server, wall: Wall, **kw: Any) -> KalshiSource:
    return KalshiSource(
        custom_env(REST),
        transport=httpx.MockTransport(server),
        clock_ms=wall,
        track_settlements=False,
        event_metadata=False,
        **kw,
    )


def test_the_source_clock_is_the_exchange_clock() -> None:
    wall = Wall()
    server = Server(wall, ahead_ms=900_000)
    with source(server, wall) as src:
        assert src.now_ms() == T0_MS  # nothing read yet: the local clock, and no call to find out
        assert server.calls == []
        list(src.list_markets())
        assert src.now_ms() == T0_MS + 900_500
        assert src.advance().now_ms == T0_MS + 900_500


def test_a_stale_reading_is_refreshed_once_before_it_is_used() -> None:
    wall = Wall()
    server = Server(wall, ahead_ms=60_000)
    with source(server, wall, clock_refresh_s=10) as src:
        list(src.list_markets())
        calls = len(server.calls)
        wall.ms += 9_000
        assert src.now_ms() == wall.ms + 60_500 and len(server.calls) == calls  # fresh enough
        wall.ms += 2_000
        server.ahead_ms = 600_000  # the exchange's clock ran ahead meanwhile (WS mode: no REST calls)
        assert src.now_ms() == wall.ms + 600_500
        assert server.calls[calls:] == ["/trade-api/v2/exchange/status"]
        assert src.now_ms() == wall.ms + 600_500 and len(server.calls) == calls + 1


def test_an_exchange_without_date_headers_is_never_asked_for_the_time() -> None:
    wall = Wall()
    server = Server(wall, ahead_ms=None)
    with source(server, wall, clock_refresh_s=0) as src:
        list(src.list_markets())
        calls = len(server.calls)
        wall.ms += 60_000
        assert src.now_ms() == wall.ms and len(server.calls) == calls
