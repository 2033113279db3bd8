"""kalashi backtest — recorded (or sim) data through the run-loop's pipeline, a report, and sweeps."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from .common import Format, FormatOpt, Out, ProfileOpt, QuietOpt, complete_source, info, load_profile

EPILOG = """Examples:

\b
  R=../shared/data/kalshi-real/crypto_ws_kxbtc15m/runs
  kalashi backtest --source replay:$R/rv600_next_evidence_shadow_20260515T071544Z.events.jsonl.gz \\
      --results $R/results.csv --out bt/
  kalashi backtest --source "replay:$(ls $R/*.events.jsonl.gz | paste -sd,)" --results $R/results.csv --out bt-all/
  kalashi backtest --source sim:seed=3,markets=50 --iterations 300 --out bt-sim/
  kalashi backtest --source replay:run.jsonl.gz --latency-ms 250 --duration 600
  kalashi backtest --source replay:run.jsonl.gz --sweep sweep.yaml --workers 2 --out sweep/
  kalashi backtest --source replay:/shared/run.jsonl.gz --sweep sweep.yaml --executor dask://scheduler:8786 --out sweep/

\b
The same loop as `run-loop` (scan's prefilter, analyze with the profile's fair models,
correlate, the risk gate, order) trades on the paper matching engine, one iteration per
--slice-ms of recorded time; orders meet the book as it was --latency-ms after the decision.
Markets close at their close time (nothing trades after) and settle from the recording, else
from --results (ticker,result), else positions stay marked by the valuation rule — the report
says which. Running out of data is the normal end; unreadable files and sequence gaps are
reported per file. docs/backtest.md has a full example report.
"""


SourcesOpt = Annotated[
    list[str],
    typer.Option(
        "--source",
        "-s",
        metavar="SOURCE",
        autocompletion=complete_source,
        help="replay:PATH[,PATH…] (kalashi or recorder-envelope recordings, .gz "
        "too; several are merged by time), or sim[:seed=N,markets=N] "
        "(with --iterations). Repeat it to add recordings.",
    ),
]
ResultsOpt = Annotated[
    Path | None,
    typer.Option("--results", metavar="CSV", help="Settlement results: a CSV with ticker and result (yes/no) columns."),
]
OutDirOpt = Annotated[
    Path | None,
    typer.Option(
        "--out",
        "-o",
        metavar="DIR",
        help="Write report.json and report.html here (with --sweep: sweep.json, sweep.html and points/N/).",
    ),
]
LatencyOpt = Annotated[
    int | None,
    typer.Option(
        "--latency-ms",
        min=0,
        max=60_000,
        metavar="MS",
        help="Decision → arrival at the book (default: the profile's paper.latency_ms, 50).",
    ),
]
SliceOpt = Annotated[
    int, typer.Option("--slice-ms", min=1, max=3_600_000, metavar="MS", help="Recorded time per iteration.")
]
DurationOpt = Annotated[
    float | None,
    typer.Option(
        "--duration", min=0.001, metavar="SECONDS", help="Play only this much recorded time (default: all of it)."
    ),
]
IterationsOpt = Annotated[
    int | None,
    typer.Option("--iterations", "-n", min=1, metavar="N", help="Stop after N iterations (a sim: source needs it)."),
]
SweepOpt = Annotated[
    Path | None,
    typer.Option(
        "--sweep", metavar="YAML", help="Run a grid (or random sample) of profile overrides; see docs/backtest.md."
    ),
]
WorkersOpt = Annotated[
    int | None,
    typer.Option(
        "--workers",
        "-w",
        min=1,
        max=256,
        metavar="N",
        help="Sweep points run at once in local processes (default: the CPUs, at most 4).",
    ),
]
ExecutorOpt = Annotated[
    str | None,
    typer.Option(
        "--executor",
        metavar="local|dask://HOST:PORT",
        help="Where sweep points run: local processes (default) or an existing "
        "Dask cluster (pip install 'kalashi[dask]'; the recordings' paths must "
        "be readable by its workers).",
    ),
]


def backtest(
    source: SourcesOpt,
    results: ResultsOpt = None,
    out: OutDirOpt = None,
    latency_ms: LatencyOpt = None,
    slice_ms: SliceOpt = 1000,
    duration: DurationOpt = None,
    iterations: IterationsOpt = None,
    sweep: SweepOpt = None,
    workers: WorkersOpt = None,
    executor: ExecutorOpt = None,
    profile: ProfileOpt = "default",
    fmt: FormatOpt = Format.auto,
    quiet: QuietOpt = False,
) -> None:
    """Backtest a profile on recorded (or sim) market data.

    The same pipeline as run-loop, on the paper matching engine, with a report. Writes one `backtest` record (the summary) on stdout — per sweep point with --sweep, best
    first — or a summary table on a terminal; --out writes report.json (versioned) and a
    self-contained report.html (equity and drawdown, P&L per strategy and category, fees,
    trades, maker fill rate and queue time, markouts, Sharpe, Sortino, drawdown, exposure).
    """
    from ..backtest import BacktestConfig
    from ..backtest.source import read_results

    prof = load_profile(profile)
    specs = _source_specs(source)
    res = read_results(results) if results is not None else {}
    cfg = BacktestConfig(
        sources=tuple(specs),
        profile=prof,
        profile_name=profile,
        results=res,
        results_path=str(results) if results is not None else None,
        latency_ms=latency_ms,
        slice_ms=slice_ms,
        duration_s=duration,
        iterations=iterations,
    )
    o = Out(fmt)
    if sweep is not None:
        _sweep(cfg, sweep, out, workers, executor, o, quiet)
        return
    _run_one(cfg, out, o, quiet)


def _source_specs(source: list[str]) -> list[str]:
    """The --source values as the backtest's sources: sim descriptors, and replay: specs split into their paths.

    Raises:
        UsageError: a replay: spec carries replay options, a source is neither replay: nor sim, or a
            sim: source comes with others.
    """
    from ..errors import UsageError
    from ..kalshi.replay import split_replay_spec

    specs: list[str] = []
    for s in source:
        s = s.strip()
        if s == "sim" or s.startswith("sim:"):
            specs.append(s)
        elif s.startswith("replay:"):
            paths, opts = split_replay_spec(s)
            if opts:
                raise UsageError(
                    f"replay options ({','.join(opts)}) are not backtest options",
                    hint="use --slice-ms; a backtest plays as fast as it can",
                )
            specs += paths
        else:
            raise UsageError(
                f"backtest reads recordings or the sim, not {s!r}",
                hint="use --source replay:PATH[,PATH…] or --source sim:seed=N",
            )
    if any(x.startswith("sim") for x in specs) and len(specs) > 1:
        raise UsageError("a sim: source runs alone", hint="give recordings, or one sim descriptor")
    return specs


def _run_one(cfg: Any, out: Path | None, o: Out, quiet: bool) -> None:
    """One backtest: progress on a terminal's stderr, what happened on stderr, the summary on stdout (or a table)."""
    from ..backtest import backtest as run
    from ..backtest.report import summary_record

    info(f"backtest: {len(cfg.sources)} source(s), latency {cfg.latency} ms …", quiet)
    live = not quiet and sys.stderr.isatty()
    report = run(cfg, out, progress=_progress if live else None)
    if live:
        sys.stderr.write("\n")
    rec = summary_record(report, out=str(out / "report.html") if out is not None else None)
    for n in report["notes"]:
        info(f"backtest: {n}", quiet)
    s = report["summary"]
    info(
        f"backtest: {s['events']} events in {s['wall_s']} s ({s['events_per_s']}/s), played to "
        f"{report['data']['played_to']}{'' if report['data']['complete'] else ' (NOT complete)'}",
        quiet,
    )
    if o.table:
        _table(report, out)
    else:
        o.write(rec)


