"""The sim universe: determinism, layout, valid books, hidden truth, dislocations, settlement."""

from __future__ import annotations

import collections
import dataclasses
import hashlib
import math
import os
import subprocess
import sys
from collections.abc import Iterable

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kalashi_cli.domain import Market
from kalashi_cli.money import COUNT_SCALE, ONE_DOLLAR, Count, Price, fee_for, on_grid
from kalashi_cli.sim.universe import EPOCH_MS, EventInfo, SimUniverse
from kalashi_cli.sim.universe_books import MARKET_FIELDS, mix64, new_market
from kalashi_cli.sim.universe_core import mix

N = 2500
STEPS = range(1, 121)


@pytest.fixture(scope="module")
def uni() -> SimUniverse:
    return SimUniverse(seed=7, markets=N)


@pytest.fixture(scope="module")
def walk(uni: SimUniverse) -> dict[int, tuple[list[Market], list[EventInfo]]]:
    """Markets and events at every step of a 120-step walk (computed once for the module)."""
    return {s: (list(uni.markets_at(s)), uni.events_at(s)) for s in STEPS}


def digest(markets: Iterable[Market]) -> str:
    h = hashlib.sha256()
    for m in markets:
        h.update(repr(dataclasses.astuple(m)).encode())
    return h.hexdigest()


def fee1(m: Market, price: int) -> int:
    return fee_for(Price(price), Count(COUNT_SCALE), fee_type=m.fee_type, multiplier=m.fee_multiplier)


def arbitrage(markets: list[Market], event: EventInfo) -> str | None:
    """Return the kind of fee-positive arbitrage (one contract per leg, taker fees) in an event."""
    if any(m.status != "active" for m in markets) or len(markets) < 2:
        return None
    if event.mutually_exclusive and all(m.yes_bid is not None for m in markets):
        bids = [m.yes_bid for m in markets if m.yes_bid is not None]
        edge = (sum(bids) - ONE_DOLLAR) * 100 - sum(fee1(m, ONE_DOLLAR - b) for m, b in zip(markets, bids, strict=True))
        if edge > 0:
            return "no_basket"
    if event.mutually_exclusive and event.exhaustive and all(m.yes_ask is not None for m in markets):
        asks = [m.yes_ask for m in markets if m.yes_ask is not None]
        edge = ONE_DOLLAR * 100 - sum(a * 100 + fee1(m, a) for m, a in zip(markets, asks, strict=True))
        if edge > 0:
            return "yes_basket"
    if event.shape == "ladder":
        for lo, hi in zip(markets, markets[1:], strict=False):
            if lo.yes_ask is not None and hi.yes_bid is not None:
                edge = (hi.yes_bid - lo.yes_ask) * 100 - fee1(lo, lo.yes_ask) - fee1(hi, ONE_DOLLAR - hi.yes_bid)
                if edge > 0:
                    return "ladder"
    return None


def by_event(markets: list[Market]) -> dict[str, list[Market]]:
    out: dict[str, list[Market]] = collections.defaultdict(list)
    for m in markets:
        out[m.event_ticker].append(m)
    return out


# --------------------------------------------------------------------------- determinism


def test_same_seed_same_markets_and_random_access() -> None:
    a = SimUniverse(seed=3, markets=800)
    b = SimUniverse(seed=3, markets=800)
    for s in range(0, 12):  # walk a step by step
        a.markets_at(s)
    assert digest(a.markets_at(11)) == digest(b.markets_at(11))  # b jumps straight there
    assert a.markets_at(11) == b.markets_at(11)
    assert digest(SimUniverse(seed=4, markets=800).markets_at(11)) != digest(b.markets_at(11))


