"""Provider adapters, table-tested: where each operation goes, how the key travels, what the body holds."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from llmgw import __version__
from llmgw.dialects import Operation
from llmgw.errors import Unsupported
from llmgw.providers import adapter_for
from llmgw.settings import ProviderConfig

KEY = "sk-upstream-secret"


def adapter(type_: str, **extra: Any) -> Any:
    return adapter_for("p", ProviderConfig(type=type_, base_url="http://up.test/v1", **extra))


@pytest.mark.parametrize(
    ("type_", "op", "stream", "url"),
    [
        ("openai", Operation.CHAT, False, "http://up.test/v1/chat/completions"),
        ("openai", Operation.COMPLETIONS, True, "http://up.test/v1/completions"),
        ("openai", Operation.RESPONSES, True, "http://up.test/v1/responses"),  # OpenAI's own API only
        ("openai-compatible", Operation.EMBEDDINGS, False, "http://up.test/v1/embeddings"),
        ("anthropic", Operation.CHAT, True, "http://up.test/v1/messages"),
        ("anthropic", Operation.COUNT_TOKENS, False, "http://up.test/v1/messages/count_tokens"),
        ("gemini", Operation.CHAT, False, "http://up.test/v1/models/gem-1:generateContent"),
        ("gemini", Operation.CHAT, True, "http://up.test/v1/models/gem-1:streamGenerateContent?alt=sse"),
        ("gemini", Operation.COUNT_TOKENS, False, "http://up.test/v1/models/gem-1:countTokens"),
        ("gemini", Operation.EMBEDDINGS, False, "http://up.test/v1/models/gem-1:batchEmbedContents"),
    ],
)
def test_each_operation_goes_to_its_url(type_: str, op: Operation, stream: bool, url: str) -> None:
    req = adapter(type_).build(op, {"x": 1}, "gem-1", KEY, stream=stream)
    assert (req.method, req.url) == ("POST", url)
    assert req.headers["content-type"] == "application/json"
    assert req.headers["user-agent"] == f"llmgw/{__version__}"


@pytest.mark.parametrize(
    ("type_", "op"),
    [
        ("openai", Operation.COUNT_TOKENS),
        ("openrouter", Operation.RESPONSES),  # reached through chat completions
        ("openai-compatible", Operation.RESPONSES),
        ("anthropic", Operation.RESPONSES),
        ("gemini", Operation.RESPONSES),
        ("anthropic", Operation.EMBEDDINGS),
        ("anthropic", Operation.COMPLETIONS),
        ("gemini", Operation.COMPLETIONS),
    ],
)
def test_an_operation_the_api_lacks_is_unsupported(type_: str, op: Operation) -> None:
    with pytest.raises(Unsupported, match=f"provider 'p' .* has no {op.value} endpoint"):
        adapter(type_).build(op, {}, "m", KEY)


@pytest.mark.parametrize(
    ("type_", "auth"),
    [
        ("openai", {"authorization": f"Bearer {KEY}"}),
        ("openrouter", {"authorization": f"Bearer {KEY}"}),
        ("anthropic", {"x-api-key": KEY, "anthropic-version": "2023-06-01"}),
        ("gemini", {"x-goog-api-key": KEY}),
    ],
)
def test_the_key_travels_in_the_apis_own_header_and_nowhere_else(type_: str, auth: dict[str, str]) -> None:
    a = adapter(type_, headers={"x-team": "blue"})
    for req in (a.build(Operation.CHAT, {"model": "client-name"}, "m", KEY), a.list_models(KEY)):
        assert {k: v for k, v in req.headers.items() if KEY in v} == {
            k: v for k, v in auth.items() if KEY in v
        }
        assert all(req.headers[k] == v for k, v in auth.items())
        assert req.headers["x-team"] == "blue"
        assert KEY not in req.url


def test_only_the_model_changes_in_the_body_except_for_gemini_which_takes_it_in_the_url() -> None:
    body = {"model": "alias", "messages": [{"role": "user", "content": "hi"}], "stream": True, "n": 2}
    for type_ in ("openai", "anthropic"):
        sent = orjson.loads(adapter(type_).build(Operation.CHAT, body, "real-model", KEY).content or b"")
        assert sent == {**body, "model": "real-model"}
    gemini_body = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
    sent = orjson.loads(adapter("gemini").build(Operation.CHAT, gemini_body, "gem-1", KEY).content or b"")
    assert sent == gemini_body


def test_anthropic_version_and_beta_travel_from_the_client_and_nothing_else() -> None:
    client = {"anthropic-version": "2024-01-01", "anthropic-beta": "tools-2024", "authorization": "Bearer c"}
    req = adapter("anthropic").build(Operation.CHAT, {}, "m", KEY, client_headers=client)
    assert req.headers["anthropic-version"] == "2024-01-01"
    assert req.headers["anthropic-beta"] == "tools-2024"
    assert "authorization" not in req.headers


def test_anthropic_beta_query_travels_to_anthropic_only() -> None:
    """The Anthropic SDK's beta client (Claude Code) posts to `/v1/messages?beta=true`: the API takes its
    beta-only body fields (`context_management` ...) there only."""
    query = {"beta": "true", "other": "x"}
    for op, path in ((Operation.CHAT, "messages"), (Operation.COUNT_TOKENS, "messages/count_tokens")):
        req = adapter("anthropic").build(op, {}, "m", KEY, client_query=query)
        assert req.url.endswith(f"/{path}?beta=true")
        assert adapter("anthropic").build(op, {}, "m", KEY).url.endswith(f"/{path}")
    assert "beta" not in adapter("openai").build(Operation.CHAT, {}, "m", KEY, client_query=query).url
    stream = adapter("gemini").build(Operation.CHAT, {}, "g", KEY, stream=True, client_query=query)
    assert stream.url.endswith(":streamGenerateContent?alt=sse")


def test_openrouter_attribution_headers() -> None:
    a = adapter("openrouter", http_referer="https://team.test", x_title="Team")
    req = a.build(Operation.CHAT, {}, "m", KEY)
    assert (req.headers["http-referer"], req.headers["x-title"]) == ("https://team.test", "Team")


@pytest.mark.parametrize(
    ("type_", "url"),
    [
        ("openai", "http://up.test/v1/models"),
        ("anthropic", "http://up.test/v1/models?limit=1000"),
        ("gemini", "http://up.test/v1/models?pageSize=1000"),
    ],
)
def test_model_listing_is_a_get_without_a_body(type_: str, url: str) -> None:
    req = adapter(type_).list_models(KEY)
    assert (req.method, req.url, req.content) == ("GET", url, None)
    assert "content-type" not in req.headers


def test_model_ids_of_each_listing_shape() -> None:
    assert adapter("openai").model_ids({"data": [{"id": "a"}, {"id": 3}, "x"]}) == ["a"]
    assert adapter("anthropic").model_ids({"data": [{"id": "claude"}]}) == ["claude"]
    listing = {
        "models": [
            {"name": "models/gem-1", "supportedGenerationMethods": ["generateContent"]},
            {"name": "models/emb", "supportedGenerationMethods": ["embedContent"]},
            {"name": "models/tuning-only", "supportedGenerationMethods": ["createTunedModel"]},
        ]
    }
    assert adapter("gemini").model_ids(listing) == ["gem-1", "emb"]
    assert adapter("gemini").model_ids({"models": "nope"}) == []
