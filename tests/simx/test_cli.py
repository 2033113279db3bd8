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


@pytest.mark.parametrize(
    "args,needle",
    [
        (["--host", "0.0.0.0"], "loopback only"),
        (["--add-key", "no-equals-sign"], "KEY_ID=path"),
        (["--add-key", "k=/no/such/key.pem"], "cannot read"),
        (["--tier", "platinum"], "unknown API usage tier"),
        (["--balance", "lots"], "--balance"),
        (["--lose-mode", "sometimes"], "--lose-mode"),
        (["--error-rate", "2"], "2"),
    ],
)
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


def test_verbose_logs_requests_and_steps(tmp_path: Path) -> None:
    """`sim-exchange -v` says it logs requests and steps on stderr: it does."""
    import os
    import signal
    import subprocess
    import sys
    import time

    import httpx

    from .conftest import read_ready_line

    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kalashi_cli",
            "sim-exchange",
            "--port",
            "0",
            "--markets",
            "50",
            "--seed",
            "2",
            "--speed",
            "50",
            "-v",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "KALASHI_HOME": str(tmp_path / "home")},
    )
    try:
        ready = read_ready_line(proc)
        assert httpx.get(ready["url"] + "/exchange/status", trust_env=False, timeout=10).status_code == 200
        deadline = time.monotonic() + 20
        while httpx.get(ready["control_url"] + "/state", trust_env=False, timeout=10).json()["step"] < 2:
            assert time.monotonic() < deadline, "the market clock did not step"
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err[-2000:]
    assert "GET /trade-api/v2/exchange/status" in err, err[-2000:]
    assert "step " in err and "markets moved" in err, err[-2000:]
