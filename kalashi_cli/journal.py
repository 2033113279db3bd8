"""The journal: kalashi's own durable record of what it intended, sent, and got back.

SQLite in WAL mode with ``synchronous=FULL`` so a committed row survives a crash or a
SIGKILL. One journal per trading mode by default (``journal-paper.sqlite``,
``journal-demo.sqlite``, ``journal-live.sqlite`` in the user data dir), so paper results can
never leak into a live account's numbers. ``--journal PATH`` overrides.

Tables::

    meta         key/value: schema version, mode, starting balance, trading state, halt reason
    intents      every order intent, written BEFORE it is sent (client_order_id is the key)
    orders       the exchange's view of our orders (status, filled, remaining, fees)
    fills        every execution (fill_id is the key, so re-reading fills never double-counts)
    settlements  final results of markets we held
    markets      ticker → event, series, title, category, correlation group (for exposure)
    iterations   one row per loop iteration (equity, counts, cache and API statistics); ts_ms is
                 the source's clock (sim time on the sim), started the wall clock
    records      order / fill / denied records as emitted (execution quality, the trade journal view)
    metrics      metrics snapshots
    events       corrections, halts, repairs and other things an operator should see

Intent status moves through an explicit table; an illegal transition raises.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .domain import ExchangeFill, ExchangeOrder, OrderIntent, Settlement
from .errors import JournalError
from .money import Money

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS intents (
    client_order_id TEXT PRIMARY KEY,
    created_ms INTEGER NOT NULL,
    ticker TEXT NOT NULL,
    side TEXT NOT NULL,
    price INTEGER NOT NULL,
    count INTEGER NOT NULL,
    time_in_force TEXT NOT NULL,
    post_only INTEGER NOT NULL DEFAULT 0,
    reduce_only INTEGER NOT NULL DEFAULT 0,
    strategy TEXT NOT NULL DEFAULT '',
    opportunity_id TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL,
    order_id TEXT,
    detail TEXT NOT NULL DEFAULT '',
    updated_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS intents_ticker ON intents(ticker, status);
CREATE TABLE IF NOT EXISTS orders (
    order_id TEXT PRIMARY KEY,
    client_order_id TEXT NOT NULL,
    ticker TEXT NOT NULL,
    side TEXT NOT NULL,
    price INTEGER NOT NULL,
    status TEXT NOT NULL,
    initial_count INTEGER NOT NULL,
    fill_count INTEGER NOT NULL,
    remaining_count INTEGER NOT NULL,
    fees INTEGER NOT NULL DEFAULT 0,
    time_in_force TEXT NOT NULL DEFAULT '',
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS orders_status ON orders(status);
CREATE TABLE IF NOT EXISTS fills (
    fill_id TEXT PRIMARY KEY,
    order_id TEXT NOT NULL,
    client_order_id TEXT NOT NULL DEFAULT '',
    ticker TEXT NOT NULL,
    side TEXT NOT NULL,
    price INTEGER NOT NULL,
    count INTEGER NOT NULL,
    fee INTEGER NOT NULL,
    is_taker INTEGER NOT NULL,
    ts_ms INTEGER NOT NULL,
    strategy TEXT NOT NULL DEFAULT '',
    source TEXT NOT NULL DEFAULT 'ack'
);
CREATE INDEX IF NOT EXISTS fills_ticker ON fills(ticker);
CREATE TABLE IF NOT EXISTS settlements (
    ticker TEXT PRIMARY KEY,
    event_ticker TEXT NOT NULL DEFAULT '',
    result TEXT NOT NULL,
    value INTEGER,
    settled_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS markets (
    ticker TEXT PRIMARY KEY,
    event_ticker TEXT NOT NULL,
    series_ticker TEXT NOT NULL,
    title TEXT NOT NULL,
    category TEXT NOT NULL,
    grp TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS iterations (
    n INTEGER PRIMARY KEY,
    started TEXT NOT NULL,
    ts_ms INTEGER NOT NULL,
    duration_ms REAL NOT NULL,
    markets INTEGER NOT NULL,
    opportunities INTEGER NOT NULL,
    candidates INTEGER NOT NULL,
    orders INTEGER NOT NULL,
    state TEXT NOT NULL,
    equity INTEGER NOT NULL,
    cash INTEGER NOT NULL,
    cache_hits INTEGER NOT NULL DEFAULT 0,
    cache_misses INTEGER NOT NULL DEFAULT 0,
    api_calls INTEGER NOT NULL DEFAULT 0,
    source TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS records (
    id INTEGER PRIMARY KEY AUTOINCREMENT, ts_ms INTEGER NOT NULL, kind TEXT NOT NULL, record TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS records_kind ON records(kind, id);
CREATE TABLE IF NOT EXISTS metrics (id INTEGER PRIMARY KEY AUTOINCREMENT, ts_ms INTEGER NOT NULL, record TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts_ms INTEGER NOT NULL,
    kind TEXT NOT NULL,
    ticker TEXT NOT NULL DEFAULT '',
    detail TEXT NOT NULL DEFAULT '{}'
);
"""

