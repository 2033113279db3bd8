"""The ladder model: one monotone, arbitrage-free distribution per event, fitted to its books.

Every market of an event is a statement about one underlying value X (a BTC price, a CPI
print, a temperature, which candidate wins). The fit finds one probability distribution of X
that all the books agree with, and gives each market its fitted probability:

* **strike ladders** (``greater``/``less`` strikes): the survival ``s(K) = P(X > K)`` at every
  strike, non-increasing in K; "below K" markets are ``1 − s``. Fitted by weighted isotonic
  regression (pool-adjacent-violators, each pooled block clipped to its bounds) of the quotes'
  midpoints.
* **bracket partitions** (``between`` brackets, with ``less``/``greater`` tails) and **mutually
  exclusive outcomes**: one probability mass per bracket/outcome, non-negative, summing to 1
  (when the event is a complete, exhaustive partition) or at most 1. Fitted by the exact
  solution of the weighted least-squares problem with box bounds (one Lagrange multiplier,
  found by bisection).
* a **single market** (no ladder): its own depth-bounded midpoint.

Bounds come from the books, weighted by depth: a market's fitted YES probability must lie
between the price at which ``min_depth`` contracts could be sold (walking the YES bids) and
the price at which they could be bought (walking the YES asks). Thinner quotes do not bound
the fit; they are what the value strategy tests against it — a one-lot ask below what the deep
quotes of the whole ladder imply is value. The target inside the bounds is their midpoint,
weighted by ``1 / width²`` (a tight, deep market pins the distribution; a wide one follows).

When the deep bounds contradict each other (an inverted ladder, brackets whose bids sum above
$1 or asks below $1) the books hold an arbitrage — analyze's arbitrage strategy finds it. The
fit then drops the bounds, fits the midpoints alone (still monotone, still a distribution)
and says so in the value's ``note``.

The standard error of each fitted probability is the width of the interval the bounds leave
that market (after the other markets' bounds are taken into account) over √12: the spread of
a uniform guess within what the books allow.

Pure Python: events have at most a few hundred markets, and analyze starts without numpy.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from ..domain import FairValue, Market
from ..money import ONE_DOLLAR
from .base import as_probability

if TYPE_CHECKING:
    from ..profile import LadderFairSettings

ABOVE = ("greater", "greater_or_equal")
BELOW = ("less", "less_or_equal")
SQRT12 = math.sqrt(12.0)
MIN_WIDTH = 0.01  # a one-cent-wide market weighs as much as a tighter one: ticks are $0.01 at best


@dataclass(frozen=True, slots=True)
class Quote:
    """What one market's book says about its YES probability (floats in [0, 1])."""

    ticker: str
    lo: float  # YES can be sold for at least this (min_depth contracts), else 0
    hi: float  # YES can be bought for at most this (min_depth contracts), else 1
    deep: bool  # both bounds come from the book (not the 0/1 defaults)

    @property
    def target(self) -> float:
        return (self.lo + self.hi) / 2

    @property
    def weight(self) -> float:
        return 1.0 / max(self.hi - self.lo, MIN_WIDTH) ** 2


@dataclass(frozen=True, slots=True)
class Fitted:
    """The fit's answer for one market."""

    ticker: str
    p: float
    lo: float  # what the bounds of the whole event allow this market (after tightening)
    hi: float


@dataclass(frozen=True, slots=True)
class LadderFit:
    """The fitted probabilities of an event, its structure and whether the books were consistent."""

    structure: str  # ladder, brackets, exclusive, single
    fitted: tuple[Fitted, ...]
    consistent: bool
    note: str = ""


def depth_price(levels: Sequence[tuple[int, int]], need: int) -> int | None:
    """The price of the level at which ``need`` count units are reached walking ``levels`` (best first)."""
    got = 0
    for price, size in levels:
        got += size
        if got >= need:
            return price
    return None


