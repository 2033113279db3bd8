"""Order flow of the sim universe: who trades, which way, how much — and how wrong the market is.

The parameters live in ``flow_params.json`` beside this module: numbers fitted or measured by
``bench/calibrate_flow.py`` on the real captures in ``../shared/data/kalshi-real`` (which the
repository never holds), each with a note of where it came from. docs/sim-calibration.md
shows the sim against the real figures, statistic by statistic.

The model, per category group:

* **The market under-reacts to news.** The hidden truth is a Brownian path (exact at every
  step); the market's belief absorbs ``1 − lag_share − slow_share`` of each innovation at once,
  ``lag_share`` of it ``lag_steps`` later and the rest ``slow_share`` ``slow_steps`` later, and
  carries a slow smooth error on top (``error_scale`` × the sines of :mod:`.universe_core`).
  Wide books sit off that belief by up to what their spread allows (``CENTRE_ERROR`` in
  :mod:`.universe_core`). The news not yet absorbed and the book's placement error are what
  informed traders trade on; the market catching up is what makes a passive fill's markout
  negative.
* **Favourite–longshot bias.** The market's probability is the belief with its log-odds
  divided by ``longshot`` (> 1: long shots priced above their chance, favourites below);
  mutually exclusive sets are rescaled to keep their sum, so no basket arbitrage appears.
* **Informed and noise takers.** Every public print is informed with probability
  ``informed_open`` → ``informed_close`` (linear over the market's life: more informed flow
  near the close). An informed print trades toward what it knows (the news, the placement
  error and ``persistent`` × the market's persistent error): at the touch when the touch is
  beyond that value, else at that value inside the spread (an order there would have been
  hit). Noise prints take the touch and lean toward the long shot (``yes_tilt``). Noise
  traders shy away from wide books: their share is scaled by ``(wide_ticks / spread)²`` and
  is zero beyond ``noise_max_ticks``, so the flow that crosses a wide spread is informed
  (why it is wide).
* **Sizes.** A step's volume growth is split into at most ``MAX_PRINTS`` prints (about
  volume / ``mean_trade``) whose relative sizes follow the real trade-size distribution
  (``size_quantiles``); an informed print weighs ``informed_size`` times a noise print (big
  trades are the informed ones, as on the real runs).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import orjson

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
    values: dict[str, Any] = {
        k: (int(v) if k.endswith("_steps") else float(v)) for k, v in d.items() if not k.startswith("_")
    }
    return FlowParams(**values)


@lru_cache(maxsize=1)
def flow() -> Flow:
    """The fitted flow parameters (read once from flow_params.json).

    ``KALASHI_SIM_FLOW=PATH`` reads another parameter file instead — for calibration runs
    (bench/calibrate_flow.py) only: a universe's books depend on it, so every process that
    rebuilds the same universe must see the same file.
    """
    override = os.environ.get("KALASHI_SIM_FLOW")
    text = (
        open(override, encoding="utf-8").read()
        if override  # noqa: SIM115
        else resources.files(__package__).joinpath("flow_params.json").read_text()
    )
    raw = orjson.loads(text)
    default = raw["groups"]["default"]
    groups = {g: _params({**default, **over}) for g, over in raw["groups"].items()}
    sizes = tuple(float(x) for x in raw["size_quantiles"])
    return Flow(groups, sizes, raw)


def params(group: str) -> FlowParams:
    """The flow parameters of a category group (the documented default when it has none)."""
    f = flow()
    return f.groups.get(group) or f.groups["default"]
