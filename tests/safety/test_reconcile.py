"""Reconciliation against sim-exchange: start-up and periodic runs adopt the exchange's truth and say so.

Each test makes the journal and the simulator disagree in one way a real account can — a fill
the loop never saw, an order whose answer was lost, orders placed outside kalashi, a deposit,
a request that arrived after it was judged never sent — and checks that reconciliation adopts
the exchange's truth, records it as a journal event, and that the drift shows in ``metrics``
and in heal's ``drift`` check.
"""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path
from typing import Any

import msgspec
from simx.conftest import Sim

from kalashi_cli.domain import ExchangeOrder, OrderAck, OrderIntent, OrderStatus
from kalashi_cli.errors import OutcomeUnknown
from kalashi_cli.heal.checks import journal_drift
from kalashi_cli.journal import IntentStatus, Journal
from kalashi_cli.kalshi.env import custom_env
from kalashi_cli.kalshi.source import KalshiSource
from kalashi_cli.kalshi.wire import order_request
from kalashi_cli.loop import TradingLoop
from kalashi_cli.money import MONEY_SCALE, Count, Money, Price
from kalashi_cli.profile import Profile, load_profile
from kalashi_cli.reconcile import reconcile
from kalashi_cli.stages.metrics import compute_metrics
from kalashi_cli.stages.order import OrderExecutor, client_order_id
from kalashi_cli.stages.portfolio import load_portfolio
from kalashi_cli.stages.risk import RiskGate, TradingState

from .conftest import BALANCE, Counts, active_tickers, book_of, demo_broker, demo_journal, engine_truth, trade_through

P = load_profile("default")


def _profile(**loop: Any) -> Profile:
    execution = msgspec.structs.replace(P.execution, maker_expiry_seconds=0)  # the sim's clock runs ahead
    return msgspec.structs.replace(P, execution=execution, loop=msgspec.structs.replace(P.loop, **loop))


class Wrapped:
    """A broker that delegates everything it does not override (fakes over mocks)."""

    def __init__(self, broker: Any) -> None:
        self.inner = broker

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class FillBlind(Wrapped):
    """The loop never hears of fills from the market (a lost WS message, a crash between reads …)."""

    def on_market_data(self, markets: Any, events: Any) -> list[Any]:
        self.inner.on_market_data(markets, events)
        return []


class LosesFirstAnswer(Wrapped):
    """The first create times out before it reaches the exchange: the client cannot know that."""

    def __init__(self, broker: Any) -> None:
        super().__init__(broker)
        self.lost: OrderIntent | None = None

    def submit(self, intent: OrderIntent) -> OrderAck:
        if self.lost is None:
            self.lost = intent
            raise OutcomeUnknown("POST /portfolio/events/orders was sent but no answer arrived (ReadTimeout)")
        ack: OrderAck = self.inner.submit(intent)
        return ack


def _loop(sim: Sim, tmp_path: Path, wrap: Any = None, **loop: Any) -> tuple[TradingLoop, Journal, Any]:
    broker = demo_broker(sim)
    journal = demo_journal(tmp_path / "journal-demo.sqlite", broker)
    source = KalshiSource(custom_env(sim.url))
    b = wrap(broker) if wrap else broker
    return TradingLoop(_profile(**loop), source, b, journal), journal, b


def _close(loop: TradingLoop, journal: Journal) -> None:
    loop.source.close()
    getattr(loop.broker, "inner", loop.broker).close()
    journal.close()


def _missing_fills(sim: Sim, journal: Journal) -> set[str]:
    return {f.fill_id for f in engine_truth(sim)[1]} - {f.fill_id for f in journal.fills()}


