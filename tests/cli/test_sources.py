"""Sources as a user names them: replay of a real recording, source errors, record's usage errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from .conftest import Kalashi, records

Shared = Callable[..., Path]

CRYPTO = (
    "data",
    "kalshi-real",
    "crypto_ws_kxbtc15m",
    "ws_recording_rv600_forward_shadow_20260513T055209Z_first30s.jsonl",
)


def test_run_loop_replays_a_real_recording(kalashi: Kalashi, tmp_path: Path, shared: Shared) -> None:
    rec = shared(*CRYPTO)
    out = records(
        kalashi(
            "run-loop",
            "--paper",
            "--source",
            f"replay:{rec}",
            "--iterations",
            "5",
            "--interval",
            "0",
            "--journal",
            str(tmp_path / "j.sqlite"),
        ).stdout
    )
    assert [r["n"] for r in out] == [1, 2, 3, 4, 5]
    assert out[-1]["markets"] == 1, "the recorded market passes the prefilter once its ticker message arrived"
    assert out[-1]["source"].startswith(f"replay:{rec}")


def three_snapshot_recording(path: Path) -> Path:
    """A recording of three REST snapshots (no WebSocket frames): a replay of three steps.

    The snapshot is Kalshi's real GET /markets answer in tests/data (Apache-2.0, see SOURCES.md).
    """
    golden = Path(__file__).resolve().parents[1] / "data" / "kalshi_golden_2026-01" / "markets_list_response.json"
    body = json.loads(golden.read_text())["response"]
    t = 1_790_000_000_000
    lines: list[dict[str, object]] = [
        {
            "t_ms": t,
            "src": "meta",
            "format": "kalashi-recording",
            "version": 1,
            "env": "prod",
            "tickers": [],
            "events": [],
            "series": [],
        }
    ]
    for i in range(3):
        if i:
            lines.append({"t_ms": t + i * 1000, "src": "mark", "snapshot": i})
        lines.append(
            {
                "t_ms": t + i * 1000 + 1,
                "src": "rest",
                "endpoint": "GET /markets",
                "path": "/markets",
                "params": {"status": "open"},
                "body": body,
            }
        )
    lines.append({"t_ms": t + 5000, "src": "end"})
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    return path


def test_a_loop_whose_recording_ends_stops_and_says_so(kalashi: Kalashi, tmp_path: Path) -> None:
    rec = three_snapshot_recording(tmp_path / "rec.jsonl")
    run = ["run-loop", "--paper", "--source", f"replay:{rec}", "--interval", "0"]
    res = kalashi(*run, "--iterations", "10", "--journal", str(tmp_path / "a.sqlite"))  # exit 0: all there was
    assert [r["n"] for r in records(res.stdout)] == [1, 2, 3]
    start, end = res.stderr.splitlines()
    assert start.startswith("kalashi run-loop: paper trading on replay:")
    assert end == (
        f"kalashi run-loop: stopped after 3 of 10 iterations: the recording {rec} has ended "
        "(every recorded event has been traded on) — record a longer one for more iterations"
    )
    res = kalashi(*run, "--journal", str(tmp_path / "b.sqlite"))  # no --iterations: until the recording ends
    assert len(records(res.stdout)) == 3 and "stopped after 3 iterations: the recording" in res.stderr
    # it asked for no more than the recording holds: nothing to say; --quiet: nothing said
    assert "stopped" not in kalashi(*run, "--iterations", "3", "--journal", str(tmp_path / "c.sqlite")).stderr
    assert kalashi(*run, "--iterations", "10", "--quiet", "--journal", str(tmp_path / "d.sqlite")).stderr == ""


def test_scan_of_a_replay_carries_volume_from_ticker_messages(kalashi: Kalashi, shared: Shared) -> None:
    rec = shared(*CRYPTO)
    res = kalashi("scan", "--source", f"replay:{rec},step=3")
    (m,) = [r for r in records(res.stdout) if r["kind"] == "market"]
    assert m["ticker"] == "KXBTC15M-26MAY130200-00"
    assert float(m["volume"]) > 100 and m["depth"]["yes"] and m["depth"]["no"]


def test_replay_of_a_missing_file(kalashi: Kalashi, tmp_path: Path) -> None:
    res = kalashi("scan", "--source", f"replay:{tmp_path / 'nope.jsonl'}", code=None)
    assert res.exit_code in (2, 3) and "nope.jsonl" in res.stderr


def test_record_needs_something_to_record(kalashi: Kalashi, tmp_path: Path) -> None:
    res = kalashi("record", "-o", str(tmp_path / "r.jsonl"), code=2)
    assert "give --tickers, --events or --series" in res.stderr


def test_record_from_an_unknown_or_non_exchange_source_says_what_works(kalashi: Kalashi, tmp_path: Path) -> None:
    res = kalashi("record", "--source", "sim", "--series", "KXBTC15M", "-o", str(tmp_path / "r.jsonl"), code=2)
    assert "unknown Kalshi environment 'sim'" in res.stderr and "kalashi sim-exchange" in res.stderr
    res = kalashi("record", "--source", "nasdaq", "--series", "KXBTC15M", "-o", str(tmp_path / "r.jsonl"), code=2)
    assert "kalshi:URL" in res.stderr and "kalshi-demo" in res.stderr
    assert not (tmp_path / "r.jsonl").exists() or (tmp_path / "r.jsonl").stat().st_size == 0


def test_real_recordings_without_metadata_give_tradeable_markets(kalashi: Kalashi, shared: Shared) -> None:
    """The two third-party shapes carry no volume in their first listing: both must still pass the scan."""
    crypto = records(kalashi("scan", "--source", f"replay:{shared(*CRYPTO)}").stdout)
    assert [r["ticker"] for r in crypto if r["kind"] == "market"] == ["KXBTC15M-26MAY130200-00"]
    sports = shared("data", "kalshi-real", "sports_rest_ws_fixtures_2026-08", "ws_orderbook_stream.json")
    (stats,) = [r for r in records(kalashi("scan", "--source", f"replay:{sports}").stdout) if r["kind"] == "stats"]
    assert stats["listed"] == stats["passed"] == 12
