"""A paper run on the sim, strategy by strategy: fills, markouts, P&L against the truth and to settlement.

Reads a run-loop journal (paper mode, built-in sim source) and rebuilds the sim universe it ran
on from the journal's recorded source descriptor, then marks every fill to the sim's mid 10 s,
1 min and 5 min later (in the fill's favour), to the hidden probability at the fill (its expected
P&L to settlement) and to how its market settled, fees included. Fills are attributed to the
strategy of the intent that sent their order.

    KALASHI_HOME=/tmp/run kalashi run-loop --paper --iterations 300 --interval 0 -q
    .venv/bin/python bench/paper_markouts.py /tmp/run/journal-paper.sqlite

This is measurement code for docs/sim-calibration.md (issue #14 gives `metrics` its own
markouts); floats for statistics only.
"""

from __future__ import annotations

import argparse
import json
import math
import sqlite3
import statistics
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kalashi_cli.money import ONE_DOLLAR  # noqa: E402
from kalashi_cli.sim.source import parse_sim_spec  # noqa: E402

HORIZONS = (1, 6, 30)


def _mean_se(v: list[float]) -> list[float | int]:
    if not v:
        return [math.nan, math.nan, 0]
    return [statistics.fmean(v), statistics.stdev(v) / math.sqrt(len(v)) if len(v) > 1 else math.nan, len(v)]


def measure(journal: Path) -> dict[str, Any]:
    db = sqlite3.connect(f"file:{journal}?mode=ro", uri=True)
    src = db.execute("SELECT source FROM iterations ORDER BY n DESC LIMIT 1").fetchone()[0]
    u = parse_sim_spec(src).universe
    strategy = dict(db.execute("SELECT client_order_id, strategy FROM intents"))
    rows = db.execute("SELECT client_order_id, ticker, side, price, count, fee, is_taker, ts_ms FROM fills").fetchall()
    last_step = (db.execute("SELECT max(ts_ms) FROM iterations").fetchone()[0] - u.epoch_ms) // u.step_ms
    acc: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for coid, ticker, side, price, count, fee, taker, ts in rows:
        key = f"{strategy.get(coid) or '?'} {'taker' if taker else 'passive'}"
        step = (ts - u.epoch_ms) // u.step_ms
        sign = 1 if side == "bid" else -1
        d = acc[key]
        d["contracts"].append(count / 100)
        for h in HORIZONS:
            m = u.market_at(ticker, step + h)
            if m is not None and m.status == "active" and m.yes_bid is not None and m.yes_ask is not None:
                d[f"markout_{h * 10}s"].append(sign * ((m.yes_bid + m.yes_ask) / 2 - price) / 100)
        fee_c = fee / count / 100 if count else 0.0
        p = u.hidden_probability(ticker, step)
        if p is not None:
            d["expected_pnl"].append(sign * (p * ONE_DOLLAR - price) / 100 - fee_c)
        st = u.settlement_for(ticker, last_step + 5000)
        if st is not None:
            d["settled_pnl"].append(sign * ((ONE_DOLLAR if st.result == "yes" else 0) - price) / 100 - fee_c)
    out: dict[str, Any] = {"source": src, "journal": str(journal)}
    for key, d in sorted(acc.items()):
        out[key] = {
            "fills": len(d["contracts"]),
            "contracts": sum(d["contracts"]),
            **{k: _mean_se(v) for k, v in d.items() if k != "contracts"},
        }
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("journal", type=Path)
    args = ap.parse_args(argv)
    json.dump(measure(args.journal), sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
