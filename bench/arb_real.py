"""How often the real captures show cross-market arbitrage at the touch, and for how long.

Every snapshot of a whole event in ``../shared/data/kalshi-real`` is checked for the three
riskless trades the arbitrage strategy looks for, each with taker fees on one contract per
leg (rounded up, the series' multiplier where the capture names it, else quadratic ×1):

* NO basket: buy NO on every outcome of a mutually exclusive set — Σ YES bids − 1 − fees > 0
  (riskless whether or not the set is exhaustive: at most one outcome wins);
* YES basket: buy YES on every outcome of an exhaustive set — 1 − Σ YES asks − fees > 0;
* ladder: YES bid at a higher strike above the YES ask at a lower one — bid − ask − fees > 0.

The only capture with time in it for a whole event is the MLB WebSocket stream (two games
with both teams' books, ≈ 1 minute of deltas): it is replayed delta by delta and every book
state is checked. The KXBTC15M runs are one market at a time (no cross-market trade exists
in them); what they do say is how long a touch lasts: `bench/flow_real.py` counts 321 touch
price changes a minute (docs/sim-calibration.md, "Trades"). ``--json`` prints the figures.

    .venv/bin/python bench/arb_real.py [--data ../shared/data/kalshi-real] [--json] [--sim 5000]
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections import defaultdict
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kalashi_cli.money import COUNT_SCALE, MULT_SCALE, ONE_DOLLAR, fee_for  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "kalshi-real"
#: series whose taker multiplier the captures give (sports_rest_ws_fixtures_2026-08/series_fee_fields.json)
MULTIPLIER = {"KXMLBGAME": MULT_SCALE // 2}


def units(x: Any) -> int:
    """Dollars (str/float) to price units (1/10 000 $)."""
    return int((Decimal(str(x)) * 10_000).to_integral_value())


def fee(price: int, series: str) -> int:
    """Taker fee for one contract at ``price``, in price units (rounded up), as :func:`fee_for`."""
    money = fee_for(price, COUNT_SCALE, multiplier=MULTIPLIER.get(series, MULT_SCALE))
    return -(-money // 100)


def no_basket(bids: list[int], series: str) -> tuple[int, int]:
    """(edge before fees, edge after fees) of buying NO on every outcome, price units."""
    gross = sum(bids) - ONE_DOLLAR
    return gross, gross - sum(fee(ONE_DOLLAR - b, series) for b in bids)


def yes_basket(asks: list[int], series: str) -> tuple[int, int]:
    gross = ONE_DOLLAR - sum(asks)
    return gross, gross - sum(fee(a, series) for a in asks)


def ladder(bid_hi: int, ask_lo: int, series: str) -> tuple[int, int]:
    gross = bid_hi - ask_lo
    return gross, gross - fee(ask_lo, series) - fee(ONE_DOLLAR - bid_hi, series)


class Tally:
    """Checks of one kind: how many, how many positive before and after fees, the best edge."""

    def __init__(self) -> None:
        self.n = self.gross = self.net = 0
        self.best: int | None = None

    def add(self, edges: tuple[int, int]) -> None:
        gross, net = edges
        self.n += 1
        self.gross += gross > 0
        self.net += net > 0
        self.best = net if self.best is None else max(self.best, net)

    def as_dict(self) -> dict[str, Any]:
        return {
            "checks": self.n,
            "positive_before_fees": self.gross,
            "positive_after_fees": self.net,
            "best_edge_after_fees": None if self.best is None else self.best / 10_000,
        }


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with path.open() as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


def snapshots(root: Path) -> dict[str, Tally]:
    """Every whole-event snapshot in the captures, by (capture, trade kind)."""
    t: dict[str, Tally] = defaultdict(Tally)
    tape = root / "tape_2026-07_sample"
    for r in read_jsonl(tape / "sports_pairs_bbo_sample_2026-07-24.jsonl"):
        series = r["event_ticker"].split("-")[0]
        outs = r["outcomes"]
        t["sports pairs (BBO), NO basket"].add(no_basket([units(o["yes_bid"]) for o in outs], series))
        t["sports pairs (BBO), YES basket"].add(yes_basket([units(o["yes_ask"]) for o in outs], series))
    for r in read_jsonl(tape / "crypto_hourly_sample.jsonl"):
        for cap in (r["current"], r.get("previous_settlement") or {}):
            outs = cap.get("outcomes") or []
            if outs and all("yes_bid" in o for o in outs):
                t["crypto hourly brackets, NO basket"].add(no_basket([units(o["yes_bid"]) for o in outs], "KXBTC"))
                t["crypto hourly brackets, YES basket"].add(yes_basket([units(o["yes_ask"]) for o in outs], "KXBTC"))
    for r in read_jsonl(tape / "econ_prints_sample.jsonl"):
        for ev in r["open_events"]["events"]:
            series = ev["event_ticker"].split("-")[0]
            strikes = sorted(
                (s for s in ev["strikes"] if s.get("strike_type") == "greater"), key=lambda s: s["floor_strike"]
            )
            for lo, hi in zip(strikes, strikes[1:], strict=False):
                t["economics ladders (CPI/payrolls/GDP), adjacent strikes"].add(
                    ladder(units(hi["yes_bid"]), units(lo["yes_ask"]), series)
                )
    weather: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in read_jsonl(tape / "weather_books_sample_2026-07-24.jsonl"):
        weather[r["ticker"].rsplit("-", 1)[0]].append(r)
    for event, books in weather.items():
        if len(books) >= 2 and all(b["best_yes_bid"] is not None for b in books):
            t["weather brackets (full books, captured sets), NO basket"].add(
                no_basket([units(b["best_yes_bid"]) for b in books], event.split("-")[0])
            )
    for ev in json.loads((root / "politics_events_2026-03" / "events_nested_sample.json").read_text()):
        ms = [m for m in ev["markets"] if m.get("status") in ("active", "open")]
        if ev.get("mutually_exclusive") and len(ms) >= 2:
            t["politics candidate lists, NO basket"].add(
                no_basket([units(m["yes_bid_dollars"]) for m in ms], ev["event_ticker"].split("-")[0])
            )
    fed: dict[str, list[dict[str, str]]] = defaultdict(list)
    with (root / "economics_markets" / "kalshi_markets_fed_sample.csv").open() as f:
        for row in csv.DictReader(f):
            if row["status"] in ("active", "open") and row["yes_bid_dollars"]:
                fed[row["event_ticker"]].append(row)
    for event, rows in fed.items():
        if event.startswith("KXFEDDECISION") and len(rows) >= 2:
            t["Fed decision sets, NO basket"].add(no_basket([units(r["yes_bid_dollars"]) for r in rows], "KXFED"))
            t["Fed decision sets, YES basket"].add(yes_basket([units(r["yes_ask_dollars"]) for r in rows], "KXFED"))
    return dict(t)


def mlb_stream(root: Path) -> dict[str, Any]:
    """Replay the MLB WebSocket stream; check both games' NO/YES baskets at every book state."""
    d = json.loads((root / "sports_rest_ws_fixtures_2026-08" / "ws_orderbook_stream.json").read_text())
    books: dict[str, dict[str, dict[int, Decimal]]] = {}
    games: dict[str, list[str]] = defaultdict(list)
    for tk in d["tickers"]:
        games[tk.rsplit("-", 1)[0]].append(tk)
    pairs = {g: tks for g, tks in games.items() if len(tks) == 2}
    states = 0
    no_t, yes_t = Tally(), Tally()
    t0 = t1 = None
    gross_sums: list[int] = []
    for fr in d["frames"]:
        f = fr["frame"]
        msg = f.get("msg", {})
        tk = msg.get("market_ticker")
        if f.get("type") == "orderbook_snapshot":
            books[tk] = {s: {units(p): Decimal(q) for p, q in msg.get(f"{s}_dollars_fp") or []} for s in ("yes", "no")}
        elif f.get("type") == "orderbook_delta" and tk in books:
            side = books[tk][msg["side"]]
            p = units(msg["price_dollars"])
            side[p] = side.get(p, Decimal(0)) + Decimal(msg["delta_fp"])
            if side[p] <= 0:
                del side[p]
        else:
            continue
        t = fr["received_ms"]
        t0 = t if t0 is None else t0
        t1 = t
        for g, tks in pairs.items():
            if tk not in tks or not all(x in books for x in tks):
                continue
            bs = [books[x] for x in tks]
            if not all(b["yes"] and b["no"] for b in bs):
                continue
            states += 1
            bids = [max(b["yes"]) for b in bs]
            asks = [ONE_DOLLAR - max(b["no"]) for b in bs]
            no_t.add(no_basket(bids, g.split("-")[0]))
            yes_t.add(yes_basket(asks, g.split("-")[0]))
            gross_sums.append(sum(asks))
    return {
        "games": sorted(pairs),
        "seconds": None if t0 is None else (t1 - t0) / 1000,
        "book_states": states,
        "no_basket": no_t.as_dict(),
        "yes_basket": yes_t.as_dict(),
        "sum_yes_asks_min_max": [min(gross_sums) / 10_000, max(gross_sums) / 10_000] if gross_sums else None,
    }


