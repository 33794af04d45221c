"""Error bodies in each dialect: every recorded upstream error parsed, bodies rendered per the docs."""

from __future__ import annotations

import json
from typing import Any, get_args

import pytest
from anthropic.types import ErrorResponse
from openai.types import ErrorObject

from llmgw.dialects import ClientDialect, UpstreamDialect
from llmgw.errors import InvalidRequest, UpstreamError
from llmgw.wire import CLIENT_WIRES, error_body
from llmgw.wire.anthropic import error_body as anthropic_error_body
from llmgw.wire.anthropic import error_type as anthropic_error_type
from llmgw.wire.openai import error_body as openai_error_body
from llmgw.wire.openai import error_type as openai_error_type
from llmgw.wire.upstream_errors import MESSAGE_LIMIT, parse_upstream_error
from tests.support.fakes.fixtures import case_status, fixtures_dir, load_manifest

# Anthropic's error page (platform.claude.com/docs/en/api/errors), status by status.
ANTHROPIC_TYPES = [
    (400, "invalid_request_error"),
    (401, "authentication_error"),
    (402, "billing_error"),
    (403, "permission_error"),
    (404, "not_found_error"),
    (409, "conflict_error"),
    (413, "request_too_large"),
    (422, "invalid_request_error"),  # "may also be used for other 4XX status codes"
    (429, "rate_limit_error"),
    (500, "api_error"),
    (502, "api_error"),
    (503, "overloaded_error"),
    (504, "timeout_error"),
    (529, "overloaded_error"),
]


@pytest.mark.parametrize(("status", "expected"), ANTHROPIC_TYPES)
def test_anthropic_error_type_follows_the_documented_table(status: int, expected: str) -> None:
    assert anthropic_error_type(status) == expected


@pytest.mark.parametrize(
    ("status", "expected"),
    [(400, "invalid_request_error"), (401, "invalid_request_error"), (404, "invalid_request_error"),
     (413, "invalid_request_error"), (429, "rate_limit_error"), (500, "api_error"), (503, "api_error"),
     (529, "api_error")],
)  # fmt: skip
def test_openai_error_type_matches_the_gateways_own_errors(status: int, expected: str) -> None:
    assert openai_error_type(status) == expected


# Types the Anthropic SDK's ErrorResponse union knows (it lacks conflict_error and request_too_large).
@pytest.mark.parametrize("status", [400, 401, 402, 403, 404, 429, 500, 504, 529])
def test_anthropic_error_body_parses_with_the_sdk(status: int) -> None:
    body = anthropic_error_body(status, "something went wrong", request_id="req_1")
    parsed = ErrorResponse.model_validate(body)
    assert parsed.error.type == anthropic_error_type(status)
    assert parsed.error.message == "something went wrong"
    assert parsed.request_id == "req_1"


def test_anthropic_error_body_is_the_documented_shape() -> None:
    assert anthropic_error_body(400, "bad") == {
        "type": "error",
        "error": {"type": "invalid_request_error", "message": "bad"},
    }
    assert anthropic_error_body(500, "x", "overloaded_error")["error"]["type"] == "overloaded_error"


def test_openai_error_body_is_what_render_writes() -> None:
    ours = openai_error_body(400, "bad field", param="messages[0]")
    assert ours == error_body(InvalidRequest("bad field", param="messages[0]"), "openai")
    assert ErrorObject.model_validate(ours["error"]).type == "invalid_request_error"
    assert openai_error_body(529, "busy", code="c")["error"] == {
        "message": "busy",
        "type": "api_error",
        "param": None,
        "code": "c",
    }


def test_every_client_dialect_has_its_row_in_the_wire_table() -> None:
    assert set(CLIENT_WIRES) == set(get_args(ClientDialect))


def raw(provider: str, case: str) -> bytes:
    filename = str(load_manifest(provider)["cases"][case]["file"])
    return (fixtures_dir() / provider / filename).read_bytes()


