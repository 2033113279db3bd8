"""Domain types shared by every stage: markets with books, opportunities, orders and fills.

All prices, counts and money are ints in the fixed units of :mod:`kalashi_cli.money`.
Objects are immutable (frozen dataclasses); a stage derives new objects and never edits old
ones. Books are Kalshi-shaped: bids only, on both the YES and the NO side; a YES ask is
``1 − best NO bid`` (:mod:`kalashi_cli.money.flip`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from decimal import ROUND_CEILING, ROUND_HALF_EVEN, Decimal
from enum import StrEnum
from typing import Any, Literal

from .money import CENT_GRID, COUNT_SCALE, MULT_SCALE, Count, Money, Price, TickBand, flip

Outcome = Literal["yes", "no"]
Action = Literal["buy", "sell"]
Level = tuple[Price, Count]  # (price, size)


@dataclass(frozen=True, slots=True)
class Market:
    """One binary market with its order book (bids only, best first on each side)."""

    ticker: str
    event_ticker: str
    series_ticker: str
    title: str
    category: str
    status: str
    close_time: str
    yes_bids: tuple[Level, ...]  # YES bids, best (highest) first
    no_bids: tuple[Level, ...]  # NO bids in NO prices, best (highest) first
    volume: Count = Count(0)
    open_interest: Count = Count(0)
    fee_type: str = "quadratic"
    fee_multiplier: int = MULT_SCALE
    price_ranges: tuple[TickBand, ...] = CENT_GRID
    strike_type: str | None = None  # Kalshi strike_type: greater, less, between, …
    floor_strike: Decimal | None = None
    cap_strike: Decimal | None = None
    mutually_exclusive: bool = False  # the event's outcomes exclude each other
    exhaustive: bool | None = None  # exactly one outcome must happen (None: unknown)
    is_combo: bool = False  # multivariate / combo market
    last_price: Price | None = None
    forecast_p: Price | None = None  # the sim's published demo forecast (not a real model)
    exchange_index: int = 0
    event_market_count: int | None = None  # markets in the event, when the source knows it
    close_ts_ms: int | None = None  # close_time as Unix ms, when the source has it handy
    activity_known: bool = True  # False: the source has no volume/open interest (a bare replay)
    fractional_trading: bool = True  # Kalshi trades 0.01 contracts everywhere; False only when a market says so
    result: str = ""  # Kalshi's result once known (determined, settled): yes / no / scalar
    settlement_value: Price | None = None  # YES payout per contract once determined (scalar markets)

    # -- top of book ------------------------------------------------------------------
    @property
    def yes_bid(self) -> Price | None:
        return self.yes_bids[0][0] if self.yes_bids else None

    @property
    def yes_bid_size(self) -> Count:
        return self.yes_bids[0][1] if self.yes_bids else Count(0)

    @property
    def no_bid(self) -> Price | None:
        return self.no_bids[0][0] if self.no_bids else None

    @property
    def no_bid_size(self) -> Count:
        return self.no_bids[0][1] if self.no_bids else Count(0)

    @property
    def yes_ask(self) -> Price | None:
        """Best price to buy YES: 1 − best NO bid."""
        return flip(self.no_bids[0][0]) if self.no_bids else None

    @property
    def yes_ask_size(self) -> Count:
        return self.no_bids[0][1] if self.no_bids else Count(0)

    @property
    def no_ask(self) -> Price | None:
        """Best price to buy NO: 1 − best YES bid."""
        return flip(self.yes_bids[0][0]) if self.yes_bids else None

    @property
    def no_ask_size(self) -> Count:
        return self.yes_bids[0][1] if self.yes_bids else Count(0)

    def asks(self, outcome: Outcome) -> tuple[Level, ...]:
        """Levels at which ``outcome`` can be bought, best (cheapest) first, in that outcome's prices."""
        opposite = self.no_bids if outcome == "yes" else self.yes_bids
        return tuple((flip(p), s) for p, s in opposite)

    def bids(self, outcome: Outcome) -> tuple[Level, ...]:
        """Levels at which ``outcome`` can be sold, best (highest) first, in that outcome's prices."""
        return self.yes_bids if outcome == "yes" else self.no_bids


def _books_replacer() -> Callable[[Market, tuple[Level, ...], tuple[Level, ...]], Market]:
    """Build ``with_books(m, yes_bids, no_bids)``: ``dataclasses.replace`` for the two ladders, ~8× faster.

    ``replace`` re-runs ``__init__`` with keyword arguments (about 13 µs for Market's 25
    fields); scan trims every market's depth, so at 100 000 markets that alone was a second.
    Writing the slots directly builds the identical object.
    """
    ns: dict[str, Any] = {"_new": object.__new__, "_Market": Market}
    lines = ["def with_books(m, yes_bids, no_bids):", "    c = _new(_Market)"]
    for f in fields(Market):
        ns[f"_set_{f.name}"] = Market.__dict__[f.name].__set__
        value = f.name if f.name in ("yes_bids", "no_bids") else f"m.{f.name}"
        lines.append(f"    _set_{f.name}(c, {value})")
    lines.append("    return c")
    exec("\n".join(lines), ns)  # noqa: S102 - generated from the dataclass fields, like dataclasses does
    fn: Callable[[Market, tuple[Level, ...], tuple[Level, ...]], Market] = ns["with_books"]
    return fn


