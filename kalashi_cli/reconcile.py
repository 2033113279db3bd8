"""Reconciliation: make the journal agree with the exchange, and say what had to change.

The exchange is the truth. For every market we compare:

* intents whose outcome is unknown (or that were journaled but never answered) — found on
  the exchange by ``client_order_id`` → recorded as acked with what really happened; proven
  absent → marked ``never_sent`` (they may only be resent under the SAME id, see
  :meth:`~kalashi_cli.stages.order.OrderExecutor.resend`). A ``never_sent`` or ``rejected``
  intent whose id shows up later after all (a request still in flight, or a resend refused
  while an earlier send had arrived) is adopted as acked;
* orders: status, filled and remaining counts (resting orders we do not know are orphans:
  reported, and cancelled when the profile says so); a ``client_order_id`` listed twice
  would be a duplicate order and is reported (it must never happen);
* fills: any fill the journal lacks is added (fill ids make this idempotent);
* positions: the journal's fold is compared with the exchange's positions, on a consistent
  snapshot (positions read before and after the fills; a market that moved in between is
  read again), and differences are adopted with journal-only adjustment fills;
* balance: with no resting orders (which hold collateral out of it) the fold's cash must
  equal the exchange's balance to the cent (Kalshi reports cents); a difference is adopted by
  moving the journal's starting balance (deposits, withdrawals are not profit or loss).

Every correction is a journal event (``reconcile``), counted in the journal's meta
(``reconcile_runs``, ``reconcile_corrections``, ``reconcile_failures``) so drift is visible in
``metrics``, ``heal`` and the dashboard.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from .domain import ExchangeFill, ExchangeOrder, MarketPosition, OrderStatus
from .errors import ExchangeError, KalashiError, NetworkError
from .journal import IntentStatus, Journal, _now_ms
from .ledger import fold, netting_credit
from .money import MONEY_SCALE, ONE_DOLLAR, Count, Money, Price, fmt_money
from .ports import Broker

#: Kalshi reports balances in cents: a smaller difference is rounding, not drift.
BALANCE_TOLERANCE: Money = Money(MONEY_SCALE // 100)
#: how often the positions/fills snapshot is re-read when the market moves underneath it
SNAPSHOT_ATTEMPTS = 3


@dataclass(slots=True)
class ReconcileReport:
    resolved: list[dict[str, Any]] = field(default_factory=list)  # unknown intents decided
    fills_added: int = 0
    orders_updated: int = 0
    orphans: list[str] = field(default_factory=list)
    orphans_cancelled: int = 0
    position_drift: dict[str, tuple[int, int]] = field(default_factory=dict)  # ticker → (journal, exchange)
    duplicates: list[str] = field(default_factory=list)  # client_order_ids the exchange lists twice
    balance_drift: tuple[int, int] | None = None  # (journal cash, exchange balance) when adopted
    unstable: bool = False  # positions kept moving: drift not adopted this time
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error

    @property
    def corrections(self) -> int:
        return (
            len(self.resolved)
            + self.fills_added
            + self.orders_updated
            + len(self.orphans)
            + len(self.position_drift)
            + len(self.duplicates)
            + (self.balance_drift is not None)
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "resolved": self.resolved,
            "fills_added": self.fills_added,
            "orders_updated": self.orders_updated,
            "orphans": self.orphans,
            "orphans_cancelled": self.orphans_cancelled,
            "position_drift": {k: list(v) for k, v in self.position_drift.items()},
            "duplicates": self.duplicates,
            "balance_drift": list(self.balance_drift) if self.balance_drift else None,
            "unstable": self.unstable,
            "error": self.error,
        }


def reconcile(
    journal: Journal, broker: Broker, *, starting_balance: int, cancel_orphans: bool = False
) -> ReconcileReport:
    """Adopt the exchange's truth into the journal; return what changed.

    ``starting_balance`` is the default for a journal that has none stored (paper); a
    journal's stored starting balance wins. Never raises for exchange trouble: a failed
    reconciliation is reported (``error``) and counted, because the loop must keep the
    affected markets blocked rather than crash.
    """
    rep = ReconcileReport()
    try:
        _reconcile(journal, broker, rep, journal.starting_balance(Money(starting_balance)), cancel_orphans)
    except (ExchangeError, NetworkError) as e:
        rep.error = str(e)
    except KalashiError as e:
        rep.error = str(e)
    failures = int(journal.get_meta("reconcile_failures", "0") or 0)
    journal.set_meta("reconcile_failures", "0" if rep.ok else str(failures + 1))
    journal.set_meta("last_reconcile", str(rep.to_dict()["ok"]))
    journal.set_meta("reconcile_runs", str(int(journal.get_meta("reconcile_runs", "0") or 0) + 1))
    if rep.corrections:
        journal.set_meta(
            "reconcile_corrections", str(int(journal.get_meta("reconcile_corrections", "0") or 0) + rep.corrections)
        )
    if rep.corrections or not rep.ok:
        journal.add_event("reconcile", rep.to_dict())
    return rep


def _reconcile(journal: Journal, broker: Broker, rep: ReconcileReport, start: int, cancel_orphans: bool) -> None:
    listed = broker.orders()
    seen = Counter(o.client_order_id for o in listed if o.client_order_id)
    rep.duplicates = sorted(c for c, n in seen.items() if n > 1)
    by_coid: dict[str, ExchangeOrder] = {}
    for o in listed:
        if o.client_order_id:
            by_coid.setdefault(o.client_order_id, o)
    _resolve_intents(journal, by_coid, rep)
    _reconcile_orders(journal, broker, listed, rep, cancel_orphans)
    theirs = _fills_between_positions(journal, broker, rep)
    if theirs is None:
        rep.unstable = True  # positions kept moving: adopting now could double-count a fill
        return
    _adopt_positions(journal, theirs, start, rep)
    _adopt_balance(journal, broker, listed, start, rep)


def _resolve_intents(journal: Journal, by_coid: dict[str, ExchangeOrder], rep: ReconcileReport) -> None:
    """1. intents without a definite answer, and late arrivals of intents thought never sent."""
    for it in journal.intents(status=IntentStatus.UNKNOWN) + journal.intents(status=IntentStatus.PENDING):
        found = by_coid.get(it.client_order_id)
        if found is not None:
            journal.set_intent_status(
                it.client_order_id,
                IntentStatus.ACKED,
                order_id=found.order_id,
                detail="found on the exchange by reconciliation",
            )
            journal.upsert_order(found)
            rep.resolved.append({"client_order_id": it.client_order_id, "found": True, "order_id": found.order_id})
        else:
            # Not on the exchange: it never arrived (the exchange lists every order it accepted,
            # including executed and cancelled ones), so it may be resent with the same id.
            journal.set_intent_status(
                it.client_order_id, IntentStatus.NEVER_SENT, detail="not found on the exchange by client_order_id"
            )
            rep.resolved.append({"client_order_id": it.client_order_id, "found": False})
    for it in journal.intents(status=IntentStatus.NEVER_SENT) + journal.intents(status=IntentStatus.REJECTED):
        found = by_coid.get(it.client_order_id)
        if found is not None:  # an earlier send arrived after all (still in flight, or its answer lost): adopt it
            journal.set_intent_status(
                it.client_order_id,
                IntentStatus.ACKED,
                order_id=found.order_id,
                detail=f"arrived late: found on the exchange after it was judged {it.status}",
            )
            journal.upsert_order(found)
            rep.resolved.append(
                {"client_order_id": it.client_order_id, "found": True, "order_id": found.order_id, "late": True}
            )


def _reconcile_orders(
    journal: Journal, broker: Broker, listed: list[ExchangeOrder], rep: ReconcileReport, cancel_orphans: bool
) -> None:
    """2. orders (by order id: orders placed elsewhere may carry no client_order_id at all)."""
    known = {o.order_id: o for o in journal.orders()}
    journal_ids = {i.client_order_id for i in journal.intents()}
    for o in listed:
        mine = known.get(o.order_id)
        if mine is None and o.client_order_id not in journal_ids:
            if o.status == OrderStatus.RESTING:
                rep.orphans.append(o.order_id)
                if cancel_orphans:
                    try:
                        broker.cancel(o.order_id, o.ticker)
                        rep.orphans_cancelled += 1
                    except ExchangeError as e:  # reported; the next reconciliation tries again
                        journal.add_event(
                            "orphan-cancel-failed", {"order_id": o.order_id, "error": str(e)}, ticker=o.ticker
                        )
            continue
        if mine is None or (mine.status, mine.fill_count, mine.remaining_count) != (
            o.status,
            o.fill_count,
            o.remaining_count,
        ):
            journal.upsert_order(o)
            rep.orders_updated += 1


def _fills_between_positions(
    journal: Journal, broker: Broker, rep: ReconcileReport
) -> dict[str, MarketPosition] | None:
    """3. fills and settlements, read between two readings of the positions so the three agree.

    Returns the exchange's positions, or None when they kept moving through every attempt.
    """
    before = _positions(broker)
    for _ in range(SNAPSHOT_ATTEMPTS):
        rep.fills_added += journal.add_fills(broker.fills(), source="reconcile")
        journal.add_settlements(broker.settlements())
        after = _positions(broker)
        if {t: p.position for t, p in after.items()} == {t: p.position for t, p in before.items()}:
            return after
        before = after
    return None


def _adopt_positions(journal: Journal, theirs: dict[str, MarketPosition], start: int, rep: ReconcileReport) -> None:
    """4. positions: where the journal's fold differs from the exchange, adopt the exchange's."""
    mine_led = fold(Money(start), journal.fills(), journal.settlements())
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
        adjustments.append(
            ExchangeFill(
                fill_id=f"adj-{t}-{now}",
                order_id="reconcile-adjustment",
                ticker=t,
                side="bid" if diff > 0 else "ask",
                price=Price(max(0, min(ONE_DOLLAR, yes_price))),
                count=Count(abs(diff)),
                fee=Money(0),
                is_taker=False,
                ts_ms=now,
            )
        )
    if adjustments:
        journal.add_fills(adjustments, source="reconcile-adjustment")


def _adopt_balance(
    journal: Journal, broker: Broker, listed: list[ExchangeOrder], start: int, rep: ReconcileReport
) -> None:
    """5. balance (the exchange's available balance counts the collateral netting returns on
    mutually exclusive events, so the journal's side does too)."""
    led = fold(Money(start), journal.fills(), journal.settlements())
    cash = led.cash + netting_credit({t: p.position for t, p in led.positions.items()}, journal.netted_tickers())
    balance = broker.balance().balance
    if any(o.status == OrderStatus.RESTING for o in listed):
        return  # resting orders hold collateral out of the balance: only an account without them compares
    if abs(balance - cash) >= BALANCE_TOLERANCE:
        # Money moved that no fill explains (a deposit, a withdrawal): shift the fold's start so
        # the journal's cash is the exchange's, without calling it profit or loss.
        rep.balance_drift = (cash, balance)
        journal.set_meta("starting_balance", str(start + balance - cash))
        journal.add_event(
            "balance-adjusted",
            {
                "journal_cash": fmt_money(Money(cash)),
                "exchange_balance": fmt_money(balance),
                "starting_balance": fmt_money(Money(start + balance - cash)),
            },
        )


def _positions(broker: Broker) -> dict[str, MarketPosition]:
    return {p.ticker: p for p in broker.positions() if p.position}
