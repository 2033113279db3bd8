"""Market data endpoints of the Kalshi REST API (exchange, markets, books, events, series, trades, candles)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

from ..errors import UsageError
from .rest_calls import RestCalls

MARKETS_PAGE_MAX = 1000
EVENTS_PAGE_MAX = 200
ORDERBOOKS_BATCH_MAX = 100


def _chunks(items: Sequence[str], size: int) -> list[list[str]]:
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


class MarketDataEndpoints(RestCalls):
    """Public reads: the exchange's state and schedule, markets and their books, events, series, trades."""

    # ------------------------------------------------------------------ exchange

    async def get_exchange_status(self) -> dict[str, Any]:
        """GET /exchange/status."""
        return await self.get("/exchange/status")  # type: ignore[no-any-return]

    async def get_exchange_schedule(self) -> dict[str, Any]:
        """GET /exchange/schedule."""
        return await self.get("/exchange/schedule")  # type: ignore[no-any-return]

    # ------------------------------------------------------------------ market data

    @staticmethod
    def _market_filters(
        status: str | None,
        event_ticker: str | None,
        series_ticker: str | None,
        tickers: Sequence[str] | None,
        min_close_ts: int | None,
        max_close_ts: int | None,
        mve_filter: str | None,
    ) -> dict[str, Any]:
        return {
            "status": status,
            "event_ticker": event_ticker,
            "series_ticker": series_ticker,
            # GET /markets takes ONE comma-separated string (trap 8), unlike /markets/orderbooks.
            "tickers": ",".join(tickers) if tickers else None,
            "min_close_ts": min_close_ts,
            "max_close_ts": max_close_ts,
            "mve_filter": mve_filter,
        }

    async def get_markets_page(
        self,
        *,
        limit: int = MARKETS_PAGE_MAX,
        cursor: str | None = None,
        status: str | None = None,
        event_ticker: str | None = None,
        series_ticker: str | None = None,
        tickers: Sequence[str] | None = None,
        min_close_ts: int | None = None,
        max_close_ts: int | None = None,
        mve_filter: str | None = None,
    ) -> dict[str, Any]:
        """GET /markets, one page: ``{markets, cursor}``. ``*_close_ts`` are Unix seconds.

        Raises:
            UsageError: ``limit`` outside 1..1000.
        """
        if not 1 <= limit <= MARKETS_PAGE_MAX:
            raise UsageError(f"markets page limit must be 1..{MARKETS_PAGE_MAX}, got {limit}")
        params = self._market_filters(
            status, event_ticker, series_ticker, tickers, min_close_ts, max_close_ts, mve_filter
        )
        params["limit"] = limit
        params["cursor"] = cursor
        return await self.get("/markets", params)  # type: ignore[no-any-return]

    async def iter_markets(
        self,
        *,
        limit: int = MARKETS_PAGE_MAX,
        status: str | None = None,
        event_ticker: str | None = None,
        series_ticker: str | None = None,
        tickers: Sequence[str] | None = None,
        min_close_ts: int | None = None,
        max_close_ts: int | None = None,
        mve_filter: str | None = None,
    ) -> AsyncIterator[dict[str, Any]]:
        """Yield every market object across all pages of GET /markets."""
        if not 1 <= limit <= MARKETS_PAGE_MAX:
            raise UsageError(f"markets page limit must be 1..{MARKETS_PAGE_MAX}, got {limit}")
        params = self._market_filters(
            status, event_ticker, series_ticker, tickers, min_close_ts, max_close_ts, mve_filter
        )
        async for m in self.paginate("/markets", "markets", params, limit=limit):
            yield m

    async def get_market(self, ticker: str) -> dict[str, Any]:
        """GET /markets/{ticker} → the market object."""
        body = await self.get(f"/markets/{ticker}", endpoint="GET /markets/{ticker}")
        return body.get("market", body) if isinstance(body, dict) else {}

    async def get_orderbook(self, ticker: str, *, depth: int | None = None) -> dict[str, Any]:
        """GET /markets/{ticker}/orderbook → ``{orderbook_fp: {yes_dollars, no_dollars}}``."""
        return await self.get(  # type: ignore[no-any-return]
            f"/markets/{ticker}/orderbook", {"depth": depth}, endpoint="GET /markets/{ticker}/orderbook"
        )

    async def get_orderbooks(self, tickers: Sequence[str]) -> list[dict[str, Any]]:
        """GET /markets/orderbooks in chunks of ≤100 tickers; return the ``orderbooks`` entries.

        Tickers go as repeated keys (``?tickers=A&tickers=B``, trap 8).
        """
        out: list[dict[str, Any]] = []
        unique = list(dict.fromkeys(tickers))
        for chunk in _chunks(unique, ORDERBOOKS_BATCH_MAX):
            body = await self.get("/markets/orderbooks", {"tickers": chunk})
            out.extend(e for e in (body.get("orderbooks") or ()) if isinstance(e, dict))
        return out

    async def get_events_page(
        self,
        *,
        limit: int = EVENTS_PAGE_MAX,
        cursor: str | None = None,
        status: str | None = None,
        series_ticker: str | None = None,
        tickers: Sequence[str] | None = None,
        with_nested_markets: bool = False,
        min_close_ts: int | None = None,
    ) -> dict[str, Any]:
        """GET /events, one page (limit ≤ 200).

        Raises:
            UsageError: ``limit`` outside 1..200.
        """
        if not 1 <= limit <= EVENTS_PAGE_MAX:
            raise UsageError(f"events page limit must be 1..{EVENTS_PAGE_MAX}, got {limit}")
        return await self.get(  # type: ignore[no-any-return]
            "/events",
            {
                "limit": limit,
                "cursor": cursor,
                "status": status,
                "series_ticker": series_ticker,
                "tickers": ",".join(tickers) if tickers else None,
                "with_nested_markets": with_nested_markets or None,
                "min_close_ts": min_close_ts,
            },
        )

    async def iter_events(
        self,
        *,
        limit: int = EVENTS_PAGE_MAX,
        status: str | None = None,
        series_ticker: str | None = None,
        tickers: Sequence[str] | None = None,
        with_nested_markets: bool = False,
    ) -> AsyncIterator[dict[str, Any]]:
        """Yield every event across all pages of GET /events (multivariate events are excluded by Kalshi)."""
        if not 1 <= limit <= EVENTS_PAGE_MAX:
            raise UsageError(f"events page limit must be 1..{EVENTS_PAGE_MAX}, got {limit}")
        params = {
            "status": status,
            "series_ticker": series_ticker,
            "tickers": ",".join(tickers) if tickers else None,
            "with_nested_markets": with_nested_markets or None,
        }
        async for e in self.paginate("/events", "events", params, limit=limit):
            yield e

    async def get_event(self, event_ticker: str, *, with_nested_markets: bool = False) -> dict[str, Any]:
        """GET /events/{event_ticker} → ``{event, markets}``."""
        return await self.get(  # type: ignore[no-any-return]
            f"/events/{event_ticker}",
            {"with_nested_markets": with_nested_markets or None},
            endpoint="GET /events/{event_ticker}",
        )

    async def get_series_list(self, *, category: str | None = None, tags: str | None = None) -> list[dict[str, Any]]:
        """GET /series → the list of series (fee_type, fee_multiplier, category)."""
        body = await self.get("/series", {"category": category, "tags": tags})
        return [s for s in (body.get("series") or ()) if isinstance(s, dict)]

    async def get_series(self, series_ticker: str) -> dict[str, Any]:
        """GET /series/{series_ticker} → the series object."""
        body = await self.get(f"/series/{series_ticker}", endpoint="GET /series/{series_ticker}")
        return body.get("series", body) if isinstance(body, dict) else {}

    async def iter_trades(
        self, *, ticker: str | None = None, min_ts: int | None = None, max_ts: int | None = None, limit: int = 1000
    ) -> AsyncIterator[dict[str, Any]]:
        """Yield public trades (GET /markets/trades); ``*_ts`` are Unix seconds."""
        async for t in self.paginate(
            "/markets/trades", "trades", {"ticker": ticker, "min_ts": min_ts, "max_ts": max_ts}, limit=limit
        ):
            yield t

    async def get_candlesticks(
        self, series_ticker: str, ticker: str, *, start_ts: int, end_ts: int, period_interval: int = 60
    ) -> dict[str, Any]:
        """GET /series/{s}/markets/{t}/candlesticks; ``period_interval`` ∈ {1, 60, 1440} minutes.

        Raises:
            UsageError: unsupported period.
        """
        if period_interval not in (1, 60, 1440):
            raise UsageError(f"period_interval must be 1, 60 or 1440 minutes, got {period_interval}")
        return await self.get(  # type: ignore[no-any-return]
            f"/series/{series_ticker}/markets/{ticker}/candlesticks",
            {"start_ts": start_ts, "end_ts": end_ts, "period_interval": period_interval},
            endpoint="GET /series/{series_ticker}/markets/{ticker}/candlesticks",
        )
