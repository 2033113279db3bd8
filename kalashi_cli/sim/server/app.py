"""HTTP routes of ``kalashi sim-exchange``: Kalshi's REST paths, the WebSocket, the control endpoints.

Every ``/trade-api/v2`` request goes through the same gate, in this order:

1. **faults** — latency, a dropped connection, a 5xx or a 429 storm (:mod:`.faults`); nothing
   is processed when one hits;
2. **size** — a body over ``max_body_bytes`` (1 MB) is answered 413 before it is read further;
3. **authentication** — Kalshi's three headers, verified against the registered public keys;
   portfolio, order and account endpoints need them (401 ``authentication_error`` otherwise),
   public market data takes them when present;
4. **rate limits** — the caller's read or write token bucket (429 ``{"error": "too many
   requests"}``; a batch must fit whole);
5. the endpoint itself (a resource of :class:`~.exchange.SimExchange`), then WebSocket ``ticker``
   messages are flushed; an order create may then lose its answer (``lose_order_responses``).

Anything no route answers — an unknown path, a path outside ``/trade-api/v2``, ``OPTIONS`` — gets a
JSON error body (404, or 405 with ``Allow`` for a known path).

Control endpoints live under ``/_sim`` (never under ``/trade-api``) and answer loopback
callers only.

Every answer carries a ``Date`` header on the **simulated** market clock (:class:`SimDate`;
the runner turns uvicorn's wall-clock one off): clients take the exchange's time from it, as
kalashi's client does for quote expiries.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email.utils import formatdate
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocket

from ...errors import UsageError
from . import serialize as ser
from .exchange import SimExchange, parse_balance
from .faults import FaultConfig
from .keys import SignatureError, load_public_key
from .params import ApiError, Params
from .ws import WS_PATH, serve_connection

log = logging.getLogger("kalashi.sim_exchange")

PREFIX = "/trade-api/v2"
LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})
DropFn = Callable[[Scope, Send], Awaitable[None]]


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json", headers=headers)


async def fallback_drop(scope: Scope, send: Send) -> None:
    """Break the response when the transport is not reachable: headers promise a body never sent."""
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json"), (b"content-length", b"4096")],
        }
    )


class DropConnection(Response):
    """A "response" that closes the connection without answering."""

    def __init__(self, drop: DropFn) -> None:
        super().__init__(b"")
        self._drop = drop

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._drop(scope, send)


class SimDate:
    """ASGI middleware: stamp every HTTP answer with ``Date`` on the exchange's (simulated) clock.

    The market clock is the wall clock unless ``--speed`` accelerates it (:mod:`.clock`); Kalshi's
    own ``Date`` is its clock, so clients take the exchange's time from it. Signatures stay checked
    against the wall clock (:func:`authenticate`).
    """

    def __init__(self, app: ASGIApp, clock: Callable[[], int]) -> None:
        self.app = app
        self.clock = clock
        self._second = -1
        self._value = b""

    def _date(self) -> bytes:
        second = self.clock() // 1000
        if second != self._second:  # formatting costs more than the lookup: once per sim second
            self._second = second
            self._value = formatdate(second, usegmt=True).encode()
        return self._value

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return

        async def send_dated(message: Message) -> None:
            if message["type"] in ("http.response.start", "websocket.http.response.start", "websocket.accept"):
                headers = [(k, v) for k, v in message.get("headers", ()) if k.lower() != b"date"]
                message = {**message, "headers": [*headers, (b"date", self._date())]}
            await send(message)

        await self.app(scope, receive, send_dated)


@dataclass(slots=True)
class Ctx:
    """What an endpoint gets: the account (None when anonymous), query, path parameters, body."""

    account: str | None
    params: Params
    path: dict[str, str]
    body: Any

    @property
    def acct(self) -> str:
        assert self.account is not None
        return self.account


Handler = Callable[[Ctx], tuple[int, Any]]
_ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


def _auth_error(details: str) -> ApiError:
    return ApiError(
        401, "authentication_error", "authentication_error", f"rpc error: code = Unauthenticated desc = {details}"
    )


def authenticate(x: SimExchange, headers: Any, method: str, path: str, *, required: bool) -> str | None:
    """Return the key id a request is signed with (None for an anonymous public request).

    Raises:
        ApiError: 401 when the headers are missing on a private endpoint, or present but wrong.
    """
    key_id = headers.get("kalshi-access-key")
    ts = headers.get("kalshi-access-timestamp")
    sig = headers.get("kalshi-access-signature")
    if not (key_id or ts or sig):
        if required:
            raise _auth_error("MISSING_API_KEY_HEADERS")
        return None
    try:
        x.keys.verify(key_id or "", ts or "", method, path, sig or "", now_ms=x.wall_now())
    except SignatureError as e:
        raise _auth_error(str(e)) from None
    x.add_account(key_id)
    return str(key_id)


def too_large(limit: int) -> Response:
    return json_response(
        413,
        ser.error_body("request_too_large", "request body too large", f"request bodies are limited to {limit} bytes"),
    )


async def read_body(request: Request, limit: int) -> bytes | None:
    """The request body, or None when it is larger than ``limit`` (refused before it is parsed)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def build_app(x: SimExchange, *, drop: DropFn = fallback_drop) -> Starlette:
    """Build the ASGI app serving ``x`` (REST, WebSocket and ``/_sim`` control)."""
    limit = x.config.max_body_bytes

    def api(
        handler: Handler, *, auth: bool, batch: bool = False, creates: bool = False
    ) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            x.requests += 1
            fault = x.faults.for_request()
            if fault.delay_s > 0:
                await asyncio.sleep(fault.delay_s)
            if fault.action == "drop":
                return DropConnection(drop)
            if fault.action == "error":
                return json_response(
                    fault.status,
                    ser.error_body(
                        "internal_server_error", "internal server error", "injected by sim-exchange --error-rate"
                    ),
                )
            if fault.action == "throttle":
                return json_response(429, ser.TOO_MANY_REQUESTS)
            try:
                raw = await read_body(request, limit)
            except ClientDisconnect:
                return Response(status_code=499)  # the client went away mid-body: nobody to answer
            if raw is None:
                return too_large(limit)
            method = request.method
            raw_path = request.scope.get("raw_path") or request.url.path.encode()
            path = raw_path.decode("latin-1").split("?", 1)[0]
            try:
                account = authenticate(x, request.headers, method, path, required=auth)
                body: Any = None
                if raw:
                    try:
                        body = orjson.loads(raw)
                    except orjson.JSONDecodeError:
                        raise ApiError(400, "invalid_parameters", "the request body is not JSON") from None
                items = len(x.orders.batch_items(body)) if batch else 1
                caller = account or f"anon:{(request.client.host if request.client else '?')}"
                if not x.limits.allow(caller, method, path[len(PREFIX) :], items):
                    return json_response(429, ser.TOO_MANY_REQUESTS)
                ctx = Ctx(account, Params(request.query_params.multi_items()), dict(request.path_params), body)
                try:
                    status, payload = handler(ctx)
                finally:
                    x.after_request()
            except ApiError as e:
                return json_response(e.status, e.body())
            if creates:
                lost = x.faults.lose_order_response()
                if lost == "drop":
                    return DropConnection(drop)
                if lost == "error":
                    return json_response(
                        500,
                        ser.error_body(
                            "internal_server_error",
                            "internal server error",
                            "the order was processed; its answer was lost (sim-exchange --lose-order-responses)",
                        ),
                    )
            if status == 204:
                return Response(status_code=204)
            return json_response(status, payload)

        return endpoint

    def legacy(_: Request) -> Response:
        return json_response(
            400,
            ser.error_body(
                "endpoint_deprecated",
                "Please switch to the V2 endpoints",
                "legacy /portfolio/orders writes were removed in June 2026; use /portfolio/events/orders",
            ),
        )

    def r(path: str, handler: Handler, methods: list[str], **kw: bool) -> Route:
        return Route(PREFIX + path, api(handler, **kw), methods=methods)

    routes: list[BaseRoute] = [
        *_rest_routes(x, r),
        *_legacy_routes(legacy),
        WebSocketRoute(WS_PATH, _ws_endpoint(x)),
        *_control_routes(x),
    ]
    known = [rt for rt in routes if isinstance(rt, Route)]

    async def fallback(request: Request) -> Response:
        return _not_found(request, known)

    routes += [Route("/{rest:path}", fallback, methods=_ALL_METHODS)]
    app = Starlette(routes=routes, middleware=[Middleware(SimDate, clock=x.now_ms)])
    app.router.redirect_slashes = False  # Kalshi answers trailing slashes with a 301; see _not_found
    return app


