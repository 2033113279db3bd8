"""The dashboard page: the shipped static build plus a generated ``config.json``, on its own port.

A small stdlib HTTP server in a thread (docs/bridge-protocol.md §1): ``/`` is ``index.html``,
other paths name files under ``kalashi_cli/bridge/static/`` (read through ``importlib.resources``,
so it works from a wheel), ``/config.json`` tells the page where the WebSocket is. Only GET and
HEAD. Headers keep the page from being framed, sniffed or pointed at another bridge:
``X-Frame-Options: DENY``, ``X-Content-Type-Options: nosniff``, ``Referrer-Policy: no-referrer``
and a Content-Security-Policy whose ``connect-src`` names only this bridge's WebSocket.

On loopback the ``Host`` header must name a loopback address (a DNS-rebinding page cannot read
``config.json``). Beyond loopback (``--host``), the page itself needs the token: opened once as
``/?token=T`` it sets an HttpOnly, SameSite=Strict cookie that the WebSocket handshake then
carries (see ``server.py``).
"""

from __future__ import annotations

import http.server
import json
import socket
import threading
from collections.abc import Callable
from http.cookies import SimpleCookie
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from .protocol import token_matches

COOKIE = "kalashi_bridge_token"
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]", "::1")

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml; charset=utf-8",
    ".json": "application/json; charset=utf-8",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".woff2": "font/woff2",
    ".txt": "text/plain; charset=utf-8",
    ".map": "application/json; charset=utf-8",
}


def static_root() -> Traversable:
    """The shipped dashboard build."""
    return resources.files("kalashi_cli.bridge") / "static"


def host_name(host_header: str) -> str:
    """The host part of a ``Host`` header (``127.0.0.1:3002`` → ``127.0.0.1``, ``[::1]:80`` → ``[::1]``)."""
    if host_header.startswith("["):
        return host_header[: host_header.find("]") + 1] if "]" in host_header else host_header
    return host_header.rsplit(":", 1)[0] if ":" in host_header else host_header


class PageServer:
    """Serve the dashboard and its ``config.json`` in a background thread."""

    def __init__(self, host: str, port: int, *, ws_port: Callable[[], int], read_only: bool,
                 token: str | None = None, token_for_page: bool = False, loopback: bool = True,
                 root: Traversable | None = None) -> None:
        self.host = host
        self.requested_port = port
        self.ws_port = ws_port
        self.read_only = read_only
        self.token = token
        self.token_for_page = token_for_page and token is not None
        self.loopback = loopback
        self.root = root if root is not None else static_root()
        self._httpd: http.server.ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        assert self._httpd is not None, "the page server is not started"
        return int(self._httpd.server_address[1])

    def start(self) -> int:
        """Bind and serve in a thread; return the port (useful with port 0).

        Raises:
            OSError: the address is taken or cannot be bound.
        """
        handler = _make_handler(self)
        httpd_cls = _V6Server if ":" in self.host else http.server.ThreadingHTTPServer
        self._httpd = httpd_cls((self.host.strip("[]"), self.requested_port), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="kalashi-page", daemon=True)
        self._thread.start()
        return self.port

    def close(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(5)

    def config_for(self, page_host: str) -> dict[str, Any]:
        """What ``config.json`` says to a page loaded from ``page_host``."""
        return {"ws_url": f"ws://{page_host}:{self.ws_port()}/", "read_only": self.read_only}

    def allowed_host(self, host_header: str) -> bool:
        if not self.loopback:
            return True
        return host_name(host_header) in LOOPBACK_NAMES


class _V6Server(http.server.ThreadingHTTPServer):
    address_family = socket.AF_INET6


def _make_handler(site: PageServer) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        server_version = "kalashi-bridge"
        sys_version = ""
        protocol_version = "HTTP/1.1"

        def version_string(self) -> str:
            return self.server_version

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
            return  # no access log on stderr: the terminal belongs to the loop's status line

        def do_HEAD(self) -> None:  # noqa: N802 - the stdlib's name
            self._serve(head=True)

        def do_GET(self) -> None:  # noqa: N802
            self._serve(head=False)

        def _reply(self, code: int, body: bytes, content_type: str, *, head: bool,
                   extra: dict[str, str] | None = None) -> None:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("X-Content-Type-Options", "nosniff")
            self.send_header("X-Frame-Options", "DENY")
            self.send_header("Referrer-Policy", "no-referrer")
            page_host = host_name(self.headers.get("Host", "")) or site.host
            self.send_header("Content-Security-Policy",
                             "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
                             "img-src 'self' data:; font-src 'self' data:; "
                             f"connect-src 'self' ws://{page_host}:{site.ws_port()}; "
                             "frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
            for k, v in (extra or {}).items():
                self.send_header(k, v)
            self.end_headers()
            if not head:
                self.wfile.write(body)

        def _text(self, code: int, text: str, *, head: bool) -> None:
            self._reply(code, text.encode(), "text/plain; charset=utf-8", head=head,
                        extra={"Cache-Control": "no-store"})

        def _cookie_token(self) -> str | None:
            jar = SimpleCookie()
            try:
                jar.load(self.headers.get("Cookie", ""))
            except Exception:  # noqa: BLE001 - a malformed cookie header is just no cookie
                return None
            morsel = jar.get(COOKIE)
            return morsel.value if morsel is not None else None

        def _serve(self, *, head: bool) -> None:
            host = self.headers.get("Host", "")
            if not site.allowed_host(host):
                self._text(403, "this dashboard answers only on loopback addresses "
                                "(open it as http://127.0.0.1:PORT/)\n", head=head)
                return
            url = urlsplit(self.path)
            path = unquote(url.path)
            if path == "/config.json":
                body = json.dumps(site.config_for(host_name(host) or site.host)).encode()
                self._reply(200, body, "application/json; charset=utf-8", head=head,
                            extra={"Cache-Control": "no-store"})
                return
            extra: dict[str, str] = {}
            if path in ("/", "/index.html") and site.token_for_page and site.token is not None:
                given = parse_qs(url.query).get("token", [None])[0]
                if given is not None and token_matches(site.token, given):
                    extra["Set-Cookie"] = f"{COOKIE}={site.token}; HttpOnly; SameSite=Strict; Path=/"
                elif not token_matches(site.token, self._cookie_token()):
                    self._text(401, "this dashboard needs the control token: open it as /?token=TOKEN "
                                    "(printed by `kalashi serve-bridge` at start)\n", head=head)
                    return
            node = _find(site.root, "index.html" if path in ("/", "") else path)
            if node is None:
                self._text(404, "not found\n", head=head)
                return
            name = node.name
            ctype = CONTENT_TYPES.get(name[name.rfind("."):] if "." in name else "", "application/octet-stream")
            # asset names carry a content hash: cache them for long; everything else revalidates
            cache = "public, max-age=31536000, immutable" if path.startswith("/assets/") else "no-cache"
            self._reply(200, node.read_bytes(), ctype, head=head, extra={"Cache-Control": cache, **extra})

    return Handler


def _find(root: Traversable, path: str) -> Traversable | None:
    """The file ``path`` names under ``root``, or None (never anything outside it)."""
    parts = path.strip("/").split("/")
    node = root
    for part in parts:
        if part in ("", ".", "..") or "\\" in part or "\0" in part or part.startswith("."):
            return None
        node = node / part
    return node if node.is_file() else None
