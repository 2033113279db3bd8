"""Kill switch, flatten and resume — the operator's controls, shared by CLI, bridge and MCP.

* ``halt``: move to HALTED (persisted in the journal), cancel every resting order (V2
  cancel-all on Kalshi, one by one on paper), block new entries. Always allowed.
* ``flatten``: close every open position with reduce-only IOC orders priced inside the
  profile's slippage bound; whatever cannot be closed is reported with the reason. A caller
  may pass ``progress`` to hear about each position as it is dealt with (the dashboard shows
  it while a long flatten runs).
* ``resume``: leave HALTED — only with an explicit confirmation.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from .domain import Leg, Market, OrderIntent, OrderStatus, Outcome
from .errors import ExchangeError, RiskDenied, UsageError
from .journal import Journal
from .money import COUNT_SCALE, Count, Price, snap
from .ports import Broker
from .profile import Profile, money
from .records import encode
from .stages.book import sell_slices
from .stages.order import OrderExecutor, client_order_id
from .stages.portfolio import load_portfolio
from .stages.risk import RiskGate, TradingState, clear_halt, halt_file, set_halted, stored_state
from .stages.valuation import spread_cap


@dataclass(slots=True)
class HaltResult:
    cancelled: int
    reason: str
    remaining_resting: int
    error: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "state": "HALTED",
            "reason": self.reason,
            "cancelled": self.cancelled,
            "remaining_resting": self.remaining_resting,
            "error": self.error,
        }


def halt(journal: Journal, broker: Broker, reason: str = "operator halt") -> HaltResult:
    """Halt trading: persist HALTED first (so nothing new starts), then cancel resting orders."""
    set_halted(journal, reason)
    error = ""
    cancelled = 0
    try:
        cancelled = broker.cancel_all()
    except ExchangeError as e:  # the halt stands; report what could not be done
        error = f"cancel-all failed: {e}"
    try:
        resting = broker.orders(status=OrderStatus.RESTING)
        for o in resting:  # belt and braces: whatever cancel-all missed, one by one
            try:
                cancelled += 1 if broker.cancel(o.order_id, o.ticker) else 0
            except ExchangeError as e:
                error = f"cancel {o.order_id} failed: {e}"
        remaining = len(broker.orders(status=OrderStatus.RESTING))
    except ExchangeError as e:
        remaining = -1
        error = error or f"could not list resting orders: {e}"
    for o in journal.orders(status=OrderStatus.RESTING):
        journal.upsert_order(_as_cancelled(o))
    journal.add_event("halt-cancel", {"cancelled": cancelled, "remaining": remaining, "error": error})
    return HaltResult(cancelled, reason, remaining, error)


def _as_cancelled(o: Any) -> Any:
    from dataclasses import replace

    return replace(o, status=OrderStatus.CANCELED, remaining_count=Count(0))


def resume(journal: Journal, *, confirm: bool) -> str:
    """Leave HALTED.

    Raises:
        UsageError: without explicit confirmation (exit 2: the command line lacks ``--confirm``).
        RiskDenied: the halt file exists (exit 6: the command is right, the halt must stay until a
            person removes the file).
    """
    if not confirm:
        raise UsageError("resuming trading needs explicit confirmation", hint="run `kalashi resume --confirm`")
    hf = halt_file(journal)
    if hf.exists():
        raise RiskDenied(
            f"the halt file {hf} exists, so trading stays halted",
            hint=f'remove it first (someone put it there to stop trading): rm "{hf}", then run '
            "`kalashi resume --confirm` again",
        )
    state, _ = stored_state(journal)
    clear_halt(journal)
    return "ACTIVE" if state is TradingState.HALTED else "ACTIVE (was not halted)"


#: receives one progress update of a long operator command (see :func:`flatten`)
Progress = Callable[[dict[str, Any]], None]


@dataclass(slots=True)
class FlattenResult:
    records: list[dict[str, Any]] = field(default_factory=list)
    closed: list[str] = field(default_factory=list)
    left_open: dict[str, str] = field(default_factory=dict)  # ticker → reason

    def to_dict(self) -> dict[str, Any]:
        return {
            "closed": self.closed,
            "left_open": self.left_open,
            "orders": [r for r in self.records if r["kind"] == "order"],
        }


def flatten(
    profile: Profile,
    journal: Journal,
    broker: Broker,
    books: Callable[[Sequence[str]], dict[str, Market]],
    now_ms: Callable[[], int] | None = None,
    progress: Progress | None = None,
) -> FlattenResult:
    """Close every open position with reduce-only IOC orders inside the slippage bound.

    ``progress`` (if given) is called before the first position and after each one with
    ``{step: "close", done, total, message}`` and, per position, ``ticker`` and ``closed`` or
    ``left_open`` (the reason); a failing callback never stops the flatten.
    """
    res = FlattenResult()
    positions = {p.ticker: p.position for p in broker.positions() if p.position != 0}

    def tell(update: dict[str, Any]) -> None:
        if progress is not None:
            try:
                progress({"step": "close", "total": len(positions), **update})
            except Exception:  # noqa: BLE001 - a listener must never stop a flatten half way
                pass

    tell({"done": 0, "message": f"closing {len(positions)} position(s)"})
    if not positions:
        return res
    state, why = stored_state(journal)
    pf = load_portfolio(journal, money(profile.paper.starting_balance), spread_cap=spread_cap(profile))
    gate = RiskGate(profile, journal, pf, state, why)
    ex = OrderExecutor(profile, broker, journal, gate, books)
    if now_ms is not None:
        ex.now_ms = now_ms
    current = books(sorted(positions))
    slip = profile.execution.max_slippage_pct
    import time

    stamp = str(int(time.time()))  # a new flatten is a new intent; retries within a second dedupe
    for done, (ticker, position) in enumerate(sorted(positions.items()), start=1):
        _close_one(ticker, position, current.get(ticker), res, gate, ex, slip, stamp)
        if ticker in res.left_open:
            tell(
                {
                    "done": done,
                    "ticker": ticker,
                    "left_open": res.left_open[ticker],
                    "message": f"{ticker}: left open — {res.left_open[ticker]}",
                }
            )
        else:
            tell({"done": done, "ticker": ticker, "closed": True, "message": f"{ticker}: closed"})
    if res.records:
        journal.add_records(res.records)
    journal.add_event("flatten", {"closed": res.closed, "left_open": res.left_open})
    return res


def _close_one(
    ticker: str,
    position: int,
    m: Market | None,
    res: FlattenResult,
    gate: RiskGate,
    ex: OrderExecutor,
    slip: Decimal,
    stamp: str,
) -> None:
    """Send the reduce-only IOC that closes one position; record it in ``res`` as closed or left open."""
    outcome: Outcome = "yes" if position > 0 else "no"
    n = Count(abs(position))
    if m is None:
        res.left_open[ticker] = "no current book for this market"
        return
    bids = m.bids(outcome)
    if not bids:
        res.left_open[ticker] = f"nobody bids for {outcome.upper()} {ticker}"
        return
    floor = snap(Price(max(1, int(bids[0][0] * (1 - slip)))), m.price_ranges, up=True) or Price(1)
    slices = sell_slices(m, outcome, n, min_price=floor)
    if not slices:
        res.left_open[ticker] = f"no bid within the {slip:.1%} slippage bound"
        return
    limit = slices[-1][0]
    leg = Leg(ticker, outcome, "sell", limit, n)
    from .domain import to_book_side

    side, yes_price = to_book_side(outcome, "sell", limit)
    intent = OrderIntent(
        client_order_id(f"flatten-{stamp}", 0, f"{ticker}:{side}:{yes_price}:{n}", "flatten"),
        ticker,
        side,
        yes_price,
        Count(n),
        time_in_force="immediate_or_cancel",
        reduce_only=True,
    )
    d = gate.check(intent, fee_type=m.fee_type, multiplier=m.fee_multiplier, trading_active=True)
    if d:
        res.left_open[ticker] = d.reason
        return
    outputs, sold = ex.send(
        intent, leg, m, reference=bids[0][0], strategy="flatten", ref=f"flatten-{stamp}", purpose="flatten"
    )
    res.records.extend(encode(o) for o in outputs)
    if sold >= n:
        res.closed.append(ticker)
    else:
        res.left_open[ticker] = (
            f"{(n - sold) / COUNT_SCALE:g} contract(s) found no buyer within the {slip:.1%} slippage bound"
        )
