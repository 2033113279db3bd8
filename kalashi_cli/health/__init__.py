"""In-process health: the checks' vocabulary, the trading service's quick checks, the feed's repair.

A :class:`Check` is one named result (ok, degraded or failed, in plain words, with the facts
behind it); :class:`Repair` is one thing done to keep the system healthy. The service's
quick checks (:func:`service_checks`, what ``TradingService.read.health`` reports on the dashboard
and over MCP) and the WebSocket feed's repair (:mod:`kalashi_cli.health.feed`, which the
trading loop runs at every iteration) live here, below the service and the loop; ``kalashi
heal`` (:mod:`kalashi_cli.heal`) builds its supervisor and its out-of-process checks on them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..journal import Journal

OK, DEGRADED, FAILED = "ok", "degraded", "failed"
#: severity order; the overall status is the worst of the checks
SEVERITY: dict[str, int] = {OK: 0, DEGRADED: 1, FAILED: 2}


@dataclass(frozen=True, slots=True)
class Check:
    """One check's result. ``facts`` carries the numbers behind it (for status JSON and metrics)."""

    name: str
    status: str
    detail: str
    latency_ms: Decimal = Decimal(0)
    facts: Mapping[str, Any] = field(default_factory=dict, compare=False)

    def to_record(self) -> dict[str, Any]:
        return {
            "kind": "health",
            "v": 1,
            "name": self.name,
            "status": self.status,
            "detail": self.detail,
            "latency_ms": str(self.latency_ms),
        }

    def to_dict(self) -> dict[str, Any]:
        """The check for status JSON: the record's fields without kind/v, plus its facts."""
        out = {k: v for k, v in self.to_record().items() if k not in ("kind", "v")}
        if self.facts:
            out["facts"] = dict(self.facts)
        return out


def worst(statuses: Iterable[str]) -> str:
    """Return the most severe status (ok when there is none)."""
    return max(statuses, key=lambda s: SEVERITY.get(s, 2), default=OK)


def overall(checks: Iterable[Check]) -> str:
    """Return the overall status of a set of checks: the worst of them."""
    return worst(c.status for c in checks)


CheckResult = tuple[str, str] | tuple[str, str, Mapping[str, Any]]


def timed(name: str, fn: Callable[[], CheckResult]) -> Check:
    """Run one check, catching its failure as a FAILED result with the error in plain words."""
    t0 = time.perf_counter()
    facts: Mapping[str, Any] = {}
    try:
        res = fn()
        status, detail = res[0], res[1]
        if len(res) == 3:
            facts = res[2]
    except Exception as e:  # noqa: BLE001 - a check that blows up is a failed check
        status, detail = FAILED, f"{type(e).__name__}: {e}"
    return Check(name, status, detail, _ms_since(t0), facts)


def _ms_since(t0: float) -> Decimal:
    return Decimal(str(round((time.perf_counter() - t0) * 1000, 3)))


def not_applicable(name: str, why: str) -> Check:
    """A check that does not apply here (reported as ok, saying why)."""
    return Check(name, OK, f"not applicable ({why})", facts={"applicable": False})


def _wall_ms() -> int:
    return time.time_ns() // 1_000_000


