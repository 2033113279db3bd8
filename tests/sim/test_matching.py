"""Matching engine: V2 order types and rules, accounts, fees, settlement, reads, restore."""

from __future__ import annotations

from dataclasses import replace

import pytest

from kalashi_cli.domain import ExchangeOrder, OrderIntent, OrderStatus, Trade
from kalashi_cli.errors import Conflict, NotFound, OrderRejected
from kalashi_cli.ledger import fold
from kalashi_cli.money import (
    ONE_DOLLAR,
    TAPERED_GRID,
    Count,
    Money,
    Price,
    fee_for,
    parse_count,
    parse_money,
    parse_price,
)
from kalashi_cli.sim.matching import EventLog, MarketStatus, MatchingEngine, OrderFailed, OrderUpdated, Settled
from kalashi_cli.sim.matching.orders import BookOrder, IllegalTransition


def P(s: str) -> Price:
    return parse_price(s)


def C(s: str) -> Count:
    return parse_count(s)


def M(s: str) -> Money:
    return parse_money(s)


_n = [0]


def order(
    ticker: str = "T",
    side: str = "bid",
    price: str = "0.50",
    count: str = "10",
    *,
    tif: str = "good_till_canceled",
    coid: str | None = None,
    **kw,
) -> OrderIntent:
    _n[0] += 1
    return OrderIntent(
        coid or f"c{_n[0]}",
        ticker,
        side,  # type: ignore[arg-type]
        P(price),
        C(count),
        time_in_force=tif,  # type: ignore[arg-type]
        **kw,
    )


def ioc(ticker: str = "T", side: str = "bid", price: str = "0.50", count: str = "10", **kw) -> OrderIntent:
    return order(ticker, side, price, count, tif="immediate_or_cancel", **kw)


@pytest.fixture
def eng() -> MatchingEngine:
    e = MatchingEngine(now_ms=1_000_000)
    e.add_market("T", event_ticker="EV", fee_type="quadratic")
    e.open_account("a", M("1000"))
    e.open_account("b", M("1000"))
    # YES bids 0.40×10, 0.39×20; NO bids 0.55×5 (YES ask 0.45), 0.50×30 (YES ask 0.50)
    e.apply_snapshot("T", [(P("0.40"), C("10")), (P("0.39"), C("20"))], [(P("0.55"), C("5")), (P("0.50"), C("30"))])
    return e


def code_of(exc: pytest.ExceptionInfo) -> str:
    return exc.value.code


# --------------------------------------------------------------------------- validation


def test_off_grid_price_is_rejected_with_invalid_price() -> None:
    e = MatchingEngine()
    e.add_market("X", price_ranges=TAPERED_GRID)
    e.open_account("a", M("100"))
    with pytest.raises(OrderRejected) as ex:
        e.submit("a", order("X", price="0.505"))  # middle band ticks in 0.01
    assert code_of(ex) == "invalid_price" and ex.value.status == 400
    assert e.submit("a", order("X", price="0.055")).status == "resting"  # tail band ticks in 0.001


def test_bad_sizes_flags_and_unknowns(eng: MatchingEngine) -> None:
    for intent, code in [
        (order(count="0"), "invalid_order_size"),
        (ioc(expiration_ts=2_000_000), "invalid_order"),
        (order(expiration_ts=999), "invalid_order"),  # in the past (engine clock 1 000 000 ms)
        (order(reduce_only=True), "invalid_order"),  # reduce_only needs IOC
        (ioc(post_only=True), "invalid_order"),
    ]:
        with pytest.raises(OrderRejected) as ex:
            eng.submit("a", intent)
        assert code_of(ex) == code
    with pytest.raises(NotFound) as nf:
        eng.submit("a", order("NOPE"))
    assert code_of(nf) == "market_not_found" and nf.value.status == 404
    with pytest.raises(NotFound):
        eng.submit("zzz", order())
    with pytest.raises(NotFound) as g:
        eng.submit("a", order(order_group_id="grp-404"))
    assert code_of(g) == "order_group_not_found"


def test_duplicate_client_order_id_is_a_409_per_account(eng: MatchingEngine) -> None:
    eng.submit("a", order(price="0.30", coid="same"))
    with pytest.raises(Conflict) as ex:
        eng.submit("a", order(price="0.31", coid="same"))
    assert ex.value.status == 409 and code_of(ex) == "order_already_exists"
    eng.cancel_all("a")
    with pytest.raises(Conflict):  # still used after the order is gone: retries stay safe
        eng.submit("a", order(price="0.31", coid="same"))
    assert eng.submit("b", order(price="0.31", coid="same")).status == "resting"
    assert eng.order_by_client_id("a", "same").status == "canceled"


