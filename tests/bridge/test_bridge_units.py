"""The bridge's pure parts: reading commands, the hub's queues and state/record hand-over, the attached page's state."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kalashi_cli.bridge.attach_state import JournalSnapshot, page_state
from kalashi_cli.bridge.protocol import COMMANDS, ProtocolError, read_command, token_matches
from kalashi_cli.bridge.server import BridgeConfig, Client, Hub, check_token, is_loopback
from kalashi_cli.profile import load_profile

TOKEN = "unit-token-0123456789"


def cmd(**fields: Any) -> str:
    return json.dumps(fields)


# -- read_command ------------------------------------------------------------------------------------


def test_read_command_accepts_every_documented_command() -> None:
    args = {"halt": {"reason": "r"}, "set_profile": {"name": "default"}, "start": {"clear_halt": True}}
    for name in COMMANDS:
        c = read_command(cmd(id=3, cmd=name, token=TOKEN, args=args.get(name, {})), token=TOKEN, read_only=False)
        assert (c.id, c.cmd) == (3, name)
    assert read_command(cmd(id=0, cmd="start", token=TOKEN), token=TOKEN, read_only=False).args == {"clear_halt": False}
    assert read_command(
        cmd(id=0, cmd="halt", token=TOKEN, args={"reason": "  news  "}), token=TOKEN, read_only=False
    ).args == {"reason": "news"}
    assert read_command(cmd(id=0, cmd="pause", token=TOKEN, args=None), token=TOKEN, read_only=False).args == {}


def test_get_state_needs_neither_token_nor_write_access() -> None:
    assert read_command(cmd(id=1, cmd="get_state"), token=TOKEN, read_only=True).cmd == "get_state"


def test_read_only_is_refused_before_the_token_is_looked_at() -> None:
    with pytest.raises(ProtocolError) as e:
        read_command(cmd(id=1, cmd="pause"), token=TOKEN, read_only=True)
    assert e.value.code == "refused" and e.value.id == 1


def test_no_token_configured_means_control_is_open() -> None:
    assert read_command(cmd(id=1, cmd="pause"), token=None, read_only=False).cmd == "pause"


def test_token_comparison() -> None:
    assert token_matches(TOKEN, TOKEN)
    assert not token_matches(TOKEN, TOKEN[:-1])
    assert not token_matches(TOKEN, None)
    assert not token_matches(TOKEN, 123)
    assert not token_matches(TOKEN, "é" + TOKEN)


@given(
    st.one_of(
        st.binary(max_size=64),
        st.text(max_size=64),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
            lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=6), kids, max_size=4),
            max_leaves=12,
        ).map(json.dumps),
    )
)
@settings(max_examples=300, deadline=None)
def test_any_frame_is_either_a_command_or_a_protocol_error(frame: str | bytes) -> None:
    try:
        c = read_command(frame, token=TOKEN, read_only=False)
    except ProtocolError as e:
        assert e.code in ("bad_message", "unknown_command", "unauthorized", "invalid_args", "refused")
        assert e.id is None or (isinstance(e.id, int) and e.id >= 0)
        assert e.to_message()["message"]
    else:
        assert c.cmd in COMMANDS


def test_operator_tokens_must_be_long_and_url_safe() -> None:
    assert check_token("abcdefghijkl") == "abcdefghijkl"
    for bad in ("short", "has space in it!", "semi;colon-token", "x" * 300):
        with pytest.raises(ValueError):
            check_token(bad)


def test_loopback_addresses() -> None:
    for h in ("127.0.0.1", "127.0.0.2", "localhost", "::1", "[::1]"):
        assert is_loopback(h), h
    for h in ("0.0.0.0", "192.168.1.5", "::", "example.com"):
        assert not is_loopback(h), h
    assert not BridgeConfig(host="0.0.0.0", token=TOKEN).loopback
    assert BridgeConfig(host="0.0.0.0", token=TOKEN).viewing_needs_token
    assert not BridgeConfig(token=TOKEN).viewing_needs_token
    assert not BridgeConfig(host="0.0.0.0", token=None).viewing_needs_token


# -- the hub ---------------------------------------------------------------------------------------


def texts(c: Client) -> list[dict[str, Any]]:
    return [json.loads(t) for _, _, t in c.queue]


def rec(n: int) -> dict[str, Any]:
    return {"kind": "rejected", "v": 1, "ref": f"r{n}", "stage": "risk", "reason": "test"}


def test_a_new_client_gets_a_state_then_only_the_records_after_it() -> None:
    hub = Hub(limit=100)
    hub.on_record(1, rec(1))
    c = Client(ws=None, limit=100)
    hub.join(c)
    assert c.need == 1 and hub.state_wanted.is_set()
    for n in (2, 3, 4):
        hub.on_record(n, rec(n))
    assert not c.queue  # held back until a state covers what came before the client joined
    hub.on_state(0, {"old": True})  # built before the client joined: cannot synchronise it
    assert not c.synced and not c.queue
    hub.on_state(3, {"n": 3})  # includes records 1..3
    assert c.synced
    assert [m["type"] for m in texts(c)] == ["state", "record"]
    assert texts(c)[1]["record"]["ref"] == "r4"  # 2 and 3 are in the state; 4 is not
    hub.on_record(5, rec(5))
    assert texts(c)[-1]["record"]["ref"] == "r5"


def test_a_lagging_client_is_resynchronised_keeping_its_replies() -> None:
    hub = Hub(limit=5)
    c = Client(ws=None, limit=5)
    hub.join(c)
    hub.on_state(0, {"n": 0})
    c.put('{"type": "ack", "id": 1, "ok": true, "result": {}}')
    for n in range(1, 6):
        hub.on_record(n, rec(n))
    # state, ack and records 1-4 passed the limit at record 4: the backlog went, the reply stayed
    assert c.resyncs == 1 and not c.synced
    assert [m["type"] for m in texts(c)] == ["ack"]
    assert c.need == 4 and [s for s, _ in c.held] == [5]
    hub.on_state(4, {"n": 4})
    assert c.synced
    assert [m["type"] for m in texts(c)] == ["ack", "state", "record"]
    assert texts(c)[-1]["record"]["ref"] == "r5"


def test_a_client_an_iteration_behind_gets_the_new_state_instead_of_its_backlog() -> None:
    hub = Hub(limit=1000)
    c = Client(ws=None, limit=1000)
    hub.join(c)
    hub.on_state(0, {"n": 0})  # never sent: the client does not read
    for n in range(1, 6):
        hub.on_record(n, rec(n))
    c.put('{"type": "ack", "id": 4, "ok": true, "result": {}}')
    hub.on_record(6, rec(6))
    hub.on_state(5, {"n": 5})  # built after record 5; record 6 came in while it was built
    assert c.synced and c.resyncs == 1
    assert [m["type"] for m in texts(c)] == ["ack", "state", "record"]
    assert texts(c)[1]["state"] == {"n": 5} and texts(c)[2]["record"]["ref"] == "r6"
    # a client that keeps up is never caught up
    ok = Client(ws=None, limit=1000)
    hub.join(ok)
    hub.on_state(6, {"n": 6})
    ok.queue.clear()  # sent
    hub.on_record(7, rec(7))
    hub.on_state(7, {"n": 7})
    assert ok.resyncs == 0 and [m["type"] for m in texts(ok)] == ["record", "state"]


def test_held_records_overflow_waits_for_a_newer_state() -> None:
    hub = Hub(limit=3)
    c = Client(ws=None, limit=3)
    hub.join(c)
    for n in range(1, 6):
        hub.on_record(n, rec(n))
    assert c.need == 4 and len(c.held) == 1  # dropped 1..4: only a state covering 4 will do
    hub.on_state(3, {"n": 3})
    assert not c.synced
    hub.on_state(5, {"n": 5})
    assert c.synced and [m["type"] for m in texts(c)] == ["state"]


def test_a_get_state_answer_reaches_an_unsynchronised_client() -> None:
    hub = Hub(limit=10)
    c = Client(ws=None, limit=10)
    hub.on_record(7, rec(7))
    hub.join(c)
    hub.on_state(2, {"n": 2}, only=c)
    assert [m["type"] for m in texts(c)] == ["state"] and not c.synced


def test_records_reach_every_synchronised_client_in_order() -> None:
    hub = Hub(limit=100)
    clients = [Client(ws=None, limit=100) for _ in range(3)]
    for c in clients:
        hub.join(c)
    hub.on_state(0, {"n": 0})
    for n in range(1, 20):
        hub.on_record(n, rec(n))
    for c in clients:
        assert [m["record"]["ref"] for m in texts(c)[1:]] == [f"r{n}" for n in range(1, 20)]
    hub.leave(clients[0])
    hub.on_record(20, rec(20))
    assert len(clients[0].queue) == 20 and len(clients[1].queue) == 21


@pytest.mark.parametrize(
    ("ci", "outcome"),
    [
        ("true", pytest.fail.Exception),
        ("1", pytest.fail.Exception),
        ("", pytest.skip.Exception),
        ("false", pytest.skip.Exception),
        (None, pytest.skip.Exception),
    ],
)
def test_a_missing_browser_or_npm_fails_in_ci_and_skips_elsewhere(
    monkeypatch: pytest.MonkeyPatch, ci: str | None, outcome: type[BaseException]
) -> None:
    from .conftest import require_tool

    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    with pytest.raises(outcome, match="chromium"):
        require_tool(False, "/usr/bin/chromium is absent")
    require_tool(True, "present: nothing happens")


# -- the attached page's state, folded from a journal snapshot ------------------------------------


def test_attached_page_state_before_the_run_loop_has_an_account() -> None:
    snap = JournalSnapshot(
        rows=[],
        loop=("stopped", 5.0, None),
        stored=("HALTED", ""),
        portfolio=None,
        meta={},
        resting=[],
        view=[],
        metrics=None,
        integrity=(False, "page 3 is corrupt"),
        heal_health=[{"name": "heal", "status": "ok", "detail": "fine", "latency_ms": None}],
    )
    s = page_state(
        snap, mode="paper", profile=load_profile("default"), profile_name="default", path=Path("j"), wall_ms=lambda: 0
    )
    assert s["loop"] == {"status": "stopped", "iteration": 0, "interval_s": "5", "source": "", "profile": "default"}
    assert (s["trading_state"], s["halt_reason"]) == ("HALTED", "operator halt")
    assert s["account"]["equity"] is None and s["positions"] == [] and s["exposure"] == []
    assert [(h["name"], h["status"]) for h in s["health"]] == [
        ("loop", "degraded"),
        ("journal", "failed"),
        ("trading_state", "failed"),
        ("heal", "ok"),
    ]
    assert s["health"][1]["detail"] == "integrity check: page 3 is corrupt"
    assert (s["updated"], s["attached"], s["last_iteration"], s["recommendations"]) == (
        "1970-01-01T00:00:00.000Z",
        True,
        None,
        [],
    )
