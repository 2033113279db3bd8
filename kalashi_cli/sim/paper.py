"""The paper broker: a simulated exchange account that fills against the source's real books.

It is an exchange of its own, not a view of the journal: its orders, fills and settlements
live in a separate SQLite file (``<journal>.paper-exchange.sqlite``), so reconciliation,
crash recovery and duplicate detection are exercised on paper exactly as against Kalshi.
Balance and positions are folds over its fill ledger.

Fill model (v0; the matching engine replaces the internals, see docs/paper-fills.md):
taker orders walk the current book level by level (partial fills, IOC remainder cancelled,
FOK all-or-nothing), liquidity we took stays taken until the source moves on, fees by series
fee type; post-only orders that would cross are cancelled; resting orders fill only when the
market trades through their price; settlement pays $1 per winning contract.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from ..domain import (
    Balance,
    ExchangeFill,
    ExchangeOrder,
    Market,
    MarketPosition,
    OrderAck,
    OrderIntent,
    Settlement,
)
from ..errors import Conflict, JournalError, NotFound, OrderRejected
from ..ledger import fold
from ..money import ONE_DOLLAR, Count, Money, fee_for, on_grid
from ..ports import MarketSource, Mode, SourceEvents

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS orders (
    order_id TEXT PRIMARY KEY, client_order_id TEXT UNIQUE NOT NULL, ticker TEXT NOT NULL, side TEXT NOT NULL,
    price INTEGER NOT NULL, status TEXT NOT NULL, initial_count INTEGER NOT NULL, fill_count INTEGER NOT NULL,
    remaining_count INTEGER NOT NULL, time_in_force TEXT NOT NULL, expiration_ts INTEGER, created_ms INTEGER NOT NULL,
    queue_ahead INTEGER NOT NULL DEFAULT 0, fees INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS fills (
    fill_id TEXT PRIMARY KEY, order_id TEXT NOT NULL, client_order_id TEXT NOT NULL, ticker TEXT NOT NULL,
    side TEXT NOT NULL, price INTEGER NOT NULL, count INTEGER NOT NULL, fee INTEGER NOT NULL,
    is_taker INTEGER NOT NULL, ts_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS settlements (
    ticker TEXT PRIMARY KEY, event_ticker TEXT NOT NULL, result TEXT NOT NULL, value INTEGER,
    settled_ms INTEGER NOT NULL, yes_count INTEGER NOT NULL, no_count INTEGER NOT NULL, revenue INTEGER NOT NULL
);
"""


