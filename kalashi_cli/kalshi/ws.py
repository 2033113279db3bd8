"""Kalshi WebSocket market data (REFERENCE §10): books, tickers, trades, lifecycle, own fills.

``KalshiFeed`` keeps one connection (auth headers on the upgrade, §2.4) and subscribes to

* ``orderbook_delta`` for the chosen markets, with ``use_yes_price`` set **explicitly to
  false**: NO-side levels then arrive in NO-leg prices, the same convention as REST books
  and the domain ``Market.no_bids``, so one book code path (books.py) serves REST, WS and
  recordings. Kalshi has announced it will flip the default to true and later drop the
  flag; sending it explicitly means a default flip cannot silently invert our NO side, and
  books.py refuses a crossed snapshot should the convention ever change under us;
* ``ticker`` and ``trade`` for the same markets, ``market_lifecycle_v2`` (all markets);
* when authenticated: ``fill``, ``user_orders``, ``market_positions``.

Every frame goes through :class:`~kalashi_cli.kalshi.books.BookStore`, which checks
``seq`` per ``sid`` and, when given a :class:`~kalashi_cli.kalshi.books.BookChanges`,
reports every book a frame changed (or a disconnect made stale) to a reader on another
thread — the reactive driver of ``run-loop --react`` (:mod:`kalashi_cli.react`). A gap (or an impossible delta) marks that subscription's books stale
— ``is_stale(ticker)`` is true and callers must not trade them — and the feed asks for
fresh snapshots with ``update_subscription``/``get_snapshot``; if Kalshi refuses that, it
reconnects, which resubscribes everything. After any disconnect the feed reconnects with
bounded exponential backoff and jitter. Keep-alive is websockets' own ping (the server also
pings every 10 s; websockets answers automatically).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException

from ..errors import AuthError, NetworkError
from .auth import KEY_ID_VAR, KalshiAuth
from .books import BookStore

log = logging.getLogger("kalashi.kalshi.ws")


class _NoSignedHeaders(logging.Filter):
    """Drop websockets' debug lines that echo the upgrade's KALSHI-ACCESS-* headers."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            text = record.getMessage()
        except Exception:
            return True
        return "KALSHI-ACCESS" not in text.upper()


_wire_log = logging.getLogger("kalashi.kalshi.ws.wire")
_wire_log.addFilter(_NoSignedHeaders())

PUBLIC_CHANNELS = ("ticker", "trade")
LIFECYCLE_CHANNEL = "market_lifecycle_v2"
PRIVATE_CHANNELS = ("fill", "user_orders", "market_positions")
#: Error codes after which the subscription is dead (§10.5): channel error, internal, buffer overflow.
TERMINAL_ERROR_CODES = frozenset({10, 17, 25})

RawHook = Callable[[int, str | bytes], None]
MessageHook = Callable[[dict[str, Any]], None]


def _wall_ms() -> int:
    return time.time_ns() // 1_000_000


class _Reconnect(Exception):
    """Internal: drop this connection and start a fresh one (resubscribes everything)."""


