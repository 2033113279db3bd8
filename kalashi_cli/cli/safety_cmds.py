"""kalashi halt | flatten | resume | reconcile — the operator's controls."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ..errors import JournalError
from ..locks import IN_USE
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
    complete_source,
    info,
    load_profile,
    open_broker,
    open_journal,
    open_source,
    pick_mode,
    print_record,
    start_trading,
    use_table,
)

if TYPE_CHECKING:
    from ..journal import Journal
    from ..ports import Broker, MarketSource
    from ..profile import Profile
    from .common import Mode

#: --source for the controls: books from here, else from the source the journal last traded on
BooksSourceOpt = Annotated[
    str | None,
    typer.Option(
        "--source",
        "-s",
        metavar="SOURCE",
        autocompletion=complete_source,
        help="Where the books come from (default: the source the journal last traded on, else sim; flatten on "
        "--demo/--live: the venue traded, and no other).",
    ),
]


def _source_for(jr: Journal, source: str | None, mode: str = "paper", *, priced: bool = False) -> str:
    """Books come from --source, else the source this journal last traded on, else sim.

    ``priced``: the books price orders (flatten). On demo/live they then come from the venue
    the account trades on, and a --source elsewhere is refused; the brakes (halt) and
    reconcile never price anything and accept any source.

    Raises:
        UsageError: ``priced`` on demo/live with a --source that is not the venue.
    """
    from ..context import check_venue, venue_source

    if priced and mode != "paper":
        if source:
            check_venue(mode, source)
            return source
        return venue_source(mode)
    if source:
        return source
    rows = jr.iterations(limit=1)
    return str(rows[-1]["source"]) if rows and rows[-1].get("source") else "sim"


def _open_journal(mode: Mode, journal: Path | None, prof: Profile) -> Journal:
    """The journal, after the demo/live consent check (a refused --live creates no journal)."""
    from ..context import require_consent

    require_consent(str(mode), prof)
    return open_journal(mode, journal)


@contextmanager
def _account(
    mode: Mode, jr: Journal, source: str | None, prof: Profile, *, priced: bool = False
) -> Iterator[tuple[MarketSource, Broker]]:
    """Open the source and broker for ``jr``'s account; close broker, source and journal on exit."""
    src = None
    broker = None
    try:
        src = open_source(_source_for(jr, source, str(mode), priced=priced))
        broker = open_broker(mode, src, jr, prof)
        yield src, broker
    finally:
        if broker is not None:
            broker.close()
        if src is not None:
            src.close()
        jr.close()


def _emit(rec: dict[str, Any], fmt: Format) -> None:
    """One record: a field/value table on a terminal (or --format table), a JSON line in a pipe."""
    if use_table(fmt):
        print_record(rec)
    else:
        Out(fmt).write(rec)


def reconcile_record(rep: Any) -> dict[str, Any]:
    """Encode a reconciliation report as a `reconcile` record (counts and money as contract strings)."""
    from ..money import fmt_count, fmt_money

    d = rep.to_dict()
    d["position_drift"] = {t: [fmt_count(a), fmt_count(b)] for t, (a, b) in rep.position_drift.items()}
    d["balance_drift"] = [fmt_money(x) for x in rep.balance_drift] if rep.balance_drift else None
    return {"kind": "reconcile", "v": 1, **d}


