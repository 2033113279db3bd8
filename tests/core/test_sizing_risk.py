"""Kelly sizing, correlation caps and the risk gate's refusals."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from kalashi_cli.domain import Leg, Opportunity, OrderIntent
from kalashi_cli.journal import Journal
from kalashi_cli.profile import load_profile, money
from kalashi_cli.stages.correlate import Correlator, Grouper
from kalashi_cli.stages.portfolio import load_portfolio
from kalashi_cli.stages.risk import RiskGate, TradingState, order_cost, set_halted, stored_state
from kalashi_cli.stages.sizing import dynamic_scale, kelly_fraction, size_opportunity

P = load_profile("default")


def opp(edge: int = 50_000, cost: int = 400_000, p: int = 5000, count: int = 10_000, category: str = "Crypto",
        event: str = "E1", strategy: str = "value") -> Opportunity:
    return Opportunity(id=f"op-{event}-{edge}", strategy=strategy, event_ticker=event,  # type: ignore[arg-type]
                       legs=(Leg(f"{event}-T", "yes", "buy", 4000, count),), edge=edge, edge_pct=Decimal("0.1"),
                       fees=0, confidence=Decimal("0.5"), liquidity=Decimal("1"), score=Decimal("0.025"),
                       reason="test", series_ticker="KXBTC", category=category, cost=cost, p=p)


def test_kelly_for_binary_contract_on_all_in_cost() -> None:
    assert kelly_fraction(Decimal("0.5"), Decimal("0.4")) == Decimal("0.1") / Decimal("0.6")
    assert kelly_fraction(Decimal("0.4"), Decimal("0.5")) == 0  # no edge, no bet
    assert kelly_fraction(Decimal("1"), Decimal("0.9")) == 1  # riskless


@given(st.integers(1, 9999), st.integers(1, 9999))
def test_kelly_is_a_fraction_and_zero_without_edge(p: int, c: int) -> None:
    f = kelly_fraction(Decimal(p) / 10_000, Decimal(c) / 10_000)
    assert 0 <= f <= 1
    if p <= c:
        assert f == 0


def test_losing_streaks_and_drawdown_shrink_growth_is_capped() -> None:
    s = P.sizing
    assert dynamic_scale(s, consecutive_losses=0, consecutive_wins=0, drawdown=Decimal(0)) == 1
    assert dynamic_scale(s, consecutive_losses=2, consecutive_wins=0, drawdown=Decimal(0)) == Decimal("0.70")
    assert dynamic_scale(s, consecutive_losses=0, consecutive_wins=0, drawdown=Decimal("0.1")) == Decimal("0.8")
    assert dynamic_scale(s, consecutive_losses=20, consecutive_wins=0, drawdown=Decimal("0.5")) == s.min_scale
    # growth after wins is off by default, and capped when on
    assert dynamic_scale(s, consecutive_losses=0, consecutive_wins=10, drawdown=Decimal(0)) == 1
    agg = load_profile("aggressive").sizing
    assert dynamic_scale(agg, consecutive_losses=0, consecutive_wins=50, drawdown=Decimal(0)) == agg.max_scale


def test_size_is_fractional_kelly_of_equity() -> None:
    # p 0.5, cost 0.40 → f* = 1/6; ¼ Kelly → 1/24 of $100 = $4.16 → 10 contracts at $0.40
    s = size_opportunity(opp(), 100_000_000, P.sizing, Decimal(1))
    assert s.size == 1000 and s.stake == 4_000_000


def test_exposed_group_needs_more_edge_and_caps_bind(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j.sqlite")
    pf = load_portfolio(j, money(P.paper.starting_balance))
    pf.add_exposure("X", "EX", "crypto", 1_000_000)
    c = Correlator(P, pf)
    thin = opp(edge=35_000)  # above value min (0.03) but below 1.5 × 0.03
    (r,) = list(c.correlate([thin]))
    assert r.__class__.__name__ == "Rejected" and "1.5 × the minimum edge" in r.reason
    fat = opp(edge=60_000, p=9000, cost=400_000)
    (cand,) = list(c.correlate([fat]))
    assert cand.__class__.__name__ == "Candidate"
    assert cand.stake <= 20_000_000 - 1_000_000  # 20 % group cap minus what is there


def test_grouper_uses_metadata_then_keywords_then_series() -> None:
    g = Grouper(P)
    assert g.group("Elections", "KXPRES") == "election"
    assert g.group("", "KXBTCD", "Bitcoin above 100k") == "crypto"
    assert g.group("", "KXZZZ", "Something else") == "series:KXZZZ"


def test_selling_yes_cheap_counts_as_buying_no_dear() -> None:
    sell_yes = OrderIntent("c", "T", "ask", 100, 1000)  # ask YES at 0.01 = buy NO at 0.99
    assert order_cost(sell_yes) >= 9_900_000


def test_gate_refusals(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j.sqlite")
    pf = load_portfolio(j, money(P.paper.starting_balance))
    gate = RiskGate(P, j, pf, TradingState.ACTIVE)
    big = OrderIntent("c1", "T", "bid", 5000, 10_000)  # $50 > $10 per-order cap
    assert gate.check(big).rule == "max-order-cost"
    ok = OrderIntent("c2", "T", "bid", 5000, 1000)
    assert gate.check(ok) is None
    assert gate.check(ok, stale=True).rule == "stale-book"
    assert gate.check(ok, trading_active=False).rule == "exchange"
    gate.block("T")
    assert gate.check(ok).rule == "unknown-outcome"
    halted = RiskGate(P, j, pf, TradingState.HALTED, "operator")
    assert halted.check(OrderIntent("c3", "U", "bid", 5000, 100)).rule == "halted"
    reducing = RiskGate(P, j, pf, TradingState.REDUCING, "drawdown")
    assert reducing.check(OrderIntent("c4", "U", "bid", 5000, 100)).rule == "reducing"
    assert reducing.check(OrderIntent("c5", "U", "ask", 5000, 100, reduce_only=True)) is None


def test_halt_persists_in_the_journal(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    j = Journal(path)
    set_halted(j, "test halt")
    j.close()
    again = Journal(path)
    assert stored_state(again) == (TradingState.HALTED, "test halt")
