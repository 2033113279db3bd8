"""The names of the sim universe: tickers, titles, strikes and times of each generation of a slot.

A slot's names change only when a new generation opens, so they are built once per
generation (:class:`NameCache`) from hashes of the slot's key and the generation.
"""

from __future__ import annotations

import time as _time
from decimal import Decimal
from typing import Any

from . import universe_core as core
from .universe_books import Stream, hash2
from .universe_catalog import POOLS, Underlying
from .universe_layout import Slot

_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_MONTH_NAMES = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
#: length of the date code in an event ticker, per series datecode
DATECODE_LEN = {"minute": 11, "hour": 9, "day": 7, "month": 5, "year": 2}
_DECIMALS: dict[str, Decimal] = {}  # strike values shared between events and generations


def _decimal(text: str) -> Decimal:
    d = _DECIMALS.get(text)
    if d is None:
        if len(_DECIMALS) > 100_000:
            _DECIMALS.clear()
        d = _DECIMALS[text] = Decimal(text)
    return d


def _fmt_lattice(v: int, decimals: int, scale: int = 1) -> str:
    return format(Decimal(v * scale).scaleb(-decimals), "f")


class Names:
    """The strings of one generation of a slot: tickers, titles, strikes, times."""

    __slots__ = (
        "gen",
        "ticker",
        "title",
        "close_time",
        "close_ms",
        "open_ms",
        "tickers",
        "titles",
        "subtitles",
        "strike_types",
        "floors",
        "caps",
        "index",
        "_rows",
    )

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

    def add(
        self,
        ticker: str,
        title: str,
        subtitle: str,
        strike_type: str | None,
        floor: Decimal | None,
        cap: Decimal | None,
    ) -> None:
        self._rows.append((ticker, title, subtitle, strike_type, floor, cap))

    def seal(self) -> None:
        """Freeze the columns as tuples: the cyclic GC untracks tuples of strings, never lists."""
        cols: tuple[tuple[Any, ...], ...] = tuple(zip(*self._rows, strict=True))
        self.tickers, self.titles, self.subtitles, self.strike_types, self.floors, self.caps = cols
        del self._rows
        self.index = {t: j for j, t in enumerate(self.tickers)}


class NameCache:
    """The names of the generation each slot is in, rebuilt when the slot opens a new one."""

    __slots__ = ("_names", "epoch_ms", "step_ms")

    def __init__(self, slots: int, epoch_ms: int, step_ms: int) -> None:
        self._names: list[Names | None] = [None] * slots
        self.epoch_ms = epoch_ms
        self.step_ms = step_ms

    def get(self, slot: Slot, c: core.Core) -> Names:
        """Return the strings of the generation ``slot`` is in at core ``c``."""
        gen = int(c.gen[slot.index])
        names = self._names[slot.index]
        if names is None or names.gen != gen:
            names = self._build(slot, c)
            self._names[slot.index] = names
        return names

    def _build(self, slot: Slot, c: core.Core) -> Names:
        spec = slot.spec
        names, s, fmt = self._event(slot, c)
        if spec.shape == "me":
            for code, name in _outcome_names(slot, s):
                text = spec.market_title.format(name=name, **fmt) if spec.market_title else names.title
                names.add(f"{names.ticker}-{code}", text, name[0].upper() + name[1:], None, None, None)
        elif spec.underlying is None:  # binary or combo
            suffix = spec.binary_suffix or format(s.next() & 0xFFFFFFFFFFF, "011X")
            names.add(f"{names.ticker}-{suffix}", names.title, "Yes", "custom" if slot.combo else None, None, None)
        elif spec.shape == "ladder":
            _add_ladder(names, slot, spec.underlying, int(round(float(c.first[slot.index]))))
        else:
            _add_brackets(names, slot, spec.underlying, int(round(float(c.first[slot.index]))))
        names.seal()
        return names

    def _event(self, slot: Slot, c: core.Core) -> tuple[Names, Stream, dict[str, str]]:
        """The event's times, ticker and title; the stream and title fields its markets' names use."""
        spec = slot.spec
        si = slot.index
        gen = int(c.gen[si])
        names = Names(gen)
        start = c.step - int(c.t[si])
        names.close_ms = self.epoch_ms + (start + slot.life - 2) * self.step_ms
        names.open_ms = self.epoch_ms + (start + 1) * self.step_ms
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
        names.ticker = f"{slot.series}-{code}{slot.tag}G{gen}"
        s = Stream(hash2(slot.key, gen) ^ 0x4E4D45)
        pool = POOLS.get(spec.pool, ())
        fmt = {
            "date": f"{mon.title()} {tm.tm_mday}, {tm.tm_year}",
            "hour": f"{tm.tm_hour:02d}:00 UTC",
            "time": f"{tm.tm_hour:02d}:{tm.tm_min:02d} UTC",
            "year": str(tm.tm_year),
            "month": f"{_MONTH_NAMES[tm.tm_mon - 1]} {tm.tm_year}",
            "quarter": f"Q{(tm.tm_mon - 1) // 3 + 1} {tm.tm_year}",
            "member": slot.member[1] if slot.member else "",
            "a": pool[slot.pair[0]][1] if slot.pair else "",
            "b": pool[slot.pair[1]][1] if slot.pair else "",
            "k": str(30 + s.next() % 30),
        }
        names.title = spec.event_title.format(**fmt)
        return names, s, fmt


