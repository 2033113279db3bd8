"""Exchange-level checks: reachable and trading, maintenance, credentials, clock skew, rate limits.

They go through the real :class:`~kalashi_cli.kalshi.rest.KalshiClient` (signing, error
translation), without retries and with a short timeout. The client's transport is wrapped
to read each response's HTTP ``Date`` header, which is how clock skew is measured (Kalshi
signatures carry a millisecond timestamp; REFERENCE §2). Tests pass an
``httpx.MockTransport``; pointing ``env`` at ``kalashi sim-exchange`` works the same way.

Thresholds::

    exchange     reachable, exchange and trading active ok · trading paused degraded ·
                 unreachable / exchange inactive failed (degraded inside a maintenance window)
    maintenance  inside Thursday 03:00–05:00 America/New_York or a window from
                 GET /exchange/schedule degraded · otherwise ok (says when the next one is)
    credentials  key accepted (GET /portfolio/balance) ok · none set: ok for paper, failed for
                 demo/live · rejected (401) failed · other answers degraded
    clock_skew   |local − exchange| ≤ 2 s ok · ≤ 10 s degraded · > 10 s failed
    rate_limits  the loop's average read-token use (journal api_calls × 10 tokens over time)
                 < 80 % of the account's read rate ok · ≥ 80 % degraded · ≥ 95 % failed;
                 iterations that needed more than a full bucket at above the refill rate degraded
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

from ..health import DEGRADED, FAILED, OK, Check, not_applicable, parse_iso_ms

if TYPE_CHECKING:
    import httpx

    from ..domain import AccountLimits
    from ..kalshi.auth import Credentials
    from ..kalshi.env import KalshiEnv

SKEW_DEGRADED_S = 2.0
SKEW_FAILED_S = 10.0
RATE_DEGRADED = 0.80
RATE_FAILED = 0.95
READ_COST = 10  # tokens per GET (REFERENCE §8); the journal counts calls, not tokens
PROBE_TIMEOUT_S = 5.0
#: Kalshi's weekly trading pause (REFERENCE §1): Thursday, 03:00–05:00 ET
MAINTENANCE_WEEKDAY = 3
MAINTENANCE_START_H, MAINTENANCE_END_H = 3, 5
SIM_NOT_APPLICABLE = "paper on the built-in sim"


# -- time in New York ---------------------------------------------------------------------


def eastern() -> tzinfo:
    """America/New_York (from the tz database; a built-in US rule where there is none)."""
    try:
        from zoneinfo import ZoneInfo

        return ZoneInfo("America/New_York")
    except Exception:  # noqa: BLE001 - no tz database (some Windows installs): use the US rule
        return _UsEastern()


class _UsEastern(tzinfo):
    """US Eastern time by the 2007 rule: DST from the 2nd Sunday of March to the 1st Sunday of November, 02:00."""

    def _dst_bounds(self, year: int) -> tuple[datetime, datetime]:
        march = datetime(year, 3, 8) + timedelta(days=(6 - datetime(year, 3, 8).weekday()) % 7)
        nov = datetime(year, 11, 1) + timedelta(days=(6 - datetime(year, 11, 1).weekday()) % 7)
        return march.replace(hour=2), nov.replace(hour=2)

    def utcoffset(self, dt: datetime | None) -> timedelta:
        return timedelta(hours=-5) + self.dst(dt)

    def dst(self, dt: datetime | None) -> timedelta:
        if dt is None:
            return timedelta(0)
        start, end = self._dst_bounds(dt.year)
        naive = dt.replace(tzinfo=None)
        return timedelta(hours=1) if start <= naive < end else timedelta(0)

    def tzname(self, dt: datetime | None) -> str:
        return "EDT" if self.dst(dt) else "EST"

    def fromutc(self, dt: datetime) -> datetime:
        std = dt + timedelta(hours=-5)
        start, end = self._dst_bounds(std.year)
        naive = std.replace(tzinfo=None)
        # start/end are local wall times; in standard time DST begins at 02:00 and ends at 01:00
        return std + (timedelta(hours=1) if start <= naive < end - timedelta(hours=1) else timedelta(0))


def in_weekly_maintenance(now: datetime) -> bool:
    """Whether ``now`` (aware) falls in Thursday 03:00–05:00 America/New_York."""
    et = now.astimezone(eastern())
    return et.weekday() == MAINTENANCE_WEEKDAY and MAINTENANCE_START_H <= et.hour < MAINTENANCE_END_H


def next_weekly_maintenance(now: datetime) -> datetime:
    """The start of the current or next Thursday 03:00 ET window, as an aware datetime."""
    tz = eastern()
    today = now.astimezone(tz).date()
    for days in range(8):
        d = today + timedelta(days=days)
        if d.weekday() != MAINTENANCE_WEEKDAY:
            continue
        start = datetime(d.year, d.month, d.day, MAINTENANCE_START_H, tzinfo=tz)
        if start + timedelta(hours=MAINTENANCE_END_H - MAINTENANCE_START_H) > now:
            return start
    raise AssertionError("unreachable: a Thursday falls within any 8 days")


def parse_maintenance_windows(schedule: Any) -> list[tuple[datetime, datetime]]:
    """Read ``schedule.maintenance_windows`` leniently; times without an offset are ET."""
    body = schedule.get("schedule", schedule) if isinstance(schedule, Mapping) else {}
    raw = body.get("maintenance_windows") if isinstance(body, Mapping) else None
    out: list[tuple[datetime, datetime]] = []
    for w in raw or ():
        if not isinstance(w, Mapping):
            continue
        try:
            start = _aware(str(w["start_datetime"]))
            end = _aware(str(w["end_datetime"]))
        except (KeyError, ValueError):
            continue
        if end > start:
            out.append((start, end))
    return out


def _aware(text: str) -> datetime:
    dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=eastern())


def _et_text(dt: datetime) -> str:
    return dt.astimezone(eastern()).strftime("%a %Y-%m-%d %H:%M ET")


def _span_text(delta: timedelta) -> str:
    s = max(0, int(delta.total_seconds()))
    d, rem = divmod(s, 86400)
    h, rem = divmod(rem, 3600)
    m = rem // 60
    return f"{d} d {h} h" if d else f"{h} h {m} min" if h else f"{m} min"


def maintenance_check(
    now: datetime, windows: Sequence[tuple[datetime, datetime]] = (), schedule_note: str = ""
) -> Check:
    """Degraded inside a maintenance window (weekly or from the exchange schedule); else say the next."""
    t0 = time.perf_counter()
    inside = [(s, e) for s, e in windows if s <= now < e]
    facts: dict[str, Any] = {"in_window": False}
    if inside:
        s, e = inside[0]
        facts = {"in_window": True, "until": e.isoformat()}
        status, detail = DEGRADED, f"scheduled maintenance window until {_et_text(e)} (exchange schedule)"
    elif in_weekly_maintenance(now):
        end = now.astimezone(eastern()).replace(hour=MAINTENANCE_END_H, minute=0, second=0, microsecond=0)
        facts = {"in_window": True, "until": end.isoformat()}
        status, detail = (
            DEGRADED,
            (
                "scheduled maintenance window (Thursdays 03:00–05:00 ET): no new orders, "
                "expect disconnects; trading resumes after 05:00 ET"
            ),
        )
    else:
        nxt = next_weekly_maintenance(now)
        upcoming = sorted(s for s, _ in windows if s > now)
        if upcoming and upcoming[0] < nxt:
            nxt = upcoming[0]
        status, detail = OK, f"next maintenance {_et_text(nxt)} (in {_span_text(nxt - now)})"
        facts["next"] = nxt.isoformat()
    if schedule_note:
        detail += f"; {schedule_note}"
    return Check("maintenance", status, detail, Decimal(str(round((time.perf_counter() - t0) * 1000, 3))), facts)


# -- probing the exchange -------------------------------------------------------------------


@dataclass(slots=True)
class Answer:
    """One probe call: its body or its error, and how long it took."""

    body: Any = None
    error: Exception | None = None
    latency_ms: Decimal = Decimal(0)

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(slots=True)
class Probe:
    """What one round of calls to the exchange found."""

    host: str
    status: Answer = field(default_factory=Answer)
    schedule: Answer = field(default_factory=Answer)
    balance: Answer | None = None  # only with credentials
    limits: Answer | None = None
    #: (local send time, local receive time, server Date) in Unix seconds
    dates: list[tuple[float, float, float]] = field(default_factory=list)


def _date_watch(
    inner: httpx.AsyncBaseTransport, wall: Callable[[], float], dates: list[tuple[float, float, float]]
) -> httpx.AsyncBaseTransport:
    import httpx

    class DateWatch(httpx.AsyncBaseTransport):
        """Pass requests through, noting each response's ``Date`` against the local clock."""

        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            sent = wall()
            response = await inner.handle_async_request(request)
            got = wall()
            raw = response.headers.get("date")
            if raw:
                try:
                    dates.append((sent, got, parsedate_to_datetime(raw).timestamp()))
                except (TypeError, ValueError):
                    pass
            return response

        async def aclose(self) -> None:
            await inner.aclose()

    return DateWatch()


