"""Kalshi JSON ⇄ domain types. Wire shapes stop here; the rest of the code sees domain objects.

Rules (REFERENCE §3, §6, §12):

* prices are ``*_dollars`` strings, counts ``*_fp`` strings, read exactly into fixed ints
  (:mod:`kalashi_cli.money`); V2 write responses use unsuffixed names (``price``, ``count``,
  ``fill_count``…) with the same string formats;
* legacy integer cents / whole-contract fields are read only when the string twin is absent
  (2025 recordings, the January 2026 golden fixtures);
* ``balance``, ``portfolio_value`` and ``Settlement.revenue``/``value`` are *still* integer
  cents (trap 2) — they are not legacy;
* parsing is lenient: a missing optional field gets a default, unknown keys are ignored,
  ``null`` is treated like absent;
* REST books are bids only, ascending, best **last**; domain books are best **first**.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any, TypeGuard

from ..domain import (
    AccountLimits,
    Balance,
    BookSide,
    ExchangeFill,
    ExchangeOrder,
    Level,
    Market,
    MarketPosition,
    OrderAck,
    OrderIntent,
    OrderStatus,
    Settlement,
    Trade,
)
from ..errors import OrderRejected
from ..money import (
    CENT_GRID,
    MULT_SCALE,
    ONE_DOLLAR,
    Count,
    Money,
    Price,
    TickBand,
    flip,
    fmt_count,
    fmt_price,
    parse_count,
    parse_money,
    parse_multiplier,
    parse_price,
)
from .books import fast_count, fast_price

Json = Mapping[str, Any]

_CENT: Price = Price(ONE_DOLLAR // 100)  # one cent in price units
_MONEY_PER_CENT: Money = Money(10_000)  # one cent in micro-dollars
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


# --------------------------------------------------------------------------- scalar readers


def _present(v: Any) -> TypeGuard[str]:
    return isinstance(v, str) and v != ""


def _is_int(v: Any) -> TypeGuard[int]:
    return isinstance(v, int) and not isinstance(v, bool)


def price_of(d: Json, base: str) -> Price | None:
    """Read price ``base``: ``base_dollars`` string, else ``base`` (string dollars or legacy int cents)."""
    v = d.get(base + "_dollars")
    if _present(v):
        return fast_price(v)
    v = d.get(base)
    if isinstance(v, str) and v:
        return parse_price(v)
    if _is_int(v):
        return Price(v * _CENT)
    return None


def lenient_price_of(d: Json, base: str) -> Price | None:
    """Like :func:`price_of` for averages, which may carry more than 4 decimals: round half-even."""
    v = d.get(base + "_dollars")
    if not _present(v):
        v = d.get(base)
    if _is_int(v):
        return Price(v * _CENT)
    if isinstance(v, str) and v:
        try:
            return Price(int((Decimal(v) * ONE_DOLLAR).to_integral_value(ROUND_HALF_EVEN)))
        except InvalidOperation:
            raise ValueError(f"{base} {v!r} is not a decimal number") from None
    return None


def count_of(d: Json, base: str) -> Count | None:
    """Read count ``base``: ``base_fp`` string, else ``base`` (V2 string, or legacy whole contracts)."""
    v = d.get(base + "_fp")
    if _present(v):
        return fast_count(v)
    v = d.get(base)
    if isinstance(v, str) and v:
        return parse_count(v)
    if _is_int(v):
        return Count(v * 100)
    return None


def money_of(d: Json, base: str) -> Money | None:
    """Read a dollar amount: ``base_dollars`` (up to 6 decimals), else ``base`` as a dollar string."""
    v = d.get(base + "_dollars")
    if _present(v):
        return parse_money(v)
    v = d.get(base)
    if isinstance(v, str) and v:
        return parse_money(v)
    return None


def _cents_money(v: Any) -> Money:
    return Money(v * _MONEY_PER_CENT if _is_int(v) else Money(0))


def ts_ms_of(value: Any) -> int:
    """Convert an RFC 3339 timestamp (``…Z``) to Unix milliseconds; 0 when absent or unreadable."""
    if not isinstance(value, str) or not value:
        return 0
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        return 0
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    delta = dt - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def _ms(d: Json, *, ms_key: str = "ts_ms", s_key: str = "ts", iso_keys: Sequence[str] = ("created_time",)) -> int:
    v = d.get(ms_key)
    if _is_int(v):
        return int(v)
    v = d.get(s_key)
    if _is_int(v):
        return int(v) * 1000
    if isinstance(v, str):  # WS deltas carry an RFC 3339 ``ts``
        t = ts_ms_of(v)
        if t:
            return t
    for k in iso_keys:
        t = ts_ms_of(d.get(k))
        if t:
            return t
    return 0


def _decimal(v: Any) -> Decimal | None:
    if v is None or v == "" or isinstance(v, bool):
        return None
    try:
        return Decimal(repr(v)) if isinstance(v, float) else Decimal(str(v))
    except InvalidOperation:
        return None


def _str(d: Json, key: str, default: str = "") -> str:
    v = d.get(key)
    return v if isinstance(v, str) else default


def _int(d: Json, key: str, default: int = 0) -> int:
    v = d.get(key)
    return int(v) if _is_int(v) else default


# --------------------------------------------------------------------------- series / events


@dataclass(frozen=True, slots=True)
class SeriesInfo:
    """What a market needs from its series: fee structure and category (GET /series)."""

    ticker: str
    title: str = ""
    category: str = ""
    fee_type: str = "quadratic"
    fee_multiplier: int = MULT_SCALE


@dataclass(frozen=True, slots=True)
class EventInfo:
    """What a market needs from its event (GET /events): series, exclusivity, fee overrides."""

    event_ticker: str
    series_ticker: str = ""
    title: str = ""
    category: str = ""
    mutually_exclusive: bool = False
    fee_type_override: str | None = None
    fee_multiplier_override: int | None = None
    exchange_index: int | None = None


def parse_series(d: Json) -> SeriesInfo:
    """Parse one Series object (``fee_multiplier`` is a JSON number, e.g. ``0.5``)."""
    categories = d.get("categories")
    category = _str(d, "category") or (categories[0] if isinstance(categories, list) and categories else "")
    try:
        mult = parse_multiplier(d.get("fee_multiplier"))
    except ValueError:
        mult = MULT_SCALE
    return SeriesInfo(
        ticker=_str(d, "ticker"),
        title=_str(d, "title"),
        category=category if isinstance(category, str) else "",
        fee_type=known_fee_type(_str(d, "fee_type"), _str(d, "ticker")),
        fee_multiplier=mult,
    )


_UNKNOWN_FEE_TYPES_SEEN: set[str] = set()


def known_fee_type(text: str, where: str) -> str:
    """Return a fee type our fee maths knows; "" stays "" (no override).

    A fee type Kalshi adds after this release is charged as ``flat`` — the quadratic formula at
    its maximum (P = 0.5), an upper bound — so no edge is overstated, and said once per type.
    """
    from ..money import FEE_TYPES

    if not text or text in FEE_TYPES:
        return text
    if text not in _UNKNOWN_FEE_TYPES_SEEN:
        _UNKNOWN_FEE_TYPES_SEEN.add(text)
        import logging

        logging.getLogger(__name__).warning(
            "unknown fee type %r (first seen on %s): charging the upper bound "
            "of the quadratic schedule until kalashi knows it",
            text,
            where,
        )
    return "flat"


def parse_event(d: Json) -> EventInfo:
    """Parse one EventData object (nested markets, if any, are ignored here)."""
    override_mult = d.get("fee_multiplier_override")
    try:
        mult = None if override_mult is None else parse_multiplier(override_mult)
    except ValueError:
        mult = None
    ex = d.get("exchange_index")
    return EventInfo(
        event_ticker=_str(d, "event_ticker"),
        series_ticker=_str(d, "series_ticker"),
        title=_str(d, "title"),
        category=_str(d, "category"),
        mutually_exclusive=bool(d.get("mutually_exclusive", False)),
        fee_type_override=known_fee_type(_str(d, "fee_type_override"), _str(d, "event_ticker")) or None,
        fee_multiplier_override=mult,
        exchange_index=int(ex) if _is_int(ex) else None,
    )


def series_for_event(event_ticker: str, series_tickers: Mapping[str, Any]) -> str:
    """Find the series of an event by the longest known series ticker that prefixes it.

    Market objects carry no ``series_ticker``; GET /events is authoritative and used when
    cached. This fallback matches against the *known* series list (never guesses a ticker
    that does not exist), because Kalshi event tickers are ``<SERIES>-<suffix>``.
    """
    parts = event_ticker.split("-")
    for i in range(len(parts) - 1, 0, -1):
        candidate = "-".join(parts[:i])
        if candidate in series_tickers:
            return candidate
    return ""


# --------------------------------------------------------------------------- markets and books


_GRID_CACHE: dict[tuple[Any, ...], tuple[TickBand, ...]] = {}


def parse_price_ranges(raw: Any) -> tuple[TickBand, ...]:
    """Parse ``price_ranges`` into tick bands; the cent grid when absent or unreadable (§3.3.4)."""
    if not isinstance(raw, list) or not raw:
        return CENT_GRID
    try:  # thousands of markets share a handful of grids
        key = tuple((e.get("start"), e.get("end"), e.get("step")) for e in raw)
    except AttributeError:
        key = None
    if key is not None:
        cached = _GRID_CACHE.get(key)
        if cached is None:
            cached = _parse_price_ranges(raw)
            if len(_GRID_CACHE) < 1000:
                _GRID_CACHE[key] = cached
        return cached
    return _parse_price_ranges(raw)


def _parse_price_ranges(raw: list[Any]) -> tuple[TickBand, ...]:
    bands: list[TickBand] = []
    for entry in raw:
        if not isinstance(entry, Mapping):
            continue
        try:
            band = TickBand(parse_price(entry["start"]), parse_price(entry["end"]), parse_price(entry["step"]))
        except (KeyError, ValueError, TypeError):
            continue
        if band.step > 0 and band.end >= band.start:
            bands.append(band)
    return tuple(bands) if bands else CENT_GRID


def _level(raw: Any) -> Level | None:
    if not isinstance(raw, Sequence) or isinstance(raw, str) or len(raw) < 2:
        return None
    p, c = raw[0], raw[1]
    price = parse_price(p) if isinstance(p, str) else (Price(p * _CENT) if _is_int(p) else None)
    count = parse_count(c) if isinstance(c, str) else (Count(c * 100) if _is_int(c) else None)
    if price is None or count is None or count <= 0:
        return None
    return price, count


def parse_levels(raw: Any) -> tuple[Level, ...]:
    """Parse ``[[price, count], …]`` (any order) into levels best (highest) first."""
    if not isinstance(raw, list):
        return ()
    levels = [lv for lv in (_level(x) for x in raw) if lv is not None]
    levels.sort(key=lambda lv: lv[0], reverse=True)
    return tuple(levels)


def parse_orderbook(body: Json) -> tuple[tuple[Level, ...], tuple[Level, ...]]:
    """Parse a REST orderbook (or one entry of the batched call) into (YES bids, NO bids), best first.

    Accepts ``orderbook_fp.{yes,no}_dollars`` (2026), and the older ``orderbook`` envelope
    with ``yes_dollars``/``no_dollars`` or integer-cent ``yes``/``no`` (nulls = empty side).
    """
    book = body.get("orderbook_fp")
    if not isinstance(book, Mapping):
        book = body.get("orderbook")
    if not isinstance(book, Mapping):
        return (), ()
    sides = []
    for side in ("yes", "no"):
        raw = book.get(f"{side}_dollars")
        if raw is None:
            raw = book.get(f"{side}_dollars_fp")
        if raw is None:
            raw = book.get(side)
        sides.append(parse_levels(raw))
    return sides[0], sides[1]


def parse_orderbooks(body: Json) -> dict[str, tuple[tuple[Level, ...], tuple[Level, ...]]]:
    """Parse GET /markets/orderbooks: ticker → (YES bids, NO bids), best first."""
    out: dict[str, tuple[tuple[Level, ...], tuple[Level, ...]]] = {}
    for entry in body.get("orderbooks") or ():
        if isinstance(entry, Mapping) and isinstance(entry.get("ticker"), str):
            out[entry["ticker"]] = parse_orderbook(entry)
    return out


def parse_market(
    d: Json,
    *,
    series: SeriesInfo | None = None,
    event: EventInfo | None = None,
    series_ticker: str = "",
    extra: Mapping[str, Any] | None = None,
) -> Market:
    """Convert one Kalshi Market object into a domain Market with top-of-book levels.

    The YES bid comes from ``yes_bid_dollars``/``yes_bid_size_fp``; the NO bid is the
    complement of the YES ask (``1 − yes_ask``, size ``yes_ask_size_fp``), as Kalshi derives
    it (§4.3). A bid of 0 or an ask of 1 means that side is empty. Fee type and multiplier
    come from the series (an event override wins); pass them with ``series=``/``event=``.
    ``extra`` sets further Market fields (e.g. ``close_ts_ms``) without a second copy.

    Raises:
        ValueError: the ticker is missing or a number is malformed.
    """
    ticker = d.get("ticker")
    if not isinstance(ticker, str) or not ticker:
        raise ValueError("market object without a ticker")
    yes_bid = price_of(d, "yes_bid")
    yes_ask = price_of(d, "yes_ask")
    yes_bids: tuple[Level, ...] = ()
    no_bids: tuple[Level, ...] = ()
    if yes_bid is not None and 0 < yes_bid < ONE_DOLLAR:
        yes_bids = ((yes_bid, count_of(d, "yes_bid_size") or Count(0)),)
    if yes_ask is not None and 0 < yes_ask < ONE_DOLLAR:
        no_bids = ((flip(yes_ask), count_of(d, "yes_ask_size") or Count(0)),)
    fee_type = series.fee_type if series else "quadratic"
    fee_mult = series.fee_multiplier if series else MULT_SCALE
    if event is not None:
        fee_type = event.fee_type_override or fee_type
        fee_mult = event.fee_multiplier_override if event.fee_multiplier_override is not None else fee_mult
    last = price_of(d, "last_price")
    result = _str(d, "result")
    ex = d.get("exchange_index")
    ex_index = int(ex) if _is_int(ex) else (event.exchange_index if event and event.exchange_index is not None else 0)
    return Market(
        ticker=ticker,
        event_ticker=_str(d, "event_ticker"),
        series_ticker=_str(d, "series_ticker")
        or series_ticker
        or (event.series_ticker if event else "")
        or (series.ticker if series else ""),
        title=_str(d, "title") or _str(d, "yes_sub_title"),
        category=(series.category if series and series.category else "")
        or (event.category if event else "")
        or _str(d, "category"),
        status=_str(d, "status"),
        close_time=_str(d, "close_time"),
        yes_bids=yes_bids,
        no_bids=no_bids,
        volume=count_of(d, "volume") or Count(0),
        open_interest=count_of(d, "open_interest") or Count(0),
        fee_type=fee_type,
        fee_multiplier=fee_mult,
        price_ranges=parse_price_ranges(d.get("price_ranges")),
        strike_type=_str(d, "strike_type") or None,
        floor_strike=_decimal(d.get("floor_strike")),
        cap_strike=_decimal(d.get("cap_strike")),
        mutually_exclusive=event.mutually_exclusive if event else False,
        is_combo=bool(d.get("mve_collection_ticker")) or ticker.startswith("KXMVE"),
        last_price=last if last else None,
        exchange_index=ex_index,
        # gone from Kalshi's schema since July 2026 (always true before); honoured where a payload still says false
        fractional_trading=d.get("fractional_trading_enabled") is not False,
        result=result if result in ("yes", "no", "scalar") else "",
        settlement_value=price_of(d, "settlement_value") if result in ("yes", "no", "scalar") else None,
        **(extra or {}),
    )


def with_book(market: Market, yes_bids: tuple[Level, ...], no_bids: tuple[Level, ...]) -> Market:
    """Return ``market`` with full-depth books (best first) in place of its top of book."""
    return dataclasses.replace(market, yes_bids=yes_bids, no_bids=no_bids)


def with_fees(market: Market, series: SeriesInfo | None, event: EventInfo | None = None) -> Market:
    """Attach the series' fee type/multiplier (and event overrides, category, exclusivity)."""
    fee_type, mult = market.fee_type, market.fee_multiplier
    if series is not None:
        fee_type, mult = series.fee_type, series.fee_multiplier
    if event is not None:
        fee_type = event.fee_type_override or fee_type
        mult = event.fee_multiplier_override if event.fee_multiplier_override is not None else mult
    return dataclasses.replace(
        market,
        fee_type=fee_type,
        fee_multiplier=mult,
        series_ticker=market.series_ticker
        or (series.ticker if series else "")
        or (event.series_ticker if event else ""),
        category=market.category or (series.category if series else "") or (event.category if event else ""),
        mutually_exclusive=event.mutually_exclusive if event is not None else market.mutually_exclusive,
    )


