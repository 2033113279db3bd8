"""The journal: kalashi's own durable record of what it intended, sent, and got back.

SQLite in WAL mode with ``synchronous=FULL`` so a committed row survives a crash or a
SIGKILL. One journal per trading mode by default (``journal-paper.sqlite``,
``journal-demo.sqlite``, ``journal-live.sqlite`` in the user data dir), so paper results can
never leak into a live account's numbers. ``--journal PATH`` overrides.

Tables::

    meta         key/value: mode, starting balance, trading state, halt reason, reconcile counters
                 (``schema_version=1`` in journals written before migrations: user_version rules)
    intents      every order intent, written BEFORE it is sent (client_order_id is the key)
    orders       the exchange's view of our orders (status, filled, remaining, fees)
    fills        every execution (fill_id is the key, so re-reading fills never double-counts)
    settlements  final results of markets we held
    markets      ticker → event, series, title, category, correlation group (for exposure), and
                 whether its event nets collateral (mutually exclusive, Kalshi's MECNET)
    iterations   one row per loop iteration (equity, counts, cache and API statistics); ts_ms is
                 the source's clock (sim time on the sim), started the wall clock
    records      order / fill / denied / health records as emitted (execution quality, the trade
                 journal view, heal's repairs on an attached dashboard)
    metrics      metrics snapshots
    events       corrections, halts, repairs and other things an operator should see
    marks        mids of held and traded markets, appended when they change: the last trustworthy
                 mark after a close, and the mid history markouts are computed from
    trades       one row per trade (an opportunity: the legs of a basket), with what it guarantees
    _migrations  the migrations run on this journal (version, name, when, which kalashi)

The journal owns its schema: :data:`MIGRATIONS` lists its migrations in order (the machinery
is :mod:`kalashi_cli.migrations`); opening it to write migrates it atomically, a journal newer
than this code is refused (exit 9), and a read-only open never creates or migrates one. Every
other module reads and writes it through :class:`Journal`'s methods, never with SQL of its own
(``tests/core/test_journal_migrations.py`` fails on SQL over these tables anywhere else).

Intent status moves through an explicit table; an illegal transition raises.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, NamedTuple

import orjson

from . import migrations
from .domain import ExchangeFill, ExchangeOrder, OrderIntent, OrderStatus, Settlement
from .errors import JournalError
from .money import Count, Money, Price

#: the journal's migrations, in order (see :mod:`kalashi_cli.migrations`): append, never edit
MIGRATIONS = migrations.Migrations(
    "journal",
    legacy_tables=(
        "meta",
        "intents",
        "orders",
        "fills",
        "settlements",
        "markets",
        "iterations",
        "records",
        "metrics",
        "events",
    ),
)


#: migration 1: the schema of release c22539d exactly, every statement ``IF NOT EXISTS`` (shipped: never edit)
_M001_INITIAL_SQL = """
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


@MIGRATIONS
def m001_initial(db: sqlite3.Connection) -> None:
    """The schema of release c22539d exactly (which wrote ``schema_version=1`` in meta, user_version 0).

    Every statement is ``IF NOT EXISTS``: on a journal from before migrations it changes nothing.
    """
    migrations.run_script(db, _M001_INITIAL_SQL)


@MIGRATIONS
def m002_marks_and_trades(db: sqlite3.Connection) -> None:
    """Durable marks and mid history, trade metadata, netting flags, exposure per iteration (issue 14).

    * ``marks``: the mid (and top of book) of markets the account holds or traded, appended when it
      changes — the last row of a ticker is its last trustworthy mark (valuation after the close),
      the rows are the mid history markouts are computed from;
    * ``trades``: one row per trade (an opportunity: every leg of a basket, its unwind), with what a
      basket guarantees, so a basket counts as one trade and its worst case, not its legs' costs;
    * ``markets.mutually_exclusive``: where Kalshi nets collateral (MECNET);
    * ``iterations.exposure`` and ``iterations.marked``: what open positions cost and how much of
      equity rests on marks, per iteration (exposure-weighted return; marked vs settled equity).
    """
    migrations.run_script(
        db,
        """
CREATE TABLE IF NOT EXISTS marks (
    ticker TEXT NOT NULL,
    ts_ms INTEGER NOT NULL,
    mid INTEGER NOT NULL,
    yes_bid INTEGER,
    yes_ask INTEGER,
    PRIMARY KEY (ticker, ts_ms)
);
CREATE TABLE IF NOT EXISTS trades (
    opportunity_id TEXT PRIMARY KEY,
    strategy TEXT NOT NULL,
    event_ticker TEXT NOT NULL DEFAULT '',
    legs INTEGER NOT NULL,
    payout INTEGER NOT NULL DEFAULT 0,
    as_of_ms INTEGER NOT NULL DEFAULT 0,
    created_ms INTEGER NOT NULL
);
ALTER TABLE markets ADD COLUMN mutually_exclusive INTEGER NOT NULL DEFAULT 0;
ALTER TABLE iterations ADD COLUMN exposure INTEGER NOT NULL DEFAULT 0;
ALTER TABLE iterations ADD COLUMN marked INTEGER NOT NULL DEFAULT 0;
""",
    )


@MIGRATIONS
def m003_intent_purpose(db: sqlite3.Connection) -> None:
    """Why an intent was sent (issue 17): ``purpose`` (``entry``, ``quote``, ``amend``, ``exit``, ``unwind``…;
    empty on older rows) and ``reason`` (an exit's rule and its numbers), so exits are journaled with
    their reason and metrics can count them per strategy and rule."""
    migrations.run_script(
        db,
        """
ALTER TABLE intents ADD COLUMN purpose TEXT NOT NULL DEFAULT '';
ALTER TABLE intents ADD COLUMN reason TEXT NOT NULL DEFAULT '';
""",
    )


#: the schema version this code writes (``PRAGMA user_version`` of an up-to-date journal)
SCHEMA_VERSION = MIGRATIONS.latest

#: the columns of ``iterations``, in the order :meth:`Journal.iterations` gives them
ITERATION_COLUMNS = (
    "n",
    "started",
    "ts_ms",
    "duration_ms",
    "markets",
    "opportunities",
    "candidates",
    "orders",
    "state",
    "equity",
    "cash",
    "cache_hits",
    "cache_misses",
    "api_calls",
    "source",
    "exposure",
    "marked",
)


