"""Candlesticks built from the exchange's own tape and books, so they agree with ``/markets/trades``.

Every public trade the engine prints (the universe's and the accounts' own) and every change of
a market's top of book is folded into one-minute buckets per market; hour and day candles are
aggregated from the minutes on request. A candle holds:

* ``yes_bid`` / ``yes_ask``: open, high, low, close of the best YES bid and ask in force during the
  period (a period with no change carries the previous close; an empty side reads 0 / 1);
* ``price``: open, high, low, close and volume-weighted mean of the trades printed in the period
  (``null`` when none), and ``previous``: the last trade price before the period;
* ``volume``: contracts traded in the period; ``open_interest``: at the period's end.

Periods are 1, 60 or 1440 minutes and end on multiples of the period in UTC (``end_period_ts``,
Unix seconds); a candle is listed for every period from the market's first activity on.
Retention is bounded: at most :data:`MAX_MINUTES` minutes per market (seven days).
"""

from __future__ import annotations

from bisect import bisect_left, insort
from dataclasses import dataclass

from ...money import ONE_DOLLAR, Count, Price, fmt_count, fmt_price
from .params import Json

MINUTE_S = 60
PERIODS = (1, 60, 1440)
MAX_MINUTES = 7 * 1440
MAX_CANDLES = 10_000  # Kalshi's batch limit; also the most one market's request may list


class Minute:
    """One minute of one market: quote and trade OHLC, volume, notional, open interest."""

    __slots__ = ("bid", "ask", "trade", "volume", "notional", "oi")

    def __init__(self, bid: list[int] | None, ask: list[int] | None, oi: Count) -> None:
        self.bid = bid  # [open, high, low, close] in price units
        self.ask = ask
        self.trade: list[int] | None = None
        self.volume: Count = Count(0)
        self.notional = 0  # Σ price × count (for the volume-weighted mean)
        self.oi = oi


def _touch(ohlc: list[int] | None, v: int) -> list[int]:
    if ohlc is None:
        return [v, v, v, v]
    if v > ohlc[1]:
        ohlc[1] = v
    if v < ohlc[2]:
        ohlc[2] = v
    ohlc[3] = v
    return ohlc


class _Series:
    __slots__ = ("keys", "minutes", "quote", "oi")

    def __init__(self) -> None:
        self.keys: list[int] = []
        self.minutes: dict[int, Minute] = {}
        self.quote: tuple[int, int] | None = None  # the (yes bid, yes ask) in force
        self.oi: Count = Count(0)


@dataclass(frozen=True, slots=True)
class Candle:
    end_ts: int  # Unix seconds
    bid: tuple[int, int, int, int]
    ask: tuple[int, int, int, int]
    price: tuple[int, int, int, int] | None
    mean: int | None
    previous: int | None
    volume: Count
    oi: Count


