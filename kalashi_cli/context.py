"""Building the pieces a command needs from its options: source, broker, journal.

One place decides what ``--source`` and ``--paper/--demo/--live`` mean, so every command,
the bridge and the MCP server get the same wiring — and the same live-trading consent check.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .errors import ConsentError, UsageError
from .journal import Journal
from .ports import Broker, MarketSource
from .profile import Profile, money

if TYPE_CHECKING:
    from .exchange.ratelimit import RateLimiter

SOURCES_HELP = ("sim[:seed=N,markets=N,step=N], replay:PATH[,speed=N], kalshi[,ws=1], kalshi-demo[,ws=1], "
                "kalshi:URL (any Kalshi-compatible server, e.g. kalashi sim-exchange)")


def open_source(spec: str, profile: Profile | None = None, *, streaming: bool = False) -> MarketSource:
    """Open a market-data source from its descriptor.

    ``streaming`` is for loops that run for a while (``run-loop``, the bridge, the MCP server):
    a Kalshi source then uses the WebSocket feed unless told ``ws=0`` (see
    :func:`kalashi_cli.exchange.source.open_source`); one-shot commands poll REST.

    Kalshi sources take their token buckets from ``profile.rate_limits`` until the exchange's
    ``/account/limits`` answers (it does only for authenticated sessions), and share them with
    every other source and broker of the same API key on the same server
    (:func:`account_limiter`).

    Raises:
        UsageError: the descriptor is not one of the known kinds.
    """
    spec = spec.strip()
    if spec == "sim" or spec.startswith("sim:"):
        from .sim.source import parse_sim_spec

        return parse_sim_spec(spec)
    if spec.startswith(("replay:", "kalshi:")) or spec.split(",")[0] in ("kalshi", "kalshi-demo"):
        from .exchange.source import open_source as open_exchange_source

        return open_exchange_source(spec, limiter_for=lambda key_id, url: account_limiter(profile, key_id, url),
                                    ws_default=streaming)
    raise UsageError(f"unknown source '{spec}'", hint=f"use one of: {SOURCES_HELP}")


def open_broker(mode: str, source: MarketSource, journal: Journal, profile: Profile, *,
                credentials_env: dict[str, str] | None = None) -> Broker:
    """Open the broker for a trading mode; live needs every consent (ConsentError otherwise).

    Raises:
        ConsentError: live trading without --live + allow_live + credentials + trading active.
    """
    if mode == "paper":
        from .sim.paper import PaperBroker, paper_exchange_path

        return PaperBroker(source, paper_exchange_path(journal.path),
                           starting_balance=money(profile.paper.starting_balance),
                           latency_ms=profile.paper.latency_ms)
    env = require_consent(mode, profile, credentials_env)
    from .exchange.broker import KalshiBroker
    from .exchange.env import check_live_consent

    # KALASHI_EXCHANGE_URL points demo trading at a Kalshi-compatible server (kalashi sim-exchange);
    # the broker refuses to send a demo key anywhere but demo hosts and loopback.
    base_url = env.get("KALASHI_EXCHANGE_URL") if mode == "demo" else None
    from .exchange.env import DEMO, PROD

    # the same token buckets as the source of this key: Kalshi bills both to one budget
    limiter = account_limiter(profile, (env.get("KALSHI_API_KEY_ID") or "").strip() or None,
                              base_url or (DEMO.rest_url if mode == "demo" else PROD.rest_url))
    broker = KalshiBroker.from_env(env="demo" if mode == "demo" else "prod", environ=env, base_url=base_url,
                                   consented=mode == "live", limiter=limiter)
    if mode == "live":
        check_live_consent(live_flag=True, profile_allow_live=profile.allow_live, credentials_present=True,
                           trading_active=broker.trading_active())
    if journal.get_meta("starting_balance") is None:
        # The ledger fold starts from the account as first seen: its cash plus what its open
        # positions cost (reconciliation then adopts those positions at that cost).
        start = broker.balance().balance + sum(p.exposure for p in broker.positions())
        journal.set_meta("starting_balance", str(start))
        journal.add_event("starting-balance", {"from": "exchange", "amount": start})
    return broker


def rate_limiter(profile: Profile) -> RateLimiter:
    """Token buckets from the profile (replaced by /account/limits once authenticated)."""
    from .exchange.ratelimit import SHARED_HEADROOM_S, RateLimiter

    r = profile.rate_limits
    return RateLimiter((r.read_per_second, r.read_capacity), (r.write_per_second, r.write_capacity),
                       headroom_s=SHARED_HEADROOM_S)


def account_limiter(profile: Profile | None, key_id: str | None, rest_url: str) -> RateLimiter:
    """Return the one set of token buckets of an API key on a server, shared by source and broker.

    Started from the profile's ``rate_limits`` (Basic tier, or whatever a profile gave it
    before, without one) until ``/account/limits`` answers; ``key_id`` None means unsigned
    requests.
    """
    from .exchange.ratelimit import shared_limiter

    if profile is None:
        return shared_limiter(key_id, rest_url)
    r = profile.rate_limits
    return shared_limiter(key_id, rest_url, (r.read_per_second, r.read_capacity),
                          (r.write_per_second, r.write_capacity))


def require_consent(mode: str, profile: Profile, credentials_env: dict[str, str] | None = None) -> dict[str, str]:
    """Check, without touching the network, that demo/live trading may even be attempted.

    Returns the environment to read credentials from.

    Raises:
        UsageError: unknown mode.
        ConsentError: a consent is missing (every missing piece is named).
    """
    import os

    if mode not in ("paper", "demo", "live"):
        raise UsageError(f"unknown mode '{mode}'", hint="use --paper, --demo or --live")
    env = credentials_env if credentials_env is not None else dict(os.environ)
    if mode == "paper":
        return env
    has_creds = bool(env.get("KALSHI_API_KEY_ID") and env.get("KALSHI_PRIVATE_KEY_PATH"))
    if mode == "live":
        from .exchange.env import check_live_consent

        check_live_consent(live_flag=True, profile_allow_live=profile.allow_live, credentials_present=has_creds,
                           trading_active=None)
    elif not has_creds:
        raise ConsentError("--demo needs a demo API key: KALSHI_API_KEY_ID and KALSHI_PRIVATE_KEY_PATH are not set",
                           hint="create a key at demo.kalshi.co and export both variables")
    return env


def journal_for(mode: str, path: Path | None) -> Journal:
    from .journal import default_journal_path

    return Journal(path or default_journal_path(mode), mode=mode)
