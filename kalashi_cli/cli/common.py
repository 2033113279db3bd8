"""Shared options, input and output for every command (the only UI layer, with app.py).

Options keep the same names across commands: ``--profile``, ``--source``, ``--journal``,
``--format``, ``--paper/--demo/--live``, ``--quiet``. stdout carries records only; tables,
progress and messages go to stderr — except that a table replaces JSON Lines on stdout when
stdout is a terminal (or ``--format table``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import IO, TYPE_CHECKING, Annotated, Any

import typer

from ..errors import InputError, UsageError

if TYPE_CHECKING:
    from ..journal import Journal
    from ..ports import Broker, MarketSource
    from ..profile import Profile


class Format(StrEnum):
    auto = "auto"
    jsonl = "jsonl"
    table = "table"


class Mode(StrEnum):
    paper = "paper"
    demo = "demo"
    live = "live"


# -- completion (called by the shell on TAB: fast, read-only, silent) --------------------


def complete_profile(incomplete: str) -> list[str]:
    """Built-in profile names, and YAML files under the typed path (or in the current directory)."""
    try:
        from importlib import resources

        names = sorted(
            e.name[:-5] for e in resources.files("kalashi_cli.profiles").iterdir() if e.name.endswith(".yaml")
        )
        found = [n for n in names if n.startswith(incomplete)]
        return found + _complete_paths(incomplete, (".yaml", ".yml"))
    except Exception:  # noqa: BLE001 - a completion never prints an error
        return []


def complete_source(incomplete: str) -> list[tuple[str, str]]:
    """The source kinds, each with a word of help."""
    kinds = [
        ("sim", "the built-in simulated market (default)"),
        ("sim:seed=", "sim with a seed: sim:seed=N,markets=N,step=N"),
        ("replay:", "replay:PATH — a recording made by `kalashi record`"),
        ("kalshi", "Kalshi's public market data"),
        ("kalshi-demo", "Kalshi's demo environment"),
        ("kalshi:", "kalshi:URL — any Kalshi-compatible server, e.g. kalashi sim-exchange"),
    ]
    if incomplete.startswith("replay:"):
        return [("replay:" + p, "") for p in _complete_paths(incomplete[7:], (".jsonl", ".json", ".gz"))]
    return [k for k in kinds if k[0].startswith(incomplete)]


def complete_tickers(ctx: typer.Context, incomplete: str) -> list[str]:
    """Market tickers the journal has seen (its markets table), for comma-separated lists too."""
    head, _, word = incomplete.rpartition(",")
    prefix = head + "," if head else ""
    return [prefix + t for t in known_tickers(word.upper(), _journal_paths(ctx))]


def known_tickers(prefix: str, journals: list[Path]) -> list[str]:
    """Tickers starting with ``prefix`` in the journals that exist (never creates one)."""
    found: set[str] = set()
    for path in journals:
        if not path.is_file():
            continue
        try:
            from ..journal import Journal

            jr = Journal(path, readonly=True)
            try:
                found.update(jr.known_tickers(prefix))
            finally:
                jr.close()
        except Exception:  # noqa: BLE001 - a locked or foreign file completes nothing
            continue
    return sorted(found)[:200]


def _journal_paths(ctx: typer.Context) -> list[Path]:
    """The journal the command line names, else every mode's default journal."""
    try:
        given = ctx.params.get("journal") or os.environ.get("KALASHI_JOURNAL")
        if given:
            return [Path(given).expanduser()]
        from ..journal import data_dir

        return [data_dir() / f"journal-{m}.sqlite" for m in ("paper", "demo", "live")]
    except Exception:  # noqa: BLE001
        return []


def _complete_paths(incomplete: str, suffixes: tuple[str, ...]) -> list[str]:
    """Directories and files with one of ``suffixes`` that start with ``incomplete``."""
    base = Path(incomplete).expanduser()
    folder, stem = (base, "") if incomplete.endswith("/") else (base.parent, base.name)
    shown = incomplete[: len(incomplete) - len(stem)]
    out: list[str] = []
    try:
        for entry in sorted(folder.iterdir()):
            if not entry.name.startswith(stem) or (entry.name.startswith(".") and not stem.startswith(".")):
                continue
            if entry.is_dir():
                out.append(f"{shown}{entry.name}/")
            elif entry.name.endswith(suffixes) and not entry.name.endswith(".compiled.json"):
                out.append(f"{shown}{entry.name}")
    except OSError:
        return []
    return out[:200]


