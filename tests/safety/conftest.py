"""Helpers for the order-safety suites: a sim-exchange on loopback, a demo broker, a journal, and the proof.

The simulator is the in-process server of ``tests/simx`` (its ``start_sim`` helper, started on
a free port, markets stepping only when a test asks). Our own client (``KalshiBroker``) talks
to it over real sockets, so faults reach the code exactly as they would from Kalshi.

:func:`prove_journal_equals_exchange` is the one definition of "journal = exchange" every
suite asserts, read from the simulator's matching engine directly (no HTTP, so no fault can
hide a difference) and from its REST listing. Suites record their counts with :class:`Counts`;
``bench/reliability.py`` collects them (``$KALASHI_RELIABILITY_COUNTS``) into the table of
docs/reliability.md.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from simx.conftest import Sim, credentials, start_sim

from kalashi_cli.domain import BookSide, ExchangeFill, ExchangeOrder, Market, MarketPosition, Trade
from kalashi_cli.journal import Journal
from kalashi_cli.kalshi.broker import KalshiBroker
from kalashi_cli.kalshi.env import custom_env
from kalashi_cli.kalshi.ratelimit import RetryPolicy
from kalashi_cli.ledger import fold
from kalashi_cli.money import Count, Money
from kalashi_cli.reconcile import reconcile
from kalashi_cli.sim.server import DemoKey, FaultConfig, generate_demo_key

COUNTS_VAR = "KALASHI_RELIABILITY_COUNTS"
BALANCE = 100_000 * 1_000_000  # $100 000 per account: the suites test safety, not running out of cash
TERMINAL = frozenset({"acked", "rejected", "never_sent"})


@pytest.fixture(scope="session")
def safety_key(tmp_path_factory: pytest.TempPathFactory) -> DemoKey:
    return generate_demo_key(tmp_path_factory.mktemp("safety-keys"))


def start_fault_sim(key: DemoKey, *, markets: int = 120, seed: int = 0, faults: FaultConfig | None = None) -> Sim:
    """A simulator on a free port with a rich account; markets step only on ``sim.step()``."""
    return start_sim([key], markets=markets, seed=seed, faults=faults, balance=BALANCE)


@pytest.fixture
def fault_sim(safety_key: DemoKey) -> Iterator[Sim]:
    s = start_fault_sim(safety_key)
    try:
        yield s
    finally:
        s.close()


def demo_broker(sim: Sim) -> KalshiBroker:
    """Our Kalshi client on the simulator; read retries are quick so fault storms stay fast to test."""
    b = KalshiBroker("demo", custom_env(sim.url), credentials(sim.key), timeout=5.0)
    # reads are retried (writes never): many short retries ride out a storm without sleeping long
    b.client.retry = RetryPolicy(max_retries=8, base_delay=0.002, max_delay=0.02)
    return b


def demo_journal(path: Path, broker: KalshiBroker) -> Journal:
    """A demo journal whose ledger starts from the account's balance (as ``open_broker`` does)."""
    j = Journal(path, mode="demo")
    if j.get_meta("starting_balance") is None:
        j.set_meta("starting_balance", str(broker.balance().balance))
    return j


# --------------------------------------------------------------------------- the exchange's truth


def engine_truth(sim: Sim) -> tuple[list[ExchangeOrder], list[ExchangeFill], list[MarketPosition], int]:
    """The account as the simulator's matching engine holds it: orders, fills, positions, cash."""
    acct = sim.key.key_id

    def read() -> tuple[list[ExchangeOrder], list[ExchangeFill], list[MarketPosition], int]:
        x = sim.exchange
        e = x.engine  # the engine numbers its objects; clients see them under public UUIDs
        return (
            [x.public_order(o) for o in e.orders(acct)],
            [x.public_fill(f) for f in e.fills(acct)],
            [p for p in e.positions(acct) if p.position],
            e.cash(acct),
        )

    return sim.call(read)


def listed_client_order_ids(sim: Sim) -> Counter[str]:
    """Every client_order_id GET /portfolio/orders lists (all pages), counted — a duplicate shows as 2."""
    ids: Counter[str] = Counter()
    cursor = ""
    with httpx.Client(base_url=sim.url + "/", auth=sim.http.auth, trust_env=False, timeout=10) as api:
        while True:
            r = api.get("portfolio/orders", params={"limit": 1000, **({"cursor": cursor} if cursor else {})})
            assert r.status_code == 200, r.text
            body = r.json()
            ids.update(o.get("client_order_id") or "" for o in body["orders"])
            cursor = body.get("cursor") or ""
            if not cursor:
                return ids


