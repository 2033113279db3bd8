"""Recording and replay: our format end to end, the two real capture shapes, snapshot cross-checks."""

from __future__ import annotations

import asyncio
import copy
import itertools
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from kalashi_cli.errors import InputError, UsageError
from kalashi_cli.kalshi.auth import Credentials, KalshiAuth
from kalashi_cli.kalshi.recorder import RecordOptions, RecordProgress, record_async
from kalashi_cli.kalshi.replay import ReplaySource, load_recording
from kalashi_cli.kalshi.rest import KalshiClient
from kalashi_cli.money import DECI_CENT_GRID, parse_count, parse_price
from kalashi_cli.ports import MarketSource

from .conftest import shared_path
from .fake_kalshi import universe
from .ws_server import running_ws_server

CRYPTO = "data/kalshi-real/crypto_ws_kxbtc15m"
SPORTS = "data/kalshi-real/sports_rest_ws_fixtures_2026-08/ws_orderbook_stream.json"


def play_all(r: ReplaySource) -> tuple[list[Any], list[Any]]:
    trades: list[Any] = []
    settlements: list[Any] = []
    while not r.exhausted:
        ev = r.advance()
        trades += ev.trades
        settlements += ev.settlements
    return trades, settlements


# --------------------------------------------------------------------------- our format, end to end


def test_record_then_replay_round_trip(tmp_path: Path, rsa_creds: Credentials) -> None:
    fake = universe(4, per_event=2)  # events 0 (KXAAA) and 1 (KXBBB), two markets each
    keys = {rsa_creds.key_id: load_pem_public_key(rsa_creds.public_key_pem())}
    fake.public_keys.update(keys)
    a, b = [t for t in fake.markets if t.startswith("KXAAA")]
    out = tmp_path / "rec.jsonl"
    ticks = itertools.count(1_790_000_000_000, 10)  # 10 ms per observation: deterministic slices
    phases: list[str] = []

    def on_progress(p: RecordProgress) -> None:
        phases.append(p.phase)
        if p.phase == "final":  # the market resolves before the closing snapshot
            fake.markets[a].update(status="finalized", result="yes", settlement_value_dollars="1.0000")

    async def main() -> dict[str, dict[int, int]]:
        async with running_ws_server(public_keys=keys) as server:
            for t, book in fake.books.items():
                server.set_book(
                    t, [(x[0], x[1]) for x in book["yes_dollars"]], [(x[0], x[1]) for x in book["no_dollars"]]
                )

            async def pusher() -> None:
                await server.signal.wait_for(lambda: sum(c["cmd"] == "subscribe" for c in server.commands) == 3)
                await server.push_delta(a, "yes", "0.0200", "7.00")
                await server.push_delta(b, "no", "0.0100", "3.00")
                await server.push_delta(a, "yes", "0.0200", "-2.00")
                await server.push(
                    "trade",
                    "trade",
                    {
                        "trade_id": "tr1",
                        "market_ticker": b,
                        "yes_price_dollars": "0.0800",
                        "count_fp": "4.00",
                        "taker_book_side": "bid",
                        "ts_ms": 1,
                    },
                )
                await server.push(
                    "market_lifecycle_v2",
                    "market_lifecycle_v2",
                    {"event_type": "determined", "market_ticker": b, "result": "no", "determination_ts": 1_790_000_001},
                )

            task = asyncio.create_task(pusher())
            async with KalshiClient(
                "https://fake.kalshi.test/trade-api/v2", auth=KalshiAuth(rsa_creds), transport=fake.transport()
            ) as client:
                options = RecordOptions(
                    series=["KXAAA"], ws_url=server.url, duration_s=10, max_frames=4 + 2 + 3 + 2
                )  # subscribed×4, snapshots×2, deltas, trade, lifecycle
                summary = await record_async(
                    client,
                    out,
                    options,
                    auth=KalshiAuth(rsa_creds),
                    on_progress=on_progress,
                    clock_ms=lambda: next(ticks),
                )
            await task
            assert summary.markets == (a, b) and summary.ws_frames == 11
            return {t: server.books[t]["yes"] for t in (a, b)}

    final_yes = asyncio.run(main())
    assert phases[0] == "rest" and phases[-2:] == ["final", "done"]
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert lines[0]["src"] == "meta" and lines[0]["format"] == "kalashi-recording" and lines[-1]["src"] == "end"
    assert {x["src"] for x in lines} == {"meta", "rest", "ws", "end"} and all(isinstance(x["t_ms"], int) for x in lines)
    endpoints = [x["endpoint"] for x in lines if x["src"] == "rest"]
    assert endpoints[:2] == ["GET /series/{series_ticker}", "GET /markets"] and "GET /markets/orderbooks" in endpoints

    assert (out.stat().st_mode & 0o777) == 0o600  # a recording is private, like everything kalashi writes
    r = ReplaySource(out, slice_ms=10)
    assert isinstance(r, MarketSource)
    trades, settlements = play_all(r)
    assert [(t.trade_id, t.count) for t in trades] == [("tr1", 400)]
    assert sorted((s.ticker, s.result) for s in settlements) == [(a, "yes"), (b, "no")]
    assert r.store.gaps == 0 and r.snapshot_mismatches == []
    books = r.books([a, b])
    assert dict(books[b].yes_bids) == final_yes[b] and dict(books[a].yes_bids) == final_yes[a]
    assert books[a].fee_type == "quadratic_with_maker_fees" and books[a].fee_multiplier == 5000  # from the series
    assert books[a].mutually_exclusive  # from the recorded events
    assert [m.ticker for m in r.list_markets()] == [b]  # a is finalized


