"""Health checks: each returns a status, how long it took, and a plain-words detail.

``service_checks`` are the cheap in-process checks the bridge shows on the dashboard;
``kalashi heal`` runs these plus the process- and exchange-level checks.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..service import TradingService

OK, DEGRADED, FAILED = "ok", "degraded", "failed"


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    status: str
    detail: str
    latency_ms: Decimal = Decimal(0)

    def to_record(self) -> dict[str, Any]:
        return {"kind": "health", "v": 1, "name": self.name, "status": self.status, "detail": self.detail,
                "latency_ms": str(self.latency_ms)}


def timed(name: str, fn: Callable[[], tuple[str, str]]) -> Check:
    """Run one check, catching its failure as a FAILED result with the error in plain words."""
    t0 = time.perf_counter()
    try:
        status, detail = fn()
    except Exception as e:  # noqa: BLE001 - a check that blows up is a failed check
        status, detail = FAILED, f"{type(e).__name__}: {e}"
    return Check(name, status, detail, Decimal(str(round((time.perf_counter() - t0) * 1000, 3))))


def service_checks(svc: TradingService) -> list[Check]:
    def loop() -> tuple[str, str]:
        st = svc.loop_status()
        if svc.last_error:
            return FAILED, f"last iteration failed: {svc.last_error}"
        if st.status == "running" and svc.last_iteration_ms is not None:
            age = (time.time() * 1000 - svc.last_iteration_ms) / 1000
            if age > max(60.0, 3 * st.interval_s + 30):
                return DEGRADED, f"no iteration for {age:.0f} s (interval {st.interval_s:g} s): the loop may hang"
        return OK, f"{st.status}, {st.iteration} iterations"

    def journal() -> tuple[str, str]:
        ok, detail = svc.journal.integrity_ok()
        return (OK, f"{svc.journal.path} integrity ok") if ok else (FAILED, f"integrity check: {detail}")

    def state() -> tuple[str, str]:
        st, why = svc.trading_state()
        return (OK, st) if st == "ACTIVE" else (DEGRADED, f"{st}: {why}")

    def exchange() -> tuple[str, str]:
        active = svc.broker.trading_active()
        return (OK, "trading active") if active else (DEGRADED, "the exchange reports trading is paused")

    def drift() -> tuple[str, str]:
        rep = svc.loop.last_reconcile
        if rep is None:
            return OK, "not reconciled yet in this session"
        if not rep.ok:
            return FAILED, f"last reconciliation failed: {rep.error}"
        if rep.position_drift:
            return DEGRADED, f"positions drifted and were adopted from the exchange: {sorted(rep.position_drift)}"
        return OK, f"journal = exchange ({rep.corrections} corrections at last sync)"

    return [timed("loop", loop), timed("journal", journal), timed("trading_state", state),
            timed("exchange", exchange), timed("reconciliation", drift)]
