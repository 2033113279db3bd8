"""analyze: every reported edge is net of fees, and every arbitrage really pays in every outcome."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from kalashi_cli.domain import Market, Opportunity
from kalashi_cli.money import COUNT_SCALE, ONE_DOLLAR, Count, Price, parse_price
from kalashi_cli.profile import load_profile
from kalashi_cli.stages.analyze import Analyzer
from kalashi_cli.stages.book import buy_slices, slices_cost, slices_fees

from .factories import lv, market, strike

PROFILE = load_profile("default")


def run(markets: list[Market], fair: dict[str, Price] | None = None) -> list[Opportunity]:
    return list(Analyzer(PROFILE, fair=fair).analyze(markets, as_of_ms=1, src="test"))


def leg_costs(o: Opportunity, by: dict[str, Market]) -> tuple[int, int]:
    cost = fees = 0
    for leg in o.legs:
        sl = buy_slices(by[leg.ticker], leg.outcome, leg.count, max_price=leg.price)
        assert sum(s for _, s in sl) == leg.count, "the reported size is really available at the leg price"
        cost += slices_cost(sl)
        fees += slices_fees(sl, by[leg.ticker])
    return cost, fees


def test_no_basket_on_mutually_exclusive_event() -> None:
    # three exclusive outcomes, YES bid 0.40 on each → NO offered at 0.60: 1.80 for a basket paying ≥ 2
    ms = [
        market(
            f"E-{c}", event="E", yes=lv(("0.40", "40"), ("0.30", "100")), no=lv(("0.50", "40")), mutually_exclusive=True
        )
        for c in "ABC"
    ]
    ops = [o for o in run(ms) if o.strategy == "arbitrage"]
    assert len(ops) == 1
    o = ops[0]
    assert [x.outcome for x in o.legs] == ["no", "no", "no"]
    # the first level (40 contracts at 0.60) pays; the next (at 0.70 → 2.10 a basket) does not
    assert all(x.count == 4000 for x in o.legs)
    # fee at 0.60 is $0.0168 per contract per leg
    assert o.edge == 200_000 - 3 * 16_800
    assert o.fees == 3 * 672_000
    assert "at least $2.0000" in o.reason


def test_ladder_inversion_is_found_and_pays_in_every_outcome() -> None:
    # P(above 100) must be ≥ P(above 110); here YES above 110 bids 0.60 while YES above 100 is offered at 0.50
    lo = strike("L-T100", "100", yes=lv(("0.45", "30")), no=lv(("0.50", "30")))  # yes ask 0.50
    hi = strike("L-T110", "110", yes=lv(("0.60", "20")), no=lv(("0.35", "20")))  # no ask 0.40
    ops = [o for o in run([lo, hi]) if o.strategy == "arbitrage"]
    assert len(ops) == 1
    o = ops[0]
    assert {(x.ticker, x.outcome) for x in o.legs} == {("L-T100", "yes"), ("L-T110", "no")}
    cost, fees = leg_costs(o, {"L-T100": lo, "L-T110": hi})
    size = o.legs[0].count
    for value in (90, 105, 120):  # below both, between, above both
        pays = (size if value > 100 else 0) + (size if value <= 110 else 0)
        assert pays * ONE_DOLLAR - cost - fees >= o.edge * size // COUNT_SCALE
    assert "ladder" in o.reason or "inverted" in o.reason


def test_value_edge_is_net_of_fees() -> None:
    m = market("V-1", yes=lv(("0.38", "50")), no=lv(("0.60", "50")))  # yes ask 0.40
    ops = [o for o in run([m], fair={"V-1": parse_price("0.50")}) if o.strategy == "value"]
    assert len(ops) == 1
    o = ops[0]
    # 0.50 − 0.40 − fee(0.40) = 0.10 − 0.0168 per contract
    assert o.edge == 100_000 - 16_800
    assert o.legs[0].outcome == "yes" and o.legs[0].count == 5000
    assert o.score == (Decimal(o.edge) / 10**6 * o.confidence * o.liquidity).quantize(Decimal("0.000001"))


def test_no_value_when_fees_eat_the_edge() -> None:
    m = market("V-2", yes=lv(("0.48", "50")), no=lv(("0.51", "50")))  # yes ask 0.49
    assert not [o for o in run([m], fair={"V-2": parse_price("0.50")}) if o.strategy == "value"]


def test_spread_quotes_both_sides_one_tick_inside_and_post_only() -> None:
    """The market maker quotes a YES bid and a NO bid (a YES ask), each one tick inside the touch."""
    m = market("S-1", yes=lv(("0.40", "30")), no=lv(("0.50", "30")), fee_type="quadratic_with_maker_fees")
    ops = sorted((o for o in run([m]) if o.strategy == "spread"), key=lambda o: o.legs[0].outcome, reverse=True)
    assert [(o.legs[0].outcome, o.legs[0].price) for o in ops] == [
        ("yes", parse_price("0.41")),
        ("no", parse_price("0.51")),
    ]
    for o in ops:
        assert o.maker and o.legs[0].count == 5 * COUNT_SCALE  # spread.quote_size
        assert o.edge < (parse_price("0.45") - parse_price("0.41")) * COUNT_SCALE  # fee and allowance deducted


def test_a_changed_book_is_never_served_from_the_cache() -> None:
    """Event-level arbitrage is cached under a key that contains every leg's book."""
    a = Analyzer(PROFILE)
    lo = strike("L-T100", "100", yes=lv(("0.45", "30")), no=lv(("0.50", "30")))
    hi = strike("L-T110", "110", yes=lv(("0.60", "20")), no=lv(("0.35", "20")))
    hi_moved = strike("L-T110", "110", yes=lv(("0.40", "20")), no=lv(("0.55", "20")))  # no inversion now
    first = [o for o in a.analyze([lo, hi]) if o.strategy == "arbitrage"]
    again = [o for o in a.analyze([lo, hi]) if o.strategy == "arbitrage"]
    changed = [o for o in a.analyze([lo, hi_moved]) if o.strategy == "arbitrage"]
    assert a.stats.hits == 1 and a.stats.misses == 2
    assert first and [o.edge for o in first] == [o.edge for o in again]
    assert changed == []


