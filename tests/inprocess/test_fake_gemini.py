"""The fake Gemini upstream is faithful: the official ``google-genai`` SDK parses everything it sends, the
recorded real requests pass its validation, and it refuses what the real API refuses, in the API's words.

Where the refusal messages come from (real API answers quoted in public issues): unknown fields
(``additionalProperties``, ``const``, ``$schema`` in ``parameters``) glowingjade/obsidian-smart-composer#455,
openswarm-ai/openswarm#24, zed-industries/zed#44875; ``Proto field is not repeating, cannot start list``
zed-industries/zed#53919; enum values ``Invalid value at '...type' (...v1beta.Type)`` zereight/gitlab-mcp#166;
``required oneof field 'data' must have one initialized field`` boldsoftware/sketch#68; the function
call / response turn rules langchain-ai/langchain#27799, lobehub/lobehub#7298, google-gemini/gemini-cli#17208
and #11814. A 429 carries no Retry-After header, only a RetryInfo detail: dcdpr/jp#1061.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from google import genai
from google.genai import errors, types

from tests.support.fakes.fixtures import fixtures_dir, load_json, load_manifest, load_request
from tests.support.fakes.gemini_upstream import (
    DEFAULT_KEY,
    PROTO,
    FakeGemini,
    generate_errors,
    request_violations,
)

HEADERS = {"x-goog-api-key": DEFAULT_KEY}
HI: Any = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
CAPITAL = types.FunctionDeclaration(
    name="get_capital",
    description="The capital of a country.",
    parameters=types.Schema(
        type=types.Type.OBJECT,
        properties={"country": types.Schema(type=types.Type.STRING)},
        required=["country"],
    ),
)
NO_AFC = types.AutomaticFunctionCallingConfig(disable=True)


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeGemini]:
    with FakeGemini(key_behaviors={"key-limited": "429:4", "key-broke": "500", "key-busy": "503"}) as server:
        yield server


def make_client(fake: FakeGemini, key: str = DEFAULT_KEY, version: str = "v1beta") -> genai.Client:
    return genai.Client(
        api_key=key, http_options=types.HttpOptions(base_url=fake.base_url, api_version=version)
    )


@pytest.fixture
def client(fake: FakeGemini) -> Iterator[genai.Client]:
    fake.clear()
    with make_client(fake) as sdk:
        yield sdk


def post(
    fake: FakeGemini, method: str, body: Any, model: str = "gemini-2.5-flash", query: str = ""
) -> httpx.Response:
    url = f"{fake.base_url}/v1beta/models/{model}:{method}{query}"
    return httpx.post(url, json=body, headers=HEADERS, timeout=5)


def refusal(fake: FakeGemini, body: Any, method: str = "generateContent") -> dict[str, Any]:
    response = post(fake, method, body)
    assert response.status_code == 400, response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == 400 and error["status"] == "INVALID_ARGUMENT"
    return error


def test_lifecycle_leaks_no_thread() -> None:
    threads = threading.active_count()
    with FakeGemini() as server:
        assert server.base_url == f"http://127.0.0.1:{server.port}"
    assert threading.active_count() == threads


@pytest.mark.parametrize("version", ["v1beta", "v1"])
def test_generate_content_parses_echoes_and_is_recorded(fake: FakeGemini, version: str) -> None:
    fake.clear()
    with make_client(fake, version=version) as sdk:
        response = sdk.models.generate_content(
            model="gemini-2.5-flash",
            contents="route me to the blue pool",
            config=types.GenerateContentConfig(system_instruction="be brief", temperature=0.2),
        )
    assert response.text == "Echo: route me to the blue pool"
    assert response.model_version == "gemini-2.5-flash" and response.response_id
    candidate = response.candidates[0] if response.candidates else None
    assert candidate is not None and candidate.finish_reason == types.FinishReason.STOP
    usage = response.usage_metadata
    assert usage is not None and usage.candidates_token_count == 7 and usage.prompt_token_count
    assert usage.thoughts_token_count and not response.candidates[0].content.parts[0].thought  # type: ignore[union-attr,index]
    assert usage.total_token_count == usage.prompt_token_count + 7 + usage.thoughts_token_count
    (request,) = fake.requests
    assert request.path == f"/{version}/models/gemini-2.5-flash:generateContent"
    assert request.model == "gemini-2.5-flash" and request.api_key == DEFAULT_KEY
    assert request.headers["x-goog-api-key"] == DEFAULT_KEY and "key" not in request.query
    assert set(json.loads(request.body)) == {"contents", "systemInstruction", "generationConfig"}
    raw = post(fake, "generateContent", HI).json()
    recorded = load_json("gemini", "generate.text")
    assert set(raw) == set(recorded) and set(raw["candidates"][0]) == set(recorded["candidates"][0])
    assert set(raw["usageMetadata"]) == set(recorded["usageMetadata"])  # 2.5 thinks: thoughtsTokenCount
    unthinking = post(fake, "generateContent", HI, model="gemini-2.0-flash").json()["usageMetadata"]
    assert "thoughtsTokenCount" not in unthinking


def test_thoughts_when_asked_for(client: genai.Client) -> None:
    config = types.GenerateContentConfig(
        thinking_config=types.ThinkingConfig(include_thoughts=True, thinking_budget=512)
    )
    response = client.models.generate_content(model="gemini-2.5-flash", contents="think", config=config)
    assert response.candidates and response.candidates[0].content and response.candidates[0].content.parts
    thought, answer = response.candidates[0].content.parts
    assert thought.thought is True and thought.text and "think" in thought.text
    assert answer.text == "Echo: think" and answer.thought_signature
    assert response.usage_metadata and response.usage_metadata.thoughts_token_count
    chunks = list(
        client.models.generate_content_stream(model="gemini-2.5-flash", contents="think", config=config)
    )
    assert chunks[0].candidates and chunks[0].candidates[0].content and chunks[0].candidates[0].content.parts
    assert chunks[0].candidates[0].content.parts[0].thought is True


def test_stream_replays_the_recorded_format(client: genai.Client, fake: FakeGemini) -> None:
    chunks = list(
        client.models.generate_content_stream(model="gemini-2.5-flash", contents="stream this please")
    )
    assert len(chunks) == 4 and "".join(c.text or "" for c in chunks) == "Echo: stream this please"
    finishes = [c.candidates[0].finish_reason if c.candidates else None for c in chunks]
    assert finishes == [None, None, None, types.FinishReason.STOP]
    assert all(c.usage_metadata and c.usage_metadata.prompt_token_count for c in chunks)
    assert fake.requests[-1].query == {"alt": "sse"}
    raw = post(fake, "streamGenerateContent", HI, query="?alt=sse")
    assert raw.headers["content-type"] == "text/event-stream"
    recorded = (fixtures_dir() / "gemini" / "generate.stream_text.sse").read_bytes()
    assert raw.content.endswith(b"}\r\n\r\n") and recorded.endswith(b"}\r\n\r\n")
    assert raw.content.startswith(
        b'data: {"candidates": [{"content": {"parts": [{"text": "Echo:"}],"role": "model"}}]'
    )
    assert recorded.startswith(
        b'data: {"candidates": [{"content": {"parts": [{"text": "The"}],"role": "model"}}]'
    )
    last = json.loads(raw.content.split(b"\r\n\r\n")[-2][6:])
    assert (
        last["candidates"][0]["finishReason"] == "STOP" and last["usageMetadata"]["candidatesTokenCount"] == 2
    )
    array = post(fake, "streamGenerateContent", HI)  # no alt=sse: one JSON array
    assert array.headers["content-type"].startswith("application/json")
    assert [c["candidates"][0]["content"]["parts"][0]["text"] for c in array.json()] == ["Echo:", " hi"]


def test_function_calls_and_a_tool_loop(client: genai.Client) -> None:
    config = types.GenerateContentConfig(
        tools=[types.Tool(function_declarations=[CAPITAL])], automatic_function_calling=NO_AFC
    )
    response = client.models.generate_content(model="gemini-tool", contents="France", config=config)
    assert response.function_calls and [(c.name, c.args) for c in response.function_calls] == [
        ("get_capital", {"country": "France"})
    ]
    parallel = client.models.generate_content(model="gemini-parallel-tool", contents="Peru", config=config)
    assert parallel.function_calls and len(parallel.function_calls) == 2
    chunks = list(client.models.generate_content_stream(model="gemini-tool", contents="Chile", config=config))
    assert (
        len(chunks) == 1
        and chunks[0].function_calls
        and chunks[0].function_calls[0].args == {"country": "Chile"}
    )
    json_schema = types.FunctionDeclaration(
        name="lookup",
        parameters_json_schema={
            "type": "object",
            "properties": {"q": {"type": "string"}},
            "additionalProperties": False,
        },
    )
    tools = [types.Tool(function_declarations=[json_schema])]
    looked = client.models.generate_content(
        model="gemini-tool",
        contents="x",
        config=types.GenerateContentConfig(tools=tools, automatic_function_calling=NO_AFC),
    )
    assert looked.function_calls and looked.function_calls[0].args == {"q": "x"}
    assert response.candidates and response.candidates[0].content
    history = [
        types.Content(role="user", parts=[types.Part(text="France")]),
        response.candidates[0].content,
        types.Content(
            role="user",
            parts=[types.Part.from_function_response(name="get_capital", response={"capital": "Paris"})],
        ),
    ]
    answered = client.models.generate_content(model="gemini-2.5-flash", contents=history, config=config)
    assert answered.text == 'Echo: {"capital": "Paris"}'  # the loop was accepted; the answer is echoed


def test_count_tokens_and_embeddings(client: genai.Client, fake: FakeGemini) -> None:
    counted = client.models.count_tokens(model="gemini-2.5-flash", contents="hello world")
    recorded = load_json("gemini", "count_tokens.default")
    generated = client.models.generate_content(model="gemini-2.5-flash", contents="hello world")
    assert generated.usage_metadata and counted.total_tokens == generated.usage_metadata.prompt_token_count
    inner = post(fake, "countTokens", {"generateContentRequest": {"model": "models/gemini-2.5-flash", **HI}})
    assert inner.status_code == 200 and set(inner.json()) == set(recorded)
    embedded = client.models.embed_content(
        model="gemini-embedding-001",
        contents=["a", "b"],
        config=types.EmbedContentConfig(output_dimensionality=8),
    )
    assert embedded.embeddings and [len(e.values or []) for e in embedded.embeddings] == [8, 8]
    assert embedded.embeddings[0].values != embedded.embeddings[1].values
    full = client.models.embed_content(model="gemini-embedding-001", contents="Hello, world!")
    assert full.embeddings and len(full.embeddings[0].values or []) == len(
        load_json("gemini", "embed.default")["embeddings"][0]["values"]
    )
    wrong = {"requests": [{"model": "models/other", "content": {"parts": [{"text": "a"}]}}]}
    assert "requests[0].model" in refusal(fake, wrong, "batchEmbedContents")["message"]
    names = [m.name for m in client.models.list()]
    assert "models/gemini-2.5-flash" in names and "models/gemini-embedding-001" in names


def test_errors_replay_google_rpc_status(client: genai.Client, fake: FakeGemini) -> None:
    for model, error, status in [
        ("fail-500", errors.ServerError, "INTERNAL"),
        ("unavailable", errors.ServerError, "UNAVAILABLE"),
        ("bad-request", errors.ClientError, "INVALID_ARGUMENT"),
        ("not-found", errors.ClientError, "NOT_FOUND"),
        ("rate-limited", errors.ClientError, "RESOURCE_EXHAUSTED"),
    ]:
        with pytest.raises(error) as raised:
            client.models.generate_content(model=model, contents="x")
        assert raised.value.status == status
    assert raised.value.response is not None and "retry-after" not in raised.value.response.headers
    assert raised.value.details["error"]["details"][-1] == {
        "@type": "type.googleapis.com/google.rpc.RetryInfo",
        "retryDelay": "3s",
    }
    missing = post(fake, "generateContent", {"contents": []}, model="not-found")
    assert missing.status_code == 400  # validated before the model is looked up
    not_found = post(fake, "generateContent", HI, model="not-found").json()["error"]
    assert not_found["message"].startswith("models/not-found is not found for API version v1beta")
    behaviours = [
        ("key-limited", 429, "RESOURCE_EXHAUSTED"),
        ("key-broke", 500, "INTERNAL"),
        ("key-busy", 503, "UNAVAILABLE"),
    ]
    for key, code, status in behaviours:
        with make_client(fake, key) as other, pytest.raises(errors.APIError) as caught:
            other.models.generate_content(model="m", contents="x")
        assert (caught.value.code, caught.value.status) == (code, status)
        if code == 429:
            assert "Please retry in 4s." in (caught.value.message or "")
            assert caught.value.details["error"]["details"][-1]["retryDelay"] == "4s"
    with make_client(fake, "key-wrong") as other, pytest.raises(errors.ClientError) as bad_key:
        other.models.generate_content(model="m", contents="x")
    assert bad_key.value.code == 400 and bad_key.value.details == load_json("gemini", "generate.error_401")
    anonymous = httpx.post(f"{fake.base_url}/v1beta/models/m:generateContent", json=HI)
    assert anonymous.status_code == 403 and anonymous.json()["error"]["status"] == "PERMISSION_DENIED"


def test_query_key_is_accepted_and_recorded(fake: FakeGemini) -> None:
    fake.clear()
    response = httpx.post(f"{fake.base_url}/v1beta/models/m:generateContent?key={DEFAULT_KEY}", json=HI)
    assert response.status_code == 200
    (request,) = fake.requests
    assert (
        request.query["key"] == DEFAULT_KEY
        and request.api_key == DEFAULT_KEY
        and "x-goog-api-key" not in request.headers
    )


def test_unknown_fields_are_reported_like_the_json_front_end(fake: FakeGemini) -> None:
    parameters = {
        "type": "object",
        "properties": {
            "a": {"type": "string", "const": "x"},
            "b": {"type": "array", "items": {"type": "string", "additionalProperties": False}},
        },
        "additionalProperties": False,
        "$schema": "http://json-schema.org/draft-07/schema#",
    }
    body = {
        **HI,
        "tools": [{"functionDeclarations": [{"name": "f", "parameters": parameters}]}],
        "generationConfig": {"foo": 1},
    }
    error = refusal(fake, body)
    violations = error["details"][0]["fieldViolations"]
    assert error["details"][0]["@type"] == "type.googleapis.com/google.rpc.BadRequest"
    assert error["message"] == "\n".join(v["description"] for v in violations)
    at = "tools[0].function_declarations[0].parameters"
    expected = [
        (f"{at}.properties[0].value", "const"),
        (f"{at}.properties[1].value.items", "additionalProperties"),
        (at, "additionalProperties"),
        (at, "$schema"),
        ("generation_config", "foo"),
    ]
    assert violations == [
        {
            "field": f,
            "description": f"Invalid JSON payload received. Unknown name \"{n}\" at '{f}': Cannot find "
            "field.",
        }
        for f, n in expected
    ]
    top = refusal(fake, {**HI, "temperature": 0.5})
    assert top["message"] == 'Invalid JSON payload received. Unknown name "temperature": Cannot find field.'


CALL = {"role": "model", "parts": [{"functionCall": {"name": "f", "args": {}}}]}
ANSWER = {"role": "user", "parts": [{"functionResponse": {"name": "f", "response": {"r": 1}}}]}
ASK = {"role": "user", "parts": [{"text": "q"}]}
STAR = "* GenerateContentRequest."
ENUM = "(type.googleapis.com/google.ai.generativelanguage.v1beta."


def gen(*contents: Any, **extra: Any) -> dict[str, Any]:
    return {"contents": list(contents) if contents else HI["contents"], **extra}


def declare(**declaration: Any) -> list[Any]:
    return [{"functionDeclarations": [declaration]}]


REFUSED: list[tuple[dict[str, Any], str]] = [
    ({"contents": []}, f"{STAR}contents: contents is not specified\n"),
    (gen({"role": "assistant", "parts": [{"text": "x"}]}), "Please use a valid role: user, model."),
    (gen({"role": "system", "parts": [{"text": "x"}]}), "Please use a valid role: user, model."),
    (gen({"role": "user", "parts": []}), f"{STAR}contents[0].parts: contents.parts must not be empty.\n"),
    (
        gen({"role": "user", "parts": [{}]}),
        f"{STAR}contents[0].parts[0].data: required oneof field 'data' must have one initialized field\n",
    ),
    (
        gen({"role": "user", "parts": [{"text": ""}]}),
        f"{STAR}contents[0].parts[0].data: required oneof field",
    ),
    (
        gen(ASK, ANSWER),
        "Please ensure that function response turn comes immediately after a function call turn.",
    ),
    (
        gen(CALL, ANSWER),
        "Please ensure that function call turn comes immediately after a user turn or after a",
    ),
    (
        gen(ASK, CALL, {"role": "user", "parts": ANSWER["parts"] * 2}),
        "Please ensure that the number of function response parts is equal to the number of function call",
    ),
    (
        gen(ASK, CALL, {"role": "user", "parts": [{"functionResponse": {"name": "g", "response": {}}}]}),
        f"{STAR}contents[2].parts[0].function_response.name:",
    ),
    (
        gen(toolConfig={"functionCallingConfig": {"mode": "SOMETIMES"}}),
        f"Invalid value at 'tool_config.function_calling_config.mode' {ENUM}FunctionCallingConfig.Mode), "
        '"SOMETIMES"',
    ),
    (
        gen(generationConfig={"temperature": "hot"}),
        "Invalid value at 'generation_config.temperature' (TYPE_FLOAT), \"hot\"",
    ),
    (
        gen(generationConfig={"maxOutputTokens": [5]}),
        "Invalid JSON payload received. Unknown name \"maxOutputTokens\" at 'generation_config': Proto field "
        "is not repeating, cannot start list.",
    ),
    (
        gen(generationConfig={"thinkingConfig": {"thinkingBudget": 99999}}),
        "The thinking budget 99999 is invalid.",
    ),
    (
        gen(tools=declare(name="bad name")),
        f"{STAR}tools[0].function_declarations[0].name: Invalid function name.",
    ),
    (
        gen(tools=declare(name="f", parameters={"type": "OBJECT", "properties": {}})),
        f"{STAR}tools[0].function_declarations[0].parameters.properties: should be non-empty for OBJECT "
        "type\n",
    ),
    (
        gen(tools=declare(name="f", parameters={"type": "DICT"})),
        f"Invalid value at 'tools[0].function_declarations[0].parameters.type' {ENUM}Type), \"DICT\"",
    ),
    (
        gen({"role": "user", "parts": [{"inlineData": {"mimeType": "image/png", "data": "not base64!"}}]}),
        "Invalid value at 'contents[0].parts[0].inline_data.data' (TYPE_BYTES)",
    ),
]


@pytest.mark.parametrize(("body", "expected"), REFUSED, ids=[e[:40] for _, e in REFUSED])
def test_strict_validation_refuses_what_the_api_refuses(
    fake: FakeGemini, body: dict[str, Any], expected: str
) -> None:
    assert refusal(fake, body)["message"].startswith(expected)


def test_gemini_3_wants_its_thought_signatures_back(fake: FakeGemini) -> None:
    body = {"contents": [ASK, CALL, ANSWER]}
    response = post(fake, "generateContent", body, model="gemini-3-flash-preview")
    assert response.status_code == 400 and response.json()["error"]["message"].startswith(
        "Function call is missing a thought_signature in functionCall parts."
    )
    signed = {
        "role": "model",
        "parts": [{**CALL["parts"][0], "thoughtSignature": base64.b64encode(b"sig").decode()}],
    }
    assert (
        post(
            fake, "generateContent", {"contents": [ASK, signed, ANSWER]}, model="gemini-3-flash-preview"
        ).status_code
        == 200
    )
    assert post(fake, "generateContent", body).status_code == 200  # 2.5 does not insist


def test_recorded_real_requests_are_accepted() -> None:
    cases = [c for c, entry in load_manifest("gemini")["cases"].items() if entry.get("request_file")]
    assert len(cases) >= 8
    for case in cases:
        body = json.loads(
            json.dumps(load_request("gemini", case)["body"]).replace('"<', '"PH').replace('...>"', '"')
        )
        message = {"count_tokens": "CountTokensRequest", "embed": "BatchEmbedContentsRequest"}.get(
            case.split(".")[0], "GenerateContentRequest"
        )
        normalised, violations = request_violations(_unelide(body), message)
        assert violations == [], case
        if message == "GenerateContentRequest":
            assert generate_errors(normalised, "gemini-2.5-flash") is None, case


def _unelide(value: Any) -> Any:
    """The recordings elide long base64 strings; put valid base64 back in their place."""
    if isinstance(value, dict):
        return {k: ("AAAA" if k == "data" else _unelide(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_unelide(v) for v in value]
    return value


def test_stream_faults(fake: FakeGemini) -> None:
    def stream(model: str, timeout: float = 5) -> tuple[list[bytes], BaseException | None]:
        url = f"{fake.base_url}/v1beta/models/{model}:streamGenerateContent?alt=sse"
        seen: list[bytes] = []
        try:
            with httpx.stream("POST", url, json=HI, headers=HEADERS, timeout=timeout) as response:
                seen.extend(response.iter_raw())
        except httpx.HTTPError as exc:
            return b"".join(seen).split(b"\r\n\r\n")[:-1], exc
        return b"".join(seen).split(b"\r\n\r\n")[:-1], None

    events, error = stream("reset-2")
    assert isinstance(error, httpx.RemoteProtocolError | httpx.ReadError) and len(events) == 2
    events, error = stream("stall-1", timeout=0.3)
    assert isinstance(error, httpx.ReadTimeout) and len(events) == 1
    events, error = stream("error-mid-stream-2")
    assert (
        error is None and len(events) == 3 and json.loads(events[-1][6:])["error"]["status"] == "UNAVAILABLE"
    )
    began = time.perf_counter()
    assert post(fake, "generateContent", HI, model="slow-0.3").status_code == 200
    assert time.perf_counter() - began >= 0.3
    fake.clear()
    url = f"{fake.base_url}/v1beta/models/drip-20:streamGenerateContent?alt=sse"
    with httpx.stream("POST", url, json=HI, headers=HEADERS, timeout=5) as response:
        next(response.iter_raw())  # leave mid-stream: the fake sees the client go
    (gone,) = fake.wait_for_disconnects(1, timeout=2)
    assert gone[0] == "drip-20"


def test_schema_follows_the_sdk_types() -> None:
    """Every field the fake accepts exists in the SDK's types (which add Vertex-only ones on top)."""
    wire_only = {"_response_json_schema", "image_config"}  # set by the SDK's converters, not its models
    for message, sdk in [
        ("Content", types.Content),
        ("Part", types.Part),
        ("Blob", types.Blob),
        ("FileData", types.FileData),
        ("FunctionCall", types.FunctionCall),
        ("FunctionResponse", types.FunctionResponse),
        ("FunctionDeclaration", types.FunctionDeclaration),
        ("Schema", types.Schema),
        ("Tool", types.Tool),
        ("ToolConfig", types.ToolConfig),
        ("FunctionCallingConfig", types.FunctionCallingConfig),
        ("GenerationConfig", types.GenerationConfig),
        ("ThinkingConfig", types.ThinkingConfig),
        ("SafetySetting", types.SafetySetting),
    ]:
        assert set(PROTO[message]) - wire_only <= set(sdk.model_fields), message


