"""What a venue knows beyond the order book: events, series, the public tape, candlesticks, its status.

The :class:`~kalashi_cli.ports.MarketSource` port carries what the trading loop needs (listings,
books, time). A person or an agent asks more — which events mention "bitcoin", what traded in a
market, how its price moved, whether the exchange is open — and each kind of source answers in
its own way:

=============  ===============================================================================
source         answers from
=============  ===============================================================================
``sim``        the simulated universe itself: its events and series at the current step; its
               tape and books step by step over the last :data:`SIM_HISTORY_STEPS` steps (an
               hour of market time; the universe has no history before step 0); always open
``kalshi…``    Kalshi's REST API through the source's own client (``/events``, ``/series``,
               ``/markets/trades``, ``…/candlesticks``, ``/exchange/status``, ``/exchange/schedule``)
other          (``replay:``) events and series grouped from the listing; no tape, no candles
=============  ===============================================================================

Answers are plain dicts in kalashi's record style: prices are dollar strings with four decimals,
counts strings with two, times ISO 8601 UTC. Venues do not page or filter by text: the service
does that the same way for all of them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from .domain import Trade
from .errors import NotFound, UsageError
from .money import ONE_DOLLAR, Count, Price, fmt_count, fmt_multiplier, fmt_price

if TYPE_CHECKING:
    from .ports import MarketSource
    from .sim.server.candles import Candle
    from .sim.source import SimSource

Json = dict[str, Any]

#: how far back the sim's tape and candles reach, in steps (10 s each: one hour of market time)
SIM_HISTORY_STEPS = 360
#: candle periods Kalshi serves, in minutes
PERIODS = (1, 60, 1440)
#: GET /events pages read at most for one listing (200 events a page)
EVENT_PAGES_MAX = 50
#: the filter words for event status (Kalshi's) and the market statuses each one means
EVENT_STATUS = {
    "unopened": ("initialized",),
    "open": ("active",),
    "closed": ("closed", "determined", "inactive"),
    "settled": ("finalized",),
}
_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def iso(ms: int) -> str:
    """Unix milliseconds as ISO 8601 UTC (``2026-01-01T12:00:00Z``)."""
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def trade_json(t: Trade) -> Json:
    """One public trade: YES and NO price, size, which outcome the taker bought, when."""
    return {
        "trade_id": t.trade_id,
        "ticker": t.ticker,
        "yes_price": fmt_price(t.price),
        "no_price": fmt_price(Price(ONE_DOLLAR - t.price)),
        "count": fmt_count(t.count),
        "taker_outcome": "yes" if t.taker_side == "bid" else "no",
        "ts": iso(t.ts_ms),
    }


def _ohlc(values: Sequence[int | None] | None) -> Json:
    o, h, lo, c = values if values is not None else (None, None, None, None)
    return {"open": _p(o), "high": _p(h), "low": _p(lo), "close": _p(c)}


def _p(v: int | None) -> str | None:
    return fmt_price(Price(v)) if v is not None else None


def candle_json(c: Candle) -> Json:
    """One candle from the sim's candle store, in the shape every venue answers with."""
    return {
        "end": iso(c.end_ts * 1000),
        "yes_bid": _ohlc(c.bid),
        "yes_ask": _ohlc(c.ask),
        "price": {**_ohlc(c.price), "mean": _p(c.mean), "previous": _p(c.previous)},
        "volume": fmt_count(c.volume),
        "open_interest": fmt_count(c.oi),
    }


