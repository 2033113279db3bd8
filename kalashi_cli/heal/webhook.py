"""Webhook notifications: a generic JSON POST when the overall health changes (and when heal gives up).

Payloads::

    {"event": "health_changed", "from": "ok", "to": "degraded", "ts": "…Z", "checks": [Check…]}
    {"event": "gave_up", "target": "loop", "detail": "…", "ts": "…Z", "checks": [Check…]}

Delivery runs on one background thread, in order, with a short timeout and no retries: a
notification that cannot be delivered is logged and dropped — never fatal, never blocking
the supervisor. Only http(s) URLs are accepted.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit

from ..errors import UsageError

log = logging.getLogger("kalashi.heal")

TIMEOUT_S = 5.0


def check_url(url: str) -> str:
    """Return the URL if it is http(s) with a host.

    Raises:
        UsageError: any other URL.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"the webhook must be an http(s) URL, not {url!r}", hint="e.g. https://hooks.example/kalashi")
    return url


def post_json(url: str, payload: dict[str, Any], *, timeout_s: float = TIMEOUT_S) -> tuple[bool, str]:
    """POST ``payload`` as JSON once; return (delivered, plain-words detail). Never raises."""
    body = json.dumps(payload, default=str).encode()
    req = urllib.request.Request(url, data=body, method="POST",
                                 headers={"Content-Type": "application/json", "User-Agent": "kalashi-heal/0.1"})
    # a loopback receiver must never be routed through an HTTP(S)_PROXY
    loopback = (urlsplit(url).hostname or "") in ("127.0.0.1", "localhost", "::1")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({})) if loopback else urllib.request.build_opener()
    try:
        with opener.open(req, timeout=timeout_s) as resp:
            status = resp.status
    except urllib.error.HTTPError as e:
        return False, f"{url} answered HTTP {e.code}"
    except (urllib.error.URLError, OSError, ValueError) as e:
        reason = getattr(e, "reason", e)
        return False, f"{url} not reachable: {reason}"
    if 200 <= status < 300:
        return True, f"delivered ({status})"
    return False, f"{url} answered HTTP {status}"


class Notifier:
    """Send webhook payloads in order from one background thread; record what happened."""

    def __init__(self, url: str, *, timeout_s: float = TIMEOUT_S) -> None:
        self.url = check_url(url)
        self.timeout_s = timeout_s
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.sent = 0
        self.failed = 0
        self.last_error = ""
        self._idle = threading.Condition()
        self._pending = 0
        self._thread = threading.Thread(target=self._run, name="kalashi-heal-webhook", daemon=True)
        self._thread.start()

    def notify(self, payload: dict[str, Any]) -> None:
        """Queue one payload for delivery (returns at once)."""
        with self._idle:
            self._pending += 1
        self._queue.put(payload)

    def _run(self) -> None:
        while True:
            payload = self._queue.get()
            if payload is None:
                return
            ok, detail = post_json(self.url, payload, timeout_s=self.timeout_s)
            if ok:
                self.sent += 1
            else:
                self.failed += 1
                self.last_error = detail
                log.warning("webhook %s not delivered: %s", payload.get("event"), detail)
            with self._idle:
                self._pending -= 1
                self._idle.notify_all()

    def flush(self, timeout_s: float = 10.0) -> bool:
        """Wait until every queued payload was tried; return False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout_s)

    def close(self, timeout_s: float = 10.0) -> None:
        """Deliver what is queued (bounded), then stop the thread."""
        self.flush(timeout_s)
        self._queue.put(None)
        self._thread.join(timeout_s)
