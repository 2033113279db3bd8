"""Read-only checks against the real Kalshi DEMO environment (``pytest -m network``).

Skipped by default (pyproject's ``-m 'not network'``) and whenever ``KALSHI_API_KEY_ID`` /
``KALSHI_PRIVATE_KEY_PATH`` are not set. Nothing here places or cancels orders.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest

from kalashi_cli.kalshi import wire
from kalashi_cli.kalshi.auth import KalshiAuth, load_credentials
from kalashi_cli.kalshi.env import DEMO, check_key_environment
from kalashi_cli.kalshi.rest import KalshiClient
from kalashi_cli.kalshi.source import KalshiSource
from kalashi_cli.kalshi.ws import KalshiFeed

pytestmark = [
    pytest.mark.network,
    pytest.mark.skipif(
        not (os.environ.get("KALSHI_API_KEY_ID") and os.environ.get("KALSHI_PRIVATE_KEY_PATH")),
        reason="needs a demo key: KALSHI_API_KEY_ID and KALSHI_PRIVATE_KEY_PATH",
    ),
]

T = TypeVar("T")


def with_client(fn: Callable[[KalshiClient], Awaitable[T]]) -> T:
    creds = load_credentials()
    check_key_environment(creds, DEMO)

    async def go() -> T:
        async with KalshiClient(DEMO.rest_url, auth=KalshiAuth(creds)) as client:
            return await fn(client)

    return asyncio.run(go())


def test_demo_public_and_portfolio_reads() -> None:
    async def go(c: KalshiClient) -> dict[str, Any]:
        out: dict[str, Any] = {}
        out["status"] = wire.parse_exchange_status(await c.get_exchange_status())
        out["schedule"] = await c.get_exchange_schedule()
        page = await c.get_markets_page(status="open", mve_filter="exclude", limit=20)
        out["markets"] = [wire.parse_market(m) for m in page["markets"]]
        tickers = [m.ticker for m in out["markets"]][:5]
        out["books"] = wire.parse_orderbooks({"orderbooks": await c.get_orderbooks(tickers)}) if tickers else {}
        out["series"] = await c.get_series_list()
        out["events"] = (await c.get_events_page(status="open", limit=5))["events"]
        out["limits"] = await c.configure_rate_limits()
        out["balance"] = wire.parse_balance(await c.get_balance())
        out["positions"] = [wire.parse_position(p) async for p in c.iter_positions(limit=50)]
        out["orders"] = [wire.parse_exchange_order(o) async for o in c.iter_orders(limit=50)]
        out["fills"] = [wire.parse_fill(f) async for f in c.iter_fills(limit=50)]
        return out

    got = with_client(go)
    assert isinstance(got["status"].trading_active, bool)
    assert "schedule" in got["schedule"]
    assert got["series"] and all(wire.parse_series(s).ticker for s in got["series"][:50])
    assert got["limits"] is not None and got["limits"].read_capacity > 0
    assert got["balance"].balance >= 0
    for m in got["markets"]:
        assert m.ticker and m.price_ranges
    for yes, no in got["books"].values():
        assert list(yes) == sorted(yes, reverse=True) and list(no) == sorted(no, reverse=True)


def test_demo_source_lists_and_books() -> None:
    creds = load_credentials()
    with KalshiSource(DEMO, credentials=creds) as src:
        markets = list(src.list_markets())
        assert markets and src.api_calls >= 2
        books = src.books([m.ticker for m in markets[:10]])
        assert set(books) <= {m.ticker for m in markets[:10]}


def test_demo_websocket_snapshots() -> None:
    creds = load_credentials()

    async def go() -> tuple[int, int]:
        async with KalshiClient(DEMO.rest_url, auth=KalshiAuth(creds)) as c:
            page = await c.get_markets_page(status="open", mve_filter="exclude", limit=5)
        tickers = [m["ticker"] for m in page["markets"]]
        feed = KalshiFeed(DEMO.ws_url, auth=KalshiAuth(creds), tickers=tickers, max_reconnects=2)
        task = asyncio.create_task(feed.run())
        try:
            for _ in range(200):
                if all(not feed.is_stale(t) for t in tickers) or task.done():
                    break
                await asyncio.sleep(0.05)
            if task.done():
                task.result()
            return len(tickers), sum(not feed.is_stale(t) for t in tickers)
        finally:
            await feed.stop()
            await asyncio.wait_for(task, 10)

    wanted, fresh = asyncio.run(go())
    assert wanted == 0 or fresh == wanted
