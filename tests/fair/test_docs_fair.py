"""docs/fair-value.md and the default profile agree: no model trades by default that has not beaten the mid."""

from __future__ import annotations

import re
from pathlib import Path

from kalashi_cli.profile import load_profile

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "fair-value.md"


def test_the_default_profile_trades_on_no_model_that_lost_to_the_mid() -> None:
    text = PAGE.read_text(encoding="utf-8")
    m = re.search(r"<!-- models that beat the mid: ([^>]*) -->", text)
    assert m, "docs/fair-value.md must say which models beat the market mid"
    winners = set() if m.group(1).strip() == "none" else {w.strip() for w in m.group(1).split(",")}
    for name in ("default", "conservative", "aggressive"):
        models = set(load_profile(name).fair.models)
        assert models <= winners, f"profile {name} enables {models - winners}, which did not beat the mid"


def test_the_page_names_every_model_and_the_settlement_index() -> None:
    text = PAGE.read_text(encoding="utf-8")
    for needle in (
        "`ladder`",
        "`crypto`",
        "`crypto-t`",
        "CF Benchmarks",
        "BRTI",
        "60 seconds",
        "kalashi fair --evaluate",
    ):
        assert needle in text, needle
