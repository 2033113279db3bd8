"""Property tests: the engine's invariants hold under any interleaving of market data and orders.

A hypothesis state machine drives three accounts (one nearly broke) through snapshots, deltas,
public trades, every order type, cancels, amends, decreases, time and a settlement, and checks
after every step:

* no negative balance, and cash always covers the collateral of resting orders;
* each account's cash and positions equal ``ledger.fold`` of its own fills and settlements;
* contracts conserve (accounts + the external counterparty net to zero) and so does money;
* every fee is exactly ``money.fee_for`` of its fill;
* queues keep price-time order; FOK never partially fills; post-only never takes;
* a taker never gets a better price (or more size at a price) than the book offered on arrival;
* settlement pays exactly $1 per winning contract and closes every position.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from kalashi_cli.domain import OrderIntent, OrderStatus, Trade
from kalashi_cli.errors import ExchangeError
from kalashi_cli.ledger import fold
from kalashi_cli.money import ONE_DOLLAR, TAPERED_GRID, Count, Money, Price, fee_for, on_grid
from kalashi_cli.sim.matching import MatchingEngine

FEE_TYPE = "quadratic_with_maker_fees"
MULT = 10_000
ACCOUNTS = {"rich": 10_000_000_000, "mid": 300_000_000, "poor": 3_000_000}  # $10k, $300, $3
# tapered grid: sub-cent ticks in the tails, cents in the middle; extremes exercise collateral edges
PRICES = [
    p
    for p in (1, 10, 50, 90, 95, 100, 2000, 3000, 4000, 4500, 5000, 5500, 6000, 7000, 9000, 9050, 9900, 9990, 9999)
    if on_grid(Price(p), TAPERED_GRID)
]

prices = st.sampled_from(PRICES)
counts = st.one_of(st.integers(1, 300), st.sampled_from([100, 500, 1000, 2500]))
accounts = st.sampled_from(sorted(ACCOUNTS))
levels = st.lists(st.tuples(prices, st.integers(1, 3000)), max_size=6)


class EngineMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.e = MatchingEngine(now_ms=0, trade_match_window_ms=50)
        self.e.add_market("T", price_ranges=TAPERED_GRID, fee_type=FEE_TYPE, fee_multiplier=MULT)
        for a, cash in ACCOUNTS.items():
            self.e.open_account(a, Money(cash))
        self.n = 0
        self.clock = 0
        self.settled = False
        self.amended: set[str] = set()

    @initialize(yes=levels, no=levels, sticky=st.booleans())
    def first_book(self, yes: list[tuple[int, int]], no: list[tuple[int, int]], sticky: bool) -> None:
        if sticky:  # both consumption policies must keep every invariant
            self.e = MatchingEngine(now_ms=0, trade_match_window_ms=50, sticky_consumption=True)
            self.e.add_market("T", price_ranges=TAPERED_GRID, fee_type=FEE_TYPE, fee_multiplier=MULT)
            for a, cash in ACCOUNTS.items():
                self.e.open_account(a, Money(cash))
        self.snapshot(yes, no)

    # ---------------------------------------------------------------- market data
    def _tick(self, dt: int) -> int:
        self.clock += dt
        return self.clock

    @rule(yes=levels, no=levels, dt=st.integers(0, 100))
    def snapshot(self, yes: list[tuple[Price, Count]], no: list[tuple[Price, Count]], dt: int = 0) -> None:
        # keep market data itself uncrossed, as the real exchange's is
        best_yes = max((p for p, _ in yes), default=0)
        no = [(q, s) for q, s in no if best_yes + q < ONE_DOLLAR]
        self.e.apply_snapshot("T", dict(yes).items(), dict(no).items(), ts_ms=self._tick(dt))
        assert self.e.external_book("T") == (
            tuple(sorted(dict(yes).items(), reverse=True)),
            tuple(sorted(dict(no).items(), reverse=True)),
        )

    @rule(side=st.sampled_from(["yes", "no"]), price=prices, delta=st.integers(-2000, 2000), dt=st.integers(0, 100))
    def delta(self, side: str, price: int, delta: int, dt: int) -> None:
        ext_yes, ext_no = self.e.external_book("T")
        other = ext_no if side == "yes" else ext_yes
        if other and price + other[0][0] >= ONE_DOLLAR and delta > 0:
            return  # would cross market data itself
        self.e.apply_delta("T", side, price, delta, ts_ms=self._tick(dt))  # type: ignore[arg-type]

    @rule(price=prices, count=counts, taker=st.sampled_from(["bid", "ask"]), dt=st.integers(0, 100))
    def public_trade(self, price: int, count: int, taker: str, dt: int) -> None:
        side = "ask" if taker == "bid" else "bid"
        before = {p: self.e.resting_queue("T", side, Price(p)) for p in PRICES}
        remaining = {q.order_id: self._remaining(q.order_id) for qs in before.values() for q in qs}
        self.e.apply_trade(Trade(f"x{self.n}", "T", price, count, taker, self._tick(dt)))  # type: ignore[arg-type]
        self.n += 1
        # price-time priority: a fill at a price/queue place implies everything better filled first
        filled = {oid: remaining[oid] - self._remaining(oid) for oid in remaining}
        unfilled_at_better = False
        for p in sorted(before, reverse=(side == "bid")):  # best price first
            queue = before[p]
            for i, q in enumerate(queue):
                if filled[q.order_id]:
                    assert not unfilled_at_better, "a worse-priced order filled before a better one"
                    for earlier in queue[:i]:
                        assert self._remaining(earlier.order_id) == 0, "time priority broken"
                assert self._remaining(q.order_id) == 0 or q.order_id in remaining
            if any(filled[q.order_id] < remaining[q.order_id] for q in queue):
                unfilled_at_better = True
        assert sum(filled.values()) <= count

    def _remaining(self, order_id: str) -> int:
        for a in ACCOUNTS:
            try:
                o = self.e.order(a, order_id)
            except ExchangeError:
                continue
            return o.remaining_count if o.status == "resting" else 0
        return 0

    # ---------------------------------------------------------------- orders
    @rule(
        account=accounts,
        side=st.sampled_from(["bid", "ask"]),
        price=prices,
        count=counts,
        tif=st.sampled_from(["good_till_canceled", "immediate_or_cancel", "fill_or_kill"]),
        flag=st.sampled_from(["", "post_only", "reduce_only"]),
        stp=st.sampled_from(["taker_at_cross", "maker"]),
    )
    def submit(self, account: str, side: str, price: int, count: int, tif: str, flag: str, stp: str) -> None:
        post_only = flag == "post_only" and tif == "good_till_canceled"
        reduce_only = flag == "reduce_only" and tif == "immediate_or_cancel"
        if tif == "fill_or_kill":
            stp = "maker"  # with taker_at_cross Kalshi lets a self-crossing FOK fill partially
        self.n += 1
        book = self.e.book("T")
        # what the book offered on arrival, in YES prices (own orders included: a superset)
        offered = [(ONE_DOLLAR - q, s) for q, s in book.no_bids] if side == "bid" else list(book.yes_bids)
        intent = OrderIntent(
            f"o{self.n}",
            "T",
            side,  # type: ignore[arg-type]
            price,  # type: ignore[arg-type]
            count,  # type: ignore[arg-type]
            time_in_force=tif,  # type: ignore[arg-type]
            self_trade_prevention_type=stp,  # type: ignore[arg-type]
            post_only=post_only,
            reduce_only=reduce_only,
        )
        try:
            ack = self.e.submit(account, intent)
        except ExchangeError as err:
            assert err.code in ("available_balance_too_low", "invalid_order", "market_inactive"), err.code
            return
        fills = self.e.fills(account, order_id=ack.order_id)
        taker = [f for f in fills if f.is_taker]
        if post_only:
            assert not taker, "post-only took liquidity"
        if tif == "fill_or_kill":
            assert ack.fill_count in (0, count), "FOK filled partially"
        for f in taker:
            assert (f.price <= price) if side == "bid" else (f.price >= price)
            better_or_equal = sum(s for p, s in offered if (p <= f.price if side == "bid" else p >= f.price))
            got = sum(g.count for g in taker if (g.price <= f.price if side == "bid" else g.price >= f.price))
            assert got <= better_or_equal, "filled more than the arrival book offered at that price"
        assert ack.fill_count == sum(f.count for f in fills)

    def _resting(self) -> list[tuple[str, str]]:
        return [(a, o.order_id) for a in sorted(ACCOUNTS) for o in self.e.orders(a, status=OrderStatus.RESTING)]

    @precondition(lambda self: bool(self._resting()))
    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        account, oid = data.draw(st.sampled_from(self._resting()))
        assert self.e.cancel(account, oid) > 0

    @precondition(lambda self: bool(self._resting()))
    @rule(data=st.data(), price=prices, extra=st.integers(-300, 300))
    def amend(self, data: st.DataObject, price: int, extra: int) -> None:
        account, oid = data.draw(st.sampled_from(self._resting()))
        o = self.e.order(account, oid)
        self.amended.add(oid)
        try:
            self.e.amend(
                account,
                oid,
                ticker="T",
                side=o.side,
                price=Price(price),
                count=Count(max(o.fill_count + 1, o.fill_count + o.remaining_count + extra)),
            )
        except ExchangeError as err:
            assert err.code == "available_balance_too_low", err.code

    @precondition(lambda self: bool(self._resting()))
    @rule(data=st.data(), by=st.integers(1, 400))
    def decrease(self, data: st.DataObject, by: int) -> None:
        account, oid = data.draw(st.sampled_from(self._resting()))
        before = self.e.order(account, oid).remaining_count
        assert self.e.decrease(account, oid, reduce_by=Count(by)) == max(0, before - by)

    @rule(dt=st.integers(0, 20_000))
    def advance(self, dt: int) -> None:
        self.e.advance_to(self._tick(dt))

    @precondition(lambda self: not self.settled)
    @rule(result=st.sampled_from(["yes", "no"]))
    def settle(self, result: str) -> None:
        before = {a: (self.e.cash(a), sum(p.position for p in self.e.positions(a))) for a in ACCOUNTS}
        self.e.settle("T", result)
        self.settled = True
        for a, (cash, pos) in before.items():
            winners = max(0, pos) if result == "yes" else max(0, -pos)
            assert self.e.cash(a) == cash + winners * ONE_DOLLAR  # $1 (10 000 × 0.01 contract) each
            assert self.e.positions(a) == [] and self.e.reserved(a) == 0

    # ---------------------------------------------------------------- invariants
    @invariant()
    def engine_invariants(self) -> None:
        self.e.audit()  # books, FIFO queue_ahead order, collateral sums, cash ≥ reserved ≥ 0

    @invariant()
    def accounts_are_their_ledger_fold(self) -> None:
        for a, deposit in ACCOUNTS.items():
            state = fold(Money(deposit), self.e.fills(a), self.e.settlements(a))
            assert state.cash == self.e.cash(a) >= 0
            assert self.e.balance(a).balance >= 0
            got = {p.ticker: (p.position, p.exposure, p.realized_pnl, p.fees_paid) for p in self.e.positions(a)}
            want = {
                t: (p.position, p.cost, p.realized, p.fees)
                for t, p in state.positions.items()
                if t in got or p.position
            }
            assert got == want

    @invariant()
    def contracts_and_money_conserve(self) -> None:
        positions = [sum(p.position for p in self.e.positions(a)) for a in ACCOUNTS]
        ext = self.e.external_position("T")
        assert sum(positions) + ext == 0
        open_interest = sum(max(0, p) for p in positions) + max(0, ext)
        cash = sum(self.e.cash(a) for a in ACCOUNTS) + self.e.external_cash()
        assert cash + self.e.fees_collected + open_interest * ONE_DOLLAR == sum(ACCOUNTS.values())

    @invariant()
    def fees_are_exactly_fee_for(self) -> None:
        for a in ACCOUNTS:
            for f in self.e.fills(a):
                assert f.fee == fee_for(f.price, f.count, fee_type=FEE_TYPE, multiplier=MULT, is_taker=f.is_taker)
            for f in self.e.fills(a):
                if not f.is_taker:  # makers trade at their own limit, never better
                    assert f.price == self.e.order(a, f.order_id).price or f.order_id in self.amended


EngineMachine.TestCase.settings = settings(
    max_examples=120,
    stateful_step_count=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
TestEngineInvariants = EngineMachine.TestCase
