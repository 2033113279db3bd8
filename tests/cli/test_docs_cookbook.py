"""docs/cookbook.md works as written: its tested blocks run, in order, against the sim.

A block preceded by ``<!-- cookbook-test -->`` (or ``<!-- cookbook-test: NAME -->``) is run with
bash (``set -euo pipefail``) in one scratch directory shared by all blocks, with the venv's
``kalashi`` first on the PATH; the Python block named ``python`` is the CI smoke test, run here
with pytest's own fixtures. What a reader does between two blocks ("later") is done by the
hooks below, never by editing the page.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import needs
import pytest

REPO = Path(__file__).resolve().parents[2]
COOKBOOK = REPO / "docs" / "cookbook.md"
BLOCK = re.compile(r"<!-- cookbook-test(?::\s*(?P<name>[\w-]+))? -->\n```(?P<lang>\w+)\n(?P<body>.*?)\n```", re.S)
BIN = Path(sys.executable).parent


def blocks() -> list[tuple[str, str, str]]:
    """(name, language, code) of every tested block, in page order."""
    return [(m["name"] or f"block-{i}", m["lang"], m["body"]) for i, m in enumerate(BLOCK.finditer(COOKBOOK.read_text()))]


def shell_env(work: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KALASHI_", "KALSHI_"))}
    return {**env, "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}", "NO_COLOR": "1",
            # the first block exports this too; later blocks run in fresh shells
            "KALASHI_HOME": str(work / "kalashi-home"),
            # a smaller sim than the default 2 000 markets keeps the recipes quick (they run as written)
            "KALASHI_SOURCE": "sim:seed=2,markets=600"}


def wait_for(predicate: Any, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (exited, not yet reaped by its vanished parent shell) counts as gone
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return True


def before(name: str, work: Path) -> None:
    if name == "nohup-stop":  # "later": the loop has written an iteration
        wait_for(lambda: (work / "loop.jsonl").is_file() and (work / "loop.jsonl").stat().st_size > 0,
                 "the nohup'd loop's first iteration")


def after(name: str, work: Path, out: str) -> None:
    if name == "nohup-stop":
        pid = int((work / "loop.pid").read_text())
        wait_for(lambda: not _alive(pid), "the loop to stop after SIGTERM")
        its = [json.loads(line) for line in (work / "loop.jsonl").read_text().splitlines()]
        assert its and all(r["kind"] == "iteration" for r in its)
        assert "Traceback" not in (work / "loop.log").read_text()
    elif name == "nightly":
        health = [json.loads(line) for line in (work / "kalashi-home" / "heal.jsonl").read_text().splitlines()]
        assert health[-1]["name"] == "overall"


needs_jq = needs.program("jq", "the cookbook's recipes use jq")


@needs_jq
def test_the_cookbook_shell_blocks_run_as_written(tmp_path: Path) -> None:
    shell = [(n, code) for n, lang, code in blocks() if lang == "sh"]
    assert len(shell) >= 10, "the cookbook lost its tested blocks"
    for name, code in shell:
        before(name, tmp_path)
        p = subprocess.run(["bash", "-c", "set -euo pipefail\n" + code], cwd=tmp_path, env=shell_env(tmp_path),
                           capture_output=True, text=True, timeout=180)
        # the nightly script exits 10 when the machine is merely degraded (e.g. < 1 GB of free disk)
        ok = (0, 10) if name == "nightly" else (0,)
        assert p.returncode in ok, (f"cookbook block {name} exited {p.returncode}:\n{code}\n--- stdout:\n{p.stdout[-2000:]}"
                                    f"\n--- stderr:\n{p.stderr[-2000:]}")
        assert "Traceback" not in p.stderr, p.stderr
        after(name, tmp_path, p.stdout)


def test_the_ci_smoke_snippet_passes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (code,) = [c for n, lang, c in blocks() if n == "python"]
    namespace: dict[str, Any] = {}
    exec(compile(code, "docs/cookbook.md#ci-smoke", "exec"), namespace)  # noqa: S102 - our own docs
    tests = [f for name, f in namespace.items() if name.startswith("test_")]
    assert len(tests) == 3
    for i, test in enumerate(tests):
        work = tmp_path / str(i)
        work.mkdir()
        with monkeypatch.context() as mp:
            test(work, mp)
