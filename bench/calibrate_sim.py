"""Measure real Kalshi captures to calibrate the simulated universe (``--source sim``).

Reads the shared real-data subset (``../shared/data/kalshi-real`` from the repo root, or
``--data DIR``) and prints, per category: spread distribution in ticks and dollars, number of
book levels and size per level, gaps between levels, tick structures, fee types and
multipliers, volume and open interest, minute-to-minute price moves, and how often the real
books showed cross-market arbitrage. ``--json`` prints the same figures as one JSON object.

The figures are written down, next to the sim's chosen parameters, in docs/sim-calibration.md.

    .venv/bin/python bench/calibrate_sim.py
    .venv/bin/python bench/calibrate_sim.py --json > /tmp/calibration.json

This is a research script: it reads data the runtime never reads, and it uses floats for
statistics (never for money in the product).
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

DEFAULT_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "kalshi-real"

Book = tuple[list[tuple[int, float]], list[tuple[int, float]]]  # (yes bids, no bids) in 1/10 000 $


# --------------------------------------------------------------------------- helpers


def units(x: Any) -> int:
    """Convert a dollar price (string or float) to 1/10 000 dollar units."""
    return int((Decimal(str(x)) * 10_000).quantize(Decimal(1)))


def cent_grid() -> list[int]:
    return list(range(100, 10_000, 100))


def deci_grid() -> list[int]:
    return list(range(10, 10_000, 10))


def tapered_grid() -> list[int]:
    return list(range(10, 1000, 10)) + list(range(1000, 9001, 100)) + list(range(9010, 10_000, 10))


GRIDS = {"linear_cent": cent_grid(), "deci_cent": deci_grid(), "tapered_deci_cent": tapered_grid()}


def infer_structure(prices: Iterable[int]) -> str:
    """Name the coarsest known grid every price lies on."""
    ps = list(prices)
    if all(p % 100 == 0 for p in ps):
        return "linear_cent"
    if all(p % 100 == 0 for p in ps if 1000 <= p <= 9000):
        return "tapered_deci_cent"
    return "deci_cent"


def ticks_between(lo: int, hi: int, grid: list[int]) -> int:
    """Count grid steps from ``lo`` up to ``hi`` (both on the grid)."""
    import bisect

    return bisect.bisect_left(grid, hi) - bisect.bisect_left(grid, lo)


def q(values: list[float], *ps: float) -> list[float]:
    """Return quantiles (nearest rank) of ``values`` at the fractions ``ps``."""
    if not values:
        return [float("nan")] * len(ps)
    s = sorted(values)
    return [s[min(len(s) - 1, max(0, round(p * (len(s) - 1))))] for p in ps]


def bucket_spread(t: int) -> str:
    if t <= 3:
        return str(t)
    if t <= 5:
        return "4-5"
    if t <= 10:
        return "6-10"
    if t <= 30:
        return "11-30"
    return ">30"


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with path.open() as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


# --------------------------------------------------------------------------- loaders


def full_books(root: Path) -> Iterator[tuple[str, str, Book]]:
    """Yield (category, ticker, book) for every full-depth book in the captures."""
    tape = root / "tape_2026-07_sample"
    for rec in read_jsonl(tape / "orderbook_depth_sample_2026-07-24.jsonl"):
        yield (
            "sports",
            rec["ticker"],
            ([(units(p), float(s)) for p, s in rec["yes_bids"]], [(units(p), float(s)) for p, s in rec["no_bids"]]),
        )
    for rec in read_jsonl(tape / "weather_books_sample_2026-07-24.jsonl"):
        raw = rec["raw_orderbook"]
        yield (
            "weather",
            rec["ticker"],
            (
                [(units(p), float(s)) for p, s in raw.get("yes_dollars") or []],
                [(units(p), float(s)) for p, s in raw.get("no_dollars") or []],
            ),
        )
    stream = json.loads((root / "sports_rest_ws_fixtures_2026-08" / "ws_orderbook_stream.json").read_text())
    for fr in stream["frames"]:
        frame = fr["frame"]
        if frame.get("type") == "orderbook_snapshot":
            msg = frame["msg"]
            yield (
                "sports",
                msg["market_ticker"],
                (
                    [(units(p), float(s)) for p, s in msg.get("yes_dollars_fp") or []],
                    [(units(p), float(s)) for p, s in msg.get("no_dollars_fp") or []],
                ),
            )
    single = json.loads((root / "sports_rest_ws_fixtures_2026-08" / "market_single.json").read_text())
    ob = single["orderbook"]["orderbook_fp"]
    yield (
        "sports",
        single["ticker"],
        (
            [(units(p), float(s)) for p, s in ob.get("yes_dollars") or []],
            [(units(p), float(s)) for p, s in ob.get("no_dollars") or []],
        ),
    )
    for path in sorted((root / "crypto_ws_kxbtc15m").glob("ws_recording_*.jsonl")):
        for rec in read_jsonl(path):
            if rec.get("event_type") == "orderbook_snapshot":
                msg = rec["payload_json"]
                msg = msg.get("msg", msg)
                yield (
                    "crypto",
                    msg["market_ticker"],
                    (
                        [(units(p), float(s)) for p, s in msg.get("yes_dollars_fp") or []],
                        [(units(p), float(s)) for p, s in msg.get("no_dollars_fp") or []],
                    ),
                )


def bbo_quotes(root: Path) -> Iterator[tuple[str, str, int | None, int | None]]:
    """Yield (category, ticker, yes_bid, yes_ask) from top-of-book-only captures (None = empty side)."""

    def side(bid: Any, ask: Any) -> tuple[int | None, int | None]:
        b = units(bid) if bid not in (None, "") else 0
        a = units(ask) if ask not in (None, "") else 10_000
        return (b if b > 0 else None), (a if a < 10_000 else None)

    tape = root / "tape_2026-07_sample"
    for rec in read_jsonl(tape / "sports_pairs_bbo_sample_2026-07-24.jsonl"):
        for o in rec["outcomes"]:
            yield ("sports", o["ticker"], *side(o["yes_bid"], o["yes_ask"]))
    for rec in read_jsonl(tape / "crypto_hourly_sample.jsonl"):
        for o in rec["current"]["outcomes"]:
            yield ("crypto", o["ticker"], *side(o["yes_bid"], o["yes_ask"]))
    for rec in read_jsonl(tape / "econ_prints_sample.jsonl"):
        for ev in rec["open_events"]["events"]:
            for o in ev["strikes"]:
                yield ("economics", o["ticker"], *side(o["yes_bid"], o["yes_ask"]))
    with (root / "economics_markets" / "kalshi_markets_fed_sample.csv").open() as f:
        for row in csv.DictReader(f):
            if row["status"] == "active":
                yield ("economics", row["ticker"], *side(row["yes_bid_dollars"], row["yes_ask_dollars"]))
    for ev in json.loads((root / "politics_events_2026-03" / "events_nested_sample.json").read_text()):
        cat = "politics" if ev.get("category") == "Politics" else "sports"
        for m in ev["markets"]:
            if m.get("status") == "active":
                yield (cat, m["ticker"], *side(m.get("yes_bid_dollars"), m.get("yes_ask_dollars")))


def market_objects(root: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield (category, market object) for every REST market object in the captures."""
    gold = json.loads((root / "rest_golden_fixtures_2026-01" / "markets_list_response.json").read_text())
    for m in gold["response"]["markets"]:
        yield "sports", m
    single = json.loads((root / "rest_golden_fixtures_2026-01" / "market_single_response.json").read_text())
    yield "other", single["response"]["market"]
    sp = json.loads((root / "sports_rest_ws_fixtures_2026-08" / "market_single.json").read_text())
    yield "sports", sp["nested"]
    for m in json.loads((root / "sports_rest_ws_fixtures_2026-08" / "markets_settled.json").read_text())["markets"]:
        yield "sports", m
    for ev in json.loads((root / "politics_events_2026-03" / "events_nested_sample.json").read_text()):
        cat = "politics" if ev.get("category") == "Politics" else "sports"
        for m in ev["markets"]:
            yield cat, m
    with (root / "economics_markets" / "kalshi_markets_fed_sample.csv").open() as f:
        for row in csv.DictReader(f):
            yield "economics", dict(row)


