"""Accounts: cash, netted positions, collateral for resting orders, fills, order groups.

Cash and positions follow Kalshi's netting exactly as :mod:`kalashi_cli.ledger` folds them (a
position is one signed YES count; buying the other side closes pairs and frees $1 each), so an
account's state always equals ``ledger.fold(deposits, fills, settlements)``.

Collateral (``Position.requirement``) is the most cash the account's resting orders in one
market could still take out of it, whatever fills in whatever order:

* per side, ``max(0, cost + fees − $1 × min(count, opposite position), neg)``: buying the side
  you are short of closes pairs first and each closed pair returns $1; ``neg`` covers the rare
  closing fill whose fee is larger than what the pair returns (prices within a few ticks of
  $0 or $1);
* both sides add up (each resting buy is paid for, like Kalshi);
* fees are the order's *maximum* taker fee: 0.01-contract fills at the worst price
  (:meth:`MarketBook.max_unit_fee`).

Every fill lowers the requirement by at least the cash it takes, so ``cash ≥ reserved`` holds
after every step; that is what makes "no negative balances" an invariant rather than a hope.

Collateral netting (Kalshi's MECNET, on mutually exclusive events): what an account's positions
in such an event are sure to pay back whatever happens (:func:`kalashi_cli.ledger.netting_credit`:
NO on several outcomes pays all but one) is not held against it: it counts as available balance,
and a fill-or-kill order — all or nothing, so only its end state matters — is also accepted when
the account's cash after it fills, plus the credit then, still covers what its other orders hold.
Cash itself stays the fold of the fills (it may dip below zero by at most the credit), so
``cash + credit ≥ reserved`` is the invariant. It holds fill by fill because an opening fill never
lowers the credit, and in a netted market a closing order is collateralised like an opening one
(the pair's $1 was already counted as credit, which closing it takes back).
"""

from __future__ import annotations

from collections import deque

from ...domain import ExchangeFill, MarketPosition, Settlement
from ...money import ONE_DOLLAR, Count, Money, Price
from .orders import BookOrder

GROUP_WINDOW_MS = 15_000


