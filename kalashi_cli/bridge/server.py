"""The bridge: the loop's records and state out to browsers, their commands in (protocol 1).

::

    loop thread ──records──► listener ─call_soon_threadsafe─► Hub (asyncio) ─┬─► client queue ─► sender ─► ws
    (TradingService or                (numbers each record)    │             ├─► client queue ─► sender ─► ws
     the attach tailer)                                        │             └─► …
                                     state builds, commands ◄──┘ one worker thread (the backend blocks)

* The trading thread never waits for the bridge: handing a record over is one
  ``call_soon_threadsafe``. Building a state or carrying out a command happens in one worker
  thread, off the event loop, serialised.
* **Slow clients.** Each client has its own queue of encoded messages, drained by its own sender
  task; a browser that reads slowly only ever delays itself. A client that has not yet been
  sent the previous ``state`` when the next is ready is an iteration behind: its backlog is
  replaced by the fresh ``state`` and the records that came after it (replies to its own
  commands are kept). A queue that passes ``queue_limit`` messages within one iteration is
  dropped likewise and the client waits for a state that covers what it lost. Memory per
  client is thus about one iteration's messages. A client that stops reading entirely is
  closed by the WebSocket keepalive (no pong within ``ping_interval + ping_timeout``).
* **Exact hand-over.** Records are numbered as they are published, under the backend's lock; a
  state is built under the same lock and carries the number of the last record it includes. A
  client that is (re)synchronising gets the first state whose number covers everything it
  missed, then only the records after it — no gap, no record applied twice.
* **Long commands.** A control command runs as a task of its own, so the connection keeps being
  read while it runs (a heartbeat, another command). It is logged with a server-wide ``ref``
  (the last 20 go out in every ``state`` as ``commands``), the sender gets ``progress`` messages —
  when it is accepted, whenever the backend reports a step, and every ``progress_every_s`` while
  it waits or runs — and its ``ack``/``error`` whenever it ends. Nothing times out on the server:
  a result that comes late is still sent, logged and shown.
* **Security.** Control commands need the token (``hmac.compare_digest``). WebSocket handshakes
  must come from the dashboard's own origin (or carry no Origin, i.e. not a browser). Beyond
  loopback, the handshake itself needs the token too (the page's cookie, or
  ``Authorization: Bearer``), so nobody on the network can even watch without it. There the
  page may have been opened by any name or address the machine answers to (``--host 0.0.0.0``,
  a DNS name), so its origin is recognised as the name the handshake's ``Host`` header gives,
  on the page's port; a page on another port or site is still refused, and a DNS-rebinding page
  carries neither the cookie nor the token.
"""

from __future__ import annotations

import asyncio
import ipaddress
import itertools
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http import HTTPStatus
from http.cookies import SimpleCookie
from typing import TYPE_CHECKING, Any

from ..errors import KalashiError
from ..httpserve import LOOPBACK_NAMES, host_name
from .backends import Backend, CommandRefused
from .page import COOKIE, PageServer
from .protocol import (
    REFUSED,
    Command,
    ProtocolError,
    ack_message,
    dumps,
    error_message,
    hello_message,
    progress_message,
    read_command,
    record_message,
    state_message,
    token_matches,
)

if TYPE_CHECKING:
    from websockets.asyncio.server import Server, ServerConnection
    from websockets.http11 import Request, Response