#: ``with_books(m, yes_bids, no_bids)`` — ``m`` with other ladders (see :func:`_books_replacer`)
with_books = _books_replacer()


@dataclass(frozen=True, slots=True)
class Leg:
    """One order of a (possibly multi-leg) trade, in the outcome's own price."""

    ticker: str
    outcome: Outcome
    action: Action
    price: Price  # limit price for this leg (worst acceptable, after walking the book)
    count: Count


@dataclass(frozen=True, slots=True)
class Opportunity:
    """A trade analyze found, with edge net of fees and a plain-words reason."""

    id: str
    strategy: Literal["arbitrage", "spread", "value"]
    event_ticker: str
    legs: tuple[Leg, ...]
    edge: Money  # net profit per basket (one contract on every leg), after fees
    edge_pct: Decimal  # edge / all-in cost per basket
    fees: Money  # total fees for the whole size
    confidence: Decimal  # 0..1
    liquidity: Decimal  # 0..1
    score: Decimal
    reason: str
    series_ticker: str = ""
    category: str = ""
    cost: Money = Money(0)  # all-in cost per basket (prices + fees per basket)
    p: Price | None = None  # win probability used for sizing (1.0 for arbitrage)
    maker: bool = False  # post-only maker quote
    payout: Price = Price(10_000)  # guaranteed (arbitrage) or winning (single leg) payout per basket, $1 = 10_000
    as_of_ms: int = 0  # source time of the books this was computed from
    src: str = ""  # source descriptor (records carry it so `order --paper` can rebuild the books)
    collateral: Money = Money(0)  # most cash one basket holds while its legs are sent (0: its cost)

    @property
    def riskless(self) -> bool:
        """An arbitrage: every outcome pays at least what the basket costs."""
        return self.strategy == "arbitrage"

    @property
    def worst_case(self) -> Money:
        """The most one basket can lose, fees included (negative: a guaranteed profit)."""
        return Money(self.cost - self.payout * COUNT_SCALE if self.riskless else self.cost)

    @property
    def capital(self) -> Money:
        """The cash one basket ties up: its collateral, else its all-in cost."""
        return self.collateral or self.cost


@dataclass(frozen=True, slots=True)
class Candidate:
    """An opportunity that passed correlation, with its group and size."""

    opportunity: Opportunity
    group: str
    required_edge: Money
    size: Count
    kelly_fraction: Decimal
    stake: Money


@dataclass(frozen=True, slots=True)
class Rejected:
    ref: str
    stage: str
    reason: str
    detail: dict[str, str] = field(default_factory=dict)
    code: str = ""  # stable, amount-free: what to group on (the reason embeds amounts)


@dataclass(frozen=True, slots=True)
class Order:
    client_order_id: str
    order_id: str
    mode: Literal["paper", "demo", "live"]
    ticker: str
    outcome: Outcome
    action: Action
    price: Price
    count: Count
    status: str  # resting | executed | canceled | rejected
    filled_count: Count
    avg_fill_price: Price | None
    fees: Money
    latency_ms: Decimal
    slippage_pct: Decimal
    strategy: str
    opportunity_id: str
    time_in_force: str = "immediate_or_cancel"
    post_only: bool = False
    reduce_only: bool = False
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Fill:
    order_id: str
    client_order_id: str
    ticker: str
    outcome: Outcome
    action: Action
    price: Price
    count: Count
    fee: Money
    is_taker: bool
    ts: str
    fill_id: str = ""


# --------------------------------------------------------------------------- exchange-level types
#
# Kalshi's V2 order API quotes everything on the YES leg: ``bid`` buys YES at ``price``, ``ask``
# sells YES at ``price`` (economically: buys NO at ``1 − price``). Strategies think in outcomes
# (buy NO at q); :func:`to_book_side` / :func:`from_book_side` are the one place that maps
# between the two vocabularies (REFERENCE §5.5).

BookSide = Literal["bid", "ask"]
TimeInForce = Literal["good_till_canceled", "immediate_or_cancel", "fill_or_kill"]
SelfTradePrevention = Literal["taker_at_cross", "maker"]


class OrderStatus(StrEnum):
    """An order's status on the exchange (Kalshi's strings; records and the journal carry the value)."""

    RESTING = "resting"
    CANCELED = "canceled"
    EXECUTED = "executed"


def to_book_side(outcome: Outcome, action: Action, price: Price) -> tuple[BookSide, Price]:
    """Map an outcome-side intent to V2's YES-leg ``(side, yes_price)``.

    buy YES p → (bid, p); sell YES p → (ask, p); buy NO q → (ask, 1 − q); sell NO q → (bid, 1 − q).
    """
    if outcome == "yes":
        return ("bid" if action == "buy" else "ask"), price
    return ("ask" if action == "buy" else "bid"), flip(price)