# Every recorded error, read by hand from the fixture files:
# (status, type, code, param, auth_failure, retry_after, request_id, message start)
RECORDED: dict[tuple[str, str], tuple[Any, ...]] = {
    ("openai", "chat.error_400"): (
        400, "invalid_request_error", "unsupported_value", "messages[0].role", False, None, None,
        "Unsupported value: 'messages[0].role' does not support 'system'",
    ),
    ("openai", "chat.error_401"): (
        401, "invalid_request_error", "invalid_api_key", None, True, None, None, "Incorrect API key provided",
    ),
    ("openai", "chat.error_404"): (
        404, "invalid_request_error", "model_not_found", None, False, None, None, "The model `gpt-5.2-proo`",
    ),
    ("openai", "chat.error_429"): (
        429, "insufficient_quota", "insufficient_quota", None, False, None, None, "You exceeded your",
    ),
    ("openai", "chat.error_429_openrouter"): (
        429, "rate_limit_error", "429", None, False, None, None,
        "Provider returned error: google/gemini-2.0-flash-exp:free is temporarily rate-limited upstream",
    ),
    ("openai", "embeddings.error_404"): (
        404, "invalid_request_error", "model_not_found", None, False, None, None, "The model `nonexistent`",
    ),
    ("anthropic", "messages.error_400"): (
        400, "invalid_request_error", None, None, False, None, "req_011Ca7jT9AHpgXgdv8igm4z9",
        "This model does not support effort level 'xhigh'",
    ),
    ("anthropic", "messages.error_401"): (
        401, "authentication_error", None, None, True, None, "req_011CbzWffHkusv4tyrwMzpgE", "invalid x-api",
    ),
    ("anthropic", "messages.error_404"): (
        404, "not_found_error", None, None, False, None, "req_011CdufXo8Y2LVfY2veyuQWG", "model: claude",
    ),
    ("anthropic", "messages.error_429"): (
        429, "rate_limit_error", None, None, False, None, "req_011CXQugkT1ZmWRCq9gdSrAa",
        "This request would exceed the rate limit",
    ),
    ("anthropic", "count_tokens.error_404"): (
        404, "not_found_error", None, None, False, None, "req_011CVEA3SF7rnb3DuBZytqQa", "model: claude-does",
    ),
    ("gemini", "generate.error_400"): (
        400, "INVALID_ARGUMENT", "INVALID_ARGUMENT", None, False, None, None, "Cannot fetch content",
    ),
    ("gemini", "generate.error_401"): (
        400, "INVALID_ARGUMENT", "API_KEY_INVALID", None, True, None, None, "API key not valid.",
    ),
    ("gemini", "generate.error_404"): (
        404, "NOT_FOUND", "NOT_FOUND", None, False, None, None, "models/gemini-3.6-flahs is not found",
    ),
    ("gemini", "generate.error_429"): (
        429, "RESOURCE_EXHAUSTED", "RESOURCE_EXHAUSTED", None, False, 58.0, None, "You exceeded your",
    ),
    ("gemini", "count_tokens.error_404"): (
        404, "NOT_FOUND", "NOT_FOUND", None, False, None, None, "models/nonexistent-model is not found",
    ),
    ("gemini", "embed.error_404"): (
        404, "NOT_FOUND", "NOT_FOUND", None, False, None, None, "models/nonexistent-model is not found",
    ),
}  # fmt: skip


def test_every_recorded_error_fixture_is_covered() -> None:
    recorded = {
        (provider, case)
        for provider in ("openai", "anthropic", "gemini")
        for case in load_manifest(provider)["cases"]
        if ".error_" in case
    }
    assert recorded == set(RECORDED)


@pytest.mark.parametrize(("provider", "case"), sorted(RECORDED))
def test_recorded_upstream_errors(provider: UpstreamDialect, case: str) -> None:
    status, type_, code, param, auth, retry_after, request_id, start = RECORDED[provider, case]
    err = parse_upstream_error(provider, case_status(provider, case), raw(provider, case))
    assert err.dialect == provider
    assert (err.status, err.type, err.code, err.param) == (status, type_, code, param)
    assert (err.auth_failure, err.retry_after, err.request_id) == (auth, retry_after, request_id)
    assert err.message.startswith(start)


def test_an_anthropic_error_keeps_its_type_for_anthropic_clients_and_maps_for_openai_ones() -> None:
    body = json.dumps(anthropic_error_body(529, "Overloaded", request_id="req_9")).encode()
    err = parse_upstream_error("anthropic", 529, body)
    assert err.request_id == "req_9"
    assert error_body(err, "anthropic") == {
        "type": "error",
        "error": {"type": "overloaded_error", "message": "Overloaded"},
    }
    assert error_body(err, "openai") == {
        "error": {"message": "Overloaded", "type": "api_error", "param": None, "code": None}
    }


def test_an_openai_error_keeps_its_type_for_openai_clients_and_maps_for_anthropic_ones() -> None:
    err = parse_upstream_error("openai", 429, raw("openai", "chat.error_429"))
    assert error_body(err, "openai")["error"]["type"] == "insufficient_quota"
    assert error_body(err, "openai")["error"]["code"] == "insufficient_quota"
    assert error_body(err, "anthropic")["error"]["type"] == "rate_limit_error"
    ErrorResponse.model_validate(error_body(err, "anthropic"))


def test_gemini_bad_key_is_an_auth_failure_in_both_dialects() -> None:
    err = parse_upstream_error("gemini", 400, raw("gemini", "generate.error_401"))
    assert err.auth_failure
    assert error_body(err, "anthropic")["error"] == {
        "type": "invalid_request_error",
        "message": "API key not valid. Please pass a valid API key.",
    }
    assert error_body(err, "openai")["error"]["code"] == "API_KEY_INVALID"


