"""Server-sent events: an incremental decoder for upstream streams, and the encoders for each dialect
(kept in `llmgw/sse_encoders.py`, which `errors.render` shares).

The decoder follows the WHATWG event-stream rules: `\\n`, `\\r\\n` and `\\r` line ends (a `\\r\\n`
may be split across two network chunks), `data:` lines joined with `\\n`, `event:` and `id:` fields,
`:` comment lines, one optional space after the colon. It works on bytes and decodes each complete
line, so a UTF-8 character split across chunks is never broken. Pure and synchronous.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from llmgw.sse_encoders import encode_anthropic, encode_openai

__all__ = ["OPENAI_DONE", "SSEDecoder", "SSEEvent", "encode_anthropic", "encode_openai"]

OPENAI_DONE = b"data: [DONE]\n\n"
_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True, slots=True)
class SSEEvent:
    """One event: its `event:` name (None when absent), its joined `data:` lines and its `id:` if any."""

    event: str | None
    data: str
    id: str | None = None

    def json(self) -> Any:
        """The data parsed as JSON. Trailing blanks (Anthropic pads its events with spaces) are ignored."""
        try:
            return orjson.loads(self.data.rstrip(" \t"))
        except orjson.JSONDecodeError as exc:
            name = f"event {self.event!r}" if self.event else "event"
            raise ValueError(f"SSE {name} data is not valid JSON ({exc}): {self.data[:200]!r}") from None


class SSEDecoder:
    """Turns arbitrary slices of an event stream into complete events."""

    __slots__ = ("_buf", "_data", "_event", "_id", "_skip_lf", "_started")

    def __init__(self) -> None:
        self._buf = b""  # the incomplete last line
        self._skip_lf = False  # the previous slice ended with `\r`: a leading `\n` belongs to it
        self._started = False  # past the first bytes, where a byte-order mark may be
        self._data: list[str] = []
        self._event: str | None = None
        self._id: str | None = None

    def feed(self, data: bytes) -> list[SSEEvent]:
        """The events completed by this slice of the stream, in order."""
        if not data:
            return []
        if self._skip_lf:
            self._skip_lf = False
            if data[:1] == b"\n":
                data = data[1:]
        if b"\r" in data:
            self._skip_lf = data.endswith(b"\r")
            data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        buf = self._buf + data if self._buf else data
        if not self._started:
            if _BOM.startswith(buf):  # all of it may still be a byte-order mark
                self._buf = buf
                return []
            self._started = True
            buf = buf.removeprefix(_BOM)
        end = buf.rfind(b"\n")
        if end < 0:
            self._buf = buf
            return []
        self._buf = buf[end + 1 :]
        events: list[SSEEvent] = []
        for line in buf[:end].split(b"\n"):
            self._line(line, events)
        return events

    def flush(self) -> list[SSEEvent]:
        """At the end of the stream: the last event even if no blank line closed it."""
        events: list[SSEEvent] = []
        rest, self._buf = self._buf, b""
        if rest and self._started:
            self._line(rest, events)
        self._line(b"", events)
        return events

    def _line(self, raw: bytes, events: list[SSEEvent]) -> None:
        if not raw:
            if self._data:
                events.append(SSEEvent(self._event, "\n".join(self._data), self._id))
            self._data, self._event, self._id = [], None, None
            return
        if raw[:1] == b":":
            return  # a comment (keep-alive)
        line = raw.decode("utf-8", errors="replace")
        field, colon, value = line.partition(":")
        if colon and value[:1] == " ":
            value = value[1:]
        if field == "data":
            self._data.append(value)
        elif field == "event":
            self._event = value
        elif field == "id" and "\0" not in value:
            self._id = value
        # `retry` and unknown fields are ignored, as the standard says
