"""Signatures are checked exactly as Kalshi checks them (REFERENCE §2), with Kalshi's 401 body."""

from __future__ import annotations

import base64
import json
import os
import stat
import time
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

from kalashi_cli.errors import AuthError, UsageError
from kalashi_cli.kalshi.auth import Credentials, KalshiAuth, load_private_key
from kalashi_cli.kalshi.ws import KalshiFeed
from kalashi_cli.sim.server import DemoKey, KeyRing, generate_demo_key, keyring_from
from kalashi_cli.sim.server.keys import SignatureError

from .conftest import Sim, run, write_private_key

BALANCE = "/trade-api/v2/portfolio/balance"


def _headers(
    key: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey,
    key_id: str,
    message_path: str,
    *,
    method: str = "GET",
    ts: str | None = None,
    pss_salt: int | None = None,
) -> dict[str, str]:
    ts = ts or str(time.time_ns() // 1_000_000)
    msg = f"{ts}{method}{message_path}".encode()
    if isinstance(key, ed25519.Ed25519PrivateKey):
        sig = key.sign(msg)
    else:
        salt = padding.PSS.DIGEST_LENGTH if pss_salt is None else pss_salt
        sig = key.sign(msg, padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=salt), hashes.SHA256())
    return {
        "KALSHI-ACCESS-KEY": key_id,
        "KALSHI-ACCESS-TIMESTAMP": ts,
        "KALSHI-ACCESS-SIGNATURE": base64.b64encode(sig).decode(),
    }


def _key(k: DemoKey) -> rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey:
    key = load_private_key(k.private_key_path.read_bytes())
    return key


def test_rsa_pss_and_ed25519_keys_are_both_accepted(shared_sim: Sim, demo_key: DemoKey, second_key: DemoKey) -> None:
    for k in (demo_key, second_key):
        r = shared_sim.anon.get("portfolio/balance", headers=_headers(_key(k), k.key_id, BALANCE))
        assert r.status_code == 200, r.text
        assert r.json()["balance_dollars"] == "1000.0000"  # each key is its own account


def test_rsa_pkcs8_private_key_signs_like_pkcs1(shared_sim: Sim, demo_key: DemoKey, tmp_path: Path) -> None:
    key = _key(demo_key)
    assert isinstance(key, rsa.RSAPrivateKey)
    path = write_private_key(tmp_path / "k8.key", key, pkcs8=True)
    creds = Credentials(demo_key.key_id, load_private_key(path.read_bytes()))
    with httpx.Client(base_url=shared_sim.url + "/", auth=KalshiAuth(creds), trust_env=False) as c:
        assert c.get("portfolio/balance").status_code == 200


