"""The wire shape of every record kind (JSON Lines contract v1), as code.

The committed JSON Schemas under ``kalashi_cli/schemas/records/`` are generated from these
declarations (``python -m kalashi_cli.record_schema``) and a drift test keeps them current; the
encoder in :mod:`kalashi_cli.records` is tested against them. Prices are dollar strings with
four decimals, counts strings with two, money dollar strings with four (six when finer).
Additional fields are allowed — consumers must ignore what they do not know.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec

PriceStr = Annotated[str, msgspec.Meta(pattern=r"^-?[0-9]+\.[0-9]{4}$", description="dollars, 4 decimals")]
CountStr = Annotated[str, msgspec.Meta(pattern=r"^-?[0-9]+\.[0-9]{2}$", description="contracts, 2 decimals")]
MoneyStr = Annotated[str, msgspec.Meta(pattern=r"^-?[0-9]+\.([0-9]{4}|[0-9]{6})$", description="dollars")]
DecStr = Annotated[str, msgspec.Meta(pattern=r"^-?[0-9]+(\.[0-9]+)?$", description="a decimal number")]
Outcome = Literal["yes", "no"]
Action = Literal["buy", "sell"]


class _Rec(msgspec.Struct, kw_only=True):
    v: Literal[1] = 1


class TickBandRec(msgspec.Struct):
    start: PriceStr
    end: PriceStr
    step: PriceStr


class Depth(msgspec.Struct):
    yes: list[tuple[PriceStr, CountStr]]
    no: list[tuple[PriceStr, CountStr]]


class MarketRecord(_Rec, tag="market", tag_field="kind"):
    """One market with top of book and depth (bids only on each side, best first)."""

    ticker: str
    event_ticker: str
    series_ticker: str
    title: str
    category: str
    status: str
    close_time: str
    yes_bid: PriceStr | None
    yes_ask: PriceStr | None
    no_bid: PriceStr | None
    no_ask: PriceStr | None
    yes_bid_size: CountStr
    yes_ask_size: CountStr
    volume: CountStr
    open_interest: CountStr
    fee_type: str
    fee_multiplier: DecStr
    price_ranges: list[TickBandRec] = []
    depth: Depth | None = None
    event_market_count: int | None = None
    fractional_trading: bool = True
    ts: str | None = None
    src: str | None = None


class LegRecord(msgspec.Struct):
    ticker: str
    outcome: Outcome
    action: Action
    price: PriceStr
    count: CountStr


class OpportunityRecord(_Rec, tag="opportunity", tag_field="kind"):
    """A trade analyze found; edge is per basket (one contract on every leg), net of fees."""

    id: str
    strategy: Literal["arbitrage", "spread", "value"]
    event_ticker: str
    legs: list[LegRecord]
    edge: MoneyStr
    edge_pct: DecStr
    fees: MoneyStr
    confidence: DecStr
    liquidity: DecStr
    score: DecStr
    reason: str
    cost: MoneyStr | None = None
    payout: PriceStr | None = None
    collateral: Annotated[
        MoneyStr | None,
        msgspec.Meta(
            description="most cash one basket ties up while its legs are sent (less than cost where the exchange "
            "nets collateral); capital is ranked by edge per dollar of it"
        ),
    ] = None
    p: PriceStr | None = None
    maker: bool = False
    as_of_ms: int = 0
    src: str = ""


class CandidateRecord(OpportunityRecord, tag="candidate", tag_field="kind", kw_only=True):
    """An opportunity that passed correlation, with its group and Kelly size."""

    group: str
    required_edge: MoneyStr
    size: CountStr
    kelly_fraction: DecStr
    stake: MoneyStr


#: the stable codes of `rejected` records (what `reason` explains, with its amounts)
REJECTED_CODES = (
    "below-min-edge",
    "group-exposure-edge",
    "kelly-too-small",
    "position-cap",
    "group-cap",
    "event-cap",
    "order-cap",
)


class RejectedRecord(_Rec, tag="rejected", tag_field="kind"):
    """An opportunity correlate did not pass on, with a stable `code` and a plain reason."""

    ref: str
    stage: str
    code: Annotated[
        str,
        msgspec.Meta(
            description="Stable and free of amounts, to group on: "
            + ", ".join(REJECTED_CODES)
            + " (other stages may add codes; group on it rather than on the reason)."
        ),
    ]
    reason: str


class OrderRecord(_Rec, tag="order", tag_field="kind"):
    client_order_id: str
    order_id: str
    mode: Literal["paper", "demo", "live"]
    ticker: str
    outcome: Outcome
    action: Action
    price: PriceStr
    count: CountStr
    status: str
    filled_count: CountStr
    avg_fill_price: PriceStr | None
    fees: MoneyStr
    latency_ms: DecStr
    slippage_pct: DecStr
    strategy: str
    opportunity_id: str


class FillRecord(_Rec, tag="fill", tag_field="kind"):
    order_id: str
    client_order_id: str
    ticker: str
    outcome: Outcome
    action: Action
    price: PriceStr
    count: CountStr
    fee: MoneyStr
    is_taker: bool
    ts: str


class DeniedRecord(_Rec, tag="denied", tag_field="kind"):
    """An order the risk gate (or the executor) refused, with the rule and a plain reason."""

    ref: str
    ticker: str
    rule: str
    code: Annotated[
        str,
        msgspec.Meta(
            description="Stable and free of amounts, to group on: the same as `rule` (the risk rule or executor "
            "check that refused the order, e.g. duplicate, already-quoting, max-order-cost)."
        ),
    ]
    reason: str


class Execution(msgspec.Struct):
    avg_latency_ms: DecStr
    avg_slippage_pct: DecStr
    fill_rate: DecStr


class CacheStats(msgspec.Struct):
    hit_rate: DecStr


class ApiStats(msgspec.Struct):
    calls: int
    calls_per_iteration: DecStr


class Recommendation(msgspec.Struct):
    title: str
    detail: str
    numbers: dict[str, Any]


class MarkoutsRec(msgspec.Struct, kw_only=True):
    """The mid after each fill less its price, signed in the fill's favour, averaged per contract (dollars)."""

    fills: int
    m1: Annotated[MoneyStr | None, msgspec.Meta(description="1 minute after the fill")] = msgspec.field(
        default=None, name="1m"
    )
    m5: Annotated[MoneyStr | None, msgspec.Meta(description="5 minutes after the fill")] = msgspec.field(
        default=None, name="5m"
    )
    settlement: Annotated[MoneyStr | None, msgspec.Meta(description="at settlement (the payout)")] = None


