"""The request hot path, top to bottom, for both client dialects (OpenAI and Anthropic):

auth → read and check the body → route the model → bridge to the upstream's dialect → pick a key →
send upstream (retrying on the next key or fallback while nothing has reached the client) → relay the
answer, translated back where needed → record usage. Errors answer in the client's dialect.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import anyio
import httpx
import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from llmgw.errors import (
    GatewayError,
    InternalError,
    InvalidRequest,
    NoUsableKey,
    PayloadTooLarge,
    RateLimited,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from llmgw.providers import Operation, Unsupported
from llmgw.relay.bridge import Bridge, ClientDialect, Context, bridge_for
from llmgw.relay.catalog import Target
from llmgw.relay.runtime import Gateway
from llmgw.relay.token_count import count_anthropic_request
from llmgw.relay.upstream import Upstream
from llmgw.storage.requests import UsageRow
from llmgw.translate.error_dialects import anthropic_error_body, parse_upstream_error
from llmgw.translate.usage import Usage

log = logging.getLogger("llmgw")


@dataclass(frozen=True, slots=True)
class ClientEndpoint:
    dialect: ClientDialect
    op: Operation
    required: str  # the body field besides `model` every request must have


ENDPOINTS = {
    "/v1/chat/completions": ClientEndpoint("openai", Operation.CHAT, "messages"),
    "/v1/completions": ClientEndpoint("openai", Operation.COMPLETIONS, "prompt"),
    "/v1/embeddings": ClientEndpoint("openai", Operation.EMBEDDINGS, "input"),
    "/v1/messages": ClientEndpoint("anthropic", Operation.CHAT, "messages"),
    "/v1/messages/count_tokens": ClientEndpoint("anthropic", Operation.COUNT_TOKENS, "messages"),
}
ANTHROPIC_HEADERS = ("anthropic-version", "anthropic-beta")  # part of an Anthropic request's meaning
ERROR_BODY_LIMIT = 64 * 1024  # an error body past this is cut: it is only a message
RESPONSE_LIMIT = 256 * 1024 * 1024  # a non-stream answer past this is refused, never cut
JSON = "application/json"


def new_request_id() -> str:
    return "req_" + os.urandom(12).hex()


def error_response(exc: GatewayError, request_id: str, dialect: ClientDialect = "openai") -> Response:
    if dialect == "anthropic":
        body = orjson.dumps(
            anthropic_error_body(exc.status, exc.message, getattr(exc, "anthropic_type", None))
        )
    else:
        body = exc.openai_json()
    return Response(body, exc.status, headers={**exc.headers, "x-request-id": request_id}, media_type=JSON)


async def relay(request: Request) -> Response:
    """Every model-calling endpoint: OpenAI's chat, completions, embeddings; Anthropic's messages."""
    gw: Gateway = request.app.state.gateway
    started = time.perf_counter()
    path: str = request.scope["path"]
    endpoint = ENDPOINTS[path]
    row = UsageRow(request_id=new_request_id(), created_at=time.time(), endpoint=path, attempts=0)
    try:
        gw.auth.check(request.headers)
        body = await read_json(request, gw.config.server.max_body_bytes)
        row.model_requested = check_body(body, endpoint, gw.config.server.max_image_bytes)
        targets = gw.catalog.resolve(row.model_requested)
        stream = endpoint.op in STREAMING and body.get("stream") is True
        row.streamed = stream
        wants_usage = False
        if stream and endpoint.dialect == "openai":
            options = body.get("stream_options") or {}
            if not isinstance(options, dict):
                raise InvalidRequest("`stream_options` must be an object.", param="stream_options")
            wants_usage = options.get("include_usage") is True
        ctx = Context(
            client_model=row.model_requested,
            wants_usage=wants_usage,
            default_max_tokens=gw.config.server.default_max_tokens,
            encoding_format=body.get("encoding_format") if endpoint.op is Operation.EMBEDDINGS else None,
        )
        if endpoint.op is Operation.COUNT_TOKENS:
            local = count_locally(gw, targets[0], body, row)
            if local is not None:
                gw.finish(row, started)
                return local
        client_headers = {h: v for h in ANTHROPIC_HEADERS if (v := request.headers.get(h))}
        call = Call(endpoint, body, stream, ctx, client_headers)
        return await forward(gw, call, targets, row, started)
    except GatewayError as exc:
        return failed(gw, row, started, exc, endpoint.dialect)
    except Exception:
        # A bug of ours: the client still gets its error format and the request its ledger row.
        log.exception("request %s failed unexpectedly", row.request_id)
        err = InternalError("The gateway failed to handle this request.")
        return failed(gw, row, started, err, endpoint.dialect)


@dataclass(frozen=True, slots=True)
class Call:
    """A checked client request, ready to be bridged to any target."""

    endpoint: ClientEndpoint
    body: dict[str, Any]
    stream: bool
    ctx: Context
    client_headers: dict[str, str]


STREAMING = frozenset({Operation.CHAT, Operation.COMPLETIONS})


def failed(gw: Gateway, row: UsageRow, started: float, exc: GatewayError, dialect: ClientDialect) -> Response:
    row.status = exc.status
    row.error_type = row.error_type or exc.code or exc.type
    gw.finish(row, started)
    return error_response(exc, row.request_id, dialect)


def count_locally(gw: Gateway, target: Target, body: dict[str, Any], row: UsageRow) -> Response | None:
    """count_tokens for an OpenAI-format upstream, which has no such endpoint: an offline tokenizer."""
    up = gw.upstreams[target.provider]
    if up.adapter.dialect != "openai":
        return None
    row.provider, row.model_upstream = target.provider, target.model
    tokens = count_anthropic_request(body)
    row.status, row.prompt_tokens = 200, tokens
    return Response(
        orjson.dumps({"input_tokens": tokens}), media_type=JSON, headers={"x-request-id": row.request_id}
    )


async def read_json(request: Request, limit: int) -> dict[str, Any]:
    """The body as a JSON object; 413 past `limit` bytes (checked before and while reading)."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"Request body is larger than the {limit} bytes this gateway accepts.")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"Request body is larger than the {limit} bytes this gateway accepts.")
        chunks.append(chunk)
    try:
        body = orjson.loads(b"".join(chunks))
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(f"The request body is not valid JSON: {exc.msg}.") from None
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.")
    return body


