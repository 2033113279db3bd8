"""The order commands: place, amend, decrease and cancel orders, every order through the one risk gate."""

from __future__ import annotations

import time
from typing import Any

from ..domain import Leg, Market, OrderIntent, OrderStatus, to_book_side
from ..errors import ConsentError, KalashiError, NotFound, RiskDenied, UsageError
from ..money import COUNT_SCALE, ONE_DOLLAR, Count, Price, fmt_count, fmt_price, on_grid, parse_count, parse_price
from ..ports import OrderDesk
from ..records import encode
from ..stages.correlate import Grouper
from ..stages.order import OrderExecutor, client_order_id
from ..stages.risk import Denial, RiskGate, evaluate_state
from .account import Account
from .views import order_view

#: orders cancelled per request by cancel_all_orders (Kalshi's batch limit)
CANCEL_BATCH = 20


def _order_terms(
    outcome: str, action: str, price: str, count: str, *, time_in_force: str, reduce_only: bool
) -> tuple[Price, Count]:
    """A new order's price and count, after the checks that need no market, in this order. Raises: UsageError."""
    if outcome not in ("yes", "no") or action not in ("buy", "sell"):
        raise UsageError("outcome must be yes|no and action buy|sell")
    if time_in_force not in ("good_till_canceled", "immediate_or_cancel", "fill_or_kill"):
        raise UsageError("time_in_force must be good_till_canceled, immediate_or_cancel or fill_or_kill")
    if reduce_only and time_in_force != "immediate_or_cancel":
        raise UsageError(
            "a reduce_only order must be immediate_or_cancel (Kalshi's rule)",
            hint="pass time_in_force immediate_or_cancel, or drop reduce_only",
        )
    try:
        p = parse_price(price)
        n = parse_count(count)
    except ValueError as e:
        raise UsageError(f"bad price or count: {e}", hint="price as dollars like 0.45, count like 10") from None
    if not 0 < p < ONE_DOLLAR or n <= 0:
        raise UsageError("price must be strictly between 0 and 1 and count positive")
    return p, n


