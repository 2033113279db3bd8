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
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from .errors import ProfileError
from .money import Money, parse_money

Fraction = Annotated[Decimal, Field(ge=0, le=1)]
PositiveDecimal = Annotated[Decimal, Field(gt=0)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


def _dollars(v: Any) -> Decimal:
    """Accept a dollar amount as a string or number, exactly (no binary float surprises)."""
    if isinstance(v, float):
        v = repr(v)
    if isinstance(v, int | str | Decimal) and not isinstance(v, bool):
        try:
            d = Decimal(str(v).strip())
        except ArithmeticError:
            raise ValueError(f"{v!r} is not a dollar amount such as \"100.00\"") from None
        if not d.is_finite():
            raise ValueError(f"{v!r} is not a dollar amount")
        if d.as_tuple().exponent < -6:  # type: ignore[operator]
            raise ValueError("dollar amounts have at most 6 decimals")
        return d
    raise ValueError("must be a dollar amount such as \"100.00\"")


Dollars = Annotated[Decimal, BeforeValidator(_dollars), Field(ge=0, json_schema_extra={"examples": ["100.00"]})]


def money(d: Decimal) -> Money:
    """Convert a profile dollar amount to micro-dollars."""
    return parse_money(d)


class PaperSettings(_Strict):
    """The paper account and how pessimistic paper fills are."""

    starting_balance: Dollars = Decimal("100.00")
    latency_ms: Annotated[int, Field(ge=0, le=60_000)] = 50
    """Time between deciding and the order arriving at the (simulated) book."""


class ScanSettings(_Strict):
    """Which markets are worth analysing (the prefilter)."""

    statuses: tuple[str, ...] = ("active",)
    min_volume: Annotated[Decimal, Field(ge=0)] = Decimal(100)
    min_open_interest: Annotated[Decimal, Field(ge=0)] = Decimal(50)
    exclude_combo: bool = True
    min_hours_to_close: Annotated[Decimal, Field(ge=0)] = Decimal("0.1")
    max_days_to_close: Annotated[Decimal, Field(gt=0)] = Decimal(365)
    batch_size: Annotated[int, Field(ge=1, le=1000)] = 100
    """Markets per batch (and per batched orderbook request on the real exchange, ≤ 100)."""


class CacheSettings(_Strict):
    ttl_seconds: Annotated[int, Field(ge=0, le=86_400)] = 60
    max_entries: Annotated[int, Field(ge=1, le=10_000_000)] = 200


class ArbitrageSettings(_Strict):
    enabled: bool = True
    min_edge: Dollars = Decimal("0.005")
    """Minimum guaranteed profit per basket (one contract on every leg), after fees."""
    max_legs: Annotated[int, Field(ge=2, le=50)] = 12


class SpreadSettings(_Strict):
    enabled: bool = True
    min_spread: Dollars = Decimal("0.04")
    adverse_selection: Dollars = Decimal("0.01")
    """Allowance per contract for being filled just before the price moves against us."""
    min_edge: Dollars = Decimal("0.005")
    confidence: Fraction = Decimal("0.35")


class ValueSettings(_Strict):
    enabled: bool = True
    min_edge: Dollars = Decimal("0.03")
    """Minimum expected profit per contract (fair value − all-in cost)."""
    confidence: Fraction = Decimal("0.5")
    """How much the fair-value model is trusted (scales score and sizing)."""
    use_sim_forecast: bool = True


class AnalyzeSettings(_Strict):
    arbitrage: ArbitrageSettings = ArbitrageSettings()
    spread: SpreadSettings = SpreadSettings()
    value: ValueSettings = ValueSettings()
    cache: CacheSettings = CacheSettings()
    liquidity_reference: Annotated[Decimal, Field(gt=0)] = Decimal(50)
    """Contracts available at a profitable price that count as fully liquid (liquidity = 1)."""


DEFAULT_KEYWORDS: dict[str, tuple[str, ...]] = {
    "election": ("election", "president", "senate", "house", "governor", "pres", "vote", "primary", "poll"),
    "crypto": ("bitcoin", "btc", "ethereum", "eth", "crypto", "solana", "sol", "doge"),
    "stocks": ("s&p", "nasdaq", "inx", "dow", "stock", "index", "spx", "ndx"),
    "sports": ("nba", "nfl", "mlb", "nhl", "game", "match", "soccer", "tennis", "ufc", "golf"),
    "economy": ("cpi", "inflation", "fed", "rate", "gdp", "payroll", "jobs", "unemployment", "fomc"),
    "weather": ("temperature", "high", "rain", "snow", "hurricane", "weather", "degrees"),
}


class CorrelateSettings(_Strict):
    """Correlation groups, concentration caps and the extra edge a crowded group must show."""

    keyword_groups: dict[str, tuple[str, ...]] = DEFAULT_KEYWORDS
    exposure_edge_multiplier: Annotated[Decimal, Field(ge=1)] = Decimal("1.5")
    max_position_pct: Fraction = Decimal("0.20")
    max_group_pct: Fraction = Decimal("0.20")
    max_event_pct: Fraction = Decimal("0.25")


class SizingSettings(_Strict):
    """Fractional Kelly on all-in cost, shrunk by losing streaks and drawdown."""

    kelly_fraction: Fraction = Decimal("0.25")
    max_stake_pct: Fraction = Decimal("0.10")
    """Never stake more than this share of equity on one opportunity."""
    loss_streak_shrink: Fraction = Decimal("0.15")
    """Each consecutive loss shrinks the Kelly fraction by this share (floored at min_scale)."""
    drawdown_shrink: Annotated[Decimal, Field(ge=0, le=10)] = Decimal("2.0")
    """Scale = 1 − drawdown_shrink × drawdown (e.g. 10 % drawdown → 0.8)."""
    min_scale: Fraction = Decimal("0.25")
    win_streak_growth: Fraction = Decimal("0")
    """Opt-in growth per consecutive win (0 = off); capped by max_scale."""
    max_scale: Annotated[Decimal, Field(ge=1, le=2)] = Decimal("1.0")
    min_count: Annotated[Decimal, Field(gt=0)] = Decimal("1")
    """Smallest order worth placing, in contracts."""


class RiskSettings(_Strict):
    """The risk gate's limits and the trading-state machine's triggers."""

    max_order_cost: Dollars = Decimal("10.00")
    max_daily_cost: Dollars = Decimal("50.00")
    daily_loss_limit: Dollars = Decimal("10.00")
    """Realized + unrealized loss today that moves the state to HALTED."""
    reducing_drawdown_pct: Fraction = Decimal("0.10")
    """Drawdown from peak equity that moves the state to REDUCING (no new entries)."""
    max_drawdown_pct: Fraction = Decimal("0.20")
    """Drawdown from peak equity that moves the state to HALTED."""
    max_consecutive_losses: Annotated[int, Field(ge=1)] = 6
    max_open_orders: Annotated[int, Field(ge=1)] = 50
    max_reconcile_failures: Annotated[int, Field(ge=1)] = 3
    cancel_orphans: bool = False
    """Cancel resting orders found on the exchange but not in the journal."""


class ExecutionSettings(_Strict):
    max_slippage_pct: Fraction = Decimal("0.02")
    """Worst acceptable price vs. the top of book when walking the book (and when unwinding)."""
    taker_time_in_force: Literal["immediate_or_cancel", "fill_or_kill"] = "immediate_or_cancel"
    arbitrage_time_in_force: Literal["immediate_or_cancel", "fill_or_kill"] = "fill_or_kill"
    maker_expiry_seconds: Annotated[int, Field(ge=0)] = 600
    """Post-only quotes expire after this long (0 = good till cancelled)."""


class LoopSettings(_Strict):
    interval_seconds: Annotated[Decimal, Field(ge=0)] = Decimal(10)
    reconcile_every: Annotated[int, Field(ge=1)] = 10


class RateLimitSettings(_Strict):
    """Token buckets used when /account/limits is not available (unauthenticated)."""

    read_per_second: Annotated[int, Field(ge=1)] = 200
    read_capacity: Annotated[int, Field(ge=1)] = 400
    write_per_second: Annotated[int, Field(ge=1)] = 100
    write_capacity: Annotated[int, Field(ge=1)] = 100


class Profile(_Strict):
    """A complete risk profile."""

    name: str = "default"
    description: str = ""
    allow_live: bool = False
    """Live trading also needs --live and credentials; this alone never trades real money."""
    paper: PaperSettings = PaperSettings()
    scan: ScanSettings = ScanSettings()
    analyze: AnalyzeSettings = AnalyzeSettings()
    correlate: CorrelateSettings = CorrelateSettings()
    sizing: SizingSettings = SizingSettings()
    risk: RiskSettings = RiskSettings()
    execution: ExecutionSettings = ExecutionSettings()
    loop: LoopSettings = LoopSettings()
    rate_limits: RateLimitSettings = RateLimitSettings()

    @model_validator(mode="after")
    def _cross_checks(self) -> Profile:
        # Second pass: relations between fields that one field alone cannot check.
        r = self.risk
        if r.reducing_drawdown_pct > r.max_drawdown_pct:
            raise ValueError("risk.reducing_drawdown_pct must not exceed risk.max_drawdown_pct")
        if r.max_order_cost > r.max_daily_cost:
            raise ValueError("risk.max_order_cost must not exceed risk.max_daily_cost")
        if self.sizing.min_scale > self.sizing.max_scale:
            raise ValueError("sizing.min_scale must not exceed sizing.max_scale")
        if self.scan.batch_size > 1000:
            raise ValueError("scan.batch_size must be at most 1000")
        return self

    # tightening at run time (MCP, bridge): only ever towards safer values
    def tightened(self, **changes: Any) -> Profile:
        """Return a copy with risk limits changed, refusing any change that loosens a limit.

        Raises:
            ProfileError: a change would loosen a limit or names an unknown limit.
        """
        risk = self.risk.model_dump()
        for key, value in changes.items():
            if key not in risk:
                raise ProfileError(f"unknown risk limit '{key}'", hint=f"valid: {', '.join(sorted(risk))}")
            old = risk[key]
            new = type(old)(value) if not isinstance(old, bool) else bool(value)
            looser = (new > old) if key not in ("cancel_orphans",) else (not new and old)
            if looser:
                raise ProfileError(f"risk.{key}: {new} would loosen the limit {old}",
                                   hint="limits can be tightened at run time, never loosened")
            risk[key] = new
        return self.model_copy(update={"risk": RiskSettings(**risk)})


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


def parse_profile(text: str, source: str = "<profile>") -> Profile:
    """Parse and validate profile YAML.

    Raises:
        ProfileError: the YAML is malformed or a key is unknown or invalid (names file, line, key path).
    """
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        raise ProfileError(f"{where}: not valid YAML ({getattr(e, 'problem', e)})",
                           hint="fix the YAML syntax at that line") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ProfileError(f"{source}: a profile must be a mapping of keys, got {type(data).__name__}")
    try:
        return Profile.model_validate(data)
    except ValidationError as e:
        lines = _key_lines(text)
        problems = []
        for err in e.errors():
            path = tuple(str(p) for p in err["loc"])
            line = None
            for n in range(len(path), 0, -1):
                if path[:n] in lines:
                    line = lines[path[:n]]
                    break
            where = f"{source}:{line}" if line else source
            key = ".".join(path) or "(top level)"
            if err["type"] == "extra_forbidden":
                msg = f"unknown key '{key}'"
            else:
                msg = f"{key}: {err['msg']}"
            problems.append(f"{where}: {msg}")
        raise ProfileError("; ".join(problems),
                           hint="see `kalashi profile schema` for every key; run `kalashi profile validate FILE`") from None


def load_profile(name_or_path: str | None = None) -> Profile:
    """Load a built-in profile by name (``default``) or a YAML file by path.

    Raises:
        ProfileError: the profile does not exist or is invalid.
    """
    spec = name_or_path or "default"
    builtin = builtin_profiles()
    if spec in builtin:
        return parse_profile(builtin[spec], f"profiles/{spec}.yaml")
    path = Path(spec).expanduser()
    if not path.exists():
        raise ProfileError(f"no profile named '{spec}'",
                           hint=f"use one of {', '.join(sorted(builtin))} or a path to a YAML file")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ProfileError(f"{path}: cannot read ({e.strerror})") from None
    return parse_profile(text, str(path))


def profile_schema() -> dict[str, Any]:
    """Return the JSON Schema of a profile (what ``kalashi profile schema`` prints)."""
    schema = Profile.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://kalashi.dev/schemas/profile.schema.json"
    return schema


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

    return str(yaml.safe_dump(conv(p.model_dump()), sort_keys=False, allow_unicode=True))
