"""The answer going back: a whole body, or an SSE stream relayed as it arrives; errors in the
client's dialect; a client that leaves, before its answer or during its stream. Every path ends in
`Recorder.finish`, which records the request's ledger row, once."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import anyio
import httpx
from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from llmgw.dialects import ClientDialect
from llmgw.errors import (
    ClientClosed,
    GatewayError,
    InternalError,
    OutputCapIgnored,
    UpstreamUnavailable,
)
from llmgw.relay.bridge import Bridge
from llmgw.relay.runtime import Gateway
from llmgw.relay.streams import StreamRelay
from llmgw.relay.upstream import Upstream
from llmgw.storage import UsageRow
from llmgw.translate.usage import Usage
from llmgw.wire import render

RESPONSE_LIMIT = 256 * 1024 * 1024  # a non-stream answer past this is refused, never cut
JSON = "application/json"
WATCH_AFTER = 0.05  # seconds an answer may take before the client is watched for leaving
CUT_SHORT = "The upstream stream ended before the answer was complete."

log = logging.getLogger("llmgw")


def new_request_id() -> str:
    return "req_" + os.urandom(12).hex()


def error_response(exc: GatewayError, request_id: str, dialect: ClientDialect = "openai") -> Response:
    return Response(
        render(exc, dialect), exc.status, headers={**exc.headers, "x-request-id": request_id}, media_type=JSON
    )


def apply_usage(row: UsageRow, usage: Usage | None) -> None:
    """The upstream's own counts into the row (`usage_source` "provider"); None changes nothing."""
    if usage is not None:
        row.usage_source = "provider"
        row.prompt_tokens = usage.prompt_tokens
        row.completion_tokens = usage.completion_tokens
        row.total_tokens = usage.total_tokens
        row.cached_tokens = usage.cached_tokens
        row.cache_write_tokens = usage.cache_write_tokens
        row.reasoning_tokens = usage.reasoning_tokens


async def plain_response(
    gw: Gateway,
    up: Upstream,
    resp: httpx.Response,
    row: UsageRow,
    started: float,
    bridge: Bridge,
    dialect: ClientDialect,
) -> Response:
    raw = await up.read(resp, RESPONSE_LIMIT, up.config.first_byte_timeout)
    row.status = resp.status_code
    try:
        content, usage = bridge.response(raw)
    except GatewayError as exc:
        row.error_type = exc.code or exc.type
        row.status = exc.status
        gw.recorder.finish(row, started)
        return error_response(exc, row.request_id, dialect)
    apply_usage(row, usage)
    cap = bridge.ctx.cap
    if cap is not None and (row.completion_tokens or 0) > cap.total:
        # Already generated and billed: recorded at its real cost; the fault is the upstream's.
        log.warning(
            "request %s: upstream %s answered %d output tokens, over the %d it was capped at for a budget "
            "(it ignores the cap)",
            row.request_id, row.provider, row.completion_tokens, cap.total,
        )  # fmt: skip
    gw.recorder.finish(row, started)
    return Response(content, resp.status_code, headers={"x-request-id": row.request_id}, media_type=JSON)


async def stream_response(
    gw: Gateway, up: Upstream, resp: httpx.Response, row: UsageRow, started: float, bridge: Bridge
) -> Response:
    """Relay an SSE stream. Nothing is committed until the relay has bytes for the client, so an
    upstream that fails, sends garbage or an endless event before that can still be retried (502)."""
    relay = bridge.stream(gw.config.server.max_event_bytes)
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
    row.status = resp.status_code
    recorded = False
    limit = bridge.ctx.cap.total if bridge.ctx.cap is not None else None

    async def done(client_gone: bool) -> None:
        """Release the upstream response and record the row, once, however the stream ended."""
        nonlocal recorded
        if recorded:
            return
        recorded = True
        row.client_closed = row.client_closed or client_gone
        with anyio.CancelScope(shield=True):
            await resp.aclose()
        apply_usage(row, relay.usage)
        if relay.upstream_error is not None and row.error_type is None:
            row.error_type = relay.upstream_error  # the upstream's own error event, passed on
        estimate_stream_usage(row, relay)
        gw.recorder.finish(row, started)

    async def body() -> AsyncIterator[bytes]:
        try:
            if first:
                row.ttft_ms = round((time.perf_counter() - started) * 1000, 2)
                if limit is not None:
                    check_cap(relay, limit)
                yield first
            if not at_end:
                async for chunk in chunks:
                    if out := relay.feed(chunk):
                        if row.ttft_ms is None:
                            row.ttft_ms = round((time.perf_counter() - started) * 1000, 2)
                        if limit is not None:
                            check_cap(relay, limit)
                        yield out
                if tail := relay.flush():
                    yield tail
            check_end(relay)
        except GatewayError as exc:
            # Headers are gone already: tell the client in-stream, then close.
            row.error_type = exc.code or exc.type
            yield relay.error_event(exc)
        except Exception:
            log.exception("request %s: relaying the stream failed", row.request_id)
            err = InternalError("The gateway failed to relay this stream.")
            row.error_type = err.code
            yield relay.error_event(err)
        except BaseException:
            row.client_closed = True  # cancelled by the server because the client went away
            raise
        finally:
            await done(False)

    return WatchedStreamingResponse(
        body(),
        resp.status_code,
        headers={"x-request-id": row.request_id, "cache-control": "no-cache", "x-accel-buffering": "no"},
        media_type="text/event-stream",
        on_close=done,
    )


