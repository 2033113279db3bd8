"""What an agent is told and what it may send (issue 13 items 2–5, MCP side).

* every market answer says where the data comes from (a field, and a first text line for sim
  and replay data);
* an order that did not reach resting, executed or a partial fill is a tool error with the
  exchange's reason;
* unknown arguments are refused by name (every input schema sets ``additionalProperties:
  false``); ``reduce_only`` is real and goes through the risk gate; counts in exponent form and
  fractions on a market without fractional trading are refused, not rounded;
* limits an agent tightened and its halts are kept in the journal: a respawned server keeps them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp_helpers import SIM, error_text, structured
from typer.testing import CliRunner

from kalashi_cli.cli.app import app
from kalashi_cli.errors import UsageError
from kalashi_cli.mcp.server import TOOL_NAMES, build_server
from kalashi_cli.service import TradingService

pytestmark = pytest.mark.anyio

MARKET_TOOLS = {
    "get_market": {"ticker"},
    "get_markets": {"limit"},
    "get_event": {"event_ticker"},
    "get_orderbook": {"ticker"},
    "scan": {"limit"},
    "analyze": {"limit"},
}


def liquid(svc: TradingService) -> dict[str, Any]:
    for m in svc.read.markets(limit=300):
        if (
            m["yes_ask"]
            and m["yes_bid"]
            and Decimal(m["yes_bid"]) >= Decimal("0.10")
            and Decimal(m["yes_ask"]) <= Decimal("0.90")
            and m["price_ranges"][0]["step"] == "0.0100"
            and Decimal(m["yes_bid_size"]) >= 5
            and Decimal(m["yes_ask_size"]) >= 5
        ):
            return m
    raise AssertionError("no suitable market")


async def test_every_input_schema_refuses_unknown_arguments(service: TradingService) -> None:
    async with Client(build_server(service)) as c:
        tools = {t.name: t for t in (await c.list_tools()).tools}
        assert set(tools) == set(TOOL_NAMES)
        assert {n: t.input_schema.get("additionalProperties") for n, t in tools.items()} == dict.fromkeys(
            TOOL_NAMES, False
        )
        m = liquid(service)
        typo = error_text(
            await c.call_tool(
                "create_order",
                {
                    "ticker": m["ticker"],
                    "outcome": "yes",
                    "action": "buy",
                    "count": 1,
                    "price": m["yes_ask"],
                    "reduce_onyl": True,
                },
            )
        )
        extra = error_text(await c.call_tool("get_balance", {"account": "someone-else"}))
    assert "unknown argument 'reduce_onyl': create_order takes" in typo and "reduce_only" in typo
    assert "unknown argument 'account': get_balance takes no arguments" in extra
    assert service.journal.intents() == [] and service.broker.orders() == []  # nothing was sent


@pytest.mark.parametrize(
    ("count", "words"),
    [
        ("1e2", "'1e2' is not a plain decimal number"),
        ("1.5E0", "not a plain decimal number"),
        (1e-05, "1e-05 is not a plain decimal number"),
        ("1.005", "2 decimal places"),
        ("-1", "greater than 0"),
    ],
)
async def test_counts_are_taken_as_written_or_refused(service: TradingService, count: Any, words: str) -> None:
    m = liquid(service)
    async with Client(build_server(service)) as c:
        text = error_text(
            await c.call_tool(
                "create_order",
                {"ticker": m["ticker"], "outcome": "yes", "action": "buy", "count": count, "price": m["yes_ask"]},
            )
        )
        price = error_text(
            await c.call_tool(
                "create_order", {"ticker": m["ticker"], "outcome": "yes", "action": "buy", "count": 1, "price": "5e-1"}
            )
        )
    assert words in text
    assert "'5e-1' is not a plain decimal number" in price
    assert service.journal.intents() == []


async def test_reduce_only_is_real_and_gated(service: TradingService) -> None:
    m = liquid(service)
    t = m["ticker"]
    buy = {"ticker": t, "outcome": "yes", "action": "buy", "price": m["yes_ask"]}
    sell = {"ticker": t, "outcome": "yes", "action": "sell", "price": m["yes_bid"], "reduce_only": True}
    async with Client(build_server(service)) as c:
        nothing_held = error_text(await c.call_tool("create_order", {**sell, "count": 1}))
        structured(await c.call_tool("create_order", {**buy, "count": 2}))
        too_many = error_text(await c.call_tool("create_order", {**sell, "count": 3}))
        resting = error_text(
            await c.call_tool("create_order", {**sell, "count": 1, "time_in_force": "good_till_canceled"})
        )
        structured(await c.call_tool("halt", {"reason": "reduce only from here"}))
        reduced = structured(await c.call_tool("create_order", {**sell, "count": 1}))
        opening = error_text(await c.call_tool("create_order", {**buy, "count": 1, "reduce_only": True}))
        positions = structured(await c.call_tool("get_positions", {}))["positions"]
    assert "RiskDenied" in nothing_held and "rule 'reduce-only'" in nothing_held and "holds nothing" in nothing_held
    assert "rule 'reduce-only'" in too_many and "holds 2.00 YES" in too_many
    assert "UsageError" in resting and "immediate_or_cancel" in resting
    assert reduced["order"]["reduce_only"] is True and reduced["order"]["filled_count"] == "1.00"
    assert "rule 'reduce-only'" in opening and "holds 1.00 YES" in opening  # buying more YES is not reducing
    assert [(p["ticker"], p["count"]) for p in positions] == [(t, "1.00")]
    sent = [i for i in service.journal.intents() if i.reduce_only]
    assert len(sent) == 1 and sent[0].time_in_force == "immediate_or_cancel"  # the flag reached the broker


async def test_an_order_that_did_not_execute_is_a_tool_error(service: TradingService) -> None:
    m = liquid(service)
    async with Client(build_server(service)) as c:
        # post-only at the ask would take liquidity: the exchange cancels it
        crossed = error_text(
            await c.call_tool(
                "create_order",
                {
                    "ticker": m["ticker"],
                    "outcome": "yes",
                    "action": "buy",
                    "count": 1,
                    "price": m["yes_ask"],
                    "time_in_force": "good_till_canceled",
                    "post_only": True,
                },
            )
        )
        # an immediate-or-cancel order that finds nothing to trade against ends canceled, nothing filled
        unfilled = error_text(
            await c.call_tool(
                "create_order", {"ticker": m["ticker"], "outcome": "yes", "action": "buy", "count": 1, "price": "0.01"}
            )
        )
    assert crossed.startswith("Error executing tool create_order: OrderRejected: buy 1.00 YES")
    assert "did not execute (status canceled, filled 0): a post-only order that would have taken liquidity" in crossed
    assert "did not execute (status canceled, filled 0): nothing could be traded at that price" in unfilled
    statuses = [r["status"] for r in service.journal.records(kind="order")]
    assert statuses == ["canceled", "canceled"]  # both journaled as the exchange answered


async def test_every_market_answer_names_its_data_source(service: TradingService) -> None:
    m = liquid(service)
    args = {
        "get_market": {"ticker": m["ticker"]},
        "get_markets": {"limit": 2},
        "get_event": {"event_ticker": m["event_ticker"]},
        "get_orderbook": {"ticker": m["ticker"]},
        "scan": {"limit": 5},
        "analyze": {"limit": 100, "top": 2},
    }
    async with Client(build_server(service)) as c:
        answers = {name: await c.call_tool(name, a) for name, a in args.items()}
    for name, res in answers.items():
        ds = structured(res)["data_source"]
        assert ds["kind"] == "sim" and ds["source"].startswith(SIM), name
        assert res.content[0].text.startswith("SIMULATED market data (sim:seed=1,markets=300"), name
        assert "not Kalshi's" in res.content[0].text
        summary = res.content[-1].text  # the text is a short summary, never the JSON again
        assert len(res.content) == 2 and not summary.lstrip().startswith("{") and len(summary) < 2500, name


def _recording(tmp_path: Path) -> Path:
    """A REST recording of a market that does not trade fractional contracts, and a closed one."""
    market = {
        "ticker": "KXR-1-A",
        "event_ticker": "KXR-1",
        "status": "active",
        "yes_bid_dollars": "0.3000",
        "yes_ask_dollars": "0.3200",
        "yes_bid_size_fp": "500.00",
        "yes_ask_size_fp": "500.00",
        "close_time": "2099-10-01T00:00:00Z",
        "fractional_trading_enabled": False,
        "price_ranges": [{"start": "0.0000", "end": "1.0000", "step": "0.0100"}],
    }
    closed = {**market, "ticker": "KXR-1-B", "status": "closed", "fractional_trading_enabled": True}
    books = {
        "orderbooks": [
            {"ticker": t, "orderbook_fp": {"yes_dollars": [["0.3000", "500.00"]], "no_dollars": [["0.6800", "500.00"]]}}
            for t in ("KXR-1-A", "KXR-1-B")
        ]
    }
    rows = [
        {"t_ms": 1000, "src": "meta", "format": "kalashi-recording", "version": 1},
        {
            "t_ms": 1001,
            "src": "rest",
            "endpoint": "GET /series/{series_ticker}",
            "body": {"series": {"ticker": "KXR", "fee_type": "quadratic", "fee_multiplier": 1, "category": "X"}},
        },
        {"t_ms": 1002, "src": "rest", "endpoint": "GET /markets", "body": {"markets": [market, closed], "cursor": ""}},
        {"t_ms": 1003, "src": "rest", "endpoint": "GET /markets/orderbooks", "body": books},
    ]
    path = tmp_path / "rec.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in rows) + "\n")
    return path


@pytest.fixture
def replay_service(tmp_path: Path) -> Iterator[TradingService]:
    svc = TradingService(
        "default", source=f"replay:{_recording(tmp_path)},speed=0", journal_path=tmp_path / "replay.sqlite"
    )
    try:
        yield svc
    finally:
        svc.close()


async def test_replay_data_is_marked_and_whole_contracts_are_not_rounded(replay_service: TradingService) -> None:
    order = {"ticker": "KXR-1-A", "outcome": "yes", "action": "buy", "price": "0.32"}
    async with Client(build_server(replay_service)) as c:
        res = await c.call_tool("get_market", {"ticker": "KXR-1-A"})
        fraction = error_text(await c.call_tool("create_order", {**order, "count": 1.5}))
        whole = structured(await c.call_tool("create_order", {**order, "count": 2}))
        # the exchange's own refusal (a closed market) comes back as a tool error with its reason
        rejected = error_text(await c.call_tool("create_order", {**order, "ticker": "KXR-1-B", "count": 1}))
    assert structured(res)["data_source"]["kind"] == "replay"
    assert structured(res)["fractional_trading"] is False
    assert res.content[0].text.startswith("RECORDED market data (replay:")
    assert "KXR-1-A does not trade fractional contracts: count 1.50 must be a whole number" in fraction
    assert whole["order"]["filled_count"] == "2.00"
    assert rejected.startswith("Error executing tool create_order: OrderRejected: buy 1.00 YES KXR-1-B at $0.3200")
    assert "was rejected by the exchange: market KXR-1-B is closed; it takes no orders" in rejected
    with pytest.raises(UsageError, match="whole number"):
        replay_service.commands.create_order("KXR-1-A", "yes", "buy", "0.5", "0.32")


async def test_a_replay_serves_its_events_and_says_what_it_cannot(replay_service: TradingService) -> None:
    async with Client(build_server(replay_service)) as c:
        events = structured(await c.call_tool("get_events", {"status": "any"}))
        series = structured(await c.call_tool("get_series", {}))
        tape = error_text(await c.call_tool("get_trades", {"ticker": "KXR-1-A"}))
        candles = error_text(await c.call_tool("get_candlesticks", {"ticker": "KXR-1-A"}))
        status = structured(await c.call_tool("get_exchange_status", {}))
    assert [(e["event_ticker"], e["markets"]) for e in events["events"]] == [("KXR-1", 2)]
    assert events["data_source"]["kind"] == "replay"
    assert [s["series_ticker"] for s in series["series"]] == ["KXR"]
    for text in (tape, candles):
        assert "UsageError" in text and "is not served for source replay:" in text
    assert status["trading_active"] is True and status["mode"] == "paper"


async def test_tightened_limits_and_halts_survive_a_respawn(tmp_path: Path) -> None:
    path = tmp_path / "agent.sqlite"
    first = TradingService("default", source=SIM, journal_path=path)
    try:
        m = liquid(first)
        async with Client(build_server(first)) as c:
            structured(
                await c.call_tool(
                    "tighten_limits", {"max_order_cost": "2", "max_open_orders": 7, "cancel_orphans": True}
                )
            )
            structured(await c.call_tool("halt", {"reason": "agent braked"}))
    finally:
        first.close()
    # the client respawns the stdio server: a new process, the same journal
    second = TradingService("default", source=SIM, journal_path=path)
    try:
        risk = second.profile.risk
        assert (risk.max_order_cost, risk.max_open_orders, risk.cancel_orphans) == (Decimal("2"), 7, True)
        async with Client(build_server(second)) as c:
            opening = error_text(
                await c.call_tool(
                    "create_order",
                    {"ticker": m["ticker"], "outcome": "yes", "action": "buy", "count": 1, "price": m["yes_ask"]},
                )
            )
            looser = error_text(await c.call_tool("tighten_limits", {"max_order_cost": "5"}))
            profile = json.loads((await c.read_resource("kalashi://profile")).contents[0].text)
        assert "rule 'halted'" in opening and "agent braked" in opening
        assert "would loosen" in looser
        assert profile["profile"]["risk"]["max_order_cost"] == "2"
        second.controls.set_profile("aggressive")  # switching profiles never loosens what the agent tightened
        assert second.profile.risk.max_order_cost == Decimal("2")
    finally:
        second.close()
    # a human clears them (and the halt) at the shell
    res = CliRunner().invoke(
        app, ["resume", "--confirm", "--clear-limits", "--journal", str(path), "--format", "jsonl"]
    )
    assert res.exit_code == 0, res.stderr
    rec = json.loads(res.stdout)
    assert rec["was_halted"] is True and rec["cleared_limits"] == {
        "cancel_orphans": "true",
        "max_open_orders": "7",
        "max_order_cost": "2",
    }
    third = TradingService("default", source=SIM, journal_path=path)
    try:
        assert third.profile.risk.max_order_cost == Decimal("10.00")
    finally:
        third.close()
