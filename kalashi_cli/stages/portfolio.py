"""The account as the stages see it: a fold of the journal's fill ledger, marked to market.

Exposure is what open positions cost (money at risk), by market, event and correlation
group. Equity is cash plus what open positions could be sold for at the best bids now.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from ..journal import Journal
from ..ledger import LedgerState, fold
from ..money import ONE_DOLLAR, Money, Price


@dataclass(slots=True)
class Portfolio:
    cash: Money
    equity: Money
    starting_balance: Money
    peak_equity: Money
    day_start_equity: Money
    ledger: LedgerState
    exposure_by_ticker: dict[str, Money] = field(default_factory=dict)
    exposure_by_event: dict[str, Money] = field(default_factory=dict)
    exposure_by_group: dict[str, Money] = field(default_factory=dict)
    today_cost: Money = 0
    consecutive_wins: int = 0
    consecutive_losses: int = 0

    @property
    def drawdown(self) -> Money:
        return max(0, self.peak_equity - self.equity)

    def drawdown_fraction(self) -> tuple[int, int]:
        """Drawdown as an exact fraction (numerator, denominator) of peak equity."""
        return self.drawdown, max(1, self.peak_equity)

    def add_exposure(self, ticker: str, event: str, group: str, amount: Money) -> None:
        """Count exposure taken earlier in this same run (not yet in the journal)."""
        self.exposure_by_ticker[ticker] = self.exposure_by_ticker.get(ticker, 0) + amount
        self.exposure_by_event[event] = self.exposure_by_event.get(event, 0) + amount
        self.exposure_by_group[group] = self.exposure_by_group.get(group, 0) + amount


def streaks(ledger: LedgerState) -> tuple[int, int]:
    """Return (consecutive wins, consecutive losses) ending at the latest closed round trip."""
    wins = losses = 0
    for t in sorted(ledger.closed, key=lambda t: t.closed_ms, reverse=True):
        if t.pnl > 0:
            if losses:
                break
            wins += 1
        else:
            if wins:
                break
            losses += 1
    return wins, losses


def load_portfolio(journal: Journal, starting_balance: Money,
                   marks: Mapping[str, tuple[Price | None, Price | None]] | None = None,
                   *, now_ms: int | None = None) -> Portfolio:
    """Fold the journal into a portfolio, marked at ``marks`` (ticker → best YES bid, best NO bid).

    Tickers without a mark are valued at their cost (neither gain nor loss assumed). ``now_ms``
    is the source's clock (sim time on the sim), which decides where "today" begins for the
    daily limits.
    """
    start = journal.starting_balance(starting_balance)
    ledger = fold(start, journal.fills(), journal.settlements(), journal.fill_strategies())
    meta = journal.market_meta()
    marks = marks or {}
    value = 0
    p = Portfolio(cash=ledger.cash, equity=0, starting_balance=start, peak_equity=start, day_start_equity=start,
                  ledger=ledger)
    for pos in ledger.open_positions():
        if pos.ticker in marks:
            yes_bid, no_bid = marks[pos.ticker]
            value += pos.position * (yes_bid or 0) if pos.position > 0 else -pos.position * (no_bid or 0)
        else:
            value += pos.cost
        event, _series, _title, _cat, group = meta.get(pos.ticker, (pos.ticker, "", "", "", ""))
        p.add_exposure(pos.ticker, event, group or "ungrouped", pos.cost)
    p.equity = ledger.cash + value
    history = journal.iterations()
    now = now_ms if now_ms is not None else int(datetime.now(UTC).timestamp() * 1000)
    day_start_ms = now - now % 86_400_000
    peak = start
    day_start = None
    for row in history:
        peak = max(peak, row["equity"])
        if day_start is None and row["ts_ms"] >= day_start_ms:
            day_start = row["equity"]
    p.peak_equity = max(peak, p.equity)
    p.day_start_equity = day_start if day_start is not None else (history[-1]["equity"] if history else start)
    p.consecutive_wins, p.consecutive_losses = streaks(ledger)
    p.today_cost = committed_today(journal, day_start_ms)
    return p


def committed_today(journal: Journal, day_start_ms: int) -> Money:
    """Money spent since the day began: what today's fills cost, fees included.

    Resting quotes are bounded by cash and ``risk.max_open_orders`` instead: a quote that
    never fills spends nothing.
    """
    total = 0
    for f in journal.fills(since_ms=day_start_ms):
        price = f.price if f.side == "bid" else ONE_DOLLAR - f.price
        total += price * f.count + f.fee
    return total
