"""Market data comes from the venue being traded (issue 13 item 2).

paper → the sim (as ever); demo → kalshi-demo, or the server KALASHI_EXCHANGE_URL points demo at;
live → kalshi. Any other source on demo/live is refused by every trading command unless
--allow-foreign-source is given, before any file is created.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from kalashi_cli.cli.app import app
from kalashi_cli.context import check_venue, source_venue, venue_source
from kalashi_cli.errors import UsageError
from kalashi_cli.kalshi.env import DEMO, PROD

SIMX = "http://127.0.0.1:8800/trade-api/v2"


def test_the_venue_of_each_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    assert venue_source("paper") == "sim"
    assert venue_source("demo") == "kalshi-demo"
    assert venue_source("live") == "kalshi"
    monkeypatch.setenv("KALASHI_EXCHANGE_URL", "http://127.0.0.1:8800")
    assert venue_source("demo") == f"kalshi:{SIMX}"
    assert venue_source("live") == "kalshi"  # live never goes anywhere but production


def test_where_a_source_gets_its_books(monkeypatch: pytest.MonkeyPatch) -> None:
    assert source_venue("sim:seed=1,markets=5") == "sim" and source_venue("replay:/x.jsonl,speed=2") == "replay"
    assert source_venue("kalshi,ws=1") == PROD.rest_url and source_venue("kalshi-demo") == DEMO.rest_url
    assert source_venue("kalshi:http://127.0.0.1:8800/,ws=0") == SIMX
    monkeypatch.setenv("KALASHI_EXCHANGE_URL", SIMX)
    assert source_venue("kalshi-demo,ws=1") == SIMX  # kalshi-demo follows the override, like the source itself


@pytest.mark.parametrize(
    ("mode", "spec", "ok"),
    [
        ("paper", "kalshi", True),
        ("paper", "replay:/r.jsonl", True),
        ("demo", "kalshi-demo,ws=1", True),
        ("demo", "sim", False),
        ("demo", "kalshi", False),
        ("demo", "replay:/r.jsonl", False),
        ("demo", f"kalshi:{SIMX}", False),
        ("live", "kalshi,ws=0", True),
        ("live", "kalshi-demo", False),
        ("live", "sim:seed=3", False),
    ],
)
def test_check_venue(mode: str, spec: str, ok: bool) -> None:
    if ok:
        check_venue(mode, spec)
        return
    with pytest.raises(UsageError) as e:
        check_venue(mode, spec)
    assert f"{mode} orders go to" in str(e.value) and "--allow-foreign-source" in str(e.value)
    check_venue(mode, spec, allow_foreign=True)


@pytest.fixture
def demo_key(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Credentials that pass the consent check (nothing here reaches the network)."""
    monkeypatch.setenv("KALSHI_API_KEY_ID", "test-key-id")
    monkeypatch.setenv("KALSHI_PRIVATE_KEY_PATH", str(tmp_path / "no-such.key"))


@pytest.mark.parametrize(
    "args",
    [
        ["run-loop", "--demo", "-n", "1", "--source", "sim"],
        ["run-loop", "--demo", "-n", "1", "--seed", "3"],  # --seed means the sim
        ["serve-bridge", "--demo", "--source", "sim:seed=1", "--no-open"],
        ["mcp-serve", "--demo", "--source", "sim"],
        ["mcp-serve", "--demo", "--allow-trading", "--source", "replay:/tmp/r.jsonl"],
        ["order", "--demo", "--source", "sim"],
        ["flatten", "--demo", "--source", "sim"],
        ["run-loop", "--live", "-n", "1", "--source", "kalshi-demo"],
    ],
)
def test_every_trading_command_refuses_a_foreign_source(args: list[str], demo_key: None, _isolated_home: Path) -> None:
    res = CliRunner().invoke(app, args, input="")
    assert res.exit_code == 2, (res.stderr, res.exception)
    assert "orders go to" in res.stderr and "--allow-foreign-source" in res.stderr
    assert not any(p.name.startswith("journal-") for p in _isolated_home.iterdir())


def test_order_refuses_candidates_computed_on_other_books(demo_key: None, _isolated_home: Path) -> None:
    runner = CliRunner()
    markets = runner.invoke(app, ["scan", "--source", "sim:seed=3,markets=400"]).stdout
    opps = runner.invoke(app, ["analyze"], input=markets).stdout
    cands = runner.invoke(app, ["correlate"], input=opps).stdout
    assert '"kind":"candidate"' in cands
    res = runner.invoke(app, ["order", "--demo"], input=cands)
    assert res.exit_code == 2, res.stderr
    assert "the candidates' books (src sim:seed=3,markets=400" in res.stderr and "demo orders go to" in res.stderr
