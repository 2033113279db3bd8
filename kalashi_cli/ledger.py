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

from collections.abc import Iterable
from dataclasses import dataclass, field

from .domain import ExchangeFill, Settlement
from .money import ONE_DOLLAR, Count, Money, Price, ceil_div


@dataclass(slots=True)
class PositionState:
    """Mutable accumulator for one market while folding fills (not a domain object)."""

    ticker: str
    position: Count = 0  # +YES / −NO
    cost: Money = 0  # what the open contracts cost, excluding fees
    realized: Money = 0  # realized P&L excluding fees
    fees: Money = 0
    traded: Count = 0
    # the current round trip (from flat to flat), for win/loss statistics
    trip_pnl: Money = 0  # realized P&L minus fees since the position was opened
    opened_ms: int = 0
    strategy: str = ""

    def avg_price(self) -> Price | None:
        """Average entry price of the open contracts, in their own outcome's price."""
        if self.position == 0:
            return None
        return ceil_div(self.cost, abs(self.position))


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
    fees: Money = 0
    realized: Money = 0  # excluding fees
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
            pos.trip_pnl, pos.opened_ms, pos.strategy = 0, f.ts_ms, strategy
        before = pos.realized
        c, p = f.count, f.price
        pos.traded += c
        if f.side == "bid":  # buy YES: close NO first
            close = min(c, max(0, -pos.position))
            opened = c - close
            self._close(pos, close, exit_price=ONE_DOLLAR - p)
            self.cash += close * (ONE_DOLLAR - p) - opened * p
            pos.cost += opened * p
            pos.position += c
        else:  # sell YES: close YES first, then buy NO at 1 − p
            close = min(c, max(0, pos.position))
            opened = c - close
            self._close(pos, close, exit_price=p)
            self.cash += close * p - opened * (ONE_DOLLAR - p)
            pos.cost += opened * (ONE_DOLLAR - p)
            pos.position -= c
        self.cash -= f.fee
        pos.fees += f.fee
        self.fees += f.fee
        pos.trip_pnl += pos.realized - before - f.fee
        if pos.position == 0:
            self.closed.append(ClosedTrade(f.ticker, pos.trip_pnl, pos.opened_ms, f.ts_ms, pos.strategy, "sold"))

    def _close(self, pos: PositionState, n: Count, exit_price: Price) -> None:
        if n <= 0:
            return
        held = abs(pos.position)
        # cost of the closed part, pro rata (exact when n == held)
        closed_cost = pos.cost if n == held else pos.cost * n // held
        pnl = n * exit_price - closed_cost
        pos.cost -= closed_cost
        pos.realized += pnl
        self.realized += pnl

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
        pos.realized += pnl
        self.realized += pnl
        self.cash += payout
        pos.cost = 0
        pos.position = 0
        pos.trip_pnl += pnl
        self.closed.append(ClosedTrade(s.ticker, pos.trip_pnl, pos.opened_ms, s.settled_ts_ms, pos.strategy,
                                       "settled"))

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
        return total


def fold(starting_cash: Money, fills: Iterable[ExchangeFill],
         settlements: Iterable[Settlement] = (), strategies: dict[str, str] | None = None) -> LedgerState:
    """Fold fills and settlements, in time order, into cash, positions and closed round trips.

    ``strategies`` maps fill_id → strategy, to attribute round trips.
    """
    state = LedgerState(cash=starting_cash)
    events: list[tuple[int, int, ExchangeFill | Settlement]] = []
    for i, f in enumerate(fills):
        events.append((f.ts_ms, i, f))
    for j, s in enumerate(settlements):
        events.append((s.settled_ts_ms, 1_000_000_000 + j, s))
    events.sort(key=lambda e: (e[0], e[1]))
    for _, _, ev in events:
        if isinstance(ev, ExchangeFill):
            state.apply_fill(ev, (strategies or {}).get(ev.fill_id, ""))
        else:
            state.apply_settlement(ev)
    return state
