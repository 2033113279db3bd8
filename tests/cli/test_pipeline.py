"""The stages as a user runs them: each command, the pipe, and parity with one run-loop iteration."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import SIM, Kalashi, records

VOLATILE = {"latency_ms", "started", "duration_ms", "ts"}


def strip(recs: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k not in VOLATILE} for r in recs]


def by_kind(recs: list[dict], *kinds: str) -> list[dict]:
    return [r for r in recs if r["kind"] in kinds]


def pipeline(kalashi: Kalashi, journal: Path, source: str = SIM) -> dict[str, list[dict]]:
    scan = kalashi("scan", "--source", source).stdout
    analyze = kalashi("analyze", input=scan).stdout
    correlate = kalashi("correlate", "--journal", str(journal), input=analyze).stdout
    order = kalashi("order", "--paper", "--journal", str(journal), input=correlate).stdout
    return {
        "scan": records(scan),
        "analyze": records(analyze),
        "correlate": records(correlate),
        "order": records(order),
    }


def test_each_stage_emits_its_records(kalashi: Kalashi, tmp_path: Path) -> None:
    # a sim forecast (skill 60 %) so the value strategy has something to read
    out = pipeline(kalashi, tmp_path / "j.sqlite", SIM + ",forecast=60")
    markets = by_kind(out["scan"], "market")
    assert markets and all(m["status"] == "active" for m in markets)
    assert all("forecast_p" in m and m["src"].endswith(",forecast=60") for m in markets)
    assert out["scan"][-1] == {**out["scan"][-1], "kind": "stats", "stage": "scan"}
    opps = by_kind(out["analyze"], "opportunity")
    assert {o["strategy"] for o in opps} >= {"spread", "value"}
    assert all(o["reason"] for o in opps)
    assert all("forecast" in o["reason"] for o in opps if o["strategy"] == "value")
    assert by_kind(out["analyze"], "stats")  # scan's stats passed through, analyze added its own
    assert by_kind(out["correlate"], "candidate") and by_kind(out["correlate"], "rejected")
    assert not by_kind(out["correlate"], "opportunity")  # consumed
    orders = by_kind(out["order"], "order")
    assert orders and all(o["mode"] == "paper" for o in orders)
    assert by_kind(out["order"], "rejected")  # passed through from correlate


def test_without_a_forecast_the_sim_offers_no_value_trades(kalashi: Kalashi) -> None:
    """No oracle by default: market records carry no forecast, so value finds nothing to trade."""
    scan = kalashi("scan", "--source", SIM).stdout
    assert not any("forecast_p" in m for m in by_kind(records(scan), "market"))
    opps = by_kind(records(kalashi("analyze", input=scan).stdout), "opportunity")
    assert opps and not [o for o in opps if o["strategy"] == "value"]


def test_metrics_say_when_the_sim_forecast_was_used(kalashi: Kalashi, tmp_path: Path) -> None:
    for source, skill in ((SIM, None), (SIM + ",forecast=40", "0.4")):
        j = str(tmp_path / f"{skill}.sqlite")
        kalashi("run-loop", "--paper", "--source", source, "--iterations", "2", "--interval", "0", "--journal", j)
        metrics = by_kind(records(kalashi("metrics", "--journal", j).stdout), "metrics")[0]
        assert metrics.get("sim_forecast_skill") == skill
        titles = [r["title"] for r in metrics["recommendations"]]
        assert ("These results used the sim's forecast" in titles) == (skill is not None)


def test_pipeline_equals_one_run_loop_iteration(
    kalashi: Kalashi, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the market maker is the loop's (it manages its quotes with inventory, over iterations): a pipe's
    # `order` places spread candidates one post-only quote per side instead, so both run without it
    profile = tmp_path / "no-maker.yaml"
    profile.write_text("name: no-maker\nanalyze:\n  spread:\n    enabled: false\n")
    monkeypatch.setenv("KALASHI_PROFILE", str(profile))
    source = SIM + ",arbitrage=100"  # every drawn arbitrage stands (the sim's test knob): something to trade
    piped = pipeline(kalashi, tmp_path / "pipe.sqlite", source)
    loop = records(
        kalashi(
            "run-loop",
            "--paper",
            "--source",
            source,
            "--iterations",
            "1",
            "--interval",
            "0",
            "--all-records",
            "--journal",
            str(tmp_path / "loop.sqlite"),
        ).stdout
    )
    for kinds, stage in (
        (("opportunity",), "analyze"),
        (("candidate", "rejected"), "correlate"),
        (("order", "fill", "denied"), "order"),
    ):
        want = strip(by_kind(piped[stage], *kinds))
        got = strip(by_kind(loop, *kinds))
        assert want, kinds
        assert got == want, f"{kinds} differ between the pipe and run-loop"
    assert by_kind(loop, "iteration")[0]["orders"] == len(by_kind(piped["order"], "order"))


def test_rerunning_the_same_candidates_sends_nothing_twice(
    kalashi: Kalashi, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # without the market maker: its first-run quotes (a YES bid and a NO bid, one tick inside) would stand in
    # front of what the taker legs buy, so those would be refused for liquidity before the journal's
    # duplicate check this test is about
    profile = tmp_path / "no-maker.yaml"
    profile.write_text("name: no-maker\nanalyze:\n  spread:\n    enabled: false\n")
    monkeypatch.setenv("KALASHI_PROFILE", str(profile))
    j = str(tmp_path / "j.sqlite")
    # taker orders (arbitrage legs) are what a rerun would duplicate: every drawn arbitrage stands
    scan = kalashi("scan", "--source", "sim:seed=3,markets=2000,step=40,arbitrage=100").stdout
    cands = kalashi("correlate", "--journal", j, input=kalashi("analyze", input=scan).stdout).stdout
    assert any(
        json.loads(x).get("kind") == "candidate" and json.loads(x).get("strategy") == "arbitrage"
        for x in cands.splitlines()
        if x.strip()
    )
    first = records(kalashi("order", "--journal", j, input=cands).stdout)
    second = records(kalashi("order", "--journal", j, input=cands).stdout)
    assert by_kind(first, "order")
    assert not by_kind(second, "order")
    assert {d["rule"] for d in by_kind(second, "denied")} <= {
        "duplicate",
        "already-quoting",
        "max-open-orders",
        "max-daily-cost",
    }
    assert any(d["rule"] == "duplicate" for d in by_kind(second, "denied"))


def test_metrics_after_the_pipe(kalashi: Kalashi, tmp_path: Path) -> None:
    j = str(tmp_path / "j.sqlite")
    out = pipeline(kalashi, tmp_path / "j.sqlite")
    (m,) = records(
        kalashi("metrics", "--journal", j, input="\n".join(__import__("json").dumps(r) for r in out["order"])).stdout
    )
    assert m["kind"] == "metrics"
    assert m["execution"]["orders"] == len(by_kind(out["order"], "order"))
    assert m["cache"]["misses"] > 0  # from analyze's stats record, passed down the pipe
    assert m["equity"] and m["recommendations"] is not None


def test_run_loop_runs_iterations_and_resumes_where_it_stopped(kalashi: Kalashi, tmp_path: Path) -> None:
    j = str(tmp_path / "j.sqlite")
    first = records(kalashi("run-loop", "--source", SIM, "--iterations", "3", "--interval", "0", "--journal", j).stdout)
    assert [r["n"] for r in first] == [1, 2, 3] and all(r["kind"] == "iteration" for r in first)
    again = records(kalashi("run-loop", "--source", SIM, "--iterations", "2", "--interval", "0", "--journal", j).stdout)
    assert [r["n"] for r in again] == [4, 5]
    assert again[0]["source"].endswith("step=3"), "a restart continues the sim where the journal left it"


def test_scan_limit_and_table(kalashi: Kalashi) -> None:
    recs = records(kalashi("scan", "--source", SIM, "--limit", "7").stdout)
    assert len(by_kind(recs, "market")) == 7
    table = kalashi("scan", "--source", SIM, "--limit", "3", "--format", "table").stdout
    assert "ticker" in table and "market (3)" in table


def test_profile_commands(kalashi: Kalashi, tmp_path: Path) -> None:
    assert "kelly_fraction" in kalashi("profile", "show", "--profile", "conservative").stdout
    assert '"$schema"' in kalashi("profile", "schema").stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text("risk:\n  max_order_cst: 3\n")
    res = kalashi("profile", "validate", str(bad), code=4)
    assert f"{bad}:2: unknown key 'risk.max_order_cst'" in res.stderr


def test_metrics_of_an_unsynced_demo_journal_warns_its_balance_is_a_placeholder(
    kalashi: Kalashi, tmp_path: Path
) -> None:
    res = kalashi("metrics", "--demo", "--journal", str(tmp_path / "demo.sqlite"), input="")
    assert "has not been synced with the exchange" in res.stderr and "kalashi reconcile --demo" in res.stderr
    paper = kalashi("metrics", "--paper", "--journal", str(tmp_path / "paper.sqlite"), input="")
    assert "warning" not in paper.stderr
