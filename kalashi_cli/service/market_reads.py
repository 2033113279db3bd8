"""The market half of the read model: markets, books, events, series, the tape, candles, the exchange's status."""

from __future__ import annotations

from typing import Any

from ..domain import Market
from ..errors import NotFound, UsageError
from ..money import Price
from ..records import market_record, to_record
from ..stages.analyze import Analyzer
from ..stages.scan import scan
from .account import AccountReads
from .views import matches


class MarketReads:
    """What the market-data source says (through the account's lock): never the account's own orders or money.

    The base of :class:`~kalashi_cli.service.read.ReadModel`, which adds the account's reads; the
    two halves share all their state (the one account), and split along what they read:
    the source and the venue here, the broker and the journal there.
    """

    def __init__(self, account: AccountReads) -> None:
        self.account = account
        self._lock = account.lock
        self.source = account.source

    def market(self, ticker: str) -> dict[str, Any]:
        """Raises: NotFound."""
        with self._lock:
            m = self.source.books([ticker]).get(ticker)
        if m is None:
            raise NotFound(
                f"no market {ticker} in source {self.source.describe()}",
                hint="list markets with get_markets / kalashi scan",
            )
        return market_record(m)

    def markets(
        self,
        limit: int = 100,
        *,
        event_ticker: str | None = None,
        series_ticker: str | None = None,
        status: str | None = "active",
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        """Market records without depth, in the source's order; ``offset`` skips that many matches first."""
        out = []
        skipped = 0
        with self._lock:
            for m in self.source.list_markets():
                if status and m.status != status:
                    continue
                if event_ticker and m.event_ticker != event_ticker:
                    continue
                if series_ticker and m.series_ticker != series_ticker:
                    continue
                if skipped < offset:
                    skipped += 1
                    continue
                rec = market_record(m)
                rec.pop("depth", None)
                out.append(rec)
                if len(out) >= limit:
                    break
        return out

    def event(self, event_ticker: str) -> dict[str, Any]:
        """Raises: NotFound."""
        ms = self.markets(limit=1000, event_ticker=event_ticker, status=None)
        if not ms:
            raise NotFound(f"no event {event_ticker}")
        first = ms[0]
        return {
            "event_ticker": event_ticker,
            "series_ticker": first["series_ticker"],
            "category": first["category"],
            "mutually_exclusive": first.get("mutually_exclusive"),
            "exhaustive": first.get("exhaustive"),
            "markets": ms,
        }

    def orderbook(self, ticker: str) -> dict[str, Any]:
        rec = self.market(ticker)
        return {
            "ticker": ticker,
            "yes_bids": rec["depth"]["yes"],
            "no_bids": rec["depth"]["no"],
            "yes_bid": rec["yes_bid"],
            "yes_ask": rec["yes_ask"],
            "no_bid": rec["no_bid"],
            "no_ask": rec["no_ask"],
        }

    def scan(self, limit: int = 100) -> list[dict[str, Any]]:
        with self._lock:
            return [market_record(m) for m in scan(self.source, self.account.profile, limit=limit)]

    def analyze(self, limit: int = 500, fair: dict[str, Price] | None = None, top: int = 20) -> list[dict[str, Any]]:
        with self._lock:
            markets = list(scan(self.source, self.account.profile, limit=limit))
            opps = list(
                Analyzer(self.account.profile, fair=fair).analyze(
                    markets, as_of_ms=self.source.now_ms(), src=self.source.describe()
                )
            )
        opps.sort(key=lambda o: o.score, reverse=True)
        return [to_record(o) for o in opps[:top]]

    def events(
        self,
        *,
        status: str | None = "open",
        series_ticker: str | None = None,
        category: str | None = None,
        query: str | None = None,
        limit: int = 20,
        cursor: str | None = None,
    ) -> tuple[list[dict[str, Any]], str, int]:
        """A page of events (by status word, series, category, words in their titles); the next cursor; the total."""
        from ..venue import page

        with self._lock:
            rows = self.account.venue.events(status=status, series_ticker=series_ticker)
        rows = [
            r
            for r in rows
            if (not category or r["category"].lower() == category.lower())
            and matches(query, r.get("title"), r.get("sub_title"), r["event_ticker"], *r.get("market_titles", ()))
        ]
        chunk, nxt = page(rows, limit, cursor)
        return chunk, nxt, len(rows)

    def series(
        self,
        *,
        series_ticker: str | None = None,
        category: str | None = None,
        query: str | None = None,
        limit: int = 20,
        cursor: str | None = None,
    ) -> tuple[list[dict[str, Any]], str, int]:
        """A page of series (one, when ``series_ticker`` is given); the next cursor; the total.

        Raises:
            NotFound: no such series.
        """
        from ..venue import page

        with self._lock:
            rows = self.account.venue.series(series_ticker)
        rows = [
            r
            for r in rows
            if (not category or r["category"].lower() == category.lower())
            and matches(query, r.get("title"), r["series_ticker"])
        ]
        chunk, nxt = page(rows, limit, cursor)
        return chunk, nxt, len(rows)

    def trades(
        self,
        ticker: str | None = None,
        *,
        limit: int = 20,
        cursor: str | None = None,
        min_ts: int | None = None,
        max_ts: int | None = None,
    ) -> tuple[list[dict[str, Any]], str]:
        """A page of the public tape (newest first) and the next cursor."""
        with self._lock:
            return self.account.venue.trades(ticker, limit=limit, cursor=cursor, min_ts=min_ts, max_ts=max_ts)

    def candlesticks(
        self, ticker: str, *, period: int = 60, start_ts: int | None = None, end_ts: int | None = None, limit: int = 24
    ) -> list[dict[str, Any]]:
        """The last ``limit`` candles of ``period`` minutes ending by ``end_ts`` (default: the one open now), oldest first.

        Raises:
            UsageError: a period Kalshi does not serve, or start after end. NotFound.
        """
        from ..venue import PERIODS

        if period not in PERIODS:
            raise UsageError(f"period must be one of {', '.join(map(str, PERIODS))} minutes, not {period}")
        width = period * 60
        with self._lock:
            # by default up to the end of the period in progress: the latest candle is the one open now
            end = end_ts if end_ts is not None else (self.account.venue.now_s() // width + 1) * width
            start = start_ts if start_ts is not None else end - width * limit
            if start > end:
                raise UsageError("the start is after the end")
            rows = self.account.venue.candlesticks(ticker, period=period, start_ts=start, end_ts=end)
        return rows[-limit:]

    def exchange_status(self) -> dict[str, Any]:
        with self._lock:
            return {**self.account.venue.exchange_status(), "mode": self.account.mode}

    def schedule(self) -> dict[str, Any]:
        with self._lock:
            return self.account.venue.schedule()

    def books(self, tickers: list[str]) -> dict[str, Market]:
        with self._lock:
            return self.source.books(tickers)