class StrategyMetrics(msgspec.Struct, kw_only=True):
    """One strategy: trades (a basket is one), P&L, fees, turnover, markouts."""

    trades: Annotated[int, msgspec.Meta(description="closed trades")]
    wins: int
    win_rate: Annotated[DecStr, msgspec.Meta(description="over closed trades")]
    pnl: MoneyStr
    losses: int | None = None
    open_trades: int | None = None
    realized_pnl: MoneyStr | None = None
    unrealized_pnl: MoneyStr | None = None
    fees: MoneyStr | None = None
    turnover: MoneyStr | None = None
    exposure_weighted_return: DecStr | None = None
    markouts: MarkoutsRec | None = None
    exits: Annotated[
        dict[str, int] | None,
        msgspec.Meta(
            description="exits sent per rule (take-profit, stop, time-stop, …): their P&L is in this strategy's"
        ),
    ] = None
    quotes: Annotated[
        dict[str, int] | None,
        msgspec.Meta(
            description="the market maker's quote writes: created, amended, decreased, cancelled, pulled, denied, "
            "held_back, updates"
        ),
    ] = None
    inventory: Annotated[
        dict[str, CountStr] | None,
        msgspec.Meta(
            description="the market maker's inventory in contracts: now (open trades) and the most held in one market"
        ),
    ] = None


