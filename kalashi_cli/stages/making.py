"""making: the market maker (strategy ``spread``) — two-sided quotes around fair value, managed as the book moves.

Spread capture used to be a single post-only YES bid one tick above the best bid, left to rest
until it expired. The market maker quotes both sides and keeps them right (docs/strategies.md):

* **Fair value** ``f``: a fair record or model when one exists (``analyze --fair``, the profile's
  ``fair.models``, the sim's forecast), else the mid of the book *as others quote it* (our own
  orders are never market liquidity: :mod:`.own_orders`).
* **Half-spread** ``h`` = adverse-selection allowance of the market's class
  (``adverse_selection_by_class``, documented defaults until markouts measure it)
  + ``volatility_multiple`` × the market's recent mid volatility + the maker fee + ``min_edge``:
  the distance at which a quote just earns ``min_edge`` after its costs.
* **Inventory skew**: both quotes move against the position — ``r = f − skew_at_limit × q / max_inventory``
  (holding YES lowers both prices, so the ask sells it sooner and the bid buys less eagerly).
* Quotes are ``r − h`` (YES bid, snapped down to the tick grid) and ``r + h`` (YES ask = NO bid,
  snapped up), never more than one tick better than the touch (queue priority is all a better
  price buys), and never crossing it (post-only: Kalshi would cancel them).
* **Limits**: per market ``max_inventory`` and per event ``max_event_inventory`` contracts; at a
  limit only the side that reduces inventory is quoted. A side that adds inventory is quoted only
  while it earns ``min_edge`` against fair value after the maker fee and the allowance.

:class:`QuoteManager` keeps the quotes on the exchange equal to the plan: a quote is re-priced
when fair value or the touch has moved more than ``requote_threshold`` since it was placed
(V2 amend — decrease when only its size shrinks — or cancel and create), at most every
``min_requote_seconds`` and within a token bucket of ``max_updates_per_second`` (the broker's own
token buckets stay underneath); quotes are *pulled* (cancelled at once, never held back) when
the book is stale (sequence gap), the risk state is not ACTIVE, the market is within
``stop_before_close_seconds`` of its close or no longer trading. Every write passes the one risk
gate: creates and amends are checked like any order (concentration caps included), cancels and
decreases by :meth:`~.risk.RiskGate.check_cancel`. Creates and amends are journaled under
deterministic ``client_order_id`` s before they are sent.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

import orjson

from ..domain import Denied, ExchangeOrder, Leg, Market, Order, OrderIntent, OrderStatus, Outcome
from ..errors import KalashiError, NotFound
from ..journal import Journal, TradeRow
from ..money import (
    COUNT_SCALE,
    ONE_DOLLAR,
    PRICE_SCALE,
    Count,
    Money,
    Price,
    fee_for,
    fmt_count,
    parse_count,
    snap,
    tick_above,
    tick_below,
    usd,
    usd_price,
)
from ..ports import Mode, OrderDesk
from ..profile import Profile
from ..records import encode
from .correlate import Grouper
from .order import AMEND_PREFIX, client_order_id
from .own_orders import crosses_own
from .risk import Denial
from .scan import close_ms

if TYPE_CHECKING:
    from .order import OrderExecutor
    from .portfolio import Portfolio
    from .risk import RiskGate, TradingState

Side = Literal["bid", "ask"]
#: a market is not started within this long of its stop before the close (a quote there would barely live),
#: nor within half of ``execution.maker_expiry_seconds`` when that is shorter
MIN_QUOTE_LIFE_MS = 300_000
STRATEGY = "spread"
ONE = COUNT_SCALE


def _price(d: Decimal) -> Price:
    """Dollars per contract as price units (1/10 000 $), rounded down."""
    return Price(int(d * PRICE_SCALE))


@dataclass(frozen=True, slots=True)
class MakerParams:
    """The profile's ``analyze.spread`` in fixed units."""

    min_spread: Price
    min_edge: Price
    volatility_multiple: Decimal
    quote_size: Count
    max_inventory: Count
    max_event_inventory: Count
    skew_at_limit: Price
    requote_threshold: Price
    min_requote_ms: int
    stop_before_close_ms: int
    step: Count
    adverse: Callable[[Market], Price]

    @classmethod
    def from_profile(cls, profile: Profile) -> MakerParams:
        s = profile.analyze.spread
        step = max(1, int(profile.sizing.min_count * COUNT_SCALE))
        return cls(
            min_spread=_price(s.min_spread),
            min_edge=_price(s.min_edge),
            volatility_multiple=s.volatility_multiple,
            quote_size=Count(int(s.quote_size * COUNT_SCALE)),
            max_inventory=Count(int(s.max_inventory * COUNT_SCALE)),
            max_event_inventory=Count(int(s.max_event_inventory * COUNT_SCALE)),
            skew_at_limit=_price(s.skew_at_limit),
            requote_threshold=_price(s.requote_threshold),
            min_requote_ms=int(s.min_requote_seconds * 1000),
            stop_before_close_ms=s.stop_before_close_seconds * 1000,
            step=Count(step),
            adverse=lambda m: _price(s.adverse_for(m.series_ticker, m.category)),
        )


