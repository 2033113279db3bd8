"""Kalshi's official Python SDK (kalshi-python-sync/-async 3.34.0) and pykalshi drive the simulator.

The SDKs need Python ≥ 3.13, newer than the project's. The fixture finds such an interpreter
(``KALASHI_PY313``, ``python3.13`` on PATH, or pyenv's), builds a venv with the pinned SDKs once
per machine (under the temp folder, keyed by the pins; a lock keeps parallel runs from racing)
and runs tests/simx/sdk_session.py in it against a simulator started here. Every served
operation is called through the SDK's request and response models, so any shape the SDK cannot
read fails. Under ``CI=true`` a missing interpreter or a failed install fails the test; elsewhere
it skips and says why.
"""

from __future__ import annotations

import fcntl
import glob
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import needs
import pytest

from kalashi_cli.sim.server import DemoKey
from kalashi_cli.sim.server.app import PREFIX

from .conftest import Sim, start_sim

HERE = Path(__file__).resolve().parent
PINS = ("kalshi-python-sync==3.34.0", "kalshi-python-async==3.34.0", "pykalshi==2.0.0")

#: Every operation the simulator serves, by the SDK's name → (method, path under /trade-api/v2).
SDK_OPERATIONS: dict[str, tuple[str, str]] = {
    "get_exchange_status": ("GET", "/exchange/status"),
    "get_exchange_schedule": ("GET", "/exchange/schedule"),
    "get_user_data_timestamp": ("GET", "/exchange/user_data_timestamp"),
    "get_account_api_limits": ("GET", "/account/limits"),
    "get_account_endpoint_costs": ("GET", "/account/endpoint_costs"),
    "get_markets": ("GET", "/markets"),
    "get_market": ("GET", "/markets/{ticker}"),
    "get_market_orderbook": ("GET", "/markets/{ticker}/orderbook"),
    "get_market_orderbooks": ("GET", "/markets/orderbooks"),
    "get_trades": ("GET", "/markets/trades"),
    "batch_get_market_candlesticks": ("GET", "/markets/candlesticks"),
    "get_market_candlesticks": ("GET", "/series/{series_ticker}/markets/{ticker}/candlesticks"),
    "get_market_candlesticks_by_event": ("GET", "/series/{series_ticker}/events/{ticker}/candlesticks"),
    "get_events": ("GET", "/events"),
    "get_event": ("GET", "/events/{event_ticker}"),
    "get_event_metadata": ("GET", "/events/{event_ticker}/metadata"),
    "get_event_fee_changes": ("GET", "/events/fee_changes"),
    "get_multivariate_events": ("GET", "/events/multivariate"),
    "get_series_list": ("GET", "/series"),
    "get_series": ("GET", "/series/{series_ticker}"),
    "get_series_fee_changes": ("GET", "/series/fee_changes"),
    "get_multivariate_event_collections": ("GET", "/multivariate_event_collections"),
    "get_multivariate_event_collection": ("GET", "/multivariate_event_collections/{collection_ticker}"),
    "get_historical_cutoff": ("GET", "/historical/cutoff"),
    "get_historical_markets": ("GET", "/historical/markets"),
    "get_historical_market": ("GET", "/historical/markets/{ticker}"),
    "get_market_candlesticks_historical": ("GET", "/historical/markets/{ticker}/candlesticks"),
    "get_trades_historical": ("GET", "/historical/trades"),
    "get_fills_historical": ("GET", "/historical/fills"),
    "get_historical_orders": ("GET", "/historical/orders"),
    "get_historical_positions": ("GET", "/historical/positions"),
    "get_balance": ("GET", "/portfolio/balance"),
    "get_positions": ("GET", "/portfolio/positions"),
    "get_settlements": ("GET", "/portfolio/settlements"),
    "get_fills": ("GET", "/portfolio/fills"),
    "get_orders": ("GET", "/portfolio/orders"),
    "get_order": ("GET", "/portfolio/orders/{order_id}"),
    "get_order_queue_position": ("GET", "/portfolio/orders/{order_id}/queue_position"),
    "get_order_queue_positions": ("GET", "/portfolio/orders/queue_positions"),
    "get_portfolio_resting_order_total_value": ("GET", "/portfolio/summary/total_resting_order_value"),
    "create_order_v2": ("POST", "/portfolio/events/orders"),
    "cancel_all_orders": ("DELETE", "/portfolio/events/orders"),
    "batch_create_orders_v2": ("POST", "/portfolio/events/orders/batched"),
    "batch_cancel_orders_v2": ("DELETE", "/portfolio/events/orders/batched"),
    "cancel_order_v2": ("DELETE", "/portfolio/events/orders/{order_id}"),
    "amend_order_v2": ("POST", "/portfolio/events/orders/{order_id}/amend"),
    "decrease_order_v2": ("POST", "/portfolio/events/orders/{order_id}/decrease"),
    "get_order_groups": ("GET", "/portfolio/order_groups"),
    "create_order_group": ("POST", "/portfolio/order_groups/create"),
    "get_order_group": ("GET", "/portfolio/order_groups/{order_group_id}"),
    "delete_order_group": ("DELETE", "/portfolio/order_groups/{order_group_id}"),
    "reset_order_group": ("PUT", "/portfolio/order_groups/{order_group_id}/reset"),
    "trigger_order_group": ("PUT", "/portfolio/order_groups/{order_group_id}/trigger"),
    "update_order_group_limit": ("PUT", "/portfolio/order_groups/{order_group_id}/limit"),
}


