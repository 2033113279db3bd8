"""What a person sees on a terminal: tables that fit, sorted best first, ratios as percentages,
colour for states and health words (NO_COLOR honoured).

Tables are checked through rich's recording console (the layout, at a fixed width) and through a
pseudo-terminal (what `kalashi` itself decides when its stdout is a terminal).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.console import Console

from kalashi_cli.cli.common import TABLE_ROWS, print_tables

from .conftest import SIM, Kalashi, records
from .test_experience import run_with_tty


def recorded(
    rows: list[dict[str, Any]],
    *,
    limit: int | None = TABLE_ROWS,
    width: int = 140,
    columns: dict[str, list[str]] | None = None,
) -> str:
    con = Console(record=True, width=width, color_system=None, force_terminal=False)
    print_tables(rows, columns or {}, limit=limit, con=con)
    return con.export_text()


def opportunity(i: int, score: str, *, legs: int = 1) -> dict[str, Any]:
    return {
        "kind": "opportunity",
        "v": 1,
        "id": f"o{i}",
        "strategy": "value",
        "event_ticker": f"EV-{i}",
        "legs": [
            {"ticker": f"EV-{i}-T{k}", "outcome": "yes", "action": "buy", "price": "0.4000", "count": "1.00"}
            for k in range(legs)
        ],
        "edge": "0.0330",
        "edge_pct": "0.0825",
        "score": score,
        "reason": f"because {i}",
        "_line": i,
    }


def test_analyze_table_is_sorted_by_score_with_the_market_ticker_and_percentages() -> None:
    rows = [opportunity(i, f"0.{i:04d}") for i in range(30)] + [opportunity(99, "0.5000", legs=3)]
    text = recorded(rows)
    lines = text.splitlines()
    assert lines[0].startswith("opportunity (31) — top 20 by score")
    body = [ln for ln in lines if ln.startswith("│")]
    assert len(body) == 20
    assert "EV-99-T0 +2" in body[0] and "0.5000" in body[0], "best first; a basket names its first leg"
    assert "EV-29-T0" in body[1] and "EV-11-T0" in body[-1]
    assert "8.3%" in body[1] and "0.0825" not in text, "edge_pct is a ratio: shown as a percentage"
    assert "… 11 more, use --format jsonl" in text
    assert "_line" not in text


def test_scan_table_shows_the_top_markets_by_volume() -> None:
    rows = [
        {
            "kind": "market",
            "v": 1,
            "ticker": f"M-{i}",
            "status": "active",
            "yes_bid": "0.1000",
            "yes_ask": "0.2000",
            "no_bid": "0.8000",
            "no_ask": "0.9000",
            "volume": f"{i * 10}.00",
            "open_interest": "5.00",
            "_line": i,
        }
        for i in range(50)
    ]
    text = recorded(rows)
    body = [ln for ln in text.splitlines() if ln.startswith("│")]
    assert text.startswith("market (50) — top 20 by volume") and len(body) == 20
    assert body[0].split("│")[1].strip() == "M-49" and body[-1].split("│")[1].strip() == "M-30"
    assert "… 30 more, use --format jsonl" in text
    # into a file (no limit) every row is there, still best first
    full = recorded(rows, limit=None)
    assert len([ln for ln in full.splitlines() if ln.startswith("│")]) == 50 and "more, use" not in full


def test_internal_fields_never_show_even_for_unknown_kinds() -> None:
    text = recorded([{"kind": "stats", "v": 1, "stage": "scan", "listed": 3, "_line": 7}])
    assert "stage" in text and "listed" in text and "_line" not in text


def test_a_narrow_terminal_keeps_tickers_whole_and_cuts_the_prose() -> None:
    rows = [opportunity(i, "0.1000") for i in range(3)]
    rows[0]["reason"] = "a long explanation " * 20
    wide = recorded(rows, width=120)
    assert "EV-0-T0" in wide and "a long explanation" in wide and "…" in wide
    narrow = recorded(rows, width=60)
    assert "EV-0-T0" in narrow and "reason" not in narrow  # no room for prose: left out, tickers whole
    assert all(len(line) <= 60 for line in narrow.splitlines())


def test_states_and_health_words_are_coloured_unless_no_color() -> None:
    rows = [
        {"kind": "health", "v": 1, "name": n, "status": s, "detail": "d", "latency_ms": "1"}
        for n, s in (("a", "ok"), ("b", "degraded"), ("c", "failed"))
    ]
    con = Console(record=True, width=100, force_terminal=True, color_system="standard")
    print_tables(rows, {"health": ["name", "status", "detail"]}, limit=TABLE_ROWS, con=con)
    styled = con.export_text(styles=True)
    assert "\x1b[32mok" in styled and "\x1b[33mdegraded" in styled and "\x1b[1;31mfailed" in styled


def test_scan_and_analyze_on_a_real_terminal(tmp_path: Path, kalashi: Kalashi) -> None:
    code, out, _ = run_with_tty(
        ["scan", "--source", "sim:seed=1,markets=600"], tmp_path, tty="stdout", NO_COLOR="1", COLUMNS="150"
    )
    text = out.decode()
    assert code == 0 and "top 20 by volume" in text and "more, use --format jsonl" in text, text[:500]
    assert len([ln for ln in text.splitlines() if ln.startswith("│")]) == 20
    markets = tmp_path / "m.jsonl"
    markets.write_text(kalashi("scan", "--source", SIM).stdout)
    code, out, _ = run_with_tty(["analyze", str(markets)], tmp_path, tty="stdout", NO_COLOR="1", COLUMNS="150")
    text = out.decode()
    assert code == 0 and "by score" in text and "market" in text and "edge %" in text, text[:500]
    assert "_line" not in text and "%" in text
    best = max(records(kalashi("analyze", str(markets)).stdout), key=lambda r: float(r.get("score", -1)))
    first_row = next(ln for ln in text.splitlines() if ln.startswith("│"))
    assert best["legs"][0]["ticker"] in first_row, (best, first_row)
    assert json.dumps(best["kind"]) not in text  # a table, not JSON


# -- metrics ------------------------------------------------------------------------------------


def shown_metrics(m: dict[str, Any], state: tuple[str, str] | None = ("ACTIVE", "")) -> dict[str, str]:
    from kalashi_cli.cli.metrics import show

    con = Console(record=True, width=120, color_system=None)
    show(m, state, con=con)
    rows = {}
    for line in con.export_text().splitlines():
        cells = [c.strip() for c in line.strip("│").split("│")]
        if line.startswith("│") and len(cells) == 2:
            rows[cells[0]] = cells[1]
    return rows


def test_metrics_of_an_empty_account_say_n_a_not_zero(kalashi: Kalashi, tmp_path: Path) -> None:
    m = json.loads(kalashi("metrics", "--journal", str(tmp_path / "j.sqlite"), "--format", "jsonl").stdout)
    rows = shown_metrics(m)
    assert rows["win rate"] == "n/a (no closed trades yet)" and rows["fill rate"] == "n/a (no orders yet)"
    assert rows["avg latency"] == "n/a (no orders yet)" and rows["cache hit rate"] == "n/a (no lookups)"
    assert rows["avg slippage"] == "n/a (nothing filled yet)"
    assert rows["Sharpe / Sortino (per iteration)"] == "n/a (fewer than two equity changes)"
    assert rows["exposure-weighted return"] == "n/a (never exposed)"
    assert rows["equity"] == "$100.00" and rows["realized P&L"] == "$0.00" and rows["trading state"] == "ACTIVE"


def test_metrics_show_dollars_and_percentages_rounded_like_run_loop() -> None:
    from kalashi_cli.cli.common import usd

    m = {
        "equity": "1234.5650",
        "cash": "99.994999",
        "realized_pnl": "12.3450",
        "unrealized_pnl": "-0.0050",
        "fees_paid": "0.0035",
        "trades": 8,
        "wins": 5,
        "losses": 3,
        "win_rate": "0.625",
        "max_drawdown_pct": "2.5",
        "consecutive_wins": 2,
        "consecutive_losses": 0,
        "open_positions": 1,
        "iterations": 4,
        "equity_marked": "34.5650",
        "equity_settled": "1200",
        "turnover": "250.125",
        "open_trades": 1,
        "performance": {"sharpe": "0.4567", "sortino": None, "exposure_weighted_return": "0.0512"},
        "execution": {"orders": 10, "avg_latency_ms": "51.234", "avg_slippage_pct": "0.1234", "fill_rate": "0.8125"},
        "cache": {"hits": 3, "misses": 1, "hit_rate": "0.75"},
        "api": {"calls": 40, "calls_per_iteration": "10"},
        "per_strategy": {
            "value": {
                "trades": 8,
                "wins": 5,
                "pnl": "12.3450",
                "realized_pnl": "12.3450",
                "win_rate": "0.625",
                "open_trades": 1,
                "unrealized_pnl": "-0.0050",
                "fees": "0.0035",
                "turnover": "250.125",
                "markouts": {"1m": "0.0194", "5m": "-0.0021", "settlement": None},
            }
        },
        "recommendations": [],
    }
    rows = shown_metrics(m, ("HALTED", "operator halt"))
    assert rows["equity"] == "$1,234.57" == usd("1234.5650") and rows["cash"] == "$99.99"
    assert rows["realized P&L"] == "+$12.35" and rows["unrealized P&L"] == "-$0.01" and rows["fees paid"] == "$0.00"
    assert rows["win rate"] == "62.5%" and rows["fill rate"] == "81.3%" and rows["cache hit rate"] == "75.0%"
    assert rows["max drawdown"] == "2.50%" and rows["avg slippage"] == "0.12%" and rows["avg latency"] == "51 ms"
    assert rows["closed trades"] == "8 (5 won, 3 lost)" and rows["trading state"] == "HALTED (operator halt)"
    assert (
        rows["equity on marks"] == "$34.57" and rows["equity settled"] == "$1,200.00" and rows["turnover"] == "$250.13"
    )
    assert rows["Sharpe / Sortino (per iteration)"] == "0.46 / n/a" and rows["exposure-weighted return"] == "5.1%"


def test_metrics_on_a_terminal_colour_the_state_unless_no_color(tmp_path: Path, kalashi: Kalashi) -> None:
    j = ["--journal", str(tmp_path / "j.sqlite")]
    kalashi("halt", *j, "--reason", "tty test", "--quiet")
    code, out, _ = run_with_tty(["metrics", *j], tmp_path, tty="stdout")
    assert code == 0 and b"\x1b[1;31mHALTED" in out, out[:400]
    code, out, _ = run_with_tty(["metrics", *j], tmp_path, tty="stdout", NO_COLOR="1")
    assert code == 0 and b"HALTED (tty test)" in out and b"\x1b" not in out
