"""kalashi analyze — find opportunities in market records."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from .common import (
    Format,
    FormatOpt,
    InputArg,
    KindCheck,
    Out,
    ProfileOpt,
    QuietOpt,
    info,
    load_profile,
    read_records,
)

EPILOG = """Examples:

\b
  kalashi scan | kalashi analyze | kalashi correlate
  kalashi scan | kalashi analyze --fair model.jsonl      # model.jsonl: {"ticker": "...", "p": 0.62} per line
  kalashi scan > markets.jsonl && kalashi analyze markets.jsonl --format table
  my-model | kalashi analyze markets.jsonl --fair -     # fair values on stdin, markets from a file
"""


def read_fair(path: Path) -> dict[str, int]:
    """Read a fair-value file: JSON Lines of {"ticker": ..., "p": probability 0..1}.

    ``p`` may be a JSON number or a string with any number of decimals (a model writes floats such
    as 0.5750000000000001); it is rounded half-even to the price unit, $0.0001.

    Raises:
        InputError: a line is not {ticker, p} with 0 ≤ p ≤ 1 (names the file and line).
    """
    import sys

    import orjson

    from ..errors import InputError

    name = "<stdin>" if str(path) == "-" else str(path)
    try:
        stream = sys.stdin.buffer if str(path) == "-" else path.open("rb")
    except OSError as e:
        raise InputError(f"{path}: cannot read the fair-value file ({e.strerror})",
                         hint="check the path given to --fair") from None
    fair: dict[str, int] = {}
    with stream:
        for n, line in enumerate(stream, 1):
            if not line.strip():
                continue
            try:
                d = orjson.loads(line)
                p = _probability(d["p"])
                ticker = d["ticker"]
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, ArithmeticError) as e:
                raise InputError(f"{name}:{n}: expected {{\"ticker\": ..., \"p\": 0..1}} ({e})",
                                 hint="one JSON object per line, p as a probability such as 0.62") from None
            if not isinstance(ticker, str) or not 0 <= p <= 10_000:
                raise InputError(f"{name}:{n}: p must be between 0 and 1 and ticker a string",
                                 hint="write p as a probability such as 0.62, not a percentage")
            fair[ticker] = p
    return fair


def _probability(value: object) -> int:
    """A probability as an int in 1/10 000 (the price unit), rounded half-even.

    Raises:
        TypeError, ValueError, ArithmeticError: not a finite number.
    """
    from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise TypeError(f"p must be a number, not {type(value).__name__}")
    try:
        q = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(f"p is not a number: {value!r}") from None
    if not q.is_finite():
        raise ValueError(f"p must be a finite number, not {value!r}")
    return int((q * 10_000).to_integral_value(ROUND_HALF_EVEN))


def analyze(
    input: InputArg = None,
    fair: Path | None = typer.Option(None, "--fair", metavar="PATH",
                                     help="Fair probabilities from your model: JSON Lines {\"ticker\": ..., \"p\": "
                                          "0..1}, for the value strategy; '-' reads them from stdin (then give "
                                          "the markets as INPUT)."),
    profile: ProfileOpt = "default",
    fmt: FormatOpt = Format.auto,
    quiet: QuietOpt = False,
) -> None:
    """Find opportunities in market records, net of fees.

    Reads `market` records (from `kalashi scan`) and writes `opportunity` records for three
    strategies: arbitrage (mutually exclusive events, strike ladders), spread capture (a
    maker quote inside a wide spread) and value (your --fair probabilities against the
    executable price). Every edge is net of the fees that would be paid; each opportunity
    carries its legs, edge, confidence, liquidity, score (edge × confidence × liquidity) and
    a plain-words reason. Records of other kinds pass through unchanged. Ends with a `stats`
    record (cache hits and misses).
    """
    from ..errors import UsageError
    from ..records import VERSION, decode_error, market_from_record, to_record
    from ..stages.analyze import Analyzer

    if fair is not None and str(fair) == "-" and (input is None or str(input) == "-"):
        raise UsageError("--fair - reads fair values from stdin, so the markets must come from a file",
                         hint="give the markets as a file: `kalashi analyze markets.jsonl --fair -`")
    prof = load_profile(profile)
    analyzer = Analyzer(prof, fair=read_fair(fair) if fair else None)
    out = Out(fmt)
    ctx: dict[str, Any] = {"as_of": 0, "src": ""}
    kinds = KindCheck("analyze", ("market",))

    def markets():
        from ..stages.scan import close_ms  # noqa: F401 - keeps decode helpers warm

        for rec in kinds.watch(read_records(input, "market records")):
            if rec["kind"] != "market":
                out.write(rec)
                continue
            try:
                m = market_from_record(rec)
            except (ValueError, TypeError) as e:
                raise decode_error("<stdin>" if input is None else str(input), rec, e) from None
            if not ctx["src"]:
                ctx["src"] = str(rec.get("src", ""))
                ctx["as_of"] = _ms(rec.get("ts"))
            yield m

    for o in analyzer.analyze(markets(), context=lambda: (int(ctx["as_of"]), str(ctx["src"]))):
        out.write(to_record(o))
    kinds.report(quiet)
    st = analyzer.stats
    if out.table:
        out.finish()
        info(f"cache: {st.hits} hits, {st.misses} misses", quiet)
    else:
        out.write({"kind": "stats", "v": VERSION, "stage": "analyze", "cache_hits": st.hits,
                   "cache_misses": st.misses})


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
