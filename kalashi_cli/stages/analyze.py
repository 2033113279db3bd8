"""analyze: find trades worth making, every edge net of the fees that would be paid.

Three strategies (ARCHITECTURE §4):

* **arbitrage** — baskets with a guaranteed payoff in every outcome:
  - NO on every outcome of a mutually exclusive event pays at least N − 1;
  - YES on every outcome of a mutually exclusive and exhaustive event pays exactly 1 (only when
    the source says how many markets the event has and all are present);
  - strike ladders: YES "above K1" + NO "above K2" (K1 < K2) pays at least 1 whatever happens
    (likewise NO "below K1" + YES "below K2");
  size is walked level by level on every leg and stops where the next slice stops paying.
* **spread** — the market maker (:mod:`.making`): a post-only YES bid and NO bid around fair value
  (the mid, or a fair value when one exists) in markets whose spread is wide enough, each side
  only where it earns ``min_edge`` after the maker fee and the adverse-selection allowance of the
  market's class. Here for a flat position; the loop's quote manager adds inventory skew and
  limits and keeps the quotes up to date.
* **value** — a fair probability against the executable ask after taker fees, only where a
  fair value exists: ``fair`` records (``analyze --fair``; ``kalashi fair`` or your own model),
  the profile's built-in models (``fair.models``: ladder, crypto, crypto-t — run per event
  here, so run-loop and a backtest get them too), or the sim's demo forecast. The edge must
  clear ``value.min_edge`` plus ``fair.uncertainty_multiple`` × the value's standard error; a
  value computed more than ``fair.max_age_seconds`` before the books is ignored.

``score = edge × confidence × liquidity``. Results are cached (cachetools TTL/LRU) under a key
that contains the book itself, so a changed book can never be served stale.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

from cachetools import TTLCache

from ..domain import FairValue, Leg, Market, Opportunity, Outcome
from ..money import COUNT_SCALE, ONE_DOLLAR, Count, Money, Price, fee_for, flip, parse_money, usd, usd_price
from ..profile import Profile
from .book import slices_cost, slices_count, slices_fees
from .making import MakerParams, plan_quotes
from .scan import close_ms

if TYPE_CHECKING:
    from ..fair.base import FairEngine

ONE = COUNT_SCALE  # one contract in count units
ABOVE = ("greater", "greater_or_equal")
BELOW = ("less", "less_or_equal")


@dataclass(slots=True)
class CacheStats:
    hits: int = 0
    misses: int = 0

    @property
    def hit_rate(self) -> Decimal:
        total = self.hits + self.misses
        return Decimal(self.hits) / total if total else Decimal(0)


def opportunity_id(strategy: str, legs: Sequence[Leg], as_of_ms: int, src: str = "") -> str:
    """Return a deterministic id: the same trade on the same books — and only that — gets the same id.

    The books are named by their time and source (``as_of_ms``, ``src``); the legs' prices and
    counts are part of the trade, so two captures that happen to share a time differ anyway.
    """
    key = f"{strategy}|{as_of_ms}|{src}|" + "|".join(
        f"{x.ticker}:{x.outcome}:{x.action}:{x.price}:{x.count}" for x in legs
    )
    return "op-" + hashlib.sha256(key.encode()).hexdigest()[:20]


def _d(m: Money) -> Decimal:
    return Decimal(m).scaleb(-6)


def _q(x: Decimal, places: int = 4) -> Decimal:
    return x.quantize(Decimal(1).scaleb(-places))


class Analyzer:
    """Turns a stream of markets into a stream of opportunities (stateful only in its cache)."""

    def __init__(
        self,
        profile: Profile,
        *,
        fair: Mapping[str, FairValue | Price] | None = None,
        models: FairEngine | None = None,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        """``fair``: values by ticker (records, a file, or bare prices); ``models``: an engine to run
        per event instead of the one the profile's ``fair.models`` names (built on first use)."""
        self.profile = profile
        self.settings = profile.analyze
        self.fair: dict[str, FairValue] = {t: _as_fair(t, v) for t, v in (fair or {}).items()}
        self._engine = models
        self._engine_wanted = models is None and bool(profile.fair.models)
        self._uncertainty = profile.fair.uncertainty_multiple
        self._max_age_ms = int(profile.fair.max_age_seconds * 1000)
        self._cache: TTLCache[str, tuple[Any, tuple[Opportunity, ...]]] = TTLCache(
            maxsize=self.settings.cache.max_entries, ttl=self.settings.cache.ttl_seconds, timer=timer
        )
        self.stats = CacheStats()
        self._liq_ref = int(self.settings.liquidity_reference * ONE)
        a = self.settings
        self._arb_min = parse_money(a.arbitrage.min_edge)
        self._spread_min = parse_money(a.spread.min_edge)
        self._spread_width = int(a.spread.min_spread * ONE_DOLLAR)
        self._maker = MakerParams.from_profile(profile)
        #: the fair value each market was last analysed with (the market maker and the exits use them)
        self.last_fair: dict[str, FairValue] = {}
        self._value_min = parse_money(a.value.min_edge)
        self._stop_ms = {
            "arbitrage": a.arbitrage.stop_before_close_seconds * 1000,
            "spread": a.spread.stop_before_close_seconds * 1000,
            "value": a.value.stop_before_close_seconds * 1000,
        }

    # -- public ----------------------------------------------------------------------------
    def analyze(self, markets: Iterable[Market], *, as_of_ms: int = 0, src: str = "") -> Iterator[Opportunity]:
        """Yield opportunities as each event's markets have been seen (streams per event), all on books
        of time ``as_of_ms`` from source ``src``."""
        return self.analyze_stamped((m, as_of_ms, src) for m in markets)

    def analyze_stamped(self, markets: Iterable[tuple[Market, int, str]]) -> Iterator[Opportunity]:
        """Like :meth:`analyze` for markets that each carry their books' (time, source).

        An event is finished when the next market belongs to another event or to other books
        (another time or source: several captures in one input), and each opportunity takes the
        time and source of the markets it was built from.
        """
        group: list[Market] = []
        current: tuple[str, int, str] | None = None
        for m, as_of_ms, src in markets:
            key = (m.event_ticker, as_of_ms, src)
            if key != current and group and current is not None:
                yield from self._finish(group, current[1], current[2])
                group = []
            current = key
            group.append(m)
        if group and current is not None:
            yield from self._finish(group, current[1], current[2])

    # -- per event ---------------------------------------------------------------------------
    def _open_for(self, m: Market, strategy: str, as_of_ms: int) -> bool:
        """Whether ``strategy`` may still open positions in ``m``: not within its stop before the close."""
        stop = self._stop_ms[strategy]
        if not stop or not as_of_ms:
            return True
        c = close_ms(m)
        # a close time already past while the market still says active: the status wins (Kalshi moves
        # close times; a recording's clock may lag) — only a close still ahead stops the strategy
        return c is None or not 0 <= c - as_of_ms <= stop

    def _finish(self, group: list[Market], as_of_ms: int, src: str) -> Iterator[Opportunity]:
        found: list[Opportunity] = []
        if self.settings.arbitrage.enabled and len(group) >= 2:
            legs = [m for m in group if self._open_for(m, "arbitrage", as_of_ms)]
            if len(legs) >= 2:
                found.extend(
                    self._cached(
                        legs[0].event_ticker,
                        tuple(_book_key(m) for m in legs),
                        lambda: self._arbitrage(legs, complete=len(legs) == len(group)),
                    )
                )
        # Single-market checks are cheaper than a cache lookup (most markets fail on the top of
        # book), so only the event-level arbitrage search — the expensive part — is cached.
        modelled = self._model_values(group, as_of_ms)
        for m in group:
            fair = self.fair.get(m.ticker) or modelled.get(m.ticker)
            if fair is None and self.settings.value.use_sim_forecast and m.forecast_p is not None:
                fair = FairValue(m.ticker, Decimal(m.forecast_p).scaleb(-4), "sim-forecast")
            if fair is not None and self._stale(fair, as_of_ms):
                fair = None
            if fair is not None:
                self.last_fair[m.ticker] = fair
            else:
                self.last_fair.pop(m.ticker, None)
            found.extend(self._single(m, fair, as_of_ms))
        found.sort(key=lambda o: o.score, reverse=True)
        for o in found:
            yield replace(o, id=opportunity_id(o.strategy, o.legs, as_of_ms, src), as_of_ms=as_of_ms, src=src)

    @property
    def engine(self) -> FairEngine | None:
        """The built-in models this analyzer runs (the profile's ``fair.models``), built on first use."""
        if self._engine is None and self._engine_wanted:
            from ..fair.models import build_engine

            self._engine_wanted = False
            self._engine = build_engine(self.profile.fair)
        return self._engine

    def _model_values(self, group: list[Market], as_of_ms: int) -> dict[str, FairValue]:
        if not self.settings.value.enabled:
            return {}
        engine = self.engine
        return engine.fair_for(group, as_of_ms) if engine is not None else {}

    def _stale(self, fair: FairValue, as_of_ms: int) -> bool:
        """A value computed well before the books it would be compared with is not used."""
        return bool(self._max_age_ms and fair.inputs_ms and as_of_ms and as_of_ms - fair.inputs_ms > self._max_age_ms)

    def close(self) -> None:
        """Release the built-in models (a live spot feed they share lives as long as the process)."""
        if self._engine is not None:
            self._engine.close()

    def _cached(
        self, event: str, books: Any, compute: Callable[[], tuple[Opportunity, ...]]
    ) -> tuple[Opportunity, ...]:
        """Return the event's arbitrage from the cache when its books are exactly those seen before.

        One entry per event, holding the books it was computed on: a changed book is a miss
        and replaces the entry in place (no dead entries). A full cache admits no new events
        until TTL frees room — every iteration walks the events in the same order, and under
        plain LRU a universe larger than the cache would evict each entry just before it is
        asked for again, so nothing would ever hit.
        """
        entry = self._cache.get(event)
        if entry is not None and entry[0] == books:
            self.stats.hits += 1
            return entry[1]
        self.stats.misses += 1
        value = compute()
        cache = self._cache
        if entry is None and len(cache) >= cache.maxsize:
            cache.expire()  # make room from entries past their TTL, if any
        if entry is not None or len(cache) < cache.maxsize:
            cache[event] = (books, value)
        return value

    # -- arbitrage ---------------------------------------------------------------------------
    def _arbitrage(self, group: list[Market], *, complete: bool = True) -> tuple[Opportunity, ...]:
        out: list[Opportunity] = []
        active = [m for m in group if m.status == "active"]
        max_legs = self.settings.arbitrage.max_legs
        if len(active) >= 2 and active[0].mutually_exclusive and len(active) <= max_legs:
            n = len(active)
            o = self._basket(active, ["no"] * n, payout=Price((n - 1) * ONE_DOLLAR), kind="no-basket")
            if o:
                out.append(o)
            complete = complete and active[0].event_market_count == n == len(group)
            if active[0].exhaustive and complete:
                o = self._basket(active, ["yes"] * n, payout=ONE_DOLLAR, kind="yes-basket")
                if o:
                    out.append(o)
        out.extend(self._ladder(active))
        return tuple(out)

    def _ladder(self, group: list[Market]) -> list[Opportunity]:
        best: Opportunity | None = None
        for kinds, lo_outcome, hi_outcome in ((ABOVE, "yes", "no"), (BELOW, "no", "yes")):
            # "above K" markets carry K in floor_strike, "below K" ones in cap_strike (Kalshi's shape)
            rungs = sorted(
                (m for m in group if m.strike_type in kinds and _strike(m) is not None), key=lambda m: _strike(m) or 0
            )
            for i, lo in enumerate(rungs):
                for hi in rungs[i + 1 :]:
                    if _strike(hi) == _strike(lo):
                        continue
                    # quick reject before walking books: top-of-book basket must beat $1
                    a_lo = lo.yes_ask if lo_outcome == "yes" else lo.no_ask
                    a_hi = hi.no_ask if hi_outcome == "no" else hi.yes_ask
                    if a_lo is None or a_hi is None or a_lo + a_hi >= ONE_DOLLAR:
                        continue
                    o = self._basket([lo, hi], [lo_outcome, hi_outcome], payout=ONE_DOLLAR, kind="ladder")  # type: ignore[list-item]
                    if o and (best is None or o.score > best.score):
                        best = o
        return [best] if best else []

    def _basket(self, legs: list[Market], outcomes: list[Outcome], *, payout: Price, kind: str) -> Opportunity | None:
        """Walk every leg's asks together while each further basket still earns min_edge."""
        asks = [m.asks(o) for m, o in zip(legs, outcomes, strict=True)]
        if any(not a for a in asks):
            return None
        top = sum(a[0][0] for a in asks)
        if top >= payout:  # even the best prices do not pay: nothing to walk
            return None
        size, taken = _walk_basket(legs, asks, payout, self._arb_min)
        if size == 0:
            return None
        cost = Money(sum(slices_cost(t) for t in taken))
        fees = Money(sum(slices_fees(t, m) for t, m in zip(taken, legs, strict=True)))
        net = payout * size - cost - fees
        edge = net * ONE // size
        if edge < self._arb_min:
            return None
        basket_cost = (cost + fees) * ONE // size
        leg_objs = tuple(
            Leg(m.ticker, o, "buy", t[-1][0], Count(size)) for m, o, t in zip(legs, outcomes, taken, strict=True)
        )
        confidence = max(Decimal("0.5"), Decimal(1) - Decimal("0.02") * (len(legs) - 2))
        liquidity = min(Decimal(1), Decimal(size) / self._liq_ref)
        what, pays = _basket_words(kind, legs, outcomes, payout)
        reason = (
            f"{what} costs {usd(Money(basket_cost))} per basket including fees and {pays}: "
            f"{usd(Money(edge))} guaranteed per basket on {size // ONE} baskets available at that edge."
        )
        collateral = basket_cost
        if kind == "no-basket" and legs[0].mutually_exclusive:
            # Kalshi nets collateral on mutually exclusive events (MECNET): once two NO legs are held,
            # all but one of them are sure to pay, so each further leg costs less than it returns and
            # the basket ties up no more than its dearest leg (kalashi_cli.ledger.netting_credit)
            collateral = min(
                basket_cost,
                max((slices_cost(t) + slices_fees(t, m)) * ONE // size for t, m in zip(taken, legs, strict=True)),
            )
        o = _opportunity(
            "arbitrage",
            legs[0],
            leg_objs,
            edge=Money(edge),
            cost=Money(basket_cost),
            fees=Money(fees),
            confidence=confidence,
            liquidity=liquidity,
            reason=reason,
            p=ONE_DOLLAR,
            payout=payout,
        )
        return replace(o, collateral=Money(collateral))

    # -- single-market strategies ------------------------------------------------------------
    def _single(self, m: Market, fair: FairValue | None, as_of_ms: int = 0) -> tuple[Opportunity, ...]:
        if m.status != "active":
            return ()
        out: list[Opportunity] = []
        if self.settings.value.enabled and fair is not None and self._open_for(m, "value", as_of_ms):
            o = self._value(m, fair)
            if o:
                out.append(o)
        if self.settings.spread.enabled and self._open_for(m, "spread", as_of_ms):
            out.extend(self._spread(m, fair))
        return tuple(out)

    def _value(self, m: Market, fv: FairValue) -> Opportunity | None:
        best: Opportunity | None = None
        fair = fv.price
        # the model's own uncertainty raises the bar: min_edge + k standard errors
        need = self._value_min + int(fv.se_money * self._uncertainty)
        for outcome in ("yes", "no"):
            p = fair if outcome == "yes" else ONE_DOLLAR - fair
            top = m.yes_ask if outcome == "yes" else m.no_ask
            if (
                top is None
                or (p - top) * ONE - fee_for(top, Count(ONE), fee_type=m.fee_type, multiplier=m.fee_multiplier) < need
            ):
                continue  # not even the best ask pays: no need to walk the book
            taken: list[tuple[Price, Count]] = []
            # the asks of an outcome are the other side's bids flipped; walk them lazily (most
            # books stop paying after a level or two, so building every ask would be waste)
            for bid, size in m.no_bids if outcome == "yes" else m.yes_bids:
                price = flip(bid)
                fee1 = fee_for(price, Count(ONE), fee_type=m.fee_type, multiplier=m.fee_multiplier)
                if (p - price) * ONE - fee1 < need:
                    break
                taken.append((price, size))
            if not taken:
                continue
            size = slices_count(taken)
            cost = slices_cost(taken)
            fees = slices_fees(taken, m)
            edge = (p * size - cost - fees) * ONE // size
            if edge < need:
                continue
            all_in = (cost + fees) * ONE // size
            conf = self.settings.value.confidence
            reason = (
                f"Fair value of {outcome.upper()} is {usd_price(Price(p))} ({_source_words(fv)}) but it can be "
                f"bought at {usd_price(taken[0][0])}–{usd_price(taken[-1][0])}, {usd(Money(all_in))} per contract "
                f"all-in: expected {usd(Money(edge))} per contract on {size // ONE} contracts"
                + (f", clearing the {usd(Money(need))} this value's uncertainty requires." if fv.se else ".")
            )
            o = _opportunity(
                "value",
                m,
                (Leg(m.ticker, outcome, "buy", taken[-1][0], size),),
                edge=Money(edge),
                cost=Money(all_in),
                fees=fees,
                confidence=conf,
                liquidity=min(Decimal(1), Decimal(size) / self._liq_ref),
                reason=reason,
                p=Price(p),
            )
            if best is None or o.score > best.score:
                best = o
        return best

    def _spread(self, m: Market, fair: FairValue | None) -> list[Opportunity]:
        """The market maker's two quotes for a flat position (:func:`.making.plan_quotes`), where the spread is
        wide enough to start quoting; the loop's :class:`.making.QuoteManager` manages them with inventory."""
        bid, ask = m.yes_bid, m.yes_ask
        if bid is None or ask is None or ask - bid < self._spread_width:
            return []
        plan = plan_quotes(
            m,
            self._maker,
            fair=fair.price if fair is not None else None,
            fair_source=fair.model if fair is not None else "",
        )
        if plan is None:
            return []
        out: list[Opportunity] = []
        for q in (plan.bid, plan.ask):
            if q is None:
                continue
            outcome, price = ("yes", q.price) if q.side == "bid" else ("no", ONE_DOLLAR - q.price)
            fee1 = fee_for(Price(price), Count(ONE), fee_type=m.fee_type, multiplier=m.fee_multiplier, is_taker=False)
            fees = fee_for(Price(price), q.count, fee_type=m.fee_type, multiplier=m.fee_multiplier, is_taker=False)
            fair_o = plan.fair if outcome == "yes" else ONE_DOLLAR - plan.fair
            reason = (
                f"Spread {usd_price(bid)}–{usd_price(ask)} is {usd_price(Price(ask - bid))} wide: the market maker "
                f"quotes {outcome.upper()} at {usd_price(Price(price))} (and the other side), "
                f"{usd_price(Price(fair_o - price))} under its fair value {usd_price(Price(fair_o))} "
                f"({'the mid' if plan.fair_source == 'mid' else plan.fair_source}); after a {usd(fee1)} maker "
                f"fee and a {usd_price(plan.adverse)} adverse-selection allowance it expects {usd(q.edge)} "
                "per contract."
            )
            out.append(
                _opportunity(
                    "spread",
                    m,
                    (Leg(m.ticker, outcome, "buy", price, q.count),),  # type: ignore[arg-type]
                    edge=q.edge,
                    cost=Money(price * ONE + fee1),
                    fees=fees,
                    confidence=self.settings.spread.confidence,
                    liquidity=min(Decimal(1), Decimal(q.count) / self._liq_ref),
                    reason=reason,
                    p=Price(fair_o),
                    maker=True,
                )
            )
        return out


def _opportunity(
    strategy: Literal["arbitrage", "spread", "value"],
    m: Market,
    legs: tuple[Leg, ...],
    *,
    edge: Money,
    cost: Money,
    fees: Money,
    confidence: Decimal,
    liquidity: Decimal,
    reason: str,
    p: Price | None,
    payout: Price = ONE_DOLLAR,
    maker: bool = False,
) -> Opportunity:
    """An opportunity record (its id is stamped later) with its edge percentage and score."""
    edge_d = _d(edge)
    return Opportunity(
        id="",
        strategy=strategy,
        event_ticker=m.event_ticker,
        legs=legs,
        edge=edge,
        edge_pct=_q(Decimal(edge) / cost) if cost else Decimal(0),
        fees=fees,
        confidence=_q(confidence),
        liquidity=_q(liquidity),
        score=_q(edge_d * confidence * liquidity, 6),
        reason=reason,
        series_ticker=m.series_ticker,
        category=m.category,
        cost=cost,
        p=p,
        maker=maker,
        payout=payout,
    )


def _walk_basket(
    legs: list[Market], asks: Sequence[Sequence[tuple[Price, Count]]], payout: Price, min_edge: Money
) -> tuple[int, list[list[tuple[Price, Count]]]]:
    """Walk every leg's asks together, one common slice at a time, while each further basket still earns
    ``min_edge`` after fees; return the baskets' size and the (price, count) slices taken on each leg."""
    idx = [0] * len(legs)
    rem = [a[0][1] for a in asks]
    taken: list[list[tuple[Price, Count]]] = [[] for _ in legs]
    size = 0
    while True:
        q = min(rem)
        if q <= 0:
            break
        prices = [asks[i][idx[i]][0] for i in range(len(legs))]
        fees = sum(
            fee_for(p, q, fee_type=m.fee_type, multiplier=m.fee_multiplier) for p, m in zip(prices, legs, strict=True)
        )
        profit = (payout - sum(prices)) * q - fees  # Money for q count units
        if profit * ONE < min_edge * q:  # per-basket profit below the minimum
            break
        size += q
        exhausted = False
        for i in range(len(legs)):
            t = taken[i]
            if t and t[-1][0] == prices[i]:
                t[-1] = (prices[i], Count(t[-1][1] + q))
            else:
                t.append((prices[i], q))
            rem[i] = Count(rem[i] - q)
            if rem[i] == 0:
                idx[i] += 1
                if idx[i] >= len(asks[i]):
                    exhausted = True
                else:
                    rem[i] = asks[i][idx[i]][1]
        if exhausted:
            break
    return size, taken


def _basket_words(kind: str, legs: list[Market], outcomes: list[Outcome], payout: Price) -> tuple[str, str]:
    """What an arbitrage basket buys and what it pays, in words (its reason's two halves)."""
    n = len(legs)
    ev = legs[0].event_ticker
    if kind == "no-basket":
        return (
            f"Buying NO on all {n} mutually exclusive outcomes of {ev}",
            f"pays at least {usd(Money(payout * ONE))} whichever outcome happens",
        )
    if kind == "yes-basket":
        return f"Buying YES on all {n} outcomes of {ev} (exclusive and exhaustive)", "pays exactly $1.0000"
    lo, hi = legs
    what = (
        f"Buying {outcomes[0].upper()} {lo.ticker} (strike {_strike(lo)}) and "
        f"{outcomes[1].upper()} {hi.ticker} (strike {_strike(hi)})"
    )
    return what, "pays at least $1.0000 wherever the value lands (the ladder is inverted)"


def _as_fair(ticker: str, v: FairValue | Price) -> FairValue:
    """A bare price (a hand-made file, an MCP call) as a fair value with no stated uncertainty."""
    if isinstance(v, FairValue):
        return v
    return FairValue(ticker, Decimal(int(v)).scaleb(-4), "file")


def _source_words(fv: FairValue) -> str:
    if fv.model == "sim-forecast":
        return "the sim's demo forecast"
    if fv.model == "file":
        return "your fair-value file"
    return f"model {fv.model}" + (f", standard error {fv.se.normalize():f}" if fv.se else "")


def _strike(m: Market) -> Decimal | None:
    """The one strike of a one-sided ladder rung: the floor of "above K", the cap of "below K"."""
    if m.strike_type in ABOVE:
        return m.floor_strike if m.cap_strike is None else None
    if m.strike_type in BELOW:
        return m.cap_strike if m.floor_strike is None else None
    return None


def _book_key(m: Market) -> tuple[Any, ...]:
    return (m.ticker, m.status, m.yes_bids, m.no_bids, m.fee_type, m.fee_multiplier)
