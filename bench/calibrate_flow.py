"""Order flow, real against sim: measure, compare, report (tables and PNG plots).

The real side reads the four whole KXBTC15M WebSocket runs and the other captures in
``../shared/data/kalshi-real`` (bench/flow_real.py); the sim side walks the built-in universe
with the same statistics (bench/flow_sim.py) — its KXBTC15M/KXETH15M series against the real
KXBTC15M runs (same product, same 15-minute life), and the whole universe for price against
outcome and who earns what. It also runs naive passive quoting through the matching engine
(bench/naive_quotes.py).

    .venv/bin/python bench/calibrate_flow.py                    # print the comparison
    .venv/bin/python bench/calibrate_flow.py --report docs/img/flow  # + report.md, flow.json, PNGs
    .venv/bin/python bench/calibrate_flow.py --write-params     # refresh the measured numbers in
                                                                # kalashi_cli/sim/flow_params.json

Plots need matplotlib (``pip install -e '.[report]'``); it is imported only for ``--report``.
Research code: floats for statistics, never for money in the product.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import flow_real  # noqa: E402
import flow_sim  # noqa: E402
import naive_quotes  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT / ".." / "shared" / "data" / "kalshi-real"
PARAMS = ROOT / "kalashi_cli" / "sim" / "flow_params.json"
BTC = ("KXBTC15M", "KXETH15M")


def measure_real(data: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """The real statistics, and the raw distributions the plots draw."""
    tapes, results = flow_real.read_runs(data)
    real_moves: dict[str, list[float]] = {}
    fc_real = (
        flow_real.forecasts_btc(tapes, results)
        + flow_real.forecasts_weather(data)
        + flow_real.forecasts_politics(data)
        + flow_real.forecasts_sports(data)
    )
    real = {
        "windows": len(tapes),
        "trades": flow_real.trade_stats(tapes),
        "moves": flow_real.move_stats(tapes, raw=real_moves),
        "markouts": flow_real.markout_stats(tapes),
        "close": flow_real.close_stats(tapes),
        "reliability": flow_real.reliability(fc_real),
        "reliability_by_source": {
            s: flow_real.reliability([f for f in fc_real if f.source == s])
            for s in ("crypto", "weather", "politics", "sports")
        },
        "brier_crypto_by_minutes": flow_real.brier_by_time(
            [f for f in fc_real if f.source == "crypto"], (0, 1, 2, 5, 10, 15)
        ),
        "brier_weather_by_minutes": flow_real.brier_by_time(
            [f for f in fc_real if f.source == "weather"], (60, 360, 720, 1440, 2880)
        ),
    }
    sizes_real = [tr[6] for t in tapes for tr in t.trades if tr[6] > 0]
    return real, {"sizes_real": sizes_real, "moves_real": real_moves}


def measure(
    data: Path | None,
    *,
    btc_markets: int,
    all_markets: int,
    steps: int,
    seed: int,
    naive: bool = True,
    real: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Every statistic, real and sim, plus the raw distributions the plots need (under ``_raw``).

    ``real`` reuses real statistics measured before (e.g. the committed docs/img/flow/flow.json)
    instead of reading ``data``; the plots then lack the real raw distributions.
    """
    if real is None:
        assert data is not None
        real, raw = measure_real(data)
    else:
        raw = {"sizes_real": [], "moves_real": {}}

    btc = flow_sim.walk(btc_markets, steps, seed=seed, select=lambda g, s: s in BTC)
    sim_btc_moves: dict[str, list[float]] = {}
    sim_btc = flow_sim.measure_sim_flow(btc, steps)
    sim_btc["moves"] = flow_sim.move_stats(list(btc.values()), raw=sim_btc_moves)
    sizes_sim = [tr[1] for t in btc.values() for tr in t.trades]

    everything = flow_sim.walk(all_markets, steps, seed=seed)
    sim_all = flow_sim.measure_sim_flow(everything, steps)
    sim_all["by_group"] = {
        g: {
            "markouts": flow_sim.markout_stats(ts),
            "returns": flow_sim.returns_to_settlement(ts),
            "moves": flow_sim.move_stats(ts),
            "trades": flow_sim.trade_stats(ts, steps),
        }
        for g, ts in sorted(flow_sim.by_group(everything).items())
    }

    out: dict[str, Any] = {
        "config": {"btc_markets": btc_markets, "all_markets": all_markets, "steps": steps, "seed": seed},
        "real": real,
        "sim_btc": sim_btc,
        "sim_all": sim_all,
        "_raw": {**raw, "sizes_sim": sizes_sim, "moves_sim": sim_btc_moves},
    }
    if naive:
        out["naive"] = {}
        for strategy in ("join", "improve"):
            out["naive"][strategy] = naive_quotes.evaluate(
                naive_quotes.run(strategy, markets=2000, steps=200, seed=seed, sample=300)
            )
        out["naive"]["improve, books ≥ 4¢"] = naive_quotes.evaluate(
            naive_quotes.run("improve", markets=3000, steps=200, seed=seed, sample=600, min_spread=400)
        )
    return out