def _unavailable(reason: str) -> None:
    needs.unavailable("Python 3.13 and the official Kalshi SDKs", reason)


def find_python313() -> str | None:
    """A Python ≥ 3.13 interpreter: $KALASHI_PY313, python3.13/3.14 on PATH, or pyenv's."""
    candidates = [
        os.environ.get("KALASHI_PY313") or "",
        shutil.which("python3.13") or "",
        shutil.which("python3.14") or "",
    ]
    root = os.environ.get("PYENV_ROOT", str(Path.home() / ".pyenv"))
    candidates += sorted(glob.glob(f"{root}/versions/3.1[3-9]*/bin/python3"), reverse=True)
    for c in candidates:
        if c and Path(c).exists():
            out = subprocess.run(
                [c, "-c", "import sys; print(sys.version_info >= (3, 13))"], capture_output=True, text=True, timeout=30
            )
            if out.stdout.strip() == "True":
                return c
    return None


@pytest.fixture(scope="session")
def sdk_python() -> Iterator[str]:
    """The python of a venv holding the pinned official SDKs (built once per machine)."""
    base = find_python313()
    if base is None:
        _unavailable(
            "the official Kalshi SDKs need Python >= 3.13 and none was found "
            "(set KALASHI_PY313, or install python3.13 from Debian or pyenv)"
        )
        raise AssertionError("unreachable")
    key = hashlib.sha256(("\n".join(PINS) + base).encode()).hexdigest()[:12]
    venv = Path(tempfile.gettempdir()) / f"kalashi-sdk-venv-{key}"
    python = venv / "bin" / "python"
    with open(Path(tempfile.gettempdir()) / f"kalashi-sdk-venv-{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (venv / ".complete").exists():
            shutil.rmtree(venv, ignore_errors=True)
            made = subprocess.run([base, "-m", "venv", str(venv)], capture_output=True, text=True, timeout=300)
            pip = (
                subprocess.run(
                    [str(python), "-m", "pip", "install", "-q", *PINS], capture_output=True, text=True, timeout=900
                )
                if made.returncode == 0
                else made
            )
            if pip.returncode != 0:
                _unavailable(f"could not install {', '.join(PINS)} into a {base} venv: {pip.stderr[-800:]}")
            (venv / ".complete").write_text("\n".join(PINS) + "\n")
    yield str(python)


@pytest.fixture(scope="module")
def sdk_sim(demo_key: DemoKey) -> Iterator[Sim]:
    """Seed 2 lists combo events; a market settles and passes the historical cutoff before the session."""
    from .test_spec import settling_market

    sim = start_sim([demo_key], seed=2, retain_settled_s=60)
    try:
        held, settle_step, ask = settling_market(sim)
        r = sim.http.post(
            "portfolio/events/orders",
            json={
                "ticker": held,
                "side": "bid",
                "price": ask,
                "count": "1",
                "time_in_force": "immediate_or_cancel",
                "self_trade_prevention_type": "taker_at_cross",
            },
        )
        assert r.status_code == 201, r.text
        sim.step(settle_step - sim.call(lambda: sim.exchange.driver.step) + 8)
        assert sim.anon.get(f"historical/markets/{held}").status_code == 200
        yield sim
    finally:
        sim.close()


def _run(python: str, sim: Sim, flavour: str) -> dict[str, Any]:
    out = subprocess.run(
        [
            python,
            str(HERE / "sdk_session.py"),
            "--flavour",
            flavour,
            "--url",
            sim.url,
            "--key-id",
            sim.key.key_id,
            "--key",
            str(sim.key.private_key_path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": ""},
    )
    assert out.stdout.strip(), f"no report: {out.stderr[-3000:]}"
    report: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["ok"], report.get("trace") or report
    return report


@pytest.mark.parametrize("flavour", ["sync", "async"])
def test_the_official_sdk_reads_every_answer(sdk_python: str, sdk_sim: Sim, flavour: str) -> None:
    report = _run(sdk_python, sdk_sim, flavour)
    assert set(report["operations"]) == set(SDK_OPERATIONS)
    state = sdk_sim.control.get("state").json()
    assert state["requests"] > len(SDK_OPERATIONS)
    assert sdk_sim.control.post("audit").json() == {"ok": True}


def test_pykalshi_drives_the_simulator(sdk_python: str, sdk_sim: Sim) -> None:
    report = _run(sdk_python, sdk_sim, "pykalshi")
    assert "history.get_cutoff" in report["operations"] and "market.get_candlesticks" in report["operations"]


def test_the_sdk_list_names_every_route_the_simulator_serves(shared_sim: Sim) -> None:
    from starlette.routing import Route

    served = set()
    for route in shared_sim.server.app.routes:
        if isinstance(route, Route) and route.path.startswith(PREFIX + "/") and "{rest" not in route.path:
            for method in route.methods or ():
                if method != "HEAD":
                    served.add((method, route.path[len(PREFIX) :]))
    legacy = {(m, p) for m, p in served if p.startswith("/portfolio/orders") and m != "GET"}
    normalise = {"{group_id}": "{order_group_id}"}
    served_norm = set()
    for m, p in served - legacy:
        for a, b in normalise.items():
            p = p.replace(a, b)
        served_norm.add((m, p))
    assert served_norm == set(SDK_OPERATIONS.values())
