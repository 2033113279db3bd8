"""The record contract: round trips, committed schemas (drift), and bad input messages."""

from __future__ import annotations

import io
import json

import jsonschema
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kalashi_cli.domain import Candidate, Fill, Leg, Opportunity, Order
from kalashi_cli.errors import InputError
from kalashi_cli.record_schema import RECORD_TYPES, SCHEMA_DIR, schema_for
from kalashi_cli.records import (
    candidate_from_record,
    iter_records,
    market_from_record,
    market_record,
    opportunity_from_record,
    to_record,
)

from .factories import lv, market


def test_committed_schemas_are_current() -> None:
    """Drift test: regenerate with `python -m kalashi_cli.record_schema`."""
    for kind in RECORD_TYPES:
        committed = json.loads((SCHEMA_DIR / f"{kind}.schema.json").read_text())
        assert committed == json.loads(json.dumps(schema_for(kind), sort_keys=True)), kind


def validate(rec: dict) -> None:
    jsonschema.validate(rec, schema_for(rec["kind"]))


def test_market_round_trip_and_schema() -> None:
    m = market("RT-1", yes=lv(("0.41", "12.5"), ("0.40", "100")), no=lv(("0.55", "3")), fee_type="quadratic_with_maker_fees")
    rec = market_record(m)
    validate(rec)
    back = market_from_record(json.loads(json.dumps(rec)))
    assert back == m


prices = st.integers(1, 9999)
counts = st.integers(1, 10**6)


@given(st.lists(st.tuples(st.sampled_from(["yes", "no"]), prices, counts), min_size=1, max_size=5),
       st.integers(-10**7, 10**7), st.integers(0, 10**7))
def test_opportunity_and_candidate_round_trip(legs: list, edge: int, fees: int) -> None:
    from decimal import Decimal

    o = Opportunity(id="op-1", strategy="arbitrage", event_ticker="E",
                    legs=tuple(Leg(f"T{i}", out, "buy", p, c) for i, (out, p, c) in enumerate(legs)),  # type: ignore[arg-type]
                    edge=edge * 100, edge_pct=Decimal("0.0123"), fees=fees * 100, confidence=Decimal("0.9000"),
                    liquidity=Decimal("0.5000"), score=Decimal("0.001234"), reason="r", cost=123400, p=10_000,
                    payout=20_000, as_of_ms=5, src="sim:seed=0")
    rec = to_record(o)
    validate(rec)
    assert opportunity_from_record(json.loads(json.dumps(rec))) == o
    c = Candidate(o, "crypto", 5000, 300, Decimal("0.012500"), 37020)
    crec = to_record(c)
    validate(crec)
    assert candidate_from_record(json.loads(json.dumps(crec))) == c


def test_order_and_fill_records_validate() -> None:
    from decimal import Decimal

    validate(to_record(Order("c", "o", "paper", "T", "no", "buy", 6000, 500, "executed", 500, 6000, 2100,
                             Decimal("50.5"), Decimal("0"), "value", "op-1")))
    validate(to_record(Fill("o", "c", "T", "no", "buy", 6000, 500, 2100, True, "2026-01-01T00:00:00Z", "f1")))


def test_bad_json_names_the_line() -> None:
    data = io.BytesIO(b'{"kind":"market","v":1}\n\n{not json}\n')
    with pytest.raises(InputError, match=r"<stdin>:3: not valid JSON"):
        list(iter_records(data))


def test_missing_kind_and_wrong_version() -> None:
    with pytest.raises(InputError, match=r"<stdin>:1: record has no string 'kind'"):
        list(iter_records(io.BytesIO(b'{"v":1}\n')))
    with pytest.raises(InputError, match=r"v=2"):
        list(iter_records(io.BytesIO(b'{"kind":"market","v":2}\n')))
    with pytest.raises(InputError, match=r"expected a JSON object"):
        list(iter_records(io.BytesIO(b'[1,2]\n')))


def test_decoding_errors_name_the_field() -> None:
    rec = market_record(market("RT-2", yes=lv(("0.41", "12")), no=lv(("0.55", "3"))))
    rec["yes_bid_size"] = "1.234"
    del rec["depth"]
    with pytest.raises(ValueError, match="yes_bid_size"):
        market_from_record(rec)
