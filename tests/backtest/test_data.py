"""Latency, sequence gaps, unreadable files and several recordings merged by time."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from kalashi_cli.backtest import BacktestConfig, backtest
from kalashi_cli.backtest.source import BacktestSource, LatencyView
from kalashi_cli.kalshi.replay import MergedReplaySource, ReplaySource
from kalashi_cli.profile import load_profile

from .conftest import LATER, PARTICLE, active_profile, run_path, write_slice

TICKER = "KXBTC15M-26MAY110830-30"


def test_the_broker_sees_the_books_latency_ms_after_the_decision(particle_slice: Path) -> None:
    src = BacktestSource(ReplaySource(particle_slice))
    view = LatencyView(src, 400)
    moved = 0
    for _ in range(60):
        src.advance()
        now = src.now_ms()
        late = view.books([TICKER])[TICKER]
        # the truth 400 ms later: a fresh replay of the same file played to that instant
        truth = ReplaySource(particle_slice, prime=False, events=src.replays()[0].events)
        truth.advance_until(now + 401)
        want = truth.books([TICKER])[TICKER]
        assert (late.yes_bids, late.no_bids) == (want.yes_bids, want.no_bids)
        now_book = src.books([TICKER])[TICKER]
        moved += (now_book.yes_bids, now_book.no_bids) != (late.yes_bids, late.no_bids)
        assert late.status == now_book.status  # status and close as of the decision
    assert moved > 0  # the book does move within 400 ms on this run: the view is not the decision's book


def test_the_report_states_the_latency_and_a_longer_one_changes_what_fills(particle_slice: Path) -> None:
    base = BacktestConfig(sources=(str(particle_slice),), profile=active_profile(), duration_s=300)
    reps = {ms: backtest(dataclasses.replace(base, latency_ms=ms)) for ms in (0, 50, 2000)}
    assert [reps[ms]["latency_ms"] for ms in (0, 50, 2000)] == [0, 50, 2000]
    assert reps[0]["summary"]["fills"] >= 1
    outcome = {ms: (r["summary"]["orders"], r["summary"]["fills"], r["summary"]["pnl"]) for ms, r in reps.items()}
    assert len(set(outcome.values())) > 1, outcome


def test_a_sequence_gap_is_reported_for_its_file_and_the_run_goes_on(tmp_path: Path) -> None:
    src = run_path(PARTICLE)
    clean = write_slice(src, tmp_path / "clean.jsonl", 60)
    gapped = write_slice(src, tmp_path / "gap.jsonl", 60, drop=200)  # a delta in the middle goes missing
    rep = backtest(BacktestConfig(sources=(str(gapped), str(clean)), profile=load_profile("default")))
    files = {Path(f["path"]).name: f for f in rep["data"]["files"]}
    assert files["gap.jsonl"]["sequence_gaps"] == 1 and files["clean.jsonl"]["sequence_gaps"] == 0
    assert TICKER in files["gap.jsonl"]["stale_books"]  # no snapshot came after it
    assert files["gap.jsonl"]["complete"] and files["clean.jsonl"]["complete"]
    assert any("gap.jsonl: 1 sequence gap" in n for n in rep["notes"])


def test_an_unreadable_file_is_reported_and_the_others_are_played(tmp_path: Path) -> None:
    good = write_slice(run_path(PARTICLE), tmp_path / "good.jsonl.gz", 30, compress=True)
    bad = tmp_path / "bad.jsonl.gz"
    bad.write_bytes(good.read_bytes()[:500])  # a truncated gzip
    rep = backtest(BacktestConfig(sources=(str(bad), str(good)), profile=load_profile("default")))
    files = {Path(f["path"]).name: f for f in rep["data"]["files"]}
    assert "not a whole gzip file" in files["bad.jsonl.gz"]["error"]
    assert files["good.jsonl.gz"]["complete"] and files["good.jsonl.gz"]["events_played"] > 1000
    assert rep["data"]["complete"] is False
    assert any("unreadable" in n for n in rep["notes"])


def test_recordings_merge_by_time_and_a_file_s_markets_appear_with_its_first_event(tmp_path: Path) -> None:
    a = write_slice(run_path(PARTICLE), tmp_path / "a.jsonl", 20)
    b = write_slice(run_path(LATER), tmp_path / "b.jsonl", 20)
    merged = MergedReplaySource([b, a])  # order on the command line does not matter: time does
    first_b = merged.children[0].events[0].t_ms
    seen_before_b: set[str] = set()
    tickers: set[str] = set()
    last = 0
    while not merged.exhausted:
        ev = merged.advance()
        assert ev.now_ms >= last
        last = ev.now_ms
        names = {m.ticker for m in merged.list_markets()}
        tickers |= names
        if merged.now_ms() < first_b:
            seen_before_b |= names
    assert tickers == {TICKER, "KXBTC15M-26MAY150330-30"}
    assert seen_before_b == {TICKER}  # May 15's market never showed up on May 11
    assert [c.position[0] for c in merged.children] == [len(c.events) for c in merged.children]


def test_a_seeded_sim_backtest_needs_an_end_and_then_runs(tmp_path: Path) -> None:
    import json

    from typer.testing import CliRunner

    from kalashi_cli.cli.app import app

    res = CliRunner().invoke(app, ["backtest", "--source", "sim:seed=3,markets=50"])
    assert res.exit_code == 2 and "--iterations" in res.stderr
    res = CliRunner().invoke(app, ["backtest", "--source", "sim:seed=3,markets=50", "--iterations", "5"])
    assert res.exit_code == 0, res.stderr
    (rec,) = [json.loads(ln) for ln in res.stdout.splitlines() if ln.strip()]
    assert rec["kind"] == "backtest" and rec["iterations"] == 5 and rec["sources"] == ["sim:seed=3,markets=50"]


def _env(t_s: float, event_type: str, payload: dict, channel: str = "orderbook_delta", seq: int | None = None) -> dict:
    return {
        "event_type": event_type,
        "channel": channel,
        "local_recv_ns": int((1_778_000_000 + t_s) * 1e9),
        "payload_json": payload,
        "sequence_number": seq,
    }


def test_a_recording_without_trades_gives_them_through_the_ticker_channel(tmp_path: Path) -> None:
    import orjson

    t = "KXT-26MAY01-X"
    tick = {"market_ticker": t, "open_interest_fp": "500.00"}
    lines = [
        _env(0, "ws_connected", {}, "control"),
        _env(0, "ws_subscribed", {"msg": {"channel": "orderbook_delta", "sid": 2}, "type": "subscribed"}),
        _env(
            0,
            "orderbook_snapshot",
            {"market_ticker": t, "yes_dollars_fp": [["0.4000", "100.00"]], "no_dollars_fp": [["0.5000", "100.00"]]},
            seq=1,
        ),  # 0.40 / 0.50: mid 0.45
        _env(0.1, "ticker", {**tick, "volume_fp": "1000.00", "price_dollars": "0.4500"}, "ticker"),  # first: no trade
        _env(1.1, "ticker", {**tick, "volume_fp": "1010.00", "price_dollars": "0.5000"}, "ticker"),  # 5 bought at 0.50
        _env(2.1, "ticker", {**tick, "volume_fp": "1016.00", "price_dollars": "0.4000"}, "ticker"),  # 3 sold at 0.40
        _env(3.1, "ticker", {**tick, "volume_fp": "1020.00", "price_dollars": "0.4500"}, "ticker"),  # at the mid: none
        _env(4.1, "ticker", {**tick, "volume_fp": "1020.00", "price_dollars": "0.5000"}, "ticker"),  # no growth: none
    ]
    path = tmp_path / "rec.jsonl"
    path.write_bytes(b"".join(orjson.dumps(x) + b"\n" for x in lines))
    src = ReplaySource(path)
    trades: list[Any] = []
    while not src.exhausted:
        trades += src.advance().trades
    assert [(tr.price, tr.count, tr.taker_side) for tr in trades] == [(5000, 500, "bid"), (4000, 300, "ask")]
    assert src.infer_trades and src.inferred_trades == 2


def test_a_single_unreadable_recording_is_bad_input(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from kalashi_cli.cli.app import app

    res = CliRunner().invoke(app, ["backtest", "--source", f"replay:{tmp_path / 'nope.jsonl'}"])
    assert res.exit_code == 3
    assert res.stderr.count("check the replay:PATH") == 1 and "nope.jsonl" in res.stderr


def test_backtests_in_one_process_parse_a_recording_once_and_agree(
    particle_slice: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import kalashi_cli.kalshi.replay as replay

    calls: list[Path] = []
    real = replay.load_recording

    def counting(path: Path) -> list:
        calls.append(Path(path))
        return real(path)

    monkeypatch.setattr(replay, "load_recording", counting)
    import kalashi_cli.backtest.run as run_mod

    monkeypatch.setattr(run_mod, "_LOADED", {})
    cfg = BacktestConfig(sources=(str(particle_slice),), profile=active_profile(), duration_s=120)
    first, second = backtest(cfg), backtest(cfg)  # a sweep's points on one worker
    assert calls == [particle_slice]
    drop = ("wall_s", "events_per_s")
    assert {k: v for k, v in first["summary"].items() if k not in drop} == {
        k: v for k, v in second["summary"].items() if k not in drop
    }
    assert first["trades"] == second["trades"]
