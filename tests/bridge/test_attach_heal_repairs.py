"""serve-bridge --attach shows `kalashi heal`'s repairs and status in the state, not only in the live stream:
a page loaded (or reloaded) after a repair still sees it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kalashi_cli.bridge.attach import AttachBackend
from kalashi_cli.health import Repair
from kalashi_cli.journal import Journal
from kalashi_cli.records import iso
from kalashi_cli.service import TradingService

from .conftest import SIM

T0 = 1_795_626_000_000  # 2026-11-25T17:00:00Z


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Path]:
    """A paper journal with one iteration, written as `kalashi run-loop` would."""
    svc = TradingService("default", source=SIM, journal_path=tmp_path / "journal.sqlite", interval=0)
    try:
        svc.run_iteration()
    finally:
        svc.close()
    yield tmp_path / "journal.sqlite"


def write(path: Path, *repairs: Repair, heal: tuple[int, str, str] | None = None) -> None:
    """What `kalashi heal` writes into the journal it watches (see HealthMonitor)."""
    jr = Journal(path, mode="paper")
    try:
        for r in repairs:
            r.journal(jr)
        if heal is not None:
            ts, status, detail = heal
            jr.add_records(
                [{"kind": "health", "v": 1, "name": "heal", "status": status, "detail": detail, "latency_ms": None}],
                ts_ms=ts,
            )
    finally:
        jr.close()


def health_of(path: Path) -> dict[str, dict[str, object]]:
    backend = AttachBackend(path, mode="paper", interval=1)
    try:
        return {h["name"]: h for h in backend.state()["health"]}
    finally:
        backend.close()


def test_a_reloaded_page_shows_the_last_repair_and_heals_status(journal: Path) -> None:
    write(
        journal,
        Repair(T0, "restart", "loop", True, "restarted loop (pid 7) after it exited with signal SIGKILL"),
        Repair(T0 + 5_000, "give-up", "bridge", False, "bridge failed again after 5 restarts in 600 s"),
        heal=(T0 + 6_000, "failed", "kalashi heal: process.bridge failed: gave up"),
    )
    health = health_of(journal)
    assert list(health)[:3] == ["loop", "journal", "trading_state"]  # the attach view's own checks stay first
    repairs = health["repairs"]
    assert repairs["status"] == "failed"  # a give-up, exactly as the live stream showed it
    assert str(repairs["detail"]).startswith("give-up bridge: bridge failed again")
    assert f"(at {iso(T0 + 5_000)})" in str(repairs["detail"])
    assert health["heal"]["status"] == "failed" and "process.bridge failed" in str(health["heal"]["detail"])


def test_the_state_matches_what_the_live_stream_showed(journal: Path) -> None:
    backend = AttachBackend(journal, mode="paper", interval=1)
    seen: list[dict[str, object]] = []
    backend.subscribe(seen.append)
    try:
        write(journal, Repair(T0, "resync", "ws_feed", True, "asked for fresh snapshots of 2 stale book(s)"))
        backend.poll()
        streamed = [r for r in seen if r.get("kind") == "health" and r.get("name") == "repairs"]
        state = {h["name"]: h for h in backend.state()["health"]}
    finally:
        backend.close()
    [live] = streamed
    assert state["repairs"]["status"] == live["status"] == "ok"
    assert str(state["repairs"]["detail"]).startswith(str(live["detail"]))


def test_no_heal_no_rows(journal: Path) -> None:
    health = health_of(journal)
    assert "repairs" not in health and "heal" not in health
