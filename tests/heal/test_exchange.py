"""Exchange checks through the real KalshiClient over httpx.MockTransport (an in-memory Kalshi)."""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from hypothesis import given, settings
from hypothesis import strategies as st

from kalashi_cli.heal.monitor import exchange_env_for
from kalashi_cli.heal.probes import (
    _UsEastern,
    exchange_checks,
    in_weekly_maintenance,
    maintenance_check,
    next_weekly_maintenance,
    parse_maintenance_windows,
    rate_limits_check,
    read_rate_usage,
    ws_mode_check,
)
from kalashi_cli.health import DEGRADED, FAILED, OK, iso_ms
from kalashi_cli.kalshi.env import DEMO, PROD, custom_env

from .conftest import NOW_MS

ENV = custom_env("http://127.0.0.1:9/trade-api/v2")
#: the clock-skew tests need a server that is not on this machine (a loopback one is a simulator)
REMOTE = custom_env("https://exchange.example/trade-api/v2")
NY = ZoneInfo("America/New_York")
NOW = datetime.fromtimestamp(NOW_MS / 1000, UTC)  # a Wednesday, noon in New York


@dataclass
class FakeKalshi:
    """Just the endpoints heal calls; signatures checked against one Ed25519 key."""

    public_key: ed25519.Ed25519PublicKey | None = None
    key_id: str = "key-1"
    status: dict[str, Any] = field(default_factory=lambda: {"exchange_active": True, "trading_active": True})
    schedule: dict[str, Any] = field(
        default_factory=lambda: {"schedule": {"standard_hours": [], "maintenance_windows": []}}
    )
    limits: dict[str, Any] = field(
        default_factory=lambda: {
            "usage_tier": "advanced",
            "read": {"refill_rate": 300, "bucket_capacity": 600},
            "write": {"refill_rate": 300, "bucket_capacity": 300},
        }
    )
    server_time: datetime | None = None  # the Date header (None: no header)
    fail: dict[str, int] = field(default_factory=dict)  # path suffix → HTTP status
    down: bool = False
    calls: list[str] = field(default_factory=list)

    def handler(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path.removeprefix("/trade-api/v2")
        self.calls.append(f"{request.method} {path}")
        if self.down:
            raise httpx.ConnectError("connection refused", request=request)
        headers = {"Date": format_datetime(self.server_time, usegmt=True)} if self.server_time else {}
        for suffix, status in self.fail.items():
            if path.endswith(suffix):
                return httpx.Response(status, json={"error": {"code": "x", "message": "nope"}}, headers=headers)
        if path.startswith(("/portfolio", "/account")) and not self._signed(request):
            return httpx.Response(
                401,
                json={"error": {"code": "authentication_error", "message": "authentication_error"}},
                headers=headers,
            )
        body: Any = {
            "/exchange/status": self.status,
            "/exchange/schedule": self.schedule,
            "/account/limits": self.limits,
            "/portfolio/balance": {"balance": 100000},
        }.get(path)
        if body is None:
            return httpx.Response(404, json={"error": {"code": "not_found"}}, headers=headers)
        return httpx.Response(200, json=body, headers=headers)

    def _signed(self, request: httpx.Request) -> bool:
        if self.public_key is None or request.headers.get("KALSHI-ACCESS-KEY") != self.key_id:
            return False
        msg = f"{request.headers['KALSHI-ACCESS-TIMESTAMP']}{request.method}{request.url.path}".encode()
        try:
            self.public_key.verify(base64.b64decode(request.headers["KALSHI-ACCESS-SIGNATURE"]), msg)
        except Exception:  # noqa: BLE001
            return False
        return True

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handler)


@pytest.fixture(scope="module")
def ed_key() -> ed25519.Ed25519PrivateKey:
    return ed25519.Ed25519PrivateKey.generate()


