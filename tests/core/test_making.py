"""The market maker (issue 17 §1): two-sided quotes, skew, limits, cancel/replace, rate limits, pulls."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import pytest

from kalashi_cli.domain import ExchangeFill, Market, OrderIntent, OrderStatus
from kalashi_cli.journal import IntentStatus, Journal
from kalashi_cli.loop import TradingLoop
from kalashi_cli.money import COUNT_SCALE, Count, Money, Price, parse_price
from kalashi_cli.ports import SourceEvents
from kalashi_cli.profile import Profile, load_profile, money
from kalashi_cli.sim.paper import PaperBroker, paper_exchange_path
from kalashi_cli.stages.making import MakerParams, ManageContext, QuoteManager, Volatility, plan_quotes
from kalashi_cli.stages.order import OrderExecutor
from kalashi_cli.stages.portfolio import load_portfolio
from kalashi_cli.stages.risk import RiskGate, TradingState, set_halted

from .factories import FakeSource, lv, market

P = load_profile("default")
C = COUNT_SCALE


def with_spread(profile: Profile = P, **kw: Any) -> Profile:
    return msgspec.structs.replace(
        profile,
        analyze=msgspec.structs.replace(profile.analyze, spread=msgspec.structs.replace(profile.analyze.spread, **kw)),
    )


def params(**kw: Any) -> MakerParams:
    return MakerParams.from_profile(with_spread(**kw))


def wide(ticker: str = "MM-1", bid: str = "0.47", ask: str = "0.53", **kw: Any) -> Market:
    """A book wide enough to quote (6 ¢), not crypto (the default allowance, $0.01), no fees for makers."""
    no = f"{1 - Decimal(ask):.2f}"
    return market(
        ticker, event=kw.pop("event", "MM"), yes=lv((bid, "100")), no=lv((no, "100")), category="Weather", **kw
    )


p = parse_price


# -- the plan --------------------------------------------------------------------------------------------


def test_flat_quotes_sit_symmetrically_around_the_mid_and_inside_the_touch() -> None:
    plan = plan_quotes(wide(), params())
    assert plan is not None and plan.fair == p("0.50") and plan.fair_source == "mid"
    assert plan.half == p("0.01") + p("0.005")  # allowance + min_edge (no maker fee on this schedule)
    assert plan.bid is not None and plan.ask is not None
    assert (plan.bid.side, plan.bid.price) == ("bid", p("0.48"))  # 0.485 snapped down
    assert (plan.ask.side, plan.ask.price) == ("ask", p("0.52"))  # 0.515 snapped up: a NO bid at 0.48
    assert plan.bid.count == plan.ask.count == 5 * C
    assert plan.bid.edge >= p("0.005") * C and plan.ask.edge >= p("0.005") * C


def test_quotes_never_improve_on_the_touch_by_more_than_a_tick_nor_cross_it() -> None:
    plan = plan_quotes(wide(bid="0.30", ask="0.70"), params())
    assert plan is not None and plan.bid and plan.ask
    assert (plan.bid.price, plan.ask.price) == (p("0.31"), p("0.69")), "one tick inside, no further"
    # a fair value far above the book: the bid stops one tick over the best bid, the ask one over the fair side,
    # and neither crosses the book (post-only)
    plan = plan_quotes(wide(bid="0.40", ask="0.42"), params(), fair=p("0.70"), fair_source="model")
    assert plan is not None and plan.bid is not None
    assert plan.bid.price == p("0.41") and plan.bid.price < p("0.42")
    assert plan.ask is not None and plan.ask.price > p("0.70")


def test_holding_yes_lowers_both_quotes_and_holding_no_raises_them() -> None:
    book = wide(bid="0.49", ask="0.51")  # tight enough that the touch does not bound the quotes
    flat = plan_quotes(book, params(), fair=p("0.50"))
    long = plan_quotes(book, params(), fair=p("0.50"), position=Count(20 * C), event_inventory=Count(20 * C))
    short = plan_quotes(book, params(), fair=p("0.50"), position=Count(-20 * C), event_inventory=Count(20 * C))
    assert flat and long and short and flat.bid and flat.ask and long.bid and long.ask and short.bid and short.ask
    assert long.skew == p("0.016") and short.skew == -p("0.016")  # 0.02 × 20 / 25
    assert (flat.bid.price, flat.ask.price) == (p("0.48"), p("0.52"))
    assert (long.bid.price, long.ask.price) == (p("0.46"), p("0.50")), "holding YES: both lower"
    assert (short.bid.price, short.ask.price) == (p("0.50"), p("0.54")), "holding NO: both higher"
    assert long.ask.reduces and not long.bid.reduces and short.bid.reduces


def test_at_the_market_limit_only_the_reducing_side_is_quoted() -> None:
    plan = plan_quotes(wide(), params(), position=Count(25 * C), event_inventory=Count(25 * C))
    assert plan is not None and plan.bid is None and "inventory limit" in plan.why["bid"]
    assert plan.ask is not None and plan.ask.reduces and plan.ask.count == 5 * C
    plan = plan_quotes(wide(), params(), position=Count(-25 * C), event_inventory=Count(25 * C))
    assert plan is not None and plan.ask is None and plan.bid is not None and plan.bid.reduces
    # near the limit the adding side shrinks to the room left
    plan = plan_quotes(wide(), params(), position=Count(23 * C), event_inventory=Count(23 * C))
    assert plan is not None and plan.bid is not None and plan.bid.count == 2 * C


def test_at_the_event_limit_only_reducing_quotes_in_that_event() -> None:
    flat_here = plan_quotes(wide(), params(), position=Count(0), event_inventory=Count(50 * C))
    assert flat_here is not None and flat_here.bid is None and flat_here.ask is None
    assert "event's inventory limit" in flat_here.why["bid"]
    held_here = plan_quotes(wide(), params(), position=Count(3 * C), event_inventory=Count(50 * C))
    assert held_here is not None and held_here.bid is None
    assert held_here.ask is not None and held_here.ask.count == 3 * C, "only what it holds, no more"


def test_half_spread_grows_with_volatility_and_the_market_class() -> None:
    calm = plan_quotes(wide(bid="0.20", ask="0.80"), params())
    vol = Volatility(20)
    for mid in ("0.50", "0.54", "0.50", "0.54"):
        m = wide(bid=f"{Decimal(mid) - Decimal('0.10'):.2f}", ask=f"{Decimal(mid) + Decimal('0.10'):.2f}")
        vol.observe(m)
    sigma = vol.sigma("MM-1")
    assert sigma > 0
    jumpy = plan_quotes(wide(bid="0.20", ask="0.80"), params(), sigma=sigma)
    assert calm and jumpy and jumpy.half == calm.half + int(sigma)
    crypto = plan_quotes(replace(wide(bid="0.20", ask="0.80"), category="Crypto"), params())
    assert crypto is not None and crypto.adverse == p("0.02") and crypto.half == calm.half + p("0.01")
    mine = plan_quotes(wide(bid="0.20", ask="0.80"), params(adverse_selection_by_class={"mm": Decimal("0.05")}))
    assert mine is not None and mine.adverse == p("0.05"), "the series prefix matches a class"


# -- the manager on the paper exchange ---------------------------------------------------------------------


class Rig:
    """One paper account, one journal, one quote manager; ``round()`` runs one round of quote management."""

    def __init__(self, tmp_path: Path, markets: list[Market], profile: Profile = P) -> None:
        self.profile = profile
        self.src = FakeSource(markets)
        self.j = Journal(tmp_path / "journal-paper.sqlite")
        self.broker = PaperBroker(
            self.src, paper_exchange_path(self.j.path), starting_balance=money(profile.paper.starting_balance)
        )
        self.broker.on_market_data(markets, SourceEvents(now_ms=self.src.now_ms()))
        self.q = QuoteManager(profile, self.j, self.broker)

    def round(
        self,
        *,
        state: TradingState = TradingState.ACTIVE,
        stale: Callable[[str], bool] = lambda t: False,
        fair: dict[str, Price] | None = None,
    ) -> ManageContext:
        pf = load_portfolio(self.j, money(self.profile.paper.starting_balance), now_ms=self.src.now_ms())
        gate = RiskGate(self.profile, self.j, pf, state)
        ex = OrderExecutor(self.profile, self.broker, self.j, gate, self.src.books, now_ms=self.src.now_ms)
        ctx = ManageContext(
            books=dict(self.src.markets),
            fair={t: (v, "model") for t, v in (fair or {}).items()},
            portfolio=pf,
            gate=gate,
            executor=ex,
            state=state,
            now_ms=self.src.now_ms(),
            stale=stale,
        )
        self.q.manage(ctx, self.q.to_manage(self.src.markets, pf))
        return ctx

    def move(self, m: Market, seconds: int = 10) -> None:
        self.src.markets[m.ticker] = m
        self.src._now += seconds * 1000
        self.broker.on_market_data([m], SourceEvents(now_ms=self.src.now_ms()))

    def resting(self) -> set[tuple[str, int, int]]:
        return {(o.side, o.price, o.remaining_count) for o in self.broker.orders(status=OrderStatus.RESTING)}

    def close(self) -> None:
        self.broker.close()
        self.j.close()


@pytest.fixture
def rig(tmp_path: Path):  # noqa: ANN201
    r = Rig(tmp_path, [wide()])
    yield r
    r.close()


def test_both_quotes_rest_journaled_before_sending_under_deterministic_ids(rig: Rig) -> None:
    ctx = rig.round()
    assert rig.resting() == {("bid", p("0.48"), 5 * C), ("ask", p("0.52"), 5 * C)}
    intents = rig.j.intents()
    assert {(i.strategy, i.status, i.post_only, i.time_in_force) for i in intents} == {
        ("spread", "acked", True, "good_till_canceled")
    }
    assert [r["kind"] for r in ctx.records] == ["order", "order"]
    assert rig.q.stats.created == 2
    again = rig.round()  # nothing moved: nothing is written
    assert again.records == [] and rig.q.stats.updates == 2


def test_a_move_beyond_the_threshold_amends_both_quotes_in_place(rig: Rig) -> None:
    rig.round()
    ids = {o.order_id for o in rig.broker.orders(status=OrderStatus.RESTING)}
    rig.move(wide(bid="0.50", ask="0.56"), seconds=5)  # the mid moves 3 ¢
    ctx = rig.round()
    assert rig.resting() == {("bid", p("0.51"), 5 * C), ("ask", p("0.55"), 5 * C)}
    assert {o.order_id for o in rig.broker.orders(status=OrderStatus.RESTING)} == ids, "amended, not replaced"
    assert rig.q.stats.amended == 2 and rig.q.stats.cancelled == 0
    amends = [i for i in rig.j.intents() if i.price in (p("0.51"), p("0.55"))]
    assert len(amends) == 2 and all(i.status == "acked" for i in amends)
    assert rig.j.intent_counts(["amend"]) == {("amend", "spread", ""): 2}, "journaled as amends, before sending"
    journal_view = {(o.side, o.price, o.client_order_id) for o in rig.j.orders(status=OrderStatus.RESTING)}
    assert journal_view == {(i.side, i.price, i.client_order_id) for i in amends}, "the journal follows the amend"
    assert [r["kind"] for r in ctx.records] == ["order", "order"]


def test_a_move_within_the_threshold_leaves_the_quotes_alone(rig: Rig) -> None:
    rig.round()
    rig.move(wide(bid="0.48", ask="0.54"), seconds=5)  # one tick: not more than requote_threshold (1 ¢)
    rig.round()
    assert rig.resting() == {("bid", p("0.48"), 5 * C), ("ask", p("0.52"), 5 * C)}
    assert rig.q.stats.updates == 2


def test_a_fair_value_move_re_prices_the_side_it_reaches(rig: Rig) -> None:
    rig.round(fair={"MM-1": p("0.50")})
    rig.src._now += 5_000
    rig.round(fair={"MM-1": p("0.53")})  # the bid stays one tick over the touch, the ask moves up with fair
    assert rig.resting() == {("bid", p("0.48"), 5 * C), ("ask", p("0.55"), 5 * C)}
    assert rig.q.stats.amended == 1


def test_without_amend_a_re_price_is_cancel_and_create(tmp_path: Path) -> None:
    r = Rig(tmp_path, [wide()], with_spread(use_amend=False))
    try:
        r.round()
        first = {o.order_id for o in r.broker.orders(status=OrderStatus.RESTING)}
        r.move(wide(bid="0.50", ask="0.56"), seconds=5)
        r.round()
        assert r.resting() == {("bid", p("0.51"), 5 * C), ("ask", p("0.55"), 5 * C)}
        assert not first & {o.order_id for o in r.broker.orders(status=OrderStatus.RESTING)}
        assert (r.q.stats.cancelled, r.q.stats.created, r.q.stats.amended) == (2, 4, 0)
    finally:
        r.close()


def test_re_prices_wait_for_min_requote_seconds(rig: Rig) -> None:
    rig.round()
    rig.move(wide(bid="0.50", ask="0.56"), seconds=1)  # 1 s < min_requote_seconds 2
    rig.round()
    assert rig.resting() == {("bid", p("0.48"), 5 * C), ("ask", p("0.52"), 5 * C)}
    assert rig.q.stats.held_back == 2
    rig.src._now += 2_000
    rig.round()
    assert rig.resting() == {("bid", p("0.51"), 5 * C), ("ask", p("0.55"), 5 * C)}


def test_the_token_bucket_caps_quote_writes(tmp_path: Path) -> None:
    books = [wide(f"MM-{i}") for i in range(6)]
    r = Rig(tmp_path, books, with_spread(max_updates_per_second=Decimal(1)))  # bursts of 5
    try:
        r.round()
        assert r.q.stats.created == 5 and r.q.stats.held_back == 7
        r.src._now += 3_000  # three more tokens
        r.round()
        assert r.q.stats.created == 8
    finally:
        r.close()


def test_inventory_shrinks_a_quote_with_decrease_keeping_its_place(tmp_path: Path) -> None:
    r = Rig(tmp_path, [wide()], with_spread(skew_at_limit=Decimal(0)))
    try:
        r.round()
        (bid,) = [o for o in r.broker.orders(status=OrderStatus.RESTING) if o.side == "bid"]
        # 22 YES bought elsewhere: 3 of room left under max_inventory 25
        buy = OrderIntent("elsewhere", "MM-1", "bid", p("0.60"), Count(22 * C), time_in_force="immediate_or_cancel")
        r.j.record_intent(buy, strategy="spread", opportunity_id="op-x")
        r.j.set_intent_status("elsewhere", IntentStatus.ACKED, order_id="o-x")
        r.j.add_fills(
            [
                ExchangeFill(
                    "f1",
                    "o-x",
                    "MM-1",
                    "bid",
                    p("0.60"),
                    Count(22 * C),
                    Money(0),
                    True,
                    r.src.now_ms(),
                    client_order_id="elsewhere",
                )
            ]
        )
        r.round()
        (after,) = [o for o in r.broker.orders(status=OrderStatus.RESTING) if o.side == "bid"]
        assert after.order_id == bid.order_id and after.remaining_count == 3 * C and after.price == bid.price
        assert r.q.stats.decreased == 1
    finally:
        r.close()


@pytest.mark.parametrize("why", ["stale", "reducing", "closing", "closed"])
def test_quotes_are_pulled_on_a_stale_book_a_risk_state_a_close_and_a_closed_market(rig: Rig, why: str) -> None:
    rig.round()
    assert len(rig.resting()) == 2
    m = rig.src.markets["MM-1"]
    if why == "stale":
        rig.round(stale=lambda t: t == "MM-1")
    elif why == "reducing":
        rig.round(state=TradingState.REDUCING)
    elif why == "closing":
        rig.src.markets["MM-1"] = replace(m, close_ts_ms=rig.src.now_ms() + 300_000)  # within 600 s
        rig.round()
    else:
        rig.src.markets["MM-1"] = replace(m, status="closed")
        rig.round()
    assert rig.resting() == set()
    assert rig.q.stats.pulled == 2
    (ev, _) = rig.j.events("quote-pulled")
    assert ev["ticker"] == "MM-1" and ev["detail"]["why"]
    assert not [o for o in rig.j.orders(status=OrderStatus.RESTING)], "the journal knows they are gone"


def test_pulls_are_never_held_back_by_the_rate_limits(tmp_path: Path) -> None:
    r = Rig(tmp_path, [wide()], with_spread(max_updates_per_second=Decimal("0.4"), min_requote_seconds=Decimal(600)))
    try:
        r.round()
        r.round(stale=lambda t: True)
        assert r.resting() == set() and r.q.stats.pulled == 2
    finally:
        r.close()


def test_a_halt_cancels_every_quote_at_the_next_iteration(tmp_path: Path) -> None:
    src = FakeSource([wide()])
    j = Journal(tmp_path / "journal-paper.sqlite")
    broker = PaperBroker(src, paper_exchange_path(j.path), starting_balance=money(P.paper.starting_balance))
    try:
        loop = TradingLoop(P, src, broker, j)
        first = loop.run_iteration()
        assert first.record["quotes"]["created"] == 2 and len(broker.orders(status=OrderStatus.RESTING)) == 2
        set_halted(j, "operator")
        halted = loop.run_iteration()
        assert halted.state is TradingState.HALTED and not broker.orders(status=OrderStatus.RESTING)
        assert halted.record["quotes_resting"] == 0
    finally:
        broker.close()
        j.close()


def test_own_quotes_are_not_market_liquidity_on_a_book_that_shows_them(tmp_path: Path) -> None:
    """An exchange's book includes our quotes: the plan is made on the book without them."""
    from kalashi_cli.stages.own_orders import own_books

    r = Rig(tmp_path, [wide()])
    try:
        r.round()
        ours = r.j.orders(status=OrderStatus.RESTING)
        shown = replace(wide(), yes_bids=lv(("0.48", "5"), ("0.47", "100")), no_bids=lv(("0.48", "5"), ("0.47", "100")))
        (seen,) = own_books([shown], ours, included=True, reach=False)
        assert (seen.yes_bid, seen.yes_ask) == (p("0.47"), p("0.53"))
        plan = plan_quotes(seen, r.q.params)
        assert plan is not None and plan.fair == p("0.50"), "our own 0.48/0.52 does not move fair value"
    finally:
        r.close()