def test_another_process_rebuilds_identical_books() -> None:
    here = digest(SimUniverse(seed=11, markets=600).markets_at(42))
    code = (
        "import dataclasses, hashlib\n"
        "from kalashi_cli.sim.universe import SimUniverse\n"
        "h = hashlib.sha256()\n"
        "for m in SimUniverse(seed=11, markets=600).markets_at(42):\n"
        "    h.update(repr(dataclasses.astuple(m)).encode())\n"
        "print(h.hexdigest())\n"
    )
    env = dict(os.environ, PYTHONHASHSEED="12345")  # a different str hash: must not matter
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120, check=True)
    assert out.stdout.strip() == here


def test_market_at_matches_the_full_listing() -> None:
    u = SimUniverse(seed=2, markets=1200)
    listing = u.markets_at(30)
    fresh = SimUniverse(seed=2, markets=1200)  # no cache: rebuilds one event per call
    for m in listing[::37]:
        assert fresh.market_at(m.ticker, 30) == m
    assert fresh.market_at("KXNOPE-26JAN01G0-X", 30) is None
    assert fresh.market_at("garbage", 30) is None


def test_vectorised_hash_matches_the_scalar_one() -> None:
    xs = [0, 1, 2**63, 2**64 - 1, 12_345_678_901_234_567]
    assert mix(np.array(xs, dtype=np.uint64)).tolist() == [mix64(x) for x in xs]


def test_fast_market_constructor_equals_the_dataclass() -> None:
    m = SimUniverse(seed=1, markets=50).markets_at(5)[0]
    values = [getattr(m, f) for f in MARKET_FIELDS]
    assert new_market(*values) == Market(**dict(zip(MARKET_FIELDS, values, strict=True)))
    with pytest.raises(dataclasses.FrozenInstanceError):
        m.status = "closed"  # type: ignore[misc]


# --------------------------------------------------------------------------- layout


@pytest.mark.parametrize("n", [1, 7, 333, 2000])
def test_exactly_n_markets_with_unique_tickers(n: int) -> None:
    u = SimUniverse(seed=5, markets=n)
    for s in (0, 17, 400):
        ms = u.markets_at(s)
        assert len(ms) == n
        assert len({m.ticker for m in ms}) == n


def test_scales_to_twenty_thousand_markets() -> None:
    u = SimUniverse(seed=0, markets=20_000)
    ms = u.markets_at(3)
    assert len(ms) == 20_000
    assert len({m.ticker for m in ms}) == 20_000
    assert {m.category for m in ms} == {
        "Elections",
        "Politics",
        "Crypto",
        "Financials",
        "Sports",
        "Economics",
        "Climate and Weather",
    }


def test_tickers_are_stable_and_never_reused_across_generations(uni: SimUniverse, walk: dict) -> None:
    owner: dict[str, str] = {}
    events: set[str] = set()
    for s in STEPS:
        for m in walk[s][0]:
            assert owner.setdefault(m.ticker, m.event_ticker) == m.event_ticker
            assert m.ticker.startswith(m.event_ticker + "-")
            assert m.event_ticker.startswith(m.series_ticker + "-")
            events.add(m.event_ticker)
    # generations rolled over during the walk: more events than slots
    assert len(events) > len(uni.events_at(1))


def test_every_category_shape_fee_type_and_grid_is_present(walk: dict) -> None:
    markets, events = walk[1]
    assert {e.shape for e in events} == {"binary", "me", "ladder", "brackets", "combo"}
    me = [e for e in events if e.shape == "me"]
    assert any(e.exhaustive for e in me) and any(not e.exhaustive for e in me)
    assert any(e.shape == "brackets" and e.exhaustive for e in events)
    assert {m.fee_type for m in markets} >= {
        "quadratic",
        "quadratic_with_maker_fees",
        "quadratic_with_combo_maker_fees",
    }
    assert any(m.fee_multiplier != 10_000 for m in markets)
    steps = {tuple(b.step for b in m.price_ranges) for m in markets}
    assert steps == {(100,), (10,), (10, 100, 10)}  # cent, deci-cent, tapered
    assert {m.strike_type for m in markets} >= {"greater", "less", "between", None, "custom"}
    assert any(m.is_combo for m in markets)


