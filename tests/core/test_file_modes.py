"""Everything kalashi writes is private: files 0600 in folders it creates 0700 (issue 13 item 9).

And a refused real-money start touches nothing: no journal, no lock file.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kalashi_cli.cli.app import app
from kalashi_cli.files import create_private, open_private, private_dir
from kalashi_cli.journal import Journal
from kalashi_cli.service import TradingService
from kalashi_cli.sim.server import generate_demo_key

SIM = "sim:seed=2,markets=200"


def mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


@pytest.fixture(autouse=True)
def _open_umask() -> object:
    """The usual umask (022): a file left to it would be readable by everyone."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_a_trading_service_writes_only_private_files(tmp_path: Path) -> None:
    home = tmp_path / "new" / "data"  # neither folder exists yet
    journal = home / "journal-paper.sqlite"
    svc = TradingService("default", mode="paper", source=SIM, journal_path=journal)
    try:
        svc.run_iteration()
        svc.controls.halt("test")
        written = sorted(p for p in home.iterdir())
        names = {p.name for p in written}
        assert {
            "journal-paper.sqlite",
            "journal-paper.sqlite-wal",
            "journal-paper.sqlite-shm",
            "journal-paper.sqlite.trader.lock",
            "journal-paper.sqlite.paper-exchange.sqlite",
            "journal-paper.sqlite.paper-exchange.sqlite.lock",
        } <= names, names
        assert {p.name: oct(mode(p)) for p in written} == {p.name: oct(0o600) for p in written}
    finally:
        svc.close()
    assert mode(home) == 0o700 and mode(home.parent) == 0o700


def test_run_loop_in_a_new_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("KALASHI_HOME", str(home))
    res = CliRunner().invoke(app, ["run-loop", "--paper", "-n", "2", "--interval", "0", "--source", SIM, "--quiet"])
    assert res.exit_code == 0, res.stderr
    assert mode(home) == 0o700
    files = list(home.iterdir())
    assert files and {p.name: oct(mode(p)) for p in files} == {p.name: oct(0o600) for p in files}


def test_an_existing_journal_readable_by_others_is_made_private(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    Journal(path).close()
    os.chmod(path, 0o644)  # as an older kalashi left it
    Journal(path).close()
    assert mode(path) == 0o600


def test_an_existing_folder_is_left_alone(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    os.chmod(shared, 0o755)
    Journal(shared / "j.sqlite").close()
    assert mode(shared) == 0o755 and mode(shared / "j.sqlite") == 0o600


def test_the_helpers(tmp_path: Path) -> None:
    d = private_dir(tmp_path / "a" / "b")
    assert mode(d) == 0o700 and mode(d.parent) == 0o700
    create_private(d / "f")
    with open_private(d / "g") as f:
        f.write(b"x")
    with open_private(d / "g", "ab") as f:
        f.write(b"y")
    assert (d / "g").read_bytes() == b"xy"
    assert mode(d / "f") == mode(d / "g") == 0o600


def test_sim_exchange_demo_keys_are_private(tmp_path: Path) -> None:
    key = generate_demo_key(tmp_path / "keys")
    assert mode(tmp_path / "keys") == 0o700
    assert mode(Path(key.private_key_path)) == 0o600 and mode(Path(key.public_key_path)) == 0o600


@pytest.mark.parametrize(
    "args",
    [
        ["run-loop", "--live", "-n", "1"],
        ["serve-bridge", "--live", "--no-open"],
        ["mcp-serve", "--live"],
        ["mcp-serve", "--live", "--allow-trading"],
        ["flatten", "--live"],
        ["halt", "--live"],
        ["reconcile", "--live"],
        ["order", "--live"],
    ],
)
def test_a_refused_live_start_creates_no_journal(
    args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("KALASHI_HOME", str(home))
    res = CliRunner().invoke(app, args, input="")
    assert res.exit_code == 5, res.stderr  # consent: the profile does not allow live, no credentials
    assert "allow_live" in res.stderr
    assert not (home / "journal-live.sqlite").exists()
    assert not home.exists() or list(home.iterdir()) == []
