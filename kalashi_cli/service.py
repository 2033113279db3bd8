"""One facade over the engine for the bridge and the MCP server: plain data in, plain data out.

Every write goes through the same risk gate and journaled submission as the CLI (an order
placed from the dashboard or by an AI agent is indistinguishable from one placed by
``kalashi order``). The loop runs in a background thread; one lock serialises iterations,
operator commands and reads, so a reader never sees half an iteration.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from .context import journal_for, open_broker, open_source
from .domain import Leg, Market, OrderIntent, to_book_side
from .engine import IterationResult, TradingLoop, encode, iso
from .errors import ConsentError, NotFound, RiskDenied, UsageError
from .money import (
    ONE_DOLLAR,
    fmt_count,
    fmt_money,
    fmt_price,
    on_grid,
    parse_count,
    parse_price,
)
from .profile import Profile, load_profile
from .records import market_record, to_record
from .stages.analyze import Analyzer
from .stages.metrics import RunStats, compute_metrics
from .stages.order import OrderExecutor, client_order_id
from .stages.portfolio import Portfolio
from .stages.risk import RiskGate, evaluate_state
from .stages.scan import scan

Listener = Callable[[dict[str, Any]], None]


@dataclass(slots=True)
class LoopStatus:
    status: str  # running | paused | stopped
    iteration: int
    interval_s: float


class TradingService:
    """The engine as a service: loop control, operator controls, reads and risk-gated writes."""

    def __init__(self, profile: str | Profile = "default", *, mode: str = "paper", source: str = "sim",
                 journal_path: Path | None = None, interval: float | None = None, allow_trading: bool = True,
                 limit: int | None = None) -> None:
        self.profile = load_profile(profile) if isinstance(profile, str) else profile
        self.profile_name = profile if isinstance(profile, str) else self.profile.name
        self.mode = mode
        self.allow_trading = allow_trading
        self.journal = journal_for(mode, journal_path)
        self.source = open_source(source)
        self.broker = open_broker(mode, self.source, self.journal, self.profile)
        self.interval = float(self.profile.loop.interval_seconds) if interval is None else interval
        self._lock = threading.RLock()
        self._listeners: list[Listener] = []
        self._recent: deque[dict[str, Any]] = deque(maxlen=200)  # order/fill records, newest last
        self._opportunities: list[dict[str, Any]] = []
        self.loop = TradingLoop(self.profile, self.source, self.broker, self.journal, sink=self._on_record,
                                limit=limit)
        self._thread: threading.Thread | None = None
        self._paused = threading.Event()
        self._pending_opps: list[dict[str, Any]] = []
        self.started_ms = int(time.time() * 1000)
        self.last_iteration_ms: int | None = None
        self.last_error: str = ""

    # -- records fan-out --------------------------------------------------------------------
    def subscribe(self, fn: Listener) -> Callable[[], None]:
        """Receive every record the loop and the controls produce; returns an unsubscribe."""
        self._listeners.append(fn)
        return lambda: self._listeners.remove(fn) if fn in self._listeners else None

    def _publish(self, rec: dict[str, Any]) -> None:
        for fn in list(self._listeners):
            try:
                fn(rec)
            except Exception:  # a broken listener must never stall trading  # noqa: BLE001
                continue

    def _on_record(self, rec: dict[str, Any]) -> None:
        kind = rec.get("kind")
        if kind in ("order", "fill"):
            self._recent.append(rec)
        elif kind == "opportunity":
            self._pending_opps.append(rec)
        elif kind == "iteration":
            self._opportunities = sorted(self._pending_opps, key=lambda r: Decimal(r["score"]), reverse=True)[:20]
            self._pending_opps = []
            self.last_iteration_ms = int(time.time() * 1000)
        self._publish(rec)

    # -- loop control -------------------------------------------------------------------------
    def start(self, iterations: int | None = None) -> LoopStatus:
        """Start the loop in the background (or un-pause it)."""
        with self._lock:
            self._paused.clear()
            if self._thread is None or not self._thread.is_alive():
                self.loop.stop_event.clear()
                self._thread = threading.Thread(target=self._run, args=(iterations,), name="kalashi-loop",
                                                daemon=True)
                self._thread.start()
        return self.loop_status()

    def _run(self, iterations: int | None) -> None:
        done = 0
        while not self.loop.stop_event.is_set() and (iterations is None or done < iterations):
            if self._paused.is_set():
                self.loop.stop_event.wait(0.05)
                continue
            t0 = time.monotonic()
            try:
                self.run_iteration()
                self.last_error = ""
            except Exception as e:  # noqa: BLE001 - the loop reports and carries on; heal watches it
                self.last_error = f"{type(e).__name__}: {e}"
                self._publish({"kind": "health", "v": 1, "name": "loop", "status": "failed",
                               "detail": self.last_error})
            done += 1
            left = self.interval - (time.monotonic() - t0)
            if left > 0:
                self.loop.stop_event.wait(left)

    def run_iteration(self) -> IterationResult:
        with self._lock:
            return self.loop.run_iteration()

    def pause(self) -> LoopStatus:
        self._paused.set()
        return self.loop_status()

    def stop(self, timeout: float = 30.0) -> LoopStatus:
        self.loop.stop_event.set()
        t = self._thread
        if t is not None and t is not threading.current_thread():
            t.join(timeout)
        return self.loop_status()

    def loop_status(self) -> LoopStatus:
        running = self._thread is not None and self._thread.is_alive() and not self.loop.stop_event.is_set()
        status = "paused" if running and self._paused.is_set() else "running" if running else "stopped"
        return LoopStatus(status, self.loop.n, self.interval)

    def close(self) -> None:
        self.stop()
        with self._lock:
            self.broker.close()
            self.source.close()
            self.journal.close()

    # -- operator controls ------------------------------------------------------------------------
    def halt(self, reason: str = "operator halt") -> dict[str, Any]:
        """Always allowed: HALTED, resting orders cancelled."""
        from .safety import halt

        with self._lock:
            res = halt(self.journal, self.broker, reason).to_dict()
        self._publish({"kind": "health", "v": 1, "name": "trading_state", "status": "degraded",
                       "detail": f"HALTED: {reason}"})
        return res

    def flatten(self) -> dict[str, Any]:
        from .safety import flatten

        with self._lock:
            res = flatten(self.profile, self.journal, self.broker, self.source.books)
        for r in res.records:
            self._on_record(r)
        return res.to_dict()

    def resume(self, confirm: bool) -> str:
        from .safety import resume

        with self._lock:
            return resume(self.journal, confirm=confirm)

    def set_profile(self, name: str) -> str:
        """Switch to another profile by name or path (validated first)."""
        p = load_profile(name)
        with self._lock:
            self.profile = p
            self.profile_name = name
            self.loop.profile = p
            self.loop.analyzer = Analyzer(p)
        self.journal.add_event("set-profile", {"profile": name})
        return name

    def tighten(self, **limits: Any) -> dict[str, str]:
        """Tighten risk limits for this session (never loosen)."""
        with self._lock:
            self.profile = self.profile.tightened(**limits)
            self.loop.profile = self.profile
        self.journal.add_event("tighten", {k: str(v) for k, v in limits.items()})
        return {k: str(getattr(self.profile.risk, k)) for k in limits}

    # -- reads --------------------------------------------------------------------------------
    def portfolio(self) -> Portfolio:
        with self._lock:
            return self.loop.portfolio()

    def balance(self) -> dict[str, Any]:
        with self._lock:
            b = self.broker.balance()
            p = self.loop.portfolio()
        return {"mode": self.mode, "balance": fmt_money(b.balance), "cash": fmt_money(p.ledger.cash),
                "equity": fmt_money(p.equity), "starting_balance": fmt_money(p.starting_balance)}

    def positions(self) -> list[dict[str, Any]]:
        with self._lock:
            p = self.loop.portfolio()
            meta = self.journal.market_meta()
            held = [x for x in p.ledger.open_positions()]
            books = self.source.books([x.ticker for x in held]) if held else {}
        out = []
        for x in held:
            m = books.get(x.ticker)
            outcome = "yes" if x.position > 0 else "no"
            n = abs(x.position)
            mark = (m.yes_bid if outcome == "yes" else m.no_bid) if m else None
            avg = x.cost // n if n else 0
            out.append({"ticker": x.ticker, "title": meta.get(x.ticker, ("", "", "", "", ""))[2],
                        "outcome": outcome, "count": fmt_count(n), "avg_price": fmt_price(avg),
                        "mark": fmt_price(mark) if mark is not None else None,
                        "unrealized_pnl": fmt_money(n * (mark or 0) - x.cost) if mark is not None else None,
                        "cost": fmt_money(x.cost), "realized_pnl": fmt_money(x.realized - x.fees),
                        "group": meta.get(x.ticker, ("", "", "", "", ""))[4]})
        return out

    def orders(self, status: str | None = None, ticker: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            orders = self.broker.orders(status=status, ticker=ticker)
        return [{"order_id": o.order_id, "client_order_id": o.client_order_id, "ticker": o.ticker,
                 "side": o.side, "yes_price": fmt_price(o.price), "status": o.status,
                 "count": fmt_count(o.initial_count), "filled": fmt_count(o.fill_count),
                 "remaining": fmt_count(o.remaining_count), "created": iso(o.created_ts_ms) if o.created_ts_ms else None}
                for o in orders]

    def fills(self, limit: int = 100, ticker: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            fills = self.broker.fills(ticker=ticker)
        return [{"fill_id": f.fill_id, "order_id": f.order_id, "ticker": f.ticker, "side": f.side,
                 "yes_price": fmt_price(f.price), "count": fmt_count(f.count), "fee": fmt_money(f.fee),
                 "is_taker": f.is_taker, "ts": iso(f.ts_ms)} for f in fills[-limit:]]

    def settlements(self) -> list[dict[str, Any]]:
        with self._lock:
            rows = self.broker.settlements()
        return [{"ticker": s.ticker, "event_ticker": s.event_ticker, "result": s.result,
                 "yes_count": fmt_count(s.yes_count), "no_count": fmt_count(s.no_count),
                 "revenue": fmt_money(s.revenue), "settled": iso(s.settled_ts_ms)} for s in rows]

    def market(self, ticker: str) -> dict[str, Any]:
        """Raises: NotFound."""
        with self._lock:
            m = self.source.books([ticker]).get(ticker)
        if m is None:
            raise NotFound(f"no market {ticker} in source {self.source.describe()}",
                           hint="list markets with get_markets / kalashi scan")
        return market_record(m)

    def markets(self, limit: int = 100, *, event_ticker: str | None = None, series_ticker: str | None = None,
                status: str | None = "active") -> list[dict[str, Any]]:
        out = []
        with self._lock:
            for m in self.source.list_markets():
                if status and m.status != status:
                    continue
                if event_ticker and m.event_ticker != event_ticker:
                    continue
                if series_ticker and m.series_ticker != series_ticker:
                    continue
                rec = market_record(m)
                rec.pop("depth", None)
                out.append(rec)
                if len(out) >= limit:
                    break
        return out

    def event(self, event_ticker: str) -> dict[str, Any]:
        """Raises: NotFound."""
        ms = self.markets(limit=1000, event_ticker=event_ticker, status=None)
        if not ms:
            raise NotFound(f"no event {event_ticker}")
        first = ms[0]
        return {"event_ticker": event_ticker, "series_ticker": first["series_ticker"], "category": first["category"],
                "mutually_exclusive": first.get("mutually_exclusive"), "exhaustive": first.get("exhaustive"),
                "markets": ms}

    def orderbook(self, ticker: str) -> dict[str, Any]:
        rec = self.market(ticker)
        return {"ticker": ticker, "yes_bids": rec["depth"]["yes"], "no_bids": rec["depth"]["no"],
                "yes_bid": rec["yes_bid"], "yes_ask": rec["yes_ask"], "no_bid": rec["no_bid"], "no_ask": rec["no_ask"]}

    def scan(self, limit: int = 100) -> list[dict[str, Any]]:
        with self._lock:
            return [market_record(m) for m in scan(self.source, self.profile, limit=limit)]

    def analyze(self, limit: int = 500, fair: dict[str, int] | None = None, top: int = 20) -> list[dict[str, Any]]:
        with self._lock:
            markets = list(scan(self.source, self.profile, limit=limit))
            opps = list(Analyzer(self.profile, fair=fair).analyze(markets, as_of_ms=self.source.now_ms(),
                                                                  src=self.source.describe()))
        opps.sort(key=lambda o: o.score, reverse=True)
        return [to_record(o) for o in opps[:top]]

    def metrics(self) -> dict[str, Any]:
        with self._lock:
            p = self.loop.last_portfolio or self.loop.portfolio()
            return compute_metrics(self.journal, p, self.profile, RunStats())

    def trading_state(self) -> tuple[str, str]:
        with self._lock:
            p = self.loop.last_portfolio or self.loop.portfolio()
            st, why = evaluate_state(self.profile, self.journal, p)
        return st.value, why

    def health(self) -> list[dict[str, Any]]:
        """Quick in-process checks (``kalashi heal`` runs the full set)."""
        from .heal.checks import service_checks

        return [c.to_record() for c in service_checks(self)]

    def state(self) -> dict[str, Any]:
        """The dashboard's whole-page state (docs/bridge-protocol.md)."""
        with self._lock:
            p = self.loop.last_portfolio or self.loop.portfolio()
            st, why = evaluate_state(self.profile, self.journal, p)
            metrics = self.journal.latest_metrics()
            iterations = self.journal.iterations(limit=500)
            led = p.ledger
            open_cost = sum(x.cost for x in led.open_positions())
        equity = max(1, p.equity)
        c = self.profile.correlate
        exposure = [{"group": g, "exposure": fmt_money(v), "pct_of_equity": str((Decimal(v) / equity).quantize(
            Decimal("0.0001"))), "cap_pct": str(c.max_group_pct)} for g, v in sorted(p.exposure_by_group.items())]
        loop = self.loop_status()
        return {
            "mode": self.mode,
            "loop": {"status": loop.status, "iteration": loop.iteration, "interval_s": loop.interval_s,
                     "source": self.source.describe(), "profile": self.profile_name},
            "trading_state": st.value, "halt_reason": why or None,
            "account": {"balance": fmt_money(self.broker.balance().balance), "equity": fmt_money(p.equity),
                        "cash": fmt_money(led.cash), "realized_pnl": fmt_money(led.realized - led.fees),
                        "unrealized_pnl": fmt_money(p.equity - led.cash - open_cost),
                        "starting_balance": fmt_money(p.starting_balance)},
            "equity_curve": [{"ts": r["started"], "equity": fmt_money(r["equity"])} for r in iterations],
            "metrics": metrics,
            "positions": self.positions(),
            "open_orders": self.orders(status="resting"),
            "opportunities": list(self._opportunities),
            "exposure": exposure,
            "health": self.health(),
            "journal": list(reversed(self._recent)) or self.journal.records(limit=200, newest_first=True),
            "recommendations": (metrics or {}).get("recommendations", []),
            "updated": iso(int(time.time() * 1000)),
        }

    # -- risk-gated writes ------------------------------------------------------------------------
    def create_order(self, ticker: str, outcome: str, action: str, count: str, price: str, *,
                     time_in_force: str = "immediate_or_cancel", post_only: bool = False, reduce_only: bool = False,
                     client_order_id_: str | None = None) -> list[dict[str, Any]]:
        """Place one order through the risk gate; return its order/fill/denied records.

        Raises:
            UsageError: bad arguments (outcome, action, price off grid …).
            ConsentError: trading is not allowed on this server.
            RiskDenied: the gate refused (the record explains why).
        """
        if not self.allow_trading:
            raise ConsentError(f"this server does not accept orders in {self.mode} mode",
                               hint="start it with --allow-trading (and live consent for real money)")
        if outcome not in ("yes", "no") or action not in ("buy", "sell"):
            raise UsageError("outcome must be yes|no and action buy|sell")
        if time_in_force not in ("good_till_canceled", "immediate_or_cancel", "fill_or_kill"):
            raise UsageError("time_in_force must be good_till_canceled, immediate_or_cancel or fill_or_kill")
        try:
            p = parse_price(price)
            n = parse_count(count)
        except ValueError as e:
            raise UsageError(f"bad price or count: {e}", hint="price as dollars like 0.45, count like 10") from None
        if not 0 < p < ONE_DOLLAR or n <= 0:
            raise UsageError("price must be strictly between 0 and 1 and count positive")
        with self._lock:
            m = self.source.books([ticker]).get(ticker)
            if m is None:
                raise NotFound(f"no market {ticker}")
            side, yes_price = to_book_side(outcome, action, p)  # type: ignore[arg-type]
            if not on_grid(yes_price, m.price_ranges):
                raise UsageError(f"price {price} is not on {ticker}'s tick grid",
                                 hint=f"valid steps: {[b.to_wire() for b in m.price_ranges]}")
            bucket = int(time.time() // 60)
            coid = client_order_id_ or client_order_id(f"manual-{bucket}", 0,
                                                       f"{ticker}:{side}:{yes_price}:{n}:{time_in_force}", "manual")
            intent = OrderIntent(coid, ticker, side, yes_price, n, time_in_force=time_in_force,  # type: ignore[arg-type]
                                 post_only=post_only, reduce_only=reduce_only)
            pf = self.loop.portfolio()
            st, why = evaluate_state(self.profile, self.journal, pf)
            gate = RiskGate(self.profile, self.journal, pf, st, why)
            d = gate.check(intent, fee_type=m.fee_type, multiplier=m.fee_multiplier,
                           trading_active=self.broker.trading_active())
            if d:
                rec = {"kind": "denied", "v": 1, "ref": coid, "ticker": ticker, "rule": d.rule, "reason": d.reason,
                       "strategy": "manual"}
                self.journal.add_records([rec])
                self._publish(rec)
                raise RiskDenied(f"risk gate refused the order: {d.reason}", hint=f"rule '{d.rule}'")
            ex = OrderExecutor(self.profile, self.broker, self.journal, gate, self.source.books)
            asks = m.asks(outcome) if action == "buy" else m.bids(outcome)  # type: ignore[arg-type]
            leg = Leg(ticker, outcome, action, p, n)  # type: ignore[arg-type]
            outputs, _ = ex.send(intent, leg, m, reference=asks[0][0] if asks else p, strategy="manual", ref=coid,
                                 purpose="manual")
            recs = [encode(o) for o in outputs]
            self.journal.add_records(recs)
        for r in recs:
            self._on_record(r)
        return recs

    def cancel_order(self, order_id: str) -> dict[str, Any]:
        """Cancel one resting order (always allowed: it only reduces risk)."""
        with self._lock:
            match = [o for o in self.broker.orders() if o.order_id == order_id]
            if not match:
                raise NotFound(f"no order {order_id}")
            reduced = self.broker.cancel(order_id, match[0].ticker)
            for o in self.broker.orders(ticker=match[0].ticker):
                if o.order_id == order_id:
                    self.journal.upsert_order(o)
        return {"order_id": order_id, "reduced_by": fmt_count(reduced)}

    def books(self, tickers: list[str]) -> dict[str, Market]:
        with self._lock:
            return self.source.books(tickers)

