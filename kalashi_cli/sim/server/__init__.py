"""``kalashi sim-exchange``: a local Kalshi-compatible exchange over the matching engine.

It speaks Kalshi's REST API (``/trade-api/v2``) and WebSocket API (``/trade-api/ws/v2``) on
loopback, verifies RSA-PSS / Ed25519 request signatures against registered public keys, keeps
one account per key, enforces Kalshi's token-bucket rate limits, drives the engine from the
sim universe, and injects faults on demand. Our own Kalshi client pointed at it exercises the
live code path over real sockets (docs/sim-exchange.md).

Modules, in import order (each imports only modules above it; tests/simx/test_layers.py
checks there is no cycle):

* ``catalog`` (listed markets/events/series), ``serialize`` (domain → Kalshi JSON), ``params``
  (query parameters, Kalshi's error answer, cursors), ``clock`` (the market clock), ``ids``
  (UUIDs for engine ids), ``candles`` (minute buckets from the tape and books), ``keys``,
  ``limits``, ``faults``, ``market_driver`` (universe → engine);
* ``core`` (the shared state: engine, driver, clock, accounts, tape, caches);
* the resources over it: ``info``, ``markets``, ``events``, ``candle_api``, ``portfolio``,
  ``orders``, ``historical``; and ``ws`` (WebSocket channels);
* ``exchange`` (:class:`SimExchange`, the composition root), ``app`` (HTTP routes and the
  request gate), ``runner`` (uvicorn).
"""

from .exchange import ApiError, ExchangeConfig, Params, SimExchange, parse_balance
from .faults import FaultConfig, Faults
from .keys import DemoKey, KeyRing, generate_demo_key, keyring_from
from .limits import TIERS, RateLimits, tier_named
from .runner import SimExchangeServer

__all__ = [
    "TIERS",
    "ApiError",
    "DemoKey",
    "ExchangeConfig",
    "FaultConfig",
    "Faults",
    "KeyRing",
    "Params",
    "RateLimits",
    "SimExchange",
    "SimExchangeServer",
    "generate_demo_key",
    "keyring_from",
    "parse_balance",
    "tier_named",
]
