"""Run one backtest: the run-loop's :class:`~kalashi_cli.loop.TradingLoop` over recorded (or sim) data.

Parity with ``run-loop --source replay:`` is by construction: the same loop object runs the same
stage functions (scan's prefilter, analyze with the profile's fair models, correlate, the risk
gate, order) against the same paper exchange, one iteration per time slice of the recording.
What a backtest adds is outside the loop: the source closes and settles markets
(:mod:`.source`), the paper broker sees books ``latency_ms`` late, the journal and the paper
exchange live in a throwaway folder (not flushed to disk), and the report is computed at the end
from the journal with the library functions ``metrics`` uses.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputError, UsageError
from ..journal import Journal
from ..ports import MarketSource
from ..profile import Profile, money
from ..sim.paper import PaperBroker
from .source import BacktestSource, LatencyView


class LateBroker(PaperBroker):
    """The paper exchange meeting each order with the book as it was when the order arrived.

    Before every order the engine gets the market's book ``latency_ms`` after the decision (its
    source is a :class:`~.source.LatencyView`); the engine then moves its clock to the arrival
    and matches. Between orders it follows the iterations' books exactly as ``run-loop``'s does.
    """

    def submit(self, intent: Any) -> Any:
        with self._lock:
            for m in self.source.books([intent.ticker]).values():
                self._feed(m)
            return super().submit(intent)


@dataclass(frozen=True, slots=True)
class BacktestConfig:
    """Everything one backtest needs (picklable: sweeps send it to other processes or machines)."""

    sources: tuple[str, ...]  # recording paths, or one ``sim:…`` descriptor
    profile: Profile
    profile_name: str = "default"
    overrides: dict[str, Any] = field(default_factory=dict)
    results: dict[str, str] = field(default_factory=dict)
    results_path: str | None = None
    latency_ms: int | None = None  # None: the profile's paper.latency_ms
    slice_ms: int = 1000
    duration_s: float | None = None  # recorded seconds to play (None: all)
    iterations: int | None = None  # a cap (the sim has no end: it needs one)

    @property
    def latency(self) -> int:
        return self.profile.paper.latency_ms if self.latency_ms is None else self.latency_ms


@dataclass(slots=True)
class BacktestRun:
    """What a run left behind, for the report."""

    config: BacktestConfig
    journal: Journal
    source: BacktestSource
    broker: Any
    iterations: int
    wall_s: float
    events: int
    files: list[dict[str, Any]]
    records: list[dict[str, Any]]
    portfolio: Any = None


#: the recordings the last backtest in this process read, by (path, size, mtime): the points of a
#: sweep that run in one worker process parse each file once (playing never changes the events);
#: only the last backtest's files are kept
_LOADED: dict[tuple[str, int, int], list[Any]] = {}


def _events(path: Path) -> list[Any]:
    from ..kalshi.replay import load_recording

    try:
        st = path.stat()
        key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    except OSError:
        return load_recording(path)  # names the file and why it cannot be read
    events = _LOADED.get(key)
    if events is None:
        events = load_recording(path)
        _LOADED[key] = events
    return events


def _open_source(cfg: BacktestConfig) -> tuple[MarketSource, list[dict[str, Any]]]:
    """The inner source and a per-file status (unreadable files are reported, not fatal, while one remains)."""
    specs = cfg.sources
    if len(specs) == 1 and (specs[0] == "sim" or specs[0].startswith("sim:")):
        from ..sim.source import parse_sim_spec

        return parse_sim_spec(specs[0]), [{"path": specs[0], "source": "sim"}]
    from ..kalshi.replay import MergedReplaySource, ReplaySource

    paths = [s[len("replay:") :] if s.startswith("replay:") else s for s in specs]
    wanted = {str(Path(p).resolve()) for p in paths}
    for key in [k for k in _LOADED if k[0] not in wanted]:
        del _LOADED[key]
    if any(p.startswith("sim") and not Path(p).exists() for p in paths):
        raise UsageError("a sim: source runs alone", hint="give either recordings or one sim:SEED descriptor")
    files: list[dict[str, Any]] = []
    if len(paths) == 1:  # unreadable: InputError (exit 3)
        return ReplaySource(paths[0], slice_ms=cfg.slice_ms, events=_events(Path(paths[0]))), files
    merged = MergedReplaySource(paths, slice_ms=cfg.slice_ms, skip_unreadable=True, loader=_events)
    if not merged.children:
        raise InputError(
            "no recording could be read: " + "; ".join(merged.errors.values()), hint="check the replay: paths"
        )
    for p, why in merged.errors.items():
        files.append({"path": p, "error": why})
    return merged, files


def _loop_class() -> type:
    from ..loop import TradingLoop

    class BacktestLoop(TradingLoop):
        """The run-loop's loop, minus the metrics snapshot it journals every 10th iteration for the
        dashboard: nobody watches a backtest's journal while it runs, the report computes the
        metrics once at the end, and each snapshot reads every iteration so far (quadratic)."""

        def write_metrics(self) -> dict[str, Any]:
            return {}

    return BacktestLoop


def run_backtest(
    cfg: BacktestConfig, workdir: str | Path | None = None, *, progress: Callable[[int, int], None] | None = None
) -> BacktestRun:
    """Play the data through the trading loop until it ends; return the run (its journal stays open).

    ``progress(iteration, recorded_ms)`` is called after every iteration (a status line).

    Raises:
        InputError: no recording is readable. UsageError: a sim source without an iteration cap.
    """
    inner, bad_files = _open_source(cfg)
    if getattr(inner, "exhausted", None) is None and cfg.iterations is None and cfg.duration_s is None:
        inner.close()
        raise UsageError("a sim: backtest needs an end", hint="pass --iterations N (or --duration SECONDS)")
    source = BacktestSource(
        inner, results=cfg.results, duration_ms=int(cfg.duration_s * 1000) if cfg.duration_s else None
    )
    work = Path(workdir) if workdir is not None else Path(tempfile.mkdtemp(prefix="kalashi-backtest-"))
    work.mkdir(parents=True, exist_ok=True)
    for old in work.glob("journal.sqlite*"):
        old.unlink()
    journal = Journal(work / "journal.sqlite", mode="paper", durable=False)
    latency = cfg.latency
    if latency > 0 and source.replays():
        broker: PaperBroker = LateBroker(
            LatencyView(source, latency),
            work / "journal.sqlite.paper-exchange.sqlite",
            starting_balance=money(cfg.profile.paper.starting_balance),
            latency_ms=latency,
            now_ms=source.now_ms,
            durable=False,
        )
    else:
        broker = PaperBroker(
            source,
            work / "journal.sqlite.paper-exchange.sqlite",
            starting_balance=money(cfg.profile.paper.starting_balance),
            latency_ms=latency,
            now_ms=source.now_ms,
            durable=False,
        )
    records: list[dict[str, Any]] = []
    keep = ("order", "fill", "denied")
    loop = _loop_class()(
        cfg.profile, source, broker, journal, sink=lambda r: records.append(r) if r["kind"] in keep else None
    )
    t0 = time.perf_counter()
    n = loop.run(
        iterations=cfg.iterations,
        interval=0,
        on_iteration=(lambda r: progress(r.n, source.now_ms())) if progress is not None else None,
    )
    wall = time.perf_counter() - t0
    files = bad_files + [_file_status(r) for r in source.replays()]
    events = sum(f.get("events_played", 0) for f in files)
    portfolio = loop.portfolio()  # after the last step (settlements included), by the valuation rule
    return BacktestRun(cfg, journal, source, broker, n, wall, events, files, records, portfolio)


def _file_status(r: Any) -> dict[str, Any]:
    played, total = r.position
    first = r.events[0].t_ms if r.events else None
    last = r.events[played - 1].t_ms if played else None
    return {
        "path": str(r.path),
        "events": total,
        "events_played": played,
        "complete": played >= total,
        "first_ms": first,
        "last_ms": last,
        "sequence_gaps": r.store.gaps,
        "stale_books": sorted(t for t, b in r.store.books.items() if b.stale),
        "snapshot_checks": r.snapshot_checks,
        "snapshot_mismatches": len(r.snapshot_mismatches),
        "deltas": r.store.deltas,
        "inferred_trades": r.inferred_trades,
    }
