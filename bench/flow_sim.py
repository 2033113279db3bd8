"""Measure the sim universe's order flow with the statistics bench/flow_real.py takes on real runs.

One walk over ``steps`` steps of a ``SimUniverse(seed, markets)`` collects, per market: the
touch and depth at every step, the public prints, the hidden probability and how the market
settled. From those: trade sizes and rates, mid moves by horizon, markouts after prints
(taker and maker side), spread and depth against time to close, price against outcome,
Brier score against time to close, and taker vs maker returns to settlement.

The sim's step is 10 s, so its horizons are 1, 6 and 30 steps (10 s, 1 min, 5 min); it has no
sub-step book and no 1 s horizon. ``select`` restricts the statistics to some markets (a
category group or a series); settlement-based figures use the markets that settled during
the walk.

Research code: floats for statistics, never for money in the product.
"""

from __future__ import annotations

import bisect
import math
import sys
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flow_real import Forecast, brier_by_time, cluster_se, mean, q, reliability, se  # noqa: E402

from kalashi_cli.money import COUNT_SCALE, fee_for  # noqa: E402
from kalashi_cli.sim.universe import SimUniverse  # noqa: E402
from kalashi_cli.sim.universe_catalog import SERIES  # noqa: E402

HORIZON_STEPS = (1, 6, 30)


def group_of_series() -> dict[str, str]:
    out = {}
    for spec in SERIES:
        for code in [m[0] for m in spec.members] or [""]:
            out[spec.ticker.format(m=code)] = spec.group
    return out


@dataclass
class SimTape:
    """One sim market over the walk (prices in $)."""

    ticker: str
    group: str
    series: str
    fee_type: str
    fee_multiplier: int
    close_step: int = -1
    steps: list[int] = field(default_factory=list)
    bid: list[float] = field(default_factory=list)
    ask: list[float] = field(default_factory=list)
    depth5: list[float] = field(default_factory=list)
    top: list[float] = field(default_factory=list)
    truth: list[float] = field(default_factory=list)
    trades: list[tuple[int, float, int, float]] = field(default_factory=list)  # (step, contracts, dir, price)
    result: float | None = None  # 1.0 yes, 0.0 no

    def at(self, step: int) -> int:
        i = bisect.bisect_left(self.steps, step)
        return i if i < len(self.steps) and self.steps[i] == step else -1

    def mid(self, step: int) -> float:
        i = self.at(step)
        if i < 0:
            return float("nan")
        return (self.bid[i] + self.ask[i]) / 2


def walk(
    markets: int = 3000,
    steps: int = 300,
    seed: int = 0,
    start: int = 1,
    select: Callable[[str, str], bool] | None = None,
) -> dict[str, SimTape]:
    """Walk the universe and collect a SimTape per selected market (``select(group, series)``)."""
    u = SimUniverse(seed=seed, markets=markets)
    groups = group_of_series()
    tapes: dict[str, SimTape] = {}
    nan = float("nan")
    for s in range(start, start + steps):
        if select is None:
            listing = u.markets_at(s)
        else:  # only the selected events' markets: far cheaper than the whole listing
            listing = [
                m
                for e in u.events_at(s)
                if select(groups[e.series_ticker], e.series_ticker)
                for t in e.market_tickers
                if (m := u.market_at(t, s)) is not None
            ]
        live: list[str] = []
        for m in listing:
            if m.status != "active":
                continue
            g = groups[m.series_ticker]
            if select is not None and not select(g, m.series_ticker):
                continue
            live.append(m.ticker)
            tape = tapes.get(m.ticker)
            if tape is None:
                tape = tapes[m.ticker] = SimTape(m.ticker, g, m.series_ticker, m.fee_type, m.fee_multiplier)
                tape.close_step = (m.close_ts_ms - u.epoch_ms) // u.step_ms if m.close_ts_ms else -1
            b, a = m.yes_bid, m.yes_ask
            tape.steps.append(s)
            tape.bid.append(b / 10_000 if b is not None else nan)
            tape.ask.append(a / 10_000 if a is not None else nan)
            if b is not None and a is not None:
                d = sum(sz for p, sz in m.yes_bids if p >= b - 500) + sum(
                    sz for p, sz in m.no_bids if p >= m.no_bids[0][0] - 500
                )
                tape.depth5.append(d / 100)
                tape.top.append((m.yes_bids[0][1] + m.no_bids[0][1]) / 200)
            else:
                tape.depth5.append(nan)
                tape.top.append(nan)
            p = u.hidden_probability(m.ticker, s)
            tape.truth.append(p if p is not None else nan)
        for tr in u.trades_between(s - 1, s, None if select is None else live):
            tape = tapes.get(tr.ticker)
            if tape is not None:
                tape.trades.append((s, tr.count / 100, 1 if tr.taker_side == "bid" else -1, tr.price / 10_000))
        for st in u.settlements_between(s - 1, s):
            tape = tapes.get(st.ticker)
            if tape is not None:
                tape.result = 1.0 if st.result == "yes" else 0.0
    return tapes


