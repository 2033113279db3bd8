"""wire.py against real Kalshi payloads (spec examples, captured prod responses) and edge cases."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kalashi_cli.domain import OrderIntent
from kalashi_cli.errors import OrderRejected
from kalashi_cli.kalshi import wire
from kalashi_cli.money import (
    CENT_GRID,
    DECI_CENT_GRID,
    MULT_SCALE,
    Count,
    Price,
    TickBand,
    fmt_count,
    fmt_price,
    parse_count,
    parse_price,
)

from .conftest import data_json, shared_json


def example(name: str) -> Any:
    return shared_json(f"kalshi-api/examples/{name}")


# --------------------------------------------------------------------------- markets


def test_real_active_market_july_2026() -> None:
    d = example("rest_market_active_real.json")
    m = wire.parse_market(d)
    assert m.ticker == "KXATPMATCH-26JUL13SANDAN-DAN"
    assert m.event_ticker == "KXATPMATCH-26JUL13SANDAN"
    assert m.status == "active"
    # yes_bid/ask from *_dollars, NO bid = 1 − YES ask with the ask's size
    assert m.yes_bid == parse_price(d["yes_bid_dollars"])
    assert m.yes_ask == parse_price(d["yes_ask_dollars"])
    assert m.yes_bid_size == parse_count(d["yes_bid_size_fp"])
    assert m.yes_ask_size == parse_count(d["yes_ask_size_fp"])
    assert m.no_bid == 10_000 - parse_price(d["yes_ask_dollars"])
    assert m.open_interest == 85064
    assert m.price_ranges == CENT_GRID
    assert m.fee_type == "quadratic" and m.fee_multiplier == MULT_SCALE  # no series attached
    assert m.close_time == "2026-07-27T11:30:00Z"


def test_real_finalized_market_gives_settlement() -> None:
    d = example("rest_market_finalized_real.json")
    m = wire.parse_market(d)
    assert m.status == "finalized"
    s = wire.market_settlement(d)
    assert s is not None and s.result == "yes" and s.value == 10_000
    assert s.ticker == d["ticker"]
    assert wire.market_settlement(example("rest_market_active_real.json")) is None


def test_golden_markets_list_legacy_and_new_fields() -> None:
    body = data_json("kalshi_golden_2026-01/markets_list_response.json")["response"]
    markets = [wire.parse_market(d) for d in body["markets"]]
    assert len(markets) == 5 and body["cursor"]
    for d, m in zip(body["markets"], markets, strict=True):
        assert m.ticker == d["ticker"]
        assert m.is_combo  # these are all MVE combos
        if d["price_level_structure"] == "deci_cent":
            assert m.price_ranges == DECI_CENT_GRID
        # *_dollars wins over the legacy integer-cent twins present in January 2026
        if parse_price(d["yes_bid_dollars"]) > 0:
            assert m.yes_bid == parse_price(d["yes_bid_dollars"])
        else:
            assert m.yes_bids == ()


def test_transitional_politics_events_with_nested_markets() -> None:
    events = shared_json("data/kalshi-real/politics_events_2026-03/events_nested_sample.json")
    n = 0
    for e in events:
        info = wire.parse_event(e)
        assert info.series_ticker and info.event_ticker == e["event_ticker"]
        for d in e.get("markets", []):
            m = wire.parse_market(d, event=info)
            assert m.mutually_exclusive == bool(e["mutually_exclusive"])
            assert m.series_ticker == info.series_ticker
            if "yes_bid_dollars" in d and parse_price(d["yes_bid_dollars"]) > 0:
                assert m.yes_bid == parse_price(d["yes_bid_dollars"])
            n += 1
    assert n == 69


def test_legacy_cents_only_fallback() -> None:
    m = wire.parse_market({"ticker": "OLD-1", "yes_bid": 45, "yes_ask": 47, "volume": 12, "open_interest": 3})
    assert m.yes_bid == 4500 and m.yes_ask == 4700 and m.volume == 1200 and m.open_interest == 300
    # a present dollars field wins over the legacy integer
    m2 = wire.parse_market({"ticker": "X", "yes_bid": 45, "yes_bid_dollars": "0.4510"})
    assert m2.yes_bid == 4510


def test_missing_and_unknown_fields_never_crash() -> None:
    m = wire.parse_market({"ticker": "T", "brand_new_field": {"x": 1}, "price_ranges": None, "floor_strike": None})
    assert m.yes_bids == () and m.no_bids == () and m.price_ranges == CENT_GRID and m.status == ""
    with pytest.raises(ValueError):
        wire.parse_market({"no_ticker": True})


def test_series_fees_and_event_overrides_attach() -> None:
    fees = shared_json("data/kalshi-real/sports_rest_ws_fixtures_2026-08/series_fee_fields.json")["payloads"]
    mlb = wire.parse_series(fees["KXMLBGAME"]["series"])
    assert mlb.fee_type == "quadratic_with_maker_fees" and mlb.fee_multiplier == 5000  # JSON number 0.5
    assert mlb.category == "Sports"
    single = shared_json("data/kalshi-real/sports_rest_ws_fixtures_2026-08/market_single.json")
    m = wire.parse_market(single["single"]["market"], series=mlb)
    assert m.fee_type == "quadratic_with_maker_fees" and m.fee_multiplier == 5000 and m.category == "Sports"
    ev = wire.EventInfo("E", "S", fee_type_override="quadratic", fee_multiplier_override=20000)
    m2 = wire.with_fees(m, mlb, ev)
    assert m2.fee_type == "quadratic" and m2.fee_multiplier == 20000


def test_golden_series_single_and_price_ranges_bands() -> None:
    s = wire.parse_series(data_json("kalshi_golden_2026-01/series_single_response.json")["response"]["series"])
    assert (s.ticker, s.fee_type, s.fee_multiplier, s.category) == (
        "CO2",
        "quadratic",
        MULT_SCALE,
        "Climate and Weather",
    )
    bands = wire.parse_price_ranges(
        [
            {"start": "0.0000", "end": "0.1000", "step": "0.0010"},
            {"start": "0.1000", "end": "0.9000", "step": "0.0100"},
            {"start": "0.9000", "end": "1.0000", "step": "0.0010"},
        ]
    )
    assert bands == (
        TickBand(Price(0), Price(1000), Price(10)),
        TickBand(Price(1000), Price(9000), Price(100)),
        TickBand(Price(9000), Price(10000), Price(10)),
    )


def test_series_for_event_uses_only_known_series() -> None:
    known = {"KXMLBGAME": 1, "KXMLB": 1, "KXHIGHNY": 1}
    assert wire.series_for_event("KXMLBGAME-26AUG071905ATLNYY", known) == "KXMLBGAME"
    assert wire.series_for_event("KXHIGHNY-24JAN01", known) == "KXHIGHNY"
    assert wire.series_for_event("UNKNOWN-1", known) == ""


# --------------------------------------------------------------------------- books


def test_rest_orderbook_example_ascending_becomes_best_first() -> None:
    yes, no = wire.parse_orderbook(example("rest_orderbook_response.json"))
    assert yes[0] == (4200, 1300) and yes[-1] == (100, 20000)
    assert no[0] == (5600, 1700)
    assert [p for p, _ in yes] == sorted((p for p, _ in yes), reverse=True)


def test_real_sports_orderbook_and_market_agree() -> None:
    single = shared_json("data/kalshi-real/sports_rest_ws_fixtures_2026-08/market_single.json")
    yes, no = wire.parse_orderbook(single["orderbook"])
    m = wire.with_book(wire.parse_market(single["single"]["market"]), yes, no)
    assert m.yes_bid == 8900 and m.yes_bid_size == 34349  # best is the LAST REST entry
    assert m.no_bid == 600 and m.yes_ask == 9400  # YES ask = 1 − best NO bid
    assert m.yes_ask == parse_price(single["single"]["market"]["yes_ask_dollars"])


def test_golden_old_envelope_with_nulls_is_empty() -> None:
    yes, no = wire.parse_orderbook(data_json("kalshi_golden_2026-01/orderbook_response.json")["response"])
    assert yes == () and no == ()
    yes2, no2 = wire.parse_orderbook({"orderbook": {"yes": [[45, 10], [44, 3]], "no": None}})
    assert yes2 == ((4500, 1000), (4400, 300)) and no2 == ()


def test_batched_orderbooks() -> None:
    body = {
        "orderbooks": [
            {"ticker": "A", "orderbook_fp": {"yes_dollars": [["0.1000", "1.00"]], "no_dollars": []}},
            {"ticker": "B", "orderbook_fp": {"yes_dollars": [], "no_dollars": [["0.2000", "2.50"]]}},
            {"bogus": 1},
        ]
    }
    books = wire.parse_orderbooks(body)
    assert books == {"A": (((1000, 100),), ()), "B": ((), ((2000, 250),))}


# --------------------------------------------------------------------------- orders, fills, portfolio


def test_order_request_matches_spec_example_shape() -> None:
    spec = example("rest_create_order_v2_request.json")
    intent = OrderIntent(
        client_order_id=spec["client_order_id"],
        ticker=spec["ticker"],
        side="bid",
        price=Price(5600),
        count=Count(1000),
        time_in_force="good_till_canceled",
    )
    body = wire.order_request(intent, subaccount=0, exchange_index=0)
    for k in (
        "ticker",
        "client_order_id",
        "side",
        "count",
        "price",
        "time_in_force",
        "self_trade_prevention_type",
        "post_only",
        "reduce_only",
        "subaccount",
        "exchange_index",
    ):
        assert body[k] == spec[k], k
    assert "action" not in body and "yes_price" not in body and "type" not in body


def test_order_request_optional_fields_and_validation() -> None:
    intent = OrderIntent(
        "c1",
        "T",
        "ask",
        Price(4321),
        Count(250),
        "good_till_canceled",
        "maker",
        post_only=True,
        expiration_ts=1_800_000_000,
        order_group_id="og1",
        cancel_order_on_pause=True,
    )
    body = wire.order_request(intent)
    assert body["price"] == "0.4321" and body["count"] == "2.50" and body["side"] == "ask"
    assert body["expiration_time"] == 1_800_000_000 and body["order_group_id"] == "og1"
    assert body["cancel_order_on_pause"] is True and body["self_trade_prevention_type"] == "maker"
    for bad in (
        OrderIntent("c", "T", "bid", Price(0), Count(100)),
        OrderIntent("c", "T", "bid", Price(10_000), Count(100)),
        OrderIntent("c", "T", "bid", Price(5000), Count(0)),
        OrderIntent("c", "T", "bid", Price(5000), Count(100), "immediate_or_cancel", expiration_ts=1),
        OrderIntent("c", "T", "bid", Price(5000), Count(100), "good_till_canceled", reduce_only=True),
    ):
        with pytest.raises(OrderRejected):
            wire.order_request(bad)


def test_create_and_batch_responses_parse() -> None:
    ack = wire.parse_order_ack(
        example("rest_create_order_v2_response.json"),
        OrderIntent("8c35ecb3-328f-4f52-8c7c-0f4b9862f8d1", "T", "bid", Price(5600), Count(1000), "good_till_canceled"),
    )
    assert ack.order_id == "3b23c1c7-f4ef-4f0d-8b9a-9e53c61f1a0d"
    assert (ack.fill_count, ack.remaining_count, ack.status, ack.ts_ms) == (0, 1000, "resting", 1715793600123)
    filled = wire.parse_order_ack(example("rest_batch_create_orders_v2_response.json")["orders"][1])
    assert filled.fill_count == 500 and filled.average_fill_price == 5800 and filled.average_fee_paid == 1200
    assert filled.status == "executed"
    ioc = wire.parse_order_ack(
        {"order_id": "x", "fill_count": "0.00", "remaining_count": "0.00", "ts_ms": 1},
        OrderIntent("c", "T", "bid", Price(5000), Count(100)),
    )
    assert ioc.status == "canceled"
    odd = wire.parse_order_ack(
        {"order_id": "x", "fill_count": "3.00", "remaining_count": "0.00", "average_fill_price": "0.563333", "ts_ms": 1}
    )
    assert odd.average_fill_price == 5633


def test_constructed_orders_fills_positions_settlements_balance() -> None:
    o = wire.parse_exchange_order(data_json("constructed/rest_get_orders_response.json")["orders"][0])
    assert (o.side, o.price, o.status, o.fill_count, o.remaining_count, o.initial_count) == (
        "bid",
        5600,
        "resting",
        400,
        600,
        1000,
    )
    assert o.maker_fees == 20_000 and o.created_ts_ms > 0
    f = wire.parse_fill(data_json("constructed/rest_get_fills_response.json")["fills"][0])
    assert (f.side, f.price, f.count, f.fee, f.is_taker) == ("bid", 5600, 400, 20_000, False)
    assert f.ts_ms == 1783872310000
    pos = [
        wire.parse_position(p) for p in data_json("constructed/rest_get_positions_response.json")["market_positions"]
    ]
    assert [p.position for p in pos] == [400, -250]
    s = wire.parse_settlement(data_json("constructed/rest_get_settlements_response.json")["settlements"][0])
    assert s.result == "yes" and s.revenue == 10_000_000 and s.value == 10_000 and s.yes_count == 1000
    b = wire.parse_balance(data_json("constructed/rest_get_balance_response.json"))
    assert b.balance == 123_450_000 and b.portfolio_value == 56_000_000
    assert b.by_shard == ((0, 100_000_000), (2, 23_450_000))


def test_ws_messages_parse_including_deprecated_only_variants() -> None:
    full = wire.parse_fill(example("constructed/ws_fill_full.json")["msg"])
    legacy = wire.parse_fill(example("ws_fill.json")["msg"])  # lacks book_side: derived from side+action
    assert full.side == legacy.side == "bid" and full.price == legacy.price == 7500
    assert full.fee == 3_650_000 and legacy.fee == 0 and full.ticker == "HIGHNY-22DEC23-B53.5"
    trade = wire.parse_trade(example("constructed/ws_trade_full.json")["msg"])
    old = wire.parse_trade(example("ws_trade.json")["msg"])
    assert trade.taker_side == old.taker_side == "ask" and trade.price == 3600 and trade.count == 13600
    assert trade.ts_ms == 1669149841000
    uo = wire.parse_exchange_order(example("constructed/ws_user_order_full.json")["msg"])
    assert uo.ticker == "FED-23DEC-T3.00" and uo.side == "bid" and uo.price == 3500 and uo.status == "resting"
    pos = wire.parse_position(example("ws_market_position.json")["msg"])
    assert pos.ticker == "FED-23DEC-T3.00" and pos.position == 10_000


def test_golden_trades_exchange_status_and_limits() -> None:
    trades = [
        wire.parse_trade(t) for t in data_json("kalshi_golden_2026-01/trades_list_response.json")["response"]["trades"]
    ]
    assert trades[0].price == 600 and trades[0].count == 100 and trades[0].taker_side == "ask"
    assert trades[0].ts_ms == wire.ts_ms_of("2026-01-12T15:00:20.897212Z")
    st_ = wire.parse_exchange_status(data_json("kalshi_golden_2026-01/exchange_status_response.json")["response"])
    assert st_.exchange_active and st_.trading_active
    lim = wire.parse_account_limits(example("rest_account_limits_response.json"))
    assert (lim.usage_tier, lim.read_rate, lim.read_capacity, lim.write_rate, lim.write_capacity) == (
        "premier",
        1000,
        1000,
        1000,
        2000,
    )


def test_lifecycle_settlement() -> None:
    assert wire.lifecycle_settlement(example("ws_market_lifecycle_v2_created.json")["msg"]) is None
    s = wire.lifecycle_settlement(
        {"event_type": "determined", "market_ticker": "T", "result": "no", "determination_ts": 1700000000}
    )
    assert s is not None and s.result == "no" and s.value == 0 and s.settled_ts_ms == 1_700_000_000_000


def test_error_bodies() -> None:
    assert wire.error_of(example("rest_error_401_real.json"))[0] == "authentication_error"
    assert wire.error_of(example("rest_error_429.json")) == (None, "too many requests")
    assert wire.error_of(None) == (None, "")


def test_timestamps() -> None:
    assert wire.ts_ms_of("2026-08-07T06:46:28.97871Z") == 1786085188978
    assert wire.ts_ms_of("") == 0 and wire.ts_ms_of("garbage") == 0


@given(st.integers(min_value=1, max_value=9999), st.integers(min_value=1, max_value=10**9))
def test_order_request_round_trips_price_and_count(price: int, count: int) -> None:
    body = wire.order_request(OrderIntent("c", "T", "bid", Price(price), Count(count)))
    assert parse_price(body["price"]) == price and parse_count(body["count"]) == count
    assert body["price"] == fmt_price(Price(price)) and len(body["price"].split(".")[1]) == 4
    assert body["count"] == fmt_count(Count(count))
    assert Decimal(body["price"]) * 10_000 == price


def test_golden_events_and_event_with_markets() -> None:
    events = [
        wire.parse_event(e) for e in data_json("kalshi_golden_2026-01/events_list_response.json")["response"]["events"]
    ]
    assert [e.event_ticker for e in events][:2] == ["KXELONMARS-99", "KXNEWPOPE-70"]
    assert events[1].mutually_exclusive and not events[0].mutually_exclusive
    assert all(e.series_ticker for e in events)
    single = data_json("kalshi_golden_2026-01/event_single_response.json")["response"]
    ev = wire.parse_event(single["event"])
    [m] = [wire.parse_market(d, event=ev) for d in single["markets"]]
    assert (m.ticker, m.series_ticker, m.yes_bid, m.yes_ask, m.last_price) == (
        "KXELONMARS-99",
        "KXELONMARS",
        600,
        700,
        600,
    )
    assert m.open_interest == 1367900 and m.volume == 3500100  # legacy whole-contract integers ×100


def test_real_settled_sports_markets() -> None:
    doc = shared_json("data/kalshi-real/sports_rest_ws_fixtures_2026-08/markets_settled.json")
    results = {"yes": 0, "no": 0, "none": 0}
    for d in doc["markets"]:
        s = wire.market_settlement(d)
        m = wire.parse_market(d)
        assert m.status in ("finalized", "closed")
        if s is None:
            results["none"] += 1
            assert d["result"] == ""
        else:
            results[s.result] += 1
            assert s.value == (10_000 if s.result == "yes" else 0) and s.settled_ts_ms > 0
    assert results == {"yes": 21, "no": 21, "none": 2}
    _, text = wire.error_of(json.loads(doc["queries"][1]["error"].split("\n", 1)[1]))
    assert "invalid status filter" in text  # "finalized" is a status, not a filter word (trap 7)


def test_a_fee_type_kalshi_adds_later_is_charged_at_the_upper_bound(caplog: pytest.LogCaptureFixture) -> None:
    from kalashi_cli.kalshi.wire import parse_event, parse_series
    from kalashi_cli.money import fee_for

    s = parse_series({"ticker": "KXNEW", "fee_type": "tiered_2027", "fee_multiplier": 1})
    assert s.fee_type == "flat" and "tiered_2027" in caplog.text  # said, not silently quadratic
    assert parse_event({"event_ticker": "KXNEW-1", "fee_type_override": "tiered_2027"}).fee_type_override == "flat"
    assert parse_event({"event_ticker": "KXNEW-1"}).fee_type_override is None
    assert (
        parse_series({"ticker": "KXOLD", "fee_type": "quadratic_with_maker_fees"}).fee_type
        == "quadratic_with_maker_fees"
    )
    for p in (100, 2500, 5000, 9900):  # never below what the known schedule would charge
        assert fee_for(Price(p), Count(1000), fee_type=s.fee_type) >= fee_for(
            Price(p), Count(1000), fee_type="quadratic"
        )
