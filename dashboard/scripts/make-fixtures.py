# Regenerate dashboard/fixtures/*.json (deterministic test data for the mock bridge and the unit
# tests; never shown in production). Exact Decimal arithmetic keeps the numbers consistent:
# equity = cash + positions at mark, realized = equity - start - unrealized.
#   python3 dashboard/scripts/make-fixtures.py
import json
from decimal import Decimal as D
from datetime import datetime, timedelta, timezone

T0 = datetime(2026, 11, 25, 14, 0, 0, tzinfo=timezone.utc)
# two clocks (docs/bridge-protocol.md §2 "Times"): ts() is the wall clock (journal times, states,
# the equity curve); sim_ts() the simulated market's clock (fills, the broker's order times), which
# the sim runs from its own epoch, ten simulated seconds a step
SIM0 = datetime(2026, 1, 1, 12, 0, 0, tzinfo=timezone.utc)


def ts(i):
    return (T0 + timedelta(seconds=10 * i)).strftime("%Y-%m-%dT%H:%M:%SZ")


def sim_ts(i):
    return (SIM0 + timedelta(seconds=10 * (1000 + i))).strftime("%Y-%m-%dT%H:%M:%SZ")


def m4(x):
    return f"{D(x).quantize(D('0.0001')):f}"


def c2(x):
    return f"{D(x).quantize(D('0.01')):f}"


# equity curve: 31 points (iterations 1..31), deterministic wiggle from 1000 to 1015
wig = [0, 3, -2, 4, 1, 6, 2, -1, 5, 8, 7, 3, 9, 12, 10, 6, 11, 14, 13, 9, 12, 15, 18, 16, 13, 17, 20, 19, 16, 18, 20]
curve = []
for i, w in enumerate(wig):
    eq = D("1000") + D(w) * D("0.75")
    curve.append({"ts": ts(i + 1), "equity": m4(eq)})
curve[-1]["equity"] = "1015.0000"

positions = [
    {
        "ticker": "KXPRES-28-DEM",
        "title": "Democrats win the 2028 presidential election",
        "outcome": "yes",
        "count": "25.00",
        "avg_price": "0.4800",
        "mark": "0.5100",
        "group": "election",
    },
    {
        "ticker": "KXBTC-26DEC31-T100000",
        "title": "Bitcoin above $100,000 on Dec 31, 2026",
        "outcome": "no",
        "count": "10.00",
        "avg_price": "0.6200",
        "mark": "0.5900",
        "group": "crypto",
    },
    {
        "ticker": "KXFED-26DEC-T4.25",
        "title": "Fed funds upper bound above 4.25% after December 2026",
        "outcome": "yes",
        "count": "15.50",
        "avg_price": "0.3100",
        "mark": "0.3300",
        "group": "economy",
    },
]
unreal = D(0)
for p in positions:
    u = D(p["count"]) * (D(p["mark"]) - D(p["avg_price"]))
    p["unrealized_pnl"] = m4(u)
    unreal += u
value = sum(D(p["count"]) * D(p["mark"]) for p in positions)
equity = D("1015.0000")
balance = equity - value
realized = equity - D("1000") - unreal

open_orders = [
    {
        "client_order_id": "kal-0031-spread-KXCPI-26NOV-T3.0-a",
        "order_id": "paper-000412",
        "ticker": "KXCPI-26NOV-T3.0",
        "outcome": "yes",
        "action": "buy",
        "price": "0.4200",
        "count": "20.00",
        "remaining": "12.00",
        "status": "resting",
        "created": sim_ts(30),
        "placed_wall": ts(30),
    },
    {
        "client_order_id": "kal-0029-spread-KXPRES-28-DEM-b",
        "order_id": "paper-000398",
        "ticker": "KXPRES-28-DEM",
        "outcome": "no",
        "action": "buy",
        "price": "0.4700",
        "count": "10.00",
        "remaining": "10.00",
        "status": "resting",
        "created": sim_ts(28),
        "placed_wall": ts(28),
    },
]


def exposure_of(group, amount, cap="20.00"):
    return {"group": group, "exposure": m4(amount), "pct_of_equity": c2(D(amount) / equity * 100), "cap_pct": cap}


