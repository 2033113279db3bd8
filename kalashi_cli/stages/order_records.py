"""One leg as planned and sent (:class:`LegPlan`), and the records made of what it got: order, fill, average price."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from ..domain import ExchangeFill, ExchangeOrder, Fill, Leg, Market, Order, OrderAck, OrderIntent, from_book_side
from ..money import Count, Money, Price
from ..ports import Mode
from .risk import BasketCharge


@dataclass(slots=True)
class LegPlan:
    """One leg as planned and sent: its market, intent, limit and reference price, and what it got."""

    index: int
    leg: Leg
    market: Market
    intent: OrderIntent
    limit: Price  # outcome price
    reference: Price  # best outcome ask at decision
    available: Count
    fills: list[ExchangeFill] = field(default_factory=list)  # what this leg really got (filled by _send)
    charge: BasketCharge | None = None  # what it counts against the limits for its basket (multi-leg only)
    slices: list[tuple[Price, Count]] = field(default_factory=list)  # the book levels it walks at its size
    reason: str = ""  # why it is sent, when that is more than its strategy (an exit's rule), journaled and recorded


def order_record(
    p: LegPlan,
    strategy: str,
    opp_id: str,
    *,
    mode: Mode,
    latency_ms: Decimal,
    status: str,
    order_id: str = "",
    filled: Count = Count(0),
    avg: Price | None = None,
    fees: Money = Money(0),
    reason: str = "",
) -> Order:
    """The ``order`` record of one leg's answer (the defaults: an order that was not placed)."""
    action = p.leg.action
    slippage = Decimal(0)
    if avg is not None and p.reference:
        diff = (avg - p.reference) if action == "buy" else (p.reference - avg)
        slippage = (Decimal(diff) / p.reference * 100).quantize(Decimal("0.0001"))
    return Order(
        client_order_id=p.intent.client_order_id,
        order_id=order_id,
        mode=mode,
        ticker=p.leg.ticker,
        outcome=p.leg.outcome,
        action=action,
        price=p.limit,
        count=p.intent.count,
        status=status,
        filled_count=filled,
        avg_fill_price=avg,
        fees=fees,
        latency_ms=latency_ms,
        slippage_pct=slippage,
        strategy=strategy,
        opportunity_id=opp_id,
        time_in_force=p.intent.time_in_force,
        post_only=p.intent.post_only,
        reduce_only=p.intent.reduce_only,
        reason=reason or p.reason,
    )


def fill_record(f: ExchangeFill, outcome: str) -> Fill:
    """The ``fill`` record of one exchange fill, priced in ``outcome``."""
    action, price = from_book_side(f.side, f.price, outcome)  # type: ignore[arg-type]
    ts = datetime.fromtimestamp(f.ts_ms / 1000, UTC).isoformat().replace("+00:00", "Z")
    return Fill(
        order_id=f.order_id,
        client_order_id=f.client_order_id,
        ticker=f.ticker,
        outcome=outcome,  # type: ignore[arg-type]
        action=action,
        price=price,
        count=f.count,
        fee=f.fee,
        is_taker=f.is_taker,
        ts=ts,
        fill_id=f.fill_id,
    )


def average_price(p: LegPlan, filled: Count, fills: Sequence[ExchangeFill], yes_avg: Price | None) -> Price | None:
    """The leg's average fill price in its outcome: from ``fills`` when there are any, else the answer's YES average."""
    if not filled:
        return None
    if fills:
        yes_avg = Price(sum(f.price * f.count for f in fills) // max(1, sum(f.count for f in fills)))
    return from_book_side(p.intent.side, yes_avg or p.intent.price, p.leg.outcome)[1]


def order_from_ack(intent: OrderIntent, ack: OrderAck) -> ExchangeOrder:
    """The order as the create answer describes it (when listing it failed right after)."""
    return ExchangeOrder(
        order_id=ack.order_id,
        client_order_id=intent.client_order_id,
        ticker=intent.ticker,
        side=intent.side,
        price=intent.price,
        status=ack.status,
        initial_count=intent.count,
        fill_count=ack.fill_count,
        remaining_count=ack.remaining_count,
        created_ts_ms=ack.ts_ms,
        time_in_force=intent.time_in_force,
    )
