"""Kalshi request signing (REFERENCE §2) and credential loading.

Every authenticated request carries three headers::

    KALSHI-ACCESS-KEY        the API key id
    KALSHI-ACCESS-TIMESTAMP  Unix time in milliseconds
    KALSHI-ACCESS-SIGNATURE  base64(sign(timestamp + METHOD + path))

``path`` is the URL path from the host root, *including* ``/trade-api/v2`` and *without*
the query string (§2.2, trap 1). RSA keys sign with RSA-PSS (SHA-256, MGF1-SHA-256, salt
length 32 = digest length); Ed25519 keys sign plainly (RFC 8032). The WebSocket upgrade
signs ``GET/trade-api/ws/v2`` (§2.4).

The private key never leaves :class:`Credentials`: its ``repr`` shows only the key id's
first characters, and no exception raised here contains key material.
"""

from __future__ import annotations

import base64
import os
import stat
import time
from collections.abc import Callable, Generator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

from ..errors import AuthError

KEY_ID_VAR = "KALSHI_API_KEY_ID"
KEY_PATH_VAR = "KALSHI_PRIVATE_KEY_PATH"
#: Declaration of where the key belongs: ``demo``, ``prod``, or the ``http(s)://host[:port]`` of
#: a Kalshi-compatible server. Production and remote servers only see a key declared for them
#: (:func:`kalashi_cli.kalshi.env.signing_allowed`).
KEY_ENV_VAR = "KALSHI_KEY_ENV"
WS_PATH = "/trade-api/ws/v2"

_PSS = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH)
_SHA256 = hashes.SHA256()

PrivateKey = rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey


def _wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


class Credentials:
    """An API key id and its private key; prints as ``Credentials(key_id='abcd…')`` only."""

    __slots__ = ("_key", "environment", "key_id")

    def __init__(self, key_id: str, private_key: PrivateKey, *, environment: str | None = None) -> None:
        if not key_id:
            raise AuthError("empty API key id", hint=f"set {KEY_ID_VAR} to the key id shown by Kalshi")
        self.key_id = key_id
        self._key = private_key
        self.environment = environment  # "demo" | "prod" | "scheme://host:port" | None (undeclared)

    @property
    def key_type(self) -> str:
        return "ed25519" if isinstance(self._key, ed25519.Ed25519PrivateKey) else "rsa"

    def sign(self, message: bytes) -> bytes:
        """Sign ``message`` with the private key (RSA-PSS SHA-256 salt 32, or Ed25519)."""
        if isinstance(self._key, ed25519.Ed25519PrivateKey):
            return self._key.sign(message)
        return self._key.sign(message, _PSS, _SHA256)

    def public_key_pem(self) -> bytes:
        """Return the public half as PEM (what ``POST /api_keys`` takes); safe to show."""
        return self._key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def __repr__(self) -> str:
        shown = self.key_id[:4] + "…" if len(self.key_id) > 4 else "…"
        env = f", environment={self.environment!r}" if self.environment else ""
        return f"Credentials(key_id={shown!r}, key_type={self.key_type!r}{env})"

    __str__ = __repr__

    def __reduce__(self) -> Any:
        raise TypeError("Credentials cannot be pickled (they hold a private key)")


def load_private_key(pem: bytes) -> PrivateKey:
    """Load a PEM private key: RSA in PKCS#1 or PKCS#8, or Ed25519 in PKCS#8.

    Raises:
        AuthError: the bytes are not an unencrypted RSA or Ed25519 private key.
    """
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        # The library's message can quote parts of the input; say what to do instead.
        raise AuthError(
            "the private key file is not a readable, unencrypted PEM private key",
            hint="use the .key file Kalshi gave you (-----BEGIN RSA PRIVATE KEY----- or -----BEGIN PRIVATE KEY-----)",
        ) from None
    if not isinstance(key, rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey):
        raise AuthError(f"unsupported private key type {type(key).__name__}", hint="Kalshi keys are RSA or Ed25519")
    return key


def check_key_file_permissions(path: Path) -> None:
    """Refuse a key file that group or others can read (POSIX only).

    Raises:
        AuthError: the file is readable or writable by group/others.
    """
    if os.name != "posix":
        return
    try:
        mode = path.stat().st_mode
    except OSError as e:
        raise AuthError(
            f"cannot read the private key file {path}: {e.strerror}",
            hint=f"set {KEY_PATH_VAR} to the path of your Kalshi .key file",
        ) from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise AuthError(
            f"the private key file {path} is accessible by other users (mode {stat.S_IMODE(mode):o})",
            hint=f"run: chmod 600 {path}",
        )


