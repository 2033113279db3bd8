"""Account orders inside the engine: their mutable state and the one state table they obey.

::

    pending ──► resting ──► executed
       │           │  ▲
       │           └──┘ (partial fill, amend, decrease)
       ├──────────► executed
       └──────────► canceled ◄── resting

``pending`` is internal: the order was accepted by :meth:`MatchingEngine.place` but has not
reached the book yet (arrival latency). Kalshi removed its own ``pending`` status in Nov 2025,
so the read API never shows it. Any other move raises :class:`IllegalTransition`.
"""

from __future__ import annotations

from ...domain import ExchangeOrder, OrderAck, OrderStatus
from ...errors import KalashiError
from ...money import COUNT_SCALE, Count, Money, Price

PENDING = "pending"
RESTING = "resting"
EXECUTED = "executed"
CANCELED = "canceled"
#: the status an order shows on the exchange (an in-flight order already shows as resting); a
#: lookup rather than OrderStatus(...) on the submit path
_SHOWN: dict[str, OrderStatus] = {
    PENDING: OrderStatus.RESTING,
    RESTING: OrderStatus.RESTING,
    EXECUTED: OrderStatus.EXECUTED,
    CANCELED: OrderStatus.CANCELED,
}

_TRANSITIONS: dict[str, frozenset[str]] = {
    PENDING: frozenset({RESTING, EXECUTED, CANCELED}),
    RESTING: frozenset({RESTING, EXECUTED, CANCELED}),
    EXECUTED: frozenset(),
    CANCELED: frozenset(),
}

# Cancel reasons carried on OrderUpdated events (Kalshi names where it has one).
POST_ONLY_CROSS = "PostOnlyCrossCancel"
SELF_TRADE = "SelfTradeCancel"
IOC_REMAINDER = "ImmediateOrCancel"
FOK_UNFILLABLE = "FillOrKillCancel"
EXPIRED = "Expired"
USER_CANCELED = "UserCanceled"
DECREASED = "Decreased"
ORDER_GROUP = "OrderGroupTriggered"
MARKET_CLOSED = "MarketClosed"
MARKET_PAUSED = "MarketPaused"
MARKET_REACTIVATED = "MarketReactivated"
MARKET_SETTLED = "MarketSettled"


class IllegalTransition(KalashiError):
    """An order was asked to move between states the state table forbids (an engine bug)."""


class BookOrder:
    """One account order as the engine tracks it (mutable; never handed out)."""

    __slots__ = (
        "order_id",
        "client_order_id",
        "account_id",
        "ticker",
        "is_bid",
        "price",
        "initial",
        "filled",
        "remaining",
        "status",
        "reason",
        "tif",
        "stp",
        "post_only",
        "reduce_only",
        "expiration_ms",
        "group_id",
        "cancel_on_pause",
        "created_ms",
        "updated_ms",
        "arrival_ms",
        "taker_fees",
        "maker_fees",
        "taker_cost",
        "maker_cost",
        "fill_value",
        "ahead",
        "credit",
        "credit_ms",
        "unit_cost",
        "unit_fee",
        "unit_neg",
        "reserved_units",
        "booked",
    )

    def __init__(
        self,
        order_id: str,
        client_order_id: str,
        account_id: str,
        ticker: str,
        is_bid: bool,
        price: Price,
        count: Count,
        *,
        tif: str,
        stp: str,
        post_only: bool,
        reduce_only: bool,
        expiration_ms: int | None,
        group_id: str | None,
        cancel_on_pause: bool,
        now_ms: int,
    ) -> None:
        self.order_id = order_id
        self.client_order_id = client_order_id
        self.account_id = account_id
        self.ticker = ticker
        self.is_bid = is_bid
        self.price = price
        self.initial = count
        self.filled: Count = Count(0)
        self.remaining = count
        self.status = PENDING
        self.reason = ""
        self.tif = tif
        self.stp = stp
        self.post_only = post_only
        self.reduce_only = reduce_only
        self.expiration_ms = expiration_ms
        self.group_id = group_id
        self.cancel_on_pause = cancel_on_pause
        self.created_ms = now_ms
        self.updated_ms = now_ms
        self.arrival_ms = now_ms
        self.taker_fees: Money = Money(0)
        self.maker_fees: Money = Money(0)
        self.taker_cost: Money = Money(0)
        self.maker_cost: Money = Money(0)
        self.fill_value: Money = Money(0)  # Σ YES price × count, for the average fill price
        # queue model (see docs/paper-fills.md): external contracts ahead of us at our price,
        # and how much of that was taken off by a level shrink a later trade may still explain
        self.ahead: Count = Count(0)
        self.credit: Count = Count(0)
        self.credit_ms = 0
        # collateral per 0.01 contract (see accounts.Position.requirement)
        self.unit_cost: Money = Money(0)
        self.unit_fee: Money = Money(0)
        self.unit_neg: Money = Money(0)
        self.reserved_units: Count = Count(0)  # contracts currently counted in the account's collateral
        self.booked = False  # sits in a book level's FIFO

    def move(self, status: str, now_ms: int, reason: str = "") -> None:
        """Move to ``status`` by the state table.

        Raises:
            IllegalTransition: the table forbids the move.
        """
        if status not in _TRANSITIONS[self.status]:
            raise IllegalTransition(f"order {self.order_id}: {self.status} → {status} is not allowed")
        self.status = status
        self.updated_ms = now_ms
        if reason:
            self.reason = reason

    @property
    def side(self) -> str:
        return "bid" if self.is_bid else "ask"

    def view(self) -> ExchangeOrder:
        """Return the order as GET /portfolio/orders shows it."""
        return ExchangeOrder(
            order_id=self.order_id,
            client_order_id=self.client_order_id,
            ticker=self.ticker,
            side="bid" if self.is_bid else "ask",
            price=self.price,
            status=_SHOWN[self.status],
            initial_count=self.initial,
            fill_count=self.filled,
            remaining_count=self.remaining,
            taker_fees=self.taker_fees,
            maker_fees=self.maker_fees,
            taker_fill_cost=self.taker_cost,
            maker_fill_cost=self.maker_cost,
            created_ts_ms=self.created_ms,
            time_in_force=self.tif,
            order_group_id=self.group_id,
        )

    def ack(self, ts_ms: int) -> OrderAck:
        """Return the V2 create/amend response for the order as it stands."""
        avg_price: Price | None = None
        avg_fee: Money | None = None
        if self.filled:
            avg_price = Price(_round_div(self.fill_value, self.filled))
            avg_fee = Money(_round_div((self.taker_fees + self.maker_fees) * COUNT_SCALE, self.filled))
        return OrderAck(
            order_id=self.order_id,
            client_order_id=self.client_order_id,
            fill_count=self.filled,
            remaining_count=self.remaining,
            average_fill_price=avg_price,
            average_fee_paid=avg_fee,
            ts_ms=ts_ms,
            status=_SHOWN[self.status],
        )


def _round_div(a: int, b: int) -> int:
    """Divide and round half up (averages are reported, never booked)."""
    return (2 * a + b) // (2 * b)