@pytest.fixture
def key_env(tmp_path: Path, ed_key: ed25519.Ed25519PrivateKey) -> dict[str, str]:
    p = tmp_path / "k.pem"
    p.write_bytes(
        ed_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    os.chmod(p, 0o600)
    return {"KALSHI_API_KEY_ID": "key-1", "KALSHI_PRIVATE_KEY_PATH": str(p)}


def run(
    fake: FakeKalshi,
    *,
    mode: str = "paper",
    environ: dict[str, str] | None = None,
    now: datetime = NOW,
    local: datetime | None = None,
    iterations: list[dict[str, Any]] | None = None,
    env: Any = ENV,
) -> dict[str, Any]:
    local_clock = (local or now).timestamp()
    checks = exchange_checks(
        env,
        mode=mode,
        environ=environ or {},
        transport=fake.transport,
        now=lambda: now,
        wall=lambda: local_clock,
        iterations=iterations or [],
    )
    assert [c.name for c in checks] == ["exchange", "maintenance", "credentials", "clock_skew", "rate_limits"]
    return {c.name: c for c in checks}


# -- reachable and trading ------------------------------------------------------------------


def test_healthy_exchange(ed_key: ed25519.Ed25519PrivateKey, key_env: dict[str, str]) -> None:
    fake = FakeKalshi(public_key=ed_key.public_key(), server_time=NOW)
    c = run(fake, environ=key_env, mode="demo")
    assert {n: x.status for n, x in c.items()} == {n: OK for n in c}, {n: x.detail for n, x in c.items()}
    assert "trading active" in c["exchange"].detail
    assert "accepted" in c["credentials"].detail
    assert "advanced tier" in c["rate_limits"].detail
    assert fake.calls == [
        "GET /exchange/status",
        "GET /exchange/schedule",
        "GET /portfolio/balance",
        "GET /account/limits",
    ]


def test_trading_paused_is_degraded_and_exchange_inactive_is_failed() -> None:
    c = run(FakeKalshi(status={"exchange_active": True, "trading_active": False}, server_time=NOW))
    assert c["exchange"].status == DEGRADED and "trading is paused" in c["exchange"].detail
    c = run(
        FakeKalshi(
            status={
                "exchange_active": False,
                "trading_active": False,
                "exchange_estimated_resume_time": "2026-11-25T18:00:00Z",
            },
            server_time=NOW,
        )
    )
    assert c["exchange"].status == FAILED and "2026-11-25T18:00:00Z" in c["exchange"].detail


def test_a_paused_shard_is_degraded() -> None:
    status = {
        "exchange_active": True,
        "trading_active": True,
        "exchange_index_statuses": [
            {"exchange_index": 0, "trading_active": True},
            {"exchange_index": 2, "trading_active": False},
        ],
    }
    c = run(FakeKalshi(status=status, server_time=NOW))
    assert c["exchange"].status == DEGRADED and "shard(s) 2" in c["exchange"].detail


def test_unreachable_is_failed_but_only_degraded_in_the_maintenance_window() -> None:
    c = run(FakeKalshi(down=True), env=REMOTE)
    assert c["exchange"].status == FAILED and "cannot get the status" in c["exchange"].detail
    assert c["clock_skew"].status == DEGRADED  # nothing answered, nothing to compare
    thursday_4am = datetime(2026, 11, 26, 4, 0, tzinfo=NY)
    c = run(FakeKalshi(down=True), now=thursday_4am)
    assert c["exchange"].status == DEGRADED and "maintenance" in c["exchange"].detail
    assert c["maintenance"].status == DEGRADED


def test_5xx_is_failed_and_not_retried() -> None:
    fake = FakeKalshi(fail={"/exchange/status": 503}, server_time=NOW)
    c = run(fake)
    assert c["exchange"].status == FAILED and "503" in c["exchange"].detail
    assert fake.calls.count("GET /exchange/status") == 1


# -- credentials ------------------------------------------------------------------------------


def test_no_credentials_fine_for_paper_failed_for_demo() -> None:
    fake = FakeKalshi(server_time=NOW)
    assert run(fake)["credentials"].status == OK
    c = run(fake, mode="demo")["credentials"]
    assert c.status == FAILED and "KALSHI_API_KEY_ID" in c.detail
    assert "GET /portfolio/balance" not in fake.calls


def test_rejected_key_is_failed(key_env: dict[str, str]) -> None:
    other = ed25519.Ed25519PrivateKey.generate()  # the exchange knows a different key
    c = run(FakeKalshi(public_key=other.public_key(), server_time=NOW), environ=key_env, mode="live")
    assert c["credentials"].status == FAILED and "rejected the API key" in c["credentials"].detail
    assert (
        c["rate_limits"].status == OK and "Basic tier assumed (GET /account/limits failed)" in c["rate_limits"].detail
    )


def test_unreadable_key_file_is_reported(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pem"
    bad.write_text("not a key")
    os.chmod(bad, 0o600)
    env = {"KALSHI_API_KEY_ID": "k", "KALSHI_PRIVATE_KEY_PATH": str(bad)}
    c = run(FakeKalshi(server_time=NOW), environ=env, mode="demo")["credentials"]
    assert c.status == FAILED and "credentials unusable" in c.detail
    c = run(FakeKalshi(server_time=NOW), environ=env)["credentials"]
    assert c.status == DEGRADED  # paper does not need them, but they are broken


# -- clock skew -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("local_offset_s", "status"),
    [(0, OK), (1.2, OK), (-1.2, OK), (3, DEGRADED), (-6, DEGRADED), (12, FAILED), (-30, FAILED)],
)
def test_clock_skew_thresholds(local_offset_s: float, status: str) -> None:
    server = NOW.replace(microsecond=0)
    local = server + timedelta(seconds=0.5 + local_offset_s)  # Date truncates: true server time ≈ +0.5 s
    c = run(FakeKalshi(server_time=server), local=local, env=REMOTE)["clock_skew"]
    assert c.status == status, c.detail
    assert c.facts["skew_s"] == pytest.approx(local_offset_s, abs=0.01)
    assert ("ahead of" if local_offset_s > 0 else "behind") in c.detail or local_offset_s == 0


def test_no_date_header_cannot_measure_skew() -> None:
    c = run(FakeKalshi(server_time=None), env=REMOTE)["clock_skew"]
    assert c.status == DEGRADED and "no Date header" in c.detail


def test_a_simulator_on_this_machine_has_no_skew_to_measure() -> None:
    server = NOW.replace(microsecond=0)
    c = run(FakeKalshi(server_time=server), local=server + timedelta(hours=3))["clock_skew"]  # its clock ran ahead
    assert c.status == OK and c.facts == {"loopback": True}


# -- maintenance ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("local", "inside"),
    [
        (datetime(2026, 11, 26, 2, 59, tzinfo=NY), False),
        (datetime(2026, 11, 26, 3, 0, tzinfo=NY), True),  # Thursday, standard time
        (datetime(2026, 11, 26, 4, 59, tzinfo=NY), True),
        (datetime(2026, 11, 26, 5, 0, tzinfo=NY), False),
        (datetime(2026, 7, 2, 3, 30, tzinfo=NY), True),  # Thursday, daylight time (07:30 UTC)
        (datetime(2026, 7, 1, 3, 30, tzinfo=NY), False),  # Wednesday
    ],
)
def test_weekly_maintenance_window_in_new_york_time(local: datetime, inside: bool) -> None:
    assert in_weekly_maintenance(local.astimezone(UTC)) is inside
    c = maintenance_check(local.astimezone(UTC))
    assert c.status == (DEGRADED if inside else OK)
    if inside:
        assert "Thursdays 03:00–05:00 ET" in c.detail


