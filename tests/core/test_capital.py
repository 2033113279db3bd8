"""Issue 14 §3–§5: own orders are not the market; capital goes to the best trades first (riskless first,
then profit per dollar of capital); Kalshi's collateral netting on mutually exclusive events; a basket
is checked per order after fee rounding; records keep their own time."""

from __future__ import annotations

import json
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import msgspec
import pytest

from kalashi_cli.domain import Candidate, ExchangeOrder, Leg, Opportunity, OrderIntent, OrderStatus
from kalashi_cli.errors import OrderRejected
from kalashi_cli.journal import Journal
from kalashi_cli.ledger import netting_credit
from kalashi_cli.loop import TradingLoop
from kalashi_cli.money import ONE_DOLLAR, Count, Money, Price, TickBand, parse_price
from kalashi_cli.ports import SourceEvents
from kalashi_cli.profile import load_profile, money
from kalashi_cli.sim.matching import MatchingEngine
from kalashi_cli.sim.paper import PaperBroker, paper_exchange_path
from kalashi_cli.stages.analyze import Analyzer
from kalashi_cli.stages.correlate import Correlator, rank_key
from kalashi_cli.stages.order import OrderExecutor
from kalashi_cli.stages.own_orders import crosses_own, own_books, without_own_orders
from kalashi_cli.stages.portfolio import load_portfolio
from kalashi_cli.stages.risk import RiskGate, TradingState

from .factories import FakeSource, lv, market, strike

P = load_profile("default")
#: caps out of the way, so that cash is what binds
ROOMY = msgspec.structs.replace(
    P,
    risk=msgspec.structs.replace(P.risk, max_daily_cost=Decimal(1000), max_order_cost=Decimal(100)),
    analyze=msgspec.structs.replace(
        P.analyze, spread=msgspec.structs.replace(P.analyze.spread, quote_size=Decimal(10))
    ),
)


def resting(ticker: str, side: str, price: str, count: int, coid: str = "mine") -> ExchangeOrder:
    return ExchangeOrder(f"o-{coid}", coid, ticker, side, parse_price(price), "resting", count, 0, count)  # type: ignore[arg-type]


# -- own orders are not the market ----------------------------------------------------------------------


def test_own_orders_come_out_of_the_book_and_what_lies_behind_them_is_out_of_reach() -> None:
    m = market("A", yes=lv(("0.05", "10"), ("0.03", "20"), ("0.02", "30")), no=lv(("0.90", "40")))
    ours = [resting("A", "bid", "0.03", 500)]  # our 5 YES at 0.03 are part of the exchange's book
    seen = without_own_orders(m, ours, included=True)
    assert seen.yes_bids == ((parse_price("0.05"), 1000),), "our size comes off, and nothing at or below our bid"
    assert without_own_orders(m, ours, included=True, reach=False).yes_bids == lv(
        ("0.05", "10"), ("0.03", "15"), ("0.02", "30")
    )
    assert without_own_orders(m, ours, included=False).yes_bids == lv(("0.05", "10"))
    assert without_own_orders(m, [], included=True) is m
    assert (
        crosses_own(OrderIntent("x", "A", "ask", parse_price("0.03"), Count(100)), ours) is not None
    )  # sells into our bid
    assert crosses_own(OrderIntent("x", "A", "ask", parse_price("0.04"), Count(100)), ours) is None
    assert crosses_own(OrderIntent("x", "A", "bid", parse_price("0.50"), Count(100)), ours) is None  # same side


def own_quote_world() -> tuple[list, list]:
    """An exclusive pair whose NO basket 'pays' only because of our own 2c YES bid on A (NO offered at 98c)."""
    a = market("OQ-A", event="OQ", yes=lv(("0.02", "10")), no=lv(("0.90", "50")), mutually_exclusive=True)
    b = market("OQ-B", event="OQ", yes=lv(("0.995", "50")), no=lv(("0.002", "50")), mutually_exclusive=True)
    return [a, b], [resting("OQ-A", "bid", "0.02", 1000)]


def test_a_book_containing_our_own_quote_yields_no_leg_against_it() -> None:
    markets, ours = own_quote_world()
    raw = list(Analyzer(P).analyze(markets, as_of_ms=1, src="t"))
    assert any(leg.ticker == "OQ-A" and leg.outcome == "no" for o in raw for leg in o.legs), (
        "without taking our quote out, the basket trades against it"
    )
    for included in (True, False):
        clean = list(Analyzer(P).analyze(own_books(markets, ours, included=included), as_of_ms=1, src="t"))
        assert not any(leg.ticker == "OQ-A" and leg.outcome == "no" for o in clean for leg in o.legs)


