"""A trading session through Kalshi's official Python SDK (and pykalshi), run against a sim-exchange.

Not a pytest module: tests/simx/test_official_sdk.py runs it with a Python ≥ 3.13 interpreter
from a venv holding ``kalshi-python-sync``, ``kalshi-python-async`` and ``pykalshi``. Every call
goes through the SDK's request models and its response models (pydantic, strict about required
fields and types), so a shape the SDK cannot read fails the session. It prints one JSON object:
``{"ok": true, "operations": [...]}`` — the SDK operations it called — or ``{"ok": false, "error"}``.

    python sdk_session.py --flavour sync|async|pykalshi --url URL --key-id ID --key PATH
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import json
import sys
import time
import traceback
import uuid
from collections.abc import Callable
from typing import Any


def _client(flavour: str, url: str, key_id: str, pem: str) -> Any:
    if flavour == "sync":
        import kalshi_python_sync as sdk
    else:
        import kalshi_python_async as sdk
    cfg = sdk.Configuration(host=url)
    cfg.api_key_id = key_id
    cfg.private_key_pem = pem
    return sdk.KalshiClient(cfg)


def sdk_session(flavour: str, url: str, key_id: str, pem: str) -> list[str]:
    """Call every operation the simulator serves; return their names in call order."""
    client = _client(flavour, url, key_id, pem)
    loop = asyncio.new_event_loop() if flavour == "async" else None
    done: list[str] = []

    def call(name: str, **kw: Any) -> Any:
        res = getattr(client, name)(**kw)
        if inspect.isawaitable(res):
            assert loop is not None
            res = loop.run_until_complete(res)
        done.append(name)
        return res

    try:
        _market_data(call)
        _portfolio_and_orders(call)
    finally:
        if loop is not None:
            close = getattr(client, "close", None)
            if close is not None and inspect.iscoroutinefunction(close):
                loop.run_until_complete(close())
            loop.close()
    return done


def _market_data(call: Callable[..., Any]) -> None:
    status = call("get_exchange_status")
    assert status.exchange_active is True
    call("get_exchange_schedule")
    call("get_user_data_timestamp")
    call("get_account_api_limits")
    call("get_account_endpoint_costs")
    markets = call("get_markets", status="open", limit=200, mve_filter="exclude").markets
    m = next(x for x in markets if x.yes_bid_dollars != "0.0000" and x.yes_ask_dollars != "1.0000")
    call("get_market", ticker=m.ticker)
    book = call("get_market_orderbook", ticker=m.ticker, depth=3).orderbook_fp
    assert len(book.yes_dollars) <= 3
    call("get_market_orderbooks", tickers=[m.ticker])
    call("get_trades", limit=50)
    call("get_events", limit=20, with_nested_markets=True, status="open")
    event = call("get_event", event_ticker=m.event_ticker, with_nested_markets=True).event
    call("get_event_metadata", event_ticker=m.event_ticker)
    call("get_event_fee_changes")
    series = event.series_ticker
    call("get_series_list")
    call("get_series", series_ticker=series, include_volume=True)
    call("get_series_fee_changes", series_ticker=series)
    combos = call("get_multivariate_events", limit=10, with_nested_markets=True).events
    assert combos, "the test universe lists combo events"
    call("get_multivariate_event_collections", limit=10)
    call("get_multivariate_event_collection", collection_ticker=combos[0].event_ticker)
    now = int(time.time())
    window = {"start_ts": now - 3 * 3600, "end_ts": now}
    candles = call(
        "get_market_candlesticks", series_ticker=series, ticker=m.ticker, period_interval=1, **window
    ).candlesticks
    assert candles, "the market has candles"
    call("batch_get_market_candlesticks", market_tickers=m.ticker, period_interval=60, **window)
    call("get_market_candlesticks_by_event", ticker=m.event_ticker, series_ticker=series, period_interval=60, **window)
    call("get_historical_cutoff")
    old = call("get_historical_markets", limit=5).markets
    assert old, "the test settles a market before the session"
    call("get_historical_market", ticker=old[0].ticker)
    call("get_market_candlesticks_historical", ticker=old[0].ticker, period_interval=60, **window)
    call("get_trades_historical", limit=5)


def _portfolio_and_orders(call: Callable[..., Any]) -> None:
    call("get_balance")
    call("get_positions")
    call("get_settlements")
    call("get_fills_historical")
    call("get_historical_orders")
    call("get_historical_positions")
    m = next(
        x
        for x in call("get_markets", status="open", limit=200, mve_filter="exclude").markets
        if x.yes_bid_dollars != "0.0000" and x.yes_ask_dollars != "1.0000"
    )
    bid, ask = m.yes_bid_dollars, m.yes_ask_dollars
    rest = call(
        "create_order_v2",
        ticker=m.ticker,
        side="bid",
        price=bid,
        count="3",
        client_order_id=str(uuid.uuid4()),
        time_in_force="good_till_canceled",
        self_trade_prevention_type="maker",
    )
    oid = rest.order_id
    uuid.UUID(oid)
    call("get_order", order_id=oid)
    call("get_orders", ticker=m.ticker)
    call("get_order_queue_position", order_id=oid)
    call("get_order_queue_positions", market_tickers=m.ticker)
    call("get_portfolio_resting_order_total_value")
    call("amend_order_v2", order_id=oid, ticker=m.ticker, side="bid", price=bid, count="4")
    call("decrease_order_v2", order_id=oid, reduce_by="1")
    call("cancel_order_v2", order_id=oid)
    batch = call(
        "batch_create_orders_v2",
        orders=[
            {
                "ticker": m.ticker,
                "side": "bid",
                "price": bid,
                "count": "1",
                "time_in_force": "good_till_canceled",
                "self_trade_prevention_type": "maker",
            },
            {
                "ticker": m.ticker,
                "side": "bid",
                "price": bid,
                "count": "2",
                "time_in_force": "good_till_canceled",
                "self_trade_prevention_type": "maker",
            },
        ],
    ).orders
    call("batch_cancel_orders_v2", orders=[{"order_id": batch[0].order_id}])
    take = call(
        "create_order_v2",
        ticker=m.ticker,
        side="bid",
        price=ask,
        count="1",
        time_in_force="immediate_or_cancel",
        self_trade_prevention_type="taker_at_cross",
    )
    assert take.fill_count == "1.00", take
    fills = call("get_fills", ticker=m.ticker).fills
    assert fills and all(uuid.UUID(f.fill_id) for f in fills)
    call("cancel_all_orders")
    group = call("create_order_group", contracts_limit_fp="10").order_group_id
    call("get_order_groups")
    call("get_order_group", order_group_id=group)
    call("update_order_group_limit", order_group_id=group, contracts_limit_fp="20")
    call("trigger_order_group", order_group_id=group)
    call("reset_order_group", order_group_id=group)
    call("delete_order_group", order_group_id=group)


def pykalshi_session(url: str, key_id: str, key_path: str) -> list[str]:
    """The same exchange through pykalshi 2.0's client (market data, history, portfolio)."""
    from pykalshi import CandlestickPeriod, KalshiClient, MarketStatus

    done: list[str] = []
    with KalshiClient(api_key_id=key_id, private_key_path=key_path, api_base=url) as client:
        assert client.exchange.get_status() is not None
        done.append("exchange.get_status")
        markets = client.get_markets(status=MarketStatus.OPEN, limit=100)
        done.append("get_markets")
        m = next(x for x in markets if x.yes_bid_dollars not in (None, "0.0000"))
        client.get_market(m.ticker).get_orderbook()
        done.append("market.get_orderbook")
        now = int(time.time())
        candles = m.get_candlesticks(start_ts=now - 3600, end_ts=now, period=CandlestickPeriod.ONE_MINUTE)
        assert candles.candlesticks, "pykalshi read no candle"
        done.append("market.get_candlesticks")
        client.get_multivariate_events()
        done.append("get_multivariate_events")
        client.history.get_cutoff()
        done.append("history.get_cutoff")
        client.portfolio.get_balance()
        done.append("portfolio.get_balance")
        client.portfolio.get_positions()
        done.append("portfolio.get_positions")
    return done


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--flavour", choices=("sync", "async", "pykalshi"), required=True)
    ap.add_argument("--url", required=True)
    ap.add_argument("--key-id", required=True)
    ap.add_argument("--key", required=True)
    args = ap.parse_args(argv)
    try:
        if args.flavour == "pykalshi":
            ops = pykalshi_session(args.url, args.key_id, args.key)
        else:
            with open(args.key) as f:
                ops = sdk_session(args.flavour, args.url, args.key_id, f.read())
    except Exception as e:  # noqa: BLE001 - the test reads the report
        print(json.dumps({"ok": False, "error": f"{type(e).__name__}: {e}", "trace": traceback.format_exc()}))
        return 1
    print(json.dumps({"ok": True, "operations": ops}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
