"""metrics: how the account is doing, how well orders execute, and what to change.

Everything is derived from the journal (the fill ledger, kept order records and iteration
rows) plus the records of the current pipe, so ``metrics`` after a pipe and after a
``run-loop`` read the same truth. Recommendations are plain rules with the numbers that
triggered them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import orjson

from ..domain import ExchangeFill, Settlement
from ..journal import Journal
from ..ledger import TradeBook, fold_trades
from ..money import Count, Money, fmt_count, fmt_money
from ..profile import Profile
from ..records import VERSION
from .performance import (
    Markouts,
    MidHistory,
    StrategyStats,
    exposure_weighted_return,
    markouts,
    sharpe,
    sortino,
    strategy_stats,
)
from .portfolio import Portfolio


def _pct(num: Decimal | int, den: Decimal | int) -> Decimal:
    return (Decimal(num) / Decimal(den) * 100).quantize(Decimal("0.01")) if den else Decimal(0)


def _ratio(num: int, den: int) -> Decimal:
    return (Decimal(num) / Decimal(den)).quantize(Decimal("0.0001")) if den else Decimal(0)


@dataclass(slots=True)
class RunStats:
    """Counters from the current pipe or loop that the journal does not hold."""

    cache_hits: int = 0
    cache_misses: int = 0
    api_calls: int = 0
    iterations: int = 0
    orders: list[dict[str, Any]] = field(default_factory=list)
    denied: int = 0

    def absorb(self, rec: dict[str, Any]) -> None:
        kind = rec.get("kind")
        if kind == "stats":
            self.cache_hits += int(rec.get("cache_hits", 0))
            self.cache_misses += int(rec.get("cache_misses", 0))
            self.api_calls += int(rec.get("api_calls", 0))
        elif kind == "denied":
            self.denied += 1


def max_drawdown_pct(equities: Iterable[int]) -> Decimal:
    peak = None
    worst = Decimal(0)
    for e in equities:
        peak = e if peak is None else max(peak, e)
        if peak > 0:
            worst = max(worst, Decimal(peak - e) / peak)
    return (worst * 100).quantize(Decimal("0.01"))


def compute_metrics(
    journal: Journal, portfolio: Portfolio, profile: Profile, run: RunStats | None = None, *, now_ms: int | None = None
) -> dict[str, Any]:
    """Build a ``metrics`` record.

    Trades, not legs: a basket is one trade with one P&L (:func:`kalashi_cli.ledger.fold_trades`).
    Positions are valued by the one rule (:mod:`.valuation`); ``equity_marked`` says how much of
    equity rests on marks. ``now_ms`` (the source's clock; default the journal's last iteration)
    decides which markout horizons have passed.
    """
    run = run or RunStats()
    led = portfolio.ledger
    iterations = journal.iterations()
    fills = journal.fills()
    settlements = journal.settlements()
    fill_trades = journal.fill_trades()
    samples = [r["ts_ms"] for r in iterations]
    book = fold_trades(fills, settlements, fill_trades, sample_at=samples)
    closed = book.closed()
    wins = sum(1 for t in closed if t.pnl > 0)
    losses = len(closed) - wins
    realized = led.realized - led.fees
    unrealized = portfolio.equity - led.cash - portfolio.open_cost
    # the account starts at its starting balance: a loss in the first iteration is a drawdown too
    equities = [portfolio.starting_balance] + [r["equity"] for r in iterations] + [portfolio.equity]
    now = now_ms if now_ms is not None else (samples[-1] if samples else 0)
    per_strategy = _per_strategy(journal, portfolio, book, fills, settlements, fill_trades, now_ms=now)
    orders = journal.records("order") or run.orders
    rec: dict[str, Any] = {
        "kind": "metrics",
        "v": VERSION,
        "trades": len(closed),
        "wins": wins,
        "losses": losses,
        "win_rate": str(_ratio(wins, len(closed))),
        "realized_pnl": fmt_money(Money(realized)),
        "unrealized_pnl": fmt_money(Money(unrealized)),
        "equity": fmt_money(portfolio.equity),
        "equity_marked": fmt_money(portfolio.equity_marked),
        "equity_settled": fmt_money(portfolio.equity_settled),
        "marks": portfolio.valuation.by_basis(),
        "cash": fmt_money(led.cash),
        "starting_balance": fmt_money(portfolio.starting_balance),
        "fees_paid": fmt_money(led.fees),
        "turnover": fmt_money(Money(sum(t.turnover for t in book.trades.values()))),
        "open_positions": len(led.open_positions()),
        "open_trades": sum(1 for t in book.trades.values() if t.held and t.is_open),
        "max_drawdown_pct": str(max_drawdown_pct(equities)),
        "consecutive_wins": portfolio.consecutive_wins,
        "consecutive_losses": portfolio.consecutive_losses,
        "per_strategy": per_strategy,
        "performance": _performance(equities, portfolio, iterations),
        "execution": _execution(orders),
        **_usage(run, iterations),
        "iterations": len(iterations),
        "reconcile": reconcile_summary(journal),
    }
    skill = sim_forecast_skill(iterations)
    if skill is not None:
        rec["sim_forecast_skill"] = skill
    rec["recommendations"] = recommendations(rec, profile, journal)
    return rec


def _per_strategy(
    journal: Journal,
    portfolio: Portfolio,
    book: TradeBook,
    fills: list[ExchangeFill],
    settlements: list[Settlement],
    fill_trades: dict[str, tuple[str, str]],
    *,
    now_ms: int,
) -> dict[str, dict[str, Any]]:
    """Per strategy: its trades and P&L, exposure-weighted return, markouts, exits by rule, the maker's quotes."""
    stats = strategy_stats(book, portfolio.valuation)
    marks = markouts(
        fills,
        MidHistory(journal.mid_history(sorted({f.ticker for f in fills}))),
        settlements,
        {fid: strategy for fid, (_t, strategy) in fill_trades.items()},
        now_ms=now_ms,
    )
    per_strategy: dict[str, dict[str, Any]] = {}
    for name in sorted(set(stats) | set(marks)):
        st = stats.get(name, StrategyStats())
        rec_s = st.record()
        exposures = [x.get(name, Money(0)) for x in book.exposure_samples]
        ewr = exposure_weighted_return(Money(st.realized + st.unrealized), exposures)
        rec_s["exposure_weighted_return"] = str(ewr) if ewr is not None else None
        rec_s["markouts"] = marks.get(name, Markouts()).record()
        per_strategy[name] = rec_s
    for (_purpose, strategy, rule), n in journal.intent_counts(["exit"]).items():
        exits = per_strategy.setdefault(strategy or "unknown", StrategyStats().record()).setdefault("exits", {})
        exits[rule] = exits.get(rule, 0) + n
    quote_stats = journal.get_meta("quote_stats")
    if quote_stats:
        mm = per_strategy.setdefault("spread", StrategyStats().record())
        mm["quotes"] = orjson.loads(quote_stats)
        held = sum(abs(q) for t in book.open_trades() if t.strategy == "spread" for q, _c in t.positions.values())
        mm["inventory"] = {
            "now": fmt_count(Count(held)),
            "max_in_one_market": journal.get_meta("quote_max_inventory", "0.00"),
        }
    return per_strategy


