"""``--react``: an arbitrage that appears on sim-exchange is traded on the very delta that made it.

The in-process simulator of this package steps only when asked, so the only book changes are
the ones a test injects (and what our own fills do to the book). The loop runs with an
interval far longer than the test: any order after the first iteration can only come from a
reaction. Books are set with the matching engine's ``apply_snapshot`` before the loop starts
(a mutually exclusive event whose best YES bids add up to exactly $1: buying NO on every
outcome costs N − 1 plus fees, so it does not pay), then ONE ``apply_delta`` — a YES bid 9¢
above one market's best — makes the NO basket pay, and the test asserts the basket follows
that delta, in the first reaction after it, through the journal and under the token buckets.
(Spread quotes are switched off: our own resting bids would show in the feed's books.)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest

from kalashi_cli.errors import UsageError
from kalashi_cli.journal import Journal
from kalashi_cli.kalshi.broker import KalshiBroker
from kalashi_cli.kalshi.env import custom_env
from kalashi_cli.kalshi.source import KalshiSource
from kalashi_cli.loop import IterationResult, TradingLoop
from kalashi_cli.money import Count, Price
from kalashi_cli.profile import load_profile
from kalashi_cli.react import BookBatch, FeedChanges, Reactor, change_feed
from kalashi_cli.sim.server import DemoKey

from .conftest import Sim, credentials, sim_exchange_process, start_sim

KALASHI = [sys.executable, "-m", "kalashi_cli"]

P = load_profile("default")
PROFILE = msgspec.structs.replace(
    P, analyze=msgspec.structs.replace(P.analyze, spread=msgspec.structs.replace(P.analyze.spread, enabled=False))
)
TICK = 100  # $0.01
SIZE = 500  # 5 contracts at the injected level: the basket's size


@dataclass
class Setup:
    event: str
    tickers: list[str]
    bids: list[int]  # best YES bids that add up to $1.00
    trigger: str  # the market whose best YES bid the injected delta raises


def _arbitrage_free_events(sim: Sim, count: int, max_legs: int = 4) -> list[Setup]:
    """Pick up to ``count`` mutually exclusive active events and give them books whose best YES bids sum to $1.

    Each market's YES ask is 15¢ above its bid, so neither basket pays: buying NO on all costs
    N − 1 plus fees, buying YES on all costs far more than the $1 it could pay.
    """

    def pick() -> list[Setup]:  # on the server's own loop: the engine is not thread-safe
        x = sim.exchange
        events: dict[str, list[Any]] = {}
        for rec in x.driver.market_list:
            events.setdefault(rec.event_ticker, []).append(rec)
        out: list[Setup] = []
        for ev, recs in events.items():
            m = recs[0].market
            if not m.mutually_exclusive or not 2 <= len(recs) <= max_legs:
                continue
            if any(
                x.engine.market_status(r.ticker) != "active" or r.market.strike_type or r.market.is_combo for r in recs
            ):
                continue
            n = len(recs)
            share = (10_000 // n) // TICK * TICK
            bids = [share] * n
            bids[0] = 10_000 - share * (n - 1)
            for r, bid in zip(recs, bids, strict=True):
                x.engine.apply_snapshot(
                    r.ticker, [(Price(bid), Count(20_000))], [(Price(10_000 - bid - 15 * TICK), Count(20_000))]
                )
            out.append(Setup(ev, [r.ticker for r in recs], bids, recs[0].ticker))
            if len(out) == count:
                break
        x.hub.flush()
        return out

    picked = sim.call(pick)
    assert picked, "the test universe has no suitable event"
    return picked


def _inject_arbitrage(sim: Sim, s: Setup) -> None:
    """One delta: a YES bid for 5 contracts 9¢ above the trigger market's best (still under its ask)."""

    def delta() -> None:
        sim.exchange.engine.apply_delta(s.trigger, "yes", Price(s.bids[0] + 9 * TICK), Count(SIZE))
        sim.exchange.hub.flush()

    sim.call(delta)


