"""GET and cursor pagination over one abstract ``request``: the base of the REST endpoint groups."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Mapping
from typing import Any


class RestCalls(ABC):
    """The calls the endpoint groups use; :class:`~kalashi_cli.kalshi.rest.KalshiClient` sends them.

    The endpoint groups (:mod:`.rest_markets`, :mod:`.rest_portfolio`, :mod:`.rest_orders`) are
    mixins of the client: they hold no state of their own and reach the exchange only through
    :meth:`request` (rate limit, signing, retries and error translation all live there), so
    each group is a catalogue of Kalshi endpoints for one area of the API.
    """

    @abstractmethod
    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        items: int = 1,
        endpoint: str | None = None,
    ) -> Any:
        """Send one request and return the decoded JSON body (see ``KalshiClient.request``)."""

    async def get(self, path: str, params: Mapping[str, Any] | None = None, *, endpoint: str | None = None) -> Any:
        return await self.request("GET", path, params=params, endpoint=endpoint or f"GET {path}")

    async def paginate(
        self,
        path: str,
        key: str,
        params: Mapping[str, Any] | None = None,
        *,
        limit: int,
        endpoint: str | None = None,
        max_pages: int | None = None,
    ) -> AsyncIterator[Any]:
        """Yield every item of ``key`` across cursor pages; stop on an empty/absent cursor (§5.1)."""
        cursor: str | None = None
        seen: set[str] = set()
        pages = 0
        while True:
            query = dict(params or {})
            query["limit"] = limit
            if cursor:
                query["cursor"] = cursor
            body = await self.get(path, query, endpoint=endpoint or f"GET {path}")
            pages += 1
            for item in (body.get(key) or ()) if isinstance(body, Mapping) else ():
                yield item
            cursor = body.get("cursor") if isinstance(body, Mapping) else None
            if not cursor or not isinstance(cursor, str) or cursor in seen:
                return
            if max_pages is not None and pages >= max_pages:
                return
            seen.add(cursor)
