"""The layout of the sim universe: its event slots, and the same as the flat arrays the core reads.

Built once per universe from ``(seed, markets)``: which series, shape and size each slot has,
its lifetime and phase, its tag in the tickers, and where its paths and markets sit in the
arrays of :mod:`.universe_core`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from . import universe_core as core
from .universe_books import GRIDS, TABLE_IDS, Stream, hash2
from .universe_catalog import CLASS_MIX, GROUP_SHARES, POOLS, SERIES, VOLUME_MEDIAN, ZERO_VOLUME_SHARE, SeriesSpec
from .universe_flow import params as flow_params

_SHAPE_CODE = {name: i for i, name in enumerate(core.SHAPES)}
_POOL_CODE = {"fed": core.POOL_FED, "parties": core.POOL_PARTIES}


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


class Slot:
    """One event slot: series, shape and size never change; each generation renames it."""

    __slots__ = (
        "index",
        "spec",
        "series",
        "member",
        "tag",
        "size",
        "n",
        "life",
        "phase",
        "key",
        "exhaustive",
        "pair",
        "grid",
        "moff",
        "poff",
        "mutually_exclusive",
        "combo",
    )

    def __init__(
        self,
        index: int,
        spec: SeriesSpec,
        series: str,
        member: tuple[str, str, int] | None,
        tag: str,
        size: int,
        n: int,
        life: int,
        phase: int,
        key: int,
        exhaustive: bool,
        pair: tuple[int, int] | None,
    ) -> None:
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


@dataclass(slots=True)
class Slots:
    """The laid-out universe: its slots, how tickers find them, its series and the core's arrays."""

    slots: list[Slot]
    by_tag: dict[tuple[str, str], Slot]  # (series, tag) → slot
    series: dict[str, SeriesInfo]
    arrays: core.Layout


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


def lay_out(key: int, markets: int) -> Slots:
    """Fill event slots across the category groups until the universe holds exactly ``markets``."""
    by_group: dict[str, list[SeriesSpec]] = {}
    for spec in SERIES:
        by_group.setdefault(spec.group, []).append(spec)
    singles = {g: [s for s in specs if s.n == (1, 1)] for g, specs in by_group.items()}
    weights = {g: [x.weight for x in specs] for g, specs in by_group.items()}
    counts = dict.fromkeys(GROUP_SHARES, 0)
    per_series: dict[str, int] = {}
    slots: list[Slot] = []
    by_tag: dict[tuple[str, str], Slot] = {}
    series_info: dict[str, SeriesInfo] = {}
    total = 0
    index = 0
    while total < markets:
        remaining = markets - total
        # the group furthest below its share gets the next slot: exact proportions, no drift
        group = max(GROUP_SHARES, key=lambda g: GROUP_SHARES[g] * (total + 1) - counts[g])
        s = Stream(hash2(key, index))
        specs = by_group[group]
        spec = specs[s.choice_weighted(weights[group])]
        n, size, exhaustive = _shape_size(spec, s)
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
        slot = Slot(index, spec, series, member, tag, size, n, life, s.next() % life, s.next(), exhaustive, pair)
        slot.moff = total
        slots.append(slot)
        by_tag[(series, tag)] = slot
        if series not in series_info:
            title = spec.title.format(name=member[1]) if member else spec.title
            series_info[series] = SeriesInfo(
                series, title, spec.category, spec.fee_type, spec.fee_multiplier, spec.grid, spec.frequency
            )
        counts[group] += size
        total += size
        index += 1
    return Slots(slots, by_tag, series_info, layout_arrays(slots))


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


#: numpy dtype per column (None: numpy's choice, float64 for these); columns not named stay lists
_DTYPES: dict[str, Any] = {
    **dict.fromkeys(
        (
            "life",
            "phase",
            "moff",
            "msize",
            "poff",
            "psize",
            "n",
            "shape",
            "gid",
            "top",
            "group_table",
            "spacing",
            "soff",
            "half",
            "pool",
            "levels",
            "lag_steps",
            "slow_steps",
        ),
        np.int64,
    ),
    "key": np.uint64,
    "exhaustive": bool,
    **dict.fromkeys(
        (
            "level",
            "jitter",
            "zero_share",
            "mix0",
            "mix01",
            "vmed",
            "open_sd",
            "lag_share",
            "slow_share",
            "err_scale",
            "longshot",
            "activity",
            "terminal",
        )
    ),
}