def iso_ms(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def parse_iso_ms(text: str) -> int:
    """Parse an ISO time (``…Z`` or with an offset) to Unix milliseconds."""
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


def _age_text(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


@contextmanager
def _reading(path: Path) -> Iterator[Journal]:
    """The journal opened read-only (never created or migrated; one with no tables yet reads as empty).

    Raises:
        JournalError: it cannot be read, or kalashi will not read it as it is (newer, older, not a journal).
    """
    from ..journal import Journal

    jr = Journal(path, readonly=True)
    try:
        yield jr
    finally:
        jr.close()


@dataclass(frozen=True, slots=True)
class Repair:
    """One thing heal did (or tried) to keep the system healthy."""

    ts_ms: int
    action: str  # restart | kill-hung | give-up | reconcile | halt | resync
    target: str
    ok: bool
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "ts": iso_ms(self.ts_ms),
            "action": self.action,
            "target": self.target,
            "ok": self.ok,
            "detail": self.detail,
        }

    def to_record(self) -> dict[str, Any]:
        return {"kind": "repair", "v": 1, **self.to_dict()}

    def to_health(self) -> dict[str, Any]:
        """The ``health`` record (name ``repairs``) that shows this repair on the dashboard.

        ok when it worked, degraded when it did not, failed for a give-up.
        """
        status = FAILED if self.action == "give-up" else OK if self.ok else DEGRADED
        return {
            "kind": "health",
            "v": 1,
            "name": "repairs",
            "status": status,
            "detail": f"{self.action} {self.target}: {self.detail}",
            "latency_ms": None,
        }

    def journal(self, jr: Any) -> None:
        """Write this repair into a journal: event ``repair`` and its health record in ``records``.

        Raises:
            JournalError: the journal cannot be written.
        """
        jr.add_event(
            "repair",
            {"action": self.action, "target": self.target, "ok": self.ok, "detail": self.detail},
            ts_ms=self.ts_ms,
        )
        jr.add_records([self.to_health()], ts_ms=self.ts_ms)


def recent_repairs(path: Path, *, now_ms: Callable[[], int] = _wall_ms, window_s: float = 3600.0) -> Check:
    """Summarise ``kalashi heal``'s repairs recorded in the journal over the last hour.

    ok when none failed (saying what was repaired), degraded when a repair failed, failed
    when heal gave up on a process.
    """

    def run() -> CheckResult:
        if not path.exists():
            return OK, "no repairs (no journal yet)", {"repairs": 0}
        since = now_ms() - int(window_s * 1000)
        with _reading(path) as jr:
            rows = jr.events("repair", limit=1_000_000, since_ms=since)
        repairs = [e["detail"] | {"ts_ms": int(e["ts_ms"])} for e in reversed(rows)]
        facts = {"repairs": len(repairs)}
        if not repairs:
            return OK, f"no repairs in the last {_age_text(window_s)}", facts
        latest = repairs[-1]
        said = f"{latest.get('action', '?')} {latest.get('target', '')}: {latest.get('detail', '')}".strip()
        gave_up = [r for r in repairs if r.get("action") == "give-up"]
        if gave_up:
            g = gave_up[-1]
            return FAILED, f"heal gave up on {g.get('target')}: {g.get('detail')}", facts
        if any(not r.get("ok", True) for r in repairs):
            bad = [r for r in repairs if not r.get("ok", True)][-1]
            return DEGRADED, f"a repair failed: {bad.get('action')} {bad.get('target')}: {bad.get('detail')}", facts
        return OK, f"{len(repairs)} repair(s) in the last {_age_text(window_s)}; latest {said}", facts

    return timed("repairs", run)


def trading_state_status(state: str) -> str:
    """The health status of a trading state, as :func:`trading_state` (``kalashi heal``) reports it.

    ACTIVE ok, REDUCING degraded, HALTED failed: the dashboard's checks and records say the same
    word as ``heal --once`` (both once said different things for HALTED).
    """
    return OK if state == "ACTIVE" else FAILED if state == "HALTED" else DEGRADED


BUCKET_LOW = 0.10


def bucket_headroom_check(limiters: Mapping[str, Any]) -> Check:
    """In-process headroom: how full each client's read and write token buckets are right now.

    ``limiters`` maps a label (``source``, ``broker``) to a
    :class:`~kalashi_cli.kalshi.ratelimit.RateLimiter`. A bucket under 10 % is degraded: the
    next calls wait on it. Never failed — an empty bucket only slows calls down.
    """
    t0 = time.perf_counter()
    parts, low = [], []
    facts: dict[str, Any] = {}
    for label, lim in limiters.items():
        for name in ("read", "write"):
            b = lim.bucket(name)
            fill = b.tokens / b.capacity if b.capacity else 0.0
            facts[f"{label}_{name}_fill"] = round(fill, 4)
            parts.append(f"{label} {name} {fill:.0%} of {b.capacity:g}")
            if fill < BUCKET_LOW:
                low.append(f"{label} {name}")
    detail = "token buckets: " + ", ".join(parts)
    if low:
        return Check(
            "rate_limits", DEGRADED, f"{detail} — {', '.join(low)} nearly empty: calls wait", _ms_since(t0), facts
        )
    return Check("rate_limits", OK, detail, _ms_since(t0), facts)


def feed_of(source: Any) -> Any:
    """The WebSocket feed of a Kalshi source in WS mode (None for every other source)."""
    import sys

    mod = sys.modules.get("kalashi_cli.kalshi.source")  # not imported: cannot be a KalshiSource
    if mod is None or not isinstance(source, mod.KalshiSource):
        return None
    return source.feed
