"""relay.handler.read_json: the body limit, and an oversized body read on and dropped (up to the limit
again) before the 413, so a TLS proxy still writing it is not reset into answering 502."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from starlette.requests import Request

from llmgw.errors import PayloadTooLarge, RequestTimeout
from llmgw.relay.handler import DRAIN_FACTOR, read_json


def _request(chunks: list[bytes], content_length: int | None) -> tuple[Request, list[int]]:
    """A request whose body arrives in `chunks`; the list counts the chunks the app asked for."""
    asked: list[int] = []
    headers = [] if content_length is None else [(b"content-length", str(content_length).encode())]

    async def receive() -> dict[str, Any]:
        i = len(asked)
        asked.append(i)
        if i >= len(chunks):
            return {"type": "http.disconnect"}
        return {"type": "http.request", "body": chunks[i], "more_body": i < len(chunks) - 1}

    scope = {"type": "http", "method": "POST", "path": "/v1/chat/completions", "headers": headers}
    return Request(scope, receive), asked


@pytest.mark.anyio
async def test_a_body_within_the_limit_is_parsed() -> None:
    body = [b'{"model": ', b'"m"}']
    request, _ = _request(body, sum(map(len, body)))
    assert await read_json(request, 100, 5.0) == {"model": "m"}


@pytest.mark.anyio
@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
async def test_an_oversized_body_is_read_to_its_end_before_the_413(declared: bool) -> None:
    chunks = [b"x" * 40] * 4  # 160 bytes against a limit of 100: within DRAIN_FACTOR times the limit
    request, asked = _request(chunks, 160 if declared else None)
    with pytest.raises(PayloadTooLarge):
        await read_json(request, 100, 5.0)
    assert len(asked) == len(chunks)  # all of it read: the sender is not cut off mid-body


@pytest.mark.anyio
async def test_reading_an_oversized_body_stops_past_the_drain_bound() -> None:
    chunks = [b"x" * 50] * 20  # 1000 bytes against a limit of 100
    request, asked = _request(chunks, 1000)
    with pytest.raises(PayloadTooLarge):
        await read_json(request, 100, 5.0)
    assert len(asked) == (DRAIN_FACTOR * 100) // 50 + 1  # stopped once past twice the limit


@pytest.mark.anyio
async def test_a_sender_leaving_mid_oversized_body_still_gets_the_413() -> None:
    request, _ = _request([b"x" * 80, b"x" * 80], 1000)  # declared 1000, then gone
    with pytest.raises(PayloadTooLarge):
        await read_json(request, 100, 5.0)


@pytest.mark.anyio
async def test_a_slow_body_within_the_limit_is_a_408() -> None:
    async def receive() -> dict[str, Any]:
        await asyncio.sleep(10)
        return {"type": "http.request", "body": b"", "more_body": False}

    request = Request({"type": "http", "method": "POST", "path": "/", "headers": []}, receive)
    with pytest.raises(RequestTimeout):
        await read_json(request, 100, 0.01)
