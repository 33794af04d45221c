"""The upstream calls' own transport (`llmgw.relay.transport`) against a real socket: what the upstream
sees, how failures map to gateway errors, and that no way a response ends leaks a pooled connection.
The upstream is a raw HTTP/1.1 server here, so each fault (a reset, a stall) is exactly the one named."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import AsyncIterator

import httpx
import pytest

from llmgw.errors import UpstreamTimeout, UpstreamUnavailable
from llmgw.providers import UpstreamRequest, adapter_for
from llmgw.relay.keypool import KeyPool
from llmgw.relay.transport import AiohttpTransport
from llmgw.relay.upstream import Upstream
from llmgw.settings import ProviderConfig

pytestmark = pytest.mark.anyio

POOL = 2  # max_connections: the pool tests end more responses than this in every way they can end


class RawUpstream:
    """Answers by path: /ok, /cookie (sets one), /stream (two chunks, then holds the body open),
    /reset (a chunk, then a TCP reset), /stall (never answers). Records each request head."""

    def __init__(self) -> None:
        self.heads: list[str] = []
        self.open = 0  # connections open now

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.open += 1
        try:
            while True:
                head = (await reader.readuntil(b"\r\n\r\n")).decode()
                self.heads.append(head)
                length = next(
                    (
                        int(line.split(":")[1])
                        for line in head.split("\r\n")
                        if line.lower().startswith("content-length")
                    ),
                    0,
                )
                await reader.readexactly(length)
                path = head.split(" ")[1].split("?")[0]
                if path == "/stall":
                    await reader.read()  # until the client goes
                    return
                if path in ("/ok", "/cookie"):
                    cookie = b"Set-Cookie: session=abc; Path=/\r\n" if path == "/cookie" else b""
                    writer.write(b"HTTP/1.1 200 OK\r\n" + cookie + b"Content-Type: application/json\r\n")
                    writer.write(b"Content-Length: 2\r\n\r\n{}")
                    await writer.drain()
                    continue
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n")
                writer.write(b"Transfer-Encoding: chunked\r\n\r\n")
                writer.write(b"7\r\ndata: 1\r\n7\r\ndata: 2\r\n")
                await writer.drain()
                if path == "/reset":
                    sock = writer.get_extra_info("socket")
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    writer.transport.abort()
                    return
                await reader.read()  # /stream: held open until the client goes
                return
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        finally:
            self.open -= 1
            writer.close()


@contextlib.asynccontextmanager
async def serving() -> AsyncIterator[tuple[RawUpstream, int]]:
    fake = RawUpstream()
    server = await asyncio.start_server(fake.handle, "127.0.0.1", 0)
    try:
        yield fake, server.sockets[0].getsockname()[1]
    finally:
        server.close()


@contextlib.asynccontextmanager
async def upstream(port: int, **settings: float) -> AsyncIterator[Upstream]:
    config = ProviderConfig(
        type="openai-compatible", base_url=f"http://localhost:{port}/v1", max_connections=POOL, **settings
    )
    up = Upstream("up", config, adapter_for("up", config), KeyPool("up", ["k"]))
    try:
        yield up
    finally:
        await up.aclose()


def request(port: int, path: str) -> UpstreamRequest:
    headers = {
        "content-type": "application/json",
        "user-agent": "llmgw/test",
        "authorization": "Bearer sk-ours",
    }
    return UpstreamRequest("POST", f"http://localhost:{port}{path}", headers, b"{}")


def headers(head: str) -> dict[str, str]:
    pairs = (line.split(": ", 1) for line in head.split("\r\n")[1:] if line)
    return {name.lower(): value for name, value in pairs}


async def test_the_upstream_gets_our_headers_asks_for_no_encoding_and_is_sent_no_cookie() -> None:
    async with serving() as (fake, port), upstream(port) as up:
        for path in ("/cookie", "/ok"):
            resp = await up.send(request(port, path))
            assert resp.status_code == 200
            assert resp.headers.get("CONTENT-TYPE") == "application/json"  # case-insensitive
            assert await up.read(resp, 100, 5) == b"{}"
    first, second = (headers(head) for head in fake.heads)
    assert first["user-agent"] == "llmgw/test" and first["authorization"] == "Bearer sk-ours"
    assert first["accept-encoding"] == "identity"  # nothing decompresses what the upstream sends
    assert "cookie" not in second  # one upstream's cookies are never sent with another client's request
    assert first.keys() == second.keys()


async def test_a_reset_mid_stream_is_upstream_unavailable() -> None:
    async with serving() as (_, port), upstream(port) as up:
        resp = await up.send(request(port, "/reset"))
        got = []
        with pytest.raises(UpstreamUnavailable, match="Connection to provider 'up' failed") as caught:
            async for chunk in up.chunks(resp):
                got.append(chunk)
        await resp.aclose()
    assert b"".join(got) == b"data: 1data: 2"
    assert "sk-ours" not in str(caught.value)


async def test_stalls_and_refusals_map_to_timeouts_and_unavailable() -> None:
    async with serving() as (_, port), upstream(port, first_byte_timeout=0.3, chunk_timeout=0.3) as up:
        with pytest.raises(UpstreamTimeout, match="did not answer in time"):
            await up.send(request(port, "/stall"))
        resp = await up.send(request(port, "/stream"))
        with pytest.raises(UpstreamTimeout, match="did not answer in time"):
            async for _ in up.chunks(resp):
                pass
        await resp.aclose()
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    async with upstream(closed) as up:
        with pytest.raises(UpstreamUnavailable, match="Cannot connect to provider 'up'"):
            await up.send(request(closed, "/ok"))


async def test_no_way_a_response_ends_leaks_a_pooled_connection() -> None:
    """Streams reset, timed out, abandoned half read and cancelled, each POOL + 1 times: every
    connection goes back or is closed, so the pool still answers at once."""
    async with serving() as (fake, port), upstream(port, first_byte_timeout=0.2, chunk_timeout=0.2) as up:

        async def one_chunk_then_cancelled() -> None:
            resp = await up.send(request(port, "/stream"))
            try:
                async for _ in up.chunks(resp):
                    await asyncio.sleep(3600)
            finally:
                await resp.aclose()

        for _ in range(POOL + 1):
            resp = await up.send(request(port, "/reset"))
            with pytest.raises(UpstreamUnavailable):
                await up.read(resp, 1000, 5)
            resp = await up.send(request(port, "/stream"))
            with pytest.raises(UpstreamTimeout):
                async for _ in up.chunks(resp):
                    pass
            await resp.aclose()
            resp = await up.send(request(port, "/stream"))
            chunks = up.chunks(resp)
            await anext(chunks)
            await chunks.aclose()
            await resp.aclose()
            task = asyncio.create_task(one_chunk_then_cancelled())
            await asyncio.sleep(0.05)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            with pytest.raises(UpstreamTimeout):  # the send itself cut by the first-byte deadline
                await up.send(request(port, "/stall"))
        async with asyncio.timeout(5):  # the pool waits up to 30 s for a free connection
            resp = await up.send(request(port, "/ok"))
            assert await up.read(resp, 100, 5) == b"{}"
        await asyncio.sleep(0.1)
        assert fake.open <= 1  # the one kept alive for the next request


async def test_an_httpx_client_can_use_the_transport() -> None:
    async with serving() as (_, port), httpx.AsyncClient(transport=AiohttpTransport(POOL, 5.0)) as client:
        resp = await client.post(f"http://localhost:{port}/ok", content=b"{}")
        assert (resp.status_code, resp.headers["content-type"], resp.content) == (
            200,
            "application/json",
            b"{}",
        )
        async with client.stream("POST", f"http://localhost:{port}/reset") as streamed:
            with pytest.raises(httpx.ReadError):
                await streamed.aread()
