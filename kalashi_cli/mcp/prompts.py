"""Resources, resource templates and prompts.

Resources (JSON): ``kalashi://profile`` (the active profile, limits as tightened, mode, whether
orders are allowed, the trading state), ``kalashi://metrics/latest`` (the metrics record now);
templates ``kalashi://market/{ticker}`` (one market record) and ``kalashi://event/{ticker}`` (one
event with its markets), both with ``data_source``.

Prompts start a task an agent does with the tools, with today's figures already in them:
``review_positions`` (the account, its positions and limits; asks for a review and proposals,
placing nothing unconfirmed), ``find_arbitrage`` (one event's markets; asks whether buying every
outcome, or every NO, pays after fees) and ``market_brief`` (one market's book, recent trades and
candles).
"""

from __future__ import annotations

import re
from typing import Any

import orjson
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError
from mcp.shared.exceptions import MCPError
from mcp.types import INVALID_PARAMS

from ..domain import OrderStatus
from ..errors import KalashiError
from . import summaries as say
from .registry import data_source, describe, profile_view

_TICKER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_RULES = (
    "Prices are dollars per contract as decimal strings; a NO price q is a YES price 1 - q; fees are charged on "
    "every fill. Do not place, amend or cancel any order without my explicit confirmation of that exact "
    "order; every order still passes the risk gate."
)


def _ticker(value: str, what: str) -> str:
    """Raises: ValueError, naming what is wrong with it."""
    if not _TICKER.match(value):
        raise ValueError(f"{what} {value!r} is not a Kalshi ticker (letters, digits, '.', '_', '-')")
    return value


def _refuse(message: str) -> MCPError:
    """A prompt's refusal as the client sees it (the SDK would hide any other exception's text)."""
    return MCPError(INVALID_PARAMS, message)


def _prompt_ticker(value: str, what: str) -> str:
    try:
        return _ticker(value, what)
    except ValueError as e:
        raise _refuse(f"UsageError: {e}") from None


def _read(fn: Any, *args: Any) -> str:
    """A resource's JSON text; kalashi's errors become resource errors the client can show."""
    try:
        return orjson.dumps(fn(*args), option=orjson.OPT_INDENT_2).decode()
    except KalashiError as e:
        raise ResourceError(describe(e)) from None


def register(server: MCPServer, service: Any) -> None:
    """Add the resources, resource templates and prompts to ``server``."""
    register_resources(server, service)
    register_prompts(server, service)


def register_resources(server: MCPServer, service: Any) -> None:
    """The resources (profile, latest metrics) and the resource templates (one market, one event), as JSON."""

    @server.resource(
        "kalashi://profile",
        name="profile",
        title="Active risk profile",
        mime_type="application/json",
        description="The active profile (risk limits as tightened in this session), mode and whether "
        "orders are allowed.",
    )
    def profile_resource() -> str:
        return orjson.dumps(profile_view(service), option=orjson.OPT_INDENT_2).decode()

    @server.resource(
        "kalashi://metrics/latest",
        name="metrics",
        title="Latest metrics",
        mime_type="application/json",
        description="The metrics record computed from the journal now.",
    )
    def metrics_resource() -> str:
        return orjson.dumps(service.read.metrics(), option=orjson.OPT_INDENT_2).decode()

    @server.resource(
        "kalashi://market/{ticker}",
        name="market",
        title="One market",
        mime_type="application/json",
        description="One market record (top of book, depth, tick grid, fees) with data_source.",
    )
    def market_resource(ticker: str) -> str:
        try:
            _ticker(ticker, "market ticker")
        except ValueError as e:
            raise ResourceError(f"UsageError: {e}") from None
        return _read(lambda: {**service.read.market(ticker), "data_source": data_source(service)})

    @server.resource(
        "kalashi://event/{ticker}",
        name="event",
        title="One event",
        mime_type="application/json",
        description="One event (exclusivity flags) with its markets, with data_source.",
    )
    def event_resource(ticker: str) -> str:
        try:
            _ticker(ticker, "event ticker")
        except ValueError as e:
            raise ResourceError(f"UsageError: {e}") from None
        return _read(lambda: {**service.read.event(ticker), "data_source": data_source(service)})


