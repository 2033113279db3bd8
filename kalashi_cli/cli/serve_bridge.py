"""kalashi serve-bridge — the trading loop with a live dashboard in the browser."""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ..errors import UsageError
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
    from collections.abc import Callable

    from ..bridge.backends import Backend
    from ..bridge.server import BridgeServer

EPILOG = """Examples:

\b
  kalashi serve-bridge                               # paper loop on the sim; open the printed URL
  kalashi serve-bridge --paused --interval 5 --markets 2000
  KALASHI_BRIDGE_TOKEN=my-long-secret-token kalashi serve-bridge --no-open
  kalashi run-loop --paper &  kalashi serve-bridge --attach    # watch (and halt) that loop
  kalashi serve-bridge --demo --source kalshi-demo,ws=1 --react  # the loop in event-driven mode
"""


IntervalOpt = Annotated[
    float | None,
    typer.Option(
        "--interval",
        metavar="SECONDS",
        min=0,
        help="Seconds between iterations (profile loop.interval_seconds; 0 = no "
        "waiting). With --attach: the run-loop's interval, for telling a "
        "stalled loop.",
    ),
]
LimitOpt = Annotated[
    int | None, typer.Option("--limit", metavar="N", min=1, help="Analyze at most this many markets per iteration.")
]
IterationsOpt = Annotated[
    int | None,
    typer.Option(
        "--iterations", "-n", metavar="N", min=1, help="Stop the loop after N iterations (the bridge stays up)."
    ),
]
PausedOpt = Annotated[bool, typer.Option("--paused", help="Do not start the loop; start it from the page.")]
ReactOpt = Annotated[
    bool,
    typer.Option(
        "--react",
        help="Event-driven: between iterations, re-analyze the events "
        "whose books the WebSocket feed changed and order at once "
        "(as `run-loop --react`; needs a Kalshi source with the feed).",
    ),
]
AttachOpt = Annotated[
    bool,
    typer.Option(
        "--attach",
        help="Run no loop: watch the journal a separately running "
        "`kalashi run-loop` writes (same --journal and mode); only "
        "halt is possible from the page.",
    ),
]
HostOpt = Annotated[
    str,
    typer.Option(
        "--host",
        metavar="ADDRESS",
        help="Address to bind both servers to. Anything but loopback exposes the dashboard to "
        "the network and then needs the token even to watch.",
    ),
]
WsPortOpt = Annotated[
    int, typer.Option("--ws-port", metavar="PORT", min=0, max=65535, help="WebSocket port (0 = any free port).")
]
HttpPortOpt = Annotated[
    int, typer.Option("--http-port", metavar="PORT", min=0, max=65535, help="Dashboard page port (0 = any free port).")
]
TokenOpt = Annotated[
    str | None,
    typer.Option(
        "--token",
        metavar="TOKEN",
        envvar="KALASHI_BRIDGE_TOKEN",
        show_envvar=True,
        help="Control token (12+ characters of A-Z a-z 0-9 . _ ~ -). Default: a random one, printed at start.",
    ),
]
ReadOnlyOpt = Annotated[bool, typer.Option("--read-only", help="Show the loop, refuse every command.")]
OpenOpt = Annotated[
    bool,
    typer.Option(
        "--open/--no-open",
        help="Open the page in a browser (only where there is a display; the URL is always printed).",
    ),
]