def test_inactive_market_refuses_orders(eng: MatchingEngine) -> None:
    eng.set_market_status("T", "inactive")
    with pytest.raises(OrderRejected) as ex:
        eng.submit("a", order())
    assert code_of(ex) == "market_inactive"


# --------------------------------------------------------------------------- taker walk


def test_taker_walks_the_book_and_ioc_cancels_the_rest(eng: MatchingEngine) -> None:
    ack = eng.submit("a", ioc(price="0.50", count="40"))
    assert (ack.fill_count, ack.remaining_count, ack.status) == (C("35"), 0, "canceled")
    fills = eng.fills("a")
    assert [(f.price, f.count) for f in fills] == [(P("0.45"), C("5")), (P("0.50"), C("30"))]
    assert all(f.is_taker for f in fills)
    assert ack.average_fill_price == (P("0.45") * 5 + P("0.50") * 30 + 17) // 35
    assert eng.positions("a")[0].position == C("35")


def test_gtc_remainder_rests_at_its_limit(eng: MatchingEngine) -> None:
    ack = eng.submit("a", order(price="0.46", count="8"))
    assert (ack.fill_count, ack.remaining_count, ack.status) == (C("5"), C("3"), "resting")
    assert eng.book("T").yes_bids[0] == (P("0.46"), C("3"))
    assert eng.orders("a", status=OrderStatus.RESTING)[0].remaining_count == C("3")


def test_sell_yes_hits_bids_at_their_price(eng: MatchingEngine) -> None:
    ack = eng.submit("a", ioc(side="ask", price="0.39", count="15"))
    assert ack.fill_count == C("15")
    assert [(f.price, f.count, f.side) for f in eng.fills("a")] == [
        (P("0.40"), C("10"), "ask"),
        (P("0.39"), C("5"), "ask"),
    ]
    assert eng.positions("a")[0].position == -C("15")  # short YES = long NO


def test_fractional_counts(eng: MatchingEngine) -> None:
    ack = eng.submit("a", ioc(price="0.45", count="0.37"))
    assert ack.fill_count == 37
    f = eng.fills("a")[0]
    assert f.count == 37 and f.fee == fee_for(P("0.45"), Count(37))


def test_consumed_liquidity_stays_consumed_until_the_level_changes(eng: MatchingEngine) -> None:
    eng.submit("a", ioc(price="0.45", count="5"))
    assert eng.submit("b", ioc(price="0.45", count="5")).fill_count == 0
    # the same snapshot again (level unchanged): still consumed
    eng.apply_snapshot("T", [(P("0.40"), C("10")), (P("0.39"), C("20"))], [(P("0.55"), C("5")), (P("0.50"), C("30"))])
    assert eng.submit("b", ioc(price="0.45", count="5")).fill_count == 0
    assert eng.external_book("T")[1][0] == (P("0.55"), C("5"))  # market data's own book is untouched
    eng.apply_delta("T", "no", P("0.55"), C("1"))  # market data moved that level
    assert eng.submit("b", ioc(price="0.45", count="10")).fill_count == C("6")


def test_account_orders_trade_with_each_other_maker_at_its_price(eng: MatchingEngine) -> None:
    eng.submit("a", order(side="ask", price="0.42", count="4"))  # sell YES 0.42, inside the spread
    ack = eng.submit("b", ioc(price="0.50", count="6"))
    fills_b = eng.fills("b")
    assert [(f.price, f.count, f.is_taker) for f in fills_b] == [(P("0.42"), C("4"), True), (P("0.45"), C("2"), True)]
    fa = eng.fills("a")
    assert [(f.price, f.count, f.is_taker) for f in fa] == [(P("0.42"), C("4"), False)]
    assert fa[0].fill_id == fills_b[0].fill_id  # one trade, two sides
    assert ack.fill_count == C("6")
    assert eng.orders("a")[0].status == "executed"


def test_price_time_priority_between_accounts_and_external(eng: MatchingEngine) -> None:
    first = eng.submit("a", order(side="bid", price="0.40", count="3"))  # behind external 10
    second = eng.submit("b", order(side="bid", price="0.40", count="4"))
    assert eng.queue_position("a", first.order_id) == C("10")
    assert eng.queue_position("b", second.order_id) == C("13")
    eng.open_account("c", M("100"))
    eng.submit("c", ioc(side="ask", price="0.40", count="12"))
    # external 10 first, then a's 2 of 3; b untouched
    assert eng.order("a", first.order_id).fill_count == C("2")
    assert eng.order("b", second.order_id).fill_count == 0
    assert eng.queue_position("b", second.order_id) == C("1")


