"""HTTP error answers of the Kalshi REST API → :mod:`kalashi_cli.errors` (one status, one error class)."""

from __future__ import annotations

from typing import Any

import httpx
import orjson

from ..errors import (
    AuthError,
    Conflict,
    ExchangeError,
    ExchangeUnavailable,
    NotFound,
    OrderRejected,
    OutcomeUnknown,
    PermissionDenied,
    RateLimited,
)
from .auth import KEY_ID_VAR, KEY_PATH_VAR
from .wire import error_of

# Paths whose 400 means "the exchange refused this order" rather than "bad request".
_ORDER_PATH_PREFIXES = ("/portfolio/events/orders", "/portfolio/order_groups")


def http_error(response: httpx.Response, label: str, *, is_read: bool, path: str, authenticated: bool) -> Exception:
    """Return the error for an answer with status ≥ 300 to ``label`` (``path``, a read or a write).

    ``authenticated``: whether the request was signed (a 401 then means rejected credentials,
    not missing ones).
    """
    status = response.status_code
    try:
        body = orjson.loads(response.content) if response.content else None
    except orjson.JSONDecodeError:
        body = None
    code, text = error_of(body)
    detail = f" ({text})" if text else ""
    kw: dict[str, Any] = {"status": status, "code": code}
    if status == 429:
        # 429 is definite for writes too: Kalshi rejects an over-budget request before
        # processing it (REFERENCE §7.1 "no penalty — retry"; §8 buckets are checked at
        # arrival), so the order was NOT placed and may be re-sent under the same id.
        return RateLimited(
            f"{label}: too many requests (429)", hint="back off; lower the request rate or upgrade the API tier", **kw
        )
    if status >= 500:
        if not is_read:
            return OutcomeUnknown(
                f"{label}: exchange error {status}{detail} after the request was sent",
                hint="reconcile by client_order_id before sending anything else on this market",
                **kw,
            )
        return ExchangeUnavailable(
            f"{label}: exchange unavailable ({status}){detail}",
            hint="retry later; Kalshi may be in maintenance (Thursdays 03:00–05:00 ET)",
            **kw,
        )
    if status == 401:
        if not authenticated:
            return AuthError(
                f"{label}: authentication required (401){detail}", hint=f"set {KEY_ID_VAR} and {KEY_PATH_VAR}", **kw
            )
        return AuthError(
            f"{label}: Kalshi rejected the credentials (401){detail}",
            hint=f"check {KEY_ID_VAR}, the key file, and that the clock is NTP-synced",
            **kw,
        )
    if status == 403:
        return PermissionDenied(
            f"{label}: forbidden (403){detail}",
            hint="the API key lacks the scope for this call (needs read+write)",
            **kw,
        )
    if status == 404:
        return NotFound(
            f"{label}: not found (404){detail}", hint="check the ticker or id; old data is under /historical", **kw
        )
    if status == 409:
        return Conflict(
            f"{label}: conflict (409){detail}",
            hint="this client_order_id was used before: reconcile instead of resending",
            **kw,
        )
    if status == 400 and not is_read and path.startswith(_ORDER_PATH_PREFIXES):
        return OrderRejected(
            f"{label}: order rejected{detail}" + (f" [{code}]" if code else ""),
            hint="check price grid, size, balance and market status",
            **kw,
        )
    return ExchangeError(f"{label}: HTTP {status}{detail}", hint="check the request parameters", **kw)