def test_next_window_is_announced() -> None:
    c = maintenance_check(NOW)  # Wednesday noon
    assert c.status == OK and "Thu 2026-11-26 03:00 ET" in c.detail and "in 15 h 0 min" in c.detail
    after = datetime(2026, 11, 26, 5, 0, tzinfo=NY).astimezone(UTC)
    assert next_weekly_maintenance(after) == datetime(2026, 12, 3, 3, 0, tzinfo=NY)


def test_schedule_windows_from_the_exchange() -> None:
    body = {
        "schedule": {
            "standard_hours": [],
            "maintenance_windows": [
                {"start_datetime": "2026-11-25T16:30:00Z", "end_datetime": "2026-11-25T18:00:00Z"},
                {"start_datetime": "2026-11-25T20:00:00", "end_datetime": "2026-11-25T21:00:00"},  # no offset: ET
                {"start_datetime": "garbage", "end_datetime": "2026-11-25T21:00:00Z"},
                "not a window",
            ],
        }
    }
    windows = parse_maintenance_windows(body)
    assert len(windows) == 2 and windows[1][0] == datetime(2026, 11, 25, 20, 0, tzinfo=NY)
    c = run(FakeKalshi(schedule=body, server_time=NOW))
    assert c["maintenance"].status == DEGRADED and "exchange schedule" in c["maintenance"].detail
    assert c["exchange"].status == OK
    later = run(FakeKalshi(schedule=body, server_time=NOW), now=NOW + timedelta(hours=2))["maintenance"]
    assert later.status == OK and "Wed 2026-11-25 20:00 ET" in later.detail  # the sooner one


def test_schedule_unavailable_still_knows_thursdays() -> None:
    c = run(FakeKalshi(fail={"/exchange/schedule": 500}, server_time=NOW))["maintenance"]
    assert c.status == OK and "schedule unavailable" in c.detail


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=1_577_836_800, max_value=2_524_608_000))  # 2020..2050
def test_builtin_us_eastern_rule_matches_the_tz_database(ts: int) -> None:
    moment = datetime.fromtimestamp(ts, UTC)
    assert moment.astimezone(_UsEastern()).replace(tzinfo=None) == moment.astimezone(NY).replace(tzinfo=None)


# -- rate limits ------------------------------------------------------------------------------


def rows(calls: list[int], *, every_s: float = 10, duration_ms: float = 2000) -> list[dict[str, Any]]:
    return [
        {
            "n": i + 1,
            "started": iso_ms(NOW_MS + int(i * every_s * 1000)),
            "duration_ms": duration_ms,
            "api_calls": c,
            "markets": 100,
        }
        for i, c in enumerate(calls)
    ]