# --------------------------------------------------------------------------- text


def _f(x: Any, nd: int = 2) -> str:
    if isinstance(x, float):
        return "—" if math.isnan(x) else f"{x:.{nd}f}"
    return str(x)


def _pm(v: float, e: float) -> str:
    return f"{_f(v)} ± {_f(e)}"


def tables(m: dict[str, Any]) -> str:
    """The comparison as Markdown tables (what docs/sim-calibration.md quotes)."""
    r, sb, sa = m["real"], m["sim_btc"], m["sim_all"]
    lines = [
        *_trades_table(r, sb),
        *_moves_table(r, sb),
        *_markouts_table(r, sb),
        *_close_table(r, sb),
        *_outcome_tables(r, sb, sa),
        *_earnings_table(sb, sa),
    ]
    if "naive" in m:
        lines += _naive_table(m["naive"])
    return "\n".join(lines)


def _trades_table(r: dict[str, Any], sb: dict[str, Any]) -> list[str]:
    """Trades (KXBTC15M): frequency, sizes, direction, walking the book, touch activity."""
    lines: list[str] = []
    add = lines.append
    add("### Trades (KXBTC15M)\n")
    add("| | real (4 runs, 8 windows) | sim (KXBTC15M/KXETH15M) |")
    add("|---|---|---|")
    rt, st = r["trades"], sb["trades"]
    add(
        f"| trade intervals / prints per minute | {_f(rt['trade_intervals_per_minute'], 1)} (1 s ticker intervals) "
        f"| {_f(st['prints_per_minute'], 1)} prints |"
    )
    add(f"| contracts per minute | {_f(rt['contracts_per_minute'], 0)} | {_f(st['contracts_per_minute'], 0)} |")
    add(
        f"| trade size p10/p25/p50/p75/p90 | {' / '.join(_f(x, 0) for x in rt['trade_size_p10_p25_p50_p75_p90'])} "
        f"| {' / '.join(_f(x, 0) for x in st['trade_size_p10_p25_p50_p75_p90'])} |"
    )
    add(f"| buy share of contracts | {_f(rt['buy_share_of_contracts'])} | {_f(st['buy_share_of_contracts'])} |")
    add(f"| trades that walk the book | {_f(100 * rt['walked_share'], 2)} % | 0 % (prints at the touch) |")
    add(
        f"| touch price changes per minute | {_f(rt['touch_price_changes_per_minute'], 0)} | at most 6 (one book per 10 s step) |"
    )
    add(
        f"| size added / removed at the touch per minute | {_f(rt['touch_deltas_per_minute']['add'], 0)} / "
        f"{_f(rt['touch_deltas_per_minute']['remove'], 0)} deltas | — (books are redrawn each step) |"
    )
    add("")
    return lines


def _moves_table(r: dict[str, Any], sb: dict[str, Any]) -> list[str]:
    """Mid moves (KXBTC15M) at each horizon, in cents."""
    lines: list[str] = []
    add = lines.append
    add("### Mid moves (KXBTC15M), cents\n")
    add("| horizon | real: unchanged, abs p50 / p90 / p99, sd | sim |")
    add("|---|---|---|")

    def cell(v: dict[str, Any] | None) -> str:
        if not v:
            return "— (the sim's step is 10 s)"
        p = v["abs_p50_p90_p99_cents"]
        return f"{_f(100 * v['unchanged_share'], 0)} %, {_f(p[0], 1)} / {_f(p[1], 1)} / {_f(p[2], 1)}, {_f(v['sd_cents'], 1)}"

    for h in ("1s", "10s", "60s", "300s"):
        add(f"| {h} | {cell(r['moves'].get(h))} | {cell(sb['moves'].get(h))} |")
    add("")
    return lines


