"""The WebSocket feed check and its repair against the real KalshiFeed over loopback sockets.

The Kalshi-like server is the exchange tests' own (tests/kalshi/ws_server.py), reused here.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable

from kalshi.ws_server import FakeKalshiWS, running_ws_server

from kalashi_cli.health import DEGRADED, FAILED, OK
from kalashi_cli.health.feed import feed_check, last_message_ms, resync_stale_books
from kalashi_cli.kalshi.ws import KalshiFeed

A, B = "KXA-26SEP01-T1", "KXB-26SEP01-T2"


def wall_ms() -> int:
    return time.time_ns() // 1_000_000


def with_feed(body: Callable[[FakeKalshiWS, KalshiFeed], Awaitable[None]], **server_kw: object) -> None:
    async def main() -> None:
        async with running_ws_server(**server_kw) as server:
            server.set_book(A, [("0.4000", "10.00")], [("0.5500", "7.00")])
            server.set_book(B, [("0.1000", "1.00")], [("0.0300", "100.00")])

            async def no_wait(s: float) -> None:
                await asyncio.sleep(0)

            feed = KalshiFeed(
                server.url,
                tickers=[A, B],
                on_applied=lambda f: server.signal.notify(),
                sleep=no_wait,
                rng=random.Random(0),
                lifecycle=False,
                public_channels=(),
            )
            task = asyncio.create_task(feed.run())
            try:
                await server.signal.wait_for(lambda: not feed.store.is_stale(A) and not feed.store.is_stale(B))
                await body(server, feed)
            finally:
                await feed.stop()
                await asyncio.wait_for(task, 5)

    asyncio.run(main())


def test_fresh_feed_is_ok() -> None:
    async def body(server: FakeKalshiWS, feed: KalshiFeed) -> None:
        c = feed_check(feed)
        assert c.status == OK and "2 books fresh" in c.detail
        assert c.facts["connected"] is True and c.facts["stale_books"] == 0
        assert last_message_ms(feed) is not None

    with_feed(body)


def test_sequence_gap_makes_books_stale_until_resynced() -> None:
    async def body(server: FakeKalshiWS, feed: KalshiFeed) -> None:
        server.hold_resync = True  # keep the books stale long enough to look at them
        await server.push_delta(A, "yes", "0.4000", "1.00", skip_seq=1)
        await server.signal.wait_for(lambda: feed.store.gaps == 1 and feed.store.is_stale(A))
        c = feed_check(feed)
        assert c.status == FAILED and "2 of 2 books stale" in c.detail  # the gap stales the whole subscription
        server.release_resync.set()
        await server.signal.wait_for(lambda: not feed.store.is_stale(A) and not feed.store.is_stale(B))
        assert feed_check(feed).status == OK

    with_feed(body)


def test_one_stale_book_is_degraded_and_the_repair_resyncs_it() -> None:
    async def body(server: FakeKalshiWS, feed: KalshiFeed) -> None:
        # a book gone stale whose resync request was lost: the feed would wait forever
        feed.store.books[A].stale = True
        c = feed_check(feed)
        assert c.status == DEGRADED and A in c.detail
        done, detail = await resync_stale_books(feed)
        assert done and "fresh snapshots of 1 stale book" in detail
        await server.signal.wait_for(lambda: not feed.store.is_stale(A))
        snaps = [c for c in server.commands if c["params"].get("action") == "get_snapshot"]
        assert snaps and snaps[-1]["params"]["market_tickers"] == [A]
        assert feed_check(feed).status == OK

    with_feed(body)


def test_a_silent_feed_fails_and_the_repair_reconnects() -> None:
    async def body(server: FakeKalshiWS, feed: KalshiFeed) -> None:
        later = lambda: wall_ms() + 400_000  # noqa: E731 - 400 s without a book message
        c = feed_check(feed, now_ms=later)
        assert c.status == FAILED and "silent" in c.detail
        assert feed_check(feed, now_ms=lambda: wall_ms() + 90_000).status == DEGRADED
        upgrades = server.upgrades
        done, detail = await resync_stale_books(feed, now_ms=later)
        assert done and "reconnects" in detail
        await server.signal.wait_for(
            lambda: (
                server.upgrades > upgrades
                and feed.reconnects == 1
                and not feed.store.is_stale(A)
                and not feed.store.is_stale(B)
            )
        )
        assert feed_check(feed).status == OK

    with_feed(body)


def test_nothing_to_repair_on_a_healthy_feed() -> None:
    async def body(server: FakeKalshiWS, feed: KalshiFeed) -> None:
        assert await resync_stale_books(feed) == (False, "no stale books")

    with_feed(body)


def test_a_disconnected_feed_is_failed() -> None:
    feed = KalshiFeed("ws://127.0.0.1:9/trade-api/ws/v2", tickers=[A])
    c = feed_check(feed)
    assert c.status == FAILED and "not connected" in c.detail
    assert asyncio.run(resync_stale_books(feed))[0] is False