class PaperBroker:
    """A persistent paper account filling against a MarketSource's books."""

    mode: Mode = "paper"

    def __init__(self, source: MarketSource, path: str | Path, *, starting_balance: Money,
                 now_ms: Callable[[], int] | None = None) -> None:
        self.source = source
        self.path = Path(path)
        self._now = now_ms or source.now_ms
        self._lock = threading.RLock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False, timeout=10)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
            self._db.execute("INSERT OR IGNORE INTO meta VALUES ('starting_balance', ?)", (str(starting_balance),))
        except sqlite3.Error as e:
            raise JournalError(f"{self.path}: cannot open the paper exchange ({e})") from None
        self.starting_balance = int(self._db.execute(
            "SELECT value FROM meta WHERE key='starting_balance'").fetchone()[0])
        self._consumed: dict[tuple[str, str, int], Count] = {}
        self._consumed_at = -1
        self._seq = int(self._db.execute("SELECT COUNT(*) FROM fills").fetchone()[0])

    # -- reads -------------------------------------------------------------------------
    def _fills(self, ticker: str | None = None) -> list[ExchangeFill]:
        sql, args = "SELECT * FROM fills", []
        if ticker:
            sql += " WHERE ticker=?"
            args.append(ticker)
        rows = self._db.execute(sql + " ORDER BY ts_ms, rowid", args).fetchall()
        return [ExchangeFill(fill_id=r[0], order_id=r[1], client_order_id=r[2], ticker=r[3], side=r[4], price=r[5],
                             count=r[6], fee=r[7], is_taker=bool(r[8]), ts_ms=r[9]) for r in rows]

    def settlements(self) -> list[Settlement]:
        rows = self._db.execute("SELECT * FROM settlements ORDER BY settled_ms").fetchall()
        return [Settlement(ticker=r[0], event_ticker=r[1], result=r[2], value=r[3], settled_ts_ms=r[4],
                           yes_count=r[5], no_count=r[6], revenue=r[7]) for r in rows]

    def _ledger(self):  # noqa: ANN202 - LedgerState
        return fold(self.starting_balance, self._fills(), self.settlements())

    def fills(self, *, ticker: str | None = None, since_ms: int | None = None) -> list[ExchangeFill]:
        with self._lock:
            out = self._fills(ticker)
        return [f for f in out if since_ms is None or f.ts_ms >= since_ms]

    def orders(self, *, ticker: str | None = None, status: str | None = None) -> list[ExchangeOrder]:
        sql, args = "SELECT * FROM orders WHERE 1=1", []
        if ticker:
            sql += " AND ticker=?"
            args.append(ticker)
        if status:
            sql += " AND status=?"
            args.append(status)
        with self._lock:
            rows = self._db.execute(sql + " ORDER BY created_ms, rowid", args).fetchall()
        return [ExchangeOrder(order_id=r[0], client_order_id=r[1], ticker=r[2], side=r[3], price=r[4], status=r[5],
                              initial_count=r[6], fill_count=r[7], remaining_count=r[8], time_in_force=r[9],
                              created_ts_ms=r[11], taker_fees=r[13]) for r in rows]

    def positions(self) -> list[MarketPosition]:
        with self._lock:
            led = self._ledger()
        return [MarketPosition(p.ticker, p.position, p.cost, p.realized, p.fees) for p in led.open_positions()]

    def _reserved(self) -> Money:
        total = 0
        for o in self.orders(status="resting"):
            price = o.price if o.side == "bid" else ONE_DOLLAR - o.price
            total += price * o.remaining_count
        return total

    def balance(self) -> Balance:
        with self._lock:
            cash = self._ledger().cash - self._reserved()
        return Balance(balance=cash)

    def trading_active(self) -> bool:
        return True

    # -- writes ------------------------------------------------------------------------
    def _market(self, ticker: str) -> Market:
        m = self.source.books([ticker]).get(ticker)
        if m is None:
            raise NotFound(f"market {ticker} not found", status=404, code="market_not_found")
        return m

    def _fresh_step(self) -> None:
        now = self.source.now_ms()
        if now != self._consumed_at:
            self._consumed.clear()
            self._consumed_at = now

    def _opposite_levels(self, m: Market, side: str) -> list[tuple[int, Count, str]]:
        """Levels a taker on ``side`` can hit, best first, as (yes_price, size, maker_book_key)."""
        if side == "bid":  # buying YES hits NO bids (YES asks = 1 − NO bid)
            return [(ONE_DOLLAR - p, s, "no") for p, s in m.no_bids]
        return [(p, s, "yes") for p, s in m.yes_bids]

    def submit(self, intent: OrderIntent) -> OrderAck:
        with self._lock:
            return self._submit(intent)

    def _submit(self, it: OrderIntent) -> OrderAck:
        if self._db.execute("SELECT 1 FROM orders WHERE client_order_id=?", (it.client_order_id,)).fetchone():
            raise Conflict(f"client_order_id {it.client_order_id} was already used", status=409,
                           code="order_already_exists",
                           hint="the order already reached the exchange; reconcile instead of resending")
        m = self._market(it.ticker)
        if m.status != "active":
            raise OrderRejected(f"market {it.ticker} is {m.status}", status=400, code="market_inactive")
        if it.count <= 0:
            raise OrderRejected("count must be positive", status=400, code="invalid_order_size")
        if not on_grid(it.price, m.price_ranges):
            raise OrderRejected(f"price {it.price / ONE_DOLLAR:.4f} is not on {it.ticker}'s tick grid", status=400,
                                code="invalid_price")
        led = self._ledger()
        pos = led.positions.get(it.ticker)
        position = pos.position if pos else 0
        count = it.count
        if it.reduce_only:
            room = position if it.side == "ask" else -position
            count = min(count, max(0, room))
            if count <= 0:
                raise OrderRejected("reduce-only order would not reduce a position", status=400,
                                    code="invalid_order")
        pay_price = it.price if it.side == "bid" else ONE_DOLLAR - it.price
        closing = min(count, max(0, -position) if it.side == "bid" else max(0, position))
        need = pay_price * (count - closing) + fee_for(pay_price, count, fee_type=m.fee_type,
                                                       multiplier=m.fee_multiplier)
        if need > led.cash - self._reserved():
            raise OrderRejected("available balance too low for this order", status=400,
                                code="available_balance_too_low", hint="lower the size or add paper balance")
        self._fresh_step()
        levels = self._opposite_levels(m, it.side)
        crosses = [(p, s, k) for p, s, k in levels if (p <= it.price if it.side == "bid" else p >= it.price)]
        available = sum(max(0, s - self._consumed.get((it.ticker, k, p), 0)) for p, s, k in crosses)
        now = self._now()
        order_id = f"paper-{it.client_order_id[:8]}-{now}"
        if it.post_only and crosses and available > 0:
            self._store_order(order_id, it, "canceled", count, 0, now, 0, 0)
            return OrderAck(order_id, it.client_order_id, 0, 0, None, None, now, status="canceled")
        if it.time_in_force == "fill_or_kill" and available < count:
            self._store_order(order_id, it, "canceled", count, 0, now, 0, 0)
            return OrderAck(order_id, it.client_order_id, 0, 0, None, None, now, status="canceled")
        left = count
        fills: list[ExchangeFill] = []
        for p, s, k in crosses:
            if left <= 0:
                break
            key = (it.ticker, k, p)
            free = s - self._consumed.get(key, 0)
            if free <= 0:
                continue
            take = min(free, left)
            self._consumed[key] = self._consumed.get(key, 0) + take
            left -= take
            fee_price = p if it.side == "bid" else ONE_DOLLAR - p
            fee = fee_for(fee_price, take, fee_type=m.fee_type, multiplier=m.fee_multiplier)
            self._seq += 1
            fills.append(ExchangeFill(f"pf-{self._seq:09d}", order_id, it.ticker, it.side, p, take, fee, True, now,
                                      it.client_order_id))
        filled = count - left
        if left and it.time_in_force == "good_till_canceled" and not (it.expiration_ts and it.expiration_ts * 1000 <= now):
            status = "resting"
            own = m.yes_bids if it.side == "bid" else m.no_bids
            own_price = it.price if it.side == "bid" else ONE_DOLLAR - it.price
            queue = sum(s for p, s in own if p == own_price)
        else:
            status = "executed" if filled else "canceled"
            queue = 0
        fees = sum(f.fee for f in fills)
        self._store_order(order_id, it, status, count, filled, now, queue, fees)
        self._insert_fills(fills)
        avg = sum(f.price * f.count for f in fills) // filled if filled else None
        return OrderAck(order_id, it.client_order_id, filled, left if status == "resting" else 0, avg,
                        fees * 100 // filled if filled else None, now, status=status)  # type: ignore[arg-type]

    def _store_order(self, order_id: str, it: OrderIntent, status: str, count: Count, filled: Count, now: int,
                     queue: Count, fees: Money) -> None:
        remaining = count - filled if status == "resting" else 0
        self._db.execute("INSERT INTO orders VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                         (order_id, it.client_order_id, it.ticker, it.side, it.price, status, count, filled, remaining,
                          it.time_in_force, it.expiration_ts, now, queue, fees))

    def _insert_fills(self, fills: Sequence[ExchangeFill]) -> None:
        self._db.executemany("INSERT INTO fills VALUES (?,?,?,?,?,?,?,?,?,?)",
                             [(f.fill_id, f.order_id, f.client_order_id, f.ticker, f.side, f.price, f.count, f.fee,
                               int(f.is_taker), f.ts_ms) for f in fills])

    def cancel(self, order_id: str, ticker: str = "") -> Count:
        with self._lock:
            row = self._db.execute("SELECT status, remaining_count FROM orders WHERE order_id=?", (order_id,)).fetchone()
            if row is None:
                raise NotFound(f"order {order_id} not found", status=404, code="not_found")
            if row[0] != "resting":
                return 0
            self._db.execute("UPDATE orders SET status='canceled', remaining_count=0 WHERE order_id=?", (order_id,))
            return int(row[1])

    def cancel_all(self) -> int:
        with self._lock:
            cur = self._db.execute("UPDATE orders SET status='canceled', remaining_count=0 WHERE status='resting'")
            return cur.rowcount

    # -- market data ----------------------------------------------------------------------
    def on_market_data(self, markets: Sequence[Market], events: SourceEvents) -> list[ExchangeFill]:
        """Fill resting orders the market traded through, expire old ones, settle finished markets."""
        with self._lock:
            new: list[ExchangeFill] = []
            now = events.now_ms or self._now()
            fee_info = {m.ticker: (m.fee_type, m.fee_multiplier) for m in markets}
            by_ticker: dict[str, list] = {}
            for t in events.trades:
                by_ticker.setdefault(t.ticker, []).append(t)
            for o in self.orders(status="resting"):
                if o.ticker in {s.ticker for s in events.settlements}:
                    continue
                row = self._db.execute("SELECT queue_ahead, expiration_ts FROM orders WHERE order_id=?",
                                       (o.order_id,)).fetchone()
                queue, expiry = int(row[0]), row[1]
                if expiry and expiry * 1000 <= now:
                    self._db.execute("UPDATE orders SET status='canceled', remaining_count=0 WHERE order_id=?",
                                     (o.order_id,))
                    continue
                left = o.remaining_count
                got = 0
                for t in by_ticker.get(o.ticker, []):
                    if left <= 0:
                        break
                    # a resting bid is hit by sellers (taker ask) at or below its price
                    if o.side == "bid" and t.taker_side == "ask" and t.price <= o.price:
                        through = t.price < o.price
                    elif o.side == "ask" and t.taker_side == "bid" and t.price >= o.price:
                        through = t.price > o.price
                    else:
                        continue
                    volume = t.count
                    if not through:  # at our price, the queue ahead of us trades first
                        eaten = min(queue, volume)
                        queue -= eaten
                        volume -= eaten
                    take = min(left, volume)
                    if take > 0:
                        left -= take
                        got += take
                if got:
                    ft, mult = fee_info.get(o.ticker, ("quadratic", 10_000))
                    fee_price = o.price if o.side == "bid" else ONE_DOLLAR - o.price
                    fee = fee_for(fee_price, got, fee_type=ft, multiplier=mult, is_taker=False)
                    self._seq += 1
                    f = ExchangeFill(f"pf-{self._seq:09d}", o.order_id, o.ticker, o.side, o.price, got, fee, False,
                                     now, o.client_order_id)
                    self._insert_fills([f])
                    new.append(f)
                status = "executed" if left == 0 else "resting"
                self._db.execute("UPDATE orders SET status=?, remaining_count=?, fill_count=fill_count+?, "
                                 "queue_ahead=?, fees=fees+? WHERE order_id=?",
                                 (status, left, got, queue, new[-1].fee if got else 0, o.order_id))
            if events.settlements:
                self._settle(events.settlements)
            return new

    def _settle(self, settlements: Sequence[Settlement]) -> None:
        led = self._ledger()
        for s in settlements:
            self._db.execute("UPDATE orders SET status='canceled', remaining_count=0 WHERE ticker=? AND status='resting'",
                             (s.ticker,))
            pos = led.positions.get(s.ticker)
            if pos is None or pos.position == 0:
                continue
            value = s.value if s.value is not None else (ONE_DOLLAR if s.result == "yes" else 0)
            yes = max(0, pos.position)
            no = max(0, -pos.position)
            revenue = yes * value + no * (ONE_DOLLAR - value)
            self._db.execute("INSERT OR IGNORE INTO settlements VALUES (?,?,?,?,?,?,?,?)",
                             (s.ticker, s.event_ticker, s.result, value, s.settled_ts_ms, yes, no, revenue))

    def close(self) -> None:
        with self._lock:
            self._db.close()


def paper_exchange_path(journal_path: str | Path) -> Path:
    """Where the paper exchange keeps its state, beside the journal."""
    p = Path(journal_path)
    return p.with_name(p.name + ".paper-exchange.sqlite")