def _rest_routes(x: SimExchange, r: Callable[..., Route]) -> list[Route]:
    """Kalshi's REST paths. Fixed paths come before the parameter routes that would catch them
    (``/markets/candlesticks`` before ``/markets/{ticker}``, ``/events/multivariate`` before
    ``/events/{event_ticker}``, ``/series/fee_changes`` before ``/series/{series_ticker}``)."""
    return [
        *_exchange_routes(x, r),
        *_market_data_routes(x, r),
        *_historical_routes(x, r),
        *_portfolio_routes(x, r),
        *_order_routes(x, r),
    ]


def _exchange_routes(x: SimExchange, r: Callable[..., Route]) -> list[Route]:
    """REST routes: exchange status and schedule, account limits and costs."""
    a = {"auth": True}
    pub = {"auth": False}
    info = x.info
    return [
        r("/exchange/status", lambda c: info.status(c.params), ["GET"], **pub),
        r("/exchange/schedule", lambda c: info.schedule(c.params), ["GET"], **pub),
        r("/exchange/user_data_timestamp", lambda c: info.user_data_timestamp(c.params), ["GET"], **pub),
        r("/account/limits", lambda c: info.limits(c.params), ["GET"], **a),
        r("/account/endpoint_costs", lambda c: info.endpoint_costs(c.params), ["GET"], **pub),
    ]