def load_credentials(env: Mapping[str, str] = os.environ) -> Credentials:
    """Load credentials from ``KALSHI_API_KEY_ID`` and ``KALSHI_PRIVATE_KEY_PATH``.

    ``KALSHI_KEY_ENV`` (``demo``, ``prod`` or a server's ``http(s)://host[:port]``), when set,
    declares where the key belongs; :func:`kalashi_cli.kalshi.env.check_key_environment`
    refuses a mismatch and :func:`~kalashi_cli.kalshi.env.signing_allowed` decides whether
    a request is signed at all.

    Raises:
        AuthError: a variable is missing, the file is unreadable, too open, or not a key.
    """
    key_id = (env.get(KEY_ID_VAR) or "").strip()
    key_path = (env.get(KEY_PATH_VAR) or "").strip()
    missing = [name for name, value in ((KEY_ID_VAR, key_id), (KEY_PATH_VAR, key_path)) if not value]
    if missing:
        raise AuthError(
            "Kalshi credentials are not set: missing " + " and ".join(missing),
            hint=f"export {KEY_ID_VAR}=<key id> {KEY_PATH_VAR}=<path to the .key file>",
        )
    declared = declared_key_environment(env.get(KEY_ENV_VAR) or "")
    path = Path(key_path).expanduser()
    check_key_file_permissions(path)
    try:
        pem = path.read_bytes()
    except OSError as e:
        raise AuthError(
            f"cannot read the private key file {path}: {e.strerror}", hint=f"check {KEY_PATH_VAR}"
        ) from None
    return Credentials(key_id, load_private_key(pem), environment=declared)


def server_origin(url: str) -> str | None:
    """Return ``scheme://host:port`` of an http(s) URL (default port filled in), or None."""
    parts = urlsplit(url.strip())
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    try:
        port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    except ValueError:
        return None
    host = parts.hostname.lower()
    return f"{parts.scheme.lower()}://{f'[{host}]' if ':' in host else host}:{port}"


def declared_key_environment(value: str) -> str | None:
    """Read ``KALSHI_KEY_ENV``: ``demo``, ``prod``, a server's origin, or None when unset.

    Raises:
        AuthError: any other value.
    """
    text = value.strip()
    if not text:
        return None
    if text.lower() in ("demo", "prod"):
        return text.lower()
    origin = server_origin(text)
    if origin is None:
        raise AuthError(
            f"{KEY_ENV_VAR} must be demo, prod or the http(s) URL of a Kalshi-compatible server, got {text!r}",
            hint=f"unset {KEY_ENV_VAR}, or set it to demo, prod or e.g. https://sim.example.net:8800",
        )
    return origin


def credentials_present(env: Mapping[str, str] = os.environ) -> bool:
    """Return whether both credential variables are set (without reading the key)."""
    return bool((env.get(KEY_ID_VAR) or "").strip() and (env.get(KEY_PATH_VAR) or "").strip())


def try_load_credentials(env: Mapping[str, str] = os.environ) -> Credentials | None:
    """Load credentials when any credential variable is set; None when none is.

    Raises:
        AuthError: the variables are set but incomplete or the key is unusable.
    """
    if not ((env.get(KEY_ID_VAR) or "").strip() or (env.get(KEY_PATH_VAR) or "").strip()):
        return None
    return load_credentials(env)


def signing_path(url: httpx.URL) -> str:
    """Return the path Kalshi signs: from the host root, without the query string."""
    raw = url.raw_path.decode("ascii")
    return raw.split("?", 1)[0]


class KalshiAuth(httpx.Auth):
    """Sign every request with the Kalshi headers; ``clock_ms`` is injectable for tests."""

    requires_request_body = False
    requires_response_body = False

    def __init__(self, credentials: Credentials, *, clock_ms: Callable[[], int] = _wall_clock_ms) -> None:
        self.credentials = credentials
        self._clock_ms = clock_ms

    def headers(self, method: str, path: str) -> dict[str, str]:
        """Return the three auth headers for ``METHOD path`` (path with prefix, no query)."""
        ts = str(self._clock_ms())
        signature = self.credentials.sign(f"{ts}{method.upper()}{path}".encode())
        return {
            "KALSHI-ACCESS-KEY": self.credentials.key_id,
            "KALSHI-ACCESS-TIMESTAMP": ts,
            "KALSHI-ACCESS-SIGNATURE": base64.b64encode(signature).decode("ascii"),
        }

    def ws_headers(self, path: str = WS_PATH) -> dict[str, str]:
        """Return the headers for the WebSocket upgrade (signs ``GET/trade-api/ws/v2``)."""
        return self.headers("GET", path)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers.update(self.headers(request.method, signing_path(request.url)))
        yield request

    def __repr__(self) -> str:
        return f"KalshiAuth({self.credentials!r})"
