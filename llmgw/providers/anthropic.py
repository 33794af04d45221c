"""Anthropic's Messages API: `/v1/messages` and `/v1/messages/count_tokens`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from llmgw.errors import Unsupported
from llmgw.providers.base import Dialect, Operation, UpstreamRequest, listed_ids
from llmgw.providers.openai_compat import USER_AGENT
from llmgw.settings import ProviderConfig

DEFAULT_VERSION = "2023-06-01"  # the only stable `anthropic-version` to date
_PATHS = {Operation.CHAT: "messages", Operation.COUNT_TOKENS: "messages/count_tokens"}


class Anthropic:
    dialect: Dialect = "anthropic"

    def __init__(self, name: str, config: ProviderConfig) -> None:
        self.name = name
        self._root = config.url
        self._headers = {"content-type": "application/json", "user-agent": USER_AGENT, **config.headers}
        self._urls = {op: f"{self._root}/{path}" for op, path in _PATHS.items()}

    def _headers_with(self, key: str, client_headers: Mapping[str, str] | None) -> dict[str, str]:
        client = client_headers or {}
        headers = {**self._headers, "x-api-key": key}
        headers["anthropic-version"] = client.get("anthropic-version") or DEFAULT_VERSION
        if beta := client.get("anthropic-beta"):
            headers["anthropic-beta"] = beta  # betas change what the body may hold: they must travel with it
        return headers

    def build(
        self,
        op: Operation,
        body: dict[str, Any],
        upstream_model: str,
        key: str,
        *,
        stream: bool = False,
        client_headers: Mapping[str, str] | None = None,
    ) -> UpstreamRequest:
        url = self._urls.get(op)
        if url is None:
            raise Unsupported(f"provider '{self.name}' (Anthropic) has no {op.value} endpoint")
        out = {**body, "model": upstream_model}
        return UpstreamRequest("POST", url, self._headers_with(key, client_headers), orjson.dumps(out))

    def list_models(self, key: str) -> UpstreamRequest:
        headers = self._headers_with(key, None)
        del headers["content-type"]
        return UpstreamRequest("GET", f"{self._root}/models?limit=1000", headers)

    def model_ids(self, payload: Any) -> list[str]:
        return listed_ids(payload)
