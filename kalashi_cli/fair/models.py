"""The built-in fair-value models by name (ladder, crypto, crypto-t), as the profile's ``fair.models`` lists them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..errors import UsageError
from .base import FairEngine, FairModel

if TYPE_CHECKING:
    from ..profile import FairSettings
    from .spot import SpotSource


def build_models(names: Sequence[str], settings: FairSettings, *, spot: SpotSource | None = None) -> list[FairModel]:
    """Build the named models (ladder, crypto, crypto-t) from the profile's ``fair`` settings.

    ``spot`` overrides ``fair.crypto.spot`` (tests and ``kalashi fair --spot`` pass one in; the
    caller closes it). Without it the crypto models share the process's feed for
    ``fair.crypto.spot`` (:func:`~kalashi_cli.fair.spot.shared_spot`).

    Raises:
        UsageError: an unknown model name or spot descriptor.
    """
    models: list[FairModel] = []
    shared_spot = spot
    for name in names:
        if name == "ladder":
            from .ladder import LadderModel

            models.append(LadderModel(settings.ladder))
        elif name in ("crypto", "crypto-t"):
            from .crypto import CryptoModel
            from .spot import shared_spot as process_spot

            if shared_spot is None:
                shared_spot = process_spot(settings.crypto.spot, products=sorted(set(settings.crypto.assets.values())))
            models.append(CryptoModel(settings.crypto, shared_spot, fat_tails=name == "crypto-t"))
        else:
            raise UsageError(f"unknown fair-value model '{name}'", hint="use ladder, crypto or crypto-t")
    return models


def build_engine(
    settings: FairSettings, names: Sequence[str] | None = None, *, spot: SpotSource | None = None
) -> FairEngine:
    """The engine for ``names`` (default: the profile's ``fair.models``)."""
    return FairEngine(build_models(settings.models if names is None else names, settings, spot=spot))
