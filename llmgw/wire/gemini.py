"""Google's Gemini API as the gateway reads it from an upstream and writes it to a client: the HTTP
status of each google.rpc.Code an error body names, the code name of each HTTP status, the error body,
and the stream's two framings. Pure.

- Error bodies are Google's `{"error": {"code": <HTTP status>, "message", "status": <google.rpc.Code
  name>}}`. The name is the upstream's own when a Gemini upstream gave one, else `GRPC_NAMES` by status
  (a 4xx without a row is FAILED_PRECONDITION, a 5xx INTERNAL), as Google's APIs answer.
- Streams: `streamGenerateContent?alt=sse` sends server-sent events, each a `data: {...}` line holding
  one `GenerateContentResponse`; without `alt=sse` Gemini streams one JSON array, `[{...}` then
  `,\r\n{...}` per chunk and `]` at the end (`ARRAY_OPEN`, `ARRAY_NEXT`, `ARRAY_CLOSE`). An error after
  the headers is one more element (or event) holding the error body: google-genai raises on a chunk
  with an `error` object in either framing.
"""

from __future__ import annotations

from typing import Any, Final

import orjson

from llmgw.errors import GatewayError, UpstreamError, UpstreamStatusError

__all__ = [
    "ARRAY_CLOSE",
    "ARRAY_NEXT",
    "ARRAY_OPEN",
    "GRPC_HTTP_STATUS",
    "GRPC_NAMES",
    "client_error_body",
    "encode_event",
    "error_body",
    "grpc_name",
]

# google.rpc.Code names → the HTTP status Google APIs answer them with.
GRPC_HTTP_STATUS: Final = {
    "INVALID_ARGUMENT": 400,
    "FAILED_PRECONDITION": 400,
    "OUT_OF_RANGE": 400,
    "UNAUTHENTICATED": 401,
    "PERMISSION_DENIED": 403,
    "NOT_FOUND": 404,
    "ALREADY_EXISTS": 409,
    "ABORTED": 409,
    "RESOURCE_EXHAUSTED": 429,
    "CANCELLED": 499,
    "UNKNOWN": 500,
    "INTERNAL": 500,
    "DATA_LOSS": 500,
    "UNIMPLEMENTED": 501,
    "UNAVAILABLE": 503,
    "DEADLINE_EXCEEDED": 504,
}

# HTTP status → the google.rpc.Code name Google's APIs answer it with.
GRPC_NAMES: Final = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "UNIMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}

ARRAY_OPEN: Final = b"["
ARRAY_NEXT: Final = b",\r\n"
ARRAY_CLOSE: Final = b"]"


def grpc_name(status: int) -> str:
    """The google.rpc.Code name for an HTTP status."""
    return GRPC_NAMES.get(status) or ("INTERNAL" if status >= 500 else "FAILED_PRECONDITION")


def error_body(status: int, message: str, name: str | None = None) -> dict[str, Any]:
    """Google's error body: `{"error": {"code", "message", "status"}}`."""
    return {"error": {"code": status, "message": message, "status": name or grpc_name(status)}}


def client_error_body(err: GatewayError | UpstreamError) -> dict[str, Any]:
    """What a Gemini client gets for `err`, as a response body or as the stream's last chunk."""
    upstream = err.upstream if isinstance(err, UpstreamStatusError) else err
    if isinstance(upstream, UpstreamError):
        own = upstream.type if upstream.dialect == "gemini" and upstream.type in GRPC_HTTP_STATUS else None
        return error_body(upstream.status, upstream.message, own)
    return error_body(err.status, err.message)


def encode_event(event: dict[str, Any]) -> bytes:
    """One `alt=sse` event: a compact `data:` line."""
    return b"data: " + orjson.dumps(event) + b"\r\n\r\n"
