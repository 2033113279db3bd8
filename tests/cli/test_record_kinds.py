"""Every kind of record a command writes on stdout is in the contract (a schema and a row in
docs/records.md), and what the commands really write validates against it.

The code is read for every ``{"kind": "<name>", ...}`` it builds, so a new kind without a schema
fails here before anyone pipes it; the commands are then run on the sim and each line they
write is checked against its kind's schema.
"""

from __future__ import annotations

import ast
import json
import os
import re
import signal
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from kalashi_cli.record_schema import RECORD_TYPES, SCHEMA_DIR, schema_for

from .conftest import SIM, Kalashi, records

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "kalashi_cli"
KALASHI = [sys.executable, "-m", "kalashi_cli"]


def _constant_kind(node: ast.AST) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def kinds_in_code() -> dict[str, set[str]]:
    """Every constant ``kind`` the package puts in a record, with the files that build it."""
    found: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for node in ast.walk(tree):
            kinds: list[str | None] = []
            if isinstance(node, ast.Dict):  # {"kind": "x", ...}
                kinds += [
                    _constant_kind(v)
                    for k, v in zip(node.keys, node.values, strict=True)
                    if k is not None and _constant_kind(k) == "kind"
                ]
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "dict":
                kinds += [_constant_kind(kw.value) for kw in node.keywords if kw.arg == "kind"]  # dict(kind="x")
            elif isinstance(node, ast.Assign):  # rec["kind"] = "x"
                kinds += [
                    _constant_kind(node.value)
                    for t in node.targets
                    if isinstance(t, ast.Subscript) and _constant_kind(t.slice) == "kind"
                ]
            for kind in kinds:
                if kind is not None:
                    found.setdefault(kind, set()).add(str(path.relative_to(ROOT)))
    return found


def test_every_kind_the_code_builds_has_a_schema() -> None:
    found = kinds_in_code()
    assert {"market", "halt", "reconcile", "repair", "sim-exchange", "recording"} <= found.keys(), found
    missing = {k: sorted(v) for k, v in found.items() if k not in RECORD_TYPES}
    assert not missing, (
        f"record kinds without a schema: {missing} — declare them in kalashi_cli/record_schema.py, "
        "run `python -m kalashi_cli.record_schema` and document them in docs/records.md"
    )


def test_every_schema_is_committed_and_documented() -> None:
    table = (ROOT / "docs" / "records.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `([a-z-]+)` \|", table, re.M))
    assert documented == set(RECORD_TYPES), documented ^ set(RECORD_TYPES)
    assert {p.name.removesuffix(".schema.json") for p in SCHEMA_DIR.glob("*.schema.json")} == set(RECORD_TYPES)


# -- what the commands really write -----------------------------------------------------------------


