"""kalashi as an MCP server: markets, the account and risk-gated trading for an AI assistant.

Every tool is a few lines over :class:`~kalashi_cli.service.TradingService`, the same facade the
dashboard bridge uses, so an order an agent places passes the very risk gate and journal a
``kalashi order`` passes. Each answer has two parts: structured content in kalashi's record
shapes (complete, validated by the tool's output schema) and a short text summary
(:mod:`.summaries`) — never the same JSON twice. Lists come in small pages with a cursor.
Failures are tool errors (``isError``) whose text names the kalashi error class, what went
wrong and what to do.

Safety, in layers:

* the account: paper unless the server was started with ``--demo``/``--live`` and every consent
  passed (checked when the service opens its broker, before any tool exists);
* writes: orders and amends need ``service.allow_trading`` — true on paper, and on a real
  account only with ``--allow-trading``; every order (one, or each of a batch) and every amend
  goes through the service and thus the risk gate and the journal before it is sent (costs
  counted on the side actually bought, so selling YES at $0.01 costs $0.99 a contract);
  decreases and cancels only lower risk and are always allowed;
* limits: ``tighten_limits`` can only tighten (the profile refuses loosening); ``halt`` is always
  allowed; resuming is deliberately not a tool — a halted account needs a human
  (``kalashi resume --confirm``), so an agent cannot undo the brake it or a limit pulled;
* ``fetch_rss_feed`` runs under the SSRF guard of :mod:`kalashi_cli.mcp.rss` and returns plain
  text marked as untrusted data;
* inputs: every tool's input schema sets ``additionalProperties: false`` and unknown arguments
  are refused by name (a silently dropped ``reduce_only`` once placed an ordinary order);
  numbers in exponent form ("1e2") are refused, never rounded;
* answers: an order that did not reach resting, executed or partially filled is a tool error
  with the exchange's reason; every market answer says where its data comes from (a
  ``data_source`` field, and a first text line when it is simulated or recorded);
* over HTTP, every tool that changes something needs the server's bearer token
  (``Authorization: Bearer …``, compared in constant time) — the registry checks it before the
  tool runs, so no write tool can forget; reads stay open on loopback;
* schemas are portable (:mod:`.schemas`: the MCP Inspector's ``--strict`` rules hold for every
  input and output schema).

``call_log`` (``--verbose``) hears one line per tool call: its name, duration and outcome, and
the names of the arguments given — never their values, never the token.

Nothing here writes to stdout: on stdio, stdout is the protocol.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from mcp.server.mcpserver import MCPServer

from ..errors import UsageError
from .registry import (
    PROMPT_NAMES,
    RESOURCE_TEMPLATES,
    RESOURCE_URIS,
    TOOL_NAMES,
    WRITE_TOOLS,
    CallLog,
    Registry,
    instructions,
)
from .rss import PUBLIC_ONLY, AddressPolicy
from .schemas import record_schema

if TYPE_CHECKING:
    import socket

    from mcp.server.transport_security import TransportSecuritySettings

    from ..service import TradingService

__all__ = [
    "PROMPT_NAMES",
    "RESOURCE_TEMPLATES",
    "RESOURCE_URIS",
    "TOOL_NAMES",
    "WRITE_TOOLS",
    "build_server",
    "listen",
    "record_schema",
    "serve_http",
    "serve_stdio",
    "transport_security",
]


def build_server(
    service: TradingService,
    *,
    feed_policy: AddressPolicy = PUBLIC_ONLY,
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "WARNING",
    token: str | None = None,
    call_log: CallLog | None = None,
) -> MCPServer:
    """Build the MCP server over one service (tools, resources, resource templates, prompts, instructions).

    ``token``: the HTTP transport's bearer token; every tool that changes something then needs
    it (stdio has none: the client started the server). ``call_log`` hears one line per tool
    call. ``feed_policy`` exists for tests that serve feeds on loopback; the tools never expose it.
    """
    from importlib.metadata import version

    from . import prompts, tools_account, tools_market

    reg = Registry(service, token=token, call_log=call_log)
    tools_account.register(reg, service)
    tools_market.register(reg, service, feed_policy=feed_policy)
    by_name = {t.name: t for t in reg.tools}
    server: MCPServer = MCPServer(
        "kalashi",
        title="kalashi — Kalshi trading toolkit",
        version=version("kalashi"),
        instructions=instructions(service),
        log_level=log_level,
        tools=[by_name[n] for n in TOOL_NAMES],
    )
    prompts.register(server, service)
    if call_log is not None:
        reg.log_refused_calls(server)
    return server


# -- transports -------------------------------------------------------------------------------


def serve_stdio(server: MCPServer) -> None:
    """Serve over stdin/stdout until the client closes stdin."""
    import anyio

    anyio.run(server.run_stdio_async)


def listen(host: str, port: int) -> socket.socket:
    """Bind and listen on ``host:port`` (0 = any free port) before serving, so the port is known at once.

    Raises:
        UsageError: the address cannot be bound.
    """
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, kind, proto, _, addr = infos[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(addr)
        sock.listen(128)
    except OSError as e:
        raise UsageError(
            f"cannot listen on {host}:{port}: {e.strerror or e}",
            hint="another server may use the port; pass --port (0 = any free port)",
        ) from None
    return sock


def transport_security(host: str) -> TransportSecuritySettings | None:
    """Return DNS-rebinding protection that accepts only requests naming the bound host (or loopback).

    A browser page that rebinds its own name to our address sends its own name as ``Host`` and is
    refused. A wildcard bind (0.0.0.0, ::) cannot know its names, so it gets none (with a warning).
    """
    import ipaddress

    from mcp.server.transport_security import TransportSecuritySettings

    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        ip = None
    if ip is not None and ip.is_unspecified:
        return None
    names = {f"[{host}]" if ip is not None and ip.version == 6 else host}
    if host == "localhost" or (ip is not None and ip.is_loopback):
        names |= {"127.0.0.1", "localhost", "[::1]"}
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=sorted(f"{n}:*" for n in names),
        allowed_origins=sorted(f"{scheme}://{n}:*" for n in names for scheme in ("http", "https")),
    )


def serve_http(server: MCPServer, sock: socket.socket, host: str) -> None:
    """Serve streamable HTTP at ``/mcp`` on an already listening socket until SIGINT/SIGTERM.

    SIGTERM returns normally after uvicorn's graceful shutdown (so the caller closes the journal);
    SIGINT ends in KeyboardInterrupt as everywhere in the CLI.
    """
    import signal
    import threading

    import uvicorn

    app = server.streamable_http_app(host=host, transport_security=transport_security(host))
    # log_config=None: uvicorn's default config logs access lines to stdout; ours go to stderr via the root logger
    config = uvicorn.Config(app, log_config=None, log_level="warning", access_log=False, lifespan="on")
    # uvicorn re-raises the signal it caught once it has shut down; with the default SIGTERM
    # disposition that would kill the process before the journal is closed
    main = threading.current_thread() is threading.main_thread()
    old = signal.signal(signal.SIGTERM, lambda signum, frame: None) if main else None
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        if main:
            signal.signal(signal.SIGTERM, old)
