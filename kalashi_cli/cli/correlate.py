"""kalashi correlate — group, cap and size opportunities."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from .common import (
    DemoOpt,
    Format,
    FormatOpt,
    InputArg,
    JournalOpt,
    KindCheck,
    LiveOpt,
    Out,
    PaperOpt,
    ProfileOpt,
    QuietOpt,
    StrictOpt,
    info,
    load_profile,
    open_journal,
    pick_mode,
    read_records,
)

if TYPE_CHECKING:
    from ..domain import Opportunity

EPILOG = """Examples:

\b
  kalashi scan | kalashi analyze | kalashi correlate | kalashi order --paper
  kalashi analyze markets.jsonl | kalashi correlate --profile conservative --format table
  kalashi scan | kalashi analyze | kalashi correlate | jq -c 'select(.kind == "rejected") | .reason'
"""


def correlate(
    input: InputArg = None,
    profile: ProfileOpt = "default",
    journal: JournalOpt = None,
    paper: PaperOpt = False,
    demo: DemoOpt = False,
    live: LiveOpt = False,
    fmt: FormatOpt = Format.auto,
    quiet: QuietOpt = False,
    strict: StrictOpt = False,
) -> None:
    """Rank, group, cap and size opportunities into candidates.

    Reads `opportunity` records (from `kalashi analyze`) and writes a sized `candidate` or a
    `rejected` record with its reason for each. The opportunities of one set of books (the
    same `as_of_ms` and `src`) are ranked together first — riskless arbitrage first, then by
    expected profit per dollar of capital — and written in that order, each taking its share
    of the caps in turn. Groups come from market metadata, then the
    profile's keyword rules; a group that already has exposure needs 1.5 × the minimum edge
    (profile); position, group and event concentration are capped as a share of equity; size
    is fractional Kelly. The account (equity, exposure, streaks) is read from the journal of
    the chosen mode (--paper/--demo/--live); nothing is traded here.
    """
    from ..profile import money
    from ..records import decode_error, opportunity_from_record, to_record
    from ..stages.correlate import Correlator
    from ..stages.portfolio import load_portfolio
    from ..stages.valuation import spread_cap

    prof = load_profile(profile)
    mode = pick_mode(paper, demo, live)
    jr = open_journal(mode, journal)
    out = Out(fmt)
    corr = Correlator(prof, load_portfolio(jr, money(prof.paper.starting_balance), spread_cap=spread_cap(prof)))
    kept = rejected = 0
    kinds = KindCheck("correlate", ("opportunity",))
    batch: list[Opportunity] = []

    def flush() -> None:
        # one set of books' opportunities are ranked together (capital to the best first), as in run-loop
        nonlocal kept, rejected
        for c in corr.correlate_batch(batch):
            r = to_record(c)
            kept += r["kind"] == "candidate"
            rejected += r["kind"] == "rejected"
            out.write(r)
        batch.clear()

    try:
        for rec in kinds.watch(read_records(input, "opportunity records")):
            if rec["kind"] != "opportunity":
                out.write(rec)
                continue
            try:
                o = opportunity_from_record(rec)
            except (ValueError, TypeError) as e:
                raise decode_error("<stdin>" if input is None else str(input), rec, e) from None
            if batch and (o.as_of_ms, o.src) != (batch[0].as_of_ms, batch[0].src):
                flush()
            batch.append(o)
        flush()
        jr.remember_markets(corr.market_rows())
    finally:
        jr.close()
    out.finish()
    kinds.report(quiet, strict)
    if out.table:
        info(f"{kept} candidates, {rejected} rejected", quiet)


def register(app: typer.Typer) -> None:
    app.command(epilog=EPILOG)(correlate)
