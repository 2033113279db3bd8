"""Record Kalshi market data to JSON Lines for ``replay:PATH`` (format: docs/recording-format.md).

One envelope per line, in the order things happened::

    {"t_ms": …, "src": "meta", "format": "kalashi-recording", "version": 1, …}
    {"t_ms": …, "src": "rest", "endpoint": "GET /markets", "path": "/markets", "params": {…}, "body": {…}}
    {"t_ms": …, "src": "mark", "snapshot": 1}             # start of a periodic REST snapshot
    {"t_ms": …, "src": "ws", "frame": {…}}                # one Kalshi WebSocket frame, verbatim
    {"t_ms": …, "src": "end", "rest_calls": …, "ws_frames": …}

``record`` captures series, events, markets and batched orderbooks for the chosen markets
(by ticker, event or series), then — when credentials are available — every WebSocket frame
of ``orderbook_delta``, ``ticker``, ``trade`` and ``market_lifecycle_v2`` with its receive
time, optionally with periodic REST snapshots, and finally the markets again (their status
and ``result`` become settlements on replay). It never prints: progress goes to the
``on_progress`` callback.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import httpx
import orjson

from ..errors import ConsentError, UsageError
from .auth import KalshiAuth, try_load_credentials
from .env import KalshiEnv, check_key_environment, custom_env, env_named, signing_allowed, signing_refusal_hint
from .rest import EVENTS_PAGE_MAX, MARKETS_PAGE_MAX, ORDERBOOKS_BATCH_MAX, KalshiClient

FORMAT = "kalashi-recording"
VERSION = 1


@dataclass(frozen=True, slots=True)
class RecordOptions:
    """What to record, from where and for how long: what the recording's ``meta`` line describes, plus its limits.

    Markets are those named by ``tickers``, the open markets of ``events`` and of ``series``.
    The WebSocket phase (``ws_url``, with credentials) lasts ``duration_s`` seconds, or until
    ``max_frames`` frames; without WebSocket access, ``snapshot_every_s`` repeats REST snapshots
    for ``duration_s`` instead. ``feed_options`` go to :class:`~kalashi_cli.kalshi.ws.KalshiFeed`;
    ``env_name`` names the environment in the ``meta`` line.
    """

    tickers: Sequence[str] = ()
    events: Sequence[str] = ()
    series: Sequence[str] = ()
    duration_s: float = 60.0
    ws_url: str | None = None
    snapshot_every_s: float | None = None
    max_frames: int | None = None
    max_markets: int = 2000
    feed_options: Mapping[str, Any] | None = None
    env_name: str = ""


@dataclass(frozen=True, slots=True)
class RecordProgress:
    """Where a recording is: ``phase`` ∈ rest, ws, snapshot, final, done."""

    phase: str
    elapsed_s: float
    duration_s: float
    markets: int
    rest_calls: int
    ws_frames: int


@dataclass(frozen=True, slots=True)
class RecordSummary:
    path: str
    markets: tuple[str, ...]
    rest_calls: int
    ws_frames: int
    started_ms: int
    ended_ms: int


class _Writer:
    def __init__(self, out: IO[bytes], clock_ms: Callable[[], int]) -> None:
        self.out = out
        self.clock_ms = clock_ms
        self.rest_calls = 0
        self.ws_frames = 0

    def write(self, envelope: dict[str, Any]) -> None:
        self.out.write(orjson.dumps(envelope) + b"\n")

    def ws(self, t_ms: int, raw: str | bytes) -> None:
        try:
            frame = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return
        self.ws_frames += 1
        self.write({"t_ms": t_ms, "src": "ws", "frame": frame})


class _Recorder:
    def __init__(self, client: KalshiClient, writer: _Writer) -> None:
        self.client = client
        self.w = writer

    async def get(self, path: str, params: Mapping[str, Any] | None = None, endpoint: str | None = None) -> Any:
        body = await self.client.get(path, params, endpoint=endpoint)
        self.w.rest_calls += 1
        clean = {k: v for k, v in (params or {}).items() if v is not None}
        self.w.write(
            {
                "t_ms": self.w.clock_ms(),
                "src": "rest",
                "endpoint": endpoint or f"GET {path}",
                "path": path,
                "params": clean,
                "body": body,
            }
        )
        return body

    async def markets(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            body = await self.get("/markets", {**params, "limit": MARKETS_PAGE_MAX, "cursor": cursor})
            out.extend(m for m in body.get("markets") or () if isinstance(m, dict))
            cursor = body.get("cursor") or None
            if not cursor:
                return out

    async def markets_by_ticker(self, tickers: Sequence[str]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for i in range(0, len(tickers), ORDERBOOKS_BATCH_MAX):
            chunk = list(tickers[i : i + ORDERBOOKS_BATCH_MAX])
            out += await self.markets({"tickers": ",".join(chunk)})
        return out

    async def orderbooks(self, tickers: Sequence[str]) -> None:
        for i in range(0, len(tickers), ORDERBOOKS_BATCH_MAX):
            await self.get("/markets/orderbooks", {"tickers": list(tickers[i : i + ORDERBOOKS_BATCH_MAX])})

    async def select(
        self, tickers: Sequence[str], events: Sequence[str], series: Sequence[str], max_markets: int
    ) -> list[str]:
        """Record the REST snapshot of what is selected (series, events, markets, books); return the tickers.

        Raises:
            UsageError: more than ``max_markets`` markets.
        """
        raw_markets: dict[str, dict[str, Any]] = {}
        for s in series:
            await self.get(f"/series/{s}", endpoint="GET /series/{series_ticker}")
            for m in await self.markets({"series_ticker": s, "status": "open"}):
                raw_markets.setdefault(m["ticker"], m)
        for e in events:
            for m in await self.markets({"event_ticker": e}):
                raw_markets.setdefault(m["ticker"], m)
        if tickers:
            for m in await self.markets_by_ticker(list(dict.fromkeys(tickers))):
                raw_markets.setdefault(m["ticker"], m)
        selected = list(raw_markets)
        if len(selected) > max_markets:
            raise UsageError(
                f"{len(selected)} markets selected; the limit is {max_markets}",
                hint="narrow the selection or raise max_markets",
            )
        event_tickers = sorted({m.get("event_ticker", "") for m in raw_markets.values()} - {""})
        known_series = set(series)
        for i in range(0, len(event_tickers), EVENTS_PAGE_MAX):
            chunk = event_tickers[i : i + EVENTS_PAGE_MAX]
            body = await self.get("/events", {"tickers": ",".join(chunk), "limit": EVENTS_PAGE_MAX})
            for ev in body.get("events") or ():
                st = ev.get("series_ticker") if isinstance(ev, dict) else None
                if isinstance(st, str) and st and st not in known_series:
                    known_series.add(st)
                    await self.get(f"/series/{st}", endpoint="GET /series/{series_ticker}")
        await self.orderbooks(selected)
        return selected


async def _live(
    rec: _Recorder,
    w: _Writer,
    selected: list[str],
    opts: RecordOptions,
    *,
    clock: Callable[[], int],
    auth: KalshiAuth | None,
    stop: asyncio.Event | None,
    progress: Callable[[str], None],
) -> None:
    """The live phase: WebSocket frames (with ``opts.ws_url`` + ``auth``) and/or periodic REST snapshots,
    for ``opts.duration_s`` or until ``opts.max_frames`` frames, ``stop``, or the feed's failure (raised)."""
    loop = asyncio.get_running_loop()
    done = stop or asyncio.Event()
    snapshots = 0

    async def periodic() -> None:
        nonlocal snapshots
        if not opts.snapshot_every_s:
            return
        while not done.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), opts.snapshot_every_s)
                return
            snapshots += 1
            w.write({"t_ms": clock(), "src": "mark", "snapshot": snapshots})
            await rec.markets_by_ticker(selected)
            await rec.orderbooks(selected)
            progress("snapshot")

    feed = None
    feed_task = None
    if opts.ws_url and auth is not None and selected:
        from .ws import KalshiFeed

        last_report = [loop.time()]

        def on_raw(t_ms: int, raw: str | bytes) -> None:
            w.ws(t_ms, raw)
            if opts.max_frames is not None and w.ws_frames >= opts.max_frames:
                done.set()
            if loop.time() - last_report[0] >= 1.0:
                last_report[0] = loop.time()
                progress("ws")

        def on_connect(n: int) -> None:
            if n > 1:  # a reconnect: sids and sequence numbers start over (replay resets books)
                w.write({"t_ms": clock(), "src": "reset"})

        feed = KalshiFeed(
            opts.ws_url,
            auth=auth,
            tickers=selected,
            on_raw=on_raw,
            on_connect=on_connect,
            private=False,
            clock_ms=clock,
            **(opts.feed_options or {}),
        )
        feed_task = asyncio.create_task(feed.run())
    periodic_task = asyncio.create_task(periodic())
    if feed_task is not None or opts.snapshot_every_s:
        waiters: list[asyncio.Future[Any]] = [asyncio.ensure_future(done.wait())]
        if feed_task is not None:
            waiters.append(feed_task)  # a feed that dies (auth) ends the recording with its error
        await asyncio.wait(waiters, timeout=opts.duration_s, return_when=asyncio.FIRST_COMPLETED)
        done.set()
        for fut in waiters:
            if fut is not feed_task and not fut.done():
                fut.cancel()
    done.set()
    await periodic_task
    if feed is not None and feed_task is not None:
        await feed.stop()
        try:
            await asyncio.wait_for(feed_task, 5)
        except TimeoutError:
            feed_task.cancel()


