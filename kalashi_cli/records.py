"""The JSON Lines record contract (version 1): encoding, decoding, reading and writing.

Every line is one JSON object with ``kind`` and ``v``. Prices are dollar strings
(``"0.4500"``), counts are strings with two decimals (``"10.00"``), money is dollars with
four (or, when finer, six) decimals. Stages decode the kinds they consume into domain
objects (:mod:`kalashi_cli.domain`) and pass every other kind through untouched.

The wire shape of each kind is declared in :mod:`kalashi_cli.record_schema`, from which the
committed JSON Schemas are generated.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import IO, Any, TypeVar

import orjson

from .domain import Candidate, Denied, FairValue, Fill, Leg, Market, Opportunity, Order, Rejected
from .errors import InputError
from .money import (
    FEE_TYPES,
    ONE_DOLLAR,
    Count,
    Money,
    Price,
    TickBand,
    flip,
    fmt_count,
    fmt_money,
    fmt_multiplier,
    fmt_price,
    parse_count,
    parse_money,
    parse_multiplier,
    parse_price,
)

VERSION = 1
KINDS = (
    "market",
    "opportunity",
    "candidate",
    "rejected",
    "order",
    "fill",
    "denied",
    "metrics",
    "iteration",
    "health",
    "stats",
    "fair",
)

Record = dict[str, Any]


# --------------------------------------------------------------------------- helpers


def _dec(x: Decimal, places: int = 4) -> str:
    return f"{x.quantize(Decimal(1).scaleb(-places)):f}"


def _opt_price(p: Price | None) -> str | None:
    return None if p is None else fmt_price(p)


_T = TypeVar("_T")


class _Reader:
    """Typed field access on one record that turns problems into precise messages."""

    __slots__ = ("d", "kind")

    def __init__(self, d: Record, kind: str) -> None:
        self.d = d
        self.kind = kind

    def _get(self, key: str) -> Any:
        try:
            return self.d[key]
        except KeyError:
            raise ValueError(f"{self.kind} record is missing required field '{key}'") from None

    def text(self, key: str, default: str | None = None) -> str:
        v = self.d.get(key, default) if default is not None else self._get(key)
        if not isinstance(v, str):
            raise ValueError(f"field '{key}' must be a string, got {type(v).__name__}")
        return v

    def price(self, key: str) -> Price:
        return self._conv(key, parse_price)

    def opt_price(self, key: str) -> Price | None:
        v = self.d.get(key)
        return None if v is None else self._conv(key, parse_price)

    def opt_probability(self, key: str) -> Price | None:
        """An optional price or probability in [0, 1] (a last trade, a forecast, a win chance)."""
        v = self.opt_price(key)
        return None if v is None else _in_range(key, v, _PROB, fmt_price)

    def count(self, key: str) -> Count:
        return self._conv(key, parse_count)

    def amount(self, key: str, positive: bool = False) -> Count:
        """A contract count that cannot be negative (nor zero when ``positive``)."""
        return _in_range(key, self.count(key), _POSITIVE if positive else _NON_NEGATIVE, fmt_count)

    def money_at_least_0(self, key: str) -> Money:
        return _in_range(key, self.money(key), _NON_NEGATIVE, fmt_money)

    def finite(self, key: str, lo: Decimal | None = None, hi: Decimal | None = None) -> Decimal:
        """A finite decimal, within [lo, hi] when given (and never beyond ±10^12: scores, ratios)."""
        v = self.decimal(key)
        if not v.is_finite():
            raise ValueError(f"field '{key}' must be a finite number, got {self.d.get(key)!r}")
        if abs(v) > _FINITE_MAX:
            raise ValueError(f"field '{key}' is {self.d.get(key)!r}, out of range (at most {_FINITE_MAX:,} either way)")
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            words = (
                f"between {lo} and {hi}"
                if lo is not None and hi is not None
                else f"{lo} or more"
                if lo is not None
                else f"{hi} or less"
            )
            raise ValueError(f"field '{key}' is {v}; it must be {words}")
        return v

    def money(self, key: str) -> Money:
        return self._conv(key, parse_money)

    def decimal(self, key: str, default: str | None = None) -> Decimal:
        v = self.d.get(key, default) if default is not None else self._get(key)
        try:
            return Decimal(str(v)) if not isinstance(v, bool) else Decimal("nan")
        except InvalidOperation:
            raise ValueError(f"field '{key}' must be a number, got {v!r}") from None

    def _conv(self, key: str, fn: Callable[[Any], _T]) -> _T:
        v = self._get(key)
        try:
            return fn(v)
        except ValueError as e:
            raise ValueError(f"field '{key}': {e}") from None


# Allowed ranges, as (low, low_inclusive, high, high_inclusive, words). Kalshi prices every order
# and book level strictly between $0 and $1 (REFERENCE §3.1, §6); a top-of-book quote, a last
# price or a probability may sit at either end; counts and fees are never negative.
_Range = tuple[int | None, bool, int | None, bool, str]
_N = TypeVar("_N", bound=int)
_LIMIT: _Range = (0, False, 10_000, False, "strictly between 0 and 1")
_PROB: _Range = (0, True, 10_000, True, "between 0 and 1")
_POSITIVE: _Range = (0, False, None, False, "greater than 0")
_NON_NEGATIVE: _Range = (0, True, None, False, "0 or more")
#: the largest magnitude a plain number (a score, a ratio) may have in a record
_FINITE_MAX = Decimal(10) ** 12
#: top-of-book fields of a market record, checked like depth levels whether or not depth is there
_TOP_PRICES = ("yes_bid", "yes_ask", "no_bid", "no_ask")
_TOP_SIZES = ("yes_bid_size", "yes_ask_size", "no_bid_size", "no_ask_size")


def _in_range(key: str, v: _N, rng: _Range, fmt: Any) -> _N:
    lo, lo_in, hi, hi_in, words = rng
    if (lo is not None and (v < lo or (v == lo and not lo_in))) or (
        hi is not None and (v > hi or (v == hi and not hi_in))
    ):
        raise ValueError(f"field '{key}' is {fmt(v)}; it must be {words}")
    return v


# --------------------------------------------------------------------------- encode


def _levels(levels: Iterable[tuple[Price, Count]]) -> list[list[str]]:
    return [[fmt_price(p), fmt_count(s)] for p, s in levels]


def market_record(m: Market) -> Record:
    """Encode a market as a ``market`` record (top of book plus full depth, bids only)."""
    r: Record = {
        "kind": "market",
        "v": VERSION,
        "ticker": m.ticker,
        "event_ticker": m.event_ticker,
        "series_ticker": m.series_ticker,
        "title": m.title,
        "category": m.category,
        "status": m.status,
        "close_time": m.close_time,
        "yes_bid": _opt_price(m.yes_bid),
        "yes_ask": _opt_price(m.yes_ask),
        "no_bid": _opt_price(m.no_bid),
        "no_ask": _opt_price(m.no_ask),
        "yes_bid_size": fmt_count(m.yes_bid_size),
        "yes_ask_size": fmt_count(m.yes_ask_size),
        "volume": fmt_count(m.volume),
        "open_interest": fmt_count(m.open_interest),
        "fee_type": m.fee_type,
        "fee_multiplier": fmt_multiplier(m.fee_multiplier),
        "price_ranges": [b.to_wire() for b in m.price_ranges],
        "depth": {"yes": _levels(m.yes_bids), "no": _levels(m.no_bids)},
        "mutually_exclusive": m.mutually_exclusive,
        "exhaustive": m.exhaustive,
        "is_combo": m.is_combo,
        "exchange_index": m.exchange_index,
    }
    if m.strike_type is not None:
        r["strike_type"] = m.strike_type
    if m.floor_strike is not None:
        r["floor_strike"] = str(m.floor_strike)
    if m.cap_strike is not None:
        r["cap_strike"] = str(m.cap_strike)
    if m.last_price is not None:
        r["last_price"] = fmt_price(m.last_price)
    if m.forecast_p is not None:
        r["forecast_p"] = fmt_price(m.forecast_p)
    if m.event_market_count is not None:
        r["event_market_count"] = m.event_market_count
    if not m.fractional_trading:
        r["fractional_trading"] = False
    if m.result:
        r["result"] = m.result
    if m.settlement_value is not None:
        r["settlement_value"] = fmt_price(m.settlement_value)
    return r


def _leg_record(leg: Leg) -> Record:
    return {
        "ticker": leg.ticker,
        "outcome": leg.outcome,
        "action": leg.action,
        "price": fmt_price(leg.price),
        "count": fmt_count(leg.count),
    }


def opportunity_fields(o: Opportunity) -> Record:
    r: Record = {
        "id": o.id,
        "strategy": o.strategy,
        "event_ticker": o.event_ticker,
        "series_ticker": o.series_ticker,
        "category": o.category,
        "legs": [_leg_record(x) for x in o.legs],
        "edge": fmt_money(o.edge),
        "edge_pct": _dec(o.edge_pct),
        "fees": fmt_money(o.fees),
        "cost": fmt_money(o.cost),
        "confidence": _dec(o.confidence),
        "liquidity": _dec(o.liquidity),
        "score": _dec(o.score, 6),
        "reason": o.reason,
        "maker": o.maker,
        "payout": fmt_price(o.payout),
        "as_of_ms": o.as_of_ms,
        "src": o.src,
    }
    if o.p is not None:
        r["p"] = fmt_price(o.p)
    if o.collateral:
        r["collateral"] = fmt_money(o.collateral)
    return r


def opportunity_record(o: Opportunity) -> Record:
    return {"kind": "opportunity", "v": VERSION, **opportunity_fields(o)}


def candidate_record(c: Candidate) -> Record:
    return {
        "kind": "candidate",
        "v": VERSION,
        **opportunity_fields(c.opportunity),
        "group": c.group,
        "required_edge": fmt_money(c.required_edge),
        "size": fmt_count(c.size),
        "kelly_fraction": _dec(c.kelly_fraction, 6),
        "stake": fmt_money(c.stake),
    }


def rejected_record(r: Rejected) -> Record:
    out: Record = {
        "kind": "rejected",
        "v": VERSION,
        "ref": r.ref,
        "stage": r.stage,
        "code": r.code or r.stage,
        "reason": r.reason,
    }
    if r.detail:
        out["detail"] = dict(r.detail)
    return out


def order_record(o: Order) -> Record:
    return {
        "kind": "order",
        "v": VERSION,
        "client_order_id": o.client_order_id,
        "order_id": o.order_id,
        "mode": o.mode,
        "ticker": o.ticker,
        "outcome": o.outcome,
        "action": o.action,
        "price": fmt_price(o.price),
        "count": fmt_count(o.count),
        "status": o.status,
        "filled_count": fmt_count(o.filled_count),
        "avg_fill_price": _opt_price(o.avg_fill_price),
        "fees": fmt_money(o.fees),
        "latency_ms": _dec(o.latency_ms, 3),
        "slippage_pct": _dec(o.slippage_pct, 4),
        "strategy": o.strategy,
        "opportunity_id": o.opportunity_id,
        "time_in_force": o.time_in_force,
        "post_only": o.post_only,
        "reduce_only": o.reduce_only,
        "reason": o.reason,
    }


def fill_record(f: Fill) -> Record:
    return {
        "kind": "fill",
        "v": VERSION,
        "fill_id": f.fill_id,
        "order_id": f.order_id,
        "client_order_id": f.client_order_id,
        "ticker": f.ticker,
        "outcome": f.outcome,
        "action": f.action,
        "price": fmt_price(f.price),
        "count": fmt_count(f.count),
        "fee": fmt_money(f.fee),
        "is_taker": f.is_taker,
        "ts": f.ts,
    }


def to_record(obj: object) -> Record:
    """Encode any domain object as its record."""
    if isinstance(obj, Market):
        return market_record(obj)
    if isinstance(obj, Opportunity):
        return opportunity_record(obj)
    if isinstance(obj, Candidate):
        return candidate_record(obj)
    if isinstance(obj, Rejected):
        return rejected_record(obj)
    if isinstance(obj, Order):
        return order_record(obj)
    if isinstance(obj, Fill):
        return fill_record(obj)
    if isinstance(obj, FairValue):
        return fair_record(obj)
    if isinstance(obj, dict) and "kind" in obj:
        return obj
    raise TypeError(f"cannot encode {type(obj).__name__} as a record")


def denied_record(d: Denied) -> dict[str, Any]:
    """The ``denied`` record of a refusal (``code`` = ``rule``: stable, free of amounts, to group on)."""
    return {
        "kind": "denied",
        "v": VERSION,
        "ref": d.ref,
        "ticker": d.ticker,
        "rule": d.rule,
        "code": d.rule,
        "reason": d.reason,
        "strategy": d.strategy,
    }


def encode(obj: object) -> dict[str, Any]:
    """Encode a stage output (domain object or Denied) as its record."""
    if isinstance(obj, Denied):
        return denied_record(obj)
    return to_record(obj)


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_time_ms(value: Any) -> int:
    """A timestamp as Unix ms: ISO-8601 text, or Unix seconds / milliseconds / nanoseconds as a number.

    Raises:
        ValueError: not a time.
    """
    if isinstance(value, bool):
        raise ValueError(f"not a time: {value!r}")
    if isinstance(value, int | float):
        x = float(value)
    else:
        text = str(value).strip()
        try:
            x = float(text)
        except ValueError:
            dt = datetime.fromisoformat(text.replace("Z", "+00:00").replace(" ", "T", 1))
            if dt.tzinfo is None:
                dt = dt.replace(tzinfo=UTC)
            return int(dt.timestamp() * 1000)
    if x > 1e17:
        return int(x // 1_000_000)  # nanoseconds
    if x > 1e11:
        return int(x)  # milliseconds
    return int(x * 1000)  # seconds


# --------------------------------------------------------------------------- decode


def _parse_levels(raw: Any, key: str) -> tuple[tuple[Price, Count], ...]:
    if not isinstance(raw, list):
        raise ValueError(f"field '{key}' must be a list of [price, size] pairs")
    try:
        levels = tuple((parse_price(p), parse_count(s)) for p, s in raw)
    except (ValueError, TypeError):
        pass  # find the bad level and say which
    else:
        # a resting bid is priced strictly inside (0, 1) and rests a positive size
        if all(0 < p < 10_000 and s > 0 for p, s in levels):
            return levels
    for i, lvl in enumerate(raw):
        if not isinstance(lvl, list | tuple) or len(lvl) != 2:
            raise ValueError(f"field '{key}[{i}]' must be a [price, size] pair")
        try:
            price, size = parse_price(lvl[0]), parse_count(lvl[1])
        except ValueError as e:
            raise ValueError(f"field '{key}[{i}]': {e}") from None
        if not 0 < price < 10_000:
            raise ValueError(f"field '{key}[{i}]': price {fmt_price(price)} must be strictly between 0 and 1")
        if size <= 0:
            raise ValueError(f"field '{key}[{i}]': size {fmt_count(size)} must be greater than 0")
    raise ValueError(f"field '{key}' is malformed")


def _parse_grid(raw: Any) -> tuple[TickBand, ...] | None:
    """Decode ``price_ranges``: bands inside [0, 1] with a positive step (None when absent or empty)."""
    if not raw:
        return None
    if not isinstance(raw, list):
        raise ValueError("field 'price_ranges' must be a list of {start, end, step} objects")
    bands = []
    for i, b in enumerate(raw):
        key = f"price_ranges[{i}]"
        if not isinstance(b, dict):
            raise ValueError(f"field '{key}' must be a {{start, end, step}} object")
        r = _Reader(b, key)
        start, end = (
            _in_range(f"{key}.start", r.price("start"), _PROB, fmt_price),
            _in_range(f"{key}.end", r.price("end"), _PROB, fmt_price),
        )
        step = _in_range(f"{key}.step", r.price("step"), _POSITIVE, fmt_price)
        if start > end:
            raise ValueError(
                f"field '{key}' starts at {fmt_price(Price(start))}, after its end {fmt_price(Price(end))}"
            )
        bands.append(TickBand(Price(start), Price(end), Price(step)))
    return tuple(bands)


def _fee_type(r: _Reader) -> str:
    v = r.text("fee_type")
    if v not in FEE_TYPES:
        # unknown types would be charged as quadratic, silently; say so instead
        raise ValueError(f"field 'fee_type' must be one of {', '.join(FEE_TYPES)}, got {v!r}")
    return v


def _fee_multiplier(d: Record) -> int:
    try:
        m = parse_multiplier(d.get("fee_multiplier"))
    except ValueError as e:
        raise ValueError(f"field 'fee_multiplier': {e}") from None
    return _in_range("fee_multiplier", m, _NON_NEGATIVE, lambda x: f"{Decimal(x).scaleb(-4).normalize():f}")


def _strike(d: Record, key: str) -> Decimal | None:
    v = d.get(key)
    if v is None:
        return None
    try:
        x = Decimal(str(v)) if isinstance(v, str | int | float) and not isinstance(v, bool) else None
    except InvalidOperation:
        x = None
    if x is None or not x.is_finite():
        raise ValueError(f"field '{key}' must be a finite number, got {v!r}")
    return x


def market_from_record(d: Record) -> Market:
    """Decode a ``market`` record.

    Raises:
        ValueError: a field is missing or malformed (the message names it).
    """
    r = _Reader(d, "market")
    for key in _TOP_PRICES:  # a quote may sit at either end (0 = no bid, 1 = no ask), never outside
        r.opt_probability(key)
    for key in _TOP_SIZES:
        if d.get(key) is not None:
            r.amount(key)
    depth = d.get("depth")
    if isinstance(depth, dict):
        yes_bids = _parse_levels(depth.get("yes", []), "depth.yes")
        no_bids = _parse_levels(depth.get("no", []), "depth.no")
    else:  # top of book only: a bid of 0 or an ask of 1 (Kalshi's way), or a size of 0, is an empty side
        yb, ya = r.opt_probability("yes_bid"), r.opt_probability("yes_ask")
        yb_size = r.amount("yes_bid_size") if yb else Count(0)
        ya_size = r.amount("yes_ask_size") if ya is not None and ya < ONE_DOLLAR else Count(0)
        yes_bids = ((yb, yb_size),) if yb and yb_size else ()
        no_bids = ((flip(ya), ya_size),) if ya is not None and ya_size else ()
    grid = _parse_grid(d.get("price_ranges"))
    kwargs: dict[str, Any] = {}
    if grid:
        kwargs["price_ranges"] = grid
    return Market(
        ticker=r.text("ticker"),
        event_ticker=r.text("event_ticker"),
        series_ticker=r.text("series_ticker"),
        title=r.text("title"),
        category=r.text("category"),
        status=r.text("status"),
        close_time=r.text("close_time"),
        yes_bids=yes_bids,
        no_bids=no_bids,
        volume=r.amount("volume"),
        open_interest=r.amount("open_interest"),
        fee_type=_fee_type(r),
        fee_multiplier=_fee_multiplier(d),
        strike_type=d.get("strike_type"),
        floor_strike=_strike(d, "floor_strike"),
        cap_strike=_strike(d, "cap_strike"),
        mutually_exclusive=bool(d.get("mutually_exclusive", False)),
        exhaustive=d.get("exhaustive"),
        is_combo=bool(d.get("is_combo", False)),
        last_price=r.opt_probability("last_price"),
        forecast_p=r.opt_probability("forecast_p"),
        exchange_index=int(d.get("exchange_index", 0) or 0),
        event_market_count=int(d["event_market_count"]) if d.get("event_market_count") is not None else None,
        fractional_trading=d.get("fractional_trading") is not False,
        result=str(d.get("result") or "") if d.get("result") in ("yes", "no", "scalar") else "",
        settlement_value=r.opt_probability("settlement_value"),
        **kwargs,
    )


def _leg_from(d: Any, i: int) -> Leg:
    if not isinstance(d, dict):
        raise ValueError(f"legs[{i}] must be an object")
    r = _Reader(d, f"legs[{i}]")
    outcome, action = r.text("outcome"), r.text("action")
    if outcome not in ("yes", "no"):
        raise ValueError(f"legs[{i}].outcome must be 'yes' or 'no', got {outcome!r}")
    if action not in ("buy", "sell"):
        raise ValueError(f"legs[{i}].action must be 'buy' or 'sell', got {action!r}")
    price = _in_range(f"legs[{i}].price", r.price("price"), _LIMIT, fmt_price)
    count = _in_range(f"legs[{i}].count", r.count("count"), _POSITIVE, fmt_count)
    return Leg(r.text("ticker"), outcome, action, price, count)  # type: ignore[arg-type]


def opportunity_from_record(d: Record) -> Opportunity:
    """Decode an ``opportunity`` (or the opportunity part of a ``candidate``) record.

    Raises:
        ValueError: a field is missing or malformed.
    """
    r = _Reader(d, d.get("kind", "opportunity"))
    legs_raw = r._get("legs")
    if not isinstance(legs_raw, list) or not legs_raw:
        raise ValueError("field 'legs' must be a non-empty list")
    strategy = r.text("strategy")
    if strategy not in ("arbitrage", "spread", "value"):
        raise ValueError(f"field 'strategy' must be arbitrage, spread or value, got {strategy!r}")
    return Opportunity(
        id=r.text("id"),
        strategy=strategy,  # type: ignore[arg-type]
        event_ticker=r.text("event_ticker"),
        legs=tuple(_leg_from(x, i) for i, x in enumerate(legs_raw)),
        edge=r.money("edge"),
        edge_pct=r.finite("edge_pct"),
        fees=r.money_at_least_0("fees"),
        confidence=r.finite("confidence", Decimal(0), Decimal(1)),
        liquidity=r.finite("liquidity", Decimal(0), Decimal(1)),
        score=r.finite("score"),
        reason=r.text("reason"),
        series_ticker=str(d.get("series_ticker", "")),
        category=str(d.get("category", "")),
        cost=r.money_at_least_0("cost") if "cost" in d else Money(0),
        p=r.opt_probability("p"),
        maker=bool(d.get("maker", False)),
        payout=Price(_in_range("payout", r.price("payout"), _POSITIVE, fmt_price) if "payout" in d else Price(10_000)),
        collateral=r.money_at_least_0("collateral") if "collateral" in d else Money(0),
        as_of_ms=int(d.get("as_of_ms", 0) or 0),
        src=str(d.get("src", "")),
    )


def candidate_from_record(d: Record) -> Candidate:
    """Decode a ``candidate`` record.

    Raises:
        ValueError: a field is missing or malformed.
    """
    r = _Reader(d, "candidate")
    return Candidate(
        opportunity=opportunity_from_record(d),
        group=r.text("group"),
        required_edge=r.money_at_least_0("required_edge"),
        size=r.amount("size"),
        kelly_fraction=r.finite("kelly_fraction", Decimal(0)),
        stake=r.money_at_least_0("stake"),
    )


# --------------------------------------------------------------------------- fair values


def _iso_ms(ms: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def fair_record(fv: FairValue) -> Record:
    """Encode a model's fair value as a ``fair`` record (p and se exact decimal strings)."""
    r: Record = {
        "kind": "fair",
        "v": VERSION,
        "ticker": fv.ticker,
        "p": f"{fv.p:f}",
        "model": fv.model,
        "se": f"{fv.se:f}",
    }
    if fv.inputs_ms:
        r["inputs_ts"] = _iso_ms(fv.inputs_ms)
    if fv.event_ticker:
        r["event_ticker"] = fv.event_ticker
    if fv.note:
        r["note"] = fv.note
    if fv.inputs:
        r["inputs"] = dict(fv.inputs)
    return r


