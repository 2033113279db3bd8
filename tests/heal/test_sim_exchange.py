"""Exchange checks against `kalashi sim-exchange` over real loopback sockets (signatures, Date, limits)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kalashi_cli.cli.app import app
from kalashi_cli.heal.monitor import exchange_env_for
from kalashi_cli.heal.probes import exchange_checks
from kalashi_cli.health import DEGRADED, FAILED, OK
from kalashi_cli.kalshi.env import env_override
from kalashi_cli.sim.server import TIERS, DemoKey, ExchangeConfig, KeyRing, SimExchange, SimExchangeServer
from kalashi_cli.sim.server import generate_demo_key as make_key


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> DemoKey:
    return make_key(tmp_path_factory.mktemp("heal-simx") / "ed", key_type="ed25519")


@pytest.fixture
def server(key: DemoKey) -> Iterator[SimExchangeServer]:
    ring = KeyRing()
    ring.add_pem_file(key.key_id, key.public_key_path)
    x = SimExchange(ExchangeConfig(seed=0, markets=60, speed=0, tier=TIERS["advanced"]), ring)
    s = SimExchangeServer(x, port=0).start()
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture
def environ(server: SimExchangeServer, key: DemoKey, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    env = {
        "KALASHI_EXCHANGE_URL": server.url,
        "KALSHI_API_KEY_ID": key.key_id,
        "KALSHI_PRIVATE_KEY_PATH": str(key.private_key_path),
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("KALSHI_KEY_ENV", raising=False)
    monkeypatch.delenv("KALASHI_WS_URL", raising=False)
    return env


def test_demo_pointed_at_the_simulator_is_healthy(server: SimExchangeServer, environ: dict[str, str]) -> None:
    env = exchange_env_for("demo", "sim", environ)
    assert env is not None and env.rest_url == server.url
    checks = {c.name: c for c in exchange_checks(env, mode="demo", environ=environ)}
    assert {n: c.status for n, c in checks.items()} == dict.fromkeys(checks, OK), {
        n: c.detail for n, c in checks.items()
    }
    assert "accepted" in checks["credentials"].detail
    # the simulator's Date is its market clock (it may run ahead); on loopback there is no skew to measure
    assert checks["clock_skew"].facts == {"loopback": True} and "simulator" in checks["clock_skew"].detail
    assert checks["rate_limits"].facts["read_rate"] == TIERS["advanced"].read_rate


def test_a_trading_pause_on_the_simulator_is_degraded(server: SimExchangeServer, environ: dict[str, str]) -> None:
    server.call(lambda: server.exchange.set_trading(False))
    env = env_override(environ)
    assert env is not None
    checks = {c.name: c for c in exchange_checks(env, mode="demo", environ=environ)}
    assert checks["exchange"].status == DEGRADED and "trading is paused" in checks["exchange"].detail


def test_an_unregistered_key_is_refused_by_the_simulator(
    server: SimExchangeServer, environ: dict[str, str], tmp_path: Path
) -> None:
    stranger = make_key(tmp_path / "other", key_type="ed25519")
    env = {**environ, "KALSHI_API_KEY_ID": stranger.key_id, "KALSHI_PRIVATE_KEY_PATH": str(stranger.private_key_path)}
    target = env_override(env)
    assert target is not None
    checks = {c.name: c for c in exchange_checks(target, mode="demo", environ=env)}
    assert checks["credentials"].status == FAILED and "rejected the API key" in checks["credentials"].detail


def test_heal_once_demo_against_the_simulator(server: SimExchangeServer, environ: dict[str, str]) -> None:
    res = CliRunner().invoke(app, ["heal", "--once", "--demo", "--no-loop"])
    recs = {r["name"]: r for r in map(json.loads, res.stdout.splitlines())}
    for name in ("exchange", "maintenance", "credentials", "clock_skew", "rate_limits"):
        assert recs[name]["status"] == OK, recs[name]
    assert "127.0.0.1" in recs["exchange"]["detail"]
    # no demo journal has been written in this data dir yet: degraded, not failed
    assert res.exit_code == 10 and recs["journal_integrity"]["status"] == DEGRADED
