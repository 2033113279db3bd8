"""Kalshi as a Broker (modes ``demo`` and ``live``) over the V2 order endpoints.

``submit`` answers exactly like the Broker protocol promises:

* a definite :class:`~kalashi_cli.domain.OrderAck` (201);
* :class:`~kalashi_cli.errors.OrderRejected` — definite, nothing happened (400, or a rule
  we check before sending), and :class:`~kalashi_cli.errors.RateLimited` — definite, Kalshi
  refused before processing (429);
* :class:`~kalashi_cli.errors.Conflict` — the ``client_order_id`` already exists (409):
  the order was placed earlier; reconcile, do not resend;
* :class:`~kalashi_cli.errors.OutcomeUnknown` — sent, answer lost (timeout, reset, 5xx):
  never retried here; the engine blocks the market and reconciles by ``client_order_id``.

Live mode refuses to start unless the caller has run
:func:`~kalashi_cli.kalshi.env.check_live_consent` and says so (``consented=True``), and
only ever talks to production hosts; demo mode only to demo hosts or a loopback simulator.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any, Literal

import httpx

from ..domain import (
    AccountLimits,
    Balance,
    ExchangeFill,
    ExchangeOrder,
    Market,
    MarketPosition,
    OrderAck,
    OrderIntent,
    OrderStatus,
    Settlement,
)
from ..errors import ConsentError, ExchangeError, KalashiError, NotFound, UsageError
from ..money import Count, Price, fmt_count, fmt_price, parse_count
from ..ports import Broker, CallCounter, Mode, OrderDesk, QueuePosition, SourceEvents
from .aio import LoopThread
from .auth import Credentials, KalshiAuth, load_credentials
from .env import (
    DEMO,
    EXCHANGE_URL_VAR,
    PROD,
    KalshiEnv,
    check_broker_environment,
    check_key_environment,
    custom_env,
    env_override,
)
from .ratelimit import RateLimiter
from .rest import KalshiClient
from .wire import (
    count_of,
    error_of,
    order_request,
    parse_account_limits,
    parse_balance,
    parse_exchange_order,
    parse_exchange_status,
    parse_fill,
    parse_order_ack,
    parse_position,
    parse_settlement,
)

log = logging.getLogger("kalashi.kalshi.broker")

BrokerMode = Literal["demo", "live"]


class KalshiBroker:
    """Orders, fills, positions and balance on Kalshi demo or production (sync facade)."""

    #: the exchange's published books (the market-data source) include this account's resting orders
    books_include_own_orders = True

    def __init__(
        self,
        mode: BrokerMode,
        env: KalshiEnv,
        credentials: Credentials,
        *,
        consented: bool = False,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 10.0,
        limiter: RateLimiter | None = None,
        subaccount: int | None = None,
        clock_ms: Callable[[], int] | None = None,
        configure_limits: bool = True,
    ) -> None:
        check_broker_environment(mode, env)
        check_key_environment(credentials, env)
        if mode == "live" and not consented:
            raise ConsentError(
                "live broker created without consent", hint="call check_live_consent(...) first and pass consented=True"
            )
        self.mode: Mode = mode
        self.env = env
        self.subaccount = subaccount
        self.counter = CallCounter()
        self._clock_ms = clock_ms or (lambda: time.time_ns() // 1_000_000)
        self._loop = LoopThread(name=f"kalashi-broker-{mode}")
        self.client = KalshiClient(
            env.rest_url,
            auth=KalshiAuth(credentials),
            transport=transport,
            limiter=limiter,
            timeout=timeout,
            counter=self.counter,
        )
        self._fills_since_ms = self._clock_ms()
        self._seen_fills: set[str] = set()
        self._closed = False
        if configure_limits:
            try:
                self._loop.run(self.client.configure_rate_limits())
            except Exception as e:  # the Basic-tier defaults are safe; say why we could not do better
                log.info("could not read /account/limits (%s); using Basic-tier buckets", type(e).__name__)

    @classmethod
    def from_env(
        cls,
        env: str = "demo",
        environ: Mapping[str, str] | None = None,
        *,
        base_url: str | None = None,
        consented: bool = False,
        transport: httpx.AsyncBaseTransport | None = None,
        **kw: Any,
    ) -> KalshiBroker:
        """Open a broker for ``env`` (``demo`` → demo mode; ``prod``/``live`` → live mode).

        Credentials come from ``environ`` (default ``os.environ``). ``base_url`` points a
        demo broker at a Kalshi-compatible loopback server. Live mode needs ``consented=True``
        (after :func:`~kalashi_cli.kalshi.env.check_live_consent`).

        Raises:
            AuthError: credentials missing or unusable. ConsentError: see :class:`KalshiBroker`.
            UsageError: unknown environment name.
        """
        key = env.strip().lower()
        if key in ("demo", "kalshi-demo"):
            mode: BrokerMode = "demo"
        elif key in ("prod", "live", "kalshi", "production"):
            mode = "live"
        else:
            raise UsageError(f"unknown Kalshi environment {env!r}", hint="use demo or prod")
        return open_broker(mode, base_url=base_url, consented=consented, env=environ, transport=transport, **kw)

    def __repr__(self) -> str:
        return f"KalshiBroker(mode={self.mode!r}, rest_url={self.env.rest_url!r})"

    @property
    def api_calls(self) -> int:
        return self.counter.total

    # ------------------------------------------------------------------ writes

    def submit(self, intent: OrderIntent) -> OrderAck:
        """Send one V2 order; never retried (see the module docstring for the outcomes).

        Raises:
            OrderRejected, RateLimited, Conflict (definite); OutcomeUnknown (reconcile);
            NetworkError (connection failed before sending); AuthError, PermissionDenied.
        """
        body = order_request(intent, subaccount=self.subaccount)
        answer = self._loop.run(self.client.create_order(body))
        return parse_order_ack(answer, intent)

    def cancel(self, order_id: str, ticker: str) -> Count:
        """Cancel one resting order; return the count removed (``reduced_by``)."""
        answer = self._loop.run(
            self.client.cancel_order(order_id, market_ticker=ticker or None, subaccount=self.subaccount)
        )
        raw = answer.get("reduced_by") or answer.get("reduced_by_fp")
        return parse_count(raw) if isinstance(raw, str) and raw else Count(0)

    def cancel_all(self) -> int:
        """Cancel every resting order (DELETE /portfolio/events/orders); return how many were resting."""
        resting = self.orders(status=OrderStatus.RESTING)
        answer = self._loop.run(self.client.cancel_all_orders(subaccount=self.subaccount))
        listed = answer.get("orders") if isinstance(answer, Mapping) else None
        if isinstance(listed, list):
            return len(listed)
        for key in ("canceled_count", "cancelled_count", "count"):
            if isinstance(answer.get(key), int):
                return int(answer[key])
        return len(resting)

    # ------------------------------------------------------------------ managing resting orders (OrderDesk)

    def amend(self, order: ExchangeOrder, *, price: Price, count: Count, client_order_id: str) -> OrderAck:
        """POST …/amend: new YES price and TOTAL count (filled + remaining), under a new client_order_id.

        Raises:
            OrderRejected (400), NotFound, Conflict (the new id was used), OutcomeUnknown (reconcile).
        """
        body = {
            "ticker": order.ticker,
            "side": order.side,
            "price": fmt_price(price),
            "count": fmt_count(count),
            "updated_client_order_id": client_order_id,
        }
        if order.client_order_id:
            body["client_order_id"] = order.client_order_id
        answer = self._loop.run(self.client.amend_order(order.order_id, body, subaccount=self.subaccount))
        ack = parse_order_ack(answer)
        # an amended order is a resting GTC order: what remains rests
        status = (
            OrderStatus.RESTING
            if ack.remaining_count > 0
            else OrderStatus.EXECUTED
            if ack.fill_count
            else OrderStatus.CANCELED
        )
        return replace(ack, client_order_id=ack.client_order_id or client_order_id, status=status)

    def decrease(
        self, order: ExchangeOrder, *, reduce_by: Count | None = None, reduce_to: Count | None = None
    ) -> Count:
        """POST …/decrease with exactly one of reduce_by / reduce_to; return the remaining count."""
        answer = self._loop.run(
            self.client.decrease_order(
                order.order_id,
                reduce_by=fmt_count(reduce_by) if reduce_by is not None else None,
                reduce_to=fmt_count(reduce_to) if reduce_to is not None else None,
                market_ticker=order.ticker,
                subaccount=self.subaccount,
            )
        )
        left = count_of(answer, "remaining_count") if isinstance(answer, Mapping) else None
        return left if left is not None else self.order(order.order_id).remaining_count

    def order(self, order_id: str) -> ExchangeOrder:
        """GET /portfolio/orders/{order_id}. Raises: NotFound."""
        return parse_exchange_order(self._loop.run(self.client.get_order(order_id)))

    def queue_positions(self, *, tickers: Sequence[str] | None = None) -> list[QueuePosition]:
        """GET /portfolio/orders/queue_positions for these markets (default: those with resting orders)."""
        wanted = list(tickers) if tickers else sorted({o.ticker for o in self.orders(status=OrderStatus.RESTING)})
        if not wanted:
            return []
        rows = self._loop.run(self.client.get_queue_positions(market_tickers=wanted, subaccount=self.subaccount))
        return [
            QueuePosition(
                _str_of(r, "order_id"),
                _str_of(r, "market_ticker") or _str_of(r, "ticker"),
                count_of(r, "queue_position") or Count(0),
            )
            for r in rows
        ]

    def batch_cancel(self, orders: Sequence[ExchangeOrder]) -> list[Count | KalashiError]:
        """DELETE /portfolio/events/orders/batched (one request, 2 tokens per order); per-order answers."""
        if not orders:
            return []
        answer = self._loop.run(
            self.client.batch_cancel_orders([{"order_id": o.order_id, "market_ticker": o.ticker} for o in orders])
        )
        items = answer.get("orders") if isinstance(answer, Mapping) else None
        by_id = {i.get("order_id"): i for i in items or () if isinstance(i, Mapping)}
        out: list[Count | KalashiError] = []
        for o in orders:
            item = by_id.get(o.order_id)
            if item is None:
                out.append(ExchangeError(f"the batch cancel answer does not mention order {o.order_id}"))
            elif isinstance(item.get("error"), Mapping):
                code, text = error_of({"error": item["error"]})
                cls = NotFound if code in ("not_found", "order_not_found") else ExchangeError
                out.append(cls(f"cancel {o.order_id}: {text or code}", code=code))
            else:
                out.append(count_of(item, "reduced_by") or Count(0))
        return out

    def account_limits(self) -> AccountLimits | None:
        """GET /account/limits: this key's usage tier and token buckets."""
        return parse_account_limits(self._loop.run(self.client.get_account_limits()))

    # ------------------------------------------------------------------ reads

    async def _collect(self, it: Any) -> list[dict[str, Any]]:
        return [x async for x in it]

    def orders(self, *, ticker: str | None = None, status: str | None = None) -> list[ExchangeOrder]:
        """List orders (GET /portfolio/orders, all pages)."""
        raw = self._loop.run(
            self._collect(self.client.iter_orders(ticker=ticker, status=status, subaccount=self.subaccount))
        )
        return [parse_exchange_order(o) for o in raw]

    def fills(self, *, ticker: str | None = None, since_ms: int | None = None) -> list[ExchangeFill]:
        """List fills (GET /portfolio/fills); ``since_ms`` filters to fills at or after it."""
        min_ts = since_ms // 1000 if since_ms is not None else None
        raw = self._loop.run(
            self._collect(self.client.iter_fills(ticker=ticker, min_ts=min_ts, subaccount=self.subaccount))
        )
        fills = [parse_fill(f) for f in raw]
        if since_ms is not None:
            fills = [f for f in fills if f.ts_ms >= since_ms]
        return sorted(fills, key=lambda f: (f.ts_ms, f.fill_id))

    def positions(self) -> list[MarketPosition]:
        """List non-zero market positions (GET /portfolio/positions)."""
        raw = self._loop.run(self._collect(self.client.iter_positions(subaccount=self.subaccount)))
        return [p for p in (parse_position(x) for x in raw) if p.position != 0]

    def balance(self) -> Balance:
        """Return cash per shard (GET /portfolio/balance)."""
        return parse_balance(self._loop.run(self.client.get_balance(subaccount=self.subaccount)))

    def settlements(self) -> list[Settlement]:
        """List the account's settlements (GET /portfolio/settlements)."""
        raw = self._loop.run(self._collect(self.client.iter_settlements()))
        return [parse_settlement(s) for s in raw]

    def trading_active(self) -> bool:
        """Whether the exchange accepts orders now (GET /exchange/status)."""
        status = parse_exchange_status(self._loop.run(self.client.get_exchange_status()))
        return status.exchange_active and status.trading_active

    def on_market_data(self, markets: Sequence[Market], events: SourceEvents) -> list[ExchangeFill]:
        """Return fills that happened since the previous call (or since the broker started)."""
        fresh = [f for f in self.fills(since_ms=self._fills_since_ms) if f.fill_id not in self._seen_fills]
        for f in fresh:
            self._seen_fills.add(f.fill_id)
        if fresh:
            # Fill timestamps are second-granular on REST; keep a one-second overlap and dedupe by id.
            self._fills_since_ms = max(self._fills_since_ms, max(f.ts_ms for f in fresh) - 1000)
        return fresh

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._loop.run(self.client.aclose(), timeout=5)
        except Exception as e:  # closing must not mask the caller's error
            log.debug("error while closing: %s", e)
        finally:
            self._loop.close()

    def __enter__(self) -> KalshiBroker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_broker(
    mode: BrokerMode,
    *,
    base_url: str | None = None,
    consented: bool = False,
    env: Mapping[str, str] | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    **kw: Any,
) -> KalshiBroker:
    """Open a demo or live broker with credentials from the environment.

    ``base_url`` points a demo broker at a Kalshi-compatible server (e.g. the loopback
    simulator ``http://127.0.0.1:8800/trade-api/v2``); so does ``KALASHI_EXCHANGE_URL`` in the
    environment (``KALASHI_WS_URL`` for its WebSocket). Without either, demo uses Kalshi demo
    and live uses Kalshi production; live refuses to start while ``KALASHI_EXCHANGE_URL`` is set.

    Raises:
        AuthError: credentials missing or unusable. ConsentError: live without consent,
        or a mode/host/key-environment mismatch.
    """
    environ = env if env is not None else os.environ
    creds = load_credentials(environ)
    override = None if base_url else env_override(environ)
    if override is not None and mode == "live":
        # never let a leftover simulator URL decide where real money goes (or seem to)
        raise ConsentError(
            f"{EXCHANGE_URL_VAR} is set ({override.rest_url}) but live trading only talks to Kalshi production",
            hint=f"unset {EXCHANGE_URL_VAR} to trade live",
        )
    target = custom_env(base_url) if base_url else override or (DEMO if mode == "demo" else PROD)
    return KalshiBroker(mode, target, creds, consented=consented, transport=transport, **kw)


def _str_of(d: Mapping[str, Any], key: str) -> str:
    v = d.get(key)
    return v if isinstance(v, str) else ""


def _conforms(broker: KalshiBroker) -> Broker:  # mypy checks the protocol here
    return broker


def _desk(broker: KalshiBroker) -> OrderDesk:  # … and the order desk's
    return broker
