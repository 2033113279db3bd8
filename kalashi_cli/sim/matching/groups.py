"""Order groups: a contracts limit over a rolling 15 s window that cancels the group's orders when hit."""

from __future__ import annotations

from dataclasses import dataclass

from ...errors import NotFound
from ...money import Count
from .accounts import OrderGroup
from .state import EngineState, reject


@dataclass(frozen=True, slots=True)
class OrderGroupView:
    """An order group as GET /portfolio/order_groups/{id} shows it."""

    group_id: str
    contracts_limit: Count
    triggered: bool
    matched: Count  # contracts matched in the current rolling 15 s window
    order_ids: tuple[str, ...]


class OrderGroups(EngineState):
    """The /portfolio/order_groups endpoints (``EngineState._finish`` applies a limit after each call)."""

    def create_order_group(self, account_id: str, contracts_limit: Count) -> str:
        """Create an order group with a contracts limit over a rolling 15 s window; return its id."""
        acc = self._account(account_id)
        if contracts_limit <= 0:
            raise reject("invalid_order", "contracts_limit must be positive")
        gid = self._new_id("grp")
        acc.groups[gid] = OrderGroup(gid, account_id, contracts_limit)
        return gid

    def _group(self, account_id: str, group_id: str) -> OrderGroup:
        g = self._account(account_id).groups.get(group_id)
        if g is None or g.deleted:
            raise NotFound(f"order group {group_id} not found", status=404, code="order_group_not_found")
        return g

    def order_group(self, account_id: str, group_id: str) -> OrderGroupView:
        """Return one order group.

        Raises:
            NotFound: no such group for this account.
        """
        self._sync()
        g = self._group(account_id, group_id)
        g.prune(self.now_ms)
        return OrderGroupView(g.group_id, g.limit, g.triggered, g.matched, tuple(g.order_ids))

    def order_groups(self, account_id: str) -> list[OrderGroupView]:
        """Return the account's order groups."""
        acc = self._account(account_id)
        return [self.order_group(account_id, gid) for gid, g in acc.groups.items() if not g.deleted]

    def reset_order_group(self, account_id: str, group_id: str) -> None:
        """Zero the group's matched counter and allow new orders in it again."""
        g = self._group(account_id, group_id)
        g.window.clear()
        g.matched = Count(0)
        g.triggered = False

    def trigger_order_group(self, account_id: str, group_id: str) -> None:
        """Cancel the group's orders and block new ones until reset."""
        self._sync()
        self._trigger(self._group(account_id, group_id))
        self._finish()

    def set_order_group_limit(self, account_id: str, group_id: str, contracts_limit: Count) -> None:
        """Change the group's limit; if already reached, the group triggers now."""
        self._sync()
        if contracts_limit <= 0:
            raise reject("invalid_order", "contracts_limit must be positive")
        g = self._group(account_id, group_id)
        g.limit = contracts_limit
        self._dirty_groups.append(g)
        self._finish()

    def delete_order_group(self, account_id: str, group_id: str) -> None:
        """Cancel the group's orders and remove the group."""
        self._sync()
        g = self._group(account_id, group_id)
        self._trigger(g)
        g.deleted = True
        self._finish()