class RecordingReactor(Reactor):
    """A Reactor that notes, per reaction, which books changed and how many orders followed."""

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.log: list[tuple[tuple[str, ...], int]] = []
        self.changed = threading.Condition()
        self.busy = False

    def react(self, batch: BookBatch) -> int:
        with self.changed:
            self.busy = True
        try:
            n = super().react(batch)
        finally:
            with self.changed:
                self.busy = False
                self.log.append((batch.tickers, n))
                self.changed.notify_all()
        return n

    def wait_idle(self, timeout: float = 30.0) -> None:
        """Wait until every change pushed so far has been reacted to (the first batch holds the whole universe)."""
        feed = self.feed
        assert isinstance(feed, FeedChanges)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.changed:
                if self.changed.wait_for(lambda: not self.busy, timeout=1) and not feed.changes.pending():
                    return
        raise AssertionError("the reactor never caught up with the feed")

    def wait_for(self, pred: Callable[[], bool], timeout: float = 20.0) -> bool:
        with self.changed:
            return self.changed.wait_for(pred, timeout)


@dataclass
class Running:
    reactor: RecordingReactor
    loop: TradingLoop
    journal: Journal
    source: KalshiSource
    broker: KalshiBroker
    records: list[dict[str, Any]]
    first: threading.Event
    thread: threading.Thread


@pytest.fixture
def react_loop(request: pytest.FixtureRequest, tmp_path: Path, demo_key: DemoKey) -> Iterator[Callable[..., Running]]:
    """Start ``Reactor.run`` (iterations every hour, reactions in between) against a simulator."""
    started: list[tuple[Running, Sim]] = []

    def start(sim: Sim, *, before: Callable[[], object] = lambda: None) -> Running:
        before()
        source = KalshiSource(custom_env(sim.url), credentials=credentials(sim.key), ws=True, ws_ready_timeout=10)
        broker = KalshiBroker("demo", custom_env(sim.url), credentials(sim.key), timeout=10.0)
        journal = Journal(tmp_path / f"j{len(started)}.sqlite", mode="demo")
        journal.set_meta("starting_balance", str(broker.balance().balance))
        records: list[dict[str, Any]] = []
        loop = TradingLoop(PROFILE, source, broker, journal, sink=records.append)
        reactor = RecordingReactor(loop, change_feed(source))
        first = threading.Event()

        def on_iteration(res: IterationResult) -> None:
            first.set()

        thread = threading.Thread(
            target=reactor.run, kwargs={"interval": 3600, "on_iteration": on_iteration}, daemon=True
        )
        run = Running(reactor, loop, journal, source, broker, records, first, thread)
        started.append((run, sim))
        thread.start()
        assert first.wait(60), "the first iteration did not finish"
        return run

    yield start
    for run, _sim in started:
        run.loop.stop_event.set()
        run.thread.join(30)
        assert not run.thread.is_alive(), "the loop did not stop"
        run.source.close()
        run.broker.close()
        run.journal.close()


def _watched(run: Running, s: Setup) -> bool:
    """Whether every market of the event passed the first iteration's scan (reactions watch those)."""
    scanned = {m.ticker for m in run.loop.last_markets}
    return all(t in scanned for t in s.tickers)


def _orders(run: Running) -> list[dict[str, Any]]:
    return [r for r in list(run.records) if r["kind"] == "order"]


def test_an_arbitrage_is_placed_on_the_delta_that_creates_it(sim: Sim, react_loop: Callable[..., Running]) -> None:
    setups: list[Setup] = []
    run = react_loop(sim, before=lambda: setups.extend(_arbitrage_free_events(sim, 4)))
    s = next(s for s in setups if _watched(run, s))
    assert not [
        r
        for r in run.records
        if r["kind"] == "opportunity" and r["strategy"] == "arbitrage" and r["event_ticker"] == s.event
    ], "the event paid before the injected delta"
    iterations = run.loop.n
    run.reactor.wait_idle()
    before = len(run.reactor.log)
    orders_before = len(_orders(run))
    _inject_arbitrage(sim, s)
    assert run.reactor.wait_for(lambda: any(n for _, n in run.reactor.log[before:]))
    # the FIRST reaction to see the trigger market placed the basket: one delta, one reaction
    first = next(i for i, (tickers, _) in enumerate(run.reactor.log) if i >= before and s.trigger in tickers)
    assert run.reactor.log[first][1] == len(s.tickers)
    assert run.loop.n == iterations, "an iteration ran: the order did not come from the reaction"
    placed = _orders(run)[orders_before:]
    assert [o["ticker"] for o in placed] == sorted(s.tickers, key=lambda t: (t != s.trigger, s.tickers.index(t)))
    assert all(o["status"] == "executed" and o["order_id"] and o["strategy"] == "arbitrage" for o in placed)
    assert all(o["outcome"] == "no" for o in placed)
    assert placed[0]["price"] == f"{(10_000 - s.bids[0] - 9 * TICK) / 10_000:.4f}"  # NO at the injected bid
    # every order was journaled before it was sent, under its deterministic id, and is on the exchange
    exchange = {o.client_order_id: o for o in run.broker.orders()}
    for o in placed:
        assert run.journal.intent(o["client_order_id"]) is not None
        assert o["client_order_id"] in exchange
    # our fills took the injected liquidity: once the feed's books show it gone and the reactor has
    # caught up with those deltas, no second basket was sent
    deadline = time.monotonic() + 20
    while run.source.books([s.trigger])[s.trigger].yes_bid != s.bids[0]:
        assert time.monotonic() < deadline, "the feed never showed the injected bid taken"
        time.sleep(0.01)
    run.reactor.wait_idle()
    assert len(_orders(run)) == orders_before + len(s.tickers), "the basket was sent again"
    coids = [o["client_order_id"] for o in _orders(run)]
    assert len(coids) == len(set(coids))
    assert run.reactor.stats.tick_to_order_ns and run.reactor.stats.tick_to_order_ns[-1] > 0