# --------------------------------------------------------------------------- time in force & flags


def test_fill_or_kill_is_all_or_nothing(eng: MatchingEngine) -> None:
    ack = eng.submit("a", order(price="0.50", count="36", tif="fill_or_kill"))
    assert (ack.fill_count, ack.status) == (0, "canceled")
    assert eng.fills("a") == []
    ack = eng.submit("a", order(price="0.50", count="35", tif="fill_or_kill"))
    assert (ack.fill_count, ack.status) == (C("35"), "executed")


def test_post_only_is_cancelled_when_it_would_cross(eng: MatchingEngine) -> None:
    log = EventLog()
    eng.subscribe(log)
    ack = eng.submit("a", order(price="0.45", post_only=True))
    assert (ack.status, ack.fill_count) == ("canceled", 0)
    updates = [ev for ev in log.drain() if isinstance(ev, OrderUpdated)]
    assert updates[-1].reason == "PostOnlyCrossCancel"
    assert eng.submit("a", order(price="0.44", post_only=True)).status == "resting"


def test_reduce_only_caps_at_the_position(eng: MatchingEngine) -> None:
    with pytest.raises(OrderRejected) as ex:
        eng.submit("a", ioc(side="ask", price="0.39", count="5", reduce_only=True))
    assert code_of(ex) == "invalid_order"
    eng.submit("a", ioc(price="0.45", count="3"))
    ack = eng.submit("a", ioc(side="ask", price="0.39", count="50", reduce_only=True))
    assert ack.fill_count == C("3")
    assert eng.positions("a")[0].position == 0


def test_expiration_cancels_when_the_clock_passes(eng: MatchingEngine) -> None:
    ack = eng.submit("a", order(price="0.30", expiration_ts=1_005))
    eng.advance_to(1_004_999)
    assert eng.order("a", ack.order_id).status == "resting"
    eng.advance_to(1_005_000)
    o = eng.order("a", ack.order_id)
    assert (o.status, o.remaining_count) == ("canceled", 0)
    assert eng.reserved("a") == 0


# --------------------------------------------------------------------------- self-trade prevention


def test_stp_taker_at_cross_cancels_the_taker_keeping_earlier_fills(eng: MatchingEngine) -> None:
    mine = eng.submit("a", order(side="ask", price="0.50", count="2"))  # behind external 30 at 0.50
    ack = eng.submit("a", ioc(price="0.50", count="50"))
    # took 0.45×5, then the 30 external ahead of our own ask at 0.50, then stopped at our ask
    assert ack.fill_count == C("35") and ack.status == "canceled"
    assert eng.order("a", mine.order_id).status == "resting"


def test_stp_maker_cancels_the_resting_order_and_continues(eng: MatchingEngine) -> None:
    mine = eng.submit("a", order(side="ask", price="0.45", count="2"))  # behind external 5 at 0.45
    eng.apply_delta("T", "no", P("0.55"), C("1"))  # one more external behind our ask
    ack = eng.submit("a", ioc(price="0.45", count="10", self_trade_prevention_type="maker"))
    assert ack.fill_count == C("6")
    assert eng.order("a", mine.order_id).status == "canceled"


def test_fok_self_cross_behaves_per_stp_like_kalshi(eng: MatchingEngine) -> None:
    eng.submit("a", order(side="ask", price="0.45", count="1"))
    ack = eng.submit("a", order(price="0.50", count="35", tif="fill_or_kill"))  # 35 from others exist
    assert ack.fill_count == C("5") and ack.status == "canceled"  # partial fills are not rolled back


# --------------------------------------------------------------------------- amend / decrease / cancel


def test_amend_count_is_the_new_total_and_size_decrease_keeps_priority(eng: MatchingEngine) -> None:
    mine = eng.submit("a", order(price="0.40", count="10"))
    eng.apply_delta("T", "yes", P("0.40"), C("7"))  # 7 external join behind us
    eng.submit("b", ioc(side="ask", price="0.40", count="12"))  # 10 ahead, then 2 of ours
    ack = eng.amend("a", mine.order_id, ticker="T", side="bid", price=P("0.40"), count=C("6"))
    assert (ack.fill_count, ack.remaining_count) == (C("2"), C("4"))
    assert eng.queue_position("a", mine.order_id) == 0
    ack = eng.amend("a", mine.order_id, ticker="T", side="bid", price=P("0.40"), count=C("8"))
    assert ack.remaining_count == C("6")
    assert eng.queue_position("a", mine.order_id) == C("7")  # a size increase goes to the back


