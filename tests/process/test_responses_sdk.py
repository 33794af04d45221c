"""The official openai SDK's Responses calls through a real `llmgw serve` to every provider type's fake:
`responses.create`, `responses.stream`, `responses.parse` (a pydantic model), a function tool's round
trip (the whole history sent back, as Codex does, and through `previous_response_id`), and a conversation
continued by `previous_response_id`. Each call is one ledger row of the key that made it.

The openai type passes everything through to the fake OpenAI's own Responses API (which keeps its
responses per key, as OpenAI does); the others are translated, and the gateway keeps what `store` asks it
to keep. The fakes call a tool when the model's name says `tool`, echo the last user turn (or the tool
results) otherwise, and answer a JSON schema with JSON satisfying it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from openai import OpenAI
from pydantic import BaseModel

from tests.support.responses_gateway import PROVIDER_TYPES, ResponsesGateway, responses_gateway

# provider type → (a route that answers in words, one whose model calls the tools it is offered)
ROUTES = {
    "openai": ("oai/gpt-4o-mini", "oai/gpt-4o-mini-tool"),
    "anthropic": ("ant/claude-sonnet-4-5", "ant/claude-sonnet-4-5-tool"),
    "gemini": ("gem/gemini-2.0-flash", "gem/gemini-2.0-flash-tool"),
    "openai-compatible": ("compat/llama-3.1-8b-instant", "compat/llama-3.1-8b-tool"),
    "openrouter": ("orouter/openai/gpt-4o-mini", "orouter/openai/gpt-4o-mini-tool"),
}
assert set(ROUTES) == set(PROVIDER_TYPES)
TYPES = list(ROUTES)
SECRET = "COBALT-6604"
WEATHER_TOOL: Any = {
    "type": "function",
    "name": "get_weather",
    "description": "The weather in a city.",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
        "additionalProperties": False,
    },
    "strict": True,
}


class Place(BaseModel):
    city: str
    population: int


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ResponsesGateway]:
    with responses_gateway(tmp_path_factory.mktemp("responses-sdk")) as gateway:
        yield gateway


@pytest.fixture(scope="module")
def client(gw: ResponsesGateway) -> Iterator[OpenAI]:
    with OpenAI(base_url=gw.base_url, api_key=gw.token, max_retries=0) as sdk:
        yield sdk


def check_rows(gw: ResponsesGateway, before: int, count: int, route: str, provider_type: str) -> None:
    rows = gw.rows(before, route, count)
    assert len(rows) == count, rows
    for row in rows:
        assert row["status"] == 200, (row, gw.log()[-3000:])
        assert row["endpoint"] == "/v1/responses"
        assert (row["model_requested"], row["provider"]) == (route, PROVIDER_TYPES[provider_type])
        assert (row["user_id"], row["api_key_id"]) == (gw.user_id, gw.key_id)
        assert row["prompt_tokens"] > 0 and row["completion_tokens"] > 0


def upstream_bodies(gw: ResponsesGateway, provider_type: str) -> list[Any]:
    """The request bodies the provider type's fake received so far, oldest first."""
    fake = {"anthropic": gw.anthropic, "gemini": gw.gemini}.get(provider_type, gw.openai)
    return [r.json for r in fake.requests if r.method == "POST"]


@pytest.mark.parametrize("provider_type", TYPES)
def test_create(gw: ResponsesGateway, client: OpenAI, provider_type: str) -> None:
    route, _ = ROUTES[provider_type]
    before = gw.last_row()
    response = client.responses.create(model=route, input="Say hello.", instructions="Be brief.")
    assert response.status == "completed"
    assert response.output_text == "Echo: Say hello."
    assert response.usage is not None and response.usage.output_tokens > 0
    check_rows(gw, before, 1, route, provider_type)