def measure_sim(markets: int, steps: int, share: float | None = None, seed: int = 0) -> dict[str, Any]:
    """The sim's dislocations per step over ``steps`` steps (ground truth: ``dislocations_at``)."""
    from kalashi_cli.sim.universe import SimUniverse
    from kalashi_cli.sim.universe_core import ARBITRAGE_KINDS, ARBITRAGE_SHARE

    u = SimUniverse(seed, markets, arbitrage_share=ARBITRAGE_SHARE if share is None else share)
    kinds: dict[str, int] = defaultdict(int)
    event_steps = 0
    for s in range(1, steps + 1):
        event_steps += sum(1 for e in u.events_at(s) if e.status in ("active", "inactive"))
        for d in u.dislocations_at(s):
            kinds[d.kind] += 1
    arb = sum(v for k, v in kinds.items() if k in ARBITRAGE_KINDS)
    return {
        "markets": markets,
        "steps": steps,
        "arbitrage_share": u.arbitrage_share,
        "live_event_steps": event_steps,
        "per_step": {k: round(v / steps, 3) for k, v in sorted(kinds.items())},
        "arbitrage_event_steps": arb,
        "arbitrage_per_event_step": arb / event_steps,
    }


def measure(root: Path) -> dict[str, Any]:
    return {"snapshots": {k: v.as_dict() for k, v in snapshots(root).items()}, "mlb_stream": mlb_stream(root)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--sim", type=int, metavar="MARKETS", help="also count the sim's dislocations (300 steps)")
    a = ap.parse_args()
    out = measure(a.data)
    if a.sim:
        out["sim"] = [measure_sim(a.sim, 300), measure_sim(a.sim, 300, 1.0)]
    if a.json:
        print(json.dumps(out, indent=1))
        return
    print("| capture, trade | event snapshots | positive before fees | after fees | best edge after fees |")
    print("|---|---|---|---|---|")
    total = 0
    for k, v in out["snapshots"].items():
        total += v["checks"]
        print(
            f"| {k} | {v['checks']} | {v['positive_before_fees']} | {v['positive_after_fees']} | "
            f"${v['best_edge_after_fees']:+.4f} |"
        )
    s = out["mlb_stream"]
    for kind in ("no_basket", "yes_basket"):
        v = s[kind]
        print(
            f"| MLB WS stream ({len(s['games'])} games, {s['seconds']:.0f} s), {kind.replace('_', ' ')} at every "
            f"book state | {v['checks']} | {v['positive_before_fees']} | {v['positive_after_fees']} | "
            f"${v['best_edge_after_fees']:+.4f} |"
        )
    print(f"\nsnapshot checks: {total}; MLB stream Σ YES asks {s['sum_yes_asks_min_max']}")
    for sim in out.get("sim", []):
        print(
            f"sim, {sim['markets']} markets, {sim['steps']} steps, arbitrage_share {sim['arbitrage_share']}: "
            f"{sim['arbitrage_event_steps']} arbitrage event-steps of {sim['live_event_steps']} live "
            f"({sim['arbitrage_per_event_step']:.2e}); per step {sim['per_step']}"
        )


if __name__ == "__main__":
    main()
