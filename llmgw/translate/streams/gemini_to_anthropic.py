"""Gemini `streamGenerateContent?alt=sse` chunks → Anthropic stream events, for any client of Gemini.

Each chunk is a whole `GenerateContentResponse` holding only the new parts. The blocks are those of the
non-stream translation (`llmgw.translate.gemini_to_anthropic.gemini_parts_to_blocks`), whose signature
encoding and `hub` mappings this reuses:
- Text parts → a `text` block; consecutive `thought: true` parts → one `thinking` block.
- Signatures, as the non-stream side encodes them for the request side to put back on their parts: a
  thinking block from thought parts closes with a `signature_delta` of `THOUGHT_SIGNATURE_PREFIX` + the
  thought's `thoughtSignature` (empty if none; a signed thought part ends its block); a non-thought
  part's signature becomes an empty thinking block just before it, signed `PART_SIGNATURE_PREFIX` + it.
- Each `functionCall` part (Gemini sends a call whole) → a `tool_use` block: start (id = the call's `id`,
  else a generated `toolu_…`), one `input_json_delta` with the whole `args` JSON, stop.
- Other parts (inline data, executable code, code results) are dropped with their signatures.
- `finishReason` → `stop_reason` by `gemini_finish_to_anthropic` (`tool_use` when a call was made); a
  prompt blocked by `promptFeedback.blockReason` → `refusal`. The chunk with `finishReason` is Gemini's
  last and carries the final usage, so the closing events go out with it (`usage` still follows any
  later chunk).
- Usage from the last `usageMetadata` (each chunk carries the running totals) by
  `gemini_usage_to_anthropic`: input = prompt - cached, cache read = cached, output = candidates +
  thoughts. `message_start` carries the first chunk's input count (Gemini may revise it; `message_delta`
  has the final one).
- The message id is `message_id` if given, else `msg_` + Gemini's `responseId`, as in the non-stream one.
- An error chunk (`{"error": {"code", "message", "status"}}`) → an Anthropic `error` event, typed by
  `llmgw.wire.anthropic` (by `code`, the HTTP status); the stream ends there.
- Only candidate 0 is translated.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from llmgw.translate.gemini_to_anthropic import PART_SIGNATURE_PREFIX, THOUGHT_SIGNATURE_PREFIX
from llmgw.translate.hub import gemini_finish_to_anthropic, gemini_usage_to_anthropic, new_id
from llmgw.translate.streams.anthropic_events import AnthropicEvent, ToAnthropicStream
from llmgw.translate.usage import gemini_usage

__all__ = ["GeminiToAnthropicStream"]


class GeminiToAnthropicStream(ToAnthropicStream):
    """Gemini stream chunks (parsed) → Anthropic stream events."""

    def __init__(self, model: str, message_id: str | None = None) -> None:
        super().__init__(model, message_id)
        self._meta: Any = None  # the last usageMetadata
        self._finish_reason: str | None = None
        self._blocked = False
        self._thought_open = False  # a thinking block of thought parts is open, not yet signed
        # output_events counts parts that carried text, thoughts or a function call

    def feed(self, chunk: Mapping[str, Any]) -> list[AnthropicEvent]:
        """The events for one upstream chunk."""
        w = self._w
        if isinstance(chunk.get("usageMetadata"), Mapping):
            self._meta = chunk["usageMetadata"]
            self._usage = gemini_usage(chunk)
        if w.ended:
            return []
        if chunk.get("error") is not None:
            w.upstream_error("gemini", chunk)
            return w.take()
        if not w.started:
            response_id = chunk.get("responseId")
            if not self._id_given and isinstance(response_id, str) and response_id:
                w.message_id = f"msg_{response_id}"
            w.start(gemini_usage_to_anthropic(self._meta)["input_tokens"])
        candidates = chunk.get("candidates")
        candidate = candidates[0] if isinstance(candidates, list) and candidates else None
        if isinstance(candidate, Mapping):
            content = candidate.get("content")
            parts = content.get("parts") if isinstance(content, Mapping) else None
            for part in parts if isinstance(parts, list) else ():
                if isinstance(part, Mapping):
                    self._part(part)
            reason = candidate.get("finishReason")
            if isinstance(reason, str) and reason:
                self._finish_reason = reason
        feedback = chunk.get("promptFeedback")
        if isinstance(feedback, Mapping) and feedback.get("blockReason"):
            self._blocked = True
        if self._finish_reason is not None or self._blocked:
            self._end()
        return w.take()

    def _part(self, part: Mapping[str, Any]) -> None:
        w = self._w
        signature = part.get("thoughtSignature")
        signature = signature if isinstance(signature, str) else ""
        text, call = part.get("text"), part.get("functionCall")
        if part.get("thought") is True:
            if isinstance(text, str) and text:
                w.thinking(text)
                self._thought_open = True
                self.output_events += 1
            if signature:
                w.signature(THOUGHT_SIGNATURE_PREFIX + signature)
                self._thought_open = False
            return
        if not isinstance(call, Mapping) and not isinstance(text, str):
            return
        self._sign_thought()
        if signature:
            w.signature(PART_SIGNATURE_PREFIX + signature)
        if isinstance(call, Mapping):
            call_id, name, args = call.get("id"), call.get("name"), call.get("args")
            w.tool_use(
                call_id if isinstance(call_id, str) and call_id else new_id("toolu_"),
                name if isinstance(name, str) else "",
            )
            w.tool_input(orjson.dumps(args if isinstance(args, dict) else {}).decode())
            w.close_block()
            self.output_events += 1
        elif isinstance(text, str) and text:
            w.text(text)
            self.output_events += 1

    def _sign_thought(self) -> None:
        """Close an open thinking block of thought parts with the signature the non-stream side gives it."""
        if self._thought_open:
            self._w.signature(THOUGHT_SIGNATURE_PREFIX)
            self._thought_open = False

    def _end(self) -> None:
        self._sign_thought()
        stop = gemini_finish_to_anthropic(self._finish_reason, tool_use=self._w.tool_blocks > 0)
        if self._blocked:
            stop = "refusal"
        self._w.end(stop, gemini_usage_to_anthropic(self._meta))
