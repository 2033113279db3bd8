"""Domain objects → Kalshi JSON: the inverse of :mod:`kalashi_cli.kalshi.wire`.

Shapes follow the published spec (3.28 assembled, 3.34 field lists; REFERENCE §3–§6, §10):
prices are ``*_dollars`` strings with four decimals, counts ``*_fp`` strings with two, money
``*_dollars`` with four decimals (six when sub-$0.0001). Integer cents only where Kalshi still
uses them: ``balance``, ``portfolio_value``, settlement ``revenue``/``value``. REST books are
bids only, ascending, best **last**; WebSocket snapshots omit an empty side. Every field the
specs mark required is emitted (deprecated twins like ``side``/``action`` included, because
3.28 and 3.34 still require them); optional fields are omitted rather than null.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from ...domain import (
    Balance,
    ExchangeFill,
    ExchangeOrder,
    Level,
    Market,
    MarketPosition,
    OrderAck,
    OrderIntent,
    Settlement,
    Trade,
)
from ...money import (
    COUNT_SCALE,
    MONEY_SCALE,
    MULT_SCALE,
    ONE_DOLLAR,
    Count,
    Money,
    Price,
    fmt_count,
    fmt_money,
    fmt_price,
)
from .catalog import EventRecord, MarketRecord, SeriesRecord

Json = dict[str, Any]

TOO_MANY_REQUESTS: Json = {"error": "too many requests"}
_MONEY_PER_CENT = MONEY_SCALE // 100
_PRICE_PER_CENT = ONE_DOLLAR // 100
_ZERO_PRICE = fmt_price(Price(0))
_ONE_PRICE = fmt_price(ONE_DOLLAR)
_ZERO_COUNT = fmt_count(Count(0))


def iso(ms: int) -> str:
    """Format Unix milliseconds as RFC 3339 UTC with milliseconds (``2026-01-01T12:00:00.000Z``)."""
    s, r = divmod(ms, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(s)) + f".{r:03d}Z"


def error_body(code: str, message: str, details: str = "") -> Json:
    """Kalshi's REST error envelope (REFERENCE §7.1)."""
    return {"error": {"code": code, "message": message, "details": details or message}}


def cents(m: int) -> int:
    """Money → integer cents, truncated toward zero (Kalshi's ``balance`` truncates sub-cent)."""
    return int(m / _MONEY_PER_CENT) if m < 0 else m // _MONEY_PER_CENT


def _number(v: Decimal | None) -> float | int | None:
    """A strike as the JSON number Kalshi sends (an int when whole)."""
    if v is None:
        return None
    return int(v) if v == v.to_integral_value() else float(v)


# --------------------------------------------------------------------------- market data


def _outcome(side: str) -> str:
    return "yes" if side == "bid" else "no"


