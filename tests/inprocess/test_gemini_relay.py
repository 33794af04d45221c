"""Google's Gemini API as a client dialect, the whole relay in process (tests/inprocess/
test_relay_inprocess.py's gateway): `/v1beta/models/{model}:…` and `/v1/models/{model}:…` passed through
to a `gemini` provider, translated through the hub to Anthropic and OpenAI-format ones (streams in both
framings), countTokens, embeddings, model listing, errors in Google's shape, `?key=` kept out of the
ledger and the logs, the ledger's endpoint template, and a budget reserving from `maxOutputTokens`. The
google-genai SDK is the client where it can be (its async client over the app); upstream answers are
the providers' recorded ones (tests/fixtures/providers)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types

from llmgw.relay.streams.sse import SSEDecoder
from llmgw.services import limits
from llmgw.services.audit import Actor
from llmgw.storage import Store
from tests.inprocess.test_limits_relay import account
from tests.inprocess.test_relay_inprocess import PROXY_KEY, Running, gateway
from tests.support.fakes.fixtures import fixtures_dir, load_request

pytestmark = pytest.mark.anyio

GEMINI: dict[str, dict[str, Any]] = {"gemini": {"type": "gemini", "base_url": "http://gem.test/v1beta"}}
KEYS = {"gemini": ["gem-first", "gem-second"], "oai": ["oai-first"], "ant": ["ant-first"]}
SSE = {"content-type": "text/event-stream"}
JSON = {"content-type": "application/json"}
GENERATE = "/v1beta/models/{model}:generateContent"


def recorded(provider: str, name: str) -> bytes:
    return (fixtures_dir() / provider / name).read_bytes()


def gemini_request(case: str = "generate.text") -> dict[str, Any]:
    body: dict[str, Any] = load_request("gemini", case)["body"]
    return body


def answer_with(status: int, content: bytes, headers: dict[str, str] | None = None) -> Any:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, headers=headers or JSON, content=content)

    return answer


async def post(
    running: Running, path: str, body: dict[str, Any], key: str | None = PROXY_KEY, query: str = ""
) -> httpx.Response:
    headers = {"x-goog-api-key": key} if key is not None else {}
    return await running.client.post(path + query, json=body, headers=headers)


def events(raw: bytes) -> list[dict[str, Any]]:
    return [orjson.loads(e.data) for e in SSEDecoder().feed(raw) if e.data.strip() != "[DONE]"]


def gemini_err(r: httpx.Response, status: int, name: str) -> str:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"} and set(body["error"]) >= {"code", "message", "status"}
    assert body["error"]["code"] == status and body["error"]["status"] == name
    message: str = body["error"]["message"]
    return message


def sdk(running: Running, key: str = PROXY_KEY, version: str = "v1beta") -> genai.Client:
    """google-genai's client, its async side talking to the app in process (3.x calls `/v1` unless
    told otherwise; both are served)."""
    options = types.HttpOptions(
        base_url="http://llmgw.test",
        api_version=version,
        async_client_args={"transport": httpx.ASGITransport(running.app)},
    )
    return genai.Client(api_key=key, http_options=options)


# -- passthrough to a gemini provider ---------------------------------------------------------------


async def test_generate_passes_through_byte_for_byte_and_is_recorded(tmp_path: Path) -> None:
    upstream = recorded("gemini", "generate.text.json")
    body = gemini_request()
    async with gateway(tmp_path, answer_with(200, upstream), keys=KEYS, providers=GEMINI) as gw:
        r = await post(gw, "/v1beta/models/gemini-2.5-flash:generateContent", body)
    assert r.status_code == 200 and r.content == upstream
    (sent,) = gw.upstreams.sent
    assert str(sent.url) == "http://gem.test/v1beta/models/gemini-2.5-flash:generateContent"
    assert sent.headers["x-goog-api-key"] == "gem-first" and orjson.loads(sent.content) == body
    row = gw.row(r)
    assert row["endpoint"] == GENERATE and row["provider"] == "gemini"
    assert row["model_requested"] == "gemini-2.5-flash" and row["model_upstream"] == "gemini-2.5-flash"
    usage = orjson.loads(upstream)["usageMetadata"]
    assert row["prompt_tokens"] == usage["promptTokenCount"] and row["usage_source"] == "provider"


async def test_sse_stream_passes_through_and_reads_usage(tmp_path: Path) -> None:
    upstream = recorded("gemini", "generate.stream_text.sse")
    async with gateway(tmp_path, answer_with(200, upstream, SSE), keys=KEYS, providers=GEMINI) as gw:
        r = await post(
            gw, "/v1beta/models/gemini-2.0-flash:streamGenerateContent", gemini_request(), query="?alt=sse"
        )
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    assert events(r.content) == events(upstream)
    (sent,) = gw.upstreams.sent
    assert str(sent.url) == "http://gem.test/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse"
    row = gw.row(r)
    assert row["endpoint"] == "/v1beta/models/{model}:streamGenerateContent" and row["streamed"]
    last = events(upstream)[-1]["usageMetadata"]
    assert row["prompt_tokens"] == last["promptTokenCount"] and row["usage_source"] == "provider"


async def test_a_stream_without_alt_sse_is_one_json_array(tmp_path: Path) -> None:
    upstream = recorded("gemini", "generate.stream_text.sse")
    async with gateway(tmp_path, answer_with(200, upstream, SSE), keys=KEYS, providers=GEMINI) as gw:
        r = await post(gw, "/v1beta/models/gemini-2.0-flash:streamGenerateContent", gemini_request())
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    assert orjson.loads(r.content) == events(upstream)
    assert str(gw.upstreams.sent[0].url).endswith(":streamGenerateContent?alt=sse")  # always SSE upstream


async def test_a_stream_cut_short_ends_with_an_error_element_closing_the_array(tmp_path: Path) -> None:
    upstream = recorded("gemini", "generate.stream_text.sse")
    first = upstream[: upstream.index(b"\r\n\r\n") + 4]  # one event, then the upstream is gone
    async with gateway(tmp_path, answer_with(200, first, SSE), keys=KEYS, providers=GEMINI) as gw:
        r = await post(gw, "/v1beta/models/gemini-2.0-flash:streamGenerateContent", gemini_request())
    chunks = orjson.loads(r.content)
    assert chunks[0] == events(first)[0]
    assert chunks[-1]["error"]["status"] in ("UNAVAILABLE", "INTERNAL")
    assert gw.row(r)["error_type"]


async def test_the_sdk_generates_and_streams_through_the_gateway(tmp_path: Path) -> None:
    text, stream = recorded("gemini", "generate.text.json"), recorded("gemini", "generate.stream_text.sse")

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith(":streamGenerateContent"):
            return httpx.Response(200, headers=SSE, content=stream)
        return httpx.Response(200, headers=JSON, content=text)

    async with gateway(tmp_path, answer, keys=KEYS, providers=GEMINI) as gw:
        client = sdk(gw)
        got = await client.aio.models.generate_content(model="gemini-2.5-flash", contents="Hello!")
        pieces = [
            c.text
            async for c in await client.aio.models.generate_content_stream(
                model="gemini-2.0-flash", contents="Hi"
            )
        ]
        v1 = await sdk(gw, version="v1").aio.models.generate_content(model="gemini-2.5-flash", contents="x")
    expected = orjson.loads(text)["candidates"][0]["content"]["parts"][0]["text"]
    assert got.text == expected and v1.text == expected
    assert "".join(p or "" for p in pieces) == "".join(
        p["text"] for e in events(stream) for p in e["candidates"][0]["content"]["parts"]
    )
    paths = [r.url.path for r in gw.upstreams.sent]
    assert paths[-1] == "/v1beta/models/gemini-2.5-flash:generateContent"  # /v1 from the client too
    assert {row["endpoint"] for row in gw.rows().values()} == {
        GENERATE,
        "/v1beta/models/{model}:streamGenerateContent",
        "/v1/models/{model}:generateContent",
    }


async def test_a_percent_encoded_provider_model_and_an_alias_route(tmp_path: Path) -> None:
    upstream = recorded("openai", "chat.text.json")
    async with gateway(tmp_path, answer_with(200, upstream), keys=KEYS, providers=GEMINI) as gw:
        a = await post(gw, "/v1beta/models/oai%2Fgpt-4o-mini:generateContent", gemini_request())
        b = await post(gw, "/v1beta/models/smart:generateContent", gemini_request())
    assert a.status_code == 200 and b.status_code == 200
    assert gw.upstreams.hosts == ["oai.test", "oai.test"]
    assert gw.row(a)["model_requested"] == "oai/gpt-4o-mini" and gw.row(b)["model_requested"] == "smart"


async def test_a_bare_name_goes_to_default_provider_without_a_gemini_provider(tmp_path: Path) -> None:
    upstream = recorded("openai", "chat.text.json")
    server = {"default_provider": "oai"}
    async with gateway(tmp_path, answer_with(200, upstream), keys=KEYS, server=server) as gw:
        r = await post(gw, "/v1beta/models/gpt-4o-mini:generateContent", gemini_request())
    assert r.status_code == 200 and gw.upstreams.hosts == ["oai.test"]


async def test_a_plain_v1_model_id_is_still_openais_lookup(tmp_path: Path) -> None:
    async with gateway(tmp_path, answer_with(200, b"{}"), keys=KEYS, providers=GEMINI) as gw:
        r = await gw.client.get("/v1/models/claude", headers={"authorization": f"Bearer {PROXY_KEY}"})
    assert r.status_code == 200 and r.json()["id"] == "claude" and r.json()["object"] == "model"


# -- through the hub: anthropic and openai-format upstreams -----------------------------------------


async def test_translated_to_anthropic_whole_and_streamed(tmp_path: Path) -> None:
    whole, stream = (
        recorded("anthropic", "messages.text.json"),
        recorded("anthropic", "messages.stream_text.sse"),
    )

    def answer(request: httpx.Request) -> httpx.Response:
        if orjson.loads(request.content).get("stream"):
            return httpx.Response(200, headers=SSE, content=stream)
        return httpx.Response(200, headers=JSON, content=whole)

    async with gateway(tmp_path, answer, keys=KEYS, providers=GEMINI) as gw:
        client = sdk(gw)
        got = await client.aio.models.generate_content(model="claude", contents="Hello!")
        pieces = [
            c.text
            async for c in await client.aio.models.generate_content_stream(model="claude", contents="Hi")
        ]
        array = await post(gw, "/v1beta/models/claude:streamGenerateContent", gemini_request())
    message = orjson.loads(whole)
    assert got.text == message["content"][0]["text"]
    assert got.usage_metadata is not None
    assert got.usage_metadata.prompt_token_count == message["usage"]["input_tokens"]
    streamed = "".join(e["delta"]["text"] for e in events(stream) if e.get("type") == "content_block_delta")
    assert "".join(p or "" for p in pieces) == streamed
    chunks = orjson.loads(array.content)
    assert chunks[-1]["candidates"][0]["finishReason"] == "STOP"
    sent = orjson.loads(gw.upstreams.sent[0].content)
    assert sent["model"] == "claude-sonnet-4-5" and sent["messages"][0]["role"] == "user"
    for row in gw.rows().values():
        assert row["provider"] == "ant" and row["usage_source"] == "provider" and row["prompt_tokens"]


async def test_translated_to_openai_compatible_whole_and_streamed(tmp_path: Path) -> None:
    whole, stream = recorded("openai", "chat.text.json"), recorded("openai", "chat.stream_text.sse")

    def answer(request: httpx.Request) -> httpx.Response:
        if orjson.loads(request.content).get("stream"):
            return httpx.Response(200, headers=SSE, content=stream)
        return httpx.Response(200, headers=JSON, content=whole)

    async with gateway(tmp_path, answer, keys=KEYS, providers=GEMINI) as gw:
        client = sdk(gw)
        got = await client.aio.models.generate_content(model="oai/gpt-4o-mini", contents="Hello!")
        pieces = [
            c.text
            async for c in await client.aio.models.generate_content_stream(
                model="oai/gpt-4o-mini", contents="Hi"
            )
        ]
    assert got.text == orjson.loads(whole)["choices"][0]["message"]["content"]
    streamed = "".join(
        (e["choices"][0]["delta"].get("content") or "") for e in events(stream) if e.get("choices")
    )
    assert "".join(p or "" for p in pieces) == streamed
    sent = [orjson.loads(r.content) for r in gw.upstreams.sent]
    assert sent[0]["model"] == "gpt-4o-mini" and "stream" not in sent[0]
    assert sent[1]["stream"] is True and sent[1]["stream_options"] == {"include_usage": True}


# -- countTokens, embeddings, model listing -----------------------------------------------------------


async def test_count_tokens_on_each_upstream_type(tmp_path: Path) -> None:
    gem = recorded("gemini", "count_tokens.default.json")

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.host == "gem.test":
            return httpx.Response(200, headers=JSON, content=gem)
        return httpx.Response(200, json={"input_tokens": 17})

    async with gateway(tmp_path, answer, keys=KEYS, providers=GEMINI) as gw:
        client = sdk(gw)
        on_gemini = await client.aio.models.count_tokens(model="gemini-2.5-flash", contents="Hello!")
        on_claude = await client.aio.models.count_tokens(model="claude", contents="Hello!")
        offline = await client.aio.models.count_tokens(model="oai/gpt-4o-mini", contents="Hello there!")
    assert on_gemini.total_tokens == orjson.loads(gem)["totalTokens"]
    assert on_claude.total_tokens == 17
    assert offline.total_tokens is not None and offline.total_tokens > 0
    assert [r.url.host for r in gw.upstreams.sent] == ["gem.test", "ant.test"]
    assert str(gw.upstreams.sent[1].url) == "http://ant.test/v1/messages/count_tokens"
    assert {row["endpoint"] for row in gw.rows().values()} == {"/v1beta/models/{model}:countTokens"}


async def test_embeddings_on_gemini_and_openai_and_refused_on_anthropic(tmp_path: Path) -> None:
    vector = [0.25, -0.5]

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.host == "gem.test":
            count = len(orjson.loads(request.content)["requests"])
            return httpx.Response(200, json={"embeddings": [{"values": vector}] * count})
        body = orjson.loads(request.content)
        data = [{"object": "embedding", "index": i, "embedding": vector} for i in range(len(body["input"]))]
        usage = {"prompt_tokens": 3, "total_tokens": 3}
        return httpx.Response(200, json={"object": "list", "data": data, "model": "m", "usage": usage})

    async with gateway(tmp_path, answer, keys=KEYS, providers=GEMINI) as gw:
        client = sdk(gw)
        one = await client.aio.models.embed_content(model="text-embedding-004", contents="hello")
        many = await client.aio.models.embed_content(model="oai/text-embedding-3-small", contents=["a", "b"])
        single = await post(
            gw,
            "/v1beta/models/oai%2Ftext-embedding-3-small:embedContent",
            {"content": {"parts": [{"text": "x"}]}},
        )
        refused = await post(
            gw, "/v1beta/models/claude:embedContent", {"content": {"parts": [{"text": "x"}]}}
        )
    assert one.embeddings is not None and [e.values for e in one.embeddings] == [vector]
    assert many.embeddings is not None and [e.values for e in many.embeddings] == [vector, vector]
    assert single.json() == {"embedding": {"values": vector}}
    gem_sent = orjson.loads(gw.upstreams.sent[0].content)
    assert gw.upstreams.sent[0].url.path == "/v1beta/models/text-embedding-004:batchEmbedContents"
    assert all(r["model"] == "models/text-embedding-004" for r in gem_sent["requests"])
    assert orjson.loads(gw.upstreams.sent[1].content)["input"] == ["a", "b"]
    assert "not available from Anthropic" in gemini_err(refused, 400, "INVALID_ARGUMENT")


async def test_the_model_list_in_geminis_shape(tmp_path: Path) -> None:
    providers: dict[str, dict[str, Any]] = {"gemini": {**GEMINI["gemini"], "models": ["gemini-2.5-flash"]}}
    async with gateway(tmp_path, answer_with(200, b"{}"), keys=KEYS, providers=providers) as gw:
        client = sdk(gw)
        names = [m.name async for m in await client.aio.models.list()]
        on_v1 = [m.name async for m in await sdk(gw, version="v1").aio.models.list()]
        openai_list = await gw.client.get("/v1/models", headers={"authorization": f"Bearer {PROXY_KEY}"})
        one = await client.aio.models.get(model="gemini/gemini-2.5-flash")
        missing = await gw.client.get("/v1beta/models/nope", headers={"x-goog-api-key": PROXY_KEY})
    assert "models/claude" in names and "models/gemini/gemini-2.5-flash" in names
    assert on_v1 == names  # google-genai's /v1/models: Gemini's shape for a Gemini client's key header
    assert openai_list.json()["object"] == "list"
    assert one.name == "models/gemini/gemini-2.5-flash"
    assert one.supported_actions is not None and "generateContent" in one.supported_actions
    gemini_err(missing, 404, "NOT_FOUND")


# -- errors in Google's shape -----------------------------------------------------------------------


async def test_errors_in_googles_shape(tmp_path: Path) -> None:
    quota = recorded("gemini", "generate.error_429.json")

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.host == "gem.test":
            return httpx.Response(429, headers=JSON, content=quota)
        return httpx.Response(500, json={"error": {"message": "boom", "type": "server_error"}})

    server = {"max_body_bytes": 4096}
    async with gateway(tmp_path, answer, keys=KEYS, providers=GEMINI, server=server) as gw:
        unauthenticated = await post(
            gw, "/v1beta/models/gemini-2.5-flash:generateContent", gemini_request(), "bad"
        )
        no_key = await post(gw, "/v1beta/models/gemini-2.5-flash:generateContent", gemini_request(), None)
        missing = await post(gw, "/v1beta/models/ant%2Fno-such-model:generateContent", gemini_request())
        invalid = await post(gw, "/v1beta/models/gemini-2.5-flash:generateContent", {"contents": []})
        too_large = await post(
            gw,
            "/v1beta/models/gemini-2.5-flash:generateContent",
            {"contents": [{"parts": [{"text": "x" * 5000}]}]},
        )
        limited = await post(gw, "/v1beta/models/gemini-2.5-flash:generateContent", gemini_request())
        failed = await post(gw, "/v1beta/models/oai%2Fgpt-4o-mini:generateContent", gemini_request())
        unknown = await post(gw, "/v1beta/nothing", {})
        with pytest.raises(genai_errors.ClientError) as raised:
            await sdk(gw, key="wrong").aio.models.generate_content(model="gemini-2.5-flash", contents="x")
    gemini_err(unauthenticated, 401, "UNAUTHENTICATED")
    gemini_err(no_key, 401, "UNAUTHENTICATED")
    gemini_err(missing, 404, "NOT_FOUND")
    assert "contents" in gemini_err(invalid, 400, "INVALID_ARGUMENT")
    gemini_err(too_large, 413, "FAILED_PRECONDITION")
    gemini_err(limited, 429, "RESOURCE_EXHAUSTED")  # both keys cooled by the upstream's retryDelay
    assert limited.headers["retry-after"] == "58"
    gemini_err(failed, 500, "INTERNAL")
    gemini_err(unknown, 404, "NOT_FOUND")
    assert raised.value.code == 401 and raised.value.status == "UNAUTHENTICATED"


# -- ?key=, the ledger, budgets -----------------------------------------------------------------------


async def test_a_query_key_is_accepted_warned_about_once_and_never_stored_or_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import llmgw.relay.auth as auth

    auth._warned_query_key = False
    upstream = recorded("gemini", "generate.text.json")
    caplog.set_level(logging.DEBUG)
    async with gateway(tmp_path, answer_with(200, upstream), keys=KEYS, providers=GEMINI) as gw:
        path = "/v1beta/models/gemini-2.5-flash:generateContent"
        first = await post(gw, path, gemini_request(), None, query=f"?key={PROXY_KEY}")
        second = await post(gw, path, gemini_request(), None, query=f"?key={PROXY_KEY}&alt=json")
    assert first.status_code == 200 and second.status_code == 200
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "?key=" in r.getMessage()]
    assert len(warnings) == 1
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("llmgw")]  # not the test's httpx
    assert ours and not any(PROXY_KEY in m or "?key=" in m.replace("`?key=`", "") for m in ours)
    assert "key=" not in str(gw.upstreams.sent[0].url)
    ledger = (tmp_path / "llmgw.db").read_bytes()
    assert PROXY_KEY.encode() not in ledger
    for row in gw.rows().values():
        assert row["endpoint"] == GENERATE


def set_budget(tmp_path: Path, usd: float) -> None:
    with Store.open(tmp_path / "llmgw.db") as store:
        limits.set_limits(store, Actor.cli(), "ada", budget_usd=usd, period="day")


async def test_a_budget_reserves_from_max_output_tokens_and_sends_it(tmp_path: Path) -> None:
    key = account(tmp_path)
    set_budget(tmp_path, 5.0)
    upstream = recorded("gemini", "generate.text.json")
    prices = {"gemini/gemini-2.5-flash": {"input": 0.3, "output": 2.5}}
    path = "/v1beta/models/gemini%2Fgemini-2.5-flash:generateContent"
    async with gateway(
        tmp_path, answer_with(200, upstream), keys=KEYS, providers=GEMINI, prices=prices,
        server={"auth_mode": "users"},
    ) as gw:  # fmt: skip
        body = {**gemini_request(), "generationConfig": {"maxOutputTokens": 77, "temperature": 0.5}}
        capped = await post(gw, path, body, key.token)
        defaulted = await post(gw, path, gemini_request(), key.token)
        flat = await post(gw, path, {**gemini_request(), "maxOutputTokens": 5}, key.token)
        unpriced = await post(gw, "/v1beta/models/gemini-unpriced:generateContent", body, key.token)
    assert capped.status_code == 200 and defaulted.status_code == 200
    # The unpriced model's provider was asked for its model list (is the name known?), nothing more.
    sent = [orjson.loads(r.content) for r in gw.upstreams.sent if not r.url.path.endswith("/models")]
    assert len(sent) == 2
    assert sent[0]["generationConfig"] == {"maxOutputTokens": 77, "temperature": 0.5}
    assert sent[1]["generationConfig"] == {"responseModalities": ["TEXT"], "maxOutputTokens": 4096}
    assert "maxOutputTokens" in gemini_err(flat, 400, "INVALID_ARGUMENT")
    gemini_err(unpriced, 403, "PERMISSION_DENIED")  # no price: the budget cannot bound it


async def test_a_function_call_round_trip_through_anthropic_with_the_sdk(tmp_path: Path) -> None:
    """Parallel calls come back as functionCall parts; the SDK's next turn (its history with the calls and
    their functionResponses) reaches Claude as tool_use / tool_result pairs."""
    calls, done = (
        recorded("anthropic", "messages.tool_call.json"),
        recorded("anthropic", "messages.text.json"),
    )
    answers = [calls, done]

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers=JSON, content=answers.pop(0))

    tool = types.Tool(
        function_declarations=[
            types.FunctionDeclaration(
                name="retrieve_entity_info",
                description="Facts about a person",
                parameters_json_schema={"type": "object", "properties": {"name": {"type": "string"}}},
            )
        ]
    )
    config = types.GenerateContentConfig(tools=[tool])
    async with gateway(tmp_path, answer, keys=KEYS, providers=GEMINI) as gw:
        client = sdk(gw)
        question = types.Content(role="user", parts=[types.Part(text="Who is the youngest?")])
        first = await client.aio.models.generate_content(model="claude", contents=[question], config=config)
        assert first.function_calls is not None and first.candidates and first.candidates[0].content
        replies = [
            types.Part.from_function_response(name=c.name or "", response={"age": 30 + i})
            for i, c in enumerate(first.function_calls)
        ]
        history = [question, first.candidates[0].content, types.Content(role="user", parts=replies)]
        second = await client.aio.models.generate_content(model="claude", contents=history, config=config)
    expected = [b for b in orjson.loads(calls)["content"] if b["type"] == "tool_use"]
    assert [(c.name, c.args) for c in first.function_calls] == [(b["name"], b["input"]) for b in expected]
    assert second.text == orjson.loads(done)["content"][0]["text"]
    sent = orjson.loads(gw.upstreams.sent[1].content)
    uses = [b for b in sent["messages"][1]["content"] if b["type"] == "tool_use"]
    results = [b for b in sent["messages"][2]["content"] if b["type"] == "tool_result"]
    assert [u["name"] for u in uses] == [b["name"] for b in expected]
    assert [r["tool_use_id"] for r in results] == [u["id"] for u in uses]
    assert sent["tools"][0]["name"] == "retrieve_entity_info"


async def test_a_passthrough_stream_past_its_cap_is_cut_under_a_budget(tmp_path: Path) -> None:
    key = account(tmp_path)
    set_budget(tmp_path, 5.0)
    upstream = recorded("gemini", "generate.stream_text.sse")
    prices = {"gemini/gemini-2.0-flash": {"input": 0.3, "output": 2.5}}
    async with gateway(
        tmp_path, answer_with(200, upstream, SSE), keys=KEYS, providers=GEMINI, prices=prices,
        server={"auth_mode": "users"},
    ) as gw:  # fmt: skip
        body = {**gemini_request(), "generationConfig": {"maxOutputTokens": 1}}  # the upstream ignores it
        r = await post(
            gw, "/v1beta/models/gemini%2Fgemini-2.0-flash:streamGenerateContent", body, key.token, "?alt=sse"
        )
    last = events(r.content)[-1]
    assert last["error"]["code"] == 502 and last["error"]["status"] == "INTERNAL"
    assert "output limit of 1 tokens" in last["error"]["message"]
    assert gw.row(r)["error_type"] == "upstream_ignored_output_cap"
    assert orjson.loads(gw.upstreams.sent[0].content)["generationConfig"] == {"maxOutputTokens": 1}


async def test_a_streamed_tool_call_from_an_openai_format_server_reaches_the_sdk_whole(
    tmp_path: Path,
) -> None:
    stream = recorded("openai", "chat.stream_tool_call.sse")
    async with gateway(tmp_path, answer_with(200, stream, SSE), keys=KEYS, providers=GEMINI) as gw:
        chunks = [
            c
            async for c in await sdk(gw).aio.models.generate_content_stream(
                model="oai/gpt-4o-mini", contents="Name my pelican"
            )
        ]
    calls = [call for c in chunks for call in c.function_calls or []]
    pieces: dict[int, dict[str, str]] = {}
    for e in events(stream):
        for delta in (e["choices"][0]["delta"].get("tool_calls") or []) if e.get("choices") else []:
            got = pieces.setdefault(delta["index"], {"name": "", "arguments": ""})
            got["name"] += delta.get("function", {}).get("name") or ""
            got["arguments"] += delta.get("function", {}).get("arguments") or ""
    assert [(c.name, c.args) for c in calls] == [
        (p["name"], orjson.loads(p["arguments"])) for _, p in sorted(pieces.items())
    ]
    assert chunks[-1].candidates and chunks[-1].candidates[0].finish_reason == types.FinishReason.STOP
    assert gw.rows() and all(row["usage_source"] == "provider" for row in gw.rows().values())