def _market_data_routes(x: SimExchange, r: Callable[..., Route]) -> list[Route]:
    """REST routes: markets, books, events, series, candlesticks (fixed paths first)."""
    pub = {"auth": False}
    md = x.market_data
    ev = x.event_data
    cd = x.candle_data
    return [
        r("/markets", lambda c: md.markets(c.params), ["GET"], **pub),
        r("/markets/trades", lambda c: md.trades(c.params), ["GET"], **pub),
        r("/markets/orderbooks", lambda c: md.orderbooks(c.params), ["GET"], **pub),
        r("/markets/candlesticks", lambda c: cd.batch(c.params), ["GET"], **pub),
        r("/markets/{ticker}", lambda c: md.market(c.path["ticker"], c.params), ["GET"], **pub),
        r("/markets/{ticker}/orderbook", lambda c: md.orderbook(c.path["ticker"], c.params), ["GET"], **pub),
        r("/events", lambda c: ev.events(c.params), ["GET"], **pub),
        r("/events/multivariate", lambda c: ev.multivariate_events(c.params), ["GET"], **pub),
        r("/events/fee_changes", lambda c: ev.event_fee_changes(c.params), ["GET"], **pub),
        r("/events/{event_ticker}", lambda c: ev.event(c.path["event_ticker"], c.params), ["GET"], **pub),
        r(
            "/events/{event_ticker}/metadata",
            lambda c: ev.event_metadata(c.path["event_ticker"], c.params),
            ["GET"],
            **pub,
        ),
        r("/series", lambda c: ev.series_list(c.params), ["GET"], **pub),
        r("/series/fee_changes", lambda c: ev.series_fee_changes(c.params), ["GET"], **pub),
        r("/series/{series_ticker}", lambda c: ev.series(c.path["series_ticker"], c.params), ["GET"], **pub),
        r(
            "/series/{series_ticker}/markets/{ticker}/candlesticks",
            lambda c: cd.market(c.path["series_ticker"], c.path["ticker"], c.params),
            ["GET"],
            **pub,
        ),
        r(
            "/series/{series_ticker}/events/{ticker}/candlesticks",
            lambda c: cd.event(c.path["series_ticker"], c.path["ticker"], c.params),
            ["GET"],
            **pub,
        ),
        r("/multivariate_event_collections", lambda c: ev.collections(c.params), ["GET"], **pub),
        r(
            "/multivariate_event_collections/{collection_ticker}",
            lambda c: ev.collection(c.path["collection_ticker"], c.params),
            ["GET"],
            **pub,
        ),
    ]


