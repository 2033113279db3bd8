"""KalshiClient against the in-memory fake: signing, paging, encodings, retries, error mapping."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx
import pytest
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from kalashi_cli.domain import OrderIntent
from kalashi_cli.errors import (
    AuthError,
    Conflict,
    ExchangeUnavailable,
    NetworkError,
    NotFound,
    OrderRejected,
    OutcomeUnknown,
    PermissionDenied,
    RateLimited,
    UsageError,
)
from kalashi_cli.kalshi import wire
from kalashi_cli.kalshi.auth import Credentials, KalshiAuth
from kalashi_cli.kalshi.ratelimit import BatchTooLarge, RateLimiter, RetryPolicy
from kalashi_cli.kalshi.rest import KalshiClient
from kalashi_cli.money import Count, Price

from .conftest import FakeClock
from .fake_kalshi import FakeKalshi, Fault, make_market, universe

BASE = "https://fake.kalshi.test/trade-api/v2"
T = TypeVar("T")


def register(fake: FakeKalshi, creds: Credentials) -> None:
    fake.public_keys[creds.key_id] = load_pem_public_key(creds.public_key_pem())


def make_client(
    fake: FakeKalshi, creds: Credentials | None = None, clock: FakeClock | None = None, **kw: Any
) -> KalshiClient:
    clock = clock or FakeClock()
    return KalshiClient(
        BASE,
        auth=KalshiAuth(creds) if creds else None,
        transport=fake.transport(),
        limiter=RateLimiter(clock=clock, sleep=clock.sleep),
        sleep=clock.sleep,
        rng=random.Random(1),
        **kw,
    )


def run(client: KalshiClient, fn: Callable[[KalshiClient], Awaitable[T]]) -> T:
    async def go() -> T:
        async with client:
            return await fn(client)

    return asyncio.run(go())


def small_fake(creds: Credentials | None = None) -> FakeKalshi:
    fake = FakeKalshi()
    fake.add_market(
        make_market("KXT-26-A", "KXT-26"), yes=[["0.4400", "5.00"], ["0.4500", "100.00"]], no=[["0.5300", "50.00"]]
    )
    if creds:
        register(fake, creds)
    return fake


def test_pagination_walks_every_page_with_max_limit() -> None:
    fake = universe(2500)
    client = make_client(fake)

    async def go(c: KalshiClient) -> list[dict[str, Any]]:
        return [m async for m in c.iter_markets(status="open", mve_filter="exclude")]

    markets = run(client, go)
    assert len(markets) == 2500 and len({m["ticker"] for m in markets}) == 2500
    assert fake.count("GET", "/markets") == 3
    queries = [q for m, p, q in fake.calls if p == "/markets"]
    assert all("limit=1000" in q and "status=open" in q and "mve_filter=exclude" in q for q in queries)
    assert "cursor=" not in queries[0] and all("cursor=" in q for q in queries[1:])
    assert client.api_calls == 3 and client.counter.by_endpoint == {"GET /markets": 3}


def test_markets_tickers_are_one_comma_value_orderbooks_are_repeated() -> None:
    fake = universe(250)
    tickers = list(fake.markets)
    client = make_client(fake)

    async def go(c: KalshiClient) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        page = await c.get_markets_page(tickers=tickers[:3], limit=3)
        books = await c.get_orderbooks(tickers)
        return page, books

    page, books = run(client, go)
    assert [m["ticker"] for m in page["markets"]] == tickers[:3]
    q = next(q for m, p, q in fake.calls if p == "/markets")
    assert "tickers=" + "%2C".join(tickers[:3]) in q
    assert fake.count("GET", "/markets/orderbooks") == 3  # 100 + 100 + 50
    for _, p, q in fake.calls:
        if p == "/markets/orderbooks":
            assert q.count("tickers=") <= 100 and "%2C" not in q
    assert {b["ticker"] for b in books} == set(tickers)


def test_requests_are_signed_and_verified(rsa_creds: Credentials) -> None:
    fake = small_fake(rsa_creds)
    fake.require_auth = True
    client = make_client(fake, rsa_creds)
    run(client, lambda c: c.get_markets_page(status="open", limit=10))
    assert fake.signed_messages and fake.signed_messages[0].endswith("GET/trade-api/v2/markets")
    assert "?" not in fake.signed_messages[0]


def test_bad_signature_maps_to_auth_error_with_what_to_do(rsa_creds: Credentials, ed_creds: Credentials) -> None:
    fake = small_fake(rsa_creds)
    client = make_client(fake, ed_creds)  # key not registered → INCORRECT_API_KEY_SIGNATURE
    with pytest.raises(AuthError) as e:
        run(client, lambda c: c.get_balance())
    text = str(e.value)
    assert e.value.status == 401 and e.value.code == "authentication_error"
    assert "KALSHI_API_KEY_ID" in text and "NTP" in text and "INCORRECT_API_KEY_SIGNATURE" in text
    assert fake.count("GET", "/portfolio/balance") == 1  # 401 is not retried
    anonymous = make_client(small_fake())
    with pytest.raises(AuthError) as e2:
        run(anonymous, lambda c: c.get_balance())
    assert "set KALSHI_API_KEY_ID and KALSHI_PRIVATE_KEY_PATH" in str(e2.value)


def test_reads_retry_429_with_seeded_jitter_then_succeed() -> None:
    fake = small_fake()
    fake.faults += [Fault("GET", "/markets", 429, {"error": "too many requests"})] * 2
    clock = FakeClock()
    client = make_client(fake, clock=clock, retry=RetryPolicy(max_retries=3, base_delay=0.1, max_delay=1.0))
    page = run(client, lambda c: c.get_markets_page(limit=5))
    assert len(page["markets"]) == 1 and fake.count("GET", "/markets") == 3
    expected = [RetryPolicy(3, 0.1, 1.0).delay(n, r) for n, r in ((0, random.Random(1)),)]
    assert clock.sleeps[0] == pytest.approx(expected[0])
    assert 0.05 <= clock.sleeps[0] <= 0.1 and 0.1 <= clock.sleeps[1] <= 0.2


def test_reads_give_up_after_bounded_retries() -> None:
    fake = small_fake()
    fake.faults += [Fault("GET", "/markets", 429, {"error": "too many requests"})] * 10
    client = make_client(fake, retry=RetryPolicy(max_retries=2))
    with pytest.raises(RateLimited):
        run(client, lambda c: c.get_markets_page(limit=5))
    assert fake.count("GET", "/markets") == 3
    fake2 = small_fake()
    fake2.faults += [Fault("GET", "/exchange/status", 503, {})] * 10
    with pytest.raises(ExchangeUnavailable):
        run(make_client(fake2, retry=RetryPolicy(max_retries=1)), lambda c: c.get_exchange_status())
    assert fake2.count("GET", "/exchange/status") == 2


def test_reads_retry_connect_errors_and_5xx() -> None:
    fake = small_fake()
    fake.faults += [
        Fault("GET", "/markets", exc=httpx.ConnectError),
        Fault("GET", "/markets", 502),
        Fault("GET", "/markets", exc=httpx.ReadTimeout),
    ]
    page = run(make_client(fake), lambda c: c.get_markets_page(limit=5))
    assert len(page["markets"]) == 1 and fake.count("GET", "/markets") == 4
    fake2 = small_fake()
    fake2.faults += [Fault("GET", "/markets", exc=httpx.ConnectError)] * 10
    with pytest.raises(NetworkError) as e:
        run(make_client(fake2, retry=RetryPolicy(max_retries=2)), lambda c: c.get_markets_page(limit=5))
    assert "nothing was sent" in str(e.value)


INTENT = OrderIntent("coid-1", "KXT-26-A", "bid", Price(4000), Count(500), "good_till_canceled")


@pytest.mark.parametrize(
    "fault",
    [
        Fault("POST", "/portfolio/events/orders", 500, after_processing=True),
        Fault("POST", "/portfolio/events/orders", 503),
        Fault("POST", "/portfolio/events/orders", exc=httpx.ReadTimeout, after_processing=True),
        Fault("POST", "/portfolio/events/orders", exc=httpx.RemoteProtocolError),
        Fault("POST", "/portfolio/events/orders", exc=httpx.WriteTimeout),
    ],
)
def test_writes_with_lost_answers_raise_outcome_unknown_and_are_never_retried(
    rsa_creds: Credentials, fault: Fault
) -> None:
    fake = small_fake(rsa_creds)
    fake.faults.append(fault)
    with pytest.raises(OutcomeUnknown) as e:
        run(make_client(fake, rsa_creds), lambda c: c.create_order(wire.order_request(INTENT)))
    assert "reconcile" in str(e.value)
    assert fake.count("POST", "/portfolio/events/orders") == 1
    if fault.after_processing:  # it really was placed: only reconciliation by client_order_id can tell
        assert [o["client_order_id"] for o in fake.orders.values()] == ["coid-1"]


def test_write_connect_error_is_a_definite_network_error(rsa_creds: Credentials) -> None:
    fake = small_fake(rsa_creds)
    fake.faults.append(Fault("POST", "/portfolio/events/orders", exc=httpx.ConnectError))
    with pytest.raises(NetworkError):
        run(make_client(fake, rsa_creds), lambda c: c.create_order(wire.order_request(INTENT)))
    assert fake.count("POST", "/portfolio/events/orders") == 1 and not fake.orders


def test_write_429_is_rate_limited_not_retried(rsa_creds: Credentials) -> None:
    fake = small_fake(rsa_creds)
    fake.faults.append(Fault("POST", "/portfolio/events/orders", 429, {"error": "too many requests"}))
    with pytest.raises(RateLimited) as e:
        run(make_client(fake, rsa_creds), lambda c: c.create_order(wire.order_request(INTENT)))
    assert e.value.temporary and fake.count("POST", "/portfolio/events/orders") == 1 and not fake.orders


def test_order_errors_map_to_definite_exceptions(rsa_creds: Credentials) -> None:
    fake = small_fake(rsa_creds)
    client = make_client(fake, rsa_creds)

    async def go(c: KalshiClient) -> None:
        ack = await c.create_order(wire.order_request(INTENT))
        assert ack["order_id"] and ack["client_order_id"] == "coid-1"
        with pytest.raises(Conflict) as dup:
            await c.create_order(wire.order_request(INTENT))
        assert dup.value.status == 409 and "reconcile" in str(dup.value)
        off_grid = wire.order_request(OrderIntent("coid-2", "KXT-26-A", "bid", Price(4005), Count(100)))
        with pytest.raises(OrderRejected) as rej:
            await c.create_order(off_grid)
        assert rej.value.code == "invalid_price" and rej.value.status == 400
        with pytest.raises(NotFound):
            await c.get_market("NOPE")
        fake.faults.append(
            Fault("GET", "/portfolio/balance", 403, {"error": {"code": "forbidden", "message": "missing scope"}})
        )
        with pytest.raises(PermissionDenied) as perm:
            await c.get_balance()
        assert "scope" in str(perm.value)

    run(client, go)


def test_batch_too_large_is_refused_before_sending(rsa_creds: Credentials) -> None:
    fake = small_fake(rsa_creds)
    orders = [wire.order_request(OrderIntent(f"c{i}", "KXT-26-A", "bid", Price(4000), Count(100))) for i in range(11)]
    with pytest.raises(BatchTooLarge):
        run(make_client(fake, rsa_creds), lambda c: c.batch_create_orders(orders))
    assert not fake.calls
    ok = run(make_client(fake, rsa_creds), lambda c: c.batch_create_orders(orders[:10]))
    assert len(ok["orders"]) == 10


def test_order_write_endpoints_round_trip(rsa_creds: Credentials) -> None:
    fake = small_fake(rsa_creds)

    async def go(c: KalshiClient) -> None:
        a = await c.create_order(wire.order_request(INTENT))
        oid = a["order_id"]
        amended = await c.amend_order(oid, {"ticker": "KXT-26-A", "side": "bid", "price": "0.4100", "count": "6.00"})
        assert amended["remaining_count"] == "6.00"
        dec = await c.decrease_order(oid, reduce_by="1.00", market_ticker="KXT-26-A")
        assert dec["remaining_count"] == "5.00"
        with pytest.raises(UsageError):
            await c.decrease_order(oid)
        cancel = await c.cancel_order(oid, market_ticker="KXT-26-A")
        assert cancel["reduced_by"] == "5.00"
        b = await c.batch_create_orders(
            [
                wire.order_request(
                    OrderIntent(f"b{i}", "KXT-26-A", "bid", Price(3000), Count(100), "good_till_canceled")
                )
                for i in range(3)
            ]
        )
        ids = [o["order_id"] for o in b["orders"]]
        bc = await c.batch_cancel_orders([{"order_id": i, "market_ticker": "KXT-26-A"} for i in ids])
        assert [o["reduced_by"] for o in bc["orders"]] == ["1.00"] * 3
        await c.create_order(
            wire.order_request(OrderIntent("r1", "KXT-26-A", "bid", Price(3000), Count(100), "good_till_canceled"))
        )
        await c.cancel_all_orders()
        assert all(o["status"] != "resting" for o in fake.orders.values())
        g = await c.create_order_group("10.00")
        gid = g["order_group_id"]
        assert [x["id"] for x in await c.list_order_groups()] == [gid]
        assert (await c.get_order_group(gid))["is_auto_cancel_enabled"] is True
        await c.set_order_group_limit(gid, "20.00")
        await c.reset_order_group(gid)
        await c.trigger_order_group(gid)
        await c.delete_order_group(gid)
        order = await c.get_order(oid)
        assert order["status"] == "canceled"

    run(make_client(fake, rsa_creds), go)
    cancel_q = next(q for m, p, q in fake.calls if m == "DELETE" and p.startswith("/portfolio/events/orders/ord"))
    assert cancel_q == "market_ticker=KXT-26-A"
    assert fake.by_path()["DELETE /portfolio/events/orders/batched"] == 1


def test_account_limits_reconfigure_buckets(rsa_creds: Credentials) -> None:
    fake = small_fake(rsa_creds)
    fake.limits = {
        "usage_tier": "premier",
        "read": {"refill_rate": 1000, "bucket_capacity": 1000},
        "write": {"refill_rate": 1000, "bucket_capacity": 2000},
        "grants": [],
    }
    client = make_client(fake, rsa_creds)
    limits = run(client, lambda c: c.configure_rate_limits())
    assert limits is not None and client.limiter.write.capacity == 2000 and client.limiter.max_batch() == 200
    assert run(make_client(fake), lambda c: c.configure_rate_limits()) is None  # anonymous: given numbers


def test_page_limits_are_checked() -> None:
    client = make_client(small_fake())
    with pytest.raises(UsageError):
        run(client, lambda c: c.get_events_page(limit=201))
    with pytest.raises(UsageError):
        run(make_client(small_fake()), lambda c: c.get_markets_page(limit=1001))


def test_other_reads(rsa_creds: Credentials) -> None:
    fake = small_fake(rsa_creds)
    fake.series.append({"ticker": "KXT", "fee_type": "quadratic", "fee_multiplier": 1, "category": "X"})
    fake.events.append({"event_ticker": "KXT-26", "series_ticker": "KXT", "mutually_exclusive": False})

    async def go(c: KalshiClient) -> None:
        assert (await c.get_exchange_status())["trading_active"] is True
        assert "schedule" in await c.get_exchange_schedule()
        assert (await c.get_market("KXT-26-A"))["ticker"] == "KXT-26-A"
        assert (await c.get_orderbook("KXT-26-A"))["orderbook_fp"]["yes_dollars"][-1][0] == "0.4500"
        assert [s["ticker"] for s in await c.get_series_list()] == ["KXT"]
        assert (await c.get_series("KXT"))["fee_type"] == "quadratic"
        assert (await c.get_event("KXT-26"))["event"]["series_ticker"] == "KXT"
        assert [e["event_ticker"] async for e in c.iter_events(status="open")] == ["KXT-26"]
        assert (await c.get_balance())["balance"] == 100_000
        assert [p async for p in c.iter_positions()] == []
        assert [o async for o in c.iter_orders(status="resting")] == []
        assert [f async for f in c.iter_fills()] == []
        assert [s async for s in c.iter_settlements()] == []
        assert [t async for t in c.iter_trades(ticker="KXT-26-A")] == []

    run(make_client(fake, rsa_creds), go)


def test_errors_never_carry_secrets(rsa_creds: Credentials, ed_creds: Credentials) -> None:
    fake = small_fake(rsa_creds)
    client = make_client(fake, ed_creds)
    with pytest.raises(AuthError) as e:
        run(client, lambda c: c.get_balance())
    headers = KalshiAuth(ed_creds).headers("GET", "/trade-api/v2/portfolio/balance")
    text = str(e.value) + repr(e.value) + repr(client)
    assert headers["KALSHI-ACCESS-SIGNATURE"][:20] not in text
    assert ed_creds.key_id not in str(e.value)
