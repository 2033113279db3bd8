"""The matching engine's public API: Kalshi V2 order semantics and portfolio reads, per account.

Every write maps onto one Kalshi V2 endpoint and every read onto one portfolio endpoint, so a
simulator server is a thin translation of JSON to these calls::

    POST   /portfolio/events/orders                 submit(account, intent) -> OrderAck
    DELETE /portfolio/events/orders/{id}            cancel(account, order_id) -> reduced_by
    POST   /portfolio/events/orders/{id}/amend      amend(account, order_id, ...) -> OrderAck
    POST   /portfolio/events/orders/{id}/decrease   decrease(account, order_id, ...) -> remaining
    POST   /portfolio/events/orders/batched         batch_submit(account, intents)
    DELETE /portfolio/events/orders/batched         batch_cancel(account, order_ids)
    DELETE /portfolio/events/orders                 cancel_all(account)
    /portfolio/order_groups…                        create/reset/trigger/set_limit/delete_order_group
    GET    /portfolio/balance|positions|orders|fills|settlements|orders/queue_positions

Errors are :mod:`kalashi_cli.errors` exceptions carrying Kalshi's ``code`` and an HTTP
``status``: OrderRejected (400), NotFound (404), Conflict (409 — a reused client_order_id).

Market data comes in through ``apply_snapshot`` / ``apply_delta`` / ``apply_trade`` (or
``apply_market`` for a whole domain Market). Time only moves forward: ``advance_to``, the
``ts_ms`` of market data, or an injected ``clock``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from heapq import heappush

from ...domain import OrderAck, OrderIntent, Settlement
from ...errors import Conflict, ExchangeError, NotFound
from ...money import ONE_DOLLAR, Count, Money, Price, on_grid
from .accounts import Account
from .book import MarketBook
from .changes import OrderChanges
from .events import EngineEvent, MarketStatus, PositionChanged, Settled
from .feed import MarketFeed
from .groups import OrderGroups, OrderGroupView
from .orders import MARKET_SETTLED, PENDING, SELF_TRADE, BookOrder
from .portfolio import PortfolioReads, QueuePosition
from .restore import Restore
from .state import reject

_TIFS = ("good_till_canceled", "immediate_or_cancel", "fill_or_kill")
_STPS = ("taker_at_cross", "maker")


class MatchingEngine(OrderChanges, MarketFeed, OrderGroups, Restore, PortfolioReads):
    """Price-time matching on Kalshi's single YES book, fed by market data, for many accounts.

    Args:
        now_ms: the engine clock at start (ms).
        clock: when given, every call first advances the engine to ``clock()`` (a server's
            wall clock); without it time moves by ``advance_to`` and market data ``ts_ms``.
        latency_ms: time between a decision (``place``/``submit``) and its arrival at the book.
        trade_match_window_ms: how long a level shrink that cut our queue_ahead waits for the
            public trade that explains it (docs/paper-fills.md, "credit").
        id_prefix: prefix of generated order, trade and group ids (unique per engine instance
            if several engines' ids may meet).
        max_open_orders: resting orders per account (Kalshi: 200 000).
        sticky_consumption: False (default): external liquidity our takers consumed comes back
            when market data next changes that level — right for a source that redraws its
            books (the sim). True: it stays consumed, market data changes apply on top of it
            and a shrink comes out of the part we did not take — right for replaying a real feed.
    """

    def __init__(
        self,
        *,
        now_ms: int = 0,
        clock: Callable[[], int] | None = None,
        latency_ms: int = 0,
        trade_match_window_ms: int = 2_000,
        id_prefix: str = "",
        max_open_orders: int = 200_000,
        sticky_consumption: bool = False,
    ) -> None:
        super().__init__(
            now_ms=now_ms,
            clock=clock,
            latency_ms=latency_ms,
            trade_match_window_ms=trade_match_window_ms,
            id_prefix=id_prefix,
            max_open_orders=max_open_orders,
            sticky_consumption=sticky_consumption,
        )

    # ===================================================================== subscribers
    def subscribe(self, sink: Callable[[EngineEvent], None]) -> Callable[[], None]:
        """Call ``sink`` with every event from now on; return a function that unsubscribes.

        An :class:`EventLog` is fed through its list's ``append`` directly (the fastest way).
        """
        self._sinks.append(sink)
        self._rewire()

        def unsubscribe() -> None:
            if sink in self._sinks:
                self._sinks.remove(sink)
                self._rewire()

        return unsubscribe

    # ===================================================================== accounts
    def open_account(self, account_id: str, balance: Money) -> None:
        """Open an account with ``balance`` cash.

        Raises:
            Conflict: the account exists.
        """
        self._open_account(account_id, balance)

    def deposit(self, account_id: str, amount: Money) -> None:
        """Add (or, negative, withdraw) cash; a withdrawal cannot touch reserved collateral.

        Raises:
            NotFound: no such account.
            OrderRejected: the withdrawal is larger than the available balance.
        """
        acc = self._account(account_id)
        if acc.cash + amount < acc.reserved:
            raise reject("available_balance_too_low", "withdrawal larger than the available balance")
        acc.cash = Money(acc.cash + amount)
        acc.deposits = Money(acc.deposits + amount)

    # ===================================================================== orders
    def place(self, account_id: str, intent: OrderIntent) -> str:
        """Send an order; it reaches the book after ``latency_ms``. Return its order_id.

        Static checks happen now; the rest (market open, balance, group, reduce-only room)
        on arrival — see :meth:`result` for the answer.

        Raises:
            NotFound: unknown account, market or order group.
            Conflict: the client_order_id was used before by this account (409).
            OrderRejected: price off the tick grid, bad size, bad flag combination.
        """
        self._sync()
        acc = self._account(account_id)
        m = self._market(intent.ticker)
        self._validate(acc, m, intent)
        oid = self._new_id("ord")
        while oid in self._orders:
            oid = self._new_id("ord")
        o = BookOrder(
            oid,
            intent.client_order_id,
            account_id,
            intent.ticker,
            intent.side == "bid",
            intent.price,
            intent.count,
            tif=intent.time_in_force,
            stp=intent.self_trade_prevention_type,
            post_only=intent.post_only,
            reduce_only=intent.reduce_only,
            expiration_ms=intent.expiration_ts * 1000 if intent.expiration_ts is not None else None,
            group_id=intent.order_group_id,
            cancel_on_pause=intent.cancel_order_on_pause,
            now_ms=self.now_ms,
        )
        o.arrival_ms = self.now_ms + max(0, self.latency_ms)
        self._orders[oid] = o
        acc.orders[oid] = o
        if intent.client_order_id:
            acc.coids[intent.client_order_id] = oid
        if o.group_id is not None:
            acc.groups[o.group_id].order_ids.append(oid)
        if o.arrival_ms <= self.now_ms:
            self._arrive(o)
            self._finish()
        else:
            self._tie += 1
            heappush(self._pending, (o.arrival_ms, self._tie, o))
        return oid

    def submit(self, account_id: str, intent: OrderIntent) -> OrderAck:
        """Send an order and wait for the exchange's answer (the V2 create response).

        With ``latency_ms`` > 0 this advances the engine clock to the arrival time, so the
        order meets the book as it is then (the current one, unless market data is fed in
        between — use :meth:`place` for that).

        Raises:
            NotFound, Conflict, OrderRejected: as :meth:`place`, plus the arrival checks
                (``market_inactive``, ``available_balance_too_low``, ``order_group_triggered``,
                ``invalid_order`` for reduce-only without a position).
        """
        oid = self.place(account_id, intent)
        o = self._orders.get(oid)
        if o is not None and o.status == PENDING:
            self._advance(o.arrival_ms, inclusive=True)
        ack = self.result(account_id, oid)
        assert ack is not None
        return ack

    def result(self, account_id: str, order_id: str) -> OrderAck | None:
        """Return the create response of a placed order, or None while it is still in flight.

        Raises:
            ExchangeError: the order was refused on arrival (the same error ``submit`` raises).
            NotFound: no such order for this account.
        """
        stored = self._results.get(order_id)
        if stored is None or stored[0] != account_id:
            o = self._orders.get(order_id)
            if o is None or o.account_id != account_id:
                raise NotFound(f"order {order_id} not found", status=404, code="not_found")
            if o.status == PENDING:
                return None
            return o.ack(self.now_ms)  # cancelled in flight, or restored from a journal
        outcome = stored[1]
        if isinstance(outcome, ExchangeError):
            raise outcome
        return outcome

    def _validate(self, acc: Account, m: MarketBook, it: OrderIntent) -> None:
        if it.side not in ("bid", "ask"):
            raise reject("invalid_order", f"side must be bid or ask, not {it.side!r}")
        if it.time_in_force not in _TIFS:
            raise reject("invalid_order", f"time_in_force {it.time_in_force!r} is not one of {', '.join(_TIFS)}")
        if it.self_trade_prevention_type not in _STPS:
            raise reject("invalid_order", f"self_trade_prevention_type must be one of {', '.join(_STPS)}")
        if it.count <= 0:
            raise reject("invalid_order_size", "count must be at least 0.01")
        if not on_grid(it.price, m.price_ranges):
            raise reject(
                "invalid_price",
                f"price {it.price / ONE_DOLLAR:.4f} is not on {m.ticker}'s tick grid",
                hint="snap the price to the market's price_ranges step",
            )
        if it.expiration_ts is not None:
            if it.time_in_force != "good_till_canceled":
                raise reject("invalid_order", "expiration_time needs time_in_force good_till_canceled")
            if it.expiration_ts * 1000 <= self.now_ms:
                raise reject("invalid_order", "expiration_time must be in the future")
        if it.reduce_only and it.time_in_force != "immediate_or_cancel":
            raise reject("invalid_order", "reduce_only needs time_in_force immediate_or_cancel")
        if it.post_only and it.time_in_force != "good_till_canceled":
            raise reject("invalid_order", "post_only needs time_in_force good_till_canceled")
        if it.client_order_id and it.client_order_id in acc.coids:
            raise Conflict(
                f"client_order_id {it.client_order_id} was already used",
                status=409,
                code="order_already_exists",
                hint="the order already reached the exchange: reconcile instead of resending",
            )
        if it.order_group_id is not None:
            g = acc.groups.get(it.order_group_id)
            if g is None or g.deleted:
                raise NotFound(f"order group {it.order_group_id} not found", status=404, code="order_group_not_found")
        if m.status != "active":
            raise reject("market_inactive", f"market {m.ticker} is {m.status}; it takes no orders")

    def batch_submit(self, account_id: str, intents: Sequence[OrderIntent]) -> list[OrderAck | ExchangeError]:
        """Submit several orders; each gets its own answer or error (never a whole-batch failure)."""
        out: list[OrderAck | ExchangeError] = []
        for it in intents:
            try:
                out.append(self.submit(account_id, it))
            except ExchangeError as e:
                out.append(e)
        return out

    # ===================================================================== settlement
    def settle(self, ticker: str, result: str, value: Price | None = None) -> list[Settlement]:
        """Settle a market: cancel its orders, pay every position, record per-account settlements.

        ``result`` is ``yes`` ($1 per YES contract), ``no`` ($1 per NO contract) or ``scalar``
        (``value`` per YES contract, ``1 − value`` per NO). Positions close and leave the
        positions listing. Payouts are exact (no cent rounding, like ledger.fold).

        Raises:
            NotFound: unknown ticker.
            ValueError: a bad result or value.
        """
        self._sync()
        m = self._market(ticker)
        if result == "yes":
            v = ONE_DOLLAR if value is None else value
        elif result == "no":
            v = Price(0 if value is None else value)
        elif result == "scalar":
            if value is None:
                raise ValueError("a scalar settlement needs its value")
            v = value
        else:
            raise ValueError(f"result must be yes, no or scalar, not {result!r}")
        if not 0 <= v <= ONE_DOLLAR:
            raise ValueError("settlement value must be between 0 and 1 dollar")
        self._cancel_market(m, MARKET_SETTLED)
        m.status, m.result, m.value = "finalized", result, v
        out: list[Settlement] = []
        for account_id in sorted(m.holders):
            acc = self._accounts[account_id]
            pos = acc.positions.pop(ticker, None)
            if pos is None:
                continue
            acc.reserved = Money(acc.reserved - pos.req)
            if pos.pos == 0:
                continue
            yes, no, cost = max(0, pos.pos), max(0, -pos.pos), pos.cost
            revenue = pos.settle(v)
            acc.cash = Money(acc.cash + revenue)
            s = Settlement(
                ticker,
                m.event_ticker,
                result,  # type: ignore[arg-type]
                self.now_ms,
                yes_count=Count(yes),
                no_count=Count(no),
                revenue=revenue,
                value=v,
            )
            acc.settlements.append(s)
            out.append(s)
            if self._sinks:
                self._emit(Settled(account_id, s, cost))
                self._emit(PositionChanged(account_id, pos.view(), pos.volume, pos.traded, self.now_ms))
        m.holders.clear()
        ext = self._external.positions.pop(ticker, None)
        if ext is not None:
            self._external.cash = Money(self._external.cash + ext.settle(v))
        if self._sinks:
            self._emit(MarketStatus(ticker, "finalized", self.now_ms, result, v))
        self._finish()
        return out


__all__ = ["MatchingEngine", "OrderGroupView", "QueuePosition", "SELF_TRADE"]
