"""OpenAI's wire format as the gateway writes it to a client: the error body, the error type by
status, the server-sent event. Pure.

- Error types by status follow the gateway's own errors (`llmgw/errors.py`) and OpenAI's bodies:
  429 rate_limit_error, 5xx api_error, any other status invalid_request_error (OpenAI's 401 says so
  too).
- A client gets a `GatewayError`'s `type` as it is: the gateway's own, or an upstream answer's whatever
  the upstream's dialect (`UpstreamStatusError`). An upstream's in-stream error (`UpstreamError`) keeps
  its type only if the upstream spoke OpenAI; others are typed by status. That asymmetry is what
  clients have always seen; it is kept so no byte changes.
"""

from __future__ import annotations

from typing import Any

import orjson

from llmgw.errors import GatewayError, UpstreamError

__all__ = ["client_error_body", "encode_event", "error_body", "error_type"]


def error_type(status: int) -> str:
    """The OpenAI `error.type` for an HTTP status, for errors that come from another dialect."""
    if status == 429:
        return "rate_limit_error"
    return "api_error" if status >= 500 else "invalid_request_error"


def error_body(
    status: int, message: str, *, type_: str | None = None, code: str | None = None, param: str | None = None
) -> dict[str, Any]:
    """`{"error": {"message", "type", "param", "code"}}`; without `type_`, the type for `status`."""
    return {
        "error": {
            "message": message,
            "type": type_ or error_type(status),
            "param": param,
            "code": code,
        }
    }


def client_error_body(err: GatewayError | UpstreamError) -> dict[str, Any]:
    """What an OpenAI client gets for `err`, as a response body or as the stream's error chunk."""
    if isinstance(err, UpstreamError):  # an upstream's in-stream error: its type only from OpenAI
        type_ = err.type if err.dialect == "openai" else None
        return error_body(err.status, err.message, type_=type_, code=err.code, param=err.param)
    return error_body(err.status, err.message, type_=err.type, code=err.code, param=err.param)


def encode_event(chunk: dict[str, Any]) -> bytes:
    """An OpenAI stream chunk (or error object) as one `data:` event."""
    return b"data: " + orjson.dumps(chunk) + b"\n\n"
