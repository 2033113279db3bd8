"""kalashi heal — health checks for cron (--once), or a self-healing supervisor with a status endpoint."""

from __future__ import annotations

import os
import signal
import sys
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from ..errors import UsageError
from .common import (
    DemoOpt,
    Format,
    FormatOpt,
    JournalOpt,
    LiveOpt,
    Out,
    PaperOpt,
    ProfileOpt,
    QuietOpt,
    check_source_kind,
    complete_source,
    info,
    load_profile,
    pick_mode,
    use_table,
)

if TYPE_CHECKING:
    from pathlib import Path

    from ..heal.monitor import HealConfig, HealthMonitor
    from ..heal.status_server import StatusServer
    from ..heal.supervisor import ChildSpec
    from ..profile import Profile

EPILOG = """Examples:

\b
  kalashi heal --once                                  # check everything once; exit 0, 10 or 11
  */5 * * * * kalashi heal --once --quiet --format jsonl >> ~/heal.jsonl || notify-me   # crontab
  kalashi heal --paper --bridge                        # run-loop + dashboard, restarted when they fail
  kalashi heal --watch --webhook https://hooks.example/kalashi    # check a loop started elsewhere
  curl -s 127.0.0.1:8002/api/v1/status | jq .status;  curl -s 127.0.0.1:8002/metrics

Exit codes of --once (the other codes are kalashi's usual ones, see kalashi --help):

\b
  0   healthy: every check ok
  10  degraded: at least one check degraded, none failed
  11  failed: at least one check failed (HALTED counts as failed)
"""

HEALTH_COLUMNS = {
    "health": ["name", "status", "latency_ms", "detail"],
    "repair": ["ts", "action", "target", "ok", "detail"],
}


OnceOpt = Annotated[
    bool,
    typer.Option(
        "--once",
        help="Check everything once, print the results and exit with 0 (healthy), 10 (degraded) or 11 (failed).",
    ),
]
WatchOpt = Annotated[
    bool,
    typer.Option(
        "--watch", help="Supervise nothing: check on a schedule and serve status for processes started elsewhere."
    ),
]
HealSourceOpt = Annotated[
    str | None,
    typer.Option(
        "--source",
        "-s",
        metavar="SOURCE",
        envvar="KALASHI_SOURCE",
        autocompletion=complete_source,
        help="The loop's market data (default: what the journal last traded on, else the venue traded: sim on paper, "
        "kalshi-demo on --demo, kalshi on --live). kalshi/kalshi-demo sources get the exchange checks.",
    ),
]
IntervalOpt = Annotated[
    float | None,
    typer.Option(
        "--interval",
        metavar="SECONDS",
        min=0,
        help="The loop's seconds between iterations (profile loop.interval_seconds); passed to the supervised run-loop "
        "and used to tell a hung loop.",
    ),
]
HangAfterOpt = Annotated[
    float | None,
    typer.Option(
        "--hang-after",
        metavar="SECONDS",
        min=0.1,
        help="Seconds without a new iteration before the loop counts as hung (default 3 × interval + 30).",
    ),
]
EveryOpt = Annotated[float, typer.Option("--every", metavar="SECONDS", min=0.05, help="Seconds between check rounds.")]
LoopOpt = Annotated[
    bool,
    typer.Option(
        "--loop/--no-loop",
        help="A run-loop belongs on this journal: supervise it (or, with --once/--watch, check its heartbeat).",
    ),
]
BridgeOpt = Annotated[
    bool,
    typer.Option(
        "--bridge/--no-bridge", help="Also run (or check) the dashboard bridge, attached to the loop's journal."
    ),
]
McpOpt = Annotated[bool, typer.Option("--mcp/--no-mcp", help="Also run (or check) the MCP server over HTTP.")]
ChildOpt = Annotated[
    list[str],
    typer.Option(
        "--child", metavar="NAME=COMMAND", help="Supervise another command (repeatable); never run through a shell."
    ),
]
ProbeOpt = Annotated[
    list[str],
    typer.Option(
        "--probe",
        metavar="NAME=URL",
        help="A liveness URL for --child NAME (any HTTP answer = alive); with "
        "--once/--watch, checked on its own (repeatable).",
    ),
]
BridgeWsPortOpt = Annotated[
    int,
    typer.Option(
        "--bridge-ws-port",
        metavar="PORT",
        min=1,
        max=65535,
        help="The bridge's WebSocket port (given to it, and probed).",
    ),
]
BridgeHttpPortOpt = Annotated[
    int,
    typer.Option(
        "--bridge-http-port",
        metavar="PORT",
        min=1,
        max=65535,
        help="The bridge's dashboard page port (given to it, and probed).",
    ),
]
McpPortOpt = Annotated[
    int,
    typer.Option(
        "--mcp-port", metavar="PORT", min=1, max=65535, help="The MCP server's HTTP port (given to it; /mcp is probed)."
    ),
]
MaxRestartsOpt = Annotated[
    int,
    typer.Option(
        "--max-restarts",
        metavar="N",
        min=0,
        help="Restarts allowed per process within --restart-window; one more failure gives up.",
    ),
]
RestartWindowOpt = Annotated[
    float, typer.Option("--restart-window", metavar="SECONDS", min=1, help="Seconds of the restart budget.")
]
BackoffOpt = Annotated[
    float,
    typer.Option(
        "--backoff",
        metavar="SECONDS",
        min=0.01,
        help="Seconds before the first restart; doubles with each failure in a row, up to 60 s.",
    ),
]
StatusHostOpt = Annotated[str, typer.Option("--status-host", metavar="ADDRESS", help="Address of the status endpoint.")]
StatusPortOpt = Annotated[
    int,
    typer.Option(
        "--status-port",
        metavar="PORT",
        min=0,
        max=65535,
        help="Port of /api/v1/status and /metrics (0 = any free port).",
    ),
]
WebhookOpt = Annotated[
    str | None,
    typer.Option(
        "--webhook",
        metavar="URL",
        envvar="KALASHI_HEAL_WEBHOOK",
        show_envvar=True,
        help="POST a JSON notification here when the overall health changes (not with --once: it has the exit code).",
    ),
]
RedisUrlOpt = Annotated[
    str | None,
    typer.Option(
        "--redis-url",
        metavar="URL",
        envvar="KALASHI_REDIS_URL",
        show_envvar=True,
        help="Also PING this Redis (redis://[:password@]host:port/db).",
    ),
]


