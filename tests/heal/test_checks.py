"""Local checks against real journals, fake clocks and small loopback servers."""

from __future__ import annotations

import shutil
import socket
import sqlite3
import threading
from collections import namedtuple
from decimal import Decimal
from pathlib import Path

import pytest

from kalashi_cli.domain import OrderIntent
from kalashi_cli.heal.checks import (
    disk_space,
    hang_limit_s,
    http_alive,
    journal_drift,
    journal_integrity,
    journal_writable,
    loop_heartbeat,
    redis_ping,
    trading_state,
)
from kalashi_cli.health import DEGRADED, FAILED, OK, Check, iso_ms, overall, recent_repairs, timed, worst
from kalashi_cli.journal import IntentStatus, Journal
from kalashi_cli.money import Count, Price

from .conftest import NOW_MS, Receiver, SilentServer, add_iteration, free_port

# -- the verdict ----------------------------------------------------------------------------


def test_worst_and_overall_pick_the_most_severe() -> None:
    assert worst([]) == OK
    assert worst([OK, DEGRADED, OK]) == DEGRADED
    assert worst([DEGRADED, FAILED, OK]) == FAILED
    assert overall([Check("a", OK, ""), Check("b", DEGRADED, "")]) == DEGRADED


def test_a_check_that_raises_is_a_failed_check_with_the_error() -> None:
    def boom() -> tuple[str, str]:
        raise RuntimeError("disk on fire")

    c = timed("x", boom)
    assert c.status == FAILED and "RuntimeError: disk on fire" in c.detail
    rec = c.to_record()
    assert rec["kind"] == "health" and rec["v"] == 1 and Decimal(rec["latency_ms"]) >= 0
    assert set(rec) == {"kind", "v", "name", "status", "detail", "latency_ms"}


# -- journal --------------------------------------------------------------------------------


def test_journal_writable_probe_leaves_nothing_behind(paper_journal: Path) -> None:
    c = journal_writable(paper_journal)
    assert c.status == OK, c.detail
    jr = Journal(paper_journal, readonly=True)
    try:
        assert jr.get_meta("heal_probe") is None  # the probe was rolled back
    finally:
        jr.close()


