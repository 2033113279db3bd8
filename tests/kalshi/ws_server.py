"""A Kalshi-like WebSocket server on 127.0.0.1 for feed tests (in-process, real sockets).

It checks the signed upgrade headers (``GET/trade-api/ws/v2``), answers ``subscribe``,
``update_subscription`` (``get_snapshot``, ``add_markets``) and ``unsubscribe`` like Kalshi
(one ``subscribed`` per channel, per-sid ``seq`` on snapshots, deltas and ``ok`` replies),
keeps its own books (NO side in NO prices), and converts NO-side prices to YES-leg prices
for subscriptions that asked for ``use_yes_price`` (or when its default is flipped). Tests
push deltas, skip sequence numbers, and drop connections.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ed25519, padding
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from kalashi_cli.money import ONE_DOLLAR, Count, Price, fmt_count, fmt_price, parse_count, parse_price

WS_PATH = "/trade-api/ws/v2"


class Signal:
    """Wake waiters whenever something happened; ``wait_for`` re-checks a predicate, bounded."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        self._event.set()

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError("condition not reached in time")
            self._event.clear()
            if predicate():
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._event.wait(), remaining)


@dataclass
class Sub:
    sid: int
    channel: str
    tickers: list[str]
    use_yes_price: bool


@dataclass
class Conn:
    ws: ServerConnection
    subs: dict[int, Sub] = field(default_factory=dict)
    seq: dict[int, int] = field(default_factory=dict)
    next_sid: int = 1