# -- the shared options --------------------------------------------------------------------

ProfileOpt = Annotated[
    str,
    typer.Option(
        "--profile",
        "-p",
        envvar="KALASHI_PROFILE",
        metavar="NAME|PATH",
        autocompletion=complete_profile,
        help="Risk profile: a built-in name (default, conservative, aggressive; "
        "see `kalashi profile list`) or a YAML file.",
        show_default=True,
    ),
]
SourceOpt = Annotated[
    str,
    typer.Option(
        "--source",
        "-s",
        envvar="KALASHI_SOURCE",
        metavar="SOURCE",
        autocompletion=complete_source,
        help="Market data: sim[:seed=N,markets=N,step=N], replay:PATH[,speed=N], kalshi, kalshi-demo or kalshi:URL.",
    ),
]
TradeSourceOpt = Annotated[
    str | None,
    typer.Option(
        "--source",
        "-s",
        envvar="KALASHI_SOURCE",
        metavar="SOURCE",
        autocompletion=complete_source,
        help="Market data: sim[:seed=N,markets=N,step=N], replay:PATH[,speed=N], kalshi, kalshi-demo or kalshi:URL. "
        "Default: the venue traded — sim on --paper, kalshi-demo on --demo (kalshi:URL when "
        "KALASHI_EXCHANGE_URL points demo at a server), kalshi on --live.",
        show_default=False,
    ),
]
ForeignOpt = Annotated[
    bool,
    typer.Option(
        "--allow-foreign-source",
        help="On --demo/--live, accept market data from a source other than the venue the "
        "orders go to (refused otherwise: orders would be priced on books the "
        "exchange does not have).",
    ),
]
SeedOpt = Annotated[
    int | None, typer.Option("--seed", metavar="N", help="Seed of the built-in sim market (sim source only).")
]
MarketsOpt = Annotated[
    int | None, typer.Option("--markets", metavar="N", help="Number of markets in the built-in sim (sim source only).")
]
JournalOpt = Annotated[
    Path | None,
    typer.Option(
        "--journal",
        "-j",
        envvar="KALASHI_JOURNAL",
        metavar="PATH",
        help="Journal file (default: journal-<mode>.sqlite in the data dir, "
        "$KALASHI_HOME or the platform's user data dir).",
    ),
]
FormatOpt = Annotated[
    Format,
    typer.Option(
        "--format", "-f", metavar="FORMAT", help="auto (a table on a terminal, JSON Lines in a pipe), jsonl or table."
    ),
]
StrictOpt = Annotated[
    bool,
    typer.Option(
        "--strict",
        envvar="KALASHI_STRICT",
        help="Exit 3 (bad input) instead of 0 when the input held another stage's records and none this one "
        "reads — a skipped stage, e.g. `kalashi scan | kalashi correlate` (default: a warning on stderr, exit 0).",
    ),
]
QuietOpt = Annotated[
    bool, typer.Option("--quiet", "-q", help="No progress bar, status line or summary on stderr (errors still print).")
]
PaperOpt = Annotated[bool, typer.Option("--paper", help="Paper trading on the built-in matching engine (default).")]
DemoOpt = Annotated[
    bool,
    typer.Option(
        "--demo",
        help="Kalshi's demo environment (needs a demo API key in KALSHI_API_KEY_ID and KALSHI_PRIVATE_KEY_PATH).",
    ),
]
LiveOpt = Annotated[
    bool,
    typer.Option(
        "--live",
        help="Real money on Kalshi: also needs allow_live: true in the profile and credentials (docs/safety.md).",
    ),
]
InputArg = Annotated[
    Path | None,
    typer.Argument(
        help="Input records (JSON Lines); '-' or omitted reads stdin.", metavar="[INPUT]", show_default=False
    ),
]


def pick_mode(paper: bool, demo: bool, live: bool) -> Mode:
    """Resolve --paper/--demo/--live (paper when none is given).

    Raises:
        UsageError: more than one was given.
    """
    chosen = [m for m, on in ((Mode.paper, paper), (Mode.demo, demo), (Mode.live, live)) if on]
    if len(chosen) > 1:
        raise UsageError(
            f"choose one of --paper, --demo, --live (got {', '.join('--' + m for m in chosen)})",
            hint="give one (paper is the default when none is given)",
        )
    return chosen[0] if chosen else Mode.paper