def _markouts_table(r: dict[str, Any], sb: dict[str, Any]) -> list[str]:
    """The maker's markouts after trades (KXBTC15M), per trade and contract-weighted, real and sim."""
    lines: list[str] = []
    add = lines.append
    add("### Markouts after trades (KXBTC15M), cents per contract\n")
    add("The maker's markout: its price against the mid at the horizon, in its favour (the half spread it")
    add("captured minus the move). ± is a standard error clustered by market-minute.\n")
    add(
        "| horizon | real maker, per trade | real maker, contract-weighted | sim maker, per print | sim maker, contract-weighted |"
    )
    add("|---|---|---|---|---|")
    for h in ("1s", "10s", "60s", "300s"):
        rv = r["markouts"].get(h)
        sv = sb["markouts"].get(h)
        rc = (
            (
                _pm(rv["maker_markout_cents"], rv["maker_markout_se"]),
                _pm(rv["maker_markout_contract_weighted_cents"], rv["maker_markout_contract_weighted_se"]),
            )
            if rv
            else ("—", "—")
        )
        sc = (
            (
                _pm(sv["maker_markout_cents"], sv["maker_markout_se"]),
                _pm(sv["maker_markout_contract_weighted_cents"], sv["maker_markout_contract_weighted_se"]),
            )
            if sv
            else ("—", "—")
        )
        add(f"| {h} | {rc[0]} | {rc[1]} | {sc[0]} | {sc[1]} |")
    add("")
    return lines


def _close_table(r: dict[str, Any], sb: dict[str, Any]) -> list[str]:
    """Spread and depth against time to close (KXBTC15M)."""
    lines: list[str] = []
    add = lines.append
    add("### Spread and depth against time to close (KXBTC15M)\n")
    add(
        "| minutes to close | real spread ¢ (mean) | sim | real depth within 5¢ (p50) | sim | real best size (p50) | sim |"
    )
    add("|---|---|---|---|---|---|---|")
    for b, rv in r["close"].items():
        sv = sb["close"].get(b, {})
        add(
            f"| {b.replace('min', '')} | {_f(rv['spread_cents_mean'])} | {_f(sv.get('spread_cents_mean', math.nan))} | "
            f"{_f(rv['depth_within_5c_p50'], 0)} | {_f(sv.get('depth_within_5c_p50', math.nan), 0)} | "
            f"{_f(rv['top_size_p50'], 0)} | {_f(sv.get('top_size_p50', math.nan), 0)} |"
        )
    add("")
    return lines


