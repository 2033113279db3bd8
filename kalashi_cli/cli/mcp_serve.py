"""kalashi mcp-serve — kalashi's tools for an AI assistant, over the Model Context Protocol."""

from __future__ import annotations

import sys
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

from ..errors import UsageError
from ..mcp import TOKEN_VAR
from .common import (
    DemoOpt,
    ForeignOpt,
    JournalOpt,
    LiveOpt,
    MarketsOpt,
    PaperOpt,
    ProfileOpt,
    QuietOpt,
    SeedOpt,
    TradeSourceOpt,
    pick_mode,
    trading_source,
)

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer

EPILOG = """Examples:

\b
  kalashi mcp-serve                                  # stdio, paper account on the sim (for an MCP client's config)
  kalashi mcp-serve --transport http --port 8767     # http://127.0.0.1:8767/mcp; prints the bearer token
  KALASHI_MCP_TOKEN=my-long-secret-token-1 kalashi mcp-serve --transport http
  kalashi mcp-serve --demo --allow-trading           # Kalshi demo; the agent may place orders
  kalashi mcp-serve --live                           # real account, read-only for the agent

MCP client config (Claude Desktop and others; docs/mcp.md):

\b
  {"mcpServers": {"kalashi": {"command": "kalashi", "args": ["mcp-serve"]}}}
"""


class Transport(StrEnum):
    stdio = "stdio"
    http = "http"


TransportOpt = Annotated[
    Transport,
    typer.Option(
        "--transport",
        "-t",
        metavar="stdio|http",
        help="stdio (the client starts this command) or http (streamable HTTP at /mcp).",
    ),
]
HostOpt = Annotated[
    str | None,
    typer.Option(
        "--host",
        metavar="ADDRESS",
        help="HTTP address to bind (default 127.0.0.1). Over HTTP, tools that change "
        "something need the bearer token; read tools need none, so anything but "
        "loopback lets the network read the account (refused for demo and live).",
    ),
]
PortOpt = Annotated[
    int, typer.Option("--port", metavar="PORT", min=0, max=65535, help="HTTP port (0 = any free port).")
]
AllowTradingOpt = Annotated[
    bool | None,
    typer.Option(
        "--allow-trading/--read-only",
        help="Let the agent place orders. Default: allowed on paper, refused "
        "on --demo/--live unless --allow-trading is given.",
    ),
]
VerboseOpt = Annotated[
    bool,
    typer.Option(
        "--verbose",
        "-v",
        help="Log every tool call on stderr, one line each: name, outcome, duration and the "
        "names of the arguments given (never their values or the token).",
    ),
]

DEFAULT_PORT = 8767


