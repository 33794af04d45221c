"""The fake OpenAI upstream is faithful: the official ``openai`` SDK parses everything it sends."""

from __future__ import annotations

import base64
import json
import socket
import struct
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from openai.types.chat import ChatCompletion, ChatCompletionToolParam

from tests.support.fakes import FakeOpenAI, load_json, load_sse

KEY = "sk-upstream-1"
AUTH = {"Authorization": f"Bearer {KEY}"}
HI: Any = [{"role": "user", "content": "hi"}]
TOOLS: list[ChatCompletionToolParam] = [
    {
        "type": "function",
        "function": {
            "name": "get_capital",
            "parameters": {
                "type": "object",
                "properties": {"country": {"type": "string"}},
                "required": ["country"],
            },
        },
    }
]


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(key_behaviors={"sk-limited": "429:2", "sk-broke": "500", "sk-quota": "quota"}) as server:
        yield server


@pytest.fixture
def client(fake: FakeOpenAI) -> Iterator[openai.OpenAI]:
    fake.clear()
    with openai.OpenAI(base_url=fake.base_url, api_key=KEY, max_retries=0, timeout=5) as sdk:
        yield sdk


def _chat(client: openai.OpenAI, model: str) -> ChatCompletion:
    return client.chat.completions.create(model=model, messages=HI)


def test_start_stop_leaks_no_thread() -> None:
    threads = threading.active_count()
    server = FakeOpenAI().start()
    with socket.create_connection(("127.0.0.1", server.port)):
        pass
    server.stop()
    assert threading.active_count() == threads
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", server.port), timeout=0.5):
        pass


def test_chat_completion_parses_and_echoes(client: openai.OpenAI, fake: FakeOpenAI) -> None:
    completion = client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "route me to the blue pool"}]
    )
    assert isinstance(completion, ChatCompletion)
    assert completion.model == "gpt-4o-mini" and completion.object == "chat.completion"
    assert completion.id.startswith("chatcmpl-")
    assert "route me to the blue pool" in (completion.choices[0].message.content or "")
    assert completion.choices[0].finish_reason == "stop"
    usage = completion.usage
    assert usage is not None and usage.prompt_tokens_details is not None
    assert usage.prompt_tokens_details.cached_tokens == 0
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    # the same fields as the recording
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=HI
    ).http_response.json()
    recorded = load_json("openai", "chat.text")
    assert raw.keys() == recorded.keys()
    assert raw["choices"][0]["message"].keys() == recorded["choices"][0]["message"].keys()
    assert raw["usage"].keys() == recorded["usage"].keys()
    first, second = fake.requests
    assert first.method == "POST" and first.path == "/v1/chat/completions"
    assert first.api_key == KEY and first.model == "gpt-4o-mini"
    assert first.headers["authorization"] == f"Bearer {KEY}"
    assert first.json["messages"][0]["content"] == "route me to the blue pool"
    assert json.loads(second.body) == second.json


def test_repeated_long_prompt_reports_cached_tokens(client: openai.OpenAI) -> None:
    messages: Any = [{"role": "user", "content": "lorem ipsum " * 600}]
    first = client.chat.completions.create(model="gpt-4o", messages=messages).usage
    again = client.chat.completions.create(model="gpt-4o", messages=messages).usage
    assert first and first.prompt_tokens >= 1024 and first.prompt_tokens_details
    assert first.prompt_tokens_details.cached_tokens == 0
    assert again and again.prompt_tokens_details
    assert again.prompt_tokens_details.cached_tokens == again.prompt_tokens // 128 * 128


def test_tool_call(client: openai.OpenAI) -> None:
    recorded = load_json("openai", "chat.tool_call")["choices"][0]["message"]["tool_calls"][0]
    message = client.chat.completions.create(model="gpt-tool", messages=HI, tools=TOOLS).choices[0].message
    assert message.tool_calls is not None
    call = message.tool_calls[0]
    assert call.type == recorded["type"] == "function"
    assert call.function.name == "get_capital"
    assert json.loads(call.function.arguments) == {"country": "hi"}
    chunks = list(client.chat.completions.create(model="gpt-tool", messages=HI, tools=TOOLS, stream=True))
    fragments = [
        tc.function.arguments for c in chunks for tc in c.choices[0].delta.tool_calls or [] if tc.function
    ]
    assert "".join(f or "" for f in fragments) == '{"country":"hi"}'
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


