"""The bridges of Gemini clients (llmgw/relay/bridge.py): which bridge each upstream gets, what goes
upstream (the passthrough body with the upstream's model where the body names one, the nested cap,
`:embedContent` as a batch of one; the hub request with the path's stream flag), and what comes back
(usage from `usageMetadata`, `includeThoughts` honoured, embeddings reshaped)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from llmgw.dialects import Operation, UpstreamDialect
from llmgw.errors import InvalidRequest, UpstreamUnavailable
from llmgw.relay.bridge import (
    Bridge,
    Context,
    GeminiPassthrough,
    GeminiToAnthropic,
    GeminiToOpenAI,
    bridge_for,
)
from llmgw.relay.output_cap import OutputCap
from tests.support.fakes.fixtures import fixtures_dir

BODY: dict[str, Any] = {"contents": [{"role": "user", "parts": [{"text": "Hi"}]}]}


def recorded(provider: str, name: str) -> bytes:
    return (fixtures_dir() / provider / name).read_bytes()


@pytest.mark.parametrize(
    ("op", "upstream", "bridge"),
    [
        (Operation.CHAT, "gemini", GeminiPassthrough),
        (Operation.COUNT_TOKENS, "gemini", GeminiPassthrough),
        (Operation.EMBEDDINGS, "gemini", GeminiPassthrough),
        (Operation.CHAT, "anthropic", GeminiToAnthropic),
        (Operation.COUNT_TOKENS, "anthropic", GeminiToAnthropic),
        (Operation.CHAT, "openai", GeminiToOpenAI),
        (Operation.EMBEDDINGS, "openai", GeminiToOpenAI),
    ],
)
def test_the_bridge_for_each_upstream(op: Operation, upstream: UpstreamDialect, bridge: type[Bridge]) -> None:
    assert type(bridge_for("gemini", op, upstream, Context("m"))) is bridge


def test_anthropic_has_no_embeddings() -> None:
    with pytest.raises(InvalidRequest, match="Embeddings is not available from Anthropic providers"):
        bridge_for("gemini", Operation.EMBEDDINGS, "anthropic", Context("m"))


def test_passthrough_keeps_the_body_and_caps_it_nested_under_a_budget() -> None:
    body = {**BODY, "generationConfig": {"temperature": 0.2, "maxOutputTokens": 9000}}
    free = GeminiPassthrough("gemini", Operation.CHAT, "gemini", Context("m"))
    assert free.request(body, "gemini-2.5-flash", False) is body
    capped = GeminiPassthrough("gemini", Operation.CHAT, "gemini", Context("m", cap=OutputCap(300)))
    assert capped.request(body, "gemini-2.5-flash", True)["generationConfig"] == {
        "temperature": 0.2,
        "maxOutputTokens": 300,
    }


def test_passthrough_reads_usage_and_returns_the_bytes() -> None:
    raw = recorded("gemini", "generate.text.json")
    out, usage = GeminiPassthrough("gemini", Operation.CHAT, "gemini", Context("m")).response(raw)
    assert out is raw and usage is not None
    assert usage.prompt_tokens == orjson.loads(raw)["usageMetadata"]["promptTokenCount"]


def test_passthrough_names_the_upstream_model_where_the_body_names_one() -> None:
    count = GeminiPassthrough("gemini", Operation.COUNT_TOKENS, "gemini", Context("alias"))
    inner = {"model": "models/alias", **BODY}
    assert count.request({"generateContentRequest": inner}, "gemini-2.5-flash", False) == {
        "generateContentRequest": {**inner, "model": "models/gemini-2.5-flash"}
    }
    batch = GeminiPassthrough("gemini", Operation.EMBEDDINGS, "gemini", Context("alias"))
    sent = batch.request(
        {"requests": [{"model": "models/alias", "content": {"parts": [{"text": "a"}]}}]}, "e-4", False
    )
    assert sent == {"requests": [{"model": "models/e-4", "content": {"parts": [{"text": "a"}]}}]}


def test_embed_content_is_a_batch_of_one_upstream() -> None:
    one = GeminiPassthrough("gemini", Operation.EMBEDDINGS, "gemini", Context("m", embed_one=True))
    content = {"parts": [{"text": "a"}]}
    assert one.request({"content": content, "taskType": "RETRIEVAL_QUERY"}, "e-4", False) == {
        "requests": [{"content": content, "taskType": "RETRIEVAL_QUERY", "model": "models/e-4"}]
    }
    out, usage = one.response(b'{"embeddings": [{"values": [0.5, 1.0]}]}')
    assert orjson.loads(out) == {"embedding": {"values": [0.5, 1.0]}} and usage is None
    with pytest.raises(UpstreamUnavailable):
        one.response(b'{"embeddings": []}')


def test_the_hub_request_says_stream_and_names_the_upstream_model() -> None:
    bridge = GeminiToAnthropic(
        "gemini", Operation.CHAT, "anthropic", Context("claude", default_max_tokens=1000)
    )
    whole, streamed = (
        bridge.request(BODY, "claude-sonnet-4-5", False),
        bridge.request(BODY, "claude-sonnet-4-5", True),
    )
    assert whole["model"] == "claude-sonnet-4-5" and whole["max_tokens"] == 1000 and "stream" not in whole
    assert streamed["stream"] is True


def test_include_thoughts_shows_thinking_in_thought_parts() -> None:
    body = {**BODY, "generationConfig": {"thinkingConfig": {"includeThoughts": True, "thinkingBudget": 2048}}}
    bridge = GeminiToAnthropic("gemini", Operation.CHAT, "anthropic", Context("claude"))
    sent = bridge.request(body, "claude-sonnet-4-5", False)
    assert sent["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    message = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5",
        "content": [
            {"type": "thinking", "thinking": "Let me think.", "signature": "sig"},
            {"type": "text", "text": "Hello."},
        ],
        "stop_reason": "end_turn",
        "usage": {"input_tokens": 5, "output_tokens": 7},
    }
    out, usage = bridge.response(orjson.dumps(message))
    parts = orjson.loads(out)["candidates"][0]["content"]["parts"]
    assert parts[0] == {"text": "Let me think.", "thought": True}
    assert parts[-1]["text"] == "Hello." and "thoughtSignature" in parts[-1]
    assert usage is not None and (usage.prompt_tokens, usage.completion_tokens) == (5, 7)


@pytest.mark.parametrize(
    ("provider_type", "field"), [("openai", "max_completion_tokens"), ("openai-compatible", "max_tokens")]
)
def test_openai_format_servers_get_chat_completions(provider_type: str, field: str) -> None:
    bridge = GeminiToOpenAI(
        "gemini", Operation.CHAT, "openai", Context("m", default_max_tokens=500), provider_type
    )
    sent = bridge.request(BODY, "gpt-4o-mini", True)
    assert sent["model"] == "gpt-4o-mini" and sent[field] == 500
    assert sent["stream"] is True and sent["stream_options"] == {"include_usage": True}
    with pytest.raises(InvalidRequest, match="googleSearch"):
        bridge.request({**BODY, "tools": [{"googleSearch": {}}]}, "gpt-4o-mini", False)


def test_openai_embeddings_both_ways() -> None:
    bridge = GeminiToOpenAI("gemini", Operation.EMBEDDINGS, "openai", Context("m"))
    body = {"requests": [{"content": {"parts": [{"text": "a"}]}}, {"content": {"parts": [{"text": "b"}]}}]}
    assert bridge.request(body, "text-embedding-3-small", False)["input"] == ["a", "b"]
    out, usage = bridge.response(recorded("openai", "embeddings.default.json"))
    expected = orjson.loads(recorded("openai", "embeddings.default.json"))
    vectors = [e["values"] for e in orjson.loads(out)["embeddings"]]
    assert len(vectors) == len(expected["data"]) and all(v and isinstance(v[0], float) for v in vectors)
    assert usage is not None and usage.prompt_tokens == expected["usage"]["prompt_tokens"]