def _performance(equities: list[int], portfolio: Portfolio, iterations: list[dict[str, Any]]) -> dict[str, Any]:
    """Sharpe and Sortino of the equity changes, and the account's exposure-weighted return."""
    changes = [b - a for a, b in zip(equities, equities[1:], strict=False)]
    sh, so = sharpe(changes), sortino(changes)
    ewr_all = exposure_weighted_return(
        Money(portfolio.equity - portfolio.starting_balance), [r.get("exposure", 0) for r in iterations]
    )
    return {
        "sharpe": str(sh) if sh is not None else None,
        "sortino": str(so) if so is not None else None,
        "exposure_weighted_return": str(ewr_all) if ewr_all is not None else None,
        "equity_changes": len(changes),
    }


def _execution(orders: list[dict[str, Any]]) -> dict[str, Any]:
    """How well orders execute: latency, slippage and the share of what was asked that filled."""
    lat: list[Decimal] = [Decimal(o["latency_ms"]) for o in orders if o.get("status") not in ("rejected",)]
    slip: list[Decimal] = [Decimal(o["slippage_pct"]) for o in orders if o.get("avg_fill_price") is not None]
    asked = sum(Decimal(o["count"]) for o in orders if o.get("status") != "rejected")
    got = sum(Decimal(o["filled_count"]) for o in orders if o.get("status") != "rejected")
    return {
        "orders": len(orders),
        "avg_latency_ms": str((sum(lat, Decimal(0)) / len(lat)).quantize(Decimal("0.001")) if lat else Decimal(0)),
        "avg_slippage_pct": str(
            (sum(slip, Decimal(0)) / len(slip)).quantize(Decimal("0.0001")) if slip else Decimal(0)
        ),
        "fill_rate": str((got / asked).quantize(Decimal("0.0001")) if asked else Decimal(0)),
    }


