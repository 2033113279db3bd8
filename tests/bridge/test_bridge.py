"""The bridge over a real TradingService, through a real WebSocket client on loopback.

Every server message is checked against the protocol's JSON Schemas (conftest ``Client.recv``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from websockets.exceptions import InvalidStatus

from kalashi_cli.bridge.backends import ServiceBackend
from kalashi_cli.domain import OrderStatus
from kalashi_cli.money import fmt_money
from kalashi_cli.service import TradingService

from .conftest import SIM, TOKEN, Client, RunningBridge


def journal_last(service: TradingService) -> dict[str, Any]:
    rows = service.journal.iterations(limit=1)
    assert rows, "the journal has no iteration yet"
    return rows[-1]


# -- connecting ------------------------------------------------------------------------------------


def test_hello_then_state_on_connect(
    idle_bridge: RunningBridge, service: TradingService, connect: Callable[..., Client]
) -> None:
    service.run_iteration()
    service.run_iteration()
    c = connect(idle_bridge.ws_url)
    hello = c.recv()
    assert hello == {
        "type": "hello",
        "protocol": 1,
        "server": hello["server"],
        "read_only": False,
        "token_required": True,
    }
    assert hello["server"].startswith("kalashi ")
    state = c.recv()
    assert state["type"] == "state"
    s = state["state"]
    row = journal_last(service)
    assert s["mode"] == "paper"
    assert s["loop"]["status"] == "stopped"
    assert s["loop"]["iteration"] == row["n"] == 2
    assert s["account"]["equity"] == fmt_money(row["equity"])
    assert s["account"]["balance"] == fmt_money(row["cash"])
    assert s["last_iteration"]["n"] == 2
    assert s["loop"]["source"].startswith("sim:seed=1,markets=300")


def test_records_are_broadcast_in_order_then_a_state(
    idle_bridge: RunningBridge, service: TradingService, connect: Callable[..., Client]
) -> None:
    a = connect(idle_bridge.ws_url)
    b = connect(idle_bridge.ws_url)
    a.welcome()
    b.welcome()
    emitted: list[dict[str, Any]] = []
    service.subscribe(emitted.append)
    res = service.run_iteration()
    for c in (a, b):
        got = []
        while True:
            msg = c.recv()
            if msg["type"] == "record":
                got.append(msg["record"])
            elif msg["type"] == "state" and got and got[-1]["kind"] == "iteration":
                break
        sent = [r for r in emitted if r["kind"] != "market"]
        assert [r.get("kind") for r in got] == [r["kind"] for r in sent]
        assert got == json.loads(json.dumps(sent))
        assert got[-1]["n"] == res.n
        assert msg["state"]["loop"]["iteration"] == res.n
    kinds = {r["kind"] for r in emitted}
    assert {"opportunity", "candidate", "order", "iteration"} <= kinds
    assert all("ts" in r for r in emitted if r["kind"] == "order")


def test_metrics_record_follows_its_iteration(
    idle_bridge: RunningBridge, service: TradingService, connect: Callable[..., Client]
) -> None:
    c = connect(idle_bridge.ws_url)
    c.welcome()
    for _ in range(10):  # the loop journals metrics every 10 iterations
        service.run_iteration()
    it = c.until(lambda m: m["type"] == "record" and m["record"]["kind"] == "iteration" and m["record"]["n"] == 10)
    nxt = c.recv()
    assert nxt["type"] == "record" and nxt["record"]["kind"] == "metrics", nxt
    assert it["record"]["equity"] == nxt["record"]["equity"]
    state = c.until(lambda m: m["type"] == "state")["state"]
    assert state["metrics"] == nxt["record"]
    assert state["recommendations"] == nxt["record"]["recommendations"]


def _same_figures(state: dict[str, Any]) -> None:
    """The metrics and the account in one state describe the same portfolio."""
    m, acct = state["metrics"], state["account"]
    assert m is not None
    assert (m["equity"], m["cash"], m["realized_pnl"], m["unrealized_pnl"], m["starting_balance"]) == (
        acct["equity"],
        acct["cash"],
        acct["realized_pnl"],
        acct["unrealized_pnl"],
        acct["starting_balance"],
    )
    assert m["open_positions"] == len(state["positions"])
    assert state["recommendations"] == m["recommendations"]


def _journal_figures(service: TradingService) -> dict[str, Any]:
    """What compute_metrics says about the journal now (the parts that do not depend on marks)."""
    m = service.read.metrics()
    return {
        "trades": m["trades"],
        "wins": m["wins"],
        "win_rate": m["win_rate"],
        "execution": m["execution"],
        "cache": m["cache"],
        "api": m["api"],
        "iterations": m["iterations"],
    }


def test_state_metrics_are_fresh_from_the_first_iteration(
    idle_bridge: RunningBridge, service: TradingService, connect: Callable[..., Client], monkeypatch: pytest.MonkeyPatch
) -> None:
    import kalashi_cli.service.read as service_module  # where the state's metrics throttle lives

    monkeypatch.setattr(service_module, "METRICS_MIN_GAP_S", 0.0)  # no throttle: every state recomputes
    monkeypatch.setattr(service_module, "METRICS_BUDGET", 0)
    c = connect(idle_bridge.ws_url)
    first = c.welcome()
    assert first["metrics"] is not None and first["metrics"]["iterations"] == 0  # before the loop wrote any
    _same_figures(first)
    for n in (1, 2, 3):
        service.run_iteration()

        def at(m: dict[str, Any], n: int = n) -> bool:
            return bool(m["type"] == "state" and m["state"]["loop"]["iteration"] == n)

        state = c.until(at)["state"]
        got = state["metrics"]
        assert {k: got[k] for k in _journal_figures(service)} == _journal_figures(service)
        assert got["iterations"] == n and got["execution"]["orders"] == len(service.journal.records("order"))
        _same_figures(state)
    assert service.journal.latest_metrics() is None  # the loop journals metrics every 10th iteration only


def test_metrics_are_throttled_while_running_and_fresh_after_a_command(
    idle_bridge: RunningBridge, service: TradingService, connect: Callable[..., Client], monkeypatch: pytest.MonkeyPatch
) -> None:
    import kalashi_cli.service.read as service_module  # where the state's metrics throttle lives

    monkeypatch.setattr(service_module, "METRICS_MIN_GAP_S", 3600.0)
    for _ in range(3):
        service.run_iteration()
    c = connect(idle_bridge.ws_url)
    assert c.welcome()["metrics"]["iterations"] == 3
    for _ in range(2):
        service.run_iteration()
    later = c.until(lambda m: m["type"] == "state" and m["state"]["loop"]["iteration"] == 5)["state"]
    assert later["metrics"]["iterations"] == 3  # within the gap: the last computation is reused
    assert service.broker.positions(), "the sim loop should hold positions by now"
    c.command("flatten")
    after = c.until(lambda m: m["type"] == "state")["state"]
    assert after["metrics"]["iterations"] == 5
    assert {k: after["metrics"][k] for k in _journal_figures(service)} == _journal_figures(service)
    _same_figures(after)
    c.command("halt", reason="test")
    halted = c.until(lambda m: m["type"] == "state")["state"]
    assert halted["trading_state"] == "HALTED"
    assert halted["metrics"]["execution"] == service.read.metrics()["execution"]
    _same_figures(halted)


def test_a_loop_that_runs_out_of_iterations_says_its_final_metrics(
    service: TradingService,
    start_bridge: Callable[..., RunningBridge],
    connect: Callable[..., Client],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import kalashi_cli.service.read as service_module  # where the state's metrics throttle lives

    monkeypatch.setattr(service_module, "METRICS_MIN_GAP_S", 3600.0)  # states while running reuse old figures
    bridge = start_bridge(ServiceBackend(service, autostart=False, iterations=3))
    c = connect(bridge.ws_url)
    assert c.welcome()["metrics"]["iterations"] == 0
    assert c.command("start")["type"] == "ack"
    final = c.until(lambda m: m["type"] == "record" and m["record"]["kind"] == "metrics")["record"]
    assert final["iterations"] == 3 and final["execution"] == service.read.metrics()["execution"]
    # a state built just before the record may still be on its way; the one after it follows
    state = c.until(lambda m: m["type"] == "state" and m["state"]["metrics"]["iterations"] == 3)["state"]
    assert state["metrics"] == final
    _same_figures(state)


# -- commands --------------------------------------------------------------------------------------


def test_pause_start_stop_with_the_token(
    service: TradingService, start_bridge: Callable[..., RunningBridge], connect: Callable[..., Client]
) -> None:
    bridge = start_bridge(ServiceBackend(service, autostart=True))
    c = connect(bridge.ws_url)
    c.welcome()
    c.until(lambda m: m["type"] == "record" and m["record"]["kind"] == "iteration" and m["record"]["n"] >= 3)

    ack = c.command("pause")
    assert ack == {"type": "ack", "id": ack["id"], "ref": ack["ref"], "ok": True, "result": {"status": "paused"}}
    paused = c.until(lambda m: m["type"] == "state")["state"]
    assert paused["loop"]["status"] == "paused"
    # pause waits for the iteration in flight: what the state says is final, and is the journal's
    n = paused["loop"]["iteration"]
    assert journal_last(service)["n"] == n
    again = c.command("pause")
    assert again["type"] == "error" and again["code"] == "refused"
    c.send("get_state")
    assert c.until(lambda m: m["type"] == "state")["state"]["loop"]["iteration"] == n
    assert journal_last(service)["n"] == n

    ack = c.command("start")
    assert ack["result"]["status"] == "running" and ack["result"]["trading_state"] == "ACTIVE"
    c.until(lambda m: m["type"] == "record" and m["record"]["kind"] == "iteration" and m["record"]["n"] > n)
    refused = c.command("start")
    assert refused["type"] == "error" and refused["code"] == "refused" and "already running" in refused["message"]

    ack = c.command("stop")
    assert ack["result"] == {"status": "stopped"}
    stopped = c.until(lambda m: m["type"] == "state")["state"]
    assert stopped["loop"]["status"] == "stopped"
    assert service.loop_status().status == "stopped"
    refused = c.command("stop")
    assert refused["type"] == "error" and refused["code"] == "refused"
    m = stopped["loop"]["iteration"]
    assert c.command("start")["result"]["status"] == "running"  # a stopped loop runs again
    c.until(lambda msg: msg["type"] == "record" and msg["record"]["kind"] == "iteration" and msg["record"]["n"] > m)
    assert c.command("stop")["result"] == {"status": "stopped"}


def test_halt_then_start_clearing_the_halt(
    idle_bridge: RunningBridge, service: TradingService, connect: Callable[..., Client]
) -> None:
    for _ in range(3):
        service.run_iteration()
    resting = len(service.broker.orders(status=OrderStatus.RESTING))
    assert resting > 0, "the sim should leave some maker quotes resting"
    c = connect(idle_bridge.ws_url)
    c.welcome()
    ack = c.command("halt", reason="Fed surprise")
    assert ack["result"]["trading_state"] == "HALTED"
    assert ack["result"]["canceled_orders"] == resting
    state = c.until(lambda m: m["type"] == "state")["state"]
    assert state["trading_state"] == "HALTED" and state["halt_reason"] == "Fed surprise"
    assert state["open_orders"] == []
    assert service.run_iteration().state.value == "HALTED"  # the gate holds on the next iteration

    ack = c.command("start", clear_halt=True)
    assert ack["result"] == {"status": "running", "trading_state": "ACTIVE"}
    state = c.until(lambda m: m["type"] == "state")["state"]
    assert state["trading_state"] == "ACTIVE" and state["halt_reason"] is None
    assert c.command("stop")["result"] == {"status": "stopped"}


def test_start_cannot_clear_a_halt_while_the_halt_file_exists(
    idle_bridge: RunningBridge, service: TradingService, connect: Callable[..., Client]
) -> None:
    from kalashi_cli.stages.risk import halt_file

    c = connect(idle_bridge.ws_url)
    c.welcome()
    c.command("halt", reason="ops")
    halt_file().parent.mkdir(parents=True, exist_ok=True)
    halt_file().write_text("")
    err = c.command("start", clear_halt=True)
    assert err["type"] == "error" and err["code"] == "refused" and "halt file" in err["message"]
    assert service.loop_status().status == "stopped"


def test_flatten_cancels_resting_orders_and_closes_positions(
    idle_bridge: RunningBridge, service: TradingService, connect: Callable[..., Client]
) -> None:
    for _ in range(5):
        service.run_iteration()
    held = [p for p in service.broker.positions() if p.position != 0]
    resting = len(service.broker.orders(status=OrderStatus.RESTING))
    assert held and resting
    c = connect(idle_bridge.ws_url)
    c.welcome()
    mark = len(c.seen)
    ack = c.command("flatten")
    result = ack["result"]
    assert result["canceled_orders"] == resting
    assert result["closing_orders"] >= 1
    assert set(result["closed"]) | set(result["left_open"]) == {p.ticker for p in held}
    msg = c.until(lambda m: m["type"] == "state")
    # the flatten's records come first, then the ack, then the state after it
    assert [m["type"] for m in c.seen[mark:]][-2:] == ["ack", "state"]
    records = [m["record"] for m in c.seen[mark:] if m["type"] == "record"]
    assert sum(r["kind"] == "order" for r in records) == result["closing_orders"]
    assert all(r["strategy"] == "flatten" for r in records if r["kind"] == "order")
    assert msg["state"]["open_orders"] == []
    left = {p["ticker"] for p in msg["state"]["positions"]}
    assert left == set(result["left_open"])


def test_set_profile_switches_between_named_profiles_only(
    idle_bridge: RunningBridge, service: TradingService, connect: Callable[..., Client]
) -> None:
    c = connect(idle_bridge.ws_url)
    c.welcome()
    ack = c.command("set_profile", name="conservative")
    assert ack["result"] == {"profile": "conservative"}
    assert c.until(lambda m: m["type"] == "state")["state"]["loop"]["profile"] == "conservative"
    assert service.profile.name == service.profile.name and service.profile_name == "conservative"
    for bad in ("no-such-profile", "/etc/passwd", "../profiles/default.yaml"):
        err = c.command("set_profile", name=bad)
        assert err["type"] == "error" and err["code"] == "refused", err
    assert service.profile_name == "conservative"


# -- authorisation -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "cmd,args",
    [
        ("start", {}),
        ("pause", {}),
        ("stop", {}),
        ("halt", {"reason": "x"}),
        ("flatten", {}),
        ("set_profile", {"name": "conservative"}),
    ],
)
def test_control_commands_need_the_right_token(
    idle_bridge: RunningBridge, service: TradingService, connect: Callable[..., Client], cmd: str, args: dict[str, Any]
) -> None:
    c = connect(idle_bridge.ws_url)
    c.welcome()
    missing = c.command(cmd, token=None, **args)
    assert (
        missing["type"] == "error"
        and missing["code"] == "unauthorized"
        and "needs the control token" in missing["message"]
    )
    wrong = c.command(cmd, token=TOKEN + "x", **args)
    assert wrong["type"] == "error" and wrong["code"] == "unauthorized" and "wrong" in wrong["message"]
    c.ws.send(json.dumps({"id": 99, "cmd": cmd, "args": args, "token": 12345}))
    assert c.answer(99)["code"] == "unauthorized"
    # nothing happened
    assert service.loop_status().status == "stopped"
    assert service.read.trading_state()[0] == "ACTIVE"
    assert service.profile_name == "default"


def test_get_state_needs_no_token(idle_bridge: RunningBridge, connect: Callable[..., Client]) -> None:
    c = connect(idle_bridge.ws_url)
    c.welcome()
    id_ = c.send("get_state", token=None)
    state = c.recv()
    assert state["type"] == "state"
    assert c.recv() == {"type": "ack", "id": id_, "ok": True, "result": {}}


def test_read_only_bridge_refuses_every_command(
    service: TradingService, start_bridge: Callable[..., RunningBridge], connect: Callable[..., Client]
) -> None:
    import urllib.request

    bridge = start_bridge(ServiceBackend(service, autostart=False), read_only=True)
    c = connect(bridge.ws_url)
    assert c.recv()["read_only"] is True
    c.recv()
    for cmd, args in (("start", {}), ("halt", {"reason": "x"}), ("flatten", {})):
        err = c.command(cmd, **args)
        assert err["type"] == "error" and err["code"] == "refused" and "read-only" in err["message"]
    with urllib.request.urlopen(bridge.page_url + "config.json", timeout=10) as r:
        assert json.load(r)["read_only"] is True
    assert service.loop_status().status == "stopped"


def test_a_bridge_without_token_says_so(
    service: TradingService, start_bridge: Callable[..., RunningBridge], connect: Callable[..., Client]
) -> None:
    bridge = start_bridge(ServiceBackend(service, autostart=False), token=None)
    c = connect(bridge.ws_url)
    assert c.recv()["token_required"] is False
    c.recv()
    assert c.command("set_profile", token=None, name="aggressive")["type"] == "ack"


# -- bad messages ------------------------------------------------------------------------------------


BAD_FRAMES: list[tuple[str | bytes, int | None, str]] = [
    (b"\x00\x01binary", None, "bad_message"),
    ("not json", None, "bad_message"),
    ("[1, 2]", None, "bad_message"),
    ('"get_state"', None, "bad_message"),
    ('{"cmd": "get_state"}', None, "bad_message"),
    ('{"id": true, "cmd": "get_state"}', None, "bad_message"),
    ('{"id": -1, "cmd": "get_state"}', None, "bad_message"),
    ('{"id": 1.5, "cmd": "get_state"}', None, "bad_message"),
    ('{"id": "7", "cmd": "get_state"}', None, "bad_message"),
    ('{"id": 7}', 7, "bad_message"),
    ('{"id": 7, "cmd": 3}', 7, "bad_message"),
    ('{"id": 8, "cmd": "launch_missiles"}', 8, "unknown_command"),
    ('{"id": 9, "cmd": "get_state", "args": []}', 9, "invalid_args"),
    ('{"id": 10, "cmd": "halt", "args": "now", "token": "' + TOKEN + '"}', 10, "invalid_args"),
    ('{"id": 11, "cmd": "halt", "token": "' + TOKEN + '"}', 11, "invalid_args"),
    ('{"id": 12, "cmd": "halt", "args": {"reason": "  "}, "token": "' + TOKEN + '"}', 12, "invalid_args"),
    ('{"id": 13, "cmd": "halt", "args": {"reason": 5}, "token": "' + TOKEN + '"}', 13, "invalid_args"),
    ('{"id": 14, "cmd": "set_profile", "args": {}, "token": "' + TOKEN + '"}', 14, "invalid_args"),
    ('{"id": 15, "cmd": "start", "args": {"clear_halt": "yes"}, "token": "' + TOKEN + '"}', 15, "invalid_args"),
]


def test_malformed_frames_get_an_error_and_the_bridge_carries_on(
    idle_bridge: RunningBridge, service: TradingService, connect: Callable[..., Client]
) -> None:
    c = connect(idle_bridge.ws_url)
    c.welcome()
    for frame, id_, code in BAD_FRAMES:
        c.ws.send(frame)
        err = c.recv()
        assert err["type"] == "error" and err["id"] == id_ and err["code"] == code, (frame, err)
        assert err["message"]
    # the same connection still works, and so does the loop
    id_ = c.send("get_state")
    c.until(lambda m: m["type"] == "ack" and m["id"] == id_)
    assert c.command("halt", reason="still alive")["type"] == "ack"
    assert service.read.trading_state()[0] == "HALTED"


def test_an_oversized_frame_closes_only_that_connection(
    idle_bridge: RunningBridge, connect: Callable[..., Client]
) -> None:
    from websockets.exceptions import ConnectionClosed

    big = connect(idle_bridge.ws_url)
    big.welcome()
    big.ws.send(json.dumps({"id": 1, "cmd": "get_state", "pad": "x" * 200_000}))
    with pytest.raises(ConnectionClosed):
        while True:
            big.recv()
    other = connect(idle_bridge.ws_url)
    assert other.welcome()["loop"]["status"] == "stopped"


# -- origins ------------------------------------------------------------------------------------------


def test_origin_check(idle_bridge: RunningBridge, connect: Callable[..., Client]) -> None:
    port = idle_bridge.server.http_port
    assert port is not None
    for ok in (f"http://127.0.0.1:{port}", f"http://localhost:{port}"):
        assert connect(idle_bridge.ws_url, origin=ok).welcome()["mode"] == "paper"
    for bad in ("http://evil.example", f"http://127.0.0.1:{port + 1}", f"https://127.0.0.1:{port}", "null"):
        with pytest.raises(InvalidStatus) as e:
            connect(idle_bridge.ws_url, origin=bad)
        assert e.value.response.status_code == 403


def test_beyond_loopback_even_watching_needs_the_token(
    service: TradingService, start_bridge: Callable[..., RunningBridge], connect: Callable[..., Client]
) -> None:
    # the loopback address stands in for a network one: view_needs_token is what --host turns on
    bridge = start_bridge(ServiceBackend(service, autostart=False), view_needs_token=True)
    with pytest.raises(InvalidStatus) as e:
        connect(bridge.ws_url)
    assert e.value.response.status_code == 401
    with pytest.raises(InvalidStatus):
        connect(bridge.ws_url, additional_headers={"Authorization": "Bearer wrong-token-xyz"})
    assert connect(bridge.ws_url, additional_headers={"Authorization": f"Bearer {TOKEN}"}).welcome()
    assert connect(bridge.ws_url, additional_headers={"Cookie": f"kalashi_bridge_token={TOKEN}"}).welcome()


def _handshake_status(port: int, *, host: str, origin: str | None, token: str | None) -> int:
    """Open a WebSocket handshake on loopback with these Host/Origin headers; return the HTTP status."""
    import base64
    import os
    import socket

    lines = [
        "GET / HTTP/1.1",
        f"Host: {host}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}",
        "Sec-WebSocket-Version: 13",
    ]
    if origin is not None:
        lines.append(f"Origin: {origin}")
    if token is not None:
        lines.append(f"Cookie: kalashi_bridge_token={token}")
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        head = b""
        while b"\r\n" not in head:
            chunk = sock.recv(1024)
            if not chunk:
                break
            head += chunk
    return int(head.split(b" ", 2)[1])


def test_wildcard_bind_accepts_its_own_page_by_any_name_with_the_token(
    service: TradingService, start_bridge: Callable[..., RunningBridge]
) -> None:
    # --host 0.0.0.0: the page may be opened as http://192.0.2.2:PAGE/ or http://box.lan:PAGE/; its
    # WebSocket handshake then says Host 192.0.2.2:WS and Origin http://192.0.2.2:PAGE
    bridge = start_bridge(ServiceBackend(service, autostart=False), host="0.0.0.0")
    ws, page = bridge.server.ws_port, bridge.server.http_port
    assert page is not None
    for name in ("192.0.2.2", "box.lan", "BOX.lan", "[2001:db8::2]"):
        origin = f"http://{name.lower()}:{page}"
        assert _handshake_status(ws, host=f"{name}:{ws}", origin=origin, token=TOKEN) == 101, name
        # the token is still needed beyond loopback, origin or not
        assert _handshake_status(ws, host=f"{name}:{ws}", origin=origin, token=None) == 401, name
        assert _handshake_status(ws, host=f"{name}:{ws}", origin=origin, token="wrong-token-xyz0") == 401, name
    assert _handshake_status(ws, host=f"192.0.2.2:{ws}", origin=None, token=TOKEN) == 101  # not a browser
    # foreign origins: another site, the same host on another port or scheme, a name the Host does not give
    for bad in (
        "http://evil.example",
        f"http://evil.example:{page}",
        f"http://192.0.2.2:{page + 1}",
        f"https://192.0.2.2:{page}",
        f"http://192.0.2.3:{page}",
        "null",
    ):
        assert _handshake_status(ws, host=f"192.0.2.2:{ws}", origin=bad, token=TOKEN) == 403, bad


def test_loopback_bind_does_not_trust_the_host_header(idle_bridge: RunningBridge) -> None:
    # on loopback watching needs no token, so a DNS-rebinding page (Host and Origin both its own
    # name) must be refused by origin alone
    ws, page = idle_bridge.server.ws_port, idle_bridge.server.http_port
    assert _handshake_status(ws, host=f"rebind.example:{ws}", origin=f"http://rebind.example:{page}", token=None) == 403
    assert _handshake_status(ws, host=f"127.0.0.1:{ws}", origin=f"http://127.0.0.1:{page}", token=None) == 101


def test_a_restarted_bridge_shows_the_journal_it_carries_on(
    tmp_path: Path, start_bridge: Callable[..., RunningBridge], connect: Callable[..., Client]
) -> None:
    path = tmp_path / "restart.sqlite"
    before = TradingService("default", source=SIM, journal_path=path, interval=0)
    try:
        for _ in range(3):
            before.run_iteration()
        placed = [r["client_order_id"] for r in before.journal.records(kind="order")]
    finally:
        before.close()
    # the bridge owns the new service: closing the bridge closes it
    bridge = start_bridge(
        ServiceBackend(TradingService("default", source=SIM, journal_path=path, interval=0), autostart=False)
    )
    state = connect(bridge.ws_url).welcome()
    assert state["loop"]["iteration"] == 3 and state["last_iteration"]["n"] == 3
    orders = [r for r in state["journal"] if r["kind"] == "order"]
    assert orders and all("ts" in r for r in orders)
    assert [r["client_order_id"] for r in orders] == list(reversed(placed))[: len(orders)]
    assert len(state["equity_curve"]) == 3