def test_the_loop_never_trades_against_its_own_quote_and_order_refuses_a_leg_that_would(tmp_path: Path) -> None:
    markets, _ = own_quote_world()
    src = FakeSource(markets)
    j = Journal(tmp_path / "journal-paper.sqlite")
    broker = PaperBroker(src, paper_exchange_path(j.path), starting_balance=money(P.paper.starting_balance))
    broker.books_include_own_orders = True  # as on Kalshi: the source shows our quote
    broker.on_market_data(markets, SourceEvents(now_ms=src.now_ms()))
    quote = OrderIntent(
        "our-quote", "OQ-A", "bid", parse_price("0.02"), Count(1000), time_in_force="good_till_canceled", post_only=True
    )
    j.record_intent(quote, strategy="spread", opportunity_id="op-q")
    j.record_ack("our-quote", broker.submit(quote).order_id, broker.orders(status=OrderStatus.RESTING)[0], [])
    res = TradingLoop(P, src, broker, j).run_iteration()
    legs = [leg for r in res.records if r["kind"] == "opportunity" for leg in r["legs"]]
    assert not any(leg["ticker"] == "OQ-A" and leg["outcome"] == "no" for leg in legs)
    assert not any(r["kind"] == "order" and r["ticker"] == "OQ-A" for r in res.records)
    # a candidate built elsewhere (a pipe, an agent) that would sell into our own bid is refused
    o = Opportunity(
        id="op-self",
        strategy="value",
        event_ticker="OQ",
        legs=(Leg("OQ-A", "yes", "buy", Price(200), Count(500)),),
        edge=Money(1),
        edge_pct=Decimal(0),
        fees=Money(0),
        confidence=Decimal(1),
        liquidity=Decimal(1),
        score=Decimal(0),
        reason="t",
        cost=Money(2_000),
        maker=True,
    )
    j.upsert_order(resting("OQ-B", "ask", "0.019", 100, coid="our-ask"))  # we offer YES on B at 1.9c
    o = replace(
        o, legs=(Leg("OQ-B", "yes", "buy", Price(200), Count(500)),)
    )  # a quote to buy YES on B at 2c crosses it
    gate = RiskGate(P, j, load_portfolio(j, money(P.paper.starting_balance)), TradingState.ACTIVE)
    out = list(
        OrderExecutor(P, broker, j, gate, src.books).execute(
            Candidate(o, "g", Money(0), Count(500), Decimal(0), Money(0))
        )
    )
    assert [(d.rule, d.ticker) for d in out] == [("own-order", "OQ-B")], out
    broker.close()
    j.close()


# -- capital goes to the best trades first ----------------------------------------------------------------


def exclusive_pair() -> list:
    """An exclusive pair with a NO basket that pays $0.93 + fees for a guaranteed $1."""
    a1 = market("AR-1", event="AR", yes=lv(("0.62", "50")), no=lv(("0.36", "50")), mutually_exclusive=True)
    a2 = market("AR-2", event="AR", yes=lv(("0.45", "50")), no=lv(("0.53", "50")), mutually_exclusive=True)
    return [a1, a2]


def ranking_world() -> list:
    """A wide spread listed first (its quote would come first in stream order), then an inverted strike
    ladder: YES "above 100" at 56c and NO "above 110" at 38c pay at least $1 wherever the value lands."""
    s = market("SP-1", event="SP", yes=lv(("0.30", "100")), no=lv(("0.50", "100")))
    lo = strike("AR-1", "100", lv(("0.55", "50")), lv(("0.44", "50")), event="AR")
    hi = strike("AR-2", "110", lv(("0.62", "50")), lv(("0.36", "50")), event="AR")
    z = market("ZZ-1", event="ZZ", yes=lv(("0.40", "10")), no=lv(("0.40", "10")))  # where our cash is tied up
    return [s, lo, hi, z]