class Performance(msgspec.Struct, kw_only=True):
    """Risk-adjusted figures of per-iteration equity changes (not annualised)."""

    sharpe: DecStr | None
    sortino: DecStr | None
    exposure_weighted_return: Annotated[
        DecStr | None, msgspec.Meta(description="P&L per dollar of average exposure (open positions' cost)")
    ]
    equity_changes: int


class MetricsRecord(_Rec, tag="metrics", tag_field="kind"):
    trades: Annotated[int, msgspec.Meta(description="closed trades: every leg of a basket is one trade")]
    wins: int
    losses: int
    win_rate: DecStr
    realized_pnl: MoneyStr
    unrealized_pnl: MoneyStr
    equity: MoneyStr
    max_drawdown_pct: DecStr
    consecutive_wins: int
    consecutive_losses: int
    per_strategy: dict[str, StrategyMetrics]
    execution: Execution
    cache: CacheStats
    api: ApiStats
    recommendations: list[Recommendation]
    equity_marked: Annotated[
        MoneyStr | None,
        msgspec.Meta(description="the part of equity valued at marks (books, or the last mark of a closed market)"),
    ] = None
    equity_settled: Annotated[
        MoneyStr | None, msgspec.Meta(description="the part of equity that is cash or a known result")
    ] = None
    marks: Annotated[
        dict[str, int] | None, msgspec.Meta(description="open positions per valuation rule: book, last, result, cost")
    ] = None
    turnover: MoneyStr | None = None
    open_trades: int | None = None
    performance: Performance | None = None
    sim_forecast_skill: DecStr | None = None  # set when the run's sim published a forecast (then value read it)


class IterationRecord(_Rec, tag="iteration", tag_field="kind"):
    n: int
    started: str
    duration_ms: DecStr
    markets: int
    opportunities: int
    candidates: int
    orders: int
    state: Literal["ACTIVE", "REDUCING", "HALTED"]
    equity: MoneyStr | None = None
    equity_marked: Annotated[
        MoneyStr | None,
        msgspec.Meta(description="the part of equity valued at marks (books, or the last mark of a closed market)"),
    ] = None
    equity_settled: Annotated[
        MoneyStr | None, msgspec.Meta(description="the part of equity that is cash or a known result")
    ] = None
    exposure: Annotated[MoneyStr | None, msgspec.Meta(description="what open positions cost")] = None
    exits: Annotated[int | None, msgspec.Meta(description="positions an exit rule fired on this iteration")] = None
    quotes: Annotated[
        dict[str, int] | None,
        msgspec.Meta(
            description="the market maker's quote writes this iteration (created, amended, decreased, cancelled, "
            "pulled, denied, held_back, updates)"
        ),
    ] = None
    quotes_resting: Annotated[int | None, msgspec.Meta(description="the market maker's quotes resting after it")] = None
    inventory: Annotated[CountStr | None, msgspec.Meta(description="contracts the market maker's open trades hold")] = (
        None
    )


class HealthRecord(_Rec, tag="health", tag_field="kind"):
    """One health check (heal)."""

    name: str
    status: Literal["ok", "degraded", "failed"]
    detail: str
    latency_ms: DecStr | None = None


class StatsRecord(_Rec, tag="stats", tag_field="kind"):
    """Counters a stage reports at the end of its input (cache hits, API calls …)."""

    stage: str


class RepairRecord(_Rec, tag="repair", tag_field="kind"):
    """One thing heal did (or tried) to keep the system healthy (heal's stdout, the journal, the status)."""

    ts: str
    action: Annotated[str, msgspec.Meta(description="restart, kill-hung, give-up, reconcile, halt or resync")]
    target: str
    ok: bool
    detail: str


class HaltRecord(_Rec, tag="halt", tag_field="kind"):
    """What `kalashi halt` did: HALTED is stored first, then resting orders are cancelled."""

    state: Literal["HALTED"]
    reason: str
    cancelled: int
    remaining_resting: Annotated[
        int | None,
        msgspec.Meta(description="resting orders left; -1 when the exchange could not list them, null when deferred"),
    ]
    error: str = ""
    deferred: Annotated[
        bool,
        msgspec.Meta(
            description="a running loop holds the account: the halt is stored and that loop cancels its orders"
        ),
    ] = False


