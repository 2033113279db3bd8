"""`kalashi fair` as people run it: the pipe, bad fair records, and --evaluate recomputed by hand."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import jsonschema
import pytest

from kalashi_cli.domain import Market
from kalashi_cli.money import COUNT_SCALE, Count, flip
from kalashi_cli.record_schema import schema_for
from kalashi_cli.records import market_record

from .conftest import Kalashi, mk, px, records
from .test_crypto import gbm_path, write_spot

BIN = Path(sys.executable).parent
SIM = "sim:seed=2,markets=600"


def shell(cmd: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KALASHI_", "KALSHI_"))}
    env.update(PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}", KALASHI_HOME=str(cwd / "home"), NO_COLOR="1")
    return subprocess.run(
        ["bash", "-c", "set -euo pipefail\n" + cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


def test_scan_fair_analyze_is_a_real_pipe(tmp_path: Path) -> None:
    p = shell(
        f"kalashi scan --source {SIM} --limit 300 --quiet | kalashi fair --quiet | tee fair.jsonl "
        "| kalashi analyze --fair - --quiet > opps.jsonl",
        tmp_path,
    )
    assert p.returncode == 0, p.stderr
    assert "warning" not in p.stderr
    piped = records((tmp_path / "fair.jsonl").read_text())
    fair = [r for r in piped if r["kind"] == "fair"]
    markets = [r for r in piped if r["kind"] == "market"]
    assert len(markets) == 300 and len(fair) >= 250  # the ladder prices nearly every sim event
    # every event's fair records come just before its markets
    seen_markets: set[str] = set()
    for r in piped:
        if r["kind"] == "market":
            seen_markets.add(r["event_ticker"])
        elif r["kind"] == "fair":
            assert r["event_ticker"] not in seen_markets, r
            assert Decimal(r["p"]) >= 0 and Decimal(r["se"]) >= 0 and r["model"] == "ladder"
    for r in piped:  # every record written validates against its kind's published schema
        jsonschema.validate(r, schema_for(r["kind"]))
    stats = [r for r in piped if r["kind"] == "stats" and r["stage"] == "fair"]
    assert stats and stats[0]["priced"] == len(fair)
    out = records((tmp_path / "opps.jsonl").read_text())
    assert not [r for r in out if r["kind"] in ("fair", "market")]  # analyze consumed them
    assert [r for r in out if r["kind"] == "stats" and r["stage"] == "analyze"]
    assert all(
        "sim's demo forecast" not in r["reason"]
        for r in out
        if r["kind"] == "opportunity"
        and r["strategy"] == "value"
        and r["legs"][0]["ticker"] in {f["ticker"] for f in fair}
    )


def test_fair_records_without_fair_dash_pass_through_with_a_warning(kalashi: Kalashi) -> None:
    m = market_record(mk("V-1", event="V", bid=0.5, ask=0.52))
    fair = {"kind": "fair", "v": 1, "ticker": "V-1", "p": "0.9", "model": "mine"}
    import json

    res = kalashi("analyze", input=json.dumps(fair) + "\n" + json.dumps(m) + "\n")
    assert [r["kind"] for r in records(res.stdout)][:1] == ["fair"]
    assert "add --fair - to trade on them" in res.stderr
    res = kalashi("analyze", "--fair", "-", input=json.dumps(fair) + "\n" + json.dumps(m) + "\n")
    opps = [r for r in records(res.stdout) if r["kind"] == "opportunity" and r["strategy"] == "value"]
    assert opps and "model mine" in opps[0]["reason"]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"kind": "fair", "ticker": "V-1", "p": "1.5", "model": "m"}', "<stdin>:2: p must be between 0 and 1"),
        ('{"kind": "fair", "ticker": "V-1", "model": "m"}', "<stdin>:2: fair record is missing required field 'p'"),
        ('{"kind": "fair", "ticker": "V-1", "p": "abc", "model": "m"}', "<stdin>:2: p is not a number: 'abc'"),
        ('{"kind": "fair", "ticker": "V-1", "p": "0.5", "se": "-1", "model": "m"}', "<stdin>:2: se must be"),
        ('{"kind": "fair", "ticker": "V-1", "p": "0.5", "model": ""}', "field 'model' must be a non-empty string"),
        (
            '{"kind": "fair", "ticker": "V-1", "p": "0.5", "inputs_ts": "yesterday"}',
            "field 'inputs_ts' must be an ISO-8601",
        ),
    ],
)
def test_a_bad_fair_record_is_exit_3_naming_line_and_field(kalashi: Kalashi, line: str, message: str) -> None:
    import json

    m = json.dumps(market_record(mk("V-1", event="V", bid=0.5, ask=0.52)))
    res = kalashi("analyze", "--fair", "-", input=m + "\n" + line + "\n", code=3)
    assert res.stderr.startswith("kalashi: error: ") and message in res.stderr, res.stderr


def test_a_bad_fair_file_names_the_file(kalashi: Kalashi, tmp_path: Path) -> None:
    f = tmp_path / "fair.jsonl"
    f.write_text(
        '{"kind": "fair", "ticker": "A", "p": "0.4", "model": "m"}\n{"kind": "market"}\n'
        '{"kind": "fair", "ticker": "B", "p": 2, "model": "m"}\n'
    )
    res = kalashi("analyze", "--fair", str(f), input="", code=3)
    assert f"{f}:3: p must be between 0 and 1" in res.stderr


def test_a_bad_market_record_into_fair_is_exit_3(kalashi: Kalashi) -> None:
    res = kalashi("fair", input='{"kind": "market", "ticker": "X"}\n', code=3)
    assert "<stdin>:1: bad market record" in res.stderr


def test_fair_with_a_source_writes_the_markets_too(kalashi: Kalashi) -> None:
    out = records(kalashi("fair", "--source", SIM, "--format", "jsonl").stdout)
    kinds = {r["kind"] for r in out}
    assert {"market", "fair", "stats"} <= kinds


# --------------------------------------------------------------------------- --evaluate, recomputed by hand

T1 = 1_780_000_000_000
T2 = T1 + 60_000


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat().replace("+00:00", "Z")


def book(ticker: str, bid: float, ask: float, *, thin_ask: float | None = None) -> Market:
    """Deep (100-lot) bid and ask; optionally a two-lot ask in front of the deep one."""
    no: tuple[tuple[int, int], ...] = ((flip(px(ask)), Count(100 * COUNT_SCALE)),)
    if thin_ask is not None:
        no = ((flip(px(thin_ask)), Count(2 * COUNT_SCALE)), *no)
    return mk(
        ticker,
        event=ticker.rsplit("-", 1)[0],
        yes=((px(bid), Count(100 * COUNT_SCALE)),),
        no=no,
        close=iso(T2 + 600_000),
    )


def fee(p: float) -> float:
    """Kalshi's taker fee for one contract, rounded up to $0.0001 (REFERENCE §9), computed here by hand."""
    return math.ceil(round(0.07 * p * (1 - p) * 10_000, 9)) / 10_000