def test_a_burst_of_arbitrages_keeps_the_token_buckets(demo_key: DemoKey, react_loop: Callable[..., Running]) -> None:
    """Eight baskets at once on Kalshi's Basic tier (10 creates a second): the client waits, never a 429."""
    sim = start_sim([demo_key], markets=400, rate_limits=True, tier="basic")
    try:
        setups: list[Setup] = []
        run = react_loop(sim, before=lambda: setups.extend(_arbitrage_free_events(sim, 16, max_legs=3)))
        setups = [s for s in setups if _watched(run, s)][:8]
        legs = sum(len(s.tickers) for s in setups)
        assert legs > 10  # more creates than the write bucket holds
        run.reactor.wait_idle()
        orders_before = len(_orders(run))
        for s in setups:
            _inject_arbitrage(sim, s)
        assert run.reactor.wait_for(lambda: run.reactor.stats.orders >= legs, timeout=60), run.reactor.log
        placed = _orders(run)[orders_before:]
        assert len(placed) == legs
        assert all(o["status"] == "executed" for o in placed), [o.get("reason") for o in placed]
        assert sim.control.get("state").json()["rate_limited"] == 0
        assert len({o["client_order_id"] for o in placed}) == legs
    finally:
        sim.close()


def test_react_is_refused_for_sources_that_cannot_push(tmp_path: Path) -> None:
    from kalashi_cli.sim.source import parse_sim_spec

    with pytest.raises(UsageError, match="--react needs a source that pushes"):
        change_feed(parse_sim_spec("sim:seed=1,markets=50"))
    rest = KalshiSource(custom_env("http://127.0.0.1:9/trade-api/v2"))
    try:
        with pytest.raises(UsageError, match="polls REST"):
            change_feed(rest)
    finally:
        rest.close()


