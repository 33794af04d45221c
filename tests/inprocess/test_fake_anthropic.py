"""The fake Anthropic upstream is faithful: the official ``anthropic`` SDK parses everything it sends, the
recorded real requests pass its validation, and it refuses what the real API refuses, in the API's words.

Where the refusal messages come from (real API answers quoted in public issues):
``max_tokens: Field required`` tickernelz/opencode-mem#50; ``... Extra inputs are not permitted``
anthropics/claude-code#4378, #31033, #25597; ``unexpected `tool_use_id` found in `tool_result` blocks``
anthropics/claude-code#13460; ``tool_use ids were found without tool_result blocks immediately after``
anthropics/claude-code#7929 and NousResearch/hermes-agent#65369 (text before the tool_result);
``first message must use the "user" role`` lobehub/lobehub#1601; ``text content blocks must be
non-empty`` / ``all messages must have non-empty content ...`` anthropics/claude-code#59812, #6774;
``thinking.enabled.budget_tokens: Input should be greater than or equal to 1024`` themaximalist/llm.js#30;
the thinking-block rules n8n-io/n8n#22550 and tailcallhq/forgecode#1853;
``anthropic-version: header is required`` envoyproxy/ai-gateway#1909; ``x-api-key header is required``
n8n-io/n8n#37930. API version 2026-10-21 (Bearer keys, no temperature/top_p/top_k): the migration guide
platform.claude.com/docs/en/api/migration-2026-10-21.
"""

from __future__ import annotations

import json
import threading
import time
import typing
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import pytest
from anthropic.types import Message, ToolParam

from tests.support.fakes.anthropic_upstream import (
    DEFAULT_KEY,
    CountTokensRequest,
    CreateRequest,
    CustomTool,
    FakeAnthropic,
    TextBlock,
    ToolResultBlock,
    ToolUseBlock,
    request_errors,
)
from tests.support.fakes.fixtures import load_json, load_manifest, load_request, load_sse_events

OLD = {"x-api-key": DEFAULT_KEY, "anthropic-version": "2023-06-01"}
HI: Any = [{"role": "user", "content": "hi"}]
TOOLS: list[ToolParam] = [
    {
        "name": "get_capital",
        "description": "The capital of a country.",
        "input_schema": {
            "type": "object",
            "properties": {"country": {"type": "string"}},
            "required": ["country"],
        },
    }
]
LONG_SYSTEM = "You are a meticulous assistant. " * 160  # ~1300 tokens: above the 1024 cache minimum


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeAnthropic]:
    with FakeAnthropic(key_behaviors={"sk-limited": "429:2", "sk-broke": "500", "sk-busy": "529"}) as server:
        yield server


@pytest.fixture
def client(fake: FakeAnthropic) -> Iterator[anthropic.Anthropic]:
    fake.clear()
    with anthropic.Anthropic(base_url=fake.base_url, api_key=DEFAULT_KEY, max_retries=0, timeout=5) as sdk:
        yield sdk


def post(
    fake: FakeAnthropic, body: Any, headers: dict[str, str] | None = None, path: str = "/v1/messages"
) -> httpx.Response:
    return httpx.post(fake.base_url + path, json=body, headers=OLD if headers is None else headers, timeout=5)


def refusal(fake: FakeAnthropic, body: Any, headers: dict[str, str] | None = None) -> str:
    response = post(fake, body, headers)
    assert response.status_code == 400, response.text
    payload = response.json()
    assert payload["type"] == "error" and payload["error"]["type"] == "invalid_request_error"
    assert (
        payload["request_id"].startswith("req_") and response.headers["request-id"] == payload["request_id"]
    )
    message: str = payload["error"]["message"]
    return message


def test_lifecycle_leaks_no_thread() -> None:
    threads = threading.active_count()
    with FakeAnthropic() as server:
        assert server.base_url == f"http://127.0.0.1:{server.port}"
    assert threading.active_count() == threads


