"""``kalashi heal`` as a library: which checks run, their verdict, and the repairs they lead to.

* :func:`collect_checks` runs every check that applies to one trading setup (mode, source,
  journal, optional bridge/MCP/Redis) — this is ``kalashi heal --once``;
* :class:`HealthMonitor` repeats it on a schedule next to a
  :class:`~kalashi_cli.heal.supervisor.Supervisor`, turns findings into repairs, journals
  every repair (event ``repair``), publishes a status snapshot for the status server, and
  notifies a webhook when the overall state changes.

Repairs (none ever edits code or configuration)::

    process died / hung            restart with backoff within the budget (supervisor)
    restart budget spent           give up; if it was the loop: halt trading
    markets blocked by orders      restart the supervised loop (it reconciles before trading);
    with unknown outcome, or a     with no loop running: reconcile in-process; with a loop heal
    failed reconciliation          does not supervise: leave it (it reconciles every N iterations)
    journal damaged, disk full     halt trading (a journal that cannot record answers is unsafe);
                                   a journal SQLite cannot open at all: the halt file instead
    stale WebSocket books          resync — in the loop's own process (heal.feed.repair_source_feed)

Exit codes of ``--once`` (beyond the frozen error codes 0–9, 130)::

    0   healthy     every check ok
    10  degraded    at least one check degraded, none failed
    11  failed      at least one check failed
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..health import DEGRADED, FAILED, OK, Check, Repair, iso_ms, not_applicable, overall
from .checks import (
    LOOP_ADVICE,
    disk_space,
    http_alive,
    journal_drift,
    journal_integrity,
    journal_writable,
    loop_heartbeat,
    recent_iterations,
    redis_ping,
    trading_state,
)
from .supervisor import Child, Supervisor

if TYPE_CHECKING:
    import httpx

    from ..kalshi.env import KalshiEnv
    from ..profile import Profile
    from .webhook import Notifier

log = logging.getLogger("kalashi.heal")

EXIT_HEALTHY, EXIT_DEGRADED, EXIT_FAILED = 0, 10, 11
HEAL_EXIT_CODES: dict[int, str] = {
    EXIT_HEALTHY: "healthy: every check ok",
    EXIT_DEGRADED: "degraded: at least one check degraded, none failed",
    EXIT_FAILED: "failed: at least one check failed",
}
EXCHANGE_CHECKS = ("exchange", "maintenance", "credentials", "clock_skew", "rate_limits")
SIM = "paper on the built-in sim"
#: where each check appears in tables and status (probes such as bridge/mcp sit after loop)
CHECK_ORDER: dict[str, float] = {
    n: float(i)
    for i, n in enumerate(
        [
            *EXCHANGE_CHECKS,
            "ws_feed",
            "loop",
            "journal_writable",
            "journal_integrity",
            "drift",
            "trading_state",
            "disk_space",
            "redis",
        ]
    )
}
REPAIRS_KEPT = 100
SUPERVISED_LOOP_ADVICE = "heal stops and restarts it (see process.loop and heal-loop.log)"


def exit_code(status: str) -> int:
    """Map an overall status to ``heal --once``'s exit code (0, 10, 11)."""
    return {OK: EXIT_HEALTHY, DEGRADED: EXIT_DEGRADED}.get(status, EXIT_FAILED)


def _wall_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True, slots=True)
class HealConfig:
    """One trading setup to check: its journal, mode, source and optional servers."""

    journal_path: Path
    profile: Profile
    mode: str = "paper"
    source: str = "sim"
    loop_interval_s: float = 10.0
    watch_loop: bool = True
    hang_factor: float = 3.0
    hang_grace_s: float = 30.0
    probes: tuple[tuple[str, str], ...] = ()  # (check name, URL): the bridge's ports, the MCP endpoint
    redis_url: str | None = None
    environ: Mapping[str, str] = field(default_factory=dict)
    data_dir: Path | None = None  # disk space and the halt file; default: the journal's directory
    halt_file: Path | None = None
    loop_supervised: bool = False  # heal itself runs the loop (the loop check's advice differs)

    @property
    def disk_path(self) -> Path:
        return self.data_dir if self.data_dir is not None else self.journal_path.parent


