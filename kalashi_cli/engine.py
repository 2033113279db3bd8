"""The trading loop: the same stage functions the subcommands call, composed in-process.

One iteration::

    source.advance() → broker.on_market_data() (resting fills, settlements)
      → scan → analyze → correlate → risk gate → order → journal → iteration record

``run-loop``, the bridge and the MCP server all drive this class; the records each iteration
produces go to a sink callback (stdout, the bridge's broadcast, a test's list).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .domain import Candidate, Market
from .journal import Journal
from .ports import Broker, MarketSource, SourceEvents
from .profile import Profile, money
from .reconcile import ReconcileReport, reconcile
from .records import VERSION, to_record
from .stages.analyze import Analyzer
from .stages.correlate import Correlator
from .stages.metrics import RunStats, compute_metrics
from .stages.order import Denied, OrderExecutor
from .stages.portfolio import Portfolio, load_portfolio
from .stages.risk import RiskGate, TradingState, evaluate_state
from .stages.scan import ScanStats, scan

Sink = Callable[[dict[str, Any]], None]


def _never_stale(ticker: str) -> bool:
    return False


def denied_record(d: Denied) -> dict[str, Any]:
    return {"kind": "denied", "v": VERSION, "ref": d.ref, "ticker": d.ticker, "rule": d.rule, "reason": d.reason,
            "strategy": d.strategy}


def encode(obj: object) -> dict[str, Any]:
    """Encode a stage output (domain object or Denied) as its record."""
    if isinstance(obj, Denied):
        return denied_record(obj)
    return to_record(obj)


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(slots=True)
class IterationResult:
    n: int
    record: dict[str, Any]
    records: list[dict[str, Any]] = field(default_factory=list)
    state: TradingState = TradingState.ACTIVE


class TradingLoop:
    """Runs iterations of the pipeline against one source, one broker and one journal."""

    def __init__(self, profile: Profile, source: MarketSource, broker: Broker, journal: Journal, *,
                 fair: dict[str, int] | None = None, sink: Sink | None = None,
                 stale: Callable[[str], bool] | None = None, limit: int | None = None,
                 wall_ms: Callable[[], int] | None = None) -> None:
        self.profile = profile
        self.source = source
        self.broker = broker
        self.journal = journal
        self.sink = sink or (lambda r: None)
        # A source that can tell a stale book (Kalshi over WebSocket after a sequence gap)
        # vetoes orders on it at the gate, whoever builds the loop (run-loop, bridge, MCP).
        self.stale: Callable[[str], bool] = stale or getattr(source, "is_stale", None) or _never_stale
        self.limit = limit
        self.analyzer = Analyzer(profile, fair=fair)
        self.wall_ms = wall_ms or (lambda: time.time_ns() // 1_000_000)
        self.n = journal.last_iteration()
        self.stop_event = threading.Event()
        self.state = TradingState.ACTIVE
        self.state_reason = ""
        self.last_portfolio: Portfolio | None = None
        #: the markets the last iteration scanned (what a reactive driver watches between iterations)
        self.last_markets: list[Market] = []
        self.last_reconcile: ReconcileReport | None = None
        self._first = True
        self._api_base = source.api_calls

    # -- pieces -----------------------------------------------------------------------------
    def api_calls(self) -> int:
        """Return the remote API calls made so far by the source and the broker together.

        Kalshi bills both to one key, so "API calls per iteration" counts order creates,
        cancels, reconciliation and fill/position polls as well as market data. The paper
        broker makes none (it has no ``api_calls``).
        """
        return int(self.source.api_calls) + int(getattr(self.broker, "api_calls", 0) or 0)

    def reconcile(self) -> ReconcileReport:
        rep = reconcile(self.journal, self.broker, starting_balance=money(self.profile.paper.starting_balance),
                        cancel_orphans=self.profile.risk.cancel_orphans)
        self.last_reconcile = rep
        return rep

    def portfolio(self, markets: Sequence[Market] = ()) -> Portfolio:
        """Fold the journal and mark open positions at current best bids."""
        marks = {m.ticker: (m.yes_bid, m.no_bid) for m in markets}
        start = money(self.profile.paper.starting_balance)
        led_positions = self.journal.held_tickers()
        missing = [t for t in led_positions if t not in marks]
        if missing:
            for t, m in self.source.books(missing).items():
                marks[t] = (m.yes_bid, m.no_bid)
        return load_portfolio(self.journal, start, marks, now_ms=self.source.now_ms())

    def _emit(self, out: list[dict[str, Any]], rec: dict[str, Any]) -> None:
        out.append(rec)
        self.sink(rec)

    # -- one iteration ----------------------------------------------------------------------
    def run_iteration(self) -> IterationResult:
        """Run one pass of the pipeline; return its iteration record and everything it emitted."""
        from .heal.feed import repair_source_feed

        # a WebSocket book left stale, or a silent connection: resync it, journaled as a repair (never raises)
        repair_source_feed(self.source, self.journal)
        started = self.wall_ms()
        t0 = time.perf_counter()
        self.n += 1
        out: list[dict[str, Any]] = []
        calls0 = self.api_calls()  # every call of the iteration, reconciliation and fill polls included
        if self._first:
            self._first = False
            events = SourceEvents(now_ms=self.source.now_ms())
            self.reconcile()  # before trading: journal = exchange
        else:
            events = self.source.advance()
            if self.n % self.profile.loop.reconcile_every == 0 or self.journal.blocked_tickers():
                # every N iterations, and as soon as an unknown outcome blocks a market: the
                # market stays blocked only until the exchange has been asked
                self.reconcile()
        stats = ScanStats()
        markets = list(scan(self.source, self.profile, limit=self.limit, stats=stats))
        self.last_markets = markets
        # the market moved: resting orders may have filled, markets may have settled
        md_fills = self.broker.on_market_data(markets, events)
        if md_fills:
            self.journal.add_fills(md_fills, source="market")
        self._sync_resting_orders()
        if events.settlements:
            self.journal.add_settlements([s for s in events.settlements
                                          if s.ticker in self.journal.held_tickers()])
        portfolio = self.portfolio(markets)
        self.state, self.state_reason = evaluate_state(self.profile, self.journal, portfolio)
        if self.state is TradingState.HALTED:
            self._cancel_resting_when_halted()
        as_of = self.source.now_ms()
        src = self.source.describe()
        hits0, miss0 = self.analyzer.stats.hits, self.analyzer.stats.misses
        opportunities = list(self.analyzer.analyze(markets, as_of_ms=as_of, src=src))
        correlator = Correlator(self.profile, portfolio)
        candidates: list[Candidate] = []
        for o in opportunities:
            self._emit(out, to_record(o))
        for c in correlator.correlate(opportunities):
            self._emit(out, to_record(c))
            if isinstance(c, Candidate):
                candidates.append(c)
        self.journal.remember_markets(correlator.market_rows({m.ticker: m.title for m in markets}))
        gate = RiskGate(self.profile, self.journal, portfolio, self.state, self.state_reason)
        executor = OrderExecutor(self.profile, self.broker, self.journal, gate, self.source.books, stale=self.stale,
                                 now_ms=self.source.now_ms)
        n_orders = 0
        kept = []
        # stream order, exactly as `correlate | order` sees them (caps were applied in this order)
        for c in candidates:
            for obj in executor.execute(c):
                rec = encode(obj)
                n_orders += rec["kind"] == "order"
                kept.append(rec)
                self._emit(out, rec)
        if kept:
            self.journal.add_records(kept)
        after = self.portfolio(markets)
        self.last_portfolio = after
        duration = (time.perf_counter() - t0) * 1000
        api_calls = self.api_calls() - calls0
        row = {"n": self.n, "started": iso(started), "ts_ms": as_of, "duration_ms": round(duration, 3),
               "markets": len(markets), "opportunities": len(opportunities), "candidates": len(candidates),
               "orders": n_orders, "state": self.state.value, "equity": after.equity, "cash": after.ledger.cash,
               "cache_hits": self.analyzer.stats.hits - hits0, "cache_misses": self.analyzer.stats.misses - miss0,
               "api_calls": api_calls, "source": src}
        self.journal.add_iteration(row)
        from .money import fmt_money

        rec = {"kind": "iteration", "v": VERSION, "n": self.n, "started": row["started"],
               "duration_ms": f"{duration:.3f}", "markets": len(markets), "opportunities": len(opportunities),
               "candidates": len(candidates), "orders": n_orders, "state": self.state.value,
               "state_reason": self.state_reason, "equity": fmt_money(after.equity), "cash": fmt_money(after.ledger.cash),
               "fills": sum(1 for r in out if r["kind"] == "fill") + len(md_fills),
               "settlements": len(events.settlements), "api_calls": api_calls, "source": src,
               "as_of": iso(as_of)}
        self._emit(out, rec)
        if self.n % 10 == 0:
            self.write_metrics()
        return IterationResult(self.n, rec, out, self.state)

    def _cancel_resting_when_halted(self) -> None:
        """HALTED by anyone (kalashi halt, the HALT file, heal, the dashboard): no quote may keep resting.

        Another process can persist the halt but cannot cancel a paper account that lives in
        this process, so the loop does it at its next iteration (and on Kalshi it is a cheap
        belt-and-braces check).
        """
        if not self.broker.orders(status="resting"):
            return
        from .safety import halt

        res = halt(self.journal, self.broker, self.state_reason or "halted")
        self.journal.add_event("halt-enforced", {"cancelled": res.cancelled, "by": "run-loop"})

    def _sync_resting_orders(self) -> None:
        """Record what became of orders the journal still thinks are resting (filled, expired, cancelled)."""
        mine = self.journal.orders(status="resting")
        if not mine:
            return
        still = {o.order_id for o in self.broker.orders(status="resting")}
        gone = {o.ticker for o in mine if o.order_id not in still}
        for ticker in sorted(gone):
            for o in self.broker.orders(ticker=ticker):
                self.journal.upsert_order(o)

    def write_metrics(self) -> dict[str, Any]:
        p = self.last_portfolio or self.portfolio()
        m = compute_metrics(self.journal, p, self.profile, RunStats())
        self.journal.add_metrics(m)
        return m

    # -- the loop ---------------------------------------------------------------------------
    def run(self, *, iterations: int | None = None, interval: float | None = None,
            on_iteration: Callable[[IterationResult], None] | None = None,
            paused: threading.Event | None = None, idle: Callable[[float], object] | None = None) -> int:
        """Run until ``iterations`` are done or ``stop_event`` is set; return iterations run.

        ``idle(seconds)`` spends the time between iterations (default: waiting on ``stop_event``);
        the reactive driver (:mod:`kalashi_cli.react`) reacts to book changes there.
        """
        wait = float(self.profile.loop.interval_seconds) if interval is None else interval
        done = 0
        while not self.stop_event.is_set() and (iterations is None or done < iterations):
            if paused is not None and paused.is_set():
                self.stop_event.wait(0.1)
                continue
            t0 = time.monotonic()
            result = self.run_iteration()
            done += 1
            if on_iteration:
                on_iteration(result)
            if iterations is not None and done >= iterations:
                break
            if getattr(self.source, "exhausted", False):
                break  # a replay has an end: every recorded event has been traded on
            left = wait - (time.monotonic() - t0)
            if left > 0:
                (idle or self.stop_event.wait)(left)
        self.write_metrics()
        return done
