"""kalashi metrics — how the account and the execution are doing."""

from __future__ import annotations

import sys
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import typer
from rich.text import Text

if TYPE_CHECKING:
    from ..domain import Market
    from ..journal import Journal

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
        info(
            f"kalashi: warning: the {mode} journal {jr.path} has not been synced with the exchange yet, so its "
            f"balances are the paper placeholder — run `kalashi reconcile --{mode}` first"
        )
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
        state = _state(jr)
    finally:
        jr.close()
    kinds.report(quiet, strict)
    if use_table(fmt):
        show(m, state)
    else:
        out.write(m)


def _books(jr: Journal) -> tuple[dict[str, Market], int | None]:
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


def show(m: dict[str, Any], state: tuple[str, str] | None = None, con: Any = None) -> None:
    """The metrics as a person reads them: $ for money (cents, as run-loop shows it), percentages
    for rates, "n/a" where there is nothing to measure yet, the trading state in its colour."""
    from rich.table import Table

    from .common import console, percent, state_text, usd

    con = con if con is not None else console(stderr=False)
    ex, cache, api = m["execution"], m["cache"], m["api"]
    trades, orders = int(m["trades"]), int(ex["orders"])
    filled = Decimal(ex["fill_rate"]) > 0

    def na(why: str) -> str:
        return f"n/a ({why})"

    def ratio(v: str | None) -> str:
        return "n/a" if v is None else f"{Decimal(v):.2f}"

    def per_contract(v: str | None) -> str:  # markouts are fractions of a cent: three places, signed
        if v is None:
            return "n/a"
        d = Decimal(v)
        return f"{'-' if d < 0 else '+'}${abs(d):.3f}"

    t = Table(title="kalashi metrics", show_header=False, title_justify="left")
    t.add_column("metric")
    t.add_column("value", justify="right")
    rows: list[tuple[str, Any]] = []
    if state is not None:
        word, why = state
        rows.append(("trading state", state_text(word) if not why else Text.assemble(state_text(word), f" ({why})")))
    perf = m["performance"]
    rows += [
        ("equity", usd(m["equity"])),
        ("cash", usd(m["cash"])),
        ("realized P&L", usd(m["realized_pnl"], signed=True)),
        ("unrealized P&L", usd(m["unrealized_pnl"], signed=True)),
        ("fees paid", usd(m["fees_paid"])),
        ("equity on marks", usd(m["equity_marked"])),
        ("equity settled", usd(m["equity_settled"])),
        ("turnover", usd(m["turnover"])),
        ("closed trades", f"{trades} ({m['wins']} won, {m['losses']} lost)" if trades else "0"),
        ("win rate", percent(m["win_rate"]) if trades else na("no closed trades yet")),
        ("open trades", str(m["open_trades"])),
        ("max drawdown", f"{Decimal(m['max_drawdown_pct']):.2f}%"),
        (
            "streak",
            f"{m['consecutive_wins']} wins / {m['consecutive_losses']} losses"
            if trades
            else na("no closed trades yet"),
        ),
        ("open positions", str(m["open_positions"])),
        ("orders", str(orders)),
        ("avg latency", f"{Decimal(ex['avg_latency_ms']):,.0f} ms" if orders else na("no orders yet")),
        ("avg slippage", f"{Decimal(ex['avg_slippage_pct']):.2f}%" if filled else na("nothing filled yet")),
        ("fill rate", percent(ex["fill_rate"]) if orders else na("no orders yet")),
        ("cache hit rate", percent(cache["hit_rate"]) if cache["hits"] + cache["misses"] else na("no lookups")),
        (
            "API calls / iteration",
            f"{Decimal(api['calls_per_iteration']):,.1f}" if m.get("iterations") else na("no iterations"),
        ),
        ("iterations", str(m.get("iterations", 0))),
        (
            "Sharpe / Sortino (per iteration)",
            f"{ratio(perf['sharpe'])} / {ratio(perf['sortino'])}"
            if perf["sharpe"] is not None or perf["sortino"] is not None
            else na("fewer than two equity changes"),
        ),
        (
            "exposure-weighted return",
            percent(perf["exposure_weighted_return"])
            if perf["exposure_weighted_return"] is not None
            else na("never exposed"),
        ),
    ]
    for k, v in rows:
        t.add_row(k, v)
    con.print(t)
    for name, st in sorted(m["per_strategy"].items()):
        mk = st.get("markouts", {})
        con.print(
            f"  {name}: {st['trades']} closed trades ({st['open_trades']} open), win rate "
            f"{percent(st['win_rate']) if st['trades'] else 'n/a'}, realized {usd(st['realized_pnl'], signed=True)}, "
            f"unrealized {usd(st['unrealized_pnl'], signed=True)}, fees {usd(st['fees'])}, "
            f"turnover {usd(st['turnover'])}; markouts per contract 1m {per_contract(mk.get('1m'))}, "
            f"5m {per_contract(mk.get('5m'))}, settlement {per_contract(mk.get('settlement'))}",
            soft_wrap=True,
        )
    for r in m["recommendations"]:
        con.print(f"• {r['title']}: {r['detail']}", soft_wrap=True)


def _state(jr: Any) -> tuple[str, str]:
    """The trading state to show: HALTED (and why) as stored, else the last iteration's state."""
    from ..stages.risk import TradingState, stored_state

    st, why = stored_state(jr)
    if st is TradingState.HALTED:
        return st.value, why
    rows = jr.iterations(limit=1)
    return (str(rows[-1].get("state") or "ACTIVE"), "") if rows else ("ACTIVE", "")


def register(app: typer.Typer) -> None:
    app.command(epilog=EPILOG)(metrics)
