"""The command line as a new user meets it: errors that say what to do, NO_COLOR, --quiet,
progress bars only on a terminal, a closed pipe and Ctrl-C without a traceback.

tests/cli/test_processes.py covers streaming, `scan | head` and Ctrl-C on run-loop; this file
adds the rest with real processes and pseudo-terminals (stdlib ``pty``).
"""

from __future__ import annotations

import json
import os
import pty
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from .conftest import SIM, Kalashi, records

KALASHI = [sys.executable, "-m", "kalashi_cli"]
ERROR_LINE = re.compile(r"^kalashi: error: \S.* — \S.*$")
#: exit 130 says what to do next, like every other error (docs/exit-codes.md: "nothing to repair; run again")
INTERRUPTED = "kalashi: error: interrupted — nothing to repair; run the command again\n".encode()


def env(tmp_path: Path, **extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("KALASHI_", "KALSHI_", "NO_COLOR"))}
    return {
        **base,
        "KALASHI_HOME": str(tmp_path / "home"),
        "PYTHONUNBUFFERED": "1",
        "TERM": "xterm-256color",
        "COLUMNS": "120",
        **extra,
    }


def read_all(fd: int) -> bytes:
    """Read a pty master until the other side closes (Linux reports that as EIO)."""
    chunks = []
    while True:
        try:
            data = os.read(fd, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    return b"".join(chunks)


def run_with_tty(
    args: list[str], tmp_path: Path, *, tty: str, timeout: float = 120, **extra: str
) -> tuple[int, bytes, bytes]:
    """Run kalashi with stdout or stderr (``tty``) on a pseudo-terminal; return (code, stdout, stderr)."""
    master, slave = pty.openpty()
    p = subprocess.Popen(
        [*KALASHI, *args],
        stdin=subprocess.DEVNULL,
        env=env(tmp_path, **extra),
        stdout=slave if tty == "stdout" else subprocess.PIPE,
        stderr=slave if tty == "stderr" else subprocess.PIPE,
    )
    os.close(slave)
    piped: dict[str, bytes] = {}
    other = "stderr" if tty == "stdout" else "stdout"

    def read_pipe() -> None:
        with getattr(p, other) as stream:
            piped[other] = stream.read()

    reader = threading.Thread(target=read_pipe)
    reader.start()
    on_tty = read_all(master)
    os.close(master)
    code = p.wait(timeout=timeout)
    reader.join(timeout)
    return (code, on_tty, piped[other]) if tty == "stdout" else (code, piped[other], on_tty)


# -- errors a new user makes ------------------------------------------------------------------


def _cases(tmp_path: Path) -> list[tuple[list[str], str | None, int, str]]:
    not_a_db = tmp_path / "not-a-journal.sqlite"
    not_a_db.write_text("hello")
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    not_a_profile = tmp_path / "junk.sqlite"  # parses as a YAML scalar
    not_a_profile.write_text("SQLite format 3 junk")
    bad_profile = tmp_path / "typo.yaml"
    bad_profile.write_text("risk:\n  max_order_cst: 5\n")
    return [
        (["analyze"], "{oops\n", 3, "<stdin>:1: not valid JSON"),
        (["analyze", str(tmp_path / "markets.jsonl")], None, 3, "cannot read"),
        (["analyze", "--fair", str(tmp_path / "model.jsonl")], "", 3, "--fair"),
        (
            ["analyze", "--fair", "-"],
            '{"kind": "fair", "ticker": "A"}\n',
            3,
            "<stdin>:1: fair record is missing required field 'p'",
        ),
        (["scan", "--profile", "agressive"], None, 4, "use one of aggressive"),
        (["scan", "--profile", "mine.yaml"], None, 4, "kalashi profile list"),
        (["scan", "--profile", str(bad_profile)], None, 4, "risk.max_order_cst"),
        (["scan", "--source", "nasdaq"], None, 2, "use one of: sim"),
        (["scan", "--seed", "1", "--source", "kalshi"], None, 2, "--source sim"),
        (["scan", "--limit", "0"], None, 2, "kalashi scan --help"),
        (["scan", "--bogus"], None, 2, "kalashi scan --help"),
        (["scna"], None, 2, "Did you mean 'scan'?"),
        (["order", "--live"], "", 5, "allow_live"),
        (["order", "--demo"], "", 5, "export both variables"),
        (["order", "--paper", "--live"], "", 2, "choose one of --paper, --demo, --live"),
        (["run-loop", "--demo", "-n", "1"], None, 5, "KALSHI_API_KEY_ID"),
        (["run-loop", "-n", "1", "--journal", str(not_a_db)], None, 9, "not a database"),
        (["run-loop", "-n", "1", "--journal", str(a_file / "j.sqlite")], None, 9, "--journal PATH"),
        (["resume"], None, 2, "kalashi resume --confirm"),
        (["record", "-o", str(tmp_path / "r.jsonl")], None, 2, "--tickers, --events or --series"),
        (["heal", "--once", "--watch"], None, 2, "--once checks once"),
        (["heal", "--once", "--source", "nasdaq"], None, 2, "use one of: sim"),
        (["profile", "validate", str(tmp_path / "nope.yaml")], None, 4, "nope.yaml: no such file"),
        (["profile", "validate"], None, 2, "kalashi profile validate --help"),
        (["profile", "show", "--profile", str(not_a_profile)], None, 4, "a profile is a YAML mapping"),
        (["mcp-serve", "--port", "9000"], None, 2, "--transport http"),
        (["serve-bridge", "--token", "short", "--no-open"], None, 2, "KALASHI_BRIDGE_TOKEN"),
    ]


def test_every_error_names_the_problem_and_what_to_do(kalashi: Kalashi, tmp_path: Path) -> None:
    for args, stdin, code, hint in _cases(tmp_path):
        res = kalashi(*args, input=stdin, code=code)
        lines = res.stderr.strip().splitlines()
        assert lines and ERROR_LINE.match(lines[0]), (args, res.stderr)
        assert hint in res.stderr, (args, res.stderr)
        assert "Traceback" not in res.stderr


@pytest.mark.parametrize(
    ("stage", "pipe"),
    [("analyze", "kalashi scan | kalashi analyze`"), ("order", "kalashi correlate | kalashi order --paper`")],
)
def test_a_stage_waiting_on_a_terminal_says_how_to_feed_it(tmp_path: Path, stage: str, pipe: str) -> None:
    master, slave = pty.openpty()
    p = subprocess.run([*KALASHI, stage], stdin=slave, capture_output=True, env=env(tmp_path), timeout=60)
    os.close(slave)
    os.close(master)
    assert p.returncode == 2
    assert ERROR_LINE.match(p.stderr.decode().strip()), p.stderr
    assert pipe.encode() in p.stderr


# -- colour, quiet, progress ------------------------------------------------------------------


def test_no_color_table_has_no_escape_sequences(tmp_path: Path) -> None:
    args = ["scan", "--source", SIM, "--limit", "3"]
    code, out, _ = run_with_tty(args, tmp_path, tty="stdout")
    assert code == 0 and b"\x1b[" in out, "without NO_COLOR the table is styled (the test can see escapes)"
    code, out, err = run_with_tty(args, tmp_path, tty="stdout", NO_COLOR="1")
    assert code == 0 and b"market (3)" in out and b"ticker" in out
    assert b"\x1b" not in out and b"\x1b" not in err


@pytest.mark.parametrize(
    ("args", "stdin_from"),
    [
        (["scan", "--source", SIM, "--limit", "5", "--format", "table"], None),
        (["analyze", "--format", "table"], ["scan", "--source", SIM, "--limit", "200"]),
        (["correlate", "--format", "table"], ["analyze"]),
        (["order", "--paper", "--format", "table"], ["correlate"]),
    ],
)
def test_quiet_silences_the_stderr_summary(
    kalashi: Kalashi, tmp_path: Path, args: list[str], stdin_from: list[str] | None
) -> None:
    journal = ["--journal", str(tmp_path / "j.sqlite")]
    stdin = None
    if stdin_from:  # build the input by running the stages before this one
        stdin = kalashi("scan", "--source", SIM, "--limit", "200").stdout
        for stage in (["analyze"], ["correlate", *journal]):
            if stage[0] == args[0]:
                break
            stdin = kalashi(*stage, input=stdin).stdout
    extra = journal if args[0] in ("correlate", "order") else []
    loud = kalashi(*args, *extra, input=stdin)
    quiet = kalashi(*args, *extra, "--quiet", input=stdin)
    assert loud.stderr.strip(), f"{args[0]} --format table prints a summary on stderr"
    assert quiet.stderr == "", quiet.stderr
    if args[0] != "order":  # a second `order` of the same candidates is denied as a duplicate, by design
        assert quiet.stdout == loud.stdout


def test_quiet_operator_commands(kalashi: Kalashi, tmp_path: Path) -> None:
    j = ["--journal", str(tmp_path / "j.sqlite")]
    assert kalashi("halt", *j, "--reason", "test").stderr.strip()
    res = kalashi("halt", *j, "--reason", "test", "--quiet")
    assert res.stderr == "" and json.loads(res.stdout)["state"] == "HALTED"
    assert kalashi("resume", *j, "--confirm", "--quiet").stderr == ""
    assert kalashi("reconcile", *j).stderr.startswith("reconciled: ")
    for cmd in (["reconcile"], ["flatten"], ["metrics"], ["halt"], ["resume", "--confirm"]):
        assert kalashi(*cmd, *j, "-q", input="").stderr == "", cmd


#: the commands that write records on stdout share --quiet/-q and --format/-f (table on a terminal)
RECORD_COMMANDS = (
    "scan",
    "analyze",
    "correlate",
    "order",
    "metrics",
    "run-loop",
    "heal",
    "halt",
    "flatten",
    "resume",
    "reconcile",
)


def test_shared_options_are_the_same_on_every_command() -> None:
    import typer

    from kalashi_cli.cli.app import app

    commands = typer.main.get_command(app).commands  # type: ignore[attr-defined]
    for name, cmd in commands.items():
        opts = {o for p in cmd.params for o in getattr(p, "opts", [])}
        if name != "profile":  # a group of its own: show/validate/schema/list print YAML and text
            assert {"--quiet", "-q"} <= opts, name
        if name in RECORD_COMMANDS:
            assert {"--format", "-f"} <= opts, name
        for shared in ("--profile", "--journal", "--source"):
            if shared in opts:
                short = {"--profile": "-p", "--journal": "-j", "--source": "-s"}[shared]
                assert short in opts, (name, shared)


@pytest.mark.parametrize("cmd", [["halt", "--reason", "fmt"], ["resume", "--confirm"], ["reconcile"]])
def test_operator_commands_write_one_compact_record_or_a_table(
    kalashi: Kalashi, tmp_path: Path, cmd: list[str]
) -> None:
    j = ["--journal", str(tmp_path / "j.sqlite")]
    kalashi("run-loop", *j, "--source", SIM, "--iterations", "2", "--interval", "0")
    line = kalashi(*cmd, *j, "--quiet").stdout
    rec = json.loads(line)
    assert rec["kind"] == cmd[0] and line == json.dumps(rec, separators=(",", ":")) + "\n", line
    assert kalashi(*cmd, *j, "--format", "jsonl", "--quiet").stdout.startswith('{"kind":"' + cmd[0] + '"')
    table = kalashi(*cmd, *j, "--format", "table", "--quiet").stdout
    assert f"kalashi {cmd[0]}" in table and "{" not in table.splitlines()[0]
    assert ("state" if cmd[0] != "reconcile" else "fills_added") in table


def test_operator_commands_print_a_table_on_a_terminal(tmp_path: Path) -> None:
    j = ["--journal", str(tmp_path / "j.sqlite")]
    code, out, err = run_with_tty(["halt", *j, "--reason", "tty"], tmp_path, tty="stdout", NO_COLOR="1")
    assert code == 0 and b"kalashi halt" in out and b"HALTED" in out and b'"kind"' not in out, out
    assert b"HALTED (tty)" in err
    code, out, _ = run_with_tty(["flatten", *j], tmp_path, tty="stdout", NO_COLOR="1")
    assert code == 0 and b'"kind"' not in out


def test_run_loop_on_a_terminal_shows_a_live_status_not_json(tmp_path: Path) -> None:
    args = [
        "run-loop",
        "--source",
        SIM,
        "--iterations",
        "3",
        "--interval",
        "0",
        "--journal",
        str(tmp_path / "j.sqlite"),
    ]
    code, out, err = run_with_tty(args, tmp_path, tty="stdout", NO_COLOR="1")
    text = out.decode()
    assert code == 0 and b"{" not in out, text
    # one status redrawn in place (rich Live), its last frame left on the screen
    assert re.search(
        r"iteration 3 of 3 +equity \$[\d,.]+ +P&L [+-]?\$[\d,.]+ +orders \d+ \(\d+ this run\) +fills \d+ +"
        r"ACTIVE +\d+ ms",
        text,
    ), text
    assert text.count("\n") <= 3, "no line per iteration"
    assert err.decode().startswith("kalashi run-loop: paper trading on sim:seed=3,markets=400"), err
    assert "a new paper account" in err.decode() and err.decode().count("\n") == 1, "one start line"
    piped = subprocess.run(
        [*KALASHI, *args[:-1], str(tmp_path / "j2.sqlite")], capture_output=True, env=env(tmp_path), timeout=120
    )
    assert [r["kind"] for r in records(piped.stdout.decode())] == ["iteration"] * 3, "JSON Lines in a pipe"
    assert piped.stderr.decode().count("\n") == 1 and b"\x1b" not in piped.stderr, "no live status off a terminal"
    again = subprocess.run(
        [*KALASHI, *args[:-1], str(tmp_path / "j2.sqlite")], capture_output=True, env=env(tmp_path), timeout=120
    )
    assert "continues the paper account after iteration 3" in again.stderr.decode()
    table = subprocess.run(
        [*KALASHI, *args[:-1], str(tmp_path / "j3.sqlite"), "--format", "table"],
        capture_output=True,
        env=env(tmp_path),
        timeout=120,
    )
    lines = table.stdout.decode().splitlines()
    assert len(lines) == 3 and all(re.match(rf"iteration {n}  markets \d+ ", ln) for n, ln in enumerate(lines, 1))


def test_run_loop_status_goes_to_stderr_when_only_stderr_is_a_terminal(tmp_path: Path) -> None:
    args = [
        "run-loop",
        "--source",
        SIM,
        "--iterations",
        "2",
        "--interval",
        "0",
        "--journal",
        str(tmp_path / "j.sqlite"),
    ]
    code, out, err = run_with_tty(args, tmp_path, tty="stderr", NO_COLOR="1")
    assert code == 0 and [r["kind"] for r in records(out.decode())] == ["iteration"] * 2
    assert b"iteration 2 of 2" in err and b"ACTIVE" in err
    code, out, err = run_with_tty([*args[:-1], str(tmp_path / "k.sqlite"), "--quiet"], tmp_path, tty="stderr")
    assert code == 0 and err == b"", "--quiet: no start line, no status"


def test_progress_bar_on_a_terminal_only(tmp_path: Path) -> None:
    args = ["scan", "--source", "sim:seed=4,markets=6000"]
    code, out, err = run_with_tty(args, tmp_path, tty="stderr")
    assert code == 0 and b"scan" in err and "━".encode() in err, err[:300]
    assert b"\x1b" not in out and records(out.decode())[-1]["kind"] == "stats"
    code, _, err = run_with_tty([*args, "--quiet"], tmp_path, tty="stderr")
    assert code == 0 and err == b"", "--quiet: no bar even on a terminal"
    p = subprocess.run([*KALASHI, *args], capture_output=True, env=env(tmp_path), timeout=120)
    assert p.returncode == 0 and p.stderr == b"", "no bar when stderr is not a terminal"


@contextmanager
def sim_exchange(tmp_path: Path) -> Iterator[str]:
    """A `kalashi sim-exchange` on a free loopback port; yields its REST URL."""
    p = subprocess.Popen(
        [*KALASHI, "sim-exchange", "--port", "0", "--markets", "120", "--speed", "50", "--quiet"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env(tmp_path),
    )
    try:
        assert p.stdout is not None
        ready = json.loads(p.stdout.readline())
        yield ready["url"]
    finally:
        p.send_signal(signal.SIGINT)
        p.communicate(timeout=60)


def test_record_and_replay_show_progress_on_a_terminal(tmp_path: Path) -> None:
    rec = tmp_path / "rec.jsonl"
    with sim_exchange(tmp_path) as url:
        first = subprocess.run(
            [*KALASHI, "scan", "--source", f"kalshi:{url}", "--limit", "1"],
            capture_output=True,
            env=env(tmp_path),
            timeout=60,
            check=True,
        )
        event = records(first.stdout.decode())[0]["event_ticker"]
        code, out, err = run_with_tty(
            [
                "record",
                "--source",
                f"kalshi:{url}",
                "--events",
                event,
                "--snapshot-every",
                "1",
                "--duration",
                "2",
                "-o",
                str(rec),
            ],
            tmp_path,
            tty="stderr",
        )
    assert code == 0, err
    assert b"record" in err and "━".encode() in err and b"REST calls" in err
    assert json.loads(out)["kind"] == "recording" and rec.stat().st_size > 0
    code, out, err = run_with_tty(["scan", "--source", f"replay:{rec}"], tmp_path, tty="stderr")
    assert code == 0 and b"scan" in err and "━".encode() in err
    assert {r["event_ticker"] for r in records(out.decode()) if r["kind"] == "market"} == {event}


# -- pipes and signals ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "pipeline",
    [
        "{k} run-loop --source sim:seed=1,markets=400 --interval 0 | head -n 1",
        "{k} scan --source sim:seed=1,markets=20000 | {k} analyze | head -n 1",
        "{k} profile schema | head -n 1",
    ],
)
def test_a_reader_that_leaves_early_is_not_an_error(tmp_path: Path, pipeline: str) -> None:
    k = f"{sys.executable} -m kalashi_cli"
    cmd = pipeline.format(k=k) + ' >/dev/null; echo "${PIPESTATUS[@]}"'
    p = subprocess.run(cmd, shell=True, executable="/bin/bash", capture_output=True, env=env(tmp_path), timeout=120)
    assert set(p.stdout.split()) == {b"0"}, (p.stdout, p.stderr)
    assert b"Traceback" not in p.stderr and b"Broken pipe" not in p.stderr and b"Error" not in p.stderr, p.stderr


def test_ctrl_c_on_a_long_scan_exits_130_without_a_traceback(tmp_path: Path) -> None:
    p = subprocess.Popen(
        [*KALASHI, "scan", "--markets", "100000", "--seed", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env(tmp_path),
    )
    assert p.stdout is not None
    assert p.stdout.readline().startswith(b'{"kind":"market"'), "the scan is under way"
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 130
    assert err == INTERRUPTED


def test_ctrl_c_while_the_commands_still_import(tmp_path: Path) -> None:
    # what the program does when SIGINT lands before app.main runs: a message and 130, no traceback
    code = (
        "import sys; sys.argv[0] = 'kalashi'\n"
        "import os, signal, kalashi_cli.cli\n"
        "os.kill(os.getpid(), signal.SIGINT)\n"
        "import time; time.sleep(30)\n"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, env=env(tmp_path), timeout=60)
    assert p.returncode == 130 and p.stderr == INTERRUPTED


def test_fair_values_may_be_floats_from_a_model(kalashi: Kalashi, tmp_path: Path) -> None:
    from kalashi_cli.cli.analyze import read_fair

    model = tmp_path / "model.jsonl"
    model.write_text(
        '{"ticker": "A", "p": 0.5750000000000001}\n{"ticker": "B", "p": "0.33335"}\n{"ticker": "C", "p": 1}\n'
    )
    assert read_fair(model) == {"A": 5750, "B": 3334, "C": 10_000}
    model.write_text('{"ticker": "A", "p": "abc"}\n')
    res = kalashi("analyze", "--fair", str(model), input="", code=3)
    assert "p is not a number: 'abc'" in res.stderr and "0.62" in res.stderr
