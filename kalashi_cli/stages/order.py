"""order: size, gate, price and send orders — and record exactly what happened.

For each candidate:

1. fetch fresh books for every leg and walk them to the size, never further than the
   profile's slippage bound above the best price (the limit is the worst acceptable level —
   Kalshi has no market orders, so a taker order is an IOC/FOK limit at that level);
2. pass every leg through the risk gate before any leg is sent;
3. journal each intent under a deterministic ``client_order_id`` BEFORE sending it, then
   record the definite answer — or, when the answer was lost (timeout, reset, 5xx) or the
   exchange says it already holds the id (409), look the order up by ``client_order_id`` at
   once; found → recorded as what really happened, not found → the market is blocked
   ("unknown") until reconciliation decides;
4. multi-leg trades send the least liquid leg first with fill-or-kill; if a later leg fails
   or fills short, the legs already filled are unwound with reduce-only IOC orders inside the
   slippage bound and the realized loss — from the actual fills — is recorded with the reason.

Answers to a create and what the journal records (intent status):

====================================  =========================================================
answer                                journal
====================================  =========================================================
201 ack                               ``acked`` + the order and its fills, in one transaction
400 (OrderRejected), 429, 401/403…    ``rejected`` with the reason; nothing was placed
connection refused (NetworkError)     ``never_sent``; nothing left this host
409 Conflict (duplicate id)           it DID arrive earlier: looked up → ``acked``, else ``unknown``
timeout, reset, 5xx (OutcomeUnknown)  looked up → ``acked``, else ``unknown`` (market blocked)
====================================  =========================================================

A ``never_sent`` intent is only ever sent again through :meth:`OrderExecutor.resend`, under
the same ``client_order_id``.

Emits ``order``, ``fill`` and ``denied`` records.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
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
    Opportunity,
    Order,
    OrderAck,
    OrderIntent,
    OrderStatus,
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
from ..journal import IntentStatus, Journal, TradeRow
from ..ledger import netting_credit
from ..money import COUNT_SCALE, ONE_DOLLAR, Count, Money, Price, fmt_money, snap, usd, usd_price
from ..ports import Broker, OrderDesk
from ..profile import Profile
from .book import buy_slices, sell_slices, slices_count
from .own_orders import crosses_own, without_own_orders
from .risk import BasketCharge, RiskGate, order_collateral, order_cost
from .scan import close_ms

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


@dataclass(slots=True)
class _LegPlan:
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


class OrderExecutor:
    """Executes candidates through one broker, one journal and one risk gate."""

    def __init__(self, profile: Profile, broker: Broker, journal: Journal, gate: RiskGate,
                 books: Callable[[Sequence[str]], dict[str, Market]], *,
                 stale: Callable[[str], bool] = lambda t: False,
                 clock: Callable[[], float] = time.perf_counter,
                 now_ms: Callable[[], int] | None = None) -> None:
        self.profile = profile
        self.broker = broker
        self.journal = journal
        self.gate = gate
        self.source_books = books
        self.stale = stale
        self.clock = clock
        #: the market's clock (sim time on the sim): quote expiries and the stop before a close use it;
        #: without one (a caller that never said) the wall clock dates quotes and no close is checked
        self.market_clock = now_ms is not None
        self.now_ms: Callable[[], int] = now_ms or (lambda: time.time_ns() // 1_000_000)
        self._trading_active: bool | None = None
        #: the source's books include this account's resting orders (an exchange's do; the paper broker's source not)
        self.own_in_books = bool(getattr(broker, "books_include_own_orders", True))
        a = profile.analyze
        self._stop_ms = {"arbitrage": a.arbitrage.stop_before_close_seconds * 1000,
                         "spread": a.spread.stop_before_close_seconds * 1000,
                         "value": a.value.stop_before_close_seconds * 1000}

    def books(self, tickers: Sequence[str]) -> dict[str, Market]:
        """Fresh books for ``tickers`` as this account can trade them: its own resting orders taken out."""
        books = self.source_books(tickers)
        own = [o for o in self.journal.orders(status=OrderStatus.RESTING) if o.ticker in books]
        if not own:
            return books
        return {t: without_own_orders(m, own, included=self.own_in_books) for t, m in books.items()}

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

    def execute_all(self, candidates: Iterable[Candidate]) -> Iterator[Order | Fill | Denied]:
        for c in candidates:
            yield from self.execute(c)

    # -- one candidate ------------------------------------------------------------------
    def execute(self, cand: Candidate) -> Iterator[Order | Fill | Denied]:
        o = cand.opportunity
        ex = self.profile.execution
        books = self.books([leg.ticker for leg in o.legs])
        plans: list[_LegPlan] = []
        size = cand.size
        now = self.now_ms()
        for i, leg in enumerate(o.legs):
            m = books.get(leg.ticker)
            if m is None:
                yield Denied(o.id, leg.ticker, "no-book", f"no current book for {leg.ticker}", o.strategy)
                return
            closes = close_ms(m) if self.market_clock else None
            stop = self._stop_ms.get(o.strategy, 0)
            if closes is not None and 0 <= closes - now <= stop:
                yield Denied(o.id, leg.ticker, "closing", f"{leg.ticker} closes at {m.close_time}, within the "
                             f"{stop // 1000} s before its close when {o.strategy} opens nothing "
                             f"(analyze.{o.strategy}.stop_before_close_seconds)", o.strategy)
                return
            if o.maker:
                side = to_book_side(leg.outcome, "buy", leg.price)[0]
                try:
                    resting = self.broker.orders(ticker=leg.ticker, status=OrderStatus.RESTING)
                except KalashiError as e:
                    yield Denied(o.id, leg.ticker, "exchange", f"cannot list resting orders on {leg.ticker}: {e}",
                                 o.strategy)
                    return
                if any(r.side == side for r in resting):
                    yield Denied(o.id, leg.ticker, "already-quoting", f"a quote on {leg.ticker} is already resting; "
                                 "not stacking another on the same side", o.strategy)
                    return
                plans.append(self._maker_plan(i, leg, m, size, o.id))
                continue
            asks = m.asks(leg.outcome)
            if not asks:
                yield Denied(o.id, leg.ticker, "no-liquidity", f"nothing offered to buy {leg.outcome.upper()} "
                             f"{leg.ticker} any more", o.strategy)
                return
            best = asks[0][0]
            bound = min(ONE_DOLLAR - 1, int(best * (1 + ex.max_slippage_pct)))
            grid_bound = snap(Price(bound), m.price_ranges, up=False) or best
            slices = buy_slices(m, leg.outcome, size, max_price=grid_bound)
            avail = slices_count(slices)
            plans.append(_LegPlan(i, leg, m, OrderIntent("", leg.ticker, "bid", Price(0), Count(0)), slices[-1][0] if slices else best,
                                  best, avail, slices=slices))
        if not o.maker:
            size = min([size] + [p.available for p in plans])
            step = int(self.profile.sizing.min_count * COUNT_SCALE)
            size = Count(size // step * step)
            if size <= 0:
                yield Denied(o.id, o.legs[0].ticker, "no-liquidity", "the books no longer offer the size within the "
                             f"{ex.max_slippage_pct:.1%} slippage bound", o.strategy)
                return
            if o.strategy == "arbitrage":
                denial = self._arbitrage_still_pays(o.id, plans, size, o.payout, cand.required_edge)
                if denial:
                    yield denial
                    return
            tif = ex.arbitrage_time_in_force if len(plans) > 1 else ex.taker_time_in_force
            for p in plans:
                p.intent = self._intent(o.id, p.index, p.leg, p.market, p.limit, size, tif)
        # never a leg against our own order: self-trade prevention would cancel it (and on a book
        # that shows our quote, it would be our own liquidity)
        own = self.journal.orders(status=OrderStatus.RESTING)
        for p in plans:
            mine = crosses_own(p.intent, own)
            if mine is not None:
                yield Denied(o.id, p.leg.ticker, "own-order", f"this leg ({p.intent.side} at YES {usd_price(p.intent.price)}) "
                             f"would trade against our own resting order {mine.order_id} ({mine.side} at YES "
                             f"{usd_price(mine.price)}); our own orders are not liquidity", o.strategy)
                return
        plans.sort(key=lambda p: (p.available, p.index))  # least liquid first
        # gate every leg before sending any, the basket as a whole: its worst case against the daily
        # cap, the most cash it holds while its legs go out against the balance
        charge = self._basket_charge(o, plans, size) if len(plans) > 1 else None
        reclaimed = False
        k = 0
        while k < len(plans):
            p = plans[k]
            d = self.gate.check(p.intent, fee_type=p.market.fee_type, multiplier=p.market.fee_multiplier,
                                stale=self.stale(p.leg.ticker), trading_active=self._active(), basket=charge)
            if d and not reclaimed and o.riskless and d.rule in ("balance", "max-daily-cost"):
                # capital to the riskless trade first: our own quotes resting from earlier iterations
                # hold the cash (and the daily room) it needs — cancel them, oldest first, and look again
                reclaimed = True
                if self._reclaim(o, plans, charge):
                    k = 0
                    continue
            if d:
                yield Denied(o.id, p.leg.ticker, d.rule, d.reason, o.strategy)
                return
            k += 1
        if charge is not None:
            for k, p in enumerate(plans):  # the first leg sent carries the basket's charge
                p.charge = charge if k == 0 else BasketCharge(Money(0), Money(0))
        self._remember_trade(o, plans)
        filled: list[tuple[_LegPlan, Count]] = []
        known = True
        for p in plans:
            outcome = yield from self._send(p, o.strategy, o.id, cand)
            if outcome is None:  # unknown outcome or rejection: stop, unwind what filled
                known = False
                break
            if outcome < p.intent.count and not o.maker:
                filled.append((p, outcome))
                break
            filled.append((p, outcome))
        else:
            return
        if charge is not None and known and not any(n for _, n in filled):
            # no leg filled (the first, fill-or-kill, could not): the basket neither spends nor nets,
            # so its charge no longer counts against the cash (its netting credit least of all)
            self.gate.release(charge)
        if len(plans) > 1:
            yield from self._unwind([(p, n) for p, n in filled if n > 0], o.id, o.strategy,
                                    reason="a later leg of the basket failed or filled short")

    def _basket_charge(self, o: Opportunity, plans: Sequence[_LegPlan], size: Count) -> BasketCharge:
        """What a multi-leg trade counts against the limits: its worst case, and its peak cash in send order.

        Worst case: the legs' cost (price and the most fee) less what the basket is sure to pay
        (an arbitrage's payout). Peak cash: the legs' collateral added up in the order they are
        sent, less what collateral netting returns as legs of a mutually exclusive event pile up
        (:func:`kalashi_cli.ledger.netting_credit`) — the most the basket holds at any point.
        """
        costs = [order_cost(p.intent, p.market.fee_type, p.market.fee_multiplier) for p in plans]
        guaranteed = o.payout * size if o.riskless else 0
        netted = {p.leg.ticker: p.market.event_ticker for p in plans if p.market.mutually_exclusive}
        held: dict[str, Count] = {}
        spent = peak = credit = 0
        for p in plans:
            spent += order_collateral(p.intent, p.market.fee_type, p.market.fee_multiplier)
            before = credit
            held[p.leg.ticker] = Count(held.get(p.leg.ticker, 0) + (size if p.intent.side == "bid" else -size))
            credit = netting_credit(held, netted) if netted else 0
            # a fill-or-kill leg is accepted on its filled end state (the credit it creates counts); any
            # other leg must fit before it fills, with the credit of the legs before it
            peak = max(peak, spent - (credit if p.intent.time_in_force == "fill_or_kill" else before))
        return BasketCharge(daily=Money(max(0, sum(costs) - guaranteed)), cash=Money(peak), spend=Money(spent), credit=Money(credit))

    def _reclaim(self, o: Opportunity, plans: Sequence[_LegPlan], charge: BasketCharge | None) -> bool:
        """Cancel our resting quotes (oldest first) until a riskless trade fits the balance and the daily cap.

        Quotes are the lowest-ranked use of capital (they earn only if someone trades with them);
        the next iteration quotes again with whatever is left. Returns whether any was cancelled.
        """
        mine = {p.leg.ticker for p in plans}
        quotes = [q for q in self.journal.orders(status=OrderStatus.RESTING) if q.ticker not in mine]
        cancelled = 0
        for q in sorted(quotes, key=lambda q: (q.created_ts_ms, q.order_id)):
            if self._fits(plans, charge):
                break
            try:
                self.broker.cancel(q.order_id, q.ticker)
                now = next((x for x in self.broker.orders(ticker=q.ticker) if x.order_id == q.order_id), None)
            except KalashiError:
                continue
            if now is not None:
                self.journal.upsert_order(now)
            cancelled += 1
            self.gate.refresh_resting()
        if cancelled:
            self.journal.add_event("reclaim", {"opportunity_id": o.id, "cancelled": cancelled,
                                               "why": "a riskless trade needed the cash or daily room quotes held"})
        return cancelled > 0

    def _fits(self, plans: Sequence[_LegPlan], charge: BasketCharge | None) -> bool:
        return all(self.gate.check(p.intent, fee_type=p.market.fee_type, multiplier=p.market.fee_multiplier,
                                   basket=charge) is None for p in plans)

    def _remember_trade(self, o: Opportunity, plans: Sequence[_LegPlan]) -> None:
        """Journal the trade the legs belong to (one P&L, one win or loss), and which markets net collateral."""
        self.journal.record_trade(TradeRow(o.id, o.strategy, o.event_ticker, len(o.legs),
                                           o.payout if o.riskless else Price(0), o.as_of_ms))
        netted = [(p.market.ticker, p.market.event_ticker, p.market.series_ticker, p.market.title,
                   p.market.category, "", True) for p in plans if p.market.mutually_exclusive]
        if netted:
            self.journal.remember_markets(netted)

    def _maker_plan(self, i: int, leg: Leg, m: Market, size: Count, opp_id: str) -> _LegPlan:
        ex = self.profile.execution
        expiry = None
        if ex.maker_expiry_seconds:
            expiry = self.now_ms() // 1000 + ex.maker_expiry_seconds
        closes = close_ms(m) if self.market_clock else None
        stop = self._stop_ms["spread"]
        if closes is not None and stop and closes - stop > self.now_ms():
            # a quote never rests into the last minutes before the close: it expires before them
            last = (closes - stop) // 1000
            expiry = last if expiry is None else min(expiry, last)
        side, yes_price = to_book_side(leg.outcome, "buy", leg.price)
        key = f"{leg.ticker}:{side}:{yes_price}:{size}:gtc"
        intent = OrderIntent(client_order_id(opp_id, i, key), leg.ticker, side, yes_price, size,
                             time_in_force="good_till_canceled", post_only=True, expiration_ts=expiry)
        asks = m.asks(leg.outcome)
        return _LegPlan(i, leg, m, intent, leg.price, asks[0][0] if asks else leg.price, size)

    def _intent(self, opp_id: str, i: int, leg: Leg, m: Market, limit: Price, size: Count, tif: str,
                *, purpose: str = "entry", action: str = "buy", reduce_only: bool = False) -> OrderIntent:
        side, yes_price = to_book_side(leg.outcome, action, limit)  # type: ignore[arg-type]
        key = f"{leg.ticker}:{side}:{yes_price}:{size}:{tif}"
        return OrderIntent(client_order_id(opp_id, i, key, purpose), leg.ticker, side, yes_price, size,
                           time_in_force=tif, reduce_only=reduce_only)  # type: ignore[arg-type]

    def _arbitrage_still_pays(self, opp_id: str, plans: list[_LegPlan], size: Count, payout: Price,
                              required: Money) -> Denied | None:
        from ..money import fee_for

        # every leg at its limit (the worst level it may reach), each level it walks a fill of its own
        # with its fee rounded up: a basket of few contracts pays the rounding on every leg
        cost = sum(p.limit * size for p in plans)
        fees = 0
        for p in plans:
            left = size
            for _, n in p.slices:
                k = min(n, left)
                if k <= 0:
                    break
                fees += fee_for(p.limit, k, fee_type=p.market.fee_type, multiplier=p.market.fee_multiplier)
                left = Count(left - k)
            if left > 0:
                fees += fee_for(p.limit, left, fee_type=p.market.fee_type, multiplier=p.market.fee_multiplier)
        edge = (payout * size - cost - fees) * COUNT_SCALE // size
        if edge < required:
            return Denied(opp_id, plans[0].leg.ticker, "edge-gone", f"at the current limit prices, with every "
                          f"order's fee rounded up, {size / COUNT_SCALE:g} basket(s) earn {usd(Money(edge))} per basket, "
                          f"below the required {usd(required)}", "arbitrage")
        return None

    # -- sending ------------------------------------------------------------------------
    def send(self, intent: OrderIntent, leg: Leg, market: Market, *, reference: Price, strategy: str, ref: str,
             purpose: str = "entry", reason: str = "") -> tuple[list[Order | Fill | Denied], Count]:
        """Send one ready-made intent (flatten, manual orders) the same journaled way; return outputs and fills."""
        plan = _LegPlan(0, leg, market, intent, leg.price, reference, intent.count)
        plan.reason = reason
        return _drain(self._send(plan, strategy, ref, None, purpose=purpose))

    def resend(self, client_order_id: str, market: Market, *, strategy: str = "", ref: str = ""
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
            raise JournalError(f"intent {client_order_id} is {row.status if row else 'unknown'}, not never_sent",
                               hint="only an intent reconciliation proved never arrived may be resent")
        intent = row.to_intent()
        if row.opportunity_id.startswith(AMEND_PREFIX):
            return [Denied(ref or row.opportunity_id, intent.ticker, "amend-not-resent",
                           "an amend that never arrived is not sent again as a new order: the original order "
                           "stands as it was; amend it afresh", strategy or row.strategy)], Count(0)
        action, price = from_book_side(intent.side, intent.price, "yes")
        leg = Leg(intent.ticker, "yes", action, price, intent.count)
        ref = ref or row.opportunity_id
        strategy = strategy or row.strategy
        if intent.post_only:
            return [Denied(ref, intent.ticker, "stale-quote", "a post-only quote is not resent: its books are gone; "
                           "the next iteration quotes afresh", strategy)], Count(0)
        d = self.gate.check(intent, fee_type=market.fee_type, multiplier=market.fee_multiplier,
                            stale=self.stale(intent.ticker), trading_active=self._active())
        if d:
            return [Denied(ref, intent.ticker, d.rule, d.reason, strategy)], Count(0)
        self.journal.set_intent_status(client_order_id, IntentStatus.PENDING,
                                       detail="resent under the same id: reconciliation proved it never arrived")
        self.journal.add_event("resend", {"client_order_id": client_order_id}, ticker=intent.ticker)
        best = market.asks("yes") if action == "buy" else market.bids("yes")
        plan = _LegPlan(0, leg, market, intent, price, best[0][0] if best else price, intent.count)
        return _drain(self._transmit(plan, strategy, ref))

    def _send(self, p: _LegPlan, strategy: str, opp_id: str, cand: Candidate | None,
              purpose: str = "entry") -> Generator[Order | Fill | Denied, None, Count | None]:
        """Journal, gate-admit and send one intent; return the filled count (None if unknown/rejected)."""
        intent = p.intent
        existing = self.journal.record_intent(intent, strategy=strategy, opportunity_id=opp_id, purpose=purpose,
                                              reason=p.reason)
        if existing is not None:
            yield Denied(opp_id, intent.ticker, "duplicate", f"this exact order was already submitted "
                         f"(client_order_id {intent.client_order_id}, status {existing.status}); not sending it again",
                         strategy)
            return None
        return (yield from self._transmit(p, strategy, opp_id))

    def _transmit(self, p: _LegPlan, strategy: str, opp_id: str) -> Generator[Order | Fill | Denied, None, Count | None]:
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
            yield self._order_record(p, strategy, opp_id, status="rejected", order_id="", filled=Count(0), avg=None,
                                     fees=Money(0), latency=self.clock() - t0, reason=f"not sent, nothing reached the "
                                     f"exchange: {e}")
            return None
        except RateLimited as e:
            # 429 is refused before processing (REFERENCE §7.1): definite, nothing placed, market not blocked
            self.journal.set_intent_status(coid, IntentStatus.REJECTED, detail=f"rate limited (429), not placed: {e}")
            yield self._order_record(p, strategy, opp_id, status="rejected", order_id="", filled=Count(0), avg=None,
                                     fees=Money(0), latency=self.clock() - t0,
                                     reason=f"rate limited (429) — not placed; a later iteration may try again: {e}")
            return None
        except (OrderRejected, ExchangeError) as e:  # definite refusals: 400, auth, permission, not found
            self.journal.set_intent_status(coid, IntentStatus.REJECTED, detail=str(e))
            yield self._order_record(p, strategy, opp_id, status="rejected", order_id="", filled=Count(0), avg=None,
                                     fees=Money(0), latency=self.clock() - t0, reason=str(e))
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
            self.journal.add_event("ack-details-missing", {"client_order_id": coid, "order_id": ack.order_id,
                                                           "error": str(e)}, ticker=intent.ticker)
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
        yield self._order_record(p, strategy, opp_id, status=status, order_id=ack.order_id, filled=ack.fill_count,
                                 avg=avg, fees=Money(sum(f.fee for f in fills)), latency=latency)
        for f in fills:
            yield self._fill_record(f, p.leg.outcome)
        return ack.fill_count

    def _avg(self, p: _LegPlan, filled: Count, fills: Sequence[ExchangeFill], yes_avg: Price | None) -> Price | None:
        if not filled:
            return None
        if fills:
            yes_avg = Price(sum(f.price * f.count for f in fills) // max(1, sum(f.count for f in fills)))
        return from_book_side(p.intent.side, yes_avg or p.intent.price, p.leg.outcome)[1]

    def _outcome_unknown(self, p: _LegPlan, strategy: str, opp_id: str, t0: float, why: str
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
            yield self._order_record(p, strategy, opp_id, status="unknown", order_id="", filled=Count(0), avg=None,
                                     fees=Money(0), latency=latency, reason=f"{why} — market blocked until reconciled")
            return None
        self.journal.record_ack(coid, found.order_id, found, fills, strategy=strategy)
        self.journal.add_event("outcome-resolved", {"client_order_id": coid, "order_id": found.order_id,
                                                    "status": found.status, "filled": found.fill_count,
                                                    "how": "looked up by client_order_id"}, ticker=intent.ticker)
        p.fills = fills
        avg = self._avg(p, found.fill_count, fills, None)
        yield self._order_record(p, strategy, opp_id, status=found.status, order_id=found.order_id,
                                 filled=found.fill_count, avg=avg, fees=Money(sum(f.fee for f in fills)), latency=latency,
                                 reason=f"answer lost ({why}); found on the exchange by client_order_id")
        for f in fills:
            yield self._fill_record(f, p.leg.outcome)
        return found.fill_count

    def _unwind(self, filled: list[tuple[_LegPlan, Count]], opp_id: str, strategy: str,
                reason: str) -> Iterator[Order | Fill | Denied]:
        """Sell back what the basket's earlier legs bought, reduce-only IOC inside the slippage bound.

        The realized loss is computed from the fills actually received (entry cost and fees of
        the part sold back, minus the unwind's proceeds net of fees), per leg and in total.
        Whatever cannot be sold back inside the bound stays open and says so (``leg-left-open``).
        """
        if not filled:
            return
        ex = self.profile.execution
        try:
            books = self.books([p.leg.ticker for p, _ in filled])
        except KalashiError:
            books = {}
        total_loss = 0
        legs: list[dict[str, object]] = []
        for p, n in filled:
            m = books.get(p.leg.ticker)
            bids = m.bids(p.leg.outcome) if m is not None else ()
            sold = 0
            unwind_fills: list[ExchangeFill] = []
            unwind_limit = 0
            why_open = ""
            if m is None or not bids:
                why_open = f"nobody bids for {p.leg.outcome.upper()} {p.leg.ticker}"
            else:
                best = bids[0][0]
                floor = max(1, int(best * (1 - ex.max_slippage_pct)))
                floor = snap(Price(floor), m.price_ranges, up=True) or 1
                slices = sell_slices(m, p.leg.outcome, n, min_price=Price(floor))
                if not slices:
                    why_open = f"no bid within the {ex.max_slippage_pct:.1%} slippage bound"
                else:
                    limit = unwind_limit = slices[-1][0]
                    intent = self._intent(opp_id, p.index, p.leg, m, limit, n, "immediate_or_cancel",
                                          purpose="unwind", action="sell", reduce_only=True)
                    plan = _LegPlan(p.index, Leg(p.leg.ticker, p.leg.outcome, "sell", limit, n), m, intent, limit,
                                    best, n)
                    sold = (yield from self._send(plan, strategy, opp_id, None, purpose="unwind")) or 0
                    unwind_fills = plan.fills
                    if sold < n:
                        why_open = (f"the unwind order filled {sold / COUNT_SCALE:g} of {n / COUNT_SCALE:g} within "
                                    f"the {ex.max_slippage_pct:.1%} slippage bound")
            # from the fills when we have them; the limit prices only when listing them failed
            entry_cost = _outcome_money(p, p.fills, buying=True) if p.fills else p.limit * n
            got = sum(f.count for f in p.fills) if p.fills else n
            proceeds = _outcome_money(p, unwind_fills, buying=False) if unwind_fills else unwind_limit * sold
            loss = entry_cost * sold // max(1, got) - proceeds if sold else 0
            total_loss += loss
            legs.append({"ticker": p.leg.ticker, "outcome": p.leg.outcome, "bought": n, "sold": sold,
                         "left_open": n - sold, "entry_cost": fmt_money(Money(entry_cost)), "proceeds": fmt_money(Money(proceeds)),
                         "realized_loss": fmt_money(Money(loss))})
            if sold < n:
                self.journal.add_event("unwind-short", {"opportunity_id": opp_id, "ticker": p.leg.ticker,
                                                        "left_open": n - sold, "reason": reason,
                                                        "why": why_open}, ticker=p.leg.ticker)
                yield Denied(opp_id, p.leg.ticker, "leg-left-open",
                             f"could not unwind {(n - sold) / COUNT_SCALE:g} contract(s) of {p.leg.ticker}: "
                             f"{why_open}; the position stays open and is recorded for `kalashi flatten`", strategy)
        self.journal.add_event("unwind", {"opportunity_id": opp_id, "reason": reason, "legs": legs,
                                          "realized_loss": fmt_money(Money(total_loss))})

    # -- amending a resting order ------------------------------------------------------
    def amend(self, order: ExchangeOrder, market: Market, *, price: Price, count: Count, client_order_id: str,
              strategy: str = "manual", concentration: tuple[str, str] | None = None) -> Amended:
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
        intent = OrderIntent(client_order_id, order.ticker, order.side, price, Count(remaining),
                             time_in_force=tif)  # type: ignore[arg-type]
        if remaining <= 0:
            return Amended(None, [], Denied(ref, order.ticker, "size", "the new count must exceed what already "
                                            f"filled ({order.fill_count / COUNT_SCALE:g})", strategy), "")
        self.gate.replacing(order.order_id)
        d = self.gate.check(intent, fee_type=market.fee_type, multiplier=market.fee_multiplier,
                            stale=self.stale(order.ticker), trading_active=self._active(),
                            concentration=concentration)
        if d:
            return Amended(None, [], Denied(ref, order.ticker, d.rule, d.reason, strategy), "")
        if self.journal.record_intent(intent, strategy=strategy, opportunity_id=ref, purpose="amend") is not None:
            return Amended(None, [], Denied(ref, order.ticker, "duplicate", f"client_order_id {client_order_id} "
                                            "was used before; not sending the amend", strategy), "")
        self.gate.admit(intent, market.fee_type, market.fee_multiplier)
        desk = self.broker
        try:
            if not isinstance(desk, OrderDesk):
                raise OrderRejected(f"the {self.broker.mode} broker cannot amend orders")
            ack = desk.amend(order, price=price, count=count, client_order_id=client_order_id)
        except Conflict as e:
            # the new id is taken: by this very order (an earlier amend arrived after all), or by another
            try:
                mine = any(o.order_id == order.order_id and o.client_order_id == client_order_id
                           for o in self.broker.orders(ticker=order.ticker))
            except KalashiError:
                mine = False
            if mine:
                return self._amend_recorded(order, intent, order.order_id, strategy, f"409 conflict ({e}); the "
                                            "order already carries the new client_order_id: the amend arrived")
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

    def _amend_recorded(self, order: ExchangeOrder, intent: OrderIntent, order_id: str, strategy: str,
                        reason: str) -> Amended:
        """Record the amended order as the exchange lists it, with the fills a new price took."""
        try:
            now = next((o for o in self.broker.orders(ticker=order.ticker) if o.order_id == order_id), None)
            known = {f.fill_id for f in self.journal.fills(ticker=order.ticker)}
            fills = [f for f in self.broker.fills(ticker=order.ticker)
                     if f.order_id == order_id and f.fill_id not in known]
        except KalashiError as e:
            self.journal.add_event("ack-details-missing", {"client_order_id": intent.client_order_id,
                                                           "order_id": order_id, "error": str(e)},
                                   ticker=order.ticker)
            now, fills = None, []
        self.journal.record_ack(intent.client_order_id, order_id, now, fills, strategy=strategy)
        self.journal.add_event("amend", {"order_id": order_id, "from_client_order_id": order.client_order_id,
                                         "client_order_id": intent.client_order_id,
                                         "price": f"{order.price}->{intent.price}",
                                         "count": f"{order.initial_count}->{intent.count + order.fill_count}",
                                         "filled_now": sum(f.count for f in fills)}, ticker=order.ticker)
        return Amended(now, [self._fill_record(f, "yes") for f in fills], None, reason)

    def _amend_unknown(self, order: ExchangeOrder, intent: OrderIntent, strategy: str, why: str) -> Amended:
        coid = intent.client_order_id
        self.journal.set_intent_status(coid, IntentStatus.UNKNOWN, detail=f"amend: {why}")
        self.journal.add_event("outcome-unknown", {"client_order_id": coid, "error": why, "amend_of": order.order_id},
                               ticker=order.ticker)
        try:
            found = next((o for o in self.broker.orders(ticker=order.ticker)
                          if o.client_order_id == coid and o.order_id == order.order_id), None)
        except KalashiError as e:
            why, found = f"{why}; looking it up failed too ({e})", None
        if found is None:
            self.gate.block(order.ticker)
            return Amended(None, [], None, f"{why} — market blocked until reconciled", unknown=True)
        return self._amend_recorded(order, intent, found.order_id, strategy,
                                    f"answer lost ({why}); found amended on the exchange by client_order_id")

    # -- records ------------------------------------------------------------------------
    def _order_record(self, p: _LegPlan, strategy: str, opp_id: str, *, status: str, order_id: str,
                      filled: Count, avg: Price | None, fees: Money, latency: float, reason: str = "") -> Order:
        action = p.leg.action
        slippage = Decimal(0)
        if avg is not None and p.reference:
            diff = (avg - p.reference) if action == "buy" else (p.reference - avg)
            slippage = (Decimal(diff) / p.reference * 100).quantize(Decimal("0.0001"))
        latency_ms = Decimal(str(round(latency * 1000, 3)))
        if self.broker.mode == "paper":
            latency_ms += self.profile.paper.latency_ms
        return Order(client_order_id=p.intent.client_order_id, order_id=order_id, mode=self.broker.mode,
                     ticker=p.leg.ticker, outcome=p.leg.outcome, action=action, price=p.limit,
                     count=p.intent.count, status=status, filled_count=filled, avg_fill_price=avg, fees=fees,
                     latency_ms=latency_ms, slippage_pct=slippage, strategy=strategy, opportunity_id=opp_id,
                     time_in_force=p.intent.time_in_force, post_only=p.intent.post_only,
                     reduce_only=p.intent.reduce_only, reason=reason or p.reason)

    @staticmethod
    def _fill_record(f: ExchangeFill, outcome: str) -> Fill:
        action, price = from_book_side(f.side, f.price, outcome)  # type: ignore[arg-type]
        from datetime import UTC, datetime

        ts = datetime.fromtimestamp(f.ts_ms / 1000, UTC).isoformat().replace("+00:00", "Z")
        return Fill(order_id=f.order_id, client_order_id=f.client_order_id, ticker=f.ticker,
                    outcome=outcome, action=action, price=price, count=f.count, fee=f.fee,  # type: ignore[arg-type]
                    is_taker=f.is_taker, ts=ts, fill_id=f.fill_id)



def _drain(gen: Generator[Order | Fill | Denied, None, Count | None]) -> tuple[list[Order | Fill | Denied], Count]:
    out: list[Order | Fill | Denied] = []
    while True:
        try:
            out.append(next(gen))
        except StopIteration as stop:
            return out, stop.value or Count(0)


def _order_from_ack(intent: OrderIntent, ack: OrderAck) -> ExchangeOrder:
    """The order as the create answer describes it (when listing it failed right after)."""
    return ExchangeOrder(order_id=ack.order_id, client_order_id=intent.client_order_id, ticker=intent.ticker,
                         side=intent.side, price=intent.price, status=ack.status, initial_count=intent.count,
                         fill_count=ack.fill_count, remaining_count=ack.remaining_count, created_ts_ms=ack.ts_ms,
                         time_in_force=intent.time_in_force)


def _outcome_money(p: _LegPlan, fills: Sequence[ExchangeFill], *, buying: bool) -> Money:
    """Money paid for (buying) or received from (selling) ``fills`` of this leg's outcome, fees included."""
    total = 0
    for f in fills:
        price = from_book_side(f.side, f.price, p.leg.outcome)[1]
        total += price * f.count + (f.fee if buying else -f.fee)
    return Money(total)
