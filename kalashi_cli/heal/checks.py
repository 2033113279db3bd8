"""Health checks: each returns a status, how long it took, and a plain-words detail.

``service_checks`` are the cheap in-process checks the bridge shows on the dashboard;
``kalashi heal`` runs the checks below (journal, drift, trading state, loop heartbeat, disk,
Redis, processes) plus the exchange checks of :mod:`kalashi_cli.heal.probes`.

Every check takes its dependencies as arguments (paths, clocks, probes), so each can be
tested against a fake. A check never raises: an exception inside it is a FAILED result
naming the error (see :func:`timed`).

Thresholds (docs/heal.md has the full table)::

    journal_writable   write lock taken and released    ok | degraded: locked > timeout | failed: error
    journal_integrity  PRAGMA integrity_check = ok      ok | failed
    drift              reconciliation results            degraded: failures, unknown outcomes, recent drift
                                                         failed: failures ≥ profile max_reconcile_failures
    trading_state      ACTIVE ok · REDUCING degraded · HALTED failed (trading stopped until an operator acts)
    loop               last iteration age ≤ limit ok · ≤ 2 × limit degraded · beyond failed
                       limit = hang_factor × interval + grace (default 3 × interval + 30 s)
    disk_space         free ≥ 1 GB ok · < 1 GB degraded · < 100 MB failed
    redis              PING → PONG ok · anything else degraded (Redis is optional)
"""

from __future__ import annotations

import shutil
import socket
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from ..errors import JournalError
from ..health import (
    DEGRADED,
    FAILED,
    OK,
    Check,
    CheckResult,
    _age_text,
    _reading,
    _wall_ms,
    iso_ms,
    parse_iso_ms,
    timed,
)
from ..journal import IntentStatus, integrity_check, probe_write

if TYPE_CHECKING:
    pass

GB = 1_000_000_000
MB = 1_000_000
DISK_DEGRADED_BYTES = 1 * GB
DISK_FAILED_BYTES = 100 * MB
#: a reconciliation that found drift keeps ``drift`` degraded this long (an operator should look)
DRIFT_WINDOW_S = 3600.0
#: a ``pending`` intent older than this was journaled but never answered (a crash mid-send)
PENDING_GRACE_S = 60.0


# -- the journal ----------------------------------------------------------------------------


#: what to do about a journal SQLite cannot read (journal_integrity says the same)
DAMAGED_ADVICE = "stop trading on it; keep a copy, and reconcile a fresh journal with the exchange"


def unreadable(path: Path, e: BaseException) -> str:
    """Say in plain words why ``path`` cannot be used as a journal, and what to do."""
    from ..journal import JournalUnreadable

    if path.is_dir():
        return f"{path} is a directory, not a journal — pass --journal with the journal file's path"
    if isinstance(e, JournalError) and not isinstance(e, JournalUnreadable):
        return str(e)  # sound, but not one to read as it is (newer, older, not a journal): it says what to do
    reason = e.reason if isinstance(e, JournalUnreadable) else e
    return f"{path} cannot be read as a journal ({reason}) — {DAMAGED_ADVICE}"


def journal_writable(path: Path, *, timeout_s: float = 5.0) -> Check:
    """Take the journal's write lock, write a probe row inside a transaction, and roll it back."""

    def run() -> CheckResult:
        if not path.exists():
            return DEGRADED, f"no journal at {path} yet (nothing has run in this mode)", {"exists": False}
        if path.is_dir():
            return FAILED, unreadable(path, IsADirectoryError(str(path)))
        try:
            waited = probe_write(path, timeout_s=timeout_s)
        except sqlite3.OperationalError as e:
            if "locked" in str(e) or "busy" in str(e):
                return (
                    DEGRADED,
                    (
                        f"{path} stayed locked by another writer for over {timeout_s:g} s "
                        "(a long transaction or a stuck process)"
                    ),
                    {"locked": True},
                )
            return FAILED, f"{path} is not writable: {e} (check permissions and free disk space)"
        except sqlite3.DatabaseError as e:
            return FAILED, f"{path} is not writable: {e} — {DAMAGED_ADVICE}"
        except sqlite3.Error as e:
            return FAILED, f"{path} cannot be opened for writing: {e} (check permissions and free disk space)"
        return OK, f"{path} writable (write lock in {waited * 1000:.0f} ms)", {"lock_wait_ms": round(waited * 1000, 3)}

    return timed("journal_writable", run)