def test_flags_on_markets_match_their_events(walk: dict) -> None:
    markets, events = walk[1]
    grouped = by_event(markets)
    for e in events:
        ms = grouped[e.event_ticker]
        assert tuple(m.ticker for m in ms) == e.market_tickers
        for m in ms:
            assert m.mutually_exclusive == e.mutually_exclusive
            assert m.exhaustive == e.exhaustive
            assert m.event_market_count == len(ms)
            assert m.close_time == e.close_time and m.close_ts_ms == e.close_ts_ms
        if e.shape == "ladder":
            floors = [m.floor_strike for m in ms if m.floor_strike is not None]
            assert len(floors) == len(ms)
            assert all(m.strike_type == "greater" for m in ms)
            assert floors == sorted(floors) and len(set(floors)) == len(floors)
        if e.shape == "brackets":
            between = [m for m in ms if m.strike_type == "between"]
            for a, b in zip(between, between[1:], strict=False):
                assert a.cap_strike is not None and b.floor_strike is not None and a.cap_strike < b.floor_strike
            if e.exhaustive:
                assert ms[0].strike_type == "less" and ms[0].cap_strike == between[0].floor_strike
                assert ms[-1].strike_type == "greater" and ms[-1].floor_strike == between[-1].cap_strike


def test_series_metadata() -> None:
    u = SimUniverse(seed=0, markets=3000)
    series = {s.ticker: s for s in u.series()}
    assert series["KXMLBGAME"].fee_type == "quadratic_with_maker_fees"
    assert series["KXMLBGAME"].fee_multiplier == 5_000
    assert {m.series_ticker for m in u.markets_at(0)} <= set(series)


# --------------------------------------------------------------------------- books


def test_books_are_valid(walk: dict) -> None:
    statuses: collections.Counter[str] = collections.Counter()
    for s in (1, 2, 40, 77, 120):
        for m in walk[s][0]:
            statuses[m.status] += 1
            for side in (m.yes_bids, m.no_bids):
                prices = [p for p, _ in side]
                assert prices == sorted(prices, reverse=True) and len(set(prices)) == len(prices)
                for p, size in side:
                    assert on_grid(p, m.price_ranges), (m.ticker, p)
                    assert size >= COUNT_SCALE
            if m.yes_bid is not None and m.yes_ask is not None:
                assert m.yes_bid < m.yes_ask, m.ticker  # no single book is ever crossed
            if m.status in ("initialized", "closed", "finalized"):
                assert not m.yes_bids and not m.no_bids
            else:
                assert m.yes_bids or m.no_bids
            assert m.forecast_p is None  # no oracle unless asked for (forecast_skill)
            assert 0 <= m.open_interest <= m.volume
    assert {"active", "inactive", "initialized", "closed", "finalized"} <= set(statuses)


def test_some_markets_fail_a_scan_prefilter(walk: dict) -> None:
    markets = [m for m in walk[60][0] if m.status == "active"]
    thin = [m for m in markets if m.volume <= 100 * COUNT_SCALE or m.open_interest <= 50 * COUNT_SCALE]
    assert 0.02 * len(markets) < len(thin) < 0.5 * len(markets)


def test_volume_and_open_interest_grow_within_a_generation(uni: SimUniverse, walk: dict) -> None:
    prev: dict[str, Market] = {}
    for s in STEPS:
        for m in walk[s][0]:
            p = prev.get(m.ticker)
            if p is not None:
                assert m.volume >= p.volume
            prev[m.ticker] = m
    assert sum(1 for m in walk[120][0] if m.volume > 0) > N // 2


