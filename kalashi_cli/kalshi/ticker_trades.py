"""Public trades inferred from the ``ticker`` channel's volume, for recordings without a ``trade`` channel."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from ..domain import Trade
from ..money import Count, parse_count, parse_price
from .books import LocalBook


class TickerTradeInference:
    """Turn ``ticker`` messages whose volume grew into public trades (see :meth:`observe`).

    Keeps the last volume seen per market; ``count`` is how many trades it has inferred.
    """

    def __init__(self) -> None:
        self._last_volume: dict[str, int] = {}
        self.count = 0

    def observe(self, msg: Mapping[str, Any], t_ms: int, books: Mapping[str, LocalBook]) -> Trade | None:
        """Return the trade a ``ticker`` message's volume growth stands for, or None.

        Kalshi's ``ticker`` channel is throttled (about one message a second per market), so a
        volume increase stands for every trade since the last message. The trade is printed at
        the message's last price for **half** the growth (``volume_fp`` counts both sides: the
        growth is exactly twice ``last_trade_size_fp`` when one trade happened — measured on the
        shared KXBTC15M runs); its taker is read from the last price against the mid of the book
        just before (above: a YES buyer took the ask; below: a seller hit the bid). A price at
        the mid, a book we do not have, or the first message of a market gives no trade: without
        a direction it is no evidence that a resting order was reached (the pessimistic side).
        """
        t = msg.get("market_ticker")
        v, lp = msg.get("volume_fp"), msg.get("price_dollars")
        if not isinstance(t, str) or not isinstance(v, str | int) or not isinstance(lp, str):
            return None
        try:
            vol = parse_count(str(v))
            price = parse_price(lp)
        except ValueError:
            return None
        prev = self._last_volume.get(t)
        self._last_volume[t] = vol
        if prev is None or vol <= prev:
            return None
        count = (vol - prev) // 2
        book = books.get(t)
        if count <= 0 or book is None or book.stale:
            return None
        bid, ask = book.best_yes_bid, book.best_yes_ask
        if bid is None or ask is None:
            return None
        mid2 = bid + ask
        if 2 * price == mid2:
            return None
        side: Literal["bid", "ask"] = "bid" if 2 * price > mid2 else "ask"
        self.count += 1
        return Trade(
            trade_id=f"ticker:{t}:{t_ms}", ticker=t, price=price, count=Count(count), taker_side=side, ts_ms=t_ms
        )