class OrderCommands:
    """Every write to the account's orders, as the CLI's ``kalashi order`` makes them.

    An order or an amend passes the risk gate over the account as it stands now and is journaled
    before it is sent; decreases and cancels only lower risk and are always allowed. Each command
    holds the account's lock and marks the dashboard's metrics stale; its records go to the
    account's listeners.
    """

    def __init__(self, account: Account) -> None:
        self.account = account
        self._lock = account.lock
        self.journal = account.journal
        self.source = account.source
        self.broker = account.broker
        self.loop = account.loop

    def create_order(
        self,
        ticker: str,
        outcome: str,
        action: str,
        count: str,
        price: str,
        *,
        time_in_force: str = "immediate_or_cancel",
        post_only: bool = False,
        reduce_only: bool = False,
        client_order_id_: str | None = None,
    ) -> list[dict[str, Any]]:
        """Place one order through the risk gate; return its order/fill/denied records.

        Raises:
            UsageError: bad arguments (outcome, action, price off grid …).
            ConsentError: trading is not allowed on this server.
            RiskDenied: the gate refused (the record explains why).
        """
        self._require_trading()
        p, n = _order_terms(outcome, action, price, count, time_in_force=time_in_force, reduce_only=reduce_only)
        with self._lock:
            m = self.source.books([ticker]).get(ticker)
            if m is None:
                raise NotFound(f"no market {ticker}")
            if n % COUNT_SCALE and not m.fractional_trading:
                raise UsageError(
                    f"{ticker} does not trade fractional contracts: count {fmt_count(n)} must be a whole number",
                    hint="round the count yourself; kalashi never rounds an order",
                )
            side, yes_price = to_book_side(outcome, action, p)  # type: ignore[arg-type]
            if not on_grid(yes_price, m.price_ranges):
                raise UsageError(
                    f"price {price} is not on {ticker}'s tick grid",
                    hint=f"valid steps: {[b.to_wire() for b in m.price_ranges]}",
                )
            bucket = int(time.time() // 60)
            coid = client_order_id_ or client_order_id(
                f"manual-{bucket}", 0, f"{ticker}:{side}:{yes_price}:{n}:{time_in_force}", "manual"
            )
            intent = OrderIntent(
                coid,
                ticker,
                side,
                yes_price,
                n,
                time_in_force=time_in_force,  # type: ignore[arg-type]
                post_only=post_only,
                reduce_only=reduce_only,
            )
            ex, gate = self._executor()
            # an agent's order did not pass correlate: the gate applies its concentration caps, and
            # the market's group is remembered so later exposure is counted where it belongs
            group = Grouper(self.account.profile).group(m.category, m.series_ticker, m.ticker)
            self.journal.remember_markets([(ticker, m.event_ticker, m.series_ticker, m.title, m.category, group)])
            d = gate.check(
                intent,
                fee_type=m.fee_type,
                multiplier=m.fee_multiplier,
                trading_active=self.broker.trading_active(),
                concentration=(m.event_ticker, group),
            )
            if d:
                raise self._denied(coid, ticker, d)
            asks = m.asks(outcome) if action == "buy" else m.bids(outcome)  # type: ignore[arg-type]
            leg = Leg(ticker, outcome, action, p, n)  # type: ignore[arg-type]
            outputs, _ = ex.send(
                intent, leg, m, reference=asks[0][0] if asks else p, strategy="manual", ref=coid, purpose="manual"
            )
            recs = [encode(o) for o in outputs]
            self.journal.add_records(recs)
            self.account.metrics_stale = True
        for r in recs:
            self.account.on_record(r)
        return recs

    def _denied(self, coid: str, ticker: str, d: Denial) -> RiskDenied:
        """Journal and publish the gate's refusal of a new order; return the error to raise (call under the lock)."""
        rec = {
            "kind": "denied",
            "v": 1,
            "ref": coid,
            "ticker": ticker,
            "rule": d.rule,
            "code": d.rule,
            "reason": d.reason,
            "strategy": "manual",
        }
        self.journal.add_records([rec])
        self.account.publish(rec)
        return RiskDenied(f"risk gate refused the order: {d.reason}", hint=f"rule '{d.rule}'")

    def _require_trading(self) -> None:
        if not self.account.allow_trading:
            raise ConsentError(
                f"this server does not accept orders in {self.account.mode} mode",
                hint="start it with --allow-trading (and live consent for real money)",
            )

    def _price_on_grid(self, price: str, m: Market) -> int:
        """A YES price as written, strictly between 0 and 1 and on the market's tick grid. Raises: UsageError."""
        try:
            p = parse_price(price)
        except ValueError as e:
            raise UsageError(f"bad price: {e}", hint="dollars like 0.45") from None
        if not 0 < p < ONE_DOLLAR:
            raise UsageError("price must be strictly between 0 and 1")
        if not on_grid(p, m.price_ranges):
            raise UsageError(
                f"price {price} is not on {m.ticker}'s tick grid",
                hint=f"valid steps: {[b.to_wire() for b in m.price_ranges]}",
            )
        return p

    def _count_for(self, count: str, m: Market) -> int:
        """A positive count as written, whole on a market without fractional trading. Raises: UsageError."""
        try:
            n = parse_count(count)
        except ValueError as e:
            raise UsageError(f"bad count: {e}", hint="contracts like 10 or 2.50") from None
        if n <= 0:
            raise UsageError("count must be positive")
        if n % COUNT_SCALE and not m.fractional_trading:
            raise UsageError(
                f"{m.ticker} does not trade fractional contracts: count {fmt_count(n)} must be a whole number",
                hint="round the count yourself; kalashi never rounds an order",
            )
        return n

    def _executor(self) -> tuple[OrderExecutor, RiskGate]:
        """The order executor over a gate that knows the account now (call under the lock)."""
        pf = self.loop.portfolio()
        st, why = evaluate_state(self.account.profile, self.journal, pf)
        gate = RiskGate(self.account.profile, self.journal, pf, st, why)
        return OrderExecutor(
            self.account.profile, self.broker, self.journal, gate, self.source.books, now_ms=self.source.now_ms
        ), gate

    def cancel_order(self, order_id: str) -> dict[str, Any]:
        """Cancel one resting order (always allowed: it only reduces risk)."""
        with self._lock:
            match = [o for o in self.broker.orders() if o.order_id == order_id]
            if not match:
                raise NotFound(f"no order {order_id}")
            reduced = self.broker.cancel(order_id, match[0].ticker)
            self.account.metrics_stale = True
            for o in self.broker.orders(ticker=match[0].ticker):
                if o.order_id == order_id:
                    self.journal.upsert_order(o)
        return {"order_id": order_id, "reduced_by": fmt_count(reduced)}

    # -- managing resting orders ------------------------------------------------------------
    def amend_order(
        self,
        order_id: str,
        *,
        yes_price: str | None = None,
        count: str | None = None,
        client_order_id_: str | None = None,
    ) -> dict[str, Any]:
        """Change a resting order's YES price and/or its total count (filled + remaining), through the gate.

        The amended order passes the risk gate as a whole and is journaled before it is sent,
        under a new client_order_id (``client_order_id_``, or one derived from the change), like
        a new order (:meth:`~kalashi_cli.stages.order.OrderExecutor.amend`).

        Raises:
            ConsentError: trading is not allowed on this server.
            UsageError: nothing to change, a bad price/count, or the order is not resting.
            NotFound: no such order or market. RiskDenied: the gate refused.
            OrderRejected / OutcomeUnknown: the exchange refused it, or its answer was lost.
        """
        from ..errors import OrderRejected, OutcomeUnknown

        self._require_trading()
        if yes_price is None and count is None:
            raise UsageError(
                "give a new yes_price, a new count, or both", hint="count is the new total, filled contracts included"
            )
        with self._lock:
            o = self.account.order(order_id)
            if o.status != OrderStatus.RESTING:
                raise UsageError(f"order {order_id} is {o.status}: only a resting order can be amended")
            m = self.source.books([o.ticker]).get(o.ticker)
            if m is None:
                raise NotFound(f"no market {o.ticker}")
            p = self._price_on_grid(yes_price, m) if yes_price is not None else o.price
            n = self._count_for(count, m) if count is not None else o.fill_count + o.remaining_count
            if p == o.price and n == o.fill_count + o.remaining_count:
                raise UsageError(
                    f"order {order_id} already rests at {fmt_price(Price(p))} for {fmt_count(Count(n))}: nothing to "
                    "change"
                )
            coid = client_order_id_ or client_order_id(
                f"amend-{int(time.time() // 60)}", 0, f"{order_id}:{p}:{n}", "amend"
            )
            ex, gate = self._executor()
            group = Grouper(self.account.profile).group(m.category, m.series_ticker, m.ticker)
            res = ex.amend(
                o, m, price=Price(p), count=Count(n), client_order_id=coid, concentration=(m.event_ticker, group)
            )
            if res.denied is not None:
                d = res.denied
                rec = {
                    "kind": "denied",
                    "v": 1,
                    "ref": d.ref,
                    "ticker": d.ticker,
                    "rule": d.rule,
                    "reason": d.reason,
                    "strategy": "manual",
                }
                self.journal.add_records([rec])
                self.account.publish(rec)
                raise RiskDenied(f"risk gate refused the amend: {d.reason}", hint=f"rule '{d.rule}'")
            fills = [encode(f) for f in res.fills]
            self.journal.add_records(fills)
            self.account.metrics_stale = True
            if res.order is None:
                what = f"amend of order {order_id} (client_order_id {coid})"
                if res.unknown:
                    raise OutcomeUnknown(
                        f"{what}: the exchange's answer was lost — {res.reason}",
                        hint="`kalashi reconcile` finds out whether it happened",
                    )
                raise OrderRejected(
                    f"{what} was refused: {res.reason}", hint="the order rests unchanged; check get_order"
                )
        for r in fills:
            self.account.on_record(r)
        return {"order": order_view(res.order), "previous": order_view(o), "fills": fills}

    def decrease_order(
        self, order_id: str, *, reduce_by: str | None = None, reduce_to: str | None = None
    ) -> dict[str, Any]:
        """Shrink a resting order, keeping its place in the queue (always allowed: it only lowers risk).

        Raises:
            UsageError: not exactly one of reduce_by / reduce_to, or a bad count. NotFound.
        """
        if (reduce_by is None) == (reduce_to is None):
            raise UsageError("give exactly one of reduce_by and reduce_to")
        with self._lock:
            o = self.account.order(order_id)
            if o.status != OrderStatus.RESTING:
                raise UsageError(f"order {order_id} is {o.status}: only a resting order can be decreased")
            try:
                by = parse_count(reduce_by) if reduce_by is not None else None
                to = parse_count(reduce_to) if reduce_to is not None else None
            except ValueError as e:
                raise UsageError(f"bad count: {e}") from None
            left = self.account.desk().decrease(o, reduce_by=by, reduce_to=to)
            self.account.metrics_stale = True
            now = self.account.order(order_id)
            self.journal.upsert_order(now)
            self.journal.add_event(
                "decrease", {"order_id": order_id, "from": o.remaining_count, "to": left}, ticker=o.ticker
            )
        return {
            "order": order_view(now),
            "remaining": fmt_count(left),
            "reduced_by": fmt_count(Count(o.remaining_count - left)),
        }

    def batch_create_orders(self, orders: list[dict[str, Any]]) -> list[list[dict[str, Any]] | KalashiError]:
        """Place several orders, each through :meth:`create_order` (the one gate, journaled before sending).

        Each order gets its records or its error; one refused order does not stop the others.
        An order that a later one depends on is placed first (they go in the order given).

        Raises:
            ConsentError: trading is not allowed on this server (before any order).
        """
        self._require_trading()
        out: list[list[dict[str, Any]] | KalashiError] = []
        for spec in orders:
            try:
                out.append(self.create_order(**spec))
            except KalashiError as e:
                out.append(e)
        return out

    def batch_cancel_orders(self, order_ids: list[str]) -> list[dict[str, Any]]:
        """Cancel several orders in one request where the venue allows (always allowed).

        Each gets ``{order_id, reduced_by}`` or ``{order_id, error}``.
        """
        with self._lock:
            known = {o.order_id: o for o in self.broker.orders()}
            found = [known[i] for i in order_ids if i in known]
            if isinstance(self.broker, OrderDesk):
                answers = self.broker.batch_cancel(found) if found else []
            else:
                answers = []
                for o in found:
                    try:
                        answers.append(self.broker.cancel(o.order_id, o.ticker))
                    except KalashiError as e:
                        answers.append(e)
            done = dict(zip([o.order_id for o in found], answers, strict=True))
            self.account.metrics_stale = True
            now = {o.order_id: o for o in self.broker.orders()}
            for o in found:
                if o.order_id in now:
                    self.journal.upsert_order(now[o.order_id])
        out: list[dict[str, Any]] = []
        for i in order_ids:
            a = done.get(i)
            if a is None:
                out.append({"order_id": i, "error": f"NotFound: no order {i}"})
            elif isinstance(a, KalashiError):
                out.append({"order_id": i, "error": f"{type(a).__name__}: {a}"})
            else:
                out.append({"order_id": i, "reduced_by": fmt_count(a)})
        return out

    def cancel_all_orders(self, ticker: str | None = None) -> dict[str, Any]:
        """Cancel every resting order (of one market), in batches; always allowed."""
        with self._lock:
            resting = [o.order_id for o in self.broker.orders(status=OrderStatus.RESTING, ticker=ticker)]
            results: list[dict[str, Any]] = []
            for i in range(0, len(resting), CANCEL_BATCH):
                results += self.batch_cancel_orders(resting[i : i + CANCEL_BATCH])
            left = len(self.broker.orders(status=OrderStatus.RESTING, ticker=ticker))
            if resting:
                self.journal.add_event("cancel-all", {"ticker": ticker or "", "resting": len(resting), "left": left})
        return {
            "cancelled": sum(1 for r in results if "reduced_by" in r),
            "order_ids": resting,
            "errors": [r for r in results if "error" in r],
            "remaining_resting": left,
        }
