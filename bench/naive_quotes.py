"""Naive passive quoting on the sim, through the real matching engine: how much adverse selection?

A strategy quotes each step on a sample of sim markets — ``join`` rests at the best bid (and
best ask with ``--sides both``), ``improve`` rests one tick inside the spread when there is room
— through :class:`~kalashi_cli.sim.matching.MatchingEngine` fed exactly as the paper broker feeds
it (the step's book, then the public prints, then settlements). Every passive fill is marked
to the mid 1, 6 and 30 steps later (10 s, 1 min, 5 min) and, where the market settled during
the run, to its payout after fees.

    .venv/bin/python bench/naive_quotes.py --strategy join --markets 3000 --steps 300
    .venv/bin/python bench/naive_quotes.py --strategy improve --sides both

A quote that is not filled stays where it is while its price is still the strategy's price
(it keeps its queue position) and is replaced otherwise. Research code: floats for statistics.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kalashi_cli.domain import Market, OrderIntent  # noqa: E402
from kalashi_cli.money import COUNT_SCALE, ONE_DOLLAR, tick_above, tick_below  # noqa: E402
from kalashi_cli.sim.matching import MatchingEngine  # noqa: E402
from kalashi_cli.sim.universe import SimUniverse  # noqa: E402

HORIZONS = (1, 6, 30)


@dataclass(frozen=True)
class PassiveFill:
    ticker: str
    step: int
    side: str  # bid (bought YES) | ask (sold YES)
    price: int  # 1/10 000 $
    count: int  # 1/100 contract
    fee: int  # 1/1 000 000 $
    hidden: float | None  # the hidden probability at the fill's step


@dataclass
class Run:
    """A naive quoting run: its passive fills and the quoted markets' mids by (ticker, step)."""

    fills: list[PassiveFill]
    mids: dict[tuple[str, int], float]
    universe: SimUniverse
    last_step: int


def _quote_price(m: Market, side: str, strategy: str, min_spread: int = 0) -> int | None:
    bid, ask = m.yes_bid, m.yes_ask
    if bid is None or ask is None or ask - bid < min_spread:
        return None
    if strategy == "join":
        return bid if side == "bid" else ask
    # improve: one tick inside, only when that still leaves the other side untouched
    p = tick_above(bid, m.price_ranges) if side == "bid" else tick_below(ask, m.price_ranges)
    if p is None or not bid < p < ask:
        return None
    return p


