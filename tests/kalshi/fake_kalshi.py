"""An in-memory Kalshi REST API behind ``httpx.MockTransport`` — strict where Kalshi is strict.

It verifies request signatures with the registered public keys (401 with Kalshi's real body
when wrong), pages with opaque cursors, enforces the documented parameter encodings (GET
/markets ``tickers`` is ONE comma-separated value; GET /markets/orderbooks ``tickers`` is
repeated and ≤ 100; /events limit ≤ 200, /markets limit ≤ 1000), the V2 order body rules
(``side`` bid/ask, string ``price``/``count``, required ``time_in_force`` and
``self_trade_prevention_type``), duplicate ``client_order_id`` → 409, and lets a test
script faults (429, 5xx, timeouts, connection errors) for the next matching requests.
"""

from __future__ import annotations

import base64
import itertools
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import httpx
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

from kalashi_cli.money import ONE_DOLLAR, Count, Price, fmt_count, fmt_price, parse_count, parse_price

PREFIX = "/trade-api/v2"
AUTH_401 = {
    "error": {
        "code": "authentication_error",
        "message": "authentication_error",
        "details": "rpc error: code = Unauthenticated desc = INCORRECT_API_KEY_SIGNATURE",
    }
}
TOO_MANY = {"error": "too many requests"}


def make_market(
    ticker: str,
    event_ticker: str,
    *,
    yes_bid: str = "0.4500",
    yes_ask: str = "0.4700",
    bid_size: str = "100.00",
    ask_size: str = "50.00",
    status: str = "active",
    step: str = "0.0100",
    result: str = "",
    **extra: Any,
) -> dict[str, Any]:
    """A 2026-shaped market object (strings only, no series_ticker — as Kalshi sends it)."""
    m = {
        "ticker": ticker,
        "event_ticker": event_ticker,
        "market_type": "binary",
        "title": f"Market {ticker}",
        "yes_sub_title": ticker,
        "no_sub_title": ticker,
        "status": status,
        "close_time": "2026-12-31T23:00:00Z",
        "open_time": "2026-01-01T00:00:00Z",
        "yes_bid_dollars": yes_bid,
        "yes_bid_size_fp": bid_size,
        "yes_ask_dollars": yes_ask,
        "yes_ask_size_fp": ask_size,
        "no_bid_dollars": fmt_price(Price(ONE_DOLLAR - parse_price(yes_ask))),
        "no_ask_dollars": fmt_price(Price(ONE_DOLLAR - parse_price(yes_bid))),
        "last_price_dollars": yes_bid,
        "volume_fp": "1234.00",
        "volume_24h_fp": "10.00",
        "open_interest_fp": "500.00",
        "result": result,
        "price_level_structure": "linear_cent",
        "price_ranges": [{"start": "0.0000", "end": "1.0000", "step": step}],
        "settlement_timer_seconds": 600,
        "can_close_early": True,
        "some_field_kalshi_added_next_month": {"nested": [1, 2, 3]},
    }
    m.update(extra)
    return m


def _cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o:{offset}".encode()).decode()


def _offset(cursor: str | None) -> int:
    if not cursor:
        return 0
    return int(base64.urlsafe_b64decode(cursor.encode()).decode().split(":")[1])


class FakeTimeout(Exception):
    pass


@dataclass
class Fault:
    """Answer the next matching request with ``status`` (or raise ``exc``) instead of serving it."""

    method: str
    path: str  # prefix relative to /trade-api/v2
    status: int | None = None
    body: Any = None
    exc: type[Exception] | None = None
    after_processing: bool = False  # serve it (e.g. place the order) and THEN fail the response