#: intent status → statuses it may move to. ``pending``: journaled, not yet known to be sent;
#: ``unknown``: sent, answer lost — the market is blocked until reconciliation decides.
INTENT_TRANSITIONS: dict[str, frozenset[str]] = {
    "pending": frozenset({"acked", "rejected", "unknown", "never_sent"}),
    "unknown": frozenset({"acked", "never_sent", "unknown"}),
    # resent with the same client_order_id; or it arrived late after all (reconciliation adopts it)
    "never_sent": frozenset({"pending", "acked"}),
    "acked": frozenset(),
    # the exchange is the truth: a refused resend of an id whose earlier send did arrive
    # (its answer lost) is adopted when reconciliation finds the order
    "rejected": frozenset({"acked"}),
}


@dataclass(frozen=True, slots=True)
class IntentRow:
    client_order_id: str
    ticker: str
    side: str
    price: int
    count: int
    time_in_force: str
    post_only: bool
    reduce_only: bool
    strategy: str
    opportunity_id: str
    status: str
    order_id: str | None
    created_ms: int
    detail: str

    def to_intent(self) -> OrderIntent:
        return OrderIntent(
            client_order_id=self.client_order_id, ticker=self.ticker, side=self.side,  # type: ignore[arg-type]
            price=self.price, count=self.count, time_in_force=self.time_in_force,  # type: ignore[arg-type]
            post_only=self.post_only, reduce_only=self.reduce_only)


def default_journal_path(mode: str = "paper") -> Path:
    """Return the journal path for a mode in the user data dir (``$KALASHI_HOME`` overrides)."""
    return data_dir() / f"journal-{mode}.sqlite"


def data_dir() -> Path:
    """Return kalashi's data directory (``$KALASHI_HOME`` or the platform's user data dir)."""
    import os

    home = os.environ.get("KALASHI_HOME")
    if home:
        return Path(home).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir("kalashi", appauthor=False))


def _where(table: str, **equal: str | None) -> tuple[str, list[str]]:
    """``SELECT * FROM table`` filtered by the columns given a value (the names are ours, never input)."""
    given = {k: v for k, v in equal.items() if v}
    sql = f"SELECT * FROM {table}" + (" WHERE " + " AND ".join(f"{k}=?" for k in given) if given else "")
    return sql, [v for v in given.values() if v]