def halt(
    reason: str = typer.Option(
        "operator halt",
        "--reason",
        "-r",
        metavar="TEXT",
        help="Why you halt (kept in the journal, shown by heal and the dashboard).",
    ),
    paper: PaperOpt = False,
    demo: DemoOpt = False,
    live: LiveOpt = False,
    source: BooksSourceOpt = None,
    profile: ProfileOpt = "default",
    journal: JournalOpt = None,
    fmt: FormatOpt = Format.auto,
    quiet: QuietOpt = False,
) -> None:
    """Stop trading now and cancel resting orders.

    Sets the trading state to HALTED (kept across restarts), cancels every resting order and
    lets only reducing orders through. When a run-loop holds this paper account, the halt is
    stored and the loop cancels its own resting orders at its next iteration. Writes one
    `halt` record (a table on a terminal). Cron and ops can also halt by creating the file
    HALT in the data dir. Lift it with `kalashi resume --confirm`.
    """
    from ..safety import halt as do_halt

    prof = load_profile(profile)
    mode = pick_mode(paper, demo, live)
    jr = _open_journal(mode, journal, prof)
    try:
        with _account(mode, jr, source, prof) as (_src, broker):
            res = do_halt(jr, broker, reason)
    except JournalError as e:
        if IN_USE not in str(e):
            raise
        # A running loop holds this paper account: persist the halt; the loop sees it at its
        # next iteration, blocks entries and cancels its resting quotes itself.
        from ..stages.risk import set_halted

        jr = open_journal(mode, journal)
        try:
            set_halted(jr, reason)
        finally:
            jr.close()
        _emit(
            {
                "kind": "halt",
                "v": 1,
                "state": "HALTED",
                "reason": reason,
                "cancelled": 0,
                "remaining_resting": None,
                "error": "",
                "deferred": True,
            },
            fmt,
        )
        info(
            f"HALTED ({reason}): the running loop ({e.message.split('(')[-1].rstrip(')')}) cancels its resting "
            "orders at its next iteration",
            quiet,
        )
        return
    _emit({"kind": "halt", "v": 1, **res.to_dict(), "deferred": False}, fmt)
    info(
        f"HALTED ({reason}): {res.cancelled} resting order(s) cancelled, {res.remaining_resting} left"
        + (f" — {res.error}" if res.error else ""),
        quiet,
    )


def flatten(
    paper: PaperOpt = False,
    demo: DemoOpt = False,
    live: LiveOpt = False,
    source: BooksSourceOpt = None,
    profile: ProfileOpt = "default",
    journal: JournalOpt = None,
    fmt: FormatOpt = Format.auto,
    quiet: QuietOpt = False,
) -> None:
    """Close every open position (reduce-only IOC orders).

    Sells every open position with reduce-only immediate-or-cancel orders inside the
    profile's slippage bound and writes the `order`/`fill` records it caused; positions that
    cannot be closed are listed on stderr with the reason (no bid, bound too tight …).
    Usually after `kalashi halt`, so nothing opens again meanwhile.
    """
    from ..safety import flatten as do_flatten

    prof = load_profile(profile)
    mode = pick_mode(paper, demo, live)
    if source:
        from ..context import check_venue

        check_venue(mode, source)  # before anything is opened
    jr, locks = start_trading(mode, journal, prof)  # flatten trades: the one trader of this journal and account
    try:
        with _account(mode, jr, source, prof, priced=True) as (src, broker):
            res = do_flatten(prof, jr, broker, src.books, src.now_ms)
    finally:
        locks.release()
    out = Out(fmt)
    out.write_all(res.records)
    out.finish()
    info(
        f"closed {len(res.closed)} position(s)"
        + "".join(f"\n  {t} left open: {why}" for t, why in res.left_open.items()),
        quiet,
    )


