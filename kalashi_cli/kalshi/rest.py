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
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import orjson

from ..domain import AccountLimits
from ..errors import (
    AuthError,
    Conflict,
    ExchangeError,
    ExchangeUnavailable,
    NetworkError,
    NotFound,
    OrderRejected,
    OutcomeUnknown,
    PermissionDenied,
    RateLimited,
    UsageError,
)
from ..ports import CallCounter
from .auth import KEY_ID_VAR, KEY_PATH_VAR, KalshiAuth
from .ratelimit import SHARED_HEADROOM_S, RateLimiter, RetryPolicy, Sleep
from .wire import error_of, parse_account_limits

log = logging.getLogger("kalashi.exchange")

MARKETS_PAGE_MAX = 1000
EVENTS_PAGE_MAX = 200
ORDERBOOKS_BATCH_MAX = 100
DEFAULT_TIMEOUT = 10.0

# Transport failures that prove the request never left this host: safe to report as a
# plain network error even for a write.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.ProxyError,
             httpx.UnsupportedProtocol)

_ORDER_PATH_PREFIXES = ("/portfolio/events/orders", "/portfolio/order_groups")


def _chunks(items: Sequence[str], size: int) -> list[list[str]]:
    return [list(items[i:i + size]) for i in range(0, len(items), size)]


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


