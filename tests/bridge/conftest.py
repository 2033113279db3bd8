"""Bridge test helpers: a bridge on ephemeral loopback ports in a thread, a protocol client, schemas.

Every wait is on a message or a condition with a bound; nothing sleeps to wait.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import needs
import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from kalashi_cli.bridge.backends import Backend, ServiceBackend
from kalashi_cli.bridge.server import BridgeConfig, BridgeServer
from kalashi_cli.service import TradingService

ROOT = Path(__file__).resolve().parents[2]
PROTOCOL = ROOT / "kalashi_cli" / "bridge" / "protocol"
RECORD_SCHEMAS = ROOT / "kalashi_cli" / "schemas" / "records"
SIM = "sim:seed=1,markets=300"
TOKEN = "test-token-0123456789"
WAIT = 20.0  # seconds: the bound on any single wait (generous for a loaded CI machine)


# -- tools the browser tests need ---------------------------------------------------------------------


in_ci = needs.in_ci


def require_tool(present: bool, why: str, *, what: str = "chromium") -> None:
    """Skip a test whose tool (``what``) is missing, except in CI: there a missing tool fails it.

    So "the browser test passes in CI" cannot be met by a skip when the apt step failed
    (tests/needs.py; the session's summary line counts the skips).
    """
    needs.require(present, what, why)


# -- schemas -------------------------------------------------------------------------------------


class ProtocolSchemas:
    """Validate server messages against the protocol's JSON Schemas (records by their kind's schema)."""

    def __init__(self) -> None:
        resources = []
        for path in [*PROTOCOL.glob("*.json"), *RECORD_SCHEMAS.glob("*.json")]:
            schema = json.loads(path.read_text(encoding="utf-8"))
            resources.append((schema["$id"], Resource.from_contents(schema)))
        registry = Registry().with_resources(resources)
        self.validators = {
            name: Draft202012Validator(
                json.loads((PROTOCOL / f"{name}.json").read_text(encoding="utf-8")), registry=registry
            )
            for name in ("hello", "state", "record", "ack", "error", "progress", "command")
        }

    def check(self, msg: dict[str, Any]) -> dict[str, Any]:
        """Raise if ``msg`` does not match the schema of its type; return it."""
        errors = sorted(self.validators[msg["type"]].iter_errors(msg), key=lambda e: list(e.absolute_path))
        if errors:
            first = errors[0]
            raise AssertionError(
                f"{msg['type']} message breaks its schema at {list(first.absolute_path)}: {first.message[:300]}"
            )
        return msg


@pytest.fixture(scope="session")
def schemas() -> ProtocolSchemas:
    return ProtocolSchemas()


# -- a bridge in a thread ----------------------------------------------------------------------------


class RunningBridge:
    """A :class:`BridgeServer` served by its own event loop in a background thread."""

    def __init__(self, server: BridgeServer) -> None:
        self.server = server
        self.loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="test-bridge", daemon=True)
        self._thread.start()
        assert self._ready.wait(WAIT), "the bridge did not start"
        if self._error is not None:
            raise self._error

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self.server.start())
        except BaseException as e:  # noqa: BLE001 - handed to the test thread
            self._error = e
            self.loop.run_until_complete(self.server.close())
            self._ready.set()
            return
        self._ready.set()
        self.loop.run_forever()

    @property
    def ws_url(self) -> str:
        return self.server.ws_url

    @property
    def page_url(self) -> str:
        url = self.server.page_url
        assert url is not None
        return url

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.server.http_port}"

    def call(self, fn: Callable[[], Any]) -> Any:
        """Run ``fn`` on the bridge's event loop and return its result (to read hub state safely)."""

        async def run() -> Any:
            return fn()

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(WAIT)

    def stop(self) -> None:
        if self.loop.is_closed():
            return
        asyncio.run_coroutine_threadsafe(self.server.close(), self.loop).result(60)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(WAIT)
        self.loop.close()