def test_a_read_the_file_prompt_calls_claude_codes_read_tool(fake: FakeGemini) -> None:
    schema = {"type": "object", "properties": {"file_path": {"type": "string"}}}
    ask = {"role": "user", "parts": [{"text": "Read the file /tmp/w/notes.txt and answer."}]}
    tools = [{"functionDeclarations": [{"name": "Read", "parametersJsonSchema": schema}]}]
    called = post(
        fake, "generateContent", {"contents": [ask], "tools": tools}, model="gemini-2.0-flash"
    ).json()
    call = called["candidates"][0]["content"]["parts"][0]["functionCall"]
    assert call == {"name": "Read", "args": {"file_path": "/tmp/w/notes.txt"}}
    turns = [
        ask,
        {"role": "model", "parts": [{"functionCall": call}]},
        {"role": "user", "parts": [{"functionResponse": {"name": "Read", "response": {"output": "TEAL"}}}]},
    ]
    answer = post(
        fake, "generateContent", {"contents": turns, "tools": tools}, model="gemini-2.0-flash"
    ).json()
    assert "TEAL" in answer["candidates"][0]["content"]["parts"][0]["text"]


def test_a_run_the_shell_command_prompt_calls_codex_clis_shell_tool(fake: FakeGemini) -> None:
    """Codex CLI's older `shell` tool takes an argv list: the call runs the command through bash."""
    schema = {"type": "OBJECT", "properties": {"command": {"type": "ARRAY", "items": {"type": "STRING"}}}}
    ask = {"role": "user", "parts": [{"text": "Please run the shell command `echo MARK` now."}]}
    tools = [{"functionDeclarations": [{"name": "shell", "parameters": schema}]}]
    called = post(
        fake, "generateContent", {"contents": [ask], "tools": tools}, model="gemini-2.0-flash"
    ).json()
    call = called["candidates"][0]["content"]["parts"][0]["functionCall"]
    assert call == {"name": "shell", "args": {"command": ["bash", "-lc", "echo MARK"]}}
    turns = [
        ask,
        {"role": "model", "parts": [{"functionCall": call}]},
        {"role": "user", "parts": [{"functionResponse": {"name": "shell", "response": {"output": "MARK"}}}]},
    ]
    answer = post(
        fake, "generateContent", {"contents": turns, "tools": tools}, model="gemini-2.0-flash"
    ).json()
    assert "MARK" in answer["candidates"][0]["content"]["parts"][0]["text"]


def test_a_json_response_schema_gets_json_satisfying_it(fake: FakeGemini) -> None:
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    ask = {"role": "user", "parts": [{"text": "Name a city."}]}
    config = {"responseMimeType": "application/json", "responseJsonSchema": schema}
    shaped = post(
        fake, "generateContent", {"contents": [ask], "generationConfig": config}, model="gemini-2.0-flash"
    ).json()
    assert json.loads(shaped["candidates"][0]["content"]["parts"][0]["text"]) == {"city": "Name a city."}
