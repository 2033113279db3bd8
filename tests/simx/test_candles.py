"""Candlesticks come from the exchange's own tape and books: they agree with /markets/trades exactly."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest

from kalashi_cli.money import Price, fmt_price

from .conftest import Sim


def _ts(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def _tape(sim: Sim, ticker: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    cursor = ""
    while True:
        body = sim.anon.get(
            "markets/trades", params={"ticker": ticker, "limit": 1000, **({"cursor": cursor} if cursor else {})}
        ).json()
        out += body["trades"]
        cursor = body["cursor"]
        if not cursor:
            return out


def _busy_market(sim: Sim) -> str:
    """The ticker with the most public trades on the tape so far."""
    counts: dict[str, int] = defaultdict(int)
    for t in sim.anon.get("markets/trades", params={"limit": 1000}).json()["trades"]:
        counts[t["ticker"]] += 1
    assert counts, "no trade printed"
    return max(counts, key=lambda k: counts[k])


def test_minute_candles_agree_with_the_tape(sim: Sim) -> None:
    sim.step(40)  # ~7 minutes of market time with public trades
    ticker = _busy_market(sim)
    m = sim.anon.get(f"markets/{ticker}").json()["market"]
    series = sim.call(lambda: sim.exchange.driver.markets[ticker].series_ticker)
    # one of our own orders trades too: it is on the tape and in the candles like any print
    ask = m["yes_ask_dollars"]
    r = sim.http.post(
        "portfolio/events/orders",
        json={
            "ticker": ticker,
            "side": "bid",
            "price": ask,
            "count": "1",
            "time_in_force": "immediate_or_cancel",
            "self_trade_prevention_type": "taker_at_cross",
        },
    )
    assert r.status_code == 201, r.text
    tape = _tape(sim, ticker)
    assert len(tape) >= 3
    now = sim.call(lambda: sim.exchange.now_ms()) // 1000
    start = int(min(_ts(t["created_time"]) for t in tape)) - 120
    r = sim.anon.get(
        f"series/{series}/markets/{ticker}/candlesticks",
        params={"start_ts": start, "end_ts": now, "period_interval": 1},
    )
    assert r.status_code == 200, r.text
    candles = r.json()["candlesticks"]
    by_end = {c["end_period_ts"]: c for c in candles}
    per_minute: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for t in reversed(tape):  # oldest first
        per_minute[(int(_ts(t["created_time"])) // 60 + 1) * 60].append(t)
    for end, trades in per_minute.items():
        c = by_end[end]
        prices = [Decimal(t["yes_price_dollars"]) for t in trades]
        counts = [Decimal(t["count_fp"]) for t in trades]
        assert Decimal(c["volume_fp"]) == sum(counts), end
        p = c["price"]
        assert (Decimal(p["open_dollars"]), Decimal(p["close_dollars"])) == (prices[0], prices[-1]), end
        assert (Decimal(p["high_dollars"]), Decimal(p["low_dollars"])) == (max(prices), min(prices)), end
        mean = sum(x * n for x, n in zip(prices, counts, strict=True)) / sum(counts, Decimal(0))
        assert abs(Decimal(p["mean_dollars"]) - mean) <= Decimal("0.0001"), end
    for end, c in by_end.items():
        if end not in per_minute:
            assert c["volume_fp"] == "0.00" and c["price"]["close_dollars"] is None
    assert sum(Decimal(c["volume_fp"]) for c in candles) == sum(Decimal(t["count_fp"]) for t in tape)
    # the last candle's closing quote is the book now
    book = sim.anon.get(f"markets/{ticker}/orderbook").json()["orderbook_fp"]
    last = candles[-1]
    if book["yes_dollars"]:
        assert last["yes_bid"]["close_dollars"] == book["yes_dollars"][-1][0]
    if book["no_dollars"]:
        assert Decimal(last["yes_ask"]["close_dollars"]) == 1 - Decimal(book["no_dollars"][-1][0])


def test_hour_candles_and_the_batch_and_event_endpoints_sum_the_minutes(sim: Sim) -> None:
    sim.step(30)
    ticker = _busy_market(sim)
    rec = sim.call(lambda: sim.exchange.driver.markets[ticker])
    now = sim.call(lambda: sim.exchange.now_ms()) // 1000
    q = {"start_ts": now - 7200, "end_ts": now}
    minutes = sim.anon.get(
        f"series/{rec.series_ticker}/markets/{ticker}/candlesticks", params={**q, "period_interval": 1}
    ).json()["candlesticks"]
    hours = sim.anon.get("markets/candlesticks", params={**q, "period_interval": 60, "market_tickers": ticker}).json()[
        "markets"
    ]
    assert [h["market_ticker"] for h in hours] == [ticker]
    assert sum(Decimal(c["volume_fp"]) for c in hours[0]["candlesticks"]) == sum(
        Decimal(c["volume_fp"]) for c in minutes
    )
    assert all(c["end_period_ts"] % 3600 == 0 for c in hours[0]["candlesticks"])
    event = sim.anon.get(
        f"series/{rec.series_ticker}/events/{rec.event_ticker}/candlesticks", params={**q, "period_interval": 60}
    ).json()
    assert ticker in event["market_tickers"] and event["adjusted_end_ts"] == now
    i = event["market_tickers"].index(ticker)
    assert event["market_candlesticks"][i] == hours[0]["candlesticks"]


@pytest.mark.parametrize(
    "params,needle",
    [
        ({"end_ts": 10, "period_interval": 1}, "start_ts and end_ts are required"),
        ({"start_ts": 20, "end_ts": 10, "period_interval": 1}, "after end_ts"),
        ({"start_ts": 0, "end_ts": 10, "period_interval": 5}, "period_interval must be 1, 60 or 1440"),
        ({"start_ts": 0, "end_ts": 10**9, "period_interval": 1}, "more than 10000 candles"),
        ({"start_ts": "x", "end_ts": 10, "period_interval": 1}, "start_ts must be a whole number"),
    ],
)
def test_candle_parameters_are_strict(shared_sim: Sim, params: dict[str, Any], needle: str) -> None:
    m = shared_sim.active_market()
    r = shared_sim.anon.get(f"series/{m.series_ticker}/markets/{m.ticker}/candlesticks", params=params)
    assert r.status_code == 400 and needle in r.json()["error"]["message"], r.text


def test_a_market_in_another_series_is_not_found(shared_sim: Sim) -> None:
    m = shared_sim.active_market()
    r = shared_sim.anon.get(
        f"series/NOPE/markets/{m.ticker}/candlesticks", params={"start_ts": 0, "end_ts": 10, "period_interval": 1440}
    )
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    assert fmt_price(Price(0)) == "0.0000"


def test_the_quotes_candles_record_are_the_engine_books_top(sim: Sim) -> None:
    """Untouched markets are sampled off the universe's book, touched ones off the combined book: both exact."""
    from kalashi_cli.money import ONE_DOLLAR

    m = sim.active_market()
    r = sim.http.post(
        "portfolio/events/orders",
        json={
            "ticker": m.ticker,
            "side": "bid",
            "price": fmt_price(m.yes_ask or Price(9900)),
            "count": "3",
            "time_in_force": "immediate_or_cancel",
            "self_trade_prevention_type": "taker_at_cross",
        },
    )
    assert r.status_code == 201
    for _ in range(3):
        sim.step(7)

        def mismatches() -> tuple[int, list[Any]]:
            x = sim.exchange
            bad = []
            for rec in x.driver.market_list:
                t = rec.ticker
                if not x.engine.has_market(t) or x.engine.market_status(t) == "finalized":
                    continue
                b = x.engine.book(t)
                top = (b.yes_bids[0][0] if b.yes_bids else 0, ONE_DOLLAR - b.no_bids[0][0] if b.no_bids else ONE_DOLLAR)
                if x.candles.last_quote(t) != top:
                    bad.append((t, top, x.candles.last_quote(t)))
            return len(x.driver.market_list), bad

        n, bad = sim.call(mismatches)
        assert n > 100 and not bad, bad[:3]
