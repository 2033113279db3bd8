"""Local order books kept from Kalshi snapshots and deltas — shared by the live feed and replay.

Each book holds, per side (YES bids in YES prices, NO bids in NO prices), a dict price → size
and the list of its live prices in ascending order, so the best bid is always the list's last
element: reading the best bid or ask after a delta is O(1), never a sort or a ``max`` over the
levels. A delta that only changes a level's size is one dict update; one that creates or
removes a level also moves one entry in the sorted list (a bisect and a short ``memmove`` over a
few dozen to a few hundred prices — measured faster than heaps or ``sortedcontainers`` at these
sizes; ``bench/bench_exchange.py``). A snapshot replaces both sides; conversion to a domain
:class:`~kalashi_cli.domain.Market` walks the sorted lists, best first, without sorting.

:class:`BookStore` applies whole WebSocket frames (``{type, sid, seq, msg}``):

* ``seq`` is checked per ``sid`` on every frame that has one (snapshots, deltas, and the
  ``ok``/``unsubscribed`` replies that share the counter, as the real captures show). A gap
  marks every book of that subscription **stale** and queues the tickers for a resync; a
  stale book is never served (``is_stale``) until a fresh ``orderbook_snapshot`` arrives.
* a delta that would take a level below zero proves a missed message: that book goes stale.
* NO-side prices: we subscribe with ``use_yes_price: false`` (REFERENCE §10.4), so NO-side
  levels arrive in NO-leg prices — exactly the shape of REST books and of the domain
  ``Market.no_bids``. Should a stream carry YES-leg prices on the NO side
  (``use_yes_price: true``), construct the store with ``no_side_in_yes_prices=True``.
* a snapshot whose best YES bid + best NO bid ≥ $1 is crossed — impossible on one matching
  engine, so it means the price convention is wrong; the book stays stale and is reported.
* change notification: with ``changes`` set (a :class:`BookChanges`), every book a frame
  changes — a delta applied, a snapshot, a book going stale — is reported by ticker, for a
  reactive driver on another thread (:mod:`kalashi_cli.react`). ``touched`` is the book the
  last frame changed (None when it changed none), for callers on the same thread.
"""

from __future__ import annotations

import logging
import threading
import time
from bisect import bisect_left, insort
from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from ..domain import Level, Market, with_books
from ..money import ONE_DOLLAR, Count, Price, flip, parse_count, parse_price

log = logging.getLogger("kalashi.kalshi.books")
_loads = orjson.loads

_PRICE_CACHE: dict[str, Price] = {}
_PRICE_CACHE_MAX = 200_000
# Delta sizes repeat a lot ("1.00", "-100.00"); a bounded memo avoids re-parsing them.
_COUNT_CACHE: dict[str, Count] = {}
_COUNT_CACHE_MAX = 100_000


def fast_price(text: str) -> Price:
    """Parse a dollar price string, memoised (a book sees few distinct prices)."""
    p = _PRICE_CACHE.get(text)
    if p is None:
        p = parse_price(text)
        if len(_PRICE_CACHE) >= _PRICE_CACHE_MAX:
            _PRICE_CACHE.clear()
        _PRICE_CACHE[text] = p
    return p


def fast_count(text: str) -> Count:
    """Parse a count string; the common two-decimal form without the general parser."""
    i = text.find(".")
    if i >= 0 and len(text) - i == 3 and text[i + 1 :].isdigit():
        return Count(int(text[:i] + text[i + 1 :]))
    return parse_count(text)


