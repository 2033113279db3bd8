"""Issue 14 §1: one valuation rule; a close is never a loss event; marks survive a restart."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Literal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kalashi_cli.domain import OrderIntent, Settlement
from kalashi_cli.journal import Journal, MarkRow
from kalashi_cli.ledger import PositionState, fold
from kalashi_cli.loop import TradingLoop
from kalashi_cli.money import ONE_DOLLAR, Count, Money, Price, parse_price
from kalashi_cli.ports import SourceEvents
from kalashi_cli.profile import load_profile, money
from kalashi_cli.sim.paper import PaperBroker, paper_exchange_path
from kalashi_cli.stages.portfolio import load_portfolio
from kalashi_cli.stages.risk import TradingState, evaluate_state
from kalashi_cli.stages.valuation import Basis, mark_of, value_position

from .factories import FakeSource, lv, market

P = load_profile("default")
START = money(P.paper.starting_balance)


class ScriptedSource(FakeSource):
    """A FakeSource whose next advance() can report settlements."""

    def __init__(self, markets: list, now_ms: int = 1_767_268_800_000) -> None:
        super().__init__(markets, now_ms)
        self.pending: tuple[Settlement, ...] = ()

    def advance(self) -> SourceEvents:
        self.step += 1
        self._now += 10_000
        out, self.pending = self.pending, ()
        return SourceEvents(settlements=out, step=self.step, now_ms=self._now)


def pos(ticker: str, position: int, cost: int) -> PositionState:
    return PositionState(ticker, position=Count(position), cost=Money(cost))


# -- the rule, case by case ---------------------------------------------------------------------------


def test_open_book_is_marked_at_bid_plus_half_the_spread_capped_never_below_the_bid() -> None:
    tight = market("A", yes=lv(("0.50", "10")), no=lv(("0.48", "10")))  # YES 0.50 / 0.52
    v = value_position(pos("A", 1000, 5_000_000), tight, None, 1)
    assert v.basis is Basis.BOOK and v.value == 10 * 510_000  # the mid, 0.51
    no = value_position(pos("A", -1000, 5_000_000), tight, None, 1)
    assert no.value == 10 * 490_000  # NO: bid 0.48, mid 0.49
    wide = market("B", yes=lv(("0.10", "10")), no=lv(("0.10", "10")))  # YES 0.10 / 0.90
    w = value_position(pos("B", 1000, 1_000_000), wide, None, 1)
    assert w.value == 10 * 120_000, "a wide book counts only $0.04 of spread: bid + $0.02"
    assert w.value >= 10 * 100_000


def test_a_closed_or_empty_book_keeps_the_last_mark_and_a_known_result_replaces_it() -> None:
    last = MarkRow("A", 5, Price(9550), Price(9500), Price(9600))
    p = pos("A", 2400, 23_040_000)
    closed = market("A", status="closed")
    v = value_position(p, closed, last, 99)
    assert v.basis is Basis.LAST and v.value == 24 * 955_000 and v.as_of_ms == 5
    empty = market("A")  # active, but nobody quotes
    assert value_position(p, empty, last, 99).value == 24 * 955_000
    determined = replace(closed, status="determined", result="yes")
    r = value_position(p, determined, last, 99)
    assert r.basis is Basis.RESULT and r.value == 24 * ONE_DOLLAR * 100 and r.settled
    assert value_position(pos("A", -2400, 1), determined, last, 99).value == 0
    never = value_position(p, closed, None, 99)
    assert never.basis is Basis.COST and never.value == p.cost
    traded = value_position(p, replace(closed, last_price=parse_price("0.97")), None, 99)
    assert traded.basis is Basis.LAST and traded.value == 24 * 970_000


def test_a_one_sided_book_is_worth_its_bid_or_at_most_its_ask() -> None:
    last = MarkRow("A", 5, Price(5000), Price(4900), Price(5100))
    bids_only = market("A", yes=lv(("0.40", "5")))  # held YES sells for 0.40; nobody sells YES
    assert value_position(pos("A", 100, 1), bids_only, None, 1).value == 400_000
    assert value_position(pos("A", 100, 1), bids_only, last, 1).value == 420_000, "last mark, at most $0.02 above"
    asks_only = market("A", no=lv(("0.70", "5")))  # YES can be bought at 0.30, not sold
    assert value_position(pos("A", 100, 1), asks_only, last, 1).value == 300_000, "never more than the ask"


# -- a close is never a loss event --------------------------------------------------------------------


def test_24_yes_at_a_95_cent_bid_through_close_and_settlement_never_halts(tmp_path: Path) -> None:
    """The issue's run: 24 YES bid at $0.95, the market closes (its book empties), it settles YES later."""
    open_m = market("KXC-1", event="KXC", yes=lv(("0.95", "100")), no=lv(("0.04", "100")))  # YES 0.95 / 0.96
    src = ScriptedSource([open_m])
    j = Journal(tmp_path / "journal-paper.sqlite")
    broker = PaperBroker(src, paper_exchange_path(j.path), starting_balance=START)
    broker.on_market_data([open_m], SourceEvents(now_ms=src.now_ms()))
    ack = broker.submit(OrderIntent("buy-24", "KXC-1", "bid", parse_price("0.96"), Count(2400)))
    assert ack.fill_count == 2400
    j.add_fills(broker.fills())
    loop = TradingLoop(P, src, broker, j)
    states, equities = [], []

    def step() -> None:
        res = loop.run_iteration()
        states.append(res.state)
        equities.append(money_of(res.record["equity"]))

    step()
    step()  # open: marked at 0.955 (and the mark is journaled)
    src.markets["KXC-1"] = replace(open_m, status="closed", yes_bids=(), no_bids=())
    for _ in range(5):  # closed for a while: hours on Kalshi
        step()
    # a restart while the market is closed: the journal remembers the mark
    loop2 = TradingLoop(P, src, broker, j)
    assert loop2.portfolio().equity == equities[-1]
    src.markets["KXC-1"] = replace(open_m, status="finalized", yes_bids=(), no_bids=(), result="yes")
    src.pending = (Settlement("KXC-1", "KXC", "yes", src.now_ms() + 10_000, value=ONE_DOLLAR),)
    step()
    step()
    assert set(states) == {TradingState.ACTIVE}, states
    cash = START - 2400 * 9600 - broker.fills()[0].fee
    assert equities[1] == cash + 24 * 955_000
    assert equities[1:7] == [equities[1]] * 6, "the close moved equity"
    assert equities[-1] == cash + 24 * ONE_DOLLAR * 100 == equities[-2]
    p = loop.portfolio()
    state, why = evaluate_state(P, j, p)
    assert state is TradingState.ACTIVE, why
    broker.close()
    j.close()