exposure = [
    exposure_of("election", D("25") * D("0.48") + D("10") * D("0.47")),
    exposure_of("economy", D("15.5") * D("0.31") + D("12") * D("0.42")),
    exposure_of("crypto", D("10") * D("0.62")),
]


def opp(id, strategy, event, legs, edge, fees, conf, liq, reason, cost):
    # edge_pct is a ratio, edge / all-in cost per basket (docs/records.md), not a percent
    edge_pct = f"{(D(edge) / D(cost)).quantize(D('0.0001')):f}"
    score = D(edge) * D(conf) * D(liq)
    return {
        "kind": "opportunity",
        "v": 1,
        "id": id,
        "strategy": strategy,
        "event_ticker": event,
        "series_ticker": event.split("-")[0],
        "category": "",
        "legs": legs,
        "edge": edge,
        "edge_pct": edge_pct,
        "fees": fees,
        "cost": cost,
        "confidence": conf,
        "liquidity": liq,
        "score": f"{score.quantize(D('0.000001')):f}",
        "reason": reason,
        "maker": strategy == "spread",
    }


def leg(t, o, a, p, c):
    return {"ticker": t, "outcome": o, "action": a, "price": p, "count": c}


opps = [
    opp(
        "opp-0031-arb-KXNBA-26-CHAMP",
        "arbitrage",
        "KXNBA-26-CHAMP",
        [
            leg("KXNBA-26-CHAMP-BOS", "no", "buy", "0.8000", "5.00"),
            leg("KXNBA-26-CHAMP-OKC", "no", "buy", "0.7600", "5.00"),
            leg("KXNBA-26-CHAMP-DEN", "no", "buy", "0.3900", "5.00"),
        ],
        "0.1800",
        "0.0700",
        "1.0000",
        "0.4000",
        "Buying NO on all 3 mutually exclusive outcomes costs $1.95 a set and pays at least $2.00: $0.036 a set after fees, 5 sets deep.",
        "9.8200",
    ),
    opp(
        "opp-0031-spread-KXCPI-26NOV-T3.0",
        "spread",
        "KXCPI-26NOV",
        [leg("KXCPI-26NOV-T3.0", "yes", "buy", "0.4200", "20.00")],
        "0.2400",
        "0.0300",
        "0.6000",
        "0.8000",
        "Spread 0.38–0.47 is 9¢ wide; a maker bid at 42¢ clears maker fees and the 2¢ adverse-selection allowance.",
        "8.4300",
    ),
    opp(
        "opp-0031-value-KXFED-26DEC-T4.25",
        "value",
        "KXFED-26DEC",
        [leg("KXFED-26DEC-T4.25", "yes", "buy", "0.3300", "10.00")],
        "0.2452",
        "0.1548",
        "0.5500",
        "0.7000",
        "Forecast 37% against an all-in cost of 34.5¢ a contract after fees.",
        "3.4548",
    ),
    opp(
        "opp-0031-value-KXBTC-26DEC31-T100000",
        "value",
        "KXBTC-26DEC31",
        [leg("KXBTC-26DEC31-T100000", "no", "buy", "0.5900", "10.00")],
        "0.4307",
        "0.1693",
        "0.4500",
        "0.6000",
        "Forecast P(yes) 35% makes NO worth 65¢ against 60.7¢ all-in.",
        "6.0693",
    ),
]

journal = []


def order(
    i,
    coid,
    oid,
    t,
    o,
    a,
    p,
    c,
    status,
    filled,
    avg,
    fees,
    lat,
    slip,
    strat,
    oppid,
    tif="immediate_or_cancel",
    post=False,
):
    return {
        "kind": "order",
        "v": 1,
        "client_order_id": coid,
        "order_id": oid,
        "mode": "paper",
        "ticker": t,
        "outcome": o,
        "action": a,
        "price": p,
        "count": c,
        "status": status,
        "filled_count": filled,
        "avg_fill_price": avg,
        "fees": fees,
        "latency_ms": lat,
        "slippage_pct": slip,
        "strategy": strat,
        "opportunity_id": oppid,
        "time_in_force": tif,
        "post_only": post,
        "reduce_only": False,
        "reason": "",
        "ts": ts(i),
        "wall_ts": ts(i),
    }