@pytest.mark.parametrize("include_usage", [False, True])
def test_chat_stream_include_usage(client: openai.OpenAI, include_usage: bool) -> None:
    options: Any = {"include_usage": True} if include_usage else openai.omit
    with client.chat.completions.with_streaming_response.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "stream please"}],
        stream=True,
        stream_options=options,
    ) as response:
        assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
        lines = [line for line in response.iter_lines() if line]
    assert all(line.startswith("data: ") for line in lines)
    payloads = [line.removeprefix("data: ") for line in lines]
    assert payloads[-1] == "[DONE]"
    chunks = [json.loads(p) for p in payloads[:-1]]
    recorded = [json.loads(p) for p in load_sse("openai", "chat.stream_text")[:-1]]
    assert chunks[0]["choices"][0]["delta"] == recorded[0]["choices"][0]["delta"]
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert text == "Echo: stream please"
    if include_usage:
        assert all(c.keys() == recorded[0].keys() and c["usage"] is None for c in chunks[:-1])
        assert chunks[-1]["choices"] == [] and chunks[-1]["usage"].keys() == recorded[-1]["usage"].keys()
    else:
        assert all("usage" not in c and c["choices"] for c in chunks)
        assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


def test_chat_stream_through_sdk(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model="chunks-5", messages=HI, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    content = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(content) == 5
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 5
    assert all(c.model == "chunks-5" for c in chunks)


def test_legacy_completions(client: openai.OpenAI) -> None:
    completion = client.completions.create(model="gpt-3.5-turbo-instruct", prompt="say this")
    assert completion.object == "text_completion"
    assert "say this" in completion.choices[0].text
    plain = list(client.completions.create(model="gpt-3.5-turbo-instruct", prompt="a b", stream=True))
    assert all(c.usage is None for c in plain) and plain[-1].choices[0].finish_reason == "stop"
    counted = list(
        client.completions.create(
            model="chunks-3", prompt="a", stream=True, stream_options={"include_usage": True}
        )
    )
    assert counted[-1].choices == [] and counted[-1].usage and counted[-1].usage.completion_tokens == 3


def test_embeddings_float_and_base64(client: openai.OpenAI, fake: FakeOpenAI) -> None:
    recorded = load_json("openai", "embeddings.default")["data"][0]["embedding"]
    dims = len(base64.b64decode(recorded)) // 4
    as_float = client.embeddings.create(
        model="text-embedding-3-small", input=["a", "b"], encoding_format="float"
    )
    as_b64 = client.embeddings.create(model="text-embedding-3-small", input=["a", "b"])
    assert fake.requests[-1].json["encoding_format"] == "base64"  # the SDK's default, decoded by the SDK
    assert [d.index for d in as_float.data] == [0, 1]
    assert len(as_float.data[0].embedding) == dims
    assert as_float.data[0].embedding != as_float.data[1].embedding
    for f, b in zip(as_float.data, as_b64.data, strict=True):
        assert b.embedding == pytest.approx(f.embedding, rel=1e-6)
    short = client.embeddings.create(model="text-embedding-3-small", input="a", dimensions=8)
    assert len(short.data[0].embedding) == 8
    assert sum(v * v for v in short.data[0].embedding) == pytest.approx(1.0, rel=1e-5)
    # without encoding_format the API answers floats
    url = f"{fake.base_url}/embeddings"
    raw = httpx.post(
        url, headers=AUTH, json={"model": "text-embedding-3-small", "input": "Hello, world!"}
    ).json()
    assert isinstance(raw["data"][0]["embedding"], list)
    assert raw["usage"] == load_json("openai", "embeddings.default")["usage"]
    raw = httpx.post(url, headers=AUTH, json={"model": "m", "input": "x", "encoding_format": "base64"}).json()
    vector = struct.unpack(f"<{dims}f", base64.b64decode(raw["data"][0]["embedding"]))
    assert sum(v * v for v in vector) == pytest.approx(1.0, rel=1e-3)


def test_models(client: openai.OpenAI) -> None:
    recorded = [m["id"] for m in load_json("openai", "models.default")["data"]]
    assert [m.id for m in client.models.list()] == recorded
    assert client.models.retrieve(recorded[0]).id == recorded[0]
    with (
        FakeOpenAI(models=["gpt-a", "gpt-b"]) as custom,
        openai.OpenAI(base_url=custom.base_url, api_key=KEY, max_retries=0) as sdk,
    ):
        assert [m.id for m in sdk.models.list()] == ["gpt-a", "gpt-b"]


@pytest.mark.parametrize(
    ("model", "error", "case"),
    [
        ("fail-500", openai.InternalServerError, None),
        ("fail-503", openai.InternalServerError, None),
        ("bad-request", openai.BadRequestError, "chat.error_400"),
        ("not-found", openai.NotFoundError, "chat.error_404"),
        ("status-403", openai.PermissionDeniedError, None),
        ("status-422", openai.UnprocessableEntityError, None),
    ],
)
def test_magic_errors(
    client: openai.OpenAI, model: str, error: type[openai.APIStatusError], case: str | None
) -> None:
    with pytest.raises(error) as caught:
        _chat(client, model)
    body = caught.value.response.json()
    assert set(body["error"]) == {"message", "type", "param", "code"}
    if case is not None:
        recorded = load_json("openai", case)["error"]
        assert (body["error"]["type"], body["error"]["code"]) == (recorded["type"], recorded["code"])
    if model == "not-found":
        assert "`not-found`" in body["error"]["message"]


def test_rate_limited(client: openai.OpenAI) -> None:
    with pytest.raises(openai.RateLimitError) as caught:
        _chat(client, "rate-limited")
    assert caught.value.response.headers["retry-after"] == "3"
    assert (caught.value.code, caught.value.type) == ("rate_limit_exceeded", "requests")


@pytest.mark.parametrize(
    ("key", "error", "code"),
    [
        ("sk-wrong-key-000000000000", openai.AuthenticationError, "invalid_api_key"),
        ("sk-limited", openai.RateLimitError, "rate_limit_exceeded"),
        ("sk-quota", openai.RateLimitError, "insufficient_quota"),
        ("sk-broke", openai.InternalServerError, None),
    ],
)
def test_key_behaviors(
    fake: FakeOpenAI, key: str, error: type[openai.APIStatusError], code: str | None
) -> None:
    with (
        openai.OpenAI(base_url=fake.base_url, api_key=key, max_retries=0) as sdk,
        pytest.raises(error) as caught,
    ):
        _chat(sdk, "gpt-4o-mini")
    assert caught.value.code == code
    if key == "sk-limited":
        assert caught.value.response.headers["retry-after"] == "2"
    if key.startswith("sk-wrong"):
        assert key not in caught.value.message and "*****" in caught.value.message  # masked, as OpenAI does
        assert fake.requests[-1].api_key == key


def test_request_validation(fake: FakeOpenAI) -> None:
    url = f"{fake.base_url}/chat/completions"
    bad_json = httpx.post(url, headers=AUTH, content=b"{not json")
    assert bad_json.status_code == 400 and bad_json.json()["error"]["type"] == "invalid_request_error"
    no_messages = httpx.post(url, headers=AUTH, json={"model": "m"}).json()["error"]
    assert (no_messages["param"], no_messages["code"]) == ("messages", "missing_required_parameter")
    no_model = httpx.post(url, headers=AUTH, json={"messages": HI})
    assert no_model.status_code == 400 and "model" in no_model.json()["error"]["message"]
    assert httpx.post(url, json={"model": "m", "messages": HI}).status_code == 401
    assert (
        httpx.get(f"{fake.base_url}/nope", headers=AUTH).json()["error"]["message"]
        == "Invalid URL (GET /v1/nope)"
    )


def test_reset_mid_stream_raises_in_the_sdk(client: openai.OpenAI) -> None:
    received: list[str] = []
    with pytest.raises(openai.APIConnectionError):
        for chunk in client.chat.completions.create(model="reset-2", messages=HI, stream=True):
            received.append(chunk.choices[0].delta.content or "")
    assert len([r for r in received if r]) == 2
    with pytest.raises(openai.APIConnectionError):
        _chat(client, "reset-0")


def test_stall_and_slow(fake: FakeOpenAI) -> None:
    fake.clear()
    url, body = f"{fake.base_url}/chat/completions", {"messages": HI, "stream": True}
    with httpx.stream("POST", url, headers=AUTH, json={**body, "model": "stall-1"}, timeout=0.3) as response:
        lines = (line for line in response.iter_lines() if line)
        assert '"role":"assistant"' in next(lines)
        assert '"content":"The"' in next(lines)
        with pytest.raises(httpx.ReadTimeout):
            next(lines)
    with pytest.raises(httpx.ReadTimeout):  # slow-1 answers after a second
        httpx.post(url, headers=AUTH, json={**body, "model": "slow-1"}, timeout=0.2)
    # both clients gave up before their response finished
    assert {model for model, _ in fake.wait_for_disconnects(2)} == {"stall-1", "slow-1"}


def test_client_disconnect_is_recorded(fake: FakeOpenAI) -> None:
    fake.clear()
    body = {"model": "drip-50", "messages": HI, "stream": True}
    with httpx.stream("POST", f"{fake.base_url}/chat/completions", headers=AUTH, json=body) as response:
        lines = (line for line in response.iter_lines() if line)
        next(lines)
        next(lines)
        closed_at = time.monotonic()
    disconnects = fake.wait_for_disconnects(1, timeout=1.0)
    assert len(disconnects) == 1
    model, at = disconnects[0]
    assert model == "drip-50" and 0 <= at - closed_at < 1.0


READ_TOOL: Any = {
    "type": "function",
    "function": {
        "name": "Read",
        "parameters": {
            "type": "object",
            "properties": {"file_path": {"type": "string"}},
            "required": ["file_path"],
        },
    },
}


def test_a_read_the_file_prompt_calls_claude_codes_read_tool_then_echoes_its_result(fake: FakeOpenAI) -> None:
    ask = [{"role": "user", "content": "Read the file /tmp/w/notes.txt."}]
    body = {"model": "gpt-4o-mini", "messages": ask, "tools": [READ_TOOL]}
    called = httpx.post(f"{fake.base_url}/chat/completions", json=body, headers=AUTH, timeout=5).json()
    call = called["choices"][0]["message"]["tool_calls"][0]
    assert called["choices"][0]["finish_reason"] == "tool_calls"
    assert call["function"] == {"name": "Read", "arguments": '{"file_path":"/tmp/w/notes.txt"}'}
    turns = [
        *ask,
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": call["id"], "content": "1\tThe word is TEAL."},
        {"role": "user", "content": "Thanks."},
    ]
    answer = httpx.post(
        f"{fake.base_url}/chat/completions", json={**body, "messages": turns}, headers=AUTH, timeout=5
    ).json()
    assert answer["choices"][0]["message"]["content"] == "Echo: 1\tThe word is TEAL. Thanks."
    plain = httpx.post(
        f"{fake.base_url}/chat/completions", json={**body, "tools": [TOOLS[0]]}, headers=AUTH, timeout=5
    ).json()
    assert "tool_calls" not in plain["choices"][0]["message"]  # no Read tool offered: words


def test_a_run_the_shell_command_prompt_calls_codex_clis_shell_tool(fake: FakeOpenAI) -> None:
    schema = {"type": "object", "properties": {"command": {"type": "string"}}, "required": ["command"]}
    shell = {"type": "function", "function": {"name": "shell_command", "parameters": schema}}
    ask = [{"role": "user", "content": "Run the shell command `ls -la` please."}]
    body = {"model": "gpt-4o-mini", "messages": ask, "tools": [READ_TOOL, shell]}
    called = httpx.post(f"{fake.base_url}/chat/completions", json=body, headers=AUTH, timeout=5).json()
    call = called["choices"][0]["message"]["tool_calls"][0]
    assert call["function"] == {"name": "shell_command", "arguments": '{"command":"ls -la"}'}
    turns = [
        *ask,
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": call["id"], "content": "total 0"},
    ]
    answer = httpx.post(
        f"{fake.base_url}/chat/completions", json={**body, "messages": turns}, headers=AUTH, timeout=5
    ).json()
    assert answer["choices"][0]["message"]["content"] == "Echo: total 0"


def test_a_json_schema_response_format_gets_json_satisfying_it(fake: FakeOpenAI) -> None:
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    fmt = {"type": "json_schema", "json_schema": {"name": "place", "schema": schema, "strict": True}}
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Name a city."}]}
    shaped = httpx.post(
        f"{fake.base_url}/chat/completions", json={**body, "response_format": fmt}, headers=AUTH, timeout=5
    ).json()
    assert json.loads(shaped["choices"][0]["message"]["content"]) == {"city": "Name a city."}


@pytest.mark.parametrize(
    ("model", "refused"), [("gpt-4o-mini", True), ("gpt-3.5-turbo", True), ("o4-mini", False)]
)
def test_reasoning_effort_is_refused_for_a_model_without_reasoning(
    fake: FakeOpenAI, model: str, refused: bool
) -> None:
    body = {"model": model, "messages": HI, "reasoning_effort": "high"}
    response = httpx.post(f"{fake.base_url}/chat/completions", json=body, headers=AUTH, timeout=5)
    if not refused:
        assert response.status_code == 200
        return
    assert response.status_code == 400
    assert response.json()["error"] == {
        "message": "Unsupported parameter: 'reasoning_effort' is not supported with this model.",
        "type": "invalid_request_error",
        "param": "reasoning_effort",
        "code": "unsupported_parameter",
    }
