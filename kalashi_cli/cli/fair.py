"""kalashi fair — fair values from models, and how the models score against real outcomes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from .common import (
    Format,
    FormatOpt,
    InputArg,
    KindCheck,
    Out,
    ProfileOpt,
    QuietOpt,
    StrictOpt,
    complete_source,
    info,
    load_profile,
    read_records,
)

if TYPE_CHECKING:
    from ..domain import Market
    from ..fair.spot import SpotSource
    from ..profile import Profile

EPILOG = """Examples:

\b
  kalashi scan | kalashi fair | kalashi analyze --fair - | kalashi correlate
  kalashi scan --source kalshi | kalashi fair --models crypto,ladder | kalashi analyze --fair -
  kalashi fair --source replay:btc.jsonl --models crypto --spot file:btc-spot.csv > fair.jsonl
  kalashi fair --evaluate --source replay:run.jsonl --results results.csv --report scores.html
  kalashi fair --evaluate --source PRES-2024-DJT.csv --source PRES-2024-KH.csv --results pres.csv --every 3600
  kalashi fair --evaluate --source markets.jsonl --fair my-model.jsonl --results results.csv
"""

COLUMNS = {
    "fair": ["ticker", "p", "se", "model", "note"],
    "fair-score": ["model", "n", "events", "brier", "log_loss", "brier_vs_mid", "trades", "pnl"],
}


def fair(
    input: InputArg = None,
    source: list[str] | None = typer.Option(
        None,
        "--source",
        "-s",
        metavar="SOURCE",
        autocompletion=complete_source,
        help="Markets from a source instead of INPUT (sim, replay:PATH, kalshi…). "
        "With --evaluate: replay:PATH (.gz too), a file of market records, or "
        "Kalshi candlestick CSVs; repeat it to score several together.",
    ),
    models: str | None = typer.Option(
        None,
        "--models",
        "-m",
        metavar="NAMES",
        help="Comma-separated: ladder, crypto, crypto-t (default: the profile's "
        "fair.models, else ladder; with --evaluate: ladder, plus crypto and "
        "crypto-t when --spot is given).",
    ),
    spot: str | None = typer.Option(
        None,
        "--spot",
        metavar="SPEC",
        help="Spot for the crypto models: coinbase, kraken, coinbase:URL, kraken:URL, or "
        "a recorded file (file:PATH or PATH; CSV/JSONL of time, price). Default: "
        "the profile's fair.crypto.spot.",
    ),
    evaluate: bool = typer.Option(
        False,
        "--evaluate",
        help="Score the models and the market mid against settled results instead of "
        "pricing: Brier, log loss, reliability, value-strategy P&L after fees.",
    ),
    results: Path | None = typer.Option(
        None,
        "--results",
        metavar="PATH",
        help="With --evaluate: how the markets settled (CSV ticker,result or JSON "
        "Lines with ticker and result yes/no).",
    ),
    recorded: Path | None = typer.Option(
        None,
        "--fair",
        metavar="PATH",
        help="With --evaluate: also score the fair records in this file (your own "
        "model's, one model per `model` name), each as of its inputs_ts.",
    ),
    every: float = typer.Option(
        60.0,
        "--every",
        min=0.001,
        metavar="SECONDS",
        help="With --evaluate: sample the markets this often (source time).",
    ),
    report: Path | None = typer.Option(
        None,
        "--report",
        metavar="PATH",
        help="With --evaluate: also write an HTML report (reliability plot when "
        "matplotlib is installed) and its JSON twin next to it.",
    ),
    profile: ProfileOpt = "default",
    fmt: FormatOpt = Format.auto,
    quiet: QuietOpt = False,
    strict: StrictOpt = False,
) -> None:
    """Price markets with fair-value models: `fair` records.

    Reads `market` records (from `kalashi scan`, or --source) and writes them back out with a
    `fair` record for every market a model can price — each event's values just before its
    markets, so `kalashi analyze --fair -` further down the pipe has them in time. Models:
    `ladder` (one monotone, arbitrage-free distribution per event fitted to its books; any
    strike ladder, bracket set or exclusive outcomes), `crypto` and `crypto-t` (Kalshi crypto
    markets from spot and realised volatility, lognormal or fat-tailed; they settle on CF
    Benchmarks' 60-second index average). A fair record has `p`, a standard error `se` and the
    inputs' time; stale or missing spot means no value. Ends with a `stats` record.

    With --evaluate, scores each model (and your own model's fair records, --fair) and the
    market's own mid on markets whose result is known and writes one `fair-score` record each
    (docs/fair-value.md has the real-data scores).
    """
    from ..errors import UsageError

    prof = load_profile(profile)
    names = _model_names(models, prof.fair.models, evaluate=evaluate, spot=spot)
    out = Out(fmt)
    if evaluate:
        if not source or results is None:
            raise UsageError(
                "--evaluate needs --source (what to score on) and --results (how it settled)",
                hint="e.g. kalashi fair --evaluate --source replay:run.jsonl --results results.csv",
            )
        _evaluate(out, prof, names, source, results, spot, every, report, quiet, recorded)
        return
    if recorded is not None:
        raise UsageError("--fair FILE is for --evaluate", hint="to trade on fair records: kalashi analyze --fair FILE")
    _price(out, prof, names, input, source, spot, quiet, strict)


def _model_names(models: str | None, configured: tuple[str, ...], *, evaluate: bool, spot: str | None) -> list[str]:
    from ..errors import UsageError

    if models:
        names = [n.strip() for n in models.split(",") if n.strip()]
    elif evaluate:
        names = ["ladder", "crypto", "crypto-t"] if spot else ["ladder"]
    else:
        names = list(configured) or ["ladder"]
    bad = [n for n in names if n not in ("ladder", "crypto", "crypto-t")]
    if bad or not names:
        raise UsageError(f"unknown model {', '.join(bad) or '(none)'}", hint="--models takes ladder, crypto, crypto-t")
    if evaluate and spot is None and any(n.startswith("crypto") for n in names):
        raise UsageError(
            "--evaluate with a crypto model needs --spot FILE (recorded spot)",
            hint="a live feed cannot score the past: give --spot file:spot.csv",
        )
    return names


def _open_spot(prof: Profile, names: list[str], spot: str | None, quiet: bool) -> SpotSource | None:
    if not any(n.startswith("crypto") for n in names):
        return None
    from ..fair.spot import LiveSpot, open_spot

    products = sorted(set(prof.fair.crypto.assets.values()))
    src = open_spot(spot or prof.fair.crypto.spot, products=products)
    if isinstance(src, LiveSpot):  # a fresh feed has no price yet: give it a moment (bounded)
        if not src.wait_for(lambda: bool(src.history.products()), 10.0):
            info(
                f"kalashi fair: no spot price from {src.describe()} yet ({src.last_error or 'no ticks'}); "
                "crypto markets get no fair value",
                quiet,
            )
    return src


def _price(
    out: Out,
    prof: Profile,
    names: list[str],
    input: Path | None,
    source: list[str] | None,
    spot: str | None,
    quiet: bool,
    strict: bool = False,
) -> None:
    from ..fair.models import build_engine
    from ..fair.stage import FairStats, price_records
    from ..records import VERSION, decode_error, market_from_record

    if source and len(source) > 1:
        from ..errors import UsageError

        raise UsageError("give one --source when pricing", hint="several sources are for --evaluate")
    spot_src = _open_spot(prof, names, spot, quiet)
    engine = build_engine(prof.fair, names, spot=spot_src)
    stats = FairStats()
    kinds = KindCheck("fair", ("market",))
    name = "<stdin>" if input is None else str(input)

    def decode(rec: dict[str, Any]) -> Market:
        try:
            return market_from_record(rec)
        except (ValueError, TypeError) as e:
            raise decode_error(name, rec, e) from None

    try:
        records = _scanned(prof, source[0]) if source else kinds.watch(read_records(input, "market records"))
        for rec in price_records(records, engine, decode=decode, stats=stats):
            out.write(rec)
    finally:
        engine.close()
        if spot_src is not None:
            spot_src.close()
    kinds.report(quiet, strict)
    if out.table:
        out.finish(COLUMNS)
        info(
            f"priced {stats.priced} of {stats.markets} markets in {stats.events} events "
            f"({', '.join(f'{k}: {v}' for k, v in stats.by_model.items()) or 'no model had a value'})",
            quiet,
        )
    else:
        out.write(
            {
                "kind": "stats",
                "v": VERSION,
                "stage": "fair",
                "markets": stats.markets,
                "events": stats.events,
                "priced": stats.priced,
                "by_model": stats.by_model,
            }
        )


def _scanned(prof: Profile, spec: str) -> Iterator[dict[str, Any]]:
    from ..records import iso, market_record
    from ..stages.scan import scan
    from .common import check_source_kind, open_source

    src = open_source(check_source_kind(spec))
    try:
        ts, desc = iso(src.now_ms()), src.describe()
        for m in scan(src, prof):
            rec = market_record(m)
            rec["ts"], rec["src"] = ts, desc
            yield rec
    finally:
        src.close()


def _evaluate(
    out: Out,
    prof: Profile,
    names: list[str],
    sources: list[str],
    results: Path,
    spot: str | None,
    every: float,
    report: Path | None,
    quiet: bool,
    recorded: Path | None,
) -> None:
    from ..fair.base import FairModel
    from ..fair.datasets import load_results, open_snapshots
    from ..fair.evaluate import evaluate, load_recorded_models
    from ..fair.models import build_models
    from ..stages.analyze import Analyzer

    settled = load_results(results)
    theirs: list[FairModel] = list(load_recorded_models(recorded)) if recorded is not None else []
    spot_src = _open_spot(prof, names, spot, quiet)
    models = build_models(names, prof.fair, spot=spot_src) + theirs
    names = [m.name for m in models]
    label = " + ".join(Path(s.removeprefix("replay:").split(",")[0]).name for s in sources)
    try:
        scores, rows = evaluate(
            open_snapshots(list(sources), int(every * 1000)), settled, models, prof, dataset=label, analyzer=Analyzer
        )
    finally:
        for m in models:
            m.close()
        if spot_src is not None:
            spot_src.close()
    for s in scores:
        out.write(s.record())
    if out.table:
        out.finish(COLUMNS)
    info(
        f"scored {len(rows)} snapshots of {len({r.ticker for r in rows})} settled markets in "
        f"{len({r.event for r in rows})} events ({len(settled)} results known)",
        quiet,
    )
    if report is not None:
        from ..fair.report import write_report

        notes = [f"results: {results}", f"sampled every {every:g} s of source time", "models: " + ", ".join(names)]
        written = write_report(report, scores, title=f"kalashi fair --evaluate: {label}", notes=notes)
        info("wrote " + " and ".join(str(p) for p in written), quiet)


def register(app: typer.Typer) -> None:
    app.command(epilog=EPILOG)(fair)
