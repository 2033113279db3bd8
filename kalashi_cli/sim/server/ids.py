"""Kalshi-style UUIDs for the engine's order, trade (fill) and order-group ids.

The matching engine numbers its objects (``sx-ord-7``, ``sx-trd-12``, ``sx-grp-1``); Kalshi's
ids are UUIDs, and typed clients (Go, Rust, TypeScript SDKs) parse them as such. Every id that
leaves the server goes through :meth:`PublicIds.out`, and every id a client sends back through
:meth:`PublicIds.into`. The mapping is a UUIDv5 of the engine id salted per server instance, so
two simulators never hand out the same id; ids that are not the engine's numbering (the
universe's public trades carry UUIDs already) pass unchanged.
"""

from __future__ import annotations

import uuid

from .params import ApiError

_NS = uuid.UUID("6b616c61-7368-692d-6964-732d73696d78")


def is_uuid(text: str) -> bool:
    try:
        return str(uuid.UUID(text)) == text.lower()
    except ValueError:
        return False


class PublicIds:
    """Engine id ↔ public UUID, both ways."""

    def __init__(self, prefix: str, salt: str | None = None) -> None:
        self.prefix = prefix  # the engine's id prefix: only its ids are translated
        self._ns = uuid.uuid5(_NS, salt if salt is not None else str(uuid.uuid4()))
        self._back: dict[str, str] = {}
        self._out: dict[str, str] = {}

    def out(self, engine_id: str) -> str:
        """The public id of an engine id (remembered, so clients can send it back)."""
        if not engine_id.startswith(self.prefix):
            return engine_id  # not the engine's numbering (a universe trade id is a UUID already)
        public = self._out.get(engine_id)
        if public is None:
            public = str(uuid.uuid5(self._ns, engine_id))
            self._out[engine_id] = public
            self._back[public] = engine_id
        return public

    def into(self, public_id: str, what: str = "order", code: str = "not_found") -> str:
        """The engine id behind a public id.

        Raises:
            ApiError: 404 ``not_found`` for an id this server never issued.
        """
        engine_id = self._back.get(public_id) or self._back.get(public_id.lower())
        if engine_id is None:
            raise ApiError(404, code, f"{what} {public_id} not found")
        return engine_id

    def maybe_into(self, public_id: str | None) -> str | None:
        """Like :meth:`into` for optional ids; an unknown id maps to one the engine does not know."""
        if public_id is None:
            return None
        return self._back.get(public_id, "unknown:" + public_id)


__all__ = ["PublicIds", "is_uuid"]