def test_amend_price_change_loses_priority_and_may_trade(eng: MatchingEngine) -> None:
    mine = eng.submit("a", order(price="0.39", count="4"))
    assert eng.queue_position("a", mine.order_id) == C("20")
    eng.amend("a", mine.order_id, ticker="T", side="bid", price=P("0.40"), count=C("4"))
    assert eng.queue_position("a", mine.order_id) == C("10")
    ack = eng.amend(
        "a", mine.order_id, ticker="T", side="bid", price=P("0.45"), count=C("4"), updated_client_order_id="renamed"
    )
    assert (ack.fill_count, ack.status, ack.client_order_id) == (C("4"), "executed", "renamed")
    assert eng.fills("a")[0].price == P("0.45")


def test_amend_checks_what_it_amends(eng: MatchingEngine) -> None:
    mine = eng.submit("a", order(price="0.30", count="4", coid="x1"))
    oid = mine.order_id
    cases = [
        (dict(ticker="U", side="bid", price=P("0.30"), count=C("4")), "order_ticker_mismatch"),
        (dict(ticker="T", side="ask", price=P("0.30"), count=C("4")), "order_side_mismatch"),
        (
            dict(ticker="T", side="bid", price=P("0.30"), count=C("4"), client_order_id="x2"),
            "order_id_and_client_order_id_mismatch",
        ),
        (dict(ticker="T", side="bid", price=P("0.305"), count=C("4")), "invalid_price"),
        (dict(ticker="T", side="bid", price=P("0.30"), count=0), "invalid_order_size"),
        (dict(ticker="T", side="bid", price=P("0.30"), count=C("100000")), "available_balance_too_low"),
    ]
    for kw, code in cases:
        with pytest.raises(OrderRejected) as ex:
            eng.amend("a", oid, **kw)  # type: ignore[arg-type]
        assert code_of(ex) == code
    assert eng.order("a", oid).remaining_count == C("4")  # failed amends change nothing
    assert eng.queue_position("a", oid) == 0


def test_decrease_needs_exactly_one_argument(eng: MatchingEngine) -> None:
    mine = eng.submit("a", order(price="0.40", count="10"))
    oid = mine.order_id
    with pytest.raises(OrderRejected):
        eng.decrease("a", oid)
    with pytest.raises(OrderRejected):
        eng.decrease("a", oid, reduce_by=C("1"), reduce_to=C("1"))
    assert eng.decrease("a", oid, reduce_by=C("3")) == C("7")
    assert eng.queue_position("a", oid) == C("10")  # kept its place
    assert eng.decrease("a", oid, reduce_to=C("2")) == C("2")
    assert eng.decrease("a", oid, reduce_to=Count(0)) == 0
    assert eng.order("a", oid).status == "canceled"


def test_cancel_batch_and_cancel_all(eng: MatchingEngine) -> None:
    acks = eng.batch_submit("a", [order(price="0.30"), order(price="0.305"), order(price="0.31")])
    assert isinstance(acks[1], OrderRejected) and acks[1].code == "invalid_price"
    ids = [a.order_id for a in acks if not isinstance(a, Exception)]
    assert eng.cancel("a", ids[0]) == C("10")
    with pytest.raises(NotFound):
        eng.cancel("a", ids[0])  # already cancelled
    with pytest.raises(NotFound):
        eng.cancel("b", ids[1])  # someone else's order
    res = eng.batch_cancel("a", [ids[1], "ord-999"])
    assert res[0] == C("10") and isinstance(res[1], NotFound)
    eng.submit("a", order(price="0.20"))
    eng.submit("a", order(price="0.21"))
    assert len(eng.cancel_all("a")) == 2
    assert eng.orders("a", status=OrderStatus.RESTING) == [] and eng.reserved("a") == 0


# --------------------------------------------------------------------------- order groups


def test_order_group_cancels_its_orders_when_the_limit_is_hit(eng: MatchingEngine) -> None:
    gid = eng.create_order_group("a", C("5"))
    resting = eng.submit("a", order(price="0.30", count="5", order_group_id=gid))
    eng.submit("a", ioc(price="0.45", count="4", order_group_id=gid))
    assert eng.order_group("a", gid).matched == C("4") and not eng.order_group("a", gid).triggered
    eng.submit("a", ioc(price="0.45", count="1", order_group_id=gid))
    view = eng.order_group("a", gid)
    assert view.triggered and eng.order("a", resting.order_id).status == "canceled"
    with pytest.raises(OrderRejected) as ex:
        eng.submit("a", order(price="0.30", order_group_id=gid))
    assert code_of(ex) == "order_group_triggered"
    eng.reset_order_group("a", gid)
    assert eng.submit("a", order(price="0.30", count="1", order_group_id=gid)).status == "resting"


