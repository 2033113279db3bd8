"""One trader's session with every order-management and venue tool, run against paper and against sim-exchange.

(A helper module, not a test: tests/mcp has no ``__init__.py``, see mcp_helpers.)

The same calls must work on the paper broker (the matching engine in-process) and on demo
against ``kalashi sim-exchange`` (our REST client over loopback), and every write must leave
the journal saying what happened: amends as intents journaled before they are sent, refusals
as ``denied`` records, the orders' rows as the exchange now lists them.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from mcp import Client
from mcp_helpers import error_text, structured

from kalashi_cli.domain import OrderStatus
from kalashi_cli.journal import Journal
from kalashi_cli.money import Price, fmt_price, parse_price
from kalashi_cli.service import TradingService

#: the tools the scenario calls (each test checks it called them all)
TRADER_TOOLS = {
    "get_order",
    "amend_order",
    "decrease_order",
    "batch_create_orders",
    "batch_cancel_orders",
    "cancel_all_orders",
    "get_queue_position",
    "get_candlesticks",
    "get_trades",
    "get_events",
    "get_series",
    "get_exchange_status",
    "get_schedule",
    "get_account_limits",
    "create_order",
    "get_orders",
    "get_markets",
}


def two_sided(markets: list[dict[str, Any]]) -> dict[str, Any]:
    """A market quoted on both sides, on the cent grid, with room two ticks under the bid."""
    for m in markets:
        if (
            m["yes_bid"]
            and m["yes_ask"]
            and m["price_ranges"][0]["step"] == "0.0100"
            and len(m["price_ranges"]) == 1
            and Decimal("0.10") <= Decimal(m["yes_bid"]) <= Decimal("0.80")
            and Decimal(m["yes_bid_size"]) > 0
        ):
            return m
    raise AssertionError("no two-sided market on the cent grid")


async def run_scenario(c: Client) -> dict[str, Any]:
    """Drive every trader tool once (and its refusals); return what the assertions need."""
    called: set[str] = set()

    async def call(name: str, **args: Any) -> dict[str, Any]:
        called.add(name)
        return structured(await c.call_tool(name, args))

    async def fails(name: str, **args: Any) -> str:
        called.add(name)
        return error_text(await c.call_tool(name, args))

    m = two_sided((await call("get_markets", limit=100))["markets"])
    t, bid = m["ticker"], m["yes_bid"]
    below = fmt_price(Price(parse_price(bid) - 200))  # two ticks under the best bid

    # a bid at the best bid rests behind what is already there
    placed = await call(
        "create_order",
        ticker=t,
        outcome="yes",
        action="buy",
        count=2,
        price=bid,
        time_in_force="good_till_canceled",
        client_order_id="scn-rest-1",
    )
    oid = placed["order"]["order_id"]
    got = (await call("get_order", order_id=oid))["order"]
    queue = await call("get_queue_position", order_id=oid)

    # amend: a new price (journaled as an intent before it is sent, under a new client_order_id)
    repriced = await call("amend_order", order_id=oid, yes_price=below, client_order_id="scn-amend-1")
    grown = await call("amend_order", order_id=oid, count="3")
    # an amend to a size the per-order cap refuses is a tool error, and the order rests unchanged
    too_big = await fails("amend_order", order_id=oid, count=400)
    same = await fails("amend_order", order_id=oid, yes_price=below)
    decreased = await call("decrease_order", order_id=oid, reduce_by=1)
    neither = await fails("decrease_order", order_id=oid)
    all_queues = await call("get_queue_position", ticker=t)

    # a batch: each order through the gate on its own (the second sells YES cheap: $495 of NO)
    batch = await call(
        "batch_create_orders",
        orders=[
            {
                "ticker": t,
                "outcome": "yes",
                "action": "buy",
                "count": 1,
                "price": below,
                "time_in_force": "good_till_canceled",
                "client_order_id": "scn-batch-0",
            },
            {"ticker": t, "outcome": "yes", "action": "sell", "count": 500, "price": "0.01"},
            {
                "ticker": t,
                "outcome": "no",
                "action": "buy",
                "count": 1,
                "price": fmt_price(Price(parse_price(m["no_bid"]) - 200)),
                "time_in_force": "good_till_canceled",
                "client_order_id": "scn-batch-2",
            },
        ],
    )
    resting = await call("get_orders", status="resting", ticker=t, limit=2)
    second_page = await call("get_orders", status="resting", ticker=t, limit=2, cursor=resting["cursor"])
    batch_ids = [r["order"]["order_id"] for r in batch["results"] if r["ok"]]
    cancelled = await call("batch_cancel_orders", order_ids=[batch_ids[0], "no-such-order-1"])
    cancel_all = await call("cancel_all_orders", ticker=t)

    # the venue
    trades = await call("get_trades", ticker=t, limit=3)
    candles = await call("get_candlesticks", ticker=t, period=1, limit=5)
    word = max((w.strip("?,.") for w in m["title"].split()), key=len)  # the title's longest word
    found = await call("get_events", query=word.lower(), limit=5)
    by_category = await call("get_events", query=word.lower(), category=m["category"].upper(), limit=5)
    other_category = await call("get_events", query=word.lower(), category="No Such Category")
    first_events = await call("get_events", limit=2)
    series = await call("get_series", series_ticker=m["series_ticker"])
    status = await call("get_exchange_status")
    schedule = await call("get_schedule")
    limits = await call("get_account_limits")
    return {
        "called": called,
        "market": m,
        "order_id": oid,
        "placed": placed,
        "got": got,
        "queue": queue,
        "repriced": repriced,
        "grown": grown,
        "too_big": too_big,
        "same": same,
        "decreased": decreased,
        "neither": neither,
        "all_queues": all_queues,
        "batch": batch,
        "resting": resting,
        "second_page": second_page,
        "cancelled": cancelled,
        "cancel_all": cancel_all,
        "trades": trades,
        "candles": candles,
        "word": word,
        "found": found,
        "by_category": by_category,
        "other_category": other_category,
        "first_events": first_events,
        "series": series,
        "status": status,
        "schedule": schedule,
        "limits": limits,
        "below": below,
    }


def check_scenario(r: dict[str, Any], svc: TradingService) -> None:
    """What must hold after :func:`run_scenario`, on any venue: the answers, the journal, the broker."""
    check_answers(r)
    check_journal(r, svc.journal)
    assert r["limits"]["risk"]["max_order_cost"] == str(svc.profile.risk.max_order_cost)
    assert not svc.broker.orders(status=OrderStatus.RESTING)


def check_journal(r: dict[str, Any], journal: Journal) -> None:
    """The journal says what the scenario's writes did: amends journaled before sending, refusals, rows."""
    oid = r["order_id"]
    amend = journal.intent("scn-amend-1")
    assert amend is not None and amend.status == "acked" and amend.strategy == "manual"
    assert amend.opportunity_id == f"amend:{oid}" and amend.order_id == oid
    row = next(o for o in journal.orders() if o.order_id == oid)
    assert row.price == parse_price(r["below"]) and row.initial_count == 300 and row.status == "canceled"
    denied = [d for d in journal.records(kind="denied") if d["ref"] == f"amend:{oid}"]
    assert len(denied) == 1 and denied[0]["rule"] == "max-order-cost"
    assert journal.intent("scn-batch-0") is not None and journal.intent("scn-batch-2") is not None


