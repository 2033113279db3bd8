"""The crypto model: P(the settlement index ends above / inside the strikes) from spot and volatility.

What Kalshi settles on: every crypto market (KXBTC/KXETH hourly brackets, KXBTCD/KXETHD daily
ladders, the 15-minute up/down markets KXBTC15M/KXETH15M) settles on **CF Benchmarks'
Real-Time Index** for the coin (BRTI for bitcoin, ETHUSD_RTI for ether), a once-a-second
composite of the big USD exchanges, **averaged over the 60 seconds before the expiration
time** (help.kalshi.com "Crypto Markets"; Kalshi's own ``cfbenchmarks_value`` WebSocket channel
streams the index with the same trailing 60-second average, for authenticated sessions). A
15-minute market's strike (its "price to beat") is that average for the minute before it opened.

How the model approximates it:

* the index is taken to be one exchange's spot (``spot.py``; Coinbase by default): the gap
  between the two is carried as ``basis_bps`` in the standard error, not in p;
* spot follows a driftless geometric random walk with the volatility realised over the last
  ``vol_lookback_seconds`` (squared log returns on a regular grid, per second of time), or a
  fixed ``vol_annual`` from the profile;
* the settlement average ``A`` of the last ``w = averaging_seconds`` is lognormal with the
  variance of an average of Brownian motion: ``σ² (τ − 2w/3)`` for ``τ ≥ w`` seconds to
  close; inside the window (``τ < w``) the part already seen is averaged from the recorded
  spot, and only the remaining ``τ`` seconds are random (variance ``σ² τ / 3``);
* ``crypto`` uses the normal distribution for the log return, ``crypto-t`` a Student-t with
  ``tail_dof`` degrees of freedom scaled to the same variance (fat tails: more weight on big
  moves, less on small ones).

``P(A > K) = F(d)``, ``d = (ln(S/K) − v/2) / √v``; a bracket ``[F, C]`` is ``P(A ≥ F) − P(A > C)``,
a "below K" market ``1 − P(A ≥ K)``. Stale spot (older than ``max_spot_age_seconds``), too few
returns for a volatility, no strike, an unknown series or a market already past its close:
no fair value. The standard error combines the volatility estimate's own error (σ/√(2n) for
n returns) and the basis, by the delta method.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from ..domain import FairValue, Market
from .base import as_probability
from .spot import SpotSource, SpotView

if TYPE_CHECKING:
    from ..profile import CryptoFairSettings

ABOVE = ("greater", "greater_or_equal")
BELOW = ("less", "less_or_equal")
GRID_POINTS = 360  # returns on a regular grid over the lookback (10 s apart for an hour)


# --------------------------------------------------------------------------- distributions


def normal_cdf(x: float) -> float:
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz)."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 500):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-15:
            break
    return h


def betainc(a: float, b: float, x: float) -> float:
    """The regularised incomplete beta function I_x(a, b)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def student_t_cdf(t: float, dof: float) -> float:
    """The CDF of Student's t with ``dof`` degrees of freedom."""
    tail = 0.5 * betainc(dof / 2.0, 0.5, dof / (dof + t * t))
    return 1.0 - tail if t >= 0 else tail


def prob_log_return_above(threshold: float, variance: float, *, dof: float | None = None) -> float:
    """P(ln(A/S) > threshold) when ln(A/S) has mean −v/2 and variance v (normal, or Student-t scaled to v)."""
    if variance <= 0.0:
        return 1.0 if -variance / 2 > threshold else 0.0
    d = (-threshold - variance / 2) / math.sqrt(variance)
    if dof is None:
        return normal_cdf(d)
    return student_t_cdf(d * math.sqrt(dof / (dof - 2.0)), dof)


# --------------------------------------------------------------------------- the settlement average


