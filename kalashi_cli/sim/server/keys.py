"""API keys the simulator knows: public keys by key id, Kalshi signature checks, demo key pairs.

A request is authenticated as Kalshi does it (REFERENCE §2): ``KALSHI-ACCESS-KEY`` names a
registered key, ``KALSHI-ACCESS-TIMESTAMP`` is Unix milliseconds, and
``KALSHI-ACCESS-SIGNATURE`` is base64 of the signature of ``timestamp + METHOD + path`` (path
from the host root with ``/trade-api/v2``, no query string). RSA keys verify with RSA-PSS
(SHA-256, MGF1-SHA-256, salt = digest length); Ed25519 keys verify plainly.

Keys come from ``--add-key KEY_ID=public.pem`` (repeatable), a keys file (JSON or YAML mapping
key id → PEM path, relative paths from the file's folder), or ``--demo-keys DIR``, which
generates a key pair for development and tests (private key mode 600).
"""

from __future__ import annotations

import base64
import binascii
import os
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

from ...errors import UsageError

PublicKey = rsa.RSAPublicKey | ed25519.Ed25519PublicKey

_PSS = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH)
#: Kalshi documents no clock-skew tolerance; a window keeps a captured request from being
#: replayed later while forgiving ordinary clock drift (INFERENCE, documented in docs/sim-exchange.md).
DEFAULT_MAX_SKEW_MS = 5 * 60 * 1000


class SignatureError(Exception):
    """Why a request's credentials were refused (the text goes into the 401 ``details``)."""


def load_public_key(pem: bytes, *, what: str = "public key") -> PublicKey:
    """Load an RSA or Ed25519 public key (``-----BEGIN PUBLIC KEY-----``); a private key PEM also works.

    Raises:
        UsageError: the bytes are not an RSA or Ed25519 key.
    """
    key: object
    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        try:
            key = serialization.load_pem_private_key(pem, password=None).public_key()
        except (ValueError, TypeError, UnsupportedAlgorithm):
            raise UsageError(
                f"{what} is not a PEM RSA or Ed25519 key",
                hint="give the -----BEGIN PUBLIC KEY----- file of the API key",
            ) from None
    if not isinstance(key, rsa.RSAPublicKey | ed25519.Ed25519PublicKey):
        raise UsageError(f"{what} is a {type(key).__name__}; Kalshi keys are RSA or Ed25519")
    return key


class KeyRing:
    """Registered API keys: key id → public key."""

    def __init__(self, *, max_skew_ms: int = DEFAULT_MAX_SKEW_MS) -> None:
        self._keys: dict[str, PublicKey] = {}
        self.max_skew_ms = max_skew_ms

    def __contains__(self, key_id: object) -> bool:
        return key_id in self._keys

    def __len__(self) -> int:
        return len(self._keys)

    def key_ids(self) -> list[str]:
        return list(self._keys)

    def add(self, key_id: str, public_key: PublicKey) -> None:
        """Register a key.

        Raises:
            UsageError: empty key id, or the id is registered already with another key.
        """
        if not key_id or any(c.isspace() for c in key_id):
            raise UsageError(f"bad API key id {key_id!r}", hint="a key id is one word, e.g. a UUID")
        old = self._keys.get(key_id)
        if old is not None and _public_bytes(old) != _public_bytes(public_key):
            raise UsageError(f"API key id {key_id} is registered twice with different keys")
        self._keys[key_id] = public_key

    def add_pem_file(self, key_id: str, path: Path) -> None:
        """Register the PEM public key in ``path`` under ``key_id``.

        Raises:
            UsageError: unreadable file or not a key.
        """
        try:
            pem = path.read_bytes()
        except OSError as e:
            raise UsageError(f"cannot read the public key {path}: {e.strerror}") from None
        self.add(key_id, load_public_key(pem, what=str(path)))

    def add_spec(self, spec: str) -> str:
        """Register ``KEY_ID=path/to/public.pem`` (the ``--add-key`` form); return the key id.

        Raises:
            UsageError: not ``KEY_ID=PATH``, or the file is not a key.
        """
        key_id, sep, path = spec.partition("=")
        if not sep or not key_id.strip() or not path.strip():
            raise UsageError(f"--add-key takes KEY_ID=path/to/public.pem, got {spec!r}")
        self.add_pem_file(key_id.strip(), Path(path.strip()).expanduser())
        return key_id.strip()

    def add_keys_file(self, path: Path) -> list[str]:
        """Register every ``key id: PEM path`` of a JSON or YAML mapping; return the key ids.

        Raises:
            UsageError: unreadable file, not a mapping of strings, or a bad key.
        """
        try:
            text = path.read_text()
        except OSError as e:
            raise UsageError(f"cannot read the keys file {path}: {e.strerror}") from None
        import yaml  # JSON is YAML, so one parser reads both

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as e:
            raise UsageError(f"{path}: not JSON or YAML ({e.__class__.__name__})") from None
        if not isinstance(data, Mapping) or not all(isinstance(k, str) and isinstance(v, str) for k, v in data.items()):
            raise UsageError(f"{path}: expected a mapping of key id → public key PEM path")
        ids = []
        for key_id, pem_path in data.items():
            p = Path(pem_path).expanduser()
            self.add_pem_file(key_id, p if p.is_absolute() else path.parent / p)
            ids.append(key_id)
        return ids

    def verify(self, key_id: str, timestamp: str, method: str, path: str, signature_b64: str, *, now_ms: int) -> None:
        """Check one request's Kalshi signature.

        Raises:
            SignatureError: unknown key, missing or malformed header, stale timestamp, bad signature.
        """
        if not key_id:
            raise SignatureError("MISSING_API_KEY")
        key = self._keys.get(key_id)
        if key is None:
            raise SignatureError("API_KEY_NOT_FOUND")
        if not timestamp or not timestamp.isdigit():
            raise SignatureError("INVALID_TIMESTAMP")
        if abs(int(timestamp) - now_ms) > self.max_skew_ms:
            # seconds instead of milliseconds lands here too (REFERENCE §2.2 "common failure")
            raise SignatureError("TIMESTAMP_OUT_OF_RANGE")
        try:
            signature = base64.b64decode(signature_b64, validate=True)
        except (binascii.Error, ValueError):
            raise SignatureError("INCORRECT_API_KEY_SIGNATURE") from None
        message = f"{timestamp}{method.upper()}{path}".encode()
        try:
            if isinstance(key, ed25519.Ed25519PublicKey):
                key.verify(signature, message)
            else:
                key.verify(signature, message, _PSS, hashes.SHA256())
        except InvalidSignature:
            raise SignatureError("INCORRECT_API_KEY_SIGNATURE") from None


