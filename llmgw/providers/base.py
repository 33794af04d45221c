"""The adapter interface every provider type implements, and the base class the three types share."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import urlencode

import orjson

from llmgw import __version__
from llmgw.dialects import Operation, UpstreamDialect
from llmgw.errors import Unsupported
from llmgw.settings import ProviderConfig

USER_AGENT = f"llmgw/{__version__}"
_HEADER_VALUE = re.compile(r"[\x21-\x7e]+")


def is_header_value(value: str) -> bool:
    """Whether `value` can be sent as an API key in a header: visible ASCII only (RFC 9110 `VCHAR`;
    a CR, a space, a tab or an accent would fail, or worse split, the request)."""
    return _HEADER_VALUE.fullmatch(value) is not None


@dataclass(frozen=True, slots=True)
class UpstreamRequest:
    method: str
    url: str
    headers: dict[str, str]
    content: bytes | None = None


def listed_ids(payload: Any) -> list[str]:
    """Model ids of a `{"data": [{"id": …}, …]}` listing (OpenAI's and Anthropic's shape)."""
    data = payload.get("data") if isinstance(payload, dict) else None
    if not isinstance(data, list):
        return []
    return [m["id"] for m in data if isinstance(m, dict) and isinstance(m.get("id"), str)]


class ProviderAdapter(ABC):
    """How one upstream API family is addressed. Pure: no network, no clock.

    What every provider type shares lives here: JSON bodies POSTed under the provider's root URL, base
    headers built once (only the key differs between requests), a model listing by GET. A type says
    how a key is presented (`auth_headers`), and where an operation (`paths`, or `url`) and the model
    (`body`) go."""

    dialect: ClassVar[UpstreamDialect]
    family: ClassVar[str]  # in messages: "OpenAI wire format", "Anthropic", "Gemini"
    paths: ClassVar[Mapping[Operation, str]] = {}  # operation → path under the root URL
    models_path: ClassVar[str]  # the model listing, under the root URL
    query_names: ClassVar[tuple[str, ...]] = ()  # client query parameters that are part of a request

    def __init__(self, name: str, config: ProviderConfig) -> None:
        self.name = name
        self._root = config.url
        self._headers = {"content-type": "application/json", "user-agent": USER_AGENT, **config.headers}
        self._urls = {op: f"{self._root}/{path}" for op, path in self.paths.items()}

    def url(self, op: Operation, upstream_model: str, stream: bool) -> str | None:
        """Where `op` goes; None if this API has no such operation."""
        return self._urls.get(op)

    @abstractmethod
    def auth_headers(self, key: str, client_headers: Mapping[str, str] | None) -> dict[str, str]:
        """The base headers with `key` attached; `client_headers` holds the few client headers the
        dialect defines as part of the request (Anthropic's `anthropic-version` / `anthropic-beta`);
        nothing else of the client's is sent."""

    def body(self, body: dict[str, Any], upstream_model: str) -> dict[str, Any]:
        """The body sent: only `model` changes; every other field passes as is."""
        return {**body, "model": upstream_model}

    def build(
        self,
        op: Operation,
        body: dict[str, Any],
        upstream_model: str,
        key: str,
        *,
        stream: bool = False,
        client_headers: Mapping[str, str] | None = None,
        client_query: Mapping[str, str] | None = None,
    ) -> UpstreamRequest:
        """The upstream request for a body already in this provider's dialect, with our key attached;
        of `client_query`, only the parameters this API defines as part of a request (`query_names`)."""
        url = self.url(op, upstream_model, stream)
        if url is None:
            raise Unsupported(f"provider '{self.name}' ({self.family}) has no {op.value} endpoint")
        query = {k: v for k in self.query_names if client_query and (v := client_query.get(k))}
        if query:
            url += ("&" if "?" in url else "?") + urlencode(query)
        content = orjson.dumps(self.body(body, upstream_model))
        return UpstreamRequest("POST", url, self.auth_headers(key, client_headers), content)

    def list_models(self, key: str) -> UpstreamRequest:
        """The request that lists the upstream's models."""
        return self.resource("GET", self.models_path, key)

    def resource(
        self, method: str, path: str, key: str, query: Sequence[tuple[str, str]] = ()
    ) -> UpstreamRequest:
        """A request without a body for a resource under the root URL (`path` already quoted): a model
        listing, a stored response read or deleted (`responses/{id}`), with our key."""
        headers = self.auth_headers(key, None)
        del headers["content-type"]  # no body
        url = f"{self._root}/{path}"
        if query:
            url += "?" + urlencode(list(query))
        return UpstreamRequest(method, url, headers)

    def model_ids(self, payload: Any) -> list[str]:
        """Model ids out of the upstream's model-list answer."""
        return listed_ids(payload)
