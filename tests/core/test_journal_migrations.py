"""The journal owns its schema: a journal written by the c22539d release opens, migrates in place
without losing a row, and every reader still works; a journal newer than the code is refused
untouched (exit 9); a failed migration leaves the journal as it was; read-only opens never create
or migrate one.

The fixture in tests/data/journal-c22539d/ was written by that release (its make.sh says how).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from kalashi_cli import migrations
from kalashi_cli.cli.app import app
from kalashi_cli.domain import OrderStatus
from kalashi_cli.errors import JournalError
from kalashi_cli.journal import MIGRATIONS, SCHEMA_VERSION, Journal, MarketInfo
from kalashi_cli.migrations import StoreTooNew
from kalashi_cli.money import Money, Price, fmt_money, parse_money
from kalashi_cli.sim import paper

FIXTURE = Path(__file__).resolve().parents[1] / "data" / "journal-c22539d"
TABLES = ("meta", "intents", "orders", "fills", "settlements", "markets", "iterations", "records", "metrics", "events")
SIM = "sim:seed=8,markets=20"  # what the fixture's run-loop traded on (make.sh)


@pytest.fixture
def old(tmp_path: Path) -> Path:
    """A copy of the c22539d journal, its paper exchange beside it."""
    dest = tmp_path / "journal-paper.sqlite"
    shutil.copyfile(FIXTURE / "journal-paper.sqlite", dest)
    shutil.copyfile(FIXTURE / "journal-paper.sqlite.paper-exchange.sqlite", paper.paper_exchange_path(dest))
    return dest


def raw(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True)


def columns_c22539d() -> dict[str, list[str]]:
    """The columns every table had in the c22539d release (later migrations only add)."""
    # immutable: reading the fixture itself must not leave -wal and -shm files beside it
    db = sqlite3.connect(f"file:{FIXTURE / 'journal-paper.sqlite'}?mode=ro&immutable=1", uri=True)
    try:
        return {t: [str(r[1]) for r in db.execute(f"PRAGMA table_info({t})")] for t in TABLES}
    finally:
        db.close()


def dump(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the c22539d tables, in the c22539d columns."""
    cols = columns_c22539d()
    db = raw(path)
    try:
        return {t: db.execute(f"SELECT {', '.join(cols[t])} FROM {t} ORDER BY rowid").fetchall() for t in TABLES}
    finally:
        db.close()


def up_to(n: int) -> migrations.Migrations:
    """The journal's migrations as a release that knew only the first ``n`` had them."""
    m = migrations.Migrations("journal", legacy_tables=MIGRATIONS.legacy_tables)
    m.steps = list(MIGRATIONS.steps[:n])
    return m


def at_version(path: Path, n: int) -> None:
    """Migrate a journal to version ``n`` only (what the release that ended at migration ``n`` did)."""
    db = sqlite3.connect(path, isolation_level=None)
    try:
        migrations.migrate(db, up_to(n), path)
    finally:
        db.close()


def schema(path: Path) -> set[tuple[str, str, str]]:
    """Every table and index (and its SQL) but the migration record."""
    db = raw(path)
    try:
        rows = db.execute(
            "SELECT type, name, sql FROM sqlite_master WHERE name != ?", (migrations.MIGRATIONS_TABLE,)
        ).fetchall()
    finally:
        db.close()
    return {(str(t), str(n), str(s)) for t, n, s in rows if not str(n).startswith("sqlite_autoindex__migrations")}


def user_version(path: Path) -> int:
    db = raw(path)
    try:
        return int(db.execute("PRAGMA user_version").fetchone()[0])
    finally:
        db.close()


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def kalashi(*args: str, code: int | None = 0) -> Any:
    res = CliRunner().invoke(app, list(args), input="")
    assert code is None or res.exit_code == code, (
        args,
        res.exit_code,
        res.stdout[-1500:],
        res.stderr[-1500:],
        res.exception,
    )
    return res


def lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(x) for x in text.splitlines() if x.strip()]


