"""OpenAI `chat.completion.chunk`s → Anthropic stream events: Anthropic clients of OpenAI-format upstreams.

The message assembled from the events is the one `openai_response_to_anthropic` gives for the same
answer whole. Mapping decisions:
- `message_start` goes out with the first chunk (id `msg_` + the chunk id without `chatcmpl-`), with
  `input_tokens: 0`: OpenAI reports usage only in its last chunk. The real numbers are in
  `message_delta.usage` (`input_tokens` = prompt - cached, `cache_read_input_tokens` = cached,
  `cache_creation_input_tokens` 0, `output_tokens` = completion, reasoning tokens →
  `output_tokens_details.thinking_tokens`); the Anthropic SDK lets `message_delta` usage override
  `message_start`'s.
- `delta.reasoning_content` (DeepSeek, vLLM) or else `delta.reasoning` (OpenRouter, Ollama) → a `thinking`
  block. OpenAI chunks carry no signature: the block keeps `signature: ""`, no `signature_delta`.
- `delta.content` and `delta.refusal` → a `text` block.
- Each tool call (`tool_calls[].index`) → its own `tool_use` block (id and name from its first piece; a
  missing id becomes `toolu_…`; a call whose name comes late waits for it); argument pieces →
  `input_json_delta`. Anthropic allows one open block at a time, so a call streams live while it is the
  open block and other calls' pieces are buffered: the open call closes once its arguments form a
  complete JSON value, then the next call opens with what was buffered. OpenAI sends calls one after
  another, so they all stream live; interleaved calls still come out whole and separate. Text or
  reasoning after tool calls closes them (pieces for a closed call would be dropped; no upstream is
  known to send them).
- Arguments that do not start as a JSON object are held back and sent whole as `{"_raw": "<them>"}`
  when the call closes (as the non-stream translation), so the client's SDK does not fail parsing them.
  Arguments that start as an object but end malformed (cut by `length`) stream as they are.
- Only choice 0 is translated (Anthropic has no `n`).
- `stop_reason`: `tool_use` when a call was made (some servers say "stop" then); else `refusal` for a
  refusal without text; else by `finish_reason` (`hub.anthropic_stop_reason`): `length` → `max_tokens`,
  `content_filter` → `refusal`, anything else (`stop`, none) → `end_turn`, `tool_calls` and
  `function_call` included when no call came (there is no `tool_use` block to answer).
- `message_delta` + `message_stop` go out with the usage chunk (`choices: []`) that follows the finish
  reason, or at `finish()` when the upstream sends none.
- An error chunk (`{"error": ...}`) → an Anthropic `error` event typed by `llmgw.wire.anthropic`, which
  ends the stream.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from llmgw.translate.hub import anthropic_stop_reason, anthropic_usage_from_openai, new_id
from llmgw.translate.streams.anthropic_events import AnthropicEvent, ToAnthropicStream
from llmgw.translate.usage import openai_usage

__all__ = ["OpenAIToAnthropicStream"]

_PENDING, _LIVE, _DONE = 0, 1, 2
_JSON_SIGNIFICANT = re.compile(r'[\\"{}\[\]]')


class _JSONEnd:
    """Tells, piece by piece, when a JSON value is complete, and whether it is an object."""

    __slots__ = ("_depth", "_escaped", "_in_string", "complete", "first")

    def __init__(self) -> None:
        self.complete = False
        self.first = ""  # the first non-blank character
        self._depth = 0
        self._in_string = False
        self._escaped = False  # the previous piece ended with a backslash inside a string

    def feed(self, piece: str) -> None:
        if self.complete:
            return
        if not self.first:
            self.first = piece.lstrip()[:1]
        skip = 0 if self._escaped else -1
        self._escaped = False
        for match in _JSON_SIGNIFICANT.finditer(piece):
            i, ch = match.start(), match.group()
            if i == skip:
                continue
            if self._in_string:
                if ch == "\\":
                    skip = i + 1
                    self._escaped = skip == len(piece)
                elif ch == '"':
                    self._in_string = False
            elif ch == '"':
                self._in_string = True
            elif ch in "{[":
                self._depth += 1
            elif ch in "}]" and self._depth > 0:
                self._depth -= 1
                if self._depth == 0:
                    self.complete = True
                    return


@dataclass(slots=True)
class _ToolCall:
    id: str
    name: str
    state: int = _PENDING
    pieces: list[str] = field(default_factory=list)  # arguments not sent yet
    json: _JSONEnd = field(default_factory=_JSONEnd)

    @property
    def raw(self) -> bool:
        """Arguments that are not a JSON object: held back, sent as `{"_raw": ...}`."""
        return self.json.first not in ("", "{")


class OpenAIToAnthropicStream(ToAnthropicStream):
    """OpenAI stream chunks (parsed) → Anthropic stream events."""

    def __init__(self, model: str, message_id: str | None = None) -> None:
        super().__init__(model, message_id)
        self._finish_reason: str | None = None
        self._text = self._refusal = False  # text / refusal pieces seen
        self._calls: dict[int, _ToolCall] = {}
        self._last_index = -1
        self._pending: list[_ToolCall] = []  # calls waiting for their block, in order of appearance
        self._live: _ToolCall | None = None  # the call whose block is open
        # output_events counts chunks that carried text, reasoning, or a piece of a tool call

    def feed(self, chunk: Mapping[str, Any]) -> list[AnthropicEvent]:
        """The events for one upstream chunk."""
        w = self._w
        if w.ended:
            return []
        if chunk.get("error") is not None:
            w.upstream_error("openai", chunk)
            return w.take()
        if not w.started:
            chunk_id = chunk.get("id")
            if not self._id_given and isinstance(chunk_id, str) and chunk_id:
                w.message_id = "msg_" + chunk_id.removeprefix("chatcmpl-")
            w.start()
        has_usage = isinstance(chunk.get("usage"), Mapping)
        if has_usage:
            self._usage = openai_usage(chunk)
        choices = chunk.get("choices")
        if isinstance(choices, list):
            for choice in choices:
                if isinstance(choice, Mapping) and choice.get("index", 0) == 0:
                    self._choice(choice)
        if has_usage and not choices and self._finish_reason is not None:
            self._end()  # the include_usage chunk: the upstream's last
        return w.take()

    def _choice(self, choice: Mapping[str, Any]) -> None:
        delta = choice.get("delta")
        if isinstance(delta, Mapping):
            carried = False
            reasoning = delta.get("reasoning_content") or delta.get("reasoning")
            if isinstance(reasoning, str) and reasoning:
                self._settle_calls()
                self._w.thinking(reasoning)
                carried = True
            for key in ("content", "refusal"):
                text = delta.get(key)
                if isinstance(text, str) and text:
                    self._settle_calls()
                    self._w.text(text)
                    if key == "content":
                        self._text = True
                    else:
                        self._refusal = True
                    carried = True
            calls = delta.get("tool_calls")
            if isinstance(calls, list):
                for call in calls:
                    if isinstance(call, Mapping):
                        carried = self._call_piece(call) or carried
            if carried:
                self.output_events += 1
        reason = choice.get("finish_reason")
        if isinstance(reason, str) and reason:
            self._finish_reason = reason

    def _call_piece(self, piece: Mapping[str, Any]) -> bool:
        """One `tool_calls[]` entry; True when it carried a new call or argument text."""
        function = piece.get("function")
        function = function if isinstance(function, Mapping) else {}
        call_id, name = piece.get("id"), function.get("name")
        index = piece.get("index")
        if not isinstance(index, int):  # some OpenAI-compatible servers omit it: a new id is a new call
            known = self._calls.get(self._last_index)
            new = isinstance(call_id, str) and bool(call_id) and (known is None or known.id != call_id)
            index = -len(self._calls) - 1 if new else self._last_index
        self._last_index = index
        call = self._calls.get(index)
        carried = call is None
        if call is None:
            call = _ToolCall(
                call_id if isinstance(call_id, str) and call_id else new_id("toolu_"),
                name if isinstance(name, str) else "",
            )
            self._calls[index] = call
            self._pending.append(call)
        elif call.state == _PENDING and not call.name and isinstance(name, str):
            call.name = name
        args = function.get("arguments")
        if isinstance(args, str) and args and call.state != _DONE:
            carried = True
            call.json.feed(args)
            if call.state == _LIVE and not call.raw:
                self._w.tool_input(args)
            else:
                call.pieces.append(args)
        self._advance()
        return carried

    def _advance(self) -> None:
        """Close the live call once its arguments are complete; open the next waiting one."""
        while True:
            live = self._live
            if live is not None:
                if not live.json.complete or live.raw:
                    return
                self._close(live)
            if not self._pending or not self._pending[0].name:  # a block needs its name
                return
            self._live = self._open(self._pending.pop(0))

    def _open(self, call: _ToolCall) -> _ToolCall:
        self._w.tool_use(call.id, call.name)
        if call.pieces and not call.raw:
            self._w.tool_input("".join(call.pieces))
            call.pieces.clear()
        call.state = _LIVE
        return call

    def _close(self, call: _ToolCall) -> None:
        if call.raw:
            self._w.tool_input(orjson.dumps({"_raw": "".join(call.pieces)}).decode())
            call.pieces.clear()
        self._w.close_block()
        call.state = _DONE
        if call is self._live:
            self._live = None

    def _settle_calls(self) -> None:
        """Close the live call and write out the waiting ones whole (before other content, or at the end)."""
        if self._live is not None:
            self._close(self._live)
        for call in self._pending:
            self._close(self._open(call))
        self._pending.clear()

    def _end(self) -> None:
        self._settle_calls()
        calls = self._w.tool_blocks > 0
        stop = anthropic_stop_reason(
            self._finish_reason, tool_use=calls, refusal=self._refusal and not self._text
        )
        if stop == "tool_use" and not calls:  # finish_reason tool_calls, but no call came: nothing to answer
            stop = "end_turn"
        self._w.end(stop, anthropic_usage_from_openai(self._usage))
