"""Measure real order flow in the shared Kalshi captures (the "real" half of bench/calibrate_flow.py).

Reads ``../shared/data/kalshi-real`` (never copied into the repository) and returns plain
statistics: trade arrivals and sizes, book walking, cancel/replace at the touch, mid moves by
horizon, markouts after trades, spread and depth against time to close, and price against
outcome. Books are rebuilt with the product's own code (:func:`kalashi_cli.kalshi.replay.load_recording`
and :class:`kalashi_cli.kalshi.books.BookStore`), so a parsing bug would show in both.

How trades are read from a WebSocket run (Kalshi's ``ticker`` channel is throttled to about one
message a second per market):

* a ``ticker`` message whose ``volume_fp`` grew is one *trade interval*; the contracts traded
  are half the growth (when exactly one trade happened, the growth is exactly twice
  ``last_trade_size_fp`` in every such interval of the runs — ``volume_fp`` counts both sides);
* its direction is the last trade price against the mid of the book just before the message
  (above: a YES buyer took the ask; below: a YES seller hit the bid; equal: unclassified);
* ``last_trade_size_fp`` is one real trade's size: the sample of trade sizes;
* a trade interval *walked the book* when its last price lies beyond the touch that stood
  before it (a buy above the best ask, a sell below the best bid).

Research code: floats for statistics, never for money in the product.
"""

from __future__ import annotations

import bisect
import csv
import gzip
import json
import math
import statistics
import sys
import tempfile
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kalashi_cli.kalshi.books import BookStore  # noqa: E402
from kalashi_cli.kalshi.replay import load_recording  # noqa: E402

HORIZONS_S = (1, 10, 60, 300)  # markouts and mid moves
CLOSE_BUCKETS_MIN = ((10, 15), (5, 10), (2, 5), (1, 2), (0, 1))  # minutes before close


def q(values: list[float], *ps: float) -> list[float]:
    """Nearest-rank quantiles (nan for no data)."""
    if not values:
        return [float("nan")] * len(ps)
    s = sorted(values)
    return [s[min(len(s) - 1, max(0, round(p * (len(s) - 1))))] for p in ps]


def mean(values: list[float]) -> float:
    return statistics.fmean(values) if values else float("nan")


def se(values: list[float]) -> float:
    """Standard error of the mean."""
    return statistics.stdev(values) / math.sqrt(len(values)) if len(values) > 1 else float("nan")


def cluster_se(values: list[float], weights: list[float], clusters: list[Any]) -> float:
    """Cluster-robust standard error of a weighted mean (trades of one market-minute move together)."""
    wsum = sum(weights)
    if not wsum or len(set(clusters)) < 2:
        return float("nan")
    m = sum(v * w for v, w in zip(values, weights, strict=True)) / wsum
    acc: dict[Any, float] = defaultdict(float)
    for v, w, c in zip(values, weights, clusters, strict=True):
        acc[c] += w * (v - m)
    return math.sqrt(sum(x * x for x in acc.values())) / wsum


# --------------------------------------------------------------------------- one market's tape


@dataclass
class Tape:
    """Everything measured about one market window of a run (times in ms, prices in $)."""

    ticker: str
    close_ms: int = 0
    touch_t: list[int] = field(default_factory=list)  # touch changes: time …
    bid: list[float] = field(default_factory=list)  # … best YES bid (nan: none)
    ask: list[float] = field(default_factory=list)  # … best YES ask
    depth5: list[float] = field(default_factory=list)  # contracts within 5¢ of the touch, both sides
    top_size: list[float] = field(default_factory=list)  # size at the best bid and the best ask (mean)
    # trade intervals: (t, contracts, direction +1/-1/0, last price, bid before, ask before, last size)
    trades: list[tuple[int, float, int, float, float, float, float]] = field(default_factory=list)
    touch_deltas: list[tuple[int, int]] = field(default_factory=list)  # (t, +1 add / −1 remove) at the touch
    first_ms: int = 0
    last_ms: int = 0
    unmatched: int = 0  # trade intervals whose last trade matched no book delta

    def mid_at(self, t: int) -> float:
        """The mid of the last touch at or before ``t`` (nan before the first book or one-sided)."""
        i = bisect.bisect_right(self.touch_t, t) - 1
        if i < 0:
            return float("nan")
        return (self.bid[i] + self.ask[i]) / 2

    def touch_at(self, t: int) -> tuple[float, float]:
        i = bisect.bisect_right(self.touch_t, t) - 1
        if i < 0:
            return float("nan"), float("nan")
        return self.bid[i], self.ask[i]