def test_the_loop_reports_quote_updates_and_inventory_per_iteration(tmp_path: Path) -> None:
    src = FakeSource([wide()])
    j = Journal(tmp_path / "journal-paper.sqlite")
    broker = PaperBroker(src, paper_exchange_path(j.path), starting_balance=money(P.paper.starting_balance))
    try:
        rec = TradingLoop(P, src, broker, j).run_iteration().record
        assert rec["quotes"]["created"] == 2 and rec["quotes"]["updates"] == 2
        assert rec["quotes_resting"] == 2 and rec["inventory"] == "0.00"
    finally:
        broker.close()
        j.close()


# -- between iterations (run-loop --react) -------------------------------------------------------------------


class _Feed:
    def next_batch(self, timeout: float) -> None:
        return None

    def discard(self) -> None:
        pass


def _mm_only() -> Profile:
    return msgspec.structs.replace(
        P,
        analyze=msgspec.structs.replace(
            P.analyze,
            arbitrage=msgspec.structs.replace(P.analyze.arbitrage, enabled=False),
            value=msgspec.structs.replace(P.analyze.value, enabled=False),
        ),
    )


def test_a_reaction_re_prices_the_quotes_of_a_changed_book_and_pulls_a_stale_one(tmp_path: Path) -> None:
    from kalashi_cli.react import BookBatch, Reactor

    src = FakeSource([wide(), wide("MM-2", event="MM2")])
    j = Journal(tmp_path / "journal-paper.sqlite")
    broker = PaperBroker(src, paper_exchange_path(j.path), starting_balance=money(P.paper.starting_balance))
    try:
        loop = TradingLoop(_mm_only(), src, broker, j)
        reactor = Reactor(loop, _Feed())
        loop.run_iteration()
        assert {(o.ticker, o.price) for o in broker.orders(status=OrderStatus.RESTING)} == {
            ("MM-1", p("0.48")),
            ("MM-1", p("0.52")),
            ("MM-2", p("0.48")),
            ("MM-2", p("0.52")),
        }
        src.markets["MM-1"] = wide(bid="0.50", ask="0.56")
        src._now += 5_000  # the market clock moves on (min_requote_seconds)
        broker.on_market_data([src.markets["MM-1"]], SourceEvents(now_ms=src.now_ms()))
        assert reactor.react(BookBatch(("MM-1",))) == 2, "both quotes of MM-1 amended"
        assert {(o.ticker, o.price) for o in broker.orders(status=OrderStatus.RESTING)} == {
            ("MM-1", p("0.51")),
            ("MM-1", p("0.55")),
            ("MM-2", p("0.48")),
            ("MM-2", p("0.52")),
        }
        del src.markets["MM-2"]  # no trustworthy book any more (a gap, a disconnect): pulled at once
        assert reactor.react(BookBatch(("MM-2",))) == 2
        assert {o.ticker for o in broker.orders(status=OrderStatus.RESTING)} == {"MM-1"}
        assert loop.quoter.stats.amended == 2 and loop.quoter.stats.pulled == 2
    finally:
        broker.close()
        j.close()


def test_a_quote_never_meets_our_own_resting_order(rig: Rig) -> None:
    """Self-trade: our own resting ask (another strategy's) at 0.47 stands where the bid would go."""
    mine = OrderIntent(
        "other", "MM-1", "ask", p("0.47"), Count(2 * C), time_in_force="good_till_canceled", post_only=True
    )
    rig.j.record_intent(mine, strategy="manual", opportunity_id="op-m")
    rig.src.markets["MM-1"] = wide(bid="0.46", ask="0.53")
    rig.j.record_ack("other", rig.broker.submit(mine).order_id, rig.broker.orders(status=OrderStatus.RESTING)[0], [])
    ctx = rig.round()
    denied = [r for r in ctx.records if r["kind"] == "denied"]
    assert [(d["rule"], d["strategy"]) for d in denied] == [("own-order", "spread")]
    assert ("bid", p("0.47"), 5 * C) not in rig.resting() and rig.q.stats.created == 1  # the ask only
