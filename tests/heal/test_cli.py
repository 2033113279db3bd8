"""`kalashi heal`: --once exit codes and output in-process; the supervisor as real processes on the sim."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from kalashi_cli.cli.app import app
from kalashi_cli.heal.checks import last_iteration_number
from kalashi_cli.journal import Journal
from kalashi_cli.records import iso

from .conftest import SIM, WAIT, Receiver, add_iteration, free_port

KALASHI = [sys.executable, "-m", "kalashi_cli"]


def heal(*args: str) -> Any:
    return CliRunner().invoke(app, ["heal", *args])


def records(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


@pytest.fixture
def fresh_journal(paper_journal: Path) -> Path:
    """The paper journal with an iteration that just ended (a loop that is alive)."""
    add_iteration(paper_journal, 50, iso(int(time.time() * 1000) - 200))
    return paper_journal


# -- --once ------------------------------------------------------------------------------------


def test_once_healthy_exits_0_with_health_records(fresh_journal: Path) -> None:
    res = heal("--once", "--journal", str(fresh_journal))
    assert res.exit_code == 0, res.output
    recs = records(res.stdout)
    assert all(r["kind"] == "health" and r["v"] == 1 for r in recs)
    names = [r["name"] for r in recs]
    assert names[:6] == ["exchange", "maintenance", "credentials", "clock_skew", "rate_limits", "ws_feed"]
    assert {"loop", "journal_writable", "journal_integrity", "drift", "trading_state", "disk_space"} <= set(names)
    assert recs[-1]["name"] == "overall" and recs[-1]["status"] == "ok"


def test_once_reducing_exits_10_and_halted_exits_11(fresh_journal: Path) -> None:
    add_iteration(fresh_journal, 51, iso(int(time.time() * 1000) - 100), state="REDUCING")
    res = heal("--once", "--journal", str(fresh_journal))
    assert res.exit_code == 10, res.output
    assert records(res.stdout)[-1]["status"] == "degraded"
    res = CliRunner().invoke(app, ["halt", "--journal", str(fresh_journal), "--reason", "test"])
    assert res.exit_code == 0, res.output
    res = heal("--once", "--journal", str(fresh_journal))
    assert res.exit_code == 11
    state = next(r for r in records(res.stdout) if r["name"] == "trading_state")
    assert state["status"] == "failed" and "HALTED: test" in state["detail"]


def test_once_a_stopped_loop_fails_unless_no_loop_belongs_here(paper_journal: Path) -> None:
    add_iteration(paper_journal, 50, iso(int(time.time() * 1000) - 600_000))  # ten minutes ago
    res = heal("--once", "--journal", str(paper_journal))
    assert res.exit_code == 11
    loop = next(r for r in records(res.stdout) if r["name"] == "loop")
    assert "hung or not running" in loop["detail"]
    # …and says what to do about it
    assert "kalashi run-loop" in loop["detail"] and "kalashi heal" in loop["detail"] and "--no-loop" in loop["detail"]
    assert heal("--once", "--journal", str(paper_journal), "--no-loop").exit_code == 0
    assert heal("--once", "--journal", str(paper_journal), "--hang-after", "3600").exit_code == 0


def header_destroyed(journal: Path, dest: Path) -> Path:
    """A copy of ``journal`` whose first 100 bytes (the SQLite header) are overwritten."""
    import shutil

    shutil.copy2(journal, dest)
    with dest.open("r+b") as f:
        f.write(bytes((i * 37 + 11) % 256 for i in range(100)))
    return dest


@pytest.fixture(params=["header-destroyed", "random-bytes", "directory"])
def not_a_journal(request: pytest.FixtureRequest, paper_journal: Path, tmp_path: Path) -> Path:
    """A --journal SQLite cannot read: a damaged copy, a file of junk, or a directory."""
    if request.param == "header-destroyed":
        return header_destroyed(paper_journal, tmp_path / "damaged.sqlite")
    if request.param == "random-bytes":
        junk = tmp_path / "junk.sqlite"
        junk.write_bytes(bytes(range(256)) * 16)
        return junk
    folder = tmp_path / "folder.sqlite"
    folder.mkdir()
    return folder


def test_once_on_a_journal_sqlite_cannot_read_is_a_failed_check(not_a_journal: Path) -> None:
    res = heal("--once", "--journal", str(not_a_journal))
    assert res.exit_code == 11, res.output  # a failed check, never a crash (exit 1)
    assert "unexpected" not in res.stderr
    by = {r["name"]: r for r in records(res.stdout)}
    assert by["journal_writable"]["status"] == "failed" and by["journal_integrity"]["status"] == "failed"
    assert by["overall"]["status"] == "failed"
    # every check that reads the journal says what is wrong and what to do
    for name in ("journal_integrity", "drift", "trading_state", "loop"):
        assert by[name]["status"] == "failed"
        said = by[name]["detail"]
        assert "reconcile a fresh journal" in said or "is a directory, not a journal" in said, (name, said)
    assert heal("--once", "--journal", str(not_a_journal), "--source", "sim").exit_code == 11


def test_once_checks_the_bridge_mcp_and_redis_when_asked(fresh_journal: Path, receiver: Receiver) -> None:
    res = heal(
        "--once",
        "--journal",
        str(fresh_journal),
        "--bridge",
        "--bridge-http-port",
        str(free_port()),
        "--bridge-ws-port",
        str(free_port()),
        "--mcp",
        "--mcp-port",
        str(free_port()),
        "--redis-url",
        f"redis://127.0.0.1:{free_port()}",
    )
    assert res.exit_code == 11
    by = {r["name"]: r for r in records(res.stdout)}
    assert by["bridge"]["status"] == by["bridge_ws"]["status"] == by["mcp"]["status"] == "failed"
    assert by["redis"]["status"] == "degraded"
    page = receiver.url.replace("/hook", "/")
    res = heal("--once", "--journal", str(fresh_journal), "--probe", f"page={page}")
    assert res.exit_code == 0 and {r["name"]: r for r in records(res.stdout)}["page"]["status"] == "ok"


def test_once_table_on_request(fresh_journal: Path) -> None:
    res = heal("--once", "--journal", str(fresh_journal), "--format", "table")
    assert res.exit_code == 0
    assert "journal_integrity" in res.stdout and "┃ name" in res.stdout and not res.stdout.startswith("{")


def test_help_documents_the_exit_codes() -> None:
    res = CliRunner().invoke(app, ["heal", "--help"])
    assert res.exit_code == 0
    text = " ".join(res.stdout.split())
    assert "0 healthy" in text and "10 degraded" in text and "11 failed" in text and "--webhook" in text


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--once", "--watch"], "do not go together"),
        (["--once", "--child", "x=sleep 1"], "only applies when heal supervises"),
        (["--child", "no-equals-sign"], "NAME=VALUE"),
        (["--child", "b@d=sleep 1"], "letters, digits"),
        (["--probe", "ghost=http://127.0.0.1:1/"], "names no --child"),
        (["--webhook", "ftp://example.com/x", "--no-loop"], "http(s) URL"),
    ],
)
def test_usage_errors_exit_2(args: list[str], says: str, paper_journal: Path) -> None:
    res = heal(*args, "--journal", str(paper_journal), "--status-port", "0")
    assert res.exit_code == 2, res.output
    assert says in res.stderr


# -- the supervisor, as real processes ---------------------------------------------------------


def wait_until(pred: Callable[[], bool], what: str, timeout: float = WAIT, why: Callable[[], str] = lambda: "") -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, f"timed out waiting for {what} {why()}"
        time.sleep(0.05)


def status(port: int) -> dict[str, Any] | None:
    try:
        with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(
            f"http://127.0.0.1:{port}/api/v1/status", timeout=2
        ) as r:
            return json.loads(r.read())
    except OSError:
        return None


def iterations(journal: Path) -> int:
    return last_iteration_number(journal)  # heal's own reader: a journal being created reads as empty


@pytest.fixture
def procs() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for p in started:
        if p.poll() is None:
            p.send_signal(signal.SIGINT)
        try:
            p.communicate(timeout=30)  # also closes the pipes, even after a failed test
        except subprocess.TimeoutExpired:
            p.kill()
            p.communicate(timeout=10)


def start_heal(procs: list[subprocess.Popen[bytes]], home: Path, *args: str) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    env = {**os.environ, "KALASHI_HOME": str(home), "PYTHONUNBUFFERED": "1"}
    p = subprocess.Popen(
        [*KALASHI, "heal", "--paper", "--status-port", str(port), "--format", "jsonl", "--quiet", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    procs.append(p)
    return p, port


def test_the_supervisor_restarts_a_killed_paper_loop_on_the_sim(
    procs: list[subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    journal = tmp_path / "j.sqlite"
    p, port = start_heal(
        procs, tmp_path / "home", "--journal", str(journal), "--source", SIM, "--interval", "0.2", "--every", "0.3"
    )
    wait_until(lambda: iterations(journal) >= 2, "the supervised loop to trade")
    wait_until(
        lambda: (status(port) or {}).get("status") == "ok",
        "a healthy status",
        why=lambda: (status(port) or {}).get("summary", "no status"),
    )
    snap = status(port)
    assert snap is not None
    [loop] = snap["processes"]
    assert loop["name"] == "loop" and loop["state"] == "running" and "run-loop" in loop["command"]
    # heal --once agrees, from the outside
    once = subprocess.run(
        [*KALASHI, "heal", "--once", "--paper", "--journal", str(journal), "--interval", "0.2"],
        capture_output=True,
        env={**os.environ, "KALASHI_HOME": str(tmp_path / "home")},
        timeout=60,
    )
    assert once.returncode == 0, once.stdout.decode()[-2000:]
    # a crash: the loop dies without a word
    before = iterations(journal)
    os.kill(loop["pid"], signal.SIGKILL)
    wait_until(
        lambda: any(r["action"] == "restart" for r in (status(port) or {}).get("repairs", [])),
        "heal to restart the loop",
    )
    wait_until(lambda: iterations(journal) > before + 1, "the restarted loop to carry on")
    snap = status(port)
    assert snap is not None
    [loop2] = snap["processes"]
    assert loop2["pid"] != loop["pid"] and loop2["restarts"] == 1
    restart = next(r for r in snap["repairs"] if r["action"] == "restart")
    assert "signal SIGKILL" in restart["detail"]
    jr = Journal(journal, readonly=True)
    try:
        assert any(e["detail"]["action"] == "restart" for e in jr.events(kind="repair"))
        assert jr.integrity_ok()[0]
    finally:
        jr.close()
    # Ctrl-C: heal stops the loop after its current step and exits cleanly
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 0, err.decode()[-2000:]
    assert b"Traceback" not in err
    with pytest.raises(ProcessLookupError):
        os.kill(loop2["pid"], 0)
    kinds = {(r["kind"], r.get("name") or r.get("action")) for r in records(out.decode())}
    assert ("repair", "restart") in kinds and ("health", "overall") in kinds


def test_a_loop_that_cannot_be_kept_alive_is_given_up_and_trading_halted(
    procs: list[subprocess.Popen[bytes]], tmp_path: Path, receiver: Receiver
) -> None:
    journal = tmp_path / "j.sqlite"
    p, port = start_heal(
        procs,
        tmp_path / "home",
        "--journal",
        str(journal),
        "--source",
        "sim:bogus=1",
        "--max-restarts",
        "1",
        "--backoff",
        "0.05",
        "--every",
        "0.2",
        "--webhook",
        receiver.url,
    )
    wait_until(lambda: (status(port) or {}).get("processes", [{}])[0].get("state") == "gave_up", "heal to give up")
    wait_until(
        lambda: (
            (status(port) or {}).get("status") == "failed"
            and any(r["action"] == "halt" for r in (status(port) or {})["repairs"])
        ),
        "the halt",
    )
    snap = status(port)
    assert snap is not None
    give_up = next(r for r in snap["repairs"] if r["action"] == "give-up")
    assert "unknown sim descriptor key 'bogus'" in give_up["detail"]  # the loop's own last words
    jr = Journal(journal, readonly=True)
    try:
        assert jr.get_meta("trading_state") == "HALTED"
        assert "gave up on loop" in (jr.get_meta("halt_reason") or "")
        actions = [e["detail"]["action"] for e in jr.events(kind="repair")]
        assert "give-up" in actions and "halt" in actions
    finally:
        jr.close()
    events = [b["event"] for b in receiver.wait_for(2)]
    assert "gave_up" in events and "health_changed" in events
    p.send_signal(signal.SIGINT)
    p.communicate(timeout=60)
    assert p.returncode == 0


def test_heal_says_what_it_runs_and_never_announces_a_restart_it_will_not_do(
    procs: list[subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    journal = tmp_path / "j.sqlite"
    port = free_port()
    env = {**os.environ, "KALASHI_HOME": str(tmp_path / "home"), "PYTHONUNBUFFERED": "1"}
    p = subprocess.Popen(
        [
            *KALASHI,
            "heal",
            "--paper",
            "--status-port",
            str(port),
            "--format",
            "jsonl",
            "--journal",
            str(journal),
            "--source",
            "sim:bogus=1",
            "--max-restarts",
            "1",
            "--backoff",
            "0.05",
            "--every",
            "0.2",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    procs.append(p)
    wait_until(lambda: any(r["action"] == "halt" for r in (status(port) or {}).get("repairs", [])), "the halt")
    snap = status(port)
    assert snap is not None
    actions = [r["action"] for r in reversed(snap["repairs"])]  # oldest first
    assert actions[-2:] == ["give-up", "halt"], actions  # halted in the step that gave up
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=60)
    lines = err.decode().splitlines()
    assert lines[0] == (
        f"kalashi heal: paper trading on sim:bogus=1, profile default, journal {journal} — a new paper account"
    ), lines[:3]
    assert lines[1].startswith("  supervising loop; status on http://127.0.0.1:")
    restarting = [ln for ln in lines if "restarting in" in ln]
    assert len(restarting) == 1 and "(restart 1 of 1 allowed" in restarting[0], lines  # the one restart it did
    assert any("giving up" in ln for ln in lines) and lines.index(restarting[0]) < next(
        i for i, ln in enumerate(lines) if "giving up" in ln
    )


def test_heal_will_not_start_a_second_loop_on_a_live_journal(fresh_journal: Path) -> None:
    res = heal("--journal", str(fresh_journal), "--status-port", "0", "--interval", "10")
    assert res.exit_code == 2 and "seems to be writing" in res.stderr and "--watch" in res.stderr


def test_watch_on_a_damaged_journal_finishes_its_rounds_and_halts_by_the_halt_file(
    procs: list[subprocess.Popen[bytes]], paper_journal: Path, tmp_path: Path
) -> None:
    damaged = header_destroyed(paper_journal, tmp_path / "damaged.sqlite")
    home = tmp_path / "home"
    p, port = start_heal(procs, home, "--watch", "--journal", str(damaged), "--every", "0.2")
    wait_until(
        lambda: any(r["action"] == "halt" for r in (status(port) or {}).get("repairs", [])),
        "the halt",
        why=lambda: str(status(port)),
    )
    snap = status(port)
    assert snap is not None and snap["status"] == "failed" and snap["exit_code"] == 11 and snap["checks"]
    by = {c["name"]: c for c in snap["checks"]}
    assert by["journal_integrity"]["status"] == "failed" and by["journal_writable"]["status"] == "failed"
    [halt] = [r for r in snap["repairs"] if r["action"] == "halt"]
    # the journal cannot store HALTED: the halt file in the data dir stops every loop there
    assert halt["ok"] and "halt file" in halt["detail"] and str(home / "HALT") in halt["detail"]
    assert (home / "HALT").exists()
    wait_until(lambda: (status(port) or {}).get("rounds", 0) >= 3, "more rounds")
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 0, err.decode()[-2000:]
    assert b"Traceback" not in err and b"heal step failed" not in err
