"""The paper-fill queue model, market-data replay, and the book event stream."""

from __future__ import annotations

import random

import pytest

from kalashi_cli.domain import Level, OrderIntent, OrderStatus, Trade
from kalashi_cli.money import ONE_DOLLAR, Count, Price, parse_count, parse_money, parse_price
from kalashi_cli.sim.matching import BookDelta, EventLog, MatchingEngine, TradePrinted


def P(s: str) -> Price:
    return parse_price(s)


def C(s: str) -> Count:
    return parse_count(s)


_n = [0]


def bid(price: str, count: str, *, side: str = "bid", tif: str = "good_till_canceled") -> OrderIntent:
    _n[0] += 1
    return OrderIntent(f"q{_n[0]}", "T", side, P(price), C(count), time_in_force=tif)  # type: ignore[arg-type]


def sell_trade(price: str, count: str, ts: int) -> Trade:
    """A public trade whose taker sold YES (it hits YES bids)."""
    return Trade(f"x{ts}", "T", Price(P(price)), Count(C(count)), "ask", ts)


@pytest.fixture
def eng() -> MatchingEngine:
    e = MatchingEngine(now_ms=0, trade_match_window_ms=2_000)
    e.add_market("T", fee_type="quadratic")
    for a in ("a", "b", "c"):
        e.open_account(a, parse_money("1000"))
    e.apply_snapshot("T", [(P("0.40"), C("100"))], [(P("0.55"), C("50"))])
    return e


def test_a_resting_order_joins_behind_the_external_size_at_its_price(eng: MatchingEngine) -> None:
    ack = eng.submit("a", bid("0.40", "10"))
    assert eng.queue_position("a", ack.order_id) == C("100")
    eng.apply_delta("T", "yes", P("0.40"), C("30"))  # later arrivals queue behind us
    assert eng.queue_position("a", ack.order_id) == C("100")


def test_trades_at_our_price_consume_the_queue_ahead_first(eng: MatchingEngine) -> None:
    ack = eng.submit("a", bid("0.40", "10"))
    eng.apply_trade(sell_trade("0.40", "60", 1))
    assert eng.queue_position("a", ack.order_id) == C("40")
    assert eng.fills("a") == []
    eng.apply_trade(sell_trade("0.40", "45", 2))
    assert [(f.count, f.price, f.is_taker) for f in eng.fills("a")] == [(C("5"), P("0.40"), False)]
    assert eng.queue_position("a", ack.order_id) == 0


def test_one_trade_never_fills_more_than_its_size_across_accounts(eng: MatchingEngine) -> None:
    a = eng.submit("a", bid("0.40", "10"))
    b = eng.submit("b", bid("0.40", "10"))
    eng.apply_trade(sell_trade("0.40", "115", 1))
    assert eng.order("a", a.order_id).fill_count == C("10")
    assert eng.order("b", b.order_id).fill_count == C("5")


def test_a_trade_through_our_price_fills_us_first(eng: MatchingEngine) -> None:
    ack = eng.submit("a", bid("0.42", "10"))  # alone above the external best bid
    eng.submit("b", bid("0.40", "10"))
    eng.apply_trade(sell_trade("0.39", "12", 1))  # printed below both of us
    assert eng.order("a", ack.order_id).fill_count == C("10")
    fb = eng.fills("b")
    assert [f.count for f in fb] == [C("2")]  # b's 0.40 bid: trade-through too, gets the rest


def test_trades_on_the_other_side_do_not_fill_bids(eng: MatchingEngine) -> None:
    eng.submit("a", bid("0.40", "10"))
    eng.apply_trade(Trade("up", "T", P("0.40"), C("500"), "bid", 1))  # a YES buyer lifted asks
    assert eng.fills("a") == []


def test_trades_do_not_change_the_external_book(eng: MatchingEngine) -> None:
    eng.apply_trade(sell_trade("0.40", "60", 1))
    assert eng.external_book("T") == (((P("0.40"), C("100")),), ((P("0.55"), C("50")),))


def test_cancellations_come_from_behind_unless_the_level_shrinks_below_us(eng: MatchingEngine) -> None:
    ack = eng.submit("a", bid("0.40", "10"))
    eng.apply_delta("T", "yes", P("0.40"), C("50"))  # 150 external: 100 ahead, 50 behind
    eng.apply_delta("T", "yes", P("0.40"), Count(-C("40")))  # cancellations: assumed behind us
    assert eng.queue_position("a", ack.order_id) == C("100")
    eng.apply_delta("T", "yes", P("0.40"), Count(-C("70")))  # now only 40 external left in total
    assert eng.queue_position("a", ack.order_id) == C("40")


