"""Benchmark of `kalashi backtest` on the four shared KXBTC15M runs (median of N runs; one core).

    .venv/bin/python bench/bench_backtest.py [--runs 5] [--write-docs]

1. **Book events with the strategies on every changed market**: the four runs (290 296 recorded
   events, 287 088 of them orderbook deltas) merged by time and played through the live book code
   (:class:`~kalashi_cli.kalshi.replay.MergedReplaySource`); after every slice of recorded time, every
   market whose book changed in it goes through scan's prefilter and depth and the profile's
   strategies (:class:`~kalashi_cli.stages.analyze.Analyzer`), as the reactive path does. Slices of
   1 s, 100 ms and 10 ms (10 ms: 4.5 events per evaluation, a market re-evaluated about every 4th event). Loading (gzip +
   JSON parse of the files) is timed separately.
2. **The whole backtest** (``kalashi backtest`` minus the report): the run-loop's TradingLoop, one
   iteration per recorded second, the paper exchange with a 50 ms latency view, journal writes —
   on 1, 2 and 4 runs (how cost grows with events), with peak memory.
3. **Markets**: the same loop on the sim at 100, 1 000 and 10 000 markets (30 iterations each):
   the cost of an iteration against the number of markets listed.

Each measurement runs in a fresh process (its peak RSS is its own). ``--write-docs`` replaces the
"## Backtest" section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RUNS = ROOT.parent / "shared" / "data" / "kalshi-real" / "crypto_ws_kxbtc15m" / "runs"
COMMAND = ".venv/bin/python bench/bench_backtest.py --runs 5 --write-docs"


def _files(n: int) -> list[str]:
    files = sorted(str(p) for p in RUNS.glob("*.events.jsonl.gz"))
    if len(files) < 4:
        sys.exit(f"the four runs are not in {RUNS}")
    return files[:n]


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def one_strategies(slice_ms: int) -> dict[str, Any]:
    from kalashi_cli.domain import with_books
    from kalashi_cli.kalshi.books import BookChanges
    from kalashi_cli.kalshi.replay import MergedReplaySource
    from kalashi_cli.profile import load_profile
    from kalashi_cli.stages.analyze import Analyzer
    from kalashi_cli.stages.scan import Prefilter

    profile = load_profile("default")
    t0 = time.perf_counter()
    src = MergedReplaySource(_files(4), slice_ms=slice_ms)
    load_s = time.perf_counter() - t0
    changes = BookChanges()
    for c in src.children:
        c.store.changes = changes
    analyzer = Analyzer(profile)
    depth = profile.scan.depth_levels
    evaluations = opportunities = slices = 0
    t0 = time.perf_counter()
    while not src.exhausted:
        src.advance()
        slices += 1
        if not changes.pending():
            continue
        changed, _ = changes.take()
        now = src.now_ms()
        keep = Prefilter(profile, now)
        markets = []
        for m in src.books(list(changed)).values():
            if not keep(m):
                continue
            if depth and (len(m.yes_bids) > depth or len(m.no_bids) > depth):
                m = with_books(m, m.yes_bids[:depth], m.no_bids[:depth])
            markets.append(m)
        evaluations += len(markets)
        opportunities += sum(1 for _ in analyzer.analyze(markets, as_of_ms=now, src="replay"))
    run_s = time.perf_counter() - t0
    events = sum(c.position[0] for c in src.children)
    return {
        "events": events,
        "load_s": load_s,
        "run_s": run_s,
        "events_per_s": events / run_s,
        "evaluations": evaluations,
        "opportunities": opportunities,
        "slices": slices,
        "rss_mb": _rss_mb(),
    }


def one_backtest(n_files: int) -> dict[str, Any]:
    import tempfile

    from kalashi_cli.backtest.run import BacktestConfig, run_backtest
    from kalashi_cli.profile import load_profile

    cfg = BacktestConfig(sources=tuple(_files(n_files)), profile=load_profile("default"))
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as work:
        run = run_backtest(cfg, work)
        total = time.perf_counter() - t0
        run.broker.close()
        run.journal.close()
    return {
        "events": run.events,
        "iterations": run.iterations,
        "loop_s": run.wall_s,
        "total_s": total,
        "events_per_s_loop": run.events / run.wall_s,
        "events_per_s_total": run.events / total,
        "rss_mb": _rss_mb(),
    }


def one_sim(markets: int) -> dict[str, Any]:
    import tempfile

    from kalashi_cli.backtest.run import BacktestConfig, run_backtest
    from kalashi_cli.profile import load_profile

    cfg = BacktestConfig(sources=(f"sim:seed=3,markets={markets}",), profile=load_profile("default"), iterations=30)
    with tempfile.TemporaryDirectory() as work:
        run = run_backtest(cfg, work)
        run.broker.close()
        run.journal.close()
    return {
        "markets": markets,
        "iterations": run.iterations,
        "loop_s": run.wall_s,
        "ms_per_iteration": run.wall_s * 1000 / run.iterations,
        "rss_mb": _rss_mb(),
    }


def measure(mode: str, arg: int, runs: int) -> dict[str, Any]:
    """Median of ``runs`` fresh processes (each field's median; RSS: the largest)."""
    got = []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, __file__, "--one", mode, str(arg)], capture_output=True, text=True, check=True, cwd=ROOT
        )
        got.append(json.loads(out.stdout.strip().splitlines()[-1]))
    res = {k: statistics.median(g[k] for g in got) for k in got[0]}
    res["rss_mb"] = max(g["rss_mb"] for g in got)
    res["all"] = [g.get("events_per_s") or g.get("events_per_s_loop") or g.get("ms_per_iteration") for g in got]
    return res