def source_spec(source: str, seed: int | None, markets: int | None) -> str:
    """Fold --seed/--markets into a sim source descriptor."""
    if seed is None and markets is None:
        return source
    if not (source == "sim" or source.startswith("sim:")):
        raise UsageError("--seed and --markets only apply to the sim source", hint="drop them or use --source sim")
    parts = dict(p.split("=", 1) for p in source[4:].split(",") if "=" in p) if source.startswith("sim:") else {}
    if seed is not None:
        parts["seed"] = str(seed)
    if markets is not None:
        parts["markets"] = str(markets)
    return "sim:" + ",".join(f"{k}={v}" for k, v in parts.items())


_profile: list[Profile] = []  # the profile this command loaded (a command loads one)


def load_profile(spec: str) -> Profile:
    """Load a profile by built-in name or path; a path that does not exist is named as a path.

    Raises:
        ProfileError: no such profile, or it is invalid (names the file, line and key).
    """
    from ..profile import load_profile as _load

    if (spec.endswith((".yaml", ".yml")) or "/" in spec) and not Path(spec).expanduser().exists():
        from ..errors import ProfileError

        raise ProfileError(
            f"{spec}: no such profile file", hint="check the path, or use a built-in profile (`kalashi profile list`)"
        )
    p = _load(spec)
    _profile[:] = [p]
    return p


def open_journal(mode: Mode | str, path: Path | None) -> Journal:
    """Open the journal of a mode (or --journal).

    Raises:
        JournalError: it cannot be opened or created (names the path and what to check).
    """
    from ..journal import Journal, default_journal_path

    return Journal(path or default_journal_path(str(mode)), mode=str(mode))


def read_journal(mode: Mode | str, path: Path | None) -> Journal:
    """Open the journal of a mode (or --journal) to read it: never created, never migrated.

    A journal that does not exist yet reads as empty.

    Raises:
        JournalError: another mode's journal, newer than this kalashi (or older than it reads
            without migrating: any trading command migrates it), or not readable.
    """
    from ..journal import Journal, default_journal_path

    return Journal.for_reading(path or default_journal_path(str(mode)), mode=str(mode))


def trading_source(
    mode: Mode | str,
    source: str | None,
    *,
    allow_foreign: bool = False,
    seed: int | None = None,
    markets: int | None = None,
) -> str:
    """The source a trading command uses: --source, else the venue traded; foreign venues refused.

    Raises:
        UsageError: --seed/--markets on a source that is not sim, or a demo/live source that is not
            the venue the orders go to (without --allow-foreign-source).
    """
    from ..context import check_venue, venue_source

    # --seed/--markets name the built-in sim: on demo/live that is a foreign source like any other
    default = "sim" if seed is not None or markets is not None else venue_source(str(mode))
    spec = source_spec(source or default, seed, markets)
    check_source_kind(spec)
    check_venue(str(mode), spec, allow_foreign=allow_foreign)
    return spec


def start_trading(mode: Mode | str, path: Path | None, profile: Profile) -> tuple[Journal, Any]:
    """Check consent, become the one trading process of the journal (and account), open the journal.

    In this order, so a refused --live creates no journal and a second trader touches nothing.
    Returns the journal and the held locks (release them after closing the journal).

    Raises:
        ConsentError: demo/live consent missing (exit 5).
        JournalError: another process trades this journal or account (exit 9), or it cannot be opened.
    """
    from ..context import require_consent, trader_locks
    from ..journal import default_journal_path

    env = require_consent(str(mode), profile)
    jpath = path or default_journal_path(str(mode))
    locks = trader_locks(str(mode), jpath, env)
    try:
        return open_journal(mode, jpath), locks
    except BaseException:
        locks.release()
        raise


def check_source_kind(spec: str) -> str:
    """Refuse a source descriptor of no known kind before anything starts (without opening it).

    Raises:
        UsageError: not sim, replay:, kalshi, kalshi-demo or kalshi:URL.
    """
    from ..context import SOURCES_HELP

    s = spec.strip()
    if s == "sim" or s.startswith(("sim:", "replay:", "kalshi:")) or s.split(",")[0] in ("kalshi", "kalshi-demo"):
        return s
    raise UsageError(f"unknown source '{spec}'", hint=f"use one of: {SOURCES_HELP}")


