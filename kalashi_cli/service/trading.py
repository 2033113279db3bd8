"""The trading service: opens the account, runs the loop in the background, and holds its read model and commands."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from ..context import check_venue, journal_for, open_broker, open_source, require_consent, trader_locks, venue_source
from ..journal import default_journal_path
from ..loop import IterationResult, TradingLoop
from ..profile import Profile, load_profile
from ..react import Reactor, change_feed
from .account import Account, Listener, LoopStatus
from .commands import OrderCommands
from .controls import OperatorControls
from .read import ReadModel


class TradingService:
    """The engine as a service: loop control here; reads, order commands and operator controls in its parts.

    * :attr:`read` (:class:`~kalashi_cli.service.read.ReadModel`) — every read, no effect on trading;
    * :attr:`commands` (:class:`~kalashi_cli.service.commands.OrderCommands`) — orders, through the
      one risk gate;
    * :attr:`controls` (:class:`~kalashi_cli.service.controls.OperatorControls`) — halt, flatten,
      resume, profile, limits.

    All three share one :class:`~kalashi_cli.service.account.Account` (profile, journal, source,
    broker, loop, lock, the records' fan-out) that this service opens and closes.
    """

    def __init__(
        self,
        profile: str | Profile = "default",
        *,
        mode: str = "paper",
        source: str | None = None,
        journal_path: Path | None = None,
        interval: float | None = None,
        allow_trading: bool = True,
        limit: int | None = None,
        allow_foreign_source: bool = False,
        react: bool = False,
    ) -> None:
        """Open the account: consent, the trader locks (when it may trade), journal, source, broker.

        ``source`` defaults to the venue traded (:func:`~kalashi_cli.context.venue_source`); on
        demo/live any other source is refused unless ``allow_foreign_source``. ``react`` runs the
        loop in event-driven mode (:mod:`kalashi_cli.react`).

        Raises:
            ConsentError: demo/live consent missing (before any file is created).
            UsageError: a foreign source without ``allow_foreign_source``; ``react`` with a source
                that cannot push book changes.
            JournalError: another process trades this journal or account, or it cannot be opened.
        """
        profile_ = load_profile(profile) if isinstance(profile, str) else profile
        env = require_consent(mode, profile_)  # before any file: a refused --live creates no journal
        spec = source if source is not None else venue_source(mode)
        check_venue(mode, spec, allow_foreign=allow_foreign_source)
        path = journal_path or default_journal_path(mode)
        # one trading process per journal and account; a read-only server (an agent that may not
        # trade) takes none, so it can watch an account a loop trades
        self._locks = trader_locks(mode, path, env) if allow_trading else None
        try:
            self.journal = journal_for(mode, path)
            try:
                self.source = open_source(spec, profile_, streaming=True)
                try:
                    self.broker = open_broker(mode, self.source, self.journal, profile_)
                except BaseException:
                    self.source.close()
                    raise
            except BaseException:
                self.journal.close()
                raise
        except BaseException:
            if self._locks is not None:
                self._locks.release()
            raise
        self.mode = mode
        self.allow_trading = allow_trading
        self.account = Account(
            profile_,
            profile if isinstance(profile, str) else profile_.name,
            mode=mode,
            allow_trading=allow_trading,
            journal=self.journal,
            source=self.source,
            broker=self.broker,
        )
        self.account.profile = self.account.with_stored_limits(profile_)
        self.interval = float(self.profile.loop.interval_seconds) if interval is None else interval
        self._lock = self.account.lock
        self._last_metrics: dict[str, Any] | None = self.journal.latest_metrics()
        self.loop = self.account.loop = TradingLoop(
            self.profile, self.source, self.broker, self.journal, sink=self.account.on_record, limit=limit
        )
        self.reactor: Reactor | None = None
        if react:  # event-driven mode: react to book changes between iterations (kalashi_cli.react)
            try:
                self.reactor = Reactor(self.loop, change_feed(self.source))
            except BaseException:
                self.broker.close()
                self.source.close()
                self.journal.close()
                if self._locks is not None:
                    self._locks.release()
                raise
        self._thread: threading.Thread | None = None
        self._paused = threading.Event()
        self.started_ms = int(time.time() * 1000)
        self.read = ReadModel(self.account, self.loop_status)
        self.commands = OrderCommands(self.account)
        self.controls = OperatorControls(self.account, self.read)

    @property
    def profile(self) -> Profile:
        """The profile trading now (``controls.set_profile`` switches it, ``controls.tighten`` tightens it)."""
        return self.account.profile

    @profile.setter
    def profile(self, profile: Profile) -> None:
        self.account.profile = profile

    @property
    def profile_name(self) -> str:
        return self.account.profile_name

    # -- records fan-out --------------------------------------------------------------------
    def subscribe(self, fn: Listener) -> Callable[[], None]:
        """Receive every record the loop and the controls produce; returns an unsubscribe."""
        return self.account.subscribe(fn)

    def locked(self) -> AbstractContextManager[Any]:
        """Hold the service lock: no iteration or command runs meanwhile (for consistent snapshots)."""
        return self._lock

    # -- loop control -------------------------------------------------------------------------
    def start(self, iterations: int | None = None, *, clear_halt: bool = False) -> LoopStatus:
        """Start the loop in the background (or un-pause it); ``clear_halt`` also leaves HALTED.

        Raises:
            UsageError: ``clear_halt`` while the halt file exists.
            RiskDenied: ``clear_halt`` while the risk limit that halted trading still holds.
        """
        with self._lock:
            self.account.metrics_stale = True
            if clear_halt:
                self.controls.clear_halt()
            self._paused.clear()
            if self._thread is None or not self._thread.is_alive():
                self.loop.stop_event.clear()
                self._thread = threading.Thread(target=self._run, args=(iterations,), name="kalashi-loop", daemon=True)
                self._thread.start()
        return self.loop_status()

    def _run(self, iterations: int | None) -> None:
        done = 0
        while not self.loop.stop_event.is_set() and (iterations is None or done < iterations):
            if self._paused.is_set():
                self.loop.stop_event.wait(0.05)
                continue
            t0 = time.monotonic()
            try:
                with self._lock:
                    if self._paused.is_set() or self.loop.stop_event.is_set():
                        continue  # paused or stopped while waiting for the lock: not one more iteration
                    self.run_iteration()
                self.account.last_error = ""
            except Exception as e:  # noqa: BLE001 - the loop reports and carries on; heal watches it
                self.account.last_error = f"{type(e).__name__}: {e}"
                self.account.publish(
                    {"kind": "health", "v": 1, "name": "loop", "status": "failed", "detail": self.account.last_error}
                )
            done += 1
            left = self.interval - (time.monotonic() - t0)
            if self.reactor is not None and left > 0:
                # reactions hold the lock one at a time, so readers get it between them
                self.reactor.idle(left, paused=self._paused, lock=self._lock)
                continue
            # always yield a moment, even at interval 0: a reader waiting for the lock (the
            # bridge's state, an MCP tool) gets it between two iterations instead of starving
            self.loop.stop_event.wait(max(left, 0.002))
        if done and not self.loop.stop_event.is_set():
            # the loop ran out of iterations by itself: the last state may carry metrics up to
            # METRICS_MIN_GAP_S old and no command will follow, so say the final ones
            try:
                with self._lock:
                    self.account.metrics_stale = True
                    final = self.read.state_metrics(self.loop.portfolio())
                self.account.publish(final)
            except Exception:  # noqa: BLE001 - only the dashboard's last figures are at stake
                pass

    def run_iteration(self) -> IterationResult:
        with self._lock:
            res = self.loop.run_iteration()
            # the loop journals a metrics snapshot every few iterations; listeners see it as a record
            latest = self.journal.latest_metrics()
            if latest is not None and latest != self._last_metrics:
                self._last_metrics = latest
                # just computed by the loop over this iteration's portfolio: the freshest there is
                self.read.adopt_metrics(latest)
                self.account.publish(latest)
            return res

    def pause(self, *, wait: bool = False) -> LoopStatus:
        """Pause after the current iteration; with ``wait``, return only once it has finished."""
        self._paused.set()
        self.account.metrics_stale = True
        if wait:
            with self._lock:  # held for a whole iteration: acquiring it means none is running
                pass
        return self.loop_status()

    def stop(self, timeout: float = 30.0) -> LoopStatus:
        self.loop.stop_event.set()
        self.account.metrics_stale = True
        t = self._thread
        if t is not None and t is not threading.current_thread():
            t.join(timeout)
        return self.loop_status()

    def loop_status(self) -> LoopStatus:
        running = self._thread is not None and self._thread.is_alive() and not self.loop.stop_event.is_set()
        status = "paused" if running and self._paused.is_set() else "running" if running else "stopped"
        return LoopStatus(status, self.loop.n, self.interval)

    def close(self) -> None:
        self.stop()
        with self._lock:
            self.broker.close()
            self.source.close()
            self.journal.close()
            if self._locks is not None:
                self._locks.release()
