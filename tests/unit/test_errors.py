"""The error hierarchy and `render`, the one place an error becomes bytes in the client's dialect."""

from __future__ import annotations

import asyncio
import importlib
import json
import pkgutil
import re
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from anthropic.types import ErrorResponse
from openai.types import ErrorObject

from llmgw import errors
from llmgw.dialects import ClientDialect, UpstreamDialect
from llmgw.errors import (
    BudgetExceeded,
    ClientClosed,
    Forbidden,
    GatewayError,
    HeadersTooLarge,
    InternalError,
    InvalidRequest,
    LimitExceeded,
    MethodNotAllowed,
    ModelNotAllowed,
    ModelNotFound,
    ModelNotPriced,
    NoUsableKey,
    OutputCapIgnored,
    PayloadTooLarge,
    PreviousResponseNotFound,
    RateLimited,
    RequestTimeout,
    ResponseNotFound,
    TokenizerUnavailable,
    Unauthenticated,
    UnknownEndpoint,
    UpstreamStatusError,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from llmgw.relay.forward import upstream_error
from llmgw.wire import error_body, render
from llmgw.wire.upstream_errors import parse_upstream_error

# class, status, OpenAI type, OpenAI code, Anthropic type
GATEWAY_ERRORS: list[tuple[type[GatewayError], int, str, str | None, str]] = [
    (InvalidRequest, 400, "invalid_request_error", None, "invalid_request_error"),
    (
        PreviousResponseNotFound,
        400,
        "invalid_request_error",
        "previous_response_not_found",
        "invalid_request_error",
    ),
    (Unauthenticated, 401, "invalid_request_error", "invalid_api_key", "authentication_error"),
    (Forbidden, 403, "invalid_request_error", "forbidden", "permission_error"),
    (ModelNotFound, 404, "invalid_request_error", "model_not_found", "not_found_error"),
    (UnknownEndpoint, 404, "invalid_request_error", "unknown_url", "not_found_error"),
    (ResponseNotFound, 404, "invalid_request_error", None, "not_found_error"),
    (MethodNotAllowed, 405, "invalid_request_error", "method_not_allowed", "invalid_request_error"),
    (RequestTimeout, 408, "invalid_request_error", "request_timeout", "invalid_request_error"),
    (PayloadTooLarge, 413, "invalid_request_error", "request_too_large", "request_too_large"),
    (
        HeadersTooLarge,
        431,
        "invalid_request_error",
        "request_header_fields_too_large",
        "invalid_request_error",
    ),
    (ClientClosed, 499, "invalid_request_error", "client_closed", "invalid_request_error"),
    (RateLimited, 429, "rate_limit_error", "rate_limit_exceeded", "rate_limit_error"),
    (LimitExceeded, 429, "rate_limit_error", "gateway_rate_limit_exceeded", "rate_limit_error"),
    (BudgetExceeded, 429, "rate_limit_error", "budget_exceeded", "rate_limit_error"),
    (ModelNotPriced, 403, "invalid_request_error", "model_not_priced", "permission_error"),
    (ModelNotAllowed, 403, "invalid_request_error", "model_not_allowed", "permission_error"),
    (InternalError, 500, "api_error", "internal_error", "api_error"),
    (UpstreamUnavailable, 502, "api_error", "upstream_unavailable", "api_error"),
    (OutputCapIgnored, 502, "api_error", "upstream_ignored_output_cap", "api_error"),
    (NoUsableKey, 503, "api_error", "no_usable_upstream_key", "overloaded_error"),
    (TokenizerUnavailable, 503, "api_error", "tokenizer_unavailable", "overloaded_error"),
    (UpstreamTimeout, 504, "api_error", "upstream_timeout", "timeout_error"),
]
MESSAGE = 'say "hi" — ü'  # quotes and non-ASCII: encoded as compact UTF-8 JSON, unescaped


def compact(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


@pytest.mark.parametrize(("cls", "status", "openai_type", "code", "anthropic_type"), GATEWAY_ERRORS)
@pytest.mark.parametrize("stream", [False, True])
def test_gateway_errors_in_each_dialect(
    cls: type[GatewayError],
    status: int,
    openai_type: str,
    code: str | None,
    anthropic_type: str,
    stream: bool,
) -> None:
    exc = cls(MESSAGE)
    assert exc.status == status
    openai = compact({"error": {"message": MESSAGE, "type": openai_type, "param": None, "code": code}})
    anthropic = compact({"type": "error", "error": {"type": anthropic_type, "message": MESSAGE}})
    if stream:
        assert render(exc, "openai", stream=True) == b"data: " + openai + b"\n\n"
        assert render(exc, "anthropic", stream=True) == b"event: error\ndata: " + anthropic + b"\n\n"
    else:
        assert render(exc, "openai") == openai
        assert render(exc, "anthropic") == anthropic
    ErrorObject.model_validate(json.loads(openai)["error"])
    if anthropic_type != "request_too_large":  # the Anthropic SDK's union lacks it (see test_error_dialects)
        ErrorResponse.model_validate_json(anthropic)


def test_every_gateway_error_is_in_the_table() -> None:
    subclasses = {c for c in vars(errors).values() if isinstance(c, type) and issubclass(c, GatewayError)}
    assert subclasses - {GatewayError, UpstreamStatusError} == {row[0] for row in GATEWAY_ERRORS}


def test_the_param_goes_to_openai_clients_only() -> None:
    exc = InvalidRequest("bad field", param="messages[0]")
    assert render(exc, "openai") == (
        b'{"error":{"message":"bad field","type":"invalid_request_error","param":"messages[0]","code":null}}'
    )
    assert (
        render(exc, "anthropic")
        == b'{"type":"error","error":{"type":"invalid_request_error","message":"bad field"}}'
    )
    assert error_body(exc, "openai") == json.loads(render(exc, "openai"))


def test_the_docstring_tree_is_true() -> None:
    """Every exception class of the module is drawn once, under its base class, with its status if any."""
    drawn: dict[str, tuple[str, str]] = {}  # name → (parent, status)
    stack: list[tuple[int, str]] = [(-1, "Exception")]
    for line in (errors.__doc__ or "").splitlines():
        m = re.match(r"([│ ]*)[├└]── (\w+)\s+(\d{3} )?", line)
        if m is None:
            continue
        depth = len(m[1])
        while stack[-1][0] >= depth:
            stack.pop()
        drawn[m[2]] = (stack[-1][1], (m[3] or "").strip())
        stack.append((depth, m[2]))
    classes = {
        name: c
        for name, c in vars(errors).items()
        if isinstance(c, type) and issubclass(c, Exception) and c.__module__ == errors.__name__
    }
    assert set(drawn) == set(classes)
    for name, c in classes.items():
        has_status = issubclass(c, GatewayError) and c not in (GatewayError, UpstreamStatusError)
        assert drawn[name] == (c.__mro__[1].__name__, str(c.status) if has_status else ""), name


# An upstream's error answer (before the headers went out): (dialect, status, body) → what each client gets.
UPSTREAM_ANSWERS: list[tuple[UpstreamDialect, int, dict[str, Any], dict[str, Any], dict[str, Any]]] = [
    (
        "openai",
        429,
        {"error": {"message": "Out of quota", "type": "insufficient_quota", "code": "insufficient_quota"}},
        {"type": "insufficient_quota", "code": "insufficient_quota", "param": None},
        {"type": "rate_limit_error"},
    ),
    (
        "anthropic",
        529,
        {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}, "request_id": "r"},
        # OpenAI clients get an upstream's type whatever its dialect, as the gateway always did.
        {"type": "overloaded_error", "code": None, "param": None},
        {"type": "overloaded_error"},
    ),
    (
        "gemini",
        404,
        {"error": {"code": 404, "message": "models/x is not found", "status": "NOT_FOUND"}},
        {"type": "NOT_FOUND", "code": "NOT_FOUND", "param": None},
        {"type": "not_found_error"},
    ),
    (
        "openai",
        400,
        {"error": {"message": "bad", "type": "invalid_request_error", "param": "messages[0]", "code": None}},
        {"type": "invalid_request_error", "code": None, "param": "messages[0]"},
        {"type": "invalid_request_error"},
    ),
]


@pytest.mark.parametrize(("dialect", "status", "body", "openai", "anthropic"), UPSTREAM_ANSWERS)
@pytest.mark.parametrize("stream", [False, True])
def test_upstream_answers_in_each_dialect(
    dialect: UpstreamDialect,
    status: int,
    body: dict[str, Any],
    openai: dict[str, Any],
    anthropic: dict[str, Any],
    stream: bool,
) -> None:
    parsed = parse_upstream_error(dialect, status, json.dumps(body).encode())
    exc = UpstreamStatusError(parsed)
    assert (exc.status, exc.message, exc.type, exc.code, exc.param) == (
        status,
        parsed.message,
        parsed.type,
        parsed.code,
        parsed.param,
    )
    want_openai = compact(
        {
            "error": {
                "message": parsed.message,
                "type": openai["type"],
                "param": openai["param"],
                "code": openai["code"],
            }
        }
    )
    want_anthropic = compact(
        {"type": "error", "error": {"type": anthropic["type"], "message": parsed.message}}
    )
    if stream:
        assert render(exc, "openai", stream=True) == b"data: " + want_openai + b"\n\n"
        assert render(exc, "anthropic", stream=True) == b"event: error\ndata: " + want_anthropic + b"\n\n"
    else:
        assert render(exc, "openai") == want_openai
        assert render(exc, "anthropic") == want_anthropic


# An error event inside an upstream's 200 stream: (dialect, event) → (OpenAI type, code; Anthropic type).
UPSTREAM_STREAM_ERRORS: list[tuple[UpstreamDialect, dict[str, Any], tuple[str, str | None], str]] = [
    (
        "openai",
        {"error": {"message": "busy", "type": "server_error", "code": 502}},
        ("server_error", "502"),
        "api_error",
    ),
    (
        "anthropic",
        {"type": "error", "error": {"type": "overloaded_error", "message": "busy"}},
        ("api_error", None),
        "overloaded_error",
    ),
    (
        "gemini",
        {"error": {"code": 429, "message": "busy", "status": "RESOURCE_EXHAUSTED"}},
        ("rate_limit_error", "RESOURCE_EXHAUSTED"),
        "rate_limit_error",
    ),
]


@pytest.mark.parametrize(("dialect", "event", "openai", "anthropic_type"), UPSTREAM_STREAM_ERRORS)
def test_upstream_stream_errors_keep_their_type_for_their_own_dialect_only(
    dialect: UpstreamDialect, event: dict[str, Any], openai: tuple[str, str | None], anthropic_type: str
) -> None:
    parsed = parse_upstream_error(dialect, 200, json.dumps(event).encode())
    openai_type, code = openai
    assert error_body(parsed, "openai") == {
        "error": {"message": "busy", "type": openai_type, "param": None, "code": code}
    }
    assert error_body(parsed, "anthropic") == {
        "type": "error",
        "error": {"type": anthropic_type, "message": "busy"},
    }
    assert (
        render(parsed, "openai", stream=True) == b"data: " + compact(error_body(parsed, "openai")) + b"\n\n"
    )
    assert render(parsed, "anthropic", stream=True) == (
        b"event: error\ndata: " + compact(error_body(parsed, "anthropic")) + b"\n\n"
    )


class _Upstream:
    """What `upstream_error` reads of an upstream: its name, dialect and the error body."""

    def __init__(self, dialect: UpstreamDialect, raw: bytes) -> None:
        self.name = "prov"
        self.adapter = SimpleNamespace(dialect=dialect)
        self.config = SimpleNamespace(chunk_timeout=1.0)
        self._raw = raw

    async def read(self, resp: httpx.Response, limit: int, seconds: float, truncate: bool = False) -> bytes:
        return self._raw


KEY = "sk-our-upstream-key-0123456789"


@pytest.mark.parametrize("client", ["openai", "anthropic"])
def test_an_upstream_answer_is_carried_scrubbed_of_our_key(client: ClientDialect) -> None:
    body = {
        "error": {
            "message": f"Incorrect API key provided: {KEY}, or sk-ab**********wxyz",
            "code": "invalid_api_key",
        }
    }
    up = _Upstream("openai", json.dumps(body).encode())
    exc = asyncio.run(upstream_error(up, httpx.Response(401), KEY))  # type: ignore[arg-type]
    message = "Upstream provider 'prov' answered 401: Incorrect API key provided: [redacted], or [redacted]"
    assert exc.message == exc.upstream.message == message
    assert exc.upstream.auth_failure and exc.status == 401
    assert KEY.encode() not in render(exc, client) and b"wxyz" not in render(exc, client)


def test_an_upstream_answer_without_a_message_ends_at_the_status() -> None:
    exc = asyncio.run(upstream_error(_Upstream("gemini", b""), httpx.Response(503), KEY))  # type: ignore[arg-type]
    assert (
        exc.message == "Upstream provider 'prov' answered 503: upstream answered HTTP 503 without a message"
    )


def test_every_exception_class_of_the_package_has_the_one_root() -> None:
    """`except LlmgwError` catches whatever llmgw (or its terminal admin) raises on purpose."""
    import llmgw_tui

    import llmgw

    strays = []
    for package in (llmgw, llmgw_tui):
        for info in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
            if info.name.endswith("__main__"):
                continue
            module = importlib.import_module(info.name)
            for value in vars(module).values():
                if (
                    isinstance(value, type)
                    and issubclass(value, BaseException)
                    and value.__module__ == info.name
                    and not issubclass(value, errors.LlmgwError)
                ):
                    strays.append(f"{info.name}.{value.__name__}")
    assert strays == []
