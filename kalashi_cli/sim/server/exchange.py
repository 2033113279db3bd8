"""The simulated exchange behind the HTTP layer: Kalshi's REST endpoints as plain method calls.

:class:`SimExchange` owns the matching engine, the market driver, the accounts (one per
registered API key), the public trade log and the WebSocket hub. Every public method answers
one Kalshi endpoint with ``(status, json)`` or raises :class:`ApiError` carrying Kalshi's error
``code`` and HTTP status; the HTTP layer (:mod:`.app`) only adds authentication, rate limits and
faults. Everything runs on one asyncio loop thread, so no locks are needed.

Parsing of requests is strict where Kalshi is strict (REFERENCE §5, §12): V2 order bodies need
``side`` bid/ask, string ``price``/``count``, ``time_in_force`` and
``self_trade_prevention_type``; ``/markets`` takes one comma-separated ``tickers`` value while
``/markets/orderbooks`` takes repeated ``tickers``; page limits are 1000 (200 for events).
"""

from __future__ import annotations

import base64
import binascii
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from ...domain import ExchangeFill, ExchangeOrder, Market, MarketPosition, OrderIntent, Settlement, Trade
from ...errors import ExchangeError, UsageError
from ...money import MONEY_SCALE, Count, Money, fmt_count, fmt_money, parse_count, parse_price
from ..engine import (
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
from .catalog import EventRecord, MarketRecord, user_uuid
from .faults import Faults
from .keys import KeyRing
from .limits import CANCEL_COST, DEFAULT_COST, GET_ORDER_COST, TIERS, RateLimits, Tier
from .market_driver import MarketDriver, StepReport
from .ws import Hub

log = logging.getLogger(__name__)

Json = dict[str, Any]
Reply = tuple[int, Any]

MARKETS_PAGE_MAX = 1000
EVENTS_PAGE_MAX = 200
ORDERBOOKS_MAX = 100
BATCH_MAX = 20  # V2 batch create/cancel: items per request (REFERENCE: "up to 20 orders at once")
TRADE_LOG_MAX = 200_000

_FILTER_STATUS = {
    "unopened": ("initialized",),
    "open": ("active",),
    "paused": ("inactive",),
    "closed": ("closed", "determined", "disputed", "amended"),
    "settled": ("finalized",),
}
_EVENT_FILTERS = ("unopened", "open", "closed", "settled")
_TIFS = ("good_till_canceled", "immediate_or_cancel", "fill_or_kill")
_STPS = ("taker_at_cross", "maker")
_LEGACY_ORDER_FIELDS = ("action", "yes_price", "no_price", "type", "buy_max_cost", "sell_position_floor",
                        "expiration_ts", "yes_price_dollars", "no_price_dollars")


class ApiError(Exception):
    """A Kalshi error answer: HTTP ``status`` with ``{"error": {code, message, details}}``."""

    def __init__(self, status: int, code: str, message: str, details: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details

    def body(self) -> Json:
        return ser.error_body(self.code, self.message, self.details)

    @classmethod
    def of(cls, e: ExchangeError) -> ApiError:
        """Translate an engine error (it carries Kalshi's code and status)."""
        return cls(e.status or 400, e.code or "bad_request", e.message, e.hint or "")


def bad(message: str, code: str = "invalid_parameters") -> ApiError:
    return ApiError(400, code, message)


# --------------------------------------------------------------------------- request parameters


class Params:
    """Query parameters (repeated keys kept), read with Kalshi's rules."""

    def __init__(self, multi: Iterable[tuple[str, str]] = ()) -> None:
        self._multi: dict[str, list[str]] = {}
        for k, v in multi:
            self._multi.setdefault(k, []).append(v)

    @classmethod
    def of(cls, d: Mapping[str, Any]) -> Params:
        """Build from a plain mapping (tests): list values become repeated keys."""
        pairs: list[tuple[str, str]] = []
        for k, v in d.items():
            for x in v if isinstance(v, list | tuple) else [v]:
                pairs.append((k, str(x).lower() if isinstance(x, bool) else str(x)))
        return cls(pairs)

    def get(self, name: str) -> str | None:
        v = self._multi.get(name)
        if not v or v[-1] == "":
            return None
        return v[-1]

    def all(self, name: str) -> list[str]:
        return [x for x in self._multi.get(name, []) if x != ""]

    def csv(self, name: str) -> list[str] | None:
        v = self.get(name)
        if v is None:
            return None
        return [t.strip() for t in v.split(",") if t.strip()]

    def integer(self, name: str, default: int | None = None, *, lo: int | None = None,
            hi: int | None = None) -> int | None:
        v = self.get(name)
        if v is None:
            return default
        try:
            n = int(v)
        except ValueError:
            raise bad(f"{name} must be a whole number, got {v!r}") from None
        if (lo is not None and n < lo) or (hi is not None and n > hi):
            raise bad(f"{name} must be between {lo} and {hi}, got {n}")
        return n

    def flag(self, name: str) -> bool:
        v = self.get(name)
        if v is None:
            return False
        if v.lower() in ("true", "1"):
            return True
        if v.lower() in ("false", "0"):
            return False
        raise bad(f"{name} must be true or false, got {v!r}")

    def limit(self, default: int, hi: int) -> int:
        n = self.integer("limit", default, lo=0, hi=hi)
        assert n is not None
        return n or default


def _encode_cursor(n: int) -> str:
    return base64.urlsafe_b64encode(f"k:{n}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, _, n = text.partition(":")
        if kind != "k":
            raise ValueError(text)
        return int(n)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise bad("cursor is not one this server issued") from None


def _page(items: Sequence[Any], limit: int, cursor: str | None) -> tuple[Sequence[Any], str]:
    """Offset paging over an append-only list; the cursor is opaque."""
    start = _decode_cursor(cursor)
    end = start + limit
    return items[start:end], (_encode_cursor(end) if end < len(items) else "")


def _ts_filter(params: Params, lo_name: str, hi_name: str) -> tuple[int | None, int | None]:
    """Unix-seconds query bounds as inclusive millisecond bounds."""
    lo = params.integer(lo_name, lo=0)
    hi = params.integer(hi_name, lo=0)
    return (lo * 1000 if lo is not None else None), (hi * 1000 + 999 if hi is not None else None)


def _within(ms: int | None, lo: int | None, hi: int | None) -> bool:
    if lo is None and hi is None:
        return True
    if ms is None:
        return False
    return (lo is None or ms >= lo) and (hi is None or ms <= hi)


# --------------------------------------------------------------------------- order bodies


def _field(body: Mapping[str, Any], name: str, kind: type | tuple[type, ...], *, required: bool = False) -> Any:
    v = body.get(name)
    if v is None:
        if required:
            raise bad(f"{name} is required")
        return None
    if isinstance(v, bool) and kind is not bool:
        raise bad(f"{name} has the wrong type")
    if not isinstance(v, kind):
        raise bad(f"{name} must be a {getattr(kind, '__name__', 'value')}, got {type(v).__name__}")
    return v


def _price(text: str, name: str = "price") -> int:
    try:
        return parse_price(text)
    except ValueError:
        raise bad(f"{name} {text!r} is not a dollar price with at most 4 decimals", "invalid_price") from None


def _count(text: str, name: str = "count") -> Count:
    try:
        return parse_count(text)
    except ValueError:
        raise bad(f"{name} {text!r} is not a contract count with at most 2 decimals", "invalid_order_size") from None


def _routing(body: Mapping[str, Any]) -> None:
    sub = _field(body, "subaccount", int)
    if sub not in (None, 0):
        raise bad("subaccounts are not simulated: use subaccount 0 (or omit it)")
    ex = _field(body, "exchange_index", int)
    if ex not in (None, 0, -1):
        raise bad(f"exchange_index {ex}: the simulator has one shard (0)")


def parse_intent(body: Any) -> OrderIntent:
    """Read a CreateOrderV2Request.

    Raises:
        ApiError: 400 for a missing or malformed field, a legacy V1 field, or a bad enum value.
    """
    if not isinstance(body, Mapping):
        raise bad("the body must be a JSON object")
    for legacy in _LEGACY_ORDER_FIELDS:
        if legacy in body:
            raise bad(f"{legacy} is not a CreateOrderV2Request field (V2 orders use side bid/ask, price, count)")
    ticker = _field(body, "ticker", str, required=True)
    side = _field(body, "side", str, required=True)
    if side not in ("bid", "ask"):
        raise bad(f"side must be bid or ask (YES leg), not {side!r}", "invalid_order")
    price = _price(_field(body, "price", str, required=True))
    count = _count(_field(body, "count", str, required=True))
    tif = _field(body, "time_in_force", str, required=True)
    if tif not in _TIFS:
        raise bad(f"time_in_force must be one of {', '.join(_TIFS)}, not {tif!r}", "invalid_order")
    stp = _field(body, "self_trade_prevention_type", str, required=True)
    if stp not in _STPS:
        raise bad(f"self_trade_prevention_type must be one of {', '.join(_STPS)}, not {stp!r}", "invalid_order")
    _routing(body)
    return OrderIntent(
        client_order_id=_field(body, "client_order_id", str) or "",
        ticker=ticker, side=side, price=price, count=count,
        time_in_force=tif, self_trade_prevention_type=stp,
        post_only=bool(_field(body, "post_only", bool)), reduce_only=bool(_field(body, "reduce_only", bool)),
        expiration_ts=_field(body, "expiration_time", int),
        order_group_id=_field(body, "order_group_id", str),
        cancel_order_on_pause=bool(_field(body, "cancel_order_on_pause", bool)),
    )


# --------------------------------------------------------------------------- the exchange


@dataclass(frozen=True, slots=True)
class ExchangeConfig:
    """How the simulated exchange is built (the CLI's options)."""

    seed: int = 0
    markets: int = 500
    start_step: int = 0
    step_seconds: float = 1.0  # wall-clock seconds between steps; 0 = only POST /_sim/step
    sim_seconds_per_step: int = 10  # the universe's clock per step (as --source sim)
    balance: Money = 1000 * MONEY_SCALE
    tier: Tier = TIERS["basic"]
    rate_limits: bool = True
    retain_settled_s: int = 3600
    ws_ping_interval: float = 10.0


def wall_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(slots=True)
class _OrderMeta:
    intent: OrderIntent
    updated_ms: int


class SimExchange:
    """Kalshi's REST API over the matching engine and the sim universe."""

    def __init__(self, config: ExchangeConfig, keys: KeyRing, faults: Faults | None = None, *,
                 wall_clock: Callable[[], int] = wall_ms, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self.keys = keys
        self.faults = faults or Faults()
        self._wall = wall_clock
        start_ms = wall_clock()
        step_ms = config.sim_seconds_per_step * 1000
        # the universe's clock reads the server's start time at the start step
        self.universe = SimUniverse(config.seed, config.markets, step_seconds=config.sim_seconds_per_step,
                                    epoch_ms=start_ms - config.start_step * step_ms)
        self.trading_active = not self.faults.config.pause_trading
        self.engine = MatchingEngine(clock=self.now_ms, now_ms=start_ms, id_prefix="sx-")
        self.driver = MarketDriver(self.engine, self.universe, start_step=config.start_step, now_ms=self.now_ms,
                                   retain_settled_ms=config.retain_settled_s * 1000)
        self.driver.trades_paused = not self.trading_active  # nothing matches during a trading pause
        self.limits = RateLimits(config.tier, enabled=config.rate_limits, clock=monotonic)
        self.hub = Hub(self)
        self.step_seconds = config.step_seconds  # wall seconds between automatic steps (0 = manual)
        self.clock_listener: Callable[[], None] | None = None  # the runner's stepper wakes on changes
        self._meta: dict[str, _OrderMeta] = {}
        self._pos_meta: dict[tuple[str, str], tuple[Count, Money, int]] = {}  # volume, total traded, updated
        self._settle_cost: dict[tuple[str, str], Money] = {}
        self._trades: list[tuple[int, Trade]] = []
        self._trade_seq = 0
        self._last_trade_ms = 0
        # combined books and market objects, dropped on every engine event that touches the market
        # (the sink sees them all) and on every step: reads between changes cost a dict lookup
        self._books: dict[str, Market] = {}
        self._market_json: dict[str, Json] = {}
        self.requests = 0
        self.engine.subscribe(self._on_event)
        self._accounts: set[str] = set()
        for key_id in keys.key_ids():
            self.add_account(key_id)
        self.driver.load()

    # ------------------------------------------------------------------ clock and accounts
    def now_ms(self) -> int:
        """The exchange clock: never behind the wall clock, never behind the universe's step time."""
        w = self._wall()
        u = self.universe.time_ms(self.driver.step)
        return w if w >= u else u

    def wall_now(self) -> int:
        """The real wall clock (signature timestamps are checked against it, not the sim clock)."""
        return self._wall()

    def add_account(self, key_id: str, balance: Money | None = None) -> None:
        """Open the account of a newly registered key (no-op when it exists)."""
        if key_id not in self._accounts:
            if key_id not in self.engine.accounts():
                self.engine.open_account(key_id, self.config.balance if balance is None else balance)
            self._accounts.add(key_id)

    # ------------------------------------------------------------------ engine events
    def _on_event(self, ev: EngineEvent) -> None:
        hub = self.hub
        if isinstance(ev, BookDelta):
            self._books.pop(ev.ticker, None)
            self._market_json.pop(ev.ticker, None)
            if hub.active:
                hub.book_delta(ev)
            return
        if isinstance(ev, OrderUpdated):
            meta = self._meta.get(ev.order.order_id)
            if meta is not None:
                meta.updated_ms = ev.ts_ms
            if hub.active:
                hub.user_order(ev.account_id, ev.order, meta.intent if meta else None, ev.ts_ms)
        elif isinstance(ev, FillEvent):
            if hub.active:
                hub.fill(ev.account_id, ev.fill, ev.post_position)
        elif isinstance(ev, PositionChanged):
            self._pos_meta[(ev.account_id, ev.position.ticker)] = (ev.volume, ev.total_traded, ev.ts_ms)
            if hub.active:
                hub.market_position(ev.account_id, ev.position, ev.volume)
        elif isinstance(ev, TradePrinted):
            t = ev.trade
            self._books.pop(t.ticker, None)  # last price and volume moved
            self._market_json.pop(t.ticker, None)
            if t.ts_ms < self._last_trade_ms:
                # the tape never runs backwards: a print applied after a later one (the wall clock
                # ahead of the universe's step time) is stamped when it was applied
                t = replace(t, ts_ms=self._last_trade_ms)
            self._last_trade_ms = t.ts_ms
            self._trade_seq += 1
            self._trades.append((self._trade_seq, t))
            if len(self._trades) > TRADE_LOG_MAX:
                del self._trades[: TRADE_LOG_MAX // 10]
            rec = self.driver.markets.get(t.ticker)
            if rec is not None:
                rec.last_trade_count = t.count
                if not ev.external:
                    rec.own_volume += t.count
            if hub.active:
                hub.trade(t)
        elif isinstance(ev, MarketStatus):
            self._books.pop(ev.ticker, None)
            self._market_json.pop(ev.ticker, None)
            hub.lifecycle(ev)  # always: the hub tracks statuses to name the next transition
        elif isinstance(ev, Settled):
            self._settle_cost[(ev.account_id, ev.settlement.ticker)] = ev.cost

    # ------------------------------------------------------------------ stepping and control
    def step(self, n: int = 1) -> list[StepReport]:
        """Advance the universe ``n`` steps and push what changed to WebSocket clients."""
        reports = self.driver.advance(n)
        self._books.clear()  # the step rewrote market records (volume, previous prices, times)
        self._market_json.clear()
        for r in reports:
            for t in r.created:
                self.hub.created(self.driver.markets[t])
            if log.isEnabledFor(logging.INFO):  # `sim-exchange -v`
                log.info("step %d: %d markets moved, %d trades, %d settlements, %d new markets", r.step, r.markets,
                         len(r.trades), len(r.settlements), len(r.created))
        self.hub.flush()
        return reports

    def set_step_seconds(self, seconds: float) -> None:
        """Change the automatic stepping interval (0 stops it; POST /_sim/step still works)."""
        if seconds < 0:
            raise UsageError("step_seconds must not be negative")
        self.step_seconds = seconds
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
                for o in self.engine.orders(acct, status="resting"):
                    meta = self._meta.get(o.order_id)
                    if meta is not None and meta.intent.cancel_order_on_pause:
                        self.engine.cancel(acct, o.order_id)
        self.hub.flush()

    def state(self) -> Json:
        """GET /_sim/state: what a test or an operator wants to see at a glance."""
        statuses: dict[str, int] = {}
        for rec in self.driver.market_list:
            s = self.engine.market_status(rec.ticker) if self.engine.has_market(rec.ticker) else "unknown"
            statuses[s] = statuses.get(s, 0) + 1
        accounts = []
        for a in self.engine.accounts():
            b = self.engine.balance(a)
            accounts.append({"key_id": a, "balance": fmt_money(b.balance),
                             "orders": len(self.engine.orders(a)), "fills": len(self.engine.fills(a))})
        return {"step": self.driver.step, "now_ms": self.now_ms(), "sim_time": ser.iso(self.now_ms()),
                "markets": len(self.driver.market_list), "market_statuses": statuses,
                "trading_active": self.trading_active, "accounts": accounts,
                "faults": self.faults.config.to_json(), "fault_counts": dict(self.faults.counts),
                "rate_limited": self.limits.refused, "requests": self.requests,
                "ws_connections": self.hub.connection_count(), "tier": self.limits.tier.name,
                "step_seconds": self.step_seconds,
                "rate_limits": self.limits.enabled}

    # ------------------------------------------------------------------ helpers
    def _record(self, ticker: str) -> MarketRecord:
        rec = self.driver.markets.get(ticker)
        if rec is None or not self.engine.has_market(ticker):
            raise ApiError(404, "not_found", f"market {ticker} not found")
        return rec

    def book(self, ticker: str) -> Market:
        """The combined book (external + resting account orders), cached until the market changes."""
        b = self._books.get(ticker)
        if b is None:
            b = self._books[ticker] = self.engine.book(ticker)
        return b

    def market_json(self, rec: MarketRecord) -> Json:
        j = self._market_json.get(rec.ticker)
        if j is None:
            j = self._market_json[rec.ticker] = ser.market_json(rec, self.book(rec.ticker),
                                                                self.engine.market_status(rec.ticker))
        return j

    def _status_of(self, rec: MarketRecord) -> str:
        return self.engine.market_status(rec.ticker)

    def _order_meta(self, order: ExchangeOrder) -> tuple[OrderIntent | None, int]:
        meta = self._meta.get(order.order_id)
        return (meta.intent, meta.updated_ms) if meta else (None, order.created_ts_ms)

    def order_json(self, account: str, o: ExchangeOrder) -> Json:
        intent, updated = self._order_meta(o)
        return ser.order_json(o, user_id=user_uuid(account), intent=intent, updated_ms=updated)

    # ------------------------------------------------------------------ exchange
    def exchange_status(self) -> Reply:
        active = self.trading_active
        return 200, {"exchange_active": True, "trading_active": active,
                     "intra_exchange_transfers_active": True,
                     "exchange_index_statuses": [{"exchange_index": 0, "description": "kalashi sim-exchange",
                                                  "exchange_active": True, "trading_active": active,
                                                  "intra_exchange_transfers_active": True}]}

    def exchange_schedule(self) -> Reply:
        day = [{"open_time": "00:00", "close_time": "23:59"}]
        start = ser.iso(self.now_ms() - 86_400_000)
        end = ser.iso(self.now_ms() + 365 * 86_400_000)
        week = {d: day for d in ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")}
        return 200, {"schedule": {"standard_hours": [{"start_time": start, "end_time": end, **week}],
                                  "maintenance_windows": []}}

    def account_limits(self) -> Reply:
        return 200, self.limits.limits_json()

    def endpoint_costs(self) -> Reply:
        """GET /account/endpoint_costs: the non-default token costs this server charges."""
        return 200, {"default_cost": DEFAULT_COST, "endpoint_costs": [
            {"method": "GET", "path": "/trade-api/v2/portfolio/orders/{order_id}", "cost": GET_ORDER_COST},
            {"method": "DELETE", "path": "/trade-api/v2/portfolio/events/orders/{order_id}", "cost": CANCEL_COST},
            {"method": "DELETE", "path": "/trade-api/v2/portfolio/events/orders/batched", "cost": CANCEL_COST},
        ]}

    def user_data_timestamp(self) -> Reply:
        """GET /exchange/user_data_timestamp: portfolio reads here are never stale."""
        return 200, {"as_of_time": ser.iso(self.now_ms())}

    # ------------------------------------------------------------------ market data
    def markets(self, p: Params) -> Reply:
        limit = p.limit(100, MARKETS_PAGE_MAX)
        status = p.get("status")
        if status is not None and status not in _FILTER_STATUS:
            raise bad(f"status must be one of {', '.join(_FILTER_STATUS)}, not {status!r}")
        created = _ts_filter(p, "min_created_ts", "max_created_ts")
        closing = _ts_filter(p, "min_close_ts", "max_close_ts")
        settled = _ts_filter(p, "min_settled_ts", "max_settled_ts")
        min_updated = p.integer("min_updated_ts", lo=0)
        # REFERENCE §5.3: the timestamp families exclude each other and bind to statuses
        families = [n for n, f in (("created", created), ("close", closing), ("settled", settled)) if f != (None, None)]
        if min_updated is not None:
            families.append("updated")
        if len(families) > 1:
            raise bad(f"timestamp filters {', '.join(families)} cannot be combined")
        allowed = {"created": (None, "unopened", "open"), "close": (None, "closed"), "settled": (None, "settled"),
                   "updated": (None,)}
        if families and status not in allowed[families[0]]:
            raise bad(f"{families[0]} timestamp filters do not combine with status={status}")
        mve = p.get("mve_filter")
        if mve not in (None, "only", "exclude"):
            raise bad(f"mve_filter must be only or exclude, not {mve!r}")
        event = p.get("event_ticker")
        series = p.get("series_ticker")
        tickers = p.csv("tickers")
        want = _FILTER_STATUS[status] if status else None

        def keep(rec: MarketRecord) -> bool:
            if event is not None and rec.event_ticker != event:
                return False
            if series is not None and rec.series_ticker != series:
                return False
            if (mve == "only" and not rec.market.is_combo) or (mve == "exclude" and rec.market.is_combo):
                return False
            if want is not None and self._status_of(rec) not in want:
                return False
            if not _within(rec.created_ms, *created) or not _within(rec.close_ms, *closing):
                return False
            if not _within(rec.settled_ms, *settled):
                return False
            return min_updated is None or rec.updated_ms >= min_updated * 1000

        if tickers is not None:
            recs = sorted((self.driver.markets[t] for t in dict.fromkeys(tickers) if t in self.driver.markets),
                          key=lambda r: r.seq)
            start = _decode_cursor(p.get("cursor"))
            candidates: Iterable[MarketRecord] = [r for r in recs if r.seq > start]
        else:
            candidates = self.driver.markets_after(_decode_cursor(p.get("cursor")))
        page: list[MarketRecord] = []
        more = False
        for rec in candidates:
            if not keep(rec):
                continue
            if len(page) == limit:
                more = True
                break
            page.append(rec)
        cursor = _encode_cursor(page[-1].seq) if more and page else ""
        return 200, {"markets": [self.market_json(r) for r in page], "cursor": cursor}

    def market(self, ticker: str) -> Reply:
        return 200, {"market": self.market_json(self._record(ticker))}

    def orderbook(self, ticker: str, p: Params) -> Reply:
        self._record(ticker)
        depth = p.integer("depth", 0, hi=100) or 0
        return 200, {"orderbook_fp": ser.orderbook_fp(self.book(ticker), max(depth, 0))}

    def orderbooks(self, p: Params) -> Reply:
        tickers = p.all("tickers")
        if not tickers:
            raise bad("tickers is required (repeat it: ?tickers=A&tickers=B)")
        if len(tickers) > ORDERBOOKS_MAX:
            raise bad(f"at most {ORDERBOOKS_MAX} tickers per request, got {len(tickers)}")
        if any("," in t for t in tickers):
            raise bad("tickers is a repeated parameter here (?tickers=A&tickers=B), not a comma list")
        out = []
        for t in dict.fromkeys(tickers):
            if t in self.driver.markets and self.engine.has_market(t):
                out.append({"ticker": t, "orderbook_fp": ser.orderbook_fp(self.book(t))})
        return 200, {"orderbooks": out}

    def trades(self, p: Params) -> Reply:
        limit = p.limit(100, 1000)
        ticker = p.get("ticker")
        lo, hi = _ts_filter(p, "min_ts", "max_ts")
        if p.get("is_block_trade") is not None and p.flag("is_block_trade"):
            return 200, {"trades": [], "cursor": ""}  # no block trades in the sim
        before = _decode_cursor(p.get("cursor"))
        out: list[Trade] = []
        last_seq = 0
        more = False
        for seq, t in reversed(self._trades):  # newest first
            if before and seq >= before:
                continue
            if ticker is not None and t.ticker != ticker:
                continue
            if not _within(t.ts_ms, lo, hi):
                continue
            if len(out) == limit:
                more = True
                break
            out.append(t)
            last_seq = seq
        return 200, {"trades": [ser.trade_json(t) for t in out], "cursor": _encode_cursor(last_seq) if more else ""}

    def _event_matches(self, ev: EventRecord, status: str | None) -> bool:
        if status is None:
            return True
        want = _FILTER_STATUS[status]
        return any(self.engine.market_status(t) in want for t in ev.tickers if self.engine.has_market(t))

    def _event_json(self, ev: EventRecord, nested: bool) -> Json:
        markets = None
        if nested:
            markets = [self.market_json(self.driver.markets[t]) for t in ev.tickers if t in self.driver.markets]
        return ser.event_json(ev, markets)

    def events(self, p: Params) -> Reply:
        limit = p.limit(EVENTS_PAGE_MAX, EVENTS_PAGE_MAX)
        status = p.get("status")
        if status is not None and status not in _EVENT_FILTERS:
            raise bad(f"status must be one of {', '.join(_EVENT_FILTERS)}, not {status!r}")
        series = p.get("series_ticker")
        tickers = set(p.csv("tickers") or ()) or None
        nested = p.flag("with_nested_markets")
        min_close = p.integer("min_close_ts", lo=0)
        page: list[EventRecord] = []
        more = False
        for ev in self.driver.events_after(_decode_cursor(p.get("cursor"))):
            if series is not None and ev.series_ticker != series:
                continue
            if tickers is not None and ev.event_ticker not in tickers:
                continue
            if min_close is not None and ev.close_ms < min_close * 1000:
                continue
            if not self._event_matches(ev, status):
                continue
            if len(page) == limit:
                more = True
                break
            page.append(ev)
        return 200, {"events": [self._event_json(e, nested) for e in page],
                     "cursor": _encode_cursor(page[-1].seq) if more and page else ""}

    def event(self, event_ticker: str, p: Params) -> Reply:
        ev = self.driver.events.get(event_ticker)
        if ev is None:
            raise ApiError(404, "not_found", f"event {event_ticker} not found")
        nested = p.flag("with_nested_markets")
        markets = [self.market_json(self.driver.markets[t]) for t in ev.tickers if t in self.driver.markets]
        return 200, {"event": ser.event_json(ev, markets if nested else None), "markets": markets}

    def series_list(self, p: Params) -> Reply:
        category = p.get("category")
        out = [ser.series_json(s) for s in self.driver.series.values()
               if category is None or s.category == category]
        return 200, {"series": out}

    def series(self, ticker: str) -> Reply:
        s = self.driver.series.get(ticker)
        if s is None:
            raise ApiError(404, "not_found", f"series {ticker} not found")
        return 200, {"series": ser.series_json(s)}

    # ------------------------------------------------------------------ portfolio reads
    def balance(self, account: str, p: Params) -> Reply:
        _check_sub(p)
        return 200, ser.balance_json(self.engine.balance(account), now_ms=self.now_ms())

    def positions(self, account: str, p: Params) -> Reply:
        _check_sub(p)
        limit = p.limit(100, 1000)
        ticker = p.get("ticker")
        event = p.get("event_ticker")
        count_filter = set(p.csv("count_filter") or ())
        if count_filter - {"position", "total_traded"}:
            raise bad("count_filter takes position and/or total_traded")
        rows: list[MarketPosition] = []
        for pos in self.engine.positions(account, ticker=ticker, event_ticker=event):
            volume, traded, _ = self._pos_meta.get((account, pos.ticker), (0, 0, 0))
            if "position" in count_filter and pos.position == 0:
                continue
            if "total_traded" in count_filter and traded == 0:
                continue
            rows.append(pos)
        page, cursor = _page(rows, limit, p.get("cursor"))
        market_rows = []
        by_event: dict[str, list[MarketPosition]] = {}
        for pos in page:
            _, traded, updated = self._pos_meta.get((account, pos.ticker), (0, 0, self.now_ms()))
            market_rows.append(ser.position_json(pos, total_traded=traded, updated_ms=updated))
            rec = self.driver.markets.get(pos.ticker)
            by_event.setdefault(rec.event_ticker if rec else "", []).append(pos)
        events = [ser.event_position_json(e, ps) for e, ps in by_event.items() if e]
        return 200, {"market_positions": market_rows, "event_positions": events, "cursor": cursor}

    def orders(self, account: str, p: Params) -> Reply:
        _check_sub(p)
        limit = p.limit(100, 1000)
        status = p.get("status")
        if status is not None and status not in ("resting", "canceled", "executed"):
            raise bad(f"status must be resting, canceled or executed, not {status!r}")
        events = p.csv("event_ticker")
        if events is not None and len(events) > 10:
            raise bad("event_ticker takes at most 10 event tickers")
        lo, hi = _ts_filter(p, "min_ts", "max_ts")
        rows = self.engine.orders(account, ticker=p.get("ticker"), status=status)
        if events is not None:
            wanted = set(events)
            rows = [o for o in rows if (r := self.driver.markets.get(o.ticker)) is not None
                    and r.event_ticker in wanted]
        rows = [o for o in rows if _within(o.created_ts_ms, lo, hi)]
        page, cursor = _page(rows, limit, p.get("cursor"))
        return 200, {"orders": [self.order_json(account, o) for o in page], "cursor": cursor}

    def order(self, account: str, order_id: str) -> Reply:
        try:
            o = self.engine.order(account, order_id)
        except ExchangeError as e:
            raise ApiError.of(e) from None
        return 200, {"order": self.order_json(account, o)}

    def queue_positions(self, account: str, p: Params) -> Reply:
        tickers = p.csv("market_tickers")
        event = p.get("event_ticker")
        if tickers is None and event is None:
            raise bad("market_tickers or event_ticker is required")
        rows = self.engine.queue_positions(account, tickers=tickers)
        if event is not None:
            rows = [q for q in rows if (r := self.driver.markets.get(q.ticker)) is not None
                    and r.event_ticker == event]
        return 200, {"queue_positions": [{"order_id": q.order_id, "market_ticker": q.ticker,
                                          "queue_position_fp": fmt_count(q.ahead)} for q in rows]}

    def queue_position(self, account: str, order_id: str) -> Reply:
        try:
            ahead = self.engine.queue_position(account, order_id)
        except ExchangeError as e:
            raise ApiError.of(e) from None
        return 200, {"queue_position_fp": fmt_count(ahead)}

    def fills(self, account: str, p: Params) -> Reply:
        _check_sub(p)
        limit = p.limit(100, 1000)
        lo, hi = _ts_filter(p, "min_ts", "max_ts")
        rows: list[ExchangeFill] = [f for f in self.engine.fills(account, ticker=p.get("ticker"),
                                                                 order_id=p.get("order_id"))
                                    if _within(f.ts_ms, lo, hi)]
        page, cursor = _page(rows, limit, p.get("cursor"))
        return 200, {"fills": [ser.fill_json(f) for f in page], "cursor": cursor}

    def settlements(self, account: str, p: Params) -> Reply:
        _check_sub(p)
        limit = p.limit(100, 1000)
        lo, hi = _ts_filter(p, "min_ts", "max_ts")
        event = p.get("event_ticker")
        rows: list[Settlement] = [s for s in self.engine.settlements(account, ticker=p.get("ticker"))
                                  if (event is None or s.event_ticker == event) and _within(s.settled_ts_ms, lo, hi)]
        page, cursor = _page(rows, limit, p.get("cursor"))
        return 200, {"settlements": [ser.settlement_json(s, cost=self._settle_cost.get((account, s.ticker), 0))
                                     for s in page], "cursor": cursor}

    # ------------------------------------------------------------------ V2 order writes
    def _require_trading(self) -> None:
        if not self.trading_active:
            # Kalshi documents no code for an exchange-wide trading pause; market_inactive is the
            # documented refusal for a market that takes no orders (REFERENCE §7.2, INFERENCE)
            raise ApiError(400, "market_inactive", "trading is paused on the exchange",
                           "exchange trading pause: orders and amends are refused, cancels are allowed")

    def submit(self, account: str, intent: OrderIntent) -> Json:
        """Create one order in the engine; return the CreateOrderV2Response body.

        Raises:
            ApiError: the engine's refusal (400/404/409) or a trading pause.
        """
        self._require_trading()
        try:
            ack = self.engine.submit(account, intent)
        except ExchangeError as e:
            raise ApiError.of(e) from None
        self._meta[ack.order_id] = _OrderMeta(intent, ack.ts_ms)
        return ser.ack_json(ack)

    def create_order(self, account: str, body: Any) -> Reply:
        return 201, self.submit(account, parse_intent(body))

    def cancel_order(self, account: str, order_id: str, p: Params) -> Reply:
        _check_sub(p)
        ticker = p.get("market_ticker")
        return 200, self._cancel(account, order_id, ticker)

    def _cancel(self, account: str, order_id: str, ticker: str | None) -> Json:
        try:
            o = self.engine.order(account, order_id)
            if ticker is not None and o.ticker != ticker:
                raise ApiError(400, "order_ticker_mismatch", f"order {order_id} is in {o.ticker}, not {ticker}")
            reduced = self.engine.cancel(account, order_id)
        except ExchangeError as e:
            raise ApiError.of(e) from None
        out: Json = {"order_id": order_id, "reduced_by": fmt_count(reduced), "ts_ms": self.engine.now_ms}
        if o.client_order_id:
            out["client_order_id"] = o.client_order_id
        return out

    def amend_order(self, account: str, order_id: str, body: Any, p: Params) -> Reply:
        _check_sub(p)
        if not isinstance(body, Mapping):
            raise bad("the body must be a JSON object")
        self._require_trading()
        ticker = _field(body, "ticker", str, required=True)
        side = _field(body, "side", str, required=True)
        if side not in ("bid", "ask"):
            raise bad(f"side must be bid or ask, not {side!r}", "invalid_order")
        price = _price(_field(body, "price", str, required=True))
        count = _count(_field(body, "count", str, required=True))
        exp = _field(body, "expiration_time", int)
        if exp is not None and exp < 0:
            raise bad("expiration_time must be 0 (remove) or a future Unix time in seconds")
        _routing(body)
        try:
            ack = self.engine.amend(account, order_id, ticker=ticker, side=side, price=price, count=count,
                                    client_order_id=_field(body, "client_order_id", str),
                                    updated_client_order_id=_field(body, "updated_client_order_id", str),
                                    expiration_ts=exp)
        except ExchangeError as e:
            raise ApiError.of(e) from None
        meta = self._meta.get(order_id)
        if meta is not None:
            expiry = meta.intent.expiration_ts if exp is None else (exp or None)
            meta.intent = replace(meta.intent, price=price, count=count, client_order_id=ack.client_order_id,
                                  expiration_ts=expiry)
        return 200, ser.ack_json(ack)

    def decrease_order(self, account: str, order_id: str, body: Any, p: Params) -> Reply:
        _check_sub(p)
        if not isinstance(body, Mapping):
            raise bad("the body must be a JSON object")
        by = _field(body, "reduce_by", str)
        to = _field(body, "reduce_to", str)
        if (by is None) == (to is None):
            raise bad("give exactly one of reduce_by and reduce_to", "invalid_order")
        _routing(body)
        ticker = _field(body, "market_ticker", str)
        try:
            o = self.engine.order(account, order_id)
            if ticker is not None and o.ticker != ticker:
                raise ApiError(400, "order_ticker_mismatch", f"order {order_id} is in {o.ticker}, not {ticker}")
            left = self.engine.decrease(account, order_id,
                                        reduce_by=_count(by, "reduce_by") if by is not None else None,
                                        reduce_to=_count(to, "reduce_to") if to is not None else None)
        except ExchangeError as e:
            raise ApiError.of(e) from None
        out: Json = {"order_id": order_id, "remaining_count": fmt_count(left), "ts_ms": self.engine.now_ms}
        if o.client_order_id:
            out["client_order_id"] = o.client_order_id
        return 200, out

    def batch_items(self, body: Any) -> list[Any]:
        """The ``orders`` list of a batch body (validated for shape and size).

        Raises:
            ApiError: not ``{"orders": [...]}`` or too many items.
        """
        if not isinstance(body, Mapping) or not isinstance(body.get("orders"), list):
            raise bad('the body must be {"orders": [...]}')
        items = body["orders"]
        if not items:
            raise bad("orders must not be empty")
        if len(items) > BATCH_MAX:
            raise bad(f"at most {BATCH_MAX} orders per batch, got {len(items)}")
        return list(items)

    def batch_create(self, account: str, body: Any) -> Reply:
        out = []
        for item in self.batch_items(body):
            coid = item.get("client_order_id") if isinstance(item, Mapping) else None
            try:
                out.append(self.submit(account, parse_intent(item)))
            except ApiError as e:
                entry: Json = {"error": {"code": e.code, "message": e.message, "details": e.details or e.message}}
                if isinstance(coid, str):
                    entry["client_order_id"] = coid
                out.append(entry)
        return 201, {"orders": out}

    def batch_cancel(self, account: str, body: Any) -> Reply:
        out = []
        for item in self.batch_items(body):
            oid = item.get("order_id") if isinstance(item, Mapping) else None
            if not isinstance(oid, str) or not oid:
                out.append({"order_id": "", "reduced_by": fmt_count(0),
                            "error": {"code": "invalid_parameters", "message": "order_id is required",
                                      "details": "order_id is required"}})
                continue
            try:
                _routing(item)
                ticker = item.get("market_ticker")
                out.append(self._cancel(account, oid, ticker if isinstance(ticker, str) else None))
            except ApiError as e:
                out.append({"order_id": oid, "reduced_by": fmt_count(0),
                            "error": {"code": e.code, "message": e.message, "details": e.details or e.message}})
        return 200, {"orders": out}

    def cancel_all(self, account: str, p: Params) -> Reply:
        """DELETE /portfolio/events/orders: the answer lists what was cancelled (batch-cancel shape).

        Kalshi's response body for this 3.34 endpoint is not published; we answer in the shape
        of the batch cancel (INFERENCE, docs/sim-exchange.md).
        """
        _check_sub(p)
        out = []
        for o in self.engine.orders(account, status="resting"):
            try:
                out.append(self._cancel(account, o.order_id, None))
            except ApiError:
                continue  # already gone (an earlier cancel in this loop triggered a group)
        return 200, {"orders": out}

    # ------------------------------------------------------------------ order groups
    def _limit_of(self, body: Any) -> Count:
        if not isinstance(body, Mapping):
            raise bad("the body must be a JSON object")
        fp = _field(body, "contracts_limit_fp", str)
        whole = _field(body, "contracts_limit", int)
        if fp is not None:
            n = _count(fp, "contracts_limit_fp")
        elif whole is not None:
            n = whole * 100
        else:
            raise bad("contracts_limit_fp (or contracts_limit) is required")
        if n <= 0:
            raise bad("contracts_limit must be positive")
        return n

    def create_order_group(self, account: str, body: Any) -> Reply:
        n = self._limit_of(body)
        _routing(body)
        try:
            gid = self.engine.create_order_group(account, n)
        except ExchangeError as e:
            raise ApiError.of(e) from None
        return 201, {"order_group_id": gid, "subaccount": 0, "exchange_index": 0}

    def order_groups(self, account: str, p: Params) -> Reply:
        _check_sub(p)
        return 200, {"order_groups": [{"id": g.group_id, "contracts_limit_fp": fmt_count(g.contracts_limit),
                                       "is_auto_cancel_enabled": True, "exchange_index": 0}
                                      for g in self.engine.order_groups(account)]}

    def order_group(self, account: str, group_id: str) -> Reply:
        try:
            g = self.engine.order_group(account, group_id)
        except ExchangeError as e:
            raise ApiError.of(e) from None
        return 200, {"is_auto_cancel_enabled": True, "contracts_limit_fp": fmt_count(g.contracts_limit),
                     "orders": list(g.order_ids), "exchange_index": 0}

    def order_group_action(self, account: str, group_id: str, action: str, body: Any = None) -> Reply:
        try:
            if action == "delete":
                self.engine.delete_order_group(account, group_id)
            elif action == "reset":
                self.engine.reset_order_group(account, group_id)
            elif action == "trigger":
                self.engine.trigger_order_group(account, group_id)
            elif action == "limit":
                n = self._limit_of(body)
                self.engine.set_order_group_limit(account, group_id, n)
            else:  # pragma: no cover - routes only send the four above
                raise ApiError(404, "not_found", f"unknown order group action {action}")
        except ExchangeError as e:
            raise ApiError.of(e) from None
        return 200, {}


def _check_sub(p: Params) -> None:
    sub = p.integer("subaccount")
    if sub not in (None, 0):
        raise bad("subaccounts are not simulated: use subaccount 0 (or omit it)")
    ex = p.integer("exchange_index")
    if ex not in (None, 0, -1):
        raise bad(f"exchange_index {ex}: the simulator has one shard (0)")


def parse_balance(text: str) -> Money:
    """Parse ``--balance`` dollars (``1000``, ``250.50``) into money.

    Raises:
        UsageError: not a non-negative dollar amount.
    """
    from ...money import parse_money

    try:
        m = parse_money(text)
    except ValueError:
        raise UsageError(f"--balance {text!r} is not a dollar amount") from None
    if m < 0:
        raise UsageError("--balance must not be negative")
    return m


__all__ = ["ApiError", "ExchangeConfig", "Params", "SimExchange", "parse_balance", "parse_intent"]