def market_settlement(d: Json) -> Settlement | None:
    """Return the market's settlement when a result is known (status determined/finalized)."""
    result = _str(d, "result")
    if result not in ("yes", "no", "scalar"):
        return None
    value = price_of(d, "settlement_value")
    if value is None:
        value = ONE_DOLLAR if result == "yes" else Price(0) if result == "no" else None
    settled = ts_ms_of(d.get("settlement_ts")) or ts_ms_of(d.get("expiration_time")) or ts_ms_of(d.get("close_time"))
    return Settlement(
        ticker=_str(d, "ticker"),
        event_ticker=_str(d, "event_ticker"),
        result=result,  # type: ignore[arg-type]
        settled_ts_ms=settled,
        value=value,
    )


# --------------------------------------------------------------------------- orders (V2)


def _book_side(d: Json, side_key: str = "book_side") -> BookSide:
    """Read the YES-leg side; fall back to the deprecated ``side``+``action`` pair (§3.2, trap 6)."""
    bs = d.get(side_key)
    if bs in ("bid", "ask"):
        return bs  # type: ignore[no-any-return]
    outcome = d.get("outcome_side") or d.get("side") or d.get("purchased_side")
    action = d.get("action") or "buy"
    if outcome == "no":
        return "ask" if action == "buy" else "bid"
    return "bid" if action == "buy" else "ask"


