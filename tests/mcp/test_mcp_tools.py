"""Every MCP tool through the SDK's in-memory client, against the paper broker on the sim.

The client validates each structured result against the tool's published output schema (built
from the record schemas), so a passing call also proves the result has the record's shape.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp_helpers import LOOPBACK_FOR_TESTS, SIM, FeedServer, error_text, structured
from trader_scenario import check_scenario, run_scenario

from kalashi_cli.mcp.server import RESOURCE_URIS, TOOL_NAMES, WRITE_TOOLS, build_server, record_schema
from kalashi_cli.money import Price, fmt_price, parse_price
from kalashi_cli.service import TradingService

pytestmark = pytest.mark.anyio


def liquid_market(svc: TradingService) -> dict[str, Any]:
    """An active sim market with both sides quoted and room below the bid for a resting order."""
    for m in svc.read.markets(limit=300):
        if (
            m["yes_ask"]
            and m["yes_bid"]
            and Decimal(m["yes_bid"]) >= Decimal("0.10")
            and Decimal(m["yes_ask"]) <= Decimal("0.90")
            and m["price_ranges"][0]["step"] == "0.0100"
        ):
            return m
    raise AssertionError("the sim has no suitable market")


async def test_lists_every_tool_with_schemas(service: TradingService) -> None:
    async with Client(build_server(service)) as c:
        tools = {t.name: t for t in (await c.list_tools()).tools}
        resources = {str(r.uri) for r in (await c.list_resources()).resources}
    assert set(tools) == set(TOOL_NAMES)
    for t in tools.values():
        assert t.description, t.name
        assert t.input_schema["type"] == "object", t.name
        assert t.output_schema is not None and t.output_schema["type"] == "object", t.name
    # agents may brake, never release: no tool resumes, clears a halt or swaps the profile
    assert not {n for n in tools if any(w in n for w in ("resume", "clear", "start", "profile", "loosen"))}
    # every tool that changes something says so; the registry checks the token for exactly these
    assert {n for n, t in tools.items() if not t.annotations.read_only_hint} == set(WRITE_TOOLS)
    assert tools["get_balance"].annotations.read_only_hint is True
    assert tools["create_order"].annotations.destructive_hint is True
    schema = tools["get_market"].output_schema
    assert schema is not None and schema["required"] == record_schema("market")["required"]
    assert resources == set(RESOURCE_URIS)


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_every_tool_against_paper_broker(service: TradingService, feed_server: FeedServer, mode: str) -> None:
    m = liquid_market(service)
    ticker, event = m["ticker"], m["event_ticker"]
    called: set[str] = set()
    async with Client(build_server(service, feed_policy=LOOPBACK_FOR_TESTS), mode=mode) as c:

        async def call(name: str, **args: Any) -> dict[str, Any]:
            called.add(name)
            return structured(await c.call_tool(name, args))

        bal = await call("get_balance")
        assert bal["mode"] == "paper" and bal["cash"] == "100.0000"

        listed = await call("get_markets", limit=5)
        assert listed["count"] == 5 and all(r["kind"] == "market" for r in listed["markets"])
        rec = await call("get_market", ticker=ticker)
        assert rec["kind"] == "market" and rec["ticker"] == ticker and "depth" in rec
        ev = await call("get_event", event_ticker=event)
        assert ev["event_ticker"] == event and ticker in {x["ticker"] for x in ev["markets"]}
        book = await call("get_orderbook", ticker=ticker, depth=3)
        assert book["yes_ask"] == rec["yes_ask"] and len(book["yes_bids"]) <= 3
        scanned = await call("scan", limit=20)
        assert 0 < scanned["count"] <= 20
        opps = await call("analyze", limit=300, top=5, fair={ticker: "0.97"})
        assert 0 < opps["count"] <= 5
        assert all(o["kind"] == "opportunity" and o["reason"] for o in opps["opportunities"])

        # a taker buy at the ask fills; a bid 5 ticks under the best bid rests
        placed = await call("create_order", ticker=ticker, outcome="yes", action="buy", count=2, price=rec["yes_ask"])
        assert placed["order"]["kind"] == "order" and placed["order"]["mode"] == "paper"
        assert placed["order"]["filled_count"] == "2.00" and placed["fills"][0]["kind"] == "fill"
        low = fmt_price(Price(parse_price(rec["yes_bid"]) - 500))
        resting = await call(
            "create_order",
            ticker=ticker,
            outcome="yes",
            action="buy",
            count="1.5",
            price=low,
            time_in_force="good_till_canceled",
            client_order_id="mcp-test-rest-1",
        )
        assert resting["order"]["status"] == "resting" and resting["order"]["client_order_id"] == "mcp-test-rest-1"
        orders = await call("get_orders", status="resting", ticker=ticker)
        assert [o["client_order_id"] for o in orders["orders"]] == ["mcp-test-rest-1"]
        cancelled = await call("cancel_order", order_id=orders["orders"][0]["order_id"])
        assert cancelled["reduced_by"] == "1.50"
        assert (await call("get_orders", status="resting"))["orders"] == []

        fills = await call("get_fills", ticker=ticker)
        assert sum(Decimal(f["count"]) for f in fills["fills"]) == 2
        positions = await call("get_positions")
        assert [(p["ticker"], p["outcome"], p["count"]) for p in positions["positions"]] == [(ticker, "yes", "2.00")]
        assert (await call("get_settlements"))["settlements"] == []

        metrics = await call("get_metrics")
        assert metrics["kind"] == "metrics" and Decimal(metrics["equity"]) < 100
        health = await call("health")
        assert health["trading_state"] == "ACTIVE" and {h["name"] for h in health["checks"]} >= {"journal"}

        feed = await call("fetch_rss_feed", url=feed_server.url("/feed.xml"), max_items=2)
        assert feed["format"] == "rss" and len(feed["items"]) == 2 and "untrusted" in feed["note"]

        # the order-management and venue tools, as tests/mcp/test_mcp_trader_tools.py runs them
        scenario = await run_scenario(c)
        check_scenario(scenario, service)
        called |= scenario["called"]

        limits = await call("tighten_limits", max_order_cost="4", max_daily_cost=40)
        assert limits["limits"]["max_order_cost"] == "4" and limits["changed"] == {
            "max_order_cost": "4",
            "max_daily_cost": "40",
        }
        halted = await call("halt", reason="test over")
        assert halted["state"] == "HALTED"
    assert called == set(TOOL_NAMES)


async def test_selling_yes_cheap_is_capped_as_buying_no(service: TradingService) -> None:
    """500 × $0.01 = $5 of YES notional is under the $10 cap; as NO bought at $0.99 it is $495."""
    ticker = liquid_market(service)["ticker"]
    async with Client(build_server(service)) as c:
        text = error_text(
            await c.call_tool(
                "create_order", {"ticker": ticker, "outcome": "yes", "action": "sell", "count": 500, "price": "0.01"}
            )
        )
        # the same size bought as YES at $0.01 costs $5 + fees and passes the gate; as IOC it dies unfilled,
        # which is the exchange's answer (a tool error too), not the gate's
        control = error_text(
            await c.call_tool(
                "create_order", {"ticker": ticker, "outcome": "yes", "action": "buy", "count": 500, "price": "0.01"}
            )
        )
    assert "RiskDenied" in text and "rule 'max-order-cost'" in text and "$495" in text
    assert control.startswith("Error executing tool create_order: OrderRejected: buy 500.00 YES")
    assert "did not execute (status canceled, filled 0)" in control and "RiskDenied" not in control
    denied = [r for r in service.journal.records(kind="denied") if r["rule"] == "max-order-cost"]
    assert len(denied) == 1 and denied[0]["ticker"] == ticker  # every refusal is journaled with its reason
    assert not [o for o in service.broker.orders() if o.side == "ask"]  # nothing reached the broker


async def test_daily_cap_and_halt_hold_for_agent_orders(service: TradingService) -> None:
    m = liquid_market(service)
    ticker, ask = m["ticker"], m["yes_ask"]
    async with Client(build_server(service)) as c:
        structured(await c.call_tool("tighten_limits", {"max_order_cost": "1", "max_daily_cost": "1"}))
        first = structured(
            await c.call_tool(
                "create_order", {"ticker": ticker, "outcome": "yes", "action": "buy", "count": 1, "price": ask}
            )
        )
        assert first["order"]["filled_count"] == "1.00"
        second = error_text(
            await c.call_tool(
                "create_order",
                {
                    "ticker": ticker,
                    "outcome": "yes",
                    "action": "buy",
                    "count": 1,
                    "price": ask,
                    "client_order_id": "b2",
                },
            )
        )
        assert "rule 'max-daily-cost'" in second

        structured(await c.call_tool("halt", {"reason": "enough"}))
        opening = error_text(
            await c.call_tool(
                "create_order", {"ticker": ticker, "outcome": "no", "action": "buy", "count": 2, "price": m["no_ask"]}
            )
        )
        assert "rule 'halted'" in opening
        # selling the YES contract held only reduces risk, so it passes while HALTED
        reducing = structured(
            await c.call_tool(
                "create_order",
                {"ticker": ticker, "outcome": "yes", "action": "sell", "count": 1, "price": m["yes_bid"]},
            )
        )
        assert reducing["order"]["action"] == "sell"
        profile = (await c.read_resource("kalashi://profile")).contents[0].text
    assert '"trading_state": "HALTED"' in profile and "MCP: enough" in profile


async def test_limits_only_tighten(service: TradingService) -> None:
    async with Client(build_server(service)) as c:
        structured(await c.call_tool("tighten_limits", {"max_order_cost": 5, "max_open_orders": 10}))
        looser = error_text(await c.call_tool("tighten_limits", {"max_order_cost": "6"}))
        nothing = error_text(await c.call_tool("tighten_limits", {}))
        negative = error_text(await c.call_tool("tighten_limits", {"max_order_cost": "-1"}))
        orphans_on = structured(await c.call_tool("tighten_limits", {"cancel_orphans": True}))  # off → on: tighter
        orphans_off = error_text(await c.call_tool("tighten_limits", {"cancel_orphans": False}))
        metrics = (await c.read_resource("kalashi://metrics/latest")).contents[0].text
    assert "ProfileError" in looser and "never loosened" in looser
    assert "at least one limit" in nothing
    assert "greater than or equal to 0" in negative
    assert orphans_on["limits"]["cancel_orphans"] == "true" and "would loosen" in orphans_off
    assert service.profile.risk.max_order_cost == Decimal("5") and service.profile.risk.max_open_orders == 10
    assert '"kind": "metrics"' in metrics


@pytest.mark.parametrize(
    ("args", "expect"),
    [
        ({"ticker": "KX-NOPE", "outcome": "yes", "action": "buy", "count": 1, "price": "0.50"}, "NotFound: no market"),
        ({"ticker": "../etc", "outcome": "yes", "action": "buy", "count": 1, "price": "0.50"}, "validation error"),
        ({"ticker": None, "outcome": "yes", "action": "buy", "count": 1, "price": "0.50"}, "ticker"),  # missing
        ({"outcome": "maybe", "action": "buy", "count": 1, "price": "0.50"}, "outcome"),
        ({"outcome": "yes", "action": "short", "count": 1, "price": "0.50"}, "action"),
        ({"outcome": "yes", "action": "buy", "count": "1.001", "price": "0.50"}, "2 decimal places"),
        ({"outcome": "yes", "action": "buy", "count": 0, "price": "0.50"}, "greater than 0"),
        ({"outcome": "yes", "action": "buy", "count": "NaN", "price": "0.50"}, "finite number"),
        ({"outcome": "yes", "action": "buy", "count": 1, "price": "1.00"}, "less than 1"),
        ({"outcome": "yes", "action": "buy", "count": 1, "price": "0.12345"}, "4 decimal places"),
        ({"outcome": "yes", "action": "buy", "count": 1, "price": "0.505"}, "not on"),  # off the cent grid
        ({"outcome": "yes", "action": "buy", "count": 1, "price": "0.50", "time_in_force": "gtd"}, "time_in_force"),
        (
            {"outcome": "yes", "action": "buy", "count": 1, "price": "0.50", "client_order_id": "x" * 65},
            "client_order_id",
        ),
    ],
)
async def test_bad_order_arguments_are_tool_errors(service: TradingService, args: dict[str, Any], expect: str) -> None:
    args = {k: v for k, v in {"ticker": liquid_market(service)["ticker"], **args}.items() if v is not None}
    async with Client(build_server(service)) as c:
        text = error_text(await c.call_tool("create_order", args))
    assert expect in text
    assert service.journal.intents() == []  # nothing was journaled, let alone sent


@pytest.mark.parametrize(
    ("tool", "args", "expect"),
    [
        ("get_market", {"ticker": "KX-NOPE"}, "NotFound"),
        ("get_market", {}, "ticker"),
        ("get_markets", {"limit": 0}, "greater than or equal to 1"),
        ("get_event", {"event_ticker": "KX-NOPE"}, "NotFound"),
        ("get_orderbook", {"ticker": "KX-NOPE"}, "NotFound"),
        ("get_orders", {"status": "lost"}, "status"),
        ("cancel_order", {"order_id": "nope-1"}, "NotFound"),
        ("analyze", {"fair": {"KX-A": 1.5}}, "less than 1"),
        ("scan", {"limit": "many"}, "valid integer"),
        ("halt", {"reason": ""}, "at least 1 character"),
        ("no_such_tool", {}, "Unknown tool"),
    ],
)
async def test_bad_arguments_on_reads(service: TradingService, tool: str, args: dict[str, Any], expect: str) -> None:
    async with Client(build_server(service)) as c:
        assert expect in error_text(await c.call_tool(tool, args))


async def test_duplicate_client_order_id_is_not_sent_twice(service: TradingService) -> None:
    m = liquid_market(service)
    args = {
        "ticker": m["ticker"],
        "outcome": "yes",
        "action": "buy",
        "count": 1,
        "price": m["yes_ask"],
        "client_order_id": "once-only",
    }
    async with Client(build_server(service)) as c:
        structured(await c.call_tool("create_order", args))
        again = error_text(await c.call_tool("create_order", args))
    assert "not sent" in again and "rule 'duplicate'" in again
    assert len([o for o in service.broker.orders() if o.client_order_id == "once-only"]) == 1


async def test_read_only_paper_server_refuses_orders(tmp_path: Path) -> None:
    svc = TradingService("default", source=SIM, journal_path=tmp_path / "j.sqlite", allow_trading=False)
    try:
        ticker = liquid_market(svc)["ticker"]
        async with Client(build_server(svc)) as c:
            text = error_text(
                await c.call_tool(
                    "create_order", {"ticker": ticker, "outcome": "yes", "action": "buy", "count": 1, "price": "0.50"}
                )
            )
            structured(await c.call_tool("halt", {}))  # braking is always allowed
        assert "ConsentError" in text and "--allow-trading" in text
        assert svc.journal.intents() == [] and svc.broker.orders() == []
    finally:
        svc.close()


class RealAccountStub:
    """Stands for a demo/live account opened without --allow-trading; touches no network.

    Any call other than the ones a refused order and a halt need fails the test.
    """

    mode = "demo"
    allow_trading = False

    def __init__(self) -> None:
        self.halts: list[str] = []
        self.read = self.commands = self.controls = self  # the service's parts: this stub plays all three

    def create_order(self, *a: Any, **kw: Any) -> Any:
        raise AssertionError("an order reached the account without --allow-trading")

    def halt(self, reason: str) -> dict[str, Any]:
        self.halts.append(reason)
        return {"state": "HALTED", "reason": reason, "cancelled": 0, "remaining_resting": 0, "error": ""}


async def test_real_account_without_allow_trading_refuses_orders_but_halts() -> None:
    stub = RealAccountStub()
    server = build_server(stub)  # type: ignore[arg-type]
    assert "create_order is refused" in (server.instructions or "")
    async with Client(server) as c:
        text = error_text(
            await c.call_tool(
                "create_order", {"ticker": "KXBTC-1", "outcome": "yes", "action": "buy", "count": 1, "price": "0.50"}
            )
        )
        structured(await c.call_tool("halt", {"reason": "stop"}))
    assert "ConsentError" in text and "--allow-trading" in text and "demo account" in text and "--demo" in text
    assert stub.halts == ["MCP: stop"]


async def test_positions_name_markets_the_journal_never_analysed(service: TradingService) -> None:
    # an agent's first order, on a market the loop never scanned: the journal has no title or group
    from kalashi_cli.stages.correlate import Grouper

    m = liquid_market(service)
    ticker = m["ticker"]
    assert ticker not in service.journal.market_meta()
    async with Client(build_server(service)) as c:
        structured(
            await c.call_tool(
                "create_order", {"ticker": ticker, "outcome": "no", "action": "buy", "count": 1, "price": m["no_ask"]}
            )
        )
        positions = structured(await c.call_tool("get_positions", {}))["positions"]
    assert [p["ticker"] for p in positions] == [ticker]
    assert m["title"] and positions[0]["title"] == m["title"]
    assert positions[0]["group"] == Grouper(service.profile).group(m["category"], m["series_ticker"], ticker)
    assert positions[0]["group"]  # at worst "series:…", never empty


def test_agent_orders_meet_the_concentration_caps_and_are_grouped(service: TradingService) -> None:
    """An agent's order skips correlate, so the gate applies its position/group/event caps itself."""
    import msgspec

    from kalashi_cli.errors import RiskDenied
    from kalashi_cli.stages.correlate import Grouper

    m = liquid_market(service)
    ticker = m["ticker"]
    placed = service.commands.create_order(ticker, "yes", "buy", "1", m["yes_ask"])
    assert placed and placed[0]["kind"] == "order"
    meta = service.journal.market_meta()[ticker]
    assert meta[4] == Grouper(service.profile).group(m["category"], m["series_ticker"], ticker) != "ungrouped"
    tight = msgspec.structs.replace(service.profile.correlate, max_position_pct=Decimal("0.005"))  # $0.50
    service.profile = msgspec.structs.replace(service.profile, correlate=tight)
    with pytest.raises(RiskDenied) as e:
        service.commands.create_order(ticker, "yes", "buy", "1", m["yes_ask"], client_order_id_="conc-2")
    assert "max-position" in (e.value.hint or "") and "concentration cap" in str(e.value)


async def test_get_metrics_and_the_dashboard_state_show_the_same_pnl(service: TradingService) -> None:
    """Issue 14: per-strategy P&L, fees and markouts, and how much of equity rests on marks, through MCP and the
    dashboard's state alike (one metrics stage over one valuation)."""
    for _ in range(8):
        service.run_iteration()
    async with Client(build_server(service)) as c:
        got = structured(await c.call_tool("get_metrics", {}))
    state = service.read.state()
    shown = state["metrics"]
    for key in (
        "trades",
        "realized_pnl",
        "unrealized_pnl",
        "equity",
        "equity_marked",
        "equity_settled",
        "per_strategy",
        "performance",
    ):
        assert got[key] == shown[key], key
    assert got["per_strategy"], "the loop traded"
    for s in got["per_strategy"].values():
        assert {"realized_pnl", "unrealized_pnl", "fees", "turnover", "markouts"} <= set(s)
        assert {"1m", "5m", "settlement", "fills"} <= set(s["markouts"])
    assert state["account"]["equity_marked"] == got["equity_marked"]
    assert Decimal(got["equity"]) == Decimal(got["equity_marked"]) + Decimal(got["equity_settled"])