@cache
def validator(kind: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(schema_for(kind))


def check(lines: str, seen: dict[str, int]) -> list[dict[str, Any]]:
    """Validate every line against its kind's schema; count the kinds; return the records."""
    recs = records(lines)
    for line, rec in zip(lines.splitlines(), recs, strict=True):  # compact JSON, like every stage
        assert line == json.dumps(rec, separators=(",", ":"), ensure_ascii=False), line
    for rec in recs:
        assert rec["kind"] in RECORD_TYPES, rec
        validator(rec["kind"]).validate(rec)
        seen[rec["kind"]] = seen.get(rec["kind"], 0) + 1
    return recs


def test_what_the_commands_write_matches_the_schemas(kalashi: Kalashi, tmp_path: Path) -> None:
    j = ["--journal", str(tmp_path / "j.sqlite")]
    seen: dict[str, int] = {}
    # a sim where arbitrage stands, so the order stage's taker legs fill (a `fill` record)
    scan = kalashi("scan", "--source", "sim:seed=3,markets=2000,step=40,arbitrage=100").stdout
    check(scan, seen)
    opps = kalashi("analyze", input=scan).stdout
    check(opps, seen)
    cands = kalashi("correlate", *j, input=opps).stdout
    check(cands, seen)
    check(kalashi("order", "--paper", *j, input=cands).stdout, seen)
    check(
        kalashi("run-loop", *j, "--source", SIM, "--iterations", "3", "--interval", "0", "--all-records").stdout, seen
    )
    check(kalashi("halt", *j, "--reason", "schema test").stdout, seen)
    check(kalashi("flatten", *j).stdout, seen)
    check(kalashi("resume", *j, "--confirm").stdout, seen)
    check(kalashi("reconcile", *j).stdout, seen)
    check(kalashi("metrics", *j, input="").stdout, seen)
    check(kalashi("heal", "--once", *j, "--source", SIM, code=None).stdout, seen)
    assert {
        "market",
        "stats",
        "opportunity",
        "candidate",
        "order",
        "fill",
        "iteration",
        "halt",
        "resume",
        "reconcile",
        "metrics",
        "health",
    } <= seen.keys(), seen


def test_a_reconcile_record_with_drift_uses_contract_units() -> None:
    from kalashi_cli.cli.safety_cmds import reconcile_record
    from kalashi_cli.reconcile import ReconcileReport

    rep = ReconcileReport(
        resolved=[
            {"client_order_id": "c-1", "found": True, "order_id": "o-1", "late": True},
            {"client_order_id": "c-2", "found": False},
        ],
        position_drift={"KX-A": (1000, -250)},
        balance_drift=(100_000_000, 350_000_000),
    )
    rec = reconcile_record(rep)
    jsonschema.validate(rec, schema_for("reconcile"))
    assert rec["position_drift"] == {"KX-A": ["10.00", "-2.50"]}
    assert rec["balance_drift"] == ["100.0000", "350.0000"]


def test_a_repair_record_matches_its_schema() -> None:
    from kalashi_cli.health import Repair

    rec = Repair(
        ts_ms=1_764_000_000_000, action="restart", target="loop", ok=True, detail="exited with code 1; restart 1 of 5"
    ).to_record()
    jsonschema.validate(rec, schema_for("repair"))


def test_sim_exchange_and_record_write_their_records(tmp_path: Path) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("KALASHI_", "KALSHI_"))},
        "KALASHI_HOME": str(tmp_path / "home"),
        "PYTHONUNBUFFERED": "1",
    }
    p = subprocess.Popen(
        [
            *KALASHI,
            "sim-exchange",
            "--port",
            "0",
            "--markets",
            "60",
            "--speed",
            "0",
            "--demo-keys",
            str(tmp_path / "keys"),
            "--quiet",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    try:
        assert p.stdout is not None
        line = p.stdout.readline().decode()
        assert line.startswith('{"kind":"sim-exchange"'), line
        ready = json.loads(line)
        jsonschema.validate(ready, schema_for("sim-exchange"))
        assert ready["demo_key"]["key_id"] in ready["keys"]
        first = subprocess.run(
            [*KALASHI, "scan", "--source", f"kalshi:{ready['url']}", "--limit", "1"],
            capture_output=True,
            env=env,
            timeout=60,
            check=True,
        )
        event = records(first.stdout.decode())[0]["event_ticker"]
        rec = subprocess.run(
            [
                *KALASHI,
                "record",
                "--source",
                f"kalshi:{ready['url']}",
                "--events",
                event,
                "--duration",
                "1",
                "-o",
                str(tmp_path / "r.jsonl"),
                "--quiet",
            ],
            capture_output=True,
            env=env,
            timeout=60,
        )
        assert rec.returncode == 0, rec.stderr
        assert rec.stdout.startswith(b'{"kind":"recording"'), rec.stdout
        jsonschema.validate(json.loads(rec.stdout), schema_for("recording"))
    finally:
        p.send_signal(signal.SIGINT)
        p.communicate(timeout=60)


@pytest.mark.parametrize("kind", sorted(RECORD_TYPES))
def test_each_schema_requires_its_kind(kind: str) -> None:
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"kind": "not-" + kind, "v": 1}, schema_for(kind))


def test_rejected_and_denied_records_carry_a_stable_code(kalashi: Any, tmp_path: Path) -> None:
    """`reason` embeds amounts; `code` is what to group on (docs/records.md, the cookbook's jq recipe)."""
    import re

    from kalashi_cli.record_schema import REJECTED_CODES

    j = ["--journal", str(tmp_path / "j.sqlite")]
    cands = kalashi(
        "correlate",
        *j,
        input=kalashi("analyze", input=kalashi("scan", "--source", "sim:seed=2,markets=600").stdout).stdout,
    ).stdout
    rejected = [r for r in records(cands) if r["kind"] == "rejected"]
    assert rejected and {r["code"] for r in rejected} <= set(REJECTED_CODES)
    assert len({r["code"] for r in rejected}) < len({r["reason"] for r in rejected}), "codes group what reasons split"
    first = records(kalashi("order", "--paper", *j, input=cands).stdout)
    rerun = records(kalashi("order", "--paper", *j, input=cands).stdout)
    again = [r for r in rerun if r["kind"] == "denied"]
    assert again and all(r["code"] == r["rule"] and not re.search(r"\d", r["code"]) for r in again)
    # a re-run sends nothing twice: what the first run sent is a duplicate (or its quote is still resting),
    # and what a cap refused the first time is refused again, with the same code
    assert first and not [r for r in rerun if r["kind"] == "order"], "a re-run sends nothing twice"
    sent = {r["opportunity_id"] for r in first if r["kind"] == "order"}
    assert sent and all(r["code"] in ("duplicate", "already-quoting") for r in again if r["ref"] in sent)
    refused = {r["ref"]: r["code"] for r in first if r["kind"] == "denied"}
    assert all(refused.get(r["ref"]) == r["code"] for r in again if r["ref"] not in sent)