def test_order_group_window_rolls_over_15_seconds(eng: MatchingEngine) -> None:
    gid = eng.create_order_group("a", C("5"))
    eng.submit("a", order(price="0.30", count="5", order_group_id=gid))
    eng.apply_snapshot("T", [], [(P("0.55"), C("100"))])
    eng.submit("a", ioc(price="0.45", count="3", order_group_id=gid))
    eng.advance_to(eng.now_ms + 15_000)
    eng.submit("a", ioc(price="0.45", count="3", order_group_id=gid))
    assert eng.order_group("a", gid).matched == C("3") and not eng.order_group("a", gid).triggered


def test_order_group_trigger_limit_and_delete(eng: MatchingEngine) -> None:
    gid = eng.create_order_group("a", C("10"))
    o1 = eng.submit("a", order(price="0.30", count="1", order_group_id=gid))
    eng.trigger_order_group("a", gid)
    assert eng.order("a", o1.order_id).status == "canceled" and eng.order_group("a", gid).triggered
    eng.reset_order_group("a", gid)
    o2 = eng.submit("a", order(price="0.30", count="1", order_group_id=gid))
    eng.submit("a", ioc(price="0.45", count="2", order_group_id=gid))
    eng.set_order_group_limit("a", gid, C("2"))  # already reached: triggers now
    assert eng.order("a", o2.order_id).status == "canceled"
    eng.delete_order_group("a", gid)
    with pytest.raises(NotFound):
        eng.order_group("a", gid)


# --------------------------------------------------------------------------- fees


def test_fees_by_series_fee_type() -> None:
    for fee_type, maker_pays in [("quadratic", False), ("quadratic_with_maker_fees", True)]:
        e = MatchingEngine()
        e.add_market("T", fee_type=fee_type, fee_multiplier=5_000)
        e.open_account("maker", M("100"))
        e.open_account("taker", M("100"))
        e.submit("maker", order(side="ask", price="0.47", count="7"))
        e.submit("taker", ioc(price="0.47", count="7"))
        fm, ft = e.fills("maker")[0], e.fills("taker")[0]
        assert ft.fee == fee_for(P("0.47"), C("7"), fee_type=fee_type, multiplier=5_000, is_taker=True)
        assert fm.fee == fee_for(P("0.47"), C("7"), fee_type=fee_type, multiplier=5_000, is_taker=False)
        assert (fm.fee > 0) is maker_pays
        assert e.order("taker", ft.order_id).taker_fees == ft.fee


# --------------------------------------------------------------------------- money


def test_an_order_the_account_cannot_pay_for_is_rejected() -> None:
    e = MatchingEngine()
    e.add_market("T")
    e.open_account("a", M("10"))
    with pytest.raises(OrderRejected) as ex:
        e.submit("a", order(price="0.50", count="20"))  # $10 + fees
    assert code_of(ex) == "available_balance_too_low"
    ack = e.submit("a", order(price="0.50", count="19"))
    assert ack.status == "resting"
    assert e.balance("a").balance == M("10") - e.reserved("a")
    assert e.reserved("a") >= P("0.50") * C("19") + fee_for(P("0.50"), C("19"))
    with pytest.raises(OrderRejected):  # the resting bid holds the cash
        e.submit("a", order(side="ask", price="0.50", count="2"))


def test_netting_frees_a_dollar_per_pair_and_closing_needs_no_cash() -> None:
    e = MatchingEngine()
    e.add_market("T", fee_type="quadratic")
    e.open_account("a", M("50"))
    e.apply_snapshot("T", [(P("0.60"), C("1000"))], [(P("0.50"), C("1000"))])
    e.submit("a", ioc(price="0.50", count="96"))  # buy YES 96 @ 0.50 + fees: almost all the cash
    cash_after_buy = e.cash("a")
    assert cash_after_buy < M("1.00")
    ack = e.submit("a", ioc(side="ask", price="0.60", count="96"))  # sell them: closes pairs
    assert ack.fill_count == C("96")
    fee = e.fills("a")[-1].fee
    assert e.cash("a") == cash_after_buy + C("96") * P("0.60") - fee
    assert e.positions("a")[0].position == 0
    assert e.positions("a")[0].realized_pnl == C("96") * (P("0.60") - P("0.50"))


