"""Signing: the exact message, both key types, both PEM formats, credential loading, no leaks."""

from __future__ import annotations

import asyncio
import base64
import os
import traceback
from pathlib import Path

import httpx
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

from kalashi_cli.errors import AuthError
from kalashi_cli.kalshi.auth import Credentials, KalshiAuth, load_credentials, load_private_key, signing_path

TS = 1703123456789


def verify(pub: object, signature_b64: str, message: bytes) -> None:
    raw = base64.b64decode(signature_b64, validate=True)  # standard alphabet, padded
    if isinstance(pub, ed25519.Ed25519PublicKey):
        pub.verify(raw, message)
    else:
        assert isinstance(pub, rsa.RSAPublicKey)
        pub.verify(raw, message, padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32), hashes.SHA256())


def send_and_capture(auth: KalshiAuth, base_url: str, method: str, url: str, **kw: object) -> httpx.Request:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={})

    async def go() -> None:
        async with httpx.AsyncClient(base_url=base_url, auth=auth, transport=httpx.MockTransport(handler)) as c:
            await c.request(method, url, **kw)  # type: ignore[arg-type]

    asyncio.run(go())
    return seen[0]


@pytest.mark.parametrize("creds_fixture", ["rsa_creds", "ed_creds"])
def test_signature_verifies_over_path_with_prefix_without_query(
    creds_fixture: str, request: pytest.FixtureRequest
) -> None:
    creds: Credentials = request.getfixturevalue(creds_fixture)
    auth = KalshiAuth(creds, clock_ms=lambda: TS)
    # Base URL already ends in /trade-api/v2 (the double-prefix trap) and the URL has a query.
    req = send_and_capture(
        auth, "https://external-api.kalshi.com/trade-api/v2/", "GET", "portfolio/orders", params={"limit": 5}
    )
    assert str(req.url) == "https://external-api.kalshi.com/trade-api/v2/portfolio/orders?limit=5"
    assert req.headers["KALSHI-ACCESS-KEY"] == creds.key_id
    assert req.headers["KALSHI-ACCESS-TIMESTAMP"] == str(TS)  # milliseconds
    expected = f"{TS}GET/trade-api/v2/portfolio/orders".encode()
    pub = creds._key.public_key()
    verify(pub, req.headers["KALSHI-ACCESS-SIGNATURE"], expected)
    # …and NOT over anything else (query included, prefix missing, seconds).
    for wrong in (
        b"1703123456789GET/trade-api/v2/portfolio/orders?limit=5",
        b"1703123456789GET/portfolio/orders",
        b"1703123456GET/trade-api/v2/portfolio/orders",
    ):
        with pytest.raises(InvalidSignature):
            verify(pub, req.headers["KALSHI-ACCESS-SIGNATURE"], wrong)


def test_rsa_pss_signatures_are_randomised_and_method_is_upper_case(rsa_creds: Credentials) -> None:
    auth = KalshiAuth(rsa_creds, clock_ms=lambda: TS)
    a = auth.headers("delete", "/trade-api/v2/portfolio/events/orders/abc")
    b = auth.headers("DELETE", "/trade-api/v2/portfolio/events/orders/abc")
    assert a["KALSHI-ACCESS-SIGNATURE"] != b["KALSHI-ACCESS-SIGNATURE"]  # PSS salt, not PKCS#1 v1.5
    for h in (a, b):
        verify(
            rsa_creds._key.public_key(),
            h["KALSHI-ACCESS-SIGNATURE"],
            f"{TS}DELETE/trade-api/v2/portfolio/events/orders/abc".encode(),
        )


def test_pkcs1_and_pkcs8_rsa_and_pkcs8_ed25519_all_load(
    rsa_pkcs1_file: Path, rsa_pkcs8_file: Path, ed_file: Path
) -> None:
    assert isinstance(load_private_key(rsa_pkcs1_file.read_bytes()), rsa.RSAPrivateKey)
    assert isinstance(load_private_key(rsa_pkcs8_file.read_bytes()), rsa.RSAPrivateKey)
    assert isinstance(load_private_key(ed_file.read_bytes()), ed25519.Ed25519PrivateKey)


