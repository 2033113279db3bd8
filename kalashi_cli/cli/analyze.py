"""kalashi analyze — find opportunities in market records."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
import typer

from ..errors import InputError

if TYPE_CHECKING:
    from ..domain import Market

from .common import (
    Format,
    FormatOpt,
    InputArg,
    KindCheck,
    Out,
    ProfileOpt,
    QuietOpt,
    StrictOpt,
    info,
    load_profile,
    read_records,
)

if TYPE_CHECKING:
    from ..domain import FairValue

EPILOG = """Examples:

\b
  kalashi scan | kalashi analyze | kalashi correlate
  kalashi scan | kalashi analyze --fair model.jsonl      # model.jsonl: {"ticker": "...", "p": 0.62} per line
  kalashi scan | kalashi fair --models ladder | kalashi analyze --fair -   # fair records in the same pipe
  kalashi scan > markets.jsonl && kalashi analyze markets.jsonl --format table
  my-model | kalashi analyze markets.jsonl --fair -     # fair values on stdin, markets from a file
"""


def read_fair_values(path: Path) -> dict[str, FairValue]:
    """Read fair values: ``fair`` records (``kalashi fair``, your model) or bare ``{"ticker", "p"}`` lines.

    ``p`` (and ``se``) may be JSON numbers or decimal strings with any number of decimals (a
    model writes floats such as 0.5750000000000001). Records of other kinds are skipped, so the
    output of ``kalashi fair`` (fair records among the markets) is a valid file.

    Raises:
        InputError: a line is not valid, or p is not in [0, 1] (names the file, line and field).
    """
    import sys

    name = "<stdin>" if str(path) == "-" else str(path)
    try:
        stream = sys.stdin.buffer if str(path) == "-" else path.open("rb")
    except OSError as e:
        raise InputError(
            f"{path}: cannot read the fair-value file ({e.strerror})", hint="check the path given to --fair"
        ) from None
    fair: dict[str, FairValue] = {}
    with stream:
        for n, line in enumerate(stream, 1):
            if not line.strip():
                continue
            try:
                d = orjson.loads(line)
            except orjson.JSONDecodeError as e:
                raise InputError(f"{name}:{n}: not valid JSON ({e})", hint=FAIR_HINT) from None
            if not isinstance(d, dict):
                raise InputError(f"{name}:{n}: expected a JSON object, got {type(d).__name__}", hint=FAIR_HINT)
            if d.get("kind", "fair") != "fair":
                continue
            fv = decode_fair(d, name, n)
            fair[fv.ticker] = fv
    return fair


def read_fair(path: Path) -> dict[str, int]:
    """Read a fair-value file as prices: ticker → p in 1/10 000 (rounded half-even).

    Raises:
        InputError: as :func:`read_fair_values`.
    """
    return {t: fv.price for t, fv in read_fair_values(path).items()}


def decode_fair(d: dict[str, Any], name: str, line: int | str) -> FairValue:
    """Decode one fair record, naming the input, line and field on failure.

    Raises:
        InputError: a missing or malformed field.
    """
    from ..records import fair_from_record

    try:
        return fair_from_record(d)
    except (ValueError, TypeError, ArithmeticError) as e:
        raise InputError(f"{name}:{line}: {e}", hint=FAIR_HINT) from None


FAIR_HINT = (
    'one JSON object per line: {"kind": "fair", "ticker": ..., "p": "0.62", "model": ..., "se": ...} '
    'or just {"ticker": ..., "p": 0.62} (docs/records.md)'
)


def analyze(
    input: InputArg = None,
    fair: Path | None = typer.Option(
        None,
        "--fair",
        metavar="PATH",
        help="Fair probabilities for the value strategy: `fair` records (kalashi fair, "
        'your model) or {"ticker": ..., "p": 0..1} lines. \'-\' takes the fair '
        "records that come down the pipe among the markets (kalashi scan | kalashi "
        "fair | kalashi analyze --fair -), or, when INPUT is a file, reads stdin.",
    ),
    profile: ProfileOpt = "default",
    fmt: FormatOpt = Format.auto,
    quiet: QuietOpt = False,
    strict: StrictOpt = False,
) -> None:
    """Find opportunities in market records, net of fees.

    Reads `market` records (from `kalashi scan`) and writes `opportunity` records for three
    strategies: arbitrage (mutually exclusive events, strike ladders), the market maker (a YES
    bid and a NO bid around fair value in a wide spread; run-loop manages them) and value (fair probabilities — `--fair`, or the
    profile's `fair.models` — against the executable price, only where a fair value exists and
    the edge clears the minimum plus the value's stated uncertainty). Every edge is net of the fees that would be paid; each opportunity
    carries its legs, edge, confidence, liquidity, score (edge × confidence × liquidity) and
    a plain-words reason. Records of other kinds pass through unchanged. Ends with a `stats`
    record (cache hits and misses).
    """
    from ..records import VERSION, decode_error, market_from_record, to_record
    from ..stages.analyze import Analyzer

    in_band = fair is not None and str(fair) == "-" and (input is None or str(input) == "-")
    prof = load_profile(profile)
    analyzer = Analyzer(prof, fair=read_fair_values(fair) if fair is not None and not in_band else None)
    out = Out(fmt)
    kinds = KindCheck("analyze", ("market",))
    name = "<stdin>" if input is None else str(input)

    def markets() -> Iterator[tuple[Market, int, str]]:
        # each market keeps the time and source of its own record: several captures in one input
        # give opportunities of their own books, never the first record's
        for rec in kinds.watch(read_records(input, "market records")):
            kind = rec["kind"]
            if kind == "fair" and in_band:  # `kalashi fair` writes an event's values before its markets
                fv = decode_fair(rec, name, rec.get("_line", "?"))
                analyzer.fair[fv.ticker] = fv
                continue
            if kind != "market":
                out.write(rec)
                continue
            try:
                m = market_from_record(rec)
            except (ValueError, TypeError) as e:
                raise decode_error(name, rec, e) from None
            yield m, _ms(rec.get("ts")), str(rec.get("src", "") or "")

    for o in analyzer.analyze_stamped(markets()):
        out.write(to_record(o))
    kinds.report(quiet, strict)
    unused = kinds.counts.get("fair", 0) if not in_band else 0
    if unused and not quiet:
        import sys

        sys.stderr.write(
            f"kalashi analyze: warning: read {unused} fair record{'s' if unused != 1 else ''} and "
            "passed them through unused — add --fair - to trade on them\n"
        )
    analyzer.close()
    st = analyzer.stats
    if out.table:
        out.finish()
        info(f"cache: {st.hits} hits, {st.misses} misses", quiet)
    else:
        out.write({"kind": "stats", "v": VERSION, "stage": "analyze", "cache_hits": st.hits, "cache_misses": st.misses})


def _ms(ts: object) -> int:
    if not isinstance(ts, str) or not ts:
        return 0
    from datetime import datetime

    try:
        return int(datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        return 0


def register(app: typer.Typer) -> None:
    app.command(epilog=EPILOG)(analyze)
