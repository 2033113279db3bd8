"""Benchmarks of the Kalshi connectivity layer (median of N runs; one core).

    .venv/bin/python bench/bench_exchange.py [--runs 5] [--write-docs]

1. WebSocket delta decode (orjson) + apply to the local book, on the real KXBTC15M recording
   (shared/data/kalshi-real/crypto_ws_kxbtc15m, 1 599 deltas) re-framed as Kalshi sends them.
2. Request signing rate: RSA-2048 PSS and Ed25519 (KalshiAuth.headers: timestamp, sign, base64).
3. REST calls for a 10 000-market scan against the in-memory fake (tests/exchange/fake_kalshi.py):
   a cold scan, a warm scan (series/events cached), and batched orderbooks for prefiltered markets.

``--write-docs`` replaces the "## Exchange client" section of docs/benchmarks.md (only that section).
"""

from __future__ import annotations

import argparse
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

from kalashi_cli.exchange.books import BookStore  # noqa: E402

CRYPTO = ROOT.parent / "shared" / "data" / "kalshi-real" / "crypto_ws_kxbtc15m" / \
    "ws_recording_rv600_forward_shadow_20260513T055209Z_first30s.jsonl"
COMMAND = ".venv/bin/python bench/bench_exchange.py --runs 5 --write-docs"


def median_of(runs: int, fn: Any) -> tuple[float, list[float]]:
    values = [fn() for _ in range(runs)]
    return statistics.median(values), values


# --------------------------------------------------------------------------- 1. WS deltas


def load_frames() -> tuple[bytes, list[bytes]]:
    snapshot = b""
    deltas: list[bytes] = []
    for line in CRYPTO.read_text().splitlines():
        env = json.loads(line)
        kind = env["event_type"]
        if kind in ("orderbook_snapshot", "orderbook_delta"):
            frame = orjson.dumps({"type": kind, "sid": 2, "seq": env["sequence_number"], "msg": env["payload_json"]})
            if kind == "orderbook_snapshot":
                snapshot = frame
            else:
                deltas.append(frame)
    return snapshot, deltas


def bench_ws(runs: int) -> dict[str, Any]:
    snapshot, deltas = load_frames()
    passes = 60

    wall: list[float] = []

    def one() -> float:
        # CPU time of this thread ("one core"), so other processes on a shared machine do not
        # count against us; wall-clock throughput is reported alongside.
        total = 0
        cpu = 0.0
        elapsed = 0.0
        for _ in range(passes):
            store = BookStore()
            store.handle_raw(snapshot)
            handle = store.handle_raw
            c, t = time.thread_time(), time.perf_counter()
            for f in deltas:
                handle(f)
            cpu += time.thread_time() - c
            elapsed += time.perf_counter() - t
            total += len(deltas)
            assert store.gaps == 0 and not store.books[next(iter(store.books))].stale
        wall.append(total / elapsed)
        return total / cpu

    med, values = median_of(runs, one)
    decode_only = []
    for _ in range(runs):
        c = time.thread_time()
        for _ in range(passes):
            for f in deltas:
                orjson.loads(f)
        decode_only.append(passes * len(deltas) / (time.thread_time() - c))
    # conversion of a deep book to a domain Market (best first), per call
    from kalashi_cli.domain import Market

    store = BookStore()
    store.handle_raw(snapshot)
    for f in deltas:
        store.handle_raw(f)
    ticker = next(iter(store.books))
    base = Market(ticker, "", "", "", "", "active", "", (), ())
    book = store.books[ticker]
    n = 2000
    c = time.thread_time()
    for _ in range(n):
        store.market(ticker, base)
    to_market_us = (time.thread_time() - c) / n * 1e6
    return {"deltas_per_run": passes * len(deltas), "median_msgs_per_s": med, "runs": values,
            "wall_median_msgs_per_s": statistics.median(wall),
            "decode_only_msgs_per_s": statistics.median(decode_only), "levels": len(book.yes) + len(book.no),
            "to_market_us": to_market_us, "frame_bytes": statistics.median(len(f) for f in deltas)}


# --------------------------------------------------------------------------- 2. signing


