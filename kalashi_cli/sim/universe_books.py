"""Building blocks of the sim universe: hashing, tick grids, calibrated tables, book sides.

Everything here is deterministic and process-independent: hashing is splitmix64 on ints
(never Python's ``hash()`` of strings, which is randomised per process), and every table is
built from fixed constants, so two processes produce identical books for the same seed.

Book sides are shared to keep 100 000 markets fast and small: a side is named by an int key
(grid, size table, liquidity class, best level, template — see :func:`side_key`), built once
by :func:`side_for_key` and cached in :data:`SIDES`; each level is a ``(price, size)`` tuple
shared by every side that quotes it. A market allocates nothing for its book.
"""

from __future__ import annotations

import bisect
import dataclasses
import math
from statistics import NormalDist
from typing import Any

from ..domain import Level, Market
from ..money import CENT_GRID, DECI_CENT_GRID, ONE_DOLLAR, TAPERED_GRID, Count, Price, TickBand
from .universe_catalog import CLASS_SIZE_FACTOR, GROUP_SHARES, LEVEL_SIZE_MEDIAN, TOP_SIZE_MEDIAN

MASK64 = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15


def mix64(x: int) -> int:
    """Return the splitmix64 finaliser of ``x``: a well-mixed 64-bit hash, same in every process."""
    x = (x + GOLDEN) & MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & MASK64
    return x ^ (x >> 31)


def hash2(a: int, b: int) -> int:
    """Hash a pair of ints (keys, indices, steps) into 64 bits."""
    return mix64(a ^ mix64(b & MASK64))


def unit(h: int) -> float:
    """Map a 64-bit hash to a float in (0, 1) (53 bits, never exactly 0 or 1)."""
    return ((h >> 11) + 0.5) / 9007199254740992.0


_ND = NormalDist()
#: 256 standard-normal quantiles: a byte of hash → an (approximately) normal draw.
NORMAL256: tuple[float, ...] = tuple(_ND.inv_cdf((i + 0.5) / 256) for i in range(256))


#: 4096 standard-normal quantiles: 12 bits of hash → a normal draw (tails to ±3.5σ).
NORMAL4096: tuple[float, ...] = tuple(_ND.inv_cdf((i + 0.5) / 4096) for i in range(4096))


class Stream:
    """A deterministic stream of draws from one key (for one-off static builds).

    Small draws (uniforms, normals, small ints) are sliced off a buffered 64-bit hash, so a
    market's dozen static parameters cost two or three hashes instead of a dozen.
    """

    __slots__ = ("key", "i", "buf", "nbits")

    def __init__(self, key: int) -> None:
        self.key = key
        self.i = 0
        self.buf = 0
        self.nbits = 0

    def next(self) -> int:
        """Return a fresh full 64-bit draw."""
        self.i += 1
        return mix64(self.key ^ ((self.i * GOLDEN) & MASK64))

    def bits(self, n: int) -> int:
        """Return ``n`` (≤ 64) random bits."""
        if self.nbits < n:
            self.buf = self.next()
            self.nbits = 64
        v = self.buf & ((1 << n) - 1)
        self.buf >>= n
        self.nbits -= n
        return v

    def uniform(self) -> float:
        return (self.bits(24) + 0.5) / 16777216.0

    def normal(self) -> float:
        return NORMAL4096[self.bits(12)]

    def randint(self, lo: int, hi: int) -> int:
        """Return an int in [lo, hi] (ranges up to a few thousand; bias below 1 %)."""
        return lo + self.bits(20) % (hi - lo + 1)

    def choice_weighted(self, weights: list[float] | tuple[float, ...]) -> int:
        u = self.uniform() * sum(weights)
        acc = 0.0
        for i, w in enumerate(weights):
            acc += w
            if u < acc:
                return i
        return len(weights) - 1


# --------------------------------------------------------------------------- grids

GRID_BANDS: dict[str, tuple[TickBand, ...]] = {
    "linear_cent": CENT_GRID,
    "deci_cent": DECI_CENT_GRID,
    "tapered_deci_cent": TAPERED_GRID,
}


def _grid_prices(bands: tuple[TickBand, ...]) -> tuple[Price, ...]:
    prices: set[Price] = set()
    for b in bands:
        p = b.start
        while p <= b.end:
            if 0 < p < ONE_DOLLAR:
                prices.add(p)
            p = Price(p + b.step)
    return tuple(sorted(prices))


