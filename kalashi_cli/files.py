"""Files kalashi writes are private: mode 0600, in folders it creates with mode 0700.

A journal holds an account's whole trading history, a lock file names the process trading
it, a recording holds what an account saw: none of it is anyone else's business on a shared
machine. The modes are set when a file is created (``os.open`` with 0600; the umask can only
narrow them), not left to the umask. SQLite creates a database's ``-wal`` and ``-shm`` files
with the database file's own mode, so creating the database file first covers them too.

Folders that already exist are left as they are (``--journal /tmp/x.sqlite`` must not chmod
``/tmp``), except kalashi's own default data folder, which is tightened to 0700.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import IO

PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700


def private_dir(path: Path) -> Path:
    """Create ``path`` and its missing parents with mode 0700 (existing folders are left alone)."""
    missing: list[Path] = []
    p = path
    while not p.exists() and p != p.parent:
        missing.append(p)
        p = p.parent
    for d in reversed(missing):
        try:
            d.mkdir(mode=PRIVATE_DIR)
        except FileExistsError:
            continue
        os.chmod(d, PRIVATE_DIR)  # mkdir's mode went through the umask
    return path


def tighten(path: Path) -> None:
    """Make a file (or folder) of ours that others may read private again (0600 / 0700).

    Files written by older versions were created under the umask (often 0644). Only files this
    user owns are touched; errors are ignored (a read-only file system keeps what it has).
    """
    try:
        st = path.stat()
        if st.st_uid != os.getuid() or not st.st_mode & 0o077:
            return
        os.chmod(path, PRIVATE_DIR if stat.S_ISDIR(st.st_mode) else PRIVATE_FILE)
    except (OSError, AttributeError):  # AttributeError: no getuid (not POSIX)
        pass


def create_private(path: Path) -> None:
    """Make sure ``path`` exists as a private file (empty when new) in a private folder.

    For SQLite files: an empty file is an empty database, and the ``-wal``/``-shm`` files SQLite
    creates beside it take its mode. An existing file of ours that others may read is
    tightened, together with its ``-wal`` and ``-shm``.
    """
    private_dir(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    except FileExistsError:
        for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            tighten(p)
        return
    os.close(fd)


def open_private(path: Path, mode: str = "wb") -> IO[bytes]:
    """Open ``path`` for writing (``wb``) or appending (``ab``) as a private file, creating its folder."""
    private_dir(path.parent)
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if mode.startswith("a") else os.O_TRUNC)
    fd = os.open(path, flags, PRIVATE_FILE)
    return os.fdopen(fd, mode)
