"""tests/needs.py: what the repository does not carry fails a test under CI and skips it, counted, elsewhere."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import needs
import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("ci", "outcome"),
    [
        ("true", pytest.fail.Exception),
        ("1", pytest.fail.Exception),
        ("", pytest.skip.Exception),
        ("false", pytest.skip.Exception),
        (None, pytest.skip.Exception),
    ],
)
def test_missing_things_fail_in_ci_and_skip_elsewhere(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, ci: str | None, outcome: type[BaseException]
) -> None:
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    monkeypatch.setattr(needs, "SHARED", tmp_path / "no-shared")
    with pytest.raises(outcome, match=r"^needs \.\./shared: .*no-shared/data/x\.json is not there"):
        needs.shared_path("data", "x.json")
    with pytest.raises(outcome, match="^needs no-such-program-kalashi: no-such-program-kalashi is not installed"):
        needs.tool("no-such-program-kalashi")

    @needs.program("no-such-program-kalashi", "for a probe")
    def probe() -> str:
        return "ran"

    with pytest.raises(outcome, match=r"\(for a probe\); apt-get install no-such-program-kalashi"):
        probe()


def test_what_is_there_is_returned(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CI", "true")
    (tmp_path / "data").mkdir()
    monkeypatch.setattr(needs, "SHARED", tmp_path)
    assert needs.shared_path("data") == tmp_path / "data"
    assert needs.tool("sh") and needs.program("sh")(lambda: "ran")() == "ran"
    needs.require(True, "x", "present: nothing happens")


def run_wire_tests(**env: str) -> subprocess.CompletedProcess[str]:
    """tests/kalshi/test_wire.py (quick; several of its tests read ../shared) in a child pytest."""
    base = {k: v for k, v in os.environ.items() if k not in ("CI", "KALASHI_SHARED_DIR", "PYTEST_ADDOPTS")}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "tests/kalshi/test_wire.py"],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_a_clone_without_shared_passes_and_says_what_was_not_run(tmp_path: Path) -> None:
    p = run_wire_tests(KALASHI_SHARED_DIR=str(tmp_path / "absent"))
    assert p.returncode == 0, p.stdout[-3000:]
    lines = [line for line in p.stdout.splitlines() if line.startswith("kalashi: ")]
    assert len(lines) == 1, p.stdout[-3000:]
    assert " tests not run, this machine lacks what they need: " in lines[0]
    assert " need ../shared " in lines[0] and "under CI=true they fail instead" in lines[0]


def test_under_ci_a_clone_without_shared_fails(tmp_path: Path) -> None:
    p = run_wire_tests(KALASHI_SHARED_DIR=str(tmp_path / "absent"), CI="true")
    assert p.returncode == 1, p.stdout[-3000:]
    assert "CI is set, so this fails instead of skipping" in p.stdout
    assert " skipped" not in p.stdout.splitlines()[-1] and "kalashi: " not in p.stdout