def resume(
    confirm: bool = typer.Option(False, "--confirm", help="Required: yes, I want trading to resume."),
    clear_limits: bool = typer.Option(
        False,
        "--clear-limits",
        help="Also drop the risk limits an agent tightened over MCP (kept in the "
        "journal until then); the profile's own limits apply again.",
    ),
    paper: PaperOpt = False,
    demo: DemoOpt = False,
    live: LiveOpt = False,
    journal: JournalOpt = None,
    fmt: FormatOpt = Format.auto,
    quiet: QuietOpt = False,
) -> None:
    """Leave HALTED and allow new entries (needs --confirm).

    Clears a halt stored in the journal (by `kalashi halt`, a limit, heal, the dashboard or an
    MCP agent) and resets the count of failed reconciliations, and writes one `resume` record.
    With --clear-limits it also drops the limits an agent tightened. A HALT file in the data
    dir must be removed by hand first. REDUCING is not a halt: it clears by itself when
    drawdown and loss streaks recover.
    """
    from ..safety import resume as do_resume
    from ..stages.risk import TradingState, stored_state

    jr = open_journal(pick_mode(paper, demo, live), journal)
    try:
        before, why = stored_state(jr)
        state = do_resume(jr, confirm=confirm)
        cleared = jr.tightened_limits() if clear_limits else {}
        if clear_limits:
            jr.clear_tightened_limits()
            jr.add_event("clear-limits", {k: str(v) for k, v in cleared.items()})
    finally:
        jr.close()
    was_halted = before is TradingState.HALTED
    rec = {
        "kind": "resume",
        "v": 1,
        "state": "ACTIVE",
        "was_halted": was_halted,
        "halt_reason": why if was_halted else "",
    }
    if clear_limits:
        rec["cleared_limits"] = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in cleared.items()}
    _emit(rec, fmt)
    info(f"trading state: {state}" + (f"; cleared {len(cleared)} tightened limit(s)" if clear_limits else ""), quiet)


def reconcile(
    paper: PaperOpt = False,
    demo: DemoOpt = False,
    live: LiveOpt = False,
    source: BooksSourceOpt = None,
    profile: ProfileOpt = "default",
    journal: JournalOpt = None,
    fmt: FormatOpt = Format.auto,
    quiet: QuietOpt = False,
) -> None:
    """Adopt the exchange's truth about orders and fills.

    Compares the journal with the exchange, resolves orders whose outcome was unknown (by
    client_order_id, which unblocks their markets), adds missing fills, updates order states,
    reports orphan resting orders and position drift, and writes one `reconcile` record of
    what changed (a table on a terminal). run-loop does this at start and every few
    iterations by itself.
    """
    from ..profile import money
    from ..reconcile import reconcile as do_reconcile

    prof = load_profile(profile)
    mode = pick_mode(paper, demo, live)
    jr = _open_journal(mode, journal, prof)
    with _account(mode, jr, source, prof) as (_src, broker):
        rep = do_reconcile(
            jr, broker, starting_balance=money(prof.paper.starting_balance), cancel_orphans=prof.risk.cancel_orphans
        )
    _emit(reconcile_record(rep), fmt)
    if rep.ok:
        info(
            f"reconciled: {len(rep.resolved)} unknown order(s) resolved, {rep.fills_added} fill(s) added, "
            f"{rep.orders_updated} order(s) updated, {len(rep.orphans)} orphan(s), "
            f"{len(rep.position_drift)} position drift(s)" + (", balance drift" if rep.balance_drift else ""),
            quiet,
        )
    else:
        from ..errors import ExchangeError

        raise ExchangeError(f"reconciliation failed: {rep.error}", hint="check connectivity and run it again")


HALT_EPILOG = """Examples:

\b
  kalashi halt --reason 'news event'
  kalashi halt --live --reason 'going on holiday'
  touch "$KALASHI_HOME/HALT"                   # from cron or ops: every loop on this data dir halts
"""

FLATTEN_EPILOG = """Examples:

\b
  kalashi flatten --paper
  kalashi halt --live && kalashi flatten --live
  kalashi flatten --paper | jq -c 'select(.kind == "fill")'
"""

RESUME_EPILOG = """Examples:

\b
  kalashi resume --confirm
  kalashi resume --confirm --clear-limits           # also drop limits an agent tightened
  rm "$KALASHI_HOME/HALT" && kalashi resume --live --confirm
"""

RECONCILE_EPILOG = """Examples:

\b
  kalashi reconcile --paper
  kalashi reconcile --demo --source kalshi-demo
  kalashi reconcile --live | jq .position_drift
"""


def register(app: typer.Typer) -> None:
    app.command(epilog=HALT_EPILOG)(halt)
    app.command(epilog=FLATTEN_EPILOG)(flatten)
    app.command(epilog=RESUME_EPILOG)(resume)
    app.command(epilog=RECONCILE_EPILOG)(reconcile)