def test_periodic_reconciliation_catches_fills_the_loop_missed(fault_sim: Sim, tmp_path: Path) -> None:
    counts = Counts("reconcile-periodic")
    loop, journal, _ = _loop(fault_sim, tmp_path, FillBlind, reconcile_every=3)
    try:
        loop.run_iteration()  # n=1: reconciles at start-up, places quotes
        resting = journal.orders(status=OrderStatus.RESTING)
        assert resting, "the loop placed no quote"
        for o in resting:
            trade_through(fault_sim, o)
        loop.run_iteration()  # n=2: the fills happened, but this loop never hears of them
        missed = _missing_fills(fault_sim, journal)
        assert missed, "the quotes did not fill: the test proves nothing"
        runs = int(journal.get_meta("reconcile_runs") or 0)
        loop.run_iteration()  # n=3: the periodic reconciliation (loop.reconcile_every = 3)
        assert int(journal.get_meta("reconcile_runs") or 0) == runs + 1
        assert not _missing_fills(fault_sim, journal)
        db = sqlite3.connect(journal.path)
        try:
            recovered = db.execute("SELECT COUNT(*) FROM fills WHERE source='reconcile'").fetchone()[0]
        finally:
            db.close()
        assert recovered == len(missed)
        summary = compute_metrics(journal, loop.portfolio(), loop.profile)["reconcile"]
        assert summary["fills_added"] == recovered and summary["runs"] == runs + 1
        counts.update(
            {"quotes_filled_unseen": len(resting), "missed_fills_recovered": recovered, "reconciliations": runs + 1}
        )
    finally:
        _close(loop, journal)
    counts.write(command="pytest tests/safety/test_reconcile.py")


def test_an_unknown_outcome_blocks_the_market_until_the_next_iteration_reconciles(
    fault_sim: Sim, tmp_path: Path
) -> None:
    loop, journal, broker = _loop(fault_sim, tmp_path, LosesFirstAnswer)
    try:
        for _ in range(10):
            fault_sim.step(1)
            res = loop.run_iteration()
            if broker.lost is not None:
                break
        lost = broker.lost
        assert lost is not None, "the loop placed no order"
        row = journal.intent(lost.client_order_id)
        assert row is not None and row.status == "unknown" and lost.ticker in journal.blocked_tickers()
        later = [
            r
            for r in res.records
            if r["kind"] == "order" and r["ticker"] == lost.ticker and r["client_order_id"] != lost.client_order_id
        ]
        assert not later, "a second write went to a market whose outcome was unknown"
        runs = int(journal.get_meta("reconcile_runs") or 0)
        loop.run_iteration()  # not a periodic one (reconcile_every 10): it runs because a market is blocked
        assert int(journal.get_meta("reconcile_runs") or 0) == runs + 1
        row = journal.intent(lost.client_order_id)
        assert row is not None and row.status == "never_sent"  # it never reached the simulator
        assert lost.ticker not in journal.blocked_tickers()
        assert compute_metrics(journal, loop.portfolio(), loop.profile)["reconcile"]["unknown_never_sent"] == 1
    finally:
        _close(loop, journal)


def _place_behind_our_back(sim: Sim, ticker: str, price: int, coid: str | None) -> None:
    body = order_request(
        OrderIntent(coid or "", ticker, "bid", Price(price), Count(100), "good_till_canceled", "maker", post_only=True)
    )
    if coid is None:
        body.pop("client_order_id", None)
    r = sim.http.post("portfolio/events/orders", json=body)
    assert r.status_code == 201, r.text