def _book_touch(book: Any) -> tuple[float, float, float, float]:
    """(best bid $, best ask $, depth within 5¢ of each touch, mean top size) of a LocalBook."""
    if not book.yes or not book.no:
        return float("nan"), float("nan"), float("nan"), float("nan")
    b = max(book.yes)
    nb = max(book.no)
    depth = sum(s for p, s in book.yes.items() if p >= b - 500) + sum(s for p, s in book.no.items() if p >= nb - 500)
    return b / 10_000, (10_000 - nb) / 10_000, depth / 100, (book.yes[b] + book.no[nb]) / 200


def _recording(path: Path) -> list[Any]:
    """Load a recording, gunzipping it to a temporary file first when needed."""
    if path.suffix != ".gz":
        return load_recording(path)
    with tempfile.NamedTemporaryFile(suffix=".jsonl") as tmp:
        tmp.write(gzip.decompress(path.read_bytes()))
        tmp.flush()
        return load_recording(tmp.name)


def read_run(path: Path) -> dict[str, Tape]:
    """Replay one recorder run through BookStore and return a Tape per market.

    Trades: see the module doc. The last trade of each interval is also *matched* to the
    book delta it caused (a YES buy at ``p`` takes ``size`` off the NO bid at ``1 − p``, a
    sell takes it off the YES bid at ``p``): a matched trade has an unambiguous direction,
    the exchange time of its delta and the touch that stood just before it.
    """
    from kalashi_cli.kalshi.wire import ts_ms_of

    store = BookStore()
    tapes: dict[str, Tape] = {}
    last_vol: dict[str, float] = {}
    # per market: recent deltas (t, yes side?, price units, delta contracts, bid before, ask before)
    recent: dict[str, list[tuple[int, bool, int, float, float, float]]] = defaultdict(list)
    for ev in _recording(path):
        t = ev.t_ms
        if ev.kind == "reset":
            store.reset_connection()
            continue
        if ev.kind == "watch":
            tk = ev.data.get("market_ticker")
            if isinstance(tk, str):
                tape = tapes.setdefault(tk, Tape(tk))
                ct = ev.data.get("close_time") or ""
                if ct:
                    tape.close_ms = ts_ms_of(ct)
            continue
        if ev.kind != "ws":
            continue
        frame = ev.data
        kind = frame.get("type")
        msg = frame.get("msg") or {}
        tk = msg.get("market_ticker")
        if not isinstance(tk, str):
            store.handle(frame, ts_ms=t)
            continue
        tape = tapes.setdefault(tk, Tape(tk))
        book = store.books.get(tk)
        live = book is not None and not book.stale
        before = _book_touch(book) if live else (float("nan"),) * 4
        if kind == "orderbook_delta" and live:
            try:
                price = round(float(msg["price_dollars"]) * 10_000)
                yes_side = msg["side"] == "yes"
                change = float(msg["delta_fp"])
                side_best = max(book.yes if yes_side else book.no, default=None)  # type: ignore[union-attr]
                if side_best is not None and price == side_best:
                    tape.touch_deltas.append((t, 1 if change > 0 else -1))
                if change < 0:
                    buf = recent[tk]
                    buf.append((t, yes_side, price, -change, before[0], before[1]))
                    if len(buf) > 400:
                        del buf[:200]
            except (KeyError, ValueError):
                pass
        other = store.handle(frame, ts_ms=t)
        book = store.books.get(tk)
        if book is not None and not book.stale:
            b, a, d5, ts = _book_touch(book)
            if not tape.touch_t or (b, a) != (tape.bid[-1], tape.ask[-1]) or t - tape.touch_t[-1] >= 1000:
                tape.touch_t.append(t)
                tape.bid.append(b)
                tape.ask.append(a)
                tape.depth5.append(d5)
                tape.top_size.append(ts)
            tape.first_ms = tape.first_ms or t
            tape.last_ms = t
        if other == "ticker":
            try:
                vol = float(msg["volume_fp"])
                last = float(msg["price_dollars"])
                size = float(msg.get("last_trade_size_fp") or 0)
            except (KeyError, TypeError, ValueError):
                continue
            prev = last_vol.get(tk)
            last_vol[tk] = vol
            if prev is None or vol <= prev:
                recent[tk].clear()
                continue
            p_units = round(last * 10_000)
            match = None
            for rt, yes_side, price, taken, bb, ba in reversed(recent[tk]):
                if abs(taken - size) < 0.005:
                    if yes_side and price == p_units:
                        match = (rt, -1, bb, ba)
                        break
                    if not yes_side and price == 10_000 - p_units:
                        match = (rt, 1, bb, ba)
                        break
            recent[tk].clear()
            if match is None:
                tape.unmatched += 1
                continue
            rt, direction, bb, ba = match
            tape.trades.append((rt, (vol - prev) / 2, direction, last, bb, ba, size))
    return tapes


