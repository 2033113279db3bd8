"""One trading process per journal and per account, in every mode (issue 13 item 1).

A second trader refuses at start with exit 9 naming the holder's pid: on the same journal, on
another journal of the same demo account, for every command that trades (run-loop, order,
serve-bridge, mcp-serve --allow-trading, flatten) and for a second ``heal`` supervisor.
Read-only commands and the brakes do not take the locks. A holder killed with SIGKILL leaves
no stale lock: the next trader starts at once.

The holders are real subprocesses (``run-loop`` with a long interval, reporting its first
iteration on stdout); the demo account is the in-process simulator on loopback.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from simx.conftest import Sim
from typer.testing import CliRunner

from kalashi_cli.cli.app import app
from kalashi_cli.service import TradingService

KALASHI = [sys.executable, "-m", "kalashi_cli"]
WAIT = 120.0  # seconds: the bound on any wait (the machine is shared and loaded)
SIM = "sim:seed=4,markets=200"


class Holder:
    """A `kalashi run-loop` subprocess that has finished its first iteration (so it holds its locks)."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [*KALASHI, "run-loop", "--interval", "600", *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        lines: queue.Queue[str] = queue.Queue()
        out = self.proc.stdout
        assert out is not None
        threading.Thread(target=lambda: lines.put(out.readline()), daemon=True).start()
        try:
            self.first = lines.get(timeout=WAIT)
        except queue.Empty:
            self.kill()
            raise AssertionError("the holder wrote no iteration") from None
        assert self.first, f"the holder exited: {self.proc.stderr.read() if self.proc.stderr else ''}"

    @property
    def pid(self) -> int:
        return self.proc.pid

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.communicate(timeout=WAIT)


