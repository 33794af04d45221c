"""Token usage out of each dialect's payloads, normalised to one meaning. Pure functions.

The ledger's meaning (OpenAI's): `prompt_tokens` counts every input token, cached or not;
`cached_tokens` the part read from a prompt cache; `cache_write_tokens` the part written to one
(Anthropic only); `completion_tokens` every generated token, reasoning included;
`reasoning_tokens` the reasoning part; `total_tokens` = prompt + completion.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(slots=True)
class Usage:
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None
    cached_tokens: int | None = None
    cache_write_tokens: int | None = None
    reasoning_tokens: int | None = None


def _int(v: Any) -> int | None:
    return v if isinstance(v, int) and not isinstance(v, bool) else None


def _sum(*values: int | None) -> int | None:
    known = [v for v in values if v is not None]
    return sum(known) if known else None


def openai_usage(payload: Any) -> Usage | None:
    """The `usage` of a chat / completion / embedding response or stream chunk; None if absent."""
    u = payload.get("usage") if isinstance(payload, dict) else None
    if not isinstance(u, dict):
        return None
    details = u.get("prompt_tokens_details")
    cached = _int(details.get("cached_tokens")) if isinstance(details, dict) else None
    out_details = u.get("completion_tokens_details")
    reasoning = _int(out_details.get("reasoning_tokens")) if isinstance(out_details, dict) else None
    prompt, completion = _int(u.get("prompt_tokens")), _int(u.get("completion_tokens"))
    total = _int(u.get("total_tokens"))
    if total is None and prompt is not None:
        total = prompt + (completion or 0)
    return Usage(prompt, completion, total, cached, None, reasoning)


def anthropic_usage(u: Any) -> Usage | None:
    """An Anthropic `usage` object (of a message, `message_start` or `message_delta`)."""
    if not isinstance(u, dict):
        return None
    fresh, output = _int(u.get("input_tokens")), _int(u.get("output_tokens"))
    read, write = _int(u.get("cache_read_input_tokens")), _int(u.get("cache_creation_input_tokens"))
    prompt = _sum(fresh, read, write)
    total = prompt + (output or 0) if prompt is not None else output
    return Usage(prompt, output, total, read, write, None)


def gemini_usage(payload: Any) -> Usage | None:
    """The `usageMetadata` of a Gemini generateContent response or stream chunk."""
    u = payload.get("usageMetadata") if isinstance(payload, dict) else None
    if not isinstance(u, dict):
        return None
    prompt = _int(u.get("promptTokenCount"))
    thoughts = _int(u.get("thoughtsTokenCount"))
    completion = _sum(_int(u.get("candidatesTokenCount")), thoughts)
    total = _int(u.get("totalTokenCount"))
    if total is None and prompt is not None:
        total = prompt + (completion or 0)
    return Usage(prompt, completion, total, _int(u.get("cachedContentTokenCount")), None, thoughts)


def responses_usage(payload: Any) -> Usage | None:
    """The `usage` of a Responses API `Response` (or of a stream event carrying one under `response`,
    such as `response.completed`); None if absent. Its `input_tokens` count cached ones already, its
    `output_tokens` reasoning ones."""
    if (
        isinstance(payload, dict)
        and payload.get("object") != "response"
        and isinstance(payload.get("response"), dict)
    ):
        payload = payload["response"]
    u = payload.get("usage") if isinstance(payload, dict) else None
    if not isinstance(u, dict):
        return None
    details = u.get("input_tokens_details")
    details = details if isinstance(details, dict) else {}
    out_details = u.get("output_tokens_details")
    reasoning = _int(out_details.get("reasoning_tokens")) if isinstance(out_details, dict) else None
    prompt, completion = _int(u.get("input_tokens")), _int(u.get("output_tokens"))
    total = _int(u.get("total_tokens"))
    if total is None and prompt is not None:
        total = prompt + (completion or 0)
    cached, written = _int(details.get("cached_tokens")), _int(details.get("cache_write_tokens"))
    return Usage(prompt, completion, total, cached, written, reasoning)
