"""Request parameters read with Kalshi's rules, Kalshi's error answer, and opaque paging cursors.

Kalshi is strict: a query parameter the endpoint does not take, or a value it cannot read, is a
400 with ``{"error": {code, message, details}}`` — never silently ignored (an empty ``status=``
included). :class:`Params` is told which names an endpoint accepts (``allow``) and refuses the
rest; every reader names the parameter and the accepted range in its message, and never shows
Python's ``None`` for an open bound.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ...errors import ExchangeError
from .serialize import error_body

Json = dict[str, Any]
Reply = tuple[int, Any]

#: Unix seconds accepted in ``*_ts`` filters: 0 … 9999-12-31 (anything later is not a time).
TS_MAX = 253_402_300_799


class ApiError(Exception):
    """A Kalshi error answer: HTTP ``status`` with ``{"error": {code, message, details}}``."""

    def __init__(self, status: int, code: str, message: str, details: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details

    def body(self) -> Json:
        return error_body(self.code, self.message, self.details)

    @classmethod
    def of(cls, e: ExchangeError) -> ApiError:
        """Translate an engine error (it carries Kalshi's code and status)."""
        return cls(e.status or 400, e.code or "bad_request", e.message, e.hint or "")


def bad(message: str, code: str = "invalid_parameters") -> ApiError:
    return ApiError(400, code, message)


def not_found(what: str) -> ApiError:
    return ApiError(404, "not_found", f"{what} not found")


def _range_text(lo: int | None, hi: int | None) -> str:
    if lo is not None and hi is not None:
        return f"between {lo} and {hi}"
    if lo is not None:
        return f"at least {lo}"
    return f"at most {hi}"


class Params:
    """Query parameters (repeated keys kept), read with Kalshi's rules."""

    def __init__(self, multi: Iterable[tuple[str, str]] = ()) -> None:
        self._multi: dict[str, list[str]] = {}
        for k, v in multi:
            self._multi.setdefault(k, []).append(v)

    @classmethod
    def of(cls, d: Mapping[str, Any]) -> Params:
        """Build from a plain mapping (tests): list values become repeated keys."""
        pairs: list[tuple[str, str]] = []
        for k, v in d.items():
            for x in v if isinstance(v, list | tuple) else [v]:
                pairs.append((k, str(x).lower() if isinstance(x, bool) else str(x)))
        return cls(pairs)

    def allow(self, *names: str) -> Params:
        """Refuse any parameter the endpoint does not take (400), and empty values of those it does.

        Raises:
            ApiError: 400 naming the first unknown or empty parameter.
        """
        for k, values in self._multi.items():
            if k not in names:
                takes = f"it takes {', '.join(names)}" if names else "it takes none"
                raise bad(f"unknown query parameter {k!r} for this endpoint ({takes})")
            if any(v == "" for v in values):
                raise bad(f"{k} must not be empty")
        return self

    def get(self, name: str) -> str | None:
        v = self._multi.get(name)
        if not v or v[-1] == "":
            return None
        if len(v) > 1:
            raise bad(f"{name} is given {len(v)} times; give it once")
        return v[-1]

    def all(self, name: str) -> list[str]:
        return [x for x in self._multi.get(name, []) if x != ""]

    def csv(self, name: str) -> list[str] | None:
        v = self.get(name)
        if v is None:
            return None
        out = [t.strip() for t in v.split(",")]
        if any(not t for t in out):
            raise bad(f"{name} is a comma-separated list without empty entries, got {v!r}")
        return out

    def integer(
        self, name: str, default: int | None = None, *, lo: int | None = None, hi: int | None = None
    ) -> int | None:
        v = self.get(name)
        if v is None:
            return default
        try:
            n = int(v)
        except ValueError:
            raise bad(f"{name} must be a whole number, got {v!r}") from None
        if (lo is not None and n < lo) or (hi is not None and n > hi):
            raise bad(f"{name} must be {_range_text(lo, hi)}, got {n}")
        return n

    def ts(self, name: str) -> int | None:
        """A Unix-seconds timestamp filter (0 … year 9999)."""
        return self.integer(name, lo=0, hi=TS_MAX)

    def choice(self, name: str, options: Sequence[str]) -> str | None:
        v = self.get(name)
        if v is not None and v not in options:
            raise bad(f"{name} must be one of {', '.join(options)}, not {v!r}")
        return v

    def flag(self, name: str) -> bool:
        v = self.get(name)
        if v is None:
            return False
        if v.lower() in ("true", "1"):
            return True
        if v.lower() in ("false", "0"):
            return False
        raise bad(f"{name} must be true or false, got {v!r}")

    def limit(self, default: int, hi: int, *, lo: int = 0) -> int:
        n = self.integer("limit", default, lo=lo, hi=hi)
        assert n is not None
        return n or default

    def subaccount(self) -> None:
        """The single-account, single-shard routing parameters (anything else is a 400)."""
        sub = self.integer("subaccount", lo=0, hi=63)
        if sub not in (None, 0):
            raise bad("subaccounts are not simulated: use subaccount 0 (or omit it)")
        ex = self.integer("exchange_index", lo=-1)
        if ex not in (None, 0, -1):
            raise bad(f"exchange_index {ex}: the simulator has one shard (0)")


ROUTING = ("subaccount", "exchange_index")


def encode_cursor(n: int) -> str:
    return base64.urlsafe_b64encode(f"k:{n}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, _, n = text.partition(":")
        if kind != "k":
            raise ValueError(text)
        return int(n)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise bad("cursor is not one this server issued") from None


def page(items: Sequence[Any], limit: int, cursor: str | None) -> tuple[Sequence[Any], str]:
    """Offset paging over an append-only list; the cursor is opaque."""
    start = decode_cursor(cursor)
    end = start + limit
    return items[start:end], (encode_cursor(end) if end < len(items) else "")


def ts_filter(params: Params, lo_name: str, hi_name: str) -> tuple[int | None, int | None]:
    """Unix-seconds query bounds as inclusive millisecond bounds.

    Raises:
        ApiError: a bound is not a timestamp, or the lower bound is after the upper one.
    """
    lo = params.ts(lo_name)
    hi = params.ts(hi_name)
    if lo is not None and hi is not None and lo > hi:
        raise bad(f"{lo_name} ({lo}) is after {hi_name} ({hi})")
    return (lo * 1000 if lo is not None else None), (hi * 1000 + 999 if hi is not None else None)


def within(ms: int | None, lo: int | None, hi: int | None) -> bool:
    if lo is None and hi is None:
        return True
    if ms is None:
        return False
    return (lo is None or ms >= lo) and (hi is None or ms <= hi)


__all__ = [
    "ROUTING",
    "TS_MAX",
    "ApiError",
    "Json",
    "Params",
    "Reply",
    "bad",
    "decode_cursor",
    "encode_cursor",
    "not_found",
    "page",
    "ts_filter",
    "within",
]
