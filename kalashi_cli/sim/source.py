"""``--source sim``: the built-in simulated universe behind the MarketSource port.

A descriptor names the universe and the step, so any later stage of a shell pipe rebuilds the
very same books: ``sim:seed=0,markets=2000,step=3`` (bare ``sim`` means the defaults).
``forecast=N`` (0–100) publishes the sim's forecast (``Market.forecast_p``) with a skill of
N %: the share of the book's error it removes (100 is an oracle of the hidden probability).
Without it there is no forecast: nothing a strategy reads knows more than the market
(the profile's ``sim: forecast_skill`` adds the key). ``arbitrage=N`` (0–100) lets N % of the
drawn arbitrage dislocations stand instead of the calibrated 5 % (real arbitrage is rare and
fleeting; raise it only to watch the arbitrage path work; the profile's ``sim:
arbitrage_share`` adds the key). Importing this module is cheap; the universe is built on
first use.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from ..domain import Market
from ..errors import UsageError
from ..ports import SourceEvents

if TYPE_CHECKING:
    from .universe import SimUniverse

DEFAULTS = {"seed": 0, "markets": 2000, "step": 0}
KEYS = (*DEFAULTS, "forecast", "arbitrage")
MAX_MARKETS = 1_000_000
_HELP = (
    "write it as sim:seed=N,markets=N,step=N[,forecast=PCT][,arbitrage=PCT] (every key optional), "
    "e.g. sim:seed=1,markets=5000,step=2"
)


class SimSource:
    """The sim universe as a MarketSource: no network, no API calls, one step per ``advance()``."""

    name = "sim"

    def __init__(
        self,
        seed: int = 0,
        markets: int = 2000,
        step: int = 0,
        forecast: int | None = None,
        arbitrage: int | None = None,
    ) -> None:
        """Open the universe ``(seed, markets)`` at ``step``; ``forecast`` is the forecast's skill in % (None: off).

        ``arbitrage`` is the share (%) of drawn arbitrage dislocations that stand (None: the calibrated default).

        Raises:
            UsageError: ``markets`` is outside 1 … 1 000 000, ``step`` is negative or
                ``forecast`` or ``arbitrage`` is outside 0 … 100.
        """
        if not 1 <= markets <= MAX_MARKETS:
            raise UsageError(f"sim markets must be between 1 and {MAX_MARKETS}, got {markets}", hint=_HELP)
        if step < 0:
            raise UsageError(f"sim step must be 0 or more, got {step}", hint=_HELP)
        if forecast is not None and not 0 <= forecast <= 100:
            raise UsageError(f"sim forecast skill must be between 0 and 100 (%), got {forecast}", hint=_HELP)
        self.seed = seed
        self.markets = markets
        self.step = step
        if arbitrage is not None and not 0 <= arbitrage <= 100:
            raise UsageError(f"sim arbitrage share must be between 0 and 100 (%), got {arbitrage}", hint=_HELP)
        self.forecast = forecast
        self.arbitrage = arbitrage
        self.api_calls = 0
        self._universe: SimUniverse | None = None
        # markets of the current step seen by list_markets, so books() (scan asks for the
        # prefiltered batch right after listing it) does not rebuild them one by one
        self._seen: dict[str, Market] = {}
        self._seen_step = -1

    @property
    def universe(self) -> SimUniverse:
        """The universe behind this source (built on first use)."""
        if self._universe is None:
            from .universe import SimUniverse
            from .universe_core import ARBITRAGE_SHARE

            skill = None if self.forecast is None else self.forecast / 100
            share = ARBITRAGE_SHARE if self.arbitrage is None else self.arbitrage / 100
            self._universe = SimUniverse(self.seed, self.markets, forecast_skill=skill, arbitrage_share=share)
        return self._universe

    def describe(self) -> str:
        """Return the descriptor that recreates this source at its current step."""
        extra = "" if self.forecast is None else f",forecast={self.forecast}"
        extra += "" if self.arbitrage is None else f",arbitrage={self.arbitrage}"
        return f"sim:seed={self.seed},markets={self.markets},step={self.step}{extra}"

    def now_ms(self) -> int:
        """Return the sim clock at the current step (Unix ms)."""
        return self.universe.time_ms(self.step)

    def list_markets(self) -> Iterator[Market]:
        """Yield every market at the current step, event by event, with full depth."""
        if self._seen_step != self.step:
            self._seen = {}
            self._seen_step = self.step
        seen = self._seen
        for m in self.universe.iter_markets_at(self.step):
            seen[m.ticker] = m
            yield m

    def books(self, tickers: Sequence[str]) -> dict[str, Market]:
        """Return full-depth markets for these tickers at the current step (unknown ones left out)."""
        u = self.universe
        seen = self._seen if self._seen_step == self.step else {}
        out: dict[str, Market] = {}
        for t in tickers:
            m = seen.get(t)
            if m is None:
                m = u.market_at(t, self.step)
            if m is not None:
                out[t] = m
        return out

    def advance(self) -> SourceEvents:
        """Move one step on; report the public trades and settlements in between."""
        u = self.universe
        self.step += 1
        self._seen, self._seen_step = {}, -1
        trades = u.trades_between(self.step - 1, self.step)
        settlements = u.settlements_between(self.step - 1, self.step)
        return SourceEvents(tuple(trades), tuple(settlements), self.step, u.time_ms(self.step))

    def close(self) -> None:
        """Nothing to release: the universe lives in memory."""


def parse_sim_spec(spec: str, forecast_skill: int | None = None, arbitrage: int | None = None) -> SimSource:
    """Build a SimSource from ``sim`` or ``sim:seed=N,markets=N,step=N[,forecast=PCT][,arbitrage=PCT]``.

    ``forecast_skill`` and ``arbitrage`` (%) apply when the descriptor does not name them itself.

    Raises:
        UsageError: not a sim descriptor, an unknown or repeated key, or a value that is not
            a whole number in range; the message names the key and the valid ones.
    """
    text = spec.strip()
    if text == "sim":
        return SimSource(forecast=forecast_skill, arbitrage=arbitrage)
    if not text.startswith("sim:"):
        raise UsageError(f"'{spec}' is not a sim source descriptor", hint=_HELP)
    values: dict[str, int | None] = {**DEFAULTS, "forecast": forecast_skill, "arbitrage": arbitrage}
    seen: set[str] = set()
    body = text[4:].strip()
    for part in body.split(",") if body else []:
        key, eq, raw = part.partition("=")
        key, raw = key.strip(), raw.strip()
        if not eq or not key:
            raise UsageError(
                f"sim descriptor part '{part.strip()}' is not key=value", hint=f"valid keys: {', '.join(KEYS)}; {_HELP}"
            )
        if key not in KEYS:
            raise UsageError(f"unknown sim descriptor key '{key}'", hint=f"valid keys: {', '.join(KEYS)}; {_HELP}")
        if key in seen:
            raise UsageError(f"sim descriptor key '{key}' is given twice", hint=_HELP)
        seen.add(key)
        try:
            value = int(raw)
        except ValueError:
            raise UsageError(f"sim descriptor key '{key}' needs a whole number, got '{raw}'", hint=_HELP) from None
        if value < 0 or (key == "markets" and value < 1) or (key in ("forecast", "arbitrage") and value > 100):
            raise UsageError(f"sim descriptor key '{key}' is out of range: {value}", hint=_HELP)
        values[key] = value
    seed, markets, step = (int(values[k] or 0) for k in DEFAULTS)
    return SimSource(seed, markets, step, values["forecast"], values["arbitrage"])
