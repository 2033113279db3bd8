"""The fair-value interface: a value, a model, and the engine that runs a profile's models."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_HALF_EVEN, Decimal
from typing import TYPE_CHECKING, Protocol

from ..domain import FairValue, Market

if TYPE_CHECKING:
    pass

#: six decimals: finer than any Kalshi tick ($0.0001) and than any model's real precision
P_PLACES = Decimal("0.000001")


def as_probability(x: float | Decimal) -> Decimal:
    """A probability as an exact decimal with six places, clamped into [0, 1].

    Raises:
        ValueError: not a finite number.
    """
    d = x if isinstance(x, Decimal) else Decimal(repr(float(x)))
    if not d.is_finite():
        raise ValueError(f"probability must be finite, got {x!r}")
    return min(Decimal(1), max(Decimal(0), d)).quantize(P_PLACES, ROUND_HALF_EVEN)


class FairModel(Protocol):
    """Something that prices the markets of one event.

    ``price`` gets every market of one event (as analyze groups them) and the time the books
    are from; it returns a value for the markets it can price and leaves the others out — it
    never guesses (missing or stale inputs mean no value).
    """

    name: str

    def price(self, markets: Sequence[Market], now_ms: int) -> list[FairValue]: ...

    def close(self) -> None: ...


class FairEngine:
    """A profile's models in priority order: the first model with a value for a market wins."""

    def __init__(self, models: Sequence[FairModel]) -> None:
        self.models = list(models)

    @property
    def names(self) -> list[str]:
        return [m.name for m in self.models]

    def fair_for(self, markets: Sequence[Market], now_ms: int) -> dict[str, FairValue]:
        """Price the markets of one event with every model; return ticker → the first model's value."""
        out: dict[str, FairValue] = {}
        for model in self.models:
            for fv in model.price(markets, now_ms):
                out.setdefault(fv.ticker, fv)
        return out

    def close(self) -> None:
        """Release what the models hold (a spot source is closed by whoever opened it)."""
        for m in self.models:
            m.close()
