"""report.json and report.html: the page prints the JSON's numbers; it opens in Chromium with its plots."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from needs import require
from typer.testing import CliRunner

from kalashi_cli.cli.app import app
from kalashi_cli.record_schema import schema_for

from .conftest import write_profile

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def report_dir(particle_slice: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from .conftest import active_profile

    out = tmp_path_factory.mktemp("report")
    pfile = write_profile(out / "active.yaml", active_profile())
    results = out / "results.csv"
    results.write_text("ticker,result\nKXBTC15M-26MAY110830-30,yes\n", encoding="utf-8")
    res = CliRunner().invoke(
        app,
        [
            "backtest",
            "--source",
            f"replay:{particle_slice}",
            "--results",
            str(results),
            "--profile",
            str(pfile),
            "--out",
            str(out / "bt"),
        ],
    )
    assert res.exit_code == 0, res.stderr
    (out / "stdout.jsonl").write_text(res.stdout, encoding="utf-8")
    return out


def _cells(page: str, table: str) -> dict[str, dict[str, str]]:
    """A table of the page as {row key: {column: text}} (summary: {key: {"value": text}})."""
    m = re.search(rf'<table[^>]*data-table="{table}"[^>]*>(.*?)</table>', page, re.S)
    assert m, f"no {table} table"
    out: dict[str, dict[str, str]] = {}
    for key, row in re.findall(r'<tr data-key="([^"]*)">(.*?)</tr>', m.group(1), re.S):
        cols = dict(re.findall(r'<td data-col="([^"]*)">(.*?)</td>', row, re.S))
        if not cols:
            cols = {"value": re.search(r"<td>(.*?)</td>", row, re.S).group(1)}
        out[html.unescape(key)] = {k: html.unescape(v) for k, v in cols.items()}
    return out


def _shown(v: Any) -> str:
    return "—" if v is None else ", ".join(map(str, v)) if isinstance(v, list) else str(v)


def test_the_page_prints_the_json_numbers(report_dir: Path) -> None:
    rep = json.loads((report_dir / "bt" / "report.json").read_text())
    page = (report_dir / "bt" / "report.html").read_text()
    assert rep["report_version"] == 1 and rep["latency_ms"] == 50
    assert rep["profile"]["settings"]["analyze"]["spread"]["min_spread"] == "0.01"  # the profile used, in full
    assert "min_spread: &#x27;0.01&#x27;" in page or "min_spread: '0.01'" in page
    assert rep["summary"]["fills"] >= 1 and rep["trades"]
    summary = _cells(page, "summary")
    assert {k: v["value"] for k, v in summary.items()} == {k: _shown(v) for k, v in rep["summary"].items()}
    strat = _cells(page, "per_strategy")
    for name, row in rep["per_strategy"].items():
        for col in ("trades", "realized_pnl", "unrealized_pnl", "fees", "win_rate"):
            assert strat[name][col] == _shown(row[col])
    marks = _cells(page, "markouts")
    for name, row in rep["markouts"].items():
        for h in ("1s", "10s", "1m", "5m", "settlement"):
            assert marks[name][h] == _shown(row[h])
    trades = _cells(page, "trades")
    assert {k: (v["pnl"], v["holding_s"], v["entry_price"]) for k, v in trades.items()} == {
        t["id"]: (t["pnl"], _shown(t["holding_s"]), _shown(t["entry_price"])) for t in rep["trades"]
    }
    cats = _cells(page, "per_category")
    assert {k: v["pnl"] for k, v in cats.items()} == {k: v["pnl"] for k, v in rep["per_category"].items()}
    # the trades add up: P&L per category and per trade sum to the summary's P&L
    from decimal import Decimal

    assert sum(Decimal(t["pnl"]) for t in rep["trades"]) == Decimal(rep["summary"]["pnl"])
    assert sum(Decimal(c["pnl"]) for c in rep["per_category"].values()) == Decimal(rep["summary"]["pnl"])


def test_the_record_on_stdout_follows_its_schema(report_dir: Path) -> None:
    recs = [json.loads(ln) for ln in (report_dir / "stdout.jsonl").read_text().splitlines() if ln.strip()]
    assert [r["kind"] for r in recs] == ["backtest"]
    jsonschema.validate(recs[0], schema_for("backtest"))
    rep = json.loads((report_dir / "bt" / "report.json").read_text())
    assert recs[0]["pnl"] == rep["summary"]["pnl"] and recs[0]["settled_by"] == rep["settlement"]["by_rule"]


def test_the_page_opens_in_chromium_without_errors_and_shows_its_plots(report_dir: Path, tmp_path: Path) -> None:
    require(
        CHROMIUM.exists(),
        "chromium",
        f"{CHROMIUM} is absent: install Debian's chromium (apt-get install -y chromium; .ci/run does)",
    )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        require(False, "playwright", "pip install playwright (the test extra)")
    page_path = report_dir / "bt" / "report.html"
    errors: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("requestfailed", lambda r: errors.append(f"request failed: {r.url}"))
            page.goto(page_path.as_uri())
            page.wait_for_load_state("load")
            plots = page.eval_on_selector_all(
                "img.plot", "els => els.map(e => [e.dataset.plot, e.complete, e.naturalWidth, e.naturalHeight])"
            )
            assert {p[0] for p in plots} >= {"equity", "strategies", "markouts"}
            assert all(done and w > 300 and h > 150 for _, done, w, h in plots), plots
            assert (
                page.locator('table[data-table="summary"] tr[data-key="pnl"] td').inner_text()
                == json.loads((report_dir / "bt" / "report.json").read_text())["summary"]["pnl"]
            )
            page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        finally:
            browser.close()
    assert errors == []
    assert (tmp_path / "report.png").stat().st_size > 10_000


@pytest.mark.slow
@pytest.mark.parametrize(
    "which",
    [
        "particle",
        "rv600_forward",
        "rv600_next_evidence_shadow_20260514",
        "rv600_next_evidence_shadow_20260515",
        "all four",
    ],
)
def test_each_shared_run_and_all_four_write_both_reports(which: str, tmp_path: Path) -> None:
    from .conftest import RUNS, run_path

    runs = sorted(p.name for p in run_path("").glob("*.events.jsonl.gz"))
    assert len(runs) == 4
    chosen = runs if which == "all four" else [r for r in runs if r.startswith(which)]
    assert chosen
    results = run_path("results.csv")
    res = CliRunner().invoke(
        app,
        [
            "backtest",
            "--source",
            "replay:" + ",".join(str(run_path(r)) for r in chosen),
            "--results",
            str(results),
            "--out",
            str(tmp_path),
        ],
    )
    assert res.exit_code == 0, res.stderr
    rep = json.loads((tmp_path / "report.json").read_text())
    page = (tmp_path / "report.html").read_text()
    assert rep["data"]["complete"] and len(rep["data"]["files"]) == len(chosen)
    assert sum(f["events_played"] for f in rep["data"]["files"]) == rep["summary"]["events"]
    summary = _cells(page, "summary")
    assert {k: v["value"] for k, v in summary.items()} == {k: _shown(v) for k, v in rep["summary"].items()}
    assert page.count('class="plot"') >= 1  # the equity curve at least (no fills: no strategy/markout plots)
    assert RUNS in rep["data"]["files"][0]["path"]