def test_trades_match_volume_growth_and_print_at_the_touch_or_inside(uni: SimUniverse, walk: dict) -> None:
    inside = at_touch = 0
    for s in (5, 6, 50):
        trades = uni.trades_between(s - 1, s)
        assert trades, "a liquid universe trades every step"
        now = {m.ticker: m for m in walk[s][0]}
        before = {m.ticker: m for m in walk[s - 1][0]}
        traded: collections.Counter[str] = collections.Counter()
        for t in trades:
            m = now[t.ticker]
            assert m.status == "active"
            assert uni.time_ms(s - 1) < t.ts_ms <= uni.time_ms(s)
            assert on_grid(t.price, m.price_ranges)
            # takers take the touch; an informed trader whose value lies inside the spread trades
            # at that value instead (an order there would have been hit), never through the touch
            touch = m.yes_ask if t.taker_side == "bid" else m.yes_bid
            if t.price == touch:
                at_touch += 1
            else:
                inside += 1
                assert m.yes_bid is not None and m.yes_ask is not None
                assert m.yes_bid < t.price < m.yes_ask, t
            traded[t.ticker] += t.count
        assert len({t.trade_id for t in trades}) == len(trades)
        for ticker, count in traded.items():
            assert count == now[ticker].volume - before[ticker].volume
    assert 0 < inside < 0.25 * at_touch
    assert uni.trades_between(3, 5) == uni.trades_between(3, 4) + uni.trades_between(4, 5)


# --------------------------------------------------------------------------- hidden truth


def test_hidden_probabilities_are_coherent(uni: SimUniverse) -> None:
    for s in (1, 60, 119):
        hidden = uni.hidden_probabilities_at(s)
        for e in uni.events_at(s):
            ps = [hidden[t] for t in e.market_tickers if t in hidden]
            if len(ps) != len(e.market_tickers):
                continue
            assert all(0.0 <= p <= 1.0 for p in ps)
            if e.shape == "ladder":
                assert all(a >= b - 1e-12 for a, b in zip(ps, ps[1:], strict=False)), e.event_ticker
            if e.mutually_exclusive and e.exhaustive:
                assert math.isclose(sum(ps), 1.0, abs_tol=1e-9), e.event_ticker
            elif e.mutually_exclusive:
                assert sum(ps) < 1.0 + 1e-9


def test_no_forecast_by_default_and_its_skill_is_what_the_user_set() -> None:
    """The forecast is off unless asked for; skill s removes the share s of the book's error."""
    assert all(m.forecast_p is None for m in SimUniverse(seed=5, markets=600).markets_at(40))
    hidden = SimUniverse(seed=5, markets=600).hidden_probabilities_at(40)
    errors: dict[float, list[float]] = {}
    for skill in (0.0, 0.5, 1.0):
        u = SimUniverse(seed=5, markets=600, forecast_skill=skill)
        errs = errors[skill] = []
        at_mid = 0
        for m in u.markets_at(40):
            if m.status != "active" or m.yes_bid is None or m.yes_ask is None:
                continue
            assert m.forecast_p is not None and 0 < m.forecast_p < ONE_DOLLAR
            at_mid += abs(m.forecast_p - (m.yes_bid + m.yes_ask) / 2) <= 0.5
            errs.append(abs(m.forecast_p / ONE_DOLLAR - hidden[m.ticker]))
        if skill == 0.0:  # the book's own mid (the belief where a side is only a lone long-shot bid)
            assert at_mid > 0.9 * len(errs)
    mean = {k: sum(v) / len(v) for k, v in errors.items()}
    assert mean[1.0] < 0.0001  # an oracle, rounded to the price unit
    assert 0.4 * mean[0.0] < mean[0.5] < 0.6 * mean[0.0]
    assert mean[0.0] > 0.005  # the book's mid is an honest but imperfect estimate
    with pytest.raises(ValueError):
        SimUniverse(seed=5, markets=600, forecast_skill=1.5)


# --------------------------------------------------------------------------- dislocations


ARBITRAGE_KINDS = ("no_basket", "yes_basket", "ladder")


@pytest.fixture(scope="module")
def armed() -> SimUniverse:
    """The same universe with every drawn arbitrage dislocation standing (the test knob)."""
    return SimUniverse(seed=7, markets=N, arbitrage_share=1.0)


