"""kalashi record — capture real market data for `--source replay:PATH`."""

from __future__ import annotations

from pathlib import Path

import typer

from .common import Progress, QuietOpt, complete_tickers, info


def complete_exchange(incomplete: str) -> list[str]:
    """The exchange sources a recording can come from."""
    return [s for s in ("kalshi", "kalshi-demo", "kalshi:") if s.startswith(incomplete)]


EPILOG = """Examples:

\b
  kalashi record --source kalshi --series KXBTC15M --duration 300 -o btc.jsonl
  kalashi record --tickers KXHIGHNY-26JAN01-T60,KXHIGHNY-26JAN01-T61 --duration 60 -o ny.jsonl
  kalashi record --source kalshi:http://127.0.0.1:8800/trade-api/v2 --series KXBTCD --snapshot-every 1 \\
      --duration 5 -o sim.jsonl                  # from a local `kalashi sim-exchange`
  kalashi scan --source replay:btc.jsonl | kalashi analyze
  kalashi run-loop --paper --source replay:btc.jsonl,speed=10 --interval 0 --iterations 300
"""


def _split(values: list[str]) -> tuple[str, ...]:
    return tuple(v.strip() for item in values for v in item.split(",") if v.strip())


def record(
    output: Path = typer.Option(
        ...,
        "--output",
        "-o",
        metavar="PATH",
        help="Recording file to write (JSON Lines); it must not exist yet (or be empty).",
    ),
    source: str = typer.Option(
        "kalshi",
        "--source",
        "-s",
        metavar="SOURCE",
        autocompletion=complete_exchange,
        help="Which exchange: kalshi, kalshi-demo or kalshi:URL (e.g. a local `kalashi sim-exchange`).",
    ),
    tickers: list[str] = typer.Option(
        [],
        "--tickers",
        "-t",
        metavar="TICKERS",
        autocompletion=complete_tickers,
        help="Market tickers (comma-separated or repeated).",
    ),
    tickers_old: list[str] = typer.Option(
        [], "--markets", "-m", hidden=True, help="Old name of --tickers (--markets elsewhere is a count)."
    ),
    events: list[str] = typer.Option(
        [], "--events", "-e", metavar="TICKERS", help="Event tickers: record all their markets."
    ),
    series: list[str] = typer.Option(
        [], "--series", metavar="TICKERS", help="Series tickers: record their open markets."
    ),
    duration: float = typer.Option(60.0, "--duration", "-d", min=0, metavar="SECONDS", help="Seconds to record."),
    snapshot_every: float | None = typer.Option(
        None,
        "--snapshot-every",
        min=1,
        metavar="SECONDS",
        help="Also take REST snapshots every N seconds (the only data without credentials).",
    ),
    max_frames: int | None = typer.Option(
        None, "--max-frames", min=1, metavar="N", help="Stop after this many WebSocket frames."
    ),
    quiet: QuietOpt = False,
) -> None:
    """Record real Kalshi market data for replay.

    Writes REST snapshots and raw WebSocket frames (with receive times) of the chosen
    markets to a JSON Lines file (docs/recording-format.md). With KALSHI_API_KEY_ID and
    KALSHI_PRIVATE_KEY_PATH set the WebSocket feed is recorded too; without them only REST
    snapshots are taken (give --snapshot-every). A progress bar shows on stderr when it is a
    terminal. Play the file back with `--source replay:PATH` (add `,speed=N` to replay
    faster than recorded).
    """
    from ..errors import UsageError
    from ..kalshi.recorder import RecordProgress
    from ..kalshi.recorder import record as do_record

    chosen = (_split([*tickers, *tickers_old]), _split(events), _split(series))
    if not any(chosen):
        raise UsageError("say what to record", hint="give --tickers, --events or --series (e.g. --series KXBTC15M)")
    if output.exists() and output.stat().st_size:
        raise UsageError(f"{output} exists and is not empty", hint="choose another --output or remove the file")
    with Progress("record", quiet, total=int(duration)) as bar:

        def progress(p: RecordProgress) -> None:
            bar.update(
                int(min(p.elapsed_s, p.duration_s)),
                f"{p.phase}: {p.markets} markets, {p.rest_calls} REST calls, {p.ws_frames} frames",
            )

        summary = do_record(
            output,
            source=source,
            tickers=chosen[0],
            events=chosen[1],
            series=chosen[2],
            duration_s=duration,
            snapshot_every_s=snapshot_every,
            max_frames=max_frames,
            on_progress=progress,
        )
    from ..records import RecordWriter

    RecordWriter().write(
        {
            "kind": "recording",
            "v": 1,
            "path": summary.path,
            "markets": len(summary.markets),
            "rest_calls": summary.rest_calls,
            "ws_frames": summary.ws_frames,
            "duration_ms": summary.ended_ms - summary.started_ms,
        }
    )
    info(
        f"recorded {len(summary.markets)} markets to {summary.path}; replay with --source replay:{summary.path}", quiet
    )


def register(app: typer.Typer) -> None:
    app.command(epilog=EPILOG)(record)
