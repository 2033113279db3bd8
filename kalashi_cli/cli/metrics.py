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
    StrictOpt,
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
    strict: StrictOpt = False,
) -> None:
    """Report P&L, drawdown, execution and recommendations.

    Reads the journal of the chosen mode (what `order` and `run-loop` wrote) plus any records
    piped in (their `stats` records add cache and API figures) and reports trades (a basket
    is one trade), win rate, realized and unrealized P&L, equity (how much of it rests on
    marks), drawdown, streaks, per strategy P&L, fees, turnover and markouts (the mid 1 min,
    5 min and at settlement after each fill), Sharpe and Sortino of per-iteration equity
    changes, execution quality (latency, slippage, fill rate) and recommendations. A table on a terminal, one `metrics` record in a pipe. It only
    reads the journal: it never creates one (a missing journal reads as empty) or migrates one.
    """
    from ..profile import money
    from ..stages.metrics import RunStats, compute_metrics
    from ..stages.portfolio import load_portfolio
    from ..stages.valuation import spread_cap

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
        books, now = _books(jr)
        pf = load_portfolio(jr, money(prof.paper.starting_balance), books, now_ms=now, spread_cap=spread_cap(prof))
        m = compute_metrics(jr, pf, prof, run, now_ms=now)
    finally:
        jr.close()
    kinds.report(quiet, strict)
    if use_table(fmt):
        show(m)
    else:
        out.write(m)


def _books(jr) -> tuple[dict, int | None]:  # noqa: ANN001
    """The books of open positions at the source the journal last traded on, when cheap (the sim), and its time.

    Elsewhere positions are valued at the journal's last marks (the run-loop keeps them).
    """
    rows = jr.iterations(limit=1)
    spec = str(rows[-1].get("source", "")) if rows else (jr.get_meta("last_source") or "")
    now = int(rows[-1]["ts_ms"]) if rows else None
    if not spec.startswith("sim"):
        return {}, now
    from ..context import open_source

    src = open_source(spec)
    try:
        return src.books(jr.open_tickers()), src.now_ms()
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
        ("equity on marks", m["equity_marked"]), ("equity settled", m["equity_settled"]),
        ("turnover", m["turnover"]),
        ("closed trades", f"{m['trades']} ({m['wins']} won, {m['losses']} lost)"), ("win rate", m["win_rate"]),
        ("open trades", str(m["open_trades"])),
        ("max drawdown", f"{m['max_drawdown_pct']}%"),
        ("streak", f"{m['consecutive_wins']} wins / {m['consecutive_losses']} losses"),
        ("open positions", str(m["open_positions"])),
        ("orders", str(m["execution"]["orders"])), ("avg latency", f"{m['execution']['avg_latency_ms']} ms"),
        ("avg slippage", f"{m['execution']['avg_slippage_pct']}%"), ("fill rate", m["execution"]["fill_rate"]),
        ("cache hit rate", m["cache"]["hit_rate"]), ("API calls / iteration", m["api"]["calls_per_iteration"]),
        ("iterations", str(m["iterations"])),
        ("Sharpe / Sortino (per iteration)", f"{m['performance']['sharpe']} / {m['performance']['sortino']}"),
        ("exposure-weighted return", str(m["performance"]["exposure_weighted_return"])),
    ]
    for k, v in rows:
        t.add_row(k, str(v))
    con.print(t)
    for name, s in sorted(m["per_strategy"].items()):
        mk = s.get("markouts", {})
        con.print(f"  {name}: {s['trades']} closed trades ({s['open_trades']} open), win rate {s['win_rate']}, "
                  f"realized {s['realized_pnl']}, unrealized {s['unrealized_pnl']}, fees {s['fees']}, "
                  f"turnover {s['turnover']}; markouts 1m {mk.get('1m')}, 5m {mk.get('5m')}, "
                  f"settlement {mk.get('settlement')}")
    for r in m["recommendations"]:
        con.print(f"• {r['title']}: {r['detail']}")


def register(app: typer.Typer) -> None:
    app.command(epilog=EPILOG)(metrics)
