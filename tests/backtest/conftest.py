"""Backtest test helpers: short slices of the shared KXBTC15M runs (read from ../shared, never copied)."""

from __future__ import annotations

import gzip
from pathlib import Path

import orjson
import pytest
from needs import shared_path

from kalashi_cli.backtest.sweep import apply_overrides
from kalashi_cli.profile import Profile, load_profile, profile_to_yaml

RUNS = "data/kalshi-real/crypto_ws_kxbtc15m/runs"
#: a run with maker fills in its first five minutes under ACTIVE_QUOTES
PARTICLE = "particle_shadow_spotmerge_oos_20260511T121730Z.events.jsonl.gz"
LATER = "rv600_next_evidence_shadow_20260515T071544Z.events.jsonl.gz"
#: the spread strategy quoting tight books (the default waits for 4-cent spreads, rare on KXBTC15M)
ACTIVE_QUOTES = {
    "analyze.spread.min_spread": "0.01",
    "analyze.spread.adverse_selection": "0.0",
    "analyze.spread.min_edge": "0.001",
    "execution.maker_expiry_seconds": 30,
}


def run_path(name: str) -> Path:
    return shared_path(RUNS, name)


def write_slice(src: Path, dst: Path, seconds: float, *, drop: int | None = None, compress: bool = False) -> Path:
    """The first ``seconds`` of a recorder-envelope run (lines unchanged), optionally without line ``drop``."""
    lines = gzip.decompress(src.read_bytes()).splitlines()
    t0 = orjson.loads(lines[0])["local_recv_ns"]
    keep = [ln for ln in lines if orjson.loads(ln)["local_recv_ns"] - t0 < seconds * 1e9]
    if drop is not None:
        del keep[drop]
    data = b"\n".join(keep) + b"\n"
    dst.write_bytes(gzip.compress(data) if compress else data)
    return dst


def active_profile(**extra: object) -> Profile:
    return apply_overrides(load_profile("default"), {**ACTIVE_QUOTES, **extra})


def write_profile(path: Path, profile: Profile) -> Path:
    path.write_text(profile_to_yaml(profile), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def particle_slice(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first five minutes of the particle run (≈ 6 orders, 5 maker fills under ACTIVE_QUOTES)."""
    return write_slice(run_path(PARTICLE), tmp_path_factory.mktemp("slice") / "particle-300s.jsonl", 300)