class BookChanges:
    """Tickers whose books changed, handed from the thread applying frames to a reader on another.

    The writer (the feed's event-loop thread) calls :meth:`push` for every change; the reader
    (the reactive driver) waits with :meth:`wait` and takes everything pending at once with
    :meth:`take`, so a burst of deltas to one book becomes one re-analysis. A ``deque`` and an
    ``Event`` are both safe across threads without a lock: the writer appends then sets the
    event if it is clear; the reader clears the event *before* draining, so a change pushed
    while it drains either is drained now or leaves the event set for the next wait — none is
    ever lost (at worst a wake-up finds nothing new).
    """

    __slots__ = ("_event", "_queue", "first_ns", "pushed")

    def __init__(self) -> None:
        self._queue: deque[str] = deque()
        self._event = threading.Event()
        #: ``time.perf_counter_ns()`` of the first change since the last :meth:`take`
        self.first_ns = 0
        self.pushed = 0

    def push(self, ticker: str) -> None:
        """Report that ``ticker``'s book changed (any thread)."""
        self._queue.append(ticker)
        if not self._event.is_set():
            self.first_ns = time.perf_counter_ns()
            self._event.set()

    def push_many(self, tickers: Iterable[str]) -> None:
        """Report several changed books at once."""
        self._queue.extend(tickers)
        if self._queue and not self._event.is_set():
            self.first_ns = time.perf_counter_ns()
            self._event.set()

    def wait(self, timeout: float | None) -> bool:
        """Block until a change is pending or ``timeout`` seconds pass; return whether one is."""
        return self._event.wait(timeout)

    def pending(self) -> bool:
        return bool(self._queue)

    def take(self) -> tuple[dict[str, None], int]:
        """Return the changed tickers (each once, in the order first seen) and when the first arrived."""
        self._event.clear()
        since = self.first_ns
        out: dict[str, None] = {}
        q = self._queue
        pop = q.popleft
        while q:
            out[pop()] = None
        self.pushed += len(out)
        return out, since