def _yes_price(d: Json) -> Price:
    p = price_of(d, "yes_price")
    if p is not None:
        return p
    q = price_of(d, "no_price")
    if q is not None:
        return Price(ONE_DOLLAR - q)
    return price_of(d, "price") or Price(0)


def order_request(
    intent: OrderIntent, *, subaccount: int | None = None, exchange_index: int | None = None
) -> dict[str, Any]:
    """Build the CreateOrderV2Request body for ``intent`` (YES-leg side and price, §5.5).

    Raises:
        OrderRejected: the intent breaks a rule Kalshi would reject it for (definite: not sent).
    """
    if not 0 < intent.price < ONE_DOLLAR:
        raise OrderRejected(f"price {fmt_price(intent.price)} is outside (0, 1)", code="invalid_price")
    if intent.count <= 0:
        raise OrderRejected(f"count {fmt_count(intent.count)} must be positive", code="invalid_order_size")
    if intent.expiration_ts is not None and intent.time_in_force != "good_till_canceled":
        raise OrderRejected("expiration_time only goes with good_till_canceled", code="invalid_order")
    if intent.reduce_only and intent.time_in_force != "immediate_or_cancel":
        raise OrderRejected("reduce_only orders must be immediate_or_cancel (spec 3.34)", code="invalid_order")
    body: dict[str, Any] = {
        "ticker": intent.ticker,
        "side": intent.side,
        "price": fmt_price(intent.price),
        "count": fmt_count(intent.count),
        "time_in_force": intent.time_in_force,
        "self_trade_prevention_type": intent.self_trade_prevention_type,
        "post_only": intent.post_only,
        "reduce_only": intent.reduce_only,
    }
    if intent.client_order_id:
        body["client_order_id"] = intent.client_order_id
    if intent.expiration_ts is not None:
        body["expiration_time"] = intent.expiration_ts
    if intent.order_group_id:
        body["order_group_id"] = intent.order_group_id
    if intent.cancel_order_on_pause:
        body["cancel_order_on_pause"] = True
    if subaccount is not None:
        body["subaccount"] = subaccount
    if exchange_index is not None:
        body["exchange_index"] = exchange_index
    return body


