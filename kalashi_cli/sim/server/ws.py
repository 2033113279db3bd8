"""The WebSocket API at ``/trade-api/ws/v2`` (REFERENCE §10): commands, channels, sequence numbers.

:class:`Hub` turns matching-engine events into Kalshi messages for every connection that
subscribed to them:

===========================  ==================================  ==========================
engine event                 message ``type``                    channel
===========================  ==================================  ==========================
BookDelta                    ``orderbook_delta`` (``seq``)        ``orderbook_delta``
(subscribe / get_snapshot)   ``orderbook_snapshot`` (``seq``)     ``orderbook_delta``
top of book, last, volume    ``ticker``                          ``ticker``
TradePrinted                 ``trade``                           ``trade``
FillEvent                    ``fill``                            ``fill`` (own account)
OrderUpdated                 ``user_order``                      ``user_orders`` (own)
PositionChanged              ``market_position``                 ``market_positions`` (own)
MarketStatus, new markets    ``market_lifecycle_v2``             ``market_lifecycle_v2``
===========================  ==================================  ==========================

``seq`` counts per subscription (``sid``) over snapshots, deltas and the ``ok`` /
``unsubscribed`` replies of that sid, as the real captures show. NO-side book levels are in
NO-leg prices unless the subscription asked for ``use_yes_price: true``. Messages are queued per
connection in the order the engine produced them; one writer task per connection sends them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

import orjson

from ...domain import ExchangeFill, ExchangeOrder, Market, MarketPosition, OrderIntent, Trade
from ...money import ONE_DOLLAR, Price, fmt_count, fmt_price
from ..matching import BookDelta, MarketStatus
from . import serialize as ser
from .catalog import MarketRecord, user_uuid
from .core import ExchangeCore

log = logging.getLogger("kalashi.sim_exchange.ws")

WS_PATH = "/trade-api/ws/v2"
CHANNELS = ("orderbook_delta", "ticker", "trade", "fill", "user_orders", "market_positions", "market_lifecycle_v2")
PRIVATE = ("fill", "user_orders", "market_positions")
NEEDS_TICKERS = ("orderbook_delta",)
MAX_QUEUE = 100_000  # queued frames per connection before Kalshi's "buffer overflow" (error 25)

Json = dict[str, Any]


def error_frame(cid: Any, code: int, text: str, **extra: str) -> Json:
    msg: Json = {"code": code, "msg": text, **extra}
    out: Json = {"type": "error", "msg": msg}
    if isinstance(cid, int):
        out["id"] = cid
    return out


class Sub:
    """One subscription: a channel, its market filter (None = all markets) and its seq counter."""

    __slots__ = ("sid", "channel", "tickers", "use_yes_price", "seq")

    def __init__(self, sid: int, channel: str, tickers: set[str] | None, use_yes_price: bool) -> None:
        self.sid = sid
        self.channel = channel
        self.tickers = tickers
        self.use_yes_price = use_yes_price
        self.seq = 0

    def wants(self, ticker: str) -> bool:
        return self.tickers is None or ticker in self.tickers


class Conn:
    """One WebSocket connection of one account: its subscriptions and its outgoing queue."""

    def __init__(self, account: str, hub: Hub) -> None:
        self.account = account
        self.hub = hub
        self.queue: asyncio.Queue[str | None] = asyncio.Queue()
        self.subs: dict[int, Sub] = {}
        self.next_sid = 1
        self.sent = 0
        self.closed = False

    def push(self, frame: Json) -> None:
        """Queue one frame (a full queue ends the connection with error 25, as Kalshi does)."""
        if self.closed:
            return
        if self.queue.qsize() >= MAX_QUEUE:
            self.closed = True
            while not self.queue.empty():
                self.queue.get_nowait()
            self.queue.put_nowait(orjson.dumps(error_frame(None, 25, "Subscription buffer overflow")).decode())
            self.queue.put_nowait(None)
            return
        self.queue.put_nowait(orjson.dumps(frame).decode())

    def close(self) -> None:
        """Ask the writer to close the connection after what is queued."""
        if not self.closed:
            self.closed = True
            self.queue.put_nowait(None)

    def next_seq(self, sub: Sub, *, data: bool = False) -> int:
        sub.seq += 1
        if data and self.hub.faults_gap():
            sub.seq += 1  # an injected sequence gap: this message claims to follow a lost one
        return sub.seq


class Hub:
    """Every live connection, and the routing of engine events to their subscriptions."""

    def __init__(self, exchange: ExchangeCore) -> None:
        self.x = exchange
        self.conns: set[Conn] = set()
        self._by_channel: dict[str, list[tuple[Conn, Sub]]] = {}
        self._dirty: set[str] = set()
        self._last_ticker: dict[str, tuple[Any, ...]] = {}
        self._status: dict[str, str] = {}

    # ------------------------------------------------------------------ bookkeeping
    @property
    def active(self) -> bool:
        return bool(self.conns)

    def connection_count(self) -> int:
        return len(self.conns)

    def faults_gap(self) -> bool:
        return self.x.faults.ws_gap()

    def add(self, conn: Conn) -> None:
        self.conns.add(conn)

    def remove(self, conn: Conn) -> None:
        self.conns.discard(conn)
        conn.closed = True
        self._reindex()

    def _reindex(self) -> None:
        idx: dict[str, list[tuple[Conn, Sub]]] = {}
        for c in self.conns:
            for s in c.subs.values():
                idx.setdefault(s.channel, []).append((c, s))
        self._by_channel = idx

    def disconnect_all(self) -> int:
        """Close every connection (a control-endpoint fault); return how many."""
        n = 0
        for c in list(self.conns):
            if not c.closed:
                c.close()
                n += 1
        return n

    # ------------------------------------------------------------------ engine events
    def book_delta(self, ev: BookDelta, cause: tuple[str, str] | None = None) -> None:
        """An ``orderbook_delta`` to every subscriber of the market; ``cause`` is the (account,
        client_order_id) whose order made the change, which that account's messages carry."""
        if "ticker" in self._by_channel:
            self._dirty.add(ev.ticker)
        subs = self._by_channel.get("orderbook_delta")
        if not subs:
            return
        rec = self.x.driver.markets.get(ev.ticker)
        market_id = rec.market_id if rec else ""
        for conn, sub in subs:
            if not sub.wants(ev.ticker):
                continue
            price = ONE_DOLLAR - ev.price if (ev.side == "no" and sub.use_yes_price) else ev.price
            msg: Json = {
                "market_ticker": ev.ticker,
                "market_id": market_id,
                "price_dollars": fmt_price(Price(price)),
                "delta_fp": fmt_count(ev.delta),
                "side": ev.side,
                "ts_ms": ev.ts_ms,
            }
            if cause is not None and cause[1] and conn.account == cause[0]:
                msg["client_order_id"] = cause[1]
                msg["subaccount"] = 0
            conn.push({"type": "orderbook_delta", "sid": sub.sid, "seq": conn.next_seq(sub, data=True), "msg": msg})

    def _private(self, channel: str, account: str, ticker: str, kind: str, msg: Json) -> None:
        for conn, sub in self._by_channel.get(channel, ()):
            if conn.account == account and sub.wants(ticker):
                conn.push({"type": kind, "sid": sub.sid, "msg": msg})

    def user_order(self, account: str, order: ExchangeOrder, intent: OrderIntent | None, ts_ms: int) -> None:
        if "user_orders" in self._by_channel:
            self._private(
                "user_orders",
                account,
                order.ticker,
                "user_order",
                ser.ws_user_order(
                    self.x.public_order(order), user_id=user_uuid(account), intent=intent, updated_ms=ts_ms
                ),
            )

    def fill(self, account: str, fill: ExchangeFill, post_position: int) -> None:
        if "fill" in self._by_channel:
            self._private(
                "fill", account, fill.ticker, "fill", ser.ws_fill(self.x.public_fill(fill), post_position=post_position)
            )

    def market_position(self, account: str, pos: MarketPosition, volume: int) -> None:
        if "market_positions" in self._by_channel:
            self._private(
                "market_positions",
                account,
                pos.ticker,
                "market_position",
                ser.ws_market_position(pos, user_id=user_uuid(account), volume=volume),
            )

    def trade(self, t: Trade) -> None:
        if "ticker" in self._by_channel:
            self._dirty.add(t.ticker)
        subs = self._by_channel.get("trade")
        if not subs:
            return
        msg = ser.ws_trade(t)
        for conn, sub in subs:
            if sub.wants(t.ticker):
                conn.push({"type": "trade", "sid": sub.sid, "msg": msg})

    def lifecycle(self, ev: MarketStatus) -> None:
        old = self._status.get(ev.ticker)
        self._status[ev.ticker] = ev.status
        if ev.status == "finalized":
            self._status.pop(ev.ticker, None)
        if "ticker" in self._by_channel:
            self._dirty.add(ev.ticker)
        subs = self._by_channel.get("market_lifecycle_v2")
        if not subs:
            return
        s = ev.ts_ms // 1000
        msgs: list[Json] = []
        if ev.status == "inactive":
            msgs.append({"event_type": "deactivated", "market_ticker": ev.ticker, "is_deactivated": True})
        elif ev.status == "active" and old == "inactive":
            msgs.append({"event_type": "activated", "market_ticker": ev.ticker, "is_deactivated": False})
        elif ev.status == "finalized" and ev.result:
            determined: Json = {
                "event_type": "determined",
                "market_ticker": ev.ticker,
                "result": ev.result,
                "determination_ts": s,
            }
            if ev.value is not None:
                determined["settlement_value"] = fmt_price(ev.value)
            msgs.append(determined)
            msgs.append({"event_type": "settled", "market_ticker": ev.ticker, "settled_ts": s})
        # initialized → active and → closed are time-based on Kalshi and emit nothing
        for msg in msgs:
            for conn, sub in subs:
                conn.push({"type": "market_lifecycle_v2", "sid": sub.sid, "msg": msg})

    def created(self, rec: MarketRecord) -> None:
        """A market appeared (a new event generation): ``created`` on the lifecycle channel."""
        self._status[rec.ticker] = self.x.engine.market_status(rec.ticker)
        subs = self._by_channel.get("market_lifecycle_v2")
        if not subs:
            return
        m = rec.market
        meta: Json = {
            "name": m.title,
            "title": m.title,
            "yes_sub_title": rec.subtitle,
            "no_sub_title": rec.subtitle,
            "rules_primary": "",
            "rules_secondary": "",
            "can_close_early": False,
            "event_ticker": rec.event_ticker,
            "expected_expiration_ts": rec.close_ms // 1000,
        }
        if m.strike_type:
            meta["strike_type"] = m.strike_type
        msg: Json = {
            "event_type": "created",
            "market_ticker": rec.ticker,
            "exchange_index": 0,
            "open_ts": rec.open_ms // 1000,
            "close_ts": rec.close_ms // 1000,
            "price_level_structure": rec.price_level_structure,
            "price_ranges": [b.to_wire() for b in m.price_ranges],
            "additional_metadata": meta,
        }
        for conn, sub in subs:
            conn.push({"type": "market_lifecycle_v2", "sid": sub.sid, "msg": msg})

    def flush(self) -> None:
        """Send ``ticker`` messages for markets whose top of book, last trade or volume changed."""
        if not self._dirty:
            return
        dirty, self._dirty = self._dirty, set()
        subs = self._by_channel.get("ticker")
        if not subs:
            return
        now = self.x.now_ms()
        for t in dirty:
            targets = [(c, s) for c, s in subs if s.wants(t)]
            rec = self.x.driver.markets.get(t)
            if not targets or rec is None or not self.x.engine.has_market(t):
                continue
            msg = ser.ws_ticker(rec, self.x.book(t), ts_ms=now)
            key = tuple(v for k, v in msg.items() if k not in ("ts", "ts_ms", "time"))
            if self._last_ticker.get(t) == key:
                continue
            self._last_ticker[t] = key
            for conn, sub in targets:
                conn.push({"type": "ticker", "sid": sub.sid, "msg": msg})

    # ------------------------------------------------------------------ commands
    def _snapshot(self, conn: Conn, sub: Sub, tickers: Sequence[str]) -> None:
        for t in tickers:
            rec = self.x.driver.markets.get(t)
            if rec is None or not self.x.engine.has_market(t):
                continue
            book: Market = self.x.book(t)
            msg: Json = {"market_ticker": t, "market_id": rec.market_id}
            if book.yes_bids:
                msg["yes_dollars_fp"] = ser.ws_levels(book.yes_bids)
            if book.no_bids:
                if sub.use_yes_price:  # NO bids re-priced on the YES leg, ascending
                    msg["no_dollars_fp"] = [
                        [fmt_price(Price(ONE_DOLLAR - q)), fmt_count(n)] for q, n in sorted(book.no_bids, reverse=True)
                    ]
                else:
                    msg["no_dollars_fp"] = ser.ws_levels(book.no_bids)
            conn.push({"type": "orderbook_snapshot", "sid": sub.sid, "seq": conn.next_seq(sub, data=True), "msg": msg})

    def _initial_tickers(self, conn: Conn, sub: Sub, tickers: Sequence[str]) -> None:
        now = self.x.now_ms()
        for t in tickers:
            rec = self.x.driver.markets.get(t)
            if rec is not None and self.x.engine.has_market(t):
                conn.push({"type": "ticker", "sid": sub.sid, "msg": ser.ws_ticker(rec, self.x.book(t), ts_ms=now)})

    def command(self, conn: Conn, text: str | bytes) -> None:
        """Handle one client command; replies and data go to the connection's queue."""
        try:
            frame = orjson.loads(text)
        except orjson.JSONDecodeError:
            conn.push(error_frame(None, 1, "Unable to process message"))
            return
        if not isinstance(frame, dict):
            conn.push(error_frame(None, 1, "Unable to process message"))
            return
        cid = frame.get("id")
        cmd = frame.get("cmd")
        params = frame.get("params")
        if cmd == "list_subscriptions":
            conn.push(
                {"id": cid, "type": "ok", "msg": [{"channel": s.channel, "sid": s.sid} for s in conn.subs.values()]}
            )
            return
        if cmd not in ("subscribe", "unsubscribe", "update_subscription"):
            conn.push(error_frame(cid, 5, "Unknown command"))
            return
        if not isinstance(params, dict):
            conn.push(error_frame(cid, 2, "Params required"))
            return
        if cmd == "subscribe":
            self._subscribe(conn, cid, params)
        elif cmd == "unsubscribe":
            self._unsubscribe(conn, cid, params)
        else:
            self._update(conn, cid, params)
        self._reindex()

    @staticmethod
    def _tickers(params: Json) -> list[str] | None:
        many = params.get("market_tickers")
        if isinstance(many, list):
            return [t for t in many if isinstance(t, str) and t]
        one = params.get("market_ticker")
        if isinstance(one, str) and one:
            return [one]
        return None

    def _subscribe(self, conn: Conn, cid: Any, params: Json) -> None:
        channels = params.get("channels")
        if not isinstance(channels, list) or not channels:
            conn.push(error_frame(cid, 3, "Channels required"))
            return
        tickers = self._tickers(params)
        use_yes = params.get("use_yes_price") is True
        for ch in channels:
            if ch not in CHANNELS:
                conn.push(error_frame(cid, 8, f"Unknown channel name (not simulated): {ch}"))
                continue
            if ch in NEEDS_TICKERS and not tickers:
                conn.push(error_frame(cid, 14, "Market Ticker required"))
                continue
            want = None if ch == "market_lifecycle_v2" or not tickers else set(tickers)
            existing = next((s for s in conn.subs.values() if s.channel == ch), None)
            if existing is not None:
                # re-subscribing is idempotent: new markets are added to the subscription
                new = [] if want is None or existing.tickers is None else [t for t in want if t not in existing.tickers]
                if existing.tickers is not None:
                    if want is None:
                        existing.tickers = None
                    else:
                        existing.tickers |= want
                conn.push({"id": cid, "type": "subscribed", "msg": {"channel": ch, "sid": existing.sid}})
                if ch == "orderbook_delta":
                    self._snapshot(conn, existing, [t for t in tickers or () if t in new])
                continue
            sub = Sub(conn.next_sid, ch, want, use_yes)
            conn.next_sid += 1
            conn.subs[sub.sid] = sub
            conn.push({"id": cid, "type": "subscribed", "msg": {"channel": ch, "sid": sub.sid}})
            if ch == "orderbook_delta":
                self._snapshot(conn, sub, list(dict.fromkeys(tickers or ())))
            elif ch == "ticker" and tickers and params.get("send_initial_snapshot") is True:
                self._initial_tickers(conn, sub, list(dict.fromkeys(tickers)))

    def _unsubscribe(self, conn: Conn, cid: Any, params: Json) -> None:
        sids = params.get("sids")
        if not isinstance(sids, list) or not sids:
            conn.push(error_frame(cid, 4, "Subscription IDs required"))
            return
        for sid in sids:
            sub = conn.subs.pop(sid, None) if isinstance(sid, int) else None
            if sub is None:
                conn.push(error_frame(cid, 7, "Unknown subscription ID"))
                continue
            conn.push({"id": cid, "sid": sub.sid, "seq": conn.next_seq(sub), "type": "unsubscribed"})

    def _update(self, conn: Conn, cid: Any, params: Json) -> None:
        sids = params.get("sids")
        sid = params.get("sid")
        if isinstance(sids, list):
            if len(sids) != 1 or sid is not None:
                conn.push(error_frame(cid, 12, "Exactly one subscription ID is required"))
                return
            sid = sids[0]
        if not isinstance(sid, int):
            conn.push(error_frame(cid, 12, "Exactly one subscription ID is required"))
            return
        sub = conn.subs.get(sid)
        if sub is None:
            conn.push(error_frame(cid, 7, "Unknown subscription ID"))
            return
        action = params.get("action")
        if not action:
            conn.push(error_frame(cid, 15, "Action required"))
            return
        if action not in ("add_markets", "delete_markets", "get_snapshot"):
            conn.push(error_frame(cid, 13, "Unsupported action"))
            return
        if action == "get_snapshot":
            many = params.get("market_tickers")  # only market_tickers here (REFERENCE §10.2)
            tickers = [t for t in many if isinstance(t, str)] if isinstance(many, list) else None
        else:
            tickers = self._tickers(params)
        if not tickers:
            conn.push(error_frame(cid, 14, "Market Ticker required"))
            return
        if sub.channel == "market_lifecycle_v2" or (action == "get_snapshot" and sub.channel != "orderbook_delta"):
            conn.push(error_frame(cid, 13, "Unsupported action"))
            return
        new: list[str] = []
        if action == "add_markets":
            if sub.tickers is not None:
                new = [t for t in dict.fromkeys(tickers) if t not in sub.tickers]
                sub.tickers |= set(tickers)
        elif action == "delete_markets":
            if sub.tickers is not None:
                sub.tickers -= set(tickers)
        listed = sorted(sub.tickers) if sub.tickers is not None else []
        conn.push(
            {"id": cid, "sid": sub.sid, "seq": conn.next_seq(sub), "type": "ok", "msg": {"market_tickers": listed}}
        )
        if sub.channel == "orderbook_delta":
            if action == "add_markets":
                self._snapshot(conn, sub, new)
            elif action == "get_snapshot":
                self._snapshot(
                    conn, sub, [t for t in dict.fromkeys(tickers) if sub.tickers is None or t in sub.tickers]
                )


