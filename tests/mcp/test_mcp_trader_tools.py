"""The tools a trader expects (issue 19 item 7), on paper and on demo against sim-exchange.

The same scenario (:mod:`trader_scenario`) runs through the SDK's in-memory client against the
paper broker on the sim and against a demo account whose REST client talks to
``kalashi sim-exchange`` over loopback: get_order, amend_order, decrease_order, batch create and
cancel, cancel_all_orders, queue positions, the tape, candles, events with a text search,
series, the exchange's status and schedule, and the account's limits. Every order (alone or in
a batch) and every amend passes the one risk gate and is journaled before it is sent.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters
from mcp.shared.exceptions import MCPError
from mcp_helpers import SIM, WAIT, child_env, kalashi_command, simx_env, structured
from trader_scenario import check_answers, check_journal, check_scenario, run_scenario, two_sided

from kalashi_cli.domain import OrderStatus
from kalashi_cli.journal import IntentStatus, Journal
from kalashi_cli.mcp.server import PROMPT_NAMES, RESOURCE_TEMPLATES, TOOL_NAMES, build_server
from kalashi_cli.money import Count, Price, fmt_price, parse_price
from kalashi_cli.profile import load_profile
from kalashi_cli.service import TradingService
from kalashi_cli.sim.server import DemoKey, SimExchangeServer

pytestmark = pytest.mark.anyio


async def test_trader_tools_on_paper(service: TradingService) -> None:
    async with Client(build_server(service)) as c:
        r = await run_scenario(c)
    check_scenario(r, service)
    assert r["limits"]["api"] is None and r["limits"]["mode"] == "paper"
    assert r["status"]["data_source"]["kind"] == "sim"


async def test_trader_tools_on_demo_against_sim_exchange(demo_service: TradingService) -> None:
    async with Client(build_server(demo_service)) as c:
        r = await run_scenario(c)
    check_scenario(r, demo_service)
    assert r["limits"]["mode"] == "demo" and r["limits"]["api"]["usage_tier"] == "prestige"
    assert r["status"]["data_source"]["kind"] == "exchange"
    # the simulator holds the same truth as the journal: the amended order, renamed
    theirs = next(o for o in demo_service.broker.orders() if o.order_id == r["order_id"])
    ours = next(o for o in demo_service.journal.orders() if o.order_id == r["order_id"])
    assert theirs.client_order_id == ours.client_order_id != "scn-rest-1"
    assert (theirs.price, theirs.initial_count, theirs.status) == (ours.price, ours.initial_count, ours.status)


async def test_trader_tools_over_stdio_against_sim_exchange(
    simx: SimExchangeServer, simx_key: DemoKey, tmp_path: Path
) -> None:
    """`kalashi mcp-serve --demo --allow-trading` as a real subprocess, trading on the simulator over loopback."""
    journal = tmp_path / "demo.sqlite"
    cmd = kalashi_command()
    params = StdioServerParameters(
        command=cmd[0],
        args=[*cmd[1:], "mcp-serve", "--demo", "--allow-trading", "--journal", str(journal)],
        env={**child_env(tmp_path / "home"), **simx_env(simx, simx_key)},
    )
    async with Client(params, read_timeout_seconds=WAIT) as c:
        assert c.instructions is not None and "Account: demo" in c.instructions
        assert {t.name for t in (await c.list_tools()).tools} == set(TOOL_NAMES)
        r = await run_scenario(c)
    check_answers(r)
    assert r["limits"]["risk"]["max_order_cost"] == str(load_profile("default").risk.max_order_cost)
    assert r["limits"]["api"]["usage_tier"] == "prestige"
    reader = Journal.for_reading(journal, mode="demo")
    try:
        check_journal(r, reader)
    finally:
        reader.close()
    # the simulator's own account agrees: nothing rests, and the amended order carries its new name
    orders = simx.call(lambda: simx.exchange.engine.orders(simx_key.key_id))
    assert not [o for o in orders if o.status == "resting"]


async def test_resource_templates_and_prompts(service: TradingService) -> None:
    m = two_sided(service.read.markets(limit=300))
    async with Client(build_server(service)) as c:
        templates = {str(t.uri_template) for t in (await c.list_resource_templates()).resource_templates}
        prompts = {p.name: p for p in (await c.list_prompts()).prompts}
        market = json.loads((await c.read_resource(f"kalashi://market/{m['ticker']}")).contents[0].text)
        event = json.loads((await c.read_resource(f"kalashi://event/{m['event_ticker']}")).contents[0].text)
        with pytest.raises(MCPError, match="NotFound"):
            await c.read_resource("kalashi://market/KX-NO-SUCH")
        review = await c.get_prompt("review_positions", {})
        arbitrage = await c.get_prompt("find_arbitrage", {"event_ticker": m["event_ticker"]})
        brief = await c.get_prompt("market_brief", {"ticker": m["ticker"]})
        with pytest.raises(MCPError, match="not a Kalshi ticker"):
            await c.get_prompt("market_brief", {"ticker": "../etc/passwd"})
    assert templates == set(RESOURCE_TEMPLATES)
    assert set(prompts) == set(PROMPT_NAMES)
    assert [a.name for a in prompts["find_arbitrage"].arguments or []] == ["event_ticker"]
    assert market["ticker"] == m["ticker"] and market["data_source"]["kind"] == "sim" and "depth" in market
    assert event["event_ticker"] == m["event_ticker"] and m["ticker"] in {x["ticker"] for x in event["markets"]}
    text = {
        name: p.messages[0].content.text for name, p in (("review", review), ("arbitrage", arbitrage), ("brief", brief))
    }
    assert "paper account: $100.0000 available" in text["review"] and "0 open position(s)" in text["review"]
    assert m["event_ticker"] in text["arbitrage"] and "SIMULATED market data" in text["arbitrage"]
    assert m["ticker"] in text["brief"] and "get_candlesticks" in text["brief"]
    # every prompt keeps the person in charge of orders
    assert all("without my explicit confirmation" in t for t in text.values())


async def test_an_amended_paper_order_survives_a_restart(tmp_path: Path) -> None:
    """The paper exchange stores an amend's new price, total and client_order_id (restored as amended)."""
    path = tmp_path / "paper.sqlite"
    first = TradingService("default", source=SIM, journal_path=path)
    try:
        m = two_sided(first.read.markets(limit=300))
        below = fmt_price(Price(parse_price(m["yes_bid"]) - 300))
        async with Client(build_server(first)) as c:
            oid = structured(
                await c.call_tool(
                    "create_order",
                    {
                        "ticker": m["ticker"],
                        "outcome": "yes",
                        "action": "buy",
                        "count": 1,
                        "price": m["yes_bid"],
                        "time_in_force": "good_till_canceled",
                    },
                )
            )["order"]["order_id"]
            structured(
                await c.call_tool(
                    "amend_order", {"order_id": oid, "yes_price": below, "count": 2, "client_order_id": "renamed-1"}
                )
            )
    finally:
        first.close()
    second = TradingService("default", source=SIM, journal_path=path)
    try:
        [o] = second.broker.orders(status=OrderStatus.RESTING)
        assert (o.order_id, o.client_order_id, o.price, o.initial_count) == (oid, "renamed-1", parse_price(below), 200)
    finally:
        second.close()


