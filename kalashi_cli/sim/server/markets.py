"""Market data endpoints: ``/markets``, ``/markets/{ticker}``, order books and the public tape.

Strict like Kalshi (REFERENCE §5.3, §12): ``/markets`` takes one comma-separated ``tickers``
value while ``/markets/orderbooks`` takes repeated ``tickers``; page limits are 1000; the
timestamp filter families of ``/markets`` exclude each other and bind to statuses. Markets
settled before the historical cutoff are not listed here (they are under ``/historical``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from ...domain import Trade
from . import serialize as ser
from .catalog import MarketRecord
from .core import ExchangeCore
from .params import ApiError, Params, Reply, bad, decode_cursor, encode_cursor, ts_filter, within

MARKETS_PAGE_MAX = 1000
ORDERBOOKS_MAX = 100

FILTER_STATUS = {
    "unopened": ("initialized",),
    "open": ("active",),
    "paused": ("inactive",),
    "closed": ("closed", "determined", "disputed", "amended"),
    "settled": ("finalized",),
}
MVE_FILTERS = ("only", "exclude")
_FAMILY_STATUSES = {
    "created": (None, "unopened", "open"),
    "close": (None, "closed"),
    "settled": (None, "settled"),
    "updated": (None,),
}


def market_filter(x: ExchangeCore, p: Params) -> Callable[[MarketRecord], bool]:
    """The ``/markets`` filters as one predicate (validated: a bad value is a 400)."""
    status = p.choice("status", tuple(FILTER_STATUS))
    created = ts_filter(p, "min_created_ts", "max_created_ts")
    closing = ts_filter(p, "min_close_ts", "max_close_ts")
    settled = ts_filter(p, "min_settled_ts", "max_settled_ts")
    updated = ts_filter(p, "min_updated_ts", "max_updated_ts")
    # REFERENCE §5.3: the timestamp families exclude each other and bind to statuses
    families = [
        n
        for n, f in (("created", created), ("close", closing), ("settled", settled), ("updated", updated))
        if f != (None, None)
    ]
    if len(families) > 1:
        raise bad(f"timestamp filters {', '.join(families)} cannot be combined")
    if families and status not in _FAMILY_STATUSES[families[0]]:
        raise bad(f"{families[0]} timestamp filters do not combine with status={status}")
    mve = p.choice("mve_filter", MVE_FILTERS)
    event = p.get("event_ticker")
    series = p.get("series_ticker")
    want = FILTER_STATUS[status] if status else None

    def keep(rec: MarketRecord) -> bool:
        if event is not None and rec.event_ticker != event:
            return False
        if series is not None and rec.series_ticker != series:
            return False
        if (mve == "only" and not rec.market.is_combo) or (mve == "exclude" and rec.market.is_combo):
            return False
        if want is not None and x.engine.market_status(rec.ticker) not in want:
            return False
        if not within(rec.created_ms, *created) or not within(rec.close_ms, *closing):
            return False
        return within(rec.settled_ms, *settled) and within(rec.updated_ms, *updated)

    return keep


def page_of(
    records: Iterable[MarketRecord], keep: Callable[[MarketRecord], bool], limit: int
) -> tuple[list[MarketRecord], str]:
    """The first ``limit`` kept records and the cursor after them ("" when nothing follows)."""
    out: list[MarketRecord] = []
    for rec in records:
        if not keep(rec):
            continue
        if len(out) == limit:
            return out, encode_cursor(out[-1].seq)
        out.append(rec)
    return out, ""


class MarketData:
    """``/markets``, ``/markets/{ticker}``, ``/markets/{ticker}/orderbook``, ``/markets/orderbooks``,
    ``/markets/trades``."""

    def __init__(self, x: ExchangeCore) -> None:
        self.x = x

    def markets(self, p: Params) -> Reply:
        x = self.x
        p.allow(
            "limit",
            "cursor",
            "event_ticker",
            "series_ticker",
            "status",
            "tickers",
            "mve_filter",
            "min_created_ts",
            "max_created_ts",
            "min_close_ts",
            "max_close_ts",
            "min_settled_ts",
            "max_settled_ts",
            "min_updated_ts",
            "max_updated_ts",
        )
        limit = p.limit(100, MARKETS_PAGE_MAX)
        keep = market_filter(x, p)
        tickers = p.csv("tickers")
        after = decode_cursor(p.get("cursor"))
        candidates: Iterable[MarketRecord]
        if tickers is not None:
            candidates = sorted(
                (r for t in dict.fromkeys(tickers) if (r := x.driver.markets.get(t)) is not None and r.seq > after),
                key=lambda r: r.seq,
            )
        else:
            candidates = x.driver.markets_after(after)
        rows, cursor = page_of(candidates, lambda r: not x.is_historical(r) and keep(r), limit)
        return 200, {"markets": [x.market_json(r) for r in rows], "cursor": cursor}

    def market(self, ticker: str, p: Params) -> Reply:
        p.allow()
        return 200, {"market": self.x.market_json(self.x.live_record(ticker))}

    def orderbook(self, ticker: str, p: Params) -> Reply:
        p.allow("depth")
        self.x.live_record(ticker)
        depth = p.integer("depth", 0, lo=0, hi=100) or 0
        return 200, {"orderbook_fp": ser.orderbook_fp(self.x.book(ticker), depth)}

    def orderbooks(self, p: Params) -> Reply:
        p.allow("tickers")
        tickers = p.all("tickers")
        if not tickers:
            raise bad("tickers is required (repeat it: ?tickers=A&tickers=B)")
        if len(tickers) > ORDERBOOKS_MAX:
            raise bad(f"at most {ORDERBOOKS_MAX} tickers per request, got {len(tickers)}")
        if any("," in t for t in tickers):
            raise bad("tickers is a repeated parameter here (?tickers=A&tickers=B), not a comma list")
        out = []
        for t in dict.fromkeys(tickers):
            try:
                self.x.live_record(t)
            except ApiError:
                continue
            out.append({"ticker": t, "orderbook_fp": ser.orderbook_fp(self.x.book(t))})
        return 200, {"orderbooks": out}

    def trades(self, p: Params, *, historical: bool = False) -> Reply:
        """GET /markets/trades (newer than the activity cutoff) or /historical/trades (older)."""
        p.allow("limit", "cursor", "ticker", "min_ts", "max_ts", "is_block_trade")
        x = self.x
        limit = p.limit(100, 1000)
        ticker = p.get("ticker")
        lo, hi = ts_filter(p, "min_ts", "max_ts")
        block = p.get("is_block_trade") is not None and p.flag("is_block_trade")
        cutoff = x.activity_cutoff_ms()
        before = decode_cursor(p.get("cursor"))
        out: list[Trade] = []
        last_seq = 0
        more = False
        if not block:  # the sim prints no block trades
            for seq, t in reversed(x.tape):  # newest first
                if (before and seq >= before) or (t.ts_ms < cutoff) != historical:
                    continue
                if (ticker is not None and t.ticker != ticker) or not within(t.ts_ms, lo, hi):
                    continue
                if len(out) == limit:
                    more = True
                    break
                out.append(t)
                last_seq = seq
        return 200, {
            "trades": [ser.trade_json(x.public_trade(t)) for t in out],
            "cursor": encode_cursor(last_seq) if more else "",
        }


__all__ = ["FILTER_STATUS", "MVE_FILTERS", "MarketData", "market_filter", "page_of"]
