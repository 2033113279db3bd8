"""docs/cookbook.md works as written: every recipe on the page is run by a test.

How a recipe gets its test (``test_every_cookbook_recipe_is_run_by_a_test`` fails for a code
block without one):

* ``<!-- cookbook-test -->`` or ``<!-- cookbook-test: NAME -->`` right above a block: this file
  runs it, in page order, in one scratch directory shared by all blocks, with the venv's
  ``kalashi`` first on the PATH. ``sh`` blocks run with bash under ``set -euo pipefail``; the
  ``python`` block named ``python`` is the CI smoke test (run with pytest's fixtures); the
  ``cron`` block named ``crontab`` runs each job the way cron would. What a reader does between
  two blocks ("later") goes into the ``before``/``after`` hooks below, never into the page.
* A block that needs the network, a terminal or a fixed port is named, and this file says what
  it swaps for it (``SUBSTITUTE``: each swap must match the page, or the test fails; ``ENV``;
  ``PRELUDE``; ``ON_TTY``).
* A block run by a test of its own (the weather model: ``<!-- fair-recipe: weather_fair.py -->``)
  carries a marker that test names verbatim; the drift test checks that some test does.
"""

from __future__ import annotations

import json
import os
import pty
import re
import select
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import needs
import pytest

REPO = Path(__file__).resolve().parents[2]
COOKBOOK = REPO / "docs" / "cookbook.md"
BLOCK = re.compile(r"<!-- cookbook-test(?::\s*(?P<name>[\w-]+))? -->\n```(?P<lang>\w+)\n(?P<body>.*?)\n```", re.S)
BIN = Path(sys.executable).parent

#: text swapped in a named block before it runs ({placeholders} come from the run's context)
SUBSTITUTE: dict[str, list[tuple[str, str]]] = {
    # the real exchange → the built-in sim (which has no markets of the weather model's series)
    "weather-pipe": [("--source kalshi ", "--source sim:seed=2,markets=600 ")],
    # heal's fixed status port → a free one
    "heal-start": [("kalashi heal --paper", "kalashi heal --paper --status-port {status_port}")],
    "heal-status": [("127.0.0.1:8002", "127.0.0.1:{status_port}")],
    # the real exchange → a local sim-exchange; five minutes of recording → two seconds
    "record-real": [("--source kalshi ", "--source kalshi:{sim_url} "), ("--duration 300", "--duration 2")],
}
#: environment of a named block (on top of the scratch shell's)
ENV: dict[str, dict[str, str]] = {
    # heal starts a loop of its own: on a data dir of its own, so the loops the blocks before it
    # stopped a moment ago do not make it wait (it refuses a journal written in the last 25 s)
    "heal-start": {"KALASHI_HOME": "{work}/heal-home"},
    "heal-status": {"KALASHI_HOME": "{work}/heal-home"},
    # the weather model must not reach the internet: a closed port fails loudly if it tries
    "weather-pipe": {"FORECAST_URL": "http://127.0.0.1:9"},
}
#: shell code run before a named block (a stand-in for a program of the reader's own)
PRELUDE: dict[str, str] = {"streaming-model": "my-model() { cat model.jsonl; }  # the toy model of the block before"}
#: blocks run on a terminal: (what to wait for on the screen, what to type then)
ON_TTY: dict[str, list[tuple[bytes, bytes]]] = {
    "tmux": [(b"iteration", b"\x02d")]  # the loop's live status shows in the pane: Ctrl-b d detaches
}


def blocks() -> list[tuple[str, str, str]]:
    """(name, language, code) of every block this file runs, in page order."""
    return [
        (m["name"] or f"block-{i}", m["lang"], m["body"]) for i, m in enumerate(BLOCK.finditer(COOKBOOK.read_text()))
    ]


def fill(text: str, ctx: dict[str, Any]) -> str:
    return text.format(**ctx) if "{" in text else text


def prepared(name: str, code: str, ctx: dict[str, Any]) -> str:
    for old, new in SUBSTITUTE.get(name, []):
        assert old in code, f"cookbook block {name} no longer contains {old!r}: update SUBSTITUTE"
        code = code.replace(old, fill(new, ctx))
    return PRELUDE.get(name, "") + "\n" + code


