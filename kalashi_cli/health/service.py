"""The trading service's quick in-process checks (``service.read.health()``: the dashboard, MCP)."""

from __future__ import annotations

import time
from typing import Any

from . import DEGRADED, FAILED, OK, Check, bucket_headroom_check, feed_of, recent_repairs, timed, trading_state_status
from .feed import feed_check, repair_source_feed


def service_checks(svc: Any) -> list[Check]:
    """The quick checks over ``svc``, the service's read model (:class:`~kalashi_cli.service.read.ReadModel`)."""

    def loop() -> tuple[str, str]:
        st = svc.loop_status()
        if svc.account.last_error:
            return FAILED, f"last iteration failed: {svc.account.last_error}"
        if st.status == "running" and svc.account.last_iteration_ms is not None:
            age = (time.time() * 1000 - svc.account.last_iteration_ms) / 1000
            if age > max(60.0, 3 * st.interval_s + 30):
                return DEGRADED, f"no iteration for {age:.0f} s (interval {st.interval_s:g} s): the loop may hang"
        return OK, f"{st.status}, {st.iteration} iterations"

    def journal() -> tuple[str, str]:
        ok, detail = svc.journal.integrity_ok(quick=True, max_age_s=60)
        return (OK, f"{svc.journal.path} quick check ok") if ok else (FAILED, f"integrity check: {detail}")

    def state() -> tuple[str, str]:
        st, why = svc.trading_state()
        return (OK, st) if st == "ACTIVE" else (trading_state_status(st), f"{st}: {why}")

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

    checks = [
        timed("loop", loop),
        timed("journal", journal),
        timed("trading_state", state),
        timed("exchange", exchange),
        timed("reconciliation", drift),
    ]
    feed = feed_of(svc.source)
    feed_health = None
    if feed is not None:
        feed_health = feed_check(feed)
        # an unwell feed is resynced here too (the loop's iterations do it as well), before the
        # repairs check below reads the journal, so it shows this repair
        repair_source_feed(svc.source, svc.journal, check=feed_health)
    # repairs made by a `kalashi heal` watching this journal (and the feed's), so the dashboard shows them
    checks.append(recent_repairs(svc.journal.path))
    if feed_health is not None:
        checks.append(feed_health)
    clients: dict[str, Any] = {
        "source": getattr(svc.source, "client", None),
        "broker": getattr(svc.broker, "client", None),
    }
    limiters = {label: c.limiter for label, c in clients.items() if _is_kalshi_client(c)}
    if limiters:
        checks.append(bucket_headroom_check(limiters))
    return checks


def _is_kalshi_client(obj: Any) -> bool:
    import sys

    mod = sys.modules.get("kalashi_cli.kalshi.rest")  # not imported: nothing here talks to Kalshi
    return mod is not None and isinstance(obj, mod.KalshiClient)