def test_create_parses_echoes_and_is_recorded(client: anthropic.Anthropic, fake: FakeAnthropic) -> None:
    message = client.messages.create(
        model="claude-haiku-4-5",
        max_tokens=100,
        messages=[{"role": "user", "content": "route me to the blue pool"}],
    )
    assert (
        isinstance(message, Message)
        and message.id.startswith("msg_01")
        and message.model == "claude-haiku-4-5"
    )
    assert message.content[0].type == "text" and message.content[0].text == "Echo: route me to the blue pool"
    assert message.stop_reason == "end_turn" and message.usage.output_tokens == 7
    assert message.usage.cache_read_input_tokens == 0 and message.usage.service_tier == "standard"
    recorded = load_json("anthropic", "messages.text")
    assert set(message.model_dump(exclude_none=True)) <= set(recorded) | {"container", "diagnostics"}
    (request,) = fake.requests
    assert (
        request.path == "/v1/messages"
        and request.model == "claude-haiku-4-5"
        and request.api_key == DEFAULT_KEY
    )
    # the 2.x SDK speaks API version 2026-10-21 and sends the key as a bearer token
    assert request.headers["anthropic-version"] == "2026-10-21"
    assert request.headers["Authorization"] == f"Bearer {DEFAULT_KEY}"


def test_x_api_key_with_2023_06_01_accepts_sampling_parameters(fake: FakeAnthropic) -> None:
    body = {"model": "m", "max_tokens": 50, "temperature": 0.2, "top_k": 5, "top_p": 0.9, "messages": HI}
    response = post(fake, body, {**OLD, "anthropic-beta": "prompt-caching-2024-07-31"})
    assert response.status_code == 200 and response.json()["content"][0]["text"] == "Echo: hi"
    assert fake.requests[-1].headers["anthropic-beta"] == "prompt-caching-2024-07-31"
    assert response.headers["anthropic-ratelimit-requests-limit"] == "20000"
    new = {"x-api-key": DEFAULT_KEY, "anthropic-version": "2026-10-21"}
    assert refusal(fake, body, new) == "temperature: Extra inputs are not permitted"


def test_stream_replays_the_recorded_event_sequence(client: anthropic.Anthropic, fake: FakeAnthropic) -> None:
    with client.messages.stream(model="claude-haiku-4-5", max_tokens=100, messages=HI) as stream:
        final = stream.get_final_message()
    assert final.content[0].type == "text" and final.content[0].text == "Echo: hi"
    body = {
        "model": "m",
        "max_tokens": 100,
        "stream": True,
        "messages": [{"role": "user", "content": "a b c"}],
    }
    response = post(fake, body)
    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    names = [line[7:] for line in response.text.splitlines() if line.startswith("event: ")]
    recorded = [e.event for e in load_sse_events("anthropic", "messages.stream_text")]
    assert names[:3] == recorded[:3] == ["message_start", "content_block_start", "ping"]
    assert names[-3:] == recorded[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert names.count("content_block_delta") == 4  # "Echo:", " a", " b", " c"
    assert any(line.endswith("} ") for line in response.text.splitlines())  # padded like the real stream
    deltas = [json.loads(line[6:]) for line in response.text.splitlines() if line.startswith("data: ")]
    assert deltas[-2]["usage"]["output_tokens"] == 4 and deltas[-2]["delta"]["stop_reason"] == "end_turn"


def test_thinking_adds_a_signed_thinking_block(client: anthropic.Anthropic, fake: FakeAnthropic) -> None:
    thinking: Any = {"type": "enabled", "budget_tokens": 1024}
    message = client.messages.create(model="m", max_tokens=2048, thinking=thinking, messages=HI)
    kinds = [block.type for block in message.content]
    assert kinds == ["thinking", "text"]
    block = message.content[0]
    assert block.type == "thinking" and block.signature and "hi" in block.thinking
    with client.messages.stream(model="m", max_tokens=2048, thinking=thinking, messages=HI) as stream:
        types = {event.type for event in stream}
        final = stream.get_final_message()
    assert {"thinking", "signature"} <= types
    assert final.content[0].type == "thinking" and final.content[0].signature == block.signature
    # the next turn must hand the thinking block back in a tool loop
    tool_turn: Any = [
        {"role": "user", "content": "capital of France?"},
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "toolu_1", "name": "get_capital", "input": {}}],
        },
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "Paris"}]},
    ]
    body = {"model": "m", "max_tokens": 2048, "thinking": thinking, "tools": TOOLS, "messages": tool_turn}
    assert refusal(fake, body).startswith(
        "messages.1.content.0.type: Expected `thinking` or `redacted_thinking`"
    )
    tool_turn[1]["content"].insert(
        0, {"type": "thinking", "thinking": block.thinking, "signature": block.signature}
    )
    assert post(fake, body).status_code == 200


