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


def recorded(rows: list[dict[str, Any]], *, limit: int | None = TABLE_ROWS, width: int = 140,
             columns: dict[str, list[str]] | None = None) -> str:
    con = Console(record=True, width=width, color_system=None, force_terminal=False)
    print_tables(rows, columns or {}, limit=limit, con=con)
    return con.export_text()


def opportunity(i: int, score: str, *, legs: int = 1) -> dict[str, Any]:
    return {"kind": "opportunity", "v": 1, "id": f"o{i}", "strategy": "value", "event_ticker": f"EV-{i}",
            "legs": [{"ticker": f"EV-{i}-T{k}", "outcome": "yes", "action": "buy", "price": "0.4000",
                      "count": "1.00"} for k in range(legs)],
            "edge": "0.0330", "edge_pct": "0.0825", "score": score, "reason": f"because {i}", "_line": i}


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
    rows = [{"kind": "market", "v": 1, "ticker": f"M-{i}", "status": "active", "yes_bid": "0.1000",
             "yes_ask": "0.2000", "no_bid": "0.8000", "no_ask": "0.9000", "volume": f"{i * 10}.00",
             "open_interest": "5.00", "_line": i} for i in range(50)]
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
    rows = [{"kind": "health", "v": 1, "name": n, "status": s, "detail": "d", "latency_ms": "1"}
            for n, s in (("a", "ok"), ("b", "degraded"), ("c", "failed"))]
    con = Console(record=True, width=100, force_terminal=True, color_system="standard")
    print_tables(rows, {"health": ["name", "status", "detail"]}, limit=TABLE_ROWS, con=con)
    styled = con.export_text(styles=True)
    assert "\x1b[32mok" in styled and "\x1b[33mdegraded" in styled and "\x1b[1;31mfailed" in styled


def test_scan_and_analyze_on_a_real_terminal(tmp_path: Path, kalashi: Kalashi) -> None:
    code, out, _ = run_with_tty(["scan", "--source", "sim:seed=1,markets=600"], tmp_path, tty="stdout",
                                NO_COLOR="1", COLUMNS="150")
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
