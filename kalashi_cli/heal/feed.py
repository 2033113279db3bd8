"""The WebSocket feed's health (last message age, stale books) and its repair (resync).

These work on a :class:`~kalashi_cli.exchange.ws.KalshiFeed` in the same process as the
loop (the bridge's service, or a loop with a ``kalshi,ws=1`` source). A separate
``kalashi heal`` process cannot see another process's feed; it judges WS mode from the
journal instead (:func:`kalashi_cli.heal.exchange.ws_mode_check`).

Thresholds::

    not connected                                   failed (the feed reconnects with backoff)
    last book message older than 60 s               degraded   (quiet markets send few deltas)
    last book message older than 300 s              failed
    any stale book                                  degraded   (a resync is pending)
    more than half of the books stale               failed
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from .checks import DEGRADED, FAILED, OK, Check, CheckResult, timed

log = logging.getLogger("kalashi.heal")

FEED_DEGRADED_AGE_S = 60.0
FEED_FAILED_AGE_S = 300.0
STALE_FAILED_FRACTION = 0.5


def _wall_ms() -> int:
    return time.time_ns() // 1_000_000


def last_message_ms(feed: Any) -> int | None:
    """When the feed last applied a book message (wall ms), or None before the first."""
    stamps = [b.updated_ms for b in feed.store.books.values() if b.updated_ms]
    return max(stamps) if stamps else None


def feed_check(feed: Any, *, now_ms: Callable[[], int] = _wall_ms, degraded_age_s: float = FEED_DEGRADED_AGE_S,
               failed_age_s: float = FEED_FAILED_AGE_S) -> Check:
    """Judge a live feed by connection, last message age and stale books (name ``ws_feed``)."""

    def run() -> CheckResult:
        books = feed.store.books
        stale = sorted(t for t, b in books.items() if b.stale)
        last = last_message_ms(feed)
        age = None if last is None else max(0.0, (now_ms() - last) / 1000)
        facts: dict[str, Any] = {"connected": feed.connected.is_set(), "books": len(books), "stale_books": len(stale),
                                 "last_message_age_s": None if age is None else round(age, 3),
                                 "reconnects": feed.reconnects, "gaps": feed.store.gaps, "resyncs": feed.resyncs}
        if not feed.connected.is_set():
            return FAILED, f"not connected ({feed.reconnects} reconnects so far); the feed retries with backoff", facts
        what = "no book message yet" if age is None else f"last book message {age:.0f} s ago"
        if books and len(stale) > STALE_FAILED_FRACTION * len(books):
            return FAILED, f"{len(stale)} of {len(books)} books stale; {what}", facts
        if age is not None and age > failed_age_s:
            return FAILED, f"{what}: the feed looks silent (limit {failed_age_s:g} s)", facts
        if stale:
            return DEGRADED, (f"{len(stale)} of {len(books)} books stale ({', '.join(stale[:3])}"
                              f"{' …' if len(stale) > 3 else ''}): not traded until resynced; {what}"), facts
        if age is not None and age > degraded_age_s:
            return DEGRADED, f"{what} (quiet markets, or a silent connection)", facts
        return OK, f"{len(books)} books fresh; {what}", facts

    return timed("ws_feed", run)


async def resync_stale_books(feed: Any, *, now_ms: Callable[[], int] = _wall_ms,
                             silent_after_s: float = FEED_FAILED_AGE_S) -> tuple[bool, str]:
    """Repair a feed: reconnect a silent connection, or ask for fresh snapshots of stale books.

    Must run on the feed's event loop. Returns (done, plain-words detail). A reconnect
    resubscribes every market (fresh snapshots for all); a resync asks only for the stale
    ones with ``update_subscription``/``get_snapshot``.
    """
    # KalshiFeed has no public resync/reconnect yet (requested in docs/heal.md); these are
    # the same calls its own reader makes after a sequence gap.
    if not feed.connected.is_set():
        return False, "not connected: the feed is already reconnecting with backoff"
    last = last_message_ms(feed)
    if last is not None and (now_ms() - last) / 1000 > silent_after_s and feed.connected.is_set():
        await feed.reconnect()
        return True, f"closed a connection silent for {(now_ms() - last) / 1000:.0f} s; the feed reconnects and " \
                     "resubscribes every market"
    stale = sorted(t for t, b in feed.store.books.items() if b.stale)
    if not stale:
        return False, "no stale books"
    feed.store.mark_stale(stale)  # queue them per subscription (a no-op for the ones already queued)
    await feed.resync()
    return True, f"asked for fresh snapshots of {len(stale)} stale book(s): {', '.join(stale[:5])}"