def _progress(n: int, ms: int) -> None:
    """Every 50th iteration: where the backtest is, in place on stderr."""
    if n % 50 == 0:
        from ..backtest.report import iso

        sys.stderr.write(f"\rbacktest: iteration {n}, recorded time {iso(ms)} ")
        sys.stderr.flush()


def _table(report: dict[str, Any], out: Path | None) -> None:
    from rich.table import Table

    from .common import console

    s = report["summary"]
    t = Table(title="kalashi backtest", show_header=False, title_justify="left")
    t.add_column("field")
    t.add_column("value", overflow="fold")
    for k in (
        "starting_balance",
        "equity",
        "pnl",
        "return_pct",
        "fees",
        "trades",
        "closed_trades",
        "win_rate",
        "sharpe",
        "sortino",
        "max_drawdown_pct",
        "exposure_avg",
        "orders",
        "fills",
        "maker_fill_rate",
        "queue_time_s_median",
        "iterations",
        "events",
        "events_per_s",
    ):
        t.add_row(k, "—" if s.get(k) is None else str(s[k]))
    t.add_row("latency_ms", str(report["latency_ms"]))
    t.add_row("settled by", ", ".join(f"{k} {v}" for k, v in report["settlement"]["by_rule"].items()))
    t.add_row(
        "data",
        f"{report['data']['from']} → {report['data']['played_to']}"
        f"{'' if report['data']['complete'] else ' (NOT complete)'}",
    )
    if out is not None:
        t.add_row("report", str(out / "report.html"))
    console(stderr=False).print(t)


