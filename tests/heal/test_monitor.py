"""The monitor: check rounds, repairs (reconcile, halt), journaled repair events, webhook, status."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kalashi_cli.heal.monitor import (
    EXIT_DEGRADED,
    EXIT_FAILED,
    EXIT_HEALTHY,
    HealConfig,
    HealthMonitor,
    collect_checks,
    exit_code,
    halt_trading,
    reconcile_journal,
)
from kalashi_cli.heal.supervisor import ChildSpec, ChildState, RestartPolicy, Supervisor
from kalashi_cli.heal.webhook import Notifier
from kalashi_cli.health import DEGRADED, FAILED, OK, Check
from kalashi_cli.journal import Journal
from kalashi_cli.profile import load_profile

from .conftest import NOW_MS as NOW
from .conftest import SIM, FakeClock, Receiver, python_child

SLEEPS = python_child("import time; time.sleep(120)")
DIES = python_child("import sys; sys.exit(2)")


def healthy() -> list[Check]:
    return [
        Check("exchange", OK, "n/a"),
        Check("loop", OK, "fine"),
        Check("journal_integrity", OK, "ok"),
        Check("drift", OK, "clean", facts={"needs_reconcile": False}),
        Check("disk_space", OK, "plenty"),
    ]


class Script:
    """A fake ``collect_checks``: returns whatever the test sets, records how it was called."""

    def __init__(self) -> None:
        self.checks = healthy()
        self.calls: list[dict[str, Any]] = []

    def set(self, name: str, status: str, detail: str = "", **facts: Any) -> None:
        self.checks = [Check(name, status, detail or status, facts=facts) if c.name == name else c for c in self.checks]

    def __call__(self, cfg: HealConfig, *, now_ms: Any, loop_since_ms: int | None, skip: frozenset[str]) -> list[Check]:
        self.calls.append({"since": loop_since_ms, "skip": skip})
        return [c for c in self.checks if c.name not in skip]


@pytest.fixture
def cfg(paper_journal: Path) -> HealConfig:
    return HealConfig(journal_path=paper_journal, profile=load_profile("default"), source=SIM, loop_interval_s=1)


class Calls:
    def __init__(self) -> None:
        self.halts: list[tuple[str, bool]] = []
        self.reconciles = 0

    def halt(self, reason: str, running: bool) -> tuple[bool, str]:
        self.halts.append((reason, running))
        return True, "HALTED (test)"

    def reconcile(self) -> tuple[bool, str]:
        self.reconciles += 1
        return True, "reconciled (test)"


@pytest.fixture
def calls() -> Calls:
    return Calls()


@pytest.fixture
def monitors(cfg: HealConfig, clock: FakeClock, calls: Calls) -> Iterator[Any]:
    made: list[HealthMonitor] = []

    def make(
        script: Script, *, supervisor: Supervisor | None = None, notifier: Notifier | None = None, **kw: Any
    ) -> tuple[HealthMonitor, list[dict[str, Any]]]:
        out: list[dict[str, Any]] = []
        m = HealthMonitor(
            cfg,
            supervisor=supervisor,
            notifier=notifier,
            sink=out.append,
            collect=script,
            halt=calls.halt,
            reconcile=calls.reconcile,
            clock=clock,
            wall_ms=clock.ms,
            **kw,
        )
        made.append(m)
        return m, out

    yield make
    for m in made:
        if m.supervisor is not None:
            m.supervisor.stop(timeout_s=2)
        if m.notifier is not None:
            m.notifier.close()


def repair_events(path: Path) -> list[dict[str, Any]]:
    jr = Journal(path, readonly=True)
    try:
        return [e["detail"] for e in reversed(jr.events(kind="repair"))]
    finally:
        jr.close()


# -- verdict and output -----------------------------------------------------------------------


def test_exit_codes() -> None:
    assert (exit_code(OK), exit_code(DEGRADED), exit_code(FAILED)) == (EXIT_HEALTHY, EXIT_DEGRADED, EXIT_FAILED)
    assert (EXIT_HEALTHY, EXIT_DEGRADED, EXIT_FAILED) == (0, 10, 11)
    from kalashi_cli.errors import EXIT_CODES

    assert not {EXIT_DEGRADED, EXIT_FAILED} & set(EXIT_CODES)  # never a frozen error code


def test_records_only_on_change_and_an_overall_record(monitors: Any) -> None:
    script = Script()
    m, out = monitors(script)
    m.round()
    assert [r["name"] for r in out] == [c.name for c in healthy()] + ["overall"]
    out.clear()
    m.round()
    assert out == []  # nothing changed
    script.set("loop", DEGRADED, "late")
    m.round()
    assert [(r["name"], r["status"]) for r in out] == [("loop", DEGRADED), ("overall", DEGRADED)]
    snap = m.snapshot()
    assert snap["status"] == DEGRADED and snap["exit_code"] == 10 and "loop degraded: late" in snap["summary"]


def test_slow_checks_are_cached_between_rounds(monitors: Any, clock: FakeClock) -> None:
    script = Script()
    m, _ = monitors(script, check_every_s=1, slow_every_s=60, integrity_every_s=300)
    m.round()
    assert script.calls[-1]["skip"] == frozenset()
    clock.advance(10)
    m.round()
    assert script.calls[-1]["skip"] == {"exchange", "journal_integrity"}
    assert [c["name"] for c in m.snapshot()["checks"]] == [c.name for c in healthy()]  # still shown, in order
    clock.advance(60)
    m.round()
    assert script.calls[-1]["skip"] == {"journal_integrity"}


def test_tick_runs_rounds_on_schedule(monitors: Any, clock: FakeClock) -> None:
    script = Script()
    m, _ = monitors(script, check_every_s=10)
    m.tick()
    m.tick()
    assert len(script.calls) == 1
    clock.advance(10)
    m.tick()
    assert len(script.calls) == 2


# -- webhook ----------------------------------------------------------------------------------


def test_webhook_on_overall_changes_only(monitors: Any, receiver: Receiver) -> None:
    script = Script()
    m, _ = monitors(script, notifier=Notifier(receiver.url))
    m.round()  # first round, healthy: nothing to say
    script.set("disk_space", DEGRADED, "0.5 GB free")
    m.round()
    m.round()  # still degraded: no second notification
    script.set("disk_space", OK)
    m.round()
    assert m.notifier is not None and m.notifier.flush(10)
    bodies = receiver.wait_for(2)
    assert [(b["event"], b["from"], b["to"]) for b in bodies] == [
        ("health_changed", OK, DEGRADED),
        ("health_changed", DEGRADED, OK),
    ]
    assert {c["name"] for c in bodies[0]["checks"]} >= {"disk_space", "loop"}
    assert m.snapshot()["webhook"]["sent"] == 2 and "hook" not in str(m.snapshot()["webhook"])  # path not shown


def test_a_first_round_that_is_not_healthy_is_announced(monitors: Any, receiver: Receiver) -> None:
    script = Script()
    script.set("loop", FAILED, "hung")
    m, _ = monitors(script, notifier=Notifier(receiver.url))
    m.round()
    [body] = receiver.wait_for(1)
    assert (body["from"], body["to"]) == ("unknown", FAILED)


# -- repairs ----------------------------------------------------------------------------------


def test_drift_restarts_the_supervised_loop_to_reconcile(
    monitors: Any, clock: FakeClock, tmp_path: Path, cfg: HealConfig
) -> None:
    sup = Supervisor([ChildSpec("loop", SLEEPS, critical=True)], log_dir=tmp_path, clock=clock, wall_ms=clock.ms)
    script = Script()
    m, out = monitors(script, supervisor=sup, reconcile_cooldown_s=300)
    sup.start()
    first_pid, first_started = sup.children["loop"].pid, sup.children["loop"].started_ms
    script.set("drift", DEGRADED, "1 order(s) with an unknown outcome block KX-A", needs_reconcile=True)
    m.round()
    assert sup.children["loop"].pid != first_pid and sup.running("loop")
    [r] = [r for r in out if r.get("kind") == "repair"]
    assert r["action"] == "reconcile" and r["target"] == "loop" and r["ok"] and "unknown outcome" in r["detail"]
    clock.advance(60)
    m.round()  # within the cooldown: the restarted loop is still reconciling
    assert len([r for r in out if r.get("kind") == "repair"]) == 1
    clock.advance(300)
    m.round()
    assert len([r for r in out if r.get("kind") == "repair"]) == 2
    events = repair_events(cfg.journal_path)
    assert [e["action"] for e in events] == ["reconcile", "reconcile"]
    assert script.calls[0]["since"] == first_started  # the heartbeat counts from the loop's start


def test_drift_with_no_loop_running_reconciles_in_process(monitors: Any, calls: Calls) -> None:
    script = Script()
    script.set("loop", FAILED, "not running")
    m, _ = monitors(script)
    m.round()  # the loop check of the first round is what tells whether a loop runs
    script.set("drift", DEGRADED, "blocked", needs_reconcile=True)
    m.round()
    assert calls.reconciles == 1
    assert m.snapshot()["repairs"][0]["action"] == "reconcile" and m.snapshot()["repairs"][0]["ok"]


def test_drift_with_an_unsupervised_loop_running_is_left_to_it(monitors: Any, calls: Calls) -> None:
    script = Script()
    m, _ = monitors(script)
    m.round()
    script.set("drift", DEGRADED, "blocked", needs_reconcile=True)
    m.round()
    assert calls.reconciles == 0
    r = m.snapshot()["repairs"][0]
    assert (
        r["action"] == "reconcile" and not r["ok"] and "skipped" in r["detail"] and "every 10 iterations" in r["detail"]
    )


def test_a_damaged_journal_or_full_disk_halts_trading_once(monitors: Any, calls: Calls) -> None:
    script = Script()
    m, _ = monitors(script)
    script.set("journal_integrity", FAILED, "found problems: page 4 …")
    m.round()
    m.round()
    assert len(calls.halts) == 1 and "journal integrity failed" in calls.halts[0][0]
    assert calls.halts[0][1] is True  # the loop check says a loop is running
    script.set("disk_space", FAILED, "40 MB free")
    m.round()
    assert len(calls.halts) == 2 and "disk space failed" in calls.halts[1][0]
    halts = [r for r in m.snapshot()["repairs"] if r["action"] == "halt"]
    assert len(halts) == 2 and all(r["target"] == "trading" for r in halts)


def test_giving_up_on_the_loop_halts_and_notifies(
    monitors: Any, clock: FakeClock, tmp_path: Path, calls: Calls, receiver: Receiver, cfg: HealConfig
) -> None:
    sup = Supervisor(
        [ChildSpec("loop", DIES, critical=True), ChildSpec("bridge", DIES)],
        policy=RestartPolicy(max_restarts=0),
        log_dir=tmp_path,
        clock=clock,
        wall_ms=clock.ms,
    )
    script = Script()
    m, out = monitors(script, supervisor=sup, notifier=Notifier(receiver.url))
    sup.start()
    for c in sup.children.values():
        assert c.proc is not None
        c.proc.wait(20)
    m.tick()  # deaths seen; no restart allowed: both given up at once, with no backoff in between
    assert {c.state for c in sup.children.values()} == {ChildState.GAVE_UP}
    assert len(calls.halts) == 1 and "gave up on loop" in calls.halts[0][0]  # the bridge is not critical
    assert calls.halts[0][1] is False  # no loop running any more
    assert m.notifier is not None and m.notifier.flush(10)
    bodies = receiver.wait_for(3)  # one gave_up per child, then the first round's health_changed
    assert [b["event"] for b in bodies] == ["gave_up", "gave_up", "health_changed"]
    assert sorted(b["target"] for b in bodies[:2]) == ["bridge", "loop"]
    actions = [e["action"] for e in repair_events(cfg.journal_path)]
    assert actions.count("give-up") == 2 and "halt" in actions
    snap = m.snapshot()
    assert {p["name"]: p["state"] for p in snap["processes"]} == {"loop": "gave_up", "bridge": "gave_up"}
    m.round()
    assert m.snapshot()["status"] == FAILED
    assert any(r.get("kind") == "repair" and r["action"] == "give-up" for r in out)


# -- the real repairs -------------------------------------------------------------------------


def test_halt_trading_with_no_loop_running_is_kalashi_halt(cfg: HealConfig) -> None:
    ok, detail = halt_trading(cfg, "test: the loop could not be kept alive", loop_running=False)
    assert ok and "HALTED;" in detail and "resting order(s) cancelled" in detail
    jr = Journal(cfg.journal_path, readonly=True)
    try:
        assert jr.get_meta("trading_state") == "HALTED"
        assert jr.get_meta("halt_reason") == "test: the loop could not be kept alive"
    finally:
        jr.close()


def test_halt_trading_beside_a_running_paper_loop_only_persists_halted(cfg: HealConfig) -> None:
    ok, detail = halt_trading(cfg, "disk full", loop_running=True)
    assert ok and "risk gate" in detail
    jr = Journal(cfg.journal_path, readonly=True)
    try:
        assert jr.get_meta("trading_state") == "HALTED"
        assert not jr.events(kind="halt-cancel")  # the paper exchange was not touched
    finally:
        jr.close()


def test_halt_trading_on_a_damaged_journal_uses_the_halt_file(cfg: HealConfig, tmp_path: Path) -> None:
    import dataclasses

    broken = tmp_path / "broken.sqlite"
    broken.write_bytes(b"this is not a database" * 100)
    hf = tmp_path / "HALT"
    bad = dataclasses.replace(cfg, journal_path=broken, halt_file=hf)
    ok, detail = halt_trading(bad, "journal damaged", loop_running=True)
    assert ok and str(hf) in detail and "journal damaged" in hf.read_text()
    assert (hf.stat().st_mode & 0o777) == 0o600  # private, like everything kalashi writes


def test_reconcile_journal_against_the_paper_exchange(cfg: HealConfig) -> None:
    ok, detail = reconcile_journal(cfg)
    assert ok and detail.startswith("reconciled:")


def test_collect_checks_on_a_real_paper_journal(cfg: HealConfig, _isolated_home: Path) -> None:
    checks = collect_checks(cfg)
    by = {c.name: c for c in checks}
    assert list(by)[:6] == ["exchange", "maintenance", "credentials", "clock_skew", "rate_limits", "ws_feed"]
    assert all("not applicable (paper on the built-in sim)" in by[n].detail for n in list(by)[:6])
    assert by["journal_integrity"].status == OK and by["drift"].status == OK and by["trading_state"].status == OK
    assert "redis" not in by


def test_every_repair_is_journaled_even_when_the_sink_is_quiet(monitors: Any, cfg: HealConfig) -> None:
    from kalashi_cli.health import Repair

    m, _ = monitors(Script())
    m.record_repair(Repair(1, "resync", "ws_feed", True, "asked for 3 snapshots"))
    assert repair_events(cfg.journal_path)[-1] == {
        "action": "resync",
        "target": "ws_feed",
        "ok": True,
        "detail": "asked for 3 snapshots",
    }
    assert m.snapshot()["repair_counts"] == {"resync": 1}


def test_no_journal_yet_is_not_cached(monitors: Any, clock: FakeClock) -> None:
    script = Script()
    script.checks = [Check("journal_integrity", DEGRADED, "no journal yet", facts={"exists": False})]
    m, _ = monitors(script, check_every_s=1)
    m.round()
    clock.advance(2)
    m.round()
    assert "journal_integrity" not in script.calls[-1]["skip"]  # checked again: the loop may have created it


def test_a_failing_round_does_not_stop_the_monitor(cfg: HealConfig, caplog: pytest.LogCaptureFixture) -> None:
    import threading

    stop = threading.Event()
    rounds = 0

    def collect(cfg: HealConfig, **kw: Any) -> list[Check]:
        nonlocal rounds
        rounds += 1
        if rounds == 1:
            raise RuntimeError("a bug in a check")
        stop.set()
        return healthy()

    m = HealthMonitor(cfg, collect=collect, check_every_s=0)
    m.run(stop, poll_s=0)
    assert rounds == 2 and m.status == OK
    assert any("heal step failed" in r.getMessage() for r in caplog.records)


def test_the_default_source_resumes_rather_than_repeats(paper_journal: Path) -> None:
    from kalashi_cli.heal.monitor import source_of

    assert source_of(paper_journal).startswith("sim:seed=1,markets=200,step=")  # where the books were
    assert source_of(paper_journal, position=False) == "sim:seed=1,markets=200"  # what to run again
    assert source_of(paper_journal.parent / "none.sqlite", "kalshi") == "kalshi"


def test_repairs_and_heals_state_reach_an_attached_dashboard(monitors: Any, cfg: HealConfig) -> None:
    from kalashi_cli.bridge.attach import AttachBackend
    from kalashi_cli.health import Repair

    backend = AttachBackend(cfg.journal_path, mode="paper", interval=1)
    seen: list[dict[str, Any]] = []
    backend.subscribe(seen.append)
    try:
        script = Script()
        script.set("disk_space", DEGRADED, "0.5 GB free")
        m, _ = monitors(script)
        m.round()
        m.record_repair(Repair(NOW, "restart", "loop", True, "restarted loop after it exited with exit code 1"))
        m.record_repair(Repair(NOW, "give-up", "bridge", False, "5 restarts in 600 s"))
        backend.poll()
    finally:
        backend.close()
    health = [(r["name"], r["status"]) for r in seen if r.get("kind") == "health"]
    assert health == [("heal", DEGRADED), ("repairs", OK), ("repairs", FAILED)]
    assert "restart loop: restarted loop" in next(r for r in seen if r.get("name") == "repairs")["detail"]


# -- a journal SQLite cannot read -------------------------------------------------------------


@pytest.fixture(params=["header-destroyed", "directory"])
def unreadable_cfg(request: pytest.FixtureRequest, cfg: HealConfig, tmp_path: Path) -> HealConfig:
    """``cfg`` pointed at a copy of its journal with the SQLite header overwritten, or at a directory."""
    import dataclasses
    import shutil

    if request.param == "header-destroyed":
        bad = tmp_path / "damaged.sqlite"
        shutil.copy2(cfg.journal_path, bad)
        with bad.open("r+b") as f:
            f.write(bytes((i * 37 + 11) % 256 for i in range(100)))
    else:
        bad = tmp_path / "folder.sqlite"
        bad.mkdir()
    return dataclasses.replace(cfg, journal_path=bad, halt_file=tmp_path / "HALT")


def test_collect_checks_on_an_unreadable_journal_reports_instead_of_raising(unreadable_cfg: HealConfig) -> None:
    from kalashi_cli.heal.monitor import source_of

    assert source_of(unreadable_cfg.journal_path, "sim") == "sim"  # no rows to read: the default
    by = {c.name: c for c in collect_checks(unreadable_cfg)}
    assert by["journal_writable"].status == FAILED and by["journal_integrity"].status == FAILED
    assert by["drift"].status == FAILED and not by["drift"].facts["needs_reconcile"]
    assert by["loop"].status == FAILED and by["trading_state"].status == FAILED


def test_the_monitor_halts_by_the_halt_file_when_the_journal_cannot_be_read(
    unreadable_cfg: HealConfig, caplog: pytest.LogCaptureFixture
) -> None:
    import threading

    out: list[dict[str, Any]] = []
    stop = threading.Event()

    def sink(rec: dict[str, Any]) -> None:
        out.append(rec)
        if rec.get("name") == "overall":
            stop.set()

    m = HealthMonitor(unreadable_cfg, sink=sink, check_every_s=0)  # the real checks and halt
    m.run(stop, poll_s=0)  # one whole round, through the same path as the supervisor and --watch
    assert not any("heal step failed" in r.getMessage() for r in caplog.records)
    snap = m.snapshot()
    assert snap["status"] == FAILED and snap["exit_code"] == EXIT_FAILED and snap["checks"]
    [halt] = [r for r in out if r.get("kind") == "repair"]
    assert halt["action"] == "halt" and halt["ok"] and "journal integrity failed" in halt["detail"]
    hf = unreadable_cfg.halt_file
    assert hf is not None and hf.exists() and "journal integrity failed" in hf.read_text()
    m.round()  # the next round finds the same damage: halted once per cause
    assert len([r for r in out if r.get("kind") == "repair"]) == 1


def test_a_supervised_loops_advice_differs_from_a_watched_ones(cfg: HealConfig, tmp_path: Path) -> None:
    import dataclasses

    from kalashi_cli.records import iso

    from .conftest import add_iteration

    add_iteration(cfg.journal_path, 50, iso(NOW - 3_600_000))  # an hour before "now"
    watched = {c.name: c for c in collect_checks(cfg, now_ms=lambda: NOW)}["loop"]
    assert watched.status == FAILED and "kalashi run-loop" in watched.detail and "--no-loop" in watched.detail
    sup = Supervisor([ChildSpec("loop", SLEEPS, critical=True)], log_dir=tmp_path)
    m = HealthMonitor(cfg, supervisor=sup, collect=collect_checks)
    assert m.cfg.loop_supervised
    own = {c.name: c for c in collect_checks(dataclasses.replace(cfg, loop_supervised=True), now_ms=lambda: NOW)}
    assert "heal stops and restarts it" in own["loop"].detail and "--no-loop" not in own["loop"].detail
