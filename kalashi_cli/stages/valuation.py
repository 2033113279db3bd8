"""valuation: what an open position is worth now — one rule for equity, risk, metrics, the dashboard and MCP.

The rule, per market, in the held outcome's price (a NO contract is worth ``1 −`` the YES price):

=======================================  =====================================================
the market                               a contract is worth
=======================================  =====================================================
settled (the journal has its payout)     nothing here: the payout is cash (the ledger closed it)
determined (result known, not paid yet)  the result: $1 or $0 (a scalar's value)
open, book two-sided                     its **mark**: the held side's best bid plus half the
                                         spread, the spread counted up to
                                         ``valuation.mid_spread_cap`` ($0.04) — the mid of a
                                         tight book; a wide book at most $0.02 above what the
                                         position sells for now; never below the bid
open, only the held side bids            that bid, or the last mark when it is higher (by at
                                         most half the cap)
open, only the other side bids           the last mark (below), never more than the ask
closed, paused, an empty book, unknown   the last mark: the mark of the last two-sided book the
                                         loop saw (its top of book is kept in the journal, so a
                                         restart remembers it), else the market's last trade,
                                         else what the position cost
=======================================  =====================================================

Positions held in one mutually exclusive event are worth, together, at least what they are sure to
pay whichever outcome wins (a NO basket on N outcomes: N − 1 per basket): a hedged basket is never
valued below its guaranteed payout because its legs' single books are thin, and that guaranteed
part counts as settled.

So a market that closes keeps its last mark until the result is known, and the step from the
mark to the result is the only move a close → determined → settled sequence makes to equity:
an empty book is never a loss. Every position's value says which rule gave it (``basis``) and
when the mark was taken; equity splits into what rests on marks and what is settled (cash and
known results).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum

from ..domain import Market
from ..journal import MarkRow
from ..ledger import PositionState, netting_credit
from ..money import ONE_DOLLAR, Count, Money, Price, flip, notional, parse_price
from ..profile import Profile


class Basis(StrEnum):
    """Which rule valued a position."""

    BOOK = "book"  # the current book: the mid, floored at the held side's bid
    LAST = "last"  # the last trustworthy mark (last mid, else last trade), the book being closed or empty
    RESULT = "result"  # the market's result is known (determined): the payout to come
    COST = "cost"  # never marked: at what it cost (neither gain nor loss assumed)


@dataclass(frozen=True, slots=True)
class PositionValue:
    """One open position valued by the rule."""

    ticker: str
    position: Count  # +YES / −NO
    value: Money
    basis: Basis
    as_of_ms: int  # when the mark it rests on was taken (0: unknown)
    #: the part of ``value`` that is certain: its share of what its mutually exclusive event is sure to pay
    sure: Money = Money(0)

    @property
    def price(self) -> Price:
        """Value per contract of the held outcome (rounded down)."""
        n = abs(self.position)
        return Price(self.value // n if n else Price(0))

    @property
    def settled(self) -> bool:
        return self.basis is Basis.RESULT


@dataclass(frozen=True, slots=True)
class Valuation:
    """Open positions valued; ``marked`` rests on marks, ``determined`` on known results."""

    positions: tuple[PositionValue, ...] = ()

    @property
    def total(self) -> Money:
        return Money(sum(p.value for p in self.positions))

    @property
    def determined(self) -> Money:
        """What open positions are sure to pay: known results, and what hedged exclusive events guarantee."""
        return Money(sum(p.value if p.settled else p.sure for p in self.positions))

    @property
    def marked(self) -> Money:
        """The rest of their value: what rests on marks."""
        return Money(self.total - self.determined)

    def by_basis(self) -> dict[str, int]:
        """How many positions each rule valued."""
        out: dict[str, int] = {}
        for p in self.positions:
            out[p.basis.value] = out.get(p.basis.value, 0) + 1
        return out


def result_price(m: Market) -> Price | None:
    """The YES payout once the market's result is known (determined or settled), else None."""
    if m.result == "yes":
        return m.settlement_value if m.settlement_value is not None else ONE_DOLLAR
    if m.result == "no":
        return m.settlement_value if m.settlement_value is not None else Price(0)
    if m.result == "scalar":
        return m.settlement_value
    return None