class Position:
    """One account's position and collateral in one market (mutable)."""

    __slots__ = (
        "ticker",
        "pos",
        "cost",
        "realized",
        "fees",
        "traded",
        "volume",
        "updated_ms",
        "b_cost",
        "b_cnt",
        "b_fee",
        "b_neg",
        "a_cost",
        "a_cnt",
        "a_fee",
        "a_neg",
        "req",
        "netted",
    )

    def __init__(self, ticker: str) -> None:
        self.ticker = ticker
        self.pos: Count = Count(0)  # +YES / −NO
        self.cost: Money = Money(0)  # what the open contracts cost (ledger.PositionState.cost)
        self.realized: Money = Money(0)  # excluding fees
        self.fees: Money = Money(0)
        self.traded: Money = Money(0)  # Σ cost of every fill (total_traded)
        self.volume: Count = Count(0)
        self.updated_ms = 0
        self.b_cost = self.b_cnt = self.b_fee = self.b_neg = 0
        self.a_cost = self.a_cnt = self.a_fee = self.a_neg = 0
        self.req: Money = Money(0)
        #: its event nets collateral: a closing order is not credited the $1 a pair returns, because
        #: the netting credit already counted on it (and shrinks as the pair closes)
        self.netted = False

    # -- collateral ---------------------------------------------------------------------
    def reserve(self, o: BookOrder, units: Count) -> None:
        """Count ``units`` more of ``o`` as resting (call :meth:`refresh` after)."""
        o.reserved_units = Count(o.reserved_units + units)
        if o.is_bid:
            self.b_cost += o.unit_cost * units
            self.b_cnt += units
            self.b_fee += o.unit_fee * units
            self.b_neg += o.unit_neg * units
        else:
            self.a_cost += o.unit_cost * units
            self.a_cnt += units
            self.a_fee += o.unit_fee * units
            self.a_neg += o.unit_neg * units

    def release(self, o: BookOrder, units: Count) -> None:
        """Stop counting ``units`` of ``o`` (filled, cancelled or decreased)."""
        units = min(units, o.reserved_units)
        self.reserve(o, Count(-units))

    def requirement(self, pos: Count | None = None) -> Money:
        """The collateral of this market's resting orders (at position ``pos``, default the current one)."""
        pos = self.pos if pos is None else pos
        if self.netted:
            pos = Count(0)  # no closing discount: see ``netted``
        req = 0
        if self.b_cnt:
            n_no = -pos if pos < 0 else 0
            x = self.b_cost + self.b_fee - ONE_DOLLAR * min(self.b_cnt, n_no)
            req += max(0, x, self.b_neg if n_no else 0)
        if self.a_cnt:
            n_yes = pos if pos > 0 else 0
            x = self.a_cost + self.a_fee - ONE_DOLLAR * min(self.a_cnt, n_yes)
            req += max(0, x, self.a_neg if n_yes else 0)
        return Money(req)

    def refresh(self) -> Money:
        """Recompute the requirement; return how much it changed."""
        new = self.requirement()
        d = new - self.req
        self.req = new
        return Money(d)

    # -- fills --------------------------------------------------------------------------
    def apply_fill(self, is_bid: bool, price: Price, count: Count, fee: Money) -> Money:
        """Book one fill (YES-leg terms) into the position; return the cash it moves."""
        pos = self.pos
        if is_bid:  # buy YES: close NO held first, each pair returns $1
            pay = price * count
            close = min(count, -pos) if pos < 0 else 0
            if close:
                self._close(Count(close), Price(ONE_DOLLAR - price))
            self.cost = Money(self.cost + price * (count - close))
            self.pos = Count(pos + count)
        else:  # sell YES: close YES held first, the rest buys NO at 1 − p
            pay = (ONE_DOLLAR - price) * count
            close = min(count, pos) if pos > 0 else 0
            if close:
                self._close(Count(close), price)
            self.cost = Money(self.cost + (ONE_DOLLAR - price) * (count - close))
            self.pos = Count(pos - count)
        self.fees = Money(self.fees + fee)
        self.traded = Money(self.traded + pay)
        self.volume = Count(self.volume + count)
        return Money(ONE_DOLLAR * close - pay - fee)

    def _close(self, n: Count, exit_price: Price) -> None:
        held = abs(self.pos)
        closed_cost = self.cost if n == held else self.cost * n // held  # same rounding as ledger.fold
        self.cost = Money(self.cost - closed_cost)
        self.realized = Money(self.realized + n * exit_price - closed_cost)

    def settle(self, value: Price) -> Money:
        """Pay ``value`` per YES contract (``1 − value`` per NO) and close; return the revenue."""
        revenue = self.pos * value if self.pos > 0 else -self.pos * (ONE_DOLLAR - value)
        self.realized = Money(self.realized + revenue - self.cost)
        self.cost = Money(0)
        self.pos = Count(0)
        return Money(revenue)

    def view(self) -> MarketPosition:
        return MarketPosition(
            self.ticker, self.pos, exposure=self.cost, realized_pnl=self.realized, fees_paid=self.fees
        )


class OrderGroup:
    """A contracts limit over a rolling 15 s window across a set of orders (REFERENCE §5.6)."""

    __slots__ = ("group_id", "account_id", "limit", "window", "matched", "triggered", "order_ids", "deleted")

    def __init__(self, group_id: str, account_id: str, limit: Count) -> None:
        self.group_id = group_id
        self.account_id = account_id
        self.limit = limit
        self.window: deque[tuple[int, Count]] = deque()
        self.matched: Count = Count(0)  # Σ counts in ``window``
        self.triggered = False
        self.order_ids: list[str] = []
        self.deleted = False

    def prune(self, now_ms: int) -> None:
        """Forget fills older than the rolling window."""
        w = self.window
        while w and w[0][0] <= now_ms - GROUP_WINDOW_MS:
            self.matched = Count(self.matched - (w.popleft()[1]))


class Account:
    """Cash, positions, orders and history of one trader (or the external counterparty)."""

    __slots__ = (
        "account_id",
        "cash",
        "reserved",
        "deposits",
        "positions",
        "orders",
        "open",
        "coids",
        "fills",
        "settlements",
        "groups",
        "external",
    )

    def __init__(self, account_id: str, cash: Money, *, external: bool = False) -> None:
        self.account_id = account_id
        self.cash = cash
        self.reserved: Money = Money(0)
        self.deposits = cash
        self.positions: dict[str, Position] = {}
        self.orders: dict[str, BookOrder] = {}  # every order, in creation order
        self.open: dict[str, BookOrder] = {}  # resting orders
        self.coids: dict[str, str] = {}  # client_order_id → order_id
        self.fills: list[ExchangeFill] = []
        self.settlements: list[Settlement] = []
        self.groups: dict[str, OrderGroup] = {}
        self.external = external

    def position(self, ticker: str) -> Position:
        p = self.positions.get(ticker)
        if p is None:
            p = self.positions[ticker] = Position(ticker)
        return p

    @property
    def available(self) -> Money:
        return Money(self.cash - self.reserved)
