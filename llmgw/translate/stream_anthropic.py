"""Anthropic stream events, the hub of stream translation: writing them, and reading them as OpenAI chunks.

`AnthropicEventWriter` builds a well-formed Anthropic event sequence for the translators that produce
one (`message_start` first, one content block open at a time, indices 0, 1, 2… in order, every block
stopped, `message_delta` then `message_stop` last). `AnthropicToOpenAIStream` turns Anthropic events into
OpenAI `chat.completion.chunk`s. Pure and synchronous.

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
  `error_dialects`; the stream ends there.
- The translator never writes `data: [DONE]`: the caller sends `llmgw.sse.OPENAI_DONE` after `finish()`.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from llmgw.errors import error_body
from llmgw.translate.error_dialects import Dialect, parse_upstream_error
from llmgw.translate.openai_anthropic import FINISH_REASONS
from llmgw.translate.usage import Usage, anthropic_usage

AnthropicEvent = dict[str, Any]
OpenAIChunk = dict[str, Any]

_EMPTY_BLOCKS: dict[str, dict[str, str]] = {
    "text": {"type": "text", "text": ""},
    "thinking": {"type": "thinking", "thinking": "", "signature": ""},
}


def new_id(prefix: str) -> str:
    """A fresh identifier in the style of the dialect (`msg_…`, `toolu_…`, `chatcmpl-…`)."""
    return prefix + uuid.uuid4().hex[:24]


class AnthropicEventWriter:
    """Builds a well-formed Anthropic event sequence; events collect until `take()`."""

    def __init__(self, model: str, message_id: str | None = None) -> None:
        self.model = model
        self.message_id = message_id or new_id("msg_")
        self.started = False
        self.ended = False  # `message_stop` or `error` written: nothing more may follow
        self.tool_blocks = 0
        self._index = -1
        self._open: str | None = None  # the type of the open block
        self._out: list[AnthropicEvent] = []

    def take(self) -> list[AnthropicEvent]:
        out, self._out = self._out, []
        return out

    def start(self, input_tokens: int = 0) -> None:
        """`message_start` (once). The real usage comes in `message_delta`, which the SDKs let override it."""
        if self.started:
            return
        self.started = True
        message: dict[str, Any] = {
            "id": self.message_id,
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": input_tokens, "output_tokens": 0},
        }
        self._out.append({"type": "message_start", "message": message})

    def text(self, text: str) -> None:
        self._delta("text", {"type": "text_delta", "text": text})

    def thinking(self, text: str) -> None:
        self._delta("thinking", {"type": "thinking_delta", "thinking": text})

    def signature(self, signature: str) -> None:
        """Sign the open thinking block (or a new, empty one) and close it."""
        self._delta("thinking", {"type": "signature_delta", "signature": signature})
        self.close_block()

    def tool_use(self, tool_id: str, name: str) -> None:
        """Open a `tool_use` block; its input follows as `tool_input` pieces."""
        self._open_block({"type": "tool_use", "id": tool_id, "name": name, "input": {}})
        self.tool_blocks += 1

    def tool_input(self, partial_json: str) -> None:
        """A piece of the open `tool_use` block's input JSON."""
        self._out.append(
            {
                "type": "content_block_delta",
                "index": self._index,
                "delta": {"type": "input_json_delta", "partial_json": partial_json},
            }
        )

    def close_block(self) -> None:
        if self._open is not None:
            self._out.append({"type": "content_block_stop", "index": self._index})
            self._open = None

    def end(self, stop_reason: str, usage: dict[str, Any]) -> None:
        """Close the open block, then `message_delta` (stop reason, final usage) and `message_stop`."""
        if self.ended:
            return
        self.start()
        self.close_block()
        delta = {"stop_reason": stop_reason, "stop_sequence": None}
        self._out.append({"type": "message_delta", "delta": delta, "usage": usage})
        self._out.append({"type": "message_stop"})
        self.ended = True

    def upstream_error(self, dialect: Dialect, payload: Mapping[str, Any]) -> None:
        """The upstream's in-stream error object as an Anthropic `error` event (typed as `error_dialects`
        does for the whole gateway); like Anthropic's, the stream ends there: no block stops, no
        `message_stop`."""
        if not self.ended:
            self._out.append(
                error_body(parse_upstream_error(dialect, 200, orjson.dumps(dict(payload))), "anthropic")
            )
            self.ended = True

    def _delta(self, kind: str, delta: dict[str, Any]) -> None:
        if self._open != kind:
            self._open_block(dict(_EMPTY_BLOCKS[kind]))
        self._out.append({"type": "content_block_delta", "index": self._index, "delta": delta})

    def _open_block(self, block: dict[str, Any]) -> None:
        self.start()
        self.close_block()
        self._index += 1
        self._open = block["type"]
        self._out.append({"type": "content_block_start", "index": self._index, "content_block": block})


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

    def feed(self, event: Mapping[str, Any]) -> list[OpenAIChunk]:
        """The chunks for one Anthropic event (`ping` and anything after the end give none)."""
        kind = event.get("type")
        if self._ended or kind == "ping":
            return []
        if kind == "error":
            self._ended = True
            return [error_body(parse_upstream_error("anthropic", 200, orjson.dumps(dict(event))), "openai")]
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
        reason = FINISH_REASONS.get(stop_reason) if isinstance(stop_reason, str) else None
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
        u = self.usage or Usage()
        prompt, completion = u.prompt_tokens or 0, u.completion_tokens or 0
        usage: dict[str, Any] = {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
            "prompt_tokens_details": {"cached_tokens": u.cached_tokens or 0},
        }
        details = self._raw_usage.get("output_tokens_details")
        thinking = details.get("thinking_tokens") if isinstance(details, Mapping) else None
        if isinstance(thinking, int) and not isinstance(thinking, bool):
            usage["completion_tokens_details"] = {"reasoning_tokens": thinking}
        chunk = self._envelope([])
        chunk["usage"] = usage
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
