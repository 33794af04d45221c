"""Errors in each dialect: reading an upstream's error body, and writing one in the caller's dialect.

Decisions:

- Anthropic error types by status follow Anthropic's error page: 400 invalid_request_error,
  401 authentication_error, 402 billing_error, 403 permission_error, 404 not_found_error,
  409 conflict_error, 413 request_too_large, 429 rate_limit_error, 500 api_error, 504 timeout_error,
  529 overloaded_error; any other 4xx is invalid_request_error ("may also be used for other 4XX"),
  503 is overloaded_error (temporarily out of capacity, retry later: what Anthropic clients expect
  of it), any other 5xx api_error.
- OpenAI error types by status follow `errors.py` (and OpenAI's own bodies): 429 rate_limit_error,
  5xx api_error, any other status invalid_request_error (OpenAI's 401 says so too).
- `parse_upstream_error` reads OpenAI `{"error": {message, type, code, param}}` (also OpenRouter's
  integer `code`, and `{"error": "text"}` bodies of some compatible servers), Anthropic
  `{"type": "error", "error": {type, message}, "request_id"}` and Gemini's google.rpc.Status
  `{"error": {code, message, status, details}}` (also wrapped in a list, as streamed). `type` is the
  upstream's own (OpenAI `type`, Anthropic `error.type`, Gemini `status`), else the dialect's type
  for the status. OpenRouter's `metadata.raw` (what the provider behind it said) is appended to its
  message, and Anthropic's `request_id` kept. A body that is not one of these gives its text, cut
  to `MESSAGE_LIMIT` characters.
- `auth_failure`: a verdict about the key itself, which retires it (`relay.keypool`): status 401,
  Gemini's `API_KEY_*` reasons (`API_KEY_INVALID` comes with HTTP 400 INVALID_ARGUMENT,
  `API_KEY_SERVICE_BLOCKED` with 403), Anthropic's `authentication_error`, OpenAI's `invalid_api_key`.
  A 403 by itself is not: OpenRouter answers 403 to input its moderation flagged, and Anthropic's
  `permission_error` is about the resource asked for.
- `key_wide`: the whole key or account is out, not one model's quota: OpenAI's `insufficient_quota`,
  `billing_hard_limit_reached`, Anthropic's `billing_error`.
- `retry_after`: seconds from Gemini's `RetryInfo.retryDelay` ("58s"), for key cool-downs; the
  other dialects send a `retry-after` header instead, which is the caller's to read.
- An error inside a 200 stream has no HTTP status of its own: give the status as 200 and it is taken
  from the body (OpenAI / Gemini `code`, Gemini `status` by `GRPC_HTTP_STATUS`, else 500).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Final, Literal

__all__ = [
    "GRPC_HTTP_STATUS",
    "MESSAGE_LIMIT",
    "Dialect",
    "UpstreamError",
    "anthropic_error_body",
    "anthropic_error_type",
    "openai_error_body",
    "openai_error_type",
    "parse_upstream_error",
]

Dialect = Literal["openai", "anthropic", "gemini"]

MESSAGE_LIMIT: Final = 500  # characters of a non-JSON error body kept as the message

_ANTHROPIC_TYPES: Final = {
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
_KEY_VERDICTS: Final = frozenset({"authentication_error", "invalid_api_key"})  # types and codes
_ACCOUNT_OUT: Final = frozenset({"insufficient_quota", "billing_hard_limit_reached", "billing_error"})
_DELAY: Final = re.compile(r"(\d+(?:\.\d+)?)s")


def anthropic_error_type(status: int) -> str:
    """Anthropic's `error.type` for an HTTP status."""
    if status in _ANTHROPIC_TYPES:
        return _ANTHROPIC_TYPES[status]
    return "api_error" if status >= 500 else "invalid_request_error"


def openai_error_type(status: int) -> str:
    """The OpenAI `error.type` for an HTTP status, for errors that come from another dialect."""
    if status == 429:
        return "rate_limit_error"
    return "api_error" if status >= 500 else "invalid_request_error"


def anthropic_error_body(
    status: int, message: str, type_: str | None = None, *, request_id: str | None = None
) -> dict[str, Any]:
    """`{"type": "error", "error": {"type", "message"}}`, plus `request_id` when given (as Anthropic)."""
    body: dict[str, Any] = {
        "type": "error",
        "error": {"type": type_ or anthropic_error_type(status), "message": message},
    }
    if request_id is not None:
        body["request_id"] = request_id
    return body


def openai_error_body(
    status: int, message: str, *, type_: str | None = None, code: str | None = None, param: str | None = None
) -> dict[str, Any]:
    """`{"error": {"message", "type", "param", "code"}}`, as `errors.GatewayError.openai_body`."""
    return {
        "error": {
            "message": message,
            "type": type_ or openai_error_type(status),
            "param": param,
            "code": code,
        }
    }