def _rest_only_recording(tmp_path: Path) -> Path:
    """Three REST snapshots of one market, settling NO in the last."""

    def market(status: str = "active", result: str = "") -> dict[str, Any]:
        return {
            "ticker": "KXR-1-A",
            "event_ticker": "KXR-1",
            "status": status,
            "result": result,
            "yes_bid_dollars": "0.3000",
            "yes_ask_dollars": "0.3200",
            "close_time": "2026-10-01T00:00:00Z",
        }

    def books(best: str) -> dict[str, Any]:
        return {
            "orderbooks": [
                {
                    "ticker": "KXR-1-A",
                    "orderbook_fp": {
                        "yes_dollars": [["0.2900", "1.00"], [best, "5.00"]],
                        "no_dollars": [["0.6800", "2.00"]],
                    },
                }
            ]
        }

    rows = [
        {"t_ms": 1000, "src": "meta", "format": "kalashi-recording", "version": 1},
        {
            "t_ms": 1001,
            "src": "rest",
            "endpoint": "GET /series/{series_ticker}",
            "body": {
                "series": {
                    "ticker": "KXR",
                    "fee_type": "quadratic_with_maker_fees",
                    "fee_multiplier": 0.5,
                    "category": "X",
                }
            },
        },
        {"t_ms": 1002, "src": "rest", "endpoint": "GET /markets", "body": {"markets": [market()], "cursor": ""}},
        {"t_ms": 1003, "src": "rest", "endpoint": "GET /markets/orderbooks", "body": books("0.3000")},
        {"t_ms": 61000, "src": "mark", "snapshot": 1},
        {"t_ms": 61001, "src": "rest", "endpoint": "GET /markets/orderbooks", "body": books("0.3100")},
        {"t_ms": 121000, "src": "mark", "snapshot": 2},
        {
            "t_ms": 121001,
            "src": "rest",
            "endpoint": "GET /markets",
            "body": {"markets": [market("finalized", "no")], "cursor": ""},
        },
    ]
    path = tmp_path / "rest.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in rows) + "\n")
    return path


def test_rest_only_recording_advances_by_snapshot(tmp_path: Path) -> None:
    path = _rest_only_recording(tmp_path)
    slept: list[float] = []
    r = ReplaySource(path, speed=60, sleep=slept.append, monotonic=lambda: 0.0)
    assert r.steps == 2
    [m] = list(r.list_markets())
    assert m.yes_bids[0] == (3000, 500) and m.fee_type == "quadratic_with_maker_fees" and m.series_ticker == "KXR"
    assert r.advance().settlements == () and r.books(["KXR-1-A"])["KXR-1-A"].yes_bid == 3100
    ev = r.advance()
    assert [(s.ticker, s.result, s.value) for s in ev.settlements] == [("KXR-1-A", "no", 0)]
    assert list(r.list_markets()) == [] and r.exhausted
    assert slept == [pytest.approx(1.0, abs=1e-3)] * 2  # 60 s of recorded time at speed 60


def test_spec_options_and_describe_recreate_the_position(tmp_path: Path) -> None:
    path = shared_path(SPORTS)
    r = ReplaySource.from_spec(f"replay:{path},speed=0,step=5")
    assert r.describe() == f"replay:{path},speed=0,step=5"
    again = ReplaySource.from_spec(r.describe())
    assert again.now_ms() == r.now_ms()
    assert [m for m in again.list_markets()] == [m for m in r.list_markets()]
    with pytest.raises(UsageError):
        ReplaySource.from_spec(f"replay:{path},speed=fast")
    with pytest.raises(InputError):
        ReplaySource.from_spec(f"replay:{tmp_path / 'missing.jsonl'}")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"t_ms": 1, "src": "meta"}\nnot json\n')
    with pytest.raises(InputError) as e:
        load_recording(bad)
    assert ":2:" in str(e.value)


