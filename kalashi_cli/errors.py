"""The one exception tree of kalashi, and the exit codes scripts depend on.

::

    KalashiError                      exit 1   something went wrong; the message says what to do
    ├── UsageError                    exit 2   bad option or argument
    ├── InputError                    exit 3   a bad record, file or line on input
    ├── ProfileError                  exit 4   the risk profile is invalid
    ├── ConsentError                  exit 5   live trading asked for without every consent
    ├── RiskDenied                    exit 6   the risk gate refused (trading halted, limits)
    ├── ExchangeError                 exit 7   the exchange answered with an error
    │   ├── AuthError                          bad key id, key file, signature or clock
    │   ├── PermissionDenied                   the key lacks a scope (403)
    │   ├── NotFound                           404
    │   ├── Conflict                           409 (duplicate client_order_id …)
    │   ├── RateLimited          (temporary)   429 too many requests
    │   ├── ExchangeUnavailable  (temporary)   5xx, trading paused, maintenance
    │   ├── OrderRejected                      400 on an order (price off grid, balance …)
    │   └── OutcomeUnknown                     sent, but the answer was lost: reconcile first
    ├── NetworkError             (temporary)   exit 8   connection failed / timed out
    └── JournalError                  exit 9   the journal cannot be read or written

Exit 130 is an interrupt (Ctrl-C); 0 is success. These codes are frozen: scripts rely on them.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_INTERRUPTED = 130


class KalashiError(Exception):
    """Something went wrong; the message says what and what to do next."""

    exit_code = 1
    temporary = False

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} — {self.hint}" if self.hint else self.message


class UsageError(KalashiError):
    """An option or argument is wrong: read ``kalashi COMMAND --help``."""

    exit_code = 2


class InputError(KalashiError):
    """A record or file on input is malformed: fix the named line or the stage before it."""

    exit_code = 3


class ProfileError(KalashiError):
    """The risk profile is invalid: fix the named key, or run ``kalashi profile validate``."""

    exit_code = 4


class ConsentError(KalashiError):
    """Live trading needs --live, allow_live: true in the profile and credentials."""

    exit_code = 5


class RiskDenied(KalashiError):
    """The risk gate refused: see the reason; ``kalashi resume`` lifts a halt."""

    exit_code = 6


class ExchangeError(KalashiError):
    """The exchange answered with an error."""

    exit_code = 7

    def __init__(
        self, message: str, *, hint: str | None = None, status: int | None = None, code: str | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.status = status
        self.code = code


class AuthError(ExchangeError):
    """Authentication failed: check KALSHI_API_KEY_ID, the key file, and that the clock is synced."""


class PermissionDenied(ExchangeError):
    """The API key lacks the scope for this call: create a key with read+write scope."""


class NotFound(ExchangeError):
    """The ticker, order or event does not exist (or is past the historical cutoff)."""


class Conflict(ExchangeError):
    """The exchange already has this (for orders: the client_order_id was used before)."""


class RateLimited(ExchangeError):
    """Too many requests: back off and retry; lower the request rate in the profile."""

    temporary = True


class ExchangeUnavailable(ExchangeError):
    """The exchange is down, paused or in maintenance: retry later."""

    temporary = True


class OrderRejected(ExchangeError):
    """The exchange rejected the order: check price grid, balance and market status."""


class OutcomeUnknown(ExchangeError):
    """An order was sent but no definite answer came back (timeout, reset, 5xx, lost response).

    The market is blocked for writes until reconciliation finds the order by its
    client_order_id; never resend it under a new id.
    """


class NetworkError(KalashiError):
    """The network failed: check connectivity; the call may be retried."""

    exit_code = 8
    temporary = True


class JournalError(KalashiError):
    """The journal cannot be read or written: check the path, permissions and disk space."""

    exit_code = 9


EXIT_CODES: dict[int, str] = {
    0: "success",
    1: "general error",
    2: "usage error (bad option or argument)",
    3: "bad input (malformed record, file or line)",
    4: "invalid risk profile",
    5: "live trading refused: consent missing",
    6: "refused by the risk gate (halted, limits)",
    7: "exchange error",
    8: "network error",
    9: "journal error",
    130: "interrupted (Ctrl-C)",
}
