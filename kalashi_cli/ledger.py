"""Positions, cash and P&L as folds over a fill ledger — never counters that can drift.

Kalshi nets YES and NO in one market: a position is one signed count (+YES / −NO). Fills are
in the exchange's YES-leg terms (``bid`` buys YES at ``p``; ``ask`` sells YES at ``p``, which
for a flat or short account is buying NO at ``1 − p``). The fold below follows Kalshi's cash
mechanics exactly:

* bid ``c`` at ``p``: first closes NO contracts held (each closed pair returns $1, so the cash
  effect is ``+(1 − p)`` per contract), the rest opens YES at ``−p`` each;
* ask ``c`` at ``p``: first closes YES held (``+p`` each), the rest opens NO at ``−(1 − p)``;
* every fill pays its fee; settlement pays $1 per winning contract and closes the position.

Realized P&L uses average cost per side.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from .domain import ExchangeFill, Settlement
from .money import ONE_DOLLAR, Count, Money, Price, ceil_div


@dataclass(slots=True)
class PositionState:
    """Mutable accumulator for one market while folding fills (not a domain object)."""

    ticker: str
    position: Count = Count(0)  # +YES / −NO
    cost: Money = Money(0)  # what the open contracts cost, excluding fees
    realized: Money = Money(0)  # realized P&L excluding fees
    fees: Money = Money(0)
    traded: Count = Count(0)
    # the current round trip (from flat to flat), for win/loss statistics
    trip_pnl: Money = Money(0)  # realized P&L minus fees since the position was opened
    opened_ms: int = 0
    strategy: str = ""

    def avg_price(self) -> Price | None:
        """Average entry price of the open contracts, in their own outcome's price."""
        if self.position == 0:
            return None
        return Price(ceil_div(self.cost, abs(self.position)))


@dataclass(frozen=True, slots=True)
class ClosedTrade:
    """A round trip: a position opened from flat and brought back to flat (sold or settled)."""

    ticker: str
    pnl: Money  # after fees
    opened_ms: int
    closed_ms: int
    strategy: str
    how: str  # "sold" or "settled"