def ack_status(intent: OrderIntent | None, fill: Count, remaining: Count) -> OrderStatus:
    """Derive an order status from a V2 create answer (it carries counts, not a status)."""
    if remaining > 0 and (intent is None or intent.time_in_force == "good_till_canceled"):
        return OrderStatus.RESTING
    if fill > 0 and remaining == 0:
        return OrderStatus.EXECUTED
    return OrderStatus.CANCELED


def parse_order_ack(d: Json, intent: OrderIntent | None = None) -> OrderAck:
    """Parse a CreateOrderV2Response (201) into an OrderAck."""
    fill = count_of(d, "fill_count") or 0
    remaining = count_of(d, "remaining_count") or 0
    fee = d.get("average_fee_paid")
    return OrderAck(
        order_id=_str(d, "order_id"),
        client_order_id=_str(d, "client_order_id") or (intent.client_order_id if intent else ""),
        fill_count=Count(fill),
        remaining_count=Count(remaining),
        average_fill_price=lenient_price_of(d, "average_fill_price"),
        average_fee_paid=parse_money(fee) if isinstance(fee, str) and fee else None,
        ts_ms=_int(d, "ts_ms"),
        status=ack_status(intent, Count(fill), Count(remaining)),
    )


def parse_exchange_order(d: Json) -> ExchangeOrder:
    """Parse an Order (GET /portfolio/orders) or a WS ``user_order`` message."""
    raw = _str(d, "status")
    try:
        status = OrderStatus(raw)
    except ValueError:
        status = (
            OrderStatus.CANCELED
            if raw == "cancelled"
            else OrderStatus.RESTING
            if raw == "pending"
            else OrderStatus.EXECUTED
        )
    return ExchangeOrder(
        order_id=_str(d, "order_id"),
        client_order_id=_str(d, "client_order_id"),
        ticker=_str(d, "ticker") or _str(d, "market_ticker"),
        side=_book_side(d),
        price=_yes_price(d),
        status=status,
        initial_count=count_of(d, "initial_count") or Count(0),
        fill_count=count_of(d, "fill_count") or Count(0),
        remaining_count=count_of(d, "remaining_count") or Count(0),
        taker_fees=money_of(d, "taker_fees") or Money(0),
        maker_fees=money_of(d, "maker_fees") or Money(0),
        taker_fill_cost=money_of(d, "taker_fill_cost") or Money(0),
        maker_fill_cost=money_of(d, "maker_fill_cost") or Money(0),
        created_ts_ms=_ms(d, ms_key="created_ts_ms", s_key="", iso_keys=("created_time",)),
        time_in_force=_str(d, "time_in_force"),
        order_group_id=_str(d, "order_group_id") or None,
    )