def readers(jr: Journal) -> dict[str, Any]:
    """What every Journal reader returns (the readers the loop, metrics, the bridge, heal and MCP use)."""
    return {
        "fills": jr.fills(),
        "settlements": jr.settlements(),
        "orders": jr.orders(),
        "resting": jr.orders(status=OrderStatus.RESTING),
        "intents": jr.intents(),
        "market_meta": jr.market_meta(),
        "iterations": jr.iterations(),
        "records": jr.records(),
        "events": jr.events(),
        "latest_metrics": jr.latest_metrics(),
        "fill_strategies": jr.fill_strategies(),
        "held": jr.held_tickers(),
        "blocked": jr.blocked_tickers(),
        "last_iteration": jr.last_iteration(),
        "meta": {
            k: jr.get_meta(k)
            for k in ("mode", "trading_state", "starting_balance", "halt_reason", "reconcile_runs", "schema_version")
        },
        "known": jr.known_tickers(),
        "view": jr.record_rows(("order", "fill"), limit=5, newest_first=True),
    }


# -- the fixture and migration 1 ----------------------------------------------------------------


def test_the_fixture_is_a_journal_from_before_migrations(old: Path) -> None:
    path = old  # a copy: opening the fixture itself would leave -wal and -shm files beside it
    assert user_version(path) == 0
    db = raw(path)
    try:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone() == ("1",)
    finally:
        db.close()
    assert migrations.MIGRATIONS_TABLE not in tables and set(TABLES) <= tables
    counts = {t: len(rows) for t, rows in dump(path).items()}
    # what make.sh produced: fills, a settlement, a halt and its lifting, resting orders, a metrics row
    assert counts["fills"] == 3 and counts["settlements"] == 1 and counts["iterations"] == 55
    assert [e[2] for e in dump(path)["events"]] == ["halt", "halt-cancel", "resume"]


def test_migration_1_is_the_c22539d_schema_exactly(old: Path, tmp_path: Path) -> None:
    at_version(tmp_path / "new.sqlite", 1)
    assert schema(tmp_path / "new.sqlite") == schema(old)
    db = sqlite3.connect(tmp_path / "new-exchange.sqlite", isolation_level=None)
    try:
        assert migrations.migrate(db, paper.MIGRATIONS, tmp_path / "x") == ["m001_initial"]
    finally:
        db.close()
    assert schema(tmp_path / "new-exchange.sqlite") == schema(paper.paper_exchange_path(old))


def test_a_c22539d_journal_migrates_in_place_keeping_every_row(old: Path) -> None:
    before = dump(old)
    jr = Journal(old)
    try:
        assert jr.migrated == MIGRATIONS.names and MIGRATIONS.names[0] == "m001_initial"
        assert jr.schema_version() == SCHEMA_VERSION == len(MIGRATIONS.names)
        assert jr.applied_migrations() == list(enumerate(MIGRATIONS.names, 1))
    finally:
        jr.close()
    assert dump(old) == before, "migrating must not change a single row"
    assert user_version(old) == SCHEMA_VERSION
    again = Journal(old)
    assert again.migrated == []  # recorded: it runs once
    again.close()
    assert dump(old) == before


