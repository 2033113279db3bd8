"""Token buckets with a fake clock: costs, refill, FIFO waits, batches that cannot fit."""

from __future__ import annotations

import asyncio
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kalashi_cli.domain import AccountLimits
from kalashi_cli.kalshi.ratelimit import BatchTooLarge, RateLimiter, RetryPolicy, TokenBucket, endpoint_cost

from .conftest import FakeClock


def test_endpoint_costs() -> None:
    assert endpoint_cost("GET", "/markets") == ("read", 10)
    assert endpoint_cost("GET", "/portfolio/orders/abc") == ("read", 2)
    assert endpoint_cost("GET", "/portfolio/orders/queue_positions") == ("read", 10)
    assert endpoint_cost("GET", "/portfolio/orders") == ("read", 10)
    assert endpoint_cost("POST", "/portfolio/events/orders") == ("write", 10)
    assert endpoint_cost("DELETE", "/portfolio/events/orders/abc") == ("write", 2)
    assert endpoint_cost("DELETE", "/portfolio/events/orders") == ("write", 10)  # cancel-all: default
    assert endpoint_cost("POST", "/portfolio/events/orders/batched", 7) == ("write", 70)
    assert endpoint_cost("DELETE", "/portfolio/events/orders/batched", 7) == ("write", 14)
    assert endpoint_cost("POST", "/portfolio/events/orders/abc/amend") == ("write", 10)


def test_bucket_waits_for_refill(fake_clock: FakeClock) -> None:
    bucket = TokenBucket(100, 100, clock=fake_clock, sleep=fake_clock.sleep)

    async def go() -> None:
        for _ in range(10):
            await bucket.acquire(10)  # drains the burst without waiting
        assert fake_clock.sleeps == []
        await bucket.acquire(10)  # needs 10 tokens at 100/s → 0.1 s

    asyncio.run(go())
    assert fake_clock.sleeps == [pytest.approx(0.1)]


def test_batch_that_cannot_fit_is_refused_before_waiting(fake_clock: FakeClock) -> None:
    rl = RateLimiter((200, 400), (100, 100), clock=fake_clock, sleep=fake_clock.sleep)
    assert rl.max_batch() == 10 and rl.max_batch(2) == 50
    with pytest.raises(BatchTooLarge) as e:
        asyncio.run(rl.acquire("POST", "/portfolio/events/orders/batched", 11))
    assert "at most 10 orders per batch" in str(e.value)
    asyncio.run(rl.acquire("POST", "/portfolio/events/orders/batched", 10))  # exactly fits
    assert rl.write.tokens == 0


def test_configure_from_account_limits(fake_clock: FakeClock) -> None:
    limits = AccountLimits("premier", 1000, 1000, 1000, 2000)
    rl = RateLimiter.from_limits(limits, clock=fake_clock, sleep=fake_clock.sleep)
    assert (rl.read.rate, rl.read.capacity, rl.write.rate, rl.write.capacity) == (1000, 1000, 1000, 2000)
    assert rl.max_batch() == 200
    rl2 = RateLimiter(clock=fake_clock, sleep=fake_clock.sleep)
    rl2.configure(limits)
    assert rl2.write.capacity == 2000 and rl2.usage_tier == "premier"


def test_waiters_are_served_in_arrival_order(fake_clock: FakeClock) -> None:
    bucket = TokenBucket(10, 10, clock=fake_clock, sleep=fake_clock.sleep)
    order: list[str] = []

    async def take(name: str, cost: int) -> None:
        await bucket.acquire(cost)
        order.append(name)

    async def go() -> None:
        await bucket.acquire(10)
        await asyncio.gather(take("big", 10), take("small1", 1), take("small2", 1))

    asyncio.run(go())
    assert order == ["big", "small1", "small2"]


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.integers(min_value=1, max_value=50), min_size=1, max_size=40), st.integers(min_value=1, max_value=100)
)
def test_never_spends_more_than_rate_allows(costs: list[int], rate: int) -> None:
    clock = FakeClock()
    capacity = 50
    bucket = TokenBucket(rate, capacity, clock=clock, sleep=clock.sleep)
    start = clock.now

    async def go() -> None:
        for c in costs:
            await bucket.acquire(c)

    asyncio.run(go())
    elapsed = clock.now - start
    # Tokens spent can never exceed the initial burst plus what refilled meanwhile.
    assert sum(costs) <= capacity + rate * elapsed + 1e-6


def test_retry_delay_is_jittered_bounded_and_seeded() -> None:
    policy = RetryPolicy(max_retries=5, base_delay=0.1, max_delay=1.0)
    a = [policy.delay(n, random.Random(7)) for n in range(6)]
    b = [policy.delay(n, random.Random(7)) for n in range(6)]
    assert a == b
    for n, d in enumerate(a):
        cap = min(1.0, 0.1 * 2**n)
        assert cap / 2 <= d <= cap
