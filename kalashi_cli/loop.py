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
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .domain import Candidate, ExchangeFill, Market, Opportunity, OrderStatus
from .journal import Journal
from .money import Count, Price, fmt_count, fmt_money
from .ports import Broker, MarketSource, SourceEvents
from .profile import Profile, money
from .reconcile import ReconcileReport, reconcile
from .records import VERSION, encode, iso, to_record
from .stages.analyze import Analyzer
from .stages.correlate import Correlator
from .stages.exits import execute_exits, exit_signals
from .stages.making import STRATEGY as MAKER
from .stages.making import ManageContext, QuoteManager, QuoteStats, fair_prices, wanted_markets
from .stages.metrics import RunStats, compute_metrics
from .stages.order import OrderExecutor
from .stages.own_orders import own_books
from .stages.portfolio import Portfolio, load_portfolio
from .stages.risk import RiskGate, TradingState, evaluate_state
from .stages.scan import ScanStats, scan
from .stages.valuation import mark_of, spread_cap

Sink = Callable[[dict[str, Any]], None]

#: how long after a fill the loop keeps the market's mid history (the longest markout horizon, and some)
MARKOUT_TRACK_MS = 6 * 60_000


def _never_stale(ticker: str) -> bool:
    return False


@dataclass(slots=True)
class IterationResult:
    n: int
    record: dict[str, Any]
    records: list[dict[str, Any]] = field(default_factory=list)
    state: TradingState = TradingState.ACTIVE


@dataclass(frozen=True, slots=True)
class _Tally:
    """What one iteration counted: the figures its journal row and its record share."""

    n: int
    started: str  # ISO time the iteration began (wall clock)
    as_of: int  # the market clock the books were read at (ms)
    duration_ms: float
    markets: int
    opportunities: int
    candidates: int
    orders: int
    api_calls: int
    source: str


def _journal_row(
    t: _Tally, state: TradingState, after: Portfolio, cache_hits: int, cache_misses: int
) -> dict[str, Any]:
    """The iteration's row in the journal (integers in fixed units; metrics folds these)."""
    return {
        "n": t.n,
        "started": t.started,
        "ts_ms": t.as_of,
        "duration_ms": round(t.duration_ms, 3),
        "markets": t.markets,
        "opportunities": t.opportunities,
        "candidates": t.candidates,
        "orders": t.orders,
        "state": state.value,
        "equity": after.equity,
        "cash": after.ledger.cash,
        "cache_hits": cache_hits,
        "cache_misses": cache_misses,
        "api_calls": t.api_calls,
        "source": t.source,
        "exposure": after.open_cost,
        "marked": after.equity_marked,
    }


def _iteration_record(
    t: _Tally,
    state: TradingState,
    state_reason: str,
    after: Portfolio,
    *,
    fills: int,
    settlements: int,
    exits: int,
    quotes: QuoteStats,
    quotes_resting: int,
    maker_tickers: Iterable[str],
) -> dict[str, Any]:
    """The ``iteration`` record the loop emits (Kalshi-style strings for money and counts); ``inventory``
    is what the market maker holds in ``maker_tickers``."""
    positions = after.ledger.positions
    inventory = Count(sum(abs(positions[t].position) for t in maker_tickers if t in positions))
    return {
        "kind": "iteration",
        "v": VERSION,
        "n": t.n,
        "started": t.started,
        "duration_ms": f"{t.duration_ms:.3f}",
        "markets": t.markets,
        "opportunities": t.opportunities,
        "candidates": t.candidates,
        "orders": t.orders,
        "state": state.value,
        "state_reason": state_reason,
        "equity": fmt_money(after.equity),
        "cash": fmt_money(after.ledger.cash),
        "equity_marked": fmt_money(after.equity_marked),
        "equity_settled": fmt_money(after.equity_settled),
        "exposure": fmt_money(after.open_cost),
        "fills": fills,
        "settlements": settlements,
        "api_calls": t.api_calls,
        "source": t.source,
        "as_of": iso(t.as_of),
        "exits": exits,
        "quotes": quotes.record(),
        "quotes_resting": quotes_resting,
        "inventory": fmt_count(inventory),
    }


