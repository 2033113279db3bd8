"""``kalashi sim-exchange``: a local Kalshi-compatible exchange over the matching engine.

It speaks Kalshi's REST API (``/trade-api/v2``) and WebSocket API (``/trade-api/ws/v2``) on
loopback, verifies RSA-PSS / Ed25519 request signatures against registered public keys, keeps
one account per key, enforces Kalshi's token-bucket rate limits, drives the engine from the
sim universe, and injects faults on demand. Our own Kalshi client pointed at it exercises the
live code path over real sockets (docs/sim-exchange.md).

Modules: ``exchange`` (the endpoints as methods), ``app`` (HTTP routes and the request gate),
``ws`` (WebSocket channels), ``serialize`` (domain → Kalshi JSON), ``market_driver`` (universe →
engine), ``catalog`` (listed markets/events/series), ``keys``, ``limits``, ``faults``,
``runner`` (uvicorn).
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
