"""Anthropic Messages, the hub format: its shapes, and what every translator into or out of it shares.

Chat goes OpenAI ⇄ Anthropic ⇄ Gemini through Anthropic Messages JSON, answers and stream events alike.
Here, once: the hub's message, content-block and usage shapes (TypedDicts), id minting, the message
envelope, the usage mappings into and out of the hub, and the stop-reason table of each direction.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any, Final, Literal, NotRequired, TypedDict

from llmgw.translate.usage import Usage, anthropic_usage

__all__ = [
    "ANTHROPIC_STOP_REASONS",
    "OPENAI_FINISH_REASONS",
    "AnthropicMessage",
    "AnthropicUsage",
    "ContentBlock",
    "TextBlock",
    "ThinkingBlock",
    "ToolUseBlock",
    "anthropic_message",
    "anthropic_stop_reason",
    "anthropic_usage_from_openai",
    "gemini_finish_to_anthropic",
    "gemini_usage_to_anthropic",
    "lift_system_messages",
    "new_id",
    "openai_usage_from_anthropic",
    "responses_usage_from_anthropic",
]


class TextBlock(TypedDict):
    type: Literal["text"]
    text: str


class ThinkingBlock(TypedDict):
    type: Literal["thinking"]
    thinking: str
    signature: str


class ToolUseBlock(TypedDict):
    type: Literal["tool_use"]
    id: str
    name: str
    input: dict[str, Any]


# The blocks the answer translators write; clients may send more kinds, which are read as plain JSON.
ContentBlock = TextBlock | ThinkingBlock | ToolUseBlock


class AnthropicUsage(TypedDict):
    input_tokens: int  # fresh input only: cache reads and writes are counted apart
    cache_creation_input_tokens: int
    cache_read_input_tokens: int
    output_tokens: int
    output_tokens_details: NotRequired[dict[str, int]]


class AnthropicMessage(TypedDict):
    id: str
    type: Literal["message"]
    role: Literal["assistant"]
    model: str
    content: list[ContentBlock]
    stop_reason: str
    stop_sequence: None
    usage: AnthropicUsage


def new_id(prefix: str) -> str:
    """A fresh identifier in the style of the dialect (`msg_…`, `toolu_…`, `chatcmpl-…`)."""
    return prefix + uuid.uuid4().hex[:24]


def anthropic_message(
    message_id: str, model: str, content: list[ContentBlock], stop_reason: str, usage: AnthropicUsage
) -> AnthropicMessage:
    """A whole assistant message. `stop_sequence` is always null: no upstream we translate says which
    stop sequence matched (it is reported as a plain stop, so `stop_reason` is end_turn then)."""
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": usage,
    }


def lift_system_messages(body: dict[str, Any]) -> dict[str, Any]:
    """`body` for Anthropic's own API, which refuses a `role: "system"` message inside `messages`
    (Claude Code sends them to models it does not know, e.g. behind an alias): their content joins
    `system` as text blocks, after its own, in order, blocks kept as sent (`cache_control` included).
    Anthropic has one system prompt, and what follows a system message is only the answer being
    generated, which `system` governs; as a user turn it would speak with the user's voice (the same
    choice as for Gemini). Returns `body` itself when it has none, so a passthrough stays byte-exact."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not any(
        isinstance(m, dict) and m.get("role") == "system" for m in messages
    ):
        return body
    system = body.get("system")
    blocks: list[Any] = (
        list(system) if isinstance(system, list) else [{"type": "text", "text": system}] if system else []
    )
    kept: list[Any] = []
    for message in messages:
        if not (isinstance(message, dict) and message.get("role") == "system"):
            kept.append(message)
            continue
        content = message.get("content")
        if isinstance(content, list):
            blocks.extend(content)  # not text? Anthropic's 400 then names the block in `system`
        elif content:
            blocks.append({"type": "text", "text": content})
    return {**body, "system": blocks, "messages": kept}


# ---- usage ------------------------------------------------------------------------------------------


def anthropic_usage_from_openai(usage: Usage | None) -> AnthropicUsage:
    """Anthropic `usage` for OpenAI's (missing counts are 0): input = prompt - cached, cache read =
    cached, cache write = 0 (OpenAI reports none), output = completion; reasoning tokens →
    `output_tokens_details.thinking_tokens`."""
    u = usage or Usage()
    prompt, cached = u.prompt_tokens or 0, u.cached_tokens or 0
    out: AnthropicUsage = {
        "input_tokens": max(prompt - cached, 0),
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": cached,
        "output_tokens": u.completion_tokens or 0,
    }
    if u.reasoning_tokens is not None:
        out["output_tokens_details"] = {"thinking_tokens": u.reasoning_tokens}
    return out


