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
from .money import Count

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


@dataclass(slots=True)
class CallCounter:
    """Counts remote API calls by endpoint, for ``metrics`` (calls per iteration)."""

    total: int = 0
    by_endpoint: dict[str, int] = field(default_factory=dict)

    def add(self, endpoint: str, n: int = 1) -> None:
        self.total += n
        self.by_endpoint[endpoint] = self.by_endpoint.get(endpoint, 0) + n