def test_evaluate_figures_match_a_hand_computation(kalashi: Kalashi, tmp_path: Path) -> None:
    import json

    snaps = {
        T1: [
            book("E1-A", 0.40, 0.70, thin_ask=0.41),
            book("E2-A", 0.30, 0.34),
            book("E3-A", 0.60, 0.64),
            book("E4-A", 0.10, 0.12),
        ],
        T2: [
            book("E1-A", 0.70, 0.72),
            book("E2-A", 0.20, 0.22),
            mk("E3-A", event="E3", yes=((6000, 10_000),), close=iso(T2 + 600_000)),  # no ask: no mid, no row
            book("E4-A", 0.10, 0.12),
        ],
    }
    lines = []
    for t, ms in snaps.items():
        for m in ms:
            rec = market_record(m)
            rec["ts"] = iso(t)
            lines.append(json.dumps(rec))
    (tmp_path / "m.jsonl").write_text("\n".join(lines) + "\n")
    (tmp_path / "r.csv").write_text("ticker,result\nE1-A,yes\nE2-A,no\nE3-A,yes\nE9-Z,no\n")  # E4-A unsettled
    res = kalashi(
        "fair",
        "--evaluate",
        "--source",
        str(tmp_path / "m.jsonl"),
        "--results",
        str(tmp_path / "r.csv"),
        "--every",
        "1",
        "--format",
        "jsonl",
        "--report",
        str(tmp_path / "rep.html"),
    )
    scores = {r["model"]: r for r in records(res.stdout)}
    assert set(scores) == {"mid", "ladder"}
    for r in scores.values():
        jsonschema.validate(r, schema_for("fair-score"))

    # by hand: (p, outcome) per row; the mid is the top of book's, the ladder the deep quotes' midpoint
    mid_rows = [(0.405, 1), (0.71, 1), (0.32, 0), (0.21, 0), (0.62, 1)]
    ladder_rows = [(0.55, 1), (0.71, 1), (0.32, 0), (0.21, 0), (0.62, 1)]

    def brier(rows: list[tuple[float, int]]) -> float:
        return sum((p - y) ** 2 for p, y in rows) / len(rows)

    def logloss(rows: list[tuple[float, int]]) -> float:
        return -sum(math.log(p) if y else math.log(1 - p) for p, y in rows) / len(rows)

    for name, rows in (("mid", mid_rows), ("ladder", ladder_rows)):
        s = scores[name]
        assert (s["n"], s["markets"], s["events"]) == (5, 3, 3)
        assert float(s["brier"]) == pytest.approx(brier(rows), abs=1e-6)
        assert float(s["log_loss"]) == pytest.approx(logloss(rows), abs=1e-6)
    assert float(scores["ladder"]["brier_vs_mid"]) == pytest.approx(brier(ladder_rows) - brier(mid_rows), abs=1e-6)
    # reliability: rows binned by tenths of p
    assert {b["bin"]: b["n"] for b in scores["mid"]["reliability"]} == {
        "0.2-0.3": 1,
        "0.3-0.4": 1,
        "0.4-0.5": 1,
        "0.6-0.7": 1,
        "0.7-0.8": 1,
    }
    # the value strategy: the ladder (0.55, se 0.30/√12 = 0.087) buys E1's two-lot YES ask at 0.41 once:
    # 0.55 − 0.41 − 0.0170 fee = 0.123 ≥ 0.03 + 0.087. E1 settled yes.
    assert scores["ladder"]["trades"] == 1
    assert Decimal(scores["ladder"]["pnl"]) == Decimal(str(round(1 - 0.41 - fee(0.41), 4)))
    assert scores["mid"]["trades"] == 0 and Decimal(scores["mid"]["pnl"]) == 0
    html = (tmp_path / "rep.html").read_text()
    assert "ladder" in html and "Reliability" in html
    twin = json.loads((tmp_path / "rep.json").read_text())
    assert [s["brier"] for s in twin["scores"]] == [scores["mid"]["brier"], scores["ladder"]["brier"]]


