"""`kalashi sim-exchange` refuses what it should, with the frozen exit codes, before serving anything."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kalashi_cli.cli.app import app


def _run(*args: str) -> tuple[int, str]:
    res = CliRunner().invoke(app, ["sim-exchange", *args])
    return res.exit_code, res.stderr


@pytest.mark.parametrize("args,needle", [
    (["--host", "0.0.0.0"], "loopback only"),
    (["--add-key", "no-equals-sign"], "KEY_ID=path"),
    (["--add-key", "k=/no/such/key.pem"], "cannot read"),
    (["--tier", "platinum"], "unknown API usage tier"),
    (["--balance", "lots"], "--balance"),
    (["--lose-mode", "sometimes"], "--lose-mode"),
    (["--error-rate", "2"], "2"),
])
def test_bad_options_are_usage_errors(args: list[str], needle: str) -> None:
    code, err = _run("--port", "0", *args)
    assert code == 2, err
    assert needle in err


def test_a_taken_port_is_a_usage_error(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        code, err = _run("--port", str(s.getsockname()[1]), "--markets", "5")
    assert code == 2 and "cannot listen" in err
