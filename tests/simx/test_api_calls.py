""" "API calls per iteration" counts the broker's calls too: orders, cancels, reconciliation, polls.

Kalshi bills the market-data source and the broker of one key to one budget, so the figure in
iteration records, the journal and ``metrics`` must be both together. Checked against our own
clients' counters around each iteration, and against the number of orders the loop sent.
"""

from __future__ import annotations

from pathlib import Path

import msgspec

from kalashi_cli.journal import Journal
from kalashi_cli.kalshi.broker import KalshiBroker
from kalashi_cli.kalshi.env import custom_env
from kalashi_cli.kalshi.source import KalshiSource
from kalashi_cli.loop import TradingLoop
from kalashi_cli.profile import load_profile
from kalashi_cli.stages.metrics import compute_metrics

from .conftest import Sim

P = load_profile("default")
# Quotes that never expire: the simulator's market clock is not the wall clock.
PROFILE = msgspec.structs.replace(P, execution=msgspec.structs.replace(P.execution, maker_expiry_seconds=0))


def test_iteration_api_calls_include_the_brokers_calls(sim: Sim, tmp_path: Path) -> None:
    broker = KalshiBroker("demo", custom_env(sim.url), sim.creds, timeout=5.0)
    source = KalshiSource(custom_env(sim.url), credentials=sim.creds)
    journal = Journal(tmp_path / "journal-demo.sqlite", mode="demo")
    journal.set_meta("starting_balance", str(broker.balance().balance))
    loop = TradingLoop(PROFILE, source, broker, journal)
    try:
        rows = []
        for _ in range(3):
            s0, b0 = source.api_calls, broker.api_calls
            rec = loop.run_iteration().record
            ds, db = source.api_calls - s0, broker.api_calls - b0
            assert rec["api_calls"] == ds + db, (rec["api_calls"], ds, db)
            assert db > 0  # every iteration polls fills and resting orders at least
            rows.append((rec, ds, db))
            sim.step()
        sent = [(rec, ds, db) for rec, ds, db in rows if rec["orders"] > 0]
        assert sent, "the loop sent no order on the simulator"
        for rec, _, db in sent:
            assert db >= rec["orders"]  # one POST per order, besides the polls
        # the orders show up in the figure: it is more than the source alone made
        assert sum(r["api_calls"] for r, _, _ in rows) > sum(ds for _, ds, _ in rows)
        m = compute_metrics(journal, loop.portfolio(), PROFILE)
        assert m["api"]["calls"] == sum(r["api_calls"] for r, _, _ in rows)
    finally:
        source.close()
        broker.close()
        journal.close()