class KalshiFeed:
    """One Kalshi WebSocket connection kept alive, with local books in ``store``."""

    def __init__(
        self,
        url: str,
        *,
        auth: KalshiAuth | None = None,
        tickers: Sequence[str] = (),
        public_channels: Sequence[str] = PUBLIC_CHANNELS,
        lifecycle: bool = True,
        private: bool | None = None,
        use_yes_price: bool = False,
        store: BookStore | None = None,
        on_message: MessageHook | None = None,
        on_raw: RawHook | None = None,
        on_applied: MessageHook | None = None,
        on_connect: Callable[[int], None] | None = None,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        max_reconnects: int | None = None,
        ping_interval: float | None = 20.0,
        ping_timeout: float | None = 20.0,
        open_timeout: float = 10.0,
        subscription_chunk: int = 500,
        rng: random.Random | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock_ms: Callable[[], int] = _wall_ms,
    ) -> None:
        self.url = url
        self.auth = auth
        self.tickers: list[str] = list(dict.fromkeys(tickers))
        self.public_channels = tuple(public_channels)
        self.lifecycle = lifecycle
        self.private = (auth is not None) if private is None else private
        self.use_yes_price = use_yes_price
        self.store = store if store is not None else BookStore(no_side_in_yes_prices=use_yes_price)
        # The store must agree with what we ask Kalshi for, or NO prices come out inverted.
        self.store.no_side_in_yes_prices = use_yes_price
        self.on_message = on_message
        self.on_raw = on_raw
        self.on_applied = on_applied  # after every frame is applied: "the books may have changed"
        self.on_connect = on_connect  # called with the connection count (1 = first) before subscribing
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.max_reconnects = max_reconnects
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.open_timeout = open_timeout
        self.subscription_chunk = max(1, subscription_chunk)
        self._rng = rng if rng is not None else random.Random()
        self._sleep = sleep
        self._clock_ms = clock_ms
        self._ws: ClientConnection | None = None
        self._next_id = 1
        self._stopping = False
        self._resync_ids: set[int] = set()
        self.sids: dict[str, int] = {}  # channel → sid on the current connection
        self.connected = asyncio.Event()
        self.subscribed = asyncio.Event()  # set once the orderbook subscription is acknowledged
        self.connects = 0
        self.reconnects = 0
        self.resyncs = 0
        self.errors: list[dict[str, Any]] = []

    def __repr__(self) -> str:
        return f"KalshiFeed({self.url!r}, markets={len(self.tickers)}, authenticated={self.auth is not None})"

    # ------------------------------------------------------------------ queries

    def is_stale(self, ticker: str) -> bool:
        """True when the ticker's book must not be traded (no snapshot yet, gap, disconnect)."""
        return self.store.is_stale(ticker)

    # ------------------------------------------------------------------ commands

    async def _send(self, cmd: str, params: dict[str, Any]) -> int:
        ws = self._ws
        if ws is None:
            raise _Reconnect("not connected")
        cid = self._next_id
        self._next_id += 1
        await ws.send(orjson.dumps({"id": cid, "cmd": cmd, "params": params}).decode())
        return cid

    async def _subscribe_all(self) -> None:
        if self.tickers:
            # Kalshi caps markets per subscription (WS error 26; the number is not published), so
            # large universes are split; each snapshot tells us which sid its book belongs to.
            step = self.subscription_chunk
            for i in range(0, len(self.tickers), step):
                chunk = self.tickers[i : i + step]
                await self._send(
                    "subscribe",
                    {
                        "channels": ["orderbook_delta"],
                        "market_tickers": chunk,
                        # Explicit on purpose (REFERENCE §10.4, trap 5): see the module docstring.
                        "use_yes_price": self.use_yes_price,
                    },
                )
                if self.public_channels:
                    await self._send("subscribe", {"channels": list(self.public_channels), "market_tickers": chunk})
        else:
            self.subscribed.set()
        if self.lifecycle:
            await self._send("subscribe", {"channels": [LIFECYCLE_CHANNEL]})
        if self.private:
            await self._send("subscribe", {"channels": list(PRIVATE_CHANNELS)})

    async def add_markets(self, tickers: Sequence[str]) -> None:
        """Start keeping books for more markets (their books stay stale until snapshotted)."""
        new = [t for t in dict.fromkeys(tickers) if t not in self.tickers]
        if not new:
            return
        self.tickers.extend(new)
        for t in new:
            self.store.book(t)
        if self._ws is None:
            return
        sid = self.sids.get("orderbook_delta")
        if sid is None:
            await self._send(
                "subscribe",
                {"channels": ["orderbook_delta"], "market_tickers": new, "use_yes_price": self.use_yes_price},
            )
        else:
            await self._send("update_subscription", {"sids": [sid], "market_tickers": new, "action": "add_markets"})
        for channel in self.public_channels:
            psid = self.sids.get(channel)
            if psid is not None:
                await self._send(
                    "update_subscription", {"sids": [psid], "market_tickers": new, "action": "add_markets"}
                )

    async def resync(self) -> None:
        """Ask for fresh snapshots of every book marked stale (sequence gap, refused resync)."""
        await self._resync()

    async def reconnect(self) -> None:
        """Drop the connection; the feed reconnects with backoff and resubscribes."""
        if self._ws is not None:
            await self._ws.close()

    async def _resync(self) -> None:
        for sid, tickers in self.store.take_resync().items():
            if not tickers:
                continue
            self.resyncs += 1
            log.info("requesting fresh snapshots for %d markets on sid %s", len(tickers), sid)
            cid = await self._send(
                "update_subscription", {"sids": [sid], "market_tickers": sorted(tickers), "action": "get_snapshot"}
            )
            self._resync_ids.add(cid)

    # ------------------------------------------------------------------ reading

    def _on_control(self, kind: str, frame: dict[str, Any]) -> None:
        if kind == "subscribed":
            msg = frame.get("msg") or {}
            channel, sid = msg.get("channel"), msg.get("sid")
            if isinstance(channel, str) and isinstance(sid, int):
                self.sids[channel] = sid  # the latest sid per channel (add_markets extends it)
                if channel == "orderbook_delta":
                    self.subscribed.set()
            return
        if kind == "error":
            msg = frame.get("msg") or {}
            code = msg.get("code")
            self.errors.append(frame)
            log.warning("Kalshi WS error %s: %s", code, msg.get("msg"))
            if frame.get("id") in self._resync_ids or code in TERMINAL_ERROR_CODES:
                raise _Reconnect(f"WS error {code}")
            return
        if kind in ("ok", "unsubscribed"):
            return  # command acknowledgements; their seq was already checked by the store
        if self.on_message is not None:
            self.on_message(frame)

    async def _read(self, ws: ClientConnection) -> None:
        store = self.store
        on_raw = self.on_raw
        async for raw in ws:
            now = self._clock_ms()
            if on_raw is not None:
                on_raw(now, raw)
            try:
                frame = orjson.loads(raw)
            except orjson.JSONDecodeError:
                log.warning("non-JSON frame ignored")
                continue
            if not isinstance(frame, dict):
                continue
            kind = store.handle(frame, ts_ms=now)
            if store.pending_resync:
                await self._resync()
            if kind is not None:
                self._on_control(kind, frame)
            if self.on_applied is not None:
                self.on_applied(frame)

    # ------------------------------------------------------------------ lifecycle

    def _connect_kwargs(self) -> dict[str, Any]:
        host = (urlsplit(self.url).hostname or "").lower()
        return {
            "additional_headers": self.auth.ws_headers() if self.auth is not None else None,
            "ping_interval": self.ping_interval,
            "ping_timeout": self.ping_timeout,
            "open_timeout": self.open_timeout,
            "max_size": 16 * 1024 * 1024,  # snapshots of deep books are large
            "logger": _wire_log,  # websockets' own debug log, minus the signed headers
            # A loopback simulator must never be routed through an HTTP(S)_PROXY.
            "proxy": None if host in ("127.0.0.1", "localhost", "::1") else True,
        }

    async def run(self) -> None:
        """Connect, subscribe and keep books until :meth:`stop`; reconnect after disconnects.

        Raises:
            AuthError: the server refused the upgrade with 401/403 (retrying cannot help).
            NetworkError: ``max_reconnects`` consecutive attempts failed.
        """
        attempt = 0
        while not self._stopping:
            try:
                async with connect(self.url, **self._connect_kwargs()) as ws:
                    self._ws = ws
                    self.connects += 1
                    if self.connects > 1:
                        self.reconnects += 1
                    self.store.reset_connection()
                    for t in self.tickers:
                        self.store.book(t)
                    self.sids.clear()
                    self._resync_ids.clear()
                    self.subscribed.clear()
                    self.connected.set()
                    if self.on_connect is not None:
                        self.on_connect(self.connects)
                    await self._subscribe_all()
                    attempt = 0
                    await self._read(ws)
            except InvalidStatus as e:
                status = e.response.status_code
                if status in (401, 403):
                    raise AuthError(
                        f"Kalshi refused the WebSocket upgrade ({status})",
                        hint=f"check {KEY_ID_VAR}, the key file, and that the clock is NTP-synced",
                        status=status,
                    ) from None
                log.warning("WebSocket upgrade failed with %s", status)
            except _Reconnect as e:
                log.info("reconnecting: %s", e)
            except ConnectionClosed as e:
                log.info("WebSocket closed (%s)", e)
            except (OSError, TimeoutError, WebSocketException) as e:
                log.info("WebSocket connection failed: %s", type(e).__name__)
            finally:
                self._ws = None
                self.connected.clear()
                if not self._stopping:
                    self.store.stale_all()  # nothing is trustworthy while disconnected (reported as changes)
            if self._stopping:
                break
            if self.max_reconnects is not None and attempt >= self.max_reconnects:
                raise NetworkError(
                    f"could not reconnect to {self.url} after {attempt} attempts",
                    hint="check the network; Kalshi pauses Thursdays 03:00–05:00 ET",
                )
            delay = min(self.backoff_max, self.backoff_base * (2**attempt))
            delay = delay / 2 + self._rng.uniform(0, delay / 2)
            attempt += 1
            await self._sleep(delay)

    async def stop(self) -> None:
        """Close the connection and end :meth:`run`."""
        self._stopping = True
        ws = self._ws
        if ws is not None:
            await ws.close()
