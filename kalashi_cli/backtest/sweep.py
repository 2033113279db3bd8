"""Sweeps: the same data backtested under many profile overrides, in parallel, ranked.

A sweep file (YAML)::

    metric: pnl            # the summary field points are ranked by (higher first); sharpe, return_pct …
    mode: grid             # grid: every combination; random: `samples` combinations drawn with `seed`
    samples: 8
    seed: 1
    grid:                  # profile key (dotted) → the values to try
      analyze.spread.min_spread: ["0.02", "0.03", "0.04"]
      paper.latency_ms: [0, 50, 250]

Each point is one :class:`~kalashi_cli.backtest.run.BacktestConfig` — picklable, holding the
profile itself and the recordings' **paths** — run by :func:`run_point` in whatever
``concurrent.futures`` executor the caller gives: local processes (``--workers N``) or a Dask
cluster (``--executor dask://HOST:PORT``, the ``dask`` extra). A worker reads the recordings
from those paths (a shared filesystem) and sends back the report and its HTML page; the client
writes them. Points are independent and deterministic, so the same sweep gives the same
numbers on any executor.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import replace
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import msgspec

from ..errors import ProfileError, UsageError
from ..profile import Profile
from .run import BacktestConfig

#: summary fields that depend on the machine, not the data: left out of comparisons and rankings
TIMING_FIELDS = ("wall_s", "events_per_s")
MAX_POINTS = 10_000


def apply_overrides(profile: Profile, overrides: dict[str, Any], *, source: str = "sweep") -> Profile:
    """The profile with dotted-key overrides applied and validated like a profile file.

    Raises:
        ProfileError: an unknown key or an invalid value (names the key).
    """
    from ..profile import _exact

    data = msgspec.to_builtins(profile, builtin_types=(Decimal,))
    for key, value in overrides.items():
        node = data
        parts = key.split(".")
        for p in parts[:-1]:
            if not isinstance(node.get(p), dict):
                raise ProfileError(
                    f"{source}: `{key}` is not a profile key",
                    hint="use dotted profile keys, e.g. analyze.spread.min_spread "
                    "(`kalashi profile schema` lists them)",
                )
            node = node[p]
        if parts[-1] not in node:
            raise ProfileError(
                f"{source}: `{key}` is not a profile key",
                hint="use dotted profile keys, e.g. analyze.spread.min_spread (`kalashi profile schema` lists them)",
            )
        node[parts[-1]] = value
    try:
        return msgspec.convert(_exact(data), Profile, strict=False)
    except msgspec.ValidationError as e:
        raise ProfileError(f"{source}: {e}", hint="check the values of the overridden keys") from None


class SweepSpec(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    grid: dict[str, list[Any]]
    mode: str = "grid"
    samples: int = 8
    seed: int = 0
    metric: str = "pnl"


def read_sweep(path: str | Path) -> SweepSpec:
    """Read and check a sweep file.

    Raises:
        InputError: unreadable. UsageError: not a sweep (names the file and what is wrong).
    """
    import yaml

    from ..errors import InputError

    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise InputError(f"{p}: cannot read the sweep ({e.strerror})", hint="check the --sweep path") from None
    try:
        data = yaml.safe_load(text)
        spec = msgspec.convert(data, SweepSpec)
    except (yaml.YAMLError, msgspec.ValidationError) as e:
        raise UsageError(
            f"{p}: not a sweep file ({e})",
            hint="a mapping with `grid:` (profile key → list of values) and optional mode, samples, "
            "seed, metric; see docs/backtest.md",
        ) from None
    if spec.mode not in ("grid", "random"):
        raise UsageError(f"{p}: mode {spec.mode!r}", hint="mode is grid or random")
    if not spec.grid or any(not isinstance(v, list) or not v for v in spec.grid.values()):
        raise UsageError(f"{p}: every grid key needs a non-empty list of values", hint="e.g. paper.latency_ms: [0, 50]")
    return spec


def points(spec: SweepSpec) -> list[dict[str, Any]]:
    """The sweep's points, in a deterministic order (grid: every combination; random: a seeded sample)."""
    keys = sorted(spec.grid)
    combos = itertools.product(*[spec.grid[k] for k in keys])
    total = 1
    for k in keys:
        total *= len(spec.grid[k])
    if spec.mode == "grid":
        if total > MAX_POINTS:
            raise UsageError(f"the grid has {total} points (at most {MAX_POINTS})", hint="use mode: random")
        return [dict(zip(keys, c, strict=True)) for c in combos]
    rng = random.Random(spec.seed)
    if total <= spec.samples:
        return [dict(zip(keys, c, strict=True)) for c in combos]
    seen: set[tuple[str, ...]] = set()
    out: list[dict[str, Any]] = []
    while len(out) < spec.samples:
        pick = tuple(str(i) for i in (rng.randrange(len(spec.grid[k])) for k in keys))
        if pick in seen:
            continue
        seen.add(pick)
        out.append({k: spec.grid[k][int(i)] for k, i in zip(keys, pick, strict=True)})
    return out


