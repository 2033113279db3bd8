"""Typed units and statuses (issue 20 §2): the NewTypes cost nothing, the StrEnums keep the strings.

Price, Count and Money are distinct to mypy (``mypy`` refuses a count where a price belongs;
CI runs it) and plain ints at runtime. Order and intent statuses are StrEnums: records and the
journal carry exactly the strings they carried before, and what the journal gives back is the enum.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import orjson
import pytest

from kalashi_cli.domain import ExchangeOrder, OrderIntent, OrderStatus
from kalashi_cli.journal import INTENT_TRANSITIONS, IntentStatus, Journal
from kalashi_cli.kalshi.wire import parse_exchange_order
from kalashi_cli.money import (
    ONE_DOLLAR,
    Count,
    Money,
    Price,
    fee_for,
    flip,
    notional,
    parse_count,
    parse_money,
    parse_price,
)
from kalashi_cli.stages.risk import TradingState


def test_the_unit_types_are_ints_at_runtime() -> None:
    p, c, m = parse_price("0.4500"), parse_count("10.00"), parse_money("4.5")
    assert (type(p), type(c), type(m)) == (int, int, int)
    assert (p, c, m) == (4500, 1000, 4_500_000)
    assert Price(4500) == p and Count(1000) == c and Money(4_500_000) == m


def test_the_unit_helpers_return_the_unit_they_compute() -> None:
    # price × count is money: 0.45 × 10 contracts = $4.50
    assert notional(parse_price("0.45"), parse_count("10")) == parse_money("4.50")
    assert flip(parse_price("0.45")) == parse_price("0.55") and flip(ONE_DOLLAR) == 0
    # the taker fee on 10 contracts at $0.45: 0.07 × 10 × 0.45 × 0.55 = $0.17325, rounded up to $0.0001
    assert fee_for(parse_price("0.45"), parse_count("10")) == parse_money("0.1733")


def test_statuses_are_the_strings_they_always_were() -> None:
    assert [s.value for s in OrderStatus] == ["resting", "canceled", "executed"]
    assert [s.value for s in IntentStatus] == ["pending", "unknown", "never_sent", "acked", "rejected"]
    assert set(INTENT_TRANSITIONS) == set(IntentStatus)
    assert str(OrderStatus.RESTING) == "resting" and f"{IntentStatus.NEVER_SENT}" == "never_sent"
    assert "resting" in {OrderStatus.RESTING} and hash(OrderStatus.RESTING) == hash("resting")
    assert [s.value for s in TradingState] == ["ACTIVE", "REDUCING", "HALTED"]
    # records are JSON: the enum is written as its string
    assert orjson.loads(orjson.dumps({"status": OrderStatus.CANCELED})) == {"status": "canceled"}


def _order(status: OrderStatus) -> ExchangeOrder:
    return ExchangeOrder("o-1", "c-1", "T", "bid", Price(4500), status, Count(1000), Count(0), Count(1000))


def test_the_journal_stores_the_strings_and_gives_back_the_enums(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    j = Journal(path)
    try:
        j.record_intent(OrderIntent("c-1", "T", "bid", Price(4500), Count(1000)))
        row = j.intent("c-1")
        assert row is not None and row.status is IntentStatus.PENDING
        j.set_intent_status("c-1", IntentStatus.UNKNOWN)
        j.upsert_order(_order(OrderStatus.RESTING))
        [intent] = j.intents(status=IntentStatus.UNKNOWN)
        assert intent.status is IntentStatus.UNKNOWN
        [order] = j.orders(status=OrderStatus.RESTING)
        assert order.status is OrderStatus.RESTING
    finally:
        j.close()
    raw = sqlite3.connect(path)
    try:
        assert raw.execute("SELECT status, typeof(status) FROM intents").fetchall() == [("unknown", "text")]
        assert raw.execute("SELECT status, typeof(status) FROM orders").fetchall() == [("resting", "text")]
    finally:
        raw.close()


@pytest.mark.parametrize(
    "wire,status",
    [
        ("resting", OrderStatus.RESTING),
        ("executed", OrderStatus.EXECUTED),
        ("canceled", OrderStatus.CANCELED),
        ("cancelled", OrderStatus.CANCELED),
        ("pending", OrderStatus.RESTING),
    ],
)
def test_an_exchange_order_status_is_parsed_to_the_enum(wire: str, status: OrderStatus) -> None:
    o = parse_exchange_order(
        {
            "order_id": "o",
            "client_order_id": "c",
            "ticker": "T",
            "side": "yes",
            "action": "buy",
            "yes_price_dollars": "0.4500",
            "status": wire,
        }
    )
    assert o.status is status
