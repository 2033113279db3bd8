"""The backtest report: ``report.json`` (versioned numbers) and ``report.html`` (one self-contained file).

Every number is computed once, here, from the run's journal with the library functions
``metrics`` uses (:mod:`kalashi_cli.stages.performance`, :func:`kalashi_cli.ledger.fold_trades`,
the valuation rule of :mod:`kalashi_cli.stages.valuation` for what is still open), and the HTML
prints the JSON's values as they are — the two cannot disagree. matplotlib draws the plots
(PNG, base64 in the page; ``pip install 'kalashi[report]'``), imported only when a page is
written; without it the page has the tables and says the plots are missing.
"""

from __future__ import annotations

import base64
import html
import io
import statistics
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import orjson

from .. import __version__
from ..ledger import fold_trades
from ..money import COUNT_SCALE, ONE_DOLLAR, Money, fmt_money, fmt_price
from ..records import VERSION
from ..stages.metrics import compute_metrics
from ..stages.performance import MidHistory, markouts
from ..stages.portfolio import Portfolio
from .run import BacktestRun

#: report.json's own version (a change that breaks a reader bumps it)
REPORT_VERSION = 1
#: markout horizons (settlement is measured too)
HORIZONS: dict[str, int] = {"1s": 1_000, "10s": 10_000, "1m": 60_000, "5m": 300_000}
MAX_CURVE_POINTS = 2_000


def iso(ms: int | None) -> str | None:
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _dec(x: Decimal | float | None, q: str = "0.0001") -> str | None:
    return None if x is None else str(Decimal(x).quantize(Decimal(q)))


def _category(run: BacktestRun, ticker: str, grouper: Any) -> str:
    m = run.source.seen.get(ticker)
    if m is None:
        return "unknown"
    return m.category or grouper.group(m.category, m.series_ticker, m.title)


