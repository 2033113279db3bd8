"""Fault injection for the simulator: everything a real exchange does to a client on a bad day.

All decisions come from seeded random streams, one per kind of decision (HTTP requests, lost
order answers, WebSocket messages), so the same seed and the same sequence of requests give the
same faults — a failing test can be replayed exactly.

================================  =================================================================
fault                              what the client sees
================================  =================================================================
``latency_ms`` + ``jitter_ms``     every answer is delayed by ``latency_ms + uniform(0, jitter_ms)``
``error_rate``                     a 500/502/503 with Kalshi's error body, nothing processed
``drop_rate``                      the connection is closed without an answer, nothing processed
``rate_limit_storm``               a 429 ``{"error": "too many requests"}``, nothing processed
``lose_order_responses``           an order **is created** in the engine, then its answer is lost:
                                   the connection drops or a 500 comes back (``lose_mode``) — the
                                   "accepted but the response is lost" case
``ws_disconnect_every``            a WebSocket is closed after every N messages sent on it
``ws_gap_rate``                    a sequenced WebSocket message skips one ``seq`` number
``pause_trading``                  ``trading_active: false``: creates and amends are refused
                                   (cancels still work), resting ``cancel_order_on_pause`` orders
                                   are cancelled
================================  =================================================================

HTTP faults apply to ``/trade-api/v2`` only, never to the ``/_sim`` control endpoints.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Literal

from ...errors import UsageError

LoseMode = Literal["drop", "error", "mixed"]
Action = Literal["ok", "drop", "error", "throttle"]

_RATES = ("error_rate", "drop_rate", "rate_limit_storm", "lose_order_responses", "ws_gap_rate")


@dataclass(frozen=True, slots=True)
class FaultConfig:
    """What to break, and how often (rates are probabilities per request or message)."""

    seed: int = 0
    latency_ms: int = 0
    jitter_ms: int = 0
    error_rate: float = 0.0
    drop_rate: float = 0.0
    rate_limit_storm: float = 0.0
    lose_order_responses: float = 0.0
    lose_mode: LoseMode = "mixed"
    ws_disconnect_every: int = 0
    ws_gap_rate: float = 0.0
    pause_trading: bool = False

    def __post_init__(self) -> None:
        for name in _RATES:
            v = getattr(self, name)
            if not 0.0 <= v <= 1.0:
                raise UsageError(f"fault {name} must be between 0 and 1, got {v}")
        for name in ("latency_ms", "jitter_ms", "ws_disconnect_every"):
            if getattr(self, name) < 0:
                raise UsageError(f"fault {name} must not be negative")
        if self.lose_mode not in ("drop", "error", "mixed"):
            raise UsageError(f"lose_mode must be drop, error or mixed, not {self.lose_mode!r}")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def updated(self, changes: dict[str, Any]) -> FaultConfig:
        """Return a copy with ``changes`` applied (the control endpoint's body).

        Raises:
            UsageError: an unknown field or a value of the wrong type or range.
        """
        known = {f.name: f for f in fields(self)}
        unknown = sorted(set(changes) - set(known))
        if unknown:
            raise UsageError(f"unknown fault setting(s): {', '.join(unknown)}", hint=f"known: {', '.join(known)}")
        clean: dict[str, Any] = {}
        for k, v in changes.items():
            current = getattr(self, k)
            if isinstance(current, bool):
                if not isinstance(v, bool):
                    raise UsageError(f"fault {k} must be true or false")
            elif isinstance(current, int):
                if isinstance(v, bool) or not isinstance(v, int):
                    raise UsageError(f"fault {k} must be a whole number")
            elif isinstance(current, float):
                if isinstance(v, bool) or not isinstance(v, int | float):
                    raise UsageError(f"fault {k} must be a number")
                v = float(v)
            elif not isinstance(v, str):
                raise UsageError(f"fault {k} must be a string")
            clean[k] = v
        return replace(self, **clean)


@dataclass(frozen=True, slots=True)
class RequestFault:
    """What to do to one HTTP request before it is processed."""

    delay_s: float
    action: Action
    status: int = 0  # for "error"


class Faults:
    """The active fault settings and their seeded random streams."""

    def __init__(self, config: FaultConfig | None = None) -> None:
        self.config = config or FaultConfig()
        self._reseed()
        self.counts: dict[str, int] = {
            "drop": 0,
            "error": 0,
            "throttle": 0,
            "lost_order": 0,
            "ws_disconnect": 0,
            "ws_gap": 0,
        }

    def _reseed(self) -> None:
        s = self.config.seed
        # separate streams: turning one fault on must not shift the draws of another
        self._http = random.Random(f"http:{s}")
        self._orders = random.Random(f"orders:{s}")
        self._ws = random.Random(f"ws:{s}")

    def configure(self, config: FaultConfig) -> None:
        """Adopt new settings; a new seed restarts the random streams."""
        reseed = config.seed != self.config.seed
        self.config = config
        if reseed:
            self._reseed()

    def reset(self) -> None:
        """Turn every fault off (keeps the seed) and restart the streams."""
        self.config = FaultConfig(seed=self.config.seed)
        self._reseed()

    @property
    def active(self) -> bool:
        c = self.config
        return bool(
            c.latency_ms
            or c.jitter_ms
            or c.error_rate
            or c.drop_rate
            or c.rate_limit_storm
            or c.lose_order_responses
            or c.ws_disconnect_every
            or c.ws_gap_rate
            or c.pause_trading
        )

    def for_request(self) -> RequestFault:
        """Decide the fate of one /trade-api request (one draw per kind, always, for determinism)."""
        c = self.config
        if not (c.latency_ms or c.jitter_ms or c.error_rate or c.drop_rate or c.rate_limit_storm):
            return _CLEAN
        r = self._http
        jitter, u_drop, u_err, u_429, u_status = r.random(), r.random(), r.random(), r.random(), r.random()
        delay = (c.latency_ms + jitter * c.jitter_ms) / 1000.0
        if u_drop < c.drop_rate:
            self.counts["drop"] += 1
            return RequestFault(delay, "drop")
        if u_err < c.error_rate:
            self.counts["error"] += 1
            return RequestFault(delay, "error", (500, 502, 503)[int(u_status * 3) % 3])
        if u_429 < c.rate_limit_storm:
            self.counts["throttle"] += 1
            return RequestFault(delay, "throttle")
        return RequestFault(delay, "ok")

    def lose_order_response(self) -> Literal["drop", "error"] | None:
        """After an order was created: lose its answer? Returns how, or None to answer normally."""
        c = self.config
        if not c.lose_order_responses:
            return None
        u, how = self._orders.random(), self._orders.random()
        if u >= c.lose_order_responses:
            return None
        self.counts["lost_order"] += 1
        if c.lose_mode == "mixed":
            return "drop" if how < 0.5 else "error"
        return c.lose_mode

    def ws_gap(self) -> bool:
        """Skip a seq number on this sequenced WebSocket message?"""
        if not self.config.ws_gap_rate:
            return False
        if self._ws.random() < self.config.ws_gap_rate:
            self.counts["ws_gap"] += 1
            return True
        return False

    def ws_disconnect_due(self, sent: int) -> bool:
        """Close a WebSocket that has now sent ``sent`` messages?"""
        n = self.config.ws_disconnect_every
        if n and sent and sent % n == 0:
            self.counts["ws_disconnect"] += 1
            return True
        return False


_CLEAN = RequestFault(0.0, "ok")