def register_prompts(server: MCPServer, service: Any) -> None:
    """The prompts, each a task for the agent with today's figures in it and the same rules for orders."""

    @server.prompt(
        name="review_positions",
        title="Review my positions",
        description="Review the account's open positions and resting orders against the market now and "
        "the risk limits; propose what to keep, trim or close.",
    )
    def review_positions() -> str:
        balance = service.read.balance()
        positions = {"positions": service.read.positions()}
        resting = service.read.orders(status=OrderStatus.RESTING)
        orders = {"count": len(resting), "orders": resting}
        limits = service.read.risk_limits()
        state, why = service.read.trading_state()
        return (
            f"Review my {service.mode} Kalshi account with the kalashi tools.\n\n"
            f"Now: {say.balance(balance)}. Trading state {state}{': ' + why if why else ''}.\n"
            f"{say.positions(positions)}\n{say.orders(orders)}\n"
            f"Risk limits: max_order_cost ${limits.get('max_order_cost')}, max_daily_cost "
            f"${limits.get('max_daily_cost')}, daily_loss_limit ${limits.get('daily_loss_limit')}.\n\n"
            "For each position: read its market (get_market, get_orderbook; get_trades and get_candlesticks for "
            "how it moved), compare the mark with what I paid, and say whether to keep, trim or close it and at "
            "what price, with the fees. Check resting orders (get_queue_position) and whether any should be "
            "amended or cancelled. Flag concentration in one event or group. Finish with a short table of "
            f"proposals. {_RULES}"
        )

    @server.prompt(
        name="find_arbitrage",
        title="Find arbitrage in an event",
        description="Check one event's markets for a basket that pays after fees (all YES or all NO of "
        "a mutually exclusive event).",
    )
    def find_arbitrage(event_ticker: str) -> str:
        _prompt_ticker(event_ticker, "event ticker")
        try:
            ev = service.read.event(event_ticker)
        except KalashiError as e:
            raise _refuse(describe(e)) from None
        ds = data_source(service)
        return (
            f"Look for arbitrage in Kalshi event {event_ticker} with the kalashi tools.\n\n"
            f"{say.event(ev)}\n{ds['note']}\n\n"
            "If the outcomes are mutually exclusive and exhaustive, exactly one market settles YES: buying one YES "
            "in every market at the asks pays $1 per basket, and buying one NO in every market pays $(n - 1). "
            "Compute each basket's cost at the current asks (get_orderbook for the size at each price), add the "
            "fees, and say whether it pays and for how many contracts before the book runs out. If the event is not "
            "exhaustive or not exclusive, say why a basket is not riskless. Compare with analyze (its arbitrage "
            f"strategy) and explain any difference. {_RULES}"
        )

    @server.prompt(
        name="market_brief",
        title="Brief me on a market",
        description="Summarise one market: the book, recent trades, how the price moved, and what the "
        "spread and fees mean for a trade.",
    )
    def market_brief(ticker: str) -> str:
        _prompt_ticker(ticker, "market ticker")
        try:
            m = service.read.market(ticker)
        except KalashiError as e:
            raise _refuse(describe(e)) from None
        return (
            f"Brief me on Kalshi market {ticker} with the kalashi tools.\n\n{say.market(m)}\n"
            f"{data_source(service)['note']}\n\n"
            "Read the book (get_orderbook), the last trades (get_trades) and the hourly candles (get_candlesticks), "
            "then tell me in a few lines: what the market implies, how it moved, how deep the book is, and what a "
            f"small buy or sell would cost with fees. {_RULES}"
        )
