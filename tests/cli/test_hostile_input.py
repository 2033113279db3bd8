"""Hostile and broken input ends in a documented exit code and a message naming file, line and key.

Issue 13 items 6–8: YAML "billion laughs", duplicate keys, empty and binary profiles, absurd
profile values; out-of-range top-of-book fields for analyze; absurd numbers for correlate; a
disk that fills up under metrics.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from kalashi_cli.errors import ProfileError
from kalashi_cli.profile import parse_profile

from .conftest import SIM, Kalashi, records

WAIT = 120.0  # seconds: the bound on a subprocess (the machine is shared and loaded)

#: nine levels of nine: 9^9 ≈ 387 million strings when every alias is walked — about 1 KB of YAML
LAUGHS = "".join(
    [f"a: &a [{', '.join(['lol'] * 9)}]\n"]
    + [f"{n}: &{n} [{', '.join(['*' + p] * 9)}]\n" for p, n in zip("abcdefgh", "bcdefghi", strict=True)]
)


def _limited_memory() -> None:  # runs in the child before exec
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (1_500_000_000, 1_500_000_000))


# -- item 6: profiles ----------------------------------------------------------------------------


def test_billion_laughs_profile_is_refused_quickly_in_bounded_memory(tmp_path: Path) -> None:
    bomb = tmp_path / "laughs.yaml"
    bomb.write_text(LAUGHS)
    assert len(LAUGHS) < 1200
    env = {**os.environ, "KALASHI_HOME": str(tmp_path / "home")}
    for args in (["profile", "validate", str(bomb)], ["run-loop", "--paper", "-n", "1", "--profile", str(bomb)]):
        res = subprocess.run(
            [sys.executable, "-m", "kalashi_cli", *args],
            capture_output=True,
            text=True,
            timeout=WAIT,
            env=env,
            preexec_fn=_limited_memory,
        )
        assert res.returncode == 4, res.stderr
        assert f"{bomb}:2: YAML alias *a is not allowed in a profile" in res.stderr


def test_aliases_are_refused_even_when_small() -> None:
    with pytest.raises(ProfileError, match=r"p.yaml:4: YAML alias \*k is not allowed"):
        parse_profile("correlate:\n  keyword_groups:\n    crypto: &k [btc]\n    coins: *k\n", "p.yaml")


def test_duplicate_key_names_file_line_and_key() -> None:
    with pytest.raises(ProfileError, match=r"mine.yaml:3: duplicate key 'max_open_orders'"):
        parse_profile("risk:\n  max_open_orders: 5\n  max_open_orders: 500\n", "mine.yaml")
    with pytest.raises(ProfileError, match=r"mine.yaml:3: duplicate key 'risk'"):
        parse_profile("risk:\n  max_open_orders: 5\nrisk: {}\n", "mine.yaml")


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n", "---\n"])
def test_an_empty_profile_is_an_error(kalashi: Kalashi, tmp_path: Path, text: str) -> None:
    f = tmp_path / "empty.yaml"
    f.write_text(text)
    res = kalashi("profile", "validate", str(f), code=4)
    assert f"{f}: the profile is empty" in res.stderr


@pytest.mark.parametrize(
    ("yaml_text", "words"),
    [
        (
            "risk:\n  max_open_orders: 1e38\n",
            "risk.max_open_orders: Expected int, got str (allowed: an integer from 1 to 100000)",
        ),
        ("risk:\n  max_open_orders: 100000000000\n", "risk.max_open_orders: Expected int <= 100000"),
        ("risk:\n  max_order_cost: '1e38'\n  max_daily_cost: '1e39'\n", "risk.max_order_cost: must be <= 1000000000"),
        ("paper:\n  starting_balance: 1e30\n", "paper.starting_balance: must be <= 1000000000"),
        ("analyze:\n  spread:\n    min_spread: 5\n", "analyze.spread.min_spread: must be <= 1"),
        ("loop:\n  interval_seconds: 1e9\n", "loop.interval_seconds: must be <= 86400"),
        ("rate_limits:\n  read_per_second: 9999999999\n", "rate_limits.read_per_second: Expected int <= 100000"),
        ("sizing:\n  min_count: 1e12\n", "sizing.min_count: must be <= 1000000"),
    ],
)
def test_absurd_values_are_refused_with_their_bounds(
    kalashi: Kalashi, tmp_path: Path, yaml_text: str, words: str
) -> None:
    f = tmp_path / "absurd.yaml"
    f.write_text(yaml_text)
    res = kalashi("profile", "validate", str(f), code=4)
    assert re.search(rf"{re.escape(str(f))}:\d+: {re.escape(words)}", res.stderr), res.stderr


def test_every_numeric_profile_field_has_an_upper_bound() -> None:
    from kalashi_cli.profile import profile_schema

    schema = profile_schema()
    unbounded = [
        f"{name}.{key}"
        for name, d in schema["$defs"].items()
        for key, prop in d["properties"].items()
        if (prop.get("type") in ("integer", ["string", "number"])) and "maximum" not in prop
    ]
    assert unbounded == []


def test_a_binary_profile_is_exit_4_not_unexpected(tmp_path: Path) -> None:
    f = tmp_path / "binary.yaml"
    f.write_bytes(b"\xfe\xed\xfa\xce\x00\x01risk: {}\n")
    res = subprocess.run(
        [sys.executable, "-m", "kalashi_cli", "profile", "validate", str(f)],
        capture_output=True,
        text=True,
        timeout=WAIT,
        env={**os.environ, "KALASHI_HOME": str(tmp_path / "home")},
    )
    assert res.returncode == 4, res.stderr
    assert f"{f}: not a text file (byte 0xfe at offset 0 is not UTF-8)" in res.stderr
    assert "unexpected" not in res.stderr


def test_deep_nesting_is_refused_with_a_line() -> None:
    with pytest.raises(ProfileError, match=r"deep.yaml:1: nested more than 20 levels deep"):
        parse_profile("[" * 5000, "deep.yaml")


# -- item 7 and 8: records ----------------------------------------------------------------------------


def _one(kalashi: Kalashi, *args: str) -> dict[str, Any]:
    return records(kalashi(*args).stdout)[0]


@pytest.fixture
def market(kalashi: Kalashi) -> dict[str, Any]:
    return _one(kalashi, "scan", "--source", SIM, "--limit", "1")


@pytest.mark.parametrize("with_depth", [True, False])
@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("no_bid", "-0.5", "field 'no_bid' is -0.5000; it must be between 0 and 1"),
        ("yes_bid", "NaN", "field 'yes_bid': price 'NaN' is not a decimal number"),
        ("no_ask", "1e400", "field 'no_ask'"),
        ("yes_ask", "1.5", "field 'yes_ask' is 1.5000; it must be between 0 and 1"),
        ("yes_ask_size", "abc", "field 'yes_ask_size': count 'abc' is not a decimal number"),
        ("yes_bid_size", "-3", "field 'yes_bid_size' is -3.00; it must be 0 or more"),
        ("no_bid", 0.5, "field 'no_bid'"),
    ],
)
def test_analyze_validates_top_of_book_fields(
    kalashi: Kalashi, tmp_path: Path, market: dict[str, Any], field: str, value: Any, words: str, with_depth: bool
) -> None:
    rec = {**market, field: value}
    if not with_depth:
        rec.pop("depth")
    f = tmp_path / "markets.jsonl"
    f.write_text(json.dumps(market) + "\n" + json.dumps(rec) + "\n")
    res = kalashi("analyze", str(f), code=3)
    assert f"{f}:2: bad market record: " in res.stderr and words in res.stderr, res.stderr


@pytest.fixture
def opportunity(kalashi: Kalashi, tmp_path: Path) -> dict[str, Any]:
    f = tmp_path / "m.jsonl"
    f.write_text(kalashi("scan", "--source", SIM, "--limit", "400").stdout)
    opps = [r for r in records(kalashi("analyze", str(f)).stdout) if r["kind"] == "opportunity"]
    return opps[0]


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("score", "1e400", "field 'score'"),
        ("edge_pct", "-1e999", "field 'edge_pct'"),
        ("cost", -1, "field 'cost' is -1.0000; it must be 0 or more"),
        ("cost", "-1", "field 'cost' is -1.0000; it must be 0 or more"),
        ("edge", "1e400", "field 'edge'"),
    ],
)
def test_correlate_refuses_absurd_numbers_as_bad_input(
    kalashi: Kalashi, tmp_path: Path, opportunity: dict[str, Any], field: str, value: Any, words: str
) -> None:
    f = tmp_path / "opps.jsonl"
    f.write_text(json.dumps({**opportunity, field: value}) + "\n")
    res = kalashi("correlate", str(f), code=3)
    assert f"{f}:1: bad opportunity record: " in res.stderr and words in res.stderr, res.stderr


# -- item 7: a full disk ----------------------------------------------------------------------------


def _small_files(limit: int) -> Any:
    def pre() -> None:  # runs in the child before exec: writes past `limit` fail with EFBIG instead of killing it
        import resource
        import signal

        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return pre


def test_metrics_on_a_full_disk_is_a_read_only_success(tmp_path: Path) -> None:
    from kalashi_cli.journal import Journal

    path = tmp_path / "journal.sqlite"
    env = {**os.environ, "KALASHI_HOME": str(tmp_path / "home")}
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "kalashi_cli",
            "run-loop",
            "--paper",
            "-n",
            "2",
            "--interval",
            "0",
            "--source",
            SIM,
            "--journal",
            str(path),
            "--quiet",
        ],
        capture_output=True,
        text=True,
        timeout=WAIT,
        env=env,
    )
    assert run.returncode == 0, run.stderr
    # Frames in the WAL that are not checkpointed yet (this connection stays open), so the next
    # write has to go past 32 KiB — where the child's file-size limit makes every write fail.
    keep = Journal(path)
    try:
        for i in range(40):
            keep.add_event("padding", {"i": i, "text": "x" * 2000})
        assert (tmp_path / "journal.sqlite-wal").stat().st_size > 40_000
        res = subprocess.run(
            [sys.executable, "-m", "kalashi_cli", "metrics", "--journal", str(path), "--format", "jsonl"],
            capture_output=True,
            text=True,
            timeout=WAIT,
            env=env,
            stdin=subprocess.DEVNULL,
            preexec_fn=_small_files(32_768),
        )
    finally:
        keep.close()
    assert res.returncode in (0, 9), res.stderr
    assert "unexpected" not in res.stderr and "cannot rollback" not in res.stderr
    if res.returncode == 0:  # metrics reads the journal read-only: a full disk does not stop it
        assert records(res.stdout)[0]["kind"] == "metrics"
    else:
        assert "kalashi: error: " in res.stderr and "disk" in res.stderr