def _usage(run: RunStats, iterations: list[dict[str, Any]]) -> dict[str, Any]:
    """The analysis cache's hits and the remote API calls, per iteration (the record's "cache" and "api")."""
    hits = run.cache_hits + sum(r["cache_hits"] for r in iterations)
    misses = run.cache_misses + sum(r["cache_misses"] for r in iterations)
    # Iteration rows count every remote call of the iteration, the broker's (order creates,
    # cancels, reconciliation, fill and position polls) as well as the source's: one key, one budget.
    calls = run.api_calls + sum(r["api_calls"] for r in iterations)
    n_iter = max(1, len(iterations) + run.iterations) if (iterations or run.iterations) else 1
    return {
        "cache": {"hits": hits, "misses": misses, "hit_rate": str(_ratio(hits, hits + misses))},
        "api": {"calls": calls, "calls_per_iteration": str(_ratio(calls, n_iter))},
    }


def sim_forecast_skill(iterations: list[dict[str, Any]]) -> str | None:
    """The sim forecast's skill ("0.50") if any iteration ran on a sim that published one, else None.

    The sim publishes no forecast unless asked (``sim: forecast_skill`` in the profile, or
    ``forecast=PCT`` in the source descriptor), and says so in its descriptor.
    """
    skills = set()
    for r in iterations:
        src = str(r.get("source") or "")
        if src.startswith("sim:"):
            for part in src[4:].split(","):
                key, _, value = part.partition("=")
                if key == "forecast" and value.isdigit():
                    skills.add(int(value))
    return str(Decimal(max(skills)) / 100) if skills else None


def reconcile_summary(journal: Journal) -> dict[str, Any]:
    """What reconciliation had to correct so far: journal ↔ exchange drift, in numbers.

    ``runs``/``corrections``/``failures_in_a_row`` come from the journal's meta (kept by
    :func:`kalashi_cli.reconcile.reconcile`); the rest sums its ``reconcile`` events (one per
    run that changed something or failed).
    """
    out: dict[str, Any] = {
        "runs": int(journal.get_meta("reconcile_runs", "0") or 0),
        "corrections": int(journal.get_meta("reconcile_corrections", "0") or 0),
        "failures_in_a_row": int(journal.get_meta("reconcile_failures", "0") or 0),
        "unknown_found": 0,
        "unknown_never_sent": 0,
        "fills_added": 0,
        "orders_updated": 0,
        "orphans": 0,
        "orphans_cancelled": 0,
        "position_drift": 0,
        "balance_drift": 0,
        "duplicates": 0,
        "blocked_markets": sorted(journal.blocked_tickers()),
    }
    orphans: set[str] = set()
    for e in journal.events("reconcile", limit=1_000_000):
        d = e["detail"]
        resolved = d.get("resolved") or []
        out["unknown_found"] += sum(1 for r in resolved if r.get("found"))
        out["unknown_never_sent"] += sum(1 for r in resolved if not r.get("found"))
        out["fills_added"] += int(d.get("fills_added") or 0)
        out["orders_updated"] += int(d.get("orders_updated") or 0)
        orphans.update(d.get("orphans") or [])  # an orphan is reported by every run until it is gone
        out["orphans_cancelled"] += int(d.get("orphans_cancelled") or 0)
        out["position_drift"] += len(d.get("position_drift") or {})
        out["balance_drift"] += 1 if d.get("balance_drift") else 0
        out["duplicates"] += len(d.get("duplicates") or [])
    out["orphans"] = len(orphans)
    return out


