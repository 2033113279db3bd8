"""The AI insights card's texts (the metrics stage's recommendations) say what their numbers say."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from kalashi_cli.profile import load_profile
from kalashi_cli.stages.metrics import drawdown_advice

PROFILE = load_profile("default")  # reducing at 10 %, halt at 20 %


def cited_percents(text: str) -> list[Decimal]:
    return [Decimal(x) for x in re.findall(r"(\d+(?:\.\d+)?)%", text)]


@pytest.mark.parametrize(
    ("dd", "title", "says", "never"),
    [
        # the reported case: 18.8 % is past the 10 % level, not "at least half" of it
        ("18.80", "Drawdown passed the reducing level", "18.8% is past the 10% level", "at least half"),
        ("10.00", "Drawdown passed the reducing level", "10% is past the 10% level", "at least half"),
        ("5.00", "Drawdown is building", "5% is at least half of the 10% level", "past the"),
        ("9.99", "Drawdown is building", "9.99% is at least half of the 10% level", "past the"),
        ("20.00", "Drawdown reached the halt limit", "20% reached the 20% limit", "at least half"),
        ("31.25", "Drawdown reached the halt limit", "31.25% reached the 20% limit", "reducing only"),
    ],
)
def test_the_drawdown_sentence_matches_the_numbers_it_cites(dd: str, title: str, says: str, never: str) -> None:
    rec = drawdown_advice(Decimal(dd), PROFILE)
    assert rec is not None
    assert rec["title"] == title
    assert says in rec["detail"], rec["detail"]
    assert never not in rec["detail"]
    numbers = rec["numbers"]
    assert numbers["max_drawdown_pct"] == dd
    # every `_pct` number is a percent (docs/bridge-protocol.md §2), like max_drawdown_pct itself
    assert (numbers["reducing_at_pct"], numbers["halt_at_pct"]) == ("10.00", "20.00")
    # every percent the sentence cites is one of its numbers
    given = {Decimal(v) for k, v in numbers.items() if k.endswith("_pct")}
    assert set(cited_percents(rec["detail"])) <= given


def test_below_half_the_reducing_level_there_is_no_drawdown_advice() -> None:
    assert drawdown_advice(Decimal("4.99"), PROFILE) is None
    assert drawdown_advice(Decimal("0.00"), PROFILE) is None


def test_the_claim_holds_for_every_drawdown() -> None:
    """Whatever the drawdown, the sentence's comparison with each level it names is true."""
    reducing, halt = Decimal(10), Decimal(20)
    for cents in range(0, 4001, 7):
        dd = Decimal(cents) / 100
        rec = drawdown_advice(dd, PROFILE)
        if rec is None:
            assert dd < reducing / 2
            continue
        detail = rec["detail"]
        if "reached the" in detail:
            assert dd >= halt
        elif "is past the" in detail:
            assert reducing <= dd < halt
        else:
            assert "at least half of the 10% level" in detail and reducing / 2 <= dd < reducing
