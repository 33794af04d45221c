"""Gemini's endpoints (llmgw/relay/endpoints.py): the model and the operation in the path, a route that
takes a decoded `provider/model`, the same rows under `/v1beta` and `/v1`, and what `check_body` asks of
each operation's body."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.routing import Match, Route

from llmgw.dialects import Operation
from llmgw.errors import InvalidRequest
from llmgw.relay.cors import allowed_header
from llmgw.relay.endpoints import ENDPOINTS, ClientEndpoint
from llmgw.relay.handler import check_body

GEMINI = {e.path: e for e in ENDPOINTS if e.dialect == "gemini"}


def endpoint(path: str) -> ClientEndpoint:
    return GEMINI[path]


def test_every_operation_under_both_prefixes() -> None:
    verbs = ["generateContent", "streamGenerateContent", "countTokens", "embedContent", "batchEmbedContents"]
    assert sorted(GEMINI) == sorted(f"{p}/models/{{model}}:{v}" for p in ("/v1beta", "/v1") for v in verbs)
    assert all(e.model_in_path for e in GEMINI.values())
    assert [e.path for e in GEMINI.values() if e.always_streams] == [
        "/v1beta/models/{model}:streamGenerateContent",
        "/v1/models/{model}:streamGenerateContent",
    ]


@pytest.mark.parametrize(
    ("path", "model"),
    [
        ("/v1beta/models/gemini-2.5-flash:generateContent", "gemini-2.5-flash"),
        ("/v1beta/models/openai/gpt-4o-mini:generateContent", "openai/gpt-4o-mini"),  # `%2F`, decoded
        (
            "/v1beta/models/openrouter/meta-llama/llama-3:free:generateContent",
            "openrouter/meta-llama/llama-3:free",
        ),
    ],
)
def test_the_route_takes_the_model_whole(path: str, model: str) -> None:
    route = Route(endpoint("/v1beta/models/{model}:generateContent").route, lambda r: None, methods=["POST"])
    match, scope = route.matches({"type": "http", "path": path, "method": "POST"})
    assert match is Match.FULL and scope["path_params"] == {"model": model}
    other = Route(endpoint("/v1beta/models/{model}:countTokens").route, lambda r: None, methods=["POST"])
    assert other.matches({"type": "http", "path": path, "method": "POST"})[0] is Match.NONE


@pytest.mark.parametrize(
    ("path", "body", "problem"),
    [
        ("/v1beta/models/{model}:generateContent", {}, "`contents` is required"),
        ("/v1beta/models/{model}:generateContent", {"contents": []}, "non-empty array"),
        ("/v1beta/models/{model}:generateContent", {"contents": ["hi"]}, "`contents[0]` must be an object"),
        (
            "/v1beta/models/{model}:countTokens",
            {"generateContentRequest": {}},
            "generateContentRequest.contents",
        ),
        ("/v1beta/models/{model}:embedContent", {"contents": []}, "`content` is required"),
        ("/v1beta/models/{model}:batchEmbedContents", {"requests": []}, "`requests` must be a non-empty"),
        (
            "/v1beta/models/{model}:generateContent",
            {"contents": [{"parts": [{"inlineData": {"mimeType": "image/png", "data": "A" * 2000}}]}]},
            "contents[0].parts[0]",
        ),
    ],
)
def test_check_body_refuses(path: str, body: dict[str, Any], problem: str) -> None:
    with pytest.raises(
        InvalidRequest, match=problem.replace("[", r"\[").replace("]", r"\]").replace(".", r"\.")
    ):
        check_body(body, endpoint(path), 1000, "gemini-2.5-flash")


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (
            "/v1beta/models/{model}:generateContent",
            {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]},
        ),
        ("/v1/models/{model}:countTokens", {"contents": []}),
        ("/v1beta/models/{model}:countTokens", {"generateContentRequest": {"contents": []}}),
        ("/v1beta/models/{model}:embedContent", {"content": {"parts": [{"text": "hi"}]}}),
        (
            "/v1beta/models/{model}:batchEmbedContents",
            {"requests": [{"content": {"parts": [{"text": "hi"}]}}]},
        ),
    ],
)
def test_check_body_takes_the_model_from_the_path(path: str, body: dict[str, Any]) -> None:
    assert check_body({**body, "model": "ignored"}, endpoint(path), 1000, "oai/gpt-4o") == "oai/gpt-4o"


def test_a_path_model_is_checked_like_a_body_model() -> None:
    with pytest.raises(InvalidRequest, match="control characters"):
        check_body({"contents": [{}]}, endpoint("/v1beta/models/{model}:generateContent"), 1000, "a\x00b")
    assert endpoint("/v1beta/models/{model}:embedContent").op is Operation.EMBEDDINGS


def test_a_browser_may_send_googles_key_header() -> None:
    assert allowed_header("x-goog-api-key") and allowed_header("x-goog-api-client")
