"""Opening a journal: every failure is a JournalError that names the path (the CLI maps it to exit 9)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kalashi_cli.errors import JournalError
from kalashi_cli.journal import Journal


def test_a_folder_that_cannot_be_created_is_a_journal_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(JournalError, match="cannot create the journal") as e:
        Journal(blocker / "j.sqlite")
    assert str(blocker / "j.sqlite") in str(e.value) and "--journal PATH" in (e.value.hint or "")


def test_a_file_that_is_not_a_database_is_a_journal_error(tmp_path: Path) -> None:
    bad = tmp_path / "j.sqlite"
    bad.write_text("hello, not sqlite" * 100)
    with pytest.raises(JournalError, match="cannot open the journal"):
        Journal(bad)
