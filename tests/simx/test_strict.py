"""Kalshi's strictness: bad parameters are 400s, real paths beat parameter routes, ids are UUIDs,
every answer is JSON, big bodies are refused, and the WebSocket names the orders a subscriber sent."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import orjson
import pytest

from kalashi_cli.money import Price, fmt_price

from .conftest import Sim
from .test_ws import recv_until, send, ws


def _order(ticker: str, price: str, **kw: Any) -> dict[str, Any]:
    return {
        "ticker": ticker,
        "side": "bid",
        "price": price,
        "count": "2",
        "time_in_force": "good_till_canceled",
        "self_trade_prevention_type": "maker",
        **kw,
    }


@pytest.mark.parametrize(
    "path,params,needle",
    [
        ("markets/{t}/orderbook", {"depth": "-1"}, "depth must be between 0 and 100, got -1"),
        ("markets/{t}/orderbook", {"depth": "101"}, "depth must be between 0 and 100"),
        ("events", {"min_updated_ts": "abc"}, "min_updated_ts must be a whole number"),
        ("events", {"status": ""}, "status must not be empty"),
        ("markets", {"status": ""}, "status must not be empty"),
        ("markets", {"min_close_ts": "99999999999999"}, "min_close_ts must be between 0 and 253402300799"),
        ("markets", {"min_created_ts": "-5"}, "min_created_ts must be between 0"),
        ("markets", {"min_close_ts": "20", "max_close_ts": "10"}, "is after"),
        ("markets", {"limit": "1001"}, "limit must be between 0 and 1000"),
        ("markets", {"mve_filter": "sometimes"}, "mve_filter must be one of only, exclude"),
        ("markets", {"colour": "blue"}, "unknown query parameter 'colour'"),
        ("markets/{t}", {"depth": "1"}, "unknown query parameter 'depth'"),
        ("events", {"limit": "0"}, "limit must be between 1 and 200"),
        ("events", {"with_nested_markets": "maybe"}, "with_nested_markets must be true or false"),
        ("markets/trades", {"max_ts": "1e9"}, "max_ts must be a whole number"),
        ("markets", {"tickers": "A,,B"}, "without empty entries"),
        ("series", {"include_volume": "yes"}, "include_volume must be true or false"),
    ],
)
def test_bad_query_values_are_400_with_kalshis_body(
    shared_sim: Sim, path: str, params: dict[str, str], needle: str
) -> None:
    m = shared_sim.active_market()
    r = shared_sim.anon.get(path.format(t=m.ticker), params=params)
    assert r.status_code == 400, r.text
    body = r.json()
    assert set(body) == {"error"} and body["error"]["code"] == "invalid_parameters"
    assert needle in body["error"]["message"], body
    assert "None" not in r.text


def test_repeated_single_parameters_are_refused(shared_sim: Sim) -> None:
    r = shared_sim.anon.get("markets", params=[("status", "open"), ("status", "closed")])
    assert r.status_code == 400 and "given 2 times" in r.json()["error"]["message"]


@pytest.mark.parametrize(
    "path,key",
    [
        ("markets/candlesticks", "candlesticks"),
        ("events/multivariate", "multivariate"),
        ("events/fee_changes", "fee_changes"),
        ("series/fee_changes", "fee_changes"),
    ],
)
def test_real_paths_are_not_caught_by_parameter_routes(shared_sim: Sim, path: str, key: str) -> None:
    r = shared_sim.anon.get(path)
    # answered by the endpoint itself (200, or 400 for its own missing parameters) — never a 404
    # "market candlesticks not found" from /markets/{ticker}
    assert r.status_code in (200, 400), r.text
    assert "not found" not in r.text


def test_paths_outside_the_api_options_and_wrong_methods_answer_json(shared_sim: Sim) -> None:
    root = shared_sim.root
    with httpx.Client(trust_env=False, timeout=10) as c:
        for method, url, status in [
            ("GET", root + "/", 404),
            ("GET", root + "/favicon.ico", 404),
            ("POST", root + "/trade-api/v3/markets", 404),
            ("GET", root + "/trade-api/ws/v2", 404),
            ("OPTIONS", shared_sim.url + "/markets", 405),
            ("PATCH", shared_sim.url + "/portfolio/balance", 405),
            ("GET", shared_sim.url + "/no/such/thing", 404),
        ]:
            r = c.request(method, url)
            assert r.status_code == status, (method, url, r.text)
            assert r.headers["content-type"].startswith("application/json"), (method, url)
            assert set(r.json()) == {"error"}, r.text
        assert c.options(shared_sim.url + "/markets").headers["allow"] == "GET, HEAD"


def test_bodies_over_one_megabyte_are_refused_before_parsing(shared_sim: Sim) -> None:
    m = shared_sim.active_market()
    pad = "x" * 1_100_000  # a syntactically fine order with a huge field: never parsed
    r = shared_sim.http.post(
        "portfolio/events/orders", json=_order(m.ticker, fmt_price(m.yes_bid or Price(100)), client_order_id=pad)
    )
    assert r.status_code == 413 and r.json()["error"]["code"] == "request_too_large"
    chunked = shared_sim.http.post("portfolio/events/orders", content=(b"{" + b" " * 65536 for _ in range(20)))
    assert chunked.status_code == 413  # no Content-Length: counted while streaming
    orders = shared_sim.http.get("portfolio/orders").json()["orders"]
    assert not any(o["client_order_id"] == pad for o in orders)


def test_order_fill_trade_and_group_ids_are_uuids(sim: Sim) -> None:
    m = sim.active_market()
    group = sim.http.post("portfolio/order_groups/create", json={"contracts_limit_fp": "50"}).json()
    uuid.UUID(group["order_group_id"])
    rest = sim.http.post(
        "portfolio/events/orders",
        json=_order(m.ticker, fmt_price(m.yes_bid or Price(100)), order_group_id=group["order_group_id"]),
    )
    assert rest.status_code == 201, rest.text
    oid = rest.json()["order_id"]
    uuid.UUID(oid)
    take = sim.http.post(
        "portfolio/events/orders",
        json={
            **_order(m.ticker, fmt_price(m.yes_ask or Price(9900))),
            "time_in_force": "immediate_or_cancel",
            "self_trade_prevention_type": "taker_at_cross",
        },
    )
    assert take.json()["fill_count"] != "0.00", take.text
    for f in sim.http.get("portfolio/fills").json()["fills"]:
        uuid.UUID(f["fill_id"]), uuid.UUID(f["order_id"]), uuid.UUID(f["trade_id"])
    for t in sim.anon.get("markets/trades", params={"ticker": m.ticker}).json()["trades"]:
        uuid.UUID(t["trade_id"])
    order = sim.http.get(f"portfolio/orders/{oid}").json()["order"]
    assert order["order_id"] == oid and order["order_group_id"] == group["order_group_id"]
    assert sim.http.get(f"portfolio/order_groups/{group['order_group_id']}").json()["orders"] == [oid]
    assert sim.http.get(f"portfolio/orders/{oid}/queue_position").status_code == 200
    assert sim.http.delete(f"portfolio/events/orders/{oid}").json()["order_id"] == oid
    gone = sim.http.get("portfolio/orders/sx-ord-1")  # the engine's own numbering is not an id
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "not_found"
    assert sim.http.get(f"portfolio/order_groups/{uuid.uuid4()}").json()["error"]["code"] == "order_group_not_found"


def test_cancel_all_is_204_without_a_body(sim: Sim) -> None:
    m = sim.active_market()
    for i in range(3):
        assert (
            sim.http.post(
                "portfolio/events/orders",
                json=_order(m.ticker, fmt_price(m.yes_bid or Price(100)), client_order_id=f"ca-{i}"),
            ).status_code
            == 201
        )
    r = sim.http.delete("portfolio/events/orders")
    assert r.status_code == 204 and r.content == b""
    assert sim.http.get("portfolio/orders", params={"status": "resting"}).json()["orders"] == []


def test_orderbook_delta_names_the_subscribers_own_order(sim: Sim) -> None:
    m = sim.active_market()
    price = fmt_price(m.yes_bid or Price(100))

    async def go() -> list[dict[str, Any]]:
        conn = await ws(sim)
        try:
            await send(conn, 1, "subscribe", {"channels": ["orderbook_delta"], "market_ticker": m.ticker})
            await recv_until(conn, lambda fs: any(f["type"] == "orderbook_snapshot" for f in fs))
            async with httpx.AsyncClient(base_url=sim.url + "/", auth=sim.http.auth, trust_env=False) as c:
                r = await c.post("portfolio/events/orders", json=_order(m.ticker, price, client_order_id="mine-1"))
                assert r.status_code == 201
                oid = r.json()["order_id"]
                deltas = await recv_until(conn, lambda fs: any(f["type"] == "orderbook_delta" for f in fs))
                assert (await c.delete(f"portfolio/events/orders/{oid}")).status_code == 200
                deltas += await recv_until(conn, lambda fs: any(f["type"] == "orderbook_delta" for f in fs))
            return deltas
        finally:
            await conn.close()

    frames = [f for f in asyncio.run(go()) if f["type"] == "orderbook_delta"]
    assert [f["msg"]["delta_fp"] for f in frames] == ["2.00", "-2.00"]
    assert all(f["msg"]["client_order_id"] == "mine-1" for f in frames), frames


def test_someone_elses_order_carries_no_client_order_id(sim: Sim, second_key: Any) -> None:
    m = sim.active_market()
    from kalashi_cli.kalshi.auth import KalshiAuth

    from .conftest import credentials

    async def go() -> list[dict[str, Any]]:
        conn = await ws(sim)  # the first key watches
        try:
            await send(conn, 1, "subscribe", {"channels": ["orderbook_delta"], "market_ticker": m.ticker})
            await recv_until(conn, lambda fs: any(f["type"] == "orderbook_snapshot" for f in fs))
            async with httpx.AsyncClient(
                base_url=sim.url + "/", auth=KalshiAuth(credentials(second_key)), trust_env=False
            ) as other:
                r = await other.post(
                    "portfolio/events/orders",
                    json=_order(m.ticker, fmt_price(m.yes_bid or Price(100)), client_order_id="theirs"),
                )
                assert r.status_code == 201
            return await recv_until(conn, lambda fs: any(f["type"] == "orderbook_delta" for f in fs))
        finally:
            await conn.close()

    deltas = [f for f in asyncio.run(go()) if f["type"] == "orderbook_delta"]
    assert deltas and all("client_order_id" not in f["msg"] for f in deltas)
    assert orjson.dumps(deltas)
