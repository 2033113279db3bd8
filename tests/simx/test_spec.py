"""Every endpoint the simulator serves answers in the published spec's shapes (3.28 and 3.34).

One module-scoped scenario drives the server through a realistic session — a taker fill, a
resting order (queue position, amend, decrease, cancel), batches, an order group, a settlement of
a held market — recording each answer; each recorded answer is then validated against the
operation's documented status and response schema in the 3.28 OpenAPI document and against the
newer 3.34 model (whose required lists run ahead: every field it requires must be there).
Error bodies are validated against the spec's ``ErrorResponse``; WebSocket frames against the
AsyncAPI document (see test_ws.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from kalashi_cli.money import Count, Price, fmt_count, fmt_price

from .conftest import Sim, start_sim
from .spec import success_codes, validate_328, validate_334


@dataclass
class Answer:
    method: str
    spec_path: str  # the spec's path template, relative to /trade-api/v2
    status: int
    body: Any
    model: str | None  # the 3.34 model name (None: the endpoint has no 3.34 model)


def settling_market(sim: Sim, within: int = 400) -> tuple[str, int, str]:
    """An active two-sided market whose event settles within ``within`` steps: (ticker, step, yes ask)."""

    def find() -> tuple[str, int, str]:
        x = sim.exchange
        u, now = x.universe, x.driver.step
        for s in u.settlements_between(now, now + within):
            if not x.engine.has_market(s.ticker) or x.engine.market_status(s.ticker) != "active":
                continue
            book = x.engine.book(s.ticker)
            if book.no_bids and book.yes_bids:
                step = next(
                    k
                    for k in range(now + 1, now + within + 1)
                    if any(z.ticker == s.ticker for z in u.settlements_between(k - 1, k))
                )
                return s.ticker, step, fmt_price(book.yes_ask or Price(0))
        raise AssertionError("no market settles soon in the test universe")

    return sim.call(find)


@pytest.fixture(scope="module")
def answers(demo_key: Any, second_key: Any) -> Iterator[dict[str, Answer]]:
    sim = start_sim([demo_key, second_key])
    out: dict[str, Answer] = {}

    def rec(
        name: str,
        method: str,
        spec_path: str,
        path: str,
        model: str | None,
        *,
        params: Any = None,
        json: Any = None,
        client: Any = None,
    ) -> Any:
        c = client or sim.http
        r = c.request(method, path.lstrip("/"), params=params, json=json)
        out[name] = Answer(method, spec_path, r.status_code, r.json() if r.content else {}, model)
        return out[name].body

    try:
        held, settle_step, held_ask = settling_market(sim)
        m = sim.active_market()
        best_bid = fmt_price(m.yes_bid or Price(0))
        # public market data
        rec("status", "GET", "/exchange/status", "/exchange/status", "ExchangeStatus", client=sim.anon)
        rec("schedule", "GET", "/exchange/schedule", "/exchange/schedule", "GetExchangeScheduleResponse")
        rec("limits", "GET", "/account/limits", "/account/limits", "GetAccountApiLimitsResponse")
        rec(
            "costs",
            "GET",
            "/account/endpoint_costs",
            "/account/endpoint_costs",
            "GetAccountEndpointCostsResponse",
            client=sim.anon,
        )
        rec(
            "as_of",
            "GET",
            "/exchange/user_data_timestamp",
            "/exchange/user_data_timestamp",
            "GetUserDataTimestampResponse",
            client=sim.anon,
        )
        rec("markets", "GET", "/markets", "/markets", "GetMarketsResponse", params={"limit": 50}, client=sim.anon)
        rec(
            "markets_open",
            "GET",
            "/markets",
            "/markets",
            "GetMarketsResponse",
            params={"status": "open", "mve_filter": "exclude", "limit": 1000},
        )
        rec("market", "GET", "/markets/{ticker}", f"/markets/{m.ticker}", "GetMarketResponse")
        rec(
            "orderbook",
            "GET",
            "/markets/{ticker}/orderbook",
            f"/markets/{m.ticker}/orderbook",
            "GetMarketOrderbookResponse",
        )
        rec(
            "orderbooks",
            "GET",
            "/markets/orderbooks",
            "/markets/orderbooks",
            "GetMarketOrderbooksResponse",
            params=[("tickers", m.ticker), ("tickers", held)],
        )
        rec("events", "GET", "/events", "/events", "GetEventsResponse", params={"with_nested_markets": "true"})
        rec(
            "event",
            "GET",
            "/events/{event_ticker}",
            f"/events/{m.event_ticker}",
            "GetEventResponse",
            params={"with_nested_markets": "true"},
        )
        rec("series_list", "GET", "/series", "/series", "GetSeriesListResponse")
        rec("series", "GET", "/series/{series_ticker}", f"/series/{m.series_ticker}", "GetSeriesResponse")
        # orders: a taker fill in the market that settles soon, a resting bid elsewhere
        rec(
            "create",
            "POST",
            "/portfolio/events/orders",
            "/portfolio/events/orders",
            "CreateOrderV2Response",
            json={
                "ticker": held,
                "side": "bid",
                "price": held_ask,
                "count": "3",
                "client_order_id": "spec-take",
                "time_in_force": "immediate_or_cancel",
                "self_trade_prevention_type": "taker_at_cross",
            },
        )
        resting = rec(
            "create_resting",
            "POST",
            "/portfolio/events/orders",
            "/portfolio/events/orders",
            "CreateOrderV2Response",
            json={
                "ticker": m.ticker,
                "side": "bid",
                "price": best_bid,
                "count": "5.50",
                "client_order_id": "spec-rest",
                "time_in_force": "good_till_canceled",
                "self_trade_prevention_type": "maker",
                "cancel_order_on_pause": True,
            },
        )
        oid = resting["order_id"]
        sim.step(1)  # public trades print: a market-data step between placing and reading
        rec(
            "queue",
            "GET",
            "/portfolio/orders/queue_positions",
            "/portfolio/orders/queue_positions",
            "GetOrderQueuePositionsResponse",
            params={"market_tickers": m.ticker},
        )
        rec(
            "queue_one",
            "GET",
            "/portfolio/orders/{order_id}/queue_position",
            f"/portfolio/orders/{oid}/queue_position",
            "GetOrderQueuePositionResponse",
        )
        rec(
            "amend",
            "POST",
            "/portfolio/events/orders/{order_id}/amend",
            f"/portfolio/events/orders/{oid}/amend",
            "AmendOrderV2Response",
            json={"ticker": m.ticker, "side": "bid", "price": best_bid, "count": "4"},
        )
        rec(
            "decrease",
            "POST",
            "/portfolio/events/orders/{order_id}/decrease",
            f"/portfolio/events/orders/{oid}/decrease",
            "DecreaseOrderV2Response",
            json={"reduce_by": "1"},
        )
        rec("orders", "GET", "/portfolio/orders", "/portfolio/orders", "GetOrdersResponse")
        rec("order", "GET", "/portfolio/orders/{order_id}", f"/portfolio/orders/{oid}", "GetOrderResponse")
        rec(
            "cancel",
            "DELETE",
            "/portfolio/events/orders/{order_id}",
            f"/portfolio/events/orders/{oid}",
            "CancelOrderV2Response",
        )
        batch = rec(
            "batch_create",
            "POST",
            "/portfolio/events/orders/batched",
            "/portfolio/events/orders/batched",
            "BatchCreateOrdersV2Response",
            json={
                "orders": [
                    {
                        "ticker": m.ticker,
                        "side": "bid",
                        "price": best_bid,
                        "count": "1",
                        "time_in_force": "good_till_canceled",
                        "self_trade_prevention_type": "maker",
                    },
                    {
                        "ticker": m.ticker,
                        "side": "ask",
                        "price": "0.0001",
                        "count": "1",
                        "time_in_force": "good_till_canceled",
                        "self_trade_prevention_type": "maker",
                    },
                ]
            },
        )
        first = batch["orders"][0]["order_id"]
        rec(
            "batch_cancel",
            "DELETE",
            "/portfolio/events/orders/batched",
            "/portfolio/events/orders/batched",
            "BatchCancelOrdersV2Response",
            json={"orders": [{"order_id": first}, {"order_id": "no-such-order"}]},
        )
        rec(
            "create_again",
            "POST",
            "/portfolio/events/orders",
            "/portfolio/events/orders",
            "CreateOrderV2Response",
            json={
                "ticker": m.ticker,
                "side": "bid",
                "price": best_bid,
                "count": "1",
                "time_in_force": "good_till_canceled",
                "self_trade_prevention_type": "maker",
            },
        )
        # DELETE /portfolio/events/orders is new in 3.34 (not in the 3.28 document): 204, no body
        rec("cancel_all", "DELETE", "", "/portfolio/events/orders", None)
        rec(
            "after_cancel_all",
            "GET",
            "/portfolio/orders",
            "/portfolio/orders",
            "GetOrdersResponse",
            params={"status": "resting"},
        )
        # order groups
        group = rec(
            "group_create",
            "POST",
            "/portfolio/order_groups/create",
            "/portfolio/order_groups/create",
            "CreateOrderGroupResponse",
            json={"contracts_limit_fp": "25.00"},
        )
        gid = group["order_group_id"]
        rec("groups", "GET", "/portfolio/order_groups", "/portfolio/order_groups", "GetOrderGroupsResponse")
        rec(
            "group",
            "GET",
            "/portfolio/order_groups/{order_group_id}",
            f"/portfolio/order_groups/{gid}",
            "GetOrderGroupResponse",
        )
        rec(
            "group_limit",
            "PUT",
            "/portfolio/order_groups/{order_group_id}/limit",
            f"/portfolio/order_groups/{gid}/limit",
            None,
            json={"contracts_limit_fp": "30"},
        )
        rec(
            "group_trigger",
            "PUT",
            "/portfolio/order_groups/{order_group_id}/trigger",
            f"/portfolio/order_groups/{gid}/trigger",
            None,
        )
        rec(
            "group_reset",
            "PUT",
            "/portfolio/order_groups/{order_group_id}/reset",
            f"/portfolio/order_groups/{gid}/reset",
            None,
        )
        rec(
            "group_delete", "DELETE", "/portfolio/order_groups/{order_group_id}", f"/portfolio/order_groups/{gid}", None
        )
        # portfolio after trading, then after the held market settled
        rec("positions", "GET", "/portfolio/positions", "/portfolio/positions", "GetPositionsResponse")
        rec("fills", "GET", "/portfolio/fills", "/portfolio/fills", "GetFillsResponse")
        rec("balance", "GET", "/portfolio/balance", "/portfolio/balance", "GetBalanceResponse")
        rec("trades", "GET", "/markets/trades", "/markets/trades", "GetTradesResponse", params={"limit": 200})
        sim.step(settle_step - sim.call(lambda: sim.exchange.driver.step))
        rec("settlements", "GET", "/portfolio/settlements", "/portfolio/settlements", "GetSettlementsResponse")
        # candles, historical data and the other endpoints added for issue 19
        now = sim.call(lambda: sim.exchange.now_ms()) // 1000
        window = {"start_ts": now - 7200, "end_ts": now}
        rec(
            "candles",
            "GET",
            "/series/{series_ticker}/markets/{ticker}/candlesticks",
            f"/series/{m.series_ticker}/markets/{m.ticker}/candlesticks",
            "GetMarketCandlesticksResponse",
            params={**window, "period_interval": 1, "include_latest_before_start": "true"},
        )
        rec(
            "candles_batch",
            "GET",
            "/markets/candlesticks",
            "/markets/candlesticks",
            "BatchGetMarketCandlesticksResponse",
            params={**window, "period_interval": 60, "market_tickers": f"{m.ticker},{held}"},
        )
        rec(
            "candles_event",
            "GET",
            "/series/{series_ticker}/events/{ticker}/candlesticks",
            f"/series/{m.series_ticker}/events/{m.event_ticker}/candlesticks",
            "GetEventCandlesticksResponse",
            params={**window, "period_interval": 1440},
        )
        rec(
            "resting_value",
            "GET",
            "/portfolio/summary/total_resting_order_value",
            "/portfolio/summary/total_resting_order_value",
            "GetPortfolioRestingOrderTotalValueResponse",
        )
        rec(
            "series_fees",
            "GET",
            "/series/fee_changes",
            "/series/fee_changes",
            "GetSeriesFeeChangesResponse",
            params={"series_ticker": m.series_ticker, "show_historical": "true"},
        )
        rec("event_fees", "GET", "/events/fee_changes", "/events/fee_changes", "GetEventFeeChangesResponse")
        rec(
            "event_metadata",
            "GET",
            "/events/{event_ticker}/metadata",
            f"/events/{m.event_ticker}/metadata",
            "GetEventMetadataResponse",
        )
        rec(
            "series_volume",
            "GET",
            "/series/{series_ticker}",
            f"/series/{m.series_ticker}",
            "GetSeriesResponse",
            params={"include_volume": "true"},
        )
        rec("mve_events", "GET", "/events/multivariate", "/events/multivariate", "GetMultivariateEventsResponse")
        rec(
            "collections",
            "GET",
            "/multivariate_event_collections",
            "/multivariate_event_collections",
            "GetMultivariateEventCollectionsResponse",
        )
        rec("cutoff", "GET", "/historical/cutoff", "/historical/cutoff", "GetHistoricalCutoffResponse")
        rec("hist_markets", "GET", "/historical/markets", "/historical/markets", "GetMarketsResponse")
        rec("hist_trades", "GET", "/historical/trades", "/historical/trades", "GetTradesResponse")
        rec("hist_fills", "GET", "/historical/fills", "/historical/fills", "GetFillsResponse")
        rec("hist_orders", "GET", "/historical/orders", "/historical/orders", "GetOrdersResponse")
        rec("hist_positions", "GET", "/historical/positions", "/historical/positions", "GetPositionsResponse")
        rec("settled_market", "GET", "/markets/{ticker}", f"/markets/{held}", "GetMarketResponse")
        rec(
            "markets_settled",
            "GET",
            "/markets",
            "/markets",
            "GetMarketsResponse",
            params={"status": "settled", "min_settled_ts": 0},
        )
        # errors, where the operation documents them
        rec(
            "e400_price",
            "POST",
            "/portfolio/events/orders",
            "/portfolio/events/orders",
            None,
            json={
                "ticker": m.ticker,
                "side": "bid",
                "price": "0.12345",
                "count": "1",
                "time_in_force": "good_till_canceled",
                "self_trade_prevention_type": "maker",
            },
        )
        rec(
            "e409_dup",
            "POST",
            "/portfolio/events/orders",
            "/portfolio/events/orders",
            None,
            json={
                "ticker": held,
                "side": "bid",
                "price": held_ask,
                "count": "1",
                "client_order_id": "spec-take",
                "time_in_force": "immediate_or_cancel",
                "self_trade_prevention_type": "taker_at_cross",
            },
        )
        rec("e401_unsigned", "GET", "/portfolio/balance", "/portfolio/balance", None, client=sim.anon)
        rec("e404_order", "GET", "/portfolio/orders/{order_id}", "/portfolio/orders/nope", None)
        rec("e404_market", "GET", "/markets/{ticker}", "/markets/NO-SUCH-MARKET", None)
        rec(
            "e400_orderbooks",
            "GET",
            "/markets/orderbooks",
            "/markets/orderbooks",
            None,
            params={"tickers": f"{m.ticker},{held}"},
        )
        rec(
            "e400_legacy",
            "POST",
            "/portfolio/orders",
            "/portfolio/orders",
            None,
            json={"ticker": m.ticker, "action": "buy", "side": "yes", "count": 1, "type": "limit", "yes_price": 50},
        )
        rec("e400_markets", "GET", "/markets", "/markets", None, params={"status": "active"})
        sim.faults(rate_limit_storm=1.0)
        rec(
            "e429",
            "POST",
            "/portfolio/events/orders",
            "/portfolio/events/orders",
            None,
            json={
                "ticker": m.ticker,
                "side": "bid",
                "price": best_bid,
                "count": "1",
                "time_in_force": "good_till_canceled",
                "self_trade_prevention_type": "maker",
            },
        )
        sim.faults(rate_limit_storm=0.0)
        yield out
    finally:
        sim.close()


SUCCESS = [
    "status",
    "schedule",
    "limits",
    "costs",
    "as_of",
    "queue_one",
    "markets",
    "markets_open",
    "market",
    "orderbook",
    "orderbooks",
    "events",
    "event",
    "series_list",
    "series",
    "create",
    "create_resting",
    "queue",
    "amend",
    "decrease",
    "orders",
    "order",
    "cancel",
    "batch_create",
    "batch_cancel",
    "create_again",
    "cancel_all",
    "after_cancel_all",
    "group_create",
    "groups",
    "group",
    "group_limit",
    "group_trigger",
    "group_reset",
    "group_delete",
    "positions",
    "fills",
    "balance",
    "trades",
    "settlements",
    "settled_market",
    "markets_settled",
    "candles",
    "candles_batch",
    "candles_event",
    "resting_value",
    "series_fees",
    "event_fees",
    "event_metadata",
    "series_volume",
    "mve_events",
    "collections",
    "cutoff",
    "hist_markets",
    "hist_trades",
    "hist_fills",
    "hist_orders",
    "hist_positions",
]


@pytest.mark.parametrize("name", SUCCESS)
def test_success_answers_match_the_published_specs(answers: dict[str, Answer], name: str) -> None:
    a = answers[name]
    assert a.status < 300, f"{name}: {a.status} {a.body}"
    if a.spec_path:
        assert a.status in success_codes(a.method, a.spec_path)
        validate_328(a.method, a.spec_path, a.status, a.body)
    if a.model is not None:
        validate_334(a.model, a.body)


@pytest.mark.parametrize(
    "name,status,code",
    [
        ("e400_price", 400, "invalid_price"),
        ("e409_dup", 409, "order_already_exists"),
        ("e401_unsigned", 401, "authentication_error"),
        ("e404_order", 404, "not_found"),
        ("e404_market", 404, "not_found"),
        ("e400_orderbooks", 400, "invalid_parameters"),
        ("e400_legacy", 400, "endpoint_deprecated"),
        ("e400_markets", 400, "invalid_parameters"),
    ],
)
def test_error_answers_match_the_published_specs(answers: dict[str, Answer], name: str, status: int, code: str) -> None:
    a = answers[name]
    assert a.status == status, a.body
    assert set(a.body) == {"error"} and a.body["error"]["code"] == code
    assert isinstance(a.body["error"]["message"], str) and isinstance(a.body["error"]["details"], str)
    validate_328(a.method, a.spec_path, a.status, a.body)
    validate_334("ErrorResponse", a.body["error"])


def test_rate_limit_answer_is_kalshis_bare_string(answers: dict[str, Answer]) -> None:
    a = answers["e429"]
    assert a.status == 429 and a.body == {"error": "too many requests"}
    validate_328(a.method, a.spec_path, a.status, a.body)


def test_the_scenario_really_traded_and_settled(answers: dict[str, Answer]) -> None:
    """The validated answers are not empty shells: fills, positions and a settlement happened."""
    assert answers["create"].body["fill_count"] == "3.00"
    assert any(f["order_id"] == answers["create"].body["order_id"] for f in answers["fills"].body["fills"])
    assert answers["positions"].body["market_positions"]
    assert answers["settlements"].body["settlements"], "the held market should have settled"
    assert answers["settled_market"].body["market"]["status"] == "finalized"
    assert answers["settled_market"].body["market"]["result"] in ("yes", "no")
    assert answers["queue"].body["queue_positions"][0]["queue_position_fp"].endswith(".00")
    assert answers["decrease"].body["remaining_count"] == fmt_count(Count(300))
    assert answers["batch_cancel"].body["orders"][1]["error"]["code"] == "not_found"
    assert answers["cancel_all"].status == 204 and answers["cancel_all"].body == {}
    assert answers["after_cancel_all"].body["orders"] == []
    book = answers["orderbook"].body["orderbook_fp"]
    for side in ("yes_dollars", "no_dollars"):  # ascending, best bid LAST (REFERENCE §6)
        prices = [lvl[0] for lvl in book[side]]
        assert prices == sorted(prices)


@pytest.fixture(scope="module")
def combo_answers(demo_key: Any) -> Iterator[dict[str, Answer]]:
    """A universe with combo (multivariate) events: seed 2 lists four at 120 markets."""
    sim = start_sim([demo_key], seed=2)
    out: dict[str, Answer] = {}
    try:

        def rec(name: str, spec_path: str, path: str, model: str, params: Any = None) -> Any:
            r = sim.anon.get(path.lstrip("/"), params=params)
            out[name] = Answer("GET", spec_path, r.status_code, r.json(), model)
            return out[name].body

        events = rec(
            "mve_events",
            "/events/multivariate",
            "/events/multivariate",
            "GetMultivariateEventsResponse",
            params={"with_nested_markets": "true"},
        )
        first = events["events"][0]["event_ticker"]
        rec(
            "collections",
            "/multivariate_event_collections",
            "/multivariate_event_collections",
            "GetMultivariateEventCollectionsResponse",
            params={"status": "open"},
        )
        rec(
            "collection",
            "/multivariate_event_collections/{collection_ticker}",
            f"/multivariate_event_collections/{first}",
            "GetMultivariateEventCollectionResponse",
        )
        rec("mve_markets", "/markets", "/markets", "GetMarketsResponse", params={"mve_filter": "only"})
        rec("plain_events", "/events", "/events", "GetEventsResponse", params={"limit": 200})
        rec(
            "plain_markets",
            "/markets",
            "/markets",
            "GetMarketsResponse",
            params={"mve_filter": "exclude", "limit": 1000},
        )
        yield out
    finally:
        sim.close()


@pytest.mark.parametrize(
    "name", ["mve_events", "collections", "collection", "mve_markets", "plain_events", "plain_markets"]
)
def test_multivariate_answers_match_the_published_specs(combo_answers: dict[str, Answer], name: str) -> None:
    a = combo_answers[name]
    assert a.status == 200, a.body
    validate_328(a.method, a.spec_path, a.status, a.body)
    if a.model is not None:
        validate_334(a.model, a.body)


def test_combos_are_listed_apart_and_can_be_excluded(combo_answers: dict[str, Answer]) -> None:
    combos = {e["event_ticker"] for e in combo_answers["mve_events"].body["events"]}
    assert combos and all(e["markets"] for e in combo_answers["mve_events"].body["events"])
    assert not combos & {e["event_ticker"] for e in combo_answers["plain_events"].body["events"]}
    assert {m["event_ticker"] for m in combo_answers["mve_markets"].body["markets"]} == combos
    assert all(m["mve_collection_ticker"] == m["event_ticker"] for m in combo_answers["mve_markets"].body["markets"])
    assert not combos & {m["event_ticker"] for m in combo_answers["plain_markets"].body["markets"]}
    collections = {c["collection_ticker"] for c in combo_answers["collections"].body["multivariate_contracts"]}
    assert collections == combos
