"""Own orders are not the market: the book as the account's own takers can really trade it.

An exchange's published book (Kalshi, ``kalashi sim-exchange``) includes the account's own
resting orders. They are not liquidity for the account: an order that meets one of them is
cancelled by self-trade prevention (and a strategy that "arbitrages" its own quote only trades
with itself). :func:`without_own_orders` takes the account's resting orders out of a source's
book before any strategy sees it:

1. where the source's book includes them (``included``: a Kalshi-compatible exchange; the paper
   broker's source does not, its orders live in the paper exchange), their remaining size
   comes off their price level;
2. on the side an own order rests, the levels at its price and worse are dropped: a taker of
   ours on the other side would reach our own order before them (price priority), so they are
   out of reach without trading with ourselves.

The order stage makes the last check (:func:`crosses_own`): a leg that would meet one of the
account's resting orders is refused (rule ``own-order``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from ..domain import ExchangeOrder, Level, Market, OrderIntent, OrderStatus, with_books
from ..money import ONE_DOLLAR, Count


def _take(levels: Sequence[Level], size_at: Mapping[int, int], floor: int | None) -> tuple[Level, ...]:
    """Levels (best first, in this side's prices) less ``size_at``, without those at or worse than ``floor``."""
    out: list[Level] = []
    for price, size in levels:
        if floor is not None and price <= floor:
            break  # best first: every later level is worse
        left = Count(size - size_at.get(price, 0))
        if left > 0:
            out.append((price, left))
    return tuple(out)


def without_own_orders(m: Market, resting: Iterable[ExchangeOrder], *, included: bool, reach: bool = True) -> Market:
    """Return ``m`` as the account's takers can trade it: its own resting orders taken out (module docstring).

    ``reach=False`` only takes their size out (step 1): the market as others quote it, for marks.
    """
    yes_size: dict[int, int] = {}
    no_size: dict[int, int] = {}
    yes_floor: int | None = None  # our best YES bid: YES bids at or below it are out of reach
    no_floor: int | None = None  # our best NO bid (a resting ask at p is a NO bid at 1 − p)
    for o in resting:
        if o.ticker != m.ticker or o.remaining_count <= 0 or o.status != OrderStatus.RESTING:
            continue
        if o.side == "bid":
            yes_size[o.price] = yes_size.get(o.price, 0) + o.remaining_count
            yes_floor = o.price if yes_floor is None else max(yes_floor, o.price)
        else:
            q = ONE_DOLLAR - o.price
            no_size[q] = no_size.get(q, 0) + o.remaining_count
            no_floor = q if no_floor is None else max(no_floor, q)
    if yes_floor is None and no_floor is None:
        return m
    if not included:
        yes_size, no_size = {}, {}
        if not reach:
            return m
    if not reach:
        yes_floor = no_floor = None
    return with_books(m, _take(m.yes_bids, yes_size, yes_floor), _take(m.no_bids, no_size, no_floor))


def own_books(
    markets: Iterable[Market], resting: Sequence[ExchangeOrder], *, included: bool, reach: bool = True
) -> list[Market]:
    """Apply :func:`without_own_orders` to every market (cheap when nothing rests)."""
    if not resting:
        return list(markets)
    mine = {o.ticker for o in resting}
    return [without_own_orders(m, resting, included=included, reach=reach) if m.ticker in mine else m for m in markets]


def crosses_own(intent: OrderIntent, resting: Iterable[ExchangeOrder]) -> ExchangeOrder | None:
    """Return an own resting order ``intent`` would meet (a bid at or above our ask, an ask at or below our bid)."""
    for o in resting:
        if (
            o.ticker != intent.ticker
            or o.remaining_count <= 0
            or o.status != OrderStatus.RESTING
            or o.client_order_id == intent.client_order_id
            or o.side == intent.side
        ):
            continue
        if (intent.side == "bid" and o.price <= intent.price) or (intent.side == "ask" and o.price >= intent.price):
            return o
    return None
