"""kalashi halt | flatten | resume | reconcile — the operator's controls."""

from __future__ import annotations

import json

import typer

from ..errors import JournalError
from .common import (
    DemoOpt,
    JournalOpt,
    LiveOpt,
    PaperOpt,
    ProfileOpt,
    QuietOpt,
    info,
    load_profile,
    open_broker,
    open_journal,
    open_source,
    pick_mode,
)


def _source_for(jr, source: str | None) -> str:  # noqa: ANN001
    """Books come from --source, else the source this journal last traded on, else sim."""
    if source:
        return source
    rows = jr.iterations(limit=1)
    return str(rows[-1]["source"]) if rows and rows[-1].get("source") else "sim"


def halt(
    reason: str = typer.Option("operator halt", "--reason", "-r", help="Why (kept in the journal)."),
    paper: PaperOpt = False,
    demo: DemoOpt = False,
    live: LiveOpt = False,
    source: str | None = typer.Option(None, "--source", "-s", help="Books source (default: the journal's last)."),
    profile: ProfileOpt = "default",
    journal: JournalOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Stop trading now: HALTED (kept across restarts), every resting order cancelled, no new entries.

    Cron and ops can also halt by creating the file HALT in the data dir. Lift with
    `kalashi resume --confirm`.
    """
    from ..safety import halt as do_halt

    prof = load_profile(profile)
    mode = pick_mode(paper, demo, live)
    jr = open_journal(mode, journal)
    src = open_source(_source_for(jr, source))
    try:
        broker = open_broker(mode, src, jr, prof)
    except JournalError as e:
        if "in use by another kalashi process" not in str(e):
            raise
        # A running loop holds this paper account: persist the halt; the loop sees it at its
        # next iteration, blocks entries and cancels its resting quotes itself.
        from ..stages.risk import set_halted

        set_halted(jr, reason)
        jr.close()
        src.close()
        typer.echo(json.dumps({"kind": "halt", "v": 1, "state": "HALTED", "reason": reason, "cancelled": 0,
                               "remaining_resting": None, "deferred": True}))
        info(f"HALTED ({reason}): the running loop ({e.message.split('(')[-1].rstrip(')')}) cancels its resting "
             "orders at its next iteration", quiet)
        return
    try:
        res = do_halt(jr, broker, reason)
    finally:
        broker.close()
        src.close()
        jr.close()
    typer.echo(json.dumps({"kind": "halt", "v": 1, **res.to_dict()}))
    info(f"HALTED ({reason}): {res.cancelled} resting order(s) cancelled, {res.remaining_resting} left"
         + (f" — {res.error}" if res.error else ""), quiet)


def flatten(
    paper: PaperOpt = False,
    demo: DemoOpt = False,
    live: LiveOpt = False,
    source: str | None = typer.Option(None, "--source", "-s", help="Books source (default: the journal's last)."),
    profile: ProfileOpt = "default",
    journal: JournalOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Close every open position with reduce-only IOC orders inside the profile's slippage bound.

    Writes the `order`/`fill` records it caused; positions that cannot be closed are listed
    with the reason (no bid, bound too tight …).
    """
    from ..records import RecordWriter
    from ..safety import flatten as do_flatten

    prof = load_profile(profile)
    mode = pick_mode(paper, demo, live)
    jr = open_journal(mode, journal)
    src = open_source(_source_for(jr, source))
    broker = open_broker(mode, src, jr, prof)
    try:
        res = do_flatten(prof, jr, broker, src.books, src.now_ms)
    finally:
        broker.close()
        src.close()
        jr.close()
    w = RecordWriter()
    w.write_all(res.records)
    info(f"closed {len(res.closed)} position(s)" + "".join(f"\n  {t} left open: {why}"
                                                          for t, why in res.left_open.items()), quiet)


def resume(
    confirm: bool = typer.Option(False, "--confirm", help="Required: yes, resume trading."),
    paper: PaperOpt = False,
    demo: DemoOpt = False,
    live: LiveOpt = False,
    journal: JournalOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Leave HALTED and allow new entries again (needs --confirm)."""
    from ..safety import resume as do_resume

    jr = open_journal(pick_mode(paper, demo, live), journal)
    try:
        state = do_resume(jr, confirm=confirm)
    finally:
        jr.close()
    info(f"trading state: {state}", quiet)


def reconcile(
    paper: PaperOpt = False,
    demo: DemoOpt = False,
    live: LiveOpt = False,
    source: str | None = typer.Option(None, "--source", "-s", help="Books source (default: the journal's last)."),
    profile: ProfileOpt = "default",
    journal: JournalOpt = None,
) -> None:
    """Compare the journal with the exchange and adopt the exchange's truth; print what changed.

    Resolves orders whose outcome was unknown (by client_order_id), adds missing fills,
    updates order states, reports orphan resting orders and position drift.
    """
    from ..profile import money
    from ..reconcile import reconcile as do_reconcile

    prof = load_profile(profile)
    mode = pick_mode(paper, demo, live)
    jr = open_journal(mode, journal)
    src = open_source(_source_for(jr, source))
    broker = open_broker(mode, src, jr, prof)
    try:
        rep = do_reconcile(jr, broker, starting_balance=money(prof.paper.starting_balance),
                           cancel_orphans=prof.risk.cancel_orphans)
    finally:
        broker.close()
        src.close()
        jr.close()
    typer.echo(json.dumps({"kind": "reconcile", "v": 1, **rep.to_dict()}))
    if not rep.ok:
        from ..errors import ExchangeError

        raise ExchangeError(f"reconciliation failed: {rep.error}", hint="check connectivity and run it again")


def register(app: typer.Typer) -> None:
    app.command(epilog="Examples:\n\n  kalashi halt --reason 'news event'\n\n  touch \"$KALASHI_HOME/HALT\"   # from cron")(halt)
    app.command(epilog="Examples:\n\n  kalashi flatten --paper\n\n  kalashi halt && kalashi flatten --live")(flatten)
    app.command(epilog="Examples:\n\n  kalashi resume --confirm")(resume)
    app.command(epilog="Examples:\n\n  kalashi reconcile --paper\n\n  kalashi reconcile --live | jq .position_drift")(reconcile)