def test_delta_before_or_after_its_trade_gives_the_same_queue(eng: MatchingEngine) -> None:
    # trade first, then the delta that reports it
    e1 = eng
    a1 = e1.submit("a", bid("0.40", "10"))
    e1.apply_delta("T", "yes", P("0.40"), C("10"), ts_ms=5)  # 110: 100 ahead, 10 behind
    e1.apply_trade(sell_trade("0.40", "30", 10))
    e1.apply_delta("T", "yes", P("0.40"), Count(-C("30")), ts_ms=10)
    # delta first, then the trade (WebSocket ordering is not guaranteed)
    e2 = MatchingEngine(now_ms=0)
    e2.add_market("T")
    e2.open_account("a", parse_money("1000"))
    e2.apply_snapshot("T", [(P("0.40"), C("100"))], [])
    a2 = e2.submit("a", bid("0.40", "10"))
    e2.apply_delta("T", "yes", P("0.40"), C("10"), ts_ms=5)
    e2.apply_delta("T", "yes", P("0.40"), Count(-C("30")), ts_ms=10)  # 80 < 100 ahead: clamped, credit 20
    e2.apply_trade(sell_trade("0.40", "30", 11))
    assert e1.queue_position("a", a1.order_id) == e2.queue_position("a", a2.order_id) == C("70")


def test_an_unexplained_shrink_stops_waiting_for_its_trade(eng: MatchingEngine) -> None:
    ack = eng.submit("a", bid("0.40", "10"))
    eng.apply_delta("T", "yes", P("0.40"), Count(-C("20")), ts_ms=100)  # ahead 100 → 80 (credit 20)
    eng.apply_trade(sell_trade("0.40", "30", 5_000))  # long after: a separate trade
    assert eng.queue_position("a", ack.order_id) == C("50")


def test_external_book_follows_the_stream_through_account_activity() -> None:
    """Replaying snapshots + deltas keeps market data's book equal to the stream's at every step."""
    rng = random.Random(7)
    e = MatchingEngine(now_ms=0)
    e.add_market("T")
    for a in ("a", "b"):
        e.open_account(a, parse_money("100000"))
    yes: dict[Price, Count] = {}
    no: dict[Price, Count] = {}
    ts = 0

    def stream_book() -> tuple[tuple[Level, ...], tuple[Level, ...]]:
        return (
            tuple(sorted(((p, s) for p, s in yes.items() if s), reverse=True)),
            tuple(sorted(((p, s) for p, s in no.items() if s), reverse=True)),
        )

    for step in range(3_000):
        ts += rng.randint(0, 40)
        if step % 250 == 0:  # a fresh snapshot (what a reconnect or a REST poll gives)
            yes = {Price(rng.randrange(20, 50) * 100): Count(rng.randint(1, 5_000)) for _ in range(rng.randint(0, 8))}
            no = {Price(rng.randrange(20, 50) * 100): Count(rng.randint(1, 5_000)) for _ in range(rng.randint(0, 8))}
            e.apply_snapshot("T", yes.items(), no.items(), ts_ms=ts)
            assert e.external_book("T") == stream_book()
            continue
        r = rng.random()
        if r < 0.7:
            side = rng.choice(("yes", "no"))
            book = yes if side == "yes" else no
            price = Price(rng.randrange(20, 50) * 100)
            change = Count(rng.randint(-3_000, 3_000))
            if book.get(price, 0) + change < 0:
                change = Count(-book.get(price, 0))
            book[price] = Count(book.get(price, 0) + change)
            e.apply_delta("T", side, price, change, ts_ms=ts)  # type: ignore[arg-type]
        elif r < 0.85:  # account takers consume liquidity, makers rest
            acct = rng.choice(("a", "b"))
            side = rng.choice(("bid", "ask"))
            price = Price(rng.randrange(30, 71) * 100)
            tif = rng.choice(("good_till_canceled", "immediate_or_cancel"))
            e.submit(
                acct,
                OrderIntent(
                    f"s{step}",
                    "T",
                    side,  # type: ignore[arg-type]
                    price,
                    rng.randint(1, 2_000),  # type: ignore[arg-type]
                    time_in_force=tif,  # type: ignore[arg-type]
                ),
            )
        else:
            e.apply_trade(
                Trade(
                    f"t{step}",
                    "T",
                    Price(rng.randrange(20, 80) * 100),
                    Count(rng.randint(1, 3_000)),
                    rng.choice(("bid", "ask")),
                    ts,
                )
            )
        assert e.external_book("T") == stream_book()


