"""Multi-leg execution against sim-exchange: no leg is left open silently.

A two-leg basket goes least-liquid leg first with fill-or-kill. When the later leg cannot be
filled (its book was pulled between the look and the order), the filled leg is sold back with
a reduce-only IOC order inside the profile's slippage bound, and the realized loss — from the
actual fills, fees included — is journaled with the reason. When nobody bids inside the bound
nothing is dumped: the leg stays open, said so (``leg-left-open`` + an ``unwind-short`` event)
and ``flatten`` can close it later. When the later leg's answer is lost but the order is found
filled, the basket is complete and nothing is unwound.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from simx.conftest import Sim

from kalashi_cli.domain import Candidate, Denied, ExchangeFill, Leg, Market, Opportunity, OrderAck, OrderIntent
from kalashi_cli.journal import Journal
from kalashi_cli.money import COUNT_SCALE, ONE_DOLLAR, Count, Money, Price, flip, fmt_money
from kalashi_cli.profile import load_profile
from kalashi_cli.stages.order import OrderExecutor
from kalashi_cli.stages.portfolio import load_portfolio
from kalashi_cli.stages.risk import RiskGate, TradingState

from .conftest import BALANCE, Counts, active_tickers, book_of, demo_broker, demo_journal, engine_truth

P = load_profile("default")
SIZE = 3 * COUNT_SCALE


def _basket(a: Market, b: Market) -> Candidate:
    legs = (
        Leg(a.ticker, "yes", "buy", a.yes_ask or Price(0), Count(SIZE)),
        Leg(b.ticker, "yes", "buy", b.yes_ask or Price(0), Count(SIZE)),
    )
    opp = Opportunity(
        id=f"basket-{a.ticker}-{b.ticker}",
        strategy="arbitrage",
        event_ticker=a.event_ticker,
        legs=legs,
        edge=Money(0),
        edge_pct=Decimal(0),
        fees=Money(0),
        confidence=Decimal(1),
        liquidity=Decimal(1),
        score=Decimal(1),
        reason="test basket",
    )
    # the edge check is not under test here: any basket "still pays"
    return Candidate(
        opp,
        group="test",
        required_edge=Money(-ONE_DOLLAR * 100),
        size=Count(SIZE),
        kelly_fraction=Decimal(0),
        stake=Money(0),
    )


def _pulled(m: Market, *, asks_at: int) -> Market:
    """The book as it looked a moment ago: plenty offered at ``asks_at`` (it is gone on the exchange)."""
    return replace(m, no_bids=((flip(Price(asks_at)), Count(10**6)),))


class Books:
    """The executor's book reader: decision books first (possibly stale), then whatever ``later`` says."""

    def __init__(self, sim: Sim, decision: dict[str, Market], later: dict[str, Market] | None = None) -> None:
        self.sim = sim
        self.decision = decision
        self.later = later or {}
        self.calls = 0

    def __call__(self, tickers: Any) -> dict[str, Market]:
        self.calls += 1
        pick = self.decision if self.calls == 1 else self.later
        return {t: pick.get(t) or book_of(self.sim, t) for t in tickers}


def _executor(sim: Sim, tmp_path: Path, books: Books, broker: Any = None) -> tuple[OrderExecutor, Journal]:
    broker = broker or demo_broker(sim)
    journal = demo_journal(tmp_path / "journal-demo.sqlite", getattr(broker, "inner", broker))
    gate = RiskGate(P, journal, load_portfolio(journal, Money(BALANCE)), TradingState.ACTIVE)
    return OrderExecutor(P, broker, journal, gate, books), journal


def _two_markets(sim: Sim) -> tuple[Market, Market]:
    ms = [
        m
        for m in active_tickers(sim, limit=40)
        if m.yes_ask
        and m.yes_bid
        and m.yes_ask - m.yes_bid <= 600
        and m.yes_ask_size >= SIZE
        and m.yes_bid_size >= SIZE
    ]
    assert len(ms) >= 2, "no two liquid markets in the test universe"
    return ms[0], ms[1]


def _money(fills: list[ExchangeFill], *, buying: bool) -> int:
    return sum(f.price * f.count + (f.fee if buying else -f.fee) for f in fills)