def _historical_routes(x: SimExchange, r: Callable[..., Route]) -> list[Route]:
    """REST routes: the historical archive."""
    a = {"auth": True}
    pub = {"auth": False}
    hist = x.historical
    cd = x.candle_data
    return [
        r("/historical/cutoff", lambda c: hist.cutoff(c.params), ["GET"], **pub),
        r("/historical/markets", lambda c: hist.markets(c.params), ["GET"], **pub),
        r("/historical/markets/{ticker}", lambda c: hist.market(c.path["ticker"], c.params), ["GET"], **pub),
        r(
            "/historical/markets/{ticker}/candlesticks",
            lambda c: cd.historical(c.path["ticker"], c.params),
            ["GET"],
            **pub,
        ),
        r("/historical/trades", lambda c: hist.trades(c.params), ["GET"], **pub),
        r("/historical/fills", lambda c: hist.fills(c.acct, c.params), ["GET"], **a),
        r("/historical/orders", lambda c: hist.orders(c.acct, c.params), ["GET"], **a),
        r("/historical/positions", lambda c: hist.positions(c.acct, c.params), ["GET"], **a),
    ]


def _portfolio_routes(x: SimExchange, r: Callable[..., Route]) -> list[Route]:
    """REST routes: portfolio reads."""
    a = {"auth": True}
    pf = x.portfolio
    return [
        r("/portfolio/balance", lambda c: pf.balance(c.acct, c.params), ["GET"], **a),
        r("/portfolio/positions", lambda c: pf.positions(c.acct, c.params), ["GET"], **a),
        r(
            "/portfolio/summary/total_resting_order_value",
            lambda c: pf.resting_order_value(c.acct, c.params),
            ["GET"],
            **a,
        ),
        r("/portfolio/orders", lambda c: pf.orders(c.acct, c.params), ["GET"], **a),
        r("/portfolio/orders/queue_positions", lambda c: pf.queue_positions(c.acct, c.params), ["GET"], **a),
        r("/portfolio/orders/{order_id}", lambda c: pf.order(c.acct, c.path["order_id"], c.params), ["GET"], **a),
        r(
            "/portfolio/orders/{order_id}/queue_position",
            lambda c: pf.queue_position(c.acct, c.path["order_id"], c.params),
            ["GET"],
            **a,
        ),
        r("/portfolio/fills", lambda c: pf.fills(c.acct, c.params), ["GET"], **a),
        r("/portfolio/settlements", lambda c: pf.settlements(c.acct, c.params), ["GET"], **a),
    ]


def _order_routes(x: SimExchange, r: Callable[..., Route]) -> list[Route]:
    """REST routes: V2 order writes and order groups."""
    a = {"auth": True}
    od = x.orders
    return [
        r("/portfolio/events/orders", lambda c: od.create(c.acct, c.body, c.params), ["POST"], auth=True, creates=True),
        r("/portfolio/events/orders", lambda c: od.cancel_all(c.acct, c.params), ["DELETE"], **a),
        r(
            "/portfolio/events/orders/batched",
            lambda c: od.batch_create(c.acct, c.body, c.params),
            ["POST"],
            auth=True,
            batch=True,
            creates=True,
        ),
        r(
            "/portfolio/events/orders/batched",
            lambda c: od.batch_cancel(c.acct, c.body, c.params),
            ["DELETE"],
            auth=True,
            batch=True,
        ),
        r(
            "/portfolio/events/orders/{order_id}",
            lambda c: od.cancel(c.acct, c.path["order_id"], c.params),
            ["DELETE"],
            **a,
        ),
        r(
            "/portfolio/events/orders/{order_id}/amend",
            lambda c: od.amend(c.acct, c.path["order_id"], c.body, c.params),
            ["POST"],
            **a,
        ),
        r(
            "/portfolio/events/orders/{order_id}/decrease",
            lambda c: od.decrease(c.acct, c.path["order_id"], c.body, c.params),
            ["POST"],
            **a,
        ),
        # order groups
        r("/portfolio/order_groups", lambda c: od.groups(c.acct, c.params), ["GET"], **a),
        r("/portfolio/order_groups/create", lambda c: od.create_group(c.acct, c.body, c.params), ["POST"], **a),
        r("/portfolio/order_groups/{group_id}", lambda c: od.group(c.acct, c.path["group_id"], c.params), ["GET"], **a),
        r(
            "/portfolio/order_groups/{group_id}",
            lambda c: od.group_action(c.acct, c.path["group_id"], "delete", c.params),
            ["DELETE"],
            **a,
        ),
        r(
            "/portfolio/order_groups/{group_id}/reset",
            lambda c: od.group_action(c.acct, c.path["group_id"], "reset", c.params),
            ["PUT"],
            **a,
        ),
        r(
            "/portfolio/order_groups/{group_id}/trigger",
            lambda c: od.group_action(c.acct, c.path["group_id"], "trigger", c.params),
            ["PUT"],
            **a,
        ),
        r(
            "/portfolio/order_groups/{group_id}/limit",
            lambda c: od.group_action(c.acct, c.path["group_id"], "limit", c.params, c.body),
            ["PUT"],
            **a,
        ),
    ]