def fill(i, coid, oid, fid, t, o, a, p, c, fee, taker):
    return {
        "kind": "fill",
        "v": 1,
        "fill_id": fid,
        "order_id": oid,
        "client_order_id": coid,
        "ticker": t,
        "outcome": o,
        "action": a,
        "price": p,
        "count": c,
        "fee": fee,
        "is_taker": taker,
        "ts": sim_ts(i),
        "wall_ts": ts(i),
    }


journal += [
    fill(
        30,
        "kal-0030-value-KXFED-26DEC-T4.25-a",
        "paper-000409",
        "fill-000733",
        "KXFED-26DEC-T4.25",
        "yes",
        "buy",
        "0.3100",
        "15.50",
        "0.2600",
        True,
    ),
    order(
        30,
        "kal-0030-value-KXFED-26DEC-T4.25-a",
        "paper-000409",
        "KXFED-26DEC-T4.25",
        "yes",
        "buy",
        "0.3200",
        "15.50",
        "executed",
        "15.50",
        "0.3100",
        "0.2600",
        "38.412",
        "-3.1250",
        "value",
        "opp-0030-value-KXFED-26DEC-T4.25",
    ),
    order(
        30,
        "kal-0031-spread-KXCPI-26NOV-T3.0-a",
        "paper-000412",
        "KXCPI-26NOV-T3.0",
        "yes",
        "buy",
        "0.4200",
        "20.00",
        "resting",
        "8.00",
        "0.4200",
        "0.0300",
        "41.207",
        "0.0000",
        "spread",
        "opp-0030-spread-KXCPI-26NOV-T3.0",
        "good_till_canceled",
        True,
    ),
    fill(
        30,
        "kal-0031-spread-KXCPI-26NOV-T3.0-a",
        "paper-000412",
        "fill-000732",
        "KXCPI-26NOV-T3.0",
        "yes",
        "buy",
        "0.4200",
        "8.00",
        "0.0300",
        False,
    ),
    order(
        28,
        "kal-0029-spread-KXPRES-28-DEM-b",
        "paper-000398",
        "KXPRES-28-DEM",
        "no",
        "buy",
        "0.4700",
        "10.00",
        "resting",
        "0.00",
        None,
        "0.0000",
        "44.930",
        "0.0000",
        "spread",
        "opp-0028-spread-KXPRES-28-DEM",
        "good_till_canceled",
        True,
    ),
    fill(
        22,
        "kal-0022-value-KXBTC-26DEC31-T100000-a",
        "paper-000377",
        "fill-000701",
        "KXBTC-26DEC31-T100000",
        "no",
        "buy",
        "0.6200",
        "10.00",
        "0.1700",
        True,
    ),
    order(
        22,
        "kal-0022-value-KXBTC-26DEC31-T100000-a",
        "paper-000377",
        "KXBTC-26DEC31-T100000",
        "no",
        "buy",
        "0.6200",
        "10.00",
        "executed",
        "10.00",
        "0.6200",
        "0.1700",
        "52.118",
        "0.0000",
        "value",
        "opp-0022-value-KXBTC-26DEC31-T100000",
    ),
    order(
        17,
        "kal-0017-arb-KXNBA-26-CHAMP-c",
        "paper-000351",
        "KXNBA-26-CHAMP-DEN",
        "no",
        "buy",
        "0.3900",
        "5.00",
        "canceled",
        "0.00",
        None,
        "0.0000",
        "47.600",
        "0.0000",
        "arbitrage",
        "opp-0017-arb-KXNBA-26-CHAMP",
        "fill_or_kill",
    ),
    fill(
        9,
        "kal-0009-value-KXPRES-28-DEM-a",
        "paper-000302",
        "fill-000655",
        "KXPRES-28-DEM",
        "yes",
        "buy",
        "0.4800",
        "25.00",
        "0.4400",
        True,
    ),
    order(
        9,
        "kal-0009-value-KXPRES-28-DEM-a",
        "paper-000302",
        "KXPRES-28-DEM",
        "yes",
        "buy",
        "0.4900",
        "25.00",
        "executed",
        "25.00",
        "0.4800",
        "0.4400",
        "36.004",
        "-2.0408",
        "value",
        "opp-0009-value-KXPRES-28-DEM",
    ),
]

