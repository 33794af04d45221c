"""ModelCalls: which requests go straight to the handler (with which endpoint row and model), and which
go on to Starlette's router."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from starlette.requests import Request
from starlette.responses import Response

from llmgw.relay import dispatch
from llmgw.relay.dispatch import ModelCalls
from llmgw.relay.endpoints import ClientEndpoint


def run(monkeypatch: pytest.MonkeyPatch, method: str, path: str, root_path: str = "") -> Any:
    """What the request reached: ("handler", endpoint path, model) or ("router",)."""
    reached: list[Any] = []

    async def handle(endpoint: ClientEndpoint, request: Request) -> Response:
        reached.append(("handler", endpoint.path, request.path_params.get("model")))
        return Response(b"ok")

    async def router(scope: Any, receive: Any, send: Any) -> None:
        reached.append(("router",))

    monkeypatch.setattr(dispatch, "handle", handle)
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": method, "path": path, "root_path": root_path, "headers": []}
    asyncio.run(ModelCalls(router)(scope, receive, send))
    assert len(reached) == 1
    if reached[0][0] == "handler":  # the handler's response went out on the request's own send
        assert sent[0]["type"] == "http.response.start" and sent[-1]["body"] == b"ok"
    return reached[0]


@pytest.mark.parametrize(
    ("path", "endpoint", "model"),
    [
        ("/v1/chat/completions", "/v1/chat/completions", None),
        ("/v1/completions", "/v1/completions", None),
        ("/v1/embeddings", "/v1/embeddings", None),
        ("/v1/responses", "/v1/responses", None),
        ("/v1/messages", "/v1/messages", None),
        ("/v1/messages/count_tokens", "/v1/messages/count_tokens", None),
        (
            "/v1beta/models/gemini-2.0-flash:generateContent",
            "/v1beta/models/{model}:generateContent",
            "gemini-2.0-flash",
        ),
        (
            "/v1beta/models/gemini/gemini-2.0-flash:streamGenerateContent",
            "/v1beta/models/{model}:streamGenerateContent",
            "gemini/gemini-2.0-flash",
        ),
        ("/v1/models/openai/gpt-4o-mini:countTokens", "/v1/models/{model}:countTokens", "openai/gpt-4o-mini"),
        (
            "/v1beta/models/text-embedding-004:embedContent",
            "/v1beta/models/{model}:embedContent",
            "text-embedding-004",
        ),
        ("/v1/models/e:batchEmbedContents", "/v1/models/{model}:batchEmbedContents", "e"),
        # Starlette's `{model:path}` is greedy: the last `:verb` is the operation, as the router had it.
        ("/v1beta/models/a:b:generateContent", "/v1beta/models/{model}:generateContent", "a:b"),
        ("/v1beta/models/:generateContent", "/v1beta/models/{model}:generateContent", ""),
    ],
)
def test_model_calls_reach_the_handler(
    monkeypatch: pytest.MonkeyPatch, path: str, endpoint: str, model: str | None
) -> None:
    assert run(monkeypatch, "POST", path) == ("handler", endpoint, model)


@pytest.mark.parametrize(
    ("method", "path", "root_path"),
    [
        ("GET", "/v1/chat/completions", ""),  # the router's 405
        ("OPTIONS", "/v1/messages", ""),
        ("POST", "/v1/chat/completions/", ""),  # the router's 404 names the path without the slash
        ("POST", "/v1/models", ""),
        ("POST", "/v1beta/models/x:unknownVerb", ""),
        ("POST", "/v2/models/x:generateContent", ""),
        ("POST", "/ui/login", ""),
        ("POST", "/v1/chat/completions", "/gateway"),  # a root path: the router knows it
    ],
)
def test_everything_else_goes_to_the_router(
    monkeypatch: pytest.MonkeyPatch, method: str, path: str, root_path: str
) -> None:
    assert run(monkeypatch, method, path, root_path) == ("router",)


def test_lifespan_goes_to_the_router(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []

    async def router(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["type"])

    asyncio.run(ModelCalls(router)({"type": "lifespan"}, None, None))  # type: ignore[arg-type]
    assert seen == ["lifespan"]
