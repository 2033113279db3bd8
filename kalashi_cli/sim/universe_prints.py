"""What happens in the sim universe between two steps: public trades and settlements.

Both are read off the numeric core of a step (:mod:`.universe_core`): a market's prints split
its volume growth by the flow model (:mod:`.universe_flow`), and an event settles with a result
drawn with exactly the hidden probability at its close.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from statistics import NormalDist
from typing import Any

import numpy as np

from ..domain import Settlement, Trade
from ..money import ONE_DOLLAR, Price, snap
from . import universe_core as core
from .universe_books import GOLDEN, MASK64, SIDES, hash2, mix64, side_for_key, unit
from .universe_flow import MAX_PRINTS, flow
from .universe_flow import params as flow_params
from .universe_layout import Slot
from .universe_names import NameCache

_ND = NormalDist()


def settlements(
    c: core.Core, lay: core.Layout, slots: list[Slot], names: NameCache, ts: int, only: int | None = None
) -> list[Settlement]:
    """The settlements of the events finalized at the core's step (of slot ``only``, when given)."""
    out: list[Settlement] = []
    for si in np.flatnonzero(c.code == core.FINALIZED).tolist():
        if only is not None and si != only:
            continue
        slot = slots[si]
        event = names.get(slot, c)
        h = hash2(int(c.ekey[si]) ^ 0x5E77, int(c.gen[si]))
        tau = float(c.tau[si])
        if slot.spec.shape == "me":
            # Gumbel-max at the closing temperature: the winner is drawn with exactly
            # softmax(strength / tau), the hidden probabilities at close
            paths = range(slot.poff, slot.poff + int(lay.psize[si]))
            scores = [
                float(c.x[p]) / tau - math.log(-math.log(unit(mix64(h ^ ((k + 1) * GOLDEN & MASK64)))))
                for k, p in enumerate(paths)
            ]
            winner = max(range(len(scores)), key=scores.__getitem__)
            results = [j == winner for j in range(slot.size)]
        else:
            final = float(c.x[slot.poff]) + tau * _ND.inv_cdf(unit(h))
            lo = c.lo_edge[slot.moff : slot.moff + slot.size].tolist()
            hi = c.hi_edge[slot.moff : slot.moff + slot.size].tolist()
            results = [lo[j] < final <= hi[j] for j in range(slot.size)]
        out.extend(
            Settlement(t, event.ticker, "yes" if r else "no", ts, value=ONE_DOLLAR if r else Price(0))
            for t, r in zip(event.tickers, results, strict=True)
        )
    return out


def trading(c: core.Core, lay: core.Layout) -> list[int]:
    """The markets that print at the core's step: active, with volume growth."""
    code_m = c.code[lay.m_slot]
    idx: list[int] = np.flatnonzero((code_m == core.ACTIVE) & (c.vol > c.vol_prev)).tolist()
    return idx


