"""Gemini's OpenAPI-subset `Schema` → JSON Schema, and reading Gemini's JSON in either field spelling. Pure.

Gemini's REST API takes protobuf JSON, where `functionDeclarations` and `function_declarations` are the
same field (the SDKs send camelCase, some recorders snake_case): `field` reads both. A `Schema`
(`parameters`, `responseSchema`) is OpenAPI 3.0's subset with upper-case `type` names; `to_json_schema`
converts it:

- `type` → lower case (`STRING` → `string`); `nullable: true` → `type: [t, "null"]` (or an added
  `{"type": "null"}` branch under `anyOf`).
- `format`, `description`, `enum`, `properties`, `required`, `items`, `anyOf`, `minItems`, `maxItems`,
  `minLength`, `maxLength`, `minProperties`, `maxProperties`, `minimum`, `maximum`, `pattern`, `title`,
  `default`, `example` → the JSON Schema keyword of the same meaning (`example` → `examples: [..]`);
  integer limits sent as strings (protobuf JSON writes int64 so) become integers.
- `additionalProperties` (a boolean or a Schema) as it is; `defs` → `$defs`, `ref` → `$ref` (a
  `#/defs/…` pointer → `#/$defs/…`).
- `propertyOrdering` is Gemini's output-order hint: dropped. Any other keyword → 400 naming it.
"""

from __future__ import annotations

import re
from typing import Any, Final

from llmgw.translate.json_fields import JSON, arr, bad, obj, string

__all__ = ["field", "to_json_schema"]

_SAME: Final = ("format", "description", "enum", "pattern", "title", "default", "minimum", "maximum")
_COUNTS: Final = ("minItems", "maxItems", "minLength", "maxLength", "minProperties", "maxProperties")
_DROPPED: Final = ("propertyOrdering", "property_ordering")
_TYPES: Final = frozenset({"string", "number", "integer", "boolean", "array", "object", "null"})


def field(body: JSON, name: str) -> Any:
    """`body[name]` (camelCase) or its snake_case spelling; None when neither is there."""
    value = body.get(name)
    if value is None:
        value = body.get(re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), name))
    return value


def to_json_schema(schema: Any, path: str) -> JSON:
    """The JSON Schema for a Gemini `Schema` at `path` (a 400 naming the keyword it cannot read)."""
    source = obj(schema, path)
    out: JSON = {}
    nullable = False
    for key, value in source.items():
        camel = re.sub(r"_([a-z])", lambda m: m.group(1).upper(), key)
        kpath = f"{path}.{key}"
        if camel == "type":
            name = value.lower() if isinstance(value, str) else None
            if name == "type_unspecified":
                continue
            if name not in _TYPES:
                raise bad(kpath, f"unknown type {value!r}")
            out["type"] = name
        elif camel == "nullable":
            nullable = value is True
        elif camel in _SAME:
            out[camel] = value
        elif camel in _COUNTS:
            out[camel] = _count(value, kpath)
        elif camel == "example":
            out["examples"] = [value]
        elif camel == "required":
            out["required"] = arr(value, kpath)
        elif camel == "properties":
            out["properties"] = {
                name: to_json_schema(sub, f"{kpath}.{name}") for name, sub in obj(value, kpath).items()
            }
        elif camel == "items":
            out["items"] = to_json_schema(value, kpath)
        elif camel == "anyOf":
            out["anyOf"] = [to_json_schema(sub, f"{kpath}[{i}]") for i, sub in enumerate(arr(value, kpath))]
        elif camel == "additionalProperties":
            out[camel] = value if isinstance(value, bool) else to_json_schema(value, kpath)
        elif camel == "defs":
            out["$defs"] = {
                name: to_json_schema(sub, f"{kpath}.{name}") for name, sub in obj(value, kpath).items()
            }
        elif camel == "ref":
            out["$ref"] = re.sub(r"^#/defs/", "#/$defs/", string(value, kpath))
        elif key not in _DROPPED:
            raise bad(kpath, "not a keyword of Gemini's Schema")
    if nullable:
        if "type" in out:
            out["type"] = [out["type"], "null"]
        elif "anyOf" in out:
            out["anyOf"].append({"type": "null"})
    return out


def _count(value: Any, path: str) -> int:
    if isinstance(value, str) and value.isdigit():
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    raise bad(path, "expected a non-negative integer")
