"""The relays for the paths where client and upstream speak the same dialect: bytes pass through, read
only for usage on the way.

OpenAI → OpenAI, event by event: the gateway always asks the upstream for
`stream_options.include_usage`; when the client did not, this removes what that option adds (the
`"usage": null` on every chunk and the final `choices: []` usage chunk) so the client sees exactly the
stream it asked for. Events pass through byte for byte otherwise.

Anthropic → Anthropic: the bytes pass unchanged; events are decoded only to read usage.

Pure and synchronous: `feed` bytes in, bytes out.
"""

from __future__ import annotations

from typing import Any

import orjson

from llmgw.errors import GatewayError, render
from llmgw.relay.streams.sse import SSEDecoder
from llmgw.translate.usage import Usage, anthropic_usage, openai_usage

# Structural JSON: inside a string the quotes would be escaped, so these cannot match string content.
_NULL_USAGE = (b',"usage":null', b', "usage": null')
_HAS_USAGE = (b'"usage":{', b'"usage": {')


class OpenAIPassthroughRelay:
    def __init__(self, client_wants_usage: bool) -> None:
        self.client_wants_usage = client_wants_usage
        self.usage: Usage | None = None
        self.events = 0  # data events relayed, the usage chunk excluded
        self.content_events = 0  # chunks that carried generated text or tool-call pieces
        self.saw_done = False
        self._buf = b""

    def feed(self, chunk: bytes) -> bytes:
        """Bytes to send to the client for this piece of upstream stream (complete events only)."""
        if b"\r" in chunk:
            chunk = chunk.replace(b"\r\n", b"\n")
        buf = self._buf + chunk if self._buf else chunk
        end = buf.rfind(b"\n\n")
        if end < 0:
            self._buf = buf
            return b""
        self._buf = buf[end + 2 :]
        complete = buf[: end + 2]
        if complete.count(b"\n\n") == 1:
            return self._event(complete)
        return b"".join(self._event(e + b"\n\n") for e in complete[:-2].split(b"\n\n"))

    @staticmethod
    def error_event(exc: GatewayError) -> bytes:
        return render(exc, "openai", stream=True)

    def flush(self) -> bytes:
        """Whatever trailing partial event the upstream left (passed on unchanged)."""
        rest, self._buf = self._buf, b""
        return rest

    def _event(self, event: bytes) -> bytes:
        if event.startswith(b"data: [DONE]") or event.startswith(b"data:[DONE]"):
            self.saw_done = True
            return event
        if any(m in event for m in _HAS_USAGE):
            return self._usage_event(event)
        self.events += 1
        if _carries_output(event):
            self.content_events += 1
        if not self.client_wants_usage:
            for m in _NULL_USAGE:
                if m in event:
                    event = event.replace(m, b"")
        return event

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


def _carries_output(event: bytes) -> bool:
    """Whether a chunk carries generated output (text, or a piece of a tool call); a cheap byte test."""
    if b'"tool_calls"' in event:
        return True
    if b'"delta":{"' in event and b'"content":""' not in event:
        return True
    return b'"text":"' in event and b'"text":""' not in event  # legacy completions


def _data_of(event: bytes) -> bytes | None:
    lines = [ln[5:].lstrip(b" ") for ln in event.split(b"\n") if ln.startswith(b"data:")]
    return b"\n".join(lines) if lines else None


class AnthropicPassthroughRelay:
    """Anthropic → Anthropic: bytes pass unchanged; events are decoded only to read usage."""

    def __init__(self) -> None:
        self._decoder = SSEDecoder()
        self._start: Usage | None = None
        self._final: Usage | None = None
        self.content_events = 0
        self.saw_done = False

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
        for event in self._decoder.feed(chunk):
            self._observe(event.event, event.data)
        return chunk

    def flush(self) -> bytes:
        for event in self._decoder.flush():
            self._observe(event.event, event.data)
        return b""

    def _observe(self, name: str | None, data: str) -> None:
        if name == "content_block_delta":
            self.content_events += 1
        elif name in ("message_start", "message_delta", "message_stop"):
            try:
                payload = orjson.loads(data)
            except orjson.JSONDecodeError:
                return
            if name == "message_start":
                message = payload.get("message") if isinstance(payload, dict) else None
                self._start = anthropic_usage(message.get("usage") if isinstance(message, dict) else None)
            elif name == "message_delta":
                self._final = anthropic_usage(payload.get("usage") if isinstance(payload, dict) else None)
            else:
                self.saw_done = True

    @staticmethod
    def error_event(exc: GatewayError) -> bytes:
        return render(exc, "anthropic", stream=True)
