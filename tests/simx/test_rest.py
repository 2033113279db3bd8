"""REST behaviour beyond shapes: paging, filters, encodings, order semantics — and our client reading it."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from kalashi_cli.domain import OrderIntent
from kalashi_cli.kalshi.auth import KEY_ID_VAR, KEY_PATH_VAR
from kalashi_cli.kalshi.broker import open_broker
from kalashi_cli.kalshi.source import open_source
from kalashi_cli.money import ONE_DOLLAR, Count, Price, fmt_price, parse_count, parse_money, parse_price

from .conftest import Sim


def _order(
    ticker: str, price: str, *, side: str = "bid", count: str = "1", tif: str = "good_till_canceled", **extra: Any
) -> dict[str, Any]:
    return {
        "ticker": ticker,
        "side": side,
        "price": price,
        "count": count,
        "time_in_force": tif,
        "self_trade_prevention_type": "maker",
        **extra,
    }


def _env(sim: Sim) -> dict[str, str]:
    return {KEY_ID_VAR: sim.key.key_id, KEY_PATH_VAR: str(sim.key.private_key_path), "KALASHI_EXCHANGE_URL": sim.url}


def test_markets_page_with_opaque_cursors_and_filters(sim: Sim) -> None:
    seen: list[str] = []
    cursor = ""
    while True:
        body = sim.anon.get("markets", params={"limit": 37, **({"cursor": cursor} if cursor else {})}).json()
        assert len(body["markets"]) <= 37
        seen += [m["ticker"] for m in body["markets"]]
        cursor = body["cursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen)) == sim.call(lambda: len(sim.exchange.driver.market_list))
    assert sim.anon.get("markets", params={"limit": 1001}).status_code == 400
    assert sim.anon.get("markets", params={"cursor": "garbage!"}).status_code == 400
    open_ = sim.anon.get("markets", params={"status": "open", "limit": 1000}).json()["markets"]
    assert open_ and {m["status"] for m in open_} == {"active"}  # filter word open ⇔ status active (trap 7)
    assert sim.anon.get("markets", params={"status": "active"}).status_code == 400
    two = [m["ticker"] for m in open_[:2]]
    by_tickers = sim.anon.get("markets", params={"tickers": ",".join(two)}).json()["markets"]
    assert sorted(m["ticker"] for m in by_tickers) == sorted(two)
    event = open_[0]["event_ticker"]
    assert {m["event_ticker"] for m in sim.anon.get("markets", params={"event_ticker": event}).json()["markets"]} == {
        event
    }
    # timestamp families exclude each other and bind to statuses (REFERENCE §5.3)
    assert sim.anon.get("markets", params={"status": "open", "min_close_ts": 1}).status_code == 400
    assert sim.anon.get("markets", params={"min_close_ts": 1, "min_created_ts": 1}).status_code == 400
    assert sim.anon.get("markets", params={"status": "closed", "min_close_ts": 1}).status_code == 200


def test_orderbooks_take_repeated_tickers_and_depth(sim: Sim) -> None:
    m = sim.active_market(min_levels=3)
    r = sim.anon.get("markets/orderbooks", params=[("tickers", m.ticker), ("tickers", "NOPE")])
    assert [b["ticker"] for b in r.json()["orderbooks"]] == [m.ticker]
    assert sim.anon.get("markets/orderbooks").status_code == 400
    assert sim.anon.get("markets/orderbooks", params=[("tickers", f"T{i}") for i in range(101)]).status_code == 400
    top = sim.anon.get(f"markets/{m.ticker}/orderbook", params={"depth": 1}).json()["orderbook_fp"]
    assert top["yes_dollars"] == [[fmt_price(m.yes_bids[0][0]), f"{m.yes_bids[0][1] / 100:.2f}"]]
    full = sim.anon.get(f"markets/{m.ticker}/orderbook").json()["orderbook_fp"]
    assert len(full["no_dollars"]) == len(m.no_bids)
    market = sim.anon.get(f"markets/{m.ticker}").json()["market"]
    # YES ask = 1 − best NO bid; the best levels are the LAST entries of the REST book
    assert parse_price(market["yes_ask_dollars"]) == ONE_DOLLAR - parse_price(full["no_dollars"][-1][0])
    assert market["yes_bid_dollars"] == full["yes_dollars"][-1][0]


def test_events_series_and_trades(sim: Sim) -> None:
    events = sim.anon.get("events", params={"limit": 200, "status": "open"}).json()
    assert events["events"] and all("markets" not in e for e in events["events"])
    assert sim.anon.get("events", params={"limit": 201}).status_code == 400  # events page max 200 (trap 8)
    assert sim.anon.get("events", params={"status": "paused"}).status_code == 400
    e = events["events"][0]
    one = sim.anon.get(f"events/{e['event_ticker']}", params={"with_nested_markets": "true"}).json()
    assert one["event"]["markets"] == one["markets"] and one["markets"]
    series = sim.anon.get(f"series/{e['series_ticker']}").json()["series"]
    assert series["fee_type"] in ("quadratic", "quadratic_with_maker_fees", "quadratic_with_combo_maker_fees", "flat")
    assert isinstance(series["fee_multiplier"], int | float)
    assert sim.anon.get("series/NOPE").status_code == 404
    sim.step(3)
    trades = sim.anon.get("markets/trades", params={"limit": 5}).json()
    assert len(trades["trades"]) == 5 and trades["cursor"]
    more = sim.anon.get("markets/trades", params={"limit": 5, "cursor": trades["cursor"]}).json()["trades"]
    assert not {t["trade_id"] for t in more} & {t["trade_id"] for t in trades["trades"]}
    times = [t["created_time"] for t in trades["trades"] + more]
    assert times == sorted(times, reverse=True)  # newest first


def test_paths_kalshi_does_not_serve(shared_sim: Sim) -> None:
    r = shared_sim.anon.get("markets/")
    assert r.status_code == 301 and r.headers["location"].endswith("/trade-api/v2/markets")
    r = shared_sim.anon.get("no/such/endpoint")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    r = shared_sim.http.post("portfolio/orders", json={"ticker": "X", "action": "buy", "side": "yes", "count": 1})
    assert r.status_code == 400 and r.json()["error"]["message"] == "Please switch to the V2 endpoints"


@pytest.mark.parametrize(
    "body,code",
    [
        ({"side": "yes"}, "invalid_order"),  # V2 sides are bid/ask on the YES leg
        ({"price": 0.5}, "invalid_parameters"),  # prices are strings
        ({"count": "1.001"}, "invalid_order_size"),
        ({"price": "0.12345"}, "invalid_price"),
        ({"time_in_force": None}, "invalid_parameters"),  # required in V2
        ({"self_trade_prevention_type": None}, "invalid_parameters"),
        ({"action": "buy"}, "invalid_parameters"),  # a legacy V1 field
        ({"subaccount": 3}, "invalid_parameters"),
    ],
)
def test_order_bodies_are_read_strictly(shared_sim: Sim, body: dict[str, Any], code: str) -> None:
    m = shared_sim.active_market()
    order = {**_order(m.ticker, fmt_price(m.yes_bid or Price(100))), **body}
    r = shared_sim.http.post("portfolio/events/orders", json={k: v for k, v in order.items() if v is not None})
    assert r.status_code == 400 and r.json()["error"]["code"] == code, r.text


def test_order_lifecycle_through_the_api(sim: Sim) -> None:
    m = sim.active_market()
    bid = fmt_price(m.yes_bid or Price(100))
    ack = sim.http.post("portfolio/events/orders", json=_order(m.ticker, bid, count="10", client_order_id="life-1"))
    assert ack.status_code == 201 and ack.json()["remaining_count"] == "10.00"
    oid = ack.json()["order_id"]
    dup = sim.http.post("portfolio/events/orders", json=_order(m.ticker, bid, client_order_id="life-1"))
    assert dup.status_code == 409 and dup.json()["error"]["code"] == "order_already_exists"
    queue = sim.http.get("portfolio/orders/queue_positions", params={"market_tickers": m.ticker}).json()
    assert parse_count(queue["queue_positions"][0]["queue_position_fp"]) == m.yes_bids[0][1]  # behind the level
    assert (
        sim.http.post(
            f"portfolio/events/orders/{oid}/amend",
            json={"ticker": m.ticker, "side": "ask", "price": bid, "count": "10"},
        ).json()["error"]["code"]
        == "order_side_mismatch"
    )
    amended = sim.http.post(
        f"portfolio/events/orders/{oid}/amend",
        json={"ticker": m.ticker, "side": "bid", "price": bid, "count": "6", "updated_client_order_id": "life-2"},
    ).json()
    assert (amended["remaining_count"], amended["client_order_id"]) == ("6.00", "life-2")
    assert (
        sim.http.post(f"portfolio/events/orders/{oid}/decrease", json={"reduce_by": "1", "reduce_to": "1"}).status_code
        == 400
    )
    assert (
        sim.http.post(f"portfolio/events/orders/{oid}/decrease", json={"reduce_to": "2"}).json()["remaining_count"]
        == "2.00"
    )
    wrong = sim.http.delete(f"portfolio/events/orders/{oid}", params={"market_ticker": "OTHER"})
    assert wrong.status_code == 400 and wrong.json()["error"]["code"] == "order_ticker_mismatch"
    cancel = sim.http.delete(f"portfolio/events/orders/{oid}", params={"market_ticker": m.ticker}).json()
    assert (cancel["reduced_by"], cancel["client_order_id"]) == ("2.00", "life-2")
    assert sim.http.delete(f"portfolio/events/orders/{oid}").status_code == 404  # already gone
    order = sim.http.get(f"portfolio/orders/{oid}").json()["order"]
    assert (order["status"], order["initial_count_fp"], order["remaining_count_fp"]) == ("canceled", "6.00", "0.00")
    # post-only never takes
    ask = fmt_price(Price(m.yes_ask or ONE_DOLLAR - 100))
    po = sim.http.post("portfolio/events/orders", json=_order(m.ticker, ask, post_only=True)).json()
    assert (po["fill_count"], po["remaining_count"]) == ("0.00", "0.00")
    assert sim.http.get("portfolio/orders", params={"status": "resting"}).json()["orders"] == []


def test_order_groups_cancel_their_orders(sim: Sim) -> None:
    m = sim.active_market()
    gid = sim.http.post("portfolio/order_groups/create", json={"contracts_limit": 5}).json()["order_group_id"]
    oid = sim.http.post(
        "portfolio/events/orders", json=_order(m.ticker, fmt_price(m.yes_bid or Price(100)), order_group_id=gid)
    ).json()["order_id"]
    group = sim.http.get(f"portfolio/order_groups/{gid}").json()
    assert group["orders"] == [oid] and group["contracts_limit_fp"] == "5.00"
    assert sim.http.put(f"portfolio/order_groups/{gid}/trigger").json() == {}
    assert sim.http.get(f"portfolio/orders/{oid}").json()["order"]["status"] == "canceled"
    refused = sim.http.post(
        "portfolio/events/orders", json=_order(m.ticker, fmt_price(m.yes_bid or Price(100)), order_group_id=gid)
    )
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "order_group_triggered"
    assert sim.http.delete(f"portfolio/order_groups/{gid}").status_code == 200
    assert sim.http.get(f"portfolio/order_groups/{gid}").status_code == 404


def test_our_broker_against_the_simulator(sim: Sim) -> None:
    """KalshiBroker (demo mode) through KALASHI_EXCHANGE_URL: every Broker call, over real sockets."""
    m = sim.active_market()
    with open_broker("demo", env=_env(sim)) as broker:
        assert broker.env.rest_url == sim.url
        assert broker.trading_active()
        ack = broker.submit(OrderIntent("brk-1", m.ticker, "bid", m.yes_ask or Price(9_900), Count(200)))
        assert ack.fill_count == 200 and ack.status == "executed"
        fills = broker.fills()
        assert sum(f.count for f in fills) == 200 and {f.order_id for f in fills} == {ack.order_id}
        assert [p.position for p in broker.positions()] == [200]
        cost = sum(f.price * f.count + f.fee for f in fills)
        assert broker.balance().balance == parse_money("1000") - cost
        rest = broker.submit(
            OrderIntent("brk-2", m.ticker, "bid", m.yes_bid or Price(100), Count(100), "good_till_canceled", "maker")
        )
        assert rest.status == "resting"
        assert broker.cancel_all() == 1
        assert {o.status for o in broker.orders()} == {"executed", "canceled"}
        assert broker.settlements() == []


def test_our_source_reads_the_simulator(sim: Sim) -> None:
    """KalshiSource (kalshi-demo redirected by KALASHI_EXCHANGE_URL): listing, fees, books, settlements."""
    src = open_source("kalshi-demo", env=_env(sim))
    try:
        assert src.describe() == f"kalshi:{sim.url}"
        markets = list(src.list_markets())
        active = sim.call(
            lambda: sum(
                1
                for r in sim.exchange.driver.market_list
                if sim.exchange.engine.market_status(r.ticker) == "active" and not r.market.is_combo
            )
        )
        assert len(markets) == active
        truth = sim.call(lambda: {r.ticker: r.market for r in sim.exchange.driver.market_list})
        for mk in markets[:20]:
            assert (mk.fee_type, mk.fee_multiplier, mk.series_ticker) == (
                truth[mk.ticker].fee_type,
                truth[mk.ticker].fee_multiplier,
                truth[mk.ticker].series_ticker,
            )
        books = src.books([mk.ticker for mk in markets[:10]])
        engine = sim.call(lambda: {t: sim.exchange.engine.book(t) for t in books})
        for t, b in books.items():
            assert (b.yes_bids, b.no_bids) == (engine[t].yes_bids, engine[t].no_bids)
        held = {mk.ticker for mk in markets}

        def settle_step() -> int:
            u, now = sim.exchange.universe, sim.exchange.driver.step
            return next(
                k for k in range(now + 1, now + 3000) if any(s.ticker in held for s in u.settlements_between(k - 1, k))
            )

        target = sim.call(settle_step)
        sim.step(target - sim.call(lambda: sim.exchange.driver.step))
        events = src.advance()
        assert events.settlements and all(s.result in ("yes", "no") for s in events.settlements)
    finally:
        src.close()


def test_our_source_in_websocket_mode(sim: Sim) -> None:
    """KalshiSource ws=1: after market steps its local books equal the engine's, with no REST book calls."""
    from kalashi_cli.kalshi.env import custom_env
    from kalashi_cli.kalshi.source import KalshiSource

    frames = threading.Event()
    src = KalshiSource(
        custom_env(sim.url), credentials=sim.creds, ws=True, feed_options={"on_raw": lambda _t, _raw: frames.set()}
    )
    try:
        tickers = [m.ticker for m in src.list_markets()][:30]
        sim.step(2)

        def server_seq() -> int:  # seq of the book subscription on the server side
            return max(
                sub.seq for c in sim.exchange.hub.conns for sub in c.subs.values() if sub.channel == "orderbook_delta"
            )

        want = sim.call(server_seq)
        deadline = time.monotonic() + 10
        while max(src._store.last_seq.values(), default=0) < want:  # noqa: SLF001 - the feed's progress
            assert time.monotonic() < deadline, "the feed never caught up"
            frames.clear()
            frames.wait(0.5)
        calls = src.api_calls
        books = src.books(tickers)
        assert src.api_calls == calls  # books come from the WebSocket, not REST
        engine = sim.call(lambda: {t: sim.exchange.engine.book(t) for t in tickers})
        assert len(books) == len(tickers)
        for t, b in books.items():
            assert (b.yes_bids, b.no_bids) == (engine[t].yes_bids, engine[t].no_bids)
    finally:
        src.close()


