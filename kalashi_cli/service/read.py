"""The read model: every read of the account and the market, with no effect on trading (observers need only this)."""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from ..domain import OrderStatus
from ..errors import UsageError
from ..money import Count, Money, Price, fmt_count, fmt_money, fmt_price
from ..ports import OrderDesk
from ..profile import builtin_profiles
from ..records import iso
from ..stages.correlate import Grouper
from ..stages.metrics import RunStats, compute_metrics
from ..stages.portfolio import Portfolio
from ..stages.risk import evaluate_state
from .account import AccountReads, LoopStatus
from .market_reads import MarketReads
from .views import EQUITY_POINTS, decimal_text, open_order_row, order_view, percent

#: the dashboard's metrics are recomputed for a state at most this often while the loop runs (seconds) …
METRICS_MIN_GAP_S = 1.0
#: … and never more often than every ``METRICS_BUDGET ×`` what the last computation cost, so on a
#: long journal (compute_metrics reads every order record) they take at most 5 % of the loop's time
METRICS_BUDGET = 20


class ReadModel(MarketReads):
    """The account's reads (balance, positions, orders, fills, metrics, the dashboard's state, health …).

    Holds no commands, no risk gate and no order executor, and sees the broker and the loop only
    through their reads (:class:`~kalashi_cli.service.account.AccountReads`: mypy refuses a
    submit, cancel, amend or iteration from here). The dashboard, ``heal`` and the MCP server's
    read tools see the account only through this. Reads take the account's lock, so a reader
    never sees half an iteration.
    """

    def __init__(self, account: AccountReads, loop_status: Callable[[], LoopStatus]) -> None:
        super().__init__(account)
        self.journal = account.journal
        self.broker = account.broker
        self.loop = account.loop
        self.loop_status = loop_status  # the loop control's, for the state and the health checks
        self._state_metrics: dict[str, Any] | None = None  # the state's metrics, fresh (see state_metrics)
        self._state_metrics_at = 0.0  # time.monotonic() when they were computed
        self._state_metrics_cost = 0.0  # seconds the last computation took

    def adopt_metrics(self, metrics: dict[str, Any]) -> None:
        """Take ``metrics`` (just computed by the loop over this iteration's portfolio) as the state's, fresh."""
        self._state_metrics, self._state_metrics_at, self.account.metrics_stale = metrics, time.monotonic(), False

    def profiles(self) -> list[str]:
        """Names of the profiles ``set_profile`` can switch to (built-ins and the current one)."""
        return sorted({*builtin_profiles(), self.account.profile_name})

    def portfolio(self) -> Portfolio:
        with self._lock:
            return self.loop.portfolio()

    def balance(self) -> dict[str, Any]:
        with self._lock:
            b = self.broker.balance()
            p = self.loop.portfolio()
        return {
            "mode": self.account.mode,
            "balance": fmt_money(b.balance),
            "cash": fmt_money(p.ledger.cash),
            "equity": fmt_money(p.equity),
            "equity_marked": fmt_money(p.equity_marked),
            "equity_settled": fmt_money(p.equity_settled),
            "starting_balance": fmt_money(p.starting_balance),
        }

    def positions(self) -> list[dict[str, Any]]:
        with self._lock:
            p = self.loop.portfolio()
            meta = self.journal.market_meta()
            held = [x for x in p.ledger.open_positions()]
            books = self.source.books([x.ticker for x in held]) if held else {}
            grouper = Grouper(self.account.profile)
        out = []
        # every position at the one valuation rule equity and the risk gate use (stages/valuation.py)
        values = {v.ticker: v for v in p.valuation.positions}
        for x in held:
            m = books.get(x.ticker)
            outcome = "yes" if x.position > 0 else "no"
            n = abs(x.position)
            v = values.get(x.ticker)
            mark = v.price if v is not None else None
            avg = x.cost // n if n else 0
            _event, _series, title, _category, group = meta.get(x.ticker, ("", "", "", "", ""))
            if m is not None and not (title and group):
                # a market the loop never analysed (an agent's or the CLI's order): the source knows it,
                # and the group is the one the correlate stage would give it
                title = title or m.title
                group = group or grouper.group(m.category, m.series_ticker, m.ticker)
            out.append(
                {
                    "ticker": x.ticker,
                    "title": title,
                    "outcome": outcome,
                    "count": fmt_count(Count(n)),
                    "avg_price": fmt_price(Price(avg)),
                    "mark": fmt_price(mark) if mark is not None else None,
                    "unrealized_pnl": fmt_money(Money(v.value - x.cost)) if v is not None else None,
                    "cost": fmt_money(x.cost),
                    "realized_pnl": fmt_money(Money(x.realized - x.fees)),
                    "group": group,
                    "valued_by": v.basis.value if v is not None else None,
                    "marked_at": iso(v.as_of_ms) if v is not None and v.as_of_ms else None,
                }
            )
        return out

    def orders(self, status: str | None = None, ticker: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            orders = self.broker.orders(status=status, ticker=ticker)
        return [order_view(o) for o in orders]

    def fills(self, limit: int = 100, ticker: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            fills = self.broker.fills(ticker=ticker)
        return [
            {
                "fill_id": f.fill_id,
                "order_id": f.order_id,
                "ticker": f.ticker,
                "side": f.side,
                "yes_price": fmt_price(f.price),
                "count": fmt_count(f.count),
                "fee": fmt_money(f.fee),
                "is_taker": f.is_taker,
                "ts": iso(f.ts_ms),
            }
            for f in fills[-limit:]
        ]

    def settlements(self) -> list[dict[str, Any]]:
        with self._lock:
            rows = self.broker.settlements()
        return [
            {
                "ticker": s.ticker,
                "event_ticker": s.event_ticker,
                "result": s.result,
                "yes_count": fmt_count(s.yes_count),
                "no_count": fmt_count(s.no_count),
                "revenue": fmt_money(s.revenue),
                "settled": iso(s.settled_ts_ms),
            }
            for s in rows
        ]

    def metrics(self) -> dict[str, Any]:
        """The metrics record now (a fresh fold: a flatten or an order since the last iteration counts)."""
        with self._lock:
            return compute_metrics(self.journal, self.loop.portfolio(), self.account.profile, RunStats())

    def state_metrics(self, portfolio: Portfolio) -> dict[str, Any]:
        """The metrics record for a dashboard state, computed over ``portfolio`` (the state's own).

        Fresh after every command and at every iteration, except that while the loop runs they
        are recomputed at most every ``METRICS_MIN_GAP_S`` (and at most ``1/METRICS_BUDGET`` of the
        time): ``compute_metrics`` reads the whole journal, and the state is built under the lock
        the loop needs.
        """
        with self._lock:
            now = time.monotonic()
            gap = max(METRICS_MIN_GAP_S, METRICS_BUDGET * self._state_metrics_cost)
            if (
                self._state_metrics is not None
                and not self.account.metrics_stale
                and now - self._state_metrics_at < gap
            ):
                return self._state_metrics
            t0 = time.perf_counter()
            m = compute_metrics(self.journal, portfolio, self.account.profile, RunStats())
            self._state_metrics_cost = time.perf_counter() - t0
            self._state_metrics, self._state_metrics_at, self.account.metrics_stale = m, now, False
            return m

    def trading_state(self) -> tuple[str, str]:
        with self._lock:
            p = self.loop.last_portfolio or self.loop.portfolio()
            st, why = evaluate_state(self.account.profile, self.journal, p)
        return st.value, why

    def health(self) -> list[dict[str, Any]]:
        """Quick in-process checks (``kalashi heal`` runs the full set)."""
        from ..health.service import service_checks

        return [c.to_record() for c in service_checks(self)]

    def state(self) -> dict[str, Any]:
        """The dashboard's whole-page state, read in one piece (docs/bridge-protocol.md §4 ``state``)."""
        with self._lock:
            # a fresh fold, not the last iteration's: a flatten or a manual order since then counts
            p = self.loop.portfolio()
            st, why = evaluate_state(self.account.profile, self.journal, p)
            # computed here, over the same portfolio as the account below, so every card agrees
            metrics = self.state_metrics(p)
            iterations = self.journal.iterations(limit=EQUITY_POINTS)
            led = p.ledger
            open_cost = sum(x.cost for x in led.open_positions())
            available = self.broker.balance().balance
            positions = self.positions()
            open_orders = self.open_orders()
            health = [{k: v for k, v in h.items() if k not in ("kind", "v")} for h in self.health()]
            loop = self.loop_status()
            journal_view = list(reversed(self.account.recent))
            opportunities = list(self.account.opportunities)
            last_iteration = self.account.last_iteration
            source = self.source.describe()
        cap = percent(self.account.profile.correlate.max_group_pct)
        exposure = [
            {
                "group": g,
                "exposure": fmt_money(v),
                "pct_of_equity": percent(Decimal(v) / max(1, p.equity)),
                "cap_pct": cap,
            }
            for g, v in sorted(p.exposure_by_group.items())
        ]
        return {
            "mode": self.account.mode,
            "loop": {
                "status": loop.status,
                "iteration": loop.iteration,
                "interval_s": decimal_text(loop.interval_s),
                "source": source,
                "profile": self.account.profile_name,
            },
            "trading_state": st.value,
            "halt_reason": why or None,
            # balance is the ledger's cash, as in every iteration record; ``available`` is what the
            # broker would still let us spend (cash less what resting orders hold)
            "account": {
                "balance": fmt_money(led.cash),
                "equity": fmt_money(p.equity),
                "cash": fmt_money(led.cash),
                "available": fmt_money(available),
                "realized_pnl": fmt_money(Money(led.realized - led.fees)),
                "unrealized_pnl": fmt_money(Money(p.equity - led.cash - open_cost)),
                "equity_marked": fmt_money(p.equity_marked),
                "equity_settled": fmt_money(p.equity_settled),
                "starting_balance": fmt_money(p.starting_balance),
            },
            "equity_curve": [{"ts": r["started"], "equity": fmt_money(r["equity"])} for r in iterations],
            "metrics": metrics,
            "positions": positions,
            "open_orders": open_orders,
            "opportunities": opportunities,
            "exposure": exposure,
            "health": health,
            "journal": journal_view,
            "recommendations": metrics.get("recommendations", []),
            "last_iteration": last_iteration,
            "updated": iso(int(time.time() * 1000)),
        }

    def open_orders(self) -> list[dict[str, Any]]:
        """Resting orders as the trader placed them (outcome, action, outcome price), oldest first."""
        with self._lock:
            resting = self.broker.orders(status=OrderStatus.RESTING)
            placed = {r["client_order_id"]: r for r in self.account.recent if r.get("kind") == "order"}
            intents = {
                o.client_order_id: self.journal.intent(o.client_order_id)
                for o in resting
                if o.client_order_id not in placed
            }
        out = []
        for o in resting:
            rec = placed.get(o.client_order_id)
            intent = intents.get(o.client_order_id)
            # two clocks: the broker's creation time is the source's (the sim's on paper), the
            # intent's journal time is the wall clock's
            wall = (
                rec.get("wall_ts", rec.get("ts"))
                if rec is not None
                else (iso(intent.created_ms) if intent is not None else None)
            )
            out.append(open_order_row(o, rec, wall))
        return out

    def order(self, order_id: str) -> dict[str, Any]:
        """One order as ``get_orders`` lists it. Raises: NotFound."""
        with self._lock:
            return order_view(self.account.order(order_id))

    def queue_positions(self, *, order_id: str | None = None, ticker: str | None = None) -> list[dict[str, Any]]:
        """Contracts ahead of each resting order at its price (of one order, or one market).

        Raises:
            UsageError: the order is not resting. NotFound: no such order.
        """
        with self._lock:
            tickers = [ticker] if ticker else None
            if order_id is not None:
                o = self.account.order(order_id)
                if o.status != OrderStatus.RESTING:
                    raise UsageError(f"order {order_id} is {o.status}: only a resting order has a queue position")
                tickers = [o.ticker]
            rows = self.account.desk().queue_positions(tickers=tickers)
            coids = {o.order_id: o.client_order_id for o in self.broker.orders(status=OrderStatus.RESTING)}
        return [
            {
                "order_id": q.order_id,
                "client_order_id": coids.get(q.order_id, ""),
                "ticker": q.ticker,
                "ahead": fmt_count(q.ahead),
            }
            for q in rows
            if order_id is None or q.order_id == order_id
        ]

    def account_limits(self) -> dict[str, Any]:
        """The venue's API rate limits for this key (none on paper) and the risk gate's limits."""
        with self._lock:
            api = self.account.desk().account_limits() if isinstance(self.broker, OrderDesk) else None
        return {
            "mode": self.account.mode,
            "api": None
            if api is None
            else {
                "usage_tier": api.usage_tier,
                "read": {"refill_rate": api.read_rate, "bucket_capacity": api.read_capacity},
                "write": {"refill_rate": api.write_rate, "bucket_capacity": api.write_capacity},
            },
            "risk": self.risk_limits(),
        }

    def risk_limits(self) -> dict[str, str]:
        """The risk gate's limits as they hold now (tightened ones included), as strings."""
        import msgspec

        risk = msgspec.to_builtins(self.account.profile.risk, builtin_types=(Decimal,))
        return {k: (str(v).lower() if isinstance(v, bool) else str(v)) for k, v in risk.items()}