def test_tool_use_blocks_and_a_tool_loop(client: anthropic.Anthropic) -> None:
    message = client.messages.create(
        model="claude-tool", max_tokens=200, tools=TOOLS, messages=[{"role": "user", "content": "France"}]
    )
    assert message.stop_reason == "tool_use" and [b.type for b in message.content] == ["text", "tool_use"]
    call = message.content[1]
    assert call.type == "tool_use" and call.id.startswith("toolu_01") and call.input == {"country": "France"}
    parallel = client.messages.create(
        model="claude-parallel-tools", max_tokens=200, tools=TOOLS, tool_choice={"type": "any"}, messages=HI
    )
    assert [b.type for b in parallel.content] == ["tool_use", "tool_use"]  # no preamble when forced
    with client.messages.stream(model="claude-tool", max_tokens=200, tools=TOOLS, messages=HI) as stream:
        pieces = [
            e.delta.partial_json
            for e in stream
            if e.type == "content_block_delta" and e.delta.type == "input_json_delta"
        ]
        final = stream.get_final_message()
    assert len(pieces) > 2 and json.loads("".join(pieces)) == {"country": "hi"}
    assert final.content[-1].type == "tool_use" and final.content[-1].input == {"country": "hi"}
    answered = client.messages.create(
        model="claude-tool",
        max_tokens=200,
        tools=TOOLS,
        messages=[
            {"role": "user", "content": "France"},
            {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in message.content]},  # type: ignore[misc]
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "Paris"}],
            },
        ],
    )
    # the loop was accepted, and with the results in hand the model answers in words
    assert answered.stop_reason == "end_turn" and answered.content[0].type == "text"


def test_count_tokens_matches_usage(client: anthropic.Anthropic) -> None:
    messages: Any = [{"role": "user", "content": "how many tokens is this?"}]
    counted = client.messages.count_tokens(model="m", system="be brief", tools=TOOLS, messages=messages)
    assert set(counted.model_dump()) == set(load_json("anthropic", "count_tokens.default"))
    created = client.messages.create(
        model="m", max_tokens=10, system="be brief", tools=TOOLS, messages=messages
    )
    assert counted.input_tokens == created.usage.input_tokens > 50


def test_cache_control_writes_then_reads(client: anthropic.Anthropic) -> None:
    system: Any = [{"type": "text", "text": LONG_SYSTEM, "cache_control": {"type": "ephemeral"}}]
    first = client.messages.create(model="m", max_tokens=10, system=system, messages=HI)
    second = client.messages.create(
        model="m", max_tokens=10, system=system, messages=[{"role": "user", "content": "again"}]
    )
    total = client.messages.count_tokens(model="m", system=system, messages=HI).input_tokens
    assert first.usage.cache_creation_input_tokens > 1024 and first.usage.cache_read_input_tokens == 0
    assert (
        first.usage.cache_creation is not None and first.usage.cache_creation.ephemeral_5m_input_tokens > 1024
    )
    assert second.usage.cache_read_input_tokens == first.usage.cache_creation_input_tokens
    assert second.usage.cache_creation_input_tokens == 0
    assert first.usage.input_tokens + first.usage.cache_creation_input_tokens == total
    short: Any = [{"type": "text", "text": "short", "cache_control": {"type": "ephemeral"}}]
    small = client.messages.create(model="m", max_tokens=10, system=short, messages=HI)
    assert small.usage.cache_creation_input_tokens == 0  # below the minimum cacheable prefix


def test_error_statuses_map_to_sdk_errors(client: anthropic.Anthropic, fake: FakeAnthropic) -> None:
    cases: list[tuple[str, type[anthropic.APIStatusError], str]] = [
        ("fail-500", anthropic.InternalServerError, "api_error"),
        ("overloaded", anthropic.OverloadedError, "overloaded_error"),
        ("bad-request", anthropic.BadRequestError, "invalid_request_error"),
        ("not-found", anthropic.NotFoundError, "not_found_error"),
    ]
    for model, error, kind in cases:
        with pytest.raises(error) as raised:
            client.messages.create(model=model, max_tokens=5, messages=HI)
        assert isinstance(raised.value.body, dict) and raised.value.body["error"]["type"] == kind
    assert raised.value.body["error"]["message"] == "model: not-found"  # type: ignore[index]
    with pytest.raises(anthropic.RateLimitError) as limited:
        client.messages.create(model="rate-limited", max_tokens=5, messages=HI)
    assert limited.value.response.headers["retry-after"] == "3"
    assert limited.value.response.headers["x-should-retry"] == "true"
    for key, error, header in [
        ("sk-limited", anthropic.RateLimitError, "2"),
        ("sk-broke", anthropic.InternalServerError, None),
        ("sk-busy", anthropic.OverloadedError, None),
        ("sk-wrong", anthropic.AuthenticationError, None),
    ]:
        with (
            anthropic.Anthropic(base_url=fake.base_url, api_key=key, max_retries=0) as other,
            pytest.raises(error) as caught,
        ):
            other.messages.create(model="m", max_tokens=5, messages=HI)
        assert caught.value.response.headers.get("retry-after") == header
    assert caught.value.body == {
        **load_json("anthropic", "messages.error_401"),
        "request_id": caught.value.request_id,
    }


