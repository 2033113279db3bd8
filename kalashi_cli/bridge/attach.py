"""Watching a ``kalashi run-loop`` that runs in another process, through its journal.

``kalashi serve-bridge --attach`` does not run a loop. It tails the journal the run-loop writes
(SQLite in WAL mode, so a reader never blocks the writer): new rows of the ``records``,
``iterations`` and ``metrics`` tables become ``record`` messages, and the state is folded from
the journal. It takes one command, ``halt``: HALTED is persisted in the journal, so the
run-loop's risk gate stops new entries at its next iteration; on demo/live resting orders are
also cancelled at the exchange, as ``kalashi halt`` does. On paper they are not: the paper
exchange lives inside the run-loop's process (see :meth:`AttachBackend._halt`). Everything
else is refused: that loop is steered from its own terminal.

What the journal cannot tell: opportunities and candidates (the run-loop does not journal
them, so the list stays empty), the reason for REDUCING (the run-loop prints it), marks of
single positions (equity and cash are the run-loop's own numbers from its last iteration), and
whether the run-loop is paused (a loop that has not finished an iteration for three intervals
plus 30 s is shown as ``stopped``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime
from pathlib import Path
from typing import Any

from ..domain import OrderStatus
from ..errors import UsageError
from ..health import trading_state_status
from ..journal import Journal, RecordRow
from ..money import Money
from ..profile import Profile, load_profile
from ..records import iso
from ..service import EQUITY_POINTS, JOURNAL_VIEW, iteration_record_from_row
from .attach_state import JournalSnapshot, page_state, with_ts
from .backends import CommandRefused, Listener, Progress


def _ms(started: str) -> int:
    return int(datetime.fromisoformat(started.replace("Z", "+00:00")).timestamp() * 1000)


class AttachBackend:
    """A read-mostly view of a journal that another process's loop is writing."""

    def __init__(
        self,
        journal_path: Path,
        *,
        mode: str = "paper",
        profile: str | Profile = "default",
        interval: float | None = None,
        poll_s: float = 0.25,
        wall_ms: Callable[[], int] | None = None,
    ) -> None:
        """Open the journal read-only and start from its current end.

        Raises:
            UsageError: there is no journal at that path yet, or it belongs to another mode.
            JournalError: the journal is newer than this kalashi, older than it reads without
                migrating, or not readable.
        """
        no_journal = UsageError(
            f"no journal at {journal_path} to attach to",
            hint="start `kalashi run-loop` first, and give serve-bridge the same --journal and mode",
        )
        if not journal_path.exists():
            raise no_journal
        self.path = journal_path
        self.mode = mode
        self.profile = load_profile(profile) if isinstance(profile, str) else profile
        self.profile_name = profile if isinstance(profile, str) else self.profile.name
        self.journal = Journal(journal_path, mode=mode, readonly=True)
        if self.journal.blank:  # the file exists but the run-loop has not created its tables yet
            self.journal.close()
            raise no_journal
        stored_mode = self.journal.get_meta("mode")
        if stored_mode != mode:
            self.journal.close()
            raise UsageError(
                f"{journal_path} is a {stored_mode} journal, not {mode}", hint=f"attach with --{stored_mode}"
            )
        self.interval = interval
        self.poll_s = poll_s
        self.wall_ms = wall_ms or (lambda: time.time_ns() // 1_000_000)
        self._lock = threading.RLock()
        #: (monotonic time, last iteration n, metrics): fresh metrics at most once a second
        self._metrics: tuple[float, int, dict[str, Any]] | None = None
        self._listeners: list[Listener] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._position = self.journal.tail_position()  # publish only what comes after this
        self._halted = self._stored_state()[0] == "HALTED"

    # -- plumbing ---------------------------------------------------------------------------
    def _stored_state(self) -> tuple[str, str]:
        from ..stages.risk import stored_state

        st, why = stored_state(self.journal)
        return st.value, why

    def subscribe(self, fn: Listener) -> Callable[[], None]:
        self._listeners.append(fn)
        return lambda: self._listeners.remove(fn) if fn in self._listeners else None

    def _publish(self, rec: dict[str, Any]) -> None:
        for fn in list(self._listeners):
            try:
                fn(rec)
            except Exception:  # noqa: BLE001 - one broken listener must not stop the others
                continue

    def locked(self) -> AbstractContextManager[Any]:
        return self._lock

    def describe(self) -> str:
        return f"attached to the {self.mode} journal {self.path} (halt only)"

    def begin(self) -> None:
        self._thread = threading.Thread(target=self._tail, name="kalashi-attach", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(10)
        with self._lock:
            self.journal.close()

    def _tail(self) -> None:
        while not self._stop.wait(self.poll_s):
            try:
                self.poll()
            except Exception as e:  # noqa: BLE001 - a locked or rotating journal: report and keep watching
                self._publish(
                    {
                        "kind": "health",
                        "v": 1,
                        "name": "attach",
                        "status": "degraded",
                        "detail": f"could not read {self.path}: {type(e).__name__}: {e}",
                    }
                )

    # -- tailing ----------------------------------------------------------------------------
    def poll(self) -> int:
        """Publish what the journal gained since the last poll, in the order it happened; return how much."""
        with self._lock:
            tail = self.journal.read_since(self._position)
            pending = [(r.ts_ms, with_ts(r.kind, r.record, r.ts_ms)) for r in tail.records]
            out = 0
            for row in tail.iterations:
                # an iteration's orders and fills are journaled just before its row: they came first
                end = _ms(row["started"]) + int(float(row["duration_ms"])) + 1
                while pending and pending[0][0] <= end:
                    self._publish(pending.pop(0)[1])
                    out += 1
                self._publish(iteration_record_from_row(row))
                out += 1
            for _ts, rec in pending:
                self._publish(rec)
                out += 1
            for rec in tail.metrics:
                self._publish(rec)
                out += 1
            self._position = tail.position
            st, why = self._stored_state()
            if (st == "HALTED") != self._halted:  # halted (or resumed) by someone else
                self._halted = st == "HALTED"
                self._publish(
                    {
                        "kind": "health",
                        "v": 1,
                        "name": "trading_state",
                        "status": trading_state_status(st),
                        "detail": f"HALTED: {why}" if self._halted else "ACTIVE",
                    }
                )
                out += 1
            return out

    # -- state ------------------------------------------------------------------------------
    def _loop_view(self, rows: list[dict[str, Any]]) -> tuple[str, float, float | None]:
        """(status, interval_s, seconds since the last iteration ended) as far as the journal tells."""
        if self.interval is not None:
            interval = self.interval
        elif len(rows) >= 2:
            gaps = sorted(_ms(b["started"]) - _ms(a["started"]) for a, b in zip(rows[-6:], rows[-5:], strict=False))
            interval = max(0.0, gaps[len(gaps) // 2] / 1000)
        else:
            interval = float(self.profile.loop.interval_seconds)
        if not rows:
            return "stopped", interval, None
        last = rows[-1]
        age = (self.wall_ms() - _ms(last["started"]) - float(last["duration_ms"])) / 1000
        return ("running" if age <= 3 * interval + 30 else "stopped"), interval, age

    def _fresh_metrics(self, portfolio: Any, last: dict[str, Any] | None) -> dict[str, Any]:
        """Metrics computed from the journal now (the loop journals its own only every 10th iteration).

        Valued at the loop's last equity, like the account card; recomputed when an iteration
        arrived, and otherwise at most once a second (it reads the whole journal).
        """
        from ..stages.metrics import RunStats, compute_metrics

        n = int(last["n"]) if last is not None else 0
        now = time.monotonic()
        if self._metrics is not None and self._metrics[1] == n and now - self._metrics[0] < 1.0:
            return self._metrics[2]
        if last is not None:
            portfolio.equity = last["equity"]
        m = compute_metrics(self.journal, portfolio, self.profile, RunStats())
        self._metrics = (now, n, m)
        return m

    def state(self) -> dict[str, Any]:
        """The whole-page state, folded from the journal (see the module docstring for its limits)."""
        with self._lock:
            snapshot = self._snapshot()
        return page_state(
            snapshot,
            mode=self.mode,
            profile=self.profile,
            profile_name=self.profile_name,
            path=self.path,
            wall_ms=self.wall_ms,
        )

    def _snapshot(self) -> JournalSnapshot:
        """Everything the page is folded from, read through the journal's methods (call under the lock)."""
        from ..stages.portfolio import load_portfolio
        from ..stages.valuation import spread_cap

        j = self.journal
        rows = j.iterations(limit=EQUITY_POINTS)
        loop = self._loop_view(rows)
        stored = self._stored_state()
        start_raw = j.get_meta("starting_balance")
        p = (
            load_portfolio(j, Money(int(start_raw)), spread_cap=spread_cap(self.profile))  # never writes: it is set
            if start_raw is not None
            else None
        )
        meta = j.market_meta()
        resting = j.orders(status=OrderStatus.RESTING)
        view = j.record_rows(("order", "fill"), limit=JOURNAL_VIEW, newest_first=True)
        metrics = self._fresh_metrics(p, rows[-1] if rows else None) if p is not None else j.latest_metrics()
        return JournalSnapshot(
            rows=rows,
            loop=loop,
            stored=stored,
            portfolio=p,
            meta=meta,
            resting=resting,
            view=view,
            metrics=metrics,
            integrity=j.integrity_ok(),
            heal_health=self._latest_heal_health(),
        )

    def _latest_heal_health(self) -> list[dict[str, Any]]:
        """The last ``repairs`` and ``heal`` health rows a ``kalashi heal`` journaled, as the page shows them.

        The live stream shows them as they are written; a page loaded (or reloaded) later gets
        the latest of each here, with when it was written.
        """
        out = []
        for name in ("repairs", "heal"):
            row: RecordRow | None = self.journal.latest_health(name)
            if row is None:
                continue
            rec = row.record
            out.append(
                {
                    "name": name,
                    "status": rec.get("status", "degraded"),
                    "detail": f"{rec.get('detail', '')} (at {iso(row.ts_ms)})",
                    "latency_ms": None,
                }
            )
        return out

    # -- commands ---------------------------------------------------------------------------
    def execute(self, cmd: str, args: dict[str, Any], progress: Progress | None = None) -> dict[str, Any]:
        """Halt the watched loop; refuse everything else (``progress`` is not used: halting is quick).

        Raises:
            CommandRefused: any command but ``halt``.
            KalashiError: the journal or the broker failed while halting.
        """
        if cmd != "halt":
            raise CommandRefused(
                f"'{cmd}' is not possible here: this bridge is attached to a run-loop in another "
                "process and can only halt it; control that loop from its own terminal"
            )
        return self._halt(args["reason"])

    def _halt(self, reason: str) -> dict[str, Any]:
        """Persist HALTED in the journal; on demo/live also cancel resting orders at the exchange.

        The paper exchange is not ours to touch: its matching engine lives in the run-loop's
        process, and a second copy cancelling orders in the file would fork it. There the halt
        stops new entries at the run-loop's next iteration and the resting orders stay.
        """
        from ..context import open_broker, open_source
        from ..safety import halt
        from ..stages.risk import set_halted

        with self._lock:
            last = self.journal.iterations(limit=1)
        jr = Journal(self.path, mode=self.mode)
        if self.mode == "paper":
            try:
                set_halted(jr, reason)
                resting = len(jr.orders(status=OrderStatus.RESTING))
            finally:
                jr.close()
            with self._lock:
                self._halted = True
                self._publish(
                    {
                        "kind": "health",
                        "v": 1,
                        "name": "trading_state",
                        "status": "failed",
                        "detail": f"HALTED: {reason}",
                    }
                )
            return {
                "trading_state": "HALTED",
                "canceled_orders": 0,
                "resting_orders": resting,
                "note": "paper orders rest in the run-loop's own exchange: they stay until that loop "
                "cancels them (or it is stopped and `kalashi halt` is run)",
            }
        try:
            src = open_source(str(last[-1]["source"]) if last and last[-1].get("source") else "sim")
            try:
                broker = open_broker(self.mode, src, jr, self.profile)
                try:
                    res = halt(jr, broker, reason)
                finally:
                    broker.close()
            finally:
                src.close()
        finally:
            jr.close()
        with self._lock:
            self._halted = True
            self._publish(
                {"kind": "health", "v": 1, "name": "trading_state", "status": "failed", "detail": f"HALTED: {reason}"}
            )
        out: dict[str, Any] = {
            "trading_state": "HALTED",
            "canceled_orders": res.cancelled,
            "remaining_resting": res.remaining_resting,
        }
        if res.error:
            out["error"] = res.error
        return out