class KalshiClient:
    """Async Kalshi REST client; use ``async with KalshiClient(...) as client``."""

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
                raise NetworkError(f"{label} failed after {attempt + 1} attempts: {type(e).__name__}",
                                   hint="check connectivity; the call may be retried") from e
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
                        raise OutcomeUnknown(f"{label} answered {status} with a body that is not JSON",
                                             hint="reconcile before sending more", status=status) from e
                    raise ExchangeError(f"{label} answered {status} with a body that is not JSON",
                                        status=status) from e
            retryable = status == 429 or status >= 500
            if is_read and retryable and attempt < self.retry.max_retries:
                await self._backoff(attempt, label, str(status))
                attempt += 1
                continue
            raise self._error(response, label, is_read=is_read, path=path)

    async def _backoff(self, attempt: int, label: str, why: str) -> None:
        delay = self.retry.delay(attempt, self._rng)
        log.info("retrying %s after %s in %.3fs (attempt %d)", label, why, delay, attempt + 1)
        await self._sleep(delay)

    def _error(self, response: httpx.Response, label: str, *, is_read: bool, path: str) -> Exception:
        status = response.status_code
        try:
            body = orjson.loads(response.content) if response.content else None
        except orjson.JSONDecodeError:
            body = None
        code, text = error_of(body)
        detail = f" ({text})" if text else ""
        kw: dict[str, Any] = {"status": status, "code": code}
        if status == 429:
            # 429 is definite for writes too: Kalshi rejects an over-budget request before
            # processing it (REFERENCE §7.1 "no penalty — retry"; §8 buckets are checked at
            # arrival), so the order was NOT placed and may be re-sent under the same id.
            return RateLimited(f"{label}: too many requests (429)",
                               hint="back off; lower the request rate or upgrade the API tier", **kw)
        if status >= 500:
            if not is_read:
                return OutcomeUnknown(f"{label}: exchange error {status}{detail} after the request was sent",
                                      hint="reconcile by client_order_id before sending anything else "
                                      "on this market", **kw)
            return ExchangeUnavailable(f"{label}: exchange unavailable ({status}){detail}",
                                       hint="retry later; Kalshi may be in maintenance "
                                       "(Thursdays 03:00–05:00 ET)", **kw)
        if status == 401:
            if self.auth is None:
                return AuthError(f"{label}: authentication required (401){detail}",
                                 hint=f"set {KEY_ID_VAR} and {KEY_PATH_VAR}", **kw)
            return AuthError(f"{label}: Kalshi rejected the credentials (401){detail}",
                             hint=f"check {KEY_ID_VAR}, the key file, and that the clock is NTP-synced", **kw)
        if status == 403:
            return PermissionDenied(f"{label}: forbidden (403){detail}",
                                    hint="the API key lacks the scope for this call (needs read+write)", **kw)
        if status == 404:
            return NotFound(f"{label}: not found (404){detail}",
                            hint="check the ticker or id; old data is under /historical", **kw)
        if status == 409:
            return Conflict(f"{label}: conflict (409){detail}",
                            hint="this client_order_id was used before: reconcile instead of resending", **kw)
        if status == 400 and not is_read and path.startswith(_ORDER_PATH_PREFIXES):
            return OrderRejected(f"{label}: order rejected{detail}" + (f" [{code}]" if code else ""),
                                 hint="check price grid, size, balance and market status", **kw)
        return ExchangeError(f"{label}: HTTP {status}{detail}", hint="check the request parameters", **kw)

    async def get(self, path: str, params: Mapping[str, Any] | None = None, *, endpoint: str | None = None) -> Any:
        return await self.request("GET", path, params=params, endpoint=endpoint or f"GET {path}")

    async def paginate(
        self, path: str, key: str, params: Mapping[str, Any] | None = None, *, limit: int,
        endpoint: str | None = None, max_pages: int | None = None,
    ) -> AsyncIterator[Any]:
        """Yield every item of ``key`` across cursor pages; stop on an empty/absent cursor (§5.1)."""
        cursor: str | None = None
        seen: set[str] = set()
        pages = 0
        while True:
            query = dict(params or {})
            query["limit"] = limit
            if cursor:
                query["cursor"] = cursor
            body = await self.get(path, query, endpoint=endpoint or f"GET {path}")
            pages += 1
            for item in (body.get(key) or ()) if isinstance(body, Mapping) else ():
                yield item
            cursor = body.get("cursor") if isinstance(body, Mapping) else None
            if not cursor or not isinstance(cursor, str) or cursor in seen:
                return
            if max_pages is not None and pages >= max_pages:
                return
            seen.add(cursor)

    # ------------------------------------------------------------------ exchange

    async def get_exchange_status(self) -> dict[str, Any]:
        """GET /exchange/status."""
        return await self.get("/exchange/status")  # type: ignore[no-any-return]

    async def get_exchange_schedule(self) -> dict[str, Any]:
        """GET /exchange/schedule."""
        return await self.get("/exchange/schedule")  # type: ignore[no-any-return]

    async def get_account_limits(self) -> dict[str, Any]:
        """GET /account/limits (auth)."""
        return await self.get("/account/limits")  # type: ignore[no-any-return]

    async def configure_rate_limits(self) -> AccountLimits | None:
        """Adopt the account's real token buckets when authenticated; None when anonymous."""
        if self.auth is None:
            return None
        limits = parse_account_limits(await self.get_account_limits())
        self.limiter.configure(limits)
        return limits

    # ------------------------------------------------------------------ market data

    @staticmethod
    def _market_filters(
        status: str | None, event_ticker: str | None, series_ticker: str | None,
        tickers: Sequence[str] | None, min_close_ts: int | None, max_close_ts: int | None,
        mve_filter: str | None,
    ) -> dict[str, Any]:
        return {
            "status": status,
            "event_ticker": event_ticker,
            "series_ticker": series_ticker,
            # GET /markets takes ONE comma-separated string (trap 8), unlike /markets/orderbooks.
            "tickers": ",".join(tickers) if tickers else None,
            "min_close_ts": min_close_ts,
            "max_close_ts": max_close_ts,
            "mve_filter": mve_filter,
        }

    async def get_markets_page(
        self, *, limit: int = MARKETS_PAGE_MAX, cursor: str | None = None, status: str | None = None,
        event_ticker: str | None = None, series_ticker: str | None = None, tickers: Sequence[str] | None = None,
        min_close_ts: int | None = None, max_close_ts: int | None = None, mve_filter: str | None = None,
    ) -> dict[str, Any]:
        """GET /markets, one page: ``{markets, cursor}``. ``*_close_ts`` are Unix seconds.

        Raises:
            UsageError: ``limit`` outside 1..1000.
        """
        if not 1 <= limit <= MARKETS_PAGE_MAX:
            raise UsageError(f"markets page limit must be 1..{MARKETS_PAGE_MAX}, got {limit}")
        params = self._market_filters(status, event_ticker, series_ticker, tickers, min_close_ts,
                                      max_close_ts, mve_filter)
        params["limit"] = limit
        params["cursor"] = cursor
        return await self.get("/markets", params)  # type: ignore[no-any-return]

    async def iter_markets(
        self, *, limit: int = MARKETS_PAGE_MAX, status: str | None = None, event_ticker: str | None = None,
        series_ticker: str | None = None, tickers: Sequence[str] | None = None,
        min_close_ts: int | None = None, max_close_ts: int | None = None, mve_filter: str | None = None,
    ) -> AsyncIterator[dict[str, Any]]:
        """Yield every market object across all pages of GET /markets."""
        if not 1 <= limit <= MARKETS_PAGE_MAX:
            raise UsageError(f"markets page limit must be 1..{MARKETS_PAGE_MAX}, got {limit}")
        params = self._market_filters(status, event_ticker, series_ticker, tickers, min_close_ts,
                                      max_close_ts, mve_filter)
        async for m in self.paginate("/markets", "markets", params, limit=limit):
            yield m

    async def get_market(self, ticker: str) -> dict[str, Any]:
        """GET /markets/{ticker} → the market object."""
        body = await self.get(f"/markets/{ticker}", endpoint="GET /markets/{ticker}")
        return body.get("market", body) if isinstance(body, dict) else {}

    async def get_orderbook(self, ticker: str, *, depth: int | None = None) -> dict[str, Any]:
        """GET /markets/{ticker}/orderbook → ``{orderbook_fp: {yes_dollars, no_dollars}}``."""
        return await self.get(f"/markets/{ticker}/orderbook", {"depth": depth},  # type: ignore[no-any-return]
                              endpoint="GET /markets/{ticker}/orderbook")

    async def get_orderbooks(self, tickers: Sequence[str]) -> list[dict[str, Any]]:
        """GET /markets/orderbooks in chunks of ≤100 tickers; return the ``orderbooks`` entries.

        Tickers go as repeated keys (``?tickers=A&tickers=B``, trap 8).
        """
        out: list[dict[str, Any]] = []
        unique = list(dict.fromkeys(tickers))
        for chunk in _chunks(unique, ORDERBOOKS_BATCH_MAX):
            body = await self.get("/markets/orderbooks", {"tickers": chunk})
            out.extend(e for e in (body.get("orderbooks") or ()) if isinstance(e, dict))
        return out

    async def get_events_page(
        self, *, limit: int = EVENTS_PAGE_MAX, cursor: str | None = None, status: str | None = None,
        series_ticker: str | None = None, tickers: Sequence[str] | None = None,
        with_nested_markets: bool = False, min_close_ts: int | None = None,
    ) -> dict[str, Any]:
        """GET /events, one page (limit ≤ 200).

        Raises:
            UsageError: ``limit`` outside 1..200.
        """
        if not 1 <= limit <= EVENTS_PAGE_MAX:
            raise UsageError(f"events page limit must be 1..{EVENTS_PAGE_MAX}, got {limit}")
        return await self.get("/events", {  # type: ignore[no-any-return]
            "limit": limit, "cursor": cursor, "status": status, "series_ticker": series_ticker,
            "tickers": ",".join(tickers) if tickers else None,
            "with_nested_markets": with_nested_markets or None, "min_close_ts": min_close_ts,
        })

    async def iter_events(
        self, *, limit: int = EVENTS_PAGE_MAX, status: str | None = None, series_ticker: str | None = None,
        tickers: Sequence[str] | None = None, with_nested_markets: bool = False,
    ) -> AsyncIterator[dict[str, Any]]:
        """Yield every event across all pages of GET /events (multivariate events are excluded by Kalshi)."""
        if not 1 <= limit <= EVENTS_PAGE_MAX:
            raise UsageError(f"events page limit must be 1..{EVENTS_PAGE_MAX}, got {limit}")
        params = {"status": status, "series_ticker": series_ticker,
                  "tickers": ",".join(tickers) if tickers else None,
                  "with_nested_markets": with_nested_markets or None}
        async for e in self.paginate("/events", "events", params, limit=limit):
            yield e

    async def get_event(self, event_ticker: str, *, with_nested_markets: bool = False) -> dict[str, Any]:
        """GET /events/{event_ticker} → ``{event, markets}``."""
        return await self.get(f"/events/{event_ticker}",  # type: ignore[no-any-return]
                              {"with_nested_markets": with_nested_markets or None},
                              endpoint="GET /events/{event_ticker}")

    async def get_series_list(self, *, category: str | None = None, tags: str | None = None) -> list[dict[str, Any]]:
        """GET /series → the list of series (fee_type, fee_multiplier, category)."""
        body = await self.get("/series", {"category": category, "tags": tags})
        return [s for s in (body.get("series") or ()) if isinstance(s, dict)]

    async def get_series(self, series_ticker: str) -> dict[str, Any]:
        """GET /series/{series_ticker} → the series object."""
        body = await self.get(f"/series/{series_ticker}", endpoint="GET /series/{series_ticker}")
        return body.get("series", body) if isinstance(body, dict) else {}

    async def iter_trades(
        self, *, ticker: str | None = None, min_ts: int | None = None, max_ts: int | None = None,
        limit: int = 1000,
    ) -> AsyncIterator[dict[str, Any]]:
        """Yield public trades (GET /markets/trades); ``*_ts`` are Unix seconds."""
        async for t in self.paginate("/markets/trades", "trades",
                                     {"ticker": ticker, "min_ts": min_ts, "max_ts": max_ts}, limit=limit):
            yield t

    async def get_candlesticks(
        self, series_ticker: str, ticker: str, *, start_ts: int, end_ts: int, period_interval: int = 60,
    ) -> dict[str, Any]:
        """GET /series/{s}/markets/{t}/candlesticks; ``period_interval`` ∈ {1, 60, 1440} minutes.

        Raises:
            UsageError: unsupported period.
        """
        if period_interval not in (1, 60, 1440):
            raise UsageError(f"period_interval must be 1, 60 or 1440 minutes, got {period_interval}")
        return await self.get(  # type: ignore[no-any-return]
            f"/series/{series_ticker}/markets/{ticker}/candlesticks",
            {"start_ts": start_ts, "end_ts": end_ts, "period_interval": period_interval},
            endpoint="GET /series/{series_ticker}/markets/{ticker}/candlesticks",
        )

    # ------------------------------------------------------------------ portfolio reads

    async def get_balance(self, *, subaccount: int | None = None, exchange_index: int | None = None) -> dict[str, Any]:
        """GET /portfolio/balance (per-shard ``balance_breakdown`` when present)."""
        return await self.get("/portfolio/balance",  # type: ignore[no-any-return]
                              {"subaccount": subaccount, "exchange_index": exchange_index})

    async def iter_positions(
        self, *, ticker: str | None = None, event_ticker: str | None = None, count_filter: str | None = None,
        subaccount: int | None = None, limit: int = 1000,
    ) -> AsyncIterator[dict[str, Any]]:
        """Yield market positions (GET /portfolio/positions ``market_positions``)."""
        async for p in self.paginate("/portfolio/positions", "market_positions",
                                     {"ticker": ticker, "event_ticker": event_ticker,
                                      "count_filter": count_filter, "subaccount": subaccount}, limit=limit):
            yield p

    async def iter_orders(
        self, *, ticker: str | None = None, event_ticker: str | None = None, status: str | None = None,
        min_ts: int | None = None, max_ts: int | None = None, subaccount: int | None = None, limit: int = 1000,
    ) -> AsyncIterator[dict[str, Any]]:
        """Yield orders (GET /portfolio/orders); status ∈ resting|canceled|executed."""
        async for o in self.paginate("/portfolio/orders", "orders",
                                     {"ticker": ticker, "event_ticker": event_ticker, "status": status,
                                      "min_ts": min_ts, "max_ts": max_ts, "subaccount": subaccount},
                                     limit=limit):
            yield o

    async def get_order(self, order_id: str) -> dict[str, Any]:
        """GET /portfolio/orders/{order_id} → the order (costs 2 tokens)."""
        body = await self.get(f"/portfolio/orders/{order_id}", endpoint="GET /portfolio/orders/{order_id}")
        return body.get("order", body) if isinstance(body, dict) else {}

    async def get_queue_positions(self, *, market_tickers: Sequence[str] | None = None,
                                  event_ticker: str | None = None,
                                  subaccount: int | None = None) -> list[dict[str, Any]]:
        """GET /portfolio/orders/queue_positions → ``[{order_id, market_ticker, queue_position_fp}]``.

        Kalshi wants at least one of ``market_tickers`` (comma-separated) or ``event_ticker``.
        """
        body = await self.get("/portfolio/orders/queue_positions",
                              {"market_tickers": ",".join(market_tickers) if market_tickers else None,
                               "event_ticker": event_ticker, "subaccount": subaccount})
        return [q for q in (body.get("queue_positions") or ()) if isinstance(q, dict)]

    async def get_queue_position(self, order_id: str) -> dict[str, Any]:
        """GET /portfolio/orders/{order_id}/queue_position → ``{queue_position_fp}`` (contracts ahead)."""
        return await self.get(f"/portfolio/orders/{order_id}/queue_position",  # type: ignore[no-any-return]
                              endpoint="GET /portfolio/orders/{order_id}/queue_position")

    async def iter_fills(
        self, *, ticker: str | None = None, order_id: str | None = None, min_ts: int | None = None,
        max_ts: int | None = None, subaccount: int | None = None, limit: int = 1000,
    ) -> AsyncIterator[dict[str, Any]]:
        """Yield fills (GET /portfolio/fills); ``*_ts`` are Unix seconds."""
        async for f in self.paginate("/portfolio/fills", "fills",
                                     {"ticker": ticker, "order_id": order_id, "min_ts": min_ts,
                                      "max_ts": max_ts, "subaccount": subaccount}, limit=limit):
            yield f

    async def iter_settlements(
        self, *, ticker: str | None = None, event_ticker: str | None = None, min_ts: int | None = None,
        max_ts: int | None = None, limit: int = 1000,
    ) -> AsyncIterator[dict[str, Any]]:
        """Yield portfolio settlements (GET /portfolio/settlements)."""
        async for s in self.paginate("/portfolio/settlements", "settlements",
                                     {"ticker": ticker, "event_ticker": event_ticker, "min_ts": min_ts,
                                      "max_ts": max_ts}, limit=limit):
            yield s

    # ------------------------------------------------------------------ V2 order writes (never retried)

    async def create_order(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """POST /portfolio/events/orders (CreateOrderV2Request, see wire.order_request) → 201 body."""
        return await self.request("POST", "/portfolio/events/orders", json=body,  # type: ignore[no-any-return]
                                  endpoint="POST /portfolio/events/orders")

    async def cancel_order(self, order_id: str, *, market_ticker: str | None = None,
                           subaccount: int | None = None, exchange_index: int | None = None) -> dict[str, Any]:
        """DELETE /portfolio/events/orders/{order_id}?market_ticker=… → ``{order_id, reduced_by, ts_ms}``."""
        return await self.request(  # type: ignore[no-any-return]
            "DELETE", f"/portfolio/events/orders/{order_id}",
            params={"market_ticker": market_ticker, "subaccount": subaccount, "exchange_index": exchange_index},
            endpoint="DELETE /portfolio/events/orders/{order_id}",
        )

    async def amend_order(self, order_id: str, body: Mapping[str, Any], *,
                          subaccount: int | None = None) -> dict[str, Any]:
        """POST /portfolio/events/orders/{id}/amend; ``count`` is the new TOTAL (filled + remaining)."""
        return await self.request(  # type: ignore[no-any-return]
            "POST", f"/portfolio/events/orders/{order_id}/amend", params={"subaccount": subaccount}, json=body,
            endpoint="POST /portfolio/events/orders/{order_id}/amend",
        )

    async def decrease_order(self, order_id: str, *, reduce_by: str | None = None, reduce_to: str | None = None,
                             market_ticker: str | None = None, subaccount: int | None = None,
                             exchange_index: int | None = None) -> dict[str, Any]:
        """POST /portfolio/events/orders/{id}/decrease with exactly one of reduce_by / reduce_to.

        Raises:
            UsageError: both or neither of reduce_by / reduce_to given.
        """
        if (reduce_by is None) == (reduce_to is None):
            raise UsageError("give exactly one of reduce_by or reduce_to")
        body: dict[str, Any] = {k: v for k, v in {"reduce_by": reduce_by, "reduce_to": reduce_to,
                                                  "market_ticker": market_ticker,
                                                  "exchange_index": exchange_index}.items() if v is not None}
        return await self.request(  # type: ignore[no-any-return]
            "POST", f"/portfolio/events/orders/{order_id}/decrease", params={"subaccount": subaccount},
            json=body, endpoint="POST /portfolio/events/orders/{order_id}/decrease",
        )

    async def batch_create_orders(self, orders: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        """POST /portfolio/events/orders/batched; costs 10 × N and must fit the write bucket whole.

        Raises:
            BatchTooLarge: before sending, when 10 × N exceeds the write bucket.
        """
        return await self.request(  # type: ignore[no-any-return]
            "POST", "/portfolio/events/orders/batched", json={"orders": list(orders)}, items=len(orders),
            endpoint="POST /portfolio/events/orders/batched",
        )

    async def batch_cancel_orders(self, orders: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        """DELETE /portfolio/events/orders/batched with a JSON body ``{orders: [{order_id, market_ticker?}]}``.

        Raises:
            BatchTooLarge: before sending, when 2 × N exceeds the write bucket.
        """
        return await self.request(  # type: ignore[no-any-return]
            "DELETE", "/portfolio/events/orders/batched", json={"orders": list(orders)}, items=len(orders),
            endpoint="DELETE /portfolio/events/orders/batched",
        )

    async def cancel_all_orders(self, *, subaccount: int | None = None) -> dict[str, Any]:
        """DELETE /portfolio/events/orders: cancel every resting order (all shards)."""
        return await self.request("DELETE", "/portfolio/events/orders",  # type: ignore[no-any-return]
                                  params={"subaccount": subaccount}, endpoint="DELETE /portfolio/events/orders")

    # ------------------------------------------------------------------ order groups

    async def create_order_group(self, contracts_limit: str, *, subaccount: int | None = None,
                                 exchange_index: int | None = None) -> dict[str, Any]:
        """POST /portfolio/order_groups/create ``{contracts_limit_fp}`` → ``{order_group_id, …}``."""
        body = {k: v for k, v in {"contracts_limit_fp": contracts_limit, "subaccount": subaccount,
                                  "exchange_index": exchange_index}.items() if v is not None}
        return await self.request("POST", "/portfolio/order_groups/create", json=body,  # type: ignore[no-any-return]
                                  endpoint="POST /portfolio/order_groups/create")

    async def list_order_groups(self, *, subaccount: int | None = None) -> list[dict[str, Any]]:
        """GET /portfolio/order_groups."""
        body = await self.get("/portfolio/order_groups", {"subaccount": subaccount})
        return [g for g in (body.get("order_groups") or ()) if isinstance(g, dict)]

    async def get_order_group(self, order_group_id: str) -> dict[str, Any]:
        """GET /portfolio/order_groups/{id}."""
        return await self.get(f"/portfolio/order_groups/{order_group_id}",  # type: ignore[no-any-return]
                              endpoint="GET /portfolio/order_groups/{id}")

    async def delete_order_group(self, order_group_id: str) -> dict[str, Any]:
        """DELETE /portfolio/order_groups/{id} (cancels the group's resting orders)."""
        return await self.request("DELETE", f"/portfolio/order_groups/{order_group_id}",  # type: ignore[no-any-return]
                                  endpoint="DELETE /portfolio/order_groups/{id}")

    async def reset_order_group(self, order_group_id: str) -> dict[str, Any]:
        """PUT /portfolio/order_groups/{id}/reset."""
        return await self.request("PUT", f"/portfolio/order_groups/{order_group_id}/reset",  # type: ignore[no-any-return]
                                  endpoint="PUT /portfolio/order_groups/{id}/reset")

    async def trigger_order_group(self, order_group_id: str) -> dict[str, Any]:
        """PUT /portfolio/order_groups/{id}/trigger."""
        return await self.request("PUT", f"/portfolio/order_groups/{order_group_id}/trigger",  # type: ignore[no-any-return]
                                  endpoint="PUT /portfolio/order_groups/{id}/trigger")

    async def set_order_group_limit(self, order_group_id: str, contracts_limit: str) -> dict[str, Any]:
        """PUT /portfolio/order_groups/{id}/limit ``{contracts_limit_fp}``."""
        return await self.request("PUT", f"/portfolio/order_groups/{order_group_id}/limit",  # type: ignore[no-any-return]
                                  json={"contracts_limit_fp": contracts_limit},
                                  endpoint="PUT /portfolio/order_groups/{id}/limit")
