"""The relays for the paths where client and upstream speak the same dialect: bytes pass through, read
only for usage on the way.

OpenAI → OpenAI, event by event: the gateway always asks the upstream for
`stream_options.include_usage`; when the client did not, this removes what that option adds (the
`"usage": null` on every chunk and the final `choices: []` usage chunk) so the client sees exactly the
stream it asked for. Events pass through byte for byte otherwise.

Anthropic → Anthropic: the bytes pass unchanged; events are decoded only to read usage.

Responses → Responses (OpenAI's own API): the bytes pass unchanged; each event's name is read (its `event:`
line, else its data's `type`), and only the few events that matter are decoded: `response.created` (its
Response is the skeleton of a failure the gateway writes, `responses_state.py`) and the terminal one,
`response.completed` / `.incomplete` / `.failed`, whose Response has the usage and which ends the stream
(a failed response is also the upstream's error, as is an `error` event). Every `*.delta` event is
content.

Both pass whole events only (line ends made `\n` where the upstream used `\r`): at the upstream's end
of stream an unterminated last event goes on only if whole, never half of one. `saw_done` says the
upstream ended its stream itself (OpenAI: `[DONE]`, or the usage chunk after the finish reason;
Anthropic: `message_stop`), `upstream_error` that it ended it with an error event instead.

Pure and synchronous: `feed` bytes in, bytes out.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from llmgw.errors import GatewayError
from llmgw.relay.streams.responses_state import ResponsesStreamState
from llmgw.relay.streams.sse import (
    DEFAULT_MAX_EVENT_BYTES,
    EventSplitter,
    SSEDecoder,
    WholeEventRelay,
    whole_last_event,
)
from llmgw.translate.usage import Usage, anthropic_usage, openai_usage, responses_usage
from llmgw.wire import render
from llmgw.wire.responses import TERMINAL, stream_error_code

# Structural JSON: inside a string the quotes would be escaped, so these cannot match string content.
# This runs for every event of every OpenAI stream, and each scan of an event costs (300-500 ns for a
# 300-byte chunk here): each key is found once, what follows it read in place (with or without a space
# after the colon), and from the end where OpenAI puts it (`…"finish_reason":null}],"usage":null,
# "obfuscation":"…"}`); what a delta carries is looked for only from `"choices":` on.
_USAGE = b'"usage":'
_NULL_USAGE = ((b",", b"null"), (b", ", b" null"))  # before and after the key, by spelling
_FINISH = b'"finish_reason":'
_CHOICES = b'"choices":'
_DONE = (b"data: [DONE]", b"data:[DONE]")
_ERROR = (b'data: {"error"', b'data:{"error"')


class OpenAIPassthroughRelay:
    def __init__(self, client_wants_usage: bool, max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES) -> None:
        self.client_wants_usage = client_wants_usage
        self.usage: Usage | None = None
        self.events = 0  # data events relayed, the usage chunk excluded
        self.content_events = 0  # chunks that carried generated text or tool-call pieces
        self.saw_done = False
        self.upstream_error: str | None = None
        self._finished = False  # a chunk carried a finish_reason
        self._splitter = EventSplitter(max_event_bytes)

    def feed(self, chunk: bytes) -> bytes:
        """Bytes to send to the client for this piece of upstream stream (complete events only)."""
        complete = self._splitter.feed(chunk)
        if not complete:
            return b""
        if complete.count(b"\n\n") == 1:
            return self._event(complete)
        return b"".join([self._event(e + b"\n\n") for e in complete[:-2].split(b"\n\n")])

    @staticmethod
    def error_event(exc: GatewayError) -> bytes:
        return render(exc, "openai", stream=True)

    def flush(self) -> bytes:
        """At the upstream's end of stream: its unterminated last event if whole, never half of one.
        The stream ended properly with `[DONE]`, or with the usage chunk after the finish reason."""
        rest = self._splitter.rest()
        whole = whole_last_event(rest) if rest.strip() else None
        out = self._event(whole) if whole is not None else b""
        if self._finished and self.usage is not None:
            self.saw_done = True
        return out

    def _event(self, event: bytes) -> bytes:
        if event.startswith(_DONE):
            self.saw_done = True
            return event
        if event.startswith(_ERROR):
            self._upstream_error(event)
            return event
        at = event.rfind(_FINISH)
        if at >= 0 and (event[at + 16 : at + 17] == b'"' or event[at + 16 : at + 18] == b' "'):
            self._finished = True  # a finish reason, not null
        at = event.rfind(_USAGE)
        after = event[at + 8 : at + 10] if at >= 0 else b""
        if after[:1] == b"{" or after == b" {":
            return self._usage_event(event)
        self.events += 1
        if _carries_output(event, max(event.rfind(_CHOICES), 0)):
            self.content_events += 1
        if at >= 0 and not self.client_wants_usage:
            for before, null in _NULL_USAGE:  # the `"usage": null` the gateway's include_usage added
                end = at + 8 + len(null)
                if event[at + 8 : end] == null and event[at - len(before) : at] == before:
                    return event[: at - len(before)] + event[end:]
        return event

    def _upstream_error(self, event: bytes) -> None:
        """The upstream's in-stream error: it ends the stream; the ledger gets its code or type."""
        try:
            payload = orjson.loads(_data_of(event) or b"")
        except orjson.JSONDecodeError:
            payload = None
        error = payload.get("error") if isinstance(payload, dict) else None
        kind = (error.get("code") or error.get("type")) if isinstance(error, dict) else None
        self.upstream_error = str(kind or "upstream_error")

    def _usage_event(self, event: bytes) -> bytes:
        data = _data_of(event)
        payload: Any = None
        if data is not None:
            try:
                payload = orjson.loads(data)
            except orjson.JSONDecodeError:
                payload = None
        usage = openai_usage(payload)
        if usage is not None:
            self.usage = usage
        if self.client_wants_usage or not isinstance(payload, dict):
            if isinstance(payload, dict) and payload.get("choices"):
                self.events += 1
            return event
        if not payload.get("choices"):
            return b""  # the usage-only chunk the client did not ask for
        self.events += 1
        self.content_events += 1
        payload.pop("usage", None)
        return b"data: " + orjson.dumps(payload) + b"\n\n"