def quote_of(m: Market, min_depth: int) -> Quote:
    """The depth-bounded YES interval of one market (``min_depth`` in count units, 1/100 contract)."""
    need = max(1, min_depth)
    bid = depth_price(m.yes_bids, need)
    no_bid = depth_price(m.no_bids, need)
    lo = bid / ONE_DOLLAR if bid is not None else 0.0
    hi = (ONE_DOLLAR - no_bid) / ONE_DOLLAR if no_bid is not None else 1.0
    if hi < lo:  # a crossed book (it happens in replays of real feeds): the midpoint, no width
        lo = hi = (lo + hi) / 2
    return Quote(m.ticker, lo, hi, bid is not None and no_bid is not None)


# --------------------------------------------------------------------------- solvers


def pava_decreasing(y: Sequence[float], w: Sequence[float]) -> list[float]:
    """Weighted least-squares fit of a non-increasing sequence to ``y`` (pool adjacent violators)."""
    blocks: list[list[float]] = []  # [mean, weight, length]
    for yi, wi in zip(y, w, strict=True):
        blocks.append([yi, wi, 1])
        while len(blocks) > 1 and blocks[-2][0] < blocks[-1][0]:
            m2, w2, n2 = blocks.pop()
            m1, w1, n1 = blocks[-1]
            tot = w1 + w2
            blocks[-1] = [(m1 * w1 + m2 * w2) / tot, tot, n1 + n2]
    out: list[float] = []
    for mean, _, n in blocks:
        out.extend([mean] * int(n))
    return out


def pava_decreasing_bounded(
    y: Sequence[float], w: Sequence[float], lo: Sequence[float], hi: Sequence[float]
) -> list[float]:
    """Weighted least-squares non-increasing fit with ``lo_i ≤ s_i ≤ hi_i`` (bounds already monotone).

    Pool adjacent violators for separable convex costs: a pooled block takes the weighted mean of
    its targets clipped to its bounds (the largest lower, the smallest upper — never crossed when
    the bounds are monotone and feasible).
    """
    blocks: list[list[float]] = []  # [Σ w·y, Σ w, lower, upper, length, value]
    for yi, wi, li, hi_i in zip(y, w, lo, hi, strict=True):
        blocks.append([wi * yi, wi, li, hi_i, 1, min(hi_i, max(li, yi))])
        while len(blocks) > 1 and blocks[-2][5] < blocks[-1][5]:
            b2 = blocks.pop()
            b1 = blocks[-1]
            swy, sw = b1[0] + b2[0], b1[1] + b2[1]
            lower, upper = max(b1[2], b2[2]), min(b1[3], b2[3])
            blocks[-1] = [swy, sw, lower, upper, b1[4] + b2[4], min(upper, max(lower, swy / sw))]
    out: list[float] = []
    for b in blocks:
        out.extend([b[5]] * int(b[4]))
    return out


def fit_survival(
    targets: Sequence[float], weights: Sequence[float], lows: Sequence[float], highs: Sequence[float]
) -> tuple[list[float], list[float], list[float], bool]:
    """Fit a non-increasing survival curve within per-cut bounds; return (fit, lo, hi, consistent).

    The bounds are first tightened to what monotonicity implies (``s_j ≤ s_i ≤ hi_i`` for
    ``i < j``, ``s_j ≥ s_k ≥ lo_k`` for ``k > j``), then the bounded isotonic regression is
    solved exactly. Contradicting bounds (an inverted ladder) are dropped: plain isotonic fit.
    """
    n = len(targets)
    hi_t = list(highs)
    for j in range(1, n):
        hi_t[j] = min(hi_t[j], hi_t[j - 1])
    lo_t = list(lows)
    for j in range(n - 2, -1, -1):
        lo_t[j] = max(lo_t[j], lo_t[j + 1])
    if all(lo_t[j] <= hi_t[j] + 1e-12 for j in range(n)):
        return pava_decreasing_bounded(targets, weights, lo_t, hi_t), lo_t, hi_t, True
    iso = pava_decreasing(targets, weights)
    return [min(1.0, max(0.0, v)) for v in iso], [0.0] * n, [1.0] * n, False