def parse_fill(d: Json) -> ExchangeFill:
    """Parse a Fill (GET /portfolio/fills) or a WS ``fill`` message (YES price only)."""
    return ExchangeFill(
        fill_id=_str(d, "fill_id") or _str(d, "trade_id"),
        order_id=_str(d, "order_id"),
        ticker=_str(d, "ticker") or _str(d, "market_ticker"),
        side=_book_side(d),
        price=_yes_price(d),
        count=count_of(d, "count") or Count(0),
        fee=money_of(d, "fee_cost") or Money(0),
        is_taker=bool(d.get("is_taker", False)),
        ts_ms=_ms(d),
        client_order_id=_str(d, "client_order_id"),
    )


def parse_position(d: Json) -> MarketPosition:
    """Parse a MarketPosition (``position_fp`` > 0 YES, < 0 NO)."""
    return MarketPosition(
        ticker=_str(d, "ticker") or _str(d, "market_ticker"),
        position=count_of(d, "position") or Count(0),
        exposure=money_of(d, "market_exposure") or money_of(d, "position_cost") or Money(0),
        realized_pnl=money_of(d, "realized_pnl") or Money(0),
        fees_paid=money_of(d, "fees_paid") or Money(0),
    )


def parse_settlement(d: Json) -> Settlement:
    """Parse a portfolio Settlement (``revenue`` and ``value`` are integer cents, trap 2)."""
    result = _str(d, "market_result") or _str(d, "result")
    value = d.get("value")
    return Settlement(
        ticker=_str(d, "ticker"),
        event_ticker=_str(d, "event_ticker"),
        result=result if result in ("yes", "no", "scalar") else "",  # type: ignore[arg-type]
        settled_ts_ms=ts_ms_of(d.get("settled_time")),
        yes_count=count_of(d, "yes_count") or Count(0),
        no_count=count_of(d, "no_count") or Count(0),
        revenue=_cents_money(d.get("revenue")),
        value=Price(value * _CENT) if _is_int(value) else None,
    )