class ResolvedIntent(msgspec.Struct):
    client_order_id: str
    found: bool
    order_id: str | None = None
    late: bool = False


class ReconcileRecord(_Rec, tag="reconcile", tag_field="kind"):
    """What `kalashi reconcile` adopted from the exchange (ok false: it failed, see error)."""

    ok: bool
    resolved: list[ResolvedIntent]
    fills_added: int
    orders_updated: int
    orphans: list[str]
    orphans_cancelled: int
    position_drift: Annotated[
        dict[str, tuple[CountStr, CountStr]],
        msgspec.Meta(
            description="ticker → [journal, exchange] net position (YES > 0, NO < 0), adopted from the exchange"
        ),
    ]
    duplicates: list[str]
    balance_drift: Annotated[
        tuple[MoneyStr, MoneyStr] | None,
        msgspec.Meta(description="[journal cash, exchange balance] when money moved that no fill explains"),
    ]
    unstable: bool
    error: str


class ResumeRecord(_Rec, tag="resume", tag_field="kind"):
    """`kalashi resume --confirm` cleared the stored halt."""

    state: Literal["ACTIVE"]
    was_halted: bool
    halt_reason: str
    cleared_limits: dict[str, str] | None = None  # with --clear-limits: the tightened limits dropped


class RecordingRecord(_Rec, tag="recording", tag_field="kind"):
    """The summary `kalashi record` prints once the recording file is complete."""

    path: str
    markets: int
    rest_calls: int
    ws_frames: int
    duration_ms: int


class DemoKey(msgspec.Struct):
    key_id: str
    private_key_path: str


class SimExchangeRecord(_Rec, tag="sim-exchange", tag_field="kind"):
    """The first line of `kalashi sim-exchange`: where it listens, once it is ready."""

    url: str
    ws_url: str
    control_url: str
    port: int
    keys: list[str]
    markets: int
    step: int
    speed: float  # market seconds per wall second: 1 = wall-clock pace, 0 = steps only on POST /_sim/step
    clock: str  # the clock in force, in words
    demo_key: DemoKey | None = None


ProbStr = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^(0(\.[0-9]+)?|1(\.0+)?|\.[0-9]+)$", description="a probability in [0, 1] as an exact decimal string"
    ),
]


class FairRecord(_Rec, tag="fair", tag_field="kind"):
    """A model's probability that a market settles YES (`kalashi fair`, or your own program).

    `analyze --fair` trades a market on the value strategy only when it has one, and only when
    the edge after fees clears the profile's minimum plus `fair.uncertainty_multiple` × `se`.
    """

    ticker: str
    p: ProbStr
    model: Annotated[str, msgspec.Meta(description="which model (ladder, crypto, crypto-t, or your own name)")]
    se: Annotated[ProbStr, msgspec.Meta(description="standard error of p (0 when the model does not say)")] = "0"
    inputs_ts: Annotated[
        str | None, msgspec.Meta(description="ISO-8601 time of the newest input p was computed from (books, spot)")
    ] = None
    event_ticker: str | None = None
    note: Annotated[str | None, msgspec.Meta(description="e.g. the books were inconsistent (an arbitrage)")] = None
    inputs: Annotated[
        dict[str, Any] | None, msgspec.Meta(description="what the model saw (spot, volatility, bounds …), for people")
    ] = None