def openai_usage_from_anthropic(usage: Mapping[str, Any]) -> dict[str, Any]:
    """OpenAI `usage` for an Anthropic one: prompt = input + cache reads + cache writes, `cached_tokens`
    = cache reads, completion = output, `reasoning_tokens` from `output_tokens_details.thinking_tokens`
    if given."""
    u = anthropic_usage(usage) or Usage()
    prompt, completion = u.prompt_tokens or 0, u.completion_tokens or 0
    out: dict[str, Any] = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": u.cached_tokens or 0},
    }
    details = usage.get("output_tokens_details")
    thinking = details.get("thinking_tokens") if isinstance(details, Mapping) else None
    if isinstance(thinking, int) and not isinstance(thinking, bool):
        out["completion_tokens_details"] = {"reasoning_tokens": thinking}
    return out


def responses_usage_from_anthropic(usage: Mapping[str, Any]) -> dict[str, Any]:
    """A Responses API `usage` for an Anthropic one: input = input + cache reads + cache writes,
    `cached_tokens` = cache reads, `cache_write_tokens` = cache writes, output as reported,
    `reasoning_tokens` from `output_tokens_details.thinking_tokens` (0 when not given)."""
    u = anthropic_usage(usage) or Usage()
    prompt, completion = u.prompt_tokens or 0, u.completion_tokens or 0
    details = usage.get("output_tokens_details")
    thinking = details.get("thinking_tokens") if isinstance(details, Mapping) else None
    return {
        "input_tokens": prompt,
        "input_tokens_details": {
            "cached_tokens": u.cached_tokens or 0,
            "cache_write_tokens": u.cache_write_tokens or 0,
        },
        "output_tokens": completion,
        "output_tokens_details": {"reasoning_tokens": _count(thinking)},
        "total_tokens": prompt + completion,
    }


def gemini_usage_to_anthropic(usage_metadata: Any) -> AnthropicUsage:
    """Anthropic `usage` for Gemini `usageMetadata` (missing counts are 0).

    input = prompt - cached, cache read = cached, cache write = 0 (Gemini bills none),
    output = candidates + thoughts.
    """
    meta = usage_metadata if isinstance(usage_metadata, dict) else {}
    prompt, cached = _count(meta.get("promptTokenCount")), _count(meta.get("cachedContentTokenCount"))
    output = _count(meta.get("candidatesTokenCount")) + _count(meta.get("thoughtsTokenCount"))
    return {
        "input_tokens": max(prompt - cached, 0),
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": cached,
        "output_tokens": output,
    }


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


# ---- stop reasons -----------------------------------------------------------------------------------

# Anthropic stop_reason → OpenAI finish_reason (pause_turn → stop: the turn ended without a tool call
# for the client to run).
OPENAI_FINISH_REASONS: Final = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}

# OpenAI finish_reason → Anthropic stop_reason; anything else is end_turn.
ANTHROPIC_STOP_REASONS: Final = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}

# Gemini finishReason → Anthropic stop_reason; anything else (STOP, OTHER, LANGUAGE,
# MALFORMED_FUNCTION_CALL, none) is tool_use or end_turn, by whether the answer calls a function.
_GEMINI_STOP_REASONS: Final = {
    "MAX_TOKENS": "max_tokens",
    "SAFETY": "refusal",
    "RECITATION": "refusal",
    "BLOCKLIST": "refusal",
    "PROHIBITED_CONTENT": "refusal",
    "SPII": "refusal",
    "IMAGE_SAFETY": "refusal",
    "IMAGE_PROHIBITED_CONTENT": "refusal",
    "IMAGE_RECITATION": "refusal",
    "MODEL_ARMOR": "refusal",
}


def anthropic_stop_reason(finish_reason: Any, *, tool_use: bool, refusal: bool) -> str:
    """Anthropic's `stop_reason` for an OpenAI answer: tool_use whenever it calls tools (some compatible
    servers say "stop" there), else refusal for a refusal without text, else by `ANTHROPIC_STOP_REASONS`."""
    if tool_use:
        return "tool_use"
    if refusal:
        return "refusal"
    return (
        ANTHROPIC_STOP_REASONS.get(finish_reason, "end_turn")
        if isinstance(finish_reason, str)
        else "end_turn"
    )


def gemini_finish_to_anthropic(reason: str | None, *, tool_use: bool = False) -> str:
    """Anthropic's `stop_reason` for a Gemini `finishReason`.

    MAX_TOKENS → max_tokens; SAFETY, RECITATION, BLOCKLIST, PROHIBITED_CONTENT, SPII and the image /
    Model Armor blocks → refusal; anything else (STOP, OTHER, LANGUAGE, MALFORMED_FUNCTION_CALL, none)
    → tool_use when the answer holds a function call (`tool_use=True`), else end_turn.
    """
    stop = _GEMINI_STOP_REASONS.get(reason) if reason is not None else None
    return stop or ("tool_use" if tool_use else "end_turn")
