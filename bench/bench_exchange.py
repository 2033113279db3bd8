"""Benchmarks of the Kalshi connectivity layer (median of N runs; one core).

    .venv/bin/python bench/bench_exchange.py [--runs 5] [--write-docs]

1. WebSocket delta decode (orjson) + apply to the local book on the four whole KXBTC15M runs
   (shared/data/kalshi-real/crypto_ws_kxbtc15m/runs, 287 088 deltas) re-framed as Kalshi sends
   them — alone, with the best bid/ask read after every message (the books keep it in O(1)),
   and with that read done as a max over the levels (how it cost before). ``--nautilus PYTHON``
   also runs bench/nautilus_book.py under an interpreter that has ``nautilus_trader``: its
   order book driven from Python on the same frames, side by side.
2. Request signing rate: RSA-2048 PSS and Ed25519 (KalshiAuth.headers: timestamp, sign, base64).
3. REST calls for a 10 000-market scan against the in-memory fake (tests/kalshi/fake_kalshi.py):
   a cold scan, a warm scan (series/events cached), and batched orderbooks for prefiltered markets.

``--write-docs`` replaces the "## Exchange client" section of docs/benchmarks.md (only that section).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import re
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from kalashi_cli.kalshi.books import BookStore  # noqa: E402

RUNS = ROOT.parent / "shared" / "data" / "kalshi-real" / "crypto_ws_kxbtc15m" / "runs"
COMMAND = ".venv/bin/python bench/bench_exchange.py --runs 5 --write-docs"


def median_of(runs: int, fn: Any) -> tuple[float, list[float]]:
    values = [fn() for _ in range(runs)]
    return statistics.median(values), values


# --------------------------------------------------------------------------- 1. WS deltas


def load_runs() -> list[list[bytes]]:
    """Every connection of the four whole KXBTC15M runs, as the frames Kalshi sent (snapshots and deltas).

    The recorder's envelopes carry each message verbatim in ``payload_json``; they are re-framed
    as ``{type, sid, seq, msg}`` with the sid of their channel's ``ws_subscribed`` line, exactly
    as :mod:`kalashi_cli.kalshi.replay` reads them. A ``ws_connected`` line starts a new connection.
    """
    conns: list[list[bytes]] = []
    for path in sorted(RUNS.glob("*.events.jsonl.gz")):
        sid_of: dict[str, int] = {}
        frames: list[bytes] = []
        with gzip.open(path) as fh:
            for line in fh:
                env = orjson.loads(line)
                kind, payload = env["event_type"], env["payload_json"]
                if kind == "ws_connected":
                    frames = []
                    conns.append(frames)
                    sid_of.clear()
                elif kind == "ws_subscribed":
                    sid_of[payload["msg"]["channel"]] = payload["msg"]["sid"]
                elif kind in ("orderbook_snapshot", "orderbook_delta"):
                    frames.append(
                        orjson.dumps(
                            {
                                "type": kind,
                                "sid": sid_of.get(env["channel"]),
                                "seq": env["sequence_number"],
                                "msg": payload,
                            }
                        )
                    )
    return conns


def _pass(conns: list[list[bytes]], mode: str) -> tuple[int, float, float]:
    """Decode and apply every frame once; return (messages, CPU seconds of this thread, wall seconds).

    ``apply``: decode + apply only. ``best``: also read the best YES bid and the best YES ask
    (1 − best NO bid) of the changed book after every message — the O(1) incremental best.
    ``max``: the same read done the slow way, a ``max`` over the price levels (what reading
    best prices cost before the books kept them).
    """
    n = 0
    cpu = wall = 0.0
    for frames in conns:
        store = BookStore()
        handle = store.handle_raw
        c, t = time.thread_time(), time.perf_counter()
        if mode == "apply":
            for f in frames:
                handle(f)
        elif mode == "best":
            for f in frames:
                handle(f)
                b = store.touched
                if b is not None:
                    b.best_yes_bid  # noqa: B018 - the read is what is measured
                    b.best_yes_ask  # noqa: B018
        else:
            for f in frames:
                handle(f)
                b = store.touched
                if b is not None:
                    _ = max(b.yes) if b.yes else None
                    _ = 10_000 - max(b.no) if b.no else None
        cpu += time.thread_time() - c
        wall += time.perf_counter() - t
        n += len(frames)
        assert store.gaps == 0
    return n, cpu, wall


def bench_ws(runs: int, nautilus_python: str | None = None) -> dict[str, Any]:
    conns = load_runs()
    out: dict[str, Any] = {"messages": sum(len(c) for c in conns), "connections": len(conns)}
    for mode in ("apply", "best", "max"):
        rates: list[float] = []
        walls: list[float] = []
        for _ in range(runs):
            n, cpu, wall = _pass(conns, mode)
            rates.append(n / cpu)  # per CPU-second of this thread: "one core", other processes excluded
            walls.append(n / wall)
        out[mode] = {"median": statistics.median(rates), "runs": rates, "wall_median": statistics.median(walls)}
    decode: list[float] = []
    frames = [f for c in conns for f in c]
    for _ in range(runs):
        c = time.thread_time()
        for f in frames:
            orjson.loads(f)
        decode.append(len(frames) / (time.thread_time() - c))
    out["decode_only"] = statistics.median(decode)
    out["frame_bytes"] = statistics.median(len(f) for f in frames)
    # conversion of a deep book to a domain Market (best first), per call
    from kalashi_cli.domain import Market

    store = BookStore()
    biggest = max(conns, key=len)
    for f in biggest[: len(biggest) // 2]:  # mid-run: a market's book is emptied as it closes
        store.handle_raw(f)
    ticker = next(iter(store.books))
    base = Market(ticker, "", "", "", "", "active", "", (), ())
    book = store.books[ticker]
    reps = 2000
    c = time.thread_time()
    for _ in range(reps):
        store.market(ticker, base)
    out["to_market_us"] = (time.thread_time() - c) / reps * 1e6
    out["levels"] = len(book.yes) + len(book.no)
    if nautilus_python:
        import subprocess

        res = subprocess.run(
            [nautilus_python, str(ROOT / "bench" / "nautilus_book.py"), "--runs", str(runs)],
            capture_output=True,
            text=True,
            check=True,
        )
        out["nautilus"] = json.loads(res.stdout.strip().splitlines()[-1])
    return out


# --------------------------------------------------------------------------- 2. signing


def bench_signing(runs: int) -> dict[str, Any]:
    from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

    from kalashi_cli.kalshi.auth import Credentials, KalshiAuth

    out: dict[str, Any] = {}
    for name, key in (
        ("rsa2048_pss", rsa.generate_private_key(public_exponent=65537, key_size=2048)),
        ("ed25519", ed25519.Ed25519PrivateKey.generate()),
    ):
        auth = KalshiAuth(Credentials("bench", key))
        n = 400 if name.startswith("rsa") else 5000

        def one(auth: KalshiAuth = auth, n: int = n) -> float:
            c = time.thread_time()
            for _ in range(n):
                auth.headers("GET", "/trade-api/v2/portfolio/orders")
            return n / (time.thread_time() - c)

        out[name], _ = median_of(runs, one)
    return out


# --------------------------------------------------------------------------- 3. REST scan


def bench_scan(runs: int) -> dict[str, Any]:
    from kalshi.fake_kalshi import universe  # tests/kalshi/fake_kalshi.py (tests/ is on sys.path)

    from kalashi_cli.kalshi.env import custom_env
    from kalashi_cli.kalshi.source import KalshiSource

    results: list[dict[str, Any]] = []
    times: list[float] = []
    for _ in range(runs):
        fake = universe(10_000, per_event=5)
        src = KalshiSource(custom_env("https://fake.kalshi.test/trade-api/v2"), transport=fake.transport())
        try:
            t = time.perf_counter()
            markets = list(src.list_markets())
            times.append(time.perf_counter() - t)
            cold = dict(fake.by_path())
            cold_total = src.api_calls
            list(src.list_markets())
            warm_total = src.api_calls - cold_total
            # prefilter as a scan would: two-sided markets whose spread is at most 2 cents
            picked = [m.ticker for m in markets if m.yes_bid and m.yes_ask and m.yes_ask - m.yes_bid <= 200][:1000]
            before = src.api_calls
            books = src.books(picked)
            plain = KalshiSource(
                custom_env("https://fake.kalshi.test/trade-api/v2"), transport=fake.transport(), event_metadata=False
            )
            try:
                list(plain.list_markets())
                no_events_total = plain.api_calls
            finally:
                plain.close()
            results.append(
                {
                    "markets": len(markets),
                    "cold": cold,
                    "cold_total": cold_total,
                    "no_events_total": no_events_total,
                    "warm_total": warm_total,
                    "prefiltered": len(picked),
                    "books": len(books),
                    "book_calls": src.api_calls - before,
                }
            )
        finally:
            src.close()
    r = results[0]
    assert all(x == r for x in results)
    r["cold_seconds_median"] = statistics.median(times)
    return r


# --------------------------------------------------------------------------- report


def report(ws: dict[str, Any], sig: dict[str, Any], scan: dict[str, Any], runs: int) -> str:
    cpu = platform.processor() or platform.machine()
    cold = scan["cold"]
    best = ws["best"]
    target_ok = "met" if best["median"] >= 400_000 else "**NOT met**"
    listing_cold = scan["cold_total"]
    nt = ws.get("nautilus")
    nautilus_row = (
        (
            f"| NautilusTrader {nt['version']} `OrderBook` (L2) driven from Python on the same frames: decode, "
            f"Kalshi's relative sizes made absolute, `apply_delta`, best bid and ask read after every message "
            f"(bench/nautilus_book.py, its own venv) | {nt['median']:,.0f} msg/s (runs {min(nt['runs']):,.0f} – "
            f"{max(nt['runs']):,.0f}) |\n"
        )
        if nt
        else ""
    )
    markets_calls = f" + {cold.get('GET /markets', 0)} × GET /markets" if cold.get("GET /markets") else ""
    return f"""## Exchange client

