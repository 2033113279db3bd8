"""Shell completions: the committed scripts are current, load in bash/zsh/fish, and complete round trip.

Each script asks the ``kalashi`` on the PATH on every TAB, so these tests put the venv's
``kalashi`` first on the PATH and drive the real script the way each shell does.
"""

from __future__ import annotations

import os
import pty
import re
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path

import needs
import pytest

from kalashi_cli.cli import docgen
from kalashi_cli.cli.common import complete_profile, complete_source, known_tickers
from kalashi_cli.journal import Journal

REPO = Path(__file__).resolve().parents[2]
BASH_SCRIPT = REPO / "completions" / "kalashi.bash"
ZSH_SCRIPT = REPO / "completions" / "_kalashi"
FISH_SCRIPT = REPO / "completions" / "kalashi.fish"
BIN = Path(sys.executable).parent


def shell_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KALASHI_", "_KALASHI", "_TYPER"))}
    return {**env, "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}", "KALASHI_HOME": str(home)}


@pytest.fixture
def home(tmp_path: Path) -> Path:
    h = tmp_path / "home"
    h.mkdir()
    return h


def bash_complete(words: list[str], home: Path, cwd: Path) -> list[str]:
    """Source the bash script, set COMP_WORDS/COMP_CWORD as bash does on TAB, return COMPREPLY."""
    quoted = " ".join("'" + w.replace("'", "'\\''") + "'" for w in words)
    script = (
        f"source '{BASH_SCRIPT}'\n"
        f"COMP_WORDS=({quoted}); COMP_CWORD={len(words) - 1}\n"
        "_kalashi_completion kalashi\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    p = subprocess.run(
        ["bash", "--norc", "--noprofile", "-c", script],
        capture_output=True,
        text=True,
        env=shell_env(home),
        cwd=cwd,
        timeout=60,
    )
    assert p.returncode == 0 and p.stderr == "", p.stderr
    return [line for line in p.stdout.splitlines() if line]


def test_committed_scripts_match_the_generator() -> None:
    stale = [rel for rel in docgen.drift(REPO) if rel.startswith("completions/")]
    assert not stale, f"{stale} out of date: run `python -m kalashi_cli.cli.docgen`"


def test_bash_script_parses() -> None:
    p = subprocess.run(["bash", "-n", str(BASH_SCRIPT)], capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        (["kalashi", "ru"], ["run-loop"]),
        (["kalashi", "sc"], ["scan"]),
        (["kalashi", "scan", "--pro"], ["--profile"]),
        (["kalashi", "scan", "--profile", "c"], ["conservative"]),
        (["kalashi", "run-loop", "--fai"], []),  # run-loop has no --fair
        (["kalashi", "scan", "--format", ""], ["auto", "jsonl", "table"]),
        (["kalashi", "scan", "--source", "kal"], ["kalshi", "kalshi-demo", "kalshi:"]),
        (["kalashi", "profile", "v"], ["validate"]),
        (["kalashi", "mcp-serve", "--transport", ""], ["stdio", "http"]),
        (["kalashi", "record", "--tick"], ["--tickers"]),
    ],
)
def test_bash_completion_round_trip(words: list[str], expected: list[str], home: Path, tmp_path: Path) -> None:
    assert bash_complete(words, home, tmp_path) == expected


def test_bash_completes_every_command_and_yaml_profiles_in_the_cwd(home: Path, tmp_path: Path) -> None:
    commands = bash_complete(["kalashi", ""], home, tmp_path)
    assert set(docgen.root_command().commands) <= set(commands)
    (tmp_path / "my-live.yaml").write_text("name: mine\n")
    (tmp_path / "notes.txt").write_text("")
    assert bash_complete(["kalashi", "order", "--profile", ""], home, tmp_path) == [
        "aggressive",
        "conservative",
        "default",
        "home/",
        "my-live.yaml",
    ]


def test_a_file_argument_falls_back_to_file_names(home: Path, tmp_path: Path) -> None:
    # kalashi offers nothing for INPUT, so `complete -o default` lets bash complete file names
    assert bash_complete(["kalashi", "analyze", "mark"], home, tmp_path) == []
    p = subprocess.run(
        ["bash", "--norc", "-c", f"source '{BASH_SCRIPT}'; complete -p kalashi"],
        capture_output=True,
        text=True,
        env=shell_env(home),
        timeout=30,
    )
    assert p.stdout.strip() == "complete -o default -F _kalashi_completion kalashi"


def _journal_with_tickers(path: Path, tickers: list[str]) -> None:
    jr = Journal(path, mode="paper")
    try:
        jr.remember_markets([(t, t.rsplit("-", 1)[0], t.split("-")[0], "", "crypto", "") for t in tickers])
    finally:
        jr.close()


