"""Validate OpenAI Responses API payloads against OpenAI's published schemas.

The schemas are ``tests/fixtures/openai_openapi/responses.schema.json``: the component schemas of
openai/openai-openapi's ``openapi.yaml`` reachable from ``Response``, ``ResponseStreamEvent``,
``CreateResponse``, ``ResponseItemList`` and ``ErrorResponse`` (``scripts/extract-openai-schema`` writes
it; its README gives the commit). They are OpenAPI 3.1 schemas, i.e. JSON Schema 2020-12 plus OpenAPI's
own keywords, so ``jsonschema``'s Draft 2020-12 validator checks them once two OpenAPI-isms are read as
OpenAPI means them:

- ``discriminator`` (always ``propertyName: type`` here, never a ``mapping``): the union's branch is the
  one whose ``type`` the payload names. Each branch's allowed values come from its ``enum``/``const``
  (through ``$ref`` and nested unions); a payload naming no branch's value fails with the known values
  listed, and one that names a value is checked against that branch alone, so its errors are precise. A
  payload without the property may only take branches that do not require it (``EasyInputMessage``'s
  ``type`` is optional). JSON Schema alone would try every branch and say only "not valid under any".
- ``oneOf`` is read as ``anyOf``: OpenAPI generators (and this document) use ``oneOf`` for tagged unions
  whose branches may overlap (a message item matches both ``EasyInputMessage`` and ``InputMessage``),
  where "exactly one" would reject what the API accepts.
- ``nullable`` (OpenAPI 3.0) does not occur: nullability is ``anyOf`` with ``type: "null"``, which JSON
  Schema reads natively. Formats (``unixtime``, ``uri``) are annotations, not checked.

Nothing here is strict about extra fields: the document does not forbid them (the API adds fields before
the document lists them), so a recorded response with newer fields still validates.

Where the document is stricter than what the API sent and accepted in the recordings of
``tests/fixtures/providers/openai/responses``, the schema is relaxed, each time in one place, with the
recording that needs it: :data:`RELAXATIONS`. ``tests/unit/test_responses_schema.py`` checks that each
one is still needed (that recording fails without it), so none outlives its reason.
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, ValidationError, validators
from jsonschema.exceptions import best_match

__all__ = [
    "RELAXATIONS",
    "SCHEMA_FILE",
    "Relaxation",
    "ResponsesSchemaError",
    "client_capture",
    "errors",
    "json_path",
    "request_parameters",
    "validate_error_body",
    "validate_event",
    "validate_item_list",
    "validate_request",
    "validate_response",
]

SCHEMA_FILE = Path(__file__).resolve().parents[1] / "fixtures" / "openai_openapi" / "responses.schema.json"
_REF = "#/components/schemas/"
_DISPATCH = "x-llmgw-discriminator"  # our keyword, replacing discriminator + oneOf/anyOf
_KINDS = {
    "response": "Response",
    "event": "ResponseStreamEvent",
    "request": "CreateResponse",
    "item_list": "ResponseItemList",
    "error": "ErrorResponse",
}


CLIENT_CAPTURES = Path(__file__).resolve().parents[1] / "fixtures" / "clients"


@dataclass(frozen=True, slots=True)
class Relaxation:
    """Where the document is stricter than the API: in component ``schema``, at ``path`` (keys and
    indexes), ``null`` is allowed too (``optional`` None) or property ``optional`` is not required.
    ``needed_by``: the recorded case (of ``openai/responses``) that the unrelaxed document rejects, or
    ``client:<file>``, a real client's request captured in ``tests/fixtures/clients`` (its README says
    why the API takes it)."""

    name: str
    schema: str
    path: tuple[str | int, ...]
    optional: str | None
    needed_by: str
    why: str


RELAXATIONS = (
    Relaxation("user may be null", "ModelResponseProperties", ("properties", "user"), None,
               "create.text", "every recorded response echoes `user: null`"),
    Relaxation("usage may be null", "Response", ("allOf", 2, "properties", "usage"), None,
               "create.stream_text", "response.created/in_progress carry `usage: null`"),
    Relaxation("cache_write_tokens optional", "ResponseUsage", ("properties", "input_tokens_details"),
               "cache_write_tokens", "create.text", "no recorded usage has it (2025-03 to 2026-04)"),
    Relaxation("output_text logprobs optional", "OutputTextContent", (), "logprobs",
               "create.parallel_tool_results", "recorded before the API added `logprobs` (2025-03)"),
    Relaxation("json_schema description may be null", "TextResponseFormatJsonSchema",
               ("properties", "description"), None, "create.json_schema",
               "the API echoes `description: null` for a format without one"),
    Relaxation("arguments.done name optional", "ResponseFunctionCallArgumentsDoneEvent", (), "name",
               "create.stream_tool_call", "recorded before the event carried `name` (2025-09)"),
    Relaxation("web_search_call action optional", "WebSearchToolCall", (), "action",
               "create.stream_web_search", "an in-progress web_search_call (output_item.added) has none"),
    Relaxation("function_call status may be null", "FunctionToolCall", ("properties", "status"), None,
               "create.tool_result", "a client sent `status: null` in an input item; the API accepted it"),
    Relaxation("reasoning content may be null", "ReasoningItem", ("properties", "content"), None,
               "client:codex/exec.tool_result.request.json",
               "Codex CLI sends every reasoning item back with `content: null` (it keeps OpenAI's as such)"),
)  # fmt: skip


def client_capture(needed_by: str) -> Any:
    """The captured request body a ``client:<file>`` relaxation names."""
    return json.loads((CLIENT_CAPTURES / needed_by.removeprefix("client:")).read_text(encoding="utf-8"))


class ResponsesSchemaError(AssertionError):
    """A payload that breaks OpenAI's schema: the best-matching error first, then every error found."""

    def __init__(self, kind: str, found: list[ValidationError]) -> None:
        self.kind = kind
        self.errors = found
        best = best_match(found)
        lines = [f"not a valid {_KINDS[kind]}: {_describe(best)}"]
        lines += [f"  - {_describe(e)}" for e in found[:20] if e is not best]
        super().__init__("\n".join(lines))


