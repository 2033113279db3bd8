"""The two seams of the engine: where market data comes from, and who fills orders.

::

    MarketSource  sim (built-in universe) · replay:PATH · kalshi · kalshi-demo
    Broker        paper (the matching engine in-process) · demo · live (Kalshi REST V2)

Stages only ever see these protocols, so the same loop runs on the simulator, on a
recording and on the real exchange. Both are synchronous: the Kalshi implementations run
their async httpx/websockets clients on a private event loop.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

from .domain import (
    AccountLimits,
    Balance,
    ExchangeFill,
    ExchangeOrder,
    Market,
    MarketPosition,
    OrderAck,
    OrderIntent,
    Settlement,
    Trade,
)
from .errors import KalashiError
from .money import Count, Price

Mode = Literal["paper", "demo", "live"]


@dataclass(frozen=True, slots=True)
class SourceEvents:
    """What happened in the market between two iterations."""

    trades: tuple[Trade, ...] = ()
    settlements: tuple[Settlement, ...] = ()
    step: int = 0  # the iteration number the source is at now
    now_ms: int = 0


@runtime_checkable
class MarketSource(Protocol):
    """Market data: a paged listing with top of book, full books on demand, and time."""

    name: str
    api_calls: int  # calls made to a remote API so far (0 for in-process sources)

    def describe(self) -> str:
        """Return a descriptor that recreates this source at its current position.

        e.g. ``sim:seed=0,markets=2000,step=3``; records carry it as ``src`` so a later
        stage in a pipe (``order --paper``) can fill against the same books.
        """
        ...

    def now_ms(self) -> int:
        """Return the source clock (sim time for ``sim``, recorded time for ``replay``)."""
        ...

    def list_markets(self) -> Iterator[Market]:
        """Yield every market, paging as the source requires; books may be top-of-book only."""
        ...

    def books(self, tickers: Sequence[str]) -> dict[str, Market]:
        """Return markets with full depth for these tickers (missing tickers are left out)."""
        ...

    def advance(self) -> SourceEvents:
        """Move to the next iteration and report trades and settlements since the last one."""
        ...

    def close(self) -> None: ...


@runtime_checkable
class Broker(Protocol):
    """Who fills orders. Paper, demo and live all answer the same calls.

    ``submit`` either returns a definite :class:`OrderAck`, raises
    :class:`~kalashi_cli.errors.OrderRejected` (definite: nothing happened), or raises
    :class:`~kalashi_cli.errors.OutcomeUnknown` (maybe it happened: reconcile).
    """

    mode: Mode

    def submit(self, intent: OrderIntent) -> OrderAck: ...

    def cancel(self, order_id: str, ticker: str) -> Count:
        """Cancel one resting order; return the count removed."""
        ...

    def cancel_all(self) -> int:
        """Cancel every resting order; return how many were cancelled."""
        ...

    def orders(self, *, ticker: str | None = None, status: str | None = None) -> list[ExchangeOrder]: ...

    def fills(self, *, ticker: str | None = None, since_ms: int | None = None) -> list[ExchangeFill]: ...

    def positions(self) -> list[MarketPosition]: ...

    def balance(self) -> Balance: ...

    def settlements(self) -> list[Settlement]: ...

    def trading_active(self) -> bool:
        """Whether the exchange accepts new orders now (maintenance and pauses say no)."""
        ...

    def on_market_data(self, markets: Sequence[Market], events: SourceEvents) -> list[ExchangeFill]:
        """Let the broker see fresh books, trades and settlements; return fills that resulted.

        The paper broker fills resting orders and settles positions here; real brokers
        return fills they learned of from the exchange since the last call.
        """
        ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class QueuePosition:
    """How many contracts rest ahead of one of our orders at its price (0: it fills next)."""

    order_id: str
    ticker: str
    ahead: Count


@runtime_checkable
class OrderDesk(Protocol):
    """What a broker offers beyond :class:`Broker` for managing resting orders by hand.

    The paper broker and the Kalshi brokers have it; the loop never needs it (the MCP server's
    order tools do). Writes here change orders that already exist: an amend goes through the
    risk gate and the journal like a new order (:meth:`~kalashi_cli.stages.order.OrderExecutor.amend`);
    a decrease or a cancel only ever lowers the risk.
    """

    def order(self, order_id: str) -> ExchangeOrder:
        """Return one order (any status). Raises: NotFound."""
        ...

    def amend(self, order: ExchangeOrder, *, price: Price, count: Count, client_order_id: str) -> OrderAck:
        """Change a resting order's YES price and/or total count (filled + remaining), renaming it.

        ``client_order_id`` is the order's new id (journaled first), so reconciliation can tell
        whether an amend whose answer was lost happened.
        """
        ...

    def decrease(
        self, order: ExchangeOrder, *, reduce_by: Count | None = None, reduce_to: Count | None = None
    ) -> Count:
        """Shrink a resting order, keeping its place in the queue; return what remains."""
        ...

    def queue_positions(self, *, tickers: Sequence[str] | None = None) -> list[QueuePosition]:
        """Return the queue position of every resting order (of these markets)."""
        ...

    def batch_cancel(self, orders: Sequence[ExchangeOrder]) -> list[Count | KalashiError]:
        """Cancel several orders in one request where the venue allows; each gets its count or error."""
        ...

    def account_limits(self) -> AccountLimits | None:
        """Return the venue's API rate limits for this key (None on paper: there are none)."""
        ...


@dataclass(slots=True)
class CallCounter:
    """Counts remote API calls by endpoint, for ``metrics`` (calls per iteration)."""

    total: int = 0
    by_endpoint: dict[str, int] = field(default_factory=dict)

    def add(self, endpoint: str, n: int = 1) -> None:
        self.total += n
        self.by_endpoint[endpoint] = self.by_endpoint.get(endpoint, 0) + n
