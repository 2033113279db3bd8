"""Position sizing: fractional Kelly for binary contracts on all-in cost (ARCHITECTURE §5).

A contract bought at all-in cost ``c`` (price plus fee per contract, in dollars per $1 of
payout) that wins with probability ``p`` has Kelly fraction ``f* = (p − c) / (1 − c)``.
Baskets that pay more than $1 (a NO basket over N outcomes pays N − 1) are normalised by
their payout first. The profile's fraction scales ``f*`` (default ¼); losing streaks and
drawdown shrink it, winning streaks grow it only when the profile opts in, and never past
``max_scale``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal

from ..domain import Opportunity
from ..money import COUNT_SCALE, ONE_DOLLAR, Count, Money
from ..profile import SizingSettings


def kelly_fraction(p: Decimal, c: Decimal) -> Decimal:
    """Return ``f* = (p − c) / (1 − c)`` clamped to [0, 1] (0 when there is no edge)."""
    if c >= 1:
        return Decimal(0)
    f = (p - c) / (1 - c)
    return max(Decimal(0), min(Decimal(1), f))


def dynamic_scale(s: SizingSettings, *, consecutive_losses: int, consecutive_wins: int, drawdown: Decimal) -> Decimal:
    """Return the multiplier applied to the Kelly fraction after streaks and drawdown."""
    loss = max(s.min_scale, Decimal(1) - s.loss_streak_shrink * consecutive_losses)
    dd = max(s.min_scale, Decimal(1) - s.drawdown_shrink * drawdown)
    grow = Decimal(1) + s.win_streak_growth * consecutive_wins
    return max(s.min_scale, min(s.max_scale, loss * dd * grow))


@dataclass(frozen=True, slots=True)
class Sizing:
    size: Count
    stake: Money
    kelly: Decimal  # the fraction of equity actually staked
    full_kelly: Decimal


def size_opportunity(o: Opportunity, equity: Money, s: SizingSettings, scale: Decimal) -> Sizing:
    """Size one opportunity in contracts (per leg), limited by the depth it reported."""
    if equity <= 0 or o.cost <= 0:
        return Sizing(Count(0), Money(0), Decimal(0), Decimal(0))
    payout_money = o.payout * COUNT_SCALE  # Money per basket
    c = Decimal(o.cost) / payout_money
    p = Decimal(o.p if o.p is not None else 0) / ONE_DOLLAR
    full = kelly_fraction(p, c)
    frac = min(s.max_stake_pct, s.kelly_fraction * scale * full)
    stake_cap = (Decimal(equity) * frac).to_integral_value(ROUND_FLOOR)
    step = int(s.min_count * COUNT_SCALE)  # order counts in multiples of the smallest order
    # the stake is the cash a basket ties up: its cost, or less where the exchange nets collateral
    baskets = int(stake_cap) * COUNT_SCALE // o.capital  # count units
    size = baskets // step * step
    available = min(leg.count for leg in o.legs)
    size = min(size, available // step * step)
    if size < step:
        return Sizing(Count(0), Money(0), frac, full)
    stake = o.capital * size // COUNT_SCALE
    return Sizing(Count(size), Money(stake), frac, full)
