"""The answer going back: a whole body, or an SSE stream relayed as it arrives; errors in the
client's dialect. Every path ends in `Gateway.finish`, which records the request's ledger row."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator

import anyio
import httpx
from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from llmgw.errors import ClientDialect, GatewayError, render
from llmgw.relay.bridge import Bridge
from llmgw.relay.runtime import Gateway
from llmgw.relay.upstream import Upstream
from llmgw.storage import UsageRow
from llmgw.translate.usage import Usage

RESPONSE_LIMIT = 256 * 1024 * 1024  # a non-stream answer past this is refused, never cut
JSON = "application/json"


def new_request_id() -> str:
    return "req_" + os.urandom(12).hex()


def error_response(exc: GatewayError, request_id: str, dialect: ClientDialect = "openai") -> Response:
    return Response(
        render(exc, dialect), exc.status, headers={**exc.headers, "x-request-id": request_id}, media_type=JSON
    )


def apply_usage(row: UsageRow, usage: Usage | None) -> None:
    if usage is not None:
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
    gw.recorder.finish(row, started)
    return Response(content, resp.status_code, headers={"x-request-id": row.request_id}, media_type=JSON)


async def stream_response(
    gw: Gateway, up: Upstream, resp: httpx.Response, row: UsageRow, started: float, bridge: Bridge
) -> Response:
    """Relay an SSE stream; the first chunk is awaited here, so a dead upstream can still be retried."""
    stream_relay = bridge.stream()
    chunks = up.chunks(resp)
    try:
        first = await anext(chunks)
    except StopAsyncIteration:
        first = b""
    except GatewayError:
        await resp.aclose()
        raise
    row.status = resp.status_code

    async def body() -> AsyncIterator[bytes]:
        try:
            out = stream_relay.feed(first)
            if out:
                row.ttft_ms = round((time.perf_counter() - started) * 1000, 2)
                yield out
            async for chunk in chunks:
                out = stream_relay.feed(chunk)
                if out:
                    if row.ttft_ms is None:
                        row.ttft_ms = round((time.perf_counter() - started) * 1000, 2)
                    yield out
            if tail := stream_relay.flush():
                yield tail
        except GatewayError as exc:
            # Headers are gone already: tell the client in-stream, then close.
            row.error_type = exc.code or exc.type
            yield stream_relay.error_event(exc)
        except BaseException:
            row.client_closed = True  # cancelled by the server because the client went away
            raise
        finally:
            with anyio.CancelScope(shield=True):
                await resp.aclose()
            apply_usage(row, stream_relay.usage)
            if not stream_relay.saw_done and stream_relay.content_events > (row.completion_tokens or 0):
                # Cut short before the final usage: ~1 token per chunk seen, marked as an estimate.
                row.completion_tokens = stream_relay.content_events
                row.total_tokens = (row.prompt_tokens or 0) + stream_relay.content_events
                row.tokens_estimated = True
            gw.recorder.finish(row, started)

    return WatchedStreamingResponse(
        body(),
        resp.status_code,
        headers={"x-request-id": row.request_id, "cache-control": "no-cache", "x-accel-buffering": "no"},
        media_type="text/event-stream",
    )


class WatchedStreamingResponse(StreamingResponse):
    """A StreamingResponse that streams in the request's own task, with one plain task watching for
    the client going away (cheaper than Starlette's anyio task group: ~10% CPU per stream), and that
    always closes its body iterator, so the upstream response is released and the row recorded now."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        current = asyncio.current_task()
        assert current is not None
        streaming = True
        gone = False

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
