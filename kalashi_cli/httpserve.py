"""One small read-only HTTP server for kalashi's local pages: the dashboard page and heal's status.

A stdlib ``ThreadingHTTPServer`` (IPv4 or IPv6) serving in a background thread. It answers GET and
HEAD only (anything else gets the stdlib's 501) by calling one function, ``handle(Request) ->
Response``; HEAD sends the same headers without the body. Every reply carries ``Content-Length``
and the ``Server`` name given, and the connection is HTTP/1.1 (kept alive). A handler that raises
answers 500 and the server goes on. Callers decide their own policy with the helpers here: a
server bound to loopback should refuse a ``Host`` header that is not a loopback name
(:func:`loopback_host`), so that a DNS-rebinding page cannot read it.

Used by :mod:`kalashi_cli.bridge.page` and :mod:`kalashi_cli.heal.status_server`.
"""

from __future__ import annotations

import http.server
import logging
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import Message
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import orjson

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]", "::1")
TEXT = "text/plain; charset=utf-8"
JSON = "application/json"  # RFC 8259: always UTF-8, no charset parameter

log = logging.getLogger("kalashi.http")


def host_name(host_header: str) -> str:
    """The host part of a ``Host`` header (``127.0.0.1:3002`` → ``127.0.0.1``, ``[::1]:80`` → ``[::1]``)."""
    if host_header.startswith("["):
        return host_header[: host_header.find("]") + 1] if "]" in host_header else host_header
    return host_header.rsplit(":", 1)[0] if ":" in host_header else host_header


def loopback_host(host_header: str) -> bool:
    """Whether a ``Host`` header names a loopback address."""
    return host_name(host_header) in LOOPBACK_NAMES


@dataclass(frozen=True)
class Request:
    """What a handler sees of a GET or HEAD request."""

    method: str
    target: str  # the request target as sent (path and query, not normalised)
    headers: Message  # case-insensitive, as http.server parsed them

    @property
    def host(self) -> str:
        """The ``Host`` header as sent ("" when absent)."""
        return str(self.headers.get("Host", "") or "")

    @property
    def path(self) -> str:
        """The target's path, percent-decoded."""
        return unquote(urlsplit(self.target).path)

    def query(self, name: str) -> str | None:
        """The first value of query parameter ``name``, or None."""
        return parse_qs(urlsplit(self.target).query).get(name, [None])[0]


@dataclass
class Response:
    status: int
    body: bytes
    content_type: str
    headers: dict[str, str] = field(default_factory=dict)


def text(status: int, body: str, **headers: str) -> Response:
    """A plain-text answer."""
    return Response(status, body.encode(), TEXT, dict(headers))


def json_response(status: int, obj: Any, **headers: str) -> Response:
    """A JSON answer (orjson; what JSON cannot carry is written as text)."""
    return Response(status, orjson.dumps(obj, default=str, option=orjson.OPT_NON_STR_KEYS), JSON, dict(headers))


class _Server4(http.server.ThreadingHTTPServer):
    daemon_threads = True


class _Server6(_Server4):
    address_family = socket.AF_INET6


class HttpServer:
    """Serve ``handle`` on ``host:port`` from a daemon thread (port 0: the system picks one)."""

    def __init__(
        self,
        host: str,
        port: int,
        handle: Callable[[Request], Response],
        *,
        name: str,
        server_version: str,
        access_log: logging.Logger | None = None,
    ) -> None:
        self.host = host.strip("[]")
        self.requested_port = port
        self.handle = handle
        self.name = name
        self.server_version = server_version
        self.access_log = access_log
        self._httpd: _Server4 | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        assert self._httpd is not None, f"the {self.name} server is not started"
        return int(self._httpd.server_address[1])

    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> int:
        """Bind and serve in a thread; return the port.

        Raises:
            OSError: the address is taken or cannot be bound.
        """
        cls = _Server6 if ":" in self.host else _Server4
        self._httpd = cls((self.host, self.requested_port), _handler_class(self))
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name=self.name, daemon=True
        )
        self._thread.start()
        return self.port

    def close(self) -> None:
        """Stop serving and release the port (idempotent)."""
        httpd, self._httpd = self._httpd, None
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None


def _handler_class(server: HttpServer) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        server_version = server.server_version
        sys_version = ""
        protocol_version = "HTTP/1.1"

        def version_string(self) -> str:
            return self.server_version

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
            if server.access_log is not None:  # never on stderr by default: the terminal is the loop's
                server.access_log.debug(f"{server.name}: {format}", *args)

        def do_HEAD(self) -> None:  # noqa: N802 - the stdlib's name
            self._answer()

        def do_GET(self) -> None:  # noqa: N802
            self._answer()

        def _answer(self) -> None:
            req = Request(self.command, self.path, self.headers)
            try:
                resp = server.handle(req)
            except Exception:  # a handler's bug answers 500; the server thread goes on
                log.exception("%s: %s %s failed", server.name, self.command, self.path)
                resp = text(500, "internal error\n", **{"Cache-Control": "no-store"})
            self.send_response(resp.status)
            self.send_header("Content-Type", resp.content_type)
            self.send_header("Content-Length", str(len(resp.body)))
            for k, v in resp.headers.items():
                self.send_header(k, v)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(resp.body)

    return Handler
