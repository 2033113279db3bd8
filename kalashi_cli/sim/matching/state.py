"""The engine's state and the low-level steps every part of it shares: clock, fills, resting orders.

:class:`EngineState` holds the books, accounts, clock and event sinks, and the steps that
change them (a fill, booking/unbooking/cancelling a resting order, the clock loop). The parts
built on it: :class:`~.taker.Taker` (an order arriving: checks and the taker walk),
:class:`~.feed.MarketFeed` (markets and market data, maker fills from public trades),
:class:`~.changes.OrderChanges` (cancel, decrease, amend), :class:`~.groups.OrderGroups`,
:class:`~.restore.Restore`, :class:`~.portfolio.PortfolioReads`; :class:`~.core.MatchingEngine`
combines them behind the public API. The queue model is described for traders in
docs/paper-fills.md; the comments say why each step is the way it is.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from heapq import heappop, heappush

from ...domain import ExchangeFill, OrderAck, Trade
from ...errors import Conflict, ExchangeError, NotFound, OrderRejected
from ...ledger import netting_credit
from ...money import ONE_DOLLAR, Count, Money, Price
from .accounts import Account, OrderGroup, Position
from .book import Level, MarketBook, SideBook
from .events import BookDelta, EngineEvent, EventLog, FillEvent, OrderUpdated, PositionChanged, TradePrinted
from .orders import CANCELED, EXECUTED, EXPIRED, ORDER_GROUP, PENDING, RESTING, BookOrder

EXTERNAL = "__external__"


def _ignore(ev: EngineEvent) -> None:
    return None


def reject(code: str, message: str, *, hint: str | None = None) -> OrderRejected:
    """Build a 400 rejection carrying Kalshi's error ``code``."""
    return OrderRejected(message, status=400, code=code, hint=hint)


