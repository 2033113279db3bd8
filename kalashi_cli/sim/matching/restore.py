"""Rebuilding accounts from a journal after a restart (the paper broker's SQLite ledger)."""

from __future__ import annotations

import re
from collections.abc import Iterable

from ...domain import ExchangeFill, ExchangeOrder, OrderIntent, Settlement
from ...ledger import in_time_order
from ...money import ONE_DOLLAR, Count, Money, Price
from .accounts import Account
from .orders import CANCELED, EXECUTED, MARKET_CLOSED, RESTING, BookOrder
from .state import EngineState


class Restore(EngineState):
    """``restore_account``: fold a fill ledger back into an account and re-book its resting orders."""

    def restore_account(
        self,
        account_id: str,
        *,
        deposits: Money,
        fills: Iterable[ExchangeFill] = (),
        settlements: Iterable[Settlement] = (),
        orders: Iterable[tuple[OrderIntent | None, ExchangeOrder]] = (),
    ) -> None:
        """Rebuild an account from a journal: its deposits, fill ledger, settlements and orders.

        Cash and positions are the fold of ``fills`` and ``settlements`` in time order (same
        rules as ``ledger.fold``). Orders whose status is ``resting`` go back into the book at
        the **back** of their price level (queue priority is not persisted); the others are
        kept for the orders listing. ``OrderIntent`` (may be None) restores flags the order
        listing lacks: self-trade prevention, expiry, post-only, cancel-on-pause.

        Raises:
            Conflict: the account exists.
            NotFound: a resting order's market is not listed.
        """
        acc = self._open_account(account_id, deposits)
        for _, ev in in_time_order(fills, settlements):
            if isinstance(ev, ExchangeFill):
                self._restore_fill(acc, ev)
            else:
                self._restore_settlement(acc, ev)
        for intent, eo in orders:
            self._restore_order(acc, intent, eo)
        self._bump_ids()

    def _restore_fill(self, acc: Account, f: ExchangeFill) -> None:
        pos = acc.positions.get(f.ticker)
        if pos is None:
            pos = acc.position(f.ticker)
            m = self._markets.get(f.ticker)
            if m is not None:
                m.holders.add(acc.account_id)
        acc.cash = Money(acc.cash + pos.apply_fill(f.side == "bid", f.price, f.count, f.fee))
        pos.updated_ms = f.ts_ms
        acc.fills.append(f)
        self.fees_collected = Money(self.fees_collected + f.fee)
        ext = self._external.position(f.ticker)
        self._external.cash = Money(self._external.cash + ext.apply_fill(f.side != "bid", f.price, f.count, Money(0)))

    def _restore_settlement(self, acc: Account, s: Settlement) -> None:
        acc.settlements.append(s)
        pos = acc.positions.pop(s.ticker, None)
        if pos is None or pos.pos == 0:
            return
        v = s.value if s.value is not None else (ONE_DOLLAR if s.result == "yes" else 0)
        held = pos.pos
        acc.cash = Money(acc.cash + pos.settle(Price(v)))
        ext = self._external.positions.get(s.ticker)
        if ext is not None:  # the counterparties' mirror of this account's contracts settles too
            pay = -held * v if held < 0 else held * (ONE_DOLLAR - v)
            self._external.cash = Money(self._external.cash + pay)
            ext.pos = Count(ext.pos + held)
            if ext.pos == 0:
                ext.cost = Money(0)

    def _restore_order(self, acc: Account, intent: OrderIntent | None, eo: ExchangeOrder) -> None:
        o = BookOrder(
            eo.order_id,
            eo.client_order_id,
            acc.account_id,
            eo.ticker,
            eo.side == "bid",
            eo.price,
            eo.initial_count,
            tif=eo.time_in_force or (intent.time_in_force if intent else "good_till_canceled"),
            stp=intent.self_trade_prevention_type if intent else "taker_at_cross",
            post_only=intent.post_only if intent else False,
            reduce_only=False,
            expiration_ms=intent.expiration_ts * 1000 if intent and intent.expiration_ts else None,
            group_id=None,
            cancel_on_pause=intent.cancel_order_on_pause if intent else False,
            now_ms=eo.created_ts_ms,
        )
        o.filled = eo.fill_count
        o.remaining = eo.remaining_count
        o.taker_fees, o.maker_fees = eo.taker_fees, eo.maker_fees
        o.taker_cost, o.maker_cost = eo.taker_fill_cost, eo.maker_fill_cost
        o.fill_value = Money(sum(f.price * f.count for f in acc.fills if f.order_id == eo.order_id))
        self._orders[o.order_id] = o
        acc.orders[o.order_id] = o
        if o.client_order_id:
            acc.coids[o.client_order_id] = o.order_id
        if eo.status != RESTING or o.remaining <= 0:
            o.status = EXECUTED if eo.status == EXECUTED else CANCELED
            return
        m = self._market(eo.ticker)
        if m.status != "active" or (o.expiration_ms is not None and o.expiration_ms <= self.now_ms):
            o.move(CANCELED, self.now_ms, MARKET_CLOSED if m.status != "active" else "Expired")
            return
        self._set_units(m, o)
        pos = self._holder_position(acc, m)
        pos.reserve(o, o.remaining)
        acc.reserved = Money(acc.reserved + pos.refresh())
        self._book(m, o)

    def _bump_ids(self) -> None:
        pat = re.compile(rf"^{re.escape(self.id_prefix)}(ord|trd|grp)-(\d+)$")
        for acc in self._accounts.values():
            for oid in acc.orders:
                mt = pat.match(oid)
                if mt:
                    self._ids["ord"] = max(self._ids["ord"], int(mt.group(2)))
            for f in acc.fills:
                mt = pat.match(f.fill_id)
                if mt:
                    self._ids["trd"] = max(self._ids["trd"], int(mt.group(2)))
