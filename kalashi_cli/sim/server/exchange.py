"""The simulated exchange: the shared core plus one resource object per family of endpoints.

:class:`SimExchange` is the composition root. The state lives in :class:`~.core.ExchangeCore`;
each family of Kalshi endpoints is a small resource over it, and the HTTP layer (:mod:`.app`)
routes requests to them after authentication, rate limits and faults:

==================  ===========================================================================
attribute           endpoints
==================  ===========================================================================
``info``            ``/exchange/*``, ``/account/limits``, ``/account/endpoint_costs``
``market_data``     ``/markets``, ``/markets/{ticker}``, order books, ``/markets/trades``
``event_data``      ``/events…``, ``/series…``, ``/multivariate_event_collections…``
``candle_data``     market, batch, event and historical candlesticks
``historical``      ``/historical/*``
``portfolio``       ``/portfolio/*`` reads
``orders``          ``/portfolio/events/orders…`` writes, ``/portfolio/order_groups…``
``hub``             the WebSocket channels (:mod:`.ws`)
==================  ===========================================================================

Every resource method answers ``(status, json)`` or raises :class:`~.params.ApiError` carrying
Kalshi's error ``code`` and HTTP status.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from ...errors import UsageError
from ...money import Money
from .candle_api import CandleData
from .clock import wall_ms
from .core import ExchangeConfig, ExchangeCore
from .events import EventData
from .faults import Faults
from .historical import Historical
from .info import ExchangeInfo
from .keys import KeyRing
from .markets import MarketData
from .orders import Orders, parse_intent
from .params import ApiError, Params
from .portfolio import Portfolio
from .ws import Hub


class SimExchange(ExchangeCore):
    """Kalshi's REST and WebSocket API over the matching engine and the sim universe."""

    hub: Hub

    def __init__(
        self,
        config: ExchangeConfig,
        keys: KeyRing,
        faults: Faults | None = None,
        *,
        wall_clock: Callable[[], int] = wall_ms,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(config, keys, faults, wall_clock=wall_clock, monotonic=monotonic)
        self.hub = Hub(self)
        self.info = ExchangeInfo(self)
        self.market_data = MarketData(self)
        self.event_data = EventData(self)
        self.candle_data = CandleData(self)
        self.portfolio = Portfolio(self)
        self.orders = Orders(self)
        self.historical = Historical(self, self.market_data, self.portfolio)


def parse_balance(text: str) -> Money:
    """Parse ``--balance`` dollars (``1000``, ``250.50``) into money.

    Raises:
        UsageError: not a non-negative dollar amount.
    """
    from ...money import parse_money

    try:
        m = parse_money(text)
    except ValueError:
        raise UsageError(f"--balance {text!r} is not a dollar amount") from None
    if m < 0:
        raise UsageError("--balance must not be negative")
    return m


__all__ = ["ApiError", "ExchangeConfig", "Params", "SimExchange", "parse_balance", "parse_intent"]
