"""A demo loop's market data is the demo venue's; other books only with --allow-foreign-source (issue 13 item 2)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from simx.conftest import Sim

KALASHI = [sys.executable, "-m", "kalashi_cli"]
WAIT = 120.0


@pytest.fixture
def env(fault_sim: Sim) -> dict[str, str]:
    e = {
        **os.environ,
        "KALASHI_EXCHANGE_URL": fault_sim.url,
        "KALSHI_API_KEY_ID": fault_sim.key.key_id,
        "KALSHI_PRIVATE_KEY_PATH": str(fault_sim.key.private_key_path),
    }
    e.pop("KALASHI_WS_URL", None)
    e.pop("KALSHI_KEY_ENV", None)
    return e


def test_a_demo_loop_trades_on_the_venue_and_refuses_the_sim_unless_told(
    env: dict[str, str], fault_sim: Sim, tmp_path: Path
) -> None:
    journal = tmp_path / "journal-demo.sqlite"
    base = [*KALASHI, "run-loop", "--demo", "-n", "1", "--interval", "0", "--journal", str(journal)]
    refused = subprocess.run(
        [*base, "--source", "sim:seed=1,markets=50"], capture_output=True, text=True, env=env, timeout=WAIT
    )
    assert refused.returncode == 2, refused.stderr
    assert f"is the built-in simulated market, but demo orders go to {fault_sim.url}" in refused.stderr
    assert not journal.exists()
    # told explicitly: it runs on the sim's books (orders for tickers the exchange lacks are refused there)
    foreign = subprocess.run(
        [*base, "--source", "sim:seed=1,markets=50", "--allow-foreign-source"],
        capture_output=True,
        text=True,
        env=env,
        timeout=WAIT,
    )
    assert foreign.returncode == 0, foreign.stderr
    assert json.loads(foreign.stdout.splitlines()[-1])["source"].startswith("sim:seed=1,markets=50")
    # by default: the venue
    venue = subprocess.run(base, capture_output=True, text=True, env=env, timeout=WAIT)
    assert venue.returncode == 0, venue.stderr
    assert json.loads(venue.stdout.splitlines()[-1])["source"] == f"kalshi:{fault_sim.url},ws=1"
