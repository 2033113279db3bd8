"""The MCP Inspector's own ``--strict`` check passes against `kalashi mcp-serve` (issue 19 item 8).

``@modelcontextprotocol/inspector`` (pinned in tests/mcp/inspector/package.json and its lock) is
installed with ``npm ci`` into tests/mcp/inspector/node_modules the first time; its CLI lists
the tools of a real stdio ``kalashi mcp-serve`` subprocess and, with ``--strict``, exits 6 on any
schema portability error (a bare ``true``/``false`` where a schema object belongs) and prints
every finding, warnings included. Needs Node and npm: skipped without them, failed under
``CI=true``. tests/mcp/test_mcp_schemas.py applies the same rules in Python.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import needs
from mcp_helpers import SIM, child_env, kalashi_command

HERE = Path(__file__).resolve().parent / "inspector"
LAUNCHER = HERE / "node_modules" / "@modelcontextprotocol" / "inspector" / "clients" / "launcher" / "build" / "index.js"


def _installed() -> Path:
    needs.tool("node", "the MCP Inspector is an npm package")
    needs.tool("npm", "the MCP Inspector is an npm package")
    stamp = HERE / "node_modules" / ".package-lock.json"
    lock = HERE / "package-lock.json"
    if not LAUNCHER.exists() or not stamp.exists() or stamp.stat().st_mtime < lock.stat().st_mtime:
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=HERE, check=True, timeout=600)
    return LAUNCHER


def test_inspector_strict_finds_nothing_in_tools_list(tmp_path: Path) -> None:
    launcher = _installed()
    res = subprocess.run(
        [
            "node",
            str(launcher),
            "--cli",
            *kalashi_command(),
            "mcp-serve",
            "--source",
            SIM,
            "--journal",
            str(tmp_path / "j.sqlite"),
            "--method",
            "tools/list",
            "--strict",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
        env=child_env(tmp_path / "home"),
        cwd=tmp_path,
    )
    assert res.returncode == 0, res.stderr[-4000:]
    assert '"name": "amend_order"' in res.stdout and '"name": "get_candlesticks"' in res.stdout
    # with --strict every finding is printed, warnings too: there are none
    assert "Error: tool" not in res.stderr and "Warning: tool" not in res.stderr, res.stderr[-4000:]
    assert "portability" not in res.stderr, res.stderr[-4000:]


def test_inspector_strict_fails_on_an_unportable_schema(tmp_path: Path) -> None:
    """The check above can fail: the same tools with one bare ``items: false`` make the Inspector exit 6."""
    launcher = _installed()
    broken = Path(__file__).resolve().parent / "inspector_broken_server.py"
    res = subprocess.run(
        [
            "node",
            str(launcher),
            "--cli",
            sys.executable,
            str(broken),
            str(tmp_path / "j.sqlite"),
            "--method",
            "tools/list",
            "--strict",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
        env=child_env(tmp_path / "home"),
        cwd=tmp_path,
    )
    assert res.returncode == 6, (res.returncode, res.stderr[-4000:])
    assert 'Error: tool "get_markets"' in res.stderr and "outputSchema.properties.broken.items" in res.stderr
    assert "1 error, 0 warnings" in res.stderr, res.stderr[-4000:]
