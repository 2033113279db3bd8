"""Order writes of the Kalshi REST API: V2 orders under /portfolio/events/orders and order groups."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import UsageError
from .rest_calls import RestCalls


class OrderEndpoints(RestCalls):
    """Order writes (never retried: ``request`` sends every non-GET exactly once) and order groups."""

    # ------------------------------------------------------------------ V2 order writes (never retried)

    async def create_order(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """POST /portfolio/events/orders (CreateOrderV2Request, see wire.order_request) → 201 body."""
        return await self.request(  # type: ignore[no-any-return]
            "POST", "/portfolio/events/orders", json=body, endpoint="POST /portfolio/events/orders"
        )

    async def cancel_order(
        self,
        order_id: str,
        *,
        market_ticker: str | None = None,
        subaccount: int | None = None,
        exchange_index: int | None = None,
    ) -> dict[str, Any]:
        """DELETE /portfolio/events/orders/{order_id}?market_ticker=… → ``{order_id, reduced_by, ts_ms}``."""
        return await self.request(  # type: ignore[no-any-return]
            "DELETE",
            f"/portfolio/events/orders/{order_id}",
            params={"market_ticker": market_ticker, "subaccount": subaccount, "exchange_index": exchange_index},
            endpoint="DELETE /portfolio/events/orders/{order_id}",
        )

    async def amend_order(
        self, order_id: str, body: Mapping[str, Any], *, subaccount: int | None = None
    ) -> dict[str, Any]:
        """POST /portfolio/events/orders/{id}/amend; ``count`` is the new TOTAL (filled + remaining)."""
        return await self.request(  # type: ignore[no-any-return]
            "POST",
            f"/portfolio/events/orders/{order_id}/amend",
            params={"subaccount": subaccount},
            json=body,
            endpoint="POST /portfolio/events/orders/{order_id}/amend",
        )

    async def decrease_order(
        self,
        order_id: str,
        *,
        reduce_by: str | None = None,
        reduce_to: str | None = None,
        market_ticker: str | None = None,
        subaccount: int | None = None,
        exchange_index: int | None = None,
    ) -> dict[str, Any]:
        """POST /portfolio/events/orders/{id}/decrease with exactly one of reduce_by / reduce_to.

        Raises:
            UsageError: both or neither of reduce_by / reduce_to given.
        """
        if (reduce_by is None) == (reduce_to is None):
            raise UsageError("give exactly one of reduce_by or reduce_to")
        body: dict[str, Any] = {
            k: v
            for k, v in {
                "reduce_by": reduce_by,
                "reduce_to": reduce_to,
                "market_ticker": market_ticker,
                "exchange_index": exchange_index,
            }.items()
            if v is not None
        }
        return await self.request(  # type: ignore[no-any-return]
            "POST",
            f"/portfolio/events/orders/{order_id}/decrease",
            params={"subaccount": subaccount},
            json=body,
            endpoint="POST /portfolio/events/orders/{order_id}/decrease",
        )

    async def batch_create_orders(self, orders: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        """POST /portfolio/events/orders/batched; costs 10 × N and must fit the write bucket whole.

        Raises:
            BatchTooLarge: before sending, when 10 × N exceeds the write bucket.
        """
        return await self.request(  # type: ignore[no-any-return]
            "POST",
            "/portfolio/events/orders/batched",
            json={"orders": list(orders)},
            items=len(orders),
            endpoint="POST /portfolio/events/orders/batched",
        )

    async def batch_cancel_orders(self, orders: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        """DELETE /portfolio/events/orders/batched with a JSON body ``{orders: [{order_id, market_ticker?}]}``.

        Raises:
            BatchTooLarge: before sending, when 2 × N exceeds the write bucket.
        """
        return await self.request(  # type: ignore[no-any-return]
            "DELETE",
            "/portfolio/events/orders/batched",
            json={"orders": list(orders)},
            items=len(orders),
            endpoint="DELETE /portfolio/events/orders/batched",
        )

    async def cancel_all_orders(self, *, subaccount: int | None = None) -> dict[str, Any]:
        """DELETE /portfolio/events/orders: cancel every resting order (all shards)."""
        return await self.request(  # type: ignore[no-any-return]
            "DELETE",
            "/portfolio/events/orders",
            params={"subaccount": subaccount},
            endpoint="DELETE /portfolio/events/orders",
        )

    # ------------------------------------------------------------------ order groups

    async def create_order_group(
        self, contracts_limit: str, *, subaccount: int | None = None, exchange_index: int | None = None
    ) -> dict[str, Any]:
        """POST /portfolio/order_groups/create ``{contracts_limit_fp}`` → ``{order_group_id, …}``."""
        body = {
            k: v
            for k, v in {
                "contracts_limit_fp": contracts_limit,
                "subaccount": subaccount,
                "exchange_index": exchange_index,
            }.items()
            if v is not None
        }
        return await self.request(  # type: ignore[no-any-return]
            "POST", "/portfolio/order_groups/create", json=body, endpoint="POST /portfolio/order_groups/create"
        )

    async def list_order_groups(self, *, subaccount: int | None = None) -> list[dict[str, Any]]:
        """GET /portfolio/order_groups."""
        body = await self.get("/portfolio/order_groups", {"subaccount": subaccount})
        return [g for g in (body.get("order_groups") or ()) if isinstance(g, dict)]

    async def get_order_group(self, order_group_id: str) -> dict[str, Any]:
        """GET /portfolio/order_groups/{id}."""
        return await self.get(  # type: ignore[no-any-return]
            f"/portfolio/order_groups/{order_group_id}", endpoint="GET /portfolio/order_groups/{id}"
        )

    async def delete_order_group(self, order_group_id: str) -> dict[str, Any]:
        """DELETE /portfolio/order_groups/{id} (cancels the group's resting orders)."""
        return await self.request(  # type: ignore[no-any-return]
            "DELETE", f"/portfolio/order_groups/{order_group_id}", endpoint="DELETE /portfolio/order_groups/{id}"
        )

    async def reset_order_group(self, order_group_id: str) -> dict[str, Any]:
        """PUT /portfolio/order_groups/{id}/reset."""
        return await self.request(  # type: ignore[no-any-return]
            "PUT", f"/portfolio/order_groups/{order_group_id}/reset", endpoint="PUT /portfolio/order_groups/{id}/reset"
        )

    async def trigger_order_group(self, order_group_id: str) -> dict[str, Any]:
        """PUT /portfolio/order_groups/{id}/trigger."""
        return await self.request(  # type: ignore[no-any-return]
            "PUT",
            f"/portfolio/order_groups/{order_group_id}/trigger",
            endpoint="PUT /portfolio/order_groups/{id}/trigger",
        )

    async def set_order_group_limit(self, order_group_id: str, contracts_limit: str) -> dict[str, Any]:
        """PUT /portfolio/order_groups/{id}/limit ``{contracts_limit_fp}``."""
        return await self.request(  # type: ignore[no-any-return]
            "PUT",
            f"/portfolio/order_groups/{order_group_id}/limit",
            json={"contracts_limit_fp": contracts_limit},
            endpoint="PUT /portfolio/order_groups/{id}/limit",
        )
