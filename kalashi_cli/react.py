"""Event-driven mode (``run-loop --react``): act on book changes as they arrive, between iterations.

Iterations still run every ``interval`` seconds and do everything they always did —
reconciliation, the full scan and analysis, resting fills, expiry, settlements, metrics.
In the time between them the :class:`Reactor` waits for the source to push book changes
(:meth:`~kalashi_cli.kalshi.source.KalshiSource.watch_books`: the WebSocket feed's thread
reports the ticker of every book a frame changed) and, for each batch of changes::

    changed tickers ─► their events (every market of each: arbitrage needs the whole event)
        ─► fresh local books, scan's prefilter and depth ─► ReactiveStrategy.react
           (default TakerReaction: analyze → correlate → the ONE risk gate → OrderExecutor)

Nothing is new on the order path: the same :class:`~kalashi_cli.stages.order.OrderExecutor`
journals every intent under its deterministic ``client_order_id`` before sending it, through
the same broker and so the same token buckets (a reaction waits for tokens like any request).
A batch holds every change pending when the driver wakes, so a burst of deltas to one book
costs one re-analysis.

Between two iterations the driver keeps one context (:class:`ReactionContext`): the
portfolio folded from the journal after the iteration, one :class:`~kalashi_cli.stages.risk.RiskGate`
(whose reservations add up over every reaction until the next iteration) and one
correlator (whose exposure does the same) — conservative until the next iteration refolds
the journal. A halt by anyone (the HALT file, ``kalashi halt``, the dashboard) is read
before every reaction. An opportunity is acted on at most once per interval: its strategy,
legs and limit prices are remembered (with the iteration's own candidates), so a book that
keeps moving elsewhere in the event does not re-send the same basket on every delta — on
paper, where our fills do not show in the feed's books, it would otherwise try again and
again.

By default reactions act on the taker strategies (arbitrage and value) and the market maker
(:class:`QuoteReaction`: it re-prices or pulls its quotes in the changed markets; new markets
start quoting at iterations). A strategy plugs in by implementing :class:`ReactiveStrategy`
(``react(ctx, reaction)``) and being passed to the :class:`Reactor`.

Sources: only a source whose books change between iterations can push changes — Kalshi
(or ``sim-exchange``) over the WebSocket. The ``sim`` source and a ``replay:`` recording move
their books only when an iteration advances them, so reacting between iterations would see
nothing new: :func:`change_feed` refuses them with a usage error that says what to use.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

from .domain import Candidate, Market, Opportunity, OrderAck, OrderIntent, OrderStatus, with_books
from .errors import UsageError
from .kalshi.books import BookChanges
from .loop import IterationResult, TradingLoop
from .money import parse_price
from .ports import Broker
from .records import encode, to_record
from .stages.correlate import Correlator
from .stages.making import ManageContext, fair_prices
from .stages.order import OrderExecutor
from .stages.own_orders import own_books
from .stages.portfolio import Portfolio
from .stages.risk import RiskGate, TradingState, stored_state
from .stages.scan import Prefilter

#: the strategies a reaction acts on by default (takers: a maker quote is managed by the iterations)
TAKER_STRATEGIES = ("arbitrage", "value")
#: how often a wait for changes looks at the stop and pause flags (seconds)
POLL_S = 0.2
#: tick-to-order samples kept for the figures (the most recent ones)
LATENCY_SAMPLES = 100_000

Signature = tuple[str, tuple[tuple[str, str, str, int], ...]]


# --------------------------------------------------------------------------- where changes come from


@dataclass(frozen=True, slots=True)
class BookBatch:
    """Books that changed since the last batch, each once, and when the first of them arrived."""

    tickers: tuple[str, ...]
    first_ns: int = 0  # time.perf_counter_ns() of the first change (0: unknown)


class ChangeFeed(Protocol):
    """Pushes book changes to the reactive driver."""

    def next_batch(self, timeout: float) -> BookBatch | None:
        """Wait up to ``timeout`` seconds; return the pending changes (empty on timeout).

        None means no change can come before the next iteration.
        """
        ...

    def discard(self) -> None:
        """Forget the pending changes (an iteration is about to read every book anyway)."""
        ...


class FeedChanges:
    """Changes pushed by a WebSocket feed's thread through :class:`~kalashi_cli.kalshi.books.BookChanges`."""

    def __init__(self, changes: BookChanges) -> None:
        self.changes = changes

    def next_batch(self, timeout: float) -> BookBatch | None:
        if not self.changes.wait(timeout):
            return BookBatch(())
        tickers, first_ns = self.changes.take()
        return BookBatch(tuple(tickers), first_ns)

    def discard(self) -> None:
        self.changes.take()