def _describe(error: ValidationError) -> str:
    return f"{json_path(error.absolute_path) or '(root)'}: {error.message}"


def json_path(parts: Any) -> str:
    """A payload path as OpenAI names parameters: ``input[0].content``."""
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return text


# -- reading the document: discriminated unions ----------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Branch:
    """One branch of a discriminated union: its schema, the property values it allows (None: any) and
    whether it requires the property."""

    schema: dict[str, Any]
    values: frozenset[Any] | None
    required: bool


def _resolve(schemas: Mapping[str, Any], schema: Any) -> Any:
    seen: set[str] = set()
    while isinstance(schema, dict) and isinstance(schema.get("$ref"), str):
        name = schema["$ref"].removeprefix(_REF)
        if name in seen:
            break
        seen.add(name)
        schema = schemas[name]
    return schema


def _branch_facts(schemas: Mapping[str, Any], schema: Any, prop: str) -> tuple[frozenset[Any] | None, bool]:
    """(allowed values of ``prop``, required?) of one branch, looking through refs, unions and allOf."""
    schema = _resolve(schemas, schema)
    if not isinstance(schema, dict):
        return None, False
    union = schema.get("oneOf") or schema.get("anyOf")
    if isinstance(union, list):
        facts = [_branch_facts(schemas, sub, prop) for sub in union]
        values: frozenset[Any] | None = frozenset()
        for sub_values, _ in facts:
            values = None if values is None or sub_values is None else values | sub_values
        return values, all(required for _, required in facts)
    if isinstance(schema.get(_DISPATCH), dict):
        return _branch_facts(schemas, {"anyOf": schema[_DISPATCH]["branches"]}, prop)
    found: frozenset[Any] | None = None
    required = prop in schema.get("required", ())
    for part in schema.get("allOf", ()):
        part_values, part_required = _branch_facts(schemas, part, prop)
        found = part_values if found is None else found
        required = required or part_required
    definition = schema.get("properties", {}).get(prop)
    if definition is not None:
        found = _values(schemas, definition)
    return found, required


def _values(schemas: Mapping[str, Any], definition: Any) -> frozenset[Any] | None:
    """The values a property definition allows: its ``const``/``enum``, through refs and unions (``type:
    null`` adds None); None when it allows any value."""
    definition = _resolve(schemas, definition)
    if not isinstance(definition, dict):
        return None
    if "const" in definition:
        return frozenset([definition["const"]])
    if isinstance(definition.get("enum"), list):
        return frozenset(definition["enum"])
    if definition.get("type") == "null":
        return frozenset([None])
    union = definition.get("anyOf") or definition.get("oneOf")
    if isinstance(union, list):
        found: frozenset[Any] = frozenset()
        for sub in union:
            values = _values(schemas, sub)
            if values is None:
                return None
            found |= values
        return found
    return None


def _openapi_to_jsonschema(schemas: dict[str, Any]) -> None:
    """Rewrite, in place, discriminated unions into our dispatch keyword and ``oneOf`` into ``anyOf``."""

    def visit(node: Any) -> None:
        if isinstance(node, list):
            for item in node:
                visit(item)
            return
        if not isinstance(node, dict):
            return
        for value in node.values():
            visit(value)
        discriminator = node.get("discriminator")
        union_key = "oneOf" if "oneOf" in node else "anyOf" if "anyOf" in node else None
        if isinstance(discriminator, dict) and union_key is not None and "mapping" not in discriminator:
            node.pop("discriminator")
            node[_DISPATCH] = {"propertyName": discriminator["propertyName"], "branches": node.pop(union_key)}
        elif "oneOf" in node:
            node["anyOf"] = node.pop("oneOf")
        node.pop("discriminator", None)  # misplaced ones (on a non-union) select nothing

    visit(schemas)


