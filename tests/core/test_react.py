"""The reactive driver in-process, on hand-made books and the paper broker (no server, no threads).

A fake change feed hands the :class:`~kalashi_cli.react.Reactor` the batches a WebSocket feed
would; the source's books are edited between them as the exchange would move them.
"""

from __future__ import annotations

import threading
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import pytest

from kalashi_cli.domain import OrderIntent, OrderStatus
from kalashi_cli.journal import Journal
from kalashi_cli.loop import TradingLoop
from kalashi_cli.money import Count, Money, Price, parse_price
from kalashi_cli.profile import load_profile, money
from kalashi_cli.react import BookBatch, Reactor, percentile, signature
from kalashi_cli.sim.paper import PaperBroker, paper_exchange_path
from kalashi_cli.stages.risk import set_halted

from .factories import FakeSource, lv, market

P = load_profile("default")
# no maker quotes: only what a reaction would send is on the books
PROFILE = msgspec.structs.replace(
    P, analyze=msgspec.structs.replace(P.analyze, spread=msgspec.structs.replace(P.analyze.spread, enabled=False))
)


class FakeFeed:
    """Batches handed over by the test; ``None`` once the queue is empty (nothing before the next iteration)."""

    def __init__(self) -> None:
        self.batches: list[BookBatch] = []
        self.discarded = 0

    def next_batch(self, timeout: float) -> BookBatch | None:
        return self.batches.pop(0) if self.batches else None

    def discard(self) -> None:
        self.discarded += len(self.batches)
        self.batches.clear()


def pair(a_bid: str = "0.50", a_size: str = "10") -> list[Any]:
    """Two mutually exclusive outcomes whose best YES bids sum to $1 (no basket pays) unless A's is raised."""
    return [
        market(
            "EV-A",
            event="EV",
            yes=lv((a_bid, a_size), ("0.50", "10")),
            no=lv(("0.35", "10")),
            mutually_exclusive=True,
            category="Sports",
        ),
        market(
            "EV-B",
            event="EV",
            yes=lv(("0.50", "10")),
            no=lv(("0.35", "10")),
            mutually_exclusive=True,
            category="Sports",
        ),
        market("OTHER-X", event="OTHER", yes=lv(("0.40", "10")), no=lv(("0.50", "10"))),
    ]


@pytest.fixture
def world(tmp_path: Path) -> Any:
    src = FakeSource(pair())
    j = Journal(tmp_path / "journal-paper.sqlite")
    broker = PaperBroker(src, paper_exchange_path(j.path), starting_balance=money(P.paper.starting_balance))
    records: list[dict[str, Any]] = []
    loop = TradingLoop(PROFILE, src, broker, j, sink=records.append)
    feed = FakeFeed()
    reactor = Reactor(loop, feed)
    yield src, j, loop, reactor, feed, records
    broker.close()
    j.close()


def raise_a(src: FakeSource) -> None:
    """The market moves: a bid for 5 YES of EV-A at 0.59 — NO on both outcomes now pays after fees."""
    src.markets["EV-A"] = pair(a_bid="0.59", a_size="5")[0]


def test_a_reaction_trades_the_arbitrage_a_change_creates(world: Any) -> None:
    src, j, loop, reactor, _feed, records = world
    loop.run_iteration()
    assert not [r for r in records if r["kind"] == "order"]
    raise_a(src)
    assert reactor.react(BookBatch(("EV-A",))) == 2
    assert reactor.watched() == 3  # the markets the iteration scanned
    orders = [r for r in records if r["kind"] == "order"]
    assert [(o["ticker"], o["outcome"], o["strategy"]) for o in orders] == [
        ("EV-A", "no", "arbitrage"),
        ("EV-B", "no", "arbitrage"),
    ]
    assert all(j.intent(o["client_order_id"]) is not None for o in orders)  # journaled, as every order
    assert reactor.stats.reactions == 1 and reactor.stats.orders == 2
    # the journal keeps the reaction's records like an iteration's
    assert {r["kind"] for r in records if r["kind"] in ("opportunity", "candidate", "order", "fill")} == {
        "opportunity",
        "candidate",
        "order",
        "fill",
    }


