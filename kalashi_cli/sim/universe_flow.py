"""Order flow of the sim universe: who trades, which way, how much — and how wrong the market is.

The parameters live in ``flow_params.json`` beside this module: numbers fitted or measured by
``bench/calibrate_flow.py`` on the real captures in ``../shared/data/kalshi-real`` (which the
repository never holds), each with a note of where it came from. docs/sim-calibration.md
shows the sim against the real figures, statistic by statistic.

The model, per category group (docs/sim-calibration.md §order flow):

* **The market under-reacts to news.** The hidden truth is a Brownian path (exact at every
  step); the market's belief absorbs a share ``1 − lag_share`` of each innovation at once and
  the rest ``lag_steps`` later, and carries a slow smooth error on top (``error_scale`` × the
  sines of :mod:`.universe_core`). The gap between truth and market is what informed traders
  trade on; it closes as the market catches up, which is what makes a passive fill's markout
  negative.
* **Favourite–longshot bias.** The market's probability is the belief with its log-odds
  divided by ``longshot`` (> 1: long shots priced above their chance, favourites below);
  mutually exclusive sets are rescaled to keep their sum, so no basket arbitrage appears.
* **Informed and noise takers.** Every public print is informed with probability
  ``informed_open`` → ``informed_close`` (linear over the market's life: more informed flow
  near the close); an informed print trades toward the hidden probability (buys when it is
  above the book's mid). Noise prints lean toward the long shot (``yes_tilt``). Noise traders
  shy away from wide books: the noise share is scaled by ``min(1, wide_ticks / spread)``, so
  the flow that crosses a wide spread is mostly informed (why the spread is wide).
* **Sizes.** A step's volume growth is split into prints whose relative sizes follow the real
  trade-size distribution (``size_quantiles``); an informed print weighs ``informed_size``
  times a noise print (big trades are the informed ones, as on the real runs).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

#: Most prints per market and step (the step's volume is split among them).
MAX_PRINTS = 3


@dataclass(frozen=True, slots=True)
class FlowParams:
    """Flow parameters of one category group (see the module doc)."""

    informed_open: float
    informed_close: float
    informed_size: float
    lag_share: float
    lag_steps: int
    slow_share: float
    slow_steps: int
    error_scale: float
    longshot: float
    yes_tilt: float
    wide_ticks: float
    noise_max_ticks: float  # books wider than this see no noise takers at all
    persistent: float  # how much informed traders also trade against the market's persistent error (0 … 1)
    mean_trade: float  # contracts: a step's volume is split into about volume / mean_trade prints


@dataclass(frozen=True, slots=True)
class Flow:
    """Every group's parameters and the shared trade-size shape."""

    groups: dict[str, FlowParams]
    size_quantiles: tuple[float, ...]  # 16 relative sizes (mean 1), the real trade-size shape
    raw: dict[str, Any]


def _params(d: dict[str, Any]) -> FlowParams:
    values: dict[str, Any] = {k: (int(v) if k.endswith("_steps") else float(v)) for k, v in d.items()
                              if not k.startswith("_")}
    return FlowParams(**values)


@lru_cache(maxsize=1)
def flow() -> Flow:
    """The fitted flow parameters (read once from flow_params.json).

    ``KALASHI_SIM_FLOW=PATH`` reads another parameter file instead — for calibration runs
    (bench/calibrate_flow.py) only: a universe's books depend on it, so every process that
    rebuilds the same universe must see the same file.
    """
    override = os.environ.get("KALASHI_SIM_FLOW")
    text = (open(override, encoding="utf-8").read() if override  # noqa: SIM115
            else resources.files(__package__).joinpath("flow_params.json").read_text())
    raw = json.loads(text)
    default = raw["groups"]["default"]
    groups = {g: _params({**default, **over}) for g, over in raw["groups"].items()}
    sizes = tuple(float(x) for x in raw["size_quantiles"])
    return Flow(groups, sizes, raw)


def params(group: str) -> FlowParams:
    """The flow parameters of a category group (the documented default when it has none)."""
    f = flow()
    return f.groups.get(group) or f.groups["default"]