def mark_of(m: Market, ts_ms: int) -> MarkRow | None:
    """The mark a market gives now: its YES mid (and top of book) when it trades with a two-sided book."""
    if m.status != "active" or m.result or m.yes_bid is None or m.yes_ask is None or m.yes_bid > m.yes_ask:
        return None
    return MarkRow(m.ticker, ts_ms, Price((m.yes_bid + m.yes_ask) // 2), m.yes_bid, m.yes_ask)


#: ``valuation.mid_spread_cap`` of the default profile, in price units ($0.04)
DEFAULT_SPREAD_CAP: Price = Price(400)


def mark_value(n: Count, yes: bool, yes_bid: Price, yes_ask: Price, cap: Price) -> Money:
    """``n`` contracts of the held outcome marked on a two-sided book: its bid plus half the spread, the
    spread counted up to ``cap`` (rounded down)."""
    bid = yes_bid if yes else ONE_DOLLAR - yes_ask
    spread = max(0, yes_ask - yes_bid)
    return Money(n * bid + n * min(spread, cap) // 2)


def _last_value(n: Count, yes: bool, last: MarkRow, cap: Price) -> Money:
    """The value at the last mark: the same rule on the top of book it kept (its mid when that is all)."""
    if last.yes_bid is not None and last.yes_ask is not None:
        return mark_value(n, yes, last.yes_bid, last.yes_ask, cap)
    return Money(n * (last.mid if yes else ONE_DOLLAR - last.mid))


def value_position(
    pos: PositionState, market: Market | None, last: MarkRow | None, now_ms: int, cap: Price = DEFAULT_SPREAD_CAP
) -> PositionValue:
    """Value one open position by the rule in the module docstring (``cap``: ``valuation.mid_spread_cap``)."""
    n = Count(abs(pos.position))
    yes = pos.position > 0

    def fallback() -> tuple[Money, Basis, int]:
        if last is not None:
            return _last_value(n, yes, last, cap), Basis.LAST, last.ts_ms
        if market is not None and market.last_price is not None:
            return notional(market.last_price if yes else flip(market.last_price), n), Basis.LAST, 0
        return pos.cost, Basis.COST, 0

    if market is not None:
        result = result_price(market)
        if result is not None:
            return PositionValue(
                pos.ticker, pos.position, Money(n * (result if yes else ONE_DOLLAR - result)), Basis.RESULT, now_ms
            )
    if market is None or market.status != "active":
        value, basis, ts = fallback()
        return PositionValue(pos.ticker, pos.position, value, basis, ts)
    bid = market.yes_bid if yes else market.no_bid  # what the held outcome sells for
    ask = market.yes_ask if yes else market.no_ask  # what it could be bought for
    if bid is not None and ask is not None and bid <= ask:
        value = mark_value(n, yes, market.yes_bid, market.yes_ask, cap)  # type: ignore[arg-type]
        return PositionValue(pos.ticker, pos.position, value, Basis.BOOK, now_ms)
    if bid is not None:
        value = Money(n * bid)
        if last is not None:
            value = Money(max(value, min(_last_value(Count(n), yes, last, cap), value + n * cap // 2)))
        return PositionValue(pos.ticker, pos.position, value, Basis.BOOK, now_ms)
    value, basis, ts = fallback()
    if ask is not None:
        value = Money(min(value, n * ask))
    return PositionValue(pos.ticker, pos.position, value, basis, ts)


def value_positions(
    positions: Iterable[PositionState],
    markets: Mapping[str, Market],
    last_marks: Mapping[str, MarkRow],
    now_ms: int,
    cap: Price = DEFAULT_SPREAD_CAP,
    netted: Mapping[str, str] | None = None,
) -> Valuation:
    """Value every open position (``markets``: the current books, ``last_marks``: the journal's).

    ``netted`` maps the tickers of mutually exclusive events to their event: the positions held in
    one such event are worth at least what they are sure to pay whichever outcome wins
    (:func:`kalashi_cli.ledger.netting_credit` — a NO basket: all legs but one), however low their
    single marks; that much of their value is certain (``sure``), the rest rests on marks.
    """
    values = [
        value_position(p, markets.get(p.ticker), last_marks.get(p.ticker), now_ms, cap)
        for p in positions
        if p.position != 0
    ]
    if netted:
        by_event: dict[str, list[int]] = {}
        for i, v in enumerate(values):
            ev = netted.get(v.ticker)
            if ev is not None and not v.settled:
                by_event.setdefault(ev, []).append(i)
        for idx in by_event.values():
            sure = netting_credit({values[i].ticker: values[i].position for i in idx}, netted)
            if sure <= 0:
                continue
            short = max(0, sure - sum(values[i].value for i in idx))
            counts = [abs(values[i].position) for i in idx]
            total = sum(counts)
            for k, i in enumerate(idx):  # shares by count; the rounding goes to the first
                share = sure * counts[k] // total + (sure - sum(sure * c // total for c in counts) if k == 0 else 0)
                lift = short * counts[k] // total + (short - sum(short * c // total for c in counts) if k == 0 else 0)
                values[i] = replace(values[i], value=Money(values[i].value + lift), sure=Money(share))
    return Valuation(tuple(values))


def spread_cap(profile: Profile) -> Price:
    """``valuation.mid_spread_cap`` in price units."""
    return parse_price(profile.valuation.mid_spread_cap)
