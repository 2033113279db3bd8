"""Suite-wide fixtures: every test gets its own kalashi data dir (never the user's)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import settings

# No per-example deadline: CI machines are shared and slow examples are not failures here
# (speed is measured in bench/, not asserted in tests).
settings.register_profile("kalashi", deadline=None)
settings.load_profile("kalashi")


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path_factory.mktemp("kalashi-home")
    monkeypatch.setenv("KALASHI_HOME", str(home))
    monkeypatch.delenv("KALASHI_PROFILE", raising=False)
    monkeypatch.delenv("KALASHI_SOURCE", raising=False)
    monkeypatch.delenv("KALASHI_JOURNAL", raising=False)
    monkeypatch.delenv("KALSHI_API_KEY_ID", raising=False)
    monkeypatch.delenv("KALSHI_PRIVATE_KEY_PATH", raising=False)
    monkeypatch.delenv("KALASHI_EXCHANGE_URL", raising=False)  # a developer's shell must not redirect tests
    monkeypatch.delenv("KALASHI_WS_URL", raising=False)
    monkeypatch.delenv("KALASHI_BRIDGE_TOKEN", raising=False)
    return home


SHARED = Path(__file__).resolve().parents[2] / "shared"


def shared_path(*parts: str) -> Path:
    """A path under ../shared (real Kalshi data); skip the test when it is absent."""
    p = SHARED.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"{p} is not available (../shared is not part of the repository)")
    return p


@pytest.fixture
def shared() -> object:
    """``shared("data", "kalshi-real", …)`` → that path under ../shared, or skip the test."""
    return shared_path