def _unit_decimal(r: _Reader, key: str, *, required: bool) -> Decimal:
    """A probability-scale decimal in [0, 1] written as a string or a JSON number."""
    v = r.d.get(key)
    if v is None:
        if required:
            raise ValueError(f"fair record is missing required field '{key}'")
        return Decimal(0)
    if isinstance(v, bool) or not isinstance(v, str | int | float):
        raise ValueError(f'{key} must be a number such as "0.62", not {type(v).__name__}')
    try:
        x = Decimal(str(v).strip())
    except InvalidOperation:
        raise ValueError(f"{key} is not a number: {v!r}") from None
    if not x.is_finite():
        raise ValueError(f"{key} must be a finite number, not {v!r}")
    if not 0 <= x <= 1:
        raise ValueError(f"{key} must be between 0 and 1 (a probability, not a percentage), got {v}")
    return x


def fair_from_record(d: Record) -> FairValue:
    """Decode a ``fair`` record (also the bare ``{"ticker", "p"}`` lines of a hand-made --fair file).

    Raises:
        ValueError: a field is missing or malformed (the message names it).
    """
    r = _Reader(d, "fair")
    ticker = r.text("ticker")
    if not ticker:
        raise ValueError("field 'ticker' must not be empty")
    p = _unit_decimal(r, "p", required=True)
    se = _unit_decimal(r, "se", required=False)
    model = d.get("model", "file")
    if not isinstance(model, str) or not model:
        raise ValueError("field 'model' must be a non-empty string")
    inputs_ms = 0
    ts = d.get("inputs_ts")
    if ts is not None:
        try:
            inputs_ms = parse_time_ms(ts)
        except (TypeError, ValueError):
            raise ValueError(f"field 'inputs_ts' must be an ISO-8601 time, got {ts!r}") from None
    inputs = d.get("inputs")
    return FairValue(
        ticker=ticker,
        p=p,
        model=model,
        inputs_ms=inputs_ms,
        se=se,
        event_ticker=str(d.get("event_ticker") or ""),
        note=str(d.get("note") or ""),
        inputs=inputs if isinstance(inputs, dict) else {},
    )


