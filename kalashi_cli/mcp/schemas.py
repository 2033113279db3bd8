"""JSON Schemas the MCP server publishes: record schemas for embedding, portability, compaction, lint.

Tool schemas must be portable, not merely valid: a client that maps them onto a stricter
dialect rejects the whole tool list over one bare ``false``. :func:`portable` rewrites the few
spellings pydantic emits that clients refuse into equivalent ones, and :func:`lint` applies the
MCP Inspector's ``--strict`` portability rules (``core/json/schemaLint.ts`` of
``@modelcontextprotocol/inspector`` 2.x) so a test can hold every tool to them without Node:

* ``boolean-schema`` (error): a bare ``true``/``false`` where a schema object is expected (only
  ``additionalProperties``, ``unevaluatedProperties``, ``additionalItems`` and
  ``unevaluatedItems`` may be booleans);
* ``type-union`` (warning): ``type`` given as an array;
* ``remote-ref`` (warning): a ``$ref`` outside the document;
* ``untyped-schema`` (warning): a schema with no validation keyword at all (``{}``).

:func:`compact_output` drops what an output schema does not need to validate or explain a
result (pydantic's ``title``/``default`` keys and the unit descriptions the patterns already
state), which is most of ``tools/list``'s size.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from ..record_schema import schema_for

BOOLEAN_VALUED = frozenset({"additionalProperties", "unevaluatedProperties", "additionalItems", "unevaluatedItems"})
_SUB = (
    "items",
    "contains",
    "not",
    "propertyNames",
    "if",
    "then",
    "else",
    "additionalProperties",
    "unevaluatedProperties",
    "additionalItems",
    "unevaluatedItems",
    "contentSchema",
)
_SUB_ARRAY = ("allOf", "anyOf", "oneOf", "prefixItems")
_SUB_MAP = ("properties", "patternProperties", "dependentSchemas", "dependencies", "$defs", "definitions")
CONSTRAINING = frozenset(
    {
        "type",
        "enum",
        "const",
        "multipleOf",
        "maximum",
        "exclusiveMaximum",
        "minimum",
        "exclusiveMinimum",
        "maxLength",
        "minLength",
        "pattern",
        "format",
        "contentMediaType",
        "contentEncoding",
        "contentSchema",
        "maxItems",
        "minItems",
        "uniqueItems",
        "maxContains",
        "minContains",
        "maxProperties",
        "minProperties",
        "required",
        "dependentRequired",
        "allOf",
        "anyOf",
        "oneOf",
        "not",
        "items",
        "prefixItems",
        "contains",
        "additionalItems",
        "unevaluatedItems",
        "properties",
        "patternProperties",
        "additionalProperties",
        "unevaluatedProperties",
        "propertyNames",
        "dependentSchemas",
        "dependencies",
        "$ref",
        "$dynamicRef",
        "$recursiveRef",
    }
)
#: descriptions the record schemas repeat on every price, count and money field; their patterns say as much
UNIT_DESCRIPTIONS = frozenset(
    {
        "dollars, 4 decimals",
        "contracts, 2 decimals",
        "a decimal number",
        "dollars, 6 decimals",
        "dollars as a decimal string",
        "dollars",
    }
)


def record_schema(kind: str) -> dict[str, Any]:
    """Return the JSON Schema of one record kind, self-contained (``$defs`` inlined) for embedding."""
    schema = schema_for(kind)
    defs = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return inline(defs[ref.removeprefix("#/$defs/")])
            return {k: inline(v) for k, v in node.items()}
        if isinstance(node, list):
            return [inline(x) for x in node]
        return node

    out: dict[str, Any] = inline(schema)
    for k in ("$schema", "$id"):
        out.pop(k, None)
    return out


def inline_refs(schema: dict[str, Any]) -> dict[str, Any]:
    """Return ``schema`` with its local ``#/$defs/…`` references replaced by the definitions (no ``$defs``)."""
    defs = schema.get("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/") and ref.removeprefix("#/$defs/") in defs:
                return inline({**defs[ref.removeprefix("#/$defs/")], **{k: v for k, v in node.items() if k != "$ref"}})
            return {k: inline(v) for k, v in node.items() if k != "$defs"}
        if isinstance(node, list):
            return [inline(x) for x in node]
        return node

    out: dict[str, Any] = inline(schema)
    return out


def portable(node: Any) -> Any:
    """Return ``node`` with the spellings strict clients refuse rewritten into equivalent ones.

    * a tuple (``prefixItems`` with ``items: false``) gets ``minItems``/``maxItems`` instead of the
      bare ``false``: exactly as many items as ``prefixItems`` lists;
    * a ``propertyNames`` that constrains nothing (any key) is dropped;
    * ``type: [a, b]`` becomes ``anyOf: [{type: a}, {type: b}]``.
    """
    if isinstance(node, list):
        return [portable(x) for x in node]
    if not isinstance(node, dict):
        return node
    out = {k: portable(v) for k, v in node.items()}
    if isinstance(out.get("prefixItems"), list) and out.get("items") is False:
        n = len(out["prefixItems"])
        del out["items"]
        out["minItems"] = max(out.get("minItems", 0), n) if "minItems" in out else n
        out["maxItems"] = min(out.get("maxItems", n), n)
    names = out.get("propertyNames")
    if isinstance(names, dict) and not any(k in CONSTRAINING for k in names):
        del out["propertyNames"]  # it constrains nothing: any key
    kinds = out.get("type")
    if isinstance(kinds, list):
        del out["type"]
        branches = [{"type": t} for t in kinds]
        out["anyOf"] = branches if "anyOf" not in out else out["anyOf"] + branches
    return out


