"""Exact money, prices, counts, tick grids and Kalshi fees.

Nothing here uses floats. Every quantity is an ``int`` in a fixed unit:

==========  ===============================  =====================================
quantity    unit                             why
==========  ===============================  =====================================
``Price``   1/10 000 dollar (``PRICE_SCALE``)  Kalshi's finest tick is $0.0001
``Count``   1/100 contract (``COUNT_SCALE``)   fractional contracts trade in 0.01
``Money``   1/1 000 000 dollar (``MONEY_SCALE``) price × count is exact in it
==========  ===============================  =====================================

On the wire (Kalshi and our records) prices are dollar strings (``"0.4500"``) and
counts are strings with two decimals (``"10.00"``); :func:`parse_price`,
:func:`fmt_price` and friends convert exactly and refuse anything they would
have to round.

YES/NO reciprocity: a NO price ``q`` is the YES price ``1 − q`` (:func:`flip`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import NewType

#: Distinct types (zero runtime cost: each is ``int`` at runtime) so mypy refuses a price where
#: a count or an amount belongs. Arithmetic on them yields plain ``int``; the helpers below
#: (:func:`notional`, :func:`flip`, :func:`fee_for`, ...) return the right unit, and code that
#: computes a unit by hand wraps the result (``Price(p + step)``) at that one place.
Price = NewType("Price", int)
Count = NewType("Count", int)
Money = NewType("Money", int)

PRICE_SCALE = 10_000
COUNT_SCALE = 100
MONEY_SCALE = 1_000_000
#: Money units per price unit × count unit product (1e-4 × 1e-2 = 1e-6 → 1).
ONE_DOLLAR = Price(PRICE_SCALE)
MULT_SCALE = 10_000  # fee multipliers in 1/10 000


def _parse_fixed(text: str | int | Decimal, scale_digits: int, what: str) -> int:
    """Parse a decimal string into an int of 10**-scale_digits units, exactly."""
    unit: int = 10**scale_digits
    if isinstance(text, int) and not isinstance(text, bool):
        return text * unit
    if isinstance(text, Decimal):
        scaled = text.scaleb(scale_digits)
        if scaled != scaled.to_integral_value():
            raise ValueError(f"{what} {text} has more than {scale_digits} decimals")
        return int(scaled)
    if not isinstance(text, str):
        raise ValueError(f"{what} must be a decimal string, got {type(text).__name__} {text!r}")
    s = text.strip()
    neg = s.startswith("-")
    if neg or s.startswith("+"):
        s = s[1:]
    whole, _, frac = s.partition(".")
    if not (whole or frac) or (whole and not whole.isdigit()) or (frac and not frac.isdigit()):
        raise ValueError(f"{what} {text!r} is not a decimal number")
    if len(frac) > scale_digits:
        extra = frac[scale_digits:]
        if extra.strip("0"):
            raise ValueError(f"{what} {text!r} has more than {scale_digits} decimals")
        frac = frac[:scale_digits]
    value = int(whole or "0") * unit + int((frac or "0").ljust(scale_digits, "0"))
    return -value if neg else value


def _fmt_fixed(value: int, scale_digits: int) -> str:
    sign = "-" if value < 0 else ""
    unit: int = 10**scale_digits
    q, r = divmod(abs(value), unit)
    return f"{sign}{q}.{r:0{scale_digits}d}"


# The canonical wire forms ("0.4500", "10.00") are by far the most common input; a single
# regex match parses them several times faster than the general path.
_CANON_PRICE = re.compile(r"([0-9]+)\.([0-9]{4})").fullmatch
_CANON_COUNT = re.compile(r"([0-9]+)\.([0-9]{2})").fullmatch


_PRICE_MEMO: dict[str, Price] = {}
_COUNT_MEMO: dict[str, Count] = {}
_MEMO_CAP = 200_000


def parse_price(text: str | int | Decimal) -> Price:
    """Parse a dollar price string (``"0.4500"``) into 1/10 000 dollar units.

    Raises:
        ValueError: the text is not a number or is finer than $0.0001.
    """
    if type(text) is str:
        v = _PRICE_MEMO.get(text)
        if v is not None:
            return v
        m = _CANON_PRICE(text)
        if m is not None:
            v = Price(int(m[1]) * 10_000 + int(m[2]))
            if len(_PRICE_MEMO) < _MEMO_CAP:
                _PRICE_MEMO[text] = v
            return v
    return Price(_parse_fixed(text, 4, "price"))


def parse_count(text: str | int | Decimal) -> Count:
    """Parse a contract count string (``"10.00"``) into 1/100 contract units.

    Raises:
        ValueError: the text is not a number or is finer than 0.01 contract.
    """
    if type(text) is str:
        v = _COUNT_MEMO.get(text)
        if v is not None:
            return v
        m = _CANON_COUNT(text)
        if m is not None:
            v = Count(int(m[1]) * 100 + int(m[2]))
            if len(_COUNT_MEMO) < _MEMO_CAP:
                _COUNT_MEMO[text] = v
            return v
    return Count(_parse_fixed(text, 2, "count"))


def parse_money(text: str | int | Decimal) -> Money:
    """Parse a dollar amount (``"100.00"``, up to 6 decimals) into micro-dollars.

    Raises:
        ValueError: the text is not a number or is finer than $0.000001.
    """
    return Money(_parse_fixed(text, 6, "amount"))


# Every valid price is in [0, $1]: format them once. Counts repeat a lot; remember them.
_PRICE_TEXT = tuple(f"0.{p:04d}" for p in range(10_000)) + ("1.0000",)
_COUNT_TEXT: dict[Count, str] = {}


def fmt_price(p: Price) -> str:
    """Format a price as Kalshi does: dollars with four decimals."""
    if 0 <= p <= 10_000:
        return _PRICE_TEXT[p]
    return _fmt_fixed(p, 4)


def fmt_count(c: Count) -> str:
    """Format a count with two decimals."""
    t = _COUNT_TEXT.get(c)
    if t is None:
        t = _fmt_fixed(c, 2)
        if len(_COUNT_TEXT) < 200_000:
            _COUNT_TEXT[c] = t
    return t


def fmt_money(m: Money) -> str:
    """Format money in dollars: four decimals when exact, else six."""
    if m % 100 == 0:
        return _fmt_fixed(m // 100, 4)
    return _fmt_fixed(m, 6)


def usd(m: Money) -> str:
    """Money for people: ``$1.8504`` (``-$0.0168`` when negative)."""
    return f"-${fmt_money(Money(-m))}" if m < 0 else f"${fmt_money(m)}"


def usd_price(p: Price) -> str:
    """A price for people: ``$0.4500``."""
    return f"${fmt_price(p)}"


def price_to_decimal(p: Price) -> Decimal:
    return Decimal(p).scaleb(-4)


def money_to_decimal(m: Money) -> Decimal:
    return Decimal(m).scaleb(-6)


def flip(p: Price) -> Price:
    """Return the price of the other outcome: a NO price ``q`` is YES at ``1 − q``."""
    return Price(ONE_DOLLAR - p)


#: :func:`flip` as a table, for the hot paths that stay free of calls: ``FLIPPED[p] == flip(p)``
#: for every price in [0, $1].
FLIPPED: tuple[Price, ...] = tuple(Price(PRICE_SCALE - p) for p in range(PRICE_SCALE + 1))


def notional(p: Price, c: Count) -> Money:
    """Return price × count in micro-dollars (exact)."""
    return Money(p * c)


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


# --------------------------------------------------------------------------- ticks


@dataclass(frozen=True, slots=True)
class TickBand:
    """One entry of a market's ``price_ranges``: prices in ``[start, end]`` step by ``step``."""

    start: Price
    end: Price
    step: Price

    def to_wire(self) -> dict[str, str]:
        return {"start": fmt_price(self.start), "end": fmt_price(self.end), "step": fmt_price(self.step)}

    @classmethod
    def from_wire(cls, d: dict[str, str]) -> TickBand:
        return cls(parse_price(d["start"]), parse_price(d["end"]), parse_price(d["step"]))