@dataclass(slots=True)
class LedgerState:
    """Cash and positions after folding a ledger."""

    cash: Money
    positions: dict[str, PositionState] = field(default_factory=dict)
    fees: Money = Money(0)
    realized: Money = Money(0)  # excluding fees
    closed: list[ClosedTrade] = field(default_factory=list)

    def position(self, ticker: str) -> PositionState:
        p = self.positions.get(ticker)
        if p is None:
            p = self.positions[ticker] = PositionState(ticker)
        return p

    # -- folds ------------------------------------------------------------------------
    def apply_fill(self, f: ExchangeFill, strategy: str = "") -> None:
        """Apply one fill (YES-leg terms) to cash and the market's position."""
        pos = self.position(f.ticker)
        if pos.position == 0:
            pos.trip_pnl, pos.opened_ms, pos.strategy = Money(0), f.ts_ms, strategy
        before = pos.realized
        c, p = f.count, f.price
        pos.traded = Count(pos.traded + c)
        if f.side == "bid":  # buy YES: close NO first
            close = min(c, max(0, -pos.position))
            opened = c - close
            self._close(pos, Count(close), exit_price=Price(ONE_DOLLAR - p))
            self.cash = Money(self.cash + close * (ONE_DOLLAR - p) - opened * p)
            pos.cost = Money(pos.cost + opened * p)
            pos.position = Count(pos.position + c)
        else:  # sell YES: close YES first, then buy NO at 1 − p
            close = min(c, max(0, pos.position))
            opened = c - close
            self._close(pos, Count(close), exit_price=p)
            self.cash = Money(self.cash + close * p - opened * (ONE_DOLLAR - p))
            pos.cost = Money(pos.cost + opened * (ONE_DOLLAR - p))
            pos.position = Count(pos.position - c)
        self.cash = Money(self.cash - f.fee)
        pos.fees = Money(pos.fees + f.fee)
        self.fees = Money(self.fees + f.fee)
        pos.trip_pnl = Money(pos.trip_pnl + pos.realized - before - f.fee)
        if pos.position == 0:
            self.closed.append(ClosedTrade(f.ticker, pos.trip_pnl, pos.opened_ms, f.ts_ms, pos.strategy, "sold"))

    def _close(self, pos: PositionState, n: Count, exit_price: Price) -> None:
        if n <= 0:
            return
        held = abs(pos.position)
        # cost of the closed part, pro rata (exact when n == held)
        closed_cost = pos.cost if n == held else pos.cost * n // held
        pnl = n * exit_price - closed_cost
        pos.cost = Money(pos.cost - closed_cost)
        pos.realized = Money(pos.realized + pnl)
        self.realized = Money(self.realized + pnl)

    def apply_settlement(self, s: Settlement) -> None:
        """Pay $1 (or the scalar value) per winning contract and close the position."""
        pos = self.positions.get(s.ticker)
        if pos is None or pos.position == 0:
            return
        value = s.value if s.value is not None else (ONE_DOLLAR if s.result == "yes" else 0)
        if pos.position > 0:
            payout = pos.position * value
        else:
            payout = -pos.position * (ONE_DOLLAR - value)
        pnl = payout - pos.cost
        pos.realized = Money(pos.realized + pnl)
        self.realized = Money(self.realized + pnl)
        self.cash = Money(self.cash + payout)
        pos.cost = Money(0)
        pos.position = Count(0)
        pos.trip_pnl = Money(pos.trip_pnl + pnl)
        self.closed.append(ClosedTrade(s.ticker, pos.trip_pnl, pos.opened_ms, s.settled_ts_ms, pos.strategy, "settled"))

    # -- views ------------------------------------------------------------------------
    def open_positions(self) -> list[PositionState]:
        return [p for p in self.positions.values() if p.position != 0]

    def mark_value(self, marks: dict[str, tuple[Price | None, Price | None]]) -> Money:
        """Value open positions at the price they could be sold for now (best bids).

        ``marks`` maps ticker → (best YES bid, best NO bid); a missing bid values at 0.
        """
        total = 0
        for p in self.open_positions():
            yes_bid, no_bid = marks.get(p.ticker, (None, None))
            if p.position > 0:
                total += p.position * (yes_bid or 0)
            else:
                total += -p.position * (no_bid or 0)
        return Money(total)


def in_time_order(
    fills: Iterable[ExchangeFill], settlements: Iterable[Settlement] = ()
) -> list[tuple[int, ExchangeFill | Settlement]]:
    """Fills and settlements as one timeline of ``(ts_ms, event)``: by time, fills before settlements
    at the same millisecond, each kind in the order given (a stable sort)."""
    events: list[tuple[int, int, ExchangeFill | Settlement]] = [(f.ts_ms, 0, f) for f in fills]
    events += [(s.settled_ts_ms, 1, s) for s in settlements]
    events.sort(key=lambda e: (e[0], e[1]))
    return [(ts, ev) for ts, _, ev in events]


def fold(
    starting_cash: Money,
    fills: Iterable[ExchangeFill],
    settlements: Iterable[Settlement] = (),
    strategies: dict[str, str] | None = None,
) -> LedgerState:
    """Fold fills and settlements, in time order, into cash, positions and closed round trips.

    ``strategies`` maps fill_id → strategy, to attribute round trips.
    """
    state = LedgerState(cash=starting_cash)
    for _, ev in in_time_order(fills, settlements):
        if isinstance(ev, ExchangeFill):
            state.apply_fill(ev, (strategies or {}).get(ev.fill_id, ""))
        else:
            state.apply_settlement(ev)
    return state


# --------------------------------------------------------------------------- collateral netting (MECNET)