def test_account_state_is_the_ledger_fold(eng: MatchingEngine) -> None:
    eng.submit("a", ioc(price="0.50", count="12.5"))
    eng.submit("a", order(side="ask", price="0.41", count="20"))
    eng.apply_trade(Trade("x1", "T", P("0.41"), C("4"), "bid", eng.now_ms + 1))
    eng.submit("a", ioc(side="ask", price="0.39", count="30"))
    state = fold(M("1000"), eng.fills("a"), eng.settlements("a"))
    assert state.cash == eng.cash("a")
    pos = eng.positions("a")[0]
    ps = state.positions["T"]
    assert (pos.position, pos.exposure, pos.realized_pnl, pos.fees_paid) == (ps.position, ps.cost, ps.realized, ps.fees)


# --------------------------------------------------------------------------- settlement


@pytest.mark.parametrize("result,value", [("yes", None), ("no", None), ("scalar", P("0.3000"))])
def test_settlement_pays_closes_and_records(eng: MatchingEngine, result: str, value: Price | None) -> None:
    log = EventLog()
    eng.subscribe(log)
    eng.submit("a", ioc(price="0.50", count="10"))  # +10 YES
    eng.submit("b", ioc(side="ask", price="0.39", count="7"))  # −7 YES = 7 NO
    resting = eng.submit("a", order(price="0.20", count="3"))
    cash_a, cash_b = eng.cash("a"), eng.cash("b")
    out = eng.settle("T", result, value)
    v = {"yes": ONE_DOLLAR, "no": 0}.get(result, value)
    assert v is not None
    assert eng.cash("a") == cash_a + C("10") * v
    assert eng.cash("b") == cash_b + C("7") * (ONE_DOLLAR - v)
    assert eng.positions("a") == [] and eng.positions("b") == []
    assert eng.order("a", resting.order_id).status == "canceled" and eng.reserved("a") == 0
    sa = eng.settlements("a")[0]
    assert (sa.yes_count, sa.no_count, sa.revenue, sa.value, sa.result) == (C("10"), 0, C("10") * v, v, result)
    assert {s.ticker for s in out} == {"T"} and len(out) == 2
    assert any(isinstance(ev, Settled) for ev in log.events)
    assert any(isinstance(ev, MarketStatus) and ev.status == "finalized" for ev in log.events)
    with pytest.raises(OrderRejected) as ex:
        eng.submit("a", order())
    assert code_of(ex) == "market_inactive"
    for acc in ("a", "b"):
        assert fold(M("1000"), eng.fills(acc), eng.settlements(acc)).cash == eng.cash(acc)


def test_market_lifecycle_cancels_like_kalshi(eng: MatchingEngine) -> None:
    keep = eng.submit("a", order(price="0.30"))
    pause = eng.submit("a", order(price="0.31", cancel_order_on_pause=True))
    eng.set_market_status("T", "inactive")
    assert eng.order("a", keep.order_id).status == "resting"
    assert eng.order("a", pause.order_id).status == "canceled"
    eng.set_market_status("T", "active")  # reactivation cancels all resting orders
    assert eng.order("a", keep.order_id).status == "canceled"
    again = eng.submit("a", order(price="0.30"))
    eng.set_market_status("T", "closed")
    assert eng.order("a", again.order_id).status == "canceled"


# --------------------------------------------------------------------------- state table


def test_illegal_transitions_raise() -> None:
    o = BookOrder(
        "o",
        "c",
        "a",
        "T",
        True,
        Price(5000),
        Count(100),
        tif="good_till_canceled",
        stp="taker_at_cross",
        post_only=False,
        reduce_only=False,
        expiration_ms=None,
        group_id=None,
        cancel_on_pause=False,
        now_ms=0,
    )
    o.move("resting", 1)
    o.move("resting", 2)
    o.move("canceled", 3)
    with pytest.raises(IllegalTransition):
        o.move("resting", 4)
    with pytest.raises(IllegalTransition):
        o.move("executed", 4)


# --------------------------------------------------------------------------- latency


def test_latency_matches_the_book_as_of_arrival() -> None:
    e = MatchingEngine(now_ms=0, latency_ms=50)
    e.add_market("T")
    e.open_account("a", M("100"))
    e.apply_snapshot("T", [], [(P("0.55"), C("5"))])
    oid = e.place("a", ioc(price="0.50", count="5"))
    assert e.result("a", oid) is None
    assert [o.order_id for o in e.orders("a")] == []  # in flight, not listed
    e.apply_delta("T", "no", P("0.55"), Count(-C("5")), ts_ms=30)  # the ask is gone before we arrive
    e.apply_delta("T", "no", P("0.52"), C("5"), ts_ms=40)  # and a worse one appears
    e.advance_to(60)
    ack = e.result("a", oid)
    assert ack is not None and ack.fill_count == C("5") and ack.ts_ms == 50
    assert e.fills("a")[0].price == P("0.48")


