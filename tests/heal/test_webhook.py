"""Webhook delivery to a local HTTP server; failures are logged, never raised."""

from __future__ import annotations

import logging

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
