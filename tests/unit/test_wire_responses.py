"""The Responses API's wire (llmgw/wire/responses.py): its error bodies, its events, and the ending of a
stream that fails after its headers went out, read back by the real openai SDK and checked against the
shapes Codex CLI reads (codex-rs `codex-api/src/sse/responses.rs`: `response.failed`'s
`response.error.code` and `.message`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx2
import openai
import orjson
import pytest
from openai.types.responses import ResponseErrorEvent, ResponseFailedEvent

from llmgw.errors import (
    InternalError,
    InvalidRequest,
    OutputCapIgnored,
    RateLimited,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from llmgw.relay.answers import CUT_SHORT
from llmgw.wire import error_body, render
from llmgw.wire.responses import encode_event, error_event, failure_events, stream_error_code
from tests.support.fakes.fixtures import fixtures_dir, load_sse_events
from tests.support.responses_schema import validate_error_body, validate_event

# `response.created` of a recorded stream (tests/fixtures/providers/openai/responses.stream_text.sse).
CREATED: dict[str, Any] = orjson.loads(load_sse_events("openai", "responses.stream_text")[0].data)["response"]


def test_error_bodies_are_openais_shape() -> None:
    body = error_body(InvalidRequest("`input` is required.", param="input"), "responses")
    assert body == {
        "error": {
            "message": "`input` is required.",
            "type": "invalid_request_error",
            "param": "input",
            "code": None,
        }
    }
    assert openai.types.ErrorObject.model_validate(body["error"]).param == "input"
    validate_error_body(body)  # openapi.yaml's ErrorResponse
    upstream = UpstreamError("anthropic", 529, "Overloaded", "overloaded_error")
    assert error_body(upstream, "responses")["error"]["type"] == "api_error"  # typed by status, as OpenAI's


def test_events_are_named_as_openai_names_them() -> None:
    event = {"type": "response.output_text.delta", "sequence_number": 4, "delta": "Par"}
    assert encode_event(event) == (
        b'event: response.output_text.delta\ndata: {"type":"response.output_text.delta",'
        b'"sequence_number":4,"delta":"Par"}\n\n'
    )


@pytest.mark.parametrize(
    ("err", "code", "event_code"),
    [
        (UpstreamUnavailable(CUT_SHORT), "server_error", "upstream_unavailable"),
        (UpstreamTimeout("Provider 'p' did not answer in time."), "server_error", "upstream_timeout"),
        (OutputCapIgnored("passed its cap"), "server_error", "upstream_ignored_output_cap"),
        (InternalError("bug"), "server_error", "internal_error"),
        (RateLimited("slow down"), "rate_limit_exceeded", "rate_limit_exceeded"),
        (UpstreamError("openai", 400, "bad picture", "invalid_request_error", code="invalid_image"),
         "invalid_image", "invalid_image"),
    ],
)  # fmt: skip
def test_a_failure_ends_the_stream_as_its_own_response(err: Any, code: str, event_code: str) -> None:
    failed, error = failure_events(err, CREATED, 7)
    validate_event(failed)  # openapi.yaml's ResponseFailedEvent, ResponseErrorEvent
    validate_event(error)
    parsed = ResponseFailedEvent.model_validate(failed)
    assert parsed.sequence_number == 7 and parsed.response.id == CREATED["id"]
    assert parsed.response.status == "failed"
    assert parsed.response.error is not None
    assert (parsed.response.error.code, parsed.response.error.message) == (code, err.message)
    assert parsed.response.model == CREATED["model"] and parsed.response.output == []
    documented = ResponseErrorEvent.model_validate(error)
    assert (documented.sequence_number, documented.code, documented.message) == (8, event_code, err.message)
    assert error["error"] == error_body(err, "responses")["error"]  # what the openai SDK raises with
    assert CREATED["status"] == "in_progress"  # the stream's own Response is not changed


def test_the_bare_error_event_is_the_wire_tables() -> None:
    err = UpstreamUnavailable(CUT_SHORT)
    assert error_event(err) == {
        "type": "error",
        "code": "upstream_unavailable",
        "message": CUT_SHORT,
        "param": None,
        "sequence_number": 0,
        "error": {"message": CUT_SHORT, "type": "api_error", "param": None, "code": "upstream_unavailable"},
    }
    assert render(err, "responses", stream=True) == encode_event(error_event(err))


@pytest.mark.parametrize(
    ("event", "code"),
    [
        ({"type": "response.failed", "response": {"error": {"code": "server_error", "message": "x"}}},
         "server_error"),
        ({"type": "response.failed", "response": {"error": None}}, "response_failed"),
        ({"type": "error", "code": "ERR_SOMETHING", "message": "x", "param": None}, "ERR_SOMETHING"),
        ({"type": "error", "code": None, "error": {"type": "server_error", "code": None}}, "server_error"),
        ({"type": "error", "message": "x"}, "upstream_error"),
        ({"type": "response.completed", "response": {}}, None),
        ({"type": "response.output_text.delta", "delta": "error"}, None),
    ],
)  # fmt: skip
def test_error_events_read_back_for_the_ledger(event: dict[str, Any], code: str | None) -> None:
    assert stream_error_code(event) == code


# -- the openai SDK reads the ending ---------------------------------------------------------------


def recorded_cut_after(events: int) -> bytes:
    """The recorded stream's first `events` events: the upstream went away there."""
    raw = (fixtures_dir() / "openai" / "responses.stream_text.sse").read_bytes()
    return b"".join(part + b"\n\n" for part in raw.split(b"\n\n")[:events])


def sdk_answering(body: bytes) -> openai.OpenAI:
    """The openai SDK, its requests answered with `body` as an event stream."""

    def answer(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=body)

    client = httpx2.Client(transport=httpx2.MockTransport(answer))
    return openai.OpenAI(api_key="k", base_url="http://llmgw.test/v1", http_client=client, max_retries=0)


def failed_stream() -> tuple[bytes, UpstreamUnavailable]:
    err = UpstreamUnavailable(CUT_SHORT)
    tail = b"".join(encode_event(e) for e in failure_events(err, CREATED, 5))
    return recorded_cut_after(5) + tail, err


def test_the_sdk_raises_on_the_ending_after_handing_on_the_failed_response() -> None:
    body, err = failed_stream()
    seen: list[Any] = []
    stream: Iterator[Any] = sdk_answering(body).responses.create(model="gpt-4o", input="hi", stream=True)
    with pytest.raises(openai.APIError) as caught:
        seen.extend(stream)
    assert caught.value.message == err.message
    assert caught.value.code == "upstream_unavailable" and caught.value.type == "api_error"
    assert [e.type for e in seen][-2:] == ["response.output_text.delta", "response.failed"]
    assert seen[-1].response.error.code == "server_error"


def test_the_sdks_stream_helper_takes_the_failed_response_as_the_streams_own() -> None:
    body, _ = failed_stream()
    seen: list[str] = []
    with (
        sdk_answering(body).responses.stream(model="gpt-4o", input="hi") as stream,
        pytest.raises(openai.APIError),
    ):
        seen.extend(event.type for event in stream)
    assert seen[0] == "response.created" and seen[-1] == "response.failed"