def run(
    strategy: str = "join",
    *,
    markets: int = 3000,
    steps: int = 300,
    seed: int = 0,
    sample: int = 300,
    sides: tuple[str, ...] = ("bid",),
    size: int = 10,
    start: int = 1,
    min_spread: int = 0,
) -> Run:
    """Quote ``size`` contracts on ``sample`` markets for ``steps`` steps; return the passive fills.

    ``min_spread`` (price units): quote only where the book is at least that wide (spread
    capture's ``min_spread``: $0.04 = 400). The walk goes on 30 steps after quoting stops, so
    every fill has its 5-minute mid.
    """
    u = SimUniverse(seed=seed, markets=markets)
    eng = MatchingEngine(now_ms=u.time_ms(start), id_prefix="n")
    eng.open_account("me", 10**15)
    chosen: set[str] = set()
    resting: dict[tuple[str, str], tuple[str, int]] = {}  # (ticker, side) → (order id, price)
    fills: list[PassiveFill] = []
    mids: dict[tuple[str, int], float] = {}
    watched: set[str] = set()
    seen_fills = 0
    n = 0
    end = start + steps
    for s in range(start, end + max(HORIZONS)):
        now = u.time_ms(s)
        listing = u.markets_at(s)
        for m in listing:
            if m.ticker in watched and m.status == "active" and m.yes_bid is not None and m.yes_ask is not None:
                mids[(m.ticker, s)] = (m.yes_bid + m.yes_ask) / 2
        if s >= end:
            continue
        if len(chosen) < sample:  # take new markets as old ones close (a steady sample)
            live = [m for m in listing if m.status == "active" and m.ticker not in chosen and m.volume > 0]
            for m in live[:: max(1, len(live) // max(1, sample - len(chosen)))][: sample - len(chosen)]:
                chosen.add(m.ticker)
                watched.add(m.ticker)
                if m.yes_bid is not None and m.yes_ask is not None:
                    mids[(m.ticker, s)] = (m.yes_bid + m.yes_ask) / 2
        books = {m.ticker: m for m in listing if m.ticker in chosen}
        for m in books.values():
            eng.apply_market(m, ts_ms=now)
        for tr in u.trades_between(s - 1, s):
            if tr.ticker in chosen and eng.has_market(tr.ticker):
                eng.apply_trade(tr)
        for st in u.settlements_between(s - 1, s):
            if st.ticker in chosen and eng.has_market(st.ticker):
                eng.settle(st.ticker, st.result or "no", st.value)
                chosen.discard(st.ticker)
        eng.advance_to(now)
        all_fills = eng.fills("me")
        for f in all_fills[seen_fills:]:
            if not f.is_taker:
                fills.append(
                    PassiveFill(f.ticker, s, f.side, f.price, f.count, f.fee, u.hidden_probability(f.ticker, s))
                )
        seen_fills = len(all_fills)
        # re-quote
        for t in list(chosen):
            m = books.get(t)
            for side in sides:
                key = (t, side)
                want = _quote_price(m, side, strategy, min_spread) if m is not None and m.status == "active" else None
                have = resting.get(key)
                if have is not None:
                    order = next(
                        (o for o in eng.orders("me", ticker=t, status="resting") if o.order_id == have[0]), None
                    )
                    if order is not None and want == have[1]:
                        continue  # same price: keep the queue position
                    if order is not None:
                        eng.cancel("me", have[0])
                    resting.pop(key, None)
                if want is None:
                    continue
                n += 1
                intent = OrderIntent(
                    f"q{n}",
                    t,
                    side,
                    want,
                    size * COUNT_SCALE,  # type: ignore[arg-type]
                    time_in_force="good_till_canceled",
                    post_only=True,
                )
                try:
                    ack = eng.submit("me", intent)
                except Exception:  # noqa: BLE001 - a refused quote is simply not placed
                    continue
                if ack.status == "resting":
                    resting[key] = (ack.order_id, want)
    return Run(fills, mids, u, end + max(HORIZONS) - 1)


def evaluate(run: Run, settle_within: int | None = 5000) -> dict[str, Any]:
    """Markouts (cents per contract, in the fill's favour) by horizon, expected P&L against the hidden
    probability at the fill (after fees) and P&L to settlement after fees, for fills whose market
    settled within ``settle_within`` steps of the run's end (None: skip settlement)."""
    fills = run.fills
    out: dict[str, Any] = {"fills": len(fills), "contracts": sum(f.count for f in fills) / COUNT_SCALE}
    for h in HORIZONS:
        marks: list[float] = []
        for f in fills:
            mid = run.mids.get((f.ticker, f.step + h))
            if mid is not None:
                marks.append((mid - f.price if f.side == "bid" else f.price - mid) / 100)
        out[f"markout_{h * 10}s_cents"] = statistics.fmean(marks) if marks else math.nan
        out[f"markout_{h * 10}s_se"] = statistics.stdev(marks) / math.sqrt(len(marks)) if len(marks) > 1 else math.nan
        out[f"markout_{h * 10}s_n"] = len(marks)

    def per_contract(value: float, f: PassiveFill) -> float:  # cents per contract in the fill's favour, fee paid
        per = (value - f.price) if f.side == "bid" else (f.price - value)
        return per / 100 - f.fee / f.count / 100

    expected = [per_contract(f.hidden * ONE_DOLLAR, f) for f in fills if f.hidden is not None and f.count]
    out["expected_pnl_cents_per_contract"] = statistics.fmean(expected) if expected else math.nan
    out["expected_pnl_se"] = statistics.stdev(expected) / math.sqrt(len(expected)) if len(expected) > 1 else math.nan
    pnl: list[float] = []
    for f in fills if settle_within is not None else ():
        st = run.universe.settlement_for(f.ticker, run.last_step + settle_within)
        if st is not None and f.count:
            pnl.append(per_contract(ONE_DOLLAR if st.result == "yes" else 0, f))
    out["settled_fills"] = len(pnl)
    out["pnl_to_settlement_cents_per_contract"] = statistics.fmean(pnl) if pnl else math.nan
    out["pnl_to_settlement_se"] = statistics.stdev(pnl) / math.sqrt(len(pnl)) if len(pnl) > 1 else math.nan
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--strategy", choices=("join", "improve"), default="join")
    ap.add_argument("--sides", choices=("bid", "both"), default="bid")
    ap.add_argument("--markets", type=int, default=3000)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--sample", type=int, default=300, help="markets quoted at a time")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--min-spread",
        type=int,
        default=0,
        metavar="UNITS",
        help="quote only books at least this wide, in $0.0001 (spread capture: 400)",
    )
    args = ap.parse_args(argv)
    sides = ("bid", "ask") if args.sides == "both" else ("bid",)
    r = run(
        args.strategy,
        markets=args.markets,
        steps=args.steps,
        seed=args.seed,
        sample=args.sample,
        sides=sides,
        min_spread=args.min_spread,
    )
    json.dump(evaluate(r), sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
