"""Fair-value test helpers: hand-made markets, real ladders from ../shared, a CLI runner."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import needs
import pytest
from typer.testing import CliRunner

from kalashi_cli.cli.app import app
from kalashi_cli.domain import Market
from kalashi_cli.money import COUNT_SCALE, ONE_DOLLAR, Count, Price, flip

REAL = ("data", "kalshi-real", "tape_2026-07_sample")
shared_path = needs.shared_path  # real Kalshi data, not in the repository: skip when absent (fail under CI)

#: the collector's crypto/econ samples carry top-of-book prices without sizes: give each side this many
NOMINAL = 100 * COUNT_SCALE


def px(x: float) -> Price:
    return Price(round(x * ONE_DOLLAR))


def mk(
    ticker: str,
    *,
    event: str = "KXEV-26JAN01",
    bid: float | None = None,
    ask: float | None = None,
    size: float = 100,
    yes: tuple[tuple[int, int], ...] | None = None,
    no: tuple[tuple[int, int], ...] | None = None,
    close: str = "2026-06-01T00:00:00Z",
    **kw: Any,
) -> Market:
    """A market from a top of book (YES bid and ask, ``size`` contracts each) or explicit depth."""
    n = Count(round(size * COUNT_SCALE))
    yes_bids = tuple((Price(p), Count(c)) for p, c in yes) if yes is not None else (((px(bid), n),) if bid else ())
    no_bids = (
        tuple((Price(p), Count(c)) for p, c in no)
        if no is not None
        else (((flip(px(ask)), n),) if ask is not None and ask < 1 else ())
    )
    return Market(
        ticker=ticker,
        event_ticker=event,
        series_ticker=event.split("-")[0],
        title=ticker,
        category="Test",
        status="active",
        close_time=close,
        yes_bids=yes_bids,
        no_bids=no_bids,
        volume=Count(100_000),
        open_interest=Count(50_000),
        **kw,
    )


def _strike(v: Any) -> Decimal | None:
    return None if v is None else Decimal(str(v))


def _collector_market(o: dict[str, Any], event: str) -> Market:
    bid, ask = float(o.get("yes_bid") or 0), float(o["yes_ask"] if o.get("yes_ask") is not None else 1)
    return mk(
        o["ticker"],
        event=event,
        bid=bid or None,
        ask=ask if ask < 1 else None,
        strike_type=o.get("strike_type"),
        floor_strike=_strike(o.get("floor_strike")),
        cap_strike=_strike(o.get("cap_strike")),
        mutually_exclusive=o.get("strike_type") == "between",
    )


def real_ladders() -> list[tuple[str, list[Market]]]:
    """Every real ladder in ../shared's tape sample (skips the test when ../shared is absent).

    KXBTC/KXETH hourly brackets and CPI/CPI-core/CPI-YoY/GDP/payroll strike ladders (top of book,
    sizes unknown: ``NOMINAL`` each side), and KXHIGH* weather brackets with their full depth.
    """
    out: list[tuple[str, list[Market]]] = []
    for line in shared_path(*REAL, "crypto_hourly_sample.jsonl").read_text().splitlines():
        cur = json.loads(line)["current"]
        out.append((cur["event_ticker"], [_collector_market(o, cur["event_ticker"]) for o in cur["outcomes"]]))
    for line in shared_path(*REAL, "econ_prints_sample.jsonl").read_text().splitlines():
        for e in json.loads(line)["open_events"]["events"]:
            out.append((e["event_ticker"], [_collector_market(o, e["event_ticker"]) for o in e["strikes"]]))
    weather: dict[str, list[Market]] = {}
    for line in shared_path(*REAL, "weather_books_sample_2026-07-24.jsonl").read_text().splitlines():
        d = json.loads(line)
        event = d["ticker"].rsplit("-", 1)[0]
        yes = tuple((px(p), round(s * COUNT_SCALE)) for p, s in d["yes_bids"] if 0 < p < 1 and s > 0)
        no = tuple((px(p), round(s * COUNT_SCALE)) for p, s in d["no_bids"] if 0 < p < 1 and s > 0)
        weather.setdefault(event, []).append(
            mk(
                d["ticker"],
                event=event,
                yes=yes,
                no=no,
                strike_type=d["strike_type"],
                floor_strike=_strike(d["floor_strike"]),
                cap_strike=_strike(d["cap_strike"]),
                mutually_exclusive=True,
            )
        )
    out.extend(weather.items())
    return out


class Kalashi:
    """kalashi in-process (CliRunner), checking the exit code."""

    def __init__(self) -> None:
        self.runner = CliRunner()

    def __call__(self, *args: str, input: str | None = None, code: int | None = 0) -> Any:
        res = self.runner.invoke(app, list(args), input=input)
        if code is not None and res.exit_code != code:
            raise AssertionError(
                f"kalashi {' '.join(args)} exited {res.exit_code}, wanted {code}\n"
                f"stdout: {res.stdout[-2000:]}\nstderr: {res.stderr[-2000:]}\n{res.exception!r}"
            )
        return res


def records(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@pytest.fixture
def kalashi() -> Kalashi:
    return Kalashi()


@pytest.fixture
def tmp(tmp_path: Path) -> Path:
    return tmp_path
