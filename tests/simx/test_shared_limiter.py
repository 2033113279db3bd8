"""One API key, one budget: `run-loop --demo` at the simulator's default Basic tier collects no 429.

Kalshi bills every request signed with a key to that key's token buckets, market data and
orders alike. The loop's source and broker therefore wait on one set of client-side buckets
(:func:`kalashi_cli.context.account_limiter`); with a set each they spent twice the Basic
budget and the simulator answered hundreds of requests 429. The simulator counts every 429
it sends in ``/_sim/state``, so "zero" is checked on the server's side, not the client's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from .conftest import sim_exchange_process

KALASHI = [sys.executable, "-m", "kalashi_cli"]


@pytest.fixture
def basic_tier_sim(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """`kalashi sim-exchange` with its defaults for rate limits: the Basic tier, enforced."""
    with sim_exchange_process(tmp_path, "--markets", "150", "--seed", "3", "--speed", "20") as ready:
        yield ready


def test_source_and_broker_of_one_key_stay_within_the_basic_tier(
    basic_tier_sim: dict[str, Any], tmp_path: Path
) -> None:
    sim = basic_tier_sim
    state = httpx.get(sim["control_url"] + "/state", trust_env=False).json()
    assert state["rate_limited"] == 0
    key = sim["demo_key"]
    env = {
        **os.environ,
        "KALASHI_HOME": str(tmp_path / "home"),
        "KALASHI_EXCHANGE_URL": sim["url"],
        "KALSHI_API_KEY_ID": key["key_id"],
        "KALSHI_PRIVATE_KEY_PATH": key["private_key_path"],
    }
    env.pop("KALASHI_WS_URL", None)
    env.pop("KALSHI_KEY_ENV", None)
    run = subprocess.run(
        [
            *KALASHI,
            "run-loop",
            "--demo",
            "--source",
            "kalshi-demo",
            "--iterations",
            "14",
            "--interval",
            "0",
            "--all-records",
            "--journal",
            str(tmp_path / "journal-demo.sqlite"),
            "--quiet",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    records = [json.loads(line) for line in run.stdout.splitlines()]
    iterations = [r for r in records if r["kind"] == "iteration"]
    assert len(iterations) == 14 and all(r["markets"] > 0 for r in iterations)
    orders = [r for r in records if r["kind"] == "order"]
    assert orders, "the loop sent no order: the write bucket was never exercised"
    assert not [o for o in orders if "429" in str(o.get("reason", ""))]

    state = httpx.get(sim["control_url"] + "/state", trust_env=False).json()
    # Back-to-back iterations drain the read bucket every time: only one budget for both keeps this 0.
    assert state["requests"] > 100
    assert state["rate_limited"] == 0, f"{state['rate_limited']} of {state['requests']} requests were refused 429"
    # The iterations count the broker's calls too: the simulator saw about what the loop says it sent
    # (plus the start-up calls before the first iteration: limits, balance, positions, reconcile).
    counted = sum(int(r["api_calls"]) for r in iterations)
    assert counted <= state["requests"] <= counted + 20
