"""kalashi sim-exchange — a local Kalshi-compatible exchange (REST + WebSocket) for testing the live path."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from ..errors import UsageError
from .common import QuietOpt

EPILOG = """Examples:

\b
  kalashi sim-exchange --demo-keys ~/.kalashi-sim       # prints the exports for the generated key
  export KALASHI_EXCHANGE_URL=http://127.0.0.1:8800/trade-api/v2
  kalashi run-loop --demo --source kalshi-demo          # our Kalshi client, against the simulator
\b
  kalashi sim-exchange --add-key my-key=my-key.pub.pem --balance 250 --tier premier
  kalashi sim-exchange --demo-keys keys --speed 40     # market time 40x the wall clock
  kalashi sim-exchange --demo-keys keys --error-rate 0.05 --lose-order-responses 0.1 --fault-seed 7
  curl -X POST localhost:8800/_sim/faults -d '{"ws_gap_rate": 0.01}'   # change faults while it runs

The first line on stdout is one JSON record with the URLs (port 0 picks a free port).
"""

_LOOPBACK = ("127.0.0.1", "::1", "localhost")


class KeyType(StrEnum):
    rsa = "rsa"
    ed25519 = "ed25519"


class LoseMode(StrEnum):
    drop = "drop"
    error = "error"
    mixed = "mixed"


def complete_tier(incomplete: str) -> list[str]:
    """Kalshi's API usage tiers."""
    try:
        from ..sim.server.limits import TIERS

        return [t for t in TIERS if t.startswith(incomplete)]
    except Exception:  # noqa: BLE001 - a completion never prints an error
        return []


# -- the options (declared once; the order of the parameters below is the order of --help) ---------

HostOpt = Annotated[
    str, typer.Option("--host", metavar="ADDRESS", help="Address to bind (loopback unless --allow-remote).")
]
PortOpt = Annotated[
    int, typer.Option("--port", metavar="PORT", min=0, max=65535, help="Port for REST and WebSocket (0 = any free).")
]
SeedOpt = Annotated[int, typer.Option("--seed", metavar="N", help="Seed of the simulated market universe.")]
MarketsOpt = Annotated[
    int, typer.Option("--markets", metavar="N", min=1, max=1_000_000, help="Markets in the universe.")
]
StartStepOpt = Annotated[int, typer.Option("--start-step", metavar="N", min=0, help="Universe step to start from.")]
SpeedOpt = Annotated[
    float,
    typer.Option(
        "--speed",
        metavar="N",
        min=0,
        max=10_000,
        help="Market clock pace: 1 (default) = wall-clock pace, starting at the wall "
        "clock; N > 1 = accelerated, N market seconds per wall second; 0 = the "
        "market moves only on POST /_sim/step.",
    ),
]
AddKeyOpt = Annotated[
    list[str],
    typer.Option(
        "--add-key",
        metavar="KEY_ID=PEM",
        help="Register an API key: KEY_ID=path/to/public.pem (repeatable). Each key is one account.",
    ),
]
KeysFileOpt = Annotated[
    Path | None, typer.Option("--keys-file", metavar="PATH", help="JSON or YAML mapping key id → public key PEM.")
]
DemoKeysOpt = Annotated[
    Path | None,
    typer.Option(
        "--demo-keys",
        metavar="DIR",
        help="Generate (or reuse) a key pair in this folder and print the exports for kalashi's client.",
    ),
]
KeyTypeOpt = Annotated[
    KeyType, typer.Option("--key-type", metavar="rsa|ed25519", help="Type of a generated demo key: rsa or ed25519.")
]
BalanceOpt = Annotated[
    str, typer.Option("--balance", metavar="DOLLARS", help="Starting balance of every account, in dollars.")
]
TierOpt = Annotated[
    str,
    typer.Option(
        "--tier",
        metavar="TIER",
        autocompletion=complete_tier,
        help="API usage tier for the token buckets: basic, advanced, expert, premier, paragon, prime, prestige.",
    ),
]
RateLimitsOpt = Annotated[bool, typer.Option("--rate-limits/--no-rate-limits", help="Enforce Kalshi's token buckets.")]
LatencyOpt = Annotated[
    int, typer.Option("--latency-ms", metavar="MS", min=0, help="Fault: extra latency on every request.")
]
JitterOpt = Annotated[
    int, typer.Option("--jitter-ms", metavar="MS", min=0, help="Fault: up to this much more latency, at random.")
]
ErrorRateOpt = Annotated[
    float,
    typer.Option(
        "--error-rate", metavar="RATE", min=0, max=1, help="Fault: share of requests answered 5xx without processing."
    ),
]
DropRateOpt = Annotated[
    float,
    typer.Option(
        "--drop-rate",
        metavar="RATE",
        min=0,
        max=1,
        help="Fault: share of requests whose connection is closed without an answer.",
    ),
]
StormOpt = Annotated[
    float,
    typer.Option("--rate-limit-storm", metavar="RATE", min=0, max=1, help="Fault: share of requests answered 429."),
]
LoseOrdersOpt = Annotated[
    float,
    typer.Option(
        "--lose-order-responses",
        metavar="RATE",
        min=0,
        max=1,
        help="Fault: share of order creates that ARE processed but whose answer is lost (dropped or 500).",
    ),
]
LoseModeOpt = Annotated[
    LoseMode,
    typer.Option("--lose-mode", metavar="drop|error|mixed", help="How a lost answer is lost: drop, error or mixed."),
]
WsDisconnectOpt = Annotated[
    int,
    typer.Option(
        "--ws-disconnect-every", metavar="N", min=0, help="Fault: close each WebSocket after every N messages."
    ),
]
WsGapOpt = Annotated[
    float,
    typer.Option(
        "--ws-gap-rate",
        metavar="RATE",
        min=0,
        max=1,
        help="Fault: share of sequenced WebSocket messages that skip a seq number.",
    ),
]
PauseOpt = Annotated[bool, typer.Option("--pause-trading", help="Start with trading paused (trading_active: false).")]
FaultSeedOpt = Annotated[
    int, typer.Option("--fault-seed", metavar="N", help="Seed of the fault decisions (same seed, same faults).")
]
AllowRemoteOpt = Annotated[bool, typer.Option("--allow-remote", help="Allow binding a non-loopback address.")]
VerboseOpt = Annotated[bool, typer.Option("--verbose", "-v", help="Log requests and steps on stderr.")]