def test_evaluate_scores_the_crypto_models_with_recorded_spot(kalashi: Kalashi, tmp_path: Path) -> None:
    import json

    path = gbm_path(5, 0.6, 3600)
    write_spot(tmp_path / "spot.csv", path)
    t_end = path[-1][0]
    close = t_end + 900_000
    lines = []
    for t in (t_end - 120_000, t_end - 60_000, t_end):
        for k in (64_800, 65_200):
            m = mk(
                f"KXBTC-26JUN0112-T{k}",
                event="KXBTC-26JUN0112",
                bid=0.45,
                ask=0.55,
                strike_type="greater",
                floor_strike=Decimal(k),
                close=iso(close),
            )
            rec = market_record(m)
            rec["ts"] = iso(t)
            lines.append(json.dumps(rec))
    (tmp_path / "m.jsonl").write_text("\n".join(lines) + "\n")
    (tmp_path / "r.csv").write_text("ticker,result\nKXBTC-26JUN0112-T64800,yes\nKXBTC-26JUN0112-T65200,no\n")
    res = kalashi(
        "fair",
        "--evaluate",
        "--source",
        str(tmp_path / "m.jsonl"),
        "--results",
        str(tmp_path / "r.csv"),
        "--spot",
        f"file:{tmp_path / 'spot.csv'}",
        "--format",
        "jsonl",
    )
    scores = {r["model"]: r for r in records(res.stdout)}
    assert set(scores) == {"mid", "ladder", "crypto", "crypto-t"}
    assert scores["crypto"]["n"] == 6 and scores["crypto-t"]["n"] == 6


