"""Client-side token buckets mirroring Kalshi's rate limits (REFERENCE §8, trap 9).

Kalshi bills every request in tokens from two independent buckets, *read* and *write*;
the default cost is 10, cancels and single-order reads cost 2, batches cost per item and
must fit the bucket **whole** or the entire batch is rejected. We keep the same buckets
locally so we wait instead of collecting 429s, and we refuse a batch that can never fit
before sending it.

The retry policy for the REST client lives here too: reads back off with jitter on 429
and on temporary errors; writes are never retried (see :mod:`kalashi_cli.kalshi.rest`).
"""

from __future__ import annotations

import asyncio
import random
import re
import threading
import time
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from ..domain import AccountLimits
from ..errors import UsageError

Bucket = Literal["read", "write"]
Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

DEFAULT_COST = 10
CANCEL_COST = 2
GET_ORDER_COST = 2

# Basic tier (§8): read 200/s holding 2 s, write 100/s holding 1 s. Used until
# GET /account/limits tells us the real numbers.
BASIC_READ = (200, 400)
BASIC_WRITE = (100, 100)


class BatchTooLarge(UsageError):
    """A batch costs more tokens than the bucket can ever hold; Kalshi would reject it whole."""


class TokenBucket:
    """A refilling bucket: ``rate`` tokens per second up to ``capacity``; waits are FIFO."""

    def __init__(
        self,
        rate: float,
        capacity: float,
        *,
        name: str = "bucket",
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        headroom_s: float = 0.0,
    ) -> None:
        if rate <= 0 or capacity <= 0:
            raise UsageError(f"{name} rate limit must be positive (rate {rate}, capacity {capacity})")
        self.name = name
        self.rate = float(rate)
        self.capacity = float(capacity)
        # Kalshi charges a request when it arrives, we when we send it. Arrival delays that vary
        # (a busy server, a busy network) can leave the server's bucket behind ours by up to
        # rate × the variation; keeping this many seconds of refill in hand absorbs that.
        self.headroom_s = headroom_s
        self._clock = clock
        self._sleep = sleep
        self._tokens = float(capacity)  # negative while requests that reserved tokens wait for them
        self._updated = clock()
        # A threading lock, not an asyncio one: the source and the broker of one API key share
        # this bucket from their own event loops (each on its own thread).
        self._mutex = threading.Lock()

    def _refill(self) -> None:
        now = self._clock()
        elapsed = now - self._updated
        if elapsed > 0:
            self._tokens = min(self.capacity, self._tokens + elapsed * self.rate)
        self._updated = now

    @property
    def tokens(self) -> float:
        """Tokens available now (0 while waiters hold reservations)."""
        with self._mutex:
            self._refill()
            return max(0.0, self._tokens)

    def check_fits(self, cost: float) -> None:
        """Refuse a cost the bucket can never pay in one go.

        Raises:
            BatchTooLarge: ``cost`` exceeds the bucket capacity.
        """
        if cost > self.capacity:
            raise BatchTooLarge(
                f"this request costs {cost:g} {self.name} tokens but the {self.name} bucket holds only "
                f"{self.capacity:g}; Kalshi would reject it whole",
                hint="split the batch into smaller batches (at most capacity ÷ cost per item)",
            )

    def try_take(self, cost: float) -> float:
        """Take ``cost`` tokens if available and return 0; else return the seconds to wait."""
        with self._mutex:
            self._refill()
            # The epsilon and the 1 ms floor keep float rounding from spinning on ever-smaller waits.
            if self._tokens + 1e-9 >= cost:
                self._tokens = max(0.0, self._tokens - cost)
                return 0.0
            return max((cost - self._tokens) / self.rate, 0.001)

    def reserve(self, cost: float) -> float:
        """Take ``cost`` tokens now, into debt if need be; return the seconds until they are paid.

        Reservations are served in call order from any thread, so a big batch is never
        starved by a stream of small reads and two event loops sharing the bucket never
        spend more than it refills.
        """
        with self._mutex:
            self._refill()
            # the headroom never stops a request that costs the whole bucket from going out on a full one
            keep = min(self.headroom_s * self.rate, self.capacity / 4, max(0.0, self.capacity - cost))
            self._tokens -= cost
            short = keep - self._tokens
            if short <= 1e-9:
                return 0.0
            return max(short / self.rate, 0.001)

    async def acquire(self, cost: float) -> None:
        """Wait until ``cost`` tokens are available, then take them (FIFO across threads).

        A waiter that is cancelled keeps its reservation spent: the bucket errs on the slow side.

        Raises:
            BatchTooLarge: ``cost`` exceeds the capacity (it could never be paid).
        """
        self.check_fits(cost)
        wait = self.reserve(cost)
        if wait > 0:
            await self._sleep(wait)

    def reconfigure(self, rate: float, capacity: float) -> None:
        """Adopt new limits (e.g. after a tier change); keeps the current fill, capped."""
        if rate <= 0 or capacity <= 0:
            return
        with self._mutex:
            self._refill()
            self.rate = float(rate)
            self.capacity = float(capacity)
            self._tokens = min(self._tokens, self.capacity)


_ORDER_BY_ID = re.compile(r"^/portfolio/orders/(?!queue_positions$)[^/]+$")
_V2_CANCEL_ONE = re.compile(r"^/portfolio/events/orders/(?!batched$)[^/]+$")


