"""An order arriving at the book: the arrival checks, its collateral and the taker walk."""

from __future__ import annotations

from ...errors import ExchangeError, NotFound
from ...money import ONE_DOLLAR, Count, Money, Price
from .accounts import Account, Position
from .book import Level, MarketBook, SideBook
from .events import OrderFailed
from .orders import EXECUTED, FOK_UNFILLABLE, IOC_REMAINDER, POST_ONLY_CROSS, SELF_TRADE, BookOrder
from .state import EngineState, reject


class Taker(EngineState):
    """What happens when an order reaches the exchange: checked, collateralised, matched, rested or cancelled.

    Amend reuses the walk for a repriced order (:class:`~.changes.OrderChanges`).
    """

    # -- arrival ----------------------------------------------------------------------------
    def _arrive(self, o: BookOrder) -> None:
        """Run an order that reached the exchange; remember the answer."""
        try:
            self._execute(o)
        except ExchangeError as e:
            acc = self._accounts[o.account_id]
            acc.orders.pop(o.order_id, None)
            if acc.coids.get(o.client_order_id) == o.order_id:
                del acc.coids[o.client_order_id]
            self._orders.pop(o.order_id, None)
            self._results[o.order_id] = (o.account_id, e)
            if self._sinks:
                self._emit(
                    OrderFailed(o.account_id, o.order_id, o.client_order_id, e.code or "", e.message, self.now_ms)
                )
        else:
            self._results[o.order_id] = (o.account_id, o.ack(self.now_ms))

    def _execute(self, o: BookOrder) -> None:
        """Check, collateralise, match and rest (or cancel the rest of) a new order."""
        m = self._markets[o.ticker]
        acc = self._accounts[o.account_id]
        if m.status != "active":
            raise reject("market_inactive", f"market {m.ticker} is {m.status}; it takes no orders")
        if o.group_id is not None:
            g = acc.groups.get(o.group_id)
            if g is None or g.deleted:
                raise NotFound(f"order group {o.group_id} not found", status=404, code="order_group_not_found")
            if g.triggered:
                raise reject(
                    "order_group_triggered",
                    f"order group {o.group_id} hit its limit",
                    hint="reset the order group to place orders in it again",
                )
        if o.expiration_ms is not None and o.expiration_ms <= self.now_ms:
            raise reject("invalid_order", "expiration_time has passed")
        pos = self._holder_position(acc, m)
        if o.reduce_only:
            room = -pos.pos if o.is_bid else pos.pos
            if room <= 0:
                raise reject("invalid_order", "reduce_only order has no position to reduce")
            if o.remaining > room:
                o.remaining = Count(room)
        if len(acc.open) >= self.max_open_orders and o.tif == "good_till_canceled":
            raise reject("too_many_open_orders", f"at most {self.max_open_orders} open orders")
        self._set_units(m, o)
        before, req_before = acc.reserved, pos.req
        pos.reserve(o, o.remaining)
        acc.reserved = Money(acc.reserved + pos.refresh())
        if (
            acc.cash < acc.reserved
            and acc.cash + self.netting_credit(acc) < acc.reserved
            and not (
                o.tif == "fill_or_kill" and m.netted and self._netted_fits(acc, m, o, pos, Money(before - req_before))
            )
        ):
            need = acc.reserved - acc.cash - self.netting_credit(acc)
            pos.release(o, o.reserved_units)
            acc.reserved = Money(acc.reserved + pos.refresh())
            raise reject(
                "available_balance_too_low",
                f"available balance too low: this order needs {need} micro-dollars more",
                hint="lower the size or add balance",
            )
        opp = m.asks if o.is_bid else m.bids
        if o.post_only:
            best = opp.best()
            if best is not None and (best <= o.price if o.is_bid else best >= o.price):
                self._cancel(m, o, POST_ONLY_CROSS)
                return
        if o.tif == "fill_or_kill" and self._fillable(o, opp) < o.remaining:
            self._cancel(m, o, FOK_UNFILLABLE)
            return
        stopped = self._take(m, o, opp)
        self._settle_taker(m, o, stopped)

    def _netted_fits(self, acc: Account, m: MarketBook, o: BookOrder, pos: Position, others: Money) -> bool:
        """Whether a fill-or-kill in a netted event leaves cash + credit covering the rest once it has filled.

        Filled at its limit with the most fee it can pay (``others``: what the account's other
        markets hold; this market's other orders are re-costed at the new position).
        """
        n = o.remaining
        close = min(n, max(0, -pos.pos)) if o.is_bid else min(n, max(0, pos.pos))
        cash = acc.cash + ONE_DOLLAR * close - (o.unit_cost + o.unit_fee) * n
        after = Count(pos.pos + (n if o.is_bid else -n))
        pos.release(o, o.reserved_units)  # this market's other orders, at the position after the fill
        held = others + pos.requirement(after)
        pos.reserve(o, o.remaining)
        return cash + self.netting_credit(acc, (m.ticker, after)) >= held

    def _settle_taker(self, m: MarketBook, o: BookOrder, stopped: bool) -> None:
        """Decide what happens to a taker after its walk: executed, resting or cancelled."""
        if o.remaining == 0:
            self._accounts[o.account_id].open.pop(o.order_id, None)  # an amended order may have rested
            o.move(EXECUTED, self.now_ms)
            self._order_event(o)
        elif stopped:
            self._cancel(m, o, SELF_TRADE)
        elif o.tif == "good_till_canceled":
            self._book(m, o)
            self._order_event(o)
        else:
            self._cancel(m, o, IOC_REMAINDER if o.tif == "immediate_or_cancel" else FOK_UNFILLABLE)

    def _fillable(self, o: BookOrder, opp: SideBook) -> Count:
        """Contracts other participants offer at or through ``o``'s limit (own orders never fill it)."""
        need, total = o.remaining, 0
        prices = opp.prices if not opp.is_bid else reversed(opp.prices)
        for p in prices:
            if (p > o.price) if o.is_bid else (p < o.price):
                break
            lvl = opp.levels[p]
            total += lvl.real - lvl.consumed
            for mk in lvl.orders:
                if mk.account_id != o.account_id:
                    total += mk.remaining
            if total >= need:
                break
        return Count(total)

    # -- the taker walk ---------------------------------------------------------------------
    def _take(self, m: MarketBook, o: BookOrder, opp: SideBook) -> bool:
        """Walk the opposite side while it crosses ``o``'s limit; return True if STP stopped it."""
        prices = opp.prices
        limit = o.price
        while o.remaining > 0 and prices:
            p = prices[0] if o.is_bid else prices[-1]
            if (p > limit) if o.is_bid else (p < limit):
                break
            before = o.remaining
            lvl = opp.levels[p]
            if self._take_level(m, o, opp, lvl):
                return True
            if o.remaining == before and lvl.listed:
                break  # defensive: a level that gave nothing must not spin
        return False

    def _take_level(self, m: MarketBook, o: BookOrder, book: SideBook, lvl: Level) -> bool:
        """Take from one level's merged queue: external gaps and account orders in arrival order."""
        p = lvl.price
        used = 0  # external contracts taken here
        change = 0  # combined size change at this level
        stopped = False
        reached_end = True
        if lvl.orders:
            for mk in list(lvl.orders):
                gap = mk.ahead - used
                if gap > 0:
                    k = gap if gap < o.remaining else o.remaining
                    self._match_external(m, o, p, Count(k))
                    used += k
                    if o.remaining == 0:
                        reached_end = False
                        break
                if mk.account_id == o.account_id:
                    if o.stp == "maker":  # the resting maker is cancelled, matching goes on
                        change -= mk.remaining
                        self._cancel(m, mk, SELF_TRADE, quiet_book=True)
                        continue
                    stopped = True  # taker_at_cross: the taker is cancelled at the cross
                    reached_end = False
                    break
                k = mk.remaining if mk.remaining < o.remaining else o.remaining
                change -= k
                self._match_accounts(m, o, mk, book, lvl, p, k)
                if o.remaining == 0:
                    reached_end = False
                    break
        if reached_end and o.remaining > 0:
            tail = lvl.real - lvl.consumed - used
            if tail > 0:
                k = tail if tail < o.remaining else o.remaining
                self._match_external(m, o, p, Count(k))
                used += k
        if used:
            # taken external liquidity stays taken until market data changes this level
            lvl.consumed = Count(lvl.consumed + used)
            change -= used
            for mk in lvl.orders:
                mk.ahead = Count(mk.ahead - used if mk.ahead > used else Count(0))
        if change:
            self._book_delta(m, book, p, Count(change))
        book.relist(lvl)
        return stopped

    def _match_external(self, m: MarketBook, o: BookOrder, price: Price, k: Count) -> None:
        """Account taker ``o`` trades ``k`` against external liquidity at ``price``."""
        tid = self._new_id("trd")
        self._fill(m, o, price, k, True, tid)
        self._external_fill(m, not o.is_bid, price, k)
        self._print(m, tid, price, k, o.is_bid)

    def _match_accounts(
        self, m: MarketBook, o: BookOrder, mk: BookOrder, book: SideBook, lvl: Level, price: Price, k: Count
    ) -> None:
        """Account taker ``o`` trades ``k`` against resting account order ``mk``."""
        tid = self._new_id("trd")
        self._fill(m, o, price, k, True, tid)
        self._fill(m, mk, price, k, False, tid)
        self._maker_done(book, lvl, mk)
        self._print(m, tid, price, k, o.is_bid)
