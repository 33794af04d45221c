"""Client authentication, per `[server] auth_mode`: who is making this request.

- `both` (the default): a value shaped like a personal token is checked as one and only as one,
  in memory by the key index (`llmgw.services.key_index`); anything else only against the proxy key,
  when one is set, whose requests are the built-in `legacy` principal's.
- `users`: personal API keys only.
- `legacy`: one shared proxy key, compared in constant time (`LegacyAuth`); `None` = authentication
  off (`--no-auth`, loopback only).

Every refusal tells the client the same thing (a revoked key is no different from a wrong one); the
debug log says which it was.
"""

from __future__ import annotations

import hmac
import logging
from typing import Protocol

from starlette.datastructures import Headers

from llmgw.errors import Unauthenticated
from llmgw.services.key_index import ANONYMOUS, LEGACY, KeyIndex, Principal
from llmgw.services.tokens import parse

log = logging.getLogger("llmgw.auth")

MISSING = "Missing API key: send `Authorization: Bearer <key>`, `x-api-key` or `x-goog-api-key`."
QUERY_KEY_WARNING = (
    "a client sent its API key in the URL (`?key=`, Gemini's old style): accepted, never logged or "
    "stored, but URLs end up in proxies' and browsers' logs; have it send the `x-goog-api-key` header"
)
WRONG = "Incorrect API key provided."


def presented_key(headers: Headers) -> str | None:
    """The key a client sent: `Authorization: Bearer …`, `x-api-key: …` or (Gemini's SDKs)
    `x-goog-api-key: …`."""
    auth = headers.get("authorization")
    if auth:
        scheme, _, token = auth.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
        return None
    return headers.get("x-api-key") or headers.get("x-goog-api-key") or None


_warned_query_key = False


def with_query_key(headers: Headers, query_key: str | None) -> Headers:
    """`headers`, plus a Gemini client's `?key=` as `x-goog-api-key` when it sent no key header (old
    Gemini clients put it in the URL). The key is never logged; the first such request of the process
    logs a WARNING without it."""
    global _warned_query_key
    if not query_key or presented_key(headers) is not None or "authorization" in headers:
        return headers
    if not _warned_query_key:
        _warned_query_key = True
        log.warning(QUERY_KEY_WARNING)
    return Headers(raw=[*headers.raw, (b"x-goog-api-key", query_key.encode("latin-1", "replace"))])


class Auth(Protocol):
    @property
    def enabled(self) -> bool: ...

    def check(self, headers: Headers) -> Principal:
        """The principal of a request; raises `Unauthenticated`."""
        ...


class LegacyAuth:
    """Accepts exactly the configured proxy key; `None` means authentication is off (--no-auth)."""

    def __init__(self, proxy_key: str | None) -> None:
        self._key = proxy_key.encode() if proxy_key is not None else None

    @property
    def enabled(self) -> bool:
        return self._key is not None

    def check(self, headers: Headers) -> Principal:
        if self._key is None:
            return ANONYMOUS
        key = presented_key(headers)
        if key is None:
            raise Unauthenticated(MISSING)
        if not hmac.compare_digest(key.encode(), self._key):
            raise Unauthenticated(WRONG)
        return LEGACY


class PersonalKeyAuth:
    """`users` and `both` modes; the proxy key, when given (`both` with one set), is accepted too."""

    enabled = True

    def __init__(self, index: KeyIndex, proxy_key: str | None) -> None:
        self.index = index
        self._proxy_key = proxy_key.encode() if proxy_key is not None else None

    def check(self, headers: Headers) -> Principal:
        key = presented_key(headers)
        if key is None:
            raise Unauthenticated(MISSING)
        token = parse(key)
        if token is None:
            if self._proxy_key is not None and hmac.compare_digest(key.encode(), self._proxy_key):
                return LEGACY
            log.debug("refused a key that is not a personal API key")
            raise Unauthenticated(WRONG)
        found = self.index.identify(token)
        if isinstance(found, str):
            log.debug("refused personal API key %s: %s", token.public_id, found)
            raise Unauthenticated(WRONG)
        return found


def auth_enabled(auth_mode: str, proxy_key: str | None) -> bool:
    """Whether clients must present a key: always in `users` and `both`; in `legacy` when a proxy
    key is set (`--no-auth` serves `legacy` without one)."""
    return auth_mode != "legacy" or proxy_key is not None