# --------------------------------------------------------------------------- measurements


def measure_books(root: Path) -> dict[str, Any]:
    per: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    spreads: dict[str, Counter[str]] = defaultdict(Counter)
    structures: Counter[str] = Counter()
    gaps: dict[str, Counter[int]] = defaultdict(Counter)
    n_books: Counter[str] = Counter()
    for cat, _ticker, (yes, no) in full_books(root):
        n_books[cat] += 1
        structure = infer_structure([p for p, _ in yes + no])
        structures[structure] += 1
        grid = GRIDS[structure]
        d = per[cat]
        for bids in (yes, no):
            bids = sorted(bids, key=lambda lv: -lv[0])  # best first
            d["levels"].append(len(bids))
            if not bids:
                d["empty_sides"].append(1)
                continue
            d["empty_sides"].append(0)
            d["top_size"].append(bids[0][1])
            d["level_size"].extend(s for _, s in bids)
            top = bids[0][0]
            near = [s for p, s in bids if ticks_between(p, top, grid) < 5]
            d["levels_within_5"].append(len(near))
            d["size_within_5"].append(sum(near))
            d["levels_within_10"].append(sum(1 for p, _ in bids if ticks_between(p, top, grid) < 10))
            for (p1, _), (p2, _) in zip(bids, bids[1:], strict=False):
                g = ticks_between(p2, p1, grid)
                gaps[cat][min(g, 5)] += 1
                if ticks_between(p2, top, grid) < 10:
                    d["gap_near"].append(g)
        if yes and no:
            bid = max(p for p, _ in yes)
            ask = 10_000 - max(p for p, _ in no)
            t = ticks_between(bid, ask, grid)
            spreads[cat][bucket_spread(t)] += 1
            d["spread_ticks"].append(t)
            d["spread_dollars"].append((ask - bid) / 10_000)
    out: dict[str, Any] = {"books": dict(n_books), "inferred_structure": dict(structures), "by_category": {}}
    for cat, d in per.items():
        out["by_category"][cat] = {
            "spread_ticks_hist": dict(sorted(spreads[cat].items())),
            "spread_ticks_p10_p50_p90": q(d["spread_ticks"], 0.1, 0.5, 0.9),
            "spread_dollars_p10_p50_p90": q(d["spread_dollars"], 0.1, 0.5, 0.9),
            "levels_per_side_p10_p50_p90": q(d["levels"], 0.1, 0.5, 0.9),
            "empty_side_share": statistics.fmean(d["empty_sides"]) if d["empty_sides"] else None,
            "levels_within_5_ticks_p50": q(d["levels_within_5"], 0.5)[0],
            "levels_within_10_ticks_p50": q(d["levels_within_10"], 0.5)[0],
            "top_size_p10_p50_p90": q(d["top_size"], 0.1, 0.5, 0.9),
            "level_size_p10_p25_p50_p75_p90": q(d["level_size"], 0.1, 0.25, 0.5, 0.75, 0.9),
            "size_within_5_ticks_p10_p50_p90": q(d["size_within_5"], 0.1, 0.5, 0.9),
            "gap_ticks_hist_all": {str(k) if k < 5 else "5+": v for k, v in sorted(gaps[cat].items())},
            "gap_ticks_within_10_p50_mean": [
                q(d["gap_near"], 0.5)[0],
                statistics.fmean(d["gap_near"]) if d["gap_near"] else None,
            ],
        }
    return out


