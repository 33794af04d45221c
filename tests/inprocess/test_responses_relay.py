"""`POST /v1/responses`, the whole relay in process (tests/inprocess/test_relay_inprocess.py's gateway):
OpenAI's Responses API passed through to an `openai` provider byte for byte, its errors in OpenAI's
shape, a stream cut mid-way ending with the Responses events that say so, the ledger (endpoint, usage,
cost), budgets reserving from `max_output_tokens`, `default_provider`, and the real openai SDK reading
all of it. Payloads are OpenAI's recorded ones (tests/fixtures/providers/openai/responses.*)."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx
import httpx2
import openai
import orjson
import pytest

from llmgw.relay.answers import CUT_SHORT
from llmgw.relay.streams.sse import SSEDecoder
from llmgw.services import limits
from llmgw.services.audit import Actor
from llmgw.storage import Store
from tests.inprocess.test_limits_relay import account
from tests.inprocess.test_relay_inprocess import PROXY_KEY, Running, gateway, openai_err, openai_error
from tests.inprocess.test_stream_faults import Pieces
from tests.support.fakes.fixtures import fixtures_dir, load_request
from tests.support.responses_schema import validate_error_body, validate_event

pytestmark = pytest.mark.anyio

OPENAI = {"openai": {"type": "openai", "base_url": "http://openai.test/v1"}}
KEYS = {"openai": ["sk-openai-first", "sk-openai-second"], "oai": ["oai-first"]}
# USD per million tokens (the test's own, so the expected cost is exact).
PRICES = {"openai/gpt-4o": {"input": 2.5, "output": 10.0}}
SSE = {"content-type": "text/event-stream; charset=utf-8"}


def recorded(name: str) -> bytes:
    return (fixtures_dir() / "openai" / name).read_bytes()


def recorded_request(case: str) -> dict[str, Any]:
    body: dict[str, Any] = load_request("openai", case)["body"]
    return body


def answer_with(status: int, content: bytes, headers: dict[str, str] | None = None) -> Any:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            status, headers=headers or {"content-type": "application/json"}, content=content
        )

    return answer


async def post(running: Running, body: dict[str, Any], key: str = PROXY_KEY) -> httpx.Response:
    return await running.client.post("/v1/responses", json=body, headers={"authorization": f"Bearer {key}"})


def events(raw: bytes) -> list[dict[str, Any]]:
    return [orjson.loads(e.data) for e in SSEDecoder().feed(raw)]


# -- passthrough to OpenAI's own Responses API -----------------------------------------------------


async def test_a_response_passes_through_byte_for_byte_and_is_recorded(tmp_path: Path) -> None:
    upstream = recorded("responses.text.json")
    body = {**recorded_request("responses.text"), "model": "openai/gpt-4o"}
    async with gateway(
        tmp_path, answer_with(200, upstream), keys=KEYS, providers=OPENAI, prices=PRICES
    ) as gw:
        r = await post(gw, body)
    assert r.status_code == 200 and r.content == upstream
    assert "x-llmgw-tools-left-out" not in r.headers
    (sent,) = gw.upstreams.sent
    assert str(sent.url) == "http://openai.test/v1/responses"
    assert sent.headers["authorization"] == "Bearer sk-openai-first"
    assert orjson.loads(sent.content) == {**body, "model": "gpt-4o"}  # only the model changed
    row = gw.row(r)
    assert (row["endpoint"], row["status"], row["provider"], row["model_upstream"]) == (
        "/v1/responses", 200, "openai", "gpt-4o"
    )  # fmt: skip
    assert (row["prompt_tokens"], row["completion_tokens"], row["total_tokens"]) == (14, 8, 22)
    assert (row["usage_source"], row["streamed"], row["error_type"]) == ("provider", 0, None)
    assert row["cost_usd"] == pytest.approx((14 * 2.5 + 8 * 10.0) / 1e6)


async def test_codex_clis_client_metadata_stops_at_the_gateway(tmp_path: Path) -> None:
    """OpenAI refuses `client_metadata` (400 unknown_parameter), which Codex CLI sends to its provider."""
    metadata = {"x-codex-installation-id": "1550abc9", "session_id": "01a2508b"}
    body = {"model": "openai/gpt-4o", "input": "Hi.", "store": False, "client_metadata": metadata}
    async with gateway(
        tmp_path, answer_with(200, recorded("responses.text.json")), keys=KEYS, providers=OPENAI
    ) as gw:
        r = await post(gw, body)
    assert r.status_code == 200
    sent = orjson.loads(gw.upstreams.sent[0].content)
    assert sent == {"model": "gpt-4o", "input": "Hi.", "store": False}


async def test_hosted_tools_go_to_openai_itself(tmp_path: Path) -> None:
    tools = [{"type": "web_search"}, {"type": "file_search", "vector_store_ids": ["vs_1"]}]
    body = {"model": "openai/gpt-4o", "input": "Find it.", "tools": tools, "store": False}
    async with gateway(
        tmp_path, answer_with(200, recorded("responses.text.json")), keys=KEYS, providers=OPENAI
    ) as gw:
        r = await post(gw, body)
    assert r.status_code == 200 and "x-llmgw-tools-left-out" not in r.headers
    assert orjson.loads(gw.upstreams.sent[0].content)["tools"] == tools


async def test_a_stream_passes_through_byte_for_byte_and_is_recorded(tmp_path: Path) -> None:
    upstream = recorded("responses.stream_text.sse")
    body = {**recorded_request("responses.stream_text"), "model": "openai/gpt-4o"}
    async with gateway(
        tmp_path, answer_with(200, upstream, SSE), keys=KEYS, providers=OPENAI, prices=PRICES
    ) as gw:
        r = await post(gw, body)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    assert r.content == upstream
    sent = orjson.loads(gw.upstreams.sent[0].content)
    assert sent == {**body, "model": "gpt-4o"}  # no stream_options: the Responses API has its usage
    row = gw.row(r)
    assert (row["endpoint"], row["streamed"], row["error_type"], row["usage_source"]) == (
        "/v1/responses", 1, None, "provider"
    )  # fmt: skip
    assert (row["prompt_tokens"], row["completion_tokens"], row["total_tokens"]) == (278, 9, 287)
    assert row["cost_usd"] == pytest.approx((278 * 2.5 + 9 * 10.0) / 1e6)


async def test_a_stream_cut_mid_way_ends_with_the_failure_and_the_row_has_it(tmp_path: Path) -> None:
    raw = recorded("responses.stream_text.sse")
    cut = b"".join(e + b"\n\n" for e in raw.split(b"\n\n")[:6]) + b"event: response.output_te"

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers=SSE, stream=Pieces([cut[:700], cut[700:]]))

    async with gateway(tmp_path, answer, keys=KEYS, providers=OPENAI) as gw:
        r = await post(gw, {"model": "openai/gpt-4o", "input": "Capital of France?", "stream": True})
    got = events(r.content)
    assert [e["type"] for e in got][-3:] == ["response.output_text.delta", "response.failed", "error"]
    failed, error = got[-2:]
    validate_event(failed)
    validate_event(error)
    assert (failed["sequence_number"], error["sequence_number"]) == (6, 7)  # the recording has none: counted
    assert failed["response"]["id"] == got[0]["response"]["id"] and failed["response"]["status"] == "failed"
    assert failed["response"]["error"] == {"code": "server_error", "message": CUT_SHORT}
    assert (error["code"], error["message"]) == ("upstream_unavailable", CUT_SHORT)
    row = gw.row(r)
    assert (row["status"], row["streamed"], row["error_type"]) == (200, 1, "upstream_unavailable")
    assert (row["usage_source"], row["completion_tokens"]) == ("estimated", 2)  # two deltas seen


# -- errors in OpenAI's shape ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "param", "start"),
    [
        ({"model": "openai/gpt-4o"}, "input", "`input` is required."),
        ({"model": "openai/gpt-4o", "input": []}, "input", "`input` must be a string or a non-empty array"),
        ({"model": "openai/gpt-4o", "input": 7}, "input", "`input` must be a string or a non-empty array"),
        ({"model": "openai/gpt-4o", "input": ["hi"]}, "input[0]", "`input[0]` must be an object."),
        ({"model": "openai/gpt-4o", "input": "hi", "stream": "yes"}, "stream", "`stream` must be a boolean."),
        ({"input": "hi"}, "model", "`model` is required"),
    ],
)
async def test_bad_requests_are_400s(tmp_path: Path, body: dict[str, Any], param: str, start: str) -> None:
    async with gateway(tmp_path, answer_with(200, b"{}"), keys=KEYS, providers=OPENAI) as gw:
        r = await post(gw, body)
    err = openai_err(r, 400)
    validate_error_body(r.json())
    assert (err["type"], err["param"]) == ("invalid_request_error", param)
    assert err["message"].startswith(start)
    assert gw.upstreams.sent == []
    assert (gw.row(r)["endpoint"], gw.row(r)["status"]) == ("/v1/responses", 400)


async def test_an_inline_image_over_the_limit_is_a_400_naming_it(tmp_path: Path) -> None:
    image = {"type": "input_image", "image_url": "data:image/png;base64," + "A" * 2000, "detail": "auto"}
    body = {
        "model": "openai/gpt-4o",
        "input": [
            {"role": "user", "content": [{"type": "input_text", "text": "What is this?"}]},
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "And?"}, image]},
        ],
    }
    async with gateway(
        tmp_path, answer_with(200, b"{}"), keys=KEYS, providers=OPENAI, server={"max_image_bytes": 1000}
    ) as gw:
        r = await post(gw, body)
        small = await post(gw, {**body, "input": [{"type": "function_call_output", "call_id": "c", "output": [
            {**image, "image_url": "data:image/png;base64,AAAA"}]}]})  # fmt: skip
    err = openai_err(r, 400)
    assert err["param"] == "input[1].content[1]" and "larger than 1000 bytes" in err["message"]
    assert small.status_code != 400 and len(gw.upstreams.sent) == 1


async def test_unauthenticated_unknown_model_and_too_large_in_openais_shape(tmp_path: Path) -> None:
    async with gateway(
        tmp_path, answer_with(200, b"{}"), keys=KEYS, providers=OPENAI, server={"max_body_bytes": 4096}
    ) as gw:
        unauthenticated = await post(gw, {"model": "openai/gpt-4o", "input": "hi"}, key="wrong")
        unknown = await post(gw, {"model": "gpt-4o", "input": "hi"})
        too_large = await post(gw, {"model": "openai/gpt-4o", "input": "x" * 5000})
        wrong_method = await gw.client.get("/v1/responses", headers={"authorization": f"Bearer {PROXY_KEY}"})
    assert openai_err(unauthenticated, 401)["code"] == "invalid_api_key"
    err = openai_err(unknown, 404)
    assert (err["code"], err["param"]) == ("model_not_found", "model")
    assert openai_err(too_large, 413)["code"] == "request_too_large"
    assert wrong_method.status_code == 405 and set(wrong_method.json()) == {"error"}
    assert gw.upstreams.sent == []
    assert [gw.row(x)["status"] for x in (unknown, too_large)] == [404, 413]


async def test_upstream_errors_reach_the_client_in_openais_shape(tmp_path: Path) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if orjson.loads(request.content)["input"] == "busy":
            return openai_error(500, "The server had an error while processing your request.", "server_error")
        message = "Rate limit reached for gpt-4o on tokens per min (TPM): Limit 30000, Used 30000."
        return openai_error(429, message, "tokens", "rate_limit_exceeded", headers={"retry-after": "20"})

    async with gateway(tmp_path, answer, keys=KEYS, providers=OPENAI) as gw:
        limited = await post(gw, {"model": "openai/gpt-4o", "input": "hi"})
        failing = await post(gw, {"model": "openai/gpt-4.1", "input": "busy"})  # gpt-4o's keys cool
    err = openai_err(limited, 429)
    assert err["message"] == "Every upstream key for this model is rate limited; retry after 20s."
    assert limited.headers["retry-after"] == "20"
    err = openai_err(failing, 500)
    assert err["type"] == "server_error"
    assert err["message"].startswith("Upstream provider 'openai' answered 500: The server had an error")
    assert gw.upstreams.keys == ["sk-openai-first", "sk-openai-second"] * 2  # each tried every key
    assert [gw.row(x)["error_type"] for x in (limited, failing)] == ["rate_limit_exceeded", "server_error"]


# -- default_provider --------------------------------------------------------------------------------


async def test_bare_names_go_to_the_default_provider(tmp_path: Path) -> None:
    async with gateway(
        tmp_path,
        answer_with(200, recorded("responses.text.json")),
        keys=KEYS,
        providers=OPENAI,
        server={"default_provider": "openai"},
    ) as gw:
        r = await post(gw, {"model": "gpt-4o", "input": "hi"})
    assert r.status_code == 200
    assert orjson.loads(gw.upstreams.sent[0].content)["model"] == "gpt-4o"
    assert (gw.row(r)["provider"], gw.row(r)["model_requested"]) == ("openai", "gpt-4o")


async def test_without_it_a_bare_name_is_a_404_listing_what_ends_in_it(tmp_path: Path) -> None:
    providers = {"openai": {**OPENAI["openai"], "models": ["gpt-4o-mini"]}}
    async with gateway(tmp_path, answer_with(200, b"{}"), keys=KEYS, providers=providers) as gw:
        r = await post(gw, {"model": "gpt-4o-mini", "input": "hi"})
    err = openai_err(r, 404)
    assert err["message"] == (
        "The model `gpt-4o-mini` does not exist on this gateway. Did you mean "
        "`backup/gpt-4o-mini`, `openai/gpt-4o-mini`? `GET /v1/models` lists the models this gateway serves."
    )


# -- budgets -------------------------------------------------------------------------------------------


def set_budget(tmp_path: Path, usd: float) -> None:
    with Store.open(tmp_path / "llmgw.db") as store:
        limits.set_limits(store, Actor.cli(), "ada", budget_usd=usd, period="day")


async def test_a_budget_reserves_from_max_output_tokens_and_refuses_another_apis_cap(tmp_path: Path) -> None:
    key = account(tmp_path)
    set_budget(tmp_path, 5.0)
    async with gateway(
        tmp_path,
        answer_with(200, recorded("responses.text.json")),
        keys=KEYS,
        providers=OPENAI,
        prices=PRICES,
        server={"auth_mode": "users"},
    ) as gw:
        capped = await post(
            gw, {"model": "openai/gpt-4o", "input": "hi", "max_output_tokens": 300}, key.token
        )
        default = await post(gw, {"model": "openai/gpt-4o", "input": "hi"}, key.token)
        foreign = await post(gw, {"model": "openai/gpt-4o", "input": "hi", "max_tokens": 300}, key.token)
    assert (capped.status_code, default.status_code) == (200, 200)
    first, second = (orjson.loads(s.content) for s in gw.upstreams.sent)
    assert first["max_output_tokens"] == 300
    assert second["max_output_tokens"] == 4096  # server.default_max_tokens: the one maximum sent
    err = openai_err(foreign, 400)
    assert err["param"] == "max_tokens" and "/v1/responses, which takes `max_output_tokens`" in err["message"]
    assert len(gw.upstreams.sent) == 2
    with closing(sqlite3.connect(tmp_path / "llmgw.db")) as conn:
        spent = conn.execute("SELECT SUM(cost_usd) FROM requests WHERE status = 200").fetchone()[0]
    assert spent == pytest.approx(2 * (14 * 2.5 + 8 * 10.0) / 1e6)


# -- the real openai SDK, in process -------------------------------------------------------------------


def sdk(running: Running) -> openai.AsyncOpenAI:
    http = httpx2.AsyncClient(transport=httpx2.ASGITransport(app=running.app), base_url="http://llmgw.test")
    return openai.AsyncOpenAI(
        api_key=PROXY_KEY, base_url="http://llmgw.test/v1", http_client=http, max_retries=0
    )


async def test_the_openai_sdk_reads_answers_streams_and_failures(tmp_path: Path) -> None:
    raw = recorded("responses.stream_text.sse")
    cut = b"".join(e + b"\n\n" for e in raw.split(b"\n\n")[:6])

    def answer(request: httpx.Request) -> httpx.Response:
        prompt = orjson.loads(request.content)["input"]
        if prompt == "whole":
            return httpx.Response(
                200, headers={"content-type": "application/json"}, content=recorded("responses.text.json")
            )
        return httpx.Response(200, headers=SSE, stream=Pieces([raw if prompt == "stream" else cut]))

    async with gateway(tmp_path, answer, keys=KEYS, providers=OPENAI) as gw:
        client = sdk(gw)
        whole = await client.responses.create(model="openai/gpt-4o", input="whole")
        async with client.responses.stream(model="openai/gpt-4o", input="stream") as stream:
            final = await stream.get_final_response()
        seen: list[str] = []
        with pytest.raises(openai.APIError) as failed:
            async for event in await client.responses.create(model="openai/gpt-4o", input="cut", stream=True):
                seen.append(event.type)
        with pytest.raises(openai.NotFoundError):
            await client.responses.create(model="nowhere/gpt-4o", input="whole")
    assert whole.output_text == "The capital of France is Paris." and whole.usage is not None
    assert final.output_text == "The capital of France is Paris." and final.status == "completed"
    assert seen[-1] == "response.failed" and failed.value.message == CUT_SHORT


# -- translated: anthropic, gemini, openai-compatible upstreams ---------------------------------------

TRANSLATED = {
    "ant": {"type": "anthropic", "base_url": "http://ant.test/v1", "models": ["claude-sonnet-4-5"]},
    "gem": {"type": "gemini", "base_url": "http://gem.test/v1beta"},
    "oai": {"type": "openai-compatible", "base_url": "http://oai.test/v1"},
}
TRANSLATED_KEYS = {"ant": ["ant-first"], "gem": ["gem-first"], "oai": ["oai-first"]}
MODELS = {"ant": "ant/claude-sonnet-4-5", "gem": "gem/gemini-2.5-flash", "oai": "oai/o3-mini"}
# Each upstream's recorded answer, whole and streamed, and its usage (prompt, completion, total) as read
# by hand from the fixture: Gemini's completion counts its thoughts, OpenAI's its reasoning.
RECORDED = {
    "ant": ("anthropic", "messages.text.json", "messages.stream_text.sse", (26, 18, 44), (678, 82, 760)),
    "gem": ("gemini", "generate.text.json", "generate.stream_text.sse", (9, 43, 52), (13, 8, 21)),
    "oai": ("openai", "chat.text.json", "chat.stream_text.sse", (11, 809, 820), (78, 9, 87)),
}


def translated_answer(request: httpx.Request) -> httpx.Response:
    """Each upstream answers in its own wire format, with its recording."""
    provider = request.url.host.removesuffix(".test")
    dialect, whole, streamed, _, _ = RECORDED[provider]
    body = orjson.loads(request.content)
    stream = body.get("stream") is True or "streamGenerateContent" in request.url.path
    content = (fixtures_dir() / dialect / (streamed if stream else whole)).read_bytes()
    kind = "text/event-stream" if stream else "application/json"
    return httpx.Response(200, headers={"content-type": kind}, stream=Pieces([content]))


def recorded_text(provider: str, streamed: bool) -> str:
    """The text of an upstream's recording, read from its own payloads."""
    dialect, whole, stream_file, _, _ = RECORDED[provider]
    if not streamed:
        payload = orjson.loads((fixtures_dir() / dialect / whole).read_bytes())
        if provider == "ant":
            return str(payload["content"][0]["text"])
        if provider == "gem":
            return "".join(p["text"] for p in payload["candidates"][0]["content"]["parts"])
        return str(payload["choices"][0]["message"]["content"])
    text = []
    for event in SSEDecoder().feed((fixtures_dir() / dialect / stream_file).read_bytes() + b"\n\n"):
        if event.data.strip() == "[DONE]":
            continue
        data = orjson.loads(event.data)
        if provider == "ant" and data.get("type") == "content_block_delta":
            text.append(data["delta"]["text"])
        elif provider == "gem":
            text.extend(p.get("text", "") for p in data["candidates"][0]["content"]["parts"])
        elif provider == "oai" and data["choices"]:
            text.append(data["choices"][0]["delta"].get("content") or "")
    return "".join(text)