def open_source(spec: str, *, streaming: bool = False) -> MarketSource:
    """Open a source; Kalshi sources get the command's profile's rate limits (``streaming``: the WebSocket feed)."""
    from ..context import open_source as _open

    return _open(spec, _profile[0] if _profile else None, streaming=streaming)


def open_broker(mode: Mode, source: MarketSource, journal: Journal, profile: Profile) -> Broker:
    from ..context import open_broker as _open

    return _open(str(mode), source, journal, profile)


# -- input -------------------------------------------------------------------------------


#: how each kind of input is usually made, for the hint when nothing is piped in
UPSTREAM = {
    "market records": "kalashi scan | kalashi analyze",
    "opportunity records": "kalashi scan | kalashi analyze | kalashi correlate",
    "candidate records": "kalashi scan | kalashi analyze | kalashi correlate | kalashi order --paper",
}


def read_records(path: Path | None, what: str) -> Iterator[dict[str, Any]]:
    """Yield records from a file or stdin; refuse to wait on an interactive terminal.

    Raises:
        UsageError: no input is piped in and no file is given.
        InputError: a line is malformed (names the input and the line).
    """
    from ..records import iter_records

    if path is None or str(path) == "-":
        if sys.stdin.isatty():
            pipe = UPSTREAM.get(what, "kalashi scan | kalashi analyze")
            raise UsageError(
                f"this command reads {what} on stdin, and nothing is piped in",
                hint=f"pipe the previous stage into it, e.g. `{pipe}`, or give a file",
            )
        yield from iter_records(sys.stdin.buffer, "<stdin>")
        return
    try:
        f = path.open("rb")
    except OSError as e:
        raise InputError(f"{path}: cannot read ({e.strerror})", hint="check the path") from None
    with f:
        yield from iter_records(f, str(path))


#: the pipeline's main kinds in order, and the command that makes each
_PIPELINE = {"market": 0, "opportunity": 1, "candidate": 2, "order": 3, "fill": 3}
_MAKER = {0: "kalashi scan", 1: "kalashi analyze", 2: "kalashi correlate", 3: "kalashi order"}