def _outcome_names(slot: Slot, s: Stream) -> list[tuple[str, str]]:
    """(ticker code, name) of each outcome of a mutually exclusive event."""
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


def _add_ladder(names: Names, slot: Slot, u: Underlying, first: int) -> None:
    """The strikes of an ``above K`` ladder, from the first one (lattice units)."""
    for j in range(slot.n):
        shown_half = 2 * (first + j * u.spacing + u.strike_offset) + (1 if u.half_strikes else 0)
        floor = (Decimal(shown_half) / 2).scaleb(-u.decimals) * u.label_scale
        label = format(floor, "f")
        names.add(
            f"{names.ticker}-T{label}",
            names.title,
            f"Above {u.prefix}{label}{u.unit}",
            "greater",
            _decimal(label),
            None,
        )


def _add_brackets(names: Names, slot: Slot, u: Underlying, first: int) -> None:
    """Range brackets ``[a, a + w − 1]`` from the first floor (lattice units), with tails when exhaustive."""
    ticker, title = names.ticker, names.title
    w = u.spacing
    money_like = u.decimals >= 2
    if slot.exhaustive:
        label = _fmt_lattice(first, u.decimals)
        label = label[:-3] if money_like and label.endswith(".00") else label
        names.add(
            f"{ticker}-T{label}",
            title,
            f"{u.prefix}{_fmt_lattice(first - 1, u.decimals)}{u.unit} or below",
            "less",
            None,
            _decimal(label),
        )
    for j in range(slot.n):
        a = first + j * w
        cap = a + w - 1
        if money_like:
            mid = _fmt_lattice(a + w // 2, u.decimals)
            mid = mid.rstrip("0").rstrip(".")
        else:
            mid = format((Decimal(a) + Decimal(cap)).scaleb(-u.decimals) / 2, "f")
        lo, hi = _fmt_lattice(a, u.decimals), _fmt_lattice(cap, u.decimals)
        names.add(
            f"{ticker}-B{mid}",
            title,
            f"{u.prefix}{lo} to {u.prefix}{hi}{u.unit}",
            "between",
            _decimal(lo),
            _decimal(hi),
        )
    if slot.exhaustive:
        last = first + slot.n * w - 1
        label = _fmt_lattice(last, u.decimals)
        names.add(
            f"{ticker}-T{label}",
            title,
            f"{u.prefix}{_fmt_lattice(last + 1, u.decimals)}{u.unit} or above",
            "greater",
            _decimal(label),
            None,
        )
