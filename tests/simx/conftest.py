"""Fixtures for the sim-exchange tests: keys, an in-process server on a free port, signed clients.

The server runs in a background thread on its own event loop; tests reach the exchange's state
only through ``server.call(fn)`` (which runs on that loop) or over HTTP, never directly.
Markets step only when a test asks (``speed=0``), so every test is deterministic.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import needs
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from kalashi_cli.domain import Market
from kalashi_cli.kalshi.auth import Credentials, KalshiAuth, load_private_key
from kalashi_cli.money import Money
from kalashi_cli.sim.server import (
    TIERS,
    DemoKey,
    ExchangeConfig,
    FaultConfig,
    Faults,
    KeyRing,
    SimExchange,
    SimExchangeServer,
    generate_demo_key,
)

T = TypeVar("T")
REPO = Path(__file__).resolve().parents[2]
SHARED = needs.SHARED
SPEC_DIR = SHARED / "kalshi-api"
MARKETS = 120  # a small universe: every test builds one in ~50 ms


@pytest.fixture(autouse=True)
def _no_exchange_override(monkeypatch: pytest.MonkeyPatch) -> None:
    # a developer's shell may point kalashi's client at a running simulator
    monkeypatch.delenv("KALASHI_EXCHANGE_URL", raising=False)
    monkeypatch.delenv("KALASHI_WS_URL", raising=False)
    monkeypatch.delenv("KALSHI_KEY_ENV", raising=False)


@pytest.fixture(scope="session")
def key_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("simx-keys")


@pytest.fixture(scope="session")
def demo_key(key_dir: Path) -> DemoKey:
    return generate_demo_key(key_dir / "rsa")


@pytest.fixture(scope="session")
def second_key(key_dir: Path) -> DemoKey:
    return generate_demo_key(key_dir / "ed", key_type="ed25519")


def credentials(key: DemoKey) -> Credentials:
    return Credentials(key.key_id, load_private_key(key.private_key_path.read_bytes()))


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine of our async client to completion (tests are synchronous)."""
    return asyncio.run(coro)


class Sim:
    """A running server plus what tests need around it."""

    def __init__(self, server: SimExchangeServer, key: DemoKey) -> None:
        self.server = server
        self.exchange = server.exchange
        self.key = key
        self.url = server.url
        self.ws_url = server.ws_url
        self.root = server.root
        self.creds = credentials(key)
        self.http = httpx.Client(base_url=self.url + "/", auth=KalshiAuth(self.creds), trust_env=False, timeout=10)
        self.anon = httpx.Client(base_url=self.url + "/", trust_env=False, timeout=10)
        self.control = httpx.Client(base_url=self.root + "/_sim/", trust_env=False, timeout=30)

    def call(self, fn: Callable[[], T]) -> T:
        return self.server.call(fn)

    def step(self, n: int = 1) -> dict[str, Any]:
        r = self.control.post("step", json={"steps": n})
        assert r.status_code == 200, r.text
        out: dict[str, Any] = r.json()
        return out

    def faults(self, **settings: Any) -> dict[str, Any]:
        r = self.control.post("faults", json=settings)
        assert r.status_code == 200, r.text
        out: dict[str, Any] = r.json()
        return out

    def active_market(self, *, min_levels: int = 2) -> Market:
        """An active market with a two-sided book of some depth (combined book, best first)."""

        def pick() -> Market:
            x = self.exchange
            for rec in x.driver.market_list:
                if x.engine.market_status(rec.ticker) != "active" or rec.market.is_combo:
                    continue
                book = x.engine.book(rec.ticker)
                if len(book.yes_bids) >= min_levels and len(book.no_bids) >= min_levels:
                    return book
            raise AssertionError("no active two-sided market in the test universe")

        return self.call(pick)

    def close(self) -> None:
        self.http.close()
        self.anon.close()
        self.control.close()
        self.server.stop()


def start_sim(
    keys: list[DemoKey],
    *,
    markets: int = MARKETS,
    faults: FaultConfig | None = None,
    rate_limits: bool = False,
    tier: str = "prestige",
    balance: Money | None = None,
    ws_ping_interval: float = 10.0,
    seed: int = 0,
    start_step: int = 0,
    **config: Any,
) -> Sim:
    ring = KeyRing()
    for k in keys:
        ring.add_pem_file(k.key_id, k.public_key_path)
    cfg = ExchangeConfig(
        seed=seed,
        markets=markets,
        start_step=start_step,
        speed=0,
        rate_limits=rate_limits,
        tier=TIERS[tier],
        ws_ping_interval=ws_ping_interval,
        **({"balance": balance} if balance is not None else {}),
        **config,
    )
    x = SimExchange(cfg, ring, Faults(faults))
    return Sim(SimExchangeServer(x, port=0).start(), keys[0])


@pytest.fixture
def sim(demo_key: DemoKey, second_key: DemoKey) -> Iterator[Sim]:
    s = start_sim([demo_key, second_key])
    try:
        yield s
    finally:
        s.close()


@pytest.fixture(scope="module")
def shared_sim(demo_key: DemoKey, second_key: DemoKey) -> Iterator[Sim]:
    """One server for a module of tests that only read, or only get refused (no state they depend on)."""
    s = start_sim([demo_key, second_key])
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def limited_sim(demo_key: DemoKey) -> Iterator[Sim]:
    """Kalshi's Basic tier buckets: read 200/s (400), write 100/s (100)."""
    s = start_sim([demo_key], rate_limits=True, tier="basic")
    try:
        yield s
    finally:
        s.close()


def write_private_key(path: Path, key: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey, *, pkcs8: bool) -> Path:
    fmt = serialization.PrivateFormat.PKCS8 if pkcs8 else serialization.PrivateFormat.TraditionalOpenSSL
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption()))
    os.chmod(path, 0o600)
    return path


def shared_file(*parts: str) -> Path:
    """A file of the published spec under ../shared; skip when that folder is absent (fail under CI)."""
    return needs.shared_path(*parts)


def read_ready_line(proc: subprocess.Popen[str], timeout: float = 30.0) -> dict[str, Any]:
    """A `kalashi sim-exchange` subprocess's first stdout line (its URLs), waited for with a bound."""
    lines: queue.Queue[str] = queue.Queue()
    assert proc.stdout is not None
    stdout = proc.stdout
    threading.Thread(target=lambda: lines.put(stdout.readline()), daemon=True).start()
    try:
        line = lines.get(timeout=timeout)
    except queue.Empty:
        raise AssertionError("sim-exchange did not print its ready line") from None
    assert line, f"sim-exchange exited: {proc.stderr.read() if proc.stderr else ''}"
    ready: dict[str, Any] = json.loads(line)
    return ready


@contextlib.contextmanager
def sim_exchange_process(tmp_path: Path, *args: str) -> Iterator[dict[str, Any]]:
    """Run `kalashi sim-exchange --port 0 --demo-keys … ARGS --quiet` as a subprocess; yield its ready line.

    Stopped with Ctrl-C (SIGINT) afterwards, which must end it cleanly (exit 0).
    """
    env = {**os.environ, "KALASHI_HOME": str(tmp_path / "sim-home")}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kalashi_cli",
            "sim-exchange",
            "--port",
            "0",
            "--demo-keys",
            str(tmp_path / "keys"),
            *args,
            "--quiet",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        yield read_ready_line(proc)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            _, err = proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
        assert proc.returncode == 0, err[-2000:]