def compact_output(node: Any) -> Any:
    """Drop ``title``/``default`` keys, unit descriptions and ``additionalProperties: true`` (the default)
    from an output schema, and share its repeated value schemas through ``$defs`` (keeps what validates)."""
    return share_defs(_compact(node, drop=("title", "default"), units=True))


def compact_input(node: Any) -> Any:
    """Drop pydantic's ``title`` keys and ``default: null`` from an input schema; describe every property.

    pydantic writes the description of an optional argument (``X | None``) inside the ``X``
    branch of its ``anyOf``; clients show the property's own description, so it moves up.
    """
    return _hoist_descriptions(_drop_null_defaults(_compact(node, drop=("title",), units=False)))


def _hoist_descriptions(node: Any) -> Any:
    if isinstance(node, list):
        return [_hoist_descriptions(x) for x in node]
    if not isinstance(node, dict):
        return node
    out = {k: v if k in ("required", "enum", "const", "examples") else _hoist_descriptions(v) for k, v in node.items()}
    branches = out.get("anyOf")
    if "description" not in out and isinstance(branches, list):
        described = [b for b in branches if isinstance(b, dict) and "description" in b]
        if len(described) == 1:
            out["description"] = described[0]["description"]
            out["anyOf"] = [
                {k: v for k, v in b.items() if k != "description"} if b is described[0] else b for b in branches
            ]
    return out


def _drop_null_defaults(node: Any) -> Any:
    if isinstance(node, list):
        return [_drop_null_defaults(x) for x in node]
    if not isinstance(node, dict):
        return node
    return {
        k: (v if k in ("required", "enum", "const", "examples") else _drop_null_defaults(v))
        for k, v in node.items()
        if not (k == "default" and v is None)
    }


def without_descriptions(schema: dict[str, Any]) -> dict[str, Any]:
    """A record schema with only its own description (its fields' are in docs/records.md), for embedding."""
    top = schema.get("description")
    out: dict[str, Any] = _compact(schema, drop=("title", "description"), units=False)
    if top:
        out["description"] = top
    return out


_NAMED = {
    orjson.dumps({"pattern": pattern, "type": "string"}, option=orjson.OPT_SORT_KEYS).decode(): name
    for name, pattern in (
        ("price", r"^-?[0-9]+\.[0-9]{4}$"),
        ("count", r"^-?[0-9]+\.[0-9]{2}$"),
        ("money", r"^-?[0-9]+\.([0-9]{4}|[0-9]{6})$"),
        ("decimal", r"^-?[0-9]+(\.[0-9]+)?$"),
    )
}
_NULL = {"type": "null"}


def _key(node: Any) -> str:
    return orjson.dumps(node, option=orjson.OPT_SORT_KEYS).decode()


def _is_leaf(node: Any) -> bool:
    """A value schema: no subschemas of its own (a ``$ref`` counts as a leaf once shared)."""
    return isinstance(node, dict) and bool(node) and not any(k in node for k in (*_SUB, *_SUB_ARRAY, *_SUB_MAP))


def _is_nullable(node: Any) -> bool:
    """``{anyOf: [<leaf>, {type: null}]}`` (how pydantic writes ``X | None``)."""
    return (
        isinstance(node, dict)
        and set(node) == {"anyOf"}
        and len(node["anyOf"]) == 2
        and node["anyOf"][1] == _NULL
        and _is_leaf(node["anyOf"][0])
    )


def share_defs(schema: Any, *, min_uses: int = 2, min_size: int = 40) -> Any:
    """Move value schemas used ``min_uses`` times or more into ``$defs`` and point at them with ``$ref``.

    Two passes: leaf schemas (a price string, a count string …), then nullable ones
    (``anyOf: [<leaf or ref>, null]``). Every ``$ref`` points at a definition in the same
    document; the ``$defs`` pydantic wrote (models used more than once) stay.
    """
    if not isinstance(schema, dict):
        return schema
    taken = set(schema.get("$defs", {}))
    defs: dict[str, Any] = {}
    for pick, suffix in ((_is_leaf, ""), (_is_nullable, "_or_null")):
        schema = _share(schema, defs, taken, pick, suffix, min_uses, min_size)
    if defs:
        schema = {**schema, "$defs": {**schema.get("$defs", {}), **defs}}
    return schema