def _sweep(
    cfg: Any, path: Path, out: Path | None, workers: int | None, executor: str | None, o: Out, quiet: bool
) -> None:
    import orjson

    from ..backtest.report import summary_record
    from ..backtest.sweep import open_executor, read_sweep, render_sweep_html, run_sweep

    spec = read_sweep(path)
    ex, shutdown = open_executor(executor, workers or max(1, min(4, os.cpu_count() or 1)))

    def on_point(i: int, report: dict[str, Any], page: str | None) -> None:
        if out is not None:
            d = out / "points" / str(i)
            d.mkdir(parents=True, exist_ok=True)
            (d / "report.json").write_bytes(
                orjson.dumps(report, option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE)
            )
            if page is not None:
                (d / "report.html").write_text(page, encoding="utf-8")
        info(f"sweep: point {i} done: pnl {report['summary']['pnl']}", quiet)

    try:
        result = run_sweep(cfg, spec, ex, html=out is not None, on_point=on_point)
    finally:
        shutdown()
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "sweep.json").write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE))
        (out / "sweep.html").write_text(
            render_sweep_html(result, lambda i: f"points/{i}/report.html"), encoding="utf-8"
        )
        info(f"sweep: {len(result['points'])} points ranked by {result['metric']} → {out / 'sweep.html'}", quiet)
    for row in result["points"]:
        rec = summary_record(
            {
                "summary": row["summary"],
                "latency_ms": cfg.latency
                if "paper.latency_ms" not in row["overrides"]
                else row["overrides"]["paper.latency_ms"],
                "data": {"sources": list(cfg.sources), "complete": row["complete"], "played_to": None},
                "settlement": {"by_rule": row["settled_by"]},
                "profile": {"name": cfg.profile_name},
            },
            out=str(out / "points" / str(row["point"]) / "report.html") if out is not None else None,
            point={"n": row["point"], "rank": row["rank"], "overrides": row["overrides"]},
        )
        o.write(rec)
    o.finish({"backtest": ["point", "pnl", "return_pct", "sharpe", "max_drawdown_pct", "trades", "fills"]})
    sys.stdout.flush()


def register(app: typer.Typer) -> None:
    app.command("backtest", epilog=EPILOG)(backtest)
