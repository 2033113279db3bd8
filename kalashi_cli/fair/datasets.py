"""What ``kalashi fair --evaluate`` scores on: market snapshots over time, and how markets settled.

Snapshots (``--source``, repeatable; snapshots of several sources are scored together):

* ``replay:PATH`` — a recording (any shape :mod:`kalashi_cli.kalshi.replay` reads; ``.gz`` is
  unpacked to a temporary file first), played through the live book code and sampled every
  ``every_ms`` of recorded time;
* ``FILE.jsonl`` — ``market`` records (``kalashi scan`` output, saved over time), one snapshot
  per distinct ``ts``;
* ``FILE.csv`` — a Kalshi candlestick export (``timestamp, bid_close, ask_close, …``, cents or
  dollars), one market per file, its ticker from the file name (``PRES-2024-DJT_candlesticks…``).
  Candles carry no depth: each side gets ``CANDLE_SIZE`` contracts. Files of one event are
  taken as mutually exclusive outcomes (not known to be exhaustive).

Results (``--results``): CSV with ``ticker`` and ``result`` columns, or JSON Lines objects
with ``ticker`` and ``result`` (or ``market_result``); only ``yes``/``no`` count.
"""

from __future__ import annotations

import csv
import gzip
import io
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import orjson

from ..domain import Market
from ..errors import InputError, UsageError
from ..money import COUNT_SCALE, ONE_DOLLAR, Count, Price, flip
from ..records import parse_time_ms

CANDLE_SIZE = Count(100 * COUNT_SCALE)
Snapshot = tuple[int, list[Market]]


def load_results(path: str | Path) -> dict[str, bool]:
    """Read settled results: ticker → True (yes) / False (no); other results are left out.

    Raises:
        InputError: unreadable file or no ticker/result columns (names the file).
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(
            f"{p}: cannot read the results file ({getattr(e, 'strerror', None) or e})",
            hint="give --results a CSV (ticker,result) or JSON Lines file",
        ) from None
    rows: list[dict[str, object]]
    if text.lstrip().startswith("{"):
        rows = []
        for n, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    obj = orjson.loads(line)
                except orjson.JSONDecodeError:
                    raise InputError(f"{p}:{n}: not valid JSON", hint="one {ticker, result} object per line") from None
                if isinstance(obj, dict):
                    rows.append(obj)
    else:
        rows = list(csv.DictReader(io.StringIO(text)))
    out: dict[str, bool] = {}
    for row in rows:
        ticker = row.get("ticker") or row.get("market_ticker")
        result = row.get("result") if row.get("result") is not None else row.get("market_result")
        if not isinstance(ticker, str):
            continue
        r = str(result or "").strip().lower()
        if r in ("yes", "no"):
            out[ticker] = r == "yes"
    if not out and rows and not any("ticker" in r or "market_ticker" in r for r in rows):
        raise InputError(f"{p}: no ticker and result columns", hint="a CSV header ticker,result (yes/no)")
    return out


def open_snapshots(specs: list[str], every_ms: int) -> Iterator[Snapshot]:
    """Yield (time, markets) snapshots of every source, sampled at most every ``every_ms``.

    Raises:
        UsageError: a source of no known kind. InputError: an unreadable source.
    """
    candles = [s for s in specs if s.lower().endswith(".csv") and not s.startswith("replay:")]
    if candles:
        yield from _sampled(candle_snapshots(candles), every_ms)
    for spec in specs:
        if spec in candles:
            continue
        if spec.startswith("replay:"):
            yield from replay_snapshots(spec, every_ms)
        elif Path(spec).is_file():
            yield from _sampled(record_snapshots(Path(spec)), every_ms)
        else:
            raise UsageError(
                f"cannot evaluate on '{spec}'",
                hint="give replay:PATH (a recording), a file of market records, or candle CSV files",
            )


def _sampled(snaps: Iterator[Snapshot], every_ms: int) -> Iterator[Snapshot]:
    next_t: int | None = None
    for t, markets in snaps:
        if next_t is None or t >= next_t:
            yield t, markets
            next_t = t + every_ms


def replay_snapshots(spec: str, every_ms: int) -> Iterator[Snapshot]:
    """Play a recording and take every market's book each ``every_ms`` of recorded time."""
    from ..kalshi.replay import ReplaySource

    body = spec[len("replay:") :]
    path, sep, opts = body.partition(",")
    tmp: str | None = None
    if path.endswith(".gz"):
        try:
            fd, tmp = tempfile.mkstemp(suffix=".jsonl", prefix="kalashi-eval-")
            with gzip.open(path, "rb") as src, os.fdopen(fd, "wb") as dst:
                shutil.copyfileobj(src, dst)
        except OSError as e:
            if tmp:
                os.unlink(tmp)
            raise InputError(f"cannot read recording {path}: {e}", hint="check the replay:PATH") from None
        body = tmp + (sep + opts if sep else "")
    try:
        source = ReplaySource.from_spec("replay:" + body)
        try:
            next_t = source.now_ms()
            while True:
                now = source.now_ms()
                if now >= next_t:
                    yield now, list(source.list_markets())
                    next_t = now + every_ms
                if source.exhausted:
                    break
                source.advance()
        finally:
            source.close()
    finally:
        if tmp:
            os.unlink(tmp)


