"""The state says which clock each time is on (docs/bridge-protocol.md §2 "Times").

On the sim the market's clock runs from the sim's own epoch: an order "placed 12:17" by the
broker's clock was placed at 10:55 on the wall clock. The protocol now carries both.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from kalashi_cli.records import iso
from kalashi_cli.service import TradingService

from .conftest import SIM as PLAIN_SIM
from .conftest import Client, RunningBridge

# an oracle sim forecast (skill 100 %) so value trades fill from the first iterations: these tests are
# about clocks, and the honest sim (no oracle, docs/sim-calibration.md) fills a quote only later
SIM = PLAIN_SIM + ",forecast=100"


@pytest.fixture
def service(tmp_path: Path) -> Iterator[TradingService]:
    """The conftest's service, on the sim with a forecast."""
    svc = TradingService("default", source=SIM, journal_path=tmp_path / "journal.sqlite", interval=0)
    yield svc
    svc.close()


def _t(ts: str) -> datetime:
    return datetime.fromisoformat(ts.replace("Z", "+00:00"))


def test_the_state_carries_both_clocks(
    idle_bridge: RunningBridge, service: TradingService, connect: Callable[..., Client]
) -> None:
    c = connect(idle_bridge.ws_url)
    c.welcome()
    for _ in range(4):
        service.run_iteration()
    state = c.until(lambda m: m["type"] == "state" and m["state"]["loop"]["iteration"] == 4)["state"]
    now = datetime.now(UTC)
    clock = state["clock"]
    assert clock["source"] == "sim" and clock["source_now"] == iso(service.source.now_ms())
    assert abs(_t(clock["wall_now"]) - now) < timedelta(minutes=5)
    assert abs(_t(clock["source_now"]) - now) > timedelta(days=1)  # the sim's clock is not the wall's

    fills = [r for r in state["journal"] if r["kind"] == "fill"]
    orders = [r for r in state["journal"] if r["kind"] == "order"]
    assert fills and orders
    for f in fills:  # a fill happened on the market's clock and was journaled on the wall's
        assert abs(_t(f["ts"]) - _t(clock["source_now"])) < timedelta(days=1)
        assert abs(_t(f["wall_ts"]) - now) < timedelta(minutes=5)
    for o in orders:
        assert o["wall_ts"] == o["ts"] and abs(_t(o["ts"]) - now) < timedelta(minutes=5)
    wall = [_t(r["wall_ts"]) for r in state["journal"]]
    assert wall == sorted(wall, reverse=True)  # one clock orders the list: newest journaled first

    resting = state["open_orders"]
    assert resting, "the sim should leave maker quotes resting"
    for o in resting:
        assert abs(_t(o["placed_wall"]) - now) < timedelta(minutes=5)
        assert abs(_t(o["created"]) - _t(clock["source_now"])) < timedelta(days=1)
    # live records carry the wall clock too
    live = [m["record"] for m in c.seen if m["type"] == "record" and m["record"]["kind"] in ("order", "fill")]
    assert live and all(abs(_t(r["wall_ts"]) - now) < timedelta(minutes=5) for r in live)


def test_a_restarted_bridge_dates_journaled_orders_on_the_wall_clock(
    tmp_path: Path, start_bridge: Callable[..., RunningBridge], connect: Callable[..., Client]
) -> None:
    from kalashi_cli.bridge.backends import ServiceBackend

    path = tmp_path / "journal.sqlite"
    first = TradingService("default", source=SIM, journal_path=path, interval=0)
    try:
        for _ in range(3):
            first.run_iteration()
    finally:
        first.close()
    again = TradingService("default", source=SIM, journal_path=path, interval=0)
    bridge = start_bridge(ServiceBackend(again, autostart=False))  # closes the service when it stops
    state = connect(bridge.ws_url).welcome()
    entries = state["journal"]
    assert {r["kind"] for r in entries} == {"order", "fill"}
    # every entry loaded from the journal is dated on the wall clock, in journal order, newest first
    wall = [_t(r["wall_ts"]) for r in entries]
    assert wall == sorted(wall, reverse=True)
    assert all(abs(w - datetime.now(UTC)) < timedelta(minutes=5) for w in wall)
    for r in entries:
        if r["kind"] == "order":  # its ts: when its intent was journaled, just before its row
            assert _t(r["ts"]) <= _t(r["wall_ts"])
        else:  # a fill keeps its market time, on the sim's clock
            assert abs(_t(r["ts"]) - _t(state["clock"]["source_now"])) < timedelta(days=1)
    assert all(o["placed_wall"] is not None for o in state["open_orders"])
