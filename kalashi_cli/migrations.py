"""Schema migrations for kalashi's SQLite stores: the journal and the paper exchange.

Like ``llm``'s ``migrations.py``: each store keeps an ordered list of named migration
functions (:class:`Migrations`); each runs once and is recorded in the store's ``_migrations``
table (its position, name, when, and which kalashi ran it), and ``PRAGMA user_version`` holds
how many have run, so opening a store that is up to date costs two tiny reads.

Opening a store (:func:`migrate`, for a writer):

* a store whose ``user_version`` is above the last migration this code knows was written by a
  newer kalashi: it is refused (:class:`StoreTooNew`, a ``JournalError``: exit 9) and not touched;
* a store with tables but ``user_version`` 0 was written before the stores had migrations
  (release c22539d and earlier): it is recognised by its tables (all of them the store's own),
  and migration 1 — that schema exactly, every statement ``IF NOT EXISTS`` — adopts it in place;
* every pending migration runs in ONE transaction with the ``user_version`` and ``_migrations``
  updates (SQLite's DDL is transactional): a failure rolls all of it back and leaves the store
  exactly as it was.

Readers (:func:`inspect`, :func:`check_readable`) never migrate: they read a store at the
latest version (or one from before migrations while migration 1 is the latest) and refuse an
older one with a hint to run a writer once.

Adding a column or a table later is one new function appended to the store's list (and a
test that opens a store of the previous version): never edit, rename or reorder a migration
that has shipped. A migration gets the connection inside the transaction and must not commit
(so no ``executescript``: use :func:`run_script`).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from . import __version__
from .errors import JournalError

MIGRATIONS_TABLE = "_migrations"

Migration = Callable[[sqlite3.Connection], None]


class StoreTooNew(JournalError):
    """The store was migrated by a newer kalashi: use that kalashi (or newer) with it."""


class Migrations:
    """The ordered, named migrations of one store; use an instance as a decorator to append one."""

    def __init__(self, store: str, *, legacy_tables: Iterable[str]) -> None:
        """``store`` names it in messages; ``legacy_tables`` are the tables it had before migrations."""
        self.store = store
        self.legacy_tables = frozenset(legacy_tables)
        self.steps: list[Migration] = []

    def __call__(self, fn: Migration) -> Migration:
        if fn.__name__ in self.names:
            raise ValueError(f"a {self.store} migration named {fn.__name__} exists already")
        self.steps.append(fn)
        return fn

    @property
    def names(self) -> list[str]:
        return [fn.__name__ for fn in self.steps]

    @property
    def latest(self) -> int:
        """The version a store has after every migration: how many there are."""
        return len(self.steps)


@dataclass(frozen=True, slots=True)
class Found:
    """What a store's file holds, before anything is changed."""

    version: int  # PRAGMA user_version: how many migrations have run
    tables: frozenset[str]  # its tables (SQLite's own left out)

    @property
    def blank(self) -> bool:
        """A new database: no tables yet (a store being created, or an empty file)."""
        return self.version == 0 and not self.tables

    @property
    def legacy(self) -> bool:
        """Written before the store had migrations: its tables, ``user_version`` 0."""
        return self.version == 0 and bool(self.tables)

    @property
    def effective(self) -> int:
        """The version its layout has: a legacy store is laid out as migration 1 leaves it."""
        return 1 if self.legacy else self.version


def user_version(db: sqlite3.Connection) -> int:
    return int(db.execute("PRAGMA user_version").fetchone()[0])


def _tables(db: sqlite3.Connection) -> frozenset[str]:
    rows = db.execute("SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'").fetchall()
    return frozenset(str(r[0]) for r in rows)


def inspect(db: sqlite3.Connection, m: Migrations, path: Path) -> Found:
    """Read what the store holds and refuse what this code must not touch.

    Raises:
        StoreTooNew: a newer kalashi migrated it (names the versions and that kalashi).
        JournalError: it holds tables that are not this store's, or a migration history that
            differs from this code's (a store migrated by another branch of kalashi).
        sqlite3.Error: the file cannot be read as SQLite.
    """
    found = Found(user_version(db), _tables(db))
    if found.version > m.latest:
        by = _last_migrated_by(db)
        raise StoreTooNew(
            f"{path} is a {m.store} of schema version {found.version}, newer than this kalashi ({__version__}) "
            f"understands (up to version {m.latest})" + (f"; kalashi {by} migrated it" if by else ""),
            hint=f"run a kalashi that knows schema version {found.version} ({by or 'a newer release'} or later: "
            f"pip install -U kalashi), or pass --journal with another file; the {m.store} was not changed",
        )
    if found.legacy:
        foreign = found.tables - m.legacy_tables
        if foreign:
            raise JournalError(
                f"{path} is not a kalashi {m.store}: it has tables {', '.join(sorted(foreign))}",
                hint="pass --journal with a kalashi journal, or a path where a new one may be created",
            )
    elif found.version:
        _check_history(db, m, path, found.version)
    return found