class Grid:
    """A tick grid as a sorted price list plus a float price → fractional index table.

    All three Kalshi grids we simulate are symmetric around $0.50, so the NO price at YES
    index ``i`` is the YES price at index ``n − 1 − i``.
    """

    __slots__ = ("name", "gid", "bands", "prices", "n", "fidx")

    def __init__(self, name: str, gid: int) -> None:
        self.name = name
        self.gid = gid
        self.bands = GRID_BANDS[name]
        self.prices = _grid_prices(self.bands)
        self.n = len(self.prices)
        assert all(a + b == ONE_DOLLAR for a, b in zip(self.prices, reversed(self.prices), strict=True))
        # fidx[u] for u in 0..10 000 (price in 1/10 000 $): fractional index, linear between ticks
        fidx: list[float] = []
        ps = self.prices
        j = 0
        for u in range(ONE_DOLLAR + 1):
            while j < self.n - 1 and ps[j + 1] <= u:
                j += 1
            if u <= ps[0]:
                fidx.append((u - ps[0]) / (ps[1] - ps[0]))
            elif u >= ps[-1]:
                fidx.append(self.n - 1 + (u - ps[-1]) / (ps[-1] - ps[-2]))
            else:
                fidx.append(j + (u - ps[j]) / (ps[j + 1] - ps[j]))
        self.fidx = tuple(fidx)


GRIDS: dict[str, Grid] = {name: Grid(name, i) for i, name in enumerate(GRID_BANDS)}
GRID_LIST: tuple[Grid, ...] = tuple(GRIDS.values())

# --------------------------------------------------------------------------- calibrated tables

GROUPS: tuple[str, ...] = tuple(GROUP_SHARES)

#: Spread (in grid ticks) per liquidity class, 256 entries each so a hash byte picks one.
#: Liquid books: 1 tick ≈ 70 % (real sports books: 72 % one tick, weather 83 %); thin books
#: carry the wide spreads real economics/politics captures show (docs/sim-calibration.md).
_SPREAD_MIX: tuple[tuple[tuple[int, int, float], ...], ...] = (
    ((1, 1, 0.74), (2, 2, 0.16), (3, 3, 0.06), (4, 5, 0.04)),
    ((1, 1, 0.30), (2, 2, 0.30), (3, 3, 0.15), (4, 5, 0.12), (6, 10, 0.13)),
    ((2, 2, 0.05), (3, 5, 0.15), (6, 10, 0.30), (11, 30, 0.30), (31, 60, 0.20)),
)


