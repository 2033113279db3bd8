"""The account's tools: balance, positions, orders, fills, settlements, queue, limits — and every write.

Reads go through the service's read model, writes through its order commands and operator
controls (:mod:`kalashi_cli.service`): an order (alone or in a batch) and an amend pass the one
risk gate and are journaled before they are sent; decreases and cancels only lower risk and are
always allowed; limits only tighten; halt always works. The registry checks the HTTP bearer
token before any of them runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

from ..errors import KalashiError, UsageError
from ..venue import page
from . import summaries as say
from .inputs import (
    Action,
    ClientOrderId,
    Count,
    Cursor,
    Dollars,
    Fraction,
    LeftCount,
    OrderId,
    OrderSpec,
    Outcome,
    PageSize,
    PositiveInt,
    PostOnly,
    Price,
    Reason,
    ReduceOnly,
    Ticker,
    TimeInForce,
    YesPrice,
    text,
)
from .outputs import (
    AccountLimitsOut,
    AmendOut,
    BalanceOut,
    BatchCancelOut,
    BatchOut,
    CancelAllOut,
    CancelOut,
    DecreaseOut,
    FillsOut,
    HaltOut,
    LimitsOut,
    OrderOut,
    OrderResultOut,
    OrdersOut,
    PositionsOut,
    QueueOut,
    SettlementsOut,
)
from .registry import consent_error, describe, order_outcome_error

if TYPE_CHECKING:
    from .registry import Registry

#: orders per batch (Kalshi's V2 batch limit)
BATCH_MAX = 20


def _paged(key: str, rows: list[dict[str, Any]], limit: int, cursor: str | None) -> dict[str, Any]:
    chunk, nxt = page(rows, limit, cursor)
    return {"count": len(chunk), key: chunk, "cursor": nxt}


def _order_args(spec: OrderSpec) -> dict[str, Any]:
    """``OrderCommands.create_order``'s arguments for one order (decimals as written)."""
    return {
        "ticker": spec.ticker,
        "outcome": spec.outcome,
        "action": spec.action,
        "count": text(spec.count),
        "price": text(spec.price),
        "time_in_force": spec.time_in_force,
        "post_only": spec.post_only,
        "reduce_only": spec.reduce_only,
        "client_order_id_": spec.client_order_id,
    }


def _placed(recs: list[dict[str, Any]]) -> dict[str, Any]:
    """``{order, fills}`` from an order's records. Raises: ToolError (the executor refused to send it)."""
    orders = [r for r in recs if r.get("kind") == "order"]
    if not orders:
        d = next((r for r in recs if r.get("kind") == "denied"), None)
        why = f"{d['reason']} — rule '{d['rule']}'" if d else "no order record came back"
        raise ToolError(f"RiskDenied: the order was not sent: {why}")
    return {"order": orders[-1], "fills": [r for r in recs if r.get("kind") == "fill"]}


def _batch_item(index: int, answer: list[dict[str, Any]] | KalashiError) -> dict[str, Any]:
    """One order's result in a batch: its order record and fills, or the error that stopped it."""
    item: dict[str, Any] = {"index": index, "ok": False, "order": None, "fills": [], "error": None}
    try:
        if isinstance(answer, KalashiError):
            raise ToolError(describe(answer))
        item.update(_placed(answer))
        item["error"] = order_outcome_error(item["order"])
        item["ok"] = item["error"] is None
    except ToolError as e:
        item["error"] = str(e)
    return item


def register(reg: Registry, service: Any) -> None:
    """Add the account's tools to ``reg``: its reads, then the order tools, then the limits and brakes."""
    register_reads(reg, service.read)
    register_orders(reg, service)
    register_amend(reg, service)
    register_reductions(reg, service.commands)
    register_brakes(reg, service)


