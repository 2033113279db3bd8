"""The exchange's market clock: wall-clock pace by default, accelerated only when asked.

``speed`` is market seconds per wall second. At ``1`` (the default) the clock *is* the wall
clock: a client that sets ``expiration_time`` from its own clock sees it accepted, and markets
settle on a human time scale. ``--speed 40`` runs market time 40× faster (the universe steps
every 10 market seconds, so every 0.25 s of wall time). ``0`` stops the market: it moves only
on ``POST /_sim/step``, while the clock keeps following the wall clock.

The clock never runs backwards, and never behind the time of the market step on show: manual
steps (``POST /_sim/step``) move it forward to the step's time, and it runs on from there at
``speed``.
"""

from __future__ import annotations

import time
from collections.abc import Callable


def wall_ms() -> int:
    return time.time_ns() // 1_000_000


class MarketClock:
    """Market time in Unix milliseconds, running at ``speed`` × the wall clock from an anchor."""

    def __init__(self, speed: float = 1.0, *, wall: Callable[[], int] = wall_ms) -> None:
        if speed < 0:
            raise ValueError(f"speed must not be negative, got {speed}")
        self._wall = wall
        self.speed = speed
        now = wall()
        self._anchor_wall = now
        self._anchor_market = now
        self._floor = now  # never answer earlier than this (monotonic, and the step on show)

    def wall(self) -> int:
        """The real wall clock (signatures are checked against it)."""
        return self._wall()

    def now_ms(self) -> int:
        w = self._wall()
        rate = self.speed if self.speed > 0 else 1.0  # a stopped market still has a clock
        t = self._anchor_market + int((w - self._anchor_wall) * rate)
        if t < self._floor:
            return self._floor
        self._floor = t
        return t

    def set_speed(self, speed: float) -> None:
        """Change the pace from now on (the reading does not jump)."""
        if speed < 0:
            raise ValueError(f"speed must not be negative, got {speed}")
        self._rebase(self.now_ms())
        self.speed = speed

    def at_least(self, ms: int) -> None:
        """Move the clock forward to ``ms`` if it is behind (a manual step showed a later market)."""
        if ms > self.now_ms():
            self._rebase(ms)

    def wall_seconds_until(self, ms: int) -> float:
        """Wall seconds until the clock reads ``ms`` at the current speed (inf when stopped)."""
        if self.speed <= 0:
            return float("inf")
        return max(0.0, (ms - self.now_ms()) / 1000.0 / self.speed)

    def _rebase(self, market_ms: int) -> None:
        self._anchor_wall = self._wall()
        self._anchor_market = market_ms
        self._floor = max(self._floor, market_ms)

    def describe(self) -> str:
        """What a person should know about the clock in force (the ready line, --help)."""
        if self.speed == 0:
            return "market stopped (steps only on POST /_sim/step); the clock follows the wall clock"
        if self.speed == 1:
            return "wall-clock pace (the market clock is the wall clock)"
        return f"accelerated {self.speed:g}x: market time runs {self.speed:g} times faster than the wall clock"


__all__ = ["MarketClock", "wall_ms"]