def exchange_env_for(mode: str, source: str, environ: Mapping[str, str] | None = None) -> KalshiEnv | None:
    """The Kalshi environment this setup talks to, or None for paper on the sim or a replay.

    ``KALASHI_EXCHANGE_URL`` points demo (mode or ``kalshi-demo`` source) at a Kalshi-compatible
    server such as ``kalashi sim-exchange``, exactly as the demo broker and source do.
    """
    from ..kalshi.env import DEMO, PROD, custom_env, env_override

    def demo() -> KalshiEnv:
        return env_override(environ or {}) or DEMO

    if mode == "live":
        return PROD
    if mode == "demo":
        return demo()
    head = source.split(",", 1)[0]
    if head == "kalshi":
        return PROD
    if head == "kalshi-demo":
        return demo()
    if head.startswith("kalshi:"):
        return custom_env(head[len("kalshi:") :])
    return None


def source_of(journal_path: Path, default: str = "sim", *, position: bool = True) -> str:
    """The source the journal's loop last traded on.

    With ``position=False`` a sim source loses its ``step=`` (heal's ``--source`` default: a
    run-loop started on it resumes after the journal's last step by itself).
    """
    rows = recent_iterations(journal_path, 1)
    src = str(rows[-1]["source"]) if rows and rows[-1].get("source") else default
    if not position and src.startswith("sim:"):
        kept = [p for p in src[4:].split(",") if p and not p.startswith("step=")]
        src = "sim:" + ",".join(kept) if kept else "sim"
    return src


def collect_checks(
    cfg: HealConfig,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    now_ms: Callable[[], int] = _wall_ms,
    wall: Callable[[], float] = time.time,
    loop_since_ms: int | None = None,
    skip: frozenset[str] = frozenset(),
) -> list[Check]:
    """Run every check that applies to ``cfg`` once (``skip`` leaves named checks out)."""
    rows = recent_iterations(cfg.journal_path, 20)
    checks: list[Check] = []
    if not set(EXCHANGE_CHECKS) <= skip:
        env = exchange_env_for(cfg.mode, cfg.source, cfg.environ)
        if env is None:
            why = SIM if cfg.source.startswith("sim") else "paper on a recording"
            checks.extend(not_applicable(n, why) for n in EXCHANGE_CHECKS)
        else:
            from .probes import exchange_checks

            checks.extend(
                exchange_checks(
                    env, mode=cfg.mode, environ=cfg.environ, transport=transport, wall=wall, iterations=rows
                )
            )
    from .probes import ws_mode_check

    checks.append(ws_mode_check(cfg.source, rows, mode=cfg.mode))
    if cfg.watch_loop:
        advice = SUPERVISED_LOOP_ADVICE if cfg.loop_supervised else LOOP_ADVICE
        checks.append(
            loop_heartbeat(
                cfg.journal_path,
                interval_s=cfg.loop_interval_s,
                now_ms=now_ms,
                since_ms=loop_since_ms,
                hang_factor=cfg.hang_factor,
                grace_s=cfg.hang_grace_s,
                advice=advice,
            )
        )
    checks.extend(http_alive(name, url) for name, url in cfg.probes)
    checks.append(journal_writable(cfg.journal_path))
    if "journal_integrity" not in skip:
        checks.append(journal_integrity(cfg.journal_path))
    checks.append(journal_drift(cfg.journal_path, max_failures=cfg.profile.risk.max_reconcile_failures, now_ms=now_ms))
    checks.append(trading_state(cfg.journal_path, halt_file=cfg.halt_file))
    checks.append(disk_space(cfg.disk_path))
    if cfg.redis_url:
        checks.append(redis_ping(cfg.redis_url))
    return [c for c in checks if c.name not in skip]


# -- repairs that need the trading stack ---------------------------------------------------