DEFAULT_WS_PORT = 8766
DEFAULT_HTTP_PORT = 3002
TOKEN_ENV = "KALASHI_BRIDGE_TOKEN"
#: kinds of record after which the page gets a fresh state (an iteration ended, a check changed)
STATE_AFTER = frozenset({"iteration", "metrics", "health"})
#: how many finished and running commands every state lists
COMMAND_LOG = 20
#: requests (commands, get_state) one connection may have waiting at once; beyond, its frames wait
#: to be read — so a client cannot queue unbounded work, yet a heartbeat or a halt sent during a
#: long flatten is still taken
IN_FLIGHT = 8


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address or ``localhost``."""
    if host.strip("[]") in ("localhost", *LOOPBACK_NAMES):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def new_token() -> str:
    """A fresh random control token (URL- and cookie-safe)."""
    return secrets.token_urlsafe(24)


def check_token(token: str) -> str:
    """Validate an operator-chosen token.

    Raises:
        ValueError: too short, or has characters that cannot travel in a URL or a cookie.
    """
    import re

    if not re.fullmatch(r"[A-Za-z0-9._~-]{12,256}", token):
        raise ValueError("a control token needs 12 to 256 characters from A-Z a-z 0-9 . _ ~ -")
    return token


@dataclass(frozen=True, slots=True)
class BridgeConfig:
    """Where the bridge listens and who may do what."""

    host: str = "127.0.0.1"
    ws_port: int = DEFAULT_WS_PORT
    http_port: int = DEFAULT_HTTP_PORT
    token: str | None = None  # None: no token at all (control open to anyone who may connect)
    read_only: bool = False
    view_needs_token: bool | None = None  # None: only beyond loopback
    queue_limit: int = 10_000  # messages; a client an iteration behind is caught up long before
    serve_page: bool = True
    server_name: str = "kalashi"
    ping_interval: float | None = 20
    ping_timeout: float | None = 20
    extra_origins: tuple[str, ...] = field(default=())
    progress_every_s: float = 2.0  # a command waiting or running says so at least this often

    @property
    def loopback(self) -> bool:
        return is_loopback(self.host)

    @property
    def viewing_needs_token(self) -> bool:
        if self.token is None:
            return False
        return (not self.loopback) if self.view_needs_token is None else self.view_needs_token


REPLY, RECORD, STATE = "reply", "record", "state"


@dataclass(eq=False)
class Client:
    """One connected browser (or script): its queue, its place in the record stream, its counters.

    Queue items are ``(what, number, text)``: a ``reply`` (hello, ack, error: never dropped), a
    ``record`` with its number, or a ``state`` with the number of the last record it includes.
    """

    ws: Any
    limit: int
    queue: deque[tuple[str, int, str]] = field(default_factory=deque)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    synced: bool = False  # has a state that covers every record before the ones queued after it
    need: int = 0  # while not synced: the lowest record number a state must cover
    held: deque[tuple[int, str]] = field(default_factory=deque)  # records waiting for that state
    sent: int = 0
    resyncs: int = 0
    dropped: int = 0
    slots: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(IN_FLIGHT))
    in_flight: int = 0  # requests taken and not yet answered

    def put(self, text: str, what: str = REPLY, number: int = 0) -> None:
        self.queue.append((what, number, text))
        self.wake.set()


class Hub:
    """Fan-out of records and states to clients; lives on the event loop thread.

    A synchronised client that still has the previous state unsent when the next one is ready
    is an iteration behind: its backlog is replaced by the new state and the records after it.
    A client whose queue passes ``limit`` messages even so (one enormous iteration) loses its
    backlog and waits, unsynchronised, for a state that covers what it lost.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.clients: set[Client] = set()
        self.last_seq = 0  # the number of the last record that reached the event loop
        self.state_wanted = asyncio.Event()

    def join(self, client: Client) -> None:
        client.need = self.last_seq
        self.clients.add(client)
        self.state_wanted.set()

    def leave(self, client: Client) -> None:
        self.clients.discard(client)

    def on_record(self, seq: int, record: dict[str, Any]) -> None:
        self.last_seq = seq
        if not self.clients:
            return
        text = dumps(record_message(record))
        for c in list(self.clients):
            if c.synced:
                c.put(text, RECORD, seq)
                if len(c.queue) > self.limit:
                    self.resync(c)
            else:
                c.held.append((seq, text))
                if len(c.held) > self.limit:
                    c.dropped += len(c.held)
                    c.held.clear()
                    c.need = seq
                    self.state_wanted.set()
        if record.get("kind") in STATE_AFTER:
            self.state_wanted.set()

    def resync(self, c: Client) -> None:
        """Drop a client's backlog (keeping replies); it waits for a state covering what it lost."""
        kept = deque(item for item in c.queue if item[0] == REPLY)
        c.dropped += len(c.queue) - len(kept)
        c.queue = kept
        c.synced = False
        c.held.clear()
        c.need = self.last_seq
        c.resyncs += 1
        self.state_wanted.set()

    def on_state(self, seq: int, state: dict[str, Any], only: Client | None = None) -> None:
        """Send a state built when record ``seq`` was the last published."""
        text = dumps(state_message(state))
        for c in [only] if only is not None else list(self.clients):
            if c not in self.clients:
                continue
            if c.synced:
                if any(what == STATE for what, _, _ in c.queue):
                    self._catch_up(c, seq, text)
                else:
                    c.put(text, STATE, seq)
                if len(c.queue) > self.limit:
                    self.resync(c)
            elif seq >= c.need:
                c.put(text, STATE, seq)
                for s, rec_text in c.held:
                    if s > seq:
                        c.put(rec_text, RECORD, s)
                c.held.clear()
                c.synced = True
            elif only is not None:  # a get_state answer is due even if it cannot resync the client
                c.put(text)

    @staticmethod
    def _catch_up(c: Client, seq: int, text: str) -> None:
        """Replace a lagging client's backlog by this state and the records that came after it."""
        replies = [item for item in c.queue if item[0] == REPLY]
        later = [item for item in c.queue if item[0] == RECORD and item[1] > seq]
        c.dropped += len(c.queue) - len(replies) - len(later)
        c.queue = deque([*replies, (STATE, seq, text), *later])
        c.resyncs += 1
        c.wake.set()


