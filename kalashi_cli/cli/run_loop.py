"""kalashi run-loop — the whole pipeline, iteration after iteration."""

from __future__ import annotations

import signal
import sys
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any

import typer

from .common import (
    DemoOpt,
    ForeignOpt,
    Format,
    FormatOpt,
    JournalOpt,
    LiveOpt,
    MarketsOpt,
    Mode,
    PaperOpt,
    ProfileOpt,
    QuietOpt,
    SeedOpt,
    TradeSourceOpt,
    console,
    info,
    load_profile,
    open_broker,
    open_source,
    pick_mode,
    start_line,
    start_trading,
    stdout_is_tty,
    trading_source,
    use_table,
)

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from ..journal import Journal
    from ..loop import IterationResult, TradingLoop
    from ..ports import Broker, MarketSource
    from ..profile import Profile
    from ..react import ChangeFeed, Reactor

EPILOG = """Examples:

\b
  kalashi run-loop --paper                          # every 10 s until Ctrl-C; a live status on a terminal
  kalashi run-loop --paper --iterations 20 --interval 0
  kalashi run-loop --paper --markets 100000 --seed 3 --all-records > day.jsonl
  nohup kalashi run-loop --paper --quiet >> loop.jsonl 2>> loop.log &
  kalashi run-loop --paper --source replay:btc.jsonl --interval 0
  kalashi run-loop --demo --source kalshi-demo,ws=1 --react   # trade each book change as it arrives

\b
--react (event-driven mode) needs a source that pushes book changes: Kalshi (or
`kalashi sim-exchange` via kalshi:URL or KALASHI_EXCHANGE_URL) with the WebSocket feed,
which needs a key. Between iterations it re-analyzes only the events whose books changed and
orders at once, through the same risk gate, journal and token buckets; iterations still run
every --interval for reconciliation, resting fills, settlements and metrics (reactions fill
the time between them: --interval 0 leaves none). sim and replay: move their books only
between iterations and are refused.
"""


IterationsOpt = Annotated[
    int | None,
    typer.Option(
        "--iterations",
        "-n",
        min=1,
        metavar="N",
        help="Stop after N iterations (default: run until Ctrl-C). A replay: recording also stops the loop when it ends, "
        "saying so on stderr (exit 0).",
    ),
]
IntervalOpt = Annotated[
    float | None,
    typer.Option(
        "--interval",
        min=0,
        metavar="SECONDS",
        help="Seconds between iterations (profile loop.interval_seconds; 0 = no waiting, sim time still advances).",
    ),
]
LimitOpt = Annotated[
    int | None, typer.Option("--limit", min=1, metavar="N", help="Analyze at most this many markets per iteration.")
]
AllRecordsOpt = Annotated[
    bool,
    typer.Option(
        "--all-records", help="Also write opportunity, candidate, order, fill and denied records, not only iterations."
    ),
]
ReactOpt = Annotated[
    bool,
    typer.Option(
        "--react",
        help="Event-driven: between iterations, re-analyze the events "
        "whose books the WebSocket feed changed and order at once "
        "(needs a Kalshi source with the feed; see below).",
    ),
]


def run_loop(
    paper: PaperOpt = False,
    demo: DemoOpt = False,
    live: LiveOpt = False,
    source: TradeSourceOpt = None,
    allow_foreign_source: ForeignOpt = False,
    seed: SeedOpt = None,
    markets: MarketsOpt = None,
    iterations: IterationsOpt = None,
    interval: IntervalOpt = None,
    limit: LimitOpt = None,
    all_records: AllRecordsOpt = False,
    react: ReactOpt = False,
    profile: ProfileOpt = "default",
    journal: JournalOpt = None,
    fmt: FormatOpt = Format.auto,
    quiet: QuietOpt = False,
) -> None:
    """Run the whole pipeline in a loop (paper by default).

    Each iteration runs scan → analyze → correlate → order → journal with the same functions
    as the single commands (paper trading on the built-in sim unless told otherwise), after
    reconciling the journal with the exchange at start. With --react it also acts on every
    book change between iterations (event-driven mode). Says on stderr what it runs (mode,
    source, profile, journal, and whether it continues an account), then writes one
    `iteration` record per loop on stdout (every record with --all-records). On a terminal a
    live status (iteration, equity, P&L, orders, state) replaces the JSON; --format table
    into a file writes one readable line per iteration. Ctrl-C (SIGINT) or SIGTERM stops
    after the current step; every journal write is a committed transaction.
    """
    from ..loop import TradingLoop

    prof = load_profile(profile)
    mode = pick_mode(paper, demo, live)
    spec = trading_source(mode, source, allow_foreign=allow_foreign_source, seed=seed, markets=markets)
    jr, locks, src, feed, broker = _open_trading(mode, spec, journal, prof, react=react)
    lines = use_table(fmt)  # a person reads stdout: no JSON
    # on a terminal a live status replaces scrolling lines: on stdout when stdout is one (the records
    # are for a person there), else on stderr beside the JSON Lines of a pipe
    live_on = "stdout" if lines and stdout_is_tty() else "stderr" if not lines and sys.stderr.isatty() else None
    view = LiveStatus(console(stderr=live_on == "stderr"), iterations) if live_on and not quiet else None
    info(
        start_line(
            "run-loop",
            mode=str(mode),
            source=src.describe(),
            profile=profile,
            journal=jr.path,
            last_iteration=last_iteration(jr),
        ),
        quiet,
    )
    sink = _sink(view if live_on == "stdout" else None, lines=lines, all_records=all_records)
    loop = TradingLoop(prof, src, broker, jr, sink=sink, limit=limit)
    reactor = None
    if feed is not None:  # --react
        from ..react import Reactor

        reactor = Reactor(loop, feed)  # the same iterations, with reactions in between
    previous = _stop_on_signals(loop, quiet)
    try:
        done = _drive(loop, reactor, view, iterations=iterations, interval=interval)
        ended = replay_end(spec, src, done, iterations, stopped=loop.stop_event.is_set())
        if ended:
            info(ended, quiet)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if view is not None:
            view.stop()
        broker.close()
        src.close()
        jr.close()
        locks.release()