def estimate_stream_usage(row: UsageRow, relay: StreamRelay) -> None:
    """A stream's counts are the provider's only when its final usage came and the upstream ended the
    stream itself (every dialect's terminator follows its final usage). Otherwise (cut by the client,
    the upstream or the gateway; ended by an error event; or complete but without usage) they are an
    estimate: what usage came (Anthropic's `message_start` has the input side), and ~1 token per
    content chunk seen where that is more output than it reported."""
    if relay.saw_done and relay.usage is not None:
        return
    if relay.content_events > (row.completion_tokens or 0):
        row.completion_tokens = relay.content_events
        row.total_tokens = (row.prompt_tokens or 0) + relay.content_events
    if row.prompt_tokens is not None or row.completion_tokens is not None:
        row.usage_source = "estimated"


def check_cap(relay: StreamRelay, limit: int) -> None:
    """Under a budget: `OutputCapIgnored` once the stream holds more output than the `limit` tokens the
    upstream was capped at, by the upstream's own running count where it gives one (Gemini's) or one
    token per content event (every provider streams at least one token per event), so the rest of an
    answer that ignores its cap is never relayed or paid for beyond that point."""
    usage = relay.usage
    seen = max(relay.content_events, (usage.completion_tokens or 0) if usage is not None else 0)
    if seen > limit:
        raise OutputCapIgnored(
            f"The upstream passed the output limit of {limit} tokens it was sent; the stream was cut "
            "there because a spend budget applies."
        )


def check_end(relay: StreamRelay) -> None:
    """At the upstream's end of stream: an error unless it ended the stream itself, so a cut stream
    never looks complete to the client (or to the ledger)."""
    if not relay.saw_done and relay.upstream_error is None:
        raise UpstreamUnavailable(CUT_SHORT)


class WatchedStreamingResponse(StreamingResponse):
    """A StreamingResponse that streams in the request's own task, with one plain task watching for
    the client going away (cheaper than Starlette's anyio task group: ~10% CPU per stream), and that
    always closes its body iterator, so the upstream response is released and the row recorded now.
    `on_close(client_gone)` runs last, whatever happened: it finishes a stream whose body never
    started (the client left while the response started)."""

    def __init__(
        self,
        content: AsyncIterator[bytes],
        status_code: int,
        headers: dict[str, str],
        media_type: str,
        on_close: Callable[[bool], Awaitable[None]],
    ) -> None:
        super().__init__(content, status_code, headers=headers, media_type=media_type)
        self.on_close = on_close

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        current = asyncio.current_task()
        assert current is not None
        streaming = True
        gone = False
        sent = False

        async def watch() -> None:
            nonlocal gone
            while (await receive())["type"] != "http.disconnect":
                pass
            if streaming:  # same thread as the stream: no race with the line after stream_response
                gone = True
                current.cancel()

        watcher = asyncio.get_running_loop().create_task(watch())
        try:
            await self.stream_response(send)
            streaming = False
            sent = True
        except asyncio.CancelledError:
            streaming = False
            if gone and current.uncancel() == 0:
                return  # the client left: not an error of ours
            raise
        finally:
            watcher.cancel()
            # Starlette never closes the body iterator when sending is cancelled; left alone, the
            # generator (its upstream response, its ledger row) would wait for the garbage collector.
            await self.body_iterator.aclose()  # type: ignore[attr-defined]
            await self.on_close(not sent)


class ClientWatch:
    """Cancels the current task if the client goes away: for the wait for an answer (the upstream
    call, a stream's first event), which reads nothing from the client itself. Usage:

        watch = ClientWatch(receive)
        try:
            ... await the answer ...
        except asyncio.CancelledError:
            if not watch.client_left():
                raise
            ... the client left: record it ...
        finally:
            watch.stop()

    The watching task starts only once the wait has taken `WATCH_AFTER` seconds: a task per request
    was the largest cost the hot path had (measured under load), and a client that leaves sooner is
    still seen then, its disconnect waiting in `receive`. No coroutine wraps the awaited answer, so
    its every suspension costs nothing extra."""

    __slots__ = ("_current", "_gone", "_receive", "_timer", "_watcher")

    def __init__(self, receive: Receive) -> None:
        current = asyncio.current_task()
        assert current is not None
        self._current = current
        self._receive = receive
        self._gone = False
        self._watcher: asyncio.Task[None] | None = None
        self._timer = asyncio.get_running_loop().call_later(WATCH_AFTER, self._start)

    def _start(self) -> None:
        self._watcher = asyncio.get_running_loop().create_task(self._watch())

    async def _watch(self) -> None:
        while (await self._receive())["type"] != "http.disconnect":
            pass
        self._gone = True
        self._current.cancel()

    def client_left(self) -> bool:
        """Whether the cancellation being handled is this watch's, for a client that left (it is then
        absorbed); False for any other cancellation (a shutdown), which must go on."""
        return self._gone and self._current.uncancel() == 0

    def stop(self) -> None:
        self._timer.cancel()
        if self._watcher is not None:
            self._watcher.cancel()


def client_left(gw: Gateway, row: UsageRow, started: float) -> Response:
    """The end of a request whose client left before its answer: recorded as nginx's 499 (client
    closed request); the response goes nowhere."""
    row.status, row.client_closed, row.error_type = ClientClosed.status, True, ClientClosed.code
    gw.recorder.finish(row, started)
    return Response(status_code=ClientClosed.status, headers={"x-request-id": row.request_id})
