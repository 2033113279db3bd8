"""Tool schemas: portable (the Inspector's --strict rules, in Python), described, compact — and still exact.

``kalashi_cli.mcp.schemas.lint`` applies the rules of the MCP Inspector's schema lint
(``--strict``), so this holds without Node; tests/mcp/test_mcp_inspector.py runs the Inspector
itself. The compaction that shrinks ``tools/list`` must not change what the schemas accept.
"""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest
from mcp import Client
from mcp_helpers import structured

from kalashi_cli.mcp.schemas import Finding, compact_output, lint, portable, record_schema, share_defs
from kalashi_cli.mcp.server import TOOL_NAMES, build_server
from kalashi_cli.service import TradingService

pytestmark = pytest.mark.anyio


async def _tools(service: TradingService) -> list[Any]:
    async with Client(build_server(service)) as c:
        return list((await c.list_tools()).tools)


async def test_every_schema_passes_the_inspectors_strict_rules(service: TradingService) -> None:
    tools = await _tools(service)
    assert {t.name for t in tools} == set(TOOL_NAMES)
    findings = {
        (t.name, kind): lint(schema)
        for t in tools
        for kind, schema in (("input", t.input_schema), ("output", t.output_schema))
    }
    assert {k: v for k, v in findings.items() if v} == {}  # no error and no warning anywhere


def test_lint_flags_what_the_inspector_flags() -> None:
    tuple_schema = {"type": "array", "prefixItems": [{"type": "string"}, {"type": "string"}], "items": False}
    bad = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "depth": tuple_schema,
            "any": True,
            "fair": {"type": "object", "propertyNames": {}},
            "maybe": {"type": ["string", "null"]},
            "far": {"$ref": "https://example.com/s.json"},
        },
    }
    assert sorted((f.rule, f.severity, f.path) for f in lint(bad)) == [
        ("boolean-schema", "error", ".properties.any"),
        ("boolean-schema", "error", ".properties.depth.items"),
        ("remote-ref", "warning", ".properties.far"),
        ("type-union", "warning", ".properties.maybe"),
        ("untyped-schema", "warning", ".properties.fair.propertyNames"),
    ]
    # the market record as the record generator writes it has the tuple's bare `false` (issue 19: 8 errors)
    raw = record_schema("market")
    assert Finding("boolean-schema", "error", ".properties.depth.anyOf[0].properties.yes.items.items") in lint(raw)
    assert lint(portable(raw)) == []
    fixed = portable(bad)
    assert [f.rule for f in lint(fixed)] == ["boolean-schema", "remote-ref"]  # `true` and remote refs stay: ours
    assert fixed["properties"]["depth"] == {
        "type": "array",
        "prefixItems": [{"type": "string"}, {"type": "string"}],
        "minItems": 2,
        "maxItems": 2,
    }
    assert fixed["properties"]["maybe"] == {"anyOf": [{"type": "string"}, {"type": "null"}]}


def _market(**over: Any) -> dict[str, Any]:
    rec = {
        "kind": "market",
        "ticker": "KX-A",
        "event_ticker": "KX",
        "series_ticker": "KX",
        "title": "t",
        "category": "c",
        "status": "active",
        "close_time": "2026-01-01T00:00:00Z",
        "yes_bid": "0.4500",
        "yes_ask": None,
        "no_bid": None,
        "no_ask": "0.5500",
        "yes_bid_size": "10.00",
        "yes_ask_size": "0.00",
        "volume": "1.00",
        "open_interest": "2.00",
        "fee_type": "quadratic",
        "fee_multiplier": "1",
        "price_ranges": [{"start": "0.0000", "end": "1.0000", "step": "0.0100"}],
        "depth": {"yes": [["0.4500", "10.00"]], "no": []},
        "v": 1,
    }
    return {**rec, **over}


@pytest.mark.parametrize(
    ("record", "valid"),
    [
        (_market(), True),
        (_market(yes_bid="0.45"), False),  # four decimals, always
        (_market(volume="1"), False),
        (_market(depth={"yes": [["0.4500", "10.00", "x"]], "no": []}), False),  # a level is [price, size]
        (_market(depth={"yes": [["0.4500"]], "no": []}), False),
        ({k: v for k, v in _market().items() if k != "ticker"}, False),
    ],
)
def test_compaction_accepts_exactly_what_the_record_schema_accepts(record: dict[str, Any], valid: bool) -> None:
    raw = record_schema("market")
    small = compact_output(portable(raw))
    assert "$defs" in small and len(json.dumps(small)) < len(json.dumps(raw)) * 0.7
    for schema in (raw, small):
        ok = jsonschema.Draft202012Validator(schema).is_valid(record)
        assert ok is valid, json.dumps(schema)[:200]


def test_shared_definitions_are_named_and_local() -> None:
    price = {"type": "string", "pattern": r"^-?[0-9]+\.[0-9]{4}$"}
    schema = {
        "type": "object",
        "properties": {
            "a": price,
            "b": price,
            "c": {"anyOf": [price, {"type": "null"}]},
            "d": {"anyOf": [price, {"type": "null"}]},
        },
    }
    shared = share_defs(schema)
    assert shared["properties"]["a"] == {"$ref": "#/$defs/price"}
    assert shared["properties"]["c"] == {"$ref": "#/$defs/price_or_null"}
    assert shared["$defs"]["price_or_null"] == {"anyOf": [{"$ref": "#/$defs/price"}, {"type": "null"}]}
    assert jsonschema.Draft202012Validator(shared).is_valid({"a": "0.1000", "c": None})
    assert not jsonschema.Draft202012Validator(shared).is_valid({"d": "0.1"})


def _properties(schema: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Every property of an input schema, nested objects (a batch's orders) included."""
    out = []
    for name, prop in schema.get("properties", {}).items():
        out.append((name, prop))
        for branch in [prop, *prop.get("anyOf", [])]:
            items = branch.get("items", {})
            if isinstance(items, dict) and "properties" in items:
                out += [(f"{name}[].{n}", p) for n, p in _properties(items)]
    return out


async def test_every_parameter_is_described(service: TradingService) -> None:
    undescribed = [
        (t.name, name)
        for t in await _tools(service)
        for name, prop in _properties(t.input_schema)
        if not prop.get("description")
    ]
    assert undescribed == []


async def test_answers_are_sized_for_a_model(service: TradingService) -> None:
    async with Client(build_server(service)) as c:
        listed = await c.list_tools()
        res = await c.call_tool("get_markets", {})
        nxt = await c.call_tool("get_markets", {"cursor": structured(res)["cursor"]})
    body = structured(res)
    assert body["count"] == 20 and body["cursor"] == "20"
    page2 = structured(nxt)
    assert page2["count"] == 20 and not {m["ticker"] for m in body["markets"]} & {m["ticker"] for m in page2["markets"]}
    text = "".join(b.text for b in res.content)
    assert len(text) < 3000 and "{" not in text  # a short summary, not the JSON again
    assert 'next page: cursor "20"' in text
    # the whole tool list, compact as on the wire: a regression bound, far under what one market page used to be
    wire = json.dumps(
        [t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in listed.tools], separators=(",", ":")
    )
    assert len(wire) < 75_000