class Venue(Protocol):
    """The questions a venue answers; see the module docstring for who answers how."""

    def events(self, *, status: str | None, series_ticker: str | None) -> list[Json]:
        """Every event (filtered by status word and series), in the venue's order."""
        ...

    def series(self, series_ticker: str | None = None) -> list[Json]:
        """Every series, or the one asked for. Raises: NotFound."""
        ...

    def trades(
        self, ticker: str | None, *, limit: int, cursor: str | None, min_ts: int | None, max_ts: int | None
    ) -> tuple[list[Json], str]:
        """One page of the public tape, newest first, and the cursor of the next ('' at the end)."""
        ...

    def candlesticks(self, ticker: str, *, period: int, start_ts: int, end_ts: int) -> list[Json]:
        """Candles of ``period`` minutes ending within ``[start_ts, end_ts]`` (Unix seconds), oldest first."""
        ...

    def now_s(self) -> int:
        """The venue's clock, Unix seconds."""
        ...

    def exchange_status(self) -> Json:
        """``{exchange_active, trading_active, estimated_resume_time}``."""
        ...

    def schedule(self) -> Json:
        """``{standard_hours: [...], maintenance_windows: [...]}`` (times as the venue gives them)."""
        ...


def venue_for(source: MarketSource, trading_active: Callable[[], bool]) -> Venue:
    """Return the venue behind ``source`` (``trading_active`` says whether the broker takes orders)."""
    from .kalshi.source import KalshiSource
    from .sim.source import SimSource

    if isinstance(source, SimSource):
        return SimVenue(source, trading_active)
    if isinstance(source, KalshiSource):
        return ExchangeVenue(source)
    return ListingVenue(source, trading_active)


def offset_of(cursor: str | None) -> int:
    """The offset an offset cursor stands for (none: 0). Raises: UsageError."""
    if not cursor:
        return 0
    try:
        n = int(cursor)
    except ValueError:
        raise UsageError(
            f"cursor {cursor!r} is not one this server gave out",
            hint="pass the cursor of the previous answer unchanged, or none for the first page",
        ) from None
    if n < 0:
        raise UsageError(f"cursor {cursor!r} is not one this server gave out")
    return n


def page(items: Sequence[Any], limit: int, cursor: str | None) -> tuple[list[Any], str]:
    """One page of ``items`` from an offset cursor, and the next cursor ('' at the end)."""
    start = offset_of(cursor)
    chunk = list(items[start : start + limit])
    return chunk, str(start + limit) if start + limit < len(items) else ""


class ListingVenue:
    """Any source (a replay): events and series grouped from its listing; no tape, no candles."""

    def __init__(self, source: MarketSource, trading_active: Callable[[], bool]) -> None:
        self.source = source
        self._trading_active = trading_active

    def _not_served(self, what: str) -> UsageError:
        return UsageError(
            f"{what} is not served for source {self.source.describe()}",
            hint="a sim or Kalshi source has it (mcp-serve --source sim|kalshi-demo|kalshi)",
        )

    def events(self, *, status: str | None, series_ticker: str | None) -> list[Json]:
        wanted = EVENT_STATUS.get(status or "")
        grouped: dict[str, Json] = {}
        for m in self.source.list_markets():
            if series_ticker and m.series_ticker != series_ticker:
                continue
            ev = grouped.setdefault(
                m.event_ticker,
                {
                    "event_ticker": m.event_ticker,
                    "series_ticker": m.series_ticker,
                    "title": m.title,
                    "category": m.category,
                    "mutually_exclusive": m.mutually_exclusive,
                    "status": m.status,
                    "markets": 0,
                    "close_time": m.close_time,
                    "_statuses": set(),
                },
            )
            ev["markets"] += 1
            ev["_statuses"].add(m.status)
        out = []
        for ev in grouped.values():
            statuses = ev.pop("_statuses")
            if wanted is None or statuses & set(wanted):
                out.append(ev)
        return out

    def series(self, series_ticker: str | None = None) -> list[Json]:
        seen: dict[str, Json] = {}
        for m in self.source.list_markets():
            seen.setdefault(
                m.series_ticker,
                {
                    "series_ticker": m.series_ticker,
                    "title": "",
                    "category": m.category,
                    "frequency": "",
                    "fee_type": m.fee_type,
                    "fee_multiplier": fmt_multiplier(m.fee_multiplier),
                },
            )
        if series_ticker is not None:
            if series_ticker not in seen:
                raise NotFound(f"no series {series_ticker} in source {self.source.describe()}")
            return [seen[series_ticker]]
        return list(seen.values())

    def trades(
        self, ticker: str | None, *, limit: int, cursor: str | None, min_ts: int | None, max_ts: int | None
    ) -> tuple[list[Json], str]:
        raise self._not_served("the public tape")

    def candlesticks(self, ticker: str, *, period: int, start_ts: int, end_ts: int) -> list[Json]:
        raise self._not_served("candlesticks")

    def now_s(self) -> int:
        return self.source.now_ms() // 1000

    def exchange_status(self) -> Json:
        active = self._trading_active()
        return {"exchange_active": True, "trading_active": active, "estimated_resume_time": None}

    def schedule(self) -> Json:
        raise self._not_served("the exchange schedule")


