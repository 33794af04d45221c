"""Anthropic's wire format as the gateway writes it to a client: the error body, the error type by
status, the server-sent event. Pure.

- Error types by status follow Anthropic's error page: 400 invalid_request_error,
  401 authentication_error, 402 billing_error, 403 permission_error, 404 not_found_error,
  409 conflict_error, 413 request_too_large, 429 rate_limit_error, 500 api_error, 504 timeout_error,
  529 overloaded_error; any other 4xx is invalid_request_error ("may also be used for other 4XX"),
  503 is overloaded_error (temporarily out of capacity, retry later: what Anthropic clients expect
  of it), any other 5xx api_error.
- The gateway's own errors are typed by status. An upstream's error, answered (`UpstreamStatusError`)
  or in its stream (`UpstreamError`), keeps its type only if the upstream spoke Anthropic.
"""

from __future__ import annotations

from typing import Any, Final

import orjson

from llmgw.errors import GatewayError, UpstreamError, UpstreamStatusError

__all__ = ["ERROR_TYPES", "client_error_body", "encode_event", "error_body", "error_type"]

ERROR_TYPES: Final = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    409: "conflict_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    503: "overloaded_error",
    504: "timeout_error",
    529: "overloaded_error",
}


def error_type(status: int) -> str:
    """Anthropic's `error.type` for an HTTP status."""
    if status in ERROR_TYPES:
        return ERROR_TYPES[status]
    return "api_error" if status >= 500 else "invalid_request_error"


def error_body(
    status: int, message: str, type_: str | None = None, *, request_id: str | None = None
) -> dict[str, Any]:
    """`{"type": "error", "error": {"type", "message"}}`, plus `request_id` when given (as Anthropic)."""
    body: dict[str, Any] = {
        "type": "error",
        "error": {"type": type_ or error_type(status), "message": message},
    }
    if request_id is not None:
        body["request_id"] = request_id
    return body


def client_error_body(err: GatewayError | UpstreamError) -> dict[str, Any]:
    """What an Anthropic client gets for `err`, as a response body or as the stream's `error` event."""
    upstream = err.upstream if isinstance(err, UpstreamStatusError) else err
    if isinstance(upstream, UpstreamError):
        type_ = upstream.type if upstream.dialect == "anthropic" else None
        return error_body(upstream.status, upstream.message, type_)
    return error_body(err.status, err.message)


def encode_event(event: dict[str, Any]) -> bytes:
    """An Anthropic stream event: `event: <type>` and one compact `data:` line."""
    return b"event: " + str(event["type"]).encode() + b"\ndata: " + orjson.dumps(event) + b"\n\n"