def market_json(rec: MarketRecord, book: Market, status: str) -> Json:
    """One Market object (GET /markets, /markets/{ticker}, nested in events).

    ``book`` is the combined book (external + resting account orders) best first; the top of
    book fields derive from it. An empty side reads as bid 0 / ask 1, as on Kalshi.
    """
    m = rec.market
    yes_bid = book.yes_bids[0] if book.yes_bids else None
    no_bid = book.no_bids[0] if book.no_bids else None
    yes_ask = ONE_DOLLAR - no_bid[0] if no_bid else ONE_DOLLAR
    last = book.last_price if book.last_price is not None else m.last_price
    close = iso(rec.close_ms)
    out: Json = {
        "ticker": rec.ticker,
        "event_ticker": rec.event_ticker,
        "market_type": "binary",
        "title": m.title,
        "subtitle": rec.subtitle,
        "yes_sub_title": rec.subtitle,
        "no_sub_title": rec.subtitle,
        "created_time": iso(rec.created_ms),
        "updated_time": iso(rec.updated_ms),
        "open_time": iso(rec.open_ms),
        "close_time": close,
        "expected_expiration_time": close,
        "expiration_time": close,
        "latest_expiration_time": close,
        "settlement_timer_seconds": 0,
        "status": status,
        "yes_bid_dollars": fmt_price(yes_bid[0]) if yes_bid else _ZERO_PRICE,
        "yes_bid_size_fp": fmt_count(yes_bid[1]) if yes_bid else _ZERO_COUNT,
        "yes_ask_dollars": fmt_price(Price(yes_ask)),
        "yes_ask_size_fp": fmt_count(no_bid[1]) if no_bid else _ZERO_COUNT,
        "no_bid_dollars": fmt_price(Price(ONE_DOLLAR - yes_ask)),
        "no_ask_dollars": fmt_price(Price(ONE_DOLLAR - yes_bid[0])) if yes_bid else _ONE_PRICE,
        "last_price_dollars": fmt_price(last) if last else _ZERO_PRICE,
        "previous_yes_bid_dollars": fmt_price(rec.prev_yes_bid or Price(0)),
        "previous_yes_ask_dollars": fmt_price(rec.prev_yes_ask or Price(0)),
        "previous_price_dollars": fmt_price(rec.prev_last or Price(0)),
        "volume_fp": fmt_count(Count(m.volume + rec.own_volume)),
        "volume_24h_fp": fmt_count(Count(m.volume + rec.own_volume)),
        "open_interest_fp": fmt_count(m.open_interest),
        "notional_value_dollars": _ONE_PRICE,
        "result": rec.result,
        "can_close_early": False,
        "expiration_value": rec.result,
        "rules_primary": f"If {rec.subtitle or m.title} (market {rec.ticker}) resolves true at close, "
        "this market resolves to Yes. (kalashi sim-exchange: a simulated market.)",
        "rules_secondary": "",
        "price_level_structure": rec.price_level_structure,
        "price_ranges": [b.to_wire() for b in m.price_ranges],
        "settlement_bounds_type": "default",
        "exchange_index": m.exchange_index,
    }
    if m.strike_type:
        out["strike_type"] = m.strike_type
    fs, cs = _number(m.floor_strike), _number(m.cap_strike)
    if fs is not None:
        out["floor_strike"] = fs
    if cs is not None:
        out["cap_strike"] = cs
    if m.is_combo:
        out["mve_collection_ticker"] = rec.event_ticker  # each sim combo event is its own collection
    if rec.settlement_value is not None:
        out["settlement_value_dollars"] = fmt_price(rec.settlement_value)
    if rec.settled_ms is not None:
        out["settlement_ts"] = iso(rec.settled_ms)
    return out


def orderbook_fp(book: Market, depth: int = 0) -> Json:
    """``orderbook_fp`` of GET /markets/{ticker}/orderbook: bids only, ascending, best LAST.

    ``depth`` 0 means every level; otherwise the ``depth`` best levels per side.
    """
    yes: Sequence[Level] = book.yes_bids
    no: Sequence[Level] = book.no_bids
    if depth > 0:
        yes, no = yes[:depth], no[:depth]
    return {
        "yes_dollars": [[fmt_price(p), fmt_count(s)] for p, s in reversed(yes)],
        "no_dollars": [[fmt_price(p), fmt_count(s)] for p, s in reversed(no)],
    }


def event_json(ev: EventRecord, markets: list[Json] | None = None) -> Json:
    """One EventData object (``markets`` only with ``with_nested_markets``)."""
    out: Json = {
        "event_ticker": ev.event_ticker,
        "series_ticker": ev.series_ticker,
        "title": ev.title,
        "sub_title": ev.sub_title,
        "category": ev.category,
        "collateral_return_type": "MECNET" if ev.mutually_exclusive else "",
        "mutually_exclusive": ev.mutually_exclusive,
        "available_on_brokers": False,  # deprecated, always false; 3.28 still requires it
        "settlement_sources": [],
        "strike_date": iso(ev.close_ms),
        "last_updated_ts": iso(ev.updated_ms),
        "exchange_index": 0,
    }
    if markets is not None:
        out["markets"] = markets
    return out


def multiplier_number(m: int) -> float | int:
    """A fee multiplier (1/10 000 units) as the JSON number Kalshi sends (``1``, ``0.5``)."""
    q, r = divmod(m, MULT_SCALE)
    return q if r == 0 else float(Decimal(m).scaleb(-4))


def series_json(s: SeriesRecord, *, volume: int | None = None) -> Json:
    """One Series object (fee structure, category; ``volume_fp`` with ``include_volume``)."""
    out: Json = {
        "ticker": s.ticker,
        "frequency": s.frequency,
        "title": s.title,
        "category": s.category,
        "categories": [s.category],
        "tags": [],
        "settlement_sources": [],
        "contract_url": "",
        "contract_terms_url": "",
        "fee_type": s.fee_type,
        "fee_multiplier": multiplier_number(s.fee_multiplier),
        "additional_prohibitions": [],
        "exchange_index": 0,
    }
    if volume is not None:
        out["volume_fp"] = fmt_count(Count(volume))
    return out


