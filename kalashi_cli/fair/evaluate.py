"""Score fair-value models against how markets really settled (``kalashi fair --evaluate``).

For every sampled snapshot, every market with a known result, an open book on both sides and
time left before its close is one *row*: the market's mid, each model's probability (when the
model can price it), and the outcome. Per model (and for the mid itself):

* **Brier score** ``mean((p − y)²)`` and **log loss** ``−mean(y ln p + (1 − y) ln(1 − p))``
  with p clipped to [0.001, 0.999] (a market at $0.00 that settles yes would be infinite);
* **brier_vs_mid**: the model's Brier minus the mid's on the same rows (negative = better than
  the market), with a 95 % interval from resampling whole *events* (rows of one event are not
  independent — a 15-minute window sampled every minute is one outcome, not fifteen);
* a **reliability table**: rows binned by p in tenths, mean p against the frequency of YES;
* **the value strategy's P&L after fees**: at each row the value strategy (analyze, with the
  profile's ``value`` settings, ``fair.uncertainty_multiple`` and ``fair.max_age_seconds``) is
  given the model's value;
  where it would buy, one contract at the best ask is held to settlement: payout − price − taker
  fee. The mid never trades (it is never below the ask), which is the point of comparison: a
  model earns its keep only if this is positive.

Besides the built-in models, ``fair`` records your own program wrote earlier (``--fair FILE``)
are scored the same way (:class:`RecordedModel`).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

import msgspec

from ..domain import FairValue, Market, Opportunity
from ..money import COUNT_SCALE, ONE_DOLLAR, Count, Money, Price, fee_for, fmt_money, notional
from ..profile import Profile
from .base import FairModel, as_probability
from .datasets import Snapshot

ONE = COUNT_SCALE
EPS = 0.001
BINS = 10
BOOTSTRAP = 2000
MID = "mid"


@dataclass(slots=True)
class Row:
    """One market at one sample time, with every model's probability and what the trade made."""

    ticker: str
    event: str
    t_ms: int
    outcome: bool
    p: dict[str, float] = field(default_factory=dict)  # model → probability
    pnl: dict[str, int] = field(default_factory=dict)  # model → money of its one-contract value trade


@dataclass(frozen=True, slots=True)
class Score:
    """How one model scored (the numbers of a ``fair-score`` record)."""

    model: str
    dataset: str
    n: int
    markets: int
    events: int
    brier: float | None
    log_loss: float | None
    brier_vs_mid: float | None
    brier_vs_mid_ci: tuple[float, float] | None
    reliability: tuple[dict[str, Any], ...]
    trades: int
    pnl: int  # money, micro-dollars

    def record(self) -> dict[str, Any]:
        def dec(x: float | None) -> str | None:
            return None if x is None else f"{x:.6f}"

        return {
            "kind": "fair-score",
            "v": 1,
            "model": self.model,
            "dataset": self.dataset,
            "n": self.n,
            "markets": self.markets,
            "events": self.events,
            "brier": dec(self.brier),
            "log_loss": dec(self.log_loss),
            "brier_vs_mid": dec(self.brier_vs_mid),
            "brier_vs_mid_ci": None if self.brier_vs_mid_ci is None else [dec(x) for x in self.brier_vs_mid_ci],
            "reliability": list(self.reliability),
            "trades": self.trades,
            "pnl": fmt_money(Money(self.pnl)),
        }


class RecordedModel:
    """Fair records written earlier (your own program's), replayed by time: the plug-in route, scored.

    At a snapshot taken at ``now_ms`` a market gets the newest record of this model whose
    ``inputs_ts`` is not after ``now_ms`` (a record without ``inputs_ts`` holds at all times).
    """

    def __init__(self, name: str, values: dict[str, list[tuple[int, FairValue]]]) -> None:
        self.name = name
        self.values = {t: sorted(v, key=lambda x: x[0]) for t, v in values.items()}

    def price(self, markets: Sequence[Market], now_ms: int) -> list[FairValue]:
        out = []
        for m in markets:
            best = None
            for t, fv in self.values.get(m.ticker, ()):
                if t > now_ms:
                    break
                best = fv
            if best is not None:
                out.append(best)
        return out

    def close(self) -> None:
        pass


