"""The tools a trader expects (issue 19 item 7), on paper and on demo against sim-exchange.

The same scenario (:mod:`trader_scenario`) runs through the SDK's in-memory client against the
paper broker on the sim and against a demo account whose REST client talks to
``kalashi sim-exchange`` over loopback: get_order, amend_order, decrease_order, batch create and
cancel, cancel_all_orders, queue positions, the tape, candles, events with a text search,
series, the exchange's status and schedule, and the account's limits. Every order (alone or in
a batch) and every amend passes the one risk gate and is journaled before it is sent.
"""

from __future__ import annotations

import pytest
from mcp import Client
from trader_scenario import check_scenario, run_scenario

from kalashi_cli.mcp.server import build_server
from kalashi_cli.service import TradingService

pytestmark = pytest.mark.anyio


async def test_trader_tools_on_paper(service: TradingService) -> None:
    async with Client(build_server(service)) as c:
        r = await run_scenario(c, service)
    check_scenario(r, service)
    assert r["limits"]["api"] is None and r["limits"]["mode"] == "paper"
    assert r["status"]["data_source"]["kind"] == "sim"


async def test_trader_tools_on_demo_against_sim_exchange(demo_service: TradingService) -> None:
    async with Client(build_server(demo_service)) as c:
        r = await run_scenario(c, demo_service)
    check_scenario(r, demo_service)
    assert r["limits"]["mode"] == "demo" and r["limits"]["api"]["usage_tier"] == "prestige"
    assert r["status"]["data_source"]["kind"] == "exchange"
    # the simulator holds the same truth as the journal: the amended order, renamed
    theirs = next(o for o in demo_service.broker.orders() if o.order_id == r["order_id"])
    ours = next(o for o in demo_service.journal.orders() if o.order_id == r["order_id"])
    assert theirs.client_order_id == ours.client_order_id != "scn-rest-1"
    assert (theirs.price, theirs.initial_count, theirs.status) == (ours.price, ours.initial_count, ours.status)
