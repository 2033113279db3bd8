"""The Kalshi broker's V2 amend and decrease against sim-exchange (the market maker's re-price and shrink)."""

from __future__ import annotations

from kalashi_cli.domain import OrderIntent
from kalashi_cli.kalshi.broker import KalshiBroker
from kalashi_cli.kalshi.env import custom_env
from kalashi_cli.money import COUNT_SCALE, Count, Price, snap

from .conftest import Sim, credentials

C = COUNT_SCALE


def test_amend_re_prices_under_a_new_client_order_id_and_decrease_keeps_the_order(sim: Sim) -> None:
    m = sim.active_market()
    assert m.yes_bid is not None
    grid = m.price_ranges
    low = snap(Price(max(1, m.yes_bid - 500)), grid, up=False)  # well under the touch: it rests
    lower = snap(Price(max(1, m.yes_bid - 700)), grid, up=False)
    assert low is not None and lower is not None and lower < low
    b = KalshiBroker("demo", custom_env(sim.url), credentials(sim.key), timeout=5.0)
    try:
        ack = b.submit(
            OrderIntent("mm-q1", m.ticker, "bid", low, Count(5 * C), time_in_force="good_till_canceled", post_only=True)
        )
        assert ack.remaining_count == 5 * C
        (placed,) = [x for x in b.orders(ticker=m.ticker) if x.order_id == ack.order_id]
        amended = b.amend(placed, price=lower, count=Count(5 * C), client_order_id="mm-q1-a")
        assert amended.order_id == ack.order_id
        o = b.order(ack.order_id)
        assert (o.price, o.client_order_id, o.remaining_count, o.status) == (lower, "mm-q1-a", 5 * C, "resting")
        assert b.decrease(o, reduce_to=Count(2 * C)) == 2 * C
        o = b.order(ack.order_id)
        assert (o.remaining_count, o.price, o.status) == (2 * C, lower, "resting")
        assert b.cancel(ack.order_id, m.ticker) == 2 * C
    finally:
        b.close()