@dataclass(frozen=True, slots=True)
class UpstreamError:
    """An upstream's error answer, read. `type` is the upstream's own error type (see the module doc)."""

    dialect: Dialect
    status: int
    message: str
    type: str
    code: str | None = None
    param: str | None = None
    auth_failure: bool = False
    key_wide: bool = False
    retry_after: float | None = None
    request_id: str | None = None

    def openai_body(self) -> dict[str, Any]:
        """This error for an OpenAI client: an OpenAI upstream's type as it was, else by status."""
        type_ = self.type if self.dialect == "openai" else None
        return openai_error_body(self.status, self.message, type_=type_, code=self.code, param=self.param)

    def anthropic_body(self, request_id: str | None = None) -> dict[str, Any]:
        """This error for an Anthropic client: an Anthropic upstream's type as it was, else by status."""
        type_ = self.type if self.dialect == "anthropic" else None
        return anthropic_error_body(self.status, self.message, type_, request_id=request_id)


def parse_upstream_error(dialect: Dialect, status: int, body: bytes) -> UpstreamError:
    """Read an upstream's error body (any bytes: JSON of its dialect, another shape, text or nothing)."""
    text = body.decode("utf-8", errors="replace").strip()
    try:
        payload: Any = json.loads(text) if text else None
    except ValueError:
        payload = None
    if isinstance(payload, list) and payload:  # Gemini streams errors as a one-element array
        payload = payload[0]
    error = payload.get("error") if isinstance(payload, dict) else None
    if isinstance(error, dict):
        request_id = payload.get("request_id") if isinstance(payload, dict) else None
        return _from_error_object(dialect, status, error, request_id if isinstance(request_id, str) else None)
    if isinstance(error, str) and error:  # {"error": "model not found"} (Ollama and others)
        message = error
    elif isinstance(payload, dict) and isinstance(payload.get("message") or payload.get("detail"), str):
        message = payload.get("message") or payload["detail"]
    else:
        message = _cut(text) if text else f"upstream answered HTTP {status} without a message"
    status = status if status >= 400 else 500
    return UpstreamError(dialect, status, message, _type_for(dialect, status), auth_failure=status == 401)


def _from_error_object(
    dialect: Dialect, status: int, error: dict[str, Any], request_id: str | None
) -> UpstreamError:
    message = error.get("message")
    message = message if isinstance(message, str) and message else f"upstream answered HTTP {status}"
    metadata = error.get("metadata")
    raw = metadata.get("raw") if isinstance(metadata, dict) else None
    if isinstance(raw, str) and raw:  # OpenRouter: "Provider returned error" + what the provider said
        message = f"{message}: {_cut(raw)}"
    grpc = error.get("status") if isinstance(error.get("status"), str) else None
    code = error.get("code")
    if status < 400:  # an error event inside a stream: the body says what happened
        if isinstance(code, int) and not isinstance(code, bool) and code >= 400:
            status = code
        else:
            status = GRPC_HTTP_STATUS.get(grpc or "", 500)
    details = error.get("details")
    infos = [d for d in details if isinstance(d, dict)] if isinstance(details, list) else []
    reason = next((d["reason"] for d in infos if isinstance(d.get("reason"), str)), None)
    delay = next((d["retryDelay"] for d in infos if isinstance(d.get("retryDelay"), str)), None)
    match = _DELAY.fullmatch(delay) if delay else None
    raw_type = error.get("type")
    type_ = raw_type if isinstance(raw_type, str) and raw_type else grpc or _type_for(dialect, status)
    if isinstance(code, str) and code:
        code_text: str | None = code
    elif isinstance(code, int) and not isinstance(code, bool) and grpc is None:
        code_text = str(code)  # OpenRouter's `code: 429`; Gemini's `code` is only the HTTP status
    else:
        code_text = reason or grpc
    param = error.get("param")
    labels = {type_, code_text}
    return UpstreamError(
        dialect,
        status,
        message,
        type_,
        code=code_text,
        param=param if isinstance(param, str) else None,
        auth_failure=status == 401
        or bool(labels & _KEY_VERDICTS)
        or (reason is not None and reason.startswith("API_KEY_")),
        key_wide=bool(labels & _ACCOUNT_OUT),
        retry_after=float(match[1]) if match else None,
        request_id=request_id,
    )


def _type_for(dialect: Dialect, status: int) -> str:
    return anthropic_error_type(status) if dialect == "anthropic" else openai_error_type(status)


def _cut(text: str) -> str:
    return text if len(text) <= MESSAGE_LIMIT else text[:MESSAGE_LIMIT] + "…"
