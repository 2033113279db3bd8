"""The state every endpoint shares: engine, market driver, clock, accounts, tape, caches, ids.

:class:`ExchangeCore` owns the matching engine and the market driver, the market clock, the
accounts (one per registered API key), the public tape and the candle store, and the caches
of combined books and market objects. It subscribes to the engine's events and forwards them
to a :class:`Listener` (the WebSocket hub). The endpoint resources (:mod:`.market_data`,
:mod:`.candle_api`, :mod:`.historical`, :mod:`.portfolio`, :mod:`.orders`) read and write
through it; :class:`~.exchange.SimExchange` puts them together. Everything runs on one asyncio
loop thread, so no locks are needed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Protocol

from ...domain import ExchangeFill, ExchangeOrder, Market, MarketPosition, OrderAck, OrderIntent, OrderStatus, Trade
from ...errors import UsageError
from ...money import MONEY_SCALE, ONE_DOLLAR, Count, Money, Price, fmt_money
from ..matching import (
    BookDelta,
    EngineEvent,
    FillEvent,
    MarketStatus,
    MatchingEngine,
    OrderUpdated,
    PositionChanged,
    Settled,
    TradePrinted,
)
from ..universe import SimUniverse
from . import serialize as ser
from .candles import CandleStore
from .catalog import MarketRecord, user_uuid
from .clock import MarketClock, wall_ms
from .faults import Faults
from .ids import PublicIds
from .keys import KeyRing
from .limits import TIERS, RateLimits, Tier
from .market_driver import MarketDriver, StepReport
from .params import ApiError, Json

log = logging.getLogger("kalashi.sim_exchange")

TRADE_LOG_MAX = 200_000
ID_PREFIX = "sx-"
DAY_S = 86_400


@dataclass(frozen=True, slots=True)
class ExchangeConfig:
    """How the simulated exchange is built (the CLI's options)."""

    seed: int = 0
    markets: int = 500
    start_step: int = 0
    speed: float = 1.0  # market seconds per wall second; 0 = the market moves only on POST /_sim/step
    sim_seconds_per_step: int = 10  # the universe's clock per step (as --source sim)
    balance: Money = Money(1000 * MONEY_SCALE)
    tier: Tier = TIERS["basic"]
    rate_limits: bool = True
    retain_settled_s: int = 3600  # market seconds a settled market stays on the live endpoints
    history_cutoff_s: int = 90 * DAY_S  # fills, orders and trades older than this are /historical only
    ws_ping_interval: float = 10.0
    max_body_bytes: int = 1_048_576  # larger request bodies are refused with 413 before parsing


class Listener(Protocol):
    """What the core tells the WebSocket hub (:class:`~.ws.Hub`)."""

    @property
    def active(self) -> bool: ...

    def book_delta(self, ev: BookDelta, cause: tuple[str, str] | None) -> None: ...
    def user_order(self, account: str, order: ExchangeOrder, intent: OrderIntent | None, ts_ms: int) -> None: ...
    def fill(self, account: str, fill: ExchangeFill, post_position: int) -> None: ...
    def market_position(self, account: str, pos: MarketPosition, volume: int) -> None: ...
    def trade(self, t: Trade) -> None: ...
    def lifecycle(self, ev: MarketStatus) -> None: ...
    def created(self, rec: MarketRecord) -> None: ...
    def flush(self) -> None: ...


class _Silent:
    active = False

    def __getattr__(self, name: str) -> Callable[..., None]:
        return lambda *a, **k: None


@dataclass(slots=True)
class OrderMeta:
    intent: OrderIntent
    updated_ms: int


class ExchangeCore:
    """Engine, driver, clock, accounts, tape and caches, shared by every endpoint resource."""

    def __init__(
        self,
        config: ExchangeConfig,
        keys: KeyRing,
        faults: Faults | None = None,
        *,
        wall_clock: Callable[[], int] = wall_ms,
        monotonic: Callable[[], float] | None = None,
    ) -> None:
        import time

        self.config = config
        self.keys = keys
        self.faults = faults or Faults()
        self.clock = MarketClock(config.speed, wall=wall_clock)
        start_ms = self.clock.now_ms()
        step_ms = config.sim_seconds_per_step * 1000
        # the universe's clock reads the server's start time at the start step
        self.universe = SimUniverse(
            config.seed,
            config.markets,
            step_seconds=config.sim_seconds_per_step,
            epoch_ms=start_ms - config.start_step * step_ms,
        )
        self.trading_active = not self.faults.config.pause_trading
        self.engine = MatchingEngine(clock=self.now_ms, now_ms=start_ms, id_prefix=ID_PREFIX)
        self.ids = PublicIds(ID_PREFIX)
        self.candles = CandleStore()
        self.driver = MarketDriver(
            self.engine,
            self.universe,
            start_step=config.start_step,
            now_ms=self.now_ms,
            retain_settled_ms=config.retain_settled_s * 1000,
            on_forget=self.candles.forget,
        )
        self.driver.trades_paused = not self.trading_active  # nothing matches during a trading pause
        self.limits = RateLimits(config.tier, enabled=config.rate_limits, clock=monotonic or time.monotonic)
        self.hub: Listener = _Silent()
        self.clock_listener: Callable[[], None] | None = None  # the runner's stepper wakes on changes
        self.meta: dict[str, OrderMeta] = {}
        self.pos_meta: dict[tuple[str, str], tuple[Count, Money, int]] = {}  # volume, total traded, updated
        self.settle_cost: dict[tuple[str, str], Money] = {}
        self.last_position: dict[tuple[str, str], MarketPosition] = {}  # /historical/positions
        self.tape: list[tuple[int, Trade]] = []  # (seq, trade), oldest first
        self._trade_seq = 0
        self._last_trade_ms = 0
        # combined books and market objects, dropped on every engine event that touches the market
        # (the sink sees them all) and on every step: reads between changes cost a dict lookup
        self._books: dict[str, Market] = {}
        self._market_json: dict[str, Json] = {}
        self._quotes_due: set[str] = set()
        self._touched: set[str] = set()  # markets where an account ever rested or traded (books differ)
        self._cause: tuple[str, str] | None = None  # (account, client_order_id) of the write in progress
        self.requests = 0
        self.engine.subscribe(self._on_event)
        self._accounts: set[str] = set()
        for key_id in keys.key_ids():
            self.add_account(key_id)
        self.driver.load()
        self.sample_quotes()

    # ------------------------------------------------------------------ clock and accounts
    @property
    def speed(self) -> float:
        return self.clock.speed

    def now_ms(self) -> int:
        """The market clock (wall-clock pace unless ``speed`` says otherwise)."""
        return self.clock.now_ms()

    def wall_now(self) -> int:
        """The real wall clock (signature timestamps are checked against it, not the market clock)."""
        return self.clock.wall()

    def add_account(self, key_id: str, balance: Money | None = None) -> None:
        """Open the account of a newly registered key (no-op when it exists)."""
        if key_id not in self._accounts:
            if key_id not in self.engine.accounts():
                self.engine.open_account(key_id, self.config.balance if balance is None else balance)
            self._accounts.add(key_id)

    @contextmanager
    def caused_by(self, account: str, client_order_id: str) -> Iterator[None]:
        """Book changes made inside the block are the account's doing (WS ``client_order_id``)."""
        self._cause = (account, client_order_id)
        try:
            yield
        finally:
            self._cause = None

    # ------------------------------------------------------------------ engine events
    def _forget(self, ticker: str) -> None:
        self._books.pop(ticker, None)
        self._market_json.pop(ticker, None)
        self._quotes_due.add(ticker)

    def _on_event(self, ev: EngineEvent) -> None:
        hub = self.hub
        if isinstance(ev, BookDelta):
            self._forget(ev.ticker)
            if self._cause is not None:
                self._touched.add(ev.ticker)
            if hub.active:
                hub.book_delta(ev, self._cause)
        elif isinstance(ev, OrderUpdated):
            meta = self.meta.get(ev.order.order_id)
            if meta is not None:
                meta.updated_ms = ev.ts_ms
            if hub.active:
                hub.user_order(ev.account_id, ev.order, meta.intent if meta else None, ev.ts_ms)
        elif isinstance(ev, FillEvent):
            if hub.active:
                hub.fill(ev.account_id, ev.fill, ev.post_position)
        elif isinstance(ev, PositionChanged):
            self.pos_meta[(ev.account_id, ev.position.ticker)] = (ev.volume, ev.total_traded, ev.ts_ms)
            self.last_position[(ev.account_id, ev.position.ticker)] = ev.position  # outlives settlement
            if hub.active:
                hub.market_position(ev.account_id, ev.position, ev.volume)
        elif isinstance(ev, TradePrinted):
            self._print(ev)
        elif isinstance(ev, MarketStatus):
            self._forget(ev.ticker)
            hub.lifecycle(ev)  # always: the hub tracks statuses to name the next transition
        elif isinstance(ev, Settled):
            self.settle_cost[(ev.account_id, ev.settlement.ticker)] = ev.cost

    def _print(self, ev: TradePrinted) -> None:
        t = ev.trade
        self._forget(t.ticker)  # last price and volume moved
        if t.ts_ms < self._last_trade_ms:
            # the tape never runs backwards: a print applied after a later one is stamped when applied
            t = replace(t, ts_ms=self._last_trade_ms)
        self._last_trade_ms = t.ts_ms
        self._trade_seq += 1
        self.tape.append((self._trade_seq, t))
        if len(self.tape) > TRADE_LOG_MAX:
            del self.tape[: TRADE_LOG_MAX // 10]
        self.candles.trade(t.ticker, t.ts_ms, t.price, t.count)
        rec = self.driver.markets.get(t.ticker)
        if rec is not None:
            rec.last_trade_count = t.count
            if not ev.external:
                rec.own_volume = Count(rec.own_volume + t.count)
        if self.hub.active:
            self.hub.trade(self.public_trade(t))

    def sample_quotes(self) -> None:
        """Feed the candle store the top of book of every market whose book moved since the last call.

        A market no account ever touched has the universe's book (read off the market record); the
        combined book is built only where accounts rest or traded.
        """
        if not self._quotes_due:
            return
        due, self._quotes_due = self._quotes_due, set()
        now = self.now_ms()
        markets, touched = self.driver.markets, self._touched
        for t in due:
            rec = markets.get(t)
            if rec is None:
                continue
            if t in touched:
                if not self.engine.has_market(t):
                    continue
                m = self.book(t)
            else:
                m = rec.market
            bid = m.yes_bids[0][0] if m.yes_bids else 0
            ask = ONE_DOLLAR - m.no_bids[0][0] if m.no_bids else ONE_DOLLAR
            self.candles.quote(t, now, Price(bid), Price(ask), rec.market.open_interest)

    def after_request(self) -> None:
        """What every answered request and every control call ends with."""
        self.sample_quotes()
        self.hub.flush()

    # ------------------------------------------------------------------ stepping and control
    def step(self, n: int = 1) -> list[StepReport]:
        """Advance the universe ``n`` steps and push what changed to WebSocket clients."""
        reports = self.driver.advance(n)
        self.clock.at_least(self.universe.time_ms(self.driver.step))
        self._books.clear()  # the step rewrote market records (volume, previous prices, times)
        self._market_json.clear()
        for r in reports:
            for t in r.created:
                self.hub.created(self.driver.markets[t])
                self._quotes_due.add(t)
            if log.isEnabledFor(logging.INFO):  # `sim-exchange -v`
                log.info(
                    "step %d: %d markets moved, %d trades, %d settlements, %d new markets",
                    r.step,
                    r.markets,
                    len(r.trades),
                    len(r.settlements),
                    len(r.created),
                )
        self.after_request()
        return reports

    def next_step_ms(self) -> int:
        """Market time of the next universe step."""
        return self.universe.time_ms(self.driver.step + 1)

    def set_speed(self, speed: float) -> None:
        """Change the market clock's pace (0 stops the market; POST /_sim/step still works)."""
        if speed < 0:
            raise UsageError("speed must not be negative")
        self.clock.set_speed(speed)
        if self.clock_listener is not None:
            self.clock_listener()

    def set_trading(self, active: bool) -> None:
        """Pause or resume trading exchange-wide (cancels still work while paused).

        Pausing cancels resting orders sent with ``cancel_order_on_pause``.
        """
        if active == self.trading_active:
            return
        self.trading_active = active
        self.driver.trades_paused = not active
        if not active:
            for acct in self.engine.accounts():
                for o in self.engine.orders(acct, status=OrderStatus.RESTING):
                    meta = self.meta.get(o.order_id)
                    if meta is not None and meta.intent.cancel_order_on_pause:
                        self.engine.cancel(acct, o.order_id)
        self.after_request()

    def state(self) -> Json:
        """GET /_sim/state: what a test or an operator wants to see at a glance."""
        statuses: dict[str, int] = {}
        for rec in self.driver.market_list:
            s = self.engine.market_status(rec.ticker) if self.engine.has_market(rec.ticker) else "unknown"
            statuses[s] = statuses.get(s, 0) + 1
        accounts = []
        for a in self.engine.accounts():
            b = self.engine.balance(a)
            accounts.append(
                {
                    "key_id": a,
                    "balance": fmt_money(b.balance),
                    "orders": len(self.engine.orders(a)),
                    "fills": len(self.engine.fills(a)),
                }
            )
        now = self.now_ms()
        return {
            "step": self.driver.step,
            "now_ms": now,
            "sim_time": ser.iso(now),
            "speed": self.speed,
            "clock": self.clock.describe(),
            "markets": len(self.driver.market_list),
            "market_statuses": statuses,
            "trading_active": self.trading_active,
            "accounts": accounts,
            "faults": self.faults.config.to_json(),
            "fault_counts": dict(self.faults.counts),
            "rate_limited": self.limits.refused,
            "requests": self.requests,
            "ws_connections": getattr(self.hub, "connection_count", lambda: 0)(),
            "tier": self.limits.tier.name,
            "rate_limits": self.limits.enabled,
        }

    # ------------------------------------------------------------------ reads shared by the resources
    def market_cutoff_ms(self) -> int:
        """Markets settled before this leave the live endpoints (``/historical/cutoff``)."""
        return self.now_ms() - self.config.retain_settled_s * 1000

    def activity_cutoff_ms(self) -> int:
        """Fills, trades and finished orders before this are served by ``/historical/*`` only."""
        return self.now_ms() - self.config.history_cutoff_s * 1000

    def is_historical(self, rec: MarketRecord) -> bool:
        return rec.settled_ms is not None and rec.settled_ms < self.market_cutoff_ms()

    def live_record(self, ticker: str) -> MarketRecord:
        """A market on the live endpoints.

        Raises:
            ApiError: 404 for an unknown market or one that moved to ``/historical``.
        """
        rec = self.driver.markets.get(ticker)
        if rec is None or not self.engine.has_market(ticker) or self.is_historical(rec):
            raise ApiError(
                404,
                "not_found",
                f"market {ticker} not found",
                f"market {ticker} is not listed (markets settled before the historical cutoff are "
                "under /historical/markets)",
            )
        return rec

    def historical_record(self, ticker: str) -> MarketRecord:
        """A market settled before the historical cutoff (``/historical/markets/{ticker}``).

        Raises:
            ApiError: 404 for an unknown market or one still on the live endpoints.
        """
        rec = self.driver.archive.get(ticker) or self.driver.markets.get(ticker)
        if rec is None or not self.is_historical(rec):
            raise ApiError(
                404,
                "not_found",
                f"market {ticker} not found in the historical data",
                "markets move to /historical after they settled and the cutoff passed (GET /historical/cutoff)",
            )
        return rec

    def historical_records(self) -> list[MarketRecord]:
        """Every market on the historical endpoints, in listing order."""
        live = [r for r in self.driver.market_list if self.is_historical(r)]
        return sorted([*self.driver.archive.values(), *live], key=lambda r: r.seq)

    def book(self, ticker: str) -> Market:
        """The combined book (external + resting account orders), cached until the market changes."""
        b = self._books.get(ticker)
        if b is None:
            b = self._books[ticker] = self.engine.book(ticker)
        return b

    def market_json(self, rec: MarketRecord) -> Json:
        j = self._market_json.get(rec.ticker)
        if j is None:
            if self.engine.has_market(rec.ticker):
                j = ser.market_json(rec, self.book(rec.ticker), self.engine.market_status(rec.ticker))
            else:  # an archived market the engine no longer holds
                j = ser.market_json(rec, rec.market, "finalized")
            self._market_json[rec.ticker] = j
        return j

    def order_meta(self, order: ExchangeOrder) -> tuple[OrderIntent | None, int]:
        meta = self.meta.get(order.order_id)
        return (meta.intent, meta.updated_ms) if meta else (None, order.created_ts_ms)

    # ------------------------------------------------------------------ public ids
    def public_order(self, o: ExchangeOrder) -> ExchangeOrder:
        ids = self.ids
        return replace(
            o,
            order_id=ids.out(o.order_id),
            order_group_id=ids.out(o.order_group_id) if o.order_group_id else o.order_group_id,
        )

    def public_fill(self, f: ExchangeFill) -> ExchangeFill:
        return replace(f, fill_id=self.ids.out(f.fill_id), order_id=self.ids.out(f.order_id))

    def public_trade(self, t: Trade) -> Trade:
        return replace(t, trade_id=self.ids.out(t.trade_id))

    def public_ack(self, a: OrderAck) -> OrderAck:
        return replace(a, order_id=self.ids.out(a.order_id))

    def order_json(self, account: str, o: ExchangeOrder) -> Json:
        intent, updated = self.order_meta(o)
        if intent is not None and intent.order_group_id:
            intent = replace(intent, order_group_id=self.ids.out(intent.order_group_id))
        return ser.order_json(self.public_order(o), user_id=user_uuid(account), intent=intent, updated_ms=updated)


__all__ = ["ExchangeConfig", "ExchangeCore", "Listener", "OrderMeta"]
