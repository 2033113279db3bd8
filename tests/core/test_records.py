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
from kalashi_cli.money import Count, Money, Price
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
    m = market(
        "RT-1", yes=lv(("0.41", "12.5"), ("0.40", "100")), no=lv(("0.55", "3")), fee_type="quadratic_with_maker_fees"
    )
    rec = market_record(m)
    validate(rec)
    back = market_from_record(json.loads(json.dumps(rec)))
    assert back == m


prices = st.integers(1, 9999)
counts = st.integers(1, 10**6)


@given(
    st.lists(st.tuples(st.sampled_from(["yes", "no"]), prices, counts), min_size=1, max_size=5),
    st.integers(-(10**7), 10**7),
    st.integers(0, 10**7),
)
def test_opportunity_and_candidate_round_trip(legs: list, edge: int, fees: int) -> None:
    from decimal import Decimal

    o = Opportunity(
        id="op-1",
        strategy="arbitrage",
        event_ticker="E",
        legs=tuple(Leg(f"T{i}", out, "buy", p, c) for i, (out, p, c) in enumerate(legs)),
        edge=Money(edge * 100),
        edge_pct=Decimal("0.0123"),
        fees=Money(fees * 100),
        confidence=Decimal("0.9000"),
        liquidity=Decimal("0.5000"),
        score=Decimal("0.001234"),
        reason="r",
        cost=Money(123400),
        p=Price(10_000),
        payout=Price(20_000),
        as_of_ms=5,
        src="sim:seed=0",
    )
    rec = to_record(o)
    validate(rec)
    assert opportunity_from_record(json.loads(json.dumps(rec))) == o
    c = Candidate(o, "crypto", Money(5000), Count(300), Decimal("0.012500"), Money(37020))
    crec = to_record(c)
    validate(crec)
    assert candidate_from_record(json.loads(json.dumps(crec))) == c


def test_order_and_fill_records_validate() -> None:
    from decimal import Decimal

    validate(
        to_record(
            Order(
                "c",
                "o",
                "paper",
                "T",
                "no",
                "buy",
                Price(6000),
                Count(500),
                "executed",
                Count(500),
                Price(6000),
                Money(2100),
                Decimal("50.5"),
                Decimal("0"),
                "value",
                "op-1",
            )
        )
    )
    validate(
        to_record(
            Fill("o", "c", "T", "no", "buy", Price(6000), Count(500), Money(2100), True, "2026-01-01T00:00:00Z", "f1")
        )
    )


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
        list(iter_records(io.BytesIO(b"[1,2]\n")))


def test_decoding_errors_name_the_field() -> None:
    rec = market_record(market("RT-2", yes=lv(("0.41", "12")), no=lv(("0.55", "3"))))
    rec["yes_bid_size"] = "1.234"
    del rec["depth"]
    with pytest.raises(ValueError, match="yes_bid_size"):
        market_from_record(rec)


# --------------------------------------------------------------------------- values out of range


