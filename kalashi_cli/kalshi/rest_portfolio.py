"""Account and portfolio reads of the Kalshi REST API (limits, balance, positions, orders, fills, settlements)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

from .rest_calls import RestCalls


class PortfolioEndpoints(RestCalls):
    """Authenticated reads of the account: limits, balance, positions, orders, queue positions, fills."""

    # ------------------------------------------------------------------ account

    async def get_account_limits(self) -> dict[str, Any]:
        """GET /account/limits (auth)."""
        return await self.get("/account/limits")  # type: ignore[no-any-return]

    # ------------------------------------------------------------------ portfolio reads

    async def get_balance(self, *, subaccount: int | None = None, exchange_index: int | None = None) -> dict[str, Any]:
        """GET /portfolio/balance (per-shard ``balance_breakdown`` when present)."""
        return await self.get(  # type: ignore[no-any-return]
            "/portfolio/balance", {"subaccount": subaccount, "exchange_index": exchange_index}
        )

    async def iter_positions(
        self,
        *,
        ticker: str | None = None,
        event_ticker: str | None = None,
        count_filter: str | None = None,
        subaccount: int | None = None,
        limit: int = 1000,
    ) -> AsyncIterator[dict[str, Any]]:
        """Yield market positions (GET /portfolio/positions ``market_positions``)."""
        async for p in self.paginate(
            "/portfolio/positions",
            "market_positions",
            {"ticker": ticker, "event_ticker": event_ticker, "count_filter": count_filter, "subaccount": subaccount},
            limit=limit,
        ):
            yield p

    async def iter_orders(
        self,
        *,
        ticker: str | None = None,
        event_ticker: str | None = None,
        status: str | None = None,
        min_ts: int | None = None,
        max_ts: int | None = None,
        subaccount: int | None = None,
        limit: int = 1000,
    ) -> AsyncIterator[dict[str, Any]]:
        """Yield orders (GET /portfolio/orders); status ∈ resting|canceled|executed."""
        async for o in self.paginate(
            "/portfolio/orders",
            "orders",
            {
                "ticker": ticker,
                "event_ticker": event_ticker,
                "status": status,
                "min_ts": min_ts,
                "max_ts": max_ts,
                "subaccount": subaccount,
            },
            limit=limit,
        ):
            yield o

    async def get_order(self, order_id: str) -> dict[str, Any]:
        """GET /portfolio/orders/{order_id} → the order (costs 2 tokens)."""
        body = await self.get(f"/portfolio/orders/{order_id}", endpoint="GET /portfolio/orders/{order_id}")
        return body.get("order", body) if isinstance(body, dict) else {}

    async def get_queue_positions(
        self,
        *,
        market_tickers: Sequence[str] | None = None,
        event_ticker: str | None = None,
        subaccount: int | None = None,
    ) -> list[dict[str, Any]]:
        """GET /portfolio/orders/queue_positions → ``[{order_id, market_ticker, queue_position_fp}]``.

        Kalshi wants at least one of ``market_tickers`` (comma-separated) or ``event_ticker``.
        """
        body = await self.get(
            "/portfolio/orders/queue_positions",
            {
                "market_tickers": ",".join(market_tickers) if market_tickers else None,
                "event_ticker": event_ticker,
                "subaccount": subaccount,
            },
        )
        return [q for q in (body.get("queue_positions") or ()) if isinstance(q, dict)]

    async def get_queue_position(self, order_id: str) -> dict[str, Any]:
        """GET /portfolio/orders/{order_id}/queue_position → ``{queue_position_fp}`` (contracts ahead)."""
        return await self.get(  # type: ignore[no-any-return]
            f"/portfolio/orders/{order_id}/queue_position", endpoint="GET /portfolio/orders/{order_id}/queue_position"
        )

    async def iter_fills(
        self,
        *,
        ticker: str | None = None,
        order_id: str | None = None,
        min_ts: int | None = None,
        max_ts: int | None = None,
        subaccount: int | None = None,
        limit: int = 1000,
    ) -> AsyncIterator[dict[str, Any]]:
        """Yield fills (GET /portfolio/fills); ``*_ts`` are Unix seconds."""
        async for f in self.paginate(
            "/portfolio/fills",
            "fills",
            {"ticker": ticker, "order_id": order_id, "min_ts": min_ts, "max_ts": max_ts, "subaccount": subaccount},
            limit=limit,
        ):
            yield f

    async def iter_settlements(
        self,
        *,
        ticker: str | None = None,
        event_ticker: str | None = None,
        min_ts: int | None = None,
        max_ts: int | None = None,
        limit: int = 1000,
    ) -> AsyncIterator[dict[str, Any]]:
        """Yield portfolio settlements (GET /portfolio/settlements)."""
        async for s in self.paginate(
            "/portfolio/settlements",
            "settlements",
            {"ticker": ticker, "event_ticker": event_ticker, "min_ts": min_ts, "max_ts": max_ts},
            limit=limit,
        ):
            yield s