async def probe_exchange(
    env: KalshiEnv,
    *,
    credentials: Credentials | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    wall: Callable[[], float] = time.time,
    timeout_s: float = PROBE_TIMEOUT_S,
) -> Probe:
    """Call status, schedule and (with credentials) balance and account limits once each."""
    import httpx

    from ..kalshi.auth import KalshiAuth
    from ..kalshi.ratelimit import RetryPolicy
    from ..kalshi.rest import KalshiClient

    probe = Probe(host=httpx.URL(env.rest_url).host)
    inner = transport if transport is not None else httpx.AsyncHTTPTransport()
    auth = KalshiAuth(credentials) if credentials is not None else None
    client = KalshiClient(
        env.rest_url,
        auth=auth,
        transport=_date_watch(inner, wall, probe.dates),
        timeout=timeout_s,
        retry=RetryPolicy(max_retries=0),
        user_agent="kalashi-heal/0.1",
    )

    async def call(coro: Any) -> Answer:
        t0 = time.perf_counter()
        try:
            body = await coro
            return Answer(body=body, latency_ms=_ms(t0))
        except Exception as e:  # noqa: BLE001 - an answer we report, whatever it is
            return Answer(error=e, latency_ms=_ms(t0))

    async with client:
        probe.status = await call(client.get_exchange_status())
        probe.schedule = await call(client.get_exchange_schedule())
        if credentials is not None:
            probe.balance = await call(client.get_balance())
            probe.limits = await call(client.get_account_limits())
    return probe


