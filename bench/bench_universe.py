"""Benchmark the sim universe (``--source sim``): build time, per-step time, memory.

    .venv/bin/python bench/bench_universe.py                      # 2 000, 20 000, 100 000 markets
    .venv/bin/python bench/bench_universe.py --markets 100000 --runs 5

For each size it reports medians over ``--runs`` repetitions:

* ``cold``: a fresh interpreter that imports the sim, lays out the universe and builds its
  first step (what every process of a shell pipe pays) — measured in subprocesses;
* ``warm step``: ``markets_at(s)`` for consecutive steps in one process (what ``run-loop``
  pays per iteration), and the numeric core alone;
* ``advance``: ``SimSource.advance()`` (trades and settlements between two steps);
* ``market_at``: one ticker from a fresh universe at a step nobody computed yet (``order``
  at the end of a pipe);
* ``memory``: Python heap (tracemalloc) with one step of markets held, and peak RSS.

Prints a Markdown table for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_COLD = """
import json, resource, sys, time
t0 = time.perf_counter()
from kalashi_cli.sim.universe import SimUniverse
t1 = time.perf_counter()
u = SimUniverse(seed=0, markets={n})
t2 = time.perf_counter()
ms = u.markets_at(0)
t3 = time.perf_counter()
print(json.dumps({{"import": t1 - t0, "layout": t2 - t1, "first_step": t3 - t2, "total": t3 - t0,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "n": len(ms)}}))
"""

_MEMORY = """
import json, tracemalloc
tracemalloc.start()
from kalashi_cli.sim.universe import SimUniverse
u = SimUniverse(seed=0, markets={n})
ms = u.markets_at(0)
ms = None
ms = u.markets_at(1)
current, peak = tracemalloc.get_traced_memory()
print(json.dumps({{"heap_mb": current / 1e6, "peak_mb": peak / 1e6}}))
"""

_PICK = """
import json, time
from kalashi_cli.sim.universe import SimUniverse
u = SimUniverse(seed=0, markets={n})
tickers = [m.ticker for m in u.markets_at(7)][:: max(1, {n} // 50)]
fresh = SimUniverse(seed=0, markets={n})
t0 = time.perf_counter()
first = fresh.market_at(tickers[0], 7)
t1 = time.perf_counter()
for t in tickers[1:]:
    fresh.market_at(t, 7)
t2 = time.perf_counter()
print(json.dumps({{"first": t1 - t0, "next": (t2 - t1) / max(1, len(tickers) - 1)}}))
"""


def run_py(code: str) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def median_of(runs: list[dict[str, float]], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def bench(n: int, runs: int, steps: int) -> dict[str, float]:
    sys.path.insert(0, str(ROOT))
    from kalashi_cli.sim import universe_core as core
    from kalashi_cli.sim.source import SimSource
    from kalashi_cli.sim.universe import SimUniverse

    cold = [run_py(_COLD.format(n=n)) for _ in range(runs)]
    memory = run_py(_MEMORY.format(n=n))
    pick = [run_py(_PICK.format(n=n)) for _ in range(max(1, runs // 2))]

    u = SimUniverse(seed=0, markets=n)
    u.markets_at(0)
    warm = []
    warm_cpu = []
    for s in range(1, steps + 1):
        t0, c0 = time.perf_counter(), time.process_time()
        u.markets_at(s)
        warm.append(time.perf_counter() - t0)
        warm_cpu.append(time.process_time() - c0)
    cores = []
    for s in range(100, 100 + steps):
        t0 = time.perf_counter()
        core.compute(u._lay, s)
        cores.append(time.perf_counter() - t0)
    src = SimSource(seed=0, markets=n, step=200)
    list(src.list_markets())
    adv = []
    trades = settlements = 0
    for _ in range(steps):
        t0 = time.perf_counter()
        ev = src.advance()
        adv.append(time.perf_counter() - t0)
        trades += len(ev.trades)
        settlements += len(ev.settlements)
        t0 = time.perf_counter()
        list(src.list_markets())  # same step: cached, as in the loop (advance, then scan)
    warm_med = statistics.median(warm)
    return {
        "markets": n,
        "cold_total": median_of(cold, "total"),
        "cold_import": median_of(cold, "import"),
        "cold_layout": median_of(cold, "layout"),
        "cold_first_step": median_of(cold, "first_step"),
        "cold_rss_mb": median_of(cold, "rss_mb"),
        "warm_step": warm_med,
        "warm_min": min(warm),
        "warm_cpu": statistics.median(warm_cpu),
        "markets_per_s": n / warm_med,
        "core": statistics.median(cores),
        "advance": statistics.median(adv),
        "trades_per_step": trades / steps,
        "settlements_per_step": settlements / steps,
        "market_at_first": median_of(pick, "first"),
        "market_at_next": median_of(pick, "next"),
        "heap_mb": memory["heap_mb"],
        "heap_peak_mb": memory["peak_mb"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Benchmark the sim universe.")
    parser.add_argument("--markets", default="2000,20000,100000", help="comma-separated universe sizes")
    parser.add_argument("--runs", type=int, default=5, help="cold runs per size (median), >= 5 for the docs")
    parser.add_argument("--steps", type=int, default=7, help="warm steps per size (median)")
    parser.add_argument("--json", action="store_true", help="print JSON rows instead of a table")
    args = parser.parse_args(argv)
    rows = [bench(int(n), args.runs, args.steps) for n in args.markets.split(",")]
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    import numpy

    print(
        f"Python {platform.python_version()}, numpy {numpy.__version__}, {platform.machine()}, "
        f"{platform.processor() or 'cpu ?'}; medians of {args.runs} cold runs / {args.steps} warm steps"
    )
    print()
    print(
        "| markets | cold: import + layout + first step | warm step (markets_at), wall / CPU | markets/s "
        "| numeric core | advance() | trades/step | market_at (fresh, then next) | heap, one step held "
        "| peak RSS (cold) |"
    )
    print("|---:|---|---:|---:|---:|---:|---:|---|---:|---:|")
    for r in rows:
        print(
            f"| {r['markets']:,} | {r['cold_total']:.2f} s ({r['cold_import']:.2f} + {r['cold_layout']:.2f} + "
            f"{r['cold_first_step']:.2f}) | {r['warm_step'] * 1000:.0f} / {r['warm_cpu'] * 1000:.0f} ms "
            f"| {r['markets_per_s']:,.0f} "
            f"| {r['core'] * 1000:.0f} ms | {r['advance'] * 1000:.0f} ms | {r['trades_per_step']:,.0f} "
            f"| {r['market_at_first'] * 1000:.0f} ms, then {r['market_at_next'] * 1000:.1f} ms "
            f"| {r['heap_mb']:.0f} MB | {r['cold_rss_mb']:.0f} MB |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
