"""Injected faults reach our client as the exceptions its callers are written for."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from kalashi_cli.domain import OrderIntent
from kalashi_cli.errors import ExchangeUnavailable, NetworkError, OrderRejected, OutcomeUnknown, RateLimited, UsageError
from kalashi_cli.kalshi.auth import KEY_ID_VAR, KEY_PATH_VAR, KalshiAuth
from kalashi_cli.kalshi.broker import KalshiBroker, open_broker
from kalashi_cli.kalshi.ratelimit import RetryPolicy
from kalashi_cli.kalshi.rest import KalshiClient
from kalashi_cli.sim.server import DemoKey, FaultConfig, Faults
from kalashi_cli.sim.server.app import build_app

from .conftest import Sim, run, start_sim


@pytest.fixture
def broker(sim: Sim) -> Iterator[KalshiBroker]:
    env = {KEY_ID_VAR: sim.key.key_id, KEY_PATH_VAR: str(sim.key.private_key_path)}
    b = open_broker("demo", base_url=sim.url, env=env, timeout=5.0)
    try:
        yield b
    finally:
        b.close()


def _intent(
    sim: Sim, coid: str, *, tif: str = "immediate_or_cancel", resting: bool = False, on_pause: bool = False
) -> OrderIntent:
    m = sim.active_market()
    price = (m.yes_bid or 100) if resting else (m.yes_ask or 9_900)
    return OrderIntent(
        coid,
        m.ticker,
        "bid",
        price,  # type: ignore[arg-type]
        100,  # type: ignore[arg-type]
        "good_till_canceled" if resting else tif,  # type: ignore[arg-type]
        "maker" if resting else "taker_at_cross",
        cancel_order_on_pause=on_pause,
    )


def _client(sim: Sim) -> KalshiClient:
    return KalshiClient(
        sim.url, auth=KalshiAuth(sim.creds), retry=RetryPolicy(max_retries=1, base_delay=0.001), timeout=5.0
    )


def test_fault_decisions_repeat_for_the_same_seed() -> None:
    cfg = FaultConfig(
        seed=42,
        error_rate=0.2,
        drop_rate=0.1,
        rate_limit_storm=0.2,
        jitter_ms=30,
        lose_order_responses=0.5,
        ws_gap_rate=0.3,
    )

    def draw(c: FaultConfig) -> list[Any]:
        f = Faults(c)
        return (
            [f.for_request() for _ in range(300)]
            + [f.lose_order_response() for _ in range(50)]
            + [f.ws_gap() for _ in range(50)]
        )

    a, b = draw(cfg), draw(cfg)
    assert a == b
    assert draw(FaultConfig(**{**cfg.to_json(), "seed": 43})) != a
    actions = [d.action for d in a[:300]]
    assert {"ok", "drop", "error", "throttle"} <= set(actions)
    # turning on another fault does not shift the HTTP stream
    other = draw(FaultConfig(**{**cfg.to_json(), "ws_gap_rate": 0.9}))
    assert other[:350] == a[:350]


def test_fault_settings_are_validated() -> None:
    with pytest.raises(UsageError):
        FaultConfig(error_rate=1.5)
    with pytest.raises(UsageError):
        FaultConfig().updated({"no_such_fault": 1})
    with pytest.raises(UsageError):
        FaultConfig().updated({"latency_ms": "slow"})
    assert FaultConfig().updated({"error_rate": 1}).error_rate == 1.0


def test_5xx_makes_reads_retry_and_writes_unknown(sim: Sim) -> None:
    sim.faults(error_rate=1.0)

    async def go() -> None:
        async with _client(sim) as c:
            with pytest.raises(ExchangeUnavailable):
                await c.get_exchange_status()
            assert c.counter.total == 2  # one retry
            with pytest.raises(OutcomeUnknown):
                await c.create_order(
                    {
                        "ticker": "X",
                        "side": "bid",
                        "price": "0.5",
                        "count": "1",
                        "time_in_force": "immediate_or_cancel",
                        "self_trade_prevention_type": "taker_at_cross",
                    }
                )

    run(go())
    sim.faults(error_rate=0.0)
    assert sim.http.get("portfolio/orders").json()["orders"] == []  # nothing was processed


def test_dropped_connections_look_like_a_reset(sim: Sim, broker: KalshiBroker) -> None:
    intent = _intent(sim, "drop-1")
    sim.faults(drop_rate=1.0)
    with pytest.raises(OutcomeUnknown):
        broker.submit(intent)

    async def read() -> None:
        async with _client(sim) as c:
            with pytest.raises(NetworkError):
                await c.get_exchange_status()

    run(read())
    sim.faults(drop_rate=0.0)
    assert broker.orders() == []  # dropped before processing: the order never existed


def test_rate_limit_storm_is_a_definite_refusal(sim: Sim, broker: KalshiBroker) -> None:
    sim.faults(rate_limit_storm=1.0)
    with pytest.raises(RateLimited):
        broker.submit(_intent(sim, "storm-1"))
    sim.faults(rate_limit_storm=0.0)
    assert broker.orders() == []


@pytest.mark.parametrize("mode", ["drop", "error"])
def test_accepted_but_the_answer_is_lost(sim: Sim, broker: KalshiBroker, mode: str) -> None:
    """The key case: the order IS on the exchange, the client cannot know; reconcile finds it."""
    intent = _intent(sim, f"lost-{mode}")
    sim.faults(lose_order_responses=1.0, lose_mode=mode)
    with pytest.raises(OutcomeUnknown):
        broker.submit(intent)
    sim.faults(lose_order_responses=0.0)
    found = [o for o in broker.orders() if o.client_order_id == intent.client_order_id]
    assert len(found) == 1 and found[0].fill_count > 0
    assert [f.order_id for f in broker.fills()] == [found[0].order_id] * len(broker.fills())
    # resending under the same id is refused: the exchange already has it
    from kalashi_cli.errors import Conflict

    with pytest.raises(Conflict):
        broker.submit(intent)


def test_latency_delays_every_answer(sim: Sim) -> None:
    sim.faults(latency_ms=120)
    t0 = time.perf_counter()
    assert sim.http.get("exchange/status").status_code == 200
    assert time.perf_counter() - t0 >= 0.12
    sim.faults(latency_ms=0)
    assert sim.control.get("state").json()["faults"]["latency_ms"] == 0


def test_trading_pause(sim: Sim, broker: KalshiBroker) -> None:
    keep = broker.submit(_intent(sim, "rest-keep", resting=True))
    gone = broker.submit(_intent(sim, "rest-on-pause", resting=True, on_pause=True))
    assert keep.status == gone.status == "resting"
    assert sim.control.post("pause").json() == {"trading_active": False}
    assert broker.trading_active() is False
    assert sim.anon.get("exchange/status").json()["trading_active"] is False
    with pytest.raises(OrderRejected) as e:
        broker.submit(_intent(sim, "while-paused"))
    assert e.value.code == "market_inactive"
    by_id = {o.order_id: o for o in broker.orders()}
    assert by_id[gone.order_id].status == "canceled"  # cancel_order_on_pause
    assert by_id[keep.order_id].status == "resting"  # others stay
    assert broker.cancel(keep.order_id, by_id[keep.order_id].ticker) == 100  # cancels still work
    sim.control.post("resume")
    assert broker.trading_active() is True
    assert broker.submit(_intent(sim, "after-pause")).order_id


def test_starting_paused(demo_key: DemoKey) -> None:
    s = start_sim([demo_key], faults=FaultConfig(pause_trading=True))
    try:
        assert s.anon.get("exchange/status").json()["trading_active"] is False
        assert s.call(lambda: s.exchange.driver.trades_paused) is True
        m = s.active_market()
        r = s.http.post(
            "portfolio/events/orders",
            json={
                "ticker": m.ticker,
                "side": "bid",
                "price": "0.0100",
                "count": "1",
                "time_in_force": "good_till_canceled",
                "self_trade_prevention_type": "maker",
            },
        )
        assert r.status_code == 400 and r.json()["error"]["code"] == "market_inactive"
        assert s.step(2)["reports"][-1]["trades"] == 0  # nothing matches during a trading pause
    finally:
        s.close()


def test_control_endpoints(sim: Sim) -> None:
    assert sim.control.post("faults", json={"error_rate": 2}).status_code == 400
    assert sim.control.post("faults", json={"bogus": 1}).status_code == 400
    assert sim.control.post("step", json={"steps": -1}).status_code == 400
    assert sim.control.post("faults", json={"pause_trading": True}).json()["pause_trading"] is True
    assert sim.anon.get("exchange/status").json()["trading_active"] is False
    assert sim.control.post("faults/reset").json()["pause_trading"] is False
    assert sim.anon.get("exchange/status").json()["trading_active"] is True
    assert sim.control.post("audit").json() == {"ok": True}
    assert sim.control.post("clock", json={"speed": 0}).json()["speed"] == 0
    state = sim.control.get("state").json()
    assert state["accounts"] and state["markets"] > 0 and state["trading_active"] is True


def test_control_endpoints_answer_loopback_only(sim: Sim) -> None:
    # starlette's TestClient calls from the address "testclient": not loopback
    with TestClient(build_app(sim.exchange)) as tc:
        r = tc.get("/_sim/state")
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"


def test_http_faults_never_touch_the_control_endpoints(sim: Sim) -> None:
    sim.faults(error_rate=1.0, drop_rate=1.0)
    assert sim.control.get("state").status_code == 200
    assert sim.control.post("faults/reset").status_code == 200
    with httpx.Client(trust_env=False) as c:
        assert c.get(sim.url + "/exchange/status").status_code == 200