def test_ws_headers_sign_get_ws_path(ed_creds: Credentials) -> None:
    h = KalshiAuth(ed_creds, clock_ms=lambda: TS).ws_headers()
    verify(ed_creds._key.public_key(), h["KALSHI-ACCESS-SIGNATURE"], f"{TS}GET/trade-api/ws/v2".encode())


def test_signing_path_keeps_encoding_and_drops_query() -> None:
    url = httpx.URL("https://demo-api.kalshi.co/trade-api/v2/markets/orderbooks?tickers=A&tickers=B")
    assert signing_path(url) == "/trade-api/v2/markets/orderbooks"


def test_post_body_is_not_signed(rsa_creds: Credentials) -> None:
    auth = KalshiAuth(rsa_creds, clock_ms=lambda: TS)
    req = send_and_capture(
        auth, "https://x.test/trade-api/v2", "POST", "/portfolio/events/orders", json={"ticker": "T"}
    )
    verify(
        rsa_creds._key.public_key(),
        req.headers["KALSHI-ACCESS-SIGNATURE"],
        f"{TS}POST/trade-api/v2/portfolio/events/orders".encode(),
    )


def test_load_credentials_reads_env(rsa_pkcs1_file: Path) -> None:
    creds = load_credentials({"KALSHI_API_KEY_ID": "abcd-1234", "KALSHI_PRIVATE_KEY_PATH": str(rsa_pkcs1_file)})
    assert creds.key_id == "abcd-1234" and creds.key_type == "rsa" and creds.environment is None
    demo = load_credentials(
        {"KALSHI_API_KEY_ID": "k", "KALSHI_PRIVATE_KEY_PATH": str(rsa_pkcs1_file), "KALSHI_KEY_ENV": "demo"}
    )
    assert demo.environment == "demo"


def test_missing_variables_are_named() -> None:
    with pytest.raises(AuthError) as e:
        load_credentials({"KALSHI_API_KEY_ID": "k"})
    assert "KALSHI_PRIVATE_KEY_PATH" in str(e.value) and "KALSHI_API_KEY_ID" not in e.value.message
    with pytest.raises(AuthError) as e2:
        load_credentials({})
    assert "KALSHI_API_KEY_ID and KALSHI_PRIVATE_KEY_PATH" in str(e2.value)


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_key_readable_by_others_is_refused_with_chmod_hint(rsa_pkcs1_file: Path, mode: int) -> None:
    os.chmod(rsa_pkcs1_file, mode)
    with pytest.raises(AuthError) as e:
        load_credentials({"KALSHI_API_KEY_ID": "k", "KALSHI_PRIVATE_KEY_PATH": str(rsa_pkcs1_file)})
    assert f"chmod 600 {rsa_pkcs1_file}" in str(e.value)


def test_garbage_key_file_is_refused_without_echoing_it(tmp_path: Path) -> None:
    bad = tmp_path / "bad.key"
    bad.write_text("-----BEGIN RSA PRIVATE KEY-----\nSECRETSECRETSECRET\n-----END RSA PRIVATE KEY-----\n")
    os.chmod(bad, 0o600)
    with pytest.raises(AuthError) as e:
        load_credentials({"KALSHI_API_KEY_ID": "k", "KALSHI_PRIVATE_KEY_PATH": str(bad)})
    assert "SECRET" not in str(e.value)
    assert e.value.__cause__ is None and e.value.__suppress_context__


def test_key_material_never_in_repr_str_or_traceback(rsa_pkcs1_file: Path) -> None:
    pem = rsa_pkcs1_file.read_text()
    body_line = pem.splitlines()[1]
    creds = load_credentials({"KALSHI_API_KEY_ID": "abcdef-123456", "KALSHI_PRIVATE_KEY_PATH": str(rsa_pkcs1_file)})
    auth = KalshiAuth(creds)
    for text in (repr(creds), str(creds), repr(auth), f"{creds}"):
        assert body_line not in text and "BEGIN" not in text
        assert "abcdef-123456" not in text  # only a prefix of the key id is shown
    try:
        raise AuthError(f"failed with {creds!r}")
    except AuthError:
        tb = traceback.format_exc()
    assert body_line not in tb
    with pytest.raises(TypeError):
        import pickle

        pickle.dumps(creds)
