"""How much of a model's context `kalashi mcp-serve` takes: tools/list and a default get_markets answer.

Builds the server over a paper account on the default sim (``sim``: seed 0, 2000 markets) and
talks to it through the SDK's in-memory client, so the figures are exactly what a client
receives (compact JSON, as on the wire). Printed in KB (1000 bytes):

* ``tools/list``: the whole result (names, descriptions, input and output schemas, annotations),
  and the part a model reads (descriptions and input schemas);
* ``get_markets`` with its default arguments: the text part and the structured content.

    .venv/bin/python bench/mcp_sizes.py            # a table
    .venv/bin/python bench/mcp_sizes.py --json     # one JSON object

The figures are in docs/mcp.md ("Answer sizes").
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any


def _size(x: Any) -> int:
    return len(json.dumps(x, separators=(",", ":"), ensure_ascii=False).encode())


async def measure(source: str) -> dict[str, Any]:
    from mcp import Client

    from kalashi_cli.mcp.server import build_server
    from kalashi_cli.service import TradingService

    with tempfile.TemporaryDirectory() as d:
        svc = TradingService("default", mode="paper", source=source, journal_path=Path(d) / "j.sqlite")
        try:
            async with Client(build_server(svc)) as c:
                listed = await c.list_tools()
                tools = [t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in listed.tools]
                res = await c.call_tool("get_markets", {})
        finally:
            svc.close()
    text = sum(len(getattr(b, "text", "").encode()) for b in res.content)
    return {
        "source": source,
        "tools": len(tools),
        "tools_list_bytes": _size({"tools": tools}),
        "model_visible_bytes": sum(len(t.get("description", "").encode()) + _size(t["inputSchema"]) for t in tools),
        "get_markets_count": (res.structured_content or {}).get("count"),
        "get_markets_text_bytes": text,
        "get_markets_structured_bytes": _size(res.structured_content),
    }


def main() -> int:
    import anyio

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--source", default="sim", help="market data source (default: sim)")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args()
    r = anyio.run(measure, args.source)
    if args.json:
        print(json.dumps(r))
        return 0
    kb = lambda n: f"{n / 1000:.1f} KB"  # noqa: E731
    print(f"tools/list ({r['tools']} tools)          {kb(r['tools_list_bytes'])}")
    print(f"  descriptions + input schemas   {kb(r['model_visible_bytes'])}")
    print(f"get_markets default ({r['get_markets_count']} markets)")
    print(f"  text                           {kb(r['get_markets_text_bytes'])}")
    print(f"  structured content             {kb(r['get_markets_structured_bytes'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
