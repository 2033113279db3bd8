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

The numbers live in :mod:`.universe_core` (numpy, one vectorised pass per step); this module
names things and builds the immutable domain objects. Floats are used for the latent model
only: every price, size and volume emitted is an exact int in :mod:`kalashi_cli.money` units.
"""

from __future__ import annotations

import dataclasses
import math
import time as _time
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from decimal import Decimal
from statistics import NormalDist
from typing import Any

import numpy as np

from ..domain import Market, Settlement, Trade
from ..money import ONE_DOLLAR, Count, Price, snap
from . import universe_core as core
from .universe_books import (
    GOLDEN,
    GRIDS,
    MASK64,
    SIDES,
    TABLE_IDS,
    Stream,
    hash2,
    mix64,
    new_market,
    side_for_key,
    unit,
)
from .universe_catalog import (
    CLASS_MIX,
    GROUP_SHARES,
    POOLS,
    SERIES,
    VOLUME_MEDIAN,
    ZERO_VOLUME_SHARE,
    SeriesSpec,
)
from .universe_flow import MAX_PRINTS, flow
from .universe_flow import params as flow_params

EPOCH_MS = 1_767_268_800_000  # 2026-01-01T12:00:00Z

_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_MONTH_NAMES = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
                "October", "November", "December")
_DATECODE_LEN = {"minute": 11, "hour": 9, "day": 7, "month": 5, "year": 2}
_SHAPE_CODE = {name: i for i, name in enumerate(core.SHAPES)}
_POOL_CODE = {"fed": core.POOL_FED, "parties": core.POOL_PARTIES}
_ND = NormalDist()
_CORES_KEPT = 2
_DECIMALS: dict[str, Decimal] = {}  # strike values shared between events and generations
#: One int object per price unit, index −1 → None (no price): markets share them.
_PRICE_INTS: list[int | None] = [*range(ONE_DOLLAR + 1), None]


def _decimal(text: str) -> Decimal:
    d = _DECIMALS.get(text)
    if d is None:
        if len(_DECIMALS) > 100_000:
            _DECIMALS.clear()
        d = _DECIMALS[text] = Decimal(text)
    return d


# --------------------------------------------------------------------------- public metadata


@dataclass(frozen=True, slots=True)
class SeriesInfo:
    """A series in the universe (GET /series/{ticker} shape, for the simulator server)."""

    ticker: str
    title: str
    category: str
    fee_type: str
    fee_multiplier: int  # 1/10 000
    price_level_structure: str
    frequency: str


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


# --------------------------------------------------------------------------- internal structures


class _Slot:
    """One event slot: series, shape and size never change; each generation renames it."""

    __slots__ = ("index", "spec", "series", "member", "tag", "size", "n", "life", "phase", "key", "exhaustive",
                 "pair", "grid", "moff", "poff", "mutually_exclusive", "combo")

    def __init__(self, index: int, spec: SeriesSpec, series: str, member: tuple[str, str, int] | None, tag: str,
                 size: int, n: int, life: int, phase: int, key: int, exhaustive: bool,
                 pair: tuple[int, int] | None) -> None:
        self.index = index
        self.spec = spec
        self.series = series
        self.member = member
        self.tag = tag
        self.size = size
        self.n = n
        self.life = life
        self.phase = phase
        self.key = key
        self.exhaustive = exhaustive
        self.pair = pair
        self.grid = GRIDS[spec.grid]
        self.moff = 0
        self.poff = 0
        self.mutually_exclusive = spec.shape in ("me", "brackets")
        self.combo = spec.shape == "combo"


class _Names:
    """The strings of one generation of a slot: tickers, titles, strikes, times."""

    __slots__ = ("gen", "ticker", "title", "close_time", "close_ms", "open_ms", "tickers", "titles", "subtitles",
                 "strike_types", "floors", "caps", "index", "_rows")

    gen: int
    ticker: str  # the event ticker
    title: str
    close_time: str
    close_ms: int
    open_ms: int
    tickers: tuple[str, ...]
    titles: tuple[str, ...]
    subtitles: tuple[str, ...]
    strike_types: tuple[str | None, ...]
    floors: tuple[Decimal | None, ...]
    caps: tuple[Decimal | None, ...]
    index: dict[str, int]

    def __init__(self, gen: int) -> None:
        self.gen = gen
        self._rows: list[tuple[str, str, str, str | None, Decimal | None, Decimal | None]] = []

    def add(self, ticker: str, title: str, subtitle: str, strike_type: str | None, floor: Decimal | None,
            cap: Decimal | None) -> None:
        self._rows.append((ticker, title, subtitle, strike_type, floor, cap))

    def seal(self) -> None:
        """Freeze the columns as tuples: the cyclic GC untracks tuples of strings, never lists."""
        cols: tuple[tuple[Any, ...], ...] = tuple(zip(*self._rows, strict=True))
        self.tickers, self.titles, self.subtitles, self.strike_types, self.floors, self.caps = cols
        del self._rows
        self.index = {t: j for j, t in enumerate(self.tickers)}


def _fmt_lattice(v: int, decimals: int, scale: int = 1) -> str:
    return format(Decimal(v * scale).scaleb(-decimals), "f")


def _letters(k: int) -> str:
    """0 → '', 1 → 'B', 2 → 'C', … 25 → 'Z', 26 → 'BA' (letters only)."""
    if k == 0:
        return ""
    out = ""
    while k:
        k, r = divmod(k, 26)
        out = chr(65 + r) + out
    return out


def _nth_pair(k: int, n: int) -> tuple[int, int]:
    """Return the k-th pair (i < j) of n items, neighbours first (so early pairs differ)."""
    pairs = [(i, i + d) for d in range(1, n) for i in range(n - d)]
    return pairs[k % len(pairs)]


class SimUniverse:
    """A deterministic synthetic Kalshi: ``markets`` markets whose state at a step is a pure function."""

    def __init__(self, seed: int = 0, markets: int = 2000, *, step_seconds: int = 10,
                 epoch_ms: int = EPOCH_MS, forecast_skill: float | None = None,
                 arbitrage_share: float = core.ARBITRAGE_SHARE) -> None:
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
        self._slots: list[_Slot] = []
        self._by_tag: dict[tuple[str, str], _Slot] = {}
        self._series: dict[str, SeriesInfo] = {}
        self._names: list[_Names | None] = []
        self._cores: dict[int, core.Core] = {}
        self._lists: dict[int, list[list[int]]] = {}
        self._cache_step: int | None = None
        self._cache: list[Market] = []
        self._cache_index: dict[str, Market] | None = None
        self._layout()

    # ------------------------------------------------------------------ layout
    def _layout(self) -> None:
        by_group: dict[str, list[SeriesSpec]] = {}
        for spec in SERIES:
            by_group.setdefault(spec.group, []).append(spec)
        singles = {g: [s for s in specs if s.n == (1, 1)] for g, specs in by_group.items()}
        weights = {g: [x.weight for x in specs] for g, specs in by_group.items()}
        counts = dict.fromkeys(GROUP_SHARES, 0)
        per_series: dict[str, int] = {}
        total = 0
        index = 0
        while total < self.markets:
            remaining = self.markets - total
            # the group furthest below its share gets the next slot: exact proportions, no drift
            group = max(GROUP_SHARES, key=lambda g: GROUP_SHARES[g] * (total + 1) - counts[g])
            s = Stream(hash2(self._key, index))
            specs = by_group[group]
            spec = specs[s.choice_weighted(weights[group])]
            n, size, exhaustive = self._shape_size(spec, s)
            if size > remaining:
                spec = singles[group][s.next() % len(singles[group])]
                n, size, exhaustive = 1, 1, False
            member = spec.members[s.next() % len(spec.members)] if spec.members else None
            series = spec.ticker.format(m=member[0]) if member else spec.ticker
            k = per_series.get(series, 0)
            per_series[series] = k + 1
            pair = None
            if spec.pairs:
                pool = POOLS[spec.pool]
                npairs = len(pool) * (len(pool) - 1) // 2
                pair = _nth_pair(k % npairs, len(pool))
                tag = pool[pair[0]][0] + pool[pair[1]][0] + _letters(k // npairs)
            else:
                tag = _letters(k)
            life = s.randint(*spec.life)
            slot = _Slot(index, spec, series, member, tag, size, n, life, s.next() % life, s.next(), exhaustive, pair)
            slot.moff = total
            self._slots.append(slot)
            self._by_tag[(series, tag)] = slot
            if series not in self._series:
                title = spec.title.format(name=member[1]) if member else spec.title
                self._series[series] = SeriesInfo(series, title, spec.category, spec.fee_type, spec.fee_multiplier,
                                                  spec.grid, spec.frequency)
            counts[group] += size
            total += size
            index += 1
        self._names = [None] * len(self._slots)
        self._lay = self._arrays()

    @staticmethod
    def _shape_size(spec: SeriesSpec, s: Stream) -> tuple[int, int, bool]:
        """Return (shape parameter n, markets in the event, exhaustive) for a new slot."""
        if spec.shape in ("binary", "combo"):
            return 1, 1, False
        n = s.randint(*spec.n)
        exhaustive = s.uniform() < spec.exhaustive
        if spec.shape == "me":
            if spec.pairs:
                n = 3 if spec.draw else 2
                exhaustive = True
            return n, n, exhaustive
        if spec.shape == "brackets":
            return n, n + (2 if exhaustive else 0), exhaustive
        return n, n, False  # ladder

    def _arrays(self) -> core.Layout:
        """Describe the slots as the flat arrays the numeric core works on."""
        slot_cols: dict[str, list[Any]] = {k: [] for k in (
            "life", "phase", "key", "moff", "msize", "poff", "psize", "n", "shape", "exhaustive", "gid", "top",
            "group_table", "level", "jitter", "spacing", "soff", "half", "zero_share", "mix0", "mix01", "vmed",
            "pool", "levels", "open_sd", "lag_share", "lag_steps", "slow_share", "slow_steps", "err_scale",
            "longshot", "activity", "terminal")}
        p_slot: list[int] = []
        p_j: list[int] = []
        p_other: list[bool] = []
        m_slot: list[int] = []
        m_j: list[int] = []
        m_path: list[int] = []
        m_kind: list[int] = []
        m_bj: list[int] = []
        fee_type: list[str] = []
        fee_mult: list[int] = []
        kinds: list[tuple[str, ...]] = []
        for slot in self._slots:
            spec = slot.spec
            shape = _SHAPE_CODE[spec.shape]
            u = spec.underlying
            mix = spec.class_mix or CLASS_MIX[spec.group]
            slot.poff = len(p_slot)
            if shape == core.ME:
                paths = slot.n + (0 if slot.exhaustive else 1)
                for j in range(paths):
                    p_slot.append(slot.index)
                    p_j.append(j)
                    p_other.append(j >= slot.n)
            else:
                paths = 1
                p_slot.append(slot.index)
                p_j.append(0)
                p_other.append(False)
            for j in range(slot.size):
                m_slot.append(slot.index)
                m_j.append(j)
                if shape == core.ME:
                    m_path.append(slot.poff + j)
                    m_kind.append(core.K_OUTCOME)
                    m_bj.append(j)
                    continue
                m_path.append(slot.poff)
                if shape in (core.BINARY, core.COMBO):
                    m_kind.append(core.K_BINARY)
                    m_bj.append(0)
                elif shape == core.LADDER:
                    m_kind.append(core.K_LADDER)
                    m_bj.append(j)
                elif slot.exhaustive and j == 0:
                    m_kind.append(core.K_LESS)
                    m_bj.append(0)
                elif slot.exhaustive and j == slot.size - 1:
                    m_kind.append(core.K_GREATER)
                    m_bj.append(0)
                else:
                    m_kind.append(core.K_BETWEEN)
                    m_bj.append(j - 1 if slot.exhaustive else j)
            c = slot_cols
            c["life"].append(slot.life)
            c["phase"].append(slot.phase)
            c["key"].append(slot.key)
            c["moff"].append(slot.moff)
            c["msize"].append(slot.size)
            c["poff"].append(slot.poff)
            c["psize"].append(paths)
            c["n"].append(slot.n)
            c["shape"].append(shape)
            c["exhaustive"].append(slot.exhaustive)
            c["gid"].append(slot.grid.gid)
            c["top"].append(slot.grid.n - 1)
            c["group_table"].append([TABLE_IDS[(spec.group, k)] for k in range(3)])
            level = (u.level + (slot.member[2] * 10**u.decimals if slot.member else 0)) if u else 0
            c["level"].append(float(level))
            c["jitter"].append(u.jitter if u else 0.0)
            c["spacing"].append(u.spacing if u else 1)
            c["soff"].append(u.strike_offset if u else 0)
            c["half"].append(1 if u and u.half_strikes else 0)
            c["zero_share"].append(ZERO_VOLUME_SHARE if spec.shape != "combo" else 0.6)
            c["mix0"].append(mix[0])
            c["mix01"].append(mix[0] + mix[1])
            c["vmed"].append(VOLUME_MEDIAN[spec.group])
            c["pool"].append(core.POOL_PAIRS if spec.pairs else _POOL_CODE.get(spec.pool, core.POOL_CANDIDATES))
            c["levels"].append(max(1, (slot.life - 3).bit_length()))  # 2**levels ≥ the close step
            c["open_sd"].append(spec.open_sd)
            c["activity"].append(spec.activity)
            c["terminal"].append(spec.terminal_share)
            fp = flow_params(spec.group)
            c["lag_share"].append(fp.lag_share)
            c["lag_steps"].append(fp.lag_steps)
            c["slow_share"].append(fp.slow_share)
            c["slow_steps"].append(fp.slow_steps)
            c["err_scale"].append(fp.error_scale)
            c["longshot"].append(fp.longshot)
            fee_type.append(spec.fee_type)
            fee_mult.append(spec.fee_multiplier)
            kinds.append(core.dislocation_kinds(shape, slot.size, slot.exhaustive))
        i64 = np.int64
        c = slot_cols
        return core.Layout(
            life=np.array(c["life"], i64), phase=np.array(c["phase"], i64), key=np.array(c["key"], np.uint64),
            moff=np.array(c["moff"], i64), msize=np.array(c["msize"], i64), poff=np.array(c["poff"], i64),
            psize=np.array(c["psize"], i64), n=np.array(c["n"], i64), shape=np.array(c["shape"], i64),
            exhaustive=np.array(c["exhaustive"], bool), gid=np.array(c["gid"], i64), top=np.array(c["top"], i64),
            group_table=np.array(c["group_table"], i64), level=np.array(c["level"]), jitter=np.array(c["jitter"]),
            spacing=np.array(c["spacing"], i64), soff=np.array(c["soff"], i64), half=np.array(c["half"], i64),
            zero_share=np.array(c["zero_share"]), mix0=np.array(c["mix0"]), mix01=np.array(c["mix01"]),
            vmed=np.array(c["vmed"]), pool=np.array(c["pool"], i64), levels=np.array(c["levels"], i64),
            open_sd=np.array(c["open_sd"]), lag_share=np.array(c["lag_share"]), lag_steps=np.array(c["lag_steps"], i64),
            slow_share=np.array(c["slow_share"]), slow_steps=np.array(c["slow_steps"], i64),
            err_scale=np.array(c["err_scale"]), activity=np.array(c["activity"]), terminal=np.array(c["terminal"]), longshot=np.array(c["longshot"]), fee_type=fee_type, fee_mult=fee_mult,
            kinds=kinds, p_slot=np.array(p_slot, i64), p_j=np.array(p_j, i64), p_other=np.array(p_other, bool),
            m_slot=np.array(m_slot, i64), m_j=np.array(m_j, i64), m_path=np.array(m_path, i64),
            m_kind=np.array(m_kind, i64), m_bj=np.array(m_bj, i64))

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
            yk, nk, vol, oi, last, fc, codes = core.as_lists(c.yes_key, c.no_key, c.vol * 100, c.oi * 100, c.last,
                                                            c.forecast, c.code)
            lists = [yk, nk, vol, oi, [_PRICE_INTS[x] for x in last], [_PRICE_INTS[x] for x in fc], codes]
            self._lists[c.step] = lists
        return lists

    # ------------------------------------------------------------------ names
    def _names_for(self, slot: _Slot, c: core.Core) -> _Names:
        """Return the strings of the generation ``slot`` is in at core ``c`` (cached per slot)."""
        gen = int(c.gen[slot.index])
        names = self._names[slot.index]
        if names is None or names.gen != gen:
            names = self._build_names(slot, c)
            self._names[slot.index] = names
        return names

    def _build_names(self, slot: _Slot, c: core.Core) -> _Names:
        spec = slot.spec
        si = slot.index
        gen = int(c.gen[si])
        names = _Names(gen)
        start = c.step - int(c.t[si])
        names.close_ms = self.time_ms(start + slot.life - 2)
        names.open_ms = self.time_ms(start + 1)
        tm = _time.gmtime(names.close_ms // 1000)
        names.close_time = _time.strftime("%Y-%m-%dT%H:%M:%SZ", tm)
        yy, mon = tm.tm_year % 100, _MONTHS[tm.tm_mon - 1]
        code = {
            "minute": f"{yy:02d}{mon}{tm.tm_mday:02d}{tm.tm_hour:02d}{tm.tm_min:02d}",
            "hour": f"{yy:02d}{mon}{tm.tm_mday:02d}{tm.tm_hour:02d}",
            "day": f"{yy:02d}{mon}{tm.tm_mday:02d}",
            "month": f"{yy:02d}{mon}",
            "year": f"{yy:02d}",
        }[spec.datecode]
        ticker = names.ticker = f"{slot.series}-{code}{slot.tag}G{gen}"
        s = Stream(hash2(slot.key, gen) ^ 0x4E4D45)
        pool = POOLS.get(spec.pool, ())
        fmt = {
            "date": f"{mon.title()} {tm.tm_mday}, {tm.tm_year}",
            "hour": f"{tm.tm_hour:02d}:00 UTC", "time": f"{tm.tm_hour:02d}:{tm.tm_min:02d} UTC",
            "year": str(tm.tm_year), "month": f"{_MONTH_NAMES[tm.tm_mon - 1]} {tm.tm_year}",
            "quarter": f"Q{(tm.tm_mon - 1) // 3 + 1} {tm.tm_year}",
            "member": slot.member[1] if slot.member else "",
            "a": pool[slot.pair[0]][1] if slot.pair else "", "b": pool[slot.pair[1]][1] if slot.pair else "",
            "k": str(30 + s.next() % 30),
        }
        title = names.title = spec.event_title.format(**fmt)
        u = spec.underlying
        if spec.shape == "me":
            for code_, name in self._outcome_names(slot, s):
                text = spec.market_title.format(name=name, **fmt) if spec.market_title else title
                names.add(f"{ticker}-{code_}", text, name[0].upper() + name[1:], None, None, None)
        elif u is None:  # binary or combo
            suffix = spec.binary_suffix or format(s.next() & 0xFFFFFFFFFFF, "011X")
            names.add(f"{ticker}-{suffix}", title, "Yes", "custom" if slot.combo else None, None, None)
        elif spec.shape == "ladder":
            first = int(round(float(c.first[si])))
            for j in range(slot.n):
                shown_half = 2 * (first + j * u.spacing + u.strike_offset) + (1 if u.half_strikes else 0)
                floor = (Decimal(shown_half) / 2).scaleb(-u.decimals) * u.label_scale
                label = format(floor, "f")
                names.add(f"{ticker}-T{label}", title, f"Above {u.prefix}{label}{u.unit}", "greater",
                          _decimal(label), None)
        else:  # brackets [a, a + w − 1], with tails when exhaustive
            first = int(round(float(c.first[si])))
            w = u.spacing
            money_like = u.decimals >= 2
            if slot.exhaustive:
                label = _fmt_lattice(first, u.decimals)
                label = label[:-3] if money_like and label.endswith(".00") else label
                names.add(f"{ticker}-T{label}", title,
                          f"{u.prefix}{_fmt_lattice(first - 1, u.decimals)}{u.unit} or below", "less", None,
                          _decimal(label))
            for j in range(slot.n):
                a = first + j * w
                cap = a + w - 1
                if money_like:
                    mid = _fmt_lattice(a + w // 2, u.decimals)
                    mid = mid.rstrip("0").rstrip(".")
                else:
                    mid = format((Decimal(a) + Decimal(cap)).scaleb(-u.decimals) / 2, "f")
                lo, hi = _fmt_lattice(a, u.decimals), _fmt_lattice(cap, u.decimals)
                names.add(f"{ticker}-B{mid}", title, f"{u.prefix}{lo} to {u.prefix}{hi}{u.unit}", "between",
                          _decimal(lo), _decimal(hi))
            if slot.exhaustive:
                last = first + slot.n * w - 1
                label = _fmt_lattice(last, u.decimals)
                names.add(f"{ticker}-T{label}", title,
                          f"{u.prefix}{_fmt_lattice(last + 1, u.decimals)}{u.unit} or above", "greater",
                          _decimal(label), None)
        names.seal()
        return names

    @staticmethod
    def _outcome_names(slot: _Slot, s: Stream) -> list[tuple[str, str]]:
        spec = slot.spec
        pool = POOLS[spec.pool]
        if slot.pair:
            picked = [pool[slot.pair[0]], pool[slot.pair[1]]]
            return picked + [("TIE", "tie")] if spec.draw else picked
        if spec.pool in ("fed", "parties"):
            return list(pool[: slot.n])
        order = list(range(len(pool)))
        for i in range(len(order) - 1, 0, -1):
            j = s.next() % (i + 1)
            order[i], order[j] = order[j], order[i]
        return [pool[i] for i in order[: slot.n]]

    # ------------------------------------------------------------------ markets
    def _slot_markets(self, slot: _Slot, c: core.Core, lists: list[list[int]]) -> list[Market]:
        names = self._names_for(slot, c)
        spec = slot.spec
        a0 = slot.moff
        a1 = a0 + slot.size
        yk, nk, vol, oi, last, fc, codes = lists
        status = core.STATUSES[codes[slot.index]]
        get = SIDES.get
        # per-event constants, hoisted out of the per-market loop (it runs 100 000 times a step)
        event, series, category, close_time, close_ms = (names.ticker, slot.series, spec.category,
                                                        names.close_time, names.close_ms)
        fee_type, fee_mult, bands = spec.fee_type, spec.fee_multiplier, slot.grid.bands
        me, exhaustive, combo, size = slot.mutually_exclusive, slot.exhaustive, slot.combo, slot.size
        out = []
        for ticker, title, strike_type, floor, cap, ky, kn, v, o, lp, f in zip(
                names.tickers, names.titles, names.strike_types, names.floors, names.caps, yk[a0:a1], nk[a0:a1],
                vol[a0:a1], oi[a0:a1], last[a0:a1], fc[a0:a1], strict=True):
            yes = get(ky)
            if yes is None:
                yes = side_for_key(ky)
            no = get(kn)
            if no is None:
                no = side_for_key(kn)
            out.append(new_market(
                ticker, event, series, title, category, status, close_time, yes, no, v, o, fee_type,
                fee_mult, bands, strike_type, floor, cap, me, exhaustive, combo, lp, f, 0, size, close_ms))
        if c.thin:
            for i in range(a0, a1):
                if i in c.thin:  # a dislocated best level: same prices, thin size
                    m = out[i - a0]
                    ty, tn = c.thin[i]
                    yes = ((m.yes_bids[0][0], Count(ty)), *m.yes_bids[1:]) if m.yes_bids else ()
                    no = ((m.no_bids[0][0], Count(tn)), *m.no_bids[1:]) if m.no_bids else ()
                    out[i - a0] = dataclasses.replace(m, yes_bids=yes, no_bids=no)
        return out

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
            ms = self._slot_markets(slot, c, lists)
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
                acc += self._slot_markets(slot, c, lists)
            self._remember(step, acc)
        return self._cache

    def _locate(self, ticker: str) -> tuple[_Slot, int] | None:
        """Find the slot and generation of a market ticker (our own ticker format)."""
        event, sep, _suffix = ticker.rpartition("-")
        series, sep2, rest = event.partition("-")
        if not sep or not sep2 or series not in self._series:
            return None
        body, g, gen_text = rest.rpartition("G")
        if not g or not gen_text.isdigit():
            return None
        for length in set(_DATECODE_LEN.values()):
            slot = self._by_tag.get((series, body[length:]))
            if slot is not None and _DATECODE_LEN[slot.spec.datecode] == length:
                return slot, int(gen_text)
        return None

    def _core_for(self, slot: _Slot, gen: int, step: int) -> core.Core | None:
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
        names = self._names_for(slot, c)
        j = names.index.get(ticker)
        if j is None:
            return None
        return self._slot_markets(slot, c, self._py(c))[j]

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
        j = self._names_for(slot, c).index.get(ticker)
        return None if j is None else float(core.hidden(self._lay, c)[slot.moff + j])

    def hidden_probabilities_at(self, step: int) -> dict[str, float]:
        """Return the hidden true P(YES) of every open (or just closed) market at ``step``."""
        c = self._core(step)
        p = core.hidden(self._lay, c).tolist()
        out: dict[str, float] = {}
        for slot in self._slots:
            t = int(c.t[slot.index])
            if 0 < t <= slot.life - 2:
                names = self._names_for(slot, c)
                for j, ticker in enumerate(names.tickers):
                    out[ticker] = p[slot.moff + j]
        return out

    def dislocations_at(self, step: int) -> list[Dislocation]:
        """Return the deliberate mispricings active at ``step`` (ground truth, for tests and demos)."""
        c = self._core(step)
        return [Dislocation(self._names_for(self._slots[si], c).ticker, kind, start, end)
                for si, kind, start, end in c.dislocations]

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
        c = self._core(step)
        out: list[Settlement] = []
        ts = self.time_ms(step)
        for si in np.flatnonzero(c.code == core.FINALIZED).tolist():
            if only is not None and si != only:
                continue
            slot = self._slots[si]
            names = self._names_for(slot, c)
            h = hash2(int(c.ekey[si]) ^ 0x5E77, int(c.gen[si]))
            tau = float(c.tau[si])
            if slot.spec.shape == "me":
                # Gumbel-max at the closing temperature: the winner is drawn with exactly
                # softmax(strength / tau), the hidden probabilities at close
                paths = range(slot.poff, slot.poff + int(self._lay.psize[si]))
                scores = [float(c.x[p]) / tau - math.log(-math.log(unit(mix64(h ^ ((k + 1) * GOLDEN & MASK64)))))
                          for k, p in enumerate(paths)]
                winner = max(range(len(scores)), key=scores.__getitem__)
                results = [j == winner for j in range(slot.size)]
            else:
                final = float(c.x[slot.poff]) + tau * _ND.inv_cdf(unit(h))
                lo = c.lo_edge[slot.moff: slot.moff + slot.size].tolist()
                hi = c.hi_edge[slot.moff: slot.moff + slot.size].tolist()
                results = [lo[j] < final <= hi[j] for j in range(slot.size)]
            out.extend(Settlement(t, names.ticker, "yes" if r else "no", ts, value=ONE_DOLLAR if r else Price(0))
                       for t, r in zip(names.tickers, results, strict=True))
        return out

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
            j = self._names_for(found[0], c).index.get(t)
            if j is not None:
                out.add(found[0].moff + j)
        return out

    def _trades_at(self, step: int, tickers: Collection[str] | None = None) -> list[Trade]:
        """The public prints of the step: sizes from the volume growth, sides from the flow model.

        Each print is informed with the group's probability (rising toward the close, and
        higher when the book is wide: noise traders avoid wide spreads); an informed print
        trades toward the hidden probability, a noise print leans toward the long shot
        (:mod:`.universe_flow`). Prints go at the touch of this step's book.
        """
        c = self._core(step)
        lay = self._lay
        code_m = c.code[lay.m_slot]
        idx = np.flatnonzero((code_m == core.ACTIVE) & (c.vol > c.vol_prev)).tolist()
        if tickers is not None:
            wanted = self._indices(tickers, step)
            idx = [i for i in idx if i in wanted]
        if not idx:
            return []
        yk = c.yes_key[idx].tolist()
        nk = c.no_key[idx].tolist()
        dv = (c.vol - c.vol_prev)[idx].tolist()
        mkeys = c.mkey[idx].tolist()
        m_slot = lay.m_slot[idx].tolist()
        # informed traders know the news the market has not absorbed yet: truth − the market's
        # belief net of its persistent error (slow error, longshot bias), in price units
        # and against the book's own placement error (a wide book's centre error, dislocations)
        news = ((c.p_hidden - c.p_market + c.p_bias) * ONE_DOLLAR - c.shift)[idx].tolist()
        bias = (c.p_bias * ONE_DOLLAR)[idx].tolist()
        spread = (c.ask - c.bid)[idx].tolist()
        t_now = c.t[lay.m_slot[idx]].tolist()
        close_t = (lay.life[lay.m_slot[idx]] - 2).tolist()
        sizes_q = flow().size_quantiles
        t0 = self.time_ms(step - 1)
        trades: list[Trade] = []
        for i, ky, kn, total, mk, si, gap, b, k_spread, t_m, ct in zip(
                idx, yk, nk, dv, mkeys, m_slot, news, bias, spread, t_now, close_t, strict=True):
            yes = SIDES.get(ky)
            if yes is None:
                yes = side_for_key(ky)
            no = SIDES.get(kn)
            if no is None:
                no = side_for_key(kn)
            if not yes and not no:
                continue
            slot = self._slots[si]
            fp = flow_params(slot.spec.group)
            ticker = self._names_for(slot, c).tickers[i - slot.moff]
            bands = slot.grid.bands
            bid_px = yes[0][0] if yes else None
            ask_px = ONE_DOLLAR - no[0][0] if no else None
            if bid_px is not None and ask_px is not None:
                mid = (bid_px + ask_px) / 2
            else:
                mid = bid_px if bid_px is not None else ask_px  # type: ignore[assignment]
            gap -= fp.persistent * b  # … and, as far as they do, against its persistent error
            informed_dir = 1 if gap > 0.5 else (-1 if gap < -0.5 else 0)
            # the price an informed trader takes: the touch when it is beyond what they know the
            # contract is worth, else their own limit at that value (inside the spread: no one
            # on the book was that wrong, but an order there would have been hit)
            worth = mid + gap
            share = fp.informed_open + (fp.informed_close - fp.informed_open) * min(1.0, max(0.0, t_m / max(ct, 1)))
            if k_spread > fp.noise_max_ticks:  # nobody crosses a very wide book blind: only the informed
                share = 1.0
            elif k_spread > fp.wide_ticks:  # noise traders avoid wide books: who crosses one is informed
                share = 1.0 - (1.0 - share) * (fp.wide_ticks / k_spread) ** 2
            lean = 0.5 + fp.yes_tilt * (0.5 - mid / ONE_DOLLAR)  # noise: P(buy YES), toward the long shot
            h = hash2(mk ^ 0x7EADE, step)
            prints = min(MAX_PRINTS, total, max(1, round(total / fp.mean_trade)))
            sides: list[int] = []
            prices: list[int] = []
            weights: list[float] = []
            for k in range(prints):
                hk = mix64(h ^ ((k + 1) * GOLDEN & MASK64))
                informed = informed_dir != 0 and (hk & 0xFFFF) < share * 65536
                side = informed_dir if informed else (1 if ((hk >> 16) & 0xFFFF) < lean * 65536 else -1)
                if side > 0 and ask_px is None:
                    side, informed = -1, False  # nothing to buy: the print sells into the bids
                elif side < 0 and bid_px is None:
                    side, informed = 1, False
                price = ask_px if side > 0 else bid_px
                if informed and bid_px is not None and ask_px is not None and not (
                        bid_px >= worth if side < 0 else ask_px <= worth):
                    limit = snap(Price(int(worth)), bands, up=False) if side > 0 else snap(Price(int(worth) + 1), bands, up=True)
                    if limit is not None and bid_px < limit < ask_px:  # none inside a one-tick book: the touch
                        price = limit
                sides.append(side)
                prices.append(price)  # type: ignore[arg-type]
                weights.append(sizes_q[(hk >> 32) & 15] * (fp.informed_size if informed else 1.0))
            scale = total / sum(weights)
            left = total
            for k in range(prints):
                size = left if k == prints - 1 else min(left - (prints - 1 - k), max(1, int(weights[k] * scale)))
                left -= size
                price, taker = prices[k], ("bid" if sides[k] > 0 else "ask")  # bid: the taker bought YES
                tid = f"{(h ^ (k * GOLDEN)) & MASK64:016x}{step & 0xFFFFFFFF:08x}{k:08x}"
                trades.append(Trade(f"{tid[:8]}-{tid[8:12]}-{tid[12:16]}-{tid[16:20]}-{tid[20:]}", ticker, price,  # type: ignore[arg-type]
                                    size * 100, taker, t0 + (k + 1) * self.step_ms // (prints + 1)))  # type: ignore[arg-type]
        return trades

    # ------------------------------------------------------------------ metadata
    def series(self) -> list[SeriesInfo]:
        """Return every series present in the universe."""
        return list(self._series.values())

    def events_at(self, step: int) -> list[EventInfo]:
        """Return every event at ``step`` with its markets and exclusivity flags."""
        c = self._core(step)
        out = []
        for slot in self._slots:
            names = self._names_for(slot, c)
            spec = slot.spec
            out.append(EventInfo(names.ticker, slot.series, names.title, spec.category, spec.shape,
                                 slot.mutually_exclusive, slot.exhaustive, core.STATUSES[int(c.code[slot.index])],
                                 names.open_ms, names.close_ms, names.close_time, tuple(names.tickers),
                                 tuple(names.subtitles)))
        return out
