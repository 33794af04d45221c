"""The Responses API schema validator (tests/support/responses_schema.py) against OpenAI's recorded traffic,
which must pass, and against broken variants of it, which must fail where they are broken."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.support.fakes.fixtures import load_json, load_manifest, load_request, load_sse_events
from tests.support.responses_schema import (
    RELAXATIONS,
    Relaxation,
    ResponsesSchemaError,
    client_capture,
    errors,
    request_parameters,
    validate_error_body,
    validate_event,
    validate_item_list,
    validate_request,
    validate_response,
)

RECORDED = "openai/responses"
CASES: dict[str, Any] = load_manifest(RECORDED)["cases"]
JSON_CASES = sorted(c for c, e in CASES.items() if e["file"].endswith(".json"))
SSE_CASES = sorted(c for c, e in CASES.items() if e["file"].endswith(".sse"))
# create.error_400's request is one the API refused (temperature -1): the schema must refuse it too
REQUEST_CASES = sorted(c for c, e in CASES.items() if c.startswith("create.") and c != "create.error_400")


def _events(case: str) -> list[dict[str, Any]]:
    return [json.loads(event.data) for event in load_sse_events(RECORDED, case)]


def test_the_recordings_cover_what_the_dialect_needs() -> None:
    outputs = {
        item["type"]
        for case in JSON_CASES
        if CASES[case]["status"] == 200
        for item in load_json(RECORDED, case)["output"]
    }
    assert {"message", "function_call", "custom_tool_call", "reasoning", "web_search_call"} <= outputs
    streamed = {event["type"] for case in SSE_CASES for event in _events(case)}
    assert {
        "response.output_text.delta",
        "response.function_call_arguments.delta",
        "response.custom_tool_call_input.delta",
        "response.reasoning_summary_text.delta",
        "response.completed",
    } <= streamed


@pytest.mark.parametrize("case", JSON_CASES)
def test_recorded_bodies_are_valid(case: str) -> None:
    body = load_json(RECORDED, case)
    if CASES[case]["status"] == 200:
        validate_response(body)
    else:
        validate_error_body(body)


@pytest.mark.parametrize("case", SSE_CASES)
def test_recorded_stream_events_are_valid(case: str) -> None:
    events = _events(case)
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    for event, raw in zip(events, load_sse_events(RECORDED, case), strict=True):
        assert raw.event == event["type"]
        validate_event(event)


@pytest.mark.parametrize("case", REQUEST_CASES)
def test_recorded_requests_are_valid(case: str) -> None:
    request = load_request(RECORDED, case)
    assert request["method"] == "POST" and request["uri"].endswith("/v1/responses")
    validate_request(request["body"])
    assert set(request["body"]) <= request_parameters()


def test_the_request_the_api_refused_is_refused() -> None:
    with pytest.raises(ResponsesSchemaError, match="temperature"):
        validate_request(load_request(RECORDED, "create.error_400")["body"])


@pytest.mark.parametrize("relaxation", RELAXATIONS, ids=lambda r: r.name)
def test_each_relaxation_is_needed_by_its_recording(relaxation: Relaxation) -> None:
    """Without it, the recording it names breaks the document; with it, the document stays strict
    elsewhere (the broken variants below)."""
    case = relaxation.needed_by
    if case.startswith("client:"):
        payloads = [("request", client_capture(case))]
    elif CASES[case]["file"].endswith(".sse"):
        payloads = [("event", event) for event in _events(case)]
    else:
        payloads = [
            ("response", load_json(RECORDED, case)),
            ("request", load_request(RECORDED, case)["body"]),
        ]
    assert not any(errors(kind, payload) for kind, payload in payloads)
    assert any(errors(kind, payload, without=relaxation.name) for kind, payload in payloads)


def test_request_parameters_are_the_documented_ones() -> None:
    known = request_parameters()
    assert {"model", "input", "instructions", "tools", "tool_choice", "stream", "store"} <= known
    assert {"previous_response_id", "reasoning", "text", "include", "max_output_tokens"} <= known
    assert "messages" not in known and "max_tokens" not in known


# -- broken variants: each must fail, and say where -------------------------------------------------

Mutation = Callable[[Any], None]


def _set(path: str, value: Any) -> Mutation:
    def mutate(payload: Any) -> None:
        *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
        target = payload
        for part in parents:
            target = target[part]
        target[last] = value

    return mutate


def _drop(path: str) -> Mutation:
    def mutate(payload: Any) -> None:
        *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
        target = payload
        for part in parents:
            target = target[part]
        del target[last]

    return mutate


BROKEN_RESPONSES = [
    ("create.text", _set("status", "done"), "status"),
    ("create.text", _drop("id"), "'id' is a required property"),
    ("create.text", _set("created_at", "yesterday"), "created_at"),
    ("create.text", _set("output.0.type", "mystery"), "'mystery' is not a known 'type'"),
    ("create.text", _drop("output.0.content.0.text"), "'text' is a required property"),
    ("create.text", _set("output.0.role", "user"), "output[0].role"),
    ("create.text", _set("usage.input_tokens", "22"), "usage.input_tokens"),
    ("create.tool_call", _drop("output.0.call_id"), "'call_id' is a required property"),
    ("create.tool_call", _set("output.0.arguments", {"country": "France"}), "output[0].arguments"),
    ("create.custom_tool_call", _set("output.1.input", None), "output[1].input"),
    ("create.reasoning", _set("output.0.summary", "thinking"), "output[0].summary"),
    ("create.reasoning", _set("output.0.summary.0.type", "summary"), "output[0].summary[0].type"),
    ("create.web_search", _set("output.1.content.0.annotations.0.start_index", "126"), "start_index"),
]


@pytest.mark.parametrize(("case", "mutate", "said"), BROKEN_RESPONSES)
def test_broken_responses_fail(case: str, mutate: Mutation, said: str) -> None:
    body = copy.deepcopy(load_json(RECORDED, case))
    validate_response(body)
    mutate(body)
    with pytest.raises(ResponsesSchemaError) as raised:
        validate_response(body)
    assert said in str(raised.value).splitlines()[0]


def _first(case: str, type_: str) -> dict[str, Any]:
    return next(e for e in _events(case) if e["type"] == type_)


BROKEN_EVENTS = [
    ("response.output_text.delta", _drop("sequence_number"), "'sequence_number' is a required property"),
    ("response.output_text.delta", _set("delta", 4), "delta"),
    ("response.output_text.delta", _set("type", "response.output_text.deltas"), "is not a known 'type'"),
    ("response.output_item.added", _set("item.type", "mystery"), "item.type"),
    ("response.completed", _drop("response.output"), "'output' is a required property"),
    ("response.completed", _set("response.status", "finished"), "response.status"),
]


@pytest.mark.parametrize(("type_", "mutate", "said"), BROKEN_EVENTS)
def test_broken_events_fail(type_: str, mutate: Mutation, said: str) -> None:
    event = copy.deepcopy(_first("create.stream_text", type_))
    validate_event(event)
    mutate(event)
    with pytest.raises(ResponsesSchemaError) as raised:
        validate_event(event)
    assert said in str(raised.value).splitlines()[0]


BROKEN_REQUESTS = [
    ("create.text", _set("input", 42), "input"),
    ("create.text", _set("input.0.role", "robot"), "input[0]"),
    ("create.text", _set("temperature", 3), "temperature"),
    ("create.tool_call", _drop("tools.0.name"), "'name' is a required property"),
    ("create.tool_call", _set("tool_choice", "sometimes"), "tool_choice"),
    ("create.reasoning", _set("reasoning.effort", "extreme"), "reasoning.effort"),
    ("create.json_schema", _set("text.format.type", "yaml"), "text.format"),
    ("create.tool_result", _drop("input.2.output"), "'output' is a required property"),
    ("create.custom_tool_result", _set("input.3.type", "custom_tool_output"), "is not a known 'type'"),
]


@pytest.mark.parametrize(("case", "mutate", "said"), BROKEN_REQUESTS)
def test_broken_requests_fail(case: str, mutate: Mutation, said: str) -> None:
    body = copy.deepcopy(load_request(RECORDED, case)["body"])
    validate_request(body)
    mutate(body)
    with pytest.raises(ResponsesSchemaError) as raised:
        validate_request(body)
    assert said in str(raised.value).splitlines()[0]


def test_a_message_item_may_leave_out_its_type_but_no_other_item_may() -> None:
    validate_request({"model": "m", "input": [{"role": "user", "content": "hi"}]})
    validate_request({"model": "m", "input": [{"type": "message", "role": "user", "content": "hi"}]})
    found = errors("request", {"model": "m", "input": [{"call_id": "call_1", "output": "4"}]})
    assert found, "an item with no type and no role is no item"


def test_error_bodies_and_item_lists() -> None:
    validate_error_body(load_json(RECORDED, "create.error_400"))
    with pytest.raises(ResponsesSchemaError, match="'message' is a required property"):
        validate_error_body({"error": {"type": "invalid_request_error", "param": None, "code": None}})
    item = {"id": "msg_1", "type": "message", "role": "user", "status": "completed",
            "content": [{"type": "input_text", "text": "hi"}]}  # fmt: skip
    listing = {"object": "list", "data": [item], "first_id": "msg_1", "last_id": "msg_1", "has_more": False}
    validate_item_list(listing)
    with pytest.raises(ResponsesSchemaError, match=r"data\[0\]"):
        validate_item_list({**listing, "data": [{k: v for k, v in item.items() if k != "id"}]})


def test_every_error_is_listed_best_first() -> None:
    body = copy.deepcopy(load_json(RECORDED, "create.text"))
    body["status"] = "done"
    body["usage"]["output_tokens"] = "3"
    found = errors("response", body)
    assert len(found) >= 2
    with pytest.raises(ResponsesSchemaError) as raised:
        validate_response(body)
    message = str(raised.value)
    assert "status" in message and "usage.output_tokens" in message