def measure_bbo(root: Path) -> dict[str, Any]:
    per: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    hist: dict[str, Counter[str]] = defaultdict(Counter)
    for cat, _t, bid, ask in bbo_quotes(root):
        d = per[cat]
        d["one_sided"].append(1 if (bid is None) != (ask is None) else 0)
        d["empty"].append(1 if bid is None and ask is None else 0)
        if bid is not None and ask is not None:
            t = (ask - bid) // 100  # these captures are all on the cent grid
            d["spread_ticks"].append(t)
            d["spread_dollars"].append((ask - bid) / 10_000)
            hist[cat][bucket_spread(t)] += 1
    return {
        cat: {
            "quotes": len(d["one_sided"]),
            "two_sided": len(d["spread_ticks"]),
            "one_sided_share": statistics.fmean(d["one_sided"]),
            "spread_cent_ticks_hist": dict(sorted(hist[cat].items())),
            "spread_dollars_p10_p50_p90": q(d["spread_dollars"], 0.1, 0.5, 0.9),
        }
        for cat, d in per.items()
    }


def measure_arbitrage(root: Path) -> dict[str, Any]:
    """How often the real captures show cross-market arbitrage (before fees)."""
    tape = root / "tape_2026-07_sample"
    pairs = list(read_jsonl(tape / "sports_pairs_bbo_sample_2026-07-24.jsonl"))
    ask_sums = [sum(units(o["yes_ask"]) for o in r["outcomes"]) / 10_000 for r in pairs]
    bid_sums = [sum(units(o["yes_bid"]) for o in r["outcomes"]) / 10_000 for r in pairs]
    inversions = adjacent = 0
    for rec in read_jsonl(tape / "econ_prints_sample.jsonl"):
        for ev in rec["open_events"]["events"]:
            strikes = sorted(
                (s for s in ev["strikes"] if s.get("strike_type") == "greater"), key=lambda s: s["floor_strike"]
            )
            for lo, hi in zip(strikes, strikes[1:], strict=False):
                adjacent += 1
                if units(hi["yes_bid"]) > units(lo["yes_ask"]):
                    inversions += 1
    crypto = [r["current"]["bracket_sum"] for r in read_jsonl(tape / "crypto_hourly_sample.jsonl")]
    return {
        "sports_pairs_events": len(pairs),
        "sports_pairs_sum_yes_asks_min_p50_max": [min(ask_sums), q(ask_sums, 0.5)[0], max(ask_sums)],
        "sports_pairs_sum_yes_bids_min_p50_max": [min(bid_sums), q(bid_sums, 0.5)[0], max(bid_sums)],
        "sports_pairs_yes_basket_below_1": sum(1 for s in ask_sums if s < 1),
        "sports_pairs_no_basket_bids_above_1": sum(1 for s in bid_sums if s > 1),
        "econ_ladder_adjacent_pairs": adjacent,
        "econ_ladder_inversions_bid_above_lower_ask": inversions,
        "crypto_bracket_sum_yes_asks": [round(x, 4) for x in crypto],
    }


