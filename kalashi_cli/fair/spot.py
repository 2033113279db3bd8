"""Spot prices for the crypto model: a recorded file, or a public exchange's WebSocket ticker.

::

    open_spot("coinbase")                     Coinbase Exchange public feed, ticker channel (no key)
    open_spot("kraken")                       Kraken spot WebSocket v2, ticker channel (no key)
    open_spot("coinbase:ws://127.0.0.1:PORT") the same protocol at another address (tests, proxies)
    open_spot("file:spot.csv")                recorded prices: CSV or JSON Lines of time, price

A live feed runs its own thread and event loop, reconnects after any disconnect with bounded
exponential backoff and jitter, and stamps each price with the local time it arrived — so the
age check (``fair.crypto.max_spot_age_seconds``) measures what we know now, whatever the
exchange's clock says. A recorded file is read as of the market snapshot's time: nothing after
``now_ms`` is visible (a backtest cannot peek ahead).

Neither is the index Kalshi settles on (CF Benchmarks' real-time indexes, BRTI for bitcoin):
one exchange's last trade tracks that composite closely but not exactly, and the crypto model
carries the difference in its standard error (``fair.crypto.basis_bps``).
"""

from __future__ import annotations

import asyncio
import bisect
import csv
import io
import logging
import random
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import orjson

from ..errors import InputError, UsageError
from ..records import parse_time_ms

log = logging.getLogger("kalashi.fair.spot")

ANY = "*"  # a file without a product column: its prices stand for every product
VENUES = {"coinbase": "wss://ws-feed.exchange.coinbase.com", "kraken": "wss://ws.kraken.com/v2"}
MAX_POINTS = 200_000  # per product: a day of one-second ticks, twice over


def wall_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True, slots=True)
class SpotView:
    """What is known of one product's price at ``now_ms``."""

    product: str
    now_ms: int  # the clock the view was taken on (wall clock for a live feed, market time for a file)
    price: float
    price_ms: int
    history: tuple[tuple[int, float], ...]  # (ms, price) within the lookback, oldest first, up to now

    @property
    def age_ms(self) -> int:
        return self.now_ms - self.price_ms


class SpotSource(Protocol):
    """Where spot prices come from."""

    def view(self, product: str, now_ms: int, lookback_ms: int) -> SpotView | None:
        """The latest price at or before ``now_ms`` and the history before it (None: nothing known)."""
        ...

    def describe(self) -> str: ...

    def close(self) -> None: ...


class SpotHistory:
    """Prices per product in time order (thread-safe: a feed thread appends, the model reads)."""

    def __init__(self) -> None:
        self._times: dict[str, list[int]] = {}
        self._prices: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def add(self, product: str, ts_ms: int, price: float) -> None:
        if not (price > 0 and price < float("inf")):
            return
        with self._lock:
            times = self._times.setdefault(product, [])
            prices = self._prices.setdefault(product, [])
            if times and ts_ms < times[-1]:  # out of order (a file not sorted): insert in place
                i = bisect.bisect_right(times, ts_ms)
                times.insert(i, ts_ms)
                prices.insert(i, price)
            else:
                times.append(ts_ms)
                prices.append(price)
            if len(times) > MAX_POINTS:
                del times[: len(times) - MAX_POINTS]
                del prices[: len(prices) - MAX_POINTS]

    def products(self) -> list[str]:
        with self._lock:
            return sorted(self._times)

    def view(self, product: str, now_ms: int, lookback_ms: int, *, clock_now: int | None = None) -> SpotView | None:
        with self._lock:
            key = product if product in self._times else ANY if ANY in self._times else None
            if key is None:
                return None
            times, prices = self._times[key], self._prices[key]
            end = bisect.bisect_right(times, now_ms)
            if end == 0:
                return None
            start = bisect.bisect_left(times, now_ms - lookback_ms, 0, end)
            start = max(0, min(start, end - 1) - 1)  # one point before the window: the price at its start
            hist = tuple(zip(times[start:end], prices[start:end], strict=True))
        return SpotView(product, now_ms if clock_now is None else clock_now, hist[-1][1], hist[-1][0], hist)


# --------------------------------------------------------------------------- recorded files


_TIME_KEYS = ("time", "ts", "timestamp", "t_ms", "ts_ms", "datetime", "date")
_PRICE_KEYS = ("price", "close", "last", "spot", "value", "mid")
_PRODUCT_KEYS = ("product", "product_id", "symbol", "asset", "pair")


def _pick(row: dict[str, Any], keys: Sequence[str]) -> str | None:
    lower = {k.lower(): k for k in row}
    return next((lower[k] for k in keys if k in lower), None)


