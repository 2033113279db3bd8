"""Webhook delivery to a local HTTP server; failures are logged, never raised."""

from __future__ import annotations

import json
import logging
from decimal import Decimal

import httpx
import pytest

from kalashi_cli.errors import UsageError
from kalashi_cli.heal.webhook import Notifier, check_url, post_json

from .conftest import Receiver, free_port


def test_post_json_delivers(receiver: Receiver) -> None:
    ok, detail = post_json(receiver.url, {"event": "health_changed", "from": "ok", "to": "failed", "checks": []})
    assert ok and "delivered" in detail
    assert receiver.wait_for(1) == [{"event": "health_changed", "from": "ok", "to": "failed", "checks": []}]


def test_refused_and_error_statuses_are_reported_not_raised() -> None:
    ok, detail = post_json(f"http://127.0.0.1:{free_port()}/hook", {"event": "x"}, timeout_s=2)
    assert not ok and "not reachable" in detail
    bad = Receiver(status=500)
    try:
        ok, detail = post_json(bad.url, {"event": "x"})
        assert not ok and "HTTP 500" in detail
    finally:
        bad.close()


def test_notifier_sends_in_order_and_counts(receiver: Receiver) -> None:
    n = Notifier(receiver.url)
    try:
        for i in range(3):
            n.notify({"event": "health_changed", "i": i})
        assert n.flush(10)
    finally:
        n.close()
    assert [b["i"] for b in receiver.wait_for(3)] == [0, 1, 2]
    assert (n.sent, n.failed) == (3, 0)


def test_an_undeliverable_notification_is_logged_and_dropped(caplog: pytest.LogCaptureFixture) -> None:
    n = Notifier(f"http://127.0.0.1:{free_port()}/hook", timeout_s=2)
    try:
        with caplog.at_level(logging.WARNING, logger="kalashi.heal"):
            n.notify({"event": "gave_up"})
            assert n.flush(10)
    finally:
        n.close()
    assert n.failed == 1 and n.sent == 0 and "not reachable" in n.last_error
    assert any("webhook gave_up not delivered" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("url", ["ftp://example.com/x", "file:///etc/passwd", "example.com/hook", "http://"])
def test_only_http_urls(url: str) -> None:
    with pytest.raises(UsageError):
        check_url(url)


def test_delivery_is_one_httpx_post_of_json() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    with httpx.Client(transport=httpx.MockTransport(answer)) as client:
        ok, detail = post_json("https://hooks.example/k", {"event": "gave_up", "loss": Decimal("1.50")}, client=client)
    assert (ok, detail) == (True, "delivered (204)")
    (req,) = seen
    assert req.method == "POST" and str(req.url) == "https://hooks.example/k"
    assert req.headers["content-type"] == "application/json"
    assert json.loads(req.content) == {"event": "gave_up", "loss": "1.50"}  # what JSON cannot carry, as text


def test_a_timeout_is_reported_not_raised() -> None:
    def hang(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    with httpx.Client(transport=httpx.MockTransport(hang)) as client:
        ok, detail = post_json("https://hooks.example/k", {"event": "x"}, client=client)
    assert not ok and detail == "https://hooks.example/k not reachable: timed out"


def test_a_loopback_receiver_is_not_sent_through_a_proxy(receiver: Receiver, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.setenv(var, f"http://127.0.0.1:{free_port()}")  # nothing listens there
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    ok, detail = post_json(receiver.url, {"event": "x"})
    assert ok, detail