def measure_markets(root: Path) -> dict[str, Any]:
    structures: Counter[str] = Counter()
    ranges: Counter[str] = Counter()
    vol: dict[str, list[float]] = defaultdict(list)
    oi: dict[str, list[float]] = defaultdict(list)
    statuses: Counter[str] = Counter()
    for cat, m in market_objects(root):
        if m.get("price_level_structure"):
            structures[m["price_level_structure"]] += 1
        if m.get("price_ranges"):
            ranges[json.dumps(m["price_ranges"], sort_keys=True)] += 1
        statuses[m.get("status", "")] += 1
        v = m.get("volume_fp", m.get("volume"))
        o = m.get("open_interest_fp", m.get("open_interest"))
        if v not in (None, ""):
            vol[cat].append(float(v))
        if o not in (None, ""):
            oi[cat].append(float(o))
    # crypto: the KXBTC15M ticker messages carry volume and open interest
    for path in sorted((root / "crypto_ws_kxbtc15m").glob("ws_recording_*.jsonl")):
        last: dict[str, Any] | None = None
        for rec in read_jsonl(path):
            if rec.get("event_type") == "ticker":
                last = rec["payload_json"].get("msg", rec["payload_json"])
        if last:
            vol["crypto"].append(float(last["volume_fp"]))
            oi["crypto"].append(float(last["open_interest_fp"]))
    return {
        "price_level_structure": dict(structures),
        "price_ranges": dict(ranges),
        "status": dict(statuses),
        "volume_p10_p50_p90_max": {c: [*q(v, 0.1, 0.5, 0.9), max(v)] for c, v in vol.items()},
        "open_interest_p10_p50_p90_max": {c: [*q(v, 0.1, 0.5, 0.9), max(v)] for c, v in oi.items()},
        "zero_volume_share": {c: sum(1 for x in v if x == 0) / len(v) for c, v in vol.items()},
    }