def read_runs(root: Path) -> tuple[list[Tape], dict[str, str]]:
    """Every market window of the four whole runs, and the settlement results."""
    runs = root / "crypto_ws_kxbtc15m" / "runs"
    tapes: list[Tape] = []
    for path in sorted(runs.glob("*.events.jsonl.gz")):
        tapes.extend(t for t in read_run(path).values() if t.touch_t)
    results: dict[str, str] = {}
    with (runs / "results.csv").open() as f:
        for row in csv.DictReader(f):
            results[row["ticker"]] = row["result"]
    return tapes, results


# --------------------------------------------------------------------------- statistics


def trade_stats(tapes: list[Tape]) -> dict[str, Any]:
    minutes = sum((t.last_ms - t.first_ms) / 60_000 for t in tapes)
    intervals = [tr for t in tapes for tr in t.trades]
    unmatched = sum(t.unmatched for t in tapes)
    contracts = [tr[1] for tr in intervals]
    sizes = [tr[6] for tr in intervals if tr[6] > 0]
    classified = [tr for tr in intervals if tr[2]]
    walked = [tr for tr in classified if (tr[2] > 0 and tr[3] > tr[5]) or (tr[2] < 0 and tr[3] < tr[4])]
    single = [tr for tr in intervals if tr[6] > 0 and abs(tr[1] - tr[6]) < 0.005]
    buys = sum(tr[1] for tr in classified if tr[2] > 0)
    sells = sum(tr[1] for tr in classified if tr[2] < 0)
    adds = sum(1 for t in tapes for _, s in t.touch_deltas if s > 0)
    removes = sum(1 for t in tapes for _, s in t.touch_deltas if s < 0)
    touch_changes = sum(
        sum(1 for i in range(1, len(t.touch_t)) if (t.bid[i], t.ask[i]) != (t.bid[i - 1], t.ask[i - 1])) for t in tapes
    )
    return {
        "market_minutes": minutes,
        "trade_intervals": len(intervals) + unmatched,
        "trade_intervals_per_minute": (len(intervals) + unmatched) / minutes,
        "matched_share": len(intervals) / (len(intervals) + unmatched) if intervals else float("nan"),
        "contracts_per_minute": sum(contracts) / minutes,
        "contracts_per_interval_p10_p50_p90": q(contracts, 0.1, 0.5, 0.9),
        "trade_size_p10_p25_p50_p75_p90": q(sizes, 0.1, 0.25, 0.5, 0.75, 0.9),
        "trade_size_mean": mean(sizes),
        "single_trade_intervals_share": len(single) / len(intervals) if intervals else float("nan"),
        "buy_share_of_contracts": buys / (buys + sells) if buys + sells else float("nan"),
        "walked_share": len(walked) / len(classified) if classified else float("nan"),
        "touch_deltas_per_minute": {"add": adds / minutes, "remove": removes / minutes},
        "touch_price_changes_per_minute": touch_changes / minutes,
    }