def test_with_too_little_cash_the_arbitrage_is_funded_before_the_spread(tmp_path: Path) -> None:
    markets = ranking_world()
    src = FakeSource(markets)
    j = Journal(tmp_path / "journal-paper.sqlite")
    broker = PaperBroker(src, paper_exchange_path(j.path), starting_balance=money(ROOMY.paper.starting_balance))
    broker.on_market_data(markets, SourceEvents(now_ms=src.now_ms()))
    hold = OrderIntent(
        "hold", "ZZ-1", "bid", parse_price("0.50"), Count(17_000), time_in_force="good_till_canceled", post_only=True
    )  # $88.40 of the $100 held by a resting order: $11.60 is free, which
    # funds the ladder (10 baskets, $9.75) or the quote ($3.20) first, not both
    j.record_intent(hold, strategy="manual", opportunity_id="op-hold")  # not a quote the market maker manages
    j.record_ack("hold", broker.submit(hold).order_id, broker.orders(status=OrderStatus.RESTING)[0], [])
    res = TradingLoop(ROOMY, src, broker, j).run_iteration()
    kinds = [(r["kind"], r.get("strategy")) for r in res.records if r["kind"] in ("candidate", "order", "denied")]
    cands = [r for r in res.records if r["kind"] == "candidate"]
    assert [c["strategy"] for c in cands][:1] == ["arbitrage"], "riskless first"
    assert {c["strategy"] for c in cands} >= {"arbitrage", "spread"}, kinds
    orders = [r for r in res.records if r["kind"] == "order"]
    assert {o["ticker"] for o in orders} == {"AR-1", "AR-2"}, kinds
    assert all(o["status"] == "executed" for o in orders)
    spread_denials = [r for r in res.records if r["kind"] == "denied" and r["strategy"] == "spread"]
    assert spread_denials and spread_denials[0]["rule"] == "balance"
    broker.close()
    j.close()


def test_rank_key_puts_riskless_first_then_profit_per_dollar_of_capital() -> None:
    def o(strategy: str, edge: int, cost: int, collateral: int = 0, oid: str = "x") -> Opportunity:
        return Opportunity(
            id=oid,
            strategy=strategy,  # type: ignore[arg-type]
            event_ticker="E",
            legs=(),
            edge=edge,  # type: ignore[arg-type]
            edge_pct=Decimal(0),
            fees=Money(0),
            confidence=Decimal(1),
            liquidity=Decimal(1),
            score=Decimal(1),
            reason="",
            cost=Money(cost),
            collateral=Money(collateral),
        )

    ranked = sorted(
        [
            o("spread", 90_000, 300_000, oid="s"),
            o("arbitrage", 5_000, 990_000, oid="a"),
            o("arbitrage", 5_000, 990_000, collateral=500_000, oid="n"),
            o("value", 60_000, 600_000, oid="v"),
        ],
        key=rank_key,
    )
    assert [x.id for x in ranked] == ["n", "a", "s", "v"]


