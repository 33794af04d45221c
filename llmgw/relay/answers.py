"""An upstream's successful answer, taken in inside the retry loop (`forward`), before anything reaches
the client: a whole body read (`read_answer`), or a stream primed (`prime_stream`) until the relay has
its first bytes for the client. A failure here (a timeout, a reset, an unreadable first event) is the
provider failing, and the loop may still try the next key or fallback. Delivering the answer, once the
request is committed to it, is `Exchange`'s next step (`delivery.py`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import anyio

from llmgw.errors import UpstreamUnavailable
from llmgw.relay.bridge import Bridge
from llmgw.relay.streams import StreamRelay
from llmgw.relay.transport import UpstreamResponse
from llmgw.relay.upstream import Upstream

RESPONSE_LIMIT = 256 * 1024 * 1024  # a non-stream answer past this is refused, never cut
CUT_SHORT = "The upstream stream ended before the answer was complete."


@dataclass(frozen=True, slots=True)
class Answer:
    """A whole answer, read but not yet translated for the client."""

    status: int
    raw: bytes
    bridge: Bridge


@dataclass(frozen=True, slots=True)
class PrimedStream:
    """A stream whose first bytes for the client are ready (`first`; empty when the upstream's stream
    ended without any); `chunks` goes on where priming stopped, unless `at_end`."""

    response: UpstreamResponse
    chunks: AsyncIterator[bytes]
    relay: StreamRelay
    bridge: Bridge
    first: bytes
    at_end: bool


async def read_answer(up: Upstream, resp: UpstreamResponse, bridge: Bridge) -> Answer:
    """The whole body within the first-byte timeout, at most `RESPONSE_LIMIT` bytes."""
    raw = await up.read(resp, RESPONSE_LIMIT, up.config.first_byte_timeout)
    return Answer(resp.status_code, raw, bridge)


async def prime_stream(
    up: Upstream, resp: UpstreamResponse, bridge: Bridge, max_event_bytes: int
) -> PrimedStream:
    """Read the upstream's stream until the relay has bytes for the client. An upstream that fails,
    sends garbage or an endless event before that raises (502), its response released."""
    relay = bridge.stream(max_event_bytes)
    chunks = up.chunks(resp)
    first, at_end = b"", False
    try:
        async for chunk in chunks:
            if first := relay.feed(chunk):
                break
        else:
            at_end = True
            first = relay.flush()
            if not first:
                check_end(relay)
    except BaseException:
        with anyio.CancelScope(shield=True):
            await resp.aclose()
        raise
    return PrimedStream(resp, chunks, relay, bridge, first, at_end)


def check_end(relay: StreamRelay) -> None:
    """At the upstream's end of stream: an error unless it ended the stream itself, so a cut stream
    never looks complete to the client (or to the ledger)."""
    if not relay.saw_done and relay.upstream_error is None:
        raise UpstreamUnavailable(CUT_SHORT)