def section(strat: dict[int, dict], full: dict[int, dict], sim: dict[int, dict], runs: int) -> str:
    lines = [
        "## Backtest",
        "",
        f"`{COMMAND}` — median of {runs} runs, each in a fresh process, one core "
        f"(Python {platform.python_version()}). Data: the four whole KXBTC15M runs "
        "(`../shared/data/kalshi-real/crypto_ws_kxbtc15m/runs`, 290 296 recorded events, 287 088 of them "
        "orderbook deltas, 8 market windows) merged by time.",
        "",
        "**Book events with the strategies evaluated on every changed market** (the live book code, then "
        "scan's prefilter and depth and the default profile's strategies on each market whose book changed in "
        "the slice; loading the files is separate):",
        "",
        "| slice | events/s (median) | runs | evaluations | events per evaluation | load (gzip + parse) | peak RSS |",
        "|---|---|---|---|---|---|---|",
    ]
    for sl, r in strat.items():
        lines.append(
            f"| {sl} ms | **{r['events_per_s']:,.0f}** | {', '.join(f'{x:,.0f}' for x in r['all'])} | "
            f"{r['evaluations']:,.0f} | {r['events'] / max(1, r['evaluations']):.1f} | {r['load_s']:.2f} s | "
            f"{r['rss_mb']:.0f} MB |"
        )
    lines += [
        "",
        "**The whole backtest** (`kalashi backtest` without writing the report: the run-loop's TradingLoop, one "
        "iteration per recorded second, the paper exchange meeting orders 50 ms late, the journal):",
        "",
        "| runs played | events | iterations | loop | events/s (loop) | load + loop | events/s (all) | peak RSS |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for n, r in full.items():
        lines.append(
            f"| {n} | {r['events']:,.0f} | {r['iterations']:,.0f} | {r['loop_s']:.2f} s | "
            f"**{r['events_per_s_loop']:,.0f}** | {r['total_s']:.2f} s | {r['events_per_s_total']:,.0f} | "
            f"{r['rss_mb']:.0f} MB |"
        )
    lines += [
        "",
        "**Markets** (the same loop on the sim, 30 iterations):",
        "",
        "| markets | ms per iteration | peak RSS |",
        "|---|---|---|",
    ]
    for n, r in sim.items():
        lines.append(f"| {n:,} | {r['ms_per_iteration']:.1f} | {r['rss_mb']:.0f} MB |")
    fine, coarse = strat[min(strat)], strat[max(strat)]
    per_eval = (fine["events"] / fine["events_per_s"] - coarse["events"] / coarse["events_per_s"]) / max(
        1, fine["evaluations"] - coarse["evaluations"]
    )
    per_event = coarse["events"] / coarse["events_per_s"] / coarse["events"]
    big = full[max(full)]
    per_iter = (big["loop_s"] - big["events"] / coarse["events_per_s"]) / big["iterations"]
    m_lo, m_hi = sim[min(sim)], sim[max(sim)]
    per_market = (m_hi["ms_per_iteration"] - m_lo["ms_per_iteration"]) / (max(sim) - min(sim))
    lines += [
        "",
        f"How the cost grows: the book work is linear in events (≈ {per_event * 1e6:.1f} µs an event, the "
        f"strategies included at 1 s slices); each further evaluation of a changed market costs ≈ "
        f"{per_eval * 1e6:.0f} µs (the market built from the book, the prefilter, the strategies), so finer "
        "slices cost in proportion to their evaluations. The whole backtest adds the loop's fixed cost per "
        f"iteration — journal writes, the portfolio fold, the paper exchange — ≈ {per_iter * 1000:.1f} ms per "
        "recorded second on these runs, which is what holds it to the events/s above; on the sim an "
        f"iteration grows linearly with the markets listed (≈ {per_market:.3f} ms a market). Loading keeps "
        f"every event in memory (peak {big['rss_mb']:.0f} MB for the four runs) and takes "
        f"{coarse['load_s']:.1f} s of gzip + JSON parsing; a backtest parses each file once (the latency "
        "view shares the events). Not done: streaming the files instead of loading them whole, and "
        "evaluating strategies per event inside the loop (the loop iterates per slice, like run-loop).",
    ]
    return "\n".join(lines) + "\n"


def write_docs(text: str) -> None:
    path = ROOT / "docs" / "benchmarks.md"
    doc = path.read_text()
    pattern = re.compile(r"^## Backtest\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(doc):
        doc = pattern.sub(text.rstrip() + "\n\n", doc)
    else:
        doc = doc.rstrip() + "\n\n" + text.rstrip() + "\n"
    path.write_text(doc.rstrip() + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--write-docs", action="store_true")
    ap.add_argument("--one", nargs=2, metavar=("MODE", "ARG"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        mode, arg = args.one[0], int(args.one[1])
        fn = {"strategies": one_strategies, "backtest": one_backtest, "sim": one_sim}[mode]
        print(json.dumps(fn(arg)))
        return
    strat = {sl: measure("strategies", sl, args.runs) for sl in (1000, 100, 10)}
    full = {n: measure("backtest", n, max(3, args.runs // 2)) for n in (1, 2, 4)}
    sim = {n: measure("sim", n, 3) for n in (100, 1000, 10000)}
    text = section(strat, full, sim, args.runs)
    print(text)
    if args.write_docs:
        write_docs(text)


if __name__ == "__main__":
    main()