recs = [
    {
        "title": "Spread quotes fill slowly",
        "detail": "Resting spread-capture orders filled 40% of their size within 3 iterations; widen the quote or shorten its life.",
        "numbers": {"spread_fill_rate": "0.4000", "spread_orders": 5, "avg_rest_iterations": "3.4"},
        "severity": "info",
    },
    {
        "title": "Election group near half its cap",
        "detail": "Election exposure is 1.65% of equity against a 20% cap after the resting NO bid fills; new election ideas need 1.5× the minimum edge.",
        "numbers": {"group_pct_of_equity": "1.65", "cap_pct": "20.00", "required_edge_multiplier": "1.5"},
        "severity": "warn",
    },
]

metrics = {
    "kind": "metrics",
    "v": 1,
    "trades": 18,
    "wins": 11,
    "losses": 7,
    "win_rate": "0.6111",
    "realized_pnl": m4(realized),
    "unrealized_pnl": m4(unreal),
    "equity": m4(equity),
    "max_drawdown_pct": "1.8200",
    "consecutive_wins": 3,
    "consecutive_losses": 0,
    "equity_marked": m4(value),
    "equity_settled": m4(balance),
    # per strategy (issue 14): realized and unrealized P&L, fees, markouts per contract (signed in the fills' favour)
    "per_strategy": {
        "arbitrage": {
            "trades": 6,
            "wins": 6,
            "win_rate": "1.0000",
            "pnl": "6.1200",
            "realized_pnl": "6.1200",
            "unrealized_pnl": "0.0000",
            "fees": "1.9200",
            "markouts": {"fills": 12, "1m": "0.0190", "5m": "0.0210", "settlement": "0.0100"},
        },
        "spread": {
            "trades": 5,
            "wins": 2,
            "win_rate": "0.4000",
            "pnl": "1.3400",
            "realized_pnl": "1.3400",
            "unrealized_pnl": "0.0000",
            "fees": "0.2100",
            "markouts": {"fills": 9, "1m": "-0.0120", "5m": None, "settlement": None},
        },
        "value": {
            "trades": 7,
            "wins": 3,
            "win_rate": "0.4286",
            "pnl": "6.7800",
            "realized_pnl": "6.7800",
            "unrealized_pnl": m4(unreal),
            "fees": "0.8700",
            "markouts": {"fills": 7, "1m": "0.0040", "5m": "0.0060", "settlement": None},
        },
    },
    "performance": {
        "sharpe": "0.1234",
        "sortino": "0.2345",
        "exposure_weighted_return": "0.0312",
        "equity_changes": 31,
    },
    "execution": {"avg_latency_ms": "42.512", "avg_slippage_pct": "0.1200", "fill_rate": "0.8400"},
    "cache": {"hit_rate": "0.9300"},
    "api": {"calls": 412, "calls_per_iteration": "13.3"},
    "recommendations": recs,
}

health = [
    {"name": "bridge", "status": "ok", "detail": "2 clients connected", "latency_ms": None},
    {"name": "market-data", "status": "ok", "detail": "sim source, 148 markets", "latency_ms": "12"},
    {"name": "broker", "status": "ok", "detail": "paper matching engine", "latency_ms": "3"},
    {"name": "journal", "status": "ok", "detail": "SQLite WAL, reconciled at start-up", "latency_ms": "1"},
]