def _grid_mids(tape: Tape, step_ms: int = 1000) -> list[tuple[int, float]]:
    out = []
    t = tape.touch_t[0]
    while t <= tape.last_ms:
        out.append((t, tape.mid_at(t)))
        t += step_ms
    return out


def move_stats(
    tapes: list[Tape], horizons_s: Iterable[int] = HORIZONS_S, raw: dict[str, list[float]] | None = None
) -> dict[str, Any]:
    """Distribution of mid changes over each horizon (cents), sampled every second, both sides quoted.

    ``raw`` (when given) receives the changes per horizon, for plots.
    """
    out: dict[str, Any] = {}
    for h in horizons_s:
        moves: list[float] = []
        for tape in tapes:
            grid = _grid_mids(tape)
            lag = h
            for (t0, m0), (_, m1) in zip(grid, grid[lag:], strict=False):
                if tape.close_ms and t0 + h * 1000 > tape.close_ms:
                    break
                if not (math.isnan(m0) or math.isnan(m1)):
                    moves.append((m1 - m0) * 100)
        if raw is not None:
            raw[f"{h}s"] = moves
        absm = [abs(x) for x in moves]
        out[f"{h}s"] = {
            "n": len(moves),
            "unchanged_share": sum(1 for x in absm if x < 1e-9) / len(absm) if absm else float("nan"),
            "abs_p50_p90_p99_cents": q(absm, 0.5, 0.9, 0.99),
            "sd_cents": statistics.pstdev(moves) if moves else float("nan"),
        }
    return out


