"""The attached dashboard's page state, folded from one snapshot of the run-loop's journal.

:class:`~kalashi_cli.bridge.attach.AttachBackend` reads the journal under its lock into a
:class:`JournalSnapshot`; :func:`page_state` turns that into the whole-page state the dashboard
shows, without touching the journal again (what it cannot tell is listed in :mod:`.attach`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..health import trading_state_status
from ..journal import MarketInfo, RecordRow
from ..money import Count, Money, Price, fmt_count, fmt_money, fmt_price
from ..profile import Profile
from ..records import iso
from ..service import decimal_text, iteration_record_from_row, open_order_row, percent
from .backends import clock_of

if TYPE_CHECKING:
    from ..domain import ExchangeOrder
    from ..stages.portfolio import Portfolio


@dataclass(frozen=True)
class JournalSnapshot:
    """What the page is folded from, read from the journal at one moment (under the backend's lock)."""

    #: the last iterations, oldest first
    rows: list[dict[str, Any]]
    #: (status, interval_s, seconds since the last iteration ended) as far as the journal tells
    loop: tuple[str, float, float | None]
    #: the persisted trading state and why
    stored: tuple[str, str]
    #: the account as journaled; None before the run-loop set its starting balance
    portfolio: Portfolio | None
    #: ticker → (event_ticker, series_ticker, title, category, group)
    meta: dict[str, MarketInfo]
    #: the orders resting as journaled
    resting: list[ExchangeOrder]
    #: the latest order and fill records, newest first
    view: list[RecordRow]
    metrics: dict[str, Any] | None
    #: (ok, detail) of the journal's integrity check
    integrity: tuple[bool, str]
    #: the latest ``repairs`` and ``heal`` health rows, as the page shows them
    heal_health: list[dict[str, Any]]


def with_ts(kind: str, rec: dict[str, Any], ts_ms: int) -> dict[str, Any]:
    """An order or fill with ``wall_ts`` (when it was journaled: the wall clock); an order also with ``ts``."""
    if kind == "order" and "ts" not in rec:
        return {**rec, "ts": iso(ts_ms), "wall_ts": iso(ts_ms)}
    return {**rec, "wall_ts": iso(ts_ms)} if kind in ("order", "fill") else rec


def page_state(
    s: JournalSnapshot, *, mode: str, profile: Profile, profile_name: str, path: Path, wall_ms: Callable[[], int]
) -> dict[str, Any]:
    """The whole-page state of a dashboard attached to the journal at ``path``."""
    status, interval, age = s.loop
    last = s.rows[-1] if s.rows else None
    journal_view = [with_ts(r.kind, r.record, r.ts_ms) for r in s.view]
    trading_state, halt_reason = _trading_state(*s.stored, last)
    account: dict[str, Any] = {
        "balance": None,
        "equity": None,
        "realized_pnl": None,
        "unrealized_pnl": None,
        "starting_balance": None,
    }
    positions: list[dict[str, Any]] = []
    exposure: list[dict[str, Any]] = []
    if s.portfolio is not None:
        equity = last["equity"] if last is not None else s.portfolio.equity
        account = _account(s.portfolio, last, equity)
        positions = _positions(s.portfolio, s.meta)
        exposure = _exposure(s.portfolio, equity, percent(profile.correlate.max_group_pct))
    health = [
        _loop_health(status, age, last),
        _journal_health(*s.integrity, path),
        _trading_state_health(trading_state, halt_reason),
        *s.heal_health,
    ]
    return {
        "mode": mode,
        "loop": {
            "status": status,
            "iteration": last["n"] if last is not None else 0,
            "interval_s": decimal_text(interval),
            "source": str(last["source"]) if last is not None else "",
            "profile": profile_name,
        },
        "trading_state": trading_state,
        "halt_reason": halt_reason,
        "account": account,
        "equity_curve": [{"ts": r["started"], "equity": fmt_money(r["equity"])} for r in s.rows],
        "metrics": s.metrics,
        "positions": positions,
        "open_orders": _open_orders(s.resting, journal_view),
        "opportunities": [],
        "exposure": exposure,
        "health": health,
        "journal": journal_view,
        "recommendations": (s.metrics or {}).get("recommendations", []),
        "last_iteration": iteration_record_from_row(last) if last is not None else None,
        "updated": iso(wall_ms()),
        "attached": True,
        "profiles": [],  # set_profile is refused here
        "clock": clock_of(
            str(last["source"]) if last is not None else "", int(last["ts_ms"]) if last is not None else None
        ),
    }


def _trading_state(stored: str, why: str, last: dict[str, Any] | None) -> tuple[str, str | None]:
    """(trading state, why): the persisted HALTED first, else what the run-loop's last iteration reported."""
    if stored == "HALTED":
        return "HALTED", why or "operator halt"
    if last is not None and last["state"] in ("REDUCING", "HALTED"):
        return last["state"], f"the run-loop reported {last['state']} at iteration {last['n']} (its output says why)"
    return "ACTIVE", None


def _account(p: Portfolio, last: dict[str, Any] | None, equity: Money) -> dict[str, Any]:
    """The account card: the run-loop's own equity and cash from its last iteration, P&L from the ledger."""
    led = p.ledger
    open_cost = sum(x.cost for x in led.open_positions())
    cash = last["cash"] if last is not None else led.cash
    marked = last["marked"] if last is not None else p.equity_marked
    return {
        "balance": fmt_money(cash),
        "equity": fmt_money(equity),
        "cash": fmt_money(cash),
        "realized_pnl": fmt_money(Money(led.realized - led.fees)),
        "unrealized_pnl": fmt_money(Money(equity - cash - open_cost)),
        "equity_marked": fmt_money(marked),
        "equity_settled": fmt_money(Money(equity - marked)),
        "starting_balance": fmt_money(p.starting_balance),
    }


def _positions(p: Portfolio, meta: dict[str, MarketInfo]) -> list[dict[str, Any]]:
    """The open positions at cost (the journal has no marks of single positions)."""
    positions = []
    for x in p.ledger.open_positions():
        n = abs(x.position)
        info = meta.get(x.ticker, ("", "", "", "", ""))
        positions.append(
            {
                "ticker": x.ticker,
                "title": info[2],
                "outcome": "yes" if x.position > 0 else "no",
                "count": fmt_count(Count(n)),
                "avg_price": fmt_price(Price(x.cost // n if n else Price(0))),
                "mark": None,
                "unrealized_pnl": None,
                "cost": fmt_money(x.cost),
                "group": info[4],
            }
        )
    return positions


def _exposure(p: Portfolio, equity: Money, cap: str) -> list[dict[str, Any]]:
    """Exposure per correlation group, as a share of the run-loop's equity, with the profile's cap."""
    return [
        {"group": g, "exposure": fmt_money(v), "pct_of_equity": percent(Decimal(v) / max(1, equity)), "cap_pct": cap}
        for g, v in sorted(p.exposure_by_group.items())
    ]


def _open_orders(resting: list[ExchangeOrder], journal_view: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The resting orders, with outcome, action and price as placed where the journal view has the order record."""
    placed = {r["client_order_id"]: r for r in journal_view if r.get("kind") == "order"}
    rows = []
    for o in resting:
        rec = placed.get(o.client_order_id)
        rows.append(open_order_row(o, rec, rec.get("ts") if rec is not None else None))
    return rows


def _loop_health(status: str, age: float | None, last: dict[str, Any] | None) -> dict[str, Any]:
    detail = (
        f"attached; last iteration {last['n']} ended {age:.0f} s ago"
        if last is not None and age is not None
        else "attached; the run-loop has not finished an iteration yet"
    )
    return {"name": "loop", "status": "ok" if status == "running" else "degraded", "detail": detail, "latency_ms": None}


def _journal_health(ok: bool, detail: str, path: Path) -> dict[str, Any]:
    return {
        "name": "journal",
        "status": "ok" if ok else "failed",
        "detail": f"{path} integrity ok" if ok else f"integrity check: {detail}",
        "latency_ms": None,
    }


def _trading_state_health(trading_state: str, halt_reason: str | None) -> dict[str, Any]:
    return {
        "name": "trading_state",
        "status": trading_state_status(trading_state),
        "detail": trading_state if halt_reason is None else f"{trading_state}: {halt_reason}",
        "latency_ms": None,
    }