def _market_rec() -> dict:
    m = market("RV-1", yes=lv(("0.41", "12"), ("0.40", "100")), no=lv(("0.55", "3")))
    return json.loads(json.dumps(market_record(m)))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda r: r["depth"]["yes"].__setitem__(0, ["1.7", "5.00"]),
            r"depth\.yes\[0\]': price 1\.7000 must be strictly",
        ),
        (
            lambda r: r["depth"]["no"].__setitem__(0, ["0.0000", "5.00"]),
            r"depth\.no\[0\]': price 0\.0000 must be strictly",
        ),
        (lambda r: r["depth"]["no"].__setitem__(0, ["1", "5.00"]), r"depth\.no\[0\]': price 1\.0000"),
        (
            lambda r: r["depth"]["yes"].__setitem__(1, ["0.40", "-5.00"]),
            r"depth\.yes\[1\]': size -5\.00 must be greater",
        ),
        (lambda r: r["depth"]["yes"].__setitem__(1, ["0.40", "0.00"]), r"depth\.yes\[1\]': size 0\.00"),
        (lambda r: r.__setitem__("fee_multiplier", "-50"), r"'fee_multiplier' is -50; it must be 0 or more"),
        (lambda r: r.__setitem__("fee_multiplier", "lots"), r"'fee_multiplier'.*not a decimal"),
        (lambda r: r.__setitem__("fee_type", "bogus"), r"'fee_type' must be one of quadratic.*'bogus'"),
        (lambda r: r.__setitem__("volume", "-1.00"), r"'volume' is -1\.00; it must be 0 or more"),
        (lambda r: r.__setitem__("open_interest", "-0.01"), r"'open_interest'"),
        (lambda r: r.__setitem__("last_price", "1.0100"), r"'last_price' is 1\.0100; it must be between 0 and 1"),
        (lambda r: r.__setitem__("forecast_p", "-0.2"), r"'forecast_p'"),
        (lambda r: r.__setitem__("floor_strike", "abc"), r"'floor_strike' must be a finite number"),
        (lambda r: r.__setitem__("cap_strike", "NaN"), r"'cap_strike' must be a finite number"),
        (
            lambda r: r.__setitem__("price_ranges", [{"start": "0", "end": "1", "step": "0"}]),
            r"'price_ranges\[0\]\.step' is 0\.0000; it must be greater than 0",
        ),
        (
            lambda r: r.__setitem__("price_ranges", [{"start": "0", "end": "1.5", "step": "0.01"}]),
            r"'price_ranges\[0\]\.end' is 1\.5000",
        ),
        (
            lambda r: r.__setitem__("price_ranges", [{"start": "0.9", "end": "0.1", "step": "0.01"}]),
            r"'price_ranges\[0\]' starts at 0\.9000, after its end",
        ),
        (lambda r: r.__setitem__("price_ranges", [{"start": "0", "end": "1"}]), r"missing required field 'step'"),
        (lambda r: r.__setitem__("price_ranges", "cent"), r"'price_ranges' must be a list"),
    ],
)
def test_market_values_out_of_range_are_refused(change, message: str) -> None:  # noqa: ANN001
    rec = _market_rec()
    change(rec)
    with pytest.raises(ValueError, match=message):
        market_from_record(rec)


@pytest.mark.parametrize(
    "fee_type", ["quadratic", "quadratic_with_maker_fees", "quadratic_with_combo_maker_fees", "flat"]
)
def test_every_known_fee_type_and_a_zero_multiplier_are_accepted(fee_type: str) -> None:
    rec = _market_rec() | {"fee_type": fee_type, "fee_multiplier": "0"}
    m = market_from_record(rec)
    assert (m.fee_type, m.fee_multiplier) == (fee_type, 0)


@given(st.integers(-3 * 10_000, 3 * 10_000), st.integers(-(10**4), 10**6))
def test_a_book_level_is_accepted_exactly_when_price_is_inside_0_1_and_size_positive(price: int, size: int) -> None:
    from kalashi_cli.money import fmt_count, fmt_price

    rec = _market_rec()
    rec["depth"]["yes"] = [[fmt_price(Price(price)), fmt_count(Count(size))]]
    if 0 < price < 10_000 and size > 0:
        assert market_from_record(rec).yes_bids == ((price, size),)
    else:
        with pytest.raises(ValueError, match=r"depth\.yes\[0\]"):
            market_from_record(rec)


def test_top_of_book_only_reads_a_bid_of_0_or_an_ask_of_1_as_an_empty_side() -> None:
    rec = _market_rec()
    del rec["depth"]
    m = market_from_record(rec | {"yes_bid": "0.0000", "yes_ask": "1.0000"})
    assert m.yes_bids == () and m.no_bids == ()
    m = market_from_record(rec | {"yes_bid": "0.4100", "yes_ask": "0.4500", "yes_ask_size": "0.00"})
    assert m.yes_bids == ((4100, 1200),) and m.no_bids == ()
    with pytest.raises(ValueError, match=r"'yes_ask' is 1\.2000; it must be between 0 and 1"):
        market_from_record(rec | {"yes_ask": "1.2000"})
    with pytest.raises(ValueError, match=r"'yes_bid_size' is -3\.00"):
        market_from_record(rec | {"yes_bid_size": "-3.00"})