def _outcome_tables(r: dict[str, Any], sb: dict[str, Any], sa: dict[str, Any]) -> list[str]:
    """Price against outcome: reliability buckets, the sim's finer buckets, Brier scores by minutes to close."""
    lines: list[str] = []
    add = lines.append
    add("### Price against outcome\n")
    add(
        "| price bucket | real: n (markets), mean price, win rate | sim (whole universe): n (markets), mean price, win rate |"
    )
    add("|---|---|---|")
    sim_rows = {x["bucket"]: x for x in sa["reliability"]}
    for x in r["reliability"]:
        y = sim_rows.get(x["bucket"])
        add(
            f"| {x['bucket']} | {x['n']} ({x['markets']}), {_f(x['mean_price'], 3)}, {_f(x['win_rate'], 3)} | "
            + (f"{y['n']} ({y['markets']}), {_f(y['mean_price'], 3)}, {_f(y['win_rate'], 3)} |" if y else "— |")
        )
    add("")
    add("Sim, finer buckets (favourite–longshot):\n")
    add("| bucket | n | markets | mean price | win rate | win rate − price |")
    add("|---|---|---|---|---|---|")
    for x in sa["reliability_fine"]:
        add(
            f"| {x['bucket']} | {x['n']} | {x['markets']} | {_f(x['mean_price'], 3)} | {_f(x['win_rate'], 3)} | "
            f"{_f(x['win_rate'] - x['mean_price'], 3)} |"
        )
    add("")
    add("Brier score of the mid against the outcome, by minutes to close (lower is more accurate):\n")
    add("| | " + " | ".join(x["minutes_to_close"] for x in sb["brier_by_minutes"]) + " |")
    add("|---|" + "---|" * len(sb["brier_by_minutes"]))
    add("| real KXBTC15M | " + " | ".join(_f(x["brier"], 3) for x in r["brier_crypto_by_minutes"]) + " |")
    add("| sim KXBTC15M | " + " | ".join(_f(x["brier"], 3) for x in sb["brier_by_minutes"]) + " |")
    add("")
    add("| minutes to close | " + " | ".join(x["minutes_to_close"] for x in sa["brier_by_minutes"]) + " |")
    add("|---|" + "---|" * len(sa["brier_by_minutes"]))
    add("| sim, whole universe | " + " | ".join(_f(x["brier"], 3) for x in sa["brier_by_minutes"]) + " |")
    add("")
    add("| minutes to close | " + " | ".join(x["minutes_to_close"] for x in r["brier_weather_by_minutes"]) + " |")
    add("|---|" + "---|" * len(r["brier_weather_by_minutes"]))
    add(
        "| real weather (KXHIGHMIA brackets) | "
        + " | ".join(_f(x["brier"], 3) for x in r["brier_weather_by_minutes"])
        + " |"
    )
    add("")
    return lines


def _earnings_table(sb: dict[str, Any], sa: dict[str, Any]) -> list[str]:
    """Who earns what (sim, every public print, after fees): taker and maker, expected and settled."""
    lines: list[str] = []
    add = lines.append
    add("### Who earns what (sim, every public print, after fees)\n")
    add("Expected: against the hidden probability at the print (every print). Settled: against the")
    add("result, prints of markets that settled during the walk (noisier: outcomes are 0 or 1).\n")
    add(
        "| | taker ¢/contract, expected | maker, expected | taker, settled | maker, settled | taker return, settled | maker return, settled |"
    )
    add("|---|---|---|---|---|---|---|")
    rows = [("whole universe", sa["returns"]), ("KXBTC15M", sb["returns"])]
    rows += [(g, v["returns"]) for g, v in sa.get("by_group", {}).items()]
    for name, v in rows:
        add(
            f"| {name} | {_f(v['expected_taker_pnl_per_contract_cents'])} | {_f(v['expected_maker_pnl_per_contract_cents'])} | "
            f"{_f(v['taker_pnl_per_contract_cents'])} | {_f(v['maker_pnl_per_contract_cents'])} | "
            f"{_f(100 * v['taker_return'])} % | {_f(100 * v['maker_return'])} % |"
        )
    add("")
    return lines


def _naive_table(naive: dict[str, Any]) -> list[str]:
    """Naive passive quotes through the matching engine: fills, markouts and P&L per strategy."""
    lines: list[str] = []
    add = lines.append
    add("### Naive passive quotes through the matching engine (sim, 300 markets at a time, 200 steps)\n")
    add("¢ per contract in the quote's favour; expected P&L: against the hidden probability at the fill, fees paid.\n")
    add("| strategy | fills | markout 10 s | 1 min | 5 min | expected P&L | P&L to settlement |")
    add("|---|---|---|---|---|---|---|")
    for name, v in naive.items():
        add(
            f"| {name} | {v['fills']} | {_pm(v['markout_10s_cents'], v['markout_10s_se'])} | "
            f"{_pm(v['markout_60s_cents'], v['markout_60s_se'])} | {_pm(v['markout_300s_cents'], v['markout_300s_se'])} | "
            f"{_pm(v['expected_pnl_cents_per_contract'], v['expected_pnl_se'])} | "
            f"{_pm(v['pnl_to_settlement_cents_per_contract'], v['pnl_to_settlement_se'])} |"
        )
    add("")
    return lines


# --------------------------------------------------------------------------- plots


#: the colours and markers of the real and the simulated series in every plot
STYLE = {"real": {"color": "#1f4e79", "marker": "o"}, "sim": {"color": "#c55a11", "marker": "s"}}


