"""Issues 14, 15 and 17's "done when", on main as it stands: a 300-iteration paper run of the default profile
on the sim makes no implausible money, reports P&L per strategy with markouts, and the market maker (issue
17, which replaced spread capture's one-tick bid) reports its markouts, quote writes and inventory. The
naive quotes' adverse selection (as makers' fills on the real KXBTC15M runs) is measured in
tests/sim/test_flow.py.

The run is the one docs/sim-calibration.md ("A paper run on the sim") shows, as a user types it;
bench/paper_markouts.py marks fills to the sim's hidden probability. The sim's arbitrage is as rare,
brief and thin as the real captures allow (bench/arb_real.py finds none after fees), so the riskless
trades issue 14 funds first no longer carry the run, and spread capture trades in the default profile.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _paper_markouts() -> ModuleType:
    spec = importlib.util.spec_from_file_location("paper_markouts", ROOT / "bench" / "paper_markouts.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _kalashi(home: Path, *args: str) -> str:
    env = {**os.environ, "KALASHI_HOME": str(home)}
    done = subprocess.run(
        [sys.executable, "-m", "kalashi_cli", *args], capture_output=True, env=env, timeout=900, check=True
    )
    return done.stdout.decode()


def _run(home: Path, *profile: str) -> dict[str, Any]:
    _kalashi(home, "run-loop", "--paper", "--iterations", "300", "--interval", "0", "-q", *profile)
    metrics: dict[str, Any] = json.loads(_kalashi(home, "metrics", *profile).splitlines()[-1])
    assert metrics["iterations"] == 300
    return metrics


def _dollars(s: str | None) -> float:
    return float(s or 0)


#: The bound on the default run's equity: at most 2 % above the start. A visible arbitrage in the sim
#: leaves 1-10 contracts at an edge of $0.005-$0.03 (at most $0.30), a few appear in a run, and the
#: real captures show none after fees; everything else the default profile trades loses in
#: expectation (spread capture, below). Before this calibration the run ended at $117.02.
MAX_GAIN = 0.02
#: Riskless arbitrage (realized + marked): at most $3 in a run (it made +$17.20 before; its baskets are
#: marked at each leg's mid, which can show more than the edge locked in).
MAX_ARBITRAGE_PNL = 3.0


@pytest.fixture(scope="module")
def default_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    home = tmp_path_factory.mktemp("paper")
    return home, _run(home)


@pytest.mark.slow
def test_the_default_profile_makes_no_implausible_money(default_run: tuple[Path, dict[str, Any]]) -> None:
    _, metrics = default_run
    equity, start = _dollars(metrics["equity"]), _dollars(metrics["starting_balance"])
    assert start == 100
    assert equity <= start * (1 + MAX_GAIN), metrics["equity"]
    per = metrics["per_strategy"]
    for name, s in per.items():
        assert s["markouts"]["1m"] is not None, name  # P&L per strategy, with markouts
        pnl = _dollars(s["realized_pnl"]) + _dollars(s["unrealized_pnl"])
        if name == "arbitrage":
            assert pnl <= MAX_ARBITRAGE_PNL, s
        else:  # nothing but riskless arbitrage earns on the sim
            assert pnl <= 0, (name, s)


@pytest.mark.slow
def test_the_market_maker_reports_markouts_inventory_and_quote_writes(default_run: tuple[Path, dict[str, Any]]) -> None:
    """Issue 17 replaced spread capture's one-tick bid (whose fills were adversely selected, as test_flow's naive
    quotes still show) by the market maker: its run reports markouts, quote writes and inventory."""
    home, metrics = default_run
    spread = metrics["per_strategy"]["spread"]
    assert float(spread["markouts"]["1m_contracts"]) >= 50, spread  # enough passive fills to measure
    assert spread["markouts"]["1m"] is not None and spread["markouts"]["5m"] is not None, spread
    assert spread["quotes"]["created"] > 0 and spread["quotes"]["updates"] >= spread["quotes"]["created"], spread
    assert spread["quotes"]["amended"] + spread["quotes"]["cancelled"] > 0, "quotes were re-priced or withdrawn"
    assert 0 < float(spread["inventory"]["max_in_one_market"]) <= 25, spread["inventory"]  # max_inventory

    passive = _paper_markouts().measure(home / "journal-paper.sqlite")["spread passive"]
    assert passive["fills"] >= 5, passive
    assert passive["expected_pnl"][2] == passive["fills"], passive  # each fill marked to the hidden probability
