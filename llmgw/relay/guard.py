"""What is refused before routing: header sets past the configured count or size (431), and, when
authentication is off (`--no-auth`), any request a web page could have sent: a Host that is not a
loopback name (DNS rebinding) or an Origin that is not a loopback origin (403).

A plain ASGI middleware (Starlette's BaseHTTPMiddleware costs a task per request): one pass over the
header list, which the HTTP layer has already parsed.
"""

from __future__ import annotations

import ipaddress
import logging

from starlette.types import ASGIApp, Receive, Scope, Send

from llmgw.errors import Forbidden, GatewayError, HeadersTooLarge
from llmgw.relay.endpoints import path_dialect
from llmgw.relay.record import log_value
from llmgw.relay.responses import error_response, new_request_id

log = logging.getLogger("llmgw")
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})  # the common case, without ipaddress


def is_loopback_host(value: str) -> bool:
    """A Host header (or an origin's authority) naming this machine: localhost, 127.0.0.0/8 or ::1,
    with or without a port."""
    if value.startswith("["):
        name, bracket, rest = value[1:].partition("]")
        if not bracket or (rest and not (rest[0] == ":" and rest[1:].isdigit())):
            return False
    else:
        name, colon, port = value.partition(":")
        if colon and not port.isdigit():
            return False
    if name in LOOPBACK_NAMES or name.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def is_loopback_origin(value: str) -> bool:
    """`http://localhost:PORT`, `http://127.0.0.1:PORT`, `http://[::1]:PORT` (or https); not `null`."""
    scheme, sep, authority = value.partition("://")
    return bool(sep) and scheme.lower() in ("http", "https") and is_loopback_host(authority)


class RequestGuard:
    """Refuses, in the path's dialect, what must not reach a route (see the module's docstring)."""

    def __init__(self, app: ASGIApp, *, max_count: int, max_bytes: int, loopback_only: bool) -> None:
        self.app = app
        self.max_count = max_count
        self.max_bytes = max_bytes
        self.loopback_only = loopback_only

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        refusal: GatewayError | None = None
        if len(headers) > self.max_count:
            refusal = HeadersTooLarge(f"More than {self.max_count} request headers.")
        elif sum(len(k) + len(v) for k, v in headers) > self.max_bytes:
            refusal = HeadersTooLarge(f"The request headers are larger than {self.max_bytes} bytes.")
        elif self.loopback_only:
            refusal = self._foreign(headers)
        if refusal is None:
            await self.app(scope, receive, send)
            return
        log.warning(
            "refused %s %s: %d %s",
            scope["method"],
            log_value(scope["path"][:200]),
            refusal.status,
            refusal.message,
        )
        response = error_response(refusal, new_request_id(), path_dialect(scope["path"]))
        await response(scope, receive, send)

    @staticmethod
    def _foreign(headers: list[tuple[bytes, bytes]]) -> GatewayError | None:
        host_seen = False
        for name, value in headers:
            if name == b"host":
                host_seen = True
                if not is_loopback_host(value.decode("latin-1")):
                    return Forbidden(
                        "Host is not a loopback name: without authentication (--no-auth) this gateway "
                        "answers only requests addressed to localhost, 127.0.0.1 or [::1]."
                    )
            elif name == b"origin" and not is_loopback_origin(value.decode("latin-1")):
                return Forbidden(
                    "Origin is not a loopback origin: without authentication (--no-auth) this gateway "
                    "refuses requests sent by web pages of other sites."
                )
        if not host_seen:
            return Forbidden("A Host header is required when the gateway runs without authentication.")
        return None
