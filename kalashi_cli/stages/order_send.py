"""Sending one order intent the journaled way, and recording exactly what came back.

:class:`OrderSender` is the part of the order path that talks to the exchange (the table of
answers and journal states is in :mod:`kalashi_cli.stages.order`): a new order, a resend of a
``never_sent`` intent under the same ``client_order_id``, an amend — each journaled before it
is sent, sent once, its answer recorded in one transaction, a lost answer looked up by
``client_order_id`` at once (else the market is blocked until reconciliation decides).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Generator
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
from ..money import Count, Money, Price
from ..ports import Broker
from ..profile import Profile
from .order_amend import AMEND_PREFIX, Amended, Amender
from .order_records import LegPlan, average_price, fill_record, order_from_ack, order_record
from .risk import RiskGate

_NAMESPACE = uuid.UUID("5f0c1d2e-6b7a-4c3d-9e8f-0a1b2c3d4e5f")


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
                latency=self.clock() - t0,
                reason=f"rate limited (429) — not placed; a later iteration may try again: {e}",
            )
            return None
        except (OrderRejected, ExchangeError) as e:  # definite refusals: 400, auth, permission, not found
            self.journal.set_intent_status(coid, IntentStatus.REJECTED, detail=str(e))
            yield self._order_record(p, strategy, opp_id, status="rejected", latency=self.clock() - t0, reason=str(e))
            return None
        return (yield from self._acked(p, strategy, opp_id, ack, self.clock() - t0))

    def _acked(
        self, p: LegPlan, strategy: str, opp_id: str, ack: OrderAck, latency: float
    ) -> Generator[Order | Fill | Denied, None, Count]:
        """Record a definite answer (201) with the order and fills the exchange lists; return the filled count."""
        intent = p.intent
        coid = intent.client_order_id
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
            order = order_from_ack(intent, ack)
        self.journal.record_ack(coid, ack.order_id, order, fills, strategy=strategy)
        if p.charge is None and ack.fill_count == sum(f.count for f in fills):
            # what it really spent (and still holds, resting) replaces what it was admitted at
            self.gate.settle(intent, fills, ack.remaining_count, p.market.fee_type, p.market.fee_multiplier)
        p.fills = fills
        avg = average_price(p, ack.fill_count, fills, ack.average_fill_price)
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
            yield fill_record(f, p.leg.outcome)
        return ack.fill_count

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
        avg = average_price(p, found.fill_count, fills, None)
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
            yield fill_record(f, p.leg.outcome)
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
        amender = Amender(self.broker, self.journal, self.gate, self.stale, self._active)
        return amender.amend(
            order,
            market,
            price=price,
            count=count,
            client_order_id=client_order_id,
            strategy=strategy,
            concentration=concentration,
        )

    # -- records ------------------------------------------------------------------------
    def _order_record(
        self,
        p: LegPlan,
        strategy: str,
        opp_id: str,
        *,
        status: str,
        latency: float,
        order_id: str = "",
        filled: Count = Count(0),
        avg: Price | None = None,
        fees: Money = Money(0),
        reason: str = "",
    ) -> Order:
        """The ``order`` record of one answer (the defaults: not placed), in this broker's mode and timing."""
        latency_ms = Decimal(str(round(latency * 1000, 3)))
        if self.broker.mode == "paper":
            latency_ms += self.profile.paper.latency_ms
        return order_record(
            p,
            strategy,
            opp_id,
            mode=self.broker.mode,
            latency_ms=latency_ms,
            status=status,
            order_id=order_id,
            filled=filled,
            avg=avg,
            fees=fees,
            reason=reason,
        )


def _drain(gen: Generator[Order | Fill | Denied, None, Count | None]) -> tuple[list[Order | Fill | Denied], Count]:
    out: list[Order | Fill | Denied] = []
    while True:
        try:
            out.append(next(gen))
        except StopIteration as stop:
            return out, stop.value or Count(0)