def test_latency_rejection_on_arrival_is_reported() -> None:
    e = MatchingEngine(now_ms=0, latency_ms=10)
    e.add_market("T")
    e.open_account("a", M("100"))
    log = EventLog()
    e.subscribe(log)
    oid = e.place("a", order(price="0.40", coid="k"))
    e.set_market_status("T", "closed")
    e.advance_to(10)
    with pytest.raises(OrderRejected) as ex:
        e.result("a", oid)
    assert code_of(ex) == "market_inactive"
    assert any(isinstance(ev, OrderFailed) for ev in log.events)
    e.set_market_status("T", "active")
    e.place("a", order(price="0.40", coid="k"))  # the refused order never existed: its id is free


def test_submit_with_latency_advances_to_arrival_and_cancel_in_flight() -> None:
    e = MatchingEngine(now_ms=0, latency_ms=25)
    e.add_market("T")
    e.open_account("a", M("100"))
    ack = e.submit("a", order(price="0.40"))
    assert ack.ts_ms == 25 and e.now_ms == 25 and ack.status == "resting"
    oid = e.place("a", order(price="0.41"))
    assert e.cancel("a", oid) == C("10")
    e.advance_to(100)
    assert e.order("a", oid).status == "canceled" and e.result("a", oid).status == "canceled"


# --------------------------------------------------------------------------- reads & restore


def test_reads_mirror_the_portfolio_endpoints(eng: MatchingEngine) -> None:
    eng.submit("a", ioc(price="0.45", count="2"))
    r = eng.submit("a", order(price="0.38", count="1"))
    assert [o.status for o in eng.orders("a", ticker="T")] == ["executed", "resting"]
    assert len(eng.orders("a", status=OrderStatus.RESTING, event_ticker="EV")) == 1
    assert eng.orders("a", event_ticker="OTHER") == []
    assert eng.fills("a", order_id=r.order_id) == []
    assert eng.positions("a", event_ticker="EV")[0].position == C("2")
    qp = eng.queue_positions("a")
    assert [(q.order_id, q.ahead) for q in qp] == [(r.order_id, 0)]
    bal = eng.balance("a")
    assert bal.balance == eng.cash("a") - eng.reserved("a")
    assert bal.portfolio_value == C("2") * P("0.40")
    with pytest.raises(NotFound):
        eng.order("b", r.order_id)


def test_restore_rebuilds_an_account_from_its_journal(eng: MatchingEngine) -> None:
    eng.submit("a", ioc(price="0.50", count="12"))
    eng.submit("a", ioc(side="ask", price="0.39", count="4"))
    rest = eng.submit("a", order(price="0.30", count="3", coid="resting-1"))
    journal_fills = eng.fills("a")
    journal_orders = [(None, o) for o in eng.orders("a")]

    fresh = MatchingEngine(now_ms=eng.now_ms)
    fresh.add_market("T", event_ticker="EV")
    fresh.apply_snapshot("T", [(P("0.30"), C("8"))], [(P("0.50"), C("30"))])
    fresh.restore_account("a", deposits=M("1000"), fills=journal_fills, orders=journal_orders)
    assert fresh.cash("a") == eng.cash("a")
    assert fresh.positions("a") == eng.positions("a")
    assert fresh.reserved("a") == eng.reserved("a")
    assert fresh.order("a", rest.order_id).status == "resting"
    assert fresh.queue_position("a", rest.order_id) == C("8")  # back of the queue after a restart
    with pytest.raises(Conflict):
        fresh.submit("a", order(price="0.30", coid="resting-1"))
    new = fresh.submit("a", ioc(price="0.50", count="1"))
    assert new.order_id not in {o.order_id for _, o in journal_orders}
    assert fresh.fills("a")[-1].fill_id not in {f.fill_id for f in journal_fills}


def test_restore_folds_settlements() -> None:
    e = MatchingEngine()
    e.add_market("T")
    e.open_account("a", M("100"))
    e.apply_snapshot("T", [], [(P("0.60"), C("10"))])
    e.submit("a", ioc(price="0.40", count="10"))
    e.settle("T", "yes")
    again = MatchingEngine()
    again.restore_account("a", deposits=M("100"), fills=e.fills("a"), settlements=e.settlements("a"))
    assert again.cash("a") == e.cash("a") == M("100") + C("10") * (ONE_DOLLAR - P("0.40")) - e.fills("a")[0].fee
    assert again.positions("a") == []


