"""Long commands report progress, and no command's result is thrown away (docs/bridge-protocol.md §5).

The dashboard once said "timeout — no answer within 10 s" although the flatten it had sent ran,
closed 53 positions and left 19 open: the bridge read no frame while a command ran and said
nothing until the end. Now every accepted command gets a server-wide ``ref`` and ``progress``
messages until its answer, the connection keeps being read meanwhile, and the last 20 commands
with their results go out in every state.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from kalashi_cli.bridge.backends import ServiceBackend
from kalashi_cli.service import TradingService

from .conftest import WAIT, Client, RunningBridge, ScriptedBackend


def test_flatten_reports_each_position_then_its_result(
    idle_bridge: RunningBridge, service: TradingService, connect: Callable[..., Client]
) -> None:
    held: list[str] = []
    for _ in range(20):  # the market maker's quotes fill now and then: until two positions are open
        service.run_iteration()
        held = sorted(p.ticker for p in service.broker.positions() if p.position != 0)
        if len(held) >= 2:
            break
    assert len(held) >= 2, "the sim should leave several positions open"
    c = connect(idle_bridge.ws_url)
    c.welcome()
    id_ = c.send("flatten")
    answer = c.answer(id_)
    progress = [m for m in c.seen if m["type"] == "progress" and m["id"] == id_]
    assert answer["type"] == "ack" and progress, "a flatten says where it stands before its answer"
    ref = answer["ref"]
    assert {m["ref"] for m in progress} == {ref} and {m["cmd"] for m in progress} == {"flatten"}
    assert progress[0]["status"] in ("queued", "running")
    closing = [m for m in progress if m["detail"].get("step") == "close" and m["detail"].get("ticker")]
    # one step per position, counted, each saying closed or why it stayed open
    assert [m["detail"]["ticker"] for m in closing] == held
    assert [m["done"] for m in closing] == list(range(1, len(held) + 1))
    assert {m["total"] for m in closing} == {len(held)}
    result = answer["result"]
    for m in closing:
        t = m["detail"]["ticker"]
        if t in result["left_open"]:
            assert m["detail"]["left_open"] == result["left_open"][t] and result["left_open"][t] in m["message"]
        else:
            assert m["detail"]["closed"] is True and t in result["closed"]
    cancel = [m for m in progress if m["detail"].get("step") == "cancel"]
    assert cancel and cancel[-1]["done"] == cancel[-1]["total"]
    # the state after it lists the command with its whole result, for every page
    state = c.until(lambda m: m["type"] == "state")["state"]
    entry = next(e for e in state["commands"] if e["ref"] == ref)
    assert entry["status"] == "done" and entry["cmd"] == "flatten" and entry["result"] == result
    assert entry["finished"] is not None and entry["progress"]["done"] == len(held)


def _slow_flatten(
    backend: ScriptedBackend, release: threading.Event, started: threading.Event, positions: int = 72, closed: int = 53
) -> None:
    def flatten(_args: dict[str, Any], progress: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
        left = {f"KXT-{i:02d}": "no bid within the 5.0% slippage bound" for i in range(closed, positions)}
        for i in range(closed):
            progress(
                {
                    "step": "close",
                    "done": i + 1,
                    "total": positions,
                    "ticker": f"KXT-{i:02d}",
                    "closed": True,
                    "message": f"KXT-{i:02d}: closed",
                }
            )
        started.set()
        assert release.wait(WAIT), "the test never released the flatten"
        for i, t in enumerate(left, start=closed + 1):
            progress(
                {
                    "step": "close",
                    "done": i,
                    "total": positions,
                    "ticker": t,
                    "left_open": left[t],
                    "message": f"{t}: left open — {left[t]}",
                }
            )
        return {
            "canceled_orders": 3,
            "closing_orders": closed,
            "closed": [f"KXT-{i:02d}" for i in range(closed)],
            "left_open": left,
        }

    backend.commands["flatten"] = flatten


def test_a_long_command_keeps_the_connection_read_and_its_sender_informed(
    start_bridge: Callable[..., RunningBridge], connect: Callable[..., Client]
) -> None:
    backend = ScriptedBackend()
    release, started = threading.Event(), threading.Event()
    _slow_flatten(backend, release, started)
    backend.commands["halt"] = lambda args, _p: {"trading_state": "HALTED", "canceled_orders": 0}
    bridge = start_bridge(backend, progress_every_s=0.2)
    c = connect(bridge.ws_url)
    c.welcome()
    flat = c.send("flatten")
    try:
        assert started.wait(WAIT)
        step = c.until(lambda m: m["type"] == "progress" and m["id"] == flat and m["done"] == 53)
        assert step["status"] == "running" and step["total"] == 72 and step["message"] == "KXT-52: closed"
        # the bridge still reads this connection: a halt sent now is accepted and queued behind the flatten
        halt = c.send("halt", reason="ops")
        queued = c.until(lambda m: m["type"] == "progress" and m["id"] == halt)
        assert queued["status"] == "queued" and queued["cmd"] == "halt"
        # and while the flatten runs the sender hears from it at least every progress_every_s
        t0 = time.monotonic()
        ticks = [c.until(lambda m: m["type"] == "progress" and m["id"] == flat) for _ in range(3)]
        assert all(t["done"] == 53 and t["status"] == "running" for t in ticks)
        assert time.monotonic() - t0 < WAIT
        assert [a for a in c.seen if a["type"] in ("ack", "error")] == []
    finally:
        release.set()
    ack = c.answer(flat)
    assert ack["result"]["left_open"]["KXT-71"] == "no bid within the 5.0% slippage bound"
    assert len(ack["result"]["closed"]) == 53 and len(ack["result"]["left_open"]) == 19
    assert c.answer(halt)["result"]["trading_state"] == "HALTED"
    assert backend.executed == ["flatten", "halt"]  # one at a time, in the order sent


def test_a_result_whose_sender_went_away_is_in_the_next_state(
    start_bridge: Callable[..., RunningBridge], connect: Callable[..., Client]
) -> None:
    backend = ScriptedBackend()
    release, started = threading.Event(), threading.Event()
    _slow_flatten(backend, release, started)
    bridge = start_bridge(backend, progress_every_s=0.2)
    gone = connect(bridge.ws_url)
    gone.welcome()
    gone.send("flatten")
    assert started.wait(WAIT)
    ref = gone.until(lambda m: m["type"] == "progress")["ref"]
    gone.close()  # the page reloads, or the network drops, mid-flatten
    watcher = connect(bridge.ws_url)
    running = watcher.welcome()
    entry = next(e for e in running["commands"] if e["ref"] == ref)
    assert entry["status"] == "running" and entry["progress"]["done"] == 53 and entry["finished"] is None
    release.set()
    state = watcher.until(
        lambda m: (
            m["type"] == "state" and any(e["ref"] == ref and e["status"] == "done" for e in m["state"]["commands"])
        )
    )["state"]
    entry = next(e for e in state["commands"] if e["ref"] == ref)
    assert len(entry["result"]["left_open"]) == 19 and entry["progress"]["done"] == 72
    assert entry["elapsed_ms"] >= 0 and entry["finished"] >= entry["started"]


def test_a_refused_command_is_logged_with_its_reason(
    start_bridge: Callable[..., RunningBridge], connect: Callable[..., Client]
) -> None:
    backend = ScriptedBackend()
    bridge = start_bridge(backend)
    c = connect(bridge.ws_url)
    c.welcome()
    err = c.command("pause")
    assert err["type"] == "error" and err["code"] == "refused" and err["ref"].startswith("c")
    state = c.until(lambda m: m["type"] == "state")["state"]
    assert state["commands"][0] == {
        **state["commands"][0],
        "ref": err["ref"],
        "cmd": "pause",
        "status": "failed",
        "error": err["message"],
        "result": None,
    }


def test_the_command_log_keeps_the_last_twenty(
    idle_bridge: RunningBridge, service: TradingService, connect: Callable[..., Client]
) -> None:
    c = connect(idle_bridge.ws_url)
    c.welcome()
    refs = [c.command("set_profile", name=("conservative", "default")[i % 2])["ref"] for i in range(23)]
    state = c.until(lambda m: m["type"] == "state" and m["state"]["commands"][0]["ref"] == refs[-1])["state"]
    assert [e["ref"] for e in state["commands"]] == refs[::-1][:20]
    assert state["profiles"] == service.read.profiles()


def test_the_service_backend_offers_its_profiles(
    idle_bridge: RunningBridge, service: TradingService, connect: Callable[..., Client]
) -> None:
    c = connect(idle_bridge.ws_url)
    state = c.welcome()
    assert state["profiles"] == sorted(state["profiles"]) and "default" in state["profiles"]
    assert isinstance(ServiceBackend(service).state()["profiles"], list)


def test_one_connection_cannot_queue_unbounded_work(
    start_bridge: Callable[..., RunningBridge], connect: Callable[..., Client]
) -> None:
    from kalashi_cli.bridge.server import IN_FLIGHT

    backend = ScriptedBackend()
    bridge = start_bridge(backend)
    c = connect(bridge.ws_url)
    c.welcome()
    backend.state_ready.clear()  # every get_state now waits in the bridge's worker
    ids = [c.send("get_state") for _ in range(4 * IN_FLIGHT)]

    def in_flight() -> int:
        return sum(s["in_flight"] for s in bridge.call(bridge.server.stats))

    deadline = time.monotonic() + WAIT
    while in_flight() < IN_FLIGHT:
        assert time.monotonic() < deadline, "the bridge did not take the first requests"
    # the rest wait unread on the socket, however long the worker is busy
    until = time.monotonic() + 1.0
    while time.monotonic() < until:
        assert in_flight() == IN_FLIGHT
    backend.state_ready.set()
    assert [c.answer(i)["type"] for i in ids] == ["ack"] * len(ids)  # and none is lost
