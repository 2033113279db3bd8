"""Walking an order book: what a taker order of a given size would really pay.

A "slice" is the part of one price level an order takes. Fees are charged per fill and
rounded up per fill (money.fee_for), so a slice is costed as one fill at its level's price.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..domain import Level, Market, Outcome
from ..money import Count, Money, Price, fee_for


def walk(
    levels: Sequence[Level],
    count: Count | None = None,
    *,
    max_price: Price | None = None,
    min_price: Price | None = None,
) -> list[Level]:
    """Return the slices an order of ``count`` (None = everything) takes from ``levels``, best first.

    Buying takes ask levels (cheapest first) up to ``max_price``; selling takes bid levels
    (highest first) down to ``min_price``; the walk stops at the first level beyond its bound.
    """
    out: list[Level] = []
    left = count
    for price, size in levels:
        if (max_price is not None and price > max_price) or (min_price is not None and price < min_price):
            break
        if size <= 0:
            continue
        take = size if left is None else min(size, left)
        out.append((price, take))
        if left is not None:
            left = Count(left - take)
            if left <= 0:
                break
    return out


def slices_count(slices: Sequence[Level]) -> Count:
    return Count(sum(s for _, s in slices))


def slices_cost(slices: Sequence[Level]) -> Money:
    """Price × count over the slices (excluding fees)."""
    return Money(sum(p * s for p, s in slices))


def slices_fees(slices: Sequence[Level], m: Market, *, is_taker: bool = True) -> Money:
    """Fees for the slices, one fill per level, under the market's fee type."""
    return Money(
        sum(fee_for(p, s, fee_type=m.fee_type, multiplier=m.fee_multiplier, is_taker=is_taker) for p, s in slices)
    )


def worst_price(slices: Sequence[Level]) -> Price | None:
    return slices[-1][0] if slices else None


def buy_slices(
    m: Market, outcome: Outcome, count: Count | None = None, *, max_price: Price | None = None
) -> list[Level]:
    """Slices to buy ``outcome`` in market ``m`` (asks are the opposite side's bids, flipped)."""
    return walk(m.asks(outcome), count, max_price=max_price)


def sell_slices(
    m: Market, outcome: Outcome, count: Count | None = None, *, min_price: Price | None = None
) -> list[Level]:
    """Slices to sell ``outcome`` into its bids (best, i.e. highest, first)."""
    return walk(m.bids(outcome), count, min_price=min_price)