class Volatility:
    """Each market's recent mid volatility: an exponentially weighted mean of |Δmid| per observation."""

    def __init__(self, window: int) -> None:
        self.alpha = Decimal(2) / (window + 1)
        self._last: dict[str, int] = {}  # ticker → twice the last mid
        self._ewma: dict[str, Decimal] = {}  # ticker → mean |Δmid| in price units

    def observe(self, m: Market) -> None:
        """Take one observation of ``m``'s mid (a one-sided book is skipped)."""
        if m.yes_bid is None or m.yes_ask is None:
            return
        mid2 = m.yes_bid + m.yes_ask
        last = self._last.get(m.ticker)
        self._last[m.ticker] = mid2
        if last is None:
            return
        move = Decimal(abs(mid2 - last)) / 2
        prev = self._ewma.get(m.ticker)
        self._ewma[m.ticker] = move if prev is None else self.alpha * move + (1 - self.alpha) * prev

    def sigma(self, ticker: str) -> Decimal:
        """Mean absolute mid change per observation, price units (0 until two observations)."""
        return self._ewma.get(ticker, Decimal(0))


@dataclass(frozen=True, slots=True)
class QuoteSide:
    """One side of a plan: a YES bid, or a YES ask (a NO bid at 1 − price)."""

    side: Side
    price: Price  # YES price
    count: Count
    edge: Money  # per contract against fair value, after the maker fee and the adverse-selection allowance
    reduces: bool  # it brings the position towards zero


@dataclass(frozen=True, slots=True)
class QuotePlan:
    """What the market maker wants resting in one market, and why a side is missing."""

    ticker: str
    fair: Price
    fair_source: str
    half: Price
    skew: Price
    adverse: Price
    bid: QuoteSide | None
    ask: QuoteSide | None
    why: Mapping[str, str] = field(default_factory=dict)

    def side(self, side: Side) -> QuoteSide | None:
        return self.bid if side == "bid" else self.ask


