"""Keep child processes alive: start them, notice death and hangs, restart with backoff, give up loudly.

::

    waiting ──ready──► running ──exit / hang──► backoff ──delay──► running …
                                                    └── budget spent ──► gave_up (on_give_up: halt, notify)

* **death**: ``poll()`` sees the exit code; the last line the child wrote to its log explains it;
* **hang**: a heartbeat that stops moving (the run-loop's last journal iteration, older than
  ``hang_after_s``) or a probe that fails ``probe_misses`` times in a row (the bridge's and
  the MCP server's ports); the child gets SIGTERM, then SIGKILL after ``term_timeout_s``;
* **backoff**: ``base × 2^(failures−1)`` seconds, capped; a child that stays up
  ``stable_after_s`` starts again from the base delay;
* **budget**: at most ``max_restarts`` restarts in any ``window_s`` seconds. The failure that
  finds the budget spent gives up at once, with no backoff and no announced restart — the child
  stays down, and ``on_give_up`` decides what that means (the monitor halts trading when the
  loop cannot be kept alive: a halted state is the safe failure).

Children run in their own session (so a terminal's Ctrl-C reaches only the supervisor, which
then stops them in order), with stderr — and stdout when asked — appended to
``<log_dir>/heal-<name>.log``. Time is injected (``clock`` for delays, ``wall_ms`` for
heartbeats), so tests drive everything with fake clocks and short-lived ``python -c`` children.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import subprocess
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import IO, Any

from ..health import DEGRADED, FAILED, OK, Check, Repair, iso_ms

log = logging.getLogger("kalashi.heal")


def _wall_ms() -> int:
    return time.time_ns() // 1_000_000


class ChildState(StrEnum):
    WAITING = "waiting"  # not started: a precondition does not hold yet (e.g. no journal)
    RUNNING = "running"
    BACKOFF = "backoff"  # died or was killed; starts again at next_start
    GAVE_UP = "gave_up"  # the restart budget is spent: left down, loudly
    STOPPED = "stopped"  # stopped by the supervisor


@dataclass(frozen=True, slots=True)
class ChildSpec:
    """What to run and how to tell it is healthy."""

    name: str
    argv: tuple[str, ...]
    critical: bool = False  # trading is unsafe if this cannot be kept alive (the run-loop)
    heartbeat_ms: Callable[[], int | None] | None = None  # wall ms of its last sign of progress
    hang_after_s: float | None = None
    probe: Callable[[], tuple[bool, str]] | None = None  # (answers, detail)
    probe_every_s: float = 5.0
    probe_misses: int = 3
    startup_grace_s: float = 30.0
    ready: Callable[[], tuple[bool, str]] | None = None  # (may start, why not)
    env: Mapping[str, str] | None = None
    keep_stdout: bool = False  # append stdout to the log too (the loop's records are in the journal)


@dataclass(frozen=True, slots=True)
class RestartPolicy:
    max_restarts: int = 5
    window_s: float = 600.0
    backoff_base_s: float = 1.0
    backoff_max_s: float = 60.0
    stable_after_s: float = 60.0
    term_timeout_s: float = 10.0  # SIGTERM → SIGKILL for a hung child
    graceful_timeout_s: float = 60.0  # a deliberate restart lets the current iteration finish

    def backoff(self, failures: int) -> float:
        """Seconds to wait before the restart after the ``failures``-th failure in a row."""
        return float(min(self.backoff_max_s, self.backoff_base_s * 2 ** max(0, failures - 1)))


@dataclass(slots=True)
class Child:
    spec: ChildSpec
    log_path: Path | None = None
    proc: subprocess.Popen[bytes] | None = None
    state: ChildState = ChildState.WAITING
    started_at: float = 0.0  # supervisor clock
    started_ms: int = 0  # wall clock
    restarts: int = 0
    history: deque[float] = field(default_factory=deque)  # restart times (supervisor clock)
    failures: int = 0  # in a row, for the backoff
    next_start_at: float = 0.0
    last_exit: int | None = None
    last_reason: str = ""
    misses: int = 0
    last_probe_at: float = float("-inf")
    waiting_for: str = ""

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None


class Supervisor:
    """Start, watch and restart a set of child processes (one ``poll()`` per supervision step)."""

    def __init__(
        self,
        specs: Sequence[ChildSpec],
        *,
        policy: RestartPolicy | None = None,
        log_dir: Path | None = None,
        on_repair: Callable[[Repair], None] | None = None,
        on_give_up: Callable[[Child, Repair], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_ms: Callable[[], int] = _wall_ms,
    ) -> None:
        names = [s.name for s in specs]
        if len(set(names)) != len(names):
            raise ValueError(f"child names must be unique: {names}")
        self.policy = policy or RestartPolicy()
        self.log_dir = log_dir
        self.on_repair = on_repair or (lambda r: None)
        self.on_give_up = on_give_up or (lambda c, r: None)
        self.clock = clock
        self.wall_ms = wall_ms
        self.children: dict[str, Child] = {
            s.name: Child(s, (log_dir / f"heal-{s.name}.log") if log_dir is not None else None) for s in specs
        }

    # -- the supervision step ---------------------------------------------------------------
    def start(self) -> list[Repair]:
        """Start every child whose precondition holds (the others wait); return the repairs made."""
        done: list[Repair] = []
        for c in self.children.values():
            if c.state is ChildState.WAITING:
                done.extend(self._start_if_ready(c))
        return done

    def poll(self) -> list[Repair]:
        """Look at every child once: start waiting ones, catch deaths and hangs, run due restarts."""
        done: list[Repair] = []
        for c in self.children.values():
            if c.state is ChildState.WAITING:
                done.extend(self._start_if_ready(c))
            elif c.state is ChildState.RUNNING:
                done.extend(self._watch(c))
            elif c.state is ChildState.BACKOFF and self.clock() >= c.next_start_at:
                done.extend(self._restart(c))
        return done

    def _start_if_ready(self, c: Child) -> list[Repair]:
        if c.spec.ready is not None:
            ok, why = _ask(c.spec.ready)
            if not ok:
                c.waiting_for = why
                return []
        c.waiting_for = ""
        try:
            self._spawn(c)
        except OSError as e:  # e.g. the command does not exist: retried with backoff, then given up
            c.last_exit = None
            return self._failed(c, f"could not start: {e.strerror or e}")
        return []

    def _watch(self, c: Child) -> list[Repair]:
        assert c.proc is not None
        rc = c.proc.poll()
        if rc is not None:
            self._close_log(c)
            c.last_exit = rc
            return self._failed(c, f"exited with {_exit_text(rc)}{self._last_words(c)}")
        now = self.clock()
        up = now - c.started_at
        if up >= self.policy.stable_after_s:
            c.failures = 0
        hung = self._hang_reason(c, up)
        if hung is None:
            return []
        killed = self._terminate(c, self.policy.term_timeout_s)
        c.last_exit = c.proc.returncode if c.proc is not None else None
        self._close_log(c)
        r = self._repair(
            "kill-hung",
            c.name,
            killed,
            f"{hung}; " + ("stopped it (SIGTERM/SIGKILL)" if killed else "it did not die even after SIGKILL"),
        )
        return [r, *self._failed(c, hung)]

    def _hang_reason(self, c: Child, up: float) -> str | None:
        s = c.spec
        if s.heartbeat_ms is not None and s.hang_after_s is not None:
            try:
                beat = s.heartbeat_ms()
            except Exception as e:  # noqa: BLE001 - an unreadable heartbeat is no heartbeat, never a crash
                log.warning("cannot read %s's heartbeat: %s", c.name, e)
                beat = None
            fresh = beat is not None and beat >= c.started_ms
            ref = beat if fresh and beat is not None else c.started_ms
            limit = s.hang_after_s + (0.0 if fresh else s.startup_grace_s)
            age = (self.wall_ms() - ref) / 1000
            if age > limit:
                what = "no new iteration" if fresh else "no iteration since it started"
                return f"hung: {what} for {age:.0f} s (limit {limit:g} s)"
        if s.probe is not None and up >= s.startup_grace_s and self.clock() - c.last_probe_at >= s.probe_every_s:
            c.last_probe_at = self.clock()
            try:
                ok, detail = s.probe()
            except Exception as e:  # noqa: BLE001 - a probe that blows up is a failed probe
                ok, detail = False, f"probe failed: {type(e).__name__}: {e}"
            c.misses = 0 if ok else c.misses + 1
            if c.misses >= s.probe_misses:
                c.misses = 0
                return f"hung: not answering {s.probe_misses} times in a row ({detail})"
        return None

    def _restarts_in_window(self, c: Child, at: float | None = None) -> int:
        """Restarts of ``c`` in the ``window_s`` seconds before ``at`` (default now) — the budget used."""
        now = self.clock()
        while c.history and now - c.history[0] > self.policy.window_s:
            c.history.popleft()
        at = now if at is None else at
        return sum(1 for t in c.history if at - t <= self.policy.window_s)

    def _failed(self, c: Child, reason: str) -> list[Repair]:
        """A failure: back off before a restart, or — when the budget is spent — give up now.

        Giving up happens at the failure that exceeds the budget, never after a backoff: no
        restart is announced that will not happen, and ``on_give_up`` (which halts trading
        for the loop) runs at once.
        """
        c.failures += 1
        c.misses = 0
        c.last_reason = reason
        delay = self.policy.backoff(c.failures)
        used = self._restarts_in_window(c, at=self.clock() + delay)  # the budget when the restart would be due
        if used >= self.policy.max_restarts:
            c.state = ChildState.GAVE_UP
            r = self._repair(
                "give-up",
                c.name,
                False,
                f"{c.name} failed again after {used} restarts in {self.policy.window_s:g} s "
                f"({reason}); not restarting it",
            )
            log.error(
                "%s %s; giving up: %d restart(s) in %g s already used the budget, not restarting it",
                c.name,
                reason,
                used,
                self.policy.window_s,
            )
            self.on_give_up(c, r)
            return [r]
        c.state = ChildState.BACKOFF
        c.next_start_at = self.clock() + delay
        log.warning(
            "%s %s; restarting in %.1f s (restart %d of %d allowed in %g s)",
            c.name,
            reason,
            delay,
            used + 1,
            self.policy.max_restarts,
            self.policy.window_s,
        )
        return []

    def _restart(self, c: Child) -> list[Repair]:
        now = self.clock()
        if c.spec.ready is not None:
            ok, why = _ask(c.spec.ready)
            if not ok:
                c.next_start_at = now + self.policy.backoff(c.failures)
                c.waiting_for = why
                return [self._repair("restart", c.name, False, f"cannot restart yet: {why}")]
        self._restarts_in_window(c)
        c.history.append(now)
        c.restarts += 1
        try:
            self._spawn(c)
        except OSError as e:
            r = self._repair("restart", c.name, False, f"could not start {c.name}: {e.strerror or e}")
            return [r, *self._failed(c, f"could not start: {e.strerror or e}")]
        return [
            self._repair(
                "restart",
                c.name,
                True,
                f"restarted {c.name} (pid {c.pid}) after it {c.last_reason}; restart {len(c.history)} "
                f"of {self.policy.max_restarts} allowed in {self.policy.window_s:g} s",
            )
        ]

    def restart_now(self, name: str, why: str, *, action: str = "restart") -> Repair:
        """Restart a running child deliberately (e.g. so the loop reconciles on start-up).

        It gets ``graceful_timeout_s`` to finish its current step; this restart does not
        count against the failure budget.
        """
        c = self.children[name]
        if c.state is not ChildState.RUNNING:
            return self._repair(action, name, False, f"{name} is {c.state.value}, not running: {why}")
        stopped = self._terminate(c, self.policy.graceful_timeout_s)
        self._close_log(c)
        c.last_reason = why
        try:
            self._spawn(c)
        except OSError as e:
            r = self._repair(action, name, False, f"could not start {name}: {e.strerror or e}")
            self._failed(c, f"could not start: {e.strerror or e}")
            return r
        c.restarts += 1
        return self._repair(
            action,
            name,
            True,
            f"restarted {name} (pid {c.pid}) to {why}" + ("" if stopped else " (the old process needed SIGKILL)"),
        )

    def stop(self, timeout_s: float | None = None) -> None:
        """Stop every child, last started first, each with SIGTERM then SIGKILL."""
        for c in reversed(list(self.children.values())):
            if c.state is ChildState.RUNNING:
                self._terminate(c, self.policy.graceful_timeout_s if timeout_s is None else timeout_s)
                self._close_log(c)
            c.state = ChildState.STOPPED

    # -- processes --------------------------------------------------------------------------
    def _spawn(self, c: Child) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **(c.spec.env or {})}
        out: IO[bytes] | int = subprocess.DEVNULL
        if c.log_path is not None:
            from ..files import private_dir

            private_dir(c.log_path.parent)
            # owner-only: a child may print a secret (the bridge prints its control token)
            f = os.fdopen(os.open(c.log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600), "ab")
            f.write(f"--- heal {iso_ms(self.wall_ms())} start: {' '.join(c.spec.argv)}\n".encode())
            f.flush()
            out = f
        try:
            c.proc = subprocess.Popen(
                list(c.spec.argv),
                stdin=subprocess.DEVNULL,
                stdout=out if c.spec.keep_stdout else subprocess.DEVNULL,
                stderr=out,
                env=env,
                start_new_session=True,
            )
        finally:
            if not isinstance(out, int):
                out.close()  # the child has its own copy
        c.state = ChildState.RUNNING
        c.started_at = self.clock()
        c.started_ms = self.wall_ms()
        c.misses = 0
        c.last_probe_at = float("-inf")
        log.info("started %s (pid %s): %s", c.name, c.proc.pid, " ".join(c.spec.argv))

    def _terminate(self, c: Child, timeout_s: float) -> bool:
        """SIGTERM the child's process group, SIGKILL after ``timeout_s``; return whether it died."""
        p = c.proc
        if p is None or p.poll() is not None:
            return True
        _signal_group(p, signal.SIGTERM)
        try:
            p.wait(timeout_s)
            return True
        except subprocess.TimeoutExpired:
            _signal_group(p, signal.SIGKILL)
            try:
                p.wait(5.0)
                return True
            except subprocess.TimeoutExpired:
                return False

    def _close_log(self, c: Child) -> None:
        if c.log_path is not None and c.proc is not None and c.proc.returncode is not None:
            try:
                with c.log_path.open("ab") as f:
                    f.write(
                        f"--- heal {iso_ms(self.wall_ms())} pid {c.proc.pid} ended: "
                        f"{_exit_text(c.proc.returncode)}\n".encode()
                    )
            except OSError:
                pass

    def _last_words(self, c: Child) -> str:
        """The child's last log line (before heal's own markers), to say why it died.

        Only a line that reads like an error is quoted: a banner or a progress line printed
        before a SIGKILL says nothing about the death.
        """
        if c.log_path is None or not c.log_path.exists():
            return ""
        try:
            with c.log_path.open("rb") as f:
                f.seek(max(0, c.log_path.stat().st_size - 4096))
                lines = [ln.strip() for ln in f.read().decode("utf-8", "replace").splitlines()]
        except OSError:
            return ""
        said = [ln for ln in lines if ln and not ln.startswith("--- heal ")]
        return f": {said[-1][:200]}" if said and looks_like_an_error(said[-1]) else ""

    def _repair(self, action: str, target: str, ok: bool, detail: str) -> Repair:
        r = Repair(self.wall_ms(), action, target, ok, detail)
        self.on_repair(r)
        return r

    # -- reporting --------------------------------------------------------------------------
    def running(self, name: str) -> bool:
        c = self.children.get(name)
        return c is not None and c.state is ChildState.RUNNING

    def processes(self) -> list[dict[str, Any]]:
        """Each child's state for the status endpoint."""
        now = self.clock()
        out = []
        for c in self.children.values():
            in_window = sum(1 for t in c.history if now - t <= self.policy.window_s)
            out.append(
                {
                    "name": c.name,
                    "state": c.state.value,
                    "pid": c.pid if c.state is ChildState.RUNNING else None,
                    "command": list(c.spec.argv),
                    "critical": c.spec.critical,
                    "restarts": c.restarts,
                    "restarts_in_window": in_window,
                    "max_restarts": self.policy.max_restarts,
                    "started": iso_ms(c.started_ms) if c.started_ms else None,
                    "uptime_s": round(now - c.started_at, 3) if c.state is ChildState.RUNNING else None,
                    "last_exit": c.last_exit,
                    "last_reason": c.last_reason or None,
                    "next_start_in_s": round(max(0.0, c.next_start_at - now), 3)
                    if c.state is ChildState.BACKOFF
                    else None,
                    "waiting_for": c.waiting_for or None,
                    "log": str(c.log_path) if c.log_path is not None else None,
                }
            )
        return out

    def checks(self) -> list[Check]:
        """One check per child: running ok, waiting/backoff degraded, gave up failed."""
        out = []
        now = self.clock()
        for c in self.children.values():
            name = f"process.{c.name}"
            if c.state is ChildState.RUNNING:
                up = now - c.started_at
                out.append(Check(name, OK, f"running (pid {c.pid}, up {up:.0f} s, {c.restarts} restart(s))"))
            elif c.state is ChildState.WAITING:
                out.append(Check(name, DEGRADED, f"not started yet: {c.waiting_for or 'waiting'}"))
            elif c.state is ChildState.BACKOFF:
                out.append(
                    Check(name, DEGRADED, f"{c.last_reason}; restarting in {max(0.0, c.next_start_at - now):.0f} s")
                )
            elif c.state is ChildState.GAVE_UP:
                out.append(Check(name, FAILED, f"gave up after {c.restarts} restart(s): {c.last_reason}"))
            else:
                out.append(Check(name, DEGRADED, "stopped"))
        return out