def test_book_events_rebuild_the_combined_book() -> None:
    """A snapshot plus every BookDelta after its seq reproduces book() (what the WS server publishes)."""
    rng = random.Random(11)
    e = MatchingEngine(now_ms=0)
    e.add_market("T")
    for a in ("a", "b"):
        e.open_account(a, parse_money("100000"))
    e.apply_snapshot("T", [(Price(4000), Count(500))], [(Price(5500), Count(700))])
    snap = e.book("T")
    seq = e.book_seq("T")
    levels = {("yes", p): s for p, s in snap.yes_bids} | {("no", p): s for p, s in snap.no_bids}
    log = EventLog()
    e.subscribe(log)
    for step in range(1_500):
        r = rng.random()
        if r < 0.4:
            side = rng.choice(("yes", "no"))
            e.apply_delta("T", side, rng.randrange(30, 60) * 100, rng.randint(-400, 600))  # type: ignore[arg-type]
        elif r < 0.75:
            e.submit(
                rng.choice(("a", "b")),
                OrderIntent(
                    f"s{step}",
                    "T",
                    rng.choice(("bid", "ask")),
                    rng.randrange(35, 66) * 100,  # type: ignore[arg-type]
                    rng.randint(1, 800),  # type: ignore[arg-type]
                    time_in_force=rng.choice(("good_till_canceled", "immediate_or_cancel")),
                ),
            )
        elif r < 0.9:
            e.apply_trade(
                Trade(
                    f"t{step}",
                    "T",
                    Price(rng.randrange(35, 66) * 100),
                    Count(rng.randint(1, 600)),
                    rng.choice(("bid", "ask")),
                    0,
                )
            )
        else:
            for acct in ("a", "b"):
                live = e.orders(acct, status=OrderStatus.RESTING)
                if live:
                    e.cancel(acct, rng.choice(live).order_id)
    for ev in log.drain():
        if isinstance(ev, BookDelta):
            assert ev.seq == seq + 1
            seq = ev.seq
            key = (ev.side, ev.price)
            levels[key] = Count(levels.get(key, 0) + ev.delta)
            assert levels[key] >= 0
    book = e.book("T")
    assert {k: v for k, v in levels.items() if v} == (
        {("yes", p): s for p, s in book.yes_bids} | {("no", p): s for p, s in book.no_bids}
    )


def test_trades_caused_by_accounts_are_published(eng: MatchingEngine) -> None:
    log = EventLog()
    eng.subscribe(log)
    eng.submit("a", OrderIntent("k", "T", "bid", P("0.45"), C("3"), time_in_force="immediate_or_cancel"))
    eng.apply_trade(sell_trade("0.40", "1", 1))
    prints = [ev for ev in log.events if isinstance(ev, TradePrinted)]
    assert [(p.external, p.trade.price, p.trade.count, p.trade.taker_side) for p in prints] == [
        (False, P("0.45"), C("3"), "bid"),
        (True, P("0.40"), C("1"), "ask"),
    ]
    assert ONE_DOLLAR - P("0.55") == P("0.45")


def test_a_later_order_never_fills_before_an_earlier_one_at_its_price(eng: MatchingEngine) -> None:
    first = eng.submit("a", bid("0.40", "10"))  # 100 ahead
    eng.apply_delta("T", "yes", P("0.40"), Count(-C("40")), ts_ms=10)  # ahead 60; 40 may be a trade to come
    second = eng.submit("b", bid("0.40", "10"))  # joins behind the 60 left
    eng.apply_trade(sell_trade("0.40", "85", 11))  # the 40 was a trade: it reaches 85 − 100 < 0 into us
    assert eng.fills("a") == [] and eng.fills("b") == []
    assert eng.queue_position("a", first.order_id) == C("15")
    assert eng.queue_position("b", second.order_id) == C("25")  # never ahead of the earlier order