def point_configs(base: BacktestConfig, pts: Sequence[dict[str, Any]]) -> list[BacktestConfig]:
    """One config per point (overrides validated here, before anything runs)."""
    out = []
    for i, pt in enumerate(pts):
        prof = apply_overrides(base.profile, pt, source=f"sweep point {i}")
        latency = base.latency_ms if "paper.latency_ms" not in pt else None
        out.append(replace(base, profile=prof, overrides=dict(pt), latency_ms=latency))
    return out


def run_point(cfg: BacktestConfig, html: bool = True) -> tuple[dict[str, Any], str | None]:
    """Run one point (in a worker): its report and, with ``html``, its page."""
    from . import backtest
    from .report import render_html

    report = backtest(cfg, None)
    return report, (render_html(report) if html else None)


def _num(v: Any) -> Decimal:
    try:
        return Decimal(str(v))
    except (InvalidOperation, ValueError):
        return Decimal("-Infinity")


def rank(rows: list[dict[str, Any]], metric: str) -> list[dict[str, Any]]:
    """Rows ordered best first by ``metric`` (a missing value ranks last), ties by point number."""
    ordered = sorted(
        rows,
        key=lambda r: (
            -_num(r["summary"].get(metric)) if r["summary"].get(metric) is not None else Decimal("Infinity"),
            r["point"],
        ),
    )
    for i, r in enumerate(ordered, 1):
        r["rank"] = i
    return ordered


def open_executor(spec: str | None, workers: int) -> tuple[Executor, Callable[[], None]]:
    """``None``/``local``: a process pool of ``workers``; ``dask://HOST:PORT``: that Dask cluster.

    Returns the executor and how to shut it down.

    Raises:
        UsageError: an unknown executor, or dask without the ``dask`` extra.
    """
    if spec in (None, "", "local"):
        if workers <= 1:
            from concurrent.futures import ThreadPoolExecutor

            ex: Executor = ThreadPoolExecutor(max_workers=1)  # one at a time, in this process
        else:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            # spawn: a forked child of a process with threads can deadlock
            ex = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))
        return ex, lambda: ex.shutdown(wait=True)
    if spec.startswith("dask://"):
        try:
            from distributed import Client
        except ImportError:
            raise UsageError("--executor dask:// needs dask.distributed", hint="pip install 'kalashi[dask]'") from None
        client = Client("tcp://" + spec[len("dask://") :], timeout="30s")
        return client.get_executor(pure=False), client.close
    raise UsageError(f"unknown executor {spec!r}", hint="use local (the default) or dask://HOST:PORT")


def run_sweep(
    base: BacktestConfig,
    spec: SweepSpec,
    executor: Executor,
    *,
    html: bool = True,
    on_point: Callable[[int, dict[str, Any], str | None], None] | None = None,
) -> dict[str, Any]:
    """Run every point on ``executor``; return sweep.json's content (points ranked by ``spec.metric``).

    ``on_point(i, report, page)`` is called as each point finishes (to write its files).
    """
    pts = points(spec)
    cfgs = point_configs(base, pts)
    futures = [executor.submit(run_point, c, html) for c in cfgs]
    rows = []
    for i, fut in enumerate(futures):
        report, page = fut.result()
        if on_point is not None:
            on_point(i, report, page)
        summary = {k: v for k, v in report["summary"].items() if k not in TIMING_FIELDS}
        rows.append(
            {
                "point": i,
                "overrides": pts[i],
                "summary": summary,
                "complete": report["data"]["complete"],
                "settled_by": report["settlement"]["by_rule"],
            }
        )
    return {
        "format": "kalashi-backtest-sweep",
        "version": 1,
        "metric": spec.metric,
        "mode": spec.mode,
        "profile": base.profile_name,
        "sources": list(base.sources),
        "latency_ms": base.latency_ms,
        "points": rank(rows, spec.metric),
    }


def render_sweep_html(sweep: dict[str, Any], link: Callable[[int], str] | None = None) -> str:
    """The ranking page (self-contained; links to each point's report when ``link`` gives a path)."""
    import html as h

    keys = sorted({k for r in sweep["points"] for k in r["overrides"]})
    cols = ["pnl", "return_pct", "sharpe", "sortino", "max_drawdown_pct", "trades", "fills", "fees", "maker_fill_rate"]
    head = "".join(f"<th>{h.escape(c)}</th>" for c in ["rank", "point", *keys, *cols])
    body = []
    for r in sweep["points"]:
        pt = f'<a href="{h.escape(link(r["point"]))}">{r["point"]}</a>' if link else str(r["point"])
        cells = (
            [str(r["rank"]), pt]
            + [h.escape(str(r["overrides"].get(k))) for k in keys]
            + [h.escape("—" if r["summary"].get(c) is None else str(r["summary"][c])) for c in cols]
        )
        body.append(f'<tr data-point="{r["point"]}">' + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>kalashi backtest sweep</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:.2em .5em;text-align:right}}th{{background:#f4f4f4}}</style></head>
<body><h1>kalashi backtest sweep — ranked by {h.escape(sweep["metric"])}</h1>
<p>Profile {h.escape(sweep["profile"])}, {len(sweep["points"])} points ({h.escape(sweep["mode"])}), data:
{h.escape(", ".join(sweep["sources"]))}.</p>
<table data-table="sweep"><tr>{head}</tr>{"".join(body)}</table>
</body></html>
"""
