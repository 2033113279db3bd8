"""Webhook notifications: a generic JSON POST when the overall health changes (and when heal gives up).

Payloads::

    {"event": "health_changed", "from": "ok", "to": "degraded", "ts": "…Z", "checks": [Check…]}
    {"event": "gave_up", "target": "loop", "detail": "…", "ts": "…Z", "checks": [Check…]}

Delivery runs on one background thread, in order, with a short timeout and no retries: a
notification that cannot be delivered is logged and dropped — never fatal, never blocking
the supervisor. Only http(s) URLs are accepted.
"""

from __future__ import annotations

import logging
import queue
import threading
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson

from ..errors import UsageError

log = logging.getLogger("kalashi.heal")

TIMEOUT_S = 5.0
USER_AGENT = "kalashi-heal/0.1"


def check_url(url: str) -> str:
    """Return the URL if it is http(s) with a host.

    Raises:
        UsageError: any other URL.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"the webhook must be an http(s) URL, not {url!r}", hint="e.g. https://hooks.example/kalashi")
    return url


def client_for(url: str, *, timeout_s: float = TIMEOUT_S) -> httpx.Client:
    """An HTTP client for ``url``: a loopback receiver is never routed through an HTTP(S)_PROXY."""
    loopback = (urlsplit(url).hostname or "") in ("127.0.0.1", "localhost", "::1")
    return httpx.Client(timeout=timeout_s, trust_env=not loopback, headers={"User-Agent": USER_AGENT})


def post_json(
    url: str, payload: dict[str, Any], *, timeout_s: float = TIMEOUT_S, client: httpx.Client | None = None
) -> tuple[bool, str]:
    """POST ``payload`` as JSON once; return (delivered, plain-words detail). Never raises.

    ``client`` (else a fresh one for this call) carries the connection; redirects are not followed.
    """
    body = orjson.dumps(payload, default=str, option=orjson.OPT_NON_STR_KEYS)
    http = client if client is not None else client_for(url, timeout_s=timeout_s)
    try:
        resp = http.post(url, content=body, headers={"Content-Type": "application/json"}, timeout=timeout_s)
    except (httpx.HTTPError, httpx.InvalidURL, OSError, ValueError) as e:
        return False, f"{url} not reachable: {e or type(e).__name__}"
    finally:
        if client is None:
            http.close()
    if 200 <= resp.status_code < 300:
        return True, f"delivered ({resp.status_code})"
    return False, f"{url} answered HTTP {resp.status_code}"


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
        self._client = client_for(self.url, timeout_s=timeout_s)  # one connection for every notification
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
            ok, detail = post_json(self.url, payload, timeout_s=self.timeout_s, client=self._client)
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
        if not self._thread.is_alive():
            self._client.close()
