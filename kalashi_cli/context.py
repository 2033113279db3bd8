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
    from .kalshi.ratelimit import RateLimiter
    from .locks import TraderLocks

SOURCES_HELP = (
    "sim[:seed=N,markets=N,step=N], replay:PATH[,speed=N], kalshi[,ws=1], kalshi-demo[,ws=1], "
    "kalshi:URL (any Kalshi-compatible server, e.g. kalashi sim-exchange)"
)


def open_source(spec: str, profile: Profile | None = None, *, streaming: bool = False) -> MarketSource:
    """Open a market-data source from its descriptor.

    ``streaming`` is for loops that run for a while (``run-loop``, the bridge, the MCP server):
    a Kalshi source then uses the WebSocket feed unless told ``ws=0`` (see
    :func:`kalashi_cli.kalshi.source.open_source`); one-shot commands poll REST.

    A sim source publishes its forecast only when the descriptor says ``forecast=PCT`` or the
    profile sets ``sim: forecast_skill`` (off by default); ``arbitrage=PCT`` / ``sim:
    arbitrage_share`` raise the share of the sim's arbitrage dislocations that stand.

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

        if profile is None:
            return parse_sim_spec(spec)
        return parse_sim_spec(spec, profile.sim.forecast_pct, profile.sim.arbitrage_pct)
    if spec.startswith(("replay:", "kalshi:")) or spec.split(",")[0] in ("kalshi", "kalshi-demo"):
        from .kalshi.source import open_source as open_exchange_source

        return open_exchange_source(
            spec, limiter_for=lambda key_id, url: account_limiter(profile, key_id, url), ws_default=streaming
        )
    raise UsageError(f"unknown source '{spec}'", hint=f"use one of: {SOURCES_HELP}")


def open_broker(
    mode: str,
    source: MarketSource,
    journal: Journal,
    profile: Profile,
    *,
    credentials_env: dict[str, str] | None = None,
) -> Broker:
    """Open the broker for a trading mode; live needs every consent (ConsentError otherwise).

    Raises:
        ConsentError: live trading without --live + allow_live + credentials + trading active.
    """
    if mode == "paper":
        from .sim.paper import PaperBroker, paper_exchange_path

        return PaperBroker(
            source,
            paper_exchange_path(journal.path),
            starting_balance=money(profile.paper.starting_balance),
            latency_ms=profile.paper.latency_ms,
        )
    env = require_consent(mode, profile, credentials_env)
    from .kalshi.broker import KalshiBroker
    from .kalshi.env import check_live_consent

    # KALASHI_EXCHANGE_URL points demo trading at a Kalshi-compatible server (kalashi sim-exchange);
    # the broker refuses to send a demo key anywhere but demo hosts and loopback.
    base_url = env.get("KALASHI_EXCHANGE_URL") if mode == "demo" else None
    from .kalshi.env import DEMO, PROD

    # the same token buckets as the source of this key: Kalshi bills both to one budget
    limiter = account_limiter(
        profile,
        (env.get("KALSHI_API_KEY_ID") or "").strip() or None,
        base_url or (DEMO.rest_url if mode == "demo" else PROD.rest_url),
    )
    broker = KalshiBroker.from_env(
        env="demo" if mode == "demo" else "prod",
        environ=env,
        base_url=base_url,
        consented=mode == "live",
        limiter=limiter,
    )
    if mode == "live":
        check_live_consent(
            live_flag=True,
            profile_allow_live=profile.allow_live,
            credentials_present=True,
            trading_active=broker.trading_active(),
        )
    if journal.get_meta("starting_balance") is None:
        # The ledger fold starts from the account as first seen: its cash plus what its open
        # positions cost (reconciliation then adopts those positions at that cost).
        start = broker.balance().balance + sum(p.exposure for p in broker.positions())
        journal.set_meta("starting_balance", str(start))
        journal.add_event("starting-balance", {"from": "exchange", "amount": start})
    return broker


def rate_limiter(profile: Profile) -> RateLimiter:
    """Token buckets from the profile (replaced by /account/limits once authenticated)."""
    from .kalshi.ratelimit import SHARED_HEADROOM_S, RateLimiter

    r = profile.rate_limits
    return RateLimiter(
        (r.read_per_second, r.read_capacity), (r.write_per_second, r.write_capacity), headroom_s=SHARED_HEADROOM_S
    )


def account_limiter(profile: Profile | None, key_id: str | None, rest_url: str) -> RateLimiter:
    """Return the one set of token buckets of an API key on a server, shared by source and broker.

    Started from the profile's ``rate_limits`` (Basic tier, or whatever a profile gave it
    before, without one) until ``/account/limits`` answers; ``key_id`` None means unsigned
    requests.
    """
    from .kalshi.ratelimit import shared_limiter

    if profile is None:
        return shared_limiter(key_id, rest_url)
    r = profile.rate_limits
    return shared_limiter(
        key_id, rest_url, (r.read_per_second, r.read_capacity), (r.write_per_second, r.write_capacity)
    )


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
        from .kalshi.env import check_live_consent

        check_live_consent(
            live_flag=True, profile_allow_live=profile.allow_live, credentials_present=has_creds, trading_active=None
        )
    elif not has_creds:
        raise ConsentError(
            "--demo needs a demo API key: KALSHI_API_KEY_ID and KALSHI_PRIVATE_KEY_PATH are not set",
            hint="create a key at demo.kalshi.co and export both variables",
        )
    return env


# -- the venue: where orders go, and so where the books must come from -------------------------

#: the flag that lets a demo/live command take its market data from somewhere else (every trading command)
FOREIGN_FLAG = "--allow-foreign-source"


def venue_source(mode: str, env: dict[str, str] | None = None) -> str:
    """Return the market-data source of the venue a mode trades on (the default ``--source``).

    paper → ``sim`` (the built-in market, as ever); demo → ``kalshi-demo``, or ``kalshi:URL`` of
    the Kalshi-compatible server ``KALASHI_EXCHANGE_URL`` points demo at; live → ``kalshi``.

    Raises:
        UsageError: ``KALASHI_EXCHANGE_URL`` is not an http(s) URL.
    """
    import os

    from .kalshi.env import env_override

    if mode == "live":
        return "kalshi"
    if mode == "demo":
        override = env_override(env if env is not None else dict(os.environ))
        return f"kalshi:{override.rest_url}" if override is not None else "kalshi-demo"
    return "sim"


def source_venue(spec: str, env: dict[str, str] | None = None) -> str:
    """Return where a source's books come from: ``sim``, ``replay`` or an exchange's REST URL.

    Raises:
        UsageError: a ``kalshi:URL`` that is not an http(s) URL.
    """
    import os

    from .kalshi.env import DEMO, PROD, custom_env, env_override

    s = spec.strip()
    if s == "sim" or s.startswith("sim:"):
        return "sim"
    if s.startswith("replay:"):
        return "replay"
    if s.startswith("kalshi:"):
        return custom_env(s[len("kalshi:") :].split(",")[0]).rest_url
    head = s.split(",")[0]
    if head == "kalshi":
        return PROD.rest_url
    if head == "kalshi-demo":
        override = env_override(env if env is not None else dict(os.environ))
        return (override or DEMO).rest_url
    return s


def check_venue(
    mode: str, spec: str, *, allow_foreign: bool = False, env: dict[str, str] | None = None, named: str | None = None
) -> None:
    """Refuse demo/live trading on market data from anywhere but the venue the orders go to.

    Orders sized and priced on the simulator's (or a recording's, or another server's) books
    but sent to a real account trade blind: the tickers may not even exist there.

    Raises:
        UsageError: the source is not the venue and ``allow_foreign`` was not given.
    """
    if mode == "paper" or allow_foreign:
        return
    venue = venue_source(mode, env)
    got, want = source_venue(spec, env), source_venue(venue, env)
    if got == want:
        return
    what = {"sim": "the built-in simulated market", "replay": "a recording"}.get(got, got)
    raise UsageError(
        f"{named or '--source ' + spec} is {what}, but {mode} orders go to {want}: the market data "
        "must come from the venue being traded",
        hint=f"drop --source (for {mode} it defaults to {venue}), or pass {FOREIGN_FLAG} to trade on "
        "books that are not the exchange's",
    )


def trader_locks(mode: str, journal_path: Path, env: dict[str, str] | None = None) -> TraderLocks:
    """Become the one trading process of this journal and, on demo/live, of the exchange account.

    The account is the exchange's base URL and the API key id, locked in the data dir, so two
    journals on one real account collide as well. Take this after the consent check and
    before the journal is opened.

    Raises:
        JournalError: another process trades this journal or this account (exit 9, names its pid).
    """
    import os

    from .journal import data_dir
    from .kalshi.env import DEMO, PROD, env_override
    from .locks import account_lock_path, hold_trader

    account = None
    environ = env if env is not None else dict(os.environ)
    key_id = (environ.get("KALSHI_API_KEY_ID") or "").strip()
    if mode in ("demo", "live") and key_id:
        override = env_override(environ) if mode == "demo" else None
        base = override.rest_url if override is not None else (DEMO if mode == "demo" else PROD).rest_url
        shown = key_id if len(key_id) <= 12 else key_id[:8] + "…"
        account = (account_lock_path(data_dir(), base, key_id), f"the {mode} account of API key {shown} at {base}")
    return hold_trader(journal_path.resolve(), account=account)


def journal_for(mode: str, path: Path | None) -> Journal:
    from .journal import default_journal_path

    return Journal(path or default_journal_path(mode), mode=mode)
