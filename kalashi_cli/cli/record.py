"""kalashi record — capture real market data for `--source replay:PATH`."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from .common import Progress, QuietOpt, info

EPILOG = """Examples:

  kalashi record --source kalshi --series KXBTC15M --duration 300 -o btc.jsonl

  kalashi record --markets KXHIGHNY-26JAN01-T60,KXHIGHNY-26JAN01-T61 --duration 60 -o ny.jsonl

  kalashi scan --source replay:btc.jsonl | kalashi analyze
"""


def _split(values: list[str]) -> tuple[str, ...]:
    return tuple(v.strip() for item in values for v in item.split(",") if v.strip())


def record(
    output: Path = typer.Option(..., "--output", "-o", help="Recording file to write (JSON Lines)."),
    source: str = typer.Option("kalshi", "--source", "-s", help="kalshi, kalshi-demo or kalshi:URL."),
    markets: list[str] = typer.Option([], "--markets", "-m", help="Market tickers (comma-separated or repeated)."),
    events: list[str] = typer.Option([], "--events", "-e", help="Event tickers (all their markets)."),
    series: list[str] = typer.Option([], "--series", help="Series tickers (their open markets)."),
    duration: float = typer.Option(60.0, "--duration", "-d", min=0, help="Seconds to record."),
    snapshot_every: float | None = typer.Option(None, "--snapshot-every", min=1,
                                                help="Also take REST snapshots every N seconds."),
    max_frames: int | None = typer.Option(None, "--max-frames", min=1, help="Stop after this many WS frames."),
    quiet: QuietOpt = False,
) -> None:
    """Record REST snapshots and raw WebSocket frames (with receive times) to a JSON Lines file.

    With KALSHI_API_KEY_ID/KALSHI_PRIVATE_KEY_PATH set the WebSocket feed is recorded too;
    without them only REST snapshots are taken (use --snapshot-every). Play it back with
    `--source replay:PATH` (add `,speed=N` to replay faster than recorded).
    """
    from ..errors import UsageError
    from ..exchange.recorder import RecordProgress
    from ..exchange.recorder import record as do_record

    chosen = (_split(markets), _split(events), _split(series))
    if not any(chosen):
        raise UsageError("say what to record", hint="give --markets, --events or --series")
    if output.exists() and output.stat().st_size:
        raise UsageError(f"{output} exists and is not empty", hint="choose another --output or remove the file")
    with Progress("record", quiet, total=int(duration)) as bar:
        def progress(p: RecordProgress) -> None:
            bar.update(int(min(p.elapsed_s, p.duration_s)),
                       f"{p.phase}: {p.markets} markets, {p.rest_calls} REST calls, {p.ws_frames} frames")

        summary = do_record(output, source=source, tickers=chosen[0], events=chosen[1], series=chosen[2],
                            duration_s=duration, snapshot_every_s=snapshot_every, max_frames=max_frames,
                            on_progress=progress)
    typer.echo(json.dumps({"kind": "recording", "v": 1, "path": summary.path, "markets": len(summary.markets),
                           "rest_calls": summary.rest_calls, "ws_frames": summary.ws_frames,
                           "duration_ms": summary.ended_ms - summary.started_ms}))
    info(f"recorded {len(summary.markets)} markets to {summary.path}; replay with --source replay:{summary.path}",
         quiet)


def register(app: typer.Typer) -> None:
    app.command(epilog=EPILOG)(record)
