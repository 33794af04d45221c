"""`GET /metrics`: on the main listener for administrators only; on the optional `metrics_listen`
listener (loopback only, checked by the settings; the server package builds its app) for anyone who
can reach it.

On the main listener a scrape needs an admin's personal API key, or the proxy key when `auth_mode` is
`legacy` (there it is the administrator's key; in `both` it is a shared client key, not enough). A
missing or wrong key is a 401 counted like any other rejected authentication; a valid key without
the right is a 403. With authentication off (`--no-auth`, loopback only) anyone local may read them.
No answer is ever cached.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from llmgw.errors import Forbidden, InternalError, Unauthenticated
from llmgw.relay.metrics import CONTENT_TYPE
from llmgw.relay.responses import error_response, new_request_id
from llmgw.relay.runtime import Gateway
from llmgw.services.key_index import LEGACY, Principal

NO_STORE = {"cache-control": "no-store"}
NOT_ADMIN = "Reading /metrics needs an administrator's API key."


def may_read_metrics(principal: Principal, auth_mode: str, auth_enabled: bool) -> bool:
    """Whether `principal` may scrape the main listener's /metrics."""
    if not auth_enabled:
        return True
    return principal.is_admin or (principal is LEGACY and auth_mode == "legacy")


def _metrics_response(gw: Gateway) -> Response:
    return Response(gw.metrics.render(), media_type=CONTENT_TYPE, headers=NO_STORE)


def _refused(exc: Unauthenticated | Forbidden | InternalError) -> Response:
    response = error_response(exc, new_request_id())
    response.headers.update(NO_STORE)
    return response


async def protected_metrics(request: Request) -> Response:
    """The main listener's /metrics."""
    gw: Gateway = request.app.state.gateway
    try:
        principal = gw.auth.check(request.headers)
    except Unauthenticated as exc:
        gw.auth_failures.failed(request.client.host if request.client else None)
        return _refused(exc)
    if not may_read_metrics(principal, gw.config.server.auth_mode, gw.auth.enabled):
        return _refused(Forbidden(NOT_ADMIN))
    return _metrics_response(gw)


def open_metrics(gw: Gateway | None) -> Response:
    """The `metrics_listen` listener's /metrics: those of `gw`, without a key (None: the main app's
    lifespan has not built the gateway yet)."""
    if gw is None:
        return _refused(InternalError("The gateway is starting."))
    return _metrics_response(gw)