def endpoint_cost(method: str, path: str, items: int = 1) -> tuple[Bucket, int]:
    """Return (bucket, tokens) for a request; ``path`` is relative to ``/trade-api/v2``.

    GETs bill the read bucket, everything else the write bucket (§8). Known non-default
    costs: cancel 2, get order 2, batch create 10 × N, batch cancel 2 × N.
    """
    method = method.upper()
    path = path.split("?", 1)[0].rstrip("/")
    if method == "GET":
        return "read", GET_ORDER_COST if _ORDER_BY_ID.match(path) else DEFAULT_COST
    if path == "/portfolio/events/orders/batched":
        per_item = CANCEL_COST if method == "DELETE" else DEFAULT_COST
        return "write", per_item * max(1, items)
    if method == "DELETE" and _V2_CANCEL_ONE.match(path):
        return "write", CANCEL_COST
    return "write", DEFAULT_COST


class RateLimiter:
    """The read and write buckets of one account, with Kalshi's endpoint costs."""

    def __init__(
        self,
        read: tuple[float, float] = BASIC_READ,
        write: tuple[float, float] = BASIC_WRITE,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        headroom_s: float = 0.0,
    ) -> None:
        self.read = TokenBucket(read[0], read[1], name="read", clock=clock, sleep=sleep, headroom_s=headroom_s)
        self.write = TokenBucket(write[0], write[1], name="write", clock=clock, sleep=sleep, headroom_s=headroom_s)
        self.usage_tier = ""
        self.from_exchange = False  # True once /account/limits set the buckets

    @classmethod
    def from_limits(
        cls, limits: AccountLimits, *, clock: Clock = time.monotonic, sleep: Sleep = asyncio.sleep
    ) -> RateLimiter:
        """Build buckets from GET /account/limits."""
        rl = cls(
            (limits.read_rate, limits.read_capacity),
            (limits.write_rate, limits.write_capacity),
            clock=clock,
            sleep=sleep,
        )
        rl.usage_tier = limits.usage_tier
        rl.from_exchange = True
        return rl

    def configure(self, limits: AccountLimits) -> None:
        """Adopt the account's real limits (GET /account/limits)."""
        self.read.reconfigure(limits.read_rate, limits.read_capacity)
        self.write.reconfigure(limits.write_rate, limits.write_capacity)
        self.usage_tier = limits.usage_tier
        self.from_exchange = True

    def bucket(self, name: Bucket) -> TokenBucket:
        return self.read if name == "read" else self.write

    def max_batch(self, per_item: int = DEFAULT_COST) -> int:
        """Return the largest batch of creates (or cancels, ``per_item=2``) that fits the write bucket."""
        return int(self.write.capacity // per_item)

    def check(self, method: str, path: str, items: int = 1) -> tuple[TokenBucket, int]:
        """Return the bucket and cost for a request, refusing one that can never fit.

        Raises:
            BatchTooLarge: the request (a batch) costs more than the bucket holds.
        """
        name, cost = endpoint_cost(method, path, items)
        bucket = self.bucket(name)
        if cost > bucket.capacity:
            per_item = cost // max(1, items)
            raise BatchTooLarge(
                f"a batch of {items} costs {cost} write tokens but the write bucket holds "
                f"{bucket.capacity:g}; Kalshi rejects a batch that does not fit whole",
                hint=f"send at most {int(bucket.capacity // per_item)} orders per batch",
            )
        return bucket, cost

    async def acquire(self, method: str, path: str, items: int = 1) -> int:
        """Wait for and take the tokens a request costs; return the cost.

        Raises:
            BatchTooLarge: the request can never fit its bucket.
        """
        bucket, cost = self.check(method, path, items)
        await bucket.acquire(cost)
        return cost


Limits = tuple[float, float]  # (tokens per second, capacity)

#: Seconds of refill the shared buckets keep in hand (see :class:`TokenBucket`): 20 read tokens at Basic.
SHARED_HEADROOM_S = 0.1
_SHARED: weakref.WeakValueDictionary[tuple[str, str], RateLimiter] = weakref.WeakValueDictionary()
_SHARED_LOCK = threading.Lock()


def shared_limiter(
    key_id: str | None, rest_url: str, read: Limits | None = None, write: Limits | None = None
) -> RateLimiter:
    """Return the one set of token buckets of an API key on a server, creating it on first use.

    Kalshi bills every request signed with a key to that key's buckets, whoever in the
    process sends it: the market-data source and the broker of one key must therefore wait
    on the same buckets, or together they spend twice the tier's budget and collect 429s.
    Unsigned requests (``key_id`` None) share the anonymous buckets of that server.

    ``read``/``write`` are starting buckets (a profile's ``rate_limits``; Basic tier when None
    for a new limiter). Given for an existing limiter, they replace its starting buckets until
    the exchange has told the real ones (``/account/limits``), which always win. The buckets
    live as long as someone uses them.
    """
    host = (urlsplit(rest_url).netloc or rest_url).lower()
    key = (key_id or "", host)
    with _SHARED_LOCK:
        limiter = _SHARED.get(key)
        if limiter is None:
            limiter = RateLimiter(read or BASIC_READ, write or BASIC_WRITE, headroom_s=SHARED_HEADROOM_S)
            _SHARED[key] = limiter
        elif not limiter.from_exchange:
            if read is not None:
                limiter.read.reconfigure(*read)
            if write is not None:
                limiter.write.reconfigure(*write)
        return limiter


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Backoff for *reads* only: 429 and temporary errors (5xx, connection failures).

    Delay for attempt ``n`` (0-based) is ``d/2 + uniform(0, d/2)`` with
    ``d = min(max_delay, base_delay × 2**n)`` ("equal jitter"), so retries from many clients
    spread out but never collapse to zero.
    """

    max_retries: int = 4
    base_delay: float = 0.1  # at 1 000 tokens/s a 10-token call is affordable 10 ms later (§7.1)
    max_delay: float = 5.0

    def delay(self, attempt: int, rng: random.Random) -> float:
        growth: float = 2.0**attempt
        d = min(self.max_delay, self.base_delay * growth)
        return d / 2 + rng.uniform(0, d / 2)
