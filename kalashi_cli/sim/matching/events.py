"""What the engine tells its subscribers: one immutable event per change, in order.

A simulator server maps them onto Kalshi WebSocket channels:

================  ==========================================
event             Kalshi WS message
================  ==========================================
BookDelta         ``orderbook_delta`` (``seq`` per market)
TradePrinted      ``trade``
FillEvent         ``fill`` (private)
OrderUpdated      ``user_order`` (private)
PositionChanged   ``market_position`` (private)
MarketStatus      ``market_lifecycle_v2``
Settled           (REST ``/portfolio/settlements``; lifecycle ``settled``)
OrderFailed       (answer to a latency-delayed create that the exchange refused on arrival)
================  ==========================================
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from ...domain import ExchangeFill, ExchangeOrder, MarketPosition, Outcome, Settlement, Trade
from ...money import Count, Money, Price


class BookDelta(NamedTuple):
    """The combined size at one price changed by ``delta`` (``price`` in ``side``'s own terms).

    A NamedTuple rather than a frozen dataclass: it is the most frequent event and builds
    three times faster, and it is just as immutable.
    """

    ticker: str
    seq: int
    side: Outcome  # "yes": a YES bid level; "no": a NO bid level (NO price)
    price: Price
    delta: Count
    ts_ms: int


@dataclass(frozen=True, slots=True)
class TradePrinted:
    """A public trade: from market data (``external``) or caused by an account order."""

    trade: Trade
    external: bool


@dataclass(frozen=True, slots=True)
class FillEvent:
    account_id: str
    fill: ExchangeFill
    post_position: Count


@dataclass(frozen=True, slots=True)
class OrderUpdated:
    account_id: str
    order: ExchangeOrder
    reason: str  # why it was cancelled, when it was (orders.POST_ONLY_CROSS, …)
    ts_ms: int


@dataclass(frozen=True, slots=True)
class OrderFailed:
    """An order accepted by ``place`` was refused when it reached the exchange."""

    account_id: str
    order_id: str
    client_order_id: str
    code: str
    message: str
    ts_ms: int


@dataclass(frozen=True, slots=True)
class PositionChanged:
    account_id: str
    position: MarketPosition
    volume: Count
    total_traded: Money
    ts_ms: int


@dataclass(frozen=True, slots=True)
class MarketStatus:
    ticker: str
    status: str
    ts_ms: int
    result: str = ""
    value: Price | None = None


@dataclass(frozen=True, slots=True)
class Settled:
    """An account's settlement in one market; ``cost`` is what the settled contracts cost."""

    account_id: str
    settlement: Settlement
    cost: Money


EngineEvent = (
    BookDelta | TradePrinted | FillEvent | OrderUpdated | OrderFailed | PositionChanged | MarketStatus | Settled
)


class EventLog:
    """A subscriber that keeps events until drained (``engine.subscribe(log)``)."""

    def __init__(self) -> None:
        self.events: list[EngineEvent] = []

    def __call__(self, event: EngineEvent) -> None:
        self.events.append(event)

    def drain(self) -> list[EngineEvent]:
        """Return the events so far and forget them."""
        out = self.events[:]
        self.events.clear()  # the same list: the engine appends to it directly
        return out