def change_feed(source: object) -> ChangeFeed:
    """Return the change feed of ``source``, for ``--react``.

    Raises:
        UsageError: the source cannot push changes between iterations (sim, replay, Kalshi
            over REST polling).
    """
    watch = getattr(source, "watch_books", None)
    changes = watch() if callable(watch) else None
    if isinstance(changes, BookChanges):
        return FeedChanges(changes)
    describe = getattr(source, "describe", None)
    name = describe() if callable(describe) else type(source).__name__
    if name.startswith(("sim", "replay:")):
        why = (
            f"--react needs a source that pushes book changes as they happen; {name.split(':')[0]} moves its "
            "books only when an iteration advances it, so there is nothing to react to in between"
        )
    else:
        why = f"--react needs the WebSocket feed, and the source {name} polls REST"
    raise UsageError(
        why,
        hint="use a Kalshi source with the feed (kalshi, kalshi-demo or kalshi:URL with ws=1 and "
        "a key — e.g. against `kalashi sim-exchange`), or run without --react",
    )


# --------------------------------------------------------------------------- what a strategy sees


@dataclass(frozen=True, slots=True)
class Reaction:
    """One batch of changed books, ready to act on."""

    changed: tuple[str, ...]  # tickers whose books changed (watched markets only)
    stale: tuple[str, ...]  # of those, the ones without a trustworthy book now (gap, disconnect, closed)
    markets: tuple[Market, ...]  # every market of the affected events, fresh books, grouped by event
    as_of_ms: int  # the source clock when the books were read
    first_ns: int  # when the first change arrived (time.perf_counter_ns)
    #: the same markets as the source published them (with our own resting orders where its books show them)
    published: tuple[Market, ...] = ()


@dataclass(slots=True)
class ReactionContext:
    """Everything a reaction may use between two iterations (built after each iteration)."""

    loop: TradingLoop
    portfolio: Portfolio
    gate: RiskGate
    correlator: Correlator
    executor: OrderExecutor
    state: TradingState
    state_reason: str
    emit: Callable[[dict[str, Any]], None]
    src: str
    #: opportunities already acted on (or judged) since the iteration: strategy, legs and prices
    acted: set[Signature] = field(default_factory=set)
    orders: int = 0
    reactions: int = 0


class ReactiveStrategy(Protocol):
    """Acts on a batch of changed books; returns how many orders it sent."""

    def react(self, ctx: ReactionContext, reaction: Reaction) -> int: ...


def signature(o: Opportunity) -> Signature:
    """What makes two opportunities the same trade: strategy, and each leg's market, side and limit price."""
    return o.strategy, tuple((leg.ticker, leg.outcome, leg.action, leg.price) for leg in o.legs)


def record_signature(rec: dict[str, Any]) -> Signature | None:
    """The :func:`signature` of a ``candidate`` record (the iteration's own), None when unreadable."""
    try:
        return str(rec["strategy"]), tuple(
            (str(x["ticker"]), str(x["outcome"]), str(x["action"]), parse_price(str(x["price"]))) for x in rec["legs"]
        )
    except (KeyError, TypeError, ValueError):
        return None