def test_tickers_complete_from_the_journal_markets(home: Path, tmp_path: Path) -> None:
    _journal_with_tickers(home / "journal-paper.sqlite", ["KXBTC-26JAN01-T100", "KXBTC-26JAN01-T101", "KXETH-1"])
    assert bash_complete(["kalashi", "record", "--tickers", "KXB"], home, tmp_path) == [
        "KXBTC-26JAN01-T100",
        "KXBTC-26JAN01-T101",
    ]
    # a comma-separated list completes its last ticker
    assert bash_complete(["kalashi", "record", "--tickers", "KXETH-1,KXBTC-26JAN01-T10"], home, tmp_path) == [
        "KXETH-1,KXBTC-26JAN01-T100",
        "KXETH-1,KXBTC-26JAN01-T101",
    ]


def test_completion_never_creates_a_journal(home: Path, tmp_path: Path) -> None:
    assert bash_complete(["kalashi", "record", "--tickers", "KX"], home, tmp_path) == []
    assert not list(home.iterdir()), "completion created files in the data dir"
    assert known_tickers("KX", [home / "journal-paper.sqlite"]) == []
    assert not (home / "journal-paper.sqlite").exists()


def test_completion_is_silent_on_a_damaged_journal(home: Path, tmp_path: Path) -> None:
    (home / "journal-paper.sqlite").write_bytes(b"this is not sqlite" * 100)
    # bash_complete asserts an empty stderr and exit 0
    assert bash_complete(["kalashi", "record", "--tickers", "KX"], home, tmp_path) == []


def test_completion_helpers_in_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "night.yaml").write_text("")
    (tmp_path / "profiles" / "default.compiled.json").write_text("{}")
    assert complete_profile("de") == ["default"]
    assert complete_profile("profiles/") == ["profiles/night.yaml"]
    assert complete_profile("nothing-here/") == []
    rec = tmp_path / "rec.jsonl"
    rec.write_text("")
    assert complete_source(f"replay:{tmp_path}/r") == [(f"replay:{rec}", "")]
    assert [v for v, _ in complete_source("s")] == ["sim", "sim:seed="]


zsh = needs.program("zsh", "the zsh completion script is run in it")
fish = needs.program("fish", "the fish completion script is run in it")


def zsh_complete(words: list[str], home: Path, cwd: Path, *, autoload: bool) -> str:
    """Run the zsh function as compsys would, with _arguments/_files stubbed to print what they got."""
    zdir = cwd / "zfunc"
    zdir.mkdir(exist_ok=True)
    shutil.copy(ZSH_SCRIPT, zdir / "_kalashi")
    load = (
        f"fpath=('{zdir}' $fpath); autoload -Uz compinit && compinit -u -d '{cwd}/.zcompdump'"
        if autoload
        else f"autoload -Uz compinit && compinit -u -d '{cwd}/.zcompdump'; source '{ZSH_SCRIPT}'"
    )
    quoted = " ".join("'" + w + "'" for w in words)
    script = (
        f"{load}\n"
        '_arguments() { print -r -- "ARGS $*" }\n_files() { print -r -- FILES }\n'
        f"[[ $_comps[kalashi] == _kalashi ]] || print -r -- NOT-REGISTERED\n"
        f"words=({quoted}); CURRENT={len(words)}; _kalashi\n"
    )
    p = subprocess.run(
        ["zsh", "-f", "-c", script], capture_output=True, text=True, env=shell_env(home), cwd=cwd, timeout=60
    )
    assert p.returncode == 0 and p.stderr == "", p.stderr
    return p.stdout