def _fee_price(p: Price, m: Market) -> Price:
    """The maker fee of one contract at ``p``, rounded up to price units."""
    fee = fee_for(p, Count(ONE), fee_type=m.fee_type, multiplier=m.fee_multiplier, is_taker=False)
    return Price(-(-fee // ONE))


def plan_quotes(
    m: Market,
    params: MakerParams,
    *,
    fair: Price | None = None,
    fair_source: str = "",
    position: Count = Count(0),
    event_inventory: Count = Count(0),
    sigma: Decimal = Decimal(0),
) -> QuotePlan | None:
    """Plan the quotes for ``m`` (its book as others quote it): None when it has no fair value to quote around.

    ``position`` is the account's position in ``m`` (count units, + YES / − NO) and
    ``event_inventory`` the contracts it holds over every market of ``m``'s event (this one included).
    """
    bb, ba = m.yes_bid, m.yes_ask
    if fair is None:
        if bb is None or ba is None:
            return None
        fair, fair_source = Price((bb + ba) // 2), "mid"
    grid = m.price_ranges
    adverse = params.adverse(m)
    vol = int(params.volatility_multiple * sigma)
    half = adverse + vol + _fee_price(fair, m) + params.min_edge
    half = max(half, 1)
    lim = max(1, params.max_inventory)
    ratio = max(Decimal(-1), min(Decimal(1), Decimal(position) / lim))
    skew = int(params.skew_at_limit * ratio)
    r = fair - skew
    why: dict[str, str] = {}

    bid = snap(Price(r - half), grid, up=False) if r - half > 0 else None
    ask = snap(Price(r + half), grid, up=True) if r + half < ONE_DOLLAR else None
    if bid is not None and bb is not None:
        join = tick_above(bb, grid)
        if join is not None and bid > join:
            bid = join  # a better price than one tick over the touch buys nothing but a worse fill
    if ask is not None and ba is not None:
        join = tick_below(ba, grid)
        if join is not None and ask < join:
            ask = join
    if bid is not None and ba is not None and bid >= ba:
        bid = tick_below(ba, grid)  # post-only: never cross the other side
    if ask is not None and bb is not None and ask <= bb:
        ask = tick_above(bb, grid)

    sizes = _sizes(position, event_inventory, params)
    sides: dict[Side, QuoteSide | None] = {}
    side: Side
    for side, price in (("bid", bid), ("ask", ask)):
        count, limit_why = sizes[side]
        reducing = position < 0 if side == "bid" else position > 0
        if price is None:
            why[side] = "no valid price on that side of fair value"
            sides[side] = None
            continue
        if count <= 0:
            why[side] = limit_why
            sides[side] = None
            continue
        dist = (fair - price) if side == "bid" else (price - fair)
        fee = fee_for(price, Count(ONE), fee_type=m.fee_type, multiplier=m.fee_multiplier, is_taker=False)
        edge = dist * ONE - fee - adverse * ONE
        if not reducing and edge < params.min_edge * ONE:
            why[side] = (
                f"{usd(Money(edge))} per contract after the maker fee and the {usd_price(adverse)} "
                f"adverse-selection allowance is below the minimum {usd_price(params.min_edge)}"
            )
            sides[side] = None
            continue
        sides[side] = QuoteSide(side, price, count, Money(edge), reducing)
    return QuotePlan(m.ticker, fair, fair_source, Price(half), Price(skew), adverse, sides["bid"], sides["ask"], why)


def _sizes(q: Count, event_inv: Count, p: MakerParams) -> dict[Side, tuple[Count, str]]:
    """Each side's size under the per-market and per-event inventory limits, and why it is 0."""
    out: dict[Side, tuple[Count, str]] = {}
    event_room = max(0, p.max_event_inventory - event_inv)
    for side in ("bid", "ask"):
        signed = q if side == "bid" else -q  # what this side adds to: buying YES adds to +q
        room = p.max_inventory - signed  # market limit: |position| stays within max_inventory
        why = ""
        if room <= 0:
            why = f"at the inventory limit ({fmt_count(Count(abs(q)))} of {fmt_count(p.max_inventory)} contracts)"
        reducible = max(0, -signed)  # what this side can take off before it adds
        if room > 0 and event_room <= 0:
            room = min(room, reducible)
            if room <= 0:
                why = (
                    f"at the event's inventory limit ({fmt_count(event_inv)} of "
                    f"{fmt_count(p.max_event_inventory)} contracts)"
                )
        elif room > 0:
            room = min(room, reducible + event_room)
        count = Count(min(p.quote_size, max(0, room)) // p.step * p.step)
        if count <= 0 and not why:
            why = "less than one lot of room under the inventory limits"
        out[side] = (count, why)
    return out


# --------------------------------------------------------------------------------- managing quotes


@dataclass(slots=True)
class QuoteStats:
    """What the manager did (cumulative): quote writes, pulls, refusals."""

    created: int = 0
    amended: int = 0
    decreased: int = 0
    cancelled: int = 0  # replaced, no longer wanted, or extra
    pulled: int = 0  # cancelled for risk: stale book, risk state, close, market not trading
    denied: int = 0
    held_back: int = 0  # re-prices the rate limits deferred

    @property
    def updates(self) -> int:
        return self.created + self.amended + self.decreased + self.cancelled + self.pulled

    def record(self) -> dict[str, int]:
        return {
            "created": self.created,
            "amended": self.amended,
            "decreased": self.decreased,
            "cancelled": self.cancelled,
            "pulled": self.pulled,
            "denied": self.denied,
            "held_back": self.held_back,
            "updates": self.updates,
        }

    def minus(self, other: QuoteStats) -> QuoteStats:
        return QuoteStats(*(a - b for a, b in zip(self.astuple(), other.astuple(), strict=True)))

    def astuple(self) -> tuple[int, ...]:
        return (self.created, self.amended, self.decreased, self.cancelled, self.pulled, self.denied, self.held_back)

    def copy(self) -> QuoteStats:
        return QuoteStats(*self.astuple())


class _Bucket:
    """A token bucket on the market clock: ``rate`` tokens a second, at most ``5 × rate`` saved."""

    def __init__(self, rate: Decimal) -> None:
        self.rate = rate
        self.capacity = max(Decimal(1), rate * 5)
        self.tokens = self.capacity
        self.at_ms: int | None = None

    def take(self, now_ms: int) -> bool:
        if not self.rate:
            return True
        if self.at_ms is not None and now_ms > self.at_ms:
            self.tokens = min(self.capacity, self.tokens + self.rate * Decimal(now_ms - self.at_ms) / 1000)
        self.at_ms = now_ms if self.at_ms is None else max(self.at_ms, now_ms)
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


@dataclass(slots=True)
class _Placed:
    fair: Price
    touch: Price | None
    at_ms: int


@dataclass(slots=True)
class ManageContext:
    """What one round of quote management works with (an iteration, or a reaction between them)."""

    books: Mapping[str, Market]  # books as others quote them (own orders out)
    fair: Mapping[str, tuple[Price, str]]  # ticker → (fair YES price, its source), where a value exists
    portfolio: Portfolio
    gate: RiskGate
    executor: OrderExecutor
    state: TradingState
    now_ms: int
    stale: Callable[[str], bool] = lambda t: False
    emit: Callable[[dict[str, Any]], None] = lambda r: None
    src: str = ""
    records: list[dict[str, Any]] = field(default_factory=list)


def pull_reason(ctx: ManageContext, m: Market | None, ticker: str, stop_before_close_ms: int) -> str | None:
    """Why the quotes on ``ticker`` must be pulled now, or None: no current book, the risk state is not
    ACTIVE, the book is stale, the market is not trading, or it closes within ``stop_before_close_ms``."""
    from .risk import TradingState

    if m is None:
        return "no current book (closed, settled or out of the scan)"
    if ctx.state is not TradingState.ACTIVE:
        return f"the risk state is {ctx.state.value}"
    if ctx.stale(ticker):
        return "the book is stale (sequence gap or old data)"
    if m.status != "active":
        return f"the market is {m.status}"
    closes = close_ms(m)
    stop = stop_before_close_ms
    if closes is not None and stop and 0 <= closes - ctx.now_ms <= stop:
        return f"the market closes in {(closes - ctx.now_ms) // 1000} s (stop_before_close_seconds)"
    return None


def event_inventory(positions: Mapping[str, Count], books: Mapping[str, Market], journal: Journal) -> dict[str, Count]:
    """Contracts held per event (absolute, summed over its markets); a market without a current book is
    placed in its event by the journal's market metadata."""
    out: dict[str, Count] = {}
    meta = None
    for t, q in positions.items():
        m = books.get(t)
        if m is not None:
            event = m.event_ticker
        else:
            meta = meta if meta is not None else journal.market_meta()
            info = meta.get(t)
            event = info.event_ticker if info is not None else t
        out[event] = Count(out.get(event, 0) + abs(q))
    return out


def quote_expiry(m: Market, now_ms: int, maker_expiry_seconds: int, stop_before_close_ms: int) -> int | None:
    """When a new quote expires: ``maker_expiry_seconds`` from now (the market clock read as it is sent:
    a round that took a while must not date its quotes by when it began), never into the last
    ``stop_before_close_seconds`` before the close."""
    expiry = now_ms // 1000 + maker_expiry_seconds if maker_expiry_seconds else None
    closes = close_ms(m)
    stop = stop_before_close_ms
    if closes is not None and stop and closes - stop > now_ms:
        last = (closes - stop) // 1000
        expiry = last if expiry is None else min(expiry, last)
    return expiry


def _opportunity_id(ctx: ManageContext, ticker: str, side: Side, price: Price, count: Count, what: str) -> str:
    key = f"{STRATEGY}|{what}|{ticker}|{side}|{price}|{count}|{ctx.now_ms}|{ctx.src}"
    return "mm-" + hashlib.sha256(key.encode()).hexdigest()[:20]


def own_order_denial(journal: Journal, intent: OrderIntent, replacing: ExchangeOrder | None = None) -> Denial | None:
    """A quote never meets one of the account's own resting orders (Kalshi's self-trade prevention would
    cancel one of them; post-only would cancel the quote): refused with rule ``own-order``."""
    own = [
        o
        for o in journal.orders(status=OrderStatus.RESTING, ticker=intent.ticker)
        if replacing is None or o.order_id != replacing.order_id
    ]
    mine = crosses_own(intent, own)
    if mine is None:
        return None
    return Denial(
        "own-order",
        f"a {intent.side} at YES {usd_price(intent.price)} would meet our own resting "
        f"{mine.side} {mine.order_id} at YES {usd_price(mine.price)}",
    )


def _amend_record(
    mode: Mode,
    m: Market,
    plan: QuotePlan,
    have: ExchangeOrder,
    want: QuoteSide,
    now: ExchangeOrder,
    coid: str,
    latency_ms: Decimal,
) -> Order:
    """The ``order`` record of a quote re-priced in place: ``have`` became ``now`` under ``coid``."""
    outcome: Outcome = "yes" if want.side == "bid" else "no"
    price = want.price if want.side == "bid" else Price(ONE_DOLLAR - want.price)
    reason = (
        f"amend {have.order_id}: {usd_price(have.price)} → {usd_price(want.price)} (fair "
        f"{usd_price(plan.fair)}, {plan.fair_source})"
    )
    return Order(
        client_order_id=coid,
        order_id=now.order_id,
        mode=mode,
        ticker=m.ticker,
        outcome=outcome,
        action="buy",
        price=price,
        count=want.count,
        status=now.status,
        filled_count=now.fill_count,
        avg_fill_price=None,
        fees=Money(0),
        latency_ms=latency_ms,
        slippage_pct=Decimal(0),
        strategy=STRATEGY,
        opportunity_id=f"{AMEND_PREFIX}{have.order_id}",
        time_in_force="good_till_canceled",
        post_only=True,
        reduce_only=False,
        reason=reason,
    )


class QuoteManager:
    """Keeps the market maker's quotes on the exchange equal to :func:`plan_quotes` (module docstring)."""

    def __init__(self, profile: Profile, journal: Journal, broker: Any) -> None:
        self.profile = profile
        self.journal = journal
        self.broker = broker
        self.params = MakerParams.from_profile(profile)
        s = profile.analyze.spread
        self.enabled = s.enabled
        self.use_amend = s.use_amend
        self.vol = Volatility(s.volatility_window)
        self.bucket = _Bucket(s.max_updates_per_second)
        self.stats = QuoteStats()
        saved = journal.get_meta("quote_stats")  # the counts go on across restarts (metrics reads them)
        if saved:
            try:
                counts = orjson.loads(saved)
                self.stats = QuoteStats(**{k: int(counts.get(k, 0)) for k in QuoteStats.__slots__})
            except (orjson.JSONDecodeError, TypeError, ValueError):
                pass
        self.grouper = Grouper(profile)
        self._placed: dict[str, _Placed] = {}  # order_id → fair and touch when it was placed
        self._mine: dict[str, bool] = {}  # client_order_id → whether it is a market-maker quote
        self._last_plans: dict[str, QuotePlan] = {}
        self._quoted: frozenset[str] = frozenset()
        self._denied: dict[tuple[str, str], str] = {}  # (ticker, side) → the rule that last refused a quote there
        self.max_inventory_seen: Count = Count(0)
        expiry_ms = profile.execution.maker_expiry_seconds * 1000
        self._min_life_ms = min(MIN_QUOTE_LIFE_MS, expiry_ms // 2) if expiry_ms else MIN_QUOTE_LIFE_MS

    # -- which orders are ours ------------------------------------------------------------------
    def _is_quote(self, o: ExchangeOrder) -> bool:
        known = self._mine.get(o.client_order_id)
        if known is None:
            row = self.journal.intent(o.client_order_id)
            known = self._mine[o.client_order_id] = bool(
                row is not None and row.strategy == STRATEGY and row.time_in_force == "good_till_canceled"
            )
        return known

    def quotes(self) -> dict[str, list[ExchangeOrder]]:
        """The market maker's resting quotes by ticker (the journal's view)."""
        out: dict[str, list[ExchangeOrder]] = {}
        for o in self.journal.orders(status=OrderStatus.RESTING):
            if o.remaining_count > 0 and self._is_quote(o):
                out.setdefault(o.ticker, []).append(o)
        self._quoted = frozenset(out)
        return out

    def quoted_tickers(self) -> frozenset[str]:
        """The markets quoted when the journal was last read (cheap: a reaction's first filter)."""
        return self._quoted

    def inventory_tickers(self, portfolio: Portfolio) -> set[str]:
        """Markets where the market maker's own trades hold a position (its reducing side is quoted)."""
        out: set[str] = set()
        for t in portfolio.trades.open_trades():
            if t.strategy == STRATEGY:
                out.update(k for k, (q, _c) in t.positions.items() if q)
        return out

    def to_manage(self, wanted: Iterable[str], portfolio: Portfolio) -> set[str]:
        """The markets a round manages: those worth quoting now, those quoted, those holding its inventory."""
        return set(wanted) | set(self.quotes()) | self.inventory_tickers(portfolio)

    # -- one round ------------------------------------------------------------------------------
    def observe(self, books: Iterable[Market]) -> None:
        """One volatility observation per market (iterations call this; reactions do not)."""
        for m in books:
            self.vol.observe(m)

    def manage(self, ctx: ManageContext, tickers: Iterable[str]) -> int:
        """Bring the quotes of ``tickers`` in line with the plan (or pull them); return the writes made."""
        if not self.enabled:
            return 0
        before = self.stats.updates
        quotes = self.quotes()
        positions = {t: p.position for t, p in ctx.portfolio.ledger.positions.items() if p.position}
        event_inv = event_inventory(positions, ctx.books, self.journal)
        for ticker in sorted(set(tickers)):
            resting = quotes.get(ticker, [])
            m = ctx.books.get(ticker)
            why_pull = pull_reason(ctx, m, ticker, self.params.stop_before_close_ms)
            if why_pull is not None:
                for o in resting:
                    self._cancel(ctx, o, why_pull, pull=True)
                continue
            assert m is not None
            q = positions.get(ticker, 0)
            self.max_inventory_seen = Count(max(self.max_inventory_seen, abs(q)))
            fv = ctx.fair.get(ticker)
            plan = plan_quotes(
                m,
                self.params,
                fair=fv[0] if fv else None,
                fair_source=fv[1] if fv else "",
                position=Count(q),
                event_inventory=event_inv.get(m.event_ticker, Count(0)),
                sigma=self.vol.sigma(ticker),
            )
            if plan is not None:
                self._last_plans[ticker] = plan
            by_side: dict[str, list[ExchangeOrder]] = {"bid": [], "ask": []}
            for o in resting:
                by_side[o.side].append(o)
            # the side moving away from the other goes first, so the two never cross in between
            order: tuple[Side, ...] = ("bid", "ask")
            if plan is not None and plan.bid and by_side["bid"] and plan.bid.price >= by_side["bid"][0].price:
                order = ("ask", "bid")
            for side in order:
                mine = by_side[side]
                for extra in mine[1:]:
                    self._cancel(ctx, extra, "a second quote on the same side")
                want = plan.side(side) if plan is not None else None
                have = mine[0] if mine else None
                self._apply(ctx, m, plan, side, have, want)
        self.quotes()  # refresh what is quoted now
        return self.stats.updates - before

    # -- the writes -------------------------------------------------------------------------------
    def _apply(
        self,
        ctx: ManageContext,
        m: Market,
        plan: QuotePlan | None,
        side: Side,
        have: ExchangeOrder | None,
        want: QuoteSide | None,
    ) -> None:
        if want is None:
            if have is not None:
                why = plan.why.get(side, "not wanted") if plan is not None else "no fair value to quote around"
                self._cancel(ctx, have, why)
            return
        assert plan is not None
        touch = m.yes_bid if side == "bid" else m.yes_ask
        if have is None:
            self._create(ctx, m, plan, want, touch)
            return
        if have.price == want.price:
            if want.count < have.remaining_count:
                self._decrease(ctx, have, want.count)
            return
        placed = self._placed.get(have.order_id)
        th = self.params.requote_threshold
        moved = (
            placed is None
            or abs(plan.fair - placed.fair) > th
            or (touch is not None and (placed.touch is None or abs(touch - placed.touch) > th))
            or (want.count < have.remaining_count and have.price != want.price and abs(want.price - have.price) > th)
        )
        if not moved:
            if want.count < have.remaining_count:
                self._decrease(ctx, have, want.count)
            return
        if placed is not None and ctx.now_ms - placed.at_ms < self.params.min_requote_ms:
            self.stats.held_back += 1
            return
        if not self.bucket.take(ctx.now_ms):
            self.stats.held_back += 1
            return
        if self.use_amend and isinstance(self.broker, OrderDesk):
            self._amend(ctx, m, plan, have, want, touch)
        else:
            if self._cancel(ctx, have, "re-priced: fair value or the touch moved"):
                self._create(ctx, m, plan, want, touch)

    def _concentration(self, m: Market) -> tuple[str, str]:
        return m.event_ticker, self.grouper.group(m.category, m.series_ticker, m.title)

    def _create(self, ctx: ManageContext, m: Market, plan: QuotePlan, want: QuoteSide, touch: Price | None) -> None:
        now = ctx.executor.now_ms()
        closes = close_ms(m)
        if closes is not None and closes - self.params.stop_before_close_ms - now < self._min_life_ms:
            # a new quote would expire within minutes (before the stop before the close): not worth
            # starting, and on an exchange whose clock runs ahead of ours its expiry could be past already
            return
        opp = _opportunity_id(ctx, m.ticker, want.side, want.price, want.count, "quote")
        intent = OrderIntent(
            client_order_id(opp, 0, f"{m.ticker}:{want.side}:{want.price}:{want.count}:gtc", "quote"),
            m.ticker,
            want.side,
            want.price,
            want.count,
            time_in_force="good_till_canceled",
            post_only=True,
            expiration_ts=quote_expiry(
                m, now, self.profile.execution.maker_expiry_seconds, self.params.stop_before_close_ms
            ),
        )
        d = own_order_denial(self.journal, intent) or ctx.gate.check(
            intent,
            fee_type=m.fee_type,
            multiplier=m.fee_multiplier,
            stale=ctx.stale(m.ticker),
            trading_active=ctx.executor.trading_active(),
            concentration=self._concentration(m),
        )
        if d is not None:
            self._deny(ctx, Denied(opp, m.ticker, d.rule, d.reason, STRATEGY), want.side)
            return
        if not self.bucket.take(ctx.now_ms):
            self.stats.held_back += 1
            return
        self._denied.pop((m.ticker, want.side), None)
        outcome, price = ("yes", want.price) if want.side == "bid" else ("no", ONE_DOLLAR - want.price)
        leg = Leg(m.ticker, outcome, "buy", price, want.count)  # type: ignore[arg-type]
        self.journal.record_trade(TradeRow(opp, STRATEGY, m.event_ticker, 1, Price(0), ctx.now_ms))
        self._mine[intent.client_order_id] = True
        reason = (
            f"{'YES bid' if want.side == 'bid' else 'NO bid'} at {usd_price(Price(price))} around fair "
            f"{usd_price(plan.fair)} ({plan.fair_source}), half-spread {usd_price(plan.half)}, skew "
            f"{usd_price(plan.skew)}: {usd(want.edge)} per contract after fee and allowance"
        )
        out, _ = ctx.executor.send(
            intent, leg, m, reference=Price(price), strategy=STRATEGY, ref=opp, purpose="quote", reason=reason
        )
        for obj in out:
            self._out(ctx, obj)
            if isinstance(obj, Order) and obj.order_id and obj.status == "resting":
                self._placed[obj.order_id] = _Placed(plan.fair, touch, ctx.now_ms)
        if any(isinstance(o, Order) and o.order_id for o in out):
            self.stats.created += 1

    def _refresh(self, o: ExchangeOrder) -> ExchangeOrder | None:
        """The exchange's view of one order, journaled (None when listing it failed)."""
        try:
            now = next((x for x in self.broker.orders(ticker=o.ticker) if x.order_id == o.order_id), None)
        except KalashiError:
            return None
        if now is not None:
            self.journal.upsert_order(now)
        return now

    def _cancel(
        self, ctx: ManageContext, o: ExchangeOrder, why: str, *, pull: bool = False, freed: bool = False
    ) -> bool:
        """Cancel one quote through the gate; ``freed``: the gate already counts it gone (a refused amend)."""
        d = ctx.gate.check_cancel(o)
        if d is not None:
            self.stats.denied += 1
            self._out(ctx, Denied(o.client_order_id, o.ticker, d.rule, d.reason, STRATEGY))
            return False
        try:
            self.broker.cancel(o.order_id, o.ticker)
        except NotFound:
            pass  # already gone (filled, expired): the refresh below records what became of it
        except KalashiError as e:
            self.journal.add_event(
                "quote-cancel-failed", {"order_id": o.order_id, "why": why, "error": str(e)}, ticker=o.ticker
            )
            return False
        now = self._refresh(o)
        if not freed:
            ctx.gate.release_quote(o)
        self._placed.pop(o.order_id, None)
        if pull:
            self.stats.pulled += 1
            self.journal.add_event(
                "quote-pulled",
                {"order_id": o.order_id, "side": o.side, "price": usd_price(o.price), "why": why},
                ticker=o.ticker,
            )
        else:
            self.stats.cancelled += 1
        return now is None or now.status != "resting"

    def _decrease(self, ctx: ManageContext, o: ExchangeOrder, to: Count) -> None:
        d = ctx.gate.check_cancel(o)
        if d is not None:
            self.stats.denied += 1
            return
        desk = self.broker
        if not (self.use_amend and isinstance(desk, OrderDesk)):
            return  # no decrease without amend support: the next re-price or the limit's cancel handles it
        try:
            desk.decrease(o, reduce_to=to)
        except KalashiError as e:
            self.journal.add_event("quote-decrease-failed", {"order_id": o.order_id, "error": str(e)}, ticker=o.ticker)
            self._refresh(o)
            return
        now = self._refresh(o)
        ctx.gate.release_quote(o)
        if now is not None and now.status == "resting":
            ctx.gate.hold_quote(now)
        self.stats.decreased += 1

    def _amend(
        self, ctx: ManageContext, m: Market, plan: QuotePlan, have: ExchangeOrder, want: QuoteSide, touch: Price | None
    ) -> None:
        """Re-price ``have`` in place by the executor's amend (gated as a whole, journaled first, renamed)."""
        key = f"{m.ticker}:{want.side}:{want.price}:{want.count}:{have.order_id}:{ctx.now_ms}"
        coid = client_order_id(have.client_order_id or have.order_id, 0, key, "amend")
        mine = own_order_denial(self.journal, OrderIntent(coid, m.ticker, want.side, want.price, want.count), have)
        if mine is not None:
            self._deny(
                ctx, Denied(f"{AMEND_PREFIX}{have.order_id}", m.ticker, mine.rule, mine.reason, STRATEGY), want.side
            )
            self._cancel(ctx, have, "its re-price would meet our own order")
            return
        self._mine[coid] = True
        t0 = time.perf_counter()
        done = ctx.executor.amend(
            have,
            m,
            price=want.price,
            count=Count(have.fill_count + want.count),
            client_order_id=coid,
            strategy=STRATEGY,
            concentration=self._concentration(m),
        )
        if done.denied is not None:
            self._deny(ctx, done.denied, want.side)
            if done.denied.rule != "duplicate":
                # a quote the gate would no longer admit at its new price does not stay at its old one either
                # (the gate already freed what it held when it weighed the amend)
                self._cancel(ctx, have, f"its re-price was refused ({done.denied.rule})", freed=True)
            return
        for f in done.fills:
            self._out(ctx, f)
        if done.order is None:  # refused by the exchange (gone, filled meanwhile), or its answer lost
            self.stats.denied += 1
            if not done.unknown:
                self._refresh(have)
            return
        now = done.order
        if now.status == "resting":
            self._placed[now.order_id] = _Placed(plan.fair, touch, ctx.now_ms)
        else:
            self._placed.pop(have.order_id, None)
        self.stats.amended += 1
        lat = Decimal(str(round((time.perf_counter() - t0) * 1000, 3)))
        self._out(ctx, _amend_record(self.broker.mode, m, plan, have, want, now, coid, lat))

    def _deny(self, ctx: ManageContext, d: Denied, side: Side) -> None:
        """Count a refused quote; record it when the refusal is new for that side (not every round again)."""
        self.stats.denied += 1
        key = (d.ticker, side)
        if self._denied.get(key) != d.rule:
            self._denied[key] = d.rule
            self._out(ctx, d)

    def _out(self, ctx: ManageContext, obj: object) -> None:
        rec = encode(obj)
        ctx.records.append(rec)
        ctx.emit(rec)

    # -- reporting --------------------------------------------------------------------------------
    def save(self) -> None:
        """Keep the cumulative counts in the journal (metrics reports them)."""
        self.journal.set_meta("quote_stats", orjson.dumps(self.stats.record()).decode())
        saved = self.journal.get_meta("quote_max_inventory")
        most = max(self.max_inventory_seen, parse_count(saved) if saved else 0)
        self.journal.set_meta("quote_max_inventory", fmt_count(Count(most)))

    def plan_of(self, ticker: str) -> QuotePlan | None:
        """The last plan made for ``ticker`` (for tests and the dashboard)."""
        return self._last_plans.get(ticker)


def fair_prices(values: Mapping[str, Any]) -> dict[str, tuple[Price, str]]:
    """Fair values (``FairValue`` by ticker) as (YES price, source) for :class:`ManageContext`."""
    return {t: (v.price, v.model) for t, v in values.items()}


def wanted_markets(candidates: Sequence[Any]) -> set[str]:
    """The markets ``spread`` candidates (analyze → correlate) say are worth starting to quote."""
    return {c.opportunity.legs[0].ticker for c in candidates if c.opportunity.strategy == STRATEGY}
