"""Keys only go where they belong: no KALSHI-ACCESS-* header reaches a host the key is not declared for.

The rule (kalashi_cli.kalshi.env.signing_allowed): production sees only a key declared
``KALSHI_KEY_ENV=prod``; demo an undeclared or demo key; any other server an undeclared or
demo key on loopback only, and a remote one only a key declared for exactly its
``scheme://host:port``. Requests are captured with ``httpx.MockTransport``: nothing leaves
the process.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from kalashi_cli.errors import AuthError, ConsentError
from kalashi_cli.kalshi.auth import Credentials, declared_key_environment, load_credentials, server_origin
from kalashi_cli.kalshi.broker import KalshiBroker
from kalashi_cli.kalshi.env import DEMO, PROD, check_key_environment, custom_env, signing_allowed
from kalashi_cli.kalshi.source import KalshiSource, open_source

AUTH_HEADERS = ("kalshi-access-key", "kalshi-access-signature", "kalshi-access-timestamp")
LIMITS = {
    "usage_tier": "basic",
    "read": {"refill_rate": 200, "bucket_capacity": 400},
    "write": {"refill_rate": 100, "bucket_capacity": 100},
}


class Recorder:
    """A Kalshi-shaped REST stub that keeps every request it gets."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path.removeprefix("/trade-api/v2")
        body: dict[str, Any] = {"cursor": ""}
        if path == "/account/limits":
            body = LIMITS
        elif path == "/series":
            body["series"] = []
        elif path == "/events":
            body["events"] = []
        elif path.startswith("/markets"):
            body["markets"] = []
            body["orderbooks"] = []
        return httpx.Response(200, json=body)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)

    def signed(self) -> list[str]:
        return [r.url.path for r in self.requests if any(h in r.headers for h in AUTH_HEADERS)]


def _env(key_file: Path, declared: str | None = None, **extra: str) -> dict[str, str]:
    env = {"KALSHI_API_KEY_ID": "key-1234", "KALSHI_PRIVATE_KEY_PATH": str(key_file), **extra}
    if declared is not None:
        env["KALSHI_KEY_ENV"] = declared
    return env


def _list_once(spec: str, env: dict[str, str]) -> Recorder:
    rec = Recorder()
    src = open_source(spec, env=env, transport=rec.transport())
    try:
        list(src.list_markets())
        src.advance()
    finally:
        src.close()
    assert rec.requests, "the source made no request"
    return rec


def test_an_undeclared_key_never_signs_production_reads(rsa_pkcs1_file: Path) -> None:
    rec = _list_once("kalshi", _env(rsa_pkcs1_file))
    assert rec.signed() == []
    paths = [r.url.path for r in rec.requests]
    assert "/trade-api/v2/account/limits" not in paths  # an authenticated-only call is not even tried
    assert all(r.url.host == "external-api.kalshi.com" for r in rec.requests)


def test_a_key_declared_prod_signs_production_reads(rsa_pkcs1_file: Path) -> None:
    rec = _list_once("kalshi", _env(rsa_pkcs1_file, "prod"))
    assert rec.signed() and len(rec.signed()) == len(rec.requests)
    assert "/trade-api/v2/account/limits" in rec.signed()


def test_a_demo_key_on_production_is_refused_before_any_request(rsa_pkcs1_file: Path) -> None:
    rec = Recorder()
    with pytest.raises(ConsentError, match="declared as a demo key"):
        open_source("kalshi", env=_env(rsa_pkcs1_file, "demo"), transport=rec.transport())
    assert rec.requests == []


def test_production_websocket_with_an_undeclared_key_is_refused_with_a_hint(rsa_pkcs1_file: Path) -> None:
    rec = Recorder()
    with pytest.raises(ConsentError) as e:
        open_source("kalshi,ws=1", env=_env(rsa_pkcs1_file), transport=rec.transport())
    assert "KALSHI_KEY_ENV=prod" in (e.value.hint or "")
    assert rec.requests == []


def test_demo_signs_with_an_undeclared_or_demo_key(rsa_pkcs1_file: Path) -> None:
    for declared in (None, "demo"):
        rec = _list_once("kalshi-demo", _env(rsa_pkcs1_file, declared))
        assert len(rec.signed()) == len(rec.requests)
        assert all(r.url.host == "external-api.demo.kalshi.co" for r in rec.requests)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8800/trade-api/v2",
        "http://127.8.9.10:8800",
        "http://localhost:8800/trade-api/v2",
        "http://[::1]:8800/trade-api/v2",
    ],
)
def test_loopback_servers_get_signed_requests(rsa_pkcs1_file: Path, url: str) -> None:
    rec = _list_once(f"kalshi:{url}", _env(rsa_pkcs1_file))
    assert len(rec.signed()) == len(rec.requests)


def test_a_remote_custom_server_gets_no_key_unless_declared_for_it(rsa_pkcs1_file: Path) -> None:
    url = "https://sim.example.net:8800/trade-api/v2"
    for declared in (
        None,
        "demo",
        "https://other.example.net:8800",
        "http://sim.example.net:8800",
        "https://sim.example.net",
    ):
        rec = _list_once(f"kalshi:{url}", _env(rsa_pkcs1_file, declared))
        assert rec.signed() == [], declared
    rec = _list_once(f"kalshi:{url}", _env(rsa_pkcs1_file, "https://SIM.example.net:8800/"))
    assert len(rec.signed()) == len(rec.requests)


def test_a_remote_custom_websocket_needs_the_declaration(rsa_pkcs1_file: Path) -> None:
    with pytest.raises(ConsentError) as e:
        open_source(
            "kalshi:https://sim.example.net/trade-api/v2,ws=1",
            env=_env(rsa_pkcs1_file),
            transport=Recorder().transport(),
        )
    assert "KALSHI_KEY_ENV=https://sim.example.net:443" in (e.value.hint or "")


