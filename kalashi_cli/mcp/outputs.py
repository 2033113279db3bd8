"""The MCP tools' structured answers: pydantic models whose JSON Schemas are the tools' output schemas.

Records pass through in kalashi's record shapes (prices, counts and money as decimal strings),
published with their kind's record schema. ``extra="allow"``: a field the service adds passes
through instead of being dropped.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal, TypeAlias

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from .schemas import record_schema, without_descriptions

# records inside an answer: their schema without the fields' descriptions (docs/records.md has them)
MarketRec: TypeAlias = Annotated[dict[str, Any], WithJsonSchema(without_descriptions(record_schema("market")))]
OpportunityRec: TypeAlias = Annotated[
    dict[str, Any], WithJsonSchema(without_descriptions(record_schema("opportunity")))
]
OrderRec: TypeAlias = Annotated[dict[str, Any], WithJsonSchema(without_descriptions(record_schema("order")))]
FillRec: TypeAlias = Annotated[dict[str, Any], WithJsonSchema(without_descriptions(record_schema("fill")))]
HealthRec: TypeAlias = Annotated[dict[str, Any], WithJsonSchema(without_descriptions(record_schema("health")))]

# the record schemas' patterns (and descriptions): compacted output schemas share them as $defs
_Dollars = Annotated[str, Field(pattern=r"^-?[0-9]+\.([0-9]{4}|[0-9]{6})$", description="dollars")]
_PriceStr = Annotated[str, Field(pattern=r"^-?[0-9]+\.[0-9]{4}$", description="dollars, 4 decimals")]
_CountStr = Annotated[str, Field(pattern=r"^-?[0-9]+\.[0-9]{2}$", description="contracts, 2 decimals")]
_Time = Annotated[str, Field(description="ISO 8601 UTC")]
_Next = Annotated[str, Field(description="pass it as `cursor` for the next page; empty: this was the last page")]


class _Out(BaseModel):
    model_config = ConfigDict(extra="allow")


class _RecordOut(_Out):
    """A bare record at the top level, published with its kind's record schema."""

    record_kind: ClassVar[str]

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema: Any, handler: Any) -> dict[str, Any]:
        return record_schema(cls.record_kind)


class DataSourceOut(_Out):
    # where the market data comes from: sim and replay are not the exchange's data now
    kind: Literal["sim", "replay", "exchange"]
    source: str
    note: str


class MarketOut(_RecordOut):
    record_kind = "market"

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema: Any, handler: Any) -> dict[str, Any]:
        schema = record_schema("market")
        schema["properties"]["data_source"] = DataSourceOut.model_json_schema()
        return schema


class MetricsOut(_RecordOut):
    record_kind = "metrics"


class BalanceOut(_Out):
    mode: Literal["paper", "demo", "live"]
    balance: _Dollars = Field(description="what the broker would let you spend now (cash less resting orders)")
    cash: _Dollars
    equity: _Dollars = Field(description="cash plus open positions at their marks")
    equity_marked: _Dollars = Field(
        description="the part of equity valued at marks (a book, or a closed market's last mark)"
    )
    equity_settled: _Dollars = Field(description="the part of equity that is cash or a known result")
    starting_balance: _Dollars


class PositionOut(_Out):
    ticker: str
    title: str
    outcome: Literal["yes", "no"]
    count: _CountStr
    avg_price: _PriceStr
    mark: _PriceStr | None
    unrealized_pnl: _Dollars | None
    cost: _Dollars
    realized_pnl: _Dollars
    group: str


class PositionsOut(_Out):
    positions: list[PositionOut]


class ExchangeOrderOut(_Out):
    order_id: str
    client_order_id: str
    ticker: str
    side: Literal["bid", "ask"] = Field(description="on the YES book: bid = buy YES / sell NO, ask = sell YES / buy NO")
    yes_price: _PriceStr
    status: str
    count: _CountStr = Field(description="the order's total (filled + remaining)")
    filled: _CountStr
    remaining: _CountStr
    created: str | None


