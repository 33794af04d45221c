"""OpenAI wire format upstreams: `openai`, `openrouter` and any `openai-compatible` server."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from llmgw import __version__
from llmgw.errors import Unsupported
from llmgw.providers.base import Dialect, Operation, UpstreamRequest, listed_ids
from llmgw.settings import ProviderConfig

USER_AGENT = f"llmgw/{__version__}"
_PATHS = {
    Operation.CHAT: "chat/completions",
    Operation.COMPLETIONS: "completions",
    Operation.EMBEDDINGS: "embeddings",
}


class OpenAICompatible:
    dialect: Dialect = "openai"

    def __init__(self, name: str, config: ProviderConfig) -> None:
        self.name = name
        self._root = config.url
        # Built once: only Authorization differs between requests.
        self._headers = {"content-type": "application/json", "user-agent": USER_AGENT, **config.headers}
        if config.http_referer:
            self._headers["http-referer"] = config.http_referer
        if config.x_title:
            self._headers["x-title"] = config.x_title
        self._urls = {op: f"{self._root}/{path}" for op, path in _PATHS.items()}

    def _headers_with(self, key: str) -> dict[str, str]:
        return {**self._headers, "authorization": f"Bearer {key}"}

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
            raise Unsupported(f"provider '{self.name}' (OpenAI wire format) has no {op.value} endpoint")
        # Only `model` changes (stream_options is settled by the caller); every other field passes as is.
        out = {**body, "model": upstream_model}
        return UpstreamRequest("POST", url, self._headers_with(key), orjson.dumps(out))

    def list_models(self, key: str) -> UpstreamRequest:
        headers = self._headers_with(key)
        del headers["content-type"]
        return UpstreamRequest("GET", f"{self._root}/models", headers)

    def model_ids(self, payload: Any) -> list[str]:
        return listed_ids(payload)
