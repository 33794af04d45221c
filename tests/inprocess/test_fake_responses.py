"""The fake OpenAI upstream's Responses API is faithful: the official ``openai`` SDK talks to it directly
(``responses.create``, ``responses.stream``, ``responses.parse``, a function-tool round trip,
``previous_response_id``, retrieve, delete, input items), and everything it sends passes OpenAI's
published schemas (tests/support/responses_schema.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from openai.types.responses import FunctionToolParam, Response
from pydantic import BaseModel

from tests.support.fakes import FakeOpenAI
from tests.support.fakes.fake_server import ScriptedCall, scripted_shell
from tests.support.fakes.fixtures import fixtures_dir, load_json, load_sse_events
from tests.support.responses_schema import (
    validate_error_body,
    validate_event,
    validate_item_list,
    validate_response,
)

KEY, OTHER_KEY = "sk-upstream-1", "sk-upstream-2"
RECORDED = "openai/responses"
CAPITAL: FunctionToolParam = {
    "type": "function",
    "name": "get_capital",
    "description": "The capital of a country.",
    "parameters": {
        "type": "object",
        "properties": {"country": {"type": "string"}},
        "required": ["country"],
        "additionalProperties": False,
    },
    "strict": True,
}
SQL: Any = {"type": "custom", "name": "execute_sql", "description": "Run SQL.", "format": {"type": "text"}}


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(accepted_keys=(KEY, OTHER_KEY), key_behaviors={"sk-limited": "429:2"}) as server:
        yield server


@pytest.fixture
def client(fake: FakeOpenAI) -> Iterator[openai.OpenAI]:
    fake.clear()
    with openai.OpenAI(base_url=fake.base_url, api_key=KEY, max_retries=0, timeout=5) as sdk:
        yield sdk


@pytest.fixture
def other(fake: FakeOpenAI) -> Iterator[openai.OpenAI]:
    """A client with another key: to OpenAI, another account."""
    with openai.OpenAI(base_url=fake.base_url, api_key=OTHER_KEY, max_retries=0, timeout=5) as sdk:
        yield sdk


def _raw(client: openai.OpenAI, **params: Any) -> dict[str, Any]:
    """The response body as sent (checked against the schema) for ``responses.create(**params)``."""
    body: dict[str, Any] = client.responses.with_raw_response.create(**params).http_response.json()
    validate_response(body)
    return body


def _sse(client: openai.OpenAI, **params: Any) -> list[tuple[str, dict[str, Any]]]:
    """(event line, data) of each event of a streamed ``responses.create``, checked against the schema."""
    with client.responses.with_streaming_response.create(stream=True, **params) as response:
        assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
        text = "".join(response.iter_text())
    events = []
    for block in text.strip().split("\n\n"):
        name, data = block.split("\n")
        event = json.loads(data.removeprefix("data: "))
        validate_event(event)
        events.append((name.removeprefix("event: "), event))
    return events


def _message(error: openai.APIStatusError) -> str:
    """The API's own words (the SDK's ``message`` adds "Error code: ...")."""
    body: Any = error.body
    return str(body["message"])


def test_create_text_with_instructions(client: openai.OpenAI, fake: FakeOpenAI) -> None:
    response = client.responses.create(model="gpt-4.1", input="Reply please", instructions="Be brief.")
    assert isinstance(response, Response)
    assert response.output_text == "Echo: Reply please"
    assert response.status == "completed" and response.instructions == "Be brief."
    assert response.id.startswith("resp_") and response.output[0].id.startswith("msg_")
    assert response.usage is not None
    assert response.usage.total_tokens == response.usage.input_tokens + response.usage.output_tokens
    body = _raw(client, model="gpt-4.1", input="Reply please", instructions="Be brief.")
    recorded = load_json(RECORDED, "create.text")
    assert set(recorded) - {"billing", "moderation"} <= set(body)
    assert body["output"][0].keys() == recorded["output"][0].keys()
    request = fake.requests[0]
    assert request.path == "/v1/responses" and request.api_key == KEY and request.model == "gpt-4.1"
    assert [u.usage["output_tokens"] for u in fake.reported_usage] == [3, 3]


def test_stream_text(client: openai.OpenAI, fake: FakeOpenAI) -> None:
    with client.responses.stream(model="gpt-4.1", input="stream this answer") as stream:
        deltas = [event.delta for event in stream if event.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert "".join(deltas) == final.output_text == "Echo: stream this answer"
    events = _sse(client, model="gpt-4.1", input="stream this answer")
    assert [e["sequence_number"] for _, e in events] == list(range(len(events)))
    assert all(name == event["type"] for name, event in events)
    recorded = [e.event for e in load_sse_events(RECORDED, "create.stream_text")]
    assert [name for name, _ in events][:4] == recorded[:4]  # created, in_progress, item, part
    assert [name for name, _ in events][-4:] == recorded[-4:]  # text done, part done, item done, completed
    assert all("obfuscation" in e for _, e in events if _ == "response.output_text.delta")
    completed = events[-1][1]["response"]
    validate_response(completed)
    assert completed["usage"] == fake.reported_usage[-1].usage and fake.reported_usage[-1].stream


def test_function_tool_round_trip(client: openai.OpenAI) -> None:
    first = client.responses.create(model="gpt-4.1-tool", input="Capital of France?", tools=[CAPITAL])
    call = first.output[0]
    assert call.type == "function_call" and call.name == "get_capital"
    assert json.loads(call.arguments) == {"country": "Capital of France?"}
    assert call.call_id.startswith("call_") and call.id and call.id.startswith("fc_")
    history: Any = [
        {"role": "user", "content": "Capital of France?"},
        call.model_dump(exclude_none=True),
        {"type": "function_call_output", "call_id": call.call_id, "output": "Paris"},
    ]
    second = client.responses.create(model="gpt-4.1-tool", input=history, tools=[CAPITAL])
    assert second.output_text == "Echo: Paris"
    # the same round trip by previous_response_id: only the output is sent
    output: Any = [{"type": "function_call_output", "call_id": call.call_id, "output": "Lyon?"}]
    third = client.responses.create(
        model="gpt-4.1-tool", previous_response_id=first.id, input=output, tools=[CAPITAL]
    )
    assert third.output_text == "Echo: Lyon?" and third.previous_response_id == first.id


def test_a_run_the_shell_command_prompt_calls_codex_clis_shell_tool(client: openai.OpenAI) -> None:
    """Codex CLI's `exec_command`, any model: the prompt's command as `cmd`, then its output echoed."""
    shell: Any = {
        "type": "function",
        "name": "exec_command",
        "parameters": {"type": "object", "properties": {"cmd": {"type": "string"}}, "required": ["cmd"]},
        "strict": False,
    }
    ask = "Please run the shell command `echo MARK | tee m.txt` and report."
    first = client.responses.create(model="gpt-4.1", input=ask, tools=[CAPITAL, shell], store=False)
    (call,) = first.output
    assert call.type == "function_call" and call.name == "exec_command"
    assert json.loads(call.arguments) == {"cmd": "echo MARK | tee m.txt"}
    history: Any = [
        {"role": "user", "content": ask},
        call.model_dump(exclude_none=True),
        {"type": "function_call_output", "call_id": call.call_id, "output": "MARK"},
    ]
    second = client.responses.create(model="gpt-4.1", input=history, tools=[CAPITAL, shell], store=False)
    assert second.output_text == "Echo: MARK"


def test_a_tool_output_without_its_call_is_refused(client: openai.OpenAI) -> None:
    output: Any = [{"type": "function_call_output", "call_id": "call_nowhere", "output": "4"}]
    with pytest.raises(openai.BadRequestError) as raised:
        client.responses.create(model="gpt-4.1", input=output)
    assert raised.value.body == {
        "message": "No tool call found for function call output with call_id call_nowhere.",
        "type": "invalid_request_error",
        "param": "input",
        "code": None,
    }


def test_parallel_calls_and_streamed_arguments(client: openai.OpenAI) -> None:
    response = client.responses.create(
        model="gpt-4o-parallel-tool", input="France and Spain", tools=[CAPITAL]
    )
    calls = [item for item in response.output if item.type == "function_call"]
    assert len(calls) == 2 and calls[0].call_id != calls[1].call_id
    events = _sse(client, model="gpt-4o-tool", input="France", tools=[CAPITAL])
    kinds = [name for name, _ in events]
    assert kinds[:3] == ["response.created", "response.in_progress", "response.output_item.added"]
    arguments = "".join(e["delta"] for name, e in events if name == "response.function_call_arguments.delta")
    done = next(e for name, e in events if name == "response.function_call_arguments.done")
    assert arguments == done["arguments"] == '{"country":"France"}' and done["name"] == "get_capital"


def test_custom_tool_call(client: openai.OpenAI) -> None:
    response = client.responses.create(model="gpt-5-tool", input="SELECT 1;", tools=[SQL])
    reasoning, call = response.output
    assert reasoning.type == "reasoning" and call.type == "custom_tool_call"
    assert call.name == "execute_sql" and call.input == "SELECT 1;"
    with client.responses.stream(model="gpt-5-tool", input="SELECT 2;", tools=[SQL]) as stream:
        pieces = [e.delta for e in stream if e.type == "response.custom_tool_call_input.delta"]
        final = stream.get_final_response()
    assert "".join(pieces) == "SELECT 2;" == final.output[-1].input  # type: ignore[union-attr]
    history: Any = [
        {"role": "user", "content": "SELECT 1;"},
        *(item.model_dump(exclude_none=True) for item in response.output),
        {"type": "custom_tool_call_output", "call_id": call.call_id, "output": "1 row"},
    ]
    answer = client.responses.create(model="gpt-5-tool", input=history, tools=[SQL])
    assert answer.output_text == "Echo: 1 row"


def test_reasoning_with_encrypted_content_and_summary(client: openai.OpenAI, other: openai.OpenAI) -> None:
    params: Any = {
        "model": "gpt-5",
        "input": "Think first",
        "reasoning": {"effort": "low", "summary": "auto"},
        "include": ["reasoning.encrypted_content"],
        "store": False,
    }
    body = _raw(client, **params)
    reasoning = body["output"][0]
    assert reasoning["type"] == "reasoning" and reasoning["encrypted_content"].startswith("gAAAAA")
    assert reasoning["summary"][0]["text"].endswith("The user wrote: Think first")
    assert body["usage"]["output_tokens_details"]["reasoning_tokens"] > 0
    # store=false + the whole history, as Codex CLI sends it: the fake accepts what it gave this key
    history: Any = [
        {"role": "user", "content": "Think first"},
        *body["output"],
        {"role": "user", "content": "Go"},
    ]
    again = client.responses.create(**{**params, "input": history})
    assert again.output_text == "Echo: Go"
    with pytest.raises(openai.BadRequestError) as raised:
        other.responses.create(**{**params, "input": history})
    assert raised.value.code == "invalid_encrypted_content"
    assert f"item {reasoning['id']} could not be verified" in _message(raised.value)
    no_encryption = _raw(client, **{**params, "include": []})
    assert "encrypted_content" not in no_encryption["output"][0]
    streamed = _sse(client, **params)
    summary = "".join(e["delta"] for name, e in streamed if name == "response.reasoning_summary_text.delta")
    assert summary == reasoning["summary"][0]["text"]
    without = _raw(client, model="gpt-5", input="x", reasoning={"effort": "none"})
    assert [item["type"] for item in without["output"]] == ["message"]


def test_a_reasoning_item_needs_the_item_that_followed_it(client: openai.OpenAI) -> None:
    body = _raw(client, model="gpt-5", input="x", include=["reasoning.encrypted_content"], store=False)
    history: Any = [{"role": "user", "content": "x"}, body["output"][0], {"role": "user", "content": "y"}]
    with pytest.raises(openai.BadRequestError) as raised:
        client.responses.create(model="gpt-5", input=history)
    recorded = load_json(RECORDED, "create.error_400_reasoning_item")["error"]
    assert _message(raised.value) == recorded["message"].replace(
        "rs_68c42de022c881948db7ed1cc2529f2e0202c9ad459e0d23", body["output"][0]["id"]
    )


def test_json_schema_output_parses(client: openai.OpenAI) -> None:
    class City(BaseModel):
        city: str
        country: str

    parsed = client.responses.parse(model="gpt-4o", input="Paris", text_format=City)
    assert parsed.output_parsed == City(city="Paris", country="Paris")
    schema: Any = {"type": "json_schema", "name": "City", "schema": City.model_json_schema(), "strict": True}
    fmt = _raw(client, model="gpt-4o", input="x", text={"format": schema})
    assert fmt["text"]["format"]["name"] == "City"


def test_previous_response_id_continues_per_key(
    client: openai.OpenAI, other: openai.OpenAI, fake: FakeOpenAI
) -> None:
    first = client.responses.create(model="gpt-4.1", input="My name is Ada.", instructions="Be kind.")
    second = client.responses.create(model="gpt-4.1", input="What is my name?", previous_response_id=first.id)
    assert second.previous_response_id == first.id and second.instructions is None
    stored = fake.responses.stored(second.id)
    assert stored is not None and stored.key == KEY
    texts = [json.dumps(item) for item in stored.conversation]
    assert "My name is Ada." in texts[0] and "Echo: My name is Ada." in texts[1]
    assert "What is my name?" in texts[2] and "Echo: What is my name?" in texts[3]
    assert second.usage is not None and first.usage is not None
    assert second.usage.input_tokens > first.usage.input_tokens  # the history is counted
    with pytest.raises(openai.BadRequestError) as raised:
        other.responses.create(model="gpt-4.1", input="Who am I?", previous_response_id=first.id)
    assert raised.value.status_code == 400 and raised.value.code == "previous_response_not_found"
    assert raised.value.param == "previous_response_id"
    assert _message(raised.value) == f"Previous response with id '{first.id}' not found."
    unstored = client.responses.create(model="gpt-4.1", input="Forget me.", store=False)
    with pytest.raises(openai.BadRequestError, match="not found"):
        client.responses.create(model="gpt-4.1", input="?", previous_response_id=unstored.id)


def test_retrieve_input_items_and_delete(client: openai.OpenAI, other: openai.OpenAI) -> None:
    created = client.responses.create(
        model="gpt-4.1", input=[{"role": "user", "content": "one"}, {"role": "user", "content": "two"}]
    )
    assert client.responses.retrieve(created.id) == created
    raw = client.responses.input_items.with_raw_response.list(created.id).http_response.json()
    validate_item_list(raw)
    assert [item["content"][0]["text"] for item in raw["data"]] == ["two", "one"]  # newest first
    assert raw["first_id"] == raw["data"][0]["id"] and not raw["has_more"]
    page = client.responses.input_items.list(created.id, order="asc", limit=1)
    assert [item.content[0].text for item in page.data] == ["one"] and page.has_more  # type: ignore[union-attr]
    rest = client.responses.input_items.list(created.id, order="asc", after=page.data[0].id)
    assert [item.content[0].text for item in rest.data] == ["two"]  # type: ignore[union-attr]
    with pytest.raises(openai.NotFoundError) as raised:
        other.responses.retrieve(created.id)
    assert _message(raised.value) == f"Response with id '{created.id}' not found."
    validate_error_body(raised.value.response.json())
    with pytest.raises(openai.NotFoundError):
        other.responses.delete(created.id)
    client.responses.delete(created.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(created.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.input_items.list(created.id)


def test_input_tokens_count(client: openai.OpenAI) -> None:
    counted = client.responses.input_tokens.count(model="gpt-4.1", input="How many tokens is this?")
    created = client.responses.create(model="gpt-4.1", input="How many tokens is this?")
    assert created.usage is not None and counted.input_tokens == created.usage.input_tokens


@pytest.mark.parametrize(
    ("params", "status", "code", "param"),
    [
        (
            {"model": "gpt-4.1", "input": "x", "temperature": -1},
            400,
            "decimal_below_min_value",
            "temperature",
        ),
        ({"model": "gpt-4.1", "input": "x", "top_p": 1.5}, 400, "decimal_above_max_value", "top_p"),
        ({"model": "gpt-4.1", "input": "x", "max_output_tokens": 5}, 400, "integer_below_min_value", None),
        ({"model": "gpt-4.1", "messages": []}, 400, "unknown_parameter", "messages"),
        ({"model": "gpt-4.1", "input": 42}, 400, "invalid_type", "input"),
        (
            {"model": "gpt-4.1", "input": [{"role": "robot", "content": "x"}]},
            400,
            "invalid_value",
            "input[0].role",
        ),
        (
            {
                "model": "gpt-4.1",
                "input": "x",
                "tools": [{"type": "function", "name": "f", "parameters": {}}],
            },
            400,
            "missing_required_parameter",
            "tools[0].strict",
        ),
        ({"model": "gpt-4.1", "input": "x", "tool_choice": "sometimes"}, 400, "invalid_value", "tool_choice"),
        (
            {"model": "gpt-4o", "input": "x", "reasoning": {"effort": "low"}},
            400,
            "unsupported_parameter",
            None,
        ),
        ({"input": "x"}, 400, None, None),
    ],
)
def test_request_errors(
    fake: FakeOpenAI, params: dict[str, Any], status: int, code: str | None, param: str | None
) -> None:
    response = httpx.post(
        f"{fake.base_url}/responses", json=params, headers={"Authorization": f"Bearer {KEY}"}, timeout=5
    )
    assert response.status_code == status
    body = response.json()
    validate_error_body(body)
    assert body["error"]["code"] == code and body["error"]["type"] == "invalid_request_error"
    if param is not None:
        assert body["error"]["param"] == param


def test_recorded_error_wording(fake: FakeOpenAI) -> None:
    recorded = load_json(RECORDED, "create.error_400")
    response = httpx.post(
        f"{fake.base_url}/responses",
        json={"model": "gpt-4o", "input": "x", "temperature": -1},
        headers={"Authorization": f"Bearer {KEY}"},
    )
    assert response.json() == recorded


def test_http_errors_as_the_sdk_sees_them(client: openai.OpenAI, fake: FakeOpenAI) -> None:
    with pytest.raises(openai.BadRequestError):
        client.responses.create(model="bad-request", input="x")
    with pytest.raises(openai.RateLimitError) as limited:
        client.responses.create(model="rate-limited", input="x")
    assert limited.value.response.headers["retry-after"] == "3"
    with pytest.raises(openai.InternalServerError):
        client.responses.create(model="fail-500", input="x")
    with pytest.raises(openai.NotFoundError, match="does not exist"):
        client.responses.create(model="not-found", input="x")
    limited_key = openai.OpenAI(base_url=fake.base_url, api_key="sk-limited", max_retries=0)
    with limited_key, pytest.raises(openai.RateLimitError) as by_key:
        limited_key.responses.create(model="gpt-4.1", input="x")
    assert by_key.value.response.headers["retry-after"] == "2"
    wrong = openai.OpenAI(base_url=fake.base_url, api_key="sk-wrong", max_retries=0)
    with wrong, pytest.raises(openai.AuthenticationError):
        wrong.responses.create(model="gpt-4.1", input="x")


def test_stream_reset_midway(client: openai.OpenAI, fake: FakeOpenAI) -> None:
    seen: list[str] = []
    with (
        pytest.raises((httpx.HTTPError, openai.APIConnectionError)),
        client.responses.stream(model="reset-3", input="x") as stream,
    ):
        seen.extend(e.type for e in stream)
    assert seen.count("response.output_text.delta") == 3
    assert "response.completed" not in seen
    assert not [u for u in fake.reported_usage if u.model == "reset-3"]


def test_error_mid_stream_fails_the_response(client: openai.OpenAI) -> None:
    events = _sse(client, model="error-mid-stream-2", input="x")
    kinds = [name for name, _ in events]
    assert kinds.count("response.output_text.delta") == 2 and kinds[-1] == "response.failed"
    failed = events[-1][1]
    assert failed["sequence_number"] == len(events) - 1
    assert failed["response"]["status"] == "failed" and failed["response"]["error"]["code"] == "server_error"


def test_max_output_tokens_makes_an_incomplete_response(client: openai.OpenAI) -> None:
    response = client.responses.create(model="gpt-4.1", input="word " * 40, max_output_tokens=16)
    assert response.status == "incomplete" and response.incomplete_details is not None
    assert response.incomplete_details.reason == "max_output_tokens"
    assert response.usage is not None and response.usage.output_tokens == 16
    events = _sse(client, model="gpt-4.1", input="word " * 40, max_output_tokens=16)
    assert events[-1][0] == "response.incomplete"


@pytest.mark.parametrize("case", ["text", "web_search", "reasoning", "custom_tool_call", "json_schema"])
def test_replay_recorded_answer(client: openai.OpenAI, fake: FakeOpenAI, case: str) -> None:
    recorded = load_json(RECORDED, f"create.{case}")
    response = client.responses.with_raw_response.create(model=f"replay-{case}", input="anything")
    assert response.http_response.json() == recorded
    parsed = response.parse()
    assert parsed.id == recorded["id"]
    assert client.responses.retrieve(parsed.id).id == parsed.id  # remembered for this key
    follow_up = client.responses.create(model="gpt-4.1", input="and then?", previous_response_id=parsed.id)
    assert follow_up.previous_response_id == parsed.id


@pytest.mark.parametrize(
    "case", ["stream_text", "stream_tool_call", "stream_custom_tool_call", "stream_reasoning_summary"]
)
def test_replay_recorded_stream(client: openai.OpenAI, fake: FakeOpenAI, case: str) -> None:
    with client.responses.with_streaming_response.create(
        model=f"replay-{case}", input="anything", stream=True
    ) as response:
        raw = b"".join(response.iter_bytes())
    assert raw == (fixtures_dir() / RECORDED / f"create.{case}.sse").read_bytes()
    with client.responses.stream(model=f"replay-{case}", input="anything") as stream:
        final = stream.get_final_response()
    assert final.status == "completed" and final.usage is not None
    reported = fake.reported_usage[-1]
    assert reported.stream and reported.usage["output_tokens"] == final.usage.output_tokens
    with pytest.raises(openai.BadRequestError, match="only with stream true"):
        client.responses.create(model=f"replay-{case}", input="anything")


def test_replay_of_an_unknown_case_is_an_unknown_model(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError):
        client.responses.create(model="replay-nothing", input="x")


NAMESPACE: Any = {
    "type": "namespace",
    "name": "files",
    "description": "File tools.",
    "tools": [{"type": "function", "name": "read", "parameters": {"type": "object", "properties": {
        "path": {"type": "string"}}, "required": ["path"]}}],
}  # fmt: skip
SHAPES: list[tuple[str, dict[str, Any]]] = [
    ("text", {"model": "gpt-4.1", "input": "hi"}),
    ("function call", {"model": "gpt-4.1-tool", "input": "hi", "tools": [CAPITAL]}),
    ("parallel calls", {"model": "gpt-4.1-parallel-tool", "input": "hi", "tools": [CAPITAL, SQL]}),
    ("required call", {"model": "gpt-4.1", "input": "hi", "tools": [CAPITAL], "tool_choice": "required"}),
    ("named custom call", {"model": "gpt-4.1", "input": "hi", "tools": [CAPITAL, SQL],
                           "tool_choice": {"type": "custom", "name": "execute_sql"}}),
    ("namespace call", {"model": "gpt-5-codex-tool", "input": "hi", "tools": [NAMESPACE]}),
    ("reasoning", {"model": "o4-mini", "input": "hi", "reasoning": {"effort": "high", "summary": "detailed"},
                   "include": ["reasoning.encrypted_content"]}),
    ("json", {"model": "gpt-4o", "input": "hi", "text": {"format": {"type": "json_schema", "name": "capital",
              "schema": CAPITAL["parameters"], "strict": True}}}),
    ("incomplete", {"model": "gpt-5", "input": "hi " * 60, "max_output_tokens": 20}),
    ("no obfuscation", {"model": "gpt-4.1", "input": "hi", "stream_options": {"include_obfuscation": False}}),
]  # fmt: skip


@pytest.mark.parametrize("params", [p for _, p in SHAPES], ids=[name for name, _ in SHAPES])
def test_every_scripted_shape_passes_the_schema(client: openai.OpenAI, params: dict[str, Any]) -> None:
    """Whole and streamed, each answer the fake scripts is what OpenAI's document allows, and the stream
    ends with the same answer as the whole one would be."""
    options = params.get("stream_options")
    whole = _raw(client, **{k: v for k, v in params.items() if k != "stream_options"})
    events = _sse(client, **params)
    final = events[-1][1]["response"]
    assert [item["type"] for item in final["output"]] == [item["type"] for item in whole["output"]]
    assert final.keys() == whole.keys() and final["status"] == whole["status"]
    added = [e["item"]["type"] for name, e in events if name == "response.output_item.added"]
    assert added == [item["type"] for item in final["output"]]
    obfuscated = [e for _, e in events if "obfuscation" in e]
    assert bool(obfuscated) == (options is None)
    if params.get("tools") == [NAMESPACE]:
        assert whole["output"][-1]["namespace"] == "files" and whole["output"][-1]["name"] == "read"


def test_input_items_of_every_kind_pass_the_schema(client: openai.OpenAI) -> None:
    first = _raw(client, model="gpt-5-tool", input="q", tools=[SQL], include=["reasoning.encrypted_content"])
    reasoning, call = first["output"]
    function = {
        "type": "function",
        "name": "f",
        "parameters": {"type": "object", "properties": {}},
        "strict": False,
    }
    history: Any = [
        {"role": "developer", "content": "Be terse."},
        {"role": "user", "content": [{"type": "input_text", "text": "q"}]},
        {"role": "assistant", "content": "thinking aloud"},
        reasoning,
        call,
        {"type": "custom_tool_call_output", "call_id": call["call_id"], "output": "rows"},
        {"type": "function_call", "call_id": "call_x", "name": "f", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "call_x", "output": "ok"},
    ]
    answer = client.responses.create(model="gpt-5-tool", input=history, tools=[SQL, function])
    assert answer.output_text == "Echo: ok"
    listing = client.responses.input_items.with_raw_response.list(answer.id, order="asc").http_response.json()
    validate_item_list(listing)
    kinds = [item.get("role", item["type"]) for item in listing["data"]]
    assert kinds == ["developer", "user", "assistant", "reasoning", "custom_tool_call",
                     "custom_tool_call_output", "function_call", "function_call_output"]  # fmt: skip
    assert listing["data"][3]["id"] == reasoning["id"] and listing["data"][4]["id"] == call["id"]


SHELL: Any = {
    "type": "function",
    "name": "shell",
    "description": "Runs a shell command and returns its output.",
    "strict": False,
    "parameters": {
        "type": "object",
        "properties": {
            "command": {"type": "array", "items": {"type": "string"}},
            "workdir": {"type": "string"},
        },
        "required": ["command"],
        "additionalProperties": False,
    },
}


def test_a_codex_like_turn_runs_one_shell_command(client: openai.OpenAI) -> None:
    """Codex CLI's shape: streamed, store false, encrypted reasoning, the whole history each turn, a shell
    tool and a hosted one; "Run the shell command `...`" gets a call of the shell tool, its output an echo."""
    params: Any = {
        "model": "gpt-5-codex",
        "instructions": "You are a coding agent.",
        "tools": [SHELL, {"type": "web_search"}],
        "tool_choice": "auto",
        "parallel_tool_calls": False,
        "reasoning": {"effort": "medium", "summary": "auto"},
        "store": False,
        "include": ["reasoning.encrypted_content"],
        "prompt_cache_key": "0199-session",
    }
    ask: Any = {"type": "message", "role": "user", "content": [{"type": "input_text", "text":
                "Run the shell command `echo hello` and tell me what it printed."}]}  # fmt: skip
    first = _sse(client, input=[ask], **params)[-1][1]["response"]
    reasoning, call = first["output"]
    assert call["name"] == "shell" and json.loads(call["arguments"]) == {
        "command": ["bash", "-lc", "echo hello"]
    }
    result = {"type": "function_call_output", "call_id": call["call_id"], "output": "hello\n"}
    second = _sse(client, input=[ask, reasoning, call, result], **params)[-1][1]["response"]
    assert second["output"][-1]["content"][0]["text"] == "Echo: hello\n"


@pytest.mark.parametrize(
    ("tool", "arguments"),
    [
        ("shell", {"command": ["bash", "-lc", "ls -la"]}),
        ("shell_command", {"command": "ls -la"}),
        ("exec_command", {"cmd": "ls -la"}),
    ],
)
def test_each_codex_shell_tool_is_called_its_way(tool: str, arguments: dict[str, Any]) -> None:
    string = {"type": "string"}
    schemas: dict[str, Any] = {
        "shell": SHELL["parameters"],
        "shell_command": {"type": "object", "properties": {"command": string, "workdir": string}},
        "exec_command": {"type": "object", "properties": {"cmd": string, "tty": {"type": "boolean"}}},
    }
    offered = {"Read": {"properties": {"file_path": string}}, tool: schemas[tool]}
    assert scripted_shell("Please run the shell command `ls -la`.", offered) == ScriptedCall(tool, arguments)
    assert scripted_shell("Please list the files.", offered) is None
    assert scripted_shell("Run the shell command `ls -la`", {"Read": offered["Read"]}) is None


def test_strict_off_lets_a_newer_client_through(client: openai.OpenAI, fake: FakeOpenAI) -> None:
    newer: Any = {"client_metadata": {"x": "1"}}
    with pytest.raises(openai.BadRequestError, match="Unknown parameter: 'client_metadata'"):
        client.responses.create(model="gpt-4.1", input="x", extra_body=newer)
    fake.responses.strict = False
    try:
        assert client.responses.create(model="gpt-4.1", input="x", extra_body=newer).output_text == "Echo: x"
    finally:
        fake.responses.strict = True


@pytest.mark.parametrize("stream", [False, True])
def test_chunks_answers_are_kept_as_bytes_with_fresh_ids(
    client: openai.OpenAI, other: openai.OpenAI, fake: FakeOpenAI, stream: bool
) -> None:
    """The benchmark path: the same chunks-<n> body gets the kept bytes again, under a new response id,
    remembered for its key; the deltas and the schema are as on the first answer."""
    params: Any = {"model": "chunks-5", "input": f"Bench {stream}"}
    if stream:
        answers = [_sse(c, **params) for c in (client, client, other)]
        ids = [events[0][1]["response"]["id"] for events in answers]
        for events, response_id in zip(answers, ids, strict=True):
            deltas = [e for name, e in events if name == "response.output_text.delta"]
            assert len(deltas) == 5
            assert [e["response"]["id"] for _, e in events if "response" in e] == [response_id] * 3
        assert [n for n, _ in answers[0]] == [n for n, _ in answers[1]]
    else:
        ids = [_raw(c, **params)["id"] for c in (client, client, other)]
    assert len(set(ids)) == 3
    assert client.responses.retrieve(ids[1]).id == ids[1]
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(ids[2])  # made with the other key
    assert [u.usage["output_tokens"] for u in fake.reported_usage[-3:]] == [5, 5, 5]


def test_chunks_bodies_are_checked_until_kept(client: openai.OpenAI) -> None:
    """A body the checks refuse is never kept: the same body is refused again."""
    for _ in range(2):
        with pytest.raises(openai.BadRequestError) as raised:
            client.responses.create(model="chunks-3", input="x", temperature=3)
        assert raised.value.code == "decimal_above_max_value"