def test_the_demo_source_redirected_to_a_remote_server_does_not_sign(rsa_pkcs1_file: Path) -> None:
    rec = _list_once("kalshi-demo", _env(rsa_pkcs1_file, KALASHI_EXCHANGE_URL="https://sim.example.net/trade-api/v2"))
    assert rec.signed() == [] and all(r.url.host == "sim.example.net" for r in rec.requests)


def test_a_prod_key_never_goes_to_another_server(rsa_pkcs1_file: Path) -> None:
    with pytest.raises(ConsentError, match="only sent to Kalshi production"):
        open_source(
            "kalshi:http://127.0.0.1:8800/trade-api/v2",
            env=_env(rsa_pkcs1_file, "prod"),
            transport=Recorder().transport(),
        )
    creds = load_credentials(_env(rsa_pkcs1_file, "prod"))
    with pytest.raises(ConsentError):  # the demo broker on the simulator refuses it too
        KalshiBroker("demo", custom_env("http://127.0.0.1:8800"), creds, configure_limits=False)


def test_a_key_declared_for_a_server_is_refused_on_kalshi(rsa_pkcs1_file: Path) -> None:
    creds = load_credentials(_env(rsa_pkcs1_file, "https://sim.example.net:8800"))
    for env in (PROD, DEMO):
        with pytest.raises(ConsentError):
            check_key_environment(creds, env)


def test_signing_rule_table(rsa_key: Any) -> None:
    def creds(declared: str | None) -> Credentials:
        return Credentials("k", rsa_key, environment=declared)

    remote = custom_env("https://sim.example.net:8800")
    loop = custom_env("http://127.0.0.1:8800")
    table = {
        (None, "prod"): False,
        ("demo", "prod"): False,
        ("prod", "prod"): True,
        (None, "demo"): True,
        ("demo", "demo"): True,
        ("prod", "demo"): False,
        (None, "loop"): True,
        ("demo", "loop"): True,
        ("prod", "loop"): False,
        (None, "remote"): False,
        ("demo", "remote"): False,
        ("prod", "remote"): False,
        ("https://sim.example.net:8800", "remote"): True,
        ("https://sim.example.net:8800", "loop"): False,
        ("http://127.0.0.1:8800", "loop"): True,
    }
    targets = {"prod": PROD, "demo": DEMO, "loop": loop, "remote": remote}
    got = {(d, t): signing_allowed(creds(d), targets[t]) for d, t in table}
    assert got == table


def test_key_env_values() -> None:
    assert declared_key_environment("") is None
    assert declared_key_environment(" PROD ") == "prod"
    assert declared_key_environment("https://Sim.Example.net/trade-api/v2") == "https://sim.example.net:443"
    assert server_origin("http://[::1]:9/x") == "http://[::1]:9"
    for bad in ("production", "ftp://x", "sim.example.net"):
        with pytest.raises(AuthError, match="KALSHI_KEY_ENV"):
            declared_key_environment(bad)


def test_explicit_credentials_to_kalshisource_are_still_checked(rsa_key: Any) -> None:
    demo_key = Credentials("k", rsa_key, environment="demo")
    with pytest.raises(ConsentError):
        KalshiSource(PROD, credentials=demo_key, transport=Recorder().transport())


def test_record_from_production_with_an_undeclared_key_is_refused_before_any_request(
    rsa_pkcs1_file: Path, tmp_path: Path
) -> None:
    from kalashi_cli.kalshi.recorder import record

    rec = Recorder()
    with pytest.raises(ConsentError) as e:
        record(
            tmp_path / "r.jsonl",
            source="kalshi",
            tickers=["KXA-1"],
            events=[],
            series=[],
            duration_s=1,
            environ=_env(rsa_pkcs1_file),
            transport=rec.transport(),
        )
    assert "KALSHI_KEY_ENV=prod" in (e.value.hint or "") and rec.requests == []


def test_heal_probing_production_for_paper_does_not_send_an_undeclared_key(rsa_pkcs1_file: Path) -> None:
    from kalashi_cli.heal.probes import exchange_checks

    rec = Recorder()
    checks = {
        c.name: c for c in exchange_checks(PROD, mode="paper", environ=_env(rsa_pkcs1_file), transport=rec.transport())
    }
    assert rec.requests and rec.signed() == []
    assert checks["credentials"].status == "ok" and "not sent" in checks["credentials"].detail


@pytest.mark.parametrize(
    ("spec", "declared", "want_ws"),
    [
        ("kalshi:http://127.0.0.1:9/trade-api/v2", None, True),  # a loopback simulator: the key may sign
        ("kalshi:http://127.0.0.1:9/trade-api/v2,ws=0", None, False),  # told to poll
        ("kalshi", None, False),  # production with an undeclared key: REST, unsigned, no refusal
        ("kalshi", "prod", True),
    ],
)
def test_loops_take_the_websocket_feed_by_default_where_a_key_may_sign(
    rsa_pkcs1_file: Path, spec: str, declared: str | None, want_ws: bool
) -> None:
    rec = Recorder()
    src = open_source(spec, env=_env(rsa_pkcs1_file, declared), transport=rec.transport(), ws_default=True)
    try:
        assert isinstance(src, KalshiSource)
        assert src.ws is want_ws and src.describe().endswith(",ws=1") is want_ws
    finally:
        src.close()
    one_shot = open_source(spec, env=_env(rsa_pkcs1_file, declared), transport=rec.transport())
    try:
        assert isinstance(one_shot, KalshiSource)
        assert one_shot.ws is False, "one-shot commands poll REST"
    finally:
        one_shot.close()