def register_reads(reg: Registry, read: Any) -> None:
    """The account's read tools, over the service's read model (nothing here can reach the order path)."""
    tool = reg.tool

    @tool(summary=say.balance, title="Account balance")
    def get_balance() -> BalanceOut:
        """Return the account's balance, cash, equity and starting balance (mode says paper/demo/live)."""
        return read.balance()  # type: ignore[no-any-return]

    @tool(summary=say.positions, title="Open positions")
    def get_positions() -> PositionsOut:
        """List open positions with average price, mark, cost and P&L."""
        return {"positions": read.positions()}  # type: ignore[return-value]

    @tool(summary=say.orders, title="Orders")
    def get_orders(
        status: Annotated[
            Literal["resting", "executed", "canceled"] | None, Field(description="only orders in this state")
        ] = None,
        ticker: Annotated[Ticker | None, Field(description="only this market's orders")] = None,
        limit: PageSize = 20,
        cursor: Cursor | None = None,
    ) -> OrdersOut:
        """List the account's orders at the broker, newest first, optionally by status or market."""
        rows = list(reversed(read.orders(status=status, ticker=ticker)))
        return _paged("orders", rows, limit, cursor)  # type: ignore[return-value]

    @tool(summary=say.one_order, title="One order")
    def get_order(order_id: OrderId) -> OrderOut:
        """Return one order (any status) as get_orders lists it."""
        return {"order": read.order(order_id)}  # type: ignore[return-value]

    @tool(summary=say.fills, title="Fills")
    def get_fills(
        ticker: Annotated[Ticker | None, Field(description="only this market's fills")] = None,
        limit: PageSize = 20,
        cursor: Cursor | None = None,
    ) -> FillsOut:
        """List the account's fills, newest first, optionally for one market."""
        rows = list(reversed(read.fills(limit=10**9, ticker=ticker)))
        return _paged("fills", rows, limit, cursor)  # type: ignore[return-value]

    @tool(summary=say.settlements, title="Settlements")
    def get_settlements(limit: PageSize = 20, cursor: Cursor | None = None) -> SettlementsOut:
        """List settled markets the account held, with payout revenue, newest first."""
        return _paged("settlements", list(reversed(read.settlements())), limit, cursor)  # type: ignore[return-value]

    @tool(summary=say.queue, title="Queue position")
    def get_queue_position(
        order_id: Annotated[OrderId | None, Field(description="one resting order")] = None,
        ticker: Annotated[Ticker | None, Field(description="every resting order in this market")] = None,
    ) -> QueueOut:
        """Return how many contracts rest ahead of a resting order at its price (of one order, one market, or all)."""
        rows = read.queue_positions(order_id=order_id, ticker=ticker)
        return {"count": len(rows), "queue_positions": rows}  # type: ignore[return-value]

    @tool(summary=say.account_limits, title="Account limits")
    def get_account_limits() -> AccountLimitsOut:
        """Return the exchange's API rate limits for this key (none on paper) and the risk gate's limits."""
        return read.account_limits()  # type: ignore[no-any-return]


def register_orders(reg: Registry, service: Any) -> None:
    """The order tools that place new orders (alone or in a batch), each through the risk gate."""
    tool = reg.tool
    writes: dict[str, Any] = {"read_only": False}
    commands = service.commands

    @tool(
        summary=say.order_result, destructive=True, open_world=service.mode != "paper", title="Place an order", **writes
    )
    def create_order(
        ctx: Context,
        ticker: Ticker,
        outcome: Outcome,
        action: Action,
        count: Count,
        price: Price,
        time_in_force: TimeInForce = "immediate_or_cancel",
        post_only: PostOnly = False,
        reduce_only: ReduceOnly = False,
        client_order_id: ClientOrderId | None = None,
    ) -> OrderResultOut:
        """Place one limit order through the risk gate; return its order record and any fills.

        Selling YES at p is buying NO at 1 - p and is capped as such. Refusals (risk gate, trading not
        allowed, bad price grid) are errors that say why and which rule, and so is an order the exchange
        rejected or that ended without reaching the book or a fill (an immediate_or_cancel order that
        found nothing to trade against). Without client_order_id, the same order again within a minute
        counts as a retry and is not sent twice; pass a new client_order_id to place a deliberate second one.
        """
        if not service.allow_trading:
            raise consent_error(service)
        spec = OrderSpec(
            ticker=ticker,
            outcome=outcome,
            action=action,
            count=count,
            price=price,
            time_in_force=time_in_force,
            post_only=post_only,
            reduce_only=reduce_only,
            client_order_id=client_order_id,
        )
        placed = _placed(commands.create_order(**_order_args(spec)))
        failed = order_outcome_error(placed["order"])
        if failed:
            raise ToolError(failed)
        return placed  # type: ignore[return-value]

    @tool(
        summary=say.batch, destructive=True, open_world=service.mode != "paper", title="Place several orders", **writes
    )
    def batch_create_orders(
        ctx: Context,
        orders: Annotated[
            list[OrderSpec],
            Field(
                min_length=1,
                max_length=BATCH_MAX,
                description=f"1 to {BATCH_MAX} orders, each with create_order's fields; placed in this order",
            ),
        ],
    ) -> BatchOut:
        """Place several limit orders, each through the risk gate exactly like create_order.

        Each order is checked against the limits as they stand after the ones before it, and gets its own
        result: its order record, or the error that stopped it (a refusal does not stop the others).
        """
        if not service.allow_trading:
            raise consent_error(service)
        answers = commands.batch_create_orders([_order_args(spec) for spec in orders])
        results = [_batch_item(i, answer) for i, answer in enumerate(answers)]
        ok = sum(1 for r in results if r["ok"])
        return {"placed": ok, "failed": len(results) - ok, "results": results}  # type: ignore[return-value]