def event_metadata_json(ev: EventRecord) -> Json:
    """GET /events/{ticker}/metadata: no images or colours in the sim, one settlement source."""
    return {
        "image_url": "",
        "featured_image_url": "",
        "market_details": [{"market_ticker": t, "image_url": "", "color_code": ""} for t in ev.tickers],
        "settlement_sources": [{"name": "kalashi sim-exchange", "url": ""}],
    }


def collection_json(ev: EventRecord, price_level_structure: str, price_ranges: list[Any]) -> Json:
    """One MultivariateEventCollection (each sim combo event is its own collection, without legs)."""
    return {
        "collection_ticker": ev.event_ticker,
        "series_ticker": ev.series_ticker,
        "exchange_index": 0,
        "title": ev.title,
        "description": "A simulated combo event (kalashi sim-exchange); its markets are listed, not built from legs.",
        "open_date": iso(ev.open_ms).replace(".000Z", "Z"),
        "close_date": iso(ev.close_ms).replace(".000Z", "Z"),
        "associated_events": [],
        "associated_event_tickers": [],
        "is_ordered": False,
        "is_single_market_per_event": False,
        "is_all_yes": False,
        "size_min": 0,
        "size_max": 0,
        "functional_description": "Not simulated: markets cannot be created or looked up from legs.",
        "price_level_structure": price_level_structure,
        "price_ranges": price_ranges,
    }


def trade_json(t: Trade) -> Json:
    """One public Trade (GET /markets/trades)."""
    outcome = _outcome(t.taker_side)
    return {
        "trade_id": t.trade_id,
        "ticker": t.ticker,
        "count_fp": fmt_count(t.count),
        "yes_price_dollars": fmt_price(t.price),
        "no_price_dollars": fmt_price(Price(ONE_DOLLAR - t.price)),
        "taker_outcome_side": outcome,
        "taker_book_side": t.taker_side,
        "taker_side": outcome,
        "is_block_trade": False,
        "created_time": iso(t.ts_ms),
    }


# --------------------------------------------------------------------------- portfolio


def balance_json(b: Balance, *, now_ms: int) -> Json:
    """GET /portfolio/balance: ``balance``/``portfolio_value`` in integer cents (trap 2)."""
    return {
        "balance": cents(b.balance),
        "balance_dollars": fmt_money(b.balance),
        "portfolio_value": cents(b.portfolio_value),
        "updated_ts": now_ms // 1000,
        "balance_breakdown": [{"exchange_index": 0, "balance": fmt_money(b.balance)}],
    }


def order_json(o: ExchangeOrder, *, user_id: str, intent: OrderIntent | None, updated_ms: int) -> Json:
    """One Order (GET /portfolio/orders); ``side``/``action`` are the deprecated twins."""
    outcome = _outcome(o.side)
    out: Json = {
        "order_id": o.order_id,
        "user_id": user_id,
        "client_order_id": o.client_order_id,
        "ticker": o.ticker,
        "outcome_side": outcome,
        "book_side": o.side,
        "side": outcome,
        "action": "buy",
        "type": "limit",
        "status": o.status,
        "yes_price_dollars": fmt_price(o.price),
        "no_price_dollars": fmt_price(Price(ONE_DOLLAR - o.price)),
        "fill_count_fp": fmt_count(o.fill_count),
        "remaining_count_fp": fmt_count(o.remaining_count),
        "initial_count_fp": fmt_count(o.initial_count),
        "taker_fill_cost_dollars": fmt_money(o.taker_fill_cost),
        "maker_fill_cost_dollars": fmt_money(o.maker_fill_cost),
        "taker_fees_dollars": fmt_money(o.taker_fees),
        "maker_fees_dollars": fmt_money(o.maker_fees),
        "created_time": iso(o.created_ts_ms),
        "last_update_time": iso(max(updated_ms, o.created_ts_ms)),
        "subaccount_number": 0,
        "exchange_index": 0,
    }
    if intent is not None:
        out["self_trade_prevention_type"] = intent.self_trade_prevention_type
        out["cancel_order_on_pause"] = intent.cancel_order_on_pause
        if intent.expiration_ts is not None:
            out["expiration_time"] = iso(intent.expiration_ts * 1000)
    if o.order_group_id:
        out["order_group_id"] = o.order_group_id
    return out