def realised_variance(history: Sequence[tuple[int, float]], now_ms: int, lookback_ms: int) -> tuple[float, int] | None:
    """Variance of log spot per second over the lookback, and the returns it rests on (None: no data).

    Spot is sampled on a regular grid (previous tick) so that bursts of ticks do not count as
    more information than quiet stretches; a return counts when a new tick arrived within its step.
    """
    if len(history) < 2:
        return None
    start = max(history[0][0], now_ms - lookback_ms)
    span = now_ms - start
    if span <= 0:
        return None
    step = max(1000, lookback_ms // GRID_POINTS)  # the grid of the whole lookback, even while history is short
    total, n, i = 0.0, 0, 0
    prev_price: float | None = None
    prev_idx = -1
    t = start
    while t <= now_ms:
        while i + 1 < len(history) and history[i + 1][0] <= t:
            i += 1
        price = history[i][1]
        if prev_price is not None and i != prev_idx:
            total += math.log(price / prev_price) ** 2
            n += 1
        prev_price, prev_idx = price, i
        t += step
    if n == 0:
        return None
    return total / (span / 1000.0), n


def settlement_above(
    spot: float,
    strike: float,
    var_per_s: float,
    tau_s: float,
    window_s: float,
    seen_average: float | None,
    *,
    dof: float | None = None,
) -> float:
    """P(the average of the last ``window_s`` seconds before the close ends above ``strike``).

    ``tau_s`` seconds remain to the close; inside the window, ``seen_average`` is the average of
    the part already elapsed (spot when unknown).
    """
    if strike <= 0:
        return 1.0
    if tau_s >= window_s:
        v = var_per_s * (tau_s - 2.0 * window_s / 3.0)
        return prob_log_return_above(math.log(strike / spot), v, dof=dof)
    elapsed = window_s - tau_s
    seen = spot if seen_average is None else seen_average
    if tau_s <= 0:
        return 1.0 if seen > strike else 0.0
    # A = (elapsed · seen + τ · future) / w  ⇒  A > K  ⇔  future > (w K − elapsed · seen) / τ
    needed = (window_s * strike - elapsed * seen) / tau_s
    if needed <= 0:
        return 1.0
    return prob_log_return_above(math.log(needed / spot), var_per_s * tau_s / 3.0, dof=dof)


def close_ms_of(m: Market) -> int | None:
    if m.close_ts_ms:
        return m.close_ts_ms
    if not m.close_time:
        return None
    try:
        return int(datetime.fromisoformat(m.close_time.replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        return None


def market_probability(m: Market, above: Callable[[float], float]) -> float | None:
    """A market's YES probability from ``above(K) = P(A > K)``; None when it has no usable strike."""
    st, f, c = m.strike_type, m.floor_strike, m.cap_strike
    if st in ABOVE and f is not None and c is None:
        return above(float(f))
    if st in BELOW and c is not None and f is None:
        return 1.0 - above(float(c))
    if st == "between" and f is not None and c is not None and f <= c:
        return max(0.0, above(float(f)) - above(float(c)))
    return None


class CryptoModel:
    """``crypto`` / ``crypto-t``: Kalshi crypto markets priced from spot and realised volatility."""

    def __init__(self, settings: CryptoFairSettings, spot: SpotSource, *, fat_tails: bool = False) -> None:
        self.settings = settings
        self.spot = spot
        self.dof = float(settings.tail_dof) if fat_tails else None
        self.name = "crypto-t" if fat_tails else "crypto"
        self.max_age_ms = int(settings.max_spot_age_seconds * 1000)
        self.lookback_ms = settings.vol_lookback_seconds * 1000
        self.window_s = float(settings.averaging_seconds)
        self.basis = float(settings.basis_bps) / 10_000
        vol = settings.vol_annual
        self.fixed_var = None if vol is None else float(vol) ** 2 / (365.25 * 86_400)

    def product_for(self, m: Market) -> str | None:
        return self.settings.assets.get(m.series_ticker)

    def price(self, markets: Sequence[Market], now_ms: int) -> list[FairValue]:
        out: list[FairValue] = []
        views: dict[str, SpotView | None] = {}
        for m in markets:
            product = self.product_for(m)
            if product is None or m.status != "active":
                continue
            if product not in views:
                views[product] = self.spot.view(product, now_ms, self.lookback_ms + int(self.window_s * 1000))
            view = views[product]
            if view is None or view.age_ms > self.max_age_ms or view.age_ms < 0:
                continue  # no spot, or stale: no fair value
            fv = self._value(m, view)
            if fv is not None:
                out.append(fv)
        return out

    def _value(self, m: Market, view: SpotView) -> FairValue | None:
        close = close_ms_of(m)
        if close is None:
            return None
        tau = (close - view.now_ms) / 1000.0
        if tau <= 0:
            return None
        if self.fixed_var is not None:
            var, n = self.fixed_var, 0  # the profile's volatility: no estimation error to carry
        else:
            rv = realised_variance(view.history, view.now_ms, self.lookback_ms)
            if rv is None or rv[1] < self.settings.min_returns:
                return None
            var, n = rv
        window_start = close - int(self.window_s * 1000)
        seen = [p for t, p in view.history if window_start <= t <= view.now_ms]
        seen_avg = sum(seen) / len(seen) if seen and tau < self.window_s else None

        def prob(spot: float, variance: float) -> float | None:
            return market_probability(
                m, lambda k: settlement_above(spot, k, variance, tau, self.window_s, seen_avg, dof=self.dof)
            )

        p = prob(view.price, var)
        if p is None:
            return None
        # delta-method standard error: the volatility estimate (σ̂ has relative error 1/√(2n)) and
        # the spot-vs-index basis
        se_vol = 0.0
        if n:
            rel = 1.0 / math.sqrt(2.0 * n)
            up, down = prob(view.price, var * (1 + rel) ** 2), prob(view.price, var * max(0.0, 1 - rel) ** 2)
            se_vol = abs((up or 0.0) - (down or 0.0)) / 2
        hi_s, lo_s = prob(view.price * (1 + self.basis), var), prob(view.price * (1 - self.basis), var)
        se_basis = abs((hi_s or 0.0) - (lo_s or 0.0)) / 2
        se = math.sqrt(se_vol**2 + se_basis**2)
        sigma_annual = math.sqrt(var * 365.25 * 86_400)
        return FairValue(
            ticker=m.ticker,
            p=as_probability(p),
            model=self.name,
            inputs_ms=view.price_ms,
            se=as_probability(se),
            event_ticker=m.event_ticker,
            inputs={
                "spot": view.price,
                "spot_ms": view.price_ms,
                "vol_annual": round(sigma_annual, 6),
                "returns": n,
                "seconds_to_close": round(tau, 3),
                "source": self.spot.describe(),
            },
        )

    def close(self) -> None:
        """Nothing of its own to release: its spot source belongs to whoever opened it."""
