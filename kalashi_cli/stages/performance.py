"""performance: how a strategy trades — per-trade P&L, markouts, risk-adjusted returns — as library functions.

Everything here is a pure function of fills, settlements, a mid history and an equity series,
so ``metrics`` (over the journal) and a backtest (over replayed data) compute the same numbers:

* :func:`strategy_stats` — per strategy: realized and unrealized P&L, fees, turnover, trades
  (a basket is one trade), wins and losses over closed trades, exposure-weighted return;
* :func:`markouts` — the mid 1 minute, 5 minutes and at settlement after each fill, signed in
  the fill's favour (a buy that the mid then rises above made money), averaged per strategy per
  contract: how much adverse selection a strategy suffers;
* :func:`sharpe`, :func:`sortino` — of per-iteration equity changes (not annualised: per iteration);
* :func:`exposure_weighted_return` — P&L per dollar of average exposure.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, localcontext
from typing import Any

from ..domain import ExchangeFill, Settlement
from ..journal import MarkRow
from ..ledger import TradeBook
from ..money import COUNT_SCALE, ONE_DOLLAR, Money, fmt_money
from .valuation import Valuation

#: markout horizons after a fill: name → milliseconds (settlement is measured too)
HORIZONS: dict[str, int] = {"1m": 60_000, "5m": 300_000}


class MidHistory:
    """Each market's mid over time, as a step function of the marks seen (twice the mid, exact)."""

    def __init__(self, rows: Mapping[str, Sequence[MarkRow]]) -> None:
        self._ts: dict[str, list[int]] = {}
        self._mid2: dict[str, list[int]] = {}
        for ticker, marks in rows.items():
            ordered = sorted(marks, key=lambda m: m.ts_ms)
            self._ts[ticker] = [m.ts_ms for m in ordered]
            self._mid2[ticker] = [
                m.yes_bid + m.yes_ask if m.yes_bid is not None and m.yes_ask is not None else 2 * m.mid for m in ordered
            ]

    def mid2_at(self, ticker: str, ts_ms: int) -> int | None:
        """Twice the YES mid last seen at or before ``ts_ms`` (None: none seen yet)."""
        ts = self._ts.get(ticker)
        if not ts:
            return None
        i = bisect_right(ts, ts_ms)
        return self._mid2[ticker][i - 1] if i else None

    def last_seen(self, ticker: str) -> int | None:
        ts = self._ts.get(ticker)
        return ts[-1] if ts else None


@dataclass(slots=True)
class Markouts:
    """Markouts of one strategy: Σ (markout × contracts) and Σ contracts per horizon, in Money × count."""

    sums: dict[str, int] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    fills: int = 0

    def add(self, horizon: str, per_contract2: int, count: int) -> None:
        """Add a markout of ``per_contract2``/2 (price units, signed) on ``count`` contracts."""
        self.sums[horizon] = self.sums.get(horizon, 0) + per_contract2 * count
        self.counts[horizon] = self.counts.get(horizon, 0) + count

    def average(self, horizon: str) -> Money | None:
        """Average markout per contract, in money (rounded toward zero), or None with nothing measured."""
        n = self.counts.get(horizon, 0)
        if not n:
            return None
        total = self.sums[horizon] * COUNT_SCALE  # per_contract2 [price/2] × count → money × 2 × count
        return Money(int(Decimal(total) / Decimal(2 * n)))

    def record(self) -> dict[str, Any]:
        out: dict[str, Any] = {"fills": self.fills}
        for h in (*HORIZONS, "settlement"):
            avg = self.average(h)
            out[h] = fmt_money(avg) if avg is not None else None
            out[f"{h}_contracts"] = f"{self.counts.get(h, 0) / COUNT_SCALE:.2f}"
        return out