def _wall_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(eq=False)
class CommandEntry:
    """One control command the bridge accepted: what it is, how far it got, how it ended."""

    ref: str
    cmd: str
    args: dict[str, Any]
    accepted_ms: int = field(default_factory=_wall_ms)  # wall clock
    accepted_at: float = field(default_factory=time.monotonic)
    status: str = "queued"  # queued → running → done | failed
    finished_ms: int | None = None
    progress: dict[str, Any] | None = None
    result: dict[str, Any] | None = None
    error: str | None = None

    def elapsed_ms(self) -> int:
        return int((time.monotonic() - self.accepted_at) * 1000)

    def to_dict(self) -> dict[str, Any]:
        from ..records import iso

        return {
            "ref": self.ref,
            "cmd": self.cmd,
            "args": self.args,
            "status": self.status,
            "started": iso(self.accepted_ms),
            "finished": iso(self.finished_ms) if self.finished_ms is not None else None,
            "elapsed_ms": (self.finished_ms - self.accepted_ms) if self.finished_ms is not None else self.elapsed_ms(),
            "progress": self.progress,
            "result": self.result,
            "error": self.error,
        }


def _progress_fields(update: dict[str, Any]) -> dict[str, Any]:
    """A backend's progress update as plain JSON values (message, done, total, detail)."""

    def plain(v: Any) -> Any:
        return v if v is None or isinstance(v, (str, int, float, bool)) else str(v)

    done, total = update.get("done"), update.get("total")
    return {
        "message": str(update.get("message", "")),
        "done": done if type(done) is int else None,
        "total": total if type(total) is int else None,
        "detail": {k: plain(v) for k, v in update.items() if k not in ("message", "done", "total")},
    }


