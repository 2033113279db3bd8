"""Throughput of the matching engine on a realistic event mix, in-process, one core.

A deterministic stream (seeded) is generated first and not timed: per market a book that
random-walks around a mid price, and a mix of

* orderbook deltas (the bulk of a Kalshi WebSocket feed),
* public trades at the touch (some of which fill resting account orders),
* account order submits (GTC makers near the touch, IOC takers that walk the book),
* cancels of resting account orders,
* full snapshots (a REST poll or a reconnect).

Then the stream is applied to a fresh engine ``--runs`` times; the median events/s is the
figure reported in docs/benchmarks.md ("## Matching engine").

    .venv/bin/python bench/bench_engine.py
    .venv/bin/python bench/bench_engine.py --events 500000 --runs 7 --subscribe
    .venv/bin/python bench/bench_engine.py --profile      # cProfile top functions of one run
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import sys
import time
from dataclasses import dataclass

from kalashi_cli.domain import OrderIntent, Trade
from kalashi_cli.errors import ExchangeError, NotFound
from kalashi_cli.money import ONE_DOLLAR
from kalashi_cli.sim.matching import EventLog, MatchingEngine

ACCOUNTS = ("mm", "taker", "slow")
TICK = 100  # $0.01 books


@dataclass(frozen=True, slots=True)
class Mix:
    delta: float = 0.80
    trade: float = 0.08
    submit: float = 0.08
    cancel: float = 0.035
    snapshot: float = 0.005


def build_stream(n: int, markets: int, seed: int, mix: Mix) -> list[tuple]:
    """Return ``n`` events as tuples the runner dispatches on (kind first)."""
    rng = random.Random(seed)
    tickers = [f"BENCH-{i:03d}" for i in range(markets)]
    mids = {t: rng.randrange(20, 80) * TICK for t in tickers}
    books: dict[str, tuple[dict[int, int], dict[int, int]]] = {}
    events: list[tuple] = []
    for t in tickers:
        books[t] = _fresh_book(rng, mids[t])
    ts = 0
    n_orders = 0
    c_delta = mix.delta
    c_trade = c_delta + mix.trade
    c_submit = c_trade + mix.submit
    c_cancel = c_submit + mix.cancel
    for _ in range(n):
        ts += rng.randint(0, 3)
        t = tickers[rng.randrange(markets)]
        yes, no = books[t]
        r = rng.random()
        if r < c_delta:
            mid = mids[t]
            if rng.random() < 0.5:
                p = mid - TICK * rng.randint(1, 8)
                side, book = "yes", yes
            else:
                p = ONE_DOLLAR - mid - TICK * rng.randint(1, 8)  # NO bid price
                side, book = "no", no
            if p <= 0:
                continue
            change = rng.randint(-book.get(p, 0), 400) or 1
            book[p] = book.get(p, 0) + change
            events.append(("d", t, side, p, change, ts))
        elif r < c_trade:
            taker_buys = rng.random() < 0.5
            price = mids[t] + TICK if taker_buys else mids[t] - TICK
            events.append(("t", Trade(f"x{ts}", t, price, rng.randint(100, 3000), "bid" if taker_buys else "ask", ts)))
        elif r < c_submit:
            n_orders += 1
            acct = ACCOUNTS[rng.randrange(len(ACCOUNTS))]
            side = "bid" if rng.random() < 0.5 else "ask"
            if rng.random() < 0.6:  # a maker quote near the touch
                off = rng.randint(1, 4) * TICK
                price = mids[t] - off if side == "bid" else mids[t] + off
                tif = "good_till_canceled"
            else:  # a taker that crosses a few levels
                off = rng.randint(1, 4) * TICK
                price = mids[t] + off if side == "bid" else mids[t] - off
                tif = "immediate_or_cancel"
            price = min(max(price, TICK), ONE_DOLLAR - TICK)
            events.append(
                (
                    "s",
                    acct,
                    OrderIntent(
                        f"b{n_orders}",
                        t,
                        side,
                        price,
                        rng.randint(100, 2000),  # type: ignore[arg-type]
                        time_in_force=tif,
                    ),
                )
            )  # type: ignore[arg-type]
        elif r < c_cancel:
            events.append(("c", ACCOUNTS[rng.randrange(len(ACCOUNTS))], rng.random()))
        else:
            mids[t] = min(max(mids[t] + TICK * rng.randint(-2, 2), 10 * TICK), 90 * TICK)
            books[t] = _fresh_book(rng, mids[t])
            yes, no = books[t]
            events.append(("n", t, tuple(yes.items()), tuple(no.items()), ts))
    return events


def _fresh_book(rng: random.Random, mid: int) -> tuple[dict[int, int], dict[int, int]]:
    yes = {mid - TICK * k: rng.randint(100, 5000) for k in range(1, 9)}
    no = {ONE_DOLLAR - mid - TICK * k: rng.randint(100, 5000) for k in range(1, 9)}
    return yes, no


def fresh_engine(markets: int, seed: int, stream: list[tuple]) -> MatchingEngine:
    e = MatchingEngine(now_ms=0)
    for i in range(markets):
        e.add_market(f"BENCH-{i:03d}", fee_type="quadratic_with_maker_fees", event_ticker="BENCH")
    for a in ACCOUNTS:
        e.open_account(a, 10**15)  # deep pockets: the mix should trade, not bounce off balance checks
    rng = random.Random(seed + 1)
    for i in range(markets):
        yes, no = _fresh_book(rng, rng.randrange(20, 80) * TICK)
        e.apply_snapshot(f"BENCH-{i:03d}", yes.items(), no.items())
    return e


def run(stream: list[tuple], markets: int, seed: int, subscribe: bool) -> tuple[float, float, int, dict[str, int]]:
    """Apply the stream to a fresh engine; return (wall seconds, CPU seconds, events, counters)."""
    e = fresh_engine(markets, seed, stream)
    log = EventLog()
    if subscribe:
        e.subscribe(log)
    apply_delta, apply_trade, apply_snapshot = e.apply_delta, e.apply_trade, e.apply_snapshot
    submit, cancel, orders = e.submit, e.cancel, e.orders
    rejected = 0
    live: dict[str, list[str]] = {a: [] for a in ACCOUNTS}  # ids the runner saw rest (may have filled since)
    t0 = time.perf_counter()
    c0 = time.process_time()
    for ev in stream:
        kind = ev[0]
        if kind == "d":
            apply_delta(ev[1], ev[2], ev[3], ev[4], ts_ms=ev[5])
        elif kind == "t":
            apply_trade(ev[1])
        elif kind == "s":
            try:
                ack = submit(ev[1], ev[2])
            except ExchangeError:
                rejected += 1
            else:
                if ack.status == "resting":
                    live[ev[1]].append(ack.order_id)
        elif kind == "c":
            ids = live[ev[1]]
            if ids:
                oid = ids.pop(int(ev[2] * len(ids)))
                try:
                    cancel(ev[1], oid)
                except NotFound:  # filled meanwhile: a real client sees the same 404
                    pass
        else:
            apply_snapshot(ev[1], ev[2], ev[3], ts_ms=ev[4])
        if subscribe and len(log.events) > 10_000:
            log.drain()
    dt = time.perf_counter() - t0
    cpu = time.process_time() - c0
    e.audit()
    counters = {k: sum(1 for ev in stream if ev[0] == k) for k in "dtscn"}
    counters["rejected"] = rejected
    counters["fills"] = sum(len(e.fills(a)) for a in ACCOUNTS)
    counters["resting_at_end"] = sum(len(orders(a, status="resting")) for a in ACCOUNTS)
    return dt, cpu, len(stream), counters


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--events", type=int, default=300_000)
    ap.add_argument("--markets", type=int, default=50)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--subscribe", action="store_true", help="also build every event for a subscriber")
    ap.add_argument("--profile", action="store_true", help="profile one run and print the top functions")
    ap.add_argument("--only", choices=["delta", "trade", "submit"], help="time one kind of event alone")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    stream = build_stream(args.events, args.markets, args.seed, Mix())
    if args.only:
        stream = [ev for ev in stream if ev[0] == args.only[0]]
    if args.profile:
        import cProfile
        import pstats

        prof = cProfile.Profile()
        prof.enable()
        run(stream, args.markets, args.seed, args.subscribe)
        prof.disable()
        pstats.Stats(prof).sort_stats("tottime").print_stats(25)
        return 0
    rates, cpu_rates = [], []
    counters: dict[str, int] = {}
    for _ in range(args.runs):
        dt, cpu, n, counters = run(stream, args.markets, args.seed, args.subscribe)
        rates.append(n / dt)
        cpu_rates.append(n / cpu)
    result = {
        "events": len(stream),
        "markets": args.markets,
        "runs": args.runs,
        "subscribe": args.subscribe,
        "median_events_per_s": round(statistics.median(rates)),
        "min": round(min(rates)),
        "max": round(max(rates)),
        "median_events_per_cpu_s": round(statistics.median(cpu_rates)),
        "mix": counters,
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"matching engine: {result['median_events_per_s']:,} events/s median of {args.runs} runs "
            f"(min {result['min']:,}, max {result['max']:,}); {len(stream):,} events, {args.markets} markets, "
            f"subscriber={'on' if args.subscribe else 'off'}; per CPU-second: "
            f"{result['median_events_per_cpu_s']:,}"
        )
        print(f"mix: {counters}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