def _ms(t0: float) -> Decimal:
    return Decimal(str(round((time.perf_counter() - t0) * 1000, 3)))


def _err(e: Exception | None) -> str:
    return str(e) if e is not None else ""


def exchange_status_check(probe: Probe, in_maintenance: bool) -> Check:
    """Reachable and trading (degraded instead of failed inside a maintenance window)."""
    a = probe.status
    down = DEGRADED if in_maintenance else FAILED
    why = " (inside a maintenance window)" if in_maintenance else ""
    if not a.ok:
        return Check(
            "exchange",
            down,
            f"cannot get the status of {probe.host}: {_err(a.error)}{why}",
            a.latency_ms,
            {"reachable": False},
        )
    body = a.body if isinstance(a.body, Mapping) else {}
    from ..kalshi.wire import parse_exchange_status

    st = parse_exchange_status(body)
    facts = {"reachable": True, "exchange_active": st.exchange_active, "trading_active": st.trading_active}
    resume = body.get("exchange_estimated_resume_time")
    if not st.exchange_active:
        return Check(
            "exchange",
            down,
            f"{probe.host} reports the exchange paused (exchange_active false)"
            + (f", estimated resume {resume}" if resume else "")
            + why,
            a.latency_ms,
            facts,
        )
    if not st.trading_active:
        return Check(
            "exchange",
            DEGRADED,
            f"{probe.host} reachable, but trading is paused (outside trading hours or a pause); cancels still work",
            a.latency_ms,
            facts,
        )
    paused = [i for i, active in st.by_shard if not active]
    if paused:
        return Check(
            "exchange",
            DEGRADED,
            f"{probe.host} trading active, but paused on exchange shard(s) {', '.join(map(str, paused))}",
            a.latency_ms,
            facts,
        )
    return Check("exchange", OK, f"{probe.host} reachable in {a.latency_ms} ms, trading active", a.latency_ms, facts)