class CandleStore:
    """Minute buckets of every market, fed by the exchange's tape and book changes."""

    def __init__(self) -> None:
        self._series: dict[str, _Series] = {}

    def _minute(self, s: _Series, ts_ms: int) -> Minute:
        k = ts_ms // 1000 // MINUTE_S
        m = s.minutes.get(k)
        if m is None:
            q = s.quote
            m = Minute([q[0]] * 4 if q else None, [q[1]] * 4 if q else None, s.oi)
            s.minutes[k] = m
            if not s.keys or k > s.keys[-1]:
                s.keys.append(k)
            else:
                insort(s.keys, k)
            if len(s.keys) > MAX_MINUTES:
                del s.minutes[s.keys.pop(0)]
        return m

    def quote(self, ticker: str, ts_ms: int, yes_bid: Price, yes_ask: Price, open_interest: Count) -> None:
        """The top of book (or the open interest) changed at ``ts_ms``."""
        s = self._series.get(ticker)
        if s is None:
            s = self._series[ticker] = _Series()
        if s.quote == (yes_bid, yes_ask) and s.oi == open_interest:
            return
        s.oi = open_interest
        m = self._minute(s, ts_ms)
        m.bid = _touch(m.bid, yes_bid)
        m.ask = _touch(m.ask, yes_ask)
        m.oi = open_interest
        s.quote = (yes_bid, yes_ask)

    def trade(self, ticker: str, ts_ms: int, price: Price, count: Count) -> None:
        """A trade printed (the same one the tape lists)."""
        s = self._series.get(ticker)
        if s is None:
            s = self._series[ticker] = _Series()
        m = self._minute(s, ts_ms)
        m.trade = _touch(m.trade, price)
        m.volume = Count(m.volume + count)
        m.notional += price * count

    def last_quote(self, ticker: str) -> tuple[int, int] | None:
        """The (yes bid, yes ask) last recorded for a market."""
        s = self._series.get(ticker)
        return s.quote if s else None

    def forget(self, ticker: str) -> None:
        self._series.pop(ticker, None)

    def first_ts(self, ticker: str) -> int | None:
        s = self._series.get(ticker)
        return s.keys[0] * MINUTE_S if s and s.keys else None

    def candles(
        self, ticker: str, start_ts: int, end_ts: int, period: int, *, until_ts: int, latest_before_start: bool = False
    ) -> list[Candle]:
        """Candles of ``period`` minutes whose period overlaps ``[start_ts, end_ts]`` (Unix seconds).

        ``until_ts`` is the last moment with data (now, or the market's settlement): no candle is
        listed for a period that starts after it. At most :data:`MAX_CANDLES` are returned.
        """
        s = self._series.get(ticker)
        if s is None or not s.keys:
            return []
        p = period * MINUTE_S
        first_end = max(-(-start_ts // p) * p, (s.keys[0] * MINUTE_S // p + 1) * p)
        last_end = min(-(-end_ts // p) * p, (until_ts // p + 1) * p)
        out: list[Candle] = []
        # state carried into the first period: the quote, last trade and open interest before it
        i = bisect_left(s.keys, (first_end - p) // MINUTE_S)
        carry_bid = carry_ask = None
        previous: int | None = None
        oi: Count = Count(0)
        for k in s.keys[:i]:
            m = s.minutes[k]
            carry_bid = m.bid[3] if m.bid else carry_bid
            carry_ask = m.ask[3] if m.ask else carry_ask
            previous = m.trade[3] if m.trade else previous
            oi = m.oi
        if latest_before_start and i > 0 and first_end <= last_end:
            out.append(_candle(first_end, None, None, carry_bid, carry_ask, None, Count(0), 0, previous, oi))
        end = first_end
        while end <= last_end and len(out) < MAX_CANDLES:
            bid = ask = trade = None
            volume = notional = 0
            while i < len(s.keys) and s.keys[i] * MINUTE_S < end:
                m = s.minutes[s.keys[i]]
                bid = _merge(bid, m.bid)
                ask = _merge(ask, m.ask)
                trade = _merge(trade, m.trade)
                volume += m.volume
                notional += m.notional
                oi = m.oi
                i += 1
            out.append(_candle(end, bid, ask, carry_bid, carry_ask, trade, Count(volume), notional, previous, oi))
            carry_bid = bid[3] if bid else carry_bid
            carry_ask = ask[3] if ask else carry_ask
            previous = trade[3] if trade else previous
            end += p
        return out


def _merge(acc: list[int] | None, m: list[int] | None) -> list[int] | None:
    if m is None:
        return acc
    if acc is None:
        return list(m)
    return [acc[0], max(acc[1], m[1]), min(acc[2], m[2]), m[3]]


def _candle(
    end: int,
    bid: list[int] | None,
    ask: list[int] | None,
    carry_bid: int | None,
    carry_ask: int | None,
    trade: list[int] | None,
    volume: Count,
    notional: int,
    previous: int | None,
    oi: Count,
) -> Candle:
    b = tuple(bid) if bid else (carry_bid if carry_bid is not None else 0,) * 4
    a = tuple(ask) if ask else (carry_ask if carry_ask is not None else ONE_DOLLAR,) * 4
    mean = (notional + volume // 2) // volume if volume else None
    return Candle(
        end,
        b,  # type: ignore[arg-type]
        a,  # type: ignore[arg-type]
        tuple(trade) if trade else None,  # type: ignore[arg-type]
        mean,
        previous,
        volume,
        oi,
    )


def _opt(p: int | None) -> str | None:
    return fmt_price(Price(p)) if p is not None else None


def candle_json(c: Candle) -> Json:
    """One MarketCandlestick (live endpoints): ``*_dollars`` strings, ``*_fp`` counts."""
    price: Json = {
        "open_dollars": None,
        "high_dollars": None,
        "low_dollars": None,
        "close_dollars": None,
        "mean_dollars": _opt(c.mean),
        "previous_dollars": _opt(c.previous),
    }
    if c.price is not None:
        o, h, lo, cl = c.price
        price.update(
            open_dollars=fmt_price(Price(o)),
            high_dollars=fmt_price(Price(h)),
            low_dollars=fmt_price(Price(lo)),
            close_dollars=fmt_price(Price(cl)),
        )
    return {
        "end_period_ts": c.end_ts,
        "yes_bid": {
            "open_dollars": fmt_price(Price(c.bid[0])),
            "high_dollars": fmt_price(Price(c.bid[1])),
            "low_dollars": fmt_price(Price(c.bid[2])),
            "close_dollars": fmt_price(Price(c.bid[3])),
        },
        "yes_ask": {
            "open_dollars": fmt_price(Price(c.ask[0])),
            "high_dollars": fmt_price(Price(c.ask[1])),
            "low_dollars": fmt_price(Price(c.ask[2])),
            "close_dollars": fmt_price(Price(c.ask[3])),
        },
        "price": price,
        "volume_fp": fmt_count(c.volume),
        "open_interest_fp": fmt_count(c.oi),
    }


def historical_candle_json(c: Candle) -> Json:
    """One MarketCandlestickHistorical (``/historical/markets/{ticker}/candlesticks``): unsuffixed names."""
    o, h, lo, cl = c.price if c.price is not None else (None, None, None, None)
    return {
        "end_period_ts": c.end_ts,
        "yes_bid": {
            "open": fmt_price(Price(c.bid[0])),
            "high": fmt_price(Price(c.bid[1])),
            "low": fmt_price(Price(c.bid[2])),
            "close": fmt_price(Price(c.bid[3])),
        },
        "yes_ask": {
            "open": fmt_price(Price(c.ask[0])),
            "high": fmt_price(Price(c.ask[1])),
            "low": fmt_price(Price(c.ask[2])),
            "close": fmt_price(Price(c.ask[3])),
        },
        "price": {
            "open": _opt(o),
            "high": _opt(h),
            "low": _opt(lo),
            "close": _opt(cl),
            "mean": _opt(c.mean),
            "previous": _opt(c.previous),
        },
        "volume": fmt_count(c.volume),
        "open_interest": fmt_count(c.oi),
    }


__all__ = ["MAX_CANDLES", "PERIODS", "Candle", "CandleStore", "candle_json", "historical_candle_json"]