Command: `{COMMAND.replace("--write-docs", "--nautilus /tmp/ntv/bin/python --write-docs") if nt else COMMAND}` (median of {runs} runs; rates are per CPU-second of one core, `time.thread_time`; Python {platform.python_version()}, {cpu},
{os.cpu_count()} CPUs visible). Measured {time.strftime("%Y-%m-%d")}.{" The NautilusTrader row needs `nautilus_trader` in another venv (`python3 -m venv /tmp/ntv && /tmp/ntv/bin/pip install nautilus_trader orjson`); without `--nautilus` it is left out." if nt else ""}

| what | figure |
|---|---|
| WS decode (orjson) + apply **with the best bid/ask read after every message**, the four whole KXBTC15M runs ({ws["messages"]:,} messages over {ws["connections"]} connections, median frame {ws["frame_bytes"]:.0f} B), one core | **{best["median"]:,.0f} msg/s** (runs {min(best["runs"]):,.0f} – {max(best["runs"]):,.0f}; target ≥ 400 000: {target_ok}) |
| same, wall clock on this shared machine | {best["wall_median"]:,.0f} msg/s |
| decode + apply alone (no best read) | {ws["apply"]["median"]:,.0f} msg/s |
| decode + apply + best read as a `max` over the levels (before the books kept it) | {ws["max"]["median"]:,.0f} msg/s |
{nautilus_row}| of which orjson decode alone | {ws["decode_only"]:,.0f} msg/s |
| local book → domain Market, best first ({ws["levels"]} levels) | {ws["to_market_us"]:.1f} µs per call |
| signing, RSA-2048 PSS (KalshiAuth.headers) | {sig["rsa2048_pss"]:,.0f} signatures/s |
| signing, Ed25519 | {sig["ed25519"]:,.0f} signatures/s |
| 10 000-market scan, cold: listing calls (target ≤ 15) | **{listing_cold}** = {cold.get("GET /series", 0)} × GET /series + {cold.get("GET /events", 0)} × GET /events?with_nested_markets=true (limit 200, {scan["markets"] // 5:,} events of 5 markets){markets_calls} |
| 10 000-market scan, warm (series/events cached) | **{scan["warm_total"]}** × GET /markets (limit 1000) |
| 10 000-market scan, cold, `event_metadata=False` | {scan["no_events_total"]} = 1 × GET /series + 10 × GET /markets |
| batched orderbooks for {scan["prefiltered"]} prefiltered markets (spread ≤ 2¢) | {scan["book_calls"]} × GET /markets/orderbooks (≤ 100 tickers each) |
| cold scan wall time against the in-memory fake | {scan["cold_seconds_median"] * 1000:.0f} ms (parsing 10 000 markets; no network) |

Notes: the hot path per delta is one `orjson.loads`, memoised price/size parses, one dict
update and — only when a level appears or disappears (15 % of real deltas) — one bisect into
the side's sorted price list, whose last element is the best bid (`books.py`); decoding is
about half the cost. Reading the best bid/ask after a message is an index, where a `max` over a
KXBTC15M book (about 110 levels a side) costs more than the whole decode. On this shared 2-vCPU machine the WS figure
moves by ±30 % between invocations (other jobs compete for the core and its caches), so compare
runs, not single numbers. Market objects carry neither `series_ticker` nor `mutually_exclusive`, so a cold scan (and
every 15 minutes after) lists GET /events?status=open&with_nested_markets=true, which returns the
event metadata and the markets together — one call per 200 events, never more than paging /markets
and /events separately. In between, scans page GET /markets (1 000 per call) and reuse the cached
event and series metadata. With 1 market per event a cold scan of 10 000 markets would need 50
event pages; with the 5 per event modelled here it needs {cold.get("GET /events", 0)}. The signing figures bound authenticated
request rates far above Kalshi's token budgets (RSA signing costs ~{1e6 / sig["rsa2048_pss"]:.0f} µs per request).
"""


def write_docs(section: str) -> None:
    path = ROOT / "docs" / "benchmarks.md"
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    pattern = re.compile(r"^## Exchange client\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(section.rstrip() + "\n\n", text)
    else:
        text = text.rstrip() + "\n\n" + section.rstrip() + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text.rstrip() + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--write-docs", action="store_true")
    ap.add_argument(
        "--nautilus",
        metavar="PYTHON",
        help="an interpreter with nautilus_trader installed, for the side-by-side order book figure",
    )
    args = ap.parse_args()
    if not RUNS.exists():
        sys.exit(f"needs the shared recordings at {RUNS}")
    ws = bench_ws(args.runs, args.nautilus)
    sig = bench_signing(args.runs)
    scan = bench_scan(args.runs)
    section = report(ws, sig, scan, args.runs)
    print(section)
    print(json.dumps({"ws": ws, "signing": sig, "scan": scan}, indent=1, default=str), file=sys.stderr)
    if args.write_docs:
        write_docs(section)


if __name__ == "__main__":
    main()