def test_live_refuses_while_the_simulator_url_is_set(sim: Sim) -> None:
    from kalashi_cli.errors import ConsentError

    with pytest.raises(ConsentError, match="KALASHI_EXCHANGE_URL"):
        open_broker("live", env=_env(sim), consented=True)


def test_the_date_header_is_the_simulated_market_clock(sim: Sim) -> None:
    from email.utils import parsedate_to_datetime

    from kalashi_cli.kalshi.source import KalshiSource

    def dated(path: str) -> int:
        r = sim.anon.get(path)
        dates = r.headers.get_list("date")
        assert len(dates) == 1, dates  # uvicorn's own wall-clock Date is off
        return int(parsedate_to_datetime(dates[0]).timestamp() * 1000)

    assert abs(dated("exchange/status") - time.time_ns() // 1_000_000) < 2_000  # not stepped: wall time
    now_ms = sim.step(90)["now_ms"]  # 900 simulated seconds in one go
    assert now_ms - time.time_ns() // 1_000_000 > 800_000
    assert 0 <= now_ms - dated("exchange/status") < 2_000
    assert 0 <= now_ms - dated("no/such/endpoint") < 2_000  # errors carry it too
    # our client's source follows it: quote expiries are set on this clock
    src = open_source("kalshi-demo", env=_env(sim))
    try:
        assert isinstance(src, KalshiSource)
        list(src.list_markets())
        assert abs(src.now_ms() - now_ms) < 3_000
    finally:
        src.close()