levels = st.lists(st.tuples(st.integers(1, 99), st.integers(1, 60)), min_size=1, max_size=4)


def _book(raw: list[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    best: dict[int, int] = {}
    for p, s in raw:
        best[p * 100] = best.get(p * 100, 0) + s * COUNT_SCALE
    return tuple(sorted(best.items(), reverse=True))


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(levels, levels), min_size=2, max_size=6), st.booleans())
def test_mutually_exclusive_arbitrage_pays_at_least_its_edge_in_every_outcome(books: list, exhaustive: bool) -> None:
    n = len(books)
    ms = [
        market(
            f"M-{i}",
            event="M",
            yes=_book(y),
            no=_book(no_),
            mutually_exclusive=True,
            exhaustive=exhaustive,
            event_market_count=n,
        )
        for i, (y, no_) in enumerate(books)
    ]
    # keep books uncrossed: a YES bid below the YES ask
    ms = [m for m in ms if m.yes_bid is None or m.yes_ask is None or m.yes_bid < m.yes_ask]
    if len(ms) != n:
        return
    by = {m.ticker: m for m in ms}
    for o in run(ms):
        if o.strategy != "arbitrage":
            continue
        cost, fees = leg_costs(o, by)
        size = o.legs[0].count
        winners = list(range(n)) + ([] if exhaustive else [None])
        for w in winners:
            pays = sum(size for i, leg in enumerate(o.legs) if (leg.outcome == "yes") == (leg.ticker == f"M-{w}"))
            assert pays * ONE_DOLLAR - cost - fees >= o.edge * size // COUNT_SCALE, (w, o.reason)
            assert o.edge >= 5000  # min_edge $0.005 per basket