def build_report(run: BacktestRun, portfolio: Portfolio) -> dict[str, Any]:
    """Every number of the report, as JSON-ready values (money as Kalshi-style strings)."""
    from ..stages.correlate import Grouper

    cfg, jr = run.config, run.journal
    now = run.source.now_ms()
    metrics = compute_metrics(jr, portfolio, cfg.profile, now_ms=now)
    iterations = jr.iterations()
    fills = jr.fills()
    settlements = jr.settlements()
    fill_trades = jr.fill_trades()
    book = fold_trades(fills, settlements, fill_trades)
    grouper = Grouper(cfg.profile)
    curve = _equity_curve(iterations, portfolio.starting_balance)
    exposures = [r.get("exposure") or 0 for r in iterations]
    mk = _markouts(jr, fills, settlements, fill_trades, now_ms=now)
    trades, per_category = _trades(run, portfolio, book, fills, fill_trades, settlements, now_ms=now, grouper=grouper)
    orders = run.broker.orders()

    per_strategy = metrics["per_strategy"]
    for name, row in per_strategy.items():
        row["markouts"] = mk.get(name, {"fills": 0})
    settlement = run.source.settlement_sources()
    by_rule = {
        k: sum(1 for s in settlement.values() if s["source"] == k) for k in ("recording", "results", "valuation")
    }
    summary = _summary(
        run, portfolio, metrics, trades=trades, curve=curve, exposures=exposures, orders=orders, fills=fills
    )
    step = max(1, len(curve) // MAX_CURVE_POINTS)
    shown = curve[::step] + ([curve[-1]] if curve and (len(curve) - 1) % step else [])
    return {
        "format": "kalashi-backtest-report",
        "report_version": REPORT_VERSION,
        "v": VERSION,
        "kalashi": __version__,
        "summary": summary,
        "data": _data(run, now_ms=now),
        "latency_ms": cfg.latency,
        "profile": {
            "name": cfg.profile_name,
            "label": cfg.profile.name,
            "overrides": cfg.overrides,
            "settings": msgspec.to_builtins(cfg.profile),
        },
        "settlement": {"by_rule": by_rule, "markets": settlement, "results_file": cfg.results_path},
        "per_strategy": per_strategy,
        "per_category": {
            k: {"trades": v["trades"], "pnl": fmt_money(Money(v["pnl"])), "fees": fmt_money(Money(v["fees"]))}
            for k, v in sorted(per_category.items())
        },
        "markouts": mk,
        "trades": trades,
        "equity_curve": [
            {"n": n, "t": iso(ts), "equity": fmt_money(Money(e)), "drawdown": fmt_money(Money(d))}
            for n, ts, e, d in shown
        ],
        "metrics": metrics,
        "notes": _notes(run, by_rule, portfolio),
    }


def _equity_curve(iterations: list[dict[str, Any]], start: int) -> list[tuple[int, int, int, int]]:
    """Equity and drawdown, per iteration (time of the books): (n, ts_ms, equity, drawdown from the peak)."""
    curve: list[tuple[int, int, int, int]] = []
    peak = start
    for i, r in enumerate(iterations, 1):
        peak = max(peak, r["equity"])
        curve.append((i, r["ts_ms"], r["equity"], peak - r["equity"]))
    return curve


def _markouts(
    jr: Any, fills: list[Any], settlements: list[Any], fill_trades: dict[str, Any], *, now_ms: int
) -> dict[str, dict[str, Any]]:
    """Markouts, per strategy, at every horizon (and at settlement)."""
    strategy_of = {fid: s for fid, (_t, s) in fill_trades.items()}
    mids = MidHistory(jr.mid_history(sorted({f.ticker for f in fills})))
    marks = markouts(fills, mids, settlements, strategy_of, now_ms=now_ms, horizons=HORIZONS)
    mk: dict[str, dict[str, Any]] = {}
    for name, m in sorted(marks.items()):
        row: dict[str, Any] = {"fills": m.fills}
        for h in (*HORIZONS, "settlement"):
            avg = m.average(h)
            row[h] = fmt_money(avg) if avg is not None else None
            row[f"{h}_contracts"] = f"{m.counts.get(h, 0) / COUNT_SCALE:.2f}"
        mk[name] = row
    return mk


def _trades(
    run: BacktestRun,
    portfolio: Portfolio,
    book: Any,
    fills: list[Any],
    fill_trades: dict[str, Any],
    settlements: list[Any],
    *,
    now_ms: int,
    grouper: Any,
) -> tuple[list[dict[str, Any]], dict[str, dict[str, int]]]:
    """Trades: entry, exit, holding time; and P&L per category (open trades at the valuation rule)."""
    value = {p.ticker: (p.value, abs(p.position), p.basis.value) for p in portfolio.valuation.positions}
    fills_of: dict[str, list[Any]] = {}
    for f in fills:
        fills_of.setdefault(fill_trades.get(f.fill_id, (f"fill:{f.fill_id}", ""))[0], []).append(f)
    settled_at = {s.ticker: s for s in settlements}
    trades: list[dict[str, Any]] = []
    per_category: dict[str, dict[str, int]] = {}
    for t in sorted(book.trades.values(), key=lambda t: (t.opened_ms, t.trade_id)):
        if not t.held:
            continue
        own = fills_of.get(t.trade_id, [])
        bought = [(f.price if f.side == "bid" else ONE_DOLLAR - f.price, f.count) for f in own]
        n = sum(c for _, c in bought)
        entry = sum(p * c for p, c in bought) // n if n else None
        unreal = 0
        for ticker, (q, cost) in t.positions.items():
            if q and ticker in value:
                v, held, _basis = value[ticker]
                unreal += v * abs(q) // held - cost if held else 0
        pnl = t.pnl + unreal
        tickers = sorted({f.ticker for f in own} | set(t.positions))
        if t.is_open:
            exit_how = "open: " + "/".join(sorted({value[k][2] for k in t.positions if k in value} or {"cost"}))
        elif any(k in settled_at and settled_at[k].settled_ts_ms == t.closed_ms for k in tickers):
            res = [settled_at[k].result for k in tickers if k in settled_at]
            exit_how = "settled " + "/".join(res)
        else:
            exit_how = "closed"
        cat = _category(run, tickers[0], grouper) if tickers else "unknown"
        c = per_category.setdefault(cat, {"trades": 0, "pnl": 0, "fees": 0})
        c["trades"] += 1
        c["pnl"] += pnl
        c["fees"] += t.fees
        trades.append(
            {
                "id": t.trade_id,
                "strategy": t.strategy or "unknown",
                "tickers": tickers,
                "category": cat,
                "entry": iso(t.opened_ms),
                "entry_price": fmt_price(entry) if entry is not None else None,
                "contracts": f"{n / COUNT_SCALE:.2f}",
                "exit": iso(t.closed_ms) if not t.is_open else None,
                "exit_how": exit_how,
                "holding_s": _dec(Decimal((now_ms if t.is_open else t.closed_ms) - t.opened_ms) / 1000, "0.001"),
                "pnl": fmt_money(Money(pnl)),
                "fees": fmt_money(t.fees),
            }
        )
    return trades, per_category


def _maker(orders: list[Any], fills: list[Any]) -> dict[str, Any]:
    """Maker orders: how many rested, how much of what rested filled, and how long the queue took."""
    maker_fills: dict[str, list[Any]] = {}
    for f in fills:
        if not f.is_taker:
            maker_fills.setdefault(f.order_id, []).append(f)
    resting = [o for o in orders if o.time_in_force == "good_till_canceled"]
    asked = sum(o.initial_count for o in resting)
    got = sum(f.count for o in resting for f in maker_fills.get(o.order_id, ()))
    waits = [
        min(f.ts_ms for f in maker_fills[o.order_id]) - o.created_ts_ms for o in resting if o.order_id in maker_fills
    ]
    return {
        "maker_orders": len(resting),
        "maker_fill_rate": _dec(Decimal(got) / asked) if asked else None,
        "queue_time_s_median": _dec(Decimal(statistics.median(waits)) / 1000, "0.001") if waits else None,
    }


def _summary(
    run: BacktestRun,
    portfolio: Portfolio,
    metrics: dict[str, Any],
    *,
    trades: list[dict[str, Any]],
    curve: list[tuple[int, int, int, int]],
    exposures: list[int],
    orders: list[Any],
    fills: list[Any],
) -> dict[str, Any]:
    """The report's headline numbers (report.json "summary"; the ``backtest`` record carries most of them)."""
    start, equity, wall = portfolio.starting_balance, portfolio.equity, run.wall_s
    return {
        "starting_balance": fmt_money(start),
        "equity": fmt_money(equity),
        "pnl": fmt_money(Money(equity - start)),
        "return_pct": _dec(Decimal(equity - start) * 100 / start, "0.01") if start else None,
        "equity_marked": fmt_money(portfolio.equity_marked),
        "fees": fmt_money(portfolio.ledger.fees),
        "trades": len(trades),
        "closed_trades": metrics["trades"],
        "wins": metrics["wins"],
        "win_rate": metrics["win_rate"],
        "sharpe": metrics["performance"]["sharpe"],
        "sortino": metrics["performance"]["sortino"],
        "max_drawdown_pct": metrics["max_drawdown_pct"],
        "max_drawdown": fmt_money(Money(max((d for _, _, _, d in curve), default=0))),
        "exposure_avg": fmt_money(Money(sum(exposures) // len(exposures))) if exposures else fmt_money(Money(0)),
        "exposure_max": fmt_money(Money(max(exposures, default=0))),
        "orders": len(orders),
        "fills": len(fills),
        **_maker(orders, fills),
        "iterations": run.iterations,
        "events": run.events,
        "wall_s": f"{wall:.3f}",
        "events_per_s": str(int(run.events / wall)) if wall > 0 else None,
    }


def _data(run: BacktestRun, *, now_ms: int) -> dict[str, Any]:
    """What was replayed: the sources and files, the time they span, how far the run played, whether it is whole."""
    cfg = run.config
    first = min((f["first_ms"] for f in run.files if f.get("first_ms") is not None), default=None)
    last = max((f["last_ms"] for f in run.files if f.get("last_ms") is not None), default=None)
    complete = all(f.get("complete", True) and "error" not in f for f in run.files)
    return {
        "sources": list(cfg.sources),
        "files": run.files,
        "from": iso(first),
        "to": iso(last),
        "played_to": iso(now_ms),
        "complete": complete,
        "slice_ms": cfg.slice_ms,
        "duration_s": cfg.duration_s,
    }


def _notes(run: BacktestRun, by_rule: dict[str, int], portfolio: Portfolio) -> list[str]:
    """What a reader of the numbers must know: valuation-marked markets, open positions, unreadable or gappy files."""
    held_open = sorted({p.ticker for p in portfolio.valuation.positions})
    notes = []
    if by_rule["valuation"]:
        notes.append(
            f"{by_rule['valuation']} market(s) had no settlement in the recording or --results: "
            "positions still open there are marked by the valuation rule (see settlement)."
        )
    if held_open:
        notes.append("open at the end, marked by the valuation rule: " + ", ".join(held_open))
    for st in run.files:
        if "error" in st:
            notes.append(f"unreadable, skipped: {st['path']}: {st['error']}")
        elif st.get("sequence_gaps"):
            notes.append(
                f"{st['path']}: {st['sequence_gaps']} sequence gap(s); the books were stale until the next "
                "snapshot (no orders on them)"
            )
    return notes


def summary_record(
    report: dict[str, Any], *, out: str | None = None, point: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The ``backtest`` JSON Lines record: the summary, the data and how it settled (schema in docs/records.md)."""
    s = report["summary"]
    rec: dict[str, Any] = {
        "kind": "backtest",
        "v": VERSION,
        **{
            k: s[k]
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
                "iterations",
                "events",
            )
        },
        "latency_ms": report["latency_ms"],
        "sources": report["data"]["sources"],
        "complete": report["data"]["complete"],
        "played_to": report["data"]["played_to"],
        "settled_by": report["settlement"]["by_rule"],
        "profile": report["profile"]["name"],
        "report": out,
    }
    if point is not None:
        rec["point"] = point
    return rec


# --------------------------------------------------------------------------- the page


def _plt() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    return plt


def _png(fig: Any, plt: Any) -> str:
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def plots(report: dict[str, Any]) -> dict[str, str]:
    """name → base64 PNG (empty without matplotlib)."""
    plt = _plt()
    if plt is None:
        return {}
    out: dict[str, str] = {}
    curve = report["equity_curve"]
    if curve:
        # against iterations (one per slice of recorded time): recordings days apart sit side by side
        ts = [p["n"] for p in curve]
        eq = [float(p["equity"]) for p in curve]
        dd = [-float(p["drawdown"]) for p in curve]
        fig, (a1, a2) = plt.subplots(
            2, 1, figsize=(9, 5), dpi=100, sharex=True, gridspec_kw={"height_ratios": [3, 1.4]}
        )
        a1.plot(ts, eq, color="#1f5fa8", linewidth=1.2)
        a1.axhline(float(report["summary"]["starting_balance"]), color="#999", linestyle="--", linewidth=0.8)
        a1.set_ylabel("equity ($)")
        a1.set_title("Equity and drawdown")
        a2.fill_between(ts, dd, 0, color="#c0392b", alpha=0.4, step="post")
        a2.set_ylabel("drawdown ($)")
        a2.set_xlabel(f"iteration (one per {report['data']['slice_ms']} ms of recorded time)")
        out["equity"] = _png(fig, plt)
    strat = report["per_strategy"]
    if strat:
        names = sorted(strat)
        fig, ax = plt.subplots(figsize=(6, 3), dpi=100)
        vals = [float(strat[n]["realized_pnl"]) + float(strat[n]["unrealized_pnl"]) for n in names]
        ax.bar(names, vals, color=["#27ae60" if v >= 0 else "#c0392b" for v in vals])
        ax.axhline(0, color="#333", linewidth=0.8)
        ax.set_ylabel("P&L ($)")
        ax.set_title("P&L per strategy (after fees)")
        out["strategies"] = _png(fig, plt)
    mk = report["markouts"]
    if mk:
        hs = [*HORIZONS, "settlement"]
        fig, ax = plt.subplots(figsize=(6, 3), dpi=100)
        for name, row in sorted(mk.items()):
            pts = [(i, float(row[h])) for i, h in enumerate(hs) if row.get(h) is not None]
            if pts:
                ax.plot([p[0] for p in pts], [p[1] * 100 for p in pts], marker="o", label=name)
        ax.set_xticks(range(len(hs)), hs)
        ax.axhline(0, color="#333", linewidth=0.8)
        ax.set_ylabel("¢ per contract")
        ax.set_title("Markouts after fills (in the fill's favour)")
        ax.legend(fontsize=8)
        out["markouts"] = _png(fig, plt)
    return out


def _c(v: Any) -> str:
    if isinstance(v, list | tuple):
        v = ", ".join(str(x) for x in v)
    return html.escape("—" if v is None else str(v))


def _kv_table(rows: dict[str, Any], name: str) -> str:
    body = "".join(
        f'<tr data-key="{html.escape(k)}"><th>{html.escape(k)}</th><td>{_c(v)}</td></tr>'
        for k, v in rows.items()
        if not isinstance(v, dict)
    )
    return f'<table class="kv" data-table="{name}">{body}</table>'


def _table(rows: Sequence[dict[str, Any]], cols: Sequence[str], name: str, key: str | None = None) -> str:
    if not rows:
        return "<p><em>none</em></p>"
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
    body = "".join(
        (f'<tr data-key="{html.escape(str(r[key]))}">' if key else "<tr>")
        + "".join(f'<td data-col="{html.escape(c)}">{_c(r.get(c))}</td>' for c in cols)
        + "</tr>"
        for r in rows
    )
    return f'<table data-table="{name}"><tr>{head}</tr>{body}</table>'


def render_html(report: dict[str, Any]) -> str:
    """The page: every value printed as report.json holds it, plots embedded."""
    pngs = plots(report)

    def img(name: str, alt: str) -> str:
        if name in pngs:
            return f'<img class="plot" data-plot="{name}" alt="{alt}" src="data:image/png;base64,{pngs[name]}">'
        return "" if _plt() else "<p><em>No plot: matplotlib is not installed (pip install 'kalashi[report]').</em></p>"

    s = report["summary"]
    d = report["data"]
    strat_rows = [
        {"strategy": k, **{c: v for c, v in r.items() if not isinstance(v, dict)}}
        for k, r in sorted(report["per_strategy"].items())
    ]
    strat_cols = [
        "strategy",
        "trades",
        "wins",
        "losses",
        "win_rate",
        "open_trades",
        "realized_pnl",
        "unrealized_pnl",
        "fees",
        "turnover",
        "exposure_weighted_return",
    ]
    cat_rows = [{"category": k, **v} for k, v in report["per_category"].items()]
    mk_rows = [{"strategy": k, **v} for k, v in report["markouts"].items()]
    mk_cols = ["strategy", "fills", *HORIZONS, "settlement"]
    files = d["files"]
    file_cols = [
        "path",
        "events",
        "events_played",
        "complete",
        "sequence_gaps",
        "stale_books",
        "snapshot_checks",
        "snapshot_mismatches",
        "inferred_trades",
        "error",
    ]
    settle_rows = [{"ticker": k, **v} for k, v in report["settlement"]["markets"].items()]
    trade_cols = [
        "strategy",
        "tickers",
        "category",
        "entry",
        "entry_price",
        "contracts",
        "exit",
        "exit_how",
        "holding_s",
        "pnl",
        "fees",
    ]
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in report["notes"])
    prof = report["profile"]
    overrides = html.escape(orjson.dumps(prof["overrides"]).decode()) if prof["overrides"] else "none"
    title = f"kalashi backtest — {html.escape(prof.get('label') or prof['name'])}"
    settings = _yaml(prof.get("settings") or {})
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em;max-width:80em;color:#222}}
table{{border-collapse:collapse;margin:.5em 0 1.5em;font-size:.9em}}td,th{{border:1px solid #ccc;padding:.2em .5em;
text-align:right}}th{{background:#f4f4f4}}table.kv th{{text-align:left}}img.plot{{display:block;margin:.5em 0;
max-width:100%}}.meta{{color:#555}}</style></head>
<body><h1>{title}</h1>
<p class="meta">Data {html.escape(str(d["from"]))} → {html.escape(str(d["to"]))}, played to
{html.escape(str(d["played_to"]))} ({"complete" if d["complete"] else "NOT complete"});
latency {report["latency_ms"]} ms between decision and arrival at the book; one iteration per
{d["slice_ms"]} ms of recorded time. Profile <b>{html.escape(prof["name"])}</b>, overrides {overrides}.
kalashi {html.escape(report["kalashi"])}, report v{report["report_version"]}.</p>
<ul>{notes}</ul>
<h2>Summary</h2>{_kv_table(s, "summary")}
<h2>Equity and drawdown</h2>{img("equity", "equity and drawdown curves")}
<h2>Per strategy</h2>{img("strategies", "P&L per strategy")}{_table(strat_rows, strat_cols, "per_strategy", "strategy")}
<h2>Per category</h2>{_table(cat_rows, ["category", "trades", "pnl", "fees"], "per_category", "category")}
<h2>Markouts</h2>
<p>The mid after each fill less the fill's price, signed in the fill's favour, per contract
(negative: the market moved against the fill — adverse selection).</p>
{img("markouts", "markouts after fills")}{_table(mk_rows, mk_cols, "markouts", "strategy")}
<h2>Trades</h2>{_table(report["trades"], trade_cols, "trades", "id")}
<h2>Settlement</h2>
<p>How each market's result was known: the recording, the results file
({_c(report["settlement"]["results_file"])}), or not at all (positions marked by the valuation rule).</p>
{_table(settle_rows, ["ticker", "result", "source"], "settlement", "ticker")}
<h2>Data</h2>{_table(files, file_cols, "files", "path")}
<h2>Profile</h2>
<details><summary>every setting of the profile used (report.json: profile.settings)</summary>
<pre>{html.escape(settings)}</pre></details>
</body></html>
"""


def _yaml(data: dict[str, Any]) -> str:
    import yaml

    return str(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))


def write_report(report: dict[str, Any], out: Path) -> list[Path]:
    """Write ``report.json`` and ``report.html`` into ``out``; return both paths."""
    out.mkdir(parents=True, exist_ok=True)
    j = out / "report.json"
    j.write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE))
    h = out / "report.html"
    h.write_text(render_html(report), encoding="utf-8")
    return [j, h]