class Journal:
    """One SQLite journal. Thread-safe for the loop + a bridge reader (one lock, short holds)."""

    def __init__(self, path: str | Path, *, mode: str = "paper", readonly: bool = False) -> None:
        self.path = Path(path)
        self.mode = mode
        self._lock = threading.RLock()
        try:
            if not readonly:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            uri = f"file:{self.path}?mode=ro" if readonly else str(self.path)
            self._db = sqlite3.connect(uri, uri=readonly, check_same_thread=False, isolation_level=None,
                                       timeout=10)
            self._db.execute("PRAGMA busy_timeout=10000")
            if not readonly:
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=FULL")
                self._db.executescript(_SCHEMA)
                self._init_meta()
        except OSError as e:  # its folder cannot be created
            raise JournalError(f"{self.path}: cannot create the journal ({e.strerror or e})",
                               hint="pass --journal PATH in a folder you can write, or set KALASHI_HOME") from None
        except sqlite3.Error as e:
            raise JournalError(f"{self.path}: cannot open the journal ({e})",
                               hint="check the path, its permissions and free disk space, or pass --journal") from None

    # -- plumbing -----------------------------------------------------------------------
    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """Run statements in one transaction (committed durably on exit)."""
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                yield self._db
                self._db.execute("COMMIT")
            except sqlite3.Error as e:
                self._db.execute("ROLLBACK")
                raise JournalError(f"{self.path}: write failed ({e})",
                                   hint="check free disk space and that no other program locks the file") from None
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def _q(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            try:
                return self._db.execute(sql, args).fetchall()
            except sqlite3.Error as e:
                raise JournalError(f"{self.path}: read failed ({e})") from None

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _init_meta(self) -> None:
        with self.tx() as db:
            db.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            db.execute("INSERT OR IGNORE INTO meta VALUES ('mode', ?)", (self.mode,))
            db.execute("INSERT OR IGNORE INTO meta VALUES ('trading_state', 'ACTIVE')")
        stored = self.get_meta("mode")
        if stored != self.mode:
            raise JournalError(f"{self.path} is a {stored} journal, not {self.mode}",
                               hint=f"use the {stored} mode with it, or pass a different --journal")

    def get_meta(self, key: str, default: str | None = None) -> str | None:
        rows = self._q("SELECT value FROM meta WHERE key=?", (key,))
        return rows[0][0] if rows else default

    def set_meta(self, key: str, value: str) -> None:
        with self.tx() as db:
            db.execute("INSERT INTO meta VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                       (key, value))

    def integrity_ok(self, *, quick: bool = False, max_age_s: float = 0.0) -> tuple[bool, str]:
        """Run SQLite's integrity check; return (ok, detail).

        ``quick`` runs ``quick_check`` (no index cross-checks); ``max_age_s`` reuses a result
        younger than that (the dashboard asks on every state, heal runs the full check).
        """
        now = time.monotonic()
        cached = getattr(self, "_integrity", None)
        if max_age_s and cached is not None and now - cached[0] < max_age_s:
            return cached[1]
        rows = self._q("PRAGMA quick_check" if quick else "PRAGMA integrity_check")
        detail = "; ".join(str(r[0]) for r in rows)
        result = (detail == "ok", detail)
        self._integrity = (now, result)
        return result

    # -- starting balance ---------------------------------------------------------------
    def starting_balance(self, default: Money) -> Money:
        """Return the account's starting balance (what the fill-ledger fold starts from).

        A paper journal fixes ``default`` (the profile's paper balance) on first use; a demo or
        live journal is fixed from the exchange by :func:`kalashi_cli.context.open_broker`, and
        until then ``default`` is only a placeholder that is not stored.
        """
        v = self.get_meta("starting_balance")
        if v is None:
            if self.mode == "paper":
                self.set_meta("starting_balance", str(default))
            return default
        return int(v)

    # -- intents ------------------------------------------------------------------------
    def record_intent(self, intent: OrderIntent, *, strategy: str = "", opportunity_id: str = "",
                      now_ms: int | None = None) -> IntentRow | None:
        """Write an intent before it is sent. Return the existing row if this id was seen before."""
        now = now_ms if now_ms is not None else _now_ms()
        with self.tx() as db:
            row = db.execute("SELECT * FROM intents WHERE client_order_id=?", (intent.client_order_id,)).fetchone()
            if row is not None:
                return _intent_row(row)
            db.execute(
                "INSERT INTO intents VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (intent.client_order_id, now, intent.ticker, intent.side, intent.price, intent.count,
                 intent.time_in_force, int(intent.post_only), int(intent.reduce_only), strategy,
                 opportunity_id, "pending", None, "", now),
            )
        return None

    def set_intent_status(self, client_order_id: str, status: str, *, order_id: str | None = None,
                          detail: str = "") -> None:
        """Move an intent to a new status (checked against the transition table).

        Raises:
            JournalError: the intent is unknown or the transition is illegal.
        """
        with self.tx() as db:
            row = db.execute("SELECT status, order_id FROM intents WHERE client_order_id=?",
                             (client_order_id,)).fetchone()
            if row is None:
                raise JournalError(f"no intent with client_order_id {client_order_id}")
            old = row[0]
            if status not in INTENT_TRANSITIONS.get(old, frozenset()):
                raise JournalError(f"illegal intent transition {old} → {status} for {client_order_id}")
            db.execute("UPDATE intents SET status=?, order_id=COALESCE(?, order_id), detail=?, updated_ms=? "
                       "WHERE client_order_id=?", (status, order_id, detail, _now_ms(), client_order_id))

    def record_ack(self, client_order_id: str, order_id: str, order: ExchangeOrder | None,
                   fills: Sequence[ExchangeFill], *, strategy: str = "") -> None:
        """Record a definite answer — status, the order and its fills — in one durable transaction."""
        now = _now_ms()
        with self.tx() as db:
            row = db.execute("SELECT status FROM intents WHERE client_order_id=?", (client_order_id,)).fetchone()
            if row is None:
                raise JournalError(f"no intent with client_order_id {client_order_id}")
            if "acked" not in INTENT_TRANSITIONS.get(row[0], frozenset()):
                raise JournalError(f"illegal intent transition {row[0]} → acked for {client_order_id}")
            db.execute("UPDATE intents SET status='acked', order_id=?, updated_ms=? WHERE client_order_id=?",
                       (order_id, now, client_order_id))
            if order is not None:
                self._upsert_order(db, order, now)
            self._insert_fills(db, fills, strategy, "ack")

    def intent(self, client_order_id: str) -> IntentRow | None:
        rows = self._q("SELECT * FROM intents WHERE client_order_id=?", (client_order_id,))
        return _intent_row(rows[0]) if rows else None

    def intents(self, *, status: str | None = None, ticker: str | None = None) -> list[IntentRow]:
        sql, args = _where("intents", status=status, ticker=ticker)
        return [_intent_row(r) for r in self._q(sql + " ORDER BY created_ms, client_order_id", args)]

    def blocked_tickers(self) -> set[str]:
        """Markets with an order whose outcome is unknown: no writes until reconciled."""
        return {r[0] for r in self._q("SELECT DISTINCT ticker FROM intents WHERE status IN ('unknown','pending')")}

    # -- orders and fills ---------------------------------------------------------------
    def upsert_order(self, o: ExchangeOrder, *, now_ms: int | None = None) -> None:
        with self.tx() as db:
            self._upsert_order(db, o, now_ms if now_ms is not None else _now_ms())

    @staticmethod
    def _upsert_order(db: sqlite3.Connection, o: ExchangeOrder, now: int) -> None:
        db.execute(
                "INSERT INTO orders VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(order_id) DO UPDATE SET "
                "status=excluded.status, fill_count=excluded.fill_count, remaining_count=excluded.remaining_count, "
                "fees=excluded.fees, updated_ms=excluded.updated_ms",
                (o.order_id, o.client_order_id, o.ticker, o.side, o.price, o.status, o.initial_count,
                 o.fill_count, o.remaining_count, o.taker_fees + o.maker_fees, o.time_in_force,
                 o.created_ts_ms or now, now),
            )

    def orders(self, *, status: str | None = None, ticker: str | None = None) -> list[ExchangeOrder]:
        sql, args = _where("orders", status=status, ticker=ticker)
        out = []
        for r in self._q(sql + " ORDER BY created_ms, order_id", args):
            out.append(ExchangeOrder(order_id=r[0], client_order_id=r[1], ticker=r[2], side=r[3], price=r[4],
                                     status=r[5], initial_count=r[6], fill_count=r[7], remaining_count=r[8],
                                     taker_fees=r[9], created_ts_ms=r[11], time_in_force=r[10]))
        return out

    def add_fills(self, fills: Sequence[ExchangeFill], *, strategy: str = "", source: str = "ack") -> int:
        """Record fills; already-known fill ids are ignored. Return how many were new."""
        if not fills:
            return 0
        with self.tx() as db:
            return self._insert_fills(db, fills, strategy, source)

    @staticmethod
    def _insert_fills(db: sqlite3.Connection, fills: Sequence[ExchangeFill], strategy: str, source: str) -> int:
        new = 0
        for f in fills:
            cur = db.execute(
                "INSERT OR IGNORE INTO fills VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (f.fill_id, f.order_id, f.client_order_id, f.ticker, f.side, f.price, f.count, f.fee,
                 int(f.is_taker), f.ts_ms, strategy, source),
            )
            new += cur.rowcount
        return new

    def fills(self, *, ticker: str | None = None, since_ms: int | None = None) -> list[ExchangeFill]:
        sql, args = "SELECT * FROM fills WHERE 1=1", list[Any]()
        if ticker:
            sql += " AND ticker=?"
            args.append(ticker)
        if since_ms is not None:
            sql += " AND ts_ms>=?"
            args.append(since_ms)
        return [ExchangeFill(fill_id=r[0], order_id=r[1], client_order_id=r[2], ticker=r[3], side=r[4],
                             price=r[5], count=r[6], fee=r[7], is_taker=bool(r[8]), ts_ms=r[9])
                for r in self._q(sql + " ORDER BY ts_ms, rowid", args)]

    def fill_strategies(self) -> dict[str, str]:
        """Map fill_id → strategy (via the intent that caused it)."""
        rows = self._q("SELECT f.fill_id, COALESCE(NULLIF(f.strategy,''), i.strategy, '') FROM fills f "
                       "LEFT JOIN intents i ON i.client_order_id = f.client_order_id")
        return {r[0]: r[1] for r in rows}

    def add_settlements(self, settlements: Sequence[Settlement]) -> int:
        new = 0
        with self.tx() as db:
            for s in settlements:
                cur = db.execute("INSERT OR IGNORE INTO settlements VALUES (?,?,?,?,?)",
                                 (s.ticker, s.event_ticker, s.result, s.value, s.settled_ts_ms))
                new += cur.rowcount
        return new

    def settlements(self) -> list[Settlement]:
        return [Settlement(ticker=r[0], event_ticker=r[1], result=r[2], value=r[3], settled_ts_ms=r[4])
                for r in self._q("SELECT * FROM settlements ORDER BY settled_ms, ticker")]

    def held_tickers(self) -> set[str]:
        return {r[0] for r in self._q("SELECT DISTINCT ticker FROM fills")}

    # -- market metadata ----------------------------------------------------------------
    def remember_markets(self, rows: Sequence[tuple[str, str, str, str, str, str]]) -> None:
        """Remember (ticker, event, series, title, category, group) for exposure and display."""
        with self.tx() as db:
            db.executemany(
                "INSERT INTO markets VALUES (?,?,?,?,?,?) ON CONFLICT(ticker) DO UPDATE SET "
                "grp=CASE WHEN excluded.grp != '' THEN excluded.grp ELSE markets.grp END, "
                "title=CASE WHEN excluded.title != '' THEN excluded.title ELSE markets.title END",
                rows,
            )

    def market_meta(self) -> dict[str, tuple[str, str, str, str, str]]:
        """ticker → (event_ticker, series_ticker, title, category, group)."""
        return {r[0]: (r[1], r[2], r[3], r[4], r[5]) for r in self._q("SELECT * FROM markets")}

    def known_tickers(self, prefix: str = "") -> list[str]:
        return [r[0] for r in self._q("SELECT ticker FROM markets WHERE ticker LIKE ? ORDER BY ticker LIMIT 200",
                                      (prefix + "%",))]

    # -- iterations, metrics, events ----------------------------------------------------
    def add_iteration(self, row: dict[str, Any]) -> None:
        with self.tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO iterations VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (row["n"], row["started"], row["ts_ms"], row["duration_ms"], row["markets"], row["opportunities"],
                 row["candidates"], row["orders"], row["state"], row["equity"], row["cash"],
                 row.get("cache_hits", 0), row.get("cache_misses", 0), row.get("api_calls", 0),
                 row.get("source", "")),
            )

    def last_iteration(self) -> int:
        rows = self._q("SELECT MAX(n) FROM iterations")
        return int(rows[0][0]) if rows and rows[0][0] is not None else 0

    def iterations(self, limit: int | None = None) -> list[dict[str, Any]]:
        cols = ["n", "started", "ts_ms", "duration_ms", "markets", "opportunities", "candidates", "orders",
                "state", "equity", "cash", "cache_hits", "cache_misses", "api_calls", "source"]
        sql = "SELECT * FROM iterations ORDER BY n"
        if limit:
            sql = f"SELECT * FROM (SELECT * FROM iterations ORDER BY n DESC LIMIT {int(limit)}) ORDER BY n"
        return [dict(zip(cols, r, strict=True)) for r in self._q(sql)]

    def add_records(self, records: Sequence[dict[str, Any]], ts_ms: int | None = None) -> None:
        """Keep emitted order/fill/denied records (for execution statistics and the journal view)."""
        now = ts_ms if ts_ms is not None else _now_ms()
        with self.tx() as db:
            db.executemany("INSERT INTO records (ts_ms, kind, record) VALUES (?,?,?)",
                           [(now, r["kind"], json.dumps(r)) for r in records])

    def records(self, kind: str | None = None, limit: int | None = None, newest_first: bool = False
                ) -> list[dict[str, Any]]:
        sql, args = "SELECT record FROM records", []
        if kind:
            sql += " WHERE kind=?"
            args.append(kind)
        sql += " ORDER BY id DESC" if newest_first else " ORDER BY id"
        if limit:
            sql += f" LIMIT {int(limit)}"
        return [json.loads(r[0]) for r in self._q(sql, args)]

    def add_metrics(self, record: dict[str, Any], ts_ms: int | None = None) -> None:
        with self.tx() as db:
            db.execute("INSERT INTO metrics (ts_ms, record) VALUES (?, ?)",
                       (ts_ms if ts_ms is not None else _now_ms(), json.dumps(record)))

    def latest_metrics(self) -> dict[str, Any] | None:
        rows = self._q("SELECT record FROM metrics ORDER BY id DESC LIMIT 1")
        return json.loads(rows[0][0]) if rows else None

    def add_event(self, kind: str, detail: dict[str, Any], *, ticker: str = "", ts_ms: int | None = None) -> None:
        with self.tx() as db:
            db.execute("INSERT INTO events (ts_ms, kind, ticker, detail) VALUES (?,?,?,?)",
                       (ts_ms if ts_ms is not None else _now_ms(), kind, ticker, json.dumps(detail, default=str)))

    def events(self, kind: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        sql, args = "SELECT id, ts_ms, kind, ticker, detail FROM events", list[Any]()
        if kind:
            sql += " WHERE kind=?"
            args.append(kind)
        rows = self._q(sql + " ORDER BY id DESC LIMIT ?", [*args, limit])
        return [{"id": r[0], "ts_ms": r[1], "kind": r[2], "ticker": r[3], "detail": json.loads(r[4])} for r in rows]


def _intent_row(r: tuple[Any, ...]) -> IntentRow:
    return IntentRow(client_order_id=r[0], created_ms=r[1], ticker=r[2], side=r[3], price=r[4], count=r[5],
                     time_in_force=r[6], post_only=bool(r[7]), reduce_only=bool(r[8]), strategy=r[9],
                     opportunity_id=r[10], status=r[11], order_id=r[12], detail=r[13])


def _now_ms() -> int:
    return time.time_ns() // 1_000_000