async def serve_connection(hub: Hub, websocket: Any, account: str) -> None:
    """Run one accepted WebSocket: a reader for commands and a writer for queued frames."""
    from starlette.websockets import WebSocketDisconnect

    conn = Conn(account, hub)
    hub.add(conn)
    faults = hub.x.faults

    async def writer() -> None:
        while True:
            text = await conn.queue.get()
            if text is None:
                await websocket.close(code=1011 if conn.sent else 1000)
                return
            await websocket.send_text(text)
            conn.sent += 1
            if faults.ws_disconnect_due(conn.sent):
                conn.closed = True
                await websocket.close(code=1011)  # an injected disconnect
                return

    task = asyncio.ensure_future(writer())
    try:
        while not task.done():
            receive = asyncio.ensure_future(websocket.receive())
            done, _ = await asyncio.wait({receive, task}, return_when=asyncio.FIRST_COMPLETED)
            if receive not in done:
                receive.cancel()
                break
            message = receive.result()
            if message["type"] == "websocket.disconnect":
                break
            text = message.get("text")
            if text is None:
                text = message.get("bytes") or b""
            hub.command(conn, text)
    except (WebSocketDisconnect, RuntimeError, OSError) as e:  # the peer went away mid-write
        log.debug("websocket ended: %s", type(e).__name__)
    finally:
        hub.remove(conn)
        if not task.done():
            task.cancel()
        try:
            await task
        except (asyncio.CancelledError, WebSocketDisconnect, RuntimeError, OSError):
            pass