def credentials_check(
    probe: Probe, *, mode: str, configured: bool, load_error: Exception | None = None, withheld: str = ""
) -> Check:
    """Whether the API key is present and accepted (GET /portfolio/balance)."""
    from ..errors import AuthError, PermissionDenied

    needs = mode in ("demo", "live")
    if load_error is not None:
        return Check("credentials", FAILED if needs else DEGRADED, f"credentials unusable: {load_error}")
    if withheld:
        return Check(
            "credentials",
            OK,
            f"an API key is set but not sent to {probe.host}: paper needs none there ({withheld})",
            facts={"configured": True, "sent": False},
        )
    if not configured or probe.balance is None:
        if needs:
            return Check(
                "credentials",
                FAILED,
                f"{mode} trading needs KALSHI_API_KEY_ID and KALSHI_PRIVATE_KEY_PATH; they are not set",
            )
        return Check("credentials", OK, "not configured (public market data needs none)", facts={"configured": False})
    a = probe.balance
    if a.ok:
        return Check(
            "credentials",
            OK,
            f"API key accepted by {probe.host} (GET /portfolio/balance)",
            a.latency_ms,
            {"configured": True, "accepted": True},
        )
    if isinstance(a.error, AuthError):
        return Check(
            "credentials",
            FAILED,
            f"{probe.host} rejected the API key: {a.error} (check the key, its environment, and the clock)",
            a.latency_ms,
            {"configured": True, "accepted": False},
        )
    if isinstance(a.error, PermissionDenied):
        return Check(
            "credentials",
            DEGRADED,
            f"the API key lacks a scope: {a.error}",
            a.latency_ms,
            {"configured": True, "accepted": True},
        )
    return Check(
        "credentials", DEGRADED, f"could not verify the API key: {a.error}", a.latency_ms, {"configured": True}
    )


def clock_skew_check(probe: Probe) -> Check:
    """Compare the local clock with the exchange's ``Date`` header (1 s resolution: ±0.5 s).

    A loopback exchange is a local simulator on this machine: its ``Date`` is its simulated
    market clock (which may run ahead on purpose) and it checks signatures against this very
    clock, so there is no skew to measure.
    """
    from ..kalshi.env import is_loopback_host

    if is_loopback_host(probe.host):
        return Check(
            "clock_skew",
            OK,
            f"{probe.host} is on this machine (a simulator): its Date is its market "
            "clock and signatures are checked against this clock",
            facts={"loopback": True},
        )
    if not probe.dates:
        return Check(
            "clock_skew",
            DEGRADED,
            f"no Date header from {probe.host}: cannot measure clock skew "
            "(signatures carry the local time; keep NTP running)",
        )
    # the fastest round trip bounds the error best; Date is truncated to the second, so its
    # true time is on average half a second later
    sent, got, server = min(probe.dates, key=lambda d: d[1] - d[0])
    skew = (sent + got) / 2 - (server + 0.5)
    rtt_ms = round((got - sent) * 1000, 1)
    facts = {"skew_s": round(skew, 3), "rtt_ms": rtt_ms}
    side = "ahead of" if skew > 0 else "behind"
    text = f"local clock {abs(skew):.1f} s {side} {probe.host} (HTTP Date, ±0.5 s; round trip {rtt_ms} ms)"
    if abs(skew) > SKEW_FAILED_S:
        return Check(
            "clock_skew", FAILED, f"{text}: signed requests will be refused — sync the clock (NTP)", facts=facts
        )
    if abs(skew) > SKEW_DEGRADED_S:
        return Check("clock_skew", DEGRADED, f"{text}: sync the clock (NTP)", facts=facts)
    return Check("clock_skew", OK, text, facts=facts)