@pytest.fixture
def start_bridge() -> Iterator[Callable[..., RunningBridge]]:
    """Start bridges over a backend on ephemeral ports; all are closed after the test."""
    running: list[RunningBridge] = []

    def start(backend: Backend, **config: Any) -> RunningBridge:
        config.setdefault("ws_port", 0)
        config.setdefault("http_port", 0)
        config.setdefault("token", TOKEN)
        b = RunningBridge(BridgeServer(backend, BridgeConfig(**config)))
        running.append(b)
        return b

    yield start
    for b in reversed(running):
        b.stop()


@pytest.fixture
def service(tmp_path: Path) -> Iterator[TradingService]:
    """A paper TradingService on a small sim, journal in tmp_path, no waiting between iterations."""
    svc = TradingService("default", source=SIM, journal_path=tmp_path / "journal.sqlite", interval=0)
    yield svc
    svc.close()


@pytest.fixture
def idle_bridge(service: TradingService, start_bridge: Callable[..., RunningBridge]) -> RunningBridge:
    """A bridge over a service whose loop is not running (tests drive iterations themselves)."""
    return start_bridge(ServiceBackend(service, autostart=False))


# -- a protocol client ---------------------------------------------------------------------------------


class Client:
    """A blocking WebSocket client speaking the bridge protocol; every message is schema-checked."""

    def __init__(self, url: str, schemas: ProtocolSchemas, *, check: bool = True, **kwargs: Any) -> None:
        from websockets.sync.client import connect

        # entered as a context manager: websockets ≥ 17.1 warns about a bare connect()
        self.ws = connect(url, open_timeout=WAIT, close_timeout=5, **kwargs).__enter__()
        self.schemas = schemas
        self.check = check
        self.next_id = 1
        self.seen: list[dict[str, Any]] = []

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.ws.close()

    def recv(self, timeout: float = WAIT) -> dict[str, Any]:
        msg = json.loads(self.ws.recv(timeout=timeout))
        if self.check:
            self.schemas.check(msg)
        self.seen.append(msg)
        return msg

    def until(self, pred: Callable[[dict[str, Any]], bool], timeout: float = WAIT) -> dict[str, Any]:
        """Read messages until one satisfies ``pred``; return it."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no matching message within {timeout} s")
            msg = self.recv(left)
            if pred(msg):
                return msg

    def send(self, cmd: str, *, token: str | None = TOKEN, **args: Any) -> int:
        id_ = self.next_id
        self.next_id += 1
        msg: dict[str, Any] = {"id": id_, "cmd": cmd, "args": args}
        if token is not None:
            msg["token"] = token
        self.schemas.validators["command"].validate(msg)  # what the tests send is what the protocol allows
        self.ws.send(json.dumps(msg))
        return id_

    def answer(self, id_: int, timeout: float = WAIT) -> dict[str, Any]:
        """The ack or error for command ``id_``, read already or still to come.

        Commands run one at a time in the order they came, but their answers are sent by tasks
        of their own: a quick command queued behind a long one may be answered a moment before
        it (on a loaded machine it was), so one read past while waiting for another still counts.
        """

        def is_answer(m: dict[str, Any]) -> bool:
            return m["type"] in ("ack", "error") and m.get("id") == id_

        return next((m for m in self.seen if is_answer(m)), None) or self.until(is_answer, timeout)

    def command(self, cmd: str, *, token: str | None = TOKEN, **args: Any) -> dict[str, Any]:
        return self.answer(self.send(cmd, token=token, **args))

    def welcome(self) -> dict[str, Any]:
        """Read hello and the first state (they must come first, in that order); return the state."""
        hello = self.recv()
        assert hello["type"] == "hello", hello
        state = self.recv()
        assert state["type"] == "state", state
        return state["state"]


@pytest.fixture
def connect(schemas: ProtocolSchemas) -> Iterator[Callable[..., Client]]:
    clients: list[Client] = []

    def open_client(url: str, **kwargs: Any) -> Client:
        c = Client(url, schemas, **kwargs)
        clients.append(c)
        return c

    yield open_client
    for c in clients:
        c.close()


# -- serve-bridge as a real process -------------------------------------------------------------------


class BridgeProcess:
    """``kalashi serve-bridge`` in a subprocess on free ports; stderr is read line by line in a thread."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        import queue
        import subprocess
        import sys

        self.lines: queue.Queue[str | None] = queue.Queue()
        self.stderr: list[str] = []
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "kalashi_cli",
                "serve-bridge",
                "--ws-port",
                "0",
                "--http-port",
                "0",
                "--no-open",
                *args,
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            text=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.page_url = self.wait_for("  dashboard  ").split()[1]
        self.ws_url = self.wait_for("  websocket  ").split()[1]

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr.append(line)
            self.lines.put(line)
        self.lines.put(None)  # end of stderr: the process is gone

    def wait_for(self, prefix: str, timeout: float = WAIT) -> str:
        """The next stderr line starting with ``prefix``."""
        import queue

        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"serve-bridge did not print {prefix!r}; stderr so far: {''.join(self.stderr)}")
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                raise AssertionError(
                    f"serve-bridge exited ({self.proc.wait(WAIT)}) before printing {prefix!r}: {''.join(self.stderr)}"
                )
            if line.startswith(prefix):
                return line.rstrip("\n")

    def interrupt(self, timeout: float = 60) -> int:
        """Ctrl-C, and the exit code once it has stopped."""
        import signal

        self.proc.send_signal(signal.SIGINT)
        return self.proc.wait(timeout)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(WAIT)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()