def sim_exchange(
    host: HostOpt = "127.0.0.1",
    port: PortOpt = 8800,
    seed: SeedOpt = 0,
    markets: MarketsOpt = 500,
    start_step: StartStepOpt = 0,
    speed: SpeedOpt = 1.0,
    add_key: AddKeyOpt = [],  # noqa: B006 - typer copies the default; never mutated
    keys_file: KeysFileOpt = None,
    demo_keys: DemoKeysOpt = None,
    key_type: KeyTypeOpt = KeyType.rsa,
    balance: BalanceOpt = "1000",
    tier: TierOpt = "basic",
    rate_limits: RateLimitsOpt = True,
    latency_ms: LatencyOpt = 0,
    jitter_ms: JitterOpt = 0,
    error_rate: ErrorRateOpt = 0.0,
    drop_rate: DropRateOpt = 0.0,
    rate_limit_storm: StormOpt = 0.0,
    lose_order_responses: LoseOrdersOpt = 0.0,
    lose_mode: LoseModeOpt = LoseMode.mixed,
    ws_disconnect_every: WsDisconnectOpt = 0,
    ws_gap_rate: WsGapOpt = 0.0,
    pause_trading: PauseOpt = False,
    fault_seed: FaultSeedOpt = 0,
    allow_remote: AllowRemoteOpt = False,
    verbose: VerboseOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Serve a local Kalshi-compatible exchange for testing.

    REST on http://127.0.0.1:8800/trade-api/v2, WebSocket on /trade-api/ws/v2. Markets come
    from the built-in sim universe, which steps every 10 s of market time; orders fill on the
    matching engine. The market clock runs at wall-clock pace from the wall clock unless
    --speed N accelerates it (the ready line says which is in force). Requests are signed exactly as on Kalshi (RSA-PSS or Ed25519 against the
    registered public keys), rate-limited with Kalshi's token buckets, and answered in Kalshi's
    shapes and error codes. Faults are injected deterministically from --fault-seed and can be
    changed at run time on the loopback-only control endpoints under /_sim (docs/sim-exchange.md).
    """
    # imported here, not at the top: every kalashi command (and every TAB) imports this module
    import logging

    from ..sim.server import (
        ExchangeConfig,
        FaultConfig,
        Faults,
        SimExchange,
        generate_demo_key,
        keyring_from,
        parse_balance,
        tier_named,
    )

    if host not in _LOOPBACK and not allow_remote:
        raise UsageError(
            f"refusing to bind {host}: the simulator binds loopback only",
            hint="add --allow-remote if you really want it reachable from the network",
        )
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    demo = [generate_demo_key(demo_keys.expanduser(), key_type=key_type.value)] if demo_keys is not None else []
    ring = keyring_from(add_key, keys_file, demo)
    faults = Faults(
        FaultConfig(
            seed=fault_seed,
            latency_ms=latency_ms,
            jitter_ms=jitter_ms,
            error_rate=error_rate,
            drop_rate=drop_rate,
            rate_limit_storm=rate_limit_storm,
            lose_order_responses=lose_order_responses,
            lose_mode=lose_mode.value,  # a LoseMode value
            ws_disconnect_every=ws_disconnect_every,
            ws_gap_rate=ws_gap_rate,
            pause_trading=pause_trading,
        )
    )
    config = ExchangeConfig(
        seed=seed,
        markets=markets,
        start_step=start_step,
        speed=speed,
        balance=_balance(parse_balance, balance),
        tier=tier_named(tier),
        rate_limits=rate_limits,
    )
    exchange = SimExchange(config, ring, faults)
    _serve(exchange, ring, demo, host=host, port=port, speed=speed, verbose=verbose, quiet=quiet)


def _serve(
    exchange: Any, ring: Any, demo: list[Any], *, host: str, port: int, speed: float, verbose: bool, quiet: bool
) -> None:
    """Bind, print the ready record (stdout) and the banner (stderr), serve until Ctrl-C or SIGTERM."""
    import asyncio
    import signal

    import orjson

    from ..sim.server import SimExchangeServer

    server = SimExchangeServer(exchange, host=host, port=port, log_level="info" if verbose else "warning")
    # Ctrl-C and SIGTERM stop the server cleanly, even when they arrive before it has started
    # serving (uvicorn takes the signals over while it serves and hands them back to us)
    previous = {sig: signal.signal(sig, lambda *_: server.request_stop()) for sig in (signal.SIGINT, signal.SIGTERM)}
    ready = _ready_record(server, exchange, ring, demo)
    sys.stdout.write(orjson.dumps(ready).decode() + "\n")
    sys.stdout.flush()
    if not quiet:
        sys.stderr.write(_banner(server, exchange, ring, demo, markets=ready["markets"], speed=speed) + "\n")
        sys.stderr.flush()
    try:
        asyncio.run(server.serve())
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if not quiet:
        sys.stderr.write("kalashi sim-exchange stopped\n")


def _ready_record(server: Any, exchange: Any, ring: Any, demo: list[Any]) -> dict[str, Any]:
    """The first line on stdout: one JSON record with the URLs, the keys and the market clock."""
    ready = {
        "kind": "sim-exchange",
        "v": 1,
        "url": server.url,
        "ws_url": server.ws_url,
        "control_url": server.root + "/_sim",
        "port": server.port,
        "keys": ring.key_ids(),
        "markets": len(exchange.driver.market_list),
        "step": exchange.driver.step,
        "speed": exchange.speed,
        "clock": exchange.clock.describe(),
    }
    if demo:
        ready["demo_key"] = {"key_id": demo[0].key_id, "private_key_path": str(demo[0].private_key_path)}
    return ready


def _banner(server: Any, exchange: Any, ring: Any, demo: list[Any], *, markets: int, speed: float) -> str:
    """What a person reads on stderr: where it serves, the market clock and the exports for the client."""
    # plain lines, never wrapped: people copy the export lines into a shell
    lines = [
        f"kalashi sim-exchange on {server.root}: REST /trade-api/v2, WebSocket /trade-api/ws/v2, "
        f"control /_sim ({len(ring)} key(s), {markets} markets, "
        + (f"a step every {10 / speed:g} s)" if speed else "steps on POST /_sim/step)"),
        f"market clock: {exchange.clock.describe()}",
    ]
    if not len(ring):
        lines.append("no API keys registered: only public market data answers (use --demo-keys DIR or --add-key)")
    for d in demo:
        lines.append(f"demo key (private key mode 600):\n{d.exports()}")
    lines.append(f"point kalashi's client at it:\nexport KALASHI_EXCHANGE_URL={server.url}")
    return "\n".join(lines)


def _balance(parse: Any, text: str) -> Any:
    try:
        return parse(text)
    except UsageError as e:
        raise UsageError(e.message, hint=e.hint or "give dollars, e.g. --balance 250 or --balance 1000.50") from None


def register(app: typer.Typer) -> None:
    app.command("sim-exchange", epilog=EPILOG)(sim_exchange)