class IntentStatus(StrEnum):
    """Where an order intent stands (the journal's ``intents.status`` stores the value)."""

    PENDING = "pending"
    UNKNOWN = "unknown"
    NEVER_SENT = "never_sent"
    ACKED = "acked"
    REJECTED = "rejected"


_I = IntentStatus
#: intent status → statuses it may move to. ``pending``: journaled, not yet known to be sent;
#: ``unknown``: sent, answer lost — the market is blocked until reconciliation decides.
INTENT_TRANSITIONS: dict[IntentStatus, frozenset[IntentStatus]] = {
    _I.PENDING: frozenset({_I.ACKED, _I.REJECTED, _I.UNKNOWN, _I.NEVER_SENT}),
    _I.UNKNOWN: frozenset({_I.ACKED, _I.NEVER_SENT, _I.UNKNOWN}),
    # resent with the same client_order_id; or it arrived late after all (reconciliation adopts it)
    _I.NEVER_SENT: frozenset({_I.PENDING, _I.ACKED}),
    _I.ACKED: frozenset(),
    # the exchange is the truth: a refused resend of an id whose earlier send did arrive
    # (its answer lost) is adopted when reconciliation finds the order
    _I.REJECTED: frozenset({_I.ACKED}),
}


@dataclass(frozen=True, slots=True)
class IntentRow:
    client_order_id: str
    ticker: str
    side: str
    price: Price
    count: Count
    time_in_force: str
    post_only: bool
    reduce_only: bool
    strategy: str
    opportunity_id: str
    status: IntentStatus
    order_id: str | None
    created_ms: int
    detail: str

    def to_intent(self) -> OrderIntent:
        return OrderIntent(
            client_order_id=self.client_order_id,
            ticker=self.ticker,
            side=self.side,  # type: ignore[arg-type]
            price=self.price,
            count=self.count,
            time_in_force=self.time_in_force,  # type: ignore[arg-type]
            post_only=self.post_only,
            reduce_only=self.reduce_only,
        )


class MarketInfo(NamedTuple):
    """What the journal remembers of a market (a tuple, so ``info[2]`` is still the title)."""

    event_ticker: str
    series_ticker: str
    title: str
    category: str
    group: str


@dataclass(frozen=True, slots=True)
class RecordRow:
    """One row of ``records``: a record as emitted, with when it was journaled."""

    id: int
    ts_ms: int
    kind: str
    record: dict[str, Any]


@dataclass(frozen=True, slots=True)
class TailPosition:
    """Where a reader tailing the journal has got to: the last row it has seen of each table."""

    record_id: int = 0
    metrics_id: int = 0
    iteration: int = 0


@dataclass(frozen=True, slots=True)
class JournalTail:
    """What the journal gained after a :class:`TailPosition`, read in one snapshot."""

    records: list[RecordRow]
    iterations: list[dict[str, Any]]
    metrics: list[dict[str, Any]]
    position: TailPosition


@dataclass(frozen=True, slots=True)
class MarkRow:
    """One row of ``marks``: a market's mid (and top of book, YES terms) when the loop last saw it change."""

    ticker: str
    ts_ms: int
    mid: Price
    yes_bid: Price | None = None
    yes_ask: Price | None = None


@dataclass(frozen=True, slots=True)
class TradeRow:
    """One row of ``trades``: a trade (an opportunity: every leg of a basket) as the executor began it."""

    opportunity_id: str
    strategy: str
    event_ticker: str
    legs: int
    payout: Price  # guaranteed payout per basket (price units; 0 when nothing is guaranteed)
    as_of_ms: int


class JournalUnreadable(JournalError):
    """SQLite cannot open or read the file as a database (damaged, not SQLite, a directory, no permission)."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(
            f"{path}: cannot open the journal ({reason})",
            hint="check the path, its permissions and free disk space, or pass --journal",
        )
        #: what SQLite said
        self.reason = reason


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

    from .files import tighten

    path = Path(user_data_dir("kalashi", appauthor=False))
    tighten(path)  # kalashi's own folder (an older version may have left it readable by others)
    return path


def _connect(target: str, *, uri: bool = False) -> sqlite3.Connection:
    db = sqlite3.connect(target, uri=uri, check_same_thread=False, isolation_level=None, timeout=10)
    db.row_factory = sqlite3.Row
    db.execute("PRAGMA busy_timeout=10000")
    return db


def _ro_uri(path: Path) -> str:
    from urllib.parse import quote

    return f"file:{quote(str(path))}?mode=ro"


def _where(table: str, **equal: str | None) -> tuple[str, list[str]]:
    """``SELECT * FROM table`` filtered by the columns given a value (the names are ours, never input)."""
    given = {k: v for k, v in equal.items() if v}
    sql = f"SELECT * FROM {table}" + (" WHERE " + " AND ".join(f"{k}=?" for k in given) if given else "")
    return sql, [v for v in given.values() if v]


def _upsert_order(db: sqlite3.Connection, o: ExchangeOrder, now: int) -> None:
    """Insert or update an order row (inside the caller's transaction)."""
    db.execute(
        "INSERT INTO orders (order_id, client_order_id, ticker, side, price, status, initial_count, fill_count, "
        "remaining_count, fees, time_in_force, created_ms, updated_ms) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?) "
        "ON CONFLICT(order_id) DO UPDATE SET status=excluded.status, fill_count=excluded.fill_count, "
        "remaining_count=excluded.remaining_count, fees=excluded.fees, updated_ms=excluded.updated_ms, "
        # an amend changes the price, the total and (renamed) the client_order_id; a listing
        # without a client_order_id never erases the one we know
        "price=excluded.price, initial_count=excluded.initial_count, "
        "client_order_id=COALESCE(NULLIF(excluded.client_order_id, ''), orders.client_order_id)",
        (
            o.order_id,
            o.client_order_id,
            o.ticker,
            o.side,
            o.price,
            o.status,
            o.initial_count,
            o.fill_count,
            o.remaining_count,
            o.taker_fees + o.maker_fees,
            o.time_in_force,
            o.created_ts_ms or now,
            now,
        ),
    )


def _insert_fills(db: sqlite3.Connection, fills: Sequence[ExchangeFill], strategy: str, source: str) -> int:
    """Insert fills not journaled yet (inside the caller's transaction); return how many were new."""
    new = 0
    for f in fills:
        cur = db.execute(
            "INSERT OR IGNORE INTO fills (fill_id, order_id, client_order_id, ticker, side, price, count, fee, "
            "is_taker, ts_ms, strategy, source) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                f.fill_id,
                f.order_id,
                f.client_order_id,
                f.ticker,
                f.side,
                f.price,
                f.count,
                f.fee,
                int(f.is_taker),
                f.ts_ms,
                strategy,
                source,
            ),
        )
        new += cur.rowcount
    return new


