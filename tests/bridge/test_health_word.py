"""The dashboard's health word for the trading state is the one `kalashi heal --once` prints.

Both said something different for HALTED: heal's check ``failed`` (nothing new trades until an
operator acts), the bridge's ``degraded``. Now one rule, ``heal.checks.trading_state_status``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from kalashi_cli.heal.checks import trading_state
from kalashi_cli.health import trading_state_status
from kalashi_cli.service import TradingService

from .conftest import WAIT, Client, RunningBridge


def test_the_rule() -> None:
    assert [trading_state_status(s) for s in ("ACTIVE", "REDUCING", "HALTED")] == ["ok", "degraded", "failed"]


def _heal_once(journal: Path) -> dict[str, str]:
    """``kalashi heal --once`` on this journal, as cron runs it: its health records by name."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "kalashi_cli",
            "heal",
            "--once",
            "--source",
            "sim:seed=1,markets=300",
            "--journal",
            str(journal),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    records = [json.loads(line) for line in res.stdout.splitlines() if line.startswith("{")]
    assert records, res.stderr[-2000:]
    return {r["name"]: r["status"] for r in records if r.get("kind") == "health"}


def test_a_halted_loop_is_failed_on_the_page_as_in_heal(
    idle_bridge: RunningBridge, service: TradingService, connect: Callable[..., Client]
) -> None:
    service.run_iteration()
    c = connect(idle_bridge.ws_url)
    before = c.welcome()
    assert {h["name"]: h["status"] for h in before["health"]}["trading_state"] == "ok"
    c.command("halt", reason="ops")
    state = c.until(lambda m: m["type"] == "state", WAIT)["state"]
    record = next(
        m["record"]
        for m in c.seen
        if m["type"] == "record" and m["record"]["kind"] == "health" and m["record"]["name"] == "trading_state"
    )
    page = {h["name"]: h["status"] for h in state["health"]}["trading_state"]
    heal = trading_state(service.journal.path).status
    assert (record["status"], page, heal) == ("failed", "failed", "failed")
    assert _heal_once(service.journal.path)["trading_state"] == page