class OrdersOut(_Out):
    count: int = Field(description="orders on this page")
    orders: list[ExchangeOrderOut] = Field(description="newest first")
    cursor: _Next


class OrderOut(_Out):
    order: ExchangeOrderOut


class ExchangeFillOut(_Out):
    fill_id: str
    order_id: str
    ticker: str
    side: Literal["bid", "ask"] = Field(description="on the YES book: bid = bought YES / sold NO")
    yes_price: _PriceStr
    count: _CountStr
    fee: _Dollars
    is_taker: bool
    ts: str


class FillsOut(_Out):
    count: int
    fills: list[ExchangeFillOut] = Field(description="newest first")
    cursor: _Next


class SettlementOut(_Out):
    ticker: str
    event_ticker: str
    result: str
    yes_count: _CountStr
    no_count: _CountStr
    revenue: _Dollars
    settled: str


class SettlementsOut(_Out):
    count: int
    settlements: list[SettlementOut] = Field(description="newest first")
    cursor: _Next


class EventOut(_Out):
    event_ticker: str
    series_ticker: str
    category: str
    mutually_exclusive: bool | None
    exhaustive: bool | None
    markets: list[MarketRec]
    data_source: DataSourceOut | None = None


class MarketsOut(_Out):
    count: int = Field(description="markets on this page")
    markets: list[MarketRec]
    cursor: _Next = ""
    data_source: DataSourceOut | None = None


class OrderbookOut(_Out):
    ticker: str
    yes_bids: list[tuple[_PriceStr, _CountStr]] = Field(description="YES bids, best first: [price, size]")
    no_bids: list[tuple[_PriceStr, _CountStr]] = Field(
        description="NO bids in NO prices, best first; a NO bid at q is a YES ask at 1 - q"
    )
    yes_bid: _PriceStr | None
    yes_ask: _PriceStr | None
    no_bid: _PriceStr | None
    no_ask: _PriceStr | None
    data_source: DataSourceOut | None = None


class OrderResultOut(_Out):
    order: OrderRec
    fills: list[FillRec]


class AmendOut(_Out):
    order: ExchangeOrderOut = Field(description="the order as amended (renamed: a new client_order_id)")
    previous: ExchangeOrderOut = Field(description="the order before the amend")
    fills: list[FillRec] = Field(description="fills the new price took at once, if it crossed")


class DecreaseOut(_Out):
    order: ExchangeOrderOut
    remaining: _CountStr
    reduced_by: _CountStr


class BatchItemOut(_Out):
    index: int = Field(description="the order's position in the request, from 0")
    ok: bool
    order: OrderRec | None = Field(description="the order record (also when it did not execute)")
    fills: list[FillRec]
    error: str | None = Field(description="why it failed: the kalashi error class, then what happened")


class BatchOut(_Out):
    placed: int = Field(description="orders that rest, executed or partly filled")
    failed: int
    results: list[BatchItemOut]


class CancelOut(_Out):
    order_id: str
    reduced_by: _CountStr


class CancelItemOut(_Out):
    order_id: str
    reduced_by: _CountStr | None = None
    error: str | None = None


class BatchCancelOut(_Out):
    cancelled: int
    failed: int
    results: list[CancelItemOut]


class CancelAllOut(_Out):
    cancelled: int
    order_ids: list[str] = Field(description="the orders that were resting")
    errors: list[CancelItemOut]
    remaining_resting: int


class QueuePositionOut(_Out):
    order_id: str
    client_order_id: str
    ticker: str
    ahead: _CountStr = Field(description="contracts ahead of the order at its price (0.00: it fills next)")


class QueueOut(_Out):
    count: int
    queue_positions: list[QueuePositionOut]


class BucketOut(_Out):
    refill_rate: int = Field(description="tokens per second (a request costs 10, a cancel 2)")
    bucket_capacity: int


class ApiLimitsOut(_Out):
    usage_tier: str
    read: BucketOut
    write: BucketOut


