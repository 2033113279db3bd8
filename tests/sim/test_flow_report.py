"""bench/calibrate_flow.py --report writes its tables and PNG plots (matplotlib, the `test` extra).

The real statistics come from the committed report (docs/img/flow/flow.json: measured tables
only, no data), so this runs without ../shared; the sim side is a tiny fresh walk.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "docs" / "img" / "flow"


def _calibrate() -> ModuleType:
    sys.path.insert(0, str(ROOT / "bench"))
    spec = importlib.util.spec_from_file_location("calibrate_flow", ROOT / "bench" / "calibrate_flow.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_report_tables_and_plots(tmp_path: Path) -> None:
    cal = _calibrate()
    real = json.loads((COMMITTED / "flow.json").read_text())["real"]
    m = cal.measure(None, btc_markets=3000, all_markets=400, steps=40, seed=0, naive=False, real=real)
    text = cal.tables(m)
    for heading in (
        "Trades (KXBTC15M)",
        "Mid moves",
        "Markouts after trades",
        "Spread and depth",
        "Price against outcome",
        "Who earns what",
    ):
        assert f"### {heading}" in text
    paths = cal.plots(m, tmp_path)
    assert {p.name for p in paths} == {
        "spread_depth.png",
        "trade_sizes.png",
        "mid_moves.png",
        "markouts.png",
        "reliability.png",
    }
    for p in paths:
        data = p.read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n") and 5_000 < len(data) < 200_000, p.name


def test_the_committed_plots_are_the_ones_the_docs_embed() -> None:
    doc = (ROOT / "docs" / "sim-calibration.md").read_text()
    for name in ("spread_depth", "trade_sizes", "mid_moves", "markouts", "reliability"):
        png = COMMITTED / f"{name}.png"
        assert png.is_file() and png.stat().st_size < 200_000, png
        assert f"img/flow/{name}.png" in doc, name
    report = (COMMITTED / "report.md").read_text()
    assert "Produced by `bench/calibrate_flow.py --report docs/img/flow" in report


def test_the_docs_show_the_committed_report_tables() -> None:
    """docs/sim-calibration.md quotes the measured tables of docs/img/flow/report.md row for row (so a
    regenerated report that changes a figure fails here until the page says the same)."""
    doc = set((ROOT / "docs" / "sim-calibration.md").read_text().splitlines())
    rows = [line for line in (COMMITTED / "report.md").read_text().splitlines() if line.startswith("|")]
    assert len(rows) > 50
    assert [r for r in rows if r not in doc] == []