def netting_credit(positions: Mapping[str, Count], event_of: Mapping[str, str]) -> Money:
    """Return the collateral Kalshi returns on mutually exclusive (MECNET) events: their guaranteed payout.

    ``positions`` maps ticker → signed position (+YES / −NO); ``event_of`` maps the tickers of
    mutually exclusive events to their event (others are not netted). In such an event at
    most one market resolves YES, so NO contracts held on several of its markets pay at least
    ``TN − max_j(N_j − Y_j)`` whatever happens (``TN`` every NO held, ``N_j``/``Y_j`` the NO/YES
    held on market ``j``; the case where a market not held, or none, wins pays ``TN``). The
    exchange does not hold cash against money an account is sure to get back: that much of
    its positions' cost counts as available balance (the paper exchange, the sim-exchange and
    the risk gate use this one function).
    """
    by_event: dict[str, list[int]] = {}
    for ticker, pos in positions.items():
        ev = event_of.get(ticker)
        if ev is None or pos == 0:
            continue
        acc = by_event.setdefault(ev, [0, 0])  # [Σ NO held, max_j (N_j − Y_j)]
        n_no = -pos if pos < 0 else 0
        acc[0] += n_no
        acc[1] = max(acc[1], n_no - (pos if pos > 0 else 0))
    return Money(sum(max(0, tn - worst) * ONE_DOLLAR for tn, worst in by_event.values()))


# --------------------------------------------------------------------------- trades, not legs


@dataclass(slots=True)
class TradeState:
    """One trade while folding: the legs of one opportunity (a basket, a ladder pair, a quote), its P&L.

    ``positions`` maps ticker → [signed count, cost of the open contracts]. A trade is closed
    when every position it opened is flat again (sold, unwound, settled, or closed by another
    trade's order in the same market).
    """

    trade_id: str
    strategy: str
    positions: dict[str, list[int]] = field(default_factory=dict)
    realized: Money = Money(0)  # excluding fees
    fees: Money = Money(0)
    turnover: Money = Money(0)  # money that changed hands on its fills (prices of the outcomes bought and sold)
    opened_ms: int = 0
    closed_ms: int = 0
    held: bool = False  # it opened a position at some point (a trade that only closed others' is not one)

    @property
    def is_open(self) -> bool:
        return any(q for q, _ in self.positions.values())

    @property
    def pnl(self) -> Money:
        """Realized P&L after fees."""
        return Money(self.realized - self.fees)

    @property
    def open_cost(self) -> Money:
        return Money(sum(c for _, c in self.positions.values()))


@dataclass(frozen=True, slots=True)
class TradeResult:
    """A closed trade: one P&L, one win or loss, one streak step."""

    trade_id: str
    strategy: str
    pnl: Money  # after fees
    fees: Money
    opened_ms: int
    closed_ms: int
    legs: int  # markets it held