# --------------------------------------------------------------------------- real captures


def decimal_books(frames: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, Decimal]]]:
    """An independent reference: fold frames with Decimal arithmetic on the wire strings."""
    books: dict[str, dict[str, dict[str, Decimal]]] = {}
    for f in frames:
        msg = f.get("msg") or {}
        if f.get("type") == "orderbook_snapshot":
            books[msg["market_ticker"]] = {
                side: {str(Decimal(p)): Decimal(c) for p, c in msg.get(f"{side}_dollars_fp", [])}
                for side in ("yes", "no")
            }
        elif f.get("type") == "orderbook_delta":
            side = books[msg["market_ticker"]][msg["side"]]
            key = str(Decimal(msg["price_dollars"]))
            side[key] = side.get(key, Decimal(0)) + Decimal(msg["delta_fp"])
            if side[key] == 0:
                del side[key]
    return books


def as_snapshot(ticker: str, book: dict[str, dict[str, Decimal]], seq: int) -> dict[str, Any]:
    msg: dict[str, Any] = {"market_ticker": ticker, "market_id": "ref"}
    for side in ("yes", "no"):
        levels = sorted(book[side].items(), key=lambda kv: Decimal(kv[0]))
        if levels:
            msg[f"{side}_dollars_fp"] = [[f"{Decimal(p):.4f}", f"{c:.2f}"] for p, c in levels]
    return {"type": "orderbook_snapshot", "sid": 1, "seq": seq, "msg": msg}


def with_reference_snapshots(doc: dict[str, Any], every: int) -> tuple[dict[str, Any], int]:
    """Insert snapshots (as a get_snapshot resync would) built from the Decimal reference; renumber seqs."""
    frames = [f["frame"] for f in doc["frames"]]
    out: list[dict[str, Any]] = []
    inserted = 0
    shift = 0
    for i, entry in enumerate(doc["frames"]):
        frame = copy.deepcopy(entry["frame"])
        if "seq" in frame:
            frame["seq"] += shift
        out.append({"received_ms": entry["received_ms"], "frame": frame})
        if i > 30 and i % every == 0:
            ref = decimal_books(frames[: i + 1])
            seq = frame.get("seq", 0)
            for ticker in sorted(ref):
                seq += 1
                shift += 1
                inserted += 1
                out.append({"received_ms": entry["received_ms"], "frame": as_snapshot(ticker, ref[ticker], seq)})
    return {"frames": out}, inserted


def test_sports_stream_rebuilt_books_equal_every_later_snapshot(tmp_path: Path) -> None:
    doc = json.loads(shared_path(SPORTS).read_text())
    real = ReplaySource(shared_path(SPORTS))
    play_all(real)
    assert real.store.gaps == 0 and real.snapshot_mismatches == [] and len(real.store.books) == 12
    assert all(not b.stale for b in real.store.books.values())

    checked, inserted = with_reference_snapshots(doc, every=40)
    path = tmp_path / "stream.json"
    path.write_text(json.dumps(checked))
    r = ReplaySource(path)
    play_all(r)
    assert inserted > 50 and r.snapshot_checks == inserted and r.snapshot_mismatches == [] and r.store.gaps == 0
    # the final rebuilt books equal the Decimal reference over the whole real stream
    ref = decimal_books([f["frame"] for f in doc["frames"]])
    for ticker, book in r.store.books.items():
        assert book.yes == {parse_price(p): parse_count(str(c)) for p, c in ref[ticker]["yes"].items()}
        assert book.no == {parse_price(p): parse_count(str(c)) for p, c in ref[ticker]["no"].items()}


def test_snapshot_check_catches_a_wrong_delta(tmp_path: Path) -> None:
    doc = json.loads(shared_path(SPORTS).read_text())
    checked, _ = with_reference_snapshots(doc, every=40)
    for entry in checked["frames"][40:]:  # corrupt one delta after the first reference snapshots
        f = entry["frame"]
        if f["type"] == "orderbook_delta" and f["msg"]["delta_fp"].startswith("-"):
            f["msg"]["delta_fp"] = "-0.01"
            victim = f["msg"]["market_ticker"]
            break
    path = tmp_path / "corrupt.json"
    path.write_text(json.dumps(checked))
    r = ReplaySource(path)
    play_all(r)
    assert r.snapshot_mismatches and {t for t, _ in r.snapshot_mismatches} == {victim}


