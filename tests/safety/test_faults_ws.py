"""WebSocket sequence gaps: the loop never places an order on a book that is stale when it decides.

``KalshiSource`` in WS mode keeps books from the simulator's ``orderbook_delta`` channel while
the simulator skips sequence numbers (``--ws-gap-rate``). A gap marks the subscription's books
stale until a fresh snapshot arrives; the source leaves stale books out and the risk gate's
stale hook — wired from the source by ``TradingLoop`` itself, so ``run-loop`` gets it without
passing anything — refuses an order whose book went stale after it was read. A guard around
the broker checks, at every submit, that the gate's last look at that market said "fresh".
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from simx.conftest import Sim, credentials

from kalashi_cli.domain import OrderAck, OrderIntent
from kalashi_cli.kalshi.env import custom_env
from kalashi_cli.kalshi.source import KalshiSource
from kalashi_cli.loop import TradingLoop
from kalashi_cli.profile import load_profile
from kalashi_cli.sim.server import DemoKey, FaultConfig
from kalashi_cli.sim.source import parse_sim_spec

from .conftest import Counts, demo_broker, demo_journal, start_fault_sim


class StaleGuard:
    """Records every answer of the stale hook; the broker wrapper checks the last one at each submit."""

    def __init__(self, hook: Any) -> None:
        self.hook = hook
        self.last: dict[str, bool] = {}
        self.stale_answers = 0

    def __call__(self, ticker: str) -> bool:
        stale = bool(self.hook(ticker))
        self.last[ticker] = stale
        self.stale_answers += stale
        return stale


class GuardedBroker:
    """The demo broker, refusing (as a test failure) any submit the gate did not see fresh."""

    def __init__(self, broker: Any, guard: StaleGuard) -> None:
        self._broker = broker
        self._guard = guard
        self.submitted: list[str] = []

    def submit(self, intent: OrderIntent) -> OrderAck:
        assert self._guard.last.get(intent.ticker) is False, (
            f"order on {intent.ticker} whose book was stale or unchecked"
        )
        self.submitted.append(intent.ticker)
        ack: OrderAck = self._broker.submit(intent)
        return ack

    def __getattr__(self, name: str) -> Any:
        return getattr(self._broker, name)


def _close_feed(source: KalshiSource, sim: Sim) -> None:
    """Close the source once its feed has read everything the server sent.

    Closing while the server still has thousands of queued snapshots (a resync storm) leaves the
    close handshake waiting behind them longer than the source's close allows, which leaks the
    WebSocket and the REST client's sockets (reported: KalshiSource.close skips the REST client's
    aclose when the feed's stop times out).
    """
    sim.control.post("faults/reset")
    feed = source.feed

    def server_seq() -> int:
        return max(
            (sub.seq for c in sim.exchange.hub.conns for sub in c.subs.values() if sub.channel == "orderbook_delta"),
            default=0,
        )

    deadline = time.monotonic() + 15
    while feed is not None and time.monotonic() < deadline:
        caught_up = max(feed.store.last_seq.values(), default=0) >= sim.call(server_seq)
        if (
            caught_up
            and feed.connected.is_set()
            and not feed.store.pending_resync
            and not any(b.stale for b in list(feed.store.books.values()))
        ):
            break
        time.sleep(0.02)
    source.close()
    deadline = time.monotonic() + 5
    while sim.control.get("state").json()["ws_connections"] and time.monotonic() < deadline:
        time.sleep(0.01)  # let the server see the close before it shuts down


@pytest.fixture
def gappy_sim(safety_key: DemoKey) -> Iterator[Sim]:
    s = start_fault_sim(safety_key, markets=120, faults=FaultConfig(seed=5, ws_gap_rate=0.01))
    try:
        yield s
    finally:
        s.close()


def test_the_loop_takes_the_sources_stale_hook_by_default(tmp_path: Path) -> None:
    """run-loop, the bridge and MCP build TradingLoop without a stale hook: it must come from the source."""

    class WithHook:
        def __init__(self) -> None:
            self.inner = parse_sim_spec("sim:seed=1,markets=50")

        def is_stale(self, ticker: str) -> bool:
            return ticker.startswith("X")

        def __getattr__(self, name: str) -> Any:
            return getattr(self.inner, name)

    from kalashi_cli.context import open_broker
    from kalashi_cli.journal import Journal

    src = WithHook()
    j = Journal(tmp_path / "j.sqlite")
    broker = open_broker("paper", src.inner, j, load_profile("default"))
    try:
        loop = TradingLoop(load_profile("default"), src, broker, j)
        assert loop.stale("XYZ") is True and loop.stale("ABC") is False
        plain = TradingLoop(load_profile("default"), src.inner, broker, j)
        assert plain.stale("XYZ") is False  # a source without the notion: never stale
    finally:
        broker.close()


def test_no_order_is_placed_on_a_stale_book_under_ws_sequence_gaps(
    gappy_sim: Sim, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="kalashi.kalshi")  # hundreds of expected gap warnings
    counts = Counts("ws-gaps")
    source = KalshiSource(
        custom_env(gappy_sim.url), credentials=credentials(gappy_sim.key), ws=True, ws_ready_timeout=3
    )
    broker = demo_broker(gappy_sim)
    journal = demo_journal(tmp_path / "j.sqlite", broker)
    try:
        loop = TradingLoop(load_profile("default"), source, broker, journal)
        assert loop.stale == source.is_stale  # wired from the source, as run-loop builds it
        guard = StaleGuard(loop.stale)
        loop.stale = guard
        guarded = GuardedBroker(broker, guard)
        loop.broker = guarded
        denials: dict[str, int] = {}
        for _ in range(80):
            gappy_sim.step(1)  # the market moves: deltas flow, some of them after a skipped seq
            res = loop.run_iteration()
            counts.add("iterations")
            for r in res.records:
                if r["kind"] == "denied":
                    denials[r["rule"]] = denials.get(r["rule"], 0) + 1
            if len(guarded.submitted) >= 3 and denials.get("stale-book", 0) >= 1:
                break
        state = gappy_sim.control.get("state").json()
        counts.update(
            {
                "orders_placed": len(guarded.submitted),
                "orders_on_a_stale_book": 0,
                "ws_sequence_gaps": state["fault_counts"]["ws_gap"],
                "feed_resyncs": source.feed.resyncs,
                "denied_stale_book": denials.get("stale-book", 0),
                "left_out_stale_no_book": denials.get("no-book", 0),
                "stale_answers_at_the_gate": guard.stale_answers,
            }
        )
        assert state["fault_counts"]["ws_gap"] > 0 and source.feed.resyncs > 0
        assert guarded.submitted, "no order at all: the test proves nothing"
        assert denials.get("stale-book", 0) >= 1, denials  # a book went stale between reading and deciding
    finally:
        _close_feed(source, gappy_sim)
        broker.close()
        journal.close()
    counts.write(command="pytest tests/safety/test_faults_ws.py")
