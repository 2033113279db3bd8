"""The loop on hand-made markets: paper fills, journal = paper exchange, no duplicate orders."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import msgspec

from kalashi_cli.domain import Candidate, OrderStatus
from kalashi_cli.journal import IntentStatus, Journal
from kalashi_cli.loop import TradingLoop
from kalashi_cli.money import Count, parse_price
from kalashi_cli.profile import load_profile, money
from kalashi_cli.sim.paper import PaperBroker, paper_exchange_path
from kalashi_cli.stages.analyze import Analyzer
from kalashi_cli.stages.correlate import Correlator
from kalashi_cli.stages.order import OrderExecutor
from kalashi_cli.stages.portfolio import load_portfolio
from kalashi_cli.stages.risk import RiskGate, TradingState

from .factories import FakeSource, lv, market

P = load_profile("default")


def world(tmp_path: Path) -> tuple[FakeSource, Journal, PaperBroker]:
    # YES offered at 0.40 while the (sim) forecast says 0.55: a value trade
    m = market(
        "W-1", event="W", yes=lv(("0.38", "60")), no=lv(("0.60", "25"), ("0.59", "40")), forecast_p=parse_price("0.55")
    )
    src = FakeSource([m])
    j = Journal(tmp_path / "journal-paper.sqlite")
    broker = PaperBroker(src, paper_exchange_path(j.path), starting_balance=money(P.paper.starting_balance))
    return src, j, broker


def test_one_iteration_trades_and_journal_matches_the_paper_exchange(tmp_path: Path) -> None:
    src, j, broker = world(tmp_path)
    seen: list[dict] = []
    loop = TradingLoop(P, src, broker, j, sink=seen.append)
    res = loop.run_iteration()
    kinds = [r["kind"] for r in res.records]
    assert "opportunity" in kinds and "candidate" in kinds and "order" in kinds and "fill" in kinds
    order = next(r for r in res.records if r["kind"] == "order")
    assert order["mode"] == "paper" and order["status"] in ("executed", "canceled")
    assert order["outcome"] == "yes" and order["action"] == "buy"
    assert [f.fill_id for f in j.fills()] == [f.fill_id for f in broker.fills()]
    # balance is a fold over fills: start − cost − fees
    cost = sum(f.price * f.count + f.fee for f in broker.fills())
    assert broker.balance().balance == money(P.paper.starting_balance) - cost
    assert res.record["kind"] == "iteration" and res.record["orders"] >= 1


def test_replaying_the_same_candidates_never_sends_twice(tmp_path: Path) -> None:
    src, j, broker = world(tmp_path)
    markets = list(src.list_markets())
    opps = list(Analyzer(P).analyze(markets, as_of_ms=src.now_ms(), src=src.describe()))
    cands = [
        c
        for c in Correlator(P, load_portfolio(j, money(P.paper.starting_balance))).correlate(opps)
        if isinstance(c, Candidate)
    ]
    assert cands

    def run_once() -> list:
        pf = load_portfolio(j, money(P.paper.starting_balance))
        ex = OrderExecutor(P, broker, j, RiskGate(P, j, pf, TradingState.ACTIVE), src.books)
        return list(ex.execute_all(cands))

    first = run_once()
    second = run_once()
    assert any(type(x).__name__ == "Order" for x in first)
    assert all(type(x).__name__ == "Denied" and x.rule == "duplicate" for x in second)
    assert len(broker.orders()) == len([x for x in first if type(x).__name__ == "Order"])


def test_resting_maker_order_fills_only_when_the_market_trades_through(tmp_path: Path) -> None:
    from kalashi_cli.domain import OrderIntent, Trade
    from kalashi_cli.ports import SourceEvents

    src, j, broker = world(tmp_path)
    it = OrderIntent(
        "mk-1", "W-1", "bid", parse_price("0.39"), Count(1000), time_in_force="good_till_canceled", post_only=True
    )
    ack = broker.submit(it)
    assert ack.status == "resting" and ack.fill_count == 0
    # a trade at 0.39 smaller than nothing ahead of us (queue empty at 0.39) fills us
    broker.on_market_data(
        list(src.list_markets()), SourceEvents(trades=(Trade("t1", "W-1", parse_price("0.40"), Count(500), "ask", 1),))
    )
    assert broker.fills() == []  # traded above our bid: not through us
    fills = broker.on_market_data(
        list(src.list_markets()), SourceEvents(trades=(Trade("t2", "W-1", parse_price("0.39"), Count(600), "ask", 2),))
    )
    assert sum(f.count for f in fills) == 600 and not fills[0].is_taker
    (o,) = broker.orders(status=OrderStatus.RESTING)
    assert o.remaining_count == 400


def test_the_gate_passes_nothing_the_paper_exchange_refuses_for_balance(tmp_path: Path) -> None:
    """20 iterations on the sim quote and take until cash runs short: every refusal is the gate's, none the exchange's."""
    from kalashi_cli.context import open_broker, open_source

    # cash runs short sooner on $25 than on the default $100 now that the sim's arbitrage is rare and
    # thin; every drawn arbitrage stands (the sim's test knob), so baskets are among what the gate sees
    p = msgspec.structs.replace(P, paper=msgspec.structs.replace(P.paper, starting_balance=Decimal("25")))
    src = open_source("sim:seed=0,markets=2000,arbitrage=100")
    j = Journal(tmp_path / "journal-paper.sqlite")
    # quotes of 10 contracts (the default is 5), so that resting quotes run cash short within 20 iterations,
    # with neither the daily cap nor the group and event caps in the way: cash is what binds
    big = msgspec.structs.replace(
        p,
        analyze=msgspec.structs.replace(
            P.analyze, spread=msgspec.structs.replace(P.analyze.spread, quote_size=Decimal(10))
        ),
        risk=msgspec.structs.replace(P.risk, max_daily_cost=Decimal(1000)),
        correlate=msgspec.structs.replace(
            P.correlate, max_group_pct=Decimal(1), max_event_pct=Decimal(1), max_position_pct=Decimal("0.5")
        ),
    )
    broker = open_broker("paper", src, j, big)
    denied: list[dict] = []
    try:
        TradingLoop(big, src, broker, j, sink=lambda r: denied.append(r) if r.get("kind") == "denied" else None).run(
            iterations=20, interval=0
        )
        rejected = [i for i in j.intents(status=IntentStatus.REJECTED) if "balance" in (i.detail or "")]
        assert rejected == [], f"{len(rejected)} orders passed the gate and were refused for balance"
        quotes = [i for i in j.intents() if i.strategy == "spread" and i.status == "acked"]
        assert len(quotes) > 10, "quotes rest and hold cash, so the case is exercised"
        assert any(d["rule"] == "balance" for d in denied), "the gate itself refused for balance"
    finally:
        broker.close()
        src.close()
        j.close()
