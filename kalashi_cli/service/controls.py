"""The operator's controls: halt, flatten, clear a halt, resume, switch profile, tighten the risk limits."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..domain import OrderStatus
from ..errors import RiskDenied
from ..profile import load_profile
from ..stages.analyze import Analyzer
from ..stages.risk import TradingState, stored_state
from .account import Account
from .read import ReadModel

#: hears the steps of a long operator command (flatten) as they happen
Progress = Callable[[dict[str, Any]], None]


class OperatorControls:
    """The brakes and settings a human (or an agent, within limits) works the account with.

    Halting, cancelling and flattening are always allowed: they only lower risk. Limits only
    tighten, and a profile switch never loosens what was tightened. Each control holds the
    account's lock and marks the dashboard's metrics stale.
    """

    def __init__(self, account: Account, read: ReadModel) -> None:
        self.account = account
        self.read = read  # the trading state a control leaves behind
        self._lock = account.lock
        self.journal = account.journal
        self.source = account.source
        self.broker = account.broker
        self.loop = account.loop

    def halt(self, reason: str = "operator halt") -> dict[str, Any]:
        """Always allowed: HALTED, resting orders cancelled."""
        from ..health import trading_state_status
        from ..safety import halt

        with self._lock:
            res = halt(self.journal, self.broker, reason).to_dict()
            self.account.metrics_stale = True
            self.account.publish(
                {
                    "kind": "health",
                    "v": 1,
                    "name": "trading_state",
                    "status": trading_state_status("HALTED"),
                    "detail": f"HALTED: {reason}",
                }
            )
        return res

    def flatten(self, *, cancel_resting: bool = False, progress: Progress | None = None) -> dict[str, Any]:
        """Close every position (reduce-only IOC); with ``cancel_resting``, cancel resting orders first.

        ``progress`` hears each step as it happens (``{step: "cancel"|"close", done, total, message}``;
        see :func:`kalashi_cli.safety.flatten`), so a caller can show a long flatten moving.
        """
        from ..safety import flatten

        with self._lock:
            cancelled = self._cancel_resting(progress) if cancel_resting else 0
            res = flatten(
                self.account.profile,
                self.journal,
                self.broker,
                self.source.books,
                self.source.now_ms,
                progress=progress,
            )
            self.account.metrics_stale = True
            for r in res.records:
                self.account.on_record(r)
        out = res.to_dict()
        if cancel_resting:
            out["canceled_orders"] = cancelled
        return out

    def _cancel_resting(self, progress: Progress | None = None) -> int:
        """Cancel every resting order at the broker and journal the broker's answer; return how many."""
        resting = self.broker.orders(status=OrderStatus.RESTING)
        if progress is not None:
            progress(
                {
                    "step": "cancel",
                    "done": 0,
                    "total": len(resting),
                    "message": f"cancelling {len(resting)} resting order(s)",
                }
            )
        cancelled = sum(1 for o in resting if self.broker.cancel(o.order_id, o.ticker))
        if progress is not None:
            progress(
                {
                    "step": "cancel",
                    "done": len(resting),
                    "total": len(resting),
                    "message": f"{cancelled} of {len(resting)} resting order(s) cancelled",
                }
            )
        now = {o.order_id: o for o in self.broker.orders()}
        for o in self.journal.orders(status=OrderStatus.RESTING):
            if o.order_id in now:
                self.journal.upsert_order(now[o.order_id])
        if resting:
            self.journal.add_event("cancel-resting", {"cancelled": cancelled, "resting": len(resting)})
        return cancelled

    def clear_halt(self) -> str:
        """Leave HALTED (the operator's explicit choice); return the trading state afterwards.

        Raises:
            RiskDenied: the halt file exists, or a risk limit still holds, so the gate halted again at once.
        """
        from ..safety import resume

        with self._lock:
            state, _ = stored_state(self.journal)
            if state is not TradingState.HALTED:
                return self.read.trading_state()[0]
            resume(self.journal, confirm=True)
            self.account.metrics_stale = True
            st, why = self.read.trading_state()
        if st == TradingState.HALTED.value:
            raise RiskDenied(
                f"the halt cannot be cleared: {why}",
                hint="the risk limit still holds; it clears with the next trading day or a looser profile",
            )
        return st

    def resume(self, confirm: bool) -> str:
        from ..safety import resume

        with self._lock:
            self.account.metrics_stale = True
            return resume(self.journal, confirm=confirm)

    def set_profile(self, name: str) -> str:
        """Switch to another profile by name or path (validated first)."""
        p = self.account.with_stored_limits(load_profile(name))  # a switch never loosens what an agent tightened
        with self._lock:
            self.account.profile = p
            self.account.profile_name = name
            self.loop.profile = p
            self.loop.analyzer = Analyzer(p)
            self.account.metrics_stale = True  # recommendations weigh the numbers against the profile
        self.journal.add_event("set-profile", {"profile": name})
        return name

    def tighten(self, **limits: Any) -> dict[str, str]:
        """Tighten risk limits (never loosen); they are kept in the journal and hold after a restart.

        Raises:
            ProfileError: a change would loosen a limit, or names no risk limit.
        """
        with self._lock:
            self.account.profile = self.account.profile.tightened(**limits)
            self.loop.profile = self.account.profile
            self.account.metrics_stale = True
            stored = self.journal.tightened_limits()
            stored.update({k: _limit_json(getattr(self.account.profile.risk, k)) for k in limits})
            self.journal.set_tightened_limits(stored)
        self.journal.add_event("tighten", {k: str(v) for k, v in limits.items()})
        return {k: str(getattr(self.account.profile.risk, k)) for k in limits}


def _limit_json(v: Any) -> Any:
    """A risk limit as JSON keeps it: booleans and integers as they are, decimals as strings."""
    return v if isinstance(v, bool | int) else str(v)