def halt_trading(cfg: HealConfig, reason: str, *, loop_running: bool) -> tuple[bool, str]:
    """Halt trading for ``cfg``'s journal; return (done, what was done).

    With no loop running (or on a real exchange, where a second client is harmless) this is
    ``kalashi halt``: HALTED persisted, resting orders cancelled. While a paper loop runs,
    the paper exchange lives in that process, so only HALTED is persisted (its risk gate
    stops new entries at the next iteration). A journal that cannot be written gets the halt
    file instead, which every loop on this data dir obeys.
    """
    from ..errors import JournalError, KalashiError
    from ..journal import Journal
    from ..stages.risk import halt_file as default_halt_file
    from ..stages.risk import set_halted

    def by_file(why: str) -> tuple[bool, str]:
        hf = cfg.halt_file if cfg.halt_file is not None else default_halt_file()
        try:
            from ..files import open_private

            with open_private(hf, "wb") as f:
                f.write(f"halted by kalashi heal at {iso_ms(_wall_ms())}: {reason}\n".encode())
        except OSError as e:
            return False, f"could not halt: {why}, and the halt file {hf} could not be written ({e.strerror})"
        return True, f"{why}; created the halt file {hf} (every loop on this data dir stops new entries)"

    try:
        jr = Journal(cfg.journal_path, mode=cfg.mode)
    except JournalError as e:
        return by_file(f"the journal cannot be opened ({e.message})")
    try:
        if loop_running and cfg.mode == "paper":
            set_halted(jr, reason)
            return True, (
                "HALTED in the journal; the running loop's risk gate blocks new entries from its next "
                "iteration (resting paper orders stay until `kalashi halt`)"
            )
        from ..context import open_broker, open_source
        from ..safety import halt

        try:
            src = open_source(source_of(cfg.journal_path, cfg.source))
            broker = open_broker(cfg.mode, src, jr, cfg.profile)
        except KalashiError as e:
            set_halted(jr, reason)
            return True, f"HALTED in the journal; could not reach the broker to cancel resting orders ({e})"
        try:
            res = halt(jr, broker, reason)
        finally:
            broker.close()
            src.close()
        return True, (
            f"HALTED; {res.cancelled} resting order(s) cancelled, {res.remaining_resting} left"
            + (f" ({res.error})" if res.error else "")
        )
    except JournalError as e:
        return by_file(f"the journal cannot be written ({e.message})")
    finally:
        jr.close()


def reconcile_journal(cfg: HealConfig) -> tuple[bool, str]:
    """Reconcile ``cfg``'s journal with its broker now (only when no loop is running)."""
    from ..context import open_broker, open_source
    from ..errors import KalashiError
    from ..journal import Journal
    from ..profile import money
    from ..reconcile import reconcile

    try:
        jr = Journal(cfg.journal_path, mode=cfg.mode)
    except KalashiError as e:
        return False, f"cannot open the journal: {e}"
    try:
        src = open_source(source_of(cfg.journal_path, cfg.source))
        broker = open_broker(cfg.mode, src, jr, cfg.profile)
        try:
            rep = reconcile(
                jr,
                broker,
                starting_balance=money(cfg.profile.paper.starting_balance),
                cancel_orphans=cfg.profile.risk.cancel_orphans,
            )
        finally:
            broker.close()
            src.close()
    except KalashiError as e:
        return False, f"reconciliation could not run: {e}"
    finally:
        jr.close()
    if not rep.ok:
        return False, f"reconciliation failed: {rep.error}"
    return True, (
        f"reconciled: {len(rep.resolved)} unknown outcome(s) decided, {rep.fills_added} fill(s) added, "
        f"{rep.orders_updated} order(s) updated, drift in {sorted(rep.position_drift) or 'no position'}"
    )


# -- the monitor ----------------------------------------------------------------------------


