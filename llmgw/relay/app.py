"""The Starlette application: routes, and the gateway's start-up and shutdown."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from llmgw.errors import InvalidRequest
from llmgw.relay.handler import handle
from llmgw.relay.model_list import ModelCache, get_model, list_models
from llmgw.relay.responses import JSON, error_response, new_request_id
from llmgw.relay.runtime import Gateway, KeySource
from llmgw.settings import Config


async def healthz(request: Request) -> Response:
    return Response(b'{"status":"ok"}', media_type=JSON)


async def not_found(request: Request, exc: Exception) -> Response:
    err = InvalidRequest(f"Unknown endpoint {request.method} {request.url.path}.")
    err.status, err.code = 404, "unknown_url"
    return error_response(err, new_request_id())


async def method_not_allowed(request: Request, exc: Exception) -> Response:
    err = InvalidRequest(f"Method {request.method} is not allowed on {request.url.path}.")
    err.status, err.code = 405, "method_not_allowed"
    return error_response(err, new_request_id())


def create_app(
    config: Config,
    proxy_key: str | None,
    key_source: KeySource,
    transport: httpx.AsyncBaseTransport | None = None,
) -> Starlette:
    """The ASGI app; the gateway (ledger, upstream clients) is built when the server starts it.

    `transport` replaces the providers' own connections (`Gateway.start`): tests answer upstream
    requests in process with it."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        gw = Gateway.start(config, proxy_key, key_source, transport)
        app.state.gateway = gw
        app.state.model_cache = ModelCache(config.server.models_cache_ttl)
        gw.start_key_refresh()
        try:
            yield
        finally:
            await gw.close()

    routes = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/v1/chat/completions", handle, methods=["POST"]),
        Route("/v1/completions", handle, methods=["POST"]),
        Route("/v1/embeddings", handle, methods=["POST"]),
        Route("/v1/messages", handle, methods=["POST"]),
        Route("/v1/messages/count_tokens", handle, methods=["POST"]),
        Route("/v1/models", list_models, methods=["GET"]),
        Route("/v1/models/{model_id:path}", get_model, methods=["GET"]),
    ]
    return Starlette(
        routes=routes, lifespan=lifespan, exception_handlers={404: not_found, 405: method_not_allowed}
    )
