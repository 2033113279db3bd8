"""The value strategy trades only on a fair value, and only past min_edge plus the value's uncertainty."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import msgspec
from core.factories import FakeSource

from kalashi_cli.domain import FairValue, Market
from kalashi_cli.fair.base import FairEngine
from kalashi_cli.journal import Journal
from kalashi_cli.loop import TradingLoop
from kalashi_cli.money import COUNT_SCALE, ONE_DOLLAR, Price
from kalashi_cli.profile import load_profile, money, parse_profile
from kalashi_cli.sim.paper import PaperBroker, paper_exchange_path
from kalashi_cli.stages.analyze import Analyzer

from .conftest import mk

P = load_profile("default")
NO_FORECAST = msgspec.structs.replace(
    P,
    analyze=msgspec.structs.replace(P.analyze, value=msgspec.structs.replace(P.analyze.value, use_sim_forecast=False)),
)


def thin_cheap_ask(ticker: str = "V-1", event: str = "V") -> Market:
    """Deep YES bid 0.50 and deep ask 0.56, but one two-lot ask at 0.40: the ladder model says 0.53."""
    return mk(
        ticker,
        event=event,
        yes=((5000, 100 * COUNT_SCALE),),
        no=((ONE_DOLLAR - 4000, 2 * COUNT_SCALE), (ONE_DOLLAR - 5600, 100 * COUNT_SCALE)),
    )


def values(analyzer: Analyzer, markets: list, as_of_ms: int = 1_000) -> list:
    return [o for o in analyzer.analyze(markets, as_of_ms=as_of_ms) if o.strategy == "value"]


def test_no_fair_value_no_value_trade() -> None:
    m = mk("V-1", event="V", bid=0.30, ask=0.32, forecast_p=9000)
    assert values(Analyzer(NO_FORECAST), [m]) == []


def test_the_standard_error_raises_the_bar() -> None:
    m = mk("V-1", event="V", bid=0.50, ask=0.52, size=50)
    # fair 0.60 vs ask 0.52: 0.08 minus a 0.0175 fee = 0.0625 per contract
    sure = FairValue("V-1", Decimal("0.60"), "mine", se=Decimal(0))
    assert values(Analyzer(NO_FORECAST, fair={"V-1": sure}), [m])
    unsure = FairValue("V-1", Decimal("0.60"), "mine", se=Decimal("0.04"))  # needs 0.03 + 0.04 = 0.07
    assert values(Analyzer(NO_FORECAST, fair={"V-1": unsure}), [m]) == []
    doubled = msgspec.structs.replace(
        NO_FORECAST, fair=msgspec.structs.replace(NO_FORECAST.fair, uncertainty_multiple=Decimal(0))
    )
    (o,) = values(Analyzer(doubled, fair={"V-1": unsure}), [m])  # k = 0: the uncertainty is ignored
    assert "model mine" in o.reason


def test_a_value_older_than_the_books_is_ignored() -> None:
    m = mk("V-1", event="V", bid=0.50, ask=0.52, size=50)
    old = FairValue("V-1", Decimal("0.70"), "mine", inputs_ms=1_000)
    assert values(Analyzer(NO_FORECAST, fair={"V-1": old}), [m], as_of_ms=1_000 + 59_000)
    assert values(Analyzer(NO_FORECAST, fair={"V-1": old}), [m], as_of_ms=1_000 + 61_000) == []


def test_bare_prices_still_work() -> None:
    m = mk("V-1", event="V", bid=0.50, ask=0.52, size=50)
    (o,) = values(Analyzer(NO_FORECAST, fair={"V-1": Price(6000)}), [m])
    assert "your fair-value file" in o.reason


def test_the_profile_models_run_inside_analyze() -> None:
    prof = msgspec.structs.replace(NO_FORECAST, fair=msgspec.structs.replace(NO_FORECAST.fair, models=("ladder",)))
    an = Analyzer(prof)
    (o,) = values(an, [thin_cheap_ask()])
    assert isinstance(an.engine, FairEngine) and an.engine.names == ["ladder"]
    assert o.legs[0].outcome == "yes" and o.legs[0].price == 4000
    assert "model ladder" in o.reason and "uncertainty requires" in o.reason
    # the default profile runs no model: the same market gives nothing
    assert values(Analyzer(NO_FORECAST), [thin_cheap_ask()]) == []


def test_run_loop_takes_fair_models_from_the_profile(tmp_path: Path) -> None:
    text = (Path(__file__).resolve().parents[2] / "profiles" / "default.yaml").read_text()
    text = text.replace("  models: []", "  models: [ladder]").replace(
        "use_sim_forecast: true", "use_sim_forecast: false"
    )
    prof = parse_profile(text, "test.yaml")
    assert prof.fair.models == ("ladder",)
    src = FakeSource([thin_cheap_ask()])
    j = Journal(tmp_path / "journal-paper.sqlite")
    broker = PaperBroker(src, paper_exchange_path(j.path), starting_balance=money(prof.paper.starting_balance))
    loop = TradingLoop(prof, src, broker, j)
    res = loop.run_iteration()
    opps = [r for r in res.records if r["kind"] == "opportunity" and r["strategy"] == "value"]
    assert opps and "model ladder" in opps[0]["reason"]
    orders = [r for r in res.records if r["kind"] == "order"]
    assert orders and orders[0]["price"] == "0.4000"
    j.close()


def test_analyzers_share_one_spot_source_per_descriptor(tmp_path: Path) -> None:
    spot = tmp_path / "spot.csv"
    spot.write_text("time,price\n2026-05-11T12:00:00Z,65000\n")
    crypto = msgspec.structs.replace(NO_FORECAST.fair.crypto, spot=f"file:{spot}")
    prof = msgspec.structs.replace(
        NO_FORECAST, fair=msgspec.structs.replace(NO_FORECAST.fair, models=("crypto", "ladder"), crypto=crypto)
    )
    a, b = Analyzer(prof), Analyzer(prof)
    assert a.engine is not None and b.engine is not None
    assert a.engine.names == ["crypto", "ladder"]
    assert a.engine.models[0].spot is b.engine.models[0].spot  # type: ignore[attr-defined]
    a.close()
    b.close()