@pytest.mark.parametrize(
    "name",
    [
        "ws_recording_rv600_forward_shadow_20260513T055209Z_first30s.jsonl",
        "ws_recording_rv600_offline_control_patch_smoke_20260515T030949Z.jsonl",
    ],
)
def test_crypto_recorder_envelopes_replay_through_the_book_code(name: str) -> None:
    path = shared_path(f"{CRYPTO}/{name}")
    envelopes = [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
    r = ReplaySource(path)
    [m0] = list(r.list_markets())
    assert m0.ticker.startswith("KXBTC15M-") and m0.event_ticker == m0.ticker.rsplit("-", 1)[0]
    assert m0.close_time.endswith("Z")  # from the recorder's watch_market line
    assert m0.price_ranges == DECI_CENT_GRID  # inferred: the book has $0.001 prices
    play_all(r)
    assert (
        r.store.gaps == 0
        and r.snapshot_mismatches == []
        and r.store.deltas == sum(e["event_type"] == "orderbook_delta" for e in envelopes)
    )
    frames = [
        {"type": e["event_type"], "msg": e["payload_json"]}
        for e in envelopes
        if e["event_type"] in ("orderbook_snapshot", "orderbook_delta")
    ]
    ref = decimal_books(frames)[m0.ticker]
    book = r.store.books[m0.ticker]
    assert book.yes == {parse_price(p): parse_count(str(c)) for p, c in ref["yes"].items()}
    assert book.no == {parse_price(p): parse_count(str(c)) for p, c in ref["no"].items()}
    assert r.store.last_seq == {2: max(e["sequence_number"] or 0 for e in envelopes)}  # sid from ws_subscribed
    final = r.books([m0.ticker])[m0.ticker]
    assert final.yes_bid is not None and final.yes_ask is not None and final.yes_bid < final.yes_ask


def test_crypto_replay_at_recorded_speed_paces_slices() -> None:
    path = shared_path(f"{CRYPTO}/ws_recording_rv600_forward_shadow_20260513T055209Z_first30s.jsonl")
    slept: list[float] = []
    r = ReplaySource(path, speed=1, sleep=slept.append, monotonic=lambda: 0.0)
    play_all(r)
    assert len(slept) == r.steps and all(0.99 <= s <= 30 for s in slept)
    assert sum(slept) == pytest.approx((r.now_ms() - r.events[0].t_ms) / 1000, abs=1.0)


def test_recording_through_a_reconnect_marks_the_reset(tmp_path: Path, rsa_creds: Credentials) -> None:
    fake = universe(2, per_event=2)
    keys = {rsa_creds.key_id: load_pem_public_key(rsa_creds.public_key_pem())}
    fake.public_keys.update(keys)
    a, b = list(fake.markets)
    out = tmp_path / "reconnect.jsonl"
    ticks = itertools.count(1_790_000_000_000, 10)

    async def fast_sleep(_: float) -> None:
        await asyncio.sleep(0)

    async def main() -> dict[int, int]:
        async with running_ws_server(public_keys=keys) as server:
            for t, book in fake.books.items():
                server.set_book(
                    t, [(x[0], x[1]) for x in book["yes_dollars"]], [(x[0], x[1]) for x in book["no_dollars"]]
                )

            def subscribed(n: int) -> bool:
                return sum(c["cmd"] == "subscribe" for c in server.commands) == 3 * n and len(server.conns) == 1

            async def pusher() -> None:
                await server.signal.wait_for(lambda: subscribed(1))
                await server.push_delta(a, "yes", "0.0200", "7.00")
                await server.drop_all()
                await server.signal.wait_for(lambda: subscribed(2))
                await server.push_delta(a, "yes", "0.0200", "1.00")

            task = asyncio.create_task(pusher())
            async with KalshiClient(
                "https://fake.kalshi.test/trade-api/v2", auth=KalshiAuth(rsa_creds), transport=fake.transport()
            ) as client:
                options = RecordOptions(
                    tickers=[a, b],
                    ws_url=server.url,
                    duration_s=10,
                    max_frames=2 * (4 + 2) + 2,
                    feed_options={"sleep": fast_sleep},
                )
                await record_async(client, out, options, auth=KalshiAuth(rsa_creds), clock_ms=lambda: next(ticks))
            await task
            return server.books[a]["yes"]

    final_a = asyncio.run(main())
    srcs = [json.loads(x)["src"] for x in out.read_text().splitlines()]
    assert srcs.count("reset") == 1
    r = ReplaySource(out, slice_ms=10)
    play_all(r)
    assert r.store.gaps == 0 and dict(r.books([a])[a].yes_bids) == final_a and final_a[200] == 800


def test_sync_record_without_credentials_takes_rest_snapshots_only(tmp_path: Path) -> None:
    from kalashi_cli.kalshi.recorder import record

    fake = universe(6, per_event=3)
    wanted = list(fake.markets)[:4]
    out = tmp_path / "rest_only.jsonl"
    seen: list[str] = []
    summary = record(
        out,
        source="kalshi:https://fake.kalshi.test/trade-api/v2",
        tickers=wanted,
        environ={},
        transport=fake.transport(),
        duration_s=0,
        on_progress=lambda p: seen.append(p.phase),
    )
    assert summary.markets == tuple(wanted) and summary.ws_frames == 0
    assert seen == ["rest", "final", "done"]
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert [x["src"] for x in lines].count("ws") == 0
    assert any(x.get("endpoint") == "GET /events" for x in lines)
    r = ReplaySource(out)
    got = {m.ticker: m for m in r.list_markets()}
    assert set(got) == set(wanted)
    t = wanted[0]
    assert got[t].yes_bids[0][0] == parse_price(fake.books[t]["yes_dollars"][-1][0])  # best = last REST level
    assert got[t].mutually_exclusive and got[t].fee_type == "quadratic_with_maker_fees"
    with pytest.raises(UsageError):
        record(out, source="kalshi:https://fake.kalshi.test/trade-api/v2", environ={}, transport=fake.transport())


def test_run_loop_stops_when_the_recording_is_played(tmp_path: Path) -> None:
    """A replay has an end: run-loop stops there (exit 0) instead of spinning on a frozen market."""
    from typer.testing import CliRunner

    from kalashi_cli.cli.app import app

    path = _rest_only_recording(tmp_path)
    res = CliRunner().invoke(
        app,
        [
            "run-loop",
            "--paper",
            "--source",
            f"replay:{path},speed=0",
            "--iterations",
            "50",
            "--interval",
            "0",
            "--journal",
            str(tmp_path / "j.sqlite"),
            "--quiet",
        ],
    )
    assert res.exit_code == 0, res.output
    its = [json.loads(x) for x in res.stdout.splitlines() if '"iteration"' in x]
    assert [r["n"] for r in its] == [1, 2, 3]


def _frames_recording(tmp_path: Path, *, with_ticker: bool) -> Path:
    """A recording of raw socket frames (the third-party shape): no market metadata at all."""
    snap = {
        "type": "orderbook_snapshot",
        "sid": 1,
        "seq": 1,
        "msg": {
            "market_ticker": "KXGAME-26AUG07AB-A",
            "yes_dollars_fp": [["0.4100", "50.00"]],
            "no_dollars_fp": [["0.5700", "40.00"]],
        },
    }
    delta = {
        "type": "orderbook_delta",
        "sid": 1,
        "seq": 2,
        "msg": {"market_ticker": "KXGAME-26AUG07AB-A", "price_dollars": "0.4200", "delta_fp": "5.00", "side": "yes"},
    }
    frames = [{"received_ms": 1_000, "frame": snap}, {"received_ms": 70_000, "frame": delta}]
    if with_ticker:  # the ticker message only comes a minute in
        frames.append(
            {
                "received_ms": 80_000,
                "frame": {
                    "type": "ticker",
                    "sid": 2,
                    "msg": {
                        "market_ticker": "KXGAME-26AUG07AB-A",
                        "volume_fp": "1500.00",
                        "open_interest_fp": "900.00",
                        "price_dollars": "0.4200",
                    },
                },
            }
        )
    path = tmp_path / "frames.json"
    path.write_text(json.dumps({"captured_ms": 1_000, "frames": frames}))
    return path


@pytest.mark.parametrize("with_ticker", [True, False])
def test_a_bare_replay_market_is_tradeable_from_the_first_listing(tmp_path: Path, with_ticker: bool) -> None:
    """Volume comes from the market's first ticker message (looked up ahead); without one it is unknown, not zero."""
    from kalashi_cli.profile import load_profile
    from kalashi_cli.stages.scan import ScanStats, scan

    r = ReplaySource(_frames_recording(tmp_path, with_ticker=with_ticker))
    [m] = list(r.list_markets())
    assert m.activity_known is with_ticker
    assert m.volume == (150_000 if with_ticker else 0)
    assert m.last_price is None, "prices are never read ahead, only activity"
    stats = ScanStats()
    assert [x.ticker for x in scan(r, load_profile("default"), stats=stats)] == ["KXGAME-26AUG07AB-A"]
    assert stats.passed == 1
