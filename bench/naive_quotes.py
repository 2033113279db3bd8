"""Naive passive quoting on the sim, through the real matching engine: how much adverse selection?

A strategy quotes each step on a sample of sim markets — ``join`` rests at the best bid (and
best ask with ``--sides both``), ``improve`` rests one tick inside the spread when there is room
— through :class:`~kalashi_cli.sim.engine.MatchingEngine` fed exactly as the paper broker feeds
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
from kalashi_cli.sim.engine import MatchingEngine  # noqa: E402
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


def run(strategy: str = "join", *, markets: int = 3000, steps: int = 300, seed: int = 0, sample: int = 300,
        sides: tuple[str, ...] = ("bid",), size: int = 10, start: int = 1,
        min_spread: int = 0) -> tuple[list[PassiveFill], SimUniverse]:
    """Quote ``size`` contracts on ``sample`` markets for ``steps`` steps; return the passive fills.

    ``min_spread`` (price units): quote only where the book is at least that wide (spread
    capture's ``min_spread``: $0.04 = 400).
    """
    u = SimUniverse(seed=seed, markets=markets)
    eng = MatchingEngine(now_ms=u.time_ms(start), id_prefix="n")
    eng.open_account("me", 10**15)
    chosen: set[str] = set()
    resting: dict[tuple[str, str], tuple[str, int]] = {}  # (ticker, side) → (order id, price)
    fills: list[PassiveFill] = []
    seen_fills = 0
    n = 0
    for s in range(start, start + steps):
        now = u.time_ms(s)
        listing = u.markets_at(s)
        if len(chosen) < sample:  # take new markets as old ones close (a steady sample)
            live = [m for m in listing if m.status == "active" and m.ticker not in chosen and m.volume > 0]
            for m in live[:: max(1, len(live) // max(1, sample - len(chosen)))][: sample - len(chosen)]:
                chosen.add(m.ticker)
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
                fills.append(PassiveFill(f.ticker, s, f.side, f.price, f.count, f.fee))
        seen_fills = len(all_fills)
        # re-quote
        for t in list(chosen):
            m = books.get(t)
            for side in sides:
                key = (t, side)
                want = (_quote_price(m, side, strategy, min_spread) if m is not None and m.status == "active"
                        else None)
                have = resting.get(key)
                if have is not None:
                    order = next((o for o in eng.orders("me", ticker=t, status="resting") if o.order_id == have[0]), None)
                    if order is not None and want == have[1]:
                        continue  # same price: keep the queue position
                    if order is not None:
                        eng.cancel("me", have[0])
                    resting.pop(key, None)
                if want is None:
                    continue
                n += 1
                intent = OrderIntent(f"q{n}", t, side, want, size * COUNT_SCALE,  # type: ignore[arg-type]
                                     time_in_force="good_till_canceled", post_only=True)
                try:
                    ack = eng.submit("me", intent)
                except Exception:  # noqa: BLE001 - a refused quote is simply not placed
                    continue
                if ack.status == "resting":
                    resting[key] = (ack.order_id, want)
    return fills, u


def evaluate(fills: list[PassiveFill], u: SimUniverse, final_step: int) -> dict[str, Any]:
    """Markouts (cents per contract, in the fill's favour) by horizon and P&L to settlement after fees."""
    out: dict[str, Any] = {"fills": len(fills), "contracts": sum(f.count for f in fills) / COUNT_SCALE}
    for h in HORIZONS:
        marks: list[float] = []
        for f in fills:
            m = u.market_at(f.ticker, f.step + h)
            if m is None or m.status != "active" or m.yes_bid is None or m.yes_ask is None:
                continue
            mid = (m.yes_bid + m.yes_ask) / 2
            marks.append((mid - f.price if f.side == "bid" else f.price - mid) / 100)
        out[f"markout_{h * 10}s_cents"] = statistics.fmean(marks) if marks else math.nan
        out[f"markout_{h * 10}s_se"] = statistics.stdev(marks) / math.sqrt(len(marks)) if len(marks) > 1 else math.nan
        out[f"markout_{h * 10}s_n"] = len(marks)
    expected: list[float] = []
    for f in fills:  # the fill against the hidden probability at its step: its expected P&L to settlement
        p = u.hidden_probability(f.ticker, f.step)
        if p is None or not f.count:
            continue
        per = (p * ONE_DOLLAR - f.price) if f.side == "bid" else (f.price - p * ONE_DOLLAR)
        expected.append(per / 100 - f.fee / f.count / 100)
    out["expected_pnl_cents_per_contract"] = statistics.fmean(expected) if expected else math.nan
    out["expected_pnl_se"] = statistics.stdev(expected) / math.sqrt(len(expected)) if len(expected) > 1 else math.nan
    pnl: list[float] = []
    for f in fills:
        st = u.settlement_for(f.ticker, final_step + 2000)
        if st is None:
            continue
        value = ONE_DOLLAR if st.result == "yes" else 0
        per = (value - f.price) if f.side == "bid" else (f.price - value)
        pnl.append(per / 100 - f.fee / f.count / 100 if f.count else 0.0)  # cents per contract, fee included
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
    ap.add_argument("--min-spread", type=int, default=0, metavar="UNITS",
                    help="quote only books at least this wide, in $0.0001 (spread capture: 400)")
    args = ap.parse_args(argv)
    sides = ("bid", "ask") if args.sides == "both" else ("bid",)
    fills, u = run(args.strategy, markets=args.markets, steps=args.steps, seed=args.seed, sample=args.sample,
                   sides=sides, min_spread=args.min_spread)
    json.dump(evaluate(fills, u, args.steps), sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