@pytest.mark.parametrize(
    "case",
    [
        "wrong_key",
        "unknown_id",
        "seconds",
        "query_signed",
        "pkcs1v15",
        "wrong_method",
        "no_prefix",
        "bad_base64",
        "stale",
    ],
)
def test_bad_signatures_get_kalshis_401(shared_sim: Sim, demo_key: DemoKey, case: str) -> None:
    key = _key(demo_key)
    kid = demo_key.key_id
    path = "portfolio/balance?limit=5"
    if case == "wrong_key":
        h = _headers(rsa.generate_private_key(public_exponent=65537, key_size=2048), kid, BALANCE)
    elif case == "unknown_id":
        h = _headers(key, "not-registered", BALANCE)
    elif case == "seconds":  # the classic mistake: seconds instead of milliseconds (§2.2)
        h = _headers(key, kid, BALANCE, ts=str(int(time.time())))
    elif case == "query_signed":  # the query string is NOT part of the signed path
        h = _headers(key, kid, BALANCE + "?limit=5")
    elif case == "pkcs1v15":  # RSA-PSS, not PKCS#1 v1.5 (§2.3)
        assert isinstance(key, rsa.RSAPrivateKey)
        ts = str(time.time_ns() // 1_000_000)
        sig = key.sign(f"{ts}GET{BALANCE}".encode(), padding.PKCS1v15(), hashes.SHA256())
        h = {
            "KALSHI-ACCESS-KEY": kid,
            "KALSHI-ACCESS-TIMESTAMP": ts,
            "KALSHI-ACCESS-SIGNATURE": base64.b64encode(sig).decode(),
        }
    elif case == "wrong_method":
        h = _headers(key, kid, BALANCE, method="POST")
    elif case == "no_prefix":  # the signed path includes /trade-api/v2 (trap 1)
        h = _headers(key, kid, "/portfolio/balance")
    elif case == "bad_base64":
        h = {**_headers(key, kid, BALANCE), "KALSHI-ACCESS-SIGNATURE": "not base64!"}
    else:
        h = _headers(key, kid, BALANCE, ts=str(time.time_ns() // 1_000_000 - 3_600_000))
    r = shared_sim.anon.get(path, headers=h)
    assert r.status_code == 401
    err = r.json()["error"]
    assert err["code"] == "authentication_error" and err["message"] == "authentication_error"
    assert err["details"].startswith("rpc error: code = Unauthenticated desc = ")


def test_the_signed_path_without_query_is_accepted(shared_sim: Sim, demo_key: DemoKey) -> None:
    r = shared_sim.anon.get(
        "portfolio/orders?limit=5&status=resting",
        headers=_headers(_key(demo_key), demo_key.key_id, "/trade-api/v2/portfolio/orders"),
    )
    assert r.status_code == 200


def test_private_endpoints_need_auth_public_ones_do_not(shared_sim: Sim) -> None:
    for path in (
        "portfolio/balance",
        "portfolio/orders",
        "portfolio/fills",
        "account/limits",
        "portfolio/order_groups",
    ):
        assert shared_sim.anon.get(path).status_code == 401
    r = shared_sim.anon.post("portfolio/events/orders", json={})
    assert r.status_code == 401  # authentication comes before reading the body
    for path in ("exchange/status", "markets", "events", "series", "markets/trades"):
        assert shared_sim.anon.get(path).status_code == 200


def test_public_endpoint_with_bad_headers_is_refused(shared_sim: Sim, demo_key: DemoKey) -> None:
    h = _headers(_key(demo_key), demo_key.key_id, "/trade-api/v2/somewhere-else")
    assert shared_sim.anon.get("markets", headers=h).status_code == 401


def test_websocket_upgrade_needs_a_signed_handshake(shared_sim: Sim, demo_key: DemoKey) -> None:
    feed = KalshiFeed(shared_sim.ws_url, auth=None, tickers=[], lifecycle=True, private=False, max_reconnects=0)
    with pytest.raises(AuthError):
        run(feed.run())
    other = Credentials(demo_key.key_id, rsa.generate_private_key(public_exponent=65537, key_size=2048))
    feed = KalshiFeed(shared_sim.ws_url, auth=KalshiAuth(other), tickers=[], lifecycle=True, max_reconnects=0)
    with pytest.raises(AuthError):
        run(feed.run())


def test_keyring_loads_add_key_specs_and_keys_files(tmp_path: Path, demo_key: DemoKey, second_key: DemoKey) -> None:
    ring = keyring_from([f"{demo_key.key_id}={demo_key.public_key_path}"])
    assert ring.key_ids() == [demo_key.key_id]
    (tmp_path / "keys.json").write_text(json.dumps({second_key.key_id: str(second_key.public_key_path)}))
    rel = tmp_path / "sub"
    rel.mkdir()
    (rel / "a.pem").write_bytes(demo_key.public_key_path.read_bytes())
    (rel / "keys.yaml").write_text("key-a: a.pem\n")  # relative to the keys file
    ring.add_keys_file(tmp_path / "keys.json")
    ring.add_keys_file(rel / "keys.yaml")
    assert set(ring.key_ids()) == {demo_key.key_id, second_key.key_id, "key-a"}
    # a private key PEM is accepted too (its public half is used)
    ring.add_pem_file("from-private", demo_key.private_key_path)


@pytest.mark.parametrize("spec", ["no-equals", "=path.pem", "id=", "id=/no/such/file.pem"])
def test_bad_add_key_specs_are_usage_errors(spec: str) -> None:
    with pytest.raises(UsageError):
        KeyRing().add_spec(spec)


def test_a_key_id_cannot_be_registered_twice_with_different_keys(demo_key: DemoKey, second_key: DemoKey) -> None:
    ring = KeyRing()
    ring.add_pem_file("k", demo_key.public_key_path)
    ring.add_pem_file("k", demo_key.public_key_path)  # the same key again is fine
    with pytest.raises(UsageError):
        ring.add_pem_file("k", second_key.public_key_path)


def test_keys_file_must_map_ids_to_paths(tmp_path: Path) -> None:
    (tmp_path / "k.yaml").write_text("- a\n- b\n")
    with pytest.raises(UsageError):
        KeyRing().add_keys_file(tmp_path / "k.yaml")


def test_demo_keys_are_private_and_reused(tmp_path: Path) -> None:
    d = generate_demo_key(tmp_path / "keys")
    assert stat.S_IMODE(os.stat(d.private_key_path).st_mode) == 0o600
    assert d.private_key_path.read_bytes().startswith(b"-----BEGIN RSA PRIVATE KEY-----")  # PKCS#1, like Kalshi's
    again = generate_demo_key(tmp_path / "keys")
    assert again == d
    assert f"KALSHI_API_KEY_ID={d.key_id}" in d.exports()
    ed = generate_demo_key(tmp_path / "ed", key_type="ed25519")
    assert ed.private_key_path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")


def test_verify_reports_why(demo_key: DemoKey) -> None:
    ring = keyring_from(demo=[demo_key])
    now = time.time_ns() // 1_000_000
    with pytest.raises(SignatureError, match="API_KEY_NOT_FOUND"):
        ring.verify("nobody", str(now), "GET", BALANCE, "AAAA", now_ms=now)
    with pytest.raises(SignatureError, match="INVALID_TIMESTAMP"):
        ring.verify(demo_key.key_id, "12ab", "GET", BALANCE, "AAAA", now_ms=now)