def load_recorded_models(path: str | Path) -> list[RecordedModel]:
    """Read a file of ``fair`` records (other kinds skipped) as one model per ``model`` name.

    Raises:
        InputError: unreadable file or a bad fair record (names the line and field).
    """
    from ..errors import InputError
    from ..records import fair_from_record, iter_records

    p = Path(path)
    by_model: dict[str, dict[str, list[tuple[int, FairValue]]]] = {}
    try:
        f = p.open("rb")
    except OSError as e:
        raise InputError(f"{p}: cannot read ({e.strerror})", hint="give --fair a file of fair records") from None
    with f:
        for rec in iter_records(f, str(p)):
            if rec["kind"] != "fair":
                continue
            try:
                fv = fair_from_record(rec)
            except (ValueError, TypeError) as e:
                raise InputError(f"{p}:{rec.get('_line', '?')}: {e}", hint="see docs/records.md#fair-records") from None
            by_model.setdefault(fv.model, {}).setdefault(fv.ticker, []).append((fv.inputs_ms, fv))
    if not by_model:
        raise InputError(f"{p}: no fair records in the file", hint="see docs/records.md#fair-records")
    return [RecordedModel(name, v) for name, v in sorted(by_model.items())]


def mid_of(m: Market) -> float | None:
    """The market's YES mid (both sides quoted), as a probability."""
    if m.yes_bid is None or m.yes_ask is None:
        return None
    return (m.yes_bid + m.yes_ask) / 2 / ONE_DOLLAR


def _close_ms(m: Market) -> int | None:
    from .crypto import close_ms_of

    return close_ms_of(m)


def value_only(profile: Profile) -> Profile:
    """The profile with only the value strategy on and no models of its own (they are given)."""
    a = profile.analyze
    analyze = msgspec.structs.replace(
        a,
        arbitrage=msgspec.structs.replace(a.arbitrage, enabled=False),
        spread=msgspec.structs.replace(a.spread, enabled=False),
        value=msgspec.structs.replace(a.value, enabled=True, use_sim_forecast=False),
    )
    return msgspec.structs.replace(profile, analyze=analyze, fair=msgspec.structs.replace(profile.fair, models=()))


class ValueAnalyzer(Protocol):
    """What the evaluation needs of analyze (:class:`kalashi_cli.stages.analyze.Analyzer`): given fair values, trades."""

    fair: dict[str, FairValue]

    def analyze(self, markets: Iterable[Market], *, as_of_ms: int = 0, src: str = "") -> Iterator[Opportunity]: ...

    def close(self) -> None: ...


def collect_rows(
    snapshots: Iterable[Snapshot],
    results: dict[str, bool],
    models: Sequence[FairModel],
    profile: Profile,
    analyzer: Callable[[Profile], ValueAnalyzer],
) -> list[Row]:
    """Price every settled market of every snapshot with every model, and the value trades they make.

    ``analyzer`` makes the analyze stage for a profile (the caller passes ``Analyzer``: fair
    models sit below the stages that use them, so this module does not import analyze).
    """
    prof = value_only(profile)
    names = [MID, *(m.name for m in models)]
    analyzers = {name: analyzer(prof) for name in names}
    rows: list[Row] = []
    for t, markets in snapshots:
        groups: dict[str, list[Market]] = {}
        for m in markets:
            groups.setdefault(m.event_ticker, []).append(m)
        for event, group in groups.items():
            if not any(m.ticker in results for m in group):
                continue
            live = [m for m in group if m.status == "active" and (_close_ms(m) or t + 1) > t]
            if not live:
                continue
            values: dict[str, dict[str, FairValue]] = {MID: {}}
            for m in live:
                mid = mid_of(m)
                if mid is not None:
                    values[MID][m.ticker] = FairValue(m.ticker, as_probability(mid), MID, t)
            for model in models:
                values[model.name] = {fv.ticker: fv for fv in model.price(live, t)}
            trades: dict[str, dict[str, int]] = {}
            for name in names:
                an = analyzers[name]
                an.fair = dict(values[name])
                trades[name] = {}
                for o in an.analyze(live, as_of_ms=t):
                    if o.strategy != "value":
                        continue
                    leg = o.legs[0]
                    m = next(x for x in live if x.ticker == leg.ticker)
                    if m.ticker not in results:
                        continue
                    price = m.yes_ask if leg.outcome == "yes" else m.no_ask
                    if price is None:
                        continue
                    won = results[m.ticker] == (leg.outcome == "yes")
                    fee = fee_for(price, Count(ONE), fee_type=m.fee_type, multiplier=m.fee_multiplier)
                    trades[name][m.ticker] = (
                        notional(ONE_DOLLAR if won else Price(0), Count(ONE)) - notional(price, Count(ONE)) - fee
                    )
            for m in live:
                if m.ticker not in results or m.ticker not in values[MID]:
                    continue
                row = Row(m.ticker, event, t, results[m.ticker])
                for name in names:
                    fv = values[name].get(m.ticker)
                    if fv is not None:
                        row.p[name] = float(fv.p)
                    if m.ticker in trades[name]:
                        row.pnl[name] = trades[name][m.ticker]
                rows.append(row)
    for an in analyzers.values():
        an.close()
    return rows


