"""GET /v1/models and /v1/models/{id}: aliases plus every provider's models, as `provider/model` ids;
GET /v1beta/models and /v1beta/models/{model}: the same names in Gemini's shape (`models/<name>`, the
operations a client may call on it), errors in Gemini's; so are `/v1/models` and `/v1/models/{id}` for a
client that sends its key in `x-goog-api-key` (google-genai 3.x lists under `/v1`; OpenAI's and Anthropic's
SDKs never send that header).

A provider's models are its allow-list when it has one, else its upstream's own `/models` answer,
cached for `server.models_cache_ttl` seconds. An upstream that cannot list is left out (and logged).
Every listing shows only what the caller may call (`Principal.access`: an alias when it can reach one
of its targets, `provider/model` when allowed); asking for one it may not is the 403 a call
to it would get.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from llmgw.errors import GatewayError, ModelNotAllowed, ModelNotFound, Unauthenticated
from llmgw.relay.access import REFUSAL
from llmgw.relay.auth import with_query_key
from llmgw.relay.responses import JSON, error_response, new_request_id
from llmgw.relay.runtime import Gateway
from llmgw.relay.upstream import Upstream
from llmgw.services.model_patterns import UNRESTRICTED, ModelAccess

log = logging.getLogger("llmgw.models")
_CREATED = 0  # OpenAI's `created`: we do not know when an upstream model was made


class ModelCache:
    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._entries: dict[str, tuple[float, list[str]]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def models_of(self, up: Upstream) -> list[str]:
        if up.config.models is not None:
            return list(up.config.models)
        hit = self._entries.get(up.name)
        if hit and time.monotonic() - hit[0] < self.ttl:
            return hit[1]
        async with self._locks.setdefault(up.name, asyncio.Lock()):
            hit = self._entries.get(up.name)
            if hit and time.monotonic() - hit[0] < self.ttl:
                return hit[1]
            ids = await self._fetch(up)
            if ids is not None:
                self._entries[up.name] = (time.monotonic(), ids)
                return ids
            return hit[1] if hit else []  # stale beats nothing

    @staticmethod
    async def _fetch(up: Upstream) -> list[str] | None:
        key = up.keys.acquire()
        if key is None:
            return None
        try:
            resp = await up.send(up.adapter.list_models(key.secret))
            raw = await up.read(resp, 8 * 1024 * 1024, up.config.chunk_timeout)
            if resp.status_code != 200:
                log.warning("provider %s: listing models answered HTTP %d", up.name, resp.status_code)
                return None
            return up.adapter.model_ids(orjson.loads(raw))
        except (GatewayError, orjson.JSONDecodeError) as exc:
            log.warning("provider %s: listing models failed: %s", up.name, exc)
            return None


def _entry(model_id: str, owner: str) -> dict[str, Any]:
    return {"id": model_id, "object": "model", "created": _CREATED, "owned_by": owner}


def _may_use(gw: Gateway, access: ModelAccess, model_id: str) -> bool:
    """Whether the caller may call `model_id` (an alias, or `provider/model`)."""
    targets = gw.catalog.aliases.get(model_id)
    if targets is not None:
        return bool(access.alias_targets(model_id, [t.name for t in targets]))
    return access.allows(model_id)


def _refuse_unless_allowed(gw: Gateway, access: ModelAccess, model_id: str) -> None:
    if not _may_use(gw, access, model_id):
        raise ModelNotAllowed(REFUSAL.format(model=f"`{model_id}`"), param="model")


async def _all_models(gw: Gateway, cache: ModelCache, access: ModelAccess) -> list[dict[str, Any]]:
    """Aliases, then each provider's models, that the caller may call."""
    out = [_entry(alias, "llmgw") for alias in gw.catalog.aliases]
    listings = await asyncio.gather(*(cache.models_of(up) for up in gw.upstreams.values()))
    for up, ids in zip(gw.upstreams.values(), listings, strict=True):
        out.extend(_entry(f"{up.name}/{m}", up.name) for m in ids)
    if not access.restricted:
        return out
    return [entry for entry in out if _may_use(gw, access, entry["id"])]


async def list_models(request: Request) -> Response:
    if "x-goog-api-key" in request.headers:
        return await list_gemini_models(request)
    gw: Gateway = request.app.state.gateway
    try:
        principal = gw.auth.check(request.headers)
    except Unauthenticated as exc:
        gw.auth_failures.failed(request.client.host if request.client else None)
        return error_response(exc, new_request_id())
    data = await _all_models(gw, request.app.state.model_cache, principal.access)
    return Response(orjson.dumps({"object": "list", "data": data}), media_type=JSON)


async def get_model(request: Request) -> Response:
    if "x-goog-api-key" in request.headers:
        return await get_gemini_model(request)
    gw: Gateway = request.app.state.gateway
    model_id: str = request.path_params["model_id"]
    try:
        principal = gw.auth.check(request.headers)
        if model_id in gw.catalog.aliases:
            _refuse_unless_allowed(gw, principal.access, model_id)
            return Response(orjson.dumps(_entry(model_id, "llmgw")), media_type=JSON)
        provider, _, upstream_model = model_id.partition("/")
        up = gw.upstreams.get(provider)
        if up is not None and upstream_model in await request.app.state.model_cache.models_of(up):
            _refuse_unless_allowed(gw, principal.access, model_id)
            return Response(orjson.dumps(_entry(model_id, provider)), media_type=JSON)
        raise ModelNotFound(f"The model `{model_id}` does not exist on this gateway.", param="model")
    except Unauthenticated as exc:
        gw.auth_failures.failed(request.client.host if request.client else None)
        return error_response(exc, new_request_id())
    except GatewayError as exc:
        return error_response(exc, new_request_id())


GEMINI_METHODS = [
    "generateContent",
    "streamGenerateContent",
    "countTokens",
    "embedContent",
    "batchEmbedContents",
]


def _gemini_entry(name: str) -> dict[str, Any]:
    return {"name": f"models/{name}", "displayName": name, "supportedGenerationMethods": GEMINI_METHODS}


async def list_gemini_models(request: Request) -> Response:
    gw: Gateway = request.app.state.gateway
    try:
        principal = gw.auth.check(with_query_key(request.headers, request.query_params.get("key")))
    except Unauthenticated as exc:
        gw.auth_failures.failed(request.client.host if request.client else None)
        return error_response(exc, new_request_id(), "gemini")
    data = await _all_models(gw, request.app.state.model_cache, principal.access)
    models = [_gemini_entry(entry["id"]) for entry in data]
    return Response(orjson.dumps({"models": models}), media_type=JSON)


async def get_gemini_model(request: Request) -> Response:
    gw: Gateway = request.app.state.gateway
    name: str = request.path_params.get("model") or request.path_params["model_id"]
    try:
        principal = gw.auth.check(with_query_key(request.headers, request.query_params.get("key")))
        data = await _all_models(gw, request.app.state.model_cache, UNRESTRICTED)
        if any(entry["id"] == name for entry in data):
            _refuse_unless_allowed(gw, principal.access, name)
            return Response(orjson.dumps(_gemini_entry(name)), media_type=JSON)
        raise ModelNotFound(f"The model `{name}` does not exist on this gateway.", param="model")
    except Unauthenticated as exc:
        gw.auth_failures.failed(request.client.host if request.client else None)
        return error_response(exc, new_request_id(), "gemini")
    except GatewayError as exc:
        return error_response(exc, new_request_id(), "gemini")
