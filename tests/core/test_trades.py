"""Issue 14 §2: a basket is one trade (one P&L, one win or loss, one streak step); markouts and
performance figures are library functions over fills, settlements and a mid history."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Literal

from hypothesis import given, settings
from hypothesis import strategies as st

from kalashi_cli.domain import ExchangeFill, Settlement
from kalashi_cli.journal import Journal, MarkRow, TradeRow
from kalashi_cli.ledger import fold, fold_trades
from kalashi_cli.money import ONE_DOLLAR, Count, Money, Price
from kalashi_cli.profile import load_profile, money
from kalashi_cli.stages.metrics import compute_metrics
from kalashi_cli.stages.performance import MidHistory, exposure_weighted_return, markouts, sharpe, sortino
from kalashi_cli.stages.portfolio import load_portfolio, streaks
from kalashi_cli.stages.risk import TradingState, evaluate_state

P = load_profile("default")


def fill(
    fid: str, ticker: str, side: str, price: int, count: int, ts: int, fee: int = 0, coid: str = ""
) -> ExchangeFill:
    return ExchangeFill(fid, f"o-{fid}", ticker, side, price, count, fee, True, ts, coid or f"c-{fid}")  # type: ignore[arg-type]


def yes_basket(n: int = 8, price: int = 1200) -> list[ExchangeFill]:
    """YES on all n outcomes of an exclusive, exhaustive event at ``price`` each: pays exactly $1."""
    return [fill(f"b{i}", f"EV-{i}", "bid", price, 1000, 1_000 + i, fee=100) for i in range(n)]


def test_a_profitable_8_leg_basket_is_one_winning_trade_not_1_win_and_7_losses() -> None:
    legs = yes_basket()
    settle = [Settlement(f"EV-{i}", "EV", "yes" if i == 3 else "no", 5_000) for i in range(8)]
    trades = {f.fill_id: ("op-basket", "arbitrage") for f in legs}
    book = fold_trades(legs, settle, trades)
    (t,) = book.closed()
    assert t.legs == 8 and t.strategy == "arbitrage"
    assert t.pnl == 1000 * ONE_DOLLAR - 8 * 1200 * 1000 - 8 * 100 == 399_200  # $10 − $9.60 − fees
    assert streaks(book.closed()) == (1, 0)
    # per leg it would have been 1 win and 7 losses, enough for REDUCING
    per_leg = fold(Money(100_000_000), legs, settle).closed
    assert sum(1 for c in per_leg if c.pnl > 0) == 1 and len(per_leg) == 8


def test_a_basket_is_one_streak_step_and_the_loop_stays_active(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j.sqlite")
    for i in range(8):  # eight legs, one intent each, all of one opportunity
        from kalashi_cli.domain import OrderIntent

        j.record_intent(
            OrderIntent(f"c-b{i}", f"EV-{i}", "bid", Price(1200), Count(1000)),
            strategy="arbitrage",
            opportunity_id="op-basket",
        )
    j.record_trade(TradeRow("op-basket", "arbitrage", "EV", 8, ONE_DOLLAR, 0))
    j.add_fills(yes_basket())
    j.add_settlements([Settlement(f"EV-{i}", "EV", "yes" if i == 3 else "no", 5_000) for i in range(8)])
    p = load_portfolio(j, money(P.paper.starting_balance))
    assert (p.consecutive_wins, p.consecutive_losses) == (1, 0)
    state, why = evaluate_state(P, j, p)
    assert state is TradingState.ACTIVE, why
    m = compute_metrics(j, p, P)
    assert (m["trades"], m["wins"], m["losses"]) == (1, 1, 0)
    s = m["per_strategy"]["arbitrage"]
    assert s["trades"] == 1 and s["wins"] == 1 and s["fees"] == "0.0008" and s["turnover"] == "9.6000"
    assert s["realized_pnl"] == m["realized_pnl"] == "0.3992"  # $10 − $9.60 − 8 × $0.0001
    j.close()


def test_an_unwound_basket_is_one_losing_trade() -> None:
    legs = [fill("e1", "A", "bid", 4000, 1000, 1, fee=10), fill("u1", "A", "ask", 3900, 1000, 2, fee=10)]
    book = fold_trades(legs, (), {"e1": ("op-1", "arbitrage"), "u1": ("op-1", "arbitrage")})
    (t,) = book.closed()
    assert t.pnl == -100 * 1000 - 20 and streaks(book.closed()) == (0, 1)


def test_a_position_closed_by_another_trade_closes_the_first_trade() -> None:
    # a spread quote buys YES; a later flatten sells it: the quote's trade closes with the P&L, the
    # flatten is no trade of its own (it held nothing)
    fs = [fill("q", "A", "bid", 3000, 500, 1, fee=0), fill("x", "A", "ask", 3500, 500, 2, fee=20)]
    book = fold_trades(fs, (), {"q": ("op-quote", "spread"), "x": ("flatten-1", "flatten")})
    (t,) = book.closed()
    assert t.trade_id == "op-quote" and t.pnl == 500 * 500 - 20


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["A", "B", "C"]),
            st.sampled_from(["bid", "ask"]),
            st.integers(1, 9999),
            st.integers(1, 3000),
            st.integers(0, 50),
            st.integers(0, 4),
        ),
        min_size=1,
        max_size=25,
    ),
    st.sampled_from(["yes", "no"]),
)
def test_trades_add_up_to_the_ledger_once_everything_is_settled(raw: list, result: Literal["yes", "no"]) -> None:
    """Property: whatever fills of whatever trades, once every market settles the trades' P&L is the ledger's."""
    fills = [fill(f"f{i}", t, side, price, count, i, fee=fee) for i, (t, side, price, count, fee, _) in enumerate(raw)]
    trades = {f"f{i}": (f"op-{k}", "value") for i, (*_, k) in enumerate(raw)}
    settle = [Settlement(t, "E", result, Price(10_000)) for t in ("A", "B", "C")]
    led = fold(Money(0), fills, settle)
    book = fold_trades(fills, settle, trades)
    assert not book.open_trades()
    assert sum(t.pnl for t in book.trades.values()) == led.realized - led.fees
    assert sum(t.fees for t in book.trades.values()) == led.fees


# -- markouts and performance ---------------------------------------------------------------------------


def test_markouts_are_signed_in_the_fills_favour_per_strategy() -> None:
    mids = MidHistory(
        {
            "A": [
                MarkRow("A", 0, Price(5000), Price(4900), Price(5100)),
                MarkRow("A", 60_000, Price(5200), Price(5100), Price(5300)),
                MarkRow("A", 300_000, Price(4800), Price(4700), Price(4900)),
            ]
        }
    )
    buy = fill("b", "A", "bid", 5000, 200, 0)  # bought YES at 0.50: the mid 0.52 a minute later is +0.02
    sell = fill("s", "A", "ask", 5000, 100, 0)  # sold YES at 0.50: the mid 0.52 is −0.02 for it
    out = markouts(
        [buy, sell], mids, [Settlement("A", "E", "yes", 400_000)], {"b": "value", "s": "spread"}, now_ms=400_000
    )
    assert out["value"].average("1m") == 20_000 and out["value"].average("5m") == -20_000
    assert out["value"].average("settlement") == 500_000
    assert out["spread"].average("1m") == -20_000 and out["spread"].average("settlement") == -500_000
    early = markouts([buy], mids, [], {"b": "value"}, now_ms=100_000)
    assert early["value"].average("1m") == 20_000 and early["value"].average("5m") is None, "5 min has not passed"


def test_sharpe_sortino_and_exposure_weighted_return() -> None:
    assert sharpe([1, 1]) is None and sharpe([1]) is None
    assert sharpe([1, 3]) == Decimal("1.4142")  # mean 2, sample sd √2
    assert sortino([2, -2, 6]) == Decimal("1.7321")  # mean 2 over a downside deviation of √(4/3)
    assert sortino([1, 2]) is None  # no losses
    assert exposure_weighted_return(Money(5_000_000), [Money(10_000_000), Money(30_000_000)]) == Decimal("0.25")
    assert exposure_weighted_return(Money(1), [Money(0), Money(0)]) is None