def load_spot_file(path: str | Path) -> SpotHistory:
    """Read recorded spot prices: CSV with a header, or JSON Lines, of time, price (and product).

    Columns are found by name: time (``time``, ``ts``, ``timestamp``, ``t_ms``…), price
    (``price``, ``close``, ``last``…) and optionally product (``product``, ``symbol``…, e.g.
    ``BTC-USD``); without a product column the prices stand for every product.

    Raises:
        InputError: unreadable file, or a row without a time and a positive price (names the line).
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(
            f"{p}: cannot read the spot file ({getattr(e, 'strerror', None) or e})",
            hint="give --spot a CSV or JSON Lines file of time, price",
        ) from None
    hist = SpotHistory()
    rows: Iterable[tuple[int, dict[str, Any]]]
    if text.lstrip().startswith("{"):

        def jsonl() -> Iterable[tuple[int, dict[str, Any]]]:
            for n, line in enumerate(text.splitlines(), 1):
                if line.strip():
                    try:
                        obj = orjson.loads(line)
                    except orjson.JSONDecodeError:
                        raise InputError(f"{p}:{n}: not valid JSON", hint="one {time, price} object per line") from None
                    if not isinstance(obj, dict):
                        raise InputError(f"{p}:{n}: expected a JSON object with time and price")
                    yield n, obj

        rows = jsonl()
    else:
        reader = csv.DictReader(io.StringIO(text))
        rows = ((n, dict(r)) for n, r in enumerate(reader, 2))
    count = 0
    for n, row in rows:
        tk, pk, prk = _pick(row, _TIME_KEYS), _pick(row, _PRICE_KEYS), _pick(row, _PRODUCT_KEYS)
        if tk is None or pk is None:
            raise InputError(
                f"{p}:{n}: a spot row needs a time and a price column, got {sorted(row)}",
                hint="name the columns time and price (and product, e.g. BTC-USD)",
            )
        try:
            ts, price = parse_time_ms(row[tk]), float(row[pk])
        except (TypeError, ValueError):
            raise InputError(
                f"{p}:{n}: bad time or price ({row[tk]!r}, {row[pk]!r})",
                hint="time as ISO-8601 or Unix seconds/ms, price a positive number",
            ) from None
        if not price > 0:
            raise InputError(f"{p}:{n}: price must be positive, got {row[pk]!r}")
        product = str(row[prk]).replace("/", "-").upper() if prk is not None and row[prk] else ANY
        hist.add(product, ts, price)
        count += 1
    if count == 0:
        raise InputError(f"{p}: no spot prices in the file", hint="a CSV or JSON Lines file of time, price")
    return hist


class FileSpot:
    """Recorded spot, seen as of the market snapshot's time."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.history = load_spot_file(self.path)

    def view(self, product: str, now_ms: int, lookback_ms: int) -> SpotView | None:
        return self.history.view(product, now_ms, lookback_ms)

    def describe(self) -> str:
        return f"file:{self.path}"

    def close(self) -> None:
        pass


# --------------------------------------------------------------------------- live feeds


def _kraken_symbol(product: str) -> str:
    base, _, quote = product.partition("-")
    return f"{base}/{quote or 'USD'}"


def subscribe_message(venue: str, products: Sequence[str]) -> dict[str, Any]:
    """The ticker subscription a venue expects."""
    if venue == "kraken":
        return {"method": "subscribe", "params": {"channel": "ticker", "symbol": [_kraken_symbol(p) for p in products]}}
    return {"type": "subscribe", "product_ids": list(products), "channels": ["ticker"]}


def parse_ticks(venue: str, msg: Any) -> list[tuple[str, float]]:
    """(product, price) of every trade price in one feed message (others: none)."""
    out: list[tuple[str, float]] = []
    if not isinstance(msg, dict):
        return out
    try:
        if venue == "kraken":
            if msg.get("channel") == "ticker" and msg.get("type") in ("snapshot", "update"):
                for d in msg.get("data") or ():
                    if isinstance(d, dict) and d.get("symbol") and d.get("last") is not None:
                        out.append((str(d["symbol"]).replace("/", "-").upper(), float(d["last"])))
        elif msg.get("type") == "ticker" and msg.get("product_id") and msg.get("price") is not None:
            out.append((str(msg["product_id"]).upper(), float(msg["price"])))
    except (TypeError, ValueError):
        return []
    return out