def test_evaluate_usage_errors(kalashi: Kalashi, tmp_path: Path) -> None:
    (tmp_path / "r.csv").write_text("ticker,result\n")
    assert "needs --source" in kalashi("fair", "--evaluate", "--results", str(tmp_path / "r.csv"), code=2).stderr
    res = kalashi(
        "fair", "--evaluate", "--source", "x.jsonl", "--results", str(tmp_path / "r.csv"), "--models", "crypto", code=2
    )
    assert "needs --spot FILE" in res.stderr
    assert "unknown model" in kalashi("fair", "--models", "magic", input="", code=2).stderr
    (tmp_path / "bad.csv").write_text("name,outcome\nA,yes\n")
    res = kalashi(
        "fair", "--evaluate", "--source", str(tmp_path / "r.csv"), "--results", str(tmp_path / "bad.csv"), code=3
    )
    assert "no ticker and result columns" in res.stderr


def test_evaluate_scores_your_own_fair_records_as_of_their_time(kalashi: Kalashi, tmp_path: Path) -> None:
    import json

    lines = []
    for t, (b1, a1), (b2, a2) in ((T1, (0.40, 0.44), (0.30, 0.34)), (T2, (0.60, 0.62), (0.20, 0.22))):
        for m in (book("E1-A", b1, a1), book("E2-A", b2, a2)):
            rec = market_record(m)
            rec["ts"] = iso(t)
            lines.append(json.dumps(rec))
    (tmp_path / "m.jsonl").write_text("\n".join(lines) + "\n")
    (tmp_path / "r.csv").write_text("ticker,result\nE1-A,yes\nE2-A,no\n")
    mine = [
        {"kind": "fair", "v": 1, "ticker": "E1-A", "p": "0.7", "model": "mine", "inputs_ts": iso(T1)},
        {"kind": "fair", "v": 1, "ticker": "E1-A", "p": "0.9", "model": "mine", "inputs_ts": iso(T2 - 1000)},
        {"kind": "fair", "v": 1, "ticker": "E2-A", "p": "0.1", "model": "mine", "inputs_ts": iso(T2 + 1000)},
    ]
    (tmp_path / "mine.jsonl").write_text("\n".join(json.dumps(r) for r in mine) + "\n")
    res = kalashi(
        "fair",
        "--evaluate",
        "--source",
        str(tmp_path / "m.jsonl"),
        "--results",
        str(tmp_path / "r.csv"),
        "--fair",
        str(tmp_path / "mine.jsonl"),
        "--models",
        "ladder",
        "--every",
        "1",
        "--format",
        "jsonl",
    )
    scores = {r["model"]: r for r in records(res.stdout)}
    # E1 at T1 → 0.7, E1 at T2 → 0.9; E2's only record is from after both snapshots: never seen
    assert scores["mine"]["n"] == 2
    assert float(scores["mine"]["brier"]) == pytest.approx(((0.7 - 1) ** 2 + (0.9 - 1) ** 2) / 2, abs=1e-6)
    # the value strategy bought E1's YES at 0.44 on the 0.7 (fresh at T1); at T2 the 0.9 is 59 s old: still fresh
    assert scores["mine"]["trades"] == 2
    want = (1 - 0.44 - fee(0.44)) + (1 - 0.62 - fee(0.62))
    assert Decimal(scores["mine"]["pnl"]) == Decimal(str(round(want, 4)))
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"kind": "fair", "v": 1, "ticker": "E1-A", "p": "7", "model": "mine"}\n')
    res = kalashi(
        "fair",
        "--evaluate",
        "--source",
        str(tmp_path / "m.jsonl"),
        "--results",
        str(tmp_path / "r.csv"),
        "--fair",
        str(bad),
        code=3,
    )
    assert f"{bad}:1: p must be between 0 and 1" in res.stderr