class EngineState(ABC):
    """State and shared internal steps of the matching engine (see :class:`MatchingEngine`).

    The engine's parts are classes over this one state (mixins) rather than objects holding
    a reference to it: every part reads and writes the same books, accounts, clock and event
    sinks, and the hot paths (a market-data delta, a fill) stay free of extra indirection.
    """

    def __init__(
        self,
        *,
        now_ms: int = 0,
        clock: Callable[[], int] | None = None,
        latency_ms: int = 0,
        trade_match_window_ms: int = 2_000,
        id_prefix: str = "",
        max_open_orders: int = 200_000,
        sticky_consumption: bool = False,
    ) -> None:
        self.now_ms = now_ms
        self.sticky_consumption = sticky_consumption
        self.latency_ms = latency_ms
        self.trade_match_window_ms = trade_match_window_ms
        self.id_prefix = id_prefix
        self.max_open_orders = max_open_orders
        self._clock = clock
        self._markets: dict[str, MarketBook] = {}
        self._accounts: dict[str, Account] = {}
        self._external = Account(EXTERNAL, Money(0), external=True)
        self._orders: dict[str, BookOrder] = {}
        # order_id → (account_id, create response or the error it met on arrival)
        self._results: dict[str, tuple[str, OrderAck | ExchangeError]] = {}
        self._pending: list[tuple[int, int, BookOrder]] = []
        self._expiries: list[tuple[int, int, BookOrder]] = []
        self._sinks: list[Callable[[EngineEvent], None]] = []
        self._emit: Callable[[EngineEvent], None] = _ignore  # guarded by ``if self._sinks``
        self._dirty_groups: list[OrderGroup] = []
        self._ids = {"ord": 0, "trd": 0, "grp": 0}
        self._tie = 0
        self.fees_collected: Money = Money(0)

    # -- plumbing ---------------------------------------------------------------------------
    def _sync(self) -> None:
        if self._clock is not None:
            self._advance(self._clock(), inclusive=True)

    def _new_id(self, kind: str) -> str:
        self._ids[kind] += 1
        return f"{self.id_prefix}{kind}-{self._ids[kind]}"

    def _rewire(self) -> None:
        """Point ``_emit`` at the subscribers with as few Python frames as possible."""
        fast = [s.events.append if isinstance(s, EventLog) else s for s in self._sinks]
        if not fast:
            self._emit = _ignore
        elif len(fast) == 1:
            self._emit = fast[0]
        else:

            def fan_out(ev: EngineEvent) -> None:
                for sink in fast:
                    sink(ev)

            self._emit = fan_out

    def _book_delta(self, m: MarketBook, book: SideBook, price: Price, delta: Count) -> None:
        m.seq += 1
        if self._sinks:
            if book.is_bid:
                self._emit(BookDelta(m.ticker, m.seq, "yes", price, delta, self.now_ms))
            else:
                self._emit(BookDelta(m.ticker, m.seq, "no", Price(ONE_DOLLAR - price), delta, self.now_ms))

    def _order_event(self, o: BookOrder) -> None:
        if self._sinks:
            self._emit(OrderUpdated(o.account_id, o.view(), o.reason, self.now_ms))

    def _market(self, ticker: str) -> MarketBook:
        m = self._markets.get(ticker)
        if m is None:
            raise NotFound(f"market {ticker} not found", status=404, code="market_not_found")
        return m

    def _account(self, account_id: str) -> Account:
        acc = self._accounts.get(account_id)
        if acc is None:
            raise NotFound(
                f"account {account_id} not found",
                status=404,
                code="account_not_found",
                hint="open it first with open_account()",
            )
        return acc

    def _open_account(self, account_id: str, balance: Money) -> Account:
        if account_id in self._accounts or account_id == self._external.account_id:
            raise Conflict(f"account {account_id} exists", status=409, code="account_exists")
        if balance < 0:
            raise ValueError("opening balance must not be negative")
        acc = self._accounts[account_id] = Account(account_id, balance)
        return acc

    def _order_of(self, acc: Account, order_id: str) -> BookOrder:
        o = acc.orders.get(order_id)
        if o is None:
            raise NotFound(f"order {order_id} not found", status=404, code="not_found")
        return o

    def _live(self, acc: Account, order_id: str) -> BookOrder:
        o = self._order_of(acc, order_id)
        if o.status not in (RESTING, PENDING):
            raise NotFound(f"order {order_id} is {o.status}, not resting", status=404, code="not_found")
        return o

    def _holder_position(self, acc: Account, m: MarketBook) -> Position:
        p = acc.positions.get(m.ticker)
        if p is None:
            p = acc.positions[m.ticker] = Position(m.ticker)
            m.holders.add(acc.account_id)
        if p.netted != m.netted:  # the market turned out to be in a netted event: re-cost its orders
            p.netted = m.netted
            acc.reserved = Money(acc.reserved + p.refresh())
        return p

    # -- time -------------------------------------------------------------------------------
    def _advance(self, t: int, *, inclusive: bool) -> None:
        """Process order arrivals and expiries due by ``t`` in time order, then move the clock."""
        pend, exp = self._pending, self._expiries
        while pend or exp:
            if exp and (not pend or exp[0][0] <= pend[0][0]):
                heap = exp
            else:
                heap = pend
            when = heap[0][0]
            if when > t or (when == t and not inclusive):
                break
            _, _, o = heappop(heap)
            if when > self.now_ms:
                self.now_ms = when
            if heap is exp:
                if o.status == RESTING and o.expiration_ms == when:
                    self._cancel(self._markets[o.ticker], o, EXPIRED)
            elif o.status == PENDING:
                self._arrive(o)
        if t > self.now_ms:
            self.now_ms = t
        self._finish()

    def _finish(self) -> None:
        """Apply order-group limits hit during the last operation (never mid-walk)."""
        while self._dirty_groups:
            g = self._dirty_groups.pop()
            g.prune(self.now_ms)
            if not g.triggered and not g.deleted and g.matched >= g.limit:
                self._trigger(g)

    def _trigger(self, g: OrderGroup) -> None:
        g.triggered = True
        acc = self._accounts[g.account_id]
        for oid in g.order_ids:
            o = acc.orders.get(oid)
            if o is not None and o.status in (RESTING, PENDING):
                self._cancel(self._markets[o.ticker], o, ORDER_GROUP)

    @abstractmethod
    def _arrive(self, o: BookOrder) -> None:
        """Run an order that reached the exchange (the taker walk: :class:`~.taker.Taker`)."""

    # -- collateral -------------------------------------------------------------------------
    def _set_units(self, m: MarketBook, o: BookOrder) -> None:
        o.unit_cost = Money(o.price if o.is_bid else ONE_DOLLAR - o.price)
        o.unit_fee = m.max_unit_fee(o.price, o.is_bid)
        o.unit_neg = Money(max(0, o.unit_cost + o.unit_fee - ONE_DOLLAR))

    def netting_credit(self, acc: Account, changed: tuple[str, Count] | None = None) -> Money:
        """Collateral returned on ``acc``'s positions in mutually exclusive events (``changed``: one position replaced)."""
        positions = {t: p.pos for t, p in acc.positions.items()}
        if changed is not None:
            positions[changed[0]] = changed[1]
        netted = {t: self._markets[t].event_ticker for t in positions if t in self._markets and self._markets[t].netted}
        return netting_credit(positions, netted) if netted else Money(0)

    # -- fills (shared by the taker walk and maker fills from public trades) ----------------
    def _print(self, m: MarketBook, trade_id: str, price: Price, count: Count, taker_is_bid: bool) -> None:
        m.last_price = price
        m.volume = Count(m.volume + count)
        if self._sinks:
            self._emit(
                TradePrinted(
                    Trade(trade_id, m.ticker, price, count, "bid" if taker_is_bid else "ask", self.now_ms),
                    external=False,
                )
            )

    def _maker_done(self, book: SideBook, lvl: Level, mk: BookOrder) -> None:
        if mk.remaining == 0:
            lvl.orders.remove(mk)
            mk.booked = False
            book.n_orders -= 1
            self._accounts[mk.account_id].open.pop(mk.order_id, None)
            mk.move(EXECUTED, self.now_ms)
        else:
            mk.move(RESTING, self.now_ms)
        self._order_event(mk)

    def _fill(self, m: MarketBook, o: BookOrder, price: Price, k: Count, is_taker: bool, trade_id: str) -> None:
        """Book one fill of account order ``o``: cash, position, collateral, order, ledger, group."""
        acc = self._accounts[o.account_id]
        pos = self._holder_position(acc, m)
        fee = m.fee(price, k, is_taker)
        pos.release(o, k)
        acc.cash = Money(acc.cash + pos.apply_fill(o.is_bid, price, k, fee))
        acc.reserved = Money(acc.reserved + pos.refresh())
        now = self.now_ms
        pos.updated_ms = now
        o.remaining = Count(o.remaining - k)
        o.filled = Count(o.filled + k)
        o.fill_value = Money(o.fill_value + price * k)
        cost = price * k if o.is_bid else (ONE_DOLLAR - price) * k
        if is_taker:
            o.taker_fees = Money(o.taker_fees + fee)
            o.taker_cost = Money(o.taker_cost + cost)
        else:
            o.maker_fees = Money(o.maker_fees + fee)
            o.maker_cost = Money(o.maker_cost + cost)
        o.updated_ms = now
        self.fees_collected = Money(self.fees_collected + fee)
        fill = ExchangeFill(
            trade_id,
            o.order_id,
            m.ticker,
            "bid" if o.is_bid else "ask",
            price,
            k,
            fee,
            is_taker,
            now,
            o.client_order_id,
        )
        acc.fills.append(fill)
        if o.group_id is not None:
            g = acc.groups.get(o.group_id)
            if g is not None and not g.deleted:
                g.window.append((now, k))
                g.matched = Count(g.matched + k)
                self._dirty_groups.append(g)
        if self._sinks:
            self._emit(FillEvent(acc.account_id, fill, pos.pos))
            self._emit(PositionChanged(acc.account_id, pos.view(), pos.volume, pos.traded, now))

    def _external_fill(self, m: MarketBook, is_bid: bool, price: Price, k: Count) -> None:
        """Book the other participants' side of a fill (contracts and cash conserve; no fees)."""
        ext = self._external
        pos = ext.positions.get(m.ticker)
        if pos is None:
            pos = ext.positions[m.ticker] = Position(m.ticker)
        ext.cash = Money(ext.cash + pos.apply_fill(is_bid, price, k, Money(0)))

    # -- resting orders ---------------------------------------------------------------------
    def _book(self, m: MarketBook, o: BookOrder) -> None:
        """Put ``o`` at the back of its price level: behind all external size there now."""
        book = m.bids if o.is_bid else m.asks
        lvl = book.level(o.price)
        o.ahead = Count(lvl.real - lvl.consumed)
        o.credit = Count(0)
        lvl.orders.append(o)
        o.booked = True
        book.n_orders += 1
        book.relist(lvl)
        self._accounts[o.account_id].open[o.order_id] = o
        if o.status != RESTING:
            o.move(RESTING, self.now_ms)
        self._book_delta(m, book, o.price, o.remaining)
        if o.expiration_ms is not None:
            self._tie += 1
            heappush(self._expiries, (o.expiration_ms, self._tie, o))

    def _unbook(self, m: MarketBook, o: BookOrder, *, quiet_book: bool = False) -> None:
        """Take ``o`` out of its level (keeps its state)."""
        book = m.bids if o.is_bid else m.asks
        lvl = book.levels[o.price]
        lvl.orders.remove(o)
        o.booked = False
        book.n_orders -= 1
        if not quiet_book:
            self._book_delta(m, book, o.price, Count(-o.remaining))
            book.relist(lvl)

    def _shrink(self, m: MarketBook, o: BookOrder, k: Count) -> None:
        """Lower a resting order's size in place (keeps its queue priority)."""
        acc = self._accounts[o.account_id]
        pos = self._holder_position(acc, m)
        o.remaining = Count(o.remaining - k)
        pos.release(o, k)
        acc.reserved = Money(acc.reserved + pos.refresh())
        o.updated_ms = self.now_ms
        if o.booked:
            self._book_delta(m, m.bids if o.is_bid else m.asks, o.price, Count(-k))

    def _cancel(self, m: MarketBook, o: BookOrder, reason: str, *, quiet_book: bool = False) -> Count:
        """Cancel what is left of ``o``; return the count removed."""
        rem = o.remaining
        acc = self._accounts[o.account_id]
        if o.booked:
            self._unbook(m, o, quiet_book=quiet_book)
        acc.open.pop(o.order_id, None)
        pos = acc.positions.get(m.ticker)
        if pos is not None and o.reserved_units:
            pos.release(o, o.reserved_units)
            acc.reserved = Money(acc.reserved + pos.refresh())
        o.remaining = Count(0)
        o.move(CANCELED, self.now_ms, reason)
        self._order_event(o)
        return rem

    def _cancel_market(self, m: MarketBook, reason: str, *, only_on_pause: bool = False) -> None:
        """Cancel the market's resting orders (in-flight ones are refused when they arrive)."""
        booked = [o for book in (m.bids, m.asks) for lvl in book.levels.values() for o in lvl.orders]
        for o in sorted(booked, key=lambda o: o.created_ms):
            if o.cancel_on_pause or not only_on_pause:
                self._cancel(m, o, reason)
