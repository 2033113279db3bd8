"""exits: sell open positions before settlement when a strategy's exit rule says so.

Every open trade (an opportunity's legs, :func:`kalashi_cli.ledger.fold_trades`) is checked each
iteration against the exit rule of the strategy that opened it (profile ``exits.<strategy>``),
in this order — the first rule that fires names the exit:

==========================  ===================================================================
rule                        fires when
==========================  ===================================================================
``exit-before-close``       the market closes within ``exit_before_close_seconds``
``time-stop``               the trade has held the position ``time_stop_seconds`` or longer
``stop``                    the mark (the held side's mid) is ``stop_ticks`` ticks or more below
                            the entry price
``edge-reversed``           the held side's fair value is now below the entry price
``take-profit``             the bid for the held side is ``take_profit`` or more above the entry
``take-profit-fair``        the bid for the held side has reached its fair value
==========================  ===================================================================

An exit sells what the trade holds in that market with a reduce-only immediate-or-cancel order
at the bids within ``execution.max_slippage_pct`` of the best one — through the same risk gate
as every order (a reducing order passes in every state, HALTED included, but never on a stale
book or a market with an unknown outcome) and journaled before it is sent under a deterministic
``client_order_id``, with ``purpose = exit`` and its rule and numbers as ``reason``. Its fills
belong to the entry's trade (the intent carries the entry's opportunity id), so metrics attribute
the exit's P&L to the strategy that entered.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..domain import Denied, Fill, Leg, Market, Order
from ..money import COUNT_SCALE, ONE_DOLLAR, Count, Price, fmt_count, snap, tick_above, usd_price
from ..profile import ExitRule, Profile
from .book import sell_slices, slices_count
from .order_send import leg_intent
from .scan import close_ms

if TYPE_CHECKING:
    from .order import OrderExecutor
    from .portfolio import Portfolio

#: the exit rules, in the order they are tried
RULES = ("exit-before-close", "time-stop", "stop", "edge-reversed", "take-profit", "take-profit-fair")


@dataclass(frozen=True, slots=True)
class ExitSignal:
    """One position a trade should sell now, and why."""

    trade_id: str
    strategy: str
    ticker: str
    outcome: str  # the side held: yes or no
    count: Count
    entry: Price  # average price paid for the held side
    rule: str
    reason: str


def rule_for(profile: Profile, strategy: str) -> ExitRule | None:
    return getattr(profile.exits, strategy, None)


def _tick(p: Price, m: Market) -> Price:
    above = tick_above(p, m.price_ranges)
    return Price((above - p) if above is not None else Price(100))


def check_position(
    rule: ExitRule, m: Market | None, *, outcome: str, entry: Price, opened_ms: int, now_ms: int, fair_yes: Price | None
) -> tuple[str, str] | None:
    """Return (rule, reason) when ``rule`` says to sell a position in ``m`` now, else None."""
    if rule.exit_before_close_seconds and m is not None:
        closes = close_ms(m)
        if closes is not None and 0 <= closes - now_ms <= rule.exit_before_close_seconds * 1000:
            return "exit-before-close", (
                f"{m.ticker} closes in {(closes - now_ms) // 1000} s, within "
                f"exit_before_close_seconds {rule.exit_before_close_seconds}"
            )
    if rule.time_stop_seconds and opened_ms and now_ms - opened_ms >= rule.time_stop_seconds * 1000:
        return "time-stop", f"held {(now_ms - opened_ms) // 1000} s ≥ time_stop_seconds {rule.time_stop_seconds}"
    if m is None:
        return None
    bids, asks = m.bids(outcome), m.asks(outcome)  # type: ignore[arg-type]
    bid = bids[0][0] if bids else None
    ask = asks[0][0] if asks else None
    if rule.stop_ticks and bid is not None:
        mark = (bid + ask) // 2 if ask is not None else bid
        tick = _tick(entry, m)
        if entry - mark >= rule.stop_ticks * tick:
            return "stop", (
                f"mark {usd_price(Price(mark))} is {(entry - mark) // tick} ticks below the entry "
                f"{usd_price(entry)} (stop_ticks {rule.stop_ticks})"
            )
    fair = None if fair_yes is None else (fair_yes if outcome == "yes" else ONE_DOLLAR - fair_yes)
    if rule.stop_on_edge_reversal and fair is not None and fair < entry:
        return "edge-reversed", (
            f"fair value {usd_price(Price(fair))} of {outcome.upper()} is now below the entry {usd_price(entry)}"
        )
    if rule.take_profit and bid is not None and bid - entry >= int(rule.take_profit * 10_000):
        return "take-profit", (
            f"bid {usd_price(bid)} is {usd_price(Price(bid - entry))} above the entry "
            f"{usd_price(entry)} (take_profit {usd_price(Price(int(rule.take_profit * 10_000)))})"
        )
    if rule.take_profit_at_fair and fair is not None and bid is not None and bid >= fair:
        return "take-profit-fair", (
            f"bid {usd_price(bid)} has reached the fair value {usd_price(Price(fair))} (entry {usd_price(entry)})"
        )
    return None


def exit_signals(
    profile: Profile, portfolio: Portfolio, books: Mapping[str, Market], fair: Mapping[str, Price], now_ms: int
) -> list[ExitSignal]:
    """Every open position whose strategy's exit rule fires now (``fair``: YES fair price by ticker)."""
    out: list[ExitSignal] = []
    for t in portfolio.trades.open_trades():
        rule = rule_for(profile, t.strategy)
        if rule is None or not rule.any:
            continue
        for ticker, (q, cost) in sorted(t.positions.items()):
            if not q:
                continue
            n = abs(q)
            entry = cost // n  # cost is money for n count units: price × count
            outcome = "yes" if q > 0 else "no"
            hit = check_position(
                rule,
                books.get(ticker),
                outcome=outcome,
                entry=Price(entry),
                opened_ms=t.opened_ms,
                now_ms=now_ms,
                fair_yes=fair.get(ticker),
            )
            if hit is not None:
                out.append(ExitSignal(t.trade_id, t.strategy, ticker, outcome, Count(n), Price(entry), *hit))
    return out


