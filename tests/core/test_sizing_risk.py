"""Kelly sizing, correlation caps and the risk gate's refusals."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from kalashi_cli.domain import ExchangeOrder, Leg, Opportunity, OrderIntent
from kalashi_cli.journal import Journal
from kalashi_cli.money import Count, Money, Price
from kalashi_cli.profile import load_profile, money
from kalashi_cli.stages.correlate import Correlator, Grouper
from kalashi_cli.stages.portfolio import load_portfolio
from kalashi_cli.stages.risk import (
    BasketCharge,
    RiskGate,
    TradingState,
    order_collateral,
    order_cost,
    resting_collateral,
    set_halted,
    stored_state,
    worst_fee,
)
from kalashi_cli.stages.sizing import dynamic_scale, kelly_fraction, size_opportunity

P = load_profile("default")
#: the default profile with a daily cap out of the way, for tests about the balance
ROOMY = msgspec.structs.replace(
    P, risk=msgspec.structs.replace(P.risk, max_daily_cost=Decimal(1000), max_order_cost=Decimal(100))
)


def opp(
    edge: int = 50_000,
    cost: int = 400_000,
    p: int = 5000,
    count: int = 10_000,
    category: str = "Crypto",
    event: str = "E1",
    strategy: str = "value",
) -> Opportunity:
    return Opportunity(
        id=f"op-{event}-{edge}",
        strategy=strategy,  # type: ignore[arg-type]
        event_ticker=event,
        legs=(Leg(f"{event}-T", "yes", "buy", Price(4000), Count(count)),),
        edge=Money(edge),
        edge_pct=Decimal("0.1"),
        fees=Money(0),
        confidence=Decimal("0.5"),
        liquidity=Decimal("1"),
        score=Decimal("0.025"),
        reason="test",
        series_ticker="KXBTC",
        category=category,
        cost=Money(cost),
        p=Price(p),
    )


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
    s = size_opportunity(opp(), Money(100_000_000), P.sizing, Decimal(1))
    assert s.size == 1000 and s.stake == 4_000_000


def test_exposed_group_needs_more_edge_and_caps_bind(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j.sqlite")
    pf = load_portfolio(j, money(P.paper.starting_balance))
    pf.add_exposure("X", "EX", "crypto", Money(1_000_000))
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
    sell_yes = OrderIntent("c", "T", "ask", Price(100), Count(1000))  # ask YES at 0.01 = buy NO at 0.99
    assert order_cost(sell_yes) >= 9_900_000


def test_gate_refusals(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j.sqlite")
    pf = load_portfolio(j, money(P.paper.starting_balance))
    gate = RiskGate(P, j, pf, TradingState.ACTIVE)
    big = OrderIntent("c1", "T", "bid", Price(5000), Count(10_000))  # $50 > $10 per-order cap
    assert gate.check(big).rule == "max-order-cost"
    ok = OrderIntent("c2", "T", "bid", Price(5000), Count(1000))
    assert gate.check(ok) is None
    assert gate.check(ok, stale=True).rule == "stale-book"
    assert gate.check(ok, trading_active=False).rule == "exchange"
    gate.block("T")
    assert gate.check(ok).rule == "unknown-outcome"
    halted = RiskGate(P, j, pf, TradingState.HALTED, "operator")
    assert halted.check(OrderIntent("c3", "U", "bid", Price(5000), Count(100))).rule == "halted"
    reducing = RiskGate(P, j, pf, TradingState.REDUCING, "drawdown")
    assert reducing.check(OrderIntent("c4", "U", "bid", Price(5000), Count(100))).rule == "reducing"
    # reduce_only skips the cost caps, so it must really reduce: with nothing held it is refused
    denied = reducing.check(OrderIntent("c5", "U", "ask", Price(5000), Count(100), reduce_only=True))
    assert denied is not None and denied.rule == "reduce-only" and "U holds nothing" in denied.reason


def test_halt_persists_in_the_journal(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    j = Journal(path)
    set_halted(j, "test halt")
    j.close()
    again = Journal(path)
    assert stored_state(again) == (TradingState.HALTED, "test halt")


def _resting(coid: str, ticker: str, side: str, price: str, count: int) -> ExchangeOrder:
    from kalashi_cli.money import parse_price

    return ExchangeOrder(
        f"o-{coid}",
        coid,
        ticker,
        side,  # type: ignore[arg-type]
        parse_price(price),
        "resting",  # type: ignore[arg-type]
        Count(count),
        Count(0),
        Count(count),
    )


def test_resting_quotes_hold_cash_the_gate_will_not_spend_twice(tmp_path: Path) -> None:
    """Quotes resting from earlier iterations hold collateral: the gate must not pass what the exchange refuses."""
    j = Journal(tmp_path / "j.sqlite")
    for i in range(9):  # nine $10 bids resting: $90 of a $100 paper balance is held
        j.upsert_order(_resting(f"q{i}", f"Q{i}", "bid", "0.50", 2000))
    pf = load_portfolio(j, money(P.paper.starting_balance))
    gate = RiskGate(ROOMY, j, pf, TradingState.ACTIVE)
    held = 9 * (5000 * 2000 + worst_fee(Price(5000), Count(2000), is_bid=True))
    assert gate.held == held and gate.available == pf.cash - held
    fits = OrderIntent("c1", "T", "bid", Price(4000), Count(1000))  # $4 + fees < what is left
    assert gate.check(fits) is None
    too_big = OrderIntent("c2", "T", "bid", Price(4500), Count(2000))  # $9: under the caps, but only free cash counts
    d = gate.check(too_big)
    assert d is not None and d.rule == "balance" and "held by resting quotes" in d.reason


def test_resting_quotes_count_against_the_daily_cap(tmp_path: Path) -> None:
    """A quote may still spend its cost: resting quotes are not exempt from the daily cap (issue 14)."""
    j = Journal(tmp_path / "j.sqlite")
    for i in range(4):  # four $10 bids resting: $40 of the $50 daily cap may still be spent
        j.upsert_order(_resting(f"q{i}", f"Q{i}", "bid", "0.50", 2000))
    gate = RiskGate(P, j, load_portfolio(j, money(P.paper.starting_balance)), TradingState.ACTIVE)
    assert gate.resting_cost == 40_000_000
    taker = OrderIntent("c1", "T", "bid", Price(4000), Count(2000))
    assert gate.check(taker) is None  # $8 + fee: $48.xx
    gate.admit(taker)
    quote = OrderIntent("c2", "T", "bid", Price(5000), Count(1800), time_in_force="good_till_canceled", post_only=True)
    d = gate.check(quote)  # $9: a quote counts too
    assert d is not None and d.rule == "max-daily-cost" and "resting quotes" in d.reason


def test_a_basket_is_charged_its_worst_case_under_the_daily_cap_not_its_legs_cost(tmp_path: Path) -> None:
    """Issue 14 §4: a hedged basket spends only what it can lose; a riskless one spends nothing of the daily cap."""
    j = Journal(tmp_path / "j.sqlite")
    for i in range(4):  # $45 of the $50 daily cap committed by resting quotes
        j.upsert_order(_resting(f"q{i}", f"Q{i}", "bid", "0.50", 2000))
    j.upsert_order(_resting("q4", "Q4", "bid", "0.25", 2000))
    gate = RiskGate(P, j, load_portfolio(j, money(P.paper.starting_balance)), TradingState.ACTIVE)
    assert gate.resting_cost == 45_000_000
    leg = OrderIntent("c1", "T", "bid", Price(4750), Count(2000))  # $9.50 + fee: alone it breaks the cap
    d = gate.check(leg)
    assert d is not None and d.rule == "max-daily-cost"
    cash = order_collateral(leg)
    assert gate.check(leg, basket=BasketCharge(daily=Money(0), cash=cash)) is None, "a riskless basket spends nothing"
    assert gate.check(leg, basket=BasketCharge(daily=Money(4_000_000), cash=cash)) is None  # worst case $4: fits
    d = gate.check(leg, basket=BasketCharge(daily=Money(6_000_000), cash=cash))  # worst case $6: does not
    assert d is not None and d.rule == "max-daily-cost"


def test_a_quote_that_would_close_a_position_holds_nothing() -> None:
    # short 20 NO-equivalent… long 20 YES: an ask for 20 YES only closes pairs, each returning $1
    orders = [_resting("a", "T", "ask", "0.60", 2000)]
    assert resting_collateral(orders, {"T": 2000}) == 0
    assert resting_collateral(orders, {}) == 4000 * 2000 + worst_fee(Price(6000), Count(2000), is_bid=False)
    assert resting_collateral(orders, {"T": 1000}) == max(
        0, 4000 * 2000 + worst_fee(Price(6000), Count(2000), is_bid=False) - 1_000_000 * 1000
    )


def test_a_basket_must_fit_as_a_whole_before_its_first_leg(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j.sqlite")
    pf = load_portfolio(j, money(P.paper.starting_balance))
    gate = RiskGate(ROOMY, j, pf, TradingState.ACTIVE)
    leg = OrderIntent("c1", "A", "bid", Price(4500), Count(2000), time_in_force="good_till_canceled")  # $9 + fees
    assert gate.check(leg) is None
    assert gate.check(leg, pending=Money(92_000_000)).rule == "balance", "the basket's other legs already need $92"


@given(st.integers(1, 9999), st.integers(1, 100_000), st.booleans())
def test_worst_fee_is_never_below_the_fee_of_one_fill(price: int, count: int, is_bid: bool) -> None:
    from kalashi_cli.money import fee_for

    assert worst_fee(Price(price), Count(count), is_bid=is_bid) >= fee_for(Price(price), Count(count))
    intent = OrderIntent("c", "T", "bid" if is_bid else "ask", Price(price), Count(count))
    assert order_collateral(intent) >= order_cost(intent)


def test_the_gate_applies_concentration_caps_when_asked(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j.sqlite")
    pf = load_portfolio(j, money(P.paper.starting_balance))  # $100 equity: caps $20 position/group, $25 event
    pf.add_exposure("T", "EV", "crypto", Money(15_000_000))
    gate = RiskGate(P, j, pf, TradingState.ACTIVE)
    order = OrderIntent("c1", "T", "bid", Price(5000), Count(1200))  # $6 + fees: $21+ on T
    assert gate.check(order) is None, "without concentration (the pipeline's correlate already capped it)"
    d = gate.check(order, concentration=("EV", "crypto"))
    assert d is not None and d.rule == "max-position" and "$20.0000" in d.reason
    other = OrderIntent("c2", "U", "bid", Price(5000), Count(1200))  # another market of the same group
    assert gate.check(other, concentration=("EV2", "crypto")).rule == "max-group"
    assert gate.check(other, concentration=("EV2", "weather")) is None
