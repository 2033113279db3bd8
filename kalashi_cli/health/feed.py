"""The WebSocket feed's health (last message age, stale books) and its repair (resync).

These work on a :class:`~kalashi_cli.kalshi.ws.KalshiFeed` in the same process as the
loop (the bridge's service, or a loop with a ``kalshi,ws=1`` source). A separate
``kalashi heal`` process cannot see another process's feed; it judges WS mode from the
journal instead (:func:`kalashi_cli.heal.probes.ws_mode_check`).

Thresholds::

    not connected                                   failed (the feed reconnects with backoff)
    last book message older than 60 s               degraded   (quiet markets send few deltas)
    last book message older than 300 s              failed
    any stale book                                  degraded   (a resync is pending)
    more than half of the books stale               failed

The repair runs in-process, from the loop's own iterations (``TradingLoop.run_iteration``,
so ``run-loop``, the bridge and the MCP server alike) and from the dashboard's health
checks: :func:`repair_source_feed` resyncs a feed that has not been ok for
``REPAIR_AFTER_S`` (the feed's own resync after a gap needs well under a second), at most
once per ``REPAIR_EVERY_S``, and journals what it did as a ``repair`` (action ``resync``).
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

from . import DEGRADED, FAILED, OK, Check, CheckResult, Repair, feed_of, timed

log = logging.getLogger("kalashi.heal")

FEED_DEGRADED_AGE_S = 60.0
FEED_FAILED_AGE_S = 300.0
STALE_FAILED_FRACTION = 0.5
#: a feed must have been unwell this long before it is repaired (its own resync after a gap is quicker)
REPAIR_AFTER_S = 10.0
#: at most one repair per feed in this many seconds
REPAIR_EVERY_S = 30.0
#: how long a repair may take on the feed's event loop
REPAIR_TIMEOUT_S = 5.0


def _wall_ms() -> int:
    return time.time_ns() // 1_000_000


def last_message_ms(feed: Any) -> int | None:
    """When the feed last applied a book message (wall ms), or None before the first."""
    stamps = [b.updated_ms for b in feed.store.books.values() if b.updated_ms]
    return max(stamps) if stamps else None


def feed_check(
    feed: Any,
    *,
    now_ms: Callable[[], int] = _wall_ms,
    degraded_age_s: float = FEED_DEGRADED_AGE_S,
    failed_age_s: float = FEED_FAILED_AGE_S,
) -> Check:
    """Judge a live feed by connection, last message age and stale books (name ``ws_feed``)."""

    def run() -> CheckResult:
        books = feed.store.books
        stale = sorted(t for t, b in books.items() if b.stale)
        last = last_message_ms(feed)
        age = None if last is None else max(0.0, (now_ms() - last) / 1000)
        facts: dict[str, Any] = {
            "connected": feed.connected.is_set(),
            "books": len(books),
            "stale_books": len(stale),
            "last_message_age_s": None if age is None else round(age, 3),
            "reconnects": feed.reconnects,
            "gaps": feed.store.gaps,
            "resyncs": feed.resyncs,
        }
        if not feed.connected.is_set():
            return FAILED, f"not connected ({feed.reconnects} reconnects so far); the feed retries with backoff", facts
        what = "no book message yet" if age is None else f"last book message {age:.0f} s ago"
        if books and len(stale) > STALE_FAILED_FRACTION * len(books):
            return FAILED, f"{len(stale)} of {len(books)} books stale; {what}", facts
        if age is not None and age > failed_age_s:
            return FAILED, f"{what}: the feed looks silent (limit {failed_age_s:g} s)", facts
        if stale:
            return (
                DEGRADED,
                (
                    f"{len(stale)} of {len(books)} books stale ({', '.join(stale[:3])}"
                    f"{' …' if len(stale) > 3 else ''}): not traded until resynced; {what}"
                ),
                facts,
            )
        if age is not None and age > degraded_age_s:
            return DEGRADED, f"{what} (quiet markets, or a silent connection)", facts
        return OK, f"{len(books)} books fresh; {what}", facts

    return timed("ws_feed", run)


async def resync_stale_books(
    feed: Any, *, now_ms: Callable[[], int] = _wall_ms, silent_after_s: float = FEED_FAILED_AGE_S
) -> tuple[bool, str]:
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
        return (
            True,
            f"closed a connection silent for {(now_ms() - last) / 1000:.0f} s; the feed reconnects and "
            "resubscribes every market",
        )
    stale = sorted(t for t, b in feed.store.books.items() if b.stale)
    if not stale:
        return False, "no stale books"
    feed.store.mark_stale(stale)  # queue them per subscription (a no-op for the ones already queued)
    await feed.resync()
    return True, f"asked for fresh snapshots of {len(stale)} stale book(s): {', '.join(stale[:5])}"


class _Watch:
    """What the repair remembers about one feed."""

    __slots__ = ("last_repair_ms", "unwell_since_ms")

    def __init__(self) -> None:
        self.unwell_since_ms: int | None = None
        self.last_repair_ms: int | None = None


_watches: weakref.WeakKeyDictionary[Any, _Watch] = weakref.WeakKeyDictionary()
_watch_lock = threading.Lock()  # the loop thread and a dashboard/MCP health read may both ask


def repair_source_feed(
    source: Any,
    journal: Any,
    *,
    publish: Callable[[dict[str, Any]], None] | None = None,
    check: Check | None = None,
    now_ms: Callable[[], int] = _wall_ms,
) -> Repair | None:
    """Resync the WebSocket feed of an in-process Kalshi source that has been unwell a while.

    Does nothing for any other source, for a feed that is ok, before it has been unwell for
    ``REPAIR_AFTER_S``, within ``REPAIR_EVERY_S`` of the last repair, or when there is nothing
    to do (no stale book and a live connection; a feed already reconnecting). A repair it
    tries is journaled (event ``repair``, action ``resync``, target ``ws_feed``, and a
    ``repairs`` health record), handed to ``publish``, and returned. Never raises: a broken
    repair must not stop the loop that calls it.
    """
    try:
        feed = feed_of(source)
        if feed is None:
            return None
        c = check if check is not None else feed_check(feed, now_ms=now_ms)
        now = now_ms()
        with _watch_lock:
            w = _watches.setdefault(feed, _Watch())
            if c.status == OK:
                w.unwell_since_ms = None
                return None
            if w.unwell_since_ms is None:
                w.unwell_since_ms = now
            if now - w.unwell_since_ms < REPAIR_AFTER_S * 1000:
                return None
            if w.last_repair_ms is not None and now - w.last_repair_ms < REPAIR_EVERY_S * 1000:
                return None
            w.last_repair_ms = now
        run_on_feed = getattr(source, "run_on_feed", None)  # the source's event-loop thread, where its feed lives
        if run_on_feed is None:
            return None
        try:
            done, detail = run_on_feed(resync_stale_books(feed, now_ms=now_ms), timeout=REPAIR_TIMEOUT_S)
        except Exception as e:  # noqa: BLE001 - a repair that fails is reported, never raised into the loop
            done, detail, tried = False, f"the resync failed: {type(e).__name__}: {e}", True
        else:
            tried = done
        if not tried:
            return None  # nothing to ask for: the feed is reconnecting by itself, or no book is stale
        r = Repair(now, "resync", "ws_feed", done, f"{detail} (ws_feed was {c.status}: {c.detail})")
        try:
            r.journal(journal)
        except Exception as e:  # noqa: BLE001 - a journal that cannot record it must not stop trading either
            log.error("could not journal the feed repair: %s", e)
        if publish is not None:
            publish(r.to_health())
        log.info("ws_feed repair: %s", r.detail)
        return r
    except Exception:  # noqa: BLE001 - see the docstring
        log.exception("the WebSocket feed repair failed")
        return None