def _check_history(db: sqlite3.Connection, m: Migrations, path: Path, version: int) -> None:
    if MIGRATIONS_TABLE not in _tables(db):
        raise JournalError(
            f"{path}: schema version {version} but no record of its migrations ({MIGRATIONS_TABLE})",
            hint=f"this file was not written by kalashi; pass --journal with a kalashi {m.store}",
        )
    rows = db.execute(
        f"SELECT version, name FROM {MIGRATIONS_TABLE} WHERE version <= ? ORDER BY version", (version,)
    ).fetchall()
    recorded = [str(r[1]) for r in rows]
    if recorded != m.names[:version]:
        theirs = dict(enumerate(recorded, 1))
        at = next(i for i in range(1, version + 1) if theirs.get(i) != m.names[i - 1])
        raise JournalError(
            f"{path}: its migration {at} is {theirs.get(at, 'missing')!r}, this kalashi's is {m.names[at - 1]!r}: "
            "another build of kalashi migrated it",
            hint=f"use the kalashi that migrated this {m.store}, or pass --journal with another file",
        )


def _last_migrated_by(db: sqlite3.Connection) -> str:
    try:
        row = db.execute(f"SELECT kalashi FROM {MIGRATIONS_TABLE} ORDER BY version DESC LIMIT 1").fetchone()
    except sqlite3.Error:
        return ""
    return str(row[0]) if row else ""


def check_readable(found: Found, m: Migrations, path: Path, *, hint: str) -> None:
    """Refuse, on a read-only open, a store older than this code reads (it would have to be migrated).

    Raises:
        JournalError: the store's layout is an older version's; ``hint`` says which command migrates it.
    """
    if not found.blank and found.effective < m.latest:
        raise JournalError(
            f"{path} is a {m.store} of schema version {found.effective}; this kalashi ({__version__}) "
            f"reads version {m.latest} and migrates only when it opens the {m.store} to write",
            hint=hint,
        )


def migrate(db: sqlite3.Connection, m: Migrations, path: Path, *, now_ms: Callable[[], int] | None = None) -> list[str]:
    """Bring a writable store to the latest version atomically; return the names of the migrations run.

    ``db`` must be in autocommit mode (``isolation_level=None``) and not in a transaction.

    Raises:
        StoreTooNew: a newer kalashi migrated it (nothing is changed).
        JournalError: it is not this store, or a migration failed (rolled back: nothing is changed).
        sqlite3.Error: the file cannot be read or locked.
    """
    found = inspect(db, m, path)
    if found.version == m.latest and not found.legacy:
        return []
    db.execute("BEGIN IMMEDIATE")  # the write lock; another process may have migrated it meanwhile
    name = ""
    try:
        found = inspect(db, m, path)
        start = 0 if found.legacy else found.version  # a legacy store replays migration 1 (IF NOT EXISTS)
        applied: list[str] = []
        if start < m.latest:
            db.execute(
                f"CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE} (version INTEGER PRIMARY KEY, "
                "name TEXT NOT NULL UNIQUE, applied_ms INTEGER NOT NULL, kalashi TEXT NOT NULL)"
            )
            clock = now_ms or (lambda: time.time_ns() // 1_000_000)
            for version, fn in enumerate(m.steps[start:], start + 1):
                name = fn.__name__
                fn(db)
                db.execute(
                    f"INSERT INTO {MIGRATIONS_TABLE} (version, name, applied_ms, kalashi) VALUES (?, ?, ?, ?)",
                    (version, name, clock(), __version__),
                )
                applied.append(name)
            db.execute(f"PRAGMA user_version = {m.latest:d}")
        db.execute("COMMIT")
        return applied
    except BaseException as e:
        if db.in_transaction:  # SQLite may have rolled back already (a full disk, an I/O error)
            db.execute("ROLLBACK")
        if name and not isinstance(e, KeyboardInterrupt | SystemExit | JournalError):
            raise JournalError(
                f"{path}: migration {name} of the {m.store} failed ({type(e).__name__}: {e}); "
                f"the {m.store} is unchanged",
                hint="report this with the file kept as it is; the previous kalashi still opens it",
            ) from None
        raise


def run_script(db: sqlite3.Connection, script: str) -> None:
    """Run SQL statements one by one inside the caller's transaction (``executescript`` would commit)."""
    statement = ""
    for line in script.splitlines(keepends=True):
        statement += line
        if sqlite3.complete_statement(statement):
            db.execute(statement)
            statement = ""
    if statement.strip():
        raise ValueError(f"incomplete SQL statement: {statement.strip()[:60]}")
