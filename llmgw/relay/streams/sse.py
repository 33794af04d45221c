"""Server-sent events: an incremental decoder for upstream streams (each client dialect's encoder is
`encode_event` in its `llmgw/wire/` module).

The decoder follows the WHATWG event-stream rules: `\\n`, `\\r\\n` and `\\r` line ends (a `\\r\\n`
may be split across two network chunks), `data:` lines joined with `\\n`, `event:` and `id:` fields,
`:` comment lines, one optional space after the colon. It works on bytes and decodes each complete
line, so a UTF-8 character split across chunks is never broken. `EventSplitter` cuts the same bytes
into whole events for the relays that pass them on. Both cost time linear in the stream's length
however it is sliced, and both cap one event at `server.max_event_bytes`: an upstream that never ends
its event fails with `UpstreamUnavailable` instead of growing a buffer. Pure and synchronous.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from llmgw.errors import UpstreamUnavailable

__all__ = [
    "DEFAULT_MAX_EVENT_BYTES",
    "OPENAI_DONE",
    "EventSplitter",
    "SSEDecoder",
    "SSEEvent",
    "whole_last_event",
]

OPENAI_DONE = b"data: [DONE]\n\n"
DEFAULT_MAX_EVENT_BYTES = 16 * 1024 * 1024  # server.max_event_bytes's default (llmgw/settings/server.py)
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


def lf_only(data: bytes, skip_lf: bool) -> tuple[bytes, bool]:
    """`data` with every line end made `\n`, and whether it ended in a `\r`: then a `\n` starting the
    next slice belongs to that `\r` (`skip_lf`, passed back in) and is dropped."""
    if skip_lf and data[:1] == b"\n":
        data = data[1:]
    if b"\r" not in data:
        return data, False
    return data.replace(b"\r\n", b"\n").replace(b"\r", b"\n"), data.endswith(b"\r")


class SSEDecoder:
    """Turns arbitrary slices of an event stream into complete events.

    Linear in the stream's length however it is sliced: an unfinished line is kept as a list of
    pieces, joined once when its line end comes. One event (its data lines and the line being read)
    may hold `max_event_bytes`; past that `feed` raises `UpstreamUnavailable`."""

    __slots__ = (
        "_data",
        "_data_size",
        "_event",
        "_id",
        "_max",
        "_pending",
        "_pending_size",
        "_skip_lf",
        "_started",
    )

    def __init__(self, max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES) -> None:
        self._max = max_event_bytes
        self._pending: list[bytes] = []  # the pieces of the incomplete last line
        self._pending_size = 0
        self._skip_lf = False  # the previous slice ended with `\r`: a leading `\n` belongs to it
        self._started = False  # past the first bytes, where a byte-order mark may be
        self._data: list[str] = []
        self._data_size = 0
        self._event: str | None = None
        self._id: str | None = None

    def feed(self, data: bytes) -> list[SSEEvent]:
        """The events completed by this slice of the stream, in order."""
        if not data:
            return []
        data, self._skip_lf = lf_only(data, self._skip_lf)
        if not self._started:
            data = b"".join(self._pending) + data  # at most the 2 bytes of a partial byte-order mark
            self._pending, self._pending_size = [], 0
            if _BOM.startswith(data):  # all of it may still be a byte-order mark
                self._pending.append(data)
                return []
            self._started = True
            data = data.removeprefix(_BOM)
        end = data.rfind(b"\n")
        if end < 0:
            self._pending.append(data)
            self._pending_size += len(data)
            self._check()
            return []
        lines = b"".join((*self._pending, data[:end])) if self._pending else data[:end]
        rest = data[end + 1 :]
        self._pending, self._pending_size = ([rest], len(rest)) if rest else ([], 0)
        events: list[SSEEvent] = []
        for line in lines.split(b"\n"):
            self._line(line, events)
        self._check()
        return events

    def flush(self) -> list[SSEEvent]:
        """At the end of the stream: the last event even if no blank line closed it."""
        events: list[SSEEvent] = []
        rest = b"".join(self._pending)
        self._pending, self._pending_size = [], 0
        if rest and self._started:
            self._line(rest, events)
        self._line(b"", events)
        return events

    def _check(self) -> None:
        if self._data_size + self._pending_size > self._max:
            raise event_too_large(self._max)

    def _line(self, raw: bytes, events: list[SSEEvent]) -> None:
        if not raw:
            if self._data:
                events.append(SSEEvent(self._event, "\n".join(self._data), self._id))
            self._data, self._data_size, self._event, self._id = [], 0, None, None
            return
        if raw[:1] == b":":
            return  # a comment (keep-alive)
        line = raw.decode("utf-8", errors="replace")
        field, colon, value = line.partition(":")
        if colon and value[:1] == " ":
            value = value[1:]
        if field == "data":
            self._data.append(value)
            self._data_size += len(raw)
            self._check()
        elif field == "event":
            self._event = value
        elif field == "id" and "\0" not in value:
            self._id = value
        # `retry` and unknown fields are ignored, as the standard says


class EventSplitter:
    """Cuts a byte stream into whole events, for the relays that pass bytes on: `feed` gives the
    events a slice completed (each up to and including its blank line, line ends made `\n`), `rest`
    the unterminated tail at the end of the stream. Linear however the stream is sliced: the tail is
    a list of pieces joined once; past `max_event_bytes` of it, `feed` raises `UpstreamUnavailable`."""

    __slots__ = ("_max", "_pending", "_size", "_skip_lf")

    def __init__(self, max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES) -> None:
        self._max = max_event_bytes
        self._pending: list[bytes] = []
        self._size = 0
        self._skip_lf = False  # the previous slice ended with `\r`: a leading `\n` belongs to it

    def feed(self, data: bytes) -> bytes:
        data, self._skip_lf = lf_only(data, self._skip_lf)
        if not data:
            return b""
        end = data.rfind(b"\n\n")
        if end >= 0:
            end += 2
        elif data[:1] == b"\n" and self._pending and self._pending[-1].endswith(b"\n"):
            end = 1  # the blank line straddles the two slices
        else:
            self._pending.append(data)
            self._size += len(data)
            if self._size > self._max:
                raise event_too_large(self._max)
            return b""
        complete = b"".join((*self._pending, data[:end])) if self._pending else data[:end]
        rest = data[end:]
        self._pending, self._size = ([rest], len(rest)) if rest else ([], 0)
        if self._size > self._max:
            raise event_too_large(self._max)
        return complete

    def rest(self) -> bytes:
        """The bytes after the last complete event (at the end of the stream)."""
        rest = b"".join(self._pending)
        self._pending, self._size = [], 0
        return rest


def whole_last_event(rest: bytes) -> bytes | None:
    """The unterminated last event of a stream, terminated, if it is whole (its data is JSON, or
    OpenAI's `[DONE]`); None for a half event, which is never passed on."""
    events = SSEDecoder().feed(rest.rstrip(b"\n") + b"\n\n")
    if len(events) != 1:
        return None
    data = events[0].data.strip()
    if data != "[DONE]":
        try:
            orjson.loads(data)
        except orjson.JSONDecodeError:
            return None
    return rest.rstrip(b"\n") + b"\n\n"


def event_too_large(limit: int) -> UpstreamUnavailable:
    return UpstreamUnavailable(
        f"The upstream sent a stream event larger than {limit} bytes (server.max_event_bytes)."
    )


class WholeEventRelay:
    """The byte side of a relay that passes whole events on unchanged and reads each one as it goes:
    `feed` and `flush` (its unterminated last event if whole, never half of one) hand every event, its
    blank line left off, to `observe`, which the relay defines."""

    def __init__(self, max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES) -> None:
        self._splitter = EventSplitter(max_event_bytes)

    def observe(self, event: bytes) -> None:
        raise NotImplementedError

    def feed(self, chunk: bytes) -> bytes:
        complete = self._splitter.feed(chunk)
        if complete:
            start = 0
            while (end := complete.find(b"\n\n", start)) >= 0:
                if end > start:
                    self.observe(complete[start:end])
                start = end + 2
        return complete

    def flush(self) -> bytes:
        """At the upstream's end of stream: its unterminated last event if whole, never half of one."""
        rest = self._splitter.rest()
        whole = whole_last_event(rest) if rest.strip() else None
        if whole is None:
            return b""
        self.observe(whole[:-2])
        return whole
