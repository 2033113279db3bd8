"""An amend whose answer is lost or answered 409 (stages/order_amend.py): looked up by its new id, else the market blocks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kalashi_cli.domain import ExchangeOrder, OrderStatus
from kalashi_cli.errors import Conflict, OutcomeUnknown

from .test_making import Rig, p, wide


def _resting_bid(r: Rig) -> ExchangeOrder:
    return next(o for o in r.broker.orders(status=OrderStatus.RESTING) if o.side == "bid")


def test_a_lost_amend_answer_is_found_by_the_new_id_or_blocks_the_market(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    r = Rig(tmp_path, [wide()])
    try:
        ctx = r.round()
        order, m = _resting_bid(r), r.src.markets["MM-1"]
        real = r.broker.amend

        def arrives_then_lost(*a: Any, **kw: Any) -> Any:
            real(*a, **kw)
            raise OutcomeUnknown("read timeout")

        monkeypatch.setattr(r.broker, "amend", arrives_then_lost)
        done = ctx.executor.amend(order, m, price=p("0.47"), count=order.initial_count, client_order_id="am-1")
        assert not done.unknown and done.order is not None and done.order.price == p("0.47")
        assert "found amended on the exchange by client_order_id" in done.reason
        row = r.j.intent("am-1")
        assert row is not None and row.status == "acked"

        def never_arrives(*a: Any, **kw: Any) -> Any:
            raise OutcomeUnknown("read timeout")

        monkeypatch.setattr(r.broker, "amend", never_arrives)
        done = ctx.executor.amend(
            _resting_bid(r), m, price=p("0.46"), count=order.initial_count, client_order_id="am-2"
        )
        assert done.unknown and done.order is None and "market blocked until reconciled" in done.reason
        row = r.j.intent("am-2")
        assert row is not None and row.status == "unknown"
        d = ctx.gate.check(row.to_intent(), fee_type=m.fee_type, multiplier=m.fee_multiplier)
        assert d is not None and d.rule == "unknown-outcome", "no writes on the market until reconciled"
    finally:
        r.close()


def test_a_409_amend_is_the_amend_arriving_when_the_order_carries_the_new_id(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    r = Rig(tmp_path, [wide()])
    try:
        ctx = r.round()
        order, m = _resting_bid(r), r.src.markets["MM-1"]
        real = r.broker.amend

        def arrived_earlier(*a: Any, **kw: Any) -> Any:
            real(*a, **kw)
            raise Conflict("client_order_id already used")

        monkeypatch.setattr(r.broker, "amend", arrived_earlier)
        done = ctx.executor.amend(order, m, price=p("0.47"), count=order.initial_count, client_order_id="am-3")
        assert done.order is not None and "the amend arrived" in done.reason

        def taken_by_another(*a: Any, **kw: Any) -> Any:
            raise Conflict("client_order_id already used")

        monkeypatch.setattr(r.broker, "amend", taken_by_another)
        done = ctx.executor.amend(
            _resting_bid(r), m, price=p("0.46"), count=order.initial_count, client_order_id="am-4"
        )
        assert done.order is None and not done.unknown and "already used on the exchange" in done.reason
        row = r.j.intent("am-4")
        assert row is not None and row.status == "rejected"
    finally:
        r.close()