class TakerReaction:
    """The pipeline of an iteration, on the changed events only: analyze → correlate → gate → order."""

    def __init__(self, strategies: Iterable[str] = TAKER_STRATEGIES) -> None:
        self.strategies = frozenset(strategies)

    def react(self, ctx: ReactionContext, reaction: Reaction) -> int:
        loop = ctx.loop
        orders = 0
        kept: list[dict[str, Any]] = []
        candidates = 0
        for o in loop.analyzer.analyze(reaction.markets, as_of_ms=reaction.as_of_ms, src=ctx.src):
            if o.strategy not in self.strategies or o.maker:
                continue
            sig = signature(o)
            if sig in ctx.acted:
                continue  # this very trade was acted on (or judged) since the iteration
            ctx.acted.add(sig)
            ctx.emit(to_record(o))
            for c in ctx.correlator.correlate((o,)):
                ctx.emit(to_record(c))
                if not isinstance(c, Candidate):
                    continue
                candidates += 1
                for obj in ctx.executor.execute(c):
                    rec = encode(obj)
                    orders += rec["kind"] == "order"
                    kept.append(rec)
                    ctx.emit(rec)
        if kept:
            loop.journal.add_records(kept)
        if candidates:
            titles = {m.ticker: m.title for m in reaction.markets}
            loop.journal.remember_markets(ctx.correlator.market_rows(titles))
        return orders


class QuoteReaction:
    """The market maker between iterations: re-price or pull its quotes in the markets whose books changed.

    Only markets it already quotes are managed here (new markets start quoting at iterations, after
    analyze and correlate chose them); the same :class:`~kalashi_cli.stages.making.QuoteManager` as
    the iterations', so its rate limits (``min_requote_seconds``, the token bucket) span both, and the
    same risk gate and executor as the other reactions. A changed book without a trustworthy book now
    (a sequence gap, a disconnect, a close) pulls the quotes at once.
    """

    def react(self, ctx: ReactionContext, reaction: Reaction) -> int:
        loop = ctx.loop
        q = loop.quoter
        if not q.enabled:
            return 0
        quoted = q.quoted_tickers()  # as of the last round: no journal read for books we do not quote
        tickers = [t for t in reaction.changed if t in quoted]
        if not tickers:
            return 0
        wanted = set(tickers)
        resting = [o for o in loop.journal.orders(status=OrderStatus.RESTING) if o.ticker in wanted]
        included = bool(getattr(loop.broker, "books_include_own_orders", True))
        # the market maker plans on the book as others quote it: our own orders' size out, nothing more
        # (``markets`` also drops the levels our own quotes stand in front of, which a taker cannot reach)
        source = reaction.published or reaction.markets
        books = {
            m.ticker: m
            for m in own_books([m for m in source if m.ticker in wanted], resting, included=included, reach=False)
        }
        mctx = ManageContext(
            books=books,
            fair=fair_prices(loop.analyzer.last_fair),
            portfolio=ctx.portfolio,
            gate=ctx.gate,
            executor=ctx.executor,
            state=ctx.state,
            now_ms=reaction.as_of_ms,
            stale=loop.stale,
            emit=ctx.emit,
            src=ctx.src,
        )
        writes = q.manage(mctx, tickers)
        if mctx.records:
            loop.journal.add_records(mctx.records)
        return writes


# --------------------------------------------------------------------------- the driver


class _SubmitClock:
    """The broker, noting when each order is handed to it (the reaction's tick-to-order)."""

    def __init__(self, broker: Broker) -> None:
        self._broker = broker
        self.mode = broker.mode
        self.first_ns = 0  # the first order of the current reaction (reset before each)

    def submit(self, intent: OrderIntent) -> OrderAck:
        if not self.first_ns:
            self.first_ns = time.perf_counter_ns()
        return self._broker.submit(intent)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._broker, name)


@dataclass(slots=True)
class ReactStats:
    """What the driver did, for the iteration records and the benchmark."""

    reactions: int = 0  # batches acted on
    changed: int = 0  # changed books seen (watched markets)
    orders: int = 0
    #: nanoseconds from the first change of a batch being pushed to its first order handed to the broker
    tick_to_order_ns: list[int] = field(default_factory=list)


