"""Kalshi's token-bucket rate limits, enforced per API key (REFERENCE §8).

Two independent buckets per key, *read* (GET) and *write* (order create/amend/cancel/decrease,
order groups); every request costs tokens (default 10; cancels and single-order reads 2;
batches cost per item and must fit the bucket whole, or the whole batch is refused). An
over-budget request is answered 429 ``{"error": "too many requests"}`` before anything is
processed; there is no Retry-After header and no penalty.

Written independently of the client's buckets (:mod:`kalashi_cli.kalshi.ratelimit`) on
purpose: the simulator checks the client, so it must not share the client's arithmetic.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from ...errors import UsageError

DEFAULT_COST = 10
CANCEL_COST = 2
GET_ORDER_COST = 2


@dataclass(frozen=True, slots=True)
class Tier:
    """One usage tier: refill rates (tokens/s) and bucket capacities."""

    name: str
    read_rate: int
    read_capacity: int
    write_rate: int
    write_capacity: int


def _tier(name: str, read: int, write: int) -> Tier:
    # §8 capacities: Basic/Advanced read buckets hold 2 s, higher read tiers 1 s; the Basic write
    # bucket holds 1 s, higher write tiers 2 s.
    read_cap = read * (2 if name in ("basic", "advanced") else 1)
    write_cap = write * (1 if name == "basic" else 2)
    return Tier(name, read, read_cap, write, write_cap)


TIERS: dict[str, Tier] = {
    t.name: t
    for t in (
        _tier("basic", 200, 100),
        _tier("advanced", 300, 300),
        _tier("expert", 600, 600),
        _tier("premier", 1000, 1000),
        _tier("paragon", 2000, 2000),
        _tier("prime", 4000, 4000),
        _tier("prestige", 10000, 8000),
    )
}


def tier_named(name: str) -> Tier:
    """Return a tier by name.

    Raises:
        UsageError: unknown tier.
    """
    t = TIERS.get(name.strip().lower())
    if t is None:
        raise UsageError(f"unknown API usage tier {name!r}", hint=f"use one of: {', '.join(TIERS)}")
    return t


_ORDER_BY_ID = re.compile(r"^/portfolio/orders/(?!queue_positions$)[^/]+$")
_CANCEL_ONE = re.compile(r"^/portfolio/events/orders/(?!batched$)[^/]+$")


def request_cost(method: str, path: str, items: int = 1) -> tuple[str, int]:
    """Return ``(bucket, tokens)`` for a request; ``path`` is relative to ``/trade-api/v2``."""
    method = method.upper()
    if method == "GET":
        return "read", GET_ORDER_COST if _ORDER_BY_ID.match(path) else DEFAULT_COST
    if path == "/portfolio/events/orders/batched":
        return "write", (CANCEL_COST if method == "DELETE" else DEFAULT_COST) * max(1, items)
    if method == "DELETE" and _CANCEL_ONE.match(path):
        return "write", CANCEL_COST
    return "write", DEFAULT_COST


class Bucket:
    """``rate`` tokens per second up to ``capacity``; starts full."""

    __slots__ = ("rate", "capacity", "tokens", "updated", "_clock")

    def __init__(self, rate: float, capacity: float, clock: Callable[[], float]) -> None:
        self.rate = float(rate)
        self.capacity = float(capacity)
        self.tokens = float(capacity)
        self._clock = clock
        self.updated = clock()

    def take(self, cost: int) -> bool:
        """Take ``cost`` tokens if the bucket holds them; a refusal takes nothing."""
        now = self._clock()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens + 1e-9 >= cost:
            self.tokens -= cost
            return True
        return False


class RateLimits:
    """The read and write buckets of every caller (API key id, or the address of anonymous callers)."""

    def __init__(
        self, tier: Tier = TIERS["basic"], *, enabled: bool = True, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.tier = tier
        self.enabled = enabled
        self._clock = clock
        self._buckets: dict[tuple[str, str], Bucket] = {}
        self.refused = 0

    def allow(self, caller: str, method: str, path: str, items: int = 1) -> bool:
        """Charge one request to ``caller``; False when it does not fit (answer 429)."""
        if not self.enabled:
            return True
        name, cost = request_cost(method, path, items)
        b = self._buckets.get((caller, name))
        if b is None:
            t = self.tier
            rate, cap = (t.read_rate, t.read_capacity) if name == "read" else (t.write_rate, t.write_capacity)
            b = self._buckets[(caller, name)] = Bucket(rate, cap, self._clock)
        if b.take(cost):
            return True
        self.refused += 1
        return False

    def limits_json(self) -> dict[str, object]:
        """GET /account/limits for this tier."""
        t = self.tier
        return {
            "usage_tier": t.name,
            "read": {"refill_rate": t.read_rate, "bucket_capacity": t.read_capacity},
            "write": {"refill_rate": t.write_rate, "bucket_capacity": t.write_capacity},
            "grants": [{"exchange_instance": "event_contract", "level": t.name, "source": "manual"}],
        }
