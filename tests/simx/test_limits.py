"""Kalshi's token buckets, per key, with Kalshi's 429 body (REFERENCE §8)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from kalashi_cli.errors import UsageError
from kalashi_cli.kalshi.rest import KalshiClient
from kalashi_cli.money import Price, fmt_price
from kalashi_cli.sim.server import (
    TIERS,
    DemoKey,
    ExchangeConfig,
    RateLimits,
    SimExchange,
    SimExchangeServer,
    keyring_from,
    tier_named,
)
from kalashi_cli.sim.server.limits import request_cost

from .conftest import MARKETS, Sim, credentials, run


class FrozenClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_costs_follow_the_documented_table() -> None:
    assert request_cost("GET", "/markets") == ("read", 10)
    assert request_cost("GET", "/portfolio/orders/abc") == ("read", 2)  # get order: 2
    assert request_cost("GET", "/portfolio/orders/queue_positions") == ("read", 10)
    assert request_cost("POST", "/portfolio/events/orders") == ("write", 10)
    assert request_cost("DELETE", "/portfolio/events/orders/abc") == ("write", 2)  # cancel: 2
    assert request_cost("POST", "/portfolio/events/orders/batched", 7) == ("write", 70)  # 10 per item
    assert request_cost("DELETE", "/portfolio/events/orders/batched", 7) == ("write", 14)  # 2 per item
    assert request_cost("PUT", "/portfolio/order_groups/g/reset") == ("write", 10)


def test_tiers_and_capacities() -> None:
    basic = TIERS["basic"]
    assert (basic.read_rate, basic.read_capacity, basic.write_rate, basic.write_capacity) == (200, 400, 100, 100)
    premier = tier_named("Premier")
    assert (premier.read_capacity, premier.write_capacity) == (1000, 2000)  # §8: write holds 2 s above Basic
    with pytest.raises(UsageError):
        tier_named("platinum")


def test_buckets_refill_per_key_and_refuse_without_charging() -> None:
    clock = FrozenClock()
    rl = RateLimits(TIERS["basic"], clock=clock)
    for _ in range(10):
        assert rl.allow("a", "POST", "/portfolio/events/orders")
    assert not rl.allow("a", "POST", "/portfolio/events/orders")
    assert rl.allow("b", "POST", "/portfolio/events/orders")  # another key has its own buckets
    assert rl.allow("a", "GET", "/markets")  # reads bill another bucket
    clock.t += 0.05  # 5 write tokens later: a cancel (2) fits, a create (10) does not
    assert rl.allow("a", "DELETE", "/portfolio/events/orders/x")
    assert not rl.allow("a", "POST", "/portfolio/events/orders")
    clock.t += 0.1
    assert rl.allow("a", "POST", "/portfolio/events/orders")
    assert rl.refused == 2


def test_a_batch_must_fit_the_bucket_whole() -> None:
    clock = FrozenClock()
    rl = RateLimits(TIERS["basic"], clock=clock)
    assert not rl.allow("a", "POST", "/portfolio/events/orders/batched", 11)  # 110 > capacity 100
    assert rl.allow("a", "POST", "/portfolio/events/orders/batched", 10)  # nothing was charged before
    assert not rl.allow("a", "DELETE", "/portfolio/events/orders/batched", 1)


@pytest.fixture
def frozen_sim(demo_key: DemoKey) -> Iterator[Sim]:
    x = SimExchange(
        ExchangeConfig(markets=MARKETS, speed=0, tier=TIERS["basic"]),
        keyring_from(demo=[demo_key]),
        monotonic=FrozenClock(),
    )
    s = Sim(SimExchangeServer(x, port=0).start(), demo_key)
    try:
        yield s
    finally:
        s.close()


def _order(ticker: str, price: str) -> dict[str, str]:
    return {
        "ticker": ticker,
        "side": "bid",
        "price": price,
        "count": "1",
        "time_in_force": "good_till_canceled",
        "self_trade_prevention_type": "maker",
    }


def test_over_budget_requests_get_429_and_change_nothing(frozen_sim: Sim) -> None:
    sim = frozen_sim
    m = sim.active_market()
    price = fmt_price(m.yes_bid or Price(100))
    codes = [sim.http.post("portfolio/events/orders", json=_order(m.ticker, price)).status_code for _ in range(11)]
    assert codes == [201] * 10 + [429]
    r = sim.http.post("portfolio/events/orders", json=_order(m.ticker, price))
    assert r.status_code == 429 and r.json() == {"error": "too many requests"}
    assert "retry-after" not in r.headers  # Kalshi sends none
    assert len(sim.http.get("portfolio/orders").json()["orders"]) == 10
    batch = {"orders": [_order(m.ticker, price)] * 2}
    assert sim.http.post("portfolio/events/orders/batched", json=batch).status_code == 429
    assert len(sim.http.get("portfolio/orders").json()["orders"]) == 10
    # reads still work (another bucket) and cost 10: 400 capacity → 40 reads, then 429
    reads = [sim.http.get("exchange/status").status_code for _ in range(41)]
    assert reads.count(200) == 38 and reads[-1] == 429  # two GET /portfolio/orders above took 20


def test_account_limits_report_the_tier_and_our_client_stays_under_them(limited_sim: Sim) -> None:
    sim = limited_sim
    limits = sim.http.get("account/limits").json()
    assert limits["usage_tier"] == "basic"
    assert limits["write"] == {"refill_rate": 100, "bucket_capacity": 100}
    m = sim.active_market()
    body = _order(m.ticker, fmt_price(m.yes_bid or Price(100)))

    async def burst() -> list[int]:
        from kalashi_cli.kalshi.auth import KalshiAuth

        async with KalshiClient(sim.url, auth=KalshiAuth(credentials(sim.key))) as c:
            await c.configure_rate_limits()
            acks = [await c.create_order(body) for _ in range(25)]
            return [len(acks)]

    assert run(burst()) == [25]  # the client's buckets waited instead of collecting 429s
    state = httpx.get(sim.root + "/_sim/state", trust_env=False).json()
    assert state["rate_limited"] == 0
