"""`GET` and `DELETE /v1/responses/{id}`, `GET /v1/responses/{id}/input_items`: the Responses API's
stored responses (`services/stored_responses.py`), for their owner only.

- Authenticated like the model endpoints (`relay/auth.py`); a refused key is counted as on /v1/models.
  Errors in the path's dialect (the Responses API's, OpenAI's error JSON): another user's id, a
  deleted one and one past retention are one 404, "Response with id '…' not found.".
- A response the gateway stored is answered from the database (its Response object as the client got
  it; deleting answers OpenAI's `{"id", "object": "response", "deleted": true}`).
- A response an OpenAI upstream made and keeps is asked of that provider with the key that made it,
  found in its pool by fingerprint (never the client's credentials; a key no longer configured: 404
  saying so). Its answer passes as it is; its errors are scrubbed of the key like any upstream's. Of the
  client's query only the parameters the operation defines go upstream.
- These are not model calls: no ledger row, no limits, no metrics of their own.
- `stream=true` on GET (replaying a background response's events) is refused with a 400.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from urllib.parse import quote

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from llmgw.errors import GatewayError, InvalidRequest, ResponseNotFound, Unauthenticated
from llmgw.relay.endpoints import path_dialect
from llmgw.relay.forward import upstream_error
from llmgw.relay.responses import JSON, error_response, new_request_id
from llmgw.relay.runtime import Gateway
from llmgw.services.key_index import Principal
from llmgw.services.response_items import DEFAULT_LIMIT
from llmgw.storage import UpstreamResponseKey

__all__ = ["ROUTES"]

GET_QUERY = ("include", "include[]")  # what OpenAI's getResponse takes besides its stream options
ITEMS_QUERY = ("limit", "order", "after", "before", "include", "include[]")
BODY_LIMIT = 64 * 1024 * 1024  # a stored response's JSON, read from an upstream at most

Work = Callable[[Request, Gateway, Principal, str], Awaitable[Response]]


async def _answer(request: Request, work: Work) -> Response:
    """Authenticate, run `work`, and answer any error in the path's dialect."""
    gw: Gateway = request.app.state.gateway
    dialect = path_dialect(request.url.path)
    try:
        principal = gw.auth.check(request.headers)
    except Unauthenticated as exc:
        gw.auth_failures.failed(request.client.host if request.client else None)
        return error_response(exc, new_request_id(), dialect)
    try:
        return await work(request, gw, principal, request.path_params["response_id"])
    except GatewayError as exc:
        return error_response(exc, new_request_id(), dialect)


async def response_resource(request: Request) -> Response:
    """`GET` or `DELETE /v1/responses/{id}`."""
    return await _answer(request, _delete if request.method == "DELETE" else _get)


async def input_items(request: Request) -> Response:
    """`GET /v1/responses/{id}/input_items`."""
    return await _answer(request, _input_items)


async def _get(request: Request, gw: Gateway, principal: Principal, response_id: str) -> Response:
    if request.query_params.get("stream", "").lower() in ("true", "1"):
        raise InvalidRequest("Streaming a stored response is not supported by this gateway.", param="stream")
    found = await asyncio.to_thread(gw.stored_responses.locate, response_id, principal.user_id)
    if isinstance(found, UpstreamResponseKey):
        return await _from_upstream(gw, found, "GET", "", _query(request, GET_QUERY))
    return _json(found.response)


async def _delete(request: Request, gw: Gateway, principal: Principal, response_id: str) -> Response:
    found = await asyncio.to_thread(gw.stored_responses.locate, response_id, principal.user_id)
    if isinstance(found, UpstreamResponseKey):
        answer = await _from_upstream(gw, found, "DELETE", "", ())
        await asyncio.to_thread(gw.stored_responses.delete, response_id, principal.user_id)
        return answer
    return _json(await asyncio.to_thread(gw.stored_responses.delete, response_id, principal.user_id))


async def _input_items(request: Request, gw: Gateway, principal: Principal, response_id: str) -> Response:
    service = gw.stored_responses
    found = await asyncio.to_thread(service.locate, response_id, principal.user_id)
    if isinstance(found, UpstreamResponseKey):
        return await _from_upstream(gw, found, "GET", "/input_items", _query(request, ITEMS_QUERY))
    params = request.query_params
    raw_limit = params.get("limit")
    try:
        limit = DEFAULT_LIMIT if raw_limit is None else int(raw_limit)
    except ValueError:
        raise InvalidRequest("`limit` must be an integer.", param="limit") from None
    listing = await asyncio.to_thread(
        service.input_items,
        response_id,
        principal.user_id,
        limit=limit,
        order=params.get("order", "desc"),
        after=params.get("after"),
        before=params.get("before"),
    )
    return _json(listing)


async def _from_upstream(
    gw: Gateway, record: UpstreamResponseKey, method: str, suffix: str, query: tuple[tuple[str, str], ...]
) -> Response:
    """Ask the provider that keeps a response, with the key that made it; its answer as it is."""
    up = gw.upstreams.get(record.provider)
    key = up.keys.find(record.key_fingerprint) if up is not None else None
    if up is None or key is None:
        raise ResponseNotFound(
            f"Response with id '{record.response_id[:200]}' was made with a key of provider "
            f"'{record.provider}' that this gateway no longer has."
        )
    path = f"responses/{quote(record.response_id, safe='')}{suffix}"
    resp = await up.send(up.adapter.resource(method, path, key.secret, query))
    if resp.status_code >= 400:
        raise await upstream_error(up, resp, key.secret)
    body = await up.read(resp, BODY_LIMIT, up.config.chunk_timeout)
    return Response(body, resp.status_code, media_type=JSON)


def _query(request: Request, names: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    return tuple((k, v) for k, v in request.query_params.multi_items() if k in names)


def _json(payload: object) -> Response:
    return Response(orjson.dumps(payload), media_type=JSON)


ROUTES = (
    Route("/v1/responses/{response_id}", response_resource, methods=["GET", "DELETE"]),
    Route("/v1/responses/{response_id}/input_items", input_items, methods=["GET"]),
)