@pytest.mark.parametrize("provider", list(TRANSLATED))
async def test_a_translated_upstream_answers_whole(tmp_path: Path, provider: str) -> None:
    async with gateway(tmp_path, translated_answer, keys=TRANSLATED_KEYS, providers=TRANSLATED) as gw:
        response = await sdk(gw).responses.create(
            model=MODELS[provider], input="What is the capital of France?", instructions="Be brief."
        )
        (sent,) = gw.upstreams.sent
    assert response.status == "completed" and response.model == MODELS[provider]
    assert response.id.startswith("resp_") and response.output_text == recorded_text(provider, False)
    prompt, completion, total = RECORDED[provider][3]
    assert response.usage is not None
    assert (response.usage.input_tokens, response.usage.output_tokens, response.usage.total_tokens) == (
        prompt, completion, total
    )  # fmt: skip
    upstream = orjson.loads(sent.content)
    if provider == "ant":
        assert str(sent.url) == "http://ant.test/v1/messages"
        assert upstream["system"] == "Be brief." and upstream["max_tokens"] == 4096
        text = [{"type": "text", "text": "What is the capital of France?"}]
        assert upstream["messages"] == [{"role": "user", "content": text}]
    elif provider == "gem":
        assert str(sent.url) == "http://gem.test/v1beta/models/gemini-2.5-flash:generateContent"
        assert upstream["contents"][0]["parts"] == [{"text": "What is the capital of France?"}]
    else:
        assert str(sent.url) == "http://oai.test/v1/chat/completions"
        assert upstream["messages"][0] == {"role": "system", "content": "Be brief."}
    (row,) = gw.rows().values()  # complete once the app has shut down
    assert (row["endpoint"], row["provider"], row["streamed"], row["usage_source"]) == (
        "/v1/responses", provider, 0, "provider"
    )  # fmt: skip
    assert (row["prompt_tokens"], row["completion_tokens"], row["total_tokens"]) == (
        prompt,
        completion,
        total,
    )


