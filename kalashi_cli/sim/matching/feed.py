"""Markets and market data: listing, status, snapshots, deltas, public trades and their maker fills."""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterable

from ...domain import Level, Market, Outcome, Trade
from ...errors import Conflict, NotFound
from ...money import CENT_GRID, FLIPPED, MULT_SCALE, ONE_DOLLAR, Count, Price, TickBand, flip
from .book import Level as BookLevel
from .book import MarketBook, SideBook
from .events import BookDelta, MarketStatus, TradePrinted
from .orders import MARKET_CLOSED, MARKET_PAUSED, MARKET_REACTIVATED, BookOrder
from .state import EngineState

_CLOSED = ("closed", "determined", "disputed", "amended", "finalized")


class MarketFeed(EngineState):
    """The markets an engine lists and the market data that moves their external books.

    A market-data change can fill resting account orders (a public trade reaching them) or
    move their queue position (a level shrinking ahead of them); the queue model is in
    docs/paper-fills.md.
    """

    # ===================================================================== markets
    def add_market(
        self,
        ticker: str,
        *,
        price_ranges: tuple[TickBand, ...] = CENT_GRID,
        fee_type: str = "quadratic",
        fee_multiplier: int = MULT_SCALE,
        status: str = "active",
        event_ticker: str = "",
        market: Market | None = None,
    ) -> None:
        """List a market (``market``, when given, supplies the descriptive fields of ``book()``).

        Raises:
            Conflict: the ticker is listed already.
        """
        if ticker in self._markets:
            raise Conflict(f"market {ticker} exists", status=409, code="market_exists")
        self._markets[ticker] = MarketBook(
            ticker,
            event_ticker=event_ticker,
            price_ranges=price_ranges,
            fee_type=fee_type,
            fee_multiplier=fee_multiplier,
            status=status,
            template=market,
        )

    def has_market(self, ticker: str) -> bool:
        return ticker in self._markets

    def market_status(self, ticker: str) -> str:
        """Return the market's REST status (active, inactive, closed, …, finalized)."""
        return self._market(ticker).status

    def set_market_status(self, ticker: str, status: str) -> None:
        """Move a market through its lifecycle, cancelling resting orders as Kalshi does.

        Closing cancels every resting order; pausing (``inactive``) cancels those sent with
        ``cancel_order_on_pause``; reactivation (``inactive`` → ``active``) cancels all.

        Raises:
            NotFound: unknown ticker.
        """
        self._sync()
        m = self._market(ticker)
        old, m.status = m.status, status
        if status == old:
            return
        if status in _CLOSED:
            self._cancel_market(m, MARKET_CLOSED)
        elif status == "inactive":
            self._cancel_market(m, MARKET_PAUSED, only_on_pause=True)
        elif status == "active" and old == "inactive":
            self._cancel_market(m, MARKET_REACTIVATED)
        if self._sinks:
            self._emit(MarketStatus(ticker, status, self.now_ms))
        self._finish()

    def set_price_ranges(self, ticker: str, price_ranges: tuple[TickBand, ...]) -> None:
        """Change a market's tick grid (``price_level_structure_updated``); resting orders stay."""
        self._market(ticker).price_ranges = price_ranges

    # ===================================================================== market data
    def apply_snapshot(
        self, ticker: str, yes_bids: Iterable[Level], no_bids: Iterable[Level], *, ts_ms: int | None = None
    ) -> None:
        """Replace the market's external book (bids only, YES and NO prices, any order).

        Levels whose size did not change keep what our takers consumed from them.

        Raises:
            NotFound: unknown ticker.
        """
        if ts_ms is not None and ts_ms > self.now_ms:
            self._advance(ts_ms, inclusive=False)
        elif self._clock is not None:
            self._sync()
        m = self._market(ticker)
        new_bids: dict[Price, Count] = {}
        for p, s in yes_bids:
            if 0 < p < ONE_DOLLAR and s > 0:
                new_bids[p] = Count(new_bids.get(p, 0) + s)
        new_asks: dict[Price, Count] = {}
        for q, s in no_bids:
            if 0 < q < ONE_DOLLAR and s > 0:
                new_asks[flip(q)] = Count(new_asks.get(flip(q), 0) + s)
        for book, new in ((m.bids, new_bids), (m.asks, new_asks)):
            for p, lvl in list(book.levels.items()):
                if lvl.real and p not in new:
                    self._set_real(m, book, lvl, Count(0))
            for p, s in new.items():
                lvl = book.level(p)
                if lvl.real != s:
                    self._set_real(m, book, lvl, s)
                elif not lvl.listed:
                    book.relist(lvl)
        self._finish()

    def apply_delta(self, ticker: str, side: Outcome, price: Price, delta: Count, *, ts_ms: int | None = None) -> None:
        """Apply one orderbook delta: ``side``'s bids at ``price`` (that side's price) change by ``delta``.

        Raises:
            NotFound: unknown ticker.
        """
        # the bulk of a live feed: this path is kept free of calls when no account order is
        # resting at the level and nothing is waiting on the clock
        if ts_ms is not None and ts_ms > self.now_ms:
            if self._pending or self._expiries:
                self._advance(ts_ms, inclusive=False)
            else:
                self.now_ms = ts_ms
        elif self._clock is not None:
            self._sync()
        m = self._markets.get(ticker)
        if m is None:
            raise NotFound(f"market {ticker} not found", status=404, code="market_not_found")
        if not delta or not 0 < price < ONE_DOLLAR:
            return
        if side == "yes":
            book = m.bids
        else:
            book = m.asks
            price = FLIPPED[price]
        lvl = book.levels.get(price)
        if lvl is None:
            if delta < 0:
                return  # a level we never saw shrinking: nothing to take away
            lvl = book.levels[price] = BookLevel(price)
        new = lvl.real + delta
        if new < 0:
            new = 0
        if lvl.orders or lvl.consumed:
            self._set_real(m, book, lvl, new)
        else:
            d = new - lvl.real
            lvl.real = new
            if d:
                m.seq += 1
                if self._sinks:
                    self._emit(
                        BookDelta(
                            ticker,
                            m.seq,
                            side,
                            Price(ONE_DOLLAR - price if side == "no" else price),
                            Count(d),
                            self.now_ms,
                        )
                    )
            if new:
                if not lvl.listed:
                    insort(book.prices, price)
                    lvl.listed = True
            else:
                if lvl.listed:
                    del book.prices[bisect_left(book.prices, price)]
                    lvl.listed = False
                del book.levels[price]
        if self._dirty_groups:
            self._finish()

    def apply_trade(self, trade: Trade) -> None:
        """Apply a public trade: it fills resting account orders it reached (queue rules in docs).

        The external book is not changed by trades, only by snapshots and deltas.

        Raises:
            NotFound: unknown ticker.
        """
        if trade.ts_ms > self.now_ms:
            self._advance(trade.ts_ms, inclusive=False)
        elif self._clock is not None:
            self._sync()
        m = self._market(trade.ticker)
        m.last_price = trade.price
        m.volume = Count(m.volume + trade.count)
        if self._sinks:
            self._emit(TradePrinted(trade, external=True))
        book = m.asks if trade.taker_side == "bid" else m.bids
        if book.n_orders and trade.count > 0:
            self._trade_fills(m, book, trade)
            self._finish()

    def apply_market(self, market: Market, *, ts_ms: int | None = None) -> None:
        """Take a whole domain Market from a source: list it if new, follow its status, snapshot its book."""
        if market.ticker not in self._markets:
            self.add_market(
                market.ticker,
                price_ranges=market.price_ranges,
                fee_type=market.fee_type,
                fee_multiplier=market.fee_multiplier,
                status=market.status,
                event_ticker=market.event_ticker,
                market=market,
            )
        else:
            m = self._markets[market.ticker]
            m.template = market
            m.netted = m.netted or market.mutually_exclusive
            m.price_ranges = market.price_ranges
            m.fee_type = market.fee_type
            m.fee_multiplier = market.fee_multiplier
        self.apply_snapshot(market.ticker, market.yes_bids, market.no_bids, ts_ms=ts_ms)
        if self._markets[market.ticker].status != market.status and market.status not in ("finalized",):
            self.set_market_status(market.ticker, market.status)

    def advance_to(self, now_ms: int) -> None:
        """Move the clock to ``now_ms``: orders arriving and expiring by then are processed."""
        self._advance(now_ms, inclusive=True)

    # -- how market data moves resting account orders ----------------------------------------
    def _set_real(self, m: MarketBook, book: SideBook, lvl: BookLevel, new_real: int) -> None:
        """Market data changed a level's external size to ``new_real``."""
        old_eff = lvl.real - lvl.consumed
        lvl.real = new_real
        if self.sticky_consumption:
            # what we took stays taken; a shrink comes out of what we did not take first
            if lvl.consumed > new_real:
                lvl.consumed = new_real
        else:
            lvl.consumed = Count(0)  # market data moved this level: our earlier takes are forgotten
        new_eff = new_real - lvl.consumed
        if lvl.orders and new_eff < old_eff:
            # a shrink is a cancellation behind us, unless the level is now smaller than our
            # queue_ahead; what we had to take off ahead is "credit" a trade may explain later
            now, window = self.now_ms, self.trade_match_window_ms
            for o in lvl.orders:
                if o.ahead > new_eff:
                    credit = o.credit if now - o.credit_ms <= window else 0
                    o.credit = Count(credit + o.ahead - new_eff)
                    o.credit_ms = now
                    o.ahead = Count(new_eff)
        d = new_eff - old_eff
        if d:
            self._book_delta(m, book, lvl.price, Count(d))
        book.relist(lvl)

    def _trade_fills(self, m: MarketBook, book: SideBook, trade: Trade) -> None:
        """Fill resting account orders a public trade reached (at or through their price)."""
        p_t, n = trade.price, trade.count
        budget = n
        prices = book.prices
        if book.is_bid:  # a YES seller hit bids at p_t or higher; best (highest) first
            crossed = prices[bisect_left(prices, p_t) :][::-1]
        else:  # a YES buyer lifted asks at p_t or lower; best (lowest) first
            crossed = prices[: bisect_right(prices, p_t)]
        now, window = self.now_ms, self.trade_match_window_ms
        for p in crossed:
            lvl = book.levels.get(p)
            if lvl is None or not lvl.orders:
                continue
            change = 0
            if p != p_t:
                # the trade printed through our price: the real queue here was empty, we go first
                for o in list(lvl.orders):
                    o.ahead = Count(0)
                    o.credit = Count(0)
                    if budget > 0:
                        k = budget if budget < o.remaining else o.remaining
                        budget = Count(budget - k)
                        change -= k
                        self._maker_vs_external(m, book, lvl, o, p, k, trade.taker_side == "bid")
            else:
                acc_ahead = 0  # account contracts queued before this order at this level
                front = 0  # real-queue position of the order before (time priority holds)
                floor = 0
                for o in list(lvl.orders):
                    credit = o.credit if now - o.credit_ms <= window else 0
                    rem = o.remaining
                    reach = o.ahead + credit
                    if reach < front:
                        reach = front
                    front = reach
                    if budget > 0:
                        room = budget - reach - acc_ahead
                        if room > 0:
                            k = Count(room if room < rem else rem)
                            change -= k
                            self._maker_vs_external(m, book, lvl, o, p, k, trade.taker_side == "bid")
                    acc_ahead += rem
                    cut = n - credit  # the real trade took n from the front of the real queue
                    if cut > 0:
                        o.ahead = Count(o.ahead - cut if o.ahead > cut else Count(0))
                    if o.ahead < floor:  # an order never gets ahead of one that arrived before it
                        o.ahead = Count(floor)
                    floor = o.ahead
                    o.credit = Count(credit - n if credit > n else Count(0))
            if change:
                self._book_delta(m, book, p, Count(change))
            book.relist(lvl)

    def _maker_vs_external(
        self, m: MarketBook, book: SideBook, lvl: BookLevel, o: BookOrder, price: Price, k: Count, taker_is_bid: bool
    ) -> None:
        tid = self._new_id("trd")
        self._fill(m, o, price, k, False, tid)
        self._external_fill(m, taker_is_bid, price, k)
        self._maker_done(book, lvl, o)
