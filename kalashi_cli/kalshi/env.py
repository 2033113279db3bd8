"""Kalshi environments (REFERENCE §1), key ↔ environment checks, and live-trading consent.

Demo and prod keys are separate: a demo key only works on demo hosts and vice versa. We
go further and never *send* a key where it does not belong (``KALSHI_KEY_ENV`` declares where
it does; :func:`signing_allowed` is the rule):

* Kalshi production sees only a key declared ``prod`` — an undeclared key may be a demo key,
  and production market data needs no key (REST reads go unsigned);
* Kalshi demo sees an undeclared key or one declared ``demo``;
* any other server sees an undeclared or ``demo`` key only on loopback (127.0.0.0/8, ::1,
  localhost: ``kalashi sim-exchange``), and a remote one only a key declared for exactly its
  ``http(s)://host[:port]``; a ``prod`` key never goes anywhere but production.

We also refuse a demo broker on a prod host and a live broker on anything but a prod host, so
a typo in a URL can never turn paper-like testing into real money.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from ..errors import ConsentError, UsageError
from .auth import KEY_ENV_VAR, KEY_ID_VAR, KEY_PATH_VAR, Credentials, server_origin

EnvName = Literal["prod", "demo", "custom"]


@dataclass(frozen=True, slots=True)
class KalshiEnv:
    """Where to connect: REST base URL (ends in ``/trade-api/v2``) and WebSocket URL."""

    name: EnvName
    rest_url: str
    ws_url: str

    @property
    def is_loopback(self) -> bool:
        return _is_loopback(self.rest_url)


PROD = KalshiEnv(
    "prod", "https://external-api.kalshi.com/trade-api/v2", "wss://external-api-ws.kalshi.com/trade-api/ws/v2"
)
DEMO = KalshiEnv(
    "demo", "https://external-api.demo.kalshi.co/trade-api/v2", "wss://external-api-ws.demo.kalshi.co/trade-api/ws/v2"
)

#: Every host Kalshi documents, recommended and legacy (§1).
PROD_HOSTS = frozenset({"external-api.kalshi.com", "external-api-ws.kalshi.com", "api.elections.kalshi.com"})
DEMO_HOSTS = frozenset({"external-api.demo.kalshi.co", "external-api-ws.demo.kalshi.co", "demo-api.kalshi.co"})


def _host(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


def is_loopback_host(host: str) -> bool:
    """Whether a host name or address is this machine: 127.0.0.0/8, ::1 or ``localhost``."""
    host = host.strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _is_loopback(url: str) -> bool:
    """Whether the URL's host is this machine (see :func:`is_loopback_host`)."""
    return is_loopback_host(_host(url))


def environment_of(url: str) -> EnvName:
    """Classify a URL as ``prod``, ``demo`` or ``custom`` (anything else, e.g. the simulator)."""
    host = _host(url)
    if host in PROD_HOSTS:
        return "prod"
    if host in DEMO_HOSTS:
        return "demo"
    return "custom"


