"""Writing Anthropic stream events, the hub of stream translation, for the translators that produce them.

`AnthropicEventWriter` builds a well-formed Anthropic event sequence: `message_start` first, one content
block open at a time, indices 0, 1, 2… in order, every block stopped, `message_delta` then
`message_stop` last; an upstream error instead ends it with an `error` event. `ToAnthropicStream` is the
base of the translators that write through it (OpenAI and Gemini upstreams): the writer, the usage seen
so far, and `finish()`. Pure and synchronous.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from llmgw.dialects import UpstreamDialect
from llmgw.translate.hub import AnthropicUsage, new_id
from llmgw.translate.usage import Usage
from llmgw.wire import error_event
from llmgw.wire.upstream_errors import parse_upstream_error

__all__ = ["AnthropicEvent", "AnthropicEventWriter", "ToAnthropicStream"]

AnthropicEvent = dict[str, Any]

_EMPTY_BLOCKS: dict[str, dict[str, str]] = {
    "text": {"type": "text", "text": ""},
    "thinking": {"type": "thinking", "thinking": "", "signature": ""},
}


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

    def end(self, stop_reason: str, usage: AnthropicUsage) -> None:
        """Close the open block, then `message_delta` (stop reason, final usage) and `message_stop`."""
        if self.ended:
            return
        self.start()
        self.close_block()
        delta = {"stop_reason": stop_reason, "stop_sequence": None}
        self._out.append({"type": "message_delta", "delta": delta, "usage": usage})
        self._out.append({"type": "message_stop"})
        self.ended = True

    def upstream_error(self, dialect: UpstreamDialect, payload: Mapping[str, Any]) -> None:
        """The upstream's in-stream error object as an Anthropic `error` event (typed as `llmgw.wire`
        does for the whole gateway); like Anthropic's, the stream ends there: no block stops, no
        `message_stop`."""
        if not self.ended:
            self._out.append(
                error_event(parse_upstream_error(dialect, 200, orjson.dumps(dict(payload))), "anthropic")
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


class ToAnthropicStream:
    """Base of the stream translators that write Anthropic events; a subclass writes the end in `_end()`."""

    def __init__(self, model: str, message_id: str | None = None) -> None:
        self._w = AnthropicEventWriter(model, message_id)
        self._id_given = message_id is not None  # else the id comes from the upstream's first chunk
        self._usage: Usage | None = None
        self.output_events = 0  # upstream pieces that carried output (to estimate tokens of a cut stream)

    @property
    def usage(self) -> Usage | None:
        return self._usage

    @property
    def ended(self) -> bool:
        """The upstream ended its stream itself (its last event, or an error): not cut short."""
        return self._w.ended

    def finish(self) -> list[AnthropicEvent]:
        """At upstream end of stream: whatever closing events are missing."""
        if not self._w.ended:
            self._end()
        return self._w.take()

    def _end(self) -> None:
        raise NotImplementedError