def fit_masses(
    targets: Sequence[float | None],
    weights: Sequence[float],
    lows: Sequence[float],
    highs: Sequence[float],
    *,
    exact: bool,
) -> tuple[list[float], bool]:
    """Fit masses ``q_k`` within ``[lo_k, hi_k]`` summing to 1 (``exact``) or at most 1.

    ``targets[k]`` None is a bin no market prices (it takes what the others leave, ≥ 0). The
    least-squares solution is ``q_k = clip(t_k − ν / w_k, lo_k, hi_k)`` with the one multiplier
    ``ν`` set by bisection so the sum constraint holds. Returns (masses, the bounds were feasible).
    """
    priced = [k for k, t in enumerate(targets) if t is not None]
    free = [k for k, t in enumerate(targets) if t is None]
    exact = exact and not free

    def masses(nu: float, lo: Sequence[float], hi: Sequence[float]) -> list[float]:
        return [min(hi[k], max(lo[k], (targets[k] or 0.0) - nu / weights[k])) for k in priced]

    def solve(lo: Sequence[float], hi: Sequence[float]) -> list[float]:
        if not exact and sum(masses(0.0, lo, hi)) <= 1.0:
            nu_lo = nu_hi = 0.0
        else:
            nu_lo, nu_hi = -1.0, 1.0
            while sum(masses(nu_lo, lo, hi)) < 1.0 and nu_lo > -1e12:
                nu_lo *= 2
            while sum(masses(nu_hi, lo, hi)) > 1.0 and nu_hi < 1e12:
                nu_hi *= 2
            for _ in range(200):
                mid = (nu_lo + nu_hi) / 2
                if sum(masses(mid, lo, hi)) > 1.0:
                    nu_lo = mid
                else:
                    nu_hi = mid
        q = masses((nu_lo + nu_hi) / 2, lo, hi)
        out = [0.0] * len(targets)
        for k, v in zip(priced, q, strict=True):
            out[k] = v
        rest = max(0.0, 1.0 - sum(q))
        for k in free:
            out[k] = rest / len(free)
        return out

    lo_p = [lows[k] if k in priced else 0.0 for k in range(len(targets))]
    hi_p = [highs[k] if k in priced else 1.0 for k in range(len(targets))]
    feasible = sum(lo_p[k] for k in priced) <= 1.0 + 1e-12 and (
        not exact or sum(hi_p[k] for k in priced) >= 1.0 - 1e-12
    )
    if feasible:
        return solve(lo_p, hi_p), True
    n = len(targets)
    return solve([0.0] * n, [1.0] * n), False


# --------------------------------------------------------------------------- structures


def _cut_of(m: Market) -> tuple[Decimal, int, bool] | None:
    """A one-sided strike as (value, 0 for "X ≥ v" / 1 for "X > v", market is the complement)."""
    st = m.strike_type
    if st in ABOVE and m.floor_strike is not None and m.cap_strike is None:
        return m.floor_strike, 1 if st == "greater" else 0, False
    if st in BELOW and m.cap_strike is not None and m.floor_strike is None:
        return m.cap_strike, 0 if st == "less" else 1, True
    return None


def fit_event(markets: Sequence[Market], min_depth: int) -> LadderFit | None:
    """Fit one event's active markets; None when its markets form no structure the model knows."""
    active = [m for m in markets if m.status == "active"]
    if not active:
        return None
    quotes = {m.ticker: quote_of(m, min_depth) for m in active}
    if len(active) == 1:
        q = quotes[active[0].ticker]
        return LadderFit("single", (Fitted(q.ticker, q.target, q.lo, q.hi),), True)
    if all(_cut_of(m) is not None for m in active):
        return _fit_ladder(active, quotes)
    if any(m.strike_type == "between" for m in active):
        return _fit_brackets(active, quotes)
    if all(m.strike_type is None for m in active) and active[0].mutually_exclusive:
        complete = active[0].exhaustive is True and active[0].event_market_count == len(active) == len(markets)
        return _fit_exclusive(active, quotes, exhaustive=complete)
    return None