def markout_stats(tapes: list[Tape], horizons_s: Iterable[int] = HORIZONS_S) -> dict[str, Any]:
    """Mid change after classified trades, signed by the taker's direction (cents).

    ``taker`` is the mid move in the taker's favour from the mid before the trade; ``maker`` is
    what the passive side earned marked to the later mid: its price against the mid at the
    horizon (the half spread it captured minus the move), per contract.
    """
    out: dict[str, Any] = {}
    for h in horizons_s:
        taker: list[float] = []
        maker: list[float] = []
        maker_w: list[tuple[float, float]] = []
        keys: list[tuple[str, int]] = []
        by_size: dict[str, list[float]] = defaultdict(list)
        buys: list[float] = []
        sells: list[float] = []
        for tape in tapes:
            for t, n, d, price, bb, ba, _size in tape.trades:
                if not d or math.isnan(bb) or math.isnan(ba):
                    continue
                if tape.close_ms and t + h * 1000 > tape.close_ms:
                    continue
                m1 = tape.mid_at(t + h * 1000)
                if math.isnan(m1):
                    continue
                m0 = (bb + ba) / 2
                taker.append(d * (m1 - m0) * 100)
                (buys if d > 0 else sells).append((m1 - m0) * 100)
                mk = d * (price - m1) * 100
                maker.append(mk)
                maker_w.append((mk, n))
                keys.append((tape.ticker, t // 60_000))
                by_size["<10" if _size < 10 else ("10-100" if _size < 100 else ">=100")].append(mk)
        wsum = sum(w for _, w in maker_w)
        wmean = sum(m * w for m, w in maker_w) / wsum if wsum else float("nan")
        # standard error of a weighted mean (weights as frequency-free importance weights)
        ws = [w for _, w in maker_w]
        wse = cluster_se(maker, ws, keys)
        out[f"{h}s"] = {
            "n": len(taker),
            "taker_mid_move_cents": mean(taker),
            "taker_mid_move_se": se(taker),
            "after_buys_cents": mean(buys),
            "after_sells_cents": mean(sells),
            "maker_markout_cents": mean(maker),
            "maker_markout_se": cluster_se(maker, [1.0] * len(maker), keys),
            "maker_markout_contract_weighted_cents": wmean,
            "maker_markout_contract_weighted_se": wse,
            "maker_markout_by_trade_size_cents": {k: [mean(v), se(v), len(v)] for k, v in sorted(by_size.items())},
        }
    return out


def close_stats(tapes: list[Tape]) -> dict[str, Any]:
    """Spread (cents) and depth within 5¢ against minutes to close, sampled every second."""
    out: dict[str, Any] = {}
    for lo, hi in CLOSE_BUCKETS_MIN:
        spreads: list[float] = []
        depth: list[float] = []
        top: list[float] = []
        for tape in tapes:
            if not tape.close_ms:
                continue
            for t in range(tape.touch_t[0], min(tape.last_ms, tape.close_ms), 1000):
                left = (tape.close_ms - t) / 60_000
                if not lo <= left < hi:
                    continue
                i = bisect.bisect_right(tape.touch_t, t) - 1
                b, a = tape.bid[i], tape.ask[i]
                if math.isnan(b) or math.isnan(a):
                    continue
                spreads.append((a - b) * 100)
                depth.append(tape.depth5[i])
                top.append(tape.top_size[i])
        out[f"{lo}-{hi}min"] = {
            "n": len(spreads),
            "spread_cents_mean": mean(spreads),
            "spread_cents_p50_p90": q(spreads, 0.5, 0.9),
            "depth_within_5c_p50": q(depth, 0.5)[0],
            "top_size_p50": q(top, 0.5)[0],
        }
    return out


# --------------------------------------------------------------------------- price against outcome


@dataclass(frozen=True)
class Forecast:
    """One price observed before a market settled: probability, outcome, minutes to close, source."""

    p: float
    won: bool
    minutes_to_close: float
    source: str
    market: str


def forecasts_btc(tapes: list[Tape], results: dict[str, str]) -> list[Forecast]:
    """Mid of each KXBTC15M window every 30 s before its close, with the window's result."""
    out = []
    for tape in tapes:
        r = results.get(tape.ticker)
        if r not in ("yes", "no") or not tape.close_ms:
            continue
        t = tape.close_ms - 30_000
        while t >= tape.touch_t[0]:
            m = tape.mid_at(t)
            if not math.isnan(m):
                out.append(Forecast(m, r == "yes", (tape.close_ms - t) / 60_000, "crypto", tape.ticker))
            t -= 30_000
    return out


def forecasts_weather(root: Path) -> list[Forecast]:
    """KXHIGHMIA bracket prices every 10 minutes; the outcome is the bracket the last minute priced ≥ 90¢."""
    out = []
    for path in sorted((root / "weather_kxhighmia_minute").glob("*.csv")):
        with path.open() as f:
            rows = list(csv.reader(f))
        header, body = rows[0], rows[1:]
        from kalashi_cli.kalshi.wire import ts_ms_of

        times = [ts_ms_of(r[0]) for r in body]
        close = times[-1]
        for col in range(1, len(header)):
            series = [(t, float(r[col])) for t, r in zip(times, body, strict=True) if len(r) > col and r[col]]
            if not series:
                continue
            won = series[-1][1] >= 90
            # drop the last hour: the day's high is known by then and prices sit at 1 / 99
            for t, p in series[::10]:
                left = (close - t) / 60_000
                if left >= 60:
                    out.append(Forecast(p / 100, won, left, "weather", f"{path.stem}:{header[col]}"))
    return out


def forecasts_politics(root: Path) -> list[Forecast]:
    out = []
    for path, won in (("PRES-2024-DJT_candlesticks_hourly.csv", True), ("PRES-2024-KH_candlesticks_hourly.csv", False)):
        with (root / "politics_pres2024_candles" / path).open() as f:
            rows = list(csv.DictReader(f))
        n = len(rows)
        for i, r in enumerate(rows):
            if r.get("price_close") not in (None, ""):
                out.append(Forecast(float(r["price_close"]) / 100, won, (n - i) * 60.0, "politics", path[:13]))
    return out


def forecasts_sports(root: Path) -> list[Forecast]:
    """Settled game markets with the price a day before (``previous_price``) and their result."""
    doc = json.loads((root / "sports_rest_ws_fixtures_2026-08" / "markets_settled.json").read_text())
    out = []
    for m in doc["markets"]:
        p = float(m.get("previous_price_dollars") or 0)
        if m.get("result") in ("yes", "no") and 0.02 < p < 0.98:
            out.append(Forecast(p, m["result"] == "yes", 24 * 60.0, "sports", m["ticker"]))
    return out


def reliability(
    fc: list[Forecast], edges: tuple[float, ...] = (0, 0.1, 0.3, 0.5, 0.7, 0.9, 1.0001)
) -> list[dict[str, Any]]:
    """Win rate per price bucket, with the number of distinct markets behind each."""
    rows = []
    for lo, hi in zip(edges, edges[1:], strict=False):
        sel = [f for f in fc if lo <= f.p < hi]
        if not sel:
            continue
        rows.append(
            {
                "bucket": f"{lo:g}-{min(hi, 1):g}",
                "n": len(sel),
                "markets": len({f.market for f in sel}),
                "mean_price": mean([f.p for f in sel]),
                "win_rate": mean([1.0 if f.won else 0.0 for f in sel]),
            }
        )
    return rows


def brier_by_time(fc: list[Forecast], edges_min: tuple[float, ...]) -> list[dict[str, Any]]:
    rows = []
    for lo, hi in zip(edges_min, edges_min[1:], strict=False):
        sel = [f for f in fc if lo <= f.minutes_to_close < hi]
        if sel:
            rows.append(
                {
                    "minutes_to_close": f"{lo:g}-{hi:g}",
                    "n": len(sel),
                    "brier": mean([(f.p - (1.0 if f.won else 0.0)) ** 2 for f in sel]),
                }
            )
    return rows


def measure_flow(root: Path) -> dict[str, Any]:
    """Every real order-flow statistic (see the module doc)."""
    tapes, results = read_runs(root)
    btc = forecasts_btc(tapes, results)
    weather = forecasts_weather(root)
    politics = forecasts_politics(root)
    sports = forecasts_sports(root)
    allfc = btc + weather + politics + sports
    return {
        "windows": len(tapes),
        "trades": trade_stats(tapes),
        "moves": move_stats(tapes),
        "markouts": markout_stats(tapes),
        "close": close_stats(tapes),
        "reliability": reliability(allfc),
        "reliability_by_source": {
            s: reliability([f for f in allfc if f.source == s]) for s in ("crypto", "weather", "politics", "sports")
        },
        "brier_crypto_by_minutes": brier_by_time(btc, (0, 1, 2, 5, 10, 15)),
        "brier_weather_by_hours": [
            {**r, "minutes_to_close": r["minutes_to_close"]} for r in brier_by_time(weather, (60, 360, 720, 1440, 2880))
        ],
    }


def iter_tapes(root: Path) -> Iterator[Tape]:
    yield from read_runs(root)[0]


if __name__ == "__main__":
    root = (
        Path(sys.argv[1])
        if len(sys.argv) > 1
        else Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "kalshi-real"
    )
    json.dump(measure_flow(root.resolve()), sys.stdout, indent=1, default=str)
    print()