def test_the_same_basket_is_not_sent_again_before_the_next_iteration(world: Any) -> None:
    src, _j, loop, reactor, _feed, records = world
    loop.run_iteration()
    raise_a(src)
    assert reactor.react(BookBatch(("EV-A",))) == 2
    # the book moves elsewhere in the event; on paper our fills do not show in the source's books
    assert reactor.react(BookBatch(("EV-B",))) == 0
    assert reactor.react(BookBatch(("EV-A", "EV-B"))) == 0
    assert len([r for r in records if r["kind"] == "order"]) == 2
    assert reactor.ctx is not None and len(reactor.ctx.acted) == 1


def test_an_iterations_own_candidates_are_not_sent_again_by_a_reaction(world: Any) -> None:
    src, _j, loop, reactor, _feed, records = world
    raise_a(src)
    loop.run_iteration()  # the iteration itself trades the basket
    sent = [r for r in records if r["kind"] == "order"]
    assert len(sent) == 2
    assert reactor.react(BookBatch(("EV-A",))) == 0
    assert len([r for r in records if r["kind"] == "order"]) == 2


def test_a_halt_between_iterations_stops_the_next_reaction(world: Any) -> None:
    src, j, loop, reactor, _feed, records = world
    loop.run_iteration()
    reactor.prepare()
    set_halted(j, "operator halt from another process")
    raise_a(src)
    assert reactor.react(BookBatch(("EV-A",))) == 0
    denied = [r for r in records if r["kind"] == "denied"]
    assert denied and denied[0]["rule"] == "halted"


def test_unwatched_books_are_ignored(world: Any) -> None:
    _src, _j, loop, reactor, _feed, records = world
    loop.run_iteration()
    n = len(records)
    assert reactor.react(BookBatch(("NOT-SCANNED",))) == 0
    assert len(records) == n and reactor.stats.reactions == 0


def test_idle_reacts_then_drops_what_the_next_iteration_reads_anyway(world: Any) -> None:
    src, _j, loop, reactor, feed, records = world
    loop.run_iteration()
    raise_a(src)
    feed.batches = [BookBatch(()), BookBatch(("EV-A",), first_ns=1)]
    reactor.idle(30)  # the fake feed says "nothing more" once its batches are taken
    assert reactor.stats.orders == 2 and reactor.stats.tick_to_order_ns
    paused = threading.Event()
    paused.set()
    feed.batches = [BookBatch(("EV-B",))]
    assert reactor.react_until(reactor.clock() + 30, paused=paused) == 0  # paused: changes are dropped
    loop.run_iteration()
    it = [r for r in records if r["kind"] == "iteration"]
    assert it[-1]["reactions"] == 1 and it[-1]["reaction_orders"] == 2  # counted on the next iteration record


def test_a_reaction_builds_no_leg_against_our_own_resting_quote(world: Any) -> None:
    """Issue 14 §3 on the reactive path: the bid that 'makes' the basket is our own quote, so no basket."""
    src, j, loop, reactor, _feed, records = world
    loop.run_iteration()
    broker = loop.broker
    broker.books_include_own_orders = True  # as on Kalshi: the source's book shows our quote
    quote = OrderIntent(
        "our-quote", "EV-A", "bid", parse_price("0.59"), Count(500), time_in_force="good_till_canceled", post_only=True
    )
    j.record_intent(quote, strategy="spread", opportunity_id="op-q")
    ack = broker.submit(quote)
    j.record_ack(
        "our-quote",
        ack.order_id,
        next(o for o in broker.orders(status=OrderStatus.RESTING) if o.client_order_id == "our-quote"),
        [],
    )
    raise_a(src)  # the 5 YES bid at 0.59 on EV-A is ours
    n = len(records)
    assert reactor.react(BookBatch(("EV-A",))) == 0
    new = records[n:]
    assert not [r for r in new if r["kind"] in ("opportunity", "order", "denied")], new
    assert reactor.stats.orders == 0


def test_signature_and_percentile() -> None:
    from kalashi_cli.domain import Leg, Opportunity

    o = Opportunity(
        id="x",
        strategy="arbitrage",
        event_ticker="E",
        legs=(Leg("A", "no", "buy", Price(4100), Count(500)),),
        edge=Money(1),
        edge_pct=Decimal(0),
        fees=Money(0),
        confidence=Decimal(1),
        liquidity=Decimal(1),
        score=Decimal(1),
        reason="",
    )
    assert signature(o) == ("arbitrage", (("A", "no", "buy", 4100),))
    assert percentile([], 0.99) == 0
    assert percentile(range(1, 101), 0.5) == 50 and percentile(range(1, 101), 0.99) == 99
    assert percentile([7], 0.99) == 7
