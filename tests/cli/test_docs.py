"""The help and the docs say what the code does: the generated reference is current, every
command has a docstring and working examples, every `kalashi …` line in the docs parses, the
exit-code table matches the code, and the docs' links resolve.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import needs
import pytest
from typer import Exit

from kalashi_cli.cli import docgen
from kalashi_cli.cli.app import ALL_EXIT_CODES, HEAL_ONCE_EXIT_CODES, ClickException
from kalashi_cli.errors import EXIT_CODES

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"
#: the pages of the command-line experience (README included): their examples must parse
USER_PAGES = [
    REPO / "README.md",
    *(DOCS / n for n in ("cookbook.md", "safety.md", "troubleshooting.md", "exit-codes.md")),
]
BIN = Path(sys.executable).parent


def test_cli_reference_is_current() -> None:
    assert docgen.REFERENCE not in docgen.drift(REPO), "run `python -m kalashi_cli.cli.docgen`"


def test_docgen_check_mode_reports_drift(tmp_path: Path) -> None:
    assert docgen.main(["--check", "--repo", str(REPO)]) == 0
    assert docgen.main(["--check", "--repo", str(tmp_path)]) == 1
    assert docgen.main(["--repo", str(tmp_path)]) == 0
    assert docgen.drift(tmp_path) == []
    assert (tmp_path / "completions" / "kalashi.bash").read_text() == (
        REPO / "completions" / "kalashi.bash"
    ).read_text()


def commands() -> list[tuple[tuple[str, ...], object]]:
    root = docgen.root_command()
    out = []
    for path in docgen.command_paths(root):
        cmd = root
        for name in path:
            cmd = cmd.commands[name]
        out.append((path, cmd))
    return out


@pytest.mark.parametrize(("path", "cmd"), commands(), ids=lambda v: " ".join(v) if isinstance(v, tuple) else "")
def test_every_command_has_a_docstring_and_examples(path: tuple[str, ...], cmd: object) -> None:
    name = " ".join(("kalashi", *path))
    help_text = (getattr(cmd, "help", None) or "").strip()
    assert help_text, f"{name} has no docstring"
    first = help_text.splitlines()[0]
    assert first.endswith(".") and len(first) <= 60, f"{name}: first line should be one short sentence: {first!r}"
    epilog = getattr(cmd, "epilog", None) or ""
    assert "Examples:" in epilog, f"{name} has no Examples: epilog"
    uses = re.compile(rf"(^|[|&;]\s*){re.escape(name)}(\s|$)")
    assert any(uses.search(line.strip()) for line in epilog.splitlines()) or (not path and "kalashi scan" in epilog), (
        f"{name}: no example uses {name}"
    )


# -- every `kalashi …` in the help and the docs parses ------------------------------------------

OPERATORS = {"|", "||", "&&", ";", "&", ">", ">>", "<", "<<", "(", ")", "|&", "2>", "2>>"}


def invocations(text: str) -> list[list[str]]:
    """The argument lists of every `kalashi …` command in shell text (pipes, &&, redirections)."""
    found: list[list[str]] = []
    for line in text.replace("\\\n", " ").splitlines():
        line = re.sub(r"^([\d*/,\-]+\s+){5}", "", line.strip())  # a crontab line's schedule
        line = re.sub(r"(?<=\s)\d+(?=>)", "", line)  # `2>> log`: the fd belongs to the redirection
        if not line or line.startswith("#") or "COMMAND" in line or "<pid>" in line:
            continue
        lex = shlex.shlex(line, posix=True, punctuation_chars=True)
        lex.whitespace_split = True
        lex.commenters = "#"
        try:
            tokens = list(lex)
        except ValueError:  # an unbalanced quote in prose
            continue
        at_command = True
        i = 0
        while i < len(tokens):
            tok = tokens[i]
            if tok in OPERATORS or set(tok) <= set("|&;<>()"):
                at_command = True
            elif at_command and (tok == "kalashi" or tok.endswith("/kalashi")):
                args = []
                i += 1
                while i < len(tokens) and not (tokens[i] in OPERATORS or set(tokens[i]) <= set("|&;<>()")):
                    args.append(tokens[i])
                    i += 1
                found.append(args)
                continue
            elif at_command and (re.fullmatch(r"[A-Z_][A-Z0-9_]*=\S*", tok) or tok in ("nohup", "env", "time")):
                pass  # still at the command position
            else:
                at_command = False
            i += 1
    return found


def parse(args: list[str]) -> None:
    """Parse a command line the way kalashi would, without running it.

    Raises:
        click's UsageError: an unknown command or option, a bad value, a missing argument.
    """
    root = docgen.root_command()
    cmd, path, rest = root, ["kalashi"], list(args)
    while getattr(cmd, "commands", None) and rest and not rest[0].startswith("-"):
        name = rest.pop(0)
        assert name in cmd.commands, f"no command {name!r} in {' '.join(path)}"
        cmd, path = cmd.commands[name], [*path, name]
    if getattr(cmd, "commands", None):
        return  # `kalashi`, `kalashi --help`, `kalashi profile`
    try:
        with cmd.make_context(" ".join(path), rest):
            pass
    except Exit:  # --help, --version
        pass


def examples() -> list[tuple[str, list[str]]]:
    out = []
    for path, cmd in commands():
        where = " ".join(("kalashi", *path)) + " --help"
        out += [(where, a) for a in invocations(getattr(cmd, "epilog", None) or "")]
    for page in USER_PAGES:
        text = page.read_text()
        for block in re.findall(r"```(?:sh|bash|cron|console)?\n(.*?)```", text, re.S):
            out += [(page.name, a) for a in invocations(block)]
    return out


def test_every_example_parses(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("KALASHI_PROFILE", "KALASHI_SOURCE", "KALASHI_JOURNAL", "KALASHI_BRIDGE_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    found = examples()
    assert len(found) > 120, "the example extractor lost most examples"
    bad = []
    for where, args in found:
        try:
            parse(args)
        except (ClickException, AssertionError) as e:
            bad.append(f"{where}: kalashi {shlex.join(args)}\n    {e}")
    assert not bad, "examples that do not parse:\n" + "\n".join(bad)


def test_the_extractor_reads_shell_the_way_bash_does() -> None:
    assert invocations("kalashi scan --limit 2 | kalashi analyze --fair m.jsonl > o.jsonl 2>> e.log &") == [
        ["scan", "--limit", "2"],
        ["analyze", "--fair", "m.jsonl"],
    ]
    assert invocations("NO_COLOR=1 nohup kalashi run-loop --paper --quiet >> loop.jsonl 2>> loop.log &") == [
        ["run-loop", "--paper", "--quiet"]
    ]
    assert invocations("jq -r .kalashi x | grep kalashi") == []
    assert invocations("*/5 * * * * /opt/k/.venv/bin/kalashi heal --once \\\n  --quiet") == [
        ["heal", "--once", "--quiet"]
    ]


# -- a few epilog examples, run for real -----------------------------------------------------------

RUN = [
    ("scan", "kalashi scan --limit 20 --format table"),
    ("analyze", "kalashi scan > markets.jsonl && kalashi analyze markets.jsonl --format table"),
    (
        "correlate",
        "kalashi scan | kalashi analyze | kalashi correlate | jq -c 'select(.kind == \"rejected\") | .reason'",
    ),
    ("order", "kalashi scan | kalashi analyze | kalashi correlate | kalashi order --paper"),
    ("metrics", "kalashi metrics --format jsonl | jq -r .equity"),
    ("run-loop", "kalashi run-loop --paper --iterations 20 --interval 0"),
    ("halt", "kalashi halt --reason 'news event'"),
    ("flatten", "kalashi flatten --paper"),
    ("resume", "kalashi resume --confirm"),
    ("reconcile", "kalashi reconcile --paper"),
    ("profile show", "kalashi profile show --profile conservative > my.yaml"),
    ("profile validate", "kalashi profile validate my.yaml"),
    ("profile list", "kalashi profile list | cut -f1"),
    ("profile schema", "kalashi profile schema | jq '.\"$defs\".Profile.properties | keys'"),
]


@needs.program("jq", "some examples pipe into jq")
def test_examples_from_the_help_run(tmp_path: Path) -> None:
    root = docgen.root_command()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KALASHI_", "KALSHI_"))}
    # a smaller sim than the default keeps this quick; the examples themselves are verbatim
    env.update(
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        KALASHI_HOME=str(tmp_path / "home"),
        KALASHI_SOURCE="sim:seed=2,markets=400",
        NO_COLOR="1",
    )
    for command, example in RUN:
        cmd = root
        for name in command.split():
            cmd = cmd.commands[name]
        assert example in cmd.epilog, f"`{example}` is no longer an example of kalashi {command}"
        p = subprocess.run(
            ["bash", "-c", f"set -euo pipefail\n{example}"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert p.returncode == 0, f"{example}\n{p.stderr}"
        assert "Traceback" not in p.stderr
    assert (tmp_path / "home" / "journal-paper.sqlite").is_file()


# -- exit codes ------------------------------------------------------------------------------------


def test_exit_code_tables_agree() -> None:
    from kalashi_cli.heal.monitor import EXIT_DEGRADED, EXIT_FAILED, HEAL_EXIT_CODES

    assert set(HEAL_ONCE_EXIT_CODES) == {EXIT_DEGRADED, EXIT_FAILED} == set(HEAL_EXIT_CODES) - {0}
    assert ALL_EXIT_CODES == {**EXIT_CODES, **HEAL_ONCE_EXIT_CODES}
    page = (DOCS / "exit-codes.md").read_text()
    documented = [int(c) for c in re.findall(r"^\| (\d+) \|", page, re.M)]
    assert documented == sorted(ALL_EXIT_CODES), "docs/exit-codes.md lists other codes than the code"
    root_help = docgen.help_text(())
    for code, what in ALL_EXIT_CODES.items():
        assert f"{code:<4} {what}" in root_help


# -- links -----------------------------------------------------------------------------------------


def _slug(heading: str) -> str:
    s = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return s.replace(" ", "-")


def test_links_in_the_user_pages_resolve() -> None:
    for page in [*USER_PAGES, DOCS / "cli-reference.md", DOCS / "reliability.md"]:
        text = page.read_text()
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if target.startswith(("http://", "https://", "mailto:")):
                continue
            file, _, anchor = target.partition("#")
            dest = (page.parent / file) if file else page
            assert dest.exists(), f"{page.name}: broken link {target}"
            if anchor and dest.suffix == ".md":
                slugs = {_slug(h) for h in re.findall(r"^#+ (.+)$", dest.read_text(), re.M)}
                assert anchor in slugs, f"{page.name}: no heading #{anchor} in {dest.name}"


def test_readme_says_how_to_install_completions_and_where_the_docs_are() -> None:
    readme = (REPO / "README.md").read_text()
    for needle in (
        "completions/kalashi.bash",
        "completions/_kalashi",
        "completions/kalashi.fish",
        "python -m kalashi_cli.cli.docgen",
    ):
        assert needle in readme
    for page in (
        "cli-reference.md",
        "cookbook.md",
        "exit-codes.md",
        "safety.md",
        "troubleshooting.md",
        "records.md",
        "paper-fills.md",
    ):
        assert f"docs/{page}" in readme, f"README's docs index misses {page}"


def test_reliability_page_covers_every_safety_suite() -> None:
    """docs/reliability.md reports every suite in tests/safety (regenerate: bench/reliability.py --markdown)."""
    page = (DOCS / "reliability.md").read_text()
    for suite in sorted((REPO / "tests" / "safety").glob("test_*.py")):
        assert f"{suite.stem}.py" in page, f"docs/reliability.md does not mention {suite.name}"
        for test in re.findall(r"^def (test_\w+)", suite.read_text(), re.M):
            assert f"`{suite.stem}::{test}" in page, f"docs/reliability.md has no result for {suite.stem}::{test}"
