"""The numeric core of the sim universe: every market's state at one step, vectorised (numpy).

One call of :func:`compute` evaluates the whole universe at a step — latent paths, hidden
and market probabilities, book placement on the tick grids, dislocations, volume, open
interest, last price and (when asked for) a forecast — as flat arrays. Everything is derived from hashes of
``(seed, slot, generation, index)`` and the step, so the result is a pure function and a
single market is always read off the same arrays as the full listing (no second code path
that could round differently).

Array axes: *slots* (one event per slot at any step), *paths* (latent paths: one per
interval event, one per outcome — plus a hidden "other" — per mutually exclusive event) and
*markets*. A slot's paths and markets occupy fixed, contiguous ranges.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..money import COUNT_SCALE, ONE_DOLLAR, Count, Price, fee_for
from .universe_books import (
    ARBITRAGE_LEFT_SIZES,
    EMPTY_SIDE,
    GOLDEN,
    GRID_LIST,
    LOTTERY_BASE,
    MASK64,
    N_TEMPLATES,
    NORMAL256,
    NORMAL4096,
    SPREAD_TABLES,
    THIN_SIZES,
    mix64,
)

BM_LEVELS = 12  # Lévy–Ciesielski levels: exact Brownian values at every step of lives up to 4 096 steps
TERMINAL_SHARE = 0.15  # share of an event's opening uncertainty still unresolved at close (series may differ)
MARKET_NOISE = (0.04, 0.12)  # amplitude range of each of the two sines of the market's slow error
MARKET_NOISE_PERIOD = (30, 300)  # steps
DISLOCATION_WINDOW = 40  # steps
DISLOCATION_RATE = 0.10  # chance per event and window of a dislocation (value, wide; arbitrage kinds see below)
DISLOCATION_STEPS = (2, 6)
#: Arbitrage kinds (riskless after fees) are far rarer and fleeting, as on Kalshi, where no
#: snapshot of the captures shows one (docs/sim-calibration.md, "Cross-market arbitrage"): a
#: drawn arbitrage kind stands only with this chance (else the window has no dislocation), for
#: ARBITRAGE_STEPS step(s) — competing arbitrageurs take it within a second, a step is 10 s —
#: and what the snapshot shows is the thin size they left (ARBITRAGE_LEFT_SIZES).
ARBITRAGE_SHARE = 0.05
ARBITRAGE_STEPS = 1
ARBITRAGE_KINDS = frozenset({"no_basket", "yes_basket", "ladder"})
DISLOCATION_MIN_VOLUME = 300  # contracts every market of a dislocated event has traded
DISLOCATION_CLOSE_GAP = 40  # steps a dislocation ends before its event closes
PAUSE_WINDOW = 60
PAUSE_RATE = 0.01  # chance per event and window that it is paused (status inactive) a few steps
LOTTERY_SHARE = 0.3  # a far-from-the-money market keeps a lone bid at the grid's lowest price
CENTRE_ERROR = 1.0  # share of the room a wide book's centre may sit off the market's belief
TRADE_ACTIVITY = (0.15, 0.05, 0.015)  # expected share of steps with trades, per liquidity class
CLASS_VOLUME = (1.0, 0.34, 0.086)  # volume scale per liquidity class

# shapes, market kinds, pools, statuses
SHAPES = ("binary", "me", "ladder", "brackets", "combo")
BINARY, ME, LADDER, BRACKETS, COMBO = range(5)
K_BINARY, K_LADDER, K_LESS, K_BETWEEN, K_GREATER, K_OUTCOME = range(6)
POOL_PAIRS, POOL_FED, POOL_PARTIES, POOL_CANDIDATES = range(4)
STATUSES = ("initialized", "active", "inactive", "closed", "finalized")
INITIALIZED, ACTIVE, INACTIVE, CLOSED, FINALIZED = range(5)
_FED_S0 = np.array([-3.0, -1.5, 0.6, -0.4, -2.5])

# hash purposes (xored into keys so every draw is independent)
_P_EVENT, _P_PATH, _P_MARKET, _P_PATHSTATIC, _P_NOISE, _P_STATIC2, _P_STATIC3 = (
    0x51E7,
    0x9A7A,
    0x3A2C,
    0x7C01,
    0x4E15,
    0x57A2,
    0x57A3,
)
_P_DISLOC, _P_PAUSE, _P_BM, _P_CENTRE, _P_ARB = 0xD15C, 0x9A05E, 0xB0B1, 0xCE7E, 0xA4B1
#: one salt per Brownian level, so (level, interval) pairs hash apart
_BM_SALT = [np.uint64(mix64((n + 1) * 0x2545F4914F6CDD1D & MASK64)) for n in range(BM_LEVELS + 1)]

_N4096 = np.array(NORMAL4096)
_N256 = np.array(NORMAL256)
_SPREAD = np.array(SPREAD_TABLES, dtype=np.int64)
_FIDX = np.array([g.fidx for g in GRID_LIST])
_PRICES = np.zeros((len(GRID_LIST), max(g.n for g in GRID_LIST)), dtype=np.int64)
for _g in GRID_LIST:
    _PRICES[_g.gid, : _g.n] = _g.prices


def mix(x: np.ndarray) -> np.ndarray:
    """splitmix64 over a uint64 array (identical to :func:`universe_books.mix64` per element)."""
    x = x + GOLDEN
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9
    x = (x ^ (x >> 27)) * 0x94D049BB133111EB
    out: np.ndarray = x ^ (x >> 31)
    return out


def _u(h: np.ndarray, shift: int, bits: int) -> np.ndarray:
    """Uniform in [0, 1) from ``bits`` bits of ``h`` starting at ``shift``."""
    return ((h >> shift) & ((1 << bits) - 1)).astype(np.float64) / float(1 << bits)


def _n(h: np.ndarray, shift: int) -> np.ndarray:
    """Standard normal (4096 quantiles) from 12 bits of ``h``."""
    return _N4096[((h >> shift) & 4095).astype(np.intp)]


def _bits(h: np.ndarray, shift: int, mask: int) -> np.ndarray:
    return ((h >> shift) & mask).astype(np.int64)


def norm_cdf(z: np.ndarray) -> np.ndarray:
    """Standard normal CDF, double precision (Hart 5666 as given by West 2005), vectorised."""
    x = np.minimum(np.abs(z), 37.0)
    e = np.exp(-0.5 * x * x)
    num = (
        (
            (((0.0352624965998911 * x + 0.700383064443688) * x + 6.37396220353165) * x + 33.912866078383) * x
            + 112.079291497871
        )
        * x
        + 221.213596169931
    ) * x + 220.206867912376
    den = (
        (
            (
                (((0.0883883476483184 * x + 1.75566716318264) * x + 16.064177579207) * x + 86.7807322029461) * x
                + 296.564248779674
            )
            * x
            + 637.333633378831
        )
        * x
        + 793.826512519948
    ) * x + 440.413735824752
    tail = e / (x + 1.0 / (x + 2.0 / (x + 3.0 / (x + 4.0 / (x + 0.65))))) / 2.506628274631
    c = np.where(x < 7.07106781186547, e * num / den, tail)
    out: np.ndarray = np.where(z > 0, 1.0 - c, c)
    return out


def brownian(key: np.ndarray, t: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """Return ``W(t)`` of one standard Brownian motion per key, at integer steps, random access.

    Lévy–Ciesielski: ``W`` on ``[0, T]`` (``T = 2**levels``, one per key) is its end value times
    ``t / T`` plus, per dyadic level, one Schauder tent whose height is an independent normal
    drawn from a hash of (key, level, interval). At an integer ``t`` the tents of levels at or
    beyond ``levels`` are exactly zero, so ``BM_LEVELS`` levels give exact Brownian values at
    every step (``Var W(t) = t``, independent increments) for ``0 ≤ t ≤ T``, in a dozen hashes
    whatever the step.
    """
    big_t = np.ldexp(1.0, levels)
    u = t / big_t
    w = _n(mix(key ^ _BM_SALT[BM_LEVELS]), 0) * u
    for lv in range(BM_LEVELS):
        scaled = u * float(1 << lv)
        k = np.minimum(np.floor(scaled), float((1 << lv) - 1))
        frac = scaled - k
        tent = np.minimum(frac, 1.0 - frac)
        h = mix(key ^ (k.astype(np.uint64) * np.uint64(GOLDEN)) ^ _BM_SALT[lv])
        w += _n(h, 0) * tent * (2.0 ** (-lv / 2))
    out: np.ndarray = w * np.sqrt(big_t)
    return out


def longshot(p: np.ndarray, strength: np.ndarray) -> np.ndarray:
    """Favourite–longshot distortion: log-odds divided by ``strength`` (≥ 1 pulls prices toward ½)."""
    q = np.clip(p, 1e-9, 1.0 - 1e-9)
    out: np.ndarray = 1.0 / (1.0 + np.exp(-np.log(q / (1.0 - q)) / strength))
    return out


@dataclass(slots=True)
class Layout:
    """Static description of the universe as flat arrays (built once from the slots)."""

    # slots
    life: np.ndarray
    phase: np.ndarray
    key: np.ndarray  # uint64
    moff: np.ndarray
    msize: np.ndarray
    poff: np.ndarray
    psize: np.ndarray
    n: np.ndarray
    shape: np.ndarray
    exhaustive: np.ndarray  # bool
    gid: np.ndarray
    top: np.ndarray  # highest grid index
    group_table: np.ndarray  # (slots, 3): size-table id per liquidity class
    level: np.ndarray
    jitter: np.ndarray
    spacing: np.ndarray
    soff: np.ndarray
    half: np.ndarray
    zero_share: np.ndarray
    mix0: np.ndarray
    mix01: np.ndarray
    vmed: np.ndarray
    pool: np.ndarray
    levels: np.ndarray  # Brownian levels: 2**levels ≥ the close step
    open_sd: np.ndarray  # spread of a binary's opening latent
    lag_share: np.ndarray  # flow (universe_flow): share of news the market absorbs a little late …
    lag_steps: np.ndarray  # … and how late
    slow_share: np.ndarray  # share it absorbs much later …
    slow_steps: np.ndarray  # … and how late
    err_scale: np.ndarray  # scale of the market's slow error
    longshot: np.ndarray  # favourite–longshot strength
    activity: np.ndarray  # × the class's share of steps with trades
    terminal: np.ndarray  # share of the opening uncertainty left at close
    fee_type: list[str]
    fee_mult: list[int]
    kinds: list[tuple[str, ...]]
    # paths
    p_slot: np.ndarray
    p_j: np.ndarray
    p_other: np.ndarray  # bool
    # markets
    m_slot: np.ndarray
    m_j: np.ndarray
    m_path: np.ndarray
    m_kind: np.ndarray
    m_bj: np.ndarray  # bracket index for between markets, strike index for ladders


@dataclass(slots=True)
class Core:
    """The universe at one step, as arrays (see module doc)."""

    step: int
    gen: np.ndarray
    t: np.ndarray
    code: np.ndarray  # status code per slot
    ekey: np.ndarray
    first: np.ndarray  # first strike / bracket floor per slot (lattice units)
    x: np.ndarray  # latent per path
    sd: np.ndarray  # remaining standard deviation per slot
    tau: np.ndarray  # standard deviation left at close per slot
    lo_edge: np.ndarray  # per market (interval kinds)
    hi_edge: np.ndarray
    p_hidden: np.ndarray  # the hidden true P(YES) per market
    p_market: np.ndarray  # the market's belief per market (what the book is placed around)
    p_bias: np.ndarray  # its persistent error (slow error + longshot bias): not traded on by the informed
    shift: np.ndarray  # the book's mid minus where the belief alone puts it (centre error, dislocations), price units
    bid: np.ndarray
    ask: np.ndarray
    yes_key: np.ndarray
    no_key: np.ndarray
    thin: dict[int, tuple[int, int]]  # market → (YES, NO) thin best-level size in Count units (0: keep)
    vol: np.ndarray  # contracts
    vol_prev: np.ndarray
    oi: np.ndarray  # contracts
    last: np.ndarray  # price or -1
    forecast: np.ndarray  # price or -1
    mkey: np.ndarray
    dislocations: list[tuple[int, str, int, int]]  # (slot, kind, start, end)


def hidden(lay: Layout, c: Core) -> np.ndarray:
    """Return the hidden true P(YES) of every market at the core's step."""
    return c.p_hidden


