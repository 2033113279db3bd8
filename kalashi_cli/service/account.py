"""The open account the service's parts share: profile, journal, source, broker, loop, lock — and the records' view."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

from ..domain import AccountLimits, Balance, ExchangeFill, ExchangeOrder, Settlement
from ..errors import NotFound, UsageError
from ..journal import Journal
from ..loop import TradingLoop
from ..ports import Broker, MarketSource, OrderDesk, QueuePosition
from ..profile import Profile
from ..records import iso
from ..stages.portfolio import Portfolio
from .views import JOURNAL_VIEW, TOP_OPPORTUNITIES, iteration_record, journal_view

if TYPE_CHECKING:
    from ..reconcile import ReconcileReport
    from ..venue import Venue

Listener = Callable[[dict[str, Any]], None]


@dataclass(slots=True)
class LoopStatus:
    status: str  # running | paused | stopped
    iteration: int
    interval_s: float


class BrokerReads(Protocol):
    """What the read model may ask the broker: nothing that submits, cancels or amends."""

    def orders(self, *, ticker: str | None = None, status: str | None = None) -> list[ExchangeOrder]: ...

    def fills(self, *, ticker: str | None = None, since_ms: int | None = None) -> list[ExchangeFill]: ...

    def balance(self) -> Balance: ...

    def settlements(self) -> list[Settlement]: ...

    def trading_active(self) -> bool: ...


class DeskReads(Protocol):
    """What the read model may ask an order desk: its queue positions and the API key's limits."""

    def queue_positions(self, *, tickers: Sequence[str] | None = None) -> list[QueuePosition]: ...

    def account_limits(self) -> AccountLimits | None: ...


class LoopReads(Protocol):
    """What the read model may ask the loop: the portfolio and the last reconciliation, never an iteration."""

    @property
    def last_portfolio(self) -> Portfolio | None: ...

    @property
    def last_reconcile(self) -> ReconcileReport | None: ...

    def portfolio(self) -> Portfolio: ...


class AccountReads(Protocol):
    """The :class:`Account` as the read model sees it: its broker and loop only through their reads.

    So the read model cannot reach the order path (submit, cancel, amend, an iteration), and
    mypy says so if it tries.
    """

    metrics_stale: bool

    @property
    def lock(self) -> AbstractContextManager[Any]: ...

    @property
    def profile(self) -> Profile: ...

    @property
    def profile_name(self) -> str: ...

    @property
    def mode(self) -> str: ...

    @property
    def journal(self) -> Journal: ...

    @property
    def source(self) -> MarketSource: ...

    @property
    def broker(self) -> BrokerReads: ...

    @property
    def loop(self) -> LoopReads: ...

    @property
    def venue(self) -> Venue: ...

    @property
    def recent(self) -> deque[dict[str, Any]]: ...

    @property
    def opportunities(self) -> list[dict[str, Any]]: ...

    @property
    def last_iteration(self) -> dict[str, Any] | None: ...

    @property
    def last_error(self) -> str: ...

    @property
    def last_iteration_ms(self) -> int | None: ...

    def order(self, order_id: str) -> ExchangeOrder: ...

    def desk(self) -> DeskReads: ...