def measure_fees(root: Path) -> dict[str, Any]:
    seen: Counter[str] = Counter()
    series = json.loads((root / "rest_golden_fixtures_2026-01" / "series_list_response.json").read_text())
    for s in series["response"]["series"]:
        seen[f"{s.get('category')}: {s['fee_type']} x{s['fee_multiplier']}"] += 1
    fee_fields = json.loads((root / "sports_rest_ws_fixtures_2026-08" / "series_fee_fields.json").read_text())
    per_series = {
        k: [v["series"]["fee_type"], v["series"]["fee_multiplier"]] for k, v in fee_fields["payloads"].items()
    }
    return {"series_list": dict(seen), "sports_series": per_series}


def measure_moves(root: Path) -> dict[str, Any]:
    """Minute-to-minute YES price moves (cents) in the KXHIGHMIA bracket histories."""
    moves: list[float] = []
    for path in sorted((root / "weather_kxhighmia_minute").glob("*.csv")):
        with path.open() as f:
            rows = list(csv.reader(f))
        for col in range(1, len(rows[0])):
            series = [float(r[col]) for r in rows[1:] if len(r) > col and r[col]]
            moves.extend(abs(b - a) for a, b in zip(series, series[1:], strict=False))
    unchanged = sum(1 for m in moves if m == 0) / len(moves)
    return {
        "minute_moves": len(moves),
        "unchanged_share": unchanged,
        "abs_move_cents_p50_p90_p99": q(moves, 0.5, 0.9, 0.99),
    }


