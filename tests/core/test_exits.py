"""Exits for every strategy (issue 17 §2): each rule, the risk gate, the journal's reason, P&L to the entry's strategy."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import pytest

from kalashi_cli.domain import Market, OrderIntent
from kalashi_cli.journal import Journal, TradeRow
from kalashi_cli.loop import TradingLoop
from kalashi_cli.money import COUNT_SCALE, Count, Price, parse_price
from kalashi_cli.ports import SourceEvents
from kalashi_cli.profile import ExitRule, Profile, load_profile, money
from kalashi_cli.sim.paper import PaperBroker, paper_exchange_path
from kalashi_cli.stages.exits import check_position, execute_exits, exit_signals
from kalashi_cli.stages.metrics import compute_metrics
from kalashi_cli.stages.order import OrderExecutor
from kalashi_cli.stages.portfolio import load_portfolio
from kalashi_cli.stages.risk import RiskGate, TradingState

from .factories import FakeSource, lv, market

P = load_profile("default")
C = COUNT_SCALE
p = parse_price
NOW = 1_767_268_800_000


def book(bid: str, ask: str, **kw: Any) -> Market:
    return market(
        "EX-1", event="EX", yes=lv((bid, "100")), no=lv((f"{1 - Decimal(ask):.2f}", "100")), category="Weather", **kw
    )


def fires(
    rule: ExitRule,
    m: Market | None,
    *,
    entry: str = "0.50",
    outcome: str = "yes",
    opened: int = NOW,
    now: int = NOW,
    fair: str | None = None,
) -> str | None:
    hit = check_position(
        rule, m, outcome=outcome, entry=p(entry), opened_ms=opened, now_ms=now, fair_yes=p(fair) if fair else None
    )
    return hit[0] if hit else None


# -- each rule ----------------------------------------------------------------------------------------------


def test_take_profit_at_a_target_and_at_fair_value() -> None:
    rule = ExitRule(take_profit=Decimal("0.05"))
    assert fires(rule, book("0.54", "0.56")) is None
    assert fires(rule, book("0.55", "0.57")) == "take-profit"
    at_fair = ExitRule(take_profit_at_fair=True)
    assert fires(at_fair, book("0.58", "0.60"), fair="0.60") is None
    assert fires(at_fair, book("0.60", "0.62"), fair="0.60") == "take-profit-fair"
    # held NO: its bid is 1 − the YES ask, its fair value 1 − the YES fair value
    assert fires(at_fair, book("0.38", "0.40"), outcome="no", fair="0.40") == "take-profit-fair"
    assert fires(at_fair, book("0.58", "0.60"), outcome="no", fair="0.40") is None


def test_stop_after_n_ticks_against_and_when_the_edge_reversed() -> None:
    stop = ExitRule(stop_ticks=3)
    assert fires(stop, book("0.47", "0.49")) is None  # mark 0.48: 2 ticks below 0.50
    assert fires(stop, book("0.46", "0.48")) == "stop"  # mark 0.47: 3 ticks
    assert fires(stop, book("0.46", "0.48"), outcome="no", entry="0.50") is None, "a NO holder gained"
    edge = ExitRule(stop_on_edge_reversal=True)
    assert fires(edge, book("0.45", "0.47"), fair="0.52") is None
    assert fires(edge, book("0.45", "0.47"), fair="0.48") == "edge-reversed"
    assert fires(edge, book("0.45", "0.47")) is None, "no fair value: nothing to reverse"


def test_time_stop_and_exit_before_close() -> None:
    timed = ExitRule(time_stop_seconds=600)
    assert fires(timed, book("0.50", "0.52"), opened=NOW - 599_000) is None
    assert fires(timed, book("0.50", "0.52"), opened=NOW - 600_000) == "time-stop"
    assert fires(timed, None, opened=NOW - 600_000) == "time-stop", "even without a book"
    closing = ExitRule(exit_before_close_seconds=120)
    assert fires(closing, book("0.50", "0.52", close_ts_ms=NOW + 121_000)) is None
    assert fires(closing, book("0.50", "0.52", close_ts_ms=NOW + 119_000)) == "exit-before-close"
    assert fires(ExitRule(), book("0.10", "0.12", close_ts_ms=NOW + 1_000), fair="0.90") is None, "all off: hold"


def test_the_first_rule_that_fires_names_the_exit() -> None:
    both = ExitRule(stop_ticks=1, exit_before_close_seconds=120)
    assert fires(both, book("0.40", "0.42", close_ts_ms=NOW + 60_000)) == "exit-before-close"


# -- through the loop: gate, journal, metrics ------------------------------------------------------------------


def exits_profile(**rule: Any) -> Profile:
    # the market maker off, so that only the value trade and its exit are on the books
    return msgspec.structs.replace(
        P,
        exits=msgspec.structs.replace(P.exits, value=ExitRule(**rule)),
        analyze=msgspec.structs.replace(P.analyze, spread=msgspec.structs.replace(P.analyze.spread, enabled=False)),
    )


class Held:
    """A paper account holding 10 YES of EX-1 bought at $0.50 by a ``value`` trade (op-v)."""

    def __init__(self, tmp_path: Path, profile: Profile) -> None:
        self.src = FakeSource([book("0.45", "0.50")], now_ms=NOW)
        self.j = Journal(tmp_path / "journal-paper.sqlite")
        self.broker = PaperBroker(
            self.src, paper_exchange_path(self.j.path), starting_balance=money(profile.paper.starting_balance)
        )
        self.profile = profile
        buy = OrderIntent("buy-v", "EX-1", "bid", p("0.50"), Count(10 * C), time_in_force="immediate_or_cancel")
        self.j.record_trade(TradeRow("op-v", "value", "EX", 1, Price(0), NOW))
        self.j.record_intent(buy, strategy="value", opportunity_id="op-v", purpose="entry")
        ack = self.broker.submit(buy)
        self.j.record_ack("buy-v", ack.order_id, self.broker.orders()[0], self.broker.fills(), strategy="value")
        assert ack.fill_count == 10 * C

    def move(self, m: Market, seconds: int = 10) -> None:
        self.src.markets[m.ticker] = m
        self.src._now += seconds * 1000
        self.broker.on_market_data([m], SourceEvents(now_ms=self.src.now_ms()))

    def close(self) -> None:
        self.broker.close()
        self.j.close()


@pytest.fixture
def held(tmp_path: Path):  # noqa: ANN201
    h = Held(tmp_path, exits_profile(take_profit=Decimal("0.05")))
    yield h
    h.close()


def test_a_take_profit_sells_through_the_loop_journaled_with_its_reason(held: Held) -> None:
    loop = TradingLoop(held.profile, held.src, held.broker, held.j)
    first = loop.run_iteration()
    assert first.record["exits"] == 0
    held.move(book("0.57", "0.59"))
    res = loop.run_iteration()
    assert res.record["exits"] == 1
    (order,) = [r for r in res.records if r["kind"] == "order"]
    assert order["strategy"] == "value" and order["opportunity_id"] == "op-v", "the entry's trade"
    assert order["action"] == "sell" and order["reduce_only"] and order["time_in_force"] == "immediate_or_cancel"
    assert order["status"] == "executed" and order["reason"].startswith("take-profit: bid $0.5700")
    (intent,) = [i for i in held.j.intents() if i.client_order_id != "buy-v"]
    assert held.j.intent_counts(["exit"]) == {("exit", "value", "take-profit"): 1}
    assert intent.opportunity_id == "op-v" and intent.reduce_only
    (ev,) = held.j.events("exit")
    assert ev["detail"]["rule"] == "take-profit"
    assert not held.broker.positions(), "sold: nothing left to settle"
    # metrics: the exit's P&L is the value strategy's, one closed trade, counted per rule
    m = compute_metrics(held.j, loop.portfolio(), held.profile)
    value = m["per_strategy"]["value"]
    assert value["trades"] == 1 and value["wins"] == 1 and value["open_trades"] == 0
    assert Decimal("0.3") < Decimal(value["realized_pnl"]) < Decimal("0.7")  # 10 × (0.57 − 0.50) less two taker fees
    assert value["exits"] == {"take-profit": 1}
    again = loop.run_iteration()
    assert again.record["exits"] == 0, "nothing held: nothing to exit"


def test_an_exit_passes_the_gate_when_halted_but_never_on_a_stale_book(held: Held) -> None:
    profile = exits_profile(stop_ticks=2)
    held.move(book("0.40", "0.44"))  # mark 0.42: 8 ticks against
    pf = load_portfolio(held.j, money(profile.paper.starting_balance), now_ms=held.src.now_ms())
    signals = exit_signals(profile, pf, dict(held.src.markets), {}, held.src.now_ms())
    assert [(s.trade_id, s.rule, s.count) for s in signals] == [("op-v", "stop", 10 * C)]
    stale_gate = RiskGate(profile, held.j, pf, TradingState.ACTIVE)
    stale = OrderExecutor(
        profile, held.broker, held.j, stale_gate, held.src.books, stale=lambda t: True, now_ms=held.src.now_ms
    )
    out = list(execute_exits(signals, stale, pf, held.src.now_ms()))
    assert [(type(o).__name__, getattr(o, "rule", "")) for o in out] == [("Denied", "stale-book")]
    assert held.broker.positions(), "nothing was sent"
    gate = RiskGate(profile, held.j, pf, TradingState.HALTED, "operator")
    ex = OrderExecutor(profile, held.broker, held.j, gate, held.src.books, now_ms=held.src.now_ms)
    out = list(execute_exits(signals, ex, pf, held.src.now_ms()))
    orders = [o for o in out if type(o).__name__ == "Order"]
    assert len(orders) == 1 and orders[0].reason.startswith("stop: mark")
    assert not held.broker.positions(), "reducing: it passes in HALTED"


def test_strategies_without_exit_rules_hold_to_settlement(tmp_path: Path) -> None:
    h = Held(tmp_path, exits_profile())  # every value rule off
    try:
        loop = TradingLoop(h.profile, h.src, h.broker, h.j)
        loop.run_iteration()
        h.move(replace(book("0.90", "0.92"), close_ts_ms=h.src.now_ms() + 5_000))
        res = loop.run_iteration()
        assert res.record["exits"] == 0 and h.broker.positions()
    finally:
        h.close()
