"""Order safety under injected faults: randomized submissions against kalashi sim-exchange over loopback.

Every submission goes the production way — deterministic ``client_order_id``, journaled
before sending, the risk gate, :class:`OrderExecutor` over our ``KalshiBroker`` — while the
simulator loses order answers after processing them, drops connections, answers 5xx and
throws 429 storms (all from a fixed ``--fault-seed``). Some orders are also delivered behind the
executor's back first (a request that arrived late), so the resend is answered 409.

After every unknown outcome the market must stay blocked until reconciliation; some
``never_sent`` intents are resent under the same id. At the end (faults off, market still):
no ``client_order_id`` twice on the simulator, every fill in the journal and nothing else,
every intent acked/rejected/never_sent, orders, positions and cash equal.

150 submissions run in the normal suite; 1 000 under ``-m slow``.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path

import httpx
import msgspec
import pytest
from simx.conftest import Sim

from kalashi_cli.domain import Denied, Leg, Market, Order, OrderIntent, OrderStatus
from kalashi_cli.errors import JournalError, KalashiError, OutcomeUnknown
from kalashi_cli.kalshi.wire import order_request
from kalashi_cli.money import COUNT_SCALE, ONE_DOLLAR, Count, Money, Price, snap
from kalashi_cli.ports import SourceEvents
from kalashi_cli.profile import Profile, load_profile
from kalashi_cli.reconcile import reconcile
from kalashi_cli.sim.server import DemoKey
from kalashi_cli.stages.order import OrderExecutor, client_order_id
from kalashi_cli.stages.portfolio import Portfolio, load_portfolio
from kalashi_cli.stages.risk import RiskGate, TradingState

from .conftest import (
    BALANCE,
    Counts,
    active_tickers,
    book_of,
    demo_broker,
    demo_journal,
    engine_truth,
    prove_journal_equals_exchange,
    start_fault_sim,
)


def roomy_profile() -> Profile:
    """The default profile with limits wide enough that only the protocol decides what is sent."""
    p = load_profile("default")
    risk = msgspec.structs.replace(
        p.risk,
        max_order_cost=Decimal(1000),
        max_daily_cost=Decimal(1_000_000),
        daily_loss_limit=Decimal(1_000_000),
        max_open_orders=100_000,
        reducing_drawdown_pct=Decimal("0.99"),
        max_drawdown_pct=Decimal("0.99"),
        max_consecutive_losses=100_000,
    )
    return msgspec.structs.replace(p, risk=risk)


@dataclass(frozen=True, slots=True)
class StormPlan:
    submissions: int
    seed: int
    lose_order_responses: float = 0.08  # processed, then the answer is lost (drop or 500)
    drop_rate: float = 0.03  # connection aborted before processing
    error_rate: float = 0.04  # 5xx before processing
    rate_limit_storm: float = 0.03  # background 429s
    storm_every: int = 100  # every N submissions, a storm of…
    storm_length: int = 25  # …this many submissions, alternating 429s and 5xx at…
    storm_rate: float = 0.6  # …this rate
    late_arrival: float = 0.03  # delivered behind the executor's back first: its send answers 409
    resend_share: float = 0.5  # share of never_sent intents resent under the same id
    step_every: int = 15  # the market moves (resting orders may fill) every N submissions


class SubmissionStorm:
    """Drives randomized order intents through the executor while the simulator misbehaves."""

    def __init__(self, sim: Sim, journal_path: Path, plan: StormPlan, counts: Counts) -> None:
        self.sim = sim
        self.plan = plan
        self.counts = counts
        self.rng = random.Random(plan.seed)
        self.profile = roomy_profile()
        self.broker = demo_broker(sim)
        self.journal = demo_journal(journal_path, self.broker)
        self.markets = [m.ticker for m in active_tickers(sim, limit=30)]
        self.due: dict[int, list[str]] = {}  # submission index → tickers to reconcile then
        self._portfolio: Portfolio | None = None
        self.late: set[str] = set()
        self.i = 0
        self.executor = OrderExecutor(
            self.profile, self.broker, self.journal, self._gate(), lambda ts: {t: book_of(sim, t) for t in ts}
        )

    # -- pieces -------------------------------------------------------------------------
    def _gate(self) -> RiskGate:
        if self._portfolio is None:
            self._portfolio = load_portfolio(self.journal, Money(BALANCE))
        return RiskGate(self.profile, self.journal, self._portfolio, TradingState.ACTIVE)

    def _faults(self, i: int) -> None:
        p = self.plan
        base = {
            "seed": p.seed,
            "lose_order_responses": p.lose_order_responses,
            "drop_rate": p.drop_rate,
            "error_rate": p.error_rate,
            "rate_limit_storm": p.rate_limit_storm,
        }
        phase = i % p.storm_every
        if i >= p.storm_every and phase == 0:
            storm = "rate_limit_storm" if (i // p.storm_every) % 2 else "error_rate"
            self.sim.faults(**{**base, storm: p.storm_rate})
            self.counts.add("storms_429" if storm == "rate_limit_storm" else "storms_5xx")
        elif phase == p.storm_length or i == 0:
            self.sim.faults(**base)

    def _intent(self, i: int, m: Market) -> tuple[OrderIntent, Leg] | None:
        rng = self.rng
        side = rng.choice(("bid", "ask"))
        kind = rng.random()
        bid, ask = m.yes_bid, m.yes_ask
        if bid is None or ask is None:
            return None
        tick = 100 * rng.randint(0, 2)
        if kind < 0.45:
            tif, price = "immediate_or_cancel", (ask + tick if side == "bid" else bid - tick)
        elif kind < 0.55:
            tif, price = "fill_or_kill", (ask + tick if side == "bid" else bid - tick)
        elif kind < 0.9:
            tif, price = "good_till_canceled", (bid - tick - 100 if side == "bid" else ask + tick + 100)
        else:
            tif, price = "good_till_canceled", (ask if side == "bid" else bid)
        limit = snap(Price(min(ONE_DOLLAR - 100, max(100, price))), m.price_ranges, up=side == "ask")
        if limit is None:
            return None
        price = limit
        count = rng.randint(1, 5) * COUNT_SCALE
        coid = client_order_id(f"storm-{self.plan.seed}", i, f"{m.ticker}:{side}:{price}:{count}:{tif}")
        intent = OrderIntent(coid, m.ticker, side, price, count, tif)  # type: ignore[arg-type]
        leg = Leg(m.ticker, "yes", "buy" if side == "bid" else "sell", Price(price), Count(count))
        return intent, leg

    def _deliver_behind_our_back(self, intent: OrderIntent) -> None:
        """An earlier send of this very intent reached the exchange (its answer never came back)."""
        body = order_request(intent)
        with httpx.Client(base_url=self.sim.url + "/", auth=self.sim.http.auth, trust_env=False, timeout=5) as c:
            for _ in range(200):
                try:
                    r = c.post("portfolio/events/orders", json=body)
                except httpx.TransportError:
                    continue
                if r.status_code in (201, 409):
                    self.late.add(intent.client_order_id)
                    return
                if r.status_code == 400:
                    return  # refused (market closed …): nothing arrived, nothing to prove
        raise AssertionError("could not deliver the late order through the storm")

    def _reconcile(self) -> None:
        rep = reconcile(self.journal, self.broker, starting_balance=BALANCE)
        self.counts.add("reconciliations")
        self._portfolio = None
        if not rep.ok:
            self.counts.add("reconcile_failures")
            self.due.setdefault(self.i + 1, [])
            return
        assert not rep.duplicates, rep.duplicates
        for r in rep.resolved:
            self.counts.add("unknown_found_by_reconcile" if r["found"] else "unknown_proven_never_sent")
            if not r["found"] and self.rng.random() < self.plan.resend_share:
                self._resend(r["client_order_id"])

    def _resend(self, coid: str) -> None:
        row = self.journal.intent(coid)
        assert row is not None and row.status == "never_sent"
        self.executor.gate = self._gate()
        out, _ = self.executor.resend(coid, book_of(self.sim, row.ticker), strategy="storm")
        self.counts.add("resends")
        self._account(out, resend=True)

    def _account(self, out: Sequence[Order | object], *, resend: bool = False) -> None:
        """Count what one send produced, and check the blocking rule for unknown outcomes."""
        orders = [o for o in out if isinstance(o, Order)]
        for d in out:
            if isinstance(d, Denied):
                self.counts.add(f"denied_{d.rule}")
        if not orders:
            return
        o = orders[0]
        self.counts.add("sent")
        row = self.journal.intent(o.client_order_id)
        assert row is not None
        if o.status == "unknown":
            self.counts.add("unknown_outcomes")
            assert row.status == "unknown" and o.ticker in self.journal.blocked_tickers()
            self.due.setdefault(self.i + self.rng.randint(0, 4), []).append(o.ticker)
        elif "answer lost" in o.reason:
            self.counts.add("conflict_409_found" if "409" in o.reason else "lost_answer_found_by_lookup")
            assert row.status == "acked"
        elif o.status == "rejected":
            reason = (
                "rate_limited_429"
                if "429" in o.reason
                else "not_sent_connection_failed"
                if "not sent" in o.reason
                else "rejected_400"
            )
            self.counts.add(reason)
            assert o.ticker not in self.journal.blocked_tickers() or reason == "rejected_400"
        else:
            self.counts.add("acked")
            assert row.status == "acked"
        if o.filled_count:
            self.counts.add("fills_reported", sum(1 for f in out if type(f).__name__ == "Fill"))

    def _market_moves(self) -> None:
        self.sim.step(1)
        try:
            fresh = self.broker.on_market_data([], SourceEvents())
        except KalashiError:
            self.counts.add("read_failures")
            return
        self.journal.add_fills(fresh, source="market")
        self._portfolio = None

    def _cancel_one(self) -> None:
        resting = self.journal.orders(status=OrderStatus.RESTING)
        if not resting:
            return
        o = self.rng.choice(resting)
        try:
            self.broker.cancel(o.order_id, o.ticker)
            self.counts.add("cancels")
        except OutcomeUnknown:
            self.counts.add("cancel_outcome_unknown")  # harmless: reconciliation reads the order's state
        except KalashiError:
            self.counts.add("cancel_refused")

    # -- the run ------------------------------------------------------------------------
    def run(self) -> None:
        p = self.plan
        self.i = -1
        while self.counts["submissions"] < p.submissions:
            self.i += 1
            self._faults(self.i)
            if any(k <= self.i for k in self.due):
                self.due = {k: v for k, v in self.due.items() if k > self.i}
                self._reconcile()
            if self.i and self.i % p.step_every == 0:
                self._market_moves()
            if self.rng.random() < 0.04:
                self._cancel_one()
            blocked = sorted(self.journal.blocked_tickers())
            ticker = self.rng.choice(blocked) if blocked and self.rng.random() < 0.3 else self.rng.choice(self.markets)
            m = book_of(self.sim, ticker)
            made = self._intent(self.i, m)
            if made is None:
                continue
            intent, leg = made
            gate = self._gate()
            d = gate.check(intent, fee_type=m.fee_type, multiplier=m.fee_multiplier, trading_active=True)
            if ticker in blocked:
                # the protocol: no further writes on a market whose last outcome is unknown
                assert d is not None and d.rule == "unknown-outcome", d
                self.counts.add("refused_on_blocked_market")
                continue
            if d is not None:
                self.counts.add(f"denied_{d.rule}")
                continue
            self.counts.add("submissions")
            if self.rng.random() < p.late_arrival:
                self._deliver_behind_our_back(intent)
            self.executor.gate = gate
            ref = m.yes_ask if intent.side == "bid" else m.yes_bid
            out, _ = self.executor.send(
                intent, leg, m, reference=ref or intent.price, strategy="storm", ref=f"storm-{self.i}"
            )
            self._account(out)
            if self.counts["unknown_outcomes"] or self.counts["sent"] % 50 == 0:
                self._portfolio = None
        self.i += 1
        self.sim.control.post("faults/reset")
        while self.journal.blocked_tickers() or self.due:
            self.due.clear()
            self._reconcile()

    def prove(self) -> None:
        state = self.sim.control.get("state").json()
        faults = state["fault_counts"]
        self.counts.update(
            {
                "faults_lost_order_answers": faults["lost_order"],
                "faults_dropped": faults["drop"],
                "faults_5xx": faults["error"],
                "faults_429": faults["throttle"],
            }
        )
        proof = prove_journal_equals_exchange(self.sim, self.journal, self.broker)
        self.counts.update(
            {
                "orders_on_exchange": proof["orders_on_exchange"],
                "exchange_fills": proof["fills"],
                "duplicates_found": proof["duplicates"],
                "fills_lost": proof["lost_fills"],
            }
        )
        for coid in self.late:  # every late arrival is one order, recorded as arrived
            row = self.journal.intent(coid)
            assert row is not None and row.status == "acked", (coid, row)

    def close(self) -> None:
        self.broker.close()
        self.journal.close()


@pytest.fixture
def storm_factory(safety_key: DemoKey, tmp_path: Path) -> Iterator[object]:
    made: list[tuple[Sim, SubmissionStorm]] = []

    def make(plan: StormPlan, counts: Counts) -> SubmissionStorm:
        sim = start_fault_sim(safety_key, seed=plan.seed % 7)
        storm = SubmissionStorm(sim, tmp_path / f"journal-{plan.seed}.sqlite", plan, counts)
        made.append((sim, storm))
        return storm

    yield make
    for sim, storm in made:
        storm.close()
        sim.close()


def _run_storm(storm_factory: object, plan: StormPlan, suite: str) -> Counts:
    counts = Counts(suite)
    storm = storm_factory(plan, counts)  # type: ignore[operator]
    storm.run()
    storm.prove()
    counts.write(command=f"pytest tests/safety/test_faults.py ({plan.submissions} submissions, seed {plan.seed})")
    # the storm really exercised every path it claims to
    for key in (
        "unknown_outcomes",
        "lost_answer_found_by_lookup",
        "rate_limited_429",
        "conflict_409_found",
        "unknown_proven_never_sent",
        "resends",
        "refused_on_blocked_market",
    ):
        assert counts[key] > 0, (key, dict(counts.c))
    assert counts["duplicates_found"] == 0 and counts["fills_lost"] == 0
    return counts


def test_150_submissions_under_faults_leave_journal_equal_to_exchange(storm_factory: object) -> None:
    _run_storm(storm_factory, StormPlan(submissions=150, seed=5), "faults-150")


@pytest.mark.slow
def test_1000_submissions_under_faults_leave_journal_equal_to_exchange(storm_factory: object) -> None:
    _run_storm(storm_factory, StormPlan(submissions=1000, seed=2026), "faults-1000")


# --------------------------------------------------------------------------- one answer at a time


def _one(sim: Sim, tmp_path: Path) -> tuple[OrderExecutor, Market, OrderIntent, Leg]:
    broker = demo_broker(sim)
    journal = demo_journal(tmp_path / "journal-demo.sqlite", broker)
    gate = RiskGate(roomy_profile(), journal, load_portfolio(journal, Money(BALANCE)), TradingState.ACTIVE)
    ex = OrderExecutor(roomy_profile(), broker, journal, gate, lambda ts: {t: book_of(sim, t) for t in ts})
    m = active_tickers(sim, limit=1)[0]
    price = m.yes_ask or 5000
    intent = OrderIntent(
        client_order_id("one", 0, f"{m.ticker}:{price}"),
        m.ticker,
        "bid",
        Price(price),
        Count(200),
        "immediate_or_cancel",
    )
    return ex, m, intent, Leg(m.ticker, "yes", "buy", Price(price), Count(200))


def _send(ex: OrderExecutor, m: Market, intent: OrderIntent, leg: Leg) -> Order:
    out, _ = ex.send(intent, leg, m, reference=leg.price, strategy="test", ref="one")
    return [o for o in out if isinstance(o, Order)][0]


def _close(ex: OrderExecutor) -> None:
    ex.broker.close()
    ex.journal.close()


def test_a_429_is_a_definite_refusal_and_blocks_nothing(fault_sim: Sim, tmp_path: Path) -> None:
    ex, m, intent, leg = _one(fault_sim, tmp_path)
    try:
        fault_sim.faults(rate_limit_storm=1.0)
        order = _send(ex, m, intent, leg)
        fault_sim.faults(rate_limit_storm=0.0)
        assert order.status == "rejected" and "rate limited (429)" in order.reason and "not placed" in order.reason
        assert ex.journal.intent(intent.client_order_id).status == "rejected"
        assert m.ticker not in ex.journal.blocked_tickers()
        assert engine_truth(fault_sim)[0] == []
    finally:
        _close(ex)


def test_a_409_means_it_arrived_before_and_is_recorded_as_such(fault_sim: Sim, tmp_path: Path) -> None:
    ex, m, intent, leg = _one(fault_sim, tmp_path)
    try:
        r = fault_sim.http.post("portfolio/events/orders", json=order_request(intent))  # the lost first send
        assert r.status_code == 201
        order = _send(ex, m, intent, leg)
        assert order.status == "executed" and order.order_id == r.json()["order_id"] and "409" in order.reason
        assert ex.journal.intent(intent.client_order_id).status == "acked"
        assert {f.fill_id for f in ex.journal.fills()} == {f.fill_id for f in engine_truth(fault_sim)[1]}
        assert m.ticker not in ex.journal.blocked_tickers()
    finally:
        _close(ex)


def test_a_lost_answer_is_found_by_client_order_id_at_once(fault_sim: Sim, tmp_path: Path) -> None:
    ex, m, intent, leg = _one(fault_sim, tmp_path)
    try:
        fault_sim.faults(lose_order_responses=1.0, lose_mode="drop")
        order = _send(ex, m, intent, leg)
        fault_sim.faults(lose_order_responses=0.0)
        assert order.status == "executed" and order.filled_count == 200 and "found on the exchange" in order.reason
        assert ex.journal.intent(intent.client_order_id).status == "acked"
        assert [e["kind"] for e in ex.journal.events(limit=2)] == ["outcome-resolved", "outcome-unknown"]
    finally:
        _close(ex)


def test_a_5xx_before_processing_blocks_the_market_until_reconciled(fault_sim: Sim, tmp_path: Path) -> None:
    ex, m, intent, leg = _one(fault_sim, tmp_path)
    try:
        fault_sim.faults(error_rate=1.0)  # reads fail too (after retries): the lookup cannot decide
        order = _send(ex, m, intent, leg)
        fault_sim.faults(error_rate=0.0)
        assert order.status == "unknown" and "market blocked until reconciled" in order.reason
        assert m.ticker in ex.journal.blocked_tickers()
        again = RiskGate(roomy_profile(), ex.journal, load_portfolio(ex.journal, Money(BALANCE)), TradingState.ACTIVE)
        d = again.check(replace(intent, client_order_id="other"))
        assert d is not None and d.rule == "unknown-outcome"  # no further writes on that market
        rep = reconcile(ex.journal, ex.broker, starting_balance=BALANCE)
        assert rep.resolved == [{"client_order_id": intent.client_order_id, "found": False}]
        assert m.ticker not in ex.journal.blocked_tickers()
        # resent only explicitly, under the same id, and exactly once on the exchange
        ex.gate = RiskGate(roomy_profile(), ex.journal, load_portfolio(ex.journal, Money(BALANCE)), TradingState.ACTIVE)
        out, filled = ex.resend(intent.client_order_id, book_of(fault_sim, m.ticker))
        assert filled == 200 and [o.client_order_id for o in engine_truth(fault_sim)[0]] == [intent.client_order_id]
        with pytest.raises(JournalError):
            ex.resend(intent.client_order_id, m)  # acked now: never again
    finally:
        _close(ex)


def test_a_refused_connection_is_never_sent_and_does_not_crash(fault_sim: Sim, tmp_path: Path) -> None:
    import socket

    from simx.conftest import credentials

    from kalashi_cli.kalshi.broker import KalshiBroker
    from kalashi_cli.kalshi.env import custom_env

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ex, m, intent, leg = _one(fault_sim, tmp_path)
    dead = KalshiBroker(
        "demo", custom_env(f"http://127.0.0.1:{port}"), credentials(fault_sim.key), timeout=2.0, configure_limits=False
    )
    try:
        live, ex.broker = ex.broker, dead
        order = _send(ex, m, intent, leg)
        ex.broker = live
        assert order.status == "rejected" and "nothing reached the exchange" in order.reason
        assert ex.journal.intent(intent.client_order_id).status == "never_sent"
        assert m.ticker not in ex.journal.blocked_tickers()
    finally:
        dead.close()
        _close(ex)
