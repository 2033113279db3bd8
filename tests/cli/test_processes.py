"""Real processes: pipes stream, a closed pipe is not an error, Ctrl-C stops cleanly."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from kalashi_cli.journal import IntentStatus, Journal

KALASHI = [sys.executable, "-m", "kalashi_cli"]


def env(tmp_path: Path) -> dict[str, str]:
    # Without PYTHONUNBUFFERED: a pipe's stdout is block-buffered, so records stream only because
    # RecordWriter flushes after each one — which is what these tests check.
    e = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    return {**e, "KALASHI_HOME": str(tmp_path / "home")}


def test_pipe_streams_records_before_the_scan_finishes(tmp_path: Path) -> None:
    scan = subprocess.Popen(
        [*KALASHI, "scan", "--source", "sim:seed=5,markets=40000", "--quiet"], stdout=subprocess.PIPE, env=env(tmp_path)
    )
    assert scan.stdout is not None
    with scan.stdout:  # analyze owns the read end; close ours
        analyze = subprocess.Popen(
            [*KALASHI, "analyze", "--quiet"], stdin=scan.stdout, stdout=subprocess.PIPE, env=env(tmp_path)
        )
    assert analyze.stdout is not None
    with analyze.stdout:
        first = analyze.stdout.readline()
        still_scanning = scan.poll() is None
        rest = analyze.stdout.read()
    assert scan.wait(timeout=120) == 0 and analyze.wait(timeout=120) == 0
    assert first.startswith(b'{"kind":"opportunity"')
    assert still_scanning, "analyze emitted its first record only after scan had finished: no streaming"
    assert rest.rstrip().endswith(b"}")


def test_analyze_writes_an_opportunity_while_its_input_is_still_open(tmp_path: Path) -> None:
    """Feed analyze one event with an opportunity (plus the next event's first market, so the event
    is complete) and keep its stdin open: the opportunity must arrive now. Without the flush after
    each record it would sit in the block buffer of the pipe until stdin closed."""
    scan = subprocess.run(
        [*KALASHI, "scan", "--source", "sim:seed=3,markets=400,arbitrage=100", "--quiet"],
        capture_output=True,
        env=env(tmp_path),
        timeout=120,
        check=True,
    ).stdout.splitlines(keepends=True)
    # without the market maker's two quotes per market the first event's records stay small; every drawn
    # arbitrage stands (the sim's default makes them as rare as real markets do), so there is one to find
    profile = tmp_path / "no-maker.yaml"
    profile.write_text("name: no-maker\nanalyze:\n  spread:\n    enabled: false\n")
    full = subprocess.run(
        [*KALASHI, "analyze", "--quiet", "-p", str(profile)],
        input=b"".join(scan),
        capture_output=True,
        env=env(tmp_path),
        timeout=120,
        check=True,
    ).stdout.splitlines()
    first = json.loads(full[0])
    assert first["kind"] == "opportunity"
    event = first["event_ticker"]
    # the event's records must fit in a pipe buffer with room to spare, or a missing flush would not show
    assert sum(len(line) + 1 for line in full if json.loads(line).get("event_ticker") == event) < 2048
    markets = [json.loads(line) for line in scan]
    last = max(i for i, m in enumerate(markets) if m.get("event_ticker") == event)
    assert markets[last + 1]["kind"] == "market" and markets[last + 1]["event_ticker"] != event

    proc = subprocess.Popen(
        [*KALASHI, "analyze", "--quiet", "-p", str(profile)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=env(tmp_path),
    )
    assert proc.stdin is not None and proc.stdout is not None
    out: queue.Queue[bytes] = queue.Queue()
    stdout = proc.stdout

    def read() -> None:
        for line in stdout:
            out.put(line)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        proc.stdin.write(b"".join(scan[: last + 2]))
        proc.stdin.flush()
        try:
            got = out.get(timeout=60)
        except queue.Empty:
            raise AssertionError(
                "analyze held its first opportunity back while its input was open: records are not flushed one by one"
            ) from None
    finally:
        proc.stdin.close()
    assert proc.wait(timeout=60) == 0
    reader.join(timeout=60)
    stdout.close()
    assert json.loads(got) == first


def test_closed_pipe_is_not_an_error(tmp_path: Path) -> None:
    p = subprocess.run(
        f"{sys.executable} -m kalashi_cli scan --source sim:seed=1,markets=3000 | head -n 2",
        shell=True,
        capture_output=True,
        env=env(tmp_path),
        timeout=120,
        executable="/bin/bash",
    )
    assert p.returncode == 0
    assert len(p.stdout.splitlines()) == 2
    assert b"Traceback" not in p.stderr and b"BrokenPipe" not in p.stderr, p.stderr
    # and the exit status of kalashi itself (PIPESTATUS) is 0
    p2 = subprocess.run(
        f"{sys.executable} -m kalashi_cli scan --source sim:seed=1,markets=3000 | head -n 1 >/dev/null;"
        " echo ${PIPESTATUS[0]}",
        shell=True,
        capture_output=True,
        env=env(tmp_path),
        timeout=120,
        executable="/bin/bash",
    )
    assert p2.stdout.strip() == b"0", p2.stderr


def test_ctrl_c_stops_run_loop_cleanly(tmp_path: Path) -> None:
    journal = tmp_path / "j.sqlite"
    proc = subprocess.Popen(
        [
            *KALASHI,
            "run-loop",
            "--paper",
            "--source",
            "sim:seed=2,markets=400",
            "--interval",
            "0",
            "--journal",
            str(journal),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env(tmp_path),
    )
    assert proc.stdout is not None
    for _ in range(3):  # let it trade a little
        assert proc.stdout.readline().startswith(b'{"kind":"iteration"')
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert b"Traceback" not in err
    j = Journal(journal)
    ok, detail = j.integrity_ok()
    assert ok, detail
    n = j.last_iteration()
    assert n >= 3
    assert j.latest_metrics() is not None, "the loop writes final metrics when it stops"
    # every acked intent has its order; nothing is left pending
    assert not j.intents(status=IntentStatus.PENDING)


def test_python_dash_m_and_version(tmp_path: Path) -> None:
    p = subprocess.run([*KALASHI, "--version"], capture_output=True, env=env(tmp_path), timeout=60)
    assert p.returncode == 0 and p.stdout.startswith(b"kalashi ")
    t0 = time.perf_counter()
    p = subprocess.run([*KALASHI, "--help"], capture_output=True, env=env(tmp_path), timeout=60)
    assert p.returncode == 0 and b"run-loop" in p.stdout and b"Exit codes" in p.stdout
    del t0