def plots(m: dict[str, Any], out: Path) -> list[Path]:
    """Write the comparison plots as small PNGs; return their paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for draw, name in (
        (_plot_spread_depth, "spread_depth.png"),
        (_plot_trade_sizes, "trade_sizes.png"),
        (_plot_mid_moves, "mid_moves.png"),
        (_plot_markouts, "markouts.png"),
        (_plot_reliability, "reliability.png"),
    ):
        fig = draw(plt, m)
        path = out / name
        fig.tight_layout()
        fig.savefig(path, dpi=72)
        plt.close(fig)
        written.append(path)
    return written


def _plot_spread_depth(plt: Any, m: dict[str, Any]) -> Any:
    """Spread and depth against time to close."""
    r, sb = m["real"], m["sim_btc"]
    buckets = list(r["close"])
    xs = range(len(buckets))
    labels = [b.replace("min", "") for b in buckets]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(8, 3))
    a1.plot(xs, [r["close"][b]["spread_cents_mean"] for b in buckets], label="real KXBTC15M", **STYLE["real"])
    a1.plot(xs, [sb["close"][b]["spread_cents_mean"] for b in buckets], label="sim KXBTC15M", **STYLE["sim"])
    a1.set(title="spread (mean, ¢)", xlabel="minutes to close", xticks=list(xs), xticklabels=labels)
    a1.legend(fontsize=8)
    a2.plot(xs, [r["close"][b]["depth_within_5c_p50"] for b in buckets], **STYLE["real"])
    a2.plot(xs, [sb["close"][b]["depth_within_5c_p50"] for b in buckets], **STYLE["sim"])
    a2.set(
        title="depth within 5¢ of the touch (p50, contracts)",
        xlabel="minutes to close",
        xticks=list(xs),
        xticklabels=labels,
    )
    return fig


def _plot_trade_sizes(plt: Any, m: dict[str, Any]) -> Any:
    """Trade sizes, CDF."""
    raw = m["_raw"]
    fig, ax = plt.subplots(figsize=(5, 3))
    for key, name in (("sizes_real", "real"), ("sizes_sim", "sim")):
        v = sorted(raw[key])
        if v:
            ax.plot(
                v,
                [(i + 1) / len(v) for i in range(len(v))],
                color=STYLE[name]["color"],
                label=f"{name} KXBTC15M ({len(v)})",
            )
    ax.set(xscale="log", title="trade size (contracts), CDF", xlabel="contracts")
    ax.legend(fontsize=8)
    return fig


def _plot_mid_moves(plt: Any, m: dict[str, Any]) -> Any:
    """Mid moves over 10 s, 60 s and 300 s, CDF."""
    raw = m["_raw"]
    fig, axes = plt.subplots(1, 3, figsize=(9, 3))
    for ax, h in zip(axes, ("10s", "60s", "300s"), strict=True):
        for key, name in (("moves_real", "real"), ("moves_sim", "sim")):
            v = sorted(abs(x) for x in raw[key].get(h, []))
            if v:
                ax.plot(v, [(i + 1) / len(v) for i in range(len(v))], color=STYLE[name]["color"], label=name)
        ax.set(title=f"|mid move| over {h}, CDF", xlabel="cents")
        ax.set_xlim(0, {"10s": 15, "60s": 35, "300s": 70}[h])
    axes[0].legend(fontsize=8)
    return fig


def _plot_markouts(plt: Any, m: dict[str, Any]) -> Any:
    """Maker markout curves (and the naive quotes, when measured)."""
    r, sb = m["real"], m["sim_btc"]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    hs = {"1s": 1, "10s": 10, "60s": 60, "300s": 300}
    for src, name, key, ls in (
        (r, "real", "maker_markout_contract_weighted_cents", "-"),
        (r, "real", "maker_markout_cents", ":"),
        (sb, "sim", "maker_markout_contract_weighted_cents", "-"),
        (sb, "sim", "maker_markout_cents", ":"),
    ):
        pts = [(hs[h], v[key]) for h, v in src["markouts"].items() if h in hs]
        ax.plot(
            [p[0] for p in pts],
            [p[1] for p in pts],
            linestyle=ls,
            color=STYLE[name]["color"],
            marker=STYLE[name]["marker"],
            label=f"{name} book makers, {'per contract' if 'weighted' in key else 'per trade'}",
        )
    if "naive" in m:
        for strategy, colour in (("join", "#548235"), ("improve", "#7030a0")):
            v = m["naive"][strategy]
            ax.plot(
                [10, 60, 300],
                [v["markout_10s_cents"], v["markout_60s_cents"], v["markout_300s_cents"]],
                color=colour,
                marker="^",
                label=f"sim: naive '{strategy}' quotes",
            )
    ax.axhline(0, color="grey", linewidth=0.8)
    ax.set(xscale="log", title="maker markout after a trade (¢/contract, + = maker's favour)", xlabel="seconds after")
    ax.legend(fontsize=7)
    return fig


def _plot_reliability(plt: Any, m: dict[str, Any]) -> Any:
    """Win rate against price, and the mid's Brier score."""
    r, sb, sa = m["real"], m["sim_btc"], m["sim_all"]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(8, 3.5))
    a1.plot([0, 1], [0, 1], color="grey", linewidth=0.8)
    for rows, name in ((r["reliability"], "real (pooled captures)"), (sa["reliability_fine"], "sim (whole universe)")):
        key = "real" if name.startswith("real") else "sim"
        # error bars: a binomial standard error with one observation per market (prices of one
        # market are strongly correlated)
        err = [math.sqrt(max(x["win_rate"] * (1 - x["win_rate"]), 0.0025) / x["markets"]) for x in rows]
        a1.errorbar(
            [x["mean_price"] for x in rows],
            [x["win_rate"] for x in rows],
            yerr=err,
            label=name,
            capsize=2,
            **STYLE[key],
        )
    a1.set(title="win rate against price", xlabel="price (mid)", ylabel="won")
    a1.legend(fontsize=8)
    for rows, name in ((r["brier_crypto_by_minutes"], "real"), (sb["brier_by_minutes"], "sim")):
        a2.plot(range(len(rows)), [x["brier"] for x in rows], label=f"{name} KXBTC15M", **STYLE[name])
    a2.set(
        title="Brier score of the mid",
        xlabel="minutes to close",
        xticks=range(len(sb["brier_by_minutes"])),
        xticklabels=[x["minutes_to_close"] for x in sb["brier_by_minutes"]],
    )
    a2.legend(fontsize=8)
    return fig


