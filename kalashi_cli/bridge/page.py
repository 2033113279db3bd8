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

from collections.abc import Callable
from http.cookies import SimpleCookie
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any

from ..httpserve import HttpServer, Request, Response, host_name, json_response, loopback_host, text
from .protocol import token_matches

COOKIE = "kalashi_bridge_token"

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


class PageServer:
    """Serve the dashboard and its ``config.json`` in a background thread."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        ws_port: Callable[[], int],
        read_only: bool,
        token: str | None = None,
        token_for_page: bool = False,
        loopback: bool = True,
        root: Traversable | None = None,
    ) -> None:
        self.host = host
        self.requested_port = port
        self.ws_port = ws_port
        self.read_only = read_only
        self.token = token
        self.token_for_page = token_for_page and token is not None
        self.loopback = loopback
        self.root = root if root is not None else static_root()
        self._http = HttpServer(host, port, self.answer, name="kalashi-page", server_version="kalashi-bridge")

    @property
    def port(self) -> int:
        return self._http.port

    def start(self) -> int:
        """Bind and serve in a thread; return the port (useful with port 0).

        Raises:
            OSError: the address is taken or cannot be bound.
        """
        return self._http.start()

    def close(self) -> None:
        self._http.close()

    def config_for(self, page_host: str) -> dict[str, Any]:
        """What ``config.json`` says to a page loaded from ``page_host``."""
        return {"ws_url": f"ws://{page_host}:{self.ws_port()}/", "read_only": self.read_only}

    def allowed_host(self, host_header: str) -> bool:
        return not self.loopback or loopback_host(host_header)

    def answer(self, req: Request) -> Response:
        """The answer to one GET/HEAD, with the page's security headers."""
        resp = self._route(req)
        page_host = host_name(req.host) or self.host
        resp.headers = {
            "X-Content-Type-Options": "nosniff",
            "X-Frame-Options": "DENY",
            "Referrer-Policy": "no-referrer",
            "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data:; font-src 'self' data:; "
            f"connect-src 'self' ws://{page_host}:{self.ws_port()}; "
            "frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
            **resp.headers,
        }
        return resp

    def _route(self, req: Request) -> Response:
        no_store = {"Cache-Control": "no-store"}
        if not self.allowed_host(req.host):
            return text(
                403,
                "this dashboard answers only on loopback addresses (open it as http://127.0.0.1:PORT/)\n",
                **no_store,
            )
        path = req.path
        if path == "/config.json":
            return json_response(200, self.config_for(host_name(req.host) or self.host), **no_store)
        extra: dict[str, str] = {}
        if path in ("/", "/index.html") and self.token_for_page and self.token is not None:
            given = req.query("token")
            if given is not None and token_matches(self.token, given):
                extra["Set-Cookie"] = f"{COOKIE}={self.token}; HttpOnly; SameSite=Strict; Path=/"
            elif not token_matches(self.token, _cookie_token(req)):
                return text(
                    401,
                    "this dashboard needs the control token: open it as /?token=TOKEN "
                    "(printed by `kalashi serve-bridge` at start)\n",
                    **no_store,
                )
        node = _find(self.root, "index.html" if path in ("/", "") else path)
        if node is None:
            return text(404, "not found\n", **no_store)
        name = node.name
        ctype = CONTENT_TYPES.get(name[name.rfind(".") :] if "." in name else "", "application/octet-stream")
        # asset names carry a content hash: cache them for long; everything else revalidates
        cache = "public, max-age=31536000, immutable" if path.startswith("/assets/") else "no-cache"
        return Response(200, node.read_bytes(), ctype, {"Cache-Control": cache, **extra})


def _cookie_token(req: Request) -> str | None:
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(req.headers.get("Cookie", "") or "")
    except Exception:  # noqa: BLE001 - a malformed cookie header is just no cookie
        return None
    morsel = jar.get(COOKIE)
    return morsel.value if morsel is not None else None


def _find(root: Traversable, path: str) -> Traversable | None:
    """The file ``path`` names under ``root``, or None (never anything outside it)."""
    parts = path.strip("/").split("/")
    node = root
    for part in parts:
        if part in ("", ".", "..") or "\\" in part or "\0" in part or part.startswith("."):
            return None
        node = node / part
    return node if node.is_file() else None
