"""Reading an upstream's error answer, whatever its dialect, into an `UpstreamError` (`llmgw/errors.py`).
One reader for every upstream: bodies follow their shape more than their provider's dialect
(OpenAI-compatible servers, OpenRouter, Ollama), so the shape decides and the dialect only types what
names no type. Pure.

Decisions:

- `parse_upstream_error` reads OpenAI `{"error": {message, type, code, param}}` (also OpenRouter's
  integer `code`, and `{"error": "text"}` bodies of some compatible servers), Anthropic
  `{"type": "error", "error": {type, message}, "request_id"}` and Gemini's google.rpc.Status
  `{"error": {code, message, status, details}}` (also wrapped in a list, as streamed). `type` is the
  upstream's own (OpenAI `type`, Anthropic `error.type`, Gemini `status`), else the dialect's type
  for the status (Anthropic's for an Anthropic upstream, OpenAI's for the others: `wire/anthropic.py`,
  `wire/openai.py`). OpenRouter's `metadata.raw` (what the provider behind it said) is appended to its
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
  from the body (OpenAI / Gemini `code`, Gemini `status` by `wire.gemini.GRPC_HTTP_STATUS`, else 500).
"""

from __future__ import annotations

import json
import re
from typing import Any, Final

from llmgw.dialects import UpstreamDialect
from llmgw.errors import UpstreamError
from llmgw.wire import anthropic, gemini, openai

__all__ = ["MESSAGE_LIMIT", "parse_upstream_error"]

MESSAGE_LIMIT: Final = 500  # characters of a non-JSON error body kept as the message

_KEY_VERDICTS: Final = frozenset({"authentication_error", "invalid_api_key"})  # types and codes
_ACCOUNT_OUT: Final = frozenset({"insufficient_quota", "billing_hard_limit_reached", "billing_error"})
_DELAY: Final = re.compile(r"(\d+(?:\.\d+)?)s")


def parse_upstream_error(dialect: UpstreamDialect, status: int, body: bytes) -> UpstreamError:
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
    dialect: UpstreamDialect, status: int, error: dict[str, Any], request_id: str | None
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
            status = gemini.GRPC_HTTP_STATUS.get(grpc or "", 500)
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


def _type_for(dialect: UpstreamDialect, status: int) -> str:
    return anthropic.error_type(status) if dialect == "anthropic" else openai.error_type(status)


def _cut(text: str) -> str:
    return text if len(text) <= MESSAGE_LIMIT else text[:MESSAGE_LIMIT] + "…"
