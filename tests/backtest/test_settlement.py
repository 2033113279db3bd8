"""Closes and settlements: from the recording, from --results, else the valuation rule (and the report says so)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from kalashi_cli.backtest import BacktestConfig, backtest
from kalashi_cli.backtest.source import BacktestSource, read_results
from kalashi_cli.domain import Market, Settlement
from kalashi_cli.kalshi.replay import bare_market
from kalashi_cli.money import Count, Price
from kalashi_cli.ports import SourceEvents

from .conftest import active_profile

CLOSE = "2026-05-11T00:00:10Z"
T0 = 1778457600000  # 2026-05-11T00:00:00Z


class Scripted:
    """A source with two markets closing at CLOSE (+10 s); A settles in the recording at +8 s."""

    name = "replay"
    api_calls = 0

    def __init__(self, steps: int = 20, step_ms: int = 1000) -> None:
        self.t = T0
        self.step_ms = step_ms
        self.left = steps
        self.m = {
            t: dataclasses.replace(
                bare_market(t, close_time=CLOSE),
                yes_bids=((Price(4000), Count(100)),),
                no_bids=((Price(5000), Count(100)),),
            )
            for t in ("KXA-1", "KXB-1")
        }

    @property
    def exhausted(self) -> bool:
        return self.left <= 0

    def describe(self) -> str:
        return "replay:scripted"

    def now_ms(self) -> int:
        return self.t

    def list_markets(self) -> Iterator[Market]:
        yield from self.m.values()

    def books(self, tickers: Sequence[str]) -> dict[str, Market]:
        return {t: self.m[t] for t in tickers if t in self.m}

    def advance(self) -> SourceEvents:
        self.t += self.step_ms
        self.left -= 1
        s = (Settlement("KXA-1", "KXA", "yes", self.t),) if self.t == T0 + 8_000 else ()
        return SourceEvents(settlements=s, now_ms=self.t)

    def close(self) -> None:
        pass


def test_markets_close_at_their_close_time_and_settle_by_the_best_rule_known() -> None:
    src = BacktestSource(Scripted(), results={"KXA-1": "no", "KXB-1": "no"})
    assert {m.status for m in src.list_markets()} == {"active"}
    settled: list[Settlement] = []
    while not src.exhausted:
        ev = src.advance()
        settled += ev.settlements
        if src.now_ms() >= T0 + 10_000:  # past the close: listed closed (scan drops them), never active
            assert all(m.status == "closed" for m in src.list_markets())
    # A settled in the recording at +8 s (the results file does not overrule it); B closed at +10 s and
    # settled from the results then
    assert [(s.ticker, s.result, s.settled_ts_ms) for s in settled] == [
        ("KXA-1", "yes", T0 + 8_000),
        ("KXB-1", "no", T0 + 10_000),
    ]
    src2 = BacktestSource(Scripted(), results={})
    got: list[Any] = []
    while not src2.exhausted:
        list(src2.list_markets())  # what the loop's scan does every iteration
        got += src2.advance().settlements
    assert [(s.ticker, s.result) for s in got] == [("KXA-1", "yes")]
    sources = src2.settlement_sources()
    assert sources["KXA-1"]["source"] == "recording" and sources["KXB-1"]["source"] == "valuation"


def test_a_close_the_clock_jumps_over_settles_at_the_close() -> None:
    src = BacktestSource(Scripted(steps=2, step_ms=86_400_000), results={"KXA-1": "no", "KXB-1": "yes"})
    list(src.list_markets())
    got = src.advance().settlements  # a day later (the next recording): both closed in between
    assert [(s.ticker, s.settled_ts_ms) for s in got] == [("KXA-1", T0 + 10_000), ("KXB-1", T0 + 10_000)]


def test_a_recording_that_ends_before_the_close_settles_from_the_results_at_the_end() -> None:
    src = BacktestSource(Scripted(steps=3), results={"KXA-1": "yes"})
    list(src.list_markets())
    got: list[Any] = []
    while not src.exhausted:
        got += src.advance().settlements
    assert [(s.ticker, s.result) for s in got] == [("KXA-1", "yes")]
    assert src.settlement_sources()["KXB-1"]["source"] == "valuation"


def test_results_settle_real_positions_and_without_them_the_valuation_rule_marks_them(
    particle_slice: Path, tmp_path: Path
) -> None:
    results = tmp_path / "results.csv"
    results.write_text("ticker,result\nKXBTC15M-26MAY110830-30,yes\n", encoding="utf-8")
    base = BacktestConfig(sources=(str(particle_slice),), profile=active_profile(), duration_s=120)
    with_results = backtest(dataclasses.replace(base, results=read_results(results), results_path=str(results)))
    without = backtest(base)
    assert with_results["summary"]["fills"] >= 1
    assert with_results["settlement"]["markets"]["KXBTC15M-26MAY110830-30"]["source"] == "results"
    assert with_results["summary"]["equity_marked"] == "0.0000"  # everything paid out
    assert without["settlement"]["by_rule"]["valuation"] == 1
    assert without["summary"]["equity_marked"] != "0.0000"  # still open, marked
    assert any("valuation rule" in n for n in without["notes"])
    # the same trades either way; only what the open position is worth differs
    assert with_results["summary"]["fills"] == without["summary"]["fills"]