class BridgeServer:
    """The WebSocket bridge and the dashboard page, over one backend."""

    def __init__(self, backend: Backend, config: BridgeConfig | None = None) -> None:
        self.backend = backend
        self.config = config or BridgeConfig()
        self.hub = Hub(self.config.queue_limit)
        self.page: PageServer | None = None
        self._ws: Server | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kalashi-bridge")
        self._seq = itertools.count(1)
        self._seq_lock = threading.Lock()
        self._published = 0
        self._unsubscribe: Callable[[], None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closed = asyncio.Event()
        self.states_built = 0
        self._refs = itertools.count(1)
        self._last_state: dict[str, Any] | None = None  # the last state sent (without the command log)
        self.commands: deque[CommandEntry] = deque(maxlen=COMMAND_LOG)  # newest last; event loop thread only

    # -- addresses ------------------------------------------------------------------------------
    @property
    def ws_port(self) -> int:
        assert self._ws is not None, "the bridge is not started"
        return int(self._ws.sockets[0].getsockname()[1])

    @property
    def http_port(self) -> int | None:
        return self.page.port if self.page is not None else None

    def _url_host(self) -> str:
        h = self.config.host
        if h in ("0.0.0.0", "::", ""):
            return "127.0.0.1"
        return f"[{h}]" if ":" in h and not h.startswith("[") else h

    @property
    def ws_url(self) -> str:
        return f"ws://{self._url_host()}:{self.ws_port}/"

    @property
    def page_url(self) -> str | None:
        return f"http://{self._url_host()}:{self.http_port}/" if self.page is not None else None

    def origins(self) -> set[str]:
        """Origins allowed to open the WebSocket: the page's own, on every name it answers to."""
        out = set(self.config.extra_origins)
        port = self.http_port
        if port is not None:
            hosts = ("127.0.0.1", "localhost", "[::1]") if self.config.loopback else (self._url_host(),)
            out.update(f"http://{h}:{port}" for h in hosts)
        return out

    def origin_allowed(self, origin: str, host_header: str) -> bool:
        """Whether a handshake's ``Origin`` is the dashboard page served by this bridge.

        On loopback: one of :meth:`origins`. Beyond loopback, where the handshake also needs the
        token, the page may have been opened by any name the machine answers to, so the origin
        ``http://NAME:PAGE_PORT`` where NAME is the handshake's own ``Host`` is the page's too.
        """
        if origin in self.origins():
            return True
        port = self.http_port
        if port is None or self.config.loopback or not self.config.viewing_needs_token:
            return False
        name = host_name(host_header.strip()).lower()
        if not name:
            return False
        # a browser leaves the default port out of an origin
        return origin.lower() in (
            {f"http://{name}:{port}", f"http://{name}"} if port == 80 else {f"http://{name}:{port}"}
        )

    # -- life cycle -----------------------------------------------------------------------------
    async def start(self) -> None:
        """Bind the page and the WebSocket, subscribe to the backend and start it.

        Raises:
            OSError: a port is taken or an address cannot be bound.
        """
        from websockets.asyncio.server import serve

        self._loop = asyncio.get_running_loop()
        cfg = self.config
        if cfg.serve_page:
            self.page = PageServer(
                cfg.host,
                cfg.http_port,
                ws_port=lambda: self.ws_port,
                read_only=cfg.read_only,
                token=cfg.token,
                token_for_page=cfg.viewing_needs_token,
                loopback=cfg.loopback,
            )
            self.page.start()
        try:
            self._ws = await serve(
                self._handle,
                cfg.host.strip("[]"),
                cfg.ws_port,
                process_request=self._admit,
                max_size=64 * 1024,
                ping_interval=cfg.ping_interval,
                ping_timeout=cfg.ping_timeout,
                close_timeout=2,
                server_header=None,
            )
        except BaseException:
            if self.page is not None:
                self.page.close()
            raise
        self._unsubscribe = self.backend.subscribe(self._listener)
        self._spawn(self._refresher())
        await self._in_worker(self.backend.begin)

    async def close(self) -> None:
        """Stop taking connections, stop the backend (its loop finishes the current step), close."""
        if self._closed.is_set():
            return
        self._closed.set()
        if self._unsubscribe is not None:
            self._unsubscribe()
        if self._ws is not None:
            self._ws.close()
            await self._ws.wait_closed()
        for t in list(self._tasks):
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._in_worker(self.backend.close)
        self._worker.shutdown(wait=True)
        if self.page is not None:
            await asyncio.to_thread(self.page.close)

    def stats(self) -> list[dict[str, Any]]:
        """Per-client counters (queued, sent, resyncs, dropped) — for tests and the curious."""
        return [
            {
                "queued": len(c.queue),
                "held": len(c.held),
                "sent": c.sent,
                "resyncs": c.resyncs,
                "dropped": c.dropped,
                "synced": c.synced,
                "in_flight": c.in_flight,
            }
            for c in self.hub.clients
        ]

    # -- from the backend's threads -----------------------------------------------------------------
    def _listener(self, record: dict[str, Any]) -> None:
        """Number a record and hand it to the event loop; never blocks the trading thread."""
        loop = self._loop
        if loop is None or record.get("kind") == "market":
            return
        with self._seq_lock:
            seq = next(self._seq)
            self._published = seq
            try:
                loop.call_soon_threadsafe(self.hub.on_record, seq, record)
            except RuntimeError:  # the event loop is closing: nobody is listening any more
                pass

    def _snapshot(self) -> tuple[int, dict[str, Any]]:
        """Build a state and the number of the last record it includes (worker thread)."""
        with self.backend.locked():
            with self._seq_lock:
                seq = self._published
            state = self.backend.state()
        self.states_built += 1
        return seq, state

    async def _in_worker(self, fn: Callable[..., Any], *args: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._worker, fn, *args)

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _refresher(self) -> None:
        """Build and send a state whenever one is wanted (coalescing what piles up meanwhile)."""
        wanted = self.hub.state_wanted
        while True:
            await wanted.wait()
            wanted.clear()
            if not self.hub.clients:
                continue
            try:
                seq, state = await self._in_worker(self._snapshot)
            except Exception as e:  # noqa: BLE001 - a failed read must not end the bridge
                self.hub.on_record(
                    self.hub.last_seq,
                    {
                        "kind": "health",
                        "v": 1,
                        "name": "bridge",
                        "status": "degraded",
                        "detail": f"could not assemble the state: {e}",
                    },
                )
                continue
            self._send_state(seq, state)

    def _command_log(self) -> list[dict[str, Any]]:
        return [e.to_dict() for e in reversed(self.commands)]

    def _send_state(self, seq: int, state: dict[str, Any], only: Client | None = None) -> None:
        """Send a state, with the command log as it stands now (event loop thread)."""
        self._last_state = state
        self.hub.on_state(seq, {**state, "commands": self._command_log()}, only=only)

    def _busy(self) -> bool:
        return any(e.status in ("queued", "running") for e in self.commands)

    # -- connections ------------------------------------------------------------------------------
    def _admit(self, connection: ServerConnection, request: Request) -> Response | None:
        """Refuse handshakes from other origins, and (beyond loopback) without the token."""
        origin = request.headers.get("Origin")
        if origin is not None and not self.origin_allowed(origin, request.headers.get("Host", "")):
            return connection.respond(HTTPStatus.FORBIDDEN, f"origin {origin} may not connect to this bridge\n")
        if self.config.viewing_needs_token and not self._handshake_token_ok(request):
            return connection.respond(
                HTTPStatus.UNAUTHORIZED,
                "this bridge needs the token to connect: open the "
                "dashboard as /?token=TOKEN, or send Authorization: Bearer TOKEN\n",
            )
        return None

    def _handshake_token_ok(self, request: Request) -> bool:
        token = self.config.token
        if token is None:
            return True
        auth = request.headers.get("Authorization", "")
        if auth.startswith("Bearer ") and token_matches(token, auth[7:].strip()):
            return True
        jar = SimpleCookie()
        try:
            jar.load(request.headers.get("Cookie", ""))
        except Exception:  # noqa: BLE001 - a malformed cookie header is just no cookie
            return False
        morsel = jar.get(COOKIE)
        return morsel is not None and token_matches(token, morsel.value)

    async def _handle(self, ws: ServerConnection) -> None:
        from websockets.exceptions import ConnectionClosed

        cfg = self.config
        client = Client(ws, cfg.queue_limit)
        client.put(
            dumps(
                hello_message(
                    f"{cfg.server_name} {_version()}", read_only=cfg.read_only, token_required=cfg.token is not None
                )
            )
        )
        self.hub.join(client)
        if self._busy() and self._last_state is not None:
            # no fresh state can be built until the command in hand ends (it holds the backend):
            # meanwhile show the last one, with the command log that says what is running. The
            # client stays unsynchronised, so the first fresh state still brings it exactly current.
            client.put(dumps(state_message({**self._last_state, "commands": self._command_log()})))
        sender = self._spawn(self._send_loop(client))
        try:
            async for frame in ws:
                await self._on_frame(client, frame)
        except ConnectionClosed:
            pass
        finally:
            self.hub.leave(client)
            sender.cancel()

    async def _send_loop(self, c: Client) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            while True:
                await c.wake.wait()
                c.wake.clear()
                while c.queue:
                    _, _, text = c.queue.popleft()
                    await c.ws.send(text)
                    c.sent += 1
        except ConnectionClosed:
            pass

    async def _on_frame(self, c: Client, frame: str | bytes) -> None:
        cfg = self.config
        try:
            cmd = read_command(frame, token=cfg.token, read_only=cfg.read_only)
        except ProtocolError as e:
            c.put(dumps(e.to_message()))
            return
        # answered by tasks of their own: the connection is read on while a command runs (a
        # heartbeat's get_state, a halt behind a long flatten); the one worker keeps them in order
        await c.slots.acquire()
        c.in_flight += 1
        self._spawn(
            self._released(c, self._answer_get_state(c, cmd) if cmd.cmd == "get_state" else self._run_command(c, cmd))
        )

    @staticmethod
    async def _released(c: Client, request: Any) -> None:
        try:
            await request
        finally:
            c.in_flight -= 1
            c.slots.release()

    async def _answer_get_state(self, c: Client, cmd: Command) -> None:
        try:
            seq, state = await self._in_worker(self._snapshot)
        except Exception as e:  # noqa: BLE001 - report, never crash the bridge
            c.put(dumps(error_message(cmd.id, REFUSED, f"could not assemble the state: {e}")))
            return
        self._send_state(seq, state, only=c)
        c.put(dumps(ack_message(cmd.id, {})))

    def _tell(self, c: Client, cmd: Command, entry: CommandEntry) -> None:
        """Send the sender where its command stands (event loop thread)."""
        p = entry.progress or {}
        message = p.get("message") or (
            "waiting for the command before it to finish" if entry.status == "queued" else f"{cmd.cmd} is running"
        )
        c.put(
            dumps(
                progress_message(
                    cmd.id,
                    entry.ref,
                    cmd.cmd,
                    entry.status,
                    entry.elapsed_ms(),
                    message,
                    p.get("done"),
                    p.get("total"),
                    p.get("detail"),
                )
            )
        )

    async def _run_command(self, c: Client, cmd: Command) -> None:
        loop = asyncio.get_running_loop()
        entry = CommandEntry(f"c{next(self._refs)}", cmd.cmd, dict(cmd.args))
        self.commands.append(entry)
        self._tell(c, cmd, entry)

        def running() -> None:
            entry.status = "running"
            self._tell(c, cmd, entry)

        def stepped(update: dict[str, Any]) -> None:
            entry.progress = _progress_fields(update)
            self._tell(c, cmd, entry)

        def progress(update: dict[str, Any]) -> None:  # worker thread
            try:
                loop.call_soon_threadsafe(stepped, dict(update))
            except RuntimeError:  # the event loop is closing
                pass

        def work() -> tuple[dict[str, Any] | None, str | None, tuple[int, dict[str, Any]]]:
            loop.call_soon_threadsafe(running)
            try:
                result: dict[str, Any] | None = self.backend.execute(cmd.cmd, cmd.args, progress)
                problem = None
            except CommandRefused as e:
                result, problem = None, str(e)
            except KalashiError as e:
                result, problem = None, str(e)
            return result, problem, self._snapshot()

        task = asyncio.ensure_future(self._in_worker(work))
        while not task.done():
            await asyncio.wait({task}, timeout=self.config.progress_every_s)
            if not task.done():
                self._tell(c, cmd, entry)  # still queued or running: say so, so the page knows we are alive
        entry.finished_ms = _wall_ms()
        try:
            result, problem, (seq, state) = task.result()
        except Exception as e:  # noqa: BLE001 - report, never crash the bridge
            entry.status, entry.error = "failed", f"{cmd.cmd} failed: {type(e).__name__}: {e}"
            c.put(dumps(error_message(cmd.id, REFUSED, entry.error, entry.ref)))
            self.hub.state_wanted.set()
            return
        if result is None:
            entry.status, entry.error = "failed", problem or f"{cmd.cmd} was refused"
            c.put(dumps(error_message(cmd.id, REFUSED, entry.error, entry.ref)))
        else:
            entry.status, entry.result = "done", result
            c.put(dumps(ack_message(cmd.id, result, entry.ref)))
        self._send_state(seq, state)


def _version() -> str:
    from .. import __version__

    return __version__


async def serve_until(
    server: BridgeServer, stop: asyncio.Event, on_ready: Callable[[BridgeServer], None] | None = None
) -> None:
    """Start the bridge, call ``on_ready``, run until ``stop`` is set, then close it cleanly."""
    try:
        await server.start()
        if on_ready is not None:
            on_ready(server)
        await stop.wait()
    finally:
        await server.close()
