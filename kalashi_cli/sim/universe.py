"""The built-in simulated market universe (``--source sim``): deterministic, random access.

The state at iteration ``step`` is a pure function of ``(seed, markets, step)``: any process
can rebuild exactly the same books from a descriptor such as ``sim:seed=0,markets=2000,step=3``
(a later stage of a shell pipe does exactly that). Nothing is carried from one step to the
next except caches.

How it is built (docs/sim-calibration.md has the numbers):

* **Layout.** Event *slots* across six category groups (:mod:`.universe_catalog`), filled until
  the universe holds exactly ``markets`` markets. Each slot has a series, a shape (binary,
  mutually exclusive outcomes, ``above K`` ladder, range brackets, combo), a size, and a
  lifetime in steps. When an event closes it settles, and the next *generation* of the slot
  opens with new tickers (``…G<generation>`` ends the event ticker), so trading never stops.
* **Hidden truth.** Every event has a latent path: an exact Brownian motion at every step,
  built Lévy–Ciesielski style (a dozen Schauder tents, one hash each: random access, no
  history). Ladders and brackets read P(final value in a range) off a normal law around the
  path, which makes ladders monotone and brackets sum to one by construction; mutually
  exclusive outcomes are a softmax of per-outcome paths (sum to one; a hidden "other" outcome
  carries the rest when the list is not exhaustive). At close the result is drawn with exactly
  the hidden probability at close (normal noise for ranges, the Gumbel-max trick for
  outcomes), so one winner per exhaustive event and consistent results along a ladder are
  automatic.
* **Market view and books.** The market's belief absorbs news partly late (the path seen 1
  and 5 minutes ago), carries a smooth event-wide error (so books stay coherent across an
  event) and a favourite–longshot bias; the book is placed on the market's tick grid around
  it with a calibrated spread and filled with calibrated depth on both sides (bids only,
  Kalshi-style). Wide books sit off the belief by up to what their spread allows. Deep tails
  get empty sides, as real long shots do.
* **Order flow** (:mod:`.universe_flow`). Public prints split each step's volume growth among
  informed takers — who trade toward the hidden probability, more of them near the close and
  in wide books — and noise takers who lean toward long shots. So a passive fill is followed
  by the price moving against it, as on the real runs (docs/sim-calibration.md).
* **Dislocations.** With a small seeded probability per (event, 40-step window) an event is
  mispriced for 2–6 steps and heals: internally consistent value gaps, or wide spreads around
  a book that is about to move. Riskless ones — fee-positive NO baskets, exhaustive YES
  baskets, ladder inversions — are far rarer (``arbitrage_share`` of the draws, 5 % by
  default), last one step and show the 1–10 contracts competing arbitrageurs left, as the
  real captures (none at all) allow. Sizes at those levels are thin.
* **Forecast.** ``Market.forecast_p`` is published only when asked (``forecast_skill``): the
  book's mid moved toward the hidden probability by that share of the gap. By default there
  is none, so nothing a strategy reads knows more than the market.

The numbers live in :mod:`.universe_core` (numpy, one vectorised pass per step), the slots
and their arrays in :mod:`.universe_layout`, the tickers and titles in :mod:`.universe_names`,
trades and settlements in :mod:`.universe_prints`; this module answers the questions (markets,
events, trades, settlements, ground truth at a step) and builds the immutable domain objects.
Floats are used for the latent model only: every price, size and volume emitted is an exact
int in :mod:`kalashi_cli.money` units.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Iterator
from dataclasses import dataclass

from ..domain import Market, Settlement, Trade
from ..money import ONE_DOLLAR, Count
from . import universe_core as core
from . import universe_prints as prints
from .universe_books import MASK64, SIDES, mix64, new_market, side_for_key
from .universe_layout import SeriesInfo, Slot, lay_out
from .universe_names import DATECODE_LEN, NameCache, Names

__all__ = ["EPOCH_MS", "Dislocation", "EventInfo", "SeriesInfo", "SimUniverse"]

EPOCH_MS = 1_767_268_800_000  # 2026-01-01T12:00:00Z

_CORES_KEPT = 2
#: One int object per price unit, index −1 → None (no price): markets share them.
_PRICE_INTS: list[int | None] = [*range(ONE_DOLLAR + 1), None]


# --------------------------------------------------------------------------- public metadata


@dataclass(frozen=True, slots=True)
class EventInfo:
    """One event at a step, with its markets in listing order."""

    event_ticker: str
    series_ticker: str
    title: str
    category: str
    shape: str  # binary | me | ladder | brackets | combo
    mutually_exclusive: bool
    exhaustive: bool
    status: str
    open_ts_ms: int
    close_ts_ms: int
    close_time: str
    market_tickers: tuple[str, ...]
    market_subtitles: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Dislocation:
    """A deliberate mispricing of one event: steps ``start_step <= s < end_step``."""

    event_ticker: str
    kind: str  # no_basket | yes_basket | ladder | value | wide
    start_step: int
    end_step: int


class SimUniverse:
    """A deterministic synthetic Kalshi: ``markets`` markets whose state at a step is a pure function."""

    def __init__(
        self,
        seed: int = 0,
        markets: int = 2000,
        *,
        step_seconds: int = 10,
        epoch_ms: int = EPOCH_MS,
        forecast_skill: float | None = None,
        arbitrage_share: float = core.ARBITRAGE_SHARE,
    ) -> None:
        """Lay out the universe.

        ``forecast_skill`` (0 … 1) publishes ``Market.forecast_p``: the book's mid moved toward
        the hidden probability by that share of the gap (1 is an oracle). None (the default)
        publishes no forecast, so nothing a strategy reads knows more than the market.
        ``arbitrage_share`` (0 … 1): the chance a drawn arbitrage dislocation stands (the default
        is calibrated; raise it only to exercise the arbitrage path).

        Raises:
            ValueError: ``markets`` < 1, ``step_seconds`` < 1, ``forecast_skill`` or
                ``arbitrage_share`` outside 0 … 1.
        """
        if markets < 1:
            raise ValueError(f"markets must be at least 1, got {markets}")
        if step_seconds < 1:
            raise ValueError(f"step_seconds must be at least 1, got {step_seconds}")
        if forecast_skill is not None and not 0.0 <= forecast_skill <= 1.0:
            raise ValueError(f"forecast_skill must be between 0 and 1, got {forecast_skill}")
        if not 0.0 <= arbitrage_share <= 1.0:
            raise ValueError(f"arbitrage_share must be between 0 and 1, got {arbitrage_share}")
        self.forecast_skill = forecast_skill
        self.arbitrage_share = arbitrage_share
        self.seed = seed
        self.markets = markets
        self.step_seconds = step_seconds
        self.epoch_ms = epoch_ms
        self.step_ms = step_seconds * 1000
        self._key = mix64((seed & MASK64) ^ 0x6B616C617368691)
        laid = lay_out(self._key, markets)
        self._slots: list[Slot] = laid.slots
        self._by_tag = laid.by_tag
        self._series = laid.series
        self._lay = laid.arrays
        self._names = NameCache(len(self._slots), epoch_ms, self.step_ms)
        self._cores: dict[int, core.Core] = {}
        self._lists: dict[int, list[list[int]]] = {}
        self._cache_step: int | None = None
        self._cache: list[Market] = []
        self._cache_index: dict[str, Market] | None = None

    # ------------------------------------------------------------------ time and steps
    def time_ms(self, step: int) -> int:
        """Return the sim clock at ``step`` in Unix ms."""
        return self.epoch_ms + step * self.step_ms

    def describe(self, step: int) -> str:
        """Return the source descriptor that rebuilds this universe at ``step``."""
        return f"sim:seed={self.seed},markets={self.markets},step={step}"

    def _core(self, step: int) -> core.Core:
        if step < 0:
            raise ValueError(f"step must be >= 0, got {step}")
        c = self._cores.get(step)
        if c is None:
            c = core.compute(self._lay, step, self.forecast_skill, self.arbitrage_share)
            while len(self._cores) >= _CORES_KEPT:
                old = next(iter(self._cores))
                del self._cores[old]
                self._lists.pop(old, None)
            self._cores[step] = c
        return c

    def _py(self, c: core.Core) -> list[list[int]]:
        """The per-market arrays of a core as Python lists (element access in the object loops).

        Only the latest step's lists are kept: they hold a Python int per market and field.
        Prices come from one shared table of int objects, so the markets of a step do not each
        carry their own copies.
        """
        lists = self._lists.get(c.step)
        if lists is None:
            self._lists.clear()
            yk, nk, vol, oi, last, fc, codes = core.as_lists(
                c.yes_key, c.no_key, c.vol * 100, c.oi * 100, c.last, c.forecast, c.code
            )
            lists = [yk, nk, vol, oi, [_PRICE_INTS[x] for x in last], [_PRICE_INTS[x] for x in fc], codes]
            self._lists[c.step] = lists
        return lists

    # ------------------------------------------------------------------ markets
    def iter_markets_at(self, step: int) -> Iterator[Market]:
        """Yield every market at ``step`` (all statuses), event by event.

        A full pass is remembered, so the trades and books of the same step cost nothing more.

        Raises:
            ValueError: ``step`` is negative.
        """
        if step == self._cache_step:
            yield from self._cache
            return
        c = self._core(step)
        lists = self._py(c)
        self._forget()
        acc: list[Market] = []
        for slot in self._slots:
            ms = slot_markets(self._names.get(slot, c), slot, c, lists)
            acc.extend(ms)
            yield from ms
        self._remember(step, acc)

    def _forget(self) -> None:
        # drop the previous step's markets before building the next: fewer live objects for
        # the cyclic GC to traverse while 100 000 new ones are allocated
        self._cache_step, self._cache, self._cache_index = None, [], None

    def _remember(self, step: int, markets: list[Market]) -> None:
        # the markets now hold everything; the per-market lists would only double the memory
        self._lists.clear()
        self._cache_step, self._cache, self._cache_index = step, markets, None

    def markets_at(self, step: int) -> list[Market]:
        """Return every market at ``step`` (all statuses), grouped by event.

        Raises:
            ValueError: ``step`` is negative.
        """
        if step != self._cache_step:
            c = self._core(step)
            lists = self._py(c)
            self._forget()
            acc: list[Market] = []
            for slot in self._slots:
                acc += slot_markets(self._names.get(slot, c), slot, c, lists)
            self._remember(step, acc)
        return self._cache

    def _locate(self, ticker: str) -> tuple[Slot, int] | None:
        """Find the slot and generation of a market ticker (our own ticker format)."""
        event, sep, _suffix = ticker.rpartition("-")
        series, sep2, rest = event.partition("-")
        if not sep or not sep2 or series not in self._series:
            return None
        body, g, gen_text = rest.rpartition("G")
        if not g or not gen_text.isdigit():
            return None
        for length in set(DATECODE_LEN.values()):
            slot = self._by_tag.get((series, body[length:]))
            if slot is not None and DATECODE_LEN[slot.spec.datecode] == length:
                return slot, int(gen_text)
        return None

    def _core_for(self, slot: Slot, gen: int, step: int) -> core.Core | None:
        """Return the core that shows generation ``gen`` of ``slot`` as of ``step`` (past: at settlement)."""
        cur = (step + slot.phase) // slot.life
        if gen > cur:
            return None
        if gen == cur:
            return self._core(step)
        return self._core(gen * slot.life - slot.phase + slot.life - 1)

    def market_at(self, ticker: str, step: int) -> Market | None:
        """Return one market at ``step``, or None if there is no such ticker (yet).

        A ticker of a past generation is returned as it stood once settled (status
        ``finalized``, empty book).

        Raises:
            ValueError: ``step`` is negative.
        """
        if step < 0:
            raise ValueError(f"step must be >= 0, got {step}")
        if step == self._cache_step:
            if self._cache_index is None:
                self._cache_index = {m.ticker: m for m in self._cache}
            cached = self._cache_index.get(ticker)
            if cached is not None:
                return cached
        found = self._locate(ticker)
        if found is None:
            return None
        slot, gen = found
        c = self._core_for(slot, gen, step)
        if c is None:
            return None
        names = self._names.get(slot, c)
        j = names.index.get(ticker)
        if j is None:
            return None
        return slot_markets(names, slot, c, self._py(c))[j]

    # ------------------------------------------------------------------ ground truth
    def hidden_probability(self, ticker: str, step: int) -> float | None:
        """Return one market's hidden true P(YES) at ``step`` while it trades or at its close (else None)."""
        found = self._locate(ticker)
        if found is None:
            return None
        slot, gen = found
        c = self._core(step)
        t = int(c.t[slot.index])
        if int(c.gen[slot.index]) != gen or not 0 < t <= slot.life - 2:
            return None
        j = self._names.get(slot, c).index.get(ticker)
        return None if j is None else float(core.hidden(self._lay, c)[slot.moff + j])

    def hidden_probabilities_at(self, step: int) -> dict[str, float]:
        """Return the hidden true P(YES) of every open (or just closed) market at ``step``."""
        c = self._core(step)
        p = core.hidden(self._lay, c).tolist()
        out: dict[str, float] = {}
        for slot in self._slots:
            t = int(c.t[slot.index])
            if 0 < t <= slot.life - 2:
                names = self._names.get(slot, c)
                for j, ticker in enumerate(names.tickers):
                    out[ticker] = p[slot.moff + j]
        return out

    def dislocations_at(self, step: int) -> list[Dislocation]:
        """Return the deliberate mispricings active at ``step`` (ground truth, for tests and demos)."""
        c = self._core(step)
        return [
            Dislocation(self._names.get(self._slots[si], c).ticker, kind, start, end)
            for si, kind, start, end in c.dislocations
        ]

    # ------------------------------------------------------------------ settlements and trades
    def settlements_between(self, a: int, b: int) -> list[Settlement]:
        """Return settlements of events finalized at a step ``s`` with ``a < s <= b``."""
        out: list[Settlement] = []
        for s in range(max(a, -1) + 1, b + 1):
            out.extend(self._settlements_at(s))
        return out

    def settlement_for(self, ticker: str, step: int) -> Settlement | None:
        """Return a market's settlement if it has settled by ``step`` (else None)."""
        found = self._locate(ticker)
        if found is None:
            return None
        slot, gen = found
        settle = gen * slot.life - slot.phase + slot.life - 1
        if settle > step or step < 0:
            return None
        for x in self._settlements_at(settle, only=slot.index):
            if x.ticker == ticker:
                return x
        return None

    def _settlements_at(self, step: int, only: int | None = None) -> list[Settlement]:
        return prints.settlements(self._core(step), self._lay, self._slots, self._names, self.time_ms(step), only)

    def trades_between(self, a: int, b: int, tickers: Collection[str] | None = None) -> list[Trade]:
        """Return public trades printed in steps ``a < s <= b`` (of ``tickers`` only, when given).

        Prints take the touch of the book at ``s``, or — an informed trader whose value lies
        inside the spread — that value; trade sizes add up to each market's volume growth
        over the same steps.
        """
        out: list[Trade] = []
        for s in range(max(a, 0) + 1, b + 1):
            out.extend(self._trades_at(s, tickers))
        return out

    def _indices(self, tickers: Collection[str], step: int) -> set[int]:
        """Market indices of the tickers that exist at ``step`` (current generations only)."""
        c = self._core(step)
        out: set[int] = set()
        for t in tickers:
            found = self._locate(t)
            if found is None or int(c.gen[found[0].index]) != found[1]:
                continue
            j = self._names.get(found[0], c).index.get(t)
            if j is not None:
                out.add(found[0].moff + j)
        return out

    def _trades_at(self, step: int, tickers: Collection[str] | None = None) -> list[Trade]:
        """The public prints of the step (:func:`.universe_prints.trades`)."""
        c = self._core(step)
        idx = prints.trading(c, self._lay)
        if tickers is not None:
            wanted = self._indices(tickers, step)
            idx = [i for i in idx if i in wanted]
        if not idx:
            return []
        return prints.trades(c, self._lay, self._slots, self._names, idx, self.time_ms(step - 1), self.step_ms)

    # ------------------------------------------------------------------ metadata
    def series(self) -> list[SeriesInfo]:
        """Return every series present in the universe."""
        return list(self._series.values())

    def events_at(self, step: int) -> list[EventInfo]:
        """Return every event at ``step`` with its markets and exclusivity flags."""
        c = self._core(step)
        out = []
        for slot in self._slots:
            names = self._names.get(slot, c)
            spec = slot.spec
            out.append(
                EventInfo(
                    names.ticker,
                    slot.series,
                    names.title,
                    spec.category,
                    spec.shape,
                    slot.mutually_exclusive,
                    slot.exhaustive,
                    core.STATUSES[int(c.code[slot.index])],
                    names.open_ms,
                    names.close_ms,
                    names.close_time,
                    tuple(names.tickers),
                    tuple(names.subtitles),
                )
            )
        return out


