"""Local order books kept from Kalshi snapshots and deltas — shared by the live feed and replay.

Each book holds two dicts, price → size, for the YES bids (YES prices) and the NO bids
(NO prices): a delta is one dict update (O(1)); a snapshot replaces both; conversion to a
domain :class:`~kalashi_cli.domain.Market` sorts once, best first.

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
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from kalashi_cli.domain import Level, Market
from kalashi_cli.money import ONE_DOLLAR, Count, Price, parse_count, parse_price

log = logging.getLogger("kalashi.exchange.books")
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
    if i >= 0 and len(text) - i == 3 and text[i + 1:].isdigit():
        return int(text[:i] + text[i + 1:])
    return parse_count(text)


class LocalBook:
    """One market's bids: ``yes`` (YES prices) and ``no`` (NO prices), price → size."""

    __slots__ = ("market_id", "no", "sid", "stale", "ticker", "updated_ms", "yes")

    def __init__(self, ticker: str) -> None:
        self.ticker = ticker
        self.yes: dict[Price, Count] = {}
        self.no: dict[Price, Count] = {}
        self.stale = True  # nothing trustworthy until the first snapshot
        self.sid: int | None = None
        self.market_id = ""
        self.updated_ms = 0

    def replace(self, yes_levels: Iterable[Level], no_levels: Iterable[Level]) -> None:
        """Replace both sides (a snapshot); levels of size ≤ 0 are dropped."""
        self.yes = {p: s for p, s in yes_levels if s > 0}
        self.no = {p: s for p, s in no_levels if s > 0}
        self.stale = False

    def apply(self, side_yes: bool, price: Price, delta: Count) -> bool:
        """Apply one delta; return False (and leave the level out) if it went negative."""
        levels = self.yes if side_yes else self.no
        size = levels.get(price, 0) + delta
        if size > 0:
            levels[price] = size
            return True
        levels.pop(price, None)
        return size == 0

    def yes_bids(self) -> tuple[Level, ...]:
        return tuple(sorted(self.yes.items(), reverse=True))

    def no_bids(self) -> tuple[Level, ...]:
        return tuple(sorted(self.no.items(), reverse=True))

    @property
    def best_yes_bid(self) -> Price | None:
        return max(self.yes) if self.yes else None

    @property
    def best_no_bid(self) -> Price | None:
        return max(self.no) if self.no else None

    def crossed(self) -> bool:
        """True when best YES bid + best NO bid ≥ $1 (YES bid ≥ YES ask): impossible on Kalshi."""
        if not self.yes or not self.no:
            return False
        return max(self.yes) + max(self.no) >= ONE_DOLLAR

    def to_market(self, base: Market) -> Market:
        """Return ``base`` with this book's full depth, best first."""
        return dataclasses.replace(base, yes_bids=self.yes_bids(), no_bids=self.no_bids())

    def levels(self) -> tuple[tuple[Level, ...], tuple[Level, ...]]:
        return self.yes_bids(), self.no_bids()

    def __repr__(self) -> str:
        return (f"LocalBook({self.ticker!r}, yes={len(self.yes)} levels, no={len(self.no)} levels, "
                f"stale={self.stale})")


def _parse_levels(raw: Any, flip: bool) -> list[Level]:
    out: list[Level] = []
    if not isinstance(raw, list):
        return out
    for entry in raw:
        p = fast_price(entry[0])
        out.append((ONE_DOLLAR - p if flip else p, fast_count(entry[1])))
    return out


class BookStore:
    """All local books of one connection (or one replay), with per-sid sequence checking."""

    def __init__(self, *, no_side_in_yes_prices: bool = False) -> None:
        self.books: dict[str, LocalBook] = {}
        self.no_side_in_yes_prices = no_side_in_yes_prices
        self.last_seq: dict[int, int] = {}
        #: sid → tickers to re-snapshot (filled on gaps and bad deltas; the feed drains it).
        self.pending_resync: dict[int, set[str]] = {}
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

    def market(self, ticker: str, base: Market) -> Market | None:
        """Return ``base`` with the local book, or None when the book is stale or unknown."""
        b = self.books.get(ticker)
        if b is None or b.stale:
            return None
        return b.to_market(base)

    # -- state changes -----------------------------------------------------------------
    def mark_stale(self, tickers: Iterable[str], *, sid: int | None = None) -> None:
        """Mark books stale and queue them for a resync on ``sid`` (or their own sid)."""
        for t in tickers:
            b = self.book(t)
            b.stale = True
            s = sid if sid is not None else b.sid
            if s is not None:
                self.pending_resync.setdefault(s, set()).add(t)

    def reset_connection(self) -> None:
        """Forget sids and sequence numbers (a new connection) and mark every book stale."""
        self.last_seq.clear()
        self.pending_resync.clear()
        for b in self.books.values():
            b.stale = True
            b.sid = None

    def take_resync(self) -> dict[int, set[str]]:
        """Return and clear the sid → tickers needing a fresh snapshot."""
        pending, self.pending_resync = self.pending_resync, {}
        return pending

    def load_rest_book(self, ticker: str, yes_bids: Iterable[Level], no_bids: Iterable[Level],
                       *, ts_ms: int = 0) -> None:
        """Seed a book from REST (bids best first, NO side in NO prices)."""
        b = self.book(ticker)
        b.replace(yes_bids, no_bids)
        b.updated_ms = ts_ms

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
        ``seq`` is sequence-checked against its ``sid`` first.
        """
        seq = frame.get("seq")
        sid = frame.get("sid")
        if seq is not None and sid is not None:
            last = self.last_seq.get(sid)
            if last is not None and seq != last + 1:
                self._gap(sid, last + 1, seq)
            self.last_seq[sid] = seq
        kind = frame.get("type")
        if kind == "orderbook_delta":
            # The hot path (hundreds of thousands per second): memoised parses, one dict update.
            msg = frame["msg"]
            book = self.books.get(msg["market_ticker"])
            if book is None or book.stale:
                return None  # waiting for a snapshot; a stale book's deltas are meaningless
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
                else:
                    levels = book.no
                    if self.no_side_in_yes_prices:
                        price = ONE_DOLLAR - price
                size = levels.get(price, 0) + change
                if size > 0:
                    levels[price] = size
                    ok = True
                else:
                    levels.pop(price, None)
                    ok = size == 0
            except (KeyError, ValueError, TypeError, IndexError):
                ok = False
            self.deltas += 1
            if not ok:
                log.warning("inconsistent delta for %s; book marked stale", book.ticker)
                self.mark_stale((book.ticker,), sid=sid if isinstance(sid, int) else None)
            elif ts_ms:
                book.updated_ms = ts_ms
            return None
        if kind == "orderbook_snapshot":
            msg = frame["msg"]
            book = self.book(msg["market_ticker"])
            flip = self.no_side_in_yes_prices
            try:
                yes = _parse_levels(msg.get("yes_dollars_fp"), False)
                no = _parse_levels(msg.get("no_dollars_fp"), flip)
            except (KeyError, ValueError, TypeError, IndexError):
                log.warning("unreadable snapshot for %s; book stays stale", book.ticker)
                book.stale = True
                return None
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
                log.error("crossed snapshot for %s (best YES bid + best NO bid >= $1): wrong NO-side "
                          "price convention? book kept stale", book.ticker)
            return None
        return kind if isinstance(kind, str) else None
