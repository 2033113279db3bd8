"""Sending one order intent the journaled way, and recording exactly what came back.

:class:`OrderSender` is the part of the order path that talks to the exchange (the table of
answers and journal states is in :mod:`kalashi_cli.stages.order`): a new order, a resend of a
``never_sent`` intent under the same ``client_order_id``, an amend — each journaled before it
is sent, sent once, its answer recorded in one transaction, a lost answer looked up by
``client_order_id`` at once (else the market is blocked until reconciliation decides).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from ..domain import (
    Candidate,
    Denied,
    ExchangeFill,
    ExchangeOrder,
    Fill,
    Leg,
    Market,
    Order,
    OrderAck,
    OrderIntent,
    from_book_side,
    to_book_side,
)
from ..errors import (
    Conflict,
    ExchangeError,
    JournalError,
    KalashiError,
    NetworkError,
    OrderRejected,
    OutcomeUnknown,
    RateLimited,
)
from ..journal import IntentStatus, Journal
from ..money import COUNT_SCALE, Count, Money, Price
from ..ports import Broker, OrderDesk
from ..profile import Profile
from .risk import BasketCharge, RiskGate

_NAMESPACE = uuid.UUID("5f0c1d2e-6b7a-4c3d-9e8f-0a1b2c3d4e5f")


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


def client_order_id(opportunity_id: str, leg_index: int, intent_key: str, purpose: str = "entry") -> str:
    """Return the deterministic client_order_id of one leg (a UUID derived from the intent).

    The same opportunity on the same books always yields the same id, so re-running a pipe
    or restarting after a crash can never create a second order for the same intent.
    """
    return str(uuid.uuid5(_NAMESPACE, f"{opportunity_id}|{leg_index}|{intent_key}|{purpose}"))


def leg_intent(
    opp_id: str,
    i: int,
    leg: Leg,
    limit: Price,
    size: Count,
    tif: str,
    *,
    purpose: str = "entry",
    action: str = "buy",
    reduce_only: bool = False,
) -> OrderIntent:
    """The intent of a taker leg at ``limit`` (an outcome price) for ``size``, under its deterministic id."""
    side, yes_price = to_book_side(leg.outcome, action, limit)  # type: ignore[arg-type]
    key = f"{leg.ticker}:{side}:{yes_price}:{size}:{tif}"
    return OrderIntent(
        client_order_id(opp_id, i, key, purpose),
        leg.ticker,
        side,
        yes_price,
        size,
        time_in_force=tif,  # type: ignore[arg-type]
        reduce_only=reduce_only,
    )


@dataclass(slots=True)
class LegPlan:
    """One leg as planned and sent: its market, intent, limit and reference price, and what it got."""

    index: int
    leg: Leg
    market: Market
    intent: OrderIntent
    limit: Price  # outcome price
    reference: Price  # best outcome ask at decision
    available: Count
    fills: list[ExchangeFill] = field(default_factory=list)  # what this leg really got (filled by _send)
    charge: BasketCharge | None = None  # what it counts against the limits for its basket (multi-leg only)
    slices: list[tuple[Price, Count]] = field(default_factory=list)  # the book levels it walks at its size
    reason: str = ""  # why it is sent, when that is more than its strategy (an exit's rule), journaled and recorded


class OrderSender:
    """Sends intents through one broker, one journal and one risk gate; the base of
    :class:`~kalashi_cli.stages.order.OrderExecutor`.

    A base class rather than a component: the executor's broker, journal and gate ARE the
    sender's (one risk gate for every path), and callers swap them on a live executor.
    """

    def __init__(
        self,
        profile: Profile,
        broker: Broker,
        journal: Journal,
        gate: RiskGate,
        *,
        stale: Callable[[str], bool],
        clock: Callable[[], float],
    ) -> None:
        self.profile = profile
        self.broker = broker
        self.journal = journal
        self.gate = gate
        self.stale = stale
        self.clock = clock
        self._trading_active: bool | None = None

    def trading_active(self) -> bool:
        """Whether the exchange accepts orders now (asked once per executor: one iteration or reaction context)."""
        return self._active()

    def _active(self) -> bool:
        if self._trading_active is None:
            try:
                self._trading_active = self.broker.trading_active()
            except (ExchangeError, NetworkError):  # cannot tell: do not send (the gate says why)
                self._trading_active = False
        return self._trading_active

    # -- sending ------------------------------------------------------------------------
    def send(
        self,
        intent: OrderIntent,
        leg: Leg,
        market: Market,
        *,
        reference: Price,
        strategy: str,
        ref: str,
        purpose: str = "entry",
        reason: str = "",
    ) -> tuple[list[Order | Fill | Denied], Count]:
        """Send one ready-made intent (flatten, manual orders) the same journaled way; return outputs and fills."""
        plan = LegPlan(0, leg, market, intent, leg.price, reference, intent.count)
        plan.reason = reason
        return _drain(self._send(plan, strategy, ref, None, purpose=purpose))

    def resend(
        self, client_order_id: str, market: Market, *, strategy: str = "", ref: str = ""
    ) -> tuple[list[Order | Fill | Denied], Count]:
        """Send a ``never_sent`` intent again under the SAME client_order_id; return outputs and fills.

        Only for an intent reconciliation proved never reached the exchange. It passes the
        risk gate again (state, limits, blocked market, stale book, trading active). A 409
        answer means it did arrive after all and is recorded as such — never as a failure.
        Post-only quotes are not resent: their expiry is not journaled and their books are gone.

        Raises:
            JournalError: no such intent, or it is not ``never_sent``.
        """
        row = self.journal.intent(client_order_id)
        if row is None or row.status != IntentStatus.NEVER_SENT:
            raise JournalError(
                f"intent {client_order_id} is {row.status if row else 'unknown'}, not never_sent",
                hint="only an intent reconciliation proved never arrived may be resent",
            )
        intent = row.to_intent()
        if row.opportunity_id.startswith(AMEND_PREFIX):
            return [
                Denied(
                    ref or row.opportunity_id,
                    intent.ticker,
                    "amend-not-resent",
                    "an amend that never arrived is not sent again as a new order: the original order "
                    "stands as it was; amend it afresh",
                    strategy or row.strategy,
                )
            ], Count(0)
        action, price = from_book_side(intent.side, intent.price, "yes")
        leg = Leg(intent.ticker, "yes", action, price, intent.count)
        ref = ref or row.opportunity_id
        strategy = strategy or row.strategy
        if intent.post_only:
            return [
                Denied(
                    ref,
                    intent.ticker,
                    "stale-quote",
                    "a post-only quote is not resent: its books are gone; the next iteration quotes afresh",
                    strategy,
                )
            ], Count(0)
        d = self.gate.check(
            intent,
            fee_type=market.fee_type,
            multiplier=market.fee_multiplier,
            stale=self.stale(intent.ticker),
            trading_active=self._active(),
        )
        if d:
            return [Denied(ref, intent.ticker, d.rule, d.reason, strategy)], Count(0)
        self.journal.set_intent_status(
            client_order_id,
            IntentStatus.PENDING,
            detail="resent under the same id: reconciliation proved it never arrived",
        )
        self.journal.add_event("resend", {"client_order_id": client_order_id}, ticker=intent.ticker)
        best = market.asks("yes") if action == "buy" else market.bids("yes")
        plan = LegPlan(0, leg, market, intent, price, best[0][0] if best else price, intent.count)
        return _drain(self._transmit(plan, strategy, ref))

    def _send(
        self, p: LegPlan, strategy: str, opp_id: str, cand: Candidate | None, purpose: str = "entry"
    ) -> Generator[Order | Fill | Denied, None, Count | None]:
        """Journal, gate-admit and send one intent; return the filled count (None if unknown/rejected)."""
        intent = p.intent
        existing = self.journal.record_intent(
            intent, strategy=strategy, opportunity_id=opp_id, purpose=purpose, reason=p.reason
        )
        if existing is not None:
            yield Denied(
                opp_id,
                intent.ticker,
                "duplicate",
                f"this exact order was already submitted "
                f"(client_order_id {intent.client_order_id}, status {existing.status}); not sending it again",
                strategy,
            )
            return None
        return (yield from self._transmit(p, strategy, opp_id))

    def _transmit(self, p: LegPlan, strategy: str, opp_id: str) -> Generator[Order | Fill | Denied, None, Count | None]:
        """Send a journaled (pending) intent once and record the answer; return the filled count or None."""
        intent = p.intent
        coid = intent.client_order_id
        self.gate.admit(intent, p.market.fee_type, p.market.fee_multiplier, charge=p.charge)
        t0 = self.clock()
        try:
            ack = self.broker.submit(intent)
        except Conflict as e:
            # 409: the exchange already holds this client_order_id — the order DID arrive
            # (an earlier send whose answer was lost). Never a rejection: find out what it did.
            return (yield from self._outcome_unknown(p, strategy, opp_id, t0, f"409 conflict: {e}"))
        except OutcomeUnknown as e:
            return (yield from self._outcome_unknown(p, strategy, opp_id, t0, str(e)))
        except NetworkError as e:
            # the connection was never made (rest.py raises NetworkError for writes only then):
            # provably nothing reached the exchange; the next iteration decides afresh
            self.journal.set_intent_status(coid, IntentStatus.NEVER_SENT, detail=f"not sent: {e}")
            yield self._order_record(
                p,
                strategy,
                opp_id,
                status="rejected",
                order_id="",
                filled=Count(0),
                avg=None,
                fees=Money(0),
                latency=self.clock() - t0,
                reason=f"not sent, nothing reached the exchange: {e}",
            )
            return None
        except RateLimited as e:
            # 429 is refused before processing (REFERENCE §7.1): definite, nothing placed, market not blocked
            self.journal.set_intent_status(coid, IntentStatus.REJECTED, detail=f"rate limited (429), not placed: {e}")
            yield self._order_record(
                p,
                strategy,
                opp_id,
                status="rejected",
                order_id="",
                filled=Count(0),
                avg=None,
                fees=Money(0),
                latency=self.clock() - t0,
                reason=f"rate limited (429) — not placed; a later iteration may try again: {e}",
            )
            return None
        except (OrderRejected, ExchangeError) as e:  # definite refusals: 400, auth, permission, not found
            self.journal.set_intent_status(coid, IntentStatus.REJECTED, detail=str(e))
            yield self._order_record(
                p,
                strategy,
                opp_id,
                status="rejected",
                order_id="",
                filled=Count(0),
                avg=None,
                fees=Money(0),
                latency=self.clock() - t0,
                reason=str(e),
            )
            return None
        latency = self.clock() - t0
        fills: list[ExchangeFill] = []
        order: ExchangeOrder | None = None
        try:
            if ack.fill_count:
                fills = [f for f in self.broker.fills(ticker=intent.ticker) if f.order_id == ack.order_id]
            order = next((o for o in self.broker.orders(ticker=intent.ticker) if o.order_id == ack.order_id), None)
        except KalashiError as e:
            # The answer itself is definite and must be recorded now; the details (fill ids)
            # come with on_market_data or the next reconciliation.
            self.journal.add_event(
                "ack-details-missing",
                {"client_order_id": coid, "order_id": ack.order_id, "error": str(e)},
                ticker=intent.ticker,
            )
            fills = []
        if order is None:
            order = _order_from_ack(intent, ack)
        self.journal.record_ack(coid, ack.order_id, order, fills, strategy=strategy)
        if p.charge is None and ack.fill_count == sum(f.count for f in fills):
            # what it really spent (and still holds, resting) replaces what it was admitted at
            self.gate.settle(intent, fills, ack.remaining_count, p.market.fee_type, p.market.fee_multiplier)
        p.fills = fills
        avg = self._avg(p, ack.fill_count, fills, ack.average_fill_price)
        status = ack.status if ack.remaining_count == 0 or intent.time_in_force == "good_till_canceled" else "canceled"
        if ack.remaining_count == 0 and ack.fill_count:
            status = "executed"
        yield self._order_record(
            p,
            strategy,
            opp_id,
            status=status,
            order_id=ack.order_id,
            filled=ack.fill_count,
            avg=avg,
            fees=Money(sum(f.fee for f in fills)),
            latency=latency,
        )
        for f in fills:
            yield self._fill_record(f, p.leg.outcome)
        return ack.fill_count

    def _avg(self, p: LegPlan, filled: Count, fills: Sequence[ExchangeFill], yes_avg: Price | None) -> Price | None:
        if not filled:
            return None
        if fills:
            yes_avg = Price(sum(f.price * f.count for f in fills) // max(1, sum(f.count for f in fills)))
        return from_book_side(p.intent.side, yes_avg or p.intent.price, p.leg.outcome)[1]

    def _outcome_unknown(
        self, p: LegPlan, strategy: str, opp_id: str, t0: float, why: str
    ) -> Generator[Order | Fill | Denied, None, Count | None]:
        """The order may or may not be on the exchange: look it up by client_order_id, else block the market.

        Only a positive answer is trusted at once (the order is there: record what it did). Not
        finding it proves nothing yet — a request can still be in flight — so the market stays
        blocked until reconciliation decides ``never_sent``.
        """
        intent = p.intent
        coid = intent.client_order_id
        self.journal.set_intent_status(coid, IntentStatus.UNKNOWN, detail=why)
        self.journal.add_event("outcome-unknown", {"client_order_id": coid, "error": why}, ticker=intent.ticker)
        found: ExchangeOrder | None = None
        fills: list[ExchangeFill] = []
        try:
            found = next((o for o in self.broker.orders(ticker=intent.ticker) if o.client_order_id == coid), None)
            if found is not None and found.fill_count:
                fills = [f for f in self.broker.fills(ticker=intent.ticker) if f.order_id == found.order_id]
        except KalashiError as e:
            why = f"{why}; looking it up failed too ({e})"
            found = None
        latency = self.clock() - t0
        if found is None:
            self.gate.block(intent.ticker)
            yield self._order_record(
                p,
                strategy,
                opp_id,
                status="unknown",
                order_id="",
                filled=Count(0),
                avg=None,
                fees=Money(0),
                latency=latency,
                reason=f"{why} — market blocked until reconciled",
            )
            return None
        self.journal.record_ack(coid, found.order_id, found, fills, strategy=strategy)
        self.journal.add_event(
            "outcome-resolved",
            {
                "client_order_id": coid,
                "order_id": found.order_id,
                "status": found.status,
                "filled": found.fill_count,
                "how": "looked up by client_order_id",
            },
            ticker=intent.ticker,
        )
        p.fills = fills
        avg = self._avg(p, found.fill_count, fills, None)
        yield self._order_record(
            p,
            strategy,
            opp_id,
            status=found.status,
            order_id=found.order_id,
            filled=found.fill_count,
            avg=avg,
            fees=Money(sum(f.fee for f in fills)),
            latency=latency,
            reason=f"answer lost ({why}); found on the exchange by client_order_id",
        )
        for f in fills:
            yield self._fill_record(f, p.leg.outcome)
        return found.fill_count

    # -- amending a resting order ------------------------------------------------------
    def amend(
        self,
        order: ExchangeOrder,
        market: Market,
        *,
        price: Price,
        count: Count,
        client_order_id: str,
        strategy: str = "manual",
        concentration: tuple[str, str] | None = None,
    ) -> Amended:
        """Amend a resting order the way an order is sent: gated, journaled before it is sent, sent once.

        The amended order — YES ``price``, TOTAL ``count`` (filled + remaining) — passes the risk
        gate as a whole, replacing the old one (whose collateral and slot are freed first). It is
        journaled as an intent under the NEW ``client_order_id`` (the exchange renames the order),
        so an amend whose answer is lost is settled like a create: looked up by that id at once,
        else the market is blocked until reconciliation finds the order under one name or the
        other. An amend intent judged never sent is never resent (:meth:`resend` refuses it).
        """
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
            trading_active=self._active(),
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
            # the new id is taken: by this very order (an earlier amend arrived after all), or by another
            try:
                mine = any(
                    o.order_id == order.order_id and o.client_order_id == client_order_id
                    for o in self.broker.orders(ticker=order.ticker)
                )
            except KalashiError:
                mine = False
            if mine:
                return self._amend_recorded(
                    order,
                    intent,
                    order.order_id,
                    strategy,
                    f"409 conflict ({e}); the order already carries the new client_order_id: the amend arrived",
                )
            self.journal.set_intent_status(client_order_id, IntentStatus.REJECTED, detail=f"amend refused: {e}")
            return Amended(None, [], None, f"client_order_id {client_order_id} is already used on the exchange: {e}")
        except OutcomeUnknown as e:
            return self._amend_unknown(order, intent, strategy, str(e))
        except NetworkError as e:
            self.journal.set_intent_status(client_order_id, IntentStatus.NEVER_SENT, detail=f"amend not sent: {e}")
            return Amended(None, [], None, f"not sent, nothing reached the exchange: {e}")
        except (OrderRejected, ExchangeError) as e:  # 429 included: refused before processing
            self.journal.set_intent_status(client_order_id, IntentStatus.REJECTED, detail=f"amend refused: {e}")
            return Amended(None, [], None, str(e))
        return self._amend_recorded(order, intent, ack.order_id or order.order_id, strategy, "")

    def _amend_recorded(
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
        return Amended(now, [self._fill_record(f, "yes") for f in fills], None, reason)

    def _amend_unknown(self, order: ExchangeOrder, intent: OrderIntent, strategy: str, why: str) -> Amended:
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
        return self._amend_recorded(
            order,
            intent,
            found.order_id,
            strategy,
            f"answer lost ({why}); found amended on the exchange by client_order_id",
        )

    # -- records ------------------------------------------------------------------------
    def _order_record(
        self,
        p: LegPlan,
        strategy: str,
        opp_id: str,
        *,
        status: str,
        order_id: str,
        filled: Count,
        avg: Price | None,
        fees: Money,
        latency: float,
        reason: str = "",
    ) -> Order:
        action = p.leg.action
        slippage = Decimal(0)
        if avg is not None and p.reference:
            diff = (avg - p.reference) if action == "buy" else (p.reference - avg)
            slippage = (Decimal(diff) / p.reference * 100).quantize(Decimal("0.0001"))
        latency_ms = Decimal(str(round(latency * 1000, 3)))
        if self.broker.mode == "paper":
            latency_ms += self.profile.paper.latency_ms
        return Order(
            client_order_id=p.intent.client_order_id,
            order_id=order_id,
            mode=self.broker.mode,
            ticker=p.leg.ticker,
            outcome=p.leg.outcome,
            action=action,
            price=p.limit,
            count=p.intent.count,
            status=status,
            filled_count=filled,
            avg_fill_price=avg,
            fees=fees,
            latency_ms=latency_ms,
            slippage_pct=slippage,
            strategy=strategy,
            opportunity_id=opp_id,
            time_in_force=p.intent.time_in_force,
            post_only=p.intent.post_only,
            reduce_only=p.intent.reduce_only,
            reason=reason or p.reason,
        )

    @staticmethod
    def _fill_record(f: ExchangeFill, outcome: str) -> Fill:
        action, price = from_book_side(f.side, f.price, outcome)  # type: ignore[arg-type]
        from datetime import UTC, datetime

        ts = datetime.fromtimestamp(f.ts_ms / 1000, UTC).isoformat().replace("+00:00", "Z")
        return Fill(
            order_id=f.order_id,
            client_order_id=f.client_order_id,
            ticker=f.ticker,
            outcome=outcome,  # type: ignore[arg-type]
            action=action,
            price=price,
            count=f.count,
            fee=f.fee,
            is_taker=f.is_taker,
            ts=ts,
            fill_id=f.fill_id,
        )


def _drain(gen: Generator[Order | Fill | Denied, None, Count | None]) -> tuple[list[Order | Fill | Denied], Count]:
    out: list[Order | Fill | Denied] = []
    while True:
        try:
            out.append(next(gen))
        except StopIteration as stop:
            return out, stop.value or Count(0)


def _order_from_ack(intent: OrderIntent, ack: OrderAck) -> ExchangeOrder:
    """The order as the create answer describes it (when listing it failed right after)."""
    return ExchangeOrder(
        order_id=ack.order_id,
        client_order_id=intent.client_order_id,
        ticker=intent.ticker,
        side=intent.side,
        price=intent.price,
        status=ack.status,
        initial_count=intent.count,
        fill_count=ack.fill_count,
        remaining_count=ack.remaining_count,
        created_ts_ms=ack.ts_ms,
        time_in_force=intent.time_in_force,
    )
