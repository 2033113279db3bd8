"""Only the stores speak SQL: every other module reads and writes the journal through its methods.

The journal (``kalashi_cli/journal.py``), the shared migration machinery
(``kalashi_cli/migrations.py``) and the paper exchange's own store (``kalashi_cli/sim/paper.py``,
its tables only) may hold SQL and open SQLite connections; anywhere else in the package, SQL over
a journal table or a ``sqlite3.connect`` fails this test.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "kalashi_cli"
STORES = {"journal.py", "migrations.py", "sim/paper.py"}
JOURNAL_TABLES = (
    "meta",
    "intents",
    "orders",
    "fills",
    "settlements",
    "markets",
    "iterations",
    "records",
    "metrics",
    "events",
    "_migrations",
)
SQL = re.compile(
    r"\b(?:SELECT\b[\s\S]*\bFROM|INSERT(?:\s+OR\s+\w+)?\s+INTO|UPDATE|DELETE\s+FROM|REPLACE\s+INTO|"
    r"CREATE\s+(?:UNIQUE\s+)?(?:TABLE|INDEX)(?:\s+IF\s+NOT\s+EXISTS)?|ALTER\s+TABLE|DROP\s+TABLE|JOIN)\s+"
    rf"(?:{'|'.join(JOURNAL_TABLES)})\b|\bPRAGMA\b"
)


def sql_outside_stores(source: str) -> list[str]:
    """What in ``source`` speaks SQL to a journal: SQL text over its tables, or a SQLite connection."""
    found = []
    tree = ast.parse(source)
    prose = {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant)}
    for node in ast.walk(tree):
        if id(node) in prose:  # docstrings may describe the SQL a store runs
            continue
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL.search(node.value):
            found.append(f"line {node.lineno}: SQL {node.value.strip()[:60]!r}")
        elif isinstance(node, ast.JoinedStr):  # an f-string: its literal parts joined
            text = "".join(v.value for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str))
            if SQL.search(text):
                found.append(f"line {node.lineno}: SQL {text.strip()[:60]!r}")
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "connect"
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "sqlite3"
        ):
            found.append(f"line {node.lineno}: sqlite3.connect")
    return found


def test_the_scanner_sees_sql() -> None:
    assert sql_outside_stores("db.execute('SELECT ts_ms, detail FROM events WHERE kind=?', (k,))")
    assert sql_outside_stores('db.execute(f"SELECT {cols} FROM iterations WHERE n > ?")')
    assert sql_outside_stores("db.execute('INSERT INTO meta VALUES (?, ?)')")
    assert sql_outside_stores("rows = db.execute('PRAGMA integrity_check')")
    assert sql_outside_stores("import sqlite3\nc = sqlite3.connect(path)")
    assert not sql_outside_stores("'''Select the markets from the scan and update the orders.'''")
    assert not sql_outside_stores("x = {'orders': 1, 'records': []}")
    assert not sql_outside_stores('def f():\n    """Run PRAGMA integrity_check on the journal."""')


def test_the_scanner_finds_the_sql_that_bridge_and_heal_ran_at_c22539d() -> None:
    import subprocess

    repo = PACKAGE.parent
    for rel, at_least in (("kalashi_cli/bridge/attach.py", 9), ("kalashi_cli/heal/checks.py", 12)):
        try:
            old = subprocess.run(
                ["git", "-C", str(repo), "show", f"c22539d:{rel}"],
                capture_output=True,
                text=True,
                check=True,
                timeout=60,
            ).stdout
        except (OSError, subprocess.SubprocessError):
            return  # not a git checkout (an sdist): the synthetic cases above still hold
        assert len(sql_outside_stores(old)) >= at_least, rel


def test_no_sql_on_the_journal_outside_the_stores() -> None:
    offenders = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        if rel in STORES:
            continue
        found = sql_outside_stores(path.read_text(encoding="utf-8"))
        if found:
            offenders[rel] = found
    assert offenders == {}, (
        "read and write the journal through kalashi_cli.journal.Journal's methods "
        f"(add one there if it lacks one), not with SQL of your own: {offenders}"
    )