def _fit_ladder(active: list[Market], quotes: dict[str, Quote]) -> LadderFit:
    cuts: dict[tuple[Decimal, int], list[tuple[Market, bool]]] = {}
    for m in active:
        cut = _cut_of(m)
        assert cut is not None
        cuts.setdefault((cut[0], cut[1]), []).append((m, cut[2]))
    keys = sorted(cuts)
    targets, weights, lows, highs = [], [], [], []
    for key in keys:
        lo, hi, num, den = 0.0, 1.0, 0.0, 0.0
        for m, complement in cuts[key]:
            q = quotes[m.ticker]
            # a "below K" market's YES is 1 − s(K): its bounds flip
            qlo, qhi = (1.0 - q.hi, 1.0 - q.lo) if complement else (q.lo, q.hi)
            lo, hi = max(lo, qlo), min(hi, qhi)
            num += q.weight * (qlo + qhi) / 2
            den += q.weight
        if lo > hi:  # two markets on one strike disagree: arbitrage between them; fit their average
            lo, hi = 0.0, 1.0
        targets.append(num / den)
        weights.append(den)
        lows.append(lo)
        highs.append(hi)
    fit, lo_t, hi_t, consistent = fit_survival(targets, weights, lows, highs)
    out = []
    for j, key in enumerate(keys):
        for m, complement in cuts[key]:
            if complement:
                out.append(Fitted(m.ticker, 1.0 - fit[j], 1.0 - hi_t[j], 1.0 - lo_t[j]))
            else:
                out.append(Fitted(m.ticker, fit[j], lo_t[j], hi_t[j]))
    note = (
        ""
        if consistent
        else "inconsistent books: the deep quotes invert the ladder (an arbitrage); fitted to midpoints"
    )
    return LadderFit("ladder", tuple(out), consistent, note)


