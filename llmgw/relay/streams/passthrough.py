"""Relays an OpenAI-format SSE stream to the client event by event, picking up usage on the way.

The gateway always asks the upstream for `stream_options.include_usage`; when the client did not, this
removes what that option adds (the `"usage": null` on every chunk and the final `choices: []` usage
chunk) so the client sees exactly the stream it asked for. Events pass through byte for byte
otherwise. Pure and synchronous: `feed` bytes in, bytes out.
"""

from __future__ import annotations

from typing import Any

import orjson

from llmgw.errors import GatewayError, render
from llmgw.translate.usage import Usage, openai_usage

# Structural JSON: inside a string the quotes would be escaped, so these cannot match string content.
_NULL_USAGE = (b',"usage":null', b', "usage": null')
_HAS_USAGE = (b'"usage":{', b'"usage": {')


class OpenAIStreamRelay:
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