def record_snapshots(path: Path) -> Iterator[Snapshot]:
    """Market records grouped by their ``ts`` (one snapshot per distinct time, in file order)."""
    from ..records import decode_error, iter_records, market_from_record

    current: int | None = None
    markets: list[Market] = []
    with path.open("rb") as f:
        for rec in iter_records(f, str(path)):
            if rec["kind"] != "market":
                continue
            try:
                m = market_from_record(rec)
            except (ValueError, TypeError) as e:
                raise decode_error(str(path), rec, e) from None
            ts = rec.get("ts")
            try:
                t = parse_time_ms(ts) if ts else 0
            except ValueError:
                t = 0
            if current is not None and t != current and markets:
                yield current, markets
                markets = []
            current = t
            markets.append(m)
    if markets and current is not None:
        yield current, markets


def _candle_ticker(path: Path) -> str:
    return re.split(r"_candle", path.stem, maxsplit=1, flags=re.I)[0]


def candle_snapshots(paths: list[str]) -> Iterator[Snapshot]:
    """Kalshi candlestick CSVs as snapshots: each candle's closing bid and ask, at its timestamp."""
    series: dict[str, dict[int, tuple[Price | None, Price | None]]] = {}
    for raw in paths:
        p = Path(raw)
        try:
            rows = list(csv.DictReader(io.StringIO(p.read_text(encoding="utf-8"))))
        except (OSError, UnicodeDecodeError) as e:
            raise InputError(f"{p}: cannot read ({getattr(e, 'strerror', None) or e})") from None
        if not rows or "bid_close" not in rows[0] or "ask_close" not in rows[0]:
            raise InputError(f"{p}: not a candlestick CSV (needs timestamp, bid_close, ask_close)")
        cents = any(float(r["ask_close"] or 0) > 1.0 or float(r["bid_close"] or 0) > 1.0 for r in rows)
        out: dict[int, tuple[Price | None, Price | None]] = {}
        for n, r in enumerate(rows, 2):
            try:
                t = parse_time_ms(r.get("timestamp") or r.get("end_period_ts") or "")
                bid = (
                    Price(round(float(r["bid_close"]) * ONE_DOLLAR / (100 if cents else 1))) if r["bid_close"] else None
                )
                ask = (
                    Price(round(float(r["ask_close"]) * ONE_DOLLAR / (100 if cents else 1))) if r["ask_close"] else None
                )
            except (TypeError, ValueError):
                raise InputError(f"{p}:{n}: bad timestamp, bid_close or ask_close") from None
            out[t] = (bid if bid and bid > 0 else None, ask if ask is not None and ask < ONE_DOLLAR else None)
        series[_candle_ticker(p)] = out
    events: dict[str, list[str]] = {}
    for ticker in series:
        events.setdefault(ticker.rsplit("-", 1)[0], []).append(ticker)
    last = max(max(v) for v in series.values() if v)
    close = datetime.fromtimestamp((last + 3_600_000) / 1000, UTC).isoformat().replace("+00:00", "Z")
    base: dict[str, Market] = {}
    for event, tickers in events.items():
        for name in tickers:
            base[name] = Market(
                ticker=name,
                event_ticker=event,
                series_ticker=event.split("-")[0],
                title=name,
                category="",
                status="active",
                close_time=close,
                yes_bids=(),
                no_bids=(),
                mutually_exclusive=len(tickers) > 1,
                event_market_count=len(tickers),
            )
    for t_ms in sorted({t for v in series.values() for t in v}):
        markets = []
        for tickers in events.values():
            for ticker in tickers:
                quote = series[ticker].get(t_ms)
                if quote is None:
                    continue
                bid, ask = quote
                markets.append(
                    replace(
                        base[ticker],
                        yes_bids=((bid, CANDLE_SIZE),) if bid else (),
                        no_bids=((flip(ask), CANDLE_SIZE),) if ask is not None else (),
                    )
                )
        if markets:
            yield t_ms, markets
