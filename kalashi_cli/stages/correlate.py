"""correlate: rank the opportunities of one set of books, then size them against the caps in that order.

Capital goes to the best trades first: the opportunities computed from the same books (the
same ``as_of_ms`` and ``src``: one iteration of the loop, one capture in a pipe) are ranked
together — riskless arbitrage first, then by expected profit per dollar of capital they tie
up (:func:`rank_key`) — and each takes its size and its share of the caps in that order, so an
arbitrage is never crowded out by a quote that merely came earlier in the stream. ``order``
and the loop execute candidates in the order correlate emits them.

Groups come from the market's metadata first (its category, matched against the profile's
keyword rules), then from keywords in its tickers, and last fall back to its series. A group
that already carries exposure needs ``exposure_edge_multiplier ×`` the strategy's minimum
edge. Position, group and event exposure are each capped as a share of equity: each market
by what its leg costs, the event and the group by what the trade can lose (a hedged basket:
its worst case, a riskless one nothing). The size comes from fractional Kelly (:mod:`.sizing`)
and is cut to fit the caps. Every opportunity becomes either a ``candidate`` or a ``rejected``
record with its reason.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from decimal import ROUND_FLOOR, Decimal
from fractions import Fraction

from ..domain import Candidate, Opportunity, Rejected
from ..money import COUNT_SCALE, Count, Money, fee_for, notional, parse_money, usd
from ..profile import Profile
from .portfolio import Portfolio
from .sizing import dynamic_scale, size_opportunity

_WORD = re.compile(r"[a-z0-9&]+")


class Grouper:
    """Assigns a correlation group to a market from its category, tickers and title."""

    def __init__(self, profile: Profile) -> None:
        self.rules = profile.correlate.keyword_groups
        self._memo: dict[tuple[str, str, str], str] = {}

    def group(self, category: str, series: str, text: str = "") -> str:
        key = (category, series, text)
        g = self._memo.get(key)
        if g is None:
            g = self._match(category) or self._match(f"{series} {text}") or f"series:{series or 'unknown'}"
            self._memo[key] = g
        return g

    def _match(self, text: str) -> str | None:
        words = _WORD.findall(text.lower())
        if not words:
            return None
        for group, keywords in self.rules.items():
            for w in words:
                if w.startswith(group) or any(w.startswith(k) for k in keywords):
                    return group
        return None


def rank_key(o: Opportunity) -> tuple[int, Fraction, str]:
    """Where an opportunity stands among those of the same books: riskless first, then by expected
    profit (``edge`` per basket) per dollar of capital one basket ties up, then by id (deterministic)."""
    return (0 if o.riskless else 1, -Fraction(o.edge, max(1, o.capital)), o.id)


class Correlator:
    """Turns opportunities into sized candidates or reasoned rejections."""

    def __init__(self, profile: Profile, portfolio: Portfolio) -> None:
        self.profile = profile
        self.portfolio = portfolio
        self.grouper = Grouper(profile)
        c = profile.correlate
        self.mult = c.exposure_edge_multiplier
        p = portfolio
        dd = Decimal(p.drawdown) / max(1, p.peak_equity)
        self.scale = dynamic_scale(
            profile.sizing, consecutive_losses=p.consecutive_losses, consecutive_wins=p.consecutive_wins, drawdown=dd
        )
        self._min_edge = {
            "arbitrage": parse_money(profile.analyze.arbitrage.min_edge),
            "spread": parse_money(profile.analyze.spread.min_edge),
            "value": parse_money(profile.analyze.value.min_edge),
        }
        self.seen: dict[str, tuple[str, str, str, str]] = {}  # ticker → (event, series, category, group)
        self._max_order = parse_money(profile.risk.max_order_cost)

    def _cap(self, pct: Decimal) -> Money:
        return Money(int((Decimal(max(0, self.portfolio.equity)) * pct).to_integral_value(ROUND_FLOOR)))

    def market_rows(self, titles: dict[str, str] | None = None) -> list[tuple[str, str, str, str, str, str]]:
        """Rows for Journal.remember_markets: what this run learned about each market's group."""
        titles = titles or {}
        return [(t, ev, se, titles.get(t, ""), cat, g) for t, (ev, se, cat, g) in self.seen.items()]

    def correlate(self, opportunities: Iterable[Opportunity]) -> Iterator[Candidate | Rejected]:
        """Rank and size each batch of opportunities computed from the same books (module docstring)."""
        batch: list[Opportunity] = []
        for o in opportunities:
            if batch and (o.as_of_ms, o.src) != (batch[0].as_of_ms, batch[0].src):
                yield from self.correlate_batch(batch)
                batch = []
            batch.append(o)
        if batch:
            yield from self.correlate_batch(batch)

    def correlate_batch(self, batch: Iterable[Opportunity]) -> list[Candidate | Rejected]:
        """Rank one set of books' opportunities together and size them in that order."""
        return [self._one(o) for o in sorted(batch, key=rank_key)]

    def _one(self, o: Opportunity) -> Candidate | Rejected:
        p, c = self.portfolio, self.profile.correlate
        group = self.grouper.group(o.category, o.series_ticker, " ".join(x.ticker for x in o.legs))
        for leg in o.legs:
            self.seen[leg.ticker] = (o.event_ticker, o.series_ticker, o.category, group)
        min_edge = self._min_edge.get(o.strategy, 0)
        existing = p.exposure_by_group.get(group, 0)
        required = int(min_edge * self.mult) if existing > 0 else min_edge
        if o.edge < required:
            why = (
                f"group '{group}' already carries {usd(Money(existing))} exposure, so it needs "
                f"{self.mult} × the minimum edge"
                if existing > 0
                else "below the strategy's minimum edge"
            )
            return Rejected(
                o.id,
                "correlate",
                f"edge {usd(o.edge)} per basket < required {usd(Money(required))}: {why}",
                {"group": group},
                code="group-exposure-edge" if existing > 0 else "below-min-edge",
            )
        sized = size_opportunity(o, p.equity, self.profile.sizing, self.scale)
        if sized.size <= 0:
            return Rejected(
                o.id,
                "correlate",
                f"Kelly sizing gives less than {self.profile.sizing.min_count} "
                f"contract(s) at equity {usd(p.equity)} (all-in cost {usd(o.cost)}, "
                f"full Kelly {sized.full_kelly:.4f}, scale {self.scale:.2f})",
                {"group": group},
                code="kelly-too-small",
            )
        size = sized.size
        step = int(self.profile.sizing.min_count * COUNT_SCALE)
        # caps: how much more money each market, the group and the event may take. A market takes
        # what its leg costs; the group and the event what the trade can lose (a basket's worst case)
        worst = Money(max(0, o.worst_case))  # per basket
        fits: dict[str, tuple[int, Money, Money]] = {}  # cap → (most size it allows, room, per basket)
        for leg in o.legs:
            room = Money(self._cap(c.max_position_pct) - p.exposure_by_ticker.get(leg.ticker, 0))
            most = max(0, room) // max(1, leg.price)
            if "position" not in fits or most < fits["position"][0]:
                fits["position"] = (most, room, notional(leg.price, Count(COUNT_SCALE)))
        for what, room in (
            ("group", Money(self._cap(c.max_group_pct) - existing)),
            ("event", Money(self._cap(c.max_event_pct) - p.exposure_by_event.get(o.event_ticker, 0))),
        ):
            fits[what] = (max(0, room) * COUNT_SCALE // worst if worst else size, room, worst)
        # no leg may cost more than the gate's per-order cap: size to it rather than be refused for it
        per_order = self._max_order
        for leg in o.legs:
            unit = Money(notional(leg.price, Count(COUNT_SCALE)) + fee_for(leg.price, Count(COUNT_SCALE)))
            most = per_order * COUNT_SCALE // unit
            if "order" not in fits or most < fits["order"][0]:
                fits["order"] = (most, per_order, unit)
        binding = min(fits, key=lambda k: fits[k][0])
        size = Count(min(size, fits[binding][0]) // step * step)
        if size < step:
            _, room, per = fits[binding]
            if binding == "order":
                return Rejected(
                    o.id,
                    "correlate",
                    f"one contract of a leg costs {usd(per)}, more than the per-order "
                    f"cap {usd(room)} (risk.max_order_cost)",
                    {"group": group},
                    code="order-cap",
                )
            caps = {"position": c.max_position_pct, "group": c.max_group_pct, "event": c.max_event_pct}
            what = "one contract costs" if binding == "position" else "one basket can lose"
            return Rejected(
                o.id,
                "correlate",
                f"{binding} concentration cap ({caps[binding] * 100:.0f}% of equity "
                f"{usd(p.equity)}) is full: room {usd(Money(max(0, room)))}, {what} {usd(per)}",
                {"group": group},
                code=f"{binding}-cap",
            )
        stake = o.capital * size // COUNT_SCALE
        at_risk = worst * size // COUNT_SCALE
        share = at_risk // len(o.legs)
        for i, leg in enumerate(o.legs):
            p.add_exposure(
                leg.ticker,
                o.event_ticker,
                group,
                Money(share + (at_risk - share * len(o.legs) if i == 0 else Money(0))),
                position=Money(leg.price * size),
            )
        return Candidate(
            opportunity=o,
            group=group,
            required_edge=Money(required),
            size=size,
            kelly_fraction=sized.kelly.quantize(Decimal("0.000001")),
            stake=Money(stake),
        )