def parse_trade(d: Json) -> Trade:
    """Parse a public Trade (REST ``ticker``+``created_time`` or WS ``market_ticker``+``ts_ms``)."""
    raw = d.get("taker_book_side")
    side: BookSide
    if raw in ("bid", "ask"):
        side = raw
    else:
        outcome = d.get("taker_outcome_side") or d.get("taker_side")
        side = "ask" if outcome == "no" else "bid"
    return Trade(
        trade_id=_str(d, "trade_id"),
        ticker=_str(d, "ticker") or _str(d, "market_ticker"),
        price=_yes_price(d),
        count=count_of(d, "count") or Count(0),
        taker_side=side,
        ts_ms=_ms(d),
    )


def parse_balance(d: Json) -> Balance:
    """Parse GET /portfolio/balance; ``balance_dollars`` preferred (``balance`` truncates sub-cent)."""
    bal = money_of(d, "balance")
    if bal is None:
        bal = _cents_money(d.get("balance"))
    shards: list[tuple[int, Money]] = []
    for entry in d.get("balance_breakdown") or ():
        if isinstance(entry, Mapping) and _is_int(entry.get("exchange_index")):
            amount = entry.get("balance")
            if isinstance(amount, str) and amount:
                shards.append((int(entry["exchange_index"]), parse_money(amount)))
            elif _is_int(amount):
                shards.append((int(entry["exchange_index"]), Money(amount * _MONEY_PER_CENT)))
    return Balance(balance=bal, portfolio_value=_cents_money(d.get("portfolio_value")), by_shard=tuple(shards))