def _pct_text(pct: Decimal) -> str:
    """A percent for a sentence: 18.80 → "18.8%", 10.00 → "10%"."""
    return f"{pct.normalize():f}%"


def drawdown_advice(dd: Decimal, profile: Profile) -> dict[str, Any] | None:
    """The drawdown recommendation for a max drawdown of ``dd`` percent, worded for where it stands.

    Three levels, each sentence true of the numbers it cites: past the halt limit, past the
    reducing level, or at least half way to the reducing level. Below that, none.
    """
    reducing = profile.risk.reducing_drawdown_pct * 100
    halt = profile.risk.max_drawdown_pct * 100
    numbers = {
        "max_drawdown_pct": str(dd),
        "reducing_at_pct": str(reducing.quantize(Decimal("0.01"))),
        "halt_at_pct": str(halt.quantize(Decimal("0.01"))),
        "kelly_fraction": str(profile.sizing.kelly_fraction),
    }
    if dd >= halt:
        return {
            "title": "Drawdown reached the halt limit",
            "severity": "critical",
            "detail": f"Max drawdown {_pct_text(dd)} reached the {_pct_text(halt)} limit where trading halts; "
            "a smaller Kelly fraction or a looser limit is needed before trading resumes.",
            "numbers": numbers,
        }
    if dd >= reducing:
        return {
            "title": "Drawdown passed the reducing level",
            "severity": "warn",
            "detail": f"Max drawdown {_pct_text(dd)} is past the {_pct_text(reducing)} level where trading "
            f"switches to reducing only (it halts at {_pct_text(halt)}); consider a smaller Kelly "
            "fraction.",
            "numbers": numbers,
        }
    if dd >= reducing / 2:
        return {
            "title": "Drawdown is building",
            "severity": "info",
            "detail": f"Max drawdown {_pct_text(dd)} is at least half of the {_pct_text(reducing)} level where "
            "trading switches to reducing only; consider a smaller Kelly fraction.",
            "numbers": numbers,
        }
    return None


def _sim_forecast_advice(m: dict[str, Any], profile: Profile) -> dict[str, Any] | None:
    """Results that read the sim's own forecast say nothing about a real edge."""
    if m.get("sim_forecast_skill") is None:
        return None
    return {
        "title": "These results used the sim's forecast",
        "detail": f"The sim published a forecast with skill {m['sim_forecast_skill']} (the share of the "
        "book's error it removes; 1 is an oracle), and the value strategy reads it. Profits "
        "from it say nothing about a real edge: turn it off (sim: forecast_skill: null) or "
        "give your own fair values.",
        "numbers": {"sim_forecast_skill": m["sim_forecast_skill"]},
    }


def _win_rate_advice(m: dict[str, Any], profile: Profile) -> dict[str, Any] | None:
    """Fewer than 45% of at least 10 closed trades won."""
    win_rate = Decimal(m["win_rate"])
    if not (m["trades"] >= 10 and win_rate < Decimal("0.45")):
        return None
    return {
        "title": "Raise the minimum edge",
        "detail": f"Only {win_rate:.0%} of {m['trades']} closed trades won; demand more edge before "
        "trading (analyze.value.min_edge / analyze.spread.min_edge).",
        "numbers": {"win_rate": m["win_rate"], "trades": m["trades"]},
    }


def _slippage_advice(m: dict[str, Any], profile: Profile) -> dict[str, Any] | None:
    """Orders paid more than 0.5% slippage on average (over at least 5 orders)."""
    slip = Decimal(m["execution"]["avg_slippage_pct"])
    if not (m["execution"]["orders"] >= 5 and slip > Decimal("0.5")):
        return None
    return {
        "title": "Orders pay noticeable slippage",
        "detail": f"Average slippage {slip}% against the top of book; smaller orders or a tighter "
        "execution.max_slippage_pct would keep more of the edge.",
        "numbers": {"avg_slippage_pct": str(slip), "orders": m["execution"]["orders"]},
    }


def _fill_rate_advice(m: dict[str, Any], profile: Profile) -> dict[str, Any] | None:
    """Less than half of the contracts asked for were filled (over at least 5 orders)."""
    fill = Decimal(m["execution"]["fill_rate"])
    if not (m["execution"]["orders"] >= 5 and fill < Decimal("0.5")):
        return None
    return {
        "title": "Low fill rate",
        "detail": f"Only {fill:.0%} of the contracts asked for were filled; books move before orders "
        "arrive or maker quotes sit too far back.",
        "numbers": {"fill_rate": str(fill)},
    }


