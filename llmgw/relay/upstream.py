"""One connection pool per provider, and the mapping of transport failures to gateway errors.

The pool is aiohttp's, called directly with a request's parts (`relay/transport.py`: no httpx request
or response models per call, issue #22). Timeouts: connect through the transport; first byte and
between chunks with asyncio deadlines (between chunks one re-armed timer per stream,
`relay/idle_watch.py`), because a non-stream answer may legitimately take minutes while a stalled
stream should be cut much sooner. Tests may give an httpx transport instead (`httpx.MockTransport`):
requests are then built as `httpx.Request`s, and the same deadlines and error mapping apply to its
answers.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping

import aiohttp
import httpx

from llmgw.errors import GatewayError, UpstreamTimeout, UpstreamUnavailable
from llmgw.providers import ProviderAdapter, UpstreamRequest
from llmgw.relay.idle_watch import IdleWatch
from llmgw.relay.keypool import KeyPool
from llmgw.relay.transport import AiohttpTransport, UpstreamResponse
from llmgw.settings import ProviderConfig

Send = Callable[[str, str, Mapping[str, str], bytes | None], Awaitable[UpstreamResponse]]


def transport_error(exc: BaseException, provider: str) -> GatewayError:
    """A gateway error for a transport failure; never includes request headers (our key is there)."""
    # An httpx error may wrap an aiohttp one (an `httpx.AsyncClient` over our transport): classify
    # by the original where there is one.
    cause = exc.__cause__ if isinstance(exc, httpx.HTTPError) and exc.__cause__ else exc
    if isinstance(cause, aiohttp.ConnectionTimeoutError | httpx.ConnectTimeout):
        return UpstreamTimeout(f"Timed out connecting to provider '{provider}'.")
    if isinstance(cause, TimeoutError | httpx.TimeoutException):
        return UpstreamTimeout(f"Provider '{provider}' did not answer in time.")
    if isinstance(cause, aiohttp.ClientConnectorError | httpx.ConnectError):
        return UpstreamUnavailable(f"Cannot connect to provider '{provider}'.")
    return UpstreamUnavailable(f"Connection to provider '{provider}' failed ({type(cause).__name__}).")


class Upstream:
    """A provider at run time: its adapter, its keys and its connection pool."""

    def __init__(
        self,
        name: str,
        config: ProviderConfig,
        adapter: ProviderAdapter,
        keys: KeyPool,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        """`transport`: where requests go instead of a pool of our own (a test seam); not closed here."""
        self.name = name
        self.config = config
        self.adapter = adapter
        self.keys = keys
        self._pool: AiohttpTransport | None = None
        self._send: Send
        if transport is None:
            self._pool = AiohttpTransport(config.max_connections, config.connect_timeout)
            self._send = self._pool.send
        else:
            self._send = _through(transport, config.connect_timeout)

    async def send(self, req: UpstreamRequest) -> UpstreamResponse:
        """Send and wait for the response head within first_byte_timeout; the body is not read yet."""
        try:
            async with asyncio.timeout(self.config.first_byte_timeout):
                return await self._send(req.method, req.url, req.headers, req.content)
        except (httpx.HTTPError, aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise transport_error(exc, self.name) from None

    async def chunks(
        self, response: UpstreamResponse, first_timeout: float | None = None
    ) -> AsyncIterator[bytes]:
        """The body as it arrives, each piece within chunk_timeout (the first within first_timeout)."""
        it = response.aiter_raw().__aiter__()
        limit = first_timeout if first_timeout is not None else self.config.chunk_timeout
        watch = IdleWatch()  # one timer per stream, not an asyncio.timeout per chunk (issue #22)
        try:
            while True:
                watch.begin(limit)
                try:
                    chunk = await it.__anext__()
                except StopAsyncIteration:
                    return
                except asyncio.CancelledError:
                    if watch.expired():
                        raise transport_error(TimeoutError(), self.name) from None
                    raise
                except (httpx.HTTPError, aiohttp.ClientError, TimeoutError, OSError) as exc:
                    raise transport_error(exc, self.name) from None
                finally:
                    watch.end()
                limit = self.config.chunk_timeout
                yield chunk
        finally:
            watch.close()

    async def read(
        self, response: UpstreamResponse, limit: int, seconds: float, *, truncate: bool = False
    ) -> bytes:
        """The whole body within `seconds`; past `limit` bytes: cut there if `truncate`, else an error."""
        parts: list[bytes] = []
        size = 0
        try:
            async with asyncio.timeout(seconds):
                async for chunk in response.aiter_raw():
                    size += len(chunk)
                    if size > limit:
                        if not truncate:
                            raise UpstreamUnavailable(f"Provider '{self.name}' sent more than {limit} bytes.")
                        parts.append(chunk[: limit - (size - len(chunk))])
                        break
                    parts.append(chunk)
        except (httpx.HTTPError, aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise transport_error(exc, self.name) from None
        finally:
            await response.aclose()
        return b"".join(parts)

    async def aclose(self) -> None:
        if self._pool is not None:
            await self._pool.aclose()


def _through(transport: httpx.AsyncBaseTransport, connect_timeout: float) -> Send:
    """`send` through an httpx transport: the request built as an `httpx.Request`, with the pool's
    timeouts (httpx's own transport honours them; a `MockTransport` ignores them)."""
    timeout = httpx.Timeout(connect=connect_timeout, read=None, write=30.0, pool=30.0)
    extensions = {"timeout": timeout.as_dict()}

    async def send(
        method: str, url: str, headers: Mapping[str, str], content: bytes | None
    ) -> httpx.Response:
        return await transport.handle_async_request(
            httpx.Request(method, url, headers=headers, content=content, extensions=extensions)
        )

    return send