def compute(
    lay: Layout, step: int, forecast_skill: float | None = None, arbitrage_share: float = ARBITRAGE_SHARE
) -> Core:
    """Evaluate every slot, path and market of the universe at ``step``.

    ``forecast_skill`` (0 … 1) publishes a forecast that removes that share of the book's error
    (0: the book's own mid, 1: the hidden probability); None publishes none.
    ``arbitrage_share`` is the chance that a drawn arbitrage kind of dislocation stands (tests
    and demos may raise it to see the arbitrage path work; see :data:`ARBITRAGE_SHARE`).
    """
    with np.errstate(all="ignore"):
        return _compute(lay, step, forecast_skill, arbitrage_share)


def _compute(lay: Layout, step: int, forecast_skill: float | None, arbitrage_share: float) -> Core:
    """The phases of :func:`compute`, each on the arrays the previous ones produced."""
    ev = _events(lay, step)
    x, x_news, x_view = _paths(lay, step, ev)
    pr = _probabilities(lay, ev, x, x_news, x_view)
    mk = _market_statics(lay, ev)
    bk = _books(lay, step, mk, pr.p_mkt)
    dislocations, thin = _dislocations(lay, step, ev, mk.vol, bk, arbitrage_share)
    shift_px = _book_shift(bk)
    code_m = ev.code[lay.m_slot]
    quoted = (code_m == ACTIVE) | (code_m == INACTIVE)
    yes_key, no_key, lot_y, lot_n = _side_keys(bk, mk, quoted)
    last, forecast = _last_and_forecast(bk, mk, pr, code_m, quoted, lot_y, lot_n, forecast_skill)
    return Core(
        step,
        ev.gen,
        ev.t,
        ev.code,
        ev.ekey,
        ev.first,
        x,
        ev.sd,
        ev.tau,
        pr.lo_edge,
        pr.hi_edge,
        pr.p_hidden,
        pr.p_mkt,
        pr.p_bias,
        shift_px,
        bk.bid,
        bk.ask,
        yes_key,
        no_key,
        thin,
        mk.vol,
        mk.vol_prev,
        mk.oi,
        last,
        forecast,
        mk.mkey,
        dislocations,
    )