def markouts(
    fills: Iterable[ExchangeFill],
    mids: MidHistory,
    settlements: Iterable[Settlement],
    strategy_of: Mapping[str, str],
    *,
    now_ms: int,
    horizons: Mapping[str, int] = HORIZONS,
) -> dict[str, Markouts]:
    """Markouts per strategy: for each fill, the mid ``h`` after it (and the settlement value) less the
    fill's price, signed so that positive is in the fill's favour.

    A horizon counts only once it has passed (``now_ms``) and a mid was seen by then; a market
    that settled before the horizon is marked at its settlement value. ``strategy_of`` maps
    fill_id → strategy.
    """
    value_of: dict[str, tuple[int, int]] = {}  # ticker → (settled at, twice the YES value)
    for s in settlements:
        v = s.value if s.value is not None else (ONE_DOLLAR if s.result == "yes" else 0)
        value_of[s.ticker] = (s.settled_ts_ms, 2 * v)
    out: dict[str, Markouts] = {}
    for f in fills:
        m = out.setdefault(strategy_of.get(f.fill_id, "") or "unknown", Markouts())
        m.fills += 1
        sign = 1 if f.side == "bid" else -1  # a YES buyer gains when the mid rises, a seller when it falls
        settled = value_of.get(f.ticker)
        for name, h in horizons.items():
            at = f.ts_ms + h
            if settled is not None and settled[0] <= at:
                mid2: int | None = settled[1]
            elif at > now_ms:
                continue
            else:
                mid2 = mids.mid2_at(f.ticker, at)
            if mid2 is not None:
                m.add(name, sign * (mid2 - 2 * f.price), f.count)
        if settled is not None:
            m.add("settlement", sign * (settled[1] - 2 * f.price), f.count)
    return out


def _sqrt(x: Decimal) -> Decimal:
    return x.sqrt() if x > 0 else Decimal(0)


def sharpe(changes: Sequence[int]) -> Decimal | None:
    """Mean over sample standard deviation of per-iteration equity changes (None: fewer than 2, or flat)."""
    if len(changes) < 2:
        return None
    with localcontext() as ctx:
        ctx.prec = 28
        n = Decimal(len(changes))
        mean = Decimal(sum(changes)) / n
        var = sum((Decimal(c) - mean) ** 2 for c in changes) / (n - 1)
        sd = _sqrt(var)
        return (mean / sd).quantize(Decimal("0.0001")) if sd else None


def sortino(changes: Sequence[int]) -> Decimal | None:
    """Mean over downside deviation (root mean square of the losses, over all iterations) of equity changes."""
    if len(changes) < 2:
        return None
    with localcontext() as ctx:
        ctx.prec = 28
        n = Decimal(len(changes))
        mean = Decimal(sum(changes)) / n
        down = _sqrt(sum(Decimal(min(0, c)) ** 2 for c in changes) / n)
        return (mean / down).quantize(Decimal("0.0001")) if down else None


def exposure_weighted_return(pnl: Money, exposures: Sequence[Money]) -> Decimal | None:
    """P&L per dollar of average exposure (open positions' cost) over the samples (None: never exposed)."""
    if not exposures or not any(exposures):
        return None
    avg = Decimal(sum(exposures)) / len(exposures)
    return (Decimal(pnl) / avg).quantize(Decimal("0.0001"))


@dataclass(slots=True)
class StrategyStats:
    """One strategy's book: trades (baskets count once), P&L, fees, turnover."""

    trades: int = 0  # closed
    wins: int = 0
    open_trades: int = 0
    realized: Money = Money(0)  # after fees, closed and open trades alike
    unrealized: Money = Money(0)
    fees: Money = Money(0)
    turnover: Money = Money(0)

    @property
    def losses(self) -> int:
        return self.trades - self.wins

    def record(self) -> dict[str, Any]:
        rate = (Decimal(self.wins) / self.trades if self.trades else Decimal(0)).quantize(Decimal("0.0001"))
        return {
            "trades": self.trades,
            "wins": self.wins,
            "losses": self.losses,
            "win_rate": str(rate),
            "open_trades": self.open_trades,
            "pnl": fmt_money(self.realized),
            "realized_pnl": fmt_money(self.realized),
            "unrealized_pnl": fmt_money(self.unrealized),
            "fees": fmt_money(self.fees),
            "turnover": fmt_money(self.turnover),
        }


def strategy_stats(book: TradeBook, valuation: Valuation) -> dict[str, StrategyStats]:
    """Per strategy: closed trades and their wins, realized P&L (after fees) of every trade, unrealized P&L
    of open positions at the valuation (a market's value is shared among the trades holding it by count)."""
    value = {p.ticker: (p.value, abs(p.position)) for p in valuation.positions}
    out: dict[str, StrategyStats] = {}
    for t in book.trades.values():
        if not t.held:
            continue
        s = out.setdefault(t.strategy or "unknown", StrategyStats())
        s.realized = Money(s.realized + t.pnl)
        s.fees = Money(s.fees + t.fees)
        s.turnover = Money(s.turnover + t.turnover)
        if t.is_open:
            s.open_trades += 1
            for ticker, (q, cost) in t.positions.items():
                if q:
                    v, n = value.get(ticker, (cost, abs(q)))
                    s.unrealized = Money(s.unrealized + v * abs(q) // max(1, n) - cost)
        else:
            s.trades += 1
            s.wins += int(t.pnl > 0)
    return out
