"""Series and event metadata cached across iterations, and Kalshi market → domain Market.

Kalshi's Market object carries no ``series_ticker`` and no event exclusivity; both come from
GET /events (authoritative) and the fee structure from GET /series. This catalog holds them
(with time-to-live) for the live source and for replay, which share the conversion.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from typing import Any

from ..domain import Market
from .wire import EventInfo, SeriesInfo, parse_event, parse_market, parse_series, series_for_event, ts_ms_of

_MARKET_FIELDS = frozenset(f.name for f in dataclasses.fields(Market))


def extra_fields(close_time: str, event_market_count: int | None) -> dict[str, Any]:
    """Values for the optional convenience fields the domain Market may carry (close_ts_ms, event size)."""
    extra: dict[str, Any] = {}
    if "close_ts_ms" in _MARKET_FIELDS and close_time:
        extra["close_ts_ms"] = ts_ms_of(close_time) or None
    if "event_market_count" in _MARKET_FIELDS and event_market_count is not None:
        extra["event_market_count"] = event_market_count
    return extra


def market_extras(market: Market, *, event_market_count: int | None = None) -> Market:
    """Fill the optional convenience fields on an existing Market (close_ts_ms, event size)."""
    extra = extra_fields(market.close_time, event_market_count)
    return dataclasses.replace(market, **extra) if extra else market


class MarketCatalog:
    """Series and event metadata cached across iterations, and market → domain conversion."""

    def __init__(
        self, *, series_ttl_s: float = 3600.0, events_ttl_s: float = 900.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.series: dict[str, SeriesInfo] = {}
        self.events: dict[str, EventInfo] = {}
        self.series_ttl_s = series_ttl_s
        self.events_ttl_s = events_ttl_s
        self._clock = clock
        self._series_at: float | None = None
        self._events_at: float | None = None

    def series_due(self) -> bool:
        return self._series_at is None or self._clock() - self._series_at >= self.series_ttl_s

    def events_due(self) -> bool:
        return self._events_at is None or self._clock() - self._events_at >= self.events_ttl_s

    def set_series(self, raw: Sequence[dict[str, Any]]) -> None:
        """Replace the series cache with a full GET /series listing."""
        infos = (parse_series(s) for s in raw)
        self.series = {s.ticker: s for s in infos if s.ticker}
        self._series_at = self._clock()

    def set_events(self, raw: Sequence[dict[str, Any]]) -> None:
        """Replace the event cache with a full GET /events listing."""
        infos = (parse_event(e) for e in raw)
        self.events = {e.event_ticker: e for e in infos if e.event_ticker}
        self._events_at = self._clock()

    def add_series(self, raw: dict[str, Any]) -> None:
        """Add one series object (GET /series/{ticker}) without touching the others."""
        info = parse_series(raw)
        if info.ticker:
            self.series[info.ticker] = info

    def add_event(self, raw: dict[str, Any]) -> None:
        """Add one event object (GET /events/{ticker} or an element of a listing)."""
        info = parse_event(raw)
        if info.event_ticker:
            self.events[info.event_ticker] = info

    def to_market(self, d: dict[str, Any], *, event_market_count: int | None = None) -> Market:
        """Convert a market object, attaching series fees and event metadata when known.

        Raises:
            ValueError: the object has no ticker or a malformed number.
        """
        event_ticker = d.get("event_ticker") or ""
        event = self.events.get(event_ticker)
        series_ticker = (
            d.get("series_ticker")
            or (event.series_ticker if event else "")
            or series_for_event(event_ticker, self.series)
        )
        close = d.get("close_time")
        return parse_market(
            d,
            series=self.series.get(series_ticker),
            event=event,
            series_ticker=series_ticker,
            extra=extra_fields(close if isinstance(close, str) else "", event_market_count),
        )
