"""Token usage out of OpenAI-format payloads. Pure functions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(slots=True)
class Usage:
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None
    cached_tokens: int | None = None


def _int(v: Any) -> int | None:
    return v if isinstance(v, int) and not isinstance(v, bool) else None


def openai_usage(payload: Any) -> Usage | None:
    """The `usage` of a chat / completion / embedding response or stream chunk; None if absent."""
    u = payload.get("usage") if isinstance(payload, dict) else None
    if not isinstance(u, dict):
        return None
    details = u.get("prompt_tokens_details")
    cached = _int(details.get("cached_tokens")) if isinstance(details, dict) else None
    prompt, completion = _int(u.get("prompt_tokens")), _int(u.get("completion_tokens"))
    total = _int(u.get("total_tokens"))
    if total is None and prompt is not None:
        total = prompt + (completion or 0)
    return Usage(prompt, completion, total, cached)
