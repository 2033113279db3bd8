"""The fill-ledger fold: Kalshi's netting, cash, realized P&L and settlement."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from kalashi_cli.domain import ExchangeFill, Settlement
from kalashi_cli.ledger import fold
from kalashi_cli.money import ONE_DOLLAR, Money

START = 100_000_000  # $100


def fill(side: str, price: int, count: int, fee: int = 0, ts: int = 0, ticker: str = "T") -> ExchangeFill:
    return ExchangeFill(f"f{ts}-{side}-{price}-{count}", "o", ticker, side, price, count, fee, True, ts)  # type: ignore[arg-type]


def test_buy_yes_then_settle_yes_pays_one_dollar_per_contract() -> None:
    s = fold(Money(START), [fill("bid", 4000, 1000, fee=1_680_000)], [Settlement("T", "E", "yes", 10)])
    # paid 10 × $0.40 + $1.68 fee, received $10
    assert s.cash == START - 4_000_000 - 1_680_000 + 10_000_000
    assert s.positions["T"].position == 0
    assert s.closed and s.closed[0].pnl == 6_000_000 - 1_680_000


def test_buying_no_costs_one_minus_yes_price() -> None:
    # ask at YES 0.40 from flat = buy NO at 0.60
    s = fold(Money(START), [fill("ask", 4000, 1000)])
    assert s.cash == START - 6_000_000
    assert s.positions["T"].position == -1000
    s2 = fold(Money(START), [fill("ask", 4000, 1000)], [Settlement("T", "E", "no", 10)])
    assert s2.cash == START - 6_000_000 + 10_000_000


def test_netting_yes_against_no_returns_a_dollar_per_pair() -> None:
    # buy 10 NO at 0.60 (ask 0.40), then buy 10 YES at 0.45: pairs net to $1 each
    s = fold(Money(START), [fill("ask", 4000, 1000, ts=1), fill("bid", 4500, 1000, ts=2)])
    assert s.positions["T"].position == 0
    assert s.cash == START - 6_000_000 - 4_500_000 + 10_000_000
    assert s.closed[0].pnl == -500_000


@given(
    st.lists(
        st.tuples(st.sampled_from(["bid", "ask"]), st.integers(1, 9999), st.integers(1, 5000), st.integers(0, 50_000)),
        min_size=1,
        max_size=30,
    ),
    st.sampled_from(["yes", "no"]),
)
def test_cash_after_settlement_equals_direct_payoff(trades: list, result: str) -> None:
    """Whatever the sequence, final cash = start − Σ YES-leg cash flows − fees + settlement of the net position."""
    fills = [fill(side, p, c, fee, ts=i) for i, (side, p, c, fee) in enumerate(trades)]
    s = fold(START, fills, [Settlement("T", "E", result, 10**9)])  # type: ignore[arg-type]
    net = sum(c if side == "bid" else -c for side, _, c, _ in trades)
    yes_value = ONE_DOLLAR if result == "yes" else 0
    # Economically a YES-leg position of `net` pays net × value; a short YES (NO) also owes collateral
    # that Kalshi pre-pays at $1 per contract — both views agree on the end result:
    flows = sum(-p * c if side == "bid" else p * c for side, p, c, _ in trades)
    fees = sum(f for *_, f in trades)
    expected = START + flows - fees + net * yes_value
    assert s.cash == expected
    assert s.positions["T"].position == 0
    assert s.realized - s.fees == s.cash - START


def test_drawdown_counts_from_the_starting_balance(tmp_path: Path) -> None:
    """A loss before the first iteration row (or in it) is a drawdown: $100 → $98.80 is 1.20 %."""
    from kalashi_cli.journal import Journal
    from kalashi_cli.profile import load_profile
    from kalashi_cli.stages.metrics import compute_metrics
    from kalashi_cli.stages.portfolio import load_portfolio

    j = Journal(tmp_path / "j.sqlite")
    pf = load_portfolio(j, Money(100_000_000))
    pf.equity = Money(98_800_000)
    assert compute_metrics(j, pf, load_profile("default"))["max_drawdown_pct"] == "1.20"