@pytest.fixture
def run_bridge_process(tmp_path: Path) -> Iterator[Callable[..., BridgeProcess]]:

    started: list[BridgeProcess] = []

    def start(*args: str, env: dict[str, str] | None = None) -> BridgeProcess:
        full = {k: v for k, v in os.environ.items() if k != "KALASHI_BRIDGE_TOKEN"}
        full.update({"KALASHI_HOME": str(tmp_path / "home"), "PYTHONUNBUFFERED": "1", **(env or {})})
        p = BridgeProcess(list(args), full)
        started.append(p)
        return p

    yield start
    for p in started:
        p.close()


# -- a backend that plays a scripted state (page tests that need exact shapes or slow commands) ----------


FIXTURE_STATE = ROOT / "dashboard" / "fixtures" / "state-paper.json"


class ScriptedBackend:
    """A backend serving a state the test sets, whose commands the test scripts.

    ``commands[name]`` is called as ``fn(args, progress)`` in the bridge's worker thread and
    returns the ack's result (or raises :class:`CommandRefused`); ``state_ready`` lets a test
    hold the first state back (a page that is still loading).
    """

    mode = "paper"

    def __init__(self, state: dict[str, Any] | None = None) -> None:
        import copy

        self.current: dict[str, Any] = (
            state if state is not None else json.loads(FIXTURE_STATE.read_text(encoding="utf-8"))
        )
        self._copy = copy.deepcopy
        self._lock = threading.RLock()
        self._listeners: list[Callable[[dict[str, Any]], None]] = []
        self.commands: dict[str, Callable[[dict[str, Any], Callable[[dict[str, Any]], None]], dict[str, Any]]] = {}
        self.state_ready = threading.Event()
        self.state_ready.set()
        self.executed: list[str] = []

    def subscribe(self, fn: Callable[[dict[str, Any]], None]) -> Callable[[], None]:
        self._listeners.append(fn)
        return lambda: self._listeners.remove(fn) if fn in self._listeners else None

    def publish(self, record: dict[str, Any]) -> None:
        with self._lock:
            for fn in list(self._listeners):
                fn(record)

    def locked(self) -> Any:
        return self._lock

    def state(self) -> dict[str, Any]:
        assert self.state_ready.wait(60), "the test never let the first state go"
        return self._copy(self.current)

    def execute(
        self, cmd: str, args: dict[str, Any], progress: Callable[[dict[str, Any]], None] | None = None
    ) -> dict[str, Any]:
        from kalashi_cli.bridge.backends import CommandRefused

        self.executed.append(cmd)
        fn = self.commands.get(cmd)
        if fn is None:
            raise CommandRefused(f"this test bridge does not {cmd}")
        return fn(args, progress or (lambda _u: None))

    def begin(self) -> None:
        pass

    def close(self) -> None:
        self.state_ready.set()

    def describe(self) -> str:
        return "a scripted test backend"