def test_a_hedged_basket_counts_its_worst_case_not_its_legs_toward_event_and_group_caps(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j.sqlite")
    markets = exclusive_pair()
    (opp,) = [x for x in Analyzer(P).analyze(markets, as_of_ms=1, src="t") if x.strategy == "arbitrage"]
    assert opp.worst_case < 0 and opp.collateral < opp.cost
    pf = load_portfolio(j, money(P.paper.starting_balance))
    (cand,) = Correlator(P, pf).correlate([opp])
    assert isinstance(cand, Candidate)
    assert pf.exposure_by_event["AR"] == 0 and sum(pf.exposure_by_group.values()) == 0, "riskless: no exposure"
    assert pf.exposure_by_ticker["AR-1"] == parse_price("0.38") * cand.size  # each market carries its leg
    j.close()


# -- collateral netting (Kalshi's MECNET) ---------------------------------------------------------------


def test_netting_credit_is_what_an_exclusive_event_is_sure_to_pay() -> None:
    ev = {"A": "E", "B": "E", "C": "E"}
    one = 100 * ONE_DOLLAR  # $1: one contract (100 count units) paying $1
    no, yes = Count(-100), Count(100)
    assert netting_credit({"A": no, "B": no, "C": no}, ev) == 2 * one  # NO on all 3: 2 of them pay
    assert netting_credit({"A": no}, ev) == 0
    assert netting_credit({"A": no, "B": no, "C": yes}, ev) == one  # A or B winning pays only the other NO
    assert netting_credit({"A": no, "B": no}, {}) == 0  # not an exclusive event: nothing nets


@pytest.mark.parametrize("exclusive", [True, False])
def test_the_matching_engine_charges_a_no_basket_what_kalshi_would(exclusive: bool) -> None:
    """$1 of cash buys one NO on each of three exclusive outcomes at 70c ($2.10): two of them are sure to pay."""
    eng = MatchingEngine(now_ms=1)
    eng.open_account("u", Money(ONE_DOLLAR * 100))
    for t in ("E-A", "E-B", "E-C"):
        eng.apply_market(
            market(t, event="E", yes=lv(("0.30", "10")), no=lv(("0.60", "10")), mutually_exclusive=exclusive)
        )
    results: list[Count | str | None] = []
    for i, t in enumerate(("E-A", "E-B", "E-C")):
        try:
            ack = eng.submit(
                "u", OrderIntent(f"n{i}", t, "ask", parse_price("0.30"), Count(100), time_in_force="fill_or_kill")
            )
            results.append(ack.fill_count)
        except OrderRejected as e:
            results.append(e.code)
    eng.audit()
    if not exclusive:
        assert results == [100, "available_balance_too_low", "available_balance_too_low"]
        return
    assert results == [100, 100, 100]
    fees = sum(f.fee for f in eng.fills("u"))
    assert eng.cash("u") == ONE_DOLLAR * 100 - 3 * 7000 * 100 - fees  # below zero: the netting credit covers it
    assert eng.balance("u").balance == eng.cash("u") + 2 * ONE_DOLLAR * 100
    eng.settle("E-B", "yes")
    eng.settle("E-A", "no")
    eng.settle("E-C", "no")
    assert eng.balance("u").balance == eng.cash("u") == ONE_DOLLAR * 100 - 3 * 7000 * 100 - fees + 2 * ONE_DOLLAR * 100
    eng.audit()


# -- per-order fee rounding ---------------------------------------------------------------------------------


def test_a_basket_of_one_contract_is_refused_when_per_order_fee_rounding_eats_its_edge(tmp_path: Path) -> None:
    # 12 exclusive outcomes, NO offered at 91.05c: a hundred contracts earn $0.00554 a basket after fees
    # (over the $0.005 minimum); one contract per order pays each leg's fee rounded up to $0.0001 — $0.0044
    legs = [
        market(
            f"TW-{i}",
            event="TW",
            yes=lv(("0.0895", "100")),
            no=lv(("0.90", "100")),
            mutually_exclusive=True,
            grid=(TickBand(Price(0), ONE_DOLLAR, Price(5)),),
        )
        for i in range(12)
    ]
    found = [o for o in Analyzer(P).analyze(legs, as_of_ms=1, src="t") if o.strategy == "arbitrage"]
    src = FakeSource(legs)
    j = Journal(tmp_path / "journal-paper.sqlite")
    broker = PaperBroker(src, paper_exchange_path(j.path), starting_balance=money(ROOMY.paper.starting_balance))
    gate = RiskGate(ROOMY, j, load_portfolio(j, money(P.paper.starting_balance)), TradingState.ACTIVE)
    ex = OrderExecutor(ROOMY, broker, j, gate, src.books)
    o = found[0] if found else None
    assert o is not None and len(o.legs) == 12
    required = o.edge  # what it earns per basket at the size analyze walked
    small = list(ex.execute(Candidate(o, "g", required, Count(100), Decimal(0), Money(0))))
    assert [d.rule for d in small] == ["edge-gone"] and "rounded up" in small[0].reason
    assert not broker.orders()
    broker.close()
    j.close()


# -- records keep their own time -----------------------------------------------------------------------------


def test_each_opportunity_keeps_the_time_and_source_of_its_own_capture(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from kalashi_cli.cli.app import app
    from kalashi_cli.records import market_record

    m = market("VT-1", event="VT", yes=lv(("0.30", "100")), no=lv(("0.50", "100")))
    lines = []
    for ts, src in (
        ("2026-01-01T00:00:00Z", "cap-1"),
        ("2026-01-01T00:00:10Z", "cap-2"),
        ("2026-01-01T00:00:10Z", "cap-2"),
    ):
        rec = market_record(m)
        rec.update(ts=ts, src=src)
        lines.append(json.dumps(rec))
    moved = market_record(replace(m, yes_bids=lv(("0.29", "100"))))
    moved.update(ts="2026-01-01T00:00:10Z", src="cap-3")
    lines.append(json.dumps(moved))
    res = CliRunner().invoke(app, ["analyze", "--format", "jsonl"], input="\n".join(lines) + "\n")
    assert res.exit_code == 0, res.stderr
    opps = [json.loads(x) for x in res.stdout.splitlines() if '"opportunity"' in x]
    opps = [o for o in opps if o["legs"][0]["outcome"] == "yes"]  # the market maker's YES bids (a NO bid too)
    assert [(o["as_of_ms"], o["src"]) for o in opps] == [
        (1_767_225_600_000, "cap-1"),
        (1_767_225_610_000, "cap-2"),
        (1_767_225_610_000, "cap-2"),
        (1_767_225_610_000, "cap-3"),
    ]
    ids = [o["id"] for o in opps]
    assert ids[1] == ids[2], "the same trade on the same books: the same id"
    assert len({ids[0], ids[1], ids[3]}) == 3, "other books, other ids"


# -- no new positions just before a close ----------------------------------------------------------------


def test_no_strategy_opens_within_its_stop_before_the_close_and_quotes_expire_before_it(tmp_path: Path) -> None:
    now = 1_767_268_800_000
    wide = market("CL-1", event="CL", yes=lv(("0.30", "100")), no=lv(("0.50", "100")), forecast_p=parse_price("0.80"))

    def closing_in(seconds: int):  # noqa: ANN202
        return replace(wide, close_ts_ms=now + seconds * 1000)

    strategies = {o.strategy for o in Analyzer(P).analyze([closing_in(3600)], as_of_ms=now, src="t")}
    assert strategies == {"spread", "value"}
    assert {o.strategy for o in Analyzer(P).analyze([closing_in(400)], as_of_ms=now, src="t")} == {"value"}, (
        "spread stops 600 s before the close, value 300 s"
    )
    assert not list(Analyzer(P).analyze([closing_in(200)], as_of_ms=now, src="t"))
    # a quote placed an hour before the close expires 600 s before it, not 600 s after it is placed
    src = FakeSource([closing_in(900)], now_ms=now)
    j = Journal(tmp_path / "journal-paper.sqlite")
    broker = PaperBroker(src, paper_exchange_path(j.path), starting_balance=money(P.paper.starting_balance))
    (quote,) = [
        o
        for o in Analyzer(P).analyze([closing_in(900)], as_of_ms=now, src="t")
        if o.strategy == "spread" and o.legs[0].outcome == "yes"
    ]
    gate = RiskGate(P, j, load_portfolio(j, money(P.paper.starting_balance)), TradingState.ACTIVE)
    ex = OrderExecutor(P, broker, j, gate, src.books, now_ms=src.now_ms)
    out = list(ex.execute(Candidate(quote, "g", Money(0), Count(100), Decimal(0), Money(0))))
    assert [type(x).__name__ for x in out] == ["Order"]
    (intent,) = j.intents()
    assert j.intent(intent.client_order_id) is not None
    assert len(broker.orders(status=OrderStatus.RESTING)) == 1
    src._now = now + 301_000  # past close − 600 s
    broker.on_market_data([closing_in(900)], SourceEvents(now_ms=src._now))
    assert not broker.orders(status=OrderStatus.RESTING), "the quote expired before the last 600 s"
    late = list(
        OrderExecutor(P, broker, j, gate, src.books, now_ms=src.now_ms).execute(
            Candidate(replace(quote, id="op-late"), "g", Money(0), Count(100), Decimal(0), Money(0))
        )
    )
    assert [d.rule for d in late] == ["closing"]
    broker.close()
    j.close()


def test_a_riskless_trade_takes_back_the_cash_our_older_quotes_hold(tmp_path: Path) -> None:
    """Cash sitting in quotes from earlier iterations is the lowest-ranked use of capital: an arbitrage
    that needs it cancels them (oldest first) and trades; the next iteration quotes again."""
    markets = ranking_world()
    src = FakeSource(markets)
    j = Journal(tmp_path / "journal-paper.sqlite")
    broker = PaperBroker(src, paper_exchange_path(j.path), starting_balance=money(ROOMY.paper.starting_balance))
    broker.on_market_data(markets, SourceEvents(now_ms=src.now_ms()))
    hold = OrderIntent(
        "hold", "ZZ-1", "bid", parse_price("0.50"), Count(19_000), time_in_force="good_till_canceled", post_only=True
    )  # $98.80 held: nothing is free
    j.record_intent(hold, strategy="spread", opportunity_id="op-hold")
    j.record_ack("hold", broker.submit(hold).order_id, broker.orders(status=OrderStatus.RESTING)[0], [])
    res = TradingLoop(ROOMY, src, broker, j).run_iteration()
    orders = [r for r in res.records if r["kind"] == "order"]
    assert {o["ticker"] for o in orders if o["strategy"] == "arbitrage"} == {"AR-1", "AR-2"}
    assert all(o["status"] == "executed" for o in orders if o["strategy"] == "arbitrage")
    assert not [o for o in broker.orders(status=OrderStatus.RESTING) if o.client_order_id == "hold"], (
        "the old quote went"
    )
    (ev,) = j.events("reclaim")
    assert ev["detail"]["cancelled"] == 1
    broker.close()
    j.close()
