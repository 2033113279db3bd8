"""Small builders for hand-made markets, used by the core tests."""

from __future__ import annotations

from decimal import Decimal

from kalashi_cli.domain import Market
from kalashi_cli.money import CENT_GRID, MULT_SCALE, Count, Price, TickBand, parse_count, parse_price


def lv(*pairs: tuple[str, str]) -> tuple[tuple[Price, Count], ...]:
    return tuple((parse_price(p), parse_count(s)) for p, s in pairs)


def market(
    ticker: str = "KXTEST-26JAN01-A",
    *,
    event: str = "KXTEST-26JAN01",
    yes: tuple = (),
    no: tuple = (),
    status: str = "active",
    fee_type: str = "quadratic",
    mult: int = MULT_SCALE,
    grid: tuple[TickBand, ...] = CENT_GRID,
    category: str = "Crypto",
    **kw: object,
) -> Market:
    return Market(
        ticker=ticker,
        event_ticker=event,
        series_ticker=event.split("-")[0],
        title=f"Test {ticker}",
        category=category,
        status=status,
        close_time="2026-06-01T00:00:00Z",
        yes_bids=yes,
        no_bids=no,
        volume=parse_count("1000"),
        open_interest=parse_count("500"),
        fee_type=fee_type,
        fee_multiplier=mult,
        price_ranges=grid,
        **kw,  # type: ignore[arg-type]
    )


def strike(ticker: str, k: str, yes: tuple, no: tuple, event: str = "KXLAD-26JAN01", kind: str = "greater") -> Market:
    if kind in ("less", "less_or_equal"):  # Kalshi puts the strike of "below K" in cap_strike
        return market(ticker, event=event, yes=yes, no=no, strike_type=kind, cap_strike=Decimal(k))
    return market(ticker, event=event, yes=yes, no=no, strike_type=kind, floor_strike=Decimal(k))


class FakeSource:
    """A MarketSource over a fixed list of markets (one step, no time passing unless told)."""

    name = "fake"
    api_calls = 0

    def __init__(self, markets: list[Market], now_ms: int = 1_767_268_800_000) -> None:
        self.markets = {m.ticker: m for m in markets}
        self._now = now_ms
        self.step = 0

    def describe(self) -> str:
        return f"fake:step={self.step}"

    def now_ms(self) -> int:
        return self._now

    def list_markets(self):  # noqa: ANN201
        yield from self.markets.values()

    def books(self, tickers):  # noqa: ANN001, ANN201
        return {t: self.markets[t] for t in tickers if t in self.markets}

    def advance(self):  # noqa: ANN201
        from kalashi_cli.ports import SourceEvents

        self.step += 1
        self._now += 10_000
        return SourceEvents(step=self.step, now_ms=self._now)

    def close(self) -> None:
        pass
