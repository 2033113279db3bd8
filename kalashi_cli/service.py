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
from contextlib import AbstractContextManager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .context import (
    check_venue,
    journal_for,
    open_broker,
    open_source,
    require_consent,
    trader_locks,
    venue_source,
)
from .domain import ExchangeOrder, Leg, Market, OrderIntent, OrderStatus, from_book_side, to_book_side
from .errors import ConsentError, KalashiError, NotFound, RiskDenied, UsageError
from .journal import Journal, default_journal_path
from .loop import IterationResult, TradingLoop
from .money import (
    COUNT_SCALE,
    ONE_DOLLAR,
    Count,
    Money,
    Price,
    fmt_count,
    fmt_money,
    fmt_price,
    on_grid,
    parse_count,
    parse_price,
)
from .ports import OrderDesk
from .profile import Profile, builtin_profiles, load_profile
from .react import Reactor, change_feed
from .records import encode, iso, market_record, to_record
from .stages.analyze import Analyzer
from .stages.correlate import Grouper
from .stages.metrics import RunStats, compute_metrics
from .stages.order import OrderExecutor, client_order_id
from .stages.portfolio import Portfolio
from .stages.risk import RiskGate, TradingState, evaluate_state, stored_state
from .stages.scan import scan

if TYPE_CHECKING:
    from .venue import Venue

Listener = Callable[[dict[str, Any]], None]
#: hears the steps of a long operator command (flatten) as they happen
Progress = Callable[[dict[str, Any]], None]

#: how many order/fill records, iterations and opportunities the dashboard state carries
JOURNAL_VIEW = 200
EQUITY_POINTS = 2000
TOP_OPPORTUNITIES = 20
#: the dashboard's metrics are recomputed for a state at most this often while the loop runs (seconds) …
METRICS_MIN_GAP_S = 1.0
#: … and never more often than every ``METRICS_BUDGET ×`` what the last computation cost, so on a
#: long journal (compute_metrics reads every order record) they take at most 5 % of the loop's time
METRICS_BUDGET = 20


@dataclass(slots=True)
class LoopStatus:
    status: str  # running | paused | stopped
    iteration: int
    interval_s: float


