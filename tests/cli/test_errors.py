"""Bad input, bad options, bad profiles: the exit code and a message that says what to do."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import SIM, Kalashi


def test_malformed_json_names_stdin_and_line(kalashi: Kalashi) -> None:
    res = kalashi("analyze", input='{"kind":"stats","v":1,"stage":"scan"}\n{oops\n', code=3)
    assert res.stderr.startswith("kalashi: error: <stdin>:2: not valid JSON")


def test_wrong_kind_fields_name_the_line(kalashi: Kalashi) -> None:
    res = kalashi("analyze", input='{"kind":"market","v":1,"ticker":"X"}\n', code=3)
    assert "<stdin>:1: bad market record" in res.stderr and "event_ticker" in res.stderr


def test_a_value_out_of_range_names_the_line_and_field(kalashi: Kalashi) -> None:
    good = kalashi("scan", "--source", SIM, "--format", "jsonl", "--quiet").stdout.splitlines()
    rec = json.loads(next(line for line in good if '"kind":"market"' in line and '"depth"' in line))
    rec["depth"]["yes"] = [["1.7", "5.00"]]  # a bid above $1: once made an opportunity with a negative leg price
    res = kalashi("analyze", input=good[0] + "\n" + json.dumps(rec) + "\n", code=3)
    assert res.stderr.startswith(
        "kalashi: error: <stdin>:2: bad market record: field 'depth.yes[0]': "
        "price 1.7000 must be strictly between 0 and 1"
    ), res.stderr
    assert '"kind":"opportunity"' not in res.stdout


def test_unknown_kinds_pass_through(kalashi: Kalashi) -> None:
    res = kalashi("analyze", input='{"kind":"weather-note","v":1,"text":"hi"}\n')
    assert res.stdout.splitlines()[0] == '{"kind":"weather-note","v":1,"text":"hi"}'


def test_bad_profile_exit_4(kalashi: Kalashi, tmp_path: Path) -> None:
    p = tmp_path / "p.yaml"
    p.write_text("sizing:\n  kelly_fraction: 3\n")
    res = kalashi("scan", "--source", SIM, "--profile", str(p), code=4)
    assert f"{p}:2: sizing.kelly_fraction: must be <= 1" in res.stderr


def test_unknown_source_is_a_usage_error(kalashi: Kalashi) -> None:
    res = kalashi("scan", "--source", "nasdaq", code=2)
    assert "unknown source 'nasdaq'" in res.stderr and "sim" in res.stderr


def test_two_modes_at_once(kalashi: Kalashi) -> None:
    res = kalashi("order", "--paper", "--live", input="", code=2)
    assert "choose one of --paper, --demo, --live" in res.stderr


def test_live_without_consent_is_refused_and_names_what_is_missing(kalashi: Kalashi) -> None:
    res = kalashi("order", "--live", input="", code=5)
    assert "allow_live" in res.stderr and "KALSHI_API_KEY_ID" in res.stderr


def test_fair_file_errors(kalashi: Kalashi, tmp_path: Path) -> None:
    f = tmp_path / "fair.jsonl"
    f.write_text('{"ticker":"A","p":0.5}\n{"ticker":"B","p":"1.5"}\n')
    res = kalashi("analyze", "--fair", str(f), input="", code=3)
    assert f"{f}:2: p must be between 0 and 1" in res.stderr


def test_resume_needs_confirmation(kalashi: Kalashi, tmp_path: Path) -> None:
    res = kalashi("resume", "--journal", str(tmp_path / "j.sqlite"), code=2)
    assert "--confirm" in res.stderr


def test_resume_while_the_halt_file_exists_is_exit_6_as_documented(kalashi: Kalashi, tmp_path: Path) -> None:
    import os
    import re

    home = Path(os.environ["KALASHI_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    (home / "HALT").write_text("ops\n")
    res = kalashi("resume", "--confirm", code=6)
    assert f"the halt file {home / 'HALT'} exists" in res.stderr and "rm " in res.stderr and res.stdout == ""
    table = (Path(__file__).resolve().parents[2] / "docs" / "exit-codes.md").read_text()
    row6 = next(line for line in table.splitlines() if line.startswith("| 6 |"))
    assert re.search(r"resume --confirm.* while the `HALT` file exists", row6), row6
    (home / "HALT").unlink()
    kalashi("resume", "--confirm", "--quiet")


def test_a_mistyped_profile_name_or_key_gets_a_did_you_mean(kalashi: Kalashi, tmp_path: Path) -> None:
    res = kalashi("scan", "--source", SIM, "--profile", "conservativ", code=4)
    assert "no profile named 'conservativ' (did you mean 'conservative'?)" in res.stderr
    mine = tmp_path / "mine.yaml"
    mine.write_text("risk:\n  max_ordr_cost: 4\nsizing:\n  kely_fraction: 0.1\n")
    res = kalashi("profile", "validate", str(mine), code=4)
    assert f"{mine}: 2 problems" in res.stderr
    assert f"{mine}:2: unknown key 'risk.max_ordr_cost' (did you mean 'risk.max_order_cost'?)" in res.stderr
    assert f"{mine}:4: unknown key 'sizing.kely_fraction' (did you mean 'sizing.kelly_fraction'?)" in res.stderr


# --------------------------------------------------------------------------- the wrong kind for a stage


def test_correlate_fed_markets_passes_them_through_and_says_analyze_is_missing(
    kalashi: Kalashi, tmp_path: Path
) -> None:
    scan = kalashi("scan", "--source", SIM, "--format", "jsonl", "--quiet").stdout
    n = scan.count('"kind":"market"')
    res = kalashi("correlate", "--journal", str(tmp_path / "j.sqlite"), input=scan)  # still exit 0
    assert res.stdout == scan, "unknown and unconsumed kinds pass through untouched"
    assert res.stderr == (
        f"kalashi correlate: warning: read {n} market records, 1 stats record and no opportunity "
        "records — pipe `kalashi analyze` in between\n"
    )
    quiet = kalashi("correlate", "--quiet", "--journal", str(tmp_path / "j.sqlite"), input=scan)
    assert quiet.stderr == "" and quiet.stdout == scan


def test_strict_makes_a_skipped_stage_exit_3(kalashi: Kalashi, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    scan = kalashi("scan", "--source", SIM, "--format", "jsonl", "--quiet").stdout
    j = ["--journal", str(tmp_path / "j.sqlite")]
    res = kalashi("correlate", *j, "--strict", input=scan, code=3)
    assert res.stdout == scan, "the records still pass through before the error"
    n = scan.count('"kind":"market"')
    assert res.stderr == (
        f"kalashi: error: correlate read {n} market records, 1 stats record and no opportunity "
        "records — pipe `kalashi analyze` in between (--strict makes this exit 3)\n"
    )
    # --quiet silences warnings, never errors
    assert kalashi("correlate", *j, "--strict", "--quiet", input=scan, code=3).stderr.startswith("kalashi: error:")
    for stage in (["analyze"], ["fair"], ["order", "--paper", *j], ["metrics", *j, "--format", "jsonl"]):
        kalashi(
            *stage,
            "--strict",
            input='{"kind":"candidate","v":1}\n' if stage[0] != "order" else '{"kind":"market","v":1}\n',
            code=3,
        )
    # the right pipe, and an upstream stage that found nothing, are fine under --strict too
    opps = kalashi("analyze", "--strict", input=scan).stdout
    kalashi("correlate", *j, "--strict", input=opps)
    kalashi("correlate", *j, "--strict", input='{"kind":"stats","v":1,"stage":"analyze"}\n')
    monkeypatch.setenv("KALASHI_STRICT", "1")
    kalashi("correlate", *j, input=scan, code=3)


def test_order_after_analyze_says_correlate_is_missing_and_sends_nothing(kalashi: Kalashi, tmp_path: Path) -> None:
    opps = kalashi("analyze", input=kalashi("scan", "--source", SIM, "--format", "jsonl", "--quiet").stdout).stdout
    assert '"kind":"opportunity"' in opps
    res = kalashi("order", "--paper", "--journal", str(tmp_path / "j.sqlite"), input=opps)
    assert '"kind":"order"' not in res.stdout and '"kind":"fill"' not in res.stdout
    assert res.stderr.startswith("kalashi order: warning: read ") and " opportunity records" in res.stderr
    assert res.stderr.rstrip().endswith("and no candidate records — pipe `kalashi correlate` in between")
    markets_only = kalashi(
        "order", "--paper", "--journal", str(tmp_path / "j.sqlite"), input='{"kind":"market","v":1}\n'
    )
    assert "pipe `kalashi analyze | kalashi correlate` in between" in markets_only.stderr


def test_a_stage_fed_records_from_further_down_says_what_to_feed_it(kalashi: Kalashi, tmp_path: Path) -> None:
    cand = '{"kind":"candidate","v":1}\n'
    res = kalashi("analyze", input=cand * 2)
    assert (
        "kalashi analyze: warning: read 2 candidate records and no market records — feed it the output of "
        "`kalashi scan` instead" in res.stderr
    )
    res = kalashi("metrics", "--journal", str(tmp_path / "j.sqlite"), "--format", "jsonl", input=cand)
    assert (
        "kalashi metrics: warning: read 1 candidate record and no order, fill or stats records — pipe "
        "`kalashi order` in between" in res.stderr
    )


def test_the_right_pipe_and_an_empty_stage_say_nothing(kalashi: Kalashi, tmp_path: Path) -> None:
    j = str(tmp_path / "j.sqlite")
    scan = kalashi("scan", "--source", SIM, "--format", "jsonl", "--quiet").stdout
    analyze = kalashi("analyze", input=scan)
    correlate = kalashi("correlate", "--journal", j, input=analyze.stdout)
    order = kalashi("order", "--journal", j, input=correlate.stdout)
    metrics = kalashi("metrics", "--journal", j, "--format", "jsonl", input=order.stdout)
    assert [r.stderr for r in (analyze, correlate, order, metrics)] == ["", "", "", ""]
    # upstream found nothing: only bookkeeping records arrive, which is no mistake in the pipe
    stats = '{"kind":"stats","v":1,"stage":"analyze","cache_hits":0,"cache_misses":0}\n'
    assert kalashi("correlate", "--journal", j, input=stats).stderr == ""
    assert (
        kalashi(
            "order",
            "--journal",
            j,
            input='{"kind":"rejected","v":1,"ref":"x","stage":"correlate","reason":"r"}\n' + stats,
        ).stderr
        == ""
    )
    assert kalashi("analyze", input='{"kind":"weather-note","v":1}\n').stderr == ""
