"""How the service shows things: an order, a percent, a measurement, the journal's newest records, an iteration."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

from ..domain import ExchangeOrder, from_book_side
from ..journal import Journal
from ..money import fmt_count, fmt_money, fmt_price
from ..records import iso

#: how many order/fill records, iterations and opportunities the dashboard state carries
JOURNAL_VIEW = 200
EQUITY_POINTS = 2000
TOP_OPPORTUNITIES = 20


def order_view(o: ExchangeOrder) -> dict[str, Any]:
    """An order at the broker as the agent and the dashboard see it: on the YES book."""
    return {
        "order_id": o.order_id,
        "client_order_id": o.client_order_id,
        "ticker": o.ticker,
        "side": o.side,
        "yes_price": fmt_price(o.price),
        "status": o.status,
        "count": fmt_count(o.initial_count),
        "filled": fmt_count(o.fill_count),
        "remaining": fmt_count(o.remaining_count),
        "created": iso(o.created_ts_ms) if o.created_ts_ms else None,
    }


def matches(query: str | None, *texts: str | None) -> bool:
    """Whether every word of ``query`` appears in one of ``texts`` (case-insensitive; no query: yes)."""
    if not query:
        return True
    hay = " ".join(t for t in texts if t).lower()
    return all(w in hay for w in query.lower().split())


def percent(fraction: Decimal) -> str:
    """A fraction as a percent string with two places (0.2 → "20.00")."""
    return str((Decimal(fraction) * 100).quantize(Decimal("0.01")))


def decimal_text(x: float | int | Decimal) -> str:
    """A measurement as a plain decimal string (10.0 → "10", 0.25 → "0.25"), never exponent notation."""
    d = Decimal(str(x)).normalize()
    return format(d, "f")


def journal_view(journal: Journal) -> list[dict[str, Any]]:
    """The newest order and fill records in the journal, newest first (journal order: the wall clock's).

    Order records get a ``ts``: when their intent was journaled (just before the order was sent);
    both kinds get ``wall_ts``, when the journal recorded them (wall clock) — a fill's own ``ts``
    is the source's clock.
    """
    out = []
    for row in journal.record_rows(("order", "fill"), limit=JOURNAL_VIEW, newest_first=True):
        r = row.record
        if r.get("kind") == "order" and "ts" not in r and r.get("client_order_id"):
            intent = journal.intent(r["client_order_id"])
            r = {**r, "ts": iso(intent.created_ms)} if intent is not None else r
        out.append({**r, "wall_ts": iso(row.ts_ms)})
    return out


def iteration_record(journal: Journal) -> dict[str, Any] | None:
    """The journal's last iteration as an ``iteration`` record (what the loop emitted, less its extras)."""
    rows = journal.iterations(limit=1)
    return iteration_record_from_row(rows[-1]) if rows else None


def iteration_record_from_row(row: dict[str, Any]) -> dict[str, Any]:
    """Rebuild an ``iteration`` record from a journal ``iterations`` row."""
    return {
        "kind": "iteration",
        "v": 1,
        "n": row["n"],
        "started": row["started"],
        "duration_ms": f"{float(row['duration_ms']):.3f}",
        "markets": row["markets"],
        "opportunities": row["opportunities"],
        "candidates": row["candidates"],
        "orders": row["orders"],
        "state": row["state"],
        "state_reason": "",
        "equity": fmt_money(row["equity"]),
        "cash": fmt_money(row["cash"]),
        "api_calls": row.get("api_calls", 0),
        "source": row.get("source", ""),
        "as_of": iso(row["ts_ms"]),
    }


def open_order_row(o: ExchangeOrder, placed: dict[str, Any] | None, placed_wall: str | None) -> dict[str, Any]:
    """One row of the dashboard's open orders (both backends): outcome, action and price as placed when the
    order record is known (``placed``), else described on the YES book; ``placed_wall`` is the wall-clock
    time it was placed, when known (the broker's ``created`` is the source's clock: the sim's on paper)."""
    if placed is not None:
        outcome, action, price = placed["outcome"], placed["action"], placed["price"]
    else:  # placed before this journal view
        outcome = "yes"
        action, yes_price = from_book_side(o.side, o.price, "yes")
        price = fmt_price(yes_price)
    return {
        "client_order_id": o.client_order_id,
        "order_id": o.order_id,
        "ticker": o.ticker,
        "outcome": outcome,
        "action": action,
        "price": price,
        "count": fmt_count(o.initial_count),
        "remaining": fmt_count(o.remaining_count),
        "status": o.status,
        "created": iso(o.created_ts_ms) if o.created_ts_ms else iso(int(time.time() * 1000)),
        "placed_wall": placed_wall,
    }