def _open_trading(
    mode: Mode, spec: str, journal: Path | None, prof: Profile, *, react: bool
) -> tuple[Journal, Any, MarketSource, ChangeFeed | None, Broker]:
    """Consent and the locks, the journal, the source (with its change feed for --react) and the broker.

    Whatever was opened is closed again when a later step refuses (nothing is left locked).
    """
    jr, locks = start_trading(mode, journal, prof)  # consent, one trader per journal and account, then the journal
    feed = None
    try:
        src = open_source(_resume_spec(spec, jr, prof), streaming=True)
        try:
            if react:
                from ..react import change_feed

                feed = change_feed(src)  # refused before anything trades: sim and replay cannot push changes
            broker = open_broker(mode, src, jr, prof)
        except BaseException:
            src.close()
            raise
    except BaseException:
        jr.close()
        locks.release()
        raise
    return jr, locks, src, feed, broker


def _sink(screen: LiveStatus | None, *, lines: bool, all_records: bool) -> Callable[[dict[str, Any]], None]:
    """Where the loop's records go: the live status on a terminal, readable lines, or JSON Lines."""
    from ..records import RecordWriter

    writer = RecordWriter(sys.stdout.buffer)

    def sink(rec: dict[str, Any]) -> None:
        if rec["kind"] == "iteration" and screen is not None:
            return  # the live status shows it
        if rec["kind"] == "iteration" or all_records:
            if screen is not None:
                screen.print(readable(rec))
            elif lines:
                sys.stdout.write(readable(rec) + "\n")
                sys.stdout.flush()
            else:
                writer.write(rec)

    return sink


def _stop_on_signals(loop: TradingLoop, quiet: bool) -> dict[int, Any]:
    """Ctrl-C (SIGINT) and SIGTERM stop after the current step; a second Ctrl-C forces. Returns the old handlers."""

    def stop(signum: int, frame: object) -> None:
        if loop.stop_event.is_set():  # second Ctrl-C: the user really wants out
            raise KeyboardInterrupt
        loop.stop_event.set()
        if not quiet:
            sys.stderr.write("\nkalashi: stopping after the current step (Ctrl-C again to force)\n")

    return {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}


def _drive(
    loop: TradingLoop,
    reactor: Reactor | None,
    view: LiveStatus | None,
    *,
    iterations: int | None,
    interval: float | None,
) -> int:
    """Run the iterations (with reactions in between under --react), updating the live status; returns how many ran."""

    def status(res: IterationResult) -> None:
        if view is not None:
            view.update(res.record, loop.last_portfolio)

    if view is not None:
        view.start()
    if reactor is not None:
        done = reactor.run(iterations=iterations, interval=interval, on_iteration=status)
    else:
        done = loop.run(iterations=iterations, interval=interval, on_iteration=status)
    if view is not None:
        view.stop()
    return done