@dataclass(slots=True)
class TradeBook:
    """Trades after folding a ledger (:func:`fold_trades`)."""

    trades: dict[str, TradeState] = field(default_factory=dict)
    #: ticker → ids of the trades holding it, oldest first (all on the same side: the net's)
    holders: dict[str, list[str]] = field(default_factory=dict)
    #: per sample time: strategy → cost of its open positions then (exposure)
    exposure_samples: list[dict[str, Money]] = field(default_factory=list)
    _legs: dict[str, set[str]] = field(default_factory=dict)

    def closed(self) -> list[TradeResult]:
        """Closed trades, oldest close first."""
        out = [
            TradeResult(
                t.trade_id, t.strategy, t.pnl, t.fees, t.opened_ms, t.closed_ms, len(self._legs.get(t.trade_id, ()))
            )
            for t in self.trades.values()
            if t.held and not t.is_open
        ]
        return sorted(out, key=lambda r: (r.closed_ms, r.trade_id))

    def open_trades(self) -> list[TradeState]:
        return [t for t in self.trades.values() if t.is_open]

    def exposure_by_strategy(self) -> dict[str, Money]:
        out: dict[str, Money] = {}
        for t in self.trades.values():
            if t.is_open:
                out[t.strategy] = Money(out.get(t.strategy, 0) + t.open_cost)
        return out

    # -- folds ------------------------------------------------------------------------
    def _trade(self, trade_id: str, strategy: str, ts_ms: int) -> TradeState:
        t = self.trades.get(trade_id)
        if t is None:
            t = self.trades[trade_id] = TradeState(trade_id, strategy, opened_ms=ts_ms)
        return t

    def apply_fill(self, f: ExchangeFill, trade_id: str, strategy: str) -> None:
        """Apply one fill to its trade: it first closes what the market's holders on the other side hold
        (its own trade first, then the oldest), then opens the rest for its trade."""
        t = self._trade(trade_id, strategy, f.ts_ms)
        delta = f.count if f.side == "bid" else -f.count
        buy_price = f.price if f.side == "bid" else ONE_DOLLAR - f.price  # price of the outcome bought
        # closing a YES (selling YES at p) exits at p; closing a NO (buying YES at p) exits at 1 − p
        exit_price = ONE_DOLLAR - f.price if f.side == "bid" else f.price
        holders = self.holders.setdefault(f.ticker, [])
        left = f.count
        shares: list[tuple[TradeState, int]] = []  # (trade, contracts of this fill it took), for the fee
        if holders and (self.trades[holders[0]].positions[f.ticker][0] > 0) != (delta > 0):
            order = ([trade_id] if trade_id in holders else []) + [h for h in holders if h != trade_id]
            for hid in order:
                if left <= 0:
                    break
                h = self.trades[hid]
                q, cost = h.positions[f.ticker]
                n = min(left, abs(q))
                closed_cost = cost if n == abs(q) else cost * n // abs(q)
                h.realized = Money(h.realized + n * exit_price - closed_cost)
                h.positions[f.ticker] = [q + (n if q < 0 else -n), cost - closed_cost]
                left = Count(left - n)
                shares.append((h, n))
                if h.positions[f.ticker][0] == 0:
                    holders.remove(hid)
                    if not h.is_open:
                        h.closed_ms = f.ts_ms
        if left > 0:
            q, cost = t.positions.get(f.ticker, [0, 0])
            t.positions[f.ticker] = [q + (left if delta > 0 else -left), cost + left * buy_price]
            t.held = True
            self._legs.setdefault(trade_id, set()).add(f.ticker)
            if trade_id not in holders:
                holders.append(trade_id)
            shares.append((t, left))
        # the fee is paid by the trades the fill served, in proportion (the rest to the fill's own trade)
        given = 0
        for h, n in shares:
            if h is not t:
                part = f.fee * n // f.count
                h.fees = Money(h.fees + part)
                given += part
        t.fees = Money(t.fees + f.fee - given)
        t.turnover = Money(t.turnover + (f.count - max(0, left)) * exit_price + max(0, left) * buy_price)

    def apply_settlement(self, s: Settlement) -> None:
        """Pay every holder of the market what its contracts are worth; close their positions there."""
        value = s.value if s.value is not None else (ONE_DOLLAR if s.result == "yes" else 0)
        for hid in self.holders.pop(s.ticker, []):
            h = self.trades[hid]
            q, cost = h.positions[s.ticker]
            payout = q * value if q > 0 else -q * (ONE_DOLLAR - value)
            h.realized = Money(h.realized + payout - cost)
            h.positions[s.ticker] = [0, 0]
            if not h.is_open:
                h.closed_ms = s.settled_ts_ms


def fold_trades(
    fills: Iterable[ExchangeFill],
    settlements: Iterable[Settlement] = (),
    fill_trades: Mapping[str, tuple[str, str]] | None = None,
    sample_at: Sequence[int] = (),
) -> TradeBook:
    """Fold fills and settlements, in time order (as :func:`fold`), into trades.

    ``fill_trades`` maps fill_id → (trade id, strategy): the opportunity a fill's order came
    from, so every leg of a basket (and its unwind) is one trade. A fill without one is its own
    trade. ``sample_at`` (ascending times) records each strategy's open cost at those times.
    When every position is closed, the trades' P&L adds up exactly to the ledger's.
    """
    book = TradeBook()
    ft = fill_trades or {}
    events = in_time_order(fills, settlements)
    samples = list(sample_at)
    k = 0
    for ts, ev in events:
        while k < len(samples) and samples[k] < ts:
            book.exposure_samples.append(book.exposure_by_strategy())
            k += 1
        if isinstance(ev, ExchangeFill):
            trade_id, strategy = ft.get(ev.fill_id, (f"fill:{ev.fill_id}", ""))
            book.apply_fill(ev, trade_id, strategy)
        else:
            book.apply_settlement(ev)
    while k < len(samples):
        book.exposure_samples.append(book.exposure_by_strategy())
        k += 1
    return book