@dataclass(frozen=True)
class Supervision:
    """How heal supervises, beyond what its checks look at (HealConfig).

    The processes it runs, their restart budget, the status endpoint, the webhook and the output.
    """

    watch: bool  # supervise nothing: check on a schedule and serve status
    profile: str
    interval: float | None  # --interval as given (the supervised run-loop gets it only then)
    hang_after: float | None
    bridge: bool
    mcp: bool
    children: tuple[tuple[str, str], ...]  # --child NAME=COMMAND
    probes: dict[str, str]  # --probe NAME=URL, for those children
    ports: tuple[int, int, int]  # the bridge's WebSocket and page ports, the MCP server's port
    max_restarts: int
    restart_window: float
    backoff: float
    every: float
    status_host: str
    status_port: int
    webhook: str | None
    fmt: Format
    quiet: bool


def heal(
    once: OnceOpt = False,
    watch: WatchOpt = False,
    paper: PaperOpt = False,
    demo: DemoOpt = False,
    live: LiveOpt = False,
    source: HealSourceOpt = None,
    profile: ProfileOpt = "default",
    journal: JournalOpt = None,
    interval: IntervalOpt = None,
    hang_after: HangAfterOpt = None,
    every: EveryOpt = 10.0,
    loop: LoopOpt = True,
    bridge: BridgeOpt = False,
    mcp: McpOpt = False,
    child: ChildOpt = [],  # noqa: B006 - typer copies the default; never mutated
    probe: ProbeOpt = [],  # noqa: B006
    bridge_ws_port: BridgeWsPortOpt = 8766,
    bridge_http_port: BridgeHttpPortOpt = 3002,
    mcp_port: McpPortOpt = 8767,
    max_restarts: MaxRestartsOpt = 5,
    restart_window: RestartWindowOpt = 600.0,
    backoff: BackoffOpt = 1.0,
    status_host: StatusHostOpt = "127.0.0.1",
    status_port: StatusPortOpt = 8002,
    webhook: WebhookOpt = None,
    redis_url: RedisUrlOpt = None,
    fmt: FormatOpt = Format.auto,
    quiet: QuietOpt = False,
) -> None:
    """Check health (--once, for cron) or supervise and heal.

    Checks the exchange, credentials and clock, rate limits, the feed, the loop, the journal
    and the disk. With --once: run every check once, print a table (or `health` records in a pipe) and exit
    0 healthy, 10 degraded, 11 failed, for cron. Without it: start the run-loop (and with
    --bridge/--mcp the dashboard bridge and the MCP server), restart what dies or hangs with
    backoff within a restart budget, reconcile on drift, halt trading when the loop cannot be
    kept alive or the journal becomes unsafe, journal every repair, and serve status JSON on
    127.0.0.1:8002/api/v1/status with Prometheus metrics on /metrics. Nothing it does edits
    code or configuration.
    """
    from ..journal import default_journal_path, refuse_newer

    if once and watch:
        raise UsageError("--once and --watch do not go together", hint="--once checks once; --watch keeps checking")
    mode = pick_mode(paper, demo, live).value
    prof = load_profile(profile)
    jpath = journal or default_journal_path(mode)
    refuse_newer(jpath)  # exit 9: this kalashi cannot judge (or run a loop on) a journal a newer one migrated
    src = _loop_source(source, mode, jpath, supervised_loop=not (once or watch) and loop)
    ports = (bridge_ws_port, bridge_http_port, mcp_port)
    children, probes = _children_and_probes(child, probe, supervise=not (once or watch))
    checked = _checked_urls(bridge, mcp, probes, ports) if once or watch else []
    cfg = _heal_config(
        jpath,
        prof,
        mode,
        src,
        interval=interval,
        hang_after=hang_after,
        loop=loop,
        checked=checked,
        redis_url=redis_url,
    )
    if once:
        _check_once(cfg, fmt, quiet)
    how = Supervision(
        watch=watch,
        profile=profile,
        interval=interval,
        hang_after=hang_after,
        bridge=bridge,
        mcp=mcp,
        children=tuple(children),
        probes=probes,
        ports=ports,
        max_restarts=max_restarts,
        restart_window=restart_window,
        backoff=backoff,
        every=every,
        status_host=status_host,
        status_port=status_port,
        webhook=webhook,
        fmt=fmt,
        quiet=quiet,
    )
    _supervise(cfg, how)


