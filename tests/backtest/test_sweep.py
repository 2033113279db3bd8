"""Sweeps: a grid of profile overrides, run locally and on a Dask LocalCluster with identical results."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from needs import require
from typer.testing import CliRunner

from kalashi_cli.backtest import BacktestConfig
from kalashi_cli.backtest.sweep import apply_overrides, points, read_sweep, run_sweep
from kalashi_cli.cli.app import app
from kalashi_cli.errors import ProfileError
from kalashi_cli.profile import load_profile

from .conftest import PARTICLE, active_profile, run_path, write_profile, write_slice

SWEEP = """metric: pnl
grid:
  analyze.spread.min_spread: ["0.01", "0.02"]
  analyze.spread.adverse_selection: ["0.0", "0.01"]
  paper.latency_ms: [0, 500]
"""


@pytest.fixture(scope="module")
def short_slice(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_slice(run_path(PARTICLE), tmp_path_factory.mktemp("sweep") / "particle-90s.jsonl", 90)


def _rows(sweep: dict) -> list[tuple]:
    return [
        (r["rank"], r["point"], json.dumps(r["overrides"], sort_keys=True), json.dumps(r["summary"], sort_keys=True))
        for r in sweep["points"]
    ]


def test_overrides_are_checked_like_a_profile() -> None:
    p = apply_overrides(load_profile("default"), {"analyze.spread.min_spread": "0.02", "paper.latency_ms": 7})
    assert str(p.analyze.spread.min_spread) == "0.02" and p.paper.latency_ms == 7
    with pytest.raises(ProfileError, match="analyze.spread.nope"):
        apply_overrides(load_profile("default"), {"analyze.spread.nope": 1})
    with pytest.raises(ProfileError):
        apply_overrides(load_profile("default"), {"paper.latency_ms": -1})


def test_grid_and_random_points(tmp_path: Path) -> None:
    f = tmp_path / "s.yaml"
    f.write_text(SWEEP, encoding="utf-8")
    spec = read_sweep(f)
    assert len(points(spec)) == 8
    f.write_text(SWEEP + "mode: random\nsamples: 3\nseed: 4\n", encoding="utf-8")
    r1, r2 = points(read_sweep(f)), points(read_sweep(f))
    assert r1 == r2 and len(r1) == 3 and len({json.dumps(p, sort_keys=True) for p in r1}) == 3


def test_a_sweep_runs_the_same_locally_and_on_a_dask_cluster(short_slice: Path, tmp_path: Path) -> None:
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        require(False, "dask.distributed", "pip install 'kalashi[dask]' (the test extra has it)")
    f = tmp_path / "s.yaml"
    f.write_text(SWEEP, encoding="utf-8")
    spec = read_sweep(f)
    base = BacktestConfig(sources=(str(short_slice),), profile=active_profile())
    with ThreadPoolExecutor(max_workers=1) as ex:
        local = run_sweep(base, spec, ex, html=False)
    pfile = write_profile(tmp_path / "p.yaml", active_profile())
    # the scheduler serves HTTP (health, dashboard) even with no dashboard: port 0, never the fixed 8787
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0", scheduler_port=0
    ) as cluster:
        address = cluster.scheduler_address.removeprefix("tcp://")
        res = CliRunner().invoke(
            app,
            [
                "backtest",
                "--source",
                f"replay:{short_slice}",
                "--sweep",
                str(f),
                "--profile",
                str(pfile),
                "--executor",
                f"dask://{address}",
                "--out",
                str(tmp_path / "dask"),
            ],
        )
        assert res.exit_code == 0, res.stderr
        with Client(cluster) as client:  # the workers did the work
            assert (
                sum(
                    len(v)
                    for v in client.run(lambda: __import__("sys").modules.keys() & {"kalashi_cli.backtest"}).values()
                )
                == 2
            )
    on_dask = json.loads((tmp_path / "dask" / "sweep.json").read_text())
    assert len(local["points"]) == 8
    assert _rows(on_dask) == _rows(local)
    pnl = [r["summary"]["pnl"] for r in local["points"]]
    assert len(set(pnl)) > 1  # the points differ: the sweep measures something
    from decimal import Decimal

    assert [Decimal(p) for p in pnl] == sorted((Decimal(p) for p in pnl), reverse=True)  # ranked by pnl


def test_the_sweep_command_writes_a_report_per_point_and_the_ranking(short_slice: Path, tmp_path: Path) -> None:
    f = tmp_path / "s.yaml"
    f.write_text("grid:\n  paper.latency_ms: [0, 500]\n  analyze.spread.min_spread: ['0.01']\n", encoding="utf-8")
    out = tmp_path / "sw"
    res = CliRunner().invoke(
        app, ["backtest", "--source", f"replay:{short_slice}", "--sweep", str(f), "--workers", "2", "--out", str(out)]
    )
    assert res.exit_code == 0, res.stderr
    recs = [json.loads(ln) for ln in res.stdout.splitlines() if ln.strip()]
    assert [r["point"]["rank"] for r in recs] == [1, 2]
    sweep = json.loads((out / "sweep.json").read_text())
    for r in sweep["points"]:
        rep = json.loads((out / "points" / str(r["point"]) / "report.json").read_text())
        assert rep["summary"]["pnl"] == r["summary"]["pnl"]
        assert rep["latency_ms"] == r["overrides"]["paper.latency_ms"]
        assert (out / "points" / str(r["point"]) / "report.html").stat().st_size > 1000
    page = (out / "sweep.html").read_text()
    assert page.count("<tr data-point=") == 2 and 'href="points/0/report.html"' in page
