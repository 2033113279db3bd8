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
* **Hidden truth.** Every event has a latent path: a Brownian motion written as its first
  terms of the Karhunen–Loève expansion, so its value at any step costs a few sines (random
  access, no history). Ladders and brackets read P(final value in a range) off a normal
  law around the path, which makes ladders monotone and brackets sum to one by
  construction; mutually exclusive outcomes are a softmax of per-outcome paths (sum to one;
  a hidden "other" outcome carries the rest when the list is not exhaustive). At close the
  result is drawn with exactly the hidden probability at close (normal noise for ranges, the
  Gumbel-max trick for outcomes), so one winner per exhaustive event and consistent results
  along a ladder are automatic.
* **Market view and books.** Prices are the same model evaluated with a smooth, event-wide
  error (so books stay coherent across an event), placed on the market's tick grid with a
  calibrated spread, and filled with calibrated depth on both sides (bids only, Kalshi-style).
  Deep tails get empty sides like real long shots do.
* **Dislocations.** With a small seeded probability per (event, 40-step window) an event is
  mispriced for 2–6 steps and heals: fee-positive NO baskets, exhaustive YES baskets,
  ladder inversions, single-market value gaps, or wide spreads. Sizes at those levels are thin.
* **Forecast.** ``Market.forecast_p`` is a DEMO model: the hidden probability seen through
  its own small error (see FORECAST_* below). It is not a source of real edge.

