"""kalashi backtest's --source checks: what it refuses, with exit 2 and nothing on stdout."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from kalashi_cli.cli.app import app


@pytest.mark.parametrize(
    ("sources", "said"),
    [
        (["replay:run.jsonl.gz,speed=2"], "replay options (speed=2) are not backtest options"),
        (["kalshi-demo"], "backtest reads recordings or the sim, not 'kalshi-demo'"),
        (["sim:seed=3", "replay:run.jsonl.gz"], "a sim: source runs alone"),
        (["sim", "sim:seed=4"], "a sim: source runs alone"),
    ],
)
def test_a_source_backtest_cannot_play_is_a_usage_error(sources: list[str], said: str) -> None:
    args = ["backtest"]
    for s in sources:
        args += ["--source", s]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 2, res.stderr
    assert said in res.stderr
    assert res.stdout == ""
