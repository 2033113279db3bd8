"""Events, series and multivariate collections: ``/events…``, ``/series…``, ``/multivariate_event_collections…``.

Multivariate (combo) events are left out of ``GET /events`` and listed by
``GET /events/multivariate``, as on Kalshi (REFERENCE §4.1). Each of the sim's combo events is
its own collection (``collection_ticker`` = the event ticker; its markets carry it as
``mve_collection_ticker``): enough to list combos and to exclude them. Creating markets in a
collection (``POST /multivariate_event_collections/{ticker}``) and leg lookups are not simulated.
Fees never change in the sim, so ``/series/fee_changes`` lists no change.
"""

from __future__ import annotations

from . import serialize as ser
from .catalog import EventRecord
from .core import ExchangeCore
from .markets import FILTER_STATUS
from .params import Json, Params, Reply, bad, decode_cursor, encode_cursor, not_found

EVENTS_PAGE_MAX = 200
EVENT_FILTERS = ("unopened", "open", "closed", "settled")
COLLECTION_STATUSES = ("unopened", "open", "closed")


class EventData:
    """``/events``, ``/events/{ticker}``, ``/events/{ticker}/metadata``, ``/events/multivariate``, series
    and multivariate collections."""

    def __init__(self, x: ExchangeCore) -> None:
        self.x = x

    # ------------------------------------------------------------------ events
    def _matches(self, ev: EventRecord, status: str | None) -> bool:
        if status is None:
            return True
        want = FILTER_STATUS[status]
        engine = self.x.engine
        return any(engine.market_status(t) in want for t in ev.tickers if engine.has_market(t))

    def _markets(self, ev: EventRecord) -> list[Json]:
        x = self.x
        return [
            x.market_json(r)
            for t in ev.tickers
            if (r := x.driver.markets.get(t)) is not None and not x.is_historical(r)
        ]

    def _page(self, p: Params, *, multivariate: bool) -> Reply:
        limit = p.limit(100 if multivariate else EVENTS_PAGE_MAX, EVENTS_PAGE_MAX, lo=1)
        status = None if multivariate else p.choice("status", EVENT_FILTERS)
        series = p.get("series_ticker")
        collection = p.get("collection_ticker") if multivariate else None
        if series is not None and collection is not None:
            raise bad("collection_ticker cannot be combined with series_ticker")
        tickers = set(p.csv("tickers") or ()) or None
        nested = p.flag("with_nested_markets")
        if not multivariate:
            p.flag("with_milestones")  # read (validated); the sim has no milestones
        min_close = p.ts("min_close_ts")
        min_updated = p.ts("min_updated_ts")
        rows: list[EventRecord] = []
        cursor = ""
        for ev in self.x.driver.events_after(decode_cursor(p.get("cursor"))):
            if ev.multivariate != multivariate or (series is not None and ev.series_ticker != series):
                continue
            if (tickers is not None and ev.event_ticker not in tickers) or (
                collection is not None and ev.event_ticker != collection
            ):
                continue
            if min_close is not None and ev.close_ms < min_close * 1000:
                continue
            if (min_updated is not None and ev.updated_ms < min_updated * 1000) or not self._matches(ev, status):
                continue
            if len(rows) == limit:
                cursor = encode_cursor(rows[-1].seq)
                break
            rows.append(ev)
        events = [ser.event_json(e, self._markets(e) if nested else None) for e in rows]
        out: Json = {"events": events, "cursor": cursor}
        if not multivariate and p.flag("with_milestones"):
            out["milestones"] = []
        return 200, out

    def events(self, p: Params) -> Reply:
        p.allow(
            "limit",
            "cursor",
            "with_nested_markets",
            "with_milestones",
            "status",
            "series_ticker",
            "tickers",
            "min_close_ts",
            "min_updated_ts",
        )
        return self._page(p, multivariate=False)

    def multivariate_events(self, p: Params) -> Reply:
        p.allow("limit", "cursor", "series_ticker", "collection_ticker", "with_nested_markets")
        return self._page(p, multivariate=True)

    def _event(self, event_ticker: str) -> EventRecord:
        ev = self.x.driver.events.get(event_ticker)
        if ev is None:
            raise not_found(f"event {event_ticker}")
        return ev

    def event(self, event_ticker: str, p: Params) -> Reply:
        p.allow("with_nested_markets")
        ev = self._event(event_ticker)
        nested = p.flag("with_nested_markets")
        markets = self._markets(ev)
        return 200, {"event": ser.event_json(ev, markets if nested else None), "markets": markets}

    def event_metadata(self, event_ticker: str, p: Params) -> Reply:
        p.allow()
        ev = self._event(event_ticker)
        return 200, ser.event_metadata_json(ev)

    # ------------------------------------------------------------------ series
    def series_list(self, p: Params) -> Reply:
        p.allow("category", "tags", "include_product_metadata", "include_volume", "min_updated_ts")
        category = p.get("category")
        tags = set(p.csv("tags") or ())
        p.flag("include_product_metadata")
        volume = self._volumes() if p.flag("include_volume") else None
        p.ts("min_updated_ts")  # every series was listed at start-up: all of them match
        out = [
            ser.series_json(s, volume=volume.get(s.ticker, 0) if volume is not None else None)
            for s in self.x.driver.series.values()
            if (category is None or s.category == category) and not tags
        ]  # sim series carry no tags
        return 200, {"series": out}

    def _volumes(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for rec in self.x.driver.market_list:
            out[rec.series_ticker] = out.get(rec.series_ticker, 0) + rec.market.volume + rec.own_volume
        return out

    def series(self, ticker: str, p: Params) -> Reply:
        p.allow("include_volume")
        s = self.x.driver.series.get(ticker)
        if s is None:
            raise not_found(f"series {ticker}")
        volume = self._volumes().get(ticker, 0) if p.flag("include_volume") else None
        return 200, {"series": ser.series_json(s, volume=volume)}

    def series_fee_changes(self, p: Params) -> Reply:
        p.allow("series_ticker", "show_historical")
        series = p.get("series_ticker")
        p.flag("show_historical")
        if series is not None and series not in self.x.driver.series:
            raise not_found(f"series {series}")
        return 200, {"series_fee_change_arr": []}  # fees never change in the sim

    def event_fee_changes(self, p: Params) -> Reply:
        p.allow("event_ticker", "limit", "cursor")
        event = p.get("event_ticker")
        p.limit(100, 1000)
        decode_cursor(p.get("cursor"))
        if event is not None:
            self._event(event)
        return 200, {"event_fee_changes": [], "cursor": ""}  # fees never change in the sim

    # ------------------------------------------------------------------ multivariate collections
    def _collections(self) -> list[EventRecord]:
        return [e for e in self.x.driver.event_list if e.multivariate]

    def collections(self, p: Params) -> Reply:
        p.allow("status", "associated_event_ticker", "series_ticker", "limit", "cursor")
        status = p.choice("status", COLLECTION_STATUSES)
        series = p.get("series_ticker")
        associated = p.get("associated_event_ticker")
        limit = p.limit(100, 200, lo=1)
        now = self.x.now_ms()
        rows: list[EventRecord] = []
        cursor = ""
        for ev in self.x.driver.events_after(decode_cursor(p.get("cursor"))):
            if not ev.multivariate or (series is not None and ev.series_ticker != series):
                continue
            if associated is not None:
                continue  # the sim's collections have no associated (leg) events
            if status is not None and _collection_status(ev, now) != status:
                continue
            if len(rows) == limit:
                cursor = encode_cursor(rows[-1].seq)
                break
            rows.append(ev)
        return 200, {"multivariate_contracts": [self._collection_json(e) for e in rows], "cursor": cursor}

    def collection(self, ticker: str, p: Params) -> Reply:
        p.allow()
        ev = self.x.driver.events.get(ticker)
        if ev is None or not ev.multivariate:
            raise not_found(f"multivariate event collection {ticker}")
        return 200, {"multivariate_contract": self._collection_json(ev)}

    def _collection_json(self, ev: EventRecord) -> Json:
        s = self.x.driver.series.get(ev.series_ticker)
        first = next((r for t in ev.tickers if (r := self.x.driver.markets.get(t)) is not None), None)
        ranges = [b.to_wire() for b in first.market.price_ranges] if first else []
        return ser.collection_json(ev, s.price_level_structure if s else "linear_cent", ranges)


def _collection_status(ev: EventRecord, now_ms: int) -> str:
    if now_ms < ev.open_ms:
        return "unopened"
    return "open" if now_ms < ev.close_ms else "closed"


__all__ = ["EVENTS_PAGE_MAX", "EventData"]
