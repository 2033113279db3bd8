"""Wiring from options: sources get the profile's token buckets; consent before any network."""

from __future__ import annotations

import pytest

from kalashi_cli.context import open_source, require_consent
from kalashi_cli.errors import ConsentError, UsageError
from kalashi_cli.profile import load_profile, parse_profile


def test_kalshi_source_takes_the_profile_rate_limits() -> None:
    prof = parse_profile("rate_limits:\n  read_per_second: 37\n  read_capacity: 74\n")
    src = open_source("kalshi", prof)
    try:
        limiter = src.client.limiter  # type: ignore[attr-defined]
        assert (limiter.read.rate, limiter.read.capacity) == (37, 74)
    finally:
        src.close()


def test_unknown_source_names_the_valid_ones() -> None:
    with pytest.raises(UsageError, match="unknown source 'nope'"):
        open_source("nope")


def test_consent_is_checked_without_the_network() -> None:
    prof = load_profile("default")
    assert require_consent("paper", prof, {}) == {}
    with pytest.raises(ConsentError, match="allow_live"):
        require_consent("live", prof, {})
    with pytest.raises(ConsentError, match="KALSHI_API_KEY_ID"):
        require_consent("demo", prof, {})
