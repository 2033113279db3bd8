"""One facade over the engine for the bridge and the MCP server: plain data in, plain data out.

Every write goes through the same risk gate and journaled submission as the CLI (an order
placed from the dashboard or by an AI agent is indistinguishable from one placed by
``kalashi order``). The loop runs in a background thread; one lock serialises iterations,
operator commands and reads, so a reader never sees half an iteration.

:class:`TradingService` (:mod:`.trading`) opens the account and runs the loop; its parts share one
:class:`~.account.Account`: ``service.read`` (:mod:`.read`, :mod:`.market_reads`) reads without
touching trading, ``service.commands`` (:mod:`.commands`) places and manages orders through the
risk gate, ``service.controls`` (:mod:`.controls`) are the operator's brakes and settings.
:mod:`.views` says how orders, percents and iterations are shown.
"""

from __future__ import annotations

from .account import Account, Listener, LoopStatus
from .commands import CANCEL_BATCH, OrderCommands
from .controls import OperatorControls, Progress
from .read import METRICS_BUDGET, METRICS_MIN_GAP_S, ReadModel
from .trading import TradingService
from .views import (
    EQUITY_POINTS,
    JOURNAL_VIEW,
    TOP_OPPORTUNITIES,
    decimal_text,
    iteration_record_from_row,
    matches,
    open_order_row,
    order_view,
    percent,
)

__all__ = [
    "CANCEL_BATCH",
    "EQUITY_POINTS",
    "JOURNAL_VIEW",
    "METRICS_BUDGET",
    "METRICS_MIN_GAP_S",
    "TOP_OPPORTUNITIES",
    "Account",
    "Listener",
    "LoopStatus",
    "OperatorControls",
    "OrderCommands",
    "Progress",
    "ReadModel",
    "TradingService",
    "decimal_text",
    "iteration_record_from_row",
    "matches",
    "open_order_row",
    "order_view",
    "percent",
]