def money_of(text: str) -> int:
    from kalashi_cli.money import parse_money

    return parse_money(text)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    count=st.integers(1, 5000),
    entry=st.integers(100, 9900),
    yes=st.booleans(),
    books=st.lists(st.tuples(st.integers(100, 9800), st.integers(1, 2000)), min_size=1, max_size=5),
    result=st.sampled_from(["yes", "no"]),
)
def test_close_determined_settled_moves_equity_only_by_its_true_change(
    tmp_path: Path, count: int, entry: int, yes: bool, books: list[tuple[int, int]], result: Literal["yes", "no"]
) -> None:
    """Property: open books → close (empty) → determined → settled. The close and the settlement move
    equity by nothing; determination moves it by exactly the result less the last mark."""
    import uuid

    from kalashi_cli.domain import BookSide, ExchangeFill

    j = Journal(tmp_path / f"j-{uuid.uuid4().hex}.sqlite")  # a fresh journal per example
    try:
        side: BookSide = "bid" if yes else "ask"
        j.add_fills([ExchangeFill("f1", "o1", "M", side, Price(entry), Count(count), Money(17), True, 1_000)])
        t = 2_000
        equity = []
        m = market("M")
        for bid, width in books:
            ask = min(9900, bid + width)
            m = market("M", yes=lv((f"{bid / 10_000:.4f}", "10")), no=lv((f"{(10_000 - ask) / 10_000:.4f}", "10")))
            mk = mark_of(m, t)
            assert mk is not None
            j.add_marks([mk])
            equity.append(load_portfolio(j, START, {"M": m}, now_ms=t).equity)
            t += 10_000
        before_close = equity[-1]
        closed = replace(m, status="closed", yes_bids=(), no_bids=())
        at_close = load_portfolio(j, START, {"M": closed}, now_ms=t).equity
        restarted = load_portfolio(j, START, {}, now_ms=t).equity  # nothing but the journal
        determined = replace(closed, status="determined", result=result)
        at_result = load_portfolio(j, START, {"M": determined}, now_ms=t).equity
        j.add_settlements([Settlement("M", "E", result, t + 1, value=ONE_DOLLAR if result == "yes" else Price(0))])
        settled = load_portfolio(j, START, {"M": determined}, now_ms=t + 2).equity
        assert at_close == before_close == restarted, "a close (or a restart while closed) is not a loss event"
        led = fold(START, j.fills(), [])
        won = (result == "yes") == yes
        true_change = (count * ONE_DOLLAR if won else 0) - (at_close - led.cash)
        assert at_result - at_close == true_change
        assert settled == at_result, "the settlement turns the known result into cash, nothing else"
    finally:
        j.close()


def test_a_hedged_no_basket_is_worth_at_least_what_it_is_sure_to_pay(tmp_path: Path) -> None:
    """NO on all 4 outcomes of an exclusive event pays $3 a basket whatever wins: thin single books never
    value it below that, and that $3 counts as settled equity, not marked."""
    from kalashi_cli.domain import ExchangeFill

    j = Journal(tmp_path / "j.sqlite")
    tickers = [f"ME-{i}" for i in range(4)]
    j.remember_markets([(t, "ME", "S", "", "", "g", True) for t in tickers])
    j.add_fills(
        [
            ExchangeFill(f"f{i}", f"o{i}", t, "ask", parse_price("0.25"), Count(1000), Money(0), True, 1)
            for i, t in enumerate(tickers)
        ]
    )  # NO at 75c each: $30 for 10 baskets paying $30
    thin = {
        t: market(t, event="ME", yes=lv(("0.50", "1")), no=lv(("0.05", "1")), mutually_exclusive=True) for t in tickers
    }  # each NO alone sells for 5c
    p = load_portfolio(j, START, thin, now_ms=2)
    assert p.valuation.total == 30_000_000, "floored at the guaranteed $30"
    assert p.equity_settled == p.cash + 30_000_000 and p.equity_marked == 0
    rich = {
        t: market(t, event="ME", yes=lv(("0.20", "1")), no=lv(("0.79", "1")), mutually_exclusive=True) for t in tickers
    }  # each NO marked at 79.5c: $31.80 in all, $1.80 of it on marks
    q = load_portfolio(j, START, rich, now_ms=2)
    assert q.valuation.total == 31_800_000 and q.equity_marked == 1_800_000
    j.close()