def test_non_json_bodies_give_their_text_cut_short() -> None:
    html = b"<html><body>" + b"x" * 5000 + b"</body></html>"
    err = parse_upstream_error("openai", 502, html)
    assert err.message.startswith("<html><body>xxx")
    assert len(err.message) == MESSAGE_LIMIT + 1 and err.message.endswith("…")
    assert (err.status, err.type, err.code, err.auth_failure) == (502, "api_error", None, False)
    assert parse_upstream_error("anthropic", 503, b"upstream connect error").type == "overloaded_error"
    assert parse_upstream_error("openai", 401, b"Unauthorized").auth_failure
    invalid_utf8 = parse_upstream_error("gemini", 500, b"\xff\xfe broken")
    assert invalid_utf8.message == "\ufffd\ufffd broken"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "upstream answered HTTP 500 without a message"),
        (b"   \n", "upstream answered HTTP 500 without a message"),
        (b'{"error": "model \'x\' not found"}', "model 'x' not found"),  # Ollama
        (b'{"detail": "Not Found"}', "Not Found"),  # FastAPI-based servers
        (b'{"message": "Internal error"}', "Internal error"),
        (b'{"error": {}}', "upstream answered HTTP 500"),
        (b'{"error": {"message": ""}}', "upstream answered HTTP 500"),
        (b'{"unexpected": true}', '{"unexpected": true}'),
        (b"[]", "[]"),
    ],
)
def test_other_shapes(body: bytes, message: str) -> None:
    err = parse_upstream_error("openai", 500, body)
    assert err == UpstreamError("openai", 500, message, "api_error")


def test_gemini_stream_errors_come_wrapped_in_a_list() -> None:
    body = b"[" + raw("gemini", "generate.error_404") + b"]"
    err = parse_upstream_error("gemini", 404, body)
    assert (err.status, err.type, err.message[:11]) == (404, "NOT_FOUND", "models/gemi")


@pytest.mark.parametrize(
    ("dialect", "body", "status"),
    [
        ("gemini", {"error": {"code": 503, "message": "busy", "status": "UNAVAILABLE"}}, 503),
        ("gemini", {"error": {"message": "busy", "status": "UNAVAILABLE"}}, 503),
        ("gemini", {"error": {"message": "?", "status": "SOMETHING_NEW"}}, 500),
        ("openai", {"error": {"message": "x", "type": "server_error", "code": 502}}, 502),
        ("anthropic", {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}, 500),
    ],
)
def test_an_error_inside_a_200_stream_takes_its_status_from_the_body(
    dialect: UpstreamDialect, body: dict[str, Any], status: int
) -> None:
    assert parse_upstream_error(dialect, 200, json.dumps(body).encode()).status == status
    assert parse_upstream_error(dialect, 200, b"not json").status == 500


def test_gemini_retry_delay_without_seconds_is_ignored() -> None:
    info = {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "soon"}
    body = {"error": {"code": 429, "message": "m", "status": "RESOURCE_EXHAUSTED", "details": [info, 7]}}
    err = parse_upstream_error("gemini", 429, json.dumps(body).encode())
    assert err.retry_after is None and err.code == "RESOURCE_EXHAUSTED"


@pytest.mark.parametrize(
    ("dialect", "status", "body", "verdict", "key_wide"),
    [
        ("openai", 401, b"Unauthorized", True, False),
        ("openai", 403, b"Forbidden", False, False),
        ("openai", 403, b'{"error": {"code": 403, "message": "Your input was flagged"}}', False, False),
        ("openai", 400, b'{"error": {"message": "bad key", "code": "invalid_api_key"}}', True, False),
        (
            "anthropic",
            403,
            b'{"type": "error", "error": {"type": "permission_error", "message": "no"}}',
            False,
            False,
        ),
        (
            "anthropic",
            401,
            b'{"type": "error", "error": {"type": "authentication_error", "message": "x"}}',
            True,
            False,
        ),
        (
            "anthropic",
            402,
            b'{"type": "error", "error": {"type": "billing_error", "message": "x"}}',
            False,
            True,
        ),
        (
            "gemini",
            403,
            b'{"error": {"code": 403, "status": "PERMISSION_DENIED", "message": "blocked",'
            b' "details": [{"reason": "API_KEY_SERVICE_BLOCKED"}]}}',
            True,
            False,
        ),
        (
            "gemini",
            403,
            b'{"error": {"code": 403, "status": "PERMISSION_DENIED", "message": "no"}}',
            False,
            False,
        ),
    ],
)
def test_verdicts_about_the_key_and_account_wide_errors(
    dialect: UpstreamDialect, status: int, body: bytes, verdict: bool, key_wide: bool
) -> None:
    """Only a verdict about the key retires it; a 403 about the request or resource does not."""
    err = parse_upstream_error(dialect, status, body)
    assert (err.auth_failure, err.key_wide) == (verdict, key_wide)


def test_insufficient_quota_is_account_wide() -> None:
    err = parse_upstream_error("openai", 429, raw("openai", "chat.error_429"))
    assert err.key_wide and not err.auth_failure
    assert not parse_upstream_error("gemini", 429, raw("gemini", "generate.error_429")).key_wide
    assert not parse_upstream_error("anthropic", 429, raw("anthropic", "messages.error_429")).key_wide
