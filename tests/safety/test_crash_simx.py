"""Crash safety against sim-exchange: SIGKILL `run-loop --demo` at random moments, restart, reconcile.

The simulator runs on loopback with its market clock ticking (resting orders fill while no
loop is alive); ``kalashi run-loop --demo --source kalshi-demo`` is pointed at it with
``KALASHI_EXCHANGE_URL`` and killed with SIGKILL at random moments — sometimes during
start-up and its first reconciliation, mostly inside later iterations. Each restart
reconciles before trading. At the end one clean iteration runs, the market clock is stopped
and the journal reconciled once more: no fill lost, no order twice, journal = exchange.

A few kills run in the normal suite; 50 under ``-m slow``.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from simx.conftest import Sim

from kalashi_cli.journal import Journal
from kalashi_cli.sim.server import DemoKey, FaultConfig

from .conftest import Counts, demo_broker, prove_journal_equals_exchange, start_fault_sim

KALASHI = [sys.executable, "-m", "kalashi_cli"]


@pytest.fixture
def ticking_sim(safety_key: DemoKey) -> Iterator[Sim]:
    # a little latency on every answer widens the window between "journaled" and "answered"
    s = start_fault_sim(safety_key, markets=300, seed=1, faults=FaultConfig(seed=1, latency_ms=2, jitter_ms=6))
    assert s.control.post("clock", json={"speed": 40}).status_code == 200
    try:
        yield s
    finally:
        s.close()


def _env(sim: Sim, home: Path) -> dict[str, str]:
    env = {
        **os.environ,
        "KALASHI_HOME": str(home),
        "KALASHI_EXCHANGE_URL": sim.url,
        "KALSHI_API_KEY_ID": sim.key.key_id,
        "KALSHI_PRIVATE_KEY_PATH": str(sim.key.private_key_path),
    }
    for k in ("KALASHI_WS_URL", "KALSHI_KEY_ENV"):
        env.pop(k, None)
    return env


def _kill_and_restart(sim: Sim, tmp_path: Path, kills: int, seed: int, counts: Counts) -> Path:
    rng = random.Random(seed)
    journal = tmp_path / "journal-demo.sqlite"
    env = _env(sim, tmp_path / "home")
    # The simulator's clock runs ahead of the wall clock (10 s of market per 0.25 s step) while
    # quote expiries are computed from ours, so quotes rest without expiry here: they rest and
    # fill while no loop is alive, which is the case this test is about.
    profile = tmp_path / "crash.yaml"
    profile.write_text("name: crash\nexecution:\n  maker_expiry_seconds: 0\n")
    cmd = [
        *KALASHI,
        "run-loop",
        "--demo",
        "--source",
        "kalshi-demo",
        "--interval",
        "0",
        "--quiet",
        "--profile",
        str(profile),
        "--journal",
        str(journal),
    ]
    for _ in range(kills):
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        assert proc.stdout is not None
        how = rng.random()
        if how < 0.2:
            # any moment, start-up and the first reconciliation included
            time.sleep(rng.uniform(0.0, 1.5))
            counts.add("kills_any_moment")
        else:
            line = proc.stdout.readline()  # one iteration done; die inside a later one
            assert line, (proc.wait(timeout=30), proc.stderr.read() if proc.stderr else b"")[1][-2000:]
            if how < 0.6:
                time.sleep(rng.uniform(0.0, 0.8))
                counts.add("kills_inside_an_iteration")
            else:
                # the moment that matters most: an intent is journaled and its answer not yet
                # recorded (sent or not, processed or not)
                if _wait_for_pending(journal, timeout=3.0):
                    time.sleep(rng.uniform(0.0, 0.012))
                    counts.add("kills_with_an_order_in_flight")
                else:
                    counts.add("kills_inside_an_iteration")
        alive = proc.poll() is None
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        assert alive or proc.returncode == 0, (proc.stderr.read() if proc.stderr else b"")[-2000:]
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.close()
        proc.stderr.close()
        counts.add("sigkills")
    # one clean run to finish: it reconciles first, trades one iteration and stops
    subprocess.run([*cmd, "--iterations", "1"], check=True, stdout=subprocess.DEVNULL, env=env, timeout=120)
    return journal


def _wait_for_pending(journal: Path, timeout: float) -> bool:
    """Poll the journal (read-only, WAL) until an intent is pending: journaled, answer not yet recorded."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            db = sqlite3.connect(f"file:{journal}?mode=ro", uri=True, timeout=0.05)
            try:
                if db.execute("SELECT 1 FROM intents WHERE status='pending' LIMIT 1").fetchone():
                    return True
            finally:
                db.close()
        except sqlite3.Error:
            pass  # not created yet, or busy
        time.sleep(0.001)
    return False


def _prove(sim: Sim, journal_path: Path, counts: Counts) -> None:
    assert sim.control.post("clock", json={"speed": 0}).status_code == 200  # the market stops
    broker = demo_broker(sim)
    j = Journal(journal_path, mode="demo")
    try:
        proof = prove_journal_equals_exchange(sim, j, broker)
        intents = j.intents()
        counts.update(
            {
                "iterations": j.last_iteration(),
                "intents": len(intents),
                "orders_on_exchange": proof["orders_on_exchange"],
                "exchange_fills": proof["fills"],
                "duplicates_found": proof["duplicates"],
                "fills_lost": proof["lost_fills"],
                "reconciliations": int(j.get_meta("reconcile_runs", "0") or 0),
                "reconcile_corrections": int(j.get_meta("reconcile_corrections", "0") or 0),
                "resolved_after_crash": sum(
                    len(e["detail"].get("resolved", [])) for e in j.events("reconcile", limit=10_000)
                ),
            }
        )
        assert proof["fills"] > 0, "the loop should have traded"
    finally:
        broker.close()
        j.close()


def test_sigkill_run_loop_on_the_simulator_loses_nothing(ticking_sim: Sim, tmp_path: Path) -> None:
    counts = Counts("crash-simx-5")
    journal = _kill_and_restart(ticking_sim, tmp_path, kills=5, seed=3, counts=counts)
    _prove(ticking_sim, journal, counts)
    counts.write(command="pytest tests/safety/test_crash_simx.py (5 SIGKILLs)")


@pytest.mark.slow
def test_fifty_sigkills_on_the_simulator(ticking_sim: Sim, tmp_path: Path) -> None:
    counts = Counts("crash-simx-50")
    journal = _kill_and_restart(ticking_sim, tmp_path, kills=50, seed=2026, counts=counts)
    _prove(ticking_sim, journal, counts)
    counts.write(command="pytest -m slow tests/safety/test_crash_simx.py (50 SIGKILLs)")