def register_amend(reg: Registry, service: Any) -> None:
    """The amend tool: a changed order adds risk like a new one, so it passes the risk gate too."""
    tool = reg.tool
    writes: dict[str, Any] = {"read_only": False}
    commands = service.commands

    @tool(summary=say.amended, destructive=True, open_world=service.mode != "paper", title="Amend an order", **writes)
    def amend_order(
        ctx: Context,
        order_id: OrderId,
        yes_price: Annotated[
            YesPrice | None,
            Field(
                description="the new YES price in dollars (orders "
                "are listed on the YES book), on the "
                'tick grid, e.g. "0.44"'
            ),
        ] = None,
        count: Annotated[
            Count | None, Field(description="the new TOTAL: contracts already filled plus those that should rest")
        ] = None,
        client_order_id: Annotated[
            ClientOrderId | None,
            Field(description="the order's new client_order_id (default: one derived from the change)"),
        ] = None,
    ) -> AmendOut:
        """Change a resting order's YES price and/or total size; it passes the risk gate like a new order.

        A new price or a larger size sends the order to the back of the queue (a new price may trade at
        once); a smaller size keeps its place — decrease_order does only that. The order is renamed to a
        new client_order_id, journaled before the amend is sent.
        """
        if not service.allow_trading:
            raise consent_error(service)
        return commands.amend_order(  # type: ignore[no-any-return]
            order_id,
            yes_price=text(yes_price) if yes_price is not None else None,
            count=text(count) if count is not None else None,
            client_order_id_=client_order_id,
        )


def register_reductions(reg: Registry, commands: Any) -> None:
    """The order tools that only lower risk, so always allowed: decrease and cancel."""
    tool = reg.tool
    writes: dict[str, Any] = {"read_only": False}

    @tool(summary=say.decreased, title="Decrease an order", **writes)
    def decrease_order(
        ctx: Context,
        order_id: OrderId,
        reduce_by: Annotated[Count | None, Field(description="take this many contracts off")] = None,
        reduce_to: Annotated[
            LeftCount | None, Field(description="leave this many contracts resting (0 cancels the order)")
        ] = None,
    ) -> DecreaseOut:
        """Shrink a resting order, keeping its place in the queue (always allowed: it only lowers risk).

        Give exactly one of reduce_by and reduce_to.
        """
        if (reduce_by is None) == (reduce_to is None):
            raise UsageError("give exactly one of reduce_by and reduce_to")
        return commands.decrease_order(  # type: ignore[no-any-return]
            order_id,
            reduce_by=text(reduce_by) if reduce_by is not None else None,
            reduce_to=text(reduce_to) if reduce_to is not None else None,
        )

    @tool(summary=say.cancelled, title="Cancel an order", **writes)
    def cancel_order(ctx: Context, order_id: OrderId) -> CancelOut:
        """Cancel one resting order (always allowed: cancelling only reduces risk)."""
        return commands.cancel_order(order_id)  # type: ignore[no-any-return]

    @tool(summary=say.batch_cancelled, title="Cancel several orders", **writes)
    def batch_cancel_orders(
        ctx: Context,
        order_ids: Annotated[
            list[OrderId], Field(min_length=1, max_length=BATCH_MAX, description=f"1 to {BATCH_MAX} order ids")
        ],
    ) -> BatchCancelOut:
        """Cancel several resting orders at once (always allowed); each gets its own result."""
        results = commands.batch_cancel_orders(list(dict.fromkeys(order_ids)))
        ok = sum(1 for r in results if "reduced_by" in r)
        return {"cancelled": ok, "failed": len(results) - ok, "results": results}  # type: ignore[return-value]

    @tool(summary=say.cancelled_all, title="Cancel all orders", **writes)
    def cancel_all_orders(
        ctx: Context,
        ticker: Annotated[
            Ticker | None, Field(description="only this market's resting orders (default: every market)")
        ] = None,
    ) -> CancelAllOut:
        """Cancel every resting order, or every one in one market (always allowed)."""
        return commands.cancel_all_orders(ticker)  # type: ignore[no-any-return]