# --------------------------------------------------------------------------- measured parameters


def targets(real: dict[str, Any]) -> dict[str, Any]:
    """The real figures tests/sim/test_flow.py holds the sim to (the ``targets`` of flow_params.json)."""
    mv, mk, tr = real["moves"], real["markouts"], real["trades"]
    return {
        "_about": (
            f"Real KXBTC15M order flow (four whole WebSocket runs, {real['windows']} windows, "
            f"{tr['market_minutes']:.0f} market-minutes; bench/calibrate_flow.py --write-params) and "
            "published figures: what tests/sim/test_flow.py holds the sim to. Runtime code does not read "
            "this section."
        ),
        "mid_move_abs_p50_cents": {h: round(mv[h]["abs_p50_p90_p99_cents"][0], 2) for h in ("10s", "60s", "300s")},
        "mid_move_abs_p90_cents": {h: round(mv[h]["abs_p50_p90_p99_cents"][1], 2) for h in ("10s", "60s", "300s")},
        "mid_unchanged_share_10s": round(mv["10s"]["unchanged_share"], 3),
        "buy_share_of_contracts": round(tr["buy_share_of_contracts"], 3),
        "contracts_per_minute": round(tr["contracts_per_minute"]),
        "trade_size_p10_p25_p50_p75_p90": [round(x, 1) for x in tr["trade_size_p10_p25_p50_p75_p90"]],
        "walked_share": round(tr["walked_share"], 4),
        "maker_markout_contract_weighted_cents": {
            h: [
                round(mk[h]["maker_markout_contract_weighted_cents"], 2),
                round(mk[h]["maker_markout_contract_weighted_se"], 2),
            ]
            for h in ("10s", "60s", "300s")
        },
        "maker_markout_per_trade_cents": {
            h: [round(mk[h]["maker_markout_cents"], 2), round(mk[h]["maker_markout_se"], 2)]
            for h in ("1s", "10s", "60s", "300s")
        },
        "_maker_markout": (
            "[mean, standard error clustered by market-minute]: the maker's price against the mid at "
            "the horizon, in its favour"
        ),
        "published": {
            "longshot_5c_win_rate": 0.0418,
            "taker_excess_return": -0.0112,
            "maker_excess_return": 0.0112,
            "_source": (
                "Becker (2025), 'The Microstructure of Wealth Transfer in Prediction Markets' (72.1 M Kalshi "
                "trades); Bürgi, Deng & Whelan (2025), CESifo WP 12122: prices informative and more accurate "
                "toward the close, favourite-longshot bias, makers earn more than takers"
            ),
        },
    }


