"""The matching engine, by its short name: ``from kalashi_cli.sim.matching import MatchingEngine``.

The implementation lives in :mod:`kalashi_cli.sim.engine` (split by concern: book, orders,
accounts, events, the matching steps and the public API).
"""

from .engine import *  # noqa: F403
from .engine import __all__  # noqa: F401