def _slot_columns(slots: list[Slot], shapes: list[int], psize: list[int]) -> dict[str, list[Any]]:
    """Every per-slot column of :class:`universe_core.Layout`, one list comprehension each."""
    specs = [x.spec for x in slots]
    unds = [x.underlying for x in specs]
    mixes = [x.class_mix or CLASS_MIX[x.group] for x in specs]
    fps = [flow_params(x.group) for x in specs]
    return {
        "life": [x.life for x in slots],
        "phase": [x.phase for x in slots],
        "key": [x.key for x in slots],
        "moff": [x.moff for x in slots],
        "msize": [x.size for x in slots],
        "poff": [x.poff for x in slots],
        "psize": psize,
        "n": [x.n for x in slots],
        "shape": shapes,
        "exhaustive": [x.exhaustive for x in slots],
        "gid": [x.grid.gid for x in slots],
        "top": [x.grid.n - 1 for x in slots],
        "group_table": [[TABLE_IDS[(x.group, k)] for k in range(3)] for x in specs],
        "level": [
            float((u.level + (x.member[2] * 10**u.decimals if x.member else 0)) if u else 0)
            for x, u in zip(slots, unds, strict=True)
        ],
        "jitter": [u.jitter if u else 0.0 for u in unds],
        "spacing": [u.spacing if u else 1 for u in unds],
        "soff": [u.strike_offset if u else 0 for u in unds],
        "half": [1 if u and u.half_strikes else 0 for u in unds],
        "zero_share": [ZERO_VOLUME_SHARE if x.shape != "combo" else 0.6 for x in specs],
        "mix0": [m[0] for m in mixes],
        "mix01": [m[0] + m[1] for m in mixes],
        "vmed": [VOLUME_MEDIAN[x.group] for x in specs],
        "pool": [core.POOL_PAIRS if x.pairs else _POOL_CODE.get(x.pool, core.POOL_CANDIDATES) for x in specs],
        "levels": [max(1, (x.life - 3).bit_length()) for x in slots],  # 2**levels ≥ the close step
        "open_sd": [x.open_sd for x in specs],
        "activity": [x.activity for x in specs],
        "terminal": [x.terminal_share for x in specs],
        "lag_share": [f.lag_share for f in fps],
        "lag_steps": [f.lag_steps for f in fps],
        "slow_share": [f.slow_share for f in fps],
        "slow_steps": [f.slow_steps for f in fps],
        "err_scale": [f.error_scale for f in fps],
        "longshot": [f.longshot for f in fps],
        "fee_type": [x.fee_type for x in specs],
        "fee_mult": [x.fee_multiplier for x in specs],
        "kinds": [core.dislocation_kinds(shape, x.size, x.exhaustive) for x, shape in zip(slots, shapes, strict=True)],
    }


def _path_rows(slot: Slot, shape: int) -> list[tuple[int, int, bool]]:
    """(slot, index, is the hidden "other" outcome) per latent path of the slot."""
    if shape == core.ME:
        return [(slot.index, j, j >= slot.n) for j in range(slot.n + (0 if slot.exhaustive else 1))]
    return [(slot.index, 0, False)]


def _market_rows(slot: Slot, shape: int) -> list[tuple[int, int, int, int, int]]:
    """(slot, index, path, market kind, bracket or strike index) per market of the slot."""
    si, poff = slot.index, slot.poff
    if shape == core.ME:
        return [(si, j, poff + j, core.K_OUTCOME, j) for j in range(slot.size)]
    if shape in (core.BINARY, core.COMBO):
        return [(si, j, poff, core.K_BINARY, 0) for j in range(slot.size)]
    if shape == core.LADDER:
        return [(si, j, poff, core.K_LADDER, j) for j in range(slot.size)]
    if not slot.exhaustive:
        return [(si, j, poff, core.K_BETWEEN, j) for j in range(slot.size)]
    last = slot.size - 1  # exhaustive brackets: a tail below, the brackets, a tail above
    return [
        (
            si,
            j,
            poff,
            core.K_LESS if j == 0 else core.K_GREATER if j == last else core.K_BETWEEN,
            0 if j in (0, last) else j - 1,
        )
        for j in range(slot.size)
    ]


def layout_arrays(slots: list[Slot]) -> core.Layout:
    """Describe the slots as the flat arrays the numeric core works on (sets each slot's ``poff``)."""
    shapes = [_SHAPE_CODE[slot.spec.shape] for slot in slots]
    psize: list[int] = []
    paths: list[tuple[int, int, bool]] = []
    markets: list[tuple[int, int, int, int, int]] = []
    for slot, shape in zip(slots, shapes, strict=True):
        slot.poff = len(paths)
        slot_paths = _path_rows(slot, shape)
        psize.append(len(slot_paths))
        paths += slot_paths
        markets += _market_rows(slot, shape)
    columns: dict[str, Any] = {
        name: np.array(col, _DTYPES[name]) if name in _DTYPES else col
        for name, col in _slot_columns(slots, shapes, psize).items()
    }
    i64 = np.int64
    p_slot, p_j, p_other = zip(*paths, strict=True)
    m_slot, m_j, m_path, m_kind, m_bj = zip(*markets, strict=True)
    return core.Layout(
        **columns,
        p_slot=np.array(p_slot, i64),
        p_j=np.array(p_j, i64),
        p_other=np.array(p_other, bool),
        m_slot=np.array(m_slot, i64),
        m_j=np.array(m_j, i64),
        m_path=np.array(m_path, i64),
        m_kind=np.array(m_kind, i64),
        m_bj=np.array(m_bj, i64),
    )