@pytest.mark.parametrize("provider", list(TRANSLATED))
async def test_a_translated_upstream_streams(tmp_path: Path, provider: str) -> None:
    body = {"model": MODELS[provider], "input": "What is the capital of France?", "stream": True}
    async with gateway(tmp_path, translated_answer, keys=TRANSLATED_KEYS, providers=TRANSLATED) as gw:
        raw = await post(gw, body)
        async with sdk(gw).responses.stream(model=MODELS[provider], input="What is the capital?") as stream:
            final = await stream.get_final_response()
    got = events(raw.content)
    for event in got:
        validate_event(event)
    assert [e["sequence_number"] for e in got] == list(range(len(got)))
    assert (got[0]["type"], got[-1]["type"]) == ("response.created", "response.completed")
    text = "".join(e["delta"] for e in got if e["type"] == "response.output_text.delta")
    assert text == recorded_text(provider, True) == final.output_text
    assert final.id != got[0]["response"]["id"]  # one response id per request
    prompt, completion, total = RECORDED[provider][4]
    assert got[-1]["response"]["usage"]["total_tokens"] == total
    row = gw.row(raw)
    assert (row["endpoint"], row["provider"], row["streamed"], row["usage_source"], row["error_type"]) == (
        "/v1/responses", provider, 1, "provider", None
    )  # fmt: skip
    assert (row["prompt_tokens"], row["completion_tokens"], row["total_tokens"]) == (
        prompt,
        completion,
        total,
    )


