"""Gemini → Anthropic Messages: `generateContent` and `countTokens` answers, as pure functions over JSON.

Anthropic Messages JSON is the hub: Gemini's answers become Anthropic messages here, for Anthropic
clients as they are and for OpenAI clients through `anthropic_response_to_openai`. The requests went the
other way in `anthropic_to_gemini.py`; the stream of the same answer is `streams/gemini_to_anthropic.py`,
which shares this module's signature encoding. An answer that cannot be read is a 502.

Answer decisions (Gemini → Anthropic):

- Thinking: Gemini signs parts with `thoughtSignature` and wants each signature back on the part it came
  with. Signatures are therefore kept in thinking-block signatures (`THOUGHT_SIGNATURE_PREFIX`,
  `PART_SIGNATURE_PREFIX`), from which `anthropic_to_gemini` rebuilds the exact parts: see
  `gemini_parts_to_blocks`.
- Message id, refusals of blocked prompts and empty candidates: see `gemini_response_to_anthropic`.
- `finishReason` → `stop_reason` by `hub.gemini_finish_to_anthropic`; usage by
  `hub.gemini_usage_to_anthropic` (input = prompt - cached, output = candidates + thoughts).
"""

from __future__ import annotations

from typing import Any, Final

from llmgw.errors import UpstreamUnavailable
from llmgw.translate.hub import (
    AnthropicMessage,
    ContentBlock,
    anthropic_message,
    gemini_finish_to_anthropic,
    gemini_usage_to_anthropic,
    new_id,
)

__all__ = [
    "GEMINI_SIGNED",
    "PART_SIGNATURE_PREFIX",
    "THOUGHT_SIGNATURE_PREFIX",
    "gemini_count_tokens_to_anthropic",
    "gemini_parts_to_blocks",
    "gemini_response_to_anthropic",
    "without_gemini_thinking",
]

# A thinking block made from a `thought: true` part; its own signature (possibly empty) follows.
THOUGHT_SIGNATURE_PREFIX: Final = "gemini:thought:"
# A thinking block with no text carrying the signature of the next, non-thought part (text or call).
PART_SIGNATURE_PREFIX: Final = "gemini:part:"
GEMINI_SIGNED: Final = "gemini:"  # the prefix both share


def without_gemini_thinking(body: dict[str, Any]) -> dict[str, Any]:
    """An Anthropic request without the thinking blocks that carry Gemini's signatures: Anthropic
    refuses a signature it did not make, and a conversation that moved from a Gemini model to a Claude
    one (a Codex CLI session, its reasoning sent back in `encrypted_content`) still holds them. The body
    as it was when it holds none."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not any(_gemini_signed(m) for m in messages):
        return body
    kept = []
    for m in messages:
        if _gemini_signed(m):
            m = {**m, "content": [b for b in m["content"] if not _gemini_block(b)]}
        kept.append(m)
    return {**body, "messages": kept}


def _gemini_block(block: Any) -> bool:
    signature = block.get("signature") if isinstance(block, dict) else None
    return isinstance(signature, str) and signature.startswith(GEMINI_SIGNED)


def _gemini_signed(message: Any) -> bool:
    content = message.get("content") if isinstance(message, dict) else None
    return isinstance(content, list) and any(_gemini_block(b) for b in content)


def gemini_response_to_anthropic(
    resp: dict[str, Any], *, model: str, message_id: str | None = None
) -> AnthropicMessage:
    """The Anthropic `message` for a Gemini `generateContent` answer (its first candidate).

    - `id`: `message_id` when given, else `msg_` + Gemini's `responseId`, else a generated `msg_…`.
    - `model`: the name the client asked for. `stop_sequence` is always null: Gemini reports a
      matched stop sequence as a plain STOP, so `stop_reason` is `end_turn` then.
    - A prompt Gemini blocked (no candidates, `promptFeedback.blockReason`) becomes a `refusal`
      message with empty content, as Anthropic reports its own refusals (HTTP 200); no candidates
      and no block reason is an unreadable answer (502).
    - A candidate without content (e.g. MAX_TOKENS spent on thinking) gives empty content.
    """
    candidates = resp.get("candidates")
    if not candidates:
        feedback = resp.get("promptFeedback")
        if not (isinstance(feedback, dict) and feedback.get("blockReason")):
            raise UpstreamUnavailable("Gemini answered with no candidate and no promptFeedback.blockReason")
        blocks: list[ContentBlock] = []
        stop_reason = "refusal"
    else:
        candidate = candidates[0] if isinstance(candidates, list) else None
        if not isinstance(candidate, dict):
            raise UpstreamUnavailable("Gemini's candidates are not a list of objects")
        content = candidate.get("content")
        blocks = gemini_parts_to_blocks(content.get("parts") if isinstance(content, dict) else None)
        has_call = any(b["type"] == "tool_use" for b in blocks)
        stop_reason = gemini_finish_to_anthropic(candidate.get("finishReason"), tool_use=has_call)
    response_id = resp.get("responseId")
    if message_id is None:
        message_id = f"msg_{response_id}" if isinstance(response_id, str) and response_id else new_id("msg_")
    usage = gemini_usage_to_anthropic(resp.get("usageMetadata"))
    return anthropic_message(message_id, model, blocks, stop_reason, usage)


def gemini_parts_to_blocks(parts: Any) -> list[ContentBlock]:
    """Anthropic content blocks for Gemini parts, in order.

    `text` → text block (empty ones dropped); `thought: true` → thinking block whose signature is
    `THOUGHT_SIGNATURE_PREFIX` + the part's `thoughtSignature`; a non-thought part's signature
    becomes a preceding thinking block with no text and `PART_SIGNATURE_PREFIX` + signature;
    `functionCall` → `tool_use` (its `id`, else a generated `toolu_…`). Parts Anthropic cannot hold
    (generated images, code execution) are dropped with their signatures.
    """
    blocks: list[ContentBlock] = []
    for part in parts if isinstance(parts, list) else ():
        if not isinstance(part, dict):
            continue
        signature = part.get("thoughtSignature")
        signature = signature if isinstance(signature, str) else ""
        text = part.get("text")
        call = part.get("functionCall")
        if part.get("thought") is True:
            thinking = text if isinstance(text, str) else ""
            blocks.append(
                {"type": "thinking", "thinking": thinking, "signature": THOUGHT_SIGNATURE_PREFIX + signature}
            )
            continue
        if not isinstance(call, dict) and not isinstance(text, str):
            continue
        if signature:
            blocks.append(
                {"type": "thinking", "thinking": "", "signature": PART_SIGNATURE_PREFIX + signature}
            )
        if isinstance(call, dict):
            call_id, name, args = call.get("id"), call.get("name"), call.get("args")
            blocks.append(
                {
                    "type": "tool_use",
                    "id": call_id if isinstance(call_id, str) and call_id else new_id("toolu_"),
                    "name": name if isinstance(name, str) else "",
                    "input": args if isinstance(args, dict) else {},
                }
            )
        elif text:
            blocks.append({"type": "text", "text": text})
    return blocks


def gemini_count_tokens_to_anthropic(resp: dict[str, Any]) -> dict[str, Any]:
    """Anthropic's `count_tokens` answer for a Gemini `countTokens` answer."""
    total = resp.get("totalTokens")
    if not isinstance(total, int) or isinstance(total, bool):
        raise UpstreamUnavailable("Gemini's countTokens answer has no totalTokens")
    return {"input_tokens": total}