@pytest.fixture(scope="module")
def armed_walk(armed: SimUniverse) -> dict[int, tuple[list[Market], list[EventInfo]]]:
    return {s: (list(armed.markets_at(s)), armed.events_at(s)) for s in STEPS}


def test_dislocations_create_fee_positive_arbitrage_that_heals(armed: SimUniverse, armed_walk: dict) -> None:
    uni, walk = armed, armed_walk
    seen: collections.Counter[str] = collections.Counter()
    natural = event_steps = 0
    for s in STEPS:
        markets, events = walk[s]
        grouped = by_event(markets)
        active = {d.event_ticker: d for d in uni.dislocations_at(s)}
        for e in events:
            kind = arbitrage(grouped[e.event_ticker], e)
            d = active.get(e.event_ticker)
            event_steps += 1
            if d is not None and d.kind in ARBITRAGE_KINDS:
                assert kind == d.kind, (s, e.event_ticker, d)
                seen[d.kind] += 1
                assert d.start_step == s and d.end_step == s + 1  # fleeting: one step (competitors take it)
            elif kind is not None:
                natural += 1
    assert seen["no_basket"] and seen["yes_basket"] and seen["ladder"]
    assert natural <= 0.001 * event_steps  # outside dislocations arbitrage is (almost) absent
    # healed: once a dislocation ends its event is fair again
    ended = [
        d
        for s in STEPS
        for d in uni.dislocations_at(s)
        if d.end_step == s + 1 and d.end_step in walk and d.kind in ARBITRAGE_KINDS
    ]
    assert ended
    for d in ended:
        markets, events = walk[d.end_step]
        e = next(x for x in events if x.event_ticker == d.event_ticker)
        if not any(x.event_ticker == d.event_ticker for x in uni.dislocations_at(d.end_step)):
            assert arbitrage(by_event(markets)[d.event_ticker], e) is None


def test_arbitrage_is_rare_and_thin_by_default_and_the_knob_changes_nothing_else(
    uni: SimUniverse, walk: dict, armed: SimUniverse
) -> None:
    """Real captures show no fee-positive arbitrage in 456 event snapshots (bench/arb_real.py):
    by default the sim shows one in well under 1 in 1 000 event-steps, with 1-10 contracts left."""
    event_steps = sum(len(walk[s][1]) for s in STEPS)
    default = [(s, d) for s in STEPS for d in uni.dislocations_at(s) if d.kind in ARBITRAGE_KINDS]
    armed_arb = [(s, d) for s in STEPS for d in armed.dislocations_at(s) if d.kind in ARBITRAGE_KINDS]
    assert len(default) <= 0.0005 * event_steps, (len(default), event_steps)
    assert len(armed_arb) >= 10 * max(1, len(default))  # the same draws; the default keeps 1 in 20
    assert {(s, d.event_ticker) for s, d in default} <= {(s, d.event_ticker) for s, d in armed_arb}
    for s in STEPS[::10]:  # value and wide dislocations (what informed flow trades on) are the knob's business not
        assert [d for d in uni.dislocations_at(s) if d.kind not in ARBITRAGE_KINDS] == [
            d for d in armed.dislocations_at(s) if d.kind not in ARBITRAGE_KINDS
        ]
    sizes = []
    for s in STEPS:
        for d in armed.dislocations_at(s):
            if d.kind == "no_basket":
                sizes += [m.yes_bid_size for m in by_event(armed.markets_at(s))[d.event_ticker]]
    assert sizes and max(sizes) <= 10 * COUNT_SCALE  # what competing arbitrageurs left
    with pytest.raises(ValueError):
        SimUniverse(seed=7, markets=10, arbitrage_share=1.5)


# --------------------------------------------------------------------------- settlement


