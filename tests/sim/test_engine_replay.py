"""Replaying real recordings through the matching engine keeps its book equal to the recording's.

The engine is fed the recorded frames exactly as a paper broker on a ``replay:`` source would
see them (snapshot → apply_snapshot, delta → apply_delta, NO side in NO-leg prices as Kalshi
sends them by default). After every frame its market-data book must equal the book the live
WebSocket code (kalshi/books.py) rebuilds, and at every recorded snapshot it must equal the
snapshot itself.
"""

from __future__ import annotations

import needs
import pytest

from kalashi_cli.kalshi.books import BookStore
from kalashi_cli.kalshi.replay import load_recording
from kalashi_cli.money import Count, Price, parse_count, parse_price
from kalashi_cli.sim.matching import MatchingEngine

RECORDINGS = [
    "crypto_ws_kxbtc15m/ws_recording_rv600_forward_shadow_20260513T055209Z_first30s.jsonl",
    "crypto_ws_kxbtc15m/ws_recording_rv600_offline_control_patch_smoke_20260515T030949Z.jsonl",
    "sports_rest_ws_fixtures_2026-08/ws_orderbook_stream.json",
]


def _levels(raw: list | None) -> list[tuple[Price, Count]]:
    return [(parse_price(p), parse_count(s)) for p, s in raw or []]


@pytest.mark.parametrize("name", RECORDINGS)
def test_engine_book_equals_the_recording_at_every_frame(name: str) -> None:
    path = needs.shared_path("data", "kalshi-real", name)
    engine = MatchingEngine(sticky_consumption=True)
    store = BookStore(no_side_in_yes_prices=False)
    snapshots = deltas = 0
    for ev in load_recording(path):
        if ev.kind != "ws":
            continue
        frame = ev.data
        kind, msg = frame.get("type"), frame.get("msg") or {}
        ticker = str(msg.get("market_ticker"))
        if kind == "orderbook_snapshot":
            yes, no = _levels(msg.get("yes_dollars_fp")), _levels(msg.get("no_dollars_fp"))
            if engine.has_market(ticker):  # the engine's rebuilt book must equal the exchange's snapshot
                got_yes, got_no = engine.external_book(ticker)
                assert dict(got_yes) == dict(yes) and dict(got_no) == dict(no), f"{ticker} at {ev.t_ms}"
            else:
                engine.add_market(ticker)
            engine.apply_snapshot(ticker, yes, no, ts_ms=ev.t_ms)
            snapshots += 1
        elif kind == "orderbook_delta" and engine.has_market(ticker):
            engine.apply_delta(
                ticker, msg["side"], parse_price(msg["price_dollars"]), parse_count(msg["delta_fp"]), ts_ms=ev.t_ms
            )
            deltas += 1
        else:
            store.handle(frame, ts_ms=ev.t_ms)
            continue
        store.handle(frame, ts_ms=ev.t_ms)
        book = store.books[ticker]
        got_yes, got_no = engine.external_book(ticker)
        assert dict(got_yes) == book.yes and dict(got_no) == book.no, f"{ticker} diverged at {ev.t_ms}"
    assert snapshots >= 1 and deltas >= 10
