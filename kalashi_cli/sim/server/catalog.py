"""What the simulator lists: markets, events and series, with the facts REST responses need.

The matching engine holds books, orders and money; the catalog holds everything descriptive
(titles, subtitles, open/close times, listing order, settlement results) and is kept by the
market driver from the sim universe. Listing order is the order markets and events first
appeared, which is what the cursors page over.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from ...domain import Market
from ...money import Count, Price

_NS = uuid.UUID("6b616c61-7368-692d-7369-6d2d65786368")  # "kalashi-sim-exch"


def market_uuid(ticker: str) -> str:
    """Return the stable ``market_id`` of a ticker (WS messages carry one)."""
    return str(uuid.uuid5(_NS, "market:" + ticker))


def user_uuid(account_id: str) -> str:
    """Return the stable ``user_id`` of an account (orders and WS messages carry one)."""
    return str(uuid.uuid5(_NS, "user:" + account_id))


@dataclass(slots=True)
class MarketRecord:
    """One market as listed, with the facts the engine does not keep."""

    seq: int  # listing order (cursor key)
    ticker: str
    event_ticker: str
    series_ticker: str
    market: Market  # the latest universe view (descriptive fields; books come from the engine)
    subtitle: str
    created_ms: int
    open_ms: int
    close_ms: int
    updated_ms: int
    market_id: str
    price_level_structure: str = "linear_cent"
    result: str = ""  # yes | no | scalar once settled
    settlement_value: Price | None = None
    settled_ms: int | None = None
    prev_yes_bid: Price | None = None
    prev_yes_ask: Price | None = None
    prev_last: Price | None = None
    own_volume: Count = Count(0)  # contracts our accounts traded (added to the universe's volume)
    last_trade_count: Count = Count(0)


@dataclass(slots=True)
class EventRecord:
    """One event as listed (GET /events)."""

    seq: int
    event_ticker: str
    series_ticker: str
    title: str
    sub_title: str
    category: str
    mutually_exclusive: bool
    open_ms: int
    close_ms: int
    updated_ms: int
    tickers: list[str] = field(default_factory=list)
    multivariate: bool = False  # a combo event: /events/multivariate, not /events


@dataclass(frozen=True, slots=True)
class SeriesRecord:
    """One series (GET /series): fee structure, category, price level structure."""

    ticker: str
    title: str
    category: str
    fee_type: str
    fee_multiplier: int  # 1/10 000
    price_level_structure: str
    frequency: str
