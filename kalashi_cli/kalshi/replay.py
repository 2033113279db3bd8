"""``replay:PATH[,speed=N][,step=K][,slice_ms=M]`` — play a recording as a MarketSource.

Books are rebuilt by **the same code as the live feed** (:class:`~kalashi_cli.kalshi.books.BookStore`):
every WebSocket frame goes through sequence checking, snapshots and deltas exactly as it did
live, so a replay exercises the real book-building path. REST snapshots in the recording
(markets, batched orderbooks, series, events) give metadata, fee structure and books for
markets without a WebSocket stream; settlements come from ``market_lifecycle_v2`` frames and
from market objects with a ``result``.

Three recording shapes are accepted, plain or gzip-compressed:

* ours (:mod:`kalashi_cli.kalshi.recorder`, docs/recording-format.md): ``{"t_ms", "src", …}`` lines;
* a third-party recorder's JSON Lines envelope (``event_type``, ``channel``, ``sequence_number``,
  ``local_recv_ns`` and the Kalshi ``msg`` verbatim in ``payload_json``), as in
  ``crypto_ws_kxbtc15m/*.jsonl`` and ``crypto_ws_kxbtc15m/runs/*.events.jsonl.gz``: sids are
  recovered from its ``ws_subscribed`` lines;
* a JSON document ``{"frames": [{"received_ms", "frame"}, …]}`` of verbatim frames, as in
  ``sports_rest_ws_fixtures_2026-08/ws_orderbook_stream.json``.

Time: ``advance()`` moves to the next time slice (``slice_ms`` of recorded time, default 1 s)
— or, for REST-only recordings, to the next recorded snapshot. ``speed=1`` paces slices in
real time, ``speed=10`` ten times faster, ``speed=0`` (default) as fast as possible.

Whenever a snapshot arrives for a book that was already being kept, the rebuilt book is
compared with it first (``snapshot_checks`` / ``snapshot_mismatches``): a replay proves the
delta logic on real data.

Recordings without market metadata (the two third-party shapes) yield bare markets: the
event ticker is the market ticker without its last ``-`` part and the series its first part
(Kalshi's naming; a fallback, since no metadata was recorded), the tick grid is inferred
from the finest price seen. A bare market takes its volume and open interest from its first
``ticker`` message — looked up ahead in the recording, so the first listing is not judged
as dead (that is the only thing a replay reads ahead, and it is activity, not prices); a
bare market that never gets one is listed with ``activity_known=False`` and the scan
prefilter judges it on the rest (status, combo, close time).
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from ..domain import Market, Settlement, Trade
from ..errors import InputError, UsageError
from ..money import CENT_GRID, DECI_CENT_GRID, ONE_DOLLAR, Price, TickBand, parse_count, parse_price
from ..ports import MarketSource, SourceEvents
from .books import BookStore, LocalBook, fast_count, fast_price
from .catalog import MarketCatalog, market_extras
from .ticker_trades import TickerTradeInference
from .wire import lifecycle_settlement, market_settlement, parse_orderbook, parse_trade

log = logging.getLogger("kalashi.kalshi.replay")

DEFAULT_SLICE_MS = 1000


@dataclass(frozen=True, slots=True)
class ReplayEvent:
    """One recorded happening: ``ws`` frame, ``rest`` envelope, ``mark``, ``reset`` (new connection), ``watch``."""

    t_ms: int
    kind: str
    data: Any


# --------------------------------------------------------------------------- loading


def _bad(path: Path, line: int, why: str) -> InputError:
    return InputError(f"{path}:{line}: {why}", hint="is this a kalashi recording or a supported capture?")


def _from_ours(path: Path, rows: list[tuple[int, dict[str, Any]]]) -> list[ReplayEvent]:
    out: list[ReplayEvent] = []
    for n, d in rows:
        src, t = d.get("src"), d.get("t_ms")
        if not isinstance(t, int):
            raise _bad(path, n, "envelope without an integer t_ms")
        if src == "ws":
            if isinstance(d.get("frame"), dict):
                out.append(ReplayEvent(t, "ws", d["frame"]))
        elif src == "rest":
            out.append(ReplayEvent(t, "rest", d))
        elif src == "mark":
            out.append(ReplayEvent(t, "mark", d.get("snapshot")))
        elif src == "reset":
            out.append(ReplayEvent(t, "reset", None))
        # meta / end / unknown sources carry nothing to replay
    return out


def _from_recorder_envelope(path: Path, rows: list[tuple[int, dict[str, Any]]]) -> list[ReplayEvent]:
    """Adapt ``{event_type, channel, sequence_number, local_recv_ns, payload_json}`` lines."""
    out: list[ReplayEvent] = []
    sid_of: dict[str, int] = {}
    for n, d in rows:
        ns = d.get("local_recv_ns")
        if not isinstance(ns, int):
            raise _bad(path, n, "recorder envelope without local_recv_ns")
        t = ns // 1_000_000
        kind, payload = d.get("event_type"), d.get("payload_json")
        if kind == "ws_connected":
            sid_of.clear()
            out.append(ReplayEvent(t, "reset", None))
        elif kind == "ws_subscribed" and isinstance(payload, dict):
            msg = payload.get("msg") or {}
            if isinstance(msg.get("channel"), str) and isinstance(msg.get("sid"), int):
                sid_of[msg["channel"]] = msg["sid"]
            out.append(ReplayEvent(t, "ws", payload))
        elif kind == "watch_market" and isinstance(payload, dict):
            out.append(ReplayEvent(t, "watch", payload))
        elif isinstance(kind, str) and isinstance(payload, dict) and d.get("channel") != "control":
            frame: dict[str, Any] = {"type": kind, "msg": payload}
            sid = sid_of.get(d.get("channel") or "")
            if sid is not None:
                frame["sid"] = sid
            if isinstance(d.get("sequence_number"), int):
                frame["seq"] = d["sequence_number"]
            out.append(ReplayEvent(t, "ws", frame))
    return out


def load_recording(path: str | Path) -> list[ReplayEvent]:
    """Read a recording in any supported shape into replay events, in recorded order.

    Raises:
        InputError: unreadable file, unknown shape, or a malformed line (named).
    """
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as e:
        raise InputError(f"cannot read recording {p}: {e.strerror}", hint="check the replay:PATH") from None
    if raw[:2] == b"\x1f\x8b":  # gzip (e.g. the shared KXBTC15M runs, *.events.jsonl.gz)
        import gzip

        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as e:
            raise InputError(
                f"cannot read recording {p}: not a whole gzip file ({e})", hint="check the replay:PATH"
            ) from None
    stripped = raw.lstrip()
    if stripped.startswith(b"{"):
        try:
            doc = orjson.loads(raw)
        except orjson.JSONDecodeError:
            doc = None
        if isinstance(doc, dict) and isinstance(doc.get("frames"), list):
            events = []
            for i, f in enumerate(doc["frames"], 1):
                if not (
                    isinstance(f, dict) and isinstance(f.get("frame"), dict) and isinstance(f.get("received_ms"), int)
                ):
                    raise _bad(p, i, "frames[] entries need received_ms and frame")
                events.append(ReplayEvent(f["received_ms"], "ws", f["frame"]))
            return events
    rows: list[tuple[int, dict[str, Any]]] = []
    for n, line in enumerate(raw.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError:
            raise _bad(p, n, "not JSON") from None
        if not isinstance(obj, dict):
            raise _bad(p, n, "not a JSON object")
        rows.append((n, obj))
    if not rows:
        return []
    first = rows[0][1]
    if "src" in first and "t_ms" in first:
        return _from_ours(p, rows)
    if "payload_json" in first and "event_type" in first:
        return _from_recorder_envelope(p, rows)
    raise _bad(p, rows[0][0], "unknown recording shape (expected src/t_ms or event_type/payload_json)")


# --------------------------------------------------------------------------- helpers


def bare_market(ticker: str, *, close_time: str = "", status: str = "active") -> Market:
    """A market known only by its ticker (recordings without metadata); see the module docstring."""
    event = ticker.rsplit("-", 1)[0] if "-" in ticker else ticker
    return Market(
        ticker=ticker,
        event_ticker=event,
        series_ticker=event.split("-", 1)[0],
        title=ticker,
        category="",
        status=status,
        close_time=close_time,
        yes_bids=(),
        no_bids=(),
    )


def _inferred_grid(book: LocalBook) -> tuple[TickBand, ...]:
    prices = list(book.yes) + list(book.no)
    if not prices:
        return CENT_GRID
    g = 0
    for p in prices:
        g = math.gcd(g, p)
    if g % 100 == 0:
        return CENT_GRID
    if g % 10 == 0:
        return DECI_CENT_GRID
    return (TickBand(Price(0), ONE_DOLLAR, Price(1)),)


def _snapshot_levels(msg: Mapping[str, Any], flip_no: bool) -> tuple[dict[int, int], dict[int, int]]:
    yes = {fast_price(p): fast_count(c) for p, c in msg.get("yes_dollars_fp") or ()}
    no = {
        (ONE_DOLLAR - fast_price(p)) if flip_no else fast_price(p): fast_count(c)
        for p, c in msg.get("no_dollars_fp") or ()
    }
    return ({p: c for p, c in yes.items() if c > 0}, {p: c for p, c in no.items() if c > 0})


# --------------------------------------------------------------------------- specs


def parse_replay_options(text: str, *, spec: str = "") -> dict[str, Any]:
    """``speed=N,step=K,slice_ms=M`` → keyword arguments of a replay source (defaults for those left out).

    Raises:
        UsageError: a value that is not a number.
    """
    opts = dict(p.strip().partition("=")[::2] for p in text.split(",") if p.strip())
    try:
        return {
            "speed": float(opts.get("speed", "0")),
            "step": int(opts.get("step", "0")),
            "slice_ms": int(opts.get("slice_ms", str(DEFAULT_SLICE_MS))),
        }
    except ValueError:
        raise UsageError(
            f"bad replay options in {spec or text!r}", hint="speed=N (number), step=K, slice_ms=M"
        ) from None


def parse_single_spec(spec: str) -> tuple[str, dict[str, Any]]:
    """``replay:PATH[,speed=N][,step=K][,slice_ms=M]`` → (PATH, keyword arguments); PATH may hold commas.

    Raises:
        UsageError: no path, or malformed options.
    """
    body = spec[len("replay:") :] if spec.startswith("replay:") else spec
    path_parts: list[str] = []
    opts: dict[str, str] = {}
    for part in body.split(","):
        key, sep, value = part.partition("=")
        if sep and key.strip() in ("speed", "step", "slice_ms"):
            opts[key.strip()] = value.strip()
        else:
            path_parts.append(part)
    path = ",".join(path_parts).strip()
    if not path:
        raise UsageError("replay needs a path: replay:PATH[,speed=N]")
    return path, parse_replay_options(",".join(f"{k}={v}" for k, v in opts.items()), spec=spec)


# --------------------------------------------------------------------------- the source


class ReplaySource:
    """A recording played through the live book code, one time slice per ``advance()``."""

    name = "replay"

    def __init__(
        self,
        path: str | Path,
        *,
        speed: float = 0.0,
        slice_ms: int = DEFAULT_SLICE_MS,
        step: int = 0,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        prime: bool = True,
        events: list[ReplayEvent] | None = None,
    ) -> None:
        if speed < 0 or slice_ms <= 0 or step < 0:
            raise UsageError("replay needs speed ≥ 0, slice_ms > 0 and step ≥ 0")
        self.path = Path(path)
        self.speed = speed
        self.slice_ms = slice_ms
        self.api_calls = 0
        self.events = load_recording(self.path) if events is None else events
        #: a recording without a ``trade`` channel (the third-party runs) gives its trades through the
        #: ``ticker`` channel: see :class:`~kalashi_cli.kalshi.ticker_trades.TickerTradeInference`
        self.infer_trades = not any(e.kind == "ws" and e.data.get("type") == "trade" for e in self.events)
        self._inference = TickerTradeInference()
        self.store = BookStore()
        self.catalog = MarketCatalog(series_ttl_s=math.inf, events_ttl_s=math.inf)
        self._meta: dict[str, Market] = {}
        self._bare: set[str] = set()
        self._settled: set[str] = set()
        self._trades: list[Trade] = []
        self._settlements: list[Settlement] = []
        self._sleep = sleep
        self._monotonic = monotonic
        self._pos = 0
        self._step = 0
        self._now_ms = self.events[0].t_ms if self.events else 0
        self._last_wall: float | None = None
        self._slice_t: list[int] = []
        self.snapshot_checks = 0
        self.snapshot_mismatches: list[tuple[str, int]] = []  # (ticker, t_ms)
        self._first_ticker = self._first_ticker_messages()
        self._ends = self._slice_ends()
        self._last_wall = monotonic()
        if prime:
            self._apply_until(self._ends[0] if self._ends else 0)
        self._trades.clear()  # what happened before the first view is history, not news
        self._settlements.clear()
        for _ in range(step):
            self._advance_quietly()

    @classmethod
    def from_spec(cls, spec: str, **kw: Any) -> ReplaySource:
        """Open ``replay:PATH[,speed=N][,step=K][,slice_ms=M]``.

        Raises:
            UsageError: malformed options. InputError: unreadable recording.
        """
        path, options = parse_single_spec(spec)
        return cls(path, **options, **kw)

    def _first_ticker_messages(self) -> dict[str, Mapping[str, Any]]:
        """The first ``ticker`` message of every market in the recording (its activity figures)."""
        first: dict[str, Mapping[str, Any]] = {}
        for e in self.events:
            if e.kind == "ws" and e.data.get("type") == "ticker":
                msg = e.data.get("msg")
                if isinstance(msg, dict) and isinstance(msg.get("market_ticker"), str):
                    first.setdefault(msg["market_ticker"], msg)
        return first

    def _add_bare(self, ticker: str, **kw: str) -> None:
        """Start keeping a market known only by its ticker, with its activity if the recording has it."""
        self._meta[ticker] = bare_market(ticker, **kw)
        self._bare.add(ticker)
        msg = self._first_ticker.get(ticker)
        if msg is not None:
            self._ticker(msg, prices=False)
        else:
            self._meta[ticker] = dataclasses.replace(self._meta[ticker], activity_known=False)

    # ------------------------------------------------------------------ slicing

    def _slice_ends(self) -> list[int]:
        """Event index (exclusive) at which each step ends; fills ``_slice_t`` with recorded start times.

        Time slices that hold no event are skipped (a quiet minute is one step, not sixty),
        but pacing still honours the recorded time between the slices that are played.
        """
        n = len(self.events)
        self._slice_t = []
        if n == 0:
            return []
        t0 = self.events[0].t_ms
        self._slice_t.append(t0)
        if not any(e.kind == "ws" for e in self.events) and any(e.kind == "mark" for e in self.events):
            marks = [i for i, e in enumerate(self.events) if e.kind == "mark"]
            self._slice_t += [self.events[i].t_ms for i in marks]
            return marks + [n]
        ends: list[int] = []
        boundary = t0 + self.slice_ms
        for i, e in enumerate(self.events):
            if e.t_ms >= boundary:
                ends.append(i)
                start = t0 + (e.t_ms - t0) // self.slice_ms * self.slice_ms
                self._slice_t.append(start)
                boundary = start + self.slice_ms
        ends.append(n)
        return ends

    @property
    def inferred_trades(self) -> int:
        """How many trades were inferred from ``ticker`` volume (recordings without a ``trade`` channel)."""
        return self._inference.count

    @property
    def exhausted(self) -> bool:
        """True once every recorded event has been played."""
        return self._pos >= len(self.events)

    @property
    def steps(self) -> int:
        """How many ``advance()`` calls the recording holds after the first view."""
        return max(0, len(self._ends) - 1)

    # ------------------------------------------------------------------ applying

    def _apply_until(self, end: int) -> None:
        events = self.events
        while self._pos < end:
            ev = events[self._pos]
            self._pos += 1
            self._now_ms = ev.t_ms
            kind = ev.kind
            if kind == "ws":
                self._ws(ev.data, ev.t_ms)
            elif kind == "rest":
                self._rest(ev.data)
            elif kind == "reset":
                self.store.reset_connection()
            elif kind == "watch":
                t = ev.data.get("market_ticker")
                if isinstance(t, str) and t not in self._meta:
                    self._add_bare(
                        t,
                        close_time=str(ev.data.get("close_time") or ""),
                        status=str(ev.data.get("status") or "active"),
                    )

    def _ws(self, frame: dict[str, Any], t_ms: int) -> None:
        kind = frame.get("type")
        if kind == "orderbook_snapshot":
            msg = frame.get("msg") or {}
            ticker = msg.get("market_ticker")
            book = self.store.books.get(ticker) if isinstance(ticker, str) else None
            if book is not None and not book.stale:
                # The snapshot is the exchange's truth at this seq: our rebuilt book must equal it.
                seq, sid = frame.get("seq"), frame.get("sid")
                in_order = seq is None or sid is None or self.store.last_seq.get(sid) in (None, seq - 1)
                if in_order:
                    self.snapshot_checks += 1
                    if _snapshot_levels(msg, self.store.no_side_in_yes_prices) != (book.yes, book.no):
                        self.snapshot_mismatches.append((book.ticker, t_ms))
                        log.warning("replayed book for %s differs from the snapshot at %d", book.ticker, t_ms)
            if isinstance(ticker, str) and ticker not in self._meta:
                self._add_bare(ticker)
        other = self.store.handle(frame, ts_ms=t_ms)
        if other is None:
            return
        msg = frame.get("msg")
        if not isinstance(msg, dict):
            return
        try:
            if other == "trade":
                self._trades.append(parse_trade(msg))
            elif other == "ticker":
                inferred = self._inference.observe(msg, t_ms, self.store.books) if self.infer_trades else None
                if inferred is not None:
                    self._trades.append(inferred)
                self._ticker(msg)
            elif other == "market_lifecycle_v2":
                s = lifecycle_settlement(msg)
                if s is not None:
                    self._settle(s)
        except (ValueError, KeyError, TypeError) as e:
            log.warning("unreadable %s frame at %d: %s", other, t_ms, e)

    def _settle(self, s: Settlement) -> None:
        if s.ticker and s.ticker not in self._settled:
            self._settled.add(s.ticker)
            self._settlements.append(s)

    def _rest(self, env: Mapping[str, Any]) -> None:
        endpoint = str(env.get("endpoint") or "")
        body = env.get("body")
        if not isinstance(body, dict):
            return
        if endpoint == "GET /series/{series_ticker}" and isinstance(body.get("series"), dict):
            self.catalog.add_series(body["series"])
        elif endpoint == "GET /series":
            self.catalog.set_series([s for s in body.get("series") or () if isinstance(s, dict)])
        elif endpoint in ("GET /events", "GET /events/{event_ticker}"):
            for e in body.get("events") or ([body["event"]] if isinstance(body.get("event"), dict) else []):
                if isinstance(e, dict):
                    self.catalog.add_event(e)
        elif endpoint in ("GET /markets", "GET /markets/{ticker}"):
            items = body.get("markets") or ([body["market"]] if isinstance(body.get("market"), dict) else [])
            for d in items:
                if not isinstance(d, dict):
                    continue
                try:
                    m = self.catalog.to_market(d)
                except ValueError as e:
                    log.warning("skipping unreadable recorded market: %s", e)
                    continue
                self._meta[m.ticker] = m
                self._bare.discard(m.ticker)
                if m.status in ("determined", "finalized", "settled", "amended"):
                    s = market_settlement(d)
                    if s is not None:
                        self._settle(dataclasses.replace(s, settled_ts_ms=s.settled_ts_ms or self._now_ms))
        elif endpoint == "GET /markets/orderbooks":
            for entry in body.get("orderbooks") or ():
                if isinstance(entry, dict) and isinstance(entry.get("ticker"), str):
                    self._rest_book(entry["ticker"], entry)
        elif endpoint == "GET /markets/{ticker}/orderbook":
            path = str(env.get("path") or "")
            parts = path.strip("/").split("/")
            if len(parts) == 3:
                self._rest_book(parts[1], body)

    def _rest_book(self, ticker: str, body: Mapping[str, Any]) -> None:
        book = self.store.books.get(ticker)
        if book is not None and book.sid is not None and not book.stale:
            return  # a live WebSocket book is fresher than a REST poll taken alongside it
        yes, no = parse_orderbook(body)
        self.store.load_rest_book(ticker, yes, no, ts_ms=self._now_ms)

    def _advance_quietly(self) -> None:
        self._step += 1
        if self._step < len(self._ends):
            self._apply_until(self._ends[self._step])
        else:
            self._apply_until(len(self.events))
        self._trades.clear()
        self._settlements.clear()

    # ------------------------------------------------------------------ protocol

    def _ticker(self, msg: Mapping[str, Any], *, prices: bool = True) -> None:
        """A ``ticker`` message carries volume, open interest and the last price: keep them."""
        t = msg.get("market_ticker")
        base = self._meta.get(t) if isinstance(t, str) else None
        if base is None:
            return
        changes: dict[str, Any] = {"activity_known": True}
        for key, attr in (("volume_fp", "volume"), ("open_interest_fp", "open_interest")):
            v = msg.get(key)
            if isinstance(v, str | int):
                try:
                    changes[attr] = parse_count(str(v))
                except ValueError:
                    pass
        lp = msg.get("price_dollars") if prices else None
        if isinstance(lp, str):
            try:
                changes["last_price"] = parse_price(lp)
            except ValueError:
                pass
        if changes:
            self._meta[t] = dataclasses.replace(base, **changes)  # type: ignore[index]

    def describe(self) -> str:
        extra = f",slice_ms={self.slice_ms}" if self.slice_ms != DEFAULT_SLICE_MS else ""
        return f"replay:{self.path},speed={self.speed:g},step={self._step}{extra}"

    def now_ms(self) -> int:
        return self._now_ms

    def _market(self, ticker: str, counts: Counter[str]) -> Market | None:
        base = self._meta.get(ticker)
        if base is None:
            return None
        book = self.store.books.get(ticker)
        if book is None:
            market = base  # REST top of book only
        elif book.stale:
            return None  # never serve a book we know is wrong
        else:
            market = book.to_market(base)
            if ticker in self._bare:
                market = dataclasses.replace(market, price_ranges=_inferred_grid(book))
        return market_extras(market, event_market_count=counts.get(base.event_ticker))

    def list_markets(self) -> Iterator[Market]:
        """Yield every market seen so far, with full depth where a fresh book exists; stale books are left out."""
        counts = Counter(m.event_ticker for m in self._meta.values())
        for ticker in list(self._meta):
            m = self._market(ticker, counts)
            if m is not None and m.status not in ("finalized", "settled"):
                yield m

    def books(self, tickers: Sequence[str]) -> dict[str, Market]:
        """Return full-depth markets for tickers with a fresh book (others are left out)."""
        counts = Counter(m.event_ticker for m in self._meta.values())
        out: dict[str, Market] = {}
        for t in tickers:
            if t in self.store.books:
                m = self._market(t, counts)
                if m is not None:
                    out[t] = m
        return out

    def advance(self) -> SourceEvents:
        """Play the next slice (pacing it at ``speed``) and report its trades and settlements."""
        nxt = self._step + 1
        if self.speed > 0 and self._last_wall is not None and nxt < len(self._slice_t):
            target = (self._slice_t[nxt] - self._slice_t[nxt - 1]) / 1000.0 / self.speed
            spent = self._monotonic() - self._last_wall
            if target > spent:
                self._sleep(target - spent)
        self._step = nxt
        end = self._ends[self._step] if self._step < len(self._ends) else len(self.events)
        self._apply_until(end)
        self._last_wall = self._monotonic()
        trades, self._trades = tuple(self._trades), []
        settlements, self._settlements = tuple(self._settlements), []
        return SourceEvents(trades=trades, settlements=settlements, step=self._step, now_ms=self._now_ms)

    def advance_until(self, t_ms: int) -> SourceEvents:
        """Play every event recorded before ``t_ms`` (no pacing) and report its trades and settlements."""
        events = self.events
        end = self._pos
        while end < len(events) and events[end].t_ms < t_ms:
            end += 1
        self._apply_until(end)
        trades, self._trades = tuple(self._trades), []
        settlements, self._settlements = tuple(self._settlements), []
        return SourceEvents(trades=trades, settlements=settlements, step=self._step, now_ms=self._now_ms)

    @property
    def position(self) -> tuple[int, int]:
        """(events played, events recorded)."""
        return self._pos, len(self.events)

    def close(self) -> None:
        self.events = []

    def __repr__(self) -> str:
        return f"ReplaySource({self.describe()!r}, events={len(self.events)})"


class MergedReplaySource:
    """Several recordings played as one, merged by recorded time.

    Each file keeps its own :class:`ReplaySource` — its own connection, sids, sequence numbers
    and books, as each was recorded — and they advance together, one time slice of the merged
    clock per ``advance()`` (``slice_ms`` of recorded time; slices without an event in any file
    are skipped). A file's markets appear when its first event is played, never earlier.

    ``skip_unreadable`` keeps going without a file that cannot be read (``errors`` says which and
    why); otherwise the first unreadable file raises, as a single recording does. ``loader`` reads
    a file's events (a caller may share them: playing never changes them).
    """

    name = "replay"

    def __init__(
        self,
        paths: Sequence[str | Path],
        *,
        speed: float = 0.0,
        slice_ms: int = DEFAULT_SLICE_MS,
        step: int = 0,
        skip_unreadable: bool = False,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        loader: Callable[[Path], list[ReplayEvent]] = load_recording,
    ) -> None:
        if speed < 0 or slice_ms <= 0 or step < 0:
            raise UsageError("replay needs speed ≥ 0, slice_ms > 0 and step ≥ 0")
        self.paths = [Path(p) for p in paths]
        self.speed = speed
        self.slice_ms = slice_ms
        self.api_calls = 0
        self.children: list[ReplaySource] = []
        #: path → why it could not be read (with ``skip_unreadable``)
        self.errors: dict[str, str] = {}
        for p in self.paths:
            try:
                events = loader(p)
            except InputError as e:
                if not skip_unreadable:
                    raise
                self.errors[str(p)] = str(e)
                continue
            self.children.append(ReplaySource(p, slice_ms=slice_ms, prime=False, events=events))
        self._sleep = sleep
        self._monotonic = monotonic
        import heapq

        times = heapq.merge(*[[e.t_ms for e in c.events] for c in self.children])
        self._thresholds: list[int] = []
        t0: int | None = None
        for t in times:
            if t0 is None:
                t0 = t
                self._thresholds.append(t0 + slice_ms)
            elif t >= self._thresholds[-1]:
                self._thresholds.append(t0 + (t - t0) // slice_ms * slice_ms + slice_ms)
        self._t0 = t0 or 0
        self._step = 0
        self._now_ms = self._t0
        self._last_wall: float | None = monotonic()
        self._play(self._thresholds[0] if self._thresholds else 0)
        for _ in range(step):
            self._step += 1
            self._play(self._threshold(self._step))

    def _threshold(self, step: int) -> int:
        return self._thresholds[step] if step < len(self._thresholds) else 2**62

    def _play(self, until: int) -> SourceEvents:
        trades: list[Trade] = []
        settlements: list[Settlement] = []
        for c in self.children:
            ev = c.advance_until(until)
            trades += ev.trades
            settlements += ev.settlements
            if c.position[0]:
                self._now_ms = max(self._now_ms, c.now_ms())
        trades.sort(key=lambda t: t.ts_ms)
        return SourceEvents(trades=tuple(trades), settlements=tuple(settlements), step=self._step, now_ms=self._now_ms)

    @property
    def exhausted(self) -> bool:
        return all(c.exhausted for c in self.children)

    @property
    def steps(self) -> int:
        return max(0, len(self._thresholds) - 1)

    @property
    def snapshot_checks(self) -> int:
        return sum(c.snapshot_checks for c in self.children)

    @property
    def snapshot_mismatches(self) -> list[tuple[str, int]]:
        return [m for c in self.children for m in c.snapshot_mismatches]

    def describe(self) -> str:
        extra = f",slice_ms={self.slice_ms}" if self.slice_ms != DEFAULT_SLICE_MS else ""
        return f"replay:{','.join(str(p) for p in self.paths)},speed={self.speed:g},step={self._step}{extra}"

    def now_ms(self) -> int:
        return self._now_ms

    def list_markets(self) -> Iterator[Market]:
        for c in self.children:
            yield from c.list_markets()

    def books(self, tickers: Sequence[str]) -> dict[str, Market]:
        out: dict[str, Market] = {}
        for c in self.children:
            out.update(c.books([t for t in tickers if t not in out]))
        return out

    def advance(self) -> SourceEvents:
        """Play the next slice of the merged clock (pacing it at ``speed``)."""
        nxt = self._step + 1
        if self.speed > 0 and self._last_wall is not None and nxt < len(self._thresholds):
            target = (self._thresholds[nxt] - self._thresholds[nxt - 1]) / 1000.0 / self.speed
            spent = self._monotonic() - self._last_wall
            if target > spent:
                self._sleep(target - spent)
        self._step = nxt
        ev = self._play(self._threshold(nxt))
        self._last_wall = self._monotonic()
        return ev

    def close(self) -> None:
        for c in self.children:
            c.close()


def split_replay_spec(spec: str) -> tuple[list[str], list[str]]:
    """``replay:A,B,speed=1`` → (["A", "B"], ["speed=1"]): a part naming an existing file starts a new path."""
    body = spec[len("replay:") :] if spec.startswith("replay:") else spec
    paths: list[str] = []
    opts: list[str] = []
    for part in body.split(","):
        key, sep, _ = part.partition("=")
        if sep and key.strip() in ("speed", "step", "slice_ms"):
            opts.append(part)
        elif paths and not Path(part.strip()).is_file():
            paths[-1] += "," + part
        else:
            paths.append(part)
    return [p.strip() for p in paths if p.strip()], opts


def open_replay(spec: str, **kw: Any) -> ReplaySource | MergedReplaySource:
    """Open ``replay:PATH[,PATH…][,speed=N][,step=K][,slice_ms=M]``: one recording, or several merged by time.

    A comma-separated part that names an existing file starts a new recording; other parts
    belong to the path before them (a path may hold a comma).

    Raises:
        UsageError: malformed options. InputError: an unreadable recording.
    """
    paths, opts = split_replay_spec(spec)
    if len(paths) <= 1:
        return ReplaySource.from_spec(spec, **kw)
    parsed = parse_replay_options(",".join(opts))
    return MergedReplaySource(paths, **parsed, **kw)


def _conforms(source: ReplaySource, merged: MergedReplaySource) -> tuple[MarketSource, MarketSource]:
    return source, merged  # mypy checks the protocol here
