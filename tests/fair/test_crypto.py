"""The crypto model against closed forms and Monte Carlo on synthetic spot paths; stale or missing spot."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import pytest

from kalashi_cli.domain import Market
from kalashi_cli.fair.crypto import CryptoModel, normal_cdf, realised_variance, settlement_above, student_t_cdf
from kalashi_cli.fair.spot import FileSpot, SpotHistory, load_spot_file
from kalashi_cli.profile import CryptoFairSettings

from .conftest import mk

T0 = 1_780_000_000_000  # ms
YEAR_S = 365.25 * 86_400


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat().replace("+00:00", "Z")


def gbm_path(seed: int, sigma_annual: float, seconds: int, s0: float = 65_000.0) -> list[tuple[int, float]]:
    """A driftless GBM sampled every second (the martingale drift −σ²/2 in log)."""
    rng = np.random.default_rng(seed)
    var_s = sigma_annual**2 / YEAR_S
    steps = rng.normal(-var_s / 2, math.sqrt(var_s), seconds)
    logs = np.log(s0) + np.concatenate([[0.0], np.cumsum(steps)])
    return [(T0 + i * 1000, float(math.exp(x))) for i, x in enumerate(logs)]


def write_spot(path: Path, points: list[tuple[int, float]], product: str | None = "BTC-USD") -> Path:
    head = "time,price" + (",product" if product else "")
    rows = [f"{iso(t)},{p:.2f}" + (f",{product}" if product else "") for t, p in points]
    path.write_text(head + "\n" + "\n".join(rows) + "\n")
    return path


def settings(**kw: object) -> CryptoFairSettings:
    return msgspec.structs.replace(CryptoFairSettings(), **kw)


def btc_market(ticker: str, *, close_ms: int, **kw: Any) -> Market:
    return mk(ticker, event="KXBTC-26JUN0112", close=iso(close_ms), bid=0.4, ask=0.6, **kw)


def black_scholes_digital(s: float, k: float, sigma_annual: float, tau_s: float) -> float:
    """P(S_T > K) for driftless GBM: N(d2), d2 = (ln(S/K) − σ²τ/2) / (σ√τ)."""
    sig = sigma_annual * math.sqrt(tau_s / YEAR_S)
    return normal_cdf((math.log(s / k) - sig * sig / 2) / sig)


# --------------------------------------------------------------------------- closed forms


def test_a_fixed_volatility_without_averaging_is_the_black_scholes_digital(tmp_path: Path) -> None:
    spot = FileSpot(write_spot(tmp_path / "s.csv", [(T0, 65_000.0)]))
    model = CryptoModel(settings(vol_annual=Decimal("0.6"), averaging_seconds=0, basis_bps=Decimal(0)), spot)
    close = T0 + 900_000
    ms = [
        btc_market("A", close_ms=close, strike_type="greater", floor_strike=Decimal(65_500)),
        btc_market("B", close_ms=close, strike_type="less", cap_strike=Decimal(64_000)),
        btc_market(
            "C", close_ms=close, strike_type="between", floor_strike=Decimal(64_900), cap_strike=Decimal("64999.99")
        ),
    ]
    got = {v.ticker: float(v.p) for v in model.price(ms, T0)}
    above = {k: black_scholes_digital(65_000, k, 0.6, 900) for k in (65_500, 64_000, 64_900, 64_999.99)}
    assert got["A"] == pytest.approx(above[65_500], abs=1e-6)
    assert got["B"] == pytest.approx(1 - above[64_000], abs=1e-6)
    assert got["C"] == pytest.approx(above[64_900] - above[64_999.99], abs=1e-6)


def test_realised_volatility_from_a_synthetic_path_matches_the_closed_form_within_its_se(tmp_path: Path) -> None:
    sigma = 0.55
    path = gbm_path(7, sigma, 3600)
    now = path[-1][0]
    spot = FileSpot(write_spot(tmp_path / "s.csv", path))
    model = CryptoModel(settings(averaging_seconds=0, basis_bps=Decimal(0)), spot)
    s = path[-1][1]
    for k in (s * 0.995, s, s * 1.004):
        m = btc_market("K", close_ms=now + 1_800_000, strike_type="greater", floor_strike=Decimal(f"{k:.2f}"))
        (v,) = model.price([m], now)
        want = black_scholes_digital(s, float(f"{k:.2f}"), sigma, 1800)
        assert v.se > 0
        assert abs(float(v.p) - want) <= 3 * float(v.se) + 1e-4, (k, v.p, want, v.se)
        assert v.inputs["returns"] >= 300 and v.inputs["vol_annual"] == pytest.approx(sigma, rel=0.15)


def test_realised_variance_of_a_known_path() -> None:
    # a price that doubles and halves every 10 s: every grid return is ±ln 2
    hist = [(T0 + i * 10_000, 100.0 * (2 if i % 2 else 1)) for i in range(361)]
    var, n = realised_variance(hist, T0 + 3_600_000, 3_600_000) or (0.0, 0)
    assert n == 360
    assert var == pytest.approx(360 * math.log(2) ** 2 / 3600)


def test_the_averaging_window_matches_monte_carlo() -> None:
    rng = np.random.default_rng(11)
    sigma, s0, k, tau, w = 0.8, 100.0, 100.4, 300, 60
    var_s = sigma**2 / YEAR_S
    paths = 40_000
    steps = rng.normal(-var_s / 2, math.sqrt(var_s), (paths, tau))
    logs = np.log(s0) + np.cumsum(steps, axis=1)
    avg = np.exp(logs[:, -w:]).mean(axis=1)
    mc = float((avg > k).mean())
    err = math.sqrt(mc * (1 - mc) / paths)
    model = settlement_above(s0, k, var_s, tau, w, None)
    assert abs(model - mc) < 4 * err + 0.005, (model, mc)
    # and the averaging matters: the end price alone is more spread out
    end_only = settlement_above(s0, k, var_s, tau, 0, None)
    assert abs(end_only - mc) > abs(model - mc)


def test_inside_the_averaging_window_the_seen_part_counts() -> None:
    rng = np.random.default_rng(5)
    sigma, s0, k, tau, w, seen = 0.8, 100.0, 100.05, 20, 60, 100.1
    var_s = sigma**2 / YEAR_S
    steps = rng.normal(-var_s / 2, math.sqrt(var_s), (40_000, tau))
    future = np.exp(np.log(s0) + np.cumsum(steps, axis=1)).mean(axis=1)
    mc = float((((w - tau) * seen + tau * future) / w > k).mean())
    model = settlement_above(s0, k, var_s, tau, w, seen)
    assert abs(model - mc) < 0.02, (model, mc)
    assert settlement_above(s0, 99.0, var_s, tau, w, 101.0) == 1.0  # already certain


def test_student_t_matches_known_closed_forms_and_has_fatter_tails() -> None:
    for t in (-4.0, -1.0, 0.0, 0.3, 2.5):
        assert student_t_cdf(t, 1) == pytest.approx(0.5 + math.atan(t) / math.pi, abs=1e-12)
        assert student_t_cdf(t, 2) == pytest.approx(0.5 + t / (2 * math.sqrt(2 + t * t)), abs=1e-12)
    assert student_t_cdf(1.5, 1000) == pytest.approx(normal_cdf(1.5), abs=1e-3)
    # same variance, fatter tails: a far strike is likelier under crypto-t
    var = 0.0004
    far = math.log(1.06)
    from kalashi_cli.fair.crypto import prob_log_return_above

    assert prob_log_return_above(far, var, dof=4) > prob_log_return_above(far, var)


# --------------------------------------------------------------------------- no spot, no value


def test_stale_or_missing_spot_gives_no_fair_value(tmp_path: Path) -> None:
    path = gbm_path(3, 0.5, 3600)
    now = path[-1][0]
    spot = FileSpot(write_spot(tmp_path / "s.csv", path))
    model = CryptoModel(settings(max_spot_age_seconds=Decimal(10)), spot)
    m = btc_market("K", close_ms=now + 3_600_000, strike_type="greater", floor_strike=Decimal(65_000))
    assert model.price([m], now)  # fresh: a value
    assert model.price([m], now + 9_000)  # 9 s old: still fresh
    assert not model.price([m], now + 11_000)  # 11 s old: stale, no value
    assert not model.price([m], T0 - 1)  # before the first price: nothing known
    eth = mk(
        "E", event="KXETH-26JUN0112", close=iso(now + 3_600_000), strike_type="greater", floor_strike=Decimal(2000)
    )
    assert not model.price([eth], now)  # no ETH-USD prices in the file
    assert not model.price([m], now + 3_600_000 + 1)  # past its close
    unknown = mk(
        "X", event="KXSOLD-26JUN0112", close=iso(now + 3_600_000), strike_type="greater", floor_strike=Decimal(1)
    )
    assert not model.price([unknown], now)  # a series the model has no spot product for
    no_strike = btc_market("N", close_ms=now + 3_600_000)
    assert not model.price([no_strike], now)


def test_too_little_history_for_a_volatility_gives_no_value(tmp_path: Path) -> None:
    path = gbm_path(3, 0.5, 100)  # 100 s of spot: 10 grid returns < min_returns 30
    spot = FileSpot(write_spot(tmp_path / "s.csv", path))
    model = CryptoModel(settings(), spot)
    m = btc_market("K", close_ms=path[-1][0] + 600_000, strike_type="greater", floor_strike=Decimal(65_000))
    assert not model.price([m], path[-1][0])


def test_spot_files_read_csv_and_jsonl_and_name_bad_lines(tmp_path: Path) -> None:
    j = tmp_path / "s.jsonl"
    j.write_text('{"ts": 1780000000, "price": 65000.5, "symbol": "BTC/USD"}\n{"ts": 1780000001000, "price": "65001"}\n')
    h = load_spot_file(j)
    assert h.products() == ["*", "BTC-USD"]
    view = h.view("BTC-USD", 1_780_000_000_500, 60_000)
    assert view is not None and view.price == 65000.5
    bad = tmp_path / "bad.csv"
    bad.write_text("time,price\n2026-05-11T12:00:00Z,65000\n2026-05-11T12:00:01Z,-3\n")
    from kalashi_cli.errors import InputError

    with pytest.raises(InputError, match=r"bad.csv:3: price must be positive"):
        load_spot_file(bad)
    nocol = tmp_path / "nocol.csv"
    nocol.write_text("when,value2\n1,2\n")
    with pytest.raises(InputError, match="time and a price column"):
        load_spot_file(nocol)


def test_a_history_never_shows_the_future() -> None:
    h = SpotHistory()
    for i in range(10):
        h.add("BTC-USD", T0 + i * 1000, 100.0 + i)
    v = h.view("BTC-USD", T0 + 4_500, 60_000)
    assert v is not None and v.price == 104.0 and v.history[-1] == (T0 + 4000, 104.0)