def custom_env(rest_url: str, ws_url: str | None = None) -> KalshiEnv:
    """Describe a Kalshi-compatible server at ``rest_url`` (e.g. ``http://127.0.0.1:8800/trade-api/v2``).

    The WebSocket URL defaults to the same host with ``ws(s)://…/trade-api/ws/v2``.

    Raises:
        UsageError: the URL is not http(s).
    """
    parts = urlsplit(rest_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UsageError(f"not an http(s) URL: {rest_url!r}", hint="e.g. http://127.0.0.1:8800/trade-api/v2")
    rest = rest_url.rstrip("/")
    if not rest.endswith("/trade-api/v2"):
        rest += "/trade-api/v2"
    if ws_url is None:
        ws_scheme = "wss" if parts.scheme == "https" else "ws"
        ws_url = f"{ws_scheme}://{parts.netloc}/trade-api/ws/v2"
    return KalshiEnv(environment_of(rest), rest, ws_url)


#: Point the demo broker and the ``kalshi-demo`` source at a Kalshi-compatible server instead of
#: Kalshi demo, e.g. ``http://127.0.0.1:8800/trade-api/v2`` (``kalashi sim-exchange``).
EXCHANGE_URL_VAR = "KALASHI_EXCHANGE_URL"
#: Its WebSocket URL, when not ``ws://<same host>/trade-api/ws/v2``.
WS_URL_VAR = "KALASHI_WS_URL"


def env_override(environ: Mapping[str, str]) -> KalshiEnv | None:
    """Return the server ``KALASHI_EXCHANGE_URL`` (+ ``KALASHI_WS_URL``) names, or None when unset.

    Raises:
        UsageError: the URL is not http(s).
    """
    rest = (environ.get(EXCHANGE_URL_VAR) or "").strip()
    if not rest:
        return None
    ws = (environ.get(WS_URL_VAR) or "").strip() or None
    return custom_env(rest, ws)


def env_named(name: str) -> KalshiEnv:
    """Return ``PROD`` for ``kalshi``/``prod``/``live`` and ``DEMO`` for ``kalshi-demo``/``demo``.

    Raises:
        UsageError: unknown name.
    """
    key = name.strip().lower()
    if key in ("kalshi", "prod", "live", "production"):
        return PROD
    if key in ("kalshi-demo", "demo"):
        return DEMO
    hint = "use kalshi (prod), kalshi-demo, or kalshi:URL for a Kalshi-compatible server"
    if key == "sim" or key.startswith("replay"):
        hint = (
            "the built-in sim and replays are generated or already recorded — start `kalashi sim-exchange` "
            "and use kalshi:http://127.0.0.1:8800/trade-api/v2, or use kalshi / kalshi-demo"
        )
    raise UsageError(f"unknown Kalshi environment {name!r}", hint=hint)


def check_key_environment(credentials: Credentials, env: KalshiEnv) -> None:
    """Refuse to send a key declared for one place to another Kalshi environment.

    A key declared ``prod`` never goes anywhere but production (not even a loopback server);
    a key declared ``demo`` or for a server's URL never goes to Kalshi production or demo
    hosts other than its own. Custom servers otherwise decide by :func:`signing_allowed`.

    Raises:
        ConsentError: the declaration (``KALSHI_KEY_ENV``) and the target disagree as above.
    """
    declared = credentials.environment
    if declared is None:
        return
    if env.name == "custom":
        if declared == "prod":
            raise ConsentError(
                f"the API key is declared as a prod key ({KEY_ENV_VAR}=prod) and is only sent to Kalshi "
                f"production, not to {_host(env.rest_url)}",
                hint=f"use a key of that server (kalashi sim-exchange prints one), or unset {KEY_ENV_VAR}",
            )
        return
    if declared != env.name:
        what = f"a {declared} key" if declared in ("demo", "prod") else f"the key of {declared}"
        raise ConsentError(
            f"the API key is declared as {what} ({KEY_ENV_VAR}={declared}) "
            f"but the target is Kalshi {env.name} ({_host(env.rest_url)})",
            hint=f"use a {env.name} key, or point at the {declared} environment (demo and prod keys are separate)"
            if declared in ("demo", "prod")
            else f"use a Kalshi {env.name} key for Kalshi {env.name}",
        )


def signing_allowed(credentials: Credentials, env: KalshiEnv) -> bool:
    """Return whether requests to ``env`` may carry this key's signature (see the module docstring).

    Production: only a key declared ``prod``. Demo: an undeclared or ``demo`` key. Any other
    server: an undeclared or ``demo`` key on loopback; a key declared for that exact
    ``scheme://host:port`` anywhere.
    """
    declared = credentials.environment
    if env.name == "prod":
        return declared == "prod"
    if env.name == "demo":
        return declared in (None, "demo")
    if declared is not None and declared not in ("demo", "prod"):
        return declared == server_origin(env.rest_url)
    return declared in (None, "demo") and env.is_loopback


def signing_refusal_hint(credentials: Credentials, env: KalshiEnv) -> str:
    """Say how to let requests to ``env`` be signed (for a refusal message)."""
    if env.name == "prod":
        return (
            f"if this is a production key, set {KEY_ENV_VAR}=prod (an undeclared key may be a demo key, "
            "and demo keys are never sent to production)"
        )
    if env.name == "demo":
        return f"use a demo key, or unset {KEY_ENV_VAR} / set it to demo"
    return (
        f"keys go to loopback servers and Kalshi only; to send this key to {_host(env.rest_url)}, "
        f"declare it for that server: {KEY_ENV_VAR}={server_origin(env.rest_url)}"
    )


def check_broker_environment(mode: str, env: KalshiEnv) -> None:
    """Refuse a demo broker on prod hosts and a live broker on anything but prod hosts.

    A ``custom`` loopback server (the simulator) is allowed in demo mode.

    Raises:
        ConsentError: the mode and the target hosts disagree.
    """
    if mode == "demo":
        if env.name == "prod":
            raise ConsentError(
                "demo mode must not talk to Kalshi production",
                hint="use the demo environment (kalshi-demo) or --live with full consent",
            )
        if env.name == "custom" and not env.is_loopback:
            raise ConsentError(
                f"demo mode only talks to Kalshi demo or a loopback simulator, not {_host(env.rest_url)}",
                hint="point at kalshi-demo or http://127.0.0.1:<port>",
            )
    elif mode == "live":
        if env.name != "prod":
            raise ConsentError(
                f"live mode only talks to Kalshi production, not {_host(env.rest_url)}",
                hint="use demo mode for the demo environment or the simulator",
            )
    else:
        raise UsageError(f"a Kalshi broker runs in demo or live mode, not {mode!r}")


def check_live_consent(
    live_flag: bool, profile_allow_live: bool, credentials_present: bool, trading_active: bool | None
) -> None:
    """Refuse live trading unless every consent is present; name every missing piece.

    ``trading_active`` is the exchange's answer (``GET /exchange/status``); None means it
    has not been asked yet and is not counted as missing.

    Raises:
        ConsentError: listing each of: --live, allow_live: true, credentials, trading active.
    """
    missing: list[str] = []
    if not live_flag:
        missing.append("the --live flag")
    if not profile_allow_live:
        missing.append("allow_live: true in the risk profile")
    if not credentials_present:
        missing.append(f"credentials ({KEY_ID_VAR} and {KEY_PATH_VAR} in the environment)")
    if trading_active is False:
        missing.append("the exchange to be open for trading (GET /exchange/status says trading is paused)")
    if missing:
        raise ConsentError(
            "live trading refused: missing " + "; ".join(missing),
            hint="live trading needs all of: --live, allow_live: true in the profile, "
            f"{KEY_ID_VAR}/{KEY_PATH_VAR} set, and the exchange trading",
        )
