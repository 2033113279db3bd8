"""The feed repair wired into the loop and the dashboard's health: a demo loop on `kalashi sim-exchange`
over WebSocket (``kalshi-demo,ws=1``), a book left stale with no resync on its way, and the resync
that heal's repair asks for — journaled as a ``repair``.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kalashi_cli.health import DEGRADED, OK
from kalashi_cli.health import feed as feed_mod
from kalashi_cli.health.feed import feed_check, repair_source_feed
from kalashi_cli.journal import Journal
from kalashi_cli.sim.server import TIERS, DemoKey, ExchangeConfig, KeyRing, SimExchange, SimExchangeServer
from kalashi_cli.sim.server import generate_demo_key as make_key

from .conftest import WAIT


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> DemoKey:
    return make_key(tmp_path_factory.mktemp("heal-feed") / "ed", key_type="ed25519")


@pytest.fixture
def service(key: DemoKey, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A demo TradingService whose market data comes over the simulator's WebSocket."""
    from kalashi_cli.service import TradingService

    ring = KeyRing()
    ring.add_pem_file(key.key_id, key.public_key_path)
    server = SimExchangeServer(
        SimExchange(ExchangeConfig(seed=0, markets=40, speed=0, tier=TIERS["advanced"]), ring), port=0
    ).start()
    for k, v in {
        "KALASHI_EXCHANGE_URL": server.url,
        "KALSHI_API_KEY_ID": key.key_id,
        "KALSHI_PRIVATE_KEY_PATH": str(key.private_key_path),
    }.items():
        monkeypatch.setenv(k, v)
    for k in ("KALSHI_KEY_ENV", "KALASHI_WS_URL"):
        monkeypatch.delenv(k, raising=False)
    svc = TradingService("default", mode="demo", source="kalshi-demo,ws=1", journal_path=tmp_path / "j.sqlite")
    try:
        yield svc
    finally:
        svc.close()
        server.stop()


class Clock:
    def __init__(self, ms: int) -> None:
        self.ms = ms

    def __call__(self) -> int:
        return self.ms


def repairs(path: Path) -> list[dict[str, Any]]:
    jr = Journal(path, mode="demo", readonly=True)
    try:
        return [e["detail"] for e in reversed(jr.events(kind="repair"))]
    finally:
        jr.close()


def wait_fresh(feed: Any, ticker: str) -> None:
    """Wait (bounded) for the snapshot the repair asked for: the feed applies it on its own thread."""
    deadline = time.monotonic() + WAIT
    while feed.store.is_stale(ticker):
        assert time.monotonic() < deadline, f"{ticker} still stale after {WAIT} s"
        time.sleep(0.01)


def test_a_book_left_stale_is_resynced_and_the_repair_journaled(service: Any) -> None:
    svc = service
    svc.run_iteration()  # the first listing starts the feed
    feed = svc.source.feed
    assert feed is not None and feed_check(feed).status == OK
    ticker = sorted(feed.store.books)[0]
    # a book gone stale whose resync request was lost: the feed itself would wait forever
    feed.store.books[ticker].stale = True
    clock = Clock(feed_mod._wall_ms())
    published: list[dict[str, Any]] = []

    def repair() -> Any:
        return repair_source_feed(svc.source, svc.journal, publish=published.append, now_ms=clock)

    assert repair() is None  # just noticed: the feed gets REPAIR_AFTER_S to sort itself out
    clock.ms += int(feed_mod.REPAIR_AFTER_S * 1000) + 1
    r = repair()
    assert r is not None and r.action == "resync" and r.target == "ws_feed" and r.ok
    assert "fresh snapshots of 1 stale book" in r.detail and ticker in r.detail and "ws_feed was degraded" in r.detail
    wait_fresh(feed, ticker)
    assert feed_check(feed).status == OK
    [event] = repairs(svc.journal.path)
    assert event == {"action": "resync", "target": "ws_feed", "ok": True, "detail": r.detail}
    assert published == [r.to_health()] and published[0]["name"] == "repairs" and published[0]["status"] == OK
    # once per REPAIR_EVERY_S at most, even if the feed goes unwell again at once
    feed.store.books[ticker].stale = True
    clock.ms += int(feed_mod.REPAIR_AFTER_S * 1000) + 1
    assert repair() is None
    feed.store.books[ticker].stale = False


def test_the_loop_and_the_dashboard_health_run_the_repair(service: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    svc = service
    svc.run_iteration()
    feed = svc.source.feed
    monkeypatch.setattr(feed_mod, "REPAIR_AFTER_S", 0.0)  # no grace: repair on first sight
    ticker = sorted(feed.store.books)[0]
    feed.store.books[ticker].stale = True
    health = {r["name"]: r for r in svc.read.health()}  # the dashboard's checks (TradingService.read.health)
    assert health["ws_feed"]["status"] == DEGRADED and ticker in health["ws_feed"]["detail"]
    assert health["repairs"]["status"] == OK and "resync ws_feed" in health["repairs"]["detail"]
    wait_fresh(feed, ticker)
    monkeypatch.setattr(feed_mod, "REPAIR_EVERY_S", 0.0)
    feed.store.books[ticker].stale = True
    svc.run_iteration()  # the loop's own iteration (run-loop, the bridge, the MCP server)
    wait_fresh(feed, ticker)
    assert [e["action"] for e in repairs(svc.journal.path)] == ["resync", "resync"]
    db = sqlite3.connect(f"file:{svc.journal.path}?mode=ro", uri=True)
    try:
        rows = [json.loads(r[0]) for r in db.execute("SELECT record FROM records WHERE kind='health'")]
    finally:
        db.close()
    assert [r["name"] for r in rows] == ["repairs", "repairs"]  # what an attached dashboard streams


def test_other_sources_and_healthy_feeds_are_left_alone(service: Any) -> None:
    assert repair_source_feed(object(), service.journal) is None  # not a Kalshi source: no feed
    service.run_iteration()
    assert repair_source_feed(service.source, service.journal) is None
    assert repairs(service.journal.path) == []