def write_params(data: Path, path: Path = PARAMS) -> dict[str, Any]:
    """Refresh the measured entries of flow_params.json from the real runs: the trade-size shape and
    mean, and the ``targets`` the tests hold the sim to. The model's other knobs stay as written."""
    tapes, _ = flow_real.read_runs(data)
    sizes = sorted(tr[6] for t in tapes for tr in t.trades if tr[6] > 0)
    mean = sum(sizes) / len(sizes)
    qs = [sizes[min(len(sizes) - 1, int((i + 0.5) / 16 * len(sizes)))] for i in range(16)]
    norm = sum(qs) / 16
    real = {
        "windows": len(tapes),
        "trades": flow_real.trade_stats(tapes),
        "moves": flow_real.move_stats(tapes),
        "markouts": flow_real.markout_stats(tapes),
    }
    doc = json.loads(path.read_text())
    doc["size_quantiles"] = [round(x / norm, 3) for x in qs]
    doc["_size_quantiles"] = (
        f"16 quantiles of real KXBTC15M trade sizes (last_trade_size_fp of {len(sizes)} trades "
        f"matched to their book delta, four whole runs), divided by their mean so they average 1: "
        f"p50 {sizes[len(sizes) // 2]:g} contracts, mean {mean:.0f}"
    )
    doc["groups"]["default"]["mean_trade"] = round(mean, 1)
    doc["targets"] = targets(real)
    path.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n")
    return doc


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="kalshi-real directory")
    ap.add_argument("--report", type=Path, metavar="DIR", help="write report.md, flow.json and PNG plots here")
    ap.add_argument("--json", action="store_true", help="print the statistics as JSON")
    ap.add_argument(
        "--write-params",
        action="store_true",
        help="refresh the measured numbers in kalashi_cli/sim/flow_params.json and stop",
    )
    ap.add_argument("--btc-markets", type=int, default=12_000, help="universe size for the KXBTC15M comparison")
    ap.add_argument("--markets", type=int, default=3_000, help="universe size for whole-universe statistics")
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-naive", action="store_true", help="skip the naive quoting runs")
    ap.add_argument(
        "--real-from",
        type=Path,
        metavar="FLOW_JSON",
        help="reuse the real statistics of an earlier report (its flow.json) instead of --data",
    )
    args = ap.parse_args(argv)
    data = args.data.resolve()
    real = json.loads(args.real_from.read_text())["real"] if args.real_from else None
    if real is None and not data.is_dir():
        print(f"calibrate_flow: no data directory at {data}", file=sys.stderr)
        return 2
    if args.write_params:
        write_params(data)
        print(PARAMS)
        return 0
    m = measure(
        data,
        btc_markets=args.btc_markets,
        all_markets=args.markets,
        steps=args.steps,
        seed=args.seed,
        naive=not args.no_naive,
        real=real,
    )
    text = tables(m)
    public = {k: v for k, v in m.items() if not k.startswith("_")}
    if args.report:
        args.report.mkdir(parents=True, exist_ok=True)
        (args.report / "flow.json").write_text(json.dumps(public, indent=1, default=str) + "\n")
        cmd = " ".join(["bench/calibrate_flow.py", *(argv if argv is not None else sys.argv[1:])])
        (args.report / "report.md").write_text(f"# Order flow: real against sim\n\nProduced by `{cmd}`.\n\n{text}\n")
        for p in plots(m, args.report):
            print(p, file=sys.stderr)
    if args.json:
        json.dump(public, sys.stdout, indent=1, default=str)
        print()
    else:
        print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
