"""One trader per account file: an exclusive, advisory lock that dies with its process.

The paper exchange lives inside the process that opened it (its matching engine is in
memory), so two processes on one paper account would each believe their own fills. The
lock makes the second one refuse with a clear message instead. ``flock`` locks vanish when
the process exits — even on SIGKILL — so a crash never leaves a stale lock behind.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO

from .errors import JournalError


class AccountLock:
    """Hold an exclusive lock on ``<path>.lock`` for as long as this object is open.

    Raises:
        JournalError: another process holds it (the message names its pid).
    """

    def __init__(self, path: str | Path, what: str) -> None:
        self.path = Path(str(path) + ".lock")
        self._f: IO[str] | None = None
        try:
            import fcntl
        except ImportError:  # not POSIX: no advisory locks; nothing to hold
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        f = self.path.open("a+")
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            f.seek(0)
            holder = f.read().strip() or "another process"
            f.close()
            raise JournalError(f"{what} is in use by another kalashi process ({holder})",
                               hint="stop that process first (kalashi halt works while it runs), or pass a "
                                    "different --journal for a separate account") from None
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
