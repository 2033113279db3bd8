"""The MCP tools' argument types: every one described, bounded and parsed exactly (no floats, no exponents)."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

_TICKER_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"
Ticker = Annotated[
    str, Field(pattern=_TICKER_PATTERN, description="a Kalshi market ticker, e.g. KXBTCD-26JAN01-T100000")
]
EventTicker = Annotated[str, Field(pattern=_TICKER_PATTERN, description="a Kalshi event ticker, e.g. KXBTCD-26JAN01")]
SeriesTicker = Annotated[str, Field(pattern=_TICKER_PATTERN, description="a Kalshi series ticker, e.g. KXBTCD")]
Limit = Annotated[int, Field(ge=1, le=1000, description="at most this many results on this page")]
PageSize = Annotated[int, Field(ge=1, le=200, description="at most this many results on this page")]
Cursor = Annotated[
    str,
    Field(
        min_length=1,
        max_length=512,
        pattern=r"^[A-Za-z0-9+/=_:.~-]+$",
        description="the `cursor` of the previous answer, to get the next page; omit it for the first page",
    ),
]
Query = Annotated[
    str,
    Field(
        min_length=1,
        max_length=200,
        description='words that must all appear in the title (case-insensitive), e.g. "bitcoin price"',
    ),
]
Category = Annotated[
    str, Field(min_length=1, max_length=100, description="a category, e.g. Politics, Crypto, Sports (case-insensitive)")
]
_PLAIN = re.compile(r"^[+-]?[0-9]+(\.[0-9]+)?$")


def _plain_decimal(v: Any) -> Any:
    """Take a count or price only as plain decimal digits: "1e2" is refused, never read as 100.

    Non-finite words (NaN, inf) pass on so the field's own check names them.
    """
    if isinstance(v, bool):
        raise ValueError("must be a number, not true/false")
    if isinstance(v, int):
        return v
    if isinstance(v, float):
        text = repr(v)
        if math.isfinite(v) and not _PLAIN.match(text):
            raise ValueError(f"{text} is not a plain decimal number: write the digits, without an exponent")
        return text if math.isfinite(v) else v
    if isinstance(v, str):
        t = v.strip()
        if not _PLAIN.match(t) and t.lower().lstrip("+-") not in ("nan", "snan", "inf", "infinity"):
            raise ValueError(
                f'{v!r} is not a plain decimal number: write the digits, e.g. "10" or "2.50", without an exponent'
            )
        return t
    return v


def _number_or_text(pattern: str, **bounds: int) -> WithJsonSchema:
    """The published schema of an exact decimal: a JSON number within bounds, or plain digits as text.

    (pydantic would publish its own constraint names, which JSON Schema validators ignore.)
    """
    return WithJsonSchema({"anyOf": [{"type": "number", **bounds}, {"type": "string", "pattern": pattern}]})


Count = Annotated[
    Decimal,
    BeforeValidator(_plain_decimal),
    Field(gt=0, le=1_000_000, decimal_places=2, allow_inf_nan=False),
    _number_or_text(r"^\+?[0-9]+(\.[0-9]{1,2})?$", exclusiveMinimum=0, maximum=1_000_000),
    Field(
        description="contracts (up to 2 decimals; whole contracts on a market without fractional "
        "trading), as a number or a plain decimal string — no exponent"
    ),
]
LeftCount = Annotated[
    Decimal,
    BeforeValidator(_plain_decimal),
    Field(ge=0, le=1_000_000, decimal_places=2, allow_inf_nan=False),
    _number_or_text(r"^\+?[0-9]+(\.[0-9]{1,2})?$", minimum=0, maximum=1_000_000),
    Field(description="contracts to leave resting (0 cancels the order), up to 2 decimals — no exponent"),
]
Price = Annotated[
    Decimal,
    BeforeValidator(_plain_decimal),
    Field(gt=0, lt=1, decimal_places=4, allow_inf_nan=False),
    _number_or_text(r"^\+?0?\.[0-9]{1,4}$", exclusiveMinimum=0, exclusiveMaximum=1),
    Field(
        description="limit price in dollars for the chosen outcome (NO price for outcome=no), on "
        'the market\'s tick grid, e.g. "0.45" — no exponent'
    ),
]
YesPrice = Annotated[
    Decimal,
    BeforeValidator(_plain_decimal),
    Field(gt=0, lt=1, decimal_places=4, allow_inf_nan=False),
    _number_or_text(r"^\+?0?\.[0-9]{1,4}$", exclusiveMinimum=0, exclusiveMaximum=1),
    Field(
        description="the new YES price in dollars (orders are listed on the YES book: "
        'yes_price), on the market\'s tick grid, e.g. "0.44" — no exponent'
    ),
]
Probability = Annotated[Decimal, Field(gt=0, lt=1, allow_inf_nan=False, description="a probability, e.g. 0.62")]
ClientOrderId = Annotated[
    str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$", description="your idempotency key; the same id is never sent twice")
]
OrderId = Annotated[
    str,
    Field(
        min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._:-]+$", description="an order_id as get_orders lists it"
    ),
]
Dollars = Annotated[Decimal, Field(ge=0, allow_inf_nan=False, description="dollars")]
Fraction = Annotated[Decimal, Field(ge=0, le=1, allow_inf_nan=False, description="a fraction, e.g. 0.1 = 10 %")]
PositiveInt = Annotated[int, Field(ge=1, description="a whole number, 1 or more")]
Reason = Annotated[str, Field(min_length=1, max_length=200, description="why, in a few words")]
FeedUrl = Annotated[str, Field(min_length=1, max_length=2048, description="an http(s) URL of an RSS or Atom feed")]
Outcome = Annotated[Literal["yes", "no"], Field(description="the outcome the order buys or sells")]
Action = Annotated[Literal["buy", "sell"], Field(description="buy or sell that outcome")]
TimeInForce = Annotated[
    Literal["immediate_or_cancel", "fill_or_kill", "good_till_canceled"],
    Field(
        description="immediate_or_cancel: take what is there now, cancel the rest; "
        "fill_or_kill: all now or nothing; good_till_canceled: rest in the book"
    ),
]
PostOnly = Annotated[
    bool,
    Field(
        description="rest only: refuse to take liquidity (the order is canceled if it "
        "would cross); good_till_canceled orders"
    ),
]
ReduceOnly = Annotated[
    bool,
    Field(
        description="only bring the position in this market towards zero (sell what you "
        "hold); needs time_in_force immediate_or_cancel"
    ),
]
Period = Annotated[Literal[1, 60, 1440], Field(description="candle length in minutes: 1, 60 (an hour) or 1440 (a day)")]
EventStatus = Annotated[
    Literal["open", "unopened", "closed", "settled", "any"],
    Field(description="open (trading now, the default), unopened, closed, settled, or any"),
]


def seconds(v: str) -> int:
    """An ISO 8601 time (``2026-01-01T12:00:00Z``; no zone = UTC) as Unix seconds. Raises: ValueError."""
    try:
        t = datetime.fromisoformat(v.strip().replace("z", "Z"))
    except ValueError:
        raise ValueError(f"{v!r} is not an ISO 8601 time like 2026-01-01T12:00:00Z") from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    return int(t.timestamp())


def _checked_time(v: str) -> str:
    seconds(v)
    return v


Timestamp = Annotated[
    str,
    Field(min_length=4, max_length=40, description="an ISO 8601 time, e.g. 2026-01-01T12:00:00Z (UTC if no zone)"),
    AfterValidator(lambda v: _checked_time(v)),
]


class OrderSpec(BaseModel):
    """One order of a batch: the same fields as create_order."""

    model_config = ConfigDict(extra="forbid")

    ticker: Ticker
    outcome: Outcome
    action: Action
    count: Count
    price: Price
    time_in_force: TimeInForce = "immediate_or_cancel"
    post_only: PostOnly = False
    reduce_only: ReduceOnly = False
    client_order_id: ClientOrderId | None = None


def text(d: Decimal) -> str:
    """A decimal as plain digits (never an exponent)."""
    return format(d, "f")
