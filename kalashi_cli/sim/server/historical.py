"""The ``/historical/*`` family: what has left the live endpoints, and where the cutoffs are.

Two cutoffs move with the market clock (``GET /historical/cutoff``):

* markets settled more than ``retain_settled_s`` (an hour of market time) ago leave ``/markets``,
  ``/markets/{ticker}`` and the candle endpoints and are served by ``/historical/markets…``
  (with their candles, and the positions held in them by ``/historical/positions``);
* fills, public trades and cancelled or executed orders older than ``history_cutoff_s`` (90 days
  of market time, like Kalshi's ≈3 months) move to ``/historical/fills``, ``/trades``, ``/orders``.
"""

from __future__ import annotations

from . import serialize as ser
from .catalog import MarketRecord
from .core import ExchangeCore
from .markets import MVE_FILTERS, MarketData, page_of
from .params import Params, Reply, decode_cursor
from .portfolio import Portfolio


class Historical:
    """``/historical/cutoff``, ``/historical/markets[/{ticker}]``, ``/historical/trades``, ``/fills``,
    ``/orders``, ``/positions`` (the candles are in :mod:`.candle_api`)."""

    def __init__(self, x: ExchangeCore, markets: MarketData, portfolio: Portfolio) -> None:
        self.x = x
        self._markets = markets
        self._portfolio = portfolio

    def cutoff(self, p: Params) -> Reply:
        p.allow()
        market = ser.iso(self.x.market_cutoff_ms())
        activity = ser.iso(self.x.activity_cutoff_ms())
        return 200, {
            "market_settled_ts": market,
            "trades_created_ts": activity,
            "orders_updated_ts": activity,
            "market_positions_last_updated_ts": market,
        }

    def markets(self, p: Params) -> Reply:
        p.allow("limit", "cursor", "tickers", "event_ticker", "series_ticker", "mve_filter")
        x = self.x
        limit = p.limit(100, 1000)
        tickers = set(p.csv("tickers") or ()) or None
        event = p.get("event_ticker")
        series = p.get("series_ticker")
        mve = p.choice("mve_filter", MVE_FILTERS)
        after = decode_cursor(p.get("cursor"))

        def keep(r: MarketRecord) -> bool:
            if (tickers is not None and r.ticker not in tickers) or (event is not None and r.event_ticker != event):
                return False
            if series is not None and r.series_ticker != series:
                return False
            return not ((mve == "only" and not r.market.is_combo) or (mve == "exclude" and r.market.is_combo))

        rows, cursor = page_of((r for r in x.historical_records() if r.seq > after), keep, limit)
        return 200, {"markets": [x.market_json(r) for r in rows], "cursor": cursor}

    def market(self, ticker: str, p: Params) -> Reply:
        p.allow()
        return 200, {"market": self.x.market_json(self.x.historical_record(ticker))}

    def trades(self, p: Params) -> Reply:
        return self._markets.trades(p, historical=True)

    def fills(self, account: str, p: Params) -> Reply:
        return self._portfolio.fills(account, p, historical=True)

    def orders(self, account: str, p: Params) -> Reply:
        return self._portfolio.orders(account, p, historical=True)

    def positions(self, account: str, p: Params) -> Reply:
        return self._portfolio.positions(account, p, historical=True)


__all__ = ["Historical"]