def test_orphan_resting_orders_are_reported_and_cancelled_per_profile(fault_sim: Sim, tmp_path: Path) -> None:
    counts = Counts("reconcile-orphans")
    broker = demo_broker(fault_sim)
    path = tmp_path / "journal-demo.sqlite"
    journal = demo_journal(path, broker)
    try:
        m = active_tickers(fault_sim, limit=1)[0]
        _place_behind_our_back(fault_sim, m.ticker, 100, "placed-on-the-website")
        _place_behind_our_back(fault_sim, m.ticker, 200, None)  # orders without any client_order_id …
        _place_behind_our_back(fault_sim, m.ticker, 300, None)  # … must not collapse into one
        rep = reconcile(journal, broker, starting_balance=BALANCE)
        assert rep.ok and len(rep.orphans) == 3 and rep.orphans_cancelled == 0
        assert len([o for o in engine_truth(fault_sim)[0] if o.status == "resting"]) == 3
        check = journal_drift(path)
        assert check.status == "degraded" and "3 resting order(s) unknown to the journal" in check.detail
        rep = reconcile(journal, broker, starting_balance=BALANCE, cancel_orphans=True)
        assert rep.orphans_cancelled == 3
        assert all(o.status == "canceled" for o in engine_truth(fault_sim)[0])
        assert not reconcile(journal, broker, starting_balance=BALANCE).orphans
        metrics = compute_metrics(journal, load_portfolio(journal, Money(BALANCE)), P)
        assert metrics["reconcile"]["orphans"] == 3 and metrics["reconcile"]["orphans_cancelled"] == 3
        assert any(r["title"] == "The journal drifted from the exchange" for r in metrics["recommendations"])
        counts.update({"orphans_reported": len(rep.orphans) + 3, "orphans_cancelled": 3})
    finally:
        broker.close()
        journal.close()
    counts.write(command="pytest tests/safety/test_reconcile.py")


def test_a_deposit_is_adopted_as_balance_drift_not_profit(fault_sim: Sim, tmp_path: Path) -> None:
    broker = demo_broker(fault_sim)
    journal = demo_journal(tmp_path / "journal-demo.sqlite", broker)
    try:
        assert reconcile(journal, broker, starting_balance=BALANCE).balance_drift is None
        fault_sim.call(lambda: fault_sim.exchange.engine.deposit(fault_sim.key.key_id, Money(250 * MONEY_SCALE)))
        rep = reconcile(journal, broker, starting_balance=BALANCE)
        assert rep.balance_drift == (BALANCE, BALANCE + 250 * MONEY_SCALE)
        assert journal.starting_balance(Money(0)) == BALANCE + 250 * MONEY_SCALE  # a deposit, not a gain
        assert reconcile(journal, broker, starting_balance=BALANCE).balance_drift is None
        assert compute_metrics(journal, load_portfolio(journal, Money(BALANCE)), P)["reconcile"]["balance_drift"] == 1
    finally:
        broker.close()
        journal.close()


def _executor(sim: Sim, broker: Any, journal: Journal) -> OrderExecutor:
    gate = RiskGate(P, journal, load_portfolio(journal, Money(BALANCE)), TradingState.ACTIVE)
    return OrderExecutor(P, broker, journal, gate, lambda ts: {t: book_of(sim, t) for t in ts})


