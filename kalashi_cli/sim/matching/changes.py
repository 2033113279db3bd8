"""Changing live orders: cancel (one, all, a batch), decrease and amend (Kalshi V2 semantics)."""

from __future__ import annotations

from collections.abc import Sequence
from heapq import heappush

from ...domain import OrderAck
from ...errors import Conflict, ExchangeError, NotFound
from ...money import ONE_DOLLAR, Count, Money, Price, on_grid
from .accounts import Account
from .book import MarketBook
from .orders import DECREASED, PENDING, POST_ONLY_CROSS, RESTING, USER_CANCELED, BookOrder
from .state import reject
from .taker import Taker


class OrderChanges(Taker):
    """Cancel, decrease and amend an account's resting (or, for cancels, in-flight) orders.

    Built on :class:`~.taker.Taker`: an amend that moves the price may cross and trade.
    """

    def cancel(self, account_id: str, order_id: str) -> Count:
        """Cancel a resting (or still in-flight) order; return the count removed (``reduced_by``).

        Raises:
            NotFound: unknown order, or it is executed or canceled already.
        """
        self._sync()
        acc = self._account(account_id)
        o = self._live(acc, order_id)
        n = self._cancel(self._markets[o.ticker], o, USER_CANCELED)
        self._finish()
        return n

    def cancel_all(self, account_id: str, *, ticker: str | None = None) -> list[str]:
        """Cancel every resting and in-flight order (of one market, if given); return their ids."""
        self._sync()
        acc = self._account(account_id)
        out = []
        for o in list(acc.orders.values()):
            if o.status in (RESTING, PENDING) and (ticker is None or o.ticker == ticker):
                self._cancel(self._markets[o.ticker], o, USER_CANCELED)
                out.append(o.order_id)
        self._finish()
        return out

    def batch_cancel(self, account_id: str, order_ids: Sequence[str]) -> list[Count | ExchangeError]:
        """Cancel several orders; each gets its ``reduced_by`` or its error."""
        out: list[Count | ExchangeError] = []
        for oid in order_ids:
            try:
                out.append(self.cancel(account_id, oid))
            except ExchangeError as e:
                out.append(e)
        return out

    def decrease(
        self, account_id: str, order_id: str, *, reduce_by: Count | None = None, reduce_to: Count | None = None
    ) -> Count:
        """Shrink a resting order, keeping its queue priority; return the remaining count.

        Exactly one of ``reduce_by`` / ``reduce_to``; reaching 0 cancels the order.

        Raises:
            OrderRejected: both or neither given (``invalid_order``), or a bad size.
            NotFound: unknown or finished order.
        """
        self._sync()
        if (reduce_by is None) == (reduce_to is None):
            raise reject("invalid_order", "give exactly one of reduce_by and reduce_to")
        acc = self._account(account_id)
        o = self._live(acc, order_id)
        if reduce_by is not None:
            if reduce_by <= 0:
                raise reject("invalid_order_size", "reduce_by must be positive")
            new = o.remaining - reduce_by
        else:
            assert reduce_to is not None
            if reduce_to < 0 or reduce_to > o.remaining:
                raise reject("invalid_order_size", "reduce_to must be between 0 and the remaining count")
            new = reduce_to
        m = self._markets[o.ticker]
        if new <= 0:
            self._cancel(m, o, DECREASED)
            new = 0
        elif new < o.remaining:
            self._shrink(m, o, Count(o.remaining - new))
            self._order_event(o)
        self._finish()
        return Count(new)

    def amend(
        self,
        account_id: str,
        order_id: str,
        *,
        ticker: str,
        side: str,
        price: Price,
        count: Count,
        client_order_id: str | None = None,
        updated_client_order_id: str | None = None,
        expiration_ts: int | None = None,
    ) -> OrderAck:
        """Change a resting order's price and/or size (V2 amend).

        ``count`` is the new TOTAL: already filled + desired remaining. A price change or a
        size increase sends the order to the back of the queue (a new price may also cross
        and trade); a size decrease keeps its place. ``expiration_ts``: None keeps it, 0
        removes it, otherwise a new Unix-seconds expiry.

        Raises:
            NotFound: unknown or finished order.
            OrderRejected: ``order_ticker_mismatch``, ``order_side_mismatch``,
                ``order_id_and_client_order_id_mismatch``, ``invalid_price``,
                ``invalid_order_size``, ``market_inactive``, ``available_balance_too_low``.
            Conflict: ``updated_client_order_id`` was used before.
        """
        self._sync()
        acc = self._account(account_id)
        o = self._live(acc, order_id)
        if o.status == PENDING:
            raise NotFound(f"order {order_id} has not reached the book yet", status=404, code="not_found")
        if ticker != o.ticker:
            raise reject("order_ticker_mismatch", f"order {order_id} is in {o.ticker}, not {ticker}")
        if side != o.side:
            raise reject("order_side_mismatch", f"order {order_id} is a {o.side}, not a {side}")
        if client_order_id is not None and client_order_id != o.client_order_id:
            raise reject(
                "order_id_and_client_order_id_mismatch",
                f"client_order_id {client_order_id} does not belong to order {order_id}",
            )
        m = self._markets[o.ticker]
        if m.status != "active":
            raise reject("market_inactive", f"market {m.ticker} is {m.status}")
        if not on_grid(price, m.price_ranges):
            raise reject("invalid_price", f"price {price / ONE_DOLLAR:.4f} is not on {m.ticker}'s tick grid")
        new_rem = count - o.filled
        if new_rem <= 0:
            raise reject("invalid_order_size", "count is the new total and must exceed the filled count")
        if (
            updated_client_order_id
            and updated_client_order_id != o.client_order_id
            and updated_client_order_id in acc.coids
        ):
            raise Conflict(
                f"client_order_id {updated_client_order_id} was already used", status=409, code="order_already_exists"
            )
        if expiration_ts and expiration_ts * 1000 <= self.now_ms:
            raise reject("invalid_order", "expiration_time must be in the future")
        repriced = price != o.price
        grown = new_rem > o.remaining
        if repriced or grown:
            self._requeue(acc, m, o, price, Count(new_rem))
        else:
            if new_rem < o.remaining:
                self._shrink(m, o, Count(o.remaining - new_rem))
        o.initial = count
        if updated_client_order_id and updated_client_order_id != o.client_order_id:
            acc.coids[updated_client_order_id] = o.order_id
            o.client_order_id = updated_client_order_id
        if expiration_ts is not None:
            o.expiration_ms = expiration_ts * 1000 if expiration_ts else None
        if repriced:
            opp = m.asks if o.is_bid else m.bids
            best = opp.best()
            if o.post_only and best is not None and (best <= price if o.is_bid else best >= price):
                self._cancel(m, o, POST_ONLY_CROSS)
            else:
                self._settle_taker(m, o, self._take(m, o, opp))
        elif grown:
            self._book(m, o)
            self._order_event(o)
        else:
            o.move(RESTING, self.now_ms)
            if expiration_ts:
                self._tie += 1
                assert o.expiration_ms is not None
                heappush(self._expiries, (o.expiration_ms, self._tie, o))
            self._order_event(o)
        self._finish()
        return o.ack(self.now_ms)

    def _requeue(self, acc: Account, m: MarketBook, o: BookOrder, price: Price, new_rem: Count) -> None:
        """Collateralise ``o`` at its amended price and size (all or nothing), then take it out of its queue.

        Raises:
            OrderRejected: ``available_balance_too_low`` (the order is left as it was).
        """
        pos = self._holder_position(acc, m)
        old = (o.price, o.unit_cost, o.unit_fee, o.unit_neg, o.reserved_units)
        pos.release(o, o.reserved_units)
        o.price = price
        self._set_units(m, o)
        pos.reserve(o, new_rem)
        acc.reserved = Money(acc.reserved + pos.refresh())
        if acc.cash < acc.reserved and acc.cash + self.netting_credit(acc) < acc.reserved:
            pos.release(o, o.reserved_units)
            o.price, o.unit_cost, o.unit_fee, o.unit_neg = old[0], old[1], old[2], old[3]
            pos.reserve(o, old[4])
            acc.reserved = Money(acc.reserved + pos.refresh())
            raise reject("available_balance_too_low", "available balance too low for the amended order")
        o.price = old[0]
        self._unbook(m, o)
        o.price = price
        o.remaining = new_rem