def slot_markets(names: Names, slot: Slot, c: core.Core, lists: list[list[int]]) -> list[Market]:
    """The markets of one event slot as domain ``Market``s, from the step's columns (``lists``: book keys,
    volume, open interest, last price, forecast, status codes) and the slot's names."""
    spec = slot.spec
    a0 = slot.moff
    a1 = a0 + slot.size
    yk, nk, vol, oi, last, fc, codes = lists
    status = core.STATUSES[codes[slot.index]]
    get = SIDES.get
    # per-event constants, hoisted out of the per-market loop (it runs 100 000 times a step)
    event, series, category, close_time, close_ms = (
        names.ticker,
        slot.series,
        spec.category,
        names.close_time,
        names.close_ms,
    )
    fee_type, fee_mult, bands = spec.fee_type, spec.fee_multiplier, slot.grid.bands
    me, exhaustive, combo, size = slot.mutually_exclusive, slot.exhaustive, slot.combo, slot.size
    out = []
    for ticker, title, strike_type, floor, cap, ky, kn, v, o, lp, f in zip(
        names.tickers,
        names.titles,
        names.strike_types,
        names.floors,
        names.caps,
        yk[a0:a1],
        nk[a0:a1],
        vol[a0:a1],
        oi[a0:a1],
        last[a0:a1],
        fc[a0:a1],
        strict=True,
    ):
        yes = get(ky)
        if yes is None:
            yes = side_for_key(ky)
        no = get(kn)
        if no is None:
            no = side_for_key(kn)
        out.append(
            new_market(
                ticker,
                event,
                series,
                title,
                category,
                status,
                close_time,
                yes,
                no,
                v,
                o,
                fee_type,
                fee_mult,
                bands,
                strike_type,
                floor,
                cap,
                me,
                exhaustive,
                combo,
                lp,
                f,
                0,
                size,
                close_ms,
            )
        )
    if c.thin:
        for i in range(a0, a1):
            if i in c.thin:  # a dislocated best level: same prices, thin size
                m = out[i - a0]
                ty, tn = c.thin[i]
                yes = ((m.yes_bids[0][0], Count(ty)), *m.yes_bids[1:]) if m.yes_bids else ()
                no = ((m.no_bids[0][0], Count(tn)), *m.no_bids[1:]) if m.no_bids else ()
                out[i - a0] = dataclasses.replace(m, yes_bids=yes, no_bids=no)
    return out
