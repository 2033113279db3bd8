"""Fair value from the outside world: models that price markets, and how they score.

::

    FairValue            (kalashi_cli.domain) one model's probability for one market: p, standard error, inputs' time
    FairModel            the interface: price(event_markets, now_ms) -> [FairValue]
    ├── LadderModel      (ladder.py) one monotone, arbitrage-free distribution per event from its books
    └── CryptoModel      (crypto.py) P(settlement index ends above/inside the strikes) from spot + vol
    SpotSource           (spot.py) recorded spot (file) or a public exchange WebSocket ticker
    FairEngine           the models a profile names, first wins: what analyze and run-loop call
                         (models.py builds it from the names: build_models, build_engine)
    evaluate             (evaluate.py) Brier, log loss, reliability and value P&L against results

The interface is in-process: ``FairEngine.fair_for(markets_of_one_event, now_ms)`` is what
``analyze``, ``run-loop`` and a backtest call; ``kalashi fair`` writes the same values as ``fair``
records, and an external program can write those records itself (docs/records.md).
This module stays light (no numpy): the models import it only when they are built.
"""

from __future__ import annotations

from ..domain import FairValue
from .base import FairEngine, FairModel
from .models import build_engine

__all__ = ["FairEngine", "FairModel", "FairValue", "build_engine"]
