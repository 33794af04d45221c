"""OpenAI's Responses API (`POST /v1/responses`) as the gateway writes it to a client: the error body,
the stream's event, and the events that end a stream on an error. Pure.

- Error bodies are OpenAI's `{"error": {message, type, param, code}}`: the Responses API answers its
  4xx and 5xx in the same shape as chat completions, so `wire.openai.client_error_body` writes them.
- Stream events are named, as OpenAI sends them: `event: <type>` and one `data:` line.
- A stream that fails after its headers went out ends with two events, numbered on from the stream's
  last `sequence_number` (`failure_events`):
  1. `response.failed`: the stream's own Response (as its `response.created` event gave it: same id,
     so the openai SDK's `responses.stream()` helper, which refuses a lifecycle event of another
     response, takes it) with `status: "failed"` and `error: {code, message}`. Codex CLI fails the turn
     on it (codex-rs `codex-api/src/sse/responses.rs`: the error's code decides whether the turn is
     retried; a stream that ends without `response.completed` fails too).
  2. `error`: the documented `ResponseErrorEvent` (`code`, `message`, `param`, `sequence_number`) plus
     the error body's `error` object. The openai SDK (openai-python `_streaming.py`) raises `APIError`
     only on an event whose data holds an `error` object, and hands every other event on as data
     (openai/openai-python#2487), so with it `client.responses.create(stream=True)` raises wherever it
     is iterated (LangChain, the Agents SDK), as a chat-completions stream's error does.
- `response.error.code` is a documented `ResponseErrorCode`: the error's own code when it is one, else
  `rate_limit_exceeded` for a 429 and `server_error` otherwise; the `error` event's `code` is the
  error's own (`upstream_unavailable`, ...), as in the error bodies.
- A translated upstream's in-stream error ends its stream the same way, written by the translator
  (`translate/streams/anthropic_to_responses.py`); an OpenAI upstream's own events pass as they are.
- `stream_error_code` reads an upstream's or a translator's error events back, for the ledger.
"""

from __future__ import annotations

from typing import Any, Final

import orjson

from llmgw.errors import GatewayError, UpstreamError
from llmgw.wire.openai import client_error_body

__all__ = [
    "client_error_body",
    "encode_event",
    "error_event",
    "failed_response",
    "failure_events",
    "stream_error_code",
]

Event = dict[str, Any]

# openapi.yaml `ResponseErrorCode` (openai/openai-openapi f85dbe2).
RESPONSE_ERROR_CODES: Final = frozenset(
    {"server_error", "rate_limit_exceeded", "invalid_prompt", "data_residency_mismatch", "bio_policy",
     "vector_store_timeout", "invalid_image", "invalid_image_format", "invalid_base64_image",
     "invalid_image_url", "image_too_large", "image_too_small", "image_parse_error",
     "image_content_policy_violation", "invalid_image_mode", "image_file_too_large",
     "unsupported_image_media_type", "empty_image_file", "failed_to_download_image", "image_file_not_found"}
)  # fmt: skip
TERMINAL: Final = frozenset({"response.completed", "response.incomplete", "response.failed"})


def encode_event(event: Event) -> bytes:
    """A Responses stream event: `event: <type>` and one compact `data:` line."""
    return b"event: " + str(event["type"]).encode() + b"\ndata: " + orjson.dumps(event) + b"\n\n"


def error_event(err: GatewayError | UpstreamError, sequence_number: int = 0) -> Event:
    """The `error` event for `err`: the documented fields and the error body's `error` object (see the
    module docstring); a stream's relay gives its next `sequence_number`."""
    body: dict[str, Any] = client_error_body(err)["error"]
    return {
        "type": "error",
        "code": body["code"],
        "message": body["message"],
        "param": body["param"],
        "sequence_number": sequence_number,
        "error": body,
    }


def failed_response(err: GatewayError | UpstreamError, response: dict[str, Any]) -> dict[str, Any]:
    """`response` (the stream's Response so far) failed with `err`."""
    code = err.code if err.code in RESPONSE_ERROR_CODES else None
    code = code or ("rate_limit_exceeded" if err.status == 429 else "server_error")
    return {**response, "status": "failed", "error": {"code": code, "message": err.message}}


def failure_events(
    err: GatewayError | UpstreamError, response: dict[str, Any], sequence_number: int
) -> list[Event]:
    """The events a stream ends with on `err`: `response.failed`, then `error`, numbered from
    `sequence_number` (the stream's next)."""
    failed = {
        "type": "response.failed",
        "sequence_number": sequence_number,
        "response": failed_response(err, response),
    }
    return [failed, error_event(err, sequence_number + 1)]


def stream_error_code(event: Event) -> str | None:
    """The code (or type) of an error a Responses stream event reports, for the ledger: a
    `response.failed` event's `response.error`, an `error` event's; None for any other event."""
    kind = event.get("type")
    if kind == "response.failed":
        response = event.get("response")
        error = response.get("error") if isinstance(response, dict) else None
        code = error.get("code") if isinstance(error, dict) else None
        return str(code or "response_failed")
    if kind == "error":
        nested = event.get("error")
        code = event.get("code") or (
            nested.get("code") or nested.get("type") if isinstance(nested, dict) else None
        )
        return str(code or "upstream_error")
    return None
