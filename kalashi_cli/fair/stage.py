"""The ``fair`` stage: market records in, the same records out with each event's fair values first.

``kalashi scan | kalashi fair | kalashi analyze --fair -``: markets arrive grouped by event (scan
emits them that way). The stage holds one event's market records, prices them with every model
(first model wins per market), writes the ``fair`` records, then the event's market records
unchanged — so analyze has an event's values before it finishes that event. Records of other
kinds pass through in order (an event held back is written out first).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ..domain import Market
from .base import FairEngine

Record = dict[str, Any]


@dataclass(slots=True)
class FairStats:
    markets: int = 0
    events: int = 0
    priced: int = 0
    by_model: dict[str, int] = field(default_factory=dict)


def _wall_ms() -> int:
    return time.time_ns() // 1_000_000


def price_records(
    records: Iterable[Record],
    engine: FairEngine,
    *,
    decode: Callable[[Record], Market],
    stats: FairStats | None = None,
    now_ms: Callable[[], int] = _wall_ms,
) -> Iterator[Record]:
    """Yield every input record, each event's ``fair`` records just before its markets.

    ``decode`` turns a market record into a Market (raising names the line); the books' time is
    the record's ``ts`` (the wall clock when it has none).
    """
    from ..records import fair_record, parse_time_ms

    st = stats if stats is not None else FairStats()
    held: list[tuple[Record, Market]] = []

    def flush() -> Iterator[Record]:
        if not held:
            return
        ts = held[0][0].get("ts")
        try:
            t = parse_time_ms(ts) if ts else now_ms()
        except ValueError:
            t = now_ms()
        st.events += 1
        for fv in engine.fair_for([m for _, m in held], t).values():
            st.priced += 1
            st.by_model[fv.model] = st.by_model.get(fv.model, 0) + 1
            yield fair_record(fv)
        for rec, _ in held:
            yield rec
        held.clear()

    for rec in records:
        if rec.get("kind") != "market":
            yield from flush()
            yield rec
            continue
        m = decode(rec)
        st.markets += 1
        if held and held[0][1].event_ticker != m.event_ticker:
            yield from flush()
        held.append((rec, m))
    yield from flush()
