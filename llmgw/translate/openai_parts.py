"""OpenAI content → Anthropic (hub) blocks: what the Chat Completions and Responses request translators share.

Both OpenAI APIs send images as URLs (http(s), or base64 `data:` URLs), PDFs as `data:` URLs, tool-call
arguments as a JSON string, and a conversation as a list Anthropic wants as alternating turns with the
tool results first in theirs. Pure; every error is a 400 naming the field path (`json_fields.bad`).
"""

from __future__ import annotations

import json
from typing import Any

from llmgw.translate.json_fields import JSON, bad

__all__ = [
    "add_turn",
    "cache_marker",
    "call_arguments",
    "data_url",
    "image_source",
    "pdf_document",
    "tool_results_first",
]


def add_turn(turns: list[JSON], role: str, blocks: list[JSON]) -> None:
    """Append `blocks` to the conversation as `role`'s: to the last turn when it is that role's (Anthropic
    wants turns that alternate), else as a new turn. No blocks, no turn."""
    if not blocks:
        return
    if turns and turns[-1]["role"] == role:
        turns[-1]["content"].extend(blocks)
    else:
        turns.append({"role": role, "content": blocks})


def tool_results_first(turns: list[JSON]) -> None:
    """Anthropic wants a user turn's `tool_result` blocks before its other blocks (a stable sort)."""
    for turn in turns:
        if turn["role"] == "user":
            turn["content"].sort(key=lambda block: block["type"] != "tool_result")


def data_url(url: str, path: str) -> tuple[str, str]:
    """(media type, base64 data) of a `data:<type>;base64,<data>` URL."""
    head, comma, data = url.partition(",")
    media_type = head.removeprefix("data:").removesuffix(";base64")
    if not comma or not head.endswith(";base64") or "/" not in media_type or not data:
        raise bad(path, "expected a base64 data URL (data:<media type>;base64,<data>)")
    return media_type, data


def image_source(url: str, path: str) -> JSON:
    """The Anthropic image `source` for an image URL: base64 for a `data:` URL, url for http(s)."""
    if url.startswith("data:"):
        media_type, data = data_url(url, path)
        return {"type": "base64", "media_type": media_type, "data": data}
    if url.startswith(("https://", "http://")):
        return {"type": "url", "url": url}
    raise bad(path, "expected an http(s) URL or a base64 data URL")


def pdf_document(file_data: str, filename: Any, path: str) -> JSON:
    """A `document` block for a PDF sent as a base64 `data:` URL (`path` names that URL); the title is
    the file's name when it has one."""
    media_type, data = data_url(file_data, path)
    if media_type != "application/pdf":
        raise bad(path, f"only PDF files can be sent to Anthropic, not {media_type}")
    block: JSON = {"type": "document", "source": {"type": "base64", "media_type": media_type, "data": data}}
    if isinstance(filename, str):
        block["title"] = filename
    return block


def call_arguments(arguments: str, path: str) -> JSON:
    """A tool call's `arguments` (JSON text) as the `input` object of a `tool_use` block; `""` is `{}`."""
    try:
        parsed = json.loads(arguments) if arguments.strip() else {}
    except ValueError:
        raise bad(path, "not valid JSON") from None
    if not isinstance(parsed, dict):
        raise bad(path, "must be a JSON object")
    return parsed


def cache_marker(part: JSON) -> JSON | None:
    """The Anthropic `cache_control` a content part asks for: its own `cache_control` object, or OpenAI's
    `prompt_cache_breakpoint` → an ephemeral one; None without either."""
    if isinstance(part.get("cache_control"), dict):
        marker: JSON = part["cache_control"]
        return marker
    if part.get("prompt_cache_breakpoint") is not None:
        return {"type": "ephemeral"}
    return None