def serve_bridge(
    paper: PaperOpt = False,
    demo: DemoOpt = False,
    live: LiveOpt = False,
    source: TradeSourceOpt = None,
    allow_foreign_source: ForeignOpt = False,
    seed: SeedOpt = None,
    markets: MarketsOpt = None,
    profile: ProfileOpt = "default",
    journal: JournalOpt = None,
    interval: IntervalOpt = None,
    limit: LimitOpt = None,
    iterations: IterationsOpt = None,
    paused: PausedOpt = False,
    react: ReactOpt = False,
    attach: AttachOpt = False,
    host: HostOpt = "127.0.0.1",
    ws_port: WsPortOpt = 8766,
    http_port: HttpPortOpt = 3002,
    token: TokenOpt = None,
    read_only: ReadOnlyOpt = False,
    open_browser: OpenOpt = True,
    quiet: QuietOpt = False,
) -> None:
    """Serve the live dashboard and the loop behind it.

    A WebSocket bridge on 127.0.0.1:8766 and the page on http://127.0.0.1:3002. Runs the
    trading loop (paper on the sim by default) and lets the page start, pause, stop,
    halt and flatten it, with the same risk gate as the CLI. Control commands need the token
    printed at start (or KALASHI_BRIDGE_TOKEN); watching needs no token on loopback. Ctrl-C
    stops the loop after the current step and closes the bridge; the journal stays consistent.
    """
    from ..bridge.server import BridgeConfig, BridgeServer

    mode = pick_mode(paper, demo, live)
    token, generated = _control_token(token)
    _warn_if_exposed(host)
    backend = _backend(
        mode,
        attach=attach,
        source=source,
        seed=seed,
        markets=markets,
        profile=profile,
        journal=journal,
        interval=interval,
        limit=limit,
        iterations=iterations,
        paused=paused,
        allow_foreign_source=allow_foreign_source,
        react=react,
    )
    first = _start_line(backend, mode=str(mode), profile=profile, paused=paused)
    config = BridgeConfig(host=host, ws_port=ws_port, http_port=http_port, token=token, read_only=read_only)
    server = BridgeServer(backend, config)
    if not quiet and sys.stderr.isatty():
        backend.subscribe(_status_line)
    ready = _announce(first, token=token, generated=generated, attach=attach, open_browser=open_browser)
    _run(server, ready, quiet=quiet)


def _control_token(token: str | None) -> tuple[str, bool]:
    """The control token: --token (or KALASHI_BRIDGE_TOKEN) checked, else a random one; and whether it was generated.

    Raises:
        UsageError: the given token is short or oddly spelt.
    """
    from ..bridge.server import check_token, new_token

    if token is None:
        return new_token(), True
    try:
        return check_token(token), False
    except ValueError as e:
        raise UsageError(f"bad control token: {e}", hint="unset KALASHI_BRIDGE_TOKEN to get a random one") from None


def _warn_if_exposed(host: str) -> None:
    """A warning on stderr when the bridge binds beyond loopback (plain HTTP, the token in the clear)."""
    from ..bridge.server import is_loopback

    if not is_loopback(host):
        sys.stderr.write(
            f"kalashi: warning: binding to {host} exposes the dashboard beyond this machine over plain "
            "HTTP; the token then guards watching too, but travels unencrypted — prefer an SSH tunnel "
            "or a TLS proxy\n"
        )


def _announce(
    first: str, *, token: str, generated: bool, attach: bool, open_browser: bool
) -> Callable[[BridgeServer], None]:
    """What runs once both servers listen: the start lines on stderr, and the page opened where there is a display."""

    def ready(s: BridgeServer) -> None:
        page = f"{s.page_url}?token={token}" if generated else f"{s.page_url}"
        lines = [first, f"  dashboard  {page}", f"  websocket  {s.ws_url}"]
        if generated:
            lines.append(f"  control token  {token}  (random; set KALASHI_BRIDGE_TOKEN or --token to choose one)")
        lines.append(
            "  Ctrl-C stops"
            + (" watching" if attach else " the loop after the current step")
            + " and closes the bridge"
        )
        sys.stderr.write("\n".join(lines) + "\n")
        sys.stderr.flush()
        if open_browser and _has_display():
            import webbrowser

            threading.Thread(target=webbrowser.open, args=(f"{s.page_url}?token={token}",), daemon=True).start()

    return ready