class FairScoreRecord(_Rec, tag="fair-score", tag_field="kind"):
    """How one model (or the market mid) scored against settled results (`kalashi fair --evaluate`)."""

    model: str
    dataset: str
    n: Annotated[int, msgspec.Meta(description="scored snapshots (market × sample time)")]
    markets: int
    events: Annotated[int, msgspec.Meta(description="independent events: the honest sample size")]
    brier: DecStr | None
    log_loss: DecStr | None
    brier_vs_mid: Annotated[
        DecStr | None,
        msgspec.Meta(description="Brier minus the market mid's on the same snapshots (negative: better than the mid)"),
    ] = None
    brier_vs_mid_ci: Annotated[
        tuple[DecStr, DecStr] | None, msgspec.Meta(description="95 % interval of brier_vs_mid, resampling whole events")
    ] = None
    reliability: list[dict[str, Any]] = []
    trades: int = 0
    pnl: Annotated[
        MoneyStr,
        msgspec.Meta(
            description="value strategy after fees: one contract at the best ask per sampled signal, held to settlement"
        ),
    ] = "0.0000"


class BacktestRecord(_Rec, tag="backtest", tag_field="kind"):
    """One backtest's summary (`kalashi backtest`; with --sweep one per point, best first)."""

    starting_balance: MoneyStr
    equity: MoneyStr
    pnl: MoneyStr
    return_pct: DecStr | None
    fees: MoneyStr
    trades: Annotated[int, msgspec.Meta(description="trades opened (a basket is one trade)")]
    closed_trades: int
    win_rate: DecStr
    sharpe: Annotated[DecStr | None, msgspec.Meta(description="of per-iteration equity changes")]
    sortino: DecStr | None
    max_drawdown_pct: DecStr
    exposure_avg: MoneyStr
    orders: int
    fills: int
    maker_fill_rate: Annotated[
        DecStr | None,
        msgspec.Meta(description="contracts filled / contracts quoted, over resting (good-till-canceled) orders"),
    ]
    iterations: int
    events: Annotated[int, msgspec.Meta(description="recorded events played")]
    latency_ms: Annotated[int | str, msgspec.Meta(description="decision → arrival at the book")]
    sources: list[str]
    complete: Annotated[bool, msgspec.Meta(description="every event of every file was played")]
    played_to: Annotated[str | None, msgspec.Meta(description="ISO time of the last event played")]
    settled_by: Annotated[
        dict[str, int],
        msgspec.Meta(description="markets settled from the recording, from --results, or left to the valuation rule"),
    ]
    profile: str
    report: Annotated[str | None, msgspec.Meta(description="report.html, with --out")] = None
    point: Annotated[dict[str, Any] | None, msgspec.Meta(description="with --sweep: {n, rank, overrides}")] = None


RECORD_TYPES: dict[str, type[msgspec.Struct]] = {
    "market": MarketRecord,
    "opportunity": OpportunityRecord,
    "candidate": CandidateRecord,
    "rejected": RejectedRecord,
    "order": OrderRecord,
    "fill": FillRecord,
    "denied": DeniedRecord,
    "metrics": MetricsRecord,
    "iteration": IterationRecord,
    "health": HealthRecord,
    "stats": StatsRecord,
    "repair": RepairRecord,
    "halt": HaltRecord,
    "reconcile": ReconcileRecord,
    "resume": ResumeRecord,
    "recording": RecordingRecord,
    "sim-exchange": SimExchangeRecord,
    "fair": FairRecord,
    "fair-score": FairScoreRecord,
    "backtest": BacktestRecord,
}

SCHEMA_DIR = Path(__file__).parent / "schemas" / "records"


def schema_for(kind: str) -> dict[str, Any]:
    """Return the JSON Schema of one record kind (additional properties allowed)."""
    schema: dict[str, Any] = msgspec.json.schema(RECORD_TYPES[kind])
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"https://kalashi.dev/schemas/records/{kind}.schema.json"
    schema["title"] = f"kalashi {kind} record (v1)"
    return schema


def write_schemas(directory: Path = SCHEMA_DIR) -> list[Path]:
    """Regenerate the committed schema files; return their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    out = []
    for kind in RECORD_TYPES:
        p = directory / f"{kind}.schema.json"
        p.write_text(json.dumps(schema_for(kind), indent=2, sort_keys=True) + "\n", encoding="utf-8")
        out.append(p)
    return out


if __name__ == "__main__":
    for path in write_schemas():
        print(path)
