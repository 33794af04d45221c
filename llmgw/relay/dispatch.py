"""The model-calling endpoints (`endpoints.ENDPOINTS`) as a plain ASGI app in front of Starlette's router.

Every model call is a POST to one of a few fixed paths (Gemini's carry the model and the operation,
`/v1beta/models/{model}:generateContent`): one dict lookup (or one regular expression for Gemini's)
finds its row, and the handler runs with the request's own `send`. Starlette's router, which tries its
routes in turn, and its per-route exception wrapper stay for everything else (the portal, model
listings, probes, and these paths' 404s and 405s: the router keeps their routes, so another method
still gets a 405 naming POST). Measured in docs/PERFORMANCE.md (issue #22).
"""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from llmgw.relay.endpoints import ENDPOINTS, GEMINI_VERBS, ClientEndpoint
from llmgw.relay.handler import handle

# Starlette's `{model:path}` is `.*`: the same here, so a path means the same model either way.
_GEMINI = re.compile(r"(/v1beta|/v1)/models/(.*):(" + "|".join(GEMINI_VERBS) + ")")


class ModelCalls:
    """Model calls straight to the handler; any other request to `app` (see the module docstring)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.fixed: dict[str, ClientEndpoint] = {e.path: e for e in ENDPOINTS if not e.model_in_path}
        self.gemini: dict[tuple[str, str], ClientEndpoint] = {}
        for e in ENDPOINTS:
            if e.model_in_path:
                prefix, _, verb = e.path.partition("/models/{model}:")
                self.gemini[prefix, verb] = e

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # A mounted root path (never set by llmgw) is left to the router, which knows it.
        if scope["type"] == "http" and scope["method"] == "POST" and not scope.get("root_path"):
            path: str = scope["path"]
            endpoint = self.fixed.get(path)
            if endpoint is None and (m := _GEMINI.fullmatch(path)) is not None:
                endpoint = self.gemini[m[1], m[3]]
                scope["path_params"] = {"model": m[2]}
            if endpoint is not None:
                response = await handle(endpoint, Request(scope, receive))
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
