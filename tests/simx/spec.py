"""Validators built from Kalshi's published specs in ../shared/kalshi-api (skip when absent).

* REST 3.28 (``openapi.assembled-from-docs-3.28.0.yaml``): the success response schema of each
  operation, OpenAPI 3.0 converted to JSON Schema (``nullable`` → ``null`` in the type,
  ``#/components/schemas`` → ``#/$defs``);
* REST 3.34 (``schemas-3.34.0.json``): the SDK models' JSON Schema by name (newer required lists);
* WebSocket (``asyncapi.yaml``): message payload schemas by message name.

Date-time fields are checked by parsing them (jsonschema does not check formats by default).
"""

from __future__ import annotations

import copy
import json
from datetime import datetime
from functools import cache
from typing import Any

import jsonschema
import yaml

from .conftest import SPEC_DIR, shared_file

Json = dict[str, Any]


def available() -> bool:
    """Whether the published specs are here (../shared is not part of the repository)."""
    return (SPEC_DIR / "asyncapi.yaml").exists() and (SPEC_DIR / "schemas-3.34.0.json").exists()


def _openapi_to_jsonschema(node: Any) -> Any:
    """Convert an OpenAPI 3.0 schema tree to JSON Schema 2020-12."""
    if isinstance(node, list):
        return [_openapi_to_jsonschema(x) for x in node]
    if not isinstance(node, dict):
        return node
    out = {k: _openapi_to_jsonschema(v) for k, v in node.items() if k not in ("nullable", "example", "examples")}
    if "$ref" in out and isinstance(out["$ref"], str):
        out["$ref"] = out["$ref"].replace("#/components/schemas/", "#/$defs/")
    if node.get("nullable") is True:
        if "type" in out:
            t = out["type"]
            out["type"] = [*t, "null"] if isinstance(t, list) else [t, "null"]
            if "enum" in out:
                out["enum"] = [*out["enum"], None]
        else:
            out = {"anyOf": [out, {"type": "null"}]}
    return out


@cache
def openapi() -> Json:
    doc: Json = yaml.safe_load(shared_file("kalshi-api", "openapi.assembled-from-docs-3.28.0.yaml").read_text())
    return doc


@cache
def _defs_328() -> Json:
    converted: Json = _openapi_to_jsonschema(openapi()["components"]["schemas"])
    return converted


def operation(method: str, path: str) -> Json:
    """The 3.28 operation object for ``METHOD /path`` (path relative to /trade-api/v2)."""
    op: Json = openapi()["paths"][path][method.lower()]
    return op


def success_codes(method: str, path: str) -> list[int]:
    return sorted(int(c) for c in operation(method, path)["responses"] if str(c).startswith("2"))


def _resolve_response(resp: Json) -> Json:
    ref = resp.get("$ref")
    if ref:
        out: Json = openapi()["components"]["responses"][ref.rsplit("/", 1)[1]]
        return out
    return resp


def validate_328(method: str, path: str, status: int, body: Any) -> None:
    """Validate a response body against the 3.28 operation's schema for ``status``.

    Raises:
        AssertionError: the status is not documented for the operation.
        jsonschema.ValidationError: the body does not match.
    """
    responses = operation(method, path)["responses"]
    resp = responses.get(str(status)) or responses.get(status)
    assert resp is not None, f"{method} {path}: status {status} is not in the spec ({sorted(responses)})"
    content = _resolve_response(resp).get("content", {}).get("application/json")
    if content is None:
        return
    schema = _openapi_to_jsonschema(content["schema"])
    if status >= 400 and isinstance(body, dict) and isinstance(body.get("error"), dict):
        body = body["error"]  # the spec's ErrorResponse is the inner object of Kalshi's {"error": …}
    _validate(schema, _defs_328(), body)


@cache
def _defs_334() -> Json:
    doc: Json = json.loads(shared_file("kalshi-api", "schemas-3.34.0.json").read_text())
    out: Json = doc["$defs"]
    return out


def validate_334(model: str, body: Any) -> None:
    """Validate against a 3.34 model (e.g. ``GetMarketsResponse``)."""
    assert model in _defs_334(), f"no model {model} in schemas-3.34.0.json"
    _validate({"$ref": f"#/$defs/{model}"}, _defs_334(), body)


def _validate(schema: Json, defs: Json, body: Any) -> None:
    full = {"$schema": "https://json-schema.org/draft/2020-12/schema", **copy.deepcopy(schema), "$defs": defs}
    jsonschema.Draft202012Validator(full).validate(body)
    _check_datetimes(body, full, defs)


def _check_datetimes(body: Any, schema: Json, defs: Json) -> None:
    """Every string the schema calls date-time parses as RFC 3339 (formats are not asserted by jsonschema)."""

    def walk(value: Any, sch: Any) -> None:
        if not isinstance(sch, dict):
            return
        ref = sch.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            walk(value, defs[ref.rsplit("/", 1)[1]])
            return
        for key in ("anyOf", "oneOf", "allOf"):
            for sub in sch.get(key, []):
                walk(value, sub)
        if sch.get("format") == "date-time" and isinstance(value, str):
            datetime.fromisoformat(value.replace("Z", "+00:00"))
        if isinstance(value, dict):
            for k, v in value.items():
                if k in sch.get("properties", {}):
                    walk(v, sch["properties"][k])
        if isinstance(value, list) and isinstance(sch.get("items"), dict):
            for v in value:
                walk(v, sch["items"])

    walk(body, schema)


@cache
def asyncapi() -> Json:
    doc: Json = yaml.safe_load(shared_file("kalshi-api", "asyncapi.yaml").read_text())
    return doc


def validate_ws(message: str, frame: Any) -> None:
    """Validate a WebSocket frame against the AsyncAPI message ``message`` (e.g. ``orderbookDelta``)."""
    doc = asyncapi()
    payload = doc["components"]["messages"][message]["payload"]
    schemas = doc["components"]["schemas"]
    root = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$ref": payload["$ref"].replace("#/components/schemas/", "#/$defs/"),
        "$defs": _ws_defs(json.dumps(schemas)),
    }
    jsonschema.Draft202012Validator(root).validate(frame)


@cache
def _ws_defs(schemas_json: str) -> Json:
    text = schemas_json.replace("#/components/schemas/", "#/$defs/")
    out: Json = json.loads(text)
    # The document's marketTicker pattern ^[A-Z0-9-]+$ rejects its own examples ("FED-23DEC-T3.00",
    # "HIGHNY-22DEC23-B53.5") and real tickers with a decimal strike: a spec bug, so it is not enforced.
    ticker = out.get("marketTicker", {})
    if ticker.get("pattern") == "^[A-Z0-9-]+$" and any("." in e for e in ticker.get("examples", [])):
        del ticker["pattern"]
    return out


#: WS message type → AsyncAPI message name.
WS_MESSAGES = {
    "subscribed": "subscribedResponse",
    "unsubscribed": "unsubscribedResponse",
    "error": "errorResponse",
    "orderbook_snapshot": "orderbookSnapshot",
    "orderbook_delta": "orderbookDelta",
    "ticker": "ticker",
    "trade": "trade",
    "fill": "fill",
    "user_order": "userOrder",
    "market_position": "marketPosition",
    "market_lifecycle_v2": "marketLifecycleV2",
}


def validate_ws_frame(frame: Json) -> None:
    """Validate any server frame by its ``type`` (``ok`` replies by their shape)."""
    kind = frame["type"]
    if kind == "ok":
        validate_ws("listSubscriptionsResponse" if isinstance(frame.get("msg"), list) else "okResponse", frame)
        return
    validate_ws(WS_MESSAGES[kind], frame)
