"""correlate: group opportunities, demand more edge where exposure already is, cap concentration.

Groups come from the market's metadata first (its category, matched against the profile's
keyword rules), then from keywords in its tickers, and last fall back to its series. A group
that already carries exposure needs ``exposure_edge_multiplier ×`` the strategy's minimum
edge. Position, group and event exposure are each capped as a share of equity; the size
comes from fractional Kelly (:mod:`.sizing`) and is cut to fit the caps. Every opportunity
becomes either a ``candidate`` or a ``rejected`` record with its reason.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from decimal import ROUND_FLOOR, Decimal

from ..domain import Candidate, Opportunity, Rejected
from ..money import COUNT_SCALE, Money, parse_money, usd
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
        self.scale = dynamic_scale(profile.sizing, consecutive_losses=p.consecutive_losses,
                                   consecutive_wins=p.consecutive_wins, drawdown=dd)
        self._min_edge = {
            "arbitrage": parse_money(profile.analyze.arbitrage.min_edge),
            "spread": parse_money(profile.analyze.spread.min_edge),
            "value": parse_money(profile.analyze.value.min_edge),
        }
        self.seen: dict[str, tuple[str, str, str, str]] = {}  # ticker → (event, series, category, group)

    def _cap(self, pct: Decimal) -> Money:
        return int((Decimal(max(0, self.portfolio.equity)) * pct).to_integral_value(ROUND_FLOOR))

    def market_rows(self, titles: dict[str, str] | None = None) -> list[tuple[str, str, str, str, str, str]]:
        """Rows for Journal.remember_markets: what this run learned about each market's group."""
        titles = titles or {}
        return [(t, ev, se, titles.get(t, ""), cat, g) for t, (ev, se, cat, g) in self.seen.items()]

    def correlate(self, opportunities: Iterable[Opportunity]) -> Iterator[Candidate | Rejected]:
        for o in opportunities:
            yield self._one(o)

    def _one(self, o: Opportunity) -> Candidate | Rejected:
        p, c = self.portfolio, self.profile.correlate
        group = self.grouper.group(o.category, o.series_ticker, " ".join(x.ticker for x in o.legs))
        for leg in o.legs:
            self.seen[leg.ticker] = (o.event_ticker, o.series_ticker, o.category, group)
        min_edge = self._min_edge.get(o.strategy, 0)
        existing = p.exposure_by_group.get(group, 0)
        required = int(min_edge * self.mult) if existing > 0 else min_edge
        if o.edge < required:
            why = (f"group '{group}' already carries {usd(existing)} exposure, so it needs "
                   f"{self.mult} × the minimum edge" if existing > 0 else "below the strategy's minimum edge")
            return Rejected(o.id, "correlate", f"edge {usd(o.edge)} per basket < required "
                            f"{usd(required)}: {why}", {"group": group})
        sized = size_opportunity(o, p.equity, self.profile.sizing, self.scale)
        if sized.size <= 0:
            return Rejected(o.id, "correlate", f"Kelly sizing gives less than {self.profile.sizing.min_count} "
                            f"contract(s) at equity {usd(p.equity)} (all-in cost {usd(o.cost)}, "
                            f"full Kelly {sized.full_kelly:.4f}, scale {self.scale:.2f})", {"group": group})
        size = sized.size
        # caps: how much more money this position, group and event may take
        room_pos = min(self._cap(c.max_position_pct) - p.exposure_by_ticker.get(leg.ticker, 0) for leg in o.legs)
        room_group = self._cap(c.max_group_pct) - existing
        room_event = self._cap(c.max_event_pct) - p.exposure_by_event.get(o.event_ticker, 0)
        room = min(room_pos, room_group, room_event)
        binding = ("position" if room == room_pos else "group" if room == room_group else "event")
        step = int(self.profile.sizing.min_count * COUNT_SCALE)
        if o.cost * size // COUNT_SCALE > room:
            size = max(0, room) * COUNT_SCALE // o.cost // step * step
        if size < step:
            caps = {"position": c.max_position_pct, "group": c.max_group_pct, "event": c.max_event_pct}
            return Rejected(o.id, "correlate", f"{binding} concentration cap ({caps[binding] * 100:.0f}% of equity "
                            f"{usd(p.equity)}) is full: room {usd(max(0, room))}, one basket costs "
                            f"{usd(o.cost)}", {"group": group})
        stake = o.cost * size // COUNT_SCALE
        per_leg = stake // len(o.legs)
        for leg in o.legs:
            p.add_exposure(leg.ticker, o.event_ticker, group, per_leg)
        return Candidate(opportunity=o, group=group, required_edge=required, size=size,
                         kelly_fraction=sized.kelly.quantize(Decimal("0.000001")), stake=stake)