Floats are used for the latent model only; every price, size and volume the universe emits is
an exact int in the units of :mod:`kalashi_cli.money`.
"""

from __future__ import annotations

import math
import time as _time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

from ..domain import Market, Settlement, Trade
from ..money import COUNT_SCALE, ONE_DOLLAR, fee_for
from .universe_books import (
    GOLDEN,
    GRIDS,
    MASK64,
    N_TEMPLATES,
    NORMAL256,
    NORMAL4096,
    SIDES,
    SPREAD_TABLES,
    TABLE_IDS,
    THIN_SIZES,
    TOP_SIZES,
    Grid,
    Stream,
    book_side,
    hash2,
    mix64,
    new_market,
    normal,
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

EPOCH_MS = 1_767_268_800_000  # 2026-01-01T12:00:00Z

KL_TERMS = 6  # Karhunen–Loève terms of each latent path (≈ 97 % of Brownian variance)
TERMINAL_SHARE = 0.15  # share of an event's opening uncertainty still unresolved at close
MARKET_NOISE = (0.04, 0.12)  # amplitude range of each of the two sines of the market's error
MARKET_NOISE_PERIOD = (30, 300)  # steps
FORECAST_BIAS_SD = 0.02  # per market and generation
FORECAST_STEP_SD = 0.04  # per step
DISLOCATION_WINDOW = 40  # steps
DISLOCATION_RATE = 0.08  # chance per event and window (real markets: far rarer; see docs)
DISLOCATION_STEPS = (2, 6)
PAUSE_WINDOW = 60
PAUSE_RATE = 0.01  # chance per event and window that it is paused (status inactive) a few steps
LOTTERY_SHARE = 0.3  # a far-from-the-money market keeps a lone bid at the grid's edge
TRADE_ACTIVITY = (0.35, 0.12, 0.04)  # expected share of steps with trades, per liquidity class

_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_MONTH_NAMES = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
                "October", "November", "December")
_DATECODE_LEN = {"minute": 11, "hour": 9, "day": 7, "month": 5, "year": 2}
_INF = float("inf")
_SQRT1_2 = math.sqrt(0.5)
_HALF_PI = math.pi / 2


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
    __slots__ = ("index", "spec", "series", "member", "tag", "size", "n", "life", "phase", "key", "exhaustive",
                 "pair", "grid", "mix")

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
        self.mix = CLASS_MIX[spec.group]


class _MS:
    """Static data of one market in one generation."""

    __slots__ = ("ticker", "title", "subtitle", "strike_type", "floor", "cap", "key", "lo", "hi", "cls", "table",
                 "top", "off", "hold", "hoff", "vt", "vq", "vaw", "vw", "vphi", "vcos", "vnorm", "kappa")
    ticker: str
    title: str
    subtitle: str
    strike_type: str | None
    floor: Decimal | None
    cap: Decimal | None
    key: int  # 64-bit hash key of this market
    lo: int  # interval events: cdf indices of the range; outcome events: outcome index (lo == hi)
    hi: int
    cls: int  # liquidity class: 0 liquid, 1 normal, 2 thin
    table: int  # size table id (group, class)
    top: tuple[int, ...]  # best-level sizes
    off: float  # rounding offset of this market's quotes, in ticks
    hold: int  # steps a spread/depth draw lasts
    hoff: int
    vt: int  # contracts traded over the generation's life
    vq: int  # contracts per volume increment
    vaw: float  # volume intensity curve: amplitude / angular frequency
    vw: float
    vphi: float
    vcos: float
    vnorm: float
    kappa: float  # open interest / volume


class _Event:
    """Static data of one generation of a slot: tickers, strikes, latent parameters."""

    __slots__ = ("slot", "gen", "start", "close_t", "settle_t", "ticker", "title", "close_time", "close_ms",
                 "open_ms", "markets", "interval", "edges", "x0", "sig2", "tau2", "coef", "mnoise", "me_other",
                 "key", "kinds", "mutually_exclusive", "exhaustive", "tickers", "dis_win", "dis_val", "pause_win",
                 "pause_val", "fbias")

    slot: _Slot
    gen: int
    start: int  # step at which this generation's local time is 0 (initialized)
    close_t: int  # local step at which it closes
    settle_t: int  # local step at which it is finalized and settled
    ticker: str
    title: str
    close_time: str
    close_ms: int
    open_ms: int
    markets: list[_MS]
    interval: bool  # ranges of one latent value (binary, ladder, brackets) vs. outcomes (softmax)
    edges: list[float]  # interval: range edges in lattice units; outcomes: opening strengths
    x0: float
    sig2: float  # latent variance per step
    tau2: float  # latent variance left at close
    coef: list[tuple[float, ...]]  # KL coefficients per latent path
    mnoise: list[tuple[float, float, float, float, float, float]]  # market error sines per path
    fbias: list[float]  # forecast bias per path
    me_other: bool  # a hidden "other" outcome exists (not exhaustive)
    key: int
    kinds: tuple[str, ...]
    mutually_exclusive: bool
    exhaustive: bool
    tickers: tuple[str, ...]
    dis_win: int
    dis_val: tuple[int, ...]
    pause_win: int
    pause_val: tuple[int, int]

    def __init__(self) -> None:
        self.dis_win = self.pause_win = -1
        self.dis_val = ()
        self.pause_val = (0, 0)


def _fmt_lattice(v: int, decimals: int, scale: int = 1) -> str:
    d = Decimal(v * scale).scaleb(-decimals)
    return format(d, "f")


def _letters(k: int) -> str:
    """0 → '', 1 → 'B', 2 → 'C', … 25 → 'Z', 26 → 'BA' (letters only, never empty after 0)."""
    if k == 0:
        return ""
    out = ""
    while k:
        k, r = divmod(k, 26)
        out = chr(65 + r) + out
    return out


class SimUniverse:
    """A deterministic synthetic Kalshi: ``markets`` markets whose state at a step is a pure function."""

    def __init__(self, seed: int = 0, markets: int = 2000, *, step_seconds: int = 10,
                 epoch_ms: int = EPOCH_MS) -> None:
        """Lay out the universe.

        Raises:
            ValueError: ``markets`` < 1 or ``step_seconds`` < 1.
        """
        if markets < 1:
            raise ValueError(f"markets must be at least 1, got {markets}")
        if step_seconds < 1:
            raise ValueError(f"step_seconds must be at least 1, got {step_seconds}")
        self.seed = seed
        self.markets = markets
        self.step_seconds = step_seconds
        self.epoch_ms = epoch_ms
        self.step_ms = step_seconds * 1000
        self._key = mix64((seed & MASK64) ^ 0x6B616C617368691)
        self._slots: list[_Slot] = []
        self._by_tag: dict[tuple[str, str], _Slot] = {}
        self._series: dict[str, SeriesInfo] = {}
        self._events: list[_Event | None] = []
        self._cache_step: int | None = None
        self._cache: list[Market] = []
        self._cache_trades: list[Trade] | None = None
        self._cache_index: dict[str, Market] | None = None
        self._layout()

    # ------------------------------------------------------------------ layout
    def _layout(self) -> None:
        by_group: dict[str, list[SeriesSpec]] = {}
        for spec in SERIES:
            by_group.setdefault(spec.group, []).append(spec)
        singles = {g: [s for s in specs if s.n == (1, 1)] for g, specs in by_group.items()}
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
            spec = specs[s.choice_weighted([x.weight for x in specs])]
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
            self._slots.append(slot)
            self._by_tag[(series, tag)] = slot
            if series not in self._series:
                title = spec.title.format(name=member[1]) if member else spec.title
                self._series[series] = SeriesInfo(series, title, spec.category, spec.fee_type, spec.fee_multiplier,
                                                  spec.grid, spec.frequency)
            counts[group] += size
            total += size
            index += 1
        self._events = [None] * len(self._slots)

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

    # ------------------------------------------------------------------ time
    def time_ms(self, step: int) -> int:
        """Return the sim clock at ``step`` in Unix ms."""
        return self.epoch_ms + step * self.step_ms

    def _iso(self, ms: int) -> str:
        return _time.strftime("%Y-%m-%dT%H:%M:%SZ", _time.gmtime(ms // 1000))

    # ------------------------------------------------------------------ generations
    def _gen_at(self, slot: _Slot, step: int) -> tuple[int, int]:
        """Return (generation, local step) of ``slot`` at ``step``."""
        return divmod(step + slot.phase, slot.life)

    def _event(self, slot: _Slot, gen: int) -> _Event:
        ev = self._events[slot.index]
        if ev is None or ev.gen != gen:
            ev = self._build_event(slot, gen)
            self._events[slot.index] = ev
        return ev

    def _build_event(self, slot: _Slot, gen: int) -> _Event:
        spec = slot.spec
        ev = _Event()
        ev.slot = slot
        ev.gen = gen
        ev.start = gen * slot.life - slot.phase
        ev.close_t = slot.life - 2
        ev.settle_t = slot.life - 1
        ev.key = hash2(slot.key, gen)
        s = Stream(ev.key)
        ev.close_ms = self.time_ms(ev.start + ev.close_t)
        ev.open_ms = self.time_ms(ev.start + 1)
        ev.close_time = self._iso(ev.close_ms)
        tm = _time.gmtime(ev.close_ms // 1000)
        yy = tm.tm_year % 100
        mon = _MONTHS[tm.tm_mon - 1]
        code = {
            "minute": f"{yy:02d}{mon}{tm.tm_mday:02d}{tm.tm_hour:02d}{tm.tm_min:02d}",
            "hour": f"{yy:02d}{mon}{tm.tm_mday:02d}{tm.tm_hour:02d}",
            "day": f"{yy:02d}{mon}{tm.tm_mday:02d}",
            "month": f"{yy:02d}{mon}",
            "year": f"{yy:02d}",
        }[spec.datecode]
        ev.ticker = f"{slot.series}-{code}{slot.tag}G{gen}"
        pool = POOLS.get(spec.pool, ())
        a_name = pool[slot.pair[0]][1] if slot.pair else ""
        b_name = pool[slot.pair[1]][1] if slot.pair else ""
        fmt = {
            "date": f"{_MONTHS[tm.tm_mon - 1].title()} {tm.tm_mday}, {tm.tm_year}",
            "hour": f"{tm.tm_hour:02d}:00 UTC", "time": f"{tm.tm_hour:02d}:{tm.tm_min:02d} UTC",
            "year": str(tm.tm_year), "month": f"{_MONTH_NAMES[tm.tm_mon - 1]} {tm.tm_year}",
            "quarter": f"Q{(tm.tm_mon - 1) // 3 + 1} {tm.tm_year}",
            "member": slot.member[1] if slot.member else "", "a": a_name, "b": b_name,
            "k": str(30 + s.next() % 30),
        }
        ev.title = spec.event_title.format(**fmt)
        ev.mutually_exclusive = spec.shape in ("me", "brackets")
        ev.exhaustive = slot.exhaustive
        ev.interval = spec.shape != "me"
        ev.markets = []
        if ev.interval:
            self._build_interval(ev, slot, s, fmt)
        else:
            self._build_outcomes(ev, slot, s, fmt)
        ev.tickers = tuple(m.ticker for m in ev.markets)
        self._build_market_dynamics(ev, slot, s)
        # which dislocations this event can show
        if spec.shape == "ladder" and slot.n >= 2:
            ev.kinds = ("ladder", "ladder", "value", "wide")
        elif spec.shape in ("me", "brackets") and len(ev.markets) >= 2:
            ev.kinds = ("no_basket", "yes_basket", "value", "wide") if ev.exhaustive else \
                ("no_basket", "no_basket", "value", "wide")
        else:
            ev.kinds = ("value", "value", "wide")
        return ev

    def _build_interval(self, ev: _Event, slot: _Slot, s: Stream, fmt: dict[str, str]) -> None:
        """Ladders, brackets and single binaries: markets are ranges of one latent value."""
        spec = slot.spec
        u = spec.underlying
        n = slot.n
        if u is None:  # a binary (or combo): YES when the latent ends above 0
            edges = [0.0]
            sd_total = 1.0
            x0 = 0.95 * s.normal()
            m = _MS()
            m.ticker = f"{ev.ticker}-{spec.binary_suffix or format(s.next() & 0xFFFFFFFFFFF, '011X')}"
            m.title = ev.title
            m.subtitle = "Yes"
            m.strike_type = "custom" if spec.shape == "combo" else None
            m.floor = m.cap = None
            m.lo, m.hi = 1, 2
            ev.markets.append(m)
        else:
            level = u.level + (slot.member[2] * 10**u.decimals if slot.member else 0)
            centre = level * (1.0 + u.jitter * s.normal())
            sp = u.spacing
            if spec.shape == "ladder":
                first = round(centre / sp) * sp - (n // 2) * sp
                first = max(first, 0)
                strikes = [first + j * sp for j in range(n)]
                edges = []
                for j, k in enumerate(strikes):
                    shown_half = 2 * (k + u.strike_offset) + (1 if u.half_strikes else 0)
                    edges.append(math.floor(shown_half / 2) + 0.5)
                    floor = (Decimal(shown_half) / 2).scaleb(-u.decimals) * u.label_scale
                    label = format(floor, "f")
                    m = _MS()
                    m.ticker = f"{ev.ticker}-T{label}"
                    m.title = ev.title
                    m.subtitle = f"Above {u.prefix}{label}{u.unit}"
                    m.strike_type = "greater"
                    m.floor, m.cap = floor, None
                    m.lo, m.hi = j + 1, n + 1
                    ev.markets.append(m)
                sd_total = sp * n * (0.12 + 0.13 * s.uniform())
                x0 = (strikes[0] + strikes[-1]) / 2 + 0.35 * sd_total * s.normal()
            else:  # brackets [a_k, a_k + w − 1]
                w = sp
                first = round(centre / w) * w - (n // 2) * w
                first = max(first, w)
                floors = [first + j * w for j in range(n)]
                edges = [a - 0.5 for a in floors] + [floors[-1] + w - 0.5]
                money_like = u.decimals >= 2
                if slot.exhaustive:
                    m = _MS()
                    label = _fmt_lattice(first, u.decimals)
                    label = label[:-3] if money_like and label.endswith(".00") else label
                    m.ticker = f"{ev.ticker}-T{label}"
                    m.title = ev.title
                    m.subtitle = f"{u.prefix}{_fmt_lattice(first - 1, u.decimals)}{u.unit} or below"
                    m.strike_type = "less"
                    m.floor, m.cap = None, Decimal(label)
                    m.lo, m.hi = 0, 1
                    ev.markets.append(m)
                for j, a in enumerate(floors):
                    cap = a + w - 1
                    if money_like:
                        mid = _fmt_lattice(a + w // 2, u.decimals)
                        mid = mid.rstrip("0").rstrip(".") if "." in mid else mid
                    else:
                        mid = format((Decimal(a) + Decimal(cap)).scaleb(-u.decimals) / 2, "f")
                    m = _MS()
                    m.ticker = f"{ev.ticker}-B{mid}"
                    m.title = ev.title
                    m.subtitle = (f"{u.prefix}{_fmt_lattice(a, u.decimals)} to "
                                  f"{u.prefix}{_fmt_lattice(cap, u.decimals)}{u.unit}")
                    m.strike_type = "between"
                    m.floor, m.cap = Decimal(_fmt_lattice(a, u.decimals)), Decimal(_fmt_lattice(cap, u.decimals))
                    m.lo, m.hi = j + 1, j + 2
                    ev.markets.append(m)
                if slot.exhaustive:
                    last = floors[-1] + w - 1
                    m = _MS()
                    label = _fmt_lattice(last, u.decimals)
                    m.ticker = f"{ev.ticker}-T{label}"
                    m.title = ev.title
                    m.subtitle = f"{u.prefix}{_fmt_lattice(last + 1, u.decimals)}{u.unit} or above"
                    m.strike_type = "greater"
                    m.floor, m.cap = Decimal(label), None
                    m.lo, m.hi = n + 1, n + 2
                    ev.markets.append(m)
                sd_total = w * n * (0.15 + 0.15 * s.uniform())
                x0 = (edges[0] + edges[-1]) / 2 + 0.35 * sd_total * s.normal()
        ev.edges = edges
        ev.x0 = x0
        close_t = max(ev.close_t, 1)
        ev.sig2 = (1 - TERMINAL_SHARE) * sd_total * sd_total / close_t
        ev.tau2 = TERMINAL_SHARE * sd_total * sd_total
        ev.coef = [_kl_coefficients(math.sqrt(ev.sig2), close_t, s)]
        ev.me_other = False
        ev.mnoise = [_noise_params(s)]
        ev.fbias = [FORECAST_BIAS_SD * s.normal()]

    def _build_outcomes(self, ev: _Event, slot: _Slot, s: Stream, fmt: dict[str, str]) -> None:
        """Mutually exclusive outcomes: one latent strength per outcome, softmax for probabilities."""
        spec = slot.spec
        pool = POOLS[spec.pool]
        n = slot.n
        if slot.pair:
            picks = [slot.pair[0], slot.pair[1]]
            g = 0.9 * s.normal()
            s0 = [g / 2, -g / 2]
            names = [pool[i] for i in picks]
            if spec.draw:
                names.append(("TIE", "tie"))
                s0.append(-0.35 - 0.2 * abs(g))
        elif spec.pool == "fed":
            names = list(pool[:n])
            s0 = [-3.0, -1.5, 0.6, -0.4, -2.5][:n]
            s0 = [x + 0.5 * s.normal() for x in s0]
        elif spec.pool == "parties":
            names = list(pool[:n])
            s0 = [0.5 * s.normal(), 0.5 * s.normal(), -2.5 + 0.5 * s.normal()][:n]
        else:  # candidates/teams: draw n distinct names, a few favourites
            order = list(range(len(pool)))
            for i in range(len(order) - 1, 0, -1):
                j = s.next() % (i + 1)
                order[i], order[j] = order[j], order[i]
            names = [pool[i] for i in order[:n]]
            s0 = [1.1 * s.normal() - 0.12 * i for i in range(n)]
        ev.me_other = not slot.exhaustive
        if ev.me_other:
            s0.append(0.3 if n > 3 else -2.0 + 0.4 * s.normal())
        close_t = max(ev.close_t, 1)
        ev.sig2 = (1 - TERMINAL_SHARE) / close_t
        ev.tau2 = TERMINAL_SHARE
        ev.x0 = 0.0
        ev.edges = s0
        sig = math.sqrt(ev.sig2)
        ev.coef = [_kl_coefficients(sig, close_t, s) for _ in s0]
        ev.mnoise = [_noise_params(s) for _ in s0]
        ev.fbias = [FORECAST_BIAS_SD * s.normal() for _ in s0]
        for j, (code, name) in enumerate(names):
            m = _MS()
            m.ticker = f"{ev.ticker}-{code}"
            m.title = spec.market_title.format(name=name, **fmt) if spec.market_title else ev.title
            m.subtitle = name[0].upper() + name[1:]
            m.strike_type = None
            m.floor = m.cap = None
            m.lo, m.hi = j, j
            ev.markets.append(m)

    def _build_market_dynamics(self, ev: _Event, slot: _Slot, s: Stream) -> None:
        spec = slot.spec
        group = spec.group
        vmed = VOLUME_MEDIAN[group]
        close_t = max(ev.close_t, 1)
        zero_share = ZERO_VOLUME_SHARE if spec.shape != "combo" else 0.6
        liquid, normal_share = slot.mix[0], slot.mix[0] + slot.mix[1]
        two_pi = 2 * math.pi
        for m in ev.markets:
            # three hashes per market, sliced into fields (a Stream call per field costs more
            # than the hash itself when 100 000 markets open at once)
            m.key = s.next()
            h2 = s.next()
            h3 = s.next()
            u = (h2 & 0xFFFF) / 65536.0
            cls = 2 if spec.shape == "combo" else (0 if u < liquid else 1 if u < normal_share else 2)
            m.cls = cls
            m.table = TABLE_IDS[(group, cls)]
            m.top = TOP_SIZES[(group, cls)]
            m.off = ((h2 >> 16) & 0xFFFF) / 65536.0
            m.hold = 4 + ((h2 >> 32) & 0xFF) % 13
            m.hoff = ((h2 >> 40) & 0xFF) % m.hold
            zero = ((h2 >> 48) & 0x3FF) / 1024.0 < zero_share
            # volume: a smooth, always-rising curve quantised into trades of vq contracts
            vt = 0 if zero else int(vmed * (1.0, 0.34, 0.086)[cls] * math.exp(1.3 * NORMAL4096[h3 & 4095]))
            if spec.shape == "combo" and vt:
                vt = max(1, vt // 200)
            m.vt = vt
            m.vq = max(1, round(vt / (close_t * TRADE_ACTIVITY[cls]))) if vt else 1
            a = 0.3 + 0.6 * ((h2 >> 58) & 0x3F) / 64.0
            m.vw = two_pi / (20 + ((h3 >> 12) & 0xFF) % 181)
            m.vaw = a / m.vw
            m.vphi = two_pi * ((h3 >> 20) & 0xFFFF) / 65536.0
            m.vcos = math.cos(m.vphi)
            c_close = close_t - m.vaw * (math.cos(m.vw * close_t + m.vphi) - m.vcos)
            m.vnorm = 1.0 / c_close
            m.kappa = 0.3 + 0.5 * ((h3 >> 36) & 0xFFFF) / 65536.0

    # ------------------------------------------------------------------ latent state
    def _basis(self, t: int, close_t: int) -> list[float]:
        theta = _HALF_PI * min(t, close_t) / max(close_t, 1)
        return [math.sin((2 * k + 1) * theta) for k in range(KL_TERMS)]

    def _latent(self, ev: _Event, t: int) -> tuple[list[float], float]:
        """Return the latent value(s) at local step ``t`` and the remaining standard deviation."""
        close_t = ev.close_t
        theta = _HALF_PI * (t if t < close_t else close_t) / close_t
        sin = math.sin
        b0, b1, b2, b3, b4, b5 = (sin(theta), sin(3 * theta), sin(5 * theta), sin(7 * theta), sin(9 * theta),
                                  sin(11 * theta))
        rem = close_t - t if t < close_t else 0
        sd = math.sqrt(ev.sig2 * rem + ev.tau2)
        base = ev.edges if not ev.interval else (ev.x0,)
        return [x + c0 * b0 + c1 * b1 + c2 * b2 + c3 * b3 + c4 * b4 + c5 * b5
                for x, (c0, c1, c2, c3, c4, c5) in zip(base, ev.coef, strict=False)], sd

    def _probabilities(self, ev: _Event, xs: list[float], sd: float, offsets: list[float]) -> list[float]:
        """P(YES) per market of ``ev`` for latent ``xs`` shifted by ``offsets`` (in sd units)."""
        if ev.interval:
            mu = xs[0] + sd * offsets[0]
            inv = _SQRT1_2 / sd
            erf = math.erf
            cdf = [0.0, *[0.5 + 0.5 * erf((e - mu) * inv) for e in ev.edges], 1.0]
            return [cdf[m.hi] - cdf[m.lo] for m in ev.markets]
        z = [x / sd + o for x, o in zip(xs, offsets, strict=True)]
        top = max(z)
        exp = math.exp
        w = [exp(v - top) for v in z]
        total = sum(w)
        return [w[m.lo] / total for m in ev.markets]

    def _market_offsets(self, ev: _Event, step: int) -> list[float]:
        sin = math.sin
        return [a1 * sin(w1 * step + p1) + a2 * sin(w2 * step + p2) for a1, w1, p1, a2, w2, p2 in ev.mnoise]

    def _forecast_offsets(self, ev: _Event, step: int) -> list[float]:
        h = mix64(ev.key ^ ((step * GOLDEN) & MASK64))
        out = []
        for i, bias in enumerate(ev.fbias):
            if i and i % 8 == 0:
                h = mix64(h)
            out.append(bias + FORECAST_STEP_SD * NORMAL256[(h >> (8 * (i % 8))) & 255])
        return out

    def _hidden(self, ev: _Event, t: int) -> list[float]:
        xs, sd = self._latent(ev, t)
        return self._probabilities(ev, xs, sd, [0.0] * len(xs))

    # ------------------------------------------------------------------ dislocations and pauses
    def _window(self, ev: _Event, win: int) -> tuple[int, ...]:
        """Return (start, end, hash) of the dislocation drawn for ``ev`` in window ``win`` (or ())."""
        h = hash2(ev.key ^ 0xD15C, win)
        if (h & 0xFFFF) >= DISLOCATION_RATE * 65536:
            return ()
        start = win * DISLOCATION_WINDOW + (h >> 16) % DISLOCATION_WINDOW
        lo, hi = DISLOCATION_STEPS
        end = start + lo + (h >> 24) % (hi - lo + 1)
        if start - ev.start < 1 or end - ev.start > ev.close_t:
            return ()
        return start, end, h

    def _dislocation(self, ev: _Event, step: int) -> tuple[str, int, int, int] | None:
        """Return (kind, start, end, hash) of the dislocation active at ``step``, if any."""
        w = step // DISLOCATION_WINDOW
        if ev.dis_win != w:  # cached per window: two hashes per event every 40 steps, not every step
            ev.dis_win, ev.dis_val = w, self._window(ev, w - 1) + self._window(ev, w)
        val = ev.dis_val
        for i in range(0, len(val), 3):
            start, end, h = val[i], val[i + 1], val[i + 2]
            if start <= step < end:
                return ev.kinds[(h >> 32) % len(ev.kinds)], start, end, h
        return None

    def _paused(self, ev: _Event, step: int) -> bool:
        w = step // PAUSE_WINDOW
        if ev.pause_win != w:
            h = hash2(ev.key ^ 0x9A05E, w)
            if (h & 0xFFFF) >= PAUSE_RATE * 65536:
                ev.pause_val = (0, 0)
            else:
                start = w * PAUSE_WINDOW + (h >> 16) % (PAUSE_WINDOW - 6)
                ev.pause_val = (start, start + 2 + (h >> 24) % 4)
            ev.pause_win = w
        start, end = ev.pause_val
        return start <= step < end

    # ------------------------------------------------------------------ one event at one step
    def _event_markets(self, ev: _Event, step: int) -> list[Market]:
        slot = ev.slot
        spec = slot.spec
        t = step - ev.start
        grid = slot.grid
        series = slot.series
        cat = spec.category
        fee_type = spec.fee_type
        fee_mult = spec.fee_multiplier
        bands = grid.bands
        me = ev.mutually_exclusive
        exh = ev.exhaustive
        combo = spec.shape == "combo"
        n_mk = len(ev.markets)
        close_t = ev.close_t
        if t <= 0 or t >= close_t:
            closing: list[int | None]
            if t <= 0:
                status = "initialized"
                closing = [None] * n_mk
            else:
                status = "closed" if t == close_t else "finalized"
                closing = [self._snap_last(grid, p) for p in self._hidden(ev, close_t)]
            out = []
            for j, m in enumerate(ev.markets):
                vol = self._volume(m, t, close_t) if t > 0 else 0
                out.append(new_market(
                    m.ticker, ev.ticker, series, m.title, cat, status, ev.close_time, (), (),
                    vol * COUNT_SCALE, int(vol * m.kappa) * COUNT_SCALE, fee_type, fee_mult, bands,
                    m.strike_type, m.floor, m.cap, me, exh, combo, closing[j], None, 0, n_mk, ev.close_ms))
            return out
        status = "inactive" if self._paused(ev, step) else "active"
        xs, sd = self._latent(ev, t)
        pm = self._probabilities(ev, xs, sd, self._market_offsets(ev, step))
        pf = self._probabilities(ev, xs, sd, self._forecast_offsets(ev, step))
        fidx = grid.fidx
        top = grid.n - 1
        bids: list[int] = []
        asks: list[int] = []
        hashes: list[int] = []
        for j, m in enumerate(ev.markets):
            h = mix64(m.key ^ ((((step + m.hoff) // m.hold) * GOLDEN) & MASK64))
            k = SPREAD_TABLES[m.cls][h & 255]
            u = int(pm[j] * 10_000.0)
            c = fidx[0 if u < 0 else (10_000 if u > 10_000 else u)]
            b = int(c - k * 0.5 + m.off + 1000.0) - 1000
            a = b + k
            bids.append(top if b > top else b)
            asks.append(0 if a < 0 else a)
            hashes.append(h)
        thin: set[int] = set()
        dis = self._dislocation(ev, step)
        if dis is not None:
            thin = self._dislocate(ev, dis[0], dis[3], bids, asks, top, grid)
        prices = grid.prices
        sides_get = SIDES.get
        # side cache key = (((gid * 64 + table) * 1024 + best) * 4 + cls) * N_TEMPLATES + template
        gbase = grid.gid * 64
        cos = math.cos
        out = []
        for j, m in enumerate(ev.markets):
            b = bids[j]
            a = asks[j]
            h = hashes[j]
            tb = (gbase + m.table) * 1024
            cls = m.cls
            if b >= 0:
                tpl = (h >> 8) % N_TEMPLATES
                yes = sides_get(((tb + b) * 4 + cls) * N_TEMPLATES + tpl) or book_side(grid, m.table, cls, b, tpl)
                if j in thin:
                    yes = ((prices[b], THIN_SIZES[(h >> 20) & 63]), *yes[1:])
            elif a >= 1 and ((h >> 40) & 1023) < LOTTERY_SHARE * 1024:
                yes = ((prices[0], m.top[(h >> 50) & 63]),)
            else:
                yes = ()
            nb = top - a
            if nb >= 0:
                tpl = (h >> 26) % N_TEMPLATES
                no = sides_get(((tb + nb) * 4 + cls) * N_TEMPLATES + tpl) or book_side(grid, m.table, cls, nb, tpl)
                if j in thin:
                    no = ((prices[nb], THIN_SIZES[(h >> 34) & 63]), *no[1:])
            elif b <= top - 1 and ((h >> 42) & 1023) < LOTTERY_SHARE * 1024:
                no = ((prices[0], m.top[(h >> 56) & 63]),)
            else:
                no = ()
            # contracts traded so far (inline _volume: this loop runs once per market per step)
            last: int | None
            if m.vt:
                vol = int(m.vt * (t - m.vaw * (cos(m.vw * t + m.vphi) - m.vcos)) * m.vnorm / m.vq) * m.vq
                if yes and (not no or (h >> 33) & 1):
                    last = yes[0][0]
                else:
                    last = ONE_DOLLAR - no[0][0] if no else None
                if not vol:
                    last = None
            else:
                vol = 0
                last = None
            f = int(pf[j] * 10_000.0 + 0.5)
            out.append(new_market(
                m.ticker, ev.ticker, series, m.title, cat, status, ev.close_time, yes, no,
                vol * 100, int(vol * m.kappa) * 100, fee_type, fee_mult, bands,
                m.strike_type, m.floor, m.cap, me, exh, combo, last, 1 if f < 1 else (9_999 if f > 9_999 else f), 0,
                n_mk, ev.close_ms))
        return out

    @staticmethod
    def _snap_last(grid: Grid, p: float) -> int:
        u = int(p * 10_000.0)
        i = int(grid.fidx[0 if u < 0 else min(u, 10_000)] + 0.5)
        return grid.prices[min(max(i, 0), grid.n - 1)]

    @staticmethod
    def _volume(m: _MS, t: int, close_t: int) -> int:
        """Contracts traded so far in this generation at local step ``t`` (rises monotonically)."""
        if not m.vt or t <= 0:
            return 0
        tt = t if t < close_t else close_t
        c = tt - m.vaw * (math.cos(m.vw * tt + m.vphi) - m.vcos)
        q = m.vq
        return int(m.vt * c * m.vnorm / q) * q

    def _dislocate(self, ev: _Event, kind: str, h: int, bids: list[int], asks: list[int], top: int,
                   grid: Grid) -> set[int]:
        """Shift books of ``ev`` (grid indices, edited in place) into a fee-positive mispricing.

        Returns the markets whose best levels should carry thin sizes. Every book stays
        uncrossed (``bid < ask``); the mispricing is across markets, as on the real exchange.
        If the grid leaves no room for the requested edge the books are left as they are.
        """
        spec = ev.slot.spec
        prices = grid.prices
        n = len(bids)
        margin = 5_000 + (h >> 40) % 25_000  # net edge per basket after fees: $0.005 … $0.03

        def fee(p: int) -> int:  # taker fee for one contract, rounded up: the worst case
            return fee_for(p, COUNT_SCALE, fee_type=spec.fee_type, multiplier=spec.fee_multiplier)

        saved = (bids[:], asks[:])

        def undo() -> set[int]:
            bids[:], asks[:] = saved
            return set()

        if kind == "no_basket":  # YES bids add up to more than 1 + fees: buy NO on every outcome
            for i in range(n):
                if bids[i] < 0:
                    bids[i], asks[i] = 0, max(asks[i], 1)
            i = 0
            for _ in range(4000):
                edge = (sum(prices[b] for b in bids) - ONE_DOLLAR) * 100 - sum(fee(ONE_DOLLAR - prices[b]) for b in bids)
                if edge >= margin:
                    return set(range(n))
                movable = [x for x in range(n) if bids[x] < top - 1]
                if not movable:
                    return undo()
                i = movable[(i + 1) % len(movable)] if i not in movable else movable[(movable.index(i) + 1) % len(movable)]
                bids[i] += 1
                asks[i] += 1
            return undo()
        if kind == "yes_basket":  # YES asks add up to less than 1 − fees: buy YES on every outcome
            for i in range(n):
                if asks[i] > top:
                    asks[i], bids[i] = top, min(bids[i], top - 1)
            i = 0
            for _ in range(4000):
                cost = sum(prices[a] for a in asks) * 100 + sum(fee(prices[a]) for a in asks)
                if ONE_DOLLAR * 100 - cost >= margin:
                    return set(range(n))
                movable = [x for x in range(n) if asks[x] > 0]
                if not movable:
                    return undo()
                i = movable[(i + 1) % len(movable)] if i not in movable else movable[(movable.index(i) + 1) % len(movable)]
                bids[i] -= 1
                asks[i] -= 1
            return undo()
        if kind == "ladder":  # YES bid at the higher strike above the YES ask at the lower one
            j = (h >> 48) % (n - 1)
            lo, hi = j, j + 1
            if bids[hi] < 0:
                bids[hi], asks[hi] = 0, max(asks[hi], 1)
            if asks[lo] > top:
                asks[lo], bids[lo] = top, min(bids[lo], top - 1)
            for k in range(4000):
                edge = (prices[bids[hi]] - prices[asks[lo]]) * 100 - fee(prices[asks[lo]]) \
                    - fee(ONE_DOLLAR - prices[bids[hi]])
                if edge >= margin:
                    return {lo, hi}
                if k % 2 == 0 and bids[hi] < top - 1:
                    bids[hi] += 1
                    asks[hi] += 1
                elif asks[lo] > 1:
                    bids[lo] -= 1
                    asks[lo] -= 1
                elif bids[hi] >= top - 1:
                    return undo()
            return undo()
        i = (h >> 48) % n
        if kind == "value":
            # The market is wrong about the event but stays internally consistent (no basket or
            # ladder arbitrage appears): a whole ladder shifts together; in an outcome set one
            # outcome gains what another loses. Only the forecast (or a model) sees it.
            d = 3 + (h >> 52) % 6
            d = d if (h >> 58) & 1 else -d
            if spec.shape == "ladder":
                moved = set(range(n))
                pairs = [(x, d) for x in moved]
            elif n == 1:
                moved, pairs = {i}, [(i, d)]
            else:
                other = max((x for x in range(n) if x != i), key=lambda x: (bids[x], -x))
                moved, pairs = {i, other}, [(i, d), (other, -d)]
            if all(0 <= bids[x] + dx and asks[x] + dx <= top for x, dx in pairs):
                for x, dx in pairs:
                    bids[x] += dx
                    asks[x] += dx
                return moved
            return set()
        # wide: makers pull back on every market of the event, leaving room to quote inside
        d = 2 + (h >> 52) % 5
        for x in range(n):
            bids[x] -= d
            asks[x] += d
        return set()

    # ------------------------------------------------------------------ public API
    def iter_markets_at(self, step: int) -> Iterator[Market]:
        """Yield every market at ``step`` (all statuses), event by event.

        A full pass is remembered, so the trades and books of the same step cost nothing more.

        Raises:
            ValueError: ``step`` is negative.
        """
        if step < 0:
            raise ValueError(f"step must be >= 0, got {step}")
        if step == self._cache_step:
            yield from self._cache
            return
        acc: list[Market] = []
        for slot in self._slots:
            gen, _t = divmod(step + slot.phase, slot.life)
            ms = self._event_markets(self._event(slot, gen), step)
            acc.extend(ms)
            yield from ms
        self._remember(step, acc)

    def _remember(self, step: int, markets: list[Market]) -> None:
        self._cache_step, self._cache, self._cache_trades, self._cache_index = step, markets, None, None

    def markets_at(self, step: int) -> list[Market]:
        """Return every market at ``step`` (all statuses), grouped by event.

        Raises:
            ValueError: ``step`` is negative.
        """
        if step != self._cache_step:
            for _ in self.iter_markets_at(step):
                pass
        return self._cache

    def _locate(self, ticker: str) -> tuple[_Slot, int] | None:
        """Find the slot and generation of a market ticker (our own ticker format)."""
        event, sep, _suffix = ticker.rpartition("-")
        series, sep2, rest = event.partition("-")
        if not sep or not sep2:
            return None
        body, g, gen_text = rest.rpartition("G")
        if not g or not gen_text.isdigit():
            return None
        info = self._series.get(series)
        if info is None:
            return None
        for spec_len in set(_DATECODE_LEN.values()):
            slot = self._by_tag.get((series, body[spec_len:]))
            if slot is not None and _DATECODE_LEN[slot.spec.datecode] == spec_len:
                return slot, int(gen_text)
        return None

    def market_at(self, ticker: str, step: int) -> Market | None:
        """Return one market at ``step`` (cheap: builds only its event), or None if unknown.

        A ticker of a past generation is returned as it stands after settlement (status
        ``finalized``, empty book); a future generation's ticker does not exist yet (None).

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
        cur, _t = divmod(step + slot.phase, slot.life)
        if gen > cur:
            return None
        ev = self._event(slot, gen) if gen == cur else self._build_event(slot, gen)
        if ticker not in ev.tickers:
            return None
        if gen < cur:
            step_eval = ev.start + ev.settle_t
        else:
            step_eval = step
        for m in self._event_markets(ev, step_eval):
            if m.ticker == ticker:
                return m
        return None

    def hidden_probabilities_at(self, step: int) -> dict[str, float]:
        """Return the hidden true P(YES) of every open market at ``step`` (ground truth, for tests)."""
        out: dict[str, float] = {}
        for slot in self._slots:
            gen, t = divmod(step + slot.phase, slot.life)
            ev = self._event(slot, gen)
            if 0 < t <= ev.close_t:
                for m, p in zip(ev.markets, self._hidden(ev, t), strict=True):
                    out[m.ticker] = p
        return out

    def hidden_probability(self, ticker: str, step: int) -> float | None:
        """Return one market's hidden true P(YES) at ``step`` while it trades or at its close (else None)."""
        found = self._locate(ticker)
        if found is None:
            return None
        slot, gen = found
        cur, _t = divmod(step + slot.phase, slot.life)
        ev = self._event(slot, gen) if gen == cur else self._build_event(slot, gen)
        t = step - ev.start
        if ticker not in ev.tickers or not 0 < t <= ev.close_t:
            return None
        return self._hidden(ev, t)[ev.tickers.index(ticker)]

    def dislocations_at(self, step: int) -> list[Dislocation]:
        """Return the deliberate mispricings active at ``step`` (ground truth, for tests and demos)."""
        out = []
        for slot in self._slots:
            gen, t = divmod(step + slot.phase, slot.life)
            ev = self._event(slot, gen)
            if 0 < t < ev.close_t:
                d = self._dislocation(ev, step)
                if d is not None:
                    out.append(Dislocation(ev.ticker, d[0], d[1], d[2]))
        return out

    def settlements_between(self, a: int, b: int) -> list[Settlement]:
        """Return settlements of markets whose event settled at a step ``s`` with ``a < s <= b``."""
        out: list[Settlement] = []
        if b <= a:
            return out
        for slot in self._slots:
            life = slot.life
            # settle step of generation g: g*life - phase + life - 1
            g0 = max(0, -(-(a + 1 + slot.phase - life + 1) // life))
            g = g0
            while True:
                settle = g * life - slot.phase + life - 1
                if settle > b:
                    break
                if settle > a:
                    out.extend(self._settle(self._event(slot, g)))
                g += 1
        out.sort(key=lambda x: (x.settled_ts_ms, x.ticker))
        return out

    def _settle(self, ev: _Event) -> list[Settlement]:
        """Draw the event's result from its hidden probabilities at close."""
        xs, _sd = self._latent(ev, ev.close_t)
        tau = math.sqrt(ev.tau2)
        ts = self.time_ms(ev.start + ev.settle_t)
        h = hash2(ev.key ^ 0x5E77, ev.gen)
        if ev.interval:
            final = xs[0] + tau * normal(h)
            results = []
            for m in ev.markets:
                lo = ev.edges[m.lo - 1] if m.lo >= 1 else -_INF
                hi = ev.edges[m.hi - 1] if m.hi - 1 < len(ev.edges) else _INF
                results.append(lo < final <= hi)
        else:
            scores = []
            for i, x in enumerate(xs):
                u = unit(mix64(h ^ ((i + 1) * GOLDEN & MASK64)))
                scores.append(x / tau - math.log(-math.log(u)))
            winner = max(range(len(scores)), key=lambda i: scores[i])
            results = [m.lo == winner for m in ev.markets]
        return [Settlement(m.ticker, ev.ticker, "yes" if r else "no", ts, value=ONE_DOLLAR if r else 0)
                for m, r in zip(ev.markets, results, strict=True)]

    def trades_between(self, a: int, b: int) -> list[Trade]:
        """Return public trades printed in steps ``a < s <= b``, at the touch of the book at ``s``.

        Trade sizes add up to each market's volume growth over the same steps.
        """
        out: list[Trade] = []
        for s in range(max(a, 0) + 1, b + 1):
            out.extend(self._trades_at(s))
        return out

    def _trades_at(self, step: int) -> list[Trade]:
        if step == self._cache_step and self._cache_trades is not None:
            return self._cache_trades
        markets = self.markets_at(step) if step == self._cache_step else list(self.iter_markets_at(step))
        trades: list[Trade] = []
        t0 = self.time_ms(step - 1)
        i = 0
        for slot in self._slots:
            gen, t = divmod(step + slot.phase, slot.life)
            ev = self._event(slot, gen)
            n = len(ev.markets)
            if not (1 <= t < ev.close_t):
                i += n
                continue
            for m in ev.markets:
                mk = markets[i]
                i += 1
                if mk.status != "active" or not m.vt:
                    continue
                dv = self._volume(m, t, ev.close_t) - self._volume(m, t - 1, ev.close_t)
                if dv <= 0:
                    continue
                h = hash2(m.key ^ 0x7EADE, step)
                prints = 1 + (h & 3) % 3
                prints = min(prints, dv)
                left = dv
                for k in range(prints):
                    size = left if k == prints - 1 else max(1, dv // prints)
                    left -= size
                    buy = (h >> (8 + k)) & 1
                    if buy and mk.no_bids:
                        price, side = ONE_DOLLAR - mk.no_bids[0][0], "bid"
                    elif mk.yes_bids:
                        price, side = mk.yes_bids[0][0], "ask"
                    elif mk.no_bids:
                        price, side = ONE_DOLLAR - mk.no_bids[0][0], "bid"
                    else:
                        continue
                    tid = f"{(h ^ (k * GOLDEN)) & MASK64:016x}{step & 0xFFFFFFFF:08x}{k:08x}"
                    trades.append(Trade(f"{tid[:8]}-{tid[8:12]}-{tid[12:16]}-{tid[16:20]}-{tid[20:]}", mk.ticker,
                                        price, size * COUNT_SCALE, side,  # type: ignore[arg-type]
                                        t0 + (k + 1) * self.step_ms // (prints + 1)))
        if step == self._cache_step:
            self._cache_trades = trades
        return trades

    def series(self) -> list[SeriesInfo]:
        """Return every series present in the universe."""
        return list(self._series.values())

    def events_at(self, step: int) -> list[EventInfo]:
        """Return every event at ``step`` with its markets and exclusivity flags."""
        out = []
        for slot in self._slots:
            gen, t = divmod(step + slot.phase, slot.life)
            ev = self._event(slot, gen)
            status = ("initialized" if t <= 0 else "active" if t < ev.close_t else
                      "closed" if t == ev.close_t else "finalized")
            if status == "active" and self._paused(ev, step):
                status = "inactive"
            out.append(EventInfo(ev.ticker, slot.series, ev.title, slot.spec.category, slot.spec.shape,
                                 ev.mutually_exclusive, ev.exhaustive, status, ev.open_ms, ev.close_ms, ev.close_time,
                                 ev.tickers, tuple(m.subtitle for m in ev.markets)))
        return out

    def describe(self, step: int) -> str:
        """Return the source descriptor that rebuilds this universe at ``step``."""
        return f"sim:seed={self.seed},markets={self.markets},step={step}"


def _nth_pair(k: int, n: int) -> tuple[int, int]:
    """Return the k-th pair (i < j) of n items in a spread-out order (so pairs vary early)."""
    pairs = [(i, j) for d in range(1, n) for i in range(n - d) for j in (i + d,)]
    return pairs[k % len(pairs)]


def _kl_coefficients(sig: float, close_t: int, s: Stream) -> tuple[float, ...]:
    """Coefficients of the first KL_TERMS (6) terms of a Brownian path on [0, close_t]."""
    root = sig * math.sqrt(2 * close_t) / math.pi
    h, g = s.next(), s.next()
    n = NORMAL4096
    z = (n[h & 4095], n[(h >> 12) & 4095], n[(h >> 24) & 4095], n[(h >> 36) & 4095], n[(h >> 48) & 4095],
         n[g & 4095])
    return tuple(root / (k + 0.5) * z[k] for k in range(KL_TERMS))


def _noise_params(s: Stream) -> tuple[float, float, float, float, float, float]:
    """Two sines (amplitude, angular frequency, phase) of a market's smooth pricing error."""
    lo, hi = MARKET_NOISE
    p_lo, p_hi = MARKET_NOISE_PERIOD
    h = s.next()
    two_pi = 2 * math.pi
    out = []
    for i in range(2):
        x = h >> (30 * i)
        out.append(lo + (hi - lo) * (x & 0x3FF) / 1024.0)
        out.append(two_pi / (p_lo + ((x >> 10) & 0x3FF) % (p_hi - p_lo + 1)))
        out.append(two_pi * ((x >> 20) & 0x3FF) / 1024.0)
    return out[0], out[1], out[2], out[3], out[4], out[5]
