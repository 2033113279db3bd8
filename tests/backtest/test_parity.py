"""Parity: one recording through `run-loop --source replay:` and through `backtest` gives the same orders."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from kalashi_cli.backtest import BacktestConfig, run_backtest
from kalashi_cli.cli.app import app

from .conftest import active_profile, write_profile

SAME = ("client_order_id", "ticker", "outcome", "action", "price", "count", "status", "filled_count", "strategy")


def _orders(recs: list[dict]) -> list[dict]:
    return [{k: r.get(k) for k in SAME} for r in recs if r["kind"] == "order"]


def test_run_loop_and_backtest_send_the_same_orders(particle_slice: Path, tmp_path: Path) -> None:
    prof = active_profile(**{"paper.latency_ms": 0})
    pfile = write_profile(tmp_path / "p.yaml", prof)
    res = CliRunner().invoke(
        app,
        [
            "run-loop",
            "--paper",
            "--source",
            f"replay:{particle_slice}",
            "--interval",
            "0",
            "--all-records",
            "--journal",
            str(tmp_path / "loop.sqlite"),
            "--profile",
            str(pfile),
        ],
    )
    assert res.exit_code == 0, res.stderr
    loop_recs = [json.loads(ln) for ln in res.stdout.splitlines() if ln.strip()]
    loop_orders = _orders(loop_recs)
    n = sum(1 for r in loop_recs if r["kind"] == "iteration")
    assert f"stopped after {n} iterations: the recording" in res.stderr  # not a silent stop

    run = run_backtest(BacktestConfig(sources=(str(particle_slice),), profile=prof, latency_ms=0), tmp_path / "bt")
    try:
        bt_orders = _orders(run.records)
        # the same iterations: one per recorded second, plus the backtest's closing step
        assert run.iterations == sum(1 for r in loop_recs if r["kind"] == "iteration") + 1
    finally:
        run.broker.close()
        run.journal.close()
    assert len(loop_orders) >= 3, "the slice must trade for the comparison to mean something"
    assert bt_orders == loop_orders
    loop_fills = sorted((r["ticker"], r["price"], r["count"]) for r in loop_recs if r["kind"] == "fill")
    bt_fills = sorted((r["ticker"], r["price"], r["count"]) for r in run.records if r["kind"] == "fill")
    assert bt_fills == loop_fills
