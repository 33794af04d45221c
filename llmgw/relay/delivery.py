"""Delivering an upstream's answer once the request is committed to it (after `forward`): a whole body
translated for the client, or a primed stream relayed as it arrives.

A stream's headers go out with its first bytes; from then on every failure (the upstream's, ours, a
budget's cap passed) becomes an error event, the last thing sent, and the client's leaving cancels the
stream. However it ends, `StreamDelivery.close` releases the upstream response and ends the exchange,
once.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import anyio
from starlette.responses import Response

from llmgw.errors import GatewayError, InternalError, OutputCapIgnored
from llmgw.relay.answers import Answer, PrimedStream, check_end
from llmgw.relay.exchange import Exchange
from llmgw.relay.responses import JSON, WatchedStreamingResponse
from llmgw.relay.streams import StreamRelay

log = logging.getLogger("llmgw")

STREAM_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}


def deliver(ex: Exchange, answer: Answer | PrimedStream) -> Response:
    """The client's response for `answer`; a translation that fails raises (the handler ends the
    exchange with the error)."""
    if isinstance(answer, PrimedStream):
        return StreamDelivery(ex, answer).response()
    ex.row.status = answer.status
    content, usage = answer.bridge.response(answer.raw)
    ex.apply_usage(usage)
    row, cap = ex.row, answer.bridge.ctx.cap
    if cap is not None and (row.completion_tokens or 0) > cap.total:
        # Already generated and billed: recorded at its real cost; the fault is the upstream's.
        log.warning(
            "request %s: upstream %s answered %d output tokens, over the %d it was capped at for a budget "
            "(it ignores the cap)",
            row.request_id, row.provider, row.completion_tokens, cap.total,
        )  # fmt: skip
    ex.done()
    headers = {"x-request-id": row.request_id, **answer.bridge.headers}
    return Response(content, answer.status, headers=headers, media_type=JSON)


class StreamDelivery:
    """A primed stream relayed to the client: `body` yields its bytes, `close` ends it."""

    __slots__ = ("closed", "ex", "limit", "stream")

    def __init__(self, ex: Exchange, stream: PrimedStream) -> None:
        self.ex = ex
        self.stream = stream
        cap = stream.bridge.ctx.cap
        self.limit = cap.total if cap is not None else None
        self.closed = False

    def response(self) -> Response:
        self.ex.row.status = self.stream.response.status_code
        return WatchedStreamingResponse(
            self.body(),
            self.stream.response.status_code,
            headers={"x-request-id": self.ex.request_id, **STREAM_HEADERS, **self.stream.bridge.headers},
            media_type=self.stream.bridge.stream_media_type,
            on_close=self.close,
        )

    async def body(self) -> AsyncIterator[bytes]:
        row, stream, relay, limit = self.ex.row, self.stream, self.stream.relay, self.limit
        try:
            if stream.first:
                row.ttft_ms = self.ex.elapsed_ms()
                if limit is not None:
                    self.check_cap(limit)
                yield stream.first
            if not stream.at_end:
                async for chunk in stream.chunks:
                    if out := relay.feed(chunk):
                        if row.ttft_ms is None:
                            row.ttft_ms = self.ex.elapsed_ms()
                        if limit is not None:
                            self.check_cap(limit)
                        yield out
                if tail := relay.flush():
                    yield tail
            check_end(relay)
        except GatewayError as exc:
            # Headers are gone already: tell the client in-stream, then close.
            row.error_type, row.error_kind = exc.code or exc.type, exc.kind
            yield relay.error_event(exc)
        except Exception:
            log.exception("request %s: relaying the stream failed", row.request_id)
            err = InternalError("The gateway failed to relay this stream.")
            row.error_type, row.error_kind = err.code, err.kind
            yield relay.error_event(err)
        except BaseException:
            row.client_closed = True  # cancelled by the server because the client went away
            raise
        finally:
            await self.close(False)

    async def close(self, client_gone: bool) -> None:
        """Release the upstream response and end the exchange, once, however the stream ended."""
        if self.closed:
            return
        self.closed = True
        row, relay = self.ex.row, self.stream.relay
        row.client_closed = row.client_closed or client_gone
        with anyio.CancelScope(shield=True):
            await self.stream.response.aclose()
        self.ex.apply_usage(relay.usage)
        if relay.upstream_error is not None and row.error_type is None:
            row.error_type = relay.upstream_error  # the upstream's own error event, passed on
            row.error_kind = "upstream"
        estimate_stream_usage(self.ex, relay)
        self.ex.done()

    def check_cap(self, limit: int) -> None:
        """Under a budget: `OutputCapIgnored` once the stream holds more output than the tokens the
        upstream was capped at, by the upstream's own running count where it gives one (Gemini's) or
        one token per content event (every provider streams at least one token per event), so the rest
        of an answer that ignores its cap is never relayed or paid for beyond that point."""
        relay = self.stream.relay
        usage = relay.usage
        seen = max(relay.content_events, (usage.completion_tokens or 0) if usage is not None else 0)
        if seen > limit:
            raise OutputCapIgnored(
                f"The upstream passed the output limit of {limit} tokens it was sent; the stream was "
                "cut there because a spend budget applies."
            )


def estimate_stream_usage(ex: Exchange, relay: StreamRelay) -> None:
    """A stream's counts are the provider's only when its final usage came and the upstream ended the
    stream itself (every dialect's terminator follows its final usage). Otherwise (cut by the client,
    the upstream or the gateway; ended by an error event; or complete but without usage) they are an
    estimate: what usage came (Anthropic's `message_start` has the input side), and ~1 token per
    content chunk seen where that is more output than it reported."""
    if relay.saw_done and relay.usage is not None:
        return
    row = ex.row
    if relay.content_events > (row.completion_tokens or 0):
        row.completion_tokens = relay.content_events
        row.total_tokens = (row.prompt_tokens or 0) + relay.content_events
    if row.prompt_tokens is not None or row.completion_tokens is not None:
        row.usage_source = "estimated"