class Reactor:
    """Reacts to pushed book changes between a :class:`~kalashi_cli.loop.TradingLoop`'s iterations."""

    def __init__(
        self,
        loop: TradingLoop,
        feed: ChangeFeed,
        *,
        strategies: Iterable[ReactiveStrategy] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.loop = loop
        self.feed = feed
        self.strategies: list[ReactiveStrategy] = (
            list(strategies) if strategies is not None else [TakerReaction(), QuoteReaction()]
        )
        self.clock = clock
        self.stats = ReactStats()
        self.ctx: ReactionContext | None = None
        self._prepared_at: int | None = None  # loop.n the context was built after
        self._event_of: dict[str, str] = {}  # watched ticker → its event
        self._members: dict[str, list[str]] = {}  # event → its watched tickers, in scan order
        self._iteration_candidates: set[Signature] = set()
        self._since_iteration = (0, 0)  # (reactions, orders) at the last iteration record
        self._outer_sink = loop.sink
        loop.sink = self._sink

    # -- records -------------------------------------------------------------------------------
    def _sink(self, rec: dict[str, Any]) -> None:
        kind = rec.get("kind")
        if kind == "candidate" and self._prepared_at != self.loop.n:
            sig = record_signature(rec)  # an iteration's own: its books were acted on already
            if sig is not None:
                self._iteration_candidates.add(sig)
        elif kind == "iteration":
            r0, o0 = self._since_iteration
            self._since_iteration = (self.stats.reactions, self.stats.orders)
            rec = {**rec, "reactions": self.stats.reactions - r0, "reaction_orders": self.stats.orders - o0}
        self._outer_sink(rec)

    # -- after each iteration ----------------------------------------------------------------
    def prepare(self) -> ReactionContext:
        """Rebuild what reactions use from the iteration that just ran (watched markets, portfolio, gate)."""
        loop = self.loop
        self._event_of = {}
        self._members = {}
        for m in loop.last_markets:
            self._event_of[m.ticker] = m.event_ticker
            self._members.setdefault(m.event_ticker, []).append(m.ticker)
        included = bool(getattr(loop.broker, "books_include_own_orders", True))
        portfolio = loop.portfolio(
            own_books(
                loop.last_markets, loop.journal.orders(status=OrderStatus.RESTING), included=included, reach=False
            )
        )
        ctx = self._context(portfolio, loop.state, loop.state_reason)
        ctx.acted |= self._iteration_candidates
        self._iteration_candidates = set()
        self._prepared_at = loop.n
        self.ctx = ctx
        return ctx

    def _context(self, portfolio: Portfolio, state: TradingState, reason: str) -> ReactionContext:
        loop = self.loop
        gate = RiskGate(loop.profile, loop.journal, portfolio, state, reason)
        self._broker = _SubmitClock(loop.broker)
        executor = OrderExecutor(
            loop.profile,
            cast(Broker, self._broker),
            loop.journal,
            gate,
            loop.source.books,
            stale=loop.stale,
            now_ms=loop.source.now_ms,
        )
        return ReactionContext(
            loop=loop,
            portfolio=portfolio,
            gate=gate,
            correlator=Correlator(loop.profile, portfolio),
            executor=executor,
            state=state,
            state_reason=reason,
            emit=loop.sink,
            src=loop.source.describe(),
        )

    def _check_halt(self, ctx: ReactionContext) -> ReactionContext:
        """A halt since the iteration (file, command, dashboard) applies to the very next reaction."""
        state, reason = stored_state(self.loop.journal)
        if state is TradingState.HALTED and ctx.state is not TradingState.HALTED:
            fresh = self._context(ctx.portfolio, state, reason)
            fresh.acted = ctx.acted
            self.ctx = ctx = fresh
        return ctx

    # -- reacting --------------------------------------------------------------------------------
    def watched(self) -> int:
        """How many markets the reactions watch (the last iteration's scan)."""
        return len(self._event_of)

    def react(self, batch: BookBatch) -> int:
        """Act on one batch of changed books; return the orders sent."""
        if self.ctx is None or self._prepared_at != self.loop.n:
            self.prepare()
        assert self.ctx is not None
        event_of = self._event_of
        changed = [t for t in batch.tickers if t in event_of]
        if not changed:
            return 0
        ctx = self._check_halt(self.ctx)
        loop = self.loop
        events = dict.fromkeys(event_of[t] for t in changed)
        tickers = [t for e in events for t in self._members[e]]
        books = loop.source.books(tickers)
        now = loop.source.now_ms()
        keep = Prefilter(loop.profile, now)
        depth = loop.profile.scan.depth_levels
        markets: list[Market] = []
        for t in tickers:  # grouped by event, in scan order, exactly as scan hands them to analyze
            m = books.get(t)
            if m is None or not keep(m):
                continue
            if depth and (len(m.yes_bids) > depth or len(m.no_bids) > depth):
                m = with_books(m, m.yes_bids[:depth], m.no_bids[:depth])
            markets.append(m)
        # our own resting orders are not the market (as in an iteration): out of the books analyze sees
        published = tuple(markets)
        resting = loop.journal.orders(status=OrderStatus.RESTING)
        if resting:
            markets = own_books(markets, resting, included=ctx.executor.own_in_books)
        reaction = Reaction(
            changed=tuple(changed),
            stale=tuple(t for t in changed if t not in books),
            markets=tuple(markets),
            as_of_ms=now,
            first_ns=batch.first_ns,
            published=published,
        )
        source_books = loop.source.books
        served: set[str] = set()

        def fresh_books(wanted: Sequence[str]) -> dict[str, Market]:
            # The executor re-reads its legs' books before sizing: the full-depth ones this
            # reaction read a fraction of a millisecond ago are that fresh. A second read of a
            # market (an unwind after our own fills) always goes to the source.
            if all(t in books and t not in served for t in wanted):
                served.update(wanted)
                return {t: books[t] for t in wanted}
            return source_books(wanted)

        ctx.executor.source_books = fresh_books  # the executor takes our own resting orders out of them
        self._broker.first_ns = 0
        orders = 0
        for s in self.strategies:
            orders += s.react(ctx, reaction)
        ctx.reactions += 1
        ctx.orders += orders
        st = self.stats
        st.reactions += 1
        st.changed += len(changed)
        st.orders += orders
        if orders and batch.first_ns and self._broker.first_ns:
            if len(st.tick_to_order_ns) >= LATENCY_SAMPLES:
                del st.tick_to_order_ns[: LATENCY_SAMPLES // 10]
            st.tick_to_order_ns.append(self._broker.first_ns - batch.first_ns)
        return orders

    def react_until(
        self,
        deadline: float,
        *,
        stop: threading.Event | None = None,
        paused: threading.Event | None = None,
        lock: AbstractContextManager[Any] | None = None,
    ) -> int:
        """React to changes as they come until the monotonic ``deadline``; return the reactions run.

        ``lock`` is held during each reaction (not while waiting): the bridge's service lock,
        so a reader never sees half a reaction. While ``paused`` is set changes are dropped
        (the next iteration scans everything anyway).
        """
        stop = stop if stop is not None else self.loop.stop_event
        guard = lock if lock is not None else nullcontext()
        n = 0
        while not stop.is_set():
            left = deadline - self.clock()
            if left <= 0:
                break
            batch = self.feed.next_batch(min(left, POLL_S))
            if batch is None:
                break
            if not batch.tickers or (paused is not None and paused.is_set()) or stop.is_set():
                continue
            with guard:
                self.react(batch)
            n += 1
        return n

    def idle(
        self, seconds: float, *, paused: threading.Event | None = None, lock: AbstractContextManager[Any] | None = None
    ) -> None:
        """Spend the time between two iterations reacting (``TradingLoop.run(idle=...)``).

        What is still pending at the end is dropped: the next iteration's scan reads those books.
        """
        self.react_until(self.clock() + seconds, paused=paused, lock=lock)
        self.feed.discard()

    def run(
        self,
        *,
        iterations: int | None = None,
        interval: float | None = None,
        on_iteration: Callable[[IterationResult], None] | None = None,
    ) -> int:
        """Run the loop's iterations with reactions in between; return iterations run."""
        return self.loop.run(iterations=iterations, interval=interval, on_iteration=on_iteration, idle=self.idle)


def percentile(values: Iterable[int], q: float) -> int:
    """The ``q`` quantile (0–1) of ``values`` by the nearest-rank method (0 when empty)."""
    xs = sorted(values)
    if not xs:
        return 0
    return xs[max(0, min(len(xs) - 1, math.ceil(q * len(xs)) - 1))]
