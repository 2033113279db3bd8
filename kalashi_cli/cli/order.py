"""kalashi order — execute candidates through the risk gate."""

from __future__ import annotations

import typer

from .common import (
    DemoOpt,
    ForeignOpt,
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
    complete_source,
    info,
    load_profile,
    open_broker,
    open_source,
    pick_mode,
    read_records,
    start_trading,
)

EPILOG = """Examples:

\b
  kalashi scan | kalashi analyze | kalashi correlate | kalashi order --paper
  kalashi correlate opps.jsonl > candidates.jsonl && kalashi order candidates.jsonl --format table
  kalashi correlate opps.jsonl | kalashi order --demo        # needs a demo API key
  kalashi order candidates.jsonl --live --profile my-live.yaml   # real money: docs/safety.md
"""


def order(
    input: InputArg = None,
    paper: PaperOpt = False,
    demo: DemoOpt = False,
    live: LiveOpt = False,
    source: str | None = typer.Option(
        None,
        "--source",
        "-s",
        metavar="SOURCE",
        autocompletion=complete_source,
        help="Books to fill against. Paper: default the `src` the candidates were "
        "computed from, else sim. --demo/--live: default the venue traded "
        "(kalshi-demo, kalshi:URL of KALASHI_EXCHANGE_URL, kalshi); candidates "
        "computed on other books are refused unless --allow-foreign-source.",
    ),
    allow_foreign_source: ForeignOpt = False,
    profile: ProfileOpt = "default",
    journal: JournalOpt = None,
    fmt: FormatOpt = Format.auto,
    quiet: QuietOpt = False,
    strict: StrictOpt = False,
) -> None:
    """Send candidates through the risk gate to the broker.

    Reads `candidate` records (from `kalashi correlate`). Paper by default (--demo and --live
    need their consent, docs/safety.md). Each leg walks the current book to its size within
    the profile's slippage bound (IOC/FOK for takers, post-only for maker quotes), is
    journaled under a deterministic client_order_id before it is sent, and yields `order`,
    `fill` or `denied` records (a denial names its rule). Re-running the same candidates
    never sends an order twice.
    """
    from ..context import check_venue, venue_source
    from ..profile import money
    from ..records import candidate_from_record, decode_error, encode
    from ..stages.order import OrderExecutor
    from ..stages.portfolio import load_portfolio
    from ..stages.risk import RiskGate, evaluate_state
    from ..stages.valuation import spread_cap

    prof = load_profile(profile)
    mode = pick_mode(paper, demo, live)
    if source:
        check_venue(mode, source, allow_foreign=allow_foreign_source)
    jr, locks = start_trading(mode, journal, prof)  # refuse before reading any input
    out = Out(fmt)
    state: dict[str, object] = {}
    checked: set[str] = set()

    def executor(src_spec: str) -> OrderExecutor:
        if mode != "paper" and src_spec and src_spec not in checked:
            # candidates sized on the simulator's (or a recording's) books must not reach a real account
            check_venue(
                mode, src_spec, allow_foreign=allow_foreign_source, named=f"the candidates' books (src {src_spec})"
            )
            checked.add(src_spec)
        if "ex" not in state:
            default = (src_spec or "sim") if mode == "paper" else venue_source(mode)
            src = open_source(source or default)
            broker = open_broker(mode, src, jr, prof)
            portfolio = load_portfolio(
                jr, money(prof.paper.starting_balance), now_ms=src.now_ms(), spread_cap=spread_cap(prof)
            )
            jr.set_meta("last_source", src.describe())
            st, why = evaluate_state(prof, jr, portfolio)
            gate = RiskGate(prof, jr, portfolio, st, why)
            state.update(src=src, broker=broker, ex=OrderExecutor(prof, broker, jr, gate, src.books, now_ms=src.now_ms))
        return state["ex"]  # type: ignore[return-value]

    counts = {"order": 0, "fill": 0, "denied": 0}
    kinds = KindCheck("order", ("candidate",))
    try:
        for rec in kinds.watch(read_records(input, "candidate records")):
            if rec["kind"] != "candidate":
                out.write(rec)
                continue
            try:
                cand = candidate_from_record(rec)
            except (ValueError, TypeError) as e:
                raise decode_error("<stdin>" if input is None else str(input), rec, e) from None
            kept = []
            for obj in executor(cand.opportunity.src).execute(cand):
                r = encode(obj)
                counts[r["kind"]] = counts.get(r["kind"], 0) + 1
                kept.append(r)
                out.write(r)
            if kept:
                jr.add_records(kept)
    finally:
        for key in ("broker", "src"):
            if key in state:
                state[key].close()  # type: ignore[attr-defined]
        jr.close()
        locks.release()
    out.finish()
    kinds.report(quiet, strict)
    if out.table:
        info(f"{counts['order']} orders, {counts['fill']} fills, {counts['denied']} denied ({mode} mode)", quiet)


def register(app: typer.Typer) -> None:
    app.command(epilog=EPILOG)(order)