def test_restored_history_orders_are_listed() -> None:
    e = MatchingEngine()
    e.add_market("T")
    done = ExchangeOrder("old-1", "cid-1", "T", "bid", P("0.40"), OrderStatus.EXECUTED, C("1"), C("1"), Count(0))
    e.restore_account("a", deposits=M("5"), orders=[(None, done)])
    assert e.order("a", "old-1").status == "executed"
    with pytest.raises(Conflict):
        e.submit("a", order(price="0.40", coid="cid-1"))


def test_fill_or_kill_counts_other_accounts_resting_orders(eng: MatchingEngine) -> None:
    eng.submit("b", order(side="ask", price="0.44", count="3"))
    ack = eng.submit("a", order(price="0.45", count="8", tif="fill_or_kill"))
    assert (ack.fill_count, ack.status) == (C("8"), "executed")
    assert [f.price for f in eng.fills("a")] == [P("0.44"), P("0.45")]


def test_injected_clock_drives_arrivals_and_expiry() -> None:
    now = [0]
    e = MatchingEngine(clock=lambda: now[0], latency_ms=20)
    e.add_market("T")
    e.open_account("a", M("100"))
    oid = e.place("a", order(price="0.40", expiration_ts=1))
    assert e.result("a", oid) is None
    now[0] = 20
    assert e.order("a", oid).status == "resting"
    now[0] = 1_000
    assert e.order("a", oid).status == "canceled"


def test_an_order_whose_expiry_passes_in_flight_is_refused() -> None:
    e = MatchingEngine(now_ms=0, latency_ms=2_000)
    e.add_market("T")
    e.open_account("a", M("100"))
    with pytest.raises(OrderRejected) as ex:
        e.submit("a", order(price="0.40", expiration_ts=1))
    assert code_of(ex) == "invalid_order"


def test_open_order_limit() -> None:
    e = MatchingEngine(max_open_orders=1)
    e.add_market("T")
    e.open_account("a", M("100"))
    e.submit("a", order(price="0.40"))
    with pytest.raises(OrderRejected) as ex:
        e.submit("a", order(price="0.41"))
    assert code_of(ex) == "too_many_open_orders"


def test_sticky_consumption_keeps_what_we_took_across_market_data() -> None:
    e = MatchingEngine(sticky_consumption=True)
    e.add_market("T")
    e.open_account("a", M("1000"))
    e.apply_snapshot("T", [], [(P("0.55"), C("100"))])
    e.submit("a", ioc(price="0.45", count="60"))
    e.apply_delta("T", "no", P("0.55"), C("5"))  # 5 new contracts arrive: only they are new to us
    assert e.book("T").no_bids == ((P("0.55"), C("45")),)
    e.apply_delta("T", "no", P("0.55"), Count(-C("45")))  # the untaken part leaves first
    assert e.book("T").no_bids == ()
    assert e.external_book("T")[1] == ((P("0.55"), C("60")),)
    e.apply_delta("T", "no", P("0.55"), Count(-C("40")))  # below what we took: nothing left to take
    e.apply_delta("T", "no", P("0.55"), C("7"))
    assert e.book("T").no_bids == ((P("0.55"), C("7")),)


def test_apply_market_lists_follows_status_and_snapshots() -> None:
    from kalashi_cli.domain import Market

    m = Market(
        "T",
        "EV",
        "SER",
        "Title",
        "Cat",
        "active",
        "",
        ((P("0.40"), C("10")),),
        ((P("0.55"), C("5")),),
        fee_type="quadratic_with_maker_fees",
        price_ranges=TAPERED_GRID,
    )
    e = MatchingEngine()
    e.open_account("a", M("100"))
    e.apply_market(m)
    assert e.book("T").title == "Title" and e.book("T").yes_ask == P("0.45")
    r = e.submit("a", order(price="0.055"))  # tapered tail tick accepted
    e.apply_market(replace(m, status="closed"))
    assert e.market_status("T") == "closed" and e.order("a", r.order_id).status == "canceled"


def test_amending_a_post_only_order_into_the_spread_cancels_it(eng: MatchingEngine) -> None:
    r = eng.submit("a", order(price="0.41", post_only=True))
    ack = eng.amend("a", r.order_id, ticker="T", side="bid", price=P("0.45"), count=C("10"))
    assert (ack.status, ack.fill_count) == ("canceled", 0)


def test_deposit_and_withdrawal_respect_collateral(eng: MatchingEngine) -> None:
    eng.deposit("a", M("5"))
    assert eng.cash("a") == M("1005")
    eng.submit("a", order(price="0.50", count="1000"))
    with pytest.raises(OrderRejected):
        eng.deposit("a", Money(-eng.cash("a")))
    with pytest.raises(ValueError):
        eng.settle("T", "scalar")
