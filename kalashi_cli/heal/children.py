"""The processes ``kalashi heal`` supervises by default, and how each one's health is told.

::

    loop    kalashi run-loop --<mode> …      heartbeat: the journal's last iteration; critical
    bridge  kalashi serve-bridge --attach …  probe: its page and WebSocket ports answer HTTP
    mcp     kalashi mcp-serve --transport http …   probe: its /mcp endpoint answers HTTP
    NAME    any command (--child NAME=CMD)   probe: --probe NAME=URL, else death only

Children run with the same Python as heal (``python -m kalashi_cli``), so they need no
``kalashi`` on PATH. The bridge attaches to the loop's journal (never a second loop on it)
and starts once that journal exists.
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from ..errors import UsageError
from .checks import hang_limit_s, last_iteration_end_ms, probe_http
from .supervisor import ChildSpec

KALASHI = (sys.executable, "-m", "kalashi_cli")


def loop_child(
    *,
    mode: str,
    source: str,
    journal: Path,
    profile: str,
    interval_s: float | None,
    effective_interval_s: float,
    hang_after_s: float | None = None,
    hang_factor: float = 3.0,
    grace_s: float = 30.0,
    command: Sequence[str] = KALASHI,
) -> ChildSpec:
    """The run-loop: hung when the journal gets no new iteration for ``hang_after_s``."""
    argv = [
        *command,
        "run-loop",
        f"--{mode}",
        "--source",
        source,
        "--journal",
        str(journal),
        "--profile",
        profile,
        "--quiet",
    ]
    if interval_s is not None:
        argv += ["--interval", f"{interval_s:g}"]
    limit = hang_after_s if hang_after_s is not None else hang_limit_s(effective_interval_s, hang_factor, grace_s)
    return ChildSpec(
        "loop",
        tuple(argv),
        critical=True,
        heartbeat_ms=lambda: last_iteration_end_ms(journal),
        hang_after_s=limit,
        startup_grace_s=grace_s,
    )


def journal_exists(journal: Path) -> Callable[[], tuple[bool, str]]:
    return lambda: (journal.exists(), f"waiting for the loop to create {journal}")


def probe_all(urls: Sequence[str], timeout_s: float = 2.0) -> Callable[[], tuple[bool, str]]:
    """A probe that passes when every URL answers HTTP."""

    def probe() -> tuple[bool, str]:
        for url in urls:
            ok, detail = probe_http(url, timeout_s=timeout_s)
            if not ok:
                return False, detail
        return True, "answering"

    return probe


def bridge_urls(ws_port: int, http_port: int) -> tuple[str, str]:
    return f"http://127.0.0.1:{http_port}/", f"http://127.0.0.1:{ws_port}/"


def bridge_child(
    *,
    mode: str,
    journal: Path,
    profile: str,
    interval_s: float,
    ws_port: int,
    http_port: int,
    grace_s: float = 30.0,
    command: Sequence[str] = KALASHI,
) -> ChildSpec:
    """The dashboard bridge attached to the loop's journal; hung when its ports stop answering."""
    argv = [
        *command,
        "serve-bridge",
        "--attach",
        f"--{mode}",
        "--journal",
        str(journal),
        "--profile",
        profile,
        "--interval",
        f"{interval_s:g}",
        "--ws-port",
        str(ws_port),
        "--http-port",
        str(http_port),
        "--no-open",
        "--quiet",
    ]
    return ChildSpec(
        "bridge",
        tuple(argv),
        probe=probe_all(bridge_urls(ws_port, http_port)),
        startup_grace_s=grace_s,
        ready=journal_exists(journal),
    )


def mcp_url(port: int) -> str:
    return f"http://127.0.0.1:{port}/mcp"


def mcp_child(
    *, mode: str, journal: Path, profile: str, port: int, grace_s: float = 30.0, command: Sequence[str] = KALASHI
) -> ChildSpec:
    """The MCP server over streamable HTTP; hung when /mcp stops answering.

    On paper it gets its own journal (``…-mcp.sqlite``): a paper account lives inside the
    process that opened it, and the loop already holds the loop's.
    """
    own = journal.with_name(journal.stem + "-mcp" + journal.suffix) if mode == "paper" else journal
    argv = [
        *command,
        "mcp-serve",
        "--transport",
        "http",
        "--port",
        str(port),
        f"--{mode}",
        "--journal",
        str(own),
        "--profile",
        profile,
        "--quiet",
    ]
    return ChildSpec(
        "mcp", tuple(argv), probe=probe_all([mcp_url(port)]), startup_grace_s=grace_s, ready=journal_exists(journal)
    )


def parse_pairs(values: Sequence[str], what: str) -> list[tuple[str, str]]:
    """Parse ``NAME=VALUE`` options.

    Raises:
        UsageError: a value without ``=`` or with an empty name.
    """
    out = []
    for v in values:
        name, sep, rest = v.partition("=")
        name = name.strip()
        if not sep or not name or not rest.strip():
            raise UsageError(f"{what} must look like NAME=VALUE, got {v!r}")
        if not all(ch.isalnum() or ch in "-_" for ch in name):
            raise UsageError(f"{what} name {name!r} may only use letters, digits, - and _")
        out.append((name, rest.strip()))
    return out


def custom_child(name: str, command: str, probe_url: str | None, grace_s: float = 30.0) -> ChildSpec:
    """Any command line (split like a shell would, never run through one).

    Raises:
        UsageError: the command is empty or cannot be split.
    """
    try:
        argv = tuple(shlex.split(command))
    except ValueError as e:
        raise UsageError(f"cannot read the command for {name}: {e}") from None
    if not argv:
        raise UsageError(f"empty command for {name}")
    return ChildSpec(name, argv, probe=probe_all([probe_url]) if probe_url else None, startup_grace_s=grace_s)