class AccountLimitsOut(_Out):
    mode: Literal["paper", "demo", "live"]
    api: ApiLimitsOut | None = Field(description="the exchange's rate limits for this API key; null on paper")
    risk: dict[str, str] = Field(description="the risk gate's limits as they hold now (tightened ones included)")


class TradeOut(_Out):
    trade_id: str
    ticker: str
    yes_price: _PriceStr
    no_price: _PriceStr
    count: _CountStr
    taker_outcome: Literal["yes", "no"] = Field(description="the outcome the taker bought")
    ts: _Time


class TradesOut(_Out):
    count: int
    trades: list[TradeOut] = Field(description="newest first")
    cursor: _Next
    data_source: DataSourceOut | None = None


class OhlcOut(_Out):
    open: _PriceStr | None
    high: _PriceStr | None
    low: _PriceStr | None
    close: _PriceStr | None


class TradeOhlcOut(OhlcOut):
    mean: _PriceStr | None = Field(description="volume-weighted mean trade price")
    previous: _PriceStr | None = Field(description="the last trade price before the period")


class CandleOut(_Out):
    end: _Time | None = Field(description="when the period ends")
    yes_bid: OhlcOut
    yes_ask: OhlcOut
    price: TradeOhlcOut = Field(description="trade prices in the period (null when nothing traded)")
    volume: _CountStr
    open_interest: _CountStr


class CandlesOut(_Out):
    ticker: str
    period_minutes: int
    count: int
    candles: list[CandleOut] = Field(description="oldest first")
    data_source: DataSourceOut | None = None


class EventRowOut(_Out):
    event_ticker: str
    series_ticker: str
    title: str
    category: str
    mutually_exclusive: bool
    status: str
    markets: int | None = Field(description="markets in the event (null when the venue does not say)")
    close_time: str | None


class EventsOut(_Out):
    count: int = Field(description="events on this page")
    total: int = Field(description="events matching the filters")
    events: list[EventRowOut]
    cursor: _Next
    data_source: DataSourceOut | None = None


class SeriesRowOut(_Out):
    series_ticker: str
    title: str
    category: str
    frequency: str
    fee_type: str
    fee_multiplier: str


class SeriesOut(_Out):
    count: int
    total: int
    series: list[SeriesRowOut]
    cursor: _Next
    data_source: DataSourceOut | None = None


class ExchangeStatusOut(_Out):
    exchange_active: bool
    trading_active: bool = Field(description="whether orders are taken now")
    estimated_resume_time: str | None
    mode: Literal["paper", "demo", "live"]
    data_source: DataSourceOut | None = None


class DayHoursOut(_Out):
    open_time: str
    close_time: str


class HoursOut(_Out):
    start_time: str | None = Field(description="from when these hours hold (null: always)")
    end_time: str | None
    days: dict[str, list[DayHoursOut]] = Field(description="monday … sunday: the open intervals of that day")


class WindowOut(_Out):
    start_datetime: str
    end_datetime: str


class ScheduleOut(_Out):
    standard_hours: list[HoursOut]
    maintenance_windows: list[WindowOut]
    note: str
    data_source: DataSourceOut | None = None


class FeedItemOut(_Out):
    title: str
    link: str | None
    published: str | None = Field(description="ISO 8601 UTC when parseable")
    summary: str = Field(description="plain text, HTML stripped")


class FeedOut(_Out):
    url: str
    final_url: str
    format: Literal["rss", "atom", "rdf"]
    title: str
    items: list[FeedItemOut]
    note: str


class OpportunitiesOut(_Out):
    count: int
    opportunities: list[OpportunityRec]
    data_source: DataSourceOut | None = None


class HealthOut(_Out):
    ok: bool
    mode: str
    trading_state: Literal["ACTIVE", "REDUCING", "HALTED"]
    reason: str
    checks: list[HealthRec]


class LimitsOut(_Out):
    changed: dict[str, str]
    limits: dict[str, str]


class HaltOut(_Out):
    state: str
    reason: str
    cancelled: int
    remaining_resting: int
    error: str