def measure_sim(markets: int = 20_000, steps: Iterable[int] = (1, 50, 100), seed: int = 0) -> dict[str, Any]:
    """Measure the sim universe with the same statistics (active markets, several steps)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from kalashi_cli.sim.universe import SimUniverse
    from kalashi_cli.sim.universe_catalog import SERIES

    group_of = {}
    for spec in SERIES:
        for code in [m[0] for m in spec.members] or [""]:
            group_of[spec.ticker.format(m=code)] = spec.group
    u = SimUniverse(seed=seed, markets=markets)
    per: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    spreads: dict[str, Counter[str]] = defaultdict(Counter)
    gaps: dict[str, Counter[int]] = defaultdict(Counter)
    structures: Counter[str] = Counter()
    fees: Counter[str] = Counter()
    for step in steps:
        for m in u.markets_at(step):
            if m.status != "active":
                continue
            g = group_of[m.series_ticker]
            d = per[g]
            grid = GRIDS[
                "linear_cent"
                if m.price_ranges[0].step == 100
                else "deci_cent"
                if len(m.price_ranges) == 1
                else "tapered_deci_cent"
            ]
            if step == 1:
                structures[
                    {100: "linear_cent", 10: "deci_cent"}.get(m.price_ranges[0].step, "?")
                    if len(m.price_ranges) == 1
                    else "tapered_deci_cent"
                ] += 1
                fees[f"{m.fee_type} x{m.fee_multiplier / 10_000:g}"] += 1
            d["volume"].append(m.volume / 100)
            d["open_interest"].append(m.open_interest / 100)
            for bids in (m.yes_bids, m.no_bids):
                d["levels"].append(len(bids))
                d["empty_sides"].append(0 if bids else 1)
                if not bids:
                    continue
                d["top_size"].append(bids[0][1] / 100)
                d["level_size"].extend(sz / 100 for _, sz in bids)
                top = bids[0][0]
                near = [sz / 100 for p, sz in bids if ticks_between(p, top, grid) < 5]
                d["levels_within_5"].append(len(near))
                d["size_within_5"].append(sum(near))
                for (p1, _), (p2, _) in zip(bids, bids[1:], strict=False):
                    gaps[g][min(ticks_between(p2, p1, grid), 5)] += 1
            d["one_sided"].append(1 if (m.yes_bid is None) != (m.yes_ask is None) else 0)
            if m.yes_bid is not None and m.yes_ask is not None:
                t = ticks_between(m.yes_bid, m.yes_ask, grid)
                spreads[g][bucket_spread(t)] += 1
                d["spread_ticks"].append(t)
                d["spread_dollars"].append((m.yes_ask - m.yes_bid) / 10_000)
    out: dict[str, Any] = {
        "markets": markets,
        "steps": list(steps),
        "structure_share": dict(structures),
        "fee_types": dict(fees),
        "by_group": {},
    }
    for g, d in per.items():
        n_spreads = sum(spreads[g].values())
        out["by_group"][g] = {
            "spread_ticks_share": {k: round(v / n_spreads, 3) for k, v in sorted(spreads[g].items())},
            "spread_ticks_p10_p50_p90": q(d["spread_ticks"], 0.1, 0.5, 0.9),
            "spread_dollars_p10_p50_p90": q(d["spread_dollars"], 0.1, 0.5, 0.9),
            "levels_per_side_p10_p50_p90": q(d["levels"], 0.1, 0.5, 0.9),
            "empty_side_share": statistics.fmean(d["empty_sides"]),
            "one_sided_share": statistics.fmean(d["one_sided"]),
            "levels_within_5_ticks_p50": q(d["levels_within_5"], 0.5)[0],
            "top_size_p10_p50_p90": q(d["top_size"], 0.1, 0.5, 0.9),
            "level_size_p10_p25_p50_p75_p90": q(d["level_size"], 0.1, 0.25, 0.5, 0.75, 0.9),
            "size_within_5_ticks_p10_p50_p90": q(d["size_within_5"], 0.1, 0.5, 0.9),
            "gap_ticks_share": {
                str(k) if k < 5 else "5+": round(v / sum(gaps[g].values()), 3) for k, v in sorted(gaps[g].items())
            },
            "volume_p10_p50_p90_max": [*q(d["volume"], 0.1, 0.5, 0.9), max(d["volume"])],
            "open_interest_p10_p50_p90": q(d["open_interest"], 0.1, 0.5, 0.9),
            "zero_volume_share": sum(1 for v in d["volume"] if v == 0) / len(d["volume"]),
        }
    return out


def measure(root: Path) -> dict[str, Any]:
    """Return every calibration statistic measured from the captures under ``root``."""
    return {
        "books": measure_books(root),
        "bbo": measure_bbo(root),
        "arbitrage": measure_arbitrage(root),
        "markets": measure_markets(root),
        "fees": measure_fees(root),
        "moves": measure_moves(root),
    }


def _fmt(x: Any) -> str:
    if isinstance(x, float):
        return f"{x:.4g}"
    if isinstance(x, list):
        return "[" + ", ".join(_fmt(v) for v in x) + "]"
    if isinstance(x, dict):
        return "{" + ", ".join(f"{k}: {_fmt(v)}" for k, v in x.items()) + "}"
    return str(x)


def print_report(stats: dict[str, Any], out: Any = sys.stdout) -> None:
    for section, body in stats.items():
        print(f"== {section}", file=out)
        for key, value in body.items():
            if isinstance(value, dict) and value and all(isinstance(v, dict) for v in value.values()):
                print(f"  {key}:", file=out)
                for k2, v2 in value.items():
                    print(f"    {k2}:", file=out)
                    for k3, v3 in v2.items():
                        print(f"      {k3}: {_fmt(v3)}", file=out)
            else:
                print(f"  {key}: {_fmt(value)}", file=out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="kalshi-real directory")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a report")
    parser.add_argument(
        "--sim",
        type=int,
        default=0,
        metavar="N",
        help="also measure the sim universe with N markets (same statistics, for comparison)",
    )
    parser.add_argument(
        "--report",
        type=Path,
        metavar="DIR",
        help="write the order-flow report (real runs vs sim: tables and PNG plots) to DIR; "
        "the same as bench/calibrate_flow.py --report DIR",
    )
    args = parser.parse_args(argv)
    if args.report:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        import calibrate_flow

        data = [] if args.data == DEFAULT_DATA else ["--data", str(args.data)]  # the report names its command
        return int(calibrate_flow.main([*data, "--report", str(args.report)]))
    if not args.data.is_dir():
        print(f"calibrate_sim: no data directory at {args.data}", file=sys.stderr)
        return 2
    stats = measure(args.data.resolve())
    if args.sim:
        stats["sim"] = measure_sim(args.sim)
    if args.json:
        json.dump(stats, sys.stdout, indent=1)
        print()
    else:
        print_report(stats)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
