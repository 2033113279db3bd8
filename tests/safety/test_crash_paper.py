"""Crash safety on paper: SIGKILL the loop at random moments; nothing is lost or sent twice.

After every kill the loop is started again (it reconciles before trading). At the end the
journal must equal the paper exchange: the same fills (by id), every intent resolved, every
order the exchange holds known to the journal, and no intent on the exchange twice.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kalashi_cli.context import open_broker, open_source
from kalashi_cli.journal import IntentStatus, Journal
from kalashi_cli.profile import load_profile
from kalashi_cli.reconcile import reconcile

from .conftest import Counts

SIM = "sim:seed=11,markets=600"


def _kill_and_restart(tmp_path: Path, kills: int, seed: int) -> Path:
    rng = random.Random(seed)
    journal = tmp_path / "journal-paper.sqlite"
    env = {**os.environ, "KALASHI_HOME": str(tmp_path / "home")}
    cmd = [
        sys.executable,
        "-m",
        "kalashi_cli",
        "run-loop",
        "--paper",
        "--source",
        SIM,
        "--interval",
        "0",
        "--quiet",
        "--journal",
        str(journal),
    ]
    for _ in range(kills):
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
        assert proc.stdout is not None
        proc.stdout.readline()  # at least one iteration (start-up is not the interesting part)
        time.sleep(rng.uniform(0.0, 0.6))  # then die at a random moment inside a later iteration
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        proc.stdout.close()
    # one clean run to finish: it reconciles first, trades one iteration and stops
    subprocess.run([*cmd, "--iterations", "1"], check=True, stdout=subprocess.DEVNULL, env=env, timeout=120)
    return journal


def _assert_journal_equals_exchange(journal_path: Path, counts: Counts) -> None:
    prof = load_profile("default")
    j = Journal(journal_path)
    src = open_source(j.iterations(limit=1)[-1]["source"])
    broker = open_broker("paper", src, j, prof)
    try:
        rep = reconcile(j, broker, starting_balance=10**8)
        assert rep.ok, rep.error
        ex_fills = {f.fill_id for f in broker.fills()}
        j_fills = {f.fill_id for f in j.fills() if not f.fill_id.startswith("adj-")}
        assert ex_fills == j_fills, "a fill was lost (or invented)"
        assert not rep.position_drift, rep.position_drift
        assert not j.intents(status=IntentStatus.PENDING) and not j.intents(status=IntentStatus.UNKNOWN)
        ex_orders = broker.orders()
        coids = [o.client_order_id for o in ex_orders]
        assert len(coids) == len(set(coids)), "an intent reached the exchange twice"
        journal_coids = {i.client_order_id for i in j.intents()}
        assert set(coids) <= journal_coids, "the exchange has an order the journal never intended"
        acked = {
            i.client_order_id for i in j.intents(status=IntentStatus.ACKED)
        } - j.superseded_intents()  # amended: new id
        assert acked == set(coids), "journal and exchange disagree on which intents arrived"
        assert len(j.fills()) > 0, "the loop should have traded at least once"
        counts.update(
            {
                "exchange_fills": len(ex_fills),
                "orders_on_exchange": len(ex_orders),
                "intents": len(j.intents()),
                "iterations": j.last_iteration(),
                "duplicates_found": len(coids) - len(set(coids)),
                "fills_lost": len(ex_fills - j_fills),
            }
        )
    finally:
        broker.close()
        src.close()
        j.close()


def test_sigkill_at_random_moments_loses_nothing(tmp_path: Path) -> None:
    counts = Counts("crash-paper-6")
    _assert_journal_equals_exchange(_kill_and_restart(tmp_path, kills=6, seed=7), counts)
    counts.add("sigkills", 6)
    counts.write(command="pytest tests/safety/test_crash_paper.py (6 SIGKILLs)")


@pytest.mark.slow
def test_fifty_sigkills(tmp_path: Path) -> None:
    counts = Counts("crash-paper-50")
    _assert_journal_equals_exchange(_kill_and_restart(tmp_path, kills=50, seed=2026), counts)
    counts.add("sigkills", 50)
    counts.write(command="pytest -m slow tests/safety/test_crash_paper.py (50 SIGKILLs)")
