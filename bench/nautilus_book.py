"""NautilusTrader's order book driven from Python on the KXBTC15M runs — the side-by-side figure.

Run it under an interpreter that has ``nautilus_trader`` (and ``orjson``) installed; it is not
a dependency of kalashi::

    python3 -m venv /tmp/ntv && /tmp/ntv/bin/pip install nautilus_trader orjson
    /tmp/ntv/bin/python bench/nautilus_book.py --runs 5

Per message, the work a Python client of that book does: ``orjson.loads``, the price and size
strings parsed (memoised, as kalashi does), Kalshi's relative size change made absolute with a
dict per side (NautilusTrader's L2 deltas carry absolute sizes), one ``OrderBookDelta`` applied
(UPDATE, or DELETE at zero), then the best bid and best ask read. YES bids are the bids; NO bids
at q are asks at 1 − q. Prints one JSON line: msgs/s per CPU-second of this thread.
"""

from __future__ import annotations

import argparse
import gzip
import json
import statistics
import time
from decimal import Decimal
from pathlib import Path

import orjson
from nautilus_trader import __version__
from nautilus_trader.model.book import OrderBook
from nautilus_trader.model.data import BookOrder, OrderBookDelta
from nautilus_trader.model.enums import BookAction, BookType, OrderSide
from nautilus_trader.model.identifiers import InstrumentId
from nautilus_trader.model.objects import Price, Quantity

RUNS = Path(__file__).resolve().parents[2] / "shared" / "data" / "kalshi-real" / "crypto_ws_kxbtc15m" / "runs"
IID = InstrumentId.from_str("KXBTC15M.KALSHI")


def load() -> list[list[bytes]]:
    conns: list[list[bytes]] = []
    for path in sorted(RUNS.glob("*.events.jsonl.gz")):
        frames: list[bytes] = []
        with gzip.open(path) as fh:
            for line in fh:
                env = orjson.loads(line)
                kind = env["event_type"]
                if kind == "ws_connected":
                    frames = []
                    conns.append(frames)
                elif kind in ("orderbook_snapshot", "orderbook_delta"):
                    frames.append(
                        orjson.dumps({"type": kind, "seq": env["sequence_number"], "msg": env["payload_json"]})
                    )
    return conns


def one_pass(conns: list[list[bytes]], last: dict[str, tuple[object, object]] | None = None) -> tuple[int, float]:
    """Apply every frame once; with ``last``, note each book's final best bid and ask there."""
    n, cpu = 0, 0.0
    for frames in conns:
        books: dict[str, tuple[OrderBook, dict[int, int], dict[int, int]]] = {}
        prices: dict[str, int] = {}
        px_obj: dict[int, Price] = {}
        seq = 0
        c = time.thread_time()
        for f in frames:
            fr = orjson.loads(f)
            msg = fr["msg"]
            t = msg["market_ticker"]
            seq += 1
            if fr["type"] == "orderbook_snapshot":
                book = OrderBook(IID, BookType.L2_MBP)
                yes: dict[int, int] = {}
                no: dict[int, int] = {}
                books[t] = (book, yes, no)
                for side, levels, key in (
                    (OrderSide.BUY, yes, "yes_dollars_fp"),
                    (OrderSide.SELL, no, "no_dollars_fp"),
                ):
                    for p_text, s_text in msg.get(key) or ():
                        p = int(Decimal(p_text) * 10_000)
                        s = int(Decimal(s_text) * 100)
                        levels[p] = s
                        px = p if side is OrderSide.BUY else 10_000 - p
                        book.add(
                            BookOrder(side, Price.from_raw(px * 10**12, 4), Quantity.from_raw(s * 10**14, 2), px),
                            0,
                            seq,
                            0,
                        )
            else:
                book, yes, no = books[t]
                p_text = msg["price_dollars"]
                p = prices.get(p_text)
                if p is None:
                    p = prices[p_text] = int(Decimal(p_text) * 10_000)
                d_text = msg["delta_fp"]
                i = d_text.find(".")
                d = int(d_text[:i] + d_text[i + 1 :])
                is_yes = msg["side"] == "yes"
                levels = yes if is_yes else no
                size = levels.get(p, 0) + d
                px = p if is_yes else 10_000 - p
                price = px_obj.get(px)
                if price is None:
                    price = px_obj[px] = Price.from_raw(px * 10**12, 4)
                side = OrderSide.BUY if is_yes else OrderSide.SELL
                if size > 0:
                    levels[p] = size
                    action = BookAction.UPDATE
                else:
                    levels.pop(p, None)
                    action = BookAction.DELETE
                    size = 0
                book.apply_delta(
                    OrderBookDelta(
                        IID, action, BookOrder(side, price, Quantity.from_raw(size * 10**14, 2), px), 0, seq, 0, 0
                    )
                )
            book.best_bid_price()
            book.best_ask_price()
        cpu += time.thread_time() - c
        n += len(frames)
        if last is not None:
            for t, (book, _, _) in books.items():
                last[t] = (book.best_bid_price(), book.best_ask_price())
    return n, cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    conns = load()
    rates = []
    for _ in range(args.runs):
        n, cpu = one_pass(conns)
        rates.append(n / cpu)
    print(json.dumps({"version": __version__, "median": statistics.median(rates), "runs": rates, "messages": n}))


if __name__ == "__main__":
    main()
