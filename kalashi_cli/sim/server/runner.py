"""Serve a :class:`~.exchange.SimExchange` with uvicorn: blocking (the CLI) or in a thread (tests).

Two small uvicorn protocol subclasses give the simulator what plain ASGI cannot:

* the HTTP protocol remembers each connection's transport, so a fault can **drop** a connection
  without any answer (``transport.abort()``) — what a client sees when Kalshi's edge resets;
* the WebSocket protocol pings every ``ws_ping_interval`` seconds (10 s) with the payload
  ``heartbeat``, as Kalshi does (REFERENCE §10.1).

The market steps whenever the market clock reaches the next step's time (every 10 s of market
time: every 10 s at the default wall-clock pace, every 0.25 s at ``--speed 40``; never on its own
at speed 0, only on ``POST /_sim/step``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from starlette.types import Scope, Send

from ...errors import UsageError
from .app import DropFn, build_app, fallback_drop
from .exchange import SimExchange

log = logging.getLogger("kalashi.sim_exchange")

T = TypeVar("T")
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})


def _protocols(registry: dict[Any, Any]) -> tuple[type[asyncio.Protocol] | str, type[asyncio.Protocol] | str]:
    """Return (http protocol, ws protocol) classes; uvicorn's defaults if its internals moved."""
    try:
        from uvicorn.protocols.http.h11_impl import H11Protocol
        from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
    except ImportError:  # pragma: no cover - a uvicorn without these modules
        return "h11", "auto"

    class TrackedH11Protocol(H11Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            super().connection_made(transport)  # type: ignore[arg-type]
            registry[self.client] = transport

        def connection_lost(self, exc: Exception | None) -> None:
            registry.pop(self.client, None)
            super().connection_lost(exc)

    class HeartbeatWSProtocol(WebSocketsSansIOProtocol):
        def send_keepalive_ping(self) -> None:
            # uvicorn pings with a random payload; Kalshi's pings carry "heartbeat"
            self.ping_timer = None
            if self.close_sent or self.transport.is_closing():
                return
            self.pending_ping_payload = b"heartbeat"
            self.ping_sent_at = self.loop.time()
            self.conn.send_ping(b"heartbeat")
            self.transport.write(b"".join(self.conn.data_to_send()))
            if self.ping_timeout is not None:
                self.pong_timer = self.loop.call_later(self.ping_timeout, self.keepalive_timeout)
            else:
                self.schedule_ping()

    return TrackedH11Protocol, HeartbeatWSProtocol


def _make_drop(registry: dict[Any, Any]) -> DropFn:
    async def drop(scope: Scope, send: Send) -> None:
        client = scope.get("client")
        transport = registry.get(tuple(client) if client else None)
        if transport is None:
            await fallback_drop(scope, send)
            return
        transport.abort()  # no answer at all: the client sees a reset / closed connection
        for _ in range(3):  # let connection_lost run before uvicorn looks at the cycle
            await asyncio.sleep(0)

    return drop


def bind_socket(host: str, port: int) -> socket.socket:
    """Bind a listening TCP socket (port 0 picks a free one).

    Raises:
        UsageError: the address is taken or not available.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP matters: asyncio sets TCP_NODELAY on accepted sockets only when the listening
    # socket says TCP; without it every answer waits ~40 ms for a delayed ACK (Nagle)
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        raise UsageError(
            f"cannot listen on {host}:{port}: {e.strerror}",
            hint="pick another --port (0 = any free port) or stop what is using it",
        ) from None
    sock.listen(2048)
    sock.setblocking(False)
    return sock


class SimExchangeServer:
    """One simulated exchange listening on ``host:port`` (REST and WebSocket on the same port)."""

    def __init__(
        self, exchange: SimExchange, *, host: str = "127.0.0.1", port: int = 8800, log_level: str = "warning"
    ) -> None:
        self.exchange = exchange
        self.host = host
        self._sock = bind_socket(host, port)
        self.port: int = self._sock.getsockname()[1]
        self._registry: dict[Any, Any] = {}
        http, ws = _protocols(self._registry)
        import uvicorn

        self.app = build_app(exchange, drop=_make_drop(self._registry))
        self.config = uvicorn.Config(
            self.app,
            http=http,
            ws=ws,
            lifespan="off",
            log_config=None,
            log_level=log_level,
            access_log=log_level in ("info", "debug"),  # `sim-exchange -v` logs every request
            ws_ping_interval=exchange.config.ws_ping_interval,
            ws_ping_timeout=max(20.0, exchange.config.ws_ping_interval),
            # the app stamps Date on the simulated market clock (app.SimDate); uvicorn's own would be
            # a second, wall-clock Date header
            timeout_keep_alive=30,
            server_header=False,
            date_header=False,
        )
        self.started = threading.Event()
        started = self.started
        runner = self

        class _Server(uvicorn.Server):
            async def startup(self, sockets: list[socket.socket] | None = None) -> None:
                await super().startup(sockets)
                started.set()

            async def main_loop(self) -> None:
                # uvicorn polls should_exit every 0.1 s; waiting on an event makes stop() immediate
                exit_now = runner._exit = asyncio.Event()
                counter = 0
                while not await self.on_tick(counter):
                    counter += 10  # on_tick's once-a-second work runs when counter % 10 == 0
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(exit_now.wait(), 1.0)

            def handle_exit(self, sig: int, frame: Any) -> None:
                super().handle_exit(sig, frame)
                runner._wake_exit()

        self.server = _Server(self.config)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._exit: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._stepper: asyncio.Task[None] | None = None
        self.step_errors = 0

    @property
    def url(self) -> str:
        """REST base URL, ending in ``/trade-api/v2`` (what ``KALASHI_EXCHANGE_URL`` takes)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/trade-api/v2"

    @property
    def ws_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"ws://{host}:{self.port}/trade-api/ws/v2"

    @property
    def root(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def _step_forever(self) -> None:
        """Step the market whenever the market clock reaches the next step (re-read after POST /_sim/clock)."""
        x = self.exchange
        wake = asyncio.Event()
        x.clock_listener = wake.set
        behind_logged = False
        while True:
            wait = x.clock.wall_seconds_until(x.next_step_ms())
            if wait > 0:
                try:
                    await asyncio.wait_for(wake.wait(), None if wait == float("inf") else wait)
                    wake.clear()
                    continue  # the speed changed (or a manual step moved the market): look again
                except TimeoutError:
                    pass
            try:
                x.step(1)
            except Exception:  # noqa: BLE001 - one bad step must not stop the market
                self.step_errors += 1
                log.exception("market step failed")
            behind = x.clock.wall_seconds_until(x.next_step_ms()) == 0
            if behind and not behind_logged:
                behind_logged = True
                log.warning("the market cannot keep up with --speed %g: it lags the market clock", x.speed)
            await asyncio.sleep(0)  # requests are served between catch-up steps

    async def serve(self) -> None:
        """Serve until :meth:`stop` (or Ctrl-C under the CLI)."""
        self._loop = asyncio.get_running_loop()
        self._stepper = asyncio.ensure_future(self._step_forever())
        try:
            await self.server.serve(sockets=[self._sock])
        finally:
            self.exchange.clock_listener = None
            if self._stepper is not None:
                self._stepper.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._stepper

    def start(self, timeout: float = 10.0) -> SimExchangeServer:
        """Serve in a background thread; return once it accepts connections.

        Raises:
            RuntimeError: the server did not start in time.
        """
        self._thread = threading.Thread(target=lambda: asyncio.run(self.serve()), name="sim-exchange", daemon=True)
        self._thread.start()
        if not self.started.wait(timeout) or not self._thread.is_alive():
            raise RuntimeError("sim-exchange did not start")
        return self

    def call(self, fn: Callable[[], T], timeout: float = 30.0) -> T:
        """Run ``fn`` on the server's loop thread (the exchange is single-threaded) and return its result."""
        loop = self._loop
        if loop is None:
            raise RuntimeError("the server is not running")

        async def run() -> T:
            return fn()

        return asyncio.run_coroutine_threadsafe(run(), loop).result(timeout)

    def _wake_exit(self) -> None:
        loop, ev = self._loop, self._exit
        if loop is not None and ev is not None and not loop.is_closed():
            loop.call_soon_threadsafe(ev.set)

    def request_stop(self) -> None:
        """Ask the server to stop (safe from a signal handler or another thread); serve() then returns."""
        self.server.should_exit = True
        self._wake_exit()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving and wait for the thread."""
        self.request_stop()
        if self._thread is not None:
            self._thread.join(timeout)

    def __enter__(self) -> SimExchangeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


__all__ = ["LOOPBACK_HOSTS", "SimExchangeServer", "bind_socket"]