def read_rate_usage(
    rows: Sequence[Mapping[str, Any]], read_rate: float, read_capacity: float
) -> tuple[float, float] | None:
    """The loop's read-bucket use from journal iterations: (average fraction, worst iteration's fraction).

    Average = tokens of all iterations ÷ the wall time they span ÷ the refill rate. An
    iteration counts as throttled when it needed more than a full bucket and ran at above
    the refill rate; its fraction is then its own tokens per second ÷ the rate.
    """
    rows = [r for r in rows if r.get("started")]
    if not rows or read_rate <= 0:
        return None
    tokens = sum(int(r.get("api_calls") or 0) for r in rows) * READ_COST
    if tokens == 0:
        return None
    first = parse_iso_ms(str(rows[0]["started"]))
    last = parse_iso_ms(str(rows[-1]["started"])) + float(rows[-1]["duration_ms"])
    span_s = max((last - first) / 1000, 0.001)
    avg = tokens / span_s / read_rate
    worst = 0.0
    for r in rows:
        t = int(r.get("api_calls") or 0) * READ_COST
        dur = max(float(r["duration_ms"]) / 1000, 0.001)
        if t > read_capacity:
            worst = max(worst, t / dur / read_rate)
    return avg, worst


def rate_limits_check(probe: Probe | None, rows: Sequence[Mapping[str, Any]]) -> Check:
    """Rate-limit headroom: the loop's measured read-token use against the account's read rate."""
    from ..kalshi.ratelimit import BASIC_READ
    from ..kalshi.wire import parse_account_limits

    limits: AccountLimits | None = None
    latency = Decimal(0)
    if probe is not None and probe.limits is not None:
        latency = probe.limits.latency_ms
        if probe.limits.ok and isinstance(probe.limits.body, Mapping):
            limits = parse_account_limits(probe.limits.body)
    rate, cap = (limits.read_rate, limits.read_capacity) if limits else BASIC_READ
    if limits is not None:
        tier = f"{limits.usage_tier or 'unknown'} tier"
    elif probe is not None and probe.limits is not None:
        tier = "Basic tier assumed (GET /account/limits failed)"
    else:
        tier = "Basic tier assumed (no credentials)"
    usage = read_rate_usage(rows, rate, cap)
    facts: dict[str, Any] = {"read_rate": rate, "read_capacity": cap, "tier": limits.usage_tier if limits else "basic"}
    if usage is None:
        return Check(
            "rate_limits",
            OK,
            f"{tier}, read {rate}/s: the loop made no REST calls in its recent iterations",
            latency,
            facts,
        )
    avg, worst = usage
    facts |= {"read_use": round(avg, 4), "worst_iteration_use": round(worst, 4)}
    text = f"the loop uses {avg:.0%} of the read budget on average ({tier}, {rate} tokens/s)"
    if avg >= RATE_FAILED:
        return Check(
            "rate_limits",
            FAILED,
            f"{text}: saturated, every call waits — list fewer markets, use ws=1, or a higher tier",
            latency,
            facts,
        )
    if avg >= RATE_DEGRADED:
        return Check("rate_limits", DEGRADED, f"{text}: little headroom", latency, facts)
    if worst >= 1.0:
        return Check(
            "rate_limits",
            DEGRADED,
            f"{text}, but an iteration needed {worst:.1f}× the refill rate in "
            "bursts beyond a full bucket (it waited on the limiter)",
            latency,
            facts,
        )
    return Check("rate_limits", OK, text, latency, facts)