def _legacy_routes(legacy: Callable[[Request], Response]) -> list[Route]:
    """The dead V1 writes answer like Kalshi does since June 2026."""
    return [
        Route(PREFIX + "/portfolio/orders", legacy, methods=["POST"]),
        Route(PREFIX + "/portfolio/orders/batched", legacy, methods=["POST", "DELETE"]),
        Route(PREFIX + "/portfolio/orders/{order_id}", legacy, methods=["DELETE"]),
        Route(PREFIX + "/portfolio/orders/{order_id}/amend", legacy, methods=["POST"]),
        Route(PREFIX + "/portfolio/orders/{order_id}/decrease", legacy, methods=["POST"]),
    ]


def _not_found(request: Request, known: list[Route]) -> Response:
    """Everything no route answers, in JSON: 301 for a trailing slash, 405 for a known path, else 404."""
    path = request.url.path
    if path.endswith("/") and path.startswith(PREFIX + "/") and request.method in ("GET", "HEAD"):
        # Kalshi redirects collection paths with a trailing slash (REFERENCE §1)
        target = path.rstrip("/") + (f"?{request.url.query}" if request.url.query else "")
        return Response(status_code=301, headers={"location": target})
    allowed = sorted({m for rt in known if rt.path_regex.match(path) for m in (rt.methods or ())})
    if allowed:
        return json_response(
            405,
            ser.error_body(
                "method_not_allowed", "method not allowed", f"{path} answers {', '.join(allowed)}, not {request.method}"
            ),
            headers={"allow": ", ".join(allowed)},
        )
    where = "" if path.startswith(PREFIX + "/") else f" (the REST API is under {PREFIX}, WebSocket at {WS_PATH})"
    return json_response(404, ser.error_body("not_found", "not found", f"no endpoint {request.method} {path}{where}"))


def _ws_endpoint(x: SimExchange) -> Callable[[WebSocket], Awaitable[None]]:
    async def endpoint(websocket: WebSocket) -> None:
        try:
            account = authenticate(x, websocket.headers, "GET", WS_PATH, required=True)
        except ApiError as e:
            # Kalshi needs an authenticated session even for public channels (REFERENCE §2.4)
            if "websocket.http.response" in websocket.scope.get("extensions", {}):
                await websocket.send_denial_response(json_response(e.status, e.body()))
            else:
                await websocket.close(code=1008)
            return
        assert account is not None
        await websocket.accept()
        await serve_connection(x.hub, websocket, account)

    return endpoint


# --------------------------------------------------------------------------- control endpoints


def _control(x: SimExchange, fn: Callable[[Any], Any]) -> Callable[[Request], Awaitable[Response]]:
    """A loopback-only JSON endpoint that runs ``fn(body)`` and answers its result (400 on bad input)."""

    async def endpoint(request: Request) -> Response:
        host = request.client.host if request.client else ""
        if host not in LOOPBACK:
            return json_response(403, ser.error_body("forbidden", "the control endpoints answer loopback only"))
        raw = await read_body(request, x.config.max_body_bytes)
        if raw is None:
            return too_large(x.config.max_body_bytes)
        try:
            body = orjson.loads(raw) if raw else {}
        except orjson.JSONDecodeError:
            return json_response(400, ser.error_body("invalid_parameters", "the body is not JSON"))
        try:
            out = fn(body)
        except (UsageError, ValueError, TypeError) as e:
            return json_response(400, ser.error_body("invalid_parameters", str(e)))
        finally:
            x.after_request()
        return json_response(200, out)

    return endpoint