def _spread_table(mix: tuple[tuple[int, int, float], ...]) -> tuple[int, ...]:
    out: list[int] = []
    for lo, hi, share in mix:
        k = round(share * 256)
        out.extend(lo + (i * (hi - lo + 1)) // max(k, 1) for i in range(k))
    out = (out + [mix[-1][1]] * 256)[:256]
    # interleave deterministically so neighbouring bytes differ
    return tuple(out[(i * 97) % 256] for i in range(256))


SPREAD_TABLES: tuple[tuple[int, ...], ...] = tuple(_spread_table(m) for m in _SPREAD_MIX)


def _size_table(median: float, sigma: float) -> tuple[Count, ...]:
    """64 lognormal size quantiles in Count units (1/100 contract), a few fractional."""
    out: list[int] = []
    for i in range(64):
        z = _ND.inv_cdf((i + 0.5) / 64)
        contracts = max(1.0, median * math.exp(sigma * z))
        c = int(round(contracts)) * 100
        if i % 7 == 3:  # fractional contracts exist on Kalshi (e.g. 1329.20 in real books)
            c += (i * 37) % 100
        out.append(max(100, c))
    return tuple(Count(out[(i * 29) % 64]) for i in range(64))


#: (group, class) → size tables for the best level and for deeper levels.
TOP_SIZES: dict[tuple[str, int], tuple[Count, ...]] = {}
DEEP_SIZES: dict[tuple[str, int], tuple[Count, ...]] = {}
for _g in GROUPS:
    for _c, _f in enumerate(CLASS_SIZE_FACTOR):
        TOP_SIZES[(_g, _c)] = _size_table(TOP_SIZE_MEDIAN[_g] * _f, 1.8)
        DEEP_SIZES[(_g, _c)] = _size_table(LEVEL_SIZE_MEDIAN[_g] * _f, 2.0)
#: Sizes at a dislocated (mispriced) best level: real arbitrage is thin (5–80 contracts).
THIN_SIZES: tuple[Count, ...] = tuple(Count(100 * (5 + (i * 23) % 76)) for i in range(64))
#: Sizes at the legs of an arbitrage (riskless after fees), in Count units: what competing
#: arbitrageurs left of the thin size by the time the snapshot is taken (1–10 contracts).
ARBITRAGE_LEFT_SIZES: tuple[Count, ...] = tuple(Count(100 * (1 + (i * 7) % 10)) for i in range(64))
#: Table ids for the side cache: one per (group, class).
TABLE_IDS: dict[tuple[str, int], int] = {k: i for i, k in enumerate(DEEP_SIZES)}
TOP_SIZE_LIST: tuple[tuple[Count, ...], ...] = tuple(TOP_SIZES.values())
DEEP_SIZE_LIST: tuple[tuple[Count, ...], ...] = tuple(DEEP_SIZES.values())

# Levels per side beyond the best, per class (liquid, normal, thin): real liquid books show a
# median of 21 (sports) to 34 (weather) levels; 10th percentile 10.
_DEPTH_RANGE = ((14, 48), (6, 24), (1, 8))
# Gap in ticks between consecutive levels: real books 80 % one tick, 7 % two, 4 % three …
_GAPS = (1,) * 80 + (2,) * 8 + (3,) * 5 + (4,) * 2 + (5, 6, 7, 9, 12)
N_TEMPLATES = 32


def _templates(cls: int) -> tuple[tuple[int, tuple[tuple[int, int], ...]], ...]:
    s = Stream(0xDEE9 + cls)
    lo, hi = _DEPTH_RANGE[cls]
    out = []
    for _ in range(N_TEMPLATES):
        depth = s.randint(lo, hi)
        off = 0
        levels = []
        for _ in range(depth):
            off += _GAPS[s.next() % len(_GAPS)]
            levels.append((off, s.next() % 64))
        out.append((s.next() % 64, tuple(levels)))
    return tuple(out)


#: N_TEMPLATES side templates per class: (best-level size index, ((ticks below best, size index), ...)).
TEMPLATES: tuple[tuple[tuple[int, tuple[tuple[int, int], ...]], ...], ...] = tuple(_templates(c) for c in range(3))
_TEMPLATE_OFFSETS = tuple(tuple(tuple(off for off, _ in deep) for _, deep in per_cls) for per_cls in TEMPLATES)

_LEVELS: dict[tuple[int, int], list[list[Level | None] | None]] = {}
SIDES_MAX = 200_000  # bound the side cache (about 40 MB at the limit)
#: Side keys: ``≥ 0`` a quoted side (see :func:`side_key`); LOTTERY_BASE + … a lone bid at the
#: grid's lowest price; EMPTY_SIDE no bids at all.
LOTTERY_BASE = 1 << 40
EMPTY_SIDE = 1 << 41
SIDES: dict[int, tuple[Level, ...]] = {EMPTY_SIDE: ()}


def level(grid: Grid, table: int, top: bool, index: int, size_index: int) -> Level:
    """Return the shared ``(price, size)`` tuple for a grid price and a size-table entry (built once)."""
    key = (grid.gid * 2 + top, table)
    rows = _LEVELS.get(key)
    if rows is None:
        rows = _LEVELS[key] = [None] * grid.n
    row = rows[index]
    if row is None:
        row = rows[index] = [None] * 64
    lv = row[size_index]
    if lv is None:
        lv = row[size_index] = (grid.prices[index], (TOP_SIZE_LIST if top else DEEP_SIZE_LIST)[table][size_index])
    return lv


def side_key(gid: int, table: int, cls: int, best: int, template: int) -> int:
    """Return the cache key of a quoted book side (see :func:`side_for_key`)."""
    return (((gid * 64 + table) * 1024 + best) * 4 + cls) * N_TEMPLATES + template


def side_for_key(key: int) -> tuple[Level, ...]:
    """Return the book side a key names, shared between markets; build and cache it on a miss.

    Callers on the hot path look the key up in :data:`SIDES` first and call this on a miss.
    """
    side = SIDES.get(key)
    if side is not None:
        return side
    if key >= EMPTY_SIDE:
        return ()
    if key >= LOTTERY_BASE:
        code, size_index = divmod(key - LOTTERY_BASE, 64)
        gid, table = divmod(code, 64)
        side = (level(GRID_LIST[gid], table, True, 0, size_index),)
    else:
        rest, template = divmod(key, N_TEMPLATES)
        rest, cls = divmod(rest, 4)
        rest, best = divmod(rest, 1024)
        gid, table = divmod(rest, 64)
        grid = GRID_LIST[gid]
        top_size, deep = TEMPLATES[cls][template]
        cut = bisect.bisect_right(_TEMPLATE_OFFSETS[cls][template], best)
        rows = _LEVELS.get((gid * 2, table))
        if rows is None:
            rows = _LEVELS[(gid * 2, table)] = [None] * grid.n
        sizes = DEEP_SIZE_LIST[table]
        prices = grid.prices
        levels = [level(grid, table, True, best, top_size)]
        for off, si in deep[:cut]:  # inline level(): a cold start builds ~1 million of these
            idx = best - off
            row = rows[idx]
            if row is None:
                row = rows[idx] = [None] * 64
            lv = row[si]
            if lv is None:
                lv = row[si] = (prices[idx], sizes[si])
            levels.append(lv)
        side = tuple(levels)
    if len(SIDES) >= SIDES_MAX:
        SIDES.clear()
        SIDES[EMPTY_SIDE] = ()
    SIDES[key] = side
    return side


# --------------------------------------------------------------------------- fast Market construction

#: The Market fields the universe fills, in the order :data:`new_market` takes them.
MARKET_FIELDS: tuple[str, ...] = (
    "ticker",
    "event_ticker",
    "series_ticker",
    "title",
    "category",
    "status",
    "close_time",
    "yes_bids",
    "no_bids",
    "volume",
    "open_interest",
    "fee_type",
    "fee_multiplier",
    "price_ranges",
    "strike_type",
    "floor_strike",
    "cap_strike",
    "mutually_exclusive",
    "exhaustive",
    "is_combo",
    "last_price",
    "forecast_p",
    "exchange_index",
    "event_market_count",
    "close_ts_ms",
)


def _market_constructor() -> Any:
    """Build ``new_market(*MARKET_FIELDS)`` → Market, about 3× faster than ``Market(...)``.

    A frozen slots dataclass assigns each field through ``object.__setattr__`` (about 3.5 µs
    for 25 fields); writing the slot descriptors directly builds the identical object in
    about 1 µs, which is a third of the universe's whole per-market budget at 100 000
    markets. Fields the universe does not know (added later by someone else) get their
    declared defaults; if Market ever stops being a slots class we use its own __init__.
    """
    fields = dataclasses.fields(Market)
    names = {f.name for f in fields}
    params = [n for n in MARKET_FIELDS]
    if (
        not all(isinstance(Market.__dict__.get(f.name), type(Market.__dict__["ticker"])) for f in fields)
        or "__slots__" not in Market.__dict__
    ):

        def slow(*args: Any) -> Market:
            return Market(**{k: v for k, v in zip(params, args, strict=True) if k in names})

        return slow
    ns: dict[str, Any] = {"_new": object.__new__, "_Market": Market}
    lines = [f"def new_market({', '.join(params)}):", "    m = _new(_Market)"]
    for f in fields:
        ns[f"_set_{f.name}"] = Market.__dict__[f.name].__set__
        if f.name in params:
            lines.append(f"    _set_{f.name}(m, {f.name})")
        elif f.default is not dataclasses.MISSING:
            ns[f"_default_{f.name}"] = f.default
            lines.append(f"    _set_{f.name}(m, _default_{f.name})")
        elif f.default_factory is not dataclasses.MISSING:
            ns[f"_factory_{f.name}"] = f.default_factory
            lines.append(f"    _set_{f.name}(m, _factory_{f.name}())")
        else:  # a new required field we cannot fill: use the real constructor (it will say why)

            def strict(*args: Any) -> Market:
                return Market(**{k: v for k, v in zip(params, args, strict=True) if k in names})

            return strict
    lines.append("    return m")
    exec("\n".join(lines), ns)  # noqa: S102 - generated from the dataclass fields, like dataclasses does
    return ns["new_market"]


new_market = _market_constructor()