def _share(
    schema: dict[str, Any], defs: dict[str, Any], taken: set[str], pick: Any, suffix: str, min_uses: int, min_size: int
) -> dict[str, Any]:
    counts: dict[str, int] = {}

    def visit(node: Any, top: bool, fn: Any) -> Any:
        if isinstance(node, list):
            return [visit(x, False, fn) for x in node]
        if not isinstance(node, dict):
            return node
        if not top and pick(node):
            return fn(node)
        out: dict[str, Any] = {}
        for k, v in node.items():
            if k in _SUB_MAP and isinstance(v, dict):
                out[k] = {name: visit(sub, False, fn) for name, sub in v.items()}
            elif k in ("required", "enum", "const", "examples"):
                out[k] = v
            else:
                out[k] = visit(v, False, fn)
        return out

    def tally(node: dict[str, Any]) -> dict[str, Any]:
        counts[_key(node)] = counts.get(_key(node), 0) + 1
        return node

    visit(schema, True, tally)
    names: dict[str, str] = {}
    for k, n in counts.items():
        if n < min_uses or len(k) < min_size:
            continue
        node = orjson.loads(k)
        inner = node["anyOf"][0] if suffix else node
        base = (
            _NAMED.get(_key(inner))
            or str(inner.get("$ref", "")).removeprefix("#/$defs/")
            or (str(inner["type"]) if set(inner) == {"type"} else "")
            or f"d{len(defs) + 1}"
        )
        name = base + suffix if base + suffix not in defs and base + suffix not in taken else f"d{len(defs) + 1}"
        names[k] = name
        defs[name] = node
    if not names:
        return schema
    out: dict[str, Any] = visit(
        schema, True, lambda node: {"$ref": f"#/$defs/{names[_key(node)]}"} if _key(node) in names else node
    )
    return out


def _compact(node: Any, *, drop: tuple[str, ...], units: bool) -> Any:
    if isinstance(node, list):
        return [_compact(x, drop=drop, units=units) for x in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for k, v in node.items():
        if k in drop:
            continue
        if units and k == "description" and v in UNIT_DESCRIPTIONS:
            continue
        if units and k == "additionalProperties" and v is True:
            continue
        if k in _SUB_MAP and isinstance(v, dict):  # names here are property names, not keywords
            out[k] = {name: _compact(sub, drop=drop, units=units) for name, sub in v.items()}
        elif k in ("required", "enum", "const", "examples"):
            out[k] = v
        else:
            out[k] = _compact(v, drop=drop, units=units)
    return out


@dataclass(frozen=True, slots=True)
class Finding:
    """One portability finding, as the Inspector reports it."""

    rule: str
    severity: str  # error | warning
    path: str


def lint(schema: Any) -> list[Finding]:
    """Return the Inspector ``--strict`` findings for one schema (see the module docstring)."""
    found: list[Finding] = []
    has_ids = _declares_id(schema)

    def walk(node: Any, path: str, keyword: str | None, depth: int) -> None:
        if depth > 64:
            return
        if isinstance(node, bool):
            if keyword is None or keyword not in BOOLEAN_VALUED:
                found.append(Finding("boolean-schema", "error", path))
            return
        if not isinstance(node, dict):
            return
        kinds = node.get("type")
        if (
            isinstance(kinds, list)
            and kinds
            and all(isinstance(t, str) for t in kinds)
            and len(set(kinds)) == len(kinds)
        ):
            found.append(Finding("type-union", "warning", path))
        ref = node.get("$ref")
        if isinstance(ref, str) and ref and not ref.startswith("#") and not has_ids:
            found.append(Finding("remote-ref", "warning", path))
        constrains = any(k in CONSTRAINING for k in node) or ("if" in node and ("then" in node or "else" in node))
        if not constrains and keyword != "not":
            found.append(Finding("untyped-schema", "warning", path))
        for key, sub, kw in _children(node, path):
            walk(sub, key, kw, depth + 1)

    walk(schema, "", None, 0)
    return found


def _children(node: dict[str, Any], path: str) -> list[tuple[str, Any, str]]:
    out: list[tuple[str, Any, str]] = []
    for key in _SUB_MAP:
        m = node.get(key)
        if isinstance(m, dict):
            out += [(f"{path}.{key}.{name}", sub, key) for name, sub in m.items()]
    for key in _SUB_ARRAY:
        arr = node.get(key)
        if isinstance(arr, list):
            out += [(f"{path}.{key}[{i}]", sub, key) for i, sub in enumerate(arr)]
    for key in _SUB:
        if key not in node:
            continue
        v = node[key]
        if key == "items" and isinstance(v, list):
            out += [(f"{path}.items[{i}]", sub, key) for i, sub in enumerate(v)]
        else:
            out.append((f"{path}.{key}", v, key))
    return out


def _declares_id(node: Any, depth: int = 0) -> bool:
    if depth > 64 or not isinstance(node, dict):
        return False
    if isinstance(node.get("$id"), str) and node["$id"]:
        return True
    return any(_declares_id(sub, depth + 1) for _, sub, _ in _children(node, ""))