CENT_GRID: tuple[TickBand, ...] = (TickBand(Price(0), ONE_DOLLAR, Price(100)),)
DECI_CENT_GRID: tuple[TickBand, ...] = (TickBand(Price(0), ONE_DOLLAR, Price(10)),)
#: $0.001 in the tails, $0.01 in the middle (Kalshi's ``tapered_deci_cent``).
TAPERED_GRID: tuple[TickBand, ...] = (
    TickBand(Price(0), Price(1000), Price(10)),
    TickBand(Price(1000), Price(9000), Price(100)),
    TickBand(Price(9000), ONE_DOLLAR, Price(10)),
)


def on_grid(p: Price, grid: tuple[TickBand, ...]) -> bool:
    """Return whether ``p`` is a valid order price (strictly between $0 and $1, on a band's step)."""
    if p <= 0 or p >= ONE_DOLLAR:
        return False
    for band in grid:
        if band.start <= p <= band.end and (p - band.start) % band.step == 0:
            return True
    return False


def snap(p: Price, grid: tuple[TickBand, ...], *, up: bool) -> Price | None:
    """Snap ``p`` onto the grid: down for prices we pay (bids), up for prices we receive.

    Returns None when no valid price lies on that side inside (0, 1).
    """
    if on_grid(p, grid):
        return p
    best: Price | None = None
    for band in grid:
        if up:
            if p > band.end:
                continue
            q = band.start if p < band.start else Price(band.start + ceil_div(p - band.start, band.step) * band.step)
            if q <= band.end and 0 < q < ONE_DOLLAR and (best is None or q < best):
                best = q
        else:
            if p < band.start:
                continue
            q = band.end if p > band.end else Price(band.start + (p - band.start) // band.step * band.step)
            q = Price(band.start + (q - band.start) // band.step * band.step)
            if q >= band.start and 0 < q < ONE_DOLLAR and (best is None or q > best):
                best = q
    return best


def tick_below(p: Price, grid: tuple[TickBand, ...]) -> Price | None:
    """Return the largest valid price strictly below ``p``."""
    return snap(Price(p - 1), grid, up=False)


def tick_above(p: Price, grid: tuple[TickBand, ...]) -> Price | None:
    """Return the smallest valid price strictly above ``p``."""
    return snap(Price(p + 1), grid, up=True)


# --------------------------------------------------------------------------- fees

FEE_TYPES = ("quadratic", "quadratic_with_maker_fees", "quadratic_with_combo_maker_fees", "flat")
_TAKER_COEF = 700  # 0.07 in 1/10 000
_MAKER_COEF = {
    "quadratic": 0,
    "quadratic_with_maker_fees": 175,  # 0.0175 = 0.25 × taker
    "quadratic_with_combo_maker_fees": 350,  # 0.5 × taker
    "flat": 0,
}
# coef(1e-4) × mult(1e-4) × count(1e-2) × p(1e-4) × (1−p)(1e-4) = 1e-18 dollars;
# fees round up to $0.0001 (1e-4), so divide by 1e14 with ceiling.
_FEE_DEN = 10**14
_MONEY_PER_FEE_UNIT = MONEY_SCALE // PRICE_SCALE  # $0.0001 in micro-dollars


def fee_for(
    price: Price, count: Count, *, fee_type: str = "quadratic", multiplier: int = MULT_SCALE, is_taker: bool = True
) -> Money:
    """Return Kalshi's trading fee for one fill, rounded up to $0.0001 (REFERENCE §9).

    Taker: ``0.07 × m × C × P × (1 − P)``; maker: ``0.0175 × m × …`` only on series whose
    fee type charges makers (0.035 for combo maker fees). ``flat`` series use a fee table we
    do not have offline; we charge the quadratic formula at its maximum (P = 0.5), an upper
    bound, so edges on such series are never overstated.
    """
    if count <= 0:
        return Money(0)
    if fee_type not in _MAKER_COEF:
        fee_type = "quadratic"
    coef = _TAKER_COEF if is_taker else _MAKER_COEF[fee_type]
    if coef == 0:
        return Money(0)
    if fee_type == "flat":
        price = Price(ONE_DOLLAR // 2)
    raw = coef * multiplier * count * price * (ONE_DOLLAR - price)
    return Money(ceil_div(raw, _FEE_DEN) * _MONEY_PER_FEE_UNIT)


def parse_multiplier(text: str | int | Decimal | float | None) -> int:
    """Parse a series ``fee_multiplier`` (``1``, ``"0.5"``) into 1/10 000 units (default 1)."""
    if text is None or text == "":
        return MULT_SCALE
    if isinstance(text, float):  # JSON numbers from Kalshi's series object
        text = Decimal(repr(text))
    return _parse_fixed(text, 4, "fee multiplier")


def fmt_multiplier(m: int) -> str:
    return str(Decimal(m).scaleb(-4).normalize())
