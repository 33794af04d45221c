"""Gemini's wire format as a client reads it (llmgw/wire/gemini.py): Google's error body with the
google.rpc status name by HTTP status (an upstream Gemini's own name kept), and the stream's SSE event.
Checked against google-genai, which raises its `APIError` from exactly these fields."""

from __future__ import annotations

import httpx
import orjson
import pytest
from google.genai import errors as genai_errors

from llmgw.errors import InvalidRequest, ModelNotFound, RateLimited, UpstreamStatusError, UpstreamUnavailable
from llmgw.wire import error_event, render
from llmgw.wire.gemini import GRPC_HTTP_STATUS, GRPC_NAMES, client_error_body, encode_event, grpc_name
from llmgw.wire.upstream_errors import parse_upstream_error
from tests.support.fakes.fixtures import fixtures_dir


@pytest.mark.parametrize(
    ("status", "name"),
    [(400, "INVALID_ARGUMENT"), (401, "UNAUTHENTICATED"), (403, "PERMISSION_DENIED"), (404, "NOT_FOUND"),
     (413, "FAILED_PRECONDITION"), (429, "RESOURCE_EXHAUSTED"), (500, "INTERNAL"), (503, "UNAVAILABLE"),
     (504, "DEADLINE_EXCEEDED"), (418, "FAILED_PRECONDITION"), (502, "INTERNAL")],
)  # fmt: skip
def test_the_status_name_by_http_status(status: int, name: str) -> None:
    assert grpc_name(status) == name


def test_every_name_written_is_a_google_rpc_code_of_the_same_status_class() -> None:
    for status, name in GRPC_NAMES.items():
        assert name in GRPC_HTTP_STATUS
        assert GRPC_HTTP_STATUS[name] // 100 == status // 100


@pytest.mark.parametrize(
    ("err", "status", "name"),
    [
        (InvalidRequest("`contents` is required.", param="contents"), 400, "INVALID_ARGUMENT"),
        (ModelNotFound("no such model"), 404, "NOT_FOUND"),
        (RateLimited("slow down"), 429, "RESOURCE_EXHAUSTED"),
        (UpstreamUnavailable("gone"), 502, "INTERNAL"),
    ],
)
def test_the_gateways_errors_in_googles_shape_raise_in_the_sdk(
    err: InvalidRequest, status: int, name: str
) -> None:
    body = client_error_body(err)
    assert body == {"error": {"code": err.status, "message": err.message, "status": name}}
    assert err.status == status
    response = httpx.Response(status, json=body)
    with pytest.raises(genai_errors.APIError) as raised:
        genai_errors.APIError.raise_for_response(response)  # type: ignore[no-untyped-call]
    assert (raised.value.code, raised.value.status, raised.value.message) == (status, name, err.message)


def test_an_upstream_geminis_own_status_name_is_kept_others_are_mapped() -> None:
    raw = (fixtures_dir() / "gemini" / "generate.error_400.json").read_bytes()
    gemini = UpstreamStatusError(parse_upstream_error("gemini", 400, raw))
    own = orjson.loads(raw)["error"]["status"]
    assert client_error_body(gemini)["error"]["status"] == own
    openai = UpstreamStatusError(
        parse_upstream_error(
            "openai", 404, b'{"error": {"message": "nope", "type": "invalid_request_error"}}'
        )
    )
    assert client_error_body(openai)["error"] == {
        "code": 404,
        "message": openai.message,
        "status": "NOT_FOUND",
    }


def test_the_stream_event_and_error_event() -> None:
    assert encode_event({"candidates": []}) == b'data: {"candidates":[]}\r\n\r\n'
    err = UpstreamUnavailable("cut")
    assert error_event(err, "gemini") == client_error_body(err)
    assert (
        render(err, "gemini", stream=True) == b"data: " + orjson.dumps(client_error_body(err)) + b"\r\n\r\n"
    )
    assert orjson.loads(render(err, "gemini")) == client_error_body(err)