def test_an_amend_that_never_arrived_is_never_resent_as_an_order(service: TradingService) -> None:
    """reconcile may judge an amend intent never_sent; resending it would CREATE an order: refused."""
    from kalashi_cli.domain import OrderIntent
    from kalashi_cli.stages.order import AMEND_PREFIX

    m = two_sided(service.read.markets(limit=300))
    intent = OrderIntent(
        "lost-amend-1", m["ticker"], "bid", parse_price(m["yes_bid"]), Count(100), time_in_force="good_till_canceled"
    )
    service.journal.record_intent(intent, strategy="manual", opportunity_id=f"{AMEND_PREFIX}some-order")
    service.journal.set_intent_status("lost-amend-1", IntentStatus.NEVER_SENT, detail="test")
    ex, _ = service.commands._executor()
    outputs, filled = ex.resend("lost-amend-1", service.read.books([m["ticker"]])[m["ticker"]])
    assert filled == 0 and [getattr(o, "rule", "") for o in outputs] == ["amend-not-resent"]
    assert service.broker.orders() == []


async def test_a_batch_meets_the_limits_as_its_earlier_orders_left_them(service: TradingService) -> None:
    """Each order of a batch passes the gate on its own: the third resting order hits a cap of two."""
    m = two_sided(service.read.markets(limit=300))
    below = fmt_price(Price(parse_price(m["yes_bid"]) - 200))
    order = {
        "ticker": m["ticker"],
        "outcome": "yes",
        "action": "buy",
        "count": 1,
        "price": below,
        "time_in_force": "good_till_canceled",
    }
    async with Client(build_server(service)) as c:
        structured(await c.call_tool("tighten_limits", {"max_open_orders": 2}))
        batch = structured(
            await c.call_tool(
                "batch_create_orders", {"orders": [{**order, "client_order_id": f"cap-{i}"} for i in range(3)]}
            )
        )
    assert (batch["placed"], batch["failed"]) == (2, 1)
    assert [x["ok"] for x in batch["results"]] == [True, True, False]
    assert "RiskDenied" in batch["results"][2]["error"] and "max-open-orders" in batch["results"][2]["error"]
    assert len(service.broker.orders(status=OrderStatus.RESTING)) == 2
    assert [d["rule"] for d in service.journal.records(kind="denied")] == ["max-open-orders"]


async def test_an_amend_is_weighed_as_the_order_it_makes_not_on_top_of_itself(service: TradingService) -> None:
    """The amended order replaces the resting one in the daily cap (resting quotes count against it) and the cash:
    a cap that holds one such order lets it be repriced; the same order again next to it is refused."""
    m = two_sided(service.read.markets(limit=300))
    below = parse_price(m["yes_bid"]) - 200
    count = 5 * 10_000 // below  # about $5 of YES
    order = {
        "ticker": m["ticker"],
        "outcome": "yes",
        "action": "buy",
        "count": count,
        "price": fmt_price(Price(below)),
        "time_in_force": "good_till_canceled",
    }
    async with Client(build_server(service)) as c:
        structured(await c.call_tool("tighten_limits", {"max_order_cost": "8", "max_daily_cost": "8"}))
        oid = structured(await c.call_tool("create_order", {**order, "client_order_id": "w-1"}))["order"]["order_id"]
        again = await c.call_tool("create_order", {**order, "client_order_id": "w-2"})
        amended = structured(
            await c.call_tool("amend_order", {"order_id": oid, "yes_price": fmt_price(Price(below - 100))})
        )
    assert again.is_error and "max-daily-cost" in again.content[0].text
    assert amended["order"]["yes_price"] == fmt_price(Price(below - 100)) and amended["order"]["status"] == "resting"
