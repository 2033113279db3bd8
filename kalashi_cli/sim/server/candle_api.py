"""Candlestick endpoints: one market, a batch of markets, an event, and a historical market.

The candles come from :class:`~.candles.CandleStore`, which the exchange feeds from its own tape
and books, so a candle's volume and trade prices are those of ``/markets/trades``. Parameters
are Kalshi's (REFERENCE §5.3): ``start_ts``/``end_ts`` in Unix seconds (required, start ≤ end),
``period_interval`` ∈ {1, 60, 1440} minutes, at most 10 000 candles per answer (a batch holds
at most 100 markets; an event's answer is cut at ``adjusted_end_ts`` instead).
"""

from __future__ import annotations

from .candles import MAX_CANDLES, PERIODS, candle_json, historical_candle_json
from .catalog import MarketRecord
from .core import ExchangeCore
from .params import ApiError, Json, Params, Reply, bad, not_found

BATCH_TICKERS_MAX = 100


def _window(p: Params) -> tuple[int, int, int]:
    """(start_ts, end_ts, period minutes), validated."""
    start = p.ts("start_ts")
    end = p.ts("end_ts")
    if start is None or end is None:
        raise bad("start_ts and end_ts are required (Unix seconds)")
    if start > end:
        raise bad(f"start_ts ({start}) is after end_ts ({end})")
    period = p.integer("period_interval")
    if period is None:
        raise bad("period_interval is required: 1, 60 or 1440 (minutes)")
    if period not in PERIODS:
        raise bad(f"period_interval must be 1, 60 or 1440 (minutes), got {period}")
    return start, end, period


def _periods(start: int, end: int, period: int) -> int:
    return (end - start) // (period * 60) + 1


class CandleData:
    """``/series/{s}/markets/{t}/candlesticks``, ``/markets/candlesticks``, ``/series/{s}/events/{t}/candlesticks``,
    ``/historical/markets/{t}/candlesticks``."""

    def __init__(self, x: ExchangeCore) -> None:
        self.x = x

    def _until(self, rec: MarketRecord) -> int:
        return (rec.settled_ms if rec.settled_ms is not None else self.x.now_ms()) // 1000

    def _candles(self, rec: MarketRecord, start: int, end: int, period: int, latest: bool) -> list[Json]:
        cs = self.x.candles.candles(
            rec.ticker, start, end, period, until_ts=self._until(rec), latest_before_start=latest
        )
        return [candle_json(c) for c in cs]

    def market(self, series: str, ticker: str, p: Params) -> Reply:
        p.allow("start_ts", "end_ts", "period_interval", "include_latest_before_start")
        start, end, period = _window(p)
        latest = p.flag("include_latest_before_start")
        if _periods(start, end, period) > MAX_CANDLES:
            raise bad(f"the window holds more than {MAX_CANDLES} candles: shorten it or use a longer period_interval")
        rec = self.x.live_record(ticker)
        if rec.series_ticker != series:
            raise not_found(f"market {ticker} in series {series}")
        return 200, {"ticker": ticker, "candlesticks": self._candles(rec, start, end, period, latest)}

    def batch(self, p: Params) -> Reply:
        p.allow("market_tickers", "start_ts", "end_ts", "period_interval", "include_latest_before_start")
        tickers = p.csv("market_tickers")
        if not tickers:
            raise bad("market_tickers is required (comma-separated, at most 100)")
        if len(tickers) > BATCH_TICKERS_MAX:
            raise bad(f"at most {BATCH_TICKERS_MAX} market_tickers per request, got {len(tickers)}")
        start, end, period = _window(p)
        latest = p.flag("include_latest_before_start")
        recs = []
        for t in dict.fromkeys(tickers):
            try:
                recs.append(self.x.live_record(t))
            except ApiError:
                continue  # unknown or historical markets are left out of the answer
        if _periods(start, end, period) * max(1, len(recs)) > MAX_CANDLES:
            raise bad(
                f"the request asks for more than {MAX_CANDLES} candles in all: fewer markets, a shorter "
                "window or a longer period_interval"
            )
        return 200, {
            "markets": [
                {"market_ticker": r.ticker, "candlesticks": self._candles(r, start, end, period, latest)} for r in recs
            ]
        }

    def event(self, series: str, event_ticker: str, p: Params) -> Reply:
        p.allow("start_ts", "end_ts", "period_interval")
        start, end, period = _window(p)
        x = self.x
        ev = x.driver.events.get(event_ticker)
        if ev is None or ev.series_ticker != series:
            raise not_found(f"event {event_ticker} in series {series}")
        recs = [r for t in ev.tickers if (r := x.driver.markets.get(t)) is not None and not x.is_historical(r)]
        per_market = MAX_CANDLES // max(1, len(recs))
        if _periods(start, end, period) > per_market:
            end = start + (per_market - 1) * period * 60  # Kalshi cuts the window and says where
        return 200, {
            "market_tickers": [r.ticker for r in recs],
            "market_candlesticks": [self._candles(r, start, end, period, False) for r in recs],
            "adjusted_end_ts": end,
        }

    def historical(self, ticker: str, p: Params) -> Reply:
        p.allow("start_ts", "end_ts", "period_interval")
        start, end, period = _window(p)
        if _periods(start, end, period) > MAX_CANDLES:
            raise bad(f"the window holds more than {MAX_CANDLES} candles: shorten it or use a longer period_interval")
        rec = self.x.historical_record(ticker)
        cs = self.x.candles.candles(ticker, start, end, period, until_ts=self._until(rec))
        return 200, {"ticker": ticker, "candlesticks": [historical_candle_json(c) for c in cs]}


__all__ = ["CandleData"]
