"""kalashi metrics — how the account and the execution are doing."""

from __future__ import annotations

import sys

import typer

from .common import (
    DemoOpt,
    Format,
    FormatOpt,
    InputArg,
    JournalOpt,
    KindCheck,
    LiveOpt,
    Out,
    PaperOpt,
    ProfileOpt,
    QuietOpt,
    info,
    load_profile,
    pick_mode,
    read_journal,
    read_records,
    use_table,
)

EPILOG = """Examples:

\b
  kalashi scan | kalashi analyze | kalashi correlate | kalashi order --paper | kalashi metrics
  kalashi metrics                                   # a table from the paper journal
  kalashi metrics --format jsonl | jq -r .equity
  kalashi metrics --format jsonl | jq -r '.recommendations[] | .title'
"""


def metrics(
    input: InputArg = None,
    paper: PaperOpt = False,
    demo: DemoOpt = False,
    live: LiveOpt = False,
    journal: JournalOpt = None,
    profile: ProfileOpt = "default",
    fmt: FormatOpt = Format.auto,
    quiet: QuietOpt = False,  # metrics prints no summary; --quiet only silences warnings
) -> None:
    """Report P&L, drawdown, execution and recommendations.

    Reads the journal of the chosen mode (what `order` and `run-loop` wrote) plus any records
    piped in (their `stats` records add cache and API figures) and reports win rate, realized
    and unrealized P&L, equity, drawdown, streaks, execution quality (latency, slippage, fill
    rate) and recommendations. A table on a terminal, one `metrics` record in a pipe. It only
    reads the journal: it never creates one (a missing journal reads as empty) or migrates one.
    """
    from ..profile import money
    from ..stages.metrics import RunStats, compute_metrics
    from ..stages.portfolio import load_portfolio

    prof = load_profile(profile)
    mode = pick_mode(paper, demo, live)
    jr = read_journal(mode, journal)
    if mode != "paper" and jr.get_meta("starting_balance") is None:
        info(f"kalashi: warning: the {mode} journal {jr.path} has not been synced with the exchange yet, so its "
             f"balances are the paper placeholder — run `kalashi reconcile --{mode}` first")
    run = RunStats()
    out = Out(fmt)
    # metrics reports the journal; piped records add stats, and order/run-loop output is what belongs here
    kinds = KindCheck("metrics", ("order", "fill", "denied", "stats", "iteration"), "order, fill or stats")
    try:
        if input is not None or not sys.stdin.isatty():
            for rec in kinds.watch(read_records(input, "records")):
                run.absorb(rec)
        marks = _marks(jr)
        m = compute_metrics(jr, load_portfolio(jr, money(prof.paper.starting_balance), marks), prof, run)
    finally:
        jr.close()
    kinds.report(quiet)
    if use_table(fmt):
        show(m)
    else:
        out.write(m)


def _marks(jr) -> dict:  # noqa: ANN001
    """Mark open positions at the books of the source the journal last traded on, when cheap."""
    rows = jr.iterations(limit=1)
    spec = str(rows[-1].get("source", "")) if rows else (jr.get_meta("last_source") or "")
    return _marks_from(spec, jr) if spec else {}


def _marks_from(src_spec: str, jr) -> dict:  # noqa: ANN001
    if not src_spec.startswith("sim"):
        return {}
    from ..context import open_source

    src = open_source(src_spec)
    try:
        return {t: (m.yes_bid, m.no_bid) for t, m in src.books(sorted(jr.held_tickers())).items()}
    finally:
        src.close()


def show(m: dict) -> None:
    from rich.table import Table

    from .common import console

    con = console(stderr=False)
    t = Table(title="kalashi metrics", show_header=False, title_justify="left")
    t.add_column("metric")
    t.add_column("value", justify="right")
    rows = [
        ("equity", m["equity"]), ("cash", m["cash"]), ("realized P&L", m["realized_pnl"]),
        ("unrealized P&L", m["unrealized_pnl"]), ("fees paid", m["fees_paid"]),
        ("round trips", f"{m['trades']} ({m['wins']} won, {m['losses']} lost)"), ("win rate", m["win_rate"]),
        ("max drawdown", f"{m['max_drawdown_pct']}%"),
        ("streak", f"{m['consecutive_wins']} wins / {m['consecutive_losses']} losses"),
        ("open positions", str(m["open_positions"])),
        ("orders", str(m["execution"]["orders"])), ("avg latency", f"{m['execution']['avg_latency_ms']} ms"),
        ("avg slippage", f"{m['execution']['avg_slippage_pct']}%"), ("fill rate", m["execution"]["fill_rate"]),
        ("cache hit rate", m["cache"]["hit_rate"]), ("API calls / iteration", m["api"]["calls_per_iteration"]),
        ("iterations", str(m["iterations"])),
    ]
    for k, v in rows:
        t.add_row(k, str(v))
    con.print(t)
    for name, s in sorted(m["per_strategy"].items()):
        con.print(f"  {name}: {s['trades']} round trips, win rate {s['win_rate']}, P&L {s['pnl']}")
    for r in m["recommendations"]:
        con.print(f"• {r['title']}: {r['detail']}")


def register(app: typer.Typer) -> None:
    app.command(epilog=EPILOG)(metrics)
