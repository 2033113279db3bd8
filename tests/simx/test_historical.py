"""The historical cutoff: what is older leaves the live endpoints and is served by /historical/*."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from kalashi_cli.money import Price, fmt_price
from kalashi_cli.sim.server import DemoKey

from .conftest import Sim, start_sim
from .test_spec import settling_market


def _ts(iso: str) -> int:
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp())


@pytest.fixture
def old_sim(demo_key: DemoKey) -> Iterator[Sim]:
    # a minute of market time before settled markets leave, two before fills/orders/trades do
    s = start_sim([demo_key], retain_settled_s=60, history_cutoff_s=120)
    try:
        yield s
    finally:
        s.close()


def test_settled_markets_fills_orders_and_trades_move_to_historical(old_sim: Sim) -> None:
    sim = old_sim
    held, settle_step, ask = settling_market(sim)
    take = sim.http.post(
        "portfolio/events/orders",
        json={
            "ticker": held,
            "side": "bid",
            "price": ask,
            "count": "2",
            "client_order_id": "old-take",
            "time_in_force": "immediate_or_cancel",
            "self_trade_prevention_type": "taker_at_cross",
        },
    ).json()
    assert take["fill_count"] == "2.00"
    m = sim.active_market()
    gone = sim.http.post(
        "portfolio/events/orders",
        json={
            "ticker": m.ticker,
            "side": "bid",
            "price": fmt_price(m.yes_bid or Price(100)),
            "count": "1",
            "client_order_id": "old-cancel",
            "time_in_force": "good_till_canceled",
            "self_trade_prevention_type": "maker",
        },
    ).json()["order_id"]
    assert sim.http.delete(f"portfolio/events/orders/{gone}").status_code == 200
    cutoff0 = sim.anon.get("historical/cutoff").json()
    assert set(cutoff0) >= {"market_settled_ts", "trades_created_ts", "orders_updated_ts"}
    # before the cutoff passes, all of it is live
    assert sim.http.get(f"markets/{held}").status_code == 200
    assert [f["order_id"] for f in sim.http.get("portfolio/fills").json()["fills"]] == [take["order_id"]]
    assert sim.http.get("historical/fills").json()["fills"] == []
    assert sim.anon.get("historical/markets").json()["markets"] == []

    sim.step(settle_step - sim.call(lambda: sim.exchange.driver.step) + 14)  # settle, then 140 s more
    resting = sim.http.post(
        "portfolio/events/orders",
        json={
            "ticker": sim.active_market().ticker,
            "side": "bid",
            "price": "0.0100",
            "count": "1",
            "client_order_id": "still-resting",
            "time_in_force": "good_till_canceled",
            "self_trade_prevention_type": "maker",
        },
    )
    assert resting.status_code == 201, resting.text

    cutoff = sim.anon.get("historical/cutoff").json()
    assert _ts(cutoff["market_settled_ts"]) > _ts(cutoff0["market_settled_ts"])
    # the market: gone from the live endpoints, served by the historical ones
    live = sim.anon.get(f"markets/{held}")
    assert live.status_code == 404 and "/historical" in live.json()["error"]["details"]
    listed = {m["ticker"] for m in sim.anon.get("markets", params={"limit": 1000}).json()["markets"]}
    assert held not in listed
    old = sim.anon.get(f"historical/markets/{held}").json()["market"]
    assert old["status"] == "finalized" and old["result"] in ("yes", "no")
    assert held in {m["ticker"] for m in sim.anon.get("historical/markets").json()["markets"]}
    assert sim.anon.get(f"historical/markets/{m.ticker}").status_code == 404  # still live
    settled_at = _ts(old["settlement_ts"])
    candles = sim.anon.get(
        f"historical/markets/{held}/candlesticks",
        params={"start_ts": settled_at - 3600, "end_ts": settled_at, "period_interval": 1},
    )
    assert candles.status_code == 200
    assert any(c["volume"] != "0.00" for c in candles.json()["candlesticks"])  # our taker trade, at least
    assert set(candles.json()["candlesticks"][0]["price"]) == {"open", "high", "low", "close", "mean", "previous"}
    # fills, finished orders and trades older than the activity cutoff
    assert sim.http.get("portfolio/fills").json()["fills"] == []
    assert [f["order_id"] for f in sim.http.get("historical/fills").json()["fills"]] == [take["order_id"]]
    live_orders = {o["client_order_id"] for o in sim.http.get("portfolio/orders").json()["orders"]}
    old_orders = {o["client_order_id"] for o in sim.http.get("historical/orders").json()["orders"]}
    assert live_orders == {"still-resting"} and old_orders == {"old-take", "old-cancel"}
    old_trades = sim.anon.get("historical/trades", params={"ticker": held}).json()["trades"]
    assert old_trades and all(_ts(t["created_time"]) < _ts(cutoff["trades_created_ts"]) + 1 for t in old_trades)
    assert sim.anon.get("markets/trades", params={"ticker": held}).json()["trades"] == []
    positions = sim.http.get("historical/positions").json()
    assert [p["ticker"] for p in positions["market_positions"]] == [held]
    assert positions["event_positions"][0]["event_ticker"] == old["event_ticker"]
    assert held not in {p["ticker"] for p in sim.http.get("portfolio/positions").json()["market_positions"]}


@pytest.mark.parametrize("path", ["historical/markets/NOPE", "historical/markets/NOPE/candlesticks"])
def test_unknown_historical_markets_are_404(shared_sim: Sim, path: str) -> None:
    params: dict[str, Any] = {"start_ts": 0, "end_ts": 10, "period_interval": 1440} if "candle" in path else {}
    r = shared_sim.anon.get(path, params=params)
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
