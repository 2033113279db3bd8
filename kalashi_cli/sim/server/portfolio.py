"""Portfolio reads: balance, positions, orders, queue positions, fills, settlements, resting order value.

The live endpoints list what is newer than the historical cutoff; ``/historical/fills``,
``/historical/orders`` and ``/historical/positions`` (``historical=True``) list the rest: fills
before the activity cutoff, orders cancelled or executed before it, and positions in markets
settled before the market cutoff (REFERENCE §11, §12 trap 12).
"""

from __future__ import annotations

from ...domain import ExchangeFill, ExchangeOrder, MarketPosition, OrderStatus, Settlement
from ...errors import ExchangeError
from ...money import ONE_DOLLAR, Money, fmt_count, fmt_money
from . import serialize as ser
from .core import ExchangeCore
from .params import ROUTING, ApiError, Json, Params, Reply, bad, page, ts_filter, within

ORDER_STATUSES = ("resting", "canceled", "executed")


class Portfolio:
    """``/portfolio/balance``, ``…/positions``, ``…/orders…``, ``…/fills``, ``…/settlements``,
    ``…/summary/total_resting_order_value`` and their ``/historical`` twins."""

    def __init__(self, x: ExchangeCore) -> None:
        self.x = x

    def balance(self, account: str, p: Params) -> Reply:
        p.allow(*ROUTING).subaccount()
        return 200, ser.balance_json(self.x.engine.balance(account), now_ms=self.x.now_ms())

    def resting_order_value(self, account: str, p: Params) -> Reply:
        p.allow()
        total = 0
        for o in self.x.engine.orders(account, status=OrderStatus.RESTING):
            per = o.price if o.side == "bid" else ONE_DOLLAR - o.price  # collateral per contract
            total += per * o.remaining_count
        money = total  # price units (1/10 000 $) × count units (1/100) = money units (1/1 000 000 $)
        return 200, {
            "total_resting_order_value": ser.cents(money),
            "resting_order_value_breakdown": [{"exchange_index": 0, "balance": fmt_money(Money(money))}],
        }

    # ------------------------------------------------------------------ positions
    def positions(self, account: str, p: Params, *, historical: bool = False) -> Reply:
        if historical:
            p.allow("ticker", "event_ticker", "subaccount", "limit", "cursor").subaccount()
        else:
            p.allow(
                "cursor", "limit", "count_filter", "settlement_status", "ticker", "event_ticker", *ROUTING
            ).subaccount()
        x = self.x
        limit = p.limit(100, 1000, lo=1)
        ticker = p.get("ticker")
        event = p.get("event_ticker")
        count_filter = set(p.csv("count_filter") or ())
        if count_filter - {"position", "total_traded"}:
            raise bad("count_filter takes position and/or total_traded")
        settled = p.choice("settlement_status", ("all", "settled", "unsettled")) or "all"
        rows: list[MarketPosition] = []
        held = x.engine.positions(account, ticker=ticker, event_ticker=event)
        if historical:  # the engine forgets settled positions; the last view of each is kept
            held = [
                pos
                for (a, t), pos in x.last_position.items()
                if a == account and (ticker is None or t == ticker) and (event is None or _event_of(x, t) == event)
            ]
        for pos in held:
            rec = x.driver.markets.get(pos.ticker) or x.driver.archive.get(pos.ticker)
            if (rec is None or x.is_historical(rec)) != historical:
                continue
            is_settled = rec is None or rec.settled_ms is not None
            if (settled == "settled" and not is_settled) or (settled == "unsettled" and is_settled):
                continue
            _, traded, _ = x.pos_meta.get((account, pos.ticker), (0, 0, 0))
            if ("position" in count_filter and pos.position == 0) or ("total_traded" in count_filter and not traded):
                continue
            rows.append(pos)
        chunk, cursor = page(rows, limit, p.get("cursor"))
        market_rows = []
        by_event: dict[str, list[MarketPosition]] = {}
        for pos in chunk:
            _, traded, updated = x.pos_meta.get((account, pos.ticker), (0, 0, x.now_ms()))
            market_rows.append(ser.position_json(pos, total_traded=traded, updated_ms=updated))
            rec = x.driver.markets.get(pos.ticker) or x.driver.archive.get(pos.ticker)
            by_event.setdefault(rec.event_ticker if rec else "", []).append(pos)
        events = [ser.event_position_json(e, ps) for e, ps in by_event.items() if e]
        return 200, {"market_positions": market_rows, "event_positions": events, "cursor": cursor}

    # ------------------------------------------------------------------ orders
    def _is_old_order(self, o: ExchangeOrder, cutoff: int) -> bool:
        if o.status == OrderStatus.RESTING:
            return False  # resting orders are always live
        _, updated = self.x.order_meta(o)
        return max(updated, o.created_ts_ms) < cutoff

    def orders(self, account: str, p: Params, *, historical: bool = False) -> Reply:
        if historical:
            p.allow("ticker", "min_ts", "max_ts", "limit", "cursor", "subaccount").subaccount()
        else:
            p.allow("ticker", "event_ticker", "min_ts", "max_ts", "status", "limit", "cursor", *ROUTING).subaccount()
        x = self.x
        limit = p.limit(100, 1000, lo=1)
        status = None if historical else p.choice("status", ORDER_STATUSES)
        events = None if historical else p.csv("event_ticker")
        if events is not None and len(events) > 10:
            raise bad("event_ticker takes at most 10 event tickers")
        lo, hi = ts_filter(p, "min_ts", "max_ts")
        cutoff = x.activity_cutoff_ms()
        rows = [
            o
            for o in x.engine.orders(account, ticker=p.get("ticker"), status=status)
            if self._is_old_order(o, cutoff) == historical and within(o.created_ts_ms, lo, hi)
        ]
        if events is not None:
            wanted = set(events)
            rows = [
                o
                for o in rows
                if (r := x.driver.markets.get(o.ticker) or x.driver.archive.get(o.ticker)) is not None
                and r.event_ticker in wanted
            ]
        chunk, cursor = page(rows, limit, p.get("cursor"))
        return 200, {"orders": [x.order_json(account, o) for o in chunk], "cursor": cursor}

    def order(self, account: str, order_id: str, p: Params) -> Reply:
        p.allow()
        try:
            o = self.x.engine.order(account, self.x.ids.into(order_id))
        except ExchangeError as e:
            raise ApiError.of(e) from None
        return 200, {"order": self.x.order_json(account, o)}

    def queue_positions(self, account: str, p: Params) -> Reply:
        p.allow("market_tickers", "event_ticker", "subaccount").subaccount()
        tickers = p.csv("market_tickers")
        event = p.get("event_ticker")
        if tickers is None and event is None:
            raise bad("market_tickers or event_ticker is required")
        x = self.x
        rows = x.engine.queue_positions(account, tickers=tickers)
        if event is not None:
            rows = [q for q in rows if (r := x.driver.markets.get(q.ticker)) is not None and r.event_ticker == event]
        return 200, {
            "queue_positions": [
                {"order_id": x.ids.out(q.order_id), "market_ticker": q.ticker, "queue_position_fp": fmt_count(q.ahead)}
                for q in rows
            ]
        }

    def queue_position(self, account: str, order_id: str, p: Params) -> Reply:
        p.allow()
        try:
            ahead = self.x.engine.queue_position(account, self.x.ids.into(order_id))
        except ExchangeError as e:
            raise ApiError.of(e) from None
        return 200, {"queue_position_fp": fmt_count(ahead)}

    # ------------------------------------------------------------------ fills and settlements
    def fills(self, account: str, p: Params, *, historical: bool = False) -> Reply:
        if historical:
            p.allow("ticker", "min_ts", "max_ts", "limit", "cursor", "subaccount").subaccount()
        else:
            p.allow("ticker", "order_id", "min_ts", "max_ts", "limit", "cursor", *ROUTING).subaccount()
        x = self.x
        limit = p.limit(100, 1000, lo=1)
        lo, hi = ts_filter(p, "min_ts", "max_ts")
        oid = p.get("order_id")
        cutoff = x.activity_cutoff_ms()
        rows: list[ExchangeFill] = [
            f
            for f in x.engine.fills(account, ticker=p.get("ticker"), order_id=x.ids.maybe_into(oid))
            if within(f.ts_ms, lo, hi) and (f.ts_ms < cutoff) == historical
        ]
        chunk, cursor = page(rows, limit, p.get("cursor"))
        return 200, {"fills": [ser.fill_json(x.public_fill(f)) for f in chunk], "cursor": cursor}

    def settlements(self, account: str, p: Params) -> Reply:
        p.allow("limit", "cursor", "ticker", "event_ticker", "min_ts", "max_ts", *ROUTING).subaccount()
        x = self.x
        limit = p.limit(100, 1000, lo=1)
        lo, hi = ts_filter(p, "min_ts", "max_ts")
        event = p.get("event_ticker")
        rows: list[Settlement] = [
            s
            for s in x.engine.settlements(account, ticker=p.get("ticker"))
            if (event is None or s.event_ticker == event) and within(s.settled_ts_ms, lo, hi)
        ]
        chunk, cursor = page(rows, limit, p.get("cursor"))
        out: list[Json] = [ser.settlement_json(s, cost=x.settle_cost.get((account, s.ticker), 0)) for s in chunk]
        return 200, {"settlements": out, "cursor": cursor}


def _event_of(x: ExchangeCore, ticker: str) -> str | None:
    rec = x.driver.markets.get(ticker) or x.driver.archive.get(ticker)
    return rec.event_ticker if rec else None


__all__ = ["ORDER_STATUSES", "Portfolio"]
