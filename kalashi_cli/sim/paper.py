"""The paper broker: a simulated exchange account on the matching engine, fed by the source's books.

It is an exchange of its own, not a view of the journal: its orders, fills and settlements
live in a separate SQLite file (``<journal>.paper-exchange.sqlite``), so reconciliation,
crash recovery and duplicate detection are exercised on paper exactly as against Kalshi.
Balance and positions are folds over its fill ledger (the engine restores them on start).

Fills come from :class:`~kalashi_cli.sim.matching.MatchingEngine` (docs/paper-fills.md): taker
orders walk the book and the liquidity they take stays taken until the market redraws that
level; resting orders queue behind the size already at their price and fill only when public
trades reach them; an order arrives ``paper.latency_ms`` after the decision; fees by series.
Only markets the account touches are fed to the engine, so a 100 000-market scan costs it
nothing.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from pathlib import Path

from .. import migrations
from ..domain import (
    Balance,
    ExchangeFill,
    ExchangeOrder,
    Market,
    MarketPosition,
    OrderAck,
    OrderIntent,
    OrderStatus,
    Settlement,
)
from ..errors import JournalError, KalashiError, NotFound
from ..locks import AccountLock
from ..money import Count, Money, Price
from ..ports import MarketSource, Mode, OrderDesk, QueuePosition, SourceEvents
from .matching import EventLog, FillEvent, MatchingEngine, OrderUpdated, Settled

ACCOUNT = "paper"

#: the paper exchange's migrations, in order (the machinery is :mod:`kalashi_cli.migrations`): append, never edit
MIGRATIONS = migrations.Migrations("paper exchange", legacy_tables=("meta", "orders", "fills", "settlements"))


@MIGRATIONS
def m001_initial(db: sqlite3.Connection) -> None:
    """The schema of release c22539d exactly (user_version 0); every statement ``IF NOT EXISTS``."""
    migrations.run_script(
        db,
        """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS orders (
    order_id TEXT PRIMARY KEY, client_order_id TEXT NOT NULL, ticker TEXT NOT NULL, side TEXT NOT NULL,
    price INTEGER NOT NULL, status TEXT NOT NULL, initial_count INTEGER NOT NULL, fill_count INTEGER NOT NULL,
    remaining_count INTEGER NOT NULL, taker_fees INTEGER NOT NULL, maker_fees INTEGER NOT NULL,
    taker_fill_cost INTEGER NOT NULL, maker_fill_cost INTEGER NOT NULL, created_ms INTEGER NOT NULL,
    time_in_force TEXT NOT NULL, post_only INTEGER NOT NULL, reduce_only INTEGER NOT NULL, stp TEXT NOT NULL,
    expiration_ts INTEGER, cancel_on_pause INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS orders_coid ON orders(client_order_id);
CREATE TABLE IF NOT EXISTS fills (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, fill_id TEXT UNIQUE NOT NULL, order_id TEXT NOT NULL,
    client_order_id TEXT NOT NULL, ticker TEXT NOT NULL, side TEXT NOT NULL, price INTEGER NOT NULL,
    count INTEGER NOT NULL, fee INTEGER NOT NULL, is_taker INTEGER NOT NULL, ts_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS settlements (
    ticker TEXT PRIMARY KEY, event_ticker TEXT NOT NULL, result TEXT NOT NULL, value INTEGER,
    settled_ms INTEGER NOT NULL, yes_count INTEGER NOT NULL, no_count INTEGER NOT NULL, revenue INTEGER NOT NULL
);
""",
    )


class PaperBroker:
    """A persistent paper account on the matching engine, filling against a MarketSource's books."""

    mode: Mode = "paper"
    #: the source's books are the market without this account: its orders rest in the paper exchange
    books_include_own_orders = False

    def __init__(
        self,
        source: MarketSource,
        path: str | Path,
        *,
        starting_balance: Money,
        latency_ms: int = 0,
        now_ms: Callable[[], int] | None = None,
        durable: bool = True,
    ) -> None:
        self.source = source
        self.path = Path(path)
        self.durable = durable  # False: commits not flushed to disk (a backtest's throwaway exchange)
        self._now = now_ms or source.now_ms
        self._lock = threading.RLock()
        self._account_lock = AccountLock(self.path, f"the paper account {self.path}")
        try:
            self._db = self._open(starting_balance)
        except OSError as e:
            self._account_lock.release()
            raise JournalError(
                f"{self.path}: cannot create the paper exchange ({e.strerror or e})",
                hint="pass --journal PATH in a folder you can write, or set KALASHI_HOME",
            ) from None
        except sqlite3.Error as e:
            self._account_lock.release()
            raise JournalError(
                f"{self.path}: cannot open the paper exchange ({e})", hint="check the path and free disk space"
            ) from None
        except BaseException:
            self._account_lock.release()
            raise
        self.starting_balance = int(
            self._db.execute("SELECT value FROM meta WHERE key='starting_balance'").fetchone()["value"]
        )
        self.engine = MatchingEngine(now_ms=self._now(), latency_ms=latency_ms, id_prefix="p")
        self._log = EventLog()
        self._fed_at: dict[str, int] = {}  # ticker → source time of the book last fed to the engine
        self._intents: dict[str, OrderIntent] = {}  # client_order_id → the flags the order listing lacks
        self._restore()
        self.engine.subscribe(self._log)

    # -- persistence ------------------------------------------------------------------------
    def _open(self, starting_balance: Money) -> sqlite3.Connection:
        """Open (create, or migrate) the paper exchange's file; refuse one a newer kalashi wrote."""
        from ..files import create_private

        create_private(self.path)  # 0600 in a 0700 folder, like the journal
        db = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False, timeout=10)
        db.row_factory = sqlite3.Row
        try:
            migrations.inspect(db, MIGRATIONS, self.path)  # a newer one is refused before anything changes
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL" if self.durable else "PRAGMA synchronous=OFF")
            migrations.migrate(db, MIGRATIONS, self.path)
            db.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES ('starting_balance', ?)", (str(starting_balance),)
            )
        except BaseException:
            db.close()
            raise
        return db

    def _restore(self) -> None:
        fills = [
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
            for r in self._db.execute(
                "SELECT fill_id, order_id, client_order_id, ticker, side, price, count, "
                "fee, is_taker, ts_ms FROM fills ORDER BY seq"
            )
        ]
        settlements = [
            Settlement(
                ticker=r["ticker"],
                event_ticker=r["event_ticker"],
                result=r["result"],
                value=r["value"],
                settled_ts_ms=r["settled_ms"],
                yes_count=r["yes_count"],
                no_count=r["no_count"],
                revenue=r["revenue"],
            )
            for r in self._db.execute("SELECT * FROM settlements ORDER BY settled_ms")
        ]
        orders = []
        rows = self._db.execute("SELECT * FROM orders ORDER BY created_ms, rowid").fetchall()
        tickers = sorted({r["ticker"] for r in rows} | {f.ticker for f in fills})
        live = self.source.books(tickers) if tickers else {}
        for m in live.values():
            self._feed(m)
        for r in rows:
            eo = ExchangeOrder(
                order_id=r["order_id"],
                client_order_id=r["client_order_id"],
                ticker=r["ticker"],
                side=r["side"],
                price=r["price"],
                status=OrderStatus(r["status"]),
                initial_count=r["initial_count"],
                fill_count=r["fill_count"],
                remaining_count=r["remaining_count"],
                taker_fees=r["taker_fees"],
                maker_fees=r["maker_fees"],
                taker_fill_cost=r["taker_fill_cost"],
                maker_fill_cost=r["maker_fill_cost"],
                created_ts_ms=r["created_ms"],
                time_in_force=r["time_in_force"],
            )
            if eo.status == OrderStatus.RESTING and eo.ticker not in live:
                # its market is gone from the source (closed, settled): it cannot rest any more
                eo = replace(eo, status=OrderStatus.CANCELED, remaining_count=Count(0))
                self._write_order(eo, None)
            intent = OrderIntent(
                eo.client_order_id,
                eo.ticker,
                eo.side,
                eo.price,
                eo.initial_count,
                time_in_force=r["time_in_force"],
                post_only=bool(r["post_only"]),
                reduce_only=bool(r["reduce_only"]),
                self_trade_prevention_type=r["stp"],
                expiration_ts=r["expiration_ts"],
                cancel_order_on_pause=bool(r["cancel_on_pause"]),
            )
            orders.append((intent, eo))
        self.engine.restore_account(
            ACCOUNT, deposits=Money(self.starting_balance), fills=fills, settlements=settlements, orders=orders
        )
        self._intents.update({i.client_order_id: i for i, _ in orders if i is not None})

    def _write_order(self, o: ExchangeOrder, intent: OrderIntent | None) -> None:
        it = intent or self._intents.get(o.client_order_id)
        self._db.execute(
            "INSERT INTO orders (order_id, client_order_id, ticker, side, price, status, initial_count, fill_count, "
            "remaining_count, taker_fees, maker_fees, taker_fill_cost, maker_fill_cost, created_ms, time_in_force, "
            "post_only, reduce_only, stp, expiration_ts, cancel_on_pause) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(order_id) DO UPDATE SET "
            # price, total and client_order_id change only by an amend
            "client_order_id=excluded.client_order_id, price=excluded.price, initial_count=excluded.initial_count, "
            "status=excluded.status, fill_count=excluded.fill_count, remaining_count=excluded.remaining_count, "
            "taker_fees=excluded.taker_fees, maker_fees=excluded.maker_fees, "
            "taker_fill_cost=excluded.taker_fill_cost, maker_fill_cost=excluded.maker_fill_cost",
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
                o.taker_fees,
                o.maker_fees,
                o.taker_fill_cost,
                o.maker_fill_cost,
                o.created_ts_ms,
                it.time_in_force if it else o.time_in_force,
                int(it.post_only) if it else 0,
                int(it.reduce_only) if it else 0,
                it.self_trade_prevention_type if it else "taker_at_cross",
                it.expiration_ts if it else None,
                int(it.cancel_order_on_pause) if it else 0,
            ),
        )

    def _persist(self) -> list[ExchangeFill]:
        """Write what the engine did since the last call, in one durable transaction; return new fills."""
        events = self._log.drain()
        fills: list[ExchangeFill] = []
        orders: dict[str, ExchangeOrder] = {}
        settled: list[Settlement] = []
        for ev in events:
            if isinstance(ev, FillEvent) and ev.account_id == ACCOUNT:
                fills.append(ev.fill)
            elif isinstance(ev, OrderUpdated) and ev.account_id == ACCOUNT:
                orders[ev.order.order_id] = ev.order
            elif isinstance(ev, Settled) and ev.account_id == ACCOUNT:
                settled.append(ev.settlement)
        if not (fills or orders or settled):
            return []
        try:
            self._db.execute("BEGIN IMMEDIATE")
            for o in orders.values():
                self._write_order(o, None)
            self._db.executemany(
                "INSERT OR IGNORE INTO fills (fill_id, order_id, client_order_id, ticker, side, price, count, fee, "
                "is_taker, ts_ms) VALUES (?,?,?,?,?,?,?,?,?,?)",
                [
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
                    )
                    for f in fills
                ],
            )
            self._db.executemany(
                "INSERT OR IGNORE INTO settlements (ticker, event_ticker, result, value, settled_ms, "
                "yes_count, no_count, revenue) VALUES (?,?,?,?,?,?,?,?)",
                [
                    (s.ticker, s.event_ticker, s.result, s.value, s.settled_ts_ms, s.yes_count, s.no_count, s.revenue)
                    for s in settled
                ],
            )
            self._db.execute("COMMIT")
        except sqlite3.Error as e:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise JournalError(f"{self.path}: cannot record paper fills ({e})") from None
        return fills

    # -- market data ------------------------------------------------------------------------
    def _feed(self, m: Market) -> None:
        now = self._now()
        self.engine.apply_market(m, ts_ms=now)
        self._fed_at[m.ticker] = now

    def _ensure_fresh(self, tickers: Iterable[str]) -> None:
        """Give the engine the current book of each market before an order meets it."""
        now = self._now()
        stale = [t for t in tickers if self._fed_at.get(t) != now]
        if stale:
            for m in self.source.books(stale).values():
                self._feed(m)

    def _interest(self) -> set[str]:
        """Markets the account has orders or positions in."""
        held = {p.ticker for p in self.engine.positions(ACCOUNT) if p.position}
        return held | {o.ticker for o in self.engine.orders(ACCOUNT, status=OrderStatus.RESTING)}

    def on_market_data(self, markets: Sequence[Market], events: SourceEvents) -> list[ExchangeFill]:
        """Feed the engine the books, trades and settlements of the markets the account touches."""
        with self._lock:
            now = events.now_ms or self._now()
            interest = self._interest()
            if not interest:
                self.engine.advance_to(max(now, self.engine.now_ms))
                return self._persist()
            given = {m.ticker: m for m in markets if m.ticker in interest}
            missing = [t for t in interest if t not in given]
            if missing:
                given.update(self.source.books(missing))
            settled = {s.ticker: s for s in events.settlements if s.ticker in interest}
            for t in sorted(interest):
                if t in settled:
                    continue
                m = given.get(t)
                if m is not None:
                    self.engine.apply_market(m, ts_ms=now)
                    self._fed_at[t] = now
            for tr in sorted((t for t in events.trades if t.ticker in interest), key=lambda t: t.ts_ms):
                if tr.ticker not in settled:
                    self.engine.apply_trade(tr)
            for t, s in settled.items():
                self.engine.settle(t, s.result or "no", s.value)
            self.engine.advance_to(max(now, self.engine.now_ms))
            return self._persist()

    # -- orders ---------------------------------------------------------------------------------
    def submit(self, intent: OrderIntent) -> OrderAck:
        with self._lock:
            if not self.engine.has_market(intent.ticker) or self._fed_at.get(intent.ticker) != self._now():
                self._ensure_fresh([intent.ticker])
            if not self.engine.has_market(intent.ticker):
                raise NotFound(f"market {intent.ticker} not found", status=404, code="market_not_found")
            self._intents[intent.client_order_id] = intent
            try:
                return self.engine.submit(ACCOUNT, intent)
            finally:
                self._persist()  # whatever happened (fills, a rejection after arrival) is durable now

    def cancel(self, order_id: str, ticker: str = "") -> Count:
        with self._lock:
            try:
                return self.engine.cancel(ACCOUNT, order_id)
            finally:
                self._persist()

    def cancel_all(self) -> int:
        with self._lock:
            try:
                return len(self.engine.cancel_all(ACCOUNT))
            finally:
                self._persist()

    # -- managing resting orders (OrderDesk) ----------------------------------------------------
    def order(self, order_id: str) -> ExchangeOrder:
        with self._lock:
            return self.engine.order(ACCOUNT, order_id)

    def amend(self, order: ExchangeOrder, *, price: Price, count: Count, client_order_id: str) -> OrderAck:
        with self._lock:
            self._ensure_fresh([order.ticker])
            old = self._intents.get(order.client_order_id)
            if old is not None:
                self._intents[client_order_id] = replace(old, client_order_id=client_order_id, price=price, count=count)
            try:
                return self.engine.amend(
                    ACCOUNT,
                    order.order_id,
                    ticker=order.ticker,
                    side=order.side,
                    price=price,
                    count=count,
                    client_order_id=order.client_order_id or None,
                    updated_client_order_id=client_order_id,
                )
            finally:
                self._persist()

    def decrease(
        self, order: ExchangeOrder, *, reduce_by: Count | None = None, reduce_to: Count | None = None
    ) -> Count:
        with self._lock:
            try:
                return self.engine.decrease(ACCOUNT, order.order_id, reduce_by=reduce_by, reduce_to=reduce_to)
            finally:
                self._persist()

    def queue_positions(self, *, tickers: Sequence[str] | None = None) -> list[QueuePosition]:
        with self._lock:
            return [
                QueuePosition(q.order_id, q.ticker, q.ahead)
                for q in self.engine.queue_positions(ACCOUNT, tickers=list(tickers) if tickers else None)
            ]

    def batch_cancel(self, orders: Sequence[ExchangeOrder]) -> list[Count | KalashiError]:
        with self._lock:
            try:
                out: list[Count | KalashiError] = [*self.engine.batch_cancel(ACCOUNT, [o.order_id for o in orders])]
                return out
            finally:
                self._persist()

    def account_limits(self) -> None:
        return None  # the paper exchange has no API, hence no rate limits

    # -- reads ----------------------------------------------------------------------------------
    def orders(self, *, ticker: str | None = None, status: str | None = None) -> list[ExchangeOrder]:
        with self._lock:
            return self.engine.orders(ACCOUNT, ticker=ticker, status=status)

    def fills(self, *, ticker: str | None = None, since_ms: int | None = None) -> list[ExchangeFill]:
        with self._lock:
            return self.engine.fills(ACCOUNT, ticker=ticker, since_ms=since_ms)

    def positions(self) -> list[MarketPosition]:
        with self._lock:
            return [p for p in self.engine.positions(ACCOUNT) if p.position]

    def settlements(self) -> list[Settlement]:
        with self._lock:
            return self.engine.settlements(ACCOUNT)

    def balance(self) -> Balance:
        with self._lock:
            return self.engine.balance(ACCOUNT)

    def trading_active(self) -> bool:
        return True

    def close(self) -> None:
        with self._lock:
            self._persist()
            self._db.close()
            self._account_lock.release()


def paper_exchange_path(journal_path: str | Path) -> Path:
    """Where the paper exchange keeps its state, beside the journal."""
    p = Path(journal_path)
    return p.with_name(p.name + ".paper-exchange.sqlite")


def _desk(broker: PaperBroker) -> OrderDesk:  # mypy checks the order-desk protocol here
    return broker