@dataclass(slots=True)
class _Events:
    """Per slot at a step: the event's generation, age and status, and the scale of its latent."""

    gen: np.ndarray
    t: np.ndarray
    close_t: np.ndarray
    ekey: np.ndarray
    d1: np.ndarray  # the event's static hash
    code: np.ndarray
    sp: np.ndarray  # strike spacing (float)
    interval: np.ndarray  # bool: one latent path (not mutually exclusive outcomes)
    first: np.ndarray
    x0: np.ndarray  # opening latent
    ct: np.ndarray  # close step (float, ≥ 1)
    sig2: np.ndarray  # latent variance per step
    tc: np.ndarray  # age clipped to the close
    sd: np.ndarray
    tau: np.ndarray


def _events(lay: Layout, step: int) -> _Events:
    """Slots: generation, status (with pauses), strikes and the latent's opening value and spread."""
    tt = step + lay.phase
    gen = tt // lay.life
    t = tt - gen * lay.life
    close_t = lay.life - 2
    ekey = mix(lay.key ^ mix(gen.astype(np.uint64)))
    d1 = mix(ekey ^ _P_EVENT)
    shape = lay.shape
    n = lay.n
    sp = lay.spacing.astype(np.float64)
    interval = shape != ME
    code = np.where(t <= 0, INITIALIZED, np.where(t < close_t, ACTIVE, np.where(t == close_t, CLOSED, FINALIZED)))
    # pauses: a few steps of status "inactive" (books stay)
    w = step // PAUSE_WINDOW
    hp = mix((ekey ^ _P_PAUSE) ^ np.uint64(mix64(w & MASK64)))
    p_start = w * PAUSE_WINDOW + ((hp >> 16) % (PAUSE_WINDOW - 6)).astype(np.int64)
    paused = ((hp & 0xFFFF) < PAUSE_RATE * 65536) & (p_start <= step) & (step < p_start + 2 + _bits(hp, 24, 3))
    code = np.where((code == ACTIVE) & paused, INACTIVE, code)

    centre = lay.level * (1.0 + lay.jitter * _n(d1, 0))
    ladder = shape == LADDER
    brackets = shape == BRACKETS
    first_l = np.maximum(np.round(centre / sp) * sp - (n // 2) * sp, 0.0)
    first_b = np.maximum(np.round(centre / sp) * sp - (n // 2) * sp, sp)
    first = np.where(ladder, first_l, np.where(brackets, first_b, 0.0))
    u1 = _u(d1, 12, 16)
    sd_total = np.where(ladder, sp * n * (0.12 + 0.13 * u1), np.where(brackets, sp * n * (0.15 + 0.15 * u1), 1.0))
    mid = np.where(ladder, first + (n - 1) * sp / 2, first - 0.5 + n * sp / 2)
    x0 = np.where(ladder | brackets, mid + 0.35 * sd_total * _n(d1, 28), lay.open_sd * _n(d1, 28))
    ct = np.maximum(close_t, 1).astype(np.float64)
    sig2 = (1 - lay.terminal) * sd_total * sd_total / ct
    tau2 = lay.terminal * sd_total * sd_total
    tc = np.clip(t, 0, close_t)
    rem = np.maximum(close_t - t, 0).astype(np.float64)
    sd = np.sqrt(sig2 * rem + tau2)
    tau = np.sqrt(tau2)
    return _Events(gen, t, close_t, ekey, d1, code, sp, interval, first, x0, ct, sig2, tc, sd, tau)


def _paths(lay: Layout, step: int, ev: _Events) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Paths: the hidden latent ``x``, what the market has absorbed of it, and the market's view.

    The market absorbs news partly at once, a share lag_steps later and a share slow_steps
    later (universe_flow): ``x_news`` is what it knows, ``x − x_news`` the news informed traders
    have; ``x_view`` adds the market's slow smooth error.
    """
    ps = lay.p_slot
    n = lay.n
    pkey = mix(ev.ekey[ps] ^ ((lay.p_j.astype(np.uint64) + 1) * GOLDEN) ^ _P_PATH)
    hb = mix(pkey ^ (_P_PATHSTATIC + 1))
    pool = lay.pool[ps]
    pj = lay.p_j
    g = 0.9 * _n(ev.d1, 40)[ps]
    nb = _n(hb, 24)
    s0 = np.select(
        [lay.p_other, pool == POOL_PAIRS, pool == POOL_FED, pool == POOL_PARTIES],
        [
            np.where(n[ps] > 3, 0.3, -2.0 + 0.4 * nb),
            np.where(pj == 0, g / 2, np.where(pj == 1, -g / 2, -0.35 - 0.2 * np.abs(g))),
            _FED_S0[np.minimum(pj, 4)] + 0.5 * nb,
            np.where(pj < 2, 0.5 * nb, -2.5 + 0.5 * nb),
        ],
        1.1 * nb - 0.12 * pj,
    )
    base = np.where(ev.interval[ps], ev.x0[ps], s0)
    sig = np.sqrt(ev.sig2)[ps]
    lv = lay.levels[ps]
    tc = ev.tc
    x = base + sig * brownian(pkey, tc[ps].astype(np.float64), lv)
    x_news = x.copy()
    for share, steps in ((lay.lag_share, lay.lag_steps), (lay.slow_share, lay.slow_steps)):
        t_lag = np.maximum(tc - steps, 0)[ps].astype(np.float64)
        x_news -= share[ps] * (x - (base + sig * brownian(pkey, t_lag, lv)))
    hn = mix(pkey ^ _P_NOISE)
    lo_a, hi_a = MARKET_NOISE
    per_lo, per_hi = MARKET_NOISE_PERIOD
    m_err = np.zeros(len(ps))
    for shift in (0, 30):
        amp = lo_a + (hi_a - lo_a) * _u(hn, shift, 10)
        omega = 2 * math.pi / (per_lo + _bits(hn, shift + 10, 1023) % (per_hi - per_lo + 1))
        m_err += amp * np.sin(omega * step + 2 * math.pi * _u(hn, shift + 20, 10))
    x_view = x_news + m_err * lay.err_scale[ps] * ev.sd[ps]
    return x, x_news, x_view


@dataclass(slots=True)
class _Probabilities:
    """Per market: the interval edges and P(YES) as the truth, the market and its persistent error."""

    lo_edge: np.ndarray
    hi_edge: np.ndarray
    p_hidden: np.ndarray
    p_mkt: np.ndarray
    p_bias: np.ndarray


def _probabilities(lay: Layout, ev: _Events, x: np.ndarray, x_news: np.ndarray, x_view: np.ndarray) -> _Probabilities:
    """Markets: probabilities in three views (truth, what the market knows, what it shows)."""
    ms = lay.m_slot
    ps = lay.p_slot
    kind = lay.m_kind
    first_m = ev.first[ms]
    sp_m = ev.sp[ms]
    bj = lay.m_bj
    sd = ev.sd
    interval = ev.interval
    shown_half = 2 * (first_m + bj * sp_m + lay.soff[ms]) + lay.half[ms]
    lo_edge = np.select(
        [kind == K_BINARY, kind == K_LADDER, kind == K_LESS, kind == K_BETWEEN, kind == K_GREATER],
        [0.0, np.floor(shown_half / 2) + 0.5, -np.inf, first_m + bj * sp_m - 0.5, first_m + lay.n[ms] * sp_m - 0.5],
        0.0,
    )
    hi_edge = np.select([kind == K_LESS, kind == K_BETWEEN], [first_m - 0.5, first_m + (bj + 1) * sp_m - 0.5], np.inf)
    outcome = kind == K_OUTCOME
    me_slots = np.flatnonzero(~interval)

    def probabilities(xe: np.ndarray) -> np.ndarray:
        """P(YES) per market for latent values ``xe`` per path."""
        mu = xe[lay.m_path]
        s = sd[ms]
        p_int: np.ndarray = norm_cdf(np.clip((hi_edge - mu) / s, -40, 40)) - norm_cdf(
            np.clip((lo_edge - mu) / s, -40, 40)
        )
        if me_slots.size == 0:
            return p_int
        zz = xe / sd[ps]
        # softmax per event over its paths (paths of one slot are contiguous)
        starts = lay.poff[me_slots]
        # reduceat runs from one ME slot's first path to the next ME slot's: the interval
        # paths in between are masked out (−inf for the max, weight 0 for the sum)
        zmax = np.maximum.reduceat(np.where(interval[ps], -np.inf, zz), starts)
        slot_max = np.zeros(len(lay.poff))
        slot_max[me_slots] = zmax
        wgt = np.where(interval[ps], 0.0, np.exp(zz - slot_max[ps]))
        total = np.zeros(len(lay.poff))
        total[me_slots] = np.add.reduceat(wgt, starts)
        p_me = wgt[lay.m_path] / np.where(outcome, total[ms], 1.0)
        out: np.ndarray = np.where(outcome, p_me, p_int)
        return out

    p_hidden = probabilities(x)
    p_news = probabilities(x_news)  # what the market knows: the truth with part of its latest news
    p_view = probabilities(x_view)
    # favourite–longshot bias; mutually exclusive sets keep their sum (no basket arbitrage from it)
    p_mkt = longshot(p_view, lay.longshot[ms])
    excl = (lay.shape == ME) | (lay.shape == BRACKETS)
    before = np.add.reduceat(p_view, lay.moff)
    after = np.add.reduceat(p_mkt, lay.moff)
    p_mkt = np.where(excl[ms], p_mkt * (before / np.where(after > 0, after, 1.0))[ms], p_mkt)
    # what informed traders trade on: the news the market has not absorbed yet (they ignore its
    # persistent errors, the slow error and the favourite–longshot bias, as the market does)
    p_bias = p_mkt - p_news
    return _Probabilities(lo_edge, hi_edge, p_hidden, p_mkt, p_bias)


@dataclass(slots=True)
class _MarketStatics:
    """Per market: its key and static hashes, liquidity class and size table, and its volume."""

    mkey: np.ndarray
    h3: np.ndarray
    cls: np.ndarray
    table: np.ndarray
    off: np.ndarray
    hold: np.ndarray
    hoff: np.ndarray
    vol: np.ndarray
    vol_prev: np.ndarray
    oi: np.ndarray


def _market_statics(lay: Layout, ev: _Events) -> _MarketStatics:
    """Markets: statics from hashes, and volume and open interest along the market's life."""
    ms = lay.m_slot
    mkey = mix(ev.ekey[ms] ^ ((lay.m_j.astype(np.uint64) + 1) * 0xD1B54A32D192ED03) ^ _P_MARKET)
    h2 = mix(mkey ^ _P_STATIC2)
    h3 = mix(mkey ^ _P_STATIC3)
    u_cls = _u(h2, 0, 16)
    m_shape = lay.shape[ms]
    cls = np.where(m_shape == COMBO, 2, np.where(u_cls < lay.mix0[ms], 0, np.where(u_cls < lay.mix01[ms], 1, 2)))
    table = lay.group_table[ms, cls]
    off = _u(h2, 16, 16)
    hold = 12 + _bits(h2, 32, 255) % 49  # steps a spread / depth draw lasts (2–10 minutes)
    hoff = _bits(h2, 40, 255) % hold
    zero = _u(h2, 48, 10) < lay.zero_share[ms]
    vt = np.where(zero, 0.0, np.floor(lay.vmed[ms] * np.array(CLASS_VOLUME)[cls] * np.exp(1.3 * _n(h3, 0))))
    vt = np.where((m_shape == COMBO) & (vt > 0), np.maximum(1.0, np.floor(vt / 200)), vt)
    ct_m = ev.ct[ms]
    activity = np.minimum(0.95, np.array(TRADE_ACTIVITY)[cls] * lay.activity[ms])
    vq = np.maximum(1.0, np.round(vt / (ct_m * activity)))
    amp_v = 0.3 + 0.6 * _u(h2, 58, 6)
    vw = 2 * math.pi / (20 + _bits(h3, 12, 255) % 181)
    vaw = amp_v / vw
    vphi = 2 * math.pi * _u(h3, 20, 16)
    kappa = 0.3 + 0.5 * _u(h3, 36, 16)
    vcos = np.cos(vphi)
    vnorm = 1.0 / (ct_m - vaw * (np.cos(vw * ct_m + vphi) - vcos))
    t_m = ev.t[ms]
    close_m = ev.close_t[ms]

    def volume(at: np.ndarray) -> np.ndarray:
        a = np.clip(at, 0, close_m).astype(np.float64)
        c = a - vaw * (np.cos(vw * a + vphi) - vcos)
        return np.where((at > 0) & (vt > 0), np.floor(vt * c * vnorm / vq) * vq, 0.0).astype(np.int64)

    vol = volume(t_m)
    vol_prev = volume(t_m - 1)
    oi = np.floor(vol * kappa).astype(np.int64)
    return _MarketStatics(mkey, h3, cls, table, off, hold, hoff, vol, vol_prev, oi)


@dataclass(slots=True)
class _Books:
    """Per market: the book's grid, its hash at this step, spread and best levels (grid indices)."""

    gid: np.ndarray
    top: np.ndarray
    h: np.ndarray  # the book's hash for this step's spread / depth draw
    k: np.ndarray  # spread in ticks
    u_p: np.ndarray  # the market's probability in 1/10 000 (index into the grid's fidx table)
    bid0: np.ndarray  # best bid where the belief alone puts it
    bid: np.ndarray  # edited in place by dislocations
    ask: np.ndarray


def _books(lay: Layout, step: int, mk: _MarketStatics, p_mkt: np.ndarray) -> _Books:
    """Books: spread and placement on the grid around the market's probability."""
    ms = lay.m_slot
    gid = lay.gid[ms]
    top = lay.top[ms]
    epoch = (step + mk.hoff) // mk.hold
    h = mix(mk.mkey ^ (epoch.astype(np.uint64) * GOLDEN))
    k = _SPREAD[mk.cls, (h & 255).astype(np.intp)]
    u_p = np.clip(np.floor(p_mkt * 10_000.0), 0, 10_000).astype(np.intp)
    c = _FIDX[gid, u_p]
    bid0 = np.floor(c - k * 0.5 + mk.off).astype(np.int64)
    # wide books: makers are unsure where the value is. The centre of a book of k ≥ 4 ticks sits
    # up to (k/2 − 1.5) × CENTRE_ERROR ticks off the market's belief — the book still contains
    # the belief as before, so no arbitrage appears — and is re-centred every 4–9 steps;
    # informed traders trade against the offset (universe_flow), so it is what a quote inside a
    # wide book is picked off on
    room = np.maximum(0.0, k * 0.5 - 1.5) * CENTRE_ERROR
    h3 = mk.h3
    period = 4 + _bits(h3, 52, 7) % 6
    eo = (step + _bits(h3, 55, 15) % period) // period
    v = 2.0 * _u(mix(mk.mkey ^ _P_CENTRE ^ (eo.astype(np.uint64) * GOLDEN)), 0, 16) - 1.0
    bid = bid0 + np.round(room * np.sign(v) * np.sqrt(np.abs(v))).astype(np.int64)
    ask = np.maximum(bid + k, 0)
    bid = np.minimum(bid, top)
    return _Books(gid, top, h, k, u_p, bid0, bid, ask)


def _dislocations(
    lay: Layout, step: int, ev: _Events, vol: np.ndarray, bk: _Books, arbitrage_share: float
) -> tuple[list[tuple[int, str, int, int]], dict[int, tuple[int, int]]]:
    """Dislocations (few events: Python): edit the books in place; return them and the thin levels.

    Mispricings happen where people trade (every leg of the mispriced basket or pair has
    traded) and not in the event's last minutes (scan's default window drops the last 0.1 h).
    """
    code = ev.code
    live = (code == ACTIVE) | (code == INACTIVE)
    start_step = step - ev.t
    dislocations: list[tuple[int, str, int, int]] = []
    thin: dict[int, tuple[int, int]] = {}
    wd = step // DISLOCATION_WINDOW
    for win in (wd - 1, wd):
        hd = mix((ev.ekey ^ _P_DISLOC) ^ np.uint64(mix64(win & MASK64)))
        d_start = win * DISLOCATION_WINDOW + ((hd >> 16) % DISLOCATION_WINDOW).astype(np.int64)
        d_end = (
            d_start
            + DISLOCATION_STEPS[0]
            + ((hd >> 24) % (DISLOCATION_STEPS[1] - DISLOCATION_STEPS[0] + 1)).astype(np.int64)
        )
        hit = (
            live
            & ((hd & 0xFFFF) < DISLOCATION_RATE * 65536)
            & (d_start <= step)
            & (step < d_end)
            & (d_start - start_step >= 1)
            & (d_end - start_step <= ev.close_t - DISLOCATION_CLOSE_GAP)
        )
        for si in np.flatnonzero(hit).tolist():
            hv = int(hd[si])
            kinds = lay.kinds[si]
            kd = kinds[(hv >> 32) % len(kinds)]
            arb = kd in ARBITRAGE_KINDS
            if arb and (
                step >= d_start[si] + ARBITRAGE_STEPS or (mix64(hv ^ _P_ARB) & 0xFFFF) >= arbitrage_share * 65536
            ):
                continue
            a0, a1 = int(lay.moff[si]), int(lay.moff[si] + lay.msize[si])
            traded = (vol[a0:a1] >= DISLOCATION_MIN_VOLUME).tolist()
            pair = 0
            if kd in ("no_basket", "yes_basket") and not all(traded):
                continue
            if kd == "ladder":
                pairs = [j for j in range(a1 - a0 - 1) if traded[j] and traded[j + 1]]
                if not pairs:
                    continue
                pair = pairs[(hv >> 48) % len(pairs)]
            bl, al = bk.bid[a0:a1].tolist(), bk.ask[a0:a1].tolist()
            grid = EventGrid(
                int(lay.top[si]),
                GRID_LIST[int(lay.gid[si])].prices,
                lay.fee_type[si],
                lay.fee_mult[si],
                int(lay.shape[si]),
            )
            moved = dislocate(kd, hv, bl, al, grid, pair)
            bk.bid[a0:a1] = bl
            bk.ask[a0:a1] = al
            sizes = ARBITRAGE_LEFT_SIZES if arb else THIN_SIZES
            for j in moved:
                hm = int(bk.h[a0 + j])
                thin[a0 + j] = (sizes[(hm >> 20) & 63], sizes[(hm >> 34) & 63])
            dislocations.append(
                (si, kd, int(d_start[si]), int(d_start[si]) + ARBITRAGE_STEPS if arb else int(d_end[si]))
            )
    return dislocations, thin


def _book_shift(bk: _Books) -> np.ndarray:
    """How far the book's mid sits from where the market's belief alone would put it, in price units.

    The centre error and dislocations: informed traders trade against it.
    """
    gid = bk.gid
    top = bk.top
    g_top = np.maximum(top, 1)

    def mid_price(b: np.ndarray, a: np.ndarray) -> np.ndarray:
        out: np.ndarray = (_PRICES[gid, np.clip(b, 0, g_top)] + _PRICES[gid, np.clip(a, 0, g_top)]) / 2.0
        return out

    shift: np.ndarray = mid_price(bk.bid, bk.ask) - mid_price(np.minimum(bk.bid0, top), np.maximum(bk.bid0 + bk.k, 0))
    return shift


def _side_keys(
    bk: _Books, mk: _MarketStatics, quoted: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Book sides as cache keys (:func:`universe_books.side_for_key`): (YES key, NO key, lottery YES, lottery NO)."""
    bid, h, top = bk.bid, bk.h, bk.top
    nbid = top - bk.ask
    tid = bk.gid * 64 + mk.table
    cls = mk.cls
    lot_y = (bid < 0) & (bk.ask >= 1) & (_bits(h, 40, 1023) < LOTTERY_SHARE * 1024)
    lot_n = (nbid < 0) & (bid <= top - 1) & (_bits(h, 42, 1023) < LOTTERY_SHARE * 1024)
    yes_key = np.where(
        bid >= 0,
        (((tid * 1024 + bid) * 4 + cls) * N_TEMPLATES + _bits(h, 8, 0xFFFF) % N_TEMPLATES),
        np.where(lot_y, LOTTERY_BASE + tid * 64 + _bits(h, 50, 63), EMPTY_SIDE),
    )
    no_key = np.where(
        nbid >= 0,
        (((tid * 1024 + nbid) * 4 + cls) * N_TEMPLATES + _bits(h, 26, 0xFFFF) % N_TEMPLATES),
        np.where(lot_n, LOTTERY_BASE + tid * 64 + _bits(h, 56, 63), EMPTY_SIDE),
    )
    yes_key = np.where(quoted, yes_key, EMPTY_SIDE)
    no_key = np.where(quoted, no_key, EMPTY_SIDE)
    return yes_key, no_key, lot_y, lot_n


def _last_and_forecast(
    bk: _Books,
    mk: _MarketStatics,
    pr: _Probabilities,
    code_m: np.ndarray,
    quoted: np.ndarray,
    lot_y: np.ndarray,
    lot_n: np.ndarray,
    forecast_skill: float | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Last price (a touch once traded; the close's own price once closed) and the forecast (or −1)."""
    bid, gid, h, top = bk.bid, bk.gid, bk.h, bk.top
    nbid = top - bk.ask
    has_yes = quoted & ((bid >= 0) | lot_y)
    has_no = quoted & ((nbid >= 0) | lot_n)
    yes_px = _PRICES[gid, np.clip(np.where(bid >= 0, bid, 0), 0, None)]
    ask_px = ONE_DOLLAR - _PRICES[gid, np.clip(np.where(nbid >= 0, nbid, 0), 0, None)]
    take_yes = has_yes & (~has_no | (_bits(h, 33, 1) == 1))
    last = np.where(take_yes, yes_px, np.where(has_no, ask_px, -1))
    last = np.where(mk.vol > 0, last, -1)
    # closed and settled markets show the market's own price at the close as their last price
    closing_px = _PRICES[gid, np.clip(np.floor(_FIDX[gid, bk.u_p] + 0.5).astype(np.int64), 0, top)]
    last = np.where((code_m == CLOSED) | (code_m == FINALIZED), closing_px, np.where(quoted, last, -1))
    if forecast_skill is None:
        forecast = np.full(len(bid), -1, dtype=np.int64)
    else:
        # the book's mid (the market's own belief where a side is missing), moved toward the
        # hidden probability by the share ``forecast_skill`` of the gap
        two = (bid >= 0) & (nbid >= 0)
        book_mid = np.where(two, (yes_px + ask_px) / 20_000.0, pr.p_mkt)
        p_fc = book_mid + forecast_skill * (pr.p_hidden - book_mid)
        forecast = np.where(quoted, np.clip(np.floor(p_fc * 10_000.0 + 0.5), 1, ONE_DOLLAR - 1), -1).astype(np.int64)
    return last, forecast


@dataclass(frozen=True, slots=True)
class EventGrid:
    """What one event's books are placed on: its tick grid, fee schedule and shape."""

    top: int  # highest grid index
    prices: tuple[int, ...]  # price per grid index
    fee_type: str
    fee_multiplier: int
    shape: int

    def fee(self, p: int) -> int:
        """Taker fee for one contract at price ``p``, rounded up: the worst case."""
        return fee_for(Price(p), Count(COUNT_SCALE), fee_type=self.fee_type, multiplier=self.fee_multiplier)


def dislocate(kind: str, h: int, bids: list[int], asks: list[int], grid: EventGrid, pair: int = 0) -> set[int]:
    """Shift one event's books (grid indices, edited in place) into a deliberate mispricing.

    Returns the markets whose best levels carry thin sizes. Every single book stays uncrossed
    (``bid < ask``); the mispricing is across markets, as on the real exchange. Arbitrage
    kinds are fee-positive for one contract per leg at taker fees; if the grid leaves no room
    for the edge the books are left as they were. ``pair`` is the lower strike of a ladder
    inversion.
    """
    arbitrage = _ARBITRAGES.get(kind)
    if arbitrage is not None:
        margin = 5_000 + (h >> 40) % 25_000  # net edge per basket after fees: $0.005 … $0.03 (Money)
        saved = (bids[:], asks[:])
        moved = arbitrage(bids, asks, grid, margin, pair)
        if moved is None:  # no room for the edge: undo
            bids[:], asks[:] = saved
            return set()
        return moved
    return _value_or_wide(kind, h, bids, asks, grid)


def _next_movable(i: int, movable: list[int]) -> int:
    return movable[(movable.index(i) + 1) % len(movable)] if i in movable else movable[0]


def _no_basket(bids: list[int], asks: list[int], grid: EventGrid, margin: int, pair: int) -> set[int] | None:
    """YES bids add up to more than 1 + fees: buy NO on every outcome (None: no room)."""
    n, top, prices, fee = len(bids), grid.top, grid.prices, grid.fee
    for i in range(n):
        if bids[i] < 0:
            bids[i], asks[i] = 0, max(asks[i], 1)
    i = -1
    for _ in range(4000):
        edge = (sum(prices[b] for b in bids) - ONE_DOLLAR) * 100 - sum(fee(ONE_DOLLAR - prices[b]) for b in bids)
        if edge >= margin:
            return set(range(n))
        movable = [x for x in range(n) if bids[x] < top - 1]
        if not movable:
            return None
        i = _next_movable(i, movable)
        bids[i] += 1
        asks[i] += 1
    return None


def _yes_basket(bids: list[int], asks: list[int], grid: EventGrid, margin: int, pair: int) -> set[int] | None:
    """YES asks add up to less than 1 − fees: buy YES on every outcome (None: no room)."""
    n, top, prices, fee = len(bids), grid.top, grid.prices, grid.fee
    for i in range(n):
        if asks[i] > top:
            asks[i], bids[i] = top, min(bids[i], top - 1)
    i = -1
    for _ in range(4000):
        cost = sum(prices[a] for a in asks) * 100 + sum(fee(prices[a]) for a in asks)
        if ONE_DOLLAR * 100 - cost >= margin:
            return set(range(n))
        movable = [x for x in range(n) if asks[x] > 0]
        if not movable:
            return None
        i = _next_movable(i, movable)
        bids[i] -= 1
        asks[i] -= 1
    return None


def _ladder(bids: list[int], asks: list[int], grid: EventGrid, margin: int, pair: int) -> set[int] | None:
    """YES bid at the higher strike above the YES ask at the lower one (``pair``) (None: no room)."""
    top, prices, fee = grid.top, grid.prices, grid.fee
    lo, hi = pair, pair + 1
    if bids[hi] < 0:
        bids[hi], asks[hi] = 0, max(asks[hi], 1)
    if asks[lo] > top:
        asks[lo], bids[lo] = top, min(bids[lo], top - 1)
    for k in range(4000):
        edge = (prices[bids[hi]] - prices[asks[lo]]) * 100 - fee(prices[asks[lo]]) - fee(ONE_DOLLAR - prices[bids[hi]])
        if edge >= margin:
            return {lo, hi}
        if k % 2 == 0 and bids[hi] < top - 1:
            bids[hi] += 1
            asks[hi] += 1
        elif asks[lo] > 1:
            bids[lo] -= 1
            asks[lo] -= 1
        elif bids[hi] >= top - 1:
            return None
    return None


_ARBITRAGES = {"no_basket": _no_basket, "yes_basket": _yes_basket, "ladder": _ladder}


def _value_or_wide(kind: str, h: int, bids: list[int], asks: list[int], grid: EventGrid) -> set[int]:
    """The non-arbitrage kinds: a consistent value gap (``value``) or pulled-back books (``wide``)."""
    n, top = len(bids), grid.top
    i = (h >> 48) % n

    def shift(d: int) -> set[int]:
        # the event's books move together and stay internally consistent (no basket or ladder
        # arbitrage appears): a whole ladder shifts; in an outcome set one outcome gains what
        # another loses
        if grid.shape == LADDER:
            moves = [(x, d) for x in range(n)]
        elif n == 1:
            moves = [(i, d)]
        else:
            other = max((x for x in range(n) if x != i), key=lambda x: (bids[x], -x))
            moves = [(i, d), (other, -d)]
        if all(0 <= bids[x] + dx and asks[x] + dx <= top for x, dx in moves):
            for x, dx in moves:
                bids[x] += dx
                asks[x] += dx
            return {x for x, _ in moves}
        return set()

    up = (h >> 58) & 1
    if kind == "value":
        # The market is wrong about the event by 3–8 ticks. Only a model (the forecast) and the
        # informed traders see it; informed flow trades against it until it heals.
        d = 3 + (h >> 52) % 6
        return shift(d if up else -d)
    # wide: makers pull back on every market of the event because the price is about to move:
    # the books are off by more than they widened (informed traders know which way) and move
    # back when the event heals, so a quote inside the wide book is run over
    d = 2 + (h >> 52) % 5
    j = d + 1 + (h >> 59) % 3
    shift(j if up else -j)
    for x in range(n):
        bids[x] -= d
        asks[x] += d
    return set()


def dislocation_kinds(shape: int, n_markets: int, exhaustive: bool) -> tuple[str, ...]:
    """Return the dislocation kinds an event of this shape can show (drawn uniformly)."""
    if shape == LADDER and n_markets >= 2:
        return ("ladder", "ladder", "value", "wide")
    if shape in (ME, BRACKETS) and n_markets >= 2:
        return (
            ("no_basket", "yes_basket", "value", "wide") if exhaustive else ("no_basket", "no_basket", "value", "wide")
        )
    return ("value", "value", "wide")


def as_lists(*arrays: Any) -> list[list[Any]]:
    """Convert arrays to Python lists of Python ints/floats (fast element access in loops)."""
    return [a.tolist() for a in arrays]
