"""Local books: snapshot/delta application, sequence gaps, stale marking, NO-side convention."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kalashi_cli.domain import Market
from kalashi_cli.kalshi.books import BookChanges, BookStore, LocalBook, fast_count, fast_price
from kalashi_cli.money import Count, Price, parse_count, parse_price

from .conftest import EXAMPLES, shared_path

BASE = Market("T", "E", "S", "t", "c", "active", "", (), ())


def snap(sid: int, seq: int, ticker: str, yes: list[list[str]] | None, no: list[list[str]] | None) -> dict[str, Any]:
    msg: dict[str, Any] = {"market_ticker": ticker, "market_id": "id-" + ticker}
    if yes is not None:
        msg["yes_dollars_fp"] = yes
    if no is not None:
        msg["no_dollars_fp"] = no
    return {"type": "orderbook_snapshot", "sid": sid, "seq": seq, "msg": msg}


def delta(sid: int, seq: int, ticker: str, side: str, price: str, d: str) -> dict[str, Any]:
    return {
        "type": "orderbook_delta",
        "sid": sid,
        "seq": seq,
        "msg": {"market_ticker": ticker, "market_id": "x", "price_dollars": price, "delta_fp": d, "side": side},
    }


def test_fast_parsers_agree_with_money() -> None:
    for s in ("0.8100", "0.960", "0.0010", "1.0000", "0.5"):
        assert fast_price(s) == parse_price(s)
    for s in ("-2.00", "1027.32", "0.50", "-0.50", "10", "3.5", ".50", "+2.00"):
        assert fast_count(s) == parse_count(s)


def test_spec_snapshot_then_delta() -> None:
    s = (
        json.loads((EXAMPLES / "ws_orderbook_snapshot.json").read_text())
        if EXAMPLES.exists()
        else snap(
            2,
            2,
            "FED-23DEC-T3.00",
            [["0.0800", "300.00"], ["0.2200", "333.00"]],
            [["0.5400", "20.00"], ["0.5600", "146.00"]],
        )
    )
    store = BookStore()
    assert store.handle(s) is None
    m = store.market("FED-23DEC-T3.00", BASE)
    assert m is not None
    assert m.yes_bids == ((2200, 33300), (800, 30000))  # best first
    assert m.no_bids == ((5600, 14600), (5400, 2000))
    assert m.yes_ask == 4400 and m.yes_ask_size == 14600  # 1 − best NO bid
    store.handle(delta(2, 3, "FED-23DEC-T3.00", "yes", "0.2200", "-333.00"))  # level removed at 0
    store.handle(delta(2, 4, "FED-23DEC-T3.00", "no", "0.5500", "7.50"))
    m = store.market("FED-23DEC-T3.00", BASE)
    assert m is not None and m.yes_bids == ((800, 30000),) and m.no_bids[:2] == ((5600, 14600), (5500, 750))


def test_empty_side_key_is_absent_in_ws_snapshot() -> None:
    store = BookStore()
    store.handle(snap(1, 1, "A", None, [["0.3000", "5.00"]]))
    m = store.market("A", BASE)
    assert m is not None and m.yes_bids == () and m.no_bids == ((3000, 500),)


def test_sequence_gap_marks_the_subscription_stale_and_queues_resync() -> None:
    store = BookStore()
    store.handle(snap(1, 1, "A", [["0.4000", "1.00"]], [["0.5000", "1.00"]]))
    store.handle(snap(1, 2, "B", [["0.1000", "1.00"]], []))
    store.handle(snap(9, 1, "C", [["0.1000", "1.00"]], []))  # another subscription, unaffected
    store.handle(delta(1, 3, "A", "yes", "0.4000", "1.00"))
    assert not store.is_stale("A")
    store.handle(delta(1, 5, "A", "yes", "0.4000", "1.00"))  # seq 4 lost
    assert store.is_stale("A") and store.is_stale("B") and not store.is_stale("C")
    assert store.gaps == 1 and store.market("A", BASE) is None
    assert store.take_resync() == {1: {"A", "B"}} and store.pending_resync == {}
    store.handle(delta(1, 6, "A", "yes", "0.4000", "1.00"))  # ignored while stale
    store.handle(snap(1, 7, "A", [["0.4100", "2.00"]], []))
    assert not store.is_stale("A") and store.is_stale("B")
    m = store.market("A", BASE)
    assert m is not None and m.yes_bids == ((4100, 200),)


def test_ok_replies_share_the_sid_counter() -> None:
    store = BookStore()
    store.handle(snap(1, 1, "A", [["0.4000", "1.00"]], []))
    assert store.handle({"type": "ok", "id": 4, "sid": 1, "seq": 2, "msg": {"market_tickers": ["A"]}}) == "ok"
    store.handle(delta(1, 3, "A", "yes", "0.4000", "1.00"))
    assert store.gaps == 0 and not store.is_stale("A")


def test_impossible_delta_marks_stale() -> None:
    store = BookStore()
    store.handle(snap(1, 1, "A", [["0.4000", "1.00"]], []))
    store.handle(delta(1, 2, "A", "yes", "0.4000", "-2.00"))
    assert store.is_stale("A") and store.take_resync() == {1: {"A"}}


def test_crossed_snapshot_is_refused() -> None:
    store = BookStore()
    # NO bid 0.70 with YES bid 0.40 would mean YES ask 0.30 < YES bid: impossible.
    store.handle(snap(1, 1, "A", [["0.4000", "1.00"]], [["0.7000", "1.00"]]))
    assert store.is_stale("A") and store.crossed_snapshots == 1


def test_no_side_in_yes_prices_is_converted() -> None:
    store = BookStore(no_side_in_yes_prices=True)
    store.handle(snap(1, 1, "A", [["0.4000", "1.00"]], [["0.7000", "3.00"]]))  # NO bid at YES 0.70 = NO 0.30
    store.handle(delta(1, 2, "A", "no", "0.6900", "2.00"))  # NO 0.31
    m = store.market("A", BASE)
    assert m is not None and m.no_bids == ((3100, 200), (3000, 300)) and m.yes_ask == 6900


def test_reset_connection_marks_everything_stale() -> None:
    store = BookStore()
    store.handle(snap(1, 1, "A", [["0.4000", "1.00"]], []))
    store.reset_connection()
    assert store.is_stale("A") and store.last_seq == {}


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(1, 99), st.integers(-500, 500)), max_size=200))
def test_deltas_match_a_decimal_reference(ops: list[tuple[bool, int, int]]) -> None:
    store = BookStore()
    store.handle(snap(1, 1, "A", [], []))
    ref: dict[tuple[bool, str], Decimal] = {}
    seq = 1
    for side_yes, cents, hundredths in ops:
        price = f"0.{cents:02d}00"
        key = (side_yes, price)
        cur = ref.get(key, Decimal(0))
        d = Decimal(hundredths) / 100
        if cur + d < 0:
            d = -cur  # keep the reference legal: sizes never go below zero
        seq += 1
        store.handle(delta(1, seq, "A", "yes" if side_yes else "no", price, f"{d:.2f}"))
        ref[key] = cur + d
    book = store.books["A"]
    assert not book.stale
    expect_yes = {parse_price(p): int(v * 100) for (y, p), v in ref.items() if y and v > 0}
    expect_no = {parse_price(p): int(v * 100) for (y, p), v in ref.items() if not y and v > 0}
    assert book.yes == expect_yes and book.no == expect_no
    assert list(book.yes_bids()) == sorted(expect_yes.items(), reverse=True)


def crypto_frames(name: str) -> list[dict[str, Any]]:
    path = shared_path(f"data/kalshi-real/crypto_ws_kxbtc15m/{name}")
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_real_crypto_stream_every_ticker_matches_a_recent_book_state() -> None:
    """The ticker channel reports top of book; the rebuilt book must have shown it shortly before."""
    for name in (
        "ws_recording_rv600_forward_shadow_20260513T055209Z_first30s.jsonl",
        "ws_recording_rv600_offline_control_patch_smoke_20260515T030949Z.jsonl",
    ):
        store = BookStore()
        tops: list[tuple[int, int, int, int]] = []
        checked = 0
        for env in crypto_frames(name):
            kind, msg = env["event_type"], env["payload_json"]
            if kind in ("orderbook_snapshot", "orderbook_delta"):
                store.handle({"type": kind, "sid": 2, "seq": env["sequence_number"], "msg": msg})
                b: LocalBook = store.books[msg["market_ticker"]]
                assert not b.stale and not b.crossed()
                by, bn = max(b.yes), max(b.no)
                tops.append((by, b.yes[by], 10_000 - bn, b.no[bn]))
            elif kind == "ticker":
                want = (
                    parse_price(msg["yes_bid_dollars"]),
                    parse_count(msg["yes_bid_size_fp"]),
                    parse_price(msg["yes_ask_dollars"]),
                    parse_count(msg["yes_ask_size_fp"]),
                )
                assert want in tops[-60:], f"ticker {want} never shown by the book"
                checked += 1
        assert store.gaps == 0 and checked >= 1


# -- incremental best bid/ask ------------------------------------------------------------------


def brute_top(book: LocalBook) -> tuple[Price | None, Price | None]:
    """The best bids the slow way: a max over the levels."""
    return (max(book.yes) if book.yes else None), (max(book.no) if book.no else None)


_level = st.tuples(st.integers(1, 99), st.integers(0, 400))
_op = st.one_of(
    st.tuples(st.just("delta"), st.booleans(), st.integers(1, 99), st.integers(-400, 400)),
    st.tuples(st.just("snapshot"), st.lists(_level, max_size=12), st.lists(_level, max_size=12)),
    st.tuples(st.just("gap")),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_op, max_size=120), st.booleans())
def test_incremental_best_equals_brute_force_after_any_sequence(ops: list[tuple[Any, ...]], flip: bool) -> None:
    """After every snapshot, delta (legal, emptying, or impossible) and gap, best prices equal a max over the levels."""
    store = BookStore(no_side_in_yes_prices=flip)
    seq = 0
    for op in ops:
        seq += 1
        if op[0] == "delta":
            _, side_yes, cents, hundredths = op
            store.handle(delta(1, seq, "A", "yes" if side_yes else "no", f"0.{cents:02d}00", f"{hundredths / 100:.2f}"))
        elif op[0] == "snapshot":
            # a crossed snapshot is refused (the book stays stale) — the lists must still agree
            store.handle(
                snap(
                    1,
                    seq,
                    "A",
                    [[f"0.{c:02d}00", f"{s / 100:.2f}"] for c, s in op[1]],
                    [[f"0.{c:02d}00", f"{s / 100:.2f}"] for c, s in op[2]],
                )
            )
        else:
            seq += 1  # one frame lost: the subscription's books go stale until the next snapshot
            store.handle({"type": "ok", "id": 1, "sid": 1, "seq": seq, "msg": {}})
        book = store.books.get("A")
        if book is None:
            continue
        book.check()
        best_yes, best_no = brute_top(book)
        assert (book.best_yes_bid, book.best_no_bid) == (best_yes, best_no)
        assert book.best_yes_ask == (None if best_no is None else 10_000 - best_no)
        assert book.best_no_ask == (None if best_yes is None else 10_000 - best_yes)
        bid, bid_size, ask, ask_size = book.top()
        assert (bid, ask) == (book.best_yes_bid, book.best_yes_ask)
        assert bid_size == (book.yes[bid] if bid is not None else 0)
        assert ask_size == (book.no[best_no] if best_no is not None else 0)
        assert book.crossed() == (best_yes is not None and best_no is not None and best_yes + best_no >= 10_000)
        assert book.yes_bids() == tuple(sorted(book.yes.items(), reverse=True))
        assert book.no_bids(3) == tuple(sorted(book.no.items(), reverse=True))[:3]
        if not book.stale:
            m = store.market("A", BASE, depth=2)
            assert m is not None and m.yes_bids == book.yes_bids()[:2] and m.yes_ask == book.best_yes_ask


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(1, 9999), st.integers(-50, 50)), max_size=300))
def test_local_book_apply_keeps_sorted_prices(ops: list[tuple[bool, int, int]]) -> None:
    """LocalBook.apply (the non-frame path) keeps the same invariant on a sub-penny grid."""
    book = LocalBook("A")
    book.replace([(Price(5000), Count(100))], [(Price(4000), Count(100))])
    for side_yes, p, d in ops:
        price = Price(p)
        before = (book.yes if side_yes else book.no).get(price, 0)
        assert book.apply(side_yes, price, Count(d)) == (before + d >= 0)  # False: it went negative
        book.check()
        assert (book.best_yes_bid, book.best_no_bid) == brute_top(book)


def test_change_notifications_name_each_changed_book_once() -> None:
    changes = BookChanges()
    store = BookStore(changes=changes)
    assert not changes.wait(0)
    store.handle(snap(1, 1, "A", [["0.4000", "1.00"]], []))
    store.handle(snap(1, 2, "B", [["0.1000", "1.00"]], []))
    store.handle(delta(1, 3, "A", "yes", "0.4100", "1.00"))
    store.handle(delta(1, 4, "A", "yes", "0.4100", "1.00"))
    assert store.touched is store.books["A"] and store.touched.best_yes_bid == 4100
    assert changes.wait(0)
    tickers, since = changes.take()
    assert list(tickers) == ["A", "B"] and since > 0
    assert not changes.wait(0) and not changes.pending()
    store.handle({"type": "ok", "id": 1, "sid": 1, "seq": 5, "msg": {}})
    assert store.touched is None and not changes.pending()  # not a book message: nothing changed
    store.handle(delta(1, 7, "C", "yes", "0.4100", "1.00"))  # seq 6 lost: A and B go stale
    assert set(changes.take()[0]) == {"A", "B"}
    store.handle(delta(1, 8, "A", "yes", "0.4100", "1.00"))  # ignored while stale: no change
    assert not changes.pending()
    store.handle(snap(1, 9, "A", [["0.4000", "1.00"]], []))
    store.reset_connection()
    assert list(changes.take()[0]) == ["A"]  # the snapshot, then going stale: one entry


RUNS = "data/kalshi-real/crypto_ws_kxbtc15m/runs"


def _run_frames(path: Path) -> Iterator[tuple[str, dict[str, Any] | None]]:
    """The recorder's envelopes of one run as (event_type, Kalshi frame or None)."""
    sid_of: dict[str, int] = {}
    with gzip.open(path) as fh:
        for line in fh:
            env = json.loads(line)
            kind, payload = env["event_type"], env["payload_json"]
            if kind == "ws_subscribed":
                sid_of[payload["msg"]["channel"]] = payload["msg"]["sid"]
            if kind in ("orderbook_snapshot", "orderbook_delta"):
                yield (
                    kind,
                    {"type": kind, "sid": sid_of.get(env["channel"]), "seq": env["sequence_number"], "msg": payload},
                )
            else:
                if kind == "ws_connected":
                    sid_of.clear()
                yield kind, None


