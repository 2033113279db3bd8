"""Pipeline benchmarks (issue: the trading pipeline).

    .venv/bin/python bench/bench_pipeline.py            # everything, markdown on stdout
    .venv/bin/python bench/bench_pipeline.py --quick    # 1 000 / 10 000 only, 3 runs

Measures (median of ≥5 runs unless --quick):

* in-process scan → analyze → correlate on the sim at 1 000 / 10 000 / 100 000 markets
  (target ≥ 100 000 markets/s);
* the same through real pipes, ``kalashi scan | kalashi analyze | kalashi correlate``
  (target ≥ 20 000 markets/s);
* start-up of ``kalashi --help`` and ``kalashi analyze`` on empty input (target < 0.3 s);
* peak RSS of ``kalashi run-loop`` at 100 000 markets (target < 500 MB).

Timings include building the sim's books, which is part of what scan does.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KALASHI = str(Path(sys.executable).with_name("kalashi"))


def in_process(n: int) -> tuple[float, int, int]:
    from kalashi_cli.journal import Journal
    from kalashi_cli.profile import load_profile, money
    from kalashi_cli.sim.source import parse_sim_spec
    from kalashi_cli.stages.analyze import Analyzer
    from kalashi_cli.stages.correlate import Correlator
    from kalashi_cli.stages.portfolio import load_portfolio
    from kalashi_cli.stages.scan import ScanStats, scan

    prof = load_profile("default")
    with tempfile.TemporaryDirectory() as d:
        j = Journal(Path(d) / "j.sqlite")
        t0 = time.perf_counter()
        src = parse_sim_spec(f"sim:seed=1,markets={n}")
        stats = ScanStats()
        markets = scan(src, prof, stats=stats)
        opps = Analyzer(prof).analyze(markets, as_of_ms=src.now_ms(), src=src.describe())
        out = sum(1 for _ in Correlator(prof, load_portfolio(j, money(prof.paper.starting_balance))).correlate(opps))
        dt = time.perf_counter() - t0
        j.close()
    return dt, stats.listed, out


def steady(n: int, runs: int) -> float:
    """Median seconds of scan → analyze → correlate on an already-built sim, one step later each time.

    This is what every run-loop iteration after the first does: the universe's layout is
    built once per process (the cold start the in-process figure includes).
    """
    from kalashi_cli.journal import Journal
    from kalashi_cli.profile import load_profile, money
    from kalashi_cli.sim.source import parse_sim_spec
    from kalashi_cli.stages.analyze import Analyzer
    from kalashi_cli.stages.correlate import Correlator
    from kalashi_cli.stages.portfolio import load_portfolio
    from kalashi_cli.stages.scan import ScanStats, scan

    prof = load_profile("default")
    with tempfile.TemporaryDirectory() as d:
        j = Journal(Path(d) / "j.sqlite")
        pf = load_portfolio(j, money(prof.paper.starting_balance))
        src = parse_sim_spec(f"sim:seed=1,markets={n}")
        sum(1 for _ in scan(src, prof))
        times = []
        for _ in range(runs):
            src.advance()
            t0 = time.perf_counter()
            opps = Analyzer(prof).analyze(scan(src, prof, stats=ScanStats()), as_of_ms=src.now_ms(), src="bench")
            sum(1 for _ in Correlator(prof, pf).correlate(opps))
            times.append(time.perf_counter() - t0)
        j.close()
    return statistics.median(times)


def piped(n: int) -> float:
    env = {**os.environ, "KALASHI_HOME": tempfile.mkdtemp()}
    cmd = (
        f"{KALASHI} scan --source sim:seed=1,markets={n} --quiet | {KALASHI} analyze --quiet | "
        f"{KALASHI} correlate --quiet > /dev/null"
    )
    t0 = time.perf_counter()
    subprocess.run(cmd, shell=True, check=True, env=env, executable="/bin/bash")
    return time.perf_counter() - t0


def startup(args: list[str], stdin: bytes | None = None) -> float:
    env = {**os.environ, "KALASHI_HOME": tempfile.mkdtemp()}
    t0 = time.perf_counter()
    subprocess.run(
        [KALASHI, *args], input=stdin if stdin is not None else b"", stdout=subprocess.DEVNULL, check=True, env=env
    )
    return time.perf_counter() - t0


def peak_rss_run_loop(n: int, iterations: int = 3) -> tuple[float, float]:
    env = {**os.environ, "KALASHI_HOME": tempfile.mkdtemp()}
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    subprocess.run(
        [
            KALASHI,
            "run-loop",
            "--paper",
            "--source",
            f"sim:seed=1,markets={n}",
            "--iterations",
            str(iterations),
            "--interval",
            "0",
            "--quiet",
        ],
        stdout=subprocess.DEVNULL,
        check=True,
        env=env,
    )
    dt = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(before, after) / 1024, dt / iterations  # ru_maxrss is KiB on Linux


def median(fn, runs: int) -> tuple[float, list[float]]:  # noqa: ANN001
    xs = [fn() for _ in range(runs)]
    return statistics.median(xs), xs


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--runs", type=int, default=5)
    a = ap.parse_args()
    runs = 3 if a.quick else a.runs
    sizes = [1_000, 10_000] if a.quick else [1_000, 10_000, 100_000]
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}; median of {runs} runs\n")
    print("| markets | in-process s | markets/s | through pipes s | markets/s |")
    print("|---:|---:|---:|---:|---:|")
    for n in sizes:
        t_in, _ = median(lambda n=n: in_process(n)[0], runs)
        t_pipe, _ = median(lambda n=n: piped(n), runs)
        print(f"| {n:,} | {t_in:.3f} | {n / t_in:,.0f} | {t_pipe:.3f} | {n / t_pipe:,.0f} |")
    print("\n| markets | steady state (sim built, next step) s | markets/s |")
    print("|---:|---:|---:|")
    for n in sizes[1:]:
        t_st = steady(n, runs)
        print(f"| {n:,} | {t_st:.3f} | {n / t_st:,.0f} |")
    t_help, _ = median(lambda: startup(["--help"]), max(runs, 7))
    t_an, _ = median(lambda: startup(["analyze", "--quiet"]), max(runs, 7))
    print(f"\nstart-up: `kalashi --help` {t_help:.3f} s, `kalashi analyze` (empty input) {t_an:.3f} s")
    if not a.quick:
        rss, per_iter = peak_rss_run_loop(100_000)
        print(f"run-loop at 100 000 markets: peak RSS {rss:.0f} MB, {per_iter:.2f} s per iteration")


if __name__ == "__main__":
    main()