class LiveStatus:
    """run-loop's status on a terminal (rich Live): iteration, equity, P&L, orders, fills, state.

    It redraws in place after every iteration instead of scrolling a line per iteration; the
    last frame stays on the screen when the loop stops. Money is shown as `kalashi metrics`
    shows it (:func:`~kalashi_cli.cli.common.usd`).
    """

    def __init__(self, con: Any, iterations: int | None) -> None:
        self.con = con
        self.iterations = iterations
        self.orders = self.fills = self.count = 0
        self._live: Any = None

    def start(self) -> None:
        from rich.live import Live

        if self._live is None:
            self._live = Live(self.render(None, None), console=self.con, auto_refresh=False, transient=False)
            self._live.start()

    def stop(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None

    def print(self, line: str) -> None:
        """A line above the status (a record of --all-records)."""
        self.con.print(line, soft_wrap=True, highlight=False, markup=False)

    def update(self, rec: dict[str, Any], portfolio: Any) -> None:
        self.count += 1
        self.orders += int(rec.get("orders") or 0)
        self.fills += int(rec.get("fills") or 0)
        frame = self.render(rec, portfolio)
        if self._live is not None:
            self._live.update(frame, refresh=True)

    def render(self, rec: dict[str, Any] | None, portfolio: Any) -> Any:
        from rich.table import Table

        from ..money import fmt_money
        from .common import state_text, usd

        t = Table.grid(padding=(0, 3))
        if rec is None:
            t.add_row("starting the first iteration …")
            return t
        of = f" of {self.iterations}" if self.iterations is not None else ""
        pnl = usd(fmt_money(portfolio.equity - portfolio.starting_balance), signed=True) if portfolio else "—"
        cells = [
            f"iteration {rec['n']}{of}",
            f"equity {usd(rec.get('equity'))}",
            f"P&L {pnl}",
            f"orders {rec['orders']} ({self.orders} this run)",
            f"fills {rec.get('fills', 0)}",
        ]
        if "reactions" in rec:  # --react: what happened between iterations
            cells.append(f"reactions {rec['reactions']}")
        cells += [state_text(str(rec["state"])), f"{Decimal(rec['duration_ms']):.0f} ms"]
        t.add_row(*cells)
        if rec.get("state_reason"):
            t.add_row(f"  {rec['state_reason']}")
        return t


def replay_end(spec: str, src: object, done: int, iterations: int | None, *, stopped: bool) -> str | None:
    """The line that says a loop stopped because its recording ended (None when it did not).

    A ``replay:`` recording has an end: once every recorded event has been traded on, the loop
    stops (exit 0 — it did all the recording holds) rather than trade a frozen book.
    """
    if stopped or not getattr(src, "exhausted", False) or (iterations is not None and done >= iterations):
        return None
    path = spec.removeprefix("replay:").split(",")[0]
    its = f"iteration{'s' if done != 1 else ''}"
    if iterations is None:
        return (
            f"kalashi run-loop: stopped after {done} {its}: the recording {path} has ended (every recorded "
            "event has been traded on)"
        )
    return (
        f"kalashi run-loop: stopped after {done} of {iterations} {its}: the recording {path} has ended "
        f"(every recorded event has been traded on) — record a longer one for more iterations"
    )


def readable(rec: dict[str, Any]) -> str:
    """One line a person can read for an iteration (or, with --all-records, any other record)."""
    if rec["kind"] == "iteration":
        reacted = f"  reactions {rec['reactions']} ({rec['reaction_orders']} orders)" if "reactions" in rec else ""
        return (
            f"iteration {rec['n']}  markets {rec['markets']}  opps {rec['opportunities']}  orders {rec['orders']}  "
            f"fills {rec['fills']}  equity ${rec['equity']}  {rec['state']}  {Decimal(rec['duration_ms']):.0f} ms"
            + reacted
        )
    from .common import DEFAULT_COLUMNS

    cols = DEFAULT_COLUMNS.get(rec["kind"]) or [k for k in rec if k not in ("kind", "v")][:6]
    shown = [f"{c}={v if len(v := str(rec[c])) <= 80 else v[:79] + '…'}" for c in cols if rec.get(c) not in (None, "")]
    return f"  {rec['kind']:<11} " + "  ".join(shown)


def last_iteration(jr: Any) -> int | None:
    """The number of the journal's last iteration (None for a journal no loop has run on)."""
    rows = jr.iterations(limit=1)
    return int(rows[-1]["n"]) if rows else None


def _resume_spec(spec: str, jr: Journal, prof: Profile | None = None) -> str:
    """Continue a sim where this journal left off (same seed and size), so a restart moves on."""
    if not (spec == "sim" or spec.startswith("sim:")) or "step=" in spec:
        return spec
    rows = jr.iterations(limit=1)
    if not rows:
        return spec
    last = str(rows[-1].get("source", ""))
    from ..context import open_source as _open

    want = _open(spec, prof).describe()

    def strip(s: str) -> str:
        return ",".join(p for p in s[4:].split(",") if not p.startswith("step="))

    if last.startswith("sim:") and strip(last) == strip(want):
        step = int(dict(p.split("=", 1) for p in last[4:].split(","))["step"]) + 1
        return f"sim:{strip(want)},step={step}"
    return spec


def resume_spec_for(spec: str, path: Path) -> str:
    """``_resume_spec`` for a journal that may not exist yet (read without creating it)."""
    if not (spec == "sim" or spec.startswith("sim:")) or "step=" in spec or not path.is_file():
        return spec
    from ..journal import Journal

    jr = Journal(path, readonly=True)
    try:
        return _resume_spec(spec, jr)
    finally:
        jr.close()


def register(app: typer.Typer) -> None:
    app.command("run-loop", epilog=EPILOG)(run_loop)