@dataclass
class FakeKalshi:
    public_keys: dict[str, Any] = field(default_factory=dict)
    require_auth: bool = False  # for market data; portfolio/orders always require auth
    markets: dict[str, dict[str, Any]] = field(default_factory=dict)
    books: dict[str, dict[str, list[list[str]]]] = field(default_factory=dict)
    series: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    trades: list[dict[str, Any]] = field(default_factory=list)
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    fills: list[dict[str, Any]] = field(default_factory=list)
    positions: dict[str, int] = field(default_factory=dict)
    settlements: list[dict[str, Any]] = field(default_factory=list)
    balance_cents: int = 100_000
    trading_active: bool = True
    limits: dict[str, Any] = field(
        default_factory=lambda: {
            "usage_tier": "basic",
            "read": {"refill_rate": 200, "bucket_capacity": 400},
            "write": {"refill_rate": 100, "bucket_capacity": 100},
            "grants": [],
        }
    )
    faults: list[Fault] = field(default_factory=list)
    calls: list[tuple[str, str, str]] = field(default_factory=list)  # (method, path, raw query)
    signed_messages: list[str] = field(default_factory=list)
    now_ms: int = 1_790_000_000_000
    _ids: Any = field(default_factory=lambda: itertools.count(1))
    order_groups: dict[str, dict[str, Any]] = field(default_factory=dict)

    # ------------------------------------------------------------------ setup helpers
    def add_market(
        self, market: dict[str, Any], yes: list[list[str]] | None = None, no: list[list[str]] | None = None
    ) -> None:
        self.markets[market["ticker"]] = market
        self.books[market["ticker"]] = {"yes_dollars": yes or [], "no_dollars": no or []}

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def count(self, method: str, path: str) -> int:
        return sum(1 for m, p, _ in self.calls if m == method and p == path)

    def by_path(self) -> Counter[str]:
        return Counter(f"{m} {p}" for m, p, _ in self.calls)

    # ------------------------------------------------------------------ plumbing
    def _json(self, status: int, body: Any) -> httpx.Response:
        return httpx.Response(status, content=json.dumps(body).encode(), headers={"content-type": "application/json"})

    def _err(self, status: int, code: str, message: str) -> httpx.Response:
        return self._json(status, {"error": {"code": code, "message": message, "details": message}})

    def _verify(self, request: httpx.Request) -> bool:
        key_id = request.headers.get("KALSHI-ACCESS-KEY")
        ts = request.headers.get("KALSHI-ACCESS-TIMESTAMP")
        sig = request.headers.get("KALSHI-ACCESS-SIGNATURE")
        if not (key_id and ts and sig) or key_id not in self.public_keys or not ts.isdigit() or len(ts) < 13:
            return False
        path = request.url.raw_path.decode().split("?", 1)[0]
        message = f"{ts}{request.method}{path}".encode()
        pub = self.public_keys[key_id]
        try:
            raw = base64.b64decode(sig, validate=True)
            if isinstance(pub, ed25519.Ed25519PublicKey):
                pub.verify(raw, message)
            else:
                assert isinstance(pub, rsa.RSAPublicKey)
                pub.verify(
                    raw, message, padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32), hashes.SHA256()
                )
        except (InvalidSignature, ValueError):
            return False
        self.signed_messages.append(message.decode())
        return True

    def handle(self, request: httpx.Request) -> httpx.Response:
        raw_path = request.url.raw_path.decode()
        path, _, query = raw_path.partition("?")
        assert path.startswith(PREFIX), f"request outside {PREFIX}: {path}"
        rel = path[len(PREFIX) :]
        self.calls.append((request.method, rel, query))
        q = parse_qs(query, keep_blank_values=True)
        body = json.loads(request.content) if request.content else None
        private = rel.startswith(("/portfolio", "/account"))
        has_auth = "KALSHI-ACCESS-KEY" in request.headers
        if (private or self.require_auth or has_auth) and not self._verify(request):
            return self._json(401, AUTH_401)
        for i, fault in enumerate(self.faults):
            if fault.method == request.method and rel.startswith(fault.path):
                del self.faults[i]
                if fault.after_processing:
                    self._route(request.method, rel, q, body)
                if fault.exc is not None:
                    raise fault.exc("injected", request=request)  # type: ignore[call-arg]
                return self._json(fault.status or 500, fault.body if fault.body is not None else {})
        return self._route(request.method, rel, q, body)

    # ------------------------------------------------------------------ routing
    def _route(self, method: str, rel: str, q: dict[str, list[str]], body: Any) -> httpx.Response:
        routes: list[tuple[str, str, Callable[..., httpx.Response]]] = [
            (
                "GET",
                "/exchange/status",
                lambda: self._json(200, {"exchange_active": True, "trading_active": self.trading_active}),
            ),
            (
                "GET",
                "/exchange/schedule",
                lambda: self._json(200, {"schedule": {"standard_hours": [], "maintenance_windows": []}}),
            ),
            ("GET", "/account/limits", lambda: self._json(200, self.limits)),
            ("GET", "/markets", lambda: self._markets(q)),
            ("GET", "/markets/orderbooks", lambda: self._orderbooks(q)),
            ("GET", "/markets/trades", lambda: self._page(q, self.trades, "trades", 1000)),
            ("GET", "/events", lambda: self._events(q)),
            ("GET", "/series", lambda: self._json(200, {"series": self.series})),
            (
                "GET",
                "/portfolio/balance",
                lambda: self._json(
                    200,
                    {
                        "balance": self.balance_cents,
                        "balance_dollars": fmt_price(Price(self.balance_cents * 100)),
                        "portfolio_value": 0,
                        "updated_ts": self.now_ms // 1000,
                        "balance_breakdown": [
                            {"exchange_index": 0, "balance": fmt_price(Price(self.balance_cents * 100))}
                        ],
                    },
                ),
            ),
            (
                "GET",
                "/portfolio/positions",
                lambda: self._page(
                    q,
                    [
                        {
                            "ticker": t,
                            "position_fp": fmt_count(Count(p)),
                            "market_exposure_dollars": "0.0000",
                            "realized_pnl_dollars": "0.0000",
                            "fees_paid_dollars": "0.0000",
                            "exchange_index": 0,
                            "total_traded_dollars": "0.0000",
                            "last_updated_ts": "2026-01-01T00:00:00Z",
                        }
                        for t, p in self.positions.items()
                        if p
                    ],
                    "market_positions",
                    1000,
                ),
            ),
            (
                "GET",
                "/portfolio/orders",
                lambda: self._page(
                    q,
                    [o for o in self.orders.values() if not q.get("status") or o["status"] == q["status"][0]],
                    "orders",
                    1000,
                ),
            ),
            (
                "GET",
                "/portfolio/fills",
                lambda: self._page(
                    q, [f for f in self.fills if not q.get("min_ts") or f["ts"] >= int(q["min_ts"][0])], "fills", 1000
                ),
            ),
            ("GET", "/portfolio/settlements", lambda: self._page(q, self.settlements, "settlements", 1000)),
            ("POST", "/portfolio/events/orders", lambda: self._create(body)),
            ("DELETE", "/portfolio/events/orders", lambda: self._cancel_all()),
            ("POST", "/portfolio/events/orders/batched", lambda: self._batch_create(body)),
            ("DELETE", "/portfolio/events/orders/batched", lambda: self._batch_cancel(body)),
            ("POST", "/portfolio/order_groups/create", lambda: self._group_create(body)),
            (
                "GET",
                "/portfolio/order_groups",
                lambda: self._json(200, {"order_groups": list(self.order_groups.values())}),
            ),
        ]
        for m, p, fn in routes:
            if m == method and p == rel:
                return fn()
        parts = rel.strip("/").split("/")
        if method == "GET" and parts[0] == "markets" and len(parts) == 2:
            mk = self.markets.get(parts[1])
            return self._json(200, {"market": mk}) if mk else self._err(404, "not_found", "market not found")
        if method == "GET" and parts[0] == "markets" and len(parts) == 3 and parts[2] == "orderbook":
            if parts[1] not in self.markets:
                return self._err(404, "not_found", "market not found")
            return self._json(200, {"orderbook_fp": self.books[parts[1]]})
        if method == "GET" and parts[0] == "series" and len(parts) == 2:
            s = next((s for s in self.series if s["ticker"] == parts[1]), None)
            return self._json(200, {"series": s}) if s else self._err(404, "not_found", "series not found")
        if method == "GET" and parts[0] == "events" and len(parts) == 2:
            e = next((e for e in self.events if e["event_ticker"] == parts[1]), None)
            return self._json(200, {"event": e, "markets": []}) if e else self._err(404, "not_found", "no event")
        if method == "GET" and parts[:2] == ["portfolio", "orders"] and len(parts) == 3:
            o = self.orders.get(parts[2])
            return self._json(200, {"order": o}) if o else self._err(404, "not_found", "order not found")
        if parts[:3] == ["portfolio", "events", "orders"] and len(parts) >= 4:
            oid = parts[3]
            if method == "DELETE" and len(parts) == 4:
                return self._cancel(oid, q)
            if method == "POST" and len(parts) == 5 and parts[4] == "amend":
                return self._amend(oid, body)
            if method == "POST" and len(parts) == 5 and parts[4] == "decrease":
                return self._decrease(oid, body)
        if parts[:2] == ["portfolio", "order_groups"] and len(parts) >= 3:
            gid = parts[2]
            if gid not in self.order_groups:
                return self._err(404, "not_found", "order group not found")
            if method == "GET" and len(parts) == 3:
                return self._json(200, {**self.order_groups[gid], "orders": []})
            if method == "DELETE" and len(parts) == 3:
                del self.order_groups[gid]
                return self._json(200, {})
            if method == "PUT" and len(parts) == 4 and parts[3] in ("reset", "trigger", "limit"):
                return self._json(200, {})
        return self._err(404, "not_found", f"no route {method} {rel}")

    # ------------------------------------------------------------------ market data
    def _page(self, q: dict[str, list[str]], items: list[Any], key: str, max_limit: int) -> httpx.Response:
        limit = int(q.get("limit", ["100"])[0])
        if not 1 <= limit <= max_limit:
            return self._err(400, "invalid_parameters", f"limit must be 1..{max_limit}")
        start = _offset(q.get("cursor", [""])[0])
        page = items[start : start + limit]
        nxt = start + limit
        return self._json(200, {key: page, "cursor": _cursor(nxt) if nxt < len(items) else ""})

    def _markets(self, q: dict[str, list[str]]) -> httpx.Response:
        if len(q.get("tickers", [])) > 1:
            return self._err(400, "invalid_parameters", "tickers must be ONE comma-separated value on /markets")
        items = list(self.markets.values())
        status = q.get("status", [""])[0]
        if status:
            if status not in ("unopened", "open", "paused", "closed", "settled"):
                return self._err(400, "bad_request", "invalid status filter")
            want = {
                "open": "active",
                "settled": "finalized",
                "unopened": "initialized",
                "paused": "inactive",
                "closed": "closed",
            }[status]
            items = [m for m in items if m["status"] == want]
        if q.get("tickers"):
            wanted = set(q["tickers"][0].split(","))
            items = [m for m in items if m["ticker"] in wanted]
        if q.get("event_ticker"):
            items = [m for m in items if m["event_ticker"] == q["event_ticker"][0]]
        if q.get("series_ticker"):
            series_of = {e["event_ticker"]: e["series_ticker"] for e in self.events}
            items = [m for m in items if series_of.get(m["event_ticker"]) == q["series_ticker"][0]]
        if q.get("mve_filter", [""])[0] == "exclude":
            items = [m for m in items if not m.get("mve_collection_ticker")]
        return self._page(q, items, "markets", 1000)

    def _orderbooks(self, q: dict[str, list[str]]) -> httpx.Response:
        tickers = q.get("tickers", [])
        if not tickers or any("," in t for t in tickers):
            return self._err(400, "invalid_parameters", "tickers must be repeated (tickers=A&tickers=B)")
        if len(tickers) > 100:
            return self._err(400, "invalid_parameters", "at most 100 tickers")
        return self._json(
            200, {"orderbooks": [{"ticker": t, "orderbook_fp": self.books[t]} for t in tickers if t in self.books]}
        )

    def _events(self, q: dict[str, list[str]]) -> httpx.Response:
        items = self.events
        if q.get("tickers"):
            wanted = set(q["tickers"][0].split(","))
            items = [e for e in items if e["event_ticker"] in wanted]
        by_event: dict[str, list[dict[str, Any]]] = {}
        for m in self.markets.values():
            by_event.setdefault(m["event_ticker"], []).append(m)
        status = q.get("status", [""])[0]
        if status == "open":  # an event matches when ANY of its markets is open
            items = [e for e in items if any(m["status"] == "active" for m in by_event.get(e["event_ticker"], []))]
        if q.get("with_nested_markets", [""])[0] == "true":
            items = [{**e, "markets": by_event.get(e["event_ticker"], [])} for e in items]
        return self._page(q, items, "events", 200)

    # ------------------------------------------------------------------ orders
    def _validate_order(self, o: Any) -> httpx.Response | None:
        if not isinstance(o, dict):
            return self._err(400, "invalid_parameters", "body must be an object")
        for k in ("ticker", "side", "count", "price", "time_in_force", "self_trade_prevention_type"):
            if k not in o:
                return self._err(400, "invalid_parameters", f"missing {k}")
        if o["side"] not in ("bid", "ask"):
            return self._err(400, "invalid_parameters", "side must be bid or ask")
        if not isinstance(o["price"], str) or not isinstance(o["count"], str):
            return self._err(400, "invalid_parameters", "price and count are strings")
        if any(k in o for k in ("action", "yes_price", "no_price", "type")):
            return self._err(400, "invalid_parameters", "legacy order fields are not accepted")
        m = self.markets.get(o["ticker"])
        if m is None:
            return self._err(404, "market_not_found", "market not found")
        step = parse_price(m["price_ranges"][0]["step"])
        if parse_price(o["price"]) % step:
            return self._err(400, "invalid_price", "price is off the tick grid")
        return None

    def _place(self, o: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        coid = o.get("client_order_id")
        if coid and any(x.get("client_order_id") == coid for x in self.orders.values()):
            return 409, {"error": {"code": "order_already_exists", "message": "duplicate client_order_id"}}
        oid = f"ord-{next(self._ids)}"
        price = parse_price(o["price"])
        count = parse_count(o["count"])
        book = self.books[o["ticker"]]
        # Fill against the best opposite level only: bid crosses a NO bid q when 1 − q ≤ price.
        opposite = book["no_dollars"] if o["side"] == "bid" else book["yes_dollars"]
        fill = 0
        if opposite:
            best_p, best_c = parse_price(opposite[-1][0]), parse_count(opposite[-1][1])
            crosses = (ONE_DOLLAR - best_p <= price) if o["side"] == "bid" else (best_p >= price)
            if crosses and not o.get("post_only"):
                fill = min(count, best_c)
                fill_price = ONE_DOLLAR - best_p if o["side"] == "bid" else best_p
                self.fills.append(
                    {
                        "fill_id": f"fill-{oid}",
                        "trade_id": f"fill-{oid}",
                        "order_id": oid,
                        "ticker": o["ticker"],
                        "outcome_side": "yes" if o["side"] == "bid" else "no",
                        "book_side": o["side"],
                        "count_fp": fmt_count(fill),
                        "yes_price_dollars": fmt_price(Price(fill_price)),
                        "no_price_dollars": fmt_price(Price(ONE_DOLLAR - fill_price)),
                        "is_taker": True,
                        "fee_cost": "0.0200",
                        "created_time": "2026-09-01T12:00:00Z",
                        "ts": self.now_ms // 1000,
                        "exchange_index": 0,
                    }
                )
                self.positions[o["ticker"]] = self.positions.get(o["ticker"], 0) + (
                    fill if o["side"] == "bid" else -fill
                )
        remaining = count - fill
        resting = remaining > 0 and o["time_in_force"] == "good_till_canceled"
        self.orders[oid] = {
            "order_id": oid,
            "client_order_id": coid or "",
            "ticker": o["ticker"],
            "book_side": o["side"],
            "outcome_side": "yes" if o["side"] == "bid" else "no",
            "status": "resting" if resting else ("executed" if fill else "canceled"),
            "yes_price_dollars": o["price"],
            "no_price_dollars": fmt_price(Price(ONE_DOLLAR - price)),
            "fill_count_fp": fmt_count(Count(fill)),
            "remaining_count_fp": fmt_count(Count(remaining if resting else Count(0))),
            "initial_count_fp": fmt_count(count),
            "taker_fees_dollars": "0.0200" if fill else "0.0000",
            "maker_fees_dollars": "0.0000",
            "taker_fill_cost_dollars": "0.0000",
            "maker_fill_cost_dollars": "0.0000",
            "created_time": "2026-09-01T12:00:00Z",
            "type": "limit",
        }
        ack: dict[str, Any] = {
            "order_id": oid,
            "fill_count": fmt_count(Count(fill)),
            "remaining_count": fmt_count(Count(remaining if resting else Count(0))),
            "ts_ms": self.now_ms,
        }
        if coid:
            ack["client_order_id"] = coid
        if fill:
            ack["average_fill_price"] = self.fills[-1]["yes_price_dollars"]
            ack["average_fee_paid"] = "0.0020"
        return 201, ack

    def _create(self, body: Any) -> httpx.Response:
        bad = self._validate_order(body)
        if bad is not None:
            return bad
        status, out = self._place(body)
        return self._json(status, out)

    def _batch_create(self, body: Any) -> httpx.Response:
        results = []
        for o in body["orders"]:
            bad = self._validate_order(o)
            if bad is not None:
                results.append({"client_order_id": o.get("client_order_id"), "error": json.loads(bad.content)["error"]})
                continue
            status, out = self._place(o)
            results.append(
                out if status == 201 else {"client_order_id": o.get("client_order_id"), "error": out["error"]}
            )
        return self._json(201, {"orders": results})

    def _cancel(self, oid: str, q: dict[str, list[str]]) -> httpx.Response:
        o = self.orders.get(oid)
        if o is None:
            return self._err(404, "not_found", "order not found")
        if q.get("market_ticker") and q["market_ticker"][0] != o["ticker"]:
            return self._err(400, "order_ticker_mismatch", "market_ticker does not match")
        reduced = o["remaining_count_fp"]
        o["status"], o["remaining_count_fp"] = "canceled", "0.00"
        return self._json(
            200, {"order_id": oid, "client_order_id": o["client_order_id"], "reduced_by": reduced, "ts_ms": self.now_ms}
        )

    def _batch_cancel(self, body: Any) -> httpx.Response:
        out = []
        for item in body["orders"]:
            r = self._cancel(item["order_id"], {})
            out.append(
                json.loads(r.content)
                if r.status_code == 200
                else {"order_id": item["order_id"], "reduced_by": "0.00", "error": json.loads(r.content)["error"]}
            )
        return self._json(200, {"orders": out})

    def _cancel_all(self) -> httpx.Response:
        n = 0
        for o in self.orders.values():
            if o["status"] == "resting":
                o["status"], o["remaining_count_fp"] = "canceled", "0.00"
                n += 1
        return self._json(200, {})

    def _amend(self, oid: str, body: Any) -> httpx.Response:
        o = self.orders.get(oid)
        if o is None:
            return self._err(404, "not_found", "order not found")
        for k in ("ticker", "side", "price", "count"):
            if k not in body:
                return self._err(400, "invalid_parameters", f"missing {k}")
        o["yes_price_dollars"] = body["price"]
        filled = parse_count(o["fill_count_fp"])
        o["remaining_count_fp"] = fmt_count(Count(parse_count(body["count"]) - filled))
        return self._json(
            200,
            {
                "order_id": oid,
                "remaining_count": o["remaining_count_fp"],
                "fill_count": o["fill_count_fp"],
                "ts_ms": self.now_ms,
            },
        )

    def _decrease(self, oid: str, body: Any) -> httpx.Response:
        o = self.orders.get(oid)
        if o is None:
            return self._err(404, "not_found", "order not found")
        if ("reduce_by" in body) == ("reduce_to" in body):
            return self._err(400, "invalid_parameters", "exactly one of reduce_by / reduce_to")
        rem = parse_count(o["remaining_count_fp"])
        rem = Count(rem - parse_count(body["reduce_by"]) if "reduce_by" in body else parse_count(body["reduce_to"]))
        o["remaining_count_fp"] = fmt_count(Count(max(rem, 0)))
        return self._json(200, {"order_id": oid, "remaining_count": o["remaining_count_fp"], "ts_ms": self.now_ms})

    def _group_create(self, body: Any) -> httpx.Response:
        gid = f"og-{next(self._ids)}"
        self.order_groups[gid] = {
            "id": gid,
            "contracts_limit_fp": body.get("contracts_limit_fp"),
            "is_auto_cancel_enabled": True,
        }
        return self._json(201, {"order_group_id": gid, "subaccount": 0})


def universe(n_markets: int, per_event: int = 5, *, series: tuple[str, ...] = ("KXAAA", "KXBBB")) -> FakeKalshi:
    """A fake exchange with ``n_markets`` open markets in events of ``per_event``, with books."""
    fake = FakeKalshi()
    fee = {"KXAAA": ("quadratic_with_maker_fees", 0.5), "KXBBB": ("quadratic", 1)}
    for s in series:
        ft, mult = fee.get(s, ("quadratic", 1))
        fake.series.append(
            {
                "ticker": s,
                "title": s,
                "category": "Economics",
                "fee_type": ft,
                "fee_multiplier": mult,
                "frequency": "daily",
                "tags": [],
            }
        )
    for i in range(n_markets):
        s = series[(i // per_event) % len(series)]
        ev = f"{s}-26SEP{i // per_event:05d}"
        t = f"{ev}-M{i % per_event}"
        if i % per_event == 0:
            fake.events.append(
                {
                    "event_ticker": ev,
                    "series_ticker": s,
                    "title": ev,
                    "sub_title": "",
                    "mutually_exclusive": True,
                    "collateral_return_type": "MECNET",
                }
            )
        bid = 1 + (i * 7) % 97
        fake.add_market(
            make_market(t, ev, yes_bid=fmt_price(Price(bid * 100)), yes_ask=fmt_price(Price(min(bid + 2, 99) * 100))),
            yes=[[fmt_price(Price((bid - 1) * 100)), "10.00"], [fmt_price(Price(bid * 100)), "100.00"]]
            if bid > 1
            else [[fmt_price(Price(bid * 100)), "100.00"]],
            no=[[fmt_price(Price((100 - min(bid + 2, 99)) * 100)), "50.00"]],
        )
    return fake