def test_real_runs_incremental_best_equals_brute_force_after_every_delta() -> None:
    """Every delta of the four whole KXBTC15M runs: the O(1) best equals a max over the levels."""
    paths = sorted(shared_path(RUNS).glob("*.events.jsonl.gz"))
    assert len(paths) == 4
    deltas = 0
    for path in paths:
        store = BookStore()
        for kind, frame in _run_frames(path):
            if frame is None:
                if kind == "ws_connected":
                    store.reset_connection()
                continue
            store.handle(frame)
            book = store.touched
            assert book is not None, f"{path.name}: a frame changed no book"
            assert (book.best_yes_bid, book.best_no_bid) == brute_top(book)
            deltas += kind == "orderbook_delta"
        assert store.gaps == 0 and store.crossed_snapshots == 0
        for book in store.books.values():
            book.check()
    assert deltas == 287_088


@pytest.mark.slow
def test_real_runs_rebuild_every_book_exactly() -> None:
    """Replayed through the book code, each run's books equal Kalshi's later snapshots.

    The only snapshot that differs is the one Kalshi sends as a market closes (its YES bids
    are gone without deltas): that is the exchange clearing the book, not a missed delta.
    """
    from kalashi_cli.kalshi.replay import ReplaySource

    for path in sorted(shared_path(RUNS).glob("*.events.jsonl.gz")):
        with gzip.open(path) as fh:
            closes = {
                env["market_ticker"]: env["payload_json"]["close_time"]
                for env in map(json.loads, fh)
                if env["event_type"] == "watch_market"
            }
        replay = ReplaySource(path)
        while not replay.exhausted:
            replay.advance()
        assert replay.store.gaps == 0 and replay.snapshot_checks >= 1
        for ticker, t_ms in replay.snapshot_mismatches:
            close_ms = int(datetime.fromisoformat(closes[ticker].replace("Z", "+00:00")).timestamp() * 1000)
            assert t_ms >= close_ms, f"{path.name}: {ticker} rebuilt wrong at {t_ms}, before its close"
