"""CLI test helpers: run kalashi in-process with CliRunner, feed records between stages."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from kalashi_cli.cli.app import app

SIM = "sim:seed=3,markets=400"


class Kalashi:
    def __init__(self, tmp_path: Path) -> None:
        self.runner = CliRunner()
        self.tmp = tmp_path

    def __call__(self, *args: str, input: str | bytes | None = None, code: int | None = 0) -> Any:
        res = self.runner.invoke(app, list(args), input=input)
        if code is not None and res.exit_code != code:
            raise AssertionError(
                f"kalashi {' '.join(args)} exited {res.exit_code}, wanted {code}\n"
                f"stdout: {res.stdout[-2000:]}\nstderr: {res.stderr[-2000:]}\n{res.exception!r}"
            )
        return res


def records(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@pytest.fixture
def kalashi(tmp_path: Path) -> Kalashi:
    return Kalashi(tmp_path)