state = {
    "mode": "paper",
    "loop": {"status": "running", "iteration": 31, "interval_s": 10, "source": "sim", "profile": "default"},
    "trading_state": "ACTIVE",
    "halt_reason": None,
    "account": {
        "balance": m4(balance),
        "equity": m4(equity),
        "realized_pnl": m4(realized),
        "unrealized_pnl": m4(unreal),
        "equity_marked": m4(value),
        "equity_settled": m4(balance),
        "starting_balance": "1000.0000",
    },
    "equity_curve": curve,
    "metrics": metrics,
    "positions": positions,
    "open_orders": open_orders,
    "opportunities": sorted(opps, key=lambda o: D(o["score"]), reverse=True),
    "exposure": exposure,
    "health": health,
    "journal": journal,
    "recommendations": recs,
    "last_iteration": {
        "kind": "iteration",
        "v": 1,
        "n": 31,
        "started": ts(31),
        "duration_ms": "171.204",
        "markets": 148,
        "opportunities": 4,
        "candidates": 1,
        "orders": 0,
        "state": "ACTIVE",
        "state_reason": "",
        "equity": m4(equity),
        "cash": m4(balance),
        "as_of": sim_ts(31),
    },
    "updated": ts(31),
    "profiles": ["aggressive", "conservative", "default"],
    "clock": {"source": "sim", "source_now": sim_ts(31), "wall_now": ts(31)},
}

# four more iterations of records (32..35)
iters = []
eqs = ["1016.2500", "1014.7500", "1017.5000", "1019.0000"]
for k, eq in enumerate(eqs):
    n = 32 + k
    i = n
    batch = []
    fresh = []
    for o in opps:
        c = dict(o)
        c["id"] = o["id"].replace("opp-0031-", f"opp-{n:04d}-")
        fresh.append(c)
    o1, o2 = fresh[0], fresh[2]
    batch += fresh
    cand = dict(o2)
    cand.update(
        {
            "kind": "candidate",
            "group": "economy",
            "required_edge": "0.1500",
            "size": "5.00",
            "kelly_fraction": "0.041200",
            "stake": "1.6580",
        }
    )
    batch.append(cand)
    batch.append(
        {
            "kind": "rejected",
            "v": 1,
            "ref": o1["id"],
            "stage": "correlate",
            "code": "group-exposure-edge",
            "reason": "edge $0.036 a set is below the required $0.050 for group sports",
        }
    )
    if k % 2 == 0:
        coid = f"kal-{n:04d}-value-KXFED-26DEC-T4.25-a"
        oid = f"paper-{420 + k:06d}"
        batch.append(
            order(
                i,
                coid,
                oid,
                "KXFED-26DEC-T4.25",
                "yes",
                "buy",
                "0.3300",
                "5.00",
                "executed",
                "5.00",
                "0.3300",
                "0.0900",
                f"{39 + k}.250",
                "0.0000",
                "value",
                o2["id"],
            )
        )
        batch.append(
            fill(
                i, coid, oid, f"fill-{740 + k:06d}", "KXFED-26DEC-T4.25", "yes", "buy", "0.3300", "5.00", "0.0900", True
            )
        )
    else:
        batch.append(
            {
                "kind": "denied",
                "v": 1,
                "ref": cand["id"],
                "ticker": "KXFED-26DEC-T4.25",
                "rule": "event_cap",
                "code": "event_cap",
                "reason": "per-event exposure cap: KXFED-26DEC would reach 5.2% of equity, cap 5%",
            }
        )
    batch.append(
        {
            "kind": "health",
            "v": 1,
            "name": "market-data",
            "status": "degraded" if k == 1 else "ok",
            "detail": "sim source, 148 markets" + (" — 2 stale books" if k == 1 else ""),
            "latency_ms": str(12 + k * 7),
        }
    )
    mk = json.loads(json.dumps(metrics))
    mk["equity"] = eq
    mk["unrealized_pnl"] = m4(D(eq) - D("1000") - D(mk["realized_pnl"]))
    batch.append(mk)
    batch.append(
        {
            "kind": "iteration",
            "v": 1,
            "n": n,
            "started": ts(i),
            "duration_ms": f"{180 + 13 * k}.4",
            "markets": 148,
            "opportunities": len(fresh),
            "candidates": 1,
            "orders": 1 if k % 2 == 0 else 0,
            "state": "ACTIVE",
            "state_reason": "",
            "equity": eq,
            "cash": m4(balance),
            "as_of": sim_ts(i),
        }
    )
    iters.append(batch)

import os

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures") + os.sep
json.dump(state, open(out + "state-paper.json", "w"), indent=2)
open(out + "state-paper.json", "a").write("\n")
json.dump({"iterations": iters}, open(out + "records.json", "w"), indent=2)
open(out + "records.json", "a").write("\n")