def test_read_rate_usage_average_and_bursts() -> None:
    # 20 calls × 10 tokens every 10 s over ~(3 × 10 + 2) s
    avg, worst = read_rate_usage(rows([20, 20, 20, 20]), 200, 400) or (0, 0)
    assert avg == pytest.approx(800 / 32 / 200)
    assert worst == 0  # 200 tokens per iteration fit in a full bucket
    avg, worst = read_rate_usage(rows([100], duration_ms=1000), 200, 400) or (0, 0)
    assert worst == pytest.approx(5.0)  # 1000 tokens in 1 s at 200/s: it waited on the bucket
    assert read_rate_usage(rows([0, 0]), 200, 400) is None


def test_rate_limit_thresholds() -> None:
    assert rate_limits_check(None, rows([0, 0])).status == OK
    assert rate_limits_check(None, rows([20] * 5)).status == OK
    busy = rate_limits_check(None, rows([170] * 5, every_s=10, duration_ms=9000))  # 1700 tok/10 s ≈ 0.85
    assert busy.status == DEGRADED and "little headroom" in busy.detail
    saturated = rate_limits_check(None, rows([200] * 5, every_s=10, duration_ms=9900))
    assert saturated.status == FAILED
    burst = rate_limits_check(None, rows([60, 60], every_s=30, duration_ms=1000))
    assert burst.status == DEGRADED and "bursts" in burst.detail


def test_rate_limits_use_the_accounts_tier(ed_key: ed25519.Ed25519PrivateKey, key_env: dict[str, str]) -> None:
    busy = rows([170] * 5, every_s=10, duration_ms=9000)  # ≈ 170 tokens/s
    c = run(FakeKalshi(public_key=ed_key.public_key(), server_time=NOW), environ=key_env, iterations=busy)
    assert c["rate_limits"].status == OK and c["rate_limits"].facts["read_rate"] == 300  # advanced: 300/s


# -- which environment, and WS mode -----------------------------------------------------------


def test_exchange_env_for_mode_and_source() -> None:
    assert exchange_env_for("paper", "sim:seed=1") is None
    assert exchange_env_for("paper", "replay:/x.jsonl") is None
    assert exchange_env_for("paper", "kalshi") is PROD
    assert exchange_env_for("paper", "kalshi-demo,ws=1") is DEMO
    assert exchange_env_for("demo", "sim") is DEMO
    assert exchange_env_for("live", "sim") is PROD
    env = exchange_env_for("paper", "kalshi:http://127.0.0.1:8800/trade-api/v2,ws=1")
    assert env is not None and env.rest_url == "http://127.0.0.1:8800/trade-api/v2"


def test_ws_mode_check_from_the_journal() -> None:
    assert ws_mode_check("sim:seed=1", []).status == OK
    assert "REST polling" in ws_mode_check("kalshi", []).detail
    steady = [{"markets": 100}] * 5
    assert ws_mode_check("kalshi,ws=1", steady).status == OK
    c = ws_mode_check("kalshi,ws=1", [*steady, {"markets": 30}])
    assert c.status == DEGRADED and "30 markets against 100" in c.detail


def test_ws_feed_says_why_it_does_not_apply() -> None:
    assert ws_mode_check("sim", [], mode="paper").detail == "not applicable (paper on the built-in sim)"
    # demo/live orders go to Kalshi; only the market data is the sim's
    for mode in ("demo", "live"):
        c = ws_mode_check("sim:seed=1", [], mode=mode)
        assert c.status == OK and "paper" not in c.detail and "market data from the built-in sim" in c.detail
    assert "from a recording" in ws_mode_check("replay:/tmp/r.jsonl", [], mode="demo").detail
    assert "REST polling" in ws_mode_check("kalshi-demo", [], mode="demo").detail


def test_bucket_headroom_from_the_clients_own_buckets() -> None:
    from kalashi_cli.health import bucket_headroom_check
    from kalashi_cli.kalshi.ratelimit import RateLimiter

    now = [0.0]
    source = RateLimiter(clock=lambda: now[0])
    broker = RateLimiter(clock=lambda: now[0])
    c = bucket_headroom_check({"source": source, "broker": broker})
    assert c.status == OK and c.facts["source_read_fill"] == 1.0 and "broker write 100% of 100" in c.detail
    assert source.read.try_take(380) == 0  # a burst of 38 reads
    c = bucket_headroom_check({"source": source, "broker": broker})
    assert c.status == DEGRADED and "source read nearly empty" in c.detail
    now[0] += 1.0  # one second of refill at 200/s
    assert bucket_headroom_check({"source": source}).status == OK