def _opportunity_rec() -> dict:
    from decimal import Decimal

    o = Opportunity(
        id="op-9",
        strategy="value",
        event_ticker="E",
        legs=(Leg("T", "yes", "buy", Price(4500), Count(1000)),),
        edge=Money(12_000),
        edge_pct=Decimal("0.02"),
        fees=Money(3_000),
        confidence=Decimal("0.8"),
        liquidity=Decimal("0.4"),
        score=Decimal("0.001"),
        reason="r",
        cost=Money(460_000),
        p=Price(5000),
    )
    c = Candidate(o, "crypto", Money(5000), Count(300), Decimal("0.0125"), Money(37020))
    return json.loads(json.dumps(to_record(c)))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda r: r["legs"][0].__setitem__("price", "1.7"), r"'legs\[0\]\.price' is 1\.7000; it must be strictly"),
        (lambda r: r["legs"][0].__setitem__("price", "-0.7"), r"'legs\[0\]\.price' is -0\.7000"),
        (lambda r: r["legs"][0].__setitem__("price", "1.0000"), r"'legs\[0\]\.price'"),
        (lambda r: r["legs"][0].__setitem__("count", "-10.00"), r"'legs\[0\]\.count' is -10\.00; it must be greater"),
        (lambda r: r["legs"][0].__setitem__("count", "0"), r"'legs\[0\]\.count' is 0\.00"),
        (lambda r: r.__setitem__("fees", "-482.56"), r"'fees' is -482\.5600; it must be 0 or more"),
        (lambda r: r.__setitem__("confidence", "1.5"), r"'confidence' is 1\.5; it must be between 0 and 1"),
        (lambda r: r.__setitem__("liquidity", "-0.1"), r"'liquidity'"),
        (lambda r: r.__setitem__("score", "NaN"), r"'score' must be a finite number"),
        (lambda r: r.__setitem__("edge_pct", "Infinity"), r"'edge_pct' must be a finite number"),
        (lambda r: r.__setitem__("p", "1.5"), r"'p' is 1\.5000; it must be between 0 and 1"),
        (lambda r: r.__setitem__("payout", "0"), r"'payout' is 0\.0000; it must be greater than 0"),
        (lambda r: r.__setitem__("cost", "lots"), r"'cost'"),
    ],
)
def test_opportunity_values_out_of_range_are_refused(change, message: str) -> None:  # noqa: ANN001
    rec = _opportunity_rec()
    change(rec)
    with pytest.raises(ValueError, match=message):
        opportunity_from_record(rec)
    with pytest.raises(ValueError, match=message):
        candidate_from_record(rec)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda r: r.__setitem__("size", "-5.00"), r"'size' is -5\.00; it must be 0 or more"),
        (lambda r: r.__setitem__("stake", "-1"), r"'stake' is -1\.0000"),
        (lambda r: r.__setitem__("required_edge", "-0.01"), r"'required_edge'"),
        (lambda r: r.__setitem__("kelly_fraction", "-0.5"), r"'kelly_fraction' is -0\.5; it must be 0 or more"),
    ],
)
def test_candidate_values_out_of_range_are_refused(change, message: str) -> None:  # noqa: ANN001
    rec = _opportunity_rec()
    assert candidate_from_record(rec).size == 300
    change(rec)
    with pytest.raises(ValueError, match=message):
        candidate_from_record(rec)


@given(st.integers(-3 * 10_000, 3 * 10_000))
def test_a_leg_price_is_accepted_exactly_when_strictly_inside_0_1(price: int) -> None:
    from kalashi_cli.money import fmt_price

    rec = _opportunity_rec()
    rec["legs"][0]["price"] = fmt_price(Price(price))
    if 0 < price < 10_000:
        assert opportunity_from_record(rec).legs[0].price == price
    else:
        with pytest.raises(ValueError, match=r"legs\[0\]\.price"):
            opportunity_from_record(rec)