def _carries_output(event: bytes, start: int = 0) -> bool:
    """Whether a chunk carries generated output (text, or a piece of a tool call) from `start` on (its
    `"choices":`); a cheap byte test."""
    if event.find(b'"tool_calls"', start) >= 0:
        return True
    if event.find(b'"delta":{"', start) >= 0 and event.find(b'"content":""', start) < 0:
        return True
    return event.find(b'"text":"', start) >= 0 and event.find(b'"text":""', start) < 0  # legacy completions


def _data_of(event: bytes) -> bytes | None:
    lines = [ln[5:].lstrip(b" ") for ln in event.split(b"\n") if ln.startswith(b"data:")]
    return b"\n".join(lines) if lines else None


class AnthropicPassthroughRelay:
    """Anthropic → Anthropic: whole events pass unchanged; they are decoded only to read usage."""

    def __init__(self, max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES) -> None:
        self._splitter = EventSplitter(max_event_bytes)
        self._decoder = SSEDecoder(max_event_bytes)
        self._start: Usage | None = None
        self._final: Usage | None = None
        self.content_events = 0
        self.saw_done = False  # `message_stop` came
        self.upstream_error: str | None = None

    @property
    def usage(self) -> Usage | None:
        if self._start is None:
            return self._final
        if self._final is None:
            return self._start
        # message_start has the input side, message_delta the (cumulative) output side.
        merged = Usage(**{f: getattr(self._final, f) or getattr(self._start, f) for f in Usage.__slots__})
        if merged.prompt_tokens is not None:
            merged.total_tokens = merged.prompt_tokens + (merged.completion_tokens or 0)
        return merged

    def feed(self, chunk: bytes) -> bytes:
        complete = self._splitter.feed(chunk)
        if complete:
            for event in self._decoder.feed(complete):
                self._observe(event.event, event.data)
        return complete

    def flush(self) -> bytes:
        """At the upstream's end of stream: its unterminated last event if whole, never half of one."""
        rest = self._splitter.rest()
        whole = whole_last_event(rest) if rest.strip() else None
        if whole is None:
            return b""
        for event in self._decoder.feed(whole):
            self._observe(event.event, event.data)
        return whole

    def _observe(self, name: str | None, data: str) -> None:
        if name == "content_block_delta":
            self.content_events += 1
        elif name in ("message_start", "message_delta", "message_stop", "error"):
            try:
                payload = orjson.loads(data)
            except orjson.JSONDecodeError:
                payload = None
            if name == "message_start":
                message = payload.get("message") if isinstance(payload, dict) else None
                self._start = anthropic_usage(message.get("usage") if isinstance(message, dict) else None)
            elif name == "message_delta":
                self._final = anthropic_usage(payload.get("usage") if isinstance(payload, dict) else None)
            elif name == "error":
                error = payload.get("error") if isinstance(payload, dict) else None
                kind = error.get("type") if isinstance(error, dict) else None
                self.upstream_error = str(kind or "upstream_error")
            else:
                self.saw_done = True

    @staticmethod
    def error_event(exc: GatewayError) -> bytes:
        return render(exc, "anthropic", stream=True)


_EVENT_LINE = b"event:"
_TYPE = b'"type":"'


class ResponsesPassthroughRelay(WholeEventRelay):
    """Responses → Responses: whole events pass unchanged (see the module docstring)."""

    def __init__(
        self,
        max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
        on_response: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        super().__init__(max_event_bytes)
        self._state = ResponsesStreamState()
        self._on_response = on_response  # given the finished Response before its event is sent
        self.usage: Usage | None = None
        self.content_events = 0
        self.saw_done = False  # the terminal event came
        self.upstream_error: str | None = None

    def error_event(self, exc: GatewayError) -> bytes:
        return self._state.failure(exc)

    def observe(self, event: bytes) -> None:
        self._state.saw_bytes(event)
        name = _event_name(event)
        if name is None:
            return
        if name.endswith(b".delta"):
            self.content_events += 1
        elif name == b"response.created":
            self._state.created(_data_of(event) or b"")
        elif name in _TERMINAL or name == b"error":
            payload = _json_data(event)
            if name != b"error":
                self.saw_done = True
                self.usage = responses_usage(payload.get("response")) or self.usage
            if name != b"response.completed" and name != b"response.incomplete":
                self.upstream_error = stream_error_code({**payload, "type": name.decode()})
            elif self._on_response is not None and isinstance(response := payload.get("response"), dict):
                self._on_response(response)


_TERMINAL = frozenset(t.encode() for t in TERMINAL)


def _event_name(event: bytes) -> bytes | None:
    """An event's name: its `event:` line (OpenAI names every event so), else its data's `type`."""
    if event.startswith(_EVENT_LINE):
        end = event.find(b"\n")
        return event[len(_EVENT_LINE) : end if end >= 0 else len(event)].strip()
    kind = _json_data(event).get("type")
    return kind.encode() if isinstance(kind, str) else None


def _json_data(event: bytes) -> dict[str, Any]:
    try:
        payload = orjson.loads(_data_of(event) or b"")
    except orjson.JSONDecodeError:
        return {}
    return payload if isinstance(payload, dict) else {}
