"""The market data a backtest trades on: a recording (or the sim) with closes, settlements and latency.

:class:`BacktestSource` wraps the source ``run-loop`` would open (:func:`kalashi_cli.kalshi.replay.open_replay`,
the sim) and adds what a replay alone does not do:

* **closes** — a market whose close time has passed (recorded time) is listed as ``closed``:
  scan's prefilter drops it and the paper exchange cancels its resting orders, so nothing
  trades after the close (recordings keep streaming deltas until the recorder rotates);
* **settlements** — from the recording (``market_lifecycle_v2``, settled market objects: the
  inner source reports them), else from ``--results`` (ticker → yes/no) at the close, or when
  the data ends; a market neither settles is left to the valuation rule, and the report says
  which rule settled each market;
* **the end** — ``duration_ms`` of recorded time cuts the run short (tests, quick looks); when
  the data ends, one last step closes every market and settles what ``--results`` knows.

:class:`LatencyView` is what the paper broker sees: the books as they are ``latency_ms`` after
the decision (a shadow replay of the same events running ahead), so an order meets the book it
would have met on the exchange, not the one it was decided on.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..domain import Market, Settlement
from ..kalshi.replay import MergedReplaySource, ReplaySource
from ..money import ONE_DOLLAR, Price
from ..ports import MarketSource, SourceEvents
from ..stages.scan import close_ms

#: how each market's result was known (the report's ``settlement.source``)
BY_RECORDING = "recording"
BY_RESULTS = "results"
BY_VALUATION = "valuation"


class BacktestSource:
    """A MarketSource that closes markets at their close time and settles them (see the module docstring)."""

    def __init__(
        self, inner: MarketSource, *, results: Mapping[str, str] | None = None, duration_ms: int | None = None
    ) -> None:
        self.inner = inner
        self.name = inner.name
        self.api_calls = 0  # recordings and the sim call no API
        self.results = {t: r.strip().lower() for t, r in (results or {}).items()}
        self._start = inner.now_ms()
        self._until = self._start + duration_ms if duration_ms else None
        #: ticker → (result, how it was known, when)
        self.settled: dict[str, tuple[str, str, int]] = {}
        self.seen: dict[str, Market] = {}  # every market listed so far (its last view)
        self._ended = False  # the data ended (or the duration passed)
        self._final_done = False

    # -- protocol ----------------------------------------------------------------------------
    def describe(self) -> str:
        return self.inner.describe()

    def now_ms(self) -> int:
        return self.inner.now_ms()

    def _view(self, m: Market, now: int) -> Market | None:
        if m.ticker in self.settled:
            return None
        self.seen[m.ticker] = m
        c = close_ms(m)
        if self._ended or (c is not None and c <= now and m.status == "active"):
            return dataclasses.replace(m, status="closed")
        return m

    def list_markets(self) -> Iterator[Market]:
        now = self.now_ms()
        for m in self.inner.list_markets():
            v = self._view(m, now)
            if v is not None:
                yield v

    def books(self, tickers: Sequence[str]) -> dict[str, Market]:
        now = self.now_ms()
        out = {}
        for t, m in self.inner.books(tickers).items():
            v = self._view(m, now)
            if v is not None:
                out[t] = v
        return out

    @property
    def exhausted(self) -> bool:
        """True once the data has ended and the closing step (settlements) has been played."""
        return self._final_done

    def advance(self) -> SourceEvents:
        """The next slice; once the data has ended (or the duration passed), one closing step that
        closes every market and settles what ``results`` knows — the last slice itself trades as
        ``run-loop`` would."""
        now = self.now_ms()
        if self._final_done:
            return SourceEvents(now_ms=now)
        if self._ended or getattr(self.inner, "exhausted", False) or (self._until is not None and now >= self._until):
            self._ended = True
            self._final_done = True
            return SourceEvents(settlements=tuple(self._settle_due(now, final=True)), now_ms=now)
        ev = self.inner.advance()
        now = ev.now_ms or self.now_ms()
        settlements = []
        for s in ev.settlements:
            if s.ticker not in self.settled:
                self.settled[s.ticker] = (s.result, BY_RECORDING, s.settled_ts_ms or now)
                settlements.append(s)
        settlements += self._settle_due(now, final=False)
        return dataclasses.replace(ev, settlements=tuple(settlements))

    def _settle_due(self, now: int, *, final: bool) -> list[Settlement]:
        """Settle from ``results`` the markets that closed (all of them once the data has ended)."""
        out = []
        for t, m in sorted(self.seen.items()):
            if t in self.settled or t not in self.results:
                continue
            c = close_ms(m)
            if not final and (c is None or c > now):
                continue
            result = self.results[t]
            if result not in ("yes", "no"):
                continue
            # stamped at the close when the clock has passed it (a gap between recordings can jump
            # past a close by days: the result was known then, not when the next file starts)
            at = c if c is not None and c <= now else now
            self.settled[t] = (result, BY_RESULTS, at)
            out.append(
                Settlement(
                    ticker=t,
                    event_ticker=m.event_ticker,
                    result=result,  # type: ignore[arg-type]
                    settled_ts_ms=at,
                    value=ONE_DOLLAR if result == "yes" else Price(0),
                )
            )
        return out

    def settlement_sources(self) -> dict[str, dict[str, Any]]:
        """Every market seen: its result and which rule settled it (``valuation``: still open at the end)."""
        out: dict[str, dict[str, Any]] = {}
        for t in sorted(set(self.seen) | set(self.settled)):
            if t in self.settled:
                r, how, ts = self.settled[t]
                out[t] = {"result": r, "source": how, "ts_ms": ts}
            else:
                out[t] = {"result": None, "source": BY_VALUATION, "ts_ms": None}
        return out

    def close(self) -> None:
        self.inner.close()

    # -- what the data was ---------------------------------------------------------------------
    def replays(self) -> list[ReplaySource]:
        """The recordings played, one per file (empty for the sim)."""
        if isinstance(self.inner, MergedReplaySource):
            return list(self.inner.children)
        if isinstance(self.inner, ReplaySource):
            return [self.inner]
        return []


class LatencyView:
    """The books ``latency_ms`` after the decision: a shadow of each recording, played ahead on demand.

    The paper broker asks for books when an order is submitted (and for markets the loop did
    not scan); it gets them as they were when the order would have reached the exchange. The
    shadow only moves forward, so a whole run costs at most a second pass over the events.
    """

    def __init__(self, source: BacktestSource, latency_ms: int) -> None:
        self.source = source
        self.latency_ms = latency_ms
        self.name = source.name
        self.api_calls = 0
        self.shadows = [
            ReplaySource(r.path, slice_ms=r.slice_ms, prime=False, events=r.events) for r in source.replays()
        ]

    def describe(self) -> str:
        return self.source.describe()

    def now_ms(self) -> int:
        return self.source.now_ms()

    def list_markets(self) -> Iterator[Market]:
        return self.source.list_markets()

    def books(self, tickers: Sequence[str]) -> dict[str, Market]:
        now = self.source.now_ms()
        at = now + self.latency_ms
        base = self.source.books(tickers)  # status, close and settlement as of the decision
        out: dict[str, Market] = {}
        for sh in self.shadows:
            sh.advance_until(at + 1)
            for t, m in sh.books([t for t in tickers if t in base and t not in out]).items():
                out[t] = dataclasses.replace(base[t], yes_bids=m.yes_bids, no_bids=m.no_bids)
        for t, m in base.items():
            out.setdefault(t, m)
        return out

    def advance(self) -> SourceEvents:  # the broker never advances its source
        return SourceEvents(now_ms=self.now_ms())

    def close(self) -> None:
        for sh in self.shadows:
            sh.close()


def read_results(path: str | Path) -> dict[str, str]:
    """Read a results CSV (``ticker,result`` columns, more allowed; the shared runs' results.csv).

    Raises:
        InputError: unreadable, or no ticker/result columns (names the file and line).
    """
    import csv

    from ..errors import InputError

    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise InputError(f"{p}: cannot read the results ({e.strerror})", hint="check the --results path") from None
    rows = list(csv.DictReader(text.splitlines()))
    if not rows or "ticker" not in rows[0] or "result" not in rows[0]:
        raise InputError(
            f"{p}:1: a results CSV needs `ticker` and `result` columns",
            hint="write a header line `ticker,result` and one market per line",
        )
    out: dict[str, str] = {}
    for i, r in enumerate(rows, 2):
        t, res = (r.get("ticker") or "").strip(), (r.get("result") or "").strip().lower()
        if not t:
            continue
        if res not in ("yes", "no", ""):
            raise InputError(f"{p}:{i}: result {res!r} for {t} is not yes or no", hint="fix that line")
        if res:
            out[t] = res
    return out
