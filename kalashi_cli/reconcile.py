"""Reconciliation: make the journal agree with the exchange, and say what had to change.

The exchange is the truth. For every market we compare:

* intents whose outcome is unknown (or that were journaled but never answered) — found on
  the exchange by ``client_order_id`` → recorded as acked with what really happened; proven
  absent → marked ``never_sent`` so they may be resent under the SAME id;
* orders: status, filled and remaining counts (resting orders we do not know are orphans:
  reported, and cancelled when the profile says so);
* fills: any fill the journal lacks is added (fill ids make this idempotent);
* positions: the journal's fold is compared with the exchange's positions.

Every correction is a journal event (``reconcile-*``), so drift is visible in metrics,
``heal`` and the dashboard.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .domain import ExchangeFill
from .errors import ExchangeError, KalashiError, NetworkError
from .journal import Journal, _now_ms
from .ledger import fold
from .money import ONE_DOLLAR
from .ports import Broker


@dataclass(slots=True)
class ReconcileReport:
    resolved: list[dict[str, Any]] = field(default_factory=list)  # unknown intents decided
    fills_added: int = 0
    orders_updated: int = 0
    orphans: list[str] = field(default_factory=list)
    orphans_cancelled: int = 0
    position_drift: dict[str, tuple[int, int]] = field(default_factory=dict)  # ticker → (journal, exchange)
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error

    @property
    def corrections(self) -> int:
        return (len(self.resolved) + self.fills_added + self.orders_updated + len(self.orphans)
                + len(self.position_drift))

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "resolved": self.resolved, "fills_added": self.fills_added,
                "orders_updated": self.orders_updated, "orphans": self.orphans,
                "orphans_cancelled": self.orphans_cancelled,
                "position_drift": {k: list(v) for k, v in self.position_drift.items()}, "error": self.error}


def reconcile(journal: Journal, broker: Broker, *, starting_balance: int, cancel_orphans: bool = False
              ) -> ReconcileReport:
    """Adopt the exchange's truth into the journal; return what changed.

    Never raises for exchange trouble: a failed reconciliation is reported (``error``) and
    counted, because the loop must keep the affected markets blocked rather than crash.
    """
    rep = ReconcileReport()
    try:
        _reconcile(journal, broker, rep, starting_balance, cancel_orphans)
    except (ExchangeError, NetworkError) as e:
        rep.error = str(e)
    except KalashiError as e:
        rep.error = str(e)
    failures = int(journal.get_meta("reconcile_failures", "0") or 0)
    journal.set_meta("reconcile_failures", "0" if rep.ok else str(failures + 1))
    journal.set_meta("last_reconcile", str(rep.to_dict()["ok"]))
    if rep.corrections or not rep.ok:
        journal.add_event("reconcile", rep.to_dict())
    return rep


def _reconcile(journal: Journal, broker: Broker, rep: ReconcileReport, start: int, cancel_orphans: bool) -> None:
    ex_orders = {o.client_order_id: o for o in broker.orders()}
    by_id = {o.order_id: o for o in ex_orders.values()}
    # 1. intents without a definite answer
    for it in journal.intents(status="unknown") + journal.intents(status="pending"):
        found = ex_orders.get(it.client_order_id)
        if found is not None:
            journal.set_intent_status(it.client_order_id, "acked", order_id=found.order_id,
                                      detail="found on the exchange by reconciliation")
            journal.upsert_order(found)
            rep.resolved.append({"client_order_id": it.client_order_id, "found": True, "order_id": found.order_id})
        else:
            # Not on the exchange: it never arrived (the exchange lists every order it accepted,
            # including executed and cancelled ones), so it may be resent with the same id.
            journal.set_intent_status(it.client_order_id, "never_sent",
                                      detail="not found on the exchange by client_order_id")
            rep.resolved.append({"client_order_id": it.client_order_id, "found": False})
    # 2. orders
    known = {o.order_id: o for o in journal.orders()}
    journal_ids = {i.client_order_id for i in journal.intents()}
    for o in by_id.values():
        mine = known.get(o.order_id)
        if mine is None and o.client_order_id not in journal_ids:
            if o.status == "resting":
                rep.orphans.append(o.order_id)
                if cancel_orphans:
                    broker.cancel(o.order_id, o.ticker)
                    rep.orphans_cancelled += 1
            continue
        if mine is None or (mine.status, mine.fill_count, mine.remaining_count) != (
                o.status, o.fill_count, o.remaining_count):
            journal.upsert_order(o)
            rep.orders_updated += 1
    # 3. fills
    rep.fills_added = journal.add_fills(broker.fills(), source="reconcile")
    journal.add_settlements(broker.settlements())
    # 4. positions
    mine_led = fold(start, journal.fills(), journal.settlements())
    theirs = {p.ticker: p for p in broker.positions()}
    tickers = set(theirs) | {p.ticker for p in mine_led.open_positions()}
    adjustments = []
    now = _now_ms()
    for t in sorted(tickers):
        a = mine_led.positions[t].position if t in mine_led.positions else 0
        ex = theirs.get(t)
        b = ex.position if ex else 0
        if a == b:
            continue
        rep.position_drift[t] = (a, b)
        # Adopt the exchange's position with a journal-only adjustment fill priced at the
        # exchange's average cost, so the fold agrees from now on.
        diff = b - a
        avg = (ex.exposure * 100 // abs(b) // 100) if ex and b else 0
        yes_price = avg if b > 0 else ONE_DOLLAR - avg if b < 0 else 0
        adjustments.append(ExchangeFill(fill_id=f"adj-{t}-{now}", order_id="reconcile-adjustment", ticker=t,
                                        side="bid" if diff > 0 else "ask", price=max(0, min(ONE_DOLLAR, yes_price)),
                                        count=abs(diff), fee=0, is_taker=False, ts_ms=now))
    if adjustments:
        journal.add_fills(adjustments, source="reconcile-adjustment")
