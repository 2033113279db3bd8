"""`kalashi mcp-serve`'s tools over stdio with one output schema made unportable (a bare ``items: false``).

tests/mcp/test_mcp_inspector.py runs the MCP Inspector's ``--strict`` check against this server to
show the check can fail: the same server with its schemas untouched passes. Usage:
``python inspector_broken_server.py JOURNAL``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from kalashi_cli.mcp.server import build_server, serve_stdio
from kalashi_cli.service import TradingService


def main(journal: str) -> None:
    service = TradingService(
        "default", mode="paper", source="sim:seed=1,markets=50", journal_path=Path(journal), allow_trading=False
    )
    try:
        server = build_server(service)
        schema = server._tool_manager.get_tool("get_markets").fn_metadata.output_schema
        assert schema is not None
        schema["properties"]["broken"] = {"type": "array", "prefixItems": [{"type": "string"}], "items": False}
        serve_stdio(server)
    finally:
        service.close()


if __name__ == "__main__":
    main(sys.argv[1])