def test_headers_are_required(fake: FakeAnthropic) -> None:
    body = {"model": "m", "max_tokens": 5, "messages": HI}
    missing = post(fake, body, {"anthropic-version": "2023-06-01"})
    assert missing.status_code == 401 and missing.json()["error"] == {
        "type": "authentication_error",
        "message": "x-api-key header is required",
    }
    assert refusal(fake, body, {"x-api-key": DEFAULT_KEY}) == "anthropic-version: header is required"
    bearer = {"Authorization": f"Bearer {DEFAULT_KEY}", "anthropic-version": "2023-06-01"}
    assert post(fake, body, bearer).status_code == 200
    with FakeAnthropic(bearer_keys=False) as strict:
        assert post(strict, body, bearer).status_code == 401
        assert post(strict, body).status_code == 200
    bad_json = httpx.post(fake.base_url + "/v1/messages", content=b"{nope", headers=OLD)
    assert bad_json.status_code == 400 and "not valid JSON" in bad_json.json()["error"]["message"]
    assert httpx.get(fake.base_url + "/v1/nothing").status_code == 404


def req(messages: Any = HI, **extra: Any) -> dict[str, Any]:
    return {"model": "m", "max_tokens": 5, "messages": messages, **extra}


def user(*blocks: Any) -> list[Any]:
    return [{"role": "user", "content": list(blocks)}]


TURN: Any = [
    {"role": "user", "content": "capital?"},
    {
        "role": "assistant",
        "content": [{"type": "tool_use", "id": "toolu_1", "name": "get_capital", "input": {}}],
    },
]
RESULT = {"type": "tool_result", "tool_use_id": "toolu_1"}
THINK = {"type": "enabled", "budget_tokens": 1024}
BMP = {"type": "image", "source": {"type": "base64", "media_type": "image/bmp", "data": "x"}}
REFUSED: list[tuple[dict[str, Any], str]] = [
    ({"model": "m", "messages": HI}, "max_tokens: Field required"),
    ({"max_tokens": 5, "messages": HI}, "model: Field required"),
    (req(stream_options={}), "stream_options: Extra inputs are not permitted"),
    (req([]), "messages: at least one message is required"),
    (req([{"role": "system", "content": "x"}]), "messages.0.role: Input should be 'user' or 'assistant'"),
    (req([{"role": "assistant", "content": "x"}]), 'messages: first message must use the "user" role'),
    (req([{"role": "user", "content": ""}]), "messages.0: all messages must have non-empty content"),
    (req(user({"type": "text", "text": ""})), "messages: text content blocks must be non-empty"),
    (req(user({"type": "txt", "text": "x"})), "messages.0.content.0: Input tag 'txt' found using 'type'"),
    (req(user(BMP)), "messages.0.content.0.image.source.base64.media_type: Input should be 'image/jpeg'"),
    (
        req(user({"type": "tool_result", "tool_use_id": "toolu_9"})),
        "messages.0.content.0: unexpected `tool_use_id` found in `tool_result` blocks: toolu_9.",
    ),
    (
        req([*TURN, {"role": "user", "content": "Paris"}]),
        "messages.1: `tool_use` ids were found without `tool_result` blocks immediately after: toolu_1.",
    ),
    (req([*TURN, *user({"type": "text", "text": "r"}, RESULT)]), "messages.1: `tool_use` ids were found"),
    (
        req(user({"type": "tool_use", "id": "t", "name": "n", "input": {}, "text": "x"})),
        "messages.0.content.0.tool_use.text: Extra inputs are not permitted",
    ),
    (req(tools=[{"name": "x"}]), "tools.0.custom.input_schema: Field required"),
    (
        req(tools=[{"name": "x", "input_schema": {"type": "object"}, "parameters": {}}]),
        "tools.0.custom.parameters: Extra inputs are not permitted",
    ),
    (req(tools=[{"type": "function", "function": {}}]), "tools.0: Input tag 'function' found using 'type'"),
    (req(tools=[*TOOLS, *TOOLS]), "tools: Tool names must be unique."),
    (req(tool_choice={"type": "required"}), "tool_choice: Input tag 'required' found using 'type'"),
    (
        req(thinking={"type": "enabled", "budget_tokens": 100}),
        "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024",
    ),
    (req(thinking=THINK, max_tokens=1024), "`max_tokens` must be greater than `thinking.budget_tokens`."),
    (
        req(thinking=THINK, max_tokens=4096, temperature=0.5),
        "`temperature` may only be set to 1 when thinking is enabled.",
    ),
    (req(temperature=1.5), "temperature: Input should be less than or equal to 1"),
    (req(top_k=2.5), "top_k: Input should be a valid integer"),
    (req(max_tokens="5"), "max_tokens: Input should be a valid integer"),
    (
        req(system=[{"type": "text", "text": "a", "cache_control": {"type": "ephemeral", "scope": "x"}}]),
        "system.0.cache_control.scope: Extra inputs are not permitted",
    ),
    (
        req([*HI, {"role": "assistant", "content": "y "}]),
        "messages: final assistant content cannot end with trailing whitespace",
    ),
    (
        req(
            [*HI, {"role": "assistant", "content": [{"type": "thinking", "thinking": "t", "signature": "s"}]}]
        ),
        "messages.1.content.0: When thinking is disabled, an `assistant` message in the final position",
    ),
]


