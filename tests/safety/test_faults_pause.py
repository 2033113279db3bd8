"""A trading pause on the exchange: orders are refused cleanly — no unknown outcome, no crash — and trading resumes after.

The loop asks the exchange whether trading is active before it sends anything (the gate's
``exchange`` rule); an order that races the pause is refused by the exchange with
``market_inactive``, a definite answer the journal records as rejected, with nothing blocked.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import msgspec
from simx.conftest import Sim

from kalashi_cli.domain import Denied, Leg, OrderIntent
from kalashi_cli.journal import IntentStatus
from kalashi_cli.kalshi.env import custom_env
from kalashi_cli.kalshi.source import KalshiSource
from kalashi_cli.loop import TradingLoop
from kalashi_cli.money import Count, Money, Price
from kalashi_cli.profile import load_profile
from kalashi_cli.stages.order import OrderExecutor, client_order_id
from kalashi_cli.stages.portfolio import load_portfolio
from kalashi_cli.stages.risk import RiskGate, TradingState

from .conftest import BALANCE, Counts, active_tickers, book_of, demo_broker, demo_journal, engine_truth

P = load_profile("default")
# quotes never expire here, and resting quotes count against the daily cap: give it room so that
# the first iteration's quotes do not hold the whole day's budget when trading resumes
PROFILE = msgspec.structs.replace(
    P,
    execution=msgspec.structs.replace(P.execution, maker_expiry_seconds=0),
    risk=msgspec.structs.replace(P.risk, max_daily_cost=Decimal(500)),
)


def _kinds(records: list[dict[str, object]], kind: str) -> list[dict[str, object]]:
    return [r for r in records if r["kind"] == kind]


def test_a_trading_pause_refuses_orders_cleanly_and_trading_resumes_after(fault_sim: Sim, tmp_path: Path) -> None:
    counts = Counts("trading-pause")
    broker = demo_broker(fault_sim)
    journal = demo_journal(tmp_path / "journal-demo.sqlite", broker)
    source = KalshiSource(custom_env(fault_sim.url))
    loop = TradingLoop(PROFILE, source, broker, journal)
    try:
        first = loop.run_iteration()
        assert _kinds(first.records, "order"), "the loop placed nothing while trading was active"
        placed = len(engine_truth(fault_sim)[0])

        assert fault_sim.control.post("pause").json() == {"trading_active": False}
        for _ in range(3):
            fault_sim.step(1)
            res = loop.run_iteration()  # must not raise
            assert not _kinds(res.records, "order"), "an order went out during the pause"
            denied = _kinds(res.records, "denied")
            # quotes already resting stay (nothing to write while the book holds still); anything new is refused
            assert all(d["rule"] == "exchange" for d in denied), denied
            counts.add("refused_by_the_gate", sum(1 for d in denied if d["rule"] == "exchange"))
        assert len(engine_truth(fault_sim)[0]) == placed
        assert not journal.blocked_tickers() and not journal.intents(status=IntentStatus.UNKNOWN)

        # an order that raced the pause (passed the gate just before it): the exchange refuses it
        m = active_tickers(fault_sim, limit=1)[0]
        intent = OrderIntent(
            client_order_id("race", 0, m.ticker),
            m.ticker,
            "bid",
            m.yes_ask or Price(5000),
            Count(100),
            "immediate_or_cancel",
        )
        gate = RiskGate(PROFILE, journal, load_portfolio(journal, Money(BALANCE)), TradingState.ACTIVE)
        ex = OrderExecutor(PROFILE, broker, journal, gate, lambda ts: {t: book_of(fault_sim, t) for t in ts})
        out, filled = ex.send(
            intent,
            Leg(m.ticker, "yes", "buy", intent.price, Count(100)),
            m,
            reference=intent.price,
            strategy="test",
            ref="race",
        )
        order = out[0]
        assert not isinstance(order, Denied) and order.status == "rejected" and "market_inactive" in order.reason
        assert journal.intent(intent.client_order_id).status == "rejected"
        assert m.ticker not in journal.blocked_tickers() and filled == 0
        counts.add("refused_by_the_exchange")

        assert fault_sim.control.post("resume").json() == {"trading_active": True}
        resumed = 0
        for _ in range(10):
            fault_sim.step(1)
            res = loop.run_iteration()
            resumed += len([o for o in _kinds(res.records, "order") if o["status"] != "rejected"])
            if resumed:
                break
        assert resumed, "trading did not resume after the pause"
        counts.update(
            {"orders_after_resume": resumed, "unknown_outcomes": len(journal.intents(status=IntentStatus.UNKNOWN))}
        )
    finally:
        source.close()
        broker.close()
        journal.close()
    counts.write(command="pytest tests/safety/test_faults_pause.py")