def journal_integrity(path: Path, *, quick: bool = False) -> Check:
    """Run SQLite's integrity check (``quick`` skips index cross-checks) on the journal."""

    def run() -> CheckResult:
        if not path.exists():
            return DEGRADED, f"no journal at {path} yet", {"exists": False}
        if path.is_dir():
            return FAILED, unreadable(path, IsADirectoryError(str(path))), {"ok": False}
        pragma = "quick_check" if quick else "integrity_check"
        try:
            lines = integrity_check(path, quick=quick)
        except sqlite3.DatabaseError as e:
            return FAILED, f"{path} is damaged: {e} — {DAMAGED_ADVICE}", {"ok": False}
        detail = "; ".join(lines[:5])
        if detail == "ok":
            return OK, f"{path} {pragma.replace('_', ' ')} ok", {"ok": True}
        return FAILED, f"{path} {pragma.replace('_', ' ')} found problems: {detail}", {"ok": False}

    return timed("journal_integrity", run)


def journal_drift(
    path: Path,
    *,
    max_failures: int = 3,
    now_ms: Callable[[], int] = _wall_ms,
    window_s: float = DRIFT_WINDOW_S,
    pending_grace_s: float = PENDING_GRACE_S,
) -> Check:
    """Judge journal ↔ exchange agreement from what reconciliation recorded in the journal.

    ``facts["needs_reconcile"]`` is true when markets are blocked by orders whose outcome
    is unknown (or never answered), or when the last reconciliation failed: a reconciliation
    now would help. Drift that a reconciliation already adopted only keeps the check
    degraded for ``window_s`` so an operator sees it.
    """

    def run() -> CheckResult:
        if not path.exists():
            return OK, "no journal yet: nothing to reconcile", {"needs_reconcile": False}
        now = now_ms()
        try:
            with _reading(path) as jr:
                failures = int(jr.get_meta("reconcile_failures", "0") or 0)
                unknown = jr.intents(status=IntentStatus.UNKNOWN)
                pending = [
                    i
                    for i in jr.intents(status=IntentStatus.PENDING)
                    if i.created_ms < now - int(pending_grace_s * 1000)
                ]
                events = jr.events("reconcile", limit=1)
        except JournalError as e:
            # no needs_reconcile: reconciling into a journal that cannot be read would not help
            return FAILED, f"cannot tell: {unreadable(path, e)}", {"needs_reconcile": False}
        last = events[0] if events else None
        last_detail: dict[str, Any] = last["detail"] if last else {}
        blocked = sorted({i.ticker for i in unknown} | {i.ticker for i in pending})
        facts: dict[str, Any] = {
            "reconcile_failures": failures,
            "unknown_outcomes": len(unknown),
            "unanswered": len(pending),
            "blocked_markets": blocked,
            "needs_reconcile": bool(blocked) or failures > 0,
        }
        if failures >= max_failures:
            return (
                FAILED,
                (
                    f"{failures} reconciliations in a row failed (limit {max_failures}): "
                    f"{last_detail.get('error') or 'see the journal events'}; the risk gate halts trading"
                ),
                facts,
            )
        problems = []
        if failures:
            problems.append(
                f"the last {failures} reconciliation(s) failed ({last_detail.get('error') or 'unknown error'})"
            )
        if unknown:
            problems.append(
                f"{len(unknown)} order(s) with an unknown outcome block {', '.join(blocked[:5])}"
                f"{' …' if len(blocked) > 5 else ''} until reconciled"
            )
        if pending:
            problems.append(f"{len(pending)} order(s) journaled over {pending_grace_s:g} s ago were never answered")
        recent = last is not None and now - int(last["ts_ms"]) <= window_s * 1000
        drift = last_detail.get("position_drift") or {}
        orphans = last_detail.get("orphans") or []
        if recent and last is not None and (drift or orphans):
            when = iso_ms(int(last["ts_ms"]))
            bits = []
            if drift:
                bits.append(
                    "positions "
                    + ", ".join(f"{t} (journal {v[0]}, exchange {v[1]})" for t, v in list(drift.items())[:5])
                    + " adopted from the exchange"
                )
            if orphans:
                bits.append(f"{len(orphans)} resting order(s) unknown to the journal")
            problems.append(f"reconciliation at {when} found drift: {'; '.join(bits)}")
            facts["drift_at"] = when
        if problems:
            return DEGRADED, "; ".join(problems), facts
        if last is None:
            return OK, "journal = exchange as far as recorded (no reconciliation has corrected anything)", facts
        return OK, f"journal = exchange (last correction {iso_ms(int(last['ts_ms']))})", facts

    return timed("drift", run)