def check_body(body: dict[str, Any], endpoint: ClientEndpoint, limit: int) -> str:
    """The requested model; 400 for what no upstream could accept."""
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise InvalidRequest("`model` is required and must be a non-empty string.", param="model")
    field = endpoint.required
    value = body.get(field)
    if value is None:
        raise InvalidRequest(f"`{field}` is required.", param=field)
    if field == "messages":
        if not isinstance(value, list) or not value:
            raise InvalidRequest("`messages` must be a non-empty array.", param="messages")
        for i, m in enumerate(value):
            if not isinstance(m, dict) or not isinstance(m.get("role"), str):
                raise InvalidRequest(
                    f"`messages[{i}]` must be an object with a string `role`.", param="messages"
                )
        check_images(value, limit)
    if endpoint.dialect == "anthropic" and endpoint.op is Operation.CHAT:
        max_tokens = body.get("max_tokens")
        if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
            raise InvalidRequest(
                "`max_tokens` is required and must be a positive integer.", param="max_tokens"
            )
    if "stream" in body and not isinstance(body["stream"], bool | None):
        raise InvalidRequest("`stream` must be a boolean.", param="stream")
    return model


def check_images(messages: list[Any], limit: int) -> None:
    """400 for an inline image over `limit` bytes decoded, in either dialect's message format."""
    for i, message in enumerate(messages):
        content = message.get("content")
        if not isinstance(content, list):
            continue
        for j, part in enumerate(content):
            if not isinstance(part, dict):
                continue
            data = ""
            if part.get("type") == "image_url" and isinstance(part.get("image_url"), dict):
                url = part["image_url"].get("url")
                data = url.partition(",")[2] if isinstance(url, str) and url.startswith("data:") else ""
            elif part.get("type") == "image" and isinstance(part.get("source"), dict):
                data = part["source"].get("data") if part["source"].get("type") == "base64" else ""
            if isinstance(data, str) and len(data) * 3 // 4 > limit:
                raise InvalidRequest(
                    f"`messages[{i}].content[{j}]`: the image is larger than {limit} bytes.",
                    param=f"messages[{i}].content[{j}]",
                )


async def forward(
    gw: Gateway, call: Call, targets: tuple[Target, ...], row: UsageRow, started: float
) -> Response:
    """Try the targets' keys in order until one upstream answers; raise the most telling error."""
    server = gw.config.server
    deadline = started + server.retry_deadline
    last: GatewayError | None = None
    for target in targets:
        up = gw.upstreams[target.provider]
        bridge = bridge_for(
            call.endpoint.dialect, call.endpoint.op, up.adapter.dialect, call.ctx, up.config.type
        )
        upstream_body = bridge.request(call.body, target.model, call.stream)
        tried: set[int] = set()
        while row.attempts < server.max_attempts and (not row.attempts or time.perf_counter() < deadline):
            picked = up.keys.acquire(exclude=frozenset(tried))
            if picked is None:
                break
            index, key = picked
            tried.add(index)
            row.attempts += 1
            row.provider, row.model_upstream, row.key_index = target.provider, target.model, index
            try:
                req = up.adapter.build(
                    call.endpoint.op,
                    upstream_body,
                    target.model,
                    key,
                    stream=call.stream,
                    client_headers=call.client_headers,
                )
            except Unsupported as exc:
                raise InvalidRequest(str(exc), param="model") from None
            try:
                resp = await up.send(req)
                if resp.status_code < 400:
                    up.keys.succeeded(index)
                    if call.stream and resp.headers.get("content-type", "").startswith("text/event-stream"):
                        return await stream_response(gw, up, resp, row, started, bridge)
                    return await plain_response(gw, up, resp, row, started, bridge, call.endpoint.dialect)
                err = await upstream_error(up, resp, key)
            except (UpstreamTimeout, UpstreamUnavailable) as exc:
                last = exc
                break  # the provider itself is failing: go to the next fallback
            if err.status == 429:
                up.keys.rate_limited(index, retry_after(resp.headers) or err.retry_after)
            elif err.auth_failure:
                up.keys.rejected(index, resp.status_code)
            elif err.status < 500:
                raise err  # the upstream says the request itself is wrong: the client should know
            last = err
    raise final_error(gw, targets, last)


