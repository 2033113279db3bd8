"""One market's single YES book: price levels mixing external liquidity and account orders.

Kalshi keeps one book per market. We store it on the YES leg: the **bid** side holds YES bids
(``yes_bids`` of a snapshot, at their price), the **ask** side holds NO bids re-priced as YES
asks at ``1 − q``. Each level keeps

* ``real``: the external size market data says is there (snapshots and deltas, nothing else),
* ``consumed``: how much of it our account takers have eaten since market data last changed
  that level (it stays eaten until then: see docs/paper-fills.md),
* ``orders``: a FIFO of account orders, each with ``ahead`` = external contracts queued before it.

``prices`` is the sorted list of levels that hold liquidity (external not consumed, or account
orders); best bid is ``prices[-1]``, best ask ``prices[0]``. A bisect-maintained list beats a
heap here (removals are by price) and beats ``sortedcontainers`` at the few dozen levels a
Kalshi book has.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections import deque
from dataclasses import replace

from ...domain import Level as DepthLevel
from ...domain import Market
from ...money import ONE_DOLLAR, Count, Money, Price, TickBand, fee_for, flip
from .orders import BookOrder

_HALF = Price(ONE_DOLLAR // 2)


class Level:
    """One price on one side of the book."""

    __slots__ = ("price", "real", "consumed", "orders", "listed")

    def __init__(self, price: Price) -> None:
        self.price = price
        self.real = 0  # Count units; plain int: the delta path stays free of calls
        self.consumed = 0  # Count units
        self.orders: deque[BookOrder] = deque()
        self.listed = False

    def size(self) -> Count:
        """Combined size: external still available plus account orders resting here."""
        total = self.real - self.consumed
        for o in self.orders:
            total += o.remaining
        return Count(total)


class SideBook:
    """The bid or the ask side of a market's YES book."""

    __slots__ = ("is_bid", "levels", "prices", "n_orders")

    def __init__(self, is_bid: bool) -> None:
        self.is_bid = is_bid
        self.levels: dict[Price, Level] = {}
        self.prices: list[Price] = []  # ascending, listed levels only
        self.n_orders = 0  # account orders resting on this side (fast path when 0)

    def level(self, price: Price) -> Level:
        lvl = self.levels.get(price)
        if lvl is None:
            lvl = self.levels[price] = Level(price)
        return lvl

    def relist(self, lvl: Level) -> None:
        """Keep ``prices`` and ``levels`` in step with whether ``lvl`` holds liquidity."""
        has = lvl.real > lvl.consumed or bool(lvl.orders)
        if has:
            if not lvl.listed:
                insort(self.prices, lvl.price)
                lvl.listed = True
        else:
            if lvl.listed:
                del self.prices[bisect_left(self.prices, lvl.price)]
                lvl.listed = False
            if lvl.real == 0:
                del self.levels[lvl.price]

    def best(self) -> Price | None:
        if not self.prices:
            return None
        return self.prices[-1] if self.is_bid else self.prices[0]

    def depth(self) -> tuple[DepthLevel, ...]:
        """Combined levels best first, in YES prices."""
        ps = reversed(self.prices) if self.is_bid else iter(self.prices)
        out = []
        for p in ps:
            s = self.levels[p].size()
            if s > 0:
                out.append((p, s))
        return tuple(out)

    def external(self) -> tuple[DepthLevel, ...]:
        """Market-data levels (``real``) best first, in YES prices."""
        ps = sorted((p for p, lvl in self.levels.items() if lvl.real > 0), reverse=self.is_bid)
        return tuple((p, Count(self.levels[p].real)) for p in ps)


class MarketBook:
    """A market's static facts, status and both sides of its book."""

    __slots__ = (
        "ticker",
        "event_ticker",
        "price_ranges",
        "fee_type",
        "fee_multiplier",
        "status",
        "bids",
        "asks",
        "seq",
        "last_price",
        "volume",
        "template",
        "result",
        "value",
        "holders",
        "netted",
        "_unit_fee",
    )

    def __init__(
        self,
        ticker: str,
        *,
        event_ticker: str,
        price_ranges: tuple[TickBand, ...],
        fee_type: str,
        fee_multiplier: int,
        status: str,
        template: Market | None,
    ) -> None:
        self.ticker = ticker
        self.event_ticker = event_ticker
        self.price_ranges = price_ranges
        self.fee_type = fee_type
        self.fee_multiplier = fee_multiplier
        self.status = status
        self.bids = SideBook(True)
        self.asks = SideBook(False)
        self.seq = 0
        self.last_price: Price | None = None
        self.volume: Count = Count(0)
        self.template = template
        self.result = ""
        self.value: Price | None = None
        self.holders: set[str] = set()  # accounts with a position record here
        #: its event is mutually exclusive: Kalshi nets collateral across it (MECNET, accounts.netting_credit)
        self.netted = bool(template is not None and template.mutually_exclusive)
        self._unit_fee: dict[Price, Money] = {}

    def fee(self, price: Price, count: Count, is_taker: bool) -> Money:
        return fee_for(price, count, fee_type=self.fee_type, multiplier=self.fee_multiplier, is_taker=is_taker)

    def max_unit_fee(self, price: Price, is_bid: bool) -> Money:
        """Return the largest taker fee one 0.01 contract of this order can pay.

        Fees are rounded up per fill, so a split into 0.01-contract fills costs most; a bid
        can fill at any price up to its limit (an ask at any price down to it), and
        ``P × (1 − P)`` peaks at $0.50, so the worst fill price is the limit clamped toward 0.50.
        """
        q = min(price, _HALF) if is_bid else max(price, _HALF)
        f = self._unit_fee.get(q)
        if f is None:
            f = self._unit_fee[q] = fee_for(q, Count(1), fee_type=self.fee_type, multiplier=self.fee_multiplier)
        return f

    def depth_market(self) -> Market:
        """Return the combined book (external + account orders) as a domain Market."""
        yes_bids = self.bids.depth()
        no_bids = tuple((flip(p), s) for p, s in self.asks.depth())
        if self.template is not None:
            return replace(
                self.template,
                yes_bids=yes_bids,
                no_bids=no_bids,
                status=self.status,
                last_price=self.last_price if self.last_price is not None else self.template.last_price,
                price_ranges=self.price_ranges,
                fee_type=self.fee_type,
                fee_multiplier=self.fee_multiplier,
            )
        return Market(
            ticker=self.ticker,
            event_ticker=self.event_ticker,
            series_ticker="",
            title="",
            category="",
            status=self.status,
            close_time="",
            yes_bids=yes_bids,
            no_bids=no_bids,
            volume=self.volume,
            fee_type=self.fee_type,
            fee_multiplier=self.fee_multiplier,
            price_ranges=self.price_ranges,
            last_price=self.last_price,
        )
