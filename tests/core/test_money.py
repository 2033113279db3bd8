"""Exact money: parsing, ticks, YES/NO reciprocity and Kalshi's fee formula (REFERENCE §9)."""

from __future__ import annotations

from decimal import ROUND_CEILING, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kalashi_cli.money import (
    CENT_GRID,
    DECI_CENT_GRID,
    TAPERED_GRID,
    Count,
    Money,
    Price,
    fee_for,
    flip,
    fmt_count,
    fmt_money,
    fmt_price,
    on_grid,
    parse_count,
    parse_money,
    parse_multiplier,
    parse_price,
    snap,
    tick_above,
    tick_below,
)


def test_parse_and_format_are_exact() -> None:
    assert parse_price("0.4500") == 4500
    assert parse_price("0.45") == 4500
    assert parse_price("0.455000") == 4550  # Kalshi emits up to 6 decimals; trailing zeros are fine
    assert fmt_price(Price(4550)) == "0.4550"
    assert parse_count("10.00") == 1000
    assert parse_count("2.5") == 250
    assert fmt_count(Count(1)) == "0.01"
    assert parse_money("100.00") == 100_000_000
    assert fmt_money(Money(1_750_000)) == "1.7500"
    assert fmt_money(Money(1)) == "0.000001"


@pytest.mark.parametrize("bad", ["0.45001", "abc", "", "1.2.3", "0x10"])
def test_parse_refuses_what_it_would_have_to_round(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_price(bad)


def test_parse_count_refuses_sub_hundredths() -> None:
    with pytest.raises(ValueError):
        parse_count("1.005")


@given(st.integers(min_value=1, max_value=9999))
def test_yes_no_reciprocity(p: int) -> None:
    assert flip(flip(Price(p))) == p
    assert p + flip(Price(p)) == 10_000


def _reference_fee(coef: str, mult: str, count: str, price: str) -> Decimal:
    raw = Decimal(coef) * Decimal(mult) * Decimal(count) * Decimal(price) * (1 - Decimal(price))
    return raw.quantize(Decimal("0.0001"), rounding=ROUND_CEILING)


@pytest.mark.parametrize(
    ("count", "price", "expected"),
    [
        ("100", "0.50", "1.7500"),  # 0.07 × 100 × 0.25
        ("1", "0.50", "0.0175"),
        ("1", "0.33", "0.0155"),  # 0.015477 rounds UP
        ("10", "0.01", "0.0070"),  # 0.00693 → 0.0070
        ("2.5", "0.455", "0.0434"),  # 0.043395625: fractional count, sub-penny price
    ],
)
def test_taker_fee_matches_formula_and_rounds_up(count: str, price: str, expected: str) -> None:
    fee = fee_for(parse_price(price), parse_count(count))
    assert fmt_money(fee) == expected
    assert Decimal(fmt_money(fee)) == _reference_fee("0.07", "1", count, price)


def test_maker_fee_only_where_the_series_charges_makers() -> None:
    p, c = parse_price("0.50"), parse_count("100")
    assert fee_for(p, c, fee_type="quadratic", is_taker=False) == 0
    assert fmt_money(fee_for(p, c, fee_type="quadratic_with_maker_fees", is_taker=False)) == "0.4375"
    assert fmt_money(fee_for(p, c, fee_type="quadratic_with_combo_maker_fees", is_taker=False)) == "0.8750"


def test_fee_multiplier_scales_the_fee() -> None:
    p, c = parse_price("0.50"), parse_count("100")
    assert fmt_money(fee_for(p, c, multiplier=parse_multiplier("0.5"))) == "0.8750"
    assert parse_multiplier(None) == 10_000
    assert parse_multiplier(0.5) == 5000


@given(
    count=st.integers(min_value=1, max_value=10_000_00),
    price=st.integers(min_value=1, max_value=9999),
    mult=st.sampled_from(["1", "0.5", "2", "0.25"]),
    fee_type=st.sampled_from(["quadratic", "quadratic_with_maker_fees"]),
    taker=st.booleans(),
)
def test_fee_property_equals_decimal_reference(count: int, price: int, mult: str, fee_type: str, taker: bool) -> None:
    fee = fee_for(Price(price), Count(count), fee_type=fee_type, multiplier=parse_multiplier(mult), is_taker=taker)
    coef = "0.07" if taker else ("0.0175" if fee_type == "quadratic_with_maker_fees" else "0")
    ref = _reference_fee(coef, mult, fmt_count(Count(count)), fmt_price(Price(price)))
    assert Decimal(fmt_money(fee)) == ref
    assert fee % 100 == 0  # whole $0.0001 units


def test_tick_grids() -> None:
    assert on_grid(parse_price("0.45"), CENT_GRID)
    assert not on_grid(parse_price("0.455"), CENT_GRID)
    assert on_grid(parse_price("0.455"), DECI_CENT_GRID)
    # tapered: $0.001 in the tails, $0.01 in the middle
    assert on_grid(parse_price("0.052"), TAPERED_GRID)
    assert not on_grid(parse_price("0.452"), TAPERED_GRID)
    assert on_grid(parse_price("0.953"), TAPERED_GRID)
    assert not on_grid(Price(0), CENT_GRID) and not on_grid(Price(10_000), CENT_GRID)


@given(st.integers(min_value=1, max_value=9999), st.sampled_from([CENT_GRID, DECI_CENT_GRID, TAPERED_GRID]))
def test_snap_lands_on_the_grid_on_the_right_side(p: int, grid: tuple) -> None:
    down, up = snap(Price(p), grid, up=False), snap(Price(p), grid, up=True)
    if down is not None:
        assert on_grid(down, grid) and down <= p
    if up is not None:
        assert on_grid(up, grid) and up >= p
    a = tick_above(Price(p), grid)
    b = tick_below(Price(p), grid)
    if a is not None:
        assert a > p and on_grid(a, grid)
    if b is not None:
        assert b < p and on_grid(b, grid)
