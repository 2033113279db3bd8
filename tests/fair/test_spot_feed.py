"""The live spot feed against a local fake exchange WebSocket: subscribe, prices, age, reconnect, close."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import msgspec
import orjson
import pytest
from websockets.asyncio.server import ServerConnection, serve

from kalashi_cli.fair.crypto import CryptoModel
from kalashi_cli.fair.spot import LiveSpot, open_spot, parse_ticks, subscribe_message
from kalashi_cli.profile import CryptoFairSettings

from .conftest import mk
from .test_crypto import iso

WAIT = 20.0  # generous: the machine is shared


class FakeTicker:
    """A public ticker WebSocket (Coinbase's or Kraken's wire format) on 127.0.0.1, in its own thread."""

    def __init__(self, venue: str) -> None:
        self.venue = venue
        self.subscriptions: list[Any] = []
        self.connections = 0
        self._conns: list[ServerConnection] = []
        self._loop = asyncio.new_event_loop()
        self._started = threading.Event()
        self._stop: asyncio.Event | None = None
        self.port = 0
        self._thread = threading.Thread(target=self._main, daemon=True)
        self._thread.start()
        assert self._started.wait(WAIT)

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def _main(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._serve())
        finally:
            self._loop.close()

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        async with serve(self._handler, "127.0.0.1", 0) as server:
            self.port = next(iter(server.sockets)).getsockname()[1]
            self._started.set()
            await self._stop.wait()

    async def _handler(self, ws: ServerConnection) -> None:
        self.connections += 1
        self.subscriptions.append(orjson.loads(await ws.recv()))
        self._conns.append(ws)
        try:
            await ws.wait_closed()
        finally:
            self._conns.remove(ws)

    def _message(self, price: float) -> dict[str, Any]:
        if self.venue == "kraken":
            return {
                "channel": "ticker",
                "type": "update",
                "data": [{"symbol": "BTC/USD", "last": price, "bid": price - 1, "ask": price + 1}],
            }
        return {
            "type": "ticker",
            "product_id": "BTC-USD",
            "price": f"{price:.2f}",
            "time": "2026-05-11T12:00:00Z",
            "best_bid": f"{price - 0.01:.2f}",
            "best_ask": f"{price:.2f}",
        }

    def push(self, price: float) -> None:
        async def send() -> None:
            for ws in list(self._conns):
                await ws.send(orjson.dumps({"type": "heartbeat"}).decode())  # noise the feed must ignore
                await ws.send(orjson.dumps(self._message(price)).decode())

        asyncio.run_coroutine_threadsafe(send(), self._loop).result(WAIT)

    def drop(self) -> None:
        """Close every client connection (the exchange hung up)."""

        async def close() -> None:
            for ws in list(self._conns):
                await ws.close()

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(WAIT)

    def wait_subscribed(self, n: int) -> None:
        async def wait() -> None:
            while len(self._conns) < 1 or len(self.subscriptions) < n:
                await asyncio.sleep(0.01)

        asyncio.run_coroutine_threadsafe(asyncio.wait_for(wait(), WAIT), self._loop).result(WAIT + 1)

    def close(self) -> None:
        assert self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(WAIT)


@pytest.fixture
def coinbase() -> Iterator[FakeTicker]:
    server = FakeTicker("coinbase")
    yield server
    server.close()


class Clock:
    def __init__(self, ms: int) -> None:
        self.ms = ms

    def __call__(self) -> int:
        return self.ms


def test_live_spot_prices_ages_and_reconnects(coinbase: FakeTicker) -> None:
    clock = Clock(1_780_000_000_000)
    spot = open_spot(f"coinbase:{coinbase.url}", products=["BTC-USD"], clock_ms=clock)
    assert isinstance(spot, LiveSpot)
    try:
        coinbase.wait_subscribed(1)
        assert coinbase.subscriptions[0] == {"type": "subscribe", "product_ids": ["BTC-USD"], "channels": ["ticker"]}
        # no price yet: the model has nothing to go on
        settings = msgspec.structs.replace(
            CryptoFairSettings(), vol_annual=Decimal("0.5"), max_spot_age_seconds=Decimal(10)
        )
        model = CryptoModel(settings, spot)
        m = mk(
            "KXBTC-26JUN0112-T65000",
            event="KXBTC-26JUN0112",
            bid=0.4,
            ask=0.6,
            strike_type="greater",
            floor_strike=Decimal(65_000),
            close=iso(clock.ms + 3_600_000),
        )
        assert model.price([m], 0) == []

        coinbase.push(65_100.0)
        assert spot.wait_for(lambda: spot.view("BTC-USD", 0, 60_000) is not None, WAIT)
        view = spot.view("BTC-USD", 0, 60_000)
        assert view is not None and view.price == 65_100.0 and view.price_ms == clock.ms
        (v,) = model.price([m], 0)  # the books' time does not matter for a live price: our clock does
        assert v.inputs["spot"] == 65_100.0 and float(v.p) > 0.5

        clock.ms += 11_000  # nothing new for 11 s: stale
        assert model.price([m], 0) == []

        coinbase.drop()  # the exchange hangs up: the feed comes back by itself and resubscribes
        coinbase.wait_subscribed(2)
        assert spot.wait_for(lambda: spot.connects >= 2, WAIT)
        coinbase.push(64_900.0)
        assert spot.wait_for(lambda: (spot.view("BTC-USD", 0, 60_000) or view).price == 64_900.0, WAIT)
        (v,) = model.price([m], 0)
        assert v.inputs["spot"] == 64_900.0 and float(v.p) < 0.5
    finally:
        spot.close()
    assert not spot._thread.is_alive()
    spot.close()  # idempotent


def test_kraken_wire_format_round_trip() -> None:
    server = FakeTicker("kraken")
    spot = LiveSpot("kraken", server.url, ["BTC-USD", "ETH-USD"])
    try:
        server.wait_subscribed(1)
        assert server.subscriptions[0] == {
            "method": "subscribe",
            "params": {"channel": "ticker", "symbol": ["BTC/USD", "ETH/USD"]},
        }
        server.push(65_000.5)
        assert spot.wait_for(lambda: spot.view("BTC-USD", 0, 60_000) is not None, WAIT)
    finally:
        spot.close()
        server.close()


def test_feed_messages_parse_leniently() -> None:
    assert parse_ticks("coinbase", {"type": "ticker", "product_id": "eth-usd", "price": "2000.1"}) == [
        ("ETH-USD", 2000.1)
    ]
    assert parse_ticks("coinbase", {"type": "subscriptions"}) == []
    assert parse_ticks("coinbase", {"type": "ticker", "product_id": "BTC-USD", "price": "n/a"}) == []
    assert parse_ticks("kraken", {"channel": "heartbeat"}) == []
    assert parse_ticks(
        "kraken", {"channel": "ticker", "type": "snapshot", "data": [{"symbol": "ETH/USD", "last": 1999.5}]}
    ) == [("ETH-USD", 1999.5)]
    assert parse_ticks("kraken", [1, 2]) == []
    assert subscribe_message("kraken", ["ETH-USD"])["params"]["symbol"] == ["ETH/USD"]


def test_an_unknown_spot_source_is_a_usage_error() -> None:
    from kalashi_cli.errors import UsageError

    with pytest.raises(UsageError, match="unknown spot source"):
        open_spot("binance")