@pytest.mark.parametrize(("body", "expected"), REFUSED, ids=[e[:40] for _, e in REFUSED])
def test_strict_validation_refuses_what_the_api_refuses(
    fake: FakeAnthropic, body: dict[str, Any], expected: str
) -> None:
    assert refusal(fake, body).startswith(expected)


def test_recorded_real_requests_are_accepted() -> None:
    cases = [c for c, entry in load_manifest("anthropic")["cases"].items() if entry.get("request_file")]
    assert len(cases) >= 8
    for case in cases:
        body = load_request("anthropic", case)["body"]
        assert request_errors(body, create=case.startswith("messages."), version="2023-06-01") is None, case
    beta_only = {"model": "m", "max_tokens": 5, "messages": HI, "context_management": {"edits": []}}
    assert request_errors(beta_only, create=True, version="2023-06-01", beta=True) is None
    assert (
        request_errors(beta_only, create=True, version="2023-06-01")
        == "context_management: Extra inputs are not permitted"
    )


def test_schema_follows_the_sdk_types() -> None:
    """The strict models accept exactly the keys of the SDK's request TypedDicts."""

    def keys(typed: Any) -> set[str]:
        return set(typing.get_type_hints(typed))

    from anthropic.types import (
        MessageCountTokensParams,
        TextBlockParam,
        ToolParam,
        ToolResultBlockParam,
        ToolUseBlockParam,
        message_create_params,
    )

    create = keys(message_create_params.MessageCreateParamsNonStreaming) | {"temperature", "top_p", "top_k"}
    assert set(CreateRequest.model_fields) == create
    assert set(CountTokensRequest.model_fields) == keys(MessageCountTokensParams)
    for ours, theirs in [(TextBlock, TextBlockParam), (ToolUseBlock, ToolUseBlockParam),
                         (ToolResultBlock, ToolResultBlockParam), (CustomTool, ToolParam)]:  # fmt: skip
        assert set(ours.model_fields) == keys(theirs), ours.__name__


def test_stream_faults(fake: FakeAnthropic) -> None:
    def stream(model: str, timeout: float = 5) -> tuple[list[str], BaseException | None]:
        body = {"model": model, "max_tokens": 5, "stream": True, "messages": HI}
        seen: list[str] = []
        try:
            with httpx.stream(
                "POST", fake.base_url + "/v1/messages", json=body, headers=OLD, timeout=timeout
            ) as response:
                for line in response.iter_lines():
                    seen.append(line)
        except httpx.HTTPError as exc:
            return seen, exc
        return seen, None

    lines, error = stream("reset-2")
    assert isinstance(error, httpx.RemoteProtocolError | httpx.ReadError)
    assert sum('"text_delta"' in line for line in lines) == 2
    lines, error = stream("stall-1", timeout=0.3)
    assert isinstance(error, httpx.ReadTimeout) and sum('"text_delta"' in line for line in lines) == 1
    lines, error = stream("error-mid-stream-2")
    assert error is None and sum('"text_delta"' in line for line in lines) == 2
    assert lines[-3:-1] == ["event: error", lines[-2]] and '"overloaded_error"' in lines[-2]
    assert "message_stop" not in "".join(lines)
    began = time.perf_counter()
    assert post(fake, {"model": "slow-0.3", "max_tokens": 5, "messages": HI}).status_code == 200
    assert time.perf_counter() - began >= 0.3
    midstream = post(fake, {"model": "error-mid-stream-2", "max_tokens": 5, "messages": HI})
    assert midstream.status_code == 529 and midstream.json()["error"]["type"] == "overloaded_error"


