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
from collections.abc import Callable, Iterable, Iterator, Sequence

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
    OrderIntent,
    OrderStatus,
    from_book_side,
    to_book_side,
)
from ..errors import KalashiError
from ..journal import Journal, TradeRow
from ..ledger import netting_credit
from ..money import COUNT_SCALE, ONE_DOLLAR, Count, Money, Price, fmt_money, snap, usd, usd_price
from ..ports import Broker
from ..profile import ExecutionSettings, Profile
from .book import buy_slices, sell_slices, slices_count
from .order_amend import AMEND_PREFIX as AMEND_PREFIX
from .order_amend import Amended as Amended
from .order_records import LegPlan
from .order_send import OrderSender, leg_intent
from .order_send import client_order_id as client_order_id
from .own_orders import crosses_own, without_own_orders
from .risk import BasketCharge, RiskGate, order_collateral, order_cost
from .scan import close_ms


class OrderExecutor(OrderSender):
    """Executes candidates through one broker, one journal and one risk gate.

    It decides what to send (each leg's plan, size and intent, the risk gate over the whole
    basket, an unwind when a basket fails part way); :class:`OrderSender` sends it.
    """

    def __init__(
        self,
        profile: Profile,
        broker: Broker,
        journal: Journal,
        gate: RiskGate,
        books: Callable[[Sequence[str]], dict[str, Market]],
        *,
        stale: Callable[[str], bool] = lambda t: False,
        clock: Callable[[], float] = time.perf_counter,
        now_ms: Callable[[], int] | None = None,
    ) -> None:
        super().__init__(profile, broker, journal, gate, stale=stale, clock=clock)
        self.source_books = books
        #: the market's clock (sim time on the sim): quote expiries and the stop before a close use it;
        #: without one (a caller that never said) the wall clock dates quotes and no close is checked
        self.market_clock = now_ms is not None
        self.now_ms: Callable[[], int] = now_ms or (lambda: time.time_ns() // 1_000_000)
        #: the source's books include this account's resting orders (an exchange's do; the paper broker's source not)
        self.own_in_books = bool(getattr(broker, "books_include_own_orders", True))
        a = profile.analyze
        self._stop_ms = {
            "arbitrage": a.arbitrage.stop_before_close_seconds * 1000,
            "spread": a.spread.stop_before_close_seconds * 1000,
            "value": a.value.stop_before_close_seconds * 1000,
        }

    def books(self, tickers: Sequence[str]) -> dict[str, Market]:
        """Fresh books for ``tickers`` as this account can trade them: its own resting orders taken out."""
        books = self.source_books(tickers)
        own = [o for o in self.journal.orders(status=OrderStatus.RESTING) if o.ticker in books]
        if not own:
            return books
        return {t: without_own_orders(m, own, included=self.own_in_books) for t, m in books.items()}

    def execute_all(self, candidates: Iterable[Candidate]) -> Iterator[Order | Fill | Denied]:
        for c in candidates:
            yield from self.execute(c)

    # -- one candidate ------------------------------------------------------------------
    def execute(self, cand: Candidate) -> Iterator[Order | Fill | Denied]:
        """Plan, gate and send one candidate's legs, least liquid first; unwind a basket that fails part way."""
        o = cand.opportunity
        planned = self._plan(cand)
        if isinstance(planned, Denied):
            yield planned
            return
        plans, size = planned
        denial = _against_own_order(o, plans, self.journal.orders(status=OrderStatus.RESTING))
        if denial is not None:
            yield denial
            return
        plans.sort(key=lambda p: (p.available, p.index))  # least liquid first
        # gate every leg before sending any, the basket as a whole: its worst case against the daily
        # cap, the most cash it holds while its legs go out against the balance
        charge = _basket_charge(o, plans, size) if len(plans) > 1 else None
        denial = self._gate(o, plans, charge)
        if denial is not None:
            yield denial
            return
        if charge is not None:
            for k, p in enumerate(plans):  # the first leg sent carries the basket's charge
                p.charge = charge if k == 0 else BasketCharge(Money(0), Money(0))
        self._remember_trade(o, plans)
        yield from self._send_legs(cand, plans, charge)

    def _plan(self, cand: Candidate) -> tuple[list[LegPlan], Count] | Denied:
        """Every leg's plan and the size the books still offer (a quote's: the candidate's), or why not."""
        o = cand.opportunity
        books = self.books([leg.ticker for leg in o.legs])
        plans: list[LegPlan] = []
        now = self.now_ms()
        for i, leg in enumerate(o.legs):
            plan = self._leg_plan(o, i, leg, books.get(leg.ticker), cand.size, now)
            if isinstance(plan, Denied):
                return plan
            plans.append(plan)
        if o.maker:
            return plans, cand.size
        return self._size_takers(cand, plans)

    def _leg_plan(self, o: Opportunity, i: int, leg: Leg, m: Market | None, size: Count, now: int) -> LegPlan | Denied:
        """One leg on its fresh book: a quote, or the levels a taker walks within the slippage bound."""
        if m is None:
            return Denied(o.id, leg.ticker, "no-book", f"no current book for {leg.ticker}", o.strategy)
        closes = close_ms(m) if self.market_clock else None
        stop = self._stop_ms.get(o.strategy, 0)
        if closes is not None and 0 <= closes - now <= stop:
            return Denied(
                o.id,
                leg.ticker,
                "closing",
                f"{leg.ticker} closes at {m.close_time}, within the "
                f"{stop // 1000} s before its close when {o.strategy} opens nothing "
                f"(analyze.{o.strategy}.stop_before_close_seconds)",
                o.strategy,
            )
        if o.maker:
            side = to_book_side(leg.outcome, "buy", leg.price)[0]
            try:
                resting = self.broker.orders(ticker=leg.ticker, status=OrderStatus.RESTING)
            except KalashiError as e:
                return Denied(
                    o.id, leg.ticker, "exchange", f"cannot list resting orders on {leg.ticker}: {e}", o.strategy
                )
            if any(r.side == side for r in resting):
                return Denied(
                    o.id,
                    leg.ticker,
                    "already-quoting",
                    f"a quote on {leg.ticker} is already resting; not stacking another on the same side",
                    o.strategy,
                )
            return self._maker_plan(i, leg, m, size, o.id)
        return _taker_plan(o, i, leg, m, size, self.profile.execution)

    def _size_takers(self, cand: Candidate, plans: list[LegPlan]) -> tuple[list[LegPlan], Count] | Denied:
        """The size every taker leg can fill (in whole steps), each leg's intent at it; or why there is none."""
        o = cand.opportunity
        ex = self.profile.execution
        size = min([cand.size] + [p.available for p in plans])
        step = int(self.profile.sizing.min_count * COUNT_SCALE)
        size = Count(size // step * step)
        if size <= 0:
            return Denied(
                o.id,
                o.legs[0].ticker,
                "no-liquidity",
                f"the books no longer offer the size within the {ex.max_slippage_pct:.1%} slippage bound",
                o.strategy,
            )
        if o.strategy == "arbitrage":
            denial = _arbitrage_still_pays(o.id, plans, size, o.payout, cand.required_edge)
            if denial:
                return denial
        tif = ex.arbitrage_time_in_force if len(plans) > 1 else ex.taker_time_in_force
        for p in plans:
            p.intent = leg_intent(o.id, p.index, p.leg, p.limit, size, tif)
        return plans, size

    def _gate(self, o: Opportunity, plans: Sequence[LegPlan], charge: BasketCharge | None) -> Denied | None:
        """Pass every leg through the risk gate before any is sent; the first refusal, or None."""
        reclaimed = False
        k = 0
        while k < len(plans):
            p = plans[k]
            d = self.gate.check(
                p.intent,
                fee_type=p.market.fee_type,
                multiplier=p.market.fee_multiplier,
                stale=self.stale(p.leg.ticker),
                trading_active=self._active(),
                basket=charge,
            )
            if d and not reclaimed and o.riskless and d.rule in ("balance", "max-daily-cost"):
                # capital to the riskless trade first: our own quotes resting from earlier iterations
                # hold the cash (and the daily room) it needs — cancel them, oldest first, and look again
                reclaimed = True
                if self._reclaim(o, plans, charge):
                    k = 0
                    continue
            if d:
                return Denied(o.id, p.leg.ticker, d.rule, d.reason, o.strategy)
            k += 1
        return None

    def _send_legs(
        self, cand: Candidate, plans: Sequence[LegPlan], charge: BasketCharge | None
    ) -> Iterator[Order | Fill | Denied]:
        """Send the gated legs in order, stopping at the first that fails or fills short; unwind a basket then."""
        o = cand.opportunity
        filled: list[tuple[LegPlan, Count]] = []
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
            yield from self._unwind(
                [(p, n) for p, n in filled if n > 0],
                o.id,
                o.strategy,
                reason="a later leg of the basket failed or filled short",
            )

    # -- capital, the trade, quotes and unwinds ---------------------------------------
    def _reclaim(self, o: Opportunity, plans: Sequence[LegPlan], charge: BasketCharge | None) -> bool:
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
            self.journal.add_event(
                "reclaim",
                {
                    "opportunity_id": o.id,
                    "cancelled": cancelled,
                    "why": "a riskless trade needed the cash or daily room quotes held",
                },
            )
        return cancelled > 0

    def _fits(self, plans: Sequence[LegPlan], charge: BasketCharge | None) -> bool:
        return all(
            self.gate.check(p.intent, fee_type=p.market.fee_type, multiplier=p.market.fee_multiplier, basket=charge)
            is None
            for p in plans
        )

    def _remember_trade(self, o: Opportunity, plans: Sequence[LegPlan]) -> None:
        """Journal the trade the legs belong to (one P&L, one win or loss), and which markets net collateral."""
        self.journal.record_trade(
            TradeRow(o.id, o.strategy, o.event_ticker, len(o.legs), o.payout if o.riskless else Price(0), o.as_of_ms)
        )
        netted = _netted_markets(plans)
        if netted:
            self.journal.remember_markets(netted)

    def _maker_plan(self, i: int, leg: Leg, m: Market, size: Count, opp_id: str) -> LegPlan:
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
        intent = OrderIntent(
            client_order_id(opp_id, i, key),
            leg.ticker,
            side,
            yes_price,
            size,
            time_in_force="good_till_canceled",
            post_only=True,
            expiration_ts=expiry,
        )
        asks = m.asks(leg.outcome)
        return LegPlan(i, leg, m, intent, leg.price, asks[0][0] if asks else leg.price, size)

    def _unwind(
        self, filled: list[tuple[LegPlan, Count]], opp_id: str, strategy: str, reason: str
    ) -> Iterator[Order | Fill | Denied]:
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
            sale = _sell_back(p, n, books.get(p.leg.ticker), opp_id, ex)
            sold = 0
            why_open = sale if isinstance(sale, str) else ""
            if isinstance(sale, LegPlan):
                sold = (yield from self._send(sale, strategy, opp_id, None, purpose="unwind")) or 0
                if sold < n:
                    why_open = (
                        f"the unwind order filled {sold / COUNT_SCALE:g} of {n / COUNT_SCALE:g} within "
                        f"the {ex.max_slippage_pct:.1%} slippage bound"
                    )
            loss, leg = _unwound_leg(p, n, sold, sale if isinstance(sale, LegPlan) else None)
            total_loss += loss
            legs.append(leg)
            if sold < n:
                self.journal.add_event(
                    "unwind-short",
                    {
                        "opportunity_id": opp_id,
                        "ticker": p.leg.ticker,
                        "left_open": n - sold,
                        "reason": reason,
                        "why": why_open,
                    },
                    ticker=p.leg.ticker,
                )
                yield Denied(
                    opp_id,
                    p.leg.ticker,
                    "leg-left-open",
                    f"could not unwind {(n - sold) / COUNT_SCALE:g} contract(s) of {p.leg.ticker}: "
                    f"{why_open}; the position stays open and is recorded for `kalashi flatten`",
                    strategy,
                )
        self.journal.add_event(
            "unwind",
            {"opportunity_id": opp_id, "reason": reason, "legs": legs, "realized_loss": fmt_money(Money(total_loss))},
        )


def _basket_charge(o: Opportunity, plans: Sequence[LegPlan], size: Count) -> BasketCharge:
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
    return BasketCharge(
        daily=Money(max(0, sum(costs) - guaranteed)), cash=Money(peak), spend=Money(spent), credit=Money(credit)
    )


def _arbitrage_still_pays(
    opp_id: str, plans: list[LegPlan], size: Count, payout: Price, required: Money
) -> Denied | None:
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
        return Denied(
            opp_id,
            plans[0].leg.ticker,
            "edge-gone",
            f"at the current limit prices, with every "
            f"order's fee rounded up, {size / COUNT_SCALE:g} basket(s) earn {usd(Money(edge))} per basket, "
            f"below the required {usd(required)}",
            "arbitrage",
        )
    return None


def _outcome_money(p: LegPlan, fills: Sequence[ExchangeFill], *, buying: bool) -> Money:
    """Money paid for (buying) or received from (selling) ``fills`` of this leg's outcome, fees included."""
    total = 0
    for f in fills:
        price = from_book_side(f.side, f.price, p.leg.outcome)[1]
        total += price * f.count + (f.fee if buying else -f.fee)
    return Money(total)


def _taker_plan(o: Opportunity, i: int, leg: Leg, m: Market, size: Count, ex: ExecutionSettings) -> LegPlan | Denied:
    """A taker leg's plan: the book levels it walks at ``size`` inside the slippage bound (its intent comes once sized)."""
    asks = m.asks(leg.outcome)
    if not asks:
        return Denied(
            o.id,
            leg.ticker,
            "no-liquidity",
            f"nothing offered to buy {leg.outcome.upper()} {leg.ticker} any more",
            o.strategy,
        )
    best = asks[0][0]
    bound = min(ONE_DOLLAR - 1, int(best * (1 + ex.max_slippage_pct)))
    grid_bound = snap(Price(bound), m.price_ranges, up=False) or best
    slices = buy_slices(m, leg.outcome, size, max_price=grid_bound)
    avail = slices_count(slices)
    return LegPlan(
        i,
        leg,
        m,
        OrderIntent("", leg.ticker, "bid", Price(0), Count(0)),
        slices[-1][0] if slices else best,
        best,
        avail,
        slices=slices,
    )


def _against_own_order(o: Opportunity, plans: Sequence[LegPlan], own: Sequence[ExchangeOrder]) -> Denied | None:
    """Never a leg against our own order: self-trade prevention would cancel it (and on a book
    that shows our quote, it would be our own liquidity)."""
    for p in plans:
        mine = crosses_own(p.intent, own)
        if mine is not None:
            return Denied(
                o.id,
                p.leg.ticker,
                "own-order",
                f"this leg ({p.intent.side} at YES "
                f"{usd_price(p.intent.price)}) would trade against our own resting order "
                f"{mine.order_id} ({mine.side} at YES {usd_price(mine.price)}); our own orders are "
                "not liquidity",
                o.strategy,
            )
    return None


def _netted_markets(plans: Sequence[LegPlan]) -> list[tuple[str, str, str, str, str, str, bool]]:
    """The legs' mutually exclusive markets, as the journal remembers them (their collateral nets)."""
    return [
        (p.market.ticker, p.market.event_ticker, p.market.series_ticker, p.market.title, p.market.category, "", True)
        for p in plans
        if p.market.mutually_exclusive
    ]


def _sell_back(p: LegPlan, n: Count, m: Market | None, opp_id: str, ex: ExecutionSettings) -> LegPlan | str:
    """The reduce-only IOC order selling ``n`` of a leg back inside the slippage bound, or why there is none."""
    bids = m.bids(p.leg.outcome) if m is not None else ()
    if m is None or not bids:
        return f"nobody bids for {p.leg.outcome.upper()} {p.leg.ticker}"
    best = bids[0][0]
    floor = max(1, int(best * (1 - ex.max_slippage_pct)))
    floor = snap(Price(floor), m.price_ranges, up=True) or 1
    slices = sell_slices(m, p.leg.outcome, n, min_price=Price(floor))
    if not slices:
        return f"no bid within the {ex.max_slippage_pct:.1%} slippage bound"
    limit = slices[-1][0]
    intent = leg_intent(
        opp_id, p.index, p.leg, limit, n, "immediate_or_cancel", purpose="unwind", action="sell", reduce_only=True
    )
    return LegPlan(p.index, Leg(p.leg.ticker, p.leg.outcome, "sell", limit, n), m, intent, limit, best, n)


def _unwound_leg(p: LegPlan, n: Count, sold: int, sale: LegPlan | None) -> tuple[int, dict[str, object]]:
    """The realized loss of selling back ``sold`` of the ``n`` a leg bought, and its line in the ``unwind`` event.

    From the fills when we have them; the limit prices only when listing them failed.
    """
    unwind_fills = sale.fills if sale is not None else []
    entry_cost = _outcome_money(p, p.fills, buying=True) if p.fills else p.limit * n
    got = sum(f.count for f in p.fills) if p.fills else n
    proceeds = _outcome_money(p, unwind_fills, buying=False) if unwind_fills else (sale.limit if sale else 0) * sold
    loss = entry_cost * sold // max(1, got) - proceeds if sold else 0
    return loss, {
        "ticker": p.leg.ticker,
        "outcome": p.leg.outcome,
        "bought": n,
        "sold": sold,
        "left_open": n - sold,
        "entry_cost": fmt_money(Money(entry_cost)),
        "proceeds": fmt_money(Money(proceeds)),
        "realized_loss": fmt_money(Money(loss)),
    }