_ERROR_WORDS = re.compile(
    r"error|exception|traceback|fatal|fail|cannot|can't|could not|couldn't|unable|refused|denied|invalid|"
    r"unknown|not found|no such|missing|abort|panic|killed|out of memory|permission|timed? ?out|corrupt|malformed",
    re.IGNORECASE,
)


def looks_like_an_error(line: str) -> bool:
    """Whether a log line reads like an error message (``kalashi: error: …``, ``ValueError: …``)."""
    return bool(_ERROR_WORDS.search(line))


def _ask(ready: Callable[[], tuple[bool, str]]) -> tuple[bool, str]:
    try:
        return ready()
    except Exception as e:  # noqa: BLE001 - a broken precondition keeps the child waiting, visibly
        return False, f"cannot tell whether it may start: {type(e).__name__}: {e}"


def _signal_group(p: subprocess.Popen[bytes], sig: int) -> None:
    try:
        os.killpg(p.pid, sig)  # the child leads its own session: this reaches its children too
    except (ProcessLookupError, PermissionError, AttributeError):
        try:
            p.send_signal(sig)
        except ProcessLookupError:
            pass


def _exit_text(rc: int) -> str:
    if rc < 0:
        try:
            return f"signal {signal.Signals(-rc).name}"
        except ValueError:
            return f"signal {-rc}"
    return f"exit code {rc}"
