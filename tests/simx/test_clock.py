"""The market clock: wall-clock pace from the wall clock by default, accelerated only with --speed."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from kalashi_cli.sim.server import DemoKey, ExchangeConfig, KeyRing, SimExchange, SimExchangeServer
from kalashi_cli.sim.server.clock import MarketClock

from .conftest import sim_exchange_process


class FakeWall:
    def __init__(self, ms: int = 1_800_000_000_000) -> None:
        self.ms = ms

    def __call__(self) -> int:
        return self.ms


def test_the_default_clock_is_the_wall_clock() -> None:
    wall = FakeWall()
    c = MarketClock(wall=wall)
    assert c.now_ms() == wall.ms
    wall.ms += 60_000
    assert c.now_ms() == wall.ms  # a minute later, still the wall clock
    assert c.wall_seconds_until(wall.ms + 10_000) == 10.0


def test_speed_accelerates_from_now_without_a_jump() -> None:
    wall = FakeWall()
    c = MarketClock(wall=wall)
    wall.ms += 1_000
    c.set_speed(40)
    before = c.now_ms()
    assert before == wall.ms  # changing the pace does not move the reading
    wall.ms += 1_000
    assert c.now_ms() == before + 40_000
    assert c.wall_seconds_until(c.now_ms() + 10_000) == 0.25


def test_a_stopped_market_still_has_a_clock_and_manual_steps_move_it_forward_only() -> None:
    wall = FakeWall()
    c = MarketClock(0, wall=wall)
    wall.ms += 5_000
    assert c.now_ms() == wall.ms and c.wall_seconds_until(wall.ms + 1) == float("inf")
    c.at_least(wall.ms + 600_000)  # a manual step showed a later market
    assert c.now_ms() == wall.ms + 600_000
    c.at_least(wall.ms)  # never backwards
    assert c.now_ms() == wall.ms + 600_000
    with pytest.raises(ValueError):
        c.set_speed(-1)


def test_the_exchange_clock_follows_the_wall_clock_at_the_default_speed() -> None:
    x = SimExchange(ExchangeConfig(markets=20), KeyRing())
    assert x.speed == 1
    assert abs(x.now_ms() - time.time_ns() // 1_000_000) < 2_000
    assert "wall-clock pace" in x.state()["clock"]
    # the universe's next step is 10 s of market time away: 10 s of wall time at speed 1
    assert 8.0 < x.clock.wall_seconds_until(x.next_step_ms()) <= 10.0


def test_an_accelerated_server_steps_on_its_own(demo_key: DemoKey) -> None:
    ring = KeyRing()
    ring.add_pem_file(demo_key.key_id, demo_key.public_key_path)
    x = SimExchange(ExchangeConfig(markets=20, speed=500), ring)  # a step every 20 ms of wall time
    with SimExchangeServer(x, port=0) as server, httpx.Client(trust_env=False, timeout=10) as http:
        deadline = time.monotonic() + 30
        while http.get(server.root + "/_sim/state").json()["step"] < 3:
            assert time.monotonic() < deadline, "the accelerated market did not step"
            time.sleep(0.02)
        assert http.post(server.root + "/_sim/clock", json={"speed": 0}).json()["speed"] == 0
        r = http.post(server.root + "/_sim/clock", json={"step_seconds": 0})
        assert r.status_code == 400 and "speed" in r.json()["error"]["message"]


def test_help_and_the_ready_line_say_which_clock_is_in_force(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "kalashi_cli", "sim-exchange", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"},
    )
    assert "--speed" in out.stdout and "wall-clock pace" in out.stdout and "--step-seconds" not in out.stdout
    with sim_exchange_process(tmp_path, "--markets", "20") as ready:
        assert ready["speed"] == 1 and "wall-clock pace" in ready["clock"]
        date = httpx.get(ready["url"] + "/exchange/status", trust_env=False, timeout=10).headers["date"]
        from email.utils import parsedate_to_datetime

        assert abs(parsedate_to_datetime(date).timestamp() - time.time()) < 5  # Date is the wall clock
    with sim_exchange_process(tmp_path, "--markets", "20", "--speed", "40") as ready:
        assert ready["speed"] == 40 and "accelerated 40x" in ready["clock"]
