"""KalshiFeed against a local Kalshi-like WebSocket server over real loopback sockets."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from kalashi_cli.errors import AuthError, NetworkError
from kalashi_cli.kalshi.auth import Credentials, KalshiAuth
from kalashi_cli.kalshi.ws import KalshiFeed

from .ws_server import FakeKalshiWS, Signal, running_ws_server

A, B = "KXA-26SEP01-T1", "KXB-26SEP01-T2"


class Harness:
    def __init__(self, server: FakeKalshiWS, feed: KalshiFeed, frames: Signal, sleeps: list[float]) -> None:
        self.server, self.feed, self.frames, self.sleeps = server, feed, frames, sleeps

    async def until(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        """Wait (bounded) until ``predicate`` holds, re-checking whenever a frame or command arrives."""
        await self.frames.wait_for(predicate, timeout)

    def in_sync(self, ticker: str) -> bool:
        book = self.feed.store.books.get(ticker)
        want = self.server.books[ticker]
        return book is not None and not book.stale and book.yes == want["yes"] and book.no == want["no"]


def creds_keys(creds: Credentials) -> dict[str, Any]:
    return {creds.key_id: load_pem_public_key(creds.public_key_pem())}


def run_with_feed(
    creds: Credentials,
    body: Callable[[Harness], Awaitable[None]],
    *,
    tickers: tuple[str, ...] = (A, B),
    server_kw: dict[str, Any] | None = None,
    feed_kw: dict[str, Any] | None = None,
) -> None:
    async def main() -> None:
        async with running_ws_server(public_keys=creds_keys(creds), **(server_kw or {})) as server:
            server.set_book(A, [("0.4000", "10.00"), ("0.4100", "5.00")], [("0.5500", "7.00")])
            server.set_book(B, [], [("0.0300", "100.00")])
            frames = server.signal  # one signal: client frames and server commands both wake waiters
            sleeps: list[float] = []

            async def fast_sleep(s: float) -> None:
                sleeps.append(s)
                await asyncio.sleep(0)

            feed = KalshiFeed(
                server.url,
                auth=KalshiAuth(creds),
                tickers=list(tickers),
                on_applied=lambda frame: frames.notify(),
                sleep=fast_sleep,
                rng=random.Random(0),
                **(feed_kw or {}),
            )
            task = asyncio.create_task(feed.run())
            try:
                h = Harness(server, feed, frames, sleeps)
                await h.until(lambda: all(h.in_sync(t) for t in tickers))
                await body(h)
            finally:
                await feed.stop()
                await asyncio.wait_for(task, 5)

    asyncio.run(main())


def test_snapshot_then_deltas_keep_the_book_identical(rsa_creds: Credentials) -> None:
    async def body(h: Harness) -> None:
        sub = next(c for c in h.server.commands if "orderbook_delta" in c["params"]["channels"])
        assert sub["params"]["use_yes_price"] is False  # explicit, never left to the server default
        assert sub["params"]["market_tickers"] == [A, B]
        await h.server.push_delta(A, "yes", "0.4100", "-5.00")  # level removed
        await h.server.push_delta(A, "yes", "0.4200", "3.25")
        await h.server.push_delta(A, "no", "0.5500", "-2.00")
        await h.server.push_delta(B, "yes", "0.0100", "1.00")
        await h.until(lambda: h.in_sync(A) and h.in_sync(B) and h.feed.store.deltas == 4)
        m = h.feed.store.books[A]
        assert m.yes_bids()[0] == (4200, 325) and m.no_bids() == ((5500, 500),)
        assert h.feed.store.gaps == 0

    run_with_feed(rsa_creds, body)


def test_sequence_gap_goes_stale_then_resyncs_by_get_snapshot(ed_creds: Credentials) -> None:
    async def body(h: Harness) -> None:
        h.server.hold_resync = True
        await h.server.push_delta(A, "yes", "0.4000", "1.00", skip_seq=1)  # seq jumps by 2
        await h.until(lambda: any(c["cmd"] == "update_subscription" for c in h.server.commands))
        assert h.feed.is_stale(A) and h.feed.is_stale(B)  # the whole subscription is suspect
        resync = next(c for c in h.server.commands if c["cmd"] == "update_subscription")
        assert resync["params"]["action"] == "get_snapshot" and sorted(resync["params"]["market_tickers"]) == [A, B]
        assert resync["params"]["sids"] == [h.feed.sids["orderbook_delta"]]
        h.server.release_resync.set()
        await h.until(lambda: h.in_sync(A) and h.in_sync(B))
        assert h.feed.store.gaps == 1 and h.feed.resyncs == 1 and h.feed.reconnects == 0

    run_with_feed(ed_creds, body)


def test_refused_resync_falls_back_to_reconnect(rsa_creds: Credentials) -> None:
    async def body(h: Harness) -> None:
        await h.server.push_delta(A, "yes", "0.4000", "1.00", skip_seq=3)
        await h.until(lambda: h.feed.reconnects == 1 and h.in_sync(A) and h.in_sync(B))
        assert h.server.upgrades == 2

    run_with_feed(rsa_creds, body, server_kw={"refuse_get_snapshot": True})


def test_disconnect_reconnects_with_backoff_and_resubscribes(rsa_creds: Credentials) -> None:
    async def body(h: Harness) -> None:
        await h.server.drop_all()
        await h.until(lambda: h.feed.reconnects == 1 and h.in_sync(A) and h.in_sync(B))
        subs = [
            c for c in h.server.commands if c["cmd"] == "subscribe" and "orderbook_delta" in c["params"]["channels"]
        ]
        assert len(subs) == 2 and h.server.upgrades == 2
        assert len(h.sleeps) == 1 and 0.25 <= h.sleeps[0] <= 0.5  # first backoff: base 0.5 with jitter
        await h.server.push_delta(A, "no", "0.5600", "4.00")
        await h.until(lambda: h.in_sync(A))

    run_with_feed(rsa_creds, body)


@pytest.mark.parametrize("feed_yes_pricing", [False, True])
@pytest.mark.parametrize("server_default_yes", [False, True])
def test_no_side_price_convention_survives_a_default_flip(
    rsa_creds: Credentials, feed_yes_pricing: bool, server_default_yes: bool
) -> None:
    async def body(h: Harness) -> None:
        book = h.feed.store.books[A]
        assert book.no == {5500: 700}  # NO bid at NO 0.55 (= YES ask 0.45) whatever the wire showed
        await h.server.push_delta(A, "no", "0.5700", "1.00")
        await h.until(lambda: h.in_sync(A))
        assert max(book.no) == 5700 and not book.crossed()

    run_with_feed(
        rsa_creds,
        body,
        server_kw={"default_use_yes_price": server_default_yes},
        feed_kw={"use_yes_price": feed_yes_pricing},
    )


def test_add_markets_and_message_dispatch(rsa_creds: Credentials) -> None:
    seen: list[dict[str, Any]] = []

    async def body(h: Harness) -> None:
        channels = [ch for c in h.server.commands if c["cmd"] == "subscribe" for ch in c["params"]["channels"]]
        assert {"ticker", "trade", "market_lifecycle_v2", "fill", "user_orders", "market_positions"} <= set(channels)
        h.server.set_book("KXC-1", [("0.2000", "1.00")], [])
        await h.feed.add_markets(["KXC-1"])
        await h.until(lambda: h.in_sync("KXC-1"))
        add = next(c for c in h.server.commands if c["params"].get("action") == "add_markets")
        assert add["params"]["market_tickers"] == ["KXC-1"]
        await h.server.push(
            "trade",
            "trade",
            {
                "trade_id": "t1",
                "market_ticker": A,
                "yes_price_dollars": "0.4100",
                "count_fp": "2.00",
                "taker_book_side": "bid",
                "ts_ms": 5,
            },
        )
        await h.server.push(
            "market_lifecycle_v2",
            "market_lifecycle_v2",
            {"event_type": "determined", "market_ticker": A, "result": "yes"},
        )
        await h.until(lambda: len(seen) >= 2)
        assert [f["type"] for f in seen[:2]] == ["trade", "market_lifecycle_v2"]

    run_with_feed(rsa_creds, body, feed_kw={"on_message": seen.append})


def test_bad_credentials_fail_the_upgrade_with_auth_error(rsa_creds: Credentials, ed_creds: Credentials) -> None:
    async def main() -> None:
        async with running_ws_server(public_keys=creds_keys(rsa_creds)) as server:
            feed = KalshiFeed(server.url, auth=KalshiAuth(ed_creds), tickers=[A])
            with pytest.raises(AuthError) as e:
                await asyncio.wait_for(feed.run(), 5)
            assert "NTP" in str(e.value) and server.rejected_upgrades == 1

    asyncio.run(main())


def test_unreachable_server_gives_up_after_bounded_attempts(rsa_creds: Credentials) -> None:
    sleeps: list[float] = []

    async def fast_sleep(s: float) -> None:
        sleeps.append(s)

    async def main() -> None:
        async with running_ws_server() as server:
            url = server.url
        feed = KalshiFeed(
            url,
            auth=KalshiAuth(rsa_creds),
            tickers=[A],
            max_reconnects=3,
            sleep=fast_sleep,
            rng=random.Random(0),
            backoff_base=0.5,
            backoff_max=1.0,
        )
        with pytest.raises(NetworkError):
            await asyncio.wait_for(feed.run(), 10)

    asyncio.run(main())
    assert len(sleeps) == 3 and all(s <= 1.0 for s in sleeps) and sleeps[2] >= 0.5


def test_debug_logs_never_show_the_signed_headers(rsa_creds: Credentials, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)

    async def body(h: Harness) -> None:
        assert h.feed.connects == 1

    run_with_feed(rsa_creds, body)
    wire_lines = [r.getMessage() for r in caplog.records if r.name.startswith("kalashi.kalshi.ws.wire")]
    assert wire_lines  # websockets did log the handshake through our logger…
    assert not any("KALSHI-ACCESS" in line.upper() for line in wire_lines)  # …without the signed headers


def test_large_universes_are_subscribed_in_chunks_and_gaps_stay_per_sid(rsa_creds: Credentials) -> None:
    async def body(h: Harness) -> None:
        subs = [
            c for c in h.server.commands if c["cmd"] == "subscribe" and "orderbook_delta" in c["params"]["channels"]
        ]
        assert [s["params"]["market_tickers"] for s in subs] == [[A], [B]]
        sid_a, sid_b = h.feed.store.books[A].sid, h.feed.store.books[B].sid
        assert sid_a != sid_b
        h.server.hold_resync = True
        await h.server.push_delta(A, "yes", "0.4000", "1.00", skip_seq=1)
        await h.until(lambda: h.feed.is_stale(A))
        assert not h.feed.is_stale(B)  # another subscription: its sequence is intact
        h.server.release_resync.set()
        await h.until(lambda: h.in_sync(A))

    run_with_feed(rsa_creds, body, feed_kw={"subscription_chunk": 1})