class LocalBook:
    """One market's bids: ``yes`` (YES prices) and ``no`` (NO prices), price → size, best kept in O(1).

    ``yes_prices``/``no_prices`` list the live prices of each side in ascending order (best
    bid last); they always hold exactly the keys of ``yes``/``no``. Change the levels only
    through :meth:`replace` and :meth:`apply` (or :class:`BookStore`), which keep both in step.
    """

    __slots__ = ("market_id", "no", "no_prices", "sid", "stale", "ticker", "updated_ms", "yes", "yes_prices")

    def __init__(self, ticker: str) -> None:
        self.ticker = ticker
        self.yes: dict[Price, Count] = {}
        self.no: dict[Price, Count] = {}
        self.yes_prices: list[Price] = []
        self.no_prices: list[Price] = []
        self.stale = True  # nothing trustworthy until the first snapshot
        self.sid: int | None = None
        self.market_id = ""
        self.updated_ms = 0

    def replace(self, yes_levels: Iterable[Level], no_levels: Iterable[Level]) -> None:
        """Replace both sides (a snapshot); levels of size ≤ 0 are dropped."""
        self.yes = {p: s for p, s in yes_levels if s > 0}
        self.no = {p: s for p, s in no_levels if s > 0}
        self.yes_prices = sorted(self.yes)
        self.no_prices = sorted(self.no)
        self.stale = False

    def apply(self, side_yes: bool, price: Price, delta: Count) -> bool:
        """Apply one delta; return False (and leave the level out) if it went negative."""
        if side_yes:
            levels, prices = self.yes, self.yes_prices
        else:
            levels, prices = self.no, self.no_prices
        old = levels.get(price, 0)
        size = old + delta
        if size > 0:
            levels[price] = Count(size)
            if not old:
                if not prices or price > prices[-1]:
                    prices.append(price)
                else:
                    insort(prices, price)
            return True
        if old:
            del levels[price]
            if prices[-1] == price:
                prices.pop()
            else:
                del prices[bisect_left(prices, price)]
        return size == 0

    # -- best prices: O(1) -----------------------------------------------------------------
    @property
    def best_yes_bid(self) -> Price | None:
        p = self.yes_prices
        return p[-1] if p else None

    @property
    def best_no_bid(self) -> Price | None:
        p = self.no_prices
        return p[-1] if p else None

    @property
    def best_yes_ask(self) -> Price | None:
        """1 − best NO bid (a NO bid at q is a YES ask at 1 − q)."""
        p = self.no_prices
        return flip(p[-1]) if p else None

    @property
    def best_no_ask(self) -> Price | None:
        p = self.yes_prices
        return flip(p[-1]) if p else None

    def top(self) -> tuple[Price | None, Count, Price | None, Count]:
        """Return (best YES bid, its size, best YES ask, its size) in one call."""
        y, n = self.yes_prices, self.no_prices
        bid: Price | None = None
        bid_size: Count = Count(0)
        if y:
            best_yes = y[-1]
            bid, bid_size = best_yes, self.yes[best_yes]
        if n:
            best_no = n[-1]
            return bid, bid_size, flip(best_no), self.no[best_no]
        return bid, bid_size, None, Count(0)

    def crossed(self) -> bool:
        """True when best YES bid + best NO bid ≥ $1 (YES bid ≥ YES ask): impossible on Kalshi."""
        y, n = self.yes_prices, self.no_prices
        return bool(y and n) and y[-1] + n[-1] >= ONE_DOLLAR

    # -- depth ------------------------------------------------------------------------------
    def yes_bids(self, depth: int | None = None) -> tuple[Level, ...]:
        """YES bids best first (``depth`` levels at most)."""
        return _levels(self.yes, self.yes_prices, depth)

    def no_bids(self, depth: int | None = None) -> tuple[Level, ...]:
        """NO bids best first (``depth`` levels at most)."""
        return _levels(self.no, self.no_prices, depth)

    def to_market(self, base: Market, depth: int | None = None) -> Market:
        """Return ``base`` with this book's depth, best first (``depth`` levels a side at most)."""
        return with_books(base, self.yes_bids(depth), self.no_bids(depth))

    def levels(self) -> tuple[tuple[Level, ...], tuple[Level, ...]]:
        return self.yes_bids(), self.no_bids()

    def check(self) -> None:
        """Raise AssertionError when the sorted price lists disagree with the levels (for tests)."""
        for levels, prices in ((self.yes, self.yes_prices), (self.no, self.no_prices)):
            if prices != sorted(levels) or any(levels[p] <= 0 for p in prices):
                raise AssertionError(f"{self.ticker}: sorted prices {prices} do not match levels {levels}")

    def __repr__(self) -> str:
        return f"LocalBook({self.ticker!r}, yes={len(self.yes)} levels, no={len(self.no)} levels, stale={self.stale})"


def _levels(levels: dict[Price, Count], prices: list[Price], depth: int | None) -> tuple[Level, ...]:
    if depth is None or depth >= len(prices):
        return tuple([(p, levels[p]) for p in reversed(prices)])
    return tuple([(p, levels[p]) for p in prices[: -depth - 1 : -1]]) if depth > 0 else ()


def _parse_levels(raw: Any, no_side: bool) -> list[Level]:
    out: list[Level] = []
    if not isinstance(raw, list):
        return out
    for entry in raw:
        p = fast_price(entry[0])
        out.append((flip(p) if no_side else p, fast_count(entry[1])))
    return out


