"""Kalshi as a MarketSource (``kalshi``, ``kalshi-demo``, ``kalshi:URL``) and :func:`open_source`.

REST mode (default), per iteration::

    list_markets()  GET /markets?status=open&mve_filter=exclude&limit=1000, all pages
                    + GET /series once per hour (fee type, multiplier, category)
                    every 15 min instead of /markets: GET /events?status=open&with_nested_markets=true
                    (event series and mutually_exclusive, plus the markets themselves)
    books(tickers)  GET /markets/orderbooks?tickers=A&tickers=B…, ≤100 per call
    advance()       GET /markets?status=settled&min_settled_ts=<last> (settlements of seen markets)

WS mode (``ws=True``, needs credentials: Kalshi requires auth even for public channels):
the listing bootstraps the market metadata by REST, then a :class:`KalshiFeed` keeps
every listed market's book; ``books()`` and later listings read the local books (no
per-market REST calls) and leave out stale books; trades and settlements come from the
``trade`` and ``market_lifecycle_v2`` channels. The listing is refreshed by REST every
``relist_s`` seconds to pick up new markets. :meth:`KalshiSource.watch_books` reports each
book the feed changes, as it changes (``run-loop --react``).

The source is synchronous (the MarketSource protocol); the async clients run on a private
event loop in a background thread (:class:`~kalashi_cli.kalshi.aio.LoopThread`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any

import httpx

from ..domain import Market, Settlement, Trade
from ..errors import AuthError, ConsentError, UsageError
from ..ports import CallCounter, MarketSource, SourceEvents
from .aio import LoopThread
from .auth import KEY_ID_VAR, KEY_PATH_VAR, Credentials, KalshiAuth, try_load_credentials
from .books import BookChanges, BookStore
from .catalog import MarketCatalog
from .env import (
    DEMO,
    PROD,
    KalshiEnv,
    check_key_environment,
    custom_env,
    env_override,
    signing_allowed,
    signing_refusal_hint,
)
from .ratelimit import RateLimiter
from .rest import ExchangeClock, KalshiClient
from .wire import lifecycle_settlement, market_settlement, parse_orderbook, parse_trade, with_book

log = logging.getLogger("kalashi.kalshi.source")

TICKERS_PER_MARKETS_CALL = 100  # GET /markets?tickers=A,B,… stays well under URL limits
# GET /events?status=X matches an event when ANY of its markets matches; the nested markets are
# then filtered to the REST market status that filter word means (REFERENCE §4.2, trap 7).
_EVENT_STATUS_TO_MARKET = {"open": "active", "unopened": "initialized", "closed": "closed", "settled": "finalized"}

_SETTLED_OVERLAP_S = 2
# market_lifecycle_v2 event → the REST status it leaves the market in (REFERENCE §4, §10)
_LIFECYCLE_STATUS = {
    "deactivated": "inactive",
    "activated": "active",
    "determined": "determined",
    "settled": "finalized",
}


def _on_a_loop() -> bool:
    """True when called from a running event loop (the source's own thread must not block on itself)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


class KalshiSource:
    """Kalshi market data as a synchronous :class:`~kalashi_cli.ports.MarketSource`."""

    def __init__(
        self,
        env: KalshiEnv,
        *,
        credentials: Credentials | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        ws: bool = False,
        event_metadata: bool = True,
        track_settlements: bool = True,
        page_limit: int = 1000,
        status: str = "open",
        mve_filter: str | None = "exclude",
        relist_s: float = 300.0,
        ws_ready_timeout: float = 30.0,
        timeout: float = 10.0,
        limiter: RateLimiter | None = None,
        clock_ms: Callable[[], int] | None = None,
        clock_refresh_s: float = 10.0,
        feed_options: dict[str, Any] | None = None,
        name: str | None = None,
    ) -> None:
        if credentials is not None:
            check_key_environment(credentials, env)
        if ws and credentials is None:
            raise AuthError(
                "the Kalshi WebSocket needs credentials, even for market data",
                hint=f"set {KEY_ID_VAR} and {KEY_PATH_VAR}, or use REST mode (no ws=1)",
            )
        self.env = env
        self.name = name or {"prod": "kalshi", "demo": "kalshi-demo"}.get(env.name, f"kalshi:{env.rest_url}")
        self.ws = ws
        self.event_metadata = event_metadata
        self.track_settlements = track_settlements
        self.page_limit = page_limit
        self.status = status
        self.mve_filter = mve_filter
        self.relist_s = relist_s
        self.ws_ready_timeout = ws_ready_timeout
        self._clock_ms = clock_ms or (lambda: time.time_ns() // 1_000_000)  # local wall clock
        self.clock_refresh_s = clock_refresh_s
        self.counter = CallCounter()
        self._auth = KalshiAuth(credentials) if credentials is not None else None
        self._loop = LoopThread(name=f"kalashi-{self.name}")
        # the market's clock is the exchange's: every REST answer's Date header corrects the local clock
        self.clock = ExchangeClock(self._clock_ms)
        self.client = KalshiClient(
            env.rest_url,
            auth=self._auth,
            transport=transport,
            limiter=limiter,
            timeout=timeout,
            counter=self.counter,
            clock=self.clock,
        )
        self.catalog = MarketCatalog()
        self._meta: dict[str, Market] = {}  # ticker → last listed Market (top of book)
        self._ever_listed: set[str] = set()  # settlements are reported for these, even after they leave the listing
        self._step = 0
        self._settled_since_s: int | None = None
        self._settled_seen: set[str] = set()
        self._listed_at_ms: int | None = None
        # WS state (lives on the loop thread)
        self._feed: Any = None
        self._feed_future: Any = None
        self._feed_options = feed_options or {}
        self._store = BookStore()
        self._ws_trades: list[Trade] = []
        self._ws_settlements: list[Settlement] = []
        self._closed = False
        if self._auth is not None:
            try:
                self._loop.run(self.client.configure_rate_limits(), timeout=timeout * 2)
            except Exception as e:  # limits are an optimisation; Basic-tier defaults are safe
                log.info("could not read /account/limits (%s); using Basic-tier buckets", type(e).__name__)

    # ------------------------------------------------------------------ protocol

    @property
    def api_calls(self) -> int:
        """Every REST call made so far (listing, books, settlements, metadata)."""
        return self.counter.total

    @api_calls.setter
    def api_calls(self, value: int) -> None:  # the protocol declares a plain attribute
        self.counter.total = value

    @property
    def feed(self) -> Any:
        """The WebSocket feed in ``ws=1`` mode (None otherwise or before the first listing)."""
        return self._feed

    def run_on_feed(self, coro: Any, *, timeout: float) -> Any:
        """Run a coroutine on the event-loop thread the feed lives on (heal's resync repair); return its result."""
        return self._loop.run(coro, timeout=timeout)

    def describe(self) -> str:
        base = {"prod": "kalshi", "demo": "kalshi-demo"}.get(self.env.name, f"kalshi:{self.env.rest_url}")
        return base + (",ws=1" if self.ws else "")

    def now_ms(self) -> int:
        """Return the exchange's time: the local clock plus the offset its ``Date`` headers show.

        Quote expiries are set on this clock, so it must follow an exchange whose clock runs
        ahead (sim-exchange's market clock) or a local clock that is skewed. REST mode reads a
        fresh ``Date`` every iteration; when the last reading is older than ``clock_refresh_s``
        (WS mode between relistings, long intervals) one ``GET /exchange/status`` refreshes it.
        Nothing is called when the exchange never sent a ``Date`` header.
        """
        age = self.clock.age_ms()
        if age is not None and age > self.clock_refresh_s * 1000 and not self._closed and not _on_a_loop():
            try:
                self._loop.run(self.client.get_exchange_status(), timeout=5)
            except Exception as e:  # noqa: BLE001 - a stale offset is better than no clock
                log.info("could not refresh the exchange clock (%s); using the last offset", type(e).__name__)
        return self.clock.now_ms()

    def list_markets(self) -> Iterator[Market]:
        """Yield every open market with top of book (full depth from local books in WS mode)."""
        if self.ws and self._feed is not None and not self._relist_due():
            yield from self._loop.run(self._local_markets(None))
            return
        markets = self._loop.run(self._list_async())
        self._listed_at_ms = self._clock_ms()
        if self.ws:
            self._loop.run(self._ensure_feed([m.ticker for m in markets]))
            yield from self._loop.run(self._local_markets([m.ticker for m in markets]))
            return
        yield from markets

    def books(self, tickers: Sequence[str]) -> dict[str, Market]:
        """Return full-depth markets for ``tickers``; unknown tickers (and stale WS books) are left out."""
        if not tickers:
            return {}
        if self.ws and self._feed is not None:
            return {m.ticker: m for m in self._loop.run(self._local_markets(list(tickers)))}
        return self._loop.run(self._books_async(list(tickers)))

    def advance(self) -> SourceEvents:
        """Move to the next iteration; report trades (WS) and settlements since the last call."""
        self._step += 1
        trades: tuple[Trade, ...] = ()
        settlements: tuple[Settlement, ...] = ()
        if self.ws and self._feed is not None:
            trades, settlements = self._loop.run(self._drain_ws())
        elif self.track_settlements and self._ever_listed:
            settlements = tuple(self._loop.run(self._settlements_async()))
        return SourceEvents(trades=trades, settlements=settlements, step=self._step, now_ms=self.now_ms())

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            if self._feed is not None:
                self._loop.run(self._feed.stop(), timeout=5)
            self._loop.run(self.client.aclose(), timeout=5)
        except Exception as e:  # closing must not mask the caller's error
            log.debug("error while closing: %s", e)
        finally:
            self._loop.close()

    def __enter__(self) -> KalshiSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"KalshiSource({self.describe()!r}, api_calls={self.api_calls})"

    # ------------------------------------------------------------------ REST internals

    async def _list_async(self) -> list[Market]:
        if self.catalog.series_due():
            self.catalog.set_series(await self.client.get_series_list())
        nested_status = _EVENT_STATUS_TO_MARKET.get(self.status)
        raw: list[dict[str, Any]]
        if self.event_metadata and self.catalog.events_due() and nested_status is not None:
            # One pass over GET /events?with_nested_markets=true gives the event metadata (series,
            # mutually_exclusive — absent from Market objects) AND the markets: never more calls
            # than paging /markets and /events separately, and fewer whenever events hold > 1 market.
            # Like /markets?mve_filter=exclude, /events leaves multivariate (combo) events out.
            events = [e async for e in self.client.iter_events(status=self.status, with_nested_markets=True)]
            self.catalog.set_events(events)
            raw = []
            for e in events:
                for m in e.get("markets") or ():
                    if isinstance(m, dict) and m.get("status") == nested_status:
                        if not m.get("event_ticker"):
                            m = {**m, "event_ticker": e.get("event_ticker", "")}
                        raw.append(m)
        else:
            raw = [
                m
                async for m in self.client.iter_markets(
                    limit=self.page_limit, status=self.status, mve_filter=self.mve_filter
                )
            ]
        per_event = Counter(d.get("event_ticker") for d in raw)
        markets: list[Market] = []
        for d in raw:
            try:
                m = self.catalog.to_market(d, event_market_count=per_event.get(d.get("event_ticker")))
            except ValueError as e:
                log.warning("skipping unreadable market %r: %s", d.get("ticker"), e)
                continue
            markets.append(m)
        self._meta = {m.ticker: m for m in markets}
        self._ever_listed.update(self._meta)
        if self._settled_since_s is None:
            self._settled_since_s = self.clock.now_ms() // 1000 - _SETTLED_OVERLAP_S
        return markets

    async def _fetch_meta(self, tickers: list[str]) -> None:
        missing = [t for t in tickers if t not in self._meta]
        if not missing:
            return
        if self.catalog.series_due():
            self.catalog.set_series(await self.client.get_series_list())
        for i in range(0, len(missing), TICKERS_PER_MARKETS_CALL):
            chunk = missing[i : i + TICKERS_PER_MARKETS_CALL]
            body = await self.client.get_markets_page(tickers=chunk, limit=len(chunk))
            for d in body.get("markets") or ():
                try:
                    m = self.catalog.to_market(d)
                except ValueError:
                    continue
                self._meta[m.ticker] = m
                self._ever_listed.add(m.ticker)

    async def _books_async(self, tickers: list[str]) -> dict[str, Market]:
        await self._fetch_meta(tickers)
        known = [t for t in dict.fromkeys(tickers) if t in self._meta]
        out: dict[str, Market] = {}
        for entry in await self.client.get_orderbooks(known):
            t = entry.get("ticker")
            if isinstance(t, str) and t in self._meta:
                yes, no = parse_orderbook(entry)
                out[t] = with_book(self._meta[t], yes, no)
        return out

    async def _settlements_async(self) -> list[Settlement]:
        since = self._settled_since_s
        # min_settled_ts is compared with the exchange's clock; the overlap covers the estimate's
        # ±1 s (settlements seen twice are dropped by _settled_seen)
        now_s = self.clock.now_ms() // 1000 - _SETTLED_OVERLAP_S
        out: list[Settlement] = []
        async for d in self._settled_markets(since):
            s = market_settlement(d)
            if s is not None and s.ticker in self._ever_listed and s.ticker not in self._settled_seen:
                self._settled_seen.add(s.ticker)
                out.append(s)
        self._settled_since_s = now_s
        return out

    async def _settled_markets(self, since: int | None) -> AsyncIterator[dict[str, Any]]:
        params = {"status": "settled", "min_settled_ts": since, "mve_filter": self.mve_filter}
        async for d in self.client.paginate("/markets", "markets", params, limit=self.page_limit):
            yield d

    # ------------------------------------------------------------------ WS internals

    def _relist_due(self) -> bool:
        return self._listed_at_ms is None or self._clock_ms() - self._listed_at_ms >= self.relist_s * 1000

    def _on_ws_message(self, frame: dict[str, Any]) -> None:
        kind = frame.get("type")
        msg = frame.get("msg")
        if not isinstance(msg, dict):
            return
        try:
            if kind == "trade":
                self._ws_trades.append(parse_trade(msg))
            elif kind == "market_lifecycle_v2":
                self._lifecycle_status(msg)
                s = lifecycle_settlement(msg)
                if s is not None and s.ticker not in self._settled_seen:
                    self._settled_seen.add(s.ticker)
                    self._ws_settlements.append(s)
        except (ValueError, KeyError, TypeError) as e:
            log.warning("unreadable %s message: %s", kind, e)

    def _lifecycle_status(self, msg: dict[str, Any]) -> None:
        """Follow a market's status between listings from ``market_lifecycle_v2``.

        ``deactivated``/``activated`` (paused/resumed by the exchange), ``determined`` and
        ``settled``. Without it such a market keeps its listed status ``active`` until the next
        listing, and an order on it is refused (``market_inactive``) — at once in ``--react``
        mode, where every book change is acted on. The book is reported as changed, so a
        reactive driver sees the market leave (or rejoin) the tradeable ones.
        """
        status = _LIFECYCLE_STATUS.get(str(msg.get("event_type")))
        ticker = msg.get("market_ticker")
        base = self._meta.get(ticker) if isinstance(ticker, str) else None
        if status is None or base is None or base.status == status:
            return
        self._meta[base.ticker] = dataclasses.replace(base, status=status)
        if self._store.changes is not None:
            self._store.changes.push(base.ticker)

    async def _ensure_feed(self, tickers: list[str]) -> None:
        from .ws import KalshiFeed

        if self._feed is None:
            self._feed = KalshiFeed(
                self.env.ws_url,
                auth=self._auth,
                tickers=tickers,
                store=self._store,
                on_message=self._on_ws_message,
                private=False,
                **self._feed_options,
            )
            self._feed_future = asyncio.ensure_future(self._feed.run())
        else:
            await self._feed.add_markets(tickers)
        await self._wait_ready(tickers)

    async def _wait_ready(self, tickers: list[str]) -> None:
        deadline = asyncio.get_running_loop().time() + self.ws_ready_timeout
        while asyncio.get_running_loop().time() < deadline:
            if self._feed_future is not None and self._feed_future.done():
                self._feed_future.result()  # re-raise AuthError / NetworkError from the feed
            if all(not self._store.is_stale(t) for t in tickers):
                return
            await asyncio.sleep(0.02)
        stale = sum(1 for t in tickers if self._store.is_stale(t))
        log.warning(
            "%d of %d books still without a snapshot after %.0fs; they are left out",
            stale,
            len(tickers),
            self.ws_ready_timeout,
        )

    async def _local_markets(self, tickers: list[str] | None) -> list[Market]:
        if self._feed_future is not None and self._feed_future.done():
            self._feed_future.result()
        out: list[Market] = []
        for t in tickers if tickers is not None else list(self._meta):
            base = self._meta.get(t)
            if base is None:
                continue
            m = self._store.market(t, base)
            if m is not None:
                out.append(m)
        return out

    async def _drain_ws(self) -> tuple[tuple[Trade, ...], tuple[Settlement, ...]]:
        trades, self._ws_trades = tuple(self._ws_trades), []
        settlements, self._ws_settlements = tuple(self._ws_settlements), []
        return trades, settlements

    def is_stale(self, ticker: str) -> bool:
        """WS mode: whether the local book must not be traded; REST mode: always False."""
        return self.ws and self._store.is_stale(ticker)

    def watch_books(self) -> BookChanges | None:
        """Report every book the WebSocket feed changes from now on; None in REST mode (nothing pushes).

        The feed's thread pushes the ticker of each book a frame changed (a delta, a snapshot,
        a gap or disconnect making it stale) into the returned :class:`BookChanges`; the
        reactive driver (:mod:`kalashi_cli.react`) waits on it. Calling it again returns the same one.
        """
        if not self.ws:
            return None
        if self._store.changes is None:
            self._store.changes = BookChanges()
        return self._store.changes


# --------------------------------------------------------------------------- open_source


def _options(parts: Sequence[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for p in parts:
        if not p:
            continue
        key, sep, value = p.partition("=")
        if not sep:
            raise UsageError(f"source option {p!r} must be key=value")
        out[key.strip()] = value.strip()
    return out


def _flag(value: str | None) -> bool:
    return (value or "").lower() in ("1", "true", "yes", "on")


def open_source(
    spec: str,
    *,
    env: dict[str, str] | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    limiter: RateLimiter | None = None,
    limiter_for: Callable[[str | None, str], RateLimiter] | None = None,
    ws_default: bool = False,
) -> MarketSource:
    """Open a market source from its descriptor.

    ``ws_default`` (what ``run-loop`` and the services ask for) turns the WebSocket feed on
    when the descriptor says nothing about ``ws`` and a key may sign the session there: REST
    bootstraps, then books come from ``orderbook_delta`` and an iteration needs no per-market
    REST calls. ``ws=0`` keeps polling REST; without a usable key it is REST anyway.

    * ``kalshi[,ws=1]`` — production market data; ``kalshi-demo[,ws=1]`` — demo;
    * ``kalshi:http://127.0.0.1:8800/trade-api/v2[,ws=1]`` — any Kalshi-compatible server
      (``kalshi-demo`` goes there too while ``KALASHI_EXCHANGE_URL`` is set);
    * ``replay:PATH[,PATH…][,speed=N][,step=K][,slice_ms=M]`` — a recording, or several merged by time
      (:func:`~kalashi_cli.kalshi.replay.open_replay`).

    Credentials come from ``KALSHI_API_KEY_ID``/``KALSHI_PRIVATE_KEY_PATH`` when set (needed
    for ``ws=1``) and sign requests only where :func:`~kalashi_cli.kalshi.env.signing_allowed`
    lets them go: production only with ``KALSHI_KEY_ENV=prod``, other servers only on loopback
    or when declared for them; elsewhere REST reads go unsigned and ``ws=1`` is refused.
    ``limiter`` holds the token buckets to use until ``/account/limits`` answers (the profile's
    ``rate_limits``); ``limiter_for(key_id or None, rest_url)``, when given, returns them
    instead, so the source shares the buckets of its key with the broker.
    ``sim`` is handled by :func:`kalashi_cli.context.open_source`.

    Raises:
        UsageError: unknown source or option.
        AuthError: credentials are set but unusable, or ws=1 without credentials.
        ConsentError: the key is declared for another environment, or ws=1 would need to send
            it where it may not go.
    """
    import os

    spec = spec.strip()
    environ = env if env is not None else dict(os.environ)
    if spec.startswith("replay:"):
        from .replay import open_replay

        return open_replay(spec)
    if spec.startswith("kalshi:"):
        rest, *opts = spec[len("kalshi:") :].split(",")
        target = custom_env(rest)
    else:
        head, *opts = spec.split(",")
        if head == "kalshi":
            target = PROD
        elif head == "kalshi-demo":
            # KALASHI_EXCHANGE_URL points the demo source at a Kalshi-compatible server (sim-exchange)
            target = env_override(environ) or DEMO
        else:
            raise UsageError(f"unknown source {spec!r}", hint="use sim, replay:PATH, kalshi, kalshi-demo or kalshi:URL")
    options = _options(opts)
    unknown = set(options) - {"ws"}
    if unknown:
        raise UsageError(
            f"unknown option(s) {sorted(unknown)} for source {spec!r}", hint="kalshi sources take ws=1 or ws=0"
        )
    explicit = "ws" in options
    ws = _flag(options.get("ws"))
    creds = try_load_credentials(environ)
    if creds is not None:
        check_key_environment(creds, target)
        if not signing_allowed(creds, target):
            if ws:
                raise ConsentError(
                    f"{spec} needs the WebSocket, which needs a signed session, and this API key "
                    f"is not declared for {target.rest_url}",
                    hint=signing_refusal_hint(creds, target),
                )
            log.info(
                "not signing requests to %s: the key is not declared for it (%s)",
                target.rest_url,
                signing_refusal_hint(creds, target),
            )
            creds = None
    if ws_default and not explicit and creds is not None:
        ws = True
    if limiter_for is not None:
        limiter = limiter_for(creds.key_id if creds is not None else None, target.rest_url)
    return KalshiSource(target, credentials=creds, transport=transport, ws=ws, limiter=limiter)


def _conforms(source: KalshiSource) -> MarketSource:  # mypy checks the protocol here
    return source