def test_run_loop_react_refuses_sources_that_cannot_push(tmp_path: Path) -> None:
    env = {**os.environ, "KALASHI_HOME": str(tmp_path / "home")}
    recording = tmp_path / "r.jsonl"
    recording.write_text('{"t_ms": 1, "src": "meta"}\n')
    for source in ("sim", f"replay:{recording}"):
        res = subprocess.run(
            [
                *KALASHI,
                "run-loop",
                "--react",
                "--iterations",
                "1",
                "--source",
                source,
                "--journal",
                str(tmp_path / "j.sqlite"),
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        assert res.returncode == 2 and res.stdout == "", res.stderr
        assert "kalashi: error: --react needs a source that pushes book changes" in res.stderr


def test_run_loop_react_against_a_sim_exchange_process(tmp_path: Path) -> None:
    """`kalashi run-loop --demo --react` over real sockets: reactions between iterations, in the records."""
    with sim_exchange_process(
        tmp_path, "--markets", "300", "--seed", "2", "--speed", "50", "--tier", "prestige"
    ) as ready:
        key = ready["demo_key"]
        env = {
            **os.environ,
            "KALASHI_HOME": str(tmp_path / "home"),
            "KALASHI_EXCHANGE_URL": ready["url"],
            "KALSHI_API_KEY_ID": key["key_id"],
            "KALSHI_PRIVATE_KEY_PATH": key["private_key_path"],
        }
        env.pop("KALASHI_WS_URL", None)
        env.pop("KALSHI_KEY_ENV", None)
        journal = tmp_path / "journal-demo.sqlite"
        run = subprocess.run(
            [
                *KALASHI,
                "run-loop",
                "--demo",
                "--source",
                "kalshi-demo",
                "--react",
                "--iterations",
                "4",
                "--interval",
                "3",
                "--all-records",
                "--journal",
                str(journal),
                "--quiet",
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=180,
        )
        assert run.returncode == 0, run.stderr[-3000:]
        records = [json.loads(line) for line in run.stdout.splitlines()]
        iterations = [r for r in records if r["kind"] == "iteration"]
        assert len(iterations) == 4 and all(r["source"].endswith(",ws=1") for r in iterations)
        # the market steps every 0.2 s (speed 50): between iterations (3 s apart, each well under that after the
        # first) the loop reacted to the feed
        assert sum(r["reactions"] for r in iterations) > 0
        orders = [r for r in records if r["kind"] == "order"]
        # a market the universe pauses between the iteration's read and its order is refused
        # (market_inactive), and a quote set to expire just before a close can find that moment past
        # on a market clock running 50x while the loop's reading of it lags under load — races of the
        # iterations' quotes against the fast clock, not of reactions (tests/simx/test_full_loop.py
        # checks expiries against the exchange's clock)
        races = ("[market_inactive]", "expiration_time must be in the future")
        rejected = [r for r in orders if r["status"] == "rejected" and not any(x in r["reason"] for x in races)]
        assert not rejected, json.dumps(rejected)
        coids = [r["client_order_id"] for r in orders]
        assert len(coids) == len(set(coids))  # never the same order twice
        state = httpx.get(ready["control_url"] + "/state", trust_env=False).json()
        assert state["rate_limited"] == 0


def test_serve_bridge_service_reacts_between_iterations(
    sim: Sim, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`serve-bridge --react`: the service's loop thread reacts to a delta, under its lock, and publishes it."""
    from kalashi_cli.service import TradingService

    monkeypatch.setenv("KALASHI_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("KALASHI_EXCHANGE_URL", sim.url)
    monkeypatch.setenv("KALSHI_API_KEY_ID", sim.key.key_id)
    monkeypatch.setenv("KALSHI_PRIVATE_KEY_PATH", str(sim.key.private_key_path))
    setups = _arbitrage_free_events(sim, 4)
    svc = TradingService(
        PROFILE, mode="demo", source="kalshi-demo", journal_path=tmp_path / "j.sqlite", interval=3600, react=True
    )
    seen: list[dict[str, Any]] = []
    arrived = threading.Condition()

    def listen(rec: dict[str, Any]) -> None:
        with arrived:
            seen.append(rec)
            arrived.notify_all()

    svc.subscribe(listen)
    try:
        assert svc.reactor is not None
        svc.start()
        with arrived:
            assert arrived.wait_for(lambda: any(r["kind"] == "iteration" for r in seen), 60)
        scanned = {m.ticker for m in svc.loop.last_markets}
        s = next(x for x in setups if all(t in scanned for t in x.tickers))
        _inject_arbitrage(sim, s)
        with arrived:
            assert arrived.wait_for(
                lambda: (
                    sum(
                        r["kind"] == "order" and r["strategy"] == "arbitrage" and r["ticker"] in s.tickers for r in seen
                    )
                    == len(s.tickers)
                ),
                30,
            )
        assert svc.loop.n == 1  # still the first iteration: the orders came from a reaction
        orders = [r for r in seen if r["kind"] == "order" and r["ticker"] in s.tickers]
        assert all(r["status"] == "executed" and "ts" in r for r in orders)  # through the service's record path
        state = svc.read.state()  # a reader gets the lock between reactions
        assert state["loop"]["status"] == "running"
    finally:
        svc.close()


def test_serve_bridge_react_refuses_the_sim(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from kalashi_cli.service import TradingService

    monkeypatch.setenv("KALASHI_HOME", str(tmp_path / "home"))
    with pytest.raises(UsageError, match="--react needs a source that pushes"):
        TradingService("default", source="sim:seed=1,markets=50", journal_path=tmp_path / "j.sqlite", react=True)
    # refused cleanly: the paper account it opened is released, so another service may open it
    TradingService("default", source="sim:seed=1,markets=50", journal_path=tmp_path / "j.sqlite").close()
