"""docs/mcp.md lists every tool with every parameter, every resource template and every prompt.

The tables under "## Tools" are the user's reference: a tool, argument, template or prompt added
to the server without a row (or a row left for one that is gone) fails here.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from mcp import Client

from kalashi_cli.mcp.server import PROMPT_NAMES, RESOURCE_TEMPLATES, TOOL_NAMES, build_server
from kalashi_cli.service import TradingService

pytestmark = pytest.mark.anyio

DOC = Path(__file__).resolve().parents[2] / "docs" / "mcp.md"


def _rows() -> dict[str, list[str]]:
    """First-column names (in backticks) of every table row in docs/mcp.md's Tools section → the row's cells."""
    text = DOC.read_text(encoding="utf-8")
    section = text.split("\n## Tools\n", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, list[str]] = {}
    for line in section.splitlines():
        m = re.match(r"^\| `([^`]+)`[^|]*\|(.*)\|$", line)
        if m:
            rows.setdefault(m.group(1), [c.strip() for c in m.group(2).split("|")])  # the first table naming it
    return rows


async def test_every_tool_and_parameter_has_its_row(service: TradingService) -> None:
    rows = _rows()
    async with Client(build_server(service)) as c:
        tools = {t.name: t for t in (await c.list_tools()).tools}
    assert set(tools) == set(TOOL_NAMES)
    tool_rows = {name for name in rows if re.fullmatch(r"[a-z_]+", name) and name not in PROMPT_NAMES}
    assert tool_rows == set(TOOL_NAMES), "docs/mcp.md's tool tables and the server's tools differ"
    missing = [
        (name, p)
        for name, t in tools.items()
        for p in t.input_schema.get("properties", {})
        if not re.search(rf"`{p}\??`|\b{p}\b", rows[name][0])
    ]
    assert missing == [], "parameters not in their tool's row of docs/mcp.md"


def test_every_resource_template_and_prompt_has_its_row() -> None:
    rows = _rows()
    assert {r for r in rows if r.startswith("kalashi://") and "{" in r} == set(RESOURCE_TEMPLATES)
    assert {r for r in rows if r in PROMPT_NAMES} == set(PROMPT_NAMES)
    assert {"kalashi://profile", "kalashi://metrics/latest"} <= set(rows)