def check_answers(r: dict[str, Any]) -> None:
    """The tools' answers, on any venue."""
    m, oid = r["market"], r["order_id"]
    assert r["called"] >= TRADER_TOOLS
    assert r["got"]["client_order_id"] == "scn-rest-1" and r["got"]["status"] == "resting"
    [q] = r["queue"]["queue_positions"]
    assert q["order_id"] == oid and Decimal(q["ahead"]) == Decimal(m["yes_bid_size"])  # behind the whole level

    rep = r["repriced"]
    assert rep["previous"]["yes_price"] == m["yes_bid"] and rep["order"]["yes_price"] == r["below"]
    assert rep["order"]["client_order_id"] == "scn-amend-1" and rep["order"]["status"] == "resting"
    assert r["grown"]["order"]["count"] == "3.00" and r["grown"]["order"]["remaining"] == "3.00"
    assert "RiskDenied" in r["too_big"] and "max-order-cost" in r["too_big"]
    assert "UsageError" in r["same"] and "nothing to change" in r["same"]
    assert r["decreased"]["remaining"] == "2.00" and r["decreased"]["reduced_by"] == "1.00"
    assert "exactly one of reduce_by and reduce_to" in r["neither"]
    assert [x["order_id"] for x in r["all_queues"]["queue_positions"]] == [oid]

    b = r["batch"]
    assert (b["placed"], b["failed"]) == (2, 1)
    assert [x["ok"] for x in b["results"]] == [True, False, True]
    assert "RiskDenied" in b["results"][1]["error"] and "$495" in b["results"][1]["error"]
    assert b["results"][0]["order"]["client_order_id"] == "scn-batch-0"

    assert r["resting"]["count"] == 2 and r["resting"]["cursor"] == "2"
    assert r["second_page"]["count"] == 1 and r["second_page"]["cursor"] == ""
    pages = {o["order_id"] for o in r["resting"]["orders"] + r["second_page"]["orders"]}
    assert oid in pages and len(pages) == 3

    c = r["cancelled"]
    assert (c["cancelled"], c["failed"]) == (1, 1) and "NotFound" in c["results"][1]["error"]
    assert r["cancel_all"]["cancelled"] == 2 and r["cancel_all"]["remaining_resting"] == 0

    assert r["trades"]["count"] <= 3 and all(x["ticker"] == m["ticker"] for x in r["trades"]["trades"])
    cs = r["candles"]
    assert cs["period_minutes"] == 1 and 1 <= cs["count"] <= 5
    assert all(Decimal(x["yes_bid"]["close"]) >= 0 for x in cs["candles"])
    assert cs["candles"][-1]["yes_bid"]["close"] == m["yes_bid"]  # the last candle closes at the book now
    assert any(e["event_ticker"] == m["event_ticker"] for e in r["found"]["events"]), r["word"]
    fe = r["first_events"]
    assert r["found"]["total"] < fe["total"]  # the words filter
    assert m["event_ticker"] in {e["event_ticker"] for e in r["by_category"]["events"]}  # any case
    assert r["other_category"]["total"] == 0 and r["other_category"]["events"] == []
    assert fe["count"] == 2 and fe["total"] >= 2 and fe["cursor"] == "2"
    assert r["series"]["series"][0]["series_ticker"] == m["series_ticker"]
    assert r["status"]["exchange_active"] is True and r["status"]["trading_active"] is True
    assert r["schedule"]["standard_hours"] and "monday" in r["schedule"]["standard_hours"][0]["days"]
