"""kalashi scan — list tradeable markets with their books."""

from __future__ import annotations

import typer

from .common import (
    Format,
    FormatOpt,
    MarketsOpt,
    Out,
    ProfileOpt,
    Progress,
    QuietOpt,
    SeedOpt,
    SourceOpt,
    info,
    load_profile,
    open_source,
    source_spec,
)

EPILOG = """Examples:

\b
  kalashi scan --limit 2000 | kalashi analyze
  kalashi scan --markets 100000 --seed 7 --quiet > markets.jsonl
  kalashi scan --limit 20 --format table
  kalashi scan --source kalshi --limit 500 > kalshi-markets.jsonl
  kalashi scan --source replay:btc.jsonl | jq -r 'select(.kind == "market") | .ticker'
"""


def scan(
    source: SourceOpt = "sim",
    seed: SeedOpt = None,
    markets: MarketsOpt = None,
    limit: int | None = typer.Option(
        None, "--limit", min=1, metavar="N", help="Emit at most this many markets (after the prefilter)."
    ),
    limit_old: int | None = typer.Option(
        None, "-n", min=1, hidden=True, help="Old short form of --limit (-n is --iterations elsewhere)."
    ),
    profile: ProfileOpt = "default",
    fmt: FormatOpt = Format.auto,
    quiet: QuietOpt = False,
) -> None:
    """List a source's tradeable markets with their order books.

    Pages through the source's markets, keeps those the profile's prefilter passes (status,
    minimum volume and open interest, no combo markets, close time inside the window:
    profile `scan`) and writes one `market` record per market (top of book, depth, fees,
    tick grid), then one `stats` record. On a terminal: a progress bar on stderr, and a table
    instead of JSON Lines on stdout.
    """
    from ..records import VERSION, iso, market_record
    from ..stages.scan import ScanStats
    from ..stages.scan import scan as run_scan

    limit = limit if limit is not None else limit_old
    prof = load_profile(profile)
    src = open_source(source_spec(source, seed, markets))
    stats = ScanStats()
    out = Out(fmt)
    ts, desc = iso(src.now_ms()), src.describe()
    try:
        with Progress("scan", quiet) as bar:
            for m in run_scan(
                src, prof, limit=limit, stats=stats, progress=lambda listed, kept: bar.update(listed, f"{kept} kept")
            ):
                rec = market_record(m)
                rec["ts"] = ts
                rec["src"] = desc
                out.write(rec)
        stats_rec = {
            "kind": "stats",
            "v": VERSION,
            "stage": "scan",
            "listed": stats.listed,
            "passed": stats.passed,
            "emitted": stats.emitted,
            "api_calls": src.api_calls,
        }
        if out.table:
            out.finish()
            kept = f"{stats.emitted} kept (--limit)" if stats.emitted < stats.passed else ""
            info(
                f"scanned {stats.listed:,} markets, {stats.passed:,} passed the prefilter"
                f"{', ' + kept if kept else ''} ({src.api_calls} API calls)",
                quiet,
            )
        else:
            out.write(stats_rec)
    finally:
        src.close()


def register(app: typer.Typer) -> None:
    app.command(epilog=EPILOG)(scan)