def _loop_source(source: str | None, mode: str, jpath: Path, *, supervised_loop: bool) -> str:
    """The loop's market data: --source, else what the journal last traded on, else the venue traded.

    Raises:
        UsageError: --source names no known kind of source, or (when heal runs the loop) one the
            venue refuses: the supervised run-loop would refuse it at every restart.
    """
    from ..context import check_venue, venue_source
    from ..heal.monitor import source_of

    src = check_source_kind(source) if source else source_of(jpath, venue_source(mode), position=False)
    if supervised_loop:
        check_venue(mode, src)  # the supervised run-loop would refuse it at every restart
    return src


def _heal_config(
    jpath: Path,
    prof: Profile,
    mode: str,
    src: str,
    *,
    interval: float | None,
    hang_after: float | None,
    loop: bool,
    checked: list[tuple[str, str]],
    redis_url: str | None,
) -> HealConfig:
    """What the checks look at: the journal, the loop's interval and hang limit, and the URLs to probe."""
    from ..heal.monitor import HealConfig

    loop_interval = float(prof.loop.interval_seconds) if interval is None else interval
    hang_factor, grace = 3.0, 30.0
    if hang_after is not None:  # express the explicit limit through the same formula
        hang_factor, grace = 0.0, hang_after
    return HealConfig(
        journal_path=jpath,
        profile=prof,
        mode=mode,
        source=src,
        loop_interval_s=loop_interval,
        watch_loop=loop,
        hang_factor=hang_factor,
        hang_grace_s=grace,
        probes=tuple(checked),
        redis_url=redis_url or None,
        environ=dict(os.environ),
        data_dir=jpath.parent,
    )


def _children_and_probes(
    child: list[str], probe: list[str], *, supervise: bool
) -> tuple[list[tuple[str, str]], dict[str, str]]:
    """The --child NAME=COMMAND pairs and the --probe NAME=URL map, refused where they do not apply."""
    from ..heal.children import parse_pairs

    children = parse_pairs(child, "--child")
    probes = dict(parse_pairs(probe, "--probe"))
    if not supervise and children:
        raise UsageError("--child only applies when heal supervises", hint="drop --once/--watch, or use --probe")
    unknown = set(probes) - {n for n, _ in children} if supervise else set()
    if unknown:
        raise UsageError(f"--probe for {sorted(unknown)} names no --child", hint="name a --child NAME=COMMAND")
    return children, probes


