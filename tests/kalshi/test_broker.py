"""KalshiBroker over the fake exchange, and every consent/environment refusal."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from kalashi_cli.domain import OrderIntent, OrderStatus
from kalashi_cli.errors import Conflict, ConsentError, OrderRejected, OutcomeUnknown, RateLimited
from kalashi_cli.kalshi.auth import Credentials
from kalashi_cli.kalshi.broker import KalshiBroker, open_broker
from kalashi_cli.kalshi.env import DEMO, PROD, check_live_consent, custom_env
from kalashi_cli.money import Count, Price
from kalashi_cli.ports import Broker, SourceEvents

from .fake_kalshi import FakeKalshi, Fault, make_market

SIM = custom_env("http://127.0.0.1:8800/trade-api/v2")
T = "KXT-26SEP01-A"


@pytest.fixture
def fake(rsa_creds: Credentials) -> FakeKalshi:
    f = FakeKalshi(public_keys={rsa_creds.key_id: load_pem_public_key(rsa_creds.public_key_pem())})
    # YES bids up to 0.45; NO bids up to 0.53 (so YES ask = 0.47)
    f.add_market(
        make_market(T, "KXT-26SEP01"),
        yes=[["0.4400", "5.00"], ["0.4500", "100.00"]],
        no=[["0.5200", "10.00"], ["0.5300", "30.00"]],
    )
    return f


@pytest.fixture
def broker(fake: FakeKalshi, rsa_creds: Credentials) -> Iterator[KalshiBroker]:
    b = KalshiBroker("demo", SIM, rsa_creds, transport=fake.transport(), clock_ms=lambda: fake.now_ms)
    yield b
    b.close()


def test_protocol_and_limits_read_at_start(broker: KalshiBroker, fake: FakeKalshi) -> None:
    assert isinstance(broker, Broker) and broker.mode == "demo"
    assert fake.count("GET", "/account/limits") == 1


def test_submit_ioc_fills_and_gtc_rests(broker: KalshiBroker, fake: FakeKalshi) -> None:
    ack = broker.submit(OrderIntent("c-ioc", T, "bid", Price(4700), Count(1000)))  # buys YES at the 0.47 ask
    assert (ack.status, ack.fill_count, ack.remaining_count, ack.average_fill_price) == ("executed", 1000, 0, 4700)
    assert ack.client_order_id == "c-ioc" and ack.average_fee_paid == 2000
    body_sent = fake.orders[ack.order_id]
    assert body_sent["book_side"] == "bid" and body_sent["yes_price_dollars"] == "0.4700"
    rest = broker.submit(OrderIntent("c-gtc", T, "bid", Price(4000), Count(250), "good_till_canceled"))
    assert rest.status == "resting" and rest.remaining_count == 250
    buy_no = broker.submit(OrderIntent("c-no", T, "ask", Price(4500), Count(100)))  # sell YES 0.45 = buy NO 0.55
    assert buy_no.status == "executed" and buy_no.average_fill_price == 4500
    orders = {o.client_order_id: o for o in broker.orders()}
    assert orders["c-gtc"].status == "resting" and orders["c-gtc"].side == "bid" and orders["c-gtc"].price == 4000
    assert [o.client_order_id for o in broker.orders(status=OrderStatus.RESTING)] == ["c-gtc"]
    positions = {p.ticker: p.position for p in broker.positions()}
    assert positions == {T: 1000 - 100}
    fills = broker.fills()
    assert [(f.side, f.price, f.count) for f in fills] == [("bid", 4700, 1000), ("ask", 4500, 100)]
    assert broker.balance().balance == 1_000_000_000 and broker.balance().by_shard == ((0, 1_000_000_000),)


def test_submit_outcomes_are_definite_or_unknown(broker: KalshiBroker, fake: FakeKalshi) -> None:
    with pytest.raises(OrderRejected) as rej:
        broker.submit(OrderIntent("c1", T, "bid", Price(4005), Count(100)))  # off the cent grid
    assert rej.value.code == "invalid_price"
    calls = fake.count("POST", "/portfolio/events/orders")
    with pytest.raises(OrderRejected):
        broker.submit(OrderIntent("c2", T, "bid", Price(4000), Count(100), "immediate_or_cancel", expiration_ts=1))
    assert fake.count("POST", "/portfolio/events/orders") == calls  # refused locally, never sent
    broker.submit(OrderIntent("c3", T, "bid", Price(4000), Count(100), "good_till_canceled"))
    with pytest.raises(Conflict):
        broker.submit(OrderIntent("c3", T, "bid", Price(4000), Count(100), "good_till_canceled"))
    fake.faults.append(Fault("POST", "/portfolio/events/orders", exc=httpx.ReadTimeout, after_processing=True))
    with pytest.raises(OutcomeUnknown):
        broker.submit(OrderIntent("c4", T, "bid", Price(4000), Count(100), "good_till_canceled"))
    assert any(o["client_order_id"] == "c4" for o in fake.orders.values())  # reconcile finds it
    fake.faults.append(Fault("POST", "/portfolio/events/orders", 502))
    with pytest.raises(OutcomeUnknown):
        broker.submit(OrderIntent("c5", T, "bid", Price(4000), Count(100), "good_till_canceled"))
    fake.faults.append(Fault("POST", "/portfolio/events/orders", 429, {"error": "too many requests"}))
    with pytest.raises(RateLimited):
        broker.submit(OrderIntent("c6", T, "bid", Price(4000), Count(100), "good_till_canceled"))
    # c3 twice, c4, c5, c6: each sent exactly once, nothing retried
    assert fake.count("POST", "/portfolio/events/orders") == calls + 5


def test_cancel_and_cancel_all(broker: KalshiBroker, fake: FakeKalshi) -> None:
    a = broker.submit(OrderIntent("a", T, "bid", Price(4000), Count(300), "good_till_canceled"))
    broker.submit(OrderIntent("b", T, "bid", Price(3900), Count(100), "good_till_canceled"))
    broker.submit(OrderIntent("c", T, "ask", Price(6000), Count(100), "good_till_canceled"))
    assert broker.cancel(a.order_id, T) == 300
    q = next(q for m, p, q in fake.calls if m == "DELETE" and p.endswith(a.order_id))
    assert q == f"market_ticker={T}"
    assert broker.cancel_all() == 2
    assert fake.count("DELETE", "/portfolio/events/orders") == 1
    assert broker.orders(status=OrderStatus.RESTING) == []


def test_on_market_data_returns_each_new_fill_once(broker: KalshiBroker, fake: FakeKalshi) -> None:
    assert broker.on_market_data([], SourceEvents()) == []
    broker.submit(OrderIntent("f1", T, "bid", Price(4700), Count(100)))
    first = broker.on_market_data([], SourceEvents())
    assert [f.order_id for f in first] == [next(iter(fake.orders))]
    assert broker.on_market_data([], SourceEvents()) == []
    broker.submit(OrderIntent("f2", T, "ask", Price(4500), Count(100)))
    assert len(broker.on_market_data([], SourceEvents())) == 1


def test_trading_active_and_settlements(broker: KalshiBroker, fake: FakeKalshi) -> None:
    assert broker.trading_active() is True
    fake.trading_active = False
    assert broker.trading_active() is False
    fake.settlements.append(
        {
            "ticker": T,
            "event_ticker": "KXT-26SEP01",
            "market_result": "no",
            "yes_count_fp": "0.00",
            "no_count_fp": "2.00",
            "revenue": 200,
            "value": 0,
            "fee_cost": "0.0000",
            "settled_time": "2026-09-02T00:00:00Z",
            "exchange_index": 0,
        }
    )
    [s] = broker.settlements()
    assert (s.result, s.revenue, s.value, s.no_count) == ("no", 2_000_000, 0, 200)


# --------------------------------------------------------------------------- refusals


def test_live_needs_consent_and_prod_hosts(rsa_creds: Credentials) -> None:
    with pytest.raises(ConsentError) as e:
        KalshiBroker("live", PROD, rsa_creds, configure_limits=False)
    assert "check_live_consent" in str(e.value)
    for env in (DEMO, SIM):
        with pytest.raises(ConsentError):
            KalshiBroker("live", env, rsa_creds, consented=True, configure_limits=False)
    with pytest.raises(ConsentError):
        KalshiBroker("demo", PROD, rsa_creds, configure_limits=False)
    with pytest.raises(ConsentError):  # demo mode never talks to an arbitrary remote host
        KalshiBroker("demo", custom_env("https://example.com/trade-api/v2"), rsa_creds, configure_limits=False)


def test_demo_key_is_never_sent_to_prod(rsa_pkcs1_file: Path) -> None:
    env = {"KALSHI_API_KEY_ID": "k", "KALSHI_PRIVATE_KEY_PATH": str(rsa_pkcs1_file), "KALSHI_KEY_ENV": "demo"}
    with pytest.raises(ConsentError) as e:
        KalshiBroker.from_env("prod", env, consented=True, configure_limits=False)
    assert "demo key" in str(e.value)
    prod_key = dict(env, KALSHI_KEY_ENV="prod")
    with pytest.raises(ConsentError):
        open_broker("demo", env=prod_key, configure_limits=False)
    b = open_broker("demo", env=env, configure_limits=False)  # demo key, demo host: fine (no network yet)
    try:
        assert b.env == DEMO
    finally:
        b.close()


def test_check_live_consent_names_every_missing_piece() -> None:
    with pytest.raises(ConsentError) as e:
        check_live_consent(False, False, False, False)
    text = str(e.value)
    for piece in ("--live", "allow_live: true", "KALSHI_API_KEY_ID", "KALSHI_PRIVATE_KEY_PATH", "trading"):
        assert piece in text
    assert e.value.exit_code == 5
    with pytest.raises(ConsentError) as e2:
        check_live_consent(True, False, True, True)
    assert "allow_live" in e2.value.message and "--live flag" not in e2.value.message
    with pytest.raises(ConsentError) as e3:
        check_live_consent(True, True, True, False)
    assert "paused" in e3.value.message
    check_live_consent(True, True, True, True)
    check_live_consent(True, True, True, None)  # not asked yet: not counted as missing