def cancel_resting_when_halted(journal: Journal, broker: Broker, reason: str) -> None:
    """HALTED by anyone (kalashi halt, the HALT file, heal, the dashboard): no quote may keep resting.

    Another process can persist the halt but cannot cancel a paper account that lives in
    this process, so the loop does it at its next iteration (and on Kalshi it is a cheap
    belt-and-braces check).
    """
    if not broker.orders(status=OrderStatus.RESTING):
        return
    from .safety import halt

    res = halt(journal, broker, reason or "halted")
    journal.add_event("halt-enforced", {"cancelled": res.cancelled, "by": "run-loop"})


def sync_resting_orders(journal: Journal, broker: Broker) -> None:
    """Record what became of orders the journal still thinks are resting (filled, expired, cancelled)."""
    mine = journal.orders(status=OrderStatus.RESTING)
    if not mine:
        return
    still = {o.order_id for o in broker.orders(status=OrderStatus.RESTING)}
    gone = {o.ticker for o in mine if o.order_id not in still}
    for ticker in sorted(gone):
        for o in broker.orders(ticker=ticker):
            journal.upsert_order(o)


class TradingLoop:
    """Runs iterations of the pipeline against one source, one broker and one journal."""

    def __init__(
        self,
        profile: Profile,
        source: MarketSource,
        broker: Broker,
        journal: Journal,
        *,
        fair: dict[str, Price] | None = None,
        sink: Sink | None = None,
        stale: Callable[[str], bool] | None = None,
        limit: int | None = None,
        wall_ms: Callable[[], int] | None = None,
    ) -> None:
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
        #: the market maker's quote manager (strategy ``spread``), used by iterations and reactions alike
        self.quoter = QuoteManager(profile, journal, broker)
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
        rep = reconcile(
            self.journal,
            self.broker,
            starting_balance=money(self.profile.paper.starting_balance),
            cancel_orphans=self.profile.risk.cancel_orphans,
        )
        self.last_reconcile = rep
        return rep

    def portfolio(self, markets: Sequence[Market] | Mapping[str, Market] = ()) -> Portfolio:
        """Fold the journal and value open positions by the one rule (:mod:`kalashi_cli.stages.valuation`).

        ``markets`` are the books seen now; held markets missing from them (closed ones, markets
        outside the scan) are fetched from the source, and the journal's marks cover the rest.
        """
        books = self._held_books(markets)
        start = money(self.profile.paper.starting_balance)
        return load_portfolio(
            self.journal, start, books, now_ms=self.source.now_ms(), spread_cap=spread_cap(self.profile)
        )

    def _held_books(self, markets: Sequence[Market] | Mapping[str, Market]) -> dict[str, Market]:
        """``markets`` by ticker, plus the source's current books of open positions not among them."""
        books = dict(markets) if isinstance(markets, Mapping) else {m.ticker: m for m in markets}
        missing = [t for t in self.journal.open_tickers() if t not in books]
        if missing:
            books.update(self.source.books(missing))
        return books

    def _record_marks(self, books: Mapping[str, Market], now_ms: int) -> None:
        """Keep the mids of the markets the account holds, quotes or traded in the last minutes (durably).

        The last one of a market is its mark once its book is gone; the history is what markouts
        (the mid a minute, five minutes and at settlement after each fill) are measured against.
        """
        tracked = set(self.journal.open_tickers())
        tracked.update(o.ticker for o in self.journal.orders(status=OrderStatus.RESTING))
        tracked.update(f.ticker for f in self.journal.fills(since_ms=now_ms - MARKOUT_TRACK_MS))
        missing = [t for t in tracked if t not in books]
        if missing:
            books = {**books, **self.source.books(missing)}
        marks = [mk for t in sorted(tracked) if t in books and (mk := mark_of(books[t], now_ms)) is not None]
        self.journal.add_marks(marks)

    def _emit(self, out: list[dict[str, Any]], rec: dict[str, Any]) -> None:
        out.append(rec)
        self.sink(rec)

    # -- one iteration ----------------------------------------------------------------------
    def run_iteration(self) -> IterationResult:
        """Run one pass of the pipeline; return its iteration record and everything it emitted.

        The phases run in this order, and order safety depends on it: resync a stale feed; move the
        market (reconciling first); take in what it did (fills, settlements, resting orders); value
        the account and decide the trading state (a halt cancels what rests); analyse and rank; order
        (exits, entries, quotes); then journal and emit the iteration.
        """
        from .health.feed import repair_source_feed

        # a WebSocket book left stale, or a silent connection: resync it, journaled as a repair (never raises)
        repair_source_feed(self.source, self.journal)
        started = self.wall_ms()
        t0 = time.perf_counter()
        self.n += 1
        out: list[dict[str, Any]] = []
        calls0 = self.api_calls()  # every call of the iteration, reconciliation and fill polls included
        events = self._advance()
        scanned, md_fills = self._take_in(events)
        as_of = self.source.now_ms()
        src = self.source.describe()
        quoted, portfolio, markets = self._value(scanned, as_of)
        hits0, miss0 = self.analyzer.stats.hits, self.analyzer.stats.misses
        opportunities, candidates = self._analyze(markets, portfolio, as_of, src, out)
        n_orders, n_exits, quote_stats = self._place_orders(candidates, quoted, portfolio, as_of, src, out)
        after = self.portfolio(quoted)
        self.last_portfolio = after
        tally = _Tally(
            n=self.n,
            started=iso(started),
            as_of=as_of,
            duration_ms=(time.perf_counter() - t0) * 1000,
            markets=len(markets),
            opportunities=len(opportunities),
            candidates=len(candidates),
            orders=n_orders,
            api_calls=self.api_calls() - calls0,
            source=src,
        )
        cache_hits, cache_misses = self.analyzer.stats.hits - hits0, self.analyzer.stats.misses - miss0
        self.journal.add_iteration(_journal_row(tally, self.state, after, cache_hits, cache_misses))
        rec = _iteration_record(
            tally,
            self.state,
            self.state_reason,
            after,
            fills=sum(1 for r in out if r["kind"] == "fill") + len(md_fills),
            settlements=len(events.settlements),
            exits=n_exits,
            quotes=quote_stats,
            quotes_resting=sum(len(q) for q in self.quoter.quotes().values()),
            maker_tickers=self.quoter.inventory_tickers(after),
        )
        self._emit(out, rec)
        if self.n % 10 == 0:
            self.write_metrics()
        return IterationResult(self.n, rec, out, self.state)

    def _advance(self) -> SourceEvents:
        """Phase 1: move the market one step; reconcile the journal with the exchange first and when due."""
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
        return events

    def _take_in(self, events: SourceEvents) -> tuple[list[Market], list[ExchangeFill]]:
        """Phase 2: scan, and journal what the market did to us (resting fills, orders gone, settlements)."""
        stats = ScanStats()
        scanned = list(scan(self.source, self.profile, limit=self.limit, stats=stats))
        self.last_markets = scanned  # the scan (the reactor watches these markets)
        # the market moved: resting orders may have filled, markets may have settled
        md_fills = self.broker.on_market_data(scanned, events)
        if md_fills:
            self.journal.add_fills(md_fills, source="market")
        sync_resting_orders(self.journal, self.broker)
        if events.settlements:
            self.journal.add_settlements([s for s in events.settlements if s.ticker in self.journal.held_tickers()])
        return scanned, md_fills

    def _value(self, scanned: list[Market], as_of: int) -> tuple[dict[str, Market], Portfolio, list[Market]]:
        """Phase 3: value the account on the books without our own orders and decide the trading state.

        Returns the books of held and scanned markets (``quoted``), the portfolio, and the markets
        to analyse; when HALTED, the resting orders are cancelled first.
        """
        # our own resting orders are not the market: out of the books before valuing or analysing them
        resting = self.journal.orders(status=OrderStatus.RESTING)
        included = bool(getattr(self.broker, "books_include_own_orders", True))
        quoted = self._held_books(own_books(scanned, resting, included=included, reach=False))
        self._record_marks(quoted, as_of)
        portfolio = self.portfolio(quoted)
        self.state, self.state_reason = evaluate_state(self.profile, self.journal, portfolio)
        if self.state is TradingState.HALTED:
            cancel_resting_when_halted(self.journal, self.broker, self.state_reason)
            resting = self.journal.orders(status=OrderStatus.RESTING)
        markets = own_books(scanned, resting, included=included)
        return quoted, portfolio, markets

    def _analyze(
        self, markets: list[Market], portfolio: Portfolio, as_of: int, src: str, out: list[dict[str, Any]]
    ) -> tuple[list[Opportunity], list[Candidate]]:
        """Phase 4: analyse and rank (emitting opportunities and candidates); remember the markets seen."""
        opportunities = list(self.analyzer.analyze(markets, as_of_ms=as_of, src=src))
        correlator = Correlator(self.profile, portfolio)
        candidates: list[Candidate] = []
        for o in opportunities:
            self._emit(out, to_record(o))
        # ranked together (riskless first, then profit per dollar of capital), as `correlate` ranks a capture
        for c in correlator.correlate(opportunities):
            self._emit(out, to_record(c))
            if isinstance(c, Candidate):
                candidates.append(c)
        by_ticker = {m.ticker: m for m in markets}
        self.journal.remember_markets(
            [
                (*row, by_ticker[row[0]].mutually_exclusive if row[0] in by_ticker else False)
                for row in correlator.market_rows({m.ticker: m.title for m in markets})
            ]
        )
        return opportunities, candidates

    def _place_orders(
        self,
        candidates: list[Candidate],
        quoted: dict[str, Market],
        portfolio: Portfolio,
        as_of: int,
        src: str,
        out: list[dict[str, Any]],
    ) -> tuple[int, int, QuoteStats]:
        """Phase 5: through the risk gate, exits, then entries, then the maker's quotes; journal the records.

        Returns the orders created, the exit signals and what the quote manager did.
        """
        gate = RiskGate(self.profile, self.journal, portfolio, self.state, self.state_reason)
        executor = OrderExecutor(
            self.profile,
            self.broker,
            self.journal,
            gate,
            self.source.books,
            stale=self.stale,
            now_ms=self.source.now_ms,
        )
        n_orders = 0
        kept = []
        # exits first (profile `exits`): what they sell frees cash for the entries below
        fair = self.analyzer.last_fair
        signals = exit_signals(self.profile, portfolio, quoted, {t: v.price for t, v in fair.items()}, as_of)
        for obj in execute_exits(signals, executor, portfolio, as_of):
            rec = encode(obj)
            n_orders += rec["kind"] == "order"
            kept.append(rec)
            self._emit(out, rec)
        # in correlate's order, exactly as `correlate | order` sees them (caps were applied in this order);
        # the market maker's quotes are placed and kept up to date by the quote manager below
        for c in candidates:
            if self.quoter.enabled and c.opportunity.strategy == MAKER:
                continue
            for obj in executor.execute(c):
                rec = encode(obj)
                n_orders += rec["kind"] == "order"
                kept.append(rec)
                self._emit(out, rec)
        quote_stats = self._manage_quotes(candidates, quoted, portfolio, gate, executor, as_of, src, out, kept)
        n_orders += quote_stats.created
        if kept:
            self.journal.add_records(kept)
        return n_orders, len(signals), quote_stats

    def _manage_quotes(
        self,
        candidates: Sequence[Candidate],
        quoted: dict[str, Market],
        portfolio: Portfolio,
        gate: RiskGate,
        executor: OrderExecutor,
        as_of: int,
        src: str,
        out: list[dict[str, Any]],
        kept: list[dict[str, Any]],
    ) -> QuoteStats:
        """Bring the market maker's quotes in line (:mod:`.stages.making`); return what it did this iteration."""
        q = self.quoter
        before = q.stats.copy()
        if not q.enabled:
            return QuoteStats()
        tickers = q.to_manage(wanted_markets(candidates), portfolio)
        missing = [t for t in tickers if t not in quoted]
        if missing:  # quoted markets outside the scan: their books as others quote them
            resting = self.journal.orders(status=OrderStatus.RESTING)
            included = bool(getattr(self.broker, "books_include_own_orders", True))
            quoted.update(
                {
                    m.ticker: m
                    for m in own_books(self.source.books(missing).values(), resting, included=included, reach=False)
                }
            )
        q.observe(quoted[t] for t in tickers if t in quoted)
        ctx = ManageContext(
            books=quoted,
            fair=fair_prices(self.analyzer.last_fair),
            portfolio=portfolio,
            gate=gate,
            executor=executor,
            state=self.state,
            now_ms=as_of,
            stale=self.stale,
            emit=lambda rec: self._emit(out, rec),
            src=src,
        )
        q.manage(ctx, tickers)
        q.save()
        kept.extend(ctx.records)
        return q.stats.minus(before)

    def write_metrics(self) -> dict[str, Any]:
        p = self.last_portfolio or self.portfolio()
        m = compute_metrics(self.journal, p, self.profile, RunStats())
        self.journal.add_metrics(m)
        return m

    # -- the loop ---------------------------------------------------------------------------
    def run(
        self,
        *,
        iterations: int | None = None,
        interval: float | None = None,
        on_iteration: Callable[[IterationResult], None] | None = None,
        paused: threading.Event | None = None,
        idle: Callable[[float], object] | None = None,
    ) -> int:
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