@pytest.fixture
def demo(fault_sim: Sim, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The environment of a demo account on the simulator (this process's and the subprocesses')."""
    monkeypatch.setenv("KALASHI_EXCHANGE_URL", fault_sim.url)
    monkeypatch.setenv("KALSHI_API_KEY_ID", fault_sim.key.key_id)
    monkeypatch.setenv("KALSHI_PRIVATE_KEY_PATH", str(fault_sim.key.private_key_path))
    monkeypatch.delenv("KALASHI_WS_URL", raising=False)
    monkeypatch.delenv("KALSHI_KEY_ENV", raising=False)
    return dict(os.environ)


@pytest.fixture
def holders() -> Iterator[list[Holder]]:
    started: list[Holder] = []
    yield started
    for h in started:
        h.kill()


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*KALASHI, *args], capture_output=True, text=True, env=env, timeout=WAIT, stdin=subprocess.DEVNULL
    )


def cli(*args: str, code: int) -> str:
    res = CliRunner().invoke(app, list(args), input="")
    assert res.exit_code == code, (args, res.stdout[-2000:], res.stderr[-2000:], res.exception)
    return res.stderr


def test_one_trader_per_demo_journal_and_account(
    demo: dict[str, str], fault_sim: Sim, tmp_path: Path, holders: list[Holder]
) -> None:
    journal = tmp_path / "journal-demo.sqlite"
    other = tmp_path / "another-journal.sqlite"
    h = Holder(["--demo", "--source", "kalshi-demo", "--journal", str(journal), "--quiet"], demo)
    holders.append(h)
    assert f'"source":"kalshi:{fault_sim.url},ws=1"' in h.first  # kalshi-demo is the simulator here

    same = run(["run-loop", "--demo", "-n", "1", "--journal", str(journal)], demo)
    assert same.returncode == 9, same.stderr
    assert f"the journal {journal} is in use by another kalashi process (pid {h.pid})" in same.stderr
    # a second journal on the same API key and exchange is the same account
    again = run(["run-loop", "--demo", "-n", "1", "--journal", str(other)], demo)
    assert again.returncode == 9, again.stderr
    assert "the demo account of API key" in again.stderr and f"(pid {h.pid})" in again.stderr
    assert fault_sim.url in again.stderr

    # every command that trades refuses, on the holder's journal or on another one of the account
    for args in (
        ["order", "--demo", "--journal", str(journal)],
        ["order", "--demo", "--journal", str(other)],
        ["flatten", "--demo", "--journal", str(other)],
        ["mcp-serve", "--demo", "--allow-trading", "--journal", str(other)],
        ["serve-bridge", "--demo", "--journal", str(other), "--no-open", "--ws-port", "0", "--http-port", "0"],
    ):
        res = run(args, demo)  # subprocesses with a bound: a server that did start would run until killed
        assert res.returncode == 9 and f"(pid {h.pid})" in res.stderr, (args, res.stderr)

    # reading and braking take no lock: metrics, heal --once, a read-only MCP service, halt
    cli("metrics", "--demo", "--journal", str(journal), "--format", "jsonl", code=0)
    heal = CliRunner().invoke(app, ["heal", "--once", "--demo", "--journal", str(journal), "--format", "jsonl"])
    assert heal.exit_code in (0, 10, 11) and "in use" not in heal.stderr, heal.stderr
    watcher = TradingService("default", mode="demo", journal_path=journal, allow_trading=False)
    assert watcher.read.balance()["mode"] == "demo"
    watcher.close()

    # SIGKILL: the locks die with the process; the next trader starts at once
    h.kill()
    after = run(["run-loop", "--demo", "-n", "1", "--interval", "0", "--journal", str(other), "--quiet"], demo)
    assert after.returncode == 0, after.stderr


def test_one_trader_per_paper_journal_and_heal_refuses_beside_a_loop(tmp_path: Path, holders: list[Holder]) -> None:
    journal = tmp_path / "journal-paper.sqlite"
    env = dict(os.environ)
    h = Holder(["--paper", "--source", SIM, "--journal", str(journal), "--quiet"], env)
    holders.append(h)
    second = run(["run-loop", "--paper", "-n", "1", "--source", SIM, "--journal", str(journal)], env)
    assert second.returncode == 9, second.stderr
    assert f"the journal {journal} is in use by another kalashi process (pid {h.pid})" in second.stderr
    # heal would supervise a second loop on the journal: it refuses, naming the running one
    healing = run(["heal", "--paper", "--journal", str(journal), "--source", SIM, "--status-port", "0"], env)
    assert healing.returncode == 9 and f"(pid {h.pid})" in healing.stderr, healing.stderr
    # the brake still works while it runs (deferred to the running loop)
    cli("halt", "--paper", "--journal", str(journal), "--quiet", code=0)
    h.kill()
    after = run(
        ["run-loop", "--paper", "-n", "1", "--interval", "0", "--source", SIM, "--journal", str(journal), "--quiet"],
        env,
    )
    assert after.returncode == 0, after.stderr


def test_two_heal_supervisors_on_one_journal(tmp_path: Path) -> None:
    journal = tmp_path / "journal-paper.sqlite"
    proc = subprocess.Popen(
        [
            *KALASHI,
            "heal",
            "--paper",
            "--no-loop",
            "--journal",
            str(journal),
            "--status-port",
            "0",
            "--every",
            "60",
            "--format",
            "jsonl",
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
    )
    lines: queue.Queue[str] = queue.Queue()
    err = proc.stderr
    assert err is not None

    def pump() -> None:
        for line in err:
            lines.put(line)
        lines.put("")

    pumping = threading.Thread(target=pump, daemon=True)
    pumping.start()
    try:
        while True:  # heal says where its status is once it serves (and holds the supervisor lock)
            line = lines.get(timeout=WAIT)
            assert line, "the first heal exited"
            if "status" in line and "http://" in line:
                break
        # a subprocess with a bound: a second supervisor that did start would run until killed
        second = run(
            ["heal", "--paper", "--no-loop", "--journal", str(journal), "--status-port", "0"], dict(os.environ)
        )
        assert second.returncode == 9, second.stderr
        assert (
            f"the journal {journal.resolve()}'s supervisor is in use by another kalashi process (pid {proc.pid})"
            in second.stderr
        )
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=WAIT)
        pumping.join(WAIT)
        err.close()