def trades(
    c: core.Core, lay: core.Layout, slots: list[Slot], names: NameCache, idx: list[int], t0: int, step_ms: int
) -> list[Trade]:
    """The public prints of markets ``idx`` at the core's step: sizes from the volume growth, sides from the flow.

    Each print is informed with the group's probability (rising toward the close, and
    higher when the book is wide: noise traders avoid wide spreads); an informed print
    trades toward the hidden probability, a noise print leans toward the long shot
    (:mod:`.universe_flow`). Prints go at the touch of this step's book.
    """
    step = c.step
    sizes_q = flow().size_quantiles
    out: list[Trade] = []
    for i, ky, kn, total, mk, si, gap, b, k_spread, t_m, ct in _columns(c, lay, idx):
        yes = SIDES.get(ky)
        if yes is None:
            yes = side_for_key(ky)
        no = SIDES.get(kn)
        if no is None:
            no = side_for_key(kn)
        if not yes and not no:
            continue
        slot = slots[si]
        fp = flow_params(slot.spec.group)
        ticker = names.get(slot, c).tickers[i - slot.moff]
        bands = slot.grid.bands
        bid_px = yes[0][0] if yes else None
        ask_px = ONE_DOLLAR - no[0][0] if no else None
        if bid_px is not None and ask_px is not None:
            mid = (bid_px + ask_px) / 2
        else:
            mid = bid_px if bid_px is not None else ask_px  # type: ignore[assignment]
        gap -= fp.persistent * b  # informed traders also trade, as far as they do, against its persistent error
        informed_dir = 1 if gap > 0.5 else (-1 if gap < -0.5 else 0)
        # the price an informed trader takes: the touch when it is beyond what they know the
        # contract is worth, else their own limit at that value (inside the spread: no one
        # on the book was that wrong, but an order there would have been hit)
        worth = mid + gap
        share = fp.informed_open + (fp.informed_close - fp.informed_open) * min(1.0, max(0.0, t_m / max(ct, 1)))
        if k_spread > fp.noise_max_ticks:  # nobody crosses a very wide book blind: only the informed
            share = 1.0
        elif k_spread > fp.wide_ticks:  # noise traders avoid wide books: who crosses one is informed
            share = 1.0 - (1.0 - share) * (fp.wide_ticks / k_spread) ** 2
        lean = 0.5 + fp.yes_tilt * (0.5 - mid / ONE_DOLLAR)  # noise: P(buy YES), toward the long shot
        h = hash2(mk ^ 0x7EADE, step)
        prints = min(MAX_PRINTS, total, max(1, round(total / fp.mean_trade)))
        sides: list[int] = []
        prices: list[int] = []
        weights: list[float] = []
        for k in range(prints):
            hk = mix64(h ^ ((k + 1) * GOLDEN & MASK64))
            informed = informed_dir != 0 and (hk & 0xFFFF) < share * 65536
            side = informed_dir if informed else (1 if ((hk >> 16) & 0xFFFF) < lean * 65536 else -1)
            if side > 0 and ask_px is None:
                side, informed = -1, False  # nothing to buy: the print sells into the bids
            elif side < 0 and bid_px is None:
                side, informed = 1, False
            price = ask_px if side > 0 else bid_px
            if (
                informed
                and bid_px is not None
                and ask_px is not None
                and not (bid_px >= worth if side < 0 else ask_px <= worth)
            ):
                limit = (
                    snap(Price(int(worth)), bands, up=False)
                    if side > 0
                    else snap(Price(int(worth) + 1), bands, up=True)
                )
                if limit is not None and bid_px < limit < ask_px:  # none inside a one-tick book: the touch
                    price = limit
            sides.append(side)
            prices.append(price)  # type: ignore[arg-type]
            weights.append(sizes_q[(hk >> 32) & 15] * (fp.informed_size if informed else 1.0))
        scale = total / sum(weights)  # the step's volume growth, split among the prints by weight
        left = total
        for k in range(prints):
            size = left if k == prints - 1 else min(left - (prints - 1 - k), max(1, int(weights[k] * scale)))
            left -= size
            price, taker = prices[k], ("bid" if sides[k] > 0 else "ask")  # bid: the taker bought YES
            tid = f"{(h ^ (k * GOLDEN)) & MASK64:016x}{step & 0xFFFFFFFF:08x}{k:08x}"
            out.append(
                Trade(
                    f"{tid[:8]}-{tid[8:12]}-{tid[12:16]}-{tid[16:20]}-{tid[20:]}",
                    ticker,
                    price,  # type: ignore[arg-type]
                    size * 100,
                    taker,  # type: ignore[arg-type]
                    t0 + (k + 1) * step_ms // (prints + 1),
                )
            )
    return out


def _columns(c: core.Core, lay: core.Layout, idx: list[int]) -> Iterator[tuple[Any, ...]]:
    """The per-market inputs of :func:`trades`, as Python values, one tuple per printing market.

    (index, YES side key, NO side key, volume growth, market key, slot, news and persistent
    error in price units, spread in ticks, age, close step.)
    """
    yk = c.yes_key[idx].tolist()
    nk = c.no_key[idx].tolist()
    dv = (c.vol - c.vol_prev)[idx].tolist()
    mkeys = c.mkey[idx].tolist()
    m_slot = lay.m_slot[idx].tolist()
    # informed traders know the news the market has not absorbed yet: truth − the market's
    # belief net of its persistent error (slow error, longshot bias), in price units
    # and against the book's own placement error (a wide book's centre error, dislocations)
    news = ((c.p_hidden - c.p_market + c.p_bias) * ONE_DOLLAR - c.shift)[idx].tolist()
    bias = (c.p_bias * ONE_DOLLAR)[idx].tolist()
    spread = (c.ask - c.bid)[idx].tolist()
    t_now = c.t[lay.m_slot[idx]].tolist()
    close_t = (lay.life[lay.m_slot[idx]] - 2).tolist()
    return zip(idx, yk, nk, dv, mkeys, m_slot, news, bias, spread, t_now, close_t, strict=True)
