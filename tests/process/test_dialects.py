"""Every client dialect x upstream type, end to end through hypercorn, with the official SDKs.

Clients: the `openai` SDK on /v1/chat/completions, the `anthropic` SDK on /v1/messages.
Upstreams: fake OpenAI, Anthropic and Gemini servers that validate what they receive like the real APIs.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import openai
import pytest

from tests.conftest import PROXY_KEY, UPSTREAM_KEY, ledger_row
from tests.support.fakes.anthropic_upstream import FakeAnthropic
from tests.support.fakes.gemini_upstream import FakeGemini
from tests.support.fakes.openai_upstream import FakeOpenAI
from tests.support.gateway_process import GatewayProcess

UPSTREAMS = ["oai", "ant", "gem"]
WEATHER_TOOL_OPENAI = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the weather in a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
WEATHER_TOOL_ANTHROPIC = {
    "name": "get_weather",
    "description": "Get the weather in a city.",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
PNG_1X1 = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d49444154789c6360f8cfc0f01f0005000201e2a1c4a80000000049454e44ae426082"
    )
).decode()


@pytest.fixture(scope="module")
def fake_anthropic() -> Iterator[FakeAnthropic]:
    with FakeAnthropic(accepted_keys=("sk-ant-upstream",), bearer_keys=False) as server:
        yield server


@pytest.fixture(scope="module")
def fake_gemini() -> Iterator[FakeGemini]:
    with FakeGemini(accepted_keys=("gem-upstream-key",)) as server:
        yield server


@pytest.fixture(scope="module")
def gw(
    fake: FakeOpenAI,
    fake_anthropic: FakeAnthropic,
    fake_gemini: FakeGemini,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[GatewayProcess]:
    config = "max_image_bytes = 4000\n"
    for prefix in ("", "rl-"):  # rl-*: their keys get rate limited, so the others stay usable
        config += (
            f'\n[providers.{prefix}oai]\ntype = "openai-compatible"\nbase_url = "{fake.base_url}"\n'
            f'\n[providers.{prefix}ant]\ntype = "anthropic"\nbase_url = "{fake_anthropic.base_url}/v1"\n'
            f'\n[providers.{prefix}gem]\ntype = "gemini"\nbase_url = "{fake_gemini.base_url}/v1beta"\n'
        )
    env = {
        "LLMGW_PROXY_KEY": PROXY_KEY,
        "LLMGW_OAI_API_KEY": UPSTREAM_KEY,
        "LLMGW_ANT_API_KEY": "sk-ant-upstream",
        "LLMGW_GEM_API_KEY": "gem-upstream-key",
        "LLMGW_RL_OAI_API_KEY": UPSTREAM_KEY,
        "LLMGW_RL_ANT_API_KEY": "sk-ant-upstream",
        "LLMGW_RL_GEM_API_KEY": "gem-upstream-key",
        "DBUS_SESSION_BUS_ADDRESS": "",
    }
    with GatewayProcess(tmp_path_factory.mktemp("dialects"), config, env) as g:
        yield g


@pytest.fixture
def oai(gw: GatewayProcess) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=f"{gw.base_url}/v1", api_key=PROXY_KEY, max_retries=0, timeout=20) as c:
        yield c


@pytest.fixture
def ant(gw: GatewayProcess) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(base_url=gw.base_url, api_key=PROXY_KEY, max_retries=0, timeout=20) as c:
        yield c


# -- text ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("up", UPSTREAMS)
def test_openai_client_text(oai: openai.OpenAI, gw: GatewayProcess, up: str) -> None:
    raw = oai.chat.completions.with_raw_response.create(
        model=f"{up}/text-model",
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Say hello to Ada"},
        ],
        max_tokens=100,
    )
    done = raw.parse()
    assert "Ada" in (done.choices[0].message.content or "")
    assert done.choices[0].finish_reason == "stop"
    # same dialect: the upstream's answer passes untouched (its own model name); translated: the client's
    assert done.model == ("text-model" if up == "oai" else f"{up}/text-model")
    assert done.usage is not None and done.usage.prompt_tokens > 0 and done.usage.completion_tokens > 0
    row = ledger_row(gw.db_path, raw.headers["x-request-id"])
    assert (
        row["prompt_tokens"] == done.usage.prompt_tokens
        and row["completion_tokens"] == done.usage.completion_tokens
    )


@pytest.mark.parametrize("up", UPSTREAMS)
def test_openai_client_stream_assembles_like_non_stream(
    oai: openai.OpenAI, gw: GatewayProcess, up: str
) -> None:
    messages: Any = [{"role": "user", "content": "Say hello to Grace"}]
    whole = oai.chat.completions.create(model=f"{up}/text-model", messages=messages, max_tokens=100)
    raw = oai.chat.completions.with_raw_response.create(
        model=f"{up}/text-model",
        messages=messages,
        max_tokens=100,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(raw.parse())
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == whole.choices[0].message.content
    finish = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finish == ["stop"]
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0
    row = ledger_row(gw.db_path, raw.headers["x-request-id"])
    assert row["streamed"] and row["completion_tokens"] == chunks[-1].usage.completion_tokens


@pytest.mark.parametrize("up", UPSTREAMS)
def test_anthropic_client_text(ant: anthropic.Anthropic, gw: GatewayProcess, up: str) -> None:
    raw = ant.messages.with_raw_response.create(
        model=f"{up}/text-model",
        max_tokens=100,
        system="Be brief.",
        messages=[{"role": "user", "content": "Say hello to Ada"}],
    )
    msg = raw.parse()
    assert msg.type == "message" and msg.role == "assistant"
    assert msg.model == ("text-model" if up == "ant" else f"{up}/text-model")
    text = "".join(b.text for b in msg.content if b.type == "text")
    assert "Ada" in text
    assert msg.stop_reason == "end_turn"
    assert msg.usage.input_tokens > 0 and msg.usage.output_tokens > 0
    row = ledger_row(gw.db_path, raw.headers["x-request-id"])
    assert row["completion_tokens"] == msg.usage.output_tokens


@pytest.mark.parametrize("up", UPSTREAMS)
def test_anthropic_client_stream_assembles_like_non_stream(ant: anthropic.Anthropic, up: str) -> None:
    kwargs: Any = {
        "model": f"{up}/text-model",
        "max_tokens": 100,
        "messages": [{"role": "user", "content": "Hi Linus"}],
    }
    whole = ant.messages.create(**kwargs)
    with ant.messages.stream(**kwargs) as stream:
        streamed = stream.get_final_message()
    assert [b.model_dump() for b in streamed.content] == [b.model_dump() for b in whole.content]
    assert streamed.stop_reason == whole.stop_reason
    assert streamed.usage.output_tokens == whole.usage.output_tokens


# -- tools ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("up", UPSTREAMS)
def test_openai_client_tool_round_trip(oai: openai.OpenAI, up: str) -> None:
    model = f"{up}/tool-model"
    messages: list[Any] = [{"role": "user", "content": "What is the weather in Paris?"}]
    first = oai.chat.completions.create(
        model=model, messages=messages, tools=[WEATHER_TOOL_OPENAI], max_tokens=200
    )
    assert first.choices[0].finish_reason == "tool_calls"
    calls = first.choices[0].message.tool_calls or []
    assert calls and calls[0].function.name == "get_weather"  # type: ignore[union-attr]
    json.loads(calls[0].function.arguments)  # type: ignore[union-attr]
    messages.append(first.choices[0].message.model_dump(exclude_none=True))
    for call in calls:
        messages.append({"role": "tool", "tool_call_id": call.id, "content": "18°C and sunny"})
    answer = oai.chat.completions.create(
        model=model, messages=messages, tools=[WEATHER_TOOL_OPENAI], max_tokens=200
    )
    assert answer.choices[0].message.content
    assert answer.choices[0].finish_reason in ("stop", "tool_calls")


@pytest.mark.parametrize("up", UPSTREAMS)
def test_openai_client_streamed_tool_calls(oai: openai.OpenAI, up: str) -> None:
    kwargs: Any = {
        "model": f"{up}/parallel-tool-model",
        "messages": [{"role": "user", "content": "Weather in Paris and Rome?"}],
        "tools": [WEATHER_TOOL_OPENAI],
        "max_tokens": 200,
    }
    whole = oai.chat.completions.create(**kwargs)
    with oai.chat.completions.stream(**kwargs) as stream:
        final = stream.get_final_completion()
    want = [
        (c.function.name, json.loads(c.function.arguments)) for c in whole.choices[0].message.tool_calls or []
    ]  # type: ignore[union-attr]
    got = [
        (c.function.name, json.loads(c.function.arguments)) for c in final.choices[0].message.tool_calls or []
    ]  # type: ignore[union-attr]
    assert got == want and got
    assert final.choices[0].finish_reason == "tool_calls"


@pytest.mark.parametrize("up", UPSTREAMS)
def test_anthropic_client_tool_round_trip(ant: anthropic.Anthropic, up: str) -> None:
    model = f"{up}/parallel-tool-model"
    messages: list[Any] = [{"role": "user", "content": "Weather in Paris and Rome?"}]
    first = ant.messages.create(
        model=model, max_tokens=300, messages=messages, tools=[WEATHER_TOOL_ANTHROPIC]
    )
    assert first.stop_reason == "tool_use"
    uses = [b for b in first.content if b.type == "tool_use"]
    assert uses and all(u.name == "get_weather" and isinstance(u.input, dict) for u in uses)
    assert len({u.id for u in uses}) == len(uses)
    messages.append(
        {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]}
    )
    messages.append(
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": u.id, "content": "18°C"} for u in uses],
        }
    )
    answer = ant.messages.create(
        model=model, max_tokens=300, messages=messages, tools=[WEATHER_TOOL_ANTHROPIC]
    )
    assert any(b.type == "text" and b.text for b in answer.content)


@pytest.mark.parametrize("up", UPSTREAMS)
def test_anthropic_client_streamed_tool_use(ant: anthropic.Anthropic, up: str) -> None:
    kwargs: Any = {
        "model": f"{up}/parallel-tool-model",
        "max_tokens": 300,
        "messages": [{"role": "user", "content": "Weather in Paris and Rome?"}],
        "tools": [WEATHER_TOOL_ANTHROPIC],
    }
    whole = ant.messages.create(**kwargs)
    with ant.messages.stream(**kwargs) as stream:
        final = stream.get_final_message()

    def calls(m: anthropic.types.Message) -> list[tuple[str, object]]:
        return [(b.name, b.input) for b in m.content if b.type == "tool_use"]

    assert calls(final) == calls(whole) and calls(final)
    assert final.stop_reason == "tool_use"


# -- images --------------------------------------------------------------------------------------


@pytest.mark.parametrize("up", UPSTREAMS)
def test_images_both_ways(oai: openai.OpenAI, ant: anthropic.Anthropic, up: str) -> None:
    done = oai.chat.completions.create(
        model=f"{up}/vision-model",
        max_tokens=50,
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Describe the image"},
                    {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG_1X1}"}},
                ],
            }
        ],
    )
    assert done.choices[0].message.content
    msg = ant.messages.create(
        model=f"{up}/vision-model",
        max_tokens=50,
        messages=[
            {
                "role": "user",
                "content": [
                    {
                        "type": "image",
                        "source": {"type": "base64", "media_type": "image/png", "data": PNG_1X1},
                    },
                    {"type": "text", "text": "Describe the image"},
                ],
            }
        ],
    )
    assert msg.content


# -- errors in the caller's dialect --------------------------------------------------------------


@pytest.mark.parametrize("up", UPSTREAMS)
def test_upstream_400_comes_back_in_each_dialect(
    oai: openai.OpenAI, ant: anthropic.Anthropic, up: str
) -> None:
    with pytest.raises(openai.BadRequestError) as o:
        oai.chat.completions.create(model=f"{up}/bad-request", messages=[{"role": "user", "content": "x"}])
    assert o.value.response.json()["error"]["message"]
    with pytest.raises(anthropic.BadRequestError) as a:
        ant.messages.create(
            model=f"{up}/bad-request", max_tokens=10, messages=[{"role": "user", "content": "x"}]
        )
    body = a.value.response.json()
    assert body["type"] == "error" and body["error"]["type"] == "invalid_request_error"


def test_gateway_errors_speak_anthropic_on_messages(gw: GatewayProcess, ant: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.NotFoundError) as nf:
        ant.messages.create(model="nowhere/x", max_tokens=10, messages=[{"role": "user", "content": "x"}])
    assert nf.value.response.json()["error"]["type"] == "not_found_error"
    with (
        anthropic.Anthropic(base_url=gw.base_url, api_key="wrong", max_retries=0) as bad,
        pytest.raises(anthropic.AuthenticationError) as au,
    ):
        bad.messages.create(model="ant/x", max_tokens=10, messages=[{"role": "user", "content": "x"}])
    assert au.value.response.json()["error"]["type"] == "authentication_error"
    r = httpx.post(
        f"{gw.base_url}/v1/messages",
        json={"model": "ant/x", "messages": [{"role": "user", "content": "x"}]},
        headers={"x-api-key": PROXY_KEY},
    )
    assert r.status_code == 400 and r.json()["error"]["type"] == "invalid_request_error"
    assert "max_tokens" in r.json()["error"]["message"]


@pytest.mark.parametrize(
    "messages",
    [
        [{"role": "robot", "content": "hi"}],
        [{"role": "user", "content": [{"type": "hologram"}]}],
        [{"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_nope", "content": "x"}]}],
        [{"role": "user", "content": 42}],
    ],
)
@pytest.mark.parametrize("up", ["oai", "gem"])
def test_malformed_anthropic_input_is_a_clear_400(gw: GatewayProcess, up: str, messages: list[Any]) -> None:
    r = httpx.post(
        f"{gw.base_url}/v1/messages",
        json={"model": f"{up}/m", "max_tokens": 10, "messages": messages},
        headers={"x-api-key": PROXY_KEY, "anthropic-version": "2023-06-01"},
    )
    assert r.status_code == 400, r.text
    body = r.json()
    assert (
        body["type"] == "error"
        and body["error"]["type"] == "invalid_request_error"
        and body["error"]["message"]
    )


@pytest.mark.parametrize("up", UPSTREAMS)
def test_rate_limit_retry_after_reaches_the_client(
    ant: anthropic.Anthropic, oai: openai.OpenAI, up: str
) -> None:
    with pytest.raises(anthropic.RateLimitError) as a:
        ant.messages.create(
            model=f"rl-{up}/rate-limited", max_tokens=10, messages=[{"role": "user", "content": "x"}]
        )
    assert int(a.value.response.headers["retry-after"]) >= 1
    with pytest.raises(openai.RateLimitError) as o:
        oai.chat.completions.create(
            model=f"rl-{up}/rate-limited", messages=[{"role": "user", "content": "x"}]
        )
    assert int(o.value.response.headers["retry-after"]) >= 1


# -- passthrough fidelity -------------------------------------------------------------------------


def test_anthropic_passthrough_keeps_headers_and_fields(
    ant: anthropic.Anthropic, fake_anthropic: FakeAnthropic
) -> None:
    fake_anthropic.clear()
    ant.messages.create(
        model="ant/text-model",
        max_tokens=50,
        system=[{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],
        messages=[{"role": "user", "content": "Hi"}],
        metadata={"user_id": "u-1"},
        extra_headers={"anthropic-beta": "context-management-2025-06-27"},
    )
    seen = fake_anthropic.requests[-1]
    assert seen.headers["anthropic-beta"] == "context-management-2025-06-27"
    assert seen.headers["x-api-key"] == "sk-ant-upstream"
    assert PROXY_KEY not in str(dict(seen.headers))
    assert seen.json["system"][0]["cache_control"] == {"type": "ephemeral"}
    assert seen.json["metadata"] == {"user_id": "u-1"} and seen.json["model"] == "text-model"


def test_gemini_key_travels_in_the_header(oai: openai.OpenAI, fake_gemini: FakeGemini) -> None:
    fake_gemini.clear()
    oai.chat.completions.create(model="gem/text-model", messages=[{"role": "user", "content": "Hi"}])
    seen = fake_gemini.requests[-1]
    assert seen.headers["x-goog-api-key"] == "gem-upstream-key"
    assert "key" not in seen.query


def test_gemini_embeddings(oai: openai.OpenAI) -> None:
    floats = oai.embeddings.create(
        model="gem/text-embedding-004", input=["Hello", "World"], encoding_format="float"
    )
    assert len(floats.data) == 2 and len(floats.data[0].embedding) > 10
    default = oai.embeddings.create(
        model="gem/text-embedding-004", input=["Hello", "World"]
    )  # SDK asks base64
    assert default.data[0].embedding == pytest.approx(floats.data[0].embedding, rel=1e-6)


def test_embeddings_are_refused_for_anthropic(oai: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError):
        oai.embeddings.create(model="ant/some-embedding", input="x")


# -- count_tokens ---------------------------------------------------------------------------------


@pytest.mark.parametrize("up", UPSTREAMS)
def test_count_tokens(ant: anthropic.Anthropic, up: str) -> None:
    small = ant.messages.count_tokens(model=f"{up}/text-model", messages=[{"role": "user", "content": "Hi"}])
    big = ant.messages.count_tokens(
        model=f"{up}/text-model",
        system="You are a careful assistant. " * 20,
        messages=[{"role": "user", "content": "Hi"}],
        tools=[WEATHER_TOOL_ANTHROPIC],
    )
    assert 0 < small.input_tokens < big.input_tokens  # system prompt and tools are counted


# -- streams cut by either side, and the ledger for every pair ---------------------------------------


@pytest.mark.parametrize("up", UPSTREAMS)
def test_anthropic_stream_ledger(ant: anthropic.Anthropic, gw: GatewayProcess, up: str) -> None:
    with ant.messages.with_streaming_response.create(
        model=f"{up}/text-model",
        max_tokens=100,
        stream=True,
        messages=[{"role": "user", "content": "Hi Alan"}],
    ) as raw:
        rid = raw.headers["x-request-id"]
        events = [line for line in raw.iter_lines() if line.startswith("event: ")]
    assert events[0] == "event: message_start" and events[-1] == "event: message_stop"
    row = ledger_row(gw.db_path, rid)
    assert row["streamed"] and row["status"] == 200 and row["completion_tokens"] and row["prompt_tokens"]
    assert not row["tokens_estimated"] and row["provider"] == up


@pytest.mark.parametrize("up", ["ant", "gem"])
def test_upstream_failure_mid_stream_reaches_each_dialect(
    ant: anthropic.Anthropic, oai: openai.OpenAI, gw: GatewayProcess, up: str
) -> None:
    with (
        pytest.raises(anthropic.APIStatusError),
        ant.messages.stream(
            model=f"{up}/reset-3", max_tokens=100, messages=[{"role": "user", "content": "Hi"}]
        ) as stream,
    ):
        for _ in stream:
            pass
    raw = oai.chat.completions.with_raw_response.create(
        model=f"{up}/reset-3", messages=[{"role": "user", "content": "Hi"}], stream=True
    )
    with pytest.raises(openai.APIError):
        list(raw.parse())
    row = ledger_row(gw.db_path, raw.headers["x-request-id"])
    assert row["error_type"] == "upstream_unavailable" and row["tokens_estimated"]


def test_anthropic_error_event_mid_stream_is_relayed(ant: anthropic.Anthropic) -> None:
    with (
        pytest.raises(anthropic.APIStatusError) as info,
        ant.messages.stream(
            model="ant/error-mid-stream-2", max_tokens=100, messages=[{"role": "user", "content": "Hi"}]
        ) as stream,
    ):
        for _ in stream:
            pass
    assert "overloaded" in str(info.value.body) or "Overloaded" in str(info.value)


@pytest.mark.parametrize("up", UPSTREAMS)
def test_client_disconnect_on_messages_stream(gw: GatewayProcess, up: str) -> None:
    body = {
        "model": f"{up}/drip-50",
        "max_tokens": 500,
        "stream": True,
        "messages": [{"role": "user", "content": "Hi"}],
    }
    headers = {"x-api-key": PROXY_KEY, "anthropic-version": "2023-06-01"}
    with httpx.stream("POST", f"{gw.base_url}/v1/messages", json=body, headers=headers, timeout=20) as r:
        rid = r.headers["x-request-id"]
        deltas = 0
        for line in r.iter_lines():
            deltas += line == "event: content_block_delta"
            if deltas == 4:
                break
    row = ledger_row(gw.db_path, rid)
    assert row["client_closed"] and row["completion_tokens"] and row["completion_tokens"] < 200


def test_prompt_cache_tokens_land_in_the_ledger(ant: anthropic.Anthropic, gw: GatewayProcess) -> None:
    system = [
        {"type": "text", "text": "You are a patient tutor. " * 400, "cache_control": {"type": "ephemeral"}}
    ]
    kwargs: Any = {"model": "ant/text-model", "max_tokens": 50, "system": system}
    first = ant.messages.with_raw_response.create(**kwargs, messages=[{"role": "user", "content": "One"}])
    second = ant.messages.with_raw_response.create(**kwargs, messages=[{"role": "user", "content": "Two"}])
    wrote = ledger_row(gw.db_path, first.headers["x-request-id"])
    read = ledger_row(gw.db_path, second.headers["x-request-id"])
    assert (
        wrote["cache_write_tokens"]
        and wrote["cache_write_tokens"] == first.parse().usage.cache_creation_input_tokens
    )
    assert read["cached_tokens"] and read["cached_tokens"] == second.parse().usage.cache_read_input_tokens
    usage = second.parse().usage
    assert read["prompt_tokens"] == usage.input_tokens + (usage.cache_read_input_tokens or 0) + (
        usage.cache_creation_input_tokens or 0
    )


def test_thinking_passthrough_and_translated(ant: anthropic.Anthropic, oai: openai.OpenAI) -> None:
    msg = ant.messages.create(
        model="ant/text-model",
        max_tokens=3000,
        thinking={"type": "enabled", "budget_tokens": 1024},
        messages=[{"role": "user", "content": "Think about Ada"}],
    )
    thinking = [b for b in msg.content if b.type == "thinking"]
    assert thinking and thinking[0].signature  # the upstream's signature survives untouched
    done = oai.chat.completions.create(
        model="ant/text-model",
        reasoning_effort="low",
        max_completion_tokens=3000,
        messages=[{"role": "user", "content": "Think about Ada"}],
    )
    assert done.choices[0].message.model_extra and done.choices[0].message.model_extra.get(
        "reasoning_content"
    )


def test_image_too_large_is_a_400_in_each_dialect(gw: GatewayProcess) -> None:
    big = base64.b64encode(b"\x89PNG" + b"\0" * 5000).decode()  # over this gateway's max_image_bytes
    openai_body = {
        "model": "ant/vision-model",
        "messages": [
            {
                "role": "user",
                "content": [{"type": "image_url", "image_url": {"url": f"data:image/png;base64,{big}"}}],
            }
        ],
    }
    r = httpx.post(
        f"{gw.base_url}/v1/chat/completions",
        json=openai_body,
        headers={"authorization": f"Bearer {PROXY_KEY}"},
    )
    assert r.status_code == 400 and r.json()["error"]["param"] == "messages[0].content[0]"
    assert "larger than 4000 bytes" in r.json()["error"]["message"]
    anthropic_body = {
        "model": "oai/vision-model",
        "max_tokens": 10,
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": big}}
                ],
            }
        ],
    }
    r = httpx.post(f"{gw.base_url}/v1/messages", json=anthropic_body, headers={"x-api-key": PROXY_KEY})
    assert r.status_code == 400 and r.json()["type"] == "error"
    assert (
        r.json()["error"]["type"] == "invalid_request_error"
        and "larger than 4000 bytes" in r.json()["error"]["message"]
    )