def trading_state(path: Path, *, halt_file: Path | None = None) -> Check:
    """Report the risk gate's state: ACTIVE ok, REDUCING degraded, HALTED failed.

    HALTED counts as failed because nothing new trades until an operator runs
    ``kalashi resume --confirm`` — a deliberate halt too, so cron keeps reminding.
    """

    def run() -> CheckResult:
        hf = halt_file if halt_file is not None else _default_halt_file()
        if hf.exists():
            return (
                FAILED,
                f"HALTED: the halt file {hf} exists (remove it and run `kalashi resume --confirm`)",
                {"state": "HALTED"},
            )
        if not path.exists():
            return OK, "ACTIVE (no journal yet)", {"state": "ACTIVE"}
        try:
            with _reading(path) as jr:
                stored = jr.get_meta("trading_state", "ACTIVE") or "ACTIVE"
                reason = jr.get_meta("halt_reason", "") or ""
                last = jr.iterations(limit=1)
        except JournalError as e:
            return FAILED, f"unknown: {unreadable(path, e)}", {"state": "UNKNOWN"}
        if stored == "HALTED":
            return (
                FAILED,
                f"HALTED: {reason or 'no reason recorded'} — `kalashi resume --confirm` lifts it",
                {"state": "HALTED"},
            )
        state = str(last[-1]["state"]) if last else "ACTIVE"
        if state == "REDUCING":
            return DEGRADED, "REDUCING at the last iteration: only orders that reduce positions pass", {"state": state}
        return OK, state, {"state": state}

    return timed("trading_state", run)


def _default_halt_file() -> Path:
    from ..stages.risk import halt_file

    return halt_file()


#: what to do about a loop that is not running, when nothing restarts it
LOOP_ADVICE = (
    "start it with `kalashi run-loop` (same --journal and mode), or run it under `kalashi heal`, which "
    "restarts it; pass --no-loop if no loop belongs on this journal"
)


def loop_heartbeat(
    path: Path,
    *,
    interval_s: float,
    now_ms: Callable[[], int] = _wall_ms,
    since_ms: int | None = None,
    hang_factor: float = 3.0,
    grace_s: float = 30.0,
    advice: str = LOOP_ADVICE,
) -> Check:
    """Judge the run-loop alive by the journal's iterations table (its heartbeat).

    The age is measured from the end of the last iteration, or from ``since_ms`` (when the
    loop was started) if that is later. Limit = ``hang_factor × interval + grace``. ``advice``
    ends the detail of a loop that is hung or not running.
    """

    def run() -> CheckResult:
        limit = hang_limit_s(interval_s, hang_factor, grace_s)
        facts: dict[str, Any] = {"limit_s": limit, "interval_s": interval_s}
        try:
            last = _last_iteration(path)
        except JournalError as e:
            return FAILED, f"no heartbeat: {unreadable(path, e)}", facts
        last_end = last[0] if last is not None else None
        now = now_ms()
        ref = max(x for x in (last_end, since_ms) if x is not None) if (last_end or since_ms) else None
        if last is not None:
            facts["iteration_age_s"] = round((now - last[0]) / 1000, 3)
            facts["last_iteration"] = last[1]
        if ref is None:
            return DEGRADED, f"no iteration in {path} yet: the loop has not run on this journal", facts
        age = (now - ref) / 1000
        what = (
            f"last iteration {facts.get('last_iteration')} ended {_age_text(max(0.0, (now - last[0]) / 1000))} ago"
            if last is not None
            else "no iteration yet"
        )
        if age <= limit:
            return OK, f"{what} (interval {interval_s:g} s)", facts
        if age <= 2 * limit:
            return DEGRADED, f"{what}: late (limit {limit:g} s at interval {interval_s:g} s)", facts
        return FAILED, f"{what}: the loop is hung or not running (limit {limit:g} s) — {advice}", facts

    return timed("loop", run)


def hang_limit_s(interval_s: float, hang_factor: float = 3.0, grace_s: float = 30.0) -> float:
    """Seconds without a finished iteration after which a loop counts as hung."""
    return round(hang_factor * interval_s + grace_s, 3)


def _last_iteration(path: Path) -> tuple[int, int] | None:
    """(wall ms when the last iteration ended, its number), or None before the first.

    Raises:
        JournalError: the journal cannot be read.
    """
    if not path.exists():
        return None
    with _reading(path) as jr:
        rows = jr.iterations(limit=1)
    if not rows:
        return None
    row = rows[-1]
    return parse_iso_ms(str(row["started"])) + int(float(row["duration_ms"])), int(row["n"])


def last_iteration_end_ms(path: Path) -> int | None:
    """Wall-clock ms when the journal's last iteration ended (started + duration).

    None when there is none — or when the journal cannot be read: an unreadable journal gives
    no heartbeat (``journal_integrity`` reports the damage).
    """
    try:
        last = _last_iteration(path)
    except JournalError:
        return None
    return last[0] if last is not None else None


def last_iteration_number(path: Path) -> int:
    """The journal's last iteration number (0 before the first, or when it cannot be read)."""
    try:
        last = _last_iteration(path)
    except JournalError:
        return 0
    return last[1] if last is not None else 0