class TradingService:
    """The engine as a service: loop control, operator controls, reads and risk-gated writes."""

    def __init__(self, profile: str | Profile = "default", *, mode: str = "paper", source: str | None = None,
                 journal_path: Path | None = None, interval: float | None = None, allow_trading: bool = True,
                 limit: int | None = None, allow_foreign_source: bool = False, react: bool = False) -> None:
        """Open the account: consent, the trader locks (when it may trade), journal, source, broker.

        ``source`` defaults to the venue traded (:func:`~kalashi_cli.context.venue_source`); on
        demo/live any other source is refused unless ``allow_foreign_source``. ``react`` runs the
        loop in event-driven mode (:mod:`kalashi_cli.react`).

        Raises:
            ConsentError: demo/live consent missing (before any file is created).
            UsageError: a foreign source without ``allow_foreign_source``; ``react`` with a source
                that cannot push book changes.
            JournalError: another process trades this journal or account, or it cannot be opened.
        """
        self.profile = load_profile(profile) if isinstance(profile, str) else profile
        self.profile_name = profile if isinstance(profile, str) else self.profile.name
        self.mode = mode
        self.allow_trading = allow_trading
        env = require_consent(mode, self.profile)  # before any file: a refused --live creates no journal
        spec = source if source is not None else venue_source(mode)
        check_venue(mode, spec, allow_foreign=allow_foreign_source)
        path = journal_path or default_journal_path(mode)
        # one trading process per journal and account; a read-only server (an agent that may not
        # trade) takes none, so it can watch an account a loop trades
        self._locks = trader_locks(mode, path, env) if allow_trading else None
        try:
            self.journal = journal_for(mode, path)
            try:
                self.source = open_source(spec, self.profile, streaming=True)
                try:
                    self.broker = open_broker(mode, self.source, self.journal, self.profile)
                except BaseException:
                    self.source.close()
                    raise
            except BaseException:
                self.journal.close()
                raise
        except BaseException:
            if self._locks is not None:
                self._locks.release()
            raise
        self.profile = self._with_stored_limits(self.profile)
        self.interval = float(self.profile.loop.interval_seconds) if interval is None else interval
        self._lock = threading.RLock()
        self._listeners: list[Listener] = []
        self._recent: deque[dict[str, Any]] = deque(maxlen=JOURNAL_VIEW)  # order/fill records, newest last
        self._recent.extend(reversed(_journal_view(self.journal)))
        self._opportunities: list[dict[str, Any]] = []
        self._last_iteration: dict[str, Any] | None = _iteration_record(self.journal)
        self._last_metrics: dict[str, Any] | None = self.journal.latest_metrics()
        self._state_metrics: dict[str, Any] | None = None  # the state's metrics, fresh (see state_metrics)
        self._state_metrics_at = 0.0  # time.monotonic() when they were computed
        self._state_metrics_cost = 0.0  # seconds the last computation took
        self._metrics_stale = True  # a command changed what they would say: recompute at the next state
        self.loop = TradingLoop(self.profile, self.source, self.broker, self.journal, sink=self._on_record,
                                limit=limit)
        self.reactor: Reactor | None = None
        if react:  # event-driven mode: react to book changes between iterations (kalashi_cli.react)
            try:
                self.reactor = Reactor(self.loop, change_feed(self.source))
            except BaseException:
                self.broker.close()
                self.source.close()
                self.journal.close()
                if self._locks is not None:
                    self._locks.release()
                raise
        self._thread: threading.Thread | None = None
        self._paused = threading.Event()
        self._pending_opps: dict[str, dict[str, Any]] = {}
        self.started_ms = int(time.time() * 1000)
        self.last_iteration_ms: int | None = None
        self.last_error: str = ""
        self._venue: Venue | None = None

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
            # when it was recorded on the wall clock (a fill's own ts is the source's clock: the
            # sim's on the sim); a copy: the engine journals this very dict, and records are never
            # edited in place
            now = iso(int(time.time() * 1000))
            rec = {**rec, "wall_ts": now} if kind == "fill" or "ts" in rec else {**rec, "ts": now, "wall_ts": now}
        if kind in ("order", "fill"):
            self._recent.append(rec)
        elif kind in ("opportunity", "candidate") and "id" in rec:
            self._pending_opps[rec["id"]] = rec  # a candidate replaces its opportunity
        elif kind == "iteration":
            self._opportunities = sorted(self._pending_opps.values(), key=lambda r: Decimal(r["score"]),
                                         reverse=True)[:TOP_OPPORTUNITIES]
            self._pending_opps = {}
            self._last_iteration = rec
            self.last_iteration_ms = int(time.time() * 1000)
        self._publish(rec)

    def locked(self) -> AbstractContextManager[Any]:
        """Hold the service lock: no iteration or command runs meanwhile (for consistent snapshots)."""
        return self._lock

    # -- loop control -------------------------------------------------------------------------
    def start(self, iterations: int | None = None, *, clear_halt: bool = False) -> LoopStatus:
        """Start the loop in the background (or un-pause it); ``clear_halt`` also leaves HALTED.

        Raises:
            UsageError: ``clear_halt`` while the halt file exists.
            RiskDenied: ``clear_halt`` while the risk limit that halted trading still holds.
        """
        with self._lock:
            self._metrics_stale = True
            if clear_halt:
                self.clear_halt()
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
                with self._lock:
                    if self._paused.is_set() or self.loop.stop_event.is_set():
                        continue  # paused or stopped while waiting for the lock: not one more iteration
                    self.run_iteration()
                self.last_error = ""
            except Exception as e:  # noqa: BLE001 - the loop reports and carries on; heal watches it
                self.last_error = f"{type(e).__name__}: {e}"
                self._publish({"kind": "health", "v": 1, "name": "loop", "status": "failed",
                               "detail": self.last_error})
            done += 1
            left = self.interval - (time.monotonic() - t0)
            if self.reactor is not None and left > 0:
                # reactions hold the lock one at a time, so readers get it between them
                self.reactor.idle(left, paused=self._paused, lock=self._lock)
                continue
            # always yield a moment, even at interval 0: a reader waiting for the lock (the
            # bridge's state, an MCP tool) gets it between two iterations instead of starving
            self.loop.stop_event.wait(max(left, 0.002))
        if done and not self.loop.stop_event.is_set():
            # the loop ran out of iterations by itself: the last state may carry metrics up to
            # METRICS_MIN_GAP_S old and no command will follow, so say the final ones
            try:
                with self._lock:
                    self._metrics_stale = True
                    final = self.state_metrics(self.loop.portfolio())
                self._publish(final)
            except Exception:  # noqa: BLE001 - only the dashboard's last figures are at stake
                pass

    def run_iteration(self) -> IterationResult:
        with self._lock:
            res = self.loop.run_iteration()
            # the loop journals a metrics snapshot every few iterations; listeners see it as a record
            latest = self.journal.latest_metrics()
            if latest is not None and latest != self._last_metrics:
                self._last_metrics = latest
                # just computed by the loop over this iteration's portfolio: the freshest there is
                self._state_metrics, self._state_metrics_at, self._metrics_stale = latest, time.monotonic(), False
                self._publish(latest)
            return res

    def pause(self, *, wait: bool = False) -> LoopStatus:
        """Pause after the current iteration; with ``wait``, return only once it has finished."""
        self._paused.set()
        self._metrics_stale = True
        if wait:
            with self._lock:  # held for a whole iteration: acquiring it means none is running
                pass
        return self.loop_status()

    def stop(self, timeout: float = 30.0) -> LoopStatus:
        self.loop.stop_event.set()
        self._metrics_stale = True
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
            if self._locks is not None:
                self._locks.release()

    # -- operator controls ------------------------------------------------------------------------
    def halt(self, reason: str = "operator halt") -> dict[str, Any]:
        """Always allowed: HALTED, resting orders cancelled."""
        from .health import trading_state_status
        from .safety import halt

        with self._lock:
            res = halt(self.journal, self.broker, reason).to_dict()
            self._metrics_stale = True
            self._publish({"kind": "health", "v": 1, "name": "trading_state", "status": trading_state_status("HALTED"),
                           "detail": f"HALTED: {reason}"})
        return res

    def flatten(self, *, cancel_resting: bool = False, progress: Progress | None = None) -> dict[str, Any]:
        """Close every position (reduce-only IOC); with ``cancel_resting``, cancel resting orders first.

        ``progress`` hears each step as it happens (``{step: "cancel"|"close", done, total, message}``;
        see :func:`kalashi_cli.safety.flatten`), so a caller can show a long flatten moving.
        """
        from .safety import flatten

        with self._lock:
            cancelled = self._cancel_resting(progress) if cancel_resting else 0
            res = flatten(self.profile, self.journal, self.broker, self.source.books, self.source.now_ms,
                          progress=progress)
            self._metrics_stale = True
            for r in res.records:
                self._on_record(r)
        out = res.to_dict()
        if cancel_resting:
            out["canceled_orders"] = cancelled
        return out

    def _cancel_resting(self, progress: Progress | None = None) -> int:
        """Cancel every resting order at the broker and journal the broker's answer; return how many."""
        resting = self.broker.orders(status=OrderStatus.RESTING)
        if progress is not None:
            progress({"step": "cancel", "done": 0, "total": len(resting),
                      "message": f"cancelling {len(resting)} resting order(s)"})
        cancelled = sum(1 for o in resting if self.broker.cancel(o.order_id, o.ticker))
        if progress is not None:
            progress({"step": "cancel", "done": len(resting), "total": len(resting),
                      "message": f"{cancelled} of {len(resting)} resting order(s) cancelled"})
        now = {o.order_id: o for o in self.broker.orders()}
        for o in self.journal.orders(status=OrderStatus.RESTING):
            if o.order_id in now:
                self.journal.upsert_order(now[o.order_id])
        if resting:
            self.journal.add_event("cancel-resting", {"cancelled": cancelled, "resting": len(resting)})
        return cancelled

    def clear_halt(self) -> str:
        """Leave HALTED (the operator's explicit choice); return the trading state afterwards.

        Raises:
            RiskDenied: the halt file exists, or a risk limit still holds, so the gate halted again at once.
        """
        from .safety import resume

        with self._lock:
            state, _ = stored_state(self.journal)
            if state is not TradingState.HALTED:
                return self.trading_state()[0]
            resume(self.journal, confirm=True)
            self._metrics_stale = True
            st, why = self.trading_state()
        if st == TradingState.HALTED.value:
            raise RiskDenied(f"the halt cannot be cleared: {why}",
                             hint="the risk limit still holds; it clears with the next trading day or a "
                                  "looser profile")
        return st

    def profiles(self) -> list[str]:
        """Names of the profiles ``set_profile`` can switch to (built-ins and the current one)."""
        return sorted({*builtin_profiles(), self.profile_name})

    def resume(self, confirm: bool) -> str:
        from .safety import resume

        with self._lock:
            self._metrics_stale = True
            return resume(self.journal, confirm=confirm)

    def set_profile(self, name: str) -> str:
        """Switch to another profile by name or path (validated first)."""
        p = self._with_stored_limits(load_profile(name))  # a switch never loosens what an agent tightened
        with self._lock:
            self.profile = p
            self.profile_name = name
            self.loop.profile = p
            self.loop.analyzer = Analyzer(p)
            self._metrics_stale = True  # recommendations weigh the numbers against the profile
        self.journal.add_event("set-profile", {"profile": name})
        return name

    def tighten(self, **limits: Any) -> dict[str, str]:
        """Tighten risk limits (never loosen); they are kept in the journal and hold after a restart.

        Raises:
            ProfileError: a change would loosen a limit, or names no risk limit.
        """
        with self._lock:
            self.profile = self.profile.tightened(**limits)
            self.loop.profile = self.profile
            self._metrics_stale = True
            stored = self.journal.tightened_limits()
            stored.update({k: _limit_json(getattr(self.profile.risk, k)) for k in limits})
            self.journal.set_tightened_limits(stored)
        self.journal.add_event("tighten", {k: str(v) for k, v in limits.items()})
        return {k: str(getattr(self.profile.risk, k)) for k in limits}

    def _with_stored_limits(self, profile: Profile) -> Profile:
        """Apply the limits tightened earlier on this journal (those the profile does not already beat)."""
        from .errors import ProfileError

        for key, value in self.journal.tightened_limits().items():
            try:
                profile = profile.tightened(**{key: value})
            except ProfileError:  # the profile is at least as tight (or the limit is gone): it stands
                continue
        return profile

    # -- reads --------------------------------------------------------------------------------
    def portfolio(self) -> Portfolio:
        with self._lock:
            return self.loop.portfolio()

    def balance(self) -> dict[str, Any]:
        with self._lock:
            b = self.broker.balance()
            p = self.loop.portfolio()
        return {"mode": self.mode, "balance": fmt_money(b.balance), "cash": fmt_money(p.ledger.cash),
                "equity": fmt_money(p.equity), "equity_marked": fmt_money(p.equity_marked),
                "equity_settled": fmt_money(p.equity_settled), "starting_balance": fmt_money(p.starting_balance)}

    def positions(self) -> list[dict[str, Any]]:
        with self._lock:
            p = self.loop.portfolio()
            meta = self.journal.market_meta()
            held = [x for x in p.ledger.open_positions()]
            books = self.source.books([x.ticker for x in held]) if held else {}
            grouper = Grouper(self.profile)
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
            out.append({"ticker": x.ticker, "title": title,
                        "outcome": outcome, "count": fmt_count(Count(n)), "avg_price": fmt_price(Price(avg)),
                        "mark": fmt_price(mark) if mark is not None else None,
                        "unrealized_pnl": fmt_money(Money(v.value - x.cost)) if v is not None else None,
                        "cost": fmt_money(x.cost), "realized_pnl": fmt_money(Money(x.realized - x.fees)),
                        "group": group, "valued_by": v.basis.value if v is not None else None,
                        "marked_at": iso(v.as_of_ms) if v is not None and v.as_of_ms else None})
        return out

    def orders(self, status: str | None = None, ticker: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            orders = self.broker.orders(status=status, ticker=ticker)
        return [order_view(o) for o in orders]

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
                status: str | None = "active", offset: int = 0) -> list[dict[str, Any]]:
        """Market records without depth, in the source's order; ``offset`` skips that many matches first."""
        out = []
        skipped = 0
        with self._lock:
            for m in self.source.list_markets():
                if status and m.status != status:
                    continue
                if event_ticker and m.event_ticker != event_ticker:
                    continue
                if series_ticker and m.series_ticker != series_ticker:
                    continue
                if skipped < offset:
                    skipped += 1
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

    def analyze(self, limit: int = 500, fair: dict[str, Price] | None = None, top: int = 20) -> list[dict[str, Any]]:
        with self._lock:
            markets = list(scan(self.source, self.profile, limit=limit))
            opps = list(Analyzer(self.profile, fair=fair).analyze(markets, as_of_ms=self.source.now_ms(),
                                                                  src=self.source.describe()))
        opps.sort(key=lambda o: o.score, reverse=True)
        return [to_record(o) for o in opps[:top]]

    def metrics(self) -> dict[str, Any]:
        """The metrics record now (a fresh fold: a flatten or an order since the last iteration counts)."""
        with self._lock:
            return compute_metrics(self.journal, self.loop.portfolio(), self.profile, RunStats())

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
            if self._state_metrics is not None and not self._metrics_stale and now - self._state_metrics_at < gap:
                return self._state_metrics
            t0 = time.perf_counter()
            m = compute_metrics(self.journal, portfolio, self.profile, RunStats())
            self._state_metrics_cost = time.perf_counter() - t0
            self._state_metrics, self._state_metrics_at, self._metrics_stale = m, now, False
            return m

    def trading_state(self) -> tuple[str, str]:
        with self._lock:
            p = self.loop.last_portfolio or self.loop.portfolio()
            st, why = evaluate_state(self.profile, self.journal, p)
        return st.value, why

    def health(self) -> list[dict[str, Any]]:
        """Quick in-process checks (``kalashi heal`` runs the full set)."""
        from .health.service import service_checks

        return [c.to_record() for c in service_checks(self)]

    def state(self) -> dict[str, Any]:
        """The dashboard's whole-page state, read in one piece (docs/bridge-protocol.md §4 ``state``)."""
        with self._lock:
            # a fresh fold, not the last iteration's: a flatten or a manual order since then counts
            p = self.loop.portfolio()
            st, why = evaluate_state(self.profile, self.journal, p)
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
            journal_view = list(reversed(self._recent))
            opportunities = list(self._opportunities)
            last_iteration = self._last_iteration
            source = self.source.describe()
        cap = percent(self.profile.correlate.max_group_pct)
        exposure = [{"group": g, "exposure": fmt_money(v), "pct_of_equity": percent(Decimal(v) / max(1, p.equity)),
                     "cap_pct": cap} for g, v in sorted(p.exposure_by_group.items())]
        return {
            "mode": self.mode,
            "loop": {"status": loop.status, "iteration": loop.iteration, "interval_s": decimal_text(loop.interval_s),
                     "source": source, "profile": self.profile_name},
            "trading_state": st.value, "halt_reason": why or None,
            # balance is the ledger's cash, as in every iteration record; ``available`` is what the
            # broker would still let us spend (cash less what resting orders hold)
            "account": {"balance": fmt_money(led.cash), "equity": fmt_money(p.equity), "cash": fmt_money(led.cash),
                        "available": fmt_money(available), "realized_pnl": fmt_money(Money(led.realized - led.fees)),
                        "unrealized_pnl": fmt_money(Money(p.equity - led.cash - open_cost)),
                        "equity_marked": fmt_money(p.equity_marked), "equity_settled": fmt_money(p.equity_settled),
                        "starting_balance": fmt_money(p.starting_balance)},
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
            placed = {r["client_order_id"]: r for r in self._recent if r.get("kind") == "order"}
            intents = {o.client_order_id: self.journal.intent(o.client_order_id) for o in resting
                       if o.client_order_id not in placed}
        out = []
        for o in resting:
            rec = placed.get(o.client_order_id)
            if rec is not None:
                outcome, action, price = rec["outcome"], rec["action"], rec["price"]
            else:  # placed before this journal view: describe it on the YES book
                outcome = "yes"
                action, yes_price = from_book_side(o.side, o.price, "yes")
                price = fmt_price(yes_price)
            intent = intents.get(o.client_order_id)
            # two clocks: the broker's creation time is the source's (the sim's on paper), the
            # intent's journal time is the wall clock's
            wall = rec.get("wall_ts", rec.get("ts")) if rec is not None else (
                iso(intent.created_ms) if intent is not None else None)
            out.append({"client_order_id": o.client_order_id, "order_id": o.order_id, "ticker": o.ticker,
                        "outcome": outcome, "action": action, "price": price, "count": fmt_count(o.initial_count),
                        "remaining": fmt_count(o.remaining_count), "status": o.status,
                        "created": iso(o.created_ts_ms) if o.created_ts_ms else iso(int(time.time() * 1000)),
                        "placed_wall": wall})
        return out

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
        self._require_trading()
        if outcome not in ("yes", "no") or action not in ("buy", "sell"):
            raise UsageError("outcome must be yes|no and action buy|sell")
        if time_in_force not in ("good_till_canceled", "immediate_or_cancel", "fill_or_kill"):
            raise UsageError("time_in_force must be good_till_canceled, immediate_or_cancel or fill_or_kill")
        if reduce_only and time_in_force != "immediate_or_cancel":
            raise UsageError("a reduce_only order must be immediate_or_cancel (Kalshi's rule)",
                             hint="pass time_in_force immediate_or_cancel, or drop reduce_only")
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
            if n % COUNT_SCALE and not m.fractional_trading:
                raise UsageError(f"{ticker} does not trade fractional contracts: count {fmt_count(n)} must be a "
                                 "whole number", hint="round the count yourself; kalashi never rounds an order")
            side, yes_price = to_book_side(outcome, action, p)  # type: ignore[arg-type]
            if not on_grid(yes_price, m.price_ranges):
                raise UsageError(f"price {price} is not on {ticker}'s tick grid",
                                 hint=f"valid steps: {[b.to_wire() for b in m.price_ranges]}")
            bucket = int(time.time() // 60)
            coid = client_order_id_ or client_order_id(f"manual-{bucket}", 0,
                                                       f"{ticker}:{side}:{yes_price}:{n}:{time_in_force}", "manual")
            intent = OrderIntent(coid, ticker, side, yes_price, n, time_in_force=time_in_force,  # type: ignore[arg-type]
                                 post_only=post_only, reduce_only=reduce_only)
            ex, gate = self._executor()
            # an agent's order did not pass correlate: the gate applies its concentration caps, and
            # the market's group is remembered so later exposure is counted where it belongs
            group = Grouper(self.profile).group(m.category, m.series_ticker, m.ticker)
            self.journal.remember_markets([(ticker, m.event_ticker, m.series_ticker, m.title, m.category, group)])
            d = gate.check(intent, fee_type=m.fee_type, multiplier=m.fee_multiplier,
                           trading_active=self.broker.trading_active(), concentration=(m.event_ticker, group))
            if d:
                rec = {"kind": "denied", "v": 1, "ref": coid, "ticker": ticker, "rule": d.rule, "code": d.rule,
                       "reason": d.reason, "strategy": "manual"}
                self.journal.add_records([rec])
                self._publish(rec)
                raise RiskDenied(f"risk gate refused the order: {d.reason}", hint=f"rule '{d.rule}'")
            asks = m.asks(outcome) if action == "buy" else m.bids(outcome)  # type: ignore[arg-type]
            leg = Leg(ticker, outcome, action, p, n)  # type: ignore[arg-type]
            outputs, _ = ex.send(intent, leg, m, reference=asks[0][0] if asks else p, strategy="manual", ref=coid,
                                 purpose="manual")
            recs = [encode(o) for o in outputs]
            self.journal.add_records(recs)
            self._metrics_stale = True
        for r in recs:
            self._on_record(r)
        return recs

    def _require_trading(self) -> None:
        if not self.allow_trading:
            raise ConsentError(f"this server does not accept orders in {self.mode} mode",
                               hint="start it with --allow-trading (and live consent for real money)")

    def _price_on_grid(self, price: str, m: Market) -> int:
        """A YES price as written, strictly between 0 and 1 and on the market's tick grid. Raises: UsageError."""
        try:
            p = parse_price(price)
        except ValueError as e:
            raise UsageError(f"bad price: {e}", hint="dollars like 0.45") from None
        if not 0 < p < ONE_DOLLAR:
            raise UsageError("price must be strictly between 0 and 1")
        if not on_grid(p, m.price_ranges):
            raise UsageError(f"price {price} is not on {m.ticker}'s tick grid",
                             hint=f"valid steps: {[b.to_wire() for b in m.price_ranges]}")
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
            raise UsageError(f"{m.ticker} does not trade fractional contracts: count {fmt_count(n)} must be a "
                             "whole number", hint="round the count yourself; kalashi never rounds an order")
        return n

    def _executor(self) -> tuple[OrderExecutor, RiskGate]:
        """The order executor over a gate that knows the account now (call under the lock)."""
        pf = self.loop.portfolio()
        st, why = evaluate_state(self.profile, self.journal, pf)
        gate = RiskGate(self.profile, self.journal, pf, st, why)
        return OrderExecutor(self.profile, self.broker, self.journal, gate, self.source.books,
                             now_ms=self.source.now_ms), gate

    def cancel_order(self, order_id: str) -> dict[str, Any]:
        """Cancel one resting order (always allowed: it only reduces risk)."""
        with self._lock:
            match = [o for o in self.broker.orders() if o.order_id == order_id]
            if not match:
                raise NotFound(f"no order {order_id}")
            reduced = self.broker.cancel(order_id, match[0].ticker)
            self._metrics_stale = True
            for o in self.broker.orders(ticker=match[0].ticker):
                if o.order_id == order_id:
                    self.journal.upsert_order(o)
        return {"order_id": order_id, "reduced_by": fmt_count(reduced)}

    # -- managing resting orders ------------------------------------------------------------
    def _desk(self) -> OrderDesk:
        if not isinstance(self.broker, OrderDesk):
            raise UsageError(f"the {self.mode} broker cannot manage single orders (amend, decrease, queue position)")
        return self.broker

    def _order(self, order_id: str) -> ExchangeOrder:
        """One order at the broker (any status). Raises: NotFound."""
        if isinstance(self.broker, OrderDesk):
            try:
                return self.broker.order(order_id)
            except NotFound:
                raise NotFound(f"no order {order_id}", hint="list orders with get_orders") from None
        match = [o for o in self.broker.orders() if o.order_id == order_id]
        if not match:
            raise NotFound(f"no order {order_id}", hint="list orders with get_orders")
        return match[0]

    def order(self, order_id: str) -> dict[str, Any]:
        """One order as ``get_orders`` lists it. Raises: NotFound."""
        with self._lock:
            return order_view(self._order(order_id))

    def amend_order(self, order_id: str, *, yes_price: str | None = None, count: str | None = None,
                    client_order_id_: str | None = None) -> dict[str, Any]:
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
        from .errors import OrderRejected, OutcomeUnknown

        self._require_trading()
        if yes_price is None and count is None:
            raise UsageError("give a new yes_price, a new count, or both", hint="count is the new total, "
                             "filled contracts included")
        with self._lock:
            o = self._order(order_id)
            if o.status != OrderStatus.RESTING:
                raise UsageError(f"order {order_id} is {o.status}: only a resting order can be amended")
            m = self.source.books([o.ticker]).get(o.ticker)
            if m is None:
                raise NotFound(f"no market {o.ticker}")
            p = self._price_on_grid(yes_price, m) if yes_price is not None else o.price
            n = self._count_for(count, m) if count is not None else o.fill_count + o.remaining_count
            if p == o.price and n == o.fill_count + o.remaining_count:
                raise UsageError(f"order {order_id} already rests at {fmt_price(Price(p))} for {fmt_count(Count(n))}: nothing to "
                                 "change")
            coid = client_order_id_ or client_order_id(f"amend-{int(time.time() // 60)}", 0,
                                                       f"{order_id}:{p}:{n}", "amend")
            ex, gate = self._executor()
            group = Grouper(self.profile).group(m.category, m.series_ticker, m.ticker)
            res = ex.amend(o, m, price=Price(p), count=Count(n), client_order_id=coid, concentration=(m.event_ticker, group))
            if res.denied is not None:
                d = res.denied
                rec = {"kind": "denied", "v": 1, "ref": d.ref, "ticker": d.ticker, "rule": d.rule,
                       "reason": d.reason, "strategy": "manual"}
                self.journal.add_records([rec])
                self._publish(rec)
                raise RiskDenied(f"risk gate refused the amend: {d.reason}", hint=f"rule '{d.rule}'")
            fills = [encode(f) for f in res.fills]
            self.journal.add_records(fills)
            self._metrics_stale = True
            if res.order is None:
                what = f"amend of order {order_id} (client_order_id {coid})"
                if res.unknown:
                    raise OutcomeUnknown(f"{what}: the exchange's answer was lost — {res.reason}",
                                         hint="`kalashi reconcile` finds out whether it happened")
                raise OrderRejected(f"{what} was refused: {res.reason}",
                                    hint="the order rests unchanged; check get_order")
        for r in fills:
            self._on_record(r)
        return {"order": order_view(res.order), "previous": order_view(o), "fills": fills}

    def decrease_order(self, order_id: str, *, reduce_by: str | None = None,
                       reduce_to: str | None = None) -> dict[str, Any]:
        """Shrink a resting order, keeping its place in the queue (always allowed: it only lowers risk).

        Raises:
            UsageError: not exactly one of reduce_by / reduce_to, or a bad count. NotFound.
        """
        if (reduce_by is None) == (reduce_to is None):
            raise UsageError("give exactly one of reduce_by and reduce_to")
        with self._lock:
            o = self._order(order_id)
            if o.status != OrderStatus.RESTING:
                raise UsageError(f"order {order_id} is {o.status}: only a resting order can be decreased")
            try:
                by = parse_count(reduce_by) if reduce_by is not None else None
                to = parse_count(reduce_to) if reduce_to is not None else None
            except ValueError as e:
                raise UsageError(f"bad count: {e}") from None
            left = self._desk().decrease(o, reduce_by=by, reduce_to=to)
            self._metrics_stale = True
            now = self._order(order_id)
            self.journal.upsert_order(now)
            self.journal.add_event("decrease", {"order_id": order_id, "from": o.remaining_count, "to": left},
                                   ticker=o.ticker)
        return {"order": order_view(now), "remaining": fmt_count(left),
                "reduced_by": fmt_count(Count(o.remaining_count - left))}

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
            self._metrics_stale = True
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
                results += self.batch_cancel_orders(resting[i:i + CANCEL_BATCH])
            left = len(self.broker.orders(status=OrderStatus.RESTING, ticker=ticker))
            if resting:
                self.journal.add_event("cancel-all", {"ticker": ticker or "", "resting": len(resting),
                                                      "left": left})
        return {"cancelled": sum(1 for r in results if "reduced_by" in r), "order_ids": resting,
                "errors": [r for r in results if "error" in r], "remaining_resting": left}

    def queue_positions(self, *, order_id: str | None = None, ticker: str | None = None) -> list[dict[str, Any]]:
        """Contracts ahead of each resting order at its price (of one order, or one market).

        Raises:
            UsageError: the order is not resting. NotFound: no such order.
        """
        with self._lock:
            tickers = [ticker] if ticker else None
            if order_id is not None:
                o = self._order(order_id)
                if o.status != OrderStatus.RESTING:
                    raise UsageError(f"order {order_id} is {o.status}: only a resting order has a queue position")
                tickers = [o.ticker]
            rows = self._desk().queue_positions(tickers=tickers)
            coids = {o.order_id: o.client_order_id for o in self.broker.orders(status=OrderStatus.RESTING)}
        return [{"order_id": q.order_id, "client_order_id": coids.get(q.order_id, ""), "ticker": q.ticker,
                 "ahead": fmt_count(q.ahead)} for q in rows if order_id is None or q.order_id == order_id]

    def account_limits(self) -> dict[str, Any]:
        """The venue's API rate limits for this key (none on paper) and the risk gate's limits."""
        with self._lock:
            api = self.broker.account_limits() if isinstance(self.broker, OrderDesk) else None
        return {"mode": self.mode,
                "api": None if api is None else {
                    "usage_tier": api.usage_tier,
                    "read": {"refill_rate": api.read_rate, "bucket_capacity": api.read_capacity},
                    "write": {"refill_rate": api.write_rate, "bucket_capacity": api.write_capacity}},
                "risk": self.risk_limits()}

    def risk_limits(self) -> dict[str, str]:
        """The risk gate's limits as they hold now (tightened ones included), as strings."""
        import msgspec

        risk = msgspec.to_builtins(self.profile.risk, builtin_types=(Decimal,))
        return {k: (str(v).lower() if isinstance(v, bool) else str(v)) for k, v in risk.items()}

    # -- the venue: events, series, the tape, candles, status ------------------------------------
    @property
    def venue(self) -> Venue:
        """What the market-data source knows beyond books (:mod:`kalashi_cli.venue`)."""
        if self._venue is None:
            from .venue import venue_for

            self._venue = venue_for(self.source, self.broker.trading_active)
        return self._venue

    def events(self, *, status: str | None = "open", series_ticker: str | None = None, category: str | None = None,
               query: str | None = None, limit: int = 20, cursor: str | None = None) -> tuple[list[dict[str, Any]],
                                                                                              str, int]:
        """A page of events (by status word, series, category, words in their titles); the next cursor; the total."""
        from .venue import page

        with self._lock:
            rows = self.venue.events(status=status, series_ticker=series_ticker)
        rows = [r for r in rows if (not category or r["category"].lower() == category.lower())
                and matches(query, r.get("title"), r.get("sub_title"), r["event_ticker"], *r.get("market_titles", ()))]
        chunk, nxt = page(rows, limit, cursor)
        return chunk, nxt, len(rows)

    def series(self, *, series_ticker: str | None = None, category: str | None = None, query: str | None = None,
               limit: int = 20, cursor: str | None = None) -> tuple[list[dict[str, Any]], str, int]:
        """A page of series (one, when ``series_ticker`` is given); the next cursor; the total.

        Raises:
            NotFound: no such series.
        """
        from .venue import page

        with self._lock:
            rows = self.venue.series(series_ticker)
        rows = [r for r in rows if (not category or r["category"].lower() == category.lower())
                and matches(query, r.get("title"), r["series_ticker"])]
        chunk, nxt = page(rows, limit, cursor)
        return chunk, nxt, len(rows)

    def trades(self, ticker: str | None = None, *, limit: int = 20, cursor: str | None = None,
               min_ts: int | None = None, max_ts: int | None = None) -> tuple[list[dict[str, Any]], str]:
        """A page of the public tape (newest first) and the next cursor."""
        with self._lock:
            return self.venue.trades(ticker, limit=limit, cursor=cursor, min_ts=min_ts, max_ts=max_ts)

    def candlesticks(self, ticker: str, *, period: int = 60, start_ts: int | None = None, end_ts: int | None = None,
                     limit: int = 24) -> list[dict[str, Any]]:
        """The last ``limit`` candles of ``period`` minutes ending by ``end_ts`` (default: the one open now), oldest first.

        Raises:
            UsageError: a period Kalshi does not serve, or start after end. NotFound.
        """
        from .venue import PERIODS

        if period not in PERIODS:
            raise UsageError(f"period must be one of {', '.join(map(str, PERIODS))} minutes, not {period}")
        width = period * 60
        with self._lock:
            # by default up to the end of the period in progress: the latest candle is the one open now
            end = end_ts if end_ts is not None else (self.venue.now_s() // width + 1) * width
            start = start_ts if start_ts is not None else end - width * limit
            if start > end:
                raise UsageError("the start is after the end")
            rows = self.venue.candlesticks(ticker, period=period, start_ts=start, end_ts=end)
        return rows[-limit:]

    def exchange_status(self) -> dict[str, Any]:
        with self._lock:
            return {**self.venue.exchange_status(), "mode": self.mode}

    def schedule(self) -> dict[str, Any]:
        with self._lock:
            return self.venue.schedule()

    def books(self, tickers: list[str]) -> dict[str, Market]:
        with self._lock:
            return self.source.books(tickers)


#: orders cancelled per request by cancel_all_orders (Kalshi's batch limit)
CANCEL_BATCH = 20


def order_view(o: ExchangeOrder) -> dict[str, Any]:
    """An order at the broker as the agent and the dashboard see it: on the YES book."""
    return {"order_id": o.order_id, "client_order_id": o.client_order_id, "ticker": o.ticker, "side": o.side,
            "yes_price": fmt_price(o.price), "status": o.status, "count": fmt_count(o.initial_count),
            "filled": fmt_count(o.fill_count), "remaining": fmt_count(o.remaining_count),
            "created": iso(o.created_ts_ms) if o.created_ts_ms else None}


def matches(query: str | None, *texts: str | None) -> bool:
    """Whether every word of ``query`` appears in one of ``texts`` (case-insensitive; no query: yes)."""
    if not query:
        return True
    hay = " ".join(t for t in texts if t).lower()
    return all(w in hay for w in query.lower().split())


def _limit_json(v: Any) -> Any:
    """A risk limit as JSON keeps it: booleans and integers as they are, decimals as strings."""
    return v if isinstance(v, bool | int) else str(v)


def percent(fraction: Decimal) -> str:
    """A fraction as a percent string with two places (0.2 → "20.00")."""
    return str((Decimal(fraction) * 100).quantize(Decimal("0.01")))


def decimal_text(x: float | int | Decimal) -> str:
    """A measurement as a plain decimal string (10.0 → "10", 0.25 → "0.25"), never exponent notation."""
    d = Decimal(str(x)).normalize()
    return format(d, "f")


def _journal_view(journal: Journal) -> list[dict[str, Any]]:
    """The newest order and fill records in the journal, newest first (journal order: the wall clock's).

    Order records get a ``ts``: when their intent was journaled (just before the order was sent);
    both kinds get ``wall_ts``, when the journal recorded them (wall clock) — a fill's own ``ts``
    is the source's clock.
    """
    out = []
    for row in journal.record_rows(("order", "fill"), limit=JOURNAL_VIEW, newest_first=True):
        r = row.record
        if r.get("kind") == "order" and "ts" not in r and r.get("client_order_id"):
            intent = journal.intent(r["client_order_id"])
            r = {**r, "ts": iso(intent.created_ms)} if intent is not None else r
        out.append({**r, "wall_ts": iso(row.ts_ms)})
    return out


def _iteration_record(journal: Journal) -> dict[str, Any] | None:
    """The journal's last iteration as an ``iteration`` record (what the loop emitted, less its extras)."""
    rows = journal.iterations(limit=1)
    return iteration_record_from_row(rows[-1]) if rows else None


def iteration_record_from_row(row: dict[str, Any]) -> dict[str, Any]:
    """Rebuild an ``iteration`` record from a journal ``iterations`` row."""
    return {"kind": "iteration", "v": 1, "n": row["n"], "started": row["started"],
            "duration_ms": f"{float(row['duration_ms']):.3f}", "markets": row["markets"],
            "opportunities": row["opportunities"], "candidates": row["candidates"], "orders": row["orders"],
            "state": row["state"], "state_reason": "", "equity": fmt_money(row["equity"]),
            "cash": fmt_money(row["cash"]), "api_calls": row.get("api_calls", 0), "source": row.get("source", ""),
            "as_of": iso(row["ts_ms"])}
