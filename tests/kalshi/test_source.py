"""KalshiSource (REST and WS modes) and open_source() against the fake REST API and WS server."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from kalashi_cli.errors import AuthError, ConsentError, UsageError
from kalashi_cli.kalshi.aio import LoopThread
from kalashi_cli.kalshi.auth import Credentials
from kalashi_cli.kalshi.env import custom_env
from kalashi_cli.kalshi.replay import ReplaySource
from kalashi_cli.kalshi.source import KalshiSource, open_source
from kalashi_cli.money import parse_count, parse_price
from kalashi_cli.ports import MarketSource

from .fake_kalshi import FakeKalshi, universe
from .ws_server import FakeKalshiWS

REST = "https://fake.kalshi.test/trade-api/v2"


def rest_source(fake: FakeKalshi, **kw: Any) -> KalshiSource:
    return KalshiSource(custom_env(REST), transport=fake.transport(), **kw)


def test_listing_attaches_fees_events_and_counts_every_call() -> None:
    fake = universe(2500, per_event=5)
    with rest_source(fake) as src:
        assert isinstance(src, MarketSource)
        fake.markets[next(iter(fake.markets))]["status"] = "closed"  # nested in an open event, not listed
        markets = list(src.list_markets())
        assert len(markets) == 2499
        # cold: 1 series list + 3 pages of events with nested markets (500 events, limit 200)
        assert fake.by_path() == {"GET /series": 1, "GET /events": 3}
        q = next(q for m, p, q in fake.calls if p == "/events")
        assert "status=open" in q and "with_nested_markets=true" in q and "limit=200" in q
        assert src.api_calls == 4
        by_series = {m.series_ticker: m for m in markets}
        assert by_series["KXAAA"].fee_type == "quadratic_with_maker_fees" and by_series["KXAAA"].fee_multiplier == 5000
        assert by_series["KXBBB"].fee_type == "quadratic" and by_series["KXBBB"].fee_multiplier == 10000
        assert all(m.mutually_exclusive and m.category == "Economics" for m in markets)
        m0 = markets[0]
        assert m0.yes_bids and m0.no_bids and len(m0.yes_bids) == 1  # listing is top of book
        assert getattr(markets[10], "event_market_count", 5) == 5
        assert getattr(m0, "event_market_count", 4) == 4  # its closed sibling is not counted
        # the next iteration re-lists markets only (series and events are cached): 3 × GET /markets
        again = list(src.list_markets())
        assert src.api_calls == 7 and fake.count("GET", "/markets") == 3
        q = next(q for m, p, q in fake.calls if p == "/markets")
        assert "status=open" in q and "mve_filter=exclude" in q and "limit=1000" in q
        assert [m.ticker for m in again] == [m.ticker for m in markets]
        assert [m.mutually_exclusive for m in again] == [m.mutually_exclusive for m in markets]
        without = rest_source(fake, event_metadata=False)
        try:
            before = len(fake.calls)
            list(without.list_markets())
            assert [p for _, p, _ in fake.calls[before:]] == ["/series", "/markets", "/markets", "/markets"]
        finally:
            without.close()


def test_books_use_batched_orderbooks_in_chunks_of_100() -> None:
    fake = universe(250)
    with rest_source(fake) as src:
        list(src.list_markets())
        before = src.api_calls
        tickers = list(fake.markets)
        books = src.books(tickers + ["NOT-A-MARKET"])
        assert set(books) == set(tickers)
        assert fake.count("GET", "/markets/orderbooks") == 3
        # one GET /markets?tickers=NOT-A-MARKET to look for metadata of the unknown ticker
        assert src.api_calls - before == 4
        t = tickers[2]  # event 0 → series KXAAA
        wire_yes = fake.books[t]["yes_dollars"]
        assert books[t].yes_bids[0] == (parse_price(wire_yes[-1][0]), parse_count(wire_yes[-1][1]))
        assert [p for p, _ in books[t].yes_bids] == sorted((p for p, _ in books[t].yes_bids), reverse=True)
        assert books[t].fee_type == "quadratic_with_maker_fees"


def test_books_for_tickers_never_listed_fetch_metadata_by_comma_list() -> None:
    fake = universe(20)
    with rest_source(fake) as src:
        wanted = list(fake.markets)[:3]
        books = src.books(wanted)
        assert set(books) == set(wanted)
        q = next(q for m, p, q in fake.calls if p == "/markets")
        assert "tickers=" + "%2C".join(wanted) in q


def test_advance_reports_settlements_of_seen_markets() -> None:
    fake = universe(10)
    with rest_source(fake) as src:
        list(src.list_markets())
        assert src.advance().settlements == ()
        t = next(iter(fake.markets))
        fake.markets[t].update(
            status="finalized", result="yes", settlement_value_dollars="1.0000", settlement_ts="2026-09-01T00:00:00Z"
        )
        list(src.list_markets())  # the settled market has left the open listing before advance() runs
        ev = src.advance()
        assert [(s.ticker, s.result, s.value) for s in ev.settlements] == [(t, "yes", 10_000)] and ev.step == 2
        assert src.advance().settlements == ()  # reported once
        assert any("status=settled" in q for m, p, q in fake.calls if p == "/markets")


def test_open_source_specs(tmp_path: Path, rsa_pkcs1_file: Path) -> None:
    src = open_source("kalshi-demo", env={})
    try:
        assert src.name == "kalshi-demo" and src.describe() == "kalshi-demo"
    finally:
        src.close()
    src = open_source("kalshi:http://127.0.0.1:9/trade-api/v2", env={})
    try:
        assert src.describe() == "kalshi:http://127.0.0.1:9/trade-api/v2"
    finally:
        src.close()
    with pytest.raises(AuthError):
        open_source("kalshi,ws=1", env={})
    with pytest.raises(UsageError):
        open_source("kalshi,depth=3", env={})
    with pytest.raises(UsageError):
        open_source("polymarket", env={})
    rec = tmp_path / "r.jsonl"
    rec.write_text('{"t_ms": 1, "src": "meta", "format": "kalashi-recording", "version": 1}\n')
    r = open_source(f"replay:{rec},speed=0")
    assert isinstance(r, ReplaySource)
    with pytest.raises(ConsentError):  # a key declared for demo is never sent to prod
        open_source(
            "kalshi",
            env={"KALSHI_API_KEY_ID": "k", "KALSHI_PRIVATE_KEY_PATH": str(rsa_pkcs1_file), "KALSHI_KEY_ENV": "demo"},
        )


# --------------------------------------------------------------------------- WS mode


class WsWorld:
    """A fake REST API (MockTransport) plus a real loopback WS server on its own loop thread."""

    def __init__(self, creds: Credentials, n: int = 6) -> None:
        self.fake = universe(n)
        keys = {creds.key_id: load_pem_public_key(creds.public_key_pem())}
        self.fake.public_keys.update(keys)
        self.loop = LoopThread(name="test-ws-server")
        self.server = FakeKalshiWS(public_keys=keys)
        for t, book in self.fake.books.items():
            self.server.set_book(
                t, [(x[0], x[1]) for x in book["yes_dollars"]], [(x[0], x[1]) for x in book["no_dollars"]]
            )
        self.loop.run(self.server.start())
        self.changed = threading.Event()

    def notify(self, *_: object) -> None:
        self.changed.set()  # called on the source's loop thread for every frame

    def wait(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        """Re-check ``predicate`` whenever a frame arrives, up to ``timeout`` (no lock is held while checking)."""
        deadline = time.monotonic() + timeout
        while True:
            self.changed.clear()
            if predicate():
                return
            remaining = deadline - time.monotonic()
            assert remaining > 0, "condition not reached"
            self.changed.wait(remaining)

    def close(self) -> None:
        self.loop.run(self.server.stop())
        self.loop.close()


@pytest.fixture
def ws_world(rsa_creds: Credentials) -> Iterator[WsWorld]:
    world = WsWorld(rsa_creds)
    yield world
    world.close()


def test_ws_mode_keeps_books_without_per_market_rest_calls(rsa_creds: Credentials, ws_world: WsWorld) -> None:
    w = ws_world

    async def fast_sleep(_: float) -> None:
        await asyncio.sleep(0)

    src = KalshiSource(
        custom_env(REST, ws_url=w.server.url),
        credentials=rsa_creds,
        transport=w.fake.transport(),
        ws=True,
        feed_options={"on_applied": w.notify, "sleep": fast_sleep},
    )
    try:
        assert src.describe().endswith(",ws=1")
        markets = {m.ticker: m for m in src.list_markets()}
        assert set(markets) == set(w.fake.markets)
        t = next(iter(markets))
        server_book = w.server.books[t]
        assert dict(markets[t].yes_bids) == server_book["yes"] and dict(markets[t].no_bids) == server_book["no"]
        assert markets[t].fee_type in ("quadratic_with_maker_fees", "quadratic")
        calls = src.api_calls

        w.loop.run(w.server.push_delta(t, "yes", "0.0200", "4.00"))
        w.wait(lambda: src.books([t]).get(t) is not None and src.books([t])[t].yes_bids[0] == (200, 400))
        list(src.list_markets())
        assert src.api_calls == calls  # an iteration needs no REST calls in WS mode

        # A gap: the book is left out while stale, and comes back after the resync.
        w.server.hold_resync = True
        w.loop.run(w.server.push_delta(t, "yes", "0.0200", "1.00", skip_seq=1))
        w.wait(lambda: src.is_stale(t))
        assert t not in src.books([t]) and t not in {m.ticker for m in src.list_markets()}
        w.loop.loop.call_soon_threadsafe(w.server.release_resync.set)
        w.wait(lambda: not src.is_stale(t))
        assert src.books([t])[t].yes_bids[0] == (200, 500)

        # Trades and settlements arrive on the feed and are reported by advance().
        w.loop.run(
            w.server.push(
                "trade",
                "trade",
                {
                    "trade_id": "x1",
                    "market_ticker": t,
                    "yes_price_dollars": "0.5000",
                    "count_fp": "3.00",
                    "taker_book_side": "ask",
                    "ts_ms": 7,
                },
            )
        )
        w.loop.run(
            w.server.push(
                "market_lifecycle_v2",
                "market_lifecycle_v2",
                {"event_type": "settled", "market_ticker": t, "result": "no", "settled_ts": 9},
            )
        )
        got: dict[str, Any] = {"trades": [], "settlements": []}

        def drained() -> bool:
            ev = src.advance()
            got["trades"] += ev.trades
            got["settlements"] += ev.settlements
            return bool(got["trades"]) and bool(got["settlements"])

        w.wait(drained)
        assert got["trades"][0].taker_side == "ask" and got["trades"][0].count == 300
        assert got["settlements"][0].result == "no" and got["settlements"][0].settled_ts_ms == 9000
        assert src.api_calls == calls
    finally:
        src.close()
