"""The supervisor with real short-lived children and a fake clock: deaths, hangs, backoff, budget."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kalashi_cli.heal.checks import last_iteration_end_ms
from kalashi_cli.heal.supervisor import Child, ChildSpec, ChildState, RestartPolicy, Supervisor
from kalashi_cli.health import DEGRADED, FAILED, OK, Repair
from kalashi_cli.records import iso

from .conftest import WAIT, FakeClock, add_iteration, python_child

DIES = python_child("import sys; sys.stderr.write('boom: cannot open the journal\\n'); sys.exit(3)")
SLEEPS = python_child("import time; time.sleep(120)")


def wait_until(pred: Callable[[], bool], timeout: float = WAIT, what: str = "condition") -> None:
    """Wait on a condition another process makes true, with a bound."""
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, f"{what} not reached in {timeout} s"
        time.sleep(0.01)


class Rig:
    def __init__(self, specs: list[ChildSpec], clock: FakeClock, tmp: Path, **policy: float) -> None:
        self.repairs: list[Repair] = []
        self.gave_up: list[tuple[str, Repair]] = []
        self.sup = Supervisor(
            specs,
            policy=RestartPolicy(**policy),  # type: ignore[arg-type]
            log_dir=tmp,
            on_repair=self.repairs.append,
            on_give_up=lambda c, r: self.gave_up.append((c.name, r)),
            clock=clock,
            wall_ms=clock.ms,
        )
        self.clock = clock

    def child(self, name: str = "x") -> Child:
        return self.sup.children[name]

    def wait_dead(self, name: str = "x") -> None:
        p = self.child(name).proc
        assert p is not None
        p.wait(WAIT)


@pytest.fixture
def rigs(tmp_path: Path, clock: FakeClock) -> Iterator[Callable[..., Rig]]:
    made: list[Rig] = []

    def make(specs: list[ChildSpec], **policy: float) -> Rig:
        r = Rig(specs, clock, tmp_path, **policy)
        made.append(r)
        return r

    yield make
    for r in made:
        r.sup.stop(timeout_s=2)


def test_backoff_doubles_and_is_capped() -> None:
    p = RestartPolicy(backoff_base_s=1, backoff_max_s=10)
    assert [p.backoff(n) for n in (1, 2, 3, 4, 5, 9)] == [1, 2, 4, 8, 10, 10]


def test_a_dead_child_is_restarted_after_its_backoff(rigs: Callable[..., Rig]) -> None:
    rig = rigs([ChildSpec("x", DIES)])
    rig.sup.start()
    rig.wait_dead()
    assert rig.sup.poll() == []
    c = rig.child()
    assert c.state is ChildState.BACKOFF and c.last_exit == 3
    assert "exit code 3: boom: cannot open the journal" in c.last_reason  # its last words, from the log
    rig.clock.advance(0.5)
    assert rig.sup.poll() == [] and c.state is ChildState.BACKOFF  # not before the backoff
    rig.clock.advance(0.6)
    [r] = rig.sup.poll()
    assert r.action == "restart" and r.ok and r.target == "x" and "restart 1 of 5" in r.detail
    assert rig.child().state is ChildState.RUNNING and c.restarts == 1
    rig.wait_dead()
    rig.sup.poll()
    assert c.next_start_at - rig.clock() == pytest.approx(2.0)  # second failure in a row: twice the wait
    assert rig.repairs == [r]


def test_the_restart_budget_runs_out_and_heal_gives_up(
    rigs: Callable[..., Rig], caplog: pytest.LogCaptureFixture
) -> None:
    rig = rigs([ChildSpec("x", DIES, critical=True)], max_restarts=2, window_s=600)
    rig.sup.start()
    for _ in range(2):
        rig.wait_dead()
        rig.sup.poll()
        rig.clock.advance(10)
        [r] = rig.sup.poll()
        assert r.action == "restart"
    rig.wait_dead()
    caplog.clear()
    with caplog.at_level("INFO", logger="kalashi.heal"):
        # the failure that finds the budget spent gives up at once: no backoff, no clock advance
        [r] = rig.sup.poll()
    assert r.action == "give-up" and not r.ok and "after 2 restarts" in r.detail and "exit code 3" in r.detail
    assert rig.gave_up == [("x", r)]  # on_give_up (the monitor halts trading there) ran in the same poll
    said = [rec.getMessage() for rec in caplog.records]
    assert not any("restarting in" in m for m in said), said  # never announce a restart that will not happen
    assert any("giving up" in m and "exit code 3" in m for m in said), said
    c = rig.child()
    assert c.state is ChildState.GAVE_UP
    [proc] = rig.sup.processes()
    assert proc["state"] == "gave_up" and proc["restarts"] == 2 and proc["restarts_in_window"] == 2
    assert proc["pid"] is None and proc["last_exit"] == 3 and proc["critical"] is True
    assert proc["next_start_in_s"] is None
    rig.clock.advance(3600)
    assert rig.sup.poll() == [] and c.state is ChildState.GAVE_UP  # stays down, loudly
    [check] = rig.sup.checks()
    assert check.name == "process.x" and check.status == FAILED and "gave up" in check.detail
    assert rig.repairs[-1] is r and [x.action for x in rig.repairs] == ["restart", "restart", "give-up"]


def test_a_failure_within_the_budget_announces_its_restart(
    rigs: Callable[..., Rig], caplog: pytest.LogCaptureFixture
) -> None:
    rig = rigs([ChildSpec("x", DIES)], max_restarts=1, window_s=600, backoff_base_s=4)
    rig.sup.start()
    rig.wait_dead()
    with caplog.at_level("INFO", logger="kalashi.heal"):
        assert rig.sup.poll() == []
    assert any("restarting in 4.0 s (restart 1 of 1" in rec.getMessage() for rec in caplog.records)
    assert rig.child().state is ChildState.BACKOFF and rig.gave_up == []


def test_with_no_restarts_allowed_the_first_failure_gives_up(rigs: Callable[..., Rig]) -> None:
    rig = rigs([ChildSpec("x", DIES, critical=True)], max_restarts=0)
    rig.sup.start()
    rig.wait_dead()
    [r] = rig.sup.poll()
    assert r.action == "give-up" and "after 0 restarts" in r.detail
    assert [name for name, _ in rig.gave_up] == ["x"] and rig.child().state is ChildState.GAVE_UP


def test_the_budget_window_slides(rigs: Callable[..., Rig]) -> None:
    rig = rigs([ChildSpec("x", DIES)], max_restarts=1, window_s=30)
    rig.sup.start()
    rig.wait_dead()
    rig.clock.advance(40)
    assert rig.sup.poll() == []
    for _ in range(3):  # a restart, then a death 40 s later: one restart per 30 s is never exceeded
        rig.clock.advance(10)  # past the backoff
        [r] = rig.sup.poll()
        assert r.action == "restart" and r.ok
        rig.wait_dead()
        rig.clock.advance(40)
        assert rig.sup.poll() == [] and rig.child().state is ChildState.BACKOFF
    rig.clock.advance(10)
    [r] = rig.sup.poll()
    assert r.action == "restart"
    rig.wait_dead()  # dies at once: the next restart would be the second within 30 s
    [r] = rig.sup.poll()
    assert r.action == "give-up"


def test_a_child_that_stays_up_starts_again_from_the_base_backoff(rigs: Callable[..., Rig], tmp_path: Path) -> None:
    marker = tmp_path / "second-run"
    flaky = python_child(
        f"import pathlib, sys, time\np = pathlib.Path({str(marker)!r})\n"
        "if not p.exists():\n    p.write_text('x'); sys.exit(1)\ntime.sleep(120)"
    )
    rig = rigs([ChildSpec("x", flaky)], stable_after_s=60)
    rig.sup.start()
    rig.wait_dead()
    rig.sup.poll()
    rig.clock.advance(1)
    rig.sup.poll()
    c = rig.child()
    assert c.state is ChildState.RUNNING and c.failures == 1
    rig.clock.advance(61)
    rig.sup.poll()
    assert c.failures == 0
    assert c.proc is not None
    c.proc.kill()
    rig.wait_dead()
    rig.sup.poll()
    assert rig.child().state is ChildState.BACKOFF and "signal SIGKILL" in c.last_reason
    assert c.next_start_at - rig.clock() == pytest.approx(1.0)


def test_a_hung_loop_without_iterations_is_killed_and_restarted(rigs: Callable[..., Rig], tmp_path: Path) -> None:
    journal = tmp_path / "j.sqlite"
    spec = ChildSpec(
        "loop",
        SLEEPS,
        critical=True,
        heartbeat_ms=lambda: last_iteration_end_ms(journal),
        hang_after_s=5,
        startup_grace_s=2,
    )
    rig = rigs([spec])
    rig.sup.start()
    rig.clock.advance(6)
    assert rig.sup.poll() == []  # 6 s < 5 s + 2 s grace before a first iteration
    rig.clock.advance(1.5)
    [kill] = rig.sup.poll()
    c = rig.child("loop")
    assert kill.action == "kill-hung" and kill.ok and "no iteration since it started" in kill.detail
    assert c.state is ChildState.BACKOFF and c.last_exit == -signal.SIGTERM
    rig.clock.advance(1)
    [restart] = rig.sup.poll()
    assert restart.action == "restart" and "after it hung" in restart.detail


def test_a_moving_heartbeat_keeps_the_loop_alive(rigs: Callable[..., Rig], tmp_path: Path) -> None:
    journal = tmp_path / "j.sqlite"
    spec = ChildSpec(
        "loop", SLEEPS, heartbeat_ms=lambda: last_iteration_end_ms(journal), hang_after_s=5, startup_grace_s=2
    )
    rig = rigs([spec])
    rig.sup.start()
    for n in range(1, 6):
        rig.clock.advance(4)
        add_iteration(journal, n, iso(rig.clock.ms() - 500), duration_ms=100)
        assert rig.sup.poll() == []
    assert rig.child("loop").state is ChildState.RUNNING
    rig.clock.advance(6)  # the journal stops moving
    [kill] = rig.sup.poll()
    assert kill.action == "kill-hung" and "no new iteration for 6 s" in kill.detail


def test_a_server_that_stops_answering_is_killed_after_repeated_misses(rigs: Callable[..., Rig]) -> None:
    answers = [True, False, False]

    def probe() -> tuple[bool, str]:
        ok = answers.pop(0) if answers else False
        return ok, "answering" if ok else "connection refused"

    spec = ChildSpec("bridge", SLEEPS, probe=probe, probe_every_s=1, probe_misses=2, startup_grace_s=3)
    rig = rigs([spec])
    rig.sup.start()
    rig.clock.advance(1)
    assert rig.sup.poll() == [] and answers == [True, False, False]  # no probe during the grace
    rig.clock.advance(2)
    assert rig.sup.poll() == []  # answered
    rig.clock.advance(0.5)
    assert rig.sup.poll() == [] and len(answers) == 2  # not probed again before probe_every_s
    rig.clock.advance(0.5)
    assert rig.sup.poll() == []  # one miss
    rig.clock.advance(1)
    [kill] = rig.sup.poll()
    assert kill.action == "kill-hung" and "not answering 2 times in a row (connection refused)" in kill.detail


def test_a_child_that_ignores_sigterm_gets_sigkill(rigs: Callable[..., Rig], tmp_path: Path) -> None:
    stubborn = python_child(
        "import signal, sys, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "sys.stderr.write('ignoring' + ' SIGTERM\\n'); sys.stderr.flush()\ntime.sleep(120)"
    )
    spec = ChildSpec(
        "x", stubborn, probe=lambda: (False, "no answer"), probe_every_s=0, probe_misses=1, startup_grace_s=0
    )
    rig = rigs([spec], term_timeout_s=0.3)
    rig.sup.start()
    log = tmp_path / "heal-x.log"
    # the marker is assembled by the child, so heal's own "start: <command>" line cannot match it
    wait_until(lambda: log.exists() and "ignoring SIGTERM" in log.read_text(), what="the child ignoring SIGTERM")
    [kill] = rig.sup.poll()
    assert kill.action == "kill-hung" and kill.ok
    assert rig.child().last_exit == -signal.SIGKILL


def test_a_child_waits_for_its_precondition(rigs: Callable[..., Rig], tmp_path: Path) -> None:
    journal = tmp_path / "journal.sqlite"
    spec = ChildSpec("bridge", SLEEPS, ready=lambda: (journal.exists(), f"waiting for {journal}"))
    rig = rigs([spec])
    rig.sup.start()
    c = rig.child("bridge")
    assert c.state is ChildState.WAITING and c.proc is None
    [check] = rig.sup.checks()
    assert check.status == DEGRADED and "waiting for" in check.detail
    journal.write_text("")
    rig.sup.poll()
    assert rig.child("bridge").state is ChildState.RUNNING and c.restarts == 0
    assert rig.sup.checks()[0].status == OK


def test_a_command_that_cannot_start_is_retried_then_given_up(rigs: Callable[..., Rig], tmp_path: Path) -> None:
    rig = rigs([ChildSpec("x", (str(tmp_path / "no-such-program"),))], max_restarts=1)
    rig.sup.start()
    c = rig.child()
    assert c.state is ChildState.BACKOFF and "could not start" in c.last_reason
    rig.clock.advance(1)
    restart, gave_up = rig.sup.poll()  # the one restart allowed fails too: that failure gives up
    assert restart.action == "restart" and not restart.ok
    assert gave_up.action == "give-up" and rig.child().state is ChildState.GAVE_UP


def test_restart_now_for_a_reconciliation_is_graceful_and_outside_the_budget(rigs: Callable[..., Rig]) -> None:
    rig = rigs([ChildSpec("loop", SLEEPS)], max_restarts=0)
    rig.sup.start()
    c = rig.child("loop")
    old = c.proc
    r = rig.sup.restart_now("loop", "reconcile before trading again", action="reconcile")
    assert r.action == "reconcile" and r.ok and "reconcile before trading again" in r.detail
    assert old is not None and old.returncode == -signal.SIGTERM
    assert c.state is ChildState.RUNNING and c.proc is not old and not c.history  # budget untouched


def test_stop_ends_every_child(rigs: Callable[..., Rig]) -> None:
    rig = rigs([ChildSpec("a", SLEEPS), ChildSpec("b", SLEEPS)])
    rig.sup.start()
    procs = [c.proc for c in rig.sup.children.values()]
    rig.sup.stop(timeout_s=5)
    assert all(p is not None and p.returncode is not None for p in procs)
    assert {c.state for c in rig.sup.children.values()} == {ChildState.STOPPED}
    assert not rig.sup.running("a")


def test_duplicate_names_are_refused() -> None:
    with pytest.raises(ValueError, match="unique"):
        Supervisor([ChildSpec("x", SLEEPS), ChildSpec("x", DIES)])


def test_the_log_keeps_starts_ends_and_the_childs_stderr(rigs: Callable[..., Rig], tmp_path: Path) -> None:
    rig = rigs([ChildSpec("x", DIES)])
    rig.sup.start()
    rig.wait_dead()
    rig.sup.poll()
    text = (tmp_path / "heal-x.log").read_text()
    assert "start:" in text and "boom: cannot open the journal" in text and "ended: exit code 3" in text


def test_a_broken_heartbeat_or_probe_never_crashes_the_supervisor(rigs: Callable[..., Rig]) -> None:
    def broken() -> int | None:
        raise OSError("disk went away")

    def explodes() -> tuple[bool, str]:
        raise RuntimeError("probe bug")

    spec = ChildSpec(
        "x",
        SLEEPS,
        heartbeat_ms=broken,
        hang_after_s=5,
        startup_grace_s=0,
        probe=explodes,
        probe_every_s=0,
        probe_misses=2,
    )
    rig = rigs([spec])
    rig.sup.start()
    assert rig.sup.poll() == []  # one probe miss, no heartbeat: not hung yet
    [kill] = rig.sup.poll()
    assert kill.action == "kill-hung" and "probe failed: RuntimeError: probe bug" in kill.detail


def test_child_logs_are_private(rigs: Callable[..., Rig], tmp_path: Path) -> None:
    rig = rigs([ChildSpec("x", DIES)])
    rig.sup.start()
    rig.wait_dead()
    assert (tmp_path / "heal-x.log").stat().st_mode & 0o077 == 0


def test_a_banner_is_not_quoted_as_the_reason_for_a_death(rigs: Callable[..., Rig]) -> None:
    # what `kalashi mcp-serve` prints on start-up, then a SIGKILL from outside: the banner is no cause
    banner = python_child(
        "import os, signal, sys\n"
        "sys.stderr.write('MCP endpoint http://127.0.0.1:8767/mcp (Ctrl-C stops)\\n')\n"
        "sys.stderr.flush(); os.kill(os.getpid(), signal.SIGKILL)"
    )
    rig = rigs([ChildSpec("x", banner)])
    rig.sup.start()
    rig.wait_dead()
    rig.sup.poll()
    c = rig.child()
    assert c.last_reason == "exited with signal SIGKILL"
    assert rig.sup.log_dir is not None
    assert "MCP endpoint" in (rig.sup.log_dir / "heal-x.log").read_text()  # still in the log


def test_only_error_lines_count_as_last_words() -> None:
    from kalashi_cli.heal.supervisor import looks_like_an_error

    assert looks_like_an_error("kalashi: error: unknown sim descriptor key 'bogus'")
    assert looks_like_an_error("sqlite3.DatabaseError: database disk image is malformed")
    assert looks_like_an_error("boom: cannot open the journal")
    assert not looks_like_an_error("MCP endpoint http://127.0.0.1:8767/mcp (Ctrl-C stops)")
    assert not looks_like_an_error("dashboard http://127.0.0.1:3002/  (control token abc)")
