"""The matching engine: realistic paper fills in-process, and the core of ``kalashi sim-exchange``.

One engine holds many markets (Kalshi's single YES book each, fed by market data) and many
accounts (cash, netted positions, orders, fills, settlements). See :class:`MatchingEngine`
for the API and docs/paper-fills.md for the fill model.

Modules: ``book`` (levels and queues), ``orders`` (order state table), ``accounts`` (cash,
netting, collateral, order groups), ``events``, ``state`` (the shared state and steps: clock,
fills, resting orders), ``taker`` (an order arriving: checks and the taker walk), ``feed``
(markets and market data, maker fills from public trades), ``changes`` (cancel, decrease,
amend), ``groups`` (order groups), ``core`` (the public API: order entry, accounts,
settlement), ``portfolio`` (reads, audit), ``restore`` (rebuilding from a journal).
"""

from .core import MatchingEngine, OrderGroupView, QueuePosition
from .events import (
    BookDelta,
    EngineEvent,
    EventLog,
    FillEvent,
    MarketStatus,
    OrderFailed,
    OrderUpdated,
    PositionChanged,
    Settled,
    TradePrinted,
)
from .orders import IllegalTransition

__all__ = [
    "BookDelta",
    "EngineEvent",
    "EventLog",
    "FillEvent",
    "IllegalTransition",
    "MarketStatus",
    "MatchingEngine",
    "OrderFailed",
    "OrderGroupView",
    "OrderUpdated",
    "PositionChanged",
    "QueuePosition",
    "Settled",
    "TradePrinted",
]