def _public_bytes(key: PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


@dataclass(frozen=True, slots=True)
class DemoKey:
    """A generated key pair: what to export so our client signs as this key."""

    key_id: str
    private_key_path: Path
    public_key_path: Path

    def exports(self) -> str:
        """Return the shell lines that point kalashi's client at this key."""
        return f"export KALSHI_API_KEY_ID={self.key_id}\nexport KALSHI_PRIVATE_KEY_PATH={self.private_key_path}"


def generate_demo_key(directory: Path, *, key_type: str = "rsa", key_id: str | None = None) -> DemoKey:
    """Create (or reuse) a key pair in ``directory``: ``<key id>.key`` (mode 600) and ``<key id>.pub.pem``.

    An existing pair in the folder is reused, so a restarted simulator keeps the same account.
    RSA keys are PKCS#1 like the ones Kalshi hands out; Ed25519 keys are PKCS#8.

    Raises:
        UsageError: the folder cannot be written, or an unknown key type.
    """
    if key_type not in ("rsa", "ed25519"):
        raise UsageError(f"key type must be rsa or ed25519, not {key_type!r}")
    try:
        from ...files import private_dir

        private_dir(directory)
    except OSError as e:
        raise UsageError(f"cannot create {directory}: {e.strerror}") from None
    existing = sorted(directory.glob("*.pub.pem"))
    if key_id is None and existing:
        pub = existing[0]
        kid = pub.name[: -len(".pub.pem")]
        return DemoKey(kid, directory / f"{kid}.key", pub)
    kid = key_id or str(uuid.uuid4())
    private: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey
    if key_type == "rsa":
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        fmt = serialization.PrivateFormat.TraditionalOpenSSL
    else:
        private = ed25519.Ed25519PrivateKey.generate()
        fmt = serialization.PrivateFormat.PKCS8
    pem = private.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption())
    priv_path = directory / f"{kid}.key"
    pub_path = directory / f"{kid}.pub.pem"
    try:
        fd = os.open(priv_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
        os.chmod(priv_path, 0o600)  # the umask cannot widen it, but an existing file keeps its mode
        from ...files import open_private

        with open_private(pub_path) as f:
            f.write(_public_bytes(private.public_key()))
    except OSError as e:
        raise UsageError(f"cannot write the demo key into {directory}: {e.strerror}") from None
    return DemoKey(kid, priv_path, pub_path)


def keyring_from(specs: Iterable[str] = (), keys_file: Path | None = None, demo: Iterable[DemoKey] = ()) -> KeyRing:
    """Build a KeyRing from ``--add-key`` specs, a keys file and generated demo keys.

    Raises:
        UsageError: as the loaders.
    """
    ring = KeyRing()
    for spec in specs:
        ring.add_spec(spec)
    if keys_file is not None:
        ring.add_keys_file(keys_file)
    for d in demo:
        ring.add_pem_file(d.key_id, d.public_key_path)
    return ring