def prove_journal_equals_exchange(
    sim: Sim, journal: Journal, broker: KalshiBroker, *, foreign: frozenset[str] = frozenset()
) -> dict[str, int]:
    """Reconcile once more (faults off, market still), then assert the journal is the exchange; return counts.

    ``foreign``: client_order_ids a test placed on the exchange behind the journal's back
    (orphans) — they are the only orders allowed outside the journal.
    """
    rep = reconcile(journal, broker, starting_balance=BALANCE)
    assert rep.ok, rep.error
    orders, fills, positions, cash = engine_truth(sim)
    listed = listed_client_order_ids(sim)
    duplicates = sorted(c for c, n in listed.items() if c and n > 1)
    assert not duplicates, f"client_order_ids on the exchange twice: {duplicates}"
    assert not rep.duplicates

    intents = {i.client_order_id: i for i in journal.intents()}
    open_intents = {c: i.status for c, i in intents.items() if i.status not in TERMINAL}
    assert not open_intents, f"intents without a final answer: {open_intents}"
    on_exchange = {o.client_order_id for o in orders} - foreign
    acked = {c for c, i in intents.items() if i.status == "acked"} - journal.superseded_intents()
    assert on_exchange == acked, (
        f"on the exchange but not acked: {sorted(on_exchange - acked)[:5]}; "
        f"acked but not on the exchange: {sorted(acked - on_exchange)[:5]}"
    )

    ex_fills = {f.fill_id: f for f in fills}
    j_fills = {f.fill_id: f for f in journal.fills()}
    adjustments = sorted(f for f in j_fills if f.startswith("adj-"))
    assert not adjustments, f"reconciliation had to invent position adjustments: {adjustments}"
    lost = sorted(set(ex_fills) - set(j_fills))
    invented = sorted(set(j_fills) - set(ex_fills))
    assert not lost, f"fills on the exchange missing from the journal: {lost[:5]}"
    assert not invented, f"fills in the journal the exchange never made: {invented[:5]}"
    for fid, f in ex_fills.items():
        g = j_fills[fid]
        assert (g.order_id, g.ticker, g.side, g.price, g.count, g.fee) == (
            f.order_id,
            f.ticker,
            f.side,
            f.price,
            f.count,
            f.fee,
        ), fid

    mine = {o.order_id: o for o in journal.orders()}
    for o in orders:
        if o.client_order_id in foreign:
            continue
        j = mine.get(o.order_id)
        assert j is not None, f"order {o.order_id} missing from the journal"
        assert (j.status, j.fill_count, j.remaining_count) == (o.status, o.fill_count, o.remaining_count), o.order_id

    led = fold(journal.starting_balance(Money(BALANCE)), journal.fills(), journal.settlements())
    assert {p.ticker: p.position for p in led.open_positions()} == {p.ticker: p.position for p in positions}
    assert led.cash == cash, f"journal cash {led.cash} != exchange cash {cash}"
    assert rep.balance_drift is None and not rep.position_drift
    audit = sim.control.post("audit").json()
    assert audit == {"ok": True}, audit
    return {
        "orders_on_exchange": len(orders),
        "fills": len(fills),
        "duplicates": len(duplicates),
        "lost_fills": len(lost),
        "open_positions": len(positions),
    }


# --------------------------------------------------------------------------- counts


class Counts:
    """Counters one suite reports; written to ``$KALASHI_RELIABILITY_COUNTS`` (JSON Lines) when set."""

    def __init__(self, suite: str) -> None:
        self.suite = suite
        self.c: Counter[str] = Counter()

    def add(self, key: str, n: int = 1) -> None:
        self.c[key] += n

    def update(self, d: dict[str, int]) -> None:
        for k, v in d.items():
            self.c[k] += v

    def __getitem__(self, key: str) -> int:
        return self.c[key]

    def write(self, **extra: Any) -> None:
        path = os.environ.get(COUNTS_VAR)
        if not path:
            return
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps({"suite": self.suite, **extra, "counts": dict(sorted(self.c.items()))}) + "\n")


def active_tickers(sim: Sim, *, min_levels: int = 2, limit: int = 40) -> list[Market]:
    """Active two-sided markets of the simulator (combined books), read in-process."""

    def pick() -> list[Market]:
        x = sim.exchange
        out = []
        for rec in x.driver.market_list:
            if x.engine.market_status(rec.ticker) != "active" or rec.market.is_combo:
                continue
            book = x.book(rec.ticker)
            if len(book.yes_bids) >= min_levels and len(book.no_bids) >= min_levels:
                out.append(book)
            if len(out) >= limit:
                break
        return out

    return sim.call(pick)


def book_of(sim: Sim, ticker: str) -> Market:
    return sim.call(lambda: sim.exchange.book(ticker))


def trade_through(sim: Sim, order: ExchangeOrder) -> None:
    """A public trade prints through a resting order of ours (someone else's taker order fills it)."""

    def trade() -> None:
        x = sim.exchange
        taker: BookSide = "ask" if order.side == "bid" else "bid"  # a seller hits our bid, a buyer lifts our ask
        x.engine.apply_trade(Trade(f"t-{order.order_id}", order.ticker, order.price, Count(10**9), taker, x.now_ms()))

    sim.call(trade)