def recent_iterations(path: Path, limit: int = 20) -> list[dict[str, Any]]:
    """The journal's last iterations (oldest first): n, started, duration_ms, markets, api_calls, source.

    Empty when the journal cannot be read: the journal checks report why.
    """
    if not path.exists():
        return []
    try:
        with _reading(path) as jr:
            rows = jr.iterations(limit=limit)
    except JournalError:
        return []
    cols = ("n", "started", "duration_ms", "markets", "api_calls", "source")
    return [{c: r[c] for c in cols} for r in rows]


# -- the machine ----------------------------------------------------------------------------


def disk_space(
    path: Path,
    *,
    usage: Callable[[Path], Any] = shutil.disk_usage,
    degraded_below: int = DISK_DEGRADED_BYTES,
    failed_below: int = DISK_FAILED_BYTES,
) -> Check:
    """Check free space where the journal lives: < 1 GB degraded, < 100 MB failed."""

    def run() -> CheckResult:
        where = path
        while not where.exists() and where != where.parent:
            where = where.parent  # the data dir may not exist yet; its filesystem does
        free = int(usage(where).free)
        facts = {"free_bytes": free, "path": str(where)}
        text = f"{free / GB:.2f} GB free on {where}"
        if free < failed_below:
            return FAILED, f"{text}: below {failed_below / MB:.0f} MB, journal writes may fail", facts
        if free < degraded_below:
            return DEGRADED, f"{text}: below {degraded_below / GB:g} GB", facts
        return OK, text, facts

    return timed("disk_space", run)


def redis_ping(url: str, *, timeout_s: float = 2.0) -> Check:
    """PING a Redis server over a raw socket (``redis://[:password@]host[:port][/db]``)."""

    def run() -> CheckResult:
        parts = urlsplit(url)
        if parts.scheme not in ("redis", ""):
            return DEGRADED, f"unsupported Redis URL scheme {parts.scheme!r} (only redis:// is checked)"
        host, port = parts.hostname or "127.0.0.1", parts.port or 6379
        where = f"{host}:{port}"
        try:
            with socket.create_connection((host, port), timeout=timeout_s) as s:
                s.settimeout(timeout_s)
                if parts.password is not None:
                    args = ([unquote(parts.username)] if parts.username else []) + [unquote(parts.password)]
                    s.sendall(_resp("AUTH", *args))
                    reply = _read_line(s)
                    if not reply.startswith(b"+OK"):
                        return DEGRADED, f"Redis at {where} refused the credentials ({_text(reply)})"
                s.sendall(_resp("PING"))
                reply = _read_line(s)
        except OSError as e:
            return DEGRADED, f"Redis at {where} is not reachable: {e.strerror or type(e).__name__}"
        if reply.startswith(b"+PONG"):
            return OK, f"Redis at {where} answered PONG"
        return DEGRADED, f"Redis at {where} answered {_text(reply)!r} to PING"

    return timed("redis", run)


def _resp(*words: str) -> bytes:
    out = [f"*{len(words)}\r\n".encode()]
    for w in words:
        b = w.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(b), b))
    return b"".join(out)


def _read_line(s: socket.socket) -> bytes:
    buf = b""
    while not buf.endswith(b"\r\n") and len(buf) < 4096:
        chunk = s.recv(1)
        if not chunk:
            break
        buf += chunk
    return buf


def _text(reply: bytes) -> str:
    return reply.decode("utf-8", "replace").strip() or "nothing"


def http_alive(name: str, url: str, *, timeout_s: float = 2.0) -> Check:
    """Probe a local server: any HTTP answer means it is alive (a 404 or 426 too).

    A refused connection means it is not running; a timeout means it accepts but does
    not answer (hung).
    """

    def run() -> CheckResult:
        alive, detail = probe_http(url, timeout_s=timeout_s)
        return (OK if alive else FAILED), detail, {"alive": alive, "url": url}

    return timed(name, run)


def probe_http(url: str, *, timeout_s: float = 2.0) -> tuple[bool, str]:
    """Send one GET to ``url``; return (answered, plain-words detail). Never raises."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or (443 if parts.scheme == "https" else 80)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        with socket.create_connection((host, port), timeout=timeout_s) as s:
            s.settimeout(timeout_s)
            s.sendall(
                f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\nAccept: */*\r\n\r\n".encode()
            )
            first = _read_line(s)
    except TimeoutError:
        return False, f"{url} accepted the connection but did not answer within {timeout_s:g} s (hung?)"
    except OSError as e:
        return False, f"{url} is not answering: {e.strerror or type(e).__name__}"
    if first.startswith(b"HTTP/"):
        status = first.split(b" ", 2)[1].decode("ascii", "replace") if b" " in first else "?"
        return True, f"{url} answered (HTTP {status})"
    return False, f"{url} answered something that is not HTTP ({_text(first)[:40]!r})"


# -- in-process checks (the bridge and the dashboard) ---------------------------------------