def execute_exits(
    signals: list[ExitSignal], executor: OrderExecutor, portfolio: Portfolio, now_ms: int
) -> Iterator[Order | Fill | Denied]:
    """Sell each signal's position: gate, journal (purpose ``exit``, the rule as reason), send."""
    if not signals:
        return
    ex = executor.profile.execution
    books = executor.books(sorted({s.ticker for s in signals}))
    left: dict[str, Count] = {t: Count(abs(p.position)) for t, p in portfolio.ledger.positions.items()}
    for s in signals:
        m = books.get(s.ticker)
        count = min(s.count, left.get(s.ticker, 0))
        if m is None or count <= 0:
            continue
        bids = m.bids(s.outcome)  # type: ignore[arg-type]
        why = f"{s.rule}: {s.reason}"
        if not bids:
            yield Denied(
                s.trade_id,
                s.ticker,
                "no-liquidity",
                f"exit ({why}) wanted, but nobody bids for {s.outcome.upper()} {s.ticker}",
                s.strategy,
            )
            continue
        best = bids[0][0]
        floor = snap(Price(max(1, int(best * (1 - ex.max_slippage_pct)))), m.price_ranges, up=True) or 1
        slices = sell_slices(m, s.outcome, count, min_price=floor)  # type: ignore[arg-type]
        n = slices_count(slices)
        step = max(1, int(executor.profile.sizing.min_count * COUNT_SCALE))
        n = Count(n // step * step)
        if n <= 0:
            yield Denied(
                s.trade_id,
                s.ticker,
                "no-liquidity",
                f"exit ({why}) wanted, but no bid within the {ex.max_slippage_pct:.1%} slippage bound",
                s.strategy,
            )
            continue
        limit = slices[-1][0]
        leg = Leg(s.ticker, s.outcome, "sell", limit, n)  # type: ignore[arg-type]
        intent = leg_intent(
            s.trade_id,
            0,
            leg,
            limit,
            n,
            "immediate_or_cancel",
            purpose=f"exit:{s.rule}:{now_ms}",
            action="sell",
            reduce_only=True,
        )
        d = executor.gate.check(
            intent,
            fee_type=m.fee_type,
            multiplier=m.fee_multiplier,
            stale=executor.stale(s.ticker),
            trading_active=executor.trading_active(),
        )
        if d is not None:
            yield Denied(s.trade_id, s.ticker, d.rule, f"exit ({why}) refused: {d.reason}", s.strategy)
            continue
        executor.journal.add_event(
            "exit",
            {
                "opportunity_id": s.trade_id,
                "strategy": s.strategy,
                "rule": s.rule,
                "reason": s.reason,
                "outcome": s.outcome,
                "count": fmt_count(n),
                "entry": usd_price(s.entry),
                "limit": usd_price(limit),
            },
            ticker=s.ticker,
        )
        out, sold = executor.send(
            intent, leg, m, reference=best, strategy=s.strategy, ref=s.trade_id, purpose="exit", reason=why
        )
        left[s.ticker] = Count(left.get(s.ticker, 0) - sold)
        yield from out
