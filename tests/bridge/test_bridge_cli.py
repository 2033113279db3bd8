"""`kalashi serve-bridge` as a user runs it: a real process, real ports, Ctrl-C, attach to a run-loop."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kalashi_cli.cli.app import app
from kalashi_cli.journal import IntentStatus, Journal

from .conftest import SIM, TOKEN, WAIT, BridgeProcess, Client


def kalashi(
    *args: str, home: Path, timeout: float = 60, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if k != "KALASHI_BRIDGE_TOKEN"}
    full.update({"KALASHI_HOME": str(home), **(env or {})})
    return subprocess.run(
        [sys.executable, "-m", "kalashi_cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full,
        stdin=subprocess.DEVNULL,
    )


def test_help_has_an_example() -> None:
    res = CliRunner().invoke(app, ["serve-bridge", "--help"])
    assert res.exit_code == 0
    assert "kalashi serve-bridge --attach" in res.output and "--ws-port" in res.output


def test_serve_bridge_runs_the_loop_and_stops_cleanly_on_ctrl_c(
    run_bridge_process: Callable[..., BridgeProcess], tmp_path: Path, connect: Callable[..., Client]
) -> None:
    journal = tmp_path / "j.sqlite"
    p = run_bridge_process("--source", SIM, "--interval", "0", "--journal", str(journal))
    # a generated token is printed, and the page URL carries it once
    token = p.wait_for("  control token  ").split()[2]
    assert p.page_url.endswith(f"/?token={token}") and len(token) >= 24
    c = connect(p.ws_url)
    state = c.welcome()
    assert state["mode"] == "paper" and state["loop"]["status"] == "running"
    c.until(lambda m: m["type"] == "record" and m["record"]["kind"] == "iteration" and m["record"]["n"] >= 3)
    assert c.command("pause", token=token)["result"] == {"status": "paused"}
    c.close()
    assert p.interrupt() == 0
    assert p.proc.stdout is not None and p.proc.stdout.read() == ""  # stdout carries no chatter
    # one start line first: mode, source, profile, journal, and that the account is new
    assert p.stderr[0] == (
        f"kalashi serve-bridge: paper trading on {SIM},step=0, profile default, journal {journal} "
        "— a new paper account\n"
    ), p.stderr[:2]
    again = run_bridge_process("--source", SIM, "--interval", "0", "--journal", str(journal), "--paused")
    assert again.interrupt() == 0
    assert "— continues the paper account after iteration" in again.stderr[0] and "paused" in again.stderr[0]
    jr = Journal(journal, mode="paper", readonly=True)
    try:
        assert jr.integrity_ok()[0]
        assert jr.last_iteration() >= 3
        assert not jr.intents(status=IntentStatus.PENDING) and not jr.intents(status=IntentStatus.UNKNOWN)
    finally:
        jr.close()


def test_token_from_the_environment_is_not_printed(
    run_bridge_process: Callable[..., BridgeProcess], connect: Callable[..., Client]
) -> None:
    p = run_bridge_process("--source", SIM, "--paused", env={"KALASHI_BRIDGE_TOKEN": TOKEN})
    assert "token" not in p.page_url
    c = connect(p.ws_url)
    assert c.welcome()["loop"]["status"] == "stopped"  # --paused: nothing runs until Start
    assert c.command("start")["result"]["status"] == "running"
    assert c.command("pause")["result"]["status"] == "paused"
    assert p.interrupt() == 0
    assert TOKEN not in "".join(p.stderr)


def test_usage_errors(tmp_path: Path) -> None:
    res = kalashi("serve-bridge", "--attach", "--journal", str(tmp_path / "none.sqlite"), home=tmp_path)
    assert res.returncode == 2 and "no journal at" in res.stderr
    res = kalashi("serve-bridge", "--token", "short", home=tmp_path)
    assert res.returncode == 2 and "bad control token" in res.stderr
    res = kalashi("serve-bridge", "--attach", "--markets", "10", home=tmp_path)
    assert res.returncode == 2 and "--attach watches a loop" in res.stderr


@pytest.fixture
def busy_port() -> Iterator[int]:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen()
    yield s.getsockname()[1]
    s.close()


def test_a_taken_port_is_a_clear_error(tmp_path: Path, busy_port: int) -> None:
    res = kalashi(
        "serve-bridge",
        "--source",
        SIM,
        "--paused",
        "--no-open",
        "--http-port",
        "0",
        "--ws-port",
        str(busy_port),
        home=tmp_path,
    )
    assert res.returncode == 2, res.stderr
    assert f"ports {busy_port}" in res.stderr and "another bridge may be running" in res.stderr


def test_attach_watches_and_halts_a_separate_run_loop(
    run_bridge_process: Callable[..., BridgeProcess], tmp_path: Path, connect: Callable[..., Client]
) -> None:
    journal = tmp_path / "j.sqlite"
    env = {k: v for k, v in os.environ.items() if k != "KALASHI_BRIDGE_TOKEN"}
    env["KALASHI_HOME"] = str(tmp_path / "home")
    loop = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kalashi_cli",
            "run-loop",
            "--source",
            SIM,
            "--interval",
            "0.1",
            "--journal",
            str(journal),
            "--quiet",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        env=env,
        text=True,
    )
    iterations: list[dict] = []
    got = threading.Condition()

    def read() -> None:
        assert loop.stdout is not None
        for line in loop.stdout:
            with got:
                iterations.append(json.loads(line))
                got.notify_all()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        with got:
            assert got.wait_for(lambda: len(iterations) >= 1, WAIT), "run-loop wrote no iteration"
        p = run_bridge_process("--attach", "--journal", str(journal), env={"KALASHI_BRIDGE_TOKEN": TOKEN})
        c = connect(p.ws_url)
        state = c.welcome()
        assert state["attached"] is True and state["loop"]["status"] == "running"
        n = c.until(lambda m: m["type"] == "record" and m["record"]["kind"] == "iteration")["record"]["n"]
        assert c.command("pause")["code"] == "refused"
        ack = c.command("halt", reason="from the attached dashboard")
        assert ack["result"]["trading_state"] == "HALTED"
        # the separate run-loop's gate picks it up at its next iteration
        with got:
            assert got.wait_for(lambda: any(r["n"] > n and r["state"] == "HALTED" for r in iterations), WAIT)
        halted = next(r for r in iterations if r["n"] > n and r["state"] == "HALTED")
        c.until(
            lambda m: m["type"] == "record" and m["record"]["kind"] == "iteration" and m["record"]["n"] >= halted["n"]
        )
        c.close()
        assert p.interrupt() == 0
    finally:
        loop.terminate()
        loop.wait(WAIT)
        if loop.stdout is not None:
            loop.stdout.close()
