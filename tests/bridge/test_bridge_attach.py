"""serve-bridge --attach: watching (and halting) a loop that another writer runs, through its journal."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kalashi_cli.bridge.attach import AttachBackend
from kalashi_cli.domain import OrderStatus
from kalashi_cli.errors import UsageError
from kalashi_cli.money import fmt_money
from kalashi_cli.service import TradingService
from kalashi_cli.stages.risk import stored_state

from .conftest import SIM, Client, RunningBridge


@pytest.fixture
def writer(tmp_path: Path) -> Iterator[TradingService]:
    """Stands in for `kalashi run-loop`: its own journal connection, iterations driven by the test."""
    svc = TradingService("default", source=SIM, journal_path=tmp_path / "journal.sqlite", interval=0)
    yield svc
    svc.close()


def attach(writer: TradingService, **kw: object) -> AttachBackend:
    return AttachBackend(writer.journal.path, mode="paper", poll_s=0.02, **kw)  # type: ignore[arg-type]


def test_attach_streams_the_journal_and_shows_its_numbers(
    writer: TradingService, start_bridge: Callable[..., RunningBridge], connect: Callable[..., Client]
) -> None:
    writer.run_iteration()
    bridge = start_bridge(attach(writer))
    c = connect(bridge.ws_url)
    first = c.welcome()
    assert first["loop"]["iteration"] == 1 and first["loop"]["status"] == "running"
    assert first["attached"] is True and first["opportunities"] == []

    emitted: list[dict] = []
    writer.subscribe(emitted.append)
    for _ in range(10):
        writer.run_iteration()
    c.until(lambda m: m["type"] == "record" and m["record"]["kind"] == "iteration" and m["record"]["n"] == 11)
    state = c.until(lambda m: m["type"] == "state" and m["state"]["loop"]["iteration"] == 11)["state"]
    got = [m["record"] for m in c.seen if m["type"] == "record"]

    iterations = [r["n"] for r in got if r["kind"] == "iteration"]
    assert iterations == list(range(2, 12))
    assert [r for r in got if r["kind"] == "metrics"] == [writer.journal.latest_metrics()]
    journaled = [r for r in emitted if r["kind"] in ("order", "fill", "denied")]
    seen = [r for r in got if r["kind"] in ("order", "fill", "denied")]
    assert [r.get("client_order_id") or r.get("ref") for r in seen] == [
        r.get("client_order_id") or r.get("ref") for r in journaled
    ]
    assert all("ts" in r for r in seen if r["kind"] == "order")
    # each iteration's orders come before its iteration record
    for it in (r for r in emitted if r["kind"] == "iteration"):
        mine = [r for r in emitted if r["kind"] == "order" and emitted.index(r) < emitted.index(it)]
        if mine:
            assert got.index(
                next(g for g in got if g.get("client_order_id") == mine[-1]["client_order_id"])
            ) < got.index(next(g for g in got if g["kind"] == "iteration" and g["n"] == it["n"]))

    row = writer.journal.iterations(limit=1)[-1]
    assert state["loop"]["iteration"] == row["n"] == 11
    assert state["account"]["equity"] == fmt_money(row["equity"])
    assert state["account"]["balance"] == fmt_money(row["cash"])
    # fresh from the journal at iteration 11 (the loop journals its own metrics only every 10th)
    metrics = writer.journal.latest_metrics()
    assert metrics is not None and metrics["iterations"] == 10
    assert state["metrics"]["iterations"] == 11 and state["metrics"]["equity"] == fmt_money(row["equity"])
    assert state["last_iteration"]["n"] == 11
    assert {o["client_order_id"] for o in state["open_orders"]} == {
        o.client_order_id for o in writer.journal.orders(status=OrderStatus.RESTING)
    }
    assert {p["ticker"] for p in state["positions"]} == {
        x.ticker for x in writer.loop.portfolio().ledger.open_positions()
    }


def test_attach_halts_the_other_loop_and_refuses_the_rest(
    writer: TradingService, start_bridge: Callable[..., RunningBridge], connect: Callable[..., Client]
) -> None:
    for _ in range(3):
        writer.run_iteration()
    resting = len(writer.broker.orders(status=OrderStatus.RESTING))
    bridge = start_bridge(attach(writer))
    c = connect(bridge.ws_url)
    c.welcome()
    for cmd, args in (
        ("start", {}),
        ("pause", {}),
        ("stop", {}),
        ("flatten", {}),
        ("set_profile", {"name": "conservative"}),
    ):
        err = c.command(cmd, **args)
        assert err["type"] == "error" and err["code"] == "refused" and "attached" in err["message"], err
    ack = c.command("halt", reason="watching from the dashboard")
    # the paper exchange lives inside the run-loop's process: the bridge halts, it does not cancel there
    assert ack["result"]["trading_state"] == "HALTED" and ack["result"]["canceled_orders"] == 0
    assert ack["result"]["resting_orders"] == resting
    state = c.until(lambda m: m["type"] == "state")["state"]
    assert state["trading_state"] == "HALTED" and state["halt_reason"] == "watching from the dashboard"
    assert stored_state(writer.journal)[0].value == "HALTED"
    # the run-loop's gate sees it at its next iteration: no new entries
    res = writer.run_iteration()
    assert res.state.value == "HALTED" and res.record["orders"] == 0


def test_a_silent_loop_shows_as_stopped(writer: TradingService) -> None:
    writer.run_iteration()
    backend = attach(writer, wall_ms=lambda: 4_000_000_000_000, interval=10.0)
    try:
        s = backend.state()
    finally:
        backend.close()
    assert s["loop"]["status"] == "stopped" and s["loop"]["interval_s"] == "10"
    assert next(h for h in s["health"] if h["name"] == "loop")["status"] == "degraded"


def test_attach_to_nothing_or_the_wrong_mode_is_a_usage_error(tmp_path: Path, writer: TradingService) -> None:
    with pytest.raises(UsageError, match="no journal"):
        AttachBackend(tmp_path / "absent.sqlite", mode="paper")
    with pytest.raises(UsageError, match="paper journal, not demo"):
        AttachBackend(writer.journal.path, mode="demo")