def shell_env(work: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KALASHI_", "KALSHI_", "TMUX"))}
    return {
        **env,
        "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        "NO_COLOR": "1",
        # the first block exports this too; later blocks run in fresh shells
        "KALASHI_HOME": str(work / "kalashi-home"),
        # a smaller sim than the default 2 000 markets keeps the recipes quick (they run as written)
        "KALASHI_SOURCE": "sim:seed=2,markets=600",
        # tmux's server for this run only (its socket in the scratch dir)
        "TMUX_TMPDIR": str(work),
    }


def wait_for(predicate: Any, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (exited, not yet reaped by its vanished parent shell) counts as gone
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return True


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get_json(url: str) -> Any:
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=5) as r:  # noqa: S310 - loopback
            return json.load(r)
    except OSError:
        return None


def paper_intents(work: Path) -> int:
    """How many orders the paper journal of the recipes' data dir has recorded (sent or tried)."""
    from kalashi_cli.journal import Journal

    jr = Journal(work / "kalashi-home" / "journal-paper.sqlite", mode="paper", readonly=True)
    try:
        return len(jr.intents())
    finally:
        jr.close()


def fair_recipe() -> str:
    m = re.search(r"<!-- fair-recipe: weather_fair\.py -->\n```python\n(.*?)\n```", COOKBOOK.read_text(), re.S)
    assert m, "the weather recipe is missing from docs/cookbook.md"
    return m.group(1)


def run_on_tty(
    code: str, cwd: Path, env: dict[str, str], steps: list[tuple[bytes, bytes]], timeout: float = 120
) -> tuple[int, str]:
    """Run a bash script with a terminal as stdin/stdout/stderr, typing ``steps`` as their cue shows."""
    master, slave = pty.openpty()
    p = subprocess.Popen(
        ["bash", "-c", "set -euo pipefail\n" + code],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        cwd=cwd,
        env={**env, "TERM": "xterm", "COLUMNS": "160", "LINES": "40"},
        start_new_session=True,
    )
    os.close(slave)
    seen = b""
    deadline = time.monotonic() + timeout
    todo = list(steps)
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:
                    break
                if not data:
                    break
                seen += data
            if todo and todo[0][0] in seen:
                os.write(master, todo.pop(0)[1])
            if p.poll() is not None and not ready:
                break
        assert not todo, f"never saw {todo[0][0]!r} on the terminal: {seen[-2000:]!r}"
        return p.wait(timeout=max(1.0, deadline - time.monotonic())), seen.decode(errors="replace")
    finally:
        if p.poll() is None:
            p.kill()
            p.wait(30)
        os.close(master)


# -- what a reader does between blocks ---------------------------------------------------------


def before(name: str, work: Path, ctx: dict[str, Any]) -> None:
    if name == "nohup-stop":  # "later": the loop has written an iteration
        wait_for(
            lambda: (work / "loop.jsonl").is_file() and (work / "loop.jsonl").stat().st_size > 0,
            "the nohup'd loop's first iteration",
        )
    elif name == "weather-pipe":  # the reader saved the program of the block above
        (work / "weather_fair.py").write_text(fair_recipe() + "\n")
    elif name == "rerun":  # what the journal holds before: the re-run must add no order to it
        ctx["intents"] = paper_intents(work)
    elif name == "heal-start":
        ctx["status_port"] = free_port()
    elif name == "heal-status":  # "later": heal serves its status, and its loop has run
        url = f"http://127.0.0.1:{ctx['status_port']}/api/v1/status"

        def ready() -> bool:
            snap = get_json(url) or {}
            loop: dict[str, Any] = next((c for c in snap.get("checks", []) if c["name"] == "loop"), {})
            return "last_iteration" in (loop.get("facts") or {})

        wait_for(ready, "heal's status with the loop's first iteration", timeout=120)
    elif name == "record-real":  # a local exchange stands in for Kalshi
        sim = subprocess.Popen(
            [str(BIN / "kalashi"), "sim-exchange", "--port", "0", "--markets", "100", "--quiet"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=shell_env(work),
            cwd=work,
        )
        assert sim.stdout is not None
        ctx["sim"] = sim
        ctx["sim_url"] = json.loads(sim.stdout.readline())["url"]


def after(name: str, work: Path, out: str, err: str, ctx: dict[str, Any]) -> None:
    env = shell_env(work)
    if name == "strict":  # pipefail (the test's bash runs with it) sees the skipped stage's exit 3
        assert out == "the pipe is broken (exit 3)\n" and "pipe `kalashi analyze` in between" in err, (out, err)
    elif name == "rerun":  # the same candidates again: nothing is sent twice
        counts = dict(line.split()[::-1] for line in out.splitlines() if line.strip())
        assert counts and {"duplicate", "already-quoting"} & set(counts), out
        assert paper_intents(work) == ctx.pop("intents"), "the re-run sent an order"
    elif name == "nohup-stop":
        pid = int((work / "loop.pid").read_text())
        wait_for(lambda: not _alive(pid), "the loop to stop after SIGTERM")
        its = [json.loads(line) for line in (work / "loop.jsonl").read_text().splitlines()]
        assert its and all(r["kind"] == "iteration" for r in its)
        assert "Traceback" not in (work / "loop.log").read_text()
    elif name == "tmux":  # detached: the loop still runs in the session; Ctrl-C inside stops it cleanly
        tmux = ["tmux", "-L", "default"]
        try:
            before_lines = len((work / "loop.jsonl").read_text().splitlines())
            wait_for(
                lambda: len((work / "loop.jsonl").read_text().splitlines()) > before_lines,
                "the loop in tmux to keep trading after the detach",
            )
            subprocess.run([*tmux, "send-keys", "-t", "kalashi", "C-c"], env=env, check=True, timeout=30)
            wait_for(
                lambda: (
                    subprocess.run(
                        [*tmux, "has-session", "-t", "kalashi"], env=env, capture_output=True, timeout=30
                    ).returncode
                    != 0
                ),
                "the loop in tmux to stop on Ctrl-C",
                timeout=120,
            )
        finally:
            subprocess.run([*tmux, "kill-server"], env=env, capture_output=True, timeout=30)
        assert "iteration" in out and "Traceback" not in out, out[-2000:]
    elif name == "heal-status":
        assert out.splitlines()[0] in ("ok", "degraded"), out
        assert re.match(r"kalashi_loop_last_iteration \d", out.splitlines()[1]), out
        pid = int((work / "heal.pid").read_text())
        wait_for(lambda: not _alive(pid), "heal to stop after SIGTERM", timeout=120)
        assert "Traceback" not in (work / "heal.log").read_text()
    elif name == "nightly":
        health = [json.loads(line) for line in (work / "kalashi-home" / "heal.jsonl").read_text().splitlines()]
        assert health[-1]["name"] == "overall"
        # before any kalashi run, in a data dir that does not exist yet: degraded, never "could not run"
        fresh = work / "never-ran" / "kalashi"
        p = subprocess.run(
            ["./kalashi-nightly.sh"],
            cwd=work,
            env={**env, "KALASHI_HOME": str(fresh)},
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert p.returncode == 10 and "could not run" not in p.stdout + p.stderr, (p.stdout, p.stderr)
        assert p.stdout.startswith("kalashi is degraded:") and (fresh / "heal.jsonl").is_file()
    elif name == "halt-file":
        assert "resume refused (exit 6)" in out and out.splitlines()[-1] == "ACTIVE", out
    elif name == "record-real":
        sim = ctx.pop("sim")
        sim.send_signal(signal.SIGTERM)
        sim.communicate(timeout=60)
        assert "kalashi run-loop: stopped after" in err and "the recording btc.jsonl has ended" in err, err
    elif name == "replay":
        assert re.search(r"stopped after \d+ of 100 iterations: the recording rec\.jsonl has ended", err), err
    elif name == "sim-bot":  # the fault drill placed orders while the faults were on, and faults happened
        lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
        at = next(i for i, r in enumerate(lines) if "lost_order" in r)
        drill = lines[at - 2 : at]
        assert [r["n"] for r in drill] and sum(r["orders"] for r in drill) > 0, lines
        assert sum(lines[at].values()) > 0, lines[at]


def run_crontab(code: str, work: Path) -> None:
    """Each job of the crontab block, the way cron runs it: /bin/sh, cron's short PATH, the env lines."""
    me = work / "me"
    me.mkdir(exist_ok=True)
    stubs = work / "stubs"
    stubs.mkdir(exist_ok=True)
    (stubs / "notify-me").write_text(f'#!/bin/sh\necho "$@" >> "{work}/notified"\n')
    (stubs / "notify-me").chmod(0o755)
    base = {k: v for k, v in os.environ.items() if k in ("LANG", "LC_ALL", "TMPDIR")}
    env = {**base, "HOME": str(me), "SHELL": "/bin/sh", "PATH": f"/usr/bin:/bin:{stubs}"}  # + the reader's notifier
    swaps = [
        ("/home/me/kalashi/.venv/bin", str(BIN)),
        ("/home/me/bin/kalashi-nightly.sh", str(work / "kalashi-nightly.sh")),
        ("/home/me", str(me)),
    ]
    field = r"(\*|\*/\d+|\d+(-\d+)?(/\d+)?(,\d+(-\d+)?)*)"
    jobs = 0
    for line in code.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        for old, new in swaps:
            line = line.replace(old, new)
        if re.fullmatch(r"[A-Z_]+=\S+", line):
            key, value = line.split("=", 1)
            env[key] = value
            continue
        m = re.fullmatch(rf"{field} {field} {field} {field} {field}\s+(?P<cmd>.+)", line.replace("  ", " "))
        assert m, f"not a crontab line: {line!r}"
        p = subprocess.run(["/bin/sh", "-c", m["cmd"]], cwd=me, env=env, capture_output=True, text=True, timeout=180)
        jobs += 1
        if "reconcile --live" in m["cmd"]:  # no live consent offline: refused, exit 5, naming what is missing
            assert p.returncode == 5 and "allow_live" in p.stderr, (line, p.stderr)
        elif "kalashi-nightly.sh" in m["cmd"]:  # the first run ever: degraded (no journal yet), never an error
            assert p.returncode in (0, 10) and "could not run" not in p.stdout, (line, p.stdout, p.stderr)
        else:
            assert p.returncode == 0, (line, p.stdout, p.stderr)
        assert "Traceback" not in p.stderr
    assert jobs == 4
    assert [json.loads(x)["name"] for x in (me / "heal.jsonl").read_text().splitlines()][-1] == "overall"
    assert json.loads((me / "metrics.jsonl").read_text())["kind"] == "metrics"


needs_jq = needs.program("jq", "the cookbook's recipes use jq")
needs_tmux = needs.program("tmux", "the cookbook's tmux recipe")


@needs_jq
@needs_tmux
def test_the_cookbook_recipes_run_as_written(tmp_path: Path) -> None:
    runnable = [(n, lang, code) for n, lang, code in blocks() if lang in ("sh", "cron")]
    assert len(runnable) >= 20, "the cookbook lost its tested blocks"
    ctx: dict[str, Any] = {"work": tmp_path}
    try:
        for name, lang, code in runnable:
            before(name, tmp_path, ctx)
            if lang == "cron":
                run_crontab(code, tmp_path)
                continue
            env = {**shell_env(tmp_path), **{k: fill(v, ctx) for k, v in ENV.get(name, {}).items()}}
            script = prepared(name, code, ctx)
            if name in ON_TTY:
                rc, out = run_on_tty(script, tmp_path, env, ON_TTY[name])
                err = ""
            else:
                p = subprocess.run(
                    ["bash", "-c", "set -euo pipefail\n" + script],
                    cwd=tmp_path,
                    env=env,
                    capture_output=True,
                    text=True,
                    timeout=180,
                )
                rc, out, err = p.returncode, p.stdout, p.stderr
            # the nightly script exits 10 when the machine is merely degraded (e.g. < 1 GB of free disk)
            ok = (0, 10) if name == "nightly" else (0,)
            assert rc in ok, (
                f"cookbook block {name} exited {rc}:\n{script}\n--- stdout:\n{out[-2000:]}\n--- stderr:\n{err[-2000:]}"
            )
            assert "Traceback" not in err, err
            after(name, tmp_path, out, err, ctx)
    finally:
        if "sim" in ctx:
            ctx["sim"].kill()
            ctx["sim"].communicate(timeout=30)
        subprocess.run(["tmux", "kill-server"], env=shell_env(tmp_path), capture_output=True, timeout=30)


def test_the_ci_smoke_snippet_passes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (code,) = [c for n, lang, c in blocks() if n == "python"]
    namespace: dict[str, Any] = {}
    exec(compile(code, "docs/cookbook.md#ci-smoke", "exec"), namespace)  # noqa: S102 - our own docs
    tests = [f for name, f in namespace.items() if name.startswith("test_")]
    assert len(tests) == 3
    for i, test in enumerate(tests):
        work = tmp_path / str(i)
        work.mkdir()
        with monkeypatch.context() as mp:
            test(work, mp)


def test_every_cookbook_recipe_is_run_by_a_test() -> None:
    """A code block without a test fails here: mark it (see this module's docstring)."""
    lines = COOKBOOK.read_text().splitlines()
    tests = "\n".join(p.read_text() for p in (REPO / "tests").rglob("*.py") if p.resolve() != Path(__file__).resolve())
    problems = []
    inside = False
    for i, line in enumerate(lines):
        if not line.startswith("```"):
            continue
        if inside:
            inside = False
            continue
        inside = True
        lang = line[3:].strip()
        marker = lines[i - 1].strip() if i else ""
        where = f"docs/cookbook.md:{i + 1}: a ```{lang} block"
        m = re.fullmatch(r"<!-- ([\w-]+)(?::\s*([\w.-]+))? -->", marker)
        if not m:
            problems.append(
                f"{where} has no test: put <!-- cookbook-test: NAME --> on the line above it "
                "(tests/cli/test_docs_cookbook.py runs it; see its docstring)"
            )
        elif m[1] == "cookbook-test":
            runs = {"sh": True, "python": m[2] == "python", "cron": m[2] == "crontab"}
            if not runs.get(lang):
                problems.append(
                    f"{where} is marked cookbook-test but this test runs only sh blocks, the python "
                    "block named python and the cron block named crontab"
                )
        elif marker not in tests:
            problems.append(f"{where} is marked {marker} but no test under tests/ names that marker")
    assert not problems, "\n".join(problems)
    names = {n for n, _, _ in blocks()}
    stale = [n for hooks in (SUBSTITUTE, ENV, PRELUDE, ON_TTY) for n in hooks if n not in names]
    assert not stale, f"hooks for blocks the cookbook no longer has: {stale}"
