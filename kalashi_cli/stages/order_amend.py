"""Amending a resting order the way an order is sent: gated, journaled before it is sent, sent once, a lost answer looked up."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..domain import Denied, ExchangeOrder, Fill, Market, OrderIntent
from ..errors import Conflict, ExchangeError, KalashiError, NetworkError, OrderRejected, OutcomeUnknown
from ..journal import IntentStatus, Journal
from ..money import COUNT_SCALE, Count, Price
from ..ports import Broker, OrderDesk
from .order_records import fill_record
from .risk import RiskGate

#: the opportunity id under which amends are journaled: ``amend:<order_id>``
AMEND_PREFIX = "amend:"


@dataclass(frozen=True, slots=True)
class Amended:
    """What an amend did: the order as amended (None unless the exchange took it), fills, a refusal or why not."""

    order: ExchangeOrder | None
    fills: list[Fill]
    denied: Denied | None
    reason: str
    unknown: bool = False


@dataclass(frozen=True, slots=True)
class Amender:
    """One amend through the sender's broker, journal and risk gate, as they are when it is made.

    :meth:`~kalashi_cli.stages.order_send.OrderSender.amend` builds one per call from its own
    parts, so a caller that swaps the executor's broker or gate swaps them for amends too (one
    risk gate for every path).
    """

    broker: Broker
    journal: Journal
    gate: RiskGate
    stale: Callable[[str], bool]
    trading_active: Callable[[], bool]

    def amend(
        self,
        order: ExchangeOrder,
        market: Market,
        *,
        price: Price,
        count: Count,
        client_order_id: str,
        strategy: str,
        concentration: tuple[str, str] | None,
    ) -> Amended:
        """Gate, journal and send the amend once; record what the exchange did, or why nothing was done."""
        ref = f"{AMEND_PREFIX}{order.order_id}"
        remaining = count - order.fill_count
        tif = order.time_in_force or "good_till_canceled"
        intent = OrderIntent(client_order_id, order.ticker, order.side, price, Count(remaining), time_in_force=tif)  # type: ignore[arg-type]
        if remaining <= 0:
            return Amended(
                None,
                [],
                Denied(
                    ref,
                    order.ticker,
                    "size",
                    f"the new count must exceed what already filled ({order.fill_count / COUNT_SCALE:g})",
                    strategy,
                ),
                "",
            )
        self.gate.replacing(order.order_id)
        d = self.gate.check(
            intent,
            fee_type=market.fee_type,
            multiplier=market.fee_multiplier,
            stale=self.stale(order.ticker),
            trading_active=self.trading_active(),
            concentration=concentration,
        )
        if d:
            return Amended(None, [], Denied(ref, order.ticker, d.rule, d.reason, strategy), "")
        if self.journal.record_intent(intent, strategy=strategy, opportunity_id=ref, purpose="amend") is not None:
            return Amended(
                None,
                [],
                Denied(
                    ref,
                    order.ticker,
                    "duplicate",
                    f"client_order_id {client_order_id} was used before; not sending the amend",
                    strategy,
                ),
                "",
            )
        self.gate.admit(intent, market.fee_type, market.fee_multiplier)
        desk = self.broker
        try:
            if not isinstance(desk, OrderDesk):
                raise OrderRejected(f"the {self.broker.mode} broker cannot amend orders")
            ack = desk.amend(order, price=price, count=count, client_order_id=client_order_id)
        except Conflict as e:
            return self._conflict(order, intent, strategy, e)
        except OutcomeUnknown as e:
            return self._unknown(order, intent, strategy, str(e))
        except NetworkError as e:
            self.journal.set_intent_status(client_order_id, IntentStatus.NEVER_SENT, detail=f"amend not sent: {e}")
            return Amended(None, [], None, f"not sent, nothing reached the exchange: {e}")
        except (OrderRejected, ExchangeError) as e:  # 429 included: refused before processing
            self.journal.set_intent_status(client_order_id, IntentStatus.REJECTED, detail=f"amend refused: {e}")
            return Amended(None, [], None, str(e))
        return self._recorded(order, intent, ack.order_id or order.order_id, strategy, "")

    def _conflict(self, order: ExchangeOrder, intent: OrderIntent, strategy: str, e: Conflict) -> Amended:
        """409: the new id is taken — by this very order (an earlier amend arrived after all), or by another."""
        client_order_id = intent.client_order_id
        try:
            mine = any(
                o.order_id == order.order_id and o.client_order_id == client_order_id
                for o in self.broker.orders(ticker=order.ticker)
            )
        except KalashiError:
            mine = False
        if mine:
            return self._recorded(
                order,
                intent,
                order.order_id,
                strategy,
                f"409 conflict ({e}); the order already carries the new client_order_id: the amend arrived",
            )
        self.journal.set_intent_status(client_order_id, IntentStatus.REJECTED, detail=f"amend refused: {e}")
        return Amended(None, [], None, f"client_order_id {client_order_id} is already used on the exchange: {e}")

    def _recorded(
        self, order: ExchangeOrder, intent: OrderIntent, order_id: str, strategy: str, reason: str
    ) -> Amended:
        """Record the amended order as the exchange lists it, with the fills a new price took."""
        try:
            now = next((o for o in self.broker.orders(ticker=order.ticker) if o.order_id == order_id), None)
            known = {f.fill_id for f in self.journal.fills(ticker=order.ticker)}
            fills = [
                f for f in self.broker.fills(ticker=order.ticker) if f.order_id == order_id and f.fill_id not in known
            ]
        except KalashiError as e:
            self.journal.add_event(
                "ack-details-missing",
                {"client_order_id": intent.client_order_id, "order_id": order_id, "error": str(e)},
                ticker=order.ticker,
            )
            now, fills = None, []
        self.journal.record_ack(intent.client_order_id, order_id, now, fills, strategy=strategy)
        self.journal.add_event(
            "amend",
            {
                "order_id": order_id,
                "from_client_order_id": order.client_order_id,
                "client_order_id": intent.client_order_id,
                "price": f"{order.price}->{intent.price}",
                "count": f"{order.initial_count}->{intent.count + order.fill_count}",
                "filled_now": sum(f.count for f in fills),
            },
            ticker=order.ticker,
        )
        return Amended(now, [fill_record(f, "yes") for f in fills], None, reason)

    def _unknown(self, order: ExchangeOrder, intent: OrderIntent, strategy: str, why: str) -> Amended:
        """The amend's answer was lost: look the order up under the new id at once, else block the market."""
        coid = intent.client_order_id
        self.journal.set_intent_status(coid, IntentStatus.UNKNOWN, detail=f"amend: {why}")
        self.journal.add_event(
            "outcome-unknown", {"client_order_id": coid, "error": why, "amend_of": order.order_id}, ticker=order.ticker
        )
        try:
            found = next(
                (
                    o
                    for o in self.broker.orders(ticker=order.ticker)
                    if o.client_order_id == coid and o.order_id == order.order_id
                ),
                None,
            )
        except KalashiError as e:
            why, found = f"{why}; looking it up failed too ({e})", None
        if found is None:
            self.gate.block(order.ticker)
            return Amended(None, [], None, f"{why} — market blocked until reconciled", unknown=True)
        return self._recorded(
            order,
            intent,
            found.order_id,
            strategy,
            f"answer lost ({why}); found amended on the exchange by client_order_id",
        )