def test_a_failed_later_leg_is_unwound_inside_the_bound_and_the_real_loss_recorded(
    fault_sim: Sim, tmp_path: Path
) -> None:
    counts = Counts("multileg")
    a, b = _two_markets(fault_sim)
    books = Books(fault_sim, {b.ticker: _pulled(b, asks_at=max(100, (b.yes_ask or 0) - 500))})
    ex, journal = _executor(fault_sim, tmp_path, books)
    try:
        out = list(ex.execute(_basket(a, b)))
        orders = [o for o in out if type(o).__name__ == "Order"]
        entry, later, unwind = orders
        assert entry.ticker == a.ticker and entry.filled_count == SIZE and entry.time_in_force == "fill_or_kill"
        assert later.ticker == b.ticker and later.filled_count == 0  # FOK found nothing at the pulled price
        assert unwind.ticker == a.ticker and unwind.action == "sell" and unwind.reduce_only
        assert unwind.time_in_force == "immediate_or_cancel" and unwind.filled_count == SIZE
        bid = a.yes_bid or 0
        assert unwind.price >= bid * (1 - P.execution.max_slippage_pct) - 100  # inside the bound (one tick of snap)
        assert not [p for p in engine_truth(fault_sim)[2] if p.ticker == a.ticker], "the leg was left open"

        fills = [f for f in engine_truth(fault_sim)[1] if f.ticker == a.ticker]
        bought = [f for f in fills if f.side == "bid"]
        sold = [f for f in fills if f.side == "ask"]
        real_loss = _money(bought, buying=True) - _money(sold, buying=False)
        event = journal.events("unwind", limit=1)[0]["detail"]
        assert event["reason"] == "a later leg of the basket failed or filled short"
        assert event["realized_loss"] == fmt_money(Money(real_loss))  # from the fills, fees included
        assert event["legs"][0]["sold"] == SIZE and event["legs"][0]["left_open"] == 0
        assert not [d for d in out if isinstance(d, Denied)]
        counts.update({"baskets": 1, "legs_unwound": 1, "legs_left_open_silently": 0})
        counts.c["realized_loss_micro_usd"] = real_loss
    finally:
        ex.broker.close()
        journal.close()
    counts.write(command="pytest tests/safety/test_multileg.py")


def test_without_a_bid_inside_the_bound_the_leg_stays_open_and_says_so(fault_sim: Sim, tmp_path: Path) -> None:
    a, b = _two_markets(fault_sim)
    books = Books(
        fault_sim,
        {b.ticker: _pulled(b, asks_at=max(100, (b.yes_ask or 0) - 500))},
        later={a.ticker: replace(a, yes_bids=())},
    )  # nobody bids for A any more
    ex, journal = _executor(fault_sim, tmp_path, books)
    try:
        out = list(ex.execute(_basket(a, b)))
        orders = [o for o in out if type(o).__name__ == "Order"]
        assert [o.ticker for o in orders] == [a.ticker, b.ticker]  # no unwind order: nothing dumped at $0.01
        denied = [d for d in out if isinstance(d, Denied)]
        assert [d.rule for d in denied] == ["leg-left-open"] and "nobody bids" in denied[0].reason
        assert "kalashi flatten" in denied[0].reason
        short = journal.events("unwind-short", limit=1)[0]
        assert short["ticker"] == a.ticker and short["detail"]["left_open"] == SIZE
        assert journal.events("unwind", limit=1)[0]["detail"]["legs"][0]["left_open"] == SIZE
        held = {p.ticker: p.position for p in engine_truth(fault_sim)[2]}
        assert held == {a.ticker: SIZE}  # open, and recorded as such
    finally:
        ex.broker.close()
        journal.close()


class LoseSecondAnswer:
    """The later leg is placed and fills, but its answer is lost on the way back."""

    def __init__(self, broker: Any, sim: Sim) -> None:
        self.inner = broker
        self.sim = sim
        self.sent = 0

    def submit(self, intent: OrderIntent) -> OrderAck:
        self.sent += 1
        if self.sent == 2:
            self.sim.faults(lose_order_responses=1.0, lose_mode="error")
        try:
            ack: OrderAck = self.inner.submit(intent)
            return ack
        finally:
            self.sim.faults(lose_order_responses=0.0)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@pytest.mark.parametrize("lost", [True, False], ids=["answer-lost", "answered"])
def test_a_later_leg_found_filled_after_a_lost_answer_completes_the_basket(
    fault_sim: Sim, tmp_path: Path, lost: bool
) -> None:
    a, b = _two_markets(fault_sim)
    broker = demo_broker(fault_sim)
    ex, journal = _executor(
        fault_sim, tmp_path, Books(fault_sim, {}), LoseSecondAnswer(broker, fault_sim) if lost else broker
    )
    try:
        out = list(ex.execute(_basket(a, b)))
        orders = [o for o in out if type(o).__name__ == "Order"]
        assert [(o.ticker, o.filled_count) for o in orders] == [(a.ticker, SIZE), (b.ticker, SIZE)]
        assert ("found on the exchange" in orders[1].reason) is lost
        assert not journal.events("unwind", limit=1)  # complete basket: nothing to unwind
        assert {p.ticker: p.position for p in engine_truth(fault_sim)[2]} == {a.ticker: SIZE, b.ticker: SIZE}
        assert not journal.blocked_tickers()
    finally:
        broker.close()
        journal.close()
