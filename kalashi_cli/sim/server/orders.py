"""V2 order writes and order groups: ``/portfolio/events/orders…``, ``/portfolio/order_groups…``.

Bodies are read strictly (REFERENCE §5.5, §12 trap 3): a CreateOrderV2Request needs ``side``
bid/ask, string ``price``/``count``, ``time_in_force`` and ``self_trade_prevention_type``;
legacy V1 fields are refused. Ids go out as UUIDs and come back through :class:`~.ids.PublicIds`.
Book changes an order makes are marked as the account's doing, so the WebSocket
``orderbook_delta`` it causes carries its ``client_order_id``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from ...domain import OrderIntent, OrderStatus
from ...errors import ExchangeError
from ...money import Count, Price, fmt_count, parse_count, parse_price
from . import serialize as ser
from .core import ExchangeCore, OrderMeta
from .params import ApiError, Json, Params, Reply, bad

BATCH_MAX = 20  # V2 batch create/cancel: items per request (REFERENCE: "up to 20 orders at once")
TIFS = ("good_till_canceled", "immediate_or_cancel", "fill_or_kill")
STPS = ("taker_at_cross", "maker")
LEGACY_ORDER_FIELDS = (
    "action",
    "yes_price",
    "no_price",
    "type",
    "buy_max_cost",
    "sell_position_floor",
    "expiration_ts",
    "yes_price_dollars",
    "no_price_dollars",
)


def field(body: Mapping[str, Any], name: str, kind: type | tuple[type, ...], *, required: bool = False) -> Any:
    v = body.get(name)
    if v is None:
        if required:
            raise bad(f"{name} is required")
        return None
    if isinstance(v, bool) and kind is not bool:
        raise bad(f"{name} has the wrong type")
    if not isinstance(v, kind):
        raise bad(f"{name} must be a {getattr(kind, '__name__', 'value')}, got {type(v).__name__}")
    return v


def price_of(text: str, name: str = "price") -> int:
    try:
        return parse_price(text)
    except ValueError:
        raise bad(f"{name} {text!r} is not a dollar price with at most 4 decimals", "invalid_price") from None


def count_of(text: str, name: str = "count") -> Count:
    try:
        return parse_count(text)
    except ValueError:
        raise bad(f"{name} {text!r} is not a contract count with at most 2 decimals", "invalid_order_size") from None


def routing(body: Mapping[str, Any]) -> None:
    sub = field(body, "subaccount", int)
    if sub not in (None, 0):
        raise bad("subaccounts are not simulated: use subaccount 0 (or omit it)")
    ex = field(body, "exchange_index", int)
    if ex not in (None, 0, -1):
        raise bad(f"exchange_index {ex}: the simulator has one shard (0)")


def parse_intent(body: Any) -> OrderIntent:
    """Read a CreateOrderV2Request.

    Raises:
        ApiError: 400 for a missing or malformed field, a legacy V1 field, or a bad enum value.
    """
    if not isinstance(body, Mapping):
        raise bad("the body must be a JSON object")
    for legacy in LEGACY_ORDER_FIELDS:
        if legacy in body:
            raise bad(f"{legacy} is not a CreateOrderV2Request field (V2 orders use side bid/ask, price, count)")
    ticker = field(body, "ticker", str, required=True)
    side = field(body, "side", str, required=True)
    if side not in ("bid", "ask"):
        raise bad(f"side must be bid or ask (YES leg), not {side!r}", "invalid_order")
    price = price_of(field(body, "price", str, required=True))
    count = count_of(field(body, "count", str, required=True))
    tif = field(body, "time_in_force", str, required=True)
    if tif not in TIFS:
        raise bad(f"time_in_force must be one of {', '.join(TIFS)}, not {tif!r}", "invalid_order")
    stp = field(body, "self_trade_prevention_type", str, required=True)
    if stp not in STPS:
        raise bad(f"self_trade_prevention_type must be one of {', '.join(STPS)}, not {stp!r}", "invalid_order")
    routing(body)
    return OrderIntent(
        client_order_id=field(body, "client_order_id", str) or "",
        ticker=ticker,
        side=side,
        price=Price(price),
        count=count,
        time_in_force=tif,
        self_trade_prevention_type=stp,
        post_only=bool(field(body, "post_only", bool)),
        reduce_only=bool(field(body, "reduce_only", bool)),
        expiration_ts=field(body, "expiration_time", int),
        order_group_id=field(body, "order_group_id", str),
        cancel_order_on_pause=bool(field(body, "cancel_order_on_pause", bool)),
    )


def _item_error(e: ApiError) -> Json:
    return {"code": e.code, "message": e.message, "details": e.details or e.message}


class Orders:
    """Create, cancel, amend, decrease, batch, cancel-all; order groups."""

    def __init__(self, x: ExchangeCore) -> None:
        self.x = x

    def _require_trading(self) -> None:
        if not self.x.trading_active:
            # Kalshi documents no code for an exchange-wide trading pause; market_inactive is the
            # documented refusal for a market that takes no orders (REFERENCE §7.2, INFERENCE)
            raise ApiError(
                400,
                "market_inactive",
                "trading is paused on the exchange",
                "exchange trading pause: orders and amends are refused, cancels are allowed",
            )

    def submit(self, account: str, intent: OrderIntent) -> Json:
        """Create one order in the engine; return the CreateOrderV2Response body.

        Raises:
            ApiError: the engine's refusal (400/404/409) or a trading pause.
        """
        self._require_trading()
        x = self.x
        if intent.order_group_id:
            intent = replace(
                intent, order_group_id=x.ids.into(intent.order_group_id, "order group", "order_group_not_found")
            )
        try:
            with x.caused_by(account, intent.client_order_id):
                ack = x.engine.submit(account, intent)
        except ExchangeError as e:
            raise ApiError.of(e) from None
        x.meta[ack.order_id] = OrderMeta(intent, ack.ts_ms)
        return ser.ack_json(x.public_ack(ack))

    def create(self, account: str, body: Any, p: Params) -> Reply:
        p.allow()
        return 201, self.submit(account, parse_intent(body))

    def cancel(self, account: str, order_id: str, p: Params) -> Reply:
        p.allow("subaccount", "exchange_index", "market_ticker").subaccount()
        return 200, self._cancel(account, order_id, p.get("market_ticker"))

    def _cancel(self, account: str, order_id: str, ticker: str | None) -> Json:
        x = self.x
        try:
            o = x.engine.order(account, x.ids.into(order_id))
            if ticker is not None and o.ticker != ticker:
                raise ApiError(400, "order_ticker_mismatch", f"order {order_id} is in {o.ticker}, not {ticker}")
            with x.caused_by(account, o.client_order_id):
                reduced = x.engine.cancel(account, o.order_id)
        except ExchangeError as e:
            raise ApiError.of(e) from None
        out: Json = {"order_id": order_id, "reduced_by": fmt_count(reduced), "ts_ms": x.engine.now_ms}
        if o.client_order_id:
            out["client_order_id"] = o.client_order_id
        return out

    def amend(self, account: str, order_id: str, body: Any, p: Params) -> Reply:
        p.allow("subaccount").subaccount()
        if not isinstance(body, Mapping):
            raise bad("the body must be a JSON object")
        self._require_trading()
        x = self.x
        ticker = field(body, "ticker", str, required=True)
        side = field(body, "side", str, required=True)
        if side not in ("bid", "ask"):
            raise bad(f"side must be bid or ask, not {side!r}", "invalid_order")
        price = price_of(field(body, "price", str, required=True))
        count = count_of(field(body, "count", str, required=True))
        exp = field(body, "expiration_time", int)
        if exp is not None and exp < 0:
            raise bad("expiration_time must be 0 (remove) or a future Unix time in seconds")
        routing(body)
        engine_id = x.ids.into(order_id)
        coid = field(body, "client_order_id", str)
        new_coid = field(body, "updated_client_order_id", str)
        try:
            with x.caused_by(account, new_coid or coid or ""):
                ack = x.engine.amend(
                    account,
                    engine_id,
                    ticker=ticker,
                    side=side,
                    price=Price(price),
                    count=count,
                    client_order_id=coid,
                    updated_client_order_id=new_coid,
                    expiration_ts=exp,
                )
        except ExchangeError as e:
            raise ApiError.of(e) from None
        meta = x.meta.get(engine_id)
        if meta is not None:
            expiry = meta.intent.expiration_ts if exp is None else (exp or None)
            meta.intent = replace(
                meta.intent, price=Price(price), count=count, client_order_id=ack.client_order_id, expiration_ts=expiry
            )
        return 200, ser.ack_json(x.public_ack(ack))

    def decrease(self, account: str, order_id: str, body: Any, p: Params) -> Reply:
        p.allow("subaccount").subaccount()
        if not isinstance(body, Mapping):
            raise bad("the body must be a JSON object")
        x = self.x
        by = field(body, "reduce_by", str)
        to = field(body, "reduce_to", str)
        if (by is None) == (to is None):
            raise bad("give exactly one of reduce_by and reduce_to", "invalid_order")
        routing(body)
        ticker = field(body, "market_ticker", str)
        try:
            o = x.engine.order(account, x.ids.into(order_id))
            if ticker is not None and o.ticker != ticker:
                raise ApiError(400, "order_ticker_mismatch", f"order {order_id} is in {o.ticker}, not {ticker}")
            with x.caused_by(account, o.client_order_id):
                left = x.engine.decrease(
                    account,
                    o.order_id,
                    reduce_by=count_of(by, "reduce_by") if by is not None else None,
                    reduce_to=count_of(to, "reduce_to") if to is not None else None,
                )
        except ExchangeError as e:
            raise ApiError.of(e) from None
        out: Json = {"order_id": order_id, "remaining_count": fmt_count(left), "ts_ms": x.engine.now_ms}
        if o.client_order_id:
            out["client_order_id"] = o.client_order_id
        return 200, out

    # ------------------------------------------------------------------ batches and cancel-all
    @staticmethod
    def batch_items(body: Any) -> list[Any]:
        """The ``orders`` list of a batch body (validated for shape and size).

        Raises:
            ApiError: not ``{"orders": [...]}`` or too many items.
        """
        if not isinstance(body, Mapping) or not isinstance(body.get("orders"), list):
            raise bad('the body must be {"orders": [...]}')
        items = body["orders"]
        if not items:
            raise bad("orders must not be empty")
        if len(items) > BATCH_MAX:
            raise bad(f"at most {BATCH_MAX} orders per batch, got {len(items)}")
        return list(items)

    def batch_create(self, account: str, body: Any, p: Params) -> Reply:
        p.allow()
        out = []
        for item in self.batch_items(body):
            coid = item.get("client_order_id") if isinstance(item, Mapping) else None
            try:
                out.append(self.submit(account, parse_intent(item)))
            except ApiError as e:
                entry: Json = {"error": _item_error(e)}
                if isinstance(coid, str):
                    entry["client_order_id"] = coid
                out.append(entry)
        return 201, {"orders": out}

    def batch_cancel(self, account: str, body: Any, p: Params) -> Reply:
        p.allow()
        out = []
        for item in self.batch_items(body):
            oid = item.get("order_id") if isinstance(item, Mapping) else None
            if not isinstance(oid, str) or not oid:
                out.append(
                    {
                        "order_id": "",
                        "reduced_by": fmt_count(Count(0)),
                        "error": _item_error(bad("order_id is required")),
                    }
                )
                continue
            try:
                routing(item)
                ticker = item.get("market_ticker")
                out.append(self._cancel(account, oid, ticker if isinstance(ticker, str) else None))
            except ApiError as e:
                out.append({"order_id": oid, "reduced_by": fmt_count(Count(0)), "error": _item_error(e)})
        return 200, {"orders": out}

    def cancel_all(self, account: str, p: Params) -> Reply:
        """DELETE /portfolio/events/orders: 204 with no body, as the 3.34 spec documents."""
        p.allow("subaccount").subaccount()
        x = self.x
        for o in x.engine.orders(account, status=OrderStatus.RESTING):
            try:
                with x.caused_by(account, o.client_order_id):
                    x.engine.cancel(account, o.order_id)
            except ExchangeError:
                continue  # already gone (an earlier cancel in this loop triggered a group)
        return 204, None

    # ------------------------------------------------------------------ order groups
    @staticmethod
    def _limit_of(body: Any) -> Count:
        if not isinstance(body, Mapping):
            raise bad("the body must be a JSON object")
        fp = field(body, "contracts_limit_fp", str)
        whole = field(body, "contracts_limit", int)
        if fp is not None:
            n = count_of(fp, "contracts_limit_fp")
        elif whole is not None:
            n = whole * 100
        else:
            raise bad("contracts_limit_fp (or contracts_limit) is required")
        if n <= 0:
            raise bad("contracts_limit must be positive")
        return n

    def create_group(self, account: str, body: Any, p: Params) -> Reply:
        p.allow()
        n = self._limit_of(body)
        routing(body)
        try:
            gid = self.x.engine.create_order_group(account, n)
        except ExchangeError as e:
            raise ApiError.of(e) from None
        return 201, {"order_group_id": self.x.ids.out(gid), "subaccount": 0, "exchange_index": 0}

    def groups(self, account: str, p: Params) -> Reply:
        p.allow("subaccount").subaccount()
        ids = self.x.ids
        return 200, {
            "order_groups": [
                {
                    "id": ids.out(g.group_id),
                    "contracts_limit_fp": fmt_count(g.contracts_limit),
                    "is_auto_cancel_enabled": True,
                    "exchange_index": 0,
                }
                for g in self.x.engine.order_groups(account)
            ]
        }

    def group(self, account: str, group_id: str, p: Params) -> Reply:
        p.allow("subaccount").subaccount()
        ids = self.x.ids
        try:
            g = self.x.engine.order_group(account, ids.into(group_id, "order group", "order_group_not_found"))
        except ExchangeError as e:
            raise ApiError.of(e) from None
        return 200, {
            "is_auto_cancel_enabled": True,
            "contracts_limit_fp": fmt_count(g.contracts_limit),
            "orders": [ids.out(o) for o in g.order_ids],
            "exchange_index": 0,
        }

    def group_action(self, account: str, group_id: str, action: str, p: Params, body: Any = None) -> Reply:
        p.allow("subaccount", "exchange_index").subaccount()
        engine = self.x.engine
        gid = self.x.ids.into(group_id, "order group", "order_group_not_found")
        try:
            if action == "delete":
                engine.delete_order_group(account, gid)
            elif action == "reset":
                engine.reset_order_group(account, gid)
            elif action == "trigger":
                engine.trigger_order_group(account, gid)
            else:
                engine.set_order_group_limit(account, gid, self._limit_of(body))
        except ExchangeError as e:
            raise ApiError.of(e) from None
        return 200, {}


__all__ = ["BATCH_MAX", "Orders", "parse_intent"]