def brier(ps: Sequence[float], ys: Sequence[bool]) -> float:
    return sum((p - (1.0 if y else 0.0)) ** 2 for p, y in zip(ps, ys, strict=True)) / len(ps)


def log_loss(ps: Sequence[float], ys: Sequence[bool]) -> float:
    total = 0.0
    for p, y in zip(ps, ys, strict=True):
        q = min(1 - EPS, max(EPS, p))
        total -= math.log(q) if y else math.log(1 - q)
    return total / len(ps)


def reliability(ps: Sequence[float], ys: Sequence[bool]) -> tuple[dict[str, Any], ...]:
    """Rows binned by p in tenths: how many, their mean p, how often YES happened."""
    bins: list[list[tuple[float, bool]]] = [[] for _ in range(BINS)]
    for p, y in zip(ps, ys, strict=True):
        bins[min(BINS - 1, int(p * BINS))].append((p, y))
    out = []
    for i, b in enumerate(bins):
        if b:
            out.append(
                {
                    "bin": f"{i / BINS:.1f}-{(i + 1) / BINS:.1f}",
                    "n": len(b),
                    "mean_p": f"{sum(p for p, _ in b) / len(b):.4f}",
                    "observed": f"{sum(1 for _, y in b if y) / len(b):.4f}",
                }
            )
    return tuple(out)


def _diff_ci(rows: Sequence[Row], name: str, seed: int = 0) -> tuple[float, float] | None:
    """95 % interval of (Brier − mid's Brier), resampling events with replacement."""
    by_event: dict[str, list[float]] = {}
    for r in rows:
        y = 1.0 if r.outcome else 0.0
        by_event.setdefault(r.event, []).append((r.p[name] - y) ** 2 - (r.p[MID] - y) ** 2)
    events = list(by_event.values())
    if len(events) < 2:
        return None
    rng = random.Random(seed)
    stats = []
    for _ in range(BOOTSTRAP):
        pick = [events[rng.randrange(len(events))] for _ in events]
        n = sum(len(e) for e in pick)
        stats.append(sum(sum(e) for e in pick) / n)
    stats.sort()
    return stats[int(0.025 * BOOTSTRAP)], stats[int(0.975 * BOOTSTRAP) - 1]


def score(rows: Sequence[Row], names: Sequence[str], dataset: str) -> list[Score]:
    """Score every model (and the mid) on the rows it priced."""
    out = []
    for name in [MID, *[n for n in names if n != MID]]:
        mine = [r for r in rows if name in r.p]
        ps, ys = [r.p[name] for r in mine], [r.outcome for r in mine]
        paired = [r for r in mine if MID in r.p]
        vs = ci = None
        if name != MID and paired:
            vs = brier([r.p[name] for r in paired], [r.outcome for r in paired]) - brier(
                [r.p[MID] for r in paired], [r.outcome for r in paired]
            )
            ci = _diff_ci(paired, name)
        pnl = [r.pnl[name] for r in rows if name in r.pnl]
        out.append(
            Score(
                model=name,
                dataset=dataset,
                n=len(mine),
                markets=len({r.ticker for r in mine}),
                events=len({r.event for r in mine}),
                brier=brier(ps, ys) if mine else None,
                log_loss=log_loss(ps, ys) if mine else None,
                brier_vs_mid=vs,
                brier_vs_mid_ci=ci,
                reliability=reliability(ps, ys) if mine else (),
                trades=len(pnl),
                pnl=sum(pnl),
            )
        )
    return out


def evaluate(
    snapshots: Iterable[Snapshot],
    results: dict[str, bool],
    models: Sequence[FairModel],
    profile: Profile,
    *,
    dataset: str,
    analyzer: Callable[[Profile], ValueAnalyzer],
) -> tuple[list[Score], list[Row]]:
    """Collect the rows and score them: (scores, rows)."""
    rows = collect_rows(snapshots, results, models, profile, analyzer)
    return score(rows, [m.name for m in models], dataset), rows


def pnl_dollars(money: int) -> Decimal:
    return Decimal(money).scaleb(-6)