def fill_json(f: ExchangeFill) -> Json:
    """One Fill (GET /portfolio/fills): ``ts`` in Unix seconds, ``fee_cost`` in dollars."""
    outcome = _outcome(f.side)
    return {
        "fill_id": f.fill_id,
        "trade_id": f.fill_id,
        "order_id": f.order_id,
        "ticker": f.ticker,
        "market_ticker": f.ticker,
        "outcome_side": outcome,
        "book_side": f.side,
        "side": outcome,
        "action": "buy",
        "count_fp": fmt_count(f.count),
        "yes_price_dollars": fmt_price(f.price),
        "no_price_dollars": fmt_price(Price(ONE_DOLLAR - f.price)),
        "is_taker": f.is_taker,
        "fee_cost": fmt_money(f.fee),
        "created_time": iso(f.ts_ms),
        "ts": f.ts_ms // 1000,
        "subaccount_number": 0,
        "exchange_index": 0,
    }


def position_json(p: MarketPosition, *, total_traded: int, updated_ms: int) -> Json:
    """One MarketPosition (``position_fp`` > 0 YES, < 0 NO)."""
    return {
        "ticker": p.ticker,
        "exchange_index": 0,
        "position_fp": fmt_count(p.position),
        "market_exposure_dollars": fmt_money(p.exposure),
        "total_traded_dollars": fmt_money(Money(total_traded)),
        "realized_pnl_dollars": fmt_money(p.realized_pnl),
        "fees_paid_dollars": fmt_money(p.fees_paid),
        "last_updated_ts": iso(updated_ms),
    }


def event_position_json(event_ticker: str, positions: Sequence[MarketPosition]) -> Json:
    """One EventPosition: the event's market positions summed."""
    exposure = sum(p.exposure for p in positions)
    return {
        "event_ticker": event_ticker,
        "total_cost_dollars": fmt_money(Money(exposure)),
        "total_cost_shares_fp": fmt_count(Count(sum(abs(p.position) for p in positions))),
        "event_exposure_dollars": fmt_money(Money(exposure)),
        "realized_pnl_dollars": fmt_money(Money(sum(p.realized_pnl for p in positions))),
        "fees_paid_dollars": fmt_money(Money(sum(p.fees_paid for p in positions))),
    }


def settlement_json(s: Settlement, *, cost: int) -> Json:
    """One portfolio Settlement: ``revenue`` and ``value`` in integer cents (trap 2)."""
    out: Json = {
        "ticker": s.ticker,
        "event_ticker": s.event_ticker,
        "exchange_index": 0,
        "market_result": s.result,
        "yes_count_fp": fmt_count(s.yes_count),
        "yes_total_cost_dollars": fmt_money(Money(cost if s.yes_count else Money(0))),
        "no_count_fp": fmt_count(s.no_count),
        "no_total_cost_dollars": fmt_money(Money(cost if s.no_count else Money(0))),
        "revenue": cents(s.revenue),
        "fee_cost": fmt_money(Money(0)),
        "settled_time": iso(s.settled_ts_ms),
    }
    if s.value is not None:
        out["value"] = s.value // _PRICE_PER_CENT
    return out


def ack_json(a: OrderAck) -> Json:
    """CreateOrderV2Response (and the amend answer): counts as unsuffixed fp strings."""
    out: Json = {
        "order_id": a.order_id,
        "fill_count": fmt_count(a.fill_count),
        "remaining_count": fmt_count(a.remaining_count),
        "ts_ms": a.ts_ms,
    }
    if a.client_order_id:
        out["client_order_id"] = a.client_order_id
    if a.average_fill_price is not None:
        out["average_fill_price"] = fmt_price(a.average_fill_price)
    if a.average_fee_paid is not None:
        out["average_fee_paid"] = fmt_money(a.average_fee_paid)
    return out


# --------------------------------------------------------------------------- WebSocket payloads


def ws_levels(levels: Sequence[Level]) -> list[list[str]]:
    """WS snapshot levels ``[[price, count], …]`` ascending (the order REST uses)."""
    return [[fmt_price(p), fmt_count(s)] for p, s in reversed(levels)]


def ws_ticker(rec: MarketRecord, book: Market, *, ts_ms: int) -> Json:
    """``ticker`` message body: top of book, last trade, volume and open interest."""
    m = rec.market
    yes_bid = book.yes_bids[0] if book.yes_bids else None
    no_bid = book.no_bids[0] if book.no_bids else None
    last = book.last_price if book.last_price is not None else m.last_price
    volume = m.volume + rec.own_volume
    return {
        "market_ticker": rec.ticker,
        "market_id": rec.market_id,
        "price_dollars": fmt_price(last or Price(0)),
        "yes_bid_dollars": fmt_price(yes_bid[0]) if yes_bid else _ZERO_PRICE,
        "yes_ask_dollars": fmt_price(Price(ONE_DOLLAR - no_bid[0])) if no_bid else _ONE_PRICE,
        "yes_bid_size_fp": fmt_count(yes_bid[1]) if yes_bid else _ZERO_COUNT,
        "yes_ask_size_fp": fmt_count(no_bid[1]) if no_bid else _ZERO_COUNT,
        "last_trade_size_fp": fmt_count(rec.last_trade_count),
        "volume_fp": fmt_count(Count(volume)),
        "open_interest_fp": fmt_count(m.open_interest),
        # whole dollars, approximated at the last price (the sim keeps no per-trade notional)
        "dollar_volume": volume * (last or 0) // (COUNT_SCALE * ONE_DOLLAR),
        "dollar_open_interest": m.open_interest * (last or 0) // (COUNT_SCALE * ONE_DOLLAR),
        "ts": ts_ms // 1000,
        "ts_ms": ts_ms,
        "time": iso(ts_ms).replace(".000Z", "Z"),
    }