def _checked_urls(
    bridge: bool, mcp: bool, probes: dict[str, str], ports: tuple[int, int, int]
) -> list[tuple[str, str]]:
    """What --once/--watch probe besides the built-in checks: the bridge, the MCP server and every --probe."""
    from ..heal.children import bridge_urls, mcp_url

    checked: list[tuple[str, str]] = []
    if bridge:
        page, ws = bridge_urls(ports[0], ports[1])
        checked += [("bridge", page), ("bridge_ws", ws)]
    if mcp:
        checked.append(("mcp", mcp_url(ports[2])))
    checked += list(probes.items())
    return checked


def _check_once(cfg: Any, fmt: Format, quiet: bool) -> NoReturn:
    """--once: every check once, the results (and an `overall` record), then exit 0, 10 or 11."""
    from ..heal.monitor import collect_checks, exit_code

    checks = collect_checks(cfg)
    out = Out(fmt)
    for c in checks:
        out.write(c.to_record())
    status = _overall(checks)
    out.write(
        {
            "kind": "health",
            "v": 1,
            "name": "overall",
            "status": status,
            "detail": f"{len(checks)} checks; exit {exit_code(status)}",
            "latency_ms": None,
        }
    )
    out.finish(HEALTH_COLUMNS)
    info(f"overall: {status} (exit {exit_code(status)})", quiet or not use_table(fmt))
    raise typer.Exit(exit_code(status))


def _overall(checks: list[Any]) -> str:
    from ..health import overall

    return overall(checks)


def _supervise(cfg: HealConfig, how: Supervision) -> None:
    """Run the children (unless --watch), check and repair on a schedule, serve status; until Ctrl-C or SIGTERM."""
    _log_to_stderr(how.quiet)
    supervising = None
    if not how.watch:
        from ..locks import hold_supervisor

        supervising = hold_supervisor(cfg.journal_path.resolve())  # one supervisor per journal (exit 9)
    try:
        if not how.watch and cfg.watch_loop:
            _refuse_a_second_loop(cfg)
        specs = _child_specs(cfg, how)
        monitor = _monitor(cfg, how, specs)
        server = _status_server(monitor, how.status_host, how.status_port)
    except BaseException:
        if supervising is not None:
            supervising.release()
        raise
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        info("\nkalashi heal: stopping (the supervised processes finish their current step)", how.quiet)

    old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    _say_start(cfg, how, specs, server.url)
    try:
        monitor.run(stop, poll_s=min(0.5, how.every))
    finally:
        for s, h in old.items():
            signal.signal(s, h)
        if monitor.supervisor is not None:
            monitor.supervisor.stop()
        server.stop()
        if monitor.notifier is not None:
            monitor.notifier.close()
        if supervising is not None:
            supervising.release()


def _child_specs(cfg: HealConfig, how: Supervision) -> list[ChildSpec]:
    """The processes heal runs: the run-loop, the bridge, the MCP server and every --child (none with --watch)."""
    from ..heal.children import bridge_child, custom_child, loop_child, mcp_child

    specs: list[ChildSpec] = []
    if how.watch:
        return specs
    if cfg.watch_loop:
        specs.append(
            loop_child(
                mode=cfg.mode,
                source=cfg.source,
                journal=cfg.journal_path,
                profile=how.profile,
                interval_s=how.interval,
                effective_interval_s=cfg.loop_interval_s,
                hang_after_s=how.hang_after,
            )
        )
    if how.bridge:
        specs.append(
            bridge_child(
                mode=cfg.mode,
                journal=cfg.journal_path,
                profile=how.profile,
                interval_s=cfg.loop_interval_s,
                ws_port=how.ports[0],
                http_port=how.ports[1],
            )
        )
    if how.mcp:
        specs.append(mcp_child(mode=cfg.mode, journal=cfg.journal_path, profile=how.profile, port=how.ports[2]))
    specs += [custom_child(name, command, how.probes.get(name)) for name, command in how.children]
    return specs