# --------------------------------------------------------------------------- I/O


def iter_records(stream: IO[bytes], name: str = "<stdin>") -> Iterator[Record]:
    """Yield one dict per non-blank line, checking ``kind`` and ``v``.

    Raises:
        InputError: a line is not a JSON object with a string ``kind`` (names input and line).
    """
    for lineno, line in enumerate(stream, 1):
        if not line.strip():
            continue
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError as e:
            raise InputError(
                f"{name}:{lineno}: not valid JSON ({e.msg})",
                hint="each line must be one JSON object; check the stage that produced it",
            ) from None
        if not isinstance(obj, dict):
            raise InputError(f"{name}:{lineno}: expected a JSON object, got {type(obj).__name__}")
        kind = obj.get("kind")
        if not isinstance(kind, str):
            raise InputError(
                f"{name}:{lineno}: record has no string 'kind' field",
                hint="records must carry kind and v (see docs/records.md)",
            )
        v = obj.get("v", VERSION)
        if v != VERSION:
            raise InputError(f"{name}:{lineno}: unsupported record version v={v!r} (this kalashi reads v=1)")
        obj["_line"] = lineno
        yield obj


def decode_error(name: str, rec: Record, err: Exception) -> InputError:
    """Wrap a decoding problem as an InputError naming the input and line."""
    return InputError(
        f"{name}:{rec.get('_line', '?')}: bad {rec.get('kind')} record: {err}",
        hint="fix the line or the stage that produced it",
    )


class RecordWriter:
    """Write records as JSON Lines, flushing after each so pipes stream."""

    def __init__(self, stream: IO[bytes] | None = None) -> None:
        self._out = stream if stream is not None else sys.stdout.buffer
        self.count = 0

    def write(self, rec: Record | object) -> None:
        d = rec if isinstance(rec, dict) else to_record(rec)
        if "_line" in d:
            d = {k: v for k, v in d.items() if k != "_line"}
        self._out.write(orjson.dumps(d) + b"\n")
        self._out.flush()
        self.count += 1

    def write_all(self, recs: Iterable[Record | object]) -> None:
        for r in recs:
            self.write(r)


def dumps(rec: Record) -> str:
    return orjson.dumps(rec).decode()
