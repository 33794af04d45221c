"""CORS for /v1/*: which web pages may call the API from a browser (`[server] cors_origins`).

Installed only when `cors_origins` is set, so a gateway without CORS pays nothing for it. A plain ASGI
middleware, like relay/guard.py (which runs first, and with `--no-auth` still refuses every Origin that
is not a loopback one). /healthz and anything outside /v1/ are left alone.

- A preflight (OPTIONS with `Access-Control-Request-Method`) from a listed origin, for GET or POST and
  headers the SDKs send, is answered 204 here; any other preflight gets 403 in the path's dialect, without
  CORS headers, so the browser stops there.
- Other requests go through; the answer to a listed origin carries `Access-Control-Allow-Origin` (that
  origin, or `*` for `cors_origins = ["*"]`) and exposes `x-request-id` and `retry-after`. Every answer
  under /v1/ varies by Origin. No `Access-Control-Allow-Credentials`, ever: clients send their key in a
  header, which needs no credentials mode; cookies are for the portal, not for /v1/*.
"""

from __future__ import annotations

import logging

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from llmgw.errors import Forbidden
from llmgw.relay.endpoints import path_dialect
from llmgw.relay.record import log_value
from llmgw.relay.responses import error_response, new_request_id

log = logging.getLogger("llmgw")

PREFLIGHT_METHODS = frozenset({b"GET", b"POST"})
ALLOW_METHODS = b"GET, POST, OPTIONS"
# What the OpenAI, Anthropic and Google SDKs (and Claude Code) send from a browser, besides the
# CORS-safelisted (Google's: `x-goog-api-key`, `x-goog-api-client`).
ALLOW_HEADERS = frozenset({"authorization", "content-type", "x-api-key", "accept", "user-agent"})
ALLOW_HEADER_PREFIXES = ("anthropic-", "openai-", "x-stainless-", "x-goog-")
EXPOSE_HEADERS = b"x-request-id, retry-after"
MAX_AGE = b"600"  # seconds a browser may reuse a preflight; short, so a changed list applies soon
VARY = (b"vary", b"Origin")


def allowed_header(name: str) -> bool:
    """A request header a browser may send here: named above, and a plain token (it is reflected)."""
    plain = name.isascii() and name.replace("-", "").isalnum()
    return plain and (name in ALLOW_HEADERS or name.startswith(ALLOW_HEADER_PREFIXES))


class CORS:
    """Answers preflights and marks answers for the origins of `cors_origins` (module docstring)."""

    def __init__(self, app: ASGIApp, *, origins: tuple[str, ...]) -> None:
        self.app = app
        self.any_origin = origins == ("*",)
        self.origins = frozenset(o.encode("latin-1") for o in origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/v1/"):
            await self.app(scope, receive, send)
            return
        origin = asked_method = asked_headers = None
        for name, value in scope["headers"]:
            if name == b"origin":
                origin = value
            elif name == b"access-control-request-method":
                asked_method = value
            elif name == b"access-control-request-headers":
                asked_headers = value
        allow = self._allow_origin(origin)
        if origin is not None and asked_method is not None and scope["method"] == "OPTIONS":
            await self._preflight(scope, receive, send, origin, allow, asked_method, asked_headers)
            return
        extra = [VARY]
        if allow is not None:
            extra += [
                (b"access-control-allow-origin", allow),
                (b"access-control-expose-headers", EXPOSE_HEADERS),
            ]

        async def send_marked(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = _merge_vary([*message.get("headers", ())], extra)
            await send(message)

        await self.app(scope, receive, send_marked)

    def _allow_origin(self, origin: bytes | None) -> bytes | None:
        """The `Access-Control-Allow-Origin` an answer to `origin` gets; None: none (not listed)."""
        if origin is None:
            return None
        if self.any_origin:
            return b"*"
        return origin if origin in self.origins else None

    async def _preflight(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        origin: bytes,
        allow: bytes | None,
        method: bytes,
        asked: bytes | None,
    ) -> None:
        names = [h.strip().lower() for h in (asked or b"").decode("latin-1").split(",") if h.strip()]
        refused = [h for h in names if not allowed_header(h)]
        if allow is None:
            reason = "Origin is not one of the gateway's cors_origins."
        elif method not in PREFLIGHT_METHODS:
            reason = f"Method {method.decode('latin-1')[:20]} is not allowed from a browser; use GET or POST."
        elif refused:
            reason = f"Header {', '.join(refused)[:200]} is not allowed from a browser."
        else:
            headers = [
                (b"access-control-allow-origin", allow),
                (b"access-control-allow-methods", ALLOW_METHODS),
                (b"access-control-max-age", MAX_AGE),
                VARY,
            ]
            if names:
                headers.append((b"access-control-allow-headers", ", ".join(names).encode("latin-1")))
            await send({"type": "http.response.start", "status": 204, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return
        log.warning(
            "refused CORS preflight for %s from %s: %s",
            log_value(scope["path"][:200]),
            log_value(origin.decode("latin-1")[:200]),
            reason,
        )
        path: str = scope["path"]
        await error_response(Forbidden(reason), new_request_id(), path_dialect(path))(scope, receive, send)


def _merge_vary(
    headers: list[tuple[bytes, bytes]], extra: list[tuple[bytes, bytes]]
) -> list[tuple[bytes, bytes]]:
    """`headers` plus `extra`, Origin joining a Vary the answer already has rather than a second one."""
    for i, (name, value) in enumerate(headers):
        if name.lower() == b"vary":
            if b"origin" not in value.lower():
                headers[i] = (name, value + b", Origin")
            return headers + [h for h in extra if h is not VARY]
    return headers + extra
