"""The WebSocket API: commands, channels, seq, heartbeats — and our KalshiFeed keeping true books over it."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Callable
from typing import Any

import httpx
import needs
import orjson
import pytest
from websockets.asyncio.client import ClientConnection, connect

from kalashi_cli.kalshi.auth import KalshiAuth
from kalashi_cli.kalshi.wire import parse_orderbook
from kalashi_cli.kalshi.ws import KalshiFeed
from kalashi_cli.money import ONE_DOLLAR, Price, fmt_price, parse_count, parse_price
from kalashi_cli.sim.server import DemoKey, FaultConfig

from .conftest import MARKETS, Sim, credentials, run, start_sim
from .spec import available, validate_ws_frame

# WebSocket behaviour is tested with or without ../shared; frames are validated against the
# AsyncAPI document whenever it is there (test_frames_are_validated_against_asyncapi says so)
check = validate_ws_frame if available() else (lambda frame: None)

Json = dict[str, Any]


async def ws(sim: Sim, key: DemoKey | None = None) -> ClientConnection:
    auth = KalshiAuth(credentials(key or sim.key))
    # max_queue=None: a test that stops reading early must not stall the closing handshake (websockets
    # pauses reading its socket when unread messages pile up, and would then miss the server's CLOSE)
    return await connect(sim.ws_url, additional_headers=auth.ws_headers(), proxy=None, max_queue=None)


async def recv(conn: ClientConnection, n: int, timeout: float = 5.0) -> list[Json]:
    """Receive ``n`` frames (bounded), each validated against the AsyncAPI document."""
    out = []
    for _ in range(n):
        frame = orjson.loads(await asyncio.wait_for(conn.recv(), timeout))
        check(frame)
        out.append(frame)
    return out


async def recv_until(conn: ClientConnection, done: Callable[[list[Json]], bool], timeout: float = 5.0) -> list[Json]:
    out: list[Json] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not done(out):
        left = deadline - loop.time()
        if left <= 0:
            raise TimeoutError(f"condition not reached; got {[f['type'] for f in out]}")
        frame = orjson.loads(await asyncio.wait_for(conn.recv(), left))
        check(frame)
        out.append(frame)
    return out


async def send(conn: ClientConnection, cid: int, cmd: str, params: Json | None = None) -> None:
    msg: Json = {"id": cid, "cmd": cmd}
    if params is not None:
        msg["params"] = params
    await conn.send(orjson.dumps(msg).decode())


def tickers(sim: Sim, n: int = 3) -> list[str]:
    def pick() -> list[str]:
        x = sim.exchange
        out = [
            r.ticker
            for r in x.driver.market_list
            if x.engine.market_status(r.ticker) == "active"
            and x.engine.book(r.ticker).yes_bids
            and x.engine.book(r.ticker).no_bids
        ]
        return out[:n]

    return sim.call(pick)


async def step(sim: Sim, n: int = 1) -> None:
    async with httpx.AsyncClient(trust_env=False) as c:
        r = await c.post(sim.root + "/_sim/step", json={"steps": n})
        assert r.status_code == 200


def test_subscribe_snapshot_then_sequenced_deltas(sim: Sim) -> None:
    ts = tickers(sim, 2)

    async def go() -> None:
        conn = await ws(sim)
        await send(
            conn, 1, "subscribe", {"channels": ["orderbook_delta"], "market_tickers": ts, "use_yes_price": False}
        )
        first = await recv(conn, 3)
        assert first[0] == {"id": 1, "type": "subscribed", "msg": {"channel": "orderbook_delta", "sid": 1}}
        snaps = first[1:]
        assert [f["type"] for f in snaps] == ["orderbook_snapshot"] * 2
        assert [f["seq"] for f in snaps] == [1, 2]
        books = {f["msg"]["market_ticker"]: f["msg"] for f in snaps}
        # the snapshot is exactly the REST book
        for t in ts:
            rest = sim.anon.get(f"markets/{t}/orderbook").json()["orderbook_fp"]
            assert books[t]["yes_dollars_fp"] == rest["yes_dollars"]
            assert books[t]["no_dollars_fp"] == rest["no_dollars"]

        def levels(rows: list[list[str]]) -> dict[str, int]:
            return {p: parse_count(c) for p, c in rows}

        local = {t: {s: levels(books[t].get(f"{s}_dollars_fp", [])) for s in ("yes", "no")} for t in ts}
        # step until the books differ from the snapshot (a book can move and come back), then apply
        # deltas (seq +1 each) until the local books equal REST again
        for _ in range(30):
            await step(sim, 1)
            rest = {t: sim.anon.get(f"markets/{t}/orderbook").json()["orderbook_fp"] for t in ts}
            target = {t: {s: levels(rest[t][f"{s}_dollars"]) for s in ("yes", "no")} for t in ts}
            if target != local:
                break
        seq = 2
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 5
        while local != target:
            frame = orjson.loads(await asyncio.wait_for(conn.recv(), max(0.01, deadline - loop.time())))
            check(frame)
            assert frame["type"] == "orderbook_delta" and frame["seq"] == seq + 1
            seq = frame["seq"]
            m = frame["msg"]
            side = local[m["market_ticker"]][m["side"]]
            side[m["price_dollars"]] = side.get(m["price_dollars"], 0) + parse_count(m["delta_fp"])
            if side[m["price_dollars"]] == 0:
                del side[m["price_dollars"]]
        assert seq > 2
        await conn.close()

    run(go())


def test_commands_and_their_errors(sim: Sim) -> None:
    t = tickers(sim, 2)

    async def go() -> None:
        conn = await ws(sim)
        await send(conn, 1, "subscribe", {"channels": ["orderbook_delta"]})
        await send(conn, 2, "subscribe", {})
        await send(conn, 3, "frobnicate", {})
        await send(conn, 4, "subscribe")
        await send(conn, 5, "subscribe", {"channels": ["no_such_channel"]})
        await send(conn, 6, "unsubscribe", {"sids": [99]})
        await send(conn, 7, "update_subscription", {"sids": [1, 2], "action": "add_markets", "market_tickers": t})
        codes = [(f["id"], f["msg"]["code"]) for f in await recv(conn, 7)]
        assert codes == [(1, 14), (2, 3), (3, 5), (4, 2), (5, 8), (6, 7), (7, 12)]
        await send(conn, 8, "subscribe", {"channels": ["orderbook_delta", "ticker"], "market_tickers": t[:1]})
        frames = await recv(conn, 3)
        assert [f["type"] for f in frames] == ["subscribed", "orderbook_snapshot", "subscribed"]
        await send(conn, 9, "list_subscriptions")
        (listing,) = await recv(conn, 1)
        assert listing["msg"] == [{"channel": "orderbook_delta", "sid": 1}, {"channel": "ticker", "sid": 2}]
        await send(conn, 10, "update_subscription", {"sids": [1], "action": "add_markets", "market_tickers": t[1:]})
        ok, snap = await recv(conn, 2)
        assert ok["type"] == "ok" and ok["sid"] == 1 and ok["seq"] == 2 and ok["msg"]["market_tickers"] == sorted(t)
        assert snap["type"] == "orderbook_snapshot" and snap["seq"] == 3
        await send(conn, 11, "update_subscription", {"sid": 1, "action": "get_snapshot", "market_tickers": t[:1]})
        ok, snap = await recv(conn, 2)
        assert (ok["seq"], snap["seq"], snap["msg"]["market_ticker"]) == (4, 5, t[0])
        await send(conn, 12, "update_subscription", {"sids": [1], "action": "dance", "market_tickers": t})
        await send(conn, 13, "update_subscription", {"sids": [1], "market_tickers": t})
        assert [f["msg"]["code"] for f in await recv(conn, 2)] == [13, 15]
        await send(conn, 14, "subscribe", {"channels": ["orderbook_delta"], "market_tickers": t})  # idempotent
        (again,) = await recv(conn, 1)
        assert again["msg"] == {"channel": "orderbook_delta", "sid": 1}
        await send(conn, 15, "update_subscription", {"sids": [1], "action": "delete_markets", "market_tickers": t[1:]})
        (ok,) = await recv(conn, 1)
        assert ok["msg"]["market_tickers"] == t[:1]
        await send(conn, 16, "unsubscribe", {"sids": [1, 2]})
        gone = await recv(conn, 2)
        assert [(f["type"], f["sid"]) for f in gone] == [("unsubscribed", 1), ("unsubscribed", 2)]
        assert gone[0]["seq"] == 7
        await conn.close()

    run(go())


def test_yes_price_convention_for_the_no_side(sim: Sim) -> None:
    (t,) = tickers(sim, 1)

    async def go() -> None:
        conn = await ws(sim)
        await send(
            conn, 1, "subscribe", {"channels": ["orderbook_delta"], "market_tickers": [t], "use_yes_price": True}
        )
        _, snap = await recv(conn, 2)
        rest = sim.anon.get(f"markets/{t}/orderbook").json()["orderbook_fp"]["no_dollars"]
        flipped = sorted([fmt_price(Price(ONE_DOLLAR - parse_price(p))), c] for p, c in rest)
        assert snap["msg"]["no_dollars_fp"] == flipped
        await conn.close()

    run(go())


def test_private_channels_carry_only_our_own_trading(sim: Sim, second_key: DemoKey) -> None:
    m = sim.active_market()

    async def go() -> None:
        mine, theirs = await ws(sim), await ws(sim, second_key)
        for c in (mine, theirs):
            await send(c, 1, "subscribe", {"channels": ["fill", "user_orders", "market_positions", "trade"]})
            await recv(c, 4)
        async with httpx.AsyncClient(base_url=sim.url + "/", auth=KalshiAuth(sim.creds), trust_env=False) as h:
            r = await h.post(
                "portfolio/events/orders",
                json={
                    "ticker": m.ticker,
                    "side": "ask",
                    "price": fmt_price(m.yes_bid or Price(100)),
                    "count": "2",
                    "client_order_id": "ws-priv",
                    "time_in_force": "immediate_or_cancel",
                    "self_trade_prevention_type": "taker_at_cross",
                },
            )
            assert r.status_code == 201, r.text
        frames = await recv_until(
            mine, lambda fs: {"fill", "user_order", "market_position", "trade"} <= {f["type"] for f in fs}
        )
        fill = next(f for f in frames if f["type"] == "fill")["msg"]
        assert (fill["book_side"], fill["outcome_side"], fill["market_ticker"]) == ("ask", "no", m.ticker)
        assert fill["client_order_id"] == "ws-priv" and fill["post_position_fp"].startswith("-")
        order = next(f for f in frames if f["type"] == "user_order")["msg"]
        assert order["status"] == "executed" and order["is_yes"] is False
        # the other account sees the public trade but none of our private messages
        public = await recv_until(theirs, lambda fs: any(f["type"] == "trade" for f in fs))
        assert {f["type"] for f in public} == {"trade"}
        await mine.close()
        await theirs.close()

    run(go())


def test_lifecycle_messages_on_settlement_and_listing(demo_key: DemoKey) -> None:
    from kalashi_cli.sim.universe import SimUniverse

    u = SimUniverse(0, MARKETS)  # the universe is a pure function: find a settlement ahead of time
    settle = next(k for k in range(1, 5000) if u.settlements_between(k - 1, k))
    s = start_sim([demo_key], start_step=settle - 2)
    try:

        async def go() -> None:
            conn = await ws(s)
            await send(conn, 1, "subscribe", {"channels": ["market_lifecycle_v2"]})
            await recv(conn, 1)
            await step(s, 4)
            frames = await recv_until(
                conn, lambda fs: {"determined", "settled", "created"} <= {f["msg"]["event_type"] for f in fs}
            )
            determined = next(f["msg"] for f in frames if f["msg"]["event_type"] == "determined")
            assert determined["result"] in ("yes", "no") and determined["settlement_value"] in ("1.0000", "0.0000")
            created = next(f["msg"] for f in frames if f["msg"]["event_type"] == "created")
            assert created["close_ts"] >= created["open_ts"]
            await conn.close()

        run(go())
    finally:
        s.close()


def test_server_pings_carry_heartbeat(demo_key: DemoKey) -> None:
    from websockets.client import ClientProtocol
    from websockets.frames import Frame, Opcode
    from websockets.http11 import Response
    from websockets.uri import parse_uri

    s = start_sim([demo_key], ws_ping_interval=0.2)
    try:
        proto = ClientProtocol(parse_uri(s.ws_url))
        request = proto.connect()
        for k, v in KalshiAuth(s.creds).ws_headers().items():
            request.headers[k] = v
        proto.send_request(request)
        with socket.create_connection(("127.0.0.1", s.server.port), timeout=5) as sock:
            sock.sendall(b"".join(proto.data_to_send()))
            pings: list[bytes] = []
            while len(pings) < 2:
                proto.receive_data(sock.recv(65536))
                for ev in proto.events_received():
                    if isinstance(ev, Response):
                        assert ev.status_code == 101
                    elif isinstance(ev, Frame) and ev.opcode == Opcode.PING:
                        pings.append(bytes(ev.data))
                sock.sendall(b"".join(proto.data_to_send()))  # our pongs
        assert pings == [b"heartbeat", b"heartbeat"]
    finally:
        s.close()


def _rest_book(sim: Sim, t: str) -> tuple[Any, Any]:
    return parse_orderbook(sim.anon.get(f"markets/{t}/orderbook").json())


@pytest.mark.parametrize(
    "faults",
    [FaultConfig(ws_disconnect_every=25, seed=3), FaultConfig(ws_gap_rate=0.2, seed=5)],
    ids=["disconnects", "sequence-gaps"],
)
def test_our_feed_keeps_true_books_through_ws_faults(demo_key: DemoKey, faults: FaultConfig) -> None:
    """KalshiFeed over the simulator: after disconnects or seq gaps it resyncs to the REST truth."""
    s = start_sim([demo_key], faults=faults)
    try:
        ts = tickers(s, 4)

        async def go() -> KalshiFeed:
            arrived = asyncio.Event()
            feed = KalshiFeed(
                s.ws_url,
                auth=KalshiAuth(s.creds),
                tickers=ts,
                backoff_base=0.01,
                backoff_max=0.05,
                on_raw=lambda _t, _raw: arrived.set(),
            )
            task = asyncio.ensure_future(feed.run())
            await asyncio.wait_for(feed.subscribed.wait(), 5)
            for _ in range(12):
                await step(s, 1)
            async with httpx.AsyncClient(trust_env=False) as c:  # faults off: let the feed settle on the truth
                await c.post(s.root + "/_sim/faults/reset")
                await c.post(s.root + "/_sim/step", json={"steps": 1})
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 10
            while not all(not feed.is_stale(t) and feed.store.book(t).levels() == _rest_book(s, t) for t in ts):
                if loop.time() > deadline:
                    raise AssertionError("the feed's books never matched the REST books")
                arrived.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(arrived.wait(), 0.5)
            await feed.stop()
            task.cancel()
            return feed

        feed = run(go())
        if faults.ws_disconnect_every:
            assert feed.reconnects >= 1
        else:
            assert feed.resyncs >= 1
    finally:
        s.close()


def test_frames_are_validated_against_asyncapi() -> None:
    needs.require(available(), "../shared", "../shared/kalshi-api is not there: frames were checked by behaviour only")
    assert check is validate_ws_frame
    with pytest.raises(Exception, match="required"):
        validate_ws_frame({"type": "orderbook_delta", "sid": 1, "seq": 2, "msg": {"market_ticker": "X"}})