class KindCheck:
    """Count the kinds a stage reads, to warn when it got pipeline records but none it consumes.

    Unknown kinds pass through by contract, and bookkeeping kinds (stats, rejected, denied, …) can
    legitimately be all a stage gets (an upstream stage found nothing), so only the main kinds
    (market, opportunity, candidate, order, fill) of the wrong stage trigger the warning; the exit
    status stays 0.
    """

    def __init__(self, command: str, wants: tuple[str, ...], expected: str | None = None) -> None:
        self.command = command
        self.wants = wants
        self.expected = expected or " or ".join(wants)
        self.counts: dict[str, int] = {}

    def watch(self, recs: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        """Yield the records unchanged, counting their kinds."""
        counts = self.counts
        for rec in recs:
            k = rec["kind"]
            counts[k] = counts.get(k, 0) + 1
            yield rec

    def mismatch(self) -> tuple[str, str] | None:
        """(what was read, what to do) when the input was the wrong stage's, else None (fine or empty)."""
        if any(self.counts.get(k) for k in self.wants):
            return None
        wrong = sorted(_PIPELINE[k] for k in self.counts if k in _PIPELINE and k not in self.wants)
        if not wrong:
            return None
        want_at = min(_PIPELINE.get(k, 99) for k in self.wants)
        got = ", ".join(f"{n} {k} record{'s' if n != 1 else ''}" for k, n in self.counts.items())
        if wrong[0] < want_at:  # stages were skipped
            missing = " | ".join(_MAKER[i] for i in range(wrong[0] + 1, want_at + 1))
            fix = f"pipe `{missing}` in between"
        else:  # records from further down the pipeline
            fix = f"feed it the output of `{_MAKER[want_at]}` instead"
        return f"read {got} and no {self.expected} records", fix

    def problem(self) -> str | None:
        """The warning to print, or None when the input was fine (or empty)."""
        found = self.mismatch()
        return f"kalashi {self.command}: warning: {found[0]} — {found[1]}" if found else None

    def report(self, quiet: bool = False, strict: bool = False) -> None:
        """Print the warning on stderr (one plain line), unless --quiet; with --strict it is an error.

        Raises:
            InputError: ``strict`` and the input was the wrong stage's (exit 3, after the records
                that passed through were written).
        """
        found = self.mismatch()
        if found and strict:
            raise InputError(f"{self.command} {found[0]}", hint=f"{found[1]} (--strict makes this exit 3)")
        msg = self.problem()
        if msg and not quiet:
            sys.stderr.write(msg + "\n")
            sys.stderr.flush()


# -- output ------------------------------------------------------------------------------


def stdout_is_tty() -> bool:
    return sys.stdout.isatty()


def use_table(fmt: Format) -> bool:
    return fmt is Format.table or (fmt is Format.auto and stdout_is_tty())


class Out:
    """Where a command's records go: JSON Lines on stdout (flushed per record) or a table."""

    def __init__(self, fmt: Format = Format.auto, stream: IO[bytes] | None = None) -> None:
        from ..records import RecordWriter

        self.table = use_table(fmt)
        self.writer = RecordWriter(stream if stream is not None else sys.stdout.buffer)
        self.rows: list[dict[str, Any]] = []

    def write(self, rec: dict[str, Any]) -> None:
        if self.table:
            self.rows.append(rec)
        else:
            self.writer.write(rec)

    def write_all(self, recs: Iterable[dict[str, Any]]) -> None:
        for r in recs:
            self.write(r)

    def finish(self, columns: dict[str, list[str]] | None = None) -> None:
        """Print the table (the top rows of each kind on a terminal; every row into a pipe or file)."""
        if self.table and self.rows:
            print_tables(self.rows, columns or {}, limit=TABLE_ROWS if stdout_is_tty() else None)


DEFAULT_COLUMNS: dict[str, list[str]] = {
    "market": ["ticker", "status", "yes_bid", "yes_ask", "no_bid", "no_ask", "volume", "open_interest"],
    "opportunity": ["score", "strategy", "market", "edge", "edge_pct", "reason"],
    "candidate": ["score", "strategy", "market", "group", "size", "stake", "edge", "kelly_fraction"],
    "rejected": ["ref", "code", "reason"],
    "order": ["ticker", "outcome", "action", "price", "count", "status", "filled_count", "avg_fill_price", "fees"],
    "fill": ["ticker", "outcome", "action", "price", "count", "fee", "is_taker"],
    "denied": ["ticker", "code", "reason"],
    "iteration": ["n", "markets", "opportunities", "candidates", "orders", "state", "equity"],
}

#: how many rows of one kind a table shows on a terminal (the rest: "… N more, use --format jsonl")
TABLE_ROWS = 20
#: the order a table shows each kind in (best first); other kinds keep the input's order
SORT_KEYS: dict[str, tuple[str, str]] = {
    "market": ("volume", "by volume"),
    "opportunity": ("score", "by score"),
    "candidate": ("score", "by score"),
}
#: fields that are ratios (0.25 = 25 %): shown as percentages in tables
RATIOS = frozenset({"edge_pct", "kelly_fraction", "confidence", "liquidity", "win_rate", "fill_rate", "hit_rate"})
#: the colour of each state and health word (NO_COLOR turns colour off)
STATE_STYLES = {
    "ok": "green",
    "degraded": "yellow",
    "failed": "bold red",
    "ACTIVE": "green",
    "REDUCING": "yellow",
    "HALTED": "bold red",
}


def console(stderr: bool = True) -> Any:
    """A rich console; with NO_COLOR set it writes no escape sequences at all (no colour, no bold)."""
    from rich.console import Console

    if os.environ.get("NO_COLOR"):
        return Console(stderr=stderr, color_system=None, no_color=True, highlight=False)
    return Console(stderr=stderr, highlight=False)


def print_tables(
    rows: list[dict[str, Any]], columns: dict[str, list[str]], *, limit: int | None = None, con: Any = None
) -> None:
    """Print records grouped by kind as rich tables (on stdout unless ``con`` says otherwise).

    Markets, opportunities and candidates are sorted best first (volume, score); with ``limit``
    each table shows that many rows and says how many more there are. Fields starting with ``_``
    (bookkeeping such as ``_line``) never show; ratios show as percentages.
    """
    from rich.table import Table

    con = con if con is not None else console(stderr=False)
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_kind.setdefault(r.get("kind", "?"), []).append(r)
    for kind, recs in by_kind.items():
        cols = (
            columns.get(kind)
            or DEFAULT_COLUMNS.get(kind)
            or [k for k in recs[0] if k not in ("kind", "v") and not k.startswith("_")][:8]
        )
        how = ""
        if kind in SORT_KEYS:
            key, how = SORT_KEYS[kind]
            recs = sorted(recs, key=lambda r: _number(r.get(key)), reverse=True)  # noqa: B023 - used at once
        shown = recs if limit is None else recs[:limit]
        title = f"{kind} ({len(recs):,})"
        if len(shown) < len(recs):
            title += f" — top {len(shown)}{' ' + how if how else ''}"
        elif how:
            title += f", {how}"
        t = Table(title=title, title_justify="left")
        cells = [[_cell(_field(r, c), c) for c in cols] for r in shown]
        headers = ["edge %" if c == "edge_pct" else c for c in cols]
        if limit is None:  # a file: every column folds to fit, nothing is cut
            for c, h in zip(cols, headers, strict=True):
                t.add_column(h, overflow="fold", max_width=70 if c == "reason" else None)
        else:
            cols, headers, cells = _terminal_columns(t, con.width, cols, headers, cells)
        for row in cells:
            t.add_row(*[_styled(c, v) for c, v in zip(cols, row, strict=True)])
        con.print(t)
        if len(shown) < len(recs):
            con.print(f"… {len(recs) - len(shown):,} more, use --format jsonl")


def _terminal_columns(
    t: Any, width: int, cols: list[str], headers: list[str], cells: list[list[str]]
) -> tuple[list[str], list[str], list[list[str]]]:
    """Add columns for a terminal: numbers and tickers are never folded, the prose gives way.

    A reason (or detail) gets one line of what is left, cut with "…" (the whole text is in
    --format jsonl); on a terminal too narrow for it, it is left out.
    """
    widths = [max([len(h), *(len(row[i]) for row in cells)]) for i, h in enumerate(headers)]
    prose = [i for i, c in enumerate(cols) if c in ("reason", "detail")]
    room = width - (3 * len(cols) + 1) - sum(w for i, w in enumerate(widths) if i not in prose)
    if prose and room < 12 * len(prose):
        keep = [i for i in range(len(cols)) if i not in prose]
        cols, headers, widths = [cols[i] for i in keep], [headers[i] for i in keep], [widths[i] for i in keep]
        cells = [[row[i] for i in keep] for row in cells]
        prose = []
    for i, (c, h) in enumerate(zip(cols, headers, strict=True)):
        if i in prose:
            t.add_column(h, width=min(widths[i], room // len(prose)), overflow="ellipsis", no_wrap=True)
        else:
            right = c in RATIOS or c in ("score", "edge", "stake", "size")
            t.add_column(h, no_wrap=True, justify="right" if right else "left", min_width=widths[i])
    return cols, headers, cells


def _field(rec: dict[str, Any], col: str) -> Any:
    """A column's value; ``market`` is the leg's market ticker (``+N`` for a basket of more legs)."""
    if col == "market" and "market" not in rec:
        legs = rec.get("legs") or []
        if not legs:
            return None
        first = legs[0].get("ticker") if isinstance(legs[0], dict) else None
        return f"{first} +{len(legs) - 1}" if len(legs) > 1 else first
    if col == "code" and "code" not in rec:
        return rec.get("rule")
    return rec.get(col)


def _number(v: Any) -> Decimal:
    try:
        return Decimal(str(v)) if v is not None else Decimal("-Infinity")
    except ArithmeticError:
        return Decimal("-Infinity")


def percent(v: Any, places: int = 1) -> str:
    """A ratio as a percentage: ``"0.0825"`` → ``"8.3%"`` (``"—"`` when there is none)."""
    if v is None or v == "":
        return "—"
    from decimal import ROUND_HALF_UP

    try:
        pct = (Decimal(str(v)) * 100).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    except ArithmeticError:
        return str(v)
    return f"{pct:,}%"


def usd(v: Any, *, signed: bool = False) -> str:
    """Money for a person: ``"1234.5650"`` → ``"$1,234.57"`` (cents, half up; ``signed``: ``"+$1.20"``).

    The one rounding of money on a terminal: run-loop's status and ``kalashi metrics`` both use it.
    """
    from decimal import ROUND_HALF_UP

    if v is None or v == "":
        return "—"
    try:
        d = Decimal(str(v)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    except ArithmeticError:
        return str(v)
    sign = "-" if d < 0 else ("+" if signed and d > 0 else "")
    return f"{sign}${abs(d):,}"


def state_text(word: str) -> Any:
    """A state or health word (ACTIVE, REDUCING, HALTED, ok, degraded, failed) in its colour."""
    from rich.text import Text

    return Text(word, style=STATE_STYLES.get(word, ""))


def _styled(col: str, text: str) -> Any:
    """A state or health word in its colour (a plain string otherwise)."""
    style = STATE_STYLES.get(text) if col in ("state", "status") else None
    if style is None:
        return text
    from rich.text import Text

    return Text(text, style=style)


def print_record(rec: dict[str, Any], title: str | None = None) -> None:
    """Print one record as a two-column table (field, value) on stdout."""
    from rich.table import Table

    t = Table(title=title or f"kalashi {rec.get('kind', '?')}", show_header=False, title_justify="left")
    t.add_column("field")
    t.add_column("value", overflow="fold")
    for k, v in rec.items():
        if k not in ("kind", "v") and not k.startswith("_"):
            t.add_row(k, _styled(k, _cell(v, k)))
    console(stderr=False).print(t)


def _cell(v: Any, col: str = "") -> str:
    if v is None:
        return "—"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, dict | list):
        import orjson

        return orjson.dumps(v).decode()
    if col in RATIOS:
        return percent(v)
    return str(v)


def start_line(
    command: str,
    *,
    mode: str,
    source: str,
    profile: str,
    journal: Path | str,
    last_iteration: int | None,
    extra: str = "",
) -> str:
    """The one line a long-running command says first: what trades where, and on which account.

    A journal a loop has run on before is named as such ("continues …"): a quick start that
    picks up an old paper account is then no surprise.
    """
    account = "paper account" if mode == "paper" else "journal"
    whose = (
        f"continues the {account} after iteration {last_iteration} (--journal PATH starts afresh)"
        if last_iteration
        else f"a new {account}"
    )
    return f"kalashi {command}: {mode} trading on {source}, profile {profile}, journal {journal} — {whose}" + (
        f"; {extra}" if extra else ""
    )


def peek_last_iteration(path: Path) -> int | None:
    """The last iteration of the journal at ``path``, read without creating or migrating it (None if none)."""
    if not path.is_file():
        return None
    try:
        from ..journal import Journal

        jr = Journal(path, readonly=True)
        try:
            rows = jr.iterations(limit=1)
        finally:
            jr.close()
    except Exception:  # noqa: BLE001 - a start line never fails a command; the checks report a bad journal
        return None
    return int(rows[-1]["n"]) if rows else None


def info(msg: str, quiet: bool = False) -> None:
    """Say something to the person on stderr (never wrapped: paths and commands stay copyable)."""
    if not quiet:
        console().print(msg, soft_wrap=True)


class Progress:
    """A transient progress line on stderr (only on a terminal, never with --quiet)."""

    def __init__(self, label: str, quiet: bool = False, total: int | None = None) -> None:
        self.enabled = not quiet and sys.stderr.isatty()
        self.label = label
        self._p: Any = None
        self._task: Any = None
        self.total = total

    def __enter__(self) -> Progress:
        if self.enabled:
            from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
            from rich.progress import Progress as RP

            self._p = RP(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TextColumn("{task.fields[extra]}"),
                console=console(),
                transient=True,
            )
            self._p.start()
            self._task = self._p.add_task(self.label, total=self.total, extra="")
        return self

    def update(self, completed: int, extra: str = "", total: int | None = None) -> None:
        if self._p is not None:
            self._p.update(
                self._task, completed=completed, extra=extra, **({"total": total} if total is not None else {})
            )

    def __exit__(self, *exc: object) -> None:
        if self._p is not None:
            self._p.stop()