def _dispatch(
    validator: Any, spec: dict[str, Any], instance: Any, schema: dict[str, Any]
) -> Iterator[ValidationError]:
    """The ``x-llmgw-discriminator`` keyword: validate against the branch the instance's property names."""
    branches: list[_Branch] = spec["_facts"]
    if not isinstance(instance, dict):
        yield from validator.descend(instance, {"anyOf": [b.schema for b in branches]})
        return
    prop = spec["propertyName"]
    if prop in instance:
        value = instance[prop]
        chosen = [b for b in branches if b.values is None or value in b.values]
        if not chosen:
            known = sorted({str(v) for b in branches for v in b.values or ()})
            yield ValidationError(f"{value!r} is not a known {prop!r}: expected one of {known}", path=[prop])
            return
    else:
        chosen = [b for b in branches if not b.required]
        if not chosen:
            yield ValidationError(f"{prop!r} is a required property")
            return
    if len(chosen) == 1:
        yield from validator.descend(instance, chosen[0].schema)
    else:
        yield from validator.descend(instance, {"anyOf": [b.schema for b in chosen]})


_Validator = validators.extend(Draft202012Validator, {_DISPATCH: _dispatch})


def _relax(schemas: dict[str, Any], relaxation: Relaxation) -> None:
    try:
        parent: Any = None
        node: Any = schemas[relaxation.schema]
        for step in relaxation.path:
            parent, node = node, node[step]
    except (KeyError, IndexError, TypeError):
        raise LookupError(
            f"relaxation {relaxation.name!r}: no {relaxation.path} in {relaxation.schema}"
        ) from None
    if relaxation.optional is not None:
        if relaxation.optional not in node.get("required", ()):
            raise LookupError(f"relaxation {relaxation.name!r}: {relaxation.optional!r} is not required")
        node["required"] = [name for name in node["required"] if name != relaxation.optional]
    else:
        parent[relaxation.path[-1]] = {"anyOf": [node, {"type": "null"}]}


@functools.cache
def _document(without: str | None = None) -> dict[str, Any]:
    """The schemas, read as OpenAPI means them, with every relaxation but ``without``."""
    document: dict[str, Any] = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    schemas: dict[str, Any] = copy.deepcopy(document["components"]["schemas"])
    for relaxation in RELAXATIONS:
        if relaxation.name != without:
            _relax(schemas, relaxation)
    _openapi_to_jsonschema(schemas)

    def attach(node: Any) -> None:  # each dispatch node learns its branches' facts once
        if isinstance(node, list):
            for item in node:
                attach(item)
        elif isinstance(node, dict):
            spec = node.get(_DISPATCH)
            if isinstance(spec, dict) and "_facts" not in spec:
                spec["_facts"] = [
                    _Branch(branch, *_branch_facts(schemas, branch, spec["propertyName"]))
                    for branch in spec["branches"]
                ]
            for value in node.values():
                if not isinstance(value, _Branch):
                    attach(value)

    attach(schemas)
    return {"components": {"schemas": schemas}, "source": document["source"]}


@functools.cache
def _validator(kind: str, without: str | None = None) -> Any:
    root = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$ref": _REF + _KINDS[kind],
        **_document(without),
    }
    return _Validator(root)


@functools.cache
def request_parameters() -> frozenset[str]:
    """The top-level parameters ``CreateResponse`` names (through its ``allOf`` parts): the API refuses
    any other with ``unknown_parameter``, which the schema alone does not say."""
    schemas = _document()["components"]["schemas"]
    names: set[str] = set()
    todo: list[Any] = [schemas["CreateResponse"]]
    while todo:
        schema = _resolve(schemas, todo.pop())
        if isinstance(schema, dict):
            names.update(schema.get("properties") or {})
            todo.extend(schema.get("allOf") or ())
    return frozenset(names)


def errors(kind: str, payload: Any, *, without: str | None = None) -> list[ValidationError]:
    """Every schema error of ``payload`` as a ``kind`` (``response``, ``event``, ``request``,
    ``item_list``, ``error``), best first; empty when it is valid. ``without``: the name of a relaxation
    to leave out (to show it is needed)."""
    found = list(_validator(kind, without).iter_errors(payload))
    if found:
        best = best_match(found)
        found.sort(key=lambda error: error is not best)
    return found


def _check(kind: str, payload: Any) -> None:
    found = errors(kind, payload)
    if found:
        raise ResponsesSchemaError(kind, found)


def validate_response(payload: Any) -> None:
    """Raise :class:`ResponsesSchemaError` unless ``payload`` is a ``Response`` object."""
    _check("response", payload)


def validate_event(event: Any) -> None:
    """Raise unless ``event`` (one stream event's parsed ``data``) is a ``ResponseStreamEvent``."""
    _check("event", event)


def validate_request(body: Any) -> None:
    """Raise unless ``body`` is a ``CreateResponse`` request body."""
    _check("request", body)


def validate_item_list(payload: Any) -> None:
    """Raise unless ``payload`` is a ``ResponseItemList`` (``GET /v1/responses/{id}/input_items``)."""
    _check("item_list", payload)


def validate_error_body(payload: Any) -> None:
    """Raise unless ``payload`` is OpenAI's error body ``{"error": {...}}``."""
    _check("error", payload)
