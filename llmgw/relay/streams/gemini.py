"""The stream relays of Gemini clients: a Gemini upstream's `alt=sse` stream passed through, and the
JSON-array framing Gemini streams in without `alt=sse`, around any relay that writes Gemini's events.

Gemini → Gemini (`GeminiPassthroughRelay`): the upstream is always asked for `alt=sse`; whole events
pass unchanged (line ends made `\\n`), each decoded to read its `usageMetadata` (every chunk carries the
running count: the last one is the answer's) and whether a candidate has a `finishReason` (the last
chunk: the upstream ended its stream itself). A chunk holding an `error` object is the upstream's
in-stream error. A chunk with parts is content.

`GeminiArrayRelay`: the client asked without `alt=sse`, so the events its inner relay writes become the
elements of one JSON array: `[` before the first, `,\\r\\n` between, `]` once the inner relay says the
stream ended (its `saw_done` or `upstream_error`). A stream cut short stays open until the gateway's
error element closes it (`error_event`), so the client never reads a cut stream as complete.
"""

from __future__ import annotations

from typing import Any

import orjson

from llmgw.errors import GatewayError
from llmgw.relay.streams import StreamRelay
from llmgw.relay.streams.sse import (
    DEFAULT_MAX_EVENT_BYTES,
    SSEDecoder,
    SSEEvent,
    WholeEventRelay,
)
from llmgw.translate.usage import Usage, gemini_usage
from llmgw.wire import gemini, render


class GeminiPassthroughRelay(WholeEventRelay):
    """Gemini → Gemini, `alt=sse` on both sides: whole events pass unchanged, read for usage."""

    def __init__(self, max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES) -> None:
        super().__init__(max_event_bytes)
        self.usage: Usage | None = None
        self.content_events = 0
        self.saw_done = False  # a chunk with a finishReason came
        self.upstream_error: str | None = None

    @staticmethod
    def error_event(exc: GatewayError) -> bytes:
        return render(exc, "gemini", stream=True)

    def observe(self, event: bytes) -> None:
        lines = [ln[5:].lstrip(b" ") for ln in event.split(b"\n") if ln.startswith(b"data:")]
        if not lines:
            return
        try:
            payload: Any = orjson.loads(b"\n".join(lines))
        except orjson.JSONDecodeError:
            return  # passed on as it came; the client's SDK judges it
        if not isinstance(payload, dict):
            return
        error = payload.get("error")
        if isinstance(error, dict):
            self.upstream_error = str(error.get("status") or error.get("code") or "upstream_error")
            return
        usage = gemini_usage(payload)
        if usage is not None:
            self.usage = usage
        candidates = payload.get("candidates")
        for candidate in candidates if isinstance(candidates, list) else ():
            if not isinstance(candidate, dict):
                continue
            content = candidate.get("content")
            if isinstance(content, dict) and content.get("parts"):
                self.content_events += 1
            if candidate.get("finishReason"):
                self.saw_done = True


class GeminiArrayRelay:
    """The events of `inner` (Gemini's, in SSE) as the elements of one streamed JSON array."""

    def __init__(self, inner: StreamRelay, max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES) -> None:
        self.inner = inner
        self._decoder = SSEDecoder(max_event_bytes)
        self._opened = False
        self._closed = False

    @property
    def saw_done(self) -> bool:
        return self.inner.saw_done

    @saw_done.setter
    def saw_done(self, value: bool) -> None:
        self.inner.saw_done = value

    @property
    def upstream_error(self) -> str | None:
        return self.inner.upstream_error

    @upstream_error.setter
    def upstream_error(self, value: str | None) -> None:
        self.inner.upstream_error = value

    @property
    def usage(self) -> Usage | None:
        return self.inner.usage

    @property
    def content_events(self) -> int:
        return self.inner.content_events

    def feed(self, chunk: bytes) -> bytes:
        return self._elements(self.inner.feed(chunk))

    def flush(self) -> bytes:
        out = self._elements(self.inner.flush())
        out += self._elements_of(self._decoder.flush())
        if self.inner.saw_done or self.inner.upstream_error is not None:
            out += self._close()
        return out

    def error_event(self, exc: GatewayError) -> bytes:
        if self._closed:
            return b""
        return self._element(orjson.dumps(gemini.client_error_body(exc))) + self._close()

    def _elements(self, sse: bytes) -> bytes:
        return self._elements_of(self._decoder.feed(sse)) if sse else b""

    def _elements_of(self, events: list[SSEEvent]) -> bytes:
        return b"".join(self._element(e.data.encode()) for e in events if e.data.strip())

    def _element(self, data: bytes) -> bytes:
        lead = gemini.ARRAY_NEXT if self._opened else gemini.ARRAY_OPEN
        self._opened = True
        return lead + data

    def _close(self) -> bytes:
        if self._closed:
            return b""
        self._closed = True
        return (b"" if self._opened else gemini.ARRAY_OPEN) + gemini.ARRAY_CLOSE
