"""The HTTP client of upstream calls: aiohttp, called with a request's parts as they are.

`Upstream.send` hands over method, URL string, headers and body; nothing is rebuilt per call except
what aiohttp builds itself. httpx's request and response models used to sit in between (through
httpx-aiohttp): ~12% of the loop's CPU went to building an `httpx.Request` that the adaptor then took
apart again, and each streamed chunk passed three async generators more (issue #22,
docs/PERFORMANCE.md). What is kept from that setup: the pool (`max_connections`, idle connections
kept 60 s), certifi's CA roots (the one-file executable has no others), no proxy or netrc from the
environment, no redirects followed, bodies relayed as they come. What changed on purpose: no cookie
jar (one upstream's cookies were kept and would be sent with other clients' requests), and
`Accept-Encoding: identity` instead of aiohttp's `gzip, deflate`, since nothing here decompresses.

`AiohttpTransport` is also an `httpx.AsyncBaseTransport`, so an `httpx.AsyncClient` can use it; the
relay itself uses `send`. The relay reads any response through `UpstreamResponse`, which both
`AiohttpResponse` and `httpx.Response` (a test's `httpx.MockTransport`) satisfy.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from functools import lru_cache
from typing import Protocol

import aiohttp
import httpx
from yarl import URL

KEEPALIVE = 60.0  # seconds an idle upstream connection is kept
POOL_WAIT = 30.0  # seconds a request may wait for a free connection (and connect)


class UpstreamResponse(Protocol):
    """What the relay reads of an upstream's response: its head, its body as it comes, its release."""

    @property
    def status_code(self) -> int: ...

    @property
    def headers(self) -> Mapping[str, str]:
        """Case-insensitive."""
        ...

    def aiter_raw(self) -> AsyncIterator[bytes]:
        """The body's bytes as they arrive, not decoded."""
        ...

    async def aclose(self) -> None:
        """Release the connection (closed unless the body was read to its end)."""
        ...


class AiohttpResponse:
    """An aiohttp response seen as an `UpstreamResponse`: no copy of its headers or body."""

    __slots__ = ("_resp", "headers", "status_code")

    def __init__(self, resp: aiohttp.ClientResponse) -> None:
        self._resp = resp
        self.status_code = resp.status
        self.headers: Mapping[str, str] = resp.headers

    def aiter_raw(self) -> AsyncIterator[bytes]:
        # Whatever has arrived, per read: one coroutine between the socket's buffer and the reader.
        return self._resp.content.iter_any()

    async def aclose(self) -> None:
        self._resp.release()  # cancels a body still being sent; keeps the connection only if read to the end
        await self._resp.wait_for_close()


@lru_cache(maxsize=256)
def parsed_url(url: str) -> URL:
    """`url` parsed once: a provider's URLs are a few (a Gemini URL names the model, a client query may
    add parameters), and parsing is a good part of a request's cost."""
    return URL(url)


class AiohttpTransport(httpx.AsyncBaseTransport):
    """One provider's connection pool; its session is made on first use (inside the running loop)."""

    def __init__(self, max_connections: int, connect_timeout: float) -> None:
        self._max_connections = max_connections
        self._timeout = aiohttp.ClientTimeout(sock_connect=connect_timeout, connect=POOL_WAIT)
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(
            limit=self._max_connections,
            keepalive_timeout=KEEPALIVE,
            ssl=httpx.create_ssl_context(trust_env=False),  # certifi's roots, as httpx uses them
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            headers={"Accept-Encoding": "identity"},
            cookie_jar=aiohttp.DummyCookieJar(),
            timeout=self._timeout,
            auto_decompress=False,
            trust_env=False,
        )
        return self._session

    async def send(
        self, method: str, url: str, headers: Mapping[str, str], content: bytes | None
    ) -> AiohttpResponse:
        """Send and return once the response head is in; aiohttp's errors pass as they are."""
        session = self._session or self._open()
        resp = await session.request(
            method, parsed_url(url), headers=headers, data=content, allow_redirects=False
        )
        return AiohttpResponse(resp)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """The same for an `httpx.AsyncClient`, aiohttp's errors mapped to httpx's."""
        try:
            resp = await self.send(
                request.method, str(request.url), request.headers, await request.aread() or None
            )
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise httpx_error(exc) from exc
        return httpx.Response(resp.status_code, headers=list(resp.headers.items()), stream=_Body(resp))

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


class _Body(httpx.AsyncByteStream):
    def __init__(self, resp: AiohttpResponse) -> None:
        self._resp = resp

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._resp.aiter_raw():
                yield chunk
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise httpx_error(exc) from exc

    async def aclose(self) -> None:
        await self._resp.aclose()


def httpx_error(exc: BaseException) -> httpx.TransportError:
    """httpx's name for an aiohttp failure (for `httpx.AsyncClient` users)."""
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return httpx.ConnectTimeout(str(exc))
    if isinstance(exc, TimeoutError):
        return httpx.ReadTimeout(str(exc))
    if isinstance(exc, aiohttp.ClientConnectorError):
        return httpx.ConnectError(str(exc))
    return httpx.ReadError(str(exc))