class _Connection:
    """The journal's one SQLite connection and its lock: transactions, consistent reads, queries.

    The base of :class:`Journal` and of its table groups (:class:`_Intents`, :class:`_Ledger`,
    :class:`_Markets`, :class:`_History`). The groups are bases of ``Journal`` rather than components
    because they hold no state of their own: each is the queries over some of the tables, run on this
    one connection under this one lock, and every caller reaches them as ``journal.<method>``.
    """

    path: Path
    readonly: bool
    _db: sqlite3.Connection

    def __init__(self) -> None:
        self._lock = threading.RLock()

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """Run statements in one transaction (committed durably on exit)."""
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                yield self._db
                self._db.execute("COMMIT")
            except sqlite3.Error as e:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                hint = (
                    "it was opened read-only"
                    if self.readonly
                    else "check free disk space and that no other program locks the file"
                )
                raise JournalError(f"{self.path}: write failed ({e})", hint=hint) from None
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise

    @contextmanager
    def _snapshot(self) -> Iterator[None]:
        """Read several statements from one consistent state of the journal (a writer may be busy)."""
        with self._lock:
            try:
                self._db.execute("BEGIN")
            except sqlite3.Error as e:
                raise JournalError(f"{self.path}: read failed ({e})") from None
            try:
                yield
            finally:
                if self._db.in_transaction:
                    self._db.execute("COMMIT")

    def _q(self, sql: str, args: Sequence[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            try:
                return self._db.execute(sql, args).fetchall()
            except sqlite3.Error as e:
                raise JournalError(f"{self.path}: read failed ({e})") from None

    def close(self) -> None:
        with self._lock:
            self._db.close()


class _Intents(_Connection):
    """The ``intents`` table: every order intent, journaled before it is sent, and its status moves."""

    def record_intent(
        self,
        intent: OrderIntent,
        *,
        strategy: str = "",
        opportunity_id: str = "",
        now_ms: int | None = None,
        purpose: str = "",
        reason: str = "",
    ) -> IntentRow | None:
        """Write an intent before it is sent. Return the existing row if this id was seen before.

        ``purpose`` says why it is sent (``entry``, ``quote``, ``amend``, ``exit`` …) and ``reason``
        the rule behind an exit.
        """
        now = now_ms if now_ms is not None else _now_ms()
        with self.tx() as db:
            row = db.execute("SELECT * FROM intents WHERE client_order_id=?", (intent.client_order_id,)).fetchone()
            if row is not None:
                return _intent_row(row)
            db.execute(
                "INSERT INTO intents (client_order_id, created_ms, ticker, side, price, count, time_in_force, "
                "post_only, reduce_only, strategy, opportunity_id, status, order_id, detail, updated_ms, purpose, "
                "reason) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    intent.client_order_id,
                    now,
                    intent.ticker,
                    intent.side,
                    intent.price,
                    intent.count,
                    intent.time_in_force,
                    int(intent.post_only),
                    int(intent.reduce_only),
                    strategy,
                    opportunity_id,
                    IntentStatus.PENDING,
                    None,
                    "",
                    now,
                    purpose,
                    reason,
                ),
            )
        return None

    def set_intent_status(
        self, client_order_id: str, status: IntentStatus, *, order_id: str | None = None, detail: str = ""
    ) -> None:
        """Move an intent to a new status (checked against the transition table).

        Raises:
            JournalError: the intent is unknown or the transition is illegal.
        """
        with self.tx() as db:
            row = db.execute("SELECT status FROM intents WHERE client_order_id=?", (client_order_id,)).fetchone()
            if row is None:
                raise JournalError(f"no intent with client_order_id {client_order_id}")
            old = IntentStatus(row["status"])
            if status not in INTENT_TRANSITIONS.get(old, frozenset()):
                raise JournalError(f"illegal intent transition {old} → {status} for {client_order_id}")
            db.execute(
                "UPDATE intents SET status=?, order_id=COALESCE(?, order_id), detail=?, updated_ms=? "
                "WHERE client_order_id=?",
                (status, order_id, detail, _now_ms(), client_order_id),
            )

    def record_ack(
        self,
        client_order_id: str,
        order_id: str,
        order: ExchangeOrder | None,
        fills: Sequence[ExchangeFill],
        *,
        strategy: str = "",
    ) -> None:
        """Record a definite answer — status, the order and its fills — in one durable transaction."""
        now = _now_ms()
        with self.tx() as db:
            row = db.execute("SELECT status FROM intents WHERE client_order_id=?", (client_order_id,)).fetchone()
            if row is None:
                raise JournalError(f"no intent with client_order_id {client_order_id}")
            if IntentStatus.ACKED not in INTENT_TRANSITIONS.get(IntentStatus(row["status"]), frozenset()):
                raise JournalError(f"illegal intent transition {row['status']} → acked for {client_order_id}")
            db.execute(
                "UPDATE intents SET status='acked', order_id=?, updated_ms=? WHERE client_order_id=?",
                (order_id, now, client_order_id),
            )
            if order is not None:
                _upsert_order(db, order, now)
            _insert_fills(db, fills, strategy, "ack")

    def intent(self, client_order_id: str) -> IntentRow | None:
        rows = self._q("SELECT * FROM intents WHERE client_order_id=?", (client_order_id,))
        return _intent_row(rows[0]) if rows else None

    def intents(self, *, status: IntentStatus | None = None, ticker: str | None = None) -> list[IntentRow]:
        sql, args = _where("intents", status=status, ticker=ticker)
        return [_intent_row(r) for r in self._q(sql + " ORDER BY created_ms, client_order_id", args)]

    def intent_counts(self, purposes: Sequence[str]) -> dict[tuple[str, str, str], int]:
        """Count intents of these purposes: (purpose, strategy, rule) → how many (rule: an exit's rule, e.g.
        ``take-profit``, the start of its reason; empty for other purposes)."""
        if not purposes:
            return {}
        marks = ",".join("?" * len(purposes))
        out: dict[tuple[str, str, str], int] = {}
        for r in self._q(f"SELECT purpose, strategy, reason FROM intents WHERE purpose IN ({marks})", list(purposes)):
            rule = (r["reason"] or "").split(":", 1)[0].strip() if r["purpose"] == "exit" else ""
            key = (r["purpose"], r["strategy"], rule)
            out[key] = out.get(key, 0) + 1
        return out

    def superseded_intents(self) -> set[str]:
        """client_order_ids an amend replaced: an amended order carries the id of its latest acked intent
        (V2 amend's ``updated_client_order_id``), so the exchange no longer lists the earlier ones."""
        rows = self._q(
            "SELECT client_order_id, order_id FROM intents WHERE status='acked' AND order_id IS NOT NULL "
            "AND order_id IN (SELECT order_id FROM intents WHERE purpose='amend' AND status='acked') "
            "ORDER BY created_ms, rowid"
        )
        latest: dict[str, str] = {}
        every: set[str] = set()
        for r in rows:
            every.add(r["client_order_id"])
            latest[r["order_id"]] = r["client_order_id"]
        return every - set(latest.values())

    def blocked_tickers(self) -> set[str]:
        """Markets with an order whose outcome is unknown: no writes until reconciled."""
        return {
            r["ticker"] for r in self._q("SELECT DISTINCT ticker FROM intents WHERE status IN ('unknown','pending')")
        }


class _Ledger(_Connection):
    """What the ledger folds: ``orders``, ``fills`` and ``settlements`` as the exchange reported them."""

    def upsert_order(self, o: ExchangeOrder, *, now_ms: int | None = None) -> None:
        with self.tx() as db:
            _upsert_order(db, o, now_ms if now_ms is not None else _now_ms())

    def orders(self, *, status: OrderStatus | None = None, ticker: str | None = None) -> list[ExchangeOrder]:
        sql, args = _where("orders", status=status, ticker=ticker)
        return [
            ExchangeOrder(
                order_id=r["order_id"],
                client_order_id=r["client_order_id"],
                ticker=r["ticker"],
                side=r["side"],
                price=r["price"],
                status=OrderStatus(r["status"]),
                initial_count=r["initial_count"],
                fill_count=r["fill_count"],
                remaining_count=r["remaining_count"],
                taker_fees=r["fees"],
                created_ts_ms=r["created_ms"],
                time_in_force=r["time_in_force"],
            )
            for r in self._q(sql + " ORDER BY created_ms, order_id", args)
        ]

    def add_fills(self, fills: Sequence[ExchangeFill], *, strategy: str = "", source: str = "ack") -> int:
        """Record fills; already-known fill ids are ignored. Return how many were new."""
        if not fills:
            return 0
        with self.tx() as db:
            return _insert_fills(db, fills, strategy, source)

    def fills(self, *, ticker: str | None = None, since_ms: int | None = None) -> list[ExchangeFill]:
        sql, args = "SELECT * FROM fills WHERE 1=1", list[Any]()
        if ticker:
            sql += " AND ticker=?"
            args.append(ticker)
        if since_ms is not None:
            sql += " AND ts_ms>=?"
            args.append(since_ms)
        return [
            ExchangeFill(
                fill_id=r["fill_id"],
                order_id=r["order_id"],
                client_order_id=r["client_order_id"],
                ticker=r["ticker"],
                side=r["side"],
                price=r["price"],
                count=r["count"],
                fee=r["fee"],
                is_taker=bool(r["is_taker"]),
                ts_ms=r["ts_ms"],
            )
            for r in self._q(sql + " ORDER BY ts_ms, rowid", args)
        ]

    def fill_strategies(self) -> dict[str, str]:
        """Map fill_id → strategy (via the intent that caused it)."""
        rows = self._q(
            "SELECT f.fill_id AS fill_id, COALESCE(NULLIF(f.strategy,''), i.strategy, '') AS strategy "
            "FROM fills f LEFT JOIN intents i ON i.client_order_id = f.client_order_id"
        )
        return {r["fill_id"]: r["strategy"] for r in rows}

    def add_settlements(self, settlements: Sequence[Settlement]) -> int:
        new = 0
        with self.tx() as db:
            for s in settlements:
                cur = db.execute(
                    "INSERT OR IGNORE INTO settlements (ticker, event_ticker, result, value, settled_ms) "
                    "VALUES (?,?,?,?,?)",
                    (s.ticker, s.event_ticker, s.result, s.value, s.settled_ts_ms),
                )
                new += cur.rowcount
        return new

    def settlements(self) -> list[Settlement]:
        return [
            Settlement(
                ticker=r["ticker"],
                event_ticker=r["event_ticker"],
                result=r["result"],
                value=r["value"],
                settled_ts_ms=r["settled_ms"],
            )
            for r in self._q("SELECT * FROM settlements ORDER BY settled_ms, ticker")
        ]

    def held_tickers(self) -> set[str]:
        """Every market the account ever had a fill in."""
        return {r["ticker"] for r in self._q("SELECT DISTINCT ticker FROM fills")}

    def open_tickers(self) -> list[str]:
        """Markets where the fills leave a position that no settlement closed (the ledger's open positions)."""
        rows = self._q(
            "SELECT ticker, SUM(CASE WHEN side='bid' THEN count ELSE -count END) AS pos FROM fills "
            "WHERE ticker NOT IN (SELECT ticker FROM settlements) GROUP BY ticker ORDER BY ticker"
        )
        return [r["ticker"] for r in rows if r["pos"]]


class _Markets(_Connection):
    """What the journal knows of markets and trades: ``markets``, ``marks`` and ``trades``."""

    def remember_markets(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """Remember (ticker, event, series, title, category, group[, mutually_exclusive]) for exposure and display.

        Empty fields never overwrite known ones; a market once known to be in a mutually
        exclusive (MECNET) event stays so.
        """
        full = [(*r[:6], int(bool(r[6])) if len(r) > 6 else 0) for r in rows]
        with self.tx() as db:
            db.executemany(
                "INSERT INTO markets (ticker, event_ticker, series_ticker, title, category, grp, mutually_exclusive) "
                "VALUES (?,?,?,?,?,?,?) "
                "ON CONFLICT(ticker) DO UPDATE SET "
                "grp=CASE WHEN excluded.grp != '' THEN excluded.grp ELSE markets.grp END, "
                "title=CASE WHEN excluded.title != '' THEN excluded.title ELSE markets.title END, "
                "event_ticker=CASE WHEN markets.event_ticker = '' THEN excluded.event_ticker "
                "ELSE markets.event_ticker END, "
                "series_ticker=CASE WHEN markets.series_ticker = '' THEN excluded.series_ticker "
                "ELSE markets.series_ticker END, "
                "category=CASE WHEN markets.category = '' THEN excluded.category ELSE markets.category END, "
                "mutually_exclusive=MAX(markets.mutually_exclusive, excluded.mutually_exclusive)",
                full,
            )

    def market_meta(self) -> dict[str, MarketInfo]:
        """ticker → (event_ticker, series_ticker, title, category, group)."""
        return {
            r["ticker"]: MarketInfo(r["event_ticker"], r["series_ticker"], r["title"], r["category"], r["grp"])
            for r in self._q("SELECT * FROM markets")
        }

    def known_tickers(self, prefix: str = "") -> list[str]:
        return [
            r["ticker"]
            for r in self._q(
                "SELECT ticker FROM markets WHERE ticker LIKE ? ORDER BY ticker LIMIT 200", (prefix + "%",)
            )
        ]

    def netted_tickers(self) -> dict[str, str]:
        """ticker → event of markets in events where Kalshi nets collateral (mutually exclusive: MECNET)."""
        return {
            r["ticker"]: r["event_ticker"]
            for r in self._q("SELECT ticker, event_ticker FROM markets WHERE mutually_exclusive = 1")
        }

    # -- marks: the last trustworthy mark and the mid history ----------------------------
    def add_marks(self, marks: Sequence[MarkRow]) -> int:
        """Append marks whose mid or top of book differs from the ticker's last one; return how many were new."""
        if not marks:
            return 0
        last = self.last_marks([m.ticker for m in marks])
        new = [
            m
            for m in marks
            if (p := last.get(m.ticker)) is None or (p.mid, p.yes_bid, p.yes_ask) != (m.mid, m.yes_bid, m.yes_ask)
        ]
        if not new:
            return 0
        with self.tx() as db:
            db.executemany(
                "INSERT OR REPLACE INTO marks (ticker, ts_ms, mid, yes_bid, yes_ask) VALUES (?,?,?,?,?)",
                [(m.ticker, m.ts_ms, m.mid, m.yes_bid, m.yes_ask) for m in new],
            )
        return len(new)

    def last_marks(self, tickers: Sequence[str] | None = None) -> dict[str, MarkRow]:
        """The newest mark of each ticker (of ``tickers``, or all)."""
        sql = (
            "SELECT m.ticker AS ticker, m.ts_ms AS ts_ms, m.mid AS mid, m.yes_bid AS yes_bid, m.yes_ask AS yes_ask "
            "FROM marks m WHERE m.ts_ms = (SELECT MAX(ts_ms) FROM marks x WHERE x.ticker = m.ticker)"
        )
        args: list[Any] = []
        if tickers is not None:
            wanted = sorted(set(tickers))
            if not wanted:
                return {}
            sql += f" AND m.ticker IN ({', '.join('?' for _ in wanted)})"
            args = list(wanted)
        return {r["ticker"]: _mark_row(r) for r in self._q(sql, args)}

    def mid_history(self, tickers: Sequence[str] | None = None) -> dict[str, list[MarkRow]]:
        """Every mark of each ticker (of ``tickers``, or all), oldest first."""
        sql, args = "SELECT ticker, ts_ms, mid, yes_bid, yes_ask FROM marks", list[Any]()
        if tickers is not None:
            wanted = sorted(set(tickers))
            if not wanted:
                return {}
            sql += f" WHERE ticker IN ({', '.join('?' for _ in wanted)})"
            args = list(wanted)
        out: dict[str, list[MarkRow]] = {}
        for r in self._q(sql + " ORDER BY ticker, ts_ms", args):
            out.setdefault(r["ticker"], []).append(_mark_row(r))
        return out

    # -- trades: the legs of one opportunity are one trade -------------------------------
    def record_trade(self, t: TradeRow, *, now_ms: int | None = None) -> None:
        """Remember a trade the executor begins (once: the first time wins)."""
        with self.tx() as db:
            db.execute(
                "INSERT OR IGNORE INTO trades (opportunity_id, strategy, event_ticker, legs, payout, as_of_ms, "
                "created_ms) VALUES (?,?,?,?,?,?,?)",
                (
                    t.opportunity_id,
                    t.strategy,
                    t.event_ticker,
                    t.legs,
                    t.payout,
                    t.as_of_ms,
                    now_ms if now_ms is not None else _now_ms(),
                ),
            )

    def trades(self) -> dict[str, TradeRow]:
        return {
            r["opportunity_id"]: TradeRow(
                r["opportunity_id"], r["strategy"], r["event_ticker"], r["legs"], r["payout"], r["as_of_ms"]
            )
            for r in self._q("SELECT * FROM trades")
        }

    def fill_trades(self) -> dict[str, tuple[str, str]]:
        """Map fill_id → (trade id, strategy): the opportunity of the intent that caused it.

        A fill no intent explains (adopted by reconciliation, an order placed outside kalashi) is
        its own trade, named after its order.
        """
        rows = self._q(
            "SELECT f.fill_id AS fill_id, f.order_id AS order_id, "
            "COALESCE(NULLIF(i.opportunity_id, ''), 'order:' || f.order_id) AS trade, "
            "COALESCE(NULLIF(f.strategy,''), i.strategy, '') AS strategy "
            "FROM fills f LEFT JOIN intents i ON i.client_order_id = f.client_order_id"
        )
        return {r["fill_id"]: (r["trade"], r["strategy"]) for r in rows}


class _History(_Connection):
    """The read models of a run: ``iterations``, ``records``, ``metrics`` and ``events``, and tailing them."""

    def add_iteration(self, row: dict[str, Any]) -> None:
        values = {"cache_hits": 0, "cache_misses": 0, "api_calls": 0, "source": "", "exposure": 0, "marked": 0} | row
        with self.tx() as db:
            db.execute(
                f"INSERT OR REPLACE INTO iterations ({', '.join(ITERATION_COLUMNS)}) "
                f"VALUES ({', '.join(':' + c for c in ITERATION_COLUMNS)})",
                {c: values[c] for c in ITERATION_COLUMNS},
            )

    def last_iteration(self) -> int:
        rows = self._q("SELECT MAX(n) AS n FROM iterations")
        return int(rows[0]["n"]) if rows and rows[0]["n"] is not None else 0

    def equity_history(self, day_start_ms: int) -> tuple[int | None, int | None, int | None]:
        """(peak equity, equity of the first iteration at or after ``day_start_ms``, last equity) over every
        iteration — what the portfolio needs, without reading every row (None: no such iteration)."""
        peak = self._q("SELECT MAX(equity) AS e FROM iterations")[0]["e"]
        day = self._q("SELECT equity FROM iterations WHERE ts_ms >= ? ORDER BY n LIMIT 1", [day_start_ms])
        last = self._q("SELECT equity FROM iterations ORDER BY n DESC LIMIT 1")
        return peak, (day[0]["equity"] if day else None), (last[0]["equity"] if last else None)

    def iterations(self, limit: int | None = None, *, after: int | None = None) -> list[dict[str, Any]]:
        """Iteration rows as dicts (:data:`ITERATION_COLUMNS`), oldest first: the last ``limit``, or those after n=``after``."""
        cols = ", ".join(ITERATION_COLUMNS)
        if after is not None:
            sql, args = f"SELECT {cols} FROM iterations WHERE n > ? ORDER BY n", [after]
        elif limit:
            sql, args = (
                f"SELECT {cols} FROM (SELECT * FROM iterations ORDER BY n DESC LIMIT ?) ORDER BY n",
                [int(limit)],
            )
        else:
            sql, args = f"SELECT {cols} FROM iterations ORDER BY n", []
        return [dict(r) for r in self._q(sql, args)]

    def add_records(self, records: Sequence[dict[str, Any]], ts_ms: int | None = None) -> None:
        """Keep emitted order/fill/denied records (for execution statistics and the journal view)."""
        now = ts_ms if ts_ms is not None else _now_ms()
        with self.tx() as db:
            db.executemany(
                "INSERT INTO records (ts_ms, kind, record) VALUES (?,?,?)",
                [(now, r["kind"], _dumps(r)) for r in records],
            )

    def records(
        self, kind: str | None = None, limit: int | None = None, newest_first: bool = False
    ) -> list[dict[str, Any]]:
        return [r.record for r in self.record_rows((kind,) if kind else None, limit=limit, newest_first=newest_first)]

    def record_rows(
        self,
        kinds: Sequence[str] | None = None,
        *,
        limit: int | None = None,
        newest_first: bool = False,
        after_id: int | None = None,
    ) -> list[RecordRow]:
        """Rows of ``records`` (of ``kinds``, after ``after_id``), in the order they were journaled."""
        sql, args = "SELECT id, ts_ms, kind, record FROM records WHERE 1=1", list[Any]()
        if kinds:
            sql += f" AND kind IN ({', '.join('?' for _ in kinds)})"
            args.extend(kinds)
        if after_id is not None:
            sql += " AND id > ?"
            args.append(after_id)
        sql += " ORDER BY id DESC" if newest_first else " ORDER BY id"
        if limit:
            sql += " LIMIT ?"
            args.append(int(limit))
        return [_record_row(r) for r in self._q(sql, args)]

    def latest_health(self, name: str) -> RecordRow | None:
        """The newest ``health`` record named ``name`` journaled (heal journals its ``repairs`` and ``heal`` rows)."""
        rows = self._q(
            "SELECT id, ts_ms, kind, record FROM records WHERE kind='health' "
            "AND json_extract(record, '$.name') = ? ORDER BY id DESC LIMIT 1",
            (name,),
        )
        return _record_row(rows[0]) if rows else None

    def add_metrics(self, record: dict[str, Any], ts_ms: int | None = None) -> None:
        with self.tx() as db:
            db.execute(
                "INSERT INTO metrics (ts_ms, record) VALUES (?, ?)",
                (ts_ms if ts_ms is not None else _now_ms(), _dumps(record)),
            )

    def latest_metrics(self) -> dict[str, Any] | None:
        rows = self._q("SELECT record FROM metrics ORDER BY id DESC LIMIT 1")
        return orjson.loads(rows[0]["record"]) if rows else None

    def add_event(self, kind: str, detail: dict[str, Any], *, ticker: str = "", ts_ms: int | None = None) -> None:
        with self.tx() as db:
            db.execute(
                "INSERT INTO events (ts_ms, kind, ticker, detail) VALUES (?,?,?,?)",
                (ts_ms if ts_ms is not None else _now_ms(), kind, ticker, _dumps(detail, default=str)),
            )

    def events(self, kind: str | None = None, limit: int = 100, *, since_ms: int | None = None) -> list[dict[str, Any]]:
        """Events, newest first (at most ``limit``; of ``kind``; journaled at or after ``since_ms``)."""
        sql, args = "SELECT id, ts_ms, kind, ticker, detail FROM events WHERE 1=1", list[Any]()
        if kind:
            sql += " AND kind=?"
            args.append(kind)
        if since_ms is not None:
            sql += " AND ts_ms >= ?"
            args.append(since_ms)
        rows = self._q(sql + " ORDER BY id DESC LIMIT ?", [*args, limit])
        return [
            {
                "id": r["id"],
                "ts_ms": r["ts_ms"],
                "kind": r["kind"],
                "ticker": r["ticker"],
                "detail": orjson.loads(r["detail"]),
            }
            for r in rows
        ]

    # -- tailing (serve-bridge --attach) ------------------------------------------------
    def tail_position(self) -> TailPosition:
        """Where the journal ends now: a reader tailing it from here sees only what comes after."""
        with self._snapshot():
            rec = self._q("SELECT COALESCE(MAX(id), 0) AS id FROM records")[0]["id"]
            met = self._q("SELECT COALESCE(MAX(id), 0) AS id FROM metrics")[0]["id"]
            n = self.last_iteration()
        return TailPosition(record_id=int(rec), metrics_id=int(met), iteration=n)

    def read_since(self, pos: TailPosition) -> JournalTail:
        """Records, iterations and metrics journaled after ``pos``, read from one consistent state."""
        with self._snapshot():
            recs = self.record_rows(after_id=pos.record_id)
            iters = self.iterations(after=pos.iteration)
            metrics = self._q("SELECT id, record FROM metrics WHERE id > ? ORDER BY id", (pos.metrics_id,))
        new = TailPosition(
            record_id=recs[-1].id if recs else pos.record_id,
            metrics_id=int(metrics[-1]["id"]) if metrics else pos.metrics_id,
            iteration=int(iters[-1]["n"]) if iters else pos.iteration,
        )
        return JournalTail(
            records=recs, iterations=iters, metrics=[orjson.loads(r["record"]) for r in metrics], position=new
        )


class Journal(_Intents, _Ledger, _Markets, _History):
    """One SQLite journal. Thread-safe for the loop + a bridge reader (one lock, short holds).

    Opening it to write (the default) creates it, or migrates it to :data:`SCHEMA_VERSION` in one
    transaction. ``readonly=True`` never creates or migrates: it reads a journal of this
    version (or one from before migrations, laid out as version 1 while that is the latest),
    reads a missing file or one with no tables yet as an empty journal (:attr:`blank`, kept in
    memory), and refuses an older version with a hint to run any trading command once. Both
    refuse a journal newer than this code (:class:`~kalashi_cli.migrations.StoreTooNew`, exit 9)
    without touching it.
    """

    def __init__(self, path: str | Path, *, mode: str = "paper", readonly: bool = False, durable: bool = True) -> None:
        self.path = Path(path)
        self.mode = mode
        self.readonly = readonly
        #: ``synchronous=FULL`` (every commit survives a power cut); False only for throwaway journals
        #: (a backtest's, which is rebuilt by running it again): commits are not flushed to disk
        self.durable = durable
        #: a read-only open found no journal yet (no file, or no tables): it reads as empty
        self.blank = False
        #: the names of the migrations this open ran (empty when it was up to date)
        self.migrated: list[str] = []
        super().__init__()
        try:
            self._db = self._open_reader() if readonly else self._open_writer()
        except OSError as e:  # its folder cannot be created
            raise JournalError(
                f"{self.path}: cannot create the journal ({e.strerror or e})",
                hint="pass --journal PATH in a folder you can write, or set KALASHI_HOME",
            ) from None
        except sqlite3.Error as e:
            raise JournalUnreadable(self.path, str(e)) from None
        if not readonly:
            self._init_meta()

    @classmethod
    def for_reading(cls, path: str | Path, *, mode: str) -> Journal:
        """Open a mode's journal to read it, never creating or migrating it (a missing one reads as empty).

        Raises:
            JournalError: it is another mode's journal, newer than this kalashi, older than it
                reads without migrating, or not readable (names the path and what to do).
        """
        jr = cls(path, mode=mode, readonly=True)
        stored = jr.get_meta("mode")
        if stored != mode:
            jr.close()
            raise JournalError(
                f"{jr.path} is a {stored} journal, not {mode}",
                hint=f"use the {stored} mode with it, or pass a different --journal",
            )
        return jr

    def _open_writer(self) -> sqlite3.Connection:
        from .files import create_private

        create_private(self.path)  # 0600 in a 0700 folder; SQLite gives -wal/-shm the same mode
        db = _connect(str(self.path))
        try:
            migrations.inspect(db, MIGRATIONS, self.path)  # refuse a newer journal before changing anything
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL" if self.durable else "PRAGMA synchronous=OFF")
            self.migrated = migrations.migrate(db, MIGRATIONS, self.path)
        except BaseException:
            db.close()
            raise
        return db

    def _open_reader(self) -> sqlite3.Connection:
        if not self.path.exists():  # nothing to read yet, and a reader never creates a journal
            self.blank = True
            return self._empty()
        db = _connect(_ro_uri(self.path), uri=True)
        try:
            found = migrations.inspect(db, MIGRATIONS, self.path)
            if found.blank:  # a journal being created: nothing to read yet
                db.close()
                self.blank = True
                return self._empty()
            mode = db.execute("SELECT value FROM meta WHERE key='mode'").fetchone() if "meta" in found.tables else None
            flag = f"--{mode['value']}" if mode is not None else "--paper"
            migrations.check_readable(
                found,
                MIGRATIONS,
                self.path,
                hint=(
                    f"run any trading command on it once to migrate it (e.g. `kalashi reconcile {flag} --journal "
                    f"{self.path}`), then run this again"
                ),
            )
        except BaseException:
            db.close()
            raise
        return db

    def _empty(self) -> sqlite3.Connection:
        """An empty journal in memory: what a read-only open of a journal not created yet reads."""
        db = _connect(":memory:")
        migrations.migrate(db, MIGRATIONS, self.path)
        db.execute("INSERT INTO meta (key, value) VALUES ('mode', ?), ('trading_state', 'ACTIVE')", (self.mode,))
        return db

    def schema_version(self) -> int:
        """The journal's schema version (``PRAGMA user_version``; 0 for one from before migrations)."""
        return int(self._q("PRAGMA user_version")[0][0])

    def applied_migrations(self) -> list[tuple[int, str]]:
        """(version, name) of every migration run on this journal, oldest first."""
        if not self._q("SELECT name FROM sqlite_master WHERE type='table' AND name=?", (migrations.MIGRATIONS_TABLE,)):
            return []
        return [
            (int(r["version"]), str(r["name"]))
            for r in self._q(f"SELECT version, name FROM {migrations.MIGRATIONS_TABLE} ORDER BY version")
        ]

    def _init_meta(self) -> None:
        with self.tx() as db:
            db.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('mode', ?)", (self.mode,))
            db.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('trading_state', 'ACTIVE')")
        stored = self.get_meta("mode")
        if stored != self.mode:
            raise JournalError(
                f"{self.path} is a {stored} journal, not {self.mode}",
                hint=f"use the {stored} mode with it, or pass a different --journal",
            )

    def get_meta(self, key: str, default: str | None = None) -> str | None:
        rows = self._q("SELECT value FROM meta WHERE key=?", (key,))
        return str(rows[0]["value"]) if rows else default

    def set_meta(self, key: str, value: str) -> None:
        with self.tx() as db:
            db.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                (key, value),
            )

    # -- risk limits tightened at run time (by an agent, over MCP): kept across restarts -------
    def tightened_limits(self) -> dict[str, Any]:
        """Return the risk limits tightened at run time, ``{limit: value}`` (values as JSON: str/int/bool)."""
        v = self.get_meta("tightened_limits")
        return dict(orjson.loads(v)) if v else {}

    def set_tightened_limits(self, limits: dict[str, Any]) -> None:
        """Store the risk limits tightened at run time (replacing what was stored)."""
        self.set_meta("tightened_limits", orjson.dumps(limits, option=orjson.OPT_SORT_KEYS).decode())

    def clear_tightened_limits(self) -> None:
        """Forget the limits tightened at run time (``kalashi resume --confirm --clear-limits``)."""
        with self.tx() as db:
            db.execute("DELETE FROM meta WHERE key='tightened_limits'")

    def integrity_ok(self, *, quick: bool = False, max_age_s: float = 0.0) -> tuple[bool, str]:
        """Run SQLite's integrity check; return (ok, detail).

        ``quick`` runs ``quick_check`` (no index cross-checks); ``max_age_s`` reuses a result
        younger than that (the dashboard asks on every state, heal runs the full check).
        """
        now = time.monotonic()
        cached: tuple[float, tuple[bool, str]] | None = getattr(self, "_integrity", None)
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
        until then ``default`` is only a placeholder that is not stored. A read-only journal
        stores nothing.
        """
        v = self.get_meta("starting_balance")
        if v is None:
            if self.mode == "paper" and not self.readonly:
                self.set_meta("starting_balance", str(default))
            return default
        return Money(int(v))


def _intent_row(r: sqlite3.Row) -> IntentRow:
    return IntentRow(
        client_order_id=r["client_order_id"],
        created_ms=r["created_ms"],
        ticker=r["ticker"],
        side=r["side"],
        price=r["price"],
        count=r["count"],
        time_in_force=r["time_in_force"],
        post_only=bool(r["post_only"]),
        reduce_only=bool(r["reduce_only"]),
        strategy=r["strategy"],
        opportunity_id=r["opportunity_id"],
        status=IntentStatus(r["status"]),
        order_id=r["order_id"],
        detail=r["detail"],
    )


def _dumps(obj: Any, default: Any = None) -> str:
    """A journal row's JSON text: orjson, as every record kalashi writes (non-string keys as strings)."""
    return orjson.dumps(obj, default=default, option=orjson.OPT_NON_STR_KEYS).decode()


def _mark_row(r: sqlite3.Row) -> MarkRow:
    return MarkRow(
        ticker=r["ticker"], ts_ms=int(r["ts_ms"]), mid=Price(int(r["mid"])), yes_bid=r["yes_bid"], yes_ask=r["yes_ask"]
    )


def _record_row(r: sqlite3.Row) -> RecordRow:
    return RecordRow(id=int(r["id"]), ts_ms=int(r["ts_ms"]), kind=str(r["kind"]), record=orjson.loads(r["record"]))


# -- file-level probes (heal) -----------------------------------------------------------------


def refuse_newer(path: Path) -> None:
    """Refuse a journal that a newer kalashi migrated; anything else passes (missing, unreadable: checks say why).

    Raises:
        StoreTooNew: its schema version is above this code's (exit 9).
    """
    if not path.is_file():
        return
    try:
        db = _connect(_ro_uri(path), uri=True)
    except sqlite3.Error:
        return
    try:
        migrations.inspect(db, MIGRATIONS, path)
    except migrations.StoreTooNew:
        raise
    except (sqlite3.Error, JournalError):
        return
    finally:
        db.close()


def probe_write(path: Path, *, timeout_s: float = 5.0) -> float:
    """Take the journal's write lock, write a probe row and roll it back; return the seconds waited for the lock.

    Nothing persists and nothing is migrated: it proves the file could be written now.

    Raises:
        sqlite3.OperationalError: locked by another writer beyond ``timeout_s`` ("locked"/"busy"), or not writable.
        sqlite3.DatabaseError: the file is not a readable SQLite database.
    """
    t0 = time.perf_counter()
    db = sqlite3.connect(str(path), timeout=timeout_s, isolation_level=None)
    try:
        db.execute("BEGIN IMMEDIATE")  # the write lock: waits up to timeout_s for another writer
        waited = time.perf_counter() - t0
        db.execute(
            "INSERT INTO meta (key, value) VALUES ('heal_probe', ?) "
            "ON CONFLICT(key) DO UPDATE SET value=excluded.value",
            (str(_now_ms()),),
        )
        db.execute("ROLLBACK")  # nothing persists: the probe proves we could write
    finally:
        db.close()
    return waited


def integrity_check(path: Path, *, quick: bool = False, timeout_s: float = 5.0) -> list[str]:
    """Run SQLite's ``integrity_check`` (``quick_check``) on the file, read-only; return its lines ("ok" alone when sound).

    Raises:
        sqlite3.DatabaseError: the file is not a readable SQLite database.
    """
    db = sqlite3.connect(_ro_uri(path), uri=True, timeout=timeout_s, isolation_level=None)
    try:
        return [str(r[0]) for r in db.execute("PRAGMA quick_check" if quick else "PRAGMA integrity_check")]
    finally:
        db.close()


def _now_ms() -> int:
    return time.time_ns() // 1_000_000
