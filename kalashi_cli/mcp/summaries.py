"""The text part of every tool answer: a short summary for the model to read, never the JSON again.

The structured content is complete; the text says what the answer is in a few lines — the
first :data:`LINES` items at most, each on one line of at most :data:`WIDTH` characters — and
how to get more (the next page's cursor). A model that needs a field reads the structured
content.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

LINES = 10
WIDTH = 160

Summary = Callable[[dict[str, Any]], str]


def _cut(line: str) -> str:
    return line if len(line) <= WIDTH else line[: WIDTH - 1] + "…"


def listing(head: str, rows: Iterable[str], total: int, cursor: str = "") -> str:
    """A head line, up to :data:`LINES` item lines, and what is left out (and the next cursor)."""
    rows = list(rows)
    lines = [head] + [f"- {_cut(r)}" for r in rows[:LINES]]
    more = total - min(len(rows), LINES)
    if more > 0:
        lines.append(f"… and {more} more in the structured content")
    if cursor:
        lines.append(f'next page: cursor "{cursor}"')
    return "\n".join(lines)


def _px(v: Any) -> str:
    return "—" if v in (None, "") else str(v)


def market_line(m: dict[str, Any]) -> str:
    return (
        f"{m['ticker']} ({m.get('status', '')}): YES {_px(m.get('yes_bid'))}/{_px(m.get('yes_ask'))} "
        f"NO {_px(m.get('no_bid'))}/{_px(m.get('no_ask'))}, vol {m.get('volume', '—')} — {m.get('title', '')}"
    )


def balance(r: dict[str, Any]) -> str:
    return (
        f"{r['mode']} account: ${r['balance']} available, cash ${r['cash']}, equity ${r['equity']} "
        f"(started with ${r['starting_balance']})"
    )


def positions(r: dict[str, Any]) -> str:
    rows = [
        f"{p['ticker']}: {p['count']} {p['outcome'].upper()} at {p['avg_price']}, mark {_px(p['mark'])}, "
        f"unrealized {_px(p['unrealized_pnl'])}, realized {p['realized_pnl']}"
        for p in r["positions"]
    ]
    return listing(f"{len(rows)} open position(s)", rows, len(rows))


def order_line(o: dict[str, Any]) -> str:
    return (
        f"{o['order_id']} {o['ticker']} {o['side']} YES@{o['yes_price']} {o['status']}, "
        f"filled {o['filled']} of {o['count']}, {o['remaining']} left"
    )


def orders(r: dict[str, Any]) -> str:
    return listing(
        f"{r['count']} order(s), newest first", [order_line(o) for o in r["orders"]], r["count"], r.get("cursor", "")
    )


def one_order(r: dict[str, Any]) -> str:
    return "order " + order_line(r["order"])


def fills(r: dict[str, Any]) -> str:
    rows = [
        f"{f['ts']} {f['ticker']} {f['side']} {f['count']} at YES {f['yes_price']}, fee {f['fee']}"
        f"{' (taker)' if f['is_taker'] else ''}"
        for f in r["fills"]
    ]
    return listing(f"{r['count']} fill(s), newest first", rows, r["count"], r.get("cursor", ""))


def settlements(r: dict[str, Any]) -> str:
    rows = [f"{s['ticker']}: {s['result']}, revenue ${s['revenue']} ({s['settled']})" for s in r["settlements"]]
    return listing(f"{r['count']} settlement(s), newest first", rows, r["count"], r.get("cursor", ""))


def event(r: dict[str, Any]) -> str:
    kind = ("mutually exclusive" if r.get("mutually_exclusive") else "independent outcomes") + (
        ", exhaustive" if r.get("exhaustive") else ""
    )
    return listing(
        f"event {r['event_ticker']} ({r['category']}, {kind}): {len(r['markets'])} market(s)",
        [market_line(m) for m in r["markets"]],
        len(r["markets"]),
    )


def market(r: dict[str, Any]) -> str:
    grid = ", ".join(f"{b['start']}-{b['end']} step {b['step']}" for b in r.get("price_ranges", []))
    return (
        f"{market_line(r)}\nsizes: YES bid {r.get('yes_bid_size')} / ask {r.get('yes_ask_size')}; "
        f"open interest {r.get('open_interest')}; closes {r.get('close_time')}; tick grid {grid}; "
        f"fees {r.get('fee_type')} ×{r.get('fee_multiplier')}"
    )


def markets(r: dict[str, Any]) -> str:
    return listing(f"{r['count']} market(s)", [market_line(m) for m in r["markets"]], r["count"], r.get("cursor", ""))


def orderbook(r: dict[str, Any]) -> str:
    def side(levels: list[list[str]]) -> str:
        return ", ".join(f"{p}×{n}" for p, n in levels[:5]) or "empty"

    return (
        f"{r['ticker']}: YES bid {_px(r['yes_bid'])} / ask {_px(r['yes_ask'])}, NO bid {_px(r['no_bid'])} / "
        f"ask {_px(r['no_ask'])}\nYES bids (best first): {side(r['yes_bids'])}\n"
        f"NO bids (best first): {side(r['no_bids'])}"
    )


def opportunities(r: dict[str, Any]) -> str:
    rows = [
        f"{o.get('strategy')} {', '.join(leg.get('ticker', '') for leg in o.get('legs', []))}: edge "
        f"{o.get('edge')} score {o.get('score')} — {o.get('reason', '')}"
        for o in r["opportunities"]
    ]
    return listing(f"{r['count']} opportunit{'y' if r['count'] == 1 else 'ies'}, best first", rows, r["count"])


def metrics(r: dict[str, Any]) -> str:
    ex = r.get("execution", {})
    return (
        f"equity ${r.get('equity')}, cash ${r.get('cash')}, realized P&L ${r.get('realized_pnl')}, unrealized "
        f"${r.get('unrealized_pnl')}; {r.get('trades')} closed trade(s), win rate {r.get('win_rate')}; max "
        f"drawdown {r.get('max_drawdown_pct')}; {ex.get('orders', 0)} order(s), fill rate {ex.get('fill_rate')}; "
        f"{len(r.get('recommendations', []))} recommendation(s)"
    )


def health(r: dict[str, Any]) -> str:
    bad = [f"{c['name']}: {c['status']} — {c.get('detail', '')}" for c in r["checks"] if c["status"] != "ok"]
    head = (
        f"{'all checks ok' if r['ok'] else f'{len(bad)} check(s) not ok'}; {r['mode']} account, trading "
        f"{r['trading_state']}{': ' + r['reason'] if r['reason'] else ''}"
    )
    return listing(head, bad, len(bad))


def order_result(r: dict[str, Any]) -> str:
    o = r["order"]
    avg = f" at avg {o['avg_fill_price']}" if o.get("avg_fill_price") else ""
    return (
        f"{o['action']} {o['count']} {str(o['outcome']).upper()} {o['ticker']} at {o['price']} "
        f"({o.get('time_in_force', '')}): {o['status']}, filled {o['filled_count']}{avg}, fees {o.get('fees')}; "
        f"order_id {o['order_id']}, client_order_id {o['client_order_id']}"
    )


def amended(r: dict[str, Any]) -> str:
    o, p = r["order"], r["previous"]
    return (
        f"amended {o['order_id']}: YES@{p['yes_price']} → {o['yes_price']}, total {p['count']} → {o['count']}; "
        f"now {o['status']}, {o['remaining']} resting, {len(r['fills'])} new fill(s); client_order_id now "
        f"{o['client_order_id']}"
    )


def decreased(r: dict[str, Any]) -> str:
    return f"decreased {r['order']['order_id']} by {r['reduced_by']}: {r['remaining']} still resting (queue place kept)"


def batch(r: dict[str, Any]) -> str:
    rows = [
        f"#{i['index']}: " + (order_result({"order": i["order"]}) if i["ok"] else str(i["error"])) for i in r["results"]
    ]
    return listing(f"{r['placed']} placed, {r['failed']} failed", rows, len(rows))


def cancelled(r: dict[str, Any]) -> str:
    return f"cancelled {r['order_id']}: {r['reduced_by']} contract(s) removed from the book"


def batch_cancelled(r: dict[str, Any]) -> str:
    rows = [
        f"{i['order_id']}: " + (f"removed {i['reduced_by']}" if i.get("error") is None else str(i["error"]))
        for i in r["results"]
    ]
    return listing(f"{r['cancelled']} cancelled, {r['failed']} failed", rows, len(rows))


def cancelled_all(r: dict[str, Any]) -> str:
    return (
        f"cancelled {r['cancelled']} of {len(r['order_ids'])} resting order(s); {len(r['errors'])} error(s); "
        f"{r['remaining_resting']} still resting"
    )


def queue(r: dict[str, Any]) -> str:
    rows = [f"{q['order_id']} {q['ticker']}: {q['ahead']} contract(s) ahead" for q in r["queue_positions"]]
    return listing(f"{r['count']} resting order(s) in the queue", rows, r["count"])


def account_limits(r: dict[str, Any]) -> str:
    api = r.get("api")
    head = (
        f"API tier {api['usage_tier']}: read {api['read']['refill_rate']}/s (bucket "
        f"{api['read']['bucket_capacity']}), write {api['write']['refill_rate']}/s (bucket "
        f"{api['write']['bucket_capacity']})"
        if api
        else f"{r['mode']} account: no API rate limits"
    )
    risk = r["risk"]
    keys = ("max_order_cost", "max_daily_cost", "daily_loss_limit", "max_open_orders")
    return head + "\nrisk gate: " + ", ".join(f"{k} {risk[k]}" for k in keys if k in risk)


def trades(r: dict[str, Any]) -> str:
    rows = [
        f"{t['ts']} {t['ticker']} {t['count']} at YES {t['yes_price']} (taker bought {t['taker_outcome'].upper()})"
        for t in r["trades"]
    ]
    return listing(f"{r['count']} trade(s), newest first", rows, r["count"], r.get("cursor", ""))


def candles(r: dict[str, Any]) -> str:
    rows = [
        f"{c['end']}: YES bid {_px(c['yes_bid']['close'])} ask {_px(c['yes_ask']['close'])}, trades "
        f"{_px(c['price']['low'])}-{_px(c['price']['high'])} close {_px(c['price']['close'])}, vol {c['volume']}"
        for c in r["candles"][-LINES:]
    ]
    head = f"{r['count']} candle(s) of {r['period_minutes']} min for {r['ticker']}, oldest first"
    if r["count"] > LINES:
        head += f" (the last {LINES} below)"
    return "\n".join([head] + [f"- {_cut(x)}" for x in rows])


def events(r: dict[str, Any]) -> str:
    rows = [
        f"{e['event_ticker']} ({e['category']}, {e['status']}, {_px(e['markets'])} markets): {e['title']}"
        for e in r["events"]
    ]
    return listing(f"{r['count']} of {r['total']} matching event(s)", rows, r["count"], r.get("cursor", ""))


def series(r: dict[str, Any]) -> str:
    rows = [
        f"{s['series_ticker']} ({s['category']}, {s['frequency'] or 'no set frequency'}): {s['title']}"
        for s in r["series"]
    ]
    return listing(f"{r['count']} of {r['total']} series", rows, r["count"], r.get("cursor", ""))


def exchange_status(r: dict[str, Any]) -> str:
    state = (
        "open for trading"
        if r["exchange_active"] and r["trading_active"]
        else ("up, trading paused" if r["exchange_active"] else "down")
    )
    resume = f"; expected back {r['estimated_resume_time']}" if r.get("estimated_resume_time") else ""
    return f"exchange {state}{resume} ({r['mode']} account)"


def schedule(r: dict[str, Any]) -> str:
    windows = [f"maintenance {w['start_datetime']} → {w['end_datetime']}" for w in r["maintenance_windows"]]
    days = []
    for h in r["standard_hours"][:1]:
        days = [
            f"{d}: " + (", ".join(f"{x['open_time']}-{x['close_time']}" for x in h["days"].get(d, [])) or "closed")
            for d in ("monday", "saturday", "sunday")
        ]
    return listing(f"trading hours ({r['note']})", days + windows, len(days) + len(windows))


def limits(r: dict[str, Any]) -> str:
    return "tightened: " + ", ".join(f"{k} → {v}" for k, v in r["changed"].items())


def halted(r: dict[str, Any]) -> str:
    return (
        f"trading {r['state']}: {r['reason']}; cancelled {r['cancelled']} resting order(s), "
        f"{r['remaining_resting']} still resting{'; ' + r['error'] if r['error'] else ''}"
    )


def feed(r: dict[str, Any]) -> str:
    rows = [f"{i.get('published') or 'undated'}: {i['title']}" for i in r["items"]]
    return listing(f'feed "{r["title"]}" ({r["format"]}, {len(rows)} item(s)) — {r["note"]}', rows, len(rows))
