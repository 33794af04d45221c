"""Google's google-genai SDK (a dev dependency), over real HTTP, through a real `llmgw serve` to every
provider type's fake (tests/support/responses_gateway): generate, stream, count tokens, a function-call
round trip and embeddings, each a ledger row of the user's personal key under its `/v1beta` template.

The SDK sends the key in `x-goog-api-key` and percent-encodes a route's `/` (`gem%2Fgemini-2.0-flash`).
The round trip declares a `run_shell_command` tool and asks to run a command: every fake answers that
with a call of it (`fake_server.scripted_call`), and the turn carrying its result with an echo of it.
Embeddings: a gemini upstream's `batchEmbedContents`, an OpenAI-format one's `/v1/embeddings`; Anthropic
has none, a 400 in Google's shape.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types

from tests.support.responses_gateway import PROVIDER_TYPES, ResponsesGateway, responses_gateway

# test id → (provider type, route)
CASES = {
    "gemini": ("gemini", "gem/gemini-2.0-flash"),
    "anthropic": ("anthropic", "ant/claude-sonnet-4-5"),
    "openai": ("openai", "oai/gpt-4o-mini"),
    "openai-compatible": ("openai-compatible", "compat/llama-3.1-8b-instant"),
    "openrouter": ("openrouter", "orouter/openai/gpt-4o-mini"),
}
assert {provider_type for provider_type, _ in CASES.values()} == set(PROVIDER_TYPES)
# test id → (provider type, embedding route)
EMBEDDINGS = {
    "gemini": ("gemini", "gem/gemini-embedding-001"),
    "openai": ("openai", "oai/text-embedding-3-small"),
    "openai-compatible": ("openai-compatible", "compat/text-embedding-3-small"),
}
TEMPLATE = "/v1beta/models/{model}:"
SHELL = types.Tool(
    function_declarations=[
        types.FunctionDeclaration(
            name="run_shell_command",
            description="Runs a shell command",
            parameters_json_schema={
                "type": "object",
                "properties": {"command": {"type": "string"}},
                "required": ["command"],
            },
        )
    ]
)


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ResponsesGateway]:
    with responses_gateway(tmp_path_factory.mktemp("genai-gateway")) as gateway:
        yield gateway


def client(gw: ResponsesGateway) -> genai.Client:
    options = types.HttpOptions(base_url=gw.process.base_url, api_version="v1beta")
    return genai.Client(api_key=gw.token, http_options=options)


def assert_rows(gw: ResponsesGateway, before: int, route: str, endpoints: list[str]) -> None:
    """One ledger row per call, in order, each of this user's key, under its endpoint template."""
    rows = gw.rows(before, route, len(endpoints))
    assert [row["endpoint"] for row in rows] == [TEMPLATE + e for e in endpoints], rows
    for row in rows:
        assert row["status"] == 200, row
        assert (row["user_id"], row["api_key_id"]) == (gw.user_id, gw.key_id)


@pytest.mark.parametrize("case", list(CASES))
def test_generate_stream_and_count_tokens(gw: ResponsesGateway, case: str) -> None:
    provider_type, route = CASES[case]
    before = gw.last_row()
    sdk = client(gw)
    answer = sdk.models.generate_content(model=route, contents="Say hello in five words.")
    chunks = list(sdk.models.generate_content_stream(model=route, contents="Count to three, please."))
    counted = sdk.models.count_tokens(model=route, contents="How many tokens is this?")

    assert answer.text and "hello" in answer.text.lower(), answer  # the fakes echo
    assert answer.usage_metadata is not None and (answer.usage_metadata.candidates_token_count or 0) > 0
    streamed = "".join(chunk.text or "" for chunk in chunks)
    assert len(chunks) > 1 and "three" in streamed.lower(), chunks
    finished = [
        c.candidates[0].finish_reason for c in chunks if c.candidates and c.candidates[0].finish_reason
    ]
    assert finished == [types.FinishReason.STOP], chunks
    assert counted.total_tokens is not None and counted.total_tokens > 0
    # countTokens is a ledger row too, without usage (nothing generated)
    assert_rows(gw, before, route, ["generateContent", "streamGenerateContent", "countTokens"])
    rows = gw.rows(before, route, 3)
    assert {row["provider"] for row in rows} == {PROVIDER_TYPES[provider_type]}
    assert [row["streamed"] for row in rows] == [0, 1, 0]


@pytest.mark.parametrize("case", list(CASES))
def test_a_function_call_round_trip(gw: ResponsesGateway, case: str) -> None:
    _, route = CASES[case]
    before = gw.last_row()
    sdk = client(gw)
    config = types.GenerateContentConfig(
        tools=[SHELL], automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True)
    )
    question = types.Content(
        role="user", parts=[types.Part(text="Please run the shell command `echo SDK-4471` for me.")]
    )
    first = sdk.models.generate_content(model=route, contents=[question], config=config)
    assert first.function_calls is not None, first
    (call,) = first.function_calls
    assert (call.name, call.args) == ("run_shell_command", {"command": "echo SDK-4471"})
    assert first.candidates and first.candidates[0].content

    reply = types.Part.from_function_response(name="run_shell_command", response={"output": "SDK-4471"})
    history = [question, first.candidates[0].content, types.Content(role="user", parts=[reply])]
    second = sdk.models.generate_content(model=route, contents=history, config=config)
    assert not second.function_calls and second.text and "SDK-4471" in second.text, second
    assert_rows(gw, before, route, ["generateContent", "generateContent"])


@pytest.mark.parametrize("case", list(EMBEDDINGS))
def test_embeddings(gw: ResponsesGateway, case: str) -> None:
    _, route = EMBEDDINGS[case]
    before = gw.last_row()
    sdk = client(gw)  # held: a client no one refers to closes its connection pool
    got = sdk.models.embed_content(model=route, contents=["first text", "second text"])
    assert got.embeddings is not None and len(got.embeddings) == 2
    assert all(e.values and all(isinstance(v, float) for v in e.values) for e in got.embeddings)
    assert got.embeddings[0].values != got.embeddings[1].values
    assert_rows(gw, before, route, ["batchEmbedContents"])


def test_no_embeddings_from_anthropic(gw: ResponsesGateway) -> None:
    sdk = client(gw)
    with pytest.raises(genai_errors.ClientError) as raised:
        sdk.models.embed_content(model="ant/claude-sonnet-4-5", contents="hello")
    assert raised.value.code == 400 and raised.value.status == "INVALID_ARGUMENT"
    assert "Anthropic" in (raised.value.message or "")


def test_a_bad_key_is_refused_in_googles_shape(gw: ResponsesGateway) -> None:
    options = types.HttpOptions(base_url=gw.process.base_url, api_version="v1beta")
    sdk = genai.Client(api_key="llmgw-not-a-real-key", http_options=options)
    with pytest.raises(genai_errors.ClientError) as raised:
        sdk.models.generate_content(model="gem/gemini-2.0-flash", contents="Hi")
    assert raised.value.code == 401 and raised.value.status == "UNAUTHENTICATED"
