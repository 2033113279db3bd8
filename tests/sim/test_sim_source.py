"""SimSource: the sim universe behind the MarketSource port, and its descriptor."""

from __future__ import annotations

import subprocess
import sys

import pytest

from kalashi_cli.errors import ProfileError, UsageError
from kalashi_cli.ports import MarketSource, SourceEvents
from kalashi_cli.sim.source import SimSource, parse_sim_spec


def test_bare_sim_means_the_defaults() -> None:
    src = parse_sim_spec("sim")
    assert (src.seed, src.markets, src.step) == (0, 2000, 0)
    assert src.describe() == "sim:seed=0,markets=2000,step=0"
    assert src.name == "sim" and src.api_calls == 0
    assert isinstance(src, MarketSource)


@pytest.mark.parametrize(
    "spec",
    ["sim:seed=1,markets=5000,step=2", " sim:markets=300 ", "sim:step=9,seed=4", "sim:", "sim:seed=2,forecast=35"],
)
def test_descriptor_round_trip(spec: str) -> None:
    src = parse_sim_spec(spec)
    again = parse_sim_spec(src.describe())
    assert (again.seed, again.markets, again.step, again.forecast) == (src.seed, src.markets, src.step, src.forecast)
    assert again.describe() == src.describe()


def test_the_forecast_is_off_unless_the_descriptor_or_the_profile_turns_it_on() -> None:
    from kalashi_cli.context import open_source
    from kalashi_cli.profile import load_profile, parse_profile

    plain = open_source("sim:seed=4,markets=300", load_profile("default"))
    assert plain.describe() == "sim:seed=4,markets=300,step=0"
    assert all(m.forecast_p is None for m in plain.list_markets())
    skilled = parse_profile("name: t\nsim:\n  forecast_skill: 0.25\n")
    on = open_source("sim:seed=4,markets=300", skilled)
    assert on.describe() == "sim:seed=4,markets=300,step=0,forecast=25"  # records' src say so
    assert any(m.forecast_p is not None for m in on.list_markets())
    # the descriptor wins over the profile, and a later stage rebuilds the same forecast from it
    assert open_source("sim:seed=4,markets=300,forecast=80", skilled).describe().endswith(",forecast=80")
    again = parse_sim_spec(on.describe())
    assert [m.forecast_p for m in again.list_markets()] == [m.forecast_p for m in on.list_markets()]
    with pytest.raises(ProfileError, match="forecast_skill"):
        parse_profile("sim:\n  forecast_skill: 1.5\n")
    with pytest.raises(ProfileError, match="forecast_skill"):
        parse_profile("sim:\n  forecast_skill: 0.125\n")


def test_the_arbitrage_knob_comes_from_the_descriptor_or_the_profile() -> None:
    """``sim: arbitrage_share`` / ``arbitrage=PCT`` let more of the drawn arbitrage stand (tests, demos)."""
    from kalashi_cli.context import open_source
    from kalashi_cli.profile import load_profile, parse_profile
    from kalashi_cli.sim.universe_core import ARBITRAGE_SHARE

    plain = open_source("sim:seed=4,markets=300", load_profile("default"))
    assert isinstance(plain, SimSource)
    assert plain.describe() == "sim:seed=4,markets=300,step=0"
    assert plain.universe.arbitrage_share == ARBITRAGE_SHARE
    armed = open_source("sim:seed=4,markets=300", parse_profile("name: t\nsim:\n  arbitrage_share: 1\n"))
    assert armed.describe() == "sim:seed=4,markets=300,step=0,arbitrage=100"  # records' src say so
    again = parse_sim_spec(armed.describe())
    assert again.universe.arbitrage_share == 1.0
    assert parse_sim_spec("sim:arbitrage=0").universe.arbitrage_share == 0.0
    with pytest.raises(ProfileError, match="arbitrage_share"):
        parse_profile("sim:\n  arbitrage_share: 1.5\n")


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ("sim:seed=1,marketz=5", ["marketz", "seed, markets, step, forecast"]),
        ("sim:seed=x", ["seed", "whole number"]),
        ("sim:seed=1,seed=2", ["seed", "twice"]),
        ("sim:markets=0", ["markets", "out of range"]),
        ("sim:step=-1", ["step", "out of range"]),
        ("sim:seed", ["seed", "key=value"]),
        ("sim:forecast=101", ["forecast", "out of range"]),
        ("sim:arbitrage=101", ["arbitrage", "out of range"]),
        ("simulator", ["not a sim source descriptor"]),
    ],
)
def test_bad_descriptors_name_the_key_and_the_valid_ones(spec: str, words: list[str]) -> None:
    with pytest.raises(UsageError) as err:
        parse_sim_spec(spec)
    for w in words:
        assert w in str(err.value)
    assert err.value.exit_code == 2


def test_constructor_limits() -> None:
    with pytest.raises(UsageError, match="markets"):
        SimSource(markets=0)
    with pytest.raises(UsageError, match="step"):
        SimSource(step=-3)


def test_listing_books_and_advance() -> None:
    src = SimSource(seed=3, markets=700, step=5)
    listed = list(src.list_markets())
    assert len(listed) == 700
    some = [listed[0].ticker, listed[350].ticker, "KXNOPE-26JAN01G0-X"]
    books = src.books(some)
    assert set(books) == {listed[0].ticker, listed[350].ticker}
    assert books[listed[350].ticker] == listed[350]
    t0 = src.now_ms()
    trades = settlements = 0
    for i in range(1, 31):
        ev = src.advance()
        assert isinstance(ev, SourceEvents)
        assert ev.step == src.step == 5 + i
        assert ev.now_ms == src.now_ms() == t0 + i * 10_000
        assert src.describe() == f"sim:seed=3,markets=700,step={5 + i}"
        trades += len(ev.trades)
        settlements += len(ev.settlements)
        assert all(t0 + (i - 1) * 10_000 < t.ts_ms <= ev.now_ms for t in ev.trades)
    assert trades > 0 and settlements > 0
    assert src.api_calls == 0
    src.close()


def test_a_later_stage_rebuilds_the_same_books_from_the_descriptor() -> None:
    src = SimSource(seed=8, markets=900)
    for _ in range(4):
        src.advance()
    first = list(src.list_markets())
    later = parse_sim_spec(src.describe())  # e.g. `order --paper` at the end of a pipe
    tickers = [m.ticker for m in first[::50]]
    assert later.books(tickers) == {m.ticker: m for m in first[::50]}
    assert list(later.list_markets()) == first


def test_importing_the_source_is_cheap() -> None:
    code = (
        "import sys, kalashi_cli.sim.source as s\n"
        "print('kalashi_cli.sim.universe' in sys.modules, 'numpy' in sys.modules)\n"
        "s.parse_sim_spec('sim:markets=10')\n"
        "print('kalashi_cli.sim.universe' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.split() == ["False", "False", "False"]
