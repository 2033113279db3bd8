"""The risk profile: strict, typed, frozen YAML configuration shared by every stage.

Every threshold the engine uses lives here. Money is written as dollar strings
(``"100.00"``), fractions as decimals (``0.25``); unknown keys are errors that name the file,
the line and the key path. A JSON Schema is generated from the model
(``kalashi profile schema``) and committed as ``kalashi_cli/schemas/profile.schema.json``.

Profiles are found by name in the committed ``profiles/`` directory (shipped inside the
package as ``kalashi_cli.profiles``) or given as a path.
"""

from __future__ import annotations

from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal, get_type_hints

import msgspec

from .errors import ProfileError
from .money import Money, parse_money


class _B:
    """Bounds and description of a Decimal field.

    msgspec only bounds int/float, so these are checked after decoding (``_Strict``) and
    written into the generated JSON Schema by :func:`profile_schema`.
    """

    __slots__ = ("lo", "hi", "doc", "gt")

    def __init__(
        self, lo: str | int | None = 0, hi: str | int | None = None, doc: str = "", *, gt: bool = False
    ) -> None:
        self.lo = None if lo is None else Decimal(lo)
        self.hi = None if hi is None else Decimal(hi)
        self.doc, self.gt = doc, gt

    def schema(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.lo is not None:
            out["exclusiveMinimum" if self.gt else "minimum"] = float(self.lo)
        if self.hi is not None:
            out["maximum"] = float(self.hi)
        if self.doc:
            out["description"] = self.doc
        return out


def _I(lo: int | None = None, hi: int | None = None, doc: str = "") -> msgspec.Meta:  # noqa: N802
    """Bounds and description of an int field (msgspec checks these itself)."""
    return msgspec.Meta(ge=lo, le=hi, description=doc or None)


#: upper bounds that keep every value sane (and every fixed-unit integer far inside 64 bits):
#: an account of a billion dollars, a trillion contracts, a per-contract amount of at most $1
DOLLARS_MAX = 1_000_000_000
CONTRACTS_MAX = 1_000_000_000_000

Fraction = Annotated[Decimal, _B(0, 1)]
Dollars = Annotated[Decimal, _B(0, DOLLARS_MAX, 'Dollars, e.g. "100.00".')]
#: dollars per contract: a contract pays $1 at most
PerContract = Annotated[Decimal, _B(0, 1, "Dollars per contract (a contract pays $1 at most).")]


class _Strict(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    def __post_init__(self) -> None:
        cls = type(self)
        bounds = cls.__dict__.get("_bounds_cache")
        if bounds is None:
            bounds = {}
            for name, hint in get_type_hints(cls, include_extras=True).items():
                for meta in getattr(hint, "__metadata__", ()):
                    if isinstance(meta, _B):
                        bounds[name] = meta
            cls._bounds_cache = bounds  # type: ignore[attr-defined]
        for name, b in bounds.items():
            v = getattr(self, name)
            if not v.is_finite():
                raise ValueError(f"`{name}` must be a finite number")
            if b.lo is not None and (v <= b.lo if b.gt else v < b.lo):
                raise ValueError(f"`{name}` must be {'>' if b.gt else '>='} {b.lo}, got {v}")
            if b.hi is not None and v > b.hi:
                raise ValueError(f"`{name}` must be <= {b.hi}, got {v}")
        self._check()

    def _check(self) -> None:
        """Cross-field checks (second pass), overridden where needed."""


def money(d: Decimal) -> Money:
    """Convert a profile dollar amount to micro-dollars.

    Raises:
        ValueError: more than 6 decimals.
    """
    return parse_money(d)


class PaperSettings(_Strict, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """The paper account and how pessimistic paper fills are."""

    starting_balance: Dollars = Decimal("100.00")
    latency_ms: Annotated[
        int, _I(0, 60_000, "Time between deciding and the order arriving at the (simulated) book.")
    ] = 50


class ScanSettings(_Strict, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Which markets are worth analysing (the prefilter)."""

    statuses: tuple[str, ...] = ("active",)
    min_volume: Annotated[Decimal, _B(0, CONTRACTS_MAX, "Contracts traded; a market needs strictly more.")] = Decimal(
        100
    )
    min_open_interest: Annotated[Decimal, _B(0, CONTRACTS_MAX, "Open interest; a market needs strictly more.")] = (
        Decimal(50)
    )
    exclude_combo: bool = True
    min_hours_to_close: Annotated[Decimal, _B(0, 87_600)] = Decimal("0.1")
    max_days_to_close: Annotated[Decimal, _B(0, 36_500, gt=True)] = Decimal(365)
    batch_size: Annotated[int, _I(1, 1000, "Markets per batch (the batched orderbook endpoint takes up to 100).")] = 100
    depth_levels: Annotated[
        int,
        _I(
            0,
            1000,
            "Book levels per side kept in market records (0 = all). Orders are "
            "small next to the book, and records with full depth cost more to pass "
            "down a pipe than to analyse.",
        ),
    ] = 10


class CacheSettings(_Strict, frozen=True, forbid_unknown_fields=True, kw_only=True):
    ttl_seconds: Annotated[int, _I(0, 86_400)] = 60
    max_entries: Annotated[int, _I(1, 10_000_000)] = 200


class ArbitrageSettings(_Strict, frozen=True, forbid_unknown_fields=True, kw_only=True):
    enabled: bool = True
    min_edge: Annotated[
        Decimal, _B(0, 50, "Minimum guaranteed profit per basket (one contract on every leg), after fees, in dollars.")
    ] = Decimal("0.005")
    max_legs: Annotated[
        int, _I(2, 100, "Most markets in one basket: real mutually exclusive events have 16 outcomes and more.")
    ] = 32
    stop_before_close_seconds: Annotated[
        int, _I(0, 604_800, "No new baskets in a market this many seconds before it closes.")
    ] = 60


class SpreadSettings(_Strict, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """The market maker (``spread``): two-sided post-only quotes around fair value (docs/strategies.md)."""

    enabled: bool = True
    min_spread: Annotated[
        Decimal,
        _B(
            0,
            1,
            "Start quoting a market only when its spread is at least this wide, "
            "dollars (markets already quoted or held are managed whatever their spread).",
        ),
    ] = Decimal("0.04")
    adverse_selection: Annotated[
        Decimal,
        _B(
            0,
            1,
            "Allowance per contract for being filled just before the price moves "
            "against us, in dollars (markets of no class in adverse_selection_by_class).",
        ),
    ] = Decimal("0.01")
    adverse_selection_by_class: Annotated[
        dict[str, Decimal],
        msgspec.Meta(
            description=(
                "Adverse-selection allowance per market class, dollars: the key matches the start of the series ticker "
                "or the category, case-insensitive; the longest match wins. Empty here (adverse_selection for all); "
                "the default profile sets the documented guesses (crypto 0.02)."
            )
        ),
    ] = msgspec.field(default_factory=dict)
    min_edge: Annotated[
        Decimal,
        _B(
            0,
            1,
            "A quote that adds inventory must sit at least this far from fair value "
            "after the maker fee and the adverse-selection allowance, dollars.",
        ),
    ] = Decimal("0.005")
    confidence: Fraction = Decimal("0.35")
    stop_before_close_seconds: Annotated[
        int, _I(0, 604_800, "Quotes are pulled (and none placed) this many seconds before the market closes.")
    ] = 600
    volatility_multiple: Annotated[
        Decimal,
        _B(
            0,
            100,
            "The half-spread grows by this many times the market's "
            "recent mid volatility (mean absolute change per observation).",
        ),
    ] = Decimal(1)
    volatility_window: Annotated[
        int, _I(1, 10_000, "Observations the volatility estimate averages over (exponentially weighted).")
    ] = 20
    quote_size: Annotated[Decimal, _B(0, CONTRACTS_MAX, "Contracts per quote (each side).", gt=True)] = Decimal(5)
    max_inventory: Annotated[
        Decimal,
        _B(
            0,
            CONTRACTS_MAX,
            "Most contracts held in one market (YES or NO): at the "
            "limit only the side that reduces inventory is quoted.",
        ),
    ] = Decimal(25)
    max_event_inventory: Annotated[
        Decimal,
        _B(
            0,
            CONTRACTS_MAX,
            "Most contracts held over all markets of one event: at the limit only reducing quotes in that event.",
        ),
    ] = Decimal(50)
    skew_at_limit: Annotated[
        Decimal,
        _B(
            0,
            1,
            "Both quotes move against the position by this much at the "
            "inventory limit (in proportion below it), dollars.",
        ),
    ] = Decimal("0.02")
    requote_threshold: Annotated[
        Decimal,
        _B(
            0, 1, "Re-price a quote when fair value or the touch has moved more than this since it was placed, dollars."
        ),
    ] = Decimal("0.01")
    min_requote_seconds: Annotated[
        Decimal, _B(0, 86_400, "A quote is re-priced at most this often (market clock); pulls are never held back.")
    ] = Decimal(2)
    max_updates_per_second: Annotated[
        Decimal,
        _B(
            0,
            10_000,
            "Quote writes (create, amend, decrease, cancel) per "
            "second over all markets, a token bucket in front of the "
            "exchange's own (bursts of up to 5 seconds' worth); 0 = no limit of our own.",
        ),
    ] = Decimal(10)
    use_amend: Annotated[
        bool,
        msgspec.Meta(
            description=(
                "Re-price with Kalshi's V2 amend and shrink with decrease (keeps queue priority); false: cancel and "
                "create."
            )
        ),
    ] = True

    def _check(self) -> None:
        for key, v in self.adverse_selection_by_class.items():
            if not (v.is_finite() and 0 <= v <= 1):
                raise ValueError(f"`adverse_selection_by_class.{key}` must be from 0 up to 1 dollars, got {v}")

    def adverse_for(self, series: str, category: str) -> Decimal:
        """The adverse-selection allowance of a market: the longest class matching its series or category."""
        s, c = series.lower(), category.lower()
        best: tuple[int, Decimal] | None = None
        for key, v in self.adverse_selection_by_class.items():
            k = key.lower()
            if (s.startswith(k) or c == k) and (best is None or len(k) > best[0]):
                best = (len(k), v)
        return best[1] if best else self.adverse_selection


class ValueSettings(_Strict, frozen=True, forbid_unknown_fields=True, kw_only=True):
    enabled: bool = True
    min_edge: Annotated[
        Decimal, _B(0, 1, "Minimum expected profit per contract (fair value − all-in cost), in dollars.")
    ] = Decimal("0.03")
    confidence: Annotated[Decimal, _B(0, 1, "How much the fair-value model is trusted (scales score and sizing).")] = (
        Decimal("0.5")
    )
    use_sim_forecast: bool = True
    stop_before_close_seconds: Annotated[
        int, _I(0, 604_800, "No new positions this many seconds before the market closes.")
    ] = 300


class AnalyzeSettings(_Strict, frozen=True, forbid_unknown_fields=True, kw_only=True):
    arbitrage: ArbitrageSettings = ArbitrageSettings()
    spread: SpreadSettings = SpreadSettings()
    value: ValueSettings = ValueSettings()
    cache: CacheSettings = CacheSettings()
    liquidity_reference: Annotated[
        Decimal,
        _B(
            0,
            CONTRACTS_MAX,
            "Contracts available at a profitable price that count as fully liquid (liquidity = 1).",
            gt=True,
        ),
    ] = Decimal(50)


FairModelName = Literal["ladder", "crypto", "crypto-t"]

#: Kalshi crypto series → the spot product their settlement index tracks (docs/fair-value.md)
DEFAULT_CRYPTO_ASSETS: dict[str, str] = {
    "KXBTC": "BTC-USD",
    "KXBTCD": "BTC-USD",
    "KXBTC15M": "BTC-USD",
    "KXETH": "ETH-USD",
    "KXETHD": "ETH-USD",
    "KXETH15M": "ETH-USD",
}


class LadderFairSettings(_Strict, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """The ladder model: one monotone distribution fitted to every strike/bracket of an event."""

    min_depth: Annotated[
        Decimal,
        _B(
            0,
            CONTRACTS_MAX,
            "Contracts a quote needs (walking the book) before it bounds the fit; "
            "thinner quotes are tested against the fit instead.",
        ),
    ] = Decimal(25)


class CryptoFairSettings(_Strict, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """The crypto model: settlement index ≈ spot, lognormal (or Student-t) with realised volatility."""

    spot: Annotated[
        str,
        msgspec.Meta(
            description="Where spot comes from: coinbase, kraken (public WebSocket "
            "tickers, no key), coinbase:URL / kraken:URL, or file:PATH "
            "(CSV/JSONL of time, price)."
        ),
    ] = "coinbase"
    max_spot_age_seconds: Annotated[Decimal, _B(0, 86_400, "Spot older than this gives no fair value.", gt=True)] = (
        Decimal(10)
    )
    vol_lookback_seconds: Annotated[
        int, _I(60, 7 * 86_400, "Window of recent spot the realised volatility is measured over.")
    ] = 3600
    min_returns: Annotated[int, _I(2, 1_000_000, "Fewest spot returns in the window for a volatility estimate.")] = 30
    averaging_seconds: Annotated[
        int,
        _I(
            0, 3600, "Kalshi settles on the average of the CF Benchmarks index over this many seconds before the close."
        ),
    ] = 60
    tail_dof: Annotated[
        Decimal, _B(2, 100, "Degrees of freedom of the crypto-t model's Student-t (lower = fatter tails).", gt=True)
    ] = Decimal(4)
    basis_bps: Annotated[
        Decimal,
        _B(
            0,
            1000,
            "Assumed gap between the exchange spot and the settlement index, basis points (enters the standard error).",
        ),
    ] = Decimal(5)
    vol_annual: Annotated[
        Decimal | None,
        msgspec.Meta(
            description="A fixed annualised volatility (e.g. 0.5) instead of the realised one; null: realise it "
            "from spot (needs vol_lookback_seconds of history)."
        ),
    ] = None
    assets: dict[str, str] = msgspec.field(default_factory=lambda: dict(DEFAULT_CRYPTO_ASSETS))

    def _check(self) -> None:
        if self.vol_annual is not None and not (self.vol_annual.is_finite() and 0 < self.vol_annual <= 20):
            raise ValueError("`vol_annual` must be between 0 and 20 (e.g. 0.5 for 50 %), or null")


class FairSettings(_Strict, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Built-in fair-value models for the value strategy (analyze, run-loop) and `kalashi fair`."""

    models: Annotated[
        tuple[FairModelName, ...],
        msgspec.Meta(
            description="Models analyze and run-loop price markets with, first wins (empty: only fair records you "
            "pass in). None beat the market mid on the real data scored in docs/fair-value.md."
        ),
    ] = ()
    uncertainty_multiple: Annotated[
        Decimal, _B(0, 10, "The value strategy needs min_edge plus this many standard errors of the fair value.")
    ] = Decimal(1)
    max_age_seconds: Annotated[
        Decimal,
        _B(0, 86_400, "A fair value computed this much before the books it is compared with is ignored (0 = never)."),
    ] = Decimal(60)
    ladder: LadderFairSettings = LadderFairSettings()
    crypto: CryptoFairSettings = CryptoFairSettings()


DEFAULT_KEYWORDS: dict[str, tuple[str, ...]] = {
    "election": ("election", "president", "senate", "house", "governor", "pres", "vote", "primary", "poll", "politic"),
    "crypto": ("bitcoin", "btc", "ethereum", "eth", "crypto", "solana", "sol", "doge"),
    "stocks": ("s&p", "nasdaq", "inx", "dow", "stock", "index", "spx", "ndx", "financ"),
    "sports": ("nba", "nfl", "mlb", "nhl", "game", "match", "soccer", "tennis", "ufc", "golf", "sport"),
    "economy": ("cpi", "inflation", "fed", "rate", "gdp", "payroll", "jobs", "unemployment", "fomc", "econom"),
    "weather": ("temperature", "high", "rain", "snow", "hurricane", "weather", "degrees", "climate"),
}


class CorrelateSettings(_Strict, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Correlation groups, concentration caps and the extra edge a crowded group must show."""

    keyword_groups: dict[str, tuple[str, ...]] = msgspec.field(default_factory=lambda: dict(DEFAULT_KEYWORDS))
    exposure_edge_multiplier: Annotated[
        Decimal, _B(1, 100, "A group that already has exposure needs this × the minimum edge.")
    ] = Decimal("1.5")
    max_position_pct: Fraction = Decimal("0.20")
    max_group_pct: Fraction = Decimal("0.20")
    max_event_pct: Fraction = Decimal("0.25")


class SizingSettings(_Strict, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Fractional Kelly on all-in cost, shrunk by losing streaks and drawdown."""

    kelly_fraction: Fraction = Decimal("0.25")
    max_stake_pct: Annotated[Decimal, _B(0, 1, "Never stake more than this share of equity on one opportunity.")] = (
        Decimal("0.10")
    )
    loss_streak_shrink: Annotated[
        Decimal, _B(0, 1, "Each consecutive loss shrinks the Kelly fraction by this share.")
    ] = Decimal("0.15")
    drawdown_shrink: Annotated[
        Decimal, _B(0, 10, "Scale = 1 − drawdown_shrink × drawdown (10 % drawdown → 0.8 at 2.0).")
    ] = Decimal("2.0")
    min_scale: Fraction = Decimal("0.25")
    win_streak_growth: Annotated[
        Decimal, _B(0, 1, "Opt-in growth per consecutive win (0 = off); capped by max_scale.")
    ] = Decimal(0)
    max_scale: Annotated[Decimal, _B(1, 2)] = Decimal("1.0")
    min_count: Annotated[
        Decimal, _B(0, 1_000_000, "Smallest order worth placing, in contracts (also the size step).", gt=True)
    ] = Decimal(1)

    def _check(self) -> None:
        if self.min_scale > self.max_scale:
            raise ValueError("`min_scale` must not exceed `max_scale`")
        if self.min_count * 100 != int(self.min_count * 100):
            raise ValueError("`min_count` must be a multiple of 0.01 contract")


class RiskSettings(_Strict, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """The risk gate's limits and the trading-state machine's triggers."""

    max_order_cost: Dollars = Decimal("10.00")
    max_daily_cost: Dollars = Decimal("50.00")
    daily_loss_limit: Annotated[
        Decimal, _B(0, DOLLARS_MAX, "Loss since the start of the UTC day that moves the state to HALTED, dollars.")
    ] = Decimal("10.00")
    reducing_drawdown_pct: Annotated[
        Decimal, _B(0, 1, "Drawdown from peak equity that moves the state to REDUCING.")
    ] = Decimal("0.10")
    max_drawdown_pct: Annotated[Decimal, _B(0, 1, "Drawdown from peak equity that moves the state to HALTED.")] = (
        Decimal("0.20")
    )
    max_consecutive_losses: Annotated[int, _I(1, 10_000)] = 6
    max_open_orders: Annotated[int, _I(1, 100_000)] = 50
    max_reconcile_failures: Annotated[int, _I(1, 1_000)] = 3
    cancel_orphans: bool = False

    def _check(self) -> None:
        if self.reducing_drawdown_pct > self.max_drawdown_pct:
            raise ValueError("`reducing_drawdown_pct` must not exceed `max_drawdown_pct`")
        if self.max_order_cost > self.max_daily_cost:
            raise ValueError("`max_order_cost` must not exceed `max_daily_cost`")


class ExecutionSettings(_Strict, frozen=True, forbid_unknown_fields=True, kw_only=True):
    max_slippage_pct: Annotated[
        Decimal, _B(0, 1, "Worst acceptable price vs. the top of book when walking the book (and when unwinding).")
    ] = Decimal("0.02")
    taker_time_in_force: Literal["immediate_or_cancel", "fill_or_kill"] = "immediate_or_cancel"
    arbitrage_time_in_force: Literal["immediate_or_cancel", "fill_or_kill"] = "fill_or_kill"
    maker_expiry_seconds: Annotated[
        int, _I(0, 31_536_000, "Post-only quotes expire after this long (0 = good till cancelled).")
    ] = 600


class ExitRule(_Strict, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """When a strategy's open positions are sold before settlement (every rule off = hold to settlement)."""

    take_profit: Annotated[
        Decimal,
        _B(
            0,
            1,
            "Sell when the bid for the held side is at least this much above the "
            "entry price per contract, dollars (0 = off).",
        ),
    ] = Decimal(0)
    take_profit_at_fair: Annotated[
        bool,
        msgspec.Meta(
            description=(
                "Sell when the bid has reached the fair value (needs a fair value: a fair record, a model or the sim's "
                "forecast)."
            )
        ),
    ] = False
    stop_ticks: Annotated[
        int,
        _I(0, 10_000, "Sell when the mark (the held side's mid) is this many ticks below the entry price (0 = off)."),
    ] = 0
    stop_on_edge_reversal: Annotated[
        bool,
        msgspec.Meta(
            description=(
                "Sell when the fair value of the held side has fallen below the entry price: the edge that justified "
                "the entry has reversed."
            )
        ),
    ] = False
    time_stop_seconds: Annotated[int, _I(0, 604_800, "Sell a position held this long (market clock; 0 = off).")] = 0
    exit_before_close_seconds: Annotated[
        int, _I(0, 604_800, "Sell this many seconds before the market closes (0 = hold into the close).")
    ] = 0

    @property
    def any(self) -> bool:
        return bool(
            self.take_profit
            or self.take_profit_at_fair
            or self.stop_ticks
            or self.stop_on_edge_reversal
            or self.time_stop_seconds
            or self.exit_before_close_seconds
        )


class ExitSettings(_Strict, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Exit rules per strategy (docs/strategies.md "Exits"). Exits go through the risk gate as reduce-only
    immediate-or-cancel sells inside ``execution.max_slippage_pct``, journaled with their reason."""

    arbitrage: ExitRule = ExitRule()
    spread: ExitRule = ExitRule(exit_before_close_seconds=120)
    value: ExitRule = ExitRule(take_profit_at_fair=True, stop_on_edge_reversal=True)


class ValuationSettings(_Strict, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """How open positions are marked (docs/records.md "How positions are valued")."""

    mid_spread_cap: Annotated[
        Decimal,
        _B(
            0,
            1,
            "An open position is marked at its bid plus half the spread, but the "
            "spread counts only up to this width: a wide book is marked at most "
            "half of this above what the position sells for now, dollars.",
        ),
    ] = Decimal("0.04")


class LoopSettings(_Strict, frozen=True, forbid_unknown_fields=True, kw_only=True):
    interval_seconds: Annotated[Decimal, _B(0, 86_400)] = Decimal(10)
    reconcile_every: Annotated[int, _I(1, 1_000_000)] = 10


class SimSettings(_Strict, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """The built-in sim market (``--source sim``)."""

    forecast_skill: Annotated[
        Decimal | None,
        msgspec.Meta(
            description=(
                "Publish the sim's forecast (what the value strategy reads) with this skill: the share of the book's "
                "error it removes, 0 … 1 in steps of 0.01 (1 = the hidden probability itself, an oracle). Off (null) "
                "by default: then nothing a strategy reads knows more than the market, and records and metrics say "
                "when a forecast was used."
            )
        ),
    ] = None
    arbitrage_share: Annotated[
        Decimal | None,
        msgspec.Meta(
            description=(
                "The share of the sim's drawn arbitrage dislocations that stand, 0 … 1 in steps of 0.01. Null (the "
                "default) keeps the calibrated 0.05: riskless after-fee arbitrage is rare, lasts one step and is thin, "
                "as on Kalshi (docs/sim-calibration.md). Raise it only to watch the arbitrage path work: a run's "
                "arbitrage profit then says nothing about a real edge."
            )
        ),
    ] = None

    def _check(self) -> None:
        s = self.forecast_skill
        if s is not None and (not s.is_finite() or not 0 <= s <= 1 or s * 100 != int(s * 100)):
            raise ValueError("`forecast_skill` must be between 0 and 1 in steps of 0.01 (or null: off)")
        a = self.arbitrage_share
        if a is not None and (not a.is_finite() or not 0 <= a <= 1 or a * 100 != int(a * 100)):
            raise ValueError("`arbitrage_share` must be between 0 and 1 in steps of 0.01 (or null: calibrated)")

    @property
    def forecast_pct(self) -> int | None:
        """The forecast skill in whole percent (the sim descriptor's ``forecast=``), None when off."""
        return None if self.forecast_skill is None else int(self.forecast_skill * 100)

    @property
    def arbitrage_pct(self) -> int | None:
        """The arbitrage share in whole percent (the sim descriptor's ``arbitrage=``), None: calibrated."""
        return None if self.arbitrage_share is None else int(self.arbitrage_share * 100)


class RateLimitSettings(_Strict, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Token buckets used when /account/limits is not available (unauthenticated)."""

    read_per_second: Annotated[int, _I(1, 100_000)] = 200
    read_capacity: Annotated[int, _I(1, 100_000)] = 400
    write_per_second: Annotated[int, _I(1, 100_000)] = 100
    write_capacity: Annotated[int, _I(1, 100_000)] = 100


class Profile(_Strict, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """A complete risk profile."""

    name: str = "default"
    description: str = ""
    allow_live: Annotated[
        bool,
        msgspec.Meta(description="Live trading also needs --live and credentials; this alone never trades real money."),
    ] = False
    paper: PaperSettings = PaperSettings()
    scan: ScanSettings = ScanSettings()
    analyze: AnalyzeSettings = AnalyzeSettings()
    correlate: CorrelateSettings = CorrelateSettings()
    sizing: SizingSettings = SizingSettings()
    risk: RiskSettings = RiskSettings()
    execution: ExecutionSettings = ExecutionSettings()
    exits: ExitSettings = ExitSettings()
    valuation: ValuationSettings = ValuationSettings()
    loop: LoopSettings = LoopSettings()
    rate_limits: RateLimitSettings = RateLimitSettings()
    fair: FairSettings = FairSettings()
    sim: SimSettings = SimSettings()

    def tightened(self, **changes: Any) -> Profile:
        """Return a copy with risk limits changed, refusing any change that loosens a limit.

        Raises:
            ProfileError: a change would loosen a limit or names an unknown limit.
        """
        risk = msgspec.structs.asdict(self.risk)
        for key, value in changes.items():
            if key not in risk:
                near = did_you_mean(key, risk)
                raise ProfileError(
                    f"unknown risk limit '{key}'" + (f" (did you mean '{near}'?)" if near else ""),
                    hint=f"valid: {', '.join(sorted(risk))}",
                )
            old = risk[key]
            if isinstance(old, bool):
                new: Any = bool(value)
                looser = old and not new  # turning cancel_orphans off is looser
            else:
                new = type(old)(str(value)) if isinstance(old, Decimal) else type(old)(value)
                looser = new > old
            if looser:
                raise ProfileError(
                    f"risk.{key}: {new} would loosen the limit {old}",
                    hint="limits can be tightened at run time, never loosened",
                )
            risk[key] = new
        try:
            return msgspec.structs.replace(self, risk=RiskSettings(**risk))
        except (ValueError, msgspec.ValidationError) as e:
            raise ProfileError(f"risk: {e}") from None


# --------------------------------------------------------------------------- loading


def builtin_profiles() -> dict[str, str]:
    """Return ``{name: yaml text}`` of the profiles shipped with kalashi."""
    out: dict[str, str] = {}
    for entry in resources.files("kalashi_cli.profiles").iterdir():
        if entry.name.endswith(".yaml"):
            out[entry.name[:-5]] = entry.read_text(encoding="utf-8")
    return out


def _key_lines(text: str) -> dict[tuple[str, ...], int]:
    """Map every key path in a YAML document to its 1-based line number."""
    import yaml

    lines: dict[tuple[str, ...], int] = {}

    def walk(node: Any, path: tuple[str, ...]) -> None:
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                key = (*path, str(k.value))
                lines[key] = k.start_mark.line + 1
                walk(v, key)
        elif isinstance(node, yaml.SequenceNode):
            for i, v in enumerate(node.value):
                lines[(*path, str(i))] = v.start_mark.line + 1
                walk(v, (*path, str(i)))

    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return lines
    if root is not None:
        walk(root, ())
    return lines


#: a profile is a page of settings: anything bigger or deeper is refused before it is parsed
MAX_PROFILE_BYTES = 1_000_000
MAX_PROFILE_DEPTH = 20


class _Refused(Exception):
    """A YAML construct a profile may not use (alias, duplicate key, deep nesting), at a line."""

    def __init__(self, line: int, what: str) -> None:
        super().__init__(what)
        self.line, self.what = line, what


def _strict_load(text: str) -> Any:
    """``yaml.safe_load`` without aliases, duplicate keys or deep nesting (all refused with a line).

    Aliases are refused outright: a 1 KB "billion laughs" document expands to billions of
    nodes when walked, and a profile has nothing to share. Duplicate keys would otherwise let
    the last value silently win.

    Raises:
        _Refused: an alias, a duplicate key or nesting deeper than ``MAX_PROFILE_DEPTH``.
        yaml.YAMLError: the text is not YAML.
    """
    import yaml

    class Loader(yaml.SafeLoader):
        depth = 0

        def compose_node(self, parent: Any, index: Any) -> Any:
            if self.check_event(yaml.AliasEvent):
                ev = self.peek_event()
                raise _Refused(
                    ev.start_mark.line + 1,
                    f"YAML alias *{ev.anchor} is not allowed in a profile "
                    "(aliases and anchors are refused: write the value out)",
                )
            self.depth += 1
            if self.depth > MAX_PROFILE_DEPTH:
                mark = self.peek_event().start_mark
                raise _Refused(mark.line + 1, f"nested more than {MAX_PROFILE_DEPTH} levels deep")
            try:
                return super().compose_node(parent, index)
            finally:
                self.depth -= 1

        def construct_mapping(self, node: Any, deep: bool = False) -> Any:
            seen: set[Any] = set()
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    duplicate = key in seen
                except TypeError:  # an unhashable key: the base constructor names it
                    break
                if duplicate:
                    raise _Refused(key_node.start_mark.line + 1, f"duplicate key '{key}'")
                seen.add(key)
            return super().construct_mapping(node, deep)

    return yaml.load(text, Loader=Loader)  # noqa: S506 - a SafeLoader subclass


def parse_profile(text: str, source: str = "<profile>") -> Profile:
    """Parse and validate profile YAML.

    Raises:
        ProfileError: the YAML is malformed, empty, uses aliases or duplicate keys, or a key is
            unknown or invalid (names file, line, key path).
    """
    import yaml

    if len(text) > MAX_PROFILE_BYTES:
        raise ProfileError(
            f"{source}: {len(text)} characters is too big for a profile (at most {MAX_PROFILE_BYTES})",
            hint="check the path: a profile is a short YAML file",
        )
    try:
        data = _strict_load(text)
    except _Refused as e:
        raise ProfileError(f"{source}:{e.line}: {e.what}", hint="fix that line") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        raise ProfileError(
            f"{where}: not valid YAML ({getattr(e, 'problem', None) or e})", hint="fix the YAML syntax at that line"
        ) from None
    if data is None:
        raise ProfileError(
            f"{source}: the profile is empty",
            hint="write at least one key (`kalashi profile show > my.yaml` writes a complete one), "
            "or use a built-in profile by name",
        )
    if not isinstance(data, dict):
        raise ProfileError(
            f"{source}: a profile must be a mapping of keys, got {type(data).__name__}",
            hint="check the path: a profile is a YAML mapping of keys like the built-in default "
            "(`kalashi profile show > my.yaml` writes one to start from)",
        )
    data = _exact(data)
    problems = [_where(path, what, text, source) for path, what in _problems(data, Profile, ())]
    if not problems:
        try:
            return msgspec.convert(data, Profile, strict=False)
        except msgspec.ValidationError as e:  # a cross-field check, once every field is valid on its own
            problems = [_locate(str(e), text, source)]
    if len(problems) == 1:
        raise ProfileError(problems[0], hint=PROFILE_HINT)
    raise ProfileError(
        f"{source}: {len(problems)} problems — fix each ({PROFILE_HINT}):\n" + "\n".join(f"  {x}" for x in problems)
    )


PROFILE_HINT = "see `kalashi profile schema` for every key; run `kalashi profile validate FILE`"


def _strip(hint: Any) -> Any:
    """The type under ``Annotated[...]``."""
    return hint.__origin__ if getattr(hint, "__metadata__", None) is not None else hint


def _is_struct(t: Any) -> bool:
    return isinstance(t, type) and issubclass(t, msgspec.Struct)


def _key_paths(cls: type, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every key path of the profile's struct tree (sections and settings)."""
    out = []
    for name, hint in get_type_hints(cls, include_extras=True).items():
        out.append((*path, name))
        if _is_struct(_strip(hint)):
            out += _key_paths(_strip(hint), (*path, name))
    return out


def did_you_mean(word: str, choices: Any) -> str | None:
    """The choice closest to ``word`` (a typo's fix), or None when nothing is close."""
    import difflib

    found = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return found[0] if found else None


def _problems(data: Any, cls: type, path: tuple[str, ...]) -> list[tuple[tuple[str, ...], str]]:
    """Every problem of ``data`` as a ``cls`` section: unknown keys, bad types, values out of bounds.

    msgspec stops at the first error; this walks the struct tree itself so a profile's problems
    are all reported at once. Cross-field checks (``_check``) run afterwards, on a valid profile.
    """
    if not isinstance(data, dict):
        return [(path, f"expected a mapping of keys, got {type(data).__name__}")]
    hints = get_type_hints(cls, include_extras=True)
    out: list[tuple[tuple[str, ...], str]] = []
    for key, value in data.items():
        here = (*path, str(key))
        hint = hints.get(str(key))
        if hint is None:
            out.append((here, _unknown(here, hints)))
            continue
        inner = _strip(hint)
        if _is_struct(inner):
            out += _problems(value, inner, here)
            continue
        try:
            v = msgspec.convert(value, hint, strict=False)
        except msgspec.ValidationError as e:
            what = str(e).split(" - at `")[0].replace("`", "")
            allowed = _allowed(list(here))
            out.append((here, what + (f" (allowed: {allowed})" if allowed else "")))
            continue
        for meta in getattr(hint, "__metadata__", ()):
            if isinstance(meta, _B):
                bound = _bound_problem(v, meta)
                if bound:
                    out.append((here, bound))
    return out


def _bound_problem(v: Decimal, b: _B) -> str | None:
    """What is wrong with ``v`` against the bounds ``b`` (the same words as ``_Strict``), or None."""
    if not v.is_finite():
        return "must be a finite number"
    if b.lo is not None and (v <= b.lo if b.gt else v < b.lo):
        return f"must be {'>' if b.gt else '>='} {b.lo}, got {v}"
    if b.hi is not None and v > b.hi:
        return f"must be <= {b.hi}, got {v}"
    return None


def _unknown(path: tuple[str, ...], hints: dict[str, Any]) -> str:
    """ "unknown key 'a.b'", with the key it most likely meant."""
    what = f"unknown key '{'.'.join(path)}'"
    near = did_you_mean(path[-1], hints)
    if near:
        return f"{what} (did you mean '{'.'.join((*path[:-1], near))}'?)"
    elsewhere = [p for p in _key_paths(Profile) if p[-1] == path[-1]]
    if elsewhere:  # the right key in the wrong section
        return f"{what} (did you mean '{'.'.join(elsewhere[0])}'?)"
    return what


def _where(path: tuple[str, ...], what: str, text: str, source: str) -> str:
    """ "file:line: what" (unknown keys name themselves) or "file:line: a.b: what"."""
    lines = _key_lines(text)
    line = next((lines[path[:n]] for n in range(len(path), 0, -1) if path[:n] in lines), None)
    if not what.startswith("unknown key"):
        what = f"{'.'.join(path) or '(top level)'}: {what}"
    return f"{source}:{line}: {what}" if line else f"{source}: {what}"


def _exact(v: Any) -> Any:
    """YAML floats → their shortest decimal text, so 0.1 means exactly 0.1."""
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, dict):
        return {k: _exact(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_exact(x) for x in v]
    return v


def _locate(msg: str, text: str, source: str) -> str:
    """Turn msgspec's "… - at `$.a.b`" into "file:line: key a.b: …"."""
    import re

    what, _, where = msg.partition(" - at `")
    path = [p for p in re.split(r"\.|\[|\]", where.rstrip("`").removeprefix("$")) if p]
    unknown = re.match(r"Object contains unknown field `([^`]+)`", what)
    if unknown:
        path.append(unknown.group(1))
        what = f"unknown key '{'.'.join(path)}'"
    else:
        field = re.match(r"`([a-z_]+)` (must .*)", what)
        if field:  # a bound or cross-field check raised in __post_init__: point at the field
            path.append(field.group(1))
            what = field.group(2)
        what = f"{'.'.join(path) or '(top level)'}: {what.replace('`', '')}"
        allowed = _allowed(path)
        if allowed and "must be" not in what:
            what += f" (allowed: {allowed})"
    lines = _key_lines(text)
    line = next((lines[tuple(path[:n])] for n in range(len(path), 0, -1) if tuple(path[:n]) in lines), None)
    return f"{source}:{line}: {what}" if line else f"{source}: {what}"


def _allowed(path: list[str]) -> str | None:
    """The bounds of the numeric profile field at ``path`` in words ("1 to 100000"), or None."""
    cls: Any = Profile
    for i, name in enumerate(path):
        hints = get_type_hints(cls, include_extras=True) if isinstance(cls, type) else {}
        hint = hints.get(name)
        if hint is None:
            return None
        if i < len(path) - 1:
            cls = hint
            continue
        for meta in getattr(hint, "__metadata__", ()):
            if isinstance(meta, _B):
                lo = "" if meta.lo is None else f"{'more than' if meta.gt else 'from'} {meta.lo}"
                hi = "" if meta.hi is None else f"{'up to' if lo else 'at most'} {meta.hi}"
                return " ".join(x for x in (lo, hi) if x) or None
            if isinstance(meta, msgspec.Meta) and (meta.ge is not None or meta.le is not None):
                return (
                    f"an integer from {meta.ge} to {meta.le}"
                    if meta.ge is not None and meta.le is not None
                    else f"an integer of at least {meta.ge}"
                    if meta.ge is not None
                    else f"an integer of at most {meta.le}"
                )
    return None


def load_profile(name_or_path: str | None = None) -> Profile:
    """Load a built-in profile by name (``default``) or a YAML file by path.

    Raises:
        ProfileError: the profile does not exist or is invalid.
    """
    spec = name_or_path or "default"
    compiled = resources.files("kalashi_cli.profiles").joinpath(f"{spec}.compiled.json")
    if "/" not in spec and compiled.is_file():
        # Built-in profiles ship pre-parsed (profiles/<name>.compiled.json, kept equal to the YAML by
        # a drift test): every pipe stage is a fresh process, and importing PyYAML costs more than
        # the rest of loading the profile.
        import orjson

        try:
            return msgspec.convert(orjson.loads(compiled.read_bytes()), Profile, strict=False)
        except msgspec.ValidationError as e:
            raise ProfileError(f"profiles/{spec}.compiled.json: {e}", hint="reinstall kalashi") from None
    builtin = builtin_profiles()
    if spec in builtin:
        return parse_profile(builtin[spec], f"profiles/{spec}.yaml")
    path = Path(spec).expanduser()
    if not path.exists():
        if "/" in spec or spec.endswith((".yaml", ".yml")):
            raise ProfileError(
                f"profile file {spec} does not exist",
                hint=f"check the path, or use a built-in profile: {', '.join(sorted(builtin))}",
            )
        near = did_you_mean(spec, builtin)
        raise ProfileError(
            f"no profile named '{spec}'" + (f" (did you mean '{near}'?)" if near else ""),
            hint=f"use one of {', '.join(sorted(builtin))} or a path to a YAML file",
        )
    return parse_profile(read_profile_text(path), str(path))


def read_profile_text(path: Path) -> str:
    """Read a profile file as UTF-8 text, refusing huge and binary files before parsing.

    Raises:
        ProfileError: it cannot be read, is bigger than ``MAX_PROFILE_BYTES`` or is not UTF-8 text.
    """
    try:
        with path.open("rb") as f:
            raw = f.read(MAX_PROFILE_BYTES + 1)
    except OSError as e:
        raise ProfileError(f"{path}: cannot read ({e.strerror})") from None
    if len(raw) > MAX_PROFILE_BYTES:
        raise ProfileError(
            f"{path}: bigger than {MAX_PROFILE_BYTES} bytes, too big for a profile",
            hint="check the path: a profile is a short YAML file",
        )
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ProfileError(
            f"{path}: not a text file (byte 0x{raw[e.start]:02x} at offset {e.start} is not UTF-8)",
            hint="check the path: a profile is a YAML text file",
        ) from None


def compiled_profile(text: str, source: str) -> bytes:
    """The pre-parsed JSON form of a built-in profile's YAML (written by ``kalashi profile compile``)."""
    import orjson

    p = parse_profile(text, source)
    return orjson.dumps(msgspec.to_builtins(p, builtin_types=()), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)


def profile_schema() -> dict[str, Any]:
    """Return the JSON Schema of a profile (what ``kalashi profile schema`` prints)."""
    schema: dict[str, Any] = msgspec.json.schema(Profile)
    for cls in _structs(Profile):
        props = schema["$defs"][cls.__name__]["properties"]
        for name, hint in get_type_hints(cls, include_extras=True).items():
            for meta in getattr(hint, "__metadata__", ()):
                if isinstance(meta, _B):
                    props[name].update(meta.schema())

    def numbers_too(node: Any) -> None:
        # Decimals may be written as YAML numbers (0.25) or strings ("100.00").
        if isinstance(node, dict):
            if node.get("format") == "decimal":
                node.pop("format")
                node["type"] = ["string", "number"]
                node["pattern"] = r"^-?[0-9]+(\.[0-9]+)?$"
            for v in node.values():
                numbers_too(v)
        elif isinstance(node, list):
            for v in node:
                numbers_too(v)

    numbers_too(schema)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://kalashi.dev/schemas/profile.schema.json"
    return schema


def _structs(cls: type) -> list[type]:
    """The profile's struct classes, depth first."""
    out = [cls]
    for hint in get_type_hints(cls).values():
        if isinstance(hint, type) and issubclass(hint, msgspec.Struct):
            out.extend(x for x in _structs(hint) if x not in out)
    return out


def profile_to_yaml(p: Profile) -> str:
    """Render a profile as YAML (decimals as strings so they round-trip exactly)."""
    import yaml

    def conv(v: Any) -> Any:
        if isinstance(v, Decimal):
            return str(v)
        if isinstance(v, dict):
            return {k: conv(x) for k, x in v.items()}
        if isinstance(v, list | tuple):
            return [conv(x) for x in v]
        return v

    return str(
        yaml.safe_dump(conv(msgspec.to_builtins(p, builtin_types=(Decimal,))), sort_keys=False, allow_unicode=True)
    )


def write_compiled_profiles() -> list[Path]:
    """Regenerate ``profiles/<name>.compiled.json`` from the YAML (run ``python -m kalashi_cli.profile``)."""
    out = []
    folder = Path(str(resources.files("kalashi_cli.profiles")))
    for name, text in sorted(builtin_profiles().items()):
        target = folder / f"{name}.compiled.json"
        target.write_bytes(compiled_profile(text, f"profiles/{name}.yaml") + b"\n")
        out.append(target)
    return out


if __name__ == "__main__":
    for written in write_compiled_profiles():
        print(written)
