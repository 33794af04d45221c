"""Client authentication. Legacy mode: one shared proxy key, compared in constant time."""

from __future__ import annotations

import hmac

from starlette.datastructures import Headers

from llmgw.errors import Unauthenticated


def presented_key(headers: Headers) -> str | None:
    """The key a client sent: `Authorization: Bearer …` or `x-api-key: …`."""
    auth = headers.get("authorization")
    if auth:
        scheme, _, token = auth.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
        return None
    return headers.get("x-api-key") or None


class LegacyAuth:
    """Accepts exactly the configured proxy key; `None` means authentication is off (--no-auth)."""

    def __init__(self, proxy_key: str | None) -> None:
        self._key = proxy_key.encode() if proxy_key is not None else None

    @property
    def enabled(self) -> bool:
        return self._key is not None

    def check(self, headers: Headers) -> None:
        if self._key is None:
            return
        key = presented_key(headers)
        if key is None:
            raise Unauthenticated("Missing API key: send `Authorization: Bearer <key>` or `x-api-key`.")
        if not hmac.compare_digest(key.encode(), self._key):
            raise Unauthenticated("Incorrect API key provided.")
