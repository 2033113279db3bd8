"""One code path: `kalashi run-loop --demo` trades against a `kalashi sim-exchange` subprocess over loopback.

Two real processes: the simulator (REST + WebSocket on a free port, a generated key) and the
trading loop with our Kalshi client (KalshiSource for market data, KalshiBroker for orders)
pointed at it by ``KALASHI_EXCHANGE_URL``. Afterwards the simulator's own account is the truth:
every order the loop recorded is on the simulator, fills came back, and the journal's fills
equal the simulator's fills — exactly, after the market clock is stopped and the journal
reconciled with ``kalashi reconcile`` (which the loop itself also runs).

The simulator runs accelerated (``--speed 40``: 10 s of market time per 0.25 s step), and the
test jumps its clock further ahead than a quote's expiry first: the client must set post-only
expiries on the exchange's clock (its ``Date`` header), or every quote is refused as past.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from kalashi_cli.journal import Journal
from kalashi_cli.kalshi.auth import Credentials, KalshiAuth, load_private_key
from kalashi_cli.profile import load_profile

from .conftest import sim_exchange_process

KALASHI = [sys.executable, "-m", "kalashi_cli"]


def _fill_key(f: Any) -> tuple[Any, ...]:
    return (f.fill_id, f.order_id, f.ticker, f.side, f.price, f.count, f.fee, f.is_taker)


@pytest.fixture
def simulator(tmp_path: Path) -> Any:
    with sim_exchange_process(
        tmp_path, "--markets", "300", "--seed", "1", "--speed", "40", "--tier", "prestige"
    ) as ready:
        yield ready


def test_run_loop_demo_trades_on_the_simulator_over_real_sockets(simulator: dict[str, Any], tmp_path: Path) -> None:
    key = simulator["demo_key"]
    journal = tmp_path / "journal-demo.sqlite"
    env = {
        **os.environ,
        "KALASHI_HOME": str(tmp_path / "home"),
        "KALASHI_EXCHANGE_URL": simulator["url"],
        "KALSHI_API_KEY_ID": key["key_id"],
        "KALSHI_PRIVATE_KEY_PATH": key["private_key_path"],
    }
    env.pop("KALASHI_WS_URL", None)
    env.pop("KALSHI_KEY_ENV", None)
    control = simulator["control_url"]
    # put the market clock further ahead of the wall clock than a quote lives: an expiry set on the
    # local clock is then in the exchange's past from the first order on (it also keeps running 40×)
    expiry_s = load_profile().execution.maker_expiry_seconds
    assert expiry_s > 0
    steps = expiry_s // 10 + 30
    stepped = httpx.post(control + "/step", json={"steps": steps}, trust_env=False, timeout=60)
    assert stepped.status_code == 200
    ahead_ms = stepped.json()["now_ms"] - time.time_ns() // 1_000_000
    assert ahead_ms > (expiry_s + 60) * 1000
    # the sim has no oracle forecast (docs/sim-calibration.md), so value trades nothing and a
    # default spread quote waits for an informed seller: quote every book two ticks wide or
    # more, so that some fills come back within the run
    profile = tmp_path / "quotes.yaml"
    profile.write_text(
        "name: quotes\nanalyze:\n  spread:\n    min_spread: 0.02\n    adverse_selection: 0\n    min_edge: 0\n"
    )
    run = subprocess.run(
        [
            *KALASHI,
            "run-loop",
            "--demo",
            "--source",
            "kalshi-demo",
            "--iterations",
            "8",
            "--interval",
            "0.5",
            "--all-records",
            "--journal",
            str(journal),
            "--quiet",
            "--profile",
            str(profile),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    records = [json.loads(line) for line in run.stdout.splitlines()]
    iterations = [r for r in records if r["kind"] == "iteration"]
    # with a key run-loop bootstraps over REST, then keeps books from the WebSocket feed
    assert len(iterations) == 8 and all(r["source"] == f"kalshi:{simulator['url']},ws=1" for r in iterations)
    assert all(r["markets"] > 0 for r in iterations)  # the loop saw the simulator's markets
    orders = [r for r in records if r["kind"] == "order"]
    # the market clock runs 40× the wall clock here, so the loop's reading of it (refreshed from
    # Date headers, docs/sim-exchange.md) can lag a close by minutes of market time: a market that
    # closed in between refuses the order as inactive, a race real Kalshi (1×) makes 40× rarer.
    # Any other refusal (price grid, size, balance, an expiry in the exchange's past) fails.
    rejected = [
        (r["ticker"], r.get("reason"))
        for r in orders
        if r["status"] == "rejected" and "[market_inactive]" not in (r.get("reason") or "")
    ]
    assert not rejected, f"{len(rejected)} of {len(orders)} orders rejected, e.g. {rejected[:3]}"
    sent = [r for r in orders if r["order_id"]]
    assert sent, "the loop placed no order on the simulator"
    assert any(r["post_only"] for r in sent), "no maker quote: the expiry path was not exercised"

    creds = Credentials(key["key_id"], load_private_key(Path(key["private_key_path"]).read_bytes()))
    with httpx.Client(base_url=simulator["url"] + "/", auth=KalshiAuth(creds), trust_env=False, timeout=10) as api:
        # stop the market clock: from now on nothing fills unless someone trades
        assert httpx.post(control + "/clock", json={"speed": 0}, trust_env=False).status_code == 200
        on_sim = {o["order_id"]: o for o in _all(api, "portfolio/orders", "orders")}
        latest = {r["order_id"]: r for r in sent}  # an amended quote carries its latest record's client_order_id
        for r in latest.values():  # every order the loop recorded is on the simulator, as recorded
            o = on_sim[r["order_id"]]
            assert o["client_order_id"] == r["client_order_id"] and o["ticker"] == r["ticker"]
            if r["post_only"]:  # the quote's expiry is in the simulator's future, as it was sent
                assert o.get("expiration_time"), o
        jr = Journal(journal, mode="demo", readonly=True)
        try:
            in_journal = {_fill_key(f) for f in jr.fills()}
        finally:
            jr.close()
        from kalashi_cli.kalshi.wire import parse_fill

        sim_fills = {_fill_key(parse_fill(f)) for f in _all(api, "portfolio/fills", "fills")}
        assert sim_fills, "no fill came back from the simulator"
        assert in_journal <= sim_fills  # what the loop journaled happened, exactly so
        assert in_journal, "the loop journaled none of the simulator's fills"

        rec = subprocess.run(
            [*KALASHI, "reconcile", "--demo", "--source", "kalshi-demo", "--journal", str(journal)],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        assert rec.returncode == 0, rec.stderr[-2000:]
        jr = Journal(journal, mode="demo", readonly=True)
        try:
            assert {_fill_key(f) for f in jr.fills()} == sim_fills
        finally:
            jr.close()
        state = httpx.get(control + "/state", trust_env=False).json()
        assert state["rate_limited"] == 0 and state["fault_counts"]["drop"] == 0
        assert httpx.post(control + "/audit", trust_env=False).json() == {"ok": True}


def _all(api: httpx.Client, path: str, key: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    cursor = ""
    while True:
        body = api.get(path, params={"limit": 1000, **({"cursor": cursor} if cursor else {})}).json()
        out += body[key]
        cursor = body.get("cursor") or ""
        if not cursor:
            return out


def test_the_cli_entry_point_exists() -> None:
    out = subprocess.run([*KALASHI, "sim-exchange", "--help"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "/trade-api/ws/v2" in out.stdout
