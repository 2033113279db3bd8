"""Async REST client for the Kalshi Trade API v2: one pooled ``httpx.AsyncClient``.

::

    KalshiClient(base_url, auth=KalshiAuth(...), transport=None, limiter=RateLimiter(), ...)
        reads    GET …          token bucket → request → retry 429/5xx/connect errors (bounded, jitter)
        writes   POST/DELETE/PUT token bucket → request → NEVER retried

Errors are translated at this boundary into :mod:`kalashi_cli.errors` (``raise … from e``):

    401 AuthError · 403 PermissionDenied · 404 NotFound · 409 Conflict · 429 RateLimited
    400 on an order → OrderRejected(code) · other 4xx → ExchangeError · 5xx → ExchangeUnavailable
    connection failed before sending → NetworkError
    a write sent whose answer was lost (timeout, reset, 5xx) → OutcomeUnknown

Methods return Kalshi's JSON (dicts); :mod:`kalashi_cli.kalshi.wire` turns it into domain
objects. Every response's ``Date`` header feeds :class:`ExchangeClock` (``client.clock``), the
exchange's time as opposed to the local clock. ``base_url`` is any Kalshi-compatible root ending in ``/trade-api/v2`` (prod, demo,
or a local simulator); ``transport=`` swaps in ``httpx.MockTransport`` for tests.

This module holds the transport (``KalshiClient.request``: rate limit, retries, the clock) and
:class:`ExchangeClock`; the endpoints are grouped by area of the API in mixins the client is
made of — :mod:`.rest_markets` (market data), :mod:`.rest_portfolio` (account and portfolio
reads), :mod:`.rest_orders` (order writes and groups) — and the HTTP status → error table is
:mod:`.rest_errors`.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Mapping
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import orjson

from ..domain import AccountLimits
from ..errors import ExchangeError, NetworkError, OutcomeUnknown
from ..ports import CallCounter
from .auth import KalshiAuth
from .ratelimit import SHARED_HEADROOM_S, RateLimiter, RetryPolicy, Sleep
from .rest_errors import http_error
from .rest_markets import EVENTS_PAGE_MAX, MARKETS_PAGE_MAX, ORDERBOOKS_BATCH_MAX, MarketDataEndpoints
from .rest_orders import OrderEndpoints
from .rest_portfolio import PortfolioEndpoints
from .wire import parse_account_limits

__all__ = ["EVENTS_PAGE_MAX", "MARKETS_PAGE_MAX", "ORDERBOOKS_BATCH_MAX", "ExchangeClock", "KalshiClient"]

log = logging.getLogger("kalashi.kalshi")

DEFAULT_TIMEOUT = 10.0

# Transport failures that prove the request never left this host: safe to report as a
# plain network error even for a write.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.ProxyError, httpx.UnsupportedProtocol)


def _clean(params: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in params.items():
        if v is None:
            continue
        out[k] = ("true" if v else "false") if isinstance(v, bool) else v
    return out


def _wall_ms() -> int:
    return time.time_ns() // 1_000_000


class ExchangeClock:
    """The exchange's clock as its HTTP ``Date`` headers show it: local wall time + a measured offset.

    Kalshi's ``Date`` is real time, so against Kalshi the offset is the local clock's skew;
    ``kalashi sim-exchange`` sends its simulated market clock, which runs faster than wall time.
    Quote expiries must be in the exchange's future, so they are set on this clock. Signing
    timestamps are not: Kalshi checks them against real time (auth.py keeps the wall clock).

    ``Date`` has 1-second resolution (truncated), so one reading is ±0.5 s plus half the round
    trip. The offset follows the latest reading, but only when it moves by more than that
    resolution: readings of a steady clock then leave it alone (no ±0.5 s jitter in ``now_ms``),
    while a clock that drifts (the simulator's) is followed within a second.
    """

    RESOLUTION_MS = 1000

    def __init__(self, wall_ms: Callable[[], int] = _wall_ms) -> None:
        self.wall_ms = wall_ms
        # (offset ms, local wall ms of the last reading): one tuple, so readers on another thread
        # never see an offset from one reading with the time of another
        self._state: tuple[int, int | None] = (0, None)

    @property
    def offset_ms(self) -> int:
        """Exchange time minus local wall time (0 until a ``Date`` header was seen)."""
        return self._state[0]

    @property
    def read_at_ms(self) -> int | None:
        """Local wall time of the last ``Date`` reading (None: the exchange never sent one)."""
        return self._state[1]

    def now_ms(self) -> int:
        """Return the exchange's current time in Unix milliseconds (best estimate)."""
        return self.wall_ms() + self._state[0]

    def age_ms(self) -> int | None:
        """Return how long ago (local ms) the last ``Date`` reading was taken; None if never."""
        read_at = self._state[1]
        return None if read_at is None else self.wall_ms() - read_at

    def observe(self, date: str | None, *, sent_ms: int, received_ms: int) -> None:
        """Note one response's ``Date`` header, sent at ``sent_ms`` and answered at ``received_ms`` (local).

        A missing or unreadable header is ignored.
        """
        if not date:
            return
        try:
            server_ms = int(parsedate_to_datetime(date).timestamp() * 1000)
        except (TypeError, ValueError, IndexError, OverflowError):
            return
        # the header is truncated to the second: on average the true time is half a second later;
        # the server wrote it about half-way through the round trip
        offset = server_ms + self.RESOLUTION_MS // 2 - (sent_ms + received_ms) // 2
        current, read_at = self._state
        if read_at is not None and abs(offset - current) <= self.RESOLUTION_MS:
            offset = current
        self._state = (offset, received_ms)


class KalshiClient(MarketDataEndpoints, PortfolioEndpoints, OrderEndpoints):
    """Async Kalshi REST client; use ``async with KalshiClient(...) as client``.

    The endpoint methods come from the area mixins (see the module docstring); this class is
    the one place a request is sent (:meth:`request`).
    """

    def __init__(
        self,
        base_url: str,
        *,
        auth: KalshiAuth | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        limiter: RateLimiter | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        rng: random.Random | None = None,
        sleep: Sleep = asyncio.sleep,
        counter: CallCounter | None = None,
        user_agent: str = "kalashi/0.1",
        clock: ExchangeClock | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        #: the exchange's clock, measured from every response's Date header
        self.clock = clock if clock is not None else ExchangeClock()
        self.auth = auth
        # keep a little refill in hand: the exchange charges a request when it arrives, and arrival
        # times jitter more than send times (see ratelimit.SHARED_HEADROOM_S)
        self.limiter = limiter if limiter is not None else RateLimiter(sleep=sleep, headroom_s=SHARED_HEADROOM_S)
        self.retry = retry if retry is not None else RetryPolicy()
        self.counter = counter if counter is not None else CallCounter()
        self._rng = rng if rng is not None else random.Random()
        self._sleep = sleep
        self._http = httpx.AsyncClient(
            base_url=self.base_url + "/",
            auth=auth,
            transport=transport,
            timeout=httpx.Timeout(timeout),
            headers={"User-Agent": user_agent, "Accept": "application/json"},
            follow_redirects=False,  # trailing-slash 301s would hide a path bug (§1)
            limits=httpx.Limits(max_connections=20, max_keepalive_connections=10),
        )

    def __repr__(self) -> str:
        return f"KalshiClient({self.base_url!r}, authenticated={self.auth is not None})"

    async def __aenter__(self) -> KalshiClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    @property
    def authenticated(self) -> bool:
        return self.auth is not None

    @property
    def api_calls(self) -> int:
        return self.counter.total

    # ------------------------------------------------------------------ core

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        items: int = 1,
        endpoint: str | None = None,
    ) -> Any:
        """Send one request under the rate limiter and return the decoded JSON body.

        ``path`` is relative to ``/trade-api/v2`` (``/markets``); list values in ``params``
        become repeated keys (``tickers=A&tickers=B``). GETs are retried on 429, 5xx and
        connection errors; every other method is sent exactly once.

        Raises:
            ExchangeError subclasses, NetworkError, OutcomeUnknown (writes), BatchTooLarge.
        """
        method = method.upper()
        label = endpoint or f"{method} {path}"
        query = _clean(params or {})
        content = orjson.dumps(json) if json is not None else None
        headers = {"Content-Type": "application/json"} if content is not None else None
        is_read = method == "GET"
        attempt = 0
        while True:
            await self.limiter.acquire(method, path, items)
            self.counter.add(label)
            sent_ms = self.clock.wall_ms()
            try:
                response = await self._http.request(
                    method, path.lstrip("/"), params=query, content=content, headers=headers
                )
            except _NOT_SENT as e:
                if is_read and attempt < self.retry.max_retries:
                    await self._backoff(attempt, label, type(e).__name__)
                    attempt += 1
                    continue
                raise NetworkError(
                    f"could not connect to {self.base_url} for {label}: {type(e).__name__}",
                    hint="check the network and the base URL; nothing was sent",
                ) from e
            except httpx.TransportError as e:
                if not is_read:
                    # The request may have reached Kalshi and been processed: we cannot know.
                    raise OutcomeUnknown(
                        f"{label} was sent but no answer arrived ({type(e).__name__})",
                        hint="reconcile by client_order_id before sending anything else on this market",
                    ) from e
                if attempt < self.retry.max_retries:
                    await self._backoff(attempt, label, type(e).__name__)
                    attempt += 1
                    continue
                raise NetworkError(
                    f"{label} failed after {attempt + 1} attempts: {type(e).__name__}",
                    hint="check connectivity; the call may be retried",
                ) from e
            # every answer carries the exchange's time, errors included
            self.clock.observe(response.headers.get("date"), sent_ms=sent_ms, received_ms=self.clock.wall_ms())
            status = response.status_code
            if status < 300:
                if not response.content:
                    return {}
                try:
                    return orjson.loads(response.content)
                except orjson.JSONDecodeError as e:
                    if not is_read:
                        raise OutcomeUnknown(
                            f"{label} answered {status} with a body that is not JSON",
                            hint="reconcile before sending more",
                            status=status,
                        ) from e
                    raise ExchangeError(f"{label} answered {status} with a body that is not JSON", status=status) from e
            retryable = status == 429 or status >= 500
            if is_read and retryable and attempt < self.retry.max_retries:
                await self._backoff(attempt, label, str(status))
                attempt += 1
                continue
            raise http_error(response, label, is_read=is_read, path=path, authenticated=self.auth is not None)

    async def _backoff(self, attempt: int, label: str, why: str) -> None:
        delay = self.retry.delay(attempt, self._rng)
        log.info("retrying %s after %s in %.3fs (attempt %d)", label, why, delay, attempt + 1)
        await self._sleep(delay)

    async def configure_rate_limits(self) -> AccountLimits | None:
        """Adopt the account's real token buckets when authenticated; None when anonymous."""
        if self.auth is None:
            return None
        limits = parse_account_limits(await self.get_account_limits())
        self.limiter.configure(limits)
        return limits