def exchange_checks(
    env: KalshiEnv,
    *,
    mode: str,
    environ: Mapping[str, str],
    transport: httpx.AsyncBaseTransport | None = None,
    now: Callable[[], datetime] | None = None,
    wall: Callable[[], float] = time.time,
    iterations: Sequence[Mapping[str, Any]] = (),
    timeout_s: float = PROBE_TIMEOUT_S,
) -> list[Check]:
    """Probe the exchange once and return the exchange, maintenance, credentials, clock and rate checks."""
    from ..errors import KalashiError
    from ..kalshi.auth import credentials_present, try_load_credentials
    from ..kalshi.env import check_key_environment, signing_allowed, signing_refusal_hint

    configured = credentials_present(environ)
    creds: Credentials | None = None
    load_error: Exception | None = None
    withheld = ""
    try:
        creds = try_load_credentials(environ)
        if creds is not None:
            check_key_environment(creds, env)
            if mode == "paper" and not signing_allowed(creds, env):
                # paper reads public market data: the key is not needed there and may not go there
                withheld = signing_refusal_hint(creds, env)
                creds = None
    except KalashiError as e:
        creds, load_error = None, e
    probe = asyncio.run(probe_exchange(env, credentials=creds, transport=transport, wall=wall, timeout_s=timeout_s))
    moment = now() if now is not None else datetime.fromtimestamp(wall(), UTC)
    windows = parse_maintenance_windows(probe.schedule.body) if probe.schedule.ok else []
    note = "" if probe.schedule.ok else f"exchange schedule unavailable ({_err(probe.schedule.error)})"
    maint = maintenance_check(moment, windows, note)
    return [
        exchange_status_check(probe, bool(maint.facts.get("in_window"))),
        maint,
        credentials_check(probe, mode=mode, configured=configured, load_error=load_error, withheld=withheld),
        clock_skew_check(probe),
        rate_limits_check(probe, iterations),
    ]


def ws_mode_check(source: str, rows: Sequence[Mapping[str, Any]], *, mode: str = "paper") -> Check:
    """Judge a WS-mode loop from outside: stale books are left out of its scans.

    The feed itself lives in the run-loop process; what a separate heal sees is the number
    of markets each iteration could use. A last iteration with under half the usual
    markets means many books are stale.
    """
    if ",ws=1" not in source and not source.endswith("ws=1"):
        return not_applicable("ws_feed", _no_feed_reason(source, mode))
    counts = [int(r.get("markets") or 0) for r in rows]
    if len(counts) < 2:
        return Check("ws_feed", OK, "WebSocket mode; too few iterations to judge the feed yet")
    usual = sorted(counts[:-1])[len(counts[:-1]) // 2]
    last = counts[-1]
    facts = {"markets_last": last, "markets_usual": usual}
    if usual and last < usual / 2:
        return Check(
            "ws_feed",
            DEGRADED,
            f"the last iteration saw {last} markets against {usual} usually: "
            "many books are stale (the feed resyncs them)",
            facts=facts,
        )
    return Check("ws_feed", OK, f"the last iteration saw {last} markets ({usual} usually)", facts=facts)


def _no_feed_reason(source: str, mode: str) -> str:
    """Why a source has no WebSocket feed to judge (its market data does not come over one)."""
    if source.startswith("kalshi"):
        return "REST polling: no WebSocket feed"
    if source.startswith("sim"):
        # demo/live orders still go to Kalshi; only the market data is the sim's
        return SIM_NOT_APPLICABLE if mode == "paper" else "market data from the built-in sim: no WebSocket feed"
    return "market data from a recording: no WebSocket feed"