def test_every_journal_reader_answers_the_same_before_and_after_migrating(
    old: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # as the release that ended at migration 1 read it: a journal from before migrations reads as version 1
    import kalashi_cli.journal as journal_module

    monkeypatch.setattr(MIGRATIONS, "steps", list(MIGRATIONS.steps[:1]))
    monkeypatch.setattr(journal_module, "ITERATION_COLUMNS", journal_module.ITERATION_COLUMNS[:15])
    ro = Journal(old, readonly=True)
    try:
        assert ro.schema_version() == 0 and not ro.blank
        before = readers(ro)
    finally:
        ro.close()
    monkeypatch.undo()
    assert user_version(old) == 0, "a read-only open never migrates"
    assert len(before["fills"]) == 3 and len(before["resting"]) == 3 and before["meta"]["mode"] == "paper"
    Journal(old).close()
    for readonly in (True, False):
        jr = Journal(old, readonly=readonly)
        try:
            after = readers(jr)
            # migration 2 adds columns to iterations (exposure, marked: 0 where nothing recorded them)
            assert [
                {k: v for k, v in r.items() if k not in ("exposure", "marked")} for r in after.pop("iterations")
            ] == before["iterations"]
            assert after == {k: v for k, v in before.items() if k != "iterations"}
        finally:
            jr.close()


# -- the readers people use: metrics, reconcile, the attached bridge, heal, MCP ---------------------


def as_the_release_said(got: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Metrics records as c22539d would print them: the drawdown recommendation has since gained a
    severity and the levels its sentence cites (reducing_at_pct, halt_at_pct); its title, sentence
    and the numbers that release gave are unchanged, and are what this compares."""
    out = []
    for rec in got:
        recs = []
        for r in rec.get("recommendations", []):
            if r.get("title") == "Drawdown is building":
                r = {
                    "title": r["title"],
                    "detail": r["detail"],
                    "numbers": {k: r["numbers"][k] for k in ("max_drawdown_pct", "kelly_fraction")},
                }
            recs.append(r)
        out.append({**rec, "recommendations": recs})
    return out


#: Metrics fields that mark open positions to the source's books as they are now (the built-in sim's
#: books change whenever the sim does), not read from the journal.
MARKED_TO_THE_BOOKS = ("unrealized_pnl", "equity", "max_drawdown_pct")


def journal_part(rec: dict[str, Any], leave_out: set[str]) -> dict[str, Any]:
    """A metrics record without the fields ``leave_out`` (and the drawdown recommendation's sentence and
    numbers, which follow max_drawdown_pct): what metrics reads from the journal itself."""
    recs = [
        {"title": r["title"]} if r.get("title") == "Drawdown is building" else r for r in rec.get("recommendations", [])
    ]
    return {k: v for k, v in {**rec, "recommendations": recs}.items() if k not in leave_out}


def test_metrics_says_what_the_c22539d_release_said_once_migrated(old: Path) -> None:
    (said,) = lines((FIXTURE / "metrics-c22539d.jsonl").read_text())
    # metrics only reads: an older journal is refused with the command that migrates it, untouched
    res = kalashi("metrics", "--paper", "--journal", str(old), "--format", "jsonl", code=9)
    assert "run any trading command on it once to migrate it" in res.stderr
    assert user_version(old) == 0 and len(dump(old)["metrics"]) == 8, "metrics only reads the journal"
    Journal(old).close()
    (now,) = as_the_release_said(
        lines(kalashi("metrics", "--paper", "--journal", str(old), "--format", "jsonl").stdout)
    )
    assert len(dump(old)["metrics"]) == 8
    # the same numbers, except what issue 14 changed on purpose: open positions are valued by the one
    # rule (the mid, not what they cost), and per strategy says more; and what is marked to the sim's
    # books as they are now (issue 15 changed the sim's books): the drawdown and its recommendation
    changed = {"equity", "unrealized_pnl", "per_strategy", *MARKED_TO_THE_BOOKS}
    assert journal_part(said, changed) == journal_part({k: now[k] for k in said}, changed)
    assert {k: now["per_strategy"]["value"][k] for k in said["per_strategy"]["value"]} == said["per_strategy"]["value"]
    assert now["equity"] == fmt_money(Money(parse_money(now["cash"]) + parse_money(now["equity_marked"])))


def test_reconcile_migrates_the_journal_and_the_paper_exchange_and_finds_them_agreeing(old: Path) -> None:
    (rep,) = lines(kalashi("reconcile", "--paper", "--journal", str(old), "--format", "jsonl").stdout)
    assert rep["ok"] and rep["position_drift"] == {} and rep["fills_added"] == 0 and rep["duplicates"] == []
    assert user_version(old) == SCHEMA_VERSION and user_version(paper.paper_exchange_path(old)) == 1
    db = raw(paper.paper_exchange_path(old))
    try:
        assert db.execute("SELECT name FROM _migrations").fetchall() == [("m001_initial",)]
        assert db.execute("SELECT COUNT(*) FROM fills").fetchone() == (3,)
    finally:
        db.close()


@pytest.mark.parametrize("migrated", [False, True])
def test_an_attached_bridge_shows_the_journal(old: Path, migrated: bool) -> None:
    from kalashi_cli.bridge.attach import AttachBackend

    if not migrated:  # an attached bridge only reads: an older journal is refused, untouched
        with pytest.raises(JournalError, match="run any trading command on it once to migrate it"):
            AttachBackend(old, mode="paper", profile="default", poll_s=0.02)
        assert user_version(old) == 0
        return
    Journal(old).close()
    backend = AttachBackend(old, mode="paper", profile="default", poll_s=0.02)
    got: list[dict[str, Any]] = []
    backend.subscribe(got.append)
    try:
        state = backend.state()
        assert state["loop"]["iteration"] == 55 and len(state["equity_curve"]) > 0
        assert len(state["positions"]) == 2 and len(state["open_orders"]) == 3
        assert state["journal"] and all(r["kind"] in ("order", "fill") for r in state["journal"])
        assert state["account"]["starting_balance"] == "100.0000"
        said = lines((FIXTURE / "metrics-c22539d.jsonl").read_text())[0]
        assert state["metrics"]["realized_pnl"] == said["realized_pnl"] and state["metrics"]["trades"] == 1
        assert backend.poll() == 0  # it starts from the journal's end
        writer = Journal(old)
        try:
            writer.add_records([{"kind": "health", "v": 1, "name": "repairs", "status": "ok", "detail": "x"}])
        finally:
            writer.close()
        assert backend.poll() == 1 and got[-1]["name"] == "repairs"
        assert [h["name"] for h in backend.state()["health"]][-1] == "repairs"
    finally:
        backend.close()


@pytest.mark.parametrize("migrated", [False, True])
def test_heal_checks_read_the_journal_and_never_migrate_it(old: Path, migrated: bool, tmp_path: Path) -> None:
    from kalashi_cli import health
    from kalashi_cli.heal import checks

    if not migrated:  # heal's checks only read: an older journal is reported with the command that migrates it
        once = {
            r["name"]: r
            for r in lines(
                kalashi("heal", "--once", "--paper", "--journal", str(old), "--format", "jsonl", code=11).stdout
            )
        }
        assert {once[n]["status"] for n in ("journal_writable", "journal_integrity")} == {"ok"}
        for name in ("loop", "drift", "trading_state"):
            assert once[name]["status"] == "failed" and "run any trading command on it once" in once[name]["detail"]
        assert user_version(old) == 0, "heal's checks never migrate"
        return
    Journal(old).close()
    version = user_version(old)
    last = checks.recent_iterations(old, 3)
    assert [r["n"] for r in last] == [53, 54, 55] and last[-1]["source"].startswith(SIM)
    assert checks.last_iteration_number(old) == 55
    assert checks.journal_integrity(old).status == health.OK
    assert checks.journal_writable(old).status == health.OK
    drift = checks.journal_drift(old)
    assert drift.status == health.OK and drift.facts["needs_reconcile"] is False, drift.detail
    ts = checks.trading_state(old, halt_file=tmp_path / "HALT")
    assert ts.status == health.OK and ts.facts["state"] == "ACTIVE"
    beat = checks.loop_heartbeat(old, interval_s=10)
    assert beat.facts["last_iteration"] == 55
    once = {
        r["name"]: r
        for r in lines(kalashi("heal", "--once", "--paper", "--journal", str(old), "--format", "jsonl", code=11).stdout)
    }  # 11: the loop stopped long ago
    assert once["loop"]["status"] == "failed" and "last iteration 55" in once["loop"]["detail"]
    assert {once[n]["status"] for n in ("journal_writable", "journal_integrity", "drift", "trading_state")} == {"ok"}
    assert user_version(old) == version, "heal's checks never migrate"
    jr = Journal(old)
    try:
        jr.add_event("repair", {"action": "restart", "target": "loop", "ok": True, "detail": "test"})
    finally:
        jr.close()
    rep = health.recent_repairs(old)
    assert rep.status == health.OK and rep.facts["repairs"] == 1 and "restart loop" in rep.detail


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_mcp_positions_on_the_migrated_journal(old: Path) -> None:
    from mcp import Client

    from kalashi_cli.mcp.server import build_server
    from kalashi_cli.service import TradingService
    from kalashi_cli.stages.portfolio import load_portfolio

    svc = TradingService("default", mode="paper", source=f"{SIM},step=55", journal_path=old)
    try:
        assert user_version(old) == SCHEMA_VERSION  # a trading service is a writer: it migrated the journal
        async with Client(build_server(svc)) as c:
            res = await c.call_tool("get_positions", {})
            assert not res.is_error
            positions = res.structured_content["positions"]
    finally:
        svc.close()
    ro = Journal(old, readonly=True)
    try:
        expected = {(p.ticker, p.position) for p in load_portfolio(ro, Money(100_000_000)).ledger.open_positions()}
    finally:
        ro.close()
    assert len(expected) == 2
    got = {(p["ticker"], (1 if p["outcome"] == "yes" else -1) * int(round(float(p["count"]) * 100))) for p in positions}
    assert got == expected


def test_completion_reads_an_old_journal_without_migrating_it(old: Path) -> None:
    from kalashi_cli.cli.common import known_tickers

    assert known_tickers("", [old]) == []  # an older journal is not read without migrating it
    assert user_version(old) == 0
    at_version(old, 1)  # the release that ended at migration 1
    assert known_tickers("", [old]) == []
    assert user_version(old) == 1
    Journal(old).close()
    assert len(known_tickers("", [old])) == 5


# -- refusals ----------------------------------------------------------------------------------------


def make_newer(path: Path, *, by: str = "9.9.9") -> None:
    """Turn a journal into one a future kalashi migrated to version SCHEMA_VERSION + 1."""
    Journal(path).close()
    db = sqlite3.connect(path, isolation_level=None)
    try:
        db.execute("BEGIN")
        db.execute("ALTER TABLE fills ADD COLUMN venue TEXT NOT NULL DEFAULT ''")
        db.execute(
            "INSERT INTO _migrations (version, name, applied_ms, kalashi) VALUES (?, 'm002_future', 0, ?)",
            (SCHEMA_VERSION + 1, by),
        )
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
        db.execute("COMMIT")
    finally:
        db.close()


@pytest.mark.parametrize("readonly", [False, True])
def test_a_journal_newer_than_the_code_is_refused_untouched(old: Path, readonly: bool) -> None:
    make_newer(old)
    before = digest(old)
    with pytest.raises(StoreTooNew) as e:
        Journal(old, readonly=readonly)
    said = str(e.value)
    assert e.value.exit_code == 9
    assert f"schema version {SCHEMA_VERSION + 1}" in said and f"up to version {SCHEMA_VERSION}" in said
    assert "kalashi 9.9.9 migrated it" in said and "pip install -U kalashi" in said and "not changed" in said
    assert digest(old) == before


@pytest.mark.parametrize(
    "command", [["metrics"], ["reconcile"], ["halt"], ["run-loop", "--iterations", "1"], ["heal", "--once"]]
)
def test_every_command_refuses_a_newer_journal_with_exit_9(old: Path, command: list[str]) -> None:
    make_newer(old)
    before = digest(old)
    res = kalashi(*command, "--paper", "--journal", str(old), code=9)
    assert res.stderr.startswith("kalashi: error: ") and "newer than this kalashi" in res.stderr
    assert "kalashi 9.9.9" in res.stderr
    assert digest(old) == before


def test_a_newer_paper_exchange_is_refused(old: Path) -> None:
    ex = paper.paper_exchange_path(old)
    db = sqlite3.connect(ex, isolation_level=None)
    db.execute("PRAGMA user_version = 7")
    db.close()
    res = kalashi("reconcile", "--paper", "--journal", str(old), code=9)
    assert f"{ex} is a paper exchange of schema version 7" in res.stderr


def test_a_database_that_is_not_a_journal_is_refused_and_left_alone(tmp_path: Path) -> None:
    other = tmp_path / "other.sqlite"
    db = sqlite3.connect(other)
    db.execute("CREATE TABLE photos (id INTEGER PRIMARY KEY)")
    db.commit()
    db.close()
    before = digest(other)
    with pytest.raises(JournalError, match="is not a kalashi journal: it has tables photos"):
        Journal(other)
    assert digest(other) == before


def test_a_journal_migrated_by_another_build_is_refused(old: Path) -> None:
    Journal(old).close()
    db = sqlite3.connect(old, isolation_level=None)
    db.execute("UPDATE _migrations SET name='m001_something_else' WHERE version=1")
    db.close()
    with pytest.raises(JournalError, match="its migration 1 is 'm001_something_else'"):
        Journal(old, readonly=True)


# -- atomic migrations, and the next one --------------------------------------------------------------


@pytest.fixture
def next_migration(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """Let a test append migrations to the journal's list (as the next schema change will)."""
    steps = list(MIGRATIONS.steps)
    monkeypatch.setattr(MIGRATIONS, "steps", steps)
    yield steps


@pytest.mark.parametrize("start", ["c22539d", "version 1"])
def test_a_failed_migration_leaves_the_journal_as_it_was(old: Path, next_migration: list[Any], start: str) -> None:
    if start == "version 1":
        at_version(old, 1)
    version, before, shape = user_version(old), dump(old), schema(old)

    def breaks_halfway(db: sqlite3.Connection) -> None:
        db.execute("ALTER TABLE fills ADD COLUMN venue TEXT NOT NULL DEFAULT ''")
        db.execute("CREATE TABLE exits (id INTEGER PRIMARY KEY)")
        db.execute("UPDATE meta SET value='gone' WHERE key='mode'")
        raise RuntimeError("disk on fire")

    breaks_halfway.__name__ = f"m{len(next_migration) + 1:03d}_breaks_halfway"
    next_migration.append(breaks_halfway)
    with pytest.raises(
        JournalError,
        match="migration m00._breaks_halfway of the journal failed .*disk on fire.*the journal is unchanged",
    ) as e:
        Journal(old)
    assert e.value.exit_code == 9
    assert user_version(old) == version and dump(old) == before and schema(old) == shape
    db = raw(old)
    try:
        recorded = db.execute("SELECT name FROM _migrations").fetchall() if start == "version 1" else []
    finally:
        db.close()
    assert recorded == ([("m001_initial",)] if start == "version 1" else [])


def test_the_next_migration_is_one_function(old: Path, next_migration: list[Any]) -> None:
    Journal(old).close()  # a journal of the current version
    n = SCHEMA_VERSION + 1

    def fill_venue(db: sqlite3.Connection) -> None:
        db.execute("ALTER TABLE fills ADD COLUMN venue TEXT NOT NULL DEFAULT 'kalshi'")

    fill_venue.__name__ = f"m{n:03d}_fill_venue"
    next_migration.append(fill_venue)
    # read-only opens never migrate: an older journal is refused, saying how to migrate it
    with pytest.raises(JournalError, match=f"schema version {n - 1}; this kalashi .* reads version {n}") as e:
        Journal(old, readonly=True)
    assert f"kalashi reconcile --paper --journal {old}" in (e.value.hint or "")
    res = kalashi("metrics", "--paper", "--journal", str(old), code=9)
    assert "run any trading command on it once to migrate it" in res.stderr
    jr = Journal(old)
    try:
        assert jr.migrated == [fill_venue.__name__] and jr.schema_version() == n
        assert jr.applied_migrations() == list(enumerate(MIGRATIONS.names, 1))
        assert len(jr.fills()) == 3
    finally:
        jr.close()
    db = raw(old)
    try:
        assert db.execute("SELECT DISTINCT venue FROM fills").fetchall() == [("kalshi",)]
    finally:
        db.close()
    Journal(old, readonly=True).close()  # now up to date: readable


def test_writers_racing_to_migrate_migrate_once(old: Path) -> None:
    errors: list[BaseException] = []
    opened: list[Journal] = []
    go = threading.Barrier(3)

    def open_it() -> None:
        try:
            go.wait(10)
            opened.append(Journal(old))
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=open_it) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for jr in opened:
        jr.close()
    assert not errors and len(opened) == 3
    assert sorted(jr.migrated == MIGRATIONS.names for jr in opened) == [False, False, True]
    assert user_version(old) == SCHEMA_VERSION


# -- read-only opens never create ---------------------------------------------------------------------


def test_read_only_opens_never_create_a_journal(tmp_path: Path) -> None:
    missing = tmp_path / "nothing-here.sqlite"
    jr = Journal(missing, readonly=True)
    try:
        assert jr.blank and jr.fills() == [] and jr.iterations() == [] and jr.get_meta("mode") == "paper"
    finally:
        jr.close()
    assert not missing.exists()
    (m,) = lines(kalashi("metrics", "--paper", "--journal", str(missing), "--format", "jsonl").stdout)
    assert m["equity"] == "100.0000" and m["iterations"] == 0
    assert not missing.exists() and list(tmp_path.iterdir()) == []
    assert kalashi("heal", "--once", "--paper", "--journal", str(missing), code=None).exit_code in (0, 10, 11)
    assert not missing.exists()


def test_a_read_only_open_of_another_modes_journal_is_refused(old: Path) -> None:
    Journal(old).close()
    res = kalashi("metrics", "--demo", "--journal", str(old), code=9)
    assert "is a paper journal, not demo" in res.stderr


def test_migration_2_gives_a_version_1_journal_marks_trades_and_netting(old: Path) -> None:
    """A journal of the release that ended at migration 1 gains the marks, trades and netting of issue 14."""
    from kalashi_cli.journal import MarkRow, TradeRow

    at_version(old, 1)
    before = dump(old)
    jr = Journal(old)
    try:
        assert jr.migrated == MIGRATIONS.names[1:] and MIGRATIONS.names[1] == "m002_marks_and_trades"
        assert dump(old) == before, "no row lost or changed"
        assert jr.last_marks() == {} and jr.trades() == {} and jr.netted_tickers() == {}
        assert all(r["exposure"] == 0 and r["marked"] == 0 for r in jr.iterations())
        ticker = jr.known_tickers()[0]
        jr.remember_markets([(ticker, "EV", "", "", "", "", True)])
        assert jr.netted_tickers() == {ticker: jr.market_meta()[ticker].event_ticker}
        assert jr.market_meta()[ticker] == MarketInfo(*before_meta(before, ticker)), "known fields are kept"
        jr.add_marks([MarkRow(ticker, 1, Price(5000), Price(4900), Price(5100))])
        assert jr.add_marks([MarkRow(ticker, 2, Price(5000), Price(4900), Price(5100))]) == 0, (
            "an unchanged mark is not repeated"
        )
        jr.record_trade(TradeRow("op-x", "arbitrage", "EV", 2, Price(10_000), 1))
        assert jr.trades()["op-x"].payout == 10_000
        assert set(jr.fill_trades()) == {f.fill_id for f in jr.fills()}
    finally:
        jr.close()


def before_meta(rows: dict[str, list[tuple[Any, ...]]], ticker: str) -> tuple[str, ...]:
    (row,) = [r for r in rows["markets"] if r[0] == ticker]
    return tuple(row[1:6])
