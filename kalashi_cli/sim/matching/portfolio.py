"""Portfolio reads (Kalshi's GET /portfolio/… endpoints), book views and the invariant audit."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ...domain import Balance, ExchangeFill, ExchangeOrder, Level, Market, MarketPosition, Settlement
from ...errors import NotFound
from ...money import ONE_DOLLAR, Count, Money, Price, flip
from .orders import PENDING, RESTING
from .state import EngineState


@dataclass(frozen=True, slots=True)
class QueuePosition:
    order_id: str
    ticker: str
    ahead: Count  # contracts ahead of the order at its price (0 = next to fill)


class PortfolioReads(EngineState):
    """What an account (or a simulator server publishing books) can read."""

    def balance(self, account_id: str) -> Balance:
        """Return available cash (cash less the collateral of resting orders, plus collateral returned by
        netting) and positions' value at best bids."""
        self._sync()
        acc = self._account(account_id)
        value = 0
        for t, p in acc.positions.items():
            m = self._markets.get(t)
            if m is None or p.pos == 0:
                continue
            if p.pos > 0:
                best = m.bids.best()
                value += p.pos * (best or 0)
            else:
                best_ask = m.asks.best()
                value += -p.pos * (ONE_DOLLAR - best_ask if best_ask is not None else 0)
        return Balance(balance=Money(acc.cash - acc.reserved + self.netting_credit(acc)), portfolio_value=Money(value))

    def cash(self, account_id: str) -> Money:
        """Return total cash, including what resting orders hold as collateral."""
        return self._account(account_id).cash

    def reserved(self, account_id: str) -> Money:
        """Return the collateral resting orders hold."""
        return self._account(account_id).reserved

    def positions(
        self, account_id: str, *, ticker: str | None = None, event_ticker: str | None = None
    ) -> list[MarketPosition]:
        """Return positions in unsettled markets the account holds or has traded."""
        acc = self._account(account_id)
        out = []
        for t, p in acc.positions.items():
            if p.pos == 0 and p.volume == 0:
                continue
            if ticker is not None and t != ticker:
                continue
            if event_ticker is not None:
                m = self._markets.get(t)
                if m is None or m.event_ticker != event_ticker:
                    continue
            out.append(p.view())
        return out

    def orders(
        self, account_id: str, *, ticker: str | None = None, status: str | None = None, event_ticker: str | None = None
    ) -> list[ExchangeOrder]:
        """Return the account's orders, oldest first (in-flight orders are not listed)."""
        self._sync()
        acc = self._account(account_id)
        out = []
        for o in acc.orders.values():
            if o.status == PENDING or (status is not None and o.status != status):
                continue
            if ticker is not None and o.ticker != ticker:
                continue
            if event_ticker is not None:
                m = self._markets.get(o.ticker)
                if m is None or m.event_ticker != event_ticker:
                    continue
            out.append(o.view())
        return out

    def order(self, account_id: str, order_id: str) -> ExchangeOrder:
        """Return one order.

        Raises:
            NotFound: no such order for this account (or still in flight).
        """
        self._sync()
        o = self._order_of(self._account(account_id), order_id)
        if o.status == PENDING:
            raise NotFound(f"order {order_id} has not reached the exchange yet", status=404, code="not_found")
        return o.view()

    def order_by_client_id(self, account_id: str, client_order_id: str) -> ExchangeOrder:
        """Return the order sent with ``client_order_id`` (reconciliation after a lost answer).

        Raises:
            NotFound: no order carries that client_order_id.
        """
        acc = self._account(account_id)
        oid = acc.coids.get(client_order_id)
        if oid is None:
            raise NotFound(f"no order with client_order_id {client_order_id}", status=404, code="not_found")
        return self.order(account_id, oid)

    def fills(
        self, account_id: str, *, ticker: str | None = None, order_id: str | None = None, since_ms: int | None = None
    ) -> list[ExchangeFill]:
        """Return the account's fills, oldest first."""
        acc = self._account(account_id)
        return [
            f
            for f in acc.fills
            if (ticker is None or f.ticker == ticker)
            and (order_id is None or f.order_id == order_id)
            and (since_ms is None or f.ts_ms >= since_ms)
        ]

    def settlements(self, account_id: str, *, ticker: str | None = None) -> list[Settlement]:
        """Return the account's settlements, oldest first."""
        acc = self._account(account_id)
        return [s for s in acc.settlements if ticker is None or s.ticker == ticker]

    def queue_position(self, account_id: str, order_id: str) -> Count:
        """Return the contracts ahead of a resting order at its price (0 = it fills next).

        Raises:
            NotFound: unknown order, or not resting.
        """
        o = self._live(self._account(account_id), order_id)
        if not o.booked:
            raise NotFound(f"order {order_id} is not in the book", status=404, code="not_found")
        lvl = (self._markets[o.ticker].bids if o.is_bid else self._markets[o.ticker].asks).levels[o.price]
        ahead = o.ahead
        for mk in lvl.orders:
            if mk is o:
                break
            ahead = Count(ahead + mk.remaining)
        return ahead

    def queue_positions(self, account_id: str, *, tickers: Sequence[str] | None = None) -> list[QueuePosition]:
        """Return the queue position of every resting order (of these markets)."""
        acc = self._account(account_id)
        return [
            QueuePosition(o.order_id, o.ticker, self.queue_position(account_id, o.order_id))
            for o in acc.open.values()
            if o.booked and (tickers is None or o.ticker in tickers)
        ]

    def book(self, ticker: str) -> Market:
        """Return the combined book (external + resting account orders) as a domain Market."""
        return self._market(ticker).depth_market()

    def book_seq(self, ticker: str) -> int:
        """Return the seq of the last BookDelta of this market (snapshot then deltas after it)."""
        return self._market(ticker).seq

    def external_book(self, ticker: str) -> tuple[tuple[Level, ...], tuple[Level, ...]]:
        """Return market data's own book ``(yes_bids, no_bids)``, best first, as last applied."""
        m = self._market(ticker)
        return m.bids.external(), tuple((flip(p), s) for p, s in m.asks.external())

    def accounts(self) -> list[str]:
        return list(self._accounts)

    def external_position(self, ticker: str) -> Count:
        """Return the other participants' net position from trades with our accounts (+YES)."""
        p = self._external.positions.get(ticker)
        return p.pos if p else Count(0)

    def external_cash(self) -> Money:
        """Return the other participants' net cash from trades with our accounts."""
        return self._external.cash

    def resting_queue(self, ticker: str, side: str, price: Price) -> list[QueuePosition]:
        """Return the account orders resting at one price (``side`` bid/ask, YES price), in queue order."""
        m = self._market(ticker)
        lvl = (m.bids if side == "bid" else m.asks).levels.get(price)
        out: list[QueuePosition] = []
        if lvl is None:
            return out
        accounts_ahead = 0
        for o in lvl.orders:
            out.append(QueuePosition(o.order_id, ticker, Count(o.ahead + accounts_ahead)))
            accounts_ahead += o.remaining
        return out

    def audit(self) -> None:
        """Check the engine's internal invariants (books, queues, collateral, cash).

        Cheap enough for tests after every step and for a server's health check.

        Raises:
            RuntimeError: naming the first invariant that does not hold.
        """

        def bad(what: str) -> None:
            raise RuntimeError(f"engine invariant broken: {what}")

        for m in self._markets.values():
            for book in (m.bids, m.asks):
                if book.prices != sorted(set(book.prices)):
                    bad(f"{m.ticker}: price list not sorted/unique")
                n = 0
                for p, lvl in book.levels.items():
                    eff = lvl.real - lvl.consumed
                    if not 0 <= lvl.consumed <= lvl.real:
                        bad(f"{m.ticker}@{p}: consumed {lvl.consumed} outside 0..{lvl.real}")
                    listed = eff > 0 or bool(lvl.orders)
                    if listed != lvl.listed or listed != (p in book.prices):
                        bad(f"{m.ticker}@{p}: listing out of step")
                    prev = 0
                    for o in lvl.orders:
                        n += 1
                        if o.status != RESTING or not o.booked or o.price != p or o.is_bid != book.is_bid:
                            bad(f"order {o.order_id} misplaced in {m.ticker}@{p}")
                        if o.remaining <= 0 or o.reserved_units != o.remaining:
                            bad(f"order {o.order_id}: remaining {o.remaining}, reserved {o.reserved_units}")
                        if not prev <= o.ahead <= eff:
                            bad(f"order {o.order_id}: queue_ahead {o.ahead} outside {prev}..{eff}")
                        prev = o.ahead
                for p in book.prices:
                    if p not in book.levels:
                        bad(f"{m.ticker}@{p}: listed price without a level")
                if n != book.n_orders:
                    bad(f"{m.ticker}: {n} booked orders, counted {book.n_orders}")
        for acc in self._accounts.values():
            total = 0
            for pos in acc.positions.values():
                if pos.req != pos.requirement():
                    bad(f"{acc.account_id}/{pos.ticker}: stale collateral")
                total += pos.req
            if total != acc.reserved:
                bad(f"{acc.account_id}: reserved {acc.reserved} ≠ Σ requirements {total}")
            credit = self.netting_credit(acc)
            if acc.cash + credit < 0 or acc.cash + credit < acc.reserved:
                bad(f"{acc.account_id}: cash {acc.cash} (+ netting credit {credit}) below reserved {acc.reserved}")
            sums: dict[tuple[str, bool], list[int]] = {}
            for o in acc.open.values():
                if o.status != RESTING or not o.booked:
                    bad(f"order {o.order_id} listed open but {o.status}")
                agg = sums.setdefault((o.ticker, o.is_bid), [0, 0, 0, 0])
                r = o.reserved_units
                agg[0] += o.unit_cost * r
                agg[1] += r
                agg[2] += o.unit_fee * r
                agg[3] += o.unit_neg * r
            for pos in acc.positions.values():
                for is_bid, have in (
                    (True, [pos.b_cost, pos.b_cnt, pos.b_fee, pos.b_neg]),
                    (False, [pos.a_cost, pos.a_cnt, pos.a_fee, pos.a_neg]),
                ):
                    if have != sums.get((pos.ticker, is_bid), [0, 0, 0, 0]):
                        bad(f"{acc.account_id}/{pos.ticker}: collateral sums differ from open orders")
            for o in acc.orders.values():
                if o.filled + o.remaining > o.initial or o.remaining < 0:
                    bad(f"order {o.order_id}: filled {o.filled} + remaining {o.remaining} > {o.initial}")