async def record_async(
    client: KalshiClient,
    out: str | Path | IO[bytes],
    options: RecordOptions,
    *,
    auth: KalshiAuth | None = None,
    on_progress: Callable[[RecordProgress], None] | None = None,
    clock_ms: Callable[[], int] | None = None,
    stop: asyncio.Event | None = None,
) -> RecordSummary:
    """Record REST snapshots and (with ``options.ws_url`` + ``auth``) WebSocket frames to ``out``.

    What is recorded and for how long is ``options`` (:class:`RecordOptions`); the live phase
    also ends early when ``stop`` is set. ``clock_ms`` stamps every line (default: wall time).

    Raises:
        UsageError: nothing selected, or more than ``options.max_markets`` markets.
        ExchangeError, NetworkError: from the REST calls.
    """
    tickers, events, series = options.tickers, options.events, options.series
    if not (tickers or events or series):
        raise UsageError("choose what to record", hint="give market tickers, event tickers or series tickers")
    clock = clock_ms or (lambda: time.time_ns() // 1_000_000)
    own = not hasattr(out, "write")
    if own:
        from ..files import open_private

        fh: IO[bytes] = open_private(Path(out))  # type: ignore[arg-type]
    else:
        fh = out  # type: ignore[assignment]
    started = clock()
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    w = _Writer(fh, clock)
    rec = _Recorder(client, w)
    selected: list[str] = []

    def progress(phase: str) -> None:
        if on_progress is not None:
            on_progress(
                RecordProgress(phase, loop.time() - t0, options.duration_s, len(selected), w.rest_calls, w.ws_frames)
            )

    try:
        w.write(
            {
                "t_ms": started,
                "src": "meta",
                "format": FORMAT,
                "version": VERSION,
                "env": options.env_name,
                "rest_url": client.base_url,
                "ws_url": options.ws_url,
                "tickers": list(tickers),
                "events": list(events),
                "series": list(series),
            }
        )
        selected.extend(await rec.select(tickers, events, series, options.max_markets))
        progress("rest")

        await _live(rec, w, selected, options, clock=clock, auth=auth, stop=stop, progress=progress)
        progress("final")
        await rec.markets_by_ticker(selected)
        ended = clock()
        w.write({"t_ms": ended, "src": "end", "rest_calls": w.rest_calls, "ws_frames": w.ws_frames})
        progress("done")
        return RecordSummary(
            str(out) if own else getattr(fh, "name", ""), tuple(selected), w.rest_calls, w.ws_frames, started, ended
        )
    finally:
        if own:
            fh.close()
        else:
            fh.flush()


def record(
    out: str | Path,
    *,
    source: str = "kalshi",
    tickers: Sequence[str] = (),
    events: Sequence[str] = (),
    series: Sequence[str] = (),
    duration_s: float = 60.0,
    snapshot_every_s: float | None = None,
    max_frames: int | None = None,
    on_progress: Callable[[RecordProgress], None] | None = None,
    environ: Mapping[str, str] | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> RecordSummary:
    """Record from ``kalshi``, ``kalshi-demo`` or ``kalshi:URL`` (synchronous wrapper).

    Credentials (``KALSHI_API_KEY_ID``/``KALSHI_PRIVATE_KEY_PATH``) enable the WebSocket
    phase; without them only REST snapshots are taken (use ``snapshot_every_s``).

    Raises:
        UsageError, AuthError, ExchangeError, NetworkError.
    """
    target: KalshiEnv = custom_env(source[len("kalshi:") :]) if source.startswith("kalshi:") else env_named(source)
    creds = try_load_credentials(environ if environ is not None else os.environ)
    if creds is not None:
        check_key_environment(creds, target)
        if not signing_allowed(creds, target):
            # the WebSocket phase needs a signed session: refuse rather than record less than asked
            raise ConsentError(
                f"recording from {target.rest_url} needs the WebSocket, which needs a signed "
                "session, and this API key is not declared for that server",
                hint=signing_refusal_hint(creds, target),
            )
    auth = KalshiAuth(creds) if creds is not None else None

    async def go() -> RecordSummary:
        async with KalshiClient(target.rest_url, auth=auth, transport=transport) as client:
            options = RecordOptions(
                tickers=tickers,
                events=events,
                series=series,
                duration_s=duration_s,
                ws_url=target.ws_url if auth else None,
                snapshot_every_s=snapshot_every_s,
                max_frames=max_frames,
                env_name=target.name,
            )
            return await record_async(client, out, options, auth=auth, on_progress=on_progress)

    return asyncio.run(go())
