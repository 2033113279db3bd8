"""Throughput and latency of `kalashi sim-exchange` under load from a second process on loopback.

The simulator runs as its own process (``kalashi sim-exchange``, one asyncio loop, uvicorn/h11),
started here with a generated Ed25519 key (signing must not be the load generator's bottleneck),
rate limits off, a large balance, and the market clock at ``--speed`` (10 by default: a step a second). This process
is the load generator: ``--connections`` keep-alive HTTP/1.1 connections, each sending the next
request as soon as the previous answer is read (closed loop), for ``--seconds`` per run. Requests
are built and parsed with plain asyncio streams (no HTTP client library) and signed exactly like
kalashi's client (``KalshiAuth``) wherever Kalshi needs a signature.

Mixes:

* ``read``: 40 % GET /markets/{ticker}, 25 % GET /markets/{ticker}/orderbook, 10 % GET
  /markets?status=open&limit=100, 10 % GET /portfolio/balance, 10 % GET /portfolio/positions,
  5 % GET /markets/trades?limit=100 (the last three signed or public as on Kalshi);
* ``orders``: 50 % POST /portfolio/events/orders resting (GTC post-only bid at $0.01), 30 %
  DELETE /portfolio/events/orders/{id} of one of them, 20 % POST IOC taker (1 contract, walks
  the book and fills).

Reported per mix: median over ``--runs`` runs of requests/s, p50 and p99 latency (send → last
byte of the answer), and the non-2xx count.

    .venv/bin/python bench/bench_sim_exchange.py                     # both mixes, 5 runs of 5 s
    .venv/bin/python bench/bench_sim_exchange.py --mix read --connections 1
    .venv/bin/python bench/bench_sim_exchange.py --runs 7 --seconds 8 --json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from kalashi_cli.kalshi.auth import Credentials, KalshiAuth, load_private_key

PREFIX = "/trade-api/v2"

Request = tuple[str, str, bytes | None, bool]  # method, path (with query), body, signed


@dataclass
class RunResult:
    mix: str
    connections: int
    seconds: float
    requests: int
    latencies_ms: list[float]
    statuses: Counter[int] = field(default_factory=Counter)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    def pct(self, q: float) -> float:
        lat = sorted(self.latencies_ms)
        return lat[min(len(lat) - 1, int(q * len(lat)))] if lat else float("nan")


class Server:
    """`kalashi sim-exchange` in a subprocess on a free port."""

    def __init__(self, markets: int, speed: float, keys: Path) -> None:
        cmd = [
            sys.executable,
            "-m",
            "kalashi_cli",
            "sim-exchange",
            "--port",
            "0",
            "--markets",
            str(markets),
            "--speed",
            str(speed),
            "--demo-keys",
            str(keys),
            "--key-type",
            "ed25519",
            "--no-rate-limits",
            "--balance",
            "100000000",
            "--quiet",
        ]
        self.cmd = " ".join(["kalashi", *cmd[3:]])
        self.proc = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "KALASHI_HOME": str(keys.parent / "home")},
        )
        assert self.proc.stdout is not None
        self.ready = json.loads(self.proc.stdout.readline())
        self.port = int(self.ready["port"])
        key = self.ready["demo_key"]
        creds = Credentials(key["key_id"], load_private_key(Path(key["private_key_path"]).read_bytes()))
        self.auth = KalshiAuth(creds)

    def close(self) -> None:
        self.proc.terminate()
        self.proc.communicate(timeout=15)


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    body = await reader.readexactly(length) if length else b""
    return status, body


class Connection:
    """One keep-alive HTTP/1.1 connection that signs like kalashi's client."""

    def __init__(self, port: int, auth: KalshiAuth) -> None:
        self.port = port
        self.auth = auth
        self.reader: asyncio.StreamReader
        self.writer: asyncio.StreamWriter

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        sock = self.writer.get_extra_info("socket")
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    async def send(self, method: str, path: str, body: bytes | None, signed: bool) -> tuple[int, bytes]:
        full = PREFIX + path
        lines = [f"{method} {full} HTTP/1.1", "Host: 127.0.0.1", "Accept: application/json"]
        if signed:
            for k, v in self.auth.headers(method, full.split("?", 1)[0]).items():
                lines.append(f"{k}: {v}")
        if body is not None:
            lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
        data = ("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b"")
        self.writer.write(data)
        return await _read_response(self.reader)

    async def close(self) -> None:
        self.writer.close()
        await self.writer.wait_closed()


def read_mix(tickers: list[str], rng: random.Random) -> Callable[[], Request]:
    def next_request() -> Request:
        u = rng.random()
        t = rng.choice(tickers)
        if u < 0.40:
            return "GET", f"/markets/{t}", None, False
        if u < 0.65:
            return "GET", f"/markets/{t}/orderbook", None, False
        if u < 0.75:
            return "GET", "/markets?status=open&limit=100", None, False
        if u < 0.85:
            return "GET", "/portfolio/balance", None, True
        if u < 0.95:
            return "GET", "/portfolio/positions", None, True
        return "GET", "/markets/trades?limit=100", None, False

    return next_request


def _order(t: str, side: str, price: str, tif: str, **extra: Any) -> bytes:
    return orjson.dumps(
        {
            "ticker": t,
            "side": side,
            "price": price,
            "count": "1",
            "time_in_force": tif,
            "self_trade_prevention_type": "maker",
            **extra,
        }
    )


async def worker(
    conn: Connection,
    mix: str,
    tickers: list[str],
    seed: int,
    deadline: float,
    latencies: list[float],
    statuses: Counter[int],
) -> int:
    rng = random.Random(seed)
    reads = read_mix(tickers, rng)
    resting: deque[str] = deque()
    n = 0
    perf = time.perf_counter
    while perf() < deadline:
        if mix == "read":
            method, path, body, signed = reads()
        else:
            u = rng.random()
            t = rng.choice(tickers)
            if u < 0.3 and resting:
                method, path, body, signed = "DELETE", f"/portfolio/events/orders/{resting.popleft()}", None, True
            elif u < 0.5:
                method, path, body, signed = (
                    "POST",
                    "/portfolio/events/orders",
                    _order(t, "bid", "0.9900", "immediate_or_cancel"),
                    True,
                )
            else:
                method, path, body, signed = (
                    "POST",
                    "/portfolio/events/orders",
                    _order(t, "bid", "0.0100", "good_till_canceled", post_only=True),
                    True,
                )
        t0 = perf()
        status, answer = await conn.send(method, path, body, signed)
        latencies.append((perf() - t0) * 1000)
        statuses[status] += 1
        n += 1
        if mix == "orders" and status == 201 and body is not None and b"good_till" in body:
            ack = orjson.loads(answer)
            if ack["remaining_count"] != "0.00":  # a post-only that would cross is cancelled at once
                resting.append(ack["order_id"])
    return n


async def one_run(
    port: int, auth: KalshiAuth, mix: str, connections: int, seconds: float, tickers: list[str], seed: int
) -> RunResult:
    conns = [Connection(port, auth) for _ in range(connections)]
    for c in conns:
        await c.open()
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    t0 = time.perf_counter()
    deadline = t0 + seconds
    counts = await asyncio.gather(
        *(worker(c, mix, tickers, seed * 1000 + i, deadline, latencies, statuses) for i, c in enumerate(conns))
    )
    elapsed = time.perf_counter() - t0
    for c in conns:
        await c.close()
    return RunResult(mix, connections, elapsed, sum(counts), latencies, statuses)


def active_tickers(port: int) -> list[str]:
    import httpx

    body = httpx.get(
        f"http://127.0.0.1:{port}{PREFIX}/markets",
        params={"status": "open", "limit": 1000},
        trust_env=False,
        timeout=30,
    ).json()
    return [m["ticker"] for m in body["markets"] if m["yes_ask_dollars"] != "1.0000"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mix", choices=("read", "orders", "both"), default="both")
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--markets", type=int, default=500)
    ap.add_argument("--speed", type=float, default=10.0, help="market clock pace (10 = a market step a second)")
    ap.add_argument("--json", action="store_true", help="one JSON line per run instead of the summary")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        server = Server(args.markets, args.speed, Path(tmp) / "keys")
        try:
            tickers = active_tickers(server.port)
            mixes = ("read", "orders") if args.mix == "both" else (args.mix,)
            print(f"# server: {server.cmd}", file=sys.stderr)
            print(
                f"# load: {args.connections} connections, {args.runs} runs of {args.seconds:g} s, "
                f"{len(tickers)} active markets; Python {platform.python_version()}, {platform.machine()}, "
                f"{os.cpu_count()} CPUs",
                file=sys.stderr,
            )
            for mix in mixes:
                results = []
                for r in range(args.runs):
                    tickers = active_tickers(server.port)  # markets close and settle while we run
                    res = asyncio.run(
                        one_run(server.port, server.auth, mix, args.connections, args.seconds, tickers, seed=r)
                    )
                    results.append(res)
                    if args.json:
                        print(
                            json.dumps(
                                {
                                    "mix": mix,
                                    "run": r,
                                    "rps": round(res.rps, 1),
                                    "p50_ms": round(res.pct(0.5), 3),
                                    "p99_ms": round(res.pct(0.99), 3),
                                    "statuses": dict(res.statuses),
                                }
                            )
                        )
                rps = statistics.median(x.rps for x in results)
                p50 = statistics.median(x.pct(0.5) for x in results)
                p99 = statistics.median(x.pct(0.99) for x in results)
                bad: Counter[int] = Counter()
                for x in results:
                    bad.update({s: n for s, n in x.statuses.items() if s >= 300})
                total = sum(x.requests for x in results)
                print(
                    f"{mix:7s} {args.connections:3d} conns  {rps:9.0f} req/s  p50 {p50:7.2f} ms  "
                    f"p99 {p99:7.2f} ms  runs {min(x.rps for x in results):.0f}–{max(x.rps for x in results):.0f}"
                    f"  non-2xx {sum(bad.values())}/{total} {dict(bad) if bad else ''}"
                )
        finally:
            server.close()
    return 0


if __name__ == "__main__":
    threading.current_thread().name = "bench"
    sys.exit(main())