# --------------------------------------------------------------------------- statistics (mirror flow_real)


def trade_stats(tapes: list[SimTape], steps: int) -> dict[str, Any]:
    minutes = sum(len(t.steps) for t in tapes) / 6
    trades = [tr for t in tapes for tr in t.trades]
    sizes = [tr[1] for tr in trades]
    buys = sum(tr[1] for tr in trades if tr[2] > 0)
    traded_steps = sum(len({tr[0] for tr in t.trades}) for t in tapes)
    return {
        "market_minutes": minutes,
        "prints": len(trades),
        "prints_per_minute": len(trades) / minutes if minutes else float("nan"),
        "traded_step_share": traded_steps / max(1, sum(len(t.steps) for t in tapes)),
        "contracts_per_minute": sum(sizes) / minutes if minutes else float("nan"),
        "trade_size_p10_p25_p50_p75_p90": q(sizes, 0.1, 0.25, 0.5, 0.75, 0.9),
        "trade_size_mean": mean(sizes),
        "buy_share_of_contracts": buys / sum(sizes) if sizes else float("nan"),
    }


def move_stats(tapes: list[SimTape], raw: dict[str, list[float]] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for h in HORIZON_STEPS:
        moves = []
        for t in tapes:
            for i, s in enumerate(t.steps):
                j = t.at(s + h)
                if j < 0:
                    continue
                m0 = (t.bid[i] + t.ask[i]) / 2
                m1 = (t.bid[j] + t.ask[j]) / 2
                if not (math.isnan(m0) or math.isnan(m1)):
                    moves.append((m1 - m0) * 100)
        if raw is not None:
            raw[f"{h * 10}s"] = moves
        absm = [abs(x) for x in moves]
        out[f"{h * 10}s"] = {
            "n": len(moves),
            "unchanged_share": sum(1 for x in absm if x < 1e-9) / len(absm) if absm else float("nan"),
            "abs_p50_p90_p99_cents": q(absm, 0.5, 0.9, 0.99),
            "sd_cents": (sum(x * x for x in moves) / len(moves) - mean(moves) ** 2) ** 0.5 if moves else float("nan"),
        }
    return out


def markout_stats(tapes: list[SimTape]) -> dict[str, Any]:
    """Markouts after public prints (see flow_real.markout_stats): the taker's mid move and the maker's markout."""
    out: dict[str, Any] = {}
    for h in HORIZON_STEPS:
        taker, maker, maker_w, keys = [], [], [], []
        for t in tapes:
            for s, n, d, price in t.trades:
                i, j = t.at(s), t.at(s + h)
                if i < 0 or j < 0:
                    continue
                m0 = (t.bid[i] + t.ask[i]) / 2
                m1 = (t.bid[j] + t.ask[j]) / 2
                if math.isnan(m0) or math.isnan(m1):
                    continue
                taker.append(d * (m1 - m0) * 100)
                mk = d * (price - m1) * 100
                maker.append(mk)
                maker_w.append((mk, n))
                keys.append((t.ticker, s // 6))
        wsum = sum(w for _, w in maker_w)
        wmean = sum(m * w for m, w in maker_w) / wsum if wsum else float("nan")
        wse = cluster_se(maker, [w for _, w in maker_w], keys)
        out[f"{h * 10}s"] = {
            "n": len(taker),
            "taker_mid_move_cents": mean(taker),
            "taker_mid_move_se": se(taker),
            "maker_markout_cents": mean(maker),
            "maker_markout_se": cluster_se(maker, [1.0] * len(maker), keys),
            "maker_markout_contract_weighted_cents": wmean,
            "maker_markout_contract_weighted_se": wse,
        }
    return out


def close_stats(tapes: list[SimTape], buckets: tuple[tuple[float, float], ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for lo, hi in buckets:
        spreads, depth, top = [], [], []
        for t in tapes:
            if t.close_step < 0:
                continue
            for i, s in enumerate(t.steps):
                left = (t.close_step - s) / 6
                if lo <= left < hi and not (math.isnan(t.bid[i]) or math.isnan(t.ask[i])):
                    spreads.append((t.ask[i] - t.bid[i]) * 100)
                    depth.append(t.depth5[i])
                    top.append(t.top[i])
        out[f"{lo:g}-{hi:g}min"] = {
            "n": len(spreads),
            "spread_cents_mean": mean(spreads),
            "spread_cents_p50_p90": q(spreads, 0.5, 0.9),
            "depth_within_5c_p50": q(depth, 0.5)[0],
            "top_size_p50": q(top, 0.5)[0],
        }
    return out


def forecasts(tapes: list[SimTape], every: int = 3) -> list[Forecast]:
    """The mid of every settled market every ``every`` steps, with its outcome (Forecast records)."""
    out = []
    for t in tapes:
        if t.result is None or t.close_step < 0:
            continue
        for i in range(0, len(t.steps), every):
            b, a = t.bid[i], t.ask[i]
            if math.isnan(b) or math.isnan(a):
                continue
            out.append(Forecast((a + b) / 2, t.result > 0.5, (t.close_step - t.steps[i]) / 6, t.group, t.ticker))
    return out


def returns_to_settlement(tapes: list[SimTape]) -> dict[str, Any]:
    """Taker and maker P&L per contract of every public print, after fees.

    ``*_pnl_per_contract_cents`` and ``*_return``: against how the market settled (prints of
    markets that settled during the walk). ``expected_*``: against the hidden probability at the
    print (every print; the settlement is drawn with that probability at close, so these are the
    same in expectation with far less noise).
    """
    taker_pnl = maker_pnl = contracts = taker_cost = maker_cost = 0.0
    exp_taker = exp_maker = exp_contracts = 0.0
    for t in tapes:
        for s, n, d, price in t.trades:
            cnt = round(n * COUNT_SCALE)
            p_units = round(price * 10_000)
            f_taker = fee_for(p_units, cnt, fee_type=t.fee_type, multiplier=t.fee_multiplier) / 1e6
            f_maker = fee_for(p_units, cnt, fee_type=t.fee_type, multiplier=t.fee_multiplier, is_taker=False) / 1e6
            i = t.at(s)
            if i >= 0 and not math.isnan(t.truth[i]):
                gross = d * (t.truth[i] - price) * n
                exp_taker += gross - f_taker
                exp_maker += -gross - f_maker
                exp_contracts += n
            if t.result is None:
                continue
            gross = d * (t.result - price) * n  # the taker's gain before fees
            taker_pnl += gross - f_taker
            maker_pnl += -gross - f_maker
            contracts += n
            taker_cost += (price if d > 0 else 1 - price) * n
            maker_cost += (1 - price if d > 0 else price) * n
    nan = float("nan")
    return {
        "contracts": contracts,
        "taker_pnl_per_contract_cents": 100 * taker_pnl / contracts if contracts else nan,
        "maker_pnl_per_contract_cents": 100 * maker_pnl / contracts if contracts else nan,
        "taker_return": taker_pnl / taker_cost if taker_cost else nan,
        "maker_return": maker_pnl / maker_cost if maker_cost else nan,
        "expected_contracts": exp_contracts,
        "expected_taker_pnl_per_contract_cents": 100 * exp_taker / exp_contracts if exp_contracts else nan,
        "expected_maker_pnl_per_contract_cents": 100 * exp_maker / exp_contracts if exp_contracts else nan,
    }


def measure_sim_flow(
    tapes: dict[str, SimTape], steps: int, select: Callable[[SimTape], bool] | None = None
) -> dict[str, Any]:
    sel = [t for t in tapes.values() if select is None or select(t)]
    fc = forecasts(sel)
    return {
        "markets": len(sel),
        "settled": sum(1 for t in sel if t.result is not None),
        "trades": trade_stats(sel, steps),
        "moves": move_stats(sel),
        "markouts": markout_stats(sel),
        "close": close_stats(sel, ((10, 15), (5, 10), (2, 5), (1, 2), (0, 1))),
        "reliability": reliability(fc),
        "reliability_fine": reliability(fc, (0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 1.0001)),
        "brier_by_minutes": brier_by_time(fc, (0, 1, 2, 5, 10, 15, 30, 60, 180, 1e9)),
        "returns": returns_to_settlement(sel),
    }


def by_group(tapes: dict[str, SimTape]) -> dict[str, list[SimTape]]:
    out: dict[str, list[SimTape]] = defaultdict(list)
    for t in tapes.values():
        out[t.group].append(t)
    return out


if __name__ == "__main__":
    import json

    n = int(sys.argv[1]) if len(sys.argv) > 1 else 3000
    k = int(sys.argv[2]) if len(sys.argv) > 2 else 300
    tp = walk(n, k)
    report = {
        "all": measure_sim_flow(tp, k),
        "KXBTC15M": measure_sim_flow(tp, k, lambda t: t.series in ("KXBTC15M", "KXETH15M")),
    }
    json.dump(report, sys.stdout, indent=1, default=str)
    print()
