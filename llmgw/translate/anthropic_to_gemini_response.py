"""A hub answer (Anthropic message) → a Gemini client's `GenerateContentResponse`; `countTokens` too. Pure.

The request came in `gemini_request_to_anthropic.py`; the stream of the same answer is
`streams/anthropic_to_gemini.py`, which builds its parts with `GeminiParts` from here, so the assembled
stream and the whole answer agree.

Answer decisions (Anthropic → Gemini):
- One candidate, role `model`. `text` → a text part; `tool_use` → `functionCall {id, name, args}`.
- Thinking: the `thinking` / `redacted_thinking` blocks are carried whole in the `thoughtSignature` of
  the next text or `functionCall` part (`thought_signatures`: base64 of a prefix + the blocks' JSON),
  as Gemini puts a signature on the part after its thinking; the request side turns it back into the
  blocks, so the upstream gets its signed thinking back. Never on a thought part: Gemini CLI leaves
  thought parts out of the history it sends back. When the request asked `includeThoughts`, a
  `thinking` block's text is also shown as a part `{text, thought: true}`. Blocks with no part after
  them go on an empty text part `{"text": "", "thoughtSignature": …}`, as Gemini ends streams.
  Unsigned thinking (an OpenAI-format upstream's reasoning) is shown but not carried: no upstream
  takes it back.
- Server-tool blocks (`server_tool_use`, `web_search_tool_result`: the hub's web search for
  `googleSearch`) are left out: Gemini clients read the grounded text, which follows as text. Citations
  are dropped.
- `finishReason` by `GEMINI_FINISH_REASONS` (the reverse of `hub.gemini_finish_to_anthropic`): end_turn,
  stop_sequence, tool_use, pause_turn → STOP (Gemini stops with STOP after a function call too);
  max_tokens, model_context_window_exceeded → MAX_TOKENS; refusal → SAFETY; anything else → OTHER.
- `usageMetadata`: promptTokenCount = input + cache reads + cache writes; cachedContentTokenCount = cache
  reads (when any); thoughtsTokenCount = `output_tokens_details.thinking_tokens` (when given) and
  candidatesTokenCount = output - thoughts (Gemini counts them apart); totalTokenCount = prompt + output.
- `responseId` = the message id without `msg_`; `modelVersion` = the caller's `model_version`.
- `countTokens`: `{"totalTokens": input_tokens}`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from llmgw.errors import UpstreamUnavailable
from llmgw.translate.json_fields import JSON
from llmgw.translate.thought_signatures import encode_thought_signature

__all__ = [
    "GEMINI_FINISH_REASONS",
    "GeminiParts",
    "anthropic_count_tokens_to_gemini",
    "anthropic_response_to_gemini",
    "gemini_envelope",
    "gemini_finish_reason",
    "gemini_usage_from_anthropic",
]

GEMINI_FINISH_REASONS: Final = {
    "end_turn": "STOP",
    "stop_sequence": "STOP",
    "tool_use": "STOP",
    "pause_turn": "STOP",
    "max_tokens": "MAX_TOKENS",
    "model_context_window_exceeded": "MAX_TOKENS",
    "refusal": "SAFETY",
}


def gemini_finish_reason(stop_reason: Any) -> str:
    """Gemini's `finishReason` for a hub `stop_reason` (STOP when there is none)."""
    if stop_reason is None:
        return "STOP"
    return GEMINI_FINISH_REASONS.get(stop_reason, "OTHER") if isinstance(stop_reason, str) else "OTHER"