class HealthMonitor:
    """Check on a schedule, repair, journal repairs, publish status, notify on changes."""

    def __init__(
        self,
        cfg: HealConfig,
        *,
        supervisor: Supervisor | None = None,
        notifier: Notifier | None = None,
        sink: Callable[[dict[str, Any]], None] | None = None,
        check_every_s: float = 10.0,
        slow_every_s: float = 60.0,
        integrity_every_s: float = 300.0,
        reconcile_cooldown_s: float = 300.0,
        collect: Callable[..., list[Check]] = collect_checks,
        halt: Callable[[str, bool], tuple[bool, str]] | None = None,
        reconcile: Callable[[], tuple[bool, str]] | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_ms: Callable[[], int] = _wall_ms,
    ) -> None:
        if supervisor is not None and "loop" in supervisor.children and not cfg.loop_supervised:
            cfg = replace(cfg, loop_supervised=True)
        self.cfg = cfg
        self.supervisor = supervisor
        self.notifier = notifier
        self.sink = sink or (lambda rec: None)
        self.check_every_s = check_every_s
        self.slow_every_s = slow_every_s
        self.integrity_every_s = integrity_every_s
        self.reconcile_cooldown_s = reconcile_cooldown_s
        self._collect = collect
        self._halt_fn = halt or (lambda reason, running: halt_trading(cfg, reason, loop_running=running))
        self._reconcile_fn = reconcile or (lambda: reconcile_journal(cfg))
        self.clock = clock
        self.wall_ms = wall_ms
        self.repairs: deque[Repair] = deque(maxlen=REPAIRS_KEPT)
        self.repair_counts: Counter[str] = Counter()
        self.checks: list[Check] = []
        self.status: str | None = None
        self.since_ms = wall_ms()
        self.rounds = 0
        self._halted_for: set[str] = set()
        self._cached: dict[str, tuple[float, Check]] = {}  # slow checks: name → (taken at, result)
        self._next_round_at = float("-inf")
        self._last_reconcile_at = float("-inf")
        self._round_loop: Check | None = None  # this round's loop check (before it is published)
        self._lock = threading.Lock()
        self._snapshot: dict[str, Any] = self._build_snapshot()
        if supervisor is not None:
            supervisor.on_repair = self.record_repair
            supervisor.on_give_up = self._on_give_up

    # -- the schedule -----------------------------------------------------------------------
    def tick(self) -> None:
        """One step: supervise processes; run a check round when one is due."""
        if self.supervisor is not None:
            self.supervisor.poll()
        if self.clock() >= self._next_round_at:
            self.round()
        elif self.supervisor is not None:
            self._publish()  # process states change between rounds

    def run(self, stop: threading.Event, *, poll_s: float = 0.5) -> None:
        """Tick until ``stop`` is set (the supervisor's children are started first)."""
        if self.supervisor is not None:
            self.supervisor.start()
            # give the children a moment to create the journal before judging it ("no journal yet")
            self._next_round_at = self.clock() + min(self.check_every_s, 5.0)
            self._publish()
        while not stop.is_set():
            try:
                self.tick()
            except Exception:  # a bug in one step must not stop the supervision of the others
                log.exception("heal step failed; carrying on")
            stop.wait(poll_s)

    def round(self) -> list[Check]:
        """Run the checks once, repair what they found, publish, and notify on a change."""
        now = self.clock()
        self._next_round_at = now + self.check_every_s
        skip = {
            name
            for name, (at, _) in self._cached.items()
            if now - at < (self.integrity_every_s if name == "journal_integrity" else self.slow_every_s)
        }
        since = None
        if self.supervisor is not None and self.supervisor.running("loop"):
            since = self.supervisor.children["loop"].started_ms
        fresh = self._collect(self.cfg, now_ms=self.wall_ms, loop_since_ms=since, skip=frozenset(skip))
        for c in fresh:
            # slow checks are kept between rounds, but "no journal yet" is news only until it exists
            if c.name in EXCHANGE_CHECKS or (c.name == "journal_integrity" and c.facts.get("exists", True)):
                self._cached[c.name] = (now, c)
        checks = self._merge(fresh, skip)
        if self.supervisor is not None:
            checks.extend(self.supervisor.checks())
        self._repair(checks)
        if self.supervisor is not None:  # repairs may have changed process states
            checks = [c for c in checks if not c.name.startswith("process.")] + self.supervisor.checks()
        self._report(checks)
        self.rounds += 1
        return checks

    def _merge(self, fresh: list[Check], skip: set[str]) -> list[Check]:
        """Fresh results plus the cached slow ones, in the usual order."""
        cached = [self._cached[n][1] for n in skip if n in self._cached]
        return sorted([*fresh, *cached], key=lambda c: CHECK_ORDER.get(c.name, CHECK_ORDER["loop"] + 0.5))

    # -- repairs ------------------------------------------------------------------------------
    def _repair(self, checks: Sequence[Check]) -> None:
        by = {c.name: c for c in checks}
        self._round_loop = by.get("loop")
        running = self._loop_running(self._round_loop)
        drift = by.get("drift")
        if drift is not None and drift.facts.get("needs_reconcile"):
            self._reconcile(drift, running)
        for name in ("journal_integrity", "disk_space"):
            c = by.get(name)
            if c is not None and c.status == FAILED:
                self._halt(f"kalashi heal: {name.replace('_', ' ')} failed — {c.detail}", cause=name)

    def _loop_running(self, loop: Check | None = None) -> bool:
        """Whether a run-loop may be running on the journal (then no second paper broker is opened)."""
        if self.supervisor is not None and "loop" in self.supervisor.children:
            return self.supervisor.running("loop")
        if not self.cfg.watch_loop:
            return False  # --no-loop: no run-loop belongs on this journal
        if loop is None:
            loop = next((c for c in self.checks if c.name == "loop"), None)
        return loop is None or loop.status != FAILED  # unknown counts as running: the safe side

    def _reconcile(self, drift: Check, loop_running: bool) -> None:
        now = self.clock()
        if now - self._last_reconcile_at < self.reconcile_cooldown_s:
            return
        self._last_reconcile_at = now
        why = f"reconcile before trading again ({drift.detail})"
        sup = self.supervisor
        if sup is not None and "loop" in sup.children:
            if sup.running("loop"):
                sup.restart_now("loop", why, action="reconcile")  # records its own repair
            return  # a loop in backoff reconciles when it starts; one given up is halted
        if loop_running:
            self.record_repair(
                Repair(
                    self.wall_ms(),
                    "reconcile",
                    "journal",
                    False,
                    "skipped: a run-loop that heal does not supervise is running on this journal; "
                    f"it reconciles every {self.cfg.profile.loop.reconcile_every} iterations",
                )
            )
            return
        ok, detail = self._reconcile_fn()
        self.record_repair(Repair(self.wall_ms(), "reconcile", "journal", ok, detail))

    def _halt(self, reason: str, *, cause: str) -> None:
        if cause in self._halted_for:
            return
        self._halted_for.add(cause)
        ok, detail = self._halt_fn(reason, self._loop_running(self._round_loop))
        self.record_repair(Repair(self.wall_ms(), "halt", "trading", ok, f"{reason}: {detail}"))

    def _on_give_up(self, child: Child, repair: Repair) -> None:
        if self.notifier is not None:
            self.notifier.notify(
                {
                    "event": "gave_up",
                    "target": child.name,
                    "detail": repair.detail,
                    "ts": iso_ms(repair.ts_ms),
                    "checks": [c.to_dict() for c in self.checks],
                }
            )
        if child.spec.critical:
            self._halt(f"kalashi heal gave up on {child.name}: {child.last_reason}", cause=f"gave-up:{child.name}")

    def record_repair(self, r: Repair) -> None:
        """Keep a repair for the status endpoint, journal it (event ``repair``), and emit it."""
        self.repairs.appendleft(r)
        self.repair_counts[r.action] += 1
        self._journal_event(r)
        self.sink(r.to_record())
        self._publish()

    def _journal_event(self, r: Repair) -> None:
        self._journal_write(f"repair {r.action} {r.target}", r.journal)

    def _journal_write(self, what: str, write: Callable[[Any], object]) -> None:
        """Write to the journal (a short connection of our own); log, never raise, when it fails.

        Health records go into the journal's ``records`` table, which a dashboard attached to
        this journal (``serve-bridge --attach``) streams live: that is how repairs and heal's
        overall state reach the page.
        """
        from ..errors import KalashiError
        from ..journal import Journal

        try:
            jr = Journal(self.cfg.journal_path, mode=self.cfg.mode)
        except KalashiError as e:
            log.error("could not journal %s: %s", what, e)
            return
        try:
            write(jr)
        except KalashiError as e:
            log.error("could not journal %s: %s", what, e)
        finally:
            jr.close()

    # -- reporting ----------------------------------------------------------------------------
    def _report(self, checks: list[Check]) -> None:
        before = {c.name: c.status for c in self.checks}
        new_status = overall(checks)
        for c in checks:
            if before.get(c.name) != c.status:
                self.sink(c.to_record())
        old = self.status
        self.checks = checks
        if new_status != old:
            self.status = new_status
            self.since_ms = self.wall_ms()
            self.sink(
                {
                    "kind": "health",
                    "v": 1,
                    "name": "overall",
                    "status": new_status,
                    "detail": _summary(checks),
                    "latency_ms": None,
                }
            )
            if self.cfg.journal_path.exists():  # never create a journal just to say so
                rec = {
                    "kind": "health",
                    "v": 1,
                    "name": "heal",
                    "status": new_status,
                    "detail": f"kalashi heal: {_summary(checks)}",
                    "latency_ms": None,
                }
                self._journal_write("heal's status", lambda jr: jr.add_records([rec]))
            if self.notifier is not None and (old is not None or new_status != OK):
                self.notifier.notify(
                    {
                        "event": "health_changed",
                        "from": old or "unknown",
                        "to": new_status,
                        "ts": iso_ms(self.since_ms),
                        "checks": [c.to_dict() for c in checks],
                    }
                )
        self._publish()

    def _publish(self) -> None:
        snap = self._build_snapshot()
        with self._lock:
            self._snapshot = snap

    def _build_snapshot(self) -> dict[str, Any]:
        status = self.status or "unknown"
        out: dict[str, Any] = {
            "v": 1,
            "status": status,
            "exit_code": exit_code(status) if self.status else None,
            "summary": _summary(self.checks) if self.checks else "no check has run yet",
            "since": iso_ms(self.since_ms),
            "updated": iso_ms(self.wall_ms()),
            "rounds": self.rounds,
            "mode": self.cfg.mode,
            "source": self.cfg.source,
            "journal": str(self.cfg.journal_path),
            "checks": [c.to_dict() for c in self.checks],
            "repairs": [r.to_dict() for r in self.repairs],
            "repair_counts": dict(self.repair_counts),
            "processes": self.supervisor.processes() if self.supervisor is not None else [],
        }
        return out

    def _webhook_view(self) -> dict[str, Any] | None:
        if self.notifier is None:
            return None
        from urllib.parse import urlsplit

        # the host only: webhook paths often carry a secret token
        return {
            "host": urlsplit(self.notifier.url).hostname,
            "sent": self.notifier.sent,
            "failed": self.notifier.failed,
            "last_error": self.notifier.last_error or None,
        }

    def snapshot(self) -> dict[str, Any]:
        """The latest status (what GET /api/v1/status serves)."""
        with self._lock:
            snap = self._snapshot
        hook = self._webhook_view()
        return snap if hook is None else {**snap, "webhook": hook}


def _summary(checks: Sequence[Check]) -> str:
    bad = [c for c in checks if c.status != OK]
    if not bad:
        return f"all {len(checks)} checks ok"
    worst = sorted(bad, key=lambda c: c.status != FAILED)
    return "; ".join(f"{c.name} {c.status}: {c.detail}" for c in worst[:3]) + (" …" if len(bad) > 3 else "")
