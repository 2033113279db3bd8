"""Drive the matching engine from the sim universe, one step at a time.

Each step, in this order (the order ``--source sim`` with the paper broker sees the same data):

1. list what is new — events and markets of the step (a new generation of an event opens with
   new tickers), keeping titles, subtitles and times in the :mod:`.catalog`;
2. ``apply_market`` every market that is not settled yet: the engine follows its status
   (pauses, close) and replaces its external book with the step's book;
3. ``apply_trade`` the public trades printed between the previous step and this one — they
   fill resting account orders by the queue rules (skipped while trading is paused: nothing
   matches during a trading pause);
4. ``settle`` the markets whose event settled in between.

The server calls :meth:`MarketDriver.advance` on a wall-clock interval (``--step-seconds``) and
from ``POST /_sim/step``. Timestamps are the server clock, which never runs behind the wall
clock and never behind the universe's time of the current step.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass, field

from ...domain import Settlement, Trade
from ...errors import NotFound
from ..matching import MatchingEngine
from ..universe import SimUniverse
from .catalog import EventRecord, MarketRecord, SeriesRecord, market_uuid

SETTLED = "finalized"
ARCHIVE_MAX = 20_000  # settled markets kept for /historical after they leave the live listings


@dataclass(slots=True)
class StepReport:
    """What one step changed."""

    step: int
    markets: int = 0
    trades: list[Trade] = field(default_factory=list)
    settlements: list[Settlement] = field(default_factory=list)
    created: list[str] = field(default_factory=list)


class MarketDriver:
    """Feeds ``engine`` from ``universe`` and keeps the catalog of what is listed."""

    def __init__(
        self,
        engine: MatchingEngine,
        universe: SimUniverse,
        *,
        start_step: int = 0,
        now_ms: Callable[[], int],
        retain_settled_ms: int = 3_600_000,
        on_forget: Callable[[str], None] | None = None,
    ) -> None:
        self.engine = engine
        self.universe = universe
        self.step = start_step
        self._now_ms = now_ms
        self.retain_settled_ms = retain_settled_ms
        self.markets: dict[str, MarketRecord] = {}
        self.market_list: list[MarketRecord] = []  # listing order (seq ascending)
        self.events: dict[str, EventRecord] = {}
        self.event_list: list[EventRecord] = []
        self.archive: dict[str, MarketRecord] = {}  # pruned settled markets, oldest first (/historical)
        self._on_forget = on_forget  # told when an archived market is dropped for good
        self.series: dict[str, SeriesRecord] = {
            s.ticker: SeriesRecord(
                s.ticker, s.title, s.category, s.fee_type, s.fee_multiplier, s.price_level_structure, s.frequency
            )
            for s in universe.series()
        }
        self.trades_paused = False
        self._seq = 0
        self._loaded = False
        self._listed_in: dict[str, tuple[EventRecord, str]] = {}  # ticker → (event, subtitle)

    # ------------------------------------------------------------------ stepping
    def load(self) -> StepReport:
        """List the universe at the start step (no trades, no settlements: nothing happened yet)."""
        self._loaded = True
        return self._apply(self.step, first=True)

    def advance(self, steps: int = 1) -> list[StepReport]:
        """Move ``steps`` steps on; return what each changed."""
        if not self._loaded:
            self.load()
        return [self._apply(self.step + 1, first=False) for _ in range(max(0, steps))]

    def _apply(self, step: int, *, first: bool) -> StepReport:
        u, engine = self.universe, self.engine
        prev = self.step
        self.step = step
        now = self._now_ms()
        report = StepReport(step)
        self._list_events(step, now)
        for m in u.markets_at(step):
            rec = self.markets.get(m.ticker)
            if rec is None:
                ev_sub = self._listed_in.get(m.ticker)
                ev = ev_sub[0] if ev_sub else None
                self._seq += 1
                rec = MarketRecord(
                    self._seq,
                    m.ticker,
                    m.event_ticker,
                    m.series_ticker,
                    m,
                    ev_sub[1] if ev_sub else m.title,
                    created_ms=now,
                    open_ms=ev.open_ms if ev else now,
                    close_ms=m.close_ts_ms or (ev.close_ms if ev else now),
                    updated_ms=now,
                    market_id=market_uuid(m.ticker),
                    price_level_structure=self._structure(m.series_ticker),
                )
                self.markets[m.ticker] = rec
                self.market_list.append(rec)
                report.created.append(m.ticker)
            elif rec.result:
                continue  # settled: the engine keeps it finalized
            else:
                old = rec.market
                if old == m:
                    continue  # nothing about the market changed this step
                rec.prev_yes_bid, rec.prev_yes_ask, rec.prev_last = old.yes_bid, old.yes_ask, old.last_price
                rec.market = m
                rec.updated_ms = now
                if (
                    old.yes_bids == m.yes_bids
                    and old.no_bids == m.no_bids
                    and old.status == m.status
                    and old.price_ranges == m.price_ranges
                ):
                    # the universe often keeps a book for several steps; re-applying an identical
                    # snapshot changes nothing in the engine (docs/paper-fills.md §3) and is most
                    # of a step's cost
                    continue
            engine.apply_market(m)
            report.markets += 1
        if not first:
            if not self.trades_paused:
                # the universe lists trades market by market; the tape is in time order
                for t in sorted(u.trades_between(prev, step), key=_trade_time):
                    try:
                        engine.apply_trade(t)
                    except NotFound:
                        continue
                    report.trades.append(t)
            for s in u.settlements_between(prev, step):
                rec = self.markets.get(s.ticker)
                if rec is None or rec.result or not engine.has_market(s.ticker):
                    continue
                engine.settle(s.ticker, s.result, s.value)
                rec.result = s.result
                rec.settlement_value = s.value
                rec.settled_ms = now
                rec.updated_ms = now
                report.settlements.append(s)
        self._prune(now)
        return report

    # ------------------------------------------------------------------ catalog
    def _list_events(self, step: int, now: int) -> None:
        for info in self.universe.events_at(step):
            ev = self.events.get(info.event_ticker)
            if ev is None:
                self._seq += 1
                ev = EventRecord(
                    self._seq,
                    info.event_ticker,
                    info.series_ticker,
                    info.title,
                    sub_title=info.title,
                    category=info.category,
                    mutually_exclusive=info.mutually_exclusive,
                    open_ms=info.open_ts_ms,
                    close_ms=info.close_ts_ms,
                    updated_ms=now,
                    tickers=list(info.market_tickers),
                    multivariate=info.shape == "combo",
                )
                self.events[info.event_ticker] = ev
                self.event_list.append(ev)
                for t, sub in zip(info.market_tickers, info.market_subtitles, strict=False):
                    self._listed_in[t] = (ev, sub)

    def _structure(self, series_ticker: str) -> str:
        s = self.series.get(series_ticker)
        return s.price_level_structure if s else "linear_cent"

    def _prune(self, now: int) -> None:
        """Move settled markets long past settlement to the archive, so listings stay bounded."""
        if self.step % 100:
            return
        cutoff = now - self.retain_settled_ms
        keep = [r for r in self.market_list if r.settled_ms is None or r.settled_ms >= cutoff]
        gone = {r.ticker for r in self.market_list} - {r.ticker for r in keep}
        if not gone:
            return
        for t in gone:
            self.archive[t] = self.markets.pop(t)
            self._listed_in.pop(t, None)
        while len(self.archive) > ARCHIVE_MAX:
            old = next(iter(self.archive))
            del self.archive[old]
            if self._on_forget is not None:
                self._on_forget(old)
        self.market_list = keep
        live_events = {r.event_ticker for r in keep}
        self.event_list = [e for e in self.event_list if e.event_ticker in live_events]
        for t in [t for t in self.events if t not in live_events]:
            del self.events[t]

    def markets_after(self, seq: int) -> list[MarketRecord]:
        """Markets listed after cursor ``seq``, in listing order."""
        return self.market_list[bisect_left(self.market_list, seq + 1, key=_seq) :]

    def events_after(self, seq: int) -> list[EventRecord]:
        """Events listed after cursor ``seq``, in listing order."""
        return self.event_list[bisect_left(self.event_list, seq + 1, key=_seq) :]


def _seq(r: MarketRecord | EventRecord) -> int:
    return r.seq


def _trade_time(t: Trade) -> int:
    return t.ts_ms