def mcp_serve(
    transport: TransportOpt = Transport.stdio,
    host: HostOpt = None,
    port: PortOpt = DEFAULT_PORT,
    paper: PaperOpt = False,
    demo: DemoOpt = False,
    live: LiveOpt = False,
    allow_trading: AllowTradingOpt = None,
    source: TradeSourceOpt = None,
    allow_foreign_source: ForeignOpt = False,
    seed: SeedOpt = None,
    markets: MarketsOpt = None,
    profile: ProfileOpt = "default",
    journal: JournalOpt = None,
    verbose: VerboseOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Serve kalashi's tools to an AI assistant over MCP.

    Markets, the account, risk-gated orders and feeds for any Model Context Protocol client.
    The agent trades on paper unless the server is started with --demo or --live (with the
    same consent as the CLI) and --allow-trading. Every order passes the same risk gate as
    `kalashi order`; the agent can tighten limits and halt, never loosen or resume (both are kept
    in the journal). The market data is the venue's unless --allow-foreign-source. Over HTTP,
    tools that change something need the bearer token printed at start (or KALASHI_MCP_TOKEN).
    Logs go to stderr; on stdio, stdout is the protocol.
    """
    from ..journal import default_journal_path
    from ..mcp.server import build_server, serve_stdio
    from ..service import TradingService
    from .run_loop import resume_spec_for

    mode = pick_mode(paper, demo, live)
    bind, loopback = _check_binding(transport, host, port, mode.value)
    token, generated = _token() if transport is Transport.http else (None, False)
    trading = (mode.value == "paper") if allow_trading is None else allow_trading
    path = journal or default_journal_path(mode.value)
    spec = resume_spec_for(
        trading_source(mode, source, allow_foreign=allow_foreign_source, seed=seed, markets=markets), path
    )
    # opening the service checks demo/live consent (before any file exists), takes the trader locks
    # when the agent may trade, and opens the broker — all before any tool exists
    service = TradingService(
        profile,
        mode=mode.value,
        source=spec,
        journal_path=path,
        allow_trading=trading,
        allow_foreign_source=allow_foreign_source,
    )
    try:
        server = build_server(service, token=token, call_log=_call_line if verbose else None)
        what = (
            f"kalashi mcp-serve: {mode.value} account, source {service.source.describe()}, profile "
            f"{service.profile_name}; orders {'allowed (risk-gated)' if trading else 'refused (read-only)'}"
        )
        if transport is Transport.stdio:
            _say(f"{what}; MCP over stdio", quiet)
            serve_stdio(server)
            return
        _serve_http(server, what, bind, port, loopback=loopback, token=token, generated=generated)
    finally:
        service.close()


def _check_binding(transport: Transport, host: str | None, port: int, mode: str) -> tuple[str, bool]:
    """The address to bind and whether it is loopback, once --host/--port suit the transport and the account.

    Raises:
        UsageError: --host or --port with stdio, or a demo/live account served beyond loopback.
    """
    bind = host or "127.0.0.1"
    if transport is Transport.stdio and (host is not None or port != DEFAULT_PORT):
        raise UsageError(
            "--host and --port only apply to --transport http",
            hint="add --transport http, or drop them (an MCP client starts the stdio server itself)",
        )
    from ..kalshi.env import is_loopback_host

    loopback = is_loopback_host(bind)
    if transport is Transport.http and not loopback and mode != "paper":
        raise UsageError(
            f"refusing to serve a {mode} account on {bind}: the HTTP transport's read tools have no authentication",
            hint="bind to 127.0.0.1 and reach it through an SSH tunnel",
        )
    return bind, loopback


def _serve_http(
    server: MCPServer, what: str, bind: str, port: int, *, loopback: bool, token: str | None, generated: bool
) -> None:
    """Listen, say where (and which token), then serve MCP over streamable HTTP until stopped."""
    from ..mcp.server import listen, serve_http

    sock = listen(bind, port)
    bound = sock.getsockname()
    shown = f"[{bound[0]}]" if ":" in bound[0] else bound[0]
    if not loopback:
        sys.stderr.write(
            f"kalashi: warning: {bind} is not loopback and the MCP endpoint's read tools have no "
            "authentication: anyone who can reach it can read the account (the token guards "
            "every tool that changes something, but travels unencrypted)\n"
        )
    said = (
        f"  bearer token  {token}  (random; tools that change something need `Authorization: Bearer "
        f"<token>`; set {TOKEN_VAR} to choose one)"
        if generated
        else f"  bearer token  from {TOKEN_VAR} (tools that change something need `Authorization: Bearer <token>`)"
    )
    # the test harness and humans read these lines to learn the port and the token (printed once the socket listens)
    _say(f"{what}\n{said}\n  MCP endpoint http://{shown}:{bound[1]}/mcp  (Ctrl-C stops)", quiet=False)
    serve_http(server, sock, bind)


def _token() -> tuple[str, bool]:
    """The HTTP bearer token: ``KALASHI_MCP_TOKEN``, else a random one; and whether it was generated.

    Raises:
        UsageError: the variable holds a short or oddly spelt token.
    """
    import os
    import re
    import secrets

    given = os.environ.get(TOKEN_VAR)
    if given is None or not given.strip():
        return secrets.token_urlsafe(32), True
    if not re.fullmatch(r"[A-Za-z0-9._~-]{16,}", given.strip()):
        raise UsageError(
            f"{TOKEN_VAR} must be at least 16 characters of A-Z a-z 0-9 . _ ~ -",
            hint=f"unset {TOKEN_VAR} to get a random token printed at start",
        )
    return given.strip(), False


def _call_line(line: str) -> None:
    """One tool call's line on stderr (``--verbose``), written whole and flushed at once."""
    try:
        sys.stderr.write(line + "\n")
        sys.stderr.flush()
    except (BrokenPipeError, ValueError):  # stderr is gone: the call itself must not fail for it
        pass


def _say(msg: str, quiet: bool) -> None:
    if not quiet:
        sys.stderr.write(msg + "\n")
        sys.stderr.flush()


def register(app: typer.Typer) -> None:
    app.command("mcp-serve", epilog=EPILOG)(mcp_serve)