def test_settlements_are_consistent_with_event_shapes(uni: SimUniverse) -> None:
    settled = uni.settlements_between(0, 400)
    assert settled
    events: dict[str, EventInfo] = {}
    for s in range(0, 401, 5):
        for e in uni.events_at(s):
            events.setdefault(e.event_ticker, e)
    grouped: dict[str, list] = collections.defaultdict(list)
    for x in settled:
        grouped[x.event_ticker].append(x)
        assert x.result in ("yes", "no") and x.value == (ONE_DOLLAR if x.result == "yes" else 0)
        assert (x.settled_ts_ms - EPOCH_MS) % (uni.step_seconds * 1000) == 0
    checked = 0
    for ticker, results in grouped.items():
        info = events.get(ticker)
        if info is None:
            continue
        e = info
        checked += 1
        yes = [r.result == "yes" for r in results]
        order = {t: i for i, t in enumerate(e.market_tickers)}
        yes_in_order = [r.result == "yes" for r in sorted(results, key=lambda r: order[r.ticker])]
        assert len(results) == len(e.market_tickers)
        if e.mutually_exclusive and e.exhaustive:
            assert sum(yes) == 1, ticker
        elif e.mutually_exclusive:
            assert sum(yes) <= 1, ticker
        if e.shape == "ladder":  # above a higher strike implies above every lower one
            assert yes_in_order == sorted(yes_in_order, reverse=True), ticker
    assert checked > 40


def test_settlement_follows_the_hidden_probability_at_close() -> None:
    u = SimUniverse(seed=21, markets=2500)
    p_sum = var = yes = 0.0
    n = 0
    for step in range(1, 500):
        for x in u.settlements_between(step - 1, step):
            assert (x.settled_ts_ms - u.epoch_ms) // u.step_ms == step
            p = u.hidden_probability(x.ticker, step - 1)  # closed one step before settling
            assert p is not None
            if n % 97 == 0:  # the one-ticker path agrees with the whole-universe one
                assert p == u.hidden_probabilities_at(step - 1)[x.ticker]
            n += 1
            p_sum += p
            var += p * (1 - p)
            yes += x.result == "yes"
    assert n > 1000
    assert abs(yes - p_sum) < 4 * math.sqrt(var) + 1


def test_settlements_between_is_additive(uni: SimUniverse) -> None:
    assert uni.settlements_between(10, 30) == uni.settlements_between(10, 20) + uni.settlements_between(20, 30)
    assert uni.settlements_between(5, 5) == []


def test_past_and_future_generations(uni: SimUniverse) -> None:
    x = uni.settlements_between(0, 150)[0]
    later = (x.settled_ts_ms - uni.epoch_ms) // uni.step_ms + 50
    m = uni.market_at(x.ticker, later)
    assert m is not None and m.status == "finalized" and not m.yes_bids and not m.no_bids
    assert uni.settlement_for(x.ticker, later) == x
    assert uni.settlement_for(x.ticker, (x.settled_ts_ms - uni.epoch_ms) // uni.step_ms - 1) is None
    # the generation after the current one does not exist yet
    ticker = uni.markets_at(1)[0].ticker
    event, _, suffix = ticker.rpartition("-")
    head, _, gen = event.rpartition("G")
    assert uni.market_at(f"{head}G{int(gen) + 1}-{suffix}", 1) is None


# --------------------------------------------------------------------------- arguments and properties


def test_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="markets"):
        SimUniverse(markets=0)
    with pytest.raises(ValueError, match="step"):
        SimUniverse(markets=10).markets_at(-1)
    assert SimUniverse(markets=10).describe(4) == "sim:seed=0,markets=10,step=4"
    assert SimUniverse(markets=10).time_ms(3) == EPOCH_MS + 30_000


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**40), markets=st.integers(1, 300), step=st.integers(0, 5000))
def test_any_universe_has_valid_books(seed: int, markets: int, step: int) -> None:
    ms = SimUniverse(seed=seed, markets=markets).markets_at(step)
    assert len(ms) == markets == len({m.ticker for m in ms})
    for m in ms:
        for p, size in m.yes_bids + m.no_bids:
            assert on_grid(p, m.price_ranges) and size > 0
        if m.yes_bid is not None and m.yes_ask is not None:
            assert m.yes_bid < m.yes_ask