def _drawdown_rule(m: dict[str, Any], profile: Profile) -> dict[str, Any] | None:
    """The run's max drawdown against the profile's reducing and halt levels (:func:`drawdown_advice`)."""
    return drawdown_advice(Decimal(m["max_drawdown_pct"]), profile)


def _loss_streak_advice(m: dict[str, Any], profile: Profile) -> dict[str, Any] | None:
    """Three or more losses in a row."""
    if m["consecutive_losses"] < 3:
        return None
    return {
        "title": "Losing streak",
        "detail": f"{m['consecutive_losses']} losses in a row; sizing is already shrunk by "
        f"{profile.sizing.loss_streak_shrink} per loss.",
        "numbers": {"consecutive_losses": m["consecutive_losses"]},
    }


def _cache_advice(m: dict[str, Any], profile: Profile) -> dict[str, Any] | None:
    """The analysis cache hit less than 5% of at least 100 lookups."""
    c = m["cache"]
    if not (c["hits"] + c["misses"] >= 100 and Decimal(c["hit_rate"]) < Decimal("0.05")):
        return None
    return {
        "title": "The analysis cache rarely helps",
        "detail": f"Hit rate {Decimal(c['hit_rate']):.1%} over {c['hits'] + c['misses']} lookups: books "
        "change between looks, or analyze.cache.max_entries "
        f"({profile.analyze.cache.max_entries}) is smaller than the market count.",
        "numbers": {"hit_rate": c["hit_rate"], "max_entries": profile.analyze.cache.max_entries},
    }


def _reconcile_advice(m: dict[str, Any], profile: Profile) -> dict[str, Any] | None:
    """Reconciliation adopted the exchange's truth, or failed, during the run."""
    rc = m.get("reconcile") or {}
    drift = {k: rc.get(k, 0) for k in ("duplicates", "position_drift", "balance_drift", "orphans")}
    if not (any(drift.values()) or rc.get("failures_in_a_row")):
        return None
    return {
        "title": "The journal drifted from the exchange",
        "detail": "Reconciliation had to adopt the exchange's truth "
        + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in drift.items() if v)
        + (f"; the last {rc['failures_in_a_row']} reconciliation(s) failed" if rc.get("failures_in_a_row") else "")
        + ". Check for orders placed outside kalashi, deposits/withdrawals, or a second "
        "process on this account (`kalashi reconcile` shows the details).",
        "numbers": {**drift, "failures_in_a_row": rc.get("failures_in_a_row", 0)},
    }


def _denials_advice(journal: Journal) -> dict[str, Any] | None:
    """Name the risk rule behind most of the last 500 denied orders (when there are at least 5)."""
    denied = journal.records("denied", limit=500, newest_first=True)
    if len(denied) < 5:
        return None
    rules: dict[str, int] = {}
    for d in denied:
        rules[d.get("rule", "?")] = rules.get(d.get("rule", "?"), 0) + 1
    top, n = max(rules.items(), key=lambda kv: kv[1])
    return {
        "title": f"Most denials come from '{top}'",
        "detail": f"{n} of the last {len(denied)} denied orders were refused by the '{top}' rule; "
        "if that is not intended, review the matching limit in the profile.",
        "numbers": {"rule": top, "count": n, "of": len(denied)},
    }


#: the rules over the metrics, in the order their advice is listed (the journal's denials come last)
_METRIC_RULES: tuple[Callable[[dict[str, Any], Profile], dict[str, Any] | None], ...] = (
    _sim_forecast_advice,
    _win_rate_advice,
    _slippage_advice,
    _fill_rate_advice,
    _drawdown_rule,
    _loss_streak_advice,
    _cache_advice,
    _reconcile_advice,
)


def recommendations(m: dict[str, Any], profile: Profile, journal: Journal) -> list[dict[str, Any]]:
    """Plain rules over the metrics, each with the numbers that triggered it."""
    found = [rule(m, profile) for rule in _METRIC_RULES]
    found.append(_denials_advice(journal))
    return [advice for advice in found if advice is not None]
