"""Suite-wide fixtures: every test gets its own kalashi data dir (never the user's)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import needs
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


def shared_path(*parts: str) -> Path:
    """A path under ../shared (real Kalshi data); skip the test when it is absent (fail under CI)."""
    return needs.shared_path(*parts)


@pytest.fixture
def shared() -> object:
    """``shared("data", "kalshi-real", …)`` → that path under ../shared, or skip the test (fail under CI)."""
    return shared_path


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> Iterator[None]:
    """One line at the end: how many tests were not run because something was missing, and what.

    Only skips raised through tests/needs.py count (their message starts with ``needs …:``); under
    ``CI=true`` those tests failed instead, so the line never shows in CI. (A wrapper, so that the
    line comes after pytest's own summaries, just above its final count.)
    """
    yield
    missing: Counter[str] = Counter()
    for report in terminalreporter.stats.get("skipped", []):
        longrepr = report.longrepr
        message = longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)
        message = message.removeprefix("Skipped: ")
        if message.startswith(needs.PREFIX) and ":" in message:
            missing[message[len(needs.PREFIX) :].split(":", 1)[0]] += 1
    if missing:
        parts = ", ".join(f"{n} need {what}" for what, n in missing.most_common())
        terminalreporter.write_line(
            f"kalashi: {sum(missing.values())} tests not run, this machine lacks what they need: {parts} "
            f"(under CI=true they fail instead; see tests/needs.py)",
            yellow=True,
        )