class Account:
    """What the read model, the commands and the loop control share: one per :class:`TradingService`.

    Opening it (consent, trader locks, journal, source, broker) is the service's job; this holds
    what was opened, the one lock that serialises iterations, commands and reads, the fan-out of
    every record to listeners, and the dashboard's running view of those records (the newest
    orders and fills, the last iteration's best opportunities).
    """

    loop: TradingLoop  # set by the service once the account exists (the loop's sink is on_record)

    def __init__(
        self,
        profile: Profile,
        profile_name: str,
        *,
        mode: str,
        allow_trading: bool,
        journal: Journal,
        source: MarketSource,
        broker: Broker,
    ) -> None:
        self.profile = profile
        self.profile_name = profile_name
        self.mode = mode
        self.allow_trading = allow_trading
        self.journal = journal
        self.source = source
        self.broker = broker
        self.lock = threading.RLock()
        self.listeners: list[Listener] = []
        self.recent: deque[dict[str, Any]] = deque(maxlen=JOURNAL_VIEW)  # order/fill records, newest last
        self.recent.extend(reversed(journal_view(journal)))
        self.opportunities: list[dict[str, Any]] = []
        self.pending_opps: dict[str, dict[str, Any]] = {}
        self.last_iteration: dict[str, Any] | None = iteration_record(journal)
        self.metrics_stale = True  # a command changed what the metrics would say: recompute at the next state
        self.last_iteration_ms: int | None = None
        self.last_error: str = ""
        self._venue: Venue | None = None

    # -- records fan-out --------------------------------------------------------------------
    def subscribe(self, fn: Listener) -> Callable[[], None]:
        """Receive every record the loop and the controls produce; returns an unsubscribe."""
        self.listeners.append(fn)
        return lambda: self.listeners.remove(fn) if fn in self.listeners else None

    def publish(self, rec: dict[str, Any]) -> None:
        for fn in list(self.listeners):
            try:
                fn(rec)
            except Exception:  # a broken listener must never stall trading  # noqa: BLE001
                continue

    def on_record(self, rec: dict[str, Any]) -> None:
        """Fold a record into the dashboard's view, then publish it."""
        kind = rec.get("kind")
        if kind in ("order", "fill"):
            # when it was recorded on the wall clock (a fill's own ts is the source's clock: the
            # sim's on the sim); a copy: the engine journals this very dict, and records are never
            # edited in place
            now = iso(int(time.time() * 1000))
            rec = {**rec, "wall_ts": now} if kind == "fill" or "ts" in rec else {**rec, "ts": now, "wall_ts": now}
        if kind in ("order", "fill"):
            self.recent.append(rec)
        elif kind in ("opportunity", "candidate") and "id" in rec:
            self.pending_opps[rec["id"]] = rec  # a candidate replaces its opportunity
        elif kind == "iteration":
            self.opportunities = sorted(self.pending_opps.values(), key=lambda r: Decimal(r["score"]), reverse=True)[
                :TOP_OPPORTUNITIES
            ]
            self.pending_opps = {}
            self.last_iteration = rec
            self.last_iteration_ms = int(time.time() * 1000)
        self.publish(rec)

    # -- what both reads and commands look up -------------------------------------------------
    @property
    def venue(self) -> Venue:
        """What the market-data source knows beyond books (:mod:`kalashi_cli.venue`)."""
        if self._venue is None:
            from ..venue import venue_for

            self._venue = venue_for(self.source, self.broker.trading_active)
        return self._venue

    def desk(self) -> OrderDesk:
        """The broker as an order desk (amend, decrease, queue position). Raises: UsageError (paper)."""
        if not isinstance(self.broker, OrderDesk):
            raise UsageError(f"the {self.mode} broker cannot manage single orders (amend, decrease, queue position)")
        return self.broker

    def order(self, order_id: str) -> ExchangeOrder:
        """One order at the broker (any status). Raises: NotFound."""
        if isinstance(self.broker, OrderDesk):
            try:
                return self.broker.order(order_id)
            except NotFound:
                raise NotFound(f"no order {order_id}", hint="list orders with get_orders") from None
        match = [o for o in self.broker.orders() if o.order_id == order_id]
        if not match:
            raise NotFound(f"no order {order_id}", hint="list orders with get_orders")
        return match[0]

    def with_stored_limits(self, profile: Profile) -> Profile:
        """Apply the limits tightened earlier on this journal (those the profile does not already beat)."""
        from ..errors import ProfileError

        for key, value in self.journal.tightened_limits().items():
            try:
                profile = profile.tightened(**{key: value})
            except ProfileError:  # the profile is at least as tight (or the limit is gone): it stands
                continue
        return profile