def test_journal_locked_by_another_writer_is_degraded(paper_journal: Path) -> None:
    holder = sqlite3.connect(str(paper_journal), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process holding the write lock
    try:
        c = journal_writable(paper_journal, timeout_s=0.2)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert c.status == DEGRADED and "locked" in c.detail


def test_missing_journal_is_degraded_not_created(tmp_path: Path) -> None:
    path = tmp_path / "nope.sqlite"
    assert journal_writable(path).status == DEGRADED
    assert journal_integrity(path).status == DEGRADED
    assert not path.exists()


def test_integrity_ok_on_a_real_journal(paper_journal: Path) -> None:
    c = journal_integrity(paper_journal)
    assert c.status == OK and "integrity check ok" in c.detail


def _corrupt(path: Path, offset: int, size: int = 4096) -> None:
    with path.open("r+b") as f:
        f.seek(offset)
        f.write(bytes((i * 37 + 11) % 256 for i in range(size)))


def test_integrity_fails_on_a_corrupted_copy(paper_journal: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy.sqlite"
    shutil.copy2(paper_journal, copy)
    page = sqlite3.connect(str(copy)).execute("PRAGMA page_size").fetchone()[0]
    size = copy.stat().st_size
    assert size > 4 * page, "the journal should span several pages"
    _corrupt(copy, 2 * page, 2 * page)  # two pages in the middle of the b-trees
    c = journal_integrity(copy)
    assert c.status == FAILED, c.detail
    assert journal_integrity(paper_journal).status == OK  # the original is untouched


def test_integrity_fails_when_the_header_is_destroyed(paper_journal: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy.sqlite"
    shutil.copy2(paper_journal, copy)
    _corrupt(copy, 0, 100)
    c = journal_integrity(copy)
    assert c.status == FAILED and "damaged" in c.detail
    assert journal_writable(copy).status == FAILED


# -- drift ----------------------------------------------------------------------------------


def _intent(coid: str, ticker: str) -> OrderIntent:
    return OrderIntent(coid, ticker, "bid", Price(4500), Count(100))


def test_no_drift_on_a_clean_journal(paper_journal: Path) -> None:
    c = journal_drift(paper_journal, now_ms=lambda: NOW_MS)
    assert c.status == OK and c.facts["needs_reconcile"] is False


def test_unknown_outcome_blocks_markets_and_asks_for_reconciliation(paper_journal: Path) -> None:
    jr = Journal(paper_journal)
    jr.record_intent(_intent("c-1", "KX-A"), now_ms=NOW_MS - 5_000)
    jr.set_intent_status("c-1", IntentStatus.UNKNOWN, detail="timeout")
    jr.record_intent(_intent("c-2", "KX-B"), now_ms=NOW_MS - 1_000)  # in flight: not yet suspicious
    jr.close()
    c = journal_drift(paper_journal, now_ms=lambda: NOW_MS)
    assert c.status == DEGRADED and "unknown outcome" in c.detail and "KX-A" in c.detail
    assert c.facts["needs_reconcile"] is True and c.facts["blocked_markets"] == ["KX-A"]
    later = journal_drift(paper_journal, now_ms=lambda: NOW_MS + 120_000)  # c-2 never answered
    assert later.facts["blocked_markets"] == ["KX-A", "KX-B"] and "never answered" in later.detail


def test_failed_reconciliations_degrade_then_fail_at_the_profile_limit(paper_journal: Path) -> None:
    jr = Journal(paper_journal)
    jr.set_meta("reconcile_failures", "1")
    jr.add_event("reconcile", {"ok": False, "error": "exchange unavailable (503)"})
    jr.close()
    c = journal_drift(paper_journal, max_failures=3, now_ms=lambda: NOW_MS)
    assert c.status == DEGRADED and "503" in c.detail and c.facts["needs_reconcile"]
    jr = Journal(paper_journal)
    jr.set_meta("reconcile_failures", "3")
    jr.close()
    c = journal_drift(paper_journal, max_failures=3, now_ms=lambda: NOW_MS)
    assert c.status == FAILED and "halts trading" in c.detail


def test_adopted_drift_stays_visible_for_the_window(paper_journal: Path) -> None:
    jr = Journal(paper_journal)
    jr.add_event(
        "reconcile", {"ok": True, "position_drift": {"KX-A": [1000, 1200]}, "orphans": ["o-9"]}, ts_ms=NOW_MS - 60_000
    )
    jr.close()
    c = journal_drift(paper_journal, now_ms=lambda: NOW_MS, window_s=3600)
    assert c.status == DEGRADED and "KX-A (journal 1000, exchange 1200)" in c.detail and "1 resting order" in c.detail
    assert c.facts["needs_reconcile"] is False  # already adopted: nothing to repair
    later = journal_drift(paper_journal, now_ms=lambda: NOW_MS + 3_600_000, window_s=3600)
    assert later.status == OK


# -- trading state --------------------------------------------------------------------------


def test_trading_state_active_reducing_halted(paper_journal: Path, tmp_path: Path) -> None:
    no_file = tmp_path / "HALT"
    assert trading_state(paper_journal, halt_file=no_file).status == OK
    add_iteration(paper_journal, 99, iso_ms(NOW_MS), state="REDUCING")
    c = trading_state(paper_journal, halt_file=no_file)
    assert c.status == DEGRADED and "REDUCING" in c.detail
    from kalashi_cli.stages.risk import set_halted

    jr = Journal(paper_journal)
    set_halted(jr, "daily loss limit")
    jr.close()
    c = trading_state(paper_journal, halt_file=no_file)
    assert c.status == FAILED and "daily loss limit" in c.detail and "resume --confirm" in c.detail


def test_halt_file_means_halted(paper_journal: Path, tmp_path: Path) -> None:
    hf = tmp_path / "HALT"
    hf.write_text("ops")
    c = trading_state(paper_journal, halt_file=hf)
    assert c.status == FAILED and str(hf) in c.detail


def test_default_halt_file_is_the_data_dirs(paper_journal: Path, _isolated_home: Path) -> None:
    (_isolated_home / "HALT").write_text("")
    assert trading_state(paper_journal).status == FAILED


# -- loop heartbeat -------------------------------------------------------------------------


def test_heartbeat_ok_late_and_hung(tmp_path: Path) -> None:
    j = tmp_path / "j.sqlite"
    add_iteration(j, 1, iso_ms(NOW_MS - 20_000), duration_ms=1000)  # ended 19 s before NOW
    limit = hang_limit_s(10, 3, 30)
    assert limit == 60
    c = loop_heartbeat(j, interval_s=10, now_ms=lambda: NOW_MS)
    assert c.status == OK and c.facts["iteration_age_s"] == 19 and c.facts["last_iteration"] == 1
    c = loop_heartbeat(j, interval_s=10, now_ms=lambda: NOW_MS + 60_000)
    assert c.status == DEGRADED and "late" in c.detail
    c = loop_heartbeat(j, interval_s=10, now_ms=lambda: NOW_MS + 150_000)
    assert c.status == FAILED and "hung or not running" in c.detail


def test_heartbeat_counts_from_a_later_start(tmp_path: Path) -> None:
    j = tmp_path / "j.sqlite"
    add_iteration(j, 1, iso_ms(NOW_MS - 3_600_000))  # an old run
    started = NOW_MS - 5_000  # a loop (re)started 5 s ago has not iterated yet: that is fine
    assert loop_heartbeat(j, interval_s=10, now_ms=lambda: NOW_MS, since_ms=started).status == OK
    assert loop_heartbeat(j, interval_s=10, now_ms=lambda: NOW_MS).status == FAILED


def test_heartbeat_without_iterations(tmp_path: Path) -> None:
    c = loop_heartbeat(tmp_path / "none.sqlite", interval_s=10, now_ms=lambda: NOW_MS)
    assert c.status == DEGRADED and "not run" in c.detail


# -- disk -----------------------------------------------------------------------------------

Usage = namedtuple("Usage", "total used free")


@pytest.mark.parametrize(("free", "status"), [(5_000_000_000, OK), (999_999_999, DEGRADED), (99_999_999, FAILED)])
def test_disk_space_thresholds(tmp_path: Path, free: int, status: str) -> None:
    seen: list[Path] = []

    def usage(p: Path) -> Usage:
        seen.append(p)
        return Usage(10**12, 0, free)

    c = disk_space(tmp_path / "not" / "yet", usage=usage)
    assert c.status == status and c.facts["free_bytes"] == free
    assert seen == [tmp_path]  # measured on the nearest directory that exists


def test_disk_space_on_the_real_filesystem(tmp_path: Path) -> None:
    c = disk_space(tmp_path)
    assert c.status in (OK, DEGRADED, FAILED) and c.facts["free_bytes"] > 0


# -- Redis ----------------------------------------------------------------------------------


class FakeRedis:
    """Speaks just enough RESP: AUTH and PING."""

    def __init__(self, *, password: str | None = None, reply: bytes = b"+PONG\r\n") -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        self.password = password
        self.reply = reply
        self.commands: list[list[str]] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        try:
            conn, _ = self.sock.accept()
        except OSError:
            return
        with conn:
            f = conn.makefile("rb")
            while True:
                head = f.readline()
                if not head.startswith(b"*"):
                    return
                words = []
                for _ in range(int(head[1:])):
                    n = int(f.readline()[1:])
                    words.append(f.read(n + 2)[:-2].decode())
                self.commands.append(words)
                if words[0] == "AUTH":
                    conn.sendall(b"+OK\r\n" if words[-1] == self.password else b"-WRONGPASS invalid\r\n")
                elif words[0] == "PING":
                    conn.sendall(self.reply)

    def close(self) -> None:
        self.sock.close()


def test_redis_pong_is_ok() -> None:
    r = FakeRedis()
    try:
        c = redis_ping(f"redis://127.0.0.1:{r.port}/0")
    finally:
        r.close()
    assert c.status == OK and "PONG" in c.detail and r.commands == [["PING"]]


def test_redis_auth_then_ping() -> None:
    r = FakeRedis(password="s3cret")
    try:
        c = redis_ping(f"redis://:s3cret@127.0.0.1:{r.port}")
    finally:
        r.close()
    assert c.status == OK and r.commands == [["AUTH", "s3cret"], ["PING"]]
    assert "s3cret" not in c.detail


def test_redis_wrong_password_and_odd_reply_and_refusal() -> None:
    r = FakeRedis(password="right")
    try:
        assert redis_ping(f"redis://:wrong@127.0.0.1:{r.port}").status == DEGRADED
    finally:
        r.close()
    r = FakeRedis(reply=b"-LOADING dataset\r\n")
    try:
        c = redis_ping(f"redis://127.0.0.1:{r.port}")
    finally:
        r.close()
    assert c.status == DEGRADED and "LOADING" in c.detail
    c = redis_ping(f"redis://127.0.0.1:{free_port()}", timeout_s=1)
    assert c.status == DEGRADED and "not reachable" in c.detail


# -- liveness probes ------------------------------------------------------------------------


def test_http_alive_answering_refused_and_hung(receiver: Receiver) -> None:
    c = http_alive("bridge", receiver.url.replace("/hook", "/"))
    assert c.status == OK and "HTTP 204" in c.detail
    c = http_alive("bridge", f"http://127.0.0.1:{free_port()}/")
    assert c.status == FAILED and "not answering" in c.detail
    silent = SilentServer()
    try:
        c = http_alive("mcp", f"http://127.0.0.1:{silent.port}/mcp", timeout_s=0.3)
    finally:
        silent.close()
    assert c.status == FAILED and "did not answer" in c.detail


# -- the in-process checks (the dashboard) --------------------------------------------------


def test_recent_repairs_ok_degraded_failed(paper_journal: Path) -> None:
    now = lambda: NOW_MS  # noqa: E731
    assert recent_repairs(paper_journal, now_ms=now).status == OK
    jr = Journal(paper_journal)
    jr.add_event(
        "repair", {"action": "restart", "target": "loop", "ok": True, "detail": "after it died"}, ts_ms=NOW_MS - 1000
    )
    jr.close()
    c = recent_repairs(paper_journal, now_ms=now)
    assert c.status == OK and "restart loop" in c.detail and c.facts["repairs"] == 1
    jr = Journal(paper_journal)
    jr.add_event(
        "repair", {"action": "reconcile", "target": "journal", "ok": False, "detail": "503"}, ts_ms=NOW_MS - 500
    )
    jr.close()
    assert recent_repairs(paper_journal, now_ms=now).status == DEGRADED
    jr = Journal(paper_journal)
    jr.add_event(
        "repair", {"action": "give-up", "target": "loop", "ok": False, "detail": "5 restarts"}, ts_ms=NOW_MS - 100
    )
    jr.close()
    c = recent_repairs(paper_journal, now_ms=now)
    assert c.status == FAILED and "gave up on loop" in c.detail
    assert recent_repairs(paper_journal, now_ms=lambda: NOW_MS + 7_200_000).status == OK  # an hour later


def test_service_checks_still_feed_the_dashboard(paper_journal: Path) -> None:
    from kalashi_cli.service import TradingService

    svc = TradingService("default", source="sim:seed=1,markets=100", journal_path=paper_journal)
    try:
        svc.run_iteration()
        recs = svc.read.health()
    finally:
        svc.close()
    names = [r["name"] for r in recs]
    assert names == ["loop", "journal", "trading_state", "exchange", "reconciliation", "repairs"]
    assert all(r["kind"] == "health" and r["status"] in (OK, DEGRADED, FAILED) for r in recs)


def test_a_journal_being_created_reads_as_empty(tmp_path: Path) -> None:
    j = tmp_path / "j.sqlite"
    sqlite3.connect(str(j)).close()  # the file exists, its tables do not yet
    assert loop_heartbeat(j, interval_s=1, now_ms=lambda: NOW_MS).status == DEGRADED
    assert journal_drift(j, now_ms=lambda: NOW_MS).status == OK
    assert trading_state(j, halt_file=tmp_path / "HALT").status == OK
    assert recent_repairs(j, now_ms=lambda: NOW_MS).status == OK


def test_service_checks_show_the_kalshi_clients_buckets(tmp_path: Path) -> None:
    from kalashi_cli.service import TradingService

    # a Kalshi source makes no call until asked for markets: nothing here touches the network
    svc = TradingService("default", source="kalshi", journal_path=tmp_path / "j.sqlite")
    try:
        recs = {r["name"]: r for r in svc.read.health()}
    finally:
        svc.close()
    assert recs["rate_limits"]["status"] == OK and "source read 100% of 400" in recs["rate_limits"]["detail"]
    assert "ws_feed" not in recs  # REST mode has no feed