class LiveSpot:
    """A public exchange ticker over WebSocket, on its own thread, reconnecting; prices stamped on arrival."""

    def __init__(
        self,
        venue: str,
        url: str,
        products: Sequence[str],
        *,
        clock_ms: Callable[[], int] | None = None,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        open_timeout: float = 10.0,
    ) -> None:
        if venue not in VENUES:
            raise UsageError(f"unknown spot venue '{venue}'", hint=f"use one of {', '.join(VENUES)} or file:PATH")
        self.venue, self.url, self.products = venue, url, list(products)
        self.clock_ms = clock_ms or wall_ms
        self.history = SpotHistory()
        self.backoff_base, self.backoff_max, self.open_timeout = backoff_base, backoff_max, open_timeout
        self.connects = 0  # connections made (a reconnect adds one)
        self.messages = 0
        self.last_error = ""
        self.updated = threading.Condition()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._closed = False
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._main, name=f"kalashi-spot-{venue}", daemon=True)
        self._thread.start()
        self._ready.wait(5)

    def view(self, product: str, now_ms: int, lookback_ms: int) -> SpotView | None:
        now = self.clock_ms()  # a live price is as old as our clock says, whatever time the books are from
        return self.history.view(product, now, lookback_ms, clock_now=now)

    def describe(self) -> str:
        return f"{self.venue}:{self.url}"

    def wait_for(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Wait (bounded) until ``predicate()`` holds after some feed activity; return whether it did."""
        deadline = time.monotonic() + timeout
        with self.updated:
            while not predicate():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.updated.wait(left)
        return True

    def _notify(self) -> None:
        with self.updated:
            self.updated.notify_all()

    def _main(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._stop = asyncio.Event()
        self._ready.set()
        try:
            loop.run_until_complete(self._run())
        finally:
            loop.close()

    async def _run(self) -> None:
        from websockets.asyncio.client import connect
        from websockets.exceptions import WebSocketException

        assert self._stop is not None
        attempt = 0
        while not self._stop.is_set():
            try:
                async with connect(self.url, open_timeout=self.open_timeout, max_size=2**22) as ws:
                    self.connects += 1
                    attempt = 0
                    self._notify()
                    await ws.send(orjson.dumps(subscribe_message(self.venue, self.products)).decode())
                    reader = asyncio.ensure_future(self._read(ws))
                    stopper = asyncio.ensure_future(self._stop.wait())
                    done, pending = await asyncio.wait({reader, stopper}, return_when=asyncio.FIRST_COMPLETED)
                    for t in pending:
                        t.cancel()
                    if reader in done and reader.exception() is not None:
                        raise reader.exception()  # type: ignore[misc]
            except (OSError, TimeoutError, WebSocketException, asyncio.IncompleteReadError) as e:
                self.last_error = f"{type(e).__name__}: {e}"
                log.info("spot feed %s: %s", self.url, self.last_error)
            if self._stop.is_set():
                break
            delay = min(self.backoff_max, self.backoff_base * (2**attempt)) * (0.5 + random.random() / 2)
            attempt += 1
            self._notify()
            try:
                await asyncio.wait_for(self._stop.wait(), delay)
            except TimeoutError:
                pass

    async def _read(self, ws: Any) -> None:
        async for raw in ws:
            try:
                msg = orjson.loads(raw)
            except orjson.JSONDecodeError:
                continue
            ticks = parse_ticks(self.venue, msg)
            if ticks:
                now = self.clock_ms()
                for product, price in ticks:
                    self.history.add(product, now, price)
                self.messages += 1
                self._notify()

    def close(self) -> None:
        """Stop the feed and its thread (idempotent)."""
        if self._closed:
            return
        self._closed = True
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(stop.set)
            except RuntimeError:
                pass
        self._thread.join(10)


_SHARED: dict[tuple[str, tuple[str, ...]], SpotSource] = {}
_SHARED_LOCK = threading.Lock()


def shared_spot(spec: str, *, products: Sequence[str] = ("BTC-USD", "ETH-USD")) -> SpotSource:
    """One spot source per descriptor for the whole process (a live feed runs until the process exits).

    What the profile's models use: every Analyzer the loop, the bridge or an MCP call builds
    shares one feed instead of opening a WebSocket each.

    Raises:
        UsageError, InputError: as :func:`open_spot`.
    """
    key = (spec.strip(), tuple(sorted(products)))
    with _SHARED_LOCK:
        src = _SHARED.get(key)
        if src is None:
            src = _SHARED[key] = open_spot(spec, products=products)
        return src


def open_spot(
    spec: str, *, products: Sequence[str] = ("BTC-USD", "ETH-USD"), clock_ms: Callable[[], int] | None = None
) -> SpotSource:
    """Open a spot source from its descriptor (see the module docstring).

    Raises:
        UsageError: an unknown descriptor. InputError: an unreadable file.
    """
    s = spec.strip()
    if s.startswith("file:"):
        return FileSpot(s[5:])
    venue, _, url = s.partition(":")
    if venue in VENUES:
        return LiveSpot(venue, url or VENUES[venue], products, clock_ms=clock_ms)
    if Path(s).suffix.lower() in (".csv", ".jsonl", ".json") or Path(s).is_file():
        return FileSpot(s)
    raise UsageError(
        f"unknown spot source '{spec}'",
        hint="use coinbase, kraken, coinbase:URL, kraken:URL or file:PATH (CSV/JSONL of time, price)",
    )