def test_sdk_raises_the_in_stream_error_and_disconnects_are_seen(
    client: anthropic.Anthropic, fake: FakeAnthropic
) -> None:
    with (
        pytest.raises(anthropic.APIStatusError) as raised,
        client.messages.stream(model="error-mid-stream-3", max_tokens=5, messages=HI) as stream,
    ):
        stream.get_final_message()
    assert "overloaded_error" in str(raised.value)
    with client.messages.stream(model="drip-20", max_tokens=5, messages=HI) as stream:
        for event in stream:
            if event.type == "content_block_delta":
                break  # leave mid-stream: the fake sees the client go
    (gone,) = fake.wait_for_disconnects(1, timeout=2)
    assert gone[0] == "drip-20"


def test_a_read_the_file_prompt_calls_claude_codes_read_tool(fake: FakeAnthropic) -> None:
    read = {
        "name": "Read",
        "input_schema": {"type": "object", "properties": {"file_path": {"type": "string"}}},
    }
    ask = [{"role": "user", "content": "Please read the file /tmp/w/notes.txt"}]
    body = {"model": "claude-haiku-4-5", "max_tokens": 100, "messages": ask, "tools": [read]}
    called = post(fake, body).json()
    use = called["content"][-1]
    assert called["stop_reason"] == "tool_use"
    assert (use["type"], use["name"], use["input"]) == ("tool_use", "Read", {"file_path": "/tmp/w/notes.txt"})
    result = {"type": "tool_result", "tool_use_id": use["id"], "content": "1\tThe word is TEAL."}
    turns = [*ask, {"role": "assistant", "content": called["content"]}, {"role": "user", "content": [result]}]
    answer = post(fake, {**body, "messages": turns}).json()
    assert answer["stop_reason"] == "end_turn" and "TEAL" in answer["content"][0]["text"]


def test_a_run_the_shell_command_prompt_calls_codex_clis_shell_tool(fake: FakeAnthropic) -> None:
    schema = {"type": "object", "properties": {"cmd": {"type": "string"}, "workdir": {"type": "string"}}}
    tools = [{"name": "exec_command", "input_schema": schema}, {"name": "view_image", "input_schema": schema}]
    ask = [{"role": "user", "content": "Please run the shell command `echo MARK > out.txt` and tell me."}]
    body = {"model": "claude-haiku-4-5", "max_tokens": 100, "messages": ask, "tools": tools}
    called = post(fake, body).json()
    use = called["content"][-1]
    assert called["stop_reason"] == "tool_use"
    assert (use["name"], use["input"]) == ("exec_command", {"cmd": "echo MARK > out.txt"})
    result = {"type": "tool_result", "tool_use_id": use["id"], "content": "Process exited with code 0"}
    turns = [*ask, {"role": "assistant", "content": called["content"]}, {"role": "user", "content": [result]}]
    answer = post(fake, {**body, "messages": turns}).json()
    assert answer["stop_reason"] == "end_turn" and "exited with code 0" in answer["content"][0]["text"]
    unoffered = post(fake, {**body, "tools": tools[1:]}).json()
    assert unoffered["stop_reason"] == "end_turn"  # no shell tool offered: words


def test_a_json_schema_output_format_gets_json_satisfying_it(fake: FakeAnthropic) -> None:
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string"}, "population": {"type": "integer"}},
        "required": ["city", "population"],
        "additionalProperties": False,
    }
    ask = [{"role": "user", "content": "Name a city."}]
    body = {"model": "claude-haiku-4-5", "max_tokens": 100, "messages": ask}
    output_config = {"format": {"type": "json_schema", "schema": schema}}
    shaped = post(fake, {**body, "output_config": output_config}).json()
    assert json.loads(shaped["content"][0]["text"]) == {"city": "Name a city.", "population": 1}
    assert post(fake, body).json()["content"][0]["text"] == "Echo: Name a city."