def test_a_late_arrival_is_adopted_and_a_resend_of_it_is_recognised(fault_sim: Sim, tmp_path: Path) -> None:
    """Judged never sent, but the request was still in flight: reconciliation adopts it; a resend gets 409."""
    broker = demo_broker(fault_sim)
    journal = demo_journal(tmp_path / "journal-demo.sqlite", broker)
    try:
        m = active_tickers(fault_sim, limit=2)
        first, second = (
            OrderIntent(
                client_order_id(f"late-{i}", 0, x.ticker),
                x.ticker,
                "bid",
                x.yes_ask or Price(5000),
                Count(100),
                "immediate_or_cancel",
            )
            for i, x in enumerate(m)
        )
        for it in (first, second):  # journaled, sent, answer lost, and not found when we looked
            journal.record_intent(it, strategy="test")
            journal.set_intent_status(it.client_order_id, IntentStatus.UNKNOWN)
        reconcile(journal, broker, starting_balance=BALANCE)
        assert all(journal.intent(i.client_order_id).status == "never_sent" for i in (first, second))
        for it in (first, second):  # … then both arrive after all
            assert fault_sim.http.post("portfolio/events/orders", json=order_request(it)).status_code == 201
        rep = reconcile(journal, broker, starting_balance=BALANCE)
        assert {r["client_order_id"] for r in rep.resolved if r.get("late")} == {
            first.client_order_id,
            second.client_order_id,
        }
        assert journal.intent(first.client_order_id).status == "acked"
        # the other way round: resent under the same id before reconciliation saw it arrive
        third = OrderIntent(
            client_order_id("late-2", 0, m[0].ticker),
            m[0].ticker,
            "bid",
            m[0].yes_ask or Price(5000),
            Count(100),
            "immediate_or_cancel",
        )
        journal.record_intent(third, strategy="test")
        journal.set_intent_status(third.client_order_id, IntentStatus.UNKNOWN)
        reconcile(journal, broker, starting_balance=BALANCE)
        assert fault_sim.http.post("portfolio/events/orders", json=order_request(third)).status_code == 201
        out, filled = _executor(fault_sim, broker, journal).resend(
            third.client_order_id, book_of(fault_sim, m[0].ticker)
        )
        order = [o for o in out if type(o).__name__ == "Order"][0]
        assert "409" in order.reason and order.order_id  # recognised as arrived, never as a failure
        assert journal.intent(third.client_order_id).status == "acked"
        coids = [o.client_order_id for o in engine_truth(fault_sim)[0]]
        assert coids.count(third.client_order_id) == 1
        assert not reconcile(journal, broker, starting_balance=BALANCE).duplicates
        # and when that resend is refused (429) although the first send had arrived: adopted too
        fourth = replace(
            third,
            client_order_id=client_order_id("late-3", 0, m[1].ticker),
            ticker=m[1].ticker,
            price=m[1].yes_ask or Price(5000),
        )
        journal.record_intent(fourth, strategy="test")
        journal.set_intent_status(fourth.client_order_id, IntentStatus.UNKNOWN)
        reconcile(journal, broker, starting_balance=BALANCE)
        assert fault_sim.http.post("portfolio/events/orders", json=order_request(fourth)).status_code == 201
        book = book_of(fault_sim, m[1].ticker)
        fault_sim.faults(rate_limit_storm=1.0)  # (the status read is answered before the storm: TradingActive)
        out, _ = _executor(fault_sim, TradingActive(broker), journal).resend(fourth.client_order_id, book)
        fault_sim.faults(rate_limit_storm=0.0)
        assert journal.intent(fourth.client_order_id).status == "rejected"
        rep = reconcile(journal, broker, starting_balance=BALANCE)
        assert [r["client_order_id"] for r in rep.resolved if r.get("late")] == [fourth.client_order_id]
        assert journal.intent(fourth.client_order_id).status == "acked"
    finally:
        broker.close()
        journal.close()


class TradingActive(Wrapped):
    def trading_active(self) -> bool:
        return True


class ListsTwice(Wrapped):
    """An exchange listing that shows one client_order_id on two orders (which must never happen)."""

    def orders(self, **kw: Any) -> list[ExchangeOrder]:
        listed: list[ExchangeOrder] = self.inner.orders(**kw)
        return listed + [replace(listed[0], order_id=listed[0].order_id + "-again")] if listed else listed


def test_a_duplicate_order_on_the_exchange_is_reported(fault_sim: Sim, tmp_path: Path) -> None:
    broker = demo_broker(fault_sim)
    journal = demo_journal(tmp_path / "journal-demo.sqlite", broker)
    try:
        m = active_tickers(fault_sim, limit=1)[0]
        it = OrderIntent(
            client_order_id("dup", 0, m.ticker),
            m.ticker,
            "bid",
            Price(100),
            Count(100),
            "good_till_canceled",
            "maker",
            post_only=True,
        )
        out, _ = _executor(fault_sim, broker, journal).send(
            it, _leg(it), m, reference=Price(100), strategy="test", ref="dup"
        )
        rep = reconcile(journal, ListsTwice(broker), starting_balance=BALANCE)
        assert rep.duplicates == [it.client_order_id]
        assert journal.events("reconcile", limit=1)[0]["detail"]["duplicates"] == [it.client_order_id]
        assert compute_metrics(journal, load_portfolio(journal, Money(BALANCE)), P)["reconcile"]["duplicates"] == 1
    finally:
        broker.close()
        journal.close()


def _leg(it: OrderIntent) -> Any:
    from kalashi_cli.domain import Leg

    return Leg(it.ticker, "yes", "buy" if it.side == "bid" else "sell", it.price, it.count)
