"""Anthropic stream events → Gemini `streamGenerateContent` chunks: Gemini clients of non-Gemini upstreams.

The events come from an Anthropic upstream, or from `OpenAIToAnthropicStream` for an OpenAI-format one.
Each chunk is a `GenerateContentResponse` holding the new parts; the parts are made by
`anthropic_to_gemini_response.GeminiParts`, so the stream assembled (consecutive text parts of one kind
joined, as Gemini clients join them) is what `anthropic_response_to_gemini` gives for the answer whole.
Pure and synchronous.

Mapping decisions (Anthropic events → Gemini chunks):
- `text_delta` → a chunk with one text part. `thinking_delta` → a `thought: true` part when the
  request asked `includeThoughts`. A finished thinking block is held, and goes in the signature of the
  next part: the first text part of the next text block (Gemini CLI joins a block's text parts into
  the first, keeping its signature) or the next `functionCall`. A `tool_use` block is sent whole at its
  stop, as one `functionCall` part (Gemini streams calls whole), its `args` the parsed `partial_json`
  (else the start `input`).
- `message_start` and `ping` give nothing; every chunk carries `modelVersion` and `responseId` (the
  message id without `msg_`). `message_stop` (or `finish()`) → the last chunk: the held signature's part
  if any, `finishReason` (by `gemini_finish_reason` of `message_delta`'s `stop_reason`) and
  `usageMetadata` (by `gemini_usage_from_anthropic`).
- Server-tool and unknown blocks, `citations_delta`: nothing (as in the whole answer).
- An `error` event → `{"error": {"code", "message", "status"}}`, Google's error object (the status by
  Anthropic's error type, then its google.rpc name); the stream ends there.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import orjson

from llmgw.translate.anthropic_to_gemini_response import (
    GeminiParts,
    gemini_envelope,
    gemini_finish_reason,
)
from llmgw.translate.json_fields import JSON
from llmgw.translate.usage import Usage, anthropic_usage
from llmgw.wire.anthropic import ERROR_TYPES
from llmgw.wire.gemini import error_body

__all__ = ["AnthropicToGeminiStream", "gemini_error_object"]

_STATUS_OF_TYPE: Final = {kind: status for status, kind in reversed(ERROR_TYPES.items())}


def gemini_error_object(status: int, message: str) -> JSON:
    """Google's error object for an HTTP status: `{"error": {"code", "message", "status"}}`."""
    return error_body(status, message)


class AnthropicToGeminiStream:
    """Anthropic stream events (parsed) → Gemini stream chunks, for a Gemini client."""

    def __init__(self, model_version: str, *, include_thoughts: bool = False) -> None:
        self.model_version = model_version
        self.output_events = 0  # deltas that carried text, thinking or a piece of a call
        self._parts = GeminiParts(include_thoughts)
        self._raw_usage: dict[str, Any] = {}
        self._message_id: Any = None
        self._stop_reason: Any = None
        self._block: dict[str, Any] = {}  # the open block, its deltas gathered
        self._json = ""
        self._ended = False

    @property
    def usage(self) -> Usage | None:
        """What the upstream reported so far (`message_delta` counts override `message_start`'s)."""
        return anthropic_usage(self._raw_usage) if self._raw_usage else None

    @property
    def ended(self) -> bool:
        """The upstream ended its stream itself (`message_stop` or an `error` event)."""
        return self._ended

    def feed(self, event: Mapping[str, Any]) -> list[JSON]:
        """The chunks for one Anthropic event."""
        kind = event.get("type")
        if self._ended:
            return []
        if kind == "error":
            self._ended = True
            return [self._error(event.get("error"))]
        parts: list[JSON] = []
        if kind == "message_start":
            message = event.get("message")
            if isinstance(message, Mapping):
                self._message_id = message.get("id")
                self._merge_usage(message.get("usage"))
        elif kind == "content_block_start":
            block = event.get("content_block")
            self._block, self._json = (dict(block) if isinstance(block, Mapping) else {}), ""
            if self._block.get("type") == "text":
                self._text(self._block.get("text"), parts)
        elif kind == "content_block_delta":
            self._delta(event.get("delta"), parts)
        elif kind == "content_block_stop":
            self._stop(parts)
        elif kind == "message_delta":
            self._merge_usage(event.get("usage"))
            delta = event.get("delta")
            if isinstance(delta, Mapping) and delta.get("stop_reason") is not None:
                self._stop_reason = delta["stop_reason"]
        elif kind == "message_stop":
            return self.finish()
        return [self._chunk(parts)] if parts else []

    def finish(self) -> list[JSON]:
        """The last chunk (held signature, `finishReason`, `usageMetadata`), unless already sent."""
        if self._ended:
            return []
        self._ended = True
        return [
            gemini_envelope(
                self._parts.rest(),
                finish_reason=gemini_finish_reason(self._stop_reason),
                usage=self._raw_usage,
                model_version=self.model_version,
                message_id=self._message_id,
            )
        ]

    def _delta(self, delta: Any, parts: list[JSON]) -> None:
        if not isinstance(delta, Mapping):
            return
        kind = delta.get("type")
        block = self._block
        if kind == "text_delta" and block.get("type") == "text":
            self._text(delta.get("text"), parts)
        elif kind == "thinking_delta" and block.get("type") == "thinking":
            piece = delta.get("thinking")
            if isinstance(piece, str) and piece:
                block["thinking"] = str(block.get("thinking") or "") + piece
                self.output_events += 1
                if self._parts.include_thoughts:
                    parts.append({"text": piece, "thought": True})
        elif kind == "signature_delta" and block.get("type") == "thinking":
            block["signature"] = str(block.get("signature") or "") + str(delta.get("signature") or "")
        elif kind == "input_json_delta" and block.get("type") == "tool_use":
            piece = delta.get("partial_json")
            if isinstance(piece, str) and piece:
                self._json += piece
                self.output_events += 1

    def _text(self, text: Any, parts: list[JSON]) -> None:
        if isinstance(text, str) and text:
            parts.append(self._parts.signed({"text": text}))
            self.output_events += 1

    def _stop(self, parts: list[JSON]) -> None:
        block, self._block = self._block, {}
        kind = block.get("type")
        if kind in ("thinking", "redacted_thinking"):
            self._parts.thinking(block)  # its thought text went already, delta by delta
        elif kind == "tool_use":
            args = orjson.loads(self._json) if self._json else block.get("input")
            call = {"id": block.get("id"), "name": block.get("name"), "args": args or {}}
            parts.append(self._parts.signed({"functionCall": call}))

    def _chunk(self, parts: list[JSON]) -> JSON:
        return gemini_envelope(
            parts,
            finish_reason=None,
            usage=None,
            model_version=self.model_version,
            message_id=self._message_id,
        )

    def _merge_usage(self, usage: Any) -> None:
        if isinstance(usage, Mapping):
            self._raw_usage.update({k: v for k, v in usage.items() if v is not None})

    def _error(self, error: Any) -> JSON:
        error = error if isinstance(error, Mapping) else {}
        kind, message = error.get("type"), error.get("message")
        status = _STATUS_OF_TYPE.get(kind, 500) if isinstance(kind, str) else 500
        text = message if isinstance(message, str) and message else "The upstream failed mid-stream."
        return gemini_error_object(status, text)