@pytest.mark.parametrize("provider_type", TYPES)
def test_stream(gw: ResponsesGateway, client: OpenAI, provider_type: str) -> None:
    route, _ = ROUTES[provider_type]
    before = gw.last_row()
    with client.responses.stream(model=route, input="Say hello again.") as stream:
        events = list(stream)
        final = stream.get_final_response()
    kinds = [e.type for e in events]
    assert kinds[:2] == ["response.created", "response.in_progress"] and kinds[-1] == "response.completed"
    assert [e.sequence_number for e in events] == list(range(len(events)))
    deltas = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert deltas == final.output_text == "Echo: Say hello again."
    check_rows(gw, before, 1, route, provider_type)
    assert gw.rows(before, route, 1)[0]["streamed"] == 1


@pytest.mark.parametrize("provider_type", TYPES)
def test_parse(gw: ResponsesGateway, client: OpenAI, provider_type: str) -> None:
    route, _ = ROUTES[provider_type]
    before = gw.last_row()
    parsed = client.responses.parse(model=route, input="Name a city.", text_format=Place)
    assert isinstance(parsed.output_parsed, Place), parsed
    assert parsed.output_parsed.city and parsed.output_parsed.population == 1
    check_rows(gw, before, 1, route, provider_type)


@pytest.mark.parametrize("provider_type", TYPES)
def test_function_tool_round_trip_with_the_whole_history(
    gw: ResponsesGateway, client: OpenAI, provider_type: str
) -> None:
    """`store: false` and every item sent back each turn: what Codex CLI does; nothing is kept."""
    _, route = ROUTES[provider_type]
    before = gw.last_row()
    history: list[Any] = [{"role": "user", "content": "What is the weather in Paris?"}]
    first = client.responses.create(model=route, input=history, tools=[WEATHER_TOOL], store=False)
    calls = [item for item in first.output if item.type == "function_call"]
    assert len(calls) == 1 and calls[0].name == "get_weather", first.output
    assert json.loads(calls[0].arguments).keys() == {"city"}
    history += [item.model_dump(exclude_none=True) for item in first.output]
    output = {"type": "function_call_output", "call_id": calls[0].call_id, "output": f"Sunny, {SECRET}"}
    history.append(output)
    second = client.responses.create(model=route, input=history, tools=[WEATHER_TOOL], store=False)
    assert SECRET in second.output_text and not [i for i in second.output if i.type == "function_call"]
    check_rows(gw, before, 2, route, provider_type)


@pytest.mark.parametrize("provider_type", TYPES)
def test_function_tool_round_trip_by_previous_response_id(
    gw: ResponsesGateway, client: OpenAI, provider_type: str
) -> None:
    """The call stored, then only its output sent with `previous_response_id`: the Agents SDK's way."""
    _, route = ROUTES[provider_type]
    before = gw.last_row()
    first = client.responses.create(
        model=route, input="What is the weather in Oslo?", tools=[WEATHER_TOOL], store=True
    )
    (call,) = [item for item in first.output if item.type == "function_call"]
    output: Any = {"type": "function_call_output", "call_id": call.call_id, "output": f"Snow, {SECRET}"}
    second = client.responses.create(
        model=route, input=[output], tools=[WEATHER_TOOL], previous_response_id=first.id, store=True
    )
    assert SECRET in second.output_text
    assert second.previous_response_id == first.id
    check_rows(gw, before, 2, route, provider_type)


@pytest.mark.parametrize("provider_type", TYPES)
def test_previous_response_id_carries_the_conversation(
    gw: ResponsesGateway, client: OpenAI, provider_type: str
) -> None:
    """The second turn names only the first response; the upstream still gets the first turn's words
    (from the gateway's store, or at OpenAI from its own)."""
    route, _ = ROUTES[provider_type]
    before = gw.last_row()
    first = client.responses.create(model=route, input="My name is Ada Lovelace.", store=True)
    second = client.responses.create(model=route, input="What is my name?", previous_response_id=first.id)
    assert second.output_text.startswith("Echo: ") and second.previous_response_id == first.id
    last = upstream_bodies(gw, provider_type)[-1]
    if provider_type == "openai":
        assert last["previous_response_id"] == first.id  # passed through: OpenAI keeps the conversation
    else:
        sent = json.dumps(last)
        assert "My name is Ada Lovelace." in sent and first.output_text in sent and "What is my name?" in sent
    check_rows(gw, before, 2, route, provider_type)