class _SimControls:
    """The ``/_sim/*`` control API: step the market, set its clock, faults, trading, keys, audit."""

    def __init__(self, x: SimExchange) -> None:
        self.x = x

    def step(self, body: Any) -> Any:
        n = body.get("steps", 1) if isinstance(body, dict) else 1
        if not isinstance(n, int) or isinstance(n, bool) or not 0 <= n <= 10_000:
            raise UsageError("steps must be a whole number between 0 and 10000")
        reports = self.x.step(n)
        return {
            "step": self.x.driver.step,
            "now_ms": self.x.now_ms(),
            "reports": [
                {
                    "step": r.step,
                    "markets": r.markets,
                    "trades": len(r.trades),
                    "settlements": [s.ticker for s in r.settlements],
                    "created": len(r.created),
                }
                for r in reports
            ],
        }

    def clock(self, body: Any) -> Any:
        v = body.get("speed") if isinstance(body, dict) else None
        if isinstance(v, bool) or not isinstance(v, int | float) or v < 0 or set(body) != {"speed"}:
            raise UsageError(
                'the body must be {"speed": <market seconds per wall second; 1 = wall-clock pace, '
                "0 = the market moves only on POST /_sim/step>}"
            )
        self.x.set_speed(float(v))
        return {
            "speed": self.x.speed,
            "clock": self.x.clock.describe(),
            "step": self.x.driver.step,
            "now_ms": self.x.now_ms(),
        }

    def faults(self, body: Any) -> Any:
        if not isinstance(body, dict):
            raise UsageError("the body must be a JSON object of fault settings")
        cfg = self.x.faults.config.updated(body)
        self.x.faults.configure(cfg)
        self.x.set_trading(not cfg.pause_trading)
        return cfg.to_json()

    def reset(self, _: Any) -> Any:
        self.x.faults.reset()
        self.x.set_trading(True)
        return self.x.faults.config.to_json()

    def pause(self, _: Any) -> Any:
        self.x.faults.configure(self.x.faults.config.updated({"pause_trading": True}))
        self.x.set_trading(False)
        return {"trading_active": self.x.trading_active}

    def resume(self, _: Any) -> Any:
        self.x.faults.configure(self.x.faults.config.updated({"pause_trading": False}))
        self.x.set_trading(True)
        return {"trading_active": self.x.trading_active}

    def keys(self, body: Any) -> Any:
        if (
            not isinstance(body, dict)
            or not isinstance(body.get("key_id"), str)
            or not isinstance(body.get("public_key_pem"), str)
        ):
            raise UsageError('the body must be {"key_id": "...", "public_key_pem": "-----BEGIN PUBLIC KEY-----..."}')
        balance = body.get("balance")
        if balance is not None and not isinstance(balance, str):
            raise UsageError('balance is a dollar string, e.g. "250.00"')
        self.x.keys.add(body["key_id"], load_public_key(body["public_key_pem"].encode()))
        self.x.add_account(body["key_id"], parse_balance(balance) if balance is not None else None)
        return {"key_id": body["key_id"], "accounts": self.x.engine.accounts()}

    def audit(self, _: Any) -> Any:
        try:
            self.x.engine.audit()
        except RuntimeError as e:
            return {"ok": False, "error": str(e)}
        return {"ok": True}

    def ws_disconnect(self, _: Any) -> Any:
        return {"closed": self.x.hub.disconnect_all()}


def _control_routes(x: SimExchange) -> list[BaseRoute]:
    c = _SimControls(x)
    return [
        Route("/_sim/state", _control(x, lambda _: x.state()), methods=["GET"]),
        Route("/_sim/step", _control(x, c.step), methods=["POST"]),
        Route("/_sim/clock", _control(x, c.clock), methods=["POST"]),
        Route("/_sim/faults", _control(x, lambda _: x.faults.config.to_json()), methods=["GET"]),
        Route("/_sim/faults", _control(x, c.faults), methods=["POST"]),
        Route("/_sim/faults/reset", _control(x, c.reset), methods=["POST"]),
        Route("/_sim/pause", _control(x, c.pause), methods=["POST"]),
        Route("/_sim/resume", _control(x, c.resume), methods=["POST"]),
        Route("/_sim/keys", _control(x, c.keys), methods=["POST"]),
        Route("/_sim/audit", _control(x, c.audit), methods=["POST"]),
        Route("/_sim/ws/disconnect", _control(x, c.ws_disconnect), methods=["POST"]),
    ]


__all__ = ["FaultConfig", "SimDate", "build_app", "authenticate"]
