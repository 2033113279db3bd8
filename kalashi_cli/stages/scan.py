"""scan: page through a source's markets, keep the tradeable ones, and fetch their books.

The prefilter (profile ``scan``): status in the allowed list, volume and open interest above
their minimums, no combo/multivariate markets, close time inside the window. Markets that pass
are fetched with depth in batches (one batched orderbook request per batch on Kalshi), cut to
the profile's ``depth_levels`` per side, and emitted grouped by event so ``analyze`` can see
whole events.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime

from ..domain import Market, with_books
from ..money import COUNT_SCALE
from ..ports import MarketSource
from ..profile import Profile


@dataclass(slots=True)
class ScanStats:
    listed: int = 0
    passed: int = 0
    emitted: int = 0


def close_ms(m: Market) -> int | None:
    """Return the market's close time in Unix ms (None when unknown or unparseable)."""
    if m.close_ts_ms is not None:
        return m.close_ts_ms
    if not m.close_time:
        return None
    try:
        return int(datetime.fromisoformat(m.close_time.replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        return None


class Prefilter:
    """The scan prefilter as one callable: ``Prefilter(profile, now_ms)(market) -> bool``."""

    def __init__(self, profile: Profile, now_ms: int) -> None:
        s = profile.scan
        self.statuses = frozenset(s.statuses)
        self.min_volume = int(s.min_volume * COUNT_SCALE)
        self.min_oi = int(s.min_open_interest * COUNT_SCALE)
        self.exclude_combo = s.exclude_combo
        self.earliest = now_ms + int(s.min_hours_to_close * 3_600_000)
        self.latest = now_ms + int(s.max_days_to_close * 86_400_000)

    def __call__(self, m: Market) -> bool:
        if m.status not in self.statuses:
            return False
        if m.activity_known and (m.volume <= self.min_volume or m.open_interest <= self.min_oi):
            return False  # a market whose source cannot know its activity is judged on the rest
        if self.exclude_combo and m.is_combo:
            return False
        c = close_ms(m)
        return c is None or self.earliest <= c <= self.latest


def scan(
    source: MarketSource,
    profile: Profile,
    *,
    limit: int | None = None,
    stats: ScanStats | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Iterator[Market]:
    """Yield prefiltered markets with full depth, grouped by event, batch by batch."""
    stats = stats if stats is not None else ScanStats()
    keep = Prefilter(profile, source.now_ms())
    batch: list[Market] = []
    size = profile.scan.batch_size
    depth = profile.scan.depth_levels

    def flush() -> Iterator[Market]:
        books = source.books([m.ticker for m in batch])
        # stable grouping by event: events in first-seen order, markets in listing order
        order: dict[str, list[Market]] = {}
        for m in batch:
            full = books.get(m.ticker)
            if full is not None:
                if depth and (len(full.yes_bids) > depth or len(full.no_bids) > depth):
                    full = with_books(full, full.yes_bids[:depth], full.no_bids[:depth])
                order.setdefault(full.event_ticker, []).append(full)
        for group in order.values():
            for m in group:
                if limit is not None and stats.emitted >= limit:
                    return
                stats.emitted += 1
                yield m
        batch.clear()

    for m in source.list_markets():
        stats.listed += 1
        if progress and stats.listed % 1000 == 0:
            progress(stats.listed, stats.emitted)
        if not keep(m):
            continue
        stats.passed += 1
        # keep whole events together in one batch where possible
        if len(batch) >= size and batch[-1].event_ticker != m.event_ticker:
            yield from flush()
            if limit is not None and stats.emitted >= limit:
                return
        batch.append(m)
    if batch:
        yield from flush()
    if progress:
        progress(stats.listed, stats.emitted)