def _monitor(cfg: HealConfig, how: Supervision, specs: list[ChildSpec]) -> HealthMonitor:
    """The health monitor: the supervisor of ``specs`` (if any), the --webhook notifier, and where records go."""
    from ..heal.monitor import HealthMonitor
    from ..heal.supervisor import RestartPolicy, Supervisor
    from ..heal.webhook import Notifier, check_url
    from ..records import RecordWriter

    notifier = Notifier(check_url(how.webhook)) if how.webhook else None
    policy = RestartPolicy(
        max_restarts=how.max_restarts,
        window_s=how.restart_window,
        backoff_base_s=how.backoff,
        backoff_max_s=max(60.0, how.backoff),
    )
    supervisor = Supervisor(specs, policy=policy, log_dir=cfg.disk_path) if specs else None
    table = use_table(how.fmt)
    writer = RecordWriter(sys.stdout.buffer)

    def sink(rec: dict[str, Any]) -> None:
        if not table:
            writer.write(rec)
        elif not how.quiet:
            _show(rec)

    return HealthMonitor(cfg, supervisor=supervisor, notifier=notifier, sink=sink, check_every_s=how.every)


def _status_server(monitor: HealthMonitor, host: str, port: int) -> StatusServer:
    """The started status endpoint (/api/v1/status and /metrics), with a warning when it is not on loopback.

    Raises:
        UsageError: the address cannot be bound (another heal may hold the port).
    """
    from ..heal.status_server import StatusServer
    from ..httpserve import LOOPBACK_NAMES

    if host not in LOOPBACK_NAMES:
        sys.stderr.write(
            f"kalashi: warning: serving status on {host} shows it (processes, commands, journal "
            "path) to anyone who can reach that address\n"
        )
    server = StatusServer(monitor.snapshot, host=host, port=port)
    try:
        server.start()
    except OSError as e:
        raise UsageError(
            f"cannot serve status on {host}:{port}: {e.strerror or e}",
            hint="another heal may be running; pass --status-port (0 = any free port)",
        ) from None
    return server


def _say_start(cfg: HealConfig, how: Supervision, specs: list[ChildSpec], url: str) -> None:
    """The start line (mode, source, profile, journal, its last iteration) and what heal supervises, on stderr."""
    from .common import peek_last_iteration, start_line

    what = ", ".join(s.name for s in specs) or "nothing (watching a loop run elsewhere)"
    info(
        start_line(
            "heal",
            mode=cfg.mode,
            source=cfg.source,
            profile=how.profile,
            journal=cfg.journal_path,
            last_iteration=peek_last_iteration(cfg.journal_path),
        ),
        how.quiet,
    )
    info(f"  supervising {what}; status on {url} (metrics on /metrics); Ctrl-C stops", how.quiet)


def _refuse_a_second_loop(cfg: Any) -> None:
    """Two run-loops on one journal would trade twice: refuse while another one is alive.

    Raises:
        JournalError: another process trades this journal (it holds the trader lock; names its pid).
        UsageError: the journal's last iteration ended within 2 × interval + 5 s (a loop of an
            older kalashi, which takes no trader lock, may still be running).
    """
    import time

    from ..heal.checks import last_iteration_end_ms
    from ..locks import hold_trader

    hold_trader(cfg.journal_path.resolve()).release()  # a probe: the supervised loop takes it for real

    end = last_iteration_end_ms(cfg.journal_path)
    if end is None:
        return
    age = time.time() - end / 1000
    window = 2 * cfg.loop_interval_s + 5
    if age < window:
        raise UsageError(
            f"a run-loop seems to be writing {cfg.journal_path} (its last iteration ended {age:.0f} s ago)",
            hint=f"stop it first, or watch it with `kalashi heal --watch`; if it has stopped, start "
            f"again in {window - age:.0f} s",
        )


def _log_to_stderr(quiet: bool) -> None:
    """Heal's own warnings (a death, a give-up) as plain lines on stderr."""
    import logging

    logger = logging.getLogger("kalashi.heal")
    if quiet or logger.handlers:
        logger.addHandler(logging.NullHandler())
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("kalashi heal: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False


def _show(rec: dict[str, Any]) -> None:
    """One line per health change or repair on a terminal."""
    from .common import console

    con = console(stderr=False)
    if rec.get("kind") == "repair":
        mark = "[green]repaired[/]" if rec["ok"] else "[red]repair failed[/]"
        con.print(f"{rec['ts']}  {mark}  {rec['action']} {rec['target']}: {rec['detail']}")
        return
    colour = {"ok": "green", "degraded": "yellow", "failed": "red"}.get(rec.get("status", ""), "white")
    con.print(f"[{colour}]{rec.get('status', '?'):>8}[/]  {rec.get('name')}: {rec.get('detail')}")


def register(app: typer.Typer) -> None:
    app.command("heal", epilog=EPILOG)(heal)