def _fit_brackets(active: list[Market], quotes: dict[str, Quote]) -> LadderFit | None:
    # Cuts are "X ≥ v" (kind 0) or "X > v" (kind 1). A bracket [F, C] is s(F, 0) − s(C, 1); a
    # "less K" tail is everything below (K, 0); a "greater K" tail everything above (K, 1).
    spans: dict[str, tuple[tuple[Decimal, int] | None, tuple[Decimal, int] | None]] = {}
    for m in active:
        st, f, c = m.strike_type, m.floor_strike, m.cap_strike
        if st == "between" and f is not None and c is not None and f <= c:
            spans[m.ticker] = ((f, 0), (c, 1))
        elif st in BELOW and c is not None and f is None:
            spans[m.ticker] = (None, (c, 0 if st == "less" else 1))
        elif st in ABOVE and f is not None and c is None:
            spans[m.ticker] = ((f, 1 if st == "greater" else 0), None)
        else:
            return None
    raw = sorted({k for lo, hi in spans.values() for k in (lo, hi) if k is not None})
    # a bracket's cap and the next bracket's floor are one cut when the gap between them is
    # small next to the spacing of the brackets (56 299.99 / 56 300; 94° / 95° on whole degrees)
    floors = sorted({lo[0] for t, (lo, hi) in spans.items() if lo is not None and hi is not None})
    gaps = sorted(b - a for a, b in zip(floors, floors[1:], strict=False) if b > a)
    spacing = gaps[len(gaps) // 2] if gaps else Decimal(0)
    index: dict[tuple[Decimal, int], int] = {}
    cut = -1
    prev: tuple[Decimal, int] | None = None
    for k in raw:
        merge = prev is not None and prev[1] == 1 and k[1] == 0 and (k[0] - prev[0]) < spacing * Decimal("0.75")
        if not merge:
            cut += 1
        index[k] = cut
        prev = k
    n_bins = cut + 2  # bins: below the first cut, between consecutive cuts, above the last
    owner: dict[int, str] = {}
    for t, (lo, hi) in spans.items():
        a = index[lo] + 1 if lo is not None else 0
        b = index[hi] + 1 if hi is not None else n_bins
        if b - a != 1 or a in owner:  # a market spanning several bins, or two on one: not a partition
            return None
        owner[a] = t
    targets: list[float | None] = []
    weights, lows, highs = [], [], []
    for bin_no in range(n_bins):
        owned = owner.get(bin_no)
        q = quotes[owned] if owned is not None else None
        targets.append(q.target if q else None)
        weights.append(q.weight if q else 1.0)
        lows.append(q.lo if q else 0.0)
        highs.append(q.hi if q else 1.0)
    complete = len(owner) == n_bins
    masses, consistent = fit_masses(targets, weights, lows, highs, exact=complete)
    return _from_masses("brackets", owner, masses, lows, highs, consistent, exact=complete)


def _fit_exclusive(active: list[Market], quotes: dict[str, Quote], *, exhaustive: bool) -> LadderFit:
    owner = {k: m.ticker for k, m in enumerate(active)}
    qs = [quotes[m.ticker] for m in active]
    masses, consistent = fit_masses(
        [q.target for q in qs], [q.weight for q in qs], [q.lo for q in qs], [q.hi for q in qs], exact=exhaustive
    )
    return _from_masses(
        "exclusive", owner, masses, [q.lo for q in qs], [q.hi for q in qs], consistent, exact=exhaustive
    )


def _from_masses(
    structure: str,
    owner: dict[int, str],
    masses: list[float],
    lows: list[float],
    highs: list[float],
    consistent: bool,
    *,
    exact: bool,
) -> LadderFit:
    out = []
    priced = sorted(owner)
    sum_lo = sum(lows[k] for k in priced) if consistent else 0.0
    sum_hi = sum(highs[k] for k in priced) if consistent else float(len(priced))
    for k in priced:
        lo, hi = (lows[k], highs[k]) if consistent else (0.0, 1.0)
        # what the other markets' bounds leave this one: Σ q = 1 (or ≤ 1)
        hi_k = min(hi, 1.0 - (sum_lo - lo))
        lo_k = max(lo, 1.0 - (sum_hi - hi)) if exact else lo
        out.append(Fitted(owner[k], masses[k], min(lo_k, masses[k]), max(hi_k, masses[k])))
    if consistent:
        note = ""
    elif exact:
        note = "inconsistent books: the deep bids sum above $1 or the asks below $1 (an arbitrage); fitted to midpoints"
    else:
        note = "inconsistent books: the deep bids sum above $1 (an arbitrage); fitted to midpoints"
    return LadderFit(structure, tuple(out), consistent, note)


# --------------------------------------------------------------------------- the model


class LadderModel:
    """``ladder``: each market's probability from the distribution all of its event's books imply."""

    name = "ladder"

    def __init__(self, settings: LadderFairSettings) -> None:
        self.min_depth = int(settings.min_depth * 100)

    def price(self, markets: Sequence[Market], now_ms: int) -> list[FairValue]:
        fit = fit_event(markets, self.min_depth)
        if fit is None:
            return []
        event = markets[0].event_ticker
        out = []
        for f in fit.fitted:
            se = (f.hi - f.lo) / SQRT12
            if not fit.consistent:  # the books disagree: the fit is no better than its own quote's width
                se = max(se, 0.5 / SQRT12)
            out.append(
                FairValue(
                    ticker=f.ticker,
                    p=as_probability(f.p),
                    model=self.name,
                    inputs_ms=now_ms,
                    se=as_probability(se),
                    event_ticker=event,
                    note=fit.note,
                    inputs={"structure": fit.structure, "lo": round(f.lo, 6), "hi": round(f.hi, 6)},
                )
            )
        return out

    def close(self) -> None:
        pass
