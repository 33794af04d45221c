"""The Starlette applications: the gateway's routes and middleware, the portal mounted at /ui, the
gateway's start-up and shutdown with its background loops (the lifespan); and the `metrics_listen`
listener's app."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route

from llmgw.errors import MethodNotAllowed, UnknownEndpoint
from llmgw.portal import Backend, Site, create_portal
from llmgw.relay.auth import auth_enabled
from llmgw.relay.cors import CORS
from llmgw.relay.dispatch import ModelCalls
from llmgw.relay.endpoints import ENDPOINTS, path_dialect
from llmgw.relay.guard import RequestGuard
from llmgw.relay.handler import handle
from llmgw.relay.metrics_endpoint import open_metrics, protected_metrics
from llmgw.relay.model_list import ModelCache, get_gemini_model, get_model, list_gemini_models, list_models
from llmgw.relay.responses import error_response, new_request_id
from llmgw.relay.runtime import Gateway, KeySource
from llmgw.relay.stored_responses import ROUTES as STORED_RESPONSE_ROUTES
from llmgw.server.loops import Loops
from llmgw.server.probes import Readiness, healthz, readyz
from llmgw.services.pricing import PriceTable
from llmgw.settings import Config


async def not_found(request: Request, exc: Exception) -> Response:
    path: str = request.scope["path"]
    message = f"Unknown endpoint {request.method} {path[:200]}."
    if path.endswith("/") and path != "/":
        # No redirect: Starlette's would build its Location from the client's Host header.
        message += f" Did you mean {path.rstrip('/')[:200]}?"
    return error_response(UnknownEndpoint(message), new_request_id(), path_dialect(path))


async def method_not_allowed(request: Request, exc: Exception) -> Response:
    path: str = request.scope["path"]
    allowed = (exc.headers or {}).get("Allow", "") if isinstance(exc, HTTPException) else ""
    allow = ", ".join(sorted(m.strip() for m in allowed.split(",") if m.strip()))
    err = MethodNotAllowed(
        f"Method {request.method} is not allowed on {path[:200]}; use {allow or 'another method'}.",
        headers={"allow": allow} if allow else None,
    )
    return error_response(err, new_request_id(), path_dialect(path))


def create_app(
    config: Config,
    proxy_key: str | None,
    key_source: KeySource,
    transport: httpx.AsyncBaseTransport | None = None,
    prices: PriceTable | None = None,
) -> Starlette:
    """The ASGI app; the gateway (ledger, upstream clients) is built when the server starts it, and its
    background loops (`server/loops.py`) run while it serves.

    `transport` replaces the providers' own connections (`Gateway.start`): tests answer upstream
    requests in process with it."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        gw = Gateway.start(config, proxy_key, key_source, transport, prices)
        app.state.gateway = gw
        loops = Loops(gw)
        app.state.loops = loops
        app.state.readiness = Readiness(gw)
        app.state.model_cache = ModelCache(config.server.models_cache_ttl)
        index = gw.key_index

        async def reload_keys() -> None:
            if index is not None:
                await asyncio.to_thread(index.load)
                await asyncio.to_thread(gw.load_limits)  # a limit set in the portal applies at once

        site = Site.from_config(config.server)
        gw.client_address = site.client_address  # the JSON request log's, as the audit log's
        portal.state.backend = Backend(gw.store, reload_keys, site=site)
        loops.start()
        try:
            yield
        finally:
            # In this order: nothing runs over the gateway while it closes; the ledger's rows are
            # written before the loops' last writes (hints: last use, key states); the store last.
            app.state.readiness = None  # stopping: not ready
            loops.cancel()
            await gw.drain()
            await loops.last_writes()
            await gw.close()

    portal = create_portal()
    routes = [
        Route("/healthz", healthz, methods=["GET"]),  # and HEAD: Starlette adds it to a GET route
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", protected_metrics, methods=["GET"]),
        Route("/ui", lambda request: RedirectResponse("/ui/", status_code=308), methods=["GET"]),
        Mount("/ui", app=portal),
        # For the 405 another method gets (naming POST): ModelCalls answers the POSTs before routing.
        *(Route(e.route, functools.partial(handle, e), methods=["POST"]) for e in ENDPOINTS),
        *STORED_RESPONSE_ROUTES,
        Route("/v1/models", list_models, methods=["GET"]),
        Route("/v1/models/{model_id:path}", get_model, methods=["GET"]),
        Route("/v1beta/models", list_gemini_models, methods=["GET"]),
        Route("/v1beta/models/{model:path}", get_gemini_model, methods=["GET"]),
    ]
    guard = Middleware(
        RequestGuard,
        max_count=config.server.max_header_count,
        max_bytes=config.server.max_header_bytes,
        # --no-auth: web pages must not reach it (Host and Origin)
        loopback_only=not auth_enabled(config.server.auth_mode, proxy_key),
    )
    middleware = [guard]  # the guard first: nothing, a CORS preflight included, gets past its refusals
    if config.server.cors_origins:  # not installed otherwise: no cost without CORS
        middleware.append(Middleware(CORS, origins=config.server.cors_origins))
    middleware.append(Middleware(ModelCalls))  # last: behind the guard's refusals and CORS
    app = Starlette(
        routes=routes,
        middleware=middleware,
        lifespan=lifespan,
        exception_handlers={404: not_found, 405: method_not_allowed},
    )
    app.router.redirect_slashes = False  # the trailing-slash redirect reflects Host; 404 names the path
    return app


def create_metrics_app(main: Starlette) -> Starlette:
    """The loopback-only `metrics_listen` listener's app: /metrics of the gateway `main` runs, without
    a key."""

    async def metrics(request: Request) -> Response:
        return open_metrics(getattr(main.state, "gateway", None))

    return Starlette(routes=[Route("/metrics", metrics, methods=["GET"])])
