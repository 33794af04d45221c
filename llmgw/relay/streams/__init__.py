"""Stream relays: upstream SSE bytes in, the client's SSE bytes out, usage read on the way. Pure.

`passthrough.py` for the same dialect on both sides, `translating.py` for the others, `gemini.py` for
Gemini clients (its passthrough, and the JSON-array framing of any Gemini stream); `sse.py` decodes.
Every relay has the shape of `StreamRelay`."""

from __future__ import annotations

from typing import Protocol

from llmgw.errors import GatewayError
from llmgw.translate.usage import Usage


class StreamRelay(Protocol):
    """`feed(bytes) -> bytes` for each upstream piece, `flush() -> bytes` at the upstream's end of
    stream, `error_event(exc) -> bytes` for a failure after the headers went out; `usage`,
    `content_events` for the ledger.

    `saw_done`: the upstream ended its stream properly (its dialect's terminator); `upstream_error`:
    it ended it with an error event (its code or type, for the ledger), passed on to the client. With
    neither at the end of the stream it was cut short, and the caller sends an error event. `feed`
    raises only `GatewayError`s: `UpstreamUnavailable` for an unreadable event, or one past
    `server.max_event_bytes`."""

    saw_done: bool
    upstream_error: str | None

    @property
    def usage(self) -> Usage | None: ...

    @property
    def content_events(self) -> int: ...

    def feed(self, chunk: bytes) -> bytes: ...

    def flush(self) -> bytes: ...

    def error_event(self, exc: GatewayError) -> bytes: ...