class FakeKalshiWS:
    def __init__(
        self,
        *,
        public_keys: dict[str, Any] | None = None,
        default_use_yes_price: bool = False,
        refuse_get_snapshot: bool = False,
    ) -> None:
        self.public_keys = public_keys or {}
        self.default_use_yes_price = default_use_yes_price
        self.refuse_get_snapshot = refuse_get_snapshot
        self.books: dict[str, dict[str, dict[int, int]]] = {}
        self.conns: list[Conn] = []
        self.commands: list[dict[str, Any]] = []
        self.upgrades = 0
        self.rejected_upgrades = 0
        self.signal = Signal()
        #: When set, get_snapshot answers wait until ``release_resync`` is set (to observe staleness).
        self.hold_resync = False
        self.release_resync = asyncio.Event()
        self._server: Server | None = None
        self.port = 0

    # -- setup ---------------------------------------------------------------------------
    def set_book(self, ticker: str, yes: list[tuple[str, str]], no: list[tuple[str, str]]) -> None:
        self.books[ticker] = {
            "yes": {parse_price(p): parse_count(c) for p, c in yes},
            "no": {parse_price(p): parse_count(c) for p, c in no},
        }

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}{WS_PATH}"

    async def start(self) -> None:
        self._server = await serve(self._handler, "127.0.0.1", 0, process_request=self._check_auth, ping_interval=None)
        sock = next(iter(self._server.sockets))
        self.port = sock.getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    # -- auth ----------------------------------------------------------------------------
    def _check_auth(self, connection: ServerConnection, request: Request) -> Response | None:
        if not self.public_keys:
            return None
        h: Headers = request.headers
        key, ts, sig = h.get("KALSHI-ACCESS-KEY"), h.get("KALSHI-ACCESS-TIMESTAMP"), h.get("KALSHI-ACCESS-SIGNATURE")
        ok = False
        if key in self.public_keys and ts and sig and request.path.split("?")[0] == WS_PATH:
            pub = self.public_keys[key]
            msg = f"{ts}GET{WS_PATH}".encode()
            try:
                raw = base64.b64decode(sig)
                if isinstance(pub, ed25519.Ed25519PublicKey):
                    pub.verify(raw, msg)
                else:
                    pub.verify(
                        raw, msg, padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32), hashes.SHA256()
                    )
                ok = True
            except (InvalidSignature, ValueError):
                ok = False
        if not ok:
            self.rejected_upgrades += 1
            return connection.respond(401, "authentication_error\n")
        return None

    # -- protocol ------------------------------------------------------------------------
    async def _send(self, conn: Conn, frame: dict[str, Any]) -> None:
        await conn.ws.send(orjson.dumps(frame).decode())

    def _next_seq(self, conn: Conn, sid: int, skip: int = 0) -> int:
        conn.seq[sid] = conn.seq.get(sid, 0) + 1 + skip
        return conn.seq[sid]

    def _levels(self, ticker: str, side: str, yes_pricing: bool) -> list[list[str]]:
        levels = self.books[ticker][side]
        out = []
        for p in sorted(levels):
            shown = ONE_DOLLAR - p if (side == "no" and yes_pricing) else p
            out.append([fmt_price(Price(shown)), fmt_count(Count(levels[p]))])
        return out

    async def _snapshot(self, conn: Conn, sub: Sub, ticker: str) -> None:
        msg: dict[str, Any] = {"market_ticker": ticker, "market_id": "id-" + ticker}
        if ticker in self.books:
            for side in ("yes", "no"):
                lv = self._levels(ticker, side, sub.use_yes_price)
                if lv:  # Kalshi omits an empty side's key
                    msg[f"{side}_dollars_fp"] = lv
        await self._send(
            conn, {"type": "orderbook_snapshot", "sid": sub.sid, "seq": self._next_seq(conn, sub.sid), "msg": msg}
        )

    async def _handler(self, ws: ServerConnection) -> None:
        conn = Conn(ws)
        self.conns.append(conn)
        self.upgrades += 1
        self.signal.notify()
        try:
            async for raw in ws:
                cmd = orjson.loads(raw)
                self.commands.append(cmd)
                await self._command(conn, cmd)
                self.signal.notify()
        except Exception:  # a dropped connection ends the handler quietly
            pass
        finally:
            if conn in self.conns:
                self.conns.remove(conn)
            self.signal.notify()

    async def _command(self, conn: Conn, cmd: dict[str, Any]) -> None:
        cid, name, params = cmd.get("id"), cmd.get("cmd"), cmd.get("params") or {}
        if name == "subscribe":
            for channel in params.get("channels", []):
                sid = conn.next_sid
                conn.next_sid += 1
                tickers = list(
                    params.get("market_tickers") or ([params["market_ticker"]] if "market_ticker" in params else [])
                )
                use_yes = bool(params.get("use_yes_price", self.default_use_yes_price))
                sub = Sub(sid, channel, tickers, use_yes)
                conn.subs[sid] = sub
                await self._send(conn, {"id": cid, "type": "subscribed", "msg": {"channel": channel, "sid": sid}})
                if channel == "orderbook_delta":
                    for t in tickers:
                        await self._snapshot(conn, sub, t)
            return
        if name == "update_subscription":
            sids = params.get("sids") or ([params["sid"]] if "sid" in params else [])
            if len(sids) != 1 or sids[0] not in conn.subs:
                await self._send(conn, {"id": cid, "type": "error", "msg": {"code": 12, "msg": "exactly one sid"}})
                return
            sub = conn.subs[sids[0]]
            action = params.get("action")
            tickers = list(params.get("market_tickers") or [])
            if action == "get_snapshot" and self.refuse_get_snapshot:
                await self._send(conn, {"id": cid, "type": "error", "msg": {"code": 13, "msg": "unsupported"}})
                return
            if action == "get_snapshot" and self.hold_resync:
                self.signal.notify()
                await self.release_resync.wait()
            if action == "add_markets":
                sub.tickers.extend(t for t in tickers if t not in sub.tickers)
            await self._send(
                conn,
                {
                    "id": cid,
                    "sid": sub.sid,
                    "seq": self._next_seq(conn, sub.sid),
                    "type": "ok",
                    "msg": {"market_tickers": sorted(sub.tickers)},
                },
            )
            if sub.channel == "orderbook_delta" and action in ("get_snapshot", "add_markets"):
                for t in tickers:
                    await self._snapshot(conn, sub, t)
            return
        await self._send(conn, {"id": cid, "type": "error", "msg": {"code": 5, "msg": "Unknown command"}})

    # -- test controls -------------------------------------------------------------------
    async def push_delta(self, ticker: str, side: str, price: str, delta: str, *, skip_seq: int = 0) -> None:
        """Change the server book (NO side in NO prices) and tell every subscriber."""
        p, d = parse_price(price), parse_count(delta)
        levels = self.books[ticker][side]
        levels[p] = levels.get(p, 0) + d
        if levels[p] <= 0:
            del levels[p]
        for conn in list(self.conns):
            for sub in conn.subs.values():
                if sub.channel == "orderbook_delta" and ticker in sub.tickers:
                    shown = ONE_DOLLAR - p if (side == "no" and sub.use_yes_price) else p
                    await self._send(
                        conn,
                        {
                            "type": "orderbook_delta",
                            "sid": sub.sid,
                            "seq": self._next_seq(conn, sub.sid, skip_seq),
                            "msg": {
                                "market_ticker": ticker,
                                "market_id": "id-" + ticker,
                                "price_dollars": fmt_price(Price(shown)),
                                "delta_fp": delta,
                                "side": side,
                                "ts_ms": 1,
                            },
                        },
                    )

    async def push(self, channel: str, frame_type: str, msg: dict[str, Any]) -> None:
        """Send an unsequenced message (ticker, trade, lifecycle, fill…) to that channel's subscribers."""
        for conn in list(self.conns):
            for sub in conn.subs.values():
                if sub.channel == channel:
                    await self._send(conn, {"type": frame_type, "sid": sub.sid, "msg": msg})

    async def drop_all(self) -> None:
        """Abort every connection (as a network failure or a maintenance restart would)."""
        for conn in list(self.conns):
            conn.ws.transport.abort()


@contextlib.asynccontextmanager
async def running_ws_server(**kw: Any) -> AsyncIterator[FakeKalshiWS]:
    server = FakeKalshiWS(**kw)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
