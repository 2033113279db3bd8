"""One trader per journal and per account: exclusive, advisory locks that die with their process.

::

    <journal>.trader.lock          one trading process per journal, in every mode
    <data dir>/accounts/<id>.lock  one trading process per demo/live account: the exchange's
                                   base URL and the API key id, so two journals on one real
                                   account collide too
    <paper exchange>.lock          one process per paper account (its matching engine is in memory)
    <journal>.heal.lock            one ``kalashi heal`` supervisor per journal

A second process refuses at start with exit 9 (JournalError) naming the holder's pid.
``flock`` locks vanish when the process exits — even on SIGKILL — so a crash never leaves a
stale lock behind. Read-only commands (metrics, scan, ``heal --once``, a read-only MCP server)
and the operator's brakes (``halt``) take none of them.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import IO

from .errors import JournalError

#: the words every "taken" message carries (``kalashi halt`` recognises a running loop by them)
IN_USE = "is in use by another kalashi process"


class AccountLock:
    """Hold an exclusive lock on ``<path>.lock`` for as long as this object is open.

    Raises:
        JournalError: another process holds it (the message names its pid).
    """

    def __init__(self, path: str | Path, what: str, *, hint: str | None = None) -> None:
        self.path = Path(str(path) + ".lock")
        self._f: IO[str] | None = None
        try:
            import fcntl
        except ImportError:  # not POSIX: no advisory locks; nothing to hold
            return
        from .files import create_private

        try:
            create_private(self.path)
            f = self.path.open("r+")
        except OSError as e:
            raise JournalError(
                f"{self.path}: cannot create the lock file ({e.strerror or e})",
                hint="pass --journal PATH in a folder you can write, or set KALASHI_HOME",
            ) from None
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            f.seek(0)
            holder = f.read().strip() or "another process"
            f.close()
            raise JournalError(
                f"{what} {IN_USE} ({holder})",
                hint=hint
                or "stop that process first (kalashi halt works while it runs), or pass a "
                "different --journal for a separate account",
            ) from None
        f.seek(0)
        f.truncate()
        f.write(f"pid {os.getpid()}")
        f.flush()
        self._f = f

    def release(self) -> None:
        if self._f is not None:
            self._f.close()  # closing the descriptor releases the flock
            self._f = None

    def __del__(self) -> None:  # an owner that was never closed: its lock goes with it
        self.release()


def held_by_other(path: str | Path) -> bool:
    """Whether another process holds the account lock of ``path`` right now."""
    try:
        lock = AccountLock(path, "probe")
    except JournalError:
        return True
    lock.release()
    return False


class TraderLocks:
    """The locks one trading process holds (its journal, and its account on a real exchange)."""

    def __init__(self, locks: list[AccountLock]) -> None:
        self._locks = locks

    def release(self) -> None:
        for lock in reversed(self._locks):
            lock.release()
        self._locks = []


def trader_lock_path(journal_path: str | Path) -> Path:
    """The lock file (without ``.lock``) that makes a journal's trading process the only one."""
    return Path(f"{journal_path}.trader")


def account_lock_path(data_dir: Path, base_url: str, key_id: str) -> Path:
    """The lock file (without ``.lock``) of one API key on one exchange, in the data dir."""
    digest = hashlib.sha256(f"{base_url.rstrip('/')}\n{key_id}".encode()).hexdigest()[:32]
    return data_dir / "accounts" / digest


def hold_trader(journal_path: str | Path, *, account: tuple[Path, str] | None = None) -> TraderLocks:
    """Become the one trading process of a journal (and of ``account`` = (lock path, description)).

    Raises:
        JournalError: another process trades this journal or this account (names its pid).
    """
    held = [
        AccountLock(
            trader_lock_path(journal_path),
            f"the journal {journal_path}",
            hint="one trading process per journal: stop that process first (`kalashi halt` works "
            "while it runs; `kalashi serve-bridge --attach` watches it), or pass a different "
            "--journal",
        )
    ]
    if account is not None:
        path, what = account
        try:
            held.append(
                AccountLock(
                    path,
                    what,
                    hint="one trading process per exchange account, whatever its "
                    "journal: stop that process first (`kalashi halt` works "
                    "while it runs)",
                )
            )
        except JournalError:
            held[0].release()
            raise
    return TraderLocks(held)


def hold_supervisor(journal_path: str | Path) -> AccountLock:
    """Become the one ``kalashi heal`` supervisor of a journal.

    Raises:
        JournalError: another supervisor watches this journal (names its pid).
    """
    return AccountLock(
        Path(f"{journal_path}.heal"),
        f"the journal {journal_path}'s supervisor",
        hint="one `kalashi heal` supervisor per journal: stop the other one first, or check it "
        "with `kalashi heal --once`",
    )