class BookStore:
    """All local books of one connection (or one replay), with per-sid sequence checking."""

    def __init__(self, *, no_side_in_yes_prices: bool = False, changes: BookChanges | None = None) -> None:
        self.books: dict[str, LocalBook] = {}
        self.no_side_in_yes_prices = no_side_in_yes_prices
        self.last_seq: dict[int, int] = {}
        #: sid → tickers to re-snapshot (filled on gaps and bad deltas; the feed drains it).
        self.pending_resync: dict[int, set[str]] = {}
        #: where changed tickers are reported (None: nobody listens, nothing is recorded)
        self.changes = changes
        #: the book the last frame changed, None when it changed none (same-thread readers)
        self.touched: LocalBook | None = None
        self.gaps = 0
        self.snapshots = 0
        self.deltas = 0
        self.crossed_snapshots = 0

    # -- queries ---------------------------------------------------------------------
    def book(self, ticker: str) -> LocalBook:
        b = self.books.get(ticker)
        if b is None:
            b = self.books[ticker] = LocalBook(ticker)
        return b

    def is_stale(self, ticker: str) -> bool:
        """True when the ticker has no trustworthy book (never snapshotted, gap, bad delta)."""
        b = self.books.get(ticker)
        return b is None or b.stale

    def fresh_tickers(self) -> list[str]:
        return [t for t, b in self.books.items() if not b.stale]

    def market(self, ticker: str, base: Market, depth: int | None = None) -> Market | None:
        """Return ``base`` with the local book, or None when the book is stale or unknown."""
        b = self.books.get(ticker)
        if b is None or b.stale:
            return None
        return b.to_market(base, depth)

    # -- state changes -----------------------------------------------------------------
    def mark_stale(self, tickers: Iterable[str], *, sid: int | None = None) -> None:
        """Mark books stale and queue them for a resync on ``sid`` (or their own sid)."""
        changed: list[str] = []
        for t in tickers:
            b = self.book(t)
            if not b.stale:
                changed.append(t)
            b.stale = True
            s = sid if sid is not None else b.sid
            if s is not None:
                self.pending_resync.setdefault(s, set()).add(t)
        if changed and self.changes is not None:
            self.changes.push_many(changed)

    def reset_connection(self) -> None:
        """Forget sids and sequence numbers (a new connection) and mark every book stale."""
        self.last_seq.clear()
        self.pending_resync.clear()
        self.stale_all()
        for b in self.books.values():
            b.sid = None

    def stale_all(self) -> None:
        """Mark every book stale (a disconnect: nothing is trustworthy until fresh snapshots)."""
        changed = [t for t, b in self.books.items() if not b.stale]
        for b in self.books.values():
            b.stale = True
        if changed and self.changes is not None:
            self.changes.push_many(changed)

    def take_resync(self) -> dict[int, set[str]]:
        """Return and clear the sid → tickers needing a fresh snapshot."""
        pending, self.pending_resync = self.pending_resync, {}
        return pending

    def load_rest_book(
        self, ticker: str, yes_bids: Iterable[Level], no_bids: Iterable[Level], *, ts_ms: int = 0
    ) -> None:
        """Seed a book from REST (bids best first, NO side in NO prices)."""
        b = self.book(ticker)
        b.replace(yes_bids, no_bids)
        b.updated_ms = ts_ms
        if self.changes is not None:
            self.changes.push(ticker)

    # -- frames ------------------------------------------------------------------------
    def _gap(self, sid: int, expected: int, got: int) -> None:
        self.gaps += 1
        tickers = [t for t, b in self.books.items() if b.sid == sid]
        log.warning("sequence gap on sid %s: expected %s, got %s; %d books stale", sid, expected, got, len(tickers))
        self.mark_stale(tickers, sid=sid)

    def handle_raw(self, data: bytes | str) -> dict[str, Any]:
        """Decode one text frame with orjson, apply it, and return the decoded frame."""
        frame: dict[str, Any] = _loads(data)
        self.handle(frame)
        return frame

    def handle(self, frame: Mapping[str, Any], *, ts_ms: int = 0) -> str | None:
        """Apply one decoded frame; return its ``type`` when it is not a book message (else None).

        Book messages are ``orderbook_snapshot`` and ``orderbook_delta``; every frame with a
        ``seq`` is sequence-checked against its ``sid`` first. ``touched`` is set to the book
        the frame changed (None when none).
        """
        sid = frame.get("sid")
        seq = frame.get("seq")
        if seq is not None and sid is not None:
            last = self.last_seq.get(sid)
            if last is not None and seq != last + 1:
                self._gap(sid, last + 1, seq)
            self.last_seq[sid] = seq
        self.touched = None
        kind = frame.get("type")
        if kind == "orderbook_delta":
            self._apply_delta(frame["msg"], sid, ts_ms)
            return None
        if kind == "orderbook_snapshot":
            self._apply_snapshot(frame["msg"], sid, ts_ms)
            return None
        return kind if isinstance(kind, str) else None

    def _apply_delta(self, msg: Mapping[str, Any], sid: Any, ts_ms: int) -> None:
        """One ``orderbook_delta``: a level's size changes (a stale or unknown book ignores it)."""
        # The hot path (hundreds of thousands per second): memoised parses, one dict update,
        # and one sorted-list move only when a level appears or disappears.
        book = self.books.get(msg["market_ticker"])
        if book is None or book.stale:
            return  # waiting for a snapshot; a stale book's deltas are meaningless
        try:
            text = msg["price_dollars"]
            price = _PRICE_CACHE.get(text)
            if price is None:
                price = fast_price(text)
            text = msg["delta_fp"]
            change = _COUNT_CACHE.get(text)
            if change is None:
                change = fast_count(text)
                if len(_COUNT_CACHE) < _COUNT_CACHE_MAX:
                    _COUNT_CACHE[text] = change
            if msg["side"] == "yes":
                levels = book.yes
                prices = book.yes_prices
            else:
                levels = book.no
                prices = book.no_prices
                if self.no_side_in_yes_prices:
                    price = Price(ONE_DOLLAR - price)
            old = levels.get(price, 0)
            size = old + change
            if size > 0:
                levels[price] = Count(size)
                if not old:  # a new level: keep the sorted prices (appending is the common case)
                    if not prices or price > prices[-1]:
                        prices.append(price)
                    else:
                        insort(prices, price)
                ok = True
            else:
                if old:
                    del levels[price]
                    if prices[-1] == price:
                        prices.pop()
                    else:
                        del prices[bisect_left(prices, price)]
                ok = size == 0
        except (KeyError, ValueError, TypeError, IndexError):
            ok = False
        self.deltas += 1
        if not ok:
            log.warning("inconsistent delta for %s; book marked stale", book.ticker)
            self.mark_stale((book.ticker,), sid=sid if isinstance(sid, int) else None)
            return
        if ts_ms:
            book.updated_ms = ts_ms
        self.touched = book
        if self.changes is not None:
            self.changes.push(book.ticker)

    def _apply_snapshot(self, msg: Mapping[str, Any], sid: Any, ts_ms: int) -> None:
        """One ``orderbook_snapshot``: the book is replaced and fresh again (unless it is crossed)."""
        book = self.book(msg["market_ticker"])
        no_side = self.no_side_in_yes_prices
        try:
            yes = _parse_levels(msg.get("yes_dollars_fp"), False)
            no = _parse_levels(msg.get("no_dollars_fp"), no_side)
        except (KeyError, ValueError, TypeError, IndexError):
            log.warning("unreadable snapshot for %s; book stays stale", book.ticker)
            self.mark_stale((book.ticker,))
            return
        book.replace(yes, no)
        if isinstance(sid, int):
            book.sid = sid
        book.market_id = msg.get("market_id") or book.market_id
        book.updated_ms = ts_ms
        self.snapshots += 1
        if sid is not None and sid in self.pending_resync:
            self.pending_resync[sid].discard(book.ticker)
            if not self.pending_resync[sid]:
                del self.pending_resync[sid]
        if book.crossed():
            self.crossed_snapshots += 1
            book.stale = True
            log.error(
                "crossed snapshot for %s (best YES bid + best NO bid >= $1): wrong NO-side "
                "price convention? book kept stale",
                book.ticker,
            )
        self.touched = book
        if self.changes is not None:
            self.changes.push(book.ticker)
