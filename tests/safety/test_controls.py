"""Kill switch, flatten and resume on paper, as an operator (or cron) uses them."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from kalashi_cli.cli.app import app
from kalashi_cli.context import open_broker, open_source
from kalashi_cli.domain import OrderStatus
from kalashi_cli.journal import Journal
from kalashi_cli.loop import TradingLoop
from kalashi_cli.profile import load_profile
from kalashi_cli.stages.risk import halt_file, set_halted, stored_state

# an oracle sim forecast (skill 100 %) so value trades fill from the first iterations: these tests
# need positions and resting quotes, not an honest market (docs/sim-calibration.md §no oracle)
SIM = "sim:seed=4,markets=600,forecast=100"
P = load_profile("default")


def _loop(journal: Path) -> tuple[TradingLoop, Journal]:
    j = Journal(journal)
    src = open_source(SIM)
    return TradingLoop(P, src, open_broker("paper", src, j, P), j), j


def _run(*args: str, code: int = 0) -> str:
    res = CliRunner().invoke(app, list(args))
    assert res.exit_code == code, res.stdout + res.stderr
    return res.stdout


def test_a_halt_from_another_process_cancels_quotes_at_the_next_iteration(tmp_path: Path) -> None:
    loop, j = _loop(tmp_path / "j.sqlite")
    for _ in range(3):
        loop.run_iteration()
    assert loop.broker.orders(status=OrderStatus.RESTING), "the sim loop should have quotes resting by now"
    set_halted(j, "news event")  # what `kalashi halt` in another process does to the journal
    res = loop.run_iteration()
    assert res.state.value == "HALTED"
    assert loop.broker.orders(status=OrderStatus.RESTING) == []
    assert res.record["orders"] == 0 and not [r for r in res.records if r["kind"] == "order"]
    assert any(e["kind"] == "halt-enforced" for e in j.events())


def test_halt_flatten_resume_through_the_cli(tmp_path: Path) -> None:
    journal = tmp_path / "j.sqlite"
    loop, j = _loop(journal)
    for _ in range(4):
        loop.run_iteration()
    loop.broker.close()
    held = {p.ticker for p in open_broker("paper", open_source(j.iterations(limit=1)[-1]["source"]), j, P).positions()}
    assert held, "the loop should hold positions to flatten"
    out = json.loads(_run("halt", "--journal", str(journal), "--reason", "test", "--quiet"))
    assert out["state"] == "HALTED" and out["remaining_resting"] == 0
    assert stored_state(Journal(journal))[0].value == "HALTED"
    # entries are refused while halted, but flatten's reduce-only orders pass
    recs = [json.loads(x) for x in _run("flatten", "--journal", str(journal), "--quiet").splitlines() if x]
    assert recs and all(r["kind"] in ("order", "fill") for r in recs)
    assert all(r["action"] == "sell" and r["reduce_only"] for r in recs if r["kind"] == "order")
    src = open_source(Journal(journal).iterations(limit=1)[-1]["source"])
    left = {p.ticker for p in open_broker("paper", src, Journal(journal), P).positions()}
    assert len(left) < len(held), "flatten closed positions (those without a bid stay, with the reason printed)"
    _run("resume", "--journal", str(journal), code=2)  # needs --confirm
    _run("resume", "--journal", str(journal), "--confirm", "--quiet")
    assert stored_state(Journal(journal))[0].value == "ACTIVE"


def test_halt_file_halts_and_blocks_resume(tmp_path: Path) -> None:
    journal = tmp_path / "j.sqlite"
    j = Journal(journal)
    halt_file(j).parent.mkdir(parents=True, exist_ok=True)
    halt_file(j).write_text("ops\n")
    assert stored_state(j)[0].value == "HALTED"
    res = CliRunner().invoke(app, ["resume", "--journal", str(journal), "--confirm"])
    # exit 6, as docs/exit-codes.md gives it: refused by the risk state, not a bad command line
    assert res.exit_code == 6 and "HALT" in res.stderr and "rm " in res.stderr
    assert stored_state(j)[0].value == "HALTED"
    halt_file(j).unlink()
    assert stored_state(j)[0].value == "ACTIVE"


def test_one_process_per_paper_account_and_halt_still_works(tmp_path: Path) -> None:
    import pytest

    from kalashi_cli.errors import JournalError

    journal = tmp_path / "j.sqlite"
    loop, j = _loop(journal)  # holds the paper account, like a running run-loop
    loop.run_iteration()
    with pytest.raises(JournalError, match="in use by another kalashi process"):
        open_broker("paper", open_source(SIM), Journal(journal), P)
    out = json.loads(_run("halt", "--journal", str(journal), "--reason", "from cron", "--quiet"))
    assert out["deferred"] is True and out["state"] == "HALTED"
    res = loop.run_iteration()  # the running loop picks the halt up
    assert res.state.value == "HALTED" and loop.broker.orders(status=OrderStatus.RESTING) == []
    loop.broker.close()
    open_broker("paper", open_source(SIM), Journal(journal), P).close()  # free again once the loop let go
