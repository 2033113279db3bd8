"""The ladder model: monotone, arbitrage-free, inside the depth bounds — on real ladders and by brute force."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kalashi_cli.fair.ladder import (
    LadderModel,
    depth_price,
    fit_event,
    fit_masses,
    fit_survival,
    pava_decreasing,
    quote_of,
)
from kalashi_cli.profile import LadderFairSettings

from .conftest import mk, real_ladders

TOL = 1e-9
MIN_DEPTH = 25 * 100


def _survival_order(fit_structure: str, markets: list, fitted: dict[str, float]) -> list[float]:
    """The fitted P(X above the cut) in strike order (below-K markets flipped)."""
    pts = []
    for m in markets:
        if m.strike_type in ("greater", "greater_or_equal"):
            pts.append((m.floor_strike, 1 if m.strike_type == "greater" else 0, fitted[m.ticker]))
        else:
            pts.append((m.cap_strike, 0 if m.strike_type == "less" else 1, 1 - fitted[m.ticker]))
    return [p for *_, p in sorted(pts)]


def test_real_ladders_fit_monotone_and_within_their_bounds() -> None:
    ladders = real_ladders()
    assert len(ladders) == 28  # 2 crypto hourly, 21 economics, 5 weather events
    consistent = 0
    for name, markets in ladders:
        fit = fit_event(markets, MIN_DEPTH)
        assert fit is not None, name
        fitted = {f.ticker: f.p for f in fit.fitted}
        assert set(fitted) == {m.ticker for m in markets}, name
        assert all(-TOL <= p <= 1 + TOL for p in fitted.values()), name
        if fit.structure == "ladder":  # survival non-increasing in the strike
            s = _survival_order(fit.structure, markets, fitted)
            assert all(a >= b - TOL for a, b in zip(s, s[1:], strict=False)), (name, s)
        else:  # brackets: non-negative masses that sum to at most 1 (exactly 1 for a complete partition)
            assert fit.structure == "brackets", name
            total = sum(fitted.values())
            assert total <= 1 + 1e-7, (name, total)
        if fit.consistent:
            consistent += 1
            for m in markets:
                q = quote_of(m, MIN_DEPTH)
                assert q.lo - TOL <= fitted[m.ticker] <= q.hi + TOL, (name, m.ticker, q, fitted[m.ticker])
        else:
            assert "inconsistent books" in fit.note, name
            _assert_really_inconsistent(fit.structure, markets)
    assert consistent >= len(ladders) - 3, consistent


def _assert_really_inconsistent(structure: str, markets: list) -> None:
    """An 'inconsistent' verdict must be true: no distribution fits inside every deep bound."""
    quotes = [quote_of(m, MIN_DEPTH) for m in markets]
    if structure == "brackets":
        assert sum(q.lo for q in quotes) > 1 or sum(q.hi for q in quotes) < 1
    else:
        _, lo, hi, ok = fit_survival([0.5] * len(quotes), [1.0] * len(quotes), [0.0] * len(quotes), [1.0] * len(quotes))
        assert ok  # (sanity) an unconstrained ladder is always feasible


def test_real_crypto_brackets_form_one_complete_partition() -> None:
    name, markets = real_ladders()[0]
    assert name == "KXBTC-26JUL2321"
    fit = fit_event(markets, MIN_DEPTH)
    assert fit is not None and fit.structure == "brackets" and len(fit.fitted) == 188
    # 186 brackets of $100 and two tails: a complete partition, so the masses sum to exactly 1
    assert sum(f.p for f in fit.fitted) == pytest.approx(1.0, abs=1e-9)


def test_depth_price_walks_the_book() -> None:
    levels = ((5000, 1000), (4900, 1500), (4800, 9000))
    assert depth_price(levels, 1000) == 5000
    assert depth_price(levels, 2000) == 4900
    assert depth_price(levels, 20_000) is None


def test_a_thin_cheap_ask_does_not_bound_the_fit_and_is_value() -> None:
    # above-50 and above-60 are deep and tight; above-55 has a one-lot ask far below them
    ev = "KXLAD-26JAN01"
    ms = [
        mk("L-50", event=ev, bid=0.60, ask=0.62, strike_type="greater", floor_strike=Decimal(50)),
        mk(
            "L-55",
            event=ev,
            yes=((4000, 5000),),
            no=((10_000 - 3000, 100), (10_000 - 5800, 5000)),
            strike_type="greater",
            floor_strike=Decimal(55),
        ),
        mk("L-60", event=ev, bid=0.50, ask=0.52, strike_type="greater", floor_strike=Decimal(60)),
    ]
    fit = fit_event(ms, MIN_DEPTH)
    assert fit is not None and fit.consistent
    p = {f.ticker: f.p for f in fit.fitted}
    assert p["L-60"] <= p["L-55"] <= p["L-50"]
    assert p["L-55"] > 0.5  # far above the one-contract ask at 0.30: that ask is the value
    values = LadderModel(LadderFairSettings()).price(ms, 1)
    assert {v.ticker for v in values} == {"L-50", "L-55", "L-60"}
    assert all(v.model == "ladder" and v.inputs_ms == 1 for v in values)


def test_an_inverted_ladder_is_inconsistent_and_still_a_distribution() -> None:
    ev = "KXLAD-26JAN01"
    ms = [
        mk("L-50", event=ev, bid=0.40, ask=0.42, strike_type="greater", floor_strike=Decimal(50)),
        mk("L-60", event=ev, bid=0.55, ask=0.57, strike_type="greater", floor_strike=Decimal(60)),
    ]
    fit = fit_event(ms, MIN_DEPTH)
    assert fit is not None and not fit.consistent and "arbitrage" in fit.note
    p = {f.ticker: f.p for f in fit.fitted}
    assert p["L-50"] >= p["L-60"]  # monotone anyway: the midpoints pooled
    assert p["L-50"] == pytest.approx((0.41 + 0.56) / 2)
    values = LadderModel(LadderFairSettings()).price(ms, 0)
    assert all(v.se >= Decimal("0.14") for v in values)  # too uncertain to trade on


def test_brackets_whose_asks_sum_below_a_dollar_are_inconsistent() -> None:
    ev = "KXB-26JAN01"
    ms = [
        mk("B-1", event=ev, bid=0.20, ask=0.25, strike_type="less", cap_strike=Decimal(10)),
        mk(
            "B-2", event=ev, bid=0.30, ask=0.35, strike_type="between", floor_strike=Decimal(10), cap_strike=Decimal(19)
        ),
        mk("B-3", event=ev, bid=0.30, ask=0.35, strike_type="greater", floor_strike=Decimal(19)),
    ]
    fit = fit_event(ms, MIN_DEPTH)
    assert fit is not None and fit.structure == "brackets" and not fit.consistent
    assert sum(f.p for f in fit.fitted) == pytest.approx(1.0)


def test_exclusive_outcomes_not_known_exhaustive_sum_to_at_most_one() -> None:
    ev = "PRES-2024"
    ms = [
        mk("PRES-2024-DJT", event=ev, bid=0.55, ask=0.56, mutually_exclusive=True),
        mk("PRES-2024-KH", event=ev, bid=0.45, ask=0.46, mutually_exclusive=True),
    ]
    fit = fit_event(ms, MIN_DEPTH)
    assert fit is not None and fit.structure == "exclusive" and fit.consistent
    p = {f.ticker: f.p for f in fit.fitted}
    assert sum(p.values()) == pytest.approx(1.0)  # the mids sum to 1.01: pulled down to 1, inside the bounds
    assert 0.55 <= p["PRES-2024-DJT"] <= 0.56 and 0.45 <= p["PRES-2024-KH"] <= 0.46


def test_a_lone_market_is_its_depth_bounded_mid() -> None:
    m = mk(
        "KXBTC15M-26MAY110830-30", event="KXBTC15M-26MAY110830", yes=((6800, 10_000),), no=((3100, 500), (3000, 9000))
    )
    fit = fit_event([m], MIN_DEPTH)
    assert fit is not None and fit.structure == "single"
    assert fit.fitted[0].p == pytest.approx((0.68 + 0.70) / 2)  # the 5-lot ask at 0.69 is too thin to bound


# --------------------------------------------------------------------------- the solvers, by brute force


def _project_box_monotone(x: list[float], lo: list[float], hi: list[float]) -> list[float]:
    # Dykstra's alternating projections onto {non-increasing} ∩ box, exact enough for a check
    y = list(x)
    p = [0.0] * len(x)
    q = [0.0] * len(x)
    for _ in range(3000):
        z = pava_decreasing([a + b for a, b in zip(y, p, strict=True)], [1.0] * len(y))
        p = [a + b - c for a, b, c in zip(y, p, z, strict=True)]
        y = [min(h, max(lw, a + b)) for a, b, lw, h in zip(z, q, lo, hi, strict=True)]
        q = [a + b - c for a, b, c in zip(z, q, y, strict=True)]
    return y


def _brute_survival(t: list[float], w: list[float], lo: list[float], hi: list[float]) -> list[float]:
    # projected gradient descent with Dykstra projections: slow, obviously right
    s = _project_box_monotone([0.5] * len(t), lo, hi)
    step = 0.5 / max(w)
    for _ in range(400):
        g = [2 * wi * (si - ti) for si, ti, wi in zip(s, t, w, strict=True)]
        s = _project_box_monotone([si - step * gi for si, gi in zip(s, g, strict=True)], lo, hi)
    return s


@settings(max_examples=25)
@given(st.integers(min_value=0, max_value=10_000))
def test_the_survival_fit_is_the_constrained_least_squares_optimum(seed: int) -> None:
    rng = random.Random(seed)
    n = rng.randint(2, 5)
    true = sorted((rng.random() for _ in range(n)), reverse=True)
    lo = [max(0.0, v - rng.random() * 0.3) for v in true]
    hi = [min(1.0, v + rng.random() * 0.3) for v in true]
    t = [rng.random() for _ in range(n)]
    w = [rng.uniform(0.5, 5) for _ in range(n)]
    fit, lo_t, hi_t, ok = fit_survival(t, w, lo, hi)
    assert ok  # bounds around a monotone sequence are always feasible
    brute = _brute_survival(t, w, lo_t, hi_t)

    def cost(s: list[float]) -> float:
        return sum(wi * (si - ti) ** 2 for si, ti, wi in zip(s, t, w, strict=True))

    assert cost(fit) <= cost(brute) + 1e-6
    assert all(a >= b - 1e-12 for a, b in zip(fit, fit[1:], strict=False))
    assert all(lw - 1e-12 <= v <= h + 1e-12 for v, lw, h in zip(fit, lo, hi, strict=True))


@settings(max_examples=40)
@given(st.integers(min_value=0, max_value=10_000), st.booleans())
def test_the_mass_fit_meets_the_kkt_conditions(seed: int, exact: bool) -> None:
    rng = random.Random(seed)
    n = rng.randint(2, 6)
    raw = [rng.random() for _ in range(n)]
    true = [r / sum(raw) for r in raw]
    lo = [max(0.0, v - rng.random() * 0.2) for v in true]
    hi = [min(1.0, v + rng.random() * 0.2) for v in true]
    t = [rng.random() * 0.6 for _ in range(n)]
    w = [rng.uniform(0.5, 5) for _ in range(n)]
    q, ok = fit_masses(t, w, lo, hi, exact=exact)
    assert ok
    total = sum(q)
    assert total <= 1 + 1e-9 and (not exact or abs(total - 1) < 1e-9)
    assert all(lw - 1e-12 <= v <= h + 1e-12 for v, lw, h in zip(q, lo, hi, strict=True))
    # KKT: one multiplier nu with q_k = clip(t_k − nu / w_k); nu = 0 unless the sum binds
    free = [k for k in range(n) if lo[k] + 1e-9 < q[k] < hi[k] - 1e-9]
    nus = [(t[k] - q[k]) * w[k] for k in free]
    if nus:
        assert max(nus) - min(nus) < 1e-6
        if not exact and total < 1 - 1e-9:
            assert abs(nus[0]) < 1e-6
