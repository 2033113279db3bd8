"""Issue 15's "done when": a 300-iteration paper run of the default profile on the sim makes no
implausible money, and spread capture's passive fills are adversely selected (negative average
1-minute markout), as makers' fills are on the real KXBTC15M runs.

The run is the one docs/sim-calibration.md ("A paper run on the sim") shows, as a user types it;
bench/paper_markouts.py marks its fills to the sim's mid 10 s, 1 min and 5 min later.
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
    done = subprocess.run([sys.executable, "-m", "kalashi_cli", *args], capture_output=True, env=env,
                          timeout=900, check=True)
    return done.stdout.decode()


@pytest.mark.slow
def test_a_300_iteration_paper_run_makes_no_free_money(tmp_path: Path) -> None:
    _kalashi(tmp_path, "run-loop", "--paper", "--iterations", "300", "--interval", "0", "-q")
    metrics: dict[str, Any] = json.loads(_kalashi(tmp_path, "metrics").splitlines()[-1])
    assert metrics["iterations"] == 300
    # the issue recorded +29 % to +46 % in 50 minutes of sim time: a gift of the simulator, now gone
    assert float(metrics["equity"]) < 1.05 * float(metrics["starting_balance"]), metrics["equity"]
    spread = metrics["per_strategy"]["spread"]
    assert spread["trades"] >= 5, spread

    marks = _paper_markouts().measure(tmp_path / "journal-paper.sqlite")
    passive = marks["spread passive"]
    mean_1m, se_1m, n_1m = passive["markout_60s"]
    assert n_1m >= 10, passive
    assert mean_1m < 0, passive  # adverse selection: the mid moves against a resting quote once filled
    assert passive["expected_pnl"][0] < 0, passive  # against the hidden probability, fees paid
