"""kalashi backtest: recorded (or sim) market data through the run-loop's pipeline, a report, and sweeps.

* :mod:`.source` — closes, settlements (recording, ``--results``, else the valuation rule) and the
  latency view the paper broker trades on;
* :mod:`.run` — one run: the :class:`~kalashi_cli.loop.TradingLoop` itself over the data;
* :mod:`.report` — ``report.json`` and the self-contained ``report.html``;
* :mod:`.sweep` — a grid or random sample of profile overrides, run in parallel (processes or Dask).

docs/backtest.md describes it for users.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .run import BacktestConfig, BacktestRun, run_backtest

__all__ = ["BacktestConfig", "BacktestRun", "backtest", "run_backtest"]


def backtest(
    cfg: BacktestConfig,
    out: str | Path | None = None,
    *,
    html: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Run one backtest and return its report; with ``out``, write report.json (and report.html) there.

    The run's journal and paper exchange go to ``out/state/`` (open them with ``kalashi metrics
    --journal out/state/journal.sqlite``), or to a temporary folder that is removed afterwards.
    """
    from .report import build_report, write_report

    work = Path(out) / "state" if out is not None else Path(tempfile.mkdtemp(prefix="kalashi-backtest-"))
    try:
        run = run_backtest(cfg, work, progress=progress)
        try:
            report = build_report(run, run.portfolio)
        finally:
            run.broker.close()
            run.source.close()
            run.journal.close()
        if out is not None:
            if html:
                write_report(report, Path(out))
            else:
                Path(out).mkdir(parents=True, exist_ok=True)
                import orjson

                (Path(out) / "report.json").write_bytes(
                    orjson.dumps(report, option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE)
                )
        return report
    finally:
        if out is None:
            shutil.rmtree(work, ignore_errors=True)