class SimVenue(ListingVenue):
    """The simulated universe: events and series as it defines them, its tape and books for history."""

    source: SimSource

    def events(self, *, status: str | None, series_ticker: str | None) -> list[Json]:
        u = self.source.universe
        wanted = EVENT_STATUS.get(status or "")
        out = []
        for e in u.events_at(self.source.step):
            if e.shape == "combo":  # multivariate events are left out of /events, as on Kalshi
                continue
            if (series_ticker and e.series_ticker != series_ticker) or (wanted is not None and e.status not in wanted):
                continue
            out.append(
                {
                    "event_ticker": e.event_ticker,
                    "series_ticker": e.series_ticker,
                    "title": e.title,
                    "category": e.category,
                    "mutually_exclusive": e.mutually_exclusive,
                    "status": e.status,
                    "markets": len(e.market_tickers),
                    "close_time": e.close_time,
                    "market_titles": list(e.market_subtitles),
                }
            )
        return out

    def series(self, series_ticker: str | None = None) -> list[Json]:
        rows = [
            {
                "series_ticker": s.ticker,
                "title": s.title,
                "category": s.category,
                "frequency": s.frequency,
                "fee_type": s.fee_type,
                "fee_multiplier": fmt_multiplier(s.fee_multiplier),
            }
            for s in self.source.universe.series()
        ]
        if series_ticker is not None:
            rows = [r for r in rows if r["series_ticker"] == series_ticker]
            if not rows:
                raise NotFound(f"no series {series_ticker} in source {self.source.describe()}")
        return rows

    def _steps(self, min_ts: int | None, max_ts: int | None) -> tuple[int, int]:
        """The step range ``(a, b]`` the tape covers: the last hour at most, within the asked times."""
        u, step = self.source.universe, self.source.step
        lo = max(0, step - SIM_HISTORY_STEPS)
        if min_ts is not None:
            lo = max(lo, (min_ts * 1000 - u.time_ms(0)) // u.step_ms - 1)
        hi = step
        if max_ts is not None:
            hi = min(hi, -(-(max_ts * 1000 - u.time_ms(0)) // u.step_ms))
        return max(0, lo), max(0, hi)

    def trades(
        self, ticker: str | None, *, limit: int, cursor: str | None, min_ts: int | None, max_ts: int | None
    ) -> tuple[list[Json], str]:
        u = self.source.universe
        if ticker is not None and u.market_at(ticker, self.source.step) is None:
            raise NotFound(f"no market {ticker} in source {self.source.describe()}")
        a, b = self._steps(min_ts, max_ts)
        want, skip = limit + 1, offset_of(cursor)
        out: list[Trade] = []
        # newest first, a step at a time, so a small page costs a few steps, not the hour
        for s in range(b, a, -1):
            step_trades = u.trades_between(s - 1, s, tickers=[ticker] if ticker else None)
            out.extend(sorted(step_trades, key=lambda t: (t.ts_ms, t.trade_id), reverse=True))
            if len(out) >= skip + want:
                break
        lo_ms = min_ts * 1000 if min_ts is not None else None
        hi_ms = max_ts * 1000 if max_ts is not None else None
        out = [t for t in out if (lo_ms is None or t.ts_ms >= lo_ms) and (hi_ms is None or t.ts_ms <= hi_ms)]
        chunk = out[skip : skip + limit]
        more = len(out) > skip + limit
        return [trade_json(t) for t in chunk], str(skip + limit) if more else ""

    def candlesticks(self, ticker: str, *, period: int, start_ts: int, end_ts: int) -> list[Json]:
        from .sim.server.candles import CandleStore

        u, step = self.source.universe, self.source.step
        if u.market_at(ticker, step) is None:
            raise NotFound(f"no market {ticker} in source {self.source.describe()}")
        store = CandleStore()
        a, b = self._steps(start_ts - period * 60, end_ts)
        for s in range(a, b + 1):
            m = u.market_at(ticker, s)
            if m is None:
                continue
            ts = u.time_ms(s)
            for t in u.trades_between(s - 1, s, tickers=[ticker]) if s > a else ():
                store.trade(ticker, t.ts_ms, t.price, t.count)
            store.quote(ticker, ts, m.yes_bid or Price(0), m.yes_ask or ONE_DOLLAR, m.open_interest)
        now_s = u.time_ms(step) // 1000
        return [candle_json(c) for c in store.candles(ticker, start_ts, end_ts, period, until_ts=now_s)]

    def now_s(self) -> int:
        return self.source.now_ms() // 1000

    def exchange_status(self) -> Json:
        return {"exchange_active": True, "trading_active": self._trading_active(), "estimated_resume_time": None}

    def schedule(self) -> Json:
        day = [{"open_time": "00:00", "close_time": "23:59"}]
        return {
            "standard_hours": [{"start_time": None, "end_time": None, "days": dict.fromkeys(_DAYS, day)}],
            "maintenance_windows": [],
            "note": "the simulator trades around the clock and is never down",
        }


def _s(d: Mapping[str, Any], key: str) -> str:
    v = d.get(key)
    return v if isinstance(v, str) else ""


class ExchangeVenue:
    """Kalshi (or a Kalshi-compatible server) through the source's REST client."""

    def __init__(
        self,
        source: Any,
        *,
        timeout: float = 30.0,
        events_ttl_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.source = source
        self.client = source.client
        self.timeout = timeout
        self.events_ttl_s = events_ttl_s
        self._clock = clock
        self._events: dict[tuple[str | None, str | None], tuple[float, list[Json]]] = {}

    def _run(self, coro: Any) -> Any:
        return self.source.run_on_feed(coro, timeout=self.timeout)

    def events(self, *, status: str | None, series_ticker: str | None) -> list[Json]:
        key = (status, series_ticker)
        hit = self._events.get(key)
        if hit is not None and self._clock() - hit[0] < self.events_ttl_s:
            return hit[1]  # paging through a search sees one listing, not a moving one

        async def collect() -> list[Json]:
            out: list[Json] = []
            async for e in self.client.paginate(
                "/events",
                "events",
                {"status": status, "series_ticker": series_ticker},
                limit=200,
                max_pages=EVENT_PAGES_MAX,
            ):
                if isinstance(e, Mapping):
                    out.append(
                        {
                            "event_ticker": _s(e, "event_ticker"),
                            "series_ticker": _s(e, "series_ticker"),
                            "title": _s(e, "title"),
                            "sub_title": _s(e, "sub_title"),
                            "category": _s(e, "category"),
                            "mutually_exclusive": bool(e.get("mutually_exclusive", False)),
                            "status": status or "",
                            "markets": None,
                            "close_time": _s(e, "strike_date") or None,
                        }
                    )
            return out

        rows: list[Json] = self._run(collect())
        self._events[key] = (self._clock(), rows)
        return rows

    def series(self, series_ticker: str | None = None) -> list[Json]:
        if series_ticker is not None:
            return [self._series_json(self._run(self.client.get_series(series_ticker)))]
        return [self._series_json(s) for s in self._run(self.client.get_series_list())]

    @staticmethod
    def _series_json(s: Mapping[str, Any]) -> Json:
        from .kalshi.wire import parse_series

        info = parse_series(dict(s))
        tags = s.get("tags")
        return {
            "series_ticker": info.ticker,
            "title": info.title,
            "category": info.category,
            "frequency": _s(s, "frequency"),
            "fee_type": info.fee_type,
            "fee_multiplier": fmt_multiplier(info.fee_multiplier),
            **({"tags": [t for t in tags if isinstance(t, str)]} if isinstance(tags, list) else {}),
        }

    def trades(
        self, ticker: str | None, *, limit: int, cursor: str | None, min_ts: int | None, max_ts: int | None
    ) -> tuple[list[Json], str]:
        from .kalshi.wire import parse_trade

        body = self._run(
            self.client.get(
                "/markets/trades",
                {"limit": limit, "cursor": cursor or None, "ticker": ticker, "min_ts": min_ts, "max_ts": max_ts},
            )
        )
        rows = [trade_json(parse_trade(t)) for t in (body.get("trades") or ()) if isinstance(t, Mapping)]
        nxt = body.get("cursor")
        return rows, nxt if isinstance(nxt, str) and rows else ""

    def candlesticks(self, ticker: str, *, period: int, start_ts: int, end_ts: int) -> list[Json]:
        market = self.source.books([ticker]).get(ticker)
        series = market.series_ticker if market is not None else ""
        if not series:
            raw = self._run(self.client.get_market(ticker))
            series = _s(raw, "series_ticker") or ticker.split("-", 1)[0]
        body = self._run(
            self.client.get_candlesticks(series, ticker, start_ts=start_ts, end_ts=end_ts, period_interval=period)
        )
        return [self._candle(c) for c in (body.get("candlesticks") or ()) if isinstance(c, Mapping)]

    @staticmethod
    def _candle(c: Mapping[str, Any]) -> Json:
        from .kalshi.wire import count_of, lenient_price_of

        def side(key: str, extra: tuple[str, ...] = ()) -> Json:
            d = c.get(key)
            d = d if isinstance(d, Mapping) else {}
            return {k: _p(lenient_price_of(d, k)) for k in ("open", "high", "low", "close", *extra)}

        end = c.get("end_period_ts")
        return {
            "end": iso(int(end) * 1000) if isinstance(end, int) else None,
            "yes_bid": side("yes_bid"),
            "yes_ask": side("yes_ask"),
            "price": side("price", ("mean", "previous")),
            "volume": fmt_count(count_of(c, "volume") or Count(0)),
            "open_interest": fmt_count(count_of(c, "open_interest") or Count(0)),
        }

    def now_s(self) -> int:
        return int(self.source.now_ms()) // 1000

    def exchange_status(self) -> Json:
        d = self._run(self.client.get_exchange_status())
        return {
            "exchange_active": bool(d.get("exchange_active", False)),
            "trading_active": bool(d.get("trading_active", False)),
            "estimated_resume_time": _s(d, "exchange_estimated_resume_time") or None,
        }

    def schedule(self) -> Json:
        d = self._run(self.client.get_exchange_schedule())
        s = d.get("schedule") if isinstance(d.get("schedule"), Mapping) else d
        hours = [h for h in s.get("standard_hours") or () if isinstance(h, Mapping)]
        windows = [w for w in s.get("maintenance_windows") or () if isinstance(w, Mapping)]
        return {
            "standard_hours": [
                {
                    "start_time": _s(h, "start_time") or None,
                    "end_time": _s(h, "end_time") or None,
                    "days": {
                        day: [
                            {"open_time": _s(x, "open_time"), "close_time": _s(x, "close_time")}
                            for x in h.get(day) or ()
                            if isinstance(x, Mapping)
                        ]
                        for day in _DAYS
                    },
                }
                for h in hours
            ],
            "maintenance_windows": [
                {"start_datetime": _s(w, "start_datetime"), "end_datetime": _s(w, "end_datetime")} for w in windows
            ],
            "note": "times are US Eastern, as Kalshi gives them",
        }