def register_brakes(reg: Registry, service: Any) -> None:
    """The limits and brakes: tighten the risk gate's limits, halt trading (both always allowed)."""
    tool = reg.tool
    writes: dict[str, Any] = {"read_only": False}
    controls = service.controls

    @tool(summary=say.limits, title="Tighten risk limits", **writes)
    def tighten_limits(
        ctx: Context,
        max_order_cost: Annotated[Dollars | None, Field(description="most one order may cost, in dollars")] = None,
        max_daily_cost: Annotated[
            Dollars | None, Field(description="most the day's taker orders may cost, in dollars")
        ] = None,
        daily_loss_limit: Annotated[
            Dollars | None, Field(description="halt after losing this much in a day, in dollars")
        ] = None,
        reducing_drawdown_pct: Annotated[
            Fraction | None, Field(description="reduce only past this drawdown, e.g. 0.1 = 10 %")
        ] = None,
        max_drawdown_pct: Annotated[
            Fraction | None, Field(description="halt past this drawdown, e.g. 0.2 = 20 %")
        ] = None,
        max_consecutive_losses: Annotated[
            PositiveInt | None, Field(description="reduce only after this many losses in a row")
        ] = None,
        max_open_orders: Annotated[PositiveInt | None, Field(description="most orders resting at once")] = None,
        max_reconcile_failures: Annotated[
            PositiveInt | None, Field(description="halt after this many failed reconciliations in a row")
        ] = None,
        cancel_orphans: Annotated[
            bool | None, Field(description="true: cancel resting orders the journal does not know")
        ] = None,
    ) -> LimitsOut:
        """Tighten the risk gate's limits; any change that would loosen a limit is refused.

        Tightened limits are kept in the journal: they hold after a restart, until a human clears them
        (`kalashi resume --confirm --clear-limits`).
        """
        given = {
            k: v
            for k, v in (
                ("max_order_cost", max_order_cost),
                ("max_daily_cost", max_daily_cost),
                ("daily_loss_limit", daily_loss_limit),
                ("reducing_drawdown_pct", reducing_drawdown_pct),
                ("max_drawdown_pct", max_drawdown_pct),
                ("max_consecutive_losses", max_consecutive_losses),
                ("max_open_orders", max_open_orders),
                ("max_reconcile_failures", max_reconcile_failures),
                ("cancel_orphans", cancel_orphans),
            )
            if v is not None
        }
        if not given:
            raise UsageError("give at least one limit to tighten", hint="e.g. max_order_cost=5")
        changed = controls.tighten(**given)
        return {"changed": changed, "limits": service.read.risk_limits()}  # type: ignore[return-value]

    @tool(summary=say.halted, title="Halt trading", **writes)
    def halt(ctx: Context, reason: Reason = "halted by an AI assistant over MCP") -> HaltOut:
        """Halt trading now (always allowed): resting orders are cancelled, only reducing orders pass afterwards.

        The halt is kept in the journal; only a human can resume (`kalashi resume --confirm`).
        """
        return controls.halt(f"MCP: {reason}")  # type: ignore[no-any-return]