def bench_signing(runs: int) -> dict[str, Any]:
    from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

    from kalashi_cli.exchange.auth import Credentials, KalshiAuth

    out: dict[str, Any] = {}
    for name, key in (("rsa2048_pss", rsa.generate_private_key(public_exponent=65537, key_size=2048)),
                      ("ed25519", ed25519.Ed25519PrivateKey.generate())):
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
    from exchange.fake_kalshi import universe  # tests/exchange/fake_kalshi.py (tests/ is on sys.path)

    from kalashi_cli.exchange.env import custom_env
    from kalashi_cli.exchange.source import KalshiSource

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
            plain = KalshiSource(custom_env("https://fake.kalshi.test/trade-api/v2"), transport=fake.transport(),
                                 event_metadata=False)
            try:
                list(plain.list_markets())
                no_events_total = plain.api_calls
            finally:
                plain.close()
            results.append({"markets": len(markets), "cold": cold, "cold_total": cold_total,
                            "no_events_total": no_events_total,
                            "warm_total": warm_total, "prefiltered": len(picked), "books": len(books),
                            "book_calls": src.api_calls - before})
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
    target_ok = "met" if ws["median_msgs_per_s"] >= 300_000 else "NOT met"
    listing_cold = scan["cold_total"]
    return f"""## Exchange client

Command: `{COMMAND}` (median of {runs} runs; rates are per CPU-second of one core, `time.thread_time`; Python {platform.python_version()}, {cpu},
{os.cpu_count()} CPUs visible). Measured {time.strftime("%Y-%m-%d")}.

| what | figure |
|---|---|
| WS `orderbook_delta` decode (orjson) + apply, real KXBTC15M recording ({ws["deltas_per_run"]:,} deltas per run, median frame {ws["frame_bytes"]:.0f} B), per CPU-second of one core | **{ws["median_msgs_per_s"]:,.0f} msg/s** (runs {min(ws["runs"]):,.0f} – {max(ws["runs"]):,.0f}; target ≥ 300 000: {target_ok}) |
| same, wall clock on this shared machine | {ws["wall_median_msgs_per_s"]:,.0f} msg/s |
| of which orjson decode alone | {ws["decode_only_msgs_per_s"]:,.0f} msg/s |
| local book → domain Market, best first ({ws["levels"]} levels) | {ws["to_market_us"]:.1f} µs per call |
| signing, RSA-2048 PSS (KalshiAuth.headers) | {sig["rsa2048_pss"]:,.0f} signatures/s |
| signing, Ed25519 | {sig["ed25519"]:,.0f} signatures/s |
| 10 000-market scan, cold: listing calls (target ≤ 15) | **{listing_cold}** = {cold.get("GET /series", 0)} × GET /series + {cold.get("GET /events", 0)} × GET /events?with_nested_markets=true (limit 200, {scan["markets"] // 5:,} events of 5 markets){f' + {cold.get("GET /markets", 0)} × GET /markets' if cold.get("GET /markets") else ""} |
| 10 000-market scan, warm (series/events cached) | **{scan["warm_total"]}** × GET /markets (limit 1000) |
| 10 000-market scan, cold, `event_metadata=False` | {scan["no_events_total"]} = 1 × GET /series + 10 × GET /markets |
| batched orderbooks for {scan["prefiltered"]} prefiltered markets (spread ≤ 2¢) | {scan["book_calls"]} × GET /markets/orderbooks (≤ 100 tickers each) |
| cold scan wall time against the in-memory fake | {scan["cold_seconds_median"] * 1000:.0f} ms (parsing 10 000 markets; no network) |

Notes: the hot path per delta is one `orjson.loads`, memoised price/size parses and one dict
update (`books.py`); decoding is about half the cost. On this shared 2-vCPU machine the WS figure
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
    args = ap.parse_args()
    if not CRYPTO.exists():
        sys.exit(f"needs the shared recording at {CRYPTO}")
    ws = bench_ws(args.runs)
    sig = bench_signing(args.runs)
    scan = bench_scan(args.runs)
    section = report(ws, sig, scan, args.runs)
    print(section)
    print(json.dumps({"ws": ws, "signing": sig, "scan": scan}, indent=1, default=str), file=sys.stderr)
    if args.write_docs:
        write_docs(section)


if __name__ == "__main__":
    main()