@zsh
def test_zsh_script_parses() -> None:
    p = subprocess.run(["zsh", "-n", str(ZSH_SCRIPT)], capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr


@zsh
@pytest.mark.parametrize("autoload", [True, False], ids=["from-fpath", "sourced"])
def test_zsh_completion_round_trip(autoload: bool, home: Path, tmp_path: Path) -> None:
    out = zsh_complete(["kalashi", "ru"], home, tmp_path, autoload=autoload)
    assert out.startswith('ARGS *: :(("run-loop":"Run the whole pipeline'), out
    assert (
        zsh_complete(["kalashi", "scan", "--profile", "c"], home, tmp_path, autoload=autoload)
        == 'ARGS *: :(("conservative"))\n'
    )
    assert zsh_complete(["kalashi", "analyze", ""], home, tmp_path, autoload=autoload) == "FILES\n"


@fish
def test_fish_script_parses() -> None:
    p = subprocess.run(["fish", "--no-execute", str(FISH_SCRIPT)], capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr


@fish
def test_fish_completion_round_trip(home: Path, tmp_path: Path) -> None:
    def complete(line: str) -> list[str]:
        p = subprocess.run(
            ["fish", "--no-config", "-c", f"source '{FISH_SCRIPT}'; complete -C '{line}'"],
            capture_output=True,
            text=True,
            env=shell_env(home),
            cwd=tmp_path,
            timeout=60,
        )
        assert p.returncode == 0 and p.stderr == "", p.stderr
        return [line.split("\t")[0] for line in p.stdout.splitlines()]

    assert complete("kalashi ru") == ["run-loop"]
    assert complete("kalashi scan --profile c") == ["conservative"]
    assert complete("kalashi scan --pro") == ["--profile"]


# -- descriptions keep their apostrophes; the README's steps work in a fresh home --------------


@zsh
def test_zsh_keeps_apostrophes_in_descriptions(home: Path, tmp_path: Path) -> None:
    out = zsh_complete(["kalashi", "scan", "--source", "kal"], home, tmp_path, autoload=True)
    assert '"Kalshi\'s public market data"' in out and "Kalshis" not in out, out


@fish
def test_fish_keeps_apostrophes_in_descriptions(home: Path, tmp_path: Path) -> None:
    p = subprocess.run(
        ["fish", "--no-config", "-c", f"source '{FISH_SCRIPT}'; complete -C 'kalashi scan --source kal'"],
        capture_output=True,
        text=True,
        env=shell_env(home),
        cwd=tmp_path,
        timeout=60,
    )
    assert "kalshi\tKalshi's public market data" in p.stdout.splitlines(), p.stdout


def readme_completion_steps() -> str:
    """The shell block of the README's "Shell completion" section, as a reader copies it."""
    text = (REPO / "README.md").read_text()
    section = text[text.index("## Shell completion") :]
    m = re.search(r"```sh\n(.*?)\n```", section, re.S)
    assert m, "the README lost its completion steps"
    return m.group(1)


def fresh_home_env(home: Path) -> dict[str, str]:
    env = shell_env(home)
    for k in ("ZDOTDIR", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "BASH_ENV", "ENV"):
        env.pop(k, None)
    return {**env, "HOME": str(home), "TERM": "xterm", "PS1": "READY> "}


def interactive_zsh_listing(env: dict[str, str], line: bytes, timeout: float = 60) -> bytes:
    """Type ``line`` and TAB twice into an interactive zsh (which reads ~/.zshrc); return the screen text."""
    master, slave = pty.openpty()
    p = subprocess.Popen(
        ["zsh", "-i"], stdin=slave, stdout=slave, stderr=slave, env=env, cwd=env["HOME"], start_new_session=True
    )
    os.close(slave)
    seen = b""

    def read_until(want: bytes) -> bool:
        nonlocal seen
        deadline = time.monotonic() + timeout
        while want not in seen and time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    seen += os.read(master, 65536)
                except OSError:
                    return False
        return want in seen

    try:
        assert read_until(b"READY> "), f"no prompt: {seen!r}"
        os.write(master, line + b"\t")
        read_until(b"kalshi")  # the common prefix is inserted first
        os.write(master, b"\t")
        read_until(b"demo environment")
        return seen
    finally:
        p.kill()
        p.wait(30)
        os.close(master)


@zsh
@fish
def test_the_readme_completion_steps_work_in_a_fresh_home(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    env = fresh_home_env(home)
    # the steps as written, from the checkout (they use $PWD/completions), in a home with no dotfiles
    p = subprocess.run(
        ["bash", "-c", "set -e\n" + readme_completion_steps()],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert p.returncode == 0 and p.stderr == "", p.stderr
    # bash: a new interactive shell reads ~/.bashrc
    p = subprocess.run(
        ["bash", "-i", "-c", "complete -p kalashi"], cwd=home, env=env, capture_output=True, text=True, timeout=60
    )
    assert "complete -o default -F _kalashi_completion kalashi" in p.stdout, p.stdout + p.stderr
    # fish: autoloaded from ~/.config/fish/completions, descriptions whole
    p = subprocess.run(
        ["fish", "-c", "complete -C 'kalashi ru'; complete -C 'kalashi scan --source kal'"],
        cwd=home,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert p.stdout.splitlines()[0].startswith("run-loop\tRun the whole pipeline"), p.stdout
    assert "kalshi\tKalshi's public market data" in p.stdout.splitlines(), p.stdout
    # zsh: a real interactive shell, compinit from ~/.zshrc, TAB TAB lists the choices with their help
    screen = interactive_zsh_listing(env, b"kalashi scan --source kal")
    assert b"-- Kalshi's public market data" in screen and b"-- Kalshi's demo environment" in screen, screen
