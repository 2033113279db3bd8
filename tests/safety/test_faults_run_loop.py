"""The whole protocol through the CLI: `kalashi run-loop --demo` and `kalashi reconcile --demo` on a faulty simulator.

The loop trades on the simulator while it drops connections, answers 5xx and 429 and loses the
answers of orders it processed. Should the loop give up on an exchange error (reads are retried,
writes never), it is restarted the way ``kalashi heal`` would. Afterwards — market clock stopped,
faults off — ``kalashi reconcile`` runs and the journal must equal the exchange.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from simx.conftest import Sim

from kalashi_cli.journal import Journal
from kalashi_cli.sim.server import DemoKey, FaultConfig

from .conftest import Counts, demo_broker, prove_journal_equals_exchange, start_fault_sim

KALASHI = [sys.executable, "-m", "kalashi_cli"]
FAULTS = FaultConfig(seed=11, drop_rate=0.02, error_rate=0.03, rate_limit_storm=0.03, lose_order_responses=0.15)


def test_run_loop_and_reconcile_through_the_cli_under_faults(safety_key: DemoKey, tmp_path: Path) -> None:
    counts = Counts("run-loop-faults")
    sim: Sim = start_fault_sim(safety_key, markets=200, seed=2, faults=FAULTS)
    try:
        sim.control.post("clock", json={"speed": 40})
        journal = tmp_path / "journal-demo.sqlite"
        profile = tmp_path / "p.yaml"  # quotes without expiry: the simulator's clock runs ahead of ours
        profile.write_text("name: faults\nexecution:\n  maker_expiry_seconds: 0\n")
        env = {
            **os.environ,
            "KALASHI_HOME": str(tmp_path / "home"),
            "KALASHI_EXCHANGE_URL": sim.url,
            "KALSHI_API_KEY_ID": sim.key.key_id,
            "KALSHI_PRIVATE_KEY_PATH": str(sim.key.private_key_path),
        }
        for k in ("KALASHI_WS_URL", "KALSHI_KEY_ENV"):
            env.pop(k, None)
        done = 0
        for _ in range(4):
            run = subprocess.run(
                [
                    *KALASHI,
                    "run-loop",
                    "--demo",
                    "--source",
                    "kalshi-demo",
                    "--interval",
                    "0",
                    "--iterations",
                    str(8 - done),
                    "--quiet",
                    "--all-records",
                    "--profile",
                    str(profile),
                    "--journal",
                    str(journal),
                ],
                env=env,
                capture_output=True,
                text=True,
                timeout=180,
            )
            records = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
            done += sum(1 for r in records if r["kind"] == "iteration")
            counts.add("orders_recorded", sum(1 for r in records if r["kind"] == "order"))
            if run.returncode == 0:
                break
            assert run.returncode in (7, 8), run.stderr[-2000:]  # exchange/network error: restart like heal
            counts.add("restarts")
        assert done >= 8
        state = sim.control.get("state").json()["fault_counts"]
        sim.control.post("clock", json={"speed": 0})
        sim.control.post("faults/reset")
        rec = subprocess.run(
            [*KALASHI, "reconcile", "--demo", "--source", "kalshi-demo", "--journal", str(journal)],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert rec.returncode == 0, rec.stderr[-2000:]
        assert json.loads(rec.stdout)["ok"] is True
        broker = demo_broker(sim)
        j = Journal(journal, mode="demo")
        try:
            proof = prove_journal_equals_exchange(sim, j, broker)
            counts.update(
                {
                    "iterations": done,
                    "faults_dropped": state["drop"],
                    "faults_5xx": state["error"],
                    "faults_429": state["throttle"],
                    "faults_lost_order_answers": state["lost_order"],
                    "unknown_outcomes": len(j.events("outcome-unknown", limit=100_000)),
                    "lost_answer_found_by_lookup": len(j.events("outcome-resolved", limit=100_000)),
                    "reconciliations": int(j.get_meta("reconcile_runs", "0") or 0),
                    "orders_on_exchange": proof["orders_on_exchange"],
                    "exchange_fills": proof["fills"],
                    "duplicates_found": proof["duplicates"],
                    "fills_lost": proof["lost_fills"],
                }
            )
            assert proof["orders_on_exchange"] > 0
        finally:
            broker.close()
            j.close()
    finally:
        sim.close()
    counts.write(command="pytest tests/safety/test_faults_run_loop.py")
