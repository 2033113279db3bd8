"""One API key, one set of token buckets: shared by source and broker, safe across their event loops."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import pytest

from kalashi_cli.context import account_limiter, open_source
from kalashi_cli.domain import AccountLimits
from kalashi_cli.kalshi.env import PROD
from kalashi_cli.kalshi.ratelimit import TokenBucket, shared_limiter
from kalashi_cli.profile import parse_profile

from .conftest import FakeClock

SIM = "http://127.0.0.1:8800/trade-api/v2"


def test_one_limiter_per_key_and_server() -> None:
    a = shared_limiter("key-a", SIM)
    assert shared_limiter("key-a", "http://127.0.0.1:8800/trade-api/v2/") is a  # same host, any spelling
    assert shared_limiter("key-b", SIM) is not a
    assert shared_limiter("key-a", "http://127.0.0.1:8801/trade-api/v2") is not a
    assert shared_limiter(None, SIM) is not a  # unsigned requests have their own (anonymous) budget
    assert shared_limiter(None, SIM) is shared_limiter(None, SIM)


def test_a_profile_sets_the_starting_buckets_until_the_exchange_answers() -> None:
    lim = shared_limiter("key-p", SIM)  # e.g. a source opened without a profile: Basic tier
    assert (lim.read.rate, lim.read.capacity) == (200, 400)
    assert shared_limiter("key-p", SIM, (37, 74), (20, 20)) is lim  # the broker's profile: same buckets
    assert (lim.read.rate, lim.read.capacity, lim.write.capacity) == (37, 74, 20)
    lim.configure(AccountLimits("premier", 1000, 1000, 1000, 2000))
    shared_limiter("key-p", SIM, (37, 74), (20, 20))
    assert (lim.read.rate, lim.write.capacity) == (1000, 2000)  # the exchange's numbers win


def test_context_gives_source_and_broker_the_same_buckets(
    monkeypatch: pytest.MonkeyPatch, rsa_pkcs1_file: Path
) -> None:
    prof = parse_profile("rate_limits:\n  read_per_second: 41\n  read_capacity: 82\n")
    for var in ("KALSHI_API_KEY_ID", "KALSHI_PRIVATE_KEY_PATH", "KALSHI_KEY_ENV", "KALASHI_EXCHANGE_URL"):
        monkeypatch.delenv(var, raising=False)
    src = open_source("kalshi", prof)
    try:
        assert src.client.limiter is account_limiter(prof, None, PROD.rest_url)  # type: ignore[attr-defined]
        assert src.client.limiter.read.rate == 41  # type: ignore[attr-defined]
    finally:
        src.close()
    # a key declared for production: the source signs, and its buckets are the key's
    monkeypatch.setenv("KALSHI_API_KEY_ID", "key-ctx")
    monkeypatch.setenv("KALSHI_PRIVATE_KEY_PATH", str(rsa_pkcs1_file))
    monkeypatch.setenv("KALSHI_KEY_ENV", "prod")
    limiter = account_limiter(prof, "key-ctx", PROD.rest_url)
    limiter.from_exchange = True  # as if /account/limits had answered: no network in this test
    from kalashi_cli.kalshi.rest import KalshiClient

    monkeypatch.setattr(KalshiClient, "configure_rate_limits", _no_limits)
    src = open_source("kalshi", prof)
    try:
        assert src.client.limiter is limiter  # type: ignore[attr-defined]
    finally:
        src.close()


async def _no_limits(self: object) -> None:
    return None


def test_headroom_keeps_refill_in_hand_but_lets_a_whole_bucket_batch_go(fake_clock: FakeClock) -> None:
    bucket = TokenBucket(100, 100, clock=fake_clock, sleep=fake_clock.sleep, headroom_s=0.1)

    async def go() -> None:
        for _ in range(9):
            await bucket.acquire(10)
        assert fake_clock.sleeps == []
        await bucket.acquire(10)  # would leave less than 0.1 s of refill (10 tokens) in hand
        assert fake_clock.sleeps == [pytest.approx(0.1)]
        fake_clock.now += 10  # full again
        await bucket.acquire(100)  # a batch that costs the whole bucket still goes at once
        assert len(fake_clock.sleeps) == 1

    asyncio.run(go())


def test_two_event_loops_share_one_bucket_without_overspending() -> None:
    # The source and the broker each run their own event loop thread; both wait on one bucket.
    bucket = TokenBucket(1000, 50, name="read")
    errors: list[BaseException] = []
    spent: list[float] = []

    def worker() -> None:
        async def go() -> None:
            for _ in range(15):
                await bucket.acquire(10)
                spent.append(time.monotonic())

        try:
            asyncio.run(go())
        except BaseException as e:  # an asyncio lock bound to the other loop would raise here
            errors.append(e)

    t0 = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert errors == [] and len(spent) == 30
    # 300 tokens from a bucket of 50 refilling at 1000/s: at least 0.25 s, whoever asked
    assert max(spent) - t0 >= 0.25 - 0.005
    for i, at in enumerate(sorted(spent)):
        assert 10 * (i + 1) <= 50 + 1000 * (at - t0) + 1e-6
