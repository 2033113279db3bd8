"""The account as the stages see it: a fold of the journal's fill ledger, valued by one rule.

Equity is cash plus every open position valued by :mod:`.valuation` (settled → its payout is
cash; determined → the result; closed or an empty book → the last trustworthy mark; open → the
mid, never below the bid). ``equity_marked`` is the part that rests on marks, ``equity_settled``
the rest (cash and known results).

Exposure is what open positions could lose, by market, event and correlation group: their
cost, less — in mutually exclusive (MECNET) events — what the event's positions are sure to pay
back (a full NO basket counts its worst case, not the sum of its legs). Trades, not legs, make
the win/loss streaks (:func:`kalashi_cli.ledger.fold_trades`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from ..domain import Market
from ..journal import Journal, TradeRow
from ..ledger import LedgerState, TradeBook, TradeResult, fold, fold_trades, netting_credit
from ..money import ONE_DOLLAR, Money, Price
from .valuation import DEFAULT_SPREAD_CAP, Valuation, value_positions


@dataclass(slots=True)
class Portfolio:
    cash: Money
    equity: Money
    starting_balance: Money
    peak_equity: Money
    day_start_equity: Money
    ledger: LedgerState
    valuation: Valuation = field(default_factory=Valuation)
    trades: TradeBook = field(default_factory=TradeBook)
    exposure_by_ticker: dict[str, Money] = field(default_factory=dict)
    exposure_by_event: dict[str, Money] = field(default_factory=dict)
    exposure_by_group: dict[str, Money] = field(default_factory=dict)
    today_cost: Money = Money(0)
    consecutive_wins: int = 0
    consecutive_losses: int = 0
    #: collateral returned on mutually exclusive events (counts as available cash)
    netting_credit: Money = Money(0)

    @property
    def drawdown(self) -> Money:
        return Money(max(0, self.peak_equity - self.equity))

    @property
    def equity_marked(self) -> Money:
        """The part of equity that rests on marks (open positions valued from books or last marks)."""
        return self.valuation.marked

    @property
    def equity_settled(self) -> Money:
        """The part of equity that is money: cash, positions whose result is known, and what hedged
        exclusive events are sure to pay."""
        return Money(self.equity - self.valuation.marked)

    @property
    def open_cost(self) -> Money:
        return Money(sum(p.cost for p in self.ledger.open_positions()))

    def drawdown_fraction(self) -> tuple[int, int]:
        """Drawdown as an exact fraction (numerator, denominator) of peak equity."""
        return self.drawdown, max(1, self.peak_equity)

    def add_exposure(
        self, ticker: str, event: str, group: str, amount: Money, *, position: Money | None = None
    ) -> None:
        """Count exposure taken earlier in this same run (not yet in the journal).

        ``position`` (default ``amount``) is what counts against the market's own cap: a hedged
        basket puts its legs' cost on each market but only its worst case on the event and group.
        """
        self.exposure_by_ticker[ticker] = Money(
            self.exposure_by_ticker.get(ticker, 0) + (amount if position is None else position)
        )
        self.exposure_by_event[event] = Money(self.exposure_by_event.get(event, 0) + amount)
        self.exposure_by_group[group] = Money(self.exposure_by_group.get(group, 0) + amount)


def streaks(closed: list[TradeResult]) -> tuple[int, int]:
    """Return (consecutive wins, consecutive losses) ending at the latest closed trade (oldest first in)."""
    wins = losses = 0
    for t in reversed(closed):
        if t.pnl > 0:
            if losses:
                break
            wins += 1
        else:
            if wins:
                break
            losses += 1
    return wins, losses


def load_portfolio(
    journal: Journal,
    starting_balance: Money,
    markets: Mapping[str, Market] | None = None,
    *,
    now_ms: int | None = None,
    spread_cap: Price = DEFAULT_SPREAD_CAP,
) -> Portfolio:
    """Fold the journal into a portfolio, valued at ``markets`` (the current books) and the journal's marks.

    Positions whose market is not in ``markets`` are valued at their last mark (or cost).
    ``now_ms`` is the source's clock (sim time on the sim), which decides where "today" begins
    for the daily limits; ``spread_cap`` is the profile's ``valuation.mid_spread_cap``
    (:func:`kalashi_cli.stages.valuation.spread_cap`).
    """
    now = now_ms if now_ms is not None else int(datetime.now(UTC).timestamp() * 1000)
    start = journal.starting_balance(starting_balance)
    fills = journal.fills()
    settlements = journal.settlements()
    ledger = fold(start, fills, settlements, journal.fill_strategies())
    trades = fold_trades(fills, settlements, journal.fill_trades())
    open_positions = ledger.open_positions()
    last = journal.last_marks([p.ticker for p in open_positions]) if open_positions else {}
    netted = journal.netted_tickers()
    valuation = value_positions(open_positions, markets or {}, last, now, spread_cap, netted)
    meta = journal.market_meta()
    p = Portfolio(
        cash=ledger.cash,
        equity=Money(ledger.cash + valuation.total),
        starting_balance=start,
        peak_equity=start,
        day_start_equity=start,
        ledger=ledger,
        valuation=valuation,
        trades=trades,
    )
    event_group: dict[str, str] = {}
    for pos in open_positions:
        event, _series, _title, _cat, group = meta.get(pos.ticker, (pos.ticker, "", "", "", ""))
        event_group.setdefault(event, group or "ungrouped")
        p.add_exposure(pos.ticker, event, group or "ungrouped", pos.cost)
    positions = {x.ticker: x.position for x in open_positions}
    p.netting_credit = netting_credit(positions, netted)
    for event in {netted[t] for t in positions if t in netted}:
        back = netting_credit({t: q for t, q in positions.items() if netted.get(t) == event}, netted)
        back = Money(min(back, p.exposure_by_event.get(event, 0)))
        if back:
            p.exposure_by_event[event] = Money(p.exposure_by_event[event] - back)
            grp = event_group.get(event, "ungrouped")
            p.exposure_by_group[grp] = Money(p.exposure_by_group.get(grp, 0) - back)
    day_start_ms = now - now % 86_400_000
    # aggregated in SQL: reading every iteration row here made each iteration cost O(iterations so far)
    top, day_start, last_equity = journal.equity_history(day_start_ms)
    p.peak_equity = Money(max(start, top if top is not None else start, p.equity))
    p.day_start_equity = Money(
        day_start if day_start is not None else (last_equity if last_equity is not None else start)
    )
    p.consecutive_wins, p.consecutive_losses = streaks(trades.closed())
    p.today_cost = committed_today(journal, day_start_ms, trades, journal.trades())
    return p


def committed_today(
    journal: Journal,
    day_start_ms: int,
    trades: TradeBook | None = None,
    trade_rows: Mapping[str, TradeRow] | None = None,
) -> Money:
    """Money spent since the day began: what today's fills cost, fees included — per trade, its worst case.

    A basket that is sure to pay back (an arbitrage: ``trades.payout``) is charged only what it
    can lose: its fills' cost less the guaranteed payout of the complete baskets it holds.
    Resting quotes are added by the risk gate (they may still spend their cost).
    """
    fill_trade = journal.fill_trades() if trades is not None else {}
    by_trade: dict[str, Money] = {}
    for f in journal.fills(since_ms=day_start_ms):
        price = f.price if f.side == "bid" else ONE_DOLLAR - f.price
        tid = fill_trade.get(f.fill_id, (f"fill:{f.fill_id}", ""))[0]
        by_trade[tid] = Money(by_trade.get(tid, 0) + price * f.count + f.fee)
    total = 0
    for tid, spent in by_trade.items():
        row = (trade_rows or {}).get(tid)
        t = trades.trades.get(tid) if trades is not None else None
        if row is not None and row.payout > 0 and t is not None:
            held = [abs(q) for q, _ in t.positions.values() if q]
            baskets = min(held) if len(held) >= row.legs else 0
            spent = Money(max(0, spent - baskets * row.payout))
        total += spent
    return Money(total)