def ws_trade(t: Trade) -> Json:
    """``trade`` message body."""
    outcome = _outcome(t.taker_side)
    return {
        "trade_id": t.trade_id,
        "market_ticker": t.ticker,
        "yes_price_dollars": fmt_price(t.price),
        "no_price_dollars": fmt_price(Price(ONE_DOLLAR - t.price)),
        "count_fp": fmt_count(t.count),
        "taker_side": outcome,
        "taker_outcome_side": outcome,
        "taker_book_side": t.taker_side,
        "is_block_trade": False,
        "ts": t.ts_ms // 1000,
        "ts_ms": t.ts_ms,
    }


def ws_fill(f: ExchangeFill, *, post_position: int) -> Json:
    """``fill`` message body (yours): only the YES price is sent."""
    outcome = _outcome(f.side)
    out: Json = {
        "trade_id": f.fill_id,
        "order_id": f.order_id,
        "market_ticker": f.ticker,
        "exchange_index": 0,
        "is_taker": f.is_taker,
        "side": outcome,
        "yes_price_dollars": fmt_price(f.price),
        "count_fp": fmt_count(f.count),
        "fee_cost": fmt_money(f.fee),
        "action": "buy",
        "outcome_side": outcome,
        "book_side": f.side,
        "ts": f.ts_ms // 1000,
        "ts_ms": f.ts_ms,
        "post_position_fp": fmt_count(Count(post_position)),
        "purchased_side": outcome,
    }
    if f.client_order_id:
        out["client_order_id"] = f.client_order_id
    return out


def ws_user_order(o: ExchangeOrder, *, user_id: str, intent: OrderIntent | None, updated_ms: int) -> Json:
    """``user_order`` message body: the order as it stands after the change."""
    outcome = _outcome(o.side)
    out: Json = {
        "order_id": o.order_id,
        "user_id": user_id,
        "ticker": o.ticker,
        "status": o.status,
        "side": outcome,
        "is_yes": outcome == "yes",
        "outcome_side": outcome,
        "book_side": o.side,
        "yes_price_dollars": fmt_price(o.price),
        "fill_count_fp": fmt_count(o.fill_count),
        "remaining_count_fp": fmt_count(o.remaining_count),
        "initial_count_fp": fmt_count(o.initial_count),
        "taker_fill_cost_dollars": fmt_money(o.taker_fill_cost),
        "maker_fill_cost_dollars": fmt_money(o.maker_fill_cost),
        "taker_fees_dollars": fmt_money(o.taker_fees),
        "maker_fees_dollars": fmt_money(o.maker_fees),
        "client_order_id": o.client_order_id,
        "created_time": iso(o.created_ts_ms),
        "created_ts_ms": o.created_ts_ms,
        "last_updated_ts_ms": max(updated_ms, o.created_ts_ms),
        "subaccount_number": 0,
    }
    if o.order_group_id:
        out["order_group_id"] = o.order_group_id
    if intent is not None:
        out["self_trade_prevention_type"] = intent.self_trade_prevention_type
        if intent.expiration_ts is not None:
            out["expiration_time"] = iso(intent.expiration_ts * 1000)
            out["expiration_ts_ms"] = intent.expiration_ts * 1000
    return out


def ws_market_position(p: MarketPosition, *, user_id: str, volume: int) -> Json:
    """``market_position`` message body."""
    return {
        "user_id": user_id,
        "market_ticker": p.ticker,
        "position_fp": fmt_count(p.position),
        "position_cost_dollars": fmt_money(p.exposure),
        "realized_pnl_dollars": fmt_money(p.realized_pnl),
        "fees_paid_dollars": fmt_money(p.fees_paid),
        "position_fee_cost_dollars": fmt_money(p.fees_paid),
        "volume_fp": fmt_count(Count(volume)),
    }