@dataclass(frozen=True, slots=True)
class ExchangeStatus:
    """GET /exchange/status: top-level fields describe shard 0; per-shard flags when given."""

    exchange_active: bool
    trading_active: bool
    by_shard: tuple[tuple[int, bool], ...] = ()


def parse_exchange_status(d: Json) -> ExchangeStatus:
    shards = tuple(
        (int(s["exchange_index"]), bool(s.get("trading_active", False)))
        for s in d.get("exchange_index_statuses") or ()
        if isinstance(s, Mapping) and _is_int(s.get("exchange_index"))
    )
    return ExchangeStatus(
        exchange_active=bool(d.get("exchange_active", False)),
        trading_active=bool(d.get("trading_active", False)),
        by_shard=shards,
    )


def parse_account_limits(d: Json) -> AccountLimits:
    raw_read, raw_write = d.get("read"), d.get("write")
    read: Json = raw_read if isinstance(raw_read, Mapping) else {}
    write: Json = raw_write if isinstance(raw_write, Mapping) else {}
    return AccountLimits(
        usage_tier=_str(d, "usage_tier"),
        read_rate=_int(read, "refill_rate", 200),
        read_capacity=_int(read, "bucket_capacity", 400),
        write_rate=_int(write, "refill_rate", 100),
        write_capacity=_int(write, "bucket_capacity", 100),
    )


def lifecycle_settlement(msg: Json) -> Settlement | None:
    """Turn a WS ``market_lifecycle_v2`` ``determined``/``settled`` message into a Settlement.

    WS lifecycle timestamps are Unix seconds (§10.4).
    """
    if msg.get("event_type") not in ("determined", "settled"):
        return None
    result = _str(msg, "result")
    if result not in ("yes", "no", "scalar"):
        return None
    value = price_of(msg, "settlement_value")
    if value is None:
        raw = msg.get("settlement_value")
        value = (
            ONE_DOLLAR
            if result == "yes"
            else Price(0)
            if result == "no"
            else (Price(raw * _CENT) if _is_int(raw) else None)
        )
    ts = msg.get("settled_ts") if msg.get("event_type") == "settled" else msg.get("determination_ts")
    return Settlement(
        ticker=_str(msg, "market_ticker"),
        event_ticker=_str(msg, "event_ticker"),
        result=result,  # type: ignore[arg-type]
        settled_ts_ms=int(ts) * 1000 if _is_int(ts) else 0,
        value=value,
    )


def error_of(body: Any) -> tuple[str | None, str]:
    """Return (code, text) from a Kalshi error body; 429 bodies carry a bare string (§7.1)."""
    if isinstance(body, Mapping):
        err = body.get("error")
        if isinstance(err, Mapping):
            code = err.get("code")
            parts = [str(err[k]) for k in ("message", "details") if isinstance(err.get(k), str) and err.get(k)]
            return (code if isinstance(code, str) else None), ": ".join(dict.fromkeys(parts))
        if isinstance(err, str):
            return None, err
        msg = body.get("message")
        if isinstance(msg, str):
            return (body.get("code") if isinstance(body.get("code"), str) else None), msg
    return None, ""
