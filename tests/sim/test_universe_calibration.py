"""The sim's books stay near the calibration targets written in docs/sim-calibration.md.

Bounds are loose on purpose: they catch drift (a changed table, a broken generator), not noise.
The statistics come from bench/calibrate_sim.py, the same code that measured the real captures.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

import needs
import pytest

ROOT = Path(__file__).resolve().parents[2]
SHARED_DATA = needs.SHARED / "data" / "kalshi-real"


def _load_calibrate() -> ModuleType:
    spec = importlib.util.spec_from_file_location("calibrate_sim", ROOT / "bench" / "calibrate_sim.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


calibrate = _load_calibrate()


@pytest.fixture(scope="module")
def sim() -> dict[str, Any]:
    stats: dict[str, Any] = calibrate.measure_sim(markets=8000, steps=(1, 60))
    return stats


def share(hist: dict[str, float], *keys: str) -> float:
    return sum(hist.get(k, 0.0) for k in keys)


def test_spreads_liquid_groups_are_mostly_one_tick(sim: dict[str, Any]) -> None:
    for g in ("sports", "weather", "crypto", "stocks"):
        s = sim["by_group"][g]
        assert 0.45 <= share(s["spread_ticks_share"], "1") <= 0.85, g
        assert s["spread_ticks_p10_p50_p90"][1] <= 2, g
        assert s["spread_ticks_p10_p50_p90"][2] <= 8, g


def test_spreads_thin_groups_are_wide(sim: dict[str, Any]) -> None:
    for g in ("economics", "politics"):
        s = sim["by_group"][g]
        assert 0.2 <= share(s["spread_ticks_share"], "1") <= 0.5, g
        assert share(s["spread_ticks_share"], "11-30", ">30") >= 0.05, g
        assert s["spread_ticks_p10_p50_p90"][2] >= 8, g


def test_depth_levels_and_sizes(sim: dict[str, Any]) -> None:
    by = sim["by_group"]
    assert 10 <= by["sports"]["levels_per_side_p10_p50_p90"][1] <= 30
    assert 10 <= by["weather"]["levels_per_side_p10_p50_p90"][1] <= 30
    for g in ("economics", "politics"):
        assert 3 <= by[g]["levels_per_side_p10_p50_p90"][1] <= 15
    medians = {g: by[g]["top_size_p10_p50_p90"][1] for g in by}
    assert 800 <= medians["sports"] <= 6000
    assert 30 <= medians["weather"] <= 300
    assert 400 <= medians["crypto"] <= 4000
    assert 30 <= medians["economics"] <= 400
    assert 400 <= by["sports"]["level_size_p10_p25_p50_p75_p90"][2] <= 3000
    assert 10 <= by["weather"]["level_size_p10_p25_p50_p75_p90"][2] <= 100
    for g, s in by.items():
        assert 0.70 <= s["gap_ticks_share"].get("1", 0) <= 0.90, g
        assert 0.03 <= s["empty_side_share"] <= 0.30, g


def test_volume_tick_structures_and_fees(sim: dict[str, Any]) -> None:
    for g, s in sim["by_group"].items():
        assert 0.04 <= s["zero_volume_share"] <= 0.16, g
    structures = sim["structure_share"]
    total = sum(structures.values())
    assert 0.6 <= structures["linear_cent"] / total <= 0.9
    assert 0.15 <= structures["tapered_deci_cent"] / total <= 0.35
    assert structures["deci_cent"] > 0
    fees = sim["fee_types"]
    assert fees["quadratic x1"] / sum(fees.values()) > 0.7
    assert {
        "quadratic_with_maker_fees x0.5",
        "quadratic_with_maker_fees x1",
        "quadratic x0.5",
        "quadratic_with_combo_maker_fees x1",
    } <= set(fees)


def test_documented_real_measurements_still_hold() -> None:
    """The 'measured' column of docs/sim-calibration.md, recomputed from the captures."""
    needs.shared_path("data", "kalshi-real")
    real = calibrate.measure(SHARED_DATA)
    sports = real["books"]["by_category"]["sports"]
    assert sports["spread_ticks_hist"] == {"1": 38, "2": 9, "3": 4, "4-5": 2}
    assert sports["levels_per_side_p10_p50_p90"] == [10, 21, 48]
    assert real["books"]["by_category"]["weather"]["spread_ticks_hist"]["1"] == 15
    assert real["fees"]["sports_series"]["KXMLBGAME"] == ["quadratic_with_maker_fees", 0.5]
    assert real["arbitrage"]["econ_ladder_inversions_bid_above_lower_ask"] == 0
    assert real["markets"]["price_level_structure"] == {"deci_cent": 6, "linear_cent": 214}
