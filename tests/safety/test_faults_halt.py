"""halt, flatten and resume through the CLI against sim-exchange (demo mode, ``KALASHI_EXCHANGE_URL``).

halt → no resting order remains on the exchange, no new entries, and the halt survives a
restart; flatten → no position remains, or each that does is named with the reason; resume
needs ``--confirm``. The HALT file in the data dir halts a running loop, which then cancels its
own resting quotes.
"""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pytest
from simx.conftest import Sim
from typer.testing import CliRunner

from kalashi_cli.cli.app import app
from kalashi_cli.domain import OrderStatus
from kalashi_cli.journal import Journal
from kalashi_cli.kalshi.env import custom_env
from kalashi_cli.kalshi.source import KalshiSource
from kalashi_cli.loop import TradingLoop
from kalashi_cli.profile import load_profile
from kalashi_cli.stages.risk import halt_file, stored_state

from .conftest import Counts, demo_broker, demo_journal, engine_truth, trade_through

P = load_profile("default")
PROFILE = msgspec.structs.replace(P, execution=msgspec.structs.replace(P.execution, maker_expiry_seconds=0))


@pytest.fixture
def demo_env(fault_sim: Sim, monkeypatch: pytest.MonkeyPatch) -> Sim:
    monkeypatch.setenv("KALASHI_EXCHANGE_URL", fault_sim.url)
    monkeypatch.setenv("KALSHI_API_KEY_ID", fault_sim.key.key_id)
    monkeypatch.setenv("KALSHI_PRIVATE_KEY_PATH", str(fault_sim.key.private_key_path))
    return fault_sim


def _cli(*args: str, code: int = 0) -> tuple[str, str]:
    res = CliRunner().invoke(app, list(args))
    assert res.exit_code == code, res.stdout + res.stderr
    return res.stdout, res.stderr


def _loop(sim: Sim, journal_path: Path) -> tuple[TradingLoop, Journal]:
    broker = demo_broker(sim)
    journal = demo_journal(journal_path, broker)
    return TradingLoop(PROFILE, KalshiSource(custom_env(sim.url)), broker, journal), journal


def _close(loop: TradingLoop, journal: Journal) -> None:
    loop.source.close()
    loop.broker.close()
    journal.close()


def _entries(records: list[dict[str, object]]) -> list[dict[str, object]]:
    return [r for r in records if r["kind"] == "order" and not r.get("reduce_only")]


def test_halt_flatten_resume_through_the_cli_on_the_simulator(demo_env: Sim, tmp_path: Path) -> None:
    sim = demo_env
    counts = Counts("halt-flatten")
    path = tmp_path / "journal-demo.sqlite"
    loop, journal = _loop(sim, path)
    try:
        loop.run_iteration()
        quotes = journal.orders(status=OrderStatus.RESTING)
        assert len(quotes) >= 2, "the loop should have quotes resting"
        bids = [o for o in quotes if o.side == "bid"]  # one side only: both sides of a market would net out
        for o in bids[: max(1, len(bids) // 2)]:  # half of them fill: positions to flatten
            trade_through(sim, o)
        loop.run_iteration()
    finally:
        _close(loop, journal)
    resting = [o for o in engine_truth(sim)[0] if o.status == "resting"]
    held = {p.ticker for p in engine_truth(sim)[2]}
    assert resting and held

    out, _ = _cli("halt", "--demo", "--journal", str(path), "--reason", "news event", "--quiet")
    res = json.loads(out)
    assert res["state"] == "HALTED" and res["remaining_resting"] == 0 and res["cancelled"] >= len(resting)
    assert [o for o in engine_truth(sim)[0] if o.status == "resting"] == []  # nothing rests on the exchange

    loop, journal = _loop(sim, path)  # a restart: the halt persists
    try:
        for _ in range(2):
            sim.step(1)
            r = loop.run_iteration()
            assert r.state.value == "HALTED" and not _entries(r.records)  # no new entries
            assert all(d["rule"] in ("halted", "already-quoting") for d in r.records if d["kind"] == "denied")
        assert [o for o in engine_truth(sim)[0] if o.status == "resting"] == []
    finally:
        _close(loop, journal)

    out, err = _cli("flatten", "--demo", "--journal", str(path))
    orders = [json.loads(x) for x in out.splitlines() if x and json.loads(x)["kind"] == "order"]
    assert orders and all(
        o["action"] == "sell" and o["reduce_only"] and o["time_in_force"] == "immediate_or_cancel" for o in orders
    )
    left = {p.ticker for p in engine_truth(sim)[2]}
    for t in left:  # whatever stays open is named, with the reason
        assert f"{t} left open:" in err, err
    assert len(left) < len(held)
    counts.update(
        {
            "resting_before_halt": len(resting),
            "resting_after_halt": 0,
            "positions_before_flatten": len(held),
            "positions_after_flatten": len(left),
            "left_open_with_reason": len(left),
        }
    )

    _cli("resume", "--demo", "--journal", str(path), code=2)  # needs --confirm
    assert stored_state(Journal(path, mode="demo"))[0].value == "HALTED"
    _cli("resume", "--demo", "--journal", str(path), "--confirm", "--quiet")
    assert stored_state(Journal(path, mode="demo"))[0].value == "ACTIVE"
    counts.write(command="pytest tests/safety/test_faults_halt.py")


def test_the_halt_file_halts_a_running_loop_which_cancels_its_quotes(demo_env: Sim, tmp_path: Path) -> None:
    loop, journal = _loop(demo_env, tmp_path / "journal-demo.sqlite")
    try:
        loop.run_iteration()
        assert [o for o in engine_truth(demo_env)[0] if o.status == "resting"]
        halt_file(journal).parent.mkdir(parents=True, exist_ok=True)
        halt_file(journal).write_text("ops\n")  # cron or an operator
        r = loop.run_iteration()
        assert r.state.value == "HALTED" and not _entries(r.records)
        assert [o for o in engine_truth(demo_env)[0] if o.status == "resting"] == []
        assert any(e["kind"] == "halt-enforced" for e in journal.events())
    finally:
        _close(loop, journal)
