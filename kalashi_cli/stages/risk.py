"""The one risk gate every order passes — CLI, run-loop, MCP, dashboard — and the trading state.

Trading state::

    ACTIVE ──(drawdown ≥ reducing, loss streak)──► REDUCING ──(daily loss, drawdown ≥ max,
       ▲                                              │        reconcile failures, operator)──► HALTED
       └──────────(conditions clear)──────────────────┘                                        │
       └──────────────────────(kalashi resume --confirm)────────────────────────────────────────┘

HALTED is stored in the journal (and can be forced by a halt file in the data dir), so it
survives restarts; REDUCING is re-derived every iteration. In REDUCING and HALTED only
orders that reduce an existing position pass. Costs are counted on the side actually bought:
selling YES at $0.01 is buying NO at $0.99 and counts as $0.99 per contract.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from enum import StrEnum
from pathlib import Path

from ..domain import ExchangeFill, ExchangeOrder, OrderIntent, OrderStatus
from ..journal import Journal, data_dir
from ..money import MULT_SCALE, ONE_DOLLAR, Count, Money, Price, fee_for, fmt_count, usd
from ..profile import Profile, money
from .portfolio import Portfolio


class TradingState(StrEnum):
    ACTIVE = "ACTIVE"
    REDUCING = "REDUCING"
    HALTED = "HALTED"


def halt_file(journal: Journal | None = None) -> Path:
    """The file whose existence halts trading (for cron and ops): ``<data dir>/HALT``."""
    return data_dir() / "HALT"


def stored_state(journal: Journal) -> tuple[TradingState, str]:
    """Return the persisted state (HALTED persists; anything else reads as ACTIVE) and reason."""
    if halt_file(journal).exists():
        return (
            TradingState.HALTED,
            f"halt file {halt_file(journal)} exists (remove it and run `kalashi resume --confirm`)",
        )
    st = journal.get_meta("trading_state", "ACTIVE") or "ACTIVE"
    reason = journal.get_meta("halt_reason", "") or ""
    return (TradingState.HALTED if st == "HALTED" else TradingState.ACTIVE), reason


def set_halted(journal: Journal, reason: str) -> None:
    journal.set_meta("trading_state", "HALTED")
    journal.set_meta("halt_reason", reason)
    journal.add_event("halt", {"reason": reason})


def clear_halt(journal: Journal, who: str = "operator") -> None:
    journal.set_meta("trading_state", "ACTIVE")
    journal.set_meta("halt_reason", "")
    journal.set_meta("reconcile_failures", "0")
    journal.add_event("resume", {"by": who})


def evaluate_state(profile: Profile, journal: Journal, p: Portfolio) -> tuple[TradingState, str]:
    """Derive the trading state from the journal and the portfolio; persist a new HALT."""
    state, reason = stored_state(journal)
    if state is TradingState.HALTED:
        return state, reason
    r = profile.risk
    day_loss = p.day_start_equity - p.equity
    dd = Decimal(p.drawdown) / max(1, p.peak_equity)
    failures = int(journal.get_meta("reconcile_failures", "0") or 0)
    halt_reason = None
    if day_loss >= money(r.daily_loss_limit):
        halt_reason = f"daily loss {usd(Money(day_loss))} reached the limit {usd(money(r.daily_loss_limit))}"
    elif dd >= r.max_drawdown_pct:
        halt_reason = f"drawdown {dd:.1%} reached the limit {r.max_drawdown_pct:.0%}"
    elif failures >= r.max_reconcile_failures:
        halt_reason = f"{failures} reconciliations in a row failed (limit {r.max_reconcile_failures})"
    if halt_reason:
        set_halted(journal, halt_reason)
        return TradingState.HALTED, halt_reason
    if dd >= r.reducing_drawdown_pct:
        return TradingState.REDUCING, f"drawdown {dd:.1%} ≥ {r.reducing_drawdown_pct:.0%}: reducing only"
    if p.consecutive_losses >= r.max_consecutive_losses:
        return TradingState.REDUCING, (
            f"{p.consecutive_losses} losses in a row ≥ {r.max_consecutive_losses}: reducing only"
        )
    return TradingState.ACTIVE, ""


@dataclass(frozen=True, slots=True)
class Denial:
    rule: str
    reason: str


@dataclass(frozen=True, slots=True)
class BasketCharge:
    """What a multi-leg trade counts against the limits as a whole, instead of each leg's cost.

    ``daily``: its worst-case loss, fees included (a riskless arbitrage: 0) — what the daily cap
    charges; ``cash``: the most cash it holds while its legs are sent in order (the sum of the
    legs' collateral, less what netting returns once several legs of a mutually exclusive event
    are held). Once sent, its legs have taken ``spend`` of cash and created ``credit`` of netting,
    which only fill-or-kill orders may lean on.
    """

    daily: Money
    cash: Money
    #: the cash its legs take in all (the gate's balance after it), and the netting credit they create
    spend: Money = Money(0)
    credit: Money = Money(0)


def order_cost(intent: OrderIntent, fee_type: str = "quadratic", multiplier: int = 10_000) -> Money:
    """Money at risk if the order fills: the side actually bought, plus the worst taker fee."""
    price = intent.price if intent.side == "bid" else ONE_DOLLAR - intent.price
    return Money(price * intent.count + fee_for(Price(price), intent.count, fee_type=fee_type, multiplier=multiplier))


def worst_fee(
    price: Price, count: Count, *, is_bid: bool, fee_type: str = "quadratic", multiplier: int = MULT_SCALE
) -> Money:
    """Return the most taker fee an order can pay: every 0.01 contract a separate fill at the worst price.

    Fees round up per fill, so many small fills cost most; a bid fills at its limit or lower
    (an ask at its limit or higher) and ``P × (1 − P)`` peaks at $0.50. This is what the
    exchange holds as collateral (:meth:`kalashi_cli.sim.matching.book.MarketBook.max_unit_fee`).
    """
    q = min(price, ONE_DOLLAR // 2) if is_bid else max(price, ONE_DOLLAR // 2)
    return Money(fee_for(Price(q), Count(1), fee_type=fee_type, multiplier=multiplier) * count)


def order_collateral(intent: OrderIntent, fee_type: str = "quadratic", multiplier: int = MULT_SCALE) -> Money:
    """Return the cash the exchange holds back for ``intent``: the side bought plus :func:`worst_fee`."""
    price = intent.price if intent.side == "bid" else ONE_DOLLAR - intent.price
    return Money(
        price * intent.count
        + worst_fee(intent.price, intent.count, is_bid=intent.side == "bid", fee_type=fee_type, multiplier=multiplier)
    )


def reduces(intent: OrderIntent, position: int) -> bool:
    """Whether the order only brings an existing position towards zero."""
    if intent.side == "ask":
        return position > 0 and intent.count <= position
    return position < 0 and intent.count <= -position


def resting_collateral(
    orders: Iterable[ExchangeOrder], positions: Mapping[str, int], netted: Collection[str] = ()
) -> Money:
    """Return the cash resting orders could still take: what the exchange holds back for them.

    Per market and side (the exchange's rule, :mod:`kalashi_cli.sim.matching.accounts`): each
    resting buy costs its price times what remains plus :func:`worst_fee` (at the standard fee
    schedule: the journal does not keep each market's), less $1 for every
    contract it would close against the opposite position (a closing fill returns $1 a pair).
    Without this the gate would see cash that quotes already hold and pass orders the exchange
    then refuses for balance. In ``netted`` markets (mutually exclusive events) a closing order
    gets no such discount: the netting credit already counted the pair's $1.
    """
    bids: dict[str, list[int]] = {}
    asks: dict[str, list[int]] = {}
    for o in orders:
        if o.remaining_count <= 0:
            continue
        price = o.price if o.side == "bid" else ONE_DOLLAR - o.price
        acc = (bids if o.side == "bid" else asks).setdefault(o.ticker, [0, 0])
        acc[0] += price * o.remaining_count + worst_fee(o.price, o.remaining_count, is_bid=o.side == "bid")
        acc[1] += o.remaining_count
    total = 0
    for side, book in (("bid", bids), ("ask", asks)):
        for ticker, (cost, count) in book.items():
            pos = 0 if ticker in netted else positions.get(ticker, 0)
            closes = min(count, max(0, -pos) if side == "bid" else max(0, pos))
            total += max(0, cost - ONE_DOLLAR * closes)
    return Money(total)


def _as_resting(intent: OrderIntent) -> ExchangeOrder:
    return ExchangeOrder(
        "",
        intent.client_order_id,
        intent.ticker,
        intent.side,
        intent.price,
        OrderStatus.RESTING,
        intent.count,
        Count(0),
        intent.count,
    )


def resting_cost(orders: Iterable[ExchangeOrder]) -> Money:
    """Return what resting orders would spend if they filled: the side bought times what remains."""
    return Money(
        sum(
            (o.price if o.side == "bid" else ONE_DOLLAR - o.price) * o.remaining_count
            for o in orders
            if o.remaining_count > 0
        )
    )


class RiskGate:
    """Checks one order against the limits and the trading state; says why when it refuses."""

    def __init__(
        self, profile: Profile, journal: Journal, portfolio: Portfolio, state: TradingState, state_reason: str = ""
    ) -> None:
        self.profile = profile
        self.journal = journal
        self.portfolio = portfolio
        self.state = state
        self.state_reason = state_reason
        self.sent_cost = 0  # what orders admitted in this run may spend (counts against the daily cap)
        self.reserved = 0  # cost of every order admitted in this run (counts against cash)
        self.credit_gained = 0  # netting credit this run's baskets created (fill-or-kill orders may use it)
        self._blocked = journal.blocked_tickers()
        resting = journal.orders(status=OrderStatus.RESTING)
        self._open_orders = len(resting)
        self._resting_seen = len(resting)
        #: cash the exchange holds for quotes resting from earlier iterations
        self._netted = set(journal.netted_tickers())
        self.held = resting_collateral(
            resting, {t: p.position for t, p in portfolio.ledger.positions.items()}, self._netted
        )
        #: what quotes resting from earlier iterations would spend: they count against the daily cap
        self.resting_cost = resting_cost(resting)

    @property
    def available(self) -> Money:
        """Cash an order may still use: the fill ledger's cash less resting collateral and this run's orders,
        plus the collateral netting returns on mutually exclusive events (docs/paper-fills.md §6)."""
        return Money(
            self.portfolio.cash - self.held - self.reserved + self.portfolio.netting_credit + self.credit_gained
        )

    def available_for(self, intent: OrderIntent) -> Money:
        """Cash ``intent`` may use (every order alike: the exchange counts the netting credit as balance)."""
        return self.available

    def refresh_resting(self) -> None:
        """Re-read what quotes resting from earlier iterations hold and may spend (after cancelling some)."""
        resting = self.journal.orders(status=OrderStatus.RESTING)
        self._open_orders = len(resting) + self._open_orders - self._resting_seen
        self._resting_seen = len(resting)
        self.held = resting_collateral(
            resting, {t: p.position for t, p in self.portfolio.ledger.positions.items()}, self._netted
        )
        self.resting_cost = resting_cost(resting)

    @property
    def committed_today(self) -> Money:
        """Spent today, held by resting quotes, and admitted in this run: what the daily cap counts."""
        return Money(self.portfolio.today_cost + self.resting_cost + self.sent_cost)

    def check(
        self,
        intent: OrderIntent,
        *,
        fee_type: str = "quadratic",
        multiplier: int = 10_000,
        stale: bool = False,
        trading_active: bool = True,
        pending: Money = Money(0),
        concentration: tuple[str, str] | None = None,
        basket: BasketCharge | None = None,
    ) -> Denial | None:
        """Return why ``intent`` may not be sent, or None.

        ``pending`` is the cost of the basket's legs already checked but not yet admitted: a
        basket must fit the caps and the cash as a whole before its first leg is sent.
        ``basket`` (a multi-leg trade's :class:`BasketCharge`) replaces the legs' costs in the
        daily cap and the cash check by the basket's worst case and peak cash.
        ``concentration`` = (event, group) also applies the position, group and event caps —
        for orders that did not come through ``correlate`` (an agent's or a person's order).
        Resting quotes count against the daily cap like taker orders: their cost may be spent.
        """
        pos = self.portfolio.ledger.positions.get(intent.ticker)
        position = pos.position if pos else 0
        reducing = reduces(intent, position)
        denial = self._check_admissible(intent, position, reducing, trading_active=trading_active, stale=stale)
        if denial is not None:
            return denial
        if reducing:
            return self._check_closing_collateral(intent, fee_type, multiplier)
        cost = order_cost(intent, fee_type, multiplier)
        denial = self._check_caps(intent, cost, pending=pending, concentration=concentration, basket=basket)
        if denial is not None:
            return denial
        return self._check_balance(intent, fee_type, multiplier, pending=pending, basket=basket)

    def _check_admissible(
        self, intent: OrderIntent, position: int, reducing: bool, *, trading_active: bool, stale: bool
    ) -> Denial | None:
        """The checks every order passes, reducing or not, in order: a positive size, a reduce_only order
        that really reduces, an active exchange, a market without unknown outcomes, a fresh book, and a
        trading state that admits the order."""
        if intent.count <= 0:
            return Denial("size", "order count must be positive")
        if intent.reduce_only and not reducing:
            # a reduce_only order skips the cost caps below, so it must really only reduce
            held = (
                f"holds {fmt_count(Count(abs(position)))} {'YES' if position > 0 else 'NO'}"
                if position
                else "holds nothing"
            )
            return Denial(
                "reduce-only",
                f"a reduce_only order may only bring a position towards zero: "
                f"{intent.ticker} {held}, and this order would "
                f"{'sell YES / buy NO' if intent.side == 'ask' else 'buy YES / sell NO'} "
                f"{fmt_count(intent.count)}",
            )
        if not trading_active:
            return Denial("exchange", "the exchange reports trading is not active (pause or maintenance)")
        if intent.ticker in self._blocked:
            return Denial(
                "unknown-outcome",
                f"an earlier order on {intent.ticker} has an unknown outcome; "
                "no writes on this market until reconciliation (`kalashi reconcile`)",
            )
        if stale:
            return Denial("stale-book", f"the book for {intent.ticker} is stale (sequence gap or old data)")
        if self.state is TradingState.HALTED and not reducing:
            return Denial(
                "halted",
                f"trading is HALTED ({self.state_reason or 'operator'}); only reducing "
                "orders pass — `kalashi resume --confirm` lifts it",
            )
        if self.state is TradingState.REDUCING and not reducing:
            return Denial("reducing", f"trading is REDUCING ({self.state_reason}); no new entries")
        return None

    def _check_closing_collateral(self, intent: OrderIntent, fee_type: str, multiplier: int) -> Denial | None:
        """A reducing order skips the caps; only on a netted (mutually exclusive) event must it fit the cash."""
        if intent.ticker in self._netted:
            # on a mutually exclusive event the exchange holds collateral for a closing order like for
            # an opening one (the pair's $1 is already in the netting credit): the caps do not apply,
            # the balance does
            need = order_collateral(intent, fee_type, multiplier)
            if need > self.available_for(intent):
                return Denial(
                    "balance",
                    f"order needs {usd(need)} (a closing order on a mutually exclusive "
                    f"event is collateralised like an opening one), above available cash "
                    f"{usd(Money(max(0, self.available_for(intent))))}",
                )
        return None

    def _check_caps(
        self,
        intent: OrderIntent,
        cost: Money,
        *,
        pending: Money,
        concentration: tuple[str, str] | None,
        basket: BasketCharge | None,
    ) -> Denial | None:
        """An opening order's limits, in order: the per-order cap, the daily cap, the open-order cap and
        (for orders that did not come through ``correlate``) the concentration caps."""
        r = self.profile.risk
        if cost > money(r.max_order_cost):
            return Denial(
                "max-order-cost", f"order cost {usd(cost)} exceeds the per-order cap {usd(money(r.max_order_cost))}"
            )
        adds = basket.daily if basket is not None else pending + cost
        daily = self.committed_today + adds
        if adds > 0 and daily > money(r.max_daily_cost):  # an order that can lose nothing spends nothing
            return Denial(
                "max-daily-cost",
                f"today's spending, resting quotes and this order would reach "
                f"{usd(Money(daily))}, above the daily cap {usd(money(r.max_daily_cost))}",
            )
        if self._open_orders >= r.max_open_orders and intent.time_in_force == "good_till_canceled":
            return Denial("max-open-orders", f"{self._open_orders} orders already rest (cap {r.max_open_orders})")
        if concentration is not None:
            d = self._concentration(intent.ticker, *concentration, Money(cost + pending))
            if d:
                return d
        return None

    def _check_balance(
        self, intent: OrderIntent, fee_type: str, multiplier: int, *, pending: Money, basket: BasketCharge | None
    ) -> Denial | None:
        """An opening order (or a whole basket, at its peak cash) must fit the available cash."""
        need = order_collateral(intent, fee_type, multiplier)
        if basket is not None:
            need, pending = basket.cash, Money(0)
        if need + pending > self.available_for(intent):
            what = (
                f"the basket needs {usd(need)} at most while its legs are sent"
                if basket is not None
                else f"order needs {usd(need)}"
                + (f" (with the basket's other legs {usd(Money(need + pending))})" if pending else "")
            )
            return Denial(
                "balance",
                f"{what} exceeds available cash {usd(Money(max(0, self.available_for(intent))))}"
                + (f" ({usd(self.held)} is held by resting quotes)" if self.held else ""),
            )
        return None

    def _concentration(self, ticker: str, event: str, group: str, cost: Money) -> Denial | None:
        """The correlate stage's caps (share of equity per position, group and event) for one order."""
        c, p = self.profile.correlate, self.portfolio
        equity = Decimal(max(0, p.equity))
        for what, pct, held in (
            ("position", c.max_position_pct, p.exposure_by_ticker.get(ticker, 0)),
            ("group", c.max_group_pct, p.exposure_by_group.get(group, 0)),
            ("event", c.max_event_pct, p.exposure_by_event.get(event, 0)),
        ):
            cap = int(equity * pct)
            if held + cost > cap:
                name = {"position": ticker, "group": group, "event": event}[what]
                return Denial(
                    f"max-{what}",
                    f"{what} {name} would carry {usd(Money(held + cost))}, above its "
                    f"concentration cap {usd(Money(cap))} ({pct * 100:.0f}% of equity {usd(p.equity)})",
                )
        return None

    def is_reducing(self, intent: OrderIntent) -> bool:
        """Whether ``intent`` only brings the current position in its market towards zero."""
        pos = self.portfolio.ledger.positions.get(intent.ticker)
        return reduces(intent, pos.position if pos else 0)

    def admit(
        self,
        intent: OrderIntent,
        fee_type: str = "quadratic",
        multiplier: int = 10_000,
        *,
        charge: BasketCharge | None = None,
    ) -> None:
        """Count an order that passed and is being sent against this run's limits.

        ``charge`` is what this leg counts for its basket (the basket's first leg carries the
        whole :class:`BasketCharge`, the others nothing).
        """
        pos = self.portfolio.ledger.positions.get(intent.ticker)
        if charge is not None:
            self.reserved += charge.spend
            self.credit_gained += charge.credit
            self.sent_cost += charge.daily
        elif not (intent.reduce_only or reduces(intent, pos.position if pos else 0)):
            self.reserved += order_collateral(intent, fee_type, multiplier)
            self.sent_cost += order_cost(intent, fee_type, multiplier)
        elif intent.ticker in self._netted:  # a closing order there holds collateral too (see check)
            self.reserved += order_collateral(intent, fee_type, multiplier)
        if intent.time_in_force == "good_till_canceled":
            self._open_orders += 1

    def release(self, charge: BasketCharge) -> None:
        """Take back what a basket was admitted at when none of its legs filled: the exchange holds nothing
        for it and its legs net nothing (keeping its netting credit would let later orders spend cash the
        exchange does not count)."""
        self.reserved -= charge.spend
        self.credit_gained -= charge.credit
        self.sent_cost -= charge.daily

    def settle(
        self,
        intent: OrderIntent,
        fills: Iterable[ExchangeFill],
        remaining: Count,
        fee_type: str = "quadratic",
        multiplier: int = MULT_SCALE,
    ) -> None:
        """Replace a single order's admitted charge by what it really did: its fills, and what still rests.

        The next run reads the same from the journal (today's fills, resting quotes), so a run
        that is repeated sees the limits exactly as the first one left them.
        """
        pos = self.portfolio.ledger.positions.get(intent.ticker)
        if intent.reduce_only or reduces(intent, pos.position if pos else 0):
            return
        spent = sum((f.price if f.side == "bid" else ONE_DOLLAR - f.price) * f.count + f.fee for f in fills)
        rest = (
            replace(intent, count=remaining) if remaining > 0 and intent.time_in_force == "good_till_canceled" else None
        )
        self.sent_cost += (
            spent + (resting_cost([_as_resting(rest)]) if rest else 0) - order_cost(intent, fee_type, multiplier)
        )
        self.reserved += (
            spent
            + (order_collateral(rest, fee_type, multiplier) if rest else 0)
            - order_collateral(intent, fee_type, multiplier)
        )

    def replacing(self, order_id: str) -> None:
        """Check the next order as the replacement of resting order ``order_id`` (an amend).

        The order's collateral, its cost against the daily cap and its open-order slot are freed
        first, so the amended order is weighed as a whole — price and size — against the caps and
        the cash, not on top of itself.
        """
        resting = self.journal.orders(status=OrderStatus.RESTING)
        rest = [o for o in resting if o.order_id != order_id]
        if len(rest) == len(resting):
            return
        self._open_orders -= 1
        self.held = resting_collateral(
            rest, {t: p.position for t, p in self.portfolio.ledger.positions.items()}, self._netted
        )
        self.resting_cost = resting_cost(rest)

    def block(self, ticker: str) -> None:
        self._blocked.add(ticker)

    # -- quotes already resting: cancels, amends, decreases pass here too ------------------------
    def check_cancel(self, order: ExchangeOrder) -> Denial | None:
        """Return why a resting order may not be cancelled or shrunk now, or None.

        Taking risk off is always allowed — in REDUCING and HALTED too, and during an exchange
        trading pause (Kalshi accepts cancels then) — except on a market with a write whose
        outcome is unknown: what rests there is not known until reconciliation.
        """
        if order.ticker in self._blocked:
            return Denial(
                "unknown-outcome",
                f"an earlier order on {order.ticker} has an unknown outcome; "
                "no writes on this market until reconciliation (`kalashi reconcile`)",
            )
        return None

    def _held_by(self, o: ExchangeOrder) -> tuple[Money, Money]:
        """(collateral, cost) a resting order counts for: nothing when it only reduces the position."""
        if o.remaining_count <= 0:
            return Money(0), Money(0)
        pos = self.portfolio.ledger.positions.get(o.ticker)
        rest = OrderIntent(o.client_order_id, o.ticker, o.side, o.price, o.remaining_count)
        if o.ticker not in self._netted and reduces(rest, pos.position if pos else Count(0)):
            return Money(0), Money(0)
        return order_collateral(rest), resting_cost([o])

    def _free(self, o: ExchangeOrder) -> None:
        coll, cost = self._held_by(o)
        self.held = Money(self.held - coll)
        self.resting_cost = Money(self.resting_cost - cost)
        self._open_orders -= 1

    def release_quote(self, order: ExchangeOrder) -> None:
        """Count a resting order cancelled (or replaced): what it held is free for the rest of this run."""
        self._free(order)

    def hold_quote(self, order: ExchangeOrder) -> None:
        """Count an order now resting that this run did not admit (the result of an amend or decrease)."""
        coll, cost = self._held_by(order)
        self.held = Money(self.held + coll)
        self.resting_cost = Money(self.resting_cost + cost)
        self._open_orders += 1