def from_book_side(side: BookSide, yes_price: Price, outcome: Outcome) -> tuple[Action, Price]:
    """Inverse of :func:`to_book_side` for a known outcome: ``(action, outcome_price)``."""
    if outcome == "yes":
        return ("buy" if side == "bid" else "sell"), yes_price
    return ("buy" if side == "ask" else "sell"), flip(yes_price)


@dataclass(frozen=True, slots=True)
class OrderIntent:
    """One order as the exchange sees it (CreateOrderV2Request), before it is sent.

    ``client_order_id`` is deterministic and journaled before sending; ``price`` is the YES
    price on the market's tick grid.
    """

    client_order_id: str
    ticker: str
    side: BookSide
    price: Price  # YES price
    count: Count
    time_in_force: TimeInForce = "immediate_or_cancel"
    self_trade_prevention_type: SelfTradePrevention = "taker_at_cross"
    post_only: bool = False
    reduce_only: bool = False
    expiration_ts: int | None = None  # Unix seconds, GTC only
    order_group_id: str | None = None
    cancel_order_on_pause: bool = False


@dataclass(frozen=True, slots=True)
class OrderAck:
    """The exchange's definite answer to a create (V2 create response)."""

    order_id: str
    client_order_id: str
    fill_count: Count
    remaining_count: Count
    average_fill_price: Price | None  # YES price
    average_fee_paid: Money | None  # per contract
    ts_ms: int
    status: OrderStatus = OrderStatus.EXECUTED


@dataclass(frozen=True, slots=True)
class ExchangeOrder:
    """An order as listed by the exchange (GET /portfolio/orders, WS user_order)."""

    order_id: str
    client_order_id: str
    ticker: str
    side: BookSide
    price: Price  # YES price
    status: OrderStatus
    initial_count: Count
    fill_count: Count
    remaining_count: Count
    taker_fees: Money = Money(0)
    maker_fees: Money = Money(0)
    taker_fill_cost: Money = Money(0)
    maker_fill_cost: Money = Money(0)
    created_ts_ms: int = 0
    time_in_force: str = ""
    order_group_id: str | None = None


@dataclass(frozen=True, slots=True)
class ExchangeFill:
    """One execution of one of our orders (GET /portfolio/fills, WS fill), YES-leg terms."""

    fill_id: str
    order_id: str
    ticker: str
    side: BookSide
    price: Price  # YES price
    count: Count
    fee: Money
    is_taker: bool
    ts_ms: int
    client_order_id: str = ""


@dataclass(frozen=True, slots=True)
class MarketPosition:
    """Net position in one market: ``position`` > 0 is YES contracts, < 0 is NO contracts."""

    ticker: str
    position: Count
    exposure: Money = Money(0)
    realized_pnl: Money = Money(0)
    fees_paid: Money = Money(0)


@dataclass(frozen=True, slots=True)
class Settlement:
    """A market's final result and, for an account, what it paid."""

    ticker: str
    event_ticker: str
    result: Literal["yes", "no", "scalar", ""]
    settled_ts_ms: int
    yes_count: Count = Count(0)
    no_count: Count = Count(0)
    revenue: Money = Money(0)
    value: Price | None = None  # YES payout per contract (1.0000 / 0.0000 / scalar)


@dataclass(frozen=True, slots=True)
class Trade:
    """A public trade in a market (other participants), YES-leg price."""

    trade_id: str
    ticker: str
    price: Price  # YES price
    count: Count
    taker_side: BookSide  # bid = taker bought YES
    ts_ms: int


@dataclass(frozen=True, slots=True)
class AccountLimits:
    """An API key's rate limits (GET /account/limits): token-bucket refill rates (tokens/s) and capacities."""

    usage_tier: str
    read_rate: int
    read_capacity: int
    write_rate: int
    write_capacity: int


@dataclass(frozen=True, slots=True)
class Balance:
    """Cash available to trade, per shard when known."""

    balance: Money
    portfolio_value: Money = Money(0)
    by_shard: tuple[tuple[int, Money], ...] = ()


@dataclass(frozen=True, slots=True)
class FairValue:
    """One model's probability that a market settles YES, with how sure it is.

    ``p`` and ``se`` are exact decimals (probability units: 0.01 = one cent per contract);
    ``inputs_ms`` is when the newest input it was computed from was observed (0: unknown).
    """

    ticker: str
    p: Decimal
    model: str
    inputs_ms: int = 0
    se: Decimal = Decimal(0)
    event_ticker: str = ""
    note: str = ""
    inputs: Mapping[str, Any] = field(default_factory=dict)

    @property
    def price(self) -> Price:
        """``p`` in price units (1/10 000 dollar), rounded half-even: what the value strategy compares."""
        return Price(int((self.p * 10_000).to_integral_value(ROUND_HALF_EVEN)))

    @property
    def se_money(self) -> Money:
        """``se`` as money per contract (micro-dollars), rounded up: the extra edge it costs."""
        return Money(int((self.se * 1_000_000).to_integral_value(ROUND_CEILING)))


@dataclass(frozen=True, slots=True)
class Denied:
    """An order the risk gate or the executor refused, with the rule and a plain reason."""

    ref: str
    ticker: str
    rule: str
    reason: str
    strategy: str = ""