class GeminiParts:
    """Gemini parts for hub blocks, in order, holding thinking blocks for the next part's signature."""

    def __init__(self, include_thoughts: bool) -> None:
        self.include_thoughts = include_thoughts
        self.pending: list[Mapping[str, Any]] = []  # thinking blocks since the last part

    def thinking(self, block: Mapping[str, Any]) -> list[JSON]:
        """The thought part for a finished `thinking` block when thoughts are shown (none for an empty
        one, or a `redacted_thinking` one); the block itself waits for the next part's signature,
        unless it is unsigned (a chat-completions upstream's reasoning, which no upstream takes back)."""
        if block.get("type") == "redacted_thinking" or block.get("signature"):
            self.pending.append(block)
        text = block.get("thinking")
        if self.include_thoughts and block.get("type") == "thinking" and isinstance(text, str) and text:
            return [{"text": text, "thought": True}]
        return []

    def signed(self, part: JSON) -> JSON:
        """`part` (text or functionCall) with the held blocks in its signature, if any."""
        if self.pending:
            part["thoughtSignature"] = encode_thought_signature(self.pending)
            self.pending = []
        return part

    def rest(self) -> list[JSON]:
        """At the end: held blocks with no part after them, on an empty text part, as Gemini sends a
        last signature."""
        return [self.signed({"text": ""})] if self.pending else []


def anthropic_response_to_gemini(
    message: dict[str, Any], *, model_version: str, include_thoughts: bool = False
) -> dict[str, Any]:
    """The Gemini `GenerateContentResponse` for a hub message. `include_thoughts`: the request's
    `thinkingConfig.includeThoughts` (thinking shown in thought parts too)."""
    content = message.get("content")
    if not isinstance(content, list):
        raise UpstreamUnavailable("The upstream's answer has no content list")
    writer = GeminiParts(include_thoughts)
    parts: list[JSON] = []
    for block in content:
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "text" and isinstance(block.get("text"), str) and block["text"]:
            parts.append(writer.signed({"text": block["text"]}))
        elif kind in ("thinking", "redacted_thinking"):
            parts.extend(writer.thinking(block))
        elif kind == "tool_use":
            call = {"id": block.get("id"), "name": block.get("name"), "args": block.get("input") or {}}
            parts.append(writer.signed({"functionCall": call}))
    parts.extend(writer.rest())
    usage = message.get("usage")
    return gemini_envelope(
        parts,
        finish_reason=gemini_finish_reason(message.get("stop_reason")),
        usage=usage if isinstance(usage, Mapping) else {},
        model_version=model_version,
        message_id=message.get("id"),
    )


def gemini_envelope(
    parts: list[JSON],
    *,
    finish_reason: str | None,
    usage: Mapping[str, Any] | None,
    model_version: str,
    message_id: Any,
) -> JSON:
    """A `GenerateContentResponse` (or stream chunk): one candidate with `parts`; `finishReason` and
    `usageMetadata` when given."""
    candidate: JSON = {"content": {"role": "model", "parts": parts}, "index": 0}
    if finish_reason is not None:
        candidate["finishReason"] = finish_reason
    out: JSON = {"candidates": [candidate]}
    if usage is not None:
        out["usageMetadata"] = gemini_usage_from_anthropic(usage)
    out["modelVersion"] = model_version
    if isinstance(message_id, str) and message_id:
        out["responseId"] = message_id.removeprefix("msg_")
    return out


def gemini_usage_from_anthropic(usage: Mapping[str, Any]) -> JSON:
    """Gemini `usageMetadata` for a hub `usage` (see the module's doc)."""
    fresh, read, write = (
        _n(usage, "input_tokens"),
        _n(usage, "cache_read_input_tokens"),
        _n(usage, "cache_creation_input_tokens"),
    )
    output = _n(usage, "output_tokens")
    details = usage.get("output_tokens_details")
    thoughts = _n(details, "thinking_tokens") if isinstance(details, Mapping) else 0
    prompt = fresh + read + write
    out: JSON = {"promptTokenCount": prompt, "candidatesTokenCount": max(output - thoughts, 0)}
    if read:
        out["cachedContentTokenCount"] = read
    if thoughts:
        out["thoughtsTokenCount"] = thoughts
    out["totalTokenCount"] = prompt + output
    return out


def anthropic_count_tokens_to_gemini(payload: dict[str, Any]) -> dict[str, Any]:
    """Gemini's `countTokens` answer for a hub `count_tokens` answer."""
    total = payload.get("input_tokens")
    if not isinstance(total, int) or isinstance(total, bool):
        raise UpstreamUnavailable("The upstream's count_tokens answer has no input_tokens")
    return {"totalTokens": total}


def _n(mapping: Mapping[str, Any], key: str) -> int:
    value = mapping.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
