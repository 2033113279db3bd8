"""Fixtures for the exchange tests: throwaway keys, the shared real data, a fake clock."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import needs
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from kalashi_cli.kalshi.auth import Credentials, load_private_key

REPO = Path(__file__).resolve().parents[2]
SHARED = needs.SHARED
EXAMPLES = SHARED / "kalshi-api" / "examples"
REAL = SHARED / "data" / "kalshi-real"
DATA = REPO / "tests" / "data"


def shared_json(rel: str) -> Any:
    """Load a JSON file under ../shared; skip the test when it is absent (fail under CI)."""
    return json.loads(shared_path(rel).read_text())


def shared_path(rel: str) -> Path:
    """A path under ../shared; skip the test when it is absent (fail under CI)."""
    return needs.shared_path(rel)


def data_json(name: str) -> Any:
    return json.loads((DATA / name).read_text())


def _write_key(path: Path, pem: bytes) -> Path:
    path.write_bytes(pem)
    os.chmod(path, 0o600)
    return path


@pytest.fixture(scope="session")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def ed_key() -> ed25519.Ed25519PrivateKey:
    return ed25519.Ed25519PrivateKey.generate()


@pytest.fixture
def rsa_pkcs1_file(tmp_path: Path, rsa_key: rsa.RSAPrivateKey) -> Path:
    pem = rsa_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    )
    assert pem.startswith(b"-----BEGIN RSA PRIVATE KEY-----")
    return _write_key(tmp_path / "kalshi-rsa.key", pem)


@pytest.fixture
def rsa_pkcs8_file(tmp_path: Path, rsa_key: rsa.RSAPrivateKey) -> Path:
    pem = rsa_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----")
    return _write_key(tmp_path / "kalshi-rsa8.key", pem)


@pytest.fixture
def ed_file(tmp_path: Path, ed_key: ed25519.Ed25519PrivateKey) -> Path:
    pem = ed_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return _write_key(tmp_path / "kalshi-ed.key", pem)


@pytest.fixture
def rsa_creds(rsa_pkcs1_file: Path) -> Credentials:
    return Credentials("key-rsa-0001", load_private_key(rsa_pkcs1_file.read_bytes()))


@pytest.fixture
def ed_creds(ed_file: Path) -> Credentials:
    return Credentials("key-ed-0001", load_private_key(ed_file.read_bytes()))


class FakeClock:
    """Monotonic seconds that only move when told (or when a fake sleep is awaited)."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()