def final_error(gw: Gateway, targets: tuple[Target, ...], last: GatewayError | None) -> GatewayError:
    """What the client gets when no attempt succeeded."""
    pools = [gw.upstreams[t.provider].keys for t in targets]
    waits = [w for w in (p.soonest() for p in pools) if w is not None]
    if isinstance(last, UpstreamTimeout | UpstreamUnavailable):
        return last
    if last is not None and last.status >= 500:
        return last
    if waits:
        after = max(1, math.ceil(min(waits)))
        return RateLimited(
            f"Every upstream key for this model is rate limited; retry after {after}s.",
            headers={"retry-after": str(after)},
        )
    names = ", ".join(sorted({t.provider for t in targets}))
    return NoUsableKey(f"No usable upstream API key for provider(s) {names}; ask an administrator.")


_KEYISH = re.compile(r"\b(?:sk|pk|rk|key|api)[-_][A-Za-z0-9_\-*.]{6,}|[A-Za-z0-9_\-]*\*{4,}[A-Za-z0-9_\-]*")


def scrub(text: str, key: str) -> str:
    """Remove our upstream key, and anything that looks like a (masked) key, from upstream text."""
    return _KEYISH.sub("[redacted]", text.replace(key, "[redacted]"))


class UpstreamStatusError(GatewayError):
    """An upstream error answer, passed on with its status and a scrubbed message."""

    def __init__(self, status: int, message: str, type_: str, param: str | None, code: str | None):
        super().__init__(message, param=param)
        self.status = status
        self.type = type_
        self.code = code
        self.auth_failure = status in (401, 403)
        self.anthropic_type: str | None = None  # set when the upstream spoke Anthropic: keep its type
        self.retry_after: float | None = None  # from the body (Gemini's RetryInfo), when no header said it


async def upstream_error(up: Upstream, resp: httpx.Response, key: str) -> UpstreamStatusError:
    raw = await up.read(resp, ERROR_BODY_LIMIT, up.config.chunk_timeout, truncate=True)
    parsed = parse_upstream_error(up.adapter.dialect, resp.status_code, raw)
    message = f"Upstream provider '{up.name}' answered {resp.status_code}: {scrub(parsed.message, key)}"
    err = UpstreamStatusError(resp.status_code, message.rstrip(": "), parsed.type, parsed.param, parsed.code)
    err.auth_failure = err.auth_failure or parsed.auth_failure
    err.retry_after = parsed.retry_after
    if up.adapter.dialect == "anthropic":
        err.anthropic_type = parsed.type
    return err


def retry_after(headers: httpx.Headers) -> float | None:
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: rare from LLM APIs; the escalating default applies


def _apply(row: UsageRow, usage: Usage | None) -> None:
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
        gw.finish(row, started)
        return error_response(exc, row.request_id, dialect)
    _apply(row, usage)
    gw.finish(row, started)
    return Response(content, resp.status_code, headers={"x-request-id": row.request_id}, media_type=JSON)


async def stream_response(
    gw: Gateway, up: Upstream, resp: httpx.Response, row: UsageRow, started: float, bridge: Bridge
) -> Response:
    """Relay an SSE stream; the first chunk is awaited here, so a dead upstream can still be retried."""
    relay = bridge.stream()
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
            out = relay.feed(first)
            if out:
                row.ttft_ms = round((time.perf_counter() - started) * 1000, 2)
                yield out
            async for chunk in chunks:
                out = relay.feed(chunk)
                if out:
                    if row.ttft_ms is None:
                        row.ttft_ms = round((time.perf_counter() - started) * 1000, 2)
                    yield out
            if tail := relay.flush():
                yield tail
        except GatewayError as exc:
            # Headers are gone already: tell the client in-stream, then close.
            row.error_type = exc.code or exc.type
            yield relay.error_event(exc)
        except BaseException:
            row.client_closed = True  # cancelled by the server because the client went away
            raise
        finally:
            with anyio.CancelScope(shield=True):
                await resp.aclose()
            _apply(row, relay.usage)
            if not relay.saw_done and relay.content_events > (row.completion_tokens or 0):
                # Cut short before the final usage: ~1 token per chunk seen, marked as an estimate.
                row.completion_tokens = relay.content_events
                row.total_tokens = (row.prompt_tokens or 0) + relay.content_events
                row.tokens_estimated = True
            gw.finish(row, started)

    return RelayStreamingResponse(
        body(),
        resp.status_code,
        headers={"x-request-id": row.request_id, "cache-control": "no-cache", "x-accel-buffering": "no"},
        media_type="text/event-stream",
    )


class RelayStreamingResponse(StreamingResponse):
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