HOSTED = [
    {"type": "function", "name": "shell", "parameters": {"type": "object", "properties": {}}},
    {"type": "file_search", "vector_store_ids": ["vs_1"]},
    {"type": "web_search"},
    {"type": "code_interpreter", "container": {"type": "auto"}},
]


@pytest.mark.parametrize(
    ("provider", "left_out"),
    [("ant", "file_search, code_interpreter"), ("gem", "file_search, code_interpreter"),
     ("oai", "file_search, web_search, code_interpreter")],
)  # fmt: skip
async def test_hosted_tools_left_out_are_named_in_a_header(
    tmp_path: Path, provider: str, left_out: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG", logger="llmgw")
    body = {"model": MODELS[provider], "input": "Look it up.", "tools": HOSTED}
    async with gateway(tmp_path, translated_answer, keys=TRANSLATED_KEYS, providers=TRANSLATED) as gw:
        whole = await post(gw, body)
        streamed = await post(gw, {**body, "stream": True})
    assert (whole.status_code, streamed.status_code) == (200, 200)
    assert whole.headers["x-llmgw-tools-left-out"] == streamed.headers["x-llmgw-tools-left-out"] == left_out
    assert f"hosted tools left out: {left_out}" in caplog.text
    sent = orjson.loads(gw.upstreams.sent[0].content)
    assert "file_search" not in str(sent) and "code_interpreter" not in str(sent)


async def test_a_provider_may_refuse_hosted_tools_instead(tmp_path: Path) -> None:
    providers = {**TRANSLATED, "ant": {**TRANSLATED["ant"], "hosted_tools": "refuse"}}
    async with gateway(tmp_path, translated_answer, keys=TRANSLATED_KEYS, providers=providers) as gw:
        refused = await post(gw, {"model": MODELS["ant"], "input": "Look it up.", "tools": HOSTED})
        mapped = await post(gw, {"model": MODELS["ant"], "input": "Look it up.", "tools": HOSTED[2:3]})
    err = openai_err(refused, 400)
    assert err["param"] == "tools" and err["message"].startswith(
        "The hosted tool `file_search` has no equivalent"
    )
    assert 'hosted_tools = "refuse"' in err["message"]
    assert (
        mapped.status_code == 200 and "x-llmgw-tools-left-out" not in mapped.headers
    )  # web search: Anthropic's
    assert len(gw.upstreams.sent) == 1


def anthropic_event(payload: dict[str, Any]) -> bytes:
    return b"event: " + payload["type"].encode() + b"\ndata: " + orjson.dumps(payload) + b"\n\n"


ANTHROPIC_START = [
    anthropic_event({"type": "message_start", "message": {
        "id": "msg_01", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5", "content": [],
        "stop_reason": None, "stop_sequence": None, "usage": {"input_tokens": 16, "output_tokens": 1}}}),
    anthropic_event({"type": "content_block_start", "index": 0,
                     "content_block": {"type": "text", "text": ""}}),
    anthropic_event({"type": "content_block_delta", "index": 0,
                     "delta": {"type": "text_delta", "text": "Paris"}}),
]  # fmt: skip


@pytest.mark.parametrize("ending", ["overloaded", "cut"])
async def test_a_translated_stream_that_fails_ends_with_the_failure(tmp_path: Path, ending: str) -> None:
    pieces = list(ANTHROPIC_START)
    if ending == "overloaded":  # Anthropic's in-stream error event
        pieces.append(
            anthropic_event({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
        )

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers=SSE, stream=Pieces(pieces))

    async with gateway(tmp_path, answer, keys=TRANSLATED_KEYS, providers=TRANSLATED) as gw:
        r = await post(gw, {"model": MODELS["ant"], "input": "Capital of France?", "stream": True})
        seen: list[str] = []
        with pytest.raises(openai.APIError) as raised:
            stream = await sdk(gw).responses.create(model=MODELS["ant"], input="Capital?", stream=True)
            async for event in stream:
                seen.append(event.type)
    got = events(r.content)
    for event in got:
        validate_event(event)
    assert [e["sequence_number"] for e in got] == list(range(len(got)))
    assert [e["type"] for e in got][-2:] == ["response.failed", "error"]
    failed, error = got[-2:]
    assert failed["response"]["id"] == got[0]["response"]["id"] and failed["response"]["status"] == "failed"
    message = "Overloaded" if ending == "overloaded" else CUT_SHORT
    assert failed["response"]["error"] == {"code": "server_error", "message": message}
    assert error["message"] == raised.value.message == message and seen[-1] == "response.failed"
    row = gw.row(r)
    assert row["error_type"] == ("server_error" if ending == "overloaded" else "upstream_unavailable")
    assert (row["status"], row["streamed"], row["prompt_tokens"]) == (200, 1, 16)


# -- budgets on translated upstreams, and streams that ignore their cap ---------------------------------


async def test_a_budget_caps_a_translated_upstream_and_cuts_a_stream_past_its_cap(tmp_path: Path) -> None:
    key = account(tmp_path)
    set_budget(tmp_path, 5.0)
    prices = {**PRICES, "ant/claude-sonnet-4-5": {"input": 3.0, "output": 15.0}}

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.host == "ant.test":
            return translated_answer(request)
        # OpenAI ignoring the cap of 2 it was sent: seven text deltas (the recording's), event by event
        pieces = [e + b"\n\n" for e in recorded("responses.stream_text.sse").split(b"\n\n") if e.strip()]
        return httpx.Response(200, headers=SSE, stream=Pieces(pieces))

    async with gateway(
        tmp_path,
        answer,
        keys={**KEYS, **TRANSLATED_KEYS},
        providers={**OPENAI, **TRANSLATED},
        prices=prices,
        server={"auth_mode": "users"},
    ) as gw:
        body = {"input": "hi", "max_output_tokens": 300, "reasoning": {"effort": "low"}}
        translated = await post(gw, {**body, "model": MODELS["ant"]}, key.token)
        cut = await post(
            gw, {"model": "openai/gpt-4o", "input": "hi", "max_output_tokens": 2, "stream": True}, key.token
        )
    assert translated.status_code == 200
    sent = orjson.loads(gw.upstreams.sent[0].content)
    # Anthropic wants the budget below max_tokens: 300 + 1024, the worst case the budget reserved
    assert (sent["max_tokens"], sent["thinking"]) == (300 + 1024, {"type": "enabled", "budget_tokens": 1024})
    assert orjson.loads(gw.upstreams.sent[1].content)["max_output_tokens"] == 2
    got = events(cut.content)
    assert [e["type"] for e in got][-2:] == ["response.failed", "error"]
    assert got[-1]["code"] == "upstream_ignored_output_cap"
    assert sum(e["type"] == "response.output_text.delta" for e in got) == 2  # nothing past the cap
    assert gw.row(cut)["error_type"] == "upstream_ignored_output_cap"
