"""The risk profile: strict YAML, errors that name file/line/key, schema drift, run-time tightening."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kalashi_cli.errors import ProfileError
from kalashi_cli.profile import builtin_profiles, load_profile, parse_profile, profile_schema, profile_to_yaml

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "kalashi_cli" / "schemas" / "profile.schema.json"


@pytest.mark.parametrize("name", ["default", "conservative", "aggressive"])
def test_builtin_profiles_load(name: str) -> None:
    p = load_profile(name)
    assert p.name == name
    assert not p.allow_live, "no committed profile may allow live trading"


def test_unknown_key_names_file_line_and_path() -> None:
    with pytest.raises(ProfileError) as e:
        parse_profile("risk:\n  max_order_cost: '5.00'\n  max_ordr_cost: 4\n", "mine.yaml")
    assert "mine.yaml:3: unknown key 'risk.max_ordr_cost'" in str(e.value)
    assert "kalashi profile schema" in str(e.value)


def test_every_problem_of_a_profile_is_reported_in_one_pass() -> None:
    text = (
        "name: mine\nmax_order_cost: 5\nrisk:\n  max_ordr_cost: 4\n  max_open_orders: many\n"
        "  daily_loss_limit: -3\nsizing:\n  kelly_fraction: 1.5\nloop: 7\nscan:\n  statuses: active\n"
    )
    with pytest.raises(ProfileError) as e:
        parse_profile(text, "mine.yaml")
    msg = str(e.value)
    first, *problems = msg.splitlines()
    assert first.startswith("mine.yaml: 7 problems") and "kalashi profile schema" in first
    assert problems == [
        "  mine.yaml:2: unknown key 'max_order_cost' (did you mean 'risk.max_order_cost'?)",  # right key, wrong section
        "  mine.yaml:4: unknown key 'risk.max_ordr_cost' (did you mean 'risk.max_order_cost'?)",
        "  mine.yaml:5: risk.max_open_orders: Expected int, got str (allowed: an integer from 1 to 100000)",
        "  mine.yaml:6: risk.daily_loss_limit: must be >= 0, got -3",
        "  mine.yaml:8: sizing.kelly_fraction: must be <= 1, got 1.5",
        "  mine.yaml:9: loop: expected a mapping of keys, got int",
        "  mine.yaml:11: scan.statuses: Expected array, got str",
    ]


def test_a_typo_in_a_key_gets_a_did_you_mean() -> None:
    with pytest.raises(
        ProfileError,
        match=r"unknown key 'loop.intervl_seconds' \(did you mean "
        r"'loop.interval_seconds'\?\)",
    ):
        parse_profile("loop:\n  intervl_seconds: 5\n", "mine.yaml")
    with pytest.raises(ProfileError) as e:  # nothing close: no guess
        parse_profile("risk:\n  zzzz: 5\n", "mine.yaml")
    assert "did you mean" not in str(e.value)


def test_a_typo_in_a_profile_name_gets_a_did_you_mean() -> None:
    with pytest.raises(ProfileError, match=r"no profile named 'conservativ' \(did you mean 'conservative'\?\)"):
        load_profile("conservativ")
    with pytest.raises(ProfileError, match=r"unknown risk limit 'max_order_cots' \(did you mean 'max_order_cost'"):
        load_profile("default").tightened(max_order_cots="1.00")


def test_bad_value_names_the_key() -> None:
    with pytest.raises(ProfileError) as e:
        parse_profile("sizing:\n  kelly_fraction: 1.5\n", "mine.yaml")
    assert "mine.yaml:2: sizing.kelly_fraction: must be <= 1" in str(e.value)


def test_cross_field_check() -> None:
    with pytest.raises(ProfileError, match="<profile>:2: risk.reducing_drawdown_pct: must not exceed max_drawdown_pct"):
        parse_profile("risk:\n  reducing_drawdown_pct: 0.5\n  max_drawdown_pct: 0.2\n")


def test_yaml_syntax_error_has_a_line() -> None:
    with pytest.raises(ProfileError, match=r"x.yaml:2: not valid YAML"):
        parse_profile("risk:\n  - : : bad\n max: [\n", "x.yaml")


def test_missing_profile_lists_the_builtins(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="default"):
        load_profile(str(tmp_path / "nope.yaml"))


def test_floats_in_yaml_are_exact() -> None:
    p = parse_profile("analyze:\n  value:\n    min_edge: 0.1\n")
    assert str(p.analyze.value.min_edge) == "0.1"


def test_show_round_trips() -> None:
    for name, text in builtin_profiles().items():
        p = parse_profile(text, name)
        assert parse_profile(profile_to_yaml(p), "again") == p


def test_schema_is_committed_and_current() -> None:
    """Drift test: regenerate with `kalashi profile schema > kalashi_cli/schemas/profile.schema.json`."""
    committed = json.loads(SCHEMA_FILE.read_text())
    assert committed == json.loads(json.dumps(profile_schema(), sort_keys=True))


def test_committed_profiles_validate_against_the_schema() -> None:
    import jsonschema
    import yaml

    schema = profile_schema()
    for text in builtin_profiles().values():
        jsonschema.validate(yaml.safe_load(text), schema)


def test_limits_tighten_but_never_loosen() -> None:
    p = load_profile("default")
    assert str(p.tightened(max_order_cost="2.50").risk.max_order_cost) == "2.50"
    with pytest.raises(ProfileError, match="loosen"):
        p.tightened(max_daily_cost="1000")
    with pytest.raises(ProfileError, match="unknown risk limit"):
        p.tightened(max_yolo=1)


def test_compiled_builtin_profiles_match_their_yaml() -> None:
    """Drift test: regenerate with `python -m kalashi_cli.profile`."""
    from importlib import resources

    from kalashi_cli.profile import compiled_profile

    folder = resources.files("kalashi_cli.profiles")
    for name, text in builtin_profiles().items():
        shipped = folder.joinpath(f"{name}.compiled.json").read_bytes()
        assert shipped == compiled_profile(text, name) + b"\n", f"profiles/{name}.compiled.json is stale"
        assert load_profile(name) == parse_profile(text, name)
