"""Anthropic stream events → OpenAI `chat.completion.chunk`s: OpenAI clients of Anthropic-format streams.

The events come from an Anthropic upstream, or from `GeminiToAnthropicStream` for a Gemini one. The
completion assembled from the chunks is the one `anthropic_response_to_openai` gives for the same answer
whole. Pure and synchronous.

Mapping decisions (Anthropic → OpenAI):
- `thinking_delta` → `delta.reasoning_content` (the DeepSeek / vLLM field); signatures and
  `redacted_thinking` blocks have no place in OpenAI chunks and are dropped.
- Tool calls are numbered 0, 1, … among tool calls (not Anthropic block indices). A `tool_use` block
  that ends without any `input_json_delta` text gets its start `input` (`"{}"`) as arguments, so the
  assembled call matches the non-stream one (Anthropic streams `partial_json: ""` for an empty input).
- `citations_delta`, server-tool blocks and unknown blocks carry nothing to OpenAI clients: dropped.
- The role chunk goes with the first content block: `{"role": "assistant", "content": ""}` when the
  reply starts with text, `content: null` otherwise (as OpenAI streams tool calls), so a reply without
  text assembles to `content: null`, like the non-stream one.
- `message_delta` gives the finish chunk; with `include_usage` the usage chunk (`choices: []`) follows
  at `message_stop` (or `finish()`), and every other chunk has `"usage": null`, as OpenAI does.
- `id` is `chatcmpl-` + the message id without `msg_`; usage: prompt = input + cache reads + cache
  writes, `cached_tokens` = cache reads, completion = output, `reasoning_tokens` from
  `output_tokens_details.thinking_tokens` if given (all as `anthropic_response_to_openai`).
- Tool-call `arguments` are Anthropic's `partial_json` text as it comes: equal as JSON to the non-stream
  `arguments` (compact JSON), not always byte for byte.
- An `error` event → an OpenAI error chunk `{"error": {message, type, param, code}}`, typed by
  `llmgw.wire.openai`; the stream ends there.
- The translator never writes `data: [DONE]`: the caller sends `llmgw.relay.streams.sse.OPENAI_DONE`
  after `finish()`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from llmgw.translate.hub import OPENAI_FINISH_REASONS, new_id, openai_usage_from_anthropic
from llmgw.translate.usage import Usage, anthropic_usage
from llmgw.wire import error_event
from llmgw.wire.upstream_errors import parse_upstream_error

__all__ = ["AnthropicToOpenAIStream", "OpenAIChunk"]

OpenAIChunk = dict[str, Any]


@dataclass(slots=True)
class _Block:
    kind: str
    tool: int = -1  # 0-based position among the message's tool calls
    args_seen: bool = False
    start_input: Any = None


class AnthropicToOpenAIStream:
    """Anthropic stream events (parsed) → OpenAI `chat.completion.chunk` dicts, for an OpenAI client."""

    def __init__(
        self, model: str, include_usage: bool, created: int | None = None, *, completion_id: str | None = None
    ) -> None:
        self.model = model
        self.include_usage = include_usage
        self.created = int(time.time()) if created is None else created
        self.id = completion_id  # else `chatcmpl-` + the message id, as the non-stream translation
        self.output_events = 0  # deltas that carried text, reasoning, or a piece of a tool call
        self._raw_usage: dict[str, Any] = {}
        self._blocks: dict[Any, _Block] = {}
        self._tools = 0
        self._began = self._finished = self._ended = False

    @property
    def usage(self) -> Usage | None:
        """What the upstream reported so far (`message_delta` counts override `message_start`'s)."""
        return anthropic_usage(self._raw_usage) if self._raw_usage else None

    @property
    def ended(self) -> bool:
        """The upstream ended its stream itself (`message_stop` or an `error` event): not cut short."""
        return self._ended

    def feed(self, event: Mapping[str, Any]) -> list[OpenAIChunk]:
        """The chunks for one Anthropic event (`ping` and anything after the end give none)."""
        kind = event.get("type")
        if self._ended or kind == "ping":
            return []
        if kind == "error":
            self._ended = True
            return [error_event(parse_upstream_error("anthropic", 200, orjson.dumps(dict(event))), "openai")]
        out: list[OpenAIChunk] = []
        if kind == "message_start":
            message = event.get("message")
            if isinstance(message, Mapping):
                self._merge_usage(message.get("usage"))
                message_id = message.get("id")
                if self.id is None and isinstance(message_id, str) and message_id:
                    self.id = "chatcmpl-" + message_id.removeprefix("msg_")
        elif kind == "content_block_start":
            self._block_start(event, out)
        elif kind == "content_block_delta":
            self._block_delta(event, out)
        elif kind == "content_block_stop":
            block = self._blocks.get(event.get("index"))
            if block is not None and block.kind == "tool_use" and not block.args_seen:
                start = block.start_input if isinstance(block.start_input, Mapping) else {}
                out.append(self._tool_chunk({"index": block.tool, "function": {"arguments": _json(start)}}))
        elif kind == "message_delta":
            self._merge_usage(event.get("usage"))
            delta = event.get("delta")
            reason = delta.get("stop_reason") if isinstance(delta, Mapping) else None
            out.extend(self._finish_chunk(reason))
        elif kind == "message_stop":
            out.extend(self.finish())
        return out

    def finish(self) -> list[OpenAIChunk]:
        """At upstream end of stream: the finish chunk and the usage chunk if not sent yet."""
        if self._ended:
            return []
        out: list[OpenAIChunk] = []
        self._begin(None, out)
        out.extend(self._finish_chunk(None))
        if self.include_usage:
            out.append(self._usage_chunk())
        self._ended = True
        return out

    def _begin(self, first: str | None, out: list[OpenAIChunk]) -> None:
        """The role chunk, sent with the first block: `content` is "" when the reply starts with text (or
        is empty), else null, as OpenAI does, so a reply without text assembles to `content: null`."""
        if not self._began:
            self._began = True
            out.append(self._chunk({"role": "assistant", "content": "" if first in (None, "text") else None}))

    def _block_start(self, event: Mapping[str, Any], out: list[OpenAIChunk]) -> None:
        block = event.get("content_block")
        block = block if isinstance(block, Mapping) else {}
        kind = str(block.get("type"))
        entry = self._blocks[event.get("index")] = _Block(kind)
        self._begin(kind, out)
        if kind == "tool_use":
            entry.tool, entry.start_input = self._tools, block.get("input")
            self._tools += 1
            function = {"name": block.get("name"), "arguments": ""}
            call = {"index": entry.tool, "id": block.get("id"), "type": "function", "function": function}
            out.append(self._tool_chunk(call))
            self.output_events += 1
        elif kind in ("text", "thinking"):
            self._text(kind, block.get(kind), out)

    def _block_delta(self, event: Mapping[str, Any], out: list[OpenAIChunk]) -> None:
        delta = event.get("delta")
        if not isinstance(delta, Mapping):
            return
        kind = delta.get("type")
        if kind == "text_delta":
            self._text("text", delta.get("text"), out)
        elif kind == "thinking_delta":
            self._text("thinking", delta.get("thinking"), out)
        elif kind == "input_json_delta":
            block = self._blocks.get(event.get("index"))
            piece = delta.get("partial_json")
            if block is not None and block.kind == "tool_use" and isinstance(piece, str) and piece:
                block.args_seen = True
                out.append(self._tool_chunk({"index": block.tool, "function": {"arguments": piece}}))
                self.output_events += 1
        # signature_delta, citations_delta: nothing to carry

    def _text(self, kind: str, text: Any, out: list[OpenAIChunk]) -> None:
        if isinstance(text, str) and text:
            self._begin(kind, out)
            out.append(self._chunk({"content" if kind == "text" else "reasoning_content": text}))
            self.output_events += 1

    def _finish_chunk(self, stop_reason: Any) -> list[OpenAIChunk]:
        if self._finished:
            return []
        self._finished = True
        reason = OPENAI_FINISH_REASONS.get(stop_reason) if isinstance(stop_reason, str) else None
        if reason is None:
            reason = "tool_calls" if self._tools else "stop"
        return [self._chunk({}, reason)]

    def _chunk(self, delta: dict[str, Any], finish_reason: str | None = None) -> OpenAIChunk:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        chunk = self._envelope([choice])
        if self.include_usage:
            chunk["usage"] = None
        return chunk

    def _tool_chunk(self, call: dict[str, Any]) -> OpenAIChunk:
        return self._chunk({"tool_calls": [call]})

    def _usage_chunk(self) -> OpenAIChunk:
        chunk = self._envelope([])
        chunk["usage"] = openai_usage_from_anthropic(self._raw_usage)
        return chunk

    def _envelope(self, choices: list[dict[str, Any]]) -> OpenAIChunk:
        if self.id is None:  # no message_start came
            self.id = new_id("chatcmpl-")
        return {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": choices,
        }

    def _merge_usage(self, usage: Any) -> None:
        if isinstance(usage, Mapping):
            self._raw_usage.update((k, v) for k, v in usage.items() if v is not None)


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()