def _backend(
    mode: Any,
    *,
    attach: bool,
    source: str | None,
    seed: int | None,
    markets: int | None,
    profile: str,
    journal: Any,
    interval: float | None,
    limit: int | None,
    iterations: int | None,
    paused: bool,
    allow_foreign_source: bool = False,
    react: bool = False,
) -> Backend:
    """The loop the bridge runs, or the journal it watches."""
    if attach:
        from ..bridge.attach import AttachBackend
        from ..journal import default_journal_path

        if (
            paused
            or iterations is not None
            or limit is not None
            or seed is not None
            or markets is not None
            or source is not None
            or react
        ):
            raise UsageError(
                "--attach watches a loop that runs elsewhere: --source, --seed, --markets, --limit, "
                "--iterations, --paused and --react do not apply",
                hint="give those to `kalashi run-loop` instead",
            )
        return AttachBackend(
            journal or default_journal_path(str(mode)), mode=str(mode), profile=profile, interval=interval
        )
    from ..bridge.backends import ServiceBackend
    from ..journal import default_journal_path
    from ..service import TradingService
    from .run_loop import resume_spec_for

    path = journal or default_journal_path(str(mode))
    spec = trading_source(mode, source, allow_foreign=allow_foreign_source, seed=seed, markets=markets)
    spec = resume_spec_for(spec, path)  # a restart carries on where the sim was
    # the service checks consent before it creates the journal, then becomes its one trader
    service = TradingService(
        profile,
        mode=str(mode),
        source=spec,
        journal_path=path,
        interval=interval,
        limit=limit,
        allow_foreign_source=allow_foreign_source,
        react=react,
    )
    return ServiceBackend(service, autostart=not paused, iterations=iterations)


def _start_line(backend: Backend, *, mode: str, profile: str, paused: bool) -> str:
    """serve-bridge's start line: what its loop trades where, and on which account (or what it watches)."""
    from ..bridge.backends import ServiceBackend
    from .common import peek_last_iteration, start_line

    if isinstance(backend, ServiceBackend):
        svc = backend.service
        rows = svc.journal.iterations(limit=1)
        return start_line(
            "serve-bridge",
            mode=mode,
            source=svc.source.describe(),
            profile=svc.profile_name,
            journal=svc.journal.path,
            last_iteration=int(rows[-1]["n"]) if rows else None,
            extra="paused: start the loop from the page" if paused else "",
        )
    path = Path(getattr(backend, "path", ""))
    last = peek_last_iteration(path)
    return (
        f"kalashi serve-bridge: watching the {mode} journal {path} that a separate run-loop writes "
        f"(attached: halt only), profile {profile} — "
        + (f"its last iteration so far: {last}" if last else "no iteration in it yet")
    )


def _run(server: BridgeServer, ready: Any, *, quiet: bool) -> None:
    """Serve until Ctrl-C or SIGTERM (a second Ctrl-C interrupts at once)."""
    import asyncio
    import signal

    from ..bridge.server import serve_until

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()

        def on_signal() -> None:
            if not quiet:
                sys.stderr.write("\nkalashi: stopping after the current step (Ctrl-C again to force)\n")
            stop.set()
            loop.remove_signal_handler(signal.SIGINT)  # the next Ctrl-C raises KeyboardInterrupt

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, on_signal)
        await serve_until(server, stop, ready)

    try:
        asyncio.run(main())
    except OSError as e:
        cfg = server.config
        raise UsageError(
            f"cannot listen on {cfg.host} (ports {cfg.ws_port} and {cfg.http_port}): {e.strerror or e}",
            hint="another bridge may be running; stop it or pass --ws-port/--http-port",
        ) from None


def _has_display() -> bool:
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def _status_line(rec: dict[str, Any]) -> None:
    if rec.get("kind") != "iteration":
        return
    sys.stderr.write(
        f"\riteration {rec['n']}  markets {rec['markets']}  opps {rec['opportunities']}  "
        f"orders {rec['orders']}  equity ${rec.get('equity', '—')}  {rec['state']}   "
    )
    sys.stderr.flush()


def register(app: typer.Typer) -> None:
    app.command("serve-bridge", epilog=EPILOG)(serve_bridge)