def test_with_books_is_replace_for_the_ladders() -> None:
    """scan trims depth with the fast with_books; it must build exactly what dataclasses.replace would."""
    from dataclasses import fields, replace

    from kalashi_cli.domain import with_books

    m = replace(
        strike("KXLAD-26JAN01-T50", "50", yes=lv(("0.40", "5"), ("0.39", "7")), no=lv(("0.55", "3"))),
        forecast_p=parse_price("0.47"),
        volume=Count(1234),
        close_ts_ms=99,
    )
    yes, no = m.yes_bids[:1], ()
    fast, slow = with_books(m, yes, no), replace(m, yes_bids=yes, no_bids=no)
    assert fast == slow and type(fast) is Market
    assert all(getattr(fast, f.name) is getattr(slow, f.name) for f in fields(Market))
    assert m.yes_bids != yes, "the original is untouched"


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(levels, levels), min_size=2, max_size=4), st.sampled_from(["greater", "less"]))
def test_ladder_arbitrage_pays_at_least_its_edge_wherever_the_value_lands(books: list, kind: str) -> None:
    """Both one-sided ladders ("above K" with floor_strike, "below K" with cap_strike), random books."""
    strikes = [100 + 10 * i for i in range(len(books))]
    ms = [
        strike(f"L-{k}", str(k), yes=_book(y), no=_book(no_), kind=kind)
        for k, (y, no_) in zip(strikes, books, strict=True)
    ]
    if any(m.yes_bid is not None and m.yes_ask is not None and m.yes_bid >= m.yes_ask for m in ms):
        return  # crossed book: not a market state
    by = {m.ticker: m for m in ms}
    k_of = {m.ticker: k for m, k in zip(ms, strikes, strict=True)}
    for o in run(ms):
        if o.strategy != "arbitrage":
            continue
        cost, fees = leg_costs(o, by)
        size = o.legs[0].count
        for value in [strikes[0] - 5, *(k + 5 for k in strikes), *strikes]:
            yes_wins = {t: (value > k if kind == "greater" else value < k) for t, k in k_of.items()}
            pays = sum(size for leg in o.legs if (leg.outcome == "yes") == yes_wins[leg.ticker])
            assert pays * ONE_DOLLAR - cost - fees >= o.edge * size // COUNT_SCALE, (value, o.reason)


def test_an_inverted_below_ladder_is_found() -> None:
    # P(below 100) must be ≤ P(below 110); YES below 100 bids 0.60 while YES below 110 is offered at 0.50
    lo = strike("B-T100", "100", yes=lv(("0.60", "20")), no=lv(("0.35", "20")), kind="less")  # NO ask 0.40
    hi = strike("B-T110", "110", yes=lv(("0.45", "30")), no=lv(("0.50", "30")), kind="less")  # YES ask 0.50
    [o] = [o for o in run([lo, hi]) if o.strategy == "arbitrage"]
    assert {(x.ticker, x.outcome) for x in o.legs} == {("B-T100", "no"), ("B-T110", "yes")}
    assert "strike 100" in o.reason and "strike 110" in o.reason


def test_the_cache_hits_across_iterations_when_events_outnumber_it() -> None:
    """300 two-market events through a 200-entry cache, twice: plain LRU would never hit; we hit every kept event."""
    assert PROFILE.analyze.cache.max_entries == 200
    ms = [
        market(f"E{i}-{x}", event=f"E{i}", yes=lv(("0.40", "10")), no=lv(("0.55", "10")), mutually_exclusive=True)
        for i in range(300)
        for x in "AB"
    ]
    a = Analyzer(PROFILE)
    list(a.analyze(ms))
    assert (a.stats.hits, a.stats.misses) == (0, 300)
    moved = [dataclasses.replace(m, yes_bids=lv(("0.41", "10"))) if m.event_ticker == "E0" else m for m in ms]
    list(a.analyze(moved))
    assert (a.stats.hits, a.stats.misses) == (199, 401), "E0's books changed: a miss, never a stale hit"
